// The step bar: shown when the page is paused (step mode) or rewound, and
// always in projector mode. It tells the current event as one plain
// sentence (the narration line), and has the scrubber over the revealed
// events: moving it shows the page as it was at that event (the world
// itself is not touched). "Back to now" returns to the present (and
// plays on if going back paused the page).
import { $ } from './dom.js';
import { narrate, clockTime } from './format.js';

export class StepBar {
  constructor(model, controls) {
    this.model = model;
    this.controls = controls; // to pause before rewinding
    this.root = $('#stepbar');
    this.narration = $('#narration');
    this.scrubber = $('#scrubber');
    this.where = $('#where');
    this.nowBtn = $('#to-now');
    this.queued = false;
    this.scrubber.addEventListener('input', () => this.scrub());
    this.nowBtn.addEventListener('click', () => {
      this.scrubber.focus();
      this.controls.backToNow();
    });
    const later = () => this.schedule();
    for (const ev of ['cursor', 'reveal', 'clock', 'world', 'pending']) model.addEventListener(ev, later);
    document.addEventListener('mailhop:projector', later);
  }

  async scrub() {
    const i = Number(this.scrubber.value) - 1;
    try {
      await this.controls.pauseToRewind();
    } catch {
      // the clock's error shows in the controls
    }
    this.model.seekIndex(i);
  }

  schedule() {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.render();
    });
  }

  render() {
    const m = this.model;
    const projector = document.body.classList.contains('projector');
    const show = !m.playing || !!m.cursor || projector;
    this.root.hidden = !show;
    document.body.classList.toggle('has-stepbar', show);
    if (!show) return;
    const pos = m.position();
    const e = pos.index >= 0 ? m.events[pos.index] : null;
    this.scrubber.max = String(pos.total);
    this.scrubber.value = String(pos.index + 1);
    this.scrubber.disabled = pos.total === 0;
    const text = e ? narrate(e) : 'The world at its start: nothing has happened yet.';
    const key = `${e ? e.seq : 0}|${text}`;
    if (key !== this.shown) {
      this.shown = key;
      this.narration.replaceChildren();
      if (e) {
        const seq = document.createElement('span');
        seq.className = 'nar-seq';
        seq.textContent = `#${e.seq}`;
        const time = document.createElement('span');
        time.className = 'nar-time';
        time.textContent = clockTime(e.time);
        this.narration.append(seq, ' ', time, ' ');
      }
      const t = document.createElement('span');
      t.className = 'nar-text';
      t.textContent = text;
      this.narration.append(t);
      this.narration.dataset.seq = e ? String(e.seq) : '0';
    }
    const seq = e ? e.seq : 0;
    const last = pos.lastSeq;
    let where;
    if (!pos.live) where = `Viewing event ${seq} of ${last} —`;
    else if (!pos.total) where = 'No event yet';
    else if (m.pendingCount()) where = `Event ${seq} of ${last}; ${m.pendingCount()} more waiting: Step (.)`;
    else where = `Event ${seq} of ${last}, the latest`;
    this.where.textContent = where;
    this.scrubber.setAttribute('aria-valuetext', e ? `event ${seq} of ${last}: ${text}` : 'the start, before any event');
    this.nowBtn.hidden = pos.live;
  }
}

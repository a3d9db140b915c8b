// The controls: play and pause, back and step (forward), speed, the
// virtual clock and the buttons that move it, catching up, reset.
// Back rewinds the page one revealed event at a time (the world goes on
// untouched, paused); Step goes forward through those events first, then
// reveals the next; Play returns to the present and goes on.
import { $, announce } from './dom.js';
import { longTime, duration, shortTime } from './format.js';

export class Controls {
  constructor(model, actions) {
    this.model = model;
    this.actions = actions; // {reset(), toggleProjector()}
    this.play = $('#play');
    this.playText = $('#play .label');
    this.step = $('#step');
    this.backBtn = $('#back');
    this.speed = $('#speed');
    this.clock = $('#clock');
    this.retry = $('#retry');
    this.catchup = $('#catchup');
    this.pending = $('#pending');
    this.wire();
    model.addEventListener('clock', () => this.showClock());
    model.addEventListener('pending', (e) => this.showPending(e.detail));
    model.addEventListener('cursor', () => this.showPlaying());
    model.addEventListener('reveal', () => { if (this.backBtn && this.backBtn.disabled) this.showPlaying(); });
    model.addEventListener('world', () => this.showPlaying());
    setInterval(() => this.tickClock(), 250);
  }

  wire() {
    this.play.addEventListener('click', () => this.toggle());
    this.step.addEventListener('click', () => this.doStep());
    if (this.backBtn) this.backBtn.addEventListener('click', () => this.doBack());
    this.speed.addEventListener('change', async () => {
      try {
        await this.model.setSpeed(Number(this.speed.value));
      } catch (err) {
        announce(err.message, 'error');
      }
    });
    for (const b of document.querySelectorAll('[data-advance]')) {
      b.addEventListener('click', () => this.advance(b.dataset.advance));
    }
    this.catchup.addEventListener('click', () => this.model.catchUp());
    $('#reset').addEventListener('click', () => this.actions.reset());
    document.addEventListener('keydown', (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target;
      if (t.closest('input, textarea, select, [contenteditable], [role="listbox"]')) return;
      if (e.key === 'k') {
        e.preventDefault();
        this.toggle();
      } else if (e.key === '.') {
        e.preventDefault();
        this.doStep();
      } else if (e.key === ',' && this.backBtn && !this.backBtn.hidden) {
        e.preventDefault();
        this.doBack();
      } else if (e.key === 'p' && this.actions.toggleProjector) {
        e.preventDefault();
        this.actions.toggleProjector();
      }
    });
  }

  async toggle() {
    this.autoPaused = false;
    const on = !this.model.playing || !!this.model.cursor;
    try {
      await this.model.setPlaying(on);
      this.showPlaying();
      announce(on ? 'Playing' : 'Paused: Step (.) shows one event at a time, Back (,) goes back one');
    } catch (err) {
      announce(err.message, 'error');
    }
  }

  showPlaying() {
    const on = this.model.playing && !this.model.cursor;
    this.play.setAttribute('aria-pressed', String(on));
    this.playText.textContent = on ? 'Pause' : 'Play';
    this.play.classList.toggle('is-playing', on);
    document.body.classList.toggle('is-paused', !on);
    document.body.classList.toggle('is-rewound', !!this.model.cursor);
    if (this.backBtn) this.backBtn.disabled = this.model.position().index < 0;
  }

  async doStep() {
    this.autoPaused = false;
    try {
      if (this.model.playing) {
        await this.model.setPlaying(false);
        this.showPlaying();
      }
      const r = await this.model.step();
      if (r.rewound && !this.model.cursor) announce('Back at the present: Step (.) shows the next event');
      if (r.clock) announce(`The clock moved to ${shortTime(r.clock.time)}: the next thing scheduled happened`);
    } catch (err) {
      announce(err.message, 'error');
    }
  }

  // doBack pauses, and shows the page as it was one event earlier.
  async doBack() {
    try {
      await this.pauseToRewind();
      if (!this.model.back()) announce('This is the start of the world: nothing happened before');
    } catch (err) {
      announce(err.message, 'error');
    }
  }

  // pauseToRewind pauses before the page goes back; "Back to now" will
  // play again if it was playing.
  async pauseToRewind() {
    if (!this.model.playing || this.model.cursor) return;
    await this.model.setPlaying(false);
    this.autoPaused = true;
    this.showPlaying();
  }

  // backToNow returns to the present, playing if going back paused it.
  async backToNow() {
    this.model.toNow();
    if (!this.autoPaused) return;
    this.autoPaused = false;
    try {
      await this.model.setPlaying(true);
      this.showPlaying();
    } catch (err) {
      announce(err.message, 'error');
    }
  }

  async advance(spec) {
    const before = this.model.now();
    try {
      const c = await this.model.advance(spec);
      announce(`The clock moved ${duration(Date.parse(c.time) - before)} to ${shortTime(c.time)}`);
    } catch (err) {
      announce(err.message, 'error');
    }
  }

  showClock() {
    const c = this.model.clock;
    if (!c) return;
    if (this.model.playing !== c.playing) {
      this.model.playing = c.playing;
    }
    this.showPlaying();
    if (String(c.speed) !== this.speed.value) {
      if (![...this.speed.options].some((o) => o.value === String(c.speed))) {
        this.speed.append(new Option(`${c.speed}×`, String(c.speed)));
      }
      this.speed.value = String(c.speed);
    }
    const now = this.model.now();
    if (c.retry) {
      this.retry.disabled = false;
      this.retry.textContent = `Next retry (${shortTime(c.retry)})`;
      this.retry.title = `Move the clock to ${shortTime(c.retry)}, in ${duration(Math.max(0, Date.parse(c.retry) - now))}, when a queued message is tried again`;
    } else {
      this.retry.disabled = true;
      this.retry.textContent = 'Next retry';
      this.retry.title = 'No message waits in a queue';
    }
    this.tickClock();
  }

  tickClock() {
    const t = this.model.now();
    if (t) this.clock.textContent = longTime(t);
  }

  showPending(n) {
    this.pending.textContent = n ? `(${n})` : '';
    this.catchup.title = n ? `${n} events happened and wait to be shown: show them all now, without animation` : 'Every event is shown';
    this.catchup.disabled = !n;
  }
}

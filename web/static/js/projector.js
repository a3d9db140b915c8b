// Projector mode: for a class watching a projector from the back of the
// room. Large type, high contrast, the narration line large on top, the
// topology and the tools big; the timeline and other secondary chrome
// step aside. The button (and key p) toggles it; the link keeps it.
import { $, announce } from './dom.js';

export class Projector {
  constructor() {
    this.button = $('#projector');
    this.button.addEventListener('click', () => this.toggle());
  }

  get on() {
    return document.body.classList.contains('projector');
  }

  set(on, say) {
    const was = this.on;
    document.body.classList.toggle('projector', !!on);
    this.button.setAttribute('aria-pressed', String(!!on));
    if (was !== !!on) {
      document.dispatchEvent(new CustomEvent('mailhop:projector', { detail: !!on }));
      if (say) announce(on ? 'Projector mode: large type for the back of the room (p to leave)' : 'Projector mode off');
    }
  }

  toggle() {
    this.set(!this.on, true);
  }
}

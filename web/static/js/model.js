// The page's model of the world: the trace events as they are revealed,
// the state snapshots, and the pace at which events are shown.
//
// The simulation runs ahead (a whole journey takes a few milliseconds of
// the worker's time); the page reveals its events at a readable pace so
// that a message can be seen travelling: each event costs some time
// (a protocol line little, a hop or a delivery more), divided by the
// speed. Paused, nothing is revealed until Step shows the next event.
// Far behind (a burst of messages), the page catches up in bulk and only
// animates the last events.
//
// Events: 'reveal' {events, animate}, 'state', 'world', 'pending', 'clock'.

// Reveal cost of an event at speed 1, in milliseconds.
function cost(e) {
  switch (e.kind) {
    case 'wire': return (e.text || '').includes('\n') ? 900 : 70;
    case 'packet': return 80;
    case 'dns': return e.action === 'served' ? 60 : 380;
    case 'conn': return e.action === 'open' ? 320 : 160;
    case 'tls': return 300;
    case 'hop': return 500;
    case 'deliver': return 700;
    case 'queue': return e.action === 'deferred' ? 700 : 260;
    default: return 220;
  }
}

const CATCH_UP = 600; // pending events beyond which the page catches up
const KEEP = 120; // events left to reveal at pace after catching up
const MAX_EVENTS = 200000; // events kept for the timeline

export class Model extends EventTarget {
  constructor(api) {
    super();
    this.api = api;
    this.world = 0;
    this.events = []; // revealed, in order
    this.dropped = 0; // revealed events no longer kept
    this.pending = [];
    this.head = 0; // index of the next pending event
    this.playing = true;
    this.speed = 1;
    this.budget = 0;
    this.state = null; // last snapshot applied
    this.snapshots = [];
    this.stateWanted = false;
    this.stateBusy = false;
    this.view = { down: new Map(), queue: new Map(), mail: new Map(), cuts: new Set() };
    this.explain = [];
    this.worlds = [];
    this.clock = null; // {time, playing, speed, next, retry}
    this.clockAt = 0; // performance.now() when clock was read
    this.lastFrame = 0;
    this.frame = this.frame.bind(this);
  }

  async start() {
    this.api.onEvents((events, world) => this.arrive(events, world));
    if (this.api.onState) this.api.onState((st) => this.offer(st));
    const [explain, state] = await Promise.all([this.api.explanations(), this.api.state()]);
    this.explain = explain;
    // The built-in worlds are read after the page is up: nobody waits
    // for them.
    this.api.worlds().then((w) => { this.worlds = w; this.emit('worlds', w); }, () => {});
    this.world = this.world || state.world;
    this.snapshots.push(state);
    this.applyState(state);
    this.setClock(state.clock);
    requestAnimationFrame(this.frame);
    setInterval(() => this.refreshClock(), 1000);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // arrive takes a batch of events from the worker.
  arrive(events, world) {
    if (world !== this.world) {
      if (world < this.world) return; // an older world's last words
      this.newWorld(world);
    }
    for (const e of events) this.pending.push(e);
    if (events.some((e) => e.kind === 'queue' || e.kind === 'deliver' || e.kind === 'host' || e.kind === 'link' ||
      e.kind === 'fault' || (e.kind === 'wire' && /EXPUNGE|^DELE|^\+OK.*deleted/i.test(e.text || '')))) {
      this.wantState();
    }
    this.emit('pending', this.pendingCount());
  }

  newWorld(world) {
    this.world = world;
    this.events = [];
    this.dropped = 0;
    this.pending = [];
    this.head = 0;
    this.snapshots = [];
    this.state = null;
    this.view = { down: new Map(), queue: new Map(), mail: new Map(), cuts: new Set() };
    this.emit('world', world);
    this.wantState();
  }

  // offer takes a state the API sends unasked (the live view's, when a
  // host shows up on the wire): applied once what it shows is revealed.
  offer(st) {
    this.switchTo(st.world);
    if (st.world !== this.world) return;
    this.snapshots.push(st);
    this.snapshots.sort((a, b) => a.seq - b.seq);
    this.maybeApplyState();
  }

  // switchTo follows a world that load or reset started.
  switchTo(world) {
    if (world > this.world) this.newWorld(world);
  }

  pendingCount() {
    return this.pending.length - this.head;
  }

  lastSeq() {
    return this.events.length ? this.events[this.events.length - 1].seq : 0;
  }

  // frame reveals what the pace allows.
  frame(now) {
    requestAnimationFrame(this.frame);
    const dt = this.lastFrame ? Math.min(now - this.lastFrame, 250) : 0;
    this.lastFrame = now;
    const waiting = this.pendingCount();
    if (!waiting) {
      this.budget = 0;
      return;
    }
    if (!this.playing) return;
    const t0 = performance.now();
    if (waiting > CATCH_UP) {
      // Far behind: reveal in bulk, a slice per frame, without animation.
      const n = Math.min(waiting - KEEP, 1000);
      this.reveal(this.take(n), false);
      this.budget = 0;
      return;
    }
    this.budget += dt * this.speed;
    const out = [];
    while (this.pendingCount() && this.budget >= 0 && performance.now() - t0 < 8) {
      const e = this.pending[this.head];
      this.budget -= cost(e);
      out.push(this.take(1)[0]);
    }
    if (out.length) this.reveal(out, true);
  }

  take(n) {
    const out = this.pending.slice(this.head, this.head + n);
    this.head += out.length;
    if (this.head > 4096 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  reveal(events, animate) {
    if (!events.length) return;
    for (const e of events) {
      this.events.push(e);
      this.track(e);
    }
    if (this.events.length > MAX_EVENTS) {
      const drop = this.events.length - MAX_EVENTS + 10000;
      this.events.splice(0, drop);
      this.dropped += drop;
    }
    this.maybeApplyState();
    this.emit('reveal', { events, animate });
    if (!this.pendingCount()) this.emit('pending', 0);
    else if (!animate || events.length > 1) this.emit('pending', this.pendingCount());
  }

  // step reveals the next event; with none waiting, it moves the clock to
  // the next thing scheduled. It resolves to what it did.
  async step() {
    if (this.pendingCount()) {
      this.reveal(this.take(1), true);
      this.emit('pending', this.pendingCount());
      return { revealed: 1 };
    }
    const clock = await this.api.step();
    this.setClock(clock);
    return { clock };
  }

  // catchUp reveals everything waiting at once.
  catchUp() {
    while (this.pendingCount()) this.reveal(this.take(Math.min(this.pendingCount(), 5000)), false);
  }

  async setPlaying(on) {
    this.playing = on;
    const clock = await (on ? this.api.play() : this.api.pause());
    this.setClock(clock);
  }

  async setSpeed(x) {
    const clock = await this.api.speed(x);
    this.speed = x;
    this.setClock(clock);
  }

  async advance(spec) {
    const clock = await this.api.advance(spec);
    this.setClock(clock);
    this.wantState();
    return clock;
  }

  setClock(c) {
    if (!c) return;
    this.clock = c;
    this.clockAt = performance.now();
    this.speed = c.speed;
    this.emit('clock', c);
  }

  // now estimates the virtual time between two readings of the clock.
  now() {
    if (!this.clock) return 0;
    const t = Date.parse(this.clock.time);
    if (!this.clock.playing) return t;
    return t + (performance.now() - this.clockAt) * this.clock.speed;
  }

  async refreshClock() {
    if (this.clockBusy) return;
    this.clockBusy = true;
    try {
      this.setClock(await this.api.clock());
    } catch (err) {
      // the worker is busy or restarting; try again later
    } finally {
      this.clockBusy = false;
    }
  }

  // --- state snapshots ---

  // wantState asks for a snapshot soon: after a quiet moment, and at
  // most about twice a second while mail flows.
  wantState() {
    this.stateWanted = true;
    if (this.stateTimer) return;
    const wait = Math.max(120, 500 - (performance.now() - (this.stateAt || 0)));
    this.stateTimer = setTimeout(() => {
      this.stateTimer = null;
      this.stateAt = performance.now();
      this.fetchState();
    }, wait);
  }

  async fetchState() {
    if (this.stateBusy) return;
    this.stateBusy = true;
    this.stateWanted = false;
    try {
      const st = await this.api.state();
      if (st.world === this.world) {
        this.snapshots.push(st);
        this.snapshots.sort((a, b) => a.seq - b.seq);
        this.setClock(st.clock);
        this.maybeApplyState();
      }
    } catch (err) {
      // shown by the caller that changed the world; keep the last state
    } finally {
      this.stateBusy = false;
      if (this.stateWanted) this.wantState();
    }
  }

  // maybeApplyState applies the newest snapshot taken no later than what
  // is revealed, so the badges never run ahead of the animation.
  maybeApplyState() {
    const seq = this.lastSeq();
    let best = -1;
    for (let i = 0; i < this.snapshots.length; i++) {
      if (this.snapshots[i].seq <= seq) best = i;
    }
    if (best < 0) return;
    const st = this.snapshots[best];
    this.snapshots = this.snapshots.slice(best + 1);
    this.applyState(st);
  }

  applyState(st) {
    for (const h of st.hosts) {
      for (const k of ['addrs', 'roles', 'domains', 'ports', 'udp_ports', 'queue', 'mailboxes']) h[k] = h[k] || [];
    }
    st.users = st.users || [];
    st.faults = st.faults || [];
    this.state = st;
    const v = { down: new Map(), queue: new Map(), mail: new Map(), cuts: new Set() };
    for (const h of st.hosts) {
      v.down.set(h.name, h.down);
      if (h.queue || h.roles.includes('msa') || h.roles.includes('mx')) {
        v.queue.set(h.name, new Set((h.queue || []).map((q) => q.id)));
      }
      for (const mb of h.mailboxes || []) v.mail.set(mb.user, mb.count ?? mb.messages.length);
    }
    for (const f of st.faults || []) {
      const key = [f.host, f.peer].sort().join('|');
      if (f.kind === 'link-cut') v.cuts.add(key);
      if (f.kind === 'link-restore') v.cuts.delete(key);
    }
    this.view = v;
    // Events revealed after the snapshot was taken.
    const first = this.events.length ? this.events[0].seq : 0;
    for (let i = Math.max(0, st.seq + 1 - first); i < this.events.length; i++) this.track(this.events[i]);
    this.emit('state', st);
  }

  // track updates the badges from an event.
  track(e) {
    const v = this.view;
    if (this.state && e.seq <= this.state.seq) return;
    switch (e.kind) {
      case 'host':
        v.down.set(e.host, e.action === 'down');
        break;
      case 'link': {
        const key = [e.host, e.peer].sort().join('|');
        if (e.action === 'cut') v.cuts.add(key); else v.cuts.delete(key);
        break;
      }
      case 'queue': {
        const m = /queue id (\w+)/.exec(e.text || '');
        if (!m) break;
        if (!v.queue.has(e.host)) v.queue.set(e.host, new Set());
        const q = v.queue.get(e.host);
        if (e.action === 'queued' || e.action === 'recovered') q.add(m[1]);
        if (['delivered', 'bounced', 'expired', 'failed', 'discarded'].includes(e.action)) q.delete(m[1]);
        break;
      }
      case 'deliver': {
        const user = (e.mailbox || '').split('/')[0];
        v.mail.set(user, (v.mail.get(user) || 0) + 1);
        break;
      }
      default:
    }
  }

  // explanation finds the table entry for a key (a reply code, a command).
  explanation(proto, kind, key) {
    const p = proto === 'lmtp' ? ['lmtp', 'smtp'] : [proto];
    for (const pr of p) {
      const e = this.explain.find((x) => x.proto === pr && x.kind === kind && x.key.toUpperCase() === key.toUpperCase());
      if (e) return e;
    }
    return null;
  }
}

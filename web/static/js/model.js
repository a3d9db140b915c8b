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
// The model also keeps the past: every state snapshot of the world (each
// has the seq of the trace's last event when it was taken) and the
// revealed events, so that the page can be rewound to any event (seek):
// the view at seq N is the newest snapshot with seq ≤ N, with the events
// up to N folded in (track). Rewound, model.state and model.view are
// those of that moment; the world itself goes on untouched.
//
// Events: 'reveal' {events, animate}, 'state', 'world', 'pending', 'clock',
// 'cursor' {seq, index, live}.

import { setServices } from './format.js';

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
const MAX_HISTORY = 1500; // snapshots kept for rewinding (thinned beyond)

function emptyView() {
  return { down: new Map(), queue: new Map(), mail: new Map(), cuts: new Set() };
}

// viewOf reads the badges from a snapshot.
function viewOf(st) {
  const v = emptyView();
  for (const h of st.hosts) {
    v.down.set(h.name, h.down);
    if (h.queue || h.roles.includes('msa') || h.roles.includes('mx')) {
      v.queue.set(h.name, new Set((h.queue || []).map((q) => q.id)));
    }
    // A user's badge counts their mail in every mailbox (INBOX, Junk),
    // as deliveries do below.
    for (const mb of h.mailboxes || []) {
      const n = mb.count ?? mb.messages.length;
      v.mail.set(mb.user, (v.mail.get(mb.user) || 0) + n);
    }
  }
  for (const f of st.faults || []) {
    const key = [f.host, f.peer].sort().join('|');
    if (f.kind === 'link-cut') v.cuts.add(key);
    if (f.kind === 'link-restore') v.cuts.delete(key);
  }
  return v;
}

// fold updates badges v from an event.
function fold(v, e) {
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

function normalise(st) {
  if (st.normalised) return st;
  for (const h of st.hosts) {
    for (const k of ['addrs', 'roles', 'domains', 'ports', 'udp_ports', 'queue', 'mailboxes']) h[k] = h[k] || [];
  }
  st.users = st.users || [];
  st.faults = st.faults || [];
  Object.defineProperty(st, 'normalised', { value: true });
  return st;
}

// delivered reads a deliver event: {user, mailbox, uid}, or null.
export function deliveredAs(e) {
  if (e.kind !== 'deliver') return null;
  const m = /UID (\d+)/.exec(e.text || '');
  if (!m) return null;
  const [user, mailbox] = (e.mailbox || '').split('/');
  return { user, mailbox: mailbox || 'INBOX', uid: Number(m[1]) };
}

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
    this.live = null; // last snapshot applied (the present)
    this.present = null; // live, with the mail filed since (presentState)
    this.snapshots = []; // taken, not yet applied (ahead of the revealed events)
    this.history = []; // every snapshot applied or passed over, by seq: the past
    this.filed = new Map(); // "user/mailbox/uid" → seq of the revealed event that filed it
    this.cursor = null; // rewound: {seq, index, state, view}; null: the present
    this.stateWanted = false;
    this.stateBusy = false;
    this.liveView = emptyView();
    this.explain = [];
    this.worlds = [];
    this.preloaded = false; // explanations and worlds came with the page
    this.first = null; // the first state, when it came with the page
    this.clock = null; // {time, playing, speed, next, retry}
    this.clockAt = 0; // performance.now() when clock was read
    this.lastFrame = 0;
    this.frame = this.frame.bind(this);
  }

  // state and view are what the page shows: the present, or the moment
  // the page is rewound to.
  get state() {
    if (this.cursor) return this.cursor.state;
    return this.present || this.live;
  }

  get view() {
    return this.cursor ? this.cursor.view : this.liveView;
  }

  // preload takes what is known before the simulation runs (the page's
  // boot.json): the explanations, the built-in worlds and the default
  // world as it starts (its first state: nothing happens in it until
  // someone acts), which the views draw at once. other: the page is to
  // show another world (a link), so none is drawn.
  preload(data, other) {
    this.preloaded = true;
    this.explain = data.explanations || [];
    this.worlds = data.worlds || [];
    this.emit('worlds', this.worlds);
    if (other || this.live) return;
    const st = normalise(data.state);
    setServices(st.services);
    this.first = st;
    this.present = st;
    this.liveView = viewOf(st);
    this.emit('state', st);
  }

  async start() {
    this.api.onEvents((events, world) => this.arrive(events, world));
    if (this.api.onState) this.api.onState((st) => this.offer(st));
    // With the first state known, the simulation is asked for its own
    // once the page is up, and its first answers go to the user.
    const [explain, state] = await Promise.all([
      this.preloaded ? this.explain : this.api.explanations(),
      this.first || this.api.state(),
    ]);
    this.explain = explain;
    // The built-in worlds are read after the page is up: nobody waits
    // for them.
    if (!this.preloaded) this.api.worlds().then((w) => { this.worlds = w; this.emit('worlds', w); }, () => {});
    this.world = this.world || state.world;
    this.remember(state);
    this.applyState(state);
    this.setClock(state.clock);
    if (this.first) this.wantState();
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
    this.history = [];
    this.filed = new Map();
    this.live = null;
    this.present = null;
    clearTimeout(this.presentTimer);
    this.presentTimer = null;
    this.liveView = emptyView();
    const rewound = !!this.cursor;
    this.cursor = null;
    this.emit('world', world);
    if (rewound) this.emit('cursor', this.position());
    // Another world: its state at once (wantState spaces the states out
    // while mail flows).
    clearTimeout(this.stateTimer);
    this.stateTimer = null;
    this.stateWanted = true;
    this.fetchState();
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
    // Something new shows: the page is at the present again.
    if (this.cursor) this.toNow();
    let filed = false;
    for (const e of events) {
      this.events.push(e);
      this.track(e);
      const d = deliveredAs(e);
      if (d) {
        this.filed.set(`${d.user}/${d.mailbox}/${d.uid}`, e.seq);
        filed = true;
      }
    }
    if (this.events.length > MAX_EVENTS) {
      const drop = this.events.length - MAX_EVENTS + 10000;
      this.events.splice(0, drop);
      this.dropped += drop;
    }
    const applied = this.live;
    this.maybeApplyState();
    if (filed && this.live === applied) this.refreshPresent();
    this.emit('reveal', { events, animate });
    if (!this.pendingCount()) this.emit('pending', 0);
    else if (!animate || events.length > 1) this.emit('pending', this.pendingCount());
  }

  // step reveals the next event; with none waiting, it moves the clock to
  // the next thing scheduled. It resolves to what it did.
  async step() {
    if (this.cursor) {
      this.forward();
      return { rewound: 1 };
    }
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
    if (this.cursor) this.toNow();
    while (this.pendingCount()) this.reveal(this.take(Math.min(this.pendingCount(), 5000)), false);
  }

  async setPlaying(on) {
    if (on && this.cursor) this.toNow();
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
    for (const x of this.snapshots.slice(0, best + 1)) this.remember(x);
    this.snapshots = this.snapshots.slice(best + 1);
    this.applyState(st);
  }

  // remember keeps a snapshot for rewinding.
  remember(st) {
    if (st.world !== undefined && st.world !== this.world) return;
    normalise(st);
    const h = this.history;
    if (h.includes(st)) return;
    let i = h.length;
    while (i > 0 && h[i - 1].seq > st.seq) i--;
    h.splice(i, 0, st);
    if (h.length > MAX_HISTORY) {
      // Thin out the middle of the past; the world's start and the
      // newest stay.
      this.history = h.filter((x, j) => j === 0 || j >= h.length - 100 || j % 2 === 0);
    }
  }

  applyState(st) {
    setServices(st.services);
    normalise(st);
    this.live = st;
    this.liveView = viewOf(st);
    // Events revealed after the snapshot was taken.
    const first = this.events.length ? this.events[0].seq : 0;
    for (let i = Math.max(0, st.seq + 1 - first); i < this.events.length; i++) this.track(this.events[i]);
    this.present = this.presentState();
    if (this.cursor) return; // shown when the page is at the present again
    this.emit('state', this.present);
  }

  // refreshPresent shows the mail filed by the events just revealed: at
  // once step by step, at most four times a second while playing.
  refreshPresent() {
    if (!this.live) return;
    const run = () => {
      this.presentTimer = null;
      if (!this.live) return;
      this.present = this.presentState();
      if (!this.cursor) this.emit('state', this.present);
    };
    if (!this.playing) {
      clearTimeout(this.presentTimer);
      run();
    } else if (!this.presentTimer) {
      this.presentTimer = setTimeout(run, 250);
    }
  }

  // presentState is the last snapshot applied, with the mail filed by
  // the events revealed since (step by step, a snapshot taken after a
  // delivery is often still ahead of the events shown): the mailboxes
  // list a message from its delivery on, like the badges.
  presentState() {
    const st = this.live;
    if (!st) return null;
    const seq = this.lastSeq();
    let filed = false;
    for (let i = this.events.length - 1; i >= 0 && this.events[i].seq > st.seq && !filed; i--) filed = this.events[i].kind === 'deliver';
    if (!filed) return st;
    return { ...st, hosts: st.hosts.map((x) => ({ ...x, mailboxes: this.mailboxesAt(x, st, seq) })) };
  }

  // track updates the present's badges from an event.
  track(e) {
    if (this.live && e.seq <= this.live.seq) return;
    fold(this.liveView, e);
  }

  // --- rewinding ---

  // position: where the page is: the seq and index (in events) of the
  // event shown, how many events are revealed, and whether it is the
  // present. Index -1 is the world's start, before any event.
  position() {
    const n = this.events.length;
    if (this.cursor) return { seq: this.cursor.seq, index: this.cursor.index, total: n, live: false, lastSeq: this.lastSeq() };
    return { seq: this.lastSeq(), index: n - 1, total: n, live: true, lastSeq: this.lastSeq() };
  }

  // eventAt returns the revealed event of seq, or null.
  eventAt(seq) {
    const ev = this.events;
    if (!ev.length) return null;
    let i = seq - ev[0].seq; // seqs run on without gaps, mostly
    if (ev[i] && ev[i].seq === seq) return ev[i];
    i = ev.findIndex((e) => e.seq === seq);
    return i >= 0 ? ev[i] : null;
  }

  indexOf(seq) {
    const ev = this.events;
    if (!ev.length || seq < ev[0].seq) return -1;
    const i = seq - ev[0].seq;
    if (ev[i] && ev[i].seq === seq) return i;
    let j = ev.length - 1;
    while (j >= 0 && ev[j].seq > seq) j--;
    return j;
  }

  // seekIndex shows the page as it was at the index-th revealed event
  // (-1: the world's start); the last one is the present.
  seekIndex(index) {
    const n = this.events.length;
    const i = Math.max(-1, Math.min(index, n - 1));
    if (i === n - 1) {
      this.toNow();
      return;
    }
    const seq = i >= 0 ? this.events[i].seq : (this.events.length ? this.events[0].seq - 1 : 0);
    if (this.cursor && this.cursor.seq === seq) return;
    const { state, view } = this.at(seq);
    this.cursor = { seq, index: i, state, view };
    this.emit('cursor', this.position());
    this.emit('state', state);
  }

  seek(seq) {
    this.seekIndex(this.indexOf(seq));
  }

  // back and forward move one revealed event; they return false at
  // either end.
  back() {
    const { index } = this.position();
    if (index < 0) return false;
    this.seekIndex(index - 1);
    return true;
  }

  forward() {
    if (!this.cursor) return false;
    this.seekIndex(this.cursor.index + 1);
    return true;
  }

  toNow() {
    if (!this.cursor) return;
    this.cursor = null;
    this.emit('cursor', this.position());
    if (this.live) this.emit('state', this.state);
  }

  // at computes the state and the badges as they were at seq: the newest
  // snapshot no later than seq, with the events up to seq folded in.
  // Mailboxes list the messages filed by then (see mailboxesAt).
  at(seq) {
    const h = this.history;
    let base = h[0] || this.live;
    for (const st of h) if (st.seq <= seq) base = st;
    const view = viewOf(base);
    const ev = this.events;
    for (let i = Math.max(0, this.indexOf(base.seq) + 1); i < ev.length && ev[i].seq <= seq; i++) {
      if (ev[i].seq > base.seq) fold(view, ev[i]);
    }
    const state = { ...base, hosts: base.hosts.map((x) => ({ ...x, mailboxes: this.mailboxesAt(x, base, seq) })), rewound: seq };
    return { state, view };
  }

  // filedAt returns the seq of the event that filed a message, or 0 when
  // no revealed event did (it was there from the start).
  filedAt(user, mailbox, uid) {
    return this.filed.get(`${user}/${mailbox}/${uid}`) || 0;
  }

  // mailboxesAt lists a host's mailboxes at seq, from base (the newest
  // snapshot no later than seq): its messages, and those filed between
  // base and seq (found in later snapshots), less those filed after seq.
  // A message deleted (POP3 DELE, IMAP EXPUNGE) between base and seq is
  // still listed, and one filed and deleted between two snapshots never
  // shows: deletions are only as exact as the snapshots (taken at most
  // about twice a second while mail flows, and after each DELE or
  // EXPUNGE line).
  mailboxesAt(host, base, seq) {
    // A message filed after base shows in the next snapshots (unless
    // deleted at once), those applied or still ahead of the events
    // revealed: a few of them are enough.
    const later = [...new Set([...this.history, this.live, ...this.snapshots])]
      .filter((st) => st && st.seq > base.seq && st.hosts).sort((a, b) => a.seq - b.seq).slice(0, 3);
    return (host.mailboxes || []).map((mb) => {
      const messages = [];
      const seen = new Set();
      const keep = (m) => {
        if (seen.has(m.uid)) return;
        const filed = this.filedAt(mb.user, mb.mailbox, m.uid);
        if (filed > seq) return;
        seen.add(m.uid);
        messages.push(m);
      };
      for (const m of mb.messages || []) keep(m);
      for (const st of later) {
        const h2 = st.hosts.find((x) => x.name === host.name);
        const mb2 = h2 && (h2.mailboxes || []).find((x) => x.user === mb.user && x.mailbox === mb.mailbox);
        for (const m of (mb2 && mb2.messages) || []) {
          const filed = this.filedAt(mb.user, mb.mailbox, m.uid);
          if (filed > base.seq && filed <= seq) keep(m);
        }
      }
      messages.sort((a, b) => a.uid - b.uid);
      const out = { ...mb, messages };
      if (mb.count !== undefined) out.count = mb.count - (mb.messages || []).length + messages.length;
      return out;
    });
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

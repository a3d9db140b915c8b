// The live view: the page connected to a real server (`mailhop serve
// --ui`) instead of the simulation. The page is the live view when it is
// served as …/live; it then starts no WebAssembly: a live client with the
// part of the JS API the views use (design §5) reads the server's state
// (GET state) and follows its trace (GET events, Server-Sent Events), and
// the same model, topology, timeline and controls show it.
//
// The topology is this server and the hosts seen on the wire, one card
// per address: mail clients and servers that connect to it (named by
// their EHLO when they give one), the MX hosts it delivers to (named by
// the DNS answers that led there) and the DNS servers it asks. Events
// name those hosts by address without the client's port, so that each
// lands on its card; everything else is as the server sent it.
//
// What makes no sense live is not shown: the virtual clock, faults,
// compose, terminals, reset, other worlds, a link to share (a real
// server's traffic can not be replayed from one). Export links to the
// server's own downloads, GET export/transcript.txt and
// export/trace.jsonl (no pcap). Pause and Step hold back the
// showing of events, not the server. Mailboxes show counts only: the
// server lets nobody read a message through this page.
import { Model } from './model.js';
import { Topology } from './topology.js';
import { Timeline } from './timeline.js';
import { Controls } from './controls.js';
import { ServerPanel, LiveMailboxes } from './livepanels.js';
import { StepBar } from './stepbar.js';
import { Projector } from './projector.js';
import { ExportMenu, slug } from './exports.js';
import { $, h, clear, announce, tabs } from './dom.js';
import { setServices } from './format.js';

const HISTORY = 5000; // events of the past shown when the page opens
const MAX_PEERS = 16; // cards for hosts seen on the wire; the rest share one
const OTHERS = 'other hosts';

// The roles of this server, by listener.
const LISTENER_ROLES = {
  smtp: 'mx', submission: 'msa', submissions: 'msa', imap: 'imap', imaps: 'imap', pop3: 'pop3', pop3s: 'pop3', lmtp: 'lmtp',
};
// Who connects to a listener: a person's mail program, or a mail server.
const CLIENT_ROLES = {
  smtp: 'mta', lmtp: 'mta', submission: 'mua', submissions: 'mua', imap: 'mua', imaps: 'mua', pop3: 'mua', pop3s: 'mua',
};
const ROLE_LABELS = { mua: 'mail client', mta: 'mail server', dns: 'DNS server' };

// ipOf returns the address of "192.0.2.1:25", "[2001:db8::1]:25", or an
// address alone.
export function ipOf(addr) {
  const s = String(addr || '');
  if (s.startsWith('[')) return s.slice(1, s.indexOf(']') > 0 ? s.indexOf(']') : undefined);
  const i = s.lastIndexOf(':');
  if (i > 0 && s.indexOf(':') === i) return s.slice(0, i);
  return s;
}

function portOf(addr) {
  const s = String(addr || '');
  const i = s.lastIndexOf(':');
  return i >= 0 ? Number(s.slice(i + 1)) || 0 : 0;
}

const unqualify = (name) => String(name || '').replace(/\.$/, '').toLowerCase();

// Peers keeps the hosts seen on the wire and names events after them.
class Peers {
  constructor(info) {
    this.host = info.hostname;
    this.domain = (info.domains || [])[0] || '';
    this.byIP = new Map(); // address → peer
    this.byName = new Map(); // name → peer
    this.dnsNames = new Map(); // address → name, from A and AAAA answers
    this.mxDomains = new Map(); // MX host → the domain it takes mail for
    this.listeners = new Map(); // port → listener name
    for (const [name, addr] of Object.entries(info.listeners || {})) this.listeners.set(portOf(addr), name);
    this.recent = []; // users mail was last filed for, newest first
    this.changed = 0; // seq of the first event that changed the cards (0: none)
  }

  // see names e's hosts after their cards and learns from it.
  see(e) {
    if (e.kind === 'dns' && e.action === 'answer') this.learnDNS(e);
    if (e.kind === 'deliver' && e.mailbox) {
      const user = e.mailbox.split('/')[0];
      this.recent = [user, ...this.recent.filter((u) => u !== user)].slice(0, 8);
    }
    let side = '';
    if (e.kind === 'conn' || e.kind === 'wire' || e.kind === 'tls' || e.kind === 'packet') {
      if (e.peer === this.host && e.host) side = 'host';
      else if (e.host === this.host && e.peer) side = 'peer';
    } else if (e.kind === 'dns' && e.host === this.host && e.peer) {
      side = 'peer';
    }
    if (!side) return e;
    const ip = ipOf(e[side]);
    const p = this.peer(ip, e.seq);
    e[side] = p.name;
    if (side === 'host') {
      // A client of this server.
      const listener = this.listeners.get(e.port);
      const role = CLIENT_ROLES[listener] || (e.proto === 'smtp' || e.proto === 'lmtp' ? 'mta' : 'mua');
      this.add(p, 'roles', role, e.seq);
      if (role === 'mua' && this.domain) this.add(p, 'domains', this.domain, e.seq);
      if (e.port) this.add(p, 'links', String(e.port), e.seq);
      const m = e.kind === 'wire' && e.dir === 'send' && /^(?:EHLO|HELO|LHLO)\s+(\S+)/i.exec(e.text || '');
      if (m && !p.hello && p.name === ip) {
        p.hello = m[1];
        this.touch(e.seq);
      }
    } else if (e.kind === 'dns' || e.proto === 'dns') {
      this.add(p, 'roles', 'dns', e.seq);
      if (e.port) this.add(p, e.kind === 'dns' ? 'udp_ports' : 'ports', e.port, e.seq);
      if (e.port) this.add(p, 'links', String(e.port), e.seq);
    } else {
      // A server this one dialled: an MX host.
      this.add(p, 'roles', 'mta', e.seq);
      if (e.port) this.add(p, 'ports', e.port, e.seq);
      if (e.port) this.add(p, 'links', String(e.port), e.seq);
      const domain = this.mxDomains.get(p.name);
      if (domain) this.add(p, 'domains', domain, e.seq);
    }
    return e;
  }

  learnDNS(e) {
    for (const r of e.records || []) {
      const [name, , , type, data] = r.split('\t');
      if ((type === 'A' || type === 'AAAA') && data && !this.dnsNames.has(data)) this.dnsNames.set(data, unqualify(name));
      if (type === 'MX' && data) {
        const target = unqualify(data.split(' ').pop());
        if (target && !this.mxDomains.has(target)) this.mxDomains.set(target, unqualify(name));
      }
    }
    // Implicit MX (RFC 5321 §5.1): the domain's own address.
    const q = /^(\S+) IN (?:A|AAAA)$/.exec(e.text || '');
    if (q) {
      const n = unqualify(q[1]);
      if (!this.mxDomains.has(n)) this.mxDomains.set(n, n);
    }
  }

  // peer returns the card of an address, making it when it is new.
  peer(ip, seq) {
    let p = this.byIP.get(ip);
    if (p) return p;
    if (this.byName.size >= MAX_PEERS) {
      p = this.byName.get(OTHERS);
      if (!p) {
        p = this.make(OTHERS, seq);
        p.label = OTHERS;
      }
      if (p.addrs.length < 3) p.addrs.push(ip);
      else if (p.addrs.length === 3) p.addrs.push('…');
    } else {
      let name = this.dnsNames.get(ip) || ip;
      if (name === this.host || this.byName.has(name)) name = ip;
      p = this.make(name, seq);
      p.addrs.push(ip);
    }
    this.byIP.set(ip, p);
    return p;
  }

  make(name, seq) {
    const p = {
      name, addrs: [], roles: [], domains: [], ports: [], udp_ports: [], links: [], hello: '', since: seq,
    };
    this.byName.set(name, p);
    this.touch(seq);
    return p;
  }

  add(p, field, value, seq) {
    if (p[field].includes(value)) return;
    p[field].push(value);
    if (field.endsWith('ports')) p[field].sort((a, b) => a - b);
    this.touch(seq);
  }

  touch(seq) {
    if (!this.changed) this.changed = seq || 1;
  }

  // hosts returns the cards of the peers, as state() has hosts.
  hosts() {
    return [...this.byName.values()].map((p) => ({
      name: p.name,
      label: p.label || (p.name !== p.addrs[0] ? '' : p.hello || ROLE_LABELS[p.roles[0]] || ''),
      addrs: p.addrs.slice(),
      roles: p.roles.slice(),
      domains: p.domains.slice(0, 1),
      ports: p.ports.slice(),
      udp_ports: p.udp_ports.slice(),
      queue: [],
      mailboxes: [],
      links: p.links.map((label) => ({ to: this.host, label })),
      seen: p.since,
    }));
  }
}

// badgeWidth is how wide topology.js draws a badge of text.
const badgeWidth = (text, icon) => text.length * 7 + (icon ? 28 : 12) + 5;

// LiveClient follows a server's live view. It has the calls of the JS API
// the views make; the others reject with a clear message.
class LiveClient {
  constructor(base) {
    this.base = base;
    this.world = 1; // a new run of the server is a new world
    this.playing = true;
    this.speedX = 1;
    this.infos = []; // recent /state answers, oldest first
    this.events = []; // every event received, for trace()
    this.last = 0; // seq of the last event received
    this.out = []; // events not yet handed to the subscribers
    this.batchSubs = new Set();
    this.eventSubs = new Set();
    this.stateSubs = new Set();
    this.statusSubs = new Set();
    this.labelSubs = new Set();
    this.envelopes = new Map(); // conn → the envelope and subject of its message
    this.labels = new Map(); // msg → "subject — from → to", for the timeline
    this.status = 'connecting';
    this.retryIn = 500;
    this.ready = this.start();
  }

  url(p) {
    return new URL(p, this.base);
  }

  async fetchInfo() {
    const resp = await fetch(this.url('state'), { cache: 'no-store' });
    if (!resp.ok) throw new Error(`GET state: HTTP ${resp.status}: is this page served by mailhop serve --ui?`);
    const info = await resp.json();
    info.queue = info.queue || [];
    info.mailboxes = info.mailboxes || {};
    info.listeners = info.listeners || {};
    setServices(info.services);
    return info;
  }

  keep(info) {
    this.info = info;
    this.infos.push(info);
    if (this.infos.length > 32) this.infos.shift();
  }

  async start() {
    const info = await this.fetchInfo();
    this.boot = info.boot;
    this.peers = new Peers(info);
    this.keep(info);
    this.follow(Math.max(0, info.seq - HISTORY));
    // The first picture has every host of the past shown: wait (a
    // moment at most) for the events up to the state.
    const until = performance.now() + 3000;
    while (this.last < info.seq && performance.now() < until) {
      await new Promise((r) => { setTimeout(r, 25); });
    }
  }

  // follow opens the stream of events after seq after.
  follow(after) {
    if (this.source) this.source.close();
    const es = new EventSource(this.url(`events?after=${after}`));
    this.source = es;
    es.onopen = () => {
      this.retryIn = 500;
      this.setStatus('connected');
    };
    es.onmessage = (m) => {
      let e;
      try {
        e = JSON.parse(m.data);
      } catch (err) {
        return;
      }
      if (e.seq <= this.last) return;
      this.last = e.seq;
      this.events.push(this.peers.see(e));
      this.learnMessage(e);
      if (this.events.length > 200000) this.events.splice(0, 10000);
      this.out.push(e);
      if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), 20);
    };
    es.onerror = () => {
      // The browser would resume by itself, but not notice a restarted
      // server: reconnect by hand.
      es.close();
      if (this.source !== es) return;
      this.source = null;
      this.setStatus('reconnecting');
      setTimeout(() => this.reconnect(), this.retryIn);
      this.retryIn = Math.min(this.retryIn * 2, 10000);
    };
  }

  async reconnect() {
    let info;
    try {
      info = await this.fetchInfo();
    } catch (err) {
      setTimeout(() => this.reconnect(), this.retryIn);
      this.retryIn = Math.min(this.retryIn * 2, 10000);
      return;
    }
    let after = this.last;
    if (info.boot !== this.boot) {
      // Another run of the server: its trace starts again at 1.
      this.flush();
      this.boot = info.boot;
      this.world += 1;
      this.peers = new Peers(info);
      this.infos = [];
      this.events = [];
      this.last = 0;
      after = Math.max(0, info.seq - HISTORY);
      announce(`${info.hostname} was restarted: the view starts afresh`);
    }
    this.keep(info);
    this.push();
    this.follow(after);
  }

  // learnMessage names a message after its subject and envelope, as the
  // wire showed them, for the timeline's Message filter.
  learnMessage(e) {
    const addr = (t) => (/<([^>]*)>/.exec(t) || [])[1] || '';
    if (e.kind === 'wire' && e.dir === 'send' && e.conn) {
      const t = e.text || '';
      let env = this.envelopes.get(e.conn);
      if (/^MAIL FROM:/i.test(t)) this.envelopes.set(e.conn, { from: addr(t), to: [], subject: '' });
      else if (env && /^RCPT TO:/i.test(t)) env.to.push(addr(t));
      else if (env && t.includes('\n')) {
        const m = /^Subject:[ \t]*(.*)$/mi.exec(t.split('\n\n')[0]);
        if (m) env.subject = m[1];
      }
    } else if (e.kind === 'hop' && e.action === 'received' && e.msg && e.conn && !this.labels.has(e.msg)) {
      const env = this.envelopes.get(e.conn);
      if (!env) return;
      const label = `${env.subject || '(no subject)'} — ${env.from || '<>'} → ${env.to.join(', ')}`;
      this.labels.set(e.msg, label);
      if (this.labels.size > 5000) this.labels.delete(this.labels.keys().next().value);
      for (const cb of this.labelSubs) cb(e.msg, label);
    } else if (e.kind === 'conn' && e.action === 'close') {
      this.envelopes.delete(e.conn);
    }
  }

  setStatus(s) {
    if (s === this.status) return;
    this.status = s;
    for (const cb of this.statusSubs) cb(s);
  }

  // flush hands the events received to the views, after the state that
  // has the cards they need.
  flush() {
    clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.peers.changed) this.push();
    if (!this.batchSubs.size && !this.eventSubs.size) return;
    const events = this.out;
    this.out = [];
    if (!events.length) return;
    for (const cb of this.batchSubs) cb(events, this.world);
    if (this.eventSubs.size) for (const e of events) for (const cb of this.eventSubs) cb(e);
  }

  // push sends the views a state with the hosts seen so far. Its
  // counts are those of the newest state read before the first new host
  // showed up, so that the model shows them no earlier than the events
  // that made them.
  push() {
    if (!this.info) return;
    const before = (this.peers.changed || Infinity) - 1;
    let info = this.infos[0];
    for (const i of this.infos) if (i.seq <= before) info = i;
    this.peers.changed = 0;
    const st = this.snapshot(info);
    for (const cb of this.stateSubs) cb(st);
  }

  snapshot(info) {
    const listeners = Object.entries(info.listeners);
    const roles = new Set(listeners.map(([name]) => LISTENER_ROLES[name]).filter(Boolean));
    roles.add('mda'); // it files mail into its mailboxes
    const uniq = (xs) => [...new Set(xs)];
    const server = {
      name: info.hostname,
      addrs: uniq(listeners.map(([, a]) => ipOf(a))),
      ports: uniq(listeners.map(([, a]) => portOf(a))).sort((a, b) => a - b),
      udp_ports: [],
      roles: [...roles],
      domains: (info.domains || []).slice(0, 1),
      queue: info.queue,
      mailboxes: this.cardMailboxes(info),
      links: [],
    };
    return {
      world: this.world,
      seq: info.seq,
      name: info.hostname,
      description: `live view of ${info.hostname}`,
      hosts: [server, ...this.peers.hosts()],
      users: [],
      faults: [],
      clock: this.clockNow(),
      live: info,
    };
  }

  // cardMailboxes picks the mailboxes the server's card has room for:
  // those mail was last filed in, then the fullest.
  cardMailboxes(info) {
    const counts = new Map();
    for (const [key, c] of Object.entries(info.mailboxes)) {
      const [user, mailbox] = key.split('/');
      if (mailbox === 'INBOX') counts.set(user, c.messages || 0);
    }
    const order = [...this.peers.recent.filter((u) => counts.has(u)),
      ...[...counts.keys()].sort((a, b) => counts.get(b) - counts.get(a) || a.localeCompare(b))];
    let room = 184 - 20 - badgeWidth(`queue ${info.queue.length}`, false);
    const out = [];
    for (const user of new Set(order)) {
      const n = counts.get(user);
      if (!n && !this.peers.recent.includes(user)) continue;
      const w = badgeWidth(`${user.split('@')[0]} ${n}0`, true); // room for a digit more
      if (out.length && w > room) break;
      room -= w;
      out.push({ user, mailbox: 'INBOX', count: n, messages: [] });
      if (out.length === 2) break;
    }
    return out;
  }

  clockNow() {
    return { time: new Date().toISOString(), playing: this.playing, speed: this.speedX, next: null, retry: null };
  }

  // --- the JS API, as far as it makes sense live ---

  async state() {
    const info = await this.fetchInfo();
    if (info.boot !== this.boot) return { ...this.snapshot(info), world: this.world + 1 };
    this.keep(info);
    return this.snapshot(info);
  }

  // onEvents hands the events received so far (the past, when the page
  // opens) at once, then each batch as it comes.
  onEvents(cb) {
    this.batchSubs.add(cb);
    if (this.out.length) this.flush();
    return () => this.batchSubs.delete(cb);
  }

  onEvent(cb) {
    this.eventSubs.add(cb);
    return () => this.eventSubs.delete(cb);
  }

  // onState: states sent unasked, when a host shows up on the wire or
  // the server was restarted.
  onState(cb) {
    this.stateSubs.add(cb);
    return () => this.stateSubs.delete(cb);
  }

  onStatus(cb) {
    this.statusSubs.add(cb);
    return () => this.statusSubs.delete(cb);
  }

  // onLabel: the name of each message, those known first.
  onLabel(cb) {
    this.labelSubs.add(cb);
    for (const [msg, label] of this.labels) cb(msg, label);
    return () => this.labelSubs.delete(cb);
  }
}

const LIVE_ONLY = 'this page watches a real server';

// connectLive returns the live client of the server that served the page
// at base, as globalThis.mailhop.
export function connectLive(base) {
  const c = new LiveClient(base);
  const no = (what) => () => Promise.reject(new Error(`${what}: ${LIVE_ONLY}; the playground (mailhop play) has it`));
  const clock = () => Promise.resolve(c.clockNow());
  const api = {
    live: true,
    ready: c.ready,
    client: c,
    state: () => c.state(),
    clock,
    worlds: () => Promise.resolve([]),
    explanations: () => Promise.resolve([]), // the server notes each line itself
    trace: () => Promise.resolve(c.events.slice()),
    onEvents: (cb) => c.onEvents(cb),
    onEvent: (cb) => c.onEvent(cb),
    onState: (cb) => c.onState(cb),
    onStatus: (cb) => c.onStatus(cb),
    // Pause, step and speed hold back or hurry the showing of events;
    // the server goes on at its own pace.
    play: () => { c.playing = true; return clock(); },
    pause: () => { c.playing = false; return clock(); },
    step: () => Promise.resolve(null), // nothing scheduled to move to: events come as they happen
    speed: (x) => { c.speedX = Number(x) || 1; return clock(); },
    advance: no('the clock is real'),
    load: no('other worlds'),
    reset: no('reset'),
    connect: no('terminals into the simulated network'),
    send: no('compose'),
    fault: no('faults'),
    message: no('reading a message'),
  };
  return api;
}

// chrome turns the playground's page into the live view: the header says
// what is watched, and what makes no sense live goes.
function chrome(info, api) {
  document.body.classList.add('is-live');
  document.title = `mailhop — live: ${info.hostname}`;
  const dot = h('span', { class: 'live-dot', 'aria-hidden': 'true' });
  const status = h('span', { id: 'live-status', class: 'live-status', role: 'status' }, 'connected');
  const world = $('.brand .world');
  world.title = 'This page shows a real mail server: every connection and protocol line, as it happens';
  clear(world).append(h('span', { id: 'live-what' }, dot, `live view of ${info.hostname} — watching real traffic`), ' ', status);
  api.onStatus((s) => {
    status.textContent = s === 'connected' ? 'connected' : 'reconnecting…';
    document.body.classList.toggle('is-offline', s !== 'connected');
  });
  for (const sel of ['.advance', '#reset', '.clock-box', '#copy-link']) $(sel).hidden = true;
  $('#play').title = 'Pause or go on showing events; the server does not wait: what happens meanwhile is shown after (key k)';
  $('#step').title = 'Show the next event that is waiting (key .)';
  $('#speed').title = 'How fast events are shown; the server runs at its own pace';
  $('#catchup').title = 'Show every event that is waiting, without animation';
  $('.controls').setAttribute('aria-label', 'Showing events');
  // Tools: the server and its mailboxes, and the details of an event.
  for (const id of ['lessons', 'terminal', 'compose', 'message']) {
    $(`#tab-${id}`).remove();
    $(`#panel-${id}`).remove();
  }
  const tab = $('#tab-world');
  tab.textContent = 'Server';
  tab.parentElement.prepend(tab);
}

// bootLive starts the live view.
export async function bootLive() {
  const bootEl = $('#boot');
  const bootText = $('#boot-text');
  bootText.textContent = 'Connecting to the server…';
  try {
    const api = connectLive(new URL('.', globalThis.location.href));
    globalThis.mailhop = api;
    await api.ready;
    const info = api.client.info;
    chrome(info, api);
    const model = new Model(api);
    const selectTab = tabs($('#panel-tabs'));
    let timeline;
    const notHere = (what) => () => announce(`${what}: ${LIVE_ONLY}`);
    const projector = new Projector();
    const actions = {
      toggleProjector: () => projector.toggle(),
      openMessage: null, // the page can not read mailboxes
      showTab: () => {},
      showDetail: () => selectTab('tab-detail'),
      detailRoot: $('#panel-detail'),
      followMessage: (msg) => {
        timeline.setFilter({ msg });
        timeline.list.focus();
      },
      labelMessage: (msg, label) => timeline.labelMessage(msg, label),
      showEvent: (seq) => timeline.selectSeq(seq),
      showTranscript: (seq) => timeline.selectSeq(seq),
      reset: notHere('Reset'),
      load: notHere('Other worlds'),
    };
    const topology = new Topology($('#topology svg'), model);
    timeline = new Timeline($('#timeline'), model, actions);
    api.client.onLabel((msg, label) => timeline.labelMessage(msg, label));
    timeline.empty.textContent = `Nothing has happened yet. Send mail through ${info.hostname}, or read it: every connection shows here as it happens.`;
    const server = new ServerPanel($('#panel-world'), model, api);
    const mailboxes = new LiveMailboxes($('#panel-mailboxes'), model);
    const controls = new Controls(model, actions);
    const stepBar = new StepBar(model, controls);
    // Downloads come from the server itself: the transcript and the
    // trace of what it has carried (no capture of the real traffic).
    const base = new URL('.', globalThis.location.href);
    const name = `mailhop-live-${slug(info.hostname)}`;
    const exportMenu = new ExportMenu([
      {
        id: 'ex-transcript', label: 'Transcript (.txt)', hint: 'every protocol line, C: and S:, as text',
        href: new URL('export/transcript.txt', base).href, download: `${name}.txt`,
      },
      {
        id: 'ex-trace', label: 'Trace (.jsonl)', hint: 'every event, one JSON object a line',
        href: new URL('export/trace.jsonl', base).href, download: `${name}.jsonl`,
      },
    ]);
    $('#export-btn').title = `Download what ${info.hostname} has carried: the transcript, the trace`;
    await model.start();
    // What happened before the page opened is shown at once; only what
    // happens from now on is animated.
    model.catchUp();
    controls.showPlaying();
    selectTab('tab-world');
    globalThis.mailhopUI = {
      model, topology, timeline, mailboxes, server, controls, selectTab, live: api.client, stepBar, projector, exportMenu,
    };
    bootEl.hidden = true;
    document.body.dataset.ready = 'true';
  } catch (err) {
    bootEl.classList.add('failed');
    bootText.textContent = `The live view could not connect to the server: ${err.message}`;
    document.body.dataset.ready = 'failed';
    throw err;
  }
}

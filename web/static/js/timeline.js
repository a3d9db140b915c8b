// The timeline: every revealed trace event in order, like a packet
// capture; filters by message, connection and protocol; details of the
// selected event, with DNS shown as dig shows it and a connection's whole
// transcript. The list is virtual: only the rows in view exist, so a
// hundred thousand events cost no more than fifty.
import { h, clear, newId } from './dom.js';
import {
  clockTime, ends, kindLabel, summary, protoOf, splitNote, PROTO_NAMES, shortMsg,
} from './format.js';

export class Timeline {
  constructor(root, model, actions) {
    this.root = root;
    this.model = model;
    this.actions = actions; // {openMessage(user, uid), showTab(name)}
    this.rows = [];
    this.active = -1; // index in rows
    this.filter = { msg: '', conn: '', proto: '', lines: true };
    this.follow = true;
    this.msgs = new Map(); // msg → label
    this.msgConns = new Map(); // msg → Set(conn)
    this.conns = new Map(); // conn → label
    this.protos = new Set();
    this.subjects = new Map();
    this.rendered = new Map();
    this.pendingRender = false;
    this.build();
    model.addEventListener('reveal', (e) => this.add(e.detail.events));
    model.addEventListener('world', () => this.resetAll());
    model.addEventListener('cursor', (e) => this.atCursor(e.detail));
    this.cursorSeq = null; // rewound: the seq shown; later rows are the future
  }

  // atCursor follows the page rewound (or back at the present): the row
  // of the moment shown is selected, the rows after it are dimmed.
  atCursor(pos) {
    if (pos.live) {
      this.cursorSeq = null;
      if (this.rewoundFollow) {
        this.rewoundFollow = false;
        this.follow = true;
        this.chkFollow.checked = true;
        this.scrollToEnd();
      }
      this.render();
      return;
    }
    if (this.cursorSeq === null && this.follow) this.rewoundFollow = true;
    this.cursorSeq = pos.seq;
    this.follow = false;
    this.chkFollow.checked = false;
    let i = -1;
    for (let j = this.rows.length - 1; j >= 0; j--) {
      if (this.rows[j].seq <= pos.seq) { i = j; break; }
    }
    this.active = i;
    if (i >= 0) {
      // The moment in the middle: what led to it above, what follows below.
      const rh = this.rowHeight();
      const top = i * rh;
      if (top < this.list.scrollTop || top + rh > this.list.scrollTop + this.list.clientHeight) {
        this.list.scrollTop = Math.max(0, top - (this.list.clientHeight - rh) / 2);
      }
    }
    this.render();
  }

  build() {
    const r = this.root;
    this.selMsg = h('select', { id: 'f-msg', onchange: () => this.setFilter({ msg: this.selMsg.value }) },
      h('option', { value: '' }, 'every message'));
    this.selConn = h('select', { id: 'f-conn', onchange: () => this.setFilter({ conn: this.selConn.value }) },
      h('option', { value: '' }, 'every connection'));
    this.selProto = h('select', { id: 'f-proto', onchange: () => this.setFilter({ proto: this.selProto.value }) },
      h('option', { value: '' }, 'every protocol'));
    this.chkLines = h('input', { type: 'checkbox', id: 'f-lines', checked: true, onchange: () => this.setFilter({ lines: this.chkLines.checked }) });
    this.chkFollow = h('input', { type: 'checkbox', id: 'f-follow', checked: true, onchange: () => { this.follow = this.chkFollow.checked; if (this.follow) this.scrollToEnd(); } });
    this.count = h('span', { class: 'tl-count', 'aria-live': 'off' });
    const clearBtn = h('button', { type: 'button', class: 'small', onclick: () => this.setFilter({ msg: '', conn: '', proto: '' }) }, 'Clear filters');
    r.append(
      h('div', { class: 'pane-head' },
        h('h2', { id: 'tl-h' }, 'Timeline'),
        this.count,
        h('div', { class: 'filters', role: 'group', 'aria-label': 'Filter the timeline' },
          h('label', { for: 'f-msg' }, 'Message'), this.selMsg,
          h('label', { for: 'f-conn' }, 'Connection'), this.selConn,
          h('label', { for: 'f-proto' }, 'Protocol'), this.selProto,
          h('span', { class: 'check' }, this.chkLines, h('label', { for: 'f-lines' }, 'protocol lines')),
          h('span', { class: 'check' }, this.chkFollow, h('label', { for: 'f-follow' }, 'follow')),
          clearBtn)),
      h('div', { class: 'tl-row tl-head', 'aria-hidden': 'true' },
        h('span', { class: 'c-seq' }, '#'), h('span', { class: 'c-time' }, 'time'), h('span', { class: 'c-kind' }, 'kind'),
        h('span', { class: 'c-ends' }, 'from → to'), h('span', { class: 'c-conn' }, 'conn'), h('span', { class: 'c-text' }, 'what')));
    this.list = h('div', {
      id: 'tl-list', class: 'tl-list', role: 'listbox', tabindex: 0, 'aria-label': 'Trace events, oldest first',
      onkeydown: (e) => this.key(e), onscroll: () => this.scrolled(),
    });
    this.spacer = h('div', { class: 'tl-spacer' });
    this.empty = h('p', { class: 'tl-empty' }, 'Nothing has happened yet. Send a message (Compose) or open a terminal.');
    // The list holds options only (an empty listbox says nothing): the
    // "nothing yet" line stands beside it.
    this.list.append(this.spacer);
    this.list.addEventListener('click', (e) => {
      const row = e.target.closest('[role="option"]');
      if (row) this.select(Number(row.dataset.index), true);
    });
    this.detail = h('section', { class: 'tl-detail', id: 'tl-detail', hidden: true, 'aria-label': 'Event details' });
    this.noDetail = h('p', { class: 'muted' }, 'Pick an event in the timeline (click it, or Enter on it) to see it whole: a DNS answer as dig shows it, a connection’s transcript.');
    r.append(this.empty, this.list);
    this.actions.detailRoot.append(this.noDetail, this.detail);
    new ResizeObserver(() => this.render()).observe(this.list);
  }

  rowHeight() {
    if (!this.rowH) this.rowH = parseFloat(getComputedStyle(this.list).getPropertyValue('--row-h')) || 26;
    return this.rowH;
  }

  resetAll() {
    this.rows = [];
    this.active = -1;
    this.msgs.clear();
    this.msgConns.clear();
    this.conns.clear();
    this.protos.clear();
    for (const sel of [this.selMsg, this.selConn, this.selProto]) {
      while (sel.options.length > 1) sel.remove(1);
    }
    this.filter = { ...this.filter, msg: '', conn: '', proto: '' };
    this.detail.hidden = true;
    this.noDetail.hidden = false;
    this.render();
  }

  // labelMessage names a message in the filter (the compose form knows
  // its subject).
  labelMessage(msg, label) {
    this.subjects.set(msg, label);
    const opt = [...this.selMsg.options].find((o) => o.value === msg);
    if (opt) opt.textContent = label;
  }

  add(events) {
    let grew = false;
    for (const e of events) {
      this.learn(e);
      if (this.match(e)) {
        this.rows.push(e);
        grew = true;
      }
    }
    if (this.model.dropped && this.rows.length && this.rows[0].seq < this.model.events[0].seq) {
      this.refilter();
    }
    if (grew || !this.rows.length) this.schedule();
  }

  // learn fills the filter menus.
  learn(e) {
    if (e.msg && !this.msgs.has(e.msg)) {
      this.msgs.set(e.msg, true);
      this.selMsg.append(h('option', { value: e.msg }, this.subjects.get(e.msg) || shortMsg(e.msg)));
      trim(this.selMsg, this.filter.msg);
    }
    if (e.msg && e.conn) {
      if (!this.msgConns.has(e.msg)) this.msgConns.set(e.msg, new Set());
      this.msgConns.get(e.msg).add(e.conn);
    }
    if (e.kind === 'conn' && e.action === 'open' && e.conn && !this.conns.has(e.conn)) {
      const label = `${e.conn}: ${e.host} → ${e.peer}:${e.port} ${PROTO_NAMES[e.proto] || e.proto || ''}`;
      this.conns.set(e.conn, label);
      this.selConn.append(h('option', { value: e.conn }, label));
      trim(this.selConn, this.filter.conn);
    }
    const p = protoOf(e);
    if (p && !this.protos.has(p)) {
      this.protos.add(p);
      this.selProto.append(h('option', { value: p }, PROTO_NAMES[p] || p));
    }
  }

  match(e) {
    const f = this.filter;
    if (!f.lines && (e.kind === 'wire' || e.kind === 'packet')) return false;
    if (f.conn && e.conn !== f.conn) return false;
    if (f.proto && protoOf(e) !== f.proto) return false;
    if (f.msg && e.msg !== f.msg) {
      const conns = this.msgConns.get(f.msg);
      if (!e.conn || !conns || !conns.has(e.conn)) return false;
    }
    return true;
  }

  setFilter(f) {
    this.filter = { ...this.filter, ...f };
    this.selMsg.value = this.filter.msg;
    this.selConn.value = this.filter.conn;
    this.selProto.value = this.filter.proto;
    this.chkLines.checked = this.filter.lines;
    this.refilter();
  }

  refilter() {
    const keep = this.active >= 0 ? this.rows[this.active] : null;
    this.rows = this.model.events.filter((e) => this.match(e));
    this.active = keep ? this.rows.indexOf(keep) : -1;
    this.rendered.clear();
    clear(this.spacer);
    this.render();
    if (this.active >= 0) this.scrollTo(this.active);
    else if (this.follow) this.scrollToEnd();
  }

  schedule() {
    if (this.pendingRender) return;
    this.pendingRender = true;
    requestAnimationFrame(() => {
      this.pendingRender = false;
      this.render();
      if (this.follow) this.scrollToEnd();
    });
  }

  scrollToEnd() {
    this.autoScroll = true;
    this.list.scrollTop = this.list.scrollHeight;
  }

  scrolled() {
    if (this.autoScroll) {
      this.autoScroll = false;
    } else {
      const atEnd = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - this.rowHeight();
      // Rewound, the list shows the past: nothing to follow.
      if (this.follow !== atEnd && !this.model.cursor) {
        this.follow = atEnd;
        this.chkFollow.checked = atEnd;
      }
    }
    this.render();
  }

  // render draws the rows in view (and a few around them).
  render() {
    const rh = this.rowHeight();
    const n = this.rows.length;
    this.spacer.style.height = `${n * rh}px`;
    this.empty.hidden = n > 0;
    const total = this.model.events.length + this.model.dropped;
    this.count.textContent = n === total ? `${n} events` : `${n} of ${total} events`;
    const top = this.list.scrollTop;
    const first = Math.max(0, Math.floor(top / rh) - 8);
    const last = Math.min(n, Math.ceil((top + this.list.clientHeight) / rh) + 8);
    const want = new Set();
    for (let i = first; i < last; i++) want.add(i);
    for (const [i, el] of this.rendered) {
      if (!want.has(i) || this.rows[i] !== el.ev) {
        el.remove();
        this.rendered.delete(i);
      }
    }
    for (let i = first; i < last; i++) {
      if (this.rendered.has(i)) {
        const el = this.rendered.get(i);
        el.setAttribute('aria-selected', String(i === this.active));
        this.mark(el);
        continue;
      }
      const el = this.row(this.rows[i], i);
      this.mark(el);
      el.style.transform = `translateY(${i * rh}px)`;
      this.spacer.append(el);
      this.rendered.set(i, el);
    }
    if (this.active >= 0 && this.active < n) this.list.setAttribute('aria-activedescendant', `ev-${this.rows[this.active].seq}`);
    else this.list.removeAttribute('aria-activedescendant');
  }

  // mark dims a row that is in the future of the moment shown.
  mark(el) {
    const c = this.cursorSeq;
    el.classList.toggle('is-future', c !== null && el.ev.seq > c);
    el.classList.toggle('is-cursor', c !== null && el.ev.seq === c);
  }

  row(e, i) {
    const [from, to] = ends(e);
    const el = h('div', {
      class: `tl-row k-${e.kind}${e.dir ? ` d-${e.dir}` : ''}${e.action ? ` a-${e.action}` : ''}`,
      role: 'option', id: `ev-${e.seq}`, 'aria-selected': String(i === this.active),
      'aria-posinset': i + 1, 'aria-setsize': this.rows.length,
      dataset: { index: i, kind: e.kind, action: e.action || '', seq: e.seq },
    },
    h('span', { class: 'c-seq' }, e.seq),
    h('span', { class: 'c-time' }, clockTime(e.time)),
    h('span', { class: 'c-kind' }, kindLabel(e)),
    h('span', { class: 'c-ends' }, to ? `${from} → ${to}` : from),
    h('span', { class: 'c-conn' }, e.conn || ''),
    h('span', { class: 'c-text' }, e.tls && e.kind === 'wire' ? h('span', { class: 'lock', title: 'inside TLS' }, 'TLS ') : null, summary(e)));
    el.ev = e;
    return el;
  }

  key(e) {
    const n = this.rows.length;
    if (!n) return;
    const page = Math.max(1, Math.floor(this.list.clientHeight / this.rowHeight()) - 1);
    let i = this.active;
    switch (e.key) {
      case 'ArrowDown': i = Math.min(n - 1, i + 1); break;
      case 'ArrowUp': i = Math.max(0, i < 0 ? n - 1 : i - 1); break;
      case 'PageDown': i = Math.min(n - 1, i + page); break;
      case 'PageUp': i = Math.max(0, i - page); break;
      case 'Home': i = 0; break;
      case 'End': i = n - 1; break;
      case 'Enter':
      case ' ':
        if (i >= 0) this.select(i, true);
        e.preventDefault();
        return;
      case 'Escape':
        return;
      default:
        return;
    }
    e.preventDefault();
    this.select(i, false);
  }

  // select makes a row the active one; open shows its details. Paused
  // (or rewound), it also takes the page to that event: the badges,
  // mailboxes and message as they were then. Playing, the page stays at
  // the present.
  select(i, open) {
    this.active = i;
    this.follow = false;
    this.chkFollow.checked = false;
    this.scrollTo(i);
    this.render();
    const e = this.rows[i];
    if (e && (!this.model.playing || this.model.cursor) && this.model.seek) this.model.seek(e.seq);
    if (open) this.show(e);
  }

  scrollTo(i) {
    const rh = this.rowHeight();
    const top = i * rh;
    if (top < this.list.scrollTop) this.list.scrollTop = top;
    else if (top + rh > this.list.scrollTop + this.list.clientHeight) this.list.scrollTop = top + rh - this.list.clientHeight;
  }

  selectSeq(seq) {
    let i = this.rows.findIndex((e) => e.seq === seq);
    if (i < 0) {
      this.setFilter({ msg: '', conn: '', proto: '', lines: true });
      i = this.rows.findIndex((e) => e.seq === seq);
    }
    if (i >= 0) {
      this.select(i, true);
      this.list.focus();
    }
  }

  // --- details ---

  show(e) {
    const d = clear(this.detail);
    d.hidden = false;
    this.noDetail.hidden = true;
    this.actions.showDetail();
    const close = h('button', { type: 'button', class: 'small close', 'aria-label': 'Back to the timeline', onclick: () => { this.list.focus(); } }, 'Back to the timeline');
    const title = h('h3', {}, `#${e.seq} ${kindLabel(e)} `, h('span', { class: 'muted' }, clockTime(e.time)));
    d.append(h('div', { class: 'detail-head' }, title, close));
    const buttons = h('div', { class: 'detail-actions' });
    if (e.conn) {
      buttons.append(h('button', { type: 'button', class: 'small', onclick: () => this.transcript(e.conn) }, `Transcript of ${e.conn}`),
        h('button', { type: 'button', class: 'small', onclick: () => this.setFilter({ conn: e.conn, msg: '' }) }, `Only ${e.conn}`));
    }
    if (e.msg) {
      buttons.append(h('button', { type: 'button', class: 'small', onclick: () => this.setFilter({ msg: e.msg, conn: '' }) }, 'Only this message'));
    }
    if (e.kind === 'deliver') {
      const m = /UID (\d+)/.exec(e.text || '');
      const [user, mailbox] = (e.mailbox || '').split('/');
      if (m && this.actions.openMessage) buttons.append(h('button', { type: 'button', class: 'small', onclick: () => this.actions.openMessage(user, Number(m[1]), mailbox) }, 'Open the message'));
    }
    if (buttons.childElementCount) d.append(buttons);
    if (e.kind === 'dns') d.append(this.dig(e));
    if (e.note) d.append(noteBlock(e.note));
    const dl = h('dl', { class: 'fields' });
    for (const k of ['kind', 'action', 'host', 'peer', 'port', 'conn', 'proto', 'dir', 'tls', 'msg', 'mailbox', 'next']) {
      if (e[k] !== undefined && e[k] !== '' && e[k] !== false) dl.append(h('dt', {}, k), h('dd', {}, String(e[k])));
    }
    d.append(dl);
    if (e.text && e.kind !== 'dns') d.append(h('pre', { class: 'text' }, e.text));
    if (e.kind === 'hop' && e.conn) this.transcript(e.conn, true);
  }

  // dig renders a DNS query and its answer as dig prints them.
  dig(e) {
    let q = e;
    let a = e;
    const events = this.model.events;
    const at = events.indexOf(e);
    if (e.action !== 'query') {
      for (let i = at - 1; i >= 0 && i > at - 400; i--) {
        const x = events[i];
        if (x.kind === 'dns' && x.action === 'query' && x.host === e.host && x.peer === e.peer) { q = x; break; }
      }
    } else {
      a = null;
      for (let i = at + 1; i < events.length && i < at + 400; i++) {
        const x = events[i];
        if (x.kind === 'dns' && x.action !== 'query' && x.host === e.host && x.peer === e.peer) { a = x; break; }
      }
    }
    const [name, , type] = (q.text || '').split(' ');
    const port = e.port && e.port !== 53 ? e.port : 0;
    const lines = [`; <<>> as dig shows it <<>> @${e.peer || '?'}${port ? ` -p ${port}` : ''} ${name || ''} ${type || ''}`];
    if (!a) {
      lines.push(';; (no answer yet)');
    } else if (a.action === 'error') {
      lines.push(`;; ${a.text}`);
    } else {
      const status = (a.text || '').split(',')[0];
      const records = a.records || [];
      const noAnswer = /\b0 answers?\b/.test(a.text || '');
      lines.push(`;; ->>HEADER<<- opcode: QUERY, status: ${status}`,
        `;; flags: qr aa rd; QUERY: 1, ANSWER: ${noAnswer ? 0 : records.length}, AUTHORITY: ${noAnswer ? records.length : 0}`,
        '', ';; QUESTION SECTION:', `;${name}\t\t\tIN\t${type}`, '');
      if (records.length) lines.push(noAnswer ? ';; AUTHORITY SECTION:' : ';; ANSWER SECTION:', ...records, '');
      lines.push(`;; SERVER: ${e.peer}#${port || 53}`, `;; WHEN: ${a.time}`);
    }
    return h('pre', { class: 'dig', 'aria-label': 'The query and its answer, as dig prints them' }, lines.join('\n'));
  }

  // transcript shows every line of a connection, C: and S:, with notes.
  transcript(conn, below) {
    let box = this.detail.querySelector('.transcript');
    if (!box) {
      box = h('section', { class: 'transcript', 'aria-label': `Transcript of ${conn}` });
      this.detail.append(box);
    }
    clear(box);
    const open = this.model.events.find((e) => e.kind === 'conn' && e.conn === conn && e.action === 'open');
    box.append(h('h4', {}, `Transcript of ${conn}`, open ? `: ${open.host} → ${open.peer}:${open.port} (${PROTO_NAMES[open.proto] || open.proto})` : ''));
    const ol = h('ol', { class: 'lines' });
    for (const e of this.model.events) {
      if (e.conn !== conn) continue;
      if (e.kind === 'wire') {
        const { text, rfc } = splitNote(e.note);
        ol.append(h('li', { class: `line ${e.dir}` },
          h('span', { class: 'who' }, `${e.tls ? 'TLS ' : ''}${e.dir === 'recv' ? 'S:' : 'C:'}`),
          h('span', { class: 'text' }, e.text),
          text ? h('span', { class: 'note' }, text, rfc ? h('cite', {}, rfc) : null) : null));
      } else {
        ol.append(h('li', { class: 'line info' }, h('span', { class: 'who' }, '—'), h('span', { class: 'text' }, `${kindLabel(e)}: ${summary(e)}`)));
      }
    }
    box.append(ol);
    if (!below) box.scrollIntoView({ block: 'nearest' });
  }
}

// MENU is how many messages or connections a filter menu offers: the
// newest ones (a menu of thousands helps nobody).
const MENU = 150;

function trim(sel, keep) {
  while (sel.options.length > MENU + 1) {
    const o = sel.options[1];
    if (o.value === keep) break;
    o.remove();
  }
}

export function noteBlock(note) {
  const { text, rfc } = splitNote(note);
  return h('p', { class: 'note-block', id: newId('note') }, text, rfc ? h('cite', {}, rfc) : null);
}

// The topology: every host of the world as a card (roles, address, open
// ports, queue and mailbox badges), the links between them, and the
// traffic animated along the links as the model reveals trace events:
// protocol lines as small marks (filled: client to server; hollow: server
// to client; square: inside TLS), DNS questions and answers, and the
// message itself as an envelope when its DATA crosses a link.
import { s, clear } from './dom.js';
import { shortTime, servicesOf } from './format.js';

const W = 184; // card
const H = 112;
const GAP = 44;
const GROUP_GAP = 64;
const TOP = 40; // room for the domain labels and arcs
const DROP = 62; // how much lower the hosts between the domains sit
const CAPTION = 22;

// A world of more than COMPACT hosts is drawn compact: each domain a
// column of small cards (name, address, main role, counts), no caption
// under each host but one line for the latest, and links drawn only as
// traffic crosses them, so that fifty hosts fit the panel and stay
// readable.
export const COMPACT = 12;
const CW = 128; // compact card
const CH = 30;
const CGAP = 4; // between two cards of a column
const CCOL = 8; // between two columns of a frame
const CPAD = 5; // inside a frame
const CLABEL = 22; // the frame's label
const CFGAP = 8; // between frames
const TICKER = 24; // the line of the latest caption

// ports: "587, 465", the ports of a role's services (the state's table).
function ports(role) {
  return servicesOf(role).map((s) => s.port).join(', ');
}

// The role chips, with what each role does; their ports come from the
// services table the state sends.
const ROLE_CHIPS = [
  ['mua', 'MUA', () => 'mail user agent: the person’s mail program'],
  ['msa', 'MSA', () => `mail submission agent: takes mail from its users (port ${ports('msa')}, login required)`],
  ['mta', 'MTA', () => `mail transfer agent: queues mail and relays it to other domains; as MX, receives their mail (port ${ports('mx')})`],
  ['mda', 'MDA', () => `mail delivery agent: files mail into mailboxes (LMTP on port ${ports('lmtp')} when split off)`],
  ['pop3', 'POP3', () => `lets mail programs download mail (port ${ports('pop3')})`],
  ['imap', 'IMAP', () => `lets mail programs read mail on the server (port ${ports('imap')})`],
  ['dns', 'DNS', () => 'answers questions about names: where mail for a domain goes (MX), addresses (A)'],
];

function chips(h) {
  const r = new Set(h.roles);
  if (r.has('msa') || r.has('mx')) r.add('mta');
  if (r.has('lmtp')) r.add('mda');
  return ROLE_CHIPS.filter(([k]) => r.has(k));
}

function domainOf(addr) {
  return (addr || '').split('@')[1] || '';
}

// rank orders a domain's hosts from its users outwards.
function rank(h) {
  const r = h.roles;
  if (r.includes('mua')) return 0;
  if (r.includes('msa')) return 1;
  if (r.includes('mx')) return 2;
  return 3;
}

// compactRank orders a domain's hosts in a compact column: the servers
// as mail meets them, then the people's machines.
function compactRank(h) {
  const r = h.roles;
  if (r.includes('dns')) return 0;
  if (r.includes('msa')) return 1;
  if (r.includes('mx')) return 2;
  if (r.includes('mua')) return 4;
  return 3;
}

// groupIndex returns the index in domains of a host's domain: its user's
// for a user's machine, its first mail domain, or the domain its name
// ends in (ns.example.org); -1 for none.
function groupIndex(h, domains) {
  if (h.roles.includes('mua') && h.user) return domains.indexOf(domainOf(h.user));
  if ((h.domains || []).length) return domains.indexOf(h.domains[0]);
  let best = -1;
  domains.forEach((d, i) => {
    if (h.name.endsWith(`.${d}`) && (best < 0 || d.length > domains[best].length)) best = i;
  });
  return best;
}

// layout places the hosts: the sending domain on the left, the receiving
// one on the right, DNS between them (lower). mode "rows" puts each domain
// on a row of its own (DNS beside the first), for a column half a screen
// wide; "narrow" stacks the hosts two by two. The text stays readable.
export function layout(state, mode) {
  const narrow = mode === 'narrow';
  const perRow = mode === 'rows' ? 1 : 2;
  const domains = [];
  const add = (d) => { if (d && !domains.includes(d)) domains.push(d); };
  for (const u of state.users) add(domainOf(u.address));
  for (const h of state.hosts) for (const d of h.domains || []) add(d);
  const groups = domains.map(() => []);
  const middle = [];
  for (const h of state.hosts) {
    const d = groupIndex(h, domains);
    if (d < 0) middle.push(h);
    else groups[d].push(h);
  }
  if (state.hosts.length > COMPACT) return compactLayout(groups, domains, middle, mode);
  groups.forEach((g, i) => g.sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    if (i % 2 === 0) return ra - rb;
    const mirror = [3, 1, 0, 2]; // receiving side: MX, MSA, store, MUA
    return mirror[ra] - mirror[rb];
  }));
  const pos = new Map();
  const frames = [];
  let width = 0;
  let height = 0;
  if (narrow) {
    const cols = 2;
    let y = TOP;
    const place = (hosts, label) => {
      if (!hosts.length) return;
      const top = y;
      for (let i = 0; i < hosts.length; i += cols) {
        const row = hosts.slice(i, i + cols);
        const offset = (cols - row.length) * (W + GAP) / 2;
        row.forEach((h, j) => pos.set(h.name, { x: 12 + offset + j * (W + GAP), y }));
        y += H + CAPTION + 14;
      }
      if (label) frames.push({ label, x: 4, y: top - 24, w: cols * (W + GAP) - GAP + 16, h: y - top + 10 });
      y += label ? 30 : 0;
    };
    groups.forEach((g, i) => {
      place(g, domains[i]);
      if (i === 0) place(middle, '');
    });
    if (!groups.length) place(middle, '');
    width = cols * (W + GAP) - GAP + 24;
    height = y;
  } else {
    let y = TOP;
    for (let r = 0; r * perRow < Math.max(groups.length, 1); r++) {
      const left = groups[r * perRow] || [];
      const right = perRow === 2 ? groups[r * 2 + 1] || [] : [];
      const mid = r === 0 ? middle : [];
      let x = 12;
      const frame = (hosts, label) => {
        if (!hosts.length) return;
        const x0 = x;
        for (const h of hosts) {
          pos.set(h.name, { x, y });
          x += W + GAP;
        }
        frames.push({ label, x: x0 - 8, y: y - 24, w: x - GAP - x0 + 16, h: H + CAPTION + 30 });
      };
      frame(left, domains[r * perRow]);
      x += GROUP_GAP - GAP;
      for (const h of mid) {
        pos.set(h.name, { x, y: y + DROP });
        x += W + GAP;
      }
      if (mid.length) x += GROUP_GAP - GAP;
      frame(right, domains[r * 2 + 1]);
      width = Math.max(width, x - GAP + 12);
      y += H + CAPTION + 30 + (mid.length ? DROP - 24 : 0);
    }
    height = y - 20;
  }
  return { pos, frames, width, height };
}

// compactLayout places many hosts: each domain a frame of small cards,
// in one column (two or more for a large domain), the frames side by
// side; on a narrow screen, one frame a row, of up to three columns.
function compactLayout(groups, domains, middle, mode) {
  const sets = groups.map((hosts, i) => ({ label: domains[i], hosts })).filter((x) => x.hosts.length);
  if (middle.length) sets.push({ label: '', hosts: middle });
  for (const set of sets) set.hosts.sort((a, b) => compactRank(a) - compactRank(b));
  const most = Math.max(1, ...sets.map((x) => x.hosts.length));
  let perRow;
  let cols;
  if (mode === 'narrow') {
    // A phone: a frame a row, its hosts in up to three columns.
    perRow = 1;
    cols = Math.min(3, Math.ceil(most / 4));
  } else {
    perRow = sets.length <= 6 ? sets.length : Math.ceil(sets.length / 2);
    cols = Math.ceil(most / 12);
  }
  perRow = Math.max(perRow, 1);
  const rows = Math.ceil(most / cols);
  const fw = cols * CW + (cols - 1) * CCOL + 2 * CPAD;
  const fh = CLABEL + rows * (CH + CGAP) - CGAP + CPAD;
  const pos = new Map();
  const group = new Map();
  const frames = [];
  sets.forEach((set, i) => {
    const x = 4 + (i % perRow) * (fw + CFGAP);
    const y = 4 + Math.floor(i / perRow) * (fh + CFGAP);
    frames.push({ label: set.label, x, y, w: fw, h: fh });
    set.hosts.forEach((h, k) => {
      pos.set(h.name, { x: x + CPAD + Math.floor(k / rows) * (CW + CCOL), y: y + CLABEL + (k % rows) * (CH + CGAP) });
      group.set(h.name, set.label);
    });
  });
  const frameRows = Math.ceil(sets.length / perRow);
  const width = 8 + perRow * (fw + CFGAP) - CFGAP;
  const height = 4 + frameRows * (fh + CFGAP) - CFGAP + TICKER;
  return { pos, frames, width, height, compact: true, group, ticker: { x: 8, y: height - 8 } };
}

// links derives the world's wiring from its roles.
export function links(state) {
  const byName = new Map(state.hosts.map((h) => [h.name, h]));
  const out = new Map();
  const add = (a, b, label) => {
    if (!a || !b || a === b || !byName.has(a) || !byName.has(b)) return;
    const key = [a, b].sort().join('|');
    const l = out.get(key) || { key, a, b, labels: new Set() };
    l.labels.add(label);
    out.set(key, l);
  };
  const resolver = (h) => {
    const dns = state.hosts.filter((x) => x.roles.includes('dns'));
    const byAddr = state.hosts.find((x) => h.resolver && x.addrs.includes(h.resolver));
    return (byAddr || dns[0] || {}).name;
  };
  for (const h of state.hosts) {
    if (h.links) {
      // Wired explicitly (the live view: the links seen on the wire).
      for (const l of h.links) add(h.name, l.to, l.label);
      continue;
    }
    if (h.roles.includes('mua')) {
      if (h.msa) add(h.name, h.msa, String(servicesOf('msa')[0]?.port ?? ''));
      if (h.mailstore) add(h.name, h.mailstore, String(servicesOf('imap')[0]?.port ?? ''));
    }
    if (h.roles.includes('msa') || h.roles.includes('mx')) add(h.name, resolver(h), '53');
    if (h.lmtp) add(h.name, h.lmtp, '24');
    if (h.roles.includes('msa')) {
      for (const other of state.hosts) {
        if (other.roles.includes('mx') && !(other.domains || []).some((d) => (h.domains || []).includes(d))) {
          add(h.name, other.name, '25');
        }
      }
    }
  }
  return out;
}

// Topology draws the world into an <svg>.
export class Topology {
  constructor(svg, model) {
    this.svg = svg;
    this.model = model;
    this.narrow = false;
    this.links = new Map();
    this.cards = new Map();
    this.captions = new Map();
    this.sprites = [];
    this.hostsKey = '';
    this.reduced = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    this.animate = this.animate.bind(this);
    model.addEventListener('state', () => this.update());
    model.addEventListener('world', () => { this.hostsKey = ''; });
    model.addEventListener('reveal', (e) => this.reveal(e.detail));
    model.addEventListener('cursor', () => this.atCursor());
    const mode = () => {
      const w = this.svg.parentElement.clientWidth;
      return w < 560 ? 'narrow' : w < 1150 ? 'rows' : 'wide';
    };
    const ro = new ResizeObserver(() => {
      const narrow = mode();
      if (narrow !== this.narrow) {
        this.narrow = narrow;
        this.hostsKey = '';
        this.update();
      }
    });
    ro.observe(svg.parentElement);
    this.narrow = mode();
  }

  // update redraws the structure when the hosts change, and the badges.
  update() {
    const st = this.model.state;
    if (!st) return;
    const key = `${this.narrow}|${st.hosts.map((h) => `${h.name}:${h.label || ''}:${h.ports.join(',')}:${(h.udp_ports || []).join(',')}:${(h.links || []).map((l) => `${l.to}/${l.label}`).join(',')}:${(h.mailboxes || []).map((mb) => mb.user).join(',')}`).join(' ')}`;
    if (key !== this.hostsKey) {
      this.hostsKey = key;
      this.build(st);
    }
    this.badges();
  }

  build(st) {
    const svg = clear(this.svg);
    const lay = layout(st, this.narrow);
    this.pos = lay.pos;
    this.compact = !!lay.compact;
    this.group = lay.group || new Map();
    [this.cw, this.ch] = this.compact ? [CW, CH] : [W, H];
    svg.setAttribute('viewBox', `0 0 ${lay.width} ${lay.height}`);
    svg.classList.toggle('compact', this.compact);
    svg.append(s('defs', {},
      s('pattern', { id: 'hatch', width: 8, height: 8, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
        s('rect', { width: 8, height: 8, class: 'hatch-bg' }),
        s('line', { x1: 0, y1: 0, x2: 0, y2: 8, class: 'hatch-line' }))));
    const frames = s('g', { class: 'frames' });
    for (const f of lay.frames) {
      frames.append(s('rect', { x: f.x, y: f.y, width: f.w, height: f.h, rx: 10, class: 'frame' }),
        s('text', { x: f.x + 10, y: f.y + 16, class: 'frame-label' }, f.label));
    }
    this.linkLayer = s('g', { class: 'links' });
    this.flowLayer = s('g', { class: 'flows', 'aria-hidden': 'true' });
    this.hostLayer = s('g', { class: 'hosts' });
    this.noteLayer = s('g', { class: 'notes', 'aria-hidden': 'true' });
    // Compact, what travels goes over the cards (under them it would be
    // lost among fifty).
    if (this.compact) svg.append(frames, this.linkLayer, this.hostLayer, this.flowLayer, this.noteLayer);
    else svg.append(frames, this.linkLayer, this.flowLayer, this.hostLayer, this.noteLayer);
    this.links = new Map();
    // Compact, the links appear as traffic crosses them (reveal): fifty
    // hosts' wiring at once is a tangle.
    if (!this.compact) for (const l of links(st).values()) this.addLink(l.a, l.b, l.labels);
    this.cards = new Map();
    this.captions = new Map();
    this.ticker = null;
    if (this.compact) {
      // One line for what the hosts just did, instead of a caption
      // under each.
      this.ticker = s('text', { x: lay.ticker.x, y: lay.ticker.y, class: 'caption ticker' });
      frames.append(this.ticker);
    }
    for (const h of st.hosts) this.addCard(h);
    this.sprites = [];
  }

  center(name) {
    const p = this.pos.get(name);
    return p ? { x: p.x + this.cw / 2, y: p.y + this.ch / 2 } : null;
  }

  addLink(a, b, labels) {
    const key = [a, b].sort().join('|');
    if (this.links.has(key)) {
      const l = this.links.get(key);
      if (!this.compact) for (const x of labels) l.labels.add(x);
      setLabel(l);
      return l;
    }
    const ca = this.center(a);
    const cb = this.center(b);
    if (!ca || !cb) return null;
    // A straight line, unless it would pass behind another card: then an
    // arc over the cards (on a wide screen, where the cards form a row).
    let c = null;
    if (this.narrow !== 'narrow' && !this.compact && this.crosses(ca, cb, a, b)) {
      const top = Math.min(this.pos.get(a).y, this.pos.get(b).y) - 22;
      c = { x: (ca.x + cb.x) / 2, y: (4 * top - ca.y - cb.y) / 2 };
    }
    const line = c
      ? s('path', { d: `M${ca.x},${ca.y} Q${c.x},${c.y} ${cb.x},${cb.y}`, class: 'link arc' })
      : s('line', { x1: ca.x, y1: ca.y, x2: cb.x, y2: cb.y, class: `link${this.compact ? ' thin' : ''}` });
    const mid = at(ca, cb, c, 0.5);
    const mx = mid.x;
    const my = mid.y;
    const label = s('text', { x: mx, y: my - 8, class: 'link-label', 'text-anchor': 'middle' });
    // Compact, the ports are not written on the links: they would lie
    // under the cards.
    const l0 = { labels: new Set(this.compact ? [] : labels), label, mx };
    setLabel(l0);
    const g = s('g', { class: 'link-g' }, line, label);
    this.linkLayer.append(g);
    const l = { key, a, b, labels: l0.labels, line, label, g, mx, c };
    this.links.set(key, l);
    return l;
  }

  // crosses reports whether the segment from p to q passes over a card
  // other than those of a and b.
  crosses(p, q, a, b) {
    for (const [name, r] of this.pos) {
      if (name === a || name === b) continue;
      const x0 = r.x - 4;
      const x1 = r.x + this.cw + 4;
      const y0 = r.y - 4;
      const y1 = r.y + this.ch + 4;
      for (let i = 1; i < 40; i++) {
        const x = p.x + (q.x - p.x) * i / 40;
        const y = p.y + (q.y - p.y) * i / 40;
        if (x > x0 && x < x1 && y > y0 && y < y1) return true;
      }
    }
    return false;
  }

  // linkOf returns the drawn link between two hosts.
  linkOf(a, b) {
    return this.links.get([a, b].sort().join('|'));
  }

  addCard(h) {
    const p = this.pos.get(h.name);
    if (!p) return;
    if (this.compact) {
      this.addCompactCard(h, p);
      return;
    }
    const g = s('g', { class: 'host', transform: `translate(${p.x},${p.y})`, tabindex: 0, 'data-host': h.name });
    const title = s('title', {});
    const body = s('rect', { width: W, height: H, rx: 8, class: 'card' });
    const hatch = s('rect', { width: W, height: H, rx: 8, class: 'card-hatch', fill: 'url(#hatch)' });
    g.append(title, body, hatch);
    let x = 10;
    for (const [, label, what] of chips(h)) {
      const w = label.length * 7 + 10;
      g.append(s('g', { class: `chip chip-${label.toLowerCase()}` },
        s('title', {}, `${label}: ${what()}`),
        s('rect', { x, y: 8, width: w, height: 16, rx: 3 }),
        s('text', { x: x + w / 2, y: 20, 'text-anchor': 'middle' }, label)));
      x += w + 4;
    }
    g.append(s('text', { x: 10, y: 42, class: 'host-name' }, h.label || h.name));
    g.append(s('text', { x: 10, y: 58, class: 'host-addr' }, h.addrs.join(' ')));
    const ports = [...h.ports, ...(h.udp_ports || []).filter((u) => !h.ports.includes(u)).map((u) => `${u}/udp`)];
    const words = ports.length ? ['ports', ...ports.map(String)] : ['no open ports'];
    const lines = [''];
    for (const w of words) {
      if (lines[lines.length - 1].length + w.length + 1 > 25) lines.push('');
      lines[lines.length - 1] += (lines[lines.length - 1] ? ' ' : '') + w;
    }
    lines.slice(0, 2).forEach((l, i) => g.append(s('text', { x: 10, y: 73 + i * 12, class: 'host-ports' }, l)));
    const badges = s('g', { class: 'badges', transform: 'translate(10,89)' });
    const down = s('g', { class: 'down-label' },
      s('rect', { x: W - 58, y: 6, width: 50, height: 18, rx: 3 }),
      s('text', { x: W - 33, y: 19, 'text-anchor': 'middle' }, 'DOWN'));
    g.append(badges, down);
    const caption = s('text', { x: W / 2, y: H + 16, class: 'caption', 'text-anchor': 'middle' });
    g.append(caption);
    this.hostLayer.append(g);
    this.cards.set(h.name, { g, title, badges, host: h, caption });
  }

  // addCompactCard draws a small card: the name (without its frame's
  // domain: mx1 in the frame of uni.example is mx1.uni.example), the
  // main role, the address, and the counts when there are any. The rest
  // (every role, the ports) is in its label.
  addCompactCard(h, p) {
    const domain = this.group.get(h.name) || '';
    const chip = chips(h)[0];
    const kind = h.roles.includes('mua') ? 'mua' : h.roles.includes('dns') ? 'dns' : chip && chip[1] === 'MDA' ? 'mda' : 'mta';
    const g = s('g', { class: `host compact kind-${kind}`, transform: `translate(${p.x},${p.y})`, tabindex: 0, 'data-host': h.name, 'data-domain': domain });
    const title = s('title', {});
    g.append(title,
      s('rect', { width: CW, height: CH, rx: 5, class: 'card' }),
      s('rect', { width: CW, height: CH, rx: 5, class: 'card-hatch', fill: 'url(#hatch)' }),
      s('rect', { x: 1, y: 1, width: 4, height: CH - 2, rx: 2, class: 'stripe' }));
    const name = h.label || (domain && h.name.endsWith(`.${domain}`) ? h.name.slice(0, -domain.length - 1) : h.name);
    g.append(s('text', { x: 9, y: 13, class: 'host-name' }, name));
    let right = CW - 3;
    if (chip) {
      const w = chip[1].length * 6 + 6;
      right -= w;
      g.append(s('g', { class: `chip chip-${chip[1].toLowerCase()}` },
        s('title', {}, `${chip[1]}: ${chip[2]()}`),
        s('rect', { x: right, y: 3, width: w, height: 12, rx: 2 }),
        s('text', { x: right + w / 2, y: 12, 'text-anchor': 'middle' }, chip[1])));
    }
    g.append(s('text', { x: 9, y: 26, class: 'host-addr' }, h.addrs[0] || ''));
    // The counts, left of the role: the hosts that have them have short
    // names (smtp, mx1, store).
    const badges = s('g', { class: 'badges', transform: `translate(${right - 3},3.5)` });
    const down = s('g', { class: 'down-label' },
      s('rect', { x: CW - 40, y: 3, width: 37, height: 12, rx: 2 }),
      s('text', { x: CW - 21.5, y: 12, 'text-anchor': 'middle' }, 'DOWN'));
    g.append(badges, down);
    this.hostLayer.append(g);
    this.cards.set(h.name, { g, title, badges, host: h, caption: null });
  }

  // compactBadges shows a compact card's counts as small pills, from the
  // right: the queue when it holds mail, the mail in the INBOXes when
  // there is some; it returns what the label says of them.
  compactBadges(c, v, full) {
    const h = c.host;
    const parts = [];
    const pills = [];
    if (h.roles.includes('msa') || h.roles.includes('mx')) {
      const q = v.queue.get(h.name);
      const n = q ? q.size : 0;
      parts.push(`${n} in the queue`);
      if (n) pills.push({ cls: 'queue busy', badge: 'queue', n, text: `q ${n}` });
    }
    const boxes = (h.mailboxes || []).filter((mb) => !mb.mailbox || mb.mailbox === 'INBOX');
    if (boxes.length) {
      let total = 0;
      for (const mb of boxes) {
        const n = v.mail.get(mb.user) ?? mb.messages.length;
        total += n;
        parts.push(`${n} in ${mb.user}'s INBOX${full.has(mb.user) ? ', full' : ''}`);
      }
      const anyFull = boxes.some((mb) => full.has(mb.user));
      if (total || anyFull) pills.push({ cls: `mail${total ? ' busy' : ''}${anyFull ? ' full' : ''}`, badge: 'mail', n: total, text: String(total), env: true });
    }
    let x = 0;
    for (const pl of pills) {
      const w = pl.text.length * 6 + (pl.env ? 20 : 8);
      x -= w;
      const g = s('g', { class: `badge ${pl.cls}`, 'data-badge': pl.badge, 'data-count': pl.n },
        s('rect', { x, y: 0, width: w, height: 11, rx: 5.5 }));
      if (pl.env) g.append(s('path', { d: `M${x + 4},2.5 h9 v6.5 h-9 z M${x + 4},2.5 l4.5,3.5 l4.5,-3.5`, class: 'env-icon' }));
      g.append(s('text', { x: x + w - 4, y: 8.8, 'text-anchor': 'end' }, pl.text));
      c.badges.append(g);
      x -= 3;
    }
    return parts;
  }

  // label names a card's host, its roles and ports, and what its badges
  // show (parts), for screen readers and as its tooltip.
  label(c, parts, down) {
    const h = c.host;
    const roles = chips(h).map(([, l]) => l).join(', ');
    const label = `${h.label ? `${h.label} (${h.name})` : h.name}, ${h.addrs.join(' ')}, ${roles || 'no role'}, ` +
      `${h.ports.length ? `ports ${h.ports.join(' ')}` : 'no open ports'}${parts.length ? `, ${parts.join(', ')}` : ''}` +
      `${down ? ', DOWN' : ''}`;
    c.g.setAttribute('aria-label', label);
    c.title.textContent = label;
  }

  // badges shows queue lengths, mailbox counts and down hosts as the
  // model's view has them (in step with the animation).
  badges() {
    const v = this.model.view;
    if (this.compact) {
      // A cut link shows, even before traffic has crossed it.
      for (const key of v.cuts) {
        const [a, b] = key.split('|');
        if (!this.links.has(key)) this.addLink(a, b, []);
      }
    }
    for (const [name, c] of this.cards) {
      const h = c.host;
      const down = !!v.down.get(name);
      c.g.classList.toggle('is-down', down);
      clear(c.badges);
      // The host as the world is now (faults, full mailboxes), not as
      // the structure was drawn.
      const now = ((this.model.state && this.model.state.hosts) || []).find((x) => x.name === name) || h;
      const full = new Set((now.mailboxes || []).filter((mb) => mb.full).map((mb) => mb.user));
      if (this.compact) {
        const parts = this.compactBadges(c, v, full);
        for (const f of now.dns_faults || []) parts.push(`answers ${f.mode} for ${(f.name || '').replace(/\.$/, '') || 'every name'}`);
        c.g.classList.toggle('has-fault', !!(now.dns_faults || []).length);
        this.label(c, parts, down);
        continue;
      }
      let x = 0;
      const parts = [];
      const q = v.queue.get(name);
      if (h.roles.includes('msa') || h.roles.includes('mx')) {
        const n = q ? q.size : 0;
        const text = `queue ${n}`;
        const w = text.length * 7 + 12;
        c.badges.append(s('g', { class: `badge queue${n ? ' busy' : ''}`, 'data-badge': 'queue', 'data-count': n },
          s('rect', { x, y: 0, width: w, height: 18, rx: 9 }),
          s('text', { x: x + w / 2, y: 13, 'text-anchor': 'middle' }, text)));
        x += w + 5;
        parts.push(`${n} in the queue`);
      }
      // As many mailboxes as the card has room for, those with mail
      // first; "+N more" says how many others (the label lists them all).
      const boxes = (h.mailboxes || []).filter((mb) => !mb.mailbox || mb.mailbox === 'INBOX')
        .map((mb) => ({ mb, n: v.mail.get(mb.user) ?? mb.messages.length }));
      const order = [...boxes.filter((b) => b.n), ...boxes.filter((b) => !b.n)];
      const room = W - 20;
      order.forEach(({ mb, n }, i) => {
        const isFull = full.has(mb.user);
        parts.push(`${n} in ${mb.user}'s INBOX${isFull ? ', full' : ''}`);
        if (x < 0) return;
        const who = mb.user.split('@')[0];
        const text = `${who} ${n}${isFull ? ' FULL' : ''}`;
        const w = text.length * 7 + 28;
        const more = order.length - i - 1;
        const moreW = more ? `+${more} more`.length * 7 + 12 + 5 : 0;
        if (x + w + moreW > room && i > 0) {
          const rest = order.length - i;
          const label = `+${rest} more`;
          const lw = label.length * 7 + 12;
          c.badges.append(s('g', { class: 'badge more', 'data-badge': 'more', 'data-count': rest },
            s('title', {}, `${rest} more mailboxes: ${order.slice(i).map((b) => `${b.mb.user.split('@')[0]} ${b.n}`).join(', ')}`),
            s('rect', { x, y: 0, width: lw, height: 18, rx: 9 }),
            s('text', { x: x + lw / 2, y: 13, 'text-anchor': 'middle' }, label)));
          x = -1;
          return;
        }
        c.badges.append(s('g', { class: `badge mail${n ? ' busy' : ''}${isFull ? ' full' : ''}`, 'data-badge': `mail:${mb.user}`, 'data-count': n },
          s('rect', { x, y: 0, width: w, height: 18, rx: 9 }),
          s('path', { d: `M${x + 7},5 h12 v9 h-12 z M${x + 7},5 l6,5 l6,-5`, class: 'env-icon' }),
          s('text', { x: x + 22 + (w - 22) / 2 - 3, y: 13, 'text-anchor': 'middle' }, text)));
        x += w + 5;
      });
      if (x < 0) x = room;
      // A DNS server answering badly says so on its card.
      for (const f of now.dns_faults || []) {
        const text = `${f.mode.toUpperCase()} ${(f.name || '').replace(/\.$/, '') || 'all'}`;
        const w = text.length * 7 + 12;
        c.badges.append(s('g', { class: 'badge fault', 'data-badge': `dns-fault:${f.name || ''}` },
          s('rect', { x, y: 0, width: w, height: 18, rx: 3 }),
          s('text', { x: x + w / 2, y: 13, 'text-anchor': 'middle' }, text)));
        x += w + 5;
        parts.push(`answers ${f.mode} for ${(f.name || '').replace(/\.$/, '') || 'every name'}`);
      }
      this.label(c, parts, down);
    }
    for (const l of this.links.values()) {
      l.g.classList.toggle('is-cut', v.cuts.has(l.key));
    }
  }

  caption(host, text, kind) {
    const c = this.cards.get(host);
    if (!c) return;
    if (!c.caption) {
      // Compact: the one line of the latest.
      this.ticker.textContent = text ? `${host}: ${text}` : '';
      this.ticker.setAttribute('class', `caption ticker ${kind || ''}`);
      return;
    }
    c.caption.textContent = text;
    c.caption.setAttribute('class', `caption ${kind || ''}`);
  }

  // atCursor shows the moment the page moved to (rewound, or back at the
  // present): the captions and animations of the moment before go, the
  // event of this one is played again on its link; the badges follow
  // the model's view of that moment (the 'state' event redraws them).
  atCursor() {
    for (const sp of this.sprites) sp.el.remove();
    this.sprites = [];
    if (this.noteLayer) clear(this.noteLayer);
    for (const c of this.cards.values()) {
      if (c.caption) {
        c.caption.textContent = '';
        c.caption.setAttribute('class', 'caption');
      }
      c.g.classList.remove('pulse');
    }
    if (this.ticker) this.ticker.textContent = '';
    const { index } = this.model.position();
    const e = index >= 0 ? this.model.events[index] : null;
    if (e) {
      this.note(e, true);
      if (!this.reduced) this.fly(e);
    }
    this.badges();
    if (this.sprites.length && !this.running) {
      this.running = true;
      requestAnimationFrame(this.animate);
    }
  }

  // reveal animates newly revealed events and refreshes the badges.
  reveal({ events, animate }) {
    let changed = false;
    for (const e of events) {
      if (e.kind === 'conn' && e.action === 'open' && e.host && e.peer) {
        const key = [e.host, e.peer].sort().join('|');
        if (!this.links.has(key)) this.addLink(e.host, e.peer, [String(e.port)]);
      }
      if (['queue', 'deliver', 'host', 'link', 'fault'].includes(e.kind)) changed = true;
      this.note(e, animate);
      if (animate && !this.reduced) this.fly(e);
    }
    if (changed) this.badges();
    if (this.sprites.length && !this.running) {
      this.running = true;
      requestAnimationFrame(this.animate);
    }
  }

  // note sets the caption under a host for what matters to a learner.
  note(e, animate) {
    switch (e.kind) {
      case 'queue':
        if (e.action === 'deferred') this.caption(e.host, `waiting: next try ${shortTime(e.next)}`, 'warn');
        else if (e.action === 'queued') this.caption(e.host, `queued ${(/queue id (\w+)/.exec(e.text) || [])[1] || ''}`);
        else if (e.action === 'delivered') this.caption(e.host, 'handed on');
        else if (e.action === 'bounced' || e.action === 'expired') this.caption(e.host, `${e.action}: bounce sent`, 'warn');
        else if (e.action === 'attempt') this.caption(e.host, 'trying to deliver…');
        break;
      case 'deliver':
        this.caption(e.host, `filed in ${(e.mailbox || '').split('@')[0]}’s INBOX`, 'ok');
        this.pulse(e.host);
        break;
      case 'dns':
        if (e.action === 'query') this.caption(e.host, `asks: ${e.text}`);
        break;
      case 'conn':
        if (e.action === 'refused' || e.action === 'unreachable') {
          this.caption(e.host, `✕ ${e.peer}:${e.port} ${e.action}`, 'warn');
          if (animate) this.mark(e.host, e.peer, e.action);
        }
        break;
      case 'hop':
        if (e.action === 'received') this.caption(e.host, `received from ${e.peer}`, 'ok');
        break;
      case 'host':
        this.caption(e.host, e.action === 'down' ? 'switched off' : 'back up', e.action === 'down' ? 'warn' : 'ok');
        break;
      default:
    }
  }

  pulse(host) {
    const c = this.cards.get(host);
    if (!c || this.reduced) return;
    c.g.classList.remove('pulse');
    // restart the CSS animation
    void c.g.getBoundingClientRect();
    c.g.classList.add('pulse');
  }

  // fly starts the sprite of an event along its link.
  fly(e) {
    let from;
    let to;
    let shape;
    let label = '';
    let dur = 700;
    switch (e.kind) {
      case 'wire': {
        if (!e.host || !e.peer) return;
        const block = (e.text || '').includes('\n');
        [from, to] = e.dir === 'recv' ? [e.peer, e.host] : [e.host, e.peer];
        if (block && e.dir === 'send' && (e.proto === 'smtp' || e.proto === 'lmtp')) {
          shape = 'envelope';
          dur = 1400;
        } else {
          shape = `${e.dir === 'recv' ? 'reply' : 'command'}${e.tls ? ' tls' : ''}`;
          dur = 650;
        }
        break;
      }
      case 'dns':
        if (e.action === 'query') {
          [from, to, shape, label] = [e.host, e.peer, 'dns', (e.text || '').replace(/\. IN /, ' ').replace(/\.$/, '') + '?'];
        } else if (e.action === 'answer') {
          [from, to, shape, label] = [e.peer, e.host, 'dns answer', dnsLabel(e)];
        } else return;
        dur = 1000;
        break;
      case 'conn':
        if (e.action !== 'open') return;
        [from, to, shape, dur] = [e.host, e.peer, 'syn', 500];
        break;
      default:
        return;
    }
    const a = this.center(from);
    const b = this.center(to);
    if (!a || !b) return;
    const link = this.linkOf(from, to);
    // Compact, a DNS question's words would cover the cards: the line
    // under the frames tells them.
    const el = sprite(shape, this.compact ? '' : label);
    this.flowLayer.append(el);
    const speed = Math.max(this.model.speed, 0.25);
    this.sprites.push({ el, a, b, c: link ? link.c : null, t0: performance.now(), dur: Math.max(dur / Math.sqrt(speed), 160) });
    if (this.sprites.length > 60) this.sprites.shift().el.remove();
  }

  // mark shows a refused or unreachable connection on its link.
  mark(a, b, text) {
    const ca = this.center(a);
    const cb = this.center(b);
    if (!ca || !cb) return;
    const link = this.linkOf(a, b);
    // At the door of the host that did not answer, not half-way: on a
    // long link, half-way may sit on another host's card.
    const { x, y } = at(ca, cb, link ? link.c : null, 0.8);
    const g = s('g', { class: 'refused', transform: `translate(${x},${y})` },
      s('circle', { r: 11 }), s('path', { d: 'M-5,-5 L5,5 M5,-5 L-5,5' }),
      s('text', { y: 26, 'text-anchor': 'middle' }, text));
    this.noteLayer.append(g);
    setTimeout(() => g.remove(), 2500);
  }

  animate(now) {
    const live = [];
    for (const sp of this.sprites) {
      const t = (now - sp.t0) / sp.dur;
      if (t >= 1) {
        sp.el.remove();
        continue;
      }
      const k = t < 0 ? 0 : t * t * (3 - 2 * t);
      const { x, y } = at(sp.a, sp.b, sp.c, k);
      sp.el.setAttribute('transform', `translate(${x.toFixed(1)},${y.toFixed(1)})`);
      live.push(sp);
    }
    this.sprites = live;
    if (live.length) requestAnimationFrame(this.animate);
    else this.running = false;
  }
}

// dnsLabel says what a DNS answer brought, in a few words.
function dnsLabel(e) {
  if (/\b0 answers?\b/.test(e.text || '') || !(e.records || []).length) return (e.text || '').split(',')[0] === 'NOERROR' ? 'no such record' : (e.text || '').split(',')[0];
  const f = e.records[0].split('\t');
  const text = `${f[3] || ''} ${(f[4] || '').replace(/\.$/, '')}`;
  return text.length > 28 ? `${text.slice(0, 27)}…` : text;
}

// at returns the point at t (0 to 1) from a to b, on the quadratic curve
// with control point c, or on the straight line when c is null.
function at(a, b, c, t) {
  if (!c) return { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t };
  const u = 1 - t;
  return { x: u * u * a.x + 2 * u * t * c.x + t * t * b.x, y: u * u * a.y + 2 * u * t * c.y + t * t * b.y };
}

// setLabel writes a link's ports one above the other, so they fit
// between two cards.
function setLabel(l) {
  clear(l.label);
  [...l.labels].forEach((p, i) => l.label.append(s('tspan', { x: l.mx, dy: i ? '1.1em' : 0 }, p)));
}

function sprite(shape, label) {
  const g = s('g', { class: `sprite ${shape}` });
  if (shape === 'envelope') {
    g.append(s('rect', { x: -14, y: -10, width: 28, height: 20, rx: 3 }), s('path', { d: 'M-14,-10 L0,2 L14,-10' }));
  } else if (shape.startsWith('dns')) {
    g.append(s('path', { d: 'M0,-8 L8,0 L0,8 L-8,0 Z' }));
    if (label) g.append(s('text', { y: -13, 'text-anchor': 'middle' }, label));
  } else if (shape === 'syn') {
    g.append(s('circle', { r: 7 }));
  } else if (shape.includes('tls')) {
    g.append(s('rect', { x: -5, y: -5, width: 10, height: 10, rx: 2 }));
  } else {
    g.append(s('circle', { r: 5 }));
  }
  return g;
}

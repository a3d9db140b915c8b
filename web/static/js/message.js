// The message view: the header fields, each Received field tied to the
// hop that added it, the envelope beside them, the message's
// authentication (each DKIM-Signature tag and each result of the
// Authentication-Results fields, explained), and the body. Rewound (see
// model.js), it shows the journey as far as it had gone at that event,
// and says when the message was not yet filed then. "Download .eml"
// saves the raw message.
import { h, clear, announce } from './dom.js';
import { clockTime, portName } from './format.js';
import { download } from './exports.js';

export class MessageView {
  constructor(root, model, actions) {
    this.root = root;
    this.model = model;
    this.actions = actions; // {showEvent(seq), showTranscript(conn)}
    this.cur = null;
    this.empty();
    model.addEventListener('world', () => this.empty());
    model.addEventListener('cursor', () => { if (this.cur) this.render(false); });
  }

  empty() {
    this.cur = null;
    clear(this.root).append(h('h3', {}, 'Message'),
      h('p', { class: 'muted' }, 'Pick a message in Mailboxes (or “Open the message” on a delivery in the timeline) to see its header, envelope and journey.'));
  }

  async show(user, uid, mailbox) {
    let v;
    try {
      v = await this.model.api.message(user, uid, mailbox);
    } catch (err) {
      this.cur = null;
      clear(this.root).append(h('h3', {}, 'Message'), h('p', { class: 'error', role: 'alert' }, err.message));
      return;
    }
    this.cur = { v, user, uid, mailbox };
    this.render(true);
  }

  // eml downloads the message as it is stored, header and body.
  async eml() {
    const { v } = this.cur;
    let raw;
    try {
      raw = this.model.api.exportEML ? await this.model.api.exportEML(v.user, v.uid, v.mailbox) : v.raw;
    } catch (err) {
      if (!v.raw) {
        announce(err.message, 'error');
        return;
      }
      raw = v.raw;
    }
    const name = `${v.user.split('@')[0]}-${v.mailbox}-${v.uid}.eml`.replace(/[^\w.@-]+/g, '_');
    download(name, raw, 'message/rfc822');
    announce(`Downloaded ${name}`);
  }

  // render draws the message as it was at the moment the page shows.
  render(focus) {
    const { v } = this.cur;
    const at = this.model.cursor ? this.model.cursor.seq : null;
    const filed = this.model.filedAt ? this.model.filedAt(v.user, v.mailbox, v.uid) : 0;
    const upTo = (x) => at === null || !x || x.seq <= at;
    const hops = v.hops.filter(upTo);
    const received = v.received.filter((r) => upTo(r.hop));
    const subject = (v.header.find((f) => f.name.toLowerCase() === 'subject') || {}).value || '(no subject)';
    const root = clear(this.root);
    root.append(h('div', { class: 'msg-head' }, h('h3', { id: 'msg-h', tabindex: -1 }, subject),
      h('button', { type: 'button', class: 'small', id: 'msg-eml', onclick: () => this.eml() }, 'Download .eml')),
    h('p', { class: 'muted' }, `${v.user} / ${v.mailbox}, UID ${v.uid}, ${v.size} bytes${v.msg ? `, Message-ID <${v.msg}>` : ''}`));
    if (at !== null) {
      const hidden = v.received.length - received.length;
      const where = `${v.user}’s ${v.mailbox}`;
      root.append(h('p', { class: 'rewound-note', id: 'msg-at' }, filed > at
        ? `At event ${at} this message is not in ${where} yet: it is filed at event ${filed}.${hidden ? ` ${hidden} of its ${v.received.length} hops ${hidden === 1 ? 'is' : 'are'} still to come.` : ''} Below, its journey so far.`
        : `As at event ${at}: the message is in ${where}.`));
    }

    // Envelope and header side by side.
    const env = h('section', { class: 'envelope', 'aria-labelledby': 'env-h' },
      h('h4', { id: 'env-h' }, 'Envelope'),
      h('p', { class: 'muted' }, 'What the servers were told, apart from the message (RFC 5321 §2.3.1). Bounces go to MAIL FROM; RCPT TO decides who gets it — not the From: and To: of the header.'),
      h('dl', { class: 'fields' },
        h('dt', {}, 'MAIL FROM'), h('dd', {}, `<${v.envelope.from}>`, h('span', { class: 'muted' }, ' kept as Return-Path')),
        h('dt', {}, 'RCPT TO'), h('dd', {}, v.envelope.to.map((x) => `<${x}>`).join(', '), h('span', { class: 'muted' }, ' kept as Delivered-To'))));
    if (hops.length) {
      const tbody = h('tbody');
      for (const hop of hops) {
        tbody.append(h('tr', {},
          h('td', {}, `${hop.from} → ${hop.to}`),
          h('td', {}, `${hop.port ? portName(hop.port) : ''}${hop.tls ? ', TLS' : ''}`),
          h('td', {}, hop.mail_from || ''),
          h('td', {}, (hop.rcpt_to || []).join(', ')),
          h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => this.actions.showTranscript(hop.seq) }, hop.conn))));
      }
      env.append(h('table', { class: 'list' },
        h('caption', {}, 'The envelope on each hop, oldest first'),
        h('thead', {}, h('tr', {}, ['Hop', 'Port', 'MAIL FROM', 'RCPT TO', 'Conn'].map((x) => h('th', { scope: 'col' }, x)))),
        tbody));
    }

    const journey = received.length ? h('ol', { class: 'received' })
      : v.received.length ? h('p', { class: 'note-block' }, 'No hop yet at this event: the message has not left its sender.')
      : h('p', { class: 'note-block' }, v.envelope.from === ''
        ? 'No Received field: this report was made by the mail system itself (a bounce, RFC 3464), on the host that files it, so it never crossed a hop. Its MAIL FROM is empty (<>), so that nobody answers a bounce with another one (RFC 5321 §4.5.5).'
        : 'No Received field: the message was filed where it was written, without crossing a mail server.');
    received.forEach((r, i) => {
      const hop = r.hop;
      journey.append(h('li', { id: `rcv-${i}` },
        h('code', { class: 'field' }, `Received: ${r.value}`),
        hop
          ? h('p', { class: 'hop-tag' },
            `Added by ${hop.to} at ${clockTime(hop.time)}, when ${hop.from} handed the message over on ${hop.conn}`,
            hop.port ? ` (${portName(hop.port)}${hop.tls ? ', inside TLS' : ''})` : '', '. ',
            h('button', { type: 'button', class: 'link', onclick: () => this.actions.showEvent(hop.seq) }, 'Show the hop'))
          : h('p', { class: 'hop-tag muted' }, 'No hop of this trace added it (the trace may have been reset).')));
    });
    const head = h('section', { class: 'header', 'aria-labelledby': 'hdr-h' },
      h('h4', { id: 'hdr-h' }, 'The journey, from the Received fields'),
      h('p', { class: 'muted' }, 'Each server puts its Received field on top (RFC 5321 §4.4): read from the bottom up to follow the message.'),
      journey,
      h('h4', {}, 'Every header field'),
      h('table', { class: 'list fields-table' },
        h('caption', { class: 'vh' }, 'Header fields in order'),
        h('tbody', {}, v.header.map((f) => h('tr', { class: f.name.toLowerCase() === 'received' ? 'is-received' : '' },
          h('th', { scope: 'row' }, f.name), h('td', {}, h('code', {}, f.value)))))));
    root.append(h('div', { class: 'msg-cols' }, head, env));
    const auth = authSection(v.header);
    if (auth) root.append(auth);
    const body = h('section', { class: 'body', 'aria-labelledby': 'body-h' }, h('h4', { id: 'body-h' }, 'Body'));
    if (v.text) {
      body.append(h('pre', {}, v.text), h('details', {}, h('summary', {}, 'as it travelled (transfer-encoded)'), h('pre', {}, v.body)));
    } else {
      body.append(h('pre', {}, v.body));
    }
    root.append(body);
    if (!focus) return;
    this.actions.showTab();
    root.querySelector('#msg-h').focus();
  }
}

// --- SPF, DKIM and DMARC ---

// What each tag of a DKIM-Signature (RFC 6376 §3.5) says, for a learner.
const DKIM_TAGS = {
  v: () => 'the version of DKIM signatures: always 1',
  a: (x) => `the algorithm: ${/^ed25519/.test(x) ? 'an Ed25519 key' : 'an RSA key'} signs a SHA-256 hash (RFC 6376, RFC 8463)`,
  c: () => 'canonicalization, header/body: how white space and line ends are evened out before hashing; "relaxed" survives servers that re-fold lines, "simple" allows no change at all',
  d: (x) => `the signing domain: ${x} vouches for the message; DMARC wants it to match the From: domain (alignment)`,
  s: (x, t) => `the selector, which of the domain's keys signed: its public key is the TXT record at ${x}._domainkey.${t.d || 'the domain'}`,
  h: () => 'the header fields the signature covers, in order; a name listed once more than the field appears (From) means no such field may be added in transit',
  bh: () => 'the body hash: SHA-256 of the (canonicalized) body, in base64; change one character of the body, a list footer for one, and it no longer matches',
  b: () => 'the signature itself, made with the private key over the listed header fields and this field (with b= empty): shortened here',
  t: (x) => `when it was signed: ${unixTime(x)}`,
  x: (x) => `when the signature expires: ${unixTime(x)}`,
  i: () => 'the identity the domain signs for (a user or an agent of it)',
  l: () => 'how many bytes of the body the signature covers: anything added after them is not covered (risky)',
  q: () => 'how the verifier fetches the key: dns/txt, a TXT record',
  z: () => 'a copy of the signed header fields, for debugging',
};

function unixTime(x) {
  const n = Number(x);
  return Number.isFinite(n) ? new Date(n * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC') : x;
}

// dkimTags reads a DKIM-Signature's tag list (RFC 6376 §3.2): name=value
// pairs separated by ';', white space folded away in b= and bh=.
export function dkimTags(value) {
  const out = [];
  for (const part of value.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const name = part.slice(0, i).trim();
    let val = part.slice(i + 1).trim();
    if (['b', 'bh', 'h', 'z'].includes(name)) val = val.replace(/\s+/g, '');
    if (name) out.push([name, val]);
  }
  return out;
}

// authResults reads an Authentication-Results field (RFC 8601): the
// server that wrote it, and each method with its result and properties.
// Comments in parentheses are dropped; quoted values keep their ';'.
export function authResults(value) {
  const parts = [];
  let cur = '';
  let quote = false;
  let depth = 0;
  for (const ch of value) {
    if (quote) {
      cur += ch;
      if (ch === '"') quote = false;
    } else if (ch === '"' && depth === 0) {
      quote = true;
      cur += ch;
    } else if (ch === '(') {
      depth++;
    } else if (ch === ')' && depth > 0) {
      depth--;
    } else if (depth === 0 && ch === ';') {
      parts.push(cur.trim());
      cur = '';
    } else if (depth === 0) {
      cur += ch;
    }
  }
  parts.push(cur.trim());
  const servID = (parts.shift() || '').split(/\s+/)[0];
  const methods = [];
  for (const p of parts) {
    const tokens = p.match(/[^\s=]+="[^"]*"|[^\s=]+=[^\s]+|[^\s]+/g) || [];
    const head = tokens.shift() || '';
    if (!head.includes('=')) continue; // "none": nothing was checked
    const [method, result] = head.split('=');
    const props = {};
    let reason = '';
    for (const t of tokens) {
      const i = t.indexOf('=');
      if (i < 0) continue;
      const k = t.slice(0, i);
      const v = t.slice(i + 1).replace(/^"|"$/g, '');
      if (k === 'reason') reason = v; else props[k] = v;
    }
    methods.push({ method: method.toLowerCase(), result: result.toLowerCase(), props, reason });
  }
  return { servID, methods };
}

// explainResult says in a sentence what one result means.
export function explainResult(m) {
  const p = m.props;
  const d = p['smtp.mailfrom'] || p['smtp.helo'] || 'the sender\u2019s domain';
  const hd = p['header.d'] || 'the signing domain';
  const from = p['header.from'] || 'the From: domain';
  switch (`${m.method}=${m.result}`) {
    case 'spf=pass': return `SPF: the server that handed the message over is allowed to send mail for ${d}, the domain of the envelope\u2019s MAIL FROM, by ${d}\u2019s SPF record.`;
    case 'spf=fail': return `SPF: the server that handed the message over is not among those ${d}\u2019s SPF record allows (it ends in -all): a forgery, or mail forwarded by a host ${d} does not know. SPF vouches for the envelope sender only, never for the From: a reader sees.`;
    case 'spf=softfail': return `SPF: ${d}\u2019s record does not list the sending server and ends in ~all: probably not allowed, but not for sure.`;
    case 'spf=neutral': return `SPF: ${d}\u2019s record says nothing either way about the sending server (?all).`;
    case 'spf=none': return `SPF: ${d} publishes no SPF record, so nothing can be said.`;
    case 'spf=temperror': return 'SPF: a DNS lookup failed for now; a later try may work.';
    case 'spf=permerror': return `SPF: ${d}\u2019s SPF record is broken (a syntax error, or too many DNS lookups).`;
    case 'dkim=pass': return `DKIM: a signature by ${hd} verified with the key at ${p['header.s'] || 'its selector'}._domainkey.${hd}: the signed header fields and the body arrived unchanged.`;
    case 'dkim=fail': return `DKIM: the signature by ${hd} does not verify: the body or a signed header field was changed after signing (a footer, a Subject tag), or the key in DNS is not the one that signed.`;
    case 'dkim=none': return 'DKIM: the message carries no signature, so nobody vouches for its content.';
    case 'dkim=neutral': return `DKIM: the signature by ${hd} could not be checked (it is malformed).`;
    case 'dkim=policy': return `DKIM: the signature by ${hd} was not accepted by this server\u2019s rules (l=, too many signatures).`;
    case 'dkim=temperror': return `DKIM: the key of ${hd} could not be fetched for now (a DNS failure).`;
    case 'dkim=permerror': return `DKIM: the signature by ${hd} is unusable (no key in DNS, a revoked key, an unknown algorithm).`;
    case 'dmarc=pass': return `DMARC: SPF or DKIM passed for a domain aligned with ${from}, the domain in the From: the reader sees: that From: is genuine.`;
    case 'dmarc=fail': return `DMARC: neither SPF nor DKIM passed for a domain aligned with ${from}; ${from}\u2019s policy says what to do${p['policy.dmarc'] === 'quarantine' ? ': quarantine, so the message is filed into Junk' : p['policy.dmarc'] ? `: ${p['policy.dmarc']}` : ''}.`;
    case 'dmarc=none': return `DMARC: ${from} publishes no DMARC record, so a failure means nothing to the receiver and the message is delivered: without a policy, a forged From: gets through.`;
    case 'dmarc=temperror': return `DMARC: ${from}\u2019s policy could not be fetched for now (a DNS failure).`;
    case 'dmarc=permerror': return `DMARC: ${from}\u2019s DMARC record is broken.`;
    default: return `${m.method}: ${m.result}.`;
  }
}

// authSection shows what authenticates the message: each
// Authentication-Results field (top first, the last server's on top) and
// each DKIM-Signature, explained; null when the message has neither.
function authSection(header) {
  const ars = header.filter((f) => f.name.toLowerCase() === 'authentication-results');
  const sigs = header.filter((f) => f.name.toLowerCase() === 'dkim-signature');
  if (!ars.length && !sigs.length) return null;
  const sec = h('section', { class: 'msg-auth', 'aria-labelledby': 'auth-h' },
    h('h4', { id: 'auth-h' }, 'SPF, DKIM and DMARC'),
    h('p', { class: 'muted' }, 'SPF checks the server that handed the message over against the envelope sender\u2019s domain; DKIM checks a signature over the header and body; DMARC asks that one of them pass for the domain of the From: the reader sees, and publishes what to do when neither does.'));
  ars.forEach((f, i) => {
    const ar = authResults(f.value);
    const list = h('ul', { class: 'auth-results' });
    for (const m of ar.methods) {
      const props = Object.entries(m.props).map(([k, v]) => `${k}=${v}`).join(' ');
      list.append(h('li', { class: 'auth-method', dataset: { method: m.method, result: m.result } },
        h('code', { class: `auth-result r-${m.result}` }, `${m.method}=${m.result}`), props ? [' ', h('code', {}, props)] : null,
        h('p', { class: 'auth-why' }, explainResult(m))));
    }
    if (!ar.methods.length) list.append(h('li', {}, 'none: this server checked nothing.'));
    sec.append(h('h5', {}, `Authentication-Results by ${ar.servID}`),
      h('p', { class: 'muted' }, i === 0
        ? `Written by ${ar.servID} when it received the message (RFC 8601). Trust only such a field from your own provider\u2019s servers: anyone can write one further down.`
        : `Further down, so written earlier, by ${ar.servID}, on an earlier hop.`),
      list);
  });
  sigs.forEach((f) => {
    const tags = dkimTags(f.value);
    const t = Object.fromEntries(tags);
    const tbody = h('tbody');
    for (const [name, val] of tags) {
      const shown = name === 'b' && val.length > 16 ? `${val.slice(0, 12)}\u2026 (${val.length} characters)` : name === 'h' ? val.split(':').join(' : ') : val;
      const why = DKIM_TAGS[name] ? DKIM_TAGS[name](val, t) : 'a tag of another extension';
      tbody.append(h('tr', { dataset: { tag: name } }, h('th', { scope: 'row' }, h('code', {}, `${name}=`)), h('td', {}, h('code', {}, shown)), h('td', {}, why)));
    }
    sec.append(h('h5', {}, `DKIM-Signature by ${t.d || '?'}`),
      h('p', { class: 'muted' }, `Added by the sending side (RFC 6376). A receiver fetches the public key at ${t.s || '?'}._domainkey.${t.d || '?'} and checks bh= against the body and b= against the listed fields.`),
      h('table', { class: 'list dkim-tags' },
        h('caption', { class: 'vh' }, `The tags of the DKIM-Signature by ${t.d || '?'}`),
        h('thead', {}, h('tr', {}, ['Tag', 'Value', 'What it says'].map((x) => h('th', { scope: 'col' }, x)))),
        tbody));
  });
  return sec;
}

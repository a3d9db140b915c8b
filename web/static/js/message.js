// The message view: the header fields, each Received field tied to the
// hop that added it, the envelope beside them, and the body. Rewound (see
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

// The message view: the header fields, each Received field tied to the
// hop that added it, the envelope beside them, and the body.
import { h, clear } from './dom.js';
import { clockTime, portName } from './format.js';

export class MessageView {
  constructor(root, model, actions) {
    this.root = root;
    this.model = model;
    this.actions = actions; // {showEvent(seq), showTranscript(conn)}
    this.empty();
    model.addEventListener('world', () => this.empty());
  }

  empty() {
    clear(this.root).append(h('h3', {}, 'Message'),
      h('p', { class: 'muted' }, 'Pick a message in Mailboxes (or “Open the message” on a delivery in the timeline) to see its header, envelope and journey.'));
  }

  async show(user, uid, mailbox) {
    let v;
    try {
      v = await this.model.api.message(user, uid, mailbox);
    } catch (err) {
      clear(this.root).append(h('h3', {}, 'Message'), h('p', { class: 'error', role: 'alert' }, err.message));
      return;
    }
    const subject = (v.header.find((f) => f.name.toLowerCase() === 'subject') || {}).value || '(no subject)';
    const root = clear(this.root);
    root.append(h('h3', { id: 'msg-h', tabindex: -1 }, subject),
      h('p', { class: 'muted' }, `${v.user} / ${v.mailbox}, UID ${v.uid}, ${v.size} bytes${v.msg ? `, Message-ID <${v.msg}>` : ''}`));

    // Envelope and header side by side.
    const env = h('section', { class: 'envelope', 'aria-labelledby': 'env-h' },
      h('h4', { id: 'env-h' }, 'Envelope'),
      h('p', { class: 'muted' }, 'What the servers were told, apart from the message (RFC 5321 §2.3.1). Bounces go to MAIL FROM; RCPT TO decides who gets it — not the From: and To: of the header.'),
      h('dl', { class: 'fields' },
        h('dt', {}, 'MAIL FROM'), h('dd', {}, `<${v.envelope.from}>`, h('span', { class: 'muted' }, ' kept as Return-Path')),
        h('dt', {}, 'RCPT TO'), h('dd', {}, v.envelope.to.map((x) => `<${x}>`).join(', '), h('span', { class: 'muted' }, ' kept as Delivered-To'))));
    if (v.hops.length) {
      const tbody = h('tbody');
      for (const hop of v.hops) {
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

    const journey = v.received.length ? h('ol', { class: 'received' })
      : h('p', { class: 'note-block' }, v.envelope.from === ''
        ? 'No Received field: this report was made by the mail system itself (a bounce, RFC 3464), on the host that files it, so it never crossed a hop. Its MAIL FROM is empty (<>), so that nobody answers a bounce with another one (RFC 5321 §4.5.5).'
        : 'No Received field: the message was filed where it was written, without crossing a mail server.');
    v.received.forEach((r, i) => {
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
    this.actions.showTab();
    root.querySelector('#msg-h').focus();
  }
}

// The live view's tool panels: the server (its names, what it listens
// on, its queue, the hosts seen on the wire) and its mailboxes, counts
// only (the page can not read a message). See live.js.
import { h, clear } from './dom.js';
import { clockTime, portName } from './format.js';

const SERVICES = {
  smtp: 'inbound MX: mail for its own domains, from other servers',
  submission: 'submission: its users send mail (STARTTLS, then a login)',
  submissions: 'submission inside TLS from the first byte',
  imap: 'IMAP: mail programs read mail on the server (STARTTLS)',
  imaps: 'IMAP inside TLS',
  pop3: 'POP3: mail programs download mail (STLS)',
  pop3s: 'POP3 inside TLS',
  lmtp: 'LMTP: a mail server in front hands mail over for the mailboxes',
};

const ROLES = { mua: 'mail client', mta: 'mail server', dns: 'DNS server' };

// watchShown calls render whenever root is shown.
function watchShown(root, render) {
  new MutationObserver(() => { if (!root.hidden) render(); }).observe(root, { attributes: true, attributeFilter: ['hidden'] });
}

export class ServerPanel {
  constructor(root, model, api) {
    this.root = root;
    this.model = model;
    this.status = 'connected';
    model.addEventListener('state', () => this.render());
    api.onStatus((s) => {
      this.status = s;
      this.key = '';
      this.render();
    });
    watchShown(root, () => this.render());
  }

  render() {
    const st = this.model.state;
    if (this.root.hidden || !st || !st.live) return;
    const info = st.live;
    const peers = st.hosts.filter((x) => x.name !== info.hostname);
    const key = JSON.stringify([this.status, info.listeners, info.domains, info.queue.map((q) => [q.id, q.attempts, q.next]),
      peers.map((p) => [p.name, p.label, p.roles, p.ports, p.udp_ports])]);
    if (key === this.key) return;
    this.key = key;
    const root = clear(this.root);
    root.append(h('h3', {}, info.hostname),
      h('p', { class: 'muted' }, 'A real mail server, watched live: every connection and every protocol line it carries (inside TLS too, where this server holds the keys; passwords shown as ***), its DNS questions, its queue and its deliveries.'),
      h('dl', { class: 'fields' },
        h('dt', {}, 'domains'), h('dd', {}, (info.domains || []).join(', ')),
        h('dt', {}, 'trace'), h('dd', {}, this.status === 'connected' ? 'connected: events show as they happen' : 'reconnecting…')));

    const listeners = Object.entries(info.listeners).sort((a, b) => Number(a[1].split(':').pop()) - Number(b[1].split(':').pop()));
    root.append(h('h4', { id: 'srv-listen-h' }, 'Listening'),
      h('table', { class: 'list', 'aria-labelledby': 'srv-listen-h' },
        h('thead', {}, h('tr', {}, ['Service', 'Address', 'What for'].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, listeners.map(([name, addr]) => h('tr', { dataset: { service: name } },
          h('td', {}, name), h('td', {}, h('code', {}, addr)), h('td', {}, SERVICES[name] || ''))))));

    root.append(h('h4', { id: 'srv-queue-h' }, `Queue: ${info.queue.length} message${info.queue.length === 1 ? '' : 's'}`));
    if (!info.queue.length) {
      root.append(h('p', { class: 'empty muted' }, 'Empty: every message has been handed on.'));
    } else {
      root.append(h('table', { class: 'list queue', 'aria-labelledby': 'srv-queue-h' },
        h('thead', {}, h('tr', {}, ['Queue id', 'From', 'To', 'Attempts', 'Next try'].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, info.queue.slice(0, 100).map((q) => h('tr', {},
          h('td', {}, h('code', {}, q.id)),
          h('td', {}, `<${q.from || ''}>`),
          h('td', {}, (q.rcpts || []).map((r) => `${r.addr}${r.state ? ` (${r.state})` : ''}`).join(', ')),
          h('td', { class: 'num' }, q.attempts || 0),
          h('td', {}, q.next && !q.next.startsWith('0001-') ? clockTime(q.next) : 'now'))))));
    }

    root.append(h('h4', { id: 'srv-peers-h' }, 'Hosts seen on the wire'));
    if (!peers.length) {
      root.append(h('p', { class: 'empty muted' }, 'None yet: they appear as they connect, or as this server connects to them.'));
    } else {
      root.append(h('table', { class: 'list peers', 'aria-labelledby': 'srv-peers-h' },
        h('thead', {}, h('tr', {}, ['Host', 'Address', 'Is', 'Port'].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, peers.map((p) => h('tr', { dataset: { peer: p.name } },
          h('td', {}, p.label || p.name),
          h('td', {}, h('code', {}, p.addrs.join(' '))),
          h('td', {}, p.roles.map((r) => ROLES[r] || r).join(', ')),
          h('td', {}, p.links.map((l) => portName(Number(l.label))).join(', ')))))));
    }
  }
}

export class LiveMailboxes {
  constructor(root, model) {
    this.root = root;
    this.model = model;
    model.addEventListener('state', () => this.render());
    watchShown(root, () => this.render());
  }

  render() {
    const st = this.model.state;
    if (this.root.hidden || !st || !st.live) return;
    const rows = Object.entries(st.live.mailboxes).sort((a, b) => a[0].localeCompare(b[0]));
    const key = JSON.stringify(rows);
    if (key === this.key) return;
    this.key = key;
    const root = clear(this.root);
    root.append(h('h3', {}, 'Mailboxes'),
      h('p', { class: 'muted' }, `Counts only, as ${st.live.hostname} has them: this page shows what crosses the wire, and nobody can read a mailbox through it. Read mail as its owner does, by IMAP or POP3 with a password.`));
    if (!rows.length) {
      root.append(h('p', {}, 'This server keeps no mailboxes.'));
      return;
    }
    root.append(h('table', { class: 'list mailbox-counts' },
      h('caption', { class: 'vh' }, 'Messages in each mailbox'),
      h('thead', {}, h('tr', {}, ['User', 'Mailbox', 'Messages', 'Unseen', 'Size'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.map(([k, c]) => {
        const [user, mailbox] = k.split('/');
        return h('tr', { dataset: { user } },
          h('td', {}, h('code', {}, user)),
          h('td', {}, mailbox),
          h('td', { class: 'num messages' }, c.messages),
          h('td', { class: 'num' }, c.unseen),
          h('td', { class: 'num' }, size(c.size)));
      }))));
  }
}

function size(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

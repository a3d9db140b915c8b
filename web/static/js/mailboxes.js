// Mailboxes: each user's INBOX (and Junk, once DMARC has quarantined
// mail there) with its messages, as the mail store has them, and the
// login to read them with.
import { h, clear } from './dom.js';
import { clockTime } from './format.js';

const MAX_ROWS = 100;

export class Mailboxes {
  constructor(root, model, actions) {
    this.root = root;
    this.model = model;
    this.actions = actions; // {openMessage(user, uid, mailbox)}
    this.key = '';
    model.addEventListener('state', () => this.render());
    // Hidden, the panel waits: it renders when shown.
    new MutationObserver(() => { if (!this.root.hidden) this.render(); }).observe(root, { attributes: true, attributeFilter: ['hidden'] });
  }

  render() {
    const st = this.model.state;
    if (this.root.hidden || !st) return;
    // Only when something changed: a mailbox of a thousand messages is
    // not rebuilt for nothing.
    const key = `${st.world}|${st.rewound ?? ''}|${st.hosts.map((x) => (x.mailboxes || []).map((mb) => `${mb.user}:${mb.full ? 'full' : ''}:${mb.messages.length}:${mb.messages.length ? mb.messages[mb.messages.length - 1].uid : 0}:${mb.messages.map((m) => m.flags.join()).join()}`).join()).join()}`;
    if (key === this.key) return;
    this.key = key;
    const root = clear(this.root);
    root.append(h('h3', {}, 'Mailboxes'));
    if (st.rewound !== undefined) {
      root.append(h('p', { class: 'rewound-note' }, `As they were at event ${st.rewound}: mail filed after it is not listed yet.`));
    }
    const pass = new Map(st.users.map((u) => [u.address, u.password]));
    let any = false;
    for (const host of st.hosts) {
      for (const mb of host.mailboxes || []) {
        any = true;
        const inbox = !mb.mailbox || mb.mailbox === 'INBOX';
        const id = `mb-${inbox ? mb.user : `${mb.user}-${mb.mailbox}`}`.replace(/[^a-z0-9-]/gi, '-');
        const sec = h('section', { class: 'mailbox', 'aria-labelledby': id, dataset: { user: mb.user, mailbox: mb.mailbox || 'INBOX' } },
          h('h4', { id }, `${mb.user} — ${mb.mailbox} `, h('span', { class: 'count' }, `${mb.messages.length} message${mb.messages.length === 1 ? '' : 's'}`),
            mb.full ? [' ', h('span', { class: 'state down', title: 'A teacher filled it (World tab): new mail waits in the queue, 452 4.2.2' }, 'FULL')] : null),
          mb.mailbox === 'Junk'
            ? h('p', { class: 'muted' }, `on ${host.name}: mail that failed DMARC, from a domain whose policy is p=quarantine, is filed here instead of the INBOX (its Authentication-Results say policy.dmarc=quarantine).`)
            : h('p', { class: 'muted' }, `on ${host.name}; log in as `, h('code', {}, mb.user), ' with password ', h('code', {}, pass.get(mb.user) || '?')));
        if (!mb.messages.length) {
          sec.append(h('p', { class: 'empty' }, 'Empty.'));
        } else {
          const tbody = h('tbody');
          const shown = mb.messages.slice(-MAX_ROWS);
          if (shown.length < mb.messages.length) {
            sec.append(h('p', { class: 'muted' }, `The newest ${shown.length} of ${mb.messages.length} messages.`));
          }
          for (const m of shown) {
            tbody.append(h('tr', {},
              h('td', {}, m.uid),
              h('td', {}, m.from || ''),
              h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => this.actions.openMessage(mb.user, m.uid, mb.mailbox) }, m.subject || '(no subject)')),
              h('td', {}, clockTime(m.date)),
              h('td', { class: 'num' }, m.size),
              h('td', {}, (m.flags || []).join(' '))));
          }
          sec.append(h('table', { class: 'list' },
            h('caption', { class: 'vh' }, `Messages in ${mb.user}'s ${mb.mailbox}`),
            h('thead', {}, h('tr', {}, ['UID', 'From', 'Subject', 'Date', 'Size', 'Flags'].map((x) => h('th', { scope: 'col' }, x)))),
            tbody));
        }
        root.append(sec);
      }
    }
    if (!any) root.append(h('p', {}, 'This world keeps no mailboxes.'));
  }
}

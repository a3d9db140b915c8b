// The compose form: the MUA. It sends through the same path as the
// scripted mail client: from the sender's machine to their MSA on port
// 587 (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA).
import { h, clear } from './dom.js';

export class Compose {
  constructor(root, model, actions) {
    this.root = root;
    this.model = model;
    this.actions = actions; // {followMessage(msg, label)}
    this.count = 0;
    this.build();
    model.addEventListener('state', () => this.refresh());
  }

  build() {
    this.from = h('select', { id: 'c-from', required: true });
    this.to = h('input', { type: 'text', id: 'c-to', list: 'c-users', required: true, autocomplete: 'off', spellcheck: 'false' });
    this.users = h('datalist', { id: 'c-users' });
    this.subject = h('input', { type: 'text', id: 'c-subject', value: 'Lunch on Friday?' });
    this.body = h('textarea', { id: 'c-body', rows: 5 }, 'Hi Bob,\n\nshall we have lunch on Friday?\n\nAlice');
    this.button = h('button', { type: 'submit', class: 'primary', id: 'c-send' }, 'Send');
    this.result = h('div', { class: 'result', role: 'status', 'aria-live': 'polite' });
    this.error = h('p', { class: 'error', role: 'alert', hidden: true });
    this.form = h('form', { class: 'compose', 'aria-labelledby': 'compose-h', onsubmit: (e) => { e.preventDefault(); this.send(); } },
      h('h3', { id: 'compose-h' }, 'Write a message'),
      h('p', { class: 'muted' }, 'Sent from the sender’s own machine to their MSA on port 587: EHLO, STARTTLS, AUTH PLAIN, MAIL FROM, RCPT TO, DATA — the path every mail program takes.'),
      h('div', { class: 'fieldgrid' },
        h('label', { for: 'c-from' }, 'From'), this.from,
        h('label', { for: 'c-to' }, 'To'), this.to,
        h('label', { for: 'c-subject' }, 'Subject'), this.subject,
        h('label', { for: 'c-body' }, 'Body'), this.body),
      this.users,
      h('div', { class: 'actions' }, this.button),
      this.error,
      this.result);
    this.root.append(this.form);
  }

  refresh() {
    const st = this.model.state;
    if (!st) return;
    const key = `${st.world}|${st.users.map((u) => u.address).join()}|${st.hosts.map((x) => x.name).join()}`;
    if (key === this.key) return;
    this.key = key;
    const keep = this.from.value;
    clear(this.from);
    clear(this.users);
    const senders = st.hosts.filter((x) => x.roles.includes('mua') && x.msa && x.user).map((x) => x.user);
    for (const u of senders) this.from.append(h('option', { value: u }, u));
    for (const u of st.users) this.users.append(h('option', { value: u.address }));
    if (keep && senders.includes(keep)) this.from.value = keep;
    if (!this.to.value) {
      const other = st.users.find((u) => u.address !== this.from.value);
      if (other) this.to.value = other.address;
    }
    this.button.disabled = !senders.length;
  }

  async send() {
    this.error.hidden = true;
    this.button.disabled = true;
    const subject = this.subject.value;
    try {
      const sent = await this.model.api.send({
        from: this.from.value, to: this.to.value, subject, body: this.body.value,
      });
      this.count += 1;
      const label = `${subject || '(no subject)'} — ${this.from.value} → ${this.to.value}`;
      if (sent.msg) this.actions.labelMessage(sent.msg, label);
      clear(this.result).append(
        h('p', {}, `Accepted by ${sent.msa}: queued as `, h('code', {}, sent.queue_id), '. Watch it travel in the network and the timeline.'),
        sent.msg ? h('button', { type: 'button', class: 'small', onclick: () => this.actions.followMessage(sent.msg) }, 'Show only this message in the timeline') : null);
    } catch (err) {
      // An earlier success must not stand beside this failure.
      clear(this.result);
      this.error.textContent = err.message;
      this.error.hidden = false;
    } finally {
      this.button.disabled = false;
    }
  }
}

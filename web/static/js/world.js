// The world panel: its users and passwords (a teaching world), the
// faults a teacher can break things with (a host down, a link cut, DNS
// answering badly), and loading another world.
import { h, clear, announce } from './dom.js';
import { links, COMPACT } from './topology.js';

const DNS_MODES = [
  ['', 'answers normally'],
  ['servfail', 'SERVFAIL (server failure)'],
  ['refused', 'REFUSED'],
  ['drop', 'no answer at all'],
];

export class WorldPanel {
  constructor(root, model, actions) {
    this.root = root;
    this.model = model;
    this.actions = actions; // {load(nameOrText, {seed})}
    model.addEventListener('state', () => this.render());
    model.addEventListener('worlds', () => this.fillWorlds());
    model.addEventListener('reveal', (e) => {
      if (e.detail.events.some((x) => x.kind === 'host' || x.kind === 'link' || x.kind === 'fault')) this.render();
    });
  }

  async fault(f, done) {
    if (this.model.cursor) {
      announce('You are looking at the past: go back to now to change the world', 'error');
      return;
    }
    try {
      const st = await this.model.api.fault(f);
      this.model.snapshots.push(st);
      this.model.wantState();
      announce(done);
    } catch (err) {
      announce(err.message, 'error');
    }
  }

  render() {
    const st = this.model.state;
    if (!st) return;
    // Only what this panel shows: hosts up or down, links, faults.
    const v = this.model.view;
    const key = `${st.world}|${st.rewound ?? ''}|${st.seed ?? ''}|${st.hosts.map((x) => `${x.name}:${!!v.down.get(x.name)}`).join()}|${[...v.cuts].join()}|${(st.faults || []).length}`;
    if (key === this.key) return;
    this.key = key;
    const focusKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : '';
    const root = clear(this.root);

    root.append(h('h3', {}, `World: ${st.name}`), st.description ? h('p', { class: 'muted' }, st.description) : null);
    if (st.seed !== undefined) root.append(h('p', { class: 'muted seed-line' }, `Seed ${st.seed}: the same seed and the same actions give the same trace, message ids and keys.`));
    const past = st.rewound !== undefined;
    if (past) {
      root.append(h('p', { class: 'rewound-note' }, `As it was at event ${st.rewound}. To break something, go back to now first (Play, or “Back to now”).`));
    }

    root.append(h('h4', { id: 'users-h' }, 'Users and passwords'),
      h('table', { class: 'list', 'aria-labelledby': 'users-h' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Address'), h('th', { scope: 'col' }, 'Password'), h('th', { scope: 'col' }, 'Their machine'))),
        h('tbody', {}, st.users.map((u) => h('tr', {},
          h('td', {}, h('code', {}, u.address)), h('td', {}, h('code', {}, u.password)),
          h('td', {}, st.hosts.filter((x) => x.user === u.address).map((x) => x.name).join(', ') || '—'))))));

    // In a large world, the tables of hosts and links fold away until
    // opened: hundreds of rows are not laid out for nothing, and the end
    // of the panel (another world) stays in reach.
    this.unfolded = this.unfolded || {};
    const fold = (key, summary, table) => {
      if (st.hosts.length <= COMPACT) return table;
      const d = h('details', { class: 'fold' }, h('summary', {}, summary), table);
      d.open = !!this.unfolded[key];
      d.addEventListener('toggle', () => { this.unfolded[key] = d.open; });
      return d;
    };
    const hostRows = st.hosts.map((x) => {
      const down = !!v.down.get(x.name);
      return h('tr', {},
        h('td', {}, x.name),
        h('td', {}, h('span', { class: `state ${down ? 'down' : 'up'}` }, down ? 'DOWN' : 'up')),
        h('td', {}, h('button', {
          type: 'button', class: 'small', 'aria-pressed': String(down), dataset: { key: `host:${x.name}` }, disabled: past,
          'aria-label': `${down ? 'Bring up' : 'Take down'} ${x.name}`,
          onclick: () => this.fault({ kind: down ? 'host-up' : 'host-down', host: x.name }, `${x.name} is ${down ? 'up' : 'down'}`),
        }, down ? 'Bring up' : 'Take down')));
    });
    root.append(h('h4', { id: 'faults-h' }, 'Break something'),
      h('p', { class: 'muted' }, 'A host that is down refuses nothing: it just does not answer. Mail waits in the queue and is tried again later — advance the clock to see the retries.'),
      fold('hosts', `The ${st.hosts.length} hosts: take one down`, h('table', { class: 'list', 'aria-label': 'Hosts' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Host'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Fault'))),
        h('tbody', {}, hostRows))));

    const linkRows = [...links(st).values()].map((l) => {
      const cut = v.cuts.has(l.key);
      return h('tr', {},
        h('td', {}, `${l.a} ↔ ${l.b}`),
        h('td', {}, h('span', { class: `state ${cut ? 'down' : 'up'}` }, cut ? 'CUT' : 'connected')),
        h('td', {}, h('button', {
          type: 'button', class: 'small', 'aria-pressed': String(cut), dataset: { key: `link:${l.key}` }, disabled: past,
          'aria-label': `${cut ? 'Restore' : 'Cut'} the link ${l.a} to ${l.b}`,
          onclick: () => this.fault({ kind: cut ? 'link-restore' : 'link-cut', host: l.a, peer: l.b }, `link ${l.a} ↔ ${l.b} ${cut ? 'restored' : 'cut'}`),
        }, cut ? 'Restore' : 'Cut')));
    });
    root.append(fold('links', `The ${linkRows.length} links: cut one`, h('table', { class: 'list', 'aria-label': 'Links' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Link'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Fault'))),
      h('tbody', {}, linkRows))));

    for (const dns of st.hosts.filter((x) => x.roles.includes('dns'))) {
      const id = `dns-${dns.name.replace(/\W/g, '-')}`;
      const mode = h('select', { id: `${id}-mode`, dataset: { key: `dns:${dns.name}` } }, DNS_MODES.map(([m, label]) => h('option', { value: m }, label)));
      // What the server does now, from the world's faults (a scenario may
      // start broken), not from what this page last asked.
      const now = dns.dns_faults || [];
      const first = now[0] || { mode: '', name: '' };
      mode.value = first.mode;
      const name = h('input', { type: 'text', id: `${id}-name`, placeholder: 'every name', spellcheck: 'false', autocomplete: 'off', value: (first.name || '').replace(/\.$/, '') });
      root.append(h('p', { class: now.length ? 'dns-state broken' : 'dns-state' },
        now.length ? `${dns.name} now answers ${now.map((f) => `${f.mode.toUpperCase()} for ${(f.name || '').replace(/\.$/, '') || 'every name'}`).join(', ')}. Choose “answers normally” for every name to mend it.` : `${dns.name} answers normally.`));
      root.append(h('form', {
        class: 'dns-fault', 'aria-label': `DNS answers of ${dns.name}`,
        onsubmit: (e) => {
          e.preventDefault();
          this.fault({ kind: 'dns', host: dns.name, mode: mode.value, name: name.value.trim() },
            `${dns.name} ${mode.value ? `answers ${mode.value}` : 'answers normally'}`);
        },
      },
      h('label', { for: `${id}-mode` }, `${dns.name}`), mode,
      h('label', { for: `${id}-name` }, 'for'), name,
      h('button', { type: 'submit', class: 'small', disabled: past }, 'Apply')));
    }

    // A full mailbox: its host's LMTP (or the queue delivering there)
    // answers 452 4.2.2, and the mail waits in the queue for room.
    const inboxes = st.hosts.flatMap((x) => (x.mailboxes || []).filter((mb) => mb.mailbox === 'INBOX').map((mb) => ({ host: x.name, ...mb })));
    if (inboxes.length) {
      const rows = inboxes.map((mb) => h('tr', {},
        h('td', {}, h('code', {}, mb.user)),
        h('td', {}, mb.host),
        h('td', {}, h('span', { class: `state ${mb.full ? 'down' : 'up'}` }, mb.full ? 'FULL' : 'has room')),
        h('td', {}, h('button', {
          type: 'button', class: 'small', 'aria-pressed': String(!!mb.full), dataset: { key: `mailbox:${mb.user}` }, disabled: past,
          'aria-label': `${mb.full ? 'Make room in' : 'Fill up'} the mailbox of ${mb.user}`,
          onclick: () => this.fault({ kind: mb.full ? 'mailbox-room' : 'mailbox-full', host: mb.host, name: mb.user }, `${mb.user}'s mailbox ${mb.full ? 'has room again' : 'is full'}`),
        }, mb.full ? 'Make room' : 'Fill up'))));
      root.append(h('p', { class: 'muted' }, 'A full mailbox takes no more mail: its server answers 452 4.2.2 (mailbox full, try again later), and the message waits in the sender’s queue until there is room.'),
        fold('mailboxes', `The ${rows.length} mailboxes: fill one up`, h('table', { class: 'list', 'aria-label': 'Mailboxes' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'User'), h('th', { scope: 'col' }, 'Kept on'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Fault'))),
          h('tbody', {}, rows))));
    }

    if ((st.faults || []).length) {
      root.append(h('h4', {}, 'Faults so far'), h('ol', { class: 'faults' },
        st.faults.map((f) => h('li', {}, [f.kind, f.host, f.peer, f.port, f.mode, f.name].filter(Boolean).join(' ')))));
    }

    if (!this.loader) this.loader = this.buildLoader();
    this.pick.value = st.name;
    if (document.activeElement !== this.seed && st.seed !== undefined) this.seed.value = String(st.seed);
    root.append(this.loader);

    if (focusKey) {
      const again = root.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      const folded = again && again.closest('details:not([open])');
      if (folded) folded.open = true;
      if (again) again.focus();
    }
  }

  fillWorlds() {
    if (!this.pick) return;
    const keep = this.pick.value || (this.model.state && this.model.state.name);
    clear(this.pick);
    for (const w of this.model.worlds) this.pick.append(h('option', { value: w.name, title: w.description || '' }, w.name));
    if (keep) this.pick.value = keep;
  }

  // buildLoader makes the form that loads another world, once, so that
  // what a teacher types survives the updates of the rest.
  buildLoader() {
    const pick = h('select', { id: 'w-pick' });
    this.pick = pick;
    const seed = h('input', {
      type: 'number', id: 'w-seed', min: 1, step: 1, value: 1, class: 'seed', inputmode: 'numeric',
      'aria-describedby': 'w-seed-hint',
    });
    this.seed = seed;
    const opts = () => {
      const n = Number(seed.value);
      return Number.isSafeInteger(n) && n >= 1 ? { seed: n } : {};
    };
    this.fillWorlds();
    const text = h('textarea', { id: 'w-text', rows: 6, spellcheck: 'false', placeholder: 'name: my-world\nhosts:\n  - name: …' });
    const file = h('input', { type: 'file', id: 'w-file', accept: '.yaml,.yml,.json,text/plain,application/json' });
    file.addEventListener('change', async () => {
      if (file.files[0]) text.value = await file.files[0].text();
    });
    // A mistake in the file stays beside the text until the next try.
    const fileError = h('p', { class: 'error', id: 'w-text-error', role: 'alert', hidden: true });
    const loadText = async () => {
      if (!text.value.trim()) return;
      const err = await this.actions.load(text.value, opts());
      fileError.textContent = err ? err.message : '';
      fileError.hidden = !err;
      text.setAttribute('aria-invalid', String(!!err));
    };
    text.setAttribute('aria-describedby', 'w-text-error');
    return h('div', { class: 'loader' }, h('h4', {}, 'Another world'),
      h('div', { class: 'row' }, h('label', { for: 'w-seed' }, 'Seed'), seed,
        h('span', { class: 'muted', id: 'w-seed-hint' }, 'for the next world loaded (message ids, keys): the same seed, the same trace')),
      h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); this.actions.load(pick.value, opts()); } },
        h('label', { for: 'w-pick' }, 'Built-in world'), pick, h('button', { type: 'submit', class: 'small' }, 'Load')),
      h('form', { class: 'world-file', onsubmit: (e) => { e.preventDefault(); loadText(); } },
        h('label', { for: 'w-text' }, 'Or a world file of your own (YAML or JSON; see the README for the format)'), text,
        fileError,
        h('div', { class: 'row' }, h('label', { for: 'w-file' }, 'from a file'), file, h('button', { type: 'submit', class: 'small' }, 'Load this world'))));
  }
}

// Terminals: telnet from any host of the world to any port of another,
// several at once (tabs). Lines typed are sent as they are; replies show
// as they come, each with what it means and its RFC, in wire order: a
// line typed shows at once, before the server's reply to it (the session
// reports it, so pipelined lines and pastes keep their order). Notes are
// one line, expanded by a click, or all in full, or hidden ("bare", as
// telnet shows it). After a 354 the
// terminal is in DATA mode, as a real client is, until a line holding
// only "." ends the message. ↑ and ↓ recall earlier lines; an AUTH PLAIN
// helper builds the base64 of "\0user\0password".
import { h, clear, newId, announce } from './dom.js';
import { splitNote, portName, PROTO_NAMES } from './format.js';

const PRESETS = [
  { from: 'bob-pc', to: 'mx.example.net', port: 25, what: 'an MX: deliver a message by hand, no login' },
  { from: 'alice-pc', to: 'mail.example.org', port: 587, what: 'submission: STARTTLS, then AUTH PLAIN' },
  { from: 'bob-pc', to: 'store.example.net', port: 110, what: 'POP3: read bob’s mail' },
  { from: 'bob-pc', to: 'store.example.net', port: 143, what: 'IMAP: read bob’s mail' },
];

export class Terminals {
  constructor(root, model) {
    this.root = root;
    this.model = model;
    this.terms = [];
    this.build();
    model.addEventListener('state', () => this.refreshForm());
  }

  build() {
    this.tablist = h('div', { class: 'term-tabs', role: 'tablist', 'aria-label': 'Terminals' });
    this.newTab = h('button', { type: 'button', class: 'term-new', onclick: () => this.showForm() }, '+ New connection');
    this.from = h('select', { id: 'term-from', onchange: () => this.refreshForm() });
    // Any host or address, any port: a refused port or an address
    // nobody has is a lesson too.
    this.toList = h('datalist', { id: 'term-to-list' });
    this.portList = h('datalist', { id: 'term-port-list' });
    this.to = h('input', { type: 'text', id: 'term-to', list: 'term-to-list', autocomplete: 'off', spellcheck: 'false', size: 18, oninput: () => this.refreshPorts(), onchange: () => this.refreshPorts() });
    this.port = h('input', { type: 'number', id: 'term-port', list: 'term-port-list', min: 1, max: 65535, step: 1, required: true, class: 'port' });
    this.portHelp = h('p', { class: 'muted', id: 'term-port-help' });
    this.formError = h('p', { class: 'error', role: 'alert', hidden: true });
    this.presets = h('div', { class: 'presets' });
    this.form = h('form', { class: 'term-form', 'aria-labelledby': 'term-form-h', onsubmit: (e) => { e.preventDefault(); this.open(this.from.value, this.to.value, Number(this.port.value)); } },
      h('h3', { id: 'term-form-h' }, 'Open a connection, as telnet would'),
      h('div', { class: 'row' },
        h('label', { for: 'term-from' }, 'From host'), this.from,
        h('label', { for: 'term-to' }, 'to host'), this.to,
        h('label', { for: 'term-port' }, 'port'), this.port,
        h('button', { type: 'submit', class: 'primary' }, 'Connect')),
      this.toList, this.portList, this.portHelp,
      this.formError,
      h('p', { class: 'muted' }, 'Or start from one of these:'),
      this.presets);
    this.views = h('div', { class: 'term-views' });
    this.mode = h('select', { id: 'term-mode', title: 'How replies are explained', onchange: () => this.setMode(this.mode.value) },
      h('option', { value: 'line' }, 'explained, one line each'),
      h('option', { value: 'full' }, 'explained in full'),
      h('option', { value: 'bare' }, 'bare, as telnet shows it'));
    this.root.append(h('div', { class: 'term-bar' }, this.tablist, this.newTab,
      h('label', { class: 'term-mode', for: 'term-mode' }, h('span', { class: 'vh' }, 'Explanations: '), this.mode)), this.form, this.views);
    let mode = 'line';
    try { mode = localStorage.getItem('mailhop.termMode') || 'line'; } catch { /* storage off */ }
    this.setMode(mode);
    for (const p of PRESETS) {
      this.presets.append(h('button', { type: 'button', class: 'preset', dataset: { preset: `${p.from}>${p.to}:${p.port}` }, onclick: () => this.open(p.from, p.to, p.port) },
        h('strong', {}, `${p.from} → ${p.to}:${p.port}`), h('span', {}, p.what)));
    }
  }

  hosts() {
    return this.model.state ? this.model.state.hosts : [];
  }

  // setMode: "line" (each note on one line, a click shows it whole),
  // "full", or "bare" (no notes, as telnet).
  setMode(mode) {
    if (!['line', 'full', 'bare'].includes(mode)) mode = 'line';
    this.mode.value = mode;
    this.root.dataset.notes = mode;
    try { localStorage.setItem('mailhop.termMode', mode); } catch { /* storage off */ }
  }

  refreshForm() {
    const hosts = this.hosts();
    const key = hosts.map((x) => `${x.name}:${x.ports.join(',')}`).join(' ');
    if (key === this.formKey) return;
    this.formKey = key;
    const keep = this.from.value;
    clear(this.from);
    clear(this.toList);
    for (const x of hosts) {
      this.from.append(h('option', { value: x.name }, x.name));
      this.toList.append(h('option', { value: x.name }, `${x.addrs.join(', ')}${x.ports.length ? '' : ' (no open ports)'}`));
      for (const a of x.addrs) this.toList.append(h('option', { value: a }, x.name));
    }
    if (keep) this.from.value = keep;
    if (!this.from.value && hosts.length) this.from.value = hosts[0].name;
    if (!this.to.value) {
      const first = hosts.find((x) => x.ports.length);
      if (first) this.to.value = first.name;
    }
    this.refreshPorts();
    for (const b of this.presets.querySelectorAll('.preset')) {
      const [from, rest] = b.dataset.preset.split('>');
      const [to] = rest.split(':');
      b.hidden = !hosts.some((x) => x.name === from) || !hosts.some((x) => x.name === to);
    }
  }

  refreshPorts() {
    const to = this.to.value.trim();
    const host = this.hosts().find((x) => x.name === to || x.addrs.includes(to));
    const ports = host ? host.ports : [];
    clear(this.portList);
    for (const p of ports) this.portList.append(h('option', { value: p }, portName(p)));
    if (!this.port.value && ports.length) this.port.value = ports[0];
    this.portHelp.textContent = host
      ? (ports.length ? `${host.name} listens on ${ports.map(portName).join(', ')}. Any other port is refused.` : `${host.name} listens on no port: every connection is refused.`)
      : (to ? `${to} is no host of this world: try it to see what “no route to host” means.` : '');
  }

  showForm(focus = true) {
    this.form.hidden = false;
    for (const t of this.terms) this.hide(t);
    if (focus) this.from.focus();
  }

  hide(t) {
    t.tab.setAttribute('aria-selected', 'false');
    t.tab.tabIndex = -1;
    t.view.hidden = true;
  }

  activate(t, focus) {
    for (const o of this.terms) if (o !== t) this.hide(o);
    this.form.hidden = true;
    t.tab.setAttribute('aria-selected', 'true');
    t.tab.tabIndex = 0;
    t.view.hidden = false;
    if (focus) t.input.focus();
  }

  async open(from, to, port) {
    this.formError.hidden = true;
    to = String(to).trim();
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      this.formError.textContent = 'The port is a number from 1 to 65535.';
      this.formError.hidden = false;
      this.showForm();
      return null;
    }
    let session;
    try {
      session = await this.model.api.connect(from, to, port);
    } catch (err) {
      // Refused, unreachable: shown as telnet shows it, in a terminal.
      const d = err.dial;
      if (!d) {
        this.formError.textContent = err.message;
        this.formError.hidden = false;
        this.showForm();
        return null;
      }
      const t = this.view(failedSession(from, to, port), from, to, port);
      this.line(t, { dir: 'info', text: d.trying });
      this.line(t, { dir: 'info', text: `telnet: Unable to connect to remote host: ${d.reason}`, note: d.note || '' });
      this.closed(t, 'never opened');
      this.activate(t, true);
      return t;
    }
    const t = this.view(session, from, to, port);
    this.activate(t, true);
    return t;
  }

  view(session, from, to, port) {
    const id = newId('term');
    const proto = session.proto;
    const t = { session, from, to, port, proto, history: [], hpos: 0, data: false, closed: false };
    t.tab = h('button', {
      type: 'button', role: 'tab', id: `${id}-tab`, 'aria-controls': id, 'aria-selected': 'false', tabindex: -1,
      onclick: () => this.activate(t, true),
      onkeydown: (e) => this.tabKey(e, t),
    }, h('span', { class: 'dot', 'aria-hidden': 'true' }), `${from} → ${to}:${port}`);
    // The log takes the focus (tabindex) so that it scrolls by keyboard.
    t.out = h('div', { class: 'term-out', role: 'log', tabindex: 0, 'aria-live': 'polite', 'aria-label': `Conversation with ${to} port ${port}`, onclick: (e) => this.expand(e) });
    t.notes = new Set();
    t.input = h('input', {
      type: 'text', id: `${id}-in`, class: 'term-in', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false',
      'aria-describedby': `${id}-hint`, onkeydown: (e) => this.inputKey(e, t), onpaste: (e) => this.paste(e, t),
    });
    t.prompt = h('label', { for: `${id}-in`, class: 'prompt' }, 'C:');
    t.hint = h('p', { id: `${id}-hint`, class: 'hint' });
    t.status = h('span', { class: 'term-status' }, 'connected');
    t.authBtn = h('button', { type: 'button', class: 'small', 'aria-expanded': 'false', onclick: () => this.toggleAuth(t) }, 'AUTH PLAIN helper');
    t.closeBtn = h('button', { type: 'button', class: 'small', onclick: () => this.close(t) }, 'Close');
    // What ends each line typed: CRLF as the protocols want, or a bare LF
    // (as nc without -C), for the smuggling lesson.
    t.eolSel = h('select', { class: 'small eol', id: `${id}-eol`, title: 'What ends each line you send' },
      h('option', { value: 'crlf' }, 'CRLF'), h('option', { value: 'lf' }, 'LF only'));
    t.recv = []; // the server's lines so far (a solution waits on them)
    t.auth = this.authForm(t);
    t.view = h('section', { class: 'term', id, role: 'tabpanel', 'aria-labelledby': `${id}-tab`, hidden: true },
      h('div', { class: 'term-head' },
        h('span', { class: 'term-title' }, PROTO_NAMES[proto] || proto, h('span', { class: 'vh' }, ` from ${from} to ${to} port ${port}`)),
        t.status, h('span', { class: 'grow' }),
        h('label', { for: `${id}-eol`, class: 'eol-label' }, 'line end'), t.eolSel, t.authBtn, t.closeBtn),
      t.auth,
      t.out,
      h('div', { class: 'term-input' }, t.prompt, t.input, h('button', { type: 'button', class: 'small', onclick: () => this.submit(t) }, 'Send')),
      t.hint);
    this.tablist.append(t.tab);
    this.views.append(t.view);
    this.terms.push(t);
    this.updateHint(t);
    session.onLine((text, line) => this.line(t, line || { dir: 'recv', text }));
    session.onClose((reason) => this.closed(t, reason));
    return t;
  }

  tabKey(e, t) {
    const i = this.terms.indexOf(t);
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % this.terms.length;
    if (e.key === 'ArrowLeft') j = (i - 1 + this.terms.length) % this.terms.length;
    if (e.key === 'Home') j = 0;
    if (e.key === 'End') j = this.terms.length - 1;
    if (e.key === 'Delete') {
      this.remove(t);
      e.preventDefault();
      return;
    }
    if (j >= 0) {
      e.preventDefault();
      this.activate(this.terms[j], false);
      this.terms[j].tab.focus();
    }
  }

  // line shows one line with its meaning. A note already shown in this
  // terminal is not repeated: "as above", which a click opens.
  line(t, l) {
    if (l.dir === 'recv' && !Terminals.replied) {
      Terminals.replied = true;
      performance.mark('mailhop:first-reply');
    }
    const { text, rfc } = splitNote(l.note);
    const who = { recv: 'S:', send: 'C:', info: '' }[l.dir] ?? '';
    let note = null;
    if (text || rfc) {
      const again = l.dir !== 'info' && t.notes.has(l.note);
      t.notes.add(l.note);
      note = h('span', { class: `note${again ? ' again' : ''}`, title: l.note },
        again ? h('span', { class: 'as-above' }, '↑ as above') : null,
        h('span', { class: 'full' }, text, rfc ? h('cite', {}, rfc) : null));
    }
    const li = h('div', { class: `line ${l.dir}${l.tls ? ' tls' : ''}`, dataset: { dir: l.dir } },
      h('span', { class: 'who' }, l.tls && l.dir !== 'info' ? h('span', { class: 'lock', title: 'inside TLS' }, 'TLS') : null, who),
      h('span', { class: 'text' }, l.text === '' ? '⏎' : l.text, l.eol === 'lf' ? h('span', { class: 'bare-lf', title: 'ended with a bare LF, not CRLF' }, '␊ bare LF') : null),
      note);
    if (l.dir === 'recv') t.recv.push(l.text);
    const atEnd = t.out.scrollTop + t.out.clientHeight >= t.out.scrollHeight - 30;
    t.out.append(li);
    if (t.out.childElementCount > 2000) t.out.firstElementChild.remove();
    if (atEnd) t.out.scrollTop = t.out.scrollHeight;
    if (l.dir !== 'info' && !!l.data !== t.data) {
      t.data = !!l.data;
      this.updateHint(t);
    }
    if (l.dir === 'send') this.lastSent(t);
  }

  // expand opens (or closes) the note of the line clicked.
  expand(e) {
    const li = e.target.closest('.line');
    if (li && li.querySelector('.note') && !window.getSelection().toString()) li.classList.toggle('open');
  }

  // lastSent: in DATA mode, a learner who stops typing is reminded, well
  // before the server's timeout, how a message ends.
  lastSent(t) {
    clearTimeout(t.nudge);
    t.hint.classList.remove('nudge');
    if (!t.data) return;
    t.nudge = setTimeout(() => {
      if (!t.data || t.closed) return;
      t.hint.classList.add('nudge');
      t.hint.textContent = 'Still in DATA mode: the server waits for the end of the message, a line holding only “.”. Without it, the server gives up after its timeout (421 4.4.2) and the message is lost.';
    }, 20000);
  }

  updateHint(t) {
    if (t.closed) {
      t.hint.textContent = 'The connection is closed. Open a new one with “+ New connection”.';
      t.prompt.textContent = '—';
      return;
    }
    if (t.data) {
      t.prompt.textContent = 'DATA›';
      t.hint.textContent = 'DATA mode: type the message line by line — header fields (Subject: …), an empty line, the body — and end with a line holding only “.”';
    } else {
      t.prompt.textContent = 'C:';
      const tips = {
        smtp: 'Try HELO (or EHLO) with a name, then MAIL FROM:<…>, RCPT TO:<…>, DATA, QUIT.',
        lmtp: 'Try LHLO, MAIL FROM:<…>, RCPT TO:<…>, DATA, QUIT.',
        pop3: 'Try USER bob@example.net, PASS bob (after STLS), LIST, RETR 1, QUIT.',
        imap: 'Try a1 CAPABILITY, a2 STARTTLS, a3 LOGIN bob@example.net bob, a4 SELECT INBOX, a5 FETCH 1 BODY[], a6 LOGOUT.',
      };
      t.hint.textContent = `Enter sends the line; ↑ ↓ recall earlier ones. ${tips[t.proto] || ''}`;
    }
  }

  inputKey(e, t) {
    if (e.key === 'Enter') {
      e.preventDefault();
      this.submit(t);
    } else if (e.key === 'ArrowUp') {
      if (t.hpos > 0) {
        t.hpos -= 1;
        t.input.value = t.history[t.hpos];
        e.preventDefault();
      }
    } else if (e.key === 'ArrowDown') {
      if (t.hpos < t.history.length) {
        t.hpos += 1;
        t.input.value = t.history[t.hpos] ?? '';
        e.preventDefault();
      }
    }
  }

  // paste sends a pasted block line by line, as a terminal would.
  paste(e, t) {
    const text = (e.clipboardData || window.clipboardData).getData('text');
    if (!text.includes('\n')) return;
    e.preventDefault();
    const lines = text.replace(/\r\n/g, '\n').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    (async () => {
      for (const l of lines) await this.sendLine(t, l);
    })();
  }

  submit(t) {
    const line = t.input.value;
    t.input.value = '';
    this.sendLine(t, line);
  }

  async sendLine(t, text, eol) {
    if (t.closed) return;
    eol = eol || t.eolSel.value;
    if (!t.data && text !== '' && t.history[t.history.length - 1] !== text) t.history.push(text);
    t.hpos = t.history.length;
    try {
      // The line comes back through onLine, in wire order.
      await t.session.send(text, eol === 'lf' ? { eol } : undefined);
    } catch (err) {
      this.line(t, { dir: 'info', text: err.message });
    }
  }

  closed(t, reason) {
    t.closed = true;
    clearTimeout(t.nudge);
    if (reason === 'never opened') {
      t.status.textContent = 'not connected';
      t.view.classList.add('is-closed');
      t.tab.classList.add('is-closed');
      t.input.disabled = true;
      t.closeBtn.textContent = 'Remove';
      this.updateHint(t);
      return;
    }
    const text = reason === 'closed by the server' ? 'Connection closed by foreign host.' : `Connection ${reason}.`;
    this.line(t, { dir: 'info', text });
    t.status.textContent = 'closed';
    t.view.classList.add('is-closed');
    t.tab.classList.add('is-closed');
    t.input.disabled = true;
    t.closeBtn.textContent = 'Remove';
    this.updateHint(t);
  }

  async close(t) {
    if (t.closed) return this.remove(t);
    try {
      await t.session.close();
    } catch (err) {
      announce(err.message, 'error');
    }
    return null;
  }

  remove(t) {
    if (!t.closed) t.session.close().catch(() => {});
    const i = this.terms.indexOf(t);
    this.terms.splice(i, 1);
    t.tab.remove();
    t.view.remove();
    const next = this.terms[Math.min(i, this.terms.length - 1)];
    if (next) this.activate(next, true);
    else this.showForm();
  }

  // --- AUTH PLAIN ---

  authForm(t) {
    const id = newId('auth');
    const state = this.model.state;
    const me = state && state.hosts.find((x) => x.name === t.from);
    const users = state ? state.users : [];
    const guess = users.find((u) => me && u.address === me.user) || users[0] || { address: '', password: '' };
    const user = h('input', { type: 'text', id: `${id}-u`, value: guess.address, autocomplete: 'off', spellcheck: 'false' });
    const pass = h('input', { type: 'text', id: `${id}-p`, value: guess.password, autocomplete: 'off', spellcheck: 'false' });
    const out = h('output', { for: `${id}-u ${id}-p`, class: 'auth-out' });
    const explain = h('p', { class: 'muted' });
    const cmd = () => {
      const b64 = plain(user.value, pass.value);
      if (t.proto === 'imap') return `a1 AUTHENTICATE PLAIN ${b64}`;
      return `AUTH PLAIN ${b64}`;
    };
    const update = () => {
      out.textContent = cmd();
      explain.textContent = `base64 of “\\0${user.value}\\0${pass.value}”: an empty authorization identity, the user, the password, each after a NUL byte (RFC 4616). Base64 is an encoding, not encryption: send it only inside TLS (after STARTTLS).`;
    };
    user.addEventListener('input', update);
    pass.addEventListener('input', update);
    update();
    const box = h('div', { class: 'auth', hidden: true, role: 'group', 'aria-label': 'AUTH PLAIN helper' },
      h('label', { for: `${id}-u` }, 'user'), user,
      h('label', { for: `${id}-p` }, 'password'), pass,
      h('button', { type: 'button', class: 'small primary', onclick: () => { t.input.value = cmd(); t.input.focus(); } }, 'Put it in the line'),
      out, explain);
    return box;
  }

  toggleAuth(t) {
    const open = t.auth.hidden;
    t.auth.hidden = !open;
    t.authBtn.setAttribute('aria-expanded', String(open));
    if (open) t.auth.querySelector('input').focus();
  }
}

// failedSession stands for a connection that was never made.
function failedSession(from, to, port) {
  return {
    from, to, port, proto: 'tcp',
    send: () => Promise.reject(new Error('not connected')),
    close: () => Promise.resolve(),
    onLine: () => () => {},
    onClose: () => () => {},
  };
}

// plain returns base64("\0user\0password") of UTF-8 text.
export function plain(user, password) {
  const bytes = new TextEncoder().encode(`\0${user}\0${password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

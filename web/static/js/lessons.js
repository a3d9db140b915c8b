// Lessons: the "Start here" panel lists the course (each lesson not
// started, in progress or done, remembered in this browser), and runs one:
// its goal, its steps with hints that show when the student is stuck, and
// its checks, which the simulation evaluates against the trace and the
// world after every event; their news shows as the page reveals it. A
// strip above the tools keeps the next thing to do in sight while the
// student types in a terminal. "Show me" plays the lesson's own solution
// through the terminal, line by line.
import { h, clear, announce, append } from './dom.js';

const STORE = 'mailhop.lessons';
const STATE_WORDS = { 'not-started': 'not started', 'in-progress': 'in progress', done: 'done' };
const STUCK_MS = 60000; // no new check for this long: the hint shows

// saved reads the states this browser remembers: {id: state}.
function saved() {
  try {
    return JSON.parse(localStorage.getItem(STORE) || '{}') || {};
  } catch {
    return {};
  }
}

function save(id, state) {
  const all = saved();
  if (all[id] === 'done') return; // done stays done
  all[id] = state;
  try { localStorage.setItem(STORE, JSON.stringify(all)); } catch { /* storage off */ }
}

export class Lessons {
  constructor(root, strip, model, actions) {
    this.root = root;
    this.strip = strip;
    this.model = model;
    this.api = model.api;
    this.actions = actions; // {showTab(id), terminals, onLesson(status | null, idOrText)}
    this.status = null;
    this.list = [];
    this.progressAt = Date.now();
    // A check's news shows when the page reveals it, with the events
    // that made it true: the lesson never says "done" before the
    // timeline, the badges and the mailboxes show the delivery.
    model.addEventListener('reveal', (e) => {
      const news = e.detail.events.filter((x) => x.kind === 'lesson');
      if (news.length) this.refresh(news[news.length - 1].seq);
    });
    // Another world loaded by hand ends the lesson on the page.
    model.addEventListener('world', () => {
      if (this.status && this.status.world !== this.model.world) this.stop();
    });
    setInterval(() => this.stuck(), 5000);
  }

  async start() {
    let list;
    try {
      list = await this.api.lessons();
    } catch (err) {
      list = [];
      announce(err.message, 'error');
    }
    this.show(list);
  }

  // show lists the course: the lessons as the simulation has them
  // (lessons()), or as they are before it runs (the page's boot.json:
  // none started, as in a simulation just started).
  show(list) {
    this.list = list;
    this.renderList();
  }

  state(id) {
    const mine = saved()[id];
    const theirs = (this.list.find((l) => l.id === id) || {}).state;
    if (mine === 'done' || theirs === 'done') return 'done';
    return mine || theirs || 'not-started';
  }

  // renderList draws the course.
  renderList() {
    clear(this.root);
    const items = this.list.map((l, i) => {
      const st = this.state(l.id);
      const verb = st === 'done' ? 'Review' : st === 'in-progress' ? 'Continue' : 'Start';
      return h('li', { class: `lesson-item is-${st}`, dataset: { lesson: l.id } },
        h('span', { class: 'lesson-num', 'aria-hidden': 'true' }, String(i + 1)),
        h('span', { class: 'lesson-title' }, l.title),
        h('span', { class: `lesson-state s-${st}` }, STATE_WORDS[st]),
        h('button', { type: 'button', class: st === 'not-started' && i === this.firstOpen() ? 'primary small' : 'small', 'aria-label': `${verb}: ${l.title}`, onclick: () => this.open(l.id) }, verb));
    });
    const file = h('input', { type: 'file', id: 'lesson-file', accept: '.yaml,.yml,.json,text/yaml,application/json', onchange: () => this.openFile(file) });
    const url = h('input', { type: 'url', id: 'lesson-url', placeholder: 'https://…/lesson.yaml', size: 24 });
    this.root.append(
      h('h3', { id: 'start-h' }, 'Start here'),
      h('p', {}, 'Learn how e-mail travels by doing it: each lesson gives you a goal, steps and hints, and checks your work as you type. Start with the first — it takes two minutes.'),
      h('ol', { class: 'lesson-list', 'aria-labelledby': 'start-h' }, items),
      h('details', { class: 'lesson-own' },
        h('summary', {}, 'A lesson of your own (a teacher’s file)'),
        h('p', { class: 'muted' }, 'Lesson files are YAML or JSON: a world, the text, steps and checks (see the README).'),
        h('div', { class: 'row' }, h('label', { for: 'lesson-file' }, 'File'), file),
        h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); this.openURL(url.value); } },
          h('label', { for: 'lesson-url' }, 'or address'), url, h('button', { type: 'submit', class: 'small' }, 'Open'))),
      h('p', { class: 'muted' }, 'Or explore freely: the Terminal tab talks to any server of the world; Compose sends a mail without typing.'));
  }

  firstOpen() {
    return this.list.findIndex((l) => this.state(l.id) !== 'done');
  }

  async openFile(input) {
    const f = input.files && input.files[0];
    if (f) this.open(await f.text());
  }

  async openURL(url) {
    try {
      const resp = await fetch(url);
      if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
      this.open(await resp.text());
    } catch (err) {
      announce(`The lesson could not be read: ${err.message}`, 'error');
    }
  }

  // open starts a lesson: its world afresh, its setup, its checks. A
  // failure is announced, or thrown with {rethrow: true} (a link).
  async open(idOrText, opts = {}) {
    let st;
    try {
      st = await this.api.lesson(idOrText);
    } catch (err) {
      if (opts.rethrow) throw err;
      announce(err.message, 'error');
      return;
    }
    this.model.switchTo(st.world);
    this.status = st;
    this.shownSeq = 0;
    this.lastText = st.builtin ? '' : idOrText;
    this.hints = new Set();
    this.progressAt = Date.now();
    this.lastOK = 0;
    if (st.builtin) save(st.id, 'in-progress');
    this.renderLesson();
    this.renderStrip();
    if (this.actions.onLesson) this.actions.onLesson(st, idOrText);
    announce(`Lesson “${st.title}” started`);
  }

  // refresh shows what the checks said at the lesson event seq.
  async refresh(seq) {
    if (!this.status) return;
    let st;
    try {
      st = await this.api.lessonStatus(seq);
    } catch {
      return;
    }
    if (st.world !== this.status.world) return;
    if (seq && seq < (this.shownSeq || 0)) return; // an older answer, overtaken
    this.shownSeq = seq || this.shownSeq;
    const ok = st.checks.filter((c) => c.ok).length;
    if (ok > this.lastOK) this.progressAt = Date.now();
    this.lastOK = ok;
    const wasDone = this.status.done;
    this.status = st;
    if (st.done && st.builtin) save(st.id, 'done');
    this.renderLesson();
    this.renderStrip();
    if (st.done && !wasDone) announce(`Lesson done: ${st.title}`);
  }

  stop() {
    const was = this.status;
    this.status = null;
    this.strip.hidden = true;
    if (was && this.actions.onLesson) this.actions.onLesson(null);
    this.start();
  }

  // next: the first check that does not hold yet.
  next() {
    return this.status ? this.status.checks.find((c) => !c.ok) : null;
  }

  // stuck shows the current step's hint when no check has come true for
  // a while.
  stuck() {
    if (!this.status || this.status.done || Date.now() - this.progressAt < STUCK_MS) return;
    const i = this.currentStep();
    if (i >= 0 && !this.hints.has(i) && this.status.steps[i].hint) {
      this.hints.add(i);
      this.renderLesson();
      this.renderStrip();
    }
  }

  // currentStep guesses the step the student is at from how many checks
  // hold (steps and checks run in the same order in most lessons).
  currentStep() {
    const st = this.status;
    if (!st || !st.steps.length) return -1;
    const ok = st.checks.filter((c) => c.ok).length;
    return Math.min(st.steps.length - 1, Math.floor(ok * st.steps.length / Math.max(1, st.checks.length)));
  }

  renderLesson() {
    const st = this.status;
    clear(this.root);
    const n = st.checks.filter((c) => c.ok).length;
    const step = this.currentStep();
    const steps = st.steps.map((s, i) => {
      const shown = this.hints.has(i);
      const hint = s.hint ? h('p', { class: 'hint-text', id: `hint-${i}`, hidden: !shown }, s.hint) : null;
      return h('li', { class: i === step && !st.done ? 'is-current' : '' },
        h('p', {}, s.text),
        s.hint ? h('button', { type: 'button', class: 'link', 'aria-expanded': String(shown), 'aria-controls': `hint-${i}`, onclick: () => { this.toggleHint(i); } }, shown ? 'Hide the hint' : 'Hint') : null,
        hint);
    });
    const checks = st.checks.map((c) => h('li', { class: c.ok ? 'ok' : 'todo' },
      h('span', { class: 'mark', 'aria-hidden': 'true' }, c.ok ? '✓' : '○'),
      h('span', { class: 'vh' }, c.ok ? 'holds: ' : 'not yet: '),
      h('span', {}, c.name),
      !c.ok && c.missing ? h('span', { class: 'missing' }, c.missing) : null,
      !c.ok && c.detail ? h('span', { class: 'detail' }, c.detail) : null));
    this.showBtn = h('button', { type: 'button', class: 'small', onclick: () => this.showMe() }, 'Show me (type the solution)');
    // append, not Element.append: it leaves out the nulls (no "null" text).
    append(this.root, [
      h('div', { class: 'lesson-head' },
        h('button', { type: 'button', class: 'small', onclick: () => this.stop() }, '← All lessons'),
        h('span', { class: `lesson-state s-${st.done ? 'done' : 'in-progress'}` }, st.done ? 'done' : `${n} of ${st.checks.length} checks`)),
      h('h3', { id: 'lesson-h' }, st.title),
      h('p', { class: 'goal' }, st.goal),
      st.done ? h('p', { class: 'lesson-done', role: 'status' }, 'Well done: every check holds. ', this.nextButton()) : null,
      h('h4', {}, 'Steps'),
      h('ol', { class: 'lesson-steps' }, steps),
      h('h4', { id: 'checks-h' }, 'Checks'),
      h('ul', { class: 'lesson-checks', 'aria-labelledby': 'checks-h' }, checks),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'primary small', onclick: () => this.actions.showTab('tab-terminal') }, 'To the terminal'),
        st.solution && st.solution.length ? this.showBtn : null,
        h('button', { type: 'button', class: 'small', onclick: () => this.open(st.builtin ? st.id : this.lastText || st.id) }, 'Start over'))]);
  }

  nextButton() {
    const i = this.list.findIndex((l) => l.id === this.status.id);
    const next = i >= 0 ? this.list[i + 1] : null;
    if (!next) return null;
    return h('button', { type: 'button', class: 'small primary', onclick: () => this.open(next.id) }, `Next: ${next.title}`);
  }

  toggleHint(i) {
    if (this.hints.has(i)) this.hints.delete(i);
    else this.hints.add(i);
    this.renderLesson();
    this.renderStrip();
  }

  // renderStrip: one line above the tools, the lesson's next step in
  // sight while the student types.
  renderStrip() {
    const st = this.status;
    if (!st) {
      this.strip.hidden = true;
      return;
    }
    clear(this.strip);
    const n = st.checks.filter((c) => c.ok).length;
    const next = this.next();
    const step = this.currentStep();
    const hint = step >= 0 && this.hints.has(step) ? st.steps[step].hint : '';
    this.strip.append(
      h('strong', {}, st.title),
      h('span', { class: `lesson-state s-${st.done ? 'done' : 'in-progress'}` }, st.done ? 'done ✓' : `${n}/${st.checks.length}`),
      h('span', { class: 'strip-next' }, st.done ? 'Every check holds.' : hint ? `Hint: ${hint}` : next ? `Next: ${next.missing || next.name}` : ''),
      h('button', { type: 'button', class: 'small', onclick: () => this.actions.showTab('tab-lessons') }, 'Lesson'));
    this.strip.hidden = false;
  }

  // showMe types the lesson's solution through the page: terminals are
  // opened and lines typed as a student would, the clock moved, mail
  // sent through the compose path.
  async showMe() {
    const sol = this.status && this.status.solution;
    if (!sol || this.running) return;
    this.running = true;
    this.showBtn.disabled = true;
    const terms = this.actions.terminals;
    let t = null;
    try {
      this.actions.showTab('tab-terminal');
      for (const a of sol) {
        let seen = t ? t.recv.length : 0;
        if (a.connect) {
          t = await terms.open(a.connect.from, a.connect.to, a.connect.port);
          if (!t || t.closed) throw new Error(`could not connect to ${a.connect.to}:${a.connect.port}`);
          seen = 0;
        } else if (a.send !== undefined && a.send !== null) {
          if (!t) throw new Error('a line to send, but no connection');
          await terms.sendLine(t, a.send, a.eol || 'crlf');
        } else if (a.close) {
          if (t) await terms.close(t);
        } else if (a.advance) {
          await this.api.advance(a.advance);
        } else if (a.mail) {
          await this.api.send(a.mail);
        } else if (a.fault) {
          await this.api.fault(a.fault);
        }
        if (a.expect) await waitLine(t, seen, new RegExp(a.expect));
      }
    } catch (err) {
      announce(`Show me stopped: ${err.message}`, 'error');
    } finally {
      this.running = false;
      if (this.showBtn) this.showBtn.disabled = false;
    }
  }
}

// waitLine waits until the server sends a line matching re, after the
// first `from` lines of the terminal.
function waitLine(t, from, re) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (t.recv.slice(from).some((l) => re.test(l))) return resolve();
      if (t.closed && !t.recv.slice(from).some((l) => re.test(l))) return reject(new Error(`the connection closed before a line matching ${re}`));
      if (Date.now() - started > 60000) return reject(new Error(`no line matching ${re} within a minute`));
      return setTimeout(tick, 50);
    };
    tick();
  });
}

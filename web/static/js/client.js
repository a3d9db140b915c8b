// The page's globalThis.mailhop: the same JS API as the WebAssembly
// program's (design §5), every call a Promise, forwarded to the Web Worker
// that runs the simulation (worker.js), so the page's main thread never
// waits for Go.

export function connectWorker(url) {
  const started = globalThis.mailhopWorker;
  delete globalThis.mailhopWorker;
  const meta = document.querySelector('meta[name="mailhop-wasm"]');
  if (meta) url = new URL(`#wasm=${encodeURIComponent(meta.content)}`, url);
  const worker = started ? started.worker : new Worker(url);
  const calls = new Map();
  const sessions = new Map();
  const eventSubs = new Set();
  const progressSubs = new Set();
  const batchSubs = new Set();
  let nextId = 1;
  let resolveReady;
  let rejectReady;
  const ready = new Promise((res, rej) => { resolveReady = res; rejectReady = rej; });

  worker.onmessage = (e) => {
    const m = e.data;
    switch (m.t) {
      case 'progress':
        api.progress = m.step;
        for (const cb of progressSubs) cb(m.step);
        break;
      case 'ready':
        api.boot = m.timing;
        resolveReady();
        break;
      case 'boot-error':
        rejectReady(new Error(m.error));
        for (const c of calls.values()) c.reject(new Error(m.error));
        calls.clear();
        break;
      case 'reply': {
        const c = calls.get(m.id);
        if (!c) return;
        calls.delete(m.id);
        if (m.ok) c.resolve(m.value);
        else c.reject(Object.assign(new Error(m.error), m.dial ? { dial: m.dial } : {}));
        break;
      }
      case 'events':
        for (const cb of batchSubs) cb(m.events, m.world);
        if (eventSubs.size) for (const ev of m.events) for (const cb of eventSubs) cb(ev);
        break;
      case 'line':
      case 'close': {
        // A session's first lines come before the reply to connect.
        const s = sessions.get(m.sid);
        if (s) deliver(s, m);
        else {
          if (!early.has(m.sid)) early.set(m.sid, []);
          early.get(m.sid).push(m);
        }
        break;
      }
      default:
    }
  };
  worker.onerror = (e) => {
    e.preventDefault();
    rejectReady(new Error(e.message || 'the simulation could not start'));
  };
  const early = new Map(); // sid → messages that came before the session

  function deliver(s, m) {
    if (m.t === 'line') s._line(m.text, m.line);
    else {
      s._close(m.reason);
      sessions.delete(m.sid);
    }
  }

  function call(method, ...args) {
    return ready.then(() => new Promise((resolve, reject) => {
      const id = nextId++;
      calls.set(id, { resolve, reject });
      worker.postMessage({ id, method, args });
    }));
  }

  function session(info) {
    const lineCbs = new Set();
    const closeCbs = new Set();
    let backlog = [];
    let closed = null;
    const s = {
      ...info,
      send: (line, opts) => call('session.send', info.sid, line, opts),
      close: () => call('session.close', info.sid),
      onLine(cb) {
        lineCbs.add(cb);
        const old = backlog;
        backlog = [];
        for (const [text, line] of old) cb(text, line);
        return () => lineCbs.delete(cb);
      },
      onClose(cb) {
        closeCbs.add(cb);
        if (closed !== null) cb(closed);
        return () => closeCbs.delete(cb);
      },
      _line(text, line) {
        if (!lineCbs.size) backlog.push([text, line]);
        for (const cb of lineCbs) cb(text, line);
      },
      _close(reason) {
        closed = reason;
        for (const cb of closeCbs) cb(reason);
      },
    };
    return s;
  }

  const api = {
    ready,
    // progress: what the worker is doing before it is ready ('loading':
    // the module downloads and compiles; 'starting': Go starts the
    // world); onProgress(cb) calls cb(step) at each change.
    progress: '',
    onProgress(cb) {
      progressSubs.add(cb);
      return () => progressSubs.delete(cb);
    },
    worlds: () => call('worlds'),
    load: (x, opts) => call('load', x, opts),
    reset: () => call('reset'),
    state: () => call('state'),
    clock: () => call('clock'),
    async connect(from, to, port, opts) {
      const info = await call('connect', from, to, port, opts);
      const s = session(info);
      sessions.set(info.sid, s);
      for (const m of early.get(info.sid) || []) deliver(s, m);
      early.delete(info.sid);
      return s;
    },
    send: (mail) => call('send', mail),
    onEvent(cb) {
      eventSubs.add(cb);
      return () => eventSubs.delete(cb);
    },
    onEvents(cb) {
      batchSubs.add(cb);
      return () => batchSubs.delete(cb);
    },
    trace: () => call('trace'),
    play: () => call('play'),
    pause: () => call('pause'),
    step: () => call('step'),
    speed: (x) => call('speed', x),
    advance: (d) => call('advance', d),
    fault: (f) => call('fault', f),
    explanations: () => call('explanations'),
    message: (user, uid, mailbox) => call('message', user, uid, mailbox),
    lessons: () => call('lessons'),
    lesson: (idOrText) => call('lesson', idOrText),
    lessonStatus: (seq) => call('lessonStatus', seq),
    // Downloads: strings, and the bytes of a .pcapng (a Uint8Array).
    exportTranscript: () => call('exportTranscript'),
    exportJSON: () => call('exportJSON'),
    exportPcap: () => call('exportPcap'),
    exportEML: (user, uid, mailbox) => call('exportEML', user, uid, mailbox),
    // The compiled WebAssembly.Module (for codecache.js).
    module: () => call('module'),
  };
  // What the worker said before this script ran (see start.js): handled
  // once everything above exists, 'ready' included.
  for (const e of started ? started.early : []) {
    if (e.type === 'error') worker.onerror(e);
    else worker.onmessage(e);
  }
  return api;
}

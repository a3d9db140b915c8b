// Warming the browser's code cache. The browser keeps the code it compiled
// from mailhop.wasm for the next visit, but Chrome does so only once a
// good deal of it has been optimised (megabytes), which a page that waits
// for its user never reaches: every visit would compile the module again.
// So once per version of the module, a second after the page is ready,
// a short-lived worker (warm.js) sends mail through a world of its
// own with the compiled module; the next visit starts from the kept code
// (measured: the first 220 some 0.4 s sooner). Nothing is done where it
// would cost the visitor (below), or where the page cannot remember that
// it was done (no localStorage).

const key = 'mailhop:code-cache-warmed';

// warmCodeCache starts the warm-up, after delay ms, unless it was done for
// this module (api.boot.wasm, the name that holds its hash) or would cost
// the visitor; the worker is stopped when it is done, or after timeout.
export function warmCodeCache(api, { delay = 1000, messages = 100, timeout = 60000 } = {}) {
  const name = api.boot && api.boot.wasm;
  let store;
  try {
    store = globalThis.localStorage;
    if (!name || !store || store.getItem(key) === name) return;
  } catch {
    return;
  }
  const nav = globalThis.navigator || {};
  // Not where it would cost the visitor: data saving asked for, one CPU
  // core (the warm-up would take the simulation's), little memory (a
  // second copy of the simulation runs for a few seconds).
  if ((nav.connection && nav.connection.saveData) || nav.hardwareConcurrency === 1 || (nav.deviceMemory && nav.deviceMemory < 2)) return;
  setTimeout(async () => {
    let w = null;
    try {
      const module = await api.module();
      if (!(module instanceof WebAssembly.Module)) return;
      w = new Worker(new URL('warm.js', import.meta.url));
      const result = await new Promise((resolve) => {
        const stop = setTimeout(() => resolve({ t: 'failed', error: 'timed out' }), timeout);
        w.onmessage = (e) => { clearTimeout(stop); resolve(e.data); };
        w.onerror = (e) => { e.preventDefault(); clearTimeout(stop); resolve({ t: 'failed', error: e.message }); };
        w.postMessage({ module, messages });
      });
      if (result.t === 'done') store.setItem(key, name);
    } catch {
      // An optimisation only: the next visit compiles the module again.
    } finally {
      if (w) w.terminate();
    }
  }, delay);
}

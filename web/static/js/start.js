// Starts the simulation's Web Worker as the page begins to load, so that
// the WebAssembly downloads and compiles while the rest of the page's
// scripts arrive. client.js takes the worker over, with the messages it
// sent meanwhile; main.js takes boot.json, asked for here too. The live
// view (…/live, see live.js) runs no simulation.
'use strict';
(function start() {
  if (/\/live$/.test(location.pathname)) return;
  try {
    const meta = document.querySelector('meta[name="mailhop-wasm"]');
    // A link to a built-in world (#w=NAME&seed=N, see share.js): the
    // simulation starts with it rather than with the default world.
    const link = new URLSearchParams(location.hash.slice(1));
    let first = '';
    if (/^[\w.-]{1,100}$/.test(link.get('w') || '') && !['wf', 'lesson', 'lf'].some((k) => link.has(k))) {
      first = `&world=${encodeURIComponent(link.get('w'))}`;
      if (/^[1-9]\d{0,14}$/.test(link.get('seed') || '')) first += `&seed=${link.get('seed')}`;
    }
    const w = new Worker(`js/worker.js#wasm=${encodeURIComponent(meta ? meta.content : 'mailhop.wasm')}${first}`);
    const early = [];
    w.onmessage = (e) => early.push(e);
    w.onerror = (e) => { e.preventDefault(); early.push(e); };
    globalThis.mailhopWorker = { worker: w, early };
  } catch (err) {
    // client.js starts the worker itself and reports what went wrong.
  }
  // What the page draws before the simulation runs (see main.js).
  globalThis.mailhopBootData = fetch('boot.json').then((r) => (r.ok ? r.json() : null));
  globalThis.mailhopBootData.catch(() => {});
}());

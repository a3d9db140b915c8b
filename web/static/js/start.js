// Starts the simulation's Web Worker as the page begins to load, so that
// the WebAssembly downloads and compiles while the rest of the page's
// scripts arrive. client.js takes the worker over, with the messages it
// sent meanwhile. The live view (…/live, see live.js) runs no simulation.
'use strict';
(function start() {
  if (/\/live$/.test(location.pathname)) return;
  try {
    const w = new Worker('js/worker.js');
    const early = [];
    w.onmessage = (e) => early.push(e);
    w.onerror = (e) => { e.preventDefault(); early.push(e); };
    globalThis.mailhopWorker = { worker: w, early };
  } catch (err) {
    // client.js starts the worker itself and reports what went wrong.
  }
}());

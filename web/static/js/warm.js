// A short-lived Web Worker that warms the browser's code cache (see
// codecache.js): it runs the WebAssembly module the simulation's worker
// compiled (the same compiled code, not compiled again) with a world of
// its own, and sends mail through the whole chain until the browser has
// optimised the code that carries it. The page's world is not touched.
//   page → worker  {module, messages}
//   worker → page  {t: 'done', sent} | {t: 'failed', error}
/* global Go */
'use strict';
importScripts('../wasm_exec.js');

self.onmessage = async (e) => {
  const { module, messages } = e.data;
  try {
    const go = new Go();
    const instance = await WebAssembly.instantiate(module, go.importObject);
    go.run(instance);
    const api = self.mailhop;
    if (!api) throw new Error('no mailhop API');
    let next = 0;
    let sent = 0;
    const one = async () => {
      while (next < messages) {
        next += 1;
        await api.send({ from: 'alice@example.org', to: 'bob@example.net', subject: `warm-up ${next}`, body: 'Warming the code cache.' });
        sent += 1;
      }
    };
    await Promise.all(Array.from({ length: 8 }, one));
    postMessage({ t: 'done', sent });
  } catch (err) {
    postMessage({ t: 'failed', error: String((err && err.message) || err) });
  }
};

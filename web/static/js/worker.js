// The Web Worker that runs the simulation: it loads Go's wasm_exec.js and
// mailhop.wasm, which installs the JS API (self.mailhop) here, off the
// page's main thread. The page talks to it by messages (see client.js):
//   page → worker  {id, method, args}          a call of the API
//   worker → page  {t: 'reply', id, ok, value | error, dial?}
//                  {t: 'events', events, world} a batch of trace events
//                  {t: 'line', sid, text, line}  a line of a terminal session
//                  {t: 'close', sid, reason}     a session ended
//                  {t: 'progress', step}        the boot goes on ('starting')
//                  {t: 'ready', timing} | {t: 'boot-error', error}
// and one call that is not Go's: module() answers the compiled
// WebAssembly.Module, which the page hands to the worker that warms the
// browser's code cache (codecache.js); the copy shares the compiled code.
// Every method of the API is passed through by name; bytes (a Uint8Array,
// exportPcap's) are transferred, not copied.
//
// The page names the module after '#wasm=' in this script's address: the
// name that holds its hash, which the browser caches for good with the
// code it compiled from it (see web.WasmName); mailhop.wasm without.
/* global Go */
'use strict';

const wasmName = (() => {
  const m = /[#&]wasm=(mailhop-[0-9a-f]{16}\.wasm)(?:&|$)/.exec(self.location.hash);
  return m ? m[1] : 'mailhop.wasm';
})();
// The download starts before Go's loader is read.
const wasmResponse = fetch(`../${wasmName}`);
wasmResponse.catch(() => {}); // reported by boot
importScripts('../wasm_exec.js');

const sessions = new Map();
let nextSid = 1;

function message(err) {
  return String((err && err.message) || err);
}

// timing: when each step of the boot ended, in ms since the worker began
// (at origin, in ms since the epoch); the module's name, and how it was
// compiled: 'streaming' (as it downloads; the browser may use the code it
// kept from an earlier visit) or 'bytes' (the server sent another type
// than application/wasm).
const timing = { wasm: wasmName, origin: performance.timeOrigin };
let compiledModule = null;

async function boot() {
  const go = new Go();
  const resp = await wasmResponse;
  timing.fetched = performance.now();
  if (!resp.ok) {
    throw new Error(`${wasmName}: HTTP ${resp.status}: the playground is not built (run make wasm)`);
  }
  let result;
  try {
    result = await WebAssembly.instantiateStreaming(resp, go.importObject);
    timing.path = 'streaming';
  } catch (err) {
    // A server that sends another type: compile from the bytes.
    timing.path = 'bytes';
    timing.streamingError = message(err);
    const again = await fetch(`../${wasmName}`);
    result = await WebAssembly.instantiate(await again.arrayBuffer(), go.importObject);
  }
  compiledModule = result.module;
  timing.compiled = performance.now();
  postMessage({ t: 'progress', step: 'starting' });
  go.run(result.instance).then(() => {
    postMessage({ t: 'boot-error', error: 'the simulation stopped' });
  });
  const api = self.mailhop;
  if (!api) throw new Error('the simulation did not start (no mailhop API)');
  api.onEvents((events, world) => postMessage({ t: 'events', events, world }));
  timing.started = performance.now();
  // Go's own marks: its main began (the runtime and packages set up), the
  // default world was built.
  for (const [k, name] of [['main', 'mailhop:go-main'], ['world', 'mailhop:go-world']]) {
    const m = performance.getEntriesByName(name)[0];
    if (m) timing[k] = m.startTime;
  }
  return api;
}

const ready = boot().then((api) => {
  postMessage({ t: 'ready', timing });
  return api;
}, (err) => {
  postMessage({ t: 'boot-error', error: message(err) });
  throw err;
});

async function run(api, method, args) {
  switch (method) {
    case 'connect': {
      const s = await api.connect(...args);
      const sid = nextSid++;
      sessions.set(sid, s);
      s.onLine((text, line) => postMessage({ t: 'line', sid, text, line }));
      s.onClose((reason) => {
        postMessage({ t: 'close', sid, reason });
        sessions.delete(sid);
      });
      return { sid, id: s.id, from: s.from, to: s.to, port: s.port, proto: s.proto, server: s.server };
    }
    case 'module':
      return compiledModule;
    case 'session.send':
    case 'session.close': {
      const s = sessions.get(args[0]);
      if (!s) throw new Error('this connection is closed');
      return method === 'session.send' ? s.send(args[1], args[2]) : s.close();
    }
    default:
      if (typeof api[method] !== 'function' || method.startsWith('on')) {
        throw new Error(`mailhop has no method ${method}`);
      }
      return api[method](...args);
  }
}

self.onmessage = async (e) => {
  const { id, method, args } = e.data;
  try {
    const api = await ready;
    const value = await run(api, method, args || []);
    // Bytes (exportPcap) move to the page rather than being copied.
    const transfer = ArrayBuffer.isView(value) && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength ? [value.buffer] : [];
    postMessage({ t: 'reply', id, ok: true, value }, transfer);
  } catch (err) {
    postMessage({ t: 'reply', id, ok: false, error: message(err), dial: err && err.dial });
  }
};

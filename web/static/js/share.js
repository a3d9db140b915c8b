// Shareable links: the page's address always says what it shows, in its
// fragment, so that whoever opens it gets the same start:
//
//   #w=default&seed=1&speed=2     a built-in world, by name
//   #wf=<base64url>&seed=7        a world file of one's own: its text,
//                                 compressed (deflate-raw) and base64url
//   #lesson=first-mail&seed=1     a lesson (it loads its own world)
//   #lf=<base64url>&seed=1        a lesson file of one's own
//
// with seed (the world's random choices; 1 unless said), speed (omitted
// at 1) and proj=1 (projector mode). The fragment is kept up to date
// (history.replaceState) as the world, lesson, seed, speed change, and
// "Copy link" puts the whole address on the clipboard. A link that can
// not be followed opens the default world with a visible message saying
// what was wrong.
import { $, announce } from './dom.js';

const MAX_TEXT = 1 << 20; // the most a link may unpack to

export class LinkError extends Error {}

// b64url encodes bytes as base64url, without padding.
export function b64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// unb64url decodes base64url (or plain base64, whose + may have become
// a space in an address).
export function unb64url(s, what) {
  const t = String(s).trim().replace(/ /g, '+').replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (!t || !/^[A-Za-z0-9+/]*$/.test(t) || t.length % 4 === 1) {
    throw new LinkError(`the ${what} in the link is damaged: it is not base64url text.`);
  }
  let bin;
  try {
    bin = atob(t + '='.repeat((4 - (t.length % 4)) % 4));
  } catch {
    throw new LinkError(`the ${what} in the link is damaged: it is not base64url text.`);
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

// pack compresses a text for a link.
export async function pack(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  return b64url(new Uint8Array(await new Response(stream).arrayBuffer()));
}

// unpack reverses pack; what names the text in errors ("world file").
export async function unpack(s, what) {
  const bytes = unb64url(s, what);
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  const parts = [];
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > MAX_TEXT) throw new LinkError(`the ${what} in the link unpacks to more than ${MAX_TEXT >> 10} KB.`);
      parts.push(value);
    }
  } catch (err) {
    if (err instanceof LinkError) throw err;
    throw new LinkError(`the ${what} in the link could not be unpacked (was the link cut short or changed?).`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(await new Blob(parts).arrayBuffer());
  } catch {
    throw new LinkError(`the ${what} in the link is not text (UTF-8).`);
  }
}

const SEED_MAX = Number.MAX_SAFE_INTEGER;

// parseLink reads a fragment: what it asks for, what is wrong with it
// (fatal: the link can not be followed) and what is merely ignored
// (warnings).
export function parseLink(hash) {
  const q = new URLSearchParams(String(hash || '').replace(/^#/, ''));
  const link = { empty: true, warnings: [], fatal: '' };
  for (const k of ['w', 'wf', 'lesson', 'lf', 'seed', 'speed', 'proj']) {
    if (q.has(k)) {
      link.empty = false;
      link[k] = q.get(k);
    }
  }
  if (link.empty) return link;
  if (link.seed !== undefined) {
    const s = link.seed.trim();
    const n = Number(s);
    if (!/^\d+$/.test(s) || n < 1 || n > SEED_MAX) {
      link.fatal = `the seed “${link.seed}” is not a whole number from 1 to ${SEED_MAX}.`;
    }
    link.seed = n;
  }
  if ([link.w, link.wf, link.lesson, link.lf].filter((x) => x !== undefined).length > 1) {
    link.fatal = link.fatal || 'it names more than one world or lesson (w, wf, lesson, lf).';
  }
  for (const k of ['w', 'lesson']) {
    if (link[k] !== undefined && !/^[\w.-]{1,100}$/.test(link[k])) {
      link.fatal = link.fatal || `“${link[k]}” is not the name of a ${k === 'w' ? 'built-in world' : 'built-in lesson'}.`;
    }
  }
  if (link.speed !== undefined) {
    const x = Number(link.speed);
    if (!Number.isFinite(x) || x < 0.25 || x > 3600) {
      link.warnings.push(`the speed “${link.speed}” is not from 0.25 to 3600: the speed stays as it was.`);
      link.speed = undefined;
    } else {
      link.speed = x;
    }
  }
  link.proj = link.proj === '1';
  return link;
}

// Share keeps the address up to date and follows links.
export class Share {
  // env: {api, model, lessons, projector, loadWorld(x, opts) → info
  // (throws), notice: {show(text), hide()}, selectTab(id)}
  constructor(env) {
    this.env = env;
    this.model = env.model;
    // The simulation starts with a built-in world: the default one, or
    // the one a link named (start.js).
    this.source = { kind: 'builtin', name: (this.model.live && this.model.live.name) || 'default' };
    this.written = null;
    this.packed = null; // {text, value} of the world or lesson file
    this.packing = null;
    this.button = $('#copy-link');
    this.button.addEventListener('click', () => this.copy());
    this.box = $('#link-box');
    this.boxText = $('#link-text');
    $('#link-close').addEventListener('click', () => { this.box.hidden = true; this.button.focus(); });
    this.boxText.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { this.box.hidden = true; this.button.focus(); }
    });
    const m = this.model;
    m.addEventListener('state', () => {
      if (m.live && m.live.seed !== undefined && m.live.seed !== this.seed) {
        this.seed = m.live.seed;
        this.write();
      }
    });
    m.addEventListener('clock', () => {
      if (m.speed !== this.speed) {
        this.speed = m.speed;
        this.write();
      }
    });
    document.addEventListener('mailhop:projector', () => this.write());
    globalThis.addEventListener('hashchange', () => {
      if (this.applying || globalThis.location.hash === this.written) return;
      this.follow(globalThis.location.hash).then((tab) => { if (env.selectTab) env.selectTab(tab); });
    });
  }

  // setSource says where the world shown came from: {kind: 'builtin',
  // name} | {kind: 'file', text} | {kind: 'lesson', id} |
  // {kind: 'lesson-file', text}.
  setSource(src) {
    this.source = src;
    if (src.text !== undefined && (!this.packed || this.packed.text !== src.text)) {
      const text = src.text;
      this.packing = pack(text).then((value) => {
        this.packed = { text, value };
        this.write();
      }, () => {});
    }
    this.write();
  }

  // lessonChanged follows the lesson panel: a lesson started (st), or
  // left (null) while its world stays.
  lessonChanged(st, idOrText) {
    if (st) {
      this.setSource(st.builtin ? { kind: 'lesson', id: st.id } : { kind: 'lesson-file', text: idOrText });
      return;
    }
    if (!this.source.kind.startsWith('lesson')) return;
    const name = this.model.live && this.model.live.name;
    // The lesson's world is a built-in one: the link names it. (Else the
    // lesson stays in the link: it is how to get its world back.)
    if (name && (this.model.worlds || []).some((w) => w.name === name)) this.setSource({ kind: 'builtin', name });
  }

  // fragment: the link to what the page shows, or null while a file's
  // text is being compressed.
  fragment() {
    const q = new URLSearchParams();
    const src = this.source;
    if (src.kind === 'builtin') q.set('w', src.name);
    else if (src.kind === 'lesson') q.set('lesson', src.id);
    else {
      if (!this.packed || this.packed.text !== src.text) return null;
      q.set(src.kind === 'file' ? 'wf' : 'lf', this.packed.value);
    }
    q.set('seed', String(this.seed ?? 1));
    const speed = this.model.speed;
    if (speed && speed !== 1) q.set('speed', String(speed));
    if (document.body.classList.contains('projector')) q.set('proj', '1');
    return q.toString();
  }

  // write puts the link in the address bar, without a new history entry.
  write() {
    if (this.applying) return;
    const f = this.fragment();
    if (f === null) return;
    const hash = `#${f}`;
    if (hash === this.written && globalThis.location.hash === hash) return;
    this.written = hash;
    const loc = globalThis.location;
    try {
      history.replaceState(history.state, '', `${loc.pathname}${loc.search}${hash}`);
    } catch {
      // an address too long for this browser: the last one stays
    }
  }

  // link returns the address to share, once any file is compressed.
  async link() {
    if (this.packing) await this.packing;
    this.write();
    return globalThis.location.href;
  }

  async copy() {
    const url = await this.link();
    this.lastCopied = url;
    try {
      if (!navigator.clipboard || !navigator.clipboard.writeText) throw new Error('no clipboard');
      await navigator.clipboard.writeText(url);
      this.box.hidden = true;
      announce(`Link copied (${url.length} characters): whoever opens it gets this ${this.what()}`);
    } catch {
      // No clipboard for this page (an http address, a refusal): the
      // link in a field, selected, for Ctrl+C.
      this.boxText.value = url;
      this.box.hidden = false;
      this.boxText.focus();
      this.boxText.select();
      let copied = false;
      try {
        copied = document.execCommand('copy');
      } catch {
        copied = false;
      }
      announce(copied ? 'Link copied' : 'The link is selected: press Ctrl+C to copy it');
    }
  }

  what() {
    const k = this.source.kind;
    return `${k.startsWith('lesson') ? 'lesson' : 'world'}, seed ${this.seed ?? 1}`;
  }

  // follow opens a link: the world (or lesson) with its seed, the speed,
  // projector mode. It resolves to the tab to show. A link that can not
  // be followed gives the default world and a message.
  async follow(hash) {
    const link = parseLink(hash);
    if (link.empty) {
      this.write();
      return null;
    }
    const { model } = this;
    const env = this.env;
    this.applying = true;
    let tab = null;
    const warnings = [...link.warnings];
    try {
      if (link.fatal) throw new LinkError(link.fatal);
      const seed = link.seed ?? 1;
      if (link.lesson !== undefined || link.lf !== undefined) {
        const src = link.lesson ?? await unpack(link.lf, 'lesson file');
        // The seed stays for the lesson's world (see LoadSeeded).
        if (!model.live || model.live.seed !== seed) await this.load('default', seed, 'world');
        try {
          await env.lessons.open(src, { rethrow: true });
        } catch (err) {
          throw new LinkError(link.lesson !== undefined
            ? `the lesson “${link.lesson}” could not be opened: ${err.message}`
            : `the lesson file in the link could not be opened: ${err.message}`);
        }
        tab = 'tab-lessons';
      } else if (link.wf !== undefined) {
        const text = await unpack(link.wf, 'world file');
        await this.load(text, seed, 'file');
        tab = 'tab-world';
      } else {
        const name = link.w || 'default';
        if (!this.fresh(name, seed)) await this.load(name, seed, 'name');
        tab = name === 'default' ? null : 'tab-world';
      }
      const got = (await env.api.state()).seed;
      if (got !== undefined && got !== seed) warnings.push(`this playground could not set the seed ${seed} (the world runs with seed ${got}).`);
      if (link.speed !== undefined && link.speed !== model.speed) {
        try {
          await model.setSpeed(link.speed);
        } catch (err) {
          warnings.push(`the speed ${link.speed}: ${err.message}`);
        }
      }
      env.projector.set(link.proj);
      if (warnings.length) env.notice.show(`Part of this link was not followed: ${warnings.join(' ')}`);
      else env.notice.hide();
    } catch (err) {
      const why = err instanceof LinkError ? err.message : `${err.message}.`;
      env.notice.show(`This link could not be followed: ${why} The default world is shown instead.`);
      try {
        if (!this.fresh('default', 1)) await this.load('default', 1, 'name');
      } catch (err2) {
        announce(err2.message, 'error');
      }
      tab = null;
    } finally {
      this.applying = false;
    }
    this.write();
    return tab;
  }

  // fresh: the page already shows the built-in world name with seed,
  // untouched.
  fresh(name, seed) {
    const st = this.model.live;
    return !!st && this.source.kind === 'builtin' && this.source.name === name && st.name === name &&
      (st.seed ?? 1) === seed && this.model.events.length === 0 && this.model.pendingCount() === 0;
  }

  async load(x, seed, how) {
    try {
      return await this.env.loadWorld(x, { seed });
    } catch (err) {
      if (how === 'name') throw new LinkError(`the world “${x}” could not be loaded: ${err.message.replace(/^mailhop\.load: /, '')}.`);
      if (how === 'file') throw new LinkError(`the world file in the link could not be loaded: ${err.message.replace(/^mailhop\.load: /, '')}.`);
      throw err;
    }
  }
}

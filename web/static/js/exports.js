// Downloads: what happened, saved as files a teacher can hand out or
// open in other tools. The playground asks the simulation for each
// (exportTranscript, exportJSON, exportPcap, exportEML) and saves it with
// a Blob and an <a download>; the live view links to its server's
// /export/… instead (see live.js).
import { $, h, clear, announce } from './dom.js';

// download saves data (a string or bytes) as a file called name.
export function download(name, data, type) {
  const blob = data instanceof Blob ? data : new Blob([data], { type: type || 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // Long enough for the browser to have read it.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// slug makes a name safe in a file name.
export function slug(s) {
  return String(s || 'world').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'world';
}

// fileBase: "mailhop-default-seed1", after the world shown and its seed.
export function fileBase(state) {
  const st = state || {};
  return `mailhop-${slug(st.name)}-seed${st.seed ?? 1}`;
}

// ExportMenu is the header's "Export" button and the list of downloads
// it opens (a disclosure: Escape or a click elsewhere closes it).
export class ExportMenu {
  constructor(items) {
    this.button = $('#export-btn');
    this.menu = $('#export-menu');
    this.button.addEventListener('click', () => this.toggle());
    this.menu.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        this.close(true);
      }
    });
    document.addEventListener('click', (e) => {
      if (!this.menu.hidden && !e.target.closest('.menu-wrap')) this.close(false);
    });
    this.setItems(items);
  }

  // setItems fills the list: {label, hint, run()} become buttons, {label,
  // hint, href, download} links.
  setItems(items) {
    clear(this.menu);
    for (const it of items) {
      const body = [h('span', { class: 'ex-label' }, it.label), it.hint ? h('span', { class: 'ex-hint' }, it.hint) : null];
      const el = it.href
        ? h('a', { href: it.href, download: it.download || '', class: 'ex-item', id: it.id }, body)
        : h('button', { type: 'button', class: 'ex-item', id: it.id, onclick: () => this.run(it) }, body);
      if (it.href) el.addEventListener('click', () => this.close(false));
      this.menu.append(el);
    }
  }

  async run(it) {
    this.close(true);
    try {
      const name = await it.run();
      if (name) announce(`Downloaded ${name}`);
    } catch (err) {
      announce(`The download failed: ${err.message}`, 'error');
    }
  }

  toggle() {
    if (this.menu.hidden) this.open();
    else this.close(true);
  }

  open() {
    this.menu.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
    const first = this.menu.querySelector('.ex-item');
    if (first) first.focus();
  }

  close(focus) {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    this.button.setAttribute('aria-expanded', 'false');
    if (focus) this.button.focus();
  }
}

// playgroundExports are the playground's downloads.
export function playgroundExports(api, model) {
  const base = () => fileBase(model.live || model.state);
  return [
    {
      id: 'ex-transcript', label: 'Transcript (.txt)', hint: 'every protocol line, C: and S:, as text',
      run: async () => {
        const name = `${base()}.txt`;
        download(name, await api.exportTranscript(), 'text/plain;charset=utf-8');
        return name;
      },
    },
    {
      id: 'ex-trace', label: 'Trace (.jsonl)', hint: 'every event, one JSON object a line',
      run: async () => {
        const name = `${base()}.jsonl`;
        download(name, await api.exportJSON(), 'application/jsonl');
        return name;
      },
    },
    {
      id: 'ex-pcap', label: 'Traffic (.pcapng)', hint: 'the packets, for Wireshark (with the TLS keys)',
      run: async () => {
        const name = `${base()}.pcapng`;
        download(name, await api.exportPcap(), 'application/vnd.tcpdump.pcap');
        return name;
      },
    },
  ];
}

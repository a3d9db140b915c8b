// The playground page: starts the simulation in a Web Worker, exposes its
// API as globalThis.mailhop (every call a Promise), and puts the views
// together: the lessons ("Start here"), topology, timeline, terminals,
// compose, mailboxes, message, world; and the teacher's tools: the link
// in the address bar (share.js), going back through the events and the
// narration line (stepbar.js), projector mode, downloads (exports.js).
// Served as …/live by `mailhop serve --ui`, the page is the live view of
// that server instead (live.js), without the simulation.
import { connectWorker } from './client.js';
import { Model } from './model.js';
import { Topology } from './topology.js';
import { Timeline } from './timeline.js';
import { Terminals } from './terminal.js';
import { Compose } from './compose.js';
import { Mailboxes } from './mailboxes.js';
import { MessageView } from './message.js';
import { WorldPanel } from './world.js';
import { Controls } from './controls.js';
import { Lessons } from './lessons.js';
import { StepBar } from './stepbar.js';
import { Projector } from './projector.js';
import { Share, parseLink } from './share.js';
import { ExportMenu, playgroundExports } from './exports.js';
import { $, announce, tabs } from './dom.js';
import { warmCodeCache } from './codecache.js';

// notice is the message under the header that stays until dismissed
// (a link that could not be followed).
export const notice = {
  show(text) {
    $('#notice-text').textContent = text;
    $('#notice').hidden = false;
  },
  hide() {
    $('#notice').hidden = true;
  },
};
$('#notice-close').addEventListener('click', () => notice.hide());

// The live view is loaded only when it is asked for.
const live = /\/live$/.test(globalThis.location.pathname);
const api = live ? null : connectWorker(new URL('worker.js', import.meta.url));
if (api) globalThis.mailhop = api;

// What the page shows before the simulation runs (boot.json, written with
// the WebAssembly by build.sh): the default world as it starts, the
// built-in worlds and lessons, the explanations. start.js asked for it.
function bootData() {
  const asked = globalThis.mailhopBootData;
  delete globalThis.mailhopBootData;
  return (asked || fetch('boot.json').then((r) => (r.ok ? r.json() : null)))
    .then((d) => (d && d.state && Array.isArray(d.lessons) ? d : null), () => null);
}

// nextTask lets the browser render and handle input before going on.
function nextTask() {
  const s = globalThis.scheduler;
  return s && s.yield ? s.yield() : new Promise((resolve) => { setTimeout(resolve, 0); });
}

// nextFrame waits until the browser has drawn what is there (its style,
// layout and paint then take a task of their own), or a tenth of a second
// in a page that draws no frames (a tab in the background).
function nextFrame() {
  return new Promise((resolve) => {
    requestAnimationFrame(() => setTimeout(resolve, 0));
    setTimeout(resolve, 100);
  });
}

// What the simulation is doing while the page waits, in words.
const STEPS = {
  loading: 'Downloading the mail servers (WebAssembly) and compiling them…',
  starting: 'Starting the mail servers and the network…',
  world: 'Connecting the page to the mail servers…',
};

async function boot() {
  const bootEl = $('#boot');
  const bootText = $('#boot-text');
  const progress = (step) => {
    if (!bootEl.classList.contains('failed') && STEPS[step]) bootText.textContent = STEPS[step];
  };
  try {
    const data = bootData();
    progress(api.progress || 'loading');
    api.onProgress(progress);
    const model = new Model(api);
    const selectTab = tabs($('#panel-tabs'));
    let timeline;
    let messageView;
    let share = null;
    // loadWorld loads a world (a built-in name or a file's text) and
    // follows it; it throws what went wrong.
    const loadWorld = async (x, opts) => {
      const info = await api.load(x, opts);
      model.switchTo(info.world);
      $('#world-name').textContent = info.name;
      const builtin = info.builtin ?? (model.worlds.some((w) => w.name === x) || /^[\w.-]+$/.test(String(x).trim()));
      if (share) share.setSource(builtin ? { kind: 'builtin', name: info.name } : { kind: 'file', text: x });
      return info;
    };
    const projector = new Projector();
    const actions = {
      toggleProjector: () => projector.toggle(),
      openMessage: (user, uid, mailbox) => messageView.show(user, uid, mailbox),
      showTab: () => selectTab('tab-message'),
      showDetail: () => selectTab('tab-detail'),
      detailRoot: $('#panel-detail'),
      followMessage: (msg) => {
        timeline.setFilter({ msg });
        timeline.list.focus();
      },
      labelMessage: (msg, label) => timeline.labelMessage(msg, label),
      showEvent: (seq) => timeline.selectSeq(seq),
      showTranscript: (seq) => timeline.selectSeq(seq),
      reset: async () => {
        try {
          const info = await api.reset();
          model.switchTo(info.world);
          announce('The world starts afresh: empty queues and mailboxes, no faults');
        } catch (err) {
          announce(err.message, 'error');
        }
      },
      load: async (x, opts) => {
        try {
          const info = await loadWorld(x, opts);
          announce(`World “${info.name}” loaded${info.seed !== undefined ? `, seed ${info.seed}` : ''}`);
        } catch (err) {
          announce(err.message, 'error');
          return err; // the World tab keeps it beside the text
        }
        return null;
      },
    };
    // The frame at once, while the simulation downloads and starts: the
    // page's own HTML first, then the network drawn and the course
    // listed (a link may name another world: then only what is the same
    // for every world), then the tools behind their tabs, each in a task
    // of its own so that the page stays responsive. A tab chosen
    // meanwhile stays chosen.
    const linked = !parseLink(globalThis.location.hash).empty;
    let chosen = false;
    const choose = () => { chosen = true; };
    $('#panel-tabs').addEventListener('click', choose);
    $('#panel-tabs').addEventListener('keydown', choose);
    if (!linked) selectTab('tab-lessons');
    await nextTask();
    const topology = new Topology($('#topology svg'), model);
    timeline = new Timeline($('#timeline'), model, actions);
    const controls = new Controls(model, actions);
    const stepBar = new StepBar(model, controls);
    const exportMenu = new ExportMenu(playgroundExports(api, model));
    model.addEventListener('state', () => {
      if (model.state) $('#world-name').textContent = model.state.name;
    });
    let terminals = null;
    const lessons = new Lessons($('#panel-lessons'), $('#lesson-strip'), model, {
      showTab: (id) => selectTab(id),
      get terminals() { return terminals; },
      onLesson: (st, src) => { if (share) share.lessonChanged(st, src); },
    });
    const pre = await data;
    await nextTask();
    if (pre) {
      model.preload(pre, linked);
      await nextFrame();
      lessons.show(pre.lessons);
    }
    await nextFrame();
    terminals = new Terminals($('#panel-terminal'), model);
    terminals.showForm(false);
    if (model.state) terminals.refreshForm();
    await nextTask();
    const compose = new Compose($('#panel-compose'), model, actions);
    const mailboxes = new Mailboxes($('#panel-mailboxes'), model, actions);
    messageView = new MessageView($('#panel-message'), model, actions);
    if (model.state) {
      compose.refresh();
      mailboxes.render();
    }
    await nextTask();
    const world = new WorldPanel($('#panel-world'), model, actions);
    if (model.state) world.render();
    await api.ready;
    performance.mark('mailhop:wasm-ready');
    progress('world');
    await model.start();
    controls.showPlaying();
    if (!pre) await lessons.start();
    share = new Share({
      api, model, lessons, projector, loadWorld, notice, selectTab: (id) => selectTab(id || 'tab-lessons'),
    });
    share.seed = model.live ? model.live.seed : undefined;
    share.speed = model.speed;
    // The address may be a link: its world, lesson, seed, speed. A
    // newcomer (or a link to the default world) meets the course first.
    const tab = await share.follow(globalThis.location.hash);
    $('#panel-tabs').removeEventListener('click', choose);
    $('#panel-tabs').removeEventListener('keydown', choose);
    if (tab || !chosen) selectTab(tab || 'tab-lessons');
    globalThis.mailhopUI = {
      model, topology, timeline, terminals, compose, mailboxes, messageView, world, controls, selectTab, lessons,
      stepBar, projector, share, exportMenu, notice,
    };
    bootEl.hidden = true;
    performance.mark('mailhop:ready');
    document.body.dataset.ready = 'true';
    warmCodeCache(api);
  } catch (err) {
    bootEl.classList.add('failed');
    bootEl.setAttribute('role', 'alert');
    bootText.textContent = `The simulation could not start: ${err.message}`;
    document.body.dataset.ready = 'failed';
    throw err;
  }
}

if (live) import('./live.js').then((m) => m.bootLive());
else boot();

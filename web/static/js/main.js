// The playground page: starts the simulation in a Web Worker, exposes its
// API as globalThis.mailhop (every call a Promise), and puts the views
// together: the lessons ("Start here"), topology, timeline, terminals,
// compose, mailboxes, message, world. Served as …/live by `mailhop serve --ui`, the page is the live
// view of that server instead (live.js), without the simulation.
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
import { $, announce, tabs } from './dom.js';

// The live view is loaded only when it is asked for.
const live = /\/live$/.test(globalThis.location.pathname);
const api = live ? null : connectWorker(new URL('worker.js', import.meta.url));
if (api) globalThis.mailhop = api;

async function boot() {
  const bootEl = $('#boot');
  const bootText = $('#boot-text');
  try {
    await api.ready;
    performance.mark('mailhop:wasm-ready');
    bootText.textContent = 'Building the world…';
    const model = new Model(api);
    const selectTab = tabs($('#panel-tabs'));
    let timeline;
    let messageView;
    const actions = {
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
      load: async (x) => {
        try {
          const info = await api.load(x);
          model.switchTo(info.world);
          $('#world-name').textContent = info.name;
          announce(`World “${info.name}” loaded`);
        } catch (err) {
          announce(err.message, 'error');
          return err; // the World tab keeps it beside the text
        }
        return null;
      },
    };
    const topology = new Topology($('#topology svg'), model);
    timeline = new Timeline($('#timeline'), model, actions);
    const terminals = new Terminals($('#panel-terminal'), model);
    const compose = new Compose($('#panel-compose'), model, actions);
    const mailboxes = new Mailboxes($('#panel-mailboxes'), model, actions);
    messageView = new MessageView($('#panel-message'), model, actions);
    const world = new WorldPanel($('#panel-world'), model, actions);
    const controls = new Controls(model, actions);
    const lessons = new Lessons($('#panel-lessons'), $('#lesson-strip'), model,
      { showTab: (id) => selectTab(id), terminals });
    model.addEventListener('state', () => {
      if (model.state) $('#world-name').textContent = model.state.name;
    });
    await model.start();
    controls.showPlaying();
    terminals.showForm(false);
    await lessons.start();
    // A newcomer meets the course first.
    selectTab('tab-lessons');
    globalThis.mailhopUI = {
      model, topology, timeline, terminals, compose, mailboxes, messageView, world, controls, selectTab, lessons,
    };
    bootEl.hidden = true;
    performance.mark('mailhop:ready');
    document.body.dataset.ready = 'true';
  } catch (err) {
    bootEl.classList.add('failed');
    bootText.textContent = `The simulation could not start: ${err.message}`;
    document.body.dataset.ready = 'failed';
    throw err;
  }
}

if (live) import('./live.js').then((m) => m.bootLive());
else boot();

// Small DOM helpers: no framework, no innerHTML with data (the page's
// Content-Security-Policy allows no inline script or style, and every text
// shown comes from the simulation, so it is always set as text).

const SVG = 'http://www.w3.org/2000/svg';

// h('div', {class: 'x', onclick: f}, child, 'text', ...) builds an element.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

// s('rect', {...}) builds an SVG element.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  return fill(el, attrs, children);
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'text') {
      el.textContent = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

let uid = 0;
export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// announce says something to screen readers (and shows it briefly).
export function announce(text, kind = 'info') {
  const el = document.getElementById('status');
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 9000 : 4500);
}

// tabs wires a WAI-ARIA tab list: arrow keys move between tabs, and
// selecting a tab shows its panel. Returns select(id).
export function tabs(list, onSelect) {
  const tabEls = () => $$('[role="tab"]', list);
  function select(tab, focus) {
    for (const t of tabEls()) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      const panel = document.getElementById(t.getAttribute('aria-controls'));
      if (panel) panel.hidden = !on;
    }
    if (focus) tab.focus();
    if (onSelect) onSelect(tab);
  }
  list.addEventListener('click', (e) => {
    const t = e.target.closest('[role="tab"]');
    if (t && list.contains(t)) select(t, false);
  });
  list.addEventListener('keydown', (e) => {
    const all = tabEls();
    const i = all.indexOf(document.activeElement);
    if (i < 0) return;
    let j = -1;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') j = (i + 1) % all.length;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') j = (i - 1 + all.length) % all.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = all.length - 1;
    if (j >= 0) {
      e.preventDefault();
      select(all[j], true);
    }
  });
  return (idOrEl, focus = false) => {
    const t = typeof idOrEl === 'string' ? document.getElementById(idOrEl) : idOrEl;
    if (t) select(t, focus);
  };
}

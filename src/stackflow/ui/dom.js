// Small DOM helpers shared by every page: element building, formatting, status badges.

/**
 * Build an element: h('a', {href: '/x', class: 'link'}, 'text', child, [more]).
 * Attributes starting with "on" add event listeners; `false`/null/undefined ones are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Build an SVG element (same calling convention as h). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Format epoch seconds (or ISO text) as a local date and time. */
export function fmtTime(value) {
  const date = toDate(value);
  if (!date) return '–';
  return date.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

/** A <time> element with the local time and the exact ISO time as its title. */
export function timeEl(value) {
  const date = toDate(value);
  if (!date) return h('span', {class: 'muted'}, '–');
  return h('time', {datetime: date.toISOString(), title: date.toISOString()}, fmtTime(value));
}

function toDate(value) {
  if (value === null || value === undefined || value === '') return null;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Format a duration between two epoch-second times ("1.2 s", "3 min 4 s"). */
export function fmtDuration(start, stop) {
  if (start === null || start === undefined) return '–';
  const end = stop ?? Date.now() / 1000;
  const seconds = Math.max(0, end - start);
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Pretty JSON text (or "–" for undefined). */
export function pretty(value) {
  if (value === undefined) return '–';
  return JSON.stringify(value, null, 2);
}

/** One-line JSON, shortened to `limit` characters. */
export function oneLine(value, limit = 120) {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

/** A <pre> block with JSON. */
export function jsonBlock(value, label) {
  return h('pre', {class: 'json', tabindex: '0', 'aria-label': label || 'JSON'}, pretty(value));
}

/** The tone of a status: good, bad, warn, info or muted (drives badge colours). */
export function tone(status) {
  const text = String(status || '').toUpperCase();
  if (!text) return 'muted';
  if (text.includes('ROLLBACK') && !text.includes('FAILED')) return 'warn';
  if (/FAILED|TIMED_OUT|UNHEALTHY|CRASH|ERROR|BACKOFF/.test(text)) return 'bad';
  if (/DRIFTED|MODIFIED|DELETED$|CAUGHT|RETRIED|RETRYING|DEGRADED|OUT_OF_SYNC|STOPPING/.test(text)) {
    if (text === 'DELETE_COMPLETE') return 'muted';
    return 'warn';
  }
  if (/IN_PROGRESS|RUNNING|PENDING|STARTING|PROGRESSING/.test(text)) return 'info';
  if (/COMPLETE|SUCCEEDED|READY|ENABLED|IN_SYNC|HEALTHY|OK$/.test(text)) {
    return text.startsWith('DELETE') ? 'muted' : 'good';
  }
  return 'muted';
}

/** A status badge: coloured, and readable without colour (the text is the status). */
export function badge(status) {
  const text = status === null || status === undefined || status === '' ? 'UNKNOWN' : String(status);
  return h('span', {class: `badge tone-${tone(text)}`}, text.replaceAll('_', ' '));
}

/** A table from column titles and rows of cells (strings or nodes). */
export function table(columns, rows, {caption, empty = 'Nothing here yet.', className} = {}) {
  if (!rows.length) return h('p', {class: 'empty'}, empty);
  return h('div', {class: 'table-wrap'},
    h('table', {class: className || 'data'},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, rows.map((row) => (row instanceof Node ? row : h('tr', {}, row.map((cell) => h('td', {}, cell))))))));
}

/** A page section with a heading. */
export function section(title, ...children) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', {class: 'panel', 'aria-labelledby': id},
    h('h2', {id}, title), ...children);
}

/** An inline notice (info, error or unavailable). */
export function notice(text, kind = 'info') {
  return h('p', {class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : null}, text);
}

/** A key/value list. */
export function facts(pairs) {
  return h('dl', {class: 'facts'}, pairs.filter(Boolean).map(([key, value]) => [
    h('dt', {}, key), h('dd', {}, value === null || value === undefined || value === '' ? '–' : value),
  ]));
}

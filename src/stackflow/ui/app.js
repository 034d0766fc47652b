// The stackflow web UI: a small router over the pages, the token dialog and the health light.
//
// Pages are ES modules with `render(ctx)`; ctx gives the <main> element, the path parameters,
// the query, an AbortSignal that fires when the user leaves the page, `onCleanup(fn)` for
// streams and timers, `navigate(url)` and `title(text)`.

import {api, ApiError, getToken, setToken} from './api.js';
import {h, notice, replace} from './dom.js';
import * as workflows from './page_workflows.js';
import * as executions from './page_executions.js';
import * as execution from './page_execution.js';
import * as stacks from './page_stacks.js';
import * as ops from './page_ops.js';

const ROUTES = [
  [/^\/?$/, 'workflows', workflows.renderList],
  [/^\/workflows\/?$/, 'workflows', workflows.renderList],
  [/^\/workflows\/([^/]+)\/?$/, 'workflows', workflows.renderWorkflow],
  [/^\/executions\/?$/, 'executions', executions.renderList],
  [/^\/executions\/([^/]+)\/?$/, 'executions', execution.renderExecution],
  [/^\/stacks\/?$/, 'stacks', stacks.renderList],
  [/^\/stacks\/([^/]+)\/?$/, 'stacks', stacks.renderStack],
  [/^\/services\/?$/, 'services', ops.renderServices],
  [/^\/services\/([^/]+)\/?$/, 'services', ops.renderService],
  [/^\/schedules\/?$/, 'schedules', ops.renderSchedules],
  [/^\/schedules\/([^/]+)\/?$/, 'schedules', ops.renderSchedule],
];

const main = document.getElementById('main');
let current = null;

/** Show the page of the current location. */
async function route({focus = false} = {}) {
  if (current) current.leave();
  const path = window.location.pathname;
  const params = new URLSearchParams(window.location.search);
  const match = ROUTES.map(([re, nav, page]) => [path.match(re), nav, page]).find(([m]) => m);
  const controller = new AbortController();
  const cleanups = [];
  current = {
    leave() {
      controller.abort();
      for (const fn of cleanups.splice(0)) {
        try {
          fn();
        } catch {
          // leaving must not fail
        }
      }
    },
  };
  for (const link of document.querySelectorAll('.mainnav a')) {
    const active = match && link.dataset.nav === match[1];
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  replace(main, h('p', {class: 'loading', role: 'status'}, 'Loading…'));
  const ctx = {
    main,
    params: match ? match[0].slice(1).map(decodeURIComponent) : [],
    query: params,
    signal: controller.signal,
    onCleanup: (fn) => cleanups.push(fn),
    navigate,
    title: (text) => {
      document.title = text ? `${text} · stackflow` : 'stackflow';
    },
  };
  if (!match) {
    ctx.title('Not found');
    replace(main, h('h1', {}, 'Page not found'),
      notice(`Nothing at ${path}.`, 'error'), h('p', {}, h('a', {href: '/'}, 'Back to workflows')));
  } else {
    try {
      await match[2](ctx);
    } catch (error) {
      if (controller.signal.aborted || error.name === 'AbortError') return;
      showError(error);
    }
  }
  if (focus && !controller.signal.aborted) {
    const heading = main.querySelector('h1');
    (heading || main).setAttribute('tabindex', '-1');
    (heading || main).focus({preventScroll: false});
  }
}

function showError(error) {
  const text = error instanceof ApiError ? error.message : `Something went wrong: ${error.message}`;
  replace(main, h('h1', {}, error instanceof ApiError && error.status === 404 ? 'Not found' : 'Error'),
    notice(text, 'error'),
    h('p', {}, h('button', {class: 'btn', type: 'button', onclick: () => route()}, 'Try again')));
}

/** Go to a UI path (pushes history, then renders). */
export function navigate(url, {replaceState = false} = {}) {
  if (replaceState) window.history.replaceState({}, '', url);
  else window.history.pushState({}, '', url);
  route({focus: !replaceState});
  if (!replaceState) window.scrollTo(0, 0);
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.target && link.target !== '_self') return;
  if (link.hasAttribute('download')) return;
  const url = new URL(link.href, window.location.href);
  if (url.origin !== window.location.origin || url.pathname.startsWith('/api/')) return;
  if (link.getAttribute('href').startsWith('#')) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => route({focus: true}));

// ---------------------------------------------------------------- token dialog

const dialog = document.getElementById('token-dialog');
const tokenInput = document.getElementById('token-input');
const tokenReason = document.getElementById('token-reason');
const defaultReason = tokenReason.textContent;

function openTokenDialog(reason) {
  if (dialog.open) return;
  tokenReason.textContent = reason ? `${reason} ${defaultReason}` : defaultReason;
  tokenInput.value = getToken();
  dialog.showModal();
  tokenInput.focus();
}

document.getElementById('token-button').addEventListener('click', () => openTokenDialog());
dialog.addEventListener('close', () => {
  if (dialog.returnValue === 'save') setToken(tokenInput.value.trim());
  else if (dialog.returnValue === 'clear') setToken('');
  else return;
  updateTokenButton();
  route();
  checkHealth();
});
window.addEventListener('stackflow:auth', (event) => openTokenDialog(event.detail));

function updateTokenButton() {
  const button = document.getElementById('token-button');
  button.textContent = getToken() ? 'Token ✓' : 'Token';
  button.setAttribute('aria-label', getToken() ? 'API token (set)' : 'API token (none)');
}

// ---------------------------------------------------------------- health

const health = document.getElementById('health');

async function checkHealth() {
  try {
    await api('/health');
    health.textContent = 'connected';
    health.className = 'health ok';
  } catch (error) {
    health.textContent = error instanceof ApiError && error.status === 401 ? 'token needed' : 'offline';
    health.className = 'health bad';
  }
}

updateTokenButton();
checkHealth();
setInterval(() => {
  if (document.visibilityState === 'visible') checkHealth();
}, 15000);
route();

// Executions: the list with status and workflow filters (refreshed while shown), and a start form.

import {api, query, seg} from './api.js';
import {badge, fmtDuration, h, oneLine, replace, section, table, timeEl} from './dom.js';
import {startForm} from './start_form.js';

const FILTERS = [
  ['', 'All'],
  ['RUNNING', 'Running'],
  ['SUCCEEDED', 'Succeeded'],
  ['FAILED', 'Failed'],
  ['TIMED_OUT', 'Timed out'],
  ['ABORTED', 'Aborted'],
];
const REFRESH_MS = 4000;

/** GET /executions?status=&workflow=&limit= with filters kept in the URL. */
export async function renderList(ctx) {
  ctx.title('Executions');
  let status = ctx.query.get('status') || '';
  let workflow = ctx.query.get('workflow') || '';
  const limit = Number(ctx.query.get('limit')) || 100;
  const workflows = await api('/workflows', {signal: ctx.signal});
  // Filters change the URL and the results in place (focus stays on the control used).
  const go = (changes) => {
    ({status, workflow} = {status, workflow, ...changes});
    const shown = {status, workflow, limit: limit === 100 ? '' : limit};
    window.history.replaceState({}, '', `/executions${query(shown)}`);
    for (const button of statusGroup.querySelectorAll('button')) {
      button.setAttribute('aria-pressed', String(button.dataset.status === status));
    }
    results.setAttribute('aria-busy', 'true');
    load().catch(() => {});
  };

  const statusGroup = h('div', {class: 'segmented', role: 'group', 'aria-label': 'Filter by status'},
    FILTERS.map(([value, text]) => h('button', {
      type: 'button', class: 'seg', 'aria-pressed': String(value === status), dataset: {status: value},
      onclick: () => go({status: value}),
    }, text)));
  const names = [...new Set([...workflows.map((w) => w.name), workflow].filter(Boolean))].sort();
  const workflowPick = h('select', {id: 'filter-workflow'},
    h('option', {value: ''}, 'All workflows'),
    names.map((n) => h('option', {value: n, selected: n === workflow}, n)));
  workflowPick.addEventListener('change', () => go({workflow: workflowPick.value}));

  const results = h('div', {class: 'results', 'aria-live': 'polite', 'aria-busy': 'true'});
  const updated = h('span', {class: 'muted small'});
  const starter = h('details', {class: 'panel disclosure'},
    h('summary', {}, 'Start an execution'),
    workflows.length
      ? startForm({
        workflows: workflows.map((w) => w.name),
        onStarted: (record) => ctx.navigate(`/executions/${seg(record.execution)}`),
      })
      : h('p', {class: 'empty'}, 'Deploy a workflow first.'));

  replace(ctx.main,
    h('div', {class: 'page-head'}, h('h1', {}, 'Executions'), updated),
    starter,
    h('div', {class: 'toolbar'},
      statusGroup,
      h('div', {class: 'field-inline'}, h('label', {for: 'filter-workflow'}, 'Workflow'), workflowPick)),
    section('Executions', results));

  let sequence = 0;
  async function load() {
    sequence += 1;
    const mine = sequence;
    const rows = await api(`/executions${query({status, workflow, limit})}`, {signal: ctx.signal});
    if (mine !== sequence) return; // a newer filter answered first
    results.setAttribute('aria-busy', 'false');
    replace(results, table(['Execution', 'Workflow', 'Status', 'Started', 'Duration', 'Error'],
      rows.map((r) => [
        h('a', {href: `/executions/${seg(r.execution)}`}, r.name || r.execution),
        r.workflow ? h('a', {href: `/workflows/${seg(r.workflow)}`}, r.workflow) : '–',
        badge(r.status),
        timeEl(r.start_time),
        fmtDuration(r.start_time, r.stop_time),
        r.error ? h('span', {class: 'error-text', title: r.cause || ''}, oneLine(r.error, 60)) : '',
      ]),
      {empty: status || workflow ? 'No execution matches these filters.' : 'No executions yet.'}));
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }
  await load();
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible') load().catch(() => {});
  }, REFRESH_MS);
  ctx.onCleanup(() => clearInterval(timer));
}

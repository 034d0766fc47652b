// One execution: the graph coloured live from the event stream, the selected state's input,
// output, error and attempts, the history as a table, and Stop / Redrive.

import {api, ApiError, seg, stream} from './api.js';
import {
  badge, facts, fmtDuration, h, jsonBlock, notice, oneLine, replace, section, timeEl,
} from './dom.js';
import {fitToggle, legend, renderGraph} from './graph.js';

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);
const REDRIVABLE = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);
const MAX_ROWS = 2000;

/** A function that runs `fn` at most once per `ms`, trailing calls included. */
function throttle(fn, ms) {
  let timer = null;
  let again = false;
  return () => {
    if (timer) {
      again = true;
      return;
    }
    fn();
    timer = setTimeout(function done() {
      timer = null;
      if (again) {
        again = false;
        fn();
        timer = setTimeout(done, ms);
      }
    }, ms);
  };
}

/** GET /executions/{id} + /graph, then /events/stream for live colours and history. */
export async function renderExecution(ctx) {
  const [id] = ctx.params;
  const opts = {signal: ctx.signal};
  let [detail, drawn] = await Promise.all([
    api(`/executions/${seg(id)}`, opts),
    api(`/executions/${seg(id)}/graph`, opts),
  ]);
  ctx.title(detail.name || id);
  let status = detail.status;
  let selected = null;
  let lastEventId = 0;
  let startTime = detail.start_time;
  let source = null;
  let closed = false;
  let lastStates = null;

  // ------------------------------------------------------------------ header
  const statusBadge = h('span', {id: 'exec-status', 'aria-live': 'polite'});
  const meta = h('div', {class: 'meta'});
  const errorBox = h('div', {id: 'exec-error'});
  const actionError = h('div', {role: 'alert'});
  const stopButton = h('button', {id: 'stop-button', class: 'btn btn-danger', type: 'button'}, 'Stop');
  const redriveButton = h('button', {id: 'redrive-button', class: 'btn', type: 'button'}, 'Redrive');
  const liveNote = h('span', {id: 'live-note', class: 'live muted small', 'aria-live': 'polite'});

  const durationEl = h('span', {id: 'exec-duration'});
  const showDuration = () => {
    durationEl.textContent = fmtDuration(detail.start_time, TERMINAL.has(status) ? detail.stop_time : null);
  };

  function renderHeader() {
    showDuration();
    replace(statusBadge, badge(status));
    statusBadge.dataset.status = status;
    replace(meta, facts([
      ['Workflow', detail.workflow
        ? h('a', {href: `/workflows/${seg(detail.workflow)}${detail.version ? `?version=${detail.version}` : ''}`},
          detail.workflow, detail.version ? ` (v${detail.version})` : '')
        : '–'],
      ['Execution id', h('code', {}, detail.execution)],
      ['Started', timeEl(detail.start_time)],
      ['Stopped', timeEl(detail.stop_time)],
      ['Duration', durationEl],
      detail.parent_id ? ['Parent', h('a', {href: `/executions/${seg(detail.parent_id)}`}, detail.parent_id)] : null,
      detail.children && Object.keys(detail.children).length
        ? ['Children', Object.entries(detail.children).map(([k, v]) => `${v} ${k.toLowerCase()}`).join(', ')]
        : null,
    ]));
    stopButton.disabled = status !== 'RUNNING';
    redriveButton.disabled = !REDRIVABLE.has(status);
    replace(errorBox, detail.error || detail.cause
      ? h('div', {class: 'notice notice-error', role: 'status'},
        h('strong', {}, detail.error || 'Error'), detail.cause ? h('pre', {class: 'cause'}, detail.cause) : null)
      : null);
  }

  const outputHolder = h('div', {id: 'exec-output'});
  function renderOutput() {
    replace(outputHolder, detail.output === null || detail.output === undefined
      ? h('p', {class: 'muted'}, TERMINAL.has(status) ? 'No output.' : 'Not finished yet.')
      : jsonBlock(detail.output, 'Execution output'));
  }

  // ------------------------------------------------------------------ graph and state panel
  const statePanel = h('div', {id: 'state-detail', class: 'state-detail', 'aria-live': 'polite'});
  const graphHolder = h('div', {class: 'graph-scroll'});
  const fitHolder = h('span', {});
  let graph = null;

  function drawGraph() {
    graph = renderGraph(drawn.graph, {
      label: `Graph of execution ${detail.name || id}`,
      onSelect: (name, node) => {
        selected = {name, node};
        renderState();
      },
    });
    replace(graphHolder, graph.svg);
    replace(fitHolder, fitToggle(graph.svg, drawn.graph.width, drawn.graph.height));
    if (selected) graph.select(selected.name, false);
  }

  function renderState() {
    if (!selected) {
      replace(statePanel, h('p', {class: 'muted'},
        'Select a state in the graph (click it, or focus it with Tab and press Enter) to see its input, output, error and attempts.'));
      return;
    }
    const {name} = selected;
    const info = (detail.states || {})[name];
    if (detail.type === 'code') {
      const node = selected.node || {};
      replace(statePanel, h('h3', {id: 'state-name'}, name), jsonBlock(node, `Details of ${name}`));
      return;
    }
    if (!info) {
      replace(statePanel, h('h3', {id: 'state-name'}, name),
        h('p', {class: 'muted'}, TERMINAL.has(status) ? 'This state did not run.' : 'This state has not run yet.'));
      return;
    }
    replace(statePanel,
      h('h3', {id: 'state-name'}, name, ' ', badge(info.status.toUpperCase())),
      facts([
        ['Entered', `${info.entries} ×`],
        ['Attempts', String(info.attempts)],
        ['Retries', String(info.retries)],
        info.error ? ['Error', h('span', {class: 'error-text'}, info.error)] : null,
        info.cause ? ['Cause', h('pre', {class: 'cause'}, info.cause)] : null,
      ]),
      h('h4', {}, 'Input'), h('div', {id: 'state-input'}, jsonBlock(info.input, `Input of ${name}`)),
      h('h4', {}, 'Output'),
      h('div', {id: 'state-output'}, info.output === null || info.output === undefined
        ? h('p', {class: 'muted'}, info.status === 'running' ? 'Still running.' : 'No output.')
        : jsonBlock(info.output, `Output of ${name}`)));
  }

  // ------------------------------------------------------------------ history table
  const historyBody = h('tbody', {id: 'history-rows'});
  const historyCount = h('span', {class: 'muted small'});
  const historyTable = h('div', {class: 'table-wrap history'},
    h('table', {class: 'data'},
      h('caption', {class: 'visually-hidden'}, 'Execution history events'),
      h('thead', {}, h('tr', {}, ['#', 'Time', 'Type', 'State', 'Details'].map((c) => h('th', {scope: 'col'}, c)))),
      historyBody));

  function addEvent(event) {
    if (event.id <= lastEventId) return;
    lastEventId = event.id;
    if (historyBody.children.length >= MAX_ROWS) {
      historyCount.textContent = `${event.id} events (the first ${MAX_ROWS} are shown)`;
      return;
    }
    if (startTime === null || startTime === undefined) startTime = event.timestamp;
    const offset = startTime !== null && startTime !== undefined ? `+${fmtDuration(startTime, event.timestamp)}` : '';
    const details = event.details || {};
    const summary = oneLine(details, 90);
    const failed = /Failed|TimedOut|Aborted/.test(event.type);
    historyBody.append(h('tr', {class: failed ? 'row-bad' : null, dataset: {type: event.type}},
      h('td', {class: 'num'}, String(event.id)),
      h('td', {}, h('span', {title: new Date(event.timestamp * 1000).toISOString()}, offset)),
      h('td', {}, h('code', {}, event.type)),
      h('td', {}, details.name ? String(details.name) : ''),
      h('td', {class: 'details-cell'}, Object.keys(details).length
        ? h('details', {}, h('summary', {}, summary), jsonBlock(details, `Details of event ${event.id}`))
        : '')));
    historyCount.textContent = `${historyBody.children.length} events`;
  }

  // ------------------------------------------------------------------ refresh and stream
  const refresh = throttle(async () => {
    try {
      detail = await api(`/executions/${seg(id)}`, opts);
      if (!TERMINAL.has(status) || TERMINAL.has(detail.status)) status = detail.status;
      renderHeader();
      renderOutput();
      renderState();
      if (detail.type === 'code') {
        drawn = await api(`/executions/${seg(id)}/graph`, opts);
        drawGraph();
      }
    } catch (error) {
      if (!ctx.signal.aborted) console.warn('refresh failed', error);
    }
  }, 600);

  function openStream() {
    closed = false;
    liveNote.textContent = 'live';
    source = stream(`/executions/${seg(id)}/events/stream?after=${lastEventId}`, {
      history: (event) => {
        addEvent(event);
        if (detail.type === 'code') refresh();
      },
      states: (data) => {
        status = data.status || status;
        lastStates = data.states || {};
        graph.setStatuses(lastStates, status);
        replace(statusBadge, badge(status));
        statusBadge.dataset.status = status;
        refresh();
      },
      end: (record) => {
        closeStream();
        status = record.status;
        if (lastStates) graph.setStatuses(lastStates, status);
        liveNote.textContent = '';
        refresh();
      },
    }, {
      onerror: () => {
        if (closed) return;
        if (source && source.readyState === EventSource.CLOSED) {
          liveNote.textContent = 'live updates stopped';
          reconnect.hidden = false;
        } else {
          liveNote.textContent = 'reconnecting…';
        }
      },
    });
  }
  function closeStream() {
    closed = true;
    if (source) source.close();
    source = null;
  }
  const reconnect = h('button', {class: 'btn btn-quiet', type: 'button', hidden: true,
    onclick: () => {
      reconnect.hidden = true;
      closeStream();
      openStream();
    }}, 'Reconnect');
  ctx.onCleanup(closeStream);

  // ------------------------------------------------------------------ actions
  async function act(button, path, body) {
    actionError.replaceChildren();
    button.disabled = true;
    try {
      const record = await api(path, {method: 'POST', body});
      status = record.status;
      detail = {...detail, ...record};
      renderHeader();
      return record;
    } catch (error) {
      actionError.append(notice(error instanceof ApiError ? error.message : String(error), 'error'));
      renderHeader();
      return null;
    }
  }
  stopButton.addEventListener('click', async () => {
    if (!window.confirm(`Stop execution ${detail.name || id}? Running tasks are abandoned.`)) return;
    await act(stopButton, `/executions/${seg(id)}/stop`, {error: 'Stopped', cause: 'Stopped from the web UI'});
    refresh();
  });
  redriveButton.addEventListener('click', async () => {
    const record = await act(redriveButton, `/executions/${seg(id)}/redrive`);
    if (record && !source) openStream();
  });

  // ------------------------------------------------------------------ page
  renderHeader();
  renderOutput();
  drawGraph();
  renderState();
  replace(ctx.main,
    h('div', {class: 'page-head'},
      h('div', {},
        h('p', {class: 'crumbs'}, h('a', {href: '/executions'}, 'Executions'), ' / '),
        h('h1', {}, detail.name || id, ' ', statusBadge)),
      h('div', {class: 'head-actions'}, liveNote, reconnect, stopButton, redriveButton,
        detail.workflow ? h('a', {class: 'btn', href: `/workflows/${seg(detail.workflow)}`}, 'Start another') : null)),
    actionError,
    meta,
    errorBox,
    h('div', {class: 'split'},
      h('section', {class: 'panel graph-panel', 'aria-labelledby': 'graph-title'},
        h('div', {class: 'panel-head'}, h('h2', {id: 'graph-title'}, 'Graph'), fitHolder),
        graphHolder, legend()),
      h('aside', {class: 'panel side-panel', 'aria-labelledby': 'state-title'},
        h('h2', {id: 'state-title'}, 'State'), statePanel)),
    h('div', {class: 'split split-even'},
      section('Execution input', jsonBlock(detail.input, 'Execution input')),
      section('Execution output', outputHolder)),
    h('section', {class: 'panel', 'aria-labelledby': 'history-title'},
      h('div', {class: 'panel-head'}, h('h2', {id: 'history-title'}, 'History'), historyCount),
      historyTable));
  openStream();

  // The duration of a running execution keeps counting.
  const ticker = setInterval(() => {
    if (status === 'RUNNING' && document.visibilityState === 'visible') showDuration();
  }, 1000);
  ctx.onCleanup(() => clearInterval(ticker));
}

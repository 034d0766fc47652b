// Workflows: the list of deployed workflows, and one workflow's graph, versions and start form.

import {api, query, seg} from './api.js';
import {badge, facts, fmtDuration, h, jsonBlock, notice, replace, section, table, timeEl} from './dom.js';
import {fitToggle, legend, renderGraph} from './graph.js';
import {startForm} from './start_form.js';

/** GET /workflows as a table. */
export async function renderList(ctx) {
  ctx.title('Workflows');
  const items = await api('/workflows', {signal: ctx.signal});
  replace(ctx.main,
    h('div', {class: 'page-head'},
      h('h1', {}, 'Workflows'),
      h('p', {class: 'muted'}, `${items.length} deployed`)),
    section('Deployed workflows', table(['Name', 'Latest version', 'Deployed'],
      items.map((w) => [
        h('a', {href: `/workflows/${seg(w.name)}`}, w.name),
        `v${w.version}`,
        timeEl(w.created),
      ]),
      {empty: 'No workflow is deployed yet. Deploy one with `stackflow workflow deploy` or a stack’s Stackflow::Workflow resource.'})));
}

/** Find a state's definition anywhere in a definition (branches and item processors too). */
export function findState(machine, name) {
  if (!machine || typeof machine !== 'object') return null;
  const states = machine.States || {};
  if (Object.prototype.hasOwnProperty.call(states, name)) return states[name];
  for (const state of Object.values(states)) {
    const lanes = [...(state.Branches || []), state.ItemProcessor, state.Iterator].filter(Boolean);
    for (const lane of lanes) {
      const found = findState(lane, name);
      if (found) return found;
    }
  }
  return null;
}

/** One workflow: version picker, graph, the selected state's definition, start form, runs. */
export async function renderWorkflow(ctx) {
  const [name] = ctx.params;
  const version = ctx.query.get('version') || '';
  ctx.title(name);
  const opts = {signal: ctx.signal};
  const [versions, drawn, deployed, runs] = await Promise.all([
    api(`/workflows/${seg(name)}/versions`, opts),
    api(`/workflows/${seg(name)}/graph${query({version})}`, opts),
    api(`/workflows/${seg(name)}${query({version})}`, opts),
    api(`/executions${query({workflow: name, limit: 10})}`, opts),
  ]);
  const definition = deployed.definition || {};

  const picker = h('select', {id: 'version-pick', 'aria-label': 'Version'},
    [...versions].reverse().map((v) => h('option', {value: String(v.version), selected: v.version === deployed.version}, `v${v.version} · ${new Date(v.created * 1000).toLocaleString()}`)));
  picker.addEventListener('change', () => {
    ctx.navigate(`/workflows/${seg(name)}${query({version: picker.value})}`, {replaceState: true});
  });

  const detail = h('div', {class: 'state-detail', 'aria-live': 'polite'},
    h('p', {class: 'muted'}, 'Select a state in the graph (click it, or focus it and press Enter) to see its definition.'));
  const graph = renderGraph(drawn.graph, {
    label: `Graph of workflow ${name}`,
    onSelect: (stateName) => {
      const state = findState(definition, stateName);
      replace(detail,
        h('h3', {}, stateName),
        state ? facts([['Type', state.Type], ['Comment', state.Comment], ['Resource', state.Resource]]) : null,
        state ? jsonBlock(state, `Definition of ${stateName}`) : notice('No definition found for this state.'));
    },
  });

  replace(ctx.main,
    h('div', {class: 'page-head'},
      h('div', {},
        h('p', {class: 'crumbs'}, h('a', {href: '/workflows'}, 'Workflows'), ' / '),
        h('h1', {}, name)),
      h('div', {class: 'head-actions'},
        h('label', {for: 'version-pick', class: 'inline-label'}, 'Version'), picker,
        h('a', {class: 'btn', href: `/executions${query({workflow: name})}`}, 'All executions'))),
    definition.Comment ? h('p', {class: 'lead'}, definition.Comment) : null,
    h('div', {class: 'split'},
      h('section', {class: 'panel graph-panel', 'aria-labelledby': 'graph-title'},
        h('div', {class: 'panel-head'}, h('h2', {id: 'graph-title'}, 'Definition'),
          fitToggle(graph.svg, drawn.graph.width, drawn.graph.height)),
        h('div', {class: 'graph-scroll'}, graph.svg),
        legend()),
      h('aside', {class: 'panel side-panel', 'aria-labelledby': 'state-title'},
        h('h2', {id: 'state-title'}, 'State'), detail)),
    h('div', {class: 'split split-even'},
      section('Start an execution', startForm({
        workflow: `${name}:${deployed.version}`,
        onStarted: (record) => ctx.navigate(`/executions/${seg(record.execution)}`),
      })),
      section('Recent executions', table(['Execution', 'Status', 'Started', 'Duration'],
        runs.map((r) => [
          h('a', {href: `/executions/${seg(r.execution)}`}, r.name || r.execution),
          badge(r.status), timeEl(r.start_time), fmtDuration(r.start_time, r.stop_time),
        ]), {empty: 'This workflow has not run yet.'}))));
}

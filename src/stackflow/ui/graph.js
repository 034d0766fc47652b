// Draw a laid-out workflow graph (GET /workflows/{name}/graph, /executions/{id}/graph) as SVG.
//
// The server lays the graph out (absolute boxes and edge polylines); this module only draws:
// Parallel and Map states as groups holding their branch/processor lanes, Choice edges with
// their rule as label, Catch edges dashed, and each state coloured by its status class
// (`st-running`, `st-succeeded`...). States are focusable buttons: click or Enter selects one.

import {s} from './dom.js';

/** Every state status the UI colours, in legend order. */
export const STATUSES = [
  ['not_started', 'Not started'],
  ['running', 'Running'],
  ['retrying', 'Retrying'],
  ['succeeded', 'Succeeded'],
  ['retried', 'Succeeded after retry'],
  ['caught', 'Caught'],
  ['failed', 'Failed'],
  ['aborted', 'Aborted'],
];

const GLYPHS = {
  running: '●', retrying: '↻', succeeded: '✓', retried: '✓', caught: '⤳', failed: '✕', aborted: '■',
};
const CHAR_WIDTH = 7.2;
const GROUP_KINDS = new Set(['parallel', 'map']);

/**
 * Render `graph` ({width, height, nodes, edges}). Options: `onSelect(name, node)` when a state is
 * chosen, `statuses` to colour states at once ({name: status}), `label` for the SVG.
 * Returns {svg, setStatuses(map, executionStatus), select(name), nodeFor(name)}.
 */
export function renderGraph(graph, {onSelect, statuses, label = 'Workflow graph'} = {}) {
  const width = Math.max(graph.width || 0, 120);
  const height = Math.max(graph.height || 0, 80);
  const svg = s('svg', {
    class: 'graph', width, height, viewBox: `0 0 ${width} ${height}`, role: 'group',
    'aria-label': label,
  });
  svg.append(defs());
  const containers = s('g', {class: 'layer-groups'});
  const edgesLayer = s('g', {class: 'layer-edges', 'aria-hidden': 'true'});
  const nodesLayer = s('g', {class: 'layer-nodes'});
  svg.append(containers, edgesLayer, nodesLayer);

  const byState = new Map();
  const hasLanes = new Set(graph.nodes.filter((n) => n.parent).map((n) => n.parent));
  for (const node of graph.nodes) {
    if (node.kind === 'branch' || node.kind === 'processor') {
      containers.append(lane(node));
    } else if (node.kind === 'start' || node.kind === 'end') {
      nodesLayer.append(terminal(node));
    } else {
      const group = GROUP_KINDS.has(node.kind) && hasLanes.has(node.id);
      const el = stateNode(node, group);
      (group ? containers : nodesLayer).append(el);
      if (node.name) byState.set(node.name, el);
      if (node.id) byState.set(node.id, el);
    }
  }
  const placed = [];
  for (const edge of graph.edges) edgesLayer.append(edgePath(edge, placed, width));

  let selected = null;
  function select(name, notify = true) {
    const el = byState.get(name);
    if (!el) return;
    if (selected) {
      selected.classList.remove('selected');
      selected.setAttribute('aria-pressed', 'false');
    }
    selected = el;
    el.classList.add('selected');
    el.setAttribute('aria-pressed', 'true');
    if (notify && onSelect) onSelect(el.dataset.state, el.__node);
  }
  svg.addEventListener('click', (event) => {
    const el = event.target.closest('.node[data-state]');
    if (el) select(el.dataset.state);
  });
  svg.addEventListener('keydown', (event) => {
    const el = event.target.closest('.node[data-state]');
    if (el && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault();
      select(el.dataset.state);
    }
  });

  function setStatuses(map, executionStatus) {
    for (const node of graph.nodes) {
      if (!node.name) continue;
      const el = byState.get(node.name);
      if (el) setNodeStatus(el, map[node.name] || 'not_started');
    }
    if (executionStatus) {
      const end = svg.querySelector('.node.kind-end');
      if (end) {
        const ended = executionStatus !== 'RUNNING';
        setNodeStatus(end, ended ? executionStatus.toLowerCase() : 'not_started');
      }
    }
  }

  if (statuses) setStatuses(statuses);
  else {
    for (const node of graph.nodes) {
      const el = byState.get(node.name) || (node.kind === 'end' || node.kind === 'start'
        ? svg.querySelector(`.node.kind-${node.kind}`) : null);
      if (el && node.status) setNodeStatus(el, node.status);
    }
  }
  return {svg, setStatuses, select, nodeFor: (name) => byState.get(name)};
}

/** Set a state's status class, glyph and accessible name. */
export function setNodeStatus(el, status) {
  const previous = el.dataset.status;
  if (previous === status) return;
  if (previous) el.classList.remove(`st-${previous}`);
  el.classList.add(`st-${status}`);
  el.dataset.status = status;
  const glyph = el.querySelector('.glyph');
  if (glyph) glyph.textContent = GLYPHS[status] || '';
  const name = el.dataset.label || el.dataset.state || '';
  const words = status.replaceAll('_', ' ');
  if (el.dataset.state) el.setAttribute('aria-label', `${name} (${el.dataset.type}): ${words}`);
  const title = el.querySelector('title');
  if (title) title.textContent = `${name} — ${words}`;
}

function defs() {
  const marker = (id, cls) => s('marker', {
    id, viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7',
    orient: 'auto-start-reverse', class: cls,
  }, s('path', {d: 'M0,0 L10,5 L0,10 z'}));
  return s('defs', {}, marker('arrow', 'arrowhead'), marker('arrow-catch', 'arrowhead catch'));
}

function fit(text, width) {
  const max = Math.max(3, Math.floor((width - 30) / CHAR_WIDTH));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function stateNode(node, group) {
  const name = node.name || node.label || node.id;
  const type = node.type || node.kind;
  const el = s('g', {
    class: `node state kind-${node.kind}${group ? ' group' : ''}`,
    tabindex: '0', role: 'button', 'aria-pressed': 'false',
    dataset: {state: name, type, label: node.label || name, id: node.id},
  });
  el.__node = node;
  el.append(s('title', {}, name));
  const {x, y, width, height} = node;
  el.append(s('rect', {class: 'ring', x: x - 4, y: y - 4, width: width + 8, height: height + 8, rx: 10}));
  el.append(s('rect', {class: 'shape', x, y, width, height, rx: group ? 8 : 6}));
  if (group) {
    el.append(s('rect', {class: 'group-head', x, y, width, height: 30, rx: 8}));
    el.append(s('text', {class: 'label', x: x + 12, y: y + 20}, fit(node.label || name, width - 24)));
    el.append(s('text', {class: 'type', x: x + width - 28, y: y + 20, 'text-anchor': 'end'}, type));
    el.append(s('text', {class: 'glyph', x: x + width - 12, y: y + 20, 'text-anchor': 'end'}));
  } else {
    el.append(s('text', {class: 'label', x: x + width / 2, y: y + height / 2 - 2, 'text-anchor': 'middle'},
      fit(node.label || name, width)));
    el.append(s('text', {class: 'type', x: x + width / 2, y: y + height / 2 + 13, 'text-anchor': 'middle'},
      type));
    el.append(s('text', {class: 'glyph', x: x + width - 8, y: y + 15, 'text-anchor': 'end'}));
  }
  setNodeStatus(el, node.status || 'not_started');
  return el;
}

function lane(node) {
  const {x, y, width, height} = node;
  return s('g', {class: `lane kind-${node.kind}`, dataset: {id: node.id}},
    s('rect', {class: 'lane-box', x, y, width, height, rx: 6}),
    s('text', {class: 'lane-label', x: x + 8, y: y + 13}, node.label));
}

function terminal(node) {
  const r = Math.min(node.width, node.height) / 2;
  const cx = node.x + node.width / 2;
  const cy = node.y + node.height / 2;
  const el = s('g', {class: `node terminal kind-${node.kind}`, dataset: {label: node.label}},
    s('title', {}, node.label),
    s('circle', {class: 'shape', cx, cy, r}));
  if (node.kind === 'end') el.append(s('circle', {class: 'inner', cx, cy, r: r - 5}));
  return el;
}

const LABEL_CHAR = 6.3;
const LABEL_HEIGHT = 14;

function edgePath(edge, placed, width) {
  const points = edge.points || [];
  const g = s('g', {class: `edge kind-${edge.kind}${edge.dashed ? ' dashed' : ''}${edge.back ? ' back' : ''}`,
    dataset: {from: edge.from, to: edge.to}});
  if (points.length < 2) return g;
  const d = points.map(([px, py], i) => `${i ? 'L' : 'M'}${px},${py}`).join(' ');
  g.append(s('path', {
    d, class: 'edge-line', 'marker-end': `url(#${edge.dashed ? 'arrow-catch' : 'arrow'})`,
  }));
  if (edge.label) {
    const text = edge.label.length > 34 ? `${edge.label.slice(0, 33)}…` : edge.label;
    const [x, y] = labelPoint(points, text.length * LABEL_CHAR, placed, width);
    g.append(s('text', {class: 'edge-label', x, y, 'text-anchor': 'middle'}, s('title', {}, edge.label), text));
  }
  return g;
}

/**
 * Where an edge's label goes: along the edge's last segment (near its target, where edges
 * that leave one Choice have spread apart), at the first spot whose box does not overlap a
 * label placed before, kept inside the drawing. `placed` collects the chosen boxes.
 */
function labelPoint(points, textWidth, placed, width) {
  const [ax, ay] = points[points.length - 2];
  const [bx, by] = points[points.length - 1];
  const half = textWidth / 2;
  let fallback = null;
  for (const t of [0.72, 0.5, 0.88, 0.3]) {
    const x = Math.min(Math.max(ax + (bx - ax) * t, half + 4), Math.max(half + 4, width - half - 4));
    const y = ay + (by - ay) * t + 4;
    const box = {left: x - half, right: x + half, top: y - LABEL_HEIGHT + 3, bottom: y + 3};
    fallback = fallback || [x, y, box];
    const hit = placed.some((o) => box.left < o.right && o.left < box.right && box.top < o.bottom && o.top < box.bottom);
    if (!hit) {
      placed.push(box);
      return [x, y];
    }
  }
  placed.push(fallback[2]);
  return [fallback[0], fallback[1]];
}

/** Smallest scale at which a graph is shrunk to fit the screen by default. */
const MIN_FIT_SCALE = 0.6;

/**
 * A "Fit to view" toggle for a graph's SVG: a shrunk graph fits the screen without scrolling,
 * actual size keeps every label at full size. Big graphs start at actual size.
 */
export function fitToggle(svg, width, height) {
  const available = Math.max(300, window.innerHeight - 200);
  const scale = Math.min(1, available / Math.max(height, 1));
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'btn btn-quiet small';
  const apply = (fit) => {
    svg.classList.toggle('fit', fit);
    button.setAttribute('aria-pressed', String(fit));
    button.textContent = 'Fit to view';
  };
  button.addEventListener('click', () => apply(!svg.classList.contains('fit')));
  apply(scale < 1 && scale >= MIN_FIT_SCALE);
  button.hidden = scale >= 1 && width < 900;
  return button;
}

/** The status legend shown under a graph. */
export function legend() {
  const wrap = document.createElement('ul');
  wrap.className = 'legend';
  wrap.setAttribute('aria-label', 'State colours');
  for (const [status, text] of STATUSES) {
    const item = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `swatch st-${status}`;
    sw.setAttribute('aria-hidden', 'true');
    item.append(sw, document.createTextNode(` ${text}`));
    wrap.append(item);
  }
  const catchItem = document.createElement('li');
  catchItem.innerHTML = '<svg width="28" height="10" aria-hidden="true"><line x1="0" y1="5" x2="28" y2="5" class="legend-catch"/></svg> Catch';
  wrap.append(catchItem);
  return wrap;
}

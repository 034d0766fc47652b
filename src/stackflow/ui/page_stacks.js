// Stacks: the list, and one stack's resources, live events, outputs, parameters (NoEcho values
// come masked from the API), last change set with before/after values, and drift.

import {api, ApiError, optional, query, seg, stream} from './api.js';
import {
  badge, facts, h, notice, oneLine, replace, section, table, timeEl,
} from './dom.js';

const MAX_EVENTS = 300;

/** GET /stacks as a table. */
export async function renderList(ctx) {
  ctx.title('Stacks');
  const showDeleted = ctx.query.get('all') === 'true';
  const items = await api(`/stacks${query({all: showDeleted ? 'true' : ''})}`, {signal: ctx.signal});
  const toggle = h('input', {id: 'show-deleted', type: 'checkbox', checked: showDeleted});
  toggle.addEventListener('change', () => {
    ctx.navigate(`/stacks${query({all: toggle.checked ? 'true' : ''})}`, {replaceState: true});
  });
  replace(ctx.main,
    h('div', {class: 'page-head'},
      h('h1', {}, 'Stacks'),
      h('div', {class: 'field-inline'}, toggle, h('label', {for: 'show-deleted'}, 'Show deleted stacks'))),
    section('Stacks', table(['Name', 'Status', 'Created', 'Last updated', 'Template'],
      items.map((st) => [
        h('a', {href: `/stacks/${seg(st.StackName)}`}, st.StackName),
        badge(st.StackStatus),
        timeEl(st.CreationTime),
        timeEl(st.LastUpdatedTime),
        st.TemplateFile ? h('code', {class: 'path'}, st.TemplateFile) : '–',
      ]),
      {empty: 'No stacks yet. Create one with `stackflow stack apply TEMPLATE --stack NAME`.'})));
}

function valueText(value) {
  if (value === null || value === undefined) return h('span', {class: 'muted'}, '–');
  if (typeof value === 'string') return value;
  return h('code', {}, oneLine(value, 200));
}

/** The change set's changes with each property's before and after values. */
export function changeSetView(changeSet) {
  const summary = changeSet.Summary || {};
  const rows = (changeSet.Changes || []).map((c) => c.ResourceChange || c);
  return h('div', {class: 'changeset'},
    facts([
      ['Status', changeSet.Status ? badge(changeSet.Status) : '–'],
      ['Change set', changeSet.ChangeSetId ? h('code', {}, changeSet.ChangeSetId) : null],
      ['Created', changeSet.CreationTime ? timeEl(changeSet.CreationTime) : null],
      ['Summary', Object.entries(summary).map(([k, v]) => `${v} ${k}`).join(', ') || null],
    ]),
    table(['Action', 'Resource', 'Type', 'Replacement', 'Property', 'Before', 'After'],
      rows.flatMap((change) => {
        const details = change.Details && change.Details.length ? change.Details : [null];
        return details.map((detail, index) => {
          const target = detail ? detail.Target || {} : {};
          return h('tr', {class: `change-${String(change.ChangeType || change.Action).toLowerCase()}`},
            h('td', {}, index === 0 ? badge(change.ChangeType || change.Action) : ''),
            h('td', {}, index === 0 ? change.LogicalResourceId : ''),
            h('td', {}, index === 0 ? change.ResourceType : ''),
            h('td', {}, index === 0 && change.Replacement !== undefined ? String(change.Replacement) : ''),
            h('td', {}, detail ? h('code', {}, target.Path || target.Name || '') : change.Reason || ''),
            h('td', {class: 'before'}, detail ? valueText(target.BeforeValue) : ''),
            h('td', {class: 'after'}, detail ? valueText(target.AfterValue) : ''));
        });
      }),
      {empty: 'No changes.'}));
}

function driftView(report) {
  return h('div', {},
    facts([
      ['Drift status', badge(report.StackDriftStatus)],
      ['Drifted resources', String(report.DriftedStackResourceCount ?? '–')],
      ['Checked', timeEl(report.Timestamp)],
    ]),
    table(['Resource', 'Type', 'Drift', 'Property', 'Expected', 'Actual'],
      (report.StackResourceDrifts || []).flatMap((r) => {
        const diffs = r.PropertyDifferences && r.PropertyDifferences.length ? r.PropertyDifferences : [null];
        return diffs.map((d, index) => h('tr', {},
          h('td', {}, index === 0 ? r.LogicalResourceId : ''),
          h('td', {}, index === 0 ? r.ResourceType : ''),
          h('td', {}, index === 0 ? badge(r.StackResourceDriftStatus) : ''),
          h('td', {}, d ? h('code', {}, d.PropertyPath) : (r.Reason || '')),
          h('td', {class: 'before'}, d ? valueText(d.ExpectedValue) : ''),
          h('td', {class: 'after'}, d ? valueText(d.ActualValue) : '')));
      }), {empty: 'The stack has no resources.'}));
}

/** One stack: GET /stacks/{name}, /events (+ live stream), change sets, drift on demand. */
export async function renderStack(ctx) {
  const [name] = ctx.params;
  ctx.title(name);
  const opts = {signal: ctx.signal};
  let [description, events, changeSets] = await Promise.all([
    api(`/stacks/${seg(name)}`, opts),
    api(`/stacks/${seg(name)}/events?limit=100`, opts),
    optional(`/stacks/${seg(name)}/change-sets?limit=1`, opts),
  ]);

  const statusBadge = h('span', {id: 'stack-status', 'aria-live': 'polite'});
  const summary = h('div', {class: 'meta'});
  const resources = h('div', {});
  const outputs = h('div', {});
  const parameters = h('div', {});

  function renderDescription() {
    replace(statusBadge, badge(description.StackStatus));
    replace(summary, facts([
      ['Description', description.Description],
      ['Status reason', description.StackStatusReason],
      ['Stack id', h('code', {}, description.StackId)],
      ['Template', description.TemplateFile ? h('code', {class: 'path'}, description.TemplateFile) : null],
      ['Created', timeEl(description.CreationTime)],
      ['Last updated', timeEl(description.LastUpdatedTime)],
    ]));
    replace(resources, table(['Logical id', 'Type', 'Physical id', 'Status', 'Reason', 'Updated'],
      (description.Resources || []).map((r) => [
        h('strong', {}, r.LogicalResourceId),
        h('code', {}, r.ResourceType),
        r.PhysicalResourceId ? h('code', {class: 'path'}, r.PhysicalResourceId) : '–',
        badge(r.ResourceStatus),
        r.ResourceStatusReason || '',
        timeEl(r.LastUpdatedTimestamp),
      ]), {empty: 'No resources.'}));
    replace(outputs, table(['Output', 'Value', 'Description', 'Export'],
      (description.Outputs || []).map((o) => [
        h('strong', {}, o.OutputKey), valueText(o.OutputValue ?? o.Value), o.Description || '', o.ExportName || '',
      ]), {empty: 'No outputs.'}));
    replace(parameters, table(['Parameter', 'Value'],
      (description.Parameters || []).map((p) => [h('strong', {}, p.ParameterKey), valueText(p.ParameterValue)]),
      {empty: 'No parameters.'}));
  }

  // ---------------------------------------------------------------- events, live
  const eventRows = h('tbody', {id: 'stack-events'});
  const liveNote = h('span', {class: 'live muted small', 'aria-live': 'polite'});
  let lastEventId = 0;
  function addEvent(e) {
    if (e.EventId <= lastEventId) return;
    lastEventId = e.EventId;
    eventRows.prepend(h('tr', {},
      h('td', {}, timeEl(e.Timestamp)),
      h('td', {}, e.LogicalResourceId),
      h('td', {}, h('code', {}, e.ResourceType)),
      h('td', {}, badge(e.ResourceStatus)),
      h('td', {}, e.ResourceStatusReason || '')));
    while (eventRows.children.length > MAX_EVENTS) eventRows.lastElementChild.remove();
  }
  events.forEach(addEvent);

  let refreshing = false;
  async function refreshDescription() {
    if (refreshing) return;
    refreshing = true;
    try {
      description = await api(`/stacks/${seg(name)}`, opts);
      renderDescription();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) liveNote.textContent = 'stack deleted';
    } finally {
      refreshing = false;
    }
  }
  let source = null;
  function openStream() {
    liveNote.textContent = 'live';
    source = stream(`/stacks/${seg(name)}/events/stream?after=${lastEventId}`, {
      stack: (e) => addEvent(e),
      status: (data) => {
        replace(statusBadge, badge(data.StackStatus));
        refreshDescription();
      },
      end: () => {
        source.close();
        liveNote.textContent = '';
      },
    }, {
      onerror: () => {
        liveNote.textContent = source && source.readyState === EventSource.CLOSED
          ? 'live updates stopped' : 'reconnecting…';
      },
    });
  }
  ctx.onCleanup(() => source && source.close());

  // ---------------------------------------------------------------- change set and drift
  let changes;
  if (!changeSets.available) {
    changes = notice('Change sets are not available from this server’s API.', 'unavailable');
  } else {
    const list = Array.isArray(changeSets.data) ? changeSets.data : [changeSets.data].filter(Boolean);
    changes = list.length ? changeSetView(list[0]) : h('p', {class: 'empty'}, 'No change set recorded.');
  }
  const driftHolder = h('div', {id: 'drift', 'aria-live': 'polite'},
    h('p', {class: 'muted'}, 'Drift detection reads every resource’s actual state and compares it with the recorded one.'));
  const driftButton = h('button', {class: 'btn', type: 'button'}, 'Detect drift');
  driftButton.addEventListener('click', async () => {
    driftButton.disabled = true;
    replace(driftHolder, h('p', {class: 'loading', role: 'status'}, 'Checking resources…'));
    try {
      replace(driftHolder, driftView(await api(`/stacks/${seg(name)}/drift`, opts)));
    } catch (error) {
      replace(driftHolder, notice(error.message, 'error'));
    } finally {
      driftButton.disabled = false;
    }
  });

  renderDescription();
  replace(ctx.main,
    h('div', {class: 'page-head'},
      h('div', {},
        h('p', {class: 'crumbs'}, h('a', {href: '/stacks'}, 'Stacks'), ' / '),
        h('h1', {}, name, ' ', statusBadge))),
    summary,
    section('Resources', resources),
    h('div', {class: 'split split-even'},
      section('Outputs', outputs),
      section('Parameters', parameters, h('p', {class: 'help'}, 'NoEcho parameter values are masked.'))),
    h('section', {class: 'panel', 'aria-labelledby': 'events-title'},
      h('div', {class: 'panel-head'}, h('h2', {id: 'events-title'}, 'Events'), liveNote),
      h('div', {class: 'table-wrap scroll-y'},
        h('table', {class: 'data'},
          h('thead', {}, h('tr', {}, ['Time', 'Resource', 'Type', 'Status', 'Reason'].map((c) => h('th', {scope: 'col'}, c)))),
          eventRows))),
    section('Last change set', changes),
    h('section', {class: 'panel', 'aria-labelledby': 'drift-title'},
      h('div', {class: 'panel-head'}, h('h2', {id: 'drift-title'}, 'Drift'), driftButton),
      driftHolder));
  openStream();
}

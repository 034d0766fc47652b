// Services (replicas, health, restarts, recent log lines) and schedules (next fire times).
// These API areas may be missing on a server: the pages then say "not available".

import {optional, query, seg} from './api.js';
import {
  badge, facts, fmtTime, h, jsonBlock, notice, oneLine, replace, section, table, timeEl,
} from './dom.js';

const REFRESH_MS = 5000;

function unavailable(ctx, title, what) {
  replace(ctx.main, h('div', {class: 'page-head'}, h('h1', {}, title)),
    notice(`${what} are not available from this server’s API yet.`, 'unavailable'));
}

function every(ctx, fn) {
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible') fn().catch(() => {});
  }, REFRESH_MS);
  ctx.onCleanup(() => clearInterval(timer));
}

// ------------------------------------------------------------------------ services

/** GET /services: name, stack, revision, ready/desired replicas, rollout. */
export async function renderServices(ctx) {
  ctx.title('Services');
  const first = await optional('/services', {signal: ctx.signal});
  if (!first.available) {
    unavailable(ctx, 'Services', 'Services');
    return;
  }
  const holder = h('div', {'aria-live': 'polite'});
  function draw(items) {
    replace(holder, table(['Service', 'Stack', 'Revision', 'Ready', 'Rollout', 'Load balancer', 'Updated'],
      (items || []).map((s) => [
        h('a', {href: `/services/${seg(s.name)}`}, s.name),
        s.stack ? h('a', {href: `/stacks/${seg(s.stack)}`}, s.stack) : '–',
        String(s.revision ?? '–'),
        readyBadge(s.ready, s.replicas),
        s.rollout && s.rollout.status ? badge(s.rollout.status) : '–',
        s.load_balancer || '–',
        timeEl(s.updated_at),
      ]), {empty: 'No services. Services come from stacks (Stackflow::Service resources).'}));
  }
  draw(first.data);
  replace(ctx.main, h('div', {class: 'page-head'}, h('h1', {}, 'Services')), section('Services', holder));
  every(ctx, async () => draw((await optional('/services', {signal: ctx.signal})).data));
}

function readyBadge(ready, desired) {
  const ok = ready !== undefined && desired !== undefined && ready >= desired;
  const text = `${ready ?? '?'}/${desired ?? '?'} ready`;
  return h('span', {class: `badge tone-${ok ? 'good' : (ready ? 'warn' : 'bad')}`}, text);
}

function lastExit(replica) {
  if (replica.last_exit_code === null || replica.last_exit_code === undefined) {
    return replica.last_exit_at ? fmtTime(replica.last_exit_at) : '–';
  }
  return `${replica.last_exit_code} at ${fmtTime(replica.last_exit_at)}`;
}

/** GET /services/{name} (replicas) and /services/{name}/logs (recent lines), refreshed. */
export async function renderService(ctx) {
  const [name] = ctx.params;
  ctx.title(name);
  const opts = {signal: ctx.signal};
  const first = await optional(`/services/${seg(name)}`, opts);
  if (!first.available) {
    unavailable(ctx, name, 'Services');
    return;
  }
  const head = h('div', {});
  const replicas = h('div', {'aria-live': 'polite'});
  const logs = h('div', {});

  function draw(service) {
    const rows = service.replica_records || service.replicas_detail || [];
    replace(head, facts([
      ['Stack', service.stack_name ? h('a', {href: `/stacks/${seg(service.stack_name)}`}, service.stack_name) : null],
      ['Revision', String(service.revision ?? '–')],
      ['Replicas', readyBadge(service.ready, service.replicas)],
      ['Rollout', service.rollout && service.rollout.status ? badge(service.rollout.status) : null],
      ['Load balancer', service.load_balancer],
      ['Updated', timeEl(service.updated_at)],
    ]));
    replace(replicas, table(['Slot', 'State', 'Revision', 'PID', 'Port', 'Restarts', 'Last exit', 'Since', 'Message'],
      rows.map((r) => [
        String(r.slot),
        badge(r.state),
        String(r.revision ?? '–'),
        r.pid ? String(r.pid) : '–',
        r.port ? String(r.port) : '–',
        String(r.restarts ?? 0),
        lastExit(r),
        timeEl(r.ready_since || r.started_at),
        r.message || r.probe_output ? h('span', {title: r.probe_output || ''}, oneLine(r.message || r.probe_output, 80)) : '',
      ]), {empty: 'No replicas are recorded (is a stackflow server supervising it?).'}));
  }

  async function loadLogs() {
    const result = await optional(`/services/${seg(name)}/logs${query({lines: 50})}`, opts);
    if (!result.available) {
      replace(logs, notice('Service logs are not available from this server’s API yet.', 'unavailable'));
      return;
    }
    const files = Array.isArray(result.data) ? result.data : [];
    replace(logs, files.length
      ? files.map((f) => h('div', {class: 'log'},
        h('h3', {}, `Replica ${f.slot}`, f.path ? h('span', {class: 'muted small'}, ` ${f.path}`) : ''),
        h('pre', {class: 'log-lines', tabindex: '0', 'aria-label': `Log of replica ${f.slot}`},
          (f.lines || []).join('\n') || '(empty)')))
      : h('p', {class: 'empty'}, 'No log lines yet.'));
  }

  draw(first.data);
  replace(ctx.main,
    h('div', {class: 'page-head'},
      h('div', {}, h('p', {class: 'crumbs'}, h('a', {href: '/services'}, 'Services'), ' / '), h('h1', {}, name))),
    head,
    section('Replicas', replicas),
    section('Recent log lines', logs));
  await loadLogs();
  every(ctx, async () => {
    const again = await optional(`/services/${seg(name)}`, opts);
    if (again.available) draw(again.data);
    await loadLogs();
  });
}

// ------------------------------------------------------------------------ schedules

function fireTimes(list) {
  if (!list || !list.length) return h('span', {class: 'muted'}, 'none');
  return h('ul', {class: 'plain'}, list.map((t) => h('li', {},
    h('time', {datetime: t.utc || t, title: t.utc ? `UTC ${t.utc}` : null}, t.local || t.utc || t))));
}

/** GET /schedules: expression, zone, state, catch-up, target and next fire time. */
export async function renderSchedules(ctx) {
  ctx.title('Schedules');
  const first = await optional('/schedules', {signal: ctx.signal});
  if (!first.available) {
    unavailable(ctx, 'Schedules', 'Schedules');
    return;
  }
  const holder = h('div', {'aria-live': 'polite'});
  function draw(items) {
    replace(holder, table(['Schedule', 'Expression', 'Time zone', 'State', 'Catch-up', 'Workflow', 'Last fire', 'Next fire'],
      (items || []).map((sc) => [
        h('a', {href: `/schedules/${seg(sc.name)}`}, sc.name),
        h('code', {}, sc.expression || '–'),
        sc.timezone || 'UTC',
        sc.error ? badge('INVALID') : badge(sc.state),
        sc.catch_up || '–',
        sc.workflow ? h('a', {href: `/workflows/${seg(sc.workflow)}`}, sc.workflow) : '–',
        sc.last_fire_time ? timeEl(sc.last_fire_time) : '–',
        fireTimes(sc.next_fire_times),
      ]), {empty: 'No schedules. Schedules come from stacks (Stackflow::Schedule resources).'}));
  }
  draw(first.data);
  replace(ctx.main, h('div', {class: 'page-head'}, h('h1', {}, 'Schedules')), section('Schedules', holder));
  every(ctx, async () => draw((await optional('/schedules', {signal: ctx.signal})).data));
}

/** GET /schedules/{name}: settings and the next fire times in the schedule's zone. */
export async function renderSchedule(ctx) {
  const [name] = ctx.params;
  ctx.title(name);
  const result = await optional(`/schedules/${seg(name)}${query({count: 5})}`, {signal: ctx.signal});
  if (!result.available) {
    unavailable(ctx, name, 'Schedule details');
    return;
  }
  const sc = result.data;
  replace(ctx.main,
    h('div', {class: 'page-head'},
      h('div', {}, h('p', {class: 'crumbs'}, h('a', {href: '/schedules'}, 'Schedules'), ' / '),
        h('h1', {}, name, ' ', sc.error ? badge('INVALID') : badge(sc.state)))),
    sc.error ? notice(sc.error, 'error') : null,
    h('div', {class: 'split split-even'},
      section('Settings', facts([
        ['Expression', h('code', {}, sc.expression || '–')],
        ['Time zone', sc.timezone],
        ['Catch-up', sc.catch_up],
        ['Flexible window', sc.flexible_window_minutes ? `${sc.flexible_window_minutes} min` : 'off'],
        ['Start date', sc.start_date],
        ['End date', sc.end_date],
        ['Workflow', sc.workflow ? h('a', {href: `/workflows/${seg(sc.workflow)}`}, sc.workflow) : null],
        ['Stack', sc.stack ? h('a', {href: `/stacks/${seg(sc.stack)}`}, sc.stack) : null],
        ['Last fire', sc.last_fire_time],
      ])),
      section('Next fire times', fireTimes(sc.next_fire_times))),
    section('Target input', jsonBlock(sc.input, 'Target input')));
}

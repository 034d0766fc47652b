// The HTTP API client: JSON requests under /api/v1 and server-sent event streams.

export const BASE = '/api/v1';
const TOKEN_KEY = 'stackflow.token';

/** An API answer that was not 2xx: `status`, the JSON `body`, a readable `message`. */
export class ApiError extends Error {
  constructor(status, body) {
    super(errorText(status, body));
    this.status = status;
    this.body = body;
  }

  /** True when the route does not exist on this server (an older or smaller API). */
  get missing() {
    return this.status === 404 && (!this.body || this.body.error === undefined) || this.status === 405;
  }
}

function errorText(status, body) {
  if (body && typeof body === 'object') {
    if (typeof body.message === 'string') {
      const problems = Array.isArray(body.problems) ? body.problems : [];
      const where = problems.map((p) => `${p.pointer || ''} ${p.message}`.trim());
      return [body.message, ...where.filter((w) => !body.message.includes(w))].join('\n');
    }
    if (typeof body.detail === 'string') return body.detail;
    if (Array.isArray(body.detail)) {
      return body.detail.map((d) => `${(d.loc || []).join('.')}: ${d.msg}`).join('\n');
    }
  }
  if (typeof body === 'string' && body) return body;
  if (status === 401) return 'This server needs an API token.';
  if (status === 403) return 'Your token’s role does not allow this.';
  return `The server answered ${status}.`;
}

/** The token kept in this browser ('' for none). */
export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

/** Keep (or with '' forget) the token. */
export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: the token lasts until the page reloads
  }
}

/**
 * Call the API: api('/executions?status=RUNNING'), api('/executions', {method: 'POST', body}).
 * Resolves with the parsed JSON; rejects with ApiError (401 also asks for a token).
 */
export async function api(path, {method = 'GET', body, signal} = {}) {
  const headers = {Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: 'no-store',
  });
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401) {
      window.dispatchEvent(new CustomEvent('stackflow:auth', {detail: error.message}));
    }
    throw error;
  }
  return data;
}

/**
 * Try a route that a server may not have yet: resolves {available: false} on 404/405,
 * else {available: true, data}.
 */
export async function optional(path, options) {
  try {
    return {available: true, data: await api(path, options)};
  } catch (error) {
    if (error instanceof ApiError && error.missing) return {available: false, data: null};
    throw error;
  }
}

/**
 * Open a server-sent event stream under the API (the token goes in `access_token`, as
 * EventSource cannot send headers). `handlers` maps event names to functions of the parsed data
 * and the event; `onerror` gets the EventSource's error events. Returns the EventSource.
 */
export function stream(path, handlers, {onerror} = {}) {
  const url = new URL(BASE + path, window.location.origin);
  const token = getToken();
  if (token) url.searchParams.set('access_token', token);
  const source = new EventSource(url);
  for (const [name, handler] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => {
      let data = null;
      try {
        data = JSON.parse(event.data);
      } catch {
        data = event.data;
      }
      handler(data, event);
    });
  }
  if (onerror) source.addEventListener('error', onerror);
  return source;
}

/** Encode one path segment. */
export const seg = encodeURIComponent;

/** A query string from an object, leaving out empty values ('' when nothing is left). */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

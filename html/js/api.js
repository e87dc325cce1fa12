// The module's JSON locations. Every call is same-origin (the browser adds
// Origin to writes, which the module checks), writes send
// Content-Type: application/json. A 401 sends the browser to EU Login and
// back to the current page; other errors become an ApiError carrying the
// problem document (RFC 9457) for the page to show.

export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem && typeof problem === 'object' ? problem : {};
    super(p.detail || p.title || (status ? `HTTP ${status}` : 'network error'));
    this.status = status;
    this.problem = p;
  }

  get errors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }

  // the database (or the whole service) cannot answer now
  get unavailable() {
    return this.status === 0 || this.status === 502 || this.status === 503
      || this.status === 504;
  }

  get type() {
    return this.problem.type || '';
  }
}

export function loginUrl(path) {
  const back = path || (window.location.pathname + window.location.search);
  return `/auth/login?return_to=${encodeURIComponent(back)}`;
}

let leaving = false;

export function redirectToLogin() {
  if (!leaving) {
    leaving = true;
    window.location.assign(loginUrl());
  }
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') {
      q.set(k, String(v));
    }
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// drops empty strings, null and undefined members (the module refuses an
// empty string where it expects an e-mail, a date...), recursively in objects
export function compact(obj) {
  if (Array.isArray(obj)) {
    return obj.map(compact);
  }
  if (obj && typeof obj === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined || v === null || v === '') {
        continue;
      }
      out[k] = compact(v);
    }
    return out;
  }
  return obj;
}

export async function api(path, { method = 'GET', body, params } = {}) {
  const url = path + query(params);
  const headers = { Accept: 'application/json, application/problem+json' };
  const init = {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    mode: 'same-origin', redirect: 'error',
  };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, null);
  }
  if (res.status === 401) {
    redirectToLogin();
    return new Promise(() => {});
  }
  let doc = null;
  const text = await res.text();
  if (text) {
    try {
      doc = JSON.parse(text);
    } catch (e) {
      doc = null;
    }
  }
  if (!res.ok) {
    throw new ApiError(res.status, doc);
  }
  return doc || {};
}

export function get(path, params) {
  return api(path, { params });
}

export function post(path, body) {
  return api(path, { method: 'POST', body: body || {} });
}

export function patch(path, body) {
  return api(path, { method: 'PATCH', body: body || {} });
}

// POST /auth/logout answers {"logout_url"}: EU Login ends its session too
export async function logout() {
  let res;
  try {
    res = await fetch('/auth/logout', {
      method: 'POST',
      credentials: 'same-origin',
      mode: 'same-origin',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: '{}',
    });
  } catch (e) {
    throw new ApiError(0, null);
  }
  let doc = {};
  try {
    doc = await res.json();
  } catch (e) {
    doc = {};
  }
  if (!res.ok) {
    throw new ApiError(res.status, doc);
  }
  return doc.logout_url || '/';
}

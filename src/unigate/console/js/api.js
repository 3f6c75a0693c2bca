// The console's only way to the gateway: the public admin API under /api/v1 (and, for the
// playground, the public model API under /ai-gateway), with the token the user signed in with.

const TOKEN_KEY = 'unigate.token';
export const API = '/api/v1';

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

// Kept for the tab's life only: closing the tab signs out, and no other site can read it.
export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${token()}`, ...extra };
}

// '?a=1&b=x' from an object, leaving out empty values; arrays repeat the key (tag=a&tag=b).
export function qs(params = {}) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(key, String(v));
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

// An error answer of either API, as an ApiError: the admin API's {error: {code, message, field}}
// and the model APIs' dialects ({error: {message, type}}, Anthropic's {type, error}) alike.
export async function errorFrom(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  const err = body && (body.error || body);
  const message = (err && (err.message || err.detail)) || `${res.status} ${res.statusText}`;
  const code = (err && (err.code || err.type || err.status)) || String(res.status);
  return new ApiError(res.status, code, message, err && err.field);
}

// A call of the admin API: the decoded JSON answer, or an ApiError. A 401 also tells the shell
// (the token was revoked or expired), which goes back to the sign-in page.
export async function api(method, path, body, { raw = false, accept } = {}) {
  const headers = authHeaders(accept ? { Accept: accept } : {});
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(API + path, init);
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401) window.dispatchEvent(new CustomEvent('unigate:unauthorized', { detail: err }));
    throw err;
  }
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const put = (path, body) => api('PUT', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body ?? {});
export const del = (path) => api('DELETE', path);

// A path segment, encoded (endpoint names may hold '/').
export const seg = (value) => encodeURIComponent(value);

// Saves an admin-API answer (CSV, say) as a file: fetched with the token, then handed to the
// browser as a download.
export async function download(path, filename) {
  const res = await api('GET', path, undefined, { raw: true, accept: 'text/csv' });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

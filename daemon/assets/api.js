// Calls to Vigil's JSON API with the token of this tab (sessionStorage: forgotten when
// the tab closes). A 401 on a page's call signs the user out with a message; a 403
// marks the session read-only so responder buttons disappear (a fallback: the role from
// `GET /api/whoami` already hides them for viewers).

import { t } from './i18n.js';

const TOKEN_KEY = 'vigil.token';
const READ_ONLY_KEY = 'vigil.readOnly';
/// Roles that may acknowledge, resolve and snooze.
const RESPONDER_ROLES = new Set(['responder', 'admin']);

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }

  /// What to tell the user.
  describe() {
    if (this.status === 0) return t('network_error', { message: this.message });
    if (this.status === 401) return t('login_expired');
    if (this.status === 403) return t('forbidden_detail', { message: this.message });
    return t('server_error', { status: this.status, message: this.message });
  }
}

/// The caller from `GET /api/whoami` (`{name, role, tokens_configured}`), kept in memory
/// for this page load only.
let caller = null;

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(READ_ONLY_KEY);
    caller = null;
  },
  get caller() { return caller; },
  set caller(value) { caller = value; },
  /// True once the API refused a responder action to this token.
  get readOnly() { return sessionStorage.getItem(READ_ONLY_KEY) === '1'; },
  set readOnly(value) {
    if (value) sessionStorage.setItem(READ_ONLY_KEY, '1');
    else sessionStorage.removeItem(READ_ONLY_KEY);
  },
  /// Whether acknowledge / resolve / snooze buttons are shown.
  get canRespond() {
    return !this.readOnly && (!caller || RESPONDER_ROLES.has(caller.role));
  },
};

/// `api('/api/search?q=x')`, `api('/api/incidents/3/ack', {method: 'POST', body: {}})`.
/// `token` overrides the session's (the login form tries one before keeping it).
export async function api(path, { method = 'GET', body, token } = {}) {
  const presented = token ?? session.token;
  const headers = { Accept: 'application/json' };
  if (presented) headers.Authorization = `Bearer ${presented}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(0, error.message);
  }
  if (!response.ok) {
    let message = response.statusText;
    try {
      message = (await response.json()).error || message;
    } catch {
      // Not JSON: keep the status text.
    }
    const error = new ApiError(response.status, message);
    if (response.status === 401 && token === undefined) {
      window.dispatchEvent(new CustomEvent('vigil:unauthorized'));
    }
    if (response.status === 403 && !session.readOnly) {
      session.readOnly = true;
      window.dispatchEvent(new CustomEvent('vigil:read-only'));
    }
    throw error;
  }
  return response.json();
}

/// The configured brands' names (`GET /api/brands`), fetched once per page load.
let brandNames = null;
export async function brands() {
  if (!brandNames) {
    brandNames = api('/api/brands').then((rows) => rows.map((row) => row.name));
    brandNames.catch(() => { brandNames = null; });
  }
  return brandNames;
}

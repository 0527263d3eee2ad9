// The dashboard's shell: sign-in, navigation and hash routing (`#/search?…`,
// `#/overview?…`, `#/incidents`, `#/incidents/3`, `#/sources`).

import { t, lang } from './i18n.js';
import { api, session } from './api.js';
import { h, flash } from './util.js';
import * as search from './search.js';
import * as overview from './overview.js';
import * as incidents from './incidents.js';
import * as sources from './sources.js';

const PAGES = { search, overview, incidents, sources };
const main = document.getElementById('main');
/// `open` when the daemon has no tokens (no sign-in), `token` after signing in.
let authMode = null;
/// What the current page left running (timers), stopped when another page opens.
let cleanup = null;
/// Bumped on every page change, so a page that finishes loading after the user moved on
/// stops its own timers.
let generation = 0;

function localizeShell() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app_name');
  document.getElementById('skip-link').textContent = t('skip_to_content');
  document.getElementById('app-name').textContent = t('app_name');
  const nav = document.getElementById('nav');
  nav.replaceChildren(...Object.keys(PAGES).map((page) =>
    h('a', { href: `#/${page}`, 'data-page': page }, t(`nav_${page}`))));
}

/// A link to the page in the other language (kept in `?lang=` for this tab).
function languageLink() {
  const other = lang === 'zh' ? 'en' : 'zh';
  return h('a', {
    class: 'language-link', href: `?lang=${other}${location.hash}`, lang: other === 'zh' ? 'zh-CN' : 'en', hreflang: other,
  }, other === 'zh' ? '中文' : 'English');
}

/// Who the token belongs to (`{name, role, tokens_configured}`); without tokens
/// configured it answers without one.
const WHOAMI = '/api/whoami';

async function boot() {
  localizeShell();
  window.addEventListener('vigil:unauthorized', () => {
    session.token = null;
    showLogin(t('login_expired'));
  });
  window.addEventListener('hashchange', () => { if (authMode) route(); });
  window.addEventListener('vigil:read-only', async () => {
    if (!authMode) return;
    // The API refused an action the role seemed to allow (the token's role changed
    // since sign-in): ask again who this is, for the header.
    try {
      session.caller = await api(WHOAMI);
    } catch {
      // Keep what we had; the page shows the error.
    }
    if (authMode) showSession();
  });
  try {
    const caller = await api(WHOAMI, { token: session.token || '' });
    session.caller = caller;
    authMode = caller.tokens_configured ? 'token' : 'open';
    showApp();
  } catch (error) {
    if (error.status === 401) {
      const hadToken = Boolean(session.token);
      session.token = null;
      showLogin(hadToken ? t('login_expired') : null);
    } else {
      main.replaceChildren(h('div', { class: 'notice notice-error', role: 'alert' }, error.describe()),
        h('button', { type: 'button', onclick: () => location.reload() }, t('retry')));
    }
  }
}

function showLogin(message) {
  authMode = null;
  if (cleanup) cleanup();
  cleanup = null;
  flash(null, '');
  document.getElementById('topbar').hidden = true;
  const input = h('input', {
    type: 'password', id: 'token', name: 'token', autocomplete: 'current-password',
    required: true, spellcheck: 'false', 'aria-describedby': 'login-help login-error',
  });
  const error = h('p', { id: 'login-error', class: 'form-error', role: 'alert' }, message || '');
  const submit = h('button', { type: 'submit', class: 'primary' }, t('login_submit'));
  const form = h('form', { class: 'login card', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, t('login_title')),
    h('p', { id: 'login-help', class: 'help' }, t('login_help')),
    h('label', { for: 'token' }, t('login_token')),
    input,
    error,
    submit,
    h('p', { class: 'help login-language' }, languageLink()));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      error.textContent = t('login_empty');
      input.focus();
      return;
    }
    submit.disabled = true;
    error.textContent = '';
    try {
      const caller = await api(WHOAMI, { token });
      session.token = token;
      session.caller = caller;
      authMode = caller.tokens_configured ? 'token' : 'open';
      showApp();
    } catch (failure) {
      error.textContent = failure.status === 401 ? t('login_unknown') : failure.describe();
      input.select();
      input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(form);
  input.focus();
}

function showApp() {
  document.getElementById('topbar').hidden = false;
  showSession();
  if (!location.hash.startsWith('#/')) history.replaceState(null, '', '#/search');
  route();
}

/// Who is signed in, and the sign-out button.
function showSession() {
  const box = document.getElementById('session');
  const caller = session.caller;
  const who = authMode === 'open' || !caller
    ? h('span', { class: 'who' }, t('signed_in_open'))
    : h('span', { class: 'who', id: 'who', 'data-role': caller.role, title: t('signed_in_as', { name: caller.name, role: t(`role_${caller.role}`) }) },
      h('span', { class: 'who-name' }, caller.name), ' ',
      h('span', { class: `role role-${caller.role}` }, t(`role_${caller.role}`)),
      session.canRespond ? null : h('span', { class: 'read-only' }, ` · ${t('read_only')}`));
  box.replaceChildren(languageLink(), who,
    authMode === 'token'
      ? h('button', {
        type: 'button', class: 'link', onclick: () => {
          session.token = null;
          location.hash = '#/search';
          showLogin(null);
        },
      }, t('sign_out'))
      : null);
}

function route() {
  const [path] = location.hash.slice(2).split('?');
  const [name, id] = path.split('/');
  const page = PAGES[name] ? name : 'search';
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.dataset.page === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (cleanup) cleanup();
  cleanup = null;
  flash(null, '');
  main.replaceChildren();
  main.dataset.page = page;
  const current = ++generation;
  const result = id ? PAGES[page].renderDetail(main, decodeURIComponent(id)) : PAGES[page].render(main);
  Promise.resolve(result).then((stop) => {
    if (typeof stop !== 'function') return;
    if (current === generation) cleanup = stop;
    else stop();
  });
}

boot();

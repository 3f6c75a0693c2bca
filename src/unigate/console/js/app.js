// The console's shell: sign-in, the navigation a caller's rights allow, and hash routes
// (#/endpoints, #/endpoints/NAME). Each page is a module in pages/, loaded when first shown,
// exporting `render(root, ctx)`; ctx = {me, params, navigate, refreshMe}.

import { get, setToken, token, ApiError } from './api.js';
import { h, clear, field, input, button, errorBox } from './ui.js';

const manager = (me) => me.is_admin || me.can_manage.length > 0;

// path, label, module, who sees it (from GET /api/v1/me)
export const PAGES = [
  { path: 'endpoints', label: 'Endpoints', module: './pages/endpoints.js', show: manager },
  { path: 'providers', label: 'Providers', module: './pages/providers.js', show: (me) => me.is_admin },
  { path: 'users', label: 'Users', module: './pages/users.js', show: manager },
  { path: 'service-principals', label: 'Service principals', module: './pages/service_principals.js', show: manager },
  { path: 'groups', label: 'Groups', module: './pages/groups.js', show: manager },
  { path: 'tokens', label: 'Tokens', module: './pages/tokens.js', show: () => true },
  { path: 'usage', label: 'Usage', module: './pages/usage.js', show: () => true },
  { path: 'mcp-services', label: 'MCP services', module: './pages/mcp_services.js', show: (me) => me.is_admin },
  { path: 'budgets', label: 'Budgets', module: './pages/budgets.js', show: (me) => me.is_admin },
  { path: 'prices', label: 'Prices', module: './pages/prices.js', show: manager },
  { path: 'payloads', label: 'Payloads', module: './pages/payloads.js', show: manager },
  { path: 'audit', label: 'Audit log', module: './pages/audit.js', show: (me) => me.is_admin },
  { path: 'playground', label: 'Playground', module: './pages/playground.js', show: (me) => me.can_query.length > 0 },
];

const app = document.getElementById('app');
let me = null;

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || '', params: parts.slice(1) };
}

export function navigate(...parts) {
  location.hash = '#/' + parts.map(encodeURIComponent).join('/');
}

function signOut(message) {
  setToken('');
  me = null;
  showSignIn(message);
}

function showSignIn(message) {
  const tokenInput = input({ type: 'password', name: 'token', autocomplete: 'current-password', required: true,
    placeholder: 'ug_…', autofocus: true });
  const status = h('div', { class: 'signin-status' }, message ? errorBox({ message }) : null);
  const submit = button('Sign in', null, { kind: 'primary', type: 'submit' });
  const form = h('form', { class: 'signin card', 'aria-label': 'Sign in' },
    h('div', { class: 'brand big' }, h('img', { src: 'favicon.svg', alt: '' }), 'Unigate'),
    h('p', { class: 'muted' }, 'Sign in with a Unigate token: an administrator token, or a personal access token.'),
    field('Token', tokenInput), status, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    setToken(tokenInput.value.trim());
    try {
      me = await get('/me');
      await showShell();
    } catch (err) {
      setToken('');
      const text = err instanceof ApiError && err.status === 401 ? 'That token is not valid (unknown, revoked or expired).' : err.message;
      clear(status, errorBox({ message: text }));
    } finally {
      submit.disabled = false;
    }
  });
  clear(app, h('main', { class: 'signin-wrap' }, form));
  tokenInput.focus();
}

function role(me) {
  if (me.is_admin) return 'administrator';
  if (me.can_manage.length) return 'endpoint manager';
  return me.principal_type === 'service_principal' ? 'service principal' : 'user';
}

const main = h('main', { id: 'page', tabindex: '-1' });
let nav = null;

async function showShell() {
  const visible = PAGES.filter((p) => p.show(me));
  nav = h('nav', { 'aria-label': 'Console' }, h('ul', {}, visible.map((p) =>
    h('li', {}, h('a', { href: `#/${p.path}`, dataset: { page: p.path } }, p.label)))));
  // A link to the address already shown changes no hash: show the page afresh all the same.
  nav.addEventListener('click', (e) => {
    const link = e.target.closest('a');
    if (link && link.getAttribute('href') === location.hash) render();
  });
  const who = h('div', { class: 'who' },
    h('span', { class: 'who-name', title: me.principal_type }, me.principal),
    h('span', { class: 'badge' }, role(me)),
    button('Sign out', () => signOut(), { kind: 'small' }));
  clear(app, h('div', { class: 'shell' },
    h('aside', {}, h('div', { class: 'brand' }, h('img', { src: 'favicon.svg', alt: '' }), 'Unigate'), nav,
      h('div', { class: 'version muted' }, `v${me.version}`)),
    h('div', { class: 'content' }, h('div', { class: 'topbar' }, who), main)));
  await render();
}

let renderSeq = 0;
async function render() {
  if (!me) return;
  const visible = PAGES.filter((p) => p.show(me));
  const { page, params } = route();
  const target = visible.find((p) => p.path === page);
  if (!target) {
    const first = visible.find((p) => p.path === (manager(me) ? 'endpoints' : 'usage')) || visible[0];
    navigate(first.path);
    return;
  }
  for (const a of nav.querySelectorAll('a')) a.setAttribute('aria-current', String(a.dataset.page === target.path));
  const seq = ++renderSeq;
  clear(main, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  try {
    const mod = await import(target.module);
    if (seq !== renderSeq) return; // the user moved on meanwhile
    const root = h('div', { class: 'page', dataset: { page: target.path } });
    clear(main, root);
    await mod.render(root, { me, params, navigate, refreshMe });
  } catch (err) {
    if (seq !== renderSeq) return;
    if (err instanceof ApiError && err.status === 401) return; // the shell signs out
    console.error(err);
    clear(main, h('div', { class: 'page' }, h('h1', {}, target.label), errorBox(err)));
  }
}

async function refreshMe() {
  me = await get('/me');
  return me;
}

window.addEventListener('hashchange', render);
window.addEventListener('unigate:unauthorized', () => {
  if (me) signOut('Your token is no longer valid: sign in again.');
});

async function start() {
  if (!token()) return showSignIn();
  try {
    me = await get('/me');
    await showShell();
  } catch (err) {
    signOut(err instanceof ApiError && err.status === 401 ? 'Your token is no longer valid: sign in again.' : err.message);
  }
}

start();

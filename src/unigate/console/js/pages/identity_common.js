// What the Users, Service principals, Groups and Tokens pages share: the principal list and
// detail pages (users and service principals differ only in their key and labels), the token
// table, the create-token form and the dialog that shows a new token once.

import { get, post, del, qs, seg } from '../api.js';
import {
  h, clear, pageFrame, table, field, input, button, busy, dialog, confirmDialog, notify, errorBox,
  copyButton, loading, badge, useStyles, when,
} from '../ui.js';

useStyles('identities');

const DAY = 86400;

// --- forms -----------------------------------------------------------------------------------

// Runs a form's submit action, showing the API's error (and the field it names) in `status`.
export function formAction(form, status, submitBtn, action) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(status);
    submitBtn.disabled = true;
    try { await action(); } catch (err) { clear(status, errorBox(err)); markField(form, err.field); } finally {
      submitBtn.disabled = false;
    }
  });
}

// Puts aria-invalid on the control whose name is the API error's field, clears the others.
function markField(form, name) {
  for (const el of form.querySelectorAll('[name]')) el.removeAttribute('aria-invalid');
  const bad = name && form.querySelector(`[name="${CSS.escape(name)}"]`);
  if (bad) { bad.setAttribute('aria-invalid', 'true'); bad.focus(); }
}

// A dialog holding a form: fields, an error area and Cancel / submit buttons. `onSubmit` returns
// a promise; the dialog closes when it resolves and shows the error in place when it throws.
export function formDialog(title, fields, submitLabel, onSubmit) {
  const status = h('div', { class: 'form-status' });
  const submit = button(submitLabel, null, { kind: 'primary', type: 'submit' });
  const cancel = button('Cancel', () => dlg.close());
  const form = h('form', { class: 'dialog-form', 'aria-label': title }, fields, status,
    h('div', { class: 'form-actions' }, cancel, submit));
  const dlg = dialog(title, form);
  formAction(form, status, submit, async () => { await onSubmit(); dlg.close(); });
  const first = form.querySelector('input, select, textarea');
  if (first) first.focus();
  return dlg;
}

// --- tokens ----------------------------------------------------------------------------------

export function tokenState(t, now = Date.now() / 1000) {
  if (t.revoked_at) return badge('revoked', 'danger');
  if (t.expires_at && t.expires_at <= now) return badge('expired', 'warn');
  return badge('active', 'ok');
}

const isLive = (t) => !t.revoked_at && !(t.expires_at && t.expires_at <= Date.now() / 1000);

// The token table: metadata only (the API never gives a token's value back after creating it).
export function tokenTable(tokens, { showPrincipal = true, onRevoke } = {}) {
  const columns = [
    { key: 'token_id', label: 'Token ID', render: (t) => h('code', {}, t.token_id) },
    showPrincipal && { key: 'principal', label: 'Principal', render: (t) => principalCell(t.principal, t.principal_type) },
    { key: 'comment', label: 'Comment' },
    { key: 'created_at', label: 'Created', render: (t) => when(t.created_at) },
    { key: 'expires_at', label: 'Expires', render: (t) => (t.expires_at ? when(t.expires_at) : h('span', { class: 'muted' }, 'never')) },
    { key: 'last_used_at', label: 'Last used', render: (t) => when(t.last_used_at) },
    { key: 'state', label: 'State', render: (t) => h('span', {}, tokenState(t), t.revoked_at ? ` ${when(t.revoked_at)}` : '') },
    onRevoke && { key: 'actions', label: '', render: (t) => revokeCell(t, onRevoke) },
  ].filter(Boolean);
  return table(columns, tokens, { empty: 'No tokens.' });
}

// The bootstrap token comes from the environment: the API refuses to revoke it (409).
const ENV_ADMIN_TOKEN_ID = 'env-admin';

function revokeCell(t, onRevoke) {
  if (t.revoked_at) return null;
  if (t.token_id === ENV_ADMIN_TOKEN_ID) return h('span', { class: 'muted', title: 'Change UNIGATE_ADMIN_TOKEN and restart to replace it' }, 'environment');
  return button('Revoke', () => onRevoke(t), { kind: 'small danger', 'aria-label': `Revoke token ${t.token_id}` });
}

function principalCell(name, type) {
  const kind = { user: 'user', service_principal: 'service principal', admin: 'bootstrap admin' }[type] || type;
  return h('span', {}, name, ' ', badge(kind, 'grey'));
}

// Asks, then revokes; resolves true when revoked.
export async function revokeToken(t) {
  const what = t.comment ? `${t.token_id} (“${t.comment}”)` : t.token_id;
  if (!await confirmDialog(`Revoke token ${what} of ${t.principal}? Anything using it stops working within a second.`,
    { ok: 'Revoke' })) return false;
  try {
    await del(`/tokens/${seg(t.token_id)}`);
    notify(`Token ${t.token_id} revoked`);
    return true;
  } catch (err) {
    notify(err.message, 'error');
    return false;
  }
}

// The create-token form in a dialog. `principal` fixed (a string) or chosen (choices given:
// an admin may make a token for anyone). Resolves when the dialog closes; `onCreated` runs
// with the answer (which holds the token itself, this once).
export function createTokenDialog({ principal, choices = null, onCreated }) {
  const principalInput = input({ name: 'principal', value: principal, required: true, autocomplete: 'off',
    readonly: choices ? null : true, list: choices ? 'token-principals' : null });
  const options = choices ? h('datalist', { id: 'token-principals' }, choices.map((c) => h('option', { value: c.value }, c.label))) : null;
  const comment = input({ name: 'comment', maxlength: 1000, placeholder: 'what it is for, e.g. "CI pipeline"' });
  const days = input({ type: 'number', name: 'lifetime_seconds', min: '1', step: '1', value: '90' });
  const fields = [
    field('Principal', principalInput, choices ? 'A user’s email or a service principal’s application ID.' : 'Tokens you create are your own.'),
    options,
    field('Comment', comment),
    field('Lifetime (days)', days, 'Empty: the token never expires (not recommended).'),
  ];
  return formDialog('Create a token', fields, 'Create token', async () => {
    const body = { principal: principalInput.value.trim(), comment: comment.value.trim() || undefined };
    if (days.value.trim()) {
      const n = Number(days.value);
      if (!(n > 0)) throw Object.assign(new Error('The lifetime must be a positive number of days'), { field: 'lifetime_seconds' });
      body.lifetime_seconds = Math.round(n * DAY);
    }
    const created = await post('/tokens', body);
    showNewToken(created);
    if (onCreated) await onCreated(created);
  });
}

// The one time a token's value is shown: with a copy button and a warning.
export function showNewToken(created) {
  const value = h('code', { class: 'token-value', 'aria-label': 'New token' }, created.token);
  const content = h('div', { class: 'new-token' },
    h('p', { class: 'warn-box', role: 'alert' },
      h('strong', {}, 'Copy this token now. '), 'It will not be shown again: Unigate keeps only its hash.'),
    h('div', { class: 'token-line' }, value, copyButton(() => created.token, 'Copy token')),
    h('dl', { class: 'props' },
      h('dt', {}, 'Token ID'), h('dd', {}, h('code', {}, created.token_id)),
      h('dt', {}, 'Principal'), h('dd', {}, created.principal),
      h('dt', {}, 'Expires'), h('dd', {}, created.expires_at ? when(created.expires_at) : 'never'),
      created.comment ? [h('dt', {}, 'Comment'), h('dd', {}, created.comment)] : null));
  const done = button('I have copied it', () => { value.replaceChildren(); dlg.close(); }, { kind: 'primary' });
  const dlg = dialog('Token created', content, [done]);
  dlg.addEventListener('close', () => value.replaceChildren()); // no copy left in the page
  return dlg;
}

// A principal's tokens, for an administrator (a user's or a service principal's detail page).
export function tokensSection(principal) {
  const body = h('div', {}, loading());
  const includeRevoked = h('input', { type: 'checkbox', id: `revoked-${principal}` });
  const load = async () => {
    try {
      const { tokens } = await get(`/tokens${qs({ principal, include_revoked: includeRevoked.checked || undefined })}`);
      clear(body, tokenTable(tokens, { showPrincipal: false, onRevoke: async (t) => { if (await revokeToken(t)) await load(); } }));
    } catch (err) {
      clear(body, errorBox(err));
    }
  };
  includeRevoked.addEventListener('change', load);
  const create = button('Create token', () => createTokenDialog({ principal, onCreated: load }), { kind: 'small' });
  load();
  return h('section', { class: 'section' },
    h('div', { class: 'section-head' }, h('h2', {}, 'Tokens'),
      h('div', { class: 'check' }, includeRevoked, h('label', { for: includeRevoked.id }, 'Show revoked')), create),
    body);
}

// --- users and service principals ------------------------------------------------------------

// The groups each member belongs to directly: Map of "type:name" -> [group names].
export function directGroups(groups) {
  const of = new Map();
  for (const g of groups) {
    for (const m of g.members) {
      const key = memberKey(m);
      if (!of.has(key)) of.set(key, []);
      of.get(key).push(g.name);
    }
  }
  return of;
}

// Every group a member is in, directly or through nested groups (the admin check is transitive).
export function allGroups(memberOf, key) {
  const seen = new Set();
  const walk = (k) => {
    for (const g of memberOf.get(k) || []) {
      if (!seen.has(g)) { seen.add(g); walk(`group_name:${g}`); }
    }
  };
  walk(key);
  return [...seen];
}

export const MEMBER_TYPES = [
  ['user_name', 'User'], ['service_principal_name', 'Service principal'], ['group_name', 'Group'],
];
export function memberKey(m) {
  const type = MEMBER_TYPES.find(([k]) => k in m)[0];
  return `${type}:${m[type]}`;
}

function groupLinks(names, navigate) {
  if (!names || !names.length) return h('span', { class: 'muted' }, '—');
  return names.map((n) => h('a', { href: `#/groups/${encodeURIComponent(n)}`, class: 'group-link',
    onclick: (e) => { e.preventDefault(); navigate('groups', n); } }, n, n === 'admins' ? ' ★' : ''));
}

// kind: {path ('users'), api ('/users'), listKey ('users'), key ('email'), memberKey ('user_name'),
//        title, singular, keyLabel, createFields(), createBody(fields), created(answer)}
export async function principalsPage(root, ctx, kind) {
  if (ctx.params.length) return principalDetail(root, ctx, kind, ctx.params[0]);
  const actions = [];
  if (ctx.me.is_admin) actions.push(button(`Create ${kind.singular}`, () => createPrincipal(kind, ctx), { kind: 'primary' }));
  const body = pageFrame(root, kind.title, ...actions);
  body.append(loading());
  const [list, groups] = await Promise.all([get(kind.api), get('/groups')]);
  const memberOf = directGroups(groups.groups);
  const rows = list[kind.listKey];
  const columns = [
    { key: kind.key, label: kind.keyLabel, render: (r) => h('code', {}, r[kind.key]) },
    { key: 'display_name', label: 'Display name' },
    { key: 'created_at', label: 'Created', render: (r) => when(r.created_at) },
    { key: 'groups', label: 'Groups', render: (r) => groupLinks(memberOf.get(`${kind.memberKey}:${r[kind.key]}`), ctx.navigate) },
  ];
  clear(body,
    ctx.me.is_admin ? null : h('p', { class: 'muted' }, `Only administrators create or delete ${kind.title.toLowerCase()}.`),
    table(columns, rows, { empty: `No ${kind.title.toLowerCase()} yet.`, onRow: (r) => ctx.navigate(kind.path, r[kind.key]) }));
  return undefined;
}

function createPrincipal(kind, ctx) {
  const fields = kind.createFields();
  formDialog(`Create ${kind.singular}`, Object.values(fields).map(([label, control, hint]) => field(label, control, hint)),
    'Create', async () => {
      const created = await post(kind.api, kind.createBody(fields));
      kind.created(created);
      ctx.navigate(kind.path, created[kind.key]);
    });
}

async function principalDetail(root, ctx, kind, id) {
  const actions = [button(`All ${kind.title.toLowerCase()}`, () => ctx.navigate(kind.path), { kind: 'small' })];
  if (ctx.me.is_admin) {
    const remove = button(`Delete ${kind.singular}`, null, { kind: 'danger' });
    remove.addEventListener('click', busy(remove, async () => {
      if (!await confirmDialog(`Delete ${kind.singular} ${id}? Its tokens are revoked and its group memberships and grants removed.`)) return;
      const answer = await del(`${kind.api}/${seg(id)}`);
      notify(`Deleted ${id} (${answer.tokens_revoked} token${answer.tokens_revoked === 1 ? '' : 's'} revoked)`);
      ctx.navigate(kind.path);
    }));
    actions.push(remove);
  }
  const body = pageFrame(root, id, ...actions);
  body.append(loading());
  const [item, groups] = await Promise.all([get(`${kind.api}/${seg(id)}`), get('/groups')]);
  const memberships = directGroups(groups.groups);
  const key = `${kind.memberKey}:${id}`;
  const direct = memberships.get(key) || [];
  const inherited = allGroups(memberships, key).filter((g) => !direct.includes(g));
  const isAdmin = direct.includes('admins') || inherited.includes('admins');
  clear(body,
    h('section', { class: 'section card' }, h('dl', { class: 'props' },
      h('dt', {}, kind.keyLabel), h('dd', {}, h('code', {}, item[kind.key])),
      h('dt', {}, 'Display name'), h('dd', {}, item.display_name || '—'),
      h('dt', {}, 'Created'), h('dd', {}, when(item.created_at)),
      h('dt', {}, 'Groups'), h('dd', { class: 'group-list' }, groupLinks(direct, ctx.navigate)),
      h('dt', {}, 'Through nested groups'), h('dd', { class: 'group-list' }, groupLinks(inherited, ctx.navigate)),
      h('dt', {}, 'Administrator'), h('dd', {}, isAdmin ? 'yes (a member of admins)' : 'no'))),
    ctx.me.is_admin ? tokensSection(id) : null);
  return undefined;
}

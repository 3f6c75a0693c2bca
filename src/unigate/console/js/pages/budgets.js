// Budgets (#/budgets, #/budgets/NAME; administrators only): spend limits in US dollars per UTC
// day or month, for the whole gateway, an endpoint, a principal, a group or a request tag. The
// list shows each budget's current period (spent, reserved, remaining, a bar of the share used);
// one budget's page adds the alerts its period has had. Create and edit in a dialog.
// A webhook's header values are write-only: reads show '(hidden)', and a header left untouched
// is sent back as '(hidden)', which keeps the stored value.

import { get, post, put, del, seg } from '../api.js';
import { h, clear, pageFrame, table, field, input, select, checkbox, button, badge, dialog, confirmDialog, notify,
  errorBox, useStyles, loading, usd, when } from '../ui.js';
import { saving, showFormError, section } from './endpoint_util.js';

const HIDDEN = '(hidden)';
const NEW = '_new';
const NEAR_PERCENT = 80; // the bar turns amber from here, red at 100
const SCOPES = [['global', 'All requests (global)'], ['endpoint', 'An endpoint'], ['principal', 'A principal (user or service principal)'],
  ['group', 'A group (nested groups too)'], ['tag', 'A request tag']];
const TARGET_LABELS = { endpoint: 'Endpoint', principal: 'Principal', group: 'Group' };
const TARGET_HINTS = {
  endpoint: "the endpoint's name",
  principal: "a user's email or a service principal's application id",
  group: 'members of groups nested in it count too',
};

export async function render(root, ctx) {
  useStyles('endpoints'); // the shared editor look (fieldsets, edit tables, form actions)
  useStyles('budgets');
  if (!ctx.me.is_admin) {
    pageFrame(root, 'Budgets').append(h('p', { class: 'empty' }, 'Only administrators see budgets.'));
    return;
  }
  const [name] = ctx.params;
  if (name && name !== NEW) return renderDetail(root, ctx, name);
  return renderList(root, ctx, name === NEW);
}

// --- figures -----------------------------------------------------------------------------------

// 'over' at or past the limit, 'near' from NEAR_PERCENT, else 'ok'. A limit of 0 has no percent
// (the API says null): nothing fits in it, so it is shown as used up.
function level(b) {
  if (b.percent_used === null || b.percent_used === undefined) return 'over';
  if (b.percent_used >= 100) return 'over';
  return b.percent_used >= NEAR_PERCENT ? 'near' : 'ok';
}

function percentText(b) {
  if (b.percent_used === null || b.percent_used === undefined) return 'limit $0';
  return `${b.percent_used.toFixed(b.percent_used < 10 ? 2 : 1)} %`;
}

// A bar of the share of the limit used, with the percentage beside it.
export function usageBar(b) {
  const pct = b.percent_used ?? 100;
  const fill = h('span', { class: 'fill' });
  fill.style.width = `${Math.min(100, Math.max(0, pct))}%`;
  const bar = h('div', { class: `budget-bar ${level(b)}`, role: 'progressbar', 'aria-label': `${b.name} used`,
    'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.min(100, Math.round(pct * 1000) / 1000),
    'aria-valuetext': `${percentText(b)} of ${dollars(b.limit_usd)}`, title: `${dollars(b.spent_usd)} of ${dollars(b.limit_usd)}` }, fill);
  return h('div', { class: 'budget-used' }, bar, h('span', { class: `pct ${level(b)}` }, percentText(b)));
}

// Dollars with enough digits that a small spend is not shown as $0.00.
function dollars(x) {
  if (x === null || x === undefined) return '—';
  if (x === 0 || Math.abs(x) >= 0.01) return usd(x);
  return `$${Number(x.toPrecision(3))}`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const d = Math.floor(seconds / 86400);
  const hrs = Math.floor((seconds % 86400) / 3600);
  const min = Math.floor((seconds % 3600) / 60);
  if (d) return `${d} d ${hrs} h`;
  if (hrs) return `${hrs} h ${min} min`;
  return min ? `${min} min` : `${seconds} s`;
}

// The scope as reads show it: none (global), {endpoint: E}, {principal: P}, {group: G} or
// {tag: {key: value}}.
function scopeOf(b) {
  const scope = b.scope || {};
  const kind = Object.keys(scope)[0];
  if (!kind) return { kind: 'global', target: '', tagKey: '', tagValue: '' };
  if (kind === 'tag') {
    const [tagKey, tagValue] = Object.entries(scope.tag)[0];
    return { kind, target: '', tagKey, tagValue };
  }
  return { kind, target: scope[kind], tagKey: '', tagValue: '' };
}

function scopeCell(b) {
  const s = scopeOf(b);
  if (s.kind === 'global') return h('span', {}, badge('global', 'grey'), ' all requests');
  if (s.kind === 'tag') return h('span', {}, badge('tag'), ' ', h('span', { class: 'mono' }, `${s.tagKey}=${s.tagValue}`));
  const target = s.kind === 'endpoint'
    ? h('a', { href: `#/endpoints/${encodeURIComponent(s.target)}`, class: 'mono' }, s.target)
    : h('span', { class: 'mono' }, s.target);
  return h('span', {}, badge(s.kind), ' ', target);
}

const blockBadge = (b) => (b.block ? badge('blocks', 'danger') : badge('alerts only', 'grey'));
const blockText = (b) => (b.block ? 'a 429 once a request no longer fits' : 'counts and alerts, never refuses');

// --- the list ----------------------------------------------------------------------------------

async function renderList(root, ctx, openNew) {
  const listEl = h('div', { class: 'budget-list', 'aria-live': 'polite' }, loading());
  const refresh = async () => {
    const { budgets } = await get('/budgets');
    clear(listEl, budgetTable(budgets));
  };
  const saved = (verb) => (b) => { notify(`Budget ${b.name} ${verb}`); refresh(); };
  const remove = async (b) => {
    if (await deleteBudget(b.name)) await refresh();
  };
  const budgetTable = (budgets) => table([
    { key: 'name', label: 'Name', render: (b) => h('a', { href: `#/budgets/${encodeURIComponent(b.name)}` }, b.name) },
    { key: 'scope', label: 'Scope', class: 'scope', render: scopeCell },
    { key: 'limit_usd', label: 'Limit', class: 'num nowrap', render: (b) => `${dollars(b.limit_usd)} / ${b.period === 'daily' ? 'day' : 'month'}` },
    { key: 'spent_usd', label: 'Spent', class: 'num', render: (b) => dollars(b.spent_usd) },
    { key: 'reserved_usd', label: 'Reserved', class: 'num', render: (b) => dollars(b.reserved_usd) },
    { key: 'remaining_usd', label: 'Remaining', class: 'num', render: (b) => dollars(b.remaining_usd) },
    { key: 'percent_used', label: 'Used', render: usageBar },
    { key: 'block', label: 'Blocks', render: blockBadge },
    { key: 'resets_in_seconds', label: 'Resets in', class: 'nowrap', render: (b) => duration(b.resets_in_seconds) },
    { key: 'actions', label: '', class: 'row-actions', render: (b) => h('span', {},
      button('Edit', () => openForm(b, saved('saved')), { kind: 'small', 'aria-label': `Edit ${b.name}` }), ' ',
      button('Delete', () => remove(b), { kind: 'small danger', 'aria-label': `Delete ${b.name}` })) },
  ], budgets, { empty: 'No budgets yet: create one to cap what requests may cost in a day or a month.',
    onRow: (b) => ctx.navigate('budgets', b.name) });

  const refreshBtn = button('Refresh', () => refresh().catch((err) => clear(listEl, errorBox(err))));
  const create = button('New budget', () => openForm(null, saved('created')), { kind: 'primary' });
  const body = pageFrame(root, 'Budgets', refreshBtn, create);
  body.append(h('p', { class: 'hint muted' }, 'Spend is priced by the ', h('a', { href: '#/prices' }, 'price catalogue'),
    '; periods are UTC calendar days and months. A blocking budget answers 429 once a request no longer fits.'), listEl);
  await refresh();
  if (openNew) openForm(null, saved('created'));
}

async function deleteBudget(name) {
  if (!(await confirmDialog(`Delete budget ${name}? Its alert records go with it; requests it covered are no longer capped by it.`))) return false;
  try {
    await del(`/budgets/${seg(name)}`);
    notify(`Budget ${name} deleted`);
    return true;
  } catch (err) {
    notify(err.message, 'error');
    return false;
  }
}

// --- one budget --------------------------------------------------------------------------------

function stat(label, value, extra) {
  return h('div', { class: 'card stat' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), extra || null);
}

function alertsTable(b) {
  return table([
    { key: 'threshold_percent', label: 'Threshold', class: 'num', render: (a) => `${a.threshold_percent} %` },
    { key: 'limit_usd', label: 'Limit then', class: 'num', render: (a) => dollars(a.limit_usd) },
    { key: 'spent_usd', label: 'Spent then', class: 'num', render: (a) => dollars(a.spent_usd) },
    { key: 'at', label: 'Reached', class: 'nowrap', render: (a) => when(a.at) },
    { key: 'delivered_at', label: 'Webhook', render: (a) => deliveryCell(b, a) },
    { key: 'attempts', label: 'Attempts', class: 'num' },
    { key: 'error', label: 'Last error' },
  ], b.alerts_sent || [], { empty: 'No alert this period.', caption: 'Alerts sent this period' });
}

function deliveryCell(b, a) {
  if (!b.webhook) return h('span', { class: 'muted' }, 'no webhook (logged)');
  if (a.delivered_at) return h('span', {}, badge('delivered', 'ok'), ' ', when(a.delivered_at));
  return a.error ? badge('failed', 'danger') : badge('pending', 'warn');
}

function webhookUrl(b) {
  if (!b.webhook) return null;
  return typeof b.webhook === 'string' ? b.webhook : b.webhook.url;
}

function webhookHeaders(b) {
  return b.webhook && typeof b.webhook === 'object' ? b.webhook.headers || {} : {};
}

function settingsList(b) {
  const prop = (label, value) => [h('dt', {}, label), h('dd', {}, value ?? h('span', { class: 'muted' }, '—'))];
  const headers = Object.keys(webhookHeaders(b));
  const sent = new Set((b.alerts_sent || []).filter((a) => a.limit_usd === b.limit_usd).map((a) => a.threshold_percent));
  const thresholds = (b.alerts || []).length
    ? h('span', { class: 'thresholds' }, b.alerts.map((t) => badge(`${t} %`, sent.has(t) ? 'warn' : 'grey')))
    : null;
  return h('dl', { class: 'props' },
    prop('Scope', scopeCell(b)), prop('Period', `${b.period} (UTC)`),
    prop('This period', `${b.period_start} → ${b.period_end}`),
    prop('When reached', h('span', {}, blockBadge(b), ' ', h('span', { class: 'muted' }, blockText(b)))),
    prop('Alert thresholds', thresholds),
    prop('Webhook', webhookUrl(b) ? h('span', { class: 'mono break' }, webhookUrl(b)) : null),
    prop('Webhook headers', headers.length ? headers.map((n) => h('div', { class: 'mono' }, `${n}: ${HIDDEN}`)) : null),
    prop('Created', when(b.created_at)), prop('Updated', when(b.updated_at)));
}

async function renderDetail(root, ctx, name) {
  const content = h('div', { 'aria-live': 'polite' }, loading());
  let budget = null;
  const refresh = async () => {
    budget = await get(`/budgets/${seg(name)}`);
    clear(content, detailBody(budget));
  };
  const edit = button('Edit', () => budget && openForm(budget, (b) => { notify(`Budget ${b.name} saved`); refresh(); }), { kind: 'primary' });
  const remove = button('Delete', async () => { if (await deleteBudget(name)) ctx.navigate('budgets'); }, { kind: 'danger' });
  const refreshBtn = button('Refresh', () => refresh().catch((err) => clear(content, errorBox(err))));
  const body = pageFrame(root, `Budget ${name}`, refreshBtn, edit, remove);
  body.append(h('p', { class: 'back' }, h('a', { href: '#/budgets' }, '← All budgets')), content);
  await refresh();
}

const wide = (el) => { el.classList.add('wide'); return el; };

function detailBody(b) {
  return [
    h('div', { class: 'cards budget-cards' },
      stat('Limit', dollars(b.limit_usd), h('div', { class: 'muted' }, `per ${b.period === 'daily' ? 'day' : 'month'}`)),
      stat('Spent', dollars(b.spent_usd)), stat('Reserved', dollars(b.reserved_usd)),
      stat('Remaining', dollars(b.remaining_usd)), stat('Used', percentText(b)),
      stat('Resets in', duration(b.resets_in_seconds))),
    h('div', { class: 'card budget-meter' }, usageBar(b)),
    h('div', { class: 'ep-sections' }, wide(section('Settings', settingsList(b))), wide(section('Alerts this period', alertsTable(b)))),
  ];
}

// --- the form ----------------------------------------------------------------------------------

// Webhook headers as rows of name and value. A stored header's value is never known here: left
// empty it is sent back as HIDDEN, which keeps it.
function headersEditor(stored) {
  const rows = Object.keys(stored || {}).map((name) => ({ name, value: '', stored: true }));
  const body = h('tbody');
  const redraw = () => {
    clear(body, rows.map((row, i) => {
      const n = i + 1;
      const name = input({ value: row.name, 'aria-label': `Webhook header ${n} name`, placeholder: 'e.g. Authorization', autocomplete: 'off' });
      const value = input({ type: 'password', 'aria-label': `Webhook header ${n} value`, autocomplete: 'new-password',
        placeholder: row.stored ? `${HIDDEN}: empty keeps it` : 'value', dataset: { field: `webhook.headers.${row.name}` } });
      name.addEventListener('input', () => {
        row.name = name.value;
        row.stored = false; // the stored value belongs to the old name: a renamed header needs its value again
        value.placeholder = 'value';
        value.dataset.field = `webhook.headers.${name.value.trim()}`;
      });
      value.addEventListener('input', () => { row.value = value.value; });
      return h('tr', {}, h('td', {}, name), h('td', {}, value),
        h('td', { class: 'row-actions' }, button('Remove', () => { rows.splice(i, 1); redraw(); }, { kind: 'small', 'aria-label': `Remove webhook header ${n}` })));
    }));
    body.parentElement.hidden = !rows.length;
  };
  const el = h('div', { dataset: { field: 'webhook.headers' }, tabindex: -1 },
    h('table', { class: 'grid edit' }, h('thead', {}, h('tr', {}, h('th', {}, 'Header'), h('th', {}, 'Value (write-only)'), h('th', {}))), body),
    button('Add header', () => { rows.push({ name: '', value: '', stored: false }); redraw(); }, { kind: 'small' }));
  redraw();
  // A stored header keeps its value unless a new one is typed; a new (or renamed) one needs a value.
  const values = () => {
    const named = rows.filter((r) => r.name.trim());
    const missing = named.find((r) => !r.stored && !r.value);
    if (missing) throw fieldError(`webhook.headers.${missing.name.trim()}`, 'give the header a value');
    return Object.fromEntries(named.map((r) => [r.name.trim(), r.stored && !r.value ? HIDDEN : r.value]));
  };
  const clearValues = () => { for (const el2 of body.querySelectorAll('input[type=password]')) el2.value = ''; };
  return { el, values, clearValues };
}

// A mistake found before sending, shown like the API's 400s: the message and the field it names.
function fieldError(name, message) {
  return Object.assign(new Error(`${name}: ${message}`), { field: name });
}

// '50, 80 100' -> [50, 80, 100]; a piece that is not a number is refused here, naming the field.
function parseThresholds(text) {
  const pieces = text.split(/[\s,;%]+/).filter(Boolean);
  const bad = pieces.find((p) => !Number.isFinite(Number(p)));
  if (bad !== undefined) throw fieldError('alerts', `'${bad}' is not a number (percentages of the limit, such as 50, 80, 100)`);
  return pieces.map(Number);
}

// Names suggested for the scope's target (the API does not require them to exist yet).
async function suggestions() {
  const names = (path, key, pick) => get(path).then((r) => r[key].map(pick)).catch(() => []);
  const [endpoints, groups, users, sps] = await Promise.all([
    names('/endpoints', 'endpoints', (e) => e.name),
    names('/groups', 'groups', (g) => g.name),
    names('/users', 'users', (u) => u.email),
    names('/service-principals', 'service_principals', (s) => s.application_id),
  ]);
  return { endpoint: endpoints, group: groups, principal: [...users, ...sps] };
}

function budgetForm(budget, names, onSaved) {
  const creating = !budget;
  const spec = budget || { period: 'monthly', block: false };
  const scope = scopeOf(spec);
  const name = input({ name: 'name', value: spec.name || '', required: true, disabled: !creating, autocomplete: 'off',
    placeholder: 'e.g. team-search-monthly', dataset: { field: 'name' } });
  const kind = select(SCOPES, scope.kind, { name: 'scope', dataset: { field: 'scope' } });
  const target = input({ name: 'target', value: scope.target, autocomplete: 'off', list: 'budget-targets' });
  const targets = h('datalist', { id: 'budget-targets' });
  const targetField = field(TARGET_LABELS.endpoint, target, TARGET_HINTS.endpoint);
  const tagKey = input({ name: 'tag_key', value: scope.tagKey, autocomplete: 'off', placeholder: 'e.g. project', dataset: { field: 'scope.tag' } });
  const tagValue = input({ name: 'tag_value', value: scope.tagValue, autocomplete: 'off', placeholder: 'e.g. experiments' });
  const tagFields = h('div', { class: 'row' }, field('Tag key', tagKey), field('Tag value', tagValue, 'requests whose Unigate-Request-Tags carry it'));
  const period = select([['daily', 'daily (00:00 to 00:00 UTC)'], ['monthly', 'monthly (the 1st, 00:00 UTC)']], spec.period, { name: 'period', dataset: { field: 'period' } });
  const limit = input({ type: 'number', name: 'limit_usd', min: 0, step: 'any', value: spec.limit_usd ?? '', placeholder: 'e.g. 100', dataset: { field: 'limit_usd' } });
  const block = checkbox('Block: refuse requests (429) once the limit is reached', spec.block, { dataset: { field: 'block' } });
  const alerts = input({ name: 'alerts', value: (spec.alerts || []).join(', '), placeholder: 'e.g. 50, 80, 100', dataset: { field: 'alerts' } });
  const hookUrl = input({ name: 'webhook_url', value: webhookUrl(spec) || '', placeholder: 'https://hooks.example.com/unigate-budgets', dataset: { field: 'webhook.url' } });
  const headers = headersEditor(webhookHeaders(spec));

  // The target control follows the scope: its label, hint, suggestions and the field the API names.
  const showScope = () => {
    const k = kind.value;
    targetField.hidden = !TARGET_LABELS[k];
    tagFields.hidden = k !== 'tag';
    if (TARGET_LABELS[k]) {
      targetField.querySelector('label').textContent = TARGET_LABELS[k];
      targetField.querySelector('.hint').textContent = TARGET_HINTS[k];
      target.dataset.field = `scope.${k}`;
      clear(targets, (names[k] || []).map((n) => h('option', { value: n })));
    }
  };
  kind.addEventListener('change', showScope);
  showScope();

  const requestBody = () => {
    const body = { name: name.value.trim(), period: period.value, limit_usd: limit.value.trim() === '' ? null : Number(limit.value), block: block.box.checked };
    const k = kind.value;
    if (k === 'tag') body.scope = { tag: { [tagKey.value.trim()]: tagValue.value } };
    else if (k !== 'global') body.scope = { [k]: target.value.trim() };
    const thresholds = parseThresholds(alerts.value);
    if (thresholds.length) body.alerts = thresholds;
    const url = hookUrl.value.trim();
    const hdrs = headers.values();
    if (url || Object.keys(hdrs).length) body.webhook = Object.keys(hdrs).length ? { url, headers: hdrs } : url;
    return body;
  };

  const status = h('div', { class: 'form-status' });
  const submit = button(creating ? 'Create budget' : 'Save budget', null, { kind: 'primary', type: 'submit' });
  const form = h('form', { class: 'budget-form', 'aria-label': creating ? 'New budget' : `Edit ${spec.name}`, novalidate: true },
    h('div', { class: 'row' }, field('Name', name, 'letters, digits and . _ : -'), field('Period', period)),
    h('div', { class: 'row' }, field('Scope', kind), targetField), targets, tagFields,
    h('div', { class: 'row' }, field('Limit (USD)', limit, 'per period; at most 9,000,000'),
      field('Alert thresholds (% of the limit)', alerts, 'each alerted once per period; above 100 allowed')),
    block.el,
    h('fieldset', {}, h('legend', {}, 'Alert webhook'),
      h('p', { class: 'hint' }, 'POSTed a JSON alert for each threshold reached (needs thresholds). Header values are write-only.'),
      field('Webhook URL', hookUrl), headers.el),
    status, h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    let body;
    try { body = requestBody(); } catch (err) { showFormError(form, status, err); return; }
    const saved = await saving(form, status, submit, () => (creating
      ? post('/budgets', body)
      : put(`/budgets/${seg(spec.name)}`, body)));
    if (saved) { headers.clearValues(); onSaved(saved); }
  });
  return form;
}

async function openForm(budget, onSaved) {
  const names = await suggestions();
  let dlg = null;
  const form = budgetForm(budget, names, (saved) => { dlg.close(); onSaved(saved); });
  dlg = dialog(budget ? `Budget ${budget.name}` : 'New budget', form);
  form.querySelector('input:not([disabled]), select').focus();
}

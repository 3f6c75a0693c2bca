// A service's rate limits and payload logging. Both live in the service's spec (the API has no
// separate resource for them), so each section PUTs the whole spec as last stored with its own
// part changed; the write-only values go back as '(hidden)', which keeps them.

import { put, seg } from '../api.js';
import { h, clear, field, input, select, checkbox, button, notify } from '../ui.js';
import { section, saving, numberOrEmpty } from './endpoint_util.js';

// current = {service}: the stored row, shared by the sections and replaced by each save.
async function saveSpec(current, change) {
  const { created_at: _created, updated_at: _updated, ...spec } = current.service;
  const saved = await put(`/mcp-services/${seg(spec.name)}`, change(spec));
  current.service = saved;
  return saved;
}

// --- rate limits -------------------------------------------------------------------------------

// Each tool call is one request (an MCP service counts no tokens); keys as on endpoints, less
// request tags, which tool calls do not carry.
const LIMIT_KEYS = [
  ['endpoint', 'all callers together'], ['user_default', 'each caller'], ['user', 'one user'],
  ['service_principal', 'one service principal'], ['group', 'one group'],
];
const NEEDS_PRINCIPAL = new Set(['user', 'service_principal', 'group']);

function limitRow(limit, i, onRemove) {
  const n = i + 1;
  const key = select(LIMIT_KEYS, limit.key, { 'aria-label': `Limit ${n} applies to`, dataset: { field: `rate_limits[${i}].key` } });
  const principal = input({ value: limit.principal || '', 'aria-label': `Limit ${n} principal`, placeholder: 'email, app id or group',
    dataset: { field: `rate_limits[${i}].principal` } });
  const requests = input({ type: 'number', min: 0, step: 1, value: limit.requests ?? '', 'aria-label': `Limit ${n} tool calls`,
    class: 'amount', dataset: { field: `rate_limits[${i}].requests` } });
  const period = select([['minute', 'per minute'], ['hour', 'per hour']], limit.renewal_period,
    { 'aria-label': `Limit ${n} period`, dataset: { field: `rate_limits[${i}].renewal_period` } });
  const sync = () => {
    Object.assign(limit, { key: key.value, principal: principal.value.trim(), requests: requests.value, renewal_period: period.value });
    principal.disabled = !NEEDS_PRINCIPAL.has(key.value);
  };
  for (const control of [key, principal, requests, period]) control.addEventListener('input', sync);
  sync();
  return h('tr', { dataset: { field: `rate_limits[${i}]` }, tabindex: -1 }, h('td', {}, key), h('td', {}, principal),
    h('td', {}, h('div', { class: 'inline' }, requests, h('span', { class: 'muted' }, 'calls'))), h('td', {}, period),
    h('td', { class: 'row-actions' }, button('Remove', onRemove, { kind: 'small', 'aria-label': `Remove limit ${n}` })));
}

function limitSpec(limit) {
  const amount = numberOrEmpty(limit.requests);
  const spec = { key: limit.key, requests: amount === '' ? null : amount, renewal_period: limit.renewal_period };
  if (NEEDS_PRINCIPAL.has(limit.key)) spec.principal = limit.principal;
  return spec;
}

export function rateLimitsSection(current) {
  const name = current.service.name;
  const limits = (current.service.rate_limits || []).map((l) => ({ ...l }));
  const body = h('tbody');
  const empty = h('p', { class: 'muted' }, 'No rate limits: callers may call its tools as often as they like.');
  const redraw = () => {
    empty.hidden = limits.length > 0;
    body.parentElement.hidden = !limits.length;
    clear(body, limits.map((l, i) => limitRow(l, i, () => { limits.splice(i, 1); redraw(); })));
  };
  const status = h('div', { class: 'form-status' });
  const submit = button('Save rate limits', null, { kind: 'primary', type: 'submit' });
  const add = button('Add limit', () => { limits.push({ key: 'user_default', requests: 60, renewal_period: 'minute' }); redraw(); },
    { kind: 'small' });
  const form = h('form', { 'aria-label': 'Rate limits', novalidate: true },
    h('table', { class: 'grid edit' }, h('thead', {}, h('tr', {}, h('th', {}, 'Applies to'), h('th', {}, 'Principal'),
      h('th', {}, 'Limit'), h('th', {}, 'Period'), h('th', {}))), body),
    empty, status, h('div', { class: 'form-actions' }, add, submit));
  redraw();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const saved = await saving(form, status, submit, () => saveSpec(current, (spec) => {
      const next = { ...spec, rate_limits: limits.map(limitSpec) };
      if (!next.rate_limits.length) delete next.rate_limits;
      return next;
    }));
    if (saved) notify(`Rate limits of ${name} saved (${(saved.rate_limits || []).length})`);
  });
  return section('Rate limits', h('p', { class: 'hint' }, 'Tool calls per minute or hour; a call over a limit gets JSON-RPC error -32029 with retry_after.'), form);
}

// --- payload logging ---------------------------------------------------------------------------

export function payloadLoggingSection(current, showPayloads) {
  const name = current.service.name;
  const table = current.service.inference_table || {};
  const enabled = checkbox('Log each tool call\'s arguments and result', table.enabled, { dataset: { field: 'inference_table.enabled' } });
  const days = input({ type: 'number', min: 1, step: 1, value: table.retention_days ?? '', placeholder: 'kept until deleted',
    dataset: { field: 'inference_table.retention_days' } });
  const status = h('div', { class: 'form-status' });
  const submit = button('Save payload logging', null, { kind: 'primary', type: 'submit' });
  const form = h('form', { 'aria-label': 'Payload logging', novalidate: true }, enabled.el,
    field('Retention (days)', days, 'logged calls older than this are deleted'), status,
    h('div', { class: 'form-actions' }, button('Browse payloads', showPayloads, { kind: 'small' }), submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const next = { enabled: enabled.box.checked };
    const retention = numberOrEmpty(days.value);
    if (retention !== '') next.retention_days = retention;
    const saved = await saving(form, status, submit, () => saveSpec(current, (spec) => ({ ...spec, inference_table: next })));
    if (saved) notify(`Payload logging of ${name} is ${saved.inference_table && saved.inference_table.enabled ? 'on' : 'off'}`);
  });
  return section('Payload logging', form);
}

// An endpoint's settings edited on their own admin-API resources: rate limits
// (/rate-limits), payload logging (/inference-table) and guardrails (/guardrails). Each section
// saves on its own and shows the API's error in place.

import { put, seg } from '../api.js';
import { h, clear, field, input, select, textarea, checkbox, button, notify } from '../ui.js';
import { section, saving, numberOrEmpty } from './endpoint_util.js';

const LIMIT_KEYS = [
  ['endpoint', 'the whole endpoint'], ['user_default', 'each caller'], ['user', 'one user'],
  ['service_principal', 'one service principal'], ['group', 'one group'], ['request_tag', 'a request tag (key=value)'],
];
const NEEDS_PRINCIPAL = new Set(['user', 'service_principal', 'group', 'request_tag']);

// --- rate limits -------------------------------------------------------------------------------

function limitRow(limit, i, onRemove) {
  const n = i + 1;
  const key = select(LIMIT_KEYS, limit.key, { 'aria-label': `Limit ${n} applies to`, dataset: { field: `rate_limits[${i}].key` } });
  const principal = input({ value: limit.principal || '', 'aria-label': `Limit ${n} principal`, placeholder: 'email, id, group or key=value',
    dataset: { field: `rate_limits[${i}].principal` } });
  const measure = select([['requests', 'requests'], ['tokens', 'tokens']], limit.measure, { 'aria-label': `Limit ${n} counts` });
  const amount = input({ type: 'number', min: 0, step: 1, value: limit.amount ?? '', 'aria-label': `Limit ${n} amount`, class: 'amount' });
  const period = select([['minute', 'per minute'], ['hour', 'per hour']], limit.renewal_period, { 'aria-label': `Limit ${n} period`,
    dataset: { field: `rate_limits[${i}].renewal_period` } });
  const sync = () => {
    Object.assign(limit, { key: key.value, principal: principal.value.trim(), measure: measure.value, amount: amount.value, renewal_period: period.value });
    principal.disabled = !NEEDS_PRINCIPAL.has(key.value);
    amount.dataset.field = `rate_limits[${i}].${measure.value}`;
  };
  for (const control of [key, principal, measure, amount, period]) control.addEventListener('input', sync);
  sync();
  return h('tr', { dataset: { field: `rate_limits[${i}]` }, tabindex: -1 }, h('td', {}, key), h('td', {}, principal),
    h('td', {}, h('div', { class: 'inline' }, amount, measure)), h('td', {}, period),
    h('td', { class: 'row-actions' }, button('Remove', onRemove, { kind: 'small', 'aria-label': `Remove limit ${n}` })));
}

function limitSpec(limit) {
  const spec = { key: limit.key, [limit.measure]: numberOrEmpty(limit.amount), renewal_period: limit.renewal_period };
  if (spec[limit.measure] === '') spec[limit.measure] = null; // the API says "give exactly one of requests or tokens"
  if (NEEDS_PRINCIPAL.has(limit.key)) spec.principal = limit.principal;
  return spec;
}

export function rateLimitsSection(name, rateLimits) {
  const limits = rateLimits.map((l) => ({ key: l.key, principal: l.principal, measure: l.tokens !== undefined ? 'tokens' : 'requests',
    amount: l.tokens ?? l.requests, renewal_period: l.renewal_period }));
  const body = h('tbody');
  const empty = h('p', { class: 'muted' }, 'No rate limits.');
  const redraw = () => {
    empty.hidden = limits.length > 0;
    body.parentElement.hidden = !limits.length;
    clear(body, limits.map((l, i) => limitRow(l, i, () => { limits.splice(i, 1); redraw(); })));
  };
  const status = h('div', { class: 'form-status' });
  const submit = button('Save rate limits', null, { kind: 'primary', type: 'submit' });
  const add = button('Add limit', () => { limits.push({ key: 'user_default', measure: 'requests', amount: 60, renewal_period: 'minute' }); redraw(); }, { kind: 'small' });
  const form = h('form', { 'aria-label': 'Rate limits', novalidate: true },
    h('table', { class: 'grid edit' }, h('thead', {}, h('tr', {}, h('th', {}, 'Applies to'), h('th', {}, 'Principal'),
      h('th', {}, 'Limit'), h('th', {}, 'Period'), h('th', {}))), body),
    empty, status, h('div', { class: 'form-actions' }, add, submit));
  redraw();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const saved = await saving(form, status, submit, () => put(`/endpoints/${seg(name)}/rate-limits`, { rate_limits: limits.map(limitSpec) }));
    if (saved) notify(`Rate limits of ${name} saved (${saved.rate_limits.length})`);
  });
  return section('Rate limits', h('p', { class: 'hint' }, 'Requests or tokens per minute or hour; callers over a limit get a 429.'), form);
}

// --- payload logging ---------------------------------------------------------------------------

export function payloadLoggingSection(name, table, navigate) {
  const enabled = checkbox('Log request and response payloads', table.enabled, { dataset: { field: 'enabled' } });
  const days = input({ type: 'number', min: 1, step: 1, value: table.retention_days ?? '', placeholder: 'kept until deleted',
    dataset: { field: 'retention_days' } });
  const status = h('div', { class: 'form-status' });
  const submit = button('Save payload logging', null, { kind: 'primary', type: 'submit' });
  const form = h('form', { 'aria-label': 'Payload logging', novalidate: true }, enabled.el,
    field('Retention (days)', days, 'payload rows older than this are deleted'), status,
    h('div', { class: 'form-actions' }, button('Browse payloads', () => navigate('payloads', name), { kind: 'small' }), submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { enabled: enabled.box.checked };
    const retention = numberOrEmpty(days.value);
    if (retention !== '') body.retention_days = retention;
    const saved = await saving(form, status, submit, () => put(`/endpoints/${seg(name)}/inference-table`, body));
    if (saved) notify(`Payload logging of ${name} is ${saved.enabled ? 'on' : 'off'}`);
  });
  return section('Payload logging', form);
}

// --- guardrails ------------------------------------------------------------------------------

// Guardrails come in many types with their own fields (docs/guardrails.md): edited as the JSON
// list the API takes, which the API validates (its error names the guardrail and the field).
export function guardrailsSection(name, current) {
  const list = textarea({ rows: 10, spellcheck: 'false', class: 'json-edit', value: JSON.stringify(current.guardrails, null, 2),
    dataset: { field: 'guardrails' } });
  const response = select([['error', 'error: an HTTP error'], ['content_filter', 'content_filter: a normal answer, finish_reason content_filter']],
    current.guardrail_response, { dataset: { field: 'guardrail_response' } });
  const windowSize = input({ type: 'number', min: 16, max: 65536, step: 1, value: current.guardrail_window, dataset: { field: 'guardrail_window' } });
  const status = h('div', { class: 'form-status' });
  const submit = button('Save guardrails', null, { kind: 'primary', type: 'submit' });
  const form = h('form', { 'aria-label': 'Guardrails', novalidate: true },
    field('Guardrails (JSON list)', list, 'e.g. [{"name": "mask-pii", "type": "pii", "phase": "input", "action": "sanitize"}]; [] removes them all'),
    h('div', { class: 'row' }, field('A block answers with', response), field('Stream window (characters)', windowSize)),
    status, h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const saved = await saving(form, status, submit, () => {
      let guardrails;
      try {
        guardrails = JSON.parse(list.value.trim() || '[]');
      } catch (err) {
        throw Object.assign(new Error(`The guardrails are not valid JSON: ${err.message}`), { field: 'guardrails' });
      }
      const body = { guardrails, guardrail_response: response.value, guardrail_window: numberOrEmpty(windowSize.value) };
      if (body.guardrail_window === '') delete body.guardrail_window;
      return put(`/endpoints/${seg(name)}/guardrails`, body);
    });
    if (saved) {
      list.value = JSON.stringify(saved.guardrails, null, 2);
      notify(`Guardrails of ${name} saved (${saved.guardrails.length})`);
    }
  });
  return section('Guardrails', form);
}

// A service's logged tool calls (#/mcp-services/NAME/payloads), from
// GET /mcp-services/{name}/payloads: newest first, each with its tool, status, time, and its
// arguments and result pretty-printed. The request body of a call is {"name", "arguments"}; its
// response body the server's result ({content, isError}) or {"error": ...} when it gave none.

import { get, qs, seg } from '../api.js';
import { h, clear, pageFrame, field, input, select, button, table, loading, errorBox, badge, when, ms, useStyles } from '../ui.js';
import { pager } from './audit.js';

const PAGE_SIZES = ['25', '50', '100'];

function parsed(text) {
  if (typeof text !== 'string') return null;
  try { return JSON.parse(text); } catch { return null; }
}

const unix = (value) => (value ? String(Math.floor(new Date(value).getTime() / 1000)) : undefined);

export async function renderPayloads(root, ctx, name) {
  useStyles('identities');
  const body = pageFrame(root, `Payloads of ${name}`, button('Back to the service', () => ctx.navigate('mcp-services', name)));
  body.append(loading());
  const service = await get(`/mcp-services/${seg(name)}`);
  const logging = service.inference_table && service.inference_table.enabled;
  const state = logging
    ? h('p', { class: 'muted' }, `Payload logging is on for ${name} (${service.inference_table.retention_days
      ? `kept for ${service.inference_table.retention_days} days` : 'kept until purged'}).`)
    : h('div', { class: 'warn-box', role: 'note' }, h('strong', {}, `Payload logging is off for ${name}`),
      ': new tool calls keep no arguments or results (rows below, if any, are from before). Turn it on in the service\'s ',
      h('a', { href: `#/mcp-services/${encodeURIComponent(name)}` }, 'Payload logging'), ' section.');
  const results = h('div');
  clear(body, h('p', { class: 'back' }, h('a', { href: `#/mcp-services/${encodeURIComponent(name)}` }, `← ${name}`)),
    state, filters(name, results), results);
}

function filters(name, results) {
  const start = input({ type: 'datetime-local', name: 'start' });
  const end = input({ type: 'datetime-local', name: 'end' });
  const requestId = input({ type: 'search', name: 'request_id', autocomplete: 'off', placeholder: 'mcp-…' });
  const size = select(PAGE_SIZES, '25', { name: 'limit' });
  const form = h('form', { class: 'filters', 'aria-label': 'Filter payloads' },
    field('From', start), field('Until', end), field('Request ID', requestId), field('Per page', size),
    button('Refresh', null, { type: 'submit', kind: 'primary' }));
  let page = 0;
  const load = async () => {
    const perPage = Number(size.value);
    clear(results, loading());
    try {
      // One more than a page: whether a next page exists.
      const { payloads } = await get(`/mcp-services/${seg(name)}/payloads${qs({
        limit: perPage + 1, offset: page * perPage, start: unix(start.value), end: unix(end.value), request_id: requestId.value.trim(),
      })}`);
      const rows = payloads.slice(0, perPage);
      clear(results, callsTable(rows), pager(page, rows.length, perPage, payloads.length > perPage, (p) => { page = p; load(); }));
    } catch (err) {
      clear(results, errorBox(err));
    }
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); page = 0; load(); });
  load();
  return form;
}

// JSON pretty-printed, folded under a one-line preview.
function jsonCell(value, text, label) {
  if (value === null || value === undefined) {
    return text ? h('pre', { class: 'json text' }, text) : h('span', { class: 'muted' }, '—');
  }
  const compact = JSON.stringify(value);
  const preview = compact.length > 44 ? `${compact.slice(0, 42)}…` : compact;
  return h('details', { class: 'mcp-json' }, h('summary', { 'aria-label': label }, h('code', {}, preview)),
    h('pre', { class: 'json' }, JSON.stringify(value, null, 2)));
}

function statusCell(row, result) {
  const code = h('span', { class: row.status_code >= 400 ? 'status-bad' : 'status-ok' }, String(row.status_code ?? '—'));
  return h('span', {}, code, result && result.isError ? [' ', badge('tool error', 'warn')] : null);
}

function callsTable(rows) {
  const calls = rows.map((row) => {
    const request = parsed(row.request_body) || {};
    return { row, tool: request.name, args: request.arguments, result: parsed(row.response_body) };
  });
  return table([
    { key: 'time', label: 'Time', render: (c) => h('div', {}, h('div', { class: 'nowrap' }, when(c.row.event_time)),
      h('code', { class: 'mcp-rid muted', title: 'request ID' }, c.row.request_id)) },
    { key: 'tool', label: 'Tool', render: (c) => (c.tool ? h('code', {}, c.tool) : h('span', { class: 'muted' }, '—')) },
    { key: 'requester', label: 'Requester', render: (c) => c.row.requester || h('span', { class: 'muted' }, '—') },
    { key: 'status', label: 'Status', class: 'nowrap', render: (c) => statusCell(c.row, c.result) },
    { key: 'latency', label: 'Latency', class: 'num', render: (c) => ms(c.row.latency_ms) },
    { key: 'args', label: 'Arguments', class: 'mcp-json-cell', render: (c) => jsonCell(c.args, null, `Arguments of ${c.row.request_id}`) },
    { key: 'result', label: 'Result', class: 'mcp-json-cell', render: (c) => (c.row.not_stored_reason
      ? h('span', { class: 'muted' }, `not stored: ${c.row.not_stored_reason}`)
      : jsonCell(c.result, c.row.response_body, `Result of ${c.row.request_id}`)) },
  ], calls, { empty: 'No logged tool calls in this range.' });
}

// Payloads (#/payloads, #/payloads/ENDPOINT): the payload browser. An endpoint with its
// inference table on keeps each request's and response's body (a stream folded into its full
// response); this page lists them, newest first, and shows one's bodies. Administrators see
// every endpoint, managers the ones they manage.

import { get, put, qs, seg } from '../api.js';
import {
  h, clear, pageFrame, field, input, select, button, busy, table, dialog, loading, errorBox, notify,
  when, ms, num, useStyles,
} from '../ui.js';
import { pager } from './audit.js';

useStyles('identities');

const PAGE_SIZES = ['25', '50', '100'];

async function endpointNames(me) {
  if (!me.is_admin) return [...me.can_manage].sort();
  const { endpoints } = await get('/endpoints');
  return endpoints.map((e) => e.name);
}

export async function render(root, ctx) {
  const body = pageFrame(root, 'Payloads');
  body.append(loading());
  const names = await endpointNames(ctx.me);
  if (!names.length) {
    clear(body, h('p', { class: 'empty' }, 'There are no endpoints you manage.'));
    return;
  }
  const endpoint = ctx.params[0] && names.includes(ctx.params[0]) ? ctx.params[0] : null;
  const chooser = select([['', 'Choose an endpoint…'], ...names], endpoint || '', { name: 'endpoint' });
  chooser.addEventListener('change', () => chooser.value && ctx.navigate('payloads', chooser.value));
  const head = h('div', { class: 'filters' }, field('Endpoint', chooser));
  if (!endpoint) {
    clear(body, head, ctx.params[0] ? errorBox({ message: `No endpoint '${ctx.params[0]}' that you manage.` }) : null,
      h('p', { class: 'muted' }, 'Choose an endpoint to browse the requests and responses it logged.'));
    return;
  }
  const state = h('div', {});
  const results = h('div', {});
  clear(body, head, state, browser(endpoint, results), results);
  await loggingState(endpoint, state);
}

// The endpoint's inference-table setting: a hint, and the switch for whoever may change it.
async function loggingState(endpoint, el) {
  let table;
  try { table = await get(`/endpoints/${seg(endpoint)}/inference-table`); } catch (err) { clear(el, errorBox(err)); return; }
  if (table.enabled) {
    const keep = table.retention_days ? `kept for ${table.retention_days} days` : 'kept until purged';
    clear(el, h('p', { class: 'muted' }, `Payload logging is on for ${endpoint} (${keep}).`));
    return;
  }
  const turnOn = button('Turn payload logging on', null, { kind: 'small primary' });
  turnOn.addEventListener('click', busy(turnOn, async () => {
    await put(`/endpoints/${seg(endpoint)}/inference-table`, { ...table, enabled: true });
    notify(`Payload logging turned on for ${endpoint}`);
    await loggingState(endpoint, el);
  }));
  clear(el, h('div', { class: 'warn-box', role: 'note' },
    h('p', {}, h('strong', {}, `Payload logging is off for ${endpoint}`), ': new requests keep no bodies (rows below, if any, are from before).'),
    h('p', {}, 'Turn it on here, with PUT /api/v1/endpoints/', endpoint, '/inference-table {"enabled": true, "retention_days": 30}, ',
      'or in the configuration: ', h('code', {}, 'inference_table: {enabled: true, retention_days: 30}'), ' on the endpoint.'),
    turnOn));
}

function localToUnix(value) {
  return value ? String(new Date(value).getTime() / 1000) : undefined;
}

// The filters (time range, request id, page size) and the paged table under them.
function browser(endpoint, results) {
  const start = input({ type: 'datetime-local', name: 'start' });
  const end = input({ type: 'datetime-local', name: 'end' });
  const requestId = input({ type: 'search', name: 'request_id', autocomplete: 'off', placeholder: 'x-request-id' });
  const size = select(PAGE_SIZES, '50', { name: 'limit' });
  const refresh = button('Refresh', null, { type: 'submit', kind: 'primary' });
  const form = h('form', { class: 'filters', 'aria-label': 'Filter payloads' },
    field('From', start), field('Until', end), field('Request ID', requestId), field('Per page', size), refresh);
  let page = 0;
  const load = async () => {
    const perPage = Number(size.value);
    clear(results, loading());
    try {
      // One more than a page: whether a next page exists.
      const { payloads } = await get(`/endpoints/${seg(endpoint)}/payloads${qs({
        limit: perPage + 1, offset: page * perPage, start: localToUnix(start.value), end: localToUnix(end.value),
        request_id: requestId.value.trim(),
      })}`);
      const rows = payloads.slice(0, perPage);
      clear(results, payloadTable(rows), pager(page, rows.length, perPage, payloads.length > perPage, (p) => { page = p; load(); }));
    } catch (err) {
      clear(results, errorBox(err));
    }
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); page = 0; load(); });
  load();
  return form;
}

function parsed(text) {
  if (typeof text !== 'string') return null;
  try { return JSON.parse(text); } catch { return null; }
}

// Token counts from the response body's usage, in whichever dialect it is (OpenAI's
// prompt/completion tokens, Anthropic's input/output tokens); null when it has none.
export function usageOf(row) {
  const usage = parsed(row.response_body)?.usage;
  if (!usage || typeof usage !== 'object') return null;
  const input = usage.prompt_tokens ?? usage.input_tokens;
  const output = usage.completion_tokens ?? usage.output_tokens;
  const total = usage.total_tokens ?? (input !== undefined || output !== undefined ? (input || 0) + (output || 0) : undefined);
  return total === undefined ? null : { input, output, total };
}

function payloadTable(rows) {
  const status = (r) => h('span', { class: r.status_code >= 400 ? 'status-bad' : 'status-ok' }, String(r.status_code ?? '—'));
  const tokens = (r) => {
    const u = usageOf(r);
    return u ? h('span', { title: `${num(u.input)} in · ${num(u.output)} out` }, num(u.total)) : h('span', { class: 'muted' }, '—');
  };
  return table([
    { key: 'event_time', label: 'Time', render: (r) => h('span', { class: 'nowrap' }, when(r.event_time)) },
    { key: 'request_id', label: 'Request ID', render: (r) => h('code', {}, r.request_id) },
    { key: 'requester', label: 'Requester' },
    { key: 'status_code', label: 'Status', render: status },
    { key: 'latency_ms', label: 'Latency', class: 'num', render: (r) => ms(r.latency_ms) },
    { key: 'tokens', label: 'Tokens', class: 'num', render: tokens },
  ], rows, { empty: 'No payloads in this range.', onRow: showPayload });
}

// A body, pretty-printed when it is JSON; a stream kept as the SSE text the client got, as text.
function bodyBlock(title, text) {
  const json = parsed(text);
  const content = text === null || text === undefined ? h('p', { class: 'muted' }, 'Not stored.')
    : json !== null ? h('pre', { class: 'json' }, JSON.stringify(json, null, 2))
      : h('pre', { class: 'json text' }, text);
  return h('section', { class: 'section' }, h('h3', {}, title), content);
}

function showPayload(row) {
  const ok = button('Close', () => dlg.close());
  const dlg = dialog(`Request ${row.request_id}`, h('div', { class: 'payload-detail' },
    h('dl', { class: 'props' },
      h('dt', {}, 'Time'), h('dd', {}, when(row.event_time)),
      h('dt', {}, 'Endpoint'), h('dd', {}, row.endpoint_name),
      h('dt', {}, 'Requester'), h('dd', {}, row.requester || '—'),
      h('dt', {}, 'Status'), h('dd', {}, String(row.status_code ?? '—')),
      h('dt', {}, 'Latency'), h('dd', {}, ms(row.latency_ms))),
    row.not_stored_reason ? errorBox({ message: `Bodies not stored: ${row.not_stored_reason}` }) : null,
    bodyBlock('Request body', row.request_body),
    bodyBlock('Response body', row.response_body)), [ok]);
}

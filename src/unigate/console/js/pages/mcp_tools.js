// The tools a service offers. The admin API keeps only a service's spec; its tools come from
// the server itself. So the page asks the way any MCP client does: a JSON-RPC `tools/list`
// POSTed to the gateway's public MCP surface, /ai-gateway/mcp/{service}, with the signed-in
// token (an administrator may use every tool, so the answer is the server's whole list).

import { authHeaders, errorFrom, seg, ApiError } from '../api.js';
import { h, clear, table, button, badge, errorBox, loading } from '../ui.js';
import { section } from './endpoint_util.js';

// A service registered a moment ago reaches the gateway's workers within about a second (the
// configuration reload); until then the MCP surface answers 404. Asked again a few times.
const RETRIES_ON_404 = 8;
const RETRY_MS = 300;
const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

let rpcSeq = 0;
export async function mcpRequest(service, method, params = {}) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`/ai-gateway/mcp/${seg(service)}`, {
      method: 'POST',
      headers: authHeaders({ 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }),
      body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcSeq, method, params }),
    });
    if (res.status === 404 && attempt < RETRIES_ON_404) { await pause(RETRY_MS); continue; }
    if (!res.ok) throw await errorFrom(res);
    const answer = await res.json();
    if (answer.error) {
      throw new ApiError(res.status, String(answer.error.code), `The MCP server answered: ${answer.error.message}`);
    }
    return answer.result;
  }
}

// The service's tools, asked once: a promise of the list (or of the error it gave).
export function listTools(service) {
  return mcpRequest(service, 'tools/list').then((result) => result.tools || []);
}

// The parameters of a tool's input schema, as ['a: integer', 'b?: string'] (? when optional).
export function parameters(tool) {
  const schema = tool.inputSchema || {};
  const required = new Set(schema.required || []);
  const names = Object.keys(schema.properties || {});
  return names.map((n) => {
    const type = schema.properties[n].type;
    return `${n}${required.has(n) ? '' : '?'}${type ? `: ${Array.isArray(type) ? type.join('|') : type}` : ''}`;
  });
}

function parametersCell(tool) {
  const list = parameters(tool);
  if (!list.length) return h('span', { class: 'muted' }, 'none');
  // One parameter never breaks across lines; the list may.
  return h('span', { class: 'mono' }, list.map((p, i) => [i ? ', ' : '', h('span', { class: 'nowrap' }, p)]));
}

function toolsTable(tools) {
  return table([
    { key: 'name', label: 'Tool', render: (t) => h('code', {}, t.name) },
    { key: 'description', label: 'Description', render: (t) => t.description || h('span', { class: 'muted' }, '—') },
    { key: 'params', label: 'Parameters', render: parametersCell },
    { key: 'hints', label: '', class: 'nowrap', render: (t) => (t.annotations && t.annotations.readOnlyHint ? badge('read-only', 'ok') : '') },
  ], tools, { empty: 'The server offers no tools.' });
}

export function toolsSection(service, toolsPromise) {
  const body = h('div', {}, loading());
  let current = toolsPromise;
  const show = async () => {
    clear(body, loading());
    try {
      const tools = await current;
      clear(body, h('p', { class: 'hint' }, `${tools.length} tool${tools.length === 1 ? '' : 's'}, as the server lists them (tools/list).`),
        toolsTable(tools));
    } catch (err) {
      const retry = button('Ask again', () => { current = listTools(service); show(); }, { kind: 'small' });
      clear(body, errorBox({ message: `The server's tools could not be listed: ${err.message}` }), retry);
    }
  };
  show();
  return section('Tools', body);
}

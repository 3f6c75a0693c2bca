// The MCP service editor: a streamable HTTP server (url, headers) or a local stdio one (command,
// args, cwd, env), its description and timeout. Registering creates it (POST); editing replaces
// the whole spec (PUT), carrying its rate limits and payload logging over unchanged.
//
// Header and env values are write-only: the API reads them as '(hidden)', and a write that sends
// '(hidden)' back keeps the stored value. So a stored entry shows its name and an empty value
// field: left empty it is sent as '(hidden)' (kept), typed into it is replaced, removed it goes.

import { post, put, seg } from '../api.js';
import { h, clear, field, input, textarea, select, button } from '../ui.js';
import { saving } from './endpoint_util.js';

export const HIDDEN = '(hidden)';

const invalid = (message, fieldName) => Object.assign(new Error(message), { field: fieldName });

// Rows of name and write-only value. `key` is the spec's field (headers, env).
function secretMapEditor({ key, legend, hint, noun, stored, namePlaceholder }) {
  const rows = Object.keys(stored || {}).map((name) => ({ name, value: '', stored: true }));
  const body = h('tbody');
  const redraw = () => {
    clear(body, rows.map((row, i) => {
      const n = i + 1;
      const name = row.stored
        ? h('span', { class: 'mono', dataset: { field: `${key}.${row.name}` }, tabindex: -1 }, row.name)
        : input({ value: row.name, 'aria-label': `${noun} ${n} name`, placeholder: namePlaceholder, autocomplete: 'off',
          dataset: { field: `${key}.${row.name}` } });
      if (!row.stored) name.addEventListener('input', () => { row.name = name.value; name.dataset.field = `${key}.${name.value.trim()}`; });
      const value = input({ type: 'password', 'aria-label': `${noun} ${n} value`, autocomplete: 'new-password', value: row.value,
        placeholder: row.stored ? 'unchanged (write-only)' : 'value' });
      value.addEventListener('input', () => { row.value = value.value; });
      return h('tr', {}, h('td', {}, name), h('td', {}, value),
        h('td', { class: 'row-actions' }, button('Remove', () => { rows.splice(i, 1); redraw(); },
          { kind: 'small', 'aria-label': `Remove ${noun.toLowerCase()} ${row.stored ? row.name : n}` })));
    }));
    body.parentElement.hidden = !rows.length;
  };
  const el = h('fieldset', { dataset: { field: key }, tabindex: -1 }, h('legend', {}, legend),
    h('p', { class: 'hint' }, hint),
    h('table', { class: 'grid edit' }, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Value'), h('th', {}))), body),
    button(`Add ${noun.toLowerCase()}`, () => { rows.push({ name: '', value: '', stored: false }); redraw(); }, { kind: 'small' }));
  redraw();
  // The map to send: a stored entry left empty goes back as '(hidden)', which keeps its value.
  const values = () => {
    const out = {};
    rows.forEach((row, i) => {
      const name = row.name.trim();
      if (!name && !row.value) return; // an empty row added and never filled
      if (!name) throw invalid(`${noun} ${i + 1} needs a name`, key);
      if (name in out) throw invalid(`${noun} '${name}' is given twice`, `${key}.${name}`);
      out[name] = row.stored && !row.value ? HIDDEN : row.value;
    });
    return out;
  };
  return { el, values };
}

const TRANSPORTS = [['http', 'Streamable HTTP server (URL)'], ['stdio', 'Local process (stdio command)']];

// serviceForm({service: null to register one, or the stored row; onSaved(row); onCancel()})
export function serviceForm({ service, onSaved, onCancel }) {
  const creating = !service;
  const spec = service || {};
  const name = input({ name: 'name', value: spec.name || '', required: true, disabled: !creating, autocomplete: 'off',
    placeholder: 'e.g. docs', dataset: { field: 'name' } });
  const transport = select(TRANSPORTS, spec.command ? 'stdio' : 'http', { name: 'transport' });
  const description = input({ name: 'description', value: spec.description || '', dataset: { field: 'description' } });
  const timeout = input({ name: 'timeout', value: spec.timeout || '', placeholder: '60s', dataset: { field: 'timeout' } });

  const url = input({ name: 'url', type: 'text', value: spec.url || '', placeholder: 'https://mcp.internal.example/mcp',
    autocomplete: 'off', dataset: { field: 'url' } });
  const headers = secretMapEditor({ key: 'headers', legend: 'Headers', noun: 'Header', stored: spec.headers,
    namePlaceholder: 'e.g. Authorization',
    hint: 'Sent to the MCP server only, never to callers. Values are write-only: reads show them as (hidden).' });
  const http = h('div', { class: 'mcp-transport' }, field('URL', url, 'the server\'s streamable HTTP endpoint'), headers.el);

  const command = input({ name: 'command', value: spec.command || '', placeholder: 'e.g. npx', autocomplete: 'off',
    dataset: { field: 'command' } });
  const args = textarea({ name: 'args', rows: 3, spellcheck: 'false', value: (spec.args || []).join('\n'),
    placeholder: '-y\n@modelcontextprotocol/server-filesystem\n/srv/shared', dataset: { field: 'args' } });
  const cwd = input({ name: 'cwd', value: spec.cwd || '', placeholder: "empty: the gateway's directory", dataset: { field: 'cwd' } });
  const env = secretMapEditor({ key: 'env', legend: 'Environment', noun: 'Variable', stored: spec.env,
    namePlaceholder: 'e.g. NODE_OPTIONS',
    hint: 'The process gets only PATH, HOME, LANG and these. Values are write-only: reads show them as (hidden).' });
  const stdio = h('div', { class: 'mcp-transport' },
    h('div', { class: 'warn-box', role: 'note' },
      'A stdio service runs this command on the gateway\'s host, as the gateway\'s user, in every worker. ',
      'The API refuses it unless the gateway\'s configuration file sets ', h('code', {}, 'settings: {mcp_stdio_from_api: true}'),
      '; otherwise register it in that file.'),
    field('Command', command),
    h('div', { class: 'row' }, field('Arguments, one per line', args), field('Working directory', cwd)),
    env.el);

  const showTransport = () => { http.hidden = transport.value !== 'http'; stdio.hidden = transport.value !== 'stdio'; };
  transport.addEventListener('change', showTransport);
  showTransport();

  const status = h('div', { class: 'form-status' });
  const submit = button(creating ? 'Register service' : 'Save service', null, { kind: 'primary', type: 'submit' });
  const form = h('form', { class: 'provider-form mcp-form', 'aria-label': creating ? 'New MCP service' : `Edit ${spec.name}`, novalidate: true },
    h('div', { class: 'row' }, field('Name', name, 'letters, digits and . _ - : the URL segment /ai-gateway/mcp/NAME'),
      field('Server', transport)),
    field('Description', description),
    field('Timeout', timeout, 'one call to the server, e.g. 30s or 2m (default 60s)'),
    http, stdio, status,
    h('div', { class: 'form-actions' }, button('Cancel', onCancel), submit));

  const requestBody = () => {
    // Editing replaces the whole spec: the settings edited elsewhere go back as they are.
    const body = creating ? {} : Object.fromEntries(['rate_limits', 'inference_table']
      .filter((k) => spec[k] !== undefined).map((k) => [k, spec[k]]));
    body.name = name.value.trim();
    if (transport.value === 'http') {
      body.url = url.value.trim();
      const values = headers.values();
      if (Object.keys(values).length) body.headers = values;
    } else {
      body.command = command.value.trim();
      const list = args.value.split('\n').map((a) => a.trim()).filter(Boolean);
      if (list.length) body.args = list;
      if (cwd.value.trim()) body.cwd = cwd.value.trim();
      const values = env.values();
      if (Object.keys(values).length) body.env = values;
    }
    if (description.value.trim()) body.description = description.value.trim();
    if (timeout.value.trim()) body.timeout = timeout.value.trim();
    return body;
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const saved = await saving(form, status, submit, () => (creating
      ? post('/mcp-services', requestBody())
      : put(`/mcp-services/${seg(spec.name)}`, requestBody())));
    if (saved) onSaved(saved);
  });
  setTimeout(() => form.querySelector('input:not([disabled])')?.focus(), 0);
  return form;
}

// MCP services (administrators): the list (#/mcp-services), one service (#/mcp-services/NAME)
// with its tools, grants (CAN_USE), rate limits and payload logging, its logged tool calls
// (#/mcp-services/NAME/payloads), and the editor (#/mcp-services/NAME/edit, #/mcp-services/_new:
// no service name starts with '_'). Header and environment values are write-only: the API
// reads them back as '(hidden)' and this page never has them.

import { get, del, seg } from '../api.js';
import { h, pageFrame, table, button, badge, confirmDialog, notify, useStyles, when, loading, codeBlock } from '../ui.js';
import { section } from './endpoint_util.js';
import { serviceForm } from './mcp_form.js';
import { toolsSection, listTools } from './mcp_tools.js';
import { grantsSection } from './mcp_grants.js';
import { rateLimitsSection, payloadLoggingSection } from './mcp_settings.js';
import { renderPayloads } from './mcp_payloads.js';

const NEW = '_new';
const PAGE = 'mcp-services';

export async function render(root, ctx) {
  useStyles('endpoints');
  useStyles('identities'); // .warn-box, .nowrap, .pager, status colours
  useStyles('mcp');
  if (!ctx.me.is_admin) {
    pageFrame(root, 'MCP services').append(h('p', { class: 'empty' }, 'Only administrators manage MCP services.'));
    return;
  }
  const [name, action] = ctx.params;
  if (name === NEW) return renderCreate(root, ctx);
  if (name && action === 'edit') return renderEdit(root, ctx, name);
  if (name && action === 'payloads') return renderPayloads(root, ctx, name);
  if (name) return renderDetail(root, ctx, name);
  return renderList(root, ctx);
}

// --- the list ----------------------------------------------------------------------------------

// Where the service runs: its URL, or the command line of a local (stdio) server.
export function serverText(s) {
  if (s.url) return s.url;
  return [s.command, ...(s.args || [])].join(' ');
}

function serverCell(s) {
  return h('div', { class: 'mcp-server' }, s.url ? badge('HTTP', 'grey') : badge('stdio', 'warn'), ' ',
    h('span', { class: 'mono' }, serverText(s)));
}

const loggingBadge = (s) => (s.inference_table && s.inference_table.enabled ? badge('on', 'ok') : badge('off', 'grey'));

function limitsCell(s) {
  const limits = s.rate_limits || [];
  if (!limits.length) return h('span', { class: 'muted' }, 'none');
  return h('div', { class: 'dest-list' }, limits.map((l) => h('span', { class: 'nowrap' }, limitText(l))));
}

const PERIOD = { minute: 'min', hour: 'h' };
export function limitText(l) {
  const who = l.key === 'endpoint' ? 'all callers' : l.key === 'user_default' ? 'each caller' : `${l.key} ${l.principal}`;
  return `${l.requests}/${PERIOD[l.renewal_period] || l.renewal_period} · ${who}`;
}

async function deleteService(ctx, name, after) {
  if (!(await confirmDialog(`Delete MCP service ${name}? Its grants go with it; clients calling it get 404.`))) return;
  try {
    await del(`/mcp-services/${seg(name)}`);
    notify(`MCP service ${name} deleted`);
    after();
  } catch (err) {
    notify(err.message, 'error');
  }
}

async function renderList(root, ctx) {
  const body = pageFrame(root, 'MCP services', button('New MCP service', () => ctx.navigate(PAGE, NEW), { kind: 'primary' }));
  body.append(loading());
  const { mcp_services: services } = await get('/mcp-services');
  const refresh = () => renderList(root, ctx);
  body.replaceChildren(
    h('p', { class: 'hint' }, 'MCP servers callers reach through the gateway with their own token, at ',
      h('code', {}, `${location.origin}/ai-gateway/mcp/NAME`), '.'),
    table([
      { key: 'name', label: 'Name', class: 'nowrap', render: (s) => h('a', { href: `#/${PAGE}/${encodeURIComponent(s.name)}` }, s.name) },
      { key: 'server', label: 'URL or command', render: serverCell },
      { key: 'description', label: 'Description' },
      { key: 'timeout', label: 'Timeout', render: (s) => s.timeout || '60s' },
      { key: 'rate_limits', label: 'Rate limits', render: limitsCell },
      { key: 'inference_table', label: 'Payload logging', render: loggingBadge },
      { key: 'actions', label: '', class: 'row-actions', render: (s) => h('span', {},
        button('Edit', () => ctx.navigate(PAGE, s.name, 'edit'), { kind: 'small', 'aria-label': `Edit ${s.name}` }), ' ',
        button('Delete', () => deleteService(ctx, s.name, refresh), { kind: 'small danger', 'aria-label': `Delete ${s.name}` })) },
    ], services, { empty: 'No MCP services yet: register one.', onRow: (s) => ctx.navigate(PAGE, s.name) }));
}

// --- create and edit ---------------------------------------------------------------------------

async function renderCreate(root, ctx) {
  const body = pageFrame(root, 'New MCP service');
  body.append(serviceForm({
    service: null,
    onSaved: (row) => { notify(`MCP service ${row.name} registered`); ctx.navigate(PAGE, row.name); },
    onCancel: () => ctx.navigate(PAGE),
  }));
}

async function renderEdit(root, ctx, name) {
  const body = pageFrame(root, `Edit ${name}`);
  const service = await get(`/mcp-services/${seg(name)}`);
  body.append(serviceForm({
    service,
    onSaved: () => { notify(`MCP service ${name} saved`); ctx.navigate(PAGE, name); },
    onCancel: () => ctx.navigate(PAGE, name),
  }));
}

// --- one service -------------------------------------------------------------------------------

const prop = (label, value) => [h('dt', {}, label), h('dd', {}, value || h('span', { class: 'muted' }, '—'))];
const hiddenNames = (values) => {
  const names = Object.keys(values || {});
  return names.length ? h('span', {}, names.map((n) => h('span', { class: 'secret-name' }, h('code', {}, n), ' ', badge('hidden', 'grey')))) : null;
};

function serverSection(s) {
  const props = s.url
    ? [prop('URL', h('span', { class: 'mono' }, s.url)), prop('Headers', hiddenNames(s.headers))]
    : [prop('Command', h('span', { class: 'mono' }, s.command)),
      prop('Arguments', (s.args || []).length ? h('span', { class: 'mono' }, s.args.join(' ')) : null),
      prop('Working directory', s.cwd ? h('span', { class: 'mono' }, s.cwd) : null), prop('Environment', hiddenNames(s.env))];
  const url = `${location.origin}/ai-gateway/mcp/${s.name}`;
  return section('Server',
    h('dl', { class: 'props' }, prop('Description', s.description), ...props, prop('Timeout', s.timeout || '60s (default)'),
      prop('Created', when(s.created_at)), prop('Updated', when(s.updated_at))),
    h('h3', { class: 'mcp-connect' }, 'Connecting an MCP client'),
    h('p', { class: 'hint' }, 'Callers use their own Unigate token; the service\'s credentials stay in the gateway.'),
    codeBlock(`claude mcp add --transport http ${s.name} ${url} \\\n  --header "Authorization: Bearer $UNIGATE_TOKEN"`, { label: url }));
}

const wide = (el) => { el.classList.add('wide'); return el; };

async function renderDetail(root, ctx, name) {
  const path = `/mcp-services/${seg(name)}`;
  const body = pageFrame(root, `MCP service ${name}`,
    button('Payloads', () => ctx.navigate(PAGE, name, 'payloads')),
    button('Edit', () => ctx.navigate(PAGE, name, 'edit'), { kind: 'primary' }),
    button('Delete', () => deleteService(ctx, name, () => ctx.navigate(PAGE)), { kind: 'danger' }));
  body.append(loading());
  const [service, permissions] = await Promise.all([get(path), get(`${path}/permissions`)]);
  // The tools come from the service itself, through the gateway's MCP surface: asked once here,
  // shown in the tools section and offered when a grant is narrowed to some tools.
  const tools = listTools(name);
  // Each settings section saves the whole spec (PUT): they share the latest stored one.
  const current = { service };
  body.replaceChildren(
    h('p', { class: 'back' }, h('a', { href: `#/${PAGE}` }, '← All MCP services')),
    h('div', { class: 'ep-sections' },
      h('div', { class: 'ep-column' }, serverSection(service), toolsSection(name, tools)),
      h('div', { class: 'ep-column' }, grantsSection(name, permissions, tools),
        payloadLoggingSection(current, () => ctx.navigate(PAGE, name, 'payloads'))),
      wide(rateLimitsSection(current))));
}

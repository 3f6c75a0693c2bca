// Endpoints: the list (#/endpoints), one endpoint (#/endpoints/NAME) with its routing, rate
// limits, grants, payload logging and guardrails, and the editor (#/endpoints/NAME/edit, and
// #/endpoints/_new for administrators: no endpoint name starts with '_'). Administrators see
// every endpoint; managers the ones they manage (the API narrows the list) and may change them,
// but not create or delete one, nor list providers.

import { get, del, seg } from '../api.js';
import { h, pageFrame, table, button, badge, confirmDialog, notify, useStyles, when, loading } from '../ui.js';
import { endpointForm } from './endpoint_form.js';
import { grantsSection } from './endpoint_grants.js';
import { rateLimitsSection, payloadLoggingSection, guardrailsSection } from './endpoint_settings.js';
import { section } from './endpoint_util.js';

const NEW = '_new';

export async function render(root, ctx) {
  useStyles('endpoints');
  const [name, action] = ctx.params;
  if (name === NEW) return renderCreate(root, ctx);
  if (name && action === 'edit') return renderEdit(root, ctx, name);
  if (name) return renderDetail(root, ctx, name);
  return renderList(root, ctx);
}

// --- the list ----------------------------------------------------------------------------------

const destinationText = (d) => `${d.provider}/${d.model}`;

function destinationsCell(e) {
  const several = e.destinations.length > 1;
  return h('div', { class: 'dest-list' }, e.destinations.map((d) =>
    h('div', {}, h('span', { class: 'mono' }, destinationText(d)), several ? h('span', { class: 'muted' }, ` ${d.traffic_percentage}%`) : null)));
}

function fallbacksCell(e) {
  const list = e.fallbacks || [];
  if (!list.length) return h('span', { class: 'muted' }, '—');
  return h('ol', { class: 'fallback-list' }, list.map((f) => h('li', { class: 'mono' }, destinationText(f))));
}

const loggingBadge = (e) => (e.inference_table && e.inference_table.enabled ? badge('on', 'ok') : badge('off', 'grey'));
const count = (list) => (list && list.length ? String(list.length) : h('span', { class: 'muted' }, '0'));

async function renderList(root, ctx) {
  const create = ctx.me.is_admin ? button('New endpoint', () => ctx.navigate('endpoints', NEW), { kind: 'primary' }) : null;
  const body = pageFrame(root, 'Endpoints', create);
  body.append(loading());
  const { endpoints } = await get('/endpoints');
  body.replaceChildren(table([
    { key: 'name', label: 'Name', render: (e) => h('a', { href: `#/endpoints/${encodeURIComponent(e.name)}` }, e.name) },
    { key: 'destinations', label: 'Destinations', render: destinationsCell },
    { key: 'fallbacks', label: 'Fallbacks', render: fallbacksCell },
    { key: 'timeout', label: 'Timeout' },
    { key: 'rate_limits', label: 'Rate limits', class: 'num', render: (e) => count(e.rate_limits) },
    { key: 'guardrails', label: 'Guardrails', class: 'num', render: (e) => count(e.guardrails) },
    { key: 'inference_table', label: 'Payload logging', render: loggingBadge },
  ], endpoints, {
    empty: ctx.me.is_admin ? 'No endpoints yet: create one.' : 'You manage no endpoints.',
    onRow: (e) => ctx.navigate('endpoints', e.name),
  }));
}

// --- create and edit ---------------------------------------------------------------------------

// The providers a destination may name: an admin lists them; a manager (who may not) is offered
// the ones the endpoint already uses and may type another.
async function providerChoices(me, endpoint) {
  if (me.is_admin) {
    const { providers } = await get('/providers');
    return { listable: true, names: providers.map((p) => p.name) };
  }
  const used = [...(endpoint?.destinations || []), ...(endpoint?.fallbacks || [])].map((d) => d.provider);
  return { listable: false, names: [...new Set(used)] };
}

async function renderCreate(root, ctx) {
  const body = pageFrame(root, 'New endpoint');
  if (!ctx.me.is_admin) {
    body.append(h('p', { class: 'empty' }, 'Only administrators create endpoints.'));
    return;
  }
  const providers = await providerChoices(ctx.me, null);
  body.append(endpointForm({
    endpoint: null, providers,
    onSaved: (row) => { notify(`Endpoint ${row.name} created`); ctx.navigate('endpoints', row.name); },
    onCancel: () => ctx.navigate('endpoints'),
  }));
}

async function renderEdit(root, ctx, name) {
  const body = pageFrame(root, `Edit ${name}`);
  const endpoint = await get(`/endpoints/${seg(name)}`);
  const providers = await providerChoices(ctx.me, endpoint);
  body.append(endpointForm({
    endpoint, providers,
    onSaved: () => { notify(`Endpoint ${name} saved`); ctx.navigate('endpoints', name); },
    onCancel: () => ctx.navigate('endpoints', name),
  }));
}

// --- one endpoint ------------------------------------------------------------------------------

// The split as a bar (one coloured segment per destination) over the destinations' table.
function splitBar(destinations) {
  return h('div', { class: 'split-bar', role: 'img', 'aria-label': destinations.map((d) => `${destinationText(d)} ${d.traffic_percentage}%`).join(', ') },
    destinations.map((d, i) => {
      const part = h('span', { class: `seg seg-${(i % 8) + 1}`, title: `${destinationText(d)}: ${d.traffic_percentage}%` });
      part.style.width = `${d.traffic_percentage}%`;
      return part;
    }));
}

function routingSection(e) {
  const dests = table([
    { key: 'provider', label: 'Provider', render: (d) => h('span', {}, h('span', { class: `swatch seg-${(e.destinations.indexOf(d) % 8) + 1}` }), d.provider) },
    { key: 'model', label: 'Model', class: 'mono' },
    { key: 'traffic_percentage', label: 'Traffic', class: 'num', render: (d) => `${d.traffic_percentage}%` },
  ], e.destinations);
  const fallbacks = (e.fallbacks || []).length
    ? h('ol', { class: 'fallback-list' }, e.fallbacks.map((f) => h('li', { class: 'mono' }, destinationText(f))))
    : h('p', { class: 'muted' }, 'None: a failed request is not retried elsewhere.');
  const prop = (label, value) => [h('dt', {}, label), h('dd', {}, value ?? h('span', { class: 'muted' }, '—'))];
  return section('Routing',
    h('h3', {}, 'Destinations and traffic split'), splitBar(e.destinations), dests,
    h('h3', {}, 'Fallbacks, in order'), fallbacks,
    h('h3', {}, 'Timeouts and retries'),
    h('dl', { class: 'props' },
      prop('Timeout', e.timeout), prop('First token timeout', e.first_token_timeout),
      prop('Max attempts', e.max_attempts ?? 'the destination and every fallback'),
      prop('Unsupported parameters', e.unsupported_parameters || 'refuse'),
      prop('Created', when(e.created_at)), prop('Updated', when(e.updated_at))));
}

async function deleteEndpoint(ctx, name) {
  if (!(await confirmDialog(`Delete endpoint ${name}? Its grants go with it; clients calling it get 404.`))) return;
  try {
    await del(`/endpoints/${seg(name)}`);
    notify(`Endpoint ${name} deleted`);
    ctx.navigate('endpoints');
  } catch (err) {
    notify(err.message, 'error');
  }
}

const wide = (el) => { el.classList.add('wide'); return el; };

async function renderDetail(root, ctx, name) {
  const path = `/endpoints/${seg(name)}`;
  const actions = [
    button('Usage', () => ctx.navigate('usage', name)),
    button('Payloads', () => ctx.navigate('payloads', name)),
    button('Edit', () => ctx.navigate('endpoints', name, 'edit'), { kind: 'primary' }),
    ctx.me.is_admin ? button('Delete', () => deleteEndpoint(ctx, name), { kind: 'danger' }) : null,
  ];
  const body = pageFrame(root, `Endpoint ${name}`, ...actions);
  body.append(loading());
  const [endpoint, limits, logging, guardrails, permissions] = await Promise.all([
    get(path), get(`${path}/rate-limits`), get(`${path}/inference-table`), get(`${path}/guardrails`), get(`${path}/permissions`)]);
  body.replaceChildren(
    h('p', { class: 'back' }, h('a', { href: '#/endpoints' }, '← All endpoints')),
    h('div', { class: 'ep-sections' },
      routingSection(endpoint),
      h('div', { class: 'ep-column' }, grantsSection(name, permissions), payloadLoggingSection(name, logging, ctx.navigate)),
      wide(rateLimitsSection(name, limits.rate_limits)),
      wide(guardrailsSection(name, guardrails))));
}

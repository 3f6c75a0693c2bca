// Prices (#/prices; administrators and endpoint managers): the effective price catalogue that
// usage rows and budgets are priced by, from GET /api/v1/prices: the list prices shipped with
// unigate and the operator's own entries, each with its origin. Prices are USD per million
// tokens. Administrators edit the operator's entries here (PUT /api/v1/prices replaces the whole
// list); managers read.

import { get, put } from '../api.js';
import { h, clear, pageFrame, table, field, input, select, button, badge, notify, useStyles, loading } from '../ui.js';
import { saving, section } from './endpoint_util.js';

const PRICE_KEYS = [['input', 'Input'], ['cached_input', 'Cached input'], ['cache_write', 'Cache write'], ['output', 'Output']];
const OPTIONAL = new Set(['cached_input', 'cache_write']); // absent: the input price

export async function render(root, ctx) {
  useStyles('endpoints'); // the shared editor look (edit tables, form actions)
  useStyles('budgets');
  const canEdit = ctx.me.is_admin;
  const body = pageFrame(root, 'Prices');
  body.append(loading());
  const [catalogue, types, providers] = await Promise.all([
    get('/prices'), providerTypes(), canEdit ? get('/providers').then((r) => r.providers.map((p) => p.name)) : [],
  ]);
  const note = h('p', { class: 'prices-note muted' });
  const catalogueEl = h('div');
  const editor = canEdit ? operatorEditor(catalogue.prices, types, providers, (saved) => show(saved)) : null;
  const show = (data) => {
    clear(note, `Shipped list prices as of ${data.as_of}. ${data.source}`);
    clear(catalogueEl, catalogueSection(data.prices, canEdit ? (row) => editor.override(row) : null));
  };
  body.replaceChildren(note,
    canEdit ? editor.el : h('p', { class: 'note' }, 'Only administrators change prices; this is the catalogue in effect.'),
    catalogueEl);
  show(catalogue);
}

// The provider types a price may name, from the API's own description (openapi.json).
async function providerTypes() {
  const doc = await get('/openapi.json');
  return doc.components.schemas.PriceSpec.properties.type.enum;
}

const perMillion = (value) => (value === null || value === undefined ? null : `$${Number(value.toPrecision(6))}`);

function priceCell(row, key) {
  const value = row[key];
  if (value === null || value === undefined) {
    // cached input and cache writes default to the input price
    return OPTIONAL.has(key) ? h('span', { class: 'muted', title: 'the input price' }, perMillion(row.input)) : '—';
  }
  return perMillion(value);
}

const appliesTo = (row) => (row.provider
  ? h('span', {}, badge('provider'), ' ', h('span', { class: 'mono' }, row.provider))
  : h('span', {}, badge('type', 'grey'), ' ', h('span', { class: 'mono' }, row.type)));

function originCell(row) {
  if (row.origin === 'operator') return badge('operator', 'ok');
  if (row.overridden) return h('span', { title: "an operator's price for this type and model replaces it" }, badge('shipped, overridden', 'warn'));
  return badge('shipped', 'grey');
}

// --- the catalogue -----------------------------------------------------------------------------

// 'openai mini' matches rows whose provider or type and model hold every word.
function matches(row, words) {
  const text = `${row.provider || ''} ${row.type || ''} ${row.model}`.toLowerCase();
  return words.every((w) => text.includes(w));
}

function catalogueSection(prices, onOverride) {
  const search = input({ type: 'search', name: 'search', placeholder: 'provider, type or model', 'aria-label': 'Search prices' });
  const origin = select([['', 'Every origin'], ['operator', 'Operator'], ['shipped', 'Shipped']], '', { name: 'origin' });
  const count = h('p', { class: 'prices-count muted', 'aria-live': 'polite' });
  const results = h('div');
  const columns = [
    { key: 'applies', label: 'Applies to', render: appliesTo },
    { key: 'model', label: 'Model', class: 'mono' },
    ...PRICE_KEYS.map(([key, label]) => ({ key, label: `${label} / 1M`, class: 'num', render: (r) => priceCell(r, key) })),
    { key: 'origin', label: 'Origin', render: originCell },
  ];
  if (onOverride) {
    columns.push({ key: 'actions', label: '', class: 'row-actions', render: (r) => (r.origin === 'shipped'
      ? button('Override', () => onOverride(r), { kind: 'small', 'aria-label': `Override ${r.type}/${r.model}` }) : null) });
  }
  const redraw = () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const rows = prices.filter((r) => (!origin.value || r.origin === origin.value) && matches(r, words));
    clear(count, `${rows.length} of ${prices.length} prices`);
    const grid = table(columns, rows, { empty: 'No price matches.', caption: 'Price catalogue' });
    for (const [i, tr] of [...grid.querySelectorAll('tbody tr')].entries()) if (rows[i].overridden) tr.classList.add('overridden');
    clear(results, grid);
  };
  search.addEventListener('input', redraw);
  origin.addEventListener('change', redraw);
  redraw();
  return section('Catalogue in effect',
    h('p', { class: 'hint' }, "A request is priced by the operator's price for its provider, else the operator's for the provider's type, else the shipped one; "
      + 'a model is tried as written, then without a date or version suffix. A model without a price is not counted in costs or budgets.'),
    h('div', { class: 'filters prices-filters' }, field('Search', search), field('Origin', origin)), count, results);
}

// --- the operator's entries --------------------------------------------------------------------

// A row of the editor from an entry of the catalogue (null prices: not given).
function editable(entry) {
  const row = { owner: entry.provider ? 'provider' : 'type', name: entry.provider || entry.type || '', model: entry.model || '' };
  for (const [key] of PRICE_KEYS) row[key] = entry[key] ?? '';
  return row;
}

// The entry PUT /prices takes: one of provider or type, the model and the prices given.
function specOf(row) {
  const spec = { [row.owner]: row.name, model: row.model.trim() };
  for (const [key] of PRICE_KEYS) {
    const text = String(row[key]).trim();
    if (text !== '') spec[key] = Number(text);
    else if (!OPTIONAL.has(key)) spec[key] = null; // the API says what is missing
  }
  return spec;
}

function priceRow(row, i, choices, onRemove) {
  const n = i + 1;
  const owner = select([['provider', 'provider'], ['type', 'type']], row.owner, { 'aria-label': `Price ${n} applies to` });
  const name = select([], '', { 'aria-label': `Price ${n} provider or type` });
  const fillNames = () => {
    const options = [...choices[owner.value]];
    if (row.name && !options.includes(row.name)) options.unshift(row.name); // e.g. a provider deleted since
    clear(name, options.map((o) => h('option', { value: o, selected: o === row.name }, o)));
    name.dataset.field = `prices[${i}].${owner.value}`;
    row.name = name.value;
  };
  owner.addEventListener('change', () => { row.owner = owner.value; row.name = ''; fillNames(); });
  name.addEventListener('change', () => { row.name = name.value; });
  fillNames();
  const model = input({ value: row.model, 'aria-label': `Price ${n} model`, placeholder: 'e.g. gpt-4o', dataset: { field: `prices[${i}].model` } });
  model.addEventListener('input', () => { row.model = model.value; });
  const prices = PRICE_KEYS.map(([key, label]) => {
    const el = input({ type: 'number', min: 0, step: 'any', value: row[key], 'aria-label': `Price ${n} ${label.toLowerCase()}`,
      placeholder: OPTIONAL.has(key) ? '= input' : '', dataset: { field: `prices[${i}].${key}` } });
    el.addEventListener('input', () => { row[key] = el.value; });
    return h('td', {}, el);
  });
  return h('tr', { dataset: { field: `prices[${i}]` }, tabindex: -1 }, h('td', {}, owner), h('td', { class: 'owner-name' }, name), h('td', { class: 'model' }, model), prices,
    h('td', { class: 'row-actions' }, button('Remove', onRemove, { kind: 'small', 'aria-label': `Remove price ${n}` })));
}

function operatorEditor(prices, types, providers, onSaved) {
  const choices = { provider: providers, type: types };
  const rows = prices.filter((p) => p.origin === 'operator').map(editable);
  const body = h('tbody');
  const empty = h('p', { class: 'muted' }, 'No prices of your own: every request is priced by the shipped list prices.');
  const grid = h('table', { class: 'grid edit' }, h('thead', {}, h('tr', {}, h('th', {}, 'Applies to'), h('th', {}, 'Provider or type'),
    h('th', {}, 'Model'), PRICE_KEYS.map(([, label]) => h('th', {}, `${label} / 1M`)), h('th', {}))), body);
  const redraw = () => {
    empty.hidden = rows.length > 0;
    grid.hidden = !rows.length;
    clear(body, rows.map((r, i) => priceRow(r, i, choices, () => { rows.splice(i, 1); redraw(); })));
  };
  const add = (row) => {
    rows.push(row);
    redraw();
    body.lastElementChild.querySelector(row.model ? 'input[type=number]' : 'input').focus();
  };
  const status = h('div', { class: 'form-status' });
  const submit = button('Save prices', null, { kind: 'primary', type: 'submit' });
  const addBtn = button('Add price', () => add({ owner: 'provider', name: providers[0] || '', model: '', input: '', output: '', cached_input: '', cache_write: '' }), { kind: 'small' });
  const form = h('form', { 'aria-label': "Operator's prices", novalidate: true, dataset: { field: 'prices' } },
    h('div', { class: 'table-wrap' }, grid), empty, status,
    h('div', { class: 'form-actions' }, addBtn, h('span', { class: 'hint' }, 'USD per million tokens; cached input and cache write default to the input price.'), submit));
  redraw();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const saved = await saving(form, status, submit, () => put('/prices', { prices: rows.map(specOf) }));
    if (!saved) return;
    notify(saved.changed ? `Prices saved (${saved.changed} ${saved.changed === 1 ? 'change' : 'changes'})` : 'Prices unchanged');
    rows.splice(0, rows.length, ...saved.prices.filter((p) => p.origin === 'operator').map(editable));
    redraw();
    onSaved(saved);
  });
  const el = section("Operator's prices", h('p', { class: 'hint' },
    'Your own prices replace the shipped ones: for one provider (a negotiated price, an Azure deployment) or every provider of a type. '
    + 'Saving replaces the whole list; every worker uses it within about a second, for rows written from then on.'), form);
  el.classList.add('prices-editor');
  // A shipped price copied into a new row, for the operator to change.
  const override = (shipped) => add({ ...editable(shipped), owner: 'type', name: shipped.type });
  return { el, override };
}

// The endpoint editor: name, destinations with their traffic split, ordered fallbacks, timeouts.
// Creating POSTs the spec; editing PATCHes these fields only (a JSON merge patch, so rate limits,
// guardrails, payload logging and agent settings, edited elsewhere, stay as they are).

import { post, patch, seg } from '../api.js';
import { h, clear, field, input, select, button } from '../ui.js';
import { saving, numberOrEmpty } from './endpoint_util.js';

const POLICIES = [['refuse', 'refuse (answer 400)'], ['drop', 'drop (and name it in a header)']];

// A provider control: a select of the providers an admin may list, or, for a manager (who may
// not list providers), a text input suggesting the ones this endpoint already uses.
function providerControl(choices, value, label, listId) {
  if (choices.listable) {
    const known = !value || choices.names.includes(value);
    const names = known ? choices.names : [value, ...choices.names]; // a provider deleted since: still shown
    return select([['', 'Choose…'], ...names.map((n) => [n, n])], value, { 'aria-label': label, required: true });
  }
  return input({ value, 'aria-label': label, list: listId, required: true, placeholder: 'provider name' });
}

function rowButton(text, label, onclick, disabled = false) {
  return button(text, onclick, { kind: 'small', 'aria-label': label, title: label, disabled });
}

// Destinations: rows of provider, model, traffic %, and the split's total beside them.
function destinationsEditor(rows, choices, listId) {
  const body = h('tbody');
  const total = h('p', { class: 'split-total', 'aria-live': 'polite' });
  const showTotal = () => {
    const sum = rows.reduce((acc, r) => acc + (Number(r.traffic_percentage) || 0), 0);
    total.textContent = `Split total: ${sum}%`;
    total.classList.toggle('bad', sum !== 100);
  };
  const redraw = () => {
    clear(body, rows.map((row, i) => {
      const n = i + 1;
      const provider = providerControl(choices, row.provider, `Destination ${n} provider`, listId);
      provider.dataset.field = `destinations[${i}].provider`;
      provider.addEventListener('input', () => { row.provider = provider.value; });
      const model = input({ value: row.model, 'aria-label': `Destination ${n} model`, required: true,
        placeholder: 'model', dataset: { field: `destinations[${i}].model` } });
      model.addEventListener('input', () => { row.model = model.value; });
      const pct = input({ type: 'number', min: 0, max: 100, step: 1, value: row.traffic_percentage,
        'aria-label': `Destination ${n} traffic %`, class: 'pct', dataset: { field: `destinations[${i}].traffic_percentage` } });
      pct.addEventListener('input', () => { row.traffic_percentage = pct.value; showTotal(); });
      const remove = rowButton('Remove', `Remove destination ${n}`, () => { rows.splice(i, 1); redraw(); }, rows.length === 1);
      return h('tr', {}, h('td', {}, provider), h('td', {}, model), h('td', {}, pct, ' %'), h('td', { class: 'row-actions' }, remove));
    }));
    showTotal();
  };
  const add = button('Add destination', () => {
    const used = rows.reduce((acc, r) => acc + (Number(r.traffic_percentage) || 0), 0);
    rows.push({ provider: '', model: '', traffic_percentage: Math.max(0, 100 - used) });
    redraw();
  }, { kind: 'small' });
  redraw();
  return h('fieldset', { class: 'rows', tabindex: -1, dataset: { field: 'destinations' } },
    h('legend', {}, 'Destinations'),
    h('p', { class: 'hint' }, 'Requests are split between the destinations by traffic percentage; with several, the percentages must add up to 100.'),
    h('table', { class: 'grid edit' }, h('thead', {}, h('tr', {}, h('th', {}, 'Provider'), h('th', {}, 'Model'), h('th', {}, 'Traffic'), h('th', {}))), body),
    h('div', { class: 'rows-foot' }, add, total));
}

// Fallbacks: tried in this order when the destination fails; moved up and down.
function fallbacksEditor(rows, choices, listId) {
  const body = h('tbody');
  const empty = h('p', { class: 'muted' }, 'No fallbacks: a failed request is not retried elsewhere.');
  const move = (i, by) => { const [row] = rows.splice(i, 1); rows.splice(i + by, 0, row); redraw(); };
  function redraw() {
    empty.hidden = rows.length > 0;
    clear(body, rows.map((row, i) => {
      const n = i + 1;
      const provider = providerControl(choices, row.provider, `Fallback ${n} provider`, listId);
      provider.dataset.field = `fallbacks[${i}].provider`;
      provider.addEventListener('input', () => { row.provider = provider.value; });
      const model = input({ value: row.model, 'aria-label': `Fallback ${n} model`, required: true,
        placeholder: 'model', dataset: { field: `fallbacks[${i}].model` } });
      model.addEventListener('input', () => { row.model = model.value; });
      return h('tr', {}, h('td', { class: 'order' }, String(n)), h('td', {}, provider), h('td', {}, model),
        h('td', { class: 'row-actions' },
          rowButton('↑', `Move fallback ${n} up`, () => move(i, -1), i === 0),
          rowButton('↓', `Move fallback ${n} down`, () => move(i, 1), i === rows.length - 1),
          rowButton('Remove', `Remove fallback ${n}`, () => { rows.splice(i, 1); redraw(); })));
    }));
  }
  const add = button('Add fallback', () => { rows.push({ provider: '', model: '' }); redraw(); }, { kind: 'small' });
  redraw();
  return h('fieldset', { class: 'rows', tabindex: -1, dataset: { field: 'fallbacks' } },
    h('legend', {}, 'Fallbacks, in order'),
    h('table', { class: 'grid edit' }, h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'Provider'), h('th', {}, 'Model'), h('th', {}))), body),
    empty, h('div', { class: 'rows-foot' }, add));
}

function timeoutsEditor(endpoint) {
  const timeout = input({ name: 'timeout', value: endpoint.timeout || '', placeholder: 'e.g. 30s', dataset: { field: 'timeout' } });
  const firstToken = input({ name: 'first_token_timeout', value: endpoint.first_token_timeout || '', placeholder: 'e.g. 10s',
    dataset: { field: 'first_token_timeout' } });
  const attempts = input({ type: 'number', name: 'max_attempts', min: 1, step: 1, value: endpoint.max_attempts ?? '',
    placeholder: 'all', dataset: { field: 'max_attempts' } });
  const policy = select(POLICIES, endpoint.unsupported_parameters || 'refuse', { name: 'unsupported_parameters',
    dataset: { field: 'unsupported_parameters' } });
  const el = h('fieldset', {}, h('legend', {}, 'Timeouts and retries'),
    h('div', { class: 'row' },
      field('Timeout', timeout, 'a whole request: 500ms, 30s, 2m; empty: none'),
      field('First token timeout', firstToken, 'streams: until the first token'),
      field('Max attempts', attempts, 'destinations tried at most; empty: the destination and every fallback'),
      field('Unsupported parameters', policy, 'a parameter the provider cannot honour')));
  const values = () => ({ timeout: timeout.value.trim(), first_token_timeout: firstToken.value.trim(),
    max_attempts: numberOrEmpty(attempts.value), unsupported_parameters: policy.value });
  return { el, values };
}

// The body sent. Empty optional fields are left out of a create, and sent as null in an edit
// (the merge patch removes them: clearing the timeout takes it away).
function requestBody(name, dests, fallbacks, timeouts, creating) {
  const body = creating ? { name } : {};
  body.destinations = dests.map((d) => {
    const dest = { provider: d.provider.trim(), model: d.model.trim() };
    const pct = numberOrEmpty(d.traffic_percentage);
    if (pct !== '') dest.traffic_percentage = pct;
    return dest;
  });
  const optional = { fallbacks: fallbacks.map((f) => ({ provider: f.provider.trim(), model: f.model.trim() })), ...timeouts };
  for (const [key, value] of Object.entries(optional)) {
    const empty = value === '' || (Array.isArray(value) && !value.length);
    if (!empty) body[key] = value;
    else if (!creating) body[key] = null;
  }
  return body;
}

// endpointForm({endpoint (null: a new one), providers: {listable, names}, onSaved(row), onCancel})
export function endpointForm({ endpoint, providers, onSaved, onCancel }) {
  const creating = !endpoint;
  const spec = endpoint || { destinations: [{ provider: '', model: '', traffic_percentage: 100 }] };
  const dests = spec.destinations.map((d) => ({ provider: d.provider, model: d.model, traffic_percentage: d.traffic_percentage ?? 100 }));
  const fallbacks = (spec.fallbacks || []).map((f) => ({ provider: f.provider, model: f.model }));
  const listId = 'endpoint-provider-names';
  const datalist = providers.listable ? null : h('datalist', { id: listId }, providers.names.map((n) => h('option', { value: n })));
  const name = input({ name: 'name', required: true, value: spec.name || '', disabled: !creating, autocomplete: 'off',
    placeholder: 'e.g. team-a/chat', dataset: { field: 'name' } });
  const timeouts = timeoutsEditor(spec);
  const status = h('div', { class: 'form-status' });
  const submit = button(creating ? 'Create endpoint' : 'Save changes', null, { kind: 'primary', type: 'submit' });
  const form = h('form', { class: 'card endpoint-form', 'aria-label': creating ? 'New endpoint' : `Edit ${spec.name}`, novalidate: true },
    field('Name', name, creating ? 'letters, digits and . _ : / - ; it cannot be renamed later' : 'endpoints cannot be renamed'),
    datalist,
    destinationsEditor(dests, providers, listId),
    fallbacksEditor(fallbacks, providers, listId),
    timeouts.el,
    status,
    h('div', { class: 'form-actions' }, button('Cancel', onCancel), submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = requestBody(name.value.trim(), dests, fallbacks, timeouts.values(), creating);
    const row = await saving(form, status, submit, () => (creating
      ? post('/endpoints', body)
      : patch(`/endpoints/${seg(spec.name)}`, body)));
    if (row) onSaved(row);
  });
  return form;
}

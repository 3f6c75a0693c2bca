// Providers (#/providers, administrators only): the upstream services endpoints route to.
// A provider's api_key and its extra headers' values are write-only: reads say only whether a
// key is set and name the headers, so this page never shows a key nor puts one back in a field.
// Editing without typing a key keeps the stored one; "Clear the stored key" sends ''.

import { get, post, put, del, seg } from '../api.js';
import { h, clear, pageFrame, table, field, input, select, checkbox, button, badge, dialog, confirmDialog, notify,
  errorBox, useStyles, when, loading } from '../ui.js';
import { saving } from './endpoint_util.js';

const HIDDEN = '(hidden)'; // how reads show a header's value; a write sending it back keeps the value

// The provider types the API accepts, from its own description (openapi.json).
async function providerTypes() {
  const doc = await get('/openapi.json');
  return doc.components.schemas.ProviderSpec.properties.type.enum;
}

// Extra headers as rows of name and value. A stored header's value is never known here: left
// empty it is sent back as HIDDEN, which keeps it.
function headersEditor(stored) {
  const rows = Object.keys(stored || {}).map((name) => ({ name, value: '', stored: true }));
  const body = h('tbody');
  const redraw = () => {
    clear(body, rows.map((row, i) => {
      const n = i + 1;
      const name = input({ value: row.name, 'aria-label': `Header ${n} name`, placeholder: 'e.g. OpenAI-Organization',
        dataset: { field: `headers.${row.name}` } });
      name.addEventListener('input', () => { row.name = name.value; row.stored = false; });
      const value = input({ type: 'password', 'aria-label': `Header ${n} value`, autocomplete: 'off',
        placeholder: row.stored ? 'unchanged (write-only)' : 'value' });
      value.addEventListener('input', () => { row.value = value.value; });
      return h('tr', {}, h('td', {}, name), h('td', {}, value),
        h('td', { class: 'row-actions' }, button('Remove', () => { rows.splice(i, 1); redraw(); }, { kind: 'small', 'aria-label': `Remove header ${n}` })));
    }));
    body.parentElement.hidden = !rows.length;
  };
  const el = h('fieldset', { dataset: { field: 'headers' }, tabindex: -1 }, h('legend', {}, 'Extra headers'),
    h('p', { class: 'hint' }, 'Sent with every request to the provider. Their values are write-only, like the key.'),
    h('table', { class: 'grid edit' }, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Value'), h('th', {}))), body),
    button('Add header', () => { rows.push({ name: '', value: '', stored: false }); redraw(); }, { kind: 'small' }));
  redraw();
  const values = () => Object.fromEntries(rows.filter((r) => r.name.trim())
    .map((r) => [r.name.trim(), r.stored && !r.value ? HIDDEN : r.value]));
  return { el, values };
}

function providerForm(types, provider, onSaved) {
  const creating = !provider;
  const spec = provider || { type: types[0] };
  const name = input({ name: 'name', value: spec.name || '', required: true, disabled: !creating, autocomplete: 'off', dataset: { field: 'name' } });
  const type = select(types, spec.type, { name: 'type', dataset: { field: 'type' } });
  const baseUrl = input({ name: 'base_url', value: spec.base_url || '', placeholder: "empty: the type's default URL", dataset: { field: 'base_url' } });
  const key = input({ type: 'password', name: 'api_key', autocomplete: 'new-password', dataset: { field: 'api_key' },
    placeholder: creating ? '' : (spec.api_key_set ? 'empty: keep the stored key' : 'no key stored') });
  const clearKey = checkbox('Clear the stored key', false);
  clearKey.box.addEventListener('change', () => { key.disabled = clearKey.box.checked; if (key.disabled) key.value = ''; });
  const version = input({ name: 'api_version', value: spec.api_version || '', placeholder: "empty: the type's default", dataset: { field: 'api_version' } });
  const responses = select([['', "the type's default"], ['true', 'yes'], ['false', 'no']],
    spec.supports_responses === undefined ? '' : String(spec.supports_responses), { dataset: { field: 'supports_responses' } });
  const headers = headersEditor(spec.headers);
  const status = h('div', { class: 'form-status' });
  const submit = button(creating ? 'Create provider' : 'Save provider', null, { kind: 'primary', type: 'submit' });
  const keyHint = creating ? 'write-only: never shown again' : `write-only; ${spec.api_key_set ? 'a key is stored' : 'no key is stored'}. Type a new one to replace it.`;
  const form = h('form', { class: 'provider-form', 'aria-label': creating ? 'New provider' : `Edit ${spec.name}`, novalidate: true },
    h('div', { class: 'row' }, field('Name', name), field('Type', type)),
    field('Base URL', baseUrl),
    h('div', { class: 'row' }, field('API key', key, keyHint), field('API version', version, 'Azure OpenAI: the api-version parameter')),
    !creating && spec.api_key_set ? clearKey.el : null,
    field('Supports the Responses API', responses),
    headers.el, status, h('div', { class: 'form-actions' }, submit));

  const requestBody = () => {
    const body = { name: name.value.trim(), type: type.value };
    if (baseUrl.value.trim()) body.base_url = baseUrl.value.trim();
    if (version.value.trim()) body.api_version = version.value.trim();
    if (responses.value) body.supports_responses = responses.value === 'true';
    if (clearKey.box.checked) body.api_key = '';
    else if (key.value) body.api_key = key.value;
    const hdrs = headers.values();
    if (Object.keys(hdrs).length) body.headers = hdrs;
    return body;
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const saved = await saving(form, status, submit, () => (creating
      ? post('/providers', requestBody())
      : put(`/providers/${seg(spec.name)}`, requestBody())));
    key.value = ''; // a key typed is not kept in the page once sent
    if (saved) onSaved(saved);
  });
  return form;
}

function openForm(types, provider, onSaved) {
  let dlg = null;
  const form = providerForm(types, provider, (saved) => { dlg.close(); onSaved(saved); });
  dlg = dialog(provider ? `Provider ${provider.name}` : 'New provider', form);
  form.querySelector('input:not([disabled])').focus();
}

export async function render(root, ctx) {
  useStyles('endpoints');
  if (!ctx.me.is_admin) {
    pageFrame(root, 'Providers').append(h('p', { class: 'empty' }, 'Only administrators see providers.'));
    return;
  }
  const status = h('div', { class: 'page-status' });
  const listEl = h('div', {}, loading());
  let types = [];
  const refresh = async () => {
    const { providers } = await get('/providers');
    clear(listEl, providerTable(providers));
  };
  const saved = (verb) => (p) => { notify(`Provider ${p.name} ${verb}`); clear(status); refresh(); };
  const remove = async (p) => {
    if (!(await confirmDialog(`Delete provider ${p.name}?`))) return;
    try {
      await del(`/providers/${seg(p.name)}`);
      clear(status);
      notify(`Provider ${p.name} deleted`);
      await refresh();
    } catch (err) {
      clear(status, errorBox(err)); // a 409 names the endpoints that still use it
    }
  };
  const providerTable = (providers) => table([
    { key: 'name', label: 'Name', class: 'mono' },
    { key: 'type', label: 'Type' },
    { key: 'base_url', label: 'Base URL', class: 'mono' },
    { key: 'api_key_set', label: 'Key', render: (p) => (p.api_key_set ? badge('key set', 'ok') : badge('no key', 'warn')) },
    { key: 'headers', label: 'Extra headers', render: (p) => Object.keys(p.headers || {}).join(', ') || h('span', { class: 'muted' }, '—') },
    { key: 'created_at', label: 'Created', render: (p) => when(p.created_at) },
    { key: 'actions', label: '', class: 'row-actions', render: (p) => h('span', {},
      button('Edit', () => openForm(types, p, saved('saved')), { kind: 'small', 'aria-label': `Edit ${p.name}` }), ' ',
      button('Delete', () => remove(p), { kind: 'small danger', 'aria-label': `Delete ${p.name}` })) },
  ], providers, { empty: 'No providers yet: create one.', onRow: (p) => openForm(types, p, saved('saved')) });

  const create = button('New provider', () => openForm(types, null, saved('created')), { kind: 'primary', disabled: true });
  const body = pageFrame(root, 'Providers', create);
  body.append(status, listEl);
  types = await providerTypes(); // before the rows, which open the form with them
  await refresh();
  create.disabled = false;
}

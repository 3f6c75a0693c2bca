// Who may use a service (CAN_USE, its only level): the grants of /mcp-services/{name}/permissions,
// each to a user, service principal or group, for every tool or narrowed to some. PATCH adds a
// member or changes its tools; removing one PUTs the list without it.

import { get, put, patch, seg } from '../api.js';
import { h, clear, field, input, select, checkbox, button, badge, confirmDialog, notify } from '../ui.js';
import { section, saving } from './endpoint_util.js';

const KINDS = [['user_name', 'User'], ['service_principal_name', 'Service principal'], ['group_name', 'Group']];
const KIND_LABEL = Object.fromEntries(KINDS);
const memberKey = (entry) => KINDS.map(([k]) => k).find((k) => entry[k] !== undefined);
const memberName = (entry) => entry[memberKey(entry)];
// An entry as a write sends it: the member, the level and its tools (absent: every tool).
const grant = (entry) => {
  const out = { [memberKey(entry)]: memberName(entry), permission_level: 'CAN_USE' };
  if (entry.tools) out.tools = entry.tools;
  return out;
};

async function memberSuggestions() {
  const [users, sps, groups] = await Promise.all([get('/users'), get('/service-principals'), get('/groups')]);
  return {
    user_name: users.users.map((u) => [u.email, u.display_name || '']),
    service_principal_name: sps.service_principals.map((s) => [s.application_id, s.display_name || '']),
    group_name: groups.groups.map((g) => [g.name, '']),
  };
}

// The tools a new grant covers: "every tool", or some ticked from the server's list; when the
// list is not available, tool names typed in.
function toolPicker(toolsPromise) {
  const every = checkbox('Every tool, present and future', true);
  const choices = h('div', { class: 'tool-choices' });
  const typed = input({ 'aria-label': 'Tool names', placeholder: 'names, comma-separated', autocomplete: 'off',
    dataset: { field: 'access_control_list[0].tools' } });
  let boxes = null; // the tools' checkboxes once the list came; null: names are typed
  const sync = () => {
    for (const b of boxes || []) b.box.disabled = every.box.checked;
    typed.disabled = every.box.checked;
  };
  every.box.addEventListener('change', sync);
  clear(choices, h('span', { class: 'muted' }, 'Loading the tools…'));
  toolsPromise.then((tools) => {
    boxes = tools.map((t) => ({ name: t.name, ...checkbox(t.name, false) }));
    clear(choices, boxes.length ? boxes.map((b) => b.el) : typed);
    sync();
  }).catch(() => { clear(choices, typed); sync(); });
  sync();
  const el = h('fieldset', { class: 'tool-picker', dataset: { field: 'access_control_list[0].tools' }, tabindex: -1 },
    h('legend', {}, 'Tools'), every.el, choices);
  const value = () => {
    if (every.box.checked) return undefined;
    return boxes && boxes.length ? boxes.filter((b) => b.box.checked).map((b) => b.name)
      : typed.value.split(',').map((t) => t.trim()).filter(Boolean);
  };
  const reset = () => { every.box.checked = true; for (const b of boxes || []) b.box.checked = false; typed.value = ''; sync(); };
  return { el, value, reset };
}

export function grantsSection(name, permissions, toolsPromise) {
  let acl = permissions.access_control_list;
  const path = `/mcp-services/${seg(name)}/permissions`;
  const listEl = h('div');
  const status = h('div', { class: 'form-status' });

  const apply = async (action, message) => {
    const saved = await saving(form, status, addBtn, action);
    if (saved) { acl = saved.access_control_list; notify(message); redraw(); }
    return saved;
  };
  const remove = async (entry) => {
    const who = memberName(entry);
    if (!(await confirmDialog(`Remove ${who}'s CAN_USE grant on ${name}?`, { ok: 'Remove' }))) return;
    await apply(() => put(path, { access_control_list: acl.filter((e) => e !== entry).map(grant) }), `${who} may no longer use ${name}`);
  };

  function redraw() {
    if (!acl.length) { clear(listEl, h('p', { class: 'muted' }, 'No grants: only administrators can use this service.')); return; }
    clear(listEl, h('table', { class: 'grid', 'aria-label': 'Grants' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Member'), h('th', {}, 'Kind'), h('th', {}, 'Tools'), h('th', {}))),
      h('tbody', {}, acl.map((entry) => {
        const who = memberName(entry);
        const tools = entry.tools ? h('span', {}, entry.tools.map((t) => h('code', { class: 'tool-name' }, t)))
          : h('span', { class: 'muted' }, 'every tool');
        return h('tr', {}, h('td', { class: 'mono' }, who), h('td', {}, badge(KIND_LABEL[memberKey(entry)], 'grey')), h('td', {}, tools),
          h('td', { class: 'row-actions' }, button('Remove', () => remove(entry), { kind: 'small danger', 'aria-label': `Remove ${who}` })));
      }))));
  }

  const kind = select(KINDS, 'user_name', { dataset: { field: 'access_control_list[0]' } });
  const who = input({ list: 'mcp-grant-member-names', placeholder: 'email, app id or group', autocomplete: 'off',
    dataset: { field: 'access_control_list[0]' } });
  const names = h('datalist', { id: 'mcp-grant-member-names' });
  let suggestions = null;
  const suggest = () => { if (suggestions) clear(names, suggestions[kind.value].map(([value, label]) => h('option', { value }, label))); };
  kind.addEventListener('change', suggest);
  memberSuggestions().then((s) => { suggestions = s; suggest(); }).catch(() => { /* suggestions only */ });
  const tools = toolPicker(toolsPromise);
  const addBtn = button('Grant CAN_USE', null, { kind: 'primary', type: 'submit' });
  const form = h('form', { 'aria-label': 'Add a grant', class: 'grant-add', novalidate: true },
    h('div', { class: 'mcp-grant-fields' }, field('Kind', kind), field('Member', who)), tools.el, names, status,
    h('div', { class: 'form-actions' },
      h('p', { class: 'hint' }, 'A member already granted gets these tools instead. Narrowed grants hide the other tools from tools/list.'),
      addBtn));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const entry = { [kind.value]: who.value.trim(), permission_level: 'CAN_USE' };
    const picked = tools.value();
    if (picked !== undefined) entry.tools = picked;
    const scope = picked ? `tool${picked.length === 1 ? '' : 's'} ${picked.join(', ')}` : 'every tool';
    const saved = await apply(() => patch(path, { access_control_list: [entry] }), `${entry[kind.value]} may use ${scope} of ${name}`);
    if (saved) { who.value = ''; tools.reset(); }
  });
  redraw();
  return section('Permissions', h('p', { class: 'hint' }, 'Administrators may use every service; anyone else needs CAN_USE.'), listEl, form);
}

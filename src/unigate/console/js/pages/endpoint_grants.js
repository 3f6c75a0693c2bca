// Who may query (CAN_QUERY) or manage (CAN_MANAGE) an endpoint: the grants of
// /endpoints/{name}/permissions. PATCH adds or changes one member's level; removing one PUTs the
// list without it.

import { get, put, patch, seg } from '../api.js';
import { h, clear, field, input, select, button, badge, confirmDialog, notify } from '../ui.js';
import { section, saving } from './endpoint_util.js';

const LEVELS = ['CAN_QUERY', 'CAN_MANAGE'];
const KINDS = [['user_name', 'User'], ['service_principal_name', 'Service principal'], ['group_name', 'Group']];
const KIND_LABEL = Object.fromEntries(KINDS);
const memberKey = (entry) => KINDS.map(([k]) => k).find((k) => entry[k] !== undefined);
const member = (entry) => { const k = memberKey(entry); return { [k]: entry[k] }; };
const grant = (entry) => ({ ...member(entry), permission_level: entry.permission_level });

// Names to suggest while typing a member: users, service principals and groups (listable by
// admins and managers alike).
async function memberSuggestions() {
  const [users, sps, groups] = await Promise.all([get('/users'), get('/service-principals'), get('/groups')]);
  return {
    user_name: users.users.map((u) => [u.email, u.display_name || '']),
    service_principal_name: sps.service_principals.map((s) => [s.application_id, s.display_name || '']),
    group_name: groups.groups.map((g) => [g.name, '']),
  };
}

export function grantsSection(name, permissions) {
  let acl = permissions.access_control_list;
  const path = `/endpoints/${seg(name)}/permissions`;
  const listEl = h('div');
  const status = h('div', { class: 'form-status' });

  const apply = async (action, message) => {
    const saved = await saving(form, status, addBtn, action);
    if (saved) { acl = saved.access_control_list; notify(message); }
    redraw(); // on a refusal too: a level select goes back to the stored level
  };
  const changeLevel = (entry, level) => apply(() => patch(path, { access_control_list: [{ ...member(entry), permission_level: level }] }),
    `${entry[memberKey(entry)]} now has ${level}`);
  const remove = async (entry) => {
    const who = entry[memberKey(entry)];
    if (!(await confirmDialog(`Remove ${who}'s ${entry.permission_level} grant on ${name}?`, { ok: 'Remove' }))) return;
    await apply(() => put(path, { access_control_list: acl.filter((e) => e !== entry).map(grant) }), `${who} no longer has a grant on ${name}`);
  };

  function redraw() {
    if (!acl.length) { clear(listEl, h('p', { class: 'muted' }, 'No grants: only administrators can use this endpoint.')); return; }
    clear(listEl, h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Member'), h('th', {}, 'Kind'), h('th', {}, 'Level'), h('th', {}))),
      h('tbody', {}, acl.map((entry) => {
        const who = entry[memberKey(entry)];
        const level = select(LEVELS, entry.permission_level, { 'aria-label': `Level of ${who}` });
        level.addEventListener('change', () => changeLevel(entry, level.value));
        return h('tr', {}, h('td', { class: 'mono' }, who), h('td', {}, badge(KIND_LABEL[memberKey(entry)], 'grey')), h('td', {}, level),
          h('td', { class: 'row-actions' }, button('Remove', () => remove(entry), { kind: 'small danger', 'aria-label': `Remove ${who}` })));
      }))));
  }

  const kind = select(KINDS, 'user_name');
  const who = input({ list: 'grant-member-names', placeholder: 'email, app id or group',
    autocomplete: 'off', dataset: { field: 'access_control_list[0]' } });
  const level = select(LEVELS, 'CAN_QUERY', { dataset: { field: 'access_control_list[0].permission_level' } });
  const names = h('datalist', { id: 'grant-member-names' });
  let suggestions = null;
  const suggest = () => {
    if (!suggestions) return;
    clear(names, suggestions[kind.value].map(([value, label]) => h('option', { value }, label)));
  };
  kind.addEventListener('change', suggest);
  memberSuggestions().then((s) => { suggestions = s; suggest(); }).catch(() => { /* suggestions only */ });
  const addBtn = button('Add grant', null, { kind: 'primary', type: 'submit' });
  const form = h('form', { 'aria-label': 'Add a grant', class: 'grant-add', novalidate: true },
    h('div', { class: 'grant-fields' }, field('Kind', kind), field('Member', who), field('Level', level)),
    names, status,
    h('div', { class: 'form-actions' }, h('p', { class: 'hint' }, 'CAN_QUERY calls the endpoint; CAN_MANAGE also changes its settings and grants.'), addBtn));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const entry = { [kind.value]: who.value.trim(), permission_level: level.value };
    await apply(() => patch(path, { access_control_list: [entry] }), `${entry[kind.value]} now has ${entry.permission_level} on ${name}`);
    if (!status.childElementCount) who.value = '';
  });
  redraw();
  return section('Grants', listEl, form);
}

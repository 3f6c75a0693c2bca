// Groups (#/groups, #/groups/NAME): groups hold users, service principals and other groups.
// Grants to a group apply to its members, transitively; the built-in group "admins" makes its
// members administrators. Administrators create, change and delete groups; managers may read.

import { get, post, patch, del, seg } from '../api.js';
import {
  h, clear, pageFrame, table, field, input, select, button, busy, confirmDialog, notify, loading, badge, when,
} from '../ui.js';
import { formDialog, formAction, MEMBER_TYPES } from './identity_common.js';

const ADMINS = 'admins';
const TYPE_LABEL = Object.fromEntries(MEMBER_TYPES);

function memberOf(m) {
  const [key] = MEMBER_TYPES.find(([k]) => k in m);
  return { key, name: m[key], label: TYPE_LABEL[key] };
}

function counts(members) {
  const n = (key) => members.filter((m) => key in m).length;
  return `${n('user_name')} users · ${n('service_principal_name')} service principals · ${n('group_name')} groups`;
}

const adminsNote = () => h('p', { class: 'note' }, h('strong', {}, 'admins'),
  ' is built in: its members (and members of groups inside it) are administrators of the gateway. It cannot be deleted.');

export async function render(root, ctx) {
  if (ctx.params.length) return renderGroup(root, ctx, ctx.params[0]);
  const actions = ctx.me.is_admin ? [button('Create group', () => createGroup(ctx), { kind: 'primary' })] : [];
  const body = pageFrame(root, 'Groups', ...actions);
  body.append(loading());
  const { groups } = await get('/groups');
  const columns = [
    { key: 'name', label: 'Name', render: (g) => h('span', {}, g.name, g.builtin ? [' ', badge('built in')] : null) },
    { key: 'members', label: 'Members', class: 'num', render: (g) => String(g.members.length) },
    { key: 'kinds', label: 'Of which', render: (g) => h('span', { class: 'muted' }, counts(g.members)) },
    { key: 'created_at', label: 'Created', render: (g) => when(g.created_at) },
  ];
  clear(body, adminsNote(), table(columns, groups, { empty: 'No groups yet.', onRow: (g) => ctx.navigate('groups', g.name) }));
  return undefined;
}

function createGroup(ctx) {
  const name = input({ name: 'name', required: true, autocomplete: 'off' });
  formDialog('Create group', [field('Name', name, 'No “/”. Members are added on the group’s page.')], 'Create', async () => {
    const group = await post('/groups', { name: name.value.trim() });
    notify(`Group ${group.name} created`);
    ctx.navigate('groups', group.name);
  });
}

async function renderGroup(root, ctx, name) {
  const actions = [button('All groups', () => ctx.navigate('groups'), { kind: 'small' })];
  if (ctx.me.is_admin && name !== ADMINS) {
    const remove = button('Delete group', null, { kind: 'danger' });
    remove.addEventListener('click', busy(remove, async () => {
      if (!await confirmDialog(`Delete group ${name}? Its members lose what it was granted.`)) return;
      await del(`/groups/${seg(name)}`);
      notify(`Group ${name} deleted`);
      ctx.navigate('groups');
    }));
    actions.push(remove);
  }
  const body = pageFrame(root, `Group ${name}`, ...actions);
  const show = async () => {
    clear(body, loading());
    const group = await get(`/groups/${seg(name)}`);
    clear(body,
      name === ADMINS ? adminsNote() : null,
      h('section', { class: 'section' }, h('h2', {}, `Members (${group.members.length})`),
        membersTable(group, ctx, show)),
      ctx.me.is_admin ? await addMemberForm(group, show) : null);
  };
  await show();
}

function membersTable(group, ctx, reload) {
  const rows = group.members.map(memberOf);
  const page = { user_name: 'users', service_principal_name: 'service-principals', group_name: 'groups' };
  const columns = [
    { key: 'label', label: 'Type' },
    { key: 'name', label: 'Name', render: (m) => h('a', { href: '#', onclick: (e) => { e.preventDefault(); ctx.navigate(page[m.key], m.name); } }, m.name) },
    ctx.me.is_admin && { key: 'remove', label: '', render: (m) => button('Remove', async () => {
      if (!await confirmDialog(`Remove ${m.name} from ${group.name}?`, { ok: 'Remove' })) return;
      try {
        await patch(`/groups/${seg(group.name)}`, { remove: [{ [m.key]: m.name }] });
        notify(`${m.name} removed from ${group.name}`);
        await reload();
      } catch (err) { notify(err.message, 'error'); }
    }, { kind: 'small danger', 'aria-label': `Remove ${m.name}` }) },
  ].filter(Boolean);
  return table(columns, rows, { empty: 'No members.' });
}

// Adding a member: its type and name (suggested from the users, service principals and
// groups that exist; the API refuses unknown names and cycles, shown in place).
async function addMemberForm(group, reload) {
  const [users, sps, groups] = await Promise.all([get('/users'), get('/service-principals'), get('/groups')]);
  const suggestions = {
    user_name: users.users.map((u) => [u.email, u.display_name]),
    service_principal_name: sps.service_principals.map((s) => [s.application_id, s.display_name]),
    group_name: groups.groups.filter((g) => g.name !== group.name).map((g) => [g.name, '']),
  };
  const type = select(MEMBER_TYPES, 'user_name', { name: 'type' });
  const list = h('datalist', { id: 'member-suggestions' });
  const name = input({ name: 'member', required: true, autocomplete: 'off', list: list.id });
  const fill = () => clear(list, suggestions[type.value].map(([v, label]) => h('option', { value: v }, label || v)));
  type.addEventListener('change', fill);
  fill();
  const status = h('div', { class: 'form-status' });
  const submit = button('Add member', null, { kind: 'primary', type: 'submit' });
  const form = h('form', { class: 'section card', 'aria-label': 'Add a member' }, h('h2', {}, 'Add a member'),
    h('div', { class: 'row' }, field('Member type', type), field('Member', name), list, submit), status);
  formAction(form, status, submit, async () => {
    const member = name.value.trim();
    await patch(`/groups/${seg(group.name)}`, { add: [{ [type.value]: member }] });
    notify(`${member} added to ${group.name}`);
    await reload();
  });
  return form;
}

// Users (#/users, #/users/EMAIL): the list with their groups, creating and deleting users
// (administrators), and a user's detail with its groups and tokens. Managers may read.

import { input, notify } from '../ui.js';
import { principalsPage } from './identity_common.js';

const USERS = {
  path: 'users',
  api: '/users',
  listKey: 'users',
  key: 'email',
  memberKey: 'user_name',
  title: 'Users',
  singular: 'user',
  keyLabel: 'Email',
  createFields: () => ({
    email: ['Email', input({ type: 'email', name: 'email', required: true, autocomplete: 'off' }),
      'The user signs in with tokens issued to this address.'],
    display_name: ['Display name', input({ name: 'display_name', autocomplete: 'off' }), 'Optional.'],
  }),
  createBody: (f) => ({ email: f.email[1].value.trim(), display_name: f.display_name[1].value.trim() || undefined }),
  created: (user) => notify(`User ${user.email} created`),
};

export function render(root, ctx) {
  return principalsPage(root, ctx, USERS);
}

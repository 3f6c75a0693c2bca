// Service principals (#/service-principals, #/service-principals/APPLICATION_ID): identities for
// applications. Creating one (administrators) shows the application_id the gateway assigned;
// its detail lists its groups and tokens.

import { h, input, dialog, button, codeBlock } from '../ui.js';
import { principalsPage } from './identity_common.js';

const SERVICE_PRINCIPALS = {
  path: 'service-principals',
  api: '/service-principals',
  listKey: 'service_principals',
  key: 'application_id',
  memberKey: 'service_principal_name',
  title: 'Service principals',
  singular: 'service principal',
  keyLabel: 'Application ID',
  createFields: () => ({
    display_name: ['Display name', input({ name: 'display_name', required: true, autocomplete: 'off' }),
      'What the application is, e.g. "nightly-batch".'],
  }),
  createBody: (f) => ({ display_name: f.display_name[1].value.trim() }),
  created: showApplicationId,
};

// The gateway assigns the id: say so, since grants, groups and tokens name it.
function showApplicationId(sp) {
  const ok = button('Done', () => dlg.close(), { kind: 'primary' });
  const dlg = dialog('Service principal created', h('div', {},
    h('p', {}, `“${sp.display_name}” has this application ID. Grants, group memberships and tokens name it.`),
    codeBlock(sp.application_id, { label: 'application_id' })), [ok]);
}

export function render(root, ctx) {
  return principalsPage(root, ctx, SERVICE_PRINCIPALS);
}

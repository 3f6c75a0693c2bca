// Tokens (#/tokens): every signed-in principal's own personal access tokens; an administrator
// sees everyone's, filtered by principal. Creating one shows its value once, in a dialog;
// the list holds metadata only (the API never returns a token's value again).

import { get, qs } from '../api.js';
import { h, clear, pageFrame, field, input, checkbox, button, loading, errorBox } from '../ui.js';
import { tokenTable, revokeToken, createTokenDialog } from './identity_common.js';

// What an administrator may pick as a token's principal: users, service principals, and the
// bootstrap administrator ("admin").
async function principalChoices() {
  const [users, sps] = await Promise.all([get('/users'), get('/service-principals')]);
  return [
    ...users.users.map((u) => ({ value: u.email, label: u.display_name || 'user' })),
    ...sps.service_principals.map((s) => ({ value: s.application_id, label: `${s.display_name} (service principal)` })),
    { value: 'admin', label: 'bootstrap administrator' },
  ];
}

export async function render(root, ctx) {
  const { me } = ctx;
  const create = button('Create token', null, { kind: 'primary' });
  const body = pageFrame(root, 'Tokens', create);
  const list = h('div', {}, loading());
  const principal = input({ type: 'search', name: 'principal', placeholder: 'everyone', autocomplete: 'off' });
  const revoked = checkbox('Show revoked', false);

  const load = async () => {
    try {
      const { tokens } = await get(`/tokens${qs({
        principal: me.is_admin ? principal.value.trim() : undefined,
        include_revoked: revoked.box.checked || undefined,
      })}`);
      clear(list, tokenTable(tokens, { showPrincipal: me.is_admin, onRevoke: async (t) => { if (await revokeToken(t)) await load(); } }));
    } catch (err) {
      clear(list, errorBox(err));
    }
  };

  create.addEventListener('click', async () => {
    const choices = me.is_admin ? await principalChoices().catch(() => []) : null;
    createTokenDialog({ principal: me.principal, choices, onCreated: load });
  });
  revoked.box.addEventListener('change', load);

  const intro = me.is_admin
    ? 'Every principal’s tokens. Filter by a user’s email or a service principal’s application ID.'
    : `Your tokens (${me.principal}). Use one as a Bearer token for the model APIs and this console.`;
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter tokens' },
    me.is_admin ? field('Principal', principal) : null,
    revoked.el,
    me.is_admin ? button('Apply', null, { type: 'submit' }) : null);
  filters.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  clear(body, h('p', { class: 'muted' }, intro), filters, list);
  await load();
}

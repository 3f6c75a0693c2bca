// Audit log (#/audit, administrators): who changed what and when, newest first, filtered by
// actor, action (a prefix when it ends in "." or "*": "token." is every token change), target
// and a time range. Pages by offset; one entry more than a page says whether a next page exists.

import { get, qs } from '../api.js';
import { h, clear, pageFrame, field, input, select, button, table, loading, errorBox, when, num, useStyles } from '../ui.js';

useStyles('identities');

const PAGE_SIZES = ['50', '100', '500'];

export async function render(root) {
  const body = pageFrame(root, 'Audit log');
  const actor = input({ type: 'search', name: 'actor', placeholder: 'admin, or an email', autocomplete: 'off' });
  const action = input({ type: 'search', name: 'action', placeholder: 'user.create, or token.', autocomplete: 'off' });
  const target = input({ type: 'search', name: 'target', autocomplete: 'off' });
  const size = select(PAGE_SIZES, '100', { name: 'limit' });
  const from = input({ type: 'datetime-local', name: 'start' });
  const until = input({ type: 'datetime-local', name: 'end' });
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter the audit log' },
    field('Actor', actor), field('Action', action), field('Target', target),
    field('From', from), field('Until', until), field('Per page', size),
    button('Apply', null, { kind: 'primary', type: 'submit' }));
  const results = h('div', {});
  let page = 0;

  const load = async () => {
    const perPage = Number(size.value);
    clear(results, loading());
    try {
      const { entries } = await get(`/audit${qs({
        limit: perPage + 1, offset: page * perPage, actor: actor.value.trim(), action: action.value.trim(),
        target: target.value.trim(), start: unixSeconds(from.value), end: unixSeconds(until.value),
      })}`);
      const rows = entries.slice(0, perPage);
      const hasNext = entries.length > perPage;
      clear(results, auditTable(rows), pager(page, rows.length, perPage, hasNext, (p) => { page = p; load(); }));
    } catch (err) {
      clear(results, errorBox(err));
    }
  };
  filters.addEventListener('submit', (e) => { e.preventDefault(); page = 0; load(); });
  clear(body, filters, results);
  await load();
}

// A datetime-local value (the browser's time zone) as unix seconds; '' when empty.
function unixSeconds(value) {
  return value ? String(Math.floor(new Date(value).getTime() / 1000)) : '';
}

function auditTable(rows) {
  return table([
    { key: 'event_time', label: 'Time', render: (e) => h('span', { class: 'nowrap' }, when(e.event_time)) },
    { key: 'actor', label: 'Actor' },
    { key: 'action', label: 'Action', render: (e) => h('code', {}, e.action) },
    { key: 'target', label: 'Target', render: (e) => h('span', { class: 'break' }, e.target) },
    { key: 'details', label: 'Details', render: (e) => (e.details ? h('code', { class: 'details' }, JSON.stringify(e.details)) : h('span', { class: 'muted' }, '—')) },
  ], rows, { empty: 'No audit entries match.' });
}

export function pager(page, shown, perPage, hasNext, go) {
  const first = shown ? page * perPage + 1 : 0;
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    button('Previous', () => go(page - 1), { kind: 'small', disabled: page === 0 }),
    h('span', { class: 'muted' }, shown ? `${num(first)}–${num(first + shown - 1)}` : 'none'),
    button('Next', () => go(page + 1), { kind: 'small', disabled: !hasNext }));
}

// Small DOM helpers every page uses: an element builder, tables, form fields, dialogs, notices,
// code blocks and formatting. No framework: a page builds its elements and replaces them.
// The page's Content-Security-Policy forbids inline styles and scripts: set `el.style.x` from
// code or use classes, never a `style` attribute or an `on...` attribute.

// h('button', {class: 'primary', onclick: fn, 'aria-label': 'x'}, 'text', child, [more])
export function h(tag, props = {}, ...children) {
  const el = tag.includes(':')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.split(':')[1])
    : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'selected') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// A page's frame: a heading, actions on the right, then the body the page fills.
export function pageFrame(root, title, ...actions) {
  const body = h('div', { class: 'page-body' });
  clear(root, h('header', { class: 'page-head' }, h('h1', { text: title }), h('div', { class: 'actions' }, actions)), body);
  document.title = `${title} · Unigate console`;
  return body;
}

// table([{key, label, render?(row), class?}], rows, {empty, onRow, caption})
export function table(columns, rows, { empty = 'Nothing here yet.', onRow, caption } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)));
  const body = rows.map((row) => {
    const tr = h('tr', { class: onRow ? 'clickable' : null },
      columns.map((c) => h('td', { class: c.class }, c.render ? c.render(row) : fmtCell(row[c.key]))));
    if (onRow) {
      tr.tabIndex = 0;
      tr.addEventListener('click', (e) => { if (!e.target.closest('button, a, input')) onRow(row); });
      tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') onRow(row); });
    }
    return tr;
  });
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'grid' }, caption ? h('caption', {}, caption) : null, h('thead', {}, head), h('tbody', {}, body)));
}

function fmtCell(value) {
  if (value === null || value === undefined || value === '') return h('span', { class: 'muted' }, '—');
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

let fieldSeq = 0;
// field('Name', input, 'hint'): a labelled control (the label's `for` names the control, so
// tests and screen readers find it by its label).
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++fieldSeq}`;
  return h('div', { class: 'field' },
    h('label', { for: control.id }, label), control, hint ? h('small', { class: 'hint' }, hint) : null);
}

export const input = (props = {}) => h('input', { type: 'text', ...props });
export const textarea = (props = {}) => h('textarea', { rows: 4, ...props });

// select([[value, label], ...] or ['a', 'b'], selected, props)
export function select(options, selected, props = {}) {
  return h('select', props, options.map((o) => {
    const [value, label] = Array.isArray(o) ? o : [o, o];
    return h('option', { value, selected: String(value) === String(selected ?? '') }, label);
  }));
}

export function checkbox(label, checked, props = {}) {
  const box = h('input', { type: 'checkbox', checked: !!checked, ...props });
  if (!box.id) box.id = `f${++fieldSeq}`;
  return { box, el: h('div', { class: 'check' }, box, h('label', { for: box.id }, label)) };
}

export function button(text, onclick, { kind = '', type = 'button', ...props } = {}) {
  return h('button', { type, class: kind ? `btn ${kind}` : 'btn', onclick, ...props }, text);
}

// Runs an async action from a button: disabled while it runs, errors shown as a notice.
export function busy(btn, action) {
  return async (...args) => {
    btn.disabled = true;
    try { return await action(...args); } catch (err) { notify(err.message, 'error'); return undefined; } finally { btn.disabled = false; }
  };
}

// A modal dialog (<dialog>): content is an element; actions are buttons. Resolves when closed.
export function dialog(title, content, actions = []) {
  const dlg = h('dialog', { class: 'modal', 'aria-label': title },
    h('header', {}, h('h2', { text: title }), h('button', { type: 'button', class: 'icon', 'aria-label': 'Close', onclick: () => dlg.close() }, '×')),
    h('div', { class: 'modal-body' }, content),
    actions.length ? h('footer', {}, actions) : null);
  document.body.append(dlg);
  dlg.addEventListener('close', () => dlg.remove());
  dlg.showModal();
  return dlg;
}

export function confirmDialog(message, { ok = 'Delete', kind = 'danger' } = {}) {
  return new Promise((resolve) => {
    let answer = false;
    const yes = button(ok, () => { answer = true; dlg.close(); }, { kind });
    const no = button('Cancel', () => dlg.close());
    const dlg = dialog('Please confirm', h('p', {}, message), [no, yes]);
    dlg.addEventListener('close', () => resolve(answer));
    yes.focus();
  });
}

// A notice at the bottom right (role=status, or alert for errors), gone after a few seconds.
export function notify(message, kind = 'ok') {
  let box = document.getElementById('notices');
  if (!box) { box = h('div', { id: 'notices' }); document.body.append(box); }
  const el = h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

// An error shown in place (a form's, say): the API's message, and the field it names.
export function errorBox(err) {
  const where = err && err.field ? ` (field: ${err.field})` : '';
  return h('div', { class: 'error-box', role: 'alert' }, `${err ? err.message : 'Error'}${where}`);
}

export function copyButton(getText, label = 'Copy') {
  const btn = button(label, async () => {
    const text = typeof getText === 'function' ? getText() : getText;
    try { await navigator.clipboard.writeText(text); notify('Copied'); } catch { notify('Copy failed: select the text instead', 'error'); }
  }, { kind: 'small' });
  return btn;
}

export function codeBlock(text, { label } = {}) {
  const code = h('code', {}, text);
  return h('div', { class: 'code' }, h('div', { class: 'code-head' }, h('span', {}, label || ''), copyButton(() => code.textContent)),
    h('pre', {}, code));
}

// tabs([{label, render(el)}]): buttons on top, one panel below, the first shown.
export function tabs(items) {
  const panel = h('div', { class: 'tab-panel', role: 'tabpanel' });
  const bar = h('div', { class: 'tabs', role: 'tablist' });
  const show = (i) => {
    [...bar.children].forEach((b, j) => b.setAttribute('aria-selected', String(i === j)));
    clear(panel);
    items[i].render(panel);
  };
  items.forEach((item, i) => bar.append(h('button', { type: 'button', role: 'tab', onclick: () => show(i) }, item.label)));
  const el = h('div', { class: 'tabbed' }, bar, panel);
  if (items.length) show(0);
  return el;
}

export const loading = () => h('p', { class: 'loading', role: 'status' }, 'Loading…');

export function badge(text, kind = '') { return h('span', { class: `badge ${kind}` }, text); }

// Adds a page's own stylesheet once (css/NAME.css).
export function useStyles(name) {
  const href = `css/${name}.css`;
  if (!document.querySelector(`link[href="${href}"]`)) document.head.append(h('link', { rel: 'stylesheet', href }));
}

// --- formatting ------------------------------------------------------------------------------
const nf = new Intl.NumberFormat('en-US');
export const num = (n) => (n === null || n === undefined ? '—' : nf.format(n));
export function usd(x) {
  if (x === null || x === undefined) return '—';
  if (x !== 0 && Math.abs(x) < 0.01) return `$${x.toPrecision(2)}`;
  return `$${x.toFixed(2)}`;
}
// unix seconds to 'YYYY-MM-DD HH:MM:SS' in the browser's time zone
export function when(ts) {
  if (!ts) return '—';
  const d = new Date(ts * 1000);
  const p = (v) => String(v).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
export function ms(value) {
  if (value === null || value === undefined) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

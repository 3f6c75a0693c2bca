// What the endpoint and provider pages share: a titled section, the API's error shown next to a
// form with the control it names marked, and small value helpers.

import { h, clear, errorBox } from '../ui.js';

let sectionSeq = 0;

// A card with a heading that names it (a "region" to screen readers and tests).
export function section(title, ...children) {
  const id = `sec${++sectionSeq}`;
  return h('section', { class: 'card ep-section', 'aria-labelledby': id }, h('h2', { id, text: title }), children);
}

// The API's 400 names a field such as `destinations[1].model`; controls carry that path in
// data-field. The most specific control found is marked invalid and focused.
function controlFor(form, name) {
  let path = name;
  while (path) {
    const el = form.querySelector(`[data-field="${CSS.escape(path)}"]`);
    if (el) return el;
    const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
    path = cut > 0 ? path.slice(0, cut) : '';
  }
  return null;
}

export function clearFormError(form, status) {
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
  clear(status);
}

export function showFormError(form, status, err) {
  clearFormError(form, status);
  clear(status, errorBox(err));
  const control = err && err.field ? controlFor(form, err.field) : null;
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    control.focus();
  }
}

// Runs a form's save: the button disabled meanwhile, the API's error shown in `status`.
export async function saving(form, status, btn, action) {
  clearFormError(form, status);
  btn.disabled = true;
  try {
    return await action();
  } catch (err) {
    showFormError(form, status, err);
    return undefined;
  } finally {
    btn.disabled = false;
  }
}

// '' for an empty input, else the number typed (the API refuses what is not an integer).
export function numberOrEmpty(value) {
  const text = String(value ?? '').trim();
  return text === '' ? '' : Number(text);
}

export const isAdmin = (me) => !!me.is_admin;

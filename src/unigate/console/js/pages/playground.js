// The playground (#/playground, #/playground/ENDPOINT): chat with an endpoint the caller may
// query, through the public model API (OpenAI Chat Completions, Anthropic Messages or OpenAI
// Responses), exactly as an application would; streamed answers appear as they arrive, with
// their timings, usage and unigate's response headers. "Code" shows the same request as curl,
// Python and JavaScript.

import { authHeaders, errorFrom } from '../api.js';
import { h, clear, pageFrame, field, input, textarea, select, checkbox, button, errorBox, codeBlock, tabs,
  dialog, useStyles, ms, num } from '../ui.js';
import { DIALECTS, dialectById } from './playground_dialects.js';
import { readEvents } from './playground_sse.js';
import { curlSnippet, pythonSnippet, javascriptSnippet } from './playground_code.js';

const EXAMPLE_MESSAGE = 'Hello!'; // the code panel's user message while nothing is typed yet

// unigate's response headers worth showing beside an answer: [header, label]
const SHOWN_HEADERS = [
  ['x-request-id', 'Request'],
  ['x-unigate-overhead-ms', 'Gateway overhead'],
  ['x-unigate-dropped-parameters', 'Dropped parameters'],
  ['x-unigate-emulated-parameters', 'Emulated parameters'],
];

// The endpoints the caller may query, without the embeddings ones. The public Gemini listing is
// the one that tells them apart (its supportedGenerationMethods); when it cannot be read, all
// of them are offered and an embeddings endpoint's own error says why it does not chat.
async function chatEndpoints(me) {
  const names = [...me.can_query];
  try {
    const res = await fetch('/ai-gateway/gemini/v1beta/models', { headers: authHeaders() });
    if (!res.ok) return names;
    const listing = await res.json();
    const embeddings = new Set((listing.models || [])
      .filter((m) => !(m.supportedGenerationMethods || []).includes('generateContent'))
      .map((m) => m.baseModelId));
    return names.filter((name) => !embeddings.has(name));
  } catch {
    return names;
  }
}

// '' -> null (the API's default), else the number
function numberOrNull(control) {
  const text = control.value.trim();
  if (text === '') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

export async function render(root, ctx) {
  useStyles('playground');
  const endpoints = await chatEndpoints(ctx.me);
  const codeButton = button('Code', () => showCode(), { 'aria-haspopup': 'dialog' });
  const body = pageFrame(root, 'Playground', codeButton);
  if (!endpoints.length) {
    codeButton.disabled = true;
    body.append(h('p', { class: 'empty' }, 'You may not query any chat endpoint. An endpoint manager can grant you CAN_QUERY.'));
    return;
  }
  const wanted = ctx.params[0];
  const settings = settingsPanel(endpoints, endpoints.includes(wanted) ? wanted : endpoints[0]);
  const chat = chatPanel(settings);
  body.append(h('div', { class: 'pg-layout' }, chat.el, settings.el));

  function showCode() {
    const pending = chat.pendingText();
    const req = settings.request([...chat.history(), { role: 'user', content: pending || EXAMPLE_MESSAGE }]);
    codePanel(settings.dialect(), req, pending);
  }
}

// --- settings --------------------------------------------------------------------------------

function settingsPanel(endpoints, selected) {
  const endpoint = select(endpoints, selected, { name: 'endpoint' });
  const dialect = select(DIALECTS.map((d) => [d.id, d.label]), DIALECTS[0].id, { name: 'dialect' });
  const system = textarea({ name: 'system', rows: 4, placeholder: 'You are a helpful assistant.' });
  const stream = checkbox('Stream the answer', true, { name: 'stream' });
  const temperature = input({ type: 'number', name: 'temperature', min: '0', max: '2', step: '0.1', placeholder: 'default' });
  const maxTokens = input({ type: 'number', name: 'max_tokens', min: '1', step: '1', value: '1024' });
  // The route keeps the endpoint (a link to it preselects it) without reloading the page.
  endpoint.addEventListener('change', () => history.replaceState(null, '', `#/playground/${encodeURIComponent(endpoint.value)}`));
  const el = h('section', { class: 'pg-settings card', 'aria-label': 'Settings' },
    h('h2', {}, 'Settings'),
    field('Endpoint', endpoint),
    field('API', dialect, 'The public model API the request is sent in.'),
    field('System prompt', system),
    stream.el,
    field('Temperature', temperature, 'Empty: the model\'s default.'),
    field('Max tokens', maxTokens, 'Empty: no limit (Anthropic requires one: 1024).'));
  return {
    el,
    dialect: () => dialectById(dialect.value),
    request: (messages) => ({
      endpoint: endpoint.value,
      system: system.value.trim(),
      messages,
      stream: stream.box.checked,
      temperature: numberOrNull(temperature),
      maxTokens: numberOrNull(maxTokens),
    }),
  };
}

// --- the conversation ------------------------------------------------------------------------

function chatPanel(settings) {
  // entries: {role: 'user'|'assistant', content, answered}; only answered turns are sent again
  let entries = [];
  let controller = null;
  const log = h('div', { class: 'pg-log', role: 'log', 'aria-label': 'Conversation', 'aria-live': 'polite' });
  const emptyNote = h('p', { class: 'pg-empty muted' }, 'Send a message to start the conversation.');
  log.append(emptyNote);
  const message = textarea({ name: 'message', rows: 3, placeholder: 'Type a message… (Enter sends, Shift+Enter starts a new line)' });
  const sendButton = button('Send', () => send(), { kind: 'primary' });
  const stopButton = button('Stop', () => controller && controller.abort(), { disabled: true });
  const clearButton = button('Clear', () => reset());
  message.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
  const el = h('section', { class: 'pg-chat', 'aria-label': 'Chat' }, log,
    h('div', { class: 'pg-composer' }, field('Message', message),
      h('div', { class: 'pg-buttons' }, sendButton, stopButton, clearButton)));

  const history = () => entries.filter((e) => e.answered).map((e) => ({ role: e.role, content: e.content }));

  function setRunning(running) {
    sendButton.disabled = running;
    stopButton.disabled = !running;
  }

  function reset() {
    if (controller) controller.abort();
    entries = [];
    clear(log, emptyNote);
  }

  async function send() {
    const text = message.value.trim();
    if (!text || controller) return;
    const dialect = settings.dialect();
    const req = settings.request([...history(), { role: 'user', content: text }]);
    const question = { role: 'user', content: text, answered: false };
    const answer = { role: 'assistant', content: '', answered: false };
    entries.push(question, answer);
    emptyNote.remove();
    log.append(bubble('You', 'user', text).el);
    const view = bubble(`${req.endpoint} · ${dialect.label}`, 'assistant', '');
    view.el.setAttribute('aria-busy', 'true');
    log.append(view.el);
    message.value = '';
    view.el.scrollIntoView({ block: 'end' });
    controller = new AbortController();
    setRunning(true);
    const outcome = await exchange(dialect, req, controller.signal, view);
    controller = null;
    setRunning(false);
    view.el.removeAttribute('aria-busy');
    answer.content = outcome.text;
    if (outcome.error || !outcome.text) {
      // Not part of the conversation any more: the question goes back to the input box.
      view.el.classList.add('failed');
      if (!message.value) message.value = text;
    } else {
      question.answered = answer.answered = true;
    }
    view.finish(outcome);
    view.el.scrollIntoView({ block: 'end' });
  }

  return { el, history, pendingText: () => message.value.trim() };
}

// One request and its answer. Resolves with {text, usage, model, headers, firstTokenMs,
// totalMs, chunks, stopped, error}: never throws, whatever happened is in the outcome.
async function exchange(dialect, req, signal, view) {
  const acc = { text: '', usage: {}, model: '', headers: {}, firstTokenMs: null, totalMs: null, chunks: 0,
    stopped: false, error: null, streamed: false };
  const started = performance.now();
  try {
    const res = await fetch(dialect.path, {
      method: 'POST', signal, body: JSON.stringify(dialect.body(req)),
      headers: authHeaders({ 'Content-Type': 'application/json' }),
    });
    for (const [name] of SHOWN_HEADERS) if (res.headers.get(name)) acc.headers[name] = res.headers.get(name);
    if (!res.ok) {
      acc.error = await errorFrom(res);
      if (res.status === 401) window.dispatchEvent(new CustomEvent('unigate:unauthorized', { detail: acc.error }));
    } else if ((res.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
      acc.streamed = true;
      await readStream(dialect, res, acc, started, view);
    } else {
      dialect.readAnswer(await res.json(), acc);
      acc.firstTokenMs = performance.now() - started;
      view.append(acc.text);
    }
  } catch (err) {
    if (err.name === 'AbortError') acc.stopped = true;
    else acc.error = err;
  }
  acc.totalMs = performance.now() - started;
  return acc;
}

async function readStream(dialect, res, acc, started, view) {
  for await (const event of readEvents(res)) {
    const step = dialect.readEvent(event, acc);
    if (step.error) {
      acc.error = step.error;
      return;
    }
    if (step.text) {
      if (acc.firstTokenMs === null) acc.firstTokenMs = performance.now() - started;
      acc.chunks += 1;
      acc.text += step.text;
      view.append(step.text);
    }
    if (step.done) return;
  }
}

// A chat bubble: who, the text (grown while streaming), then what is known about the answer.
function bubble(who, kind, text) {
  const textNode = document.createTextNode(text);
  const content = h('div', { class: 'pg-text' }, textNode);
  const el = h('article', { class: `pg-msg ${kind}`, 'aria-label': kind === 'user' ? 'You' : 'Assistant' },
    h('div', { class: 'pg-who' }, who), content);
  return {
    el,
    append(more) { textNode.appendData(more); },
    finish(outcome) { el.append(...outcomeDetails(outcome)); },
  };
}

function outcomeDetails(o) {
  const parts = [];
  if (o.stopped) parts.push(h('p', { class: 'pg-note' }, o.text ? 'Stopped: the answer is cut short.' : 'Stopped before any answer.'));
  if (o.error) {
    const where = o.error.status ? `${o.error.status} ${o.error.code}` : `in the stream: ${o.error.code}`;
    parts.push(h('div', { class: 'pg-error' }, errorBox({ message: `${where}: ${o.error.message}` })));
  } else if (!o.stopped && !o.text) {
    parts.push(h('p', { class: 'pg-note' }, 'The answer holds no text.'));
  }
  const items = [];
  const item = (label, value) => items.push(h('li', {}, h('span', { class: 'pg-label' }, `${label}: `), value));
  if (o.firstTokenMs !== null && !o.error) item(o.streamed ? 'First token' : 'Answer', ms(o.firstTokenMs));
  item('Total', ms(o.totalMs));
  if (o.streamed) item('Chunks', num(o.chunks));
  if (o.usage.input !== undefined || o.usage.output !== undefined) {
    item('Tokens', `${num(o.usage.input)} in, ${num(o.usage.output)} out`);
  }
  if (o.model) item('Model', o.model);
  for (const [name, label] of SHOWN_HEADERS) {
    const value = o.headers[name];
    if (value) item(label, name === 'x-unigate-overhead-ms' ? `${value} ms` : value);
  }
  parts.push(h('ul', { class: 'pg-meta', 'aria-label': 'Answer details' }, items));
  return parts;
}

// --- code ------------------------------------------------------------------------------------

function codePanel(dialect, req, pending) {
  const origin = location.origin;
  const body = dialect.body(req);
  const sdk = dialect.id === 'anthropic' ? 'anthropic' : 'openai';
  const snippets = [
    { label: 'curl', lang: 'curl', text: curlSnippet(dialect, body, origin) },
    { label: 'Python', lang: `Python, the ${sdk} SDK (pip install ${sdk})`, text: pythonSnippet(dialect, body, origin) },
    { label: 'JavaScript', lang: 'JavaScript, fetch (Node 18+)', text: javascriptSnippet(dialect, body, origin) },
  ];
  const content = h('div', { class: 'pg-code' },
    h('p', { class: 'muted' },
      `This request (${dialect.label}, endpoint ${req.endpoint}): the conversation so far and `,
      pending ? 'the message being typed. ' : `an example message ("${EXAMPLE_MESSAGE}"). `,
      'The code reads your token from ', h('code', {}, 'UNIGATE_TOKEN'), ': ', h('code', {}, 'export UNIGATE_TOKEN=ug_…')),
    tabs(snippets.map((s) => ({ label: s.label, render: (panel) => panel.append(codeBlock(s.text, { label: s.lang })) }))));
  const close = button('Close', () => dlg.close());
  const dlg = dialog('Code for this request', content, [close]);
  dlg.classList.add('pg-code-dialog');
}

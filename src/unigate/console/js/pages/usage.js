// The usage dashboard (#/usage, #/usage/ENDPOINT preselects the endpoint): summary cards,
// charts over time broken down by endpoint, requester, tag or model, breakdown tables and CSV
// exports, for what the caller may see (GET /api/v1/usage* narrows it: administrators see
// everything, managers their endpoints, anyone else its own requests).

import { get, qs, download } from '../api.js';
import { h, clear, pageFrame, table, field, input, select, button, busy, errorBox, tabs, loading, useStyles, num, usd, ms, when } from '../ui.js';
import { timeChart, barChart, compact } from '../charts.js';

const RANGES = [['hour', 'Last hour'], ['day', 'Last 24 hours'], ['week', 'Last 7 days'], ['month', 'Last 30 days'], ['custom', 'Custom']];
const RANGE_SECONDS = { hour: 3600, day: 86400, week: 7 * 86400, month: 30 * 86400 };
const DIMENSIONS = [['endpoint', 'Endpoint'], ['requester', 'Requester'], ['tag', 'Tag'], ['model', 'Model']];
const BUCKET_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const MAX_LIMIT = 100000; // the API's largest limit: every (bucket, key) of a window, every row of an export
const OTHER_COLOUR = 7; // grey: "other", the keys past the top N
const TOP_COLOURS = [1, 2, 3, 4, 5, 6, 8];

export async function render(root, ctx) {
  useStyles('usage');
  const view = new UsageView(root, ctx);
  await view.start();
}

class UsageView {
  constructor(root, ctx) {
    this.ctx = ctx;
    this.me = ctx.me;
    this.loadSeq = 0;
    this.data = null;
    this.refreshBtn = button('Refresh', () => this.load(), { kind: 'primary' });
    this.aggregateCsvBtn = button('Export chart data (CSV)', null);
    this.rowsCsvBtn = button('Export rows (CSV)', null);
    this.aggregateCsvBtn.addEventListener('click', busy(this.aggregateCsvBtn, () => this.exportAggregate()));
    this.rowsCsvBtn.addEventListener('click', busy(this.rowsCsvBtn, () => this.exportRows()));
    this.body = pageFrame(root, 'Usage', this.aggregateCsvBtn, this.rowsCsvBtn, this.refreshBtn);
    this.results = h('div', { class: 'usage-results', 'aria-live': 'polite' });
  }

  get seesOnlyOwn() { return !this.me.is_admin && this.me.can_manage.length === 0; }

  async start() {
    const endpoints = await this.endpointNames();
    const preselected = this.ctx.params[0] || '';
    if (preselected && !endpoints.includes(preselected)) endpoints.unshift(preselected);
    this.controls = {
      range: select(RANGES, 'day', { name: 'range' }),
      start: input({ type: 'datetime-local', name: 'start' }),
      end: input({ type: 'datetime-local', name: 'end' }),
      endpoint: select([['', 'All endpoints'], ...endpoints], preselected, { name: 'endpoint' }),
      requester: input({ type: 'search', name: 'requester', placeholder: 'email or application id' }),
      tag: input({ type: 'search', name: 'tag', placeholder: 'key=value, or key' }),
      dimension: select(DIMENSIONS, 'endpoint', { name: 'dimension' }),
      top: select([['3', 'Top 3'], ['5', 'Top 5'], ['7', 'Top 7']], '5', { name: 'top' }),
    };
    const c = this.controls;
    const now = Date.now();
    c.start.value = localInput(now - 86400_000);
    c.end.value = localInput(now);
    const custom = [field('From', c.start), field('To', c.end)];
    const showCustom = () => custom.forEach((el) => { el.hidden = c.range.value !== 'custom'; });
    showCustom();
    c.range.addEventListener('change', () => { showCustom(); this.load(); });
    c.endpoint.addEventListener('change', () => { this.syncHash(); this.load(); });
    c.dimension.addEventListener('change', () => this.load());
    c.top.addEventListener('change', () => this.drawCharts());
    const form = h('form', { class: 'filters usage-filters', 'aria-label': 'Usage filters' },
      field('Time range', c.range), ...custom, field('Endpoint', c.endpoint),
      this.seesOnlyOwn ? null : field('Requester', c.requester),
      field('Tag', c.tag),
      field('Break down by', c.dimension), field('Series', c.top),
      button('Apply', null, { type: 'submit' }));
    form.addEventListener('submit', (e) => { e.preventDefault(); this.load(); });
    const scope = this.seesOnlyOwn ? 'You see your own requests.'
      : this.me.is_admin ? null : `You see the requests of the endpoints you manage: ${this.me.can_manage.join(', ')}.`;
    clear(this.body, form, scope ? h('p', { class: 'muted scope' }, scope) : null, this.results);
    await this.load();
  }

  // The endpoints the filter offers: every endpoint for administrators, the managed ones for
  // managers (another is a 403), the queryable ones for everyone else.
  async endpointNames() {
    if (this.me.is_admin) {
      const { endpoints } = await get('/endpoints');
      return endpoints.map((e) => e.name).sort();
    }
    if (this.me.can_manage.length) return [...this.me.can_manage].sort();
    return [...this.me.can_query].sort();
  }

  syncHash() {
    const name = this.controls.endpoint.value;
    history.replaceState(null, '', name ? `#/usage/${encodeURIComponent(name)}` : '#/usage');
  }

  // {start, end, bucket}: unix seconds, and the chart's time step for that span.
  window() {
    const c = this.controls;
    const now = Date.now() / 1000;
    if (c.range.value !== 'custom') {
      const span = RANGE_SECONDS[c.range.value];
      return { start: Math.floor(now - span), end: Math.ceil(now), bucket: bucketFor(span) };
    }
    const start = Date.parse(c.start.value) / 1000;
    const end = Date.parse(c.end.value) / 1000;
    if (Number.isNaN(start)) throw Object.assign(new Error("'From' must be a date and time"), { field: 'start' });
    if (Number.isNaN(end)) throw Object.assign(new Error("'To' must be a date and time"), { field: 'end' });
    if (end <= start) throw Object.assign(new Error("'To' must be after 'From'"), { field: 'end' });
    return { start: Math.floor(start), end: Math.ceil(end), bucket: bucketFor(end - start) };
  }

  // The API's filter parameters for the current controls (and window).
  filters(win) {
    const c = this.controls;
    return { start: win.start, end: win.end, endpoint: c.endpoint.value, requester: this.seesOnlyOwn ? '' : c.requester.value.trim(),
      tag: c.tag.value.trim() };
  }

  async load() {
    const seq = ++this.loadSeq;
    this.markInvalid(null);
    clear(this.results, loading());
    try {
      const win = this.window();
      const params = this.filters(win);
      const dimension = this.controls.dimension.value;
      const aggregate = (groupBy, extra = {}) => get(`/usage/aggregate${qs({ ...params, group_by: groupBy, ...extra })}`)
        .then((body) => body.groups);
      const series = { bucket: win.bucket, limit: MAX_LIMIT };
      const [totals, totalSeries, dimensionSeries, ...breakdowns] = await Promise.all([
        aggregate('all'), aggregate('all', series), aggregate(dimension, series),
        ...DIMENSIONS.map(([name]) => aggregate(name)),
      ]);
      if (seq !== this.loadSeq) return; // a newer load started meanwhile
      this.data = { win, params, dimension, totals: totals[0] || null, totalSeries, dimensionSeries,
        breakdowns: Object.fromEntries(DIMENSIONS.map(([name], i) => [name, breakdowns[i]])) };
      this.show();
    } catch (err) {
      if (seq !== this.loadSeq) return;
      this.data = null;
      this.markInvalid(err.field);
      clear(this.results, errorBox(err));
    }
  }

  // The control a filter error names (the API's `field`), marked invalid.
  markInvalid(name) {
    for (const [key, el] of Object.entries(this.controls || {})) {
      if (key === name) el.setAttribute('aria-invalid', 'true');
      else el.removeAttribute('aria-invalid');
    }
  }

  show() {
    const { totals } = this.data;
    if (!totals || !totals.requests) {
      clear(this.results, h('div', { class: 'empty usage-empty' },
        h('strong', {}, 'No requests match these filters in this time range.'),
        h('p', {}, 'Widen the time range or clear a filter. Requests appear here a moment after they are answered.')));
      return;
    }
    this.chartsEl = h('div', { class: 'usage-charts' });
    clear(this.results, summaryCards(totals), h('h2', {}, `Over time, by ${dimensionLabel(this.data.dimension)}`), this.chartsEl,
      h('h2', {}, 'Breakdown'), this.breakdownTabs());
    this.drawCharts();
  }

  drawCharts() {
    if (!this.data || !this.chartsEl) return;
    const { win, dimension, dimensionSeries, totalSeries } = this.data;
    const times = bucketTimes(win.start, win.end, win.bucket);
    const index = new Map(times.map((t, i) => [bucketKey(t, win.bucket), i]));
    const top = Number(this.controls.top.value);
    const byDim = dimensionLabel(dimension);
    const axis = { times, tickLabel: tickLabeller(win.bucket, win.end - win.start), pointLabel: pointLabeller(win.bucket) };
    const stacked = (title, metric, format, axisFormat, integer = true) => timeChart({
      ...axis, title: `${title} by ${byDim}`, kind: 'stacked', format, axisFormat, integer,
      series: stackedSeries(dimensionSeries, metric, top, index, times.length),
    });
    const latency = (title, metric) => timeChart({
      ...axis, title: `${title} by ${byDim}`, kind: 'lines', format: ms, axisFormat: ms,
      series: [...lineSeries(dimensionSeries, metric, top, index, times.length),
        { name: 'all requests', colour: OTHER_COLOUR, dashed: true, values: valuesOf(totalSeries, metric, index, times.length, null) }],
    });
    const note = dimension === 'tag' ? h('p', { class: 'muted chart-note' }, 'A request with several tags counts once for each.') : null;
    clear(this.chartsEl,
      stacked('Requests', 'requests', num, compact),
      stacked('Errors', 'errors', num, compact),
      stacked('Tokens', 'total_tokens', num, compact),
      stacked('Cost (USD)', 'cost_usd', usd, axisUsd, false),
      latency('Latency p50', 'latency_p50_ms'),
      latency('Latency p95', 'latency_p95_ms'),
      note);
  }

  breakdownTabs() {
    return tabs(DIMENSIONS.map(([name, label]) => ({
      label,
      render: (panel) => {
        const groups = this.data.breakdowns[name];
        const csv = button('Download CSV', null, { kind: 'small' });
        csv.addEventListener('click', busy(csv, () => download(`/usage/aggregate${qs({ ...this.data.params, group_by: name, format: 'csv' })}`,
          `usage-by-${name}.csv`)));
        const filterable = name !== 'model';
        clear(panel,
          h('div', { class: 'breakdown-head' },
            h('span', { class: 'muted' }, filterable ? `Select a row to filter by its ${label.toLowerCase()}.` : ''), csv),
          groups.length ? barChart({ title: `Requests by ${label.toLowerCase()} (top 8)`, colour: 1,
            items: groups.slice(0, 8).map((g) => ({ label: keyLabel(g.key), value: g.requests })) }) : null,
          table(breakdownColumns(label), groups, {
            empty: 'No requests.', caption: `Usage by ${label.toLowerCase()}`,
            onRow: filterable ? (g) => this.filterBy(name, g.key) : undefined,
          }));
      },
    })));
  }

  filterBy(dimension, key) {
    if (key === null || key === undefined) return;
    const c = this.controls;
    if (dimension === 'endpoint') {
      if (![...c.endpoint.options].some((o) => o.value === key)) c.endpoint.append(h('option', { value: key }, key));
      c.endpoint.value = key;
      this.syncHash();
    } else if (dimension === 'requester' && !this.seesOnlyOwn) {
      c.requester.value = key;
    } else if (dimension === 'tag') {
      c.tag.value = key;
    } else {
      return;
    }
    this.load();
  }

  async exportAggregate() {
    const win = this.window();
    const dimension = this.controls.dimension.value;
    const path = `/usage/aggregate${qs({ ...this.filters(win), group_by: dimension, bucket: win.bucket, limit: MAX_LIMIT, format: 'csv' })}`;
    await download(path, `usage-by-${dimension}-per-${win.bucket}.csv`);
  }

  async exportRows() {
    const win = this.window();
    await download(`/usage${qs({ ...this.filters(win), limit: MAX_LIMIT, format: 'csv' })}`, 'usage-rows.csv');
  }
}

// --- the pieces ------------------------------------------------------------------------------

function summaryCards(t) {
  const rate = t.requests ? `${((100 * t.errors) / t.requests).toFixed(1)} %` : '—';
  const card = (label, value, detail) => h('div', { class: 'card stat', role: 'group', 'aria-label': label },
    h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), detail ? h('div', { class: 'detail muted' }, detail) : null);
  return h('div', { class: 'cards usage-cards' },
    card('Requests', num(t.requests)),
    card('Errors', num(t.errors), `${rate} of requests`),
    card('Input tokens', num(t.input_tokens)),
    card('Output tokens', num(t.output_tokens)),
    card('Cost', usd(t.cost_usd), t.unpriced ? `${num(t.unpriced)} requests without a price` : null),
    card('Latency p50', ms(t.latency_p50_ms)),
    card('Latency p95', ms(t.latency_p95_ms), t.ttfb_p50_ms === null ? null : `streams' first byte p50: ${ms(t.ttfb_p50_ms)}`));
}

function breakdownColumns(label) {
  const n = (key, title, fmt = num) => ({ key, label: title, class: 'num', render: (g) => fmt(g[key]) });
  return [
    { key: 'key', label, render: (g) => keyLabel(g.key) },
    n('requests', 'Requests'), n('errors', 'Errors'),
    { key: 'rate', label: 'Error rate', class: 'num', render: (g) => (g.requests ? `${((100 * g.errors) / g.requests).toFixed(1)} %` : '—') },
    n('input_tokens', 'Input tokens'), n('output_tokens', 'Output tokens'), n('cost_usd', 'Cost', usd),
    n('latency_p50_ms', 'p50', ms), n('latency_p95_ms', 'p95', ms),
  ];
}

const keyLabel = (key) => (key === null || key === undefined || key === '' ? '(none)' : String(key));
const dimensionLabel = (name) => DIMENSIONS.find(([n]) => n === name)[1].toLowerCase();

// The keys charted one by one: the top N by requests over the window, in that order (the same
// keys, and colours, in every chart); the others are summed as "other" where sums make sense.
function topKeys(points, top) {
  const requests = new Map();
  for (const p of points) requests.set(keyLabel(p.key), (requests.get(keyLabel(p.key)) || 0) + p.requests);
  const ranked = [...requests.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([name]) => name);
  return { shown: ranked.slice(0, top), more: ranked.length > top };
}

const colourOf = (i) => TOP_COLOURS[i % TOP_COLOURS.length];

// Sums (requests, tokens, errors, cost) stack: the top keys, then "other"; a key with nothing
// to show in this chart (no errors, say) is left out of its legend.
function stackedSeries(points, metric, top, index, count) {
  const { shown, more } = topKeys(points, top);
  const series = shown.map((name, i) => ({ name, colour: colourOf(i), values: new Array(count).fill(0) }));
  const other = { name: 'other', colour: OTHER_COLOUR, values: new Array(count).fill(0) };
  for (const p of points) {
    const i = index.get(p.bucket);
    if (i === undefined) continue;
    const at = shown.indexOf(keyLabel(p.key));
    (at >= 0 ? series[at] : other).values[i] += p[metric] || 0;
  }
  if (more) series.push(other);
  return series.filter((s) => s.values.some((v) => v > 0));
}

// Percentiles do not add up: one line per top key, no "other".
function lineSeries(points, metric, top, index, count) {
  return topKeys(points, top).shown.map((name, i) => ({
    name, colour: colourOf(i),
    values: valuesOf(points.filter((p) => keyLabel(p.key) === name), metric, index, count, null),
  }));
}

function valuesOf(points, metric, index, count, missing) {
  const values = new Array(count).fill(missing);
  for (const p of points) {
    const i = index.get(p.bucket);
    if (i !== undefined && p[metric] !== null && p[metric] !== undefined) values[i] = p[metric];
  }
  return values;
}

// --- time ------------------------------------------------------------------------------------

// The chart's step: minutes for up to two hours, hours for up to three days, days beyond.
function bucketFor(spanSeconds) {
  if (spanSeconds <= 2 * 3600) return 'minute';
  if (spanSeconds <= 3 * 86400) return 'hour';
  return 'day';
}

// The starts (ms) of every bucket from start to end: buckets are UTC minutes, hours, days.
function bucketTimes(start, end, bucket) {
  const step = BUCKET_MS[bucket];
  const times = [];
  for (let t = Math.floor((start * 1000) / step) * step; t < end * 1000; t += step) times.push(t);
  return times;
}

// The API's name of the bucket starting at `t`: 2024-06-10T08:13:00Z, ...T08:00:00Z, 2024-06-10.
function bucketKey(t, bucket) {
  const iso = new Date(t).toISOString();
  if (bucket === 'minute') return `${iso.slice(0, 16)}:00Z`;
  if (bucket === 'hour') return `${iso.slice(0, 13)}:00:00Z`;
  return iso.slice(0, 10);
}

const pad = (v) => String(v).padStart(2, '0');
// Axis labels in the browser's time zone (days are UTC days, labelled as such).
function tickLabeller(bucket, span) {
  if (bucket === 'day') return (t) => new Date(t).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
  return (t) => {
    const d = new Date(t);
    const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return span > 86400 && d.getHours() === 0 ? `${d.getDate()}/${d.getMonth() + 1}` : clock;
  };
}

function pointLabeller(bucket) {
  if (bucket === 'day') return (t) => `${new Date(t).toISOString().slice(0, 10)} (UTC day)`;
  return (t) => when(t / 1000).slice(0, 16);
}

// datetime-local's value for a moment, in local time: 2024-06-10T08:13
function localInput(t) {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function axisUsd(v) {
  if (v === 0) return '$0';
  return v >= 1 ? `$${compact(v)}` : `$${Number(v.toPrecision(2))}`;
}

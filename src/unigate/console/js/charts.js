// Small SVG charts for the usage dashboard: values over time (stacked bars, or lines) and a
// horizontal bar chart for a top N. Pure SVG built with ui.h; colours are the classes
// series-1..8 (css/usage.css maps them to --series-N: the page's CSP forbids style attributes).
// Each chart is an <figure> whose <svg> has role="img" and an aria-label saying what it shows,
// a legend, and a visually hidden table of every value (for screen readers and tests).

import { h, clear } from './ui.js';

const WIDTH = 560;
const HEIGHT = 220;
const MARGIN = { top: 12, right: 14, bottom: 26, left: 52 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

// 950 -> '950', 1234 -> '1.2k', 3_400_000 -> '3.4M' (axis labels and legends).
export function compact(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  const abs = Math.abs(n);
  for (const [size, suffix] of [[1e9, 'B'], [1e6, 'M'], [1e3, 'k']]) {
    if (abs >= size) return `${trim((n / size).toFixed(abs >= size * 100 ? 0 : 1))}${suffix}`;
  }
  if (abs === 0 || abs >= 100) return String(Math.round(n));
  return trim(abs >= 1 ? n.toFixed(1) : n.toPrecision(2));
}

const trim = (text) => (text.includes('.') ? text.replace(/\.?0+$/, '') : text);

// Round tick values from 0 to at least `max`: 0, 25, 50, 75, 100 (about `count` steps);
// whole numbers only for counts (`integer`).
export function niceTicks(max, count = 4, integer = false) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  if (integer) step = Math.ceil(step);
  const ticks = [];
  for (let v = 0; v < max + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

const seriesClass = (colour) => `series-${colour}`;

function legend(series) {
  return h('ul', { class: 'legend' }, series.map((s) =>
    h('li', {}, h('span', { class: ['swatch', seriesClass(s.colour), s.dashed ? 'dashed' : ''] }), s.name)));
}

// The values as a table nobody sees but screen readers and tests read.
function valuesTable(title, rowLabels, series, format) {
  return h('table', { class: 'visually-hidden', dataset: { chartValues: '' } },
    h('caption', {}, title),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Time'), series.map((s) => h('th', { scope: 'col' }, s.name)))),
    h('tbody', {}, rowLabels.map((label, i) => h('tr', {}, h('th', { scope: 'row' }, label),
      series.map((s) => h('td', { dataset: { value: s.values[i] ?? '' } }, s.values[i] === null ? '' : format(s.values[i])))))));
}

function total(values) {
  return values.reduce((sum, v) => sum + (v || 0), 0);
}

// timeChart({title, times, tickLabel, pointLabel, series: [{name, values, colour, dashed?}],
//            kind: 'stacked' | 'lines', format, axisFormat, integer, summary})
// `times` are the buckets' starts (ms), `values[i]` the series' value in bucket i (null: none).
export function timeChart(opts) {
  const { title, times, series, kind = 'stacked', format = compact, axisFormat = compact } = opts;
  const count = times.length;
  const column = PLOT_W / Math.max(count, 1);
  const heights = kind === 'stacked'
    ? times.map((_, i) => total(series.map((s) => s.values[i])))
    : series.flatMap((s) => s.values.filter((v) => v !== null));
  const ticks = niceTicks(Math.max(0, ...heights), 4, opts.integer);
  const top = ticks[ticks.length - 1];
  const y = (v) => MARGIN.top + PLOT_H - (v / top) * PLOT_H;
  const x = (i) => MARGIN.left + i * column;

  const svg = h('svg:svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart-svg', role: 'img',
    'aria-label': opts.summary || `${title}: ${series.map((s) => `${s.name} ${format(total(s.values))}`).join(', ')}`,
  });
  svg.append(yAxis(ticks, y, axisFormat), xAxis(times, x, column, opts.tickLabel));
  const marks = h('svg:g', { class: 'marks' });
  if (kind === 'stacked') drawStacks(marks, series, count, x, y, column);
  else drawLines(marks, series, count, x, y, column);
  const guide = h('svg:rect', { class: 'guide', x: 0, y: MARGIN.top, width: column, height: PLOT_H, visibility: 'hidden' });
  svg.append(guide, marks);

  const labels = times.map((t) => (opts.pointLabel ? opts.pointLabel(t) : new Date(t).toLocaleString()));
  const tip = h('div', { class: 'chart-tip', hidden: true, 'aria-hidden': 'true' });
  const figure = h('figure', {
    class: 'chart',
    dataset: { series: JSON.stringify(series.map((s) => s.name)),
      totals: JSON.stringify(Object.fromEntries(series.map((s) => [s.name, total(s.values)]))) },
  }, h('figcaption', {}, title), svg, legend(series), valuesTable(title, labels, series, format), tip);
  hover(figure, svg, guide, tip, { count, column, x, labels, series, kind, format });
  return figure;
}

function yAxis(ticks, y, axisFormat) {
  const g = h('svg:g', { class: 'axis y' });
  for (const t of ticks) {
    g.append(h('svg:line', { class: t === 0 ? 'baseline' : 'gridline', x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(t), y2: y(t) }),
      h('svg:text', { x: MARGIN.left - 6, y: y(t), 'text-anchor': 'end', 'dominant-baseline': 'middle' }, axisFormat(t)));
  }
  return g;
}

// About six labels, at the centre of evenly spaced buckets.
function xAxis(times, x, column, tickLabel = (t) => new Date(t).toLocaleTimeString()) {
  const g = h('svg:g', { class: 'axis x' });
  const every = Math.max(1, Math.ceil(times.length / 6));
  times.forEach((t, i) => {
    if (i % every !== 0) return;
    const cx = x(i) + column / 2;
    g.append(h('svg:line', { class: 'tick', x1: cx, x2: cx, y1: MARGIN.top + PLOT_H, y2: MARGIN.top + PLOT_H + 4 }),
      h('svg:text', { x: cx, y: HEIGHT - 6, 'text-anchor': 'middle' }, tickLabel(t)));
  });
  return g;
}

function drawStacks(marks, series, count, x, y, column) {
  const gap = column > 6 ? Math.min(column * 0.2, 6) : 0;
  for (let i = 0; i < count; i += 1) {
    let base = 0;
    for (const s of series) {
      const v = s.values[i] || 0;
      if (v <= 0) continue;
      marks.append(h('svg:rect', {
        class: ['bar', seriesClass(s.colour)], x: x(i) + gap / 2, width: Math.max(column - gap, 1),
        y: y(base + v), height: Math.max(y(base) - y(base + v), 0.5), dataset: { series: s.name, index: i, value: v },
      }));
      base += v;
    }
  }
}

// One path per series, broken where a bucket has no value; a dot on every value (a bucket
// alone between gaps still shows).
function drawLines(marks, series, count, x, y, column) {
  for (const s of series) {
    let d = '';
    let open = false;
    for (let i = 0; i < count; i += 1) {
      const v = s.values[i];
      if (v === null || v === undefined) { open = false; continue; }
      d += `${open ? 'L' : 'M'}${(x(i) + column / 2).toFixed(1)},${y(v).toFixed(1)}`;
      open = true;
    }
    marks.append(h('svg:path', { class: ['line', seriesClass(s.colour), s.dashed ? 'dashed' : ''], d, dataset: { series: s.name } }));
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      marks.append(h('svg:circle', { class: ['dot', seriesClass(s.colour)], cx: x(i) + column / 2, cy: y(v), r: 2.5,
        dataset: { series: s.name, index: i, value: v } }));
    });
  }
}

// Hovering a bucket highlights it and shows its values next to the pointer.
function hover(figure, svg, guide, tip, { count, column, x, labels, series, kind, format }) {
  const hide = () => { tip.hidden = true; guide.setAttribute('visibility', 'hidden'); };
  svg.addEventListener('mouseleave', hide);
  svg.addEventListener('mousemove', (e) => {
    const box = svg.getBoundingClientRect();
    const px = ((e.clientX - box.left) / box.width) * WIDTH;
    const i = Math.floor((px - MARGIN.left) / column);
    if (i < 0 || i >= count) { hide(); return; }
    guide.setAttribute('x', x(i));
    guide.setAttribute('visibility', 'visible');
    const rows = series.filter((s) => s.values[i] !== null && s.values[i] !== undefined && (kind !== 'stacked' || s.values[i] > 0))
      .map((s) => h('div', { class: 'tip-row' }, h('span', { class: ['swatch', seriesClass(s.colour)] }), `${s.name}: ${format(s.values[i])}`));
    const sum = kind === 'stacked' ? h('div', { class: 'tip-total' }, `Total: ${format(total(series.map((s) => s.values[i])))}`) : null;
    clear(tip, h('div', { class: 'tip-time' }, labels[i]), rows.length ? rows : h('div', { class: 'muted' }, 'No requests'), sum);
    tip.hidden = false;
    const area = figure.getBoundingClientRect();
    const left = e.clientX - area.left + 14;
    tip.style.left = `${Math.min(left, area.width - tip.offsetWidth - 4)}px`;
    tip.style.top = `${e.clientY - area.top + 10}px`;
  });
}

// barChart({title, items: [{label, value}], format, colour}): one horizontal bar per item.
export function barChart({ title, items, format = compact, colour = 1 }) {
  const row = 24;
  const labelWidth = 200;
  const valueWidth = 70;
  const height = items.length * row + 8;
  const max = Math.max(0, ...items.map((it) => it.value)) || 1;
  const barSpace = WIDTH - labelWidth - valueWidth;
  const svg = h('svg:svg', {
    viewBox: `0 0 ${WIDTH} ${height}`, class: 'chart-svg bars', role: 'img',
    'aria-label': `${title}: ${items.map((it) => `${it.label} ${format(it.value)}`).join(', ')}`,
  });
  items.forEach((it, i) => {
    const top = 4 + i * row;
    const width = Math.max((it.value / max) * barSpace, it.value > 0 ? 1 : 0);
    svg.append(
      h('svg:text', { class: 'bar-label', x: labelWidth - 8, y: top + row / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' },
        shorten(it.label, 28), h('svg:title', {}, it.label)),
      h('svg:rect', { class: ['bar', seriesClass(colour)], x: labelWidth, y: top + 4, width, height: row - 8, rx: 3,
        dataset: { label: it.label, value: it.value } }, h('svg:title', {}, `${it.label}: ${format(it.value)}`)),
      h('svg:text', { class: 'bar-value', x: labelWidth + width + 6, y: top + row / 2, 'dominant-baseline': 'middle' }, format(it.value)));
  });
  return h('figure', { class: 'chart bar-chart' }, h('figcaption', {}, title), svg);
}

function shorten(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

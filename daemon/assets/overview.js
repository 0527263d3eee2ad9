// Overview: mentions over time stacked by sentiment with the mean score line (uPlot),
// share of voice between brands, top sources, authors and terms, for any range.

import { t, formatTime, formatNumber, lang } from './i18n.js';
import { api, brands as brandNames } from './api.js';
import {
  h, field, select, table, notice, hashParams, setHashParams, rangeParams, rangeOptions, toQuery,
  customRangeProblem, localInputValue,
} from './util.js';

const COLORS = {
  negative: '#c0392b',
  neutral: '#8a9499',
  positive: '#2e8b57',
  unscored: '#d5d9dc',
  mean: '#1f3f66',
};
/// Stacking order, bottom first.
const LABELS = ['negative', 'neutral', 'positive', 'unscored'];

export async function render(main) {
  const state = { brand: '', range: '48h', interval: 'hour', from: '', to: '', ...hashParams() };
  let brands = [];
  try {
    brands = await brandNames();
  } catch {
    // The share-of-voice panel below reports the error.
  }
  const brand = select([['', t('all_brands')], ...brands.map((b) => [b, b])], state.brand);
  const range = select(rangeOptions(false), state.range);
  const interval = select([['hour', t('interval_hour')], ['day', t('interval_day')]], state.interval);
  const from = h('input', { type: 'datetime-local', value: state.from, step: 60 });
  const to = h('input', { type: 'datetime-local', value: state.to, step: 60 });
  const rangeError = h('p', { class: 'form-error', id: 'range-error', role: 'alert' });
  from.setAttribute('aria-errormessage', 'range-error');
  to.setAttribute('aria-errormessage', 'range-error');
  const custom = h('div', { class: 'custom-range' }, field('o-from', t('filter_from'), from), field('o-to', t('filter_to'), to), rangeError);
  let lastPreset = state.range === 'custom' ? '48h' : state.range;
  const showCustom = () => {
    custom.hidden = range.value !== 'custom';
    if (range.value === 'custom') {
      // Start from the range shown so far, so one end is enough to change.
      const now = Date.now();
      const presetMs = { '24h': 24, '48h': 48, '7d': 168, '30d': 720, '90d': 2160 }[lastPreset] * 3600 * 1000;
      if (!from.value) from.value = localInputValue(new Date(now - presetMs));
      if (!to.value) to.value = localInputValue(new Date(now));
      from.focus();
    } else {
      lastPreset = range.value;
      rangeError.textContent = '';
    }
  };
  range.addEventListener('change', showCustom);
  custom.hidden = range.value !== 'custom';
  const form = h('form', { class: 'card toolbar overview-form' },
    h('div', { class: 'filters' },
      field('o-brand', t('filter_brand'), brand),
      field('o-range', t('filter_range'), range),
      field('o-interval', t('interval'), interval),
      h('div', { class: 'field submit' }, h('button', { type: 'submit', class: 'primary' }, t('apply')))),
    custom);

  const chartBox = h('div', { class: 'chart', id: 'timeline-chart', role: 'img', 'aria-label': t('chart_mentions') });
  const chartNote = h('p', { class: 'chart-note', id: 'timeline-note' });
  const chartTable = h('details', { class: 'chart-data', hidden: true });
  const chartCard = h('section', { class: 'card', 'aria-labelledby': 'chart-title' },
    h('h2', { id: 'chart-title' }, t('chart_mentions')), chartBox, chartNote, chartTable);
  const sovCard = h('section', { class: 'card', 'aria-labelledby': 'sov-title', id: 'share-of-voice' }, h('h2', { id: 'sov-title' }, t('share_of_voice')));
  const sourcesCard = h('section', { class: 'card', 'aria-labelledby': 'ts-title', id: 'top-sources' }, h('h2', { id: 'ts-title' }, t('top_sources')));
  const authorsCard = h('section', { class: 'card', 'aria-labelledby': 'ta-title', id: 'top-authors' }, h('h2', { id: 'ta-title' }, t('top_authors')));
  const termsCard = h('section', { class: 'card', 'aria-labelledby': 'tt-title', id: 'top-terms' }, h('h2', { id: 'tt-title' }, t('top_terms')));
  main.append(h('h1', {}, t('overview_title')), form, chartCard,
    h('div', { class: 'grid' }, sovCard, termsCard, sourcesCard, authorsCard));

  let plot = null;
  /// Whether the page has shown data once (a bad range then keeps it).
  let loaded = false;
  const resize = () => {
    if (plot) plot.setSize(chartSize(chartBox));
  };
  window.addEventListener('resize', resize);

  async function load() {
    const problem = range.value === 'custom' ? customRangeProblem(from.value, to.value, true) : null;
    rangeError.textContent = problem ? t(problem) : '';
    from.toggleAttribute('aria-invalid', Boolean(problem));
    to.toggleAttribute('aria-invalid', Boolean(problem));
    if (problem) {
      (problem === 'range_need_both' && from.value ? to : from).focus();
      if (!loaded) {
        // Opened from a link with a bad range: say why the page is empty.
        chartNote.textContent = t('range_fix_first');
        chartBox.hidden = true;
        for (const card of [sovCard, sourcesCard, authorsCard, termsCard]) {
          card.replaceChildren(card.firstElementChild, h('p', { class: 'help' }, t('range_fix_first')));
        }
      }
      return;
    }
    loaded = true;
    setHashParams('overview', {
      brand: brand.value, range: range.value, interval: interval.value,
      from: range.value === 'custom' ? from.value : '', to: range.value === 'custom' ? to.value : '',
    });
    const span = rangeParams(range.value, from.value, to.value);
    const filters = { brand: brand.value, ...span };
    const keep = (card) => card.firstElementChild;
    for (const card of [sovCard, sourcesCard, authorsCard, termsCard]) {
      card.replaceChildren(keep(card), h('p', { class: 'loading' }, t('loading')));
    }
    chartNote.textContent = t('loading');
    const [timeline, share, sources, authors, terms] = await Promise.allSettled([
      api(`/api/timeline?${toQuery({ ...filters, interval: interval.value })}`),
      api(`/api/share_of_voice?${toQuery(span)}`),
      api(`/api/top/sources?${toQuery({ ...filters, limit: 10 })}`),
      api(`/api/top/authors?${toQuery({ ...filters, limit: 10 })}`),
      api(`/api/top/terms?${toQuery({ ...filters, limit: 15 })}`),
    ]);
    if (plot) {
      plot.destroy();
      plot = null;
    }
    chartBox.replaceChildren();
    chartTable.replaceChildren();
    if (timeline.status === 'fulfilled') {
      chartBox.hidden = false;
      plot = drawTimeline(chartBox, chartNote, timeline.value);
      chartTable.replaceChildren(h('summary', {}, t('chart_as_table')), timelineTable(timeline.value));
      chartTable.hidden = false;
    } else {
      chartTable.hidden = true;
      chartNote.replaceChildren(notice('error', timeline.reason.describe()));
    }
    fill(sovCard, share, (rows) => shareOfVoice(rows));
    fill(sourcesCard, sources, (rows) => table([t('col_source'), t('col_posts'), t('col_mean'), t('filter_sentiment')],
      rows.map((row) => [row.source, formatNumber(row.count), formatNumber(row.mean_score, 2), labelBar(row)])));
    fill(authorsCard, authors, (rows) => table([t('col_author'), t('col_posts'), t('col_reach'), t('col_mean')],
      rows.map((row) => [row.author, formatNumber(row.posts), formatNumber(row.total_reach), formatNumber(row.mean_score, 2)])));
    fill(termsCard, terms, (result) => (result.terms.length
      ? table([t('col_term'), t('col_period'), t('col_baseline'), t('col_g2')], result.terms.map((row) => [
        h('a', {
          href: `#/search?${toQuery({
            q: row.term, brand: brand.value, range: range.value,
            from: range.value === 'custom' ? from.value : '', to: range.value === 'custom' ? to.value : '',
          })}`,
        }, row.term),
        formatNumber(row.count), formatNumber(row.baseline_count), formatNumber(row.score, 1)]))
      : h('p', { class: 'help' }, t('nothing_yet'))));
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  await load();
  return () => {
    window.removeEventListener('resize', resize);
    if (plot) plot.destroy();
  };
}

/// The chart's numbers as a table (for screen readers, and to read exact counts).
function timelineTable(timeline) {
  const rows = timeline.buckets.filter((bucket) => bucket.count > 0).reverse();
  return table([t('chart_time'), t('col_mentions'), ...LABELS.map((label) => t(`sentiment_${label}`)), t('col_mean')],
    rows.map((bucket) => [
      h('time', { datetime: bucket.start }, formatTime(bucket.start)),
      formatNumber(bucket.count),
      ...LABELS.map((label) => formatNumber(bucket[label])),
      formatNumber(bucket.mean_score, 2),
    ]));
}

function fill(card, settled, build) {
  const title = card.firstElementChild;
  if (settled.status === 'rejected') {
    card.replaceChildren(title, notice('error', settled.reason.describe()));
    return;
  }
  const value = settled.value;
  if (Array.isArray(value) && value.length === 0) {
    card.replaceChildren(title, h('p', { class: 'help' }, t('nothing_yet')));
    return;
  }
  card.replaceChildren(title, build(value));
}

/// A small stacked bar of label counts, with the numbers in its title and text.
function labelBar(row) {
  const total = LABELS.reduce((sum, label) => sum + (row[label] || 0), 0) || 1;
  const description = LABELS.filter((label) => row[label]).map((label) => `${t(`sentiment_${label}`)} ${row[label]}`).join(', ');
  return h('span', { class: 'label-bar', title: description, 'aria-label': description, role: 'img' },
    LABELS.map((label) => (row[label]
      ? h('span', { class: `seg sentiment-bg-${label}`, style: `width:${(100 * row[label]) / total}%` })
      : null)));
}

function shareOfVoice(rows) {
  return h('ul', { class: 'sov' }, rows.map((row) => h('li', {},
    h('div', { class: 'sov-head' }, h('strong', {}, row.brand),
      h('span', {}, `${formatNumber(row.share * 100, 1)}% · ${formatNumber(row.mentions)} ${t('col_mentions').toLowerCase()}`)),
    h('div', { class: 'sov-track' }, h('span', { class: 'sov-fill', style: `width:${Math.max(0.5, row.share * 100)}%` })),
    labelBar(row))));
}

function chartSize(box) {
  const width = Math.max(260, box.clientWidth);
  return { width, height: width < 500 ? 220 : 300 };
}

/// Draws the timeline; puts the peak bucket on the chart element as data attributes
/// (`data-peak-start`, `data-peak-count`, `data-total`) and in a sentence below it.
function drawTimeline(box, note, timeline) {
  const buckets = timeline.buckets;
  const xs = buckets.map((bucket) => Date.parse(bucket.start) / 1000);
  // Stacked bars: each series is the sum of its label and those below it, drawn top
  // first so lower ones paint over; the legend shows each label's own count.
  const own = LABELS.map((label) => buckets.map((bucket) => bucket[label] || 0));
  const stacked = LABELS.map((_, level) => buckets.map((__, i) => {
    let sum = 0;
    for (let j = 0; j <= level; j++) sum += own[j][i];
    return sum;
  }));
  const mean = buckets.map((bucket) => (bucket.mean_score === null ? null : bucket.mean_score));
  let peak = null;
  for (const bucket of buckets) {
    if (!peak || bucket.count > peak.count) peak = bucket;
  }
  box.dataset.total = String(timeline.total);
  box.dataset.buckets = String(buckets.length);
  box.dataset.interval = timeline.interval;
  if (peak) {
    box.dataset.peakStart = peak.start;
    box.dataset.peakCount = String(peak.count);
  }
  const shown = t('range_shown', { from: formatTime(timeline.from), to: formatTime(timeline.to) });
  note.textContent = timeline.total === 0 ? `${shown} · ${t('nothing_yet')}`
    : `${shown} · ${t('chart_total', { total: formatNumber(timeline.total) })} · ${t('chart_peak', { count: formatNumber(peak.count), time: formatTime(peak.start) })}`;

  if (typeof window.uPlot !== 'function') return null;
  const uPlot = window.uPlot;
  const bars = uPlot.paths.bars({ size: [0.85, 40], align: 0 });
  const order = [3, 2, 1, 0];
  const series = [
    { label: t('chart_time'), value: (u, v) => (v === null ? '' : formatTime(new Date(v * 1000).toISOString())) },
    ...order.map((level) => ({
      label: t(`sentiment_${LABELS[level]}`),
      scale: 'count',
      fill: COLORS[LABELS[level]],
      stroke: COLORS[LABELS[level]],
      width: 0,
      paths: bars,
      points: { show: false },
      value: (u, v, si, i) => (i === null || i === undefined ? '' : formatNumber(own[level][i])),
    })),
    {
      label: t('chart_mean'),
      scale: 'score',
      stroke: COLORS.mean,
      width: 1.5,
      spanGaps: false,
      points: { show: buckets.length <= 72, size: 4 },
      value: (u, v) => (v === null || v === undefined ? '' : v.toFixed(2)),
    },
  ];
  const data = [xs, ...order.map((level) => stacked[level]), mean];
  const locale = lang === 'zh' ? 'zh-CN' : 'en-GB';
  const narrow = box.clientWidth < 500;
  const step = timeline.interval === 'hour' ? 3600 : 86400;
  const options = {
    ...chartSize(box),
    series,
    scales: {
      // Half a bucket either side, so the first and last (centred) bars are whole.
      x: { time: true, range: (u, min, max) => [min - step / 2, max + step / 2] },
      count: { range: (u, min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] },
      score: { range: [-1, 1] },
    },
    axes: [
      {
        space: timeline.interval === 'hour' ? 90 : 60,
        // Ticks on whole buckets only (the labels show no minutes).
        incrs: [1, 2, 3, 6, 12, 24, 48, 7 * 24, 14 * 24, 28 * 24, 91 * 24, 365 * 24]
          .map((hours) => hours * 3600).filter((seconds) => seconds >= step),
        values: (u, splits) => splits.map((s) => new Date(s * 1000).toLocaleString(locale,
          timeline.interval === 'hour' ? { month: 'numeric', day: 'numeric', hour: '2-digit' } : { month: 'short', day: 'numeric' })),
      },
      // Phones: narrower axes without titles, so the bars get the width.
      { scale: 'count', label: narrow ? undefined : t('col_mentions'), size: narrow ? 34 : 50 },
      { scale: 'score', side: 1, label: narrow ? undefined : t('chart_mean'), size: narrow ? 40 : 50, grid: { show: false } },
    ],
    legend: { live: true },
    cursor: { points: { show: false } },
  };
  return new uPlot(options, data, box);
}

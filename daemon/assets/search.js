// Search page: the query language, filters, hits with highlighted snippets, "load
// more" through the API's cursors, and CSV export of the whole result set.

import { t, formatTime, formatNumber } from './i18n.js';
import { api, brands as brandNames } from './api.js';
import {
  h, field, select, snippet, sentimentBadge, notice, hashParams, setHashParams,
  rangeParams, rangeOptions, toQuery, customRangeProblem,
} from './util.js';

const PAGE_SIZE = 25;
const EXPORT_PAGE = 1000;
const EXPORT_MAX = 100000;
const CSV_COLUMNS = ['id', 'published_at', 'source', 'brands', 'author', 'url', 'lang', 'sentiment',
  'score', 'reach', 'duplicate_of', 'title', 'text', 'relevance'];

/// Brands and sources for the filter menus, fetched once per page load.
async function filterChoices() {
  const [brands, sources] = await Promise.allSettled([
    brandNames(),
    api('/api/sources'),
  ]);
  return {
    brands: brands.status === 'fulfilled' ? brands.value : [],
    sources: sources.status === 'fulfilled' ? sources.value.sources.map((row) => row.name) : [],
  };
}

export async function render(main) {
  const state = { q: '*', brand: '', source: '', sentiment: '', lang: '', range: '7d', from: '', to: '', sort: '', ...hashParams() };
  const choices = await filterChoices();
  const q = h('input', { type: 'search', value: state.q, autocomplete: 'off', spellcheck: 'false', enterkeyhint: 'search' });
  const brand = select([['', t('any')], ...choices.brands.map((b) => [b, b])], state.brand);
  const source = select([['', t('any')], ...choices.sources.map((s) => [s, s])], state.source);
  const sentiment = select([['', t('any')], ...['negative', 'neutral', 'positive'].map((s) => [s, t(`sentiment_${s}`)])], state.sentiment);
  const language = select([['', t('any')], ['en', t('lang_en')], ['zh', t('lang_zh')]], state.lang);
  const range = select(rangeOptions(true), state.range);
  const from = h('input', { type: 'datetime-local', value: state.from });
  const to = h('input', { type: 'datetime-local', value: state.to });
  const sort = select([['', t('sort_default')], ['relevance', t('sort_relevance')], ['time', t('sort_time')], ['oldest', t('sort_oldest')]], state.sort);
  const rangeError = h('p', { class: 'form-error', id: 's-range-error', role: 'alert' });
  const custom = h('div', { class: 'custom-range' }, field('s-from', t('filter_from'), from), field('s-to', t('filter_to'), to), rangeError);
  const showCustom = () => { custom.hidden = range.value !== 'custom'; };
  range.addEventListener('change', showCustom);
  showCustom();

  const summary = h('p', { class: 'summary', 'aria-live': 'polite', id: 'search-summary' });
  const list = h('ol', { class: 'hits', id: 'hits' });
  const more = h('button', { type: 'button', hidden: true, id: 'load-more' }, t('load_more'));
  const exportButton = h('button', { type: 'button', hidden: true, id: 'export-csv' }, t('export_csv'));
  const exportStatus = h('span', { class: 'help', 'aria-live': 'polite' });
  const problem = h('div');

  const form = h('form', { class: 'card search-form', role: 'search' },
    h('div', { class: 'query-row' },
      field('q', t('search_query'), q, t('search_query_help')),
      h('button', { type: 'submit', class: 'primary' }, t('search_submit'))),
    h('div', { class: 'filters' },
      field('s-brand', t('filter_brand'), brand),
      field('s-source', t('filter_source'), source),
      field('s-sentiment', t('filter_sentiment'), sentiment),
      field('s-lang', t('filter_lang'), language),
      field('s-range', t('filter_range'), range),
      field('s-sort', t('filter_sort'), sort)),
    custom);

  main.append(h('h1', {}, t('search_title')), form, problem,
    h('div', { class: 'results-bar' }, summary, h('div', { class: 'actions' }, exportButton, exportStatus)),
    list, more);

  let cursor = null;
  let total = 0;
  let shown = 0;
  let currentQuery = null;

  function readForm() {
    const values = {
      q: q.value.trim() || '*', brand: brand.value, source: source.value, sentiment: sentiment.value,
      lang: language.value, range: range.value, from: from.value, to: to.value, sort: sort.value,
    };
    setHashParams('search', { ...values, from: values.range === 'custom' ? values.from : '', to: values.range === 'custom' ? values.to : '' });
    const { from: fromParam, to: toParam } = rangeParams(values.range, values.from, values.to);
    return {
      q: values.q, brand: values.brand, source: values.source, sentiment: values.sentiment,
      lang: values.lang, from: fromParam, to: toParam, sort: values.sort,
    };
  }

  async function load(append) {
    problem.replaceChildren();
    if (!append) {
      const wrong = range.value === 'custom' ? customRangeProblem(from.value, to.value, false) : null;
      rangeError.textContent = wrong ? t(wrong) : '';
      if (wrong) {
        from.focus();
        return;
      }
      currentQuery = readForm();
      cursor = null;
      shown = 0;
      list.replaceChildren();
      summary.textContent = t('loading');
    }
    more.disabled = true;
    try {
      const page = await api(`/api/search?${toQuery({ ...currentQuery, limit: PAGE_SIZE, cursor })}`);
      total = page.total;
      for (const hit of page.hits) list.append(hitItem(hit));
      shown += page.hits.length;
      cursor = page.next_cursor || null;
      summary.textContent = total === 0 ? t('results_none')
        : `${t('results_count', { total: formatNumber(total) })} · ${t('results_showing', { shown: formatNumber(shown), total: formatNumber(total) })}`;
      more.hidden = !cursor || shown >= total;
      exportButton.hidden = total === 0;
    } catch (error) {
      summary.textContent = '';
      problem.replaceChildren(notice('error', error.describe()));
    } finally {
      more.disabled = false;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load(false);
  });
  more.addEventListener('click', () => load(true));
  // Infinite scrolling: the next page loads when the button comes into view (it stays
  // a button for keyboards and screen readers).
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && !more.hidden && !more.disabled) load(true);
  }, { rootMargin: '200px' });
  observer.observe(more);
  exportButton.addEventListener('click', async () => {
    exportButton.disabled = true;
    try {
      const count = await exportCsv(currentQuery, (done) => {
        exportStatus.textContent = t('exporting', { done: formatNumber(done), total: formatNumber(total) });
      });
      exportStatus.textContent = t('exported', { count: formatNumber(count) });
    } catch (error) {
      exportStatus.textContent = '';
      problem.replaceChildren(notice('error', error.describe()));
    } finally {
      exportButton.disabled = false;
    }
  });
  await load(false);
  return () => observer.disconnect();
}

function hitItem(hit) {
  const meta = h('div', { class: 'hit-meta' },
    sentimentBadge(hit.sentiment?.label, hit.sentiment?.score),
    h('span', { class: 'source' }, hit.source),
    hit.author ? h('span', { class: 'author' }, t('by_author', { author: hit.author })) : null,
    h('time', { datetime: hit.published_at }, formatTime(hit.published_at)),
    (hit.brands || []).length ? h('span', { class: 'brands' }, hit.brands.join(', ')) : null,
    hit.duplicate_of ? h('span', { class: 'dup' }, t('duplicate')) : null);
  const title = hit.title && !hit.text.startsWith(hit.title.replace(/…$/, '')) ? h('h2', { class: 'hit-title' }, hit.title) : null;
  const body = hit.highlight?.html ? snippet(hit.highlight.html) : h('p', { class: 'snippet' }, hit.text);
  const link = /^https?:\/\//.test(hit.url || '')
    ? h('a', { href: hit.url, target: '_blank', rel: 'noopener noreferrer', class: 'open-link' }, t('open_post'))
    : null;
  return h('li', { class: 'hit card', lang: hit.lang || null, 'data-id': hit.id }, meta, title, body, link);
}

function csvCell(value) {
  if (value === null || value === undefined) return '';
  let text = Array.isArray(value) ? value.join(';') : String(value);
  // A cell starting like a formula would run in a spreadsheet.
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvRow(hit) {
  const row = {
    ...hit,
    sentiment: hit.sentiment?.label ?? '',
    score: hit.sentiment?.score ?? '',
  };
  return CSV_COLUMNS.map((column) => csvCell(row[column])).join(',');
}

/// Pages through the whole result set (time order, so cursors are stable) and saves it.
async function exportCsv(query, progress) {
  const lines = [CSV_COLUMNS.join(',')];
  let cursor = null;
  let count = 0;
  const sort = query.sort || (query.q === '*' ? 'time' : 'relevance');
  do {
    const page = await api(`/api/search?${toQuery({ ...query, sort, highlight: false, limit: EXPORT_PAGE, cursor })}`);
    for (const hit of page.hits) lines.push(csvRow(hit));
    count += page.hits.length;
    progress(count);
    cursor = page.hits.length ? page.next_cursor : null;
  } while (cursor && count < EXPORT_MAX);
  const blob = new Blob([`\ufeff${lines.join('\r\n')}\r\n`], { type: 'text/csv;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');
  const link = h('a', { href: url, download: `vigil-search-${stamp}.csv`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return count;
}

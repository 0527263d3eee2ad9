// Small DOM helpers shared by the pages. Text always goes in as text nodes; the only
// HTML taken from the API is search highlighting, which the API escapes (`<mark>` only).

import { t } from './i18n.js';

/// `h('a', {href: '#', class: 'x', onclick: fn}, 'text', child)`.
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/// Highlighted snippet HTML from `/api/search`, reduced to text and `<mark>` elements
/// whatever it holds.
export function snippet(html) {
  const template = document.createElement('template');
  template.innerHTML = html;
  const out = h('p', { class: 'snippet' });
  for (const node of template.content.childNodes) {
    if (node.nodeName === 'MARK') out.append(h('mark', {}, node.textContent));
    else out.append(document.createTextNode(node.textContent));
  }
  return out;
}

export function sentimentBadge(label, score) {
  const name = label || 'unscored';
  const text = t(`sentiment_${name}`);
  const title = score === null || score === undefined ? text : `${text} (${Number(score).toFixed(2)})`;
  return h('span', { class: `badge sentiment-${name}`, title }, text);
}

export function severityBadge(severity) {
  return h('span', { class: `badge severity-${severity}` }, t(`severity_${severity}`));
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, t(`status_${status}`));
}

/// A labelled form control: `field('q', t('search_query'), input)`.
export function field(id, label, control, help) {
  control.id = id;
  if (!control.name) control.name = id;
  const helpId = help ? `${id}-help` : null;
  if (helpId) control.setAttribute('aria-describedby', helpId);
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    help ? h('small', { id: helpId, class: 'help' }, help) : null);
}

export function select(options, selected) {
  return h('select', {}, options.map(([value, label]) =>
    h('option', { value, selected: String(value) === String(selected ?? '') }, label)));
}

export function table(columns, rows, { caption, className } = {}) {
  return h('div', { class: `table-wrap ${className || ''}` },
    h('table', {},
      caption ? h('caption', {}, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell, i) =>
        h('td', { 'data-label': columns[i] }, cell)))))));
}

/// The message box at the top of a page.
export function notice(kind, text, ...extra) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text, ...extra);
}

/// Parameters of the `#/page?a=b` route as an object.
export function hashParams() {
  const query = location.hash.split('?')[1] || '';
  return Object.fromEntries(new URLSearchParams(query));
}

export function setHashParams(page, params) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== null && v !== undefined));
  const next = `#/${page}${query.toString() ? `?${query}` : ''}`;
  if (location.hash !== next) history.replaceState(null, '', next);
}

/// `from`/`to` query values for a time-range choice (`24h`, `7d`, …, `all`, `custom`).
export function rangeParams(range, customFrom, customTo) {
  if (range === 'custom') {
    return {
      from: customFrom ? new Date(customFrom).toISOString() : '',
      to: customTo ? new Date(customTo).toISOString() : '',
    };
  }
  if (!range || range === 'all') return { from: '', to: '' };
  return { from: range, to: '' };
}

/// What is wrong with a custom range of two `datetime-local` values, as an i18n key
/// (`null` when it is fine). `needBoth`: an open end is not allowed.
export function customRangeProblem(from, to, needBoth) {
  if (needBoth && (!from || !to)) return 'range_need_both';
  if (from && to && !(new Date(from) < new Date(to))) return 'range_bad_order';
  return null;
}

/// A `Date` as a `datetime-local` input value (local time, to the minute).
export function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function rangeOptions(withAll = true) {
  const options = [['24h', t('range_24h')], ['48h', t('range_48h')], ['7d', t('range_7d')], ['30d', t('range_30d')], ['90d', t('range_90d')]];
  if (withAll) options.push(['all', t('range_all')]);
  options.push(['custom', t('range_custom')]);
  return options;
}

export function toQuery(params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== '' && value !== null && value !== undefined) query.set(name, value);
  }
  return query.toString();
}

/// A message above the page (`kind`: info, success, error), kept until the next one or
/// the next page.
export function flash(kind, text) {
  const box = document.getElementById('messages');
  box.replaceChildren(text ? notice(kind, text) : '');
}

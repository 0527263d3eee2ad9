// Sources: the health table of `GET /api/sources`.

import { t, formatTime, formatNumber, formatDuration } from './i18n.js';
import { api } from './api.js';
import { h, table, notice } from './util.js';

export async function render(main) {
  main.append(h('h1', {}, t('sources_title')));
  const body = h('div', { id: 'source-table' }, h('p', { class: 'loading' }, t('loading')));
  main.append(body);
  try {
    const { sources } = await api('/api/sources');
    const rows = sources.map((source) => [
      h('div', {}, h('strong', {}, source.name), h('small', { class: 'url' }, source.url || '')),
      h('span', { class: `badge source-${source.status}` }, t(`source_${source.status}`) || source.status),
      source.kind,
      source.last_success_at ? h('time', { datetime: source.last_success_at }, formatTime(source.last_success_at)) : t('never'),
      source.last_error
        ? h('div', { class: 'error-text' }, h('time', { datetime: source.last_error_at }, formatTime(source.last_error_at)), h('small', {}, source.last_error))
        : t('none'),
      formatNumber(source.items_last_run),
      formatNumber(source.posts_stored),
      h('span', {}, formatNumber(source.consecutive_failures),
        source.backfill_pending ? h('small', {}, ` · ${t('backfill_pending')}`) : null),
      source.interval_secs ? formatDuration(source.interval_secs * 1000) : t('none'),
    ]);
    body.replaceChildren(table(
      [t('col_name'), t('status'), t('col_kind'), t('col_last_success'), t('col_last_error'), t('col_items'), t('col_stored'), t('col_failures'), t('col_interval')],
      rows, { className: 'sources-table' }));
  } catch (error) {
    body.replaceChildren(notice('error', error.describe()));
  }
}

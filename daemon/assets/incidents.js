// Incidents: the list with each one's 24-hour response deadline counting down, and a
// detail page (trigger numbers, what the posts are about, evidence, timeline); both
// with acknowledge / resolve buttons for responders.

import { t, formatTime, formatDuration, formatNumber } from './i18n.js';
import { api, session } from './api.js';
import {
  h, field, select, table, notice, flash, sentimentBadge, severityBadge, statusBadge,
  hashParams, setHashParams,
} from './util.js';

/// How often the list reloads itself.
const REFRESH_MS = 30000;

/// Updates every `[data-deadline]` and `[data-since]` element under `root` once a second;
/// returns `{tick, stop}`: `tick` refreshes them at once (after a re-render).
function startClock(root) {
  const tick = () => {
    const now = Date.now();
    for (const element of root.querySelectorAll('[data-deadline]')) {
      const left = Date.parse(element.dataset.deadline) - now;
      if (element.dataset.status === 'resolved') {
        element.textContent = t('deadline_met');
        element.className = 'deadline done';
      } else if (left >= 0) {
        element.textContent = t('deadline_left', { left: formatDuration(left) });
        element.className = `deadline ${left < 2 * 3600 * 1000 ? 'urgent' : 'running'}`;
      } else {
        element.textContent = t('deadline_overdue', { late: formatDuration(-left) });
        element.className = 'deadline overdue';
      }
    }
    for (const element of root.querySelectorAll('[data-since]')) {
      element.textContent = t('age_ago', { age: formatDuration(now - Date.parse(element.dataset.since)) });
    }
  };
  tick();
  const timer = setInterval(tick, 1000);
  return { tick, stop: () => clearInterval(timer) };
}

function deadlineCell(incident) {
  return h('span', {
    class: 'deadline', role: 'timer', 'aria-live': 'off',
    'data-deadline': incident.response_deadline, 'data-status': incident.status,
    title: formatTime(incident.response_deadline),
  });
}

/// Acknowledge / resolve buttons for what the incident's status allows. `onDone` runs
/// after a successful action; a 403 hides responder buttons for the session.
function actionButtons(incident, onDone, noteInput) {
  if (session.readOnly || incident.status === 'resolved') return null;
  const act = async (action, button) => {
    if (action === 'resolve' && !window.confirm(t('confirm_resolve', { id: incident.id }))) return;
    button.disabled = true;
    const note = noteInput?.value.trim();
    try {
      await api(`/api/incidents/${incident.id}/${action}`, { method: 'POST', body: note ? { note } : {} });
      flash('success', t(action === 'ack' ? 'action_done_ack' : 'action_done_resolve', { id: incident.id }));
      await onDone();
    } catch (error) {
      flash('error', error.status === 403 ? t('forbidden') : error.describe());
      if (error.status === 403) {
        for (const element of document.querySelectorAll('.responder-actions')) element.remove();
      } else {
        button.disabled = false;
      }
    }
  };
  const buttons = [];
  if (incident.status === 'open') {
    const ack = h('button', { type: 'button', class: 'primary', 'data-action': 'ack', 'aria-label': `${t('acknowledge')} #${incident.id}` }, t('acknowledge'));
    ack.addEventListener('click', () => act('ack', ack));
    buttons.push(ack);
  }
  const resolve = h('button', { type: 'button', 'data-action': 'resolve', 'aria-label': `${t('resolve')} #${incident.id}` }, t('resolve'));
  resolve.addEventListener('click', () => act('resolve', resolve));
  buttons.push(resolve);
  return h('div', { class: 'responder-actions' }, buttons);
}

function whoLine(incident) {
  const lines = [];
  if (incident.acknowledged_by) lines.push(t('acknowledged_by', { name: incident.acknowledged_by, time: formatTime(incident.acknowledged_at) }));
  if (incident.resolved_by) lines.push(t('resolved_by', { name: incident.resolved_by, time: formatTime(incident.resolved_at) }));
  if (incident.silenced_until) lines.push(t('silenced_until', { time: formatTime(incident.silenced_until) }));
  return lines.map((line) => h('small', { class: 'who-line' }, line));
}

export async function render(main) {
  const state = { status: '', ...hashParams() };
  const status = select([['', t('status_all')], ...['open', 'acknowledged', 'resolved'].map((s) => [s, t(`status_${s}`)])], state.status);
  const body = h('div', { id: 'incident-list' }, h('p', { class: 'loading' }, t('loading')));
  main.append(h('h1', {}, t('incidents_title')),
    h('div', { class: 'card toolbar' }, field('i-status', t('status'), status)),
    body);

  async function load() {
    setHashParams('incidents', { status: status.value });
    try {
      const incidents = await api(`/api/incidents${status.value ? `?status=${status.value}` : ''}`);
      if (!incidents.length) {
        body.replaceChildren(notice('info', t('no_incidents')));
        return;
      }
      const rows = incidents.map((incident) => [
        h('a', { href: `#/incidents/${incident.id}` }, `#${incident.id}`),
        h('div', { class: 'incident-name' },
          h('a', { href: `#/incidents/${incident.id}` }, h('strong', {}, incident.brand), ' · ', incident.rule),
          h('small', { class: 'explanation' }, incident.trigger.explanation)),
        severityBadge(incident.severity),
        h('div', {}, statusBadge(incident.status), incident.overdue ? h('span', { class: 'badge overdue' }, t('overdue_flag')) : null, whoLine(incident)),
        h('span', { 'data-since': incident.opened_at, title: formatTime(incident.opened_at) }),
        deadlineCell(incident),
        actionButtons(incident, load),
      ]);
      body.replaceChildren(table(
        [t('col_id'), t('col_incident'), t('col_severity'), t('col_status'), t('col_age'), t('col_deadline'), t('col_actions')],
        rows, { className: 'incidents-table' }));
      clock.tick();
    } catch (error) {
      body.replaceChildren(notice('error', error.describe()));
    }
  }
  status.addEventListener('change', load);
  const clock = startClock(main);
  await load();
  // New incidents and other people's acks show up without a reload.
  const refresh = setInterval(() => {
    if (!document.hidden && !main.querySelector('button:disabled')) load();
  }, REFRESH_MS);
  return () => {
    clearInterval(refresh);
    clock.stop();
  };
}

function percentOrNumber(metric, value) {
  if (value === null || value === undefined) return t('none');
  if (metric === 'negative_share') return `${formatNumber(value * 100, 1)}%`;
  if (metric === 'sentiment_drop') return formatNumber(value, 3);
  return formatNumber(value, Number.isInteger(value) ? 0 : 2);
}

function secondsText(seconds) {
  return seconds ? formatDuration(seconds * 1000) : t('none');
}

function definitionList(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

function copyButton(getText) {
  const button = h('button', { type: 'button', class: 'copy' }, t('copy'));
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(getText());
    } catch {
      // Without clipboard permission (plain http on another host): select the text.
      const range = document.createRange();
      range.selectNodeContents(button.previousElementSibling);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      document.execCommand('copy');
    }
    button.textContent = t('copied');
    setTimeout(() => { button.textContent = t('copy'); }, 2000);
  });
  return button;
}

export async function renderDetail(main, id) {
  main.append(h('p', {}, h('a', { href: '#/incidents' }, t('back_to_incidents'))));
  const body = h('div', { id: 'incident-detail' }, h('p', { class: 'loading' }, t('loading')));
  main.append(body);
  const clock = startClock(main);

  async function load() {
    try {
      const incidents = await api('/api/incidents');
      const incident = incidents.find((candidate) => String(candidate.id) === String(id));
      if (!incident) {
        body.replaceChildren(notice('error', t('incident_not_found', { id })));
        return;
      }
      body.replaceChildren(...detail(incident, load).filter(Boolean));
      clock.tick();
    } catch (error) {
      body.replaceChildren(notice('error', error.describe()));
    }
  }
  await load();
  return clock.stop;
}

function detail(incident, reload) {
  const trigger = incident.trigger;
  const context = trigger.context || {};
  const note = h('textarea', { rows: 2, maxlength: 2000 });
  const actions = actionButtons(incident, reload, note);
  const header = h('section', { class: 'card incident-head', 'aria-labelledby': 'incident-title' },
    h('h1', { id: 'incident-title' }, t('incident_heading', { id: incident.id, rule: incident.rule })),
    h('p', { class: 'badges' }, severityBadge(incident.severity), statusBadge(incident.status),
      incident.overdue ? h('span', { class: 'badge overdue' }, t('overdue_flag')) : null,
      h('span', {}, `${t('brand')}: `, h('strong', {}, incident.brand))),
    h('p', { class: 'explanation' }, trigger.explanation),
    h('p', { class: 'deadline-line' }, `${t('col_deadline')}: `, deadlineCell(incident), ` (${formatTime(incident.response_deadline)})`),
    whoLine(incident),
    incident.note ? h('p', { class: 'note' }, h('strong', {}, `${t('note')}: `), incident.note) : null,
    actions ? h('div', { class: 'act' }, field('i-note', t('note_label'), note), actions) : null);

  const facts = h('section', { class: 'card', 'aria-labelledby': 'trigger-title' },
    h('h2', { id: 'trigger-title' }, t('trigger')),
    definitionList([
      [t('metric'), trigger.metric],
      [t('value'), h('span', { 'data-testid': 'trigger-value' }, percentOrNumber(trigger.metric, trigger.value))],
      [t('threshold'), percentOrNumber(trigger.metric, trigger.threshold)],
      trigger.baseline !== null && trigger.baseline !== undefined ? [t('baseline'), percentOrNumber(trigger.metric, trigger.baseline)] : null,
      [t('peak'), percentOrNumber(trigger.metric, incident.peak_value)],
      [t('mentions'), formatNumber(trigger.mentions)],
      [t('window'), secondsText(trigger.window_secs)],
      trigger.baseline_secs ? [t('baseline_window'), secondsText(trigger.baseline_secs)] : null,
    ]));

  const about = (context.top_terms?.length || context.top_sources?.length || context.top_authors?.length)
    ? h('section', { class: 'card', 'aria-labelledby': 'about-title' },
      h('h2', { id: 'about-title' }, t('what_about')),
      context.top_terms?.length
        ? h('ul', { class: 'chips' }, context.top_terms.map((term) => h('li', {}, h('a', { href: `#/search?q=${encodeURIComponent(term.term)}&brand=${encodeURIComponent(incident.brand)}&range=7d` }, term.term), ` ${term.posts}`)))
        : null,
      h('div', { class: 'two-col' },
        context.top_sources?.length ? table([t('col_source'), t('col_posts'), t('col_reach')], context.top_sources.map((s) => [s.name, formatNumber(s.posts), formatNumber(s.reach)])) : null,
        context.top_authors?.length ? table([t('col_author'), t('col_posts'), t('col_reach')], context.top_authors.map((a) => [a.name, formatNumber(a.posts), formatNumber(a.reach)])) : null))
    : null;

  const evidence = h('section', { class: 'card', 'aria-labelledby': 'evidence-title' },
    h('h2', { id: 'evidence-title' }, `${t('evidence')} (${incident.evidence.length})`),
    h('ol', { class: 'hits evidence' }, incident.evidence.map((post) => h('li', { class: 'hit', lang: post.lang || null },
      h('div', { class: 'hit-meta' }, sentimentBadge(post.label, post.score), h('span', { class: 'source' }, post.source),
        post.author ? h('span', { class: 'author' }, t('by_author', { author: post.author })) : null,
        h('time', { datetime: post.published_at }, formatTime(post.published_at)),
        post.reach ? h('span', {}, `${t('col_reach')} ${formatNumber(post.reach)}`) : null),
      h('p', { class: 'snippet' }, post.text),
      /^https?:\/\//.test(post.url || '') ? h('a', { href: post.url, target: '_blank', rel: 'noopener noreferrer', class: 'open-link' }, t('open_post')) : null))));

  const events = [
    [incident.opened_at, t('ev_opened')],
    incident.acknowledged_at ? [incident.acknowledged_at, t('ev_acknowledged', { name: incident.acknowledged_by })] : null,
    incident.resolved_at ? [incident.resolved_at, t('ev_resolved', { name: incident.resolved_by })] : null,
    [incident.updated_at, t('ev_updated')],
    [incident.response_deadline, t('ev_deadline')],
    ...(incident.notifications || []).map((n) => [n.sent_at || n.created_at, `${n.kind} → ${n.channel}: ${n.status}`]),
  ].filter(Boolean).sort((a, b) => Date.parse(a[0]) - Date.parse(b[0]));
  const timeline = h('section', { class: 'card', 'aria-labelledby': 'timeline-title' },
    h('h2', { id: 'timeline-title' }, t('timeline')),
    h('ol', { class: 'timeline' }, events.map(([at, what]) => h('li', {}, h('time', { datetime: at }, formatTime(at)), ' ', what))),
    incident.notifications ? null : h('p', { class: 'help' }, t('notifications_missing')));

  const ackCommand = `vigil incidents ack ${incident.id} --by "NAME"`;
  const scriptText = incident.script ? [incident.script.subject, incident.script.body].filter(Boolean).join('\n\n') : null;
  const script = h('section', { class: 'card', 'aria-labelledby': 'script-title' },
    h('h2', { id: 'script-title' }, t('response_script')),
    scriptText
      ? [h('pre', { class: 'script' }, scriptText), copyButton(() => scriptText)]
      : [h('p', { class: 'help' }, t('script_missing')), h('pre', { class: 'command' }, ackCommand), copyButton(() => ackCommand)]);

  return [header, facts, about, evidence, timeline, script];
}

// Incidents: the list with each one's 24-hour response deadline counting down, and a
// detail page (`GET /api/incidents/{id}`: trigger numbers, what the posts are about,
// evidence, the timeline of notifications and acks, the notifications' delivery state and
// the rendered response script with a copy button); both with acknowledge / resolve
// (and on the detail page snooze) buttons for responders and admins, none for viewers.

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

/// Acknowledge / resolve buttons for what the incident's status allows, for tokens whose
/// role may use them. `onDone` runs after a successful action; a 403 (the role changed
/// since sign-in) hides responder buttons for the session.
// A failed ack/resolve/snooze: the message, and on a 403 (the role changed) no more
// action controls; otherwise the button can be tried again.
function actionFailed(error, button) {
  flash('error', error.status === 403 ? t('forbidden') : error.describe());
  if (error.status === 403) {
    for (const element of document.querySelectorAll('.responder-actions, .act')) element.remove();
  } else {
    button.disabled = false;
  }
}

function actionButtons(incident, onDone, noteInput) {
  if (!session.canRespond || incident.status === 'resolved') return null;
  const act = async (action, button) => {
    if (action === 'resolve' && !window.confirm(t('confirm_resolve', { id: incident.id }))) return;
    button.disabled = true;
    const note = noteInput?.value.trim();
    try {
      await api(`/api/incidents/${incident.id}/${action}`, { method: 'POST', body: note ? { note } : {} });
      flash('success', t(action === 'ack' ? 'action_done_ack' : 'action_done_resolve', { id: incident.id }));
      await onDone();
    } catch (error) {
      actionFailed(error, button);
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
        ...(session.canRespond ? [actionButtons(incident, load)] : []),
      ]);
      // Viewers get no actions column at all.
      body.replaceChildren(table(
        [t('col_id'), t('col_incident'), t('col_severity'), t('col_status'), t('col_age'), t('col_deadline'),
          ...(session.canRespond ? [t('col_actions')] : [])],
        rows, { className: `incidents-table${session.canRespond ? '' : ' read-only'}` }));
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

/// Copies `text`: the Clipboard API where the page may use it (https or localhost), else
/// a hidden textarea and `execCommand('copy')`. Resolves to whether it worked.
async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Refused (no permission, page not focused): try the old way.
  }
  const area = h('textarea', { readonly: true, 'aria-hidden': 'true', class: 'copy-buffer' });
  area.value = text;
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

/// A copy button for the text of `source` (a `<pre>`), with its outcome next to it.
function copyButton(source, text, id) {
  const status = h('span', { class: 'copy-status', role: 'status', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'copy', id, 'aria-describedby': source.id }, t('copy'));
  let reset = null;
  button.addEventListener('click', async () => {
    clearTimeout(reset);
    if (await copyText(text)) {
      status.textContent = t('copied');
      status.className = 'copy-status ok';
    } else {
      // Select it so Ctrl+C / the phone's menu copies it.
      const range = document.createRange();
      range.selectNodeContents(source);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      status.textContent = t('copy_failed');
      status.className = 'copy-status failed';
    }
    reset = setTimeout(() => { status.textContent = ''; }, 4000);
  });
  return h('div', { class: 'copy-row' }, button, status);
}

export async function renderDetail(main, id) {
  main.append(h('p', {}, h('a', { href: '#/incidents' }, t('back_to_incidents'))));
  const body = h('div', { id: 'incident-detail' }, h('p', { class: 'loading' }, t('loading')));
  main.append(body);
  const clock = startClock(main);

  async function load() {
    try {
      const incident = await api(`/api/incidents/${encodeURIComponent(id)}`);
      body.replaceChildren(...detail(incident, load).filter(Boolean));
      clock.tick();
    } catch (error) {
      body.replaceChildren(notice('error', error.status === 404 ? t('incident_not_found', { id }) : error.describe()));
    }
  }
  await load();
  // Notifications and other people's acks show up without a reload, unless the user is
  // in the middle of something on the page.
  const refresh = setInterval(() => {
    const busy = body.contains(document.activeElement) || body.querySelector('button:disabled')
      || [...body.querySelectorAll('textarea')].some((area) => area.value.trim());
    if (!document.hidden && !busy) load();
  }, REFRESH_MS);
  return () => {
    clearInterval(refresh);
    clock.stop();
  };
}

const SNOOZE_CHOICES = ['1h', '4h', '12h', '24h'];

/// The snooze control: how long, and a button (`POST /api/incidents/{id}/snooze`, the
/// note as its comment).
function snoozeControl(incident, onDone, noteInput) {
  if (!session.canRespond || incident.status === 'resolved') return null;
  const duration = select(SNOOZE_CHOICES.map((d) => [d, t(`snooze_${d}`)]), '4h');
  const button = h('button', { type: 'button', 'data-action': 'snooze', 'aria-label': `${t('snooze')} #${incident.id}` }, t('snooze'));
  button.addEventListener('click', async () => {
    button.disabled = true;
    const comment = noteInput.value.trim();
    try {
      const snooze = await api(`/api/incidents/${incident.id}/snooze`, {
        method: 'POST', body: comment ? { duration: duration.value, comment } : { duration: duration.value },
      });
      flash('success', t('action_done_snooze', { id: incident.id, time: formatTime(snooze.ends_at) }));
      await onDone();
    } catch (error) {
      actionFailed(error, button);
    }
  });
  return h('div', { class: 'snooze-row' }, field('i-snooze', t('snooze_for'), duration), button);
}

/// One line of the timeline for an event of `GET /api/incidents/{id}`.
function eventText(event) {
  const [kind, sub] = event.kind.split(':');
  switch (kind) {
    case 'opened': return t('ev_opened');
    case 'notified': return t('ev_notified', { kind: t(`notif_${sub}`) === `notif_${sub}` ? sub : t(`notif_${sub}`), channel: event.by || '' });
    case 'snoozed': return t('ev_snoozed', { name: event.by || t('none') });
    case 'acknowledged': return t('ev_acknowledged', { name: event.by || t('none') });
    case 'resolved': return t('ev_resolved', { name: event.by || t('none') });
    case 'overdue': return t('ev_overdue');
    default: return event.kind;
  }
}

function timelineSection(incident) {
  const items = (incident.events || []).map((event) => h('li', { class: `ev ev-${event.kind.split(':')[0]}`, 'data-kind': event.kind },
    h('time', { datetime: event.at, title: event.at }, formatTime(event.at)), ' ',
    h('span', { class: 'what' }, eventText(event)),
    event.note ? h('q', { class: 'ev-note' }, event.note) : null));
  if (incident.status !== 'resolved' && !incident.overdue) {
    items.push(h('li', { class: 'ev ev-upcoming' },
      h('time', { datetime: incident.response_deadline }, formatTime(incident.response_deadline)), ' ',
      h('span', { class: 'what' }, t('ev_deadline')), ' ', deadlineCell(incident)));
  }
  return h('section', { class: 'card', 'aria-labelledby': 'timeline-title' },
    h('h2', { id: 'timeline-title' }, t('timeline')),
    h('ol', { class: 'timeline', id: 'incident-timeline' }, items));
}

function notificationsSection(incident) {
  const notifications = incident.notifications || [];
  const rows = notifications.map((n) => [
    h('span', {}, t(`notif_${n.kind}`) === `notif_${n.kind}` ? n.kind : t(`notif_${n.kind}`), n.seq ? ` ${n.seq}` : ''),
    h('span', { class: 'channel' }, n.channel),
    h('span', { class: 'recipients' }, n.recipients.join(', ') || t('none')),
    h('span', { class: `badge delivery-${n.status}` }, t(`delivery_${n.status}`) === `delivery_${n.status}` ? n.status : t(`delivery_${n.status}`)),
    formatNumber(n.attempts),
    n.sent_at ? h('time', { datetime: n.sent_at }, formatTime(n.sent_at)) : h('span', { class: 'help' }, t('not_sent', { time: formatTime(n.created_at) })),
    n.last_reply ? h('small', { class: 'reply' }, n.last_reply) : t('none'),
  ]);
  return h('section', { class: 'card', 'aria-labelledby': 'notifications-title' },
    h('h2', { id: 'notifications-title' }, `${t('notifications')} (${notifications.length})`),
    notifications.length
      ? table([t('col_kind'), t('col_channel'), t('col_recipients'), t('col_delivery'), t('col_attempts'), t('col_sent'), t('col_reply')],
        rows, { className: 'notifications-table' })
      : h('p', { class: 'help' }, t('no_notifications')));
}

function scriptSection(incident) {
  const script = incident.script;
  const title = h('h2', { id: 'script-title' }, t('response_script'));
  if (!script) {
    return h('section', { class: 'card', 'aria-labelledby': 'script-title' }, title, h('p', { class: 'help' }, t('script_none')));
  }
  const text = h('pre', { class: 'script', id: 'script-text', lang: script.language || null }, script.body);
  return h('section', { class: 'card', 'aria-labelledby': 'script-title', id: 'response-script' },
    title,
    definitionList([
      [t('script_name'), h('code', {}, script.name)],
      script.language ? [t('language'), script.language] : null,
      [t('script_subject'), h('span', { id: 'script-subject' }, script.subject)],
    ]),
    text,
    copyButton(text, script.body, 'copy-script'));
}

function detail(incident, reload) {
  const trigger = incident.trigger;
  const context = trigger.context || {};
  const note = h('textarea', { rows: 2, maxlength: 2000 });
  const actions = actionButtons(incident, reload, note);
  const snooze = snoozeControl(incident, reload, note);
  const header = h('section', { class: 'card incident-head', 'aria-labelledby': 'incident-title' },
    h('h1', { id: 'incident-title' }, t('incident_heading', { id: incident.id, rule: incident.rule })),
    h('p', { class: 'badges' }, severityBadge(incident.severity), statusBadge(incident.status),
      incident.overdue ? h('span', { class: 'badge overdue' }, t('overdue_flag')) : null,
      h('span', {}, `${t('brand')}: `, h('strong', {}, incident.brand))),
    h('p', { class: 'explanation' }, trigger.explanation),
    h('p', { class: 'deadline-line' }, `${t('col_deadline')}: `, deadlineCell(incident), ` (${formatTime(incident.response_deadline)})`),
    whoLine(incident),
    incident.note ? h('p', { class: 'note' }, h('strong', {}, `${t('note')}: `), incident.note) : null,
    actions || snooze ? h('div', { class: 'act' }, field('i-note', t('note_label'), note), actions, snooze) : null);

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

  // The script and the timeline come early: they are what a responder needs first.
  return [header, facts, scriptSection(incident), timelineSection(incident), about, notificationsSection(incident), evidence];
}

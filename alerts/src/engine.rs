//! The alert engine: rules → incidents (`evaluate`) and the 24-hour response clock
//! (`plan_notifications`), which writes every due notification to the outbox.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use vigil_config::{Config, RecipientConfig, RuleConfig, RuleKind};
use vigil_core::{
    AlertStore, EMAIL_CHANNEL, Incident, IncidentStatus, Label, NewIncident, NewNotification,
    NotificationKind, Severity, Trigger,
};

use crate::context::Vocabulary;
use crate::error::{AlertsError, Result, store_error};
use crate::render::{RenderRequest, RenderedMessage, Templates, Trend, message_id};
use crate::rules::{Measurement, Rule, WINDOW_POST_LIMIT};

/// What one rule did in one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome {
    pub rule: String,
    pub brand: String,
    pub fired: bool,
    /// The incident opened or updated; when the rule did not fire, the one still
    /// unresolved for `(rule, brand)`, if any.
    pub incident_id: Option<i64>,
    /// True when this evaluation opened the incident.
    pub opened: bool,
    pub value: f64,
    /// The explanation sentence, plus why the rule did not fire when that is not a
    /// plain "below threshold".
    pub detail: String,
}

/// Rules, recipients, the crisis clock and compiled templates, built once from the
/// config. Holds no state of its own: incidents and notifications live in the store,
/// so the engine can be rebuilt (config reload, restart) at any time.
pub struct AlertEngine {
    rules: Vec<Rule>,
    /// Per rule: since when it has fired without an incident, waiting out `for`.
    firing_since: Mutex<HashMap<String, DateTime<Utc>>>,
    /// Per rule: since when it has been quiet while its incident is unresolved, for
    /// `auto_resolve_after`. In memory: a restart starts both clocks again, which can
    /// only delay an incident, never open or resolve one early.
    quiet_since: Mutex<HashMap<String, DateTime<Utc>>>,
    recipients: Vec<RecipientConfig>,
    response_window: TimeDelta,
    remind_every: TimeDelta,
    escalate_after: TimeDelta,
    ack_timeout: Option<TimeDelta>,
    dashboard_url: Option<String>,
    templates: Templates,
    /// Brand → its `language`, for brands that have one: picks the script version and
    /// the language of the mail.
    brand_languages: HashMap<String, String>,
    source_down_notify: Vec<String>,
}

/// Incidents about the monitoring itself (a source failing, or a brand falling silent
/// on a source) are opened by the daemon under rule names starting with this, and
/// notify `alerts.source_down_notify`.
pub const SOURCE_DOWN_RULE: &str = "source_down";

/// Inhibition: while a crisis incident of a brand is unresolved, the brand's lesser
/// incidents (warnings, info) send nothing; they are still opened and updated, and
/// their notifications go out once the crisis is resolved if they are still
/// unresolved. Incidents about the monitoring itself (a source down, a refused
/// delivery) are never muted.
fn inhibitor<'a>(incident: &Incident, unresolved: &[&'a Incident]) -> Option<&'a Incident> {
    if incident.severity == Severity::Crisis || is_system_rule(&incident.rule) {
        return None;
    }
    unresolved
        .iter()
        .find(|other| {
            other.id != incident.id
                && other.severity == Severity::Crisis
                && other.brand == incident.brand
                && !is_system_rule(&other.rule)
        })
        .copied()
}

/// How far past its threshold a measurement is, in units of the threshold's own
/// distance from normal: 1 at the threshold, 2 twice as far. `negative_share`: share /
/// threshold; `volume_spike`: (count − mean) / (threshold − mean); `sentiment_drop`:
/// (mean − score) / (mean − threshold); `influencer`: reach / threshold; `keyword`: 1
/// (a match is a match).
pub(crate) fn deviation(config: &RuleConfig, measurement: &Measurement) -> f64 {
    let ratio = match (config.kind, measurement.baseline) {
        (RuleKind::NegativeShare, _) if measurement.threshold > 0.0 => {
            measurement.value / measurement.threshold
        }
        (RuleKind::VolumeSpike, Some(mean)) if measurement.threshold > mean => {
            (measurement.value - mean) / (measurement.threshold - mean)
        }
        (RuleKind::SentimentDrop, Some(mean)) if mean > measurement.threshold => {
            (mean - measurement.value) / (mean - measurement.threshold)
        }
        (RuleKind::Influencer, _) if measurement.threshold > 0.0 => {
            measurement.value / measurement.threshold
        }
        _ => 1.0,
    };
    if ratio.is_finite() { ratio } else { 1.0 }
}

/// The rule's severity, one level higher (info → warning → crisis) when the
/// measurement is at least twice as far from normal as the threshold.
pub(crate) fn severity_for(config: &RuleConfig, measurement: &Measurement) -> Severity {
    if deviation(config, measurement) < 2.0 {
        return config.severity;
    }
    match config.severity {
        Severity::Info => Severity::Warning,
        Severity::Warning | Severity::Crisis => Severity::Crisis,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Incidents the daemon opens about the monitoring itself.
fn is_system_rule(rule: &str) -> bool {
    rule.starts_with(SOURCE_DOWN_RULE) || rule == DELIVERY_FAILURE_RULE
}

/// The mail server refused a notification for good: the daemon opens an incident under
/// this rule name (one per brand while open), notifying `alerts.source_down_notify`
/// like the other incidents about the monitoring itself.
pub const DELIVERY_FAILURE_RULE: &str = "delivery_failure";

fn delta(what: &str, duration: std::time::Duration) -> Result<TimeDelta> {
    TimeDelta::from_std(duration)
        .map_err(|_| AlertsError::Config(format!("{what} {duration:?} is too long")))
}

impl AlertEngine {
    /// Compiles every script's subject and body templates up front; template errors
    /// name the script. Rules naming unknown recipients or scripts, and keyword rules
    /// without a query, are rejected too.
    pub fn new(config: &Config) -> Result<AlertEngine> {
        let alerts = &config.alerts;
        let templates = Templates::new(&config.scripts)?;
        let mut rules = Vec::with_capacity(alerts.rules.len());
        for rule in &alerts.rules {
            for recipient in &rule.notify {
                if config.recipient(recipient).is_none() {
                    return Err(AlertsError::Config(format!(
                        "rule {:?} notifies unknown recipient {recipient:?}",
                        rule.name
                    )));
                }
            }
            if let Some(script) = &rule.script
                && !templates.has_script(script)
            {
                return Err(AlertsError::Config(format!(
                    "rule {:?} uses unknown script {script:?}",
                    rule.name
                )));
            }
            if rule.kind == RuleKind::Keyword && rule.query.is_none() {
                return Err(AlertsError::Config(format!(
                    "keyword rule {:?} has no query",
                    rule.name
                )));
            }
            if rule.window.is_zero() {
                return Err(AlertsError::Config(format!(
                    "rule {:?} has a zero window",
                    rule.name
                )));
            }
            let brand_query_terms = config
                .brand(&rule.brand)
                .map(|brand| brand.query.positive_terms())
                .unwrap_or_default();
            let vocabulary = Vocabulary::for_brand(
                std::iter::once(rule.brand.as_str())
                    .chain(brand_query_terms.iter().map(String::as_str)),
            );
            let chinese = crate::render::MailLanguage::of(
                config
                    .brand(&rule.brand)
                    .and_then(|brand| brand.language.as_deref()),
            ) == crate::render::MailLanguage::Chinese;
            rules.push(Rule::new(
                rule.clone(),
                delta("window", rule.window)?,
                delta("baseline", rule.baseline)?,
                vocabulary,
                chinese,
            ));
        }
        Ok(AlertEngine {
            rules,
            firing_since: Mutex::default(),
            quiet_since: Mutex::default(),
            recipients: alerts.recipients.clone(),
            response_window: delta("response_window", alerts.crisis.response_window)?,
            remind_every: delta("remind_every", alerts.crisis.remind_every)?,
            escalate_after: delta("escalate_after", alerts.crisis.escalate_after)?,
            ack_timeout: alerts
                .crisis
                .ack_timeout
                .map(|timeout| delta("ack_timeout", timeout))
                .transpose()?,
            source_down_notify: alerts.source_down_notify.clone(),
            dashboard_url: alerts.dashboard_url.clone(),
            templates,
            brand_languages: config
                .brands
                .iter()
                .filter_map(|brand| Some((brand.name.clone(), brand.language.clone()?)))
                .collect(),
        })
    }

    /// Why a firing rule without an incident opens none yet: its `cooldown` after the
    /// last resolution, or its `for` not yet held.
    fn held_back<S: AlertStore>(
        &self,
        store: &S,
        rule: &Rule,
        now: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let config = &rule.config;
        if !config.cooldown.is_zero()
            && let Some(resolved) = store
                .last_resolved_at(rule.name(), rule.brand())
                .map_err(store_error("last_resolved_at"))?
        {
            let until = resolved + delta("cooldown", config.cooldown)?;
            if now < until {
                return Ok(Some(format!(
                    "cooling down after the last incident until {}",
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )));
            }
        }
        if !config.hold_for.is_zero() {
            let since = *lock(&self.firing_since)
                .entry(rule.name().to_string())
                .or_insert(now);
            if now - since < delta("for", config.hold_for)? {
                return Ok(Some(format!(
                    "firing since {}, must hold for {}",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    vigil_core::time::format_duration(config.hold_for)
                )));
            }
        }
        Ok(None)
    }

    fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name() == name)
    }

    /// Evaluates every rule at `now`; opens incidents for new firings
    /// (`create_incident`) or updates the open one (`update_incident_firing`: peak,
    /// trigger, evidence). Returns what happened.
    pub fn evaluate<S: AlertStore>(
        &self,
        store: &S,
        now: DateTime<Utc>,
    ) -> Result<Vec<RuleOutcome>> {
        let mut outcomes = Vec::with_capacity(self.rules.len());
        // Each brand's recent posts, read once for all of its rules (over its longest
        // window).
        let mut recent: HashMap<&str, Vec<vigil_core::EvidencePost>> = HashMap::new();
        // Two reads for the whole tick instead of two per rule: the unresolved incidents
        // and when each (rule, brand) was last resolved. Within a tick each (rule, brand)
        // is evaluated once, and the store refuses a second unresolved incident anyway.
        let mut unresolved: HashMap<(String, String), Incident> = store
            .unresolved_incidents()
            .map_err(store_error("unresolved_incidents"))?
            .into_iter()
            .map(|incident| ((incident.rule.clone(), incident.brand.clone()), incident))
            .collect();
        let resolutions = store
            .last_resolutions()
            .map_err(store_error("last_resolutions"))?;
        for rule in &self.rules {
            if !recent.contains_key(rule.brand()) {
                let span = self
                    .rules
                    .iter()
                    .filter(|r| r.brand() == rule.brand())
                    .map(|r| r.window)
                    .max()
                    .unwrap_or(rule.window);
                let posts = store
                    .window_posts(
                        rule.brand(),
                        now - span,
                        now,
                        crate::rules::WINDOW_POST_LIMIT,
                    )
                    .map_err(store_error("window_posts"))?;
                recent.insert(rule.brand(), posts);
            }
            let key = (rule.name().to_string(), rule.brand().to_string());
            let measurement = rule.measure_cached(
                store,
                now,
                &recent[rule.brand()],
                resolutions.get(&key).copied(),
            )?;
            let open = unresolved.remove(&key);
            let mut detail = measurement.explanation.clone();
            if let Some(reason) = &measurement.not_fired_reason {
                detail.push_str(&format!(" Not fired: {reason}."));
            }
            let mut outcome = RuleOutcome {
                rule: rule.name().to_string(),
                brand: rule.brand().to_string(),
                fired: measurement.fired,
                incident_id: open.as_ref().map(|i| i.id),
                opened: false,
                value: measurement.value,
                detail,
            };
            let key = rule.name().to_string();
            let config = &rule.config;
            if !measurement.fired {
                tracing::debug!(
                    rule = rule.name(),
                    brand = rule.brand(),
                    value = measurement.value,
                    "rule quiet"
                );
                lock(&self.firing_since).remove(&key);
                if let (Some(after), Some(incident)) = (config.auto_resolve_after, &open) {
                    let since = *lock(&self.quiet_since).entry(key.clone()).or_insert(now);
                    if now - since >= delta("auto_resolve_after", after)? {
                        let note = format!(
                            "resolved by vigil: the rule has been quiet since {} ({} or more)",
                            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            vigil_core::time::format_duration(after)
                        );
                        store
                            .auto_resolve_incident(incident.id, &note, now)
                            .map_err(store_error("auto_resolve_incident"))?;
                        lock(&self.quiet_since).remove(&key);
                        tracing::info!(
                            incident = incident.id,
                            rule = rule.name(),
                            brand = rule.brand(),
                            "rule quiet long enough; incident resolved"
                        );
                        outcome
                            .detail
                            .push_str(&format!(" Incident {} resolved: {note}.", incident.id));
                    }
                }
                outcomes.push(outcome);
                continue;
            }
            lock(&self.quiet_since).remove(&key);
            let trigger = Trigger {
                metric: config.kind.as_str().to_string(),
                value: measurement.value,
                threshold: measurement.threshold,
                baseline: measurement.baseline,
                window_secs: config.window.as_secs(),
                baseline_secs: matches!(
                    config.kind,
                    RuleKind::VolumeSpike | RuleKind::SentimentDrop
                )
                .then(|| config.baseline.as_secs()),
                mentions: measurement.mentions,
                explanation: measurement.explanation.clone(),
                context: measurement.context.clone(),
            };
            match open {
                Some(incident) => {
                    // sentiment_drop gets worse as it falls: its peak is the lowest mean.
                    let peak = if config.kind == RuleKind::SentimentDrop {
                        incident.peak_value.min(measurement.value)
                    } else {
                        incident.peak_value.max(measurement.value)
                    };
                    // A tick that saw exactly what the incident holds writes nothing
                    // (`updated_at` is the last change, not the last firing).
                    let unchanged = incident.trigger == trigger
                        && incident.peak_value == peak
                        && incident.evidence == measurement.evidence;
                    if !unchanged {
                        store
                            .update_incident_firing(
                                incident.id,
                                &trigger,
                                peak,
                                &measurement.evidence,
                                now,
                            )
                            .map_err(store_error("update_incident_firing"))?;
                    }
                    tracing::debug!(
                        incident = incident.id,
                        rule = rule.name(),
                        value = measurement.value,
                        peak,
                        "incident still firing"
                    );
                }
                None => {
                    if let Some(reason) = self.held_back(store, rule, now)? {
                        outcome.detail.push_str(&format!(" Not opened: {reason}."));
                        tracing::debug!(rule = rule.name(), brand = rule.brand(), %reason, "firing, incident held back");
                        outcomes.push(outcome);
                        continue;
                    }
                    lock(&self.firing_since).remove(&key);
                    let silences = store
                        .active_silences(now)
                        .map_err(store_error("active_silences"))?;
                    let others = store
                        .unresolved_incidents_of(&config.brand)
                        .map_err(store_error("unresolved_incidents_of"))?;
                    let first =
                        |incident: &Incident| self.first_rows(incident, now, &silences, &others);
                    let incident = store
                        .create_incident_notified(
                            NewIncident {
                                rule: config.name.clone(),
                                brand: config.brand.clone(),
                                severity: severity_for(config, &measurement),
                                opened_at: now,
                                response_deadline: now + self.response_window,
                                trigger,
                                evidence: measurement.evidence.clone(),
                            },
                            &first,
                        )
                        .map_err(store_error("create_incident"))?;
                    tracing::info!(incident = incident.id, rule = rule.name(), brand = rule.brand(), severity = %incident.severity, value = measurement.value, "incident opened");
                    outcome.incident_id = Some(incident.id);
                    outcome.opened = true;
                }
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// The first notification of a new incident, written in the transaction that opens
    /// it: nothing when a silence or a crisis of the brand mutes it (the planner sends
    /// it if that ends while the incident is open). A render failure is logged and
    /// leaves it to the planner, which tries again on its next pass.
    fn first_rows(
        &self,
        incident: &Incident,
        now: DateTime<Utc>,
        silences: &[vigil_core::Silence],
        others: &[Incident],
    ) -> Vec<NewNotification> {
        if silences.iter().any(|s| s.mutes(incident, now)) {
            return Vec::new();
        }
        let unresolved: Vec<&Incident> = others.iter().chain(std::iter::once(incident)).collect();
        if inhibitor(incident, &unresolved).is_some() {
            return Vec::new();
        }
        match self.rows_for(
            incident,
            (NotificationKind::First, 0),
            now,
            None,
            false,
            &HashSet::new(),
            || Ok(None),
        ) {
            Ok(rows) => rows.unwrap_or_default(),
            Err(error) => {
                tracing::error!(%error, incident = incident.id, "first notification not rendered; the planner will try again");
                Vec::new()
            }
        }
    }

    /// The 24-hour response clock. For every unresolved incident, enqueues whatever is
    /// due at `now`, idempotently by `(incident, kind, seq)`:
    /// - `First` (seq 0) at once;
    /// - while the incident is `Open` (not acknowledged), `Reminder` seq
    ///   `k = ⌊(now − opened_at) / remind_every⌋` for k ≥ 1 — only the latest, so a
    ///   daemon that was down does not send the reminders it missed. A reminder falling
    ///   at the very instant of the escalation or the deadline is left out: that message
    ///   says the same. Reminders continue past the deadline until acknowledged, and
    ///   include the escalation addresses once escalation time has passed;
    /// - `Escalation` (seq 0) once `escalate_after` has passed and it is still `Open`,
    ///   to the rule's recipients plus their escalation addresses;
    /// - `Summary` (seq 0) at the response deadline (to the escalation addresses too if
    ///   it was escalated), and the incident is marked overdue.
    ///
    /// Returns how many notifications were newly enqueued.
    pub fn plan_notifications<S: AlertStore>(
        &self,
        store: &S,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let mut incidents = store
            .unresolved_incidents()
            .map_err(store_error("unresolved_incidents"))?;
        // Acknowledgements that ran out: open again, reminded at once.
        let mut retriggered = HashSet::new();
        if let Some(timeout) = self.ack_timeout {
            for incident in incidents.iter_mut() {
                let expired = incident.status == IncidentStatus::Acknowledged
                    && incident
                        .acknowledged_at
                        .is_some_and(|at| now >= at + timeout);
                if !expired {
                    continue;
                }
                if let Some(reopened) = store
                    .expire_acknowledgement(incident.id, now)
                    .map_err(store_error("expire_acknowledgement"))?
                {
                    tracing::warn!(incident = incident.id, by = ?incident.acknowledged_by, "acknowledgement expired without a resolution; incident open again");
                    *incident = reopened;
                    retriggered.insert(incident.id);
                }
            }
        }
        let unresolved: Vec<&Incident> = incidents.iter().collect();
        let silences = store
            .active_silences(now)
            .map_err(store_error("active_silences"))?;
        let mut enqueued = 0;
        for incident in &unresolved {
            if let Some(silence) = silences.iter().find(|s| s.mutes(incident, now)) {
                tracing::debug!(incident = incident.id, silence = silence.id, until = %silence.ends_at, "incident silenced");
            } else if let Some(crisis) = inhibitor(incident, &unresolved) {
                tracing::debug!(incident = incident.id, by = crisis.id, brand = %incident.brand, "warning muted while a crisis incident for the brand is open");
            } else {
                let retrigger = retriggered.contains(&incident.id);
                enqueued += self.plan_incident(store, incident, now, retrigger)?;
            }
            if now >= incident.response_deadline && !incident.overdue {
                store
                    .mark_incident_overdue(incident.id, now)
                    .map_err(store_error("mark_incident_overdue"))?;
                tracing::warn!(incident = incident.id, rule = %incident.rule, status = %incident.status, "response window ended unresolved; incident overdue");
            }
        }
        Ok(enqueued)
    }

    /// `retrigger`: the incident's acknowledgement just expired, so the next reminder
    /// is brought forward to now (unless an escalation goes out now anyway); it then
    /// counts as that reminder, and the schedule goes on from there.
    fn plan_incident<S: AlertStore>(
        &self,
        store: &S,
        incident: &Incident,
        now: DateTime<Utc>,
        retrigger: bool,
    ) -> Result<usize> {
        let existing = store
            .notifications_for_incident(incident.id)
            .map_err(store_error("notifications_for_incident"))?;
        let have: HashSet<(NotificationKind, u32, &str)> = existing
            .iter()
            .map(|n| (n.kind, n.seq, n.channel.as_str()))
            .collect();
        let mut first_subject = existing
            .iter()
            .find(|n| n.kind == NotificationKind::First)
            .map(|n| n.subject.clone());
        let mut escalated = existing
            .iter()
            .any(|n| n.kind == NotificationKind::Escalation);

        let mut due = self.due(incident, now);
        if retrigger {
            // Something goes out now anyway: an escalation or a reminder not yet sent.
            let new_now = due.iter().any(|&(kind, seq)| {
                kind != NotificationKind::First
                    && kind != NotificationKind::Summary
                    && !existing.iter().any(|n| n.kind == kind && n.seq == seq)
            });
            if let Some(next) = self.next_reminder(incident, now)
                && !new_now
            {
                due.push((NotificationKind::Reminder, next));
            }
        }
        let mut enqueued = 0;
        for (kind, seq) in due {
            if kind == NotificationKind::Escalation {
                escalated = true;
            }

            let planned = self.rows_for(
                incident,
                (kind, seq),
                now,
                first_subject.as_deref(),
                escalated,
                &have,
                || match kind {
                    NotificationKind::Summary => self.trend(store, incident, now).map(Some),
                    _ => Ok(None),
                },
            )?;
            let Some(rows) = planned else {
                break;
            };
            if kind == NotificationKind::First
                && let Some(row) = rows.first()
            {
                first_subject = Some(row.subject.clone());
            }
            for notification in rows {
                let channel = notification.channel.clone();
                let new = store
                    .enqueue_notification(notification)
                    .map_err(store_error("enqueue_notification"))?;
                if new {
                    enqueued += 1;
                    tracing::info!(
                        incident = incident.id,
                        kind = kind.as_str(),
                        seq,
                        %channel,
                        "notification queued"
                    );
                }
            }
        }
        Ok(enqueued)
    }

    /// The outbox rows of notification `(kind, seq)` of `incident`: one per webhook
    /// channel and one mail, leaving out channels in `have`; `trend` (the summary's) is
    /// computed only when a row is written. `None` when the incident's rule is no longer
    /// configured (nothing can be sent for it).
    #[allow(clippy::too_many_arguments)]
    fn rows_for(
        &self,
        incident: &Incident,
        (kind, seq): (NotificationKind, u32),
        now: DateTime<Utc>,
        first_subject: Option<&str>,
        escalated: bool,
        have: &HashSet<(NotificationKind, u32, &str)>,
        trend: impl FnOnce() -> Result<Option<Trend>>,
    ) -> Result<Option<Vec<NewNotification>>> {
        let (notify, script) = match self.rule(&incident.rule) {
            Some(rule) => (rule.config.notify.as_slice(), rule.config.script.as_deref()),
            None if is_system_rule(&incident.rule) => (self.source_down_notify.as_slice(), None),
            None => {
                tracing::warn!(incident = incident.id, rule = %incident.rule, "incident's rule is no longer configured; no recipients to notify");
                return Ok(None);
            }
        };
        let with_escalation = match kind {
            NotificationKind::First => false,
            NotificationKind::Reminder => self.reminder_offset(seq) >= Some(self.escalate_after),
            NotificationKind::Escalation => true,
            NotificationKind::Summary => escalated,
        };
        // Channels still to be written for this notification: email (when there
        // are addresses) and each webhook of the recipient groups.
        let mut recipients = self.recipients_of(notify, with_escalation);
        if have.contains(&(kind, seq, EMAIL_CHANNEL)) {
            recipients.clear();
        }
        let channels: Vec<String> = self
            .webhook_channels_of(notify)
            .into_iter()
            .filter(|channel| !have.contains(&(kind, seq, channel.as_str())))
            .collect();
        let already = have.iter().any(|(k, s, _)| *k == kind && *s == seq);
        if recipients.is_empty() && channels.is_empty() {
            if !already {
                tracing::warn!(incident = incident.id, rule = %incident.rule, kind = kind.as_str(), "rule has no recipient addresses or webhooks; notification not queued");
            }
            return Ok(Some(Vec::new()));
        }
        let trend = trend()?;
        let message = self.templates.render(RenderRequest {
            incident,
            kind,
            seq,
            now,
            script,
            language: self
                .brand_languages
                .get(&incident.brand)
                .map(String::as_str),
            first_subject,
            trend,
            dashboard_url: self.dashboard_url.as_deref(),
            remind_every: self.remind_every,
            escalate_after: self.escalate_after,
            response_window: self.response_window,
            recipients,
        })?;
        let id = message_id(incident.id, incident.opened_at, kind, seq);
        let in_reply_to = (kind != NotificationKind::First)
            .then(|| message_id(incident.id, incident.opened_at, NotificationKind::First, 0));
        let mut rows = Vec::new();
        for channel in &channels {
            rows.push(NewNotification {
                incident_id: incident.id,
                kind,
                seq,
                channel: channel.clone(),
                payload: Some(crate::webhook::payload(
                    incident,
                    kind,
                    seq,
                    &message.subject,
                    &message.text,
                    &id,
                    self.dashboard_url.as_deref(),
                )),
                message_id: id.clone(),
                in_reply_to: in_reply_to.clone(),
                recipients: Vec::new(),
                subject: message.subject.clone(),
                body_text: message.text.clone(),
                body_html: String::new(),
                created_at: now,
            });
        }
        if !message.recipients.is_empty() {
            rows.push(NewNotification {
                incident_id: incident.id,
                kind,
                seq,
                channel: EMAIL_CHANNEL.into(),
                payload: None,
                message_id: id,
                in_reply_to,
                recipients: message.recipients,
                subject: message.subject,
                body_text: message.text,
                body_html: message.html,
                created_at: now,
            });
        }
        Ok(Some(rows))
    }

    /// The number of the next scheduled reminder after `now`.
    fn next_reminder(&self, incident: &Incident, now: DateTime<Utc>) -> Option<u32> {
        if self.remind_every <= TimeDelta::zero() {
            return None;
        }
        let elapsed = (now - incident.opened_at).num_milliseconds().max(0);
        u32::try_from(elapsed / self.remind_every.num_milliseconds() + 1).ok()
    }

    /// How long after opening reminder `seq` falls due.
    fn reminder_offset(&self, seq: u32) -> Option<TimeDelta> {
        self.remind_every.checked_mul(i32::try_from(seq).ok()?)
    }

    /// The notification keys due for `incident` at `now`, in sending order.
    fn due(&self, incident: &Incident, now: DateTime<Utc>) -> Vec<(NotificationKind, u32)> {
        let mut due = vec![(NotificationKind::First, 0)];
        let elapsed = now - incident.opened_at;
        let open = incident.status == IncidentStatus::Open;
        if open && self.remind_every > TimeDelta::zero() && elapsed >= self.remind_every {
            let k = elapsed.num_milliseconds() / self.remind_every.num_milliseconds();
            if let Ok(seq) = u32::try_from(k)
                && let Some(scheduled) = self.reminder_offset(seq)
            {
                let coincides = scheduled == self.escalate_after
                    || incident.opened_at + scheduled == incident.response_deadline;
                if !coincides {
                    due.push((NotificationKind::Reminder, seq));
                }
            }
        }
        if open && elapsed >= self.escalate_after {
            due.push((NotificationKind::Escalation, 0));
        }
        if now >= incident.response_deadline {
            due.push((NotificationKind::Summary, 0));
        }
        due
    }

    /// The webhook channels of the named recipient groups, in config order.
    fn webhook_channels_of(&self, names: &[String]) -> Vec<String> {
        self.recipients
            .iter()
            .filter(|r| names.contains(&r.name))
            .flat_map(|r| (0..r.webhooks.len()).map(|n| crate::webhook::channel(&r.name, n)))
            .collect()
    }

    /// Union of the named recipients' addresses (and escalation addresses), in config
    /// order, without repeats.
    fn recipients_of(&self, names: &[String], with_escalation: bool) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for recipient in self.recipients.iter().filter(|r| names.contains(&r.name)) {
            let escalation = if with_escalation {
                recipient.escalation.as_slice()
            } else {
                &[]
            };
            for address in recipient.emails.iter().chain(escalation) {
                if seen.insert(address.to_ascii_lowercase()) {
                    out.push(address.clone());
                }
            }
        }
        out
    }

    fn trend<S: AlertStore>(
        &self,
        store: &S,
        incident: &Incident,
        now: DateTime<Utc>,
    ) -> Result<Trend> {
        let rule = self.rule(&incident.rule);
        let mut posts = store
            .window_posts(&incident.brand, incident.opened_at, now, WINDOW_POST_LIMIT)
            .map_err(store_error("window_posts"))?;
        if let Some(query) = rule.and_then(|r| r.config.query.as_ref()) {
            posts.retain(|p| p.matches(query));
        }
        let (value_at_opening, value_now) = match rule {
            Some(rule) => (
                Some(rule.measure(store, incident.opened_at)?.value),
                Some(rule.measure(store, now)?.value),
            ),
            None => (None, None),
        };
        Ok(Trend {
            posts_since_opening: posts.len() as u64,
            negative_since_opening: posts
                .iter()
                .filter(|p| p.label == Some(Label::Negative))
                .count() as u64,
            value_at_opening,
            value_now,
        })
    }

    /// Renders one notification of `incident` as the planner would (without the
    /// summary's trend, which needs the store). Exposed for the daemon's demo and tests.
    pub fn render(
        &self,
        incident: &Incident,
        kind: NotificationKind,
        seq: u32,
        now: DateTime<Utc>,
    ) -> Result<RenderedMessage> {
        let rule = self.rule(&incident.rule);
        let escalation_at = incident.opened_at + self.escalate_after;
        let with_escalation = match kind {
            NotificationKind::First => false,
            NotificationKind::Reminder => self.reminder_offset(seq) >= Some(self.escalate_after),
            NotificationKind::Escalation => true,
            NotificationKind::Summary => {
                now >= escalation_at
                    && incident
                        .acknowledged_at
                        .is_none_or(|at| at >= escalation_at)
            }
        };
        let recipients = rule
            .map(|r| self.recipients_of(&r.config.notify, with_escalation))
            .unwrap_or_default();
        self.templates.render(RenderRequest {
            incident,
            kind,
            seq,
            now,
            script: rule.and_then(|r| r.config.script.as_deref()),
            language: self
                .brand_languages
                .get(&incident.brand)
                .map(String::as_str),
            first_subject: None,
            trend: None,
            dashboard_url: self.dashboard_url.as_deref(),
            remind_every: self.remind_every,
            escalate_after: self.escalate_after,
            response_window: self.response_window,
            recipients,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn engine_is_send_and_sync() {
        assert_send_sync::<AlertEngine>();
    }
}

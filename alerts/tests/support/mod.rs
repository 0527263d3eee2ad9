//! Test helpers: an in-memory `AlertStore` and config builders.
//!
//! `MemStore` is a test double for the `store` crate's SQLite implementation, which
//! `alerts` may not depend on (stage crates depend only on core and config). It follows
//! the trait's documented semantics: window and bucket boundaries, one unresolved
//! incident per (rule, brand), and idempotent enqueue by (incident, kind, seq).
#![allow(dead_code)]

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use vigil_config::{
    Config, CrisisConfig, OutboxConfig, RecipientConfig, RuleConfig, RuleKind, ScriptConfig,
    Seasonality, SmtpConfig, SmtpTls,
};
use vigil_core::{
    AlertStore, EvidencePost, Incident, IncidentStatus, Label, NewIncident, NewNotification,
    Notification, NotificationStatus, Query, Severity, Silence, Trigger,
};

#[derive(Debug, thiserror::Error)]
#[error("memory store: {0}")]
pub struct MemError(String);

#[derive(Default)]
struct Inner {
    posts: Vec<(String, EvidencePost)>,
    incidents: Vec<Incident>,
    notifications: Vec<Notification>,
    silences: Vec<Silence>,
}

#[derive(Default)]
pub struct MemStore {
    inner: Mutex<Inner>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, brand: &str, post: EvidencePost) {
        self.inner
            .lock()
            .unwrap()
            .posts
            .push((brand.to_string(), post));
    }

    /// Adds a silence from `starts_at` to `ends_at`.
    pub fn silence(&self, mut silence: Silence) {
        let mut inner = self.inner.lock().unwrap();
        silence.id = inner.silences.len() as i64 + 1;
        inner.silences.push(silence);
    }

    pub fn add_many(&self, brand: &str, posts: impl IntoIterator<Item = EvidencePost>) {
        for post in posts {
            self.add(brand, post);
        }
    }

    pub fn incident(&self, id: i64) -> Incident {
        self.inner
            .lock()
            .unwrap()
            .incidents
            .iter()
            .find(|i| i.id == id)
            .cloned()
            .expect("incident exists")
    }

    pub fn all_incidents(&self) -> Vec<Incident> {
        self.inner.lock().unwrap().incidents.clone()
    }

    pub fn all_notifications(&self) -> Vec<Notification> {
        self.inner.lock().unwrap().notifications.clone()
    }

    pub fn acknowledge(&self, id: i64, by: &str, at: DateTime<Utc>) {
        let mut inner = self.inner.lock().unwrap();
        let incident = inner.incidents.iter_mut().find(|i| i.id == id).unwrap();
        incident.status = IncidentStatus::Acknowledged;
        incident.acknowledged_at = Some(at);
        incident.acknowledged_by = Some(by.to_string());
        incident.updated_at = at;
        cancel_follow_ups(&mut inner.notifications, id);
    }

    pub fn resolve(&self, id: i64, by: &str, at: DateTime<Utc>) {
        let mut inner = self.inner.lock().unwrap();
        let incident = inner.incidents.iter_mut().find(|i| i.id == id).unwrap();
        incident.status = IncidentStatus::Resolved;
        incident.resolved_at = Some(at);
        incident.resolved_by = Some(by.to_string());
        incident.updated_at = at;
        cancel_follow_ups(&mut inner.notifications, id);
    }
}

/// As the SQLite store does when an incident is acknowledged or resolved: its pending
/// reminders and escalations are cancelled.
fn cancel_follow_ups(notifications: &mut [Notification], incident_id: i64) {
    for n in notifications.iter_mut().filter(|n| {
        n.incident_id == incident_id
            && n.status == NotificationStatus::Pending
            && matches!(
                n.kind,
                vigil_core::NotificationKind::Reminder | vigil_core::NotificationKind::Escalation
            )
    }) {
        n.status = NotificationStatus::Cancelled;
    }
}

impl AlertStore for MemStore {
    type Error = MemError;

    fn window_posts(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<EvidencePost>, MemError> {
        let inner = self.inner.lock().unwrap();
        let mut posts: Vec<EvidencePost> = inner
            .posts
            .iter()
            .filter(|(b, p)| b == brand && p.published_at >= from && p.published_at < to)
            .map(|(_, p)| p.clone())
            .collect();
        posts.sort_by_key(|p| std::cmp::Reverse(p.published_at));
        posts.truncate(limit);
        Ok(posts)
    }

    fn bucket_counts(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_secs: u64,
    ) -> Result<Vec<u64>, MemError> {
        if bucket_secs == 0 {
            return Err(MemError("bucket_secs must be positive".into()));
        }
        let size = TimeDelta::seconds(bucket_secs as i64);
        let inner = self.inner.lock().unwrap();
        let mut counts = Vec::new();
        let mut end = to;
        while end - size >= from {
            let start = end - size;
            counts.push(
                inner
                    .posts
                    .iter()
                    .filter(|(b, p)| b == brand && p.published_at >= start && p.published_at < end)
                    .count() as u64,
            );
            end = start;
        }
        counts.reverse();
        Ok(counts)
    }

    fn unresolved_incident(&self, rule: &str, brand: &str) -> Result<Option<Incident>, MemError> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .incidents
            .iter()
            .find(|i| i.rule == rule && i.brand == brand && i.status != IncidentStatus::Resolved)
            .cloned())
    }

    fn last_resolved_at(&self, rule: &str, brand: &str) -> Result<Option<DateTime<Utc>>, MemError> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .incidents
            .iter()
            .filter(|i| i.rule == rule && i.brand == brand)
            .filter_map(|i| i.resolved_at)
            .max())
    }

    fn create_incident_notified(
        &self,
        new: NewIncident,
        first: &dyn Fn(&Incident) -> Vec<vigil_core::NewNotification>,
    ) -> Result<Incident, MemError> {
        let mut inner = self.inner.lock().unwrap();
        if inner.incidents.iter().any(|i| {
            i.rule == new.rule && i.brand == new.brand && i.status != IncidentStatus::Resolved
        }) {
            return Err(MemError(format!(
                "({}, {}) already has an unresolved incident",
                new.rule, new.brand
            )));
        }
        let incident = Incident {
            id: inner.incidents.len() as i64 + 1,
            rule: new.rule,
            brand: new.brand,
            severity: new.severity,
            status: IncidentStatus::Open,
            opened_at: new.opened_at,
            updated_at: new.opened_at,
            response_deadline: new.response_deadline,
            acknowledged_at: None,
            acknowledged_by: None,
            resolved_at: None,
            resolved_by: None,
            note: None,
            overdue: false,
            peak_value: new.trigger.value,
            trigger: new.trigger,
            evidence: new.evidence,
        };
        inner.incidents.push(incident.clone());
        drop(inner);
        for notification in first(&incident) {
            self.enqueue_notification(notification)?;
        }
        Ok(incident)
    }

    fn update_incident_firing(
        &self,
        id: i64,
        trigger: &Trigger,
        peak_value: f64,
        evidence: &[EvidencePost],
        at: DateTime<Utc>,
    ) -> Result<(), MemError> {
        let mut inner = self.inner.lock().unwrap();
        let incident = inner
            .incidents
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(|| MemError(format!("no incident {id}")))?;
        incident.trigger = trigger.clone();
        incident.peak_value = peak_value;
        incident.evidence = evidence.to_vec();
        incident.updated_at = at;
        Ok(())
    }

    fn mark_incident_overdue(&self, id: i64, at: DateTime<Utc>) -> Result<(), MemError> {
        let mut inner = self.inner.lock().unwrap();
        let incident = inner
            .incidents
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or_else(|| MemError(format!("no incident {id}")))?;
        incident.overdue = true;
        incident.updated_at = at;
        Ok(())
    }

    fn incidents(&self, status: Option<IncidentStatus>) -> Result<Vec<Incident>, MemError> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .incidents
            .iter()
            .filter(|i| status.is_none_or(|s| i.status == s))
            .cloned()
            .collect())
    }

    fn enqueue_notification(&self, new: NewNotification) -> Result<bool, MemError> {
        let mut inner = self.inner.lock().unwrap();
        if inner.notifications.iter().any(|n| {
            n.incident_id == new.incident_id
                && n.kind == new.kind
                && n.seq == new.seq
                && n.channel == new.channel
        }) {
            return Ok(false);
        }
        let id = inner.notifications.len() as i64 + 1;
        inner.notifications.push(Notification {
            id,
            incident_id: new.incident_id,
            kind: new.kind,
            seq: new.seq,
            channel: new.channel,
            payload: new.payload,
            message_id: new.message_id,
            in_reply_to: new.in_reply_to,
            recipients: new.recipients,
            subject: new.subject,
            body_text: new.body_text,
            body_html: new.body_html,
            status: NotificationStatus::Pending,
            attempts: 0,
            created_at: new.created_at,
            next_attempt_at: new.created_at,
            last_error: None,
            sent_at: None,
            smtp_reply: None,
        });
        Ok(true)
    }

    fn notifications_for_incident(&self, incident_id: i64) -> Result<Vec<Notification>, MemError> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .notifications
            .iter()
            .filter(|n| n.incident_id == incident_id)
            .cloned()
            .collect())
    }

    fn due_notifications(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Notification>, MemError> {
        let mut due: Vec<Notification> = self
            .inner
            .lock()
            .unwrap()
            .notifications
            .iter()
            .filter(|n| n.status == NotificationStatus::Pending && n.next_attempt_at <= now)
            .cloned()
            .collect();
        due.sort_by_key(|n| (n.created_at, n.id));
        due.truncate(limit);
        Ok(due)
    }

    fn due_notifications_on(
        &self,
        channel_prefix: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Notification>, MemError> {
        let mut due = self.due_notifications(now, usize::MAX)?;
        due.retain(|n| n.channel.starts_with(channel_prefix));
        due.truncate(limit);
        Ok(due)
    }

    fn mark_notification_sent(
        &self,
        id: i64,
        smtp_reply: &str,
        at: DateTime<Utc>,
    ) -> Result<(), MemError> {
        self.update_notification(id, |n| {
            n.status = NotificationStatus::Sent;
            n.attempts += 1;
            n.sent_at = Some(at);
            n.smtp_reply = Some(smtp_reply.to_string());
        })
    }

    fn active_silences(&self, now: DateTime<Utc>) -> Result<Vec<Silence>, MemError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .silences
            .iter()
            .filter(|s| s.is_active(now))
            .cloned()
            .collect())
    }

    fn auto_resolve_incident(
        &self,
        id: i64,
        _note: &str,
        at: DateTime<Utc>,
    ) -> Result<(), MemError> {
        self.resolve(id, "vigil", at);
        Ok(())
    }

    fn expire_acknowledgement(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<Incident>, MemError> {
        let mut inner = self.inner.lock().unwrap();
        let Some(incident) = inner.incidents.iter_mut().find(|i| i.id == id) else {
            return Err(MemError(format!("no incident {id}")));
        };
        if incident.status != IncidentStatus::Acknowledged {
            return Ok(None);
        }
        incident.status = IncidentStatus::Open;
        incident.updated_at = at;
        Ok(Some(incident.clone()))
    }

    fn find_incident(&self, id: i64) -> Result<Option<Incident>, MemError> {
        Ok(self
            .inner
            .lock()
            .unwrap()
            .incidents
            .iter()
            .find(|i| i.id == id)
            .cloned())
    }

    fn mark_notification_given_up(
        &self,
        id: i64,
        error: &str,
        _at: DateTime<Utc>,
    ) -> Result<(), MemError> {
        self.update_notification(id, |n| {
            n.attempts += 1;
            n.last_error = Some(error.to_string());
            if n.status == NotificationStatus::Pending {
                n.status = NotificationStatus::Failed;
            }
        })
    }

    fn mark_notification_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), MemError> {
        self.update_notification(id, |n| {
            n.attempts += 1;
            n.last_error = Some(error.to_string());
            n.next_attempt_at = next_attempt_at;
        })
    }
}

/// 2024-05-08T00:00:00Z: the tests' "now" unless they move it.
impl MemStore {
    fn update_notification(
        &self,
        id: i64,
        change: impl FnOnce(&mut Notification),
    ) -> Result<(), MemError> {
        let mut inner = self.inner.lock().unwrap();
        let n = inner
            .notifications
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| MemError(format!("no notification {id}")))?;
        change(n);
        Ok(())
    }
}

pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-08T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

pub fn hours(h: i64) -> TimeDelta {
    TimeDelta::hours(h)
}

pub fn post(
    id: &str,
    at: DateTime<Utc>,
    text: &str,
    label: Option<Label>,
    score: Option<f32>,
) -> EvidencePost {
    EvidencePost {
        id: id.to_string(),
        url: Some(format!("https://forum.example.com/p/{id}")),
        source: "forum".to_string(),
        author: Some(format!("user-{id}")),
        published_at: at,
        text: text.to_string(),
        label,
        score,
        reach: None,
        lang: None,
    }
}

pub fn negative(id: &str, at: DateTime<Utc>) -> EvidencePost {
    post(
        id,
        at,
        "Acme kettle broke, terrible",
        Some(Label::Negative),
        Some(-0.7),
    )
}

pub fn positive(id: &str, at: DateTime<Utc>) -> EvidencePost {
    post(
        id,
        at,
        "Love my Acme kettle",
        Some(Label::Positive),
        Some(0.6),
    )
}

pub fn rule(name: &str, kind: RuleKind) -> RuleConfig {
    RuleConfig {
        name: name.to_string(),
        brand: "Acme".to_string(),
        kind,
        window: Duration::from_secs(3600),
        baseline: Duration::from_secs(4 * 3600),
        sigma: 2.0,
        threshold: 0.4,
        min_mentions: 5,
        severity: Severity::Crisis,
        notify: vec!["pr-team".to_string()],
        script: Some("holding".to_string()),
        query: None,
        query_text: None,
        hold_for: Duration::ZERO,
        cooldown: Duration::ZERO,
        auto_resolve_after: None,
        seasonality: Seasonality::None,
        confirm: Vec::new(),
        confirm_ratio: 1.5,
    }
}

pub fn with_query(mut rule: RuleConfig, query: &str) -> RuleConfig {
    rule.query = Some(Query::parse(query).unwrap());
    rule.query_text = Some(query.to_string());
    rule
}

pub const SCRIPT_BODY: &str = "We are aware of reports about {{ brand }} ({{ mentions }} mentions). \
Holding statement: we are investigating and will update within 2 hours.\n\
{% for post in evidence %}- seen: {{ post.source }}\n{% endfor %}";

/// Crisis clock 24h / remind 2h / escalate 4h; recipient `pr-team` with one escalation
/// address; script `holding`; dashboard at https://vigil.example.com/.
pub fn config(rules: Vec<RuleConfig>) -> Config {
    let mut config = Config::builtin_default();
    config.alerts.crisis = CrisisConfig {
        response_window: Duration::from_secs(24 * 3600),
        remind_every: Duration::from_secs(2 * 3600),
        escalate_after: Duration::from_secs(4 * 3600),
        ack_timeout: None,
    };
    config.alerts.recipients = vec![RecipientConfig {
        name: "pr-team".to_string(),
        emails: vec![
            "pr@example.com".to_string(),
            "press@example.com".to_string(),
        ],
        escalation: vec!["head-of-comms@example.com".to_string()],
        webhooks: Vec::new(),
    }];
    config.alerts.dashboard_url = Some("https://vigil.example.com/".to_string());
    config.alerts.rules = rules;
    config.scripts = vec![ScriptConfig {
        name: "holding".to_string(),
        subject: "[{{ severity|upper }}] {{ brand }}: {{ rule }} (incident {{ incident_id }})"
            .to_string(),
        file: None,
        body: SCRIPT_BODY.to_string(),
        language: None,
    }];
    config
}

/// Plain SMTP to 127.0.0.1:`port`, 10 s timeout.
pub fn smtp(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "Vigil <alerts@example.com>".into(),
        timeout: Duration::from_secs(10),
    }
}

/// Retries after 30 s, doubling up to an hour.
pub fn outbox() -> OutboxConfig {
    OutboxConfig {
        retry_initial: Duration::from_secs(30),
        retry_max: Duration::from_secs(3600),
    }
}

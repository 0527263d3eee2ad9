//! Incidents, notifications and the [`AlertStore`] trait: what the alert engine reads
//! from and writes to the system of record.
//!
//! Notifications are *planned*, not pushed: every notification an incident should have
//! (first, reminder N, escalation, summary) has a deterministic key
//! `(incident_id, kind, seq)`, and [`AlertStore::enqueue_notification`] ignores a key it
//! already holds. The engine can therefore re-plan after any crash without losing or
//! repeating a message, and the Message-ID derived from the key stays the same across
//! retries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::Label;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Crisis,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Crisis => "crisis",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "crisis" => Ok(Severity::Crisis),
            other => Err(format!(
                "unknown severity {other:?} (expected info, warning or crisis)"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Acknowledged => "acknowledged",
            IncidentStatus::Resolved => "resolved",
        }
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" | "triggered" => Ok(IncidentStatus::Open),
            "acknowledged" | "ack" => Ok(IncidentStatus::Acknowledged),
            "resolved" => Ok(IncidentStatus::Resolved),
            other => Err(format!(
                "unknown incident status {other:?} (expected open, acknowledged or resolved)"
            )),
        }
    }
}

/// What made a rule fire, in numbers a person can check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Rule kind: `negative_share`, `volume_spike`, `keyword`.
    pub metric: String,
    pub value: f64,
    pub threshold: f64,
    /// Baseline mean (volume_spike), when the rule has one.
    pub baseline: Option<f64>,
    pub window_secs: u64,
    pub baseline_secs: Option<u64>,
    /// Mentions in the window.
    pub mentions: u64,
    /// One sentence: what fired and why.
    pub explanation: String,
    /// What the window's posts are about (empty in incidents stored before it existed).
    #[serde(default, skip_serializing_if = "TriggerContext::is_empty")]
    pub context: TriggerContext,
}

/// "What is this about": the window's most frequent terms, and the sources and authors
/// that carried it, by reach.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerContext {
    #[serde(default)]
    pub top_terms: Vec<TermCount>,
    #[serde(default)]
    pub top_sources: Vec<Contributor>,
    #[serde(default)]
    pub top_authors: Vec<Contributor>,
}

impl TriggerContext {
    pub fn is_empty(&self) -> bool {
        self.top_terms.is_empty() && self.top_sources.is_empty() && self.top_authors.is_empty()
    }
}

/// A term and the number of the window's posts that use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermCount {
    pub term: String,
    pub posts: u64,
}

/// A source or author: how many of the window's posts, and their summed reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contributor {
    pub name: String,
    pub posts: u64,
    pub reach: i64,
}

/// When each `(rule, brand)` last had an incident resolved.
pub type LastResolutions = std::collections::HashMap<(String, String), DateTime<Utc>>;

/// A post shown as evidence in a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidencePost {
    pub id: String,
    pub url: Option<String>,
    pub source: String,
    pub author: Option<String>,
    pub published_at: DateTime<Utc>,
    pub text: String,
    pub label: Option<Label>,
    pub score: Option<f32>,
    /// `Engagement::reach()` when the source reports engagement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<i64>,
    /// The post's detected language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

impl EvidencePost {
    /// Whether a rule's `query` selects this post. Field operators see the post's
    /// author, source, URL and language.
    pub fn matches(&self, query: &crate::Query) -> bool {
        let meta = crate::query::MatchMeta {
            author: self.author.as_deref(),
            source: Some(&self.source),
            url: self.url.as_deref(),
            lang: self.lang.as_deref(),
        };
        query.matches_prepared(&crate::query::MatchText::with_meta(&self.text, meta))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: i64,
    pub rule: String,
    pub brand: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `opened_at + response_window`: when the PR team must have responded.
    pub response_deadline: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub note: Option<String>,
    /// Unresolved at the end of its response window.
    pub overdue: bool,
    pub trigger: Trigger,
    /// Highest value the metric reached while open.
    pub peak_value: f64,
    pub evidence: Vec<EvidencePost>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    pub rule: String,
    pub brand: String,
    pub severity: Severity,
    pub opened_at: DateTime<Utc>,
    pub response_deadline: DateTime<Utc>,
    pub trigger: Trigger,
    pub evidence: Vec<EvidencePost>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationKind {
    /// The first alert, sent at once.
    First,
    /// Every `remind_every` until acknowledged.
    Reminder,
    /// After `escalate_after`, to the escalation recipients as well.
    Escalation,
    /// At the end of the response window.
    Summary,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::First => "first",
            NotificationKind::Reminder => "reminder",
            NotificationKind::Escalation => "escalation",
            NotificationKind::Summary => "summary",
        }
    }
}

impl FromStr for NotificationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "first" => Ok(NotificationKind::First),
            "reminder" => Ok(NotificationKind::Reminder),
            "escalation" => Ok(NotificationKind::Escalation),
            "summary" => Ok(NotificationKind::Summary),
            other => Err(format!("unknown notification kind {other:?}")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationStatus {
    Pending,
    Sent,
    /// A reminder or escalation made moot before it went out: the incident was
    /// acknowledged or resolved. Never sent.
    Cancelled,
    /// The mail server refused it permanently (a 5xx reply, an invalid address): not
    /// retried, and a `delivery_failure` incident says so.
    Failed,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Sent => "sent",
            NotificationStatus::Cancelled => "cancelled",
            NotificationStatus::Failed => "failed",
        }
    }
}

impl FromStr for NotificationStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(NotificationStatus::Pending),
            "sent" => Ok(NotificationStatus::Sent),
            "cancelled" => Ok(NotificationStatus::Cancelled),
            "failed" => Ok(NotificationStatus::Failed),
            other => Err(format!("unknown notification status {other:?}")),
        }
    }
}

/// A silence: while it lasts, matching incidents are still opened, updated and
/// listed, but send nothing. Every matcher that is set must match (`incident_id`
/// set: a snooze of that incident). When it ends, due notifications go out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: i64,
    pub brand: Option<String>,
    pub rule: Option<String>,
    pub incident_id: Option<i64>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub by: String,
    pub reason: Option<String>,
}

impl Silence {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    /// Active at `now` and matching the incident.
    pub fn mutes(&self, incident: &Incident, now: DateTime<Utc>) -> bool {
        self.is_active(now)
            && self
                .brand
                .as_ref()
                .is_none_or(|brand| *brand == incident.brand)
            && self.rule.as_ref().is_none_or(|rule| *rule == incident.rule)
            && self.incident_id.is_none_or(|id| id == incident.id)
    }
}

/// A silence to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSilence {
    pub brand: Option<String>,
    pub rule: Option<String>,
    pub incident_id: Option<i64>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub by: String,
    pub reason: Option<String>,
}

/// The outbox channel of email notifications.
pub const EMAIL_CHANNEL: &str = "email";
/// Webhook channels are `webhook:<recipient group>:<n>` (the group's n-th webhook).
pub const WEBHOOK_CHANNEL_PREFIX: &str = "webhook:";

/// A message to write to the outbox. `(incident_id, kind, seq, channel)` is its
/// identity.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub incident_id: i64,
    pub kind: NotificationKind,
    pub seq: u32,
    /// [`EMAIL_CHANNEL`] or a webhook channel (`webhook:<group>:<n>`).
    pub channel: String,
    /// For webhooks: the structured message (incident, numbers, text) the channel's
    /// format is built from.
    pub payload: Option<serde_json::Value>,
    pub message_id: String,
    /// Message-ID of the first notification, for threading (`In-Reply-To`).
    pub in_reply_to: Option<String>,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub id: i64,
    pub incident_id: i64,
    pub kind: NotificationKind,
    pub seq: u32,
    pub channel: String,
    pub payload: Option<serde_json::Value>,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub status: NotificationStatus,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub smtp_reply: Option<String>,
}

/// What the alert engine needs from the system of record. `store` implements it on
/// SQLite; every method is a short transaction, safe to call from several processes
/// (the CLI acknowledges while the daemon runs).
pub trait AlertStore {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Posts of `brand` published in `[from, to)`, newest first, at most `limit`.
    fn window_posts(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<EvidencePost>, Self::Error>;

    /// Mentions of `brand` per bucket of `bucket_secs`, for the buckets that end at
    /// `to - k·bucket_secs` and start at or after `from`; oldest first.
    fn bucket_counts(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        bucket_secs: u64,
    ) -> Result<Vec<u64>, Self::Error>;

    /// The incident for `(rule, brand)` that is not resolved, if any.
    fn unresolved_incident(&self, rule: &str, brand: &str)
    -> Result<Option<Incident>, Self::Error>;

    /// When the last incident of `(rule, brand)` was resolved: evaluation starts after it,
    /// so a resolved incident is not re-opened by the posts it already covered.
    fn last_resolved_at(
        &self,
        rule: &str,
        brand: &str,
    ) -> Result<Option<DateTime<Utc>>, Self::Error>;

    /// [`AlertStore::last_resolved_at`] of every `(rule, brand)` that has a resolved
    /// incident, in one read (the evaluation loop asks for all of them every tick).
    fn last_resolutions(&self) -> Result<LastResolutions, Self::Error> {
        let mut out = std::collections::HashMap::new();
        for incident in self.incidents(Some(IncidentStatus::Resolved))? {
            if let Some(at) = incident.resolved_at {
                let slot = out.entry((incident.rule, incident.brand)).or_insert(at);
                if at > *slot {
                    *slot = at;
                }
            }
        }
        Ok(out)
    }

    /// The incident with this id, if any.
    fn find_incident(&self, id: i64) -> Result<Option<Incident>, Self::Error>;

    /// Opens an incident (audited).
    fn create_incident(&self, incident: NewIncident) -> Result<Incident, Self::Error> {
        self.create_incident_notified(incident, &|_| Vec::new())
    }

    /// Opens an incident and enqueues the notifications `first` plans for the stored
    /// incident (its id is known only then), in one transaction: a crash leaves both or
    /// neither. `first` must not call back into the store.
    fn create_incident_notified(
        &self,
        incident: NewIncident,
        first: &dyn Fn(&Incident) -> Vec<NewNotification>,
    ) -> Result<Incident, Self::Error>;

    /// Records a new firing of an open incident: peak value, latest trigger and evidence.
    fn update_incident_firing(
        &self,
        id: i64,
        trigger: &Trigger,
        peak_value: f64,
        evidence: &[EvidencePost],
        at: DateTime<Utc>,
    ) -> Result<(), Self::Error>;

    fn mark_incident_overdue(&self, id: i64, at: DateTime<Utc>) -> Result<(), Self::Error>;

    /// Silences active at `now`.
    fn active_silences(&self, now: DateTime<Utc>) -> Result<Vec<Silence>, Self::Error>;

    /// Resolves an incident on vigil's own authority (its rule stayed quiet for
    /// `auto_resolve_after`), with `note` saying why; audited like a person's.
    fn auto_resolve_incident(
        &self,
        id: i64,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Self::Error>;

    /// An acknowledgement ran out (`ack_timeout`) without a resolution: the incident is
    /// open again (audited). Returns it, or `None` if it was no longer acknowledged.
    fn expire_acknowledgement(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<Incident>, Self::Error>;

    fn incidents(&self, status: Option<IncidentStatus>) -> Result<Vec<Incident>, Self::Error>;

    /// Incidents not resolved yet (open or acknowledged): what the response clock and
    /// inhibition look at, without reading the resolved history.
    fn unresolved_incidents(&self) -> Result<Vec<Incident>, Self::Error> {
        let mut all = self.incidents(None)?;
        all.retain(|incident| incident.status != IncidentStatus::Resolved);
        Ok(all)
    }

    /// [`AlertStore::unresolved_incidents`] of one brand (inhibition looks only there).
    fn unresolved_incidents_of(&self, brand: &str) -> Result<Vec<Incident>, Self::Error> {
        let mut all = self.unresolved_incidents()?;
        all.retain(|incident| incident.brand == brand);
        Ok(all)
    }

    /// Inserts unless `(incident_id, kind, seq)` exists; returns whether it was new.
    fn enqueue_notification(&self, notification: NewNotification) -> Result<bool, Self::Error>;

    fn notifications_for_incident(
        &self,
        incident_id: i64,
    ) -> Result<Vec<Notification>, Self::Error>;

    /// Pending notifications whose `next_attempt_at <= now`, oldest first.
    fn due_notifications(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Notification>, Self::Error>;

    /// [`AlertStore::due_notifications`] on the channels starting with
    /// `channel_prefix` (`"email"`, `"webhook:"`).
    fn due_notifications_on(
        &self,
        channel_prefix: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Notification>, Self::Error>;

    /// Delivery confirmed by the mail server (audited with its reply).
    fn mark_notification_sent(
        &self,
        id: i64,
        smtp_reply: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Self::Error>;

    /// Delivery failed; try again at `next_attempt_at` (audited).
    fn mark_notification_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), Self::Error>;

    /// The mail server refused the notification for good: it becomes `Failed`
    /// (audited with the error) and is never tried again. A notification already
    /// confirmed sent stays sent.
    fn mark_notification_given_up(
        &self,
        id: i64,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Self::Error>;
}

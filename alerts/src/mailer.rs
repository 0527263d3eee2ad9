//! Delivery: the durable outbox drained to SMTP with lettre, retried with capped
//! exponential backoff while the mail server is unreachable.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeDelta, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::Rng;
use vigil_config::{OutboxConfig, SmtpConfig, SmtpTls};
use vigil_core::{
    AlertStore, EMAIL_CHANNEL, IncidentStatus, NewIncident, Notification, NotificationKind,
    Severity, Trigger, WEBHOOK_CHANNEL_PREFIX,
};

use crate::engine::DELIVERY_FAILURE_RULE;
use crate::error::{AlertsError, DeliveryError, Result, store_error};
use crate::webhook::Webhooks;

/// Notifications taken from the outbox per [`deliver_due`] call.
const DELIVERY_BATCH: usize = 100;

/// An SMTP client for the outbox. Opens one connection per message: alerts are rare,
/// and a fresh connection never fails on a connection the server dropped overnight.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Bounds a whole send (connect to QUIT): lettre's own timeout only bounds the TCP
    /// connect, so a server that goes silent mid-conversation would otherwise hold the
    /// outbox forever.
    timeout: Duration,
}

impl Mailer {
    /// `tls = none` talks plain SMTP (local relays, tests); `starttls` upgrades on the
    /// submission port; `tls` is implicit TLS. The password is read from the
    /// environment variable or file `password_env`/`password_file` names, now, so a missing secret stops
    /// start-up rather than the first crisis mail.
    pub fn new(smtp: &SmtpConfig) -> Result<Mailer> {
        let setup_error = |reason: String| AlertsError::Smtp {
            host: smtp.host.clone(),
            reason,
        };
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|e| setup_error(format!("invalid from address {:?}: {e}", smtp.from)))?;
        let builder = match smtp.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                .map_err(|e| setup_error(e.to_string()))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                .map_err(|e| setup_error(e.to_string()))?,
        };
        let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
        match (&smtp.username, &smtp.password) {
            (Some(username), Some(secret)) => {
                let password = secret.resolve().map_err(AlertsError::MissingSecret)?;
                builder = builder.credentials(Credentials::new(username.clone(), password));
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err(setup_error(
                    "username is set but password_env (or password_file) is not".to_string(),
                ));
            }
            (None, Some(secret)) => {
                return Err(setup_error(format!(
                    "a password ({secret}) is set but username is not"
                )));
            }
        }
        Ok(Mailer {
            timeout: smtp.timeout,
            transport: builder.build(),
            from,
        })
    }

    /// Sends one notification; `Ok(reply)` (e.g. `"250 OK queued"`) once the server
    /// accepted it.
    pub async fn send(&self, notification: &Notification) -> Result<String, DeliveryError> {
        let message = self.message(notification)?;
        let Ok(sent) = tokio::time::timeout(self.timeout, self.transport.send(message)).await
        else {
            return Err(DeliveryError::Connection {
                notification_id: notification.id,
                reason: format!(
                    "the mail server did not finish within {} s (timeout)",
                    self.timeout.as_secs_f64()
                ),
            });
        };
        match sent {
            Ok(response) => Ok(format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )
            .trim_end()
            .to_string()),
            Err(error) if error.is_transient() || error.is_permanent() => {
                Err(DeliveryError::Rejected {
                    notification_id: notification.id,
                    permanent: error.is_permanent(),
                    reply: error.to_string(),
                })
            }
            Err(error) => Err(DeliveryError::Connection {
                notification_id: notification.id,
                reason: error_chain(&error),
            }),
        }
    }

    fn message(&self, notification: &Notification) -> Result<Message, DeliveryError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(notification.subject.clone())
            .message_id(Some(notification.message_id.clone()))
            .date(SystemTime::now());
        for address in &notification.recipients {
            let mailbox: Mailbox = address.parse().map_err(|e| DeliveryError::Address {
                notification_id: notification.id,
                address: address.clone(),
                reason: format!("{e}"),
            })?;
            builder = builder.to(mailbox);
        }
        if let Some(first) = &notification.in_reply_to {
            // Both headers: some clients thread on In-Reply-To, others on References.
            builder = builder.in_reply_to(first.clone()).references(first.clone());
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                notification.body_text.clone(),
                notification.body_html.clone(),
            ))
            .map_err(|e| DeliveryError::Message {
                notification_id: notification.id,
                reason: e.to_string(),
            })
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What one [`deliver_due`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Attempts that failed and will be retried.
    pub failed: usize,
    /// Notifications the server refused for good (not retried; a delivery-failure
    /// incident says so).
    pub given_up: usize,
}

/// The response window of a delivery-failure incident.
pub const DELIVERY_FAILURE_WINDOW: TimeDelta = TimeDelta::hours(24);

/// The delay before the next attempt after `attempts` failed ones, without jitter:
/// `retry_initial · 2^attempts`, at most `retry_max`.
pub fn retry_delay(outbox: &OutboxConfig, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.min(31));
    outbox
        .retry_initial
        .saturating_mul(factor)
        .min(outbox.retry_max)
}

/// Sends every due notification once. A success is recorded with the server's reply;
/// a failure schedules the next attempt after [`retry_delay`] plus up to 10% jitter
/// (so a backlog does not hit a recovering server all at once). When the server
/// cannot be reached at all the round stops: the rest stay due and are tried on the
/// next call, instead of each waiting out the connect timeout now.
pub async fn deliver_due<S: AlertStore>(
    store: &S,
    mailer: &Mailer,
    outbox: &OutboxConfig,
    now: DateTime<Utc>,
) -> Result<DeliveryReport> {
    deliver(store, Sender::Mail(mailer), outbox, now).await
}

/// [`deliver_due`] for the webhook channels. One unreachable webhook does not hold up
/// the others (they are different services).
pub async fn deliver_webhooks_due<S: AlertStore>(
    store: &S,
    webhooks: &Webhooks,
    outbox: &OutboxConfig,
    now: DateTime<Utc>,
) -> Result<DeliveryReport> {
    deliver(store, Sender::Webhooks(webhooks), outbox, now).await
}

/// What delivers one family of channels.
enum Sender<'a> {
    Mail(&'a Mailer),
    Webhooks(&'a Webhooks),
}

impl Sender<'_> {
    fn channels(&self) -> &'static str {
        match self {
            Sender::Mail(_) => EMAIL_CHANNEL,
            Sender::Webhooks(_) => WEBHOOK_CHANNEL_PREFIX,
        }
    }

    async fn send(&self, notification: &Notification) -> Result<String, DeliveryError> {
        match self {
            Sender::Mail(mailer) => mailer.send(notification).await,
            Sender::Webhooks(webhooks) => webhooks.send(notification).await,
        }
    }
}

async fn deliver<S: AlertStore>(
    store: &S,
    sender: Sender<'_>,
    outbox: &OutboxConfig,
    now: DateTime<Utc>,
) -> Result<DeliveryReport> {
    let due = store
        .due_notifications_on(sender.channels(), now, DELIVERY_BATCH)
        .map_err(store_error("due_notifications"))?;
    let mut report = DeliveryReport::default();
    for notification in &due {
        match sender.send(notification).await {
            Ok(reply) => {
                // The server has the message: recording that must not be given up
                // lightly, or the next round would send it again. Retry a busy store a
                // few times before reporting the error.
                let mut attempt = 0;
                while let Err(error) = store.mark_notification_sent(notification.id, &reply, now) {
                    attempt += 1;
                    if attempt >= 5 {
                        return Err(store_error("mark_notification_sent")(error));
                    }
                    tracing::warn!(notification = notification.id, %error, attempt, "cannot record a delivered notification; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                report.sent += 1;
                tracing::info!(notification = notification.id, incident = notification.incident_id, kind = notification.kind.as_str(), seq = notification.seq, channel = %notification.channel, %reply, "notification sent");
            }
            Err(error) if error.is_permanent() => {
                store
                    .mark_notification_given_up(notification.id, &error.to_string(), now)
                    .map_err(store_error("mark_notification_given_up"))?;
                report.given_up += 1;
                tracing::error!(notification = notification.id, incident = notification.incident_id, %error, "notification refused permanently; not retrying");
                raise_delivery_failure(store, notification, &error.to_string(), now)?;
            }
            Err(error) => {
                let base = retry_delay(outbox, notification.attempts);
                let jitter_ms = rand::rng().random_range(0..=base.as_millis() as u64 / 10);
                let delay = TimeDelta::from_std(base + Duration::from_millis(jitter_ms))
                    .unwrap_or(TimeDelta::MAX);
                let next_attempt_at = now.checked_add_signed(delay).unwrap_or(now);
                store
                    .mark_notification_failed(notification.id, &error.to_string(), next_attempt_at)
                    .map_err(store_error("mark_notification_failed"))?;
                report.failed += 1;
                tracing::warn!(notification = notification.id, incident = notification.incident_id, attempts = notification.attempts + 1, %error, next_attempt_at = %next_attempt_at, "notification delivery failed; will retry");
                if error.is_connection() && matches!(sender, Sender::Mail(_)) {
                    break;
                }
            }
        }
    }
    Ok(report)
}

/// Opens (or, while one is open for the brand, updates) the `delivery_failure`
/// incident for a notification the server refused for good. A refused notification of
/// a delivery-failure incident opens nothing more (that would loop); it is logged.
fn raise_delivery_failure<S: AlertStore>(
    store: &S,
    notification: &Notification,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let incident = store
        .find_incident(notification.incident_id)
        .map_err(store_error("find_incident"))?;
    let brand = match incident {
        Some(incident) if incident.rule == DELIVERY_FAILURE_RULE => {
            tracing::error!(
                notification = notification.id,
                incident = incident.id,
                "a delivery-failure notification was refused too; nobody can be told by mail"
            );
            return Ok(());
        }
        Some(incident) => incident.brand,
        None => "*".to_owned(),
    };
    let (refuser, whom) = if notification.channel == EMAIL_CHANNEL {
        (
            "mail server",
            format!("to {}", notification.recipients.join(", ")),
        )
    } else {
        ("webhook", format!("on {}", notification.channel))
    };
    let explanation = format!(
        "The {refuser} permanently refused notification {} ({} of incident {}, {whom}), \
         so it will not be retried: {error}",
        notification.id,
        kind_name(notification.kind),
        notification.incident_id,
    );
    let open = store
        .unresolved_incident(DELIVERY_FAILURE_RULE, &brand)
        .map_err(store_error("unresolved_incident"))?;
    let refused = open.as_ref().map_or(0.0, |incident| incident.peak_value) + 1.0;
    let trigger = Trigger {
        metric: "notifications_refused".into(),
        value: refused,
        threshold: 0.0,
        baseline: None,
        window_secs: 0,
        baseline_secs: None,
        mentions: 0,
        explanation,
        context: Default::default(),
    };
    match open {
        Some(incident) if incident.status != IncidentStatus::Resolved => store
            .update_incident_firing(incident.id, &trigger, refused, &[], now)
            .map_err(store_error("update_incident_firing")),
        _ => store
            .create_incident(NewIncident {
                rule: DELIVERY_FAILURE_RULE.into(),
                brand,
                severity: Severity::Warning,
                opened_at: now,
                response_deadline: now + DELIVERY_FAILURE_WINDOW,
                trigger,
                evidence: Vec::new(),
            })
            .map(drop)
            .map_err(store_error("create_incident")),
    }
}

fn kind_name(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::First => "the first alert",
        NotificationKind::Reminder => "a reminder",
        NotificationKind::Escalation => "the escalation",
        NotificationKind::Summary => "the summary",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let outbox = OutboxConfig {
            retry_initial: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
        };
        let delays: Vec<u64> = (0..10).map(|a| retry_delay(&outbox, a).as_secs()).collect();
        assert_eq!(
            delays,
            vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
        );
        assert_eq!(retry_delay(&outbox, u32::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn missing_password_env_is_named() {
        let smtp = SmtpConfig {
            host: "127.0.0.1".into(),
            port: 2525,
            tls: SmtpTls::None,
            username: Some("alerts".into()),
            password: Some(vigil_config::SecretRef::env(
                "VIGIL_TEST_SURELY_UNSET_PASSWORD",
            )),
            from: "Vigil <alerts@example.com>".into(),
            timeout: Duration::from_secs(5),
        };
        let message = Mailer::new(&smtp).err().expect("missing env").to_string();
        assert!(
            message.contains("VIGIL_TEST_SURELY_UNSET_PASSWORD"),
            "{message}"
        );
    }
}

use thiserror::Error;

/// Errors of the alert engine and the mailer's setup.
#[derive(Debug, Error)]
pub enum AlertsError {
    /// A response script's template does not compile, or uses a variable that does not
    /// exist (checked once at start against a sample incident).
    #[error("script {script:?}: {part} template: {source:#}")]
    Template {
        script: String,
        /// `subject` or `body`.
        part: &'static str,
        #[source]
        source: minijinja::Error,
    },
    /// Rendering a built-in notification layout failed (a bug, not a config problem).
    #[error("rendering the {kind} notification of incident {incident_id}: {source:#}")]
    Render {
        incident_id: i64,
        kind: &'static str,
        #[source]
        source: minijinja::Error,
    },
    /// Something the config loader should have rejected (kept so the engine never
    /// trusts a hand-built `Config` blindly).
    #[error("alerts config: {0}")]
    Config(String),
    /// The store behind [`vigil_core::AlertStore`] failed.
    #[error("alert store: {operation}: {source}")]
    Store {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An SMTP secret's environment variable is not set.
    #[error("SMTP password: {0}")]
    MissingSecret(String),
    #[error("SMTP setup for {host}: {reason}")]
    Smtp { host: String, reason: String },
}

pub type Result<T, E = AlertsError> = std::result::Result<T, E>;

pub(crate) fn store_error<E>(operation: &'static str) -> impl FnOnce(E) -> AlertsError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |source| AlertsError::Store {
        operation,
        source: Box::new(source),
    }
}

/// Why one notification could not be delivered. Transient failures are retried by the
/// outbox with backoff; permanent ones ([`DeliveryError::is_permanent`]) are given up
/// and raise a delivery-failure incident.
#[derive(Debug, Error)]
pub enum DeliveryError {
    /// A recipient or sender address does not parse: retrying will not help until the
    /// config is fixed, but the message stays in the outbox so nothing is lost.
    #[error("notification {notification_id}: invalid address {address:?}: {reason}")]
    Address {
        notification_id: i64,
        address: String,
        reason: String,
    },
    #[error("notification {notification_id}: could not build the message: {reason}")]
    Message {
        notification_id: i64,
        reason: String,
    },
    /// No SMTP reply at all: connection refused, TLS failure, timeout. The server is
    /// probably down, so the rest of a delivery round waits too.
    #[error("notification {notification_id}: could not reach the mail server: {reason}")]
    Connection {
        notification_id: i64,
        reason: String,
    },
    /// The server answered 4xx (try later) or 5xx (refused).
    #[error("notification {notification_id}: mail server refused it: {reply}")]
    Rejected {
        notification_id: i64,
        permanent: bool,
        reply: String,
    },
    /// A webhook endpoint could not be reached (connection, TLS, timeout) or its URL
    /// is unusable.
    #[error("notification {notification_id}: could not reach the webhook: {reason}")]
    WebhookConnection {
        notification_id: i64,
        reason: String,
    },
    /// The webhook answered with an error: an HTTP status, or a chat API's error code
    /// in a 200 reply (WeCom/DingTalk `errcode`, Feishu `code`).
    #[error("notification {notification_id}: webhook refused it: {reply}")]
    WebhookRejected {
        notification_id: i64,
        permanent: bool,
        reply: String,
    },
}

impl DeliveryError {
    /// True when the mail server could not be reached at all.
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            DeliveryError::Connection { .. } | DeliveryError::WebhookConnection { .. }
        )
    }

    /// True when retrying the same message is not expected to succeed.
    pub fn is_permanent(&self) -> bool {
        match self {
            DeliveryError::Address { .. } | DeliveryError::Message { .. } => true,
            DeliveryError::Rejected { permanent, .. }
            | DeliveryError::WebhookRejected { permanent, .. } => *permanent,
            DeliveryError::Connection { .. } | DeliveryError::WebhookConnection { .. } => false,
        }
    }
}

//! Webhook channels: the same notifications as the mail, posted to chat tools and
//! other systems. Each recipient group's webhooks get their own outbox rows (channel
//! `webhook:<group>:<n>`), so every channel is delivered, retried and audited on its
//! own, at least once, with the notification's Message-ID as the idempotency key.
//!
//! Formats (`kind`):
//! - `json`: the structured payload below, `Idempotency-Key` header, and with
//!   `secret_env` an `X-Vigil-Signature: sha256=<hex HMAC-SHA256 of the body>`.
//! - `slack`: an incoming-webhook message (`{"text": …}`, Slack's mrkdwn).
//! - `wecom` (企业微信 group bot): `{"msgtype":"markdown","markdown":{"content":…}}`.
//! - `dingtalk` (钉钉 custom bot): markdown; with `secret_env` the URL is signed as
//!   DingTalk requires (`timestamp` in ms and `sign` = base64 HMAC-SHA256 of
//!   `"{timestamp}\n{secret}"` keyed by the secret).
//! - `feishu` (飞书 custom bot): a text message; with `secret_env` the body carries
//!   `timestamp` (s) and `sign` = base64 HMAC-SHA256 of the empty string keyed by
//!   `"{timestamp}\n{secret}"`.
//!
//! A chat API that answers HTTP 200 with an error code (`errcode`, `code`) has refused
//! the message. Rate limits, 408, 429 and 5xx are transient; other refusals are
//! permanent. URLs and secrets come from the environment or files (`url_env`/`url_file`,
//! `secret_env`/`secret_file`),
//! read once at start-up, and are never logged: replies and errors name the channel.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use vigil_config::AlertsConfig;
use vigil_core::{Incident, Notification, NotificationKind, WEBHOOK_CHANNEL_PREFIX};

use crate::error::{AlertsError, DeliveryError, Result};

/// How long one webhook call may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Evidence posts in the structured payload.
const PAYLOAD_EVIDENCE: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookKind {
    Json,
    Slack,
    WeCom,
    DingTalk,
    Feishu,
}

impl WebhookKind {
    fn parse(kind: &str) -> Option<WebhookKind> {
        match kind {
            "json" => Some(WebhookKind::Json),
            "slack" => Some(WebhookKind::Slack),
            "wecom" => Some(WebhookKind::WeCom),
            "dingtalk" => Some(WebhookKind::DingTalk),
            "feishu" => Some(WebhookKind::Feishu),
            _ => None,
        }
    }

    /// The longest text the service takes, in bytes (WeCom markdown: 4,096; the others
    /// more than an alert needs).
    fn max_text_bytes(self) -> usize {
        match self {
            WebhookKind::WeCom => 4_000,
            WebhookKind::DingTalk => 18_000,
            WebhookKind::Feishu => 15_000,
            WebhookKind::Slack => 30_000,
            WebhookKind::Json => usize::MAX,
        }
    }
}

/// One configured webhook.
struct Target {
    kind: WebhookKind,
    url: String,
    secret: Option<String>,
}

/// Every webhook of the configuration, by channel, with the HTTP client.
pub struct Webhooks {
    client: reqwest::Client,
    targets: BTreeMap<String, Target>,
    /// Channels of each recipient group, in config order.
    groups: BTreeMap<String, Vec<String>>,
}

impl Webhooks {
    /// Reads every webhook's URL (and secret) from the environment. A variable that
    /// is unset or empty, or a URL that is not http(s), is an error naming the variable.
    pub fn from_config(alerts: &AlertsConfig) -> Result<Webhooks> {
        Self::from_config_with(alerts, &|name| std::env::var(name).ok())
    }

    /// [`Webhooks::from_config`] with the environment given as a lookup (tests).
    pub fn from_config_with(
        alerts: &AlertsConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Webhooks> {
        let mut targets = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut problems = Vec::new();
        for recipient in &alerts.recipients {
            for (n, webhook) in recipient.webhooks.iter().enumerate() {
                let channel = channel(&recipient.name, n);
                let Some(kind) = WebhookKind::parse(&webhook.kind) else {
                    problems.push(format!("{channel}: unknown kind {:?}", webhook.kind));
                    continue;
                };
                let url = match webhook.url.resolve_with(env) {
                    Ok(url) if !url.trim().is_empty() => url,
                    Ok(_) => {
                        problems.push(format!("{channel}: the URL in {} is blank", webhook.url));
                        continue;
                    }
                    Err(problem) => {
                        problems.push(format!("{channel}: webhook URL: {problem}"));
                        continue;
                    }
                };
                match url::Url::parse(url.trim()) {
                    Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                    _ => {
                        problems.push(format!(
                            "{channel}: {} does not hold an http(s) URL",
                            webhook.url
                        ));
                        continue;
                    }
                }
                let secret = match &webhook.secret {
                    Some(secret) => match secret.resolve_with(env) {
                        Ok(secret) => Some(secret),
                        Err(problem) => {
                            problems.push(format!("{channel}: signing secret: {problem}"));
                            continue;
                        }
                    },
                    None => None,
                };
                groups
                    .entry(recipient.name.clone())
                    .or_default()
                    .push(channel.clone());
                targets.insert(
                    channel,
                    Target {
                        kind,
                        url: url.trim().to_owned(),
                        secret,
                    },
                );
            }
        }
        if !problems.is_empty() {
            return Err(AlertsError::Config(format!(
                "webhooks: {}",
                problems.join("; ")
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("vigil/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| AlertsError::Config(format!("webhook HTTP client: {error}")))?;
        Ok(Webhooks {
            client,
            targets,
            groups,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The channels of the named recipient groups, in config order.
    pub fn channels_of(&self, groups: &[String]) -> Vec<String> {
        groups
            .iter()
            .filter_map(|group| self.groups.get(group))
            .flatten()
            .cloned()
            .collect()
    }

    /// Posts one webhook notification; `Ok(reply)` once the service accepted it.
    pub async fn send(&self, notification: &Notification) -> Result<String, DeliveryError> {
        let id = notification.id;
        let connection = |reason: String| DeliveryError::WebhookConnection {
            notification_id: id,
            reason,
        };
        let Some(target) = self.targets.get(&notification.channel) else {
            return Err(DeliveryError::WebhookRejected {
                notification_id: id,
                permanent: true,
                reply: format!(
                    "{} is no longer configured (recipient group or webhook removed)",
                    notification.channel
                ),
            });
        };
        let empty = json!({});
        let payload = notification.payload.as_ref().unwrap_or(&empty);
        let now = Utc::now();
        let (url, body) = request(target, notification, payload, now);
        let mut request = self
            .client
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &notification.message_id);
        if target.kind == WebhookKind::Json {
            request = request.header("X-Vigil-Event", notification.kind.as_str());
            if let Some(secret) = &target.secret {
                request = request.header(
                    "X-Vigil-Signature",
                    format!("sha256={}", hex_hmac(secret.as_bytes(), body.as_bytes())),
                );
            }
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|error| connection(describe(error)))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let shown: String = text.chars().take(300).collect();
        let reply = format!("HTTP {} {}", status.as_u16(), shown.trim())
            .trim_end()
            .to_owned();
        if !status.is_success() {
            let transient = status.is_server_error()
                || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                || status == reqwest::StatusCode::REQUEST_TIMEOUT;
            return Err(DeliveryError::WebhookRejected {
                notification_id: id,
                permanent: !transient,
                reply,
            });
        }
        if let Some((code, transient)) = api_error(target.kind, &text) {
            return Err(DeliveryError::WebhookRejected {
                notification_id: id,
                permanent: !transient,
                reply: format!("{reply} (error code {code})"),
            });
        }
        Ok(reply)
    }
}

/// The outbox channel of recipient group `group`'s `n`-th webhook.
pub fn channel(group: &str, n: usize) -> String {
    format!("{WEBHOOK_CHANNEL_PREFIX}{group}:{n}")
}

/// The URL to post to and the body, for the target's format.
fn request(
    target: &Target,
    notification: &Notification,
    payload: &Value,
    now: DateTime<Utc>,
) -> (String, String) {
    let text = truncate(&notification.body_text, target.kind.max_text_bytes());
    let subject = &notification.subject;
    let mut url = target.url.clone();
    let body = match target.kind {
        WebhookKind::Json => payload.clone(),
        WebhookKind::Slack => json!({ "text": format!("*{subject}*\n{text}") }),
        WebhookKind::WeCom => json!({
            "msgtype": "markdown",
            "markdown": { "content": truncate(&format!("**{subject}**\n{text}"), 4_000) },
        }),
        WebhookKind::DingTalk => {
            if let Some(secret) = &target.secret {
                let (timestamp, sign) = dingtalk_sign(secret, now);
                let separator = if url.contains('?') { '&' } else { '?' };
                url = format!(
                    "{url}{separator}timestamp={timestamp}&sign={}",
                    url::form_urlencoded::byte_serialize(sign.as_bytes()).collect::<String>()
                );
            }
            json!({
                "msgtype": "markdown",
                "markdown": { "title": subject, "text": format!("### {subject}\n\n{text}") },
            })
        }
        WebhookKind::Feishu => {
            let mut body = json!({
                "msg_type": "text",
                "content": { "text": format!("{subject}\n{text}") },
            });
            if let Some(secret) = &target.secret {
                let (timestamp, sign) = feishu_sign(secret, now);
                body["timestamp"] = json!(timestamp);
                body["sign"] = json!(sign);
            }
            body
        }
    };
    (url, body.to_string())
}

/// A chat API's error code in a 2xx reply, and whether it is a rate limit (transient).
fn api_error(kind: WebhookKind, body: &str) -> Option<(i64, bool)> {
    let value: Value = serde_json::from_str(body).ok()?;
    let code = match kind {
        WebhookKind::WeCom | WebhookKind::DingTalk => value.get("errcode")?.as_i64()?,
        WebhookKind::Feishu => value
            .get("code")
            .or_else(|| value.get("StatusCode"))?
            .as_i64()?,
        WebhookKind::Json | WebhookKind::Slack => return None,
    };
    // Rate limits: WeCom 45009, DingTalk 130101 (and 660026), Feishu 9499 / 11232.
    let transient = matches!(code, 45009 | 130101 | 660026 | 9499 | 11232 | -1);
    (code != 0).then_some((code, transient))
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn hex_hmac(key: &[u8], message: &[u8]) -> String {
    hmac(key, message)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// DingTalk: `timestamp` in milliseconds, `sign` = base64(HMAC-SHA256(key = secret,
/// message = "{timestamp}\n{secret}")), to be URL-encoded into the webhook URL.
pub fn dingtalk_sign(secret: &str, now: DateTime<Utc>) -> (i64, String) {
    let timestamp = now.timestamp_millis();
    let signature = hmac(
        secret.as_bytes(),
        format!("{timestamp}\n{secret}").as_bytes(),
    );
    (
        timestamp,
        base64::engine::general_purpose::STANDARD.encode(signature),
    )
}

/// Feishu: `timestamp` in seconds (as a string), `sign` = base64(HMAC-SHA256(key =
/// "{timestamp}\n{secret}", message = empty)).
pub fn feishu_sign(secret: &str, now: DateTime<Utc>) -> (String, String) {
    let timestamp = now.timestamp().to_string();
    let signature = hmac(format!("{timestamp}\n{secret}").as_bytes(), b"");
    (
        timestamp,
        base64::engine::general_purpose::STANDARD.encode(signature),
    )
}

/// At most `max` bytes of `text`, cut on a character boundary, marked when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    const MARK: &str = "\n…(truncated: the full text is in the mail and the dashboard)";
    let mut end = max.saturating_sub(MARK.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &text[..end])
}

/// The error and its causes, without the URL (it may carry a token).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// The structured message of a webhook notification (the `json` kind's body).
pub fn payload(
    incident: &Incident,
    kind: NotificationKind,
    seq: u32,
    subject: &str,
    text: &str,
    message_id: &str,
    dashboard_url: Option<&str>,
) -> Value {
    let evidence: Vec<Value> = incident
        .evidence
        .iter()
        .take(PAYLOAD_EVIDENCE)
        .map(|post| {
            json!({
                "id": post.id,
                "url": post.url,
                "source": post.source,
                "author": post.author,
                "published_at": post.published_at,
                "text": post.text,
                "label": post.label,
                "score": post.score,
            })
        })
        .collect();
    json!({
        "event": kind.as_str(),
        "seq": seq,
        "message_id": message_id,
        "incident": {
            "id": incident.id,
            "rule": incident.rule,
            "brand": incident.brand,
            "severity": incident.severity,
            "status": incident.status,
            "opened_at": incident.opened_at,
            "response_deadline": incident.response_deadline,
            "trigger": incident.trigger,
        },
        "subject": subject,
        "text": text,
        "evidence": evidence,
        "acknowledge": {
            "command": format!("vigil incidents ack {} --by NAME", incident.id),
            "dashboard": dashboard_url.map(|base| {
                format!("{}/#/incidents/{}", base.trim_end_matches('/'), incident.id)
            }),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn truncation_keeps_characters_whole() {
        let text = "召回".repeat(100);
        let cut = truncate(&text, 100);
        assert!(cut.len() <= 100, "{}", cut.len());
        assert!(cut.ends_with("dashboard)"));
        assert_eq!(truncate("short", 100), "short");
    }

    #[test]
    fn chat_error_codes() {
        assert_eq!(
            api_error(WebhookKind::DingTalk, r#"{"errcode":0,"errmsg":"ok"}"#),
            None
        );
        assert_eq!(
            api_error(
                WebhookKind::DingTalk,
                r#"{"errcode":310000,"errmsg":"sign not match"}"#
            ),
            Some((310000, false))
        );
        assert_eq!(
            api_error(WebhookKind::WeCom, r#"{"errcode":45009,"errmsg":"freq"}"#),
            Some((45009, true))
        );
        assert_eq!(
            api_error(
                WebhookKind::Feishu,
                r#"{"code":19021,"msg":"sign match fail"}"#
            ),
            Some((19021, false))
        );
        assert_eq!(api_error(WebhookKind::Slack, "ok"), None);
    }

    #[test]
    fn signatures_match_a_known_answer() {
        // Computed independently with Python's hmac/hashlib/base64 for the same inputs.
        let now = Utc.timestamp_millis_opt(1_700_000_000_123).unwrap();
        let (timestamp, sign) = dingtalk_sign("SECabc", now);
        assert_eq!(timestamp, 1_700_000_000_123);
        assert_eq!(sign, "IqXBU/aLfwMA3S/tDcfRmHx5vWHw9Y1aOgFLBr1Ti9w=");
        let (timestamp, sign) = feishu_sign("abc", now);
        assert_eq!(timestamp, "1700000000");
        assert_eq!(sign, "VIS10b0EBvzzSdFnuk4tznEmK5wHaruvf/WnViv2yR4=");
    }
}

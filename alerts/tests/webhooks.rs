//! Webhook channels against a real HTTP server on 127.0.0.1 (axum): every format's
//! body, DingTalk's and Feishu's signatures checked the way those services check them,
//! the JSON kind's idempotency key and body signature, retries on 5xx, and a permanent
//! refusal (4xx, or a chat API's error code in a 200) given up with a
//! delivery-failure incident. Email rows are untouched by webhook delivery.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post as post_route;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use support::*;
use vigil_alerts::{AlertEngine, Webhooks, deliver_webhooks_due};
use vigil_config::{RuleKind, SecretRef, WebhookConfig};
use vigil_core::{AlertStore, NotificationStatus};

const SECRET: &str = "SEC-test-secret";

#[derive(Debug, Clone)]
struct Request {
    path: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: serde_json::Value,
}

#[derive(Clone, Default)]
struct Hooks {
    requests: Arc<Mutex<Vec<Request>>>,
    /// Calls per path, for the flaky endpoint.
    calls: Arc<Mutex<HashMap<String, usize>>>,
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Answers as each service does; DingTalk and Feishu check the signature as documented
/// by them (recomputed here from the secret and the sent timestamp).
async fn hook(
    State(hooks): State<Hooks>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let calls = {
        let mut calls = hooks.calls.lock().unwrap();
        let n = calls.entry(path.clone()).or_default();
        *n += 1;
        *n
    };
    hooks.requests.lock().unwrap().push(Request {
        path: path.clone(),
        query: query.clone(),
        headers,
        body: value.clone(),
    });
    match path.as_str() {
        "dingtalk" => {
            let timestamp = query.get("timestamp").cloned().unwrap_or_default();
            let expected = b64(&hmac(
                SECRET.as_bytes(),
                format!("{timestamp}\n{SECRET}").as_bytes(),
            ));
            if query.get("sign") == Some(&expected) {
                (StatusCode::OK, r#"{"errcode":0,"errmsg":"ok"}"#.into())
            } else {
                (
                    StatusCode::OK,
                    r#"{"errcode":310000,"errmsg":"sign not match"}"#.into(),
                )
            }
        }
        "feishu" => {
            let timestamp = value["timestamp"].as_str().unwrap_or_default();
            let expected = b64(&hmac(format!("{timestamp}\n{SECRET}").as_bytes(), b""));
            if value["sign"].as_str() == Some(expected.as_str()) {
                (StatusCode::OK, r#"{"code":0,"msg":"success"}"#.into())
            } else {
                (
                    StatusCode::OK,
                    r#"{"code":19021,"msg":"sign match fail"}"#.into(),
                )
            }
        }
        "wecom" => (StatusCode::OK, r#"{"errcode":0,"errmsg":"ok"}"#.into()),
        "slack" => (StatusCode::OK, "ok".into()),
        "json" => (StatusCode::NO_CONTENT, String::new()),
        // Down twice, then fine.
        "flaky" if calls <= 2 => (StatusCode::SERVICE_UNAVAILABLE, "busy".into()),
        "flaky" => (StatusCode::OK, "ok".into()),
        "gone" => (StatusCode::NOT_FOUND, "no such hook".into()),
        "wrong-key" => (
            StatusCode::OK,
            r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#.into(),
        ),
        _ => (StatusCode::NOT_FOUND, "unknown".into()),
    }
}

async fn start_server() -> (String, Hooks) {
    let hooks = Hooks::default();
    let app = Router::new()
        .route("/{path}", post_route(hook))
        .with_state(hooks.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, hooks)
}

fn webhook(kind: &str, url_env: &str, signed: bool) -> WebhookConfig {
    WebhookConfig {
        kind: kind.into(),
        url: SecretRef::env(url_env),
        secret: signed.then(|| SecretRef::env("HOOK_SECRET")),
    }
}

/// A keyword incident for `pr-team`, whose group has `webhooks`, planned into the
/// outbox; the environment maps `URL_<PATH>` to `base/<path>`.
fn setup(
    base: &str,
    webhooks: Vec<WebhookConfig>,
) -> (AlertEngine, Webhooks, MemStore, vigil_config::Config) {
    let mut cfg = config(vec![with_query(
        rule("recall", RuleKind::Keyword),
        "recall",
    )]);
    cfg.alerts.recipients[0].webhooks = webhooks;
    let engine = AlertEngine::new(&cfg).unwrap();
    let base = base.to_owned();
    let env = move |name: &str| -> Option<String> {
        if name == "HOOK_SECRET" {
            return Some(SECRET.into());
        }
        name.strip_prefix("URL_").map(|path| {
            format!(
                "{base}/{}?token=t0ken",
                path.to_lowercase().replace('_', "-")
            )
        })
    };
    let hooks = Webhooks::from_config_with(&cfg.alerts, &env).unwrap();
    let store = MemStore::new();
    store.add(
        "Acme",
        post(
            "r1",
            t0() - minutes(2),
            "Acme kettle recall: the base melts",
            None,
            Some(-0.7),
        ),
    );
    engine.evaluate(&store, t0()).unwrap();
    (engine, hooks, store, cfg)
}

#[tokio::test]
async fn every_format_is_delivered_signed_and_once() {
    let (base, server) = start_server().await;
    let (engine, hooks, store, _) = setup(
        &base,
        vec![
            webhook("json", "URL_JSON", true),
            webhook("slack", "URL_SLACK", false),
            webhook("wecom", "URL_WECOM", false),
            webhook("dingtalk", "URL_DINGTALK", true),
            webhook("feishu", "URL_FEISHU", true),
        ],
    );
    // One email and five webhook rows for the first notification, written with the
    // incident.
    assert_eq!(store.all_notifications().len(), 6);
    assert_eq!(engine.plan_notifications(&store, t0()).unwrap(), 0);
    let report = deliver_webhooks_due(&store, &hooks, &outbox(), t0())
        .await
        .unwrap();
    assert_eq!((report.sent, report.failed, report.given_up), (5, 0, 0));

    let requests = server.requests.lock().unwrap().clone();
    let by_path: HashMap<&str, &Request> = requests.iter().map(|r| (r.path.as_str(), r)).collect();
    assert_eq!(requests.len(), 5, "{requests:?}");
    let notifications = store.all_notifications();
    let email = notifications.iter().find(|n| n.channel == "email").unwrap();
    assert_eq!(
        email.status,
        NotificationStatus::Pending,
        "webhook delivery leaves mail alone"
    );

    // json: the structured payload, keyed and signed.
    let json = by_path["json"];
    assert_eq!(json.body["event"], "first");
    assert_eq!(json.body["incident"]["brand"], "Acme");
    assert_eq!(json.body["incident"]["rule"], "recall");
    assert_eq!(json.body["message_id"], email.message_id);
    assert!(
        json.body["evidence"][0]["text"]
            .as_str()
            .unwrap()
            .contains("recall")
    );
    assert!(
        json.body["acknowledge"]["command"]
            .as_str()
            .unwrap()
            .starts_with("vigil incidents ack ")
    );
    assert_eq!(
        json.headers["idempotency-key"].to_str().unwrap(),
        email.message_id
    );
    let body = serde_json::to_vec(&json.body).unwrap();
    let expected: String = hmac(SECRET.as_bytes(), &body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        json.headers["x-vigil-signature"].to_str().unwrap(),
        format!("sha256={expected}")
    );
    // slack / wecom / dingtalk / feishu: their message shapes, with the subject.
    let subject = &email.subject;
    assert!(
        by_path["slack"].body["text"]
            .as_str()
            .unwrap()
            .contains(subject.as_str())
    );
    assert_eq!(by_path["wecom"].body["msgtype"], "markdown");
    assert!(
        by_path["wecom"].body["markdown"]["content"]
            .as_str()
            .unwrap()
            .len()
            <= 4096
    );
    assert_eq!(by_path["dingtalk"].body["markdown"]["title"], *subject);
    assert_eq!(by_path["dingtalk"].query["token"], "t0ken");
    assert_eq!(by_path["feishu"].body["msg_type"], "text");
    // Every webhook row is sent with the service's reply recorded.
    for n in notifications.iter().filter(|n| n.channel != "email") {
        let n = store
            .notifications_for_incident(n.incident_id)
            .unwrap()
            .into_iter()
            .find(|m| m.id == n.id)
            .unwrap();
        assert_eq!(n.status, NotificationStatus::Sent, "{}", n.channel);
        assert!(n.smtp_reply.as_deref().unwrap().starts_with("HTTP 2"));
    }

    // Nothing is posted twice; re-planning adds nothing.
    assert_eq!(engine.plan_notifications(&store, t0()).unwrap(), 0);
    let report = deliver_webhooks_due(&store, &hooks, &outbox(), t0() + hours(1))
        .await
        .unwrap();
    assert_eq!(report.sent, 0);
    assert_eq!(server.requests.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn transient_errors_retry_and_refusals_open_a_delivery_failure_incident() {
    let (base, server) = start_server().await;
    let (_, hooks, store, _) = setup(
        &base,
        vec![
            webhook("slack", "URL_FLAKY", false),
            webhook("json", "URL_GONE", false),
            webhook("wecom", "URL_WRONG_KEY", false),
        ],
    );
    assert_eq!(store.all_notifications().len(), 4);
    let report = deliver_webhooks_due(&store, &hooks, &outbox(), t0())
        .await
        .unwrap();
    // flaky: 503, retried later; gone: 404 and wrong-key: errcode 93000, given up.
    assert_eq!((report.sent, report.failed, report.given_up), (0, 1, 2));
    let incidents = store.all_incidents();
    assert_eq!(
        incidents.len(),
        2,
        "one delivery-failure incident per brand"
    );
    let failure = &incidents[1];
    assert_eq!(failure.rule, vigil_alerts::DELIVERY_FAILURE_RULE);
    assert_eq!(failure.peak_value, 2.0, "both refusals counted");
    assert!(
        failure.trigger.explanation.contains("webhook"),
        "{}",
        failure.trigger.explanation
    );
    assert!(
        !failure.trigger.explanation.contains("t0ken"),
        "no URL token in the incident"
    );

    // The flaky hook is retried with backoff until it answers.
    let mut now = t0();
    for _ in 0..4 {
        now += minutes(10);
        deliver_webhooks_due(&store, &hooks, &outbox(), now)
            .await
            .unwrap();
    }
    let flaky: Vec<_> = store
        .all_notifications()
        .into_iter()
        .filter(|n| n.channel == "webhook:pr-team:0")
        .collect();
    assert_eq!(flaky.len(), 1);
    assert_eq!(flaky[0].status, NotificationStatus::Sent);
    assert_eq!(flaky[0].attempts, 3);
    assert_eq!(server.calls.lock().unwrap()["flaky"], 3);
    // The refused ones were never retried.
    assert_eq!(server.calls.lock().unwrap()["gone"], 1);
    assert_eq!(server.calls.lock().unwrap()["wrong-key"], 1);
}

#[test]
fn missing_or_bad_urls_are_named_at_start() {
    let mut cfg = config(Vec::new());
    cfg.alerts.recipients[0].webhooks = vec![
        webhook("slack", "NOT_SET", false),
        webhook("dingtalk", "URL_FTP", true),
    ];
    let env = |name: &str| -> Option<String> {
        (name == "URL_FTP").then(|| "ftp://example.com/hook".to_owned())
    };
    let error = Webhooks::from_config_with(&cfg.alerts, &env)
        .err()
        .expect("a config error")
        .to_string();
    assert!(
        error.contains("webhook URL: environment variable NOT_SET is not set"),
        "{error}"
    );
    assert!(
        error.contains("URL_FTP does not hold an http(s) URL"),
        "{error}"
    );
}

//! Real SMTP: lettre delivering to a mailin-embedded server on 127.0.0.1, and the
//! outbox riding out a mail server that is down.

mod support;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use mail_parser::MessageParser;
use mailin_embedded::{Handler, Response, Server, SslConfig, response};
use support::*;
use vigil_alerts::{AlertEngine, Mailer, deliver_due};
use vigil_config::{RuleKind, SmtpTls};
use vigil_core::{AlertStore, NotificationKind, NotificationStatus};

#[derive(Debug, Clone)]
struct Received {
    to: Vec<String>,
    data: Vec<u8>,
}

/// Collects every message the server accepts.
#[derive(Clone)]
struct Collector {
    mails: Arc<Mutex<Vec<Received>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.mails.lock().unwrap().push(Received {
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        });
        response::OK
    }
}

/// Serves SMTP on `listener` for the rest of the test process. `serve()`'s error is
/// not `Send`, so it runs (and is dropped) inside its own thread.
fn start_server(listener: TcpListener) -> Arc<Mutex<Vec<Received>>> {
    let mails = Arc::new(Mutex::new(Vec::new()));
    serve(
        listener,
        Collector {
            mails: mails.clone(),
            to: Vec::new(),
            data: Vec::new(),
        },
    );
    mails
}

/// Serves SMTP with `handler` on `listener` in its own thread.
fn serve<H: Handler + Clone + Send + 'static>(listener: TcpListener, handler: H) {
    let mut server = Server::new(handler);
    server
        .with_name("localhost")
        .with_ssl(SslConfig::None)
        .unwrap()
        .with_num_threads(2)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        if let Err(error) = server.serve() {
            eprintln!("test SMTP server stopped: {error}");
        }
    });
}

/// An open keyword incident whose first notification is in the outbox.
fn incident_in_outbox() -> (AlertEngine, MemStore, i64) {
    let mut cfg = config(vec![with_query(
        rule("recall", RuleKind::Keyword),
        "recall",
    )]);
    cfg.scripts[0].subject =
        "[{{ severity|upper }}] {{ brand }}: {{ rule }} — 召回 (incident {{ incident_id }})".into();
    let engine = AlertEngine::new(&cfg).unwrap();
    let store = MemStore::new();
    store.add(
        "Acme",
        post(
            "r1",
            t0() - minutes(2),
            "Acme recall <script>x</script>",
            None,
            Some(-0.5),
        ),
    );
    let id = engine.evaluate(&store, t0()).unwrap()[0]
        .incident_id
        .unwrap();
    // The first notification was written with the incident.
    assert_eq!(store.all_notifications().len(), 1);
    assert_eq!(engine.plan_notifications(&store, t0()).unwrap(), 0);
    (engine, store, id)
}

#[tokio::test]
async fn delivers_first_and_threaded_reminder_to_a_real_smtp_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = start_server(listener);
    let (engine, store, id) = incident_in_outbox();
    let mailer = Mailer::new(&smtp(port)).unwrap();

    let report = deliver_due(&store, &mailer, &outbox(), t0()).await.unwrap();
    assert_eq!((report.sent, report.failed), (1, 0));
    let first = store.all_notifications().remove(0);
    assert_eq!(first.status, NotificationStatus::Sent);
    assert!(
        first.smtp_reply.as_deref().unwrap().starts_with("250"),
        "{:?}",
        first.smtp_reply
    );
    assert_eq!(first.sent_at, Some(t0()));

    {
        let mails = mails.lock().unwrap();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].to, vec!["pr@example.com", "press@example.com"]);
        let message = MessageParser::default()
            .parse(&mails[0].data)
            .expect("parses");
        assert_eq!(
            message.message_id(),
            Some(first.message_id.trim_matches(|c| c == '<' || c == '>'))
        );
        assert_eq!(
            message.subject(),
            Some("[CRISIS] Acme: recall — 召回 (incident 1)")
        );
        assert!(message.date().is_some());
        let to: Vec<&str> = message
            .to()
            .unwrap()
            .iter()
            .filter_map(|a| a.address())
            .collect();
        assert_eq!(to, vec!["pr@example.com", "press@example.com"]);
        let raw = String::from_utf8_lossy(&mails[0].data);
        assert!(raw.contains("multipart/alternative"), "{raw}");
        let text = message.body_text(0).unwrap();
        assert!(
            text.contains("matched the keyword query \"recall\""),
            "{text}"
        );
        assert!(text.contains("vigil incidents ack 1 --by <your name>"));
        let html = message.body_html(0).unwrap();
        assert!(
            html.contains("&lt;script&gt;x&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
    }

    // Two hours later the reminder threads under the first message.
    let later = t0() + hours(2);
    assert_eq!(engine.plan_notifications(&store, later).unwrap(), 1);
    let report = deliver_due(&store, &mailer, &outbox(), later)
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    let mails = mails.lock().unwrap();
    assert_eq!(mails.len(), 2);
    let reminder = MessageParser::default().parse(&mails[1].data).unwrap();
    let first_id = vigil_alerts::message_id(id, t0(), NotificationKind::First, 0);
    let bare = first_id.trim_matches(|c| c == '<' || c == '>');
    assert_eq!(reminder.in_reply_to().as_text(), Some(bare));
    assert_eq!(reminder.references().as_text(), Some(bare));
    assert_eq!(
        reminder.subject(),
        Some("Re: [CRISIS] Acme: recall — 召回 (incident 1)")
    );
}

#[tokio::test]
async fn outbox_retries_with_backoff_until_the_server_is_back_and_sends_once() {
    // A port nobody listens on (bound, then released).
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let (_engine, store, _) = incident_in_outbox();
    let mailer = Mailer::new(&smtp(port)).unwrap();

    let report = deliver_due(&store, &mailer, &outbox(), t0()).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 1));
    let pending = store.all_notifications().remove(0);
    assert_eq!(pending.status, NotificationStatus::Pending);
    assert_eq!(pending.attempts, 1);
    assert!(
        pending
            .last_error
            .as_deref()
            .unwrap()
            .contains("could not reach the mail server"),
        "{:?}",
        pending.last_error
    );
    // First retry after 30s plus at most 10% jitter.
    let wait = (pending.next_attempt_at - t0()).num_milliseconds();
    assert!((30_000..=33_000).contains(&wait), "{wait}");

    // Not due again before then.
    let report = deliver_due(
        &store,
        &mailer,
        &outbox(),
        t0() + chrono::TimeDelta::seconds(10),
    )
    .await
    .unwrap();
    assert_eq!((report.sent, report.failed), (0, 0));

    // Second failure doubles the wait.
    let second_try = t0() + minutes(1);
    deliver_due(&store, &mailer, &outbox(), second_try)
        .await
        .unwrap();
    let pending = store.all_notifications().remove(0);
    assert_eq!(pending.attempts, 2);
    let wait = (pending.next_attempt_at - second_try).num_milliseconds();
    assert!((60_000..=66_000).contains(&wait), "{wait}");

    // The server comes back on that port.
    let mails = start_server(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let back = t0() + minutes(5);
    let report = deliver_due(&store, &mailer, &outbox(), back).await.unwrap();
    assert_eq!((report.sent, report.failed), (1, 0));
    assert_eq!(mails.lock().unwrap().len(), 1);
    let sent = store.all_notifications().remove(0);
    assert_eq!(sent.status, NotificationStatus::Sent);
    assert_eq!(sent.attempts, 3);

    // Nothing is sent twice.
    let report = deliver_due(&store, &mailer, &outbox(), back + hours(1))
        .await
        .unwrap();
    assert_eq!((report.sent, report.failed), (0, 0));
    assert_eq!(mails.lock().unwrap().len(), 1);
    assert!(
        store
            .due_notifications(back + hours(10), 10)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn unreachable_server_ends_the_round_after_one_attempt() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let engine = AlertEngine::new(&config(vec![
        with_query(rule("recall", RuleKind::Keyword), "recall"),
        with_query(rule("fire", RuleKind::Keyword), "fire"),
    ]))
    .unwrap();
    let store = MemStore::new();
    store.add(
        "Acme",
        post("r1", t0() - minutes(2), "Acme recall and fire", None, None),
    );
    engine.evaluate(&store, t0()).unwrap();
    assert_eq!(store.all_notifications().len(), 2);

    let mailer = Mailer::new(&smtp(port)).unwrap();
    let report = deliver_due(&store, &mailer, &outbox(), t0()).await.unwrap();
    assert_eq!((report.sent, report.failed), (0, 1));
    let attempts: Vec<u32> = store
        .all_notifications()
        .iter()
        .map(|n| n.attempts)
        .collect();
    assert_eq!(
        attempts,
        vec![1, 0],
        "the second was not tried against a dead server"
    );
}

#[test]
fn mailer_builds_for_every_tls_mode() {
    for tls in [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls] {
        let mut config = smtp(587);
        config.host = "smtp.example.com".into();
        config.tls = tls;
        assert!(Mailer::new(&config).is_ok(), "{tls:?}");
    }
    let mut bad = smtp(25);
    bad.from = "not an address".into();
    let message = Mailer::new(&bad).err().expect("bad from").to_string();
    assert!(message.contains("invalid from address"), "{message}");
}

/// The daemon spawns delivery on the tokio runtime: the future must be `Send`.
#[test]
fn delivery_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Mailer>();
    let store = MemStore::new();
    let mailer = Mailer::new(&smtp(25)).unwrap();
    let outbox = outbox();
    let future = deliver_due(&store, &mailer, &outbox, t0());
    assert_send(&future);
}

/// A server that refuses every recipient for good (550), counting the refusals.
#[derive(Clone)]
struct Refuser {
    refused: Arc<Mutex<usize>>,
}

impl Handler for Refuser {
    fn rcpt(&mut self, _to: &str) -> Response {
        *self.refused.lock().unwrap() += 1;
        response::NO_MAILBOX
    }
}

#[tokio::test]
async fn a_permanent_refusal_is_not_retried_and_opens_a_delivery_failure_incident() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let refused = Arc::new(Mutex::new(0));
    serve(
        listener,
        Refuser {
            refused: refused.clone(),
        },
    );
    let (engine, store, id) = incident_in_outbox();
    let mailer = Mailer::new(&smtp(port)).unwrap();

    let report = deliver_due(&store, &mailer, &outbox(), t0()).await.unwrap();
    assert_eq!((report.sent, report.failed, report.given_up), (0, 0, 1));
    let first = store.all_notifications().remove(0);
    assert_eq!(first.status, NotificationStatus::Failed);
    assert!(
        first.last_error.as_deref().unwrap_or("").contains("550"),
        "{:?}",
        first.last_error
    );
    // A delivery-failure incident for the brand says what was refused and why.
    let incidents = store.all_incidents();
    assert_eq!(incidents.len(), 2);
    let failure = &incidents[1];
    assert_eq!(failure.rule, vigil_alerts::DELIVERY_FAILURE_RULE);
    assert_eq!(failure.brand, store.incident(id).brand);
    assert!(
        failure
            .trigger
            .explanation
            .contains(&format!("notification {}", first.id)),
        "{}",
        failure.trigger.explanation
    );

    // Never retried, however long we wait.
    let later = t0() + hours(2);
    let report = deliver_due(&store, &mailer, &outbox(), later)
        .await
        .unwrap();
    assert_eq!((report.sent, report.failed, report.given_up), (0, 0, 0));
    assert_eq!(*refused.lock().unwrap(), 1);

    // The failure incident is mailed like any other; when that is refused too, no
    // further incident is opened (it would loop), and nothing is retried.
    assert!(engine.plan_notifications(&store, later).unwrap() >= 1);
    let report = deliver_due(&store, &mailer, &outbox(), later)
        .await
        .unwrap();
    assert!(report.given_up >= 1, "{report:?}");
    assert_eq!(store.all_incidents().len(), 2);
    let report = deliver_due(&store, &mailer, &outbox(), later + hours(1))
        .await
        .unwrap();
    assert_eq!((report.sent, report.failed), (0, 0));
}

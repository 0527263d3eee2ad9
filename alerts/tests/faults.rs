//! Delivery guarantees under faults: a hand-written mail server that drops the
//! connection after taking a message, or goes silent after DATA or QUIT; and random
//! mention streams with random acknowledgements and resolutions against the real
//! SQLite store.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use mail_parser::MessageParser;
use proptest::prelude::*;
use support::*;
use vigil_alerts::{AlertEngine, Mailer, deliver_due};
use vigil_config::{RuleConfig, RuleKind};
use vigil_core::{
    AlertStore, IncidentStatus, Label, Post, Provenance, Sentiment, post_id, sha256_hex,
};
use vigil_store::Store;

// ------------------------------------------------- a server that drops after DATA

/// The DATA payloads a hand-written SMTP server received, in order, whether or not it
/// acknowledged them.
type Payloads = Arc<Mutex<Vec<Vec<u8>>>>;

/// How the hand-written server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Takes the first message in full, then closes the connection without a reply
    /// (the client cannot know whether the message was taken); accepts later ones.
    DropFirstMessageAfterData,
    /// Accepts every message with 250, then does not answer QUIT: it hangs up after
    /// two seconds of silence.
    StallOnQuit,
    /// Takes every message in full and never replies, holding the connection for a
    /// minute.
    StallAfterData,
}

/// Serves SMTP on 127.0.0.1 for the rest of the test process, misbehaving as `fault`
/// says.
fn start_faulty_server(fault: Fault) -> (u16, Payloads) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let payloads = Payloads::default();
    let recorded = payloads.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            // An error ends this session only: the client may have hung up.
            if let Err(error) = serve_session(stream, fault, &recorded) {
                eprintln!("fake SMTP session ended: {error}");
            }
        }
    });
    (port, payloads)
}

fn serve_session(
    stream: TcpStream,
    fault: Fault,
    payloads: &Mutex<Vec<Vec<u8>>>,
) -> std::io::Result<()> {
    // Never wait forever on a client that went quiet: the thread serves the next one.
    let patience = match fault {
        Fault::StallOnQuit => Duration::from_secs(2),
        _ => Duration::from_secs(60),
    };
    stream.set_read_timeout(Some(patience))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    writer.write_all(b"220 faults.test ESMTP\r\n")?;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line)
            .trim_end()
            .to_ascii_uppercase();
        let verb = command.split(' ').next().unwrap_or("");
        match verb {
            "EHLO" | "HELO" => writer.write_all(b"250 faults.test\r\n")?,
            "MAIL" | "RCPT" | "RSET" | "NOOP" => writer.write_all(b"250 OK\r\n")?,
            "DATA" => {
                writer.write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")?;
                let mut payload = Vec::new();
                loop {
                    line.clear();
                    if reader.read_until(b'\n', &mut line)? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" {
                        break;
                    }
                    payload.extend_from_slice(&line);
                }
                let number = {
                    let mut payloads = payloads.lock().unwrap();
                    payloads.push(payload);
                    payloads.len()
                };
                if fault == Fault::StallAfterData {
                    while reader.read_until(b'\n', &mut line)? > 0 {
                        line.clear();
                    }
                    return Ok(());
                }
                if number == 1 && fault == Fault::DropFirstMessageAfterData {
                    // The message is here, the reply never goes out.
                    writer.shutdown(Shutdown::Both)?;
                    return Ok(());
                }
                writer.write_all(format!("250 OK queued as {number}\r\n").as_bytes())?;
            }
            "QUIT" if fault == Fault::StallOnQuit => {
                // Silence until the client gives up and closes.
                while reader.read_until(b'\n', &mut line)? > 0 {
                    line.clear();
                }
                return Ok(());
            }
            "QUIT" => {
                writer.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => writer.write_all(b"502 command not implemented\r\n")?,
        }
    }
}

/// An open keyword incident whose first notification is in the outbox.
fn incident_in_outbox() -> MemStore {
    let engine = AlertEngine::new(&config(vec![with_query(
        rule("recall", RuleKind::Keyword),
        "recall",
    )]))
    .unwrap();
    let store = MemStore::new();
    store.add(
        "Acme",
        post("r1", t0() - minutes(2), "Acme recall", None, Some(-0.5)),
    );
    engine.evaluate(&store, t0()).unwrap();
    // Written with the incident; planning adds nothing.
    assert_eq!(store.all_notifications().len(), 1);
    assert_eq!(engine.plan_notifications(&store, t0()).unwrap(), 0);
    store
}

#[tokio::test]
async fn a_connection_dropped_after_data_is_retried_with_the_same_message_id() {
    let (port, payloads) = start_faulty_server(Fault::DropFirstMessageAfterData);
    let store = incident_in_outbox();
    let mailer = Mailer::new(&smtp(port)).unwrap();

    // Deliver at whatever time the outbox schedules the next attempt, until sent.
    let mut now = t0();
    let mut reports = Vec::new();
    for _ in 0..10 {
        let report = deliver_due(&store, &mailer, &outbox(), now).await.unwrap();
        reports.push((report.sent, report.failed, report.given_up));
        let notification = store.all_notifications().remove(0);
        if notification.status != vigil_core::NotificationStatus::Pending {
            break;
        }
        assert!(notification.next_attempt_at > now, "{notification:?}");
        now = notification.next_attempt_at;
    }
    assert_eq!(
        reports,
        vec![(0, 1, 0), (1, 0, 0)],
        "one failed attempt (no reply), then one accepted"
    );

    let sent = store.all_notifications().remove(0);
    assert_eq!(sent.status, vigil_core::NotificationStatus::Sent);
    assert_eq!(sent.attempts, 2);
    assert_eq!(sent.smtp_reply.as_deref(), Some("250 OK queued as 2"));
    // The retry waited for the backoff (30s plus at most 10% jitter).
    let waited = (now - t0()).num_milliseconds();
    assert!((30_000..=33_000).contains(&waited), "{waited}");

    let copies = payloads.lock().unwrap().clone();
    assert_eq!(
        copies.len(),
        2,
        "the server saw the message twice: dropped, then accepted"
    );
    let expected = sent.message_id.trim_matches(|c| c == '<' || c == '>');
    for copy in &copies {
        let message = MessageParser::default().parse(copy).expect("parses");
        assert_eq!(message.message_id(), Some(expected));
    }

    // Nothing more goes out, however long we wait.
    for later in [now, now + hours(1), now + hours(48)] {
        let report = deliver_due(&store, &mailer, &outbox(), later)
            .await
            .unwrap();
        assert_eq!((report.sent, report.failed, report.given_up), (0, 0, 0));
    }
    assert_eq!(payloads.lock().unwrap().len(), 2);
}

/// The server took the message (250) and only the goodbye is lost: the notification is
/// recorded sent, once, instead of being retried as if it had failed.
#[tokio::test]
async fn a_server_silent_after_accepting_the_message_is_not_sent_again() {
    let (port, payloads) = start_faulty_server(Fault::StallOnQuit);
    let store = incident_in_outbox();
    let mailer = Mailer::new(&smtp(port)).unwrap();

    let report = deliver_due(&store, &mailer, &outbox(), t0()).await.unwrap();
    assert_eq!((report.sent, report.failed, report.given_up), (1, 0, 0));
    let sent = store.all_notifications().remove(0);
    assert_eq!(sent.status, vigil_core::NotificationStatus::Sent);
    assert_eq!(sent.attempts, 1);
    for later in [t0() + minutes(1), t0() + hours(48)] {
        let report = deliver_due(&store, &mailer, &outbox(), later)
            .await
            .unwrap();
        assert_eq!((report.sent, report.failed, report.given_up), (0, 0, 0));
    }
    assert_eq!(payloads.lock().unwrap().len(), 1);
}

/// A server that takes the message and then says nothing must not hold the outbox
/// longer than `smtp.timeout`: the attempt fails and is retried later.
#[tokio::test]
async fn a_server_silent_after_data_does_not_hold_delivery_past_the_smtp_timeout() {
    let (port, payloads) = start_faulty_server(Fault::StallAfterData);
    let store = incident_in_outbox();
    let mut config = smtp(port);
    config.timeout = Duration::from_secs(1);
    let mailer = Mailer::new(&config).unwrap();

    // A guard twenty times the configured timeout: only a hang comes near it.
    let outbox = outbox();
    let delivery = deliver_due(&store, &mailer, &outbox, t0());
    let report = tokio::time::timeout(Duration::from_secs(20), delivery)
        .await
        .expect("deliver_due still waiting 20s into a send with a 1s SMTP timeout")
        .unwrap();
    assert_eq!((report.sent, report.failed, report.given_up), (0, 1, 0));
    let pending = store.all_notifications().remove(0);
    assert_eq!(pending.status, vigil_core::NotificationStatus::Pending);
    assert_eq!(pending.attempts, 1);
    assert_eq!(payloads.lock().unwrap().len(), 1);
}

// ------------------------------------------- random streams against the SQLite store

const BRANDS: [&str; 3] = ["Acme", "Globex", "Initech"];

/// Every rule kind for every brand.
fn rules_for_every_brand() -> Vec<RuleConfig> {
    let mut rules = Vec::new();
    for brand in BRANDS {
        let mut keyword = with_query(
            rule(&format!("recall-{brand}"), RuleKind::Keyword),
            "recall",
        );
        keyword.brand = brand.to_string();
        let mut negative = rule(&format!("negative-{brand}"), RuleKind::NegativeShare);
        negative.brand = brand.to_string();
        negative.min_mentions = 2;
        negative.threshold = 0.5;
        let mut spike = rule(&format!("spike-{brand}"), RuleKind::VolumeSpike);
        spike.brand = brand.to_string();
        spike.min_mentions = 3;
        let mut drop = rule(&format!("drop-{brand}"), RuleKind::SentimentDrop);
        drop.brand = brand.to_string();
        drop.min_mentions = 2;
        rules.extend([keyword, negative, spike, drop]);
    }
    rules
}

#[derive(Debug, Clone)]
struct Mention {
    brand: usize,
    /// Seconds after the start of the day.
    offset_secs: i64,
    /// 0 negative, 1 positive, 2 not classified yet.
    sentiment: u8,
    keyword: bool,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Acknowledge(usize),
    Resolve(usize),
}

fn mention() -> impl Strategy<Value = Mention> {
    (
        0..BRANDS.len(),
        0..86_400i64,
        0..3u8,
        prop::bool::weighted(0.15),
    )
        .prop_map(|(brand, offset_secs, sentiment, keyword)| Mention {
            brand,
            offset_secs,
            sentiment,
            keyword,
        })
}

fn action() -> impl Strategy<Value = Option<Action>> {
    prop::option::weighted(
        0.3,
        prop_oneof![
            (0..8usize).prop_map(Action::Acknowledge),
            (0..8usize).prop_map(Action::Resolve),
        ],
    )
}

fn stored_post(number: usize, mention: &Mention, day_start: DateTime<Utc>) -> Post {
    let brand = BRANDS[mention.brand];
    let external_id = format!("m{number}");
    let published_at = day_start + TimeDelta::seconds(mention.offset_secs);
    let words = if mention.keyword {
        "announces a recall of"
    } else {
        "shipped another batch of"
    };
    let text = format!("{brand} {words} kettles, report number {number} from the forum");
    let sentiment = match mention.sentiment {
        0 => Some((Label::Negative, -0.7)),
        1 => Some((Label::Positive, 0.6)),
        _ => None,
    }
    .map(|(label, score)| Sentiment {
        label,
        score,
        confidence: 0.8,
        lang: "en".into(),
        backend: "lexicon".into(),
        version: "test".into(),
    });
    Post {
        id: post_id("forum", &external_id),
        source: "forum".into(),
        url: Some(format!("https://forum.example/{external_id}")),
        canonical_url: Some(format!("https://forum.example/{external_id}")),
        external_id: external_id.clone(),
        author: Some(format!("user-{number}")),
        title: None,
        text,
        lang: Some("en".into()),
        published_at,
        brands: vec![brand.to_string()],
        provenance: Provenance {
            fetched_at: published_at,
            fetch_url: "https://forum.example/feed".into(),
            http_status: Some(200),
            content_hash: sha256_hex(&external_id),
            extraction: "test".into(),
            raw_sha256: None,
        },
        sentiment,
        engagement: Default::default(),
        duplicate_of: None,
    }
}

/// At most one unresolved incident per (rule, brand); no (incident, kind, seq) twice.
fn check_invariants(store: &Store, when: &str) -> Result<(), TestCaseError> {
    let incidents = store.incidents(None).unwrap();
    let mut unresolved: HashMap<(String, String), Vec<i64>> = HashMap::new();
    for incident in &incidents {
        if incident.status != IncidentStatus::Resolved {
            unresolved
                .entry((incident.rule.clone(), incident.brand.clone()))
                .or_default()
                .push(incident.id);
        }
    }
    for (key, ids) in &unresolved {
        prop_assert!(
            ids.len() == 1,
            "{when}: {key:?} has unresolved incidents {ids:?}"
        );
    }
    let mut keys: HashMap<(i64, &'static str, u32), usize> = HashMap::new();
    for incident in &incidents {
        for notification in store.notifications_for_incident(incident.id).unwrap() {
            *keys
                .entry((
                    notification.incident_id,
                    notification.kind.as_str(),
                    notification.seq,
                ))
                .or_default() += 1;
        }
    }
    for (key, count) in keys {
        prop_assert!(
            count == 1,
            "{when}: notification {key:?} exists {count} times"
        );
    }
    Ok(())
}

/// Ticks every 30 minutes over 30 hours (past the 24-hour response window).
const TICKS: usize = 60;

fn run_stream(
    mentions: &[Mention],
    actions: &[Option<Action>],
    repeats: &[bool],
) -> Result<(), TestCaseError> {
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let engine = AlertEngine::new(&config(rules_for_every_brand())).unwrap();
    let day_start = t0();
    let mut posts: Vec<Post> = mentions
        .iter()
        .enumerate()
        .map(|(number, mention)| stored_post(number, mention, day_start))
        .collect();
    posts.sort_by_key(|p| p.published_at);
    let mut ingested = 0;
    let mut incidents_seen: BTreeMap<i64, IncidentStatus> = BTreeMap::new();
    for tick in 1..=TICKS {
        let now = day_start + TimeDelta::minutes(30 * tick as i64);
        let arrived = posts[ingested..].partition_point(|p| p.published_at < now);
        if arrived > 0 {
            store
                .ingest(&posts[ingested..ingested + arrived], None, "test")
                .unwrap();
            ingested += arrived;
        }
        // A tick may run twice (a restart replaying it); re-running must change nothing.
        let runs = if repeats[tick - 1] { 2 } else { 1 };
        for _ in 0..runs {
            engine.evaluate(&store, now).unwrap();
            check_invariants(&store, &format!("tick {tick} after evaluate"))?;
            engine.plan_notifications(&store, now).unwrap();
            check_invariants(&store, &format!("tick {tick} after plan"))?;
        }
        if let Some(action) = actions[tick - 1] {
            let open: Vec<i64> = store
                .incidents(None)
                .unwrap()
                .iter()
                .filter(|i| i.status != IncidentStatus::Resolved)
                .map(|i| i.id)
                .collect();
            if !open.is_empty() {
                let at = now + TimeDelta::minutes(10);
                match action {
                    Action::Acknowledge(pick) => {
                        store
                            .acknowledge_incident(open[pick % open.len()], "analyst", None, at)
                            .unwrap();
                    }
                    Action::Resolve(pick) => {
                        store
                            .resolve_incident(open[pick % open.len()], "analyst", None, at)
                            .unwrap();
                    }
                }
                check_invariants(&store, &format!("tick {tick} after {action:?}"))?;
            }
        }
        for incident in store.incidents(None).unwrap() {
            incidents_seen.insert(incident.id, incident.status);
        }
    }
    // The stream really exercised the engine when it had a keyword post.
    if mentions.iter().any(|m| m.keyword) {
        prop_assert!(!incidents_seen.is_empty(), "a keyword post opened nothing");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_streams_never_duplicate_incidents_or_notifications(
        mentions in prop::collection::vec(mention(), 0..80),
        actions in prop::collection::vec(action(), TICKS),
        repeats in prop::collection::vec(prop::bool::weighted(0.2), TICKS),
    ) {
        run_stream(&mentions, &actions, &repeats)?;
    }
}

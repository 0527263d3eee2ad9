mod common;

use chrono::{DateTime, Duration, Utc};
use common::{at, post, sentiment};
use vigil_core::{
    AlertStore, EvidencePost, IncidentStatus, Label, NewIncident, NewNotification,
    NotificationKind, NotificationStatus, Severity, Trigger,
};
use vigil_store::{Store, StoreError};

fn trigger(value: f64) -> Trigger {
    Trigger {
        metric: "negative_share".into(),
        value,
        threshold: 0.4,
        baseline: None,
        window_secs: 3600,
        baseline_secs: None,
        mentions: 25,
        explanation: format!("negative share {value} above 0.4 over 1h"),
        context: Default::default(),
    }
}

fn evidence(id: &str) -> EvidencePost {
    EvidencePost {
        id: id.into(),
        url: Some(format!("https://news.example/{id}")),
        source: "news".into(),
        author: Some("@critic".into()),
        published_at: at(9, 30, 0),
        text: "this product is terrible".into(),
        label: Some(Label::Negative),
        score: Some(-0.8),
        reach: None,
        lang: None,
    }
}

fn new_incident(rule: &str, brand: &str, opened_at: DateTime<Utc>) -> NewIncident {
    NewIncident {
        rule: rule.into(),
        brand: brand.into(),
        severity: Severity::Crisis,
        opened_at,
        response_deadline: opened_at + Duration::hours(24),
        trigger: trigger(0.55),
        evidence: vec![evidence("e1")],
    }
}

fn notification(
    incident_id: i64,
    kind: NotificationKind,
    seq: u32,
    created_at: DateTime<Utc>,
) -> NewNotification {
    NewNotification {
        incident_id,
        kind,
        seq,
        channel: vigil_core::EMAIL_CHANNEL.into(),
        payload: None,
        message_id: format!("<{incident_id}.{}.{seq}@vigil>", kind.as_str()),
        in_reply_to: None,
        recipients: vec!["pr@example.com".into(), "ceo@example.com".into()],
        subject: "[crisis] acme".into(),
        body_text: "text".into(),
        body_html: "<p>html</p>".into(),
        created_at,
    }
}

fn audit_kinds(store: &Store) -> Vec<(String, String)> {
    let mut kinds = Vec::new();
    store
        .audit_entries(None, None, |entry| {
            kinds.push((entry.kind.clone(), entry.actor.clone()));
            Ok(())
        })
        .unwrap();
    kinds
}

#[test]
fn incident_lifecycle_is_stored_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.unresolved_incident("neg", "acme").unwrap(), None);
    assert_eq!(store.last_resolved_at("neg", "acme").unwrap(), None);

    let opened = store
        .create_incident(new_incident("neg", "acme", at(10, 0, 0)))
        .unwrap();
    assert_eq!(opened.status, IncidentStatus::Open);
    assert_eq!(opened.response_deadline, at(10, 0, 0) + Duration::hours(24));
    assert_eq!(opened.peak_value, 0.55);
    assert_eq!(opened.trigger, trigger(0.55));
    assert_eq!(opened.evidence, vec![evidence("e1")]);
    assert!(!opened.overdue);
    assert_eq!(store.incident(opened.id).unwrap(), Some(opened.clone()));
    assert_eq!(
        store.unresolved_incident("neg", "acme").unwrap(),
        Some(opened.clone())
    );
    assert_eq!(store.unresolved_incident("neg", "globex").unwrap(), None);

    // A second open incident for the same (rule, brand) is refused.
    let second = store.create_incident(new_incident("neg", "acme", at(10, 5, 0)));
    assert!(matches!(second, Err(StoreError::Conflict(_))));

    store
        .update_incident_firing(
            opened.id,
            &trigger(0.7),
            0.7,
            &[evidence("e2")],
            at(10, 10, 0),
        )
        .unwrap();
    let fired = store.incident(opened.id).unwrap().unwrap();
    assert_eq!(fired.peak_value, 0.7);
    assert_eq!(fired.trigger.value, 0.7);
    assert_eq!(fired.evidence[0].id, "e2");
    assert_eq!(fired.updated_at, at(10, 10, 0));
    assert!(matches!(
        store.update_incident_firing(999, &trigger(1.0), 1.0, &[], at(10, 0, 0)),
        Err(StoreError::NotFound(_))
    ));

    let acked = store
        .acknowledge_incident(opened.id, "alice", Some("on it"), at(10, 20, 0))
        .unwrap();
    assert_eq!(acked.status, IncidentStatus::Acknowledged);
    assert_eq!(acked.acknowledged_by.as_deref(), Some("alice"));
    assert_eq!(acked.acknowledged_at, Some(at(10, 20, 0)));
    assert_eq!(acked.note.as_deref(), Some("on it"));
    // Still unresolved while acknowledged.
    assert_eq!(
        store
            .unresolved_incident("neg", "acme")
            .unwrap()
            .unwrap()
            .id,
        opened.id
    );
    // A second ack keeps the first.
    let again = store
        .acknowledge_incident(opened.id, "bob", None, at(10, 30, 0))
        .unwrap();
    assert_eq!(again, acked);

    store
        .mark_incident_overdue(opened.id, at(10, 0, 0) + Duration::hours(24))
        .unwrap();
    store
        .mark_incident_overdue(opened.id, at(10, 0, 0) + Duration::hours(25))
        .unwrap();
    assert!(store.incident(opened.id).unwrap().unwrap().overdue);

    let resolved = store
        .resolve_incident(opened.id, "bob", Some("statement published"), at(12, 0, 0))
        .unwrap();
    assert_eq!(resolved.status, IncidentStatus::Resolved);
    assert_eq!(resolved.resolved_by.as_deref(), Some("bob"));
    assert_eq!(resolved.note.as_deref(), Some("on it\nstatement published"));
    assert_eq!(store.unresolved_incident("neg", "acme").unwrap(), None);
    assert_eq!(
        store.last_resolved_at("neg", "acme").unwrap(),
        Some(at(12, 0, 0))
    );
    // Resolving again changes nothing; acknowledging a resolved incident is refused.
    assert_eq!(
        store
            .resolve_incident(opened.id, "carol", None, at(13, 0, 0))
            .unwrap(),
        resolved
    );
    assert!(matches!(
        store.acknowledge_incident(opened.id, "carol", None, at(13, 0, 0)),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.acknowledge_incident(424242, "carol", None, at(13, 0, 0)),
        Err(StoreError::NotFound(_))
    ));

    // After resolution a new incident for the same key can open.
    let reopened = store
        .create_incident(new_incident("neg", "acme", at(14, 0, 0)))
        .unwrap();
    assert_ne!(reopened.id, opened.id);
    let open = store.incidents(Some(IncidentStatus::Open)).unwrap();
    assert_eq!(
        open.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![reopened.id]
    );
    let all = store.incidents(None).unwrap();
    assert_eq!(
        all.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![reopened.id, opened.id]
    );
    assert_eq!(
        store
            .incidents(Some(IncidentStatus::Resolved))
            .unwrap()
            .len(),
        1
    );

    let kinds = audit_kinds(&store);
    let expected: Vec<(String, String)> = [
        ("incident_created", "alert-engine"),
        ("incident_acknowledged", "alice"),
        ("incident_overdue", "alert-engine"),
        ("incident_resolved", "bob"),
        ("incident_created", "alert-engine"),
    ]
    .iter()
    .map(|(k, a)| (k.to_string(), a.to_string()))
    .collect();
    assert_eq!(kinds, expected);
    assert!(store.verify_audit().unwrap().is_intact());
}

#[test]
fn outbox_enqueue_is_idempotent_and_tracks_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let incident = store
        .create_incident(new_incident("neg", "acme", at(10, 0, 0)))
        .unwrap();

    assert!(
        store
            .enqueue_notification(notification(
                incident.id,
                NotificationKind::First,
                0,
                at(10, 0, 0)
            ))
            .unwrap()
    );
    assert!(
        !store
            .enqueue_notification(notification(
                incident.id,
                NotificationKind::First,
                0,
                at(10, 0, 5)
            ))
            .unwrap()
    );
    assert!(
        store
            .enqueue_notification(notification(
                incident.id,
                NotificationKind::Reminder,
                1,
                at(11, 0, 0)
            ))
            .unwrap()
    );
    let all = store.notifications_for_incident(incident.id).unwrap();
    assert_eq!(all.len(), 2);
    let first = &all[0];
    assert_eq!(first.kind, NotificationKind::First);
    assert_eq!(first.status, NotificationStatus::Pending);
    assert_eq!(first.recipients, vec!["pr@example.com", "ceo@example.com"]);
    assert_eq!(
        first.created_at,
        at(10, 0, 0),
        "the repeat did not overwrite"
    );
    assert_eq!(first.next_attempt_at, at(10, 0, 0));
    assert_eq!(first.attempts, 0);

    // Due: only what is scheduled by now, oldest first.
    let due = store.due_notifications(at(10, 30, 0), 10).unwrap();
    assert_eq!(due.iter().map(|n| n.id).collect::<Vec<_>>(), vec![first.id]);
    let due = store.due_notifications(at(11, 0, 0), 10).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].id, first.id);
    assert_eq!(store.due_notifications(at(11, 0, 0), 1).unwrap().len(), 1);

    store
        .mark_notification_failed(first.id, "connection refused", at(10, 5, 0))
        .unwrap();
    let failed = &store.notifications_for_incident(incident.id).unwrap()[0];
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.last_error.as_deref(), Some("connection refused"));
    assert_eq!(failed.status, NotificationStatus::Pending);
    assert!(
        store
            .due_notifications(at(10, 4, 0), 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.due_notifications(at(10, 5, 0), 10).unwrap().len(), 1);

    store
        .mark_notification_sent(first.id, "250 2.0.0 Ok: queued as ABC", at(10, 5, 1))
        .unwrap();
    let sent = &store.notifications_for_incident(incident.id).unwrap()[0];
    assert_eq!(sent.status, NotificationStatus::Sent);
    assert_eq!(sent.attempts, 2);
    assert_eq!(sent.sent_at, Some(at(10, 5, 1)));
    assert_eq!(
        sent.smtp_reply.as_deref(),
        Some("250 2.0.0 Ok: queued as ABC")
    );
    // Sent notifications are never due again, even if a late failure is reported.
    store
        .mark_notification_failed(first.id, "late", at(10, 6, 0))
        .unwrap();
    assert_eq!(
        store.notifications_for_incident(incident.id).unwrap()[0].status,
        NotificationStatus::Sent
    );
    let due = store.due_notifications(at(23, 0, 0), 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].kind, NotificationKind::Reminder);
    assert!(matches!(
        store.mark_notification_sent(9999, "250", at(10, 0, 0)),
        Err(StoreError::NotFound(_))
    ));

    let mut attempts = Vec::new();
    store
        .audit_entries(None, None, |entry| {
            if entry.kind.starts_with("notification_") {
                let payload: serde_json::Value = serde_json::from_str(&entry.payload).unwrap();
                attempts.push((entry.kind.clone(), payload));
            }
            Ok(())
        })
        .unwrap();
    let kinds: Vec<_> = attempts.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "notification_enqueued",
            "notification_enqueued",
            "notification_failed",
            "notification_sent",
            "notification_failed"
        ]
    );
    assert_eq!(attempts[2].1["error"], "connection refused");
    assert_eq!(attempts[3].1["smtp_reply"], "250 2.0.0 Ok: queued as ABC");
    assert_eq!(attempts[3].1["message_id"], first.message_id);
    assert!(store.verify_audit().unwrap().is_intact());
}

#[test]
fn enqueue_for_unknown_incident_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let result =
        store.enqueue_notification(notification(77, NotificationKind::First, 0, at(10, 0, 0)));
    assert!(matches!(result, Err(StoreError::Sqlite(_))), "{result:?}");
}

#[test]
fn bucket_counts_match_known_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // acme posts at 09:00 (exactly on a boundary), 09:10, 09:59:59, 10:00, 10:30, 11:15
    // and 12:00 (exactly `to`, excluded); globex posts in between must not count.
    let times = [
        at(9, 0, 0),
        at(9, 10, 0),
        at(9, 59, 59),
        at(10, 0, 0),
        at(10, 30, 0),
        at(11, 15, 0),
        at(12, 0, 0),
        at(8, 59, 59),
    ];
    let mut posts: Vec<_> = times
        .iter()
        .enumerate()
        .map(|(i, t)| post("news", &format!("a{i}"), &["acme"], *t))
        .collect();
    posts.push(post("news", "g1", &["globex"], at(9, 30, 0)));
    posts.push(post("news", "both", &["acme", "globex"], at(11, 45, 0)));
    store.ingest(&posts, None, "test").unwrap();

    // 09:00..12:00 in hours: [09,10) = 3, [10,11) = 2, [11,12) = 2.
    assert_eq!(
        store
            .bucket_counts("acme", at(9, 0, 0), at(12, 0, 0), 3600)
            .unwrap(),
        vec![3, 2, 2]
    );
    // `from` not on a boundary: floor((12:00 - 08:30) / 1h) = 3 buckets, still ending at 12:00.
    assert_eq!(
        store
            .bucket_counts("acme", at(8, 30, 0), at(12, 0, 0), 3600)
            .unwrap(),
        vec![3, 2, 2]
    );
    // Half-hour buckets from 08:30.
    assert_eq!(
        store
            .bucket_counts("acme", at(8, 30, 0), at(12, 0, 0), 1800)
            .unwrap(),
        vec![1, 2, 1, 1, 1, 1, 1]
    );
    assert_eq!(
        store
            .bucket_counts("globex", at(9, 0, 0), at(12, 0, 0), 3600)
            .unwrap(),
        vec![1, 0, 1]
    );
    assert_eq!(
        store
            .bucket_counts("nobody", at(9, 0, 0), at(12, 0, 0), 3600)
            .unwrap(),
        vec![0, 0, 0]
    );
    assert!(
        store
            .bucket_counts("acme", at(12, 0, 0), at(9, 0, 0), 3600)
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        store.bucket_counts("acme", at(9, 0, 0), at(12, 0, 0), 0),
        Err(StoreError::Invalid(_))
    ));
    // Sub-second `to`: the window ends exactly there.
    let to = at(10, 0, 0) + Duration::milliseconds(1);
    assert_eq!(
        store.bucket_counts("acme", at(9, 0, 0), to, 3600).unwrap(),
        vec![3]
    );
}

#[test]
fn window_posts_filter_by_brand_and_half_open_time_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let posts = vec![
        post("news", "early", &["acme"], at(8, 59, 59)),
        post("news", "start", &["acme"], at(9, 0, 0)),
        post("news", "mid", &["acme", "globex"], at(9, 30, 0)),
        post("news", "other", &["globex"], at(9, 40, 0)),
        post("news", "late", &["acme"], at(9, 50, 0)),
        post("news", "end", &["acme"], at(10, 0, 0)),
    ];
    let report = store.ingest(&posts, None, "test").unwrap();
    let mid_seq = report.stored[2].seq;
    store
        .set_sentiments(&[(mid_seq, sentiment(Label::Negative, -0.7))])
        .unwrap();

    let window = store
        .window_posts("acme", at(9, 0, 0), at(10, 0, 0), 10)
        .unwrap();
    let ids: Vec<_> = window.iter().map(|p| p.id.clone()).collect();
    let expected: Vec<_> = [&posts[4], &posts[2], &posts[1]]
        .iter()
        .map(|p| p.id.clone())
        .collect();
    assert_eq!(ids, expected);
    let mid = &window[1];
    assert_eq!(mid.label, Some(Label::Negative));
    assert_eq!(mid.score, Some(-0.7));
    assert_eq!(mid.url, posts[2].url);
    assert_eq!(mid.author, posts[2].author);
    assert_eq!(mid.text, posts[2].text);
    assert_eq!(mid.published_at, at(9, 30, 0));
    assert_eq!(window[0].label, None);

    let limited = store
        .window_posts("acme", at(9, 0, 0), at(10, 0, 0), 2)
        .unwrap();
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[0].id, posts[4].id);
    let globex = store
        .window_posts("globex", at(9, 0, 0), at(10, 0, 0), 10)
        .unwrap();
    assert_eq!(
        globex.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        vec![posts[3].id.clone(), posts[2].id.clone()]
    );
}

#[test]
fn acknowledging_or_resolving_cancels_follow_ups_not_yet_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let incident = store
        .create_incident(new_incident("spike", "acme", at(10, 0, 0)))
        .unwrap();
    // The mail server was down: the first alert, two reminders and the escalation are
    // all still waiting when someone acknowledges.
    for (kind, seq, hour) in [
        (NotificationKind::First, 0, 10),
        (NotificationKind::Reminder, 1, 11),
        (NotificationKind::Reminder, 2, 12),
        (NotificationKind::Escalation, 0, 12),
    ] {
        store
            .enqueue_notification(notification(incident.id, kind, seq, at(hour, 0, 0)))
            .unwrap();
    }
    store
        .acknowledge_incident(incident.id, "dana", None, at(12, 30, 0))
        .unwrap();
    let statuses: Vec<(NotificationKind, NotificationStatus)> = store
        .notifications_for_incident(incident.id)
        .unwrap()
        .iter()
        .map(|n| (n.kind, n.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (NotificationKind::First, NotificationStatus::Pending),
            (NotificationKind::Reminder, NotificationStatus::Cancelled),
            (NotificationKind::Reminder, NotificationStatus::Cancelled),
            (NotificationKind::Escalation, NotificationStatus::Cancelled),
        ]
    );
    // Only the first alert is still due; the cancellation is audited, attributed.
    let due = store.due_notifications(at(23, 0, 0), 10).unwrap();
    assert_eq!(
        due.iter().map(|n| n.kind).collect::<Vec<_>>(),
        vec![NotificationKind::First]
    );
    let kinds = audit_kinds(&store);
    assert!(
        kinds.contains(&("notifications_cancelled".to_owned(), "dana".to_owned())),
        "{kinds:?}"
    );

    // The summary at the deadline is still sent after an acknowledgement; resolving
    // cancels a reminder enqueued meanwhile (the engine never plans one after an ack,
    // but a second process might have) and leaves the summary and sent mail alone.
    store
        .enqueue_notification(notification(
            incident.id,
            NotificationKind::Summary,
            0,
            at(13, 0, 0),
        ))
        .unwrap();
    store
        .enqueue_notification(notification(
            incident.id,
            NotificationKind::Reminder,
            3,
            at(13, 0, 0),
        ))
        .unwrap();
    store
        .resolve_incident(incident.id, "lee", Some("handled"), at(13, 30, 0))
        .unwrap();
    let due: Vec<NotificationKind> = store
        .due_notifications(at(23, 0, 0), 10)
        .unwrap()
        .iter()
        .map(|n| n.kind)
        .collect();
    assert_eq!(
        due,
        vec![NotificationKind::First, NotificationKind::Summary]
    );
    let cancelled = audit_kinds(&store)
        .iter()
        .filter(|(kind, _)| kind == "notifications_cancelled")
        .count();
    assert_eq!(cancelled, 2);
}

#[test]
fn a_notification_given_up_is_never_due_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let incident = store
        .create_incident(new_incident("spike", "acme", at(10, 0, 0)))
        .unwrap();
    store
        .enqueue_notification(notification(
            incident.id,
            NotificationKind::First,
            0,
            at(10, 0, 0),
        ))
        .unwrap();
    let id = store.due_notifications(at(10, 0, 0), 1).unwrap()[0].id;
    store
        .mark_notification_given_up(id, "550 Mailbox unavailable", at(10, 0, 1))
        .unwrap();
    let given_up = &store.notifications_for_incident(incident.id).unwrap()[0];
    assert_eq!(given_up.status, NotificationStatus::Failed);
    assert_eq!(given_up.attempts, 1);
    assert_eq!(
        given_up.last_error.as_deref(),
        Some("550 Mailbox unavailable")
    );
    assert!(
        store
            .due_notifications(at(23, 0, 0), 10)
            .unwrap()
            .is_empty()
    );
    assert!(
        audit_kinds(&store)
            .iter()
            .any(|(kind, _)| kind == "notification_given_up")
    );
    assert_eq!(
        store.find_incident(incident.id).unwrap().unwrap().id,
        incident.id
    );
    assert!(store.find_incident(9999).unwrap().is_none());
}

#[test]
fn an_expired_acknowledgement_opens_the_incident_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let incident = store
        .create_incident(new_incident("spike", "acme", at(10, 0, 0)))
        .unwrap();
    assert!(
        store
            .expire_acknowledgement(incident.id, at(10, 30, 0))
            .unwrap()
            .is_none(),
        "an open incident has no acknowledgement to expire"
    );
    store
        .acknowledge_incident(incident.id, "dana", None, at(11, 0, 0))
        .unwrap();
    let reopened = store
        .expire_acknowledgement(incident.id, at(14, 0, 0))
        .unwrap()
        .expect("was acknowledged");
    assert_eq!(reopened.status, IncidentStatus::Open);
    assert_eq!(reopened.acknowledged_by.as_deref(), Some("dana"));
    assert!(
        reopened.note.as_deref().unwrap_or("").contains("expired"),
        "{:?}",
        reopened.note
    );
    assert!(audit_kinds(&store).contains(&("incident_ack_expired".to_owned(), "vigil".to_owned())));
    // Still the one unresolved incident of its key; it can be acknowledged again.
    assert_eq!(
        store
            .unresolved_incident("spike", "acme")
            .unwrap()
            .unwrap()
            .id,
        incident.id
    );
    let again = store
        .acknowledge_incident(incident.id, "lee", None, at(14, 5, 0))
        .unwrap();
    assert_eq!(again.acknowledged_by.as_deref(), Some("lee"));
}

#[test]
fn silences_are_checked_stored_listed_and_audited() {
    use vigil_core::NewSilence;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let incident = store
        .create_incident(new_incident("spike", "acme", at(10, 0, 0)))
        .unwrap();
    let silence = |incident_id: Option<i64>, from, to| NewSilence {
        brand: Some("acme".into()),
        rule: None,
        incident_id,
        starts_at: from,
        ends_at: to,
        by: "dana".into(),
        reason: Some("maintenance".into()),
    };
    assert!(matches!(
        store.add_silence(silence(None, at(12, 0, 0), at(11, 0, 0))),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.add_silence(silence(Some(999), at(10, 0, 0), at(11, 0, 0))),
        Err(StoreError::NotFound(_))
    ));
    // Ten thousand years out cannot be stored as RFC 3339 text: refused, not a 500.
    let far = chrono::DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
        .unwrap()
        .with_timezone(&chrono::Utc)
        + chrono::Duration::days(2);
    match store.add_silence(silence(None, at(10, 0, 0), far)) {
        Err(StoreError::Invalid(message)) => assert!(message.contains("year 10000"), "{message}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let snooze = store
        .add_silence(silence(Some(incident.id), at(10, 0, 0), at(12, 0, 0)))
        .unwrap();
    let later = store
        .add_silence(silence(None, at(13, 0, 0), at(14, 0, 0)))
        .unwrap();
    assert_eq!(snooze.incident_id, Some(incident.id));
    // Current (active or future) silences, by end; active ones only for the engine.
    let current: Vec<i64> = store
        .current_silences(at(11, 0, 0))
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(current, vec![snooze.id, later.id]);
    let active = store.active_silences(at(11, 0, 0)).unwrap();
    assert_eq!(active.len(), 1);
    assert!(active[0].mutes(&incident, at(11, 0, 0)));
    assert!(!active[0].mutes(&incident, at(12, 0, 0)), "ends exclusive");
    assert!(store.active_silences(at(12, 30, 0)).unwrap().is_empty());
    let added = audit_kinds(&store)
        .iter()
        .filter(|(kind, by)| kind == "silence_added" && by == "dana")
        .count();
    assert_eq!(added, 2);
}

/// The first notification goes into the outbox in the transaction that opens the
/// incident: both are there after the call, and a failure while writing the
/// notifications leaves neither (nothing to re-plan after a crash in between).
#[test]
fn an_incident_opens_with_its_first_notification_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let opened = store
        .create_incident_notified(new_incident("neg", "acme", at(10, 0, 0)), &|incident| {
            vec![notification(
                incident.id,
                NotificationKind::First,
                0,
                incident.opened_at,
            )]
        })
        .unwrap();
    let queued = store.notifications_for_incident(opened.id).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].message_id,
        format!("<{}.first.0@vigil>", opened.id)
    );
    let kinds = audit_kinds(&store);
    let created = kinds
        .iter()
        .position(|(k, _)| k == "incident_created")
        .unwrap();
    assert_eq!(kinds[created + 1].0, "notification_enqueued");

    // A notification for an incident that does not exist fails the insert: the new
    // incident is rolled back with it.
    let error = store
        .create_incident_notified(new_incident("fire", "acme", at(10, 5, 0)), &|incident| {
            vec![
                notification(incident.id, NotificationKind::First, 0, incident.opened_at),
                notification(
                    incident.id + 100,
                    NotificationKind::First,
                    0,
                    incident.opened_at,
                ),
            ]
        })
        .unwrap_err();
    assert!(matches!(error, StoreError::Sqlite(_)), "{error:?}");
    assert!(store.unresolved_incident("fire", "acme").unwrap().is_none());
    assert_eq!(store.incidents(None).unwrap().len(), 1);
    let all: usize = store
        .incidents(None)
        .unwrap()
        .iter()
        .map(|i| store.notifications_for_incident(i.id).unwrap().len())
        .sum();
    assert_eq!(all, 1);
    assert_eq!(audit_kinds(&store).len(), kinds.len());
    store.verify_audit().unwrap();

    assert_eq!(store.unresolved_incidents().unwrap(), vec![opened.clone()]);
    assert_eq!(
        store.unresolved_incidents_of("acme").unwrap(),
        vec![opened.clone()]
    );
    assert!(store.unresolved_incidents_of("globex").unwrap().is_empty());
    store
        .resolve_incident(opened.id, "dana", None, at(11, 0, 0))
        .unwrap();
    assert!(store.unresolved_incidents().unwrap().is_empty());
    let resolutions = store.last_resolutions().unwrap();
    assert_eq!(resolutions.len(), 1);
    assert_eq!(
        resolutions[&("neg".to_string(), "acme".to_string())],
        at(11, 0, 0)
    );
    assert_eq!(
        store.last_resolved_at("neg", "acme").unwrap(),
        Some(at(11, 0, 0))
    );
}

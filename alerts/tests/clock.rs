//! The 24-hour response clock, simulated by moving `now` in steps (no sleeping).

mod support;

use chrono::{DateTime, Utc};
use support::*;
use vigil_alerts::{AlertEngine, message_id};
use vigil_config::RuleKind;
use vigil_core::{Notification, NotificationKind};

const PR: [&str; 2] = ["pr@example.com", "press@example.com"];
const WITH_ESCALATION: [&str; 3] = [
    "pr@example.com",
    "press@example.com",
    "head-of-comms@example.com",
];

/// A keyword incident opened at t0.
fn opened() -> (AlertEngine, MemStore, i64) {
    let (engine, store) = keyword_engine(|_| {});
    let outcome = engine.evaluate(&store, t0()).unwrap().remove(0);
    assert!(outcome.opened);
    (engine, store, outcome.incident_id.unwrap())
}

/// Plans every `step_minutes` from `from` to `to` inclusive.
fn run_clock(
    engine: &AlertEngine,
    store: &MemStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    step_minutes: i64,
) {
    let mut now = from;
    while now <= to {
        engine.plan_notifications(store, now).unwrap();
        now += minutes(step_minutes);
    }
}

fn keys(notifications: &[Notification]) -> Vec<(NotificationKind, u32, i64)> {
    notifications
        .iter()
        .map(|n| (n.kind, n.seq, (n.created_at - t0()).num_minutes()))
        .collect()
}

#[test]
fn a_day_unacknowledged() {
    let (engine, store, id) = opened();
    run_clock(&engine, &store, t0(), t0() + hours(26), 10);
    let notifications = store.all_notifications();

    use NotificationKind::*;
    let mut expected = vec![(First, 0, 0), (Reminder, 1, 120), (Escalation, 0, 240)];
    // Reminder 2 falls at the escalation and reminder 12 at the deadline: those
    // messages stand in for them.
    for k in 3..=11u32 {
        expected.push((Reminder, k, k as i64 * 120));
    }
    expected.push((Summary, 0, 24 * 60));
    expected.push((Reminder, 13, 26 * 60));
    let mut got = keys(&notifications);
    got.sort_by_key(|(_, _, at)| *at);
    assert_eq!(got, expected);

    let first = &notifications[0];
    assert_eq!(first.kind, First);
    assert_eq!(first.recipients, PR);
    assert_eq!(first.in_reply_to, None);
    assert_eq!(first.message_id, message_id(id, t0(), First, 0));
    assert_eq!(first.subject, "[CRISIS] Acme: recall (incident 1)");
    for n in &notifications[1..] {
        assert_eq!(n.in_reply_to.as_deref(), Some(first.message_id.as_str()));
        assert_eq!(n.subject, format!("Re: {}", first.subject));
        assert_eq!(n.message_id, message_id(id, t0(), n.kind, n.seq));
        let expected: &[&str] = if n.kind == Reminder && n.seq < 2 {
            &PR
        } else {
            &WITH_ESCALATION
        };
        assert_eq!(n.recipients, expected, "{:?} {}", n.kind, n.seq);
    }
    let escalation = notifications.iter().find(|n| n.kind == Escalation).unwrap();
    assert!(escalation.body_text.contains("escalation contact"));

    let summary = notifications.iter().find(|n| n.kind == Summary).unwrap();
    assert!(
        summary.body_text.contains("TREND SINCE OPENING"),
        "{}",
        summary.body_text
    );
    assert!(
        summary
            .body_text
            .contains("Status: open (not acknowledged)")
    );
    assert!(summary.body_text.contains("marked overdue"));
    let incident = store.incident(id);
    assert!(incident.overdue);
}

#[test]
fn replanning_is_idempotent() {
    let (engine, store, _) = opened();
    // The first notification was written with the incident.
    assert_eq!(store.all_notifications().len(), 1);
    assert_eq!(engine.plan_notifications(&store, t0()).unwrap(), 0);
    assert_eq!(engine.plan_notifications(&store, t0()).unwrap(), 0);
    assert_eq!(
        engine
            .plan_notifications(&store, t0() + minutes(30))
            .unwrap(),
        0
    );
    assert_eq!(
        engine.plan_notifications(&store, t0() + hours(2)).unwrap(),
        1
    );
    assert_eq!(
        engine.plan_notifications(&store, t0() + hours(2)).unwrap(),
        0
    );
    assert_eq!(
        engine.plan_notifications(&store, t0() + hours(3)).unwrap(),
        0
    );
    assert_eq!(store.all_notifications().len(), 2);
}

#[test]
fn acknowledgement_stops_reminders_and_escalation() {
    let (engine, store, id) = opened();
    run_clock(&engine, &store, t0(), t0() + hours(3), 15);
    store.acknowledge(id, "dana", t0() + hours(3));
    run_clock(&engine, &store, t0() + hours(3), t0() + hours(25), 15);

    use NotificationKind::*;
    let notifications = store.all_notifications();
    assert_eq!(
        keys(&notifications),
        vec![(First, 0, 0), (Reminder, 1, 120), (Summary, 0, 24 * 60)]
    );
    let summary = &notifications[2];
    assert_eq!(summary.recipients, PR, "never escalated");
    assert!(
        summary.body_text.contains("Acknowledged by dana"),
        "{}",
        summary.body_text
    );
    assert!(
        store.incident(id).overdue,
        "acknowledged but unresolved at the deadline"
    );
}

#[test]
fn resolved_incident_gets_nothing_more() {
    let (engine, store, id) = opened();
    engine.plan_notifications(&store, t0()).unwrap();
    store.resolve(id, "dana", t0() + hours(1));
    run_clock(&engine, &store, t0() + hours(1), t0() + hours(30), 30);
    assert_eq!(store.all_notifications().len(), 1);
    assert!(!store.incident(id).overdue);
}

#[test]
fn only_the_latest_reminder_after_a_long_gap() {
    let (engine, store, _) = opened();
    engine.plan_notifications(&store, t0()).unwrap();
    // The daemon was down from just after opening until 9h later.
    assert_eq!(
        engine.plan_notifications(&store, t0() + hours(9)).unwrap(),
        2
    );
    use NotificationKind::*;
    assert_eq!(
        keys(&store.all_notifications()),
        vec![(First, 0, 0), (Reminder, 4, 540), (Escalation, 0, 540)]
    );
}

#[test]
fn down_for_the_whole_window_sends_first_escalation_and_summary() {
    let (engine, store, id) = opened();
    // Nothing planned after the opening (which wrote the first) until 25h: escalation,
    // summary, in order (the latest reminder, 12, fell at the deadline, so the summary
    // stands in for it).
    assert_eq!(
        engine.plan_notifications(&store, t0() + hours(25)).unwrap(),
        2
    );
    use NotificationKind::*;
    let kinds: Vec<_> = store
        .all_notifications()
        .iter()
        .map(|n| (n.kind, n.seq))
        .collect();
    assert_eq!(kinds, vec![(First, 0), (Escalation, 0), (Summary, 0)]);
    // At 27h reminder 13 is due: reminders go on until someone acknowledges.
    assert_eq!(
        engine.plan_notifications(&store, t0() + hours(27)).unwrap(),
        1
    );
    assert!(store.incident(id).overdue);
}

#[test]
fn summary_reports_trend_since_opening() {
    let (engine, store, id) = opened();
    for i in 0..4 {
        store.add(
            "Acme",
            post(
                &format!("later{i}"),
                t0() + hours(3 + i),
                "Acme recall update",
                Some(vigil_core::Label::Negative),
                Some(-0.6),
            ),
        );
    }
    store.add("Acme", positive("unrelated", t0() + hours(5)));
    engine.plan_notifications(&store, t0() + hours(24)).unwrap();
    let summary = store
        .all_notifications()
        .into_iter()
        .find(|n| n.kind == NotificationKind::Summary)
        .unwrap();
    // The keyword query filters the trend too: 4 recall posts, not the unrelated one.
    assert!(
        summary
            .body_text
            .contains("4 Acme mentions since opening, 4 of them negative."),
        "{}",
        summary.body_text
    );
    assert!(
        summary
            .body_text
            .contains("keyword is 0 now, down from 1 at opening."),
        "{}",
        summary.body_text
    );
    assert_eq!(store.incident(id).status, vigil_core::IncidentStatus::Open);
}

/// Inhibition: while Acme has an unresolved crisis incident, Acme's warnings send
/// nothing (another brand's warning and the monitoring's own incidents still do);
/// once the crisis is resolved, the still-open warning's first notification goes out.
#[test]
fn a_crisis_mutes_the_brands_warnings_until_it_is_resolved() {
    use vigil_core::{AlertStore, NewIncident, Severity, Trigger};
    let mut warn = rule("grumbles", RuleKind::NegativeShare);
    warn.severity = Severity::Warning;
    let mut other = rule("other-grumbles", RuleKind::NegativeShare);
    other.severity = Severity::Warning;
    other.brand = "Globex".into();
    let mut cfg = config(vec![
        with_query(rule("recall", RuleKind::Keyword), "recall"),
        warn,
        other,
    ]);
    cfg.alerts.source_down_notify = vec!["pr-team".into()];
    let engine = AlertEngine::new(&cfg).unwrap();
    let store = MemStore::new();
    let open = |rule: &str, brand: &str, severity: Severity| {
        store
            .create_incident(NewIncident {
                rule: rule.into(),
                brand: brand.into(),
                severity,
                opened_at: t0(),
                response_deadline: t0() + hours(24),
                trigger: Trigger {
                    metric: "negative_share".into(),
                    value: 0.6,
                    threshold: 0.4,
                    baseline: None,
                    window_secs: 3600,
                    baseline_secs: None,
                    mentions: 9,
                    explanation: "negative share 60% above 40%".into(),
                    context: Default::default(),
                },
                evidence: Vec::new(),
            })
            .unwrap()
            .id
    };
    let crisis = open("recall", "Acme", Severity::Crisis);
    let muted = open("grumbles", "Acme", Severity::Warning);
    let elsewhere = open("other-grumbles", "Globex", Severity::Warning);
    let system = open("source_down:news", "Acme", Severity::Warning);
    let firsts = |store: &MemStore| -> Vec<i64> {
        let mut ids: Vec<i64> = store
            .all_notifications()
            .iter()
            .filter(|n| n.kind == NotificationKind::First)
            .map(|n| n.incident_id)
            .collect();
        ids.sort_unstable();
        ids
    };
    engine.plan_notifications(&store, t0()).unwrap();
    assert_eq!(firsts(&store), vec![crisis, elsewhere, system]);
    // Still muted an hour later.
    engine.plan_notifications(&store, t0() + hours(1)).unwrap();
    assert!(!firsts(&store).contains(&muted));
    // The crisis is resolved: the warning speaks.
    store.resolve(crisis, "dana", t0() + hours(2));
    engine.plan_notifications(&store, t0() + hours(2)).unwrap();
    assert_eq!(firsts(&store), vec![crisis, muted, elsewhere, system]);
}

/// `ack_timeout`: an acknowledgement that runs out without a resolution opens the
/// incident again and brings the next reminder forward to that moment; the schedule
/// (escalation, later reminders) goes on as for an unacknowledged incident.
#[test]
fn an_expired_acknowledgement_reopens_and_reminds_at_once() {
    let (engine, store) = keyword_engine_with(
        |_| {},
        |cfg| cfg.alerts.crisis.ack_timeout = Some(std::time::Duration::from_secs(3600)),
    );
    let id = engine.evaluate(&store, t0()).unwrap()[0]
        .incident_id
        .unwrap();
    run_clock(&engine, &store, t0(), t0() + minutes(150), 10);
    // Acknowledged at 2h30, after the first reminder (2h).
    store.acknowledge(id, "dana", t0() + minutes(150));
    run_clock(
        &engine,
        &store,
        t0() + minutes(150),
        t0() + minutes(200),
        10,
    );
    assert_eq!(
        store.incident(id).status,
        vigil_core::IncidentStatus::Acknowledged
    );
    // One hour later, at 3h30, it has expired.
    run_clock(&engine, &store, t0() + minutes(210), t0() + hours(7), 10);
    assert_eq!(store.incident(id).status, vigil_core::IncidentStatus::Open);
    assert_eq!(
        keys(&store.all_notifications()),
        vec![
            (NotificationKind::First, 0, 0),
            (NotificationKind::Reminder, 1, 120),
            (NotificationKind::Reminder, 2, 210),
            (NotificationKind::Escalation, 0, 240),
            (NotificationKind::Reminder, 3, 360),
        ]
    );
}

/// A keyword engine with `adjust` applied to its one rule, and a store with a
/// matching post two minutes before t0.
fn keyword_engine(adjust: impl FnOnce(&mut vigil_config::RuleConfig)) -> (AlertEngine, MemStore) {
    keyword_engine_with(adjust, |_| {})
}

/// [`keyword_engine`] with the whole configuration adjusted too.
fn keyword_engine_with(
    adjust: impl FnOnce(&mut vigil_config::RuleConfig),
    adjust_config: impl FnOnce(&mut vigil_config::Config),
) -> (AlertEngine, MemStore) {
    let mut recall = with_query(rule("recall", RuleKind::Keyword), "recall");
    adjust(&mut recall);
    let mut cfg = config(vec![recall]);
    adjust_config(&mut cfg);
    let engine = AlertEngine::new(&cfg).unwrap();
    let store = MemStore::new();
    store.add(
        "Acme",
        post(
            "r1",
            t0() - minutes(2),
            "Acme announces kettle recall",
            None,
            Some(-0.4),
        ),
    );
    (engine, store)
}

#[test]
fn for_holds_an_incident_back_until_the_rule_has_fired_that_long() {
    let (engine, store) =
        keyword_engine(|rule| rule.hold_for = std::time::Duration::from_secs(1800));
    let first = engine.evaluate(&store, t0()).unwrap().remove(0);
    assert!(first.fired && !first.opened, "{first:?}");
    assert!(
        first.detail.contains("must hold for 30m"),
        "{}",
        first.detail
    );
    assert!(!engine.evaluate(&store, t0() + minutes(20)).unwrap()[0].opened);
    let held = engine
        .evaluate(&store, t0() + minutes(30))
        .unwrap()
        .remove(0);
    assert!(held.opened, "{held:?}");
    assert_eq!(store.all_incidents().len(), 1);
}

#[test]
fn a_quiet_spell_restarts_the_for_clock() {
    let (engine, store) =
        keyword_engine(|rule| rule.hold_for = std::time::Duration::from_secs(1800));
    assert!(!engine.evaluate(&store, t0()).unwrap()[0].opened);
    // Two hours later the post has left the window: quiet, and the clock resets.
    assert!(!engine.evaluate(&store, t0() + hours(2)).unwrap()[0].fired);
    store.add(
        "Acme",
        post(
            "r2",
            t0() + hours(2) + minutes(5),
            "second recall notice",
            None,
            Some(-0.5),
        ),
    );
    let again = engine
        .evaluate(&store, t0() + hours(2) + minutes(10))
        .unwrap()
        .remove(0);
    assert!(again.fired && !again.opened, "{again:?}");
    assert!(store.all_incidents().is_empty());
}

#[test]
fn cooldown_keeps_a_resolved_incident_from_being_followed_at_once() {
    let (engine, store) =
        keyword_engine(|rule| rule.cooldown = std::time::Duration::from_secs(2 * 3600));
    let id = engine.evaluate(&store, t0()).unwrap()[0]
        .incident_id
        .unwrap();
    store.resolve(id, "dana", t0() + minutes(10));
    store.add(
        "Acme",
        post("r2", t0() + minutes(20), "recall again", None, Some(-0.5)),
    );
    let cooling = engine
        .evaluate(&store, t0() + minutes(30))
        .unwrap()
        .remove(0);
    assert!(cooling.fired && !cooling.opened, "{cooling:?}");
    assert!(
        cooling.detail.contains("cooling down"),
        "{}",
        cooling.detail
    );
    store.add(
        "Acme",
        post(
            "r3",
            t0() + hours(2),
            "recall, third time",
            None,
            Some(-0.5),
        ),
    );
    let after = engine
        .evaluate(&store, t0() + hours(2) + minutes(15))
        .unwrap()
        .remove(0);
    assert!(after.opened, "{after:?}");
    assert_ne!(after.incident_id, Some(id));
    assert_eq!(store.all_incidents().len(), 2);
}

#[test]
fn auto_resolve_after_a_quiet_hour() {
    let (engine, store) =
        keyword_engine(|rule| rule.auto_resolve_after = Some(std::time::Duration::from_secs(3600)));
    let id = engine.evaluate(&store, t0()).unwrap()[0]
        .incident_id
        .unwrap();
    // Still firing at 30m (the post is in the window); quiet from 1h.
    assert!(engine.evaluate(&store, t0() + minutes(30)).unwrap()[0].fired);
    engine.evaluate(&store, t0() + hours(1)).unwrap();
    engine.evaluate(&store, t0() + minutes(100)).unwrap();
    assert_eq!(store.incident(id).status, vigil_core::IncidentStatus::Open);
    let resolved = engine.evaluate(&store, t0() + hours(2)).unwrap().remove(0);
    assert!(
        resolved.detail.contains("resolved by vigil"),
        "{}",
        resolved.detail
    );
    let incident = store.incident(id);
    assert_eq!(incident.status, vigil_core::IncidentStatus::Resolved);
    assert_eq!(incident.resolved_by.as_deref(), Some("vigil"));
}

/// A snooze (a silence of one incident) holds its reminders and escalation back;
/// when it ends, what is due then goes out (only the latest reminder, as after any
/// gap). Another brand's silence changes nothing.
#[test]
fn a_snoozed_incident_sends_nothing_until_the_snooze_ends() {
    let (engine, store, id) = opened();
    engine.plan_notifications(&store, t0()).unwrap();
    let silence = |brand: Option<&str>, incident: Option<i64>, from, to| vigil_core::Silence {
        id: 0,
        brand: brand.map(str::to_owned),
        rule: None,
        incident_id: incident,
        starts_at: from,
        ends_at: to,
        by: "dana".into(),
        reason: Some("statement being drafted".into()),
    };
    store.silence(silence(Some("Globex"), None, t0(), t0() + hours(24)));
    store.silence(silence(None, Some(id), t0() + minutes(30), t0() + hours(5)));
    run_clock(&engine, &store, t0(), t0() + hours(6), 10);
    assert_eq!(
        keys(&store.all_notifications()),
        vec![
            (NotificationKind::First, 0, 0),
            (NotificationKind::Escalation, 0, 300),
            (NotificationKind::Reminder, 3, 360),
        ]
    );
}

/// An incident opened while its brand is silenced (or while a crisis of the brand is
/// open, for a warning) is opened without its first notification; the planner sends it
/// once the silence has ended.
#[test]
fn an_incident_opened_while_silenced_notifies_when_the_silence_ends() {
    let (engine, store) = keyword_engine(|_| {});
    store.silence(vigil_core::Silence {
        id: 0,
        brand: Some("Acme".into()),
        rule: None,
        incident_id: None,
        starts_at: t0() - hours(1),
        ends_at: t0() + minutes(45),
        by: "dana".into(),
        reason: Some("planned launch".into()),
    });
    let outcome = engine.evaluate(&store, t0()).unwrap().remove(0);
    assert!(outcome.opened, "{outcome:?}");
    assert!(store.all_notifications().is_empty());
    run_clock(&engine, &store, t0(), t0() + minutes(40), 10);
    assert!(store.all_notifications().is_empty());
    engine
        .plan_notifications(&store, t0() + minutes(50))
        .unwrap();
    assert_eq!(
        keys(&store.all_notifications()),
        vec![(NotificationKind::First, 0, 50)]
    );

    // A warning opened under an unresolved crisis of the same brand: muted too.
    let (engine, store) = keyword_engine(|rule| rule.severity = vigil_core::Severity::Warning);
    use vigil_core::AlertStore;
    let crisis = store
        .create_incident(vigil_core::NewIncident {
            rule: "other".into(),
            brand: "Acme".into(),
            severity: vigil_core::Severity::Crisis,
            opened_at: t0() - hours(1),
            response_deadline: t0() + hours(23),
            trigger: sample_trigger(),
            evidence: Vec::new(),
        })
        .unwrap();
    let outcome = engine.evaluate(&store, t0()).unwrap().remove(0);
    assert!(outcome.opened && outcome.incident_id != Some(crisis.id));
    assert!(
        store.all_notifications().is_empty(),
        "{:?}",
        store.all_notifications()
    );
}

fn sample_trigger() -> vigil_core::Trigger {
    vigil_core::Trigger {
        metric: "keyword".into(),
        value: 1.0,
        threshold: 1.0,
        baseline: None,
        window_secs: 3600,
        baseline_secs: None,
        mentions: 1,
        explanation: "1 match".into(),
        context: Default::default(),
    }
}

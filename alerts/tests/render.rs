//! What a PR person reads: the first notification's text and HTML.

mod support;

use support::*;
use vigil_alerts::AlertEngine;
use vigil_config::RuleKind;
use vigil_core::{Incident, Label, NotificationKind};

fn incident_with_hostile_post(rule_name: &str, engine: &AlertEngine) -> (MemStore, Incident) {
    let store = MemStore::new();
    mixed_posts(&store);
    let mut hostile = post(
        "evil",
        t0() - minutes(3),
        "Acme <script>alert('x')</script> & \"friends\"",
        Some(Label::Negative),
        Some(-0.99),
    );
    hostile.url = Some("javascript:alert(1)".into());
    store.add("Acme", hostile);
    let outcome = engine.evaluate(&store, t0()).unwrap().remove(0);
    assert_eq!(outcome.rule, rule_name);
    let incident = store.incident(outcome.incident_id.unwrap());
    (store, incident)
}

/// What a mail client shows for the HTML (minijinja also escapes `/`).
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

fn mixed_posts(store: &MemStore) {
    for i in 0..6 {
        store.add("Acme", negative(&format!("n{i}"), t0() - minutes(10 + i)));
    }
    store.add("Acme", positive("p0", t0() - minutes(20)));
}

#[test]
fn first_notification_has_everything_needed_to_respond() {
    let engine = AlertEngine::new(&config(vec![rule("neg", RuleKind::NegativeShare)])).unwrap();
    let (_, incident) = incident_with_hostile_post("neg", &engine);
    let message = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();

    assert_eq!(message.subject, "[CRISIS] Acme: neg (incident 1)");
    assert_eq!(
        message.recipients,
        vec!["pr@example.com", "press@example.com"]
    );
    let html_as_read = unescape(&message.html);
    for (what, body) in [("text", &message.text), ("html", &html_as_read)] {
        // What fired and why, with the numbers.
        assert!(
            body.contains("87.5% of 8 Acme mentions in the last 1h were negative (threshold 40%)."),
            "{what}: {body}"
        );
        assert!(
            body.contains("negative_share") && body.contains("87.5%") && body.contains("40.0%"),
            "{what}"
        );
        // The response script, rendered with the incident's variables.
        assert!(
            body.contains("We are aware of reports about Acme (8 mentions)."),
            "{what}: {body}"
        );
        assert!(body.contains("- seen: forum"), "{what}");
        // Evidence with links, sentiment and source.
        assert!(body.contains("https://forum.example.com/p/n0"), "{what}");
        assert!(
            body.contains("negative -0.70") && body.contains("forum"),
            "{what}"
        );
        // The deadline and how to acknowledge.
        assert!(
            body.contains("2024-05-09T00:00:00Z") && body.contains("in 24h"),
            "{what}"
        );
        assert!(
            body.contains("vigil incidents ack 1 --by <your name>"),
            "{what}"
        );
        assert!(
            body.contains("https://vigil.example.com/#/incidents/1"),
            "{what}"
        );
    }
    assert!(html_as_read.contains("<a href=\"https://forum.example.com/p/n0\">"));
}

#[test]
fn html_escapes_post_text_and_refuses_script_urls() {
    let engine = AlertEngine::new(&config(vec![rule("neg", RuleKind::NegativeShare)])).unwrap();
    let (_, incident) = incident_with_hostile_post("neg", &engine);
    assert_eq!(incident.evidence[0].id, "evil", "most negative first");
    let message = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();
    assert!(!message.html.contains("<script>"), "{}", message.html);
    assert!(
        message.html.contains("&lt;script&gt;alert("),
        "{}",
        message.html
    );
    assert!(message.html.contains("&amp; &quot;friends&quot;"));
    assert!(
        !message.html.contains("href=\"javascript:"),
        "only http(s) links are clickable"
    );
    // Plain text stays as written.
    assert!(
        message
            .text
            .contains("Acme <script>alert('x')</script> & \"friends\"")
    );
}

#[test]
fn rule_without_script_uses_default_subject_and_omits_script() {
    let mut plain = rule("neg", RuleKind::NegativeShare);
    plain.script = None;
    let mut cfg = config(vec![plain]);
    cfg.alerts.dashboard_url = None;
    let engine = AlertEngine::new(&cfg).unwrap();
    let (_, incident) = incident_with_hostile_post("neg", &engine);
    let message = engine
        .render(&incident, NotificationKind::First, 0, t0())
        .unwrap();
    assert_eq!(message.subject, "[crisis] Acme: neg");
    assert!(!message.text.contains("RESPONSE SCRIPT"));
    assert!(!message.html.contains("Response script"));
    assert!(!message.text.contains("#/incidents/"));
    assert!(
        message
            .text
            .contains("vigil incidents ack 1 --by <your name>")
    );
}

#[test]
fn follow_ups_thread_under_the_first_subject() {
    let engine = AlertEngine::new(&config(vec![rule("neg", RuleKind::NegativeShare)])).unwrap();
    let (_, incident) = incident_with_hostile_post("neg", &engine);
    let reminder = engine
        .render(&incident, NotificationKind::Reminder, 1, t0() + hours(2))
        .unwrap();
    assert_eq!(reminder.subject, "Re: [CRISIS] Acme: neg (incident 1)");
    assert!(
        reminder
            .text
            .contains("Reminder 1: incident #1 is not acknowledged yet")
    );
    assert!(reminder.text.contains("in 22h"));
    let escalation = engine
        .render(&incident, NotificationKind::Escalation, 0, t0() + hours(4))
        .unwrap();
    assert!(
        escalation
            .recipients
            .contains(&"head-of-comms@example.com".to_string())
    );
    let summary = engine
        .render(&incident, NotificationKind::Summary, 0, t0() + hours(25))
        .unwrap();
    assert!(summary.text.contains("overdue by 1h"), "{}", summary.text);
    assert!(
        summary
            .text
            .contains("Peak negative_share while open: 87.5%."),
        "{}",
        summary.text
    );
}

#[test]
fn script_with_unknown_variable_is_rejected_at_start() {
    let mut cfg = config(vec![rule("neg", RuleKind::NegativeShare)]);
    cfg.scripts[0].body = "Dear {{ customer_name }}".into();
    let err = AlertEngine::new(&cfg).err().expect("strict check");
    let message = err.to_string();
    assert!(
        message.contains("script \"holding\": body template"),
        "{message}"
    );
    assert!(
        message.contains("customer_name") || message.contains("undefined"),
        "{message}"
    );
}

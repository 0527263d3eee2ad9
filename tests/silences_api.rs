//! Silences and snoozes over the HTTP API, against the real `vigil` binary on loopback:
//! roles, validation messages, attribution to the token's name (in the record, the CLI's
//! listing and the audit log), snoozing an incident a real keyword rule opened, and
//! ending a silence early.

mod support;

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use support::*;

const VIEWER: Option<&str> = Some("viewer-secret");
const RESPONDER: Option<&str> = Some("responder-secret");

/// A config with a viewer token (`ana`), a responder token (`pat`) and a keyword rule
/// `recall` on brand Acme; mail goes to a port nobody listens on.
fn config_with_tokens(dir: &Path, api_port: u16) -> PathBuf {
    let recall = recall_alerting();
    acme_config(dir, "acme", &format!("{}{recall}", api_server(api_port)))
}

/// Sends `body` (JSON text) and returns the status and the parsed JSON answer.
fn call(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let (status, text) = http_body(port, method, path, token, body);
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{method} {path} answered non-JSON ({error}): {text:?}"));
    (status, value)
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a time string"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

fn ids(silences: &Value) -> Vec<i64> {
    silences
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect()
}

/// `vigil incidents silences` (table) as the CLI prints it.
fn cli_silences(config: &Path) -> String {
    let output = run(&[
        "incidents",
        "silences",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

/// `(kind, actor)` of every audit entry.
fn audit_entries(config: &Path) -> Vec<(String, String)> {
    audit_log(config)
        .iter()
        .map(|entry| {
            (
                entry["kind"].as_str().unwrap().to_string(),
                entry["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn silences_are_added_validated_listed_and_attributed_over_the_api() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let api_port = free_port();
    let config = config_with_tokens(dir, api_port);
    let _daemon = start_api_daemon(&config, &dir.join("daemon.log"), api_port);

    let (status, listed) = call(api_port, "GET", "/api/silences", VIEWER, "");
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed, json!([]));
    assert_eq!(
        http(api_port, "GET", "/api/silences", None).0,
        401,
        "tokens are configured"
    );

    let good = r#"{"brand": "Acme", "duration": "2h", "comment": "maintenance window"}"#;
    let (status, refused) = call(api_port, "POST", "/api/silences", VIEWER, good);
    assert_eq!(status, 403, "a viewer may not silence: {refused}");
    assert!(refused["error"].as_str().unwrap().contains("Responder"));

    // Bad bodies: each a 400 whose message names the field at fault.
    let in_the_past = (Utc::now() - TimeDelta::hours(1)).to_rfc3339();
    let bad_bodies = [
        (
            r#"{"brand": "Acme", "severity": "crisis", "duration": "2h"}"#.to_string(),
            "severity",
        ),
        (
            r#"{"brand": "Acme", "duration": "2x"}"#.to_string(),
            "duration",
        ),
        (
            r#"{"brand": "Acme", "ends_at": "tomorrow noon"}"#.to_string(),
            "ends_at",
        ),
        (
            format!(r#"{{"brand": "Acme", "ends_at": "{in_the_past}"}}"#),
            "not in the future",
        ),
        (
            r#"{"brand": "Acme", "duration": "2h", "ends_at": "2999-01-01T00:00:00Z"}"#.to_string(),
            "not both",
        ),
        (r#"{"brand": "Acme"}"#.to_string(), "duration"),
        (r#"{"duration": "2h"}"#.to_string(), "brand and/or rule"),
        (r#"{"brand": " ", "duration": "2h"}"#.to_string(), "brand"),
        (r#"{"brand": 7, "duration": "2h"}"#.to_string(), "brand"),
        ("not json".to_string(), "expected a JSON object"),
        ("[\"Acme\"]".to_string(), "expected a JSON object"),
    ];
    for (body, named) in &bad_bodies {
        let (status, answer) = call(api_port, "POST", "/api/silences", RESPONDER, body);
        assert_eq!(status, 400, "{body} → {answer}");
        let message = answer["error"].as_str().expect("a JSON error message");
        assert!(message.contains(named), "{body} → {message:?}");
    }
    let (_, listed) = call(api_port, "GET", "/api/silences", VIEWER, "");
    assert_eq!(listed, json!([]), "nothing stored by refused requests");

    let before = Utc::now();
    let (status, by_brand) = call(api_port, "POST", "/api/silences", RESPONDER, good);
    let after = Utc::now();
    assert_eq!(status, 201, "{by_brand}");
    assert_eq!(by_brand["brand"], "Acme");
    assert_eq!(by_brand["rule"], Value::Null);
    assert_eq!(by_brand["incident_id"], Value::Null);
    assert_eq!(by_brand["by"], "pat", "attributed to the token's name");
    assert_eq!(by_brand["reason"], "maintenance window");
    let ends_at = time(&by_brand["ends_at"]);
    assert!(
        before + TimeDelta::hours(2) <= ends_at && ends_at <= after + TimeDelta::hours(2),
        "two hours from the request: {ends_at}"
    );

    let until = (Utc::now() + TimeDelta::days(1)).to_rfc3339();
    let (status, by_rule) = call(
        api_port,
        "POST",
        "/api/silences",
        RESPONDER,
        &format!(r#"{{"rule": "recall", "ends_at": "{until}"}}"#),
    );
    assert_eq!(status, 201, "{by_rule}");
    assert_eq!(time(&by_rule["ends_at"]), time(&json!(until)));
    assert_eq!(by_rule["brand"], Value::Null);

    let (status, listed) = call(api_port, "GET", "/api/silences", VIEWER, "");
    assert_eq!(status, 200);
    let brand_id = by_brand["id"].as_i64().unwrap();
    let rule_id = by_rule["id"].as_i64().unwrap();
    assert_eq!(ids(&listed), vec![brand_id, rule_id], "by end time");
    assert_eq!(listed[0], by_brand, "listed as it was returned");

    let table = cli_silences(&config);
    let brand_line = table
        .lines()
        .find(|line| line.starts_with(&format!("{brand_id} ")))
        .unwrap_or_else(|| panic!("silence {brand_id} in the CLI's list:\n{table}"));
    assert!(brand_line.contains("brand Acme rule *"), "{brand_line}");
    assert!(
        brand_line.contains("by pat: maintenance window"),
        "{brand_line}"
    );
    assert!(table.contains("brand * rule recall"), "{table}");

    let added: Vec<String> = audit_entries(&config)
        .into_iter()
        .filter(|(kind, _)| kind == "silence_added")
        .map(|(_, actor)| actor)
        .collect();
    assert_eq!(added, vec!["pat", "pat"]);
}

#[test]
fn an_incident_is_snoozed_and_a_silence_ended_early_over_the_api() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let api_port = free_port();
    let config = config_with_tokens(dir, api_port);
    // A post the keyword rule `recall` fires on; `--alerts` opens the incident.
    let file = dir.join("posts.jsonl");
    std::fs::write(
        &file,
        format!(
            "{{\"id\": \"1\", \"published_at\": \"{}\", \"text\": \"acme kettle recall announced\"}}\n",
            Utc::now().to_rfc3339()
        ),
    )
    .unwrap();
    let imported = import(&config, "s", &file, &["--alerts"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let _daemon = start_api_daemon(&config, &dir.join("daemon.log"), api_port);

    let (status, incidents) = call(api_port, "GET", "/api/incidents", VIEWER, "");
    assert_eq!(status, 200, "{incidents}");
    let incident = &incidents[0];
    assert_eq!(incident["rule"], "recall", "the keyword rule opened it");
    assert_eq!(incident["silenced_until"], Value::Null, "not snoozed yet");
    let id = incident["id"].as_i64().unwrap();
    let snooze_path = format!("/api/incidents/{id}/snooze");

    let (status, _) = call(
        api_port,
        "POST",
        &snooze_path,
        VIEWER,
        r#"{"duration": "30m"}"#,
    );
    assert_eq!(status, 403, "a viewer may not snooze");
    let (status, answer) = call(
        api_port,
        "POST",
        &snooze_path,
        RESPONDER,
        r#"{"for": "30m"}"#,
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("unknown field \"for\""),
        "{answer}"
    );
    let (status, answer) = call(
        api_port,
        "POST",
        &snooze_path,
        RESPONDER,
        r#"{"until": "2000-01-01T00:00:00Z"}"#,
    );
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("until 2000-01-01 00:00:00 UTC is not in the future"),
        "{answer}"
    );
    let (status, answer) = call(
        api_port,
        "POST",
        "/api/incidents/9999/snooze",
        RESPONDER,
        r#"{"duration": "30m"}"#,
    );
    assert_eq!(status, 404, "{answer}");

    let before = Utc::now();
    let (status, snooze) = call(
        api_port,
        "POST",
        &snooze_path,
        RESPONDER,
        r#"{"duration": "30m", "comment": "handled by legal"}"#,
    );
    let after = Utc::now();
    assert_eq!(status, 201, "{snooze}");
    assert_eq!(snooze["incident_id"], id);
    assert_eq!(snooze["by"], "pat");
    assert_eq!(snooze["reason"], "handled by legal");
    let ends_at = time(&snooze["ends_at"]);
    assert!(
        before + TimeDelta::minutes(30) <= ends_at && ends_at <= after + TimeDelta::minutes(30),
        "{ends_at}"
    );
    let snooze_id = snooze["id"].as_i64().unwrap();

    let (_, incidents) = call(api_port, "GET", "/api/incidents", VIEWER, "");
    assert_eq!(
        time(&incidents[0]["silenced_until"]),
        ends_at,
        "the incident shows as snoozed: {}",
        incidents[0]
    );
    let (_, listed) = call(api_port, "GET", "/api/silences", VIEWER, "");
    assert_eq!(ids(&listed), vec![snooze_id]);
    assert!(
        cli_silences(&config).contains(&format!("incident #{id}")),
        "the CLI lists the snooze"
    );

    // Ending it early.
    let silence_path = format!("/api/silences/{snooze_id}");
    let (status, _) = call(api_port, "DELETE", &silence_path, VIEWER, "");
    assert_eq!(status, 403, "a viewer may not end a silence");
    let (status, expired) = call(api_port, "DELETE", &silence_path, RESPONDER, "");
    assert_eq!(status, 200, "{expired}");
    assert_eq!(expired["id"], snooze_id);
    assert!(time(&expired["ends_at"]) < ends_at, "{expired}");
    assert!(time(&expired["ends_at"]) <= Utc::now(), "{expired}");

    let (_, incidents) = call(api_port, "GET", "/api/incidents", VIEWER, "");
    assert_eq!(
        incidents[0]["silenced_until"],
        Value::Null,
        "no longer snoozed"
    );
    let (_, listed) = call(api_port, "GET", "/api/silences", VIEWER, "");
    assert_eq!(listed, json!([]));
    let (status, everything) = call(api_port, "GET", "/api/silences?all=true", VIEWER, "");
    assert_eq!(status, 200);
    assert_eq!(everything, json!([expired]), "kept, listed with all=true");
    let (status, answer) = call(api_port, "GET", "/api/silences?all=maybe", VIEWER, "");
    assert_eq!(status, 400, "{answer}");
    assert_eq!(cli_silences(&config).trim(), "no silences");

    let (status, answer) = call(api_port, "DELETE", &silence_path, RESPONDER, "");
    assert_eq!(status, 409, "already ended: {answer}");
    let (status, _) = call(api_port, "DELETE", "/api/silences/9999", RESPONDER, "");
    assert_eq!(status, 404);

    let audit = audit_entries(&config);
    for kind in ["silence_added", "silence_expired"] {
        assert!(
            audit.contains(&(kind.to_string(), "pat".to_string())),
            "{kind} by pat in {audit:?}"
        );
    }
}

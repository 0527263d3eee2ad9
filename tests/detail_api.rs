//! The API the dashboard needs beyond the lists, against the real daemon: `/api/whoami`,
//! `/api/brands`, `/api/incidents/{id}` (notifications, timeline, rendered script), and
//! the admin's `POST /api/erasures`, which erases while the daemon runs (the CLI cannot)
//! and takes the posts out of search at once.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

fn call(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let (status, text) = http_body(port, method, path, token, body);
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{method} {path} answered non-JSON ({error}): {text:?}"));
    (status, value)
}

#[test]
fn whoami_brands_incident_detail_and_erasure_over_the_api() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let api_port = free_port();
    let recall = recall_alerting();
    std::fs::write(
        dir.join("recall.md"),
        "Hold statement for {{ brand }}: we are looking into the recall reports.\n",
    )
    .unwrap();
    let config = acme_config(
        dir,
        "acme",
        &format!(
            "{}[[server.tokens]]\nname = \"dpo\"\nrole = \"admin\"\ntoken_env = \"T_ADMIN\"\n\
             {recall}script = \"hold\"\n\
             [[scripts]]\nname = \"hold\"\nsubject = \"[{{{{ severity }}}}] {{{{ brand }}}}\"\nfile = \"recall.md\"\n",
            api_server(api_port)
        ),
    );
    let now = chrono::Utc::now().to_rfc3339();
    let file = dir.join("posts.jsonl");
    std::fs::write(
        &file,
        format!(
            "{{\"id\": \"1\", \"published_at\": \"{now}\", \"author\": \"@leaker\", \"text\": \"acme kettle recall announced LEAK-9931\"}}\n\
             {{\"id\": \"2\", \"published_at\": \"{now}\", \"author\": \"@leaker\", \"text\": \"acme kettle recall, more\"}}\n\
             {{\"id\": \"3\", \"published_at\": \"{now}\", \"author\": \"@fan\", \"text\": \"acme kettle is great\"}}\n"
        ),
    )
    .unwrap();
    assert!(import(&config, "s", &file, &["--alerts"]).status.success());
    let _daemon = start_api_daemon(&config, &dir.join("daemon.log"), api_port);

    let viewer = Some("viewer-secret");
    let (status, me) = call(api_port, "GET", "/api/whoami", viewer, "");
    assert_eq!(status, 200);
    assert_eq!(
        me,
        json!({"name": "ana", "role": "viewer", "tokens_configured": true})
    );
    let (_, me) = call(api_port, "GET", "/api/whoami", Some("admin-secret"), "");
    assert_eq!(me["role"], "admin");
    let (status, _) = call(api_port, "GET", "/api/whoami", None, "");
    assert_eq!(status, 401);

    let (_, brands) = call(api_port, "GET", "/api/brands", viewer, "");
    assert_eq!(
        brands,
        json!([{"name": "Acme", "query": "acme", "language": null}])
    );

    let (_, incidents) = call(api_port, "GET", "/api/incidents", viewer, "");
    let id = incidents[0]["id"].as_i64().unwrap();
    let (status, ack) = call(
        api_port,
        "POST",
        &format!("/api/incidents/{id}/ack"),
        Some("responder-secret"),
        r#"{"note": "looking"}"#,
    );
    assert_eq!(status, 200, "{ack}");
    let (status, detail) = call(api_port, "GET", &format!("/api/incidents/{id}"), viewer, "");
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["id"], id);
    assert_eq!(detail["rule"], "recall");
    assert_eq!(detail["status"], "acknowledged");
    let first = &detail["notifications"][0];
    assert_eq!(first["kind"], "first", "{detail}");
    assert_eq!(first["recipients"], json!(["pr@x.invalid"]));
    assert!(first.get("body_text").is_none(), "no bodies in the list");
    let kinds: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"opened"), "{kinds:?}");
    assert!(kinds.contains(&"acknowledged"), "{kinds:?}");
    let acked = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "acknowledged")
        .unwrap();
    assert_eq!(
        (acked["by"].as_str(), acked["note"].as_str()),
        (Some("pat"), Some("looking"))
    );
    assert_eq!(detail["script"]["name"], "hold");
    assert_eq!(
        detail["script"]["body"].as_str().unwrap().trim(),
        "Hold statement for Acme: we are looking into the recall reports."
    );
    let (status, missing) = call(api_port, "GET", "/api/incidents/999", viewer, "");
    assert_eq!(status, 404, "{missing}");
    let (status, _) = call(api_port, "GET", "/api/incidents/nope", viewer, "");
    assert_eq!(status, 400);

    // Erasure over the API: admin only, validated, attributed, out of search at once.
    let body = r#"{"author": "@leaker", "reason": "erasure request 7"}"#;
    let (status, _) = call(
        api_port,
        "POST",
        "/api/erasures",
        Some("responder-secret"),
        body,
    );
    assert_eq!(status, 403);
    for bad in [
        r#"{"reason": "x"}"#,
        r#"{"author": "@a", "url": "https://x", "reason": "x"}"#,
        r#"{"author": "@a", "reason": " "}"#,
        r#"{"author": "@a", "reason": "x", "extra": 1}"#,
    ] {
        let (status, answer) = call(api_port, "POST", "/api/erasures", Some("admin-secret"), bad);
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    assert_eq!(search_json(&config, "kettle", &[]).0, 3);
    let (status, done) = call(
        api_port,
        "POST",
        "/api/erasures",
        Some("admin-secret"),
        body,
    );
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["erased"], 2);
    wait_for(
        "the erased posts out of search",
        Duration::from_secs(30),
        || search_json(&config, "kettle", &[]).0 == 1,
    );
    let erasure = audit_entry(&config, "erasure");
    assert_eq!(erasure["actor"], "dpo");
    // Nothing names the handle any more: not the audit log (which cannot be erased),
    // not the incident (evidence and top authors scrubbed), not the notification that
    // quoted the posts (its body replaced by a notice with the old body's hash).
    let everything = stdout(&run(&[
        "audit",
        "export",
        "--config",
        config.to_str().unwrap(),
    ]));
    let leaks: Vec<&str> = everything
        .lines()
        .filter(|l| l.contains("@leaker"))
        .collect();
    assert!(
        leaks.is_empty(),
        "the erased handle is still stored: {leaks:?}"
    );
    let notification: Value = everything
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|record| record["type"] == "notification")
        .expect("the first notification");
    assert!(
        notification["body_text"]
            .as_str()
            .unwrap()
            .starts_with("[This notification's content was removed by an erasure request]"),
        "{notification}"
    );
    assert_eq!(
        notification["recipients"],
        json!(["pr@x.invalid"]),
        "the record stays"
    );
    // Not a byte of it left in any file of the data dir: store (secure_delete, WAL
    // emptied), index (segments rewritten), notifications (bodies replaced).
    let left = files_containing(&dir.join("data"), b"LEAK-9931");
    assert!(left.is_empty(), "erased text still in {left:?}");
    let (_, detail) = call(api_port, "GET", &format!("/api/incidents/{id}"), viewer, "");
    assert!(
        detail["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .all(|post| post["text"] == "[erased]"),
        "{detail}"
    );
}

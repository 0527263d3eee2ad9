//! The OpenAPI description at `/api/openapi.json`, against the real `vigil` binary on
//! loopback: it is public and parses as OpenAPI 3.1; every operation it documents,
//! except the public `/healthz` and the document itself, answers 401 without a token
//! and with a wrong one; and real answers — successes and errors — have a status the
//! description lists for the operation and a body its schema accepts (checked by the
//! small JSON Schema validator below, for the subset the description uses).
//! `scripts/schemathesis.sh` fuzzes the same description with generated requests.

mod support;

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::{Value, json};
use support::*;

const VIEWER: Option<&str> = Some("viewer-secret");
const RESPONDER: Option<&str> = Some("responder-secret");

/// Tokens `ana` (viewer) and `pat` (responder), brands Acme and Globex, a keyword rule
/// `recall` on Acme, a source nobody serves (so `/api/sources` reports an error), and
/// mail to a port nobody listens on.
fn config(dir: &Path, api_port: u16) -> PathBuf {
    let dead = free_port();
    let recall = recall_alerting();
    acme_config(
        dir,
        "acme",
        &format!(
            "[[brands]]\nname = \"Globex\"\nquery = 'globex'\n\
             [[sources]]\nname = \"feed\"\nkind = \"rss\"\nurl = \"http://127.0.0.1:{dead}/feed.xml\"\ninterval = \"1h\"\n\
             [server]\nlisten = \"127.0.0.1:{api_port}\"\n\
             [[server.tokens]]\nname = \"ana\"\nrole = \"viewer\"\ntoken_env = \"T_VIEW\"\n\
             [[server.tokens]]\nname = \"pat\"\nrole = \"responder\"\ntoken_env = \"T_RESP\"\n\
             {recall}"
        ),
    )
}

/// Posts of the last two days; the first opens an incident through the rule.
fn import_posts(dir: &Path, config: &Path) {
    let texts = [
        "acme kettle recall announced after overheating",
        "I love my acme toaster, works perfectly",
        "acme support was terrible and rude",
        "globex launches new widgets",
        "acme and globex cut prices",
    ];
    let mut lines = String::new();
    for (n, text) in texts.iter().cycle().take(20).enumerate() {
        let published = Utc::now() - chrono::TimeDelta::hours(2 * n as i64 + 1);
        let mut post = json!({
            "id": format!("p{n}"),
            "url": format!("https://news.example.com/{n}"),
            "author": format!("author{}", n % 3),
            "published_at": published.to_rfc3339(),
            "text": format!("{text} #{n}"),
            "title": text,
        });
        if n % 2 == 0 {
            post["engagement"] = json!({"likes": n, "replies": 1});
        }
        lines.push_str(&format!("{post}\n"));
    }
    let file = dir.join("posts.jsonl");
    std::fs::write(&file, lines).unwrap();
    let imported = import(config, "wire", &file, &["--alerts"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
}

fn call(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    http_body(port, method, path, token, body)
}

/// The description of `method path` (path as called; `{param}` segments match any).
fn operation<'a>(document: &'a Value, method: &str, path: &str) -> &'a Value {
    let path = path.split('?').next().unwrap();
    let called: Vec<&str> = path.split('/').collect();
    for (template, item) in document["paths"].as_object().unwrap() {
        let segments: Vec<&str> = template.split('/').collect();
        let matches = segments.len() == called.len()
            && segments
                .iter()
                .zip(&called)
                .all(|(t, c)| t == c || (t.starts_with('{') && t.ends_with('}')));
        if matches && let Some(operation) = item.get(method.to_lowercase()) {
            return operation;
        }
    }
    panic!("{method} {path} is not documented");
}

/// Follows a local `$ref`.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let target = document
                .pointer(reference.strip_prefix('#').unwrap())
                .unwrap_or_else(|| panic!("{reference} does not resolve"));
            resolve(document, target)
        }
        None => value,
    }
}

/// Calls the API and checks the answer against the description: the status is
/// documented for the operation, and a JSON body matches the status's schema.
/// Returns the status and the body.
fn checked(
    document: &Value,
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let (status, text) = call(port, method, path, token, body);
    let operation = operation(document, method, path);
    let response = operation["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("{method} {path} answered {status}, not documented: {text}"));
    let response = resolve(document, response);
    let content = &response["content"];
    let Some(json_content) = content.get("application/json") else {
        assert!(
            content.get("text/plain").is_some(),
            "{method} {path}: {status} has no JSON or text content documented"
        );
        return (status, Value::String(text));
    };
    let value: Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{method} {path} answered non-JSON ({error}): {text}"));
    let mut problems = Vec::new();
    validate(
        document,
        &json_content["schema"],
        &value,
        "$",
        &mut problems,
    );
    assert!(
        problems.is_empty(),
        "{method} {path} → {status} does not match its documented schema:\n  {}\nbody: {text}",
        problems.join("\n  ")
    );
    (status, value)
}

/// A JSON Schema validator for what the description uses: `$ref`, `type` (one or a
/// list), `enum`, `properties` / `required` / `additionalProperties: false`, `items`,
/// `allOf`, `oneOf`, `minimum`, `minLength`, `format: date-time`. Problems are
/// collected with the JSON path of the value.
fn validate(document: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(document, schema);
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for part in parts {
            validate(document, part, value, at, problems);
        }
    }
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = choices
            .iter()
            .filter(|choice| {
                let mut found = Vec::new();
                validate(document, choice, value, at, &mut found);
                found.is_empty()
            })
            .count();
        if matching != 1 {
            problems.push(format!("{at}: matches {matching} of oneOf, not exactly 1"));
        }
    }
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            other => panic!("unexpected type {other}"),
        };
        let fits = |name: &str| match name {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            other => panic!("unknown type {other}"),
        };
        if !allowed.iter().any(|name| fits(name)) {
            problems.push(format!("{at}: {value} is not of type {types}"));
            return;
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {values:?}"));
    }
    if let (Some(minimum), Some(number)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && number < minimum
    {
        problems.push(format!("{at}: {number} is below the minimum {minimum}"));
    }
    if let Some(text) = value.as_str() {
        if let Some(least) = schema.get("minLength").and_then(Value::as_u64)
            && (text.chars().count() as u64) < least
        {
            problems.push(format!("{at}: {text:?} is shorter than {least}"));
        }
        if schema.get("format").and_then(Value::as_str) == Some("date-time")
            && chrono::DateTime::parse_from_rfc3339(text).is_err()
        {
            problems.push(format!("{at}: {text:?} is not an RFC 3339 date-time"));
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                problems.push(format!("{at}: required {name:?} is missing"));
            }
        }
        for (name, field) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(field_schema) => validate(
                    document,
                    field_schema,
                    field,
                    &format!("{at}.{name}"),
                    problems,
                ),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    problems.push(format!("{at}: {name:?} is not allowed"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (n, item) in array.iter().enumerate() {
            validate(document, items, item, &format!("{at}[{n}]"), problems);
        }
    }
}

/// Documented operations as `(method, path with its parameters filled in)`.
fn protected_operations(document: &Value) -> (Vec<(String, String)>, Vec<String>) {
    let mut protected = Vec::new();
    let mut public = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation["security"] == json!([{}]) {
                public.push(format!("{} {path}", method.to_uppercase()));
                continue;
            }
            let filled = path.replace("{id}", "1");
            assert!(!filled.contains('{'), "a parameter of {path} to fill in");
            protected.push((method.to_uppercase(), filled));
        }
    }
    public.sort();
    (protected, public)
}

#[test]
fn the_description_is_public_enforces_auth_and_matches_real_answers() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let api_port = free_port();
    let config = config(dir, api_port);
    import_posts(dir, &config);
    let _daemon = start_api_daemon(&config, &dir.join("daemon.log"), api_port);

    let (status, text) = call(api_port, "GET", "/api/openapi.json", None, "");
    assert_eq!(status, 200, "the description needs no token: {text}");
    let document: Value = serde_json::from_str(&text).expect("the description is JSON");
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        document["openapi"]
    );
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["bearer"]["description"]})
    );
    assert_eq!(document["security"], json!([{"bearer": []}]));

    // Auth on every documented operation but the two public ones.
    let (protected, public) = protected_operations(&document);
    assert_eq!(public, ["GET /api/openapi.json", "GET /healthz"]);
    assert!(protected.len() >= 16, "{protected:?}");
    for (method, path) in &protected {
        for token in [None, Some("not-a-token")] {
            let (status, answer) = checked(&document, api_port, method, path, token, "{}");
            assert_eq!(status, 401, "{method} {path} with {token:?}: {answer}");
            assert!(answer["error"].is_string(), "{answer}");
        }
    }
    let (status, _) = checked(&document, api_port, "GET", "/healthz", None, "");
    assert_eq!(status, 200);

    // Real answers match the documented schemas.
    let get = |path: &str| checked(&document, api_port, "GET", path, VIEWER, "");
    let (status, results) = get("/api/search?q=acme&limit=3");
    assert_eq!(status, 200);
    assert!(results["total"].as_u64().unwrap() > 3, "{results}");
    assert!(results["next_cursor"].is_string(), "{results}");
    assert!(results["hits"][0]["highlight"].is_object(), "{results}");
    let post_id = results["hits"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = get("/api/search?q=*&sort=oldest&highlight=false&min_reach=1");
    assert_eq!(status, 200);
    let (status, timeline) = get("/api/timeline?interval=hour&brand=Acme");
    assert_eq!(status, 200);
    assert!(timeline["total"].as_u64().unwrap() > 0, "{timeline}");
    for path in [
        "/api/timeline",
        "/api/share_of_voice",
        "/api/share_of_voice?brands=Acme,Globex&sentiment=negative",
        "/api/top/sources?limit=5",
        "/api/top/authors",
        "/api/top/terms?from=2d&baseline_from=30d",
        "/api/incidents",
        "/api/incidents?status=open",
        "/api/silences?all=true",
        "/api/sources",
        "/metrics",
    ] {
        let (status, answer) = get(path);
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let (_, sources) = get("/api/sources");
    assert_eq!(sources["sources"][0]["name"], "feed", "{sources}");

    // Documented errors: 400 with the error body, from the handler and from the
    // parameters' parsing alike; 404.
    for path in [
        "/api/search?q=(acme",
        "/api/search?limit=-1",
        "/api/search?sentiment=angry",
        "/api/timeline?interval=week",
        "/api/search?to=",
        "/api/top/sources?limit=0",
        "/api/incidents?status=sleeping",
        "/api/silences?all=maybe",
    ] {
        let (status, answer) = get(path);
        assert_eq!(status, 400, "{path}: {answer}");
    }
    // Regression: a default range reaching before the earliest time chrono has
    // (`to - 30 days`, `baseline_to - 7 days`) panicked in the handler; now a 400.
    for path in [
        "/api/timeline?to=-262143-01-01",
        "/api/top/terms?from=-262143-01-01&to=-262143-01-02",
    ] {
        let (status, answer) = get(path);
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("too early"),
            "{path}: {answer}"
        );
    }
    let responder = |method: &str, path: &str, body: &str| {
        checked(&document, api_port, method, path, RESPONDER, body)
    };
    let (status, _) = responder("POST", "/api/incidents/x/ack", "");
    assert_eq!(status, 400, "a bad id is a JSON 400");
    let (status, _) = responder("POST", "/api/incidents/9999/ack", "{}");
    assert_eq!(status, 404);
    let (status, _) = checked(
        &document,
        api_port,
        "POST",
        "/api/silences",
        VIEWER,
        r#"{"brand": "Acme", "duration": "1h"}"#,
    );
    assert_eq!(status, 403, "a viewer may not silence");
    let (status, answer) = responder(
        "POST",
        "/api/silences",
        r#"{"brand": "Acme", "duration": "1000000w"}"#,
    );
    assert_eq!(status, 400, "past the year 9999: {answer}");

    // Writes.
    let (status, silence) = responder(
        "POST",
        "/api/silences",
        r#"{"brand": "Acme", "duration": "2h", "comment": "maintenance"}"#,
    );
    assert_eq!(status, 201, "{silence}");
    let (_, incidents) = get("/api/incidents");
    let incident = incidents[0]["id"]
        .as_i64()
        .expect("the rule opened an incident");
    assert!(incidents[0]["silenced_until"].is_string(), "{incidents}");
    let (status, snooze) = responder(
        "POST",
        &format!("/api/incidents/{incident}/snooze"),
        r#"{"duration": "30m", "until": null}"#,
    );
    assert_eq!(status, 201, "{snooze}");
    let path = format!("/api/silences/{}", silence["id"]);
    let (status, _) = responder("DELETE", &path, "");
    assert_eq!(status, 200);
    let (status, _) = responder("DELETE", &path, "");
    assert_eq!(status, 409, "already ended");
    let (status, correction) = responder(
        "POST",
        &format!("/api/posts/{post_id}/label"),
        r#"{"label": "negative"}"#,
    );
    assert_eq!(status, 200, "{correction}");
    let (status, _) = responder("POST", "/api/posts/nope/label", r#"{"label": "negative"}"#);
    assert_eq!(status, 404);
    let (status, _) = responder("POST", &format!("/api/incidents/{incident}/ack"), "null");
    assert_eq!(status, 200, "a null body is no body");
    let (status, resolved) = responder(
        "POST",
        &format!("/api/incidents/{incident}/resolve"),
        r#"{"note": "handled"}"#,
    );
    assert_eq!(status, 200, "{resolved}");
    let (status, _) = responder("POST", &format!("/api/incidents/{incident}/ack"), "{}");
    assert_eq!(status, 409, "already resolved");
}

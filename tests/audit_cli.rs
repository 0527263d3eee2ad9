//! End-to-end test of `vigil audit` checkpoints and proofs with the built binary and a
//! real SQLite file: the test plays the outside auditor, checking what the binary prints
//! with `vigil_core::merkle` and ed25519-dalek alone, then tampers with the file.

mod support;

use std::path::Path;

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;
use support::*;
use vigil_core::merkle::{self, Hash};
use vigil_core::{HashChain, sha256_hex};

fn audit(config: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--config", config.to_str().unwrap()]);
    run(&all)
}

fn audit_json(config: &Path, args: &[&str]) -> Value {
    let out = audit(config, args);
    assert!(
        out.status.success(),
        "vigil audit {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|error| {
        panic!(
            "vigil audit {args:?} printed no JSON ({error}): {}",
            stdout(&out)
        )
    })
}

fn hash32(value: &Value) -> Hash {
    hex::decode(value.as_str().expect("hex string"))
        .unwrap()
        .try_into()
        .unwrap()
}

fn import_posts(dir: &Path, config: &Path, name: &str, count: usize) {
    let jsonl: String = (0..count)
        .map(|i| {
            format!("{{\"id\": \"{name}-{i}\", \"published_at\": \"2024-05-01T12:00:00Z\", \"text\": \"acme post {name} {i}\"}}\n")
        })
        .collect();
    let file = dir.join(format!("{name}.jsonl"));
    std::fs::write(&file, jsonl).unwrap();
    let out = import(config, "imp", &file, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// What an auditor checks about a printed checkpoint: the message is the documented text
/// and the pinned public key signed it.
fn check_signed(checkpoint: &Value, pinned: &VerifyingKey) {
    let message = format!(
        "vigil-audit-checkpoint v1\n{}\n{}\n{}\n{}\n",
        checkpoint["tree_size"],
        checkpoint["root_hash"].as_str().unwrap(),
        checkpoint["signed_at"].as_str().unwrap(),
        checkpoint["key_id"].as_str().unwrap()
    );
    assert_eq!(checkpoint["signed_message"], message.as_str());
    assert_eq!(
        checkpoint["key_id"].as_str().unwrap(),
        &sha256_hex(pinned.as_bytes())[..16]
    );
    let signature: [u8; 64] = hex::decode(checkpoint["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    pinned
        .verify_strict(message.as_bytes(), &Signature::from_bytes(&signature))
        .expect("the pinned key signed the checkpoint");
}

#[test]
fn checkpoints_and_proofs_verify_outside_and_tampering_is_named() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let config = acme_config(dir, "acme", "");
    import_posts(dir, &config, "a", 5);

    // The auditor pins the public key first.
    let key_out = audit(&config, &["public-key"]);
    assert!(key_out.status.success(), "{}", stderr(&key_out));
    let public_hex = stdout(&key_out).trim().to_string();
    let pinned =
        VerifyingKey::from_bytes(&hex::decode(&public_hex).unwrap().try_into().unwrap()).unwrap();
    let key_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.join("data/audit-signing.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(key_mode & 0o777, 0o600);

    let none = audit(&config, &["checkpoint"]);
    assert_eq!(none.status.code(), Some(1), "no checkpoint yet");
    assert!(stderr(&none).contains("--new"), "{}", stderr(&none));

    let first = audit_json(&config, &["checkpoint", "--new"]);
    assert_eq!(first["public_key"], public_hex.as_str());
    check_signed(&first, &pinned);
    let first_size = first["tree_size"].as_u64().unwrap();
    assert!(first_size >= 2, "import writes audit entries: {first}");
    assert_eq!(
        audit_json(&config, &["checkpoint"]),
        first,
        "latest, unchanged"
    );

    // Entry 1 is in the signed tree: checked from the printed fields alone.
    let proof = audit_json(&config, &["prove", "1"]);
    let entry = &proof["entry"];
    let text = |field: &str| entry[field].as_str().unwrap().to_string();
    assert_eq!(
        HashChain::entry_hash(
            &text("prev_hash"),
            entry["seq"].as_i64().unwrap(),
            &text("at"),
            &text("kind"),
            &text("actor"),
            &text("payload")
        ),
        text("hash"),
        "the entry is printed exactly as hashed"
    );
    assert_eq!(proof["checkpoint"], first);
    assert_eq!(proof["tree_size"], first["tree_size"]);
    let leaf = merkle::leaf_hash(&hex::decode(text("hash")).unwrap());
    let path: Vec<Hash> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash32)
        .collect();
    let signed_root = hash32(&first["root_hash"]);
    assert!(merkle::verify_inclusion(
        &leaf,
        proof["leaf_index"].as_u64().unwrap(),
        first_size,
        &path,
        &signed_root
    ));
    assert!(
        !merkle::verify_inclusion(&leaf, 1, first_size, &path, &signed_root),
        "the proof is for leaf 0 only"
    );

    // A later checkpoint extends the first, provably.
    import_posts(dir, &config, "b", 3);
    let second = audit_json(&config, &["checkpoint", "--new"]);
    check_signed(&second, &pinned);
    let second_size = second["tree_size"].as_u64().unwrap();
    assert!(second_size > first_size + 1);
    let consistency = audit_json(
        &config,
        &["prove", "--consistency", &first_size.to_string()],
    );
    assert_eq!(consistency["new_size"].as_u64(), Some(second_size));
    assert_eq!(consistency["old_checkpoint"], first);
    assert_eq!(consistency["new_checkpoint"], second);
    let path: Vec<Hash> = consistency["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash32)
        .collect();
    assert!(merkle::verify_consistency(
        first_size,
        second_size,
        &signed_root,
        &hash32(&second["root_hash"]),
        &path
    ));
    let sized = audit_json(&config, &["prove", "2", "--size", &first_size.to_string()]);
    assert_eq!(sized["checkpoint"], first);
    let too_big = audit(&config, &["prove", "1", "--size", "100000"]);
    assert_eq!(too_big.status.code(), Some(2), "{}", stderr(&too_big));

    let ok = audit(&config, &["verify", "--public-key", &public_hex]);
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(
        stdout(&ok).contains("audit log intact") && stdout(&ok).contains("2 signed checkpoints"),
        "{}",
        stdout(&ok)
    );
    let bad_key = audit(&config, &["verify", "--public-key", "zz"]);
    assert_eq!(bad_key.status.code(), Some(2));

    // An attacker with file access alters entry 1.
    let db = rusqlite::Connection::open(dir.join("data/vigil.db")).unwrap();
    db.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete")
        .unwrap();
    let original: String = db
        .query_row("SELECT payload FROM audit_log WHERE seq = 1", [], |row| {
            row.get(0)
        })
        .unwrap();
    db.execute(
        "UPDATE audit_log SET payload = ?1 WHERE seq = 1",
        [format!("{original} ")],
    )
    .unwrap();
    let bad = audit(&config, &["verify", "--public-key", &public_hex]);
    assert_eq!(bad.status.code(), Some(1), "{}", stdout(&bad));
    assert!(
        stdout(&bad).contains("first bad entry 1: entry 1: hash mismatch (content altered)"),
        "{}",
        stdout(&bad)
    );

    // Put it back, then cut the tail the second checkpoint covers.
    db.execute(
        "UPDATE audit_log SET payload = ?1 WHERE seq = 1",
        [&original],
    )
    .unwrap();
    assert!(audit(&config, &["verify"]).status.success());
    db.execute(
        "DELETE FROM audit_log WHERE seq > ?1",
        [second_size as i64 - 1],
    )
    .unwrap();
    drop(db);
    let cut = audit(&config, &["verify", "--public-key", &public_hex]);
    assert_eq!(cut.status.code(), Some(1), "{}", stdout(&cut));
    let expected = format!(
        "log truncated: checkpoint of {} covers {second_size} entries, the log has {}",
        second["signed_at"].as_str().unwrap(),
        second_size - 1
    );
    assert!(stdout(&cut).contains(&expected), "{}", stdout(&cut));
}

/// `scripts/verify_audit_proof.py`, the verifier an auditor runs without Vigil, accepts
/// a real proof with the pinned key and refuses an altered entry or another key. Needs
/// python3 with the `cryptography` package; says so and returns when it is missing.
#[test]
fn the_python_verifier_checks_a_proof_without_vigil() {
    let has_python = std::process::Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !has_python {
        eprintln!("skipped: python3 with the `cryptography` package is not installed");
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let config = acme_config(dir, "acme", "");
    import_posts(dir, &config, "a", 3);
    let public_hex = stdout(&audit(&config, &["public-key"])).trim().to_string();
    audit_json(&config, &["checkpoint", "--new"]);
    let proof = audit_json(&config, &["prove", "1"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/verify_audit_proof.py");
    let check = |proof: &Value, key: &str| {
        let file = dir.join("proof.json");
        std::fs::write(&file, proof.to_string()).unwrap();
        std::process::Command::new("python3")
            .arg(&script)
            .arg(&file)
            .args(["--public-key", key])
            .output()
            .unwrap()
    };
    let good = check(&proof, &public_hex);
    assert!(good.status.success(), "{}", stderr(&good));
    assert!(
        stdout(&good).contains("entry 1 is in the signed log"),
        "{}",
        stdout(&good)
    );

    let mut altered = proof.clone();
    altered["entry"]["actor"] = Value::String("someone-else".into());
    let bad = check(&altered, &public_hex);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("do not hash"), "{}", stderr(&bad));

    let other_key = "11".repeat(32);
    let foreign = check(&proof, &other_key);
    assert_eq!(foreign.status.code(), Some(1));
    assert!(
        stderr(&foreign).contains("another key"),
        "{}",
        stderr(&foreign)
    );
}

/// Parses an export line and checks its `sha256` the way the README tells an auditor to:
/// drop the 77-byte `,"sha256":"<hex>"}` tail, close the brace, hash.
fn checked_record(line: &str) -> Value {
    let value: Value = serde_json::from_str(line).unwrap();
    let hashed = format!("{}}}", &line[..line.len() - 77]);
    assert_eq!(
        value["sha256"].as_str().unwrap(),
        sha256_hex(hashed.as_bytes()),
        "{line}"
    );
    value
}

#[test]
fn audit_export_streams_posts_incidents_notifications_and_acks_with_hashes() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let config = acme_config(dir, "acme", &recall_alerting());
    let config_arg = config.to_str().unwrap();
    let now = chrono::Utc::now();
    let file = dir.join("posts.jsonl");
    std::fs::write(
        &file,
        format!(
            "{{\"id\": \"1\", \"published_at\": \"{now}\", \"author\": \"@pat\", \"text\": \"acme kettle recall announced, \\\"quoted\\\", comma\"}}\n\
             {{\"id\": \"2\", \"published_at\": \"{now}\", \"text\": \"acme kettle is fine\"}}\n",
            now = now.to_rfc3339()
        ),
    )
    .unwrap();
    let imported = import(&config, "s", &file, &["--alerts"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    let ack = run(&[
        "incidents",
        "ack",
        "1",
        "--by",
        "dana",
        "--note",
        "on it",
        "--config",
        config_arg,
    ]);
    assert!(ack.status.success(), "{}", stderr(&ack));

    let out = audit(&config, &["export", "--by", "auditor"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let (summary_line, records) = lines.split_last().unwrap();
    let records: Vec<Value> = records.iter().map(|line| checked_record(line)).collect();
    let of = |kind: &str| -> Vec<&Value> { records.iter().filter(|r| r["type"] == kind).collect() };
    let posts = of("post");
    assert_eq!(posts.len(), 2, "{text}");
    assert!(
        posts
            .iter()
            .any(|p| p["text"].as_str().unwrap().contains("\"quoted\", comma"))
    );
    for post in &posts {
        assert_eq!(
            post["provenance"]["content_hash"].as_str().unwrap().len(),
            64
        );
        assert!(
            post["provenance"]["fetch_url"]
                .as_str()
                .unwrap()
                .starts_with("import:")
        );
    }
    let incidents = of("incident");
    assert_eq!(incidents.len(), 1, "{text}");
    assert_eq!(incidents[0]["acknowledged_by"], "dana");
    assert_eq!(incidents[0]["status"], "acknowledged");
    let notifications = of("notification");
    assert!(!notifications.is_empty(), "the first notification: {text}");
    assert_eq!(notifications[0]["incident_id"], 1);
    let audit_kinds: Vec<&str> = of("audit")
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "config_loaded",
        "ingest",
        "incident_created",
        "incident_acknowledged",
    ] {
        assert!(audit_kinds.contains(&kind), "{kind} in {audit_kinds:?}");
    }
    // The summary covers every byte before it, and the audit log holds the same digest.
    let summary: Value = serde_json::from_str(summary_line).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["counts"]["post"], 2);
    assert_eq!(summary["counts"]["incident"], 1);
    let body = &text[..text.len() - summary_line.len() - 1];
    assert_eq!(
        summary["lines_sha256"].as_str().unwrap(),
        sha256_hex(body.as_bytes())
    );
    let audit_only = stdout(&audit(&config, &["export", "--only", "audit"]));
    let export_entry: Value = audit_only
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|entry| entry["kind"] == "audit_export" && entry["actor"] == "auditor")
        .expect("the export is audited under --by");
    let payload: Value = serde_json::from_str(export_entry["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["lines_sha256"], summary["lines_sha256"]);
    assert_eq!(export_entry["seq"], summary["audit_export_seq"]);
    assert!(
        audit_only.lines().all(
            |line| line.contains("\"type\":\"audit\"") || line.contains("\"type\":\"summary\"")
        ),
        "--only audit: {audit_only}"
    );

    // A period before anything happened has only the summary; CSV rows hash their record.
    let empty = stdout(&audit(&config, &["export", "--to", "2020-01-01T00:00:00Z"]));
    assert_eq!(empty.lines().count(), 1, "{empty}");
    let csv_out = audit(
        &config,
        &["export", "--only", "posts,incidents", "--format", "csv"],
    );
    assert!(csv_out.status.success(), "{}", stderr(&csv_out));
    let mut reader = csv::Reader::from_reader(csv_out.stdout.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 4, "2 posts, 1 incident, the summary");
    for row in &rows[..3] {
        assert_eq!(&row[3], sha256_hex(row[4].as_bytes()));
    }
    assert_eq!(&rows[2][0], "incident");
    assert_eq!(&rows[3][0], "summary");

    let bad = audit(&config, &["export", "--only", "tweets"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let verify = audit(&config, &["verify"]);
    assert!(verify.status.success(), "{}", stdout(&verify));
}

#[test]
fn the_admin_api_streams_the_same_export_attributed_to_the_token() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let api_port = free_port();
    let config = acme_config(
        dir,
        "acme",
        &format!(
            "{}[[server.tokens]]\nname = \"auditor-kim\"\nrole = \"admin\"\ntoken_env = \"T_ADMIN\"\n",
            api_server(api_port)
        ),
    );
    import_posts(dir, &config, "api", 30);
    let _daemon = start_api_daemon(&config, &dir.join("daemon.log"), api_port);

    for (token, status) in [
        (None, 401),
        (Some("viewer-secret"), 403),
        (Some("responder-secret"), 403),
    ] {
        let (got, body) = http(api_port, "GET", "/api/audit/export", token);
        assert_eq!(got, status, "{token:?}: {body}");
    }
    let (status, body) = http(
        api_port,
        "GET",
        "/api/audit/export?only=posts,audit",
        Some("admin-secret"),
    );
    assert_eq!(status, 200, "{body}");
    let body = dechunk(&body);
    let lines: Vec<&str> = body.lines().collect();
    let records: Vec<Value> = lines[..lines.len() - 1]
        .iter()
        .map(|l| checked_record(l))
        .collect();
    assert_eq!(records.iter().filter(|r| r["type"] == "post").count(), 30);
    let summary: Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["counts"]["post"], 30);
    assert!(
        summary["counts"].get("incident").is_none(),
        "only posts and audit: {summary}"
    );

    let (status, body) = http(
        api_port,
        "GET",
        "/api/audit/export?only=tweets",
        Some("admin-secret"),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown kind \\\"tweets\\\""), "{body}");
    let (status, _) = http(
        api_port,
        "GET",
        "/api/audit/export?from=yesterday-ish",
        Some("admin-secret"),
    );
    assert_eq!(status, 400);

    let export = stdout(&audit(&config, &["export", "--only", "audit"]));
    let entry: Value = export
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|entry| entry["kind"] == "audit_export")
        .expect("the API export is audited");
    assert_eq!(
        entry["actor"], "auditor-kim",
        "attributed to the token's name"
    );
    let payload: Value = serde_json::from_str(entry["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["lines_sha256"], summary["lines_sha256"]);
}

/// The body of a `Transfer-Encoding: chunked` answer as the test client read it raw.
fn dechunk(raw: &str) -> String {
    let mut rest = raw;
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

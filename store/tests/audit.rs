mod common;

use std::path::Path;
use std::sync::Arc;

use common::at;
use rusqlite::{Connection, params};
use vigil_core::{HashChain, ManualClock};
use vigil_store::{AuditEntry, Store, StoreError};

/// A store with entries 1..=n (kind "test", payload {"n": i}).
fn store_with_entries(dir: &Path, n: i64) -> Store {
    let store = Store::open(dir).unwrap();
    for i in 1..=n {
        let entry = store
            .append_audit(
                "test",
                "tester",
                &serde_json::json!({"n": i, "note": "hello"}),
            )
            .unwrap();
        assert_eq!(entry.seq, i);
    }
    store
}

/// Opens the file directly, as an attacker with file access would, and removes the
/// append-only triggers.
fn tamper(store: &Store) -> Connection {
    let raw = Connection::open(store.path()).unwrap();
    raw.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
        .unwrap();
    raw
}

fn all_entries(store: &Store) -> Vec<AuditEntry> {
    let mut entries = Vec::new();
    store
        .audit_entries(None, None, |entry| {
            entries.push(entry.clone());
            Ok(())
        })
        .unwrap();
    entries
}

#[test]
fn fresh_chain_verifies_and_links_from_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let empty = Store::open(dir.path()).unwrap();
    let verification = empty.verify_audit().unwrap();
    assert_eq!(verification.entries, 0);
    assert!(verification.is_intact());
    assert_eq!(verification.head_hash, HashChain::GENESIS);
    drop(empty);

    let store = store_with_entries(dir.path(), 5);
    let verification = store.verify_audit().unwrap();
    assert_eq!(verification.entries, 5);
    assert_eq!(verification.first_bad, None);

    let entries = all_entries(&store);
    assert_eq!(entries[0].prev_hash, HashChain::GENESIS);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    assert_eq!(verification.head_hash, entries[4].hash);
    assert_eq!(store.audit_head().unwrap(), (5, entries[4].hash.clone()));
    // The payload is canonical JSON text.
    assert_eq!(entries[0].payload, r#"{"n":1,"note":"hello"}"#);
}

#[test]
fn exported_entry_verifies_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 1);
    let entry = &all_entries(&store)[0];
    let json: serde_json::Value = serde_json::to_value(entry).unwrap();
    let at_text = json["at"].as_str().unwrap();
    assert_eq!(at_text.len(), "2024-05-01T12:00:00.000000000Z".len());
    let recomputed = HashChain::entry_hash(
        json["prev_hash"].as_str().unwrap(),
        json["seq"].as_i64().unwrap(),
        at_text,
        json["kind"].as_str().unwrap(),
        json["actor"].as_str().unwrap(),
        json["payload"].as_str().unwrap(),
    );
    assert_eq!(recomputed, entry.hash);
}

#[test]
fn append_only_triggers_refuse_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 2);
    let raw = Connection::open(store.path()).unwrap();
    let update = raw.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 1", []);
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = raw.execute("DELETE FROM audit_log WHERE seq = 1", []);
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert!(store.verify_audit().unwrap().is_intact());
}

#[test]
fn flipped_byte_in_payload_names_that_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 5);
    let raw = tamper(&store);
    raw.execute(
        "UPDATE audit_log SET payload = replace(payload, 'hello', 'hellp') WHERE seq = 3",
        [],
    )
    .unwrap();
    let verification = store.verify_audit().unwrap();
    let bad = verification.first_bad.unwrap();
    assert_eq!(bad.seq, 3);
    assert_eq!(bad.reason, "entry 3: hash mismatch (content altered)");
    assert_eq!(verification.entries, 5);
}

#[test]
fn altered_actor_or_time_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 3);
    let raw = tamper(&store);
    raw.execute(
        "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2",
        [],
    )
    .unwrap();
    assert_eq!(store.verify_audit().unwrap().first_bad.unwrap().seq, 2);
    raw.execute("UPDATE audit_log SET actor = 'tester' WHERE seq = 2", [])
        .unwrap();
    assert!(
        store.verify_audit().unwrap().is_intact(),
        "restored content verifies again"
    );
    raw.execute(
        "UPDATE audit_log SET at = '2000-01-01T00:00:00.000000000Z' WHERE seq = 1",
        [],
    )
    .unwrap();
    assert_eq!(store.verify_audit().unwrap().first_bad.unwrap().seq, 1);
}

#[test]
fn deleted_middle_row_names_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 5);
    let raw = tamper(&store);
    raw.execute("DELETE FROM audit_log WHERE seq = 3", [])
        .unwrap();
    let bad = store.verify_audit().unwrap().first_bad.unwrap();
    assert_eq!(bad.seq, 3);
    assert_eq!(bad.reason, "gap: entry 3 missing");
}

#[test]
fn deleted_first_rows_name_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 5);
    let raw = tamper(&store);
    raw.execute("DELETE FROM audit_log WHERE seq <= 2", [])
        .unwrap();
    let bad = store.verify_audit().unwrap().first_bad.unwrap();
    assert_eq!(bad.seq, 1);
    assert_eq!(bad.reason, "gap: entries 1..2 missing");
}

#[test]
fn swapped_rows_are_detected_at_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 5);
    let raw = tamper(&store);
    // Swap everything but seq between entries 2 and 4 (a reordering).
    raw.execute_batch(
        "UPDATE audit_log SET seq = -2 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = -2;",
    )
    .unwrap();
    let bad = store.verify_audit().unwrap().first_bad.unwrap();
    assert_eq!(bad.seq, 2, "{}", bad.reason);
}

#[test]
fn rehashed_entry_breaks_the_next_link() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 5);
    let entries = all_entries(&store);
    let raw = tamper(&store);
    // Alter entry 3 and recompute its own hash so it is self-consistent.
    let forged_payload = r#"{"n":3,"note":"forged"}"#;
    let third = &entries[2];
    let at_text: String = raw
        .query_row("SELECT at FROM audit_log WHERE seq = 3", [], |row| {
            row.get(0)
        })
        .unwrap();
    let forged_hash = HashChain::entry_hash(
        &third.prev_hash,
        3,
        &at_text,
        &third.kind,
        &third.actor,
        forged_payload,
    );
    raw.execute(
        "UPDATE audit_log SET payload = ?1, hash = ?2 WHERE seq = 3",
        params![forged_payload, forged_hash],
    )
    .unwrap();
    let bad = store.verify_audit().unwrap().first_bad.unwrap();
    assert_eq!(bad.seq, 4);
    assert!(
        bad.reason
            .starts_with("entry 4: prev_hash does not match entry 3"),
        "{}",
        bad.reason
    );
}

#[test]
fn entries_stream_in_seq_order_within_a_half_open_range() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at(10, 0, 0));
    let store = Store::open_with_clock(dir.path(), Arc::new(clock.clone())).unwrap();
    for minute in 0..5 {
        clock.set(at(10, minute, 0));
        store
            .append_audit("tick", "clock", &serde_json::json!({ "minute": minute }))
            .unwrap();
    }
    let mut seen = Vec::new();
    let count = store
        .audit_entries(Some(at(10, 1, 0)), Some(at(10, 3, 0)), |entry| {
            seen.push((entry.seq, entry.at));
            Ok(())
        })
        .unwrap();
    assert_eq!(count, 2);
    assert_eq!(seen, vec![(2, at(10, 1, 0)), (3, at(10, 2, 0))]);

    let count = store
        .audit_entries(Some(at(10, 3, 0)), None, |_| Ok(()))
        .unwrap();
    assert_eq!(count, 2);

    // An error from the callback stops the stream and comes back.
    let mut calls = 0;
    let result = store.audit_entries(None, None, |_| {
        calls += 1;
        Err(StoreError::Conflict("stop".into()))
    });
    assert!(matches!(result, Err(StoreError::Conflict(_))));
    assert_eq!(calls, 1);
}

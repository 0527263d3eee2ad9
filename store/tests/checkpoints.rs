//! Signed audit checkpoints against an attacker with write access to the data dir: each
//! test edits the SQLite file (and the key file) directly, then checks that
//! `verify_audit_full` names what was done.

mod common;

use std::path::Path;
use std::time::Duration;

use common::at;
use ed25519_dalek::{Signer, SigningKey};
use rusqlite::{Connection, params};
use vigil_core::HashChain;
use vigil_core::merkle;
use vigil_store::{
    AuditPublicKey, AuditReport, Checkpoint, SIGNING_KEY_FILE, Store, checkpoint_message,
    format_time,
};

/// A store with entries 1..=n (kind "test", payload {"n": i}).
fn store_with_entries(dir: &Path, n: i64) -> Store {
    let store = Store::open(dir).unwrap();
    append(&store, n);
    store
}

fn append(store: &Store, n: i64) {
    for i in 1..=n {
        store
            .append_audit(
                "test",
                "tester",
                &serde_json::json!({"n": i, "note": "hello"}),
            )
            .unwrap();
    }
}

/// Opens the file directly, as an attacker with file access would, and removes the
/// append-only triggers.
fn tamper(store: &Store) -> Connection {
    let raw = Connection::open(store.path()).unwrap();
    raw.execute_batch(
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
         DROP TRIGGER audit_checkpoints_no_update; DROP TRIGGER audit_checkpoints_no_delete;",
    )
    .unwrap();
    raw
}

/// Recomputes every entry's `prev_hash` and `hash` from the stored contents, as an
/// attacker covering a rewrite would: afterwards the plain chain check passes.
fn relink(raw: &Connection) {
    let rows: Vec<(i64, String, String, String, String)> = {
        let mut statement = raw
            .prepare("SELECT seq, at, kind, actor, payload FROM audit_log ORDER BY seq")
            .unwrap();
        statement
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let mut prev = HashChain::GENESIS.to_string();
    for (seq, at, kind, actor, payload) in rows {
        let hash = HashChain::entry_hash(&prev, seq, &at, &kind, &actor, &payload);
        raw.execute(
            "UPDATE audit_log SET prev_hash = ?2, hash = ?3 WHERE seq = ?1",
            params![seq, prev, hash],
        )
        .unwrap();
        prev = hash;
    }
}

/// The Merkle leaves of the log as stored, for an attacker's own signature.
fn stored_root(raw: &Connection, tree_size: i64) -> String {
    let mut statement = raw
        .prepare("SELECT hash FROM audit_log WHERE seq <= ?1 ORDER BY seq")
        .unwrap();
    let leaves: Vec<merkle::Hash> = statement
        .query_map([tree_size], |row| row.get::<_, String>(0))
        .unwrap()
        .map(|hash| merkle::leaf_hash(&hex::decode(hash.unwrap()).unwrap()))
        .collect();
    hex::encode(merkle::root(&leaves))
}

fn key_file(dir: &Path) -> std::path::PathBuf {
    dir.join(SIGNING_KEY_FILE)
}

fn assert_names(report: &AuditReport, expected: &str) {
    assert!(
        report.problems.iter().any(|problem| problem == expected),
        "expected {expected:?} among {:#?}",
        report.problems
    );
    assert!(!report.is_intact());
}

fn assert_intact(report: &AuditReport) {
    assert!(report.is_intact(), "{:#?}", report.problems);
}

#[test]
fn several_checkpoints_verify_prove_inclusion_and_consistency() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 5);
    let public_key = store.audit_public_key().unwrap();
    let first = store.audit_checkpoint(at(10, 0, 0)).unwrap();
    assert_eq!(first.tree_size, 5);
    // The checkpoint is recorded after the root was computed: entry 6.
    let (head, _) = store.audit_head().unwrap();
    assert_eq!(head, 6);
    append(&store, 4);
    let second = store.audit_checkpoint(at(11, 0, 0)).unwrap();
    assert_eq!(second.tree_size, 10);
    append(&store, 7);
    let third = store.audit_checkpoint(at(12, 0, 0)).unwrap();
    assert_eq!(third.tree_size, 18);
    assert_eq!(
        store.audit_checkpoints().unwrap(),
        vec![first.clone(), second.clone(), third.clone()]
    );
    assert_eq!(store.latest_checkpoint().unwrap(), Some(third.clone()));

    // The signed message is the documented text, and an outside key verifies it.
    assert_eq!(
        third.signed_message(),
        format!(
            "vigil-audit-checkpoint v1\n18\n{}\n{}\n{}\n",
            third.root_hash,
            format_time(at(12, 0, 0)),
            public_key.key_id()
        )
    );
    let pinned = AuditPublicKey::from_hex(&public_key.to_hex()).unwrap();
    for checkpoint in [&first, &second, &third] {
        assert!(pinned.verifies_checkpoint(checkpoint));
    }

    let report = store.verify_audit_full(None).unwrap();
    assert_intact(&report);
    assert_eq!((report.entries, report.checkpoints), (19, 3));
    assert_eq!(report.trusted_key_id, Some(public_key.key_id()));
    assert_intact(&store.verify_audit_full(Some(&pinned)).unwrap());

    // Every entry is provably in every checkpoint that covers it.
    for checkpoint in [&first, &second, &third] {
        let root: merkle::Hash = hex::decode(&checkpoint.root_hash)
            .unwrap()
            .try_into()
            .unwrap();
        for seq in 1..=checkpoint.tree_size as i64 {
            let proof = store
                .audit_inclusion_proof(seq, Some(checkpoint.tree_size))
                .unwrap();
            assert_eq!(proof.checkpoint.as_ref(), Some(checkpoint));
            assert_eq!(proof.root_hash, checkpoint.root_hash);
            let leaf = merkle::leaf_hash(&hex::decode(&proof.entry.hash).unwrap());
            assert_eq!(hex::encode(leaf), proof.leaf_hash);
            let path: Vec<merkle::Hash> = proof
                .proof
                .iter()
                .map(|h| hex::decode(h).unwrap().try_into().unwrap())
                .collect();
            assert!(merkle::verify_inclusion(
                &leaf,
                (seq - 1) as u64,
                checkpoint.tree_size,
                &path,
                &root
            ));
        }
    }
    // By default, the latest checkpoint covering the entry.
    let default = store.audit_inclusion_proof(3, None).unwrap();
    assert_eq!(default.tree_size, 18);
    assert_eq!(default.leaf_index, 2);
    let uncovered = store.audit_inclusion_proof(19, None).unwrap();
    assert_eq!((uncovered.tree_size, uncovered.checkpoint), (19, None));
    assert!(store.audit_inclusion_proof(20, None).is_err());
    assert!(store.audit_inclusion_proof(10, Some(9)).is_err());

    // Each checkpoint is a prefix of the next.
    for (old, new) in [(&first, &second), (&second, &third), (&first, &third)] {
        let proof = store
            .audit_consistency_proof(old.tree_size, Some(new.tree_size))
            .unwrap();
        assert_eq!(proof.old_checkpoint.as_ref(), Some(old));
        assert_eq!(proof.new_checkpoint.as_ref(), Some(new));
        let path: Vec<merkle::Hash> = proof
            .proof
            .iter()
            .map(|h| hex::decode(h).unwrap().try_into().unwrap())
            .collect();
        let old_root: merkle::Hash = hex::decode(&old.root_hash).unwrap().try_into().unwrap();
        let new_root: merkle::Hash = hex::decode(&new.root_hash).unwrap().try_into().unwrap();
        assert!(merkle::verify_consistency(
            old.tree_size,
            new.tree_size,
            &old_root,
            &new_root,
            &path
        ));
    }
    assert_eq!(
        store.audit_consistency_proof(5, None).unwrap().new_size,
        18,
        "default: the latest checkpoint"
    );
    assert!(store.audit_consistency_proof(19, Some(18)).is_err());
    assert!(store.audit_consistency_proof(5, Some(20)).is_err());
}

#[test]
fn checkpoint_if_due_waits_for_time_and_growth() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let hour = Duration::from_secs(3600);
    assert_eq!(
        store.audit_checkpoint_if_due(at(9, 0, 0), hour).unwrap(),
        None,
        "an empty log needs no checkpoint"
    );
    assert!(
        !key_file(dir.path()).exists(),
        "no key is made for nothing to sign"
    );
    append(&store, 3);
    let first = store
        .audit_checkpoint_if_due(at(9, 0, 0), hour)
        .unwrap()
        .expect("the first checkpoint is due at once");
    assert_eq!(first.tree_size, 3);
    append(&store, 2);
    assert_eq!(
        store.audit_checkpoint_if_due(at(9, 59, 59), hour).unwrap(),
        None,
        "not an hour yet"
    );
    let second = store
        .audit_checkpoint_if_due(at(10, 0, 0), hour)
        .unwrap()
        .expect("an hour passed and the log grew");
    assert_eq!(second.tree_size, 6);
    // Only the second checkpoint's own record since: nothing new to sign.
    assert_eq!(
        store.audit_checkpoint_if_due(at(15, 0, 0), hour).unwrap(),
        None
    );
    assert_intact(&store.verify_audit_full(None).unwrap());
}

#[test]
fn flipped_byte_in_a_payload_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 5);
    store.audit_checkpoint(at(10, 0, 0)).unwrap();
    assert_intact(&store.verify_audit_full(None).unwrap());
    let raw = tamper(&store);
    raw.execute(
        "UPDATE audit_log SET payload = replace(payload, 'hello', 'hellp') WHERE seq = 3",
        [],
    )
    .unwrap();
    let report = store.verify_audit_full(None).unwrap();
    assert_names(&report, "entry 3: hash mismatch (content altered)");
    assert_eq!(report.first_bad.unwrap().seq, 3);
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
    // A checkpoint is never signed over a broken log.
    let refused = store.audit_checkpoint(at(11, 0, 0)).unwrap_err();
    assert!(refused.to_string().contains("entry 3"), "{refused}");
}

#[test]
fn deleted_row_is_named_as_a_gap_and_a_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 5);
    let checkpoint = store.audit_checkpoint(at(10, 0, 0)).unwrap();
    let raw = tamper(&store);
    raw.execute("DELETE FROM audit_log WHERE seq = 3", [])
        .unwrap();
    let report = store.verify_audit_full(None).unwrap();
    assert_names(&report, "gap: entry 3 missing");
    assert_names(
        &report,
        "checkpoint 1 (size 5): root does not match the entries (log rewritten after it was signed)",
    );
    // Even relinked so the chain reads clean, the checkpoint tells.
    raw.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 3", [])
        .unwrap();
    relink(&raw);
    assert!(store.verify_audit().unwrap().is_intact());
    let report = store.verify_audit_full(None).unwrap();
    assert_eq!(report.first_bad, None);
    assert_eq!(
        report.problems,
        vec![
            "checkpoint 1 (size 5): root does not match the entries (log rewritten after it was signed)"
                .to_string()
        ]
    );
    assert_eq!(report.latest_checkpoint, Some(checkpoint));
}

#[test]
fn swapped_rows_are_named_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 5);
    store.audit_checkpoint(at(10, 0, 0)).unwrap();
    let raw = tamper(&store);
    // Renumber 2 → 4 and 4 → 2 (through a free seq), contents untouched.
    raw.execute_batch(
        "UPDATE audit_log SET seq = 100 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = 100;",
    )
    .unwrap();
    let report = store.verify_audit_full(None).unwrap();
    assert_names(
        &report,
        "entry 2: holds the content of entry 4 (entries out of order)",
    );
    assert_names(
        &report,
        "entry 4: holds the content of entry 2 (entries out of order)",
    );
    assert_names(
        &report,
        "checkpoint 1 (size 5): root does not match the entries (log rewritten after it was signed)",
    );
}

#[test]
fn truncated_tail_is_named_with_the_checkpoint_that_covered_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 8);
    let first = store.audit_checkpoint(at(10, 0, 0)).unwrap();
    append(&store, 3);
    let second = store.audit_checkpoint(at(11, 0, 0)).unwrap();
    assert_eq!((first.tree_size, second.tree_size), (8, 12));
    let raw = tamper(&store);
    // Everything after entry 10 goes, including the second checkpoint's record.
    raw.execute("DELETE FROM audit_log WHERE seq > 10", [])
        .unwrap();
    assert!(
        store.verify_audit().unwrap().is_intact(),
        "the chain alone cannot see a cut tail"
    );
    let report = store.verify_audit_full(None).unwrap();
    assert_eq!(
        report.problems,
        vec![format!(
            "log truncated: checkpoint of {} covers 12 entries, the log has 10",
            format_time(second.signed_at)
        )]
    );
}

#[test]
fn tampered_or_deleted_checkpoint_rows_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 4);
    store.audit_checkpoint(at(10, 0, 0)).unwrap();
    append(&store, 2);
    let second = store.audit_checkpoint(at(11, 0, 0)).unwrap();
    let raw = tamper(&store);
    // One flipped signature bit.
    let mut signature = hex::decode(&second.signature).unwrap();
    signature[10] ^= 1;
    raw.execute(
        "UPDATE audit_checkpoints SET signature = ?1 WHERE tree_size = ?2",
        params![hex::encode(signature), second.tree_size as i64],
    )
    .unwrap();
    let report = store.verify_audit_full(None).unwrap();
    assert_names(&report, "checkpoint 2 (size 7): signature invalid");
    assert_names(
        &report,
        "checkpoint at size 7 differs from the one recorded in entry 8 (replaced)",
    );
    // The first checkpoint deleted.
    raw.execute("DELETE FROM audit_checkpoints WHERE tree_size = 4", [])
        .unwrap();
    let report = store.verify_audit_full(None).unwrap();
    assert_names(
        &report,
        "checkpoint at size 4 (recorded in entry 5) is missing from audit_checkpoints",
    );
}

/// The attacker rewrites entry 2, relinks the chain, deletes the checkpoints, and, lacking
/// nothing but the old private key's secrecy, lets a new key sign the forged history.
#[test]
fn fork_signed_with_a_new_key_is_named_against_the_original_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 6);
    // What the auditor took away: the public key and a checkpoint.
    let original_key =
        AuditPublicKey::from_hex(&store.audit_public_key().unwrap().to_hex()).unwrap();
    let held: Checkpoint = store.audit_checkpoint(at(10, 0, 0)).unwrap();
    assert_eq!(held.tree_size, 6);

    let raw = tamper(&store);
    raw.execute("DELETE FROM audit_log WHERE seq > 6", [])
        .unwrap();
    raw.execute("DELETE FROM audit_checkpoints", []).unwrap();
    raw.execute(
        "UPDATE audit_log SET payload = replace(payload, 'hello', 'HELLO') WHERE seq = 2",
        [],
    )
    .unwrap();
    relink(&raw);
    std::fs::remove_file(key_file(dir.path())).unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let forged = store.audit_checkpoint(at(10, 0, 1)).unwrap();
    append(&store, 3);
    let forged_later = store.audit_checkpoint(at(11, 0, 0)).unwrap();
    assert_eq!((forged.tree_size, forged_later.tree_size), (6, 10));
    let new_key = store.audit_public_key().unwrap();
    assert_ne!(new_key, original_key);

    // The chain and the data dir's own key see nothing: that is why auditors pin the key.
    assert!(store.verify_audit().unwrap().is_intact());
    assert_intact(&store.verify_audit_full(None).unwrap());

    let report = store.verify_audit_full(Some(&original_key)).unwrap();
    assert_names(
        &report,
        &format!(
            "the signing key in the data dir (key id {}) is not the trusted key (key id {})",
            new_key.key_id(),
            original_key.key_id()
        ),
    );
    for (index, size) in [(1, 6), (2, 10)] {
        assert_names(
            &report,
            &format!(
                "checkpoint {index} (size {size}): signed by key {}, not the trusted key {}",
                new_key.key_id(),
                original_key.key_id()
            ),
        );
        assert_names(
            &report,
            &format!("checkpoint {index} (size {size}): signature invalid"),
        );
    }
    assert_eq!(report.trusted_key_id, Some(original_key.key_id()));

    // The held checkpoint is not a prefix of what the log now proves.
    let to_hash = |text: &str| -> merkle::Hash { hex::decode(text).unwrap().try_into().unwrap() };
    let proof = store.audit_consistency_proof(6, None).unwrap();
    assert_eq!(proof.new_size, 10);
    let path: Vec<merkle::Hash> = proof.proof.iter().map(|h| to_hash(h)).collect();
    assert!(
        merkle::verify_consistency(
            6,
            10,
            &to_hash(&forged.root_hash),
            &to_hash(&forged_later.root_hash),
            &path
        ),
        "the forged history is consistent with itself"
    );
    assert!(!merkle::verify_consistency(
        6,
        10,
        &to_hash(&held.root_hash),
        &to_hash(&forged_later.root_hash),
        &path
    ));
    assert!(original_key.verifies_checkpoint(&held));
    assert!(!original_key.verifies_checkpoint(&forged_later));
}

/// The attacker also holds the private key (it is in the data dir): rewrites entry 2,
/// relinks, and signs a later checkpoint over the forged history, leaving the earlier
/// one. Signatures are all valid; the two tree heads contradict each other.
#[test]
fn forked_checkpoint_signed_with_the_stolen_key_is_named_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 6);
    let first = store.audit_checkpoint(at(10, 0, 0)).unwrap();
    append(&store, 3);
    let raw = tamper(&store);
    raw.execute(
        "UPDATE audit_log SET payload = replace(payload, 'hello', 'HELLO') WHERE seq = 2",
        [],
    )
    .unwrap();
    relink(&raw);
    assert!(store.verify_audit().unwrap().is_intact());
    // The store itself refuses to sign this history.
    let refused = store.audit_checkpoint(at(11, 0, 0)).unwrap_err();
    assert!(
        refused.to_string().contains("no longer extends"),
        "{refused}"
    );

    // So the attacker signs with the stolen seed.
    let seed: [u8; 32] = hex::decode(
        std::fs::read_to_string(key_file(dir.path()))
            .unwrap()
            .trim(),
    )
    .unwrap()
    .try_into()
    .unwrap();
    let key = SigningKey::from_bytes(&seed);
    let root = stored_root(&raw, 10);
    let signed_at = format_time(at(11, 0, 0));
    let message = checkpoint_message(10, &root, &signed_at, &first.key_id);
    let signature = hex::encode(key.sign(message.as_bytes()).to_bytes());
    raw.execute(
        "INSERT INTO audit_checkpoints (tree_size, root_hash, signed_at, key_id, signature)
         VALUES (10, ?1, ?2, ?3, ?4)",
        params![root, signed_at, first.key_id, signature],
    )
    .unwrap();

    let report = store.verify_audit_full(None).unwrap();
    assert_eq!(
        report.problems,
        vec![
            "checkpoint 1 (size 6): root does not match the entries (log rewritten after it was signed)"
                .to_string(),
            "checkpoint at size 6 is not a prefix of the one at size 10 (fork)".to_string(),
        ]
    );
}

#[test]
fn a_corrupt_key_file_is_an_error_and_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_entries(dir.path(), 3);
    store.audit_checkpoint(at(10, 0, 0)).unwrap();
    std::fs::write(key_file(dir.path()), "0123 not a key\n").unwrap();
    let error = store.audit_checkpoint(at(11, 0, 0)).unwrap_err();
    assert!(error.to_string().contains("corrupt"), "{error}");
    assert!(store.audit_public_key().is_err());
    assert_eq!(
        std::fs::read_to_string(key_file(dir.path())).unwrap(),
        "0123 not a key\n"
    );
    let report = store.verify_audit_full(None).unwrap();
    assert!(
        report.problems.iter().any(|p| p.contains("corrupt")),
        "{:#?}",
        report.problems
    );
}

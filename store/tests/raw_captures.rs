//! Raw captures (schema v8): stored with their posts in one transaction, read back
//! re-hashed, removed by erasure with the posts they carry and by the purge once no
//! post names them, and checked by `verify_raw_captures`.

mod common;

use std::path::Path;

use common::{at, post};
use rusqlite::Connection;
use vigil_core::{Post, RawCapture};
use vigil_store::{AuditEntry, ErasureTarget, HoldTarget, Store};

/// A page body that compresses like a real feed and carries `marker`.
fn page_bytes(marker: &str) -> Vec<u8> {
    let mut body = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>");
    for n in 0..40 {
        body.push_str(&format!(
            "<item><title>Acme item {n}</title><description>{marker} acme kettles {n}</description></item>"
        ));
    }
    body.push_str("</channel></rss>");
    body.into_bytes()
}

fn capture(source: &str, marker: &str) -> RawCapture {
    RawCapture::new(
        source,
        format!("https://{source}.example/feed.xml"),
        at(9, 0, 0),
        200,
        Some("application/rss+xml; charset=utf-8".into()),
        page_bytes(marker),
    )
}

/// `post` (see common) extracted from the page `capture`, by `author`.
fn post_on(
    capture: &RawCapture,
    external_id: &str,
    author: &str,
    published_at: chrono::DateTime<chrono::Utc>,
) -> Post {
    let mut post = post(&capture.source, external_id, &["acme"], published_at);
    post.author = Some(author.into());
    post.provenance.raw_sha256 = Some(capture.sha256.clone());
    post
}

fn sql(dir: &Path) -> Connection {
    Connection::open(dir.join(vigil_store::DB_FILE_NAME)).unwrap()
}

fn capture_count(dir: &Path) -> i64 {
    sql(dir)
        .query_row("SELECT count(*) FROM raw_captures", [], |row| row.get(0))
        .unwrap()
}

fn raw_of(store: &Store, post: &Post) -> Option<String> {
    store
        .get_post(&post.id)
        .unwrap()
        .unwrap()
        .post
        .provenance
        .raw_sha256
}

fn audit_entries(store: &Store, kind: &str) -> Vec<AuditEntry> {
    let mut entries = Vec::new();
    store
        .audit_entries(None, None, |entry| {
            if entry.kind == kind {
                entries.push(entry.clone());
            }
            Ok(())
        })
        .unwrap();
    entries
}

#[test]
fn a_capture_round_trips_with_its_hash_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let page = capture("news", "first page");
    let posts = [
        post_on(&page, "1", "@a", at(8, 0, 0)),
        post_on(&page, "2", "@b", at(8, 5, 0)),
    ];
    let report = store
        .ingest_with_raw(&posts, std::slice::from_ref(&page), None, "crawler")
        .unwrap();
    assert_eq!(report.stored.len(), 2);
    assert_eq!(report.raw_captures, std::slice::from_ref(&page.sha256));
    for post in &posts {
        assert_eq!(raw_of(&store, post).as_ref(), Some(&page.sha256));
    }
    let read = store.raw_capture(&page.sha256).unwrap().unwrap();
    assert_eq!(read, page, "bytes and metadata come back as fetched");
    assert_eq!(store.raw_capture(&"0".repeat(64)).unwrap(), None);

    // Stored compressed, with the uncompressed size.
    let (size, stored): (i64, i64) = sql(dir.path())
        .query_row(
            "SELECT size, length(data) FROM raw_captures WHERE sha256 = ?1",
            [&page.sha256],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(size as usize, page.bytes.len());
    assert!(stored * 3 < size, "compressed {stored} of {size} bytes");

    let verification = store.verify_raw_captures().unwrap();
    assert!(verification.is_intact(), "{:?}", verification.problems);
    assert_eq!(verification.captures, 1);
    assert_eq!(verification.bytes, page.bytes.len() as u64);
    assert_eq!(verification.stored_bytes, stored as u64);

    let ingests = audit_entries(&store, "ingest");
    assert_eq!(ingests.len(), 1);
    assert!(
        ingests[0]
            .payload
            .contains(&format!("\"raw_captures\":[\"{}\"]", page.sha256)),
        "{}",
        ingests[0].payload
    );
    assert!(store.verify_audit().unwrap().is_intact());
}

#[test]
fn a_failed_ingest_leaves_no_capture_and_no_post() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let page = capture("news", "rolled back");
    let posts = [post_on(&page, "1", "@a", at(8, 0, 0))];
    // The ingest's last write (its audit entry) fails after the posts and the capture
    // were written: the whole transaction must go, as after a kill -9 before COMMIT.
    sql(dir.path())
        .execute_batch(
            "CREATE TRIGGER fail_ingest BEFORE INSERT ON audit_log
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let error = store
        .ingest_with_raw(&posts, std::slice::from_ref(&page), None, "crawler")
        .unwrap_err();
    assert!(error.to_string().contains("injected failure"), "{error}");
    assert_eq!(capture_count(dir.path()), 0);
    assert_eq!(store.post_count().unwrap(), 0);
    assert_eq!(store.raw_capture(&page.sha256).unwrap(), None);

    // Retried once the fault is gone, both go in.
    sql(dir.path())
        .execute_batch("DROP TRIGGER fail_ingest")
        .unwrap();
    let report = store
        .ingest_with_raw(&posts, std::slice::from_ref(&page), None, "crawler")
        .unwrap();
    assert_eq!(report.raw_captures.len(), 1);
    assert_eq!(capture_count(dir.path()), 1);
}

#[test]
fn captures_of_duplicates_only_or_never_given_are_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let first = capture("news", "first fetch");
    let known = post_on(&first, "1", "@a", at(8, 0, 0));
    store
        .ingest_with_raw(
            std::slice::from_ref(&known),
            std::slice::from_ref(&first),
            None,
            "crawler",
        )
        .unwrap();

    // The same post fetched again on a changed page: a duplicate, so the new page is
    // not kept and the stored post still names the first.
    let refetch = capture("news", "second fetch");
    let again = post_on(&refetch, "1", "@a", at(8, 0, 0));
    let report = store
        .ingest_with_raw(&[again], std::slice::from_ref(&refetch), None, "crawler")
        .unwrap();
    assert_eq!((report.stored.len(), report.duplicates), (0, 1));
    assert!(report.raw_captures.is_empty());
    assert_eq!(store.raw_capture(&refetch.sha256).unwrap(), None);
    assert_eq!(raw_of(&store, &known).as_ref(), Some(&first.sha256));

    // One new post on the page is enough to keep it.
    let third = capture("news", "third fetch");
    let batch = [
        post_on(&third, "1", "@a", at(8, 0, 0)),
        post_on(&third, "2", "@b", at(8, 10, 0)),
    ];
    let report = store
        .ingest_with_raw(&batch, std::slice::from_ref(&third), None, "crawler")
        .unwrap();
    assert_eq!(report.raw_captures, std::slice::from_ref(&third.sha256));
    assert_eq!(raw_of(&store, &batch[1]).as_ref(), Some(&third.sha256));

    // A post naming a capture nobody gave is stored without the link, and plain
    // ingest never links.
    let absent = capture("news", "never sent");
    let orphan = post_on(&absent, "3", "@c", at(8, 20, 0));
    let report = store
        .ingest(std::slice::from_ref(&orphan), None, "crawler")
        .unwrap();
    assert_eq!(report.stored[0].post.provenance.raw_sha256, None);
    assert_eq!(raw_of(&store, &orphan), None);
    assert_eq!(capture_count(dir.path()), 2);
    assert!(store.verify_raw_captures().unwrap().is_intact());
}

#[test]
fn erasure_removes_the_capture_and_unlinks_the_rest_of_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let shared = capture("forum", "alice wrote this");
    let elsewhere = capture("news", "bob elsewhere");
    let alice = post_on(&shared, "1", "@alice", at(8, 0, 0));
    let bob = post_on(&shared, "2", "@bob", at(8, 5, 0));
    let bob_elsewhere = post_on(&elsewhere, "3", "@bob", at(8, 10, 0));
    store
        .ingest_with_raw(
            &[alice.clone(), bob.clone()],
            std::slice::from_ref(&shared),
            None,
            "crawler",
        )
        .unwrap();
    store
        .ingest_with_raw(
            std::slice::from_ref(&bob_elsewhere),
            std::slice::from_ref(&elsewhere),
            None,
            "crawler",
        )
        .unwrap();

    let report = store
        .erase_posts(
            &ErasureTarget::Author("@alice".into()),
            "GDPR request",
            "dpo",
        )
        .unwrap();
    assert_eq!(report.ids, std::slice::from_ref(&alice.id));
    assert_eq!(report.raw_captures, std::slice::from_ref(&shared.sha256));
    assert_eq!(report.raw_unlinked, 1);
    assert_eq!(store.raw_capture(&shared.sha256).unwrap(), None);
    assert_eq!(raw_of(&store, &bob), None, "bob's post stays, unlinked");
    assert_eq!(
        raw_of(&store, &bob_elsewhere).as_ref(),
        Some(&elsewhere.sha256)
    );
    assert!(store.raw_capture(&elsewhere.sha256).unwrap().is_some());
    assert!(store.verify_raw_captures().unwrap().is_intact());

    // The tombstone and the audit entry keep the hash, never the bytes.
    let tombstone_hash: Option<String> = sql(dir.path())
        .query_row(
            "SELECT raw_sha256 FROM tombstones WHERE id = ?1",
            [&alice.id],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tombstone_hash.as_ref(), Some(&shared.sha256));
    let erasures = audit_entries(&store, "erasure");
    assert_eq!(erasures.len(), 1);
    let payload: serde_json::Value = serde_json::from_str(&erasures[0].payload).unwrap();
    assert_eq!(payload["raw_captures"], serde_json::json!([shared.sha256]));
    assert_eq!(payload["raw_unlinked"], 1);
    assert!(!erasures[0].payload.contains("alice"));

    // The page fetched again still carries alice's post: it is skipped (tombstone) and
    // the page's bytes are not kept, while a new post on it is stored unlinked.
    let carol = post_on(&shared, "4", "@carol", at(8, 20, 0));
    let report = store
        .ingest_with_raw(
            &[alice.clone(), carol.clone()],
            std::slice::from_ref(&shared),
            None,
            "crawler",
        )
        .unwrap();
    assert_eq!((report.stored.len(), report.duplicates), (1, 1));
    assert!(report.raw_captures.is_empty());
    assert_eq!(raw_of(&store, &carol), None);
    assert_eq!(store.raw_capture(&shared.sha256).unwrap(), None);

    // The raw blob is gone from the file, not just unlinked.
    let remaining: Vec<String> = sql(dir.path())
        .prepare("SELECT sha256 FROM raw_captures")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(remaining, std::slice::from_ref(&elsewhere.sha256));
}

#[test]
fn purge_removes_captures_no_post_names_and_holds_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let old = at(1, 0, 0);
    let young = at(12, 0, 0);
    let cutoff = at(6, 0, 0);
    // `mixed` carries an old and a young post; `stale` only old ones; `held` an old
    // post of a brand under legal hold.
    let mixed = capture("news", "mixed page");
    let stale = capture("news", "stale page");
    let held = capture("news", "held page");
    let mixed_old = post_on(&mixed, "1", "@a", old);
    let mixed_young = post_on(&mixed, "2", "@b", young);
    let stale_old = post_on(&stale, "3", "@c", old);
    let mut held_old = post_on(&held, "4", "@d", old);
    held_old.brands = vec!["globex".into()];
    for (posts, page) in [
        (vec![mixed_old.clone(), mixed_young.clone()], &mixed),
        (vec![stale_old.clone()], &stale),
        (vec![held_old.clone()], &held),
    ] {
        store
            .ingest_with_raw(&posts, std::slice::from_ref(page), None, "crawler")
            .unwrap();
    }
    store
        .add_legal_hold(HoldTarget::Brand("globex".into()), "litigation", "legal")
        .unwrap();

    let report = store.purge_published_before(cutoff, "retention").unwrap();
    let mut purged = report.ids.clone();
    purged.sort();
    let mut expected = vec![mixed_old.id.clone(), stale_old.id.clone()];
    expected.sort();
    assert_eq!(purged, expected);
    assert_eq!(report.raw_captures, std::slice::from_ref(&stale.sha256));
    assert_eq!(report.raw_unlinked, 0);
    assert_eq!(store.raw_capture(&stale.sha256).unwrap(), None);
    assert!(
        store.raw_capture(&mixed.sha256).unwrap().is_some(),
        "its young post still names it"
    );
    assert!(
        store.raw_capture(&held.sha256).unwrap().is_some(),
        "the hold keeps the post and so its capture"
    );
    assert_eq!(raw_of(&store, &held_old).as_ref(), Some(&held.sha256));
    let purges = audit_entries(&store, "retention_purge");
    let payload: serde_json::Value = serde_json::from_str(&purges[0].payload).unwrap();
    assert_eq!(payload["raw_captures"], serde_json::json!([stale.sha256]));
    assert!(store.verify_raw_captures().unwrap().is_intact());

    // A page still listing a purged post is a new record: kept (unlike an erased one).
    let relisted = capture("news", "relisted page");
    let fresh = post_on(&relisted, "5", "@e", young);
    let report = store
        .ingest_with_raw(
            &[post_on(&relisted, "3", "@c", old), fresh.clone()],
            std::slice::from_ref(&relisted),
            None,
            "crawler",
        )
        .unwrap();
    assert_eq!((report.stored.len(), report.duplicates), (1, 1));
    assert_eq!(report.raw_captures, std::slice::from_ref(&relisted.sha256));

    // Once the young post ages out too, the mixed page goes.
    let report = store
        .purge_published_before(at(13, 0, 0), "retention")
        .unwrap();
    assert!(report.raw_captures.contains(&mixed.sha256));
    assert!(store.raw_capture(&held.sha256).unwrap().is_some());
}

#[test]
fn an_altered_or_missing_capture_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let good = capture("news", "left alone");
    let flipped = capture("news", "tampered with");
    let deleted = capture("news", "deleted behind our back");
    for (page, id) in [(&good, "1"), (&flipped, "2"), (&deleted, "3")] {
        store
            .ingest_with_raw(
                &[post_on(page, id, "@a", at(8, 0, 0))],
                std::slice::from_ref(page),
                None,
                "crawler",
            )
            .unwrap();
    }
    let conn = sql(dir.path());
    let mut blob: Vec<u8> = conn
        .query_row(
            "SELECT data FROM raw_captures WHERE sha256 = ?1",
            [&flipped.sha256],
            |row| row.get(0),
        )
        .unwrap();
    let middle = blob.len() / 2;
    blob[middle] ^= 0x01;
    conn.execute(
        "UPDATE raw_captures SET data = ?2 WHERE sha256 = ?1",
        rusqlite::params![flipped.sha256, blob],
    )
    .unwrap();
    conn.execute(
        "DELETE FROM raw_captures WHERE sha256 = ?1",
        [&deleted.sha256],
    )
    .unwrap();
    drop(conn);

    let error = store.raw_capture(&flipped.sha256).unwrap_err().to_string();
    assert!(error.contains(&flipped.sha256), "{error}");
    assert!(error.contains("altered or damaged"), "{error}");
    assert_eq!(store.raw_capture(&good.sha256).unwrap().unwrap(), good);

    let verification = store.verify_raw_captures().unwrap();
    assert!(!verification.is_intact());
    assert_eq!(verification.captures, 2);
    let named: Vec<&str> = verification
        .problems
        .iter()
        .map(|problem| problem.sha256.as_str())
        .collect();
    let mut expected = vec![flipped.sha256.as_str(), deleted.sha256.as_str()];
    expected.sort();
    let mut named_sorted = named.clone();
    named_sorted.sort();
    assert_eq!(named_sorted, expected, "{:?}", verification.problems);
    let missing = verification
        .problems
        .iter()
        .find(|problem| problem.sha256 == deleted.sha256)
        .unwrap();
    assert!(missing.reason.contains("missing"), "{missing}");
}

#[test]
fn privacy_redacts_the_posts_and_keeps_the_capture_as_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.set_privacy(true, false).unwrap();
    let page = capture("news", "mail me at someone@example.com");
    let mut post = post_on(&page, "1", "@a", at(8, 0, 0));
    post.text = "acme: mail me at someone@example.com".into();
    let report = store
        .ingest_with_raw(&[post], std::slice::from_ref(&page), None, "crawler")
        .unwrap();
    let stored = &report.stored[0].post;
    assert!(
        !stored.text.contains("someone@example.com"),
        "{}",
        stored.text
    );
    assert_eq!(stored.provenance.raw_sha256.as_ref(), Some(&page.sha256));
    assert_eq!(store.raw_capture(&page.sha256).unwrap(), Some(page));
}

#[test]
fn a_capture_whose_bytes_do_not_match_its_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut page = capture("news", "original");
    let post = post_on(&page, "1", "@a", at(8, 0, 0));
    page.bytes.push(b'!');
    let error = store
        .ingest_with_raw(&[post], std::slice::from_ref(&page), None, "crawler")
        .unwrap_err()
        .to_string();
    assert!(error.contains(&page.sha256), "{error}");
    assert_eq!(store.post_count().unwrap(), 0);
}

/// The figure for BENCHMARKS.md: bytes stored for the real feeds, API responses and
/// pages of `../shared/fixtures` when kept as raw captures (zstd level 3), per file and
/// in total, and what the database file grew by. Prints; asserts only the round trip.
/// `cargo test -p vigil-store --test raw_captures fixtures -- --nocapture`
#[test]
fn compression_of_the_shared_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures");
    if !root.is_dir() {
        println!("skipped: {} not found", root.display());
        return;
    }
    let mut files = Vec::new();
    for kind in std::fs::read_dir(&root).unwrap() {
        let kind = kind.unwrap().path();
        if kind.is_dir() {
            for file in std::fs::read_dir(&kind).unwrap() {
                files.push(file.unwrap().path());
            }
        }
    }
    files.sort();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let file_bytes = |store: &Store| -> i64 {
        drop(store.verify_raw_captures().unwrap());
        let conn = sql(dir.path());
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        conn.query_row(
            "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
            [],
            |row| row.get(0),
        )
        .unwrap()
    };
    let before = file_bytes(&store);
    println!(
        "{:<60} {:>10} {:>10} {:>7}",
        "fixture", "raw", "stored", "ratio"
    );
    let (mut raw_total, mut stored_total) = (0u64, 0u64);
    for (n, path) in files.iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        let page = RawCapture::new(
            "fixtures",
            format!("file:{name}"),
            at(8, 0, 0),
            200,
            None,
            bytes,
        );
        let post = post_on(&page, &n.to_string(), "@a", at(8, 0, 0));
        let report = store
            .ingest_with_raw(&[post], std::slice::from_ref(&page), None, "bench")
            .unwrap();
        if report.raw_captures.is_empty() {
            println!("{name:<60} (same bytes as an earlier file)");
            continue;
        }
        let stored: i64 = sql(dir.path())
            .query_row(
                "SELECT length(data) FROM raw_captures WHERE sha256 = ?1",
                [&page.sha256],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(store.raw_capture(&page.sha256).unwrap().unwrap(), page);
        raw_total += page.bytes.len() as u64;
        stored_total += stored as u64;
        println!(
            "{name:<60} {:>10} {:>10} {:>6.2}x",
            page.bytes.len(),
            stored,
            page.bytes.len() as f64 / stored.max(1) as f64
        );
    }
    let after = file_bytes(&store);
    println!(
        "{:<60} {raw_total:>10} {stored_total:>10} {:>6.2}x",
        format!("total ({} files)", files.len()),
        raw_total as f64 / stored_total.max(1) as f64
    );
    println!(
        "vigil.db grew by {} bytes for {raw_total} raw bytes (posts, indexes and pages included)",
        after - before
    );
    assert!(stored_total < raw_total);
}

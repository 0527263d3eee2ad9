//! Schema migrations, tracked in `PRAGMA user_version`.
//!
//! Each entry of [`MIGRATIONS`] moves the schema one version up; they run inside one
//! `BEGIN IMMEDIATE` transaction so two processes opening a fresh file at once cannot
//! both migrate it.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::{Result, StoreError};

const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9];

pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Version 1. Times are RFC 3339 UTC text with nine fractional digits (see `time.rs`).
pub(crate) const V1: &str = r#"
CREATE TABLE posts (
    -- Assigned by ingest as max(posts, tombstones) + 1: dense, and never reused even
    -- after erasure, so every derived structure can use it as a watermark.
    -- (AUTOINCREMENT would burn a value on every ignored duplicate.)
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    url TEXT,
    canonical_url TEXT,
    author TEXT,
    title TEXT,
    text TEXT NOT NULL,
    lang TEXT,
    published_at TEXT NOT NULL,
    brands TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    fetch_url TEXT NOT NULL,
    http_status INTEGER,
    content_hash TEXT NOT NULL,
    extraction TEXT NOT NULL,
    sentiment_label TEXT,
    sentiment_score REAL,
    sentiment_confidence REAL,
    sentiment_lang TEXT,
    sentiment_backend TEXT,
    sentiment_version TEXT,
    stored_at TEXT NOT NULL,
    UNIQUE (source, external_id)
);
CREATE UNIQUE INDEX posts_canonical_url ON posts (canonical_url)
    WHERE canonical_url IS NOT NULL;
CREATE INDEX posts_published_at ON posts (published_at);
CREATE INDEX posts_unclassified ON posts (seq) WHERE sentiment_label IS NULL;

-- One row per (post, brand), with published_at copied so window counts are answered
-- from the (brand, published_at) index alone.
CREATE TABLE post_brands (
    seq INTEGER NOT NULL REFERENCES posts (seq) ON DELETE CASCADE,
    brand TEXT NOT NULL,
    published_at TEXT NOT NULL,
    PRIMARY KEY (seq, brand)
) WITHOUT ROWID;
CREATE INDEX post_brands_window ON post_brands (brand, published_at);

CREATE TABLE checkpoints (
    source TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    high_water TEXT,
    last_attempt_at TEXT,
    last_success_at TEXT,
    last_error_at TEXT,
    last_error TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    items_last_run INTEGER NOT NULL DEFAULT 0,
    posts_stored INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
-- Append-only by construction: tampering needs a deliberate DROP TRIGGER, and the
-- hash chain catches it anyway.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT NOT NULL,
    brand TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    response_deadline TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT,
    resolved_at TEXT,
    resolved_by TEXT,
    note TEXT,
    overdue INTEGER NOT NULL DEFAULT 0,
    trigger_json TEXT NOT NULL,
    peak_value REAL NOT NULL,
    evidence_json TEXT NOT NULL
);
-- At most one unresolved incident per (rule, brand), whichever process opens it.
CREATE UNIQUE INDEX incidents_unresolved ON incidents (rule, brand)
    WHERE status != 'resolved';
CREATE INDEX incidents_rule_brand ON incidents (rule, brand, resolved_at);

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    in_reply_to TEXT,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    sent_at TEXT,
    smtp_reply TEXT,
    UNIQUE (incident_id, kind, seq)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE status = 'pending';

-- What erasure and retention leave behind: enough to prove a record existed and was
-- removed (and to keep the crawler from capturing it again), none of its content.
CREATE TABLE tombstones (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    erased_at TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE UNIQUE INDEX tombstones_id ON tombstones (id);
-- An erased post fetched again is skipped like a duplicate.
CREATE TRIGGER posts_not_erased BEFORE INSERT ON posts
WHEN EXISTS (SELECT 1 FROM tombstones WHERE id = NEW.id)
BEGIN SELECT RAISE(IGNORE); END;
"#;

/// Version 2: engagement and near-duplicate links on posts, crawler cursors. Posts
/// stored under version 1 get their fingerprints computed by [`backfill_simhash`] right
/// after this script (SQLite cannot compute them) and stay originals.
pub(crate) const V2: &str = r#"
-- JSON object ({"score", "likes", "reposts", "replies", "rating"}), NULL when the
-- source reports none.
ALTER TABLE posts ADD COLUMN engagement TEXT;
-- The id of the original this post copies (same content or near-duplicate text, see
-- dedup.rs); always an original itself, so links are one hop. NULL for originals.
ALTER TABLE posts ADD COLUMN duplicate_of TEXT;
-- vigil_core::simhash of the text as a signed 64-bit integer (the same 64 bits); NULL
-- when the text is too short to have one. Looked up in memory, not through an index.
ALTER TABLE posts ADD COLUMN simhash INTEGER;
-- Bumped whenever originals are removed or promoted other than by ingest (erasure,
-- retention), so every process rebuilds its in-memory near-duplicate map (dedup.rs).
CREATE TABLE dedup_epoch (id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL);
INSERT INTO dedup_epoch (id, epoch) VALUES (1, 0);
-- Copies of an original: Store::duplicates_of and erasure's promotion.
CREATE INDEX posts_duplicate_of ON posts (duplicate_of) WHERE duplicate_of IS NOT NULL;

-- 1 for an original, 0 for a copy: alert windows count originals only, from the index.
ALTER TABLE post_brands ADD COLUMN original INTEGER NOT NULL DEFAULT 1;
DROP INDEX post_brands_window;
CREATE INDEX post_brands_window ON post_brands (brand, original, published_at);

ALTER TABLE checkpoints ADD COLUMN cursor TEXT;
"#;

/// Version 3: ingest checks tombstones itself (`posts.rs`), so an erased post fetched
/// again is still skipped, without the trigger. The trigger made every post INSERT a
/// multi-write statement, which SQLite gives a statement journal: each insert first
/// copied every page it touched (the table leaf and the index leaves) into it, 7–8 % of
/// ingest's CPU time in a profile of 100,000 posts (BENCHMARKS.md, issue 4).
pub(crate) const V3: &str = r#"
DROP TRIGGER posts_not_erased;
"#;

/// Version 4: analysts' corrections and the queue of posts to re-index
/// (`corrections.rs`).
pub(crate) const V4: &str = r#"
CREATE TABLE corrections (
    id INTEGER PRIMARY KEY,
    post_id TEXT NOT NULL,
    label TEXT NOT NULL CHECK (label IN ('negative', 'neutral', 'positive')),
    by TEXT NOT NULL,
    via TEXT NOT NULL,
    at TEXT NOT NULL,
    -- The model's sentiment before the first correction, as JSON (NULL if none).
    model_json TEXT,
    -- The audit entry that records it (written in the same transaction).
    audit_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX corrections_post ON corrections (post_id, id);
CREATE TABLE index_refresh (seq INTEGER PRIMARY KEY, rev INTEGER NOT NULL);
"#;

/// Version 5: notifications can be `cancelled` (a reminder or escalation made moot by
/// an acknowledgement or resolution) or `failed` (refused permanently by the mail
/// server), and go out on a `channel` (`email`, or a webhook `webhook:<group>:<n>` with
/// its structured `payload_json`); the identity becomes (incident, kind, seq, channel).
/// SQLite cannot change a CHECK or UNIQUE constraint in place, so the table is rebuilt;
/// existing rows are email, and the AUTOINCREMENT counter is carried over. Adds the
/// `silences` table.
pub(crate) const V5: &str = r#"
CREATE TABLE notifications_v5 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    in_reply_to TEXT,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'cancelled', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    sent_at TEXT,
    smtp_reply TEXT,
    channel TEXT NOT NULL DEFAULT 'email',
    payload_json TEXT,
    UNIQUE (incident_id, kind, seq, channel)
);
INSERT INTO notifications_v5 (id, incident_id, kind, seq, message_id, in_reply_to,
    recipients, subject, body_text, body_html, status, attempts, created_at,
    next_attempt_at, last_error, sent_at, smtp_reply)
SELECT id, incident_id, kind, seq, message_id, in_reply_to, recipients, subject,
    body_text, body_html, status, attempts, created_at, next_attempt_at, last_error,
    sent_at, smtp_reply
FROM notifications;
UPDATE sqlite_sequence
SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'notifications'), 0))
WHERE name = 'notifications_v5';
DROP TABLE notifications;
ALTER TABLE notifications_v5 RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE status = 'pending';

-- Silences and snoozes (`silences.rs`): matching incidents send nothing meanwhile.
CREATE TABLE silences (
    id INTEGER PRIMARY KEY,
    brand TEXT,
    rule TEXT,
    incident_id INTEGER REFERENCES incidents (id),
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    by TEXT NOT NULL,
    reason TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX silences_ends ON silences (ends_at);
"#;

/// Version 6: signed checkpoints of the audit log (`checkpoint.rs`), one row per signed
/// tree head. Append-only like the log itself; deleting or replacing a row is also
/// caught by verification, since each checkpoint is recorded in the log it signs.
pub(crate) const V6: &str = r#"
CREATE TABLE audit_checkpoints (
    -- Entries covered: seq 1..=tree_size.
    tree_size INTEGER PRIMARY KEY,
    -- Merkle root (RFC 9162) over those entries' chain hashes, hex.
    root_hash TEXT NOT NULL,
    -- The exact signed text of the time (see time.rs).
    signed_at TEXT NOT NULL,
    key_id TEXT NOT NULL,
    -- ed25519 over the message in checkpoint.rs, hex.
    signature TEXT NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
"#;

/// Version 7: legal holds. While one is active (not released), retention does not purge
/// the posts it covers: a brand's posts, or the evidence posts of an incident.
pub(crate) const V7: &str = r#"
CREATE TABLE legal_holds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    brand TEXT,
    incident_id INTEGER REFERENCES incidents(id),
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    released_at TEXT,
    released_by TEXT,
    CHECK ((brand IS NULL) <> (incident_id IS NULL))
);
"#;

/// Version 8: raw captures (`raw.rs`). The bytes of a fetched page for sources with
/// `keep_raw`, zstd-compressed, named by their SHA-256 in each post extracted from it
/// and in its tombstone once the post is erased or purged (the hash only).
pub(crate) const V8: &str = r#"
CREATE TABLE raw_captures (
    -- Hex SHA-256 of the uncompressed bytes.
    sha256 TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    fetch_url TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    content_type TEXT,
    -- Bytes as fetched (after HTTP content decoding), before compression.
    size INTEGER NOT NULL,
    -- zstd, level 3.
    data BLOB NOT NULL
);
ALTER TABLE posts ADD COLUMN raw_sha256 TEXT;
-- Erasure unlinks a capture's other posts; the purge finds captures no post names.
CREATE INDEX posts_raw_sha256 ON posts (raw_sha256) WHERE raw_sha256 IS NOT NULL;
ALTER TABLE tombstones ADD COLUMN raw_sha256 TEXT;
"#;

/// Computes the fingerprint of every post stored before version 2. They are not linked
/// to one another: history (and the incidents it triggered) keeps counting as it did,
/// while new posts are matched against it.
fn backfill_simhash(conn: &Connection, path: &Path) -> Result<()> {
    let fingerprints: Vec<(i64, i64)> = {
        let mut select = conn.prepare("SELECT seq, text FROM posts WHERE simhash IS NULL")?;
        let rows = select.query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut fingerprints = Vec::new();
        for row in rows {
            let (seq, text) = row?;
            if let Some(hash) = vigil_core::simhash(&text) {
                fingerprints.push((seq, crate::dedup::to_sql(hash)));
            }
        }
        fingerprints
    };
    let mut update = conn.prepare("UPDATE posts SET simhash = ?2 WHERE seq = ?1")?;
    for (seq, hash) in &fingerprints {
        update.execute(rusqlite::params![seq, hash])?;
    }
    if !fingerprints.is_empty() {
        tracing::info!(
            path = %path.display(),
            posts = fingerprints.len(),
            "computed near-duplicate fingerprints of existing posts"
        );
    }
    Ok(())
}

/// v9: when a source's current run of failures began, recorded instead of estimated
/// from the interval (crawl back-off made the estimate late, and a `source_down`
/// incident could resolve while the source was still failing).
pub(crate) const V9: &str = r#"
ALTER TABLE checkpoints ADD COLUMN failing_since TEXT;
"#;

/// Pages the WAL may hold before a commit checkpoints it (SQLite's default: 1,000).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;

/// Sets the connection pragmas and brings the schema up to [`SCHEMA_VERSION`].
pub(crate) fn prepare(conn: &mut Connection, path: &Path) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // journal_mode answers with the mode now in force; a read-only or in-memory file
    // may refuse WAL, which we only log.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), %mode, "database did not switch to WAL");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Ingest inserts into several indexes keyed by hashes (id, canonical URL); with the
    // default 2 MB page cache a million-post import spends its time re-reading pages.
    conn.pragma_update(None, "cache_size", -64 * 1024)?;
    // Statement journals in memory. Statements that may abort half-way need one (before
    // version 3, every post INSERT did, through the tombstone trigger), and once one
    // statement's journal passes 64 KiB SQLite spills it to a temporary file for the
    // rest of the transaction, after which each such statement writes every page it
    // touches to that file. This store builds no big temporary tables that would need
    // the disk instead.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Deleted content is overwritten with zeros, not left in free pages: an erased post
    // or raw capture must not be recoverable from the file (GDPR/PIPL erasure). Only
    // erasure, retention and a few small bookkeeping rows ever delete.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // Checkpoint the WAL every 10,000 pages (40 MB) instead of SQLite's 1,000. An ingest
    // of 5,000 posts dirties most leaf pages of the hash-keyed indexes; checkpointing
    // ten times less often writes each such page back (and syncs the file) once where
    // it was several times, for a WAL file that stays at up to ~40 MB.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
    conn.set_prepared_statement_cache_capacity(64);

    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found < 0 {
        return Err(StoreError::Invalid(format!(
            "{} has user_version {found}: not a vigil database",
            path.display()
        )));
    }
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        tracing::info!(path = %path.display(), version, "migrating store schema");
        tx.execute_batch(migration)?;
        if version == 2 {
            backfill_simhash(&tx, path)?;
        }
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database's `user_version`, which must be the current one after opening.
    fn migrated_version(conn: &Connection) -> i64 {
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        version
    }
    use chrono::{TimeZone, Utc};
    use vigil_core::AlertStore;

    const OLD_TEXT: &str = "Acme has recalled 40,000 kettles after reports that the base \
         can overheat and melt; owners should stop using them and ask for a refund.";

    /// Writes a database as version 1 of vigil left it: the V1 script, two posts (one
    /// long enough for a fingerprint, one not) with their brand rows, a checkpoint.
    fn write_version_1_database(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let insert = "INSERT INTO posts (seq, id, source, external_id, url, canonical_url,
                 author, title, text, lang, published_at, brands, fetched_at, fetch_url,
                 http_status, content_hash, extraction, sentiment_label, sentiment_score,
                 sentiment_confidence, sentiment_lang, sentiment_backend, sentiment_version,
                 stored_at)
             VALUES (?1, ?2, 'news', ?2, NULL, NULL, '@old', NULL, ?3, 'en',
                 ?4, '[\"acme\"]', ?4, 'https://news.example/feed', 200, 'hash-' || ?2,
                 'rss:item', 'negative', -0.5, 0.8, 'en', 'lexicon', '1', ?4)";
        for (seq, id, text, minute) in [(1, "old-long", OLD_TEXT, 0), (2, "old-short", "meh", 5)] {
            let at = format!("2024-05-01T09:{minute:02}:00.000000000Z");
            conn.execute(insert, rusqlite::params![seq, id, text, at])
                .unwrap();
            conn.execute(
                "INSERT INTO post_brands (seq, brand, published_at) VALUES (?1, 'acme', ?2)",
                rusqlite::params![seq, at],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO checkpoints (source, etag, posts_stored) VALUES ('news', '\"v1\"', 2)",
            [],
        )
        .unwrap();
    }

    /// Writes a database as version 2 left it: the V1 and V2 scripts (so the tombstone
    /// trigger is there), one stored post and one erased (its tombstone at seq 2).
    fn write_version_2_database(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(V1).unwrap();
        conn.execute_batch(V2).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO posts (seq, id, source, external_id, text, published_at, brands,
                 fetched_at, fetch_url, content_hash, extraction, stored_at)
             VALUES (1, 'kept', 'news', 'kept', ?1, ?2, '[\"acme\"]', ?2, 'https://news.example/feed',
                 'hash-kept', 'rss:item', ?2)",
            rusqlite::params![OLD_TEXT, "2024-05-01T09:00:00.000000000Z"],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO tombstones (seq, id, source, content_hash, erased_at, reason)
             VALUES (2, ?1, 'news', 'hash-gone', '2024-05-02T00:00:00.000000000Z', 'request')",
            [vigil_core::post_id("news", "gone")],
        )
        .unwrap();
    }

    #[test]
    fn a_version_2_database_migrates_and_erased_posts_stay_erased() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::DB_FILE_NAME);
        write_version_2_database(&path);
        let trigger_count = |conn: &Connection| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'posts_not_erased'",
                [],
                |row| row.get(0),
            )
            .unwrap()
        };
        assert_eq!(trigger_count(&Connection::open(&path).unwrap()), 1);

        let store = crate::Store::open(dir.path()).unwrap();
        {
            let conn = store.conn();
            migrated_version(&conn);
            assert_eq!(trigger_count(&conn), 0, "version 3 drops the trigger");
            let autocheckpoint: i64 = conn
                .query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
                .unwrap();
            assert_eq!(autocheckpoint, WAL_AUTOCHECKPOINT_PAGES);
        }
        assert_eq!(store.get_post("kept").unwrap().unwrap().seq, 1);

        // The erased post fetched again is skipped by ingest itself, through either
        // entry point; a new post gets a seq above the tombstone's.
        let at = chrono::Utc.with_ymd_and_hms(2024, 5, 3, 9, 0, 0).unwrap();
        let fetched = |external_id: &str| vigil_core::Post {
            id: vigil_core::post_id("news", external_id),
            source: "news".into(),
            external_id: external_id.into(),
            url: None,
            canonical_url: None,
            author: None,
            title: None,
            text: format!("post {external_id}"),
            lang: Some("en".into()),
            published_at: at,
            brands: vec!["acme".into()],
            provenance: vigil_core::Provenance {
                fetched_at: at,
                fetch_url: "https://news.example/feed".into(),
                http_status: Some(200),
                content_hash: format!("hash-{external_id}"),
                extraction: "rss:item".into(),
                raw_sha256: None,
            },
            sentiment: None,
            engagement: Default::default(),
            duplicate_of: None,
        };
        let report = store
            .ingest(&[fetched("gone"), fetched("new")], None, "crawler")
            .unwrap();
        assert_eq!((report.stored.len(), report.duplicates), (1, 1));
        assert_eq!(report.stored[0].post.external_id, "new");
        assert_eq!(report.stored[0].seq, 3);
        let again = store
            .ingest_owned(vec![fetched("gone")], None, "crawler")
            .unwrap();
        assert_eq!((again.stored.len(), again.duplicates), (0, 1));
        let gone = vigil_core::post_id("news", "gone");
        assert_eq!(store.get_post(&gone).unwrap(), None);

        // Reopening does not migrate again.
        drop(store);
        let store = crate::Store::open(dir.path()).unwrap();
        assert_eq!(store.post_count().unwrap(), 2);
    }

    #[test]
    fn a_version_1_database_migrates_keeps_its_data_and_dedups_against_it() {
        let dir = tempfile::tempdir().unwrap();
        write_version_1_database(&dir.path().join(crate::DB_FILE_NAME));

        let store = crate::Store::open(dir.path()).unwrap();
        migrated_version(&store.conn());

        let old = store.get_post("old-long").unwrap().unwrap();
        assert_eq!(old.seq, 1);
        assert_eq!(old.post.text, OLD_TEXT);
        assert_eq!(old.post.author.as_deref(), Some("@old"));
        assert_eq!(old.post.brands, ["acme"]);
        assert_eq!(old.post.duplicate_of, None);
        assert!(old.post.engagement.is_empty());
        assert_eq!(old.post.sentiment.as_ref().map(|s| s.score), Some(-0.5));
        // Fingerprints were computed for the old posts long enough to have one.
        let fingerprints: Vec<Option<i64>> = {
            let conn = store.conn();
            let mut statement = conn
                .prepare("SELECT simhash FROM posts ORDER BY seq")
                .unwrap();
            statement
                .query_map([], |row| row.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        assert_eq!(
            fingerprints,
            [
                vigil_core::simhash(OLD_TEXT).map(crate::dedup::to_sql),
                None
            ]
        );
        let checkpoint = store.checkpoint("news").unwrap().unwrap();
        assert_eq!(checkpoint.etag.as_deref(), Some("\"v1\""));
        assert_eq!((checkpoint.posts_stored, checkpoint.cursor), (2, None));

        // Old posts count as originals in alert windows.
        let nine = Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap();
        let ten = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        assert_eq!(store.bucket_counts("acme", nine, ten, 3600).unwrap(), [2]);

        // A new copy of an old post links to it; seqs continue after the old ones.
        let mut copy = old.post.clone();
        copy.id = vigil_core::post_id("blog", "copy");
        copy.source = "blog".into();
        copy.external_id = "copy".into();
        copy.text = format!("{OLD_TEXT} via @newsdesk");
        copy.provenance.content_hash = "another".into();
        copy.sentiment = None;
        copy.published_at = nine + chrono::TimeDelta::minutes(30);
        let report = store.ingest(&[copy], None, "crawler").unwrap();
        assert_eq!(report.stored[0].seq, 3);
        assert_eq!(
            report.stored[0].post.duplicate_of.as_deref(),
            Some("old-long")
        );
        assert_eq!(store.duplicates_of("old-long").unwrap().len(), 1);
        assert_eq!(store.bucket_counts("acme", nine, ten, 3600).unwrap(), [2]);

        // Reopening does not migrate again.
        drop(store);
        let store = crate::Store::open(dir.path()).unwrap();
        assert_eq!(store.post_count().unwrap(), 3);
    }

    /// Writes a database as version 4 left it, with one incident and two notifications
    /// (sent, pending); the highest notification id ever used is 9 (since deleted).
    fn write_version_4_database(path: &Path) {
        let conn = Connection::open(path).unwrap();
        for script in [V1, V2, V3, V4] {
            conn.execute_batch(script).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        let at = "2026-11-01T09:00:00.000000000Z";
        conn.execute(
            "INSERT INTO incidents (id, rule, brand, severity, status, opened_at, updated_at,
                 response_deadline, trigger_json, peak_value, evidence_json)
             VALUES (1, 'spike', 'acme', 'crisis', 'open', ?1, ?1, ?1, '{}', 3.0, '[]')",
            [at],
        )
        .unwrap();
        for (id, kind, status) in [
            (1, "first", "sent"),
            (7, "reminder", "pending"),
            (9, "summary", "sent"),
        ] {
            conn.execute(
                "INSERT INTO notifications (id, incident_id, kind, seq, message_id, recipients,
                     subject, body_text, body_html, status, created_at, next_attempt_at)
                 VALUES (?1, 1, ?2, 1, ?3, '[\"pr@example.com\"]', 's', 't', 'h', ?4, ?5, ?5)",
                rusqlite::params![id, kind, format!("<{id}@vigil>"), status, at],
            )
            .unwrap();
        }
        conn.execute("DELETE FROM notifications WHERE id = 9", [])
            .unwrap();
    }

    #[test]
    fn a_version_4_database_migrates_its_notifications() {
        let dir = tempfile::tempdir().unwrap();
        write_version_4_database(&dir.path().join(crate::DB_FILE_NAME));
        let store = crate::Store::open(dir.path()).unwrap();
        let notifications = store.notifications_for_incident(1).unwrap();
        let seen: Vec<(i64, &str, &str)> = notifications
            .iter()
            .map(|n| (n.id, n.kind.as_str(), n.status.as_str()))
            .collect();
        assert_eq!(seen, vec![(1, "first", "sent"), (7, "reminder", "pending")]);
        {
            let conn = store.conn();
            migrated_version(&conn);
            // The new statuses are allowed, others still are not.
            conn.execute(
                "UPDATE notifications SET status = 'cancelled' WHERE id = 7",
                [],
            )
            .unwrap();
            assert!(
                conn.execute("UPDATE notifications SET status = 'lost' WHERE id = 7", [])
                    .is_err()
            );
            let due_index: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'notifications_due'",
                    [],
                    |row| row.get(0),
                )
                .unwrap();
            assert_eq!(due_index, 1);
        }
        // Ids continue after the highest one ever used.
        let enqueued = store
            .enqueue_notification(vigil_core::NewNotification {
                incident_id: 1,
                kind: vigil_core::NotificationKind::Reminder,
                seq: 2,
                channel: vigil_core::EMAIL_CHANNEL.into(),
                payload: None,
                message_id: "<8@vigil>".into(),
                in_reply_to: None,
                recipients: vec!["pr@example.com".into()],
                subject: "s".into(),
                body_text: "t".into(),
                body_html: "h".into(),
                created_at: Utc.with_ymd_and_hms(2026, 11, 1, 10, 0, 0).unwrap(),
            })
            .unwrap();
        assert!(enqueued);
        let ids: Vec<i64> = store
            .notifications_for_incident(1)
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect();
        assert_eq!(ids, vec![1, 7, 10]);
    }

    /// Writes a database as version 5 left it, with three audit entries chained the way
    /// every version wrote them.
    fn write_version_5_database(path: &Path) {
        let conn = Connection::open(path).unwrap();
        for script in [V1, V2, V3, V4, V5] {
            conn.execute_batch(script).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        let mut prev = vigil_core::HashChain::GENESIS.to_string();
        for seq in 1..=3i64 {
            let at = format!("2026-11-01T09:00:0{seq}.000000000Z");
            let payload = format!("{{\"n\":{seq}}}");
            let hash = vigil_core::HashChain::entry_hash(&prev, seq, &at, "old", "v5", &payload);
            conn.execute(
                "INSERT INTO audit_log (seq, at, kind, actor, payload, prev_hash, hash)
                 VALUES (?1, ?2, 'old', 'v5', ?3, ?4, ?5)",
                rusqlite::params![seq, at, payload, prev, hash],
            )
            .unwrap();
            prev = hash;
        }
    }

    #[test]
    fn a_version_5_database_gains_audit_checkpoints_over_its_old_entries() {
        let dir = tempfile::tempdir().unwrap();
        write_version_5_database(&dir.path().join(crate::DB_FILE_NAME));
        let store = crate::Store::open(dir.path()).unwrap();
        {
            let conn = store.conn();
            let version = migrated_version(&conn);
            assert!(version >= 6);
            // Version 7 came on top: the legal holds table exists and is empty.
            let holds: i64 = conn
                .query_row("SELECT count(*) FROM legal_holds", [], |row| row.get(0))
                .unwrap();
            assert_eq!(holds, 0);
        }
        assert_eq!(store.latest_checkpoint().unwrap(), None);
        let now = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
        let checkpoint = store.audit_checkpoint(now).unwrap();
        assert_eq!(checkpoint.tree_size, 3);
        assert_eq!(
            store.audit_head().unwrap().0,
            4,
            "the checkpoint is recorded as entry 4"
        );
        let report = store.verify_audit_full(None).unwrap();
        assert!(report.is_intact(), "{:?}", report.problems);
        assert_eq!((report.entries, report.checkpoints), (4, 1));
        // The new table is append-only like the log.
        let conn = store.conn();
        assert!(
            conn.execute("DELETE FROM audit_checkpoints", [])
                .unwrap_err()
                .to_string()
                .contains("append-only")
        );
        drop(conn);
        // Reopening does not migrate again.
        drop(store);
        let store = crate::Store::open(dir.path()).unwrap();
        assert_eq!(store.latest_checkpoint().unwrap(), Some(checkpoint));
    }

    /// Writes a database as version 7 left it: one stored post (with its brand row) and
    /// one erased, and a legal hold.
    fn write_version_7_database(path: &Path) {
        let conn = Connection::open(path).unwrap();
        for script in [V1, V2, V3, V4, V5, V6, V7] {
            conn.execute_batch(script).unwrap();
        }
        conn.pragma_update(None, "user_version", 7).unwrap();
        let at = "2026-11-01T09:00:00.000000000Z";
        conn.execute(
            "INSERT INTO posts (seq, id, source, external_id, author, text, published_at,
                 brands, fetched_at, fetch_url, http_status, content_hash, extraction,
                 stored_at)
             VALUES (1, 'kept', 'news', 'kept', '@old', ?1, ?2, '[\"acme\"]', ?2,
                 'https://news.example/feed', 200, 'hash-kept', 'rss:item', ?2)",
            rusqlite::params![OLD_TEXT, at],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO post_brands (seq, brand, published_at) VALUES (1, 'acme', ?1)",
            [at],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO tombstones (seq, id, source, content_hash, erased_at, reason)
             VALUES (2, 'gone', 'news', 'hash-gone', ?1, 'request')",
            [at],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO legal_holds (brand, reason, by, created_at)
             VALUES ('acme', 'litigation', 'legal', ?1)",
            [at],
        )
        .unwrap();
    }

    #[test]
    fn a_version_7_database_gains_raw_captures() {
        let dir = tempfile::tempdir().unwrap();
        write_version_7_database(&dir.path().join(crate::DB_FILE_NAME));
        let store = crate::Store::open(dir.path()).unwrap();
        {
            let conn = store.conn();
            let version = migrated_version(&conn);
            assert!(version >= 8);
            let (captures, tombstone_raw): (i64, Option<String>) = conn
                .query_row(
                    "SELECT (SELECT count(*) FROM raw_captures),
                         (SELECT raw_sha256 FROM tombstones WHERE id = 'gone')",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .unwrap();
            assert_eq!((captures, tombstone_raw), (0, None));
        }
        let old = store.get_post("kept").unwrap().unwrap();
        assert_eq!(old.post.provenance.raw_sha256, None);
        assert_eq!(old.post.provenance.content_hash, "hash-kept");
        assert_eq!(store.legal_holds(false).unwrap().len(), 1);

        // New posts store their captures; seqs continue after the tombstone's.
        let fetched_at = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        let capture = vigil_core::RawCapture::new(
            "news",
            "https://news.example/feed",
            fetched_at,
            200,
            Some("application/rss+xml".into()),
            b"<rss><channel><item>acme new</item></channel></rss>".to_vec(),
        );
        let mut new = old.post.clone();
        new.id = vigil_core::post_id("news", "new");
        new.external_id = "new".into();
        new.text = "acme new".into();
        new.provenance.content_hash = "hash-new".into();
        new.provenance.raw_sha256 = Some(capture.sha256.clone());
        let report = store
            .ingest_with_raw(&[new], std::slice::from_ref(&capture), None, "crawler")
            .unwrap();
        assert_eq!(report.stored[0].seq, 3);
        assert_eq!(report.raw_captures, std::slice::from_ref(&capture.sha256));
        assert_eq!(
            store.raw_capture(&capture.sha256).unwrap(),
            Some(capture.clone())
        );
        // The old post, with no capture, erases as before.
        let erased = store
            .erase_posts(
                &crate::ErasureTarget::Author("@old".into()),
                "request",
                "dpo",
            )
            .unwrap();
        assert!(erased.ids.contains(&"kept".to_string()));
        assert!(erased.raw_captures.contains(&capture.sha256));
        assert_eq!(store.raw_capture(&capture.sha256).unwrap(), None);

        // Reopening does not migrate again.
        drop(store);
        let store = crate::Store::open(dir.path()).unwrap();
        assert!(store.verify_raw_captures().unwrap().is_intact());
    }
}

//! Schema migrations, tracked in `PRAGMA user_version`.
//!
//! Each entry of [`MIGRATIONS`] moves the schema one version up; they run inside one
//! `BEGIN IMMEDIATE` transaction so two processes opening a fresh file at once cannot
//! both migrate it.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::{Result, StoreError};

const MIGRATIONS: &[&str] = &[V1, V2];

pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Version 1. Times are RFC 3339 UTC text with nine fractional digits (see `time.rs`).
const V1: &str = r#"
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

/// Version 2: engagement and near-duplicate links on posts, crawler cursors.
const V2: &str = r#"
-- JSON object ({"score", "likes", "reposts", "replies", "rating"}), NULL when the
-- source reports none.
ALTER TABLE posts ADD COLUMN engagement TEXT;
-- The id of the earlier post this one copies (same content or near-duplicate text).
ALTER TABLE posts ADD COLUMN duplicate_of TEXT;
ALTER TABLE checkpoints ADD COLUMN cursor TEXT;
"#;

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
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.commit()?;
    Ok(())
}

//! vigil-store: Vigil's system of record, one SQLite file (`vigil.db`) in the data dir.
//!
//! [`Store`] owns the connection and exposes everything the pipeline writes and reads:
//!
//! - posts: [`Store::ingest`] (or [`Store::ingest_owned`], which takes the batch by
//!   value and moves the stored posts into its report instead of copying them)
//!   deduplicates by `(source, external_id)` and by canonical URL, skips erased posts,
//!   assigns the monotonic `seq` every derived structure (classifier backlog,
//!   search index) catches up to, and saves the source's
//!   [`SourceCheckpoint`](vigil_core::SourceCheckpoint) in the same transaction, so a
//!   crash never leaves a checkpoint ahead of the posts it covers;
//! - near-duplicates: a post whose text copies an earlier one (same content, or a
//!   simhash within 3 bits within 7 days) is stored with `duplicate_of` naming the
//!   original, and alert windows count originals only ([`Store::duplicates_of`];
//!   the rules are in `dedup.rs`);
//! - the audit log: append-only, hash-chained with [`vigil_core::HashChain`]
//!   ([`Store::append_audit`], [`Store::verify_audit`], [`AuditEntry`]);
//! - incidents and the notification outbox: the [`vigil_core::AlertStore`]
//!   implementation plus the human actions [`Store::acknowledge_incident`] and
//!   [`Store::resolve_incident`];
//! - analysts' corrections ([`Store::correct_sentiment`]), re-scoring
//!   ([`Store::rescore`]) and the queue of posts the index must re-add
//!   ([`Store::pending_refresh`]); a model never overwrites an analyst's label;
//! - erasure and retention ([`Store::erase_posts`], [`Store::purge_published_before`]),
//!   which delete content and leave a tombstone;
//! - raw captures (schema v8, `raw.rs`): the bytes of each fetched page of a `keep_raw`
//!   source, zstd-compressed, stored by [`Store::ingest_with_raw`] in the posts'
//!   transaction, read back re-hashed ([`Store::raw_capture`],
//!   [`Store::verify_raw_captures`]), deleted by erasure with the posts they carry and by
//!   the purge once no post names them;
//! - privacy before storage ([`Store::set_privacy`]): e-mail addresses, phone numbers and
//!   ID-card numbers masked, authors replaced by keyed pseudonyms
//!   ([`Store::rotate_pseudonym_key`], [`Store::pseudonyms_of`]); see `privacy.rs`.
//!
//! Every public method is one transaction; writes take the lock up front
//! (`BEGIN IMMEDIATE`) so the daemon and a CLI process can share the file (WAL,
//! 5 s busy timeout) without forking the audit chain. Times are stored as fixed-width
//! RFC 3339 UTC text ([`format_time`]), so text order is time order.

mod alerting;
mod audit;
mod checkpoint;
mod checkpoints;
mod corrections;
mod dedup;
mod erasure;
mod error;
mod export;
mod health;
mod holds;
mod incidents;
mod outbox;
mod posts;
mod privacy;
mod raw;
mod recheck;
mod schema;
mod silences;
mod time;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;
use vigil_core::{Clock, SystemClock};

pub use audit::{AuditEntry, AuditProblem, AuditVerification};
pub use checkpoint::{
    AUDIT_CHECKPOINT_ACTOR, AUDIT_CHECKPOINT_KIND, AuditPublicKey, AuditReport,
    CHECKPOINT_MESSAGE_HEADER, Checkpoint, ConsistencyProof, InclusionProof, SIGNING_KEY_FILE,
    checkpoint_message,
};
pub use corrections::{
    ANALYST_BACKEND, CorrectedExample, Correction, PendingRefresh, analyst_sentiment,
};
pub use dedup::WINDOW_DAYS as NEAR_DUPLICATE_WINDOW_DAYS;
pub use erasure::{ErasureReport, ErasureTarget};
pub use error::{Result, StoreError};
pub use holds::{HoldTarget, LegalHold};
pub use posts::IngestReport;
pub use privacy::{PSEUDONYM_KEY_FILE, PseudonymKeyRotation};
pub use raw::{RawCaptureProblem, RawCaptureVerification};
pub use recheck::RecheckCandidate;
pub use time::format_time;

/// File name of the database inside the data dir.
pub const DB_FILE_NAME: &str = "vigil.db";

/// Audit actor for entries the alert engine causes (incidents it opens, overdue marks).
pub const ALERT_ENGINE_ACTOR: &str = "alert-engine";
/// Audit actor for delivery attempts recorded by the outbox.
pub const OUTBOX_ACTOR: &str = "outbox";

/// The system of record. Cheap to share behind an `Arc`; calls are serialised on one
/// connection, and other processes may open the same file concurrently.
pub struct Store {
    conn: Mutex<Connection>,
    /// Locked only while `conn` is held (ingest), so the two never deadlock.
    near_duplicates: Mutex<dedup::NearDuplicateIndex>,
    path: PathBuf,
    clock: Arc<dyn Clock>,
    /// What ingest does to posts before writing them ([`Store::set_privacy`]); taken
    /// before `conn`, never while holding it.
    privacy: Mutex<privacy::PrivacyState>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) `data_dir/vigil.db` and migrates its schema.
    pub fn open(data_dir: &Path) -> Result<Store> {
        Self::open_with_clock(data_dir, Arc::new(SystemClock))
    }

    /// Like [`Store::open`], with the clock that stamps audit entries and `stored_at`.
    pub fn open_with_clock(data_dir: &Path, clock: Arc<dyn Clock>) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE_NAME);
        let mut conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        schema::prepare(&mut conn, &path)?;
        tracing::debug!(path = %path.display(), "store opened");
        Ok(Store {
            conn: Mutex::new(conn),
            near_duplicates: Mutex::new(dedup::NearDuplicateIndex::default()),
            path,
            clock,
            privacy: Mutex::default(),
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection. A panic while it was held cannot leave a transaction half
    /// applied (an unfinished `Transaction` rolls back on drop), so poisoning is ignored.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The near-duplicate map; a panic while it was held may have left it half updated,
    /// so a poisoned lock yields it invalidated (reloaded at the next sync).
    fn near_duplicates(&self) -> MutexGuard<'_, dedup::NearDuplicateIndex> {
        self.near_duplicates.lock().unwrap_or_else(|poisoned| {
            let mut map = poisoned.into_inner();
            map.invalidate();
            map
        })
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Store>();
    }

    #[test]
    fn open_twice_and_reopen_keeps_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(&dir.path().join("nested/data")).unwrap();
        let second = Store::open(&dir.path().join("nested/data")).unwrap();
        assert_eq!(first.path(), second.path());
        assert!(first.path().ends_with("nested/data/vigil.db"));
        let version: i64 = second
            .conn()
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, schema::SCHEMA_VERSION);
        let mode: String = second
            .conn()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let raw = Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
        raw.pragma_update(None, "user_version", 99).unwrap();
        drop(raw);
        let error = Store::open(dir.path()).unwrap_err();
        assert!(
            matches!(error, StoreError::SchemaTooNew { found: 99, .. }),
            "{error}"
        );
    }
}

//! Per-source crawl state.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use vigil_core::SourceCheckpoint;

use crate::time::{opt_time, opt_time_col};
use crate::{Result, Store};

const CHECKPOINT_COLUMNS: &str = "source, etag, last_modified, high_water, last_attempt_at, \
     last_success_at, last_error_at, last_error, consecutive_failures, items_last_run, posts_stored, cursor, \
     failing_since";

fn checkpoint_from_row(row: &Row<'_>) -> rusqlite::Result<SourceCheckpoint> {
    let failures: i64 = row.get(8)?;
    let items: i64 = row.get(9)?;
    let stored: i64 = row.get(10)?;
    Ok(SourceCheckpoint {
        source: row.get(0)?,
        etag: row.get(1)?,
        last_modified: row.get(2)?,
        high_water: opt_time_col(row, 3)?,
        last_attempt_at: opt_time_col(row, 4)?,
        last_success_at: opt_time_col(row, 5)?,
        last_error_at: opt_time_col(row, 6)?,
        last_error: row.get(7)?,
        consecutive_failures: u32::try_from(failures.max(0)).unwrap_or(u32::MAX),
        items_last_run: items.max(0) as u64,
        posts_stored: stored.max(0) as u64,
        cursor: row.get(11)?,
        failing_since: opt_time_col(row, 12)?,
    })
}

/// Upserts `checkpoint`. `posts_stored` is an all-time count that only grows: with
/// `added` (from ingest) it becomes the stored count plus `added`; without, the larger
/// of stored and given, so a caller holding a stale copy cannot shrink it.
pub(crate) fn save_in(
    conn: &Connection,
    checkpoint: &SourceCheckpoint,
    added: Option<u64>,
) -> Result<()> {
    let posts_stored = i64::try_from(checkpoint.posts_stored).unwrap_or(i64::MAX);
    // One upsert; only how `posts_stored` merges differs. An ingest adds what it
    // stored; a plain save never lowers the count (a stale copy must not shrink it).
    macro_rules! upsert {
        ($posts_stored:literal) => {
            concat!(
                "INSERT INTO checkpoints (source, etag, last_modified, high_water, last_attempt_at,
                     last_success_at, last_error_at, last_error, consecutive_failures, items_last_run,
                     posts_stored, cursor, failing_since)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11 + ?12, ?13, ?14)
                 ON CONFLICT (source) DO UPDATE SET etag = excluded.etag,
                     last_modified = excluded.last_modified, high_water = excluded.high_water,
                     last_attempt_at = excluded.last_attempt_at,
                     last_success_at = excluded.last_success_at,
                     last_error_at = excluded.last_error_at, last_error = excluded.last_error,
                     consecutive_failures = excluded.consecutive_failures,
                     items_last_run = excluded.items_last_run,
                     cursor = excluded.cursor,
                     failing_since = excluded.failing_since,
                     posts_stored = ",
                $posts_stored
            )
        };
    }
    let sql = if added.is_some() {
        upsert!("checkpoints.posts_stored + ?12")
    } else {
        upsert!("max(checkpoints.posts_stored, excluded.posts_stored)")
    };
    conn.prepare_cached(sql)?.execute(params![
        checkpoint.source,
        checkpoint.etag,
        checkpoint.last_modified,
        opt_time(checkpoint.high_water),
        opt_time(checkpoint.last_attempt_at),
        opt_time(checkpoint.last_success_at),
        opt_time(checkpoint.last_error_at),
        checkpoint.last_error,
        i64::from(checkpoint.consecutive_failures),
        i64::try_from(checkpoint.items_last_run).unwrap_or(i64::MAX),
        posts_stored,
        i64::try_from(added.unwrap_or(0)).unwrap_or(i64::MAX),
        checkpoint.cursor,
        opt_time(checkpoint.failing_since),
    ])?;
    Ok(())
}

impl Store {
    pub fn checkpoint(&self, source: &str) -> Result<Option<SourceCheckpoint>> {
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE source = ?1");
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&sql)?;
        Ok(statement
            .query_row([source], checkpoint_from_row)
            .optional()?)
    }

    /// All checkpoints, by source name.
    pub fn checkpoints(&self) -> Result<Vec<SourceCheckpoint>> {
        let sql = format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY source");
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&sql)?;
        let rows = statement.query_map([], checkpoint_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Saves crawl state outside an ingest (a failed or empty run). `posts_stored`
    /// never decreases; see [`Store::ingest`] for how it grows.
    pub fn save_checkpoint(&self, checkpoint: &SourceCheckpoint) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        save_in(&tx, checkpoint, None)?;
        tx.commit()?;
        Ok(())
    }
}

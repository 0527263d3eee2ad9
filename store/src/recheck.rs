//! What `honour_deletions` re-checks: a source's stored posts, oldest seq first from a
//! cursor, within a publication window, a bounded number per pass.

use chrono::{DateTime, Utc};
use rusqlite::params;

use crate::time::format_time;
use crate::{Result, Store};

/// A stored post as the source knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecheckCandidate {
    pub seq: i64,
    pub id: String,
    pub external_id: String,
    pub url: Option<String>,
}

impl Store {
    /// Up to `limit` posts of `source` published at or after `published_after` with
    /// `seq > after_seq`, in seq order. A pass that gets fewer than `limit` has reached
    /// the end; the next starts again from 0.
    pub fn recheck_candidates(
        &self,
        source: &str,
        published_after: DateTime<Utc>,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<RecheckCandidate>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT seq, id, external_id, url FROM posts
             WHERE source = ?1 AND published_at >= ?2 AND seq > ?3
             ORDER BY seq LIMIT ?4",
        )?;
        let rows = statement.query_map(
            params![
                source,
                format_time(published_after),
                after_seq,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |row| {
                Ok(RecheckCandidate {
                    seq: row.get(0)?,
                    id: row.get(1)?,
                    external_id: row.get(2)?,
                    url: row.get(3)?,
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

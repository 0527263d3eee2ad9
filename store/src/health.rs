//! Reads for source health: how many posts of a brand a source brought in a window.

use chrono::{DateTime, Utc};
use rusqlite::params;

use crate::time::format_time;
use crate::{Result, Store};

impl Store {
    /// Posts from `source` mentioning `brand`, published in `[from, to)`. Copies of
    /// other posts count too: silence is about whether the source still delivers.
    pub fn count_source_brand(
        &self,
        source: &str,
        brand: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64> {
        let count: i64 = self
            .conn()
            .prepare_cached(
                "SELECT count(*) FROM post_brands pb JOIN posts p ON p.seq = pb.seq
                 WHERE pb.brand = ?1 AND pb.original IN (0, 1)
                   AND pb.published_at >= ?2 AND pb.published_at < ?3
                   AND p.source = ?4",
            )?
            .query_row(
                params![brand, format_time(from), format_time(to), source],
                |row| row.get(0),
            )?;
        Ok(count.max(0) as u64)
    }
}

//! Streams of the records an auditor asks for over a period (`vigil audit export`):
//! posts by the time they were fetched, incidents active in the period, notifications
//! by the time they were written to the outbox. Each stream is one statement in seq/id
//! order (one read snapshot, so a concurrent writer cannot tear it) and hands rows to a
//! callback one at a time: an export of millions of posts holds one post in memory.

use chrono::{DateTime, Utc};
use rusqlite::params;
use vigil_core::{Incident, Notification, StoredPost};

use crate::incidents::{INCIDENT_COLUMNS, incident_from_row};
use crate::outbox::{NOTIFICATION_COLUMNS, notification_from_row};
use crate::posts::{POST_COLUMNS, post_from_row};
use crate::time::format_time;
use crate::{Result, Store};

/// Runs `SELECT {columns} FROM {table} WHERE {condition} ORDER BY {order}` with the
/// period's bounds as `?1`/`?2`, handing each row to `each`; returns the count.
fn stream<T>(
    store: &Store,
    sql: &str,
    (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    mut each: impl FnMut(&T) -> Result<()>,
) -> Result<u64> {
    let conn = store.conn();
    let mut statement = conn.prepare(sql)?;
    let mut count = 0;
    for item in statement.query_map(params![from.map(format_time), to.map(format_time)], row)? {
        each(&item?)?;
        count += 1;
    }
    Ok(count)
}

impl Store {
    /// Posts with `from <= fetched_at < to` (either bound optional), in seq order;
    /// returns how many were passed to `each`. An error from `each` stops the stream.
    /// `each` runs while the store is locked: it must not call back into this `Store`.
    pub fn export_posts(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        each: impl FnMut(&StoredPost) -> Result<()>,
    ) -> Result<u64> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM posts
             WHERE (?1 IS NULL OR fetched_at >= ?1) AND (?2 IS NULL OR fetched_at < ?2)
             ORDER BY seq"
        );
        stream(self, &sql, (from, to), post_from_row, each)
    }

    /// Incidents active in the period: opened before `to` and last changed at or after
    /// `from` (so an incident opened earlier and acknowledged or resolved in the period
    /// is in it), in id order. Same contract as [`Store::export_posts`].
    pub fn export_incidents(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        each: impl FnMut(&Incident) -> Result<()>,
    ) -> Result<u64> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents
             WHERE (?1 IS NULL OR updated_at >= ?1) AND (?2 IS NULL OR opened_at < ?2)
             ORDER BY id"
        );
        stream(self, &sql, (from, to), incident_from_row, each)
    }

    /// Notifications with `from <= created_at < to`, in id order, with their delivery
    /// state (attempts, SMTP reply, sent time). Same contract as [`Store::export_posts`].
    pub fn export_notifications(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        each: impl FnMut(&Notification) -> Result<()>,
    ) -> Result<u64> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications
             WHERE (?1 IS NULL OR created_at >= ?1) AND (?2 IS NULL OR created_at < ?2)
             ORDER BY id"
        );
        stream(self, &sql, (from, to), notification_from_row, each)
    }
}

//! Silences and snoozes: while one lasts, the incidents it matches send nothing (the
//! alert engine skips them when planning notifications). Adding one and ending one early
//! are audited.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use vigil_core::{NewSilence, Silence};

use crate::time::{format_time, time_col};
use crate::{Result, Store, StoreError, audit};

const COLUMNS: &str = "id, brand, rule, incident_id, starts_at, ends_at, by, reason";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Silence> {
    Ok(Silence {
        id: row.get(0)?,
        brand: row.get(1)?,
        rule: row.get(2)?,
        incident_id: row.get(3)?,
        starts_at: time_col(row, 4)?,
        ends_at: time_col(row, 5)?,
        by: row.get(6)?,
        reason: row.get(7)?,
    })
}

impl Store {
    /// Records a silence (audited as `silence_added`, attributed to `by`). It must end
    /// after it starts; an `incident_id` must name an incident.
    pub fn add_silence(&self, silence: NewSilence) -> Result<Silence> {
        if silence.ends_at <= silence.starts_at {
            return Err(StoreError::Invalid(format!(
                "a silence must end after it starts ({} is not after {})",
                format_time(silence.ends_at),
                format_time(silence.starts_at)
            )));
        }
        // Stored times are RFC 3339 text, which has four-digit years: a silence ending
        // after 9999 would be written as `+10000-…` and never read back.
        if chrono::Datelike::year(&silence.ends_at) > 9999 {
            return Err(StoreError::Invalid(format!(
                "a silence must end before the year 10000 ({} is too far)",
                silence.ends_at.to_rfc3339()
            )));
        }
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(id) = silence.incident_id
            && crate::incidents::get(&tx, id)?.is_none()
        {
            return Err(StoreError::NotFound(format!("incident {id}")));
        }
        tx.prepare_cached(
            "INSERT INTO silences (brand, rule, incident_id, starts_at, ends_at, by, reason,
                 created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            silence.brand,
            silence.rule,
            silence.incident_id,
            format_time(silence.starts_at),
            format_time(silence.ends_at),
            silence.by,
            silence.reason,
            format_time(now),
        ])?;
        let id = tx.last_insert_rowid();
        let stored = tx
            .prepare_cached(&format!("SELECT {COLUMNS} FROM silences WHERE id = ?1"))?
            .query_row([id], from_row)?;
        audit::append_in(
            &tx,
            now,
            "silence_added",
            &silence.by,
            &serde_json::to_value(&stored)?,
        )?;
        tx.commit()?;
        tracing::info!(id, by = %stored.by, ends_at = %format_time(stored.ends_at), "silence added");
        Ok(stored)
    }

    /// Silences that have not ended by `now` (active or future), by end time.
    pub fn current_silences(&self, now: DateTime<Utc>) -> Result<Vec<Silence>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM silences WHERE ends_at > ?1 ORDER BY ends_at, id"
        ))?;
        let rows = statement.query_map([format_time(now)], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every silence, ended ones too, by end time.
    pub fn all_silences(&self) -> Result<Vec<Silence>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM silences ORDER BY ends_at, id"
        ))?;
        let rows = statement.query_map([], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Ends a silence early, at `at` (audited as `silence_expired`, attributed to `by`);
    /// one that has not started yet is cancelled (it starts and ends at `at`). The row
    /// is kept, so the history of who silenced what stays readable. `NotFound` for an
    /// unknown id, `Conflict` when it has already ended.
    pub fn expire_silence(&self, id: i64, by: &str, at: DateTime<Utc>) -> Result<Silence> {
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let select = format!("SELECT {COLUMNS} FROM silences WHERE id = ?1");
        let silence = tx
            .prepare_cached(&select)?
            .query_row([id], from_row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("silence {id}")))?;
        if silence.ends_at <= at {
            return Err(StoreError::Conflict(format!(
                "silence {id} already ended at {}",
                format_time(silence.ends_at)
            )));
        }
        let starts_at = silence.starts_at.min(at);
        tx.prepare_cached("UPDATE silences SET starts_at = ?2, ends_at = ?3 WHERE id = ?1")?
            .execute(params![id, format_time(starts_at), format_time(at)])?;
        let expired = tx.prepare_cached(&select)?.query_row([id], from_row)?;
        let payload = serde_json::json!({
            "silence": expired,
            "was_ending_at": format_time(silence.ends_at),
        });
        audit::append_in(&tx, now, "silence_expired", by, &payload)?;
        tx.commit()?;
        tracing::info!(id, by, "silence expired");
        Ok(expired)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use vigil_core::NewSilence;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, hour, 0, 0).unwrap()
    }

    fn brand_silence(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> NewSilence {
        NewSilence {
            brand: Some("acme".into()),
            rule: None,
            incident_id: None,
            starts_at,
            ends_at,
            by: "dana".into(),
            reason: None,
        }
    }

    fn audit_actors(store: &Store, kind: &str) -> Vec<String> {
        let mut actors = Vec::new();
        store
            .audit_entries(None, None, |entry| {
                if entry.kind == kind {
                    actors.push(entry.actor.clone());
                }
                Ok(())
            })
            .unwrap();
        actors
    }

    #[test]
    fn expiring_ends_a_silence_early_once_and_is_audited() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let running = store.add_silence(brand_silence(at(10), at(14))).unwrap();
        let future = store.add_silence(brand_silence(at(13), at(15))).unwrap();

        let expired = store.expire_silence(running.id, "lee", at(11)).unwrap();
        assert_eq!((expired.starts_at, expired.ends_at), (at(10), at(11)));
        let cancelled = store.expire_silence(future.id, "lee", at(11)).unwrap();
        assert_eq!((cancelled.starts_at, cancelled.ends_at), (at(11), at(11)));
        assert!(!cancelled.is_active(at(11)) && !cancelled.is_active(at(13)));

        assert!(store.current_silences(at(11)).unwrap().is_empty());
        let all: Vec<i64> = store.all_silences().unwrap().iter().map(|s| s.id).collect();
        assert_eq!(all, vec![running.id, future.id]);
        assert!(matches!(
            store.expire_silence(running.id, "lee", at(12)),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.expire_silence(999, "lee", at(12)),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(audit_actors(&store, "silence_expired"), vec!["lee", "lee"]);
    }
}

//! Silences and snoozes: while one lasts, the incidents it matches send nothing (the
//! alert engine skips them when planning notifications). Adding one is audited.

use chrono::{DateTime, Utc};
use rusqlite::{Row, TransactionBehavior, params};
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
}

//! Legal holds: while a hold is active, the retention purge keeps the posts it covers
//! — every post of a brand, or the evidence posts of an incident — however old they
//! are. Erasure requests are not affected (they are decided by a person, case by case).
//! Placing and releasing a hold are audited.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;

use crate::time::{format_time, opt_time_col, time_col};
use crate::{Result, Store, StoreError, audit};

/// What a hold covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldTarget {
    Brand(String),
    Incident(i64),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegalHold {
    pub id: i64,
    pub target: HoldTarget,
    pub reason: String,
    pub by: String,
    pub created_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
    pub released_by: Option<String>,
}

const COLUMNS: &str = "id, brand, incident_id, reason, by, created_at, released_at, released_by";

fn from_row(row: &Row<'_>) -> rusqlite::Result<LegalHold> {
    let brand: Option<String> = row.get(1)?;
    let incident: Option<i64> = row.get(2)?;
    Ok(LegalHold {
        id: row.get(0)?,
        target: match (brand, incident) {
            (Some(brand), _) => HoldTarget::Brand(brand),
            (None, Some(id)) => HoldTarget::Incident(id),
            (None, None) => HoldTarget::Brand(String::new()),
        },
        reason: row.get(3)?,
        by: row.get(4)?,
        created_at: time_col(row, 5)?,
        released_at: opt_time_col(row, 6)?,
        released_by: row.get(7)?,
    })
}

/// SQL true for a `posts` row covered by an active hold (used by the retention purge).
pub(crate) const HELD_POST: &str = "EXISTS (SELECT 1 FROM legal_holds h
     WHERE h.released_at IS NULL AND (
         h.brand IN (SELECT pb.brand FROM post_brands pb WHERE pb.seq = posts.seq)
         OR posts.id IN (SELECT json_extract(e.value, '$.id')
                         FROM incidents i, json_each(i.evidence_json) e
                         WHERE i.id = h.incident_id)))";

impl Store {
    /// Places a hold (audited as `legal_hold_placed`, attributed to `by`).
    pub fn add_legal_hold(&self, target: HoldTarget, reason: &str, by: &str) -> Result<LegalHold> {
        if reason.trim().is_empty() || by.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a legal hold needs a reason and who places it".into(),
            ));
        }
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (brand, incident) = match &target {
            HoldTarget::Brand(brand) if brand.trim().is_empty() => {
                return Err(StoreError::Invalid("the brand of a hold is empty".into()));
            }
            HoldTarget::Brand(brand) => (Some(brand.clone()), None),
            HoldTarget::Incident(id) => {
                if crate::incidents::get(&tx, *id)?.is_none() {
                    return Err(StoreError::NotFound(format!("incident {id}")));
                }
                (None, Some(*id))
            }
        };
        tx.prepare_cached(
            "INSERT INTO legal_holds (brand, incident_id, reason, by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![brand, incident, reason, by, format_time(now)])?;
        let id = tx.last_insert_rowid();
        let hold = get(&tx, id)?.ok_or_else(|| StoreError::NotFound(format!("legal hold {id}")))?;
        audit::append_in(
            &tx,
            now,
            "legal_hold_placed",
            by,
            &serde_json::to_value(&hold)?,
        )?;
        tx.commit()?;
        Ok(hold)
    }

    /// Releases an active hold (audited as `legal_hold_released`); retention then purges
    /// what it kept at its next pass.
    pub fn release_legal_hold(&self, id: i64, by: &str) -> Result<LegalHold> {
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let hold = get(&tx, id)?.ok_or_else(|| StoreError::NotFound(format!("legal hold {id}")))?;
        if hold.released_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "legal hold {id} is already released"
            )));
        }
        tx.execute(
            "UPDATE legal_holds SET released_at = ?2, released_by = ?3 WHERE id = ?1",
            params![id, format_time(now), by],
        )?;
        let hold = get(&tx, id)?.ok_or_else(|| StoreError::NotFound(format!("legal hold {id}")))?;
        audit::append_in(
            &tx,
            now,
            "legal_hold_released",
            by,
            &serde_json::to_value(&hold)?,
        )?;
        tx.commit()?;
        Ok(hold)
    }

    /// Holds, newest first; only active ones unless `all`.
    pub fn legal_holds(&self, all: bool) -> Result<Vec<LegalHold>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM legal_holds WHERE (?1 OR released_at IS NULL) ORDER BY id DESC"
        ))?;
        let rows = statement.query_map([all], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn get(conn: &rusqlite::Connection, id: i64) -> Result<Option<LegalHold>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM legal_holds WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

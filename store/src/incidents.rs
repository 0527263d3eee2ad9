//! Incidents: opened and updated by the alert engine, acknowledged and resolved by
//! people (CLI, HTTP API), every state change audited.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use vigil_core::{EvidencePost, Incident, IncidentStatus, NewIncident, NewNotification, Trigger};

use crate::time::{format_time, json_col, opt_time_col, parsed_col, time_col};
use crate::{ALERT_ENGINE_ACTOR, Result, Store, StoreError, audit, outbox};

pub(crate) const INCIDENT_COLUMNS: &str = "id, rule, brand, severity, status, opened_at, updated_at, \
     response_deadline, acknowledged_at, acknowledged_by, resolved_at, resolved_by, note, \
     overdue, trigger_json, peak_value, evidence_json";

pub(crate) fn incident_from_row(row: &Row<'_>) -> rusqlite::Result<Incident> {
    Ok(Incident {
        id: row.get(0)?,
        rule: row.get(1)?,
        brand: row.get(2)?,
        severity: parsed_col(row, 3)?,
        status: parsed_col(row, 4)?,
        opened_at: time_col(row, 5)?,
        updated_at: time_col(row, 6)?,
        response_deadline: time_col(row, 7)?,
        acknowledged_at: opt_time_col(row, 8)?,
        acknowledged_by: row.get(9)?,
        resolved_at: opt_time_col(row, 10)?,
        resolved_by: row.get(11)?,
        note: row.get(12)?,
        overdue: row.get(13)?,
        trigger: json_col(row, 14)?,
        peak_value: row.get(15)?,
        evidence: json_col(row, 16)?,
    })
}

pub(crate) fn get(conn: &Connection, id: i64) -> Result<Option<Incident>> {
    let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], incident_from_row)
        .optional()?)
}

fn get_existing(conn: &Connection, id: i64) -> Result<Incident> {
    get(conn, id)?.ok_or_else(|| StoreError::NotFound(format!("incident {id}")))
}

pub(crate) fn unresolved(conn: &Connection, rule: &str, brand: &str) -> Result<Option<Incident>> {
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents
         WHERE rule = ?1 AND brand = ?2 AND status != 'resolved'
         ORDER BY id DESC LIMIT 1"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([rule, brand], incident_from_row)
        .optional()?)
}

/// `max(resolved_at)` per `(rule, brand)`, from the `(rule, brand, resolved_at)` index.
pub(crate) fn last_resolutions(conn: &Connection) -> Result<vigil_core::LastResolutions> {
    let mut statement = conn.prepare_cached(
        "SELECT rule, brand, max(resolved_at) FROM incidents
         WHERE resolved_at IS NOT NULL GROUP BY rule, brand",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            time_col(row, 2)?,
        ))
    })?;
    let mut out = std::collections::HashMap::new();
    for row in rows {
        let (rule, brand, at) = row?;
        out.insert((rule, brand), at);
    }
    Ok(out)
}

pub(crate) fn last_resolved_at(
    conn: &Connection,
    rule: &str,
    brand: &str,
) -> Result<Option<DateTime<Utc>>> {
    let text: Option<String> = conn
        .prepare_cached(
            "SELECT max(resolved_at) FROM incidents
             WHERE rule = ?1 AND brand = ?2 AND resolved_at IS NOT NULL",
        )?
        .query_row([rule, brand], |row| row.get(0))?;
    text.map(|text| {
        crate::time::parse_time(&text)
            .map_err(|error| StoreError::Sqlite(crate::time::conversion_error(0, error)))
    })
    .transpose()
}

/// Newest first.
pub(crate) fn list(conn: &Connection, status: Option<IncidentStatus>) -> Result<Vec<Incident>> {
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE (?1 IS NULL OR status = ?1)
         ORDER BY opened_at DESC, id DESC"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map([status.map(IncidentStatus::as_str)], incident_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Open and acknowledged incidents (of one brand, when given), newest first; resolved
/// ones are not decoded.
pub(crate) fn unresolved_list(conn: &Connection, brand: Option<&str>) -> Result<Vec<Incident>> {
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents
         WHERE status != 'resolved' AND (?1 IS NULL OR brand = ?1)
         ORDER BY opened_at DESC, id DESC"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map([brand], incident_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Fails with `Conflict` when `(rule, brand)` already has an unresolved incident: the
/// partial unique index guarantees one, whichever process tries to open a second.
/// Opens an incident and, in the same transaction, enqueues the notifications `first`
/// plans for it (the first notification), so a crash leaves both or neither.
pub(crate) fn create(
    conn: &mut Connection,
    now: DateTime<Utc>,
    incident: NewIncident,
    first: &dyn Fn(&Incident) -> Vec<NewNotification>,
) -> Result<Incident> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some(existing) = unresolved(&tx, &incident.rule, &incident.brand)? {
        return Err(StoreError::Conflict(format!(
            "rule {:?} for brand {:?} already has unresolved incident {}",
            incident.rule, incident.brand, existing.id
        )));
    }
    let opened_at = format_time(incident.opened_at);
    tx.prepare_cached(
        "INSERT INTO incidents (rule, brand, severity, status, opened_at, updated_at,
             response_deadline, trigger_json, peak_value, evidence_json)
         VALUES (?1, ?2, ?3, 'open', ?4, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        incident.rule,
        incident.brand,
        incident.severity.as_str(),
        opened_at,
        format_time(incident.response_deadline),
        serde_json::to_string(&incident.trigger)?,
        incident.trigger.value,
        serde_json::to_string(&incident.evidence)?,
    ])?;
    let id = tx.last_insert_rowid();
    // The audit log cannot be erased, so it gets the numbers without the context (top
    // authors are handles, which an erasure request must be able to remove; the
    // incident row keeps them and erasure scrubs them there).
    let mut trigger = serde_json::to_value(&incident.trigger)?;
    if let Some(object) = trigger.as_object_mut() {
        object.remove("context");
    }
    let payload = serde_json::json!({
        "id": id,
        "rule": incident.rule,
        "brand": incident.brand,
        "severity": incident.severity,
        "opened_at": opened_at,
        "response_deadline": format_time(incident.response_deadline),
        "trigger": trigger,
        "evidence_ids": incident.evidence.iter().map(|post| post.id.as_str()).collect::<Vec<_>>(),
    });
    audit::append_in(&tx, now, "incident_created", ALERT_ENGINE_ACTOR, &payload)?;
    let created = get_existing(&tx, id)?;
    for notification in first(&created) {
        outbox::enqueue_in(&tx, now, notification)?;
    }
    tx.commit()?;
    tracing::info!(id, rule = %created.rule, brand = %created.brand, severity = %created.severity, "incident opened");
    Ok(created)
}

pub(crate) fn update_firing(
    conn: &mut Connection,
    id: i64,
    trigger: &Trigger,
    peak_value: f64,
    evidence: &[EvidencePost],
    at: DateTime<Utc>,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx
        .prepare_cached(
            "UPDATE incidents SET trigger_json = ?2, peak_value = ?3, evidence_json = ?4,
                 updated_at = ?5
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            serde_json::to_string(trigger)?,
            peak_value,
            serde_json::to_string(evidence)?,
            format_time(at),
        ])?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("incident {id}")));
    }
    tx.commit()?;
    Ok(())
}

/// Idempotent: only the first call on an unresolved incident changes it and is audited.
pub(crate) fn mark_overdue(
    conn: &mut Connection,
    now: DateTime<Utc>,
    id: i64,
    at: DateTime<Utc>,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let incident = get_existing(&tx, id)?;
    if incident.overdue || incident.status == IncidentStatus::Resolved {
        return Ok(());
    }
    tx.prepare_cached("UPDATE incidents SET overdue = 1, updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, format_time(at)])?;
    let payload = serde_json::json!({
        "id": id,
        "rule": incident.rule,
        "brand": incident.brand,
        "status": incident.status,
        "response_deadline": format_time(incident.response_deadline),
        "at": format_time(at),
    });
    audit::append_in(&tx, now, "incident_overdue", ALERT_ENGINE_ACTOR, &payload)?;
    tx.commit()?;
    tracing::warn!(id, rule = %incident.rule, brand = %incident.brand, "incident overdue");
    Ok(())
}

/// Keeps both people's words when an acknowledgement and a resolution each carry a note.
fn joined_note(existing: Option<&str>, added: Option<&str>) -> Option<String> {
    match (existing, added) {
        (Some(old), Some(new)) => Some(format!("{old}\n{new}")),
        (old, new) => new.or(old).map(str::to_string),
    }
}

impl Store {
    /// Records who owns the incident. Acknowledging twice keeps the first
    /// acknowledgement and returns the incident unchanged (not audited again);
    /// acknowledging a resolved incident is a `Conflict`.
    pub fn acknowledge_incident(
        &self,
        id: i64,
        by: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Incident> {
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let incident = get_existing(&tx, id)?;
        match incident.status {
            IncidentStatus::Resolved => {
                return Err(StoreError::Conflict(format!(
                    "incident {id} is already resolved (by {} at {})",
                    incident.resolved_by.as_deref().unwrap_or("unknown"),
                    incident.resolved_at.map(format_time).unwrap_or_default()
                )));
            }
            IncidentStatus::Acknowledged => return Ok(incident),
            IncidentStatus::Open => {}
        }
        let at_text = format_time(at);
        tx.prepare_cached(
            "UPDATE incidents SET status = 'acknowledged', acknowledged_at = ?2,
                 acknowledged_by = ?3, note = ?4, updated_at = ?2
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            at_text,
            by,
            joined_note(incident.note.as_deref(), note)
        ])?;
        let payload = serde_json::json!({
            "id": id,
            "rule": incident.rule,
            "brand": incident.brand,
            "by": by,
            "note": note,
            "at": at_text,
        });
        audit::append_in(&tx, now, "incident_acknowledged", by, &payload)?;
        crate::outbox::cancel_follow_ups_in(&tx, now, id, "acknowledged", by)?;
        let updated = get_existing(&tx, id)?;
        tx.commit()?;
        tracing::info!(id, by, "incident acknowledged");
        Ok(updated)
    }

    /// Closes the incident (from open or acknowledged). Resolving a resolved incident
    /// returns it unchanged.
    pub fn resolve_incident(
        &self,
        id: i64,
        by: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Incident> {
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let incident = get_existing(&tx, id)?;
        if incident.status == IncidentStatus::Resolved {
            return Ok(incident);
        }
        let at_text = format_time(at);
        tx.prepare_cached(
            "UPDATE incidents SET status = 'resolved', resolved_at = ?2, resolved_by = ?3,
                 note = ?4, updated_at = ?2
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            at_text,
            by,
            joined_note(incident.note.as_deref(), note)
        ])?;
        let payload = serde_json::json!({
            "id": id,
            "rule": incident.rule,
            "brand": incident.brand,
            "by": by,
            "note": note,
            "at": at_text,
            "was": incident.status,
        });
        audit::append_in(&tx, now, "incident_resolved", by, &payload)?;
        crate::outbox::cancel_follow_ups_in(&tx, now, id, "resolved", by)?;
        let updated = get_existing(&tx, id)?;
        tx.commit()?;
        tracing::info!(id, by, "incident resolved");
        Ok(updated)
    }

    /// Re-opens an acknowledged incident whose acknowledgement ran out (`ack_timeout`);
    /// `None` if it is not acknowledged (any more).
    pub fn expire_acknowledgement(&self, id: i64, at: DateTime<Utc>) -> Result<Option<Incident>> {
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let incident = get_existing(&tx, id)?;
        if incident.status != IncidentStatus::Acknowledged {
            return Ok(None);
        }
        let at_text = format_time(at);
        let note = format!(
            "acknowledgement by {} expired at {at_text}",
            incident.acknowledged_by.as_deref().unwrap_or("unknown")
        );
        tx.prepare_cached(
            "UPDATE incidents SET status = 'open', updated_at = ?2, note = ?3 WHERE id = ?1",
        )?
        .execute(params![
            id,
            at_text,
            joined_note(incident.note.as_deref(), Some(&note))
        ])?;
        let payload = serde_json::json!({
            "id": id,
            "rule": incident.rule,
            "brand": incident.brand,
            "acknowledged_by": incident.acknowledged_by,
            "acknowledged_at": incident.acknowledged_at.map(format_time),
            "at": at_text,
        });
        audit::append_in(&tx, now, "incident_ack_expired", "vigil", &payload)?;
        let updated = get_existing(&tx, id)?;
        tx.commit()?;
        tracing::warn!(id, "acknowledgement expired; incident open again");
        Ok(Some(updated))
    }

    pub fn incident(&self, id: i64) -> Result<Option<Incident>> {
        get(&self.conn(), id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_joined_not_lost() {
        assert_eq!(joined_note(None, None), None);
        assert_eq!(joined_note(Some("a"), None).as_deref(), Some("a"));
        assert_eq!(joined_note(None, Some("b")).as_deref(), Some("b"));
        assert_eq!(joined_note(Some("a"), Some("b")).as_deref(), Some("a\nb"));
    }
}

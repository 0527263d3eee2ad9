//! The durable notification outbox: a notification is written here before any attempt
//! to send it, and every attempt is audited with the mail server's reply or error.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use vigil_core::{NewNotification, Notification, NotificationStatus};

use crate::posts::clamp_limit;
use crate::time::{format_time, json_col, opt_time_col, parsed_col, time_col};
use crate::{OUTBOX_ACTOR, Result, StoreError, audit};

pub(crate) const NOTIFICATION_COLUMNS: &str = "id, incident_id, kind, seq, message_id, in_reply_to, \
     recipients, subject, body_text, body_html, status, attempts, created_at, next_attempt_at, \
     last_error, sent_at, smtp_reply, channel, payload_json";

pub(crate) fn notification_from_row(row: &Row<'_>) -> rusqlite::Result<Notification> {
    let status: NotificationStatus = parsed_col(row, 10)?;
    Ok(Notification {
        id: row.get(0)?,
        incident_id: row.get(1)?,
        kind: parsed_col(row, 2)?,
        seq: row.get(3)?,
        message_id: row.get(4)?,
        in_reply_to: row.get(5)?,
        recipients: json_col(row, 6)?,
        subject: row.get(7)?,
        body_text: row.get(8)?,
        body_html: row.get(9)?,
        status,
        attempts: row.get(11)?,
        created_at: time_col(row, 12)?,
        next_attempt_at: time_col(row, 13)?,
        last_error: row.get(14)?,
        sent_at: opt_time_col(row, 15)?,
        smtp_reply: row.get(16)?,
        channel: row.get(17)?,
        payload: row
            .get::<_, Option<String>>(18)?
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|error| crate::time::conversion_error(18, error.to_string()))?,
    })
}

fn get_existing(conn: &Connection, id: i64) -> Result<Notification> {
    let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([id], notification_from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("notification {id}")))
}

/// Identifies a notification in audit payloads.
fn audit_identity(notification: &Notification) -> serde_json::Value {
    serde_json::json!({
        "id": notification.id,
        "incident_id": notification.incident_id,
        "kind": notification.kind,
        "seq": notification.seq,
        "channel": notification.channel,
        "message_id": notification.message_id,
        "recipients": notification.recipients,
    })
}

pub(crate) fn enqueue(
    conn: &mut Connection,
    now: DateTime<Utc>,
    notification: NewNotification,
) -> Result<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let inserted = enqueue_in(&tx, now, notification)?;
    tx.commit()?;
    Ok(inserted)
}

/// [`enqueue`] inside the caller's transaction (audited in it too).
pub(crate) fn enqueue_in(
    tx: &Connection,
    now: DateTime<Utc>,
    notification: NewNotification,
) -> Result<bool> {
    let created_at = format_time(notification.created_at);
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO notifications (incident_id, kind, seq, message_id,
                 in_reply_to, recipients, subject, body_text, body_html, created_at,
                 next_attempt_at, channel, payload_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12)",
        )?
        .execute(params![
            notification.incident_id,
            notification.kind.as_str(),
            notification.seq,
            notification.message_id,
            notification.in_reply_to,
            serde_json::to_string(&notification.recipients)?,
            notification.subject,
            notification.body_text,
            notification.body_html,
            created_at,
            notification.channel,
            notification
                .payload
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    let stored = get_existing(tx, tx.last_insert_rowid())?;
    let mut payload = audit_identity(&stored);
    payload["subject"] = serde_json::Value::String(stored.subject.clone());
    audit::append_in(tx, now, "notification_enqueued", OUTBOX_ACTOR, &payload)?;
    Ok(true)
}

/// In creation order.
pub(crate) fn for_incident(conn: &Connection, incident_id: i64) -> Result<Vec<Notification>> {
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE incident_id = ?1 ORDER BY id"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map([incident_id], notification_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Oldest (first enqueued) first, so a first notification never trails its reminder;
/// only channels starting with `channel_prefix` (`""`: all).
pub(crate) fn due(
    conn: &Connection,
    channel_prefix: &str,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Notification>> {
    let sql = format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications
         WHERE status = 'pending' AND next_attempt_at <= ?1
           AND substr(channel, 1, length(?3)) = ?3
         ORDER BY id LIMIT ?2"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(
        params![format_time(now), clamp_limit(limit), channel_prefix],
        notification_from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A repeat confirmation (the same message accepted twice after a broken connection)
/// is counted and audited, but keeps the first `sent_at` and reply.
pub(crate) fn mark_sent(
    conn: &mut Connection,
    now: DateTime<Utc>,
    id: i64,
    smtp_reply: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let before = get_existing(&tx, id)?;
    tx.prepare_cached(
        "UPDATE notifications SET status = 'sent', attempts = attempts + 1,
             sent_at = coalesce(sent_at, ?2), smtp_reply = coalesce(smtp_reply, ?3)
         WHERE id = ?1",
    )?
    .execute(params![id, format_time(at), smtp_reply])?;
    let mut payload = audit_identity(&before);
    payload["attempt"] = (before.attempts + 1).into();
    payload["at"] = format_time(at).into();
    payload["smtp_reply"] = smtp_reply.into();
    if before.status == NotificationStatus::Sent {
        payload["repeat"] = true.into();
    }
    audit::append_in(&tx, now, "notification_sent", OUTBOX_ACTOR, &payload)?;
    tx.commit()?;
    Ok(())
}

/// A failure reported after the notification was confirmed sent is audited but does
/// not make it pending again.
pub(crate) fn mark_failed(
    conn: &mut Connection,
    now: DateTime<Utc>,
    id: i64,
    error: &str,
    next_attempt_at: DateTime<Utc>,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let before = get_existing(&tx, id)?;
    let next_text = format_time(next_attempt_at);
    tx.prepare_cached(
        "UPDATE notifications SET attempts = attempts + 1, last_error = ?2,
             next_attempt_at = CASE WHEN status = 'pending' THEN ?3 ELSE next_attempt_at END
         WHERE id = ?1",
    )?
    .execute(params![id, error, next_text])?;
    let mut payload = audit_identity(&before);
    payload["attempt"] = (before.attempts + 1).into();
    payload["error"] = error.into();
    payload["next_attempt_at"] = next_text.into();
    audit::append_in(&tx, now, "notification_failed", OUTBOX_ACTOR, &payload)?;
    tx.commit()?;
    tracing::debug!(id, error, "notification attempt failed");
    Ok(())
}

/// The server refused the notification for good: `failed`, never retried (audited as
/// `notification_given_up`). A notification already confirmed sent keeps that status.
pub(crate) fn mark_given_up(
    conn: &mut Connection,
    now: DateTime<Utc>,
    id: i64,
    error: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let before = get_existing(&tx, id)?;
    tx.prepare_cached(
        "UPDATE notifications SET attempts = attempts + 1, last_error = ?2,
             status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END
         WHERE id = ?1",
    )?
    .execute(params![id, error])?;
    let mut payload = audit_identity(&before);
    payload["attempt"] = (before.attempts + 1).into();
    payload["error"] = error.into();
    payload["at"] = format_time(at).into();
    audit::append_in(&tx, now, "notification_given_up", OUTBOX_ACTOR, &payload)?;
    tx.commit()?;
    tracing::warn!(id, error, "notification refused permanently; not retrying");
    Ok(())
}

/// Cancels the incident's reminders and escalations that have not gone out (inside
/// the transaction that acknowledges or resolves it), audited as
/// `notifications_cancelled` with their ids. Returns how many were cancelled.
pub(crate) fn cancel_follow_ups_in(
    tx: &rusqlite::Transaction<'_>,
    now: DateTime<Utc>,
    incident_id: i64,
    because: &str,
    by: &str,
) -> Result<usize> {
    let ids: Vec<i64> = {
        let mut statement = tx.prepare_cached(
            "SELECT id FROM notifications
             WHERE incident_id = ?1 AND status = 'pending'
               AND kind IN ('reminder', 'escalation')
             ORDER BY id",
        )?;
        let rows = statement.query_map([incident_id], |row| row.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    if ids.is_empty() {
        return Ok(0);
    }
    tx.prepare_cached(
        "UPDATE notifications SET status = 'cancelled'
         WHERE incident_id = ?1 AND status = 'pending' AND kind IN ('reminder', 'escalation')",
    )?
    .execute([incident_id])?;
    let payload = serde_json::json!({
        "incident_id": incident_id,
        "notifications": ids,
        "because": because,
    });
    audit::append_in(tx, now, "notifications_cancelled", by, &payload)?;
    Ok(ids.len())
}

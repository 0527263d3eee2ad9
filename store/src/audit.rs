//! The append-only, hash-chained audit log.
//!
//! Entry `n` stores `hash = HashChain::entry_hash(prev_hash, n, at, kind, actor, payload)`
//! where `prev_hash` is entry `n-1`'s hash (genesis: 64 zeros) and `at`/`payload` are
//! exactly the stored texts. Appends happen inside a `BEGIN IMMEDIATE` transaction, so
//! reading the head and writing the next entry is atomic across processes.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Serialize, Serializer};
use vigil_core::HashChain;

use crate::time::{format_time, time_col};
use crate::{Result, Store};

/// One audit record as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    /// Serialised as the exact text the hash covers, so an export verifies on its own.
    #[serde(serialize_with = "serialize_fixed_time")]
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: String,
    /// Canonical JSON text of the payload, exactly as hashed.
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

fn serialize_fixed_time<S: Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_time(*at))
}

/// Outcome of [`Store::verify_audit`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditVerification {
    /// Entries read.
    pub entries: u64,
    /// The first entry that breaks the chain; `None` when intact.
    pub first_bad: Option<AuditProblem>,
    /// Hash of the last entry (genesis when empty). Recording it outside the database
    /// (in a ticket, a mail) is what makes truncation or a rewritten tail detectable.
    pub head_hash: String,
}

impl AuditVerification {
    pub fn is_intact(&self) -> bool {
        self.first_bad.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditProblem {
    pub seq: i64,
    pub reason: String,
}

/// Appends within the caller's transaction, which must have been begun IMMEDIATE (or
/// already written) so the head cannot move underneath it.
pub(crate) fn append_in(
    conn: &Connection,
    at: DateTime<Utc>,
    kind: &str,
    actor: &str,
    payload: &serde_json::Value,
) -> Result<AuditEntry> {
    let at_text = format_time(at);
    let payload_text = serde_json::to_string(payload)?;
    let head: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let (prev_seq, prev_hash) = head.unwrap_or((0, HashChain::GENESIS.to_string()));
    let seq = prev_seq + 1;
    let hash = HashChain::entry_hash(&prev_hash, seq, &at_text, kind, actor, &payload_text);
    conn.prepare_cached(
        "INSERT INTO audit_log (seq, at, kind, actor, payload, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        seq,
        at_text,
        kind,
        actor,
        payload_text,
        prev_hash,
        hash
    ])?;
    tracing::debug!(seq, kind, actor, "audit entry appended");
    Ok(AuditEntry {
        seq,
        at,
        kind: kind.to_string(),
        actor: actor.to_string(),
        payload: payload_text,
        prev_hash,
        hash,
    })
}

/// An entry from a row of `SELECT seq, at, kind, actor, payload, prev_hash, hash`.
pub(crate) fn entry_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.get(0)?,
        at: time_col(row, 1)?,
        kind: row.get(2)?,
        actor: row.get(3)?,
        payload: row.get(4)?,
        prev_hash: row.get(5)?,
        hash: row.get(6)?,
    })
}

impl Store {
    /// Appends one entry (config loads, erasures, exports: whatever the caller records).
    pub fn append_audit(
        &self,
        kind: &str,
        actor: &str,
        payload: &serde_json::Value,
    ) -> Result<AuditEntry> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let entry = append_in(&tx, self.now(), kind, actor, payload)?;
        tx.commit()?;
        Ok(entry)
    }

    /// Streams entries with `from <= at < to` (either bound optional) in seq order;
    /// returns how many were passed to `each`. An error from `each` stops the stream
    /// and is returned. `each` runs while the store is locked: it must not call back
    /// into this `Store`.
    pub fn audit_entries(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        mut each: impl FnMut(&AuditEntry) -> Result<()>,
    ) -> Result<u64> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT seq, at, kind, actor, payload, prev_hash, hash FROM audit_log
             WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR at < ?2)
             ORDER BY seq",
        )?;
        let rows = statement
            .query_map(params![from.map(format_time), to.map(format_time)], |row| {
                entry_from_row(row)
            })?;
        let mut count = 0;
        for entry in rows {
            each(&entry?)?;
            count += 1;
        }
        Ok(count)
    }

    /// Number of entries and the head hash, without verifying.
    pub fn audit_head(&self) -> Result<(i64, String)> {
        let conn = self.conn();
        let head: Option<(i64, String)> = conn
            .query_row(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        Ok(head.unwrap_or((0, HashChain::GENESIS.to_string())))
    }

    /// Recomputes the whole chain and names the first entry that breaks it: a missing
    /// seq (gap), a hash that does not match the entry's content (altered, or rows
    /// swapped), or a `prev_hash` that does not match the entry before (a rewritten
    /// predecessor). Works on the raw stored texts, so even unparseable rows are judged.
    pub fn verify_audit(&self) -> Result<AuditVerification> {
        let mut conn = self.conn();
        // One read transaction: a consistent snapshot while appends continue elsewhere.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let mut entries = 0u64;
        let mut first_bad = None;
        let mut expected_seq = 1i64;
        let mut prev_hash = HashChain::GENESIS.to_string();
        for_each_stored_row(&tx, |row| {
            entries += 1;
            if first_bad.is_none() {
                first_bad = check_entry(
                    expected_seq,
                    &prev_hash,
                    row.seq,
                    row.content(),
                    &row.prev_hash,
                    &row.hash,
                );
                expected_seq = row.seq + 1;
                prev_hash = row.hash;
            }
            Ok(())
        })?;
        tx.commit()?;
        if let Some(problem) = &first_bad {
            tracing::warn!(seq = problem.seq, reason = %problem.reason, "audit chain broken");
        }
        Ok(AuditVerification {
            entries,
            first_bad,
            head_hash: prev_hash,
        })
    }
}

/// An entry's columns as the stored texts its hash covers (not parsed, so a row with
/// an unparseable time is still judged).
pub(crate) struct StoredRow {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

impl StoredRow {
    /// `at`, `kind`, `actor`, `payload`: what [`check_entry`] hashes.
    pub fn content(&self) -> [&str; 4] {
        [&self.at, &self.kind, &self.actor, &self.payload]
    }
}

/// Every stored entry in seq order, as [`StoredRow`]s: the chain checks' one read.
pub(crate) fn for_each_stored_row(
    conn: &Connection,
    mut each: impl FnMut(StoredRow) -> Result<()>,
) -> Result<()> {
    let mut statement = conn.prepare(
        "SELECT seq, at, kind, actor, payload, prev_hash, hash FROM audit_log ORDER BY seq",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        each(StoredRow {
            seq: row.get(0)?,
            at: row.get(1)?,
            kind: row.get(2)?,
            actor: row.get(3)?,
            payload: row.get(4)?,
            prev_hash: row.get(5)?,
            hash: row.get(6)?,
        })?;
    }
    Ok(())
}

pub(crate) fn check_entry(
    expected_seq: i64,
    expected_prev: &str,
    seq: i64,
    [at, kind, actor, payload]: [&str; 4],
    stored_prev: &str,
    stored_hash: &str,
) -> Option<AuditProblem> {
    if seq != expected_seq {
        let reason = if seq > expected_seq + 1 {
            format!("gap: entries {expected_seq}..{} missing", seq - 1)
        } else {
            format!("gap: entry {expected_seq} missing")
        };
        return Some(AuditProblem {
            seq: expected_seq,
            reason,
        });
    }
    let recomputed = HashChain::entry_hash(stored_prev, seq, at, kind, actor, payload);
    if recomputed != stored_hash {
        return Some(AuditProblem {
            seq,
            reason: format!("entry {seq}: hash mismatch (content altered)"),
        });
    }
    if stored_prev != expected_prev {
        let reason = if seq == 1 {
            "entry 1: prev_hash is not the genesis hash".to_string()
        } else {
            format!(
                "entry {seq}: prev_hash does not match entry {} (entry {} rewritten)",
                seq - 1,
                seq - 1
            )
        };
        return Some(AuditProblem { seq, reason });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(i64, String, String)> {
        let mut prev = HashChain::GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let hash = HashChain::entry_hash(&prev, seq, "t", "k", "a", "{}");
                let entry = (seq, prev.clone(), hash.clone());
                prev = hash;
                entry
            })
            .collect()
    }

    #[test]
    fn intact_entry_passes() {
        let c = chain(2);
        assert_eq!(
            check_entry(2, &c[0].2, 2, ["t", "k", "a", "{}"], &c[1].1, &c[1].2),
            None
        );
    }

    #[test]
    fn names_gap_mismatch_and_broken_link() {
        let c = chain(3);
        let gap = check_entry(2, &c[0].2, 3, ["t", "k", "a", "{}"], &c[2].1, &c[2].2).unwrap();
        assert_eq!(gap.seq, 2);
        assert_eq!(gap.reason, "gap: entry 2 missing");
        let altered = check_entry(2, &c[0].2, 2, ["t", "k", "a", "{ }"], &c[1].1, &c[1].2).unwrap();
        assert_eq!(altered.reason, "entry 2: hash mismatch (content altered)");
        let relinked = HashChain::entry_hash("f00", 2, "t", "k", "a", "{}");
        let link = check_entry(2, &c[0].2, 2, ["t", "k", "a", "{}"], "f00", &relinked).unwrap();
        assert!(
            link.reason
                .starts_with("entry 2: prev_hash does not match entry 1")
        );
    }
}

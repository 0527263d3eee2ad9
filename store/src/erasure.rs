//! Erasure requests (GDPR, PIPL) and retention purges: the post's content goes, a
//! tombstone stays (id, source, content hash, when, why), and the tombstone keeps the
//! crawler from capturing the same item again. An erased original's remaining copies
//! get a new original, the oldest of them (`dedup::promote_copies`).
//!
//! Raw captures (`raw.rs`) follow their posts in the same transaction: erasing a post
//! deletes the capture of the page it came from (the bytes hold the erased content) and
//! unlinks the page's other posts; the purge deletes a capture once no post names it,
//! so a capture lives as long as its youngest (or held) post. Tombstones and audit
//! entries keep capture hashes only.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use vigil_core::EvidencePost;

use crate::raw::RETENTION_REASON;
use crate::time::format_time;
use crate::{Result, Store, audit, dedup, raw};

/// Which posts an erasure request covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureTarget {
    /// Posts whose author is exactly this handle.
    Author(String),
    /// Posts at this URL (compared as given and in canonical form).
    Url(String),
    /// These posts, by id (`honour_deletions`: the source no longer has them).
    Ids(Vec<String>),
}

/// The posts removed, so the caller can remove them from the index too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErasureReport {
    pub seqs: Vec<i64>,
    pub ids: Vec<String>,
    /// Remaining posts whose `duplicate_of` changed because their original was erased:
    /// the promoted oldest copy (now an original) and the copies re-pointed to it. The
    /// index should re-add them (`Store::get_post`) so their hits show the new link.
    pub relinked: Vec<String>,
    /// Seq of the audit entry recording the erasure (`None` when nothing matched).
    pub audit_seq: Option<i64>,
    /// SHA-256 of the raw captures deleted: for an erasure, every capture an erased
    /// post came from; for a purge, the captures no remaining post names.
    pub raw_captures: Vec<String>,
    /// Remaining posts whose `raw_sha256` was cleared because an erasure deleted the
    /// capture of their page (they are otherwise unchanged).
    pub raw_unlinked: usize,
}

/// What happens to the raw captures of the posts [`erase_matching`] removes.
#[derive(Clone, Copy)]
enum Captures {
    /// Erasure: the captures go, whoever else they carry.
    Delete,
    /// Retention: a capture goes once no post names it.
    DropOrphans,
}

/// What [`erase_matching`] removed and relinked.
struct Erased {
    seqs: Vec<i64>,
    ids: Vec<String>,
    relinked: Vec<String>,
    raw_captures: Vec<String>,
    raw_unlinked: usize,
}

/// Tombstones and deletes the posts matching `condition`, promotes a copy of each
/// erased original that had copies, and scrubs the erased posts from incident evidence.
fn erase_matching(
    tx: &Transaction<'_>,
    condition: &str,
    bind: &[&dyn rusqlite::ToSql],
    reason: &str,
    erased_at: &str,
    captures: Captures,
) -> Result<Erased> {
    let mut seqs = Vec::new();
    let mut ids = Vec::new();
    let mut capture_hashes = BTreeSet::new();
    let mut authors = HashSet::new();
    {
        let mut select = tx.prepare(&format!(
            "SELECT seq, id, raw_sha256, author FROM posts WHERE {condition}"
        ))?;
        let mut rows = select.query(bind)?;
        while let Some(row) = rows.next()? {
            seqs.push(row.get::<_, i64>(0)?);
            ids.push(row.get::<_, String>(1)?);
            if let Some(sha256) = row.get::<_, Option<String>>(2)? {
                capture_hashes.insert(sha256);
            }
            if let Some(author) = row.get::<_, Option<String>>(3)? {
                authors.insert(author);
            }
        }
    }
    if seqs.is_empty() {
        return Ok(Erased {
            seqs,
            ids,
            relinked: Vec::new(),
            raw_captures: Vec::new(),
            raw_unlinked: 0,
        });
    }
    let erased_at_index = bind.len() + 1;
    let reason_index = bind.len() + 2;
    let mut tombstone_bind: Vec<&dyn rusqlite::ToSql> = bind.to_vec();
    tombstone_bind.push(&erased_at);
    tombstone_bind.push(&reason);
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO tombstones (seq, id, source, content_hash, erased_at, reason,
                 raw_sha256)
             SELECT seq, id, source, content_hash, ?{erased_at_index}, ?{reason_index},
                 raw_sha256
             FROM posts WHERE {condition}"
        ),
        tombstone_bind.as_slice(),
    )?;
    // post_brands rows go with them (ON DELETE CASCADE).
    tx.execute(&format!("DELETE FROM posts WHERE {condition}"), bind)?;
    let relinked = dedup::promote_copies(tx, &ids)?;
    scrub_evidence(tx, &ids, &authors)?;
    let capture_hashes: Vec<String> = capture_hashes.into_iter().collect();
    let (raw_captures, raw_unlinked) = match captures {
        Captures::Delete => raw::erase_captures(tx, &capture_hashes)?,
        Captures::DropOrphans => (raw::delete_orphans(tx, &capture_hashes)?, 0),
    };
    Ok(Erased {
        seqs,
        ids,
        relinked,
        raw_captures,
        raw_unlinked,
    })
}

/// Incident evidence quotes posts; an erased post's quote is replaced by a marker. The
/// trigger's "top authors" name handles: an erased post's author is replaced there too
/// (their reach stays in the numbers, the name goes). The notifications of such an
/// incident quoted them as well: their bodies are replaced by a notice with the
/// SHA-256 of what they were ([`redact_notifications`]).
fn scrub_evidence(conn: &Connection, ids: &[String], authors: &HashSet<String>) -> Result<()> {
    let erased: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let incidents: Vec<(i64, String, String)> = {
        let mut statement =
            conn.prepare("SELECT id, evidence_json, trigger_json FROM incidents")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (incident_id, evidence_json, trigger_json) in incidents {
        let mut named = false;
        if !authors.is_empty() {
            let mut trigger: serde_json::Value = serde_json::from_str(&trigger_json)?;
            if let Some(top) = trigger
                .pointer_mut("/context/top_authors")
                .and_then(serde_json::Value::as_array_mut)
            {
                for contributor in top.iter_mut() {
                    let is_erased = contributor
                        .get("name")
                        .and_then(serde_json::Value::as_str)
                        .is_some_and(|name| authors.contains(name));
                    if is_erased {
                        contributor["name"] = "[erased]".into();
                        named = true;
                    }
                }
            }
            if named {
                conn.execute(
                    "UPDATE incidents SET trigger_json = ?2 WHERE id = ?1",
                    params![incident_id, serde_json::to_string(&trigger)?],
                )?;
            }
        }
        let mut evidence: Vec<EvidencePost> = serde_json::from_str(&evidence_json)?;
        let mut changed = false;
        for post in evidence
            .iter_mut()
            .filter(|post| erased.contains(post.id.as_str()))
        {
            post.text = "[erased]".to_string();
            post.author = None;
            post.url = None;
            changed = true;
        }
        if changed {
            conn.execute(
                "UPDATE incidents SET evidence_json = ?2 WHERE id = ?1",
                params![incident_id, serde_json::to_string(&evidence)?],
            )?;
        }
        if changed || named {
            redact_notifications(conn, incident_id)?;
        }
    }
    Ok(())
}

/// The notifications of an incident whose evidence or top authors were erased: each
/// body (text, HTML, webhook payload) becomes a notice naming the SHA-256 of the body
/// it replaces, so the record of what was sent (recipients, subject, Message-ID,
/// delivery) stays and the quoted content goes. One still pending goes out with the
/// notice in its place; later notifications are rendered from the scrubbed incident.
fn redact_notifications(conn: &Connection, incident_id: i64) -> Result<()> {
    let rows: Vec<(i64, String, String, Option<String>)> = {
        let mut statement = conn.prepare(
            "SELECT id, body_text, body_html, payload_json FROM notifications
             WHERE incident_id = ?1",
        )?;
        let rows = statement.query_map([incident_id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, text, html, payload) in rows {
        if text.starts_with(REDACTED_BODY) {
            continue;
        }
        let digest = |body: &str| hex::encode(Sha256::digest(body.as_bytes()));
        let notice = format!(
            "{REDACTED_BODY} (it quoted a post erased since; SHA-256 of the original: {})",
            digest(&text)
        );
        let html_notice = format!(
            "<p>{REDACTED_BODY} (it quoted a post erased since; SHA-256 of the original: {})</p>",
            digest(&html)
        );
        let payload = payload.map(|payload| {
            serde_json::json!({ "redacted": REDACTED_BODY, "sha256": digest(&payload) }).to_string()
        });
        conn.execute(
            "UPDATE notifications SET body_text = ?2, body_html = ?3, payload_json = ?4
             WHERE id = ?1",
            params![id, notice, html_notice, payload],
        )?;
    }
    Ok(())
}

/// How a notification body removed by an erasure begins.
pub const REDACTED_BODY: &str = "[This notification's content was removed by an erasure request]";

/// Copies the WAL into the database file and empties it, so the erased rows' earlier
/// versions (the frames that inserted them) do not linger in `vigil.db-wal`; the
/// database file itself has them zeroed (`secure_delete`). Best effort: a reader in
/// another process can keep the checkpoint from finishing, and then the frames go when
/// the WAL is next reused.
fn truncate_wal(conn: &Connection) {
    let outcome = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
        row.get::<_, i64>(0)
    });
    match outcome {
        Ok(0) => {}
        Ok(_) => tracing::warn!(
            "after the erasure another process kept the WAL from being emptied; \
             its older frames are overwritten as the WAL is reused"
        ),
        Err(error) => tracing::warn!(%error, "after the erasure the WAL could not be emptied"),
    }
}

impl From<Erased> for ErasureReport {
    fn from(erased: Erased) -> Self {
        ErasureReport {
            seqs: erased.seqs,
            ids: erased.ids,
            relinked: erased.relinked,
            audit_seq: None,
            raw_captures: erased.raw_captures,
            raw_unlinked: erased.raw_unlinked,
        }
    }
}

fn ids_digest(ids: &[String]) -> String {
    let mut hasher = Sha256::new();
    for id in ids {
        hasher.update(id.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

impl Store {
    /// Removes every post matching `target` and records the erasure (kind `erasure`,
    /// with the erased ids and the reason) in the audit log, in one transaction. The
    /// target itself is not written to the audit log: it is the personal data erased.
    ///
    /// The raw capture of the page each erased post came from is deleted too, and the
    /// other posts of that page keep their content but lose the link (`raw_sha256`
    /// cleared): the audit entry lists the deleted hashes (`raw_captures`) and counts the
    /// unlinked posts (`raw_unlinked`); each tombstone keeps its post's capture hash.
    pub fn erase_posts(
        &self,
        target: &ErasureTarget,
        reason: &str,
        actor: &str,
    ) -> Result<ErasureReport> {
        let now = self.now();
        let erased_at = format_time(now);
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (target_kind, erased) = match target {
            ErasureTarget::Author(author) => (
                "author",
                erase_matching(
                    &tx,
                    "author = ?1",
                    &[author],
                    reason,
                    &erased_at,
                    Captures::Delete,
                )?,
            ),
            ErasureTarget::Url(url) => {
                let canonical = vigil_core::canonical_url(url).unwrap_or_else(|| url.clone());
                (
                    "url",
                    erase_matching(
                        &tx,
                        "(url = ?1 OR canonical_url = ?2 OR url = ?2)",
                        &[url, &canonical],
                        reason,
                        &erased_at,
                        Captures::Delete,
                    )?,
                )
            }
            ErasureTarget::Ids(ids) => {
                let ids = serde_json::to_string(ids)?;
                (
                    "ids",
                    erase_matching(
                        &tx,
                        "id IN (SELECT value FROM json_each(?1))",
                        &[&ids],
                        reason,
                        &erased_at,
                        Captures::Delete,
                    )?,
                )
            }
        };
        let mut report = ErasureReport::from(erased);
        if !report.ids.is_empty() {
            let mut payload = serde_json::json!({
                "target": target_kind,
                "reason": reason,
                "count": report.ids.len(),
                "ids": report.ids,
                "relinked": report.relinked.len(),
            });
            // Which captures went with the posts, by hash only (the bytes are gone).
            if !report.raw_captures.is_empty() || report.raw_unlinked > 0 {
                payload["raw_captures"] = serde_json::json!(report.raw_captures);
                payload["raw_unlinked"] = serde_json::json!(report.raw_unlinked);
            }
            report.audit_seq = Some(audit::append_in(&tx, now, "erasure", actor, &payload)?.seq);
        }
        tx.commit()?;
        if !report.ids.is_empty() {
            truncate_wal(&conn);
        }
        tracing::info!(
            count = report.ids.len(),
            target = target_kind,
            actor,
            "posts erased"
        );
        Ok(report)
    }

    /// Ids of every erased or purged post. Derived stores (the index) delete these, so
    /// an erasure interrupted between the store and the index is completed on the next
    /// start-up or erase.
    pub fn tombstoned_ids(&self) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached("SELECT id FROM tombstones ORDER BY seq")?;
        let ids = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }

    /// Retention: removes posts published before `cutoff`, leaving tombstones, audited
    /// as kind `retention_purge` with the count and a digest of the ids. Posts under an
    /// active legal hold ([`Store::add_legal_hold`]) are kept, and so are their raw
    /// captures; a capture no remaining post names is deleted with the posts (its hash
    /// listed in the audit entry as `raw_captures`).
    pub fn purge_published_before(
        &self,
        cutoff: DateTime<Utc>,
        actor: &str,
    ) -> Result<ErasureReport> {
        let now = self.now();
        let erased_at = format_time(now);
        let cutoff_text = format_time(cutoff);
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let condition = format!("published_at < ?1 AND NOT {}", crate::holds::HELD_POST);
        let erased = erase_matching(
            &tx,
            &condition,
            &[&cutoff_text],
            RETENTION_REASON,
            &erased_at,
            Captures::DropOrphans,
        )?;
        let mut report = ErasureReport::from(erased);
        if !report.ids.is_empty() {
            let mut payload = serde_json::json!({
                "published_before": cutoff_text,
                "count": report.ids.len(),
                "ids_sha256": ids_digest(&report.ids),
                "relinked": report.relinked.len(),
            });
            if !report.raw_captures.is_empty() {
                payload["raw_captures"] = serde_json::json!(report.raw_captures);
            }
            report.audit_seq =
                Some(audit::append_in(&tx, now, "retention_purge", actor, &payload)?.seq);
        }
        tx.commit()?;
        tracing::info!(count = report.ids.len(), cutoff = %cutoff_text, "retention purge");
        Ok(report)
    }
}

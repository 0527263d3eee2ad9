//! Raw captures (schema v8): the exact bytes of a fetched page, for sources with
//! `keep_raw`, zstd-compressed in `raw_captures` and named by their SHA-256 in each
//! post's `raw_sha256`.
//!
//! - Ingest writes the captures its newly stored posts name, in the same transaction as
//!   the posts (`posts.rs`): a crash leaves both or neither, and a capture whose posts
//!   were all duplicates is not kept. A capture of a page that still carries an erased
//!   post is not kept either (the bytes would bring the erased content back). Privacy
//!   settings redact posts, never captures: `keep_raw` asks for the bytes as fetched.
//! - Erasure deletes every capture an erased post named and unlinks the other posts of
//!   those pages; the retention purge deletes captures no post names any more
//!   (`erasure.rs`). Posts a legal hold keeps keep their captures.
//! - Reads decompress and re-hash: a capture that does not hash to its name is an
//!   error ([`Store::raw_capture`]); [`Store::verify_raw_captures`] checks them all.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use vigil_core::{Post, RawCapture};

use crate::time::{format_time, time_col};
use crate::{Result, Store, StoreError};

/// zstd level: feeds and pages compress 5–10× at level 3, at a few hundred MB/s.
const COMPRESSION_LEVEL: i32 = 3;

/// Reason of the tombstones the retention purge leaves (`erasure.rs`); every other
/// tombstone is an erasure.
pub(crate) const RETENTION_REASON: &str = "retention";

/// One batch's captures, checked and compressed before the write lock is taken.
pub(crate) struct BatchCaptures<'a> {
    by_hash: HashMap<&'a str, PreparedCapture<'a>>,
}

struct PreparedCapture<'a> {
    capture: &'a RawCapture,
    compressed: Vec<u8>,
}

impl<'a> BatchCaptures<'a> {
    /// Re-hashes and compresses every capture: pure CPU work, done outside the lock.
    /// A capture whose bytes do not hash to its name is refused (a caller's bug).
    pub(crate) fn prepare(captures: &'a [RawCapture]) -> Result<BatchCaptures<'a>> {
        let mut by_hash = HashMap::with_capacity(captures.len());
        for capture in captures {
            if !capture.is_intact() {
                return Err(StoreError::Invalid(format!(
                    "raw capture {} of {}: its bytes hash to {}",
                    capture.sha256,
                    capture.fetch_url,
                    vigil_core::sha256_hex(&capture.bytes)
                )));
            }
            if by_hash.contains_key(capture.sha256.as_str()) {
                continue;
            }
            let compressed =
                zstd::bulk::compress(&capture.bytes, COMPRESSION_LEVEL).map_err(|error| {
                    StoreError::Invalid(format!(
                        "raw capture {}: cannot compress: {error}",
                        capture.sha256
                    ))
                })?;
            by_hash.insert(
                capture.sha256.as_str(),
                PreparedCapture {
                    capture,
                    compressed,
                },
            );
        }
        Ok(BatchCaptures { by_hash })
    }
}

/// Decides, inside the ingest transaction, which capture each post may name and
/// writes the captures the stored posts name.
pub(crate) struct CaptureLinks<'a, 'conn> {
    batch: BatchCaptures<'a>,
    /// Captures that must not be kept: their page carries an erased post.
    tainted: HashSet<String>,
    /// Hash → whether `raw_captures` already holds it, looked up once per hash.
    stored: HashMap<String, bool>,
    /// Hashes the stored posts name that this batch brings, in first-use order.
    to_write: Vec<String>,
    find_capture: rusqlite::CachedStatement<'conn>,
}

impl<'a, 'conn> CaptureLinks<'a, 'conn> {
    /// Call inside the write transaction, before any post is inserted. Finds the
    /// captures of pages that carry an erased post (not a retention-purged one: a page
    /// still listing an old post is a new record, kept as long as its posts are).
    pub(crate) fn new(
        conn: &'conn Connection,
        batch: BatchCaptures<'a>,
        posts: &[Post],
    ) -> Result<Self> {
        let mut tainted = HashSet::new();
        let named = posts
            .iter()
            .filter_map(|post| Some((post, post.provenance.raw_sha256.as_deref()?)));
        let mut erased_by_request = None;
        for (post, sha256) in named {
            if tainted.contains(sha256) {
                continue;
            }
            let statement = match &mut erased_by_request {
                Some(statement) => statement,
                None => erased_by_request.insert(conn.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM tombstones WHERE id = ?1 AND reason != ?2)",
                )?),
            };
            let erased: bool =
                statement.query_row(params![post.id, RETENTION_REASON], |row| row.get(0))?;
            if erased {
                tainted.insert(sha256.to_string());
            }
        }
        if !tainted.is_empty() {
            tracing::info!(
                pages = tainted.len(),
                "raw captures not kept: their pages carry erased posts"
            );
        }
        Ok(CaptureLinks {
            batch,
            tainted,
            stored: HashMap::new(),
            to_write: Vec::new(),
            find_capture: conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM raw_captures WHERE sha256 = ?1)")?,
        })
    }

    /// Clears `post.provenance.raw_sha256` unless the capture it names is in this batch
    /// or already stored (and not tainted), so no stored post names a missing capture.
    pub(crate) fn settle(&mut self, post: &mut Post) -> Result<()> {
        let Some(sha256) = post.provenance.raw_sha256.as_deref() else {
            return Ok(());
        };
        let keep = if self.tainted.contains(sha256) {
            false
        } else if self.batch.by_hash.contains_key(sha256) {
            true
        } else {
            self.is_stored(sha256)?
        };
        if !keep {
            post.provenance.raw_sha256 = None;
        }
        Ok(())
    }

    /// Notes that a post naming `sha256` was stored.
    pub(crate) fn stored_post_names(&mut self, sha256: &str) -> Result<()> {
        if self.batch.by_hash.contains_key(sha256)
            && !self.is_stored(sha256)?
            && !self.to_write.iter().any(|hash| hash == sha256)
        {
            self.to_write.push(sha256.to_string());
        }
        Ok(())
    }

    fn is_stored(&mut self, sha256: &str) -> Result<bool> {
        if let Some(known) = self.stored.get(sha256) {
            return Ok(*known);
        }
        let exists: bool = self.find_capture.query_row([sha256], |row| row.get(0))?;
        self.stored.insert(sha256.to_string(), exists);
        Ok(exists)
    }

    /// Inserts the captures the stored posts name; returns their hashes.
    pub(crate) fn write(self, conn: &Connection) -> Result<Vec<String>> {
        if self.to_write.is_empty() {
            return Ok(Vec::new());
        }
        let mut insert = conn.prepare_cached(
            "INSERT INTO raw_captures (sha256, source, fetch_url, fetched_at, http_status,
                 content_type, size, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for sha256 in &self.to_write {
            let prepared = &self.batch.by_hash[sha256.as_str()];
            let capture = prepared.capture;
            insert.execute(params![
                capture.sha256,
                capture.source,
                capture.fetch_url,
                format_time(capture.fetched_at),
                capture.http_status,
                capture.content_type,
                capture.bytes.len() as i64,
                prepared.compressed,
            ])?;
        }
        Ok(self.to_write)
    }
}

/// Deletes the captures named `hashes` (an erasure) and unlinks every remaining post
/// that named one; returns the hashes deleted and the posts unlinked.
pub(crate) fn erase_captures(conn: &Connection, hashes: &[String]) -> Result<(Vec<String>, usize)> {
    let mut deleted = Vec::new();
    let mut unlinked = 0;
    let mut delete = conn.prepare_cached("DELETE FROM raw_captures WHERE sha256 = ?1")?;
    let mut unlink =
        conn.prepare_cached("UPDATE posts SET raw_sha256 = NULL WHERE raw_sha256 = ?1")?;
    for sha256 in hashes {
        if delete.execute([sha256])? > 0 {
            deleted.push(sha256.clone());
        }
        unlinked += unlink.execute([sha256])?;
    }
    Ok((deleted, unlinked))
}

/// Deletes those of `hashes` that no post names any more (after a retention purge);
/// returns the hashes deleted.
pub(crate) fn delete_orphans(conn: &Connection, hashes: &[String]) -> Result<Vec<String>> {
    let mut delete = conn.prepare_cached(
        "DELETE FROM raw_captures WHERE sha256 = ?1
         AND NOT EXISTS (SELECT 1 FROM posts WHERE raw_sha256 = ?1)",
    )?;
    let mut deleted = Vec::new();
    for sha256 in hashes {
        if delete.execute([sha256])? > 0 {
            deleted.push(sha256.clone());
        }
    }
    Ok(deleted)
}

/// What is wrong with one capture: it cannot be decompressed, its size or hash differ
/// from what was stored, or posts name it and it is not there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RawCaptureProblem {
    pub sha256: String,
    pub reason: String,
}

impl std::fmt::Display for RawCaptureProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "raw capture {}: {}", self.sha256, self.reason)
    }
}

/// Outcome of [`Store::verify_raw_captures`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RawCaptureVerification {
    /// Captures read.
    pub captures: u64,
    /// Their size as fetched (uncompressed), in bytes.
    pub bytes: u64,
    /// Their size as stored (compressed), in bytes.
    pub stored_bytes: u64,
    /// Every problem found, by hash.
    pub problems: Vec<RawCaptureProblem>,
}

impl RawCaptureVerification {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The stored data column as bytes, whatever its type: someone who rewrote it as text
/// (or a number) should get "damaged", not a type error that stops verification.
fn stored_bytes(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Vec<u8>> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(index)? {
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => bytes.to_vec(),
        ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => Vec::new(),
    })
}

/// The stored size column; anything but an integer reads as -1, which no capture has.
fn stored_size(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<i64> {
    Ok(match row.get_ref(index)? {
        rusqlite::types::ValueRef::Integer(size) => size,
        _ => -1,
    })
}

/// Decompresses a stored capture and checks it against its size and name.
fn unpack(sha256: &str, size: i64, data: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let bytes = zstd::stream::decode_all(data).map_err(|error| {
        format!("the stored data cannot be decompressed ({error}); it was altered or damaged")
    })?;
    if bytes.len() as i64 != size {
        return Err(format!(
            "decompressed to {} bytes, {size} were stored; it was altered or damaged",
            bytes.len()
        ));
    }
    let actual = vigil_core::sha256_hex(&bytes);
    if actual != sha256 {
        return Err(format!(
            "the stored bytes hash to {actual}; they were altered or damaged"
        ));
    }
    Ok(bytes)
}

impl Store {
    /// The capture named `sha256`, decompressed and re-hashed; `None` when there is
    /// none (never kept, or erased). A capture that does not decompress to the bytes
    /// its name is the hash of is an error naming the hash.
    pub fn raw_capture(&self, sha256: &str) -> Result<Option<RawCapture>> {
        let conn = self.conn();
        let row = conn
            .prepare_cached(
                "SELECT source, fetch_url, fetched_at, http_status, content_type, size, data
                 FROM raw_captures WHERE sha256 = ?1",
            )?
            .query_row([sha256], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    time_col(row, 2)?,
                    row.get::<_, u16>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    stored_size(row, 5)?,
                    stored_bytes(row, 6)?,
                ))
            })
            .optional()?;
        drop(conn);
        let Some((source, fetch_url, fetched_at, http_status, content_type, size, data)) = row
        else {
            return Ok(None);
        };
        let bytes = unpack(sha256, size, &data).map_err(|reason| {
            StoreError::Invalid(
                RawCaptureProblem {
                    sha256: sha256.to_string(),
                    reason,
                }
                .to_string(),
            )
        })?;
        Ok(Some(RawCapture {
            sha256: sha256.to_string(),
            source,
            fetch_url,
            fetched_at,
            http_status,
            content_type,
            bytes,
        }))
    }

    /// Checks every capture (decompresses it, compares size and SHA-256) and that every
    /// capture a post names is there, in one read transaction. Reads one capture at a
    /// time; for `vigil audit verify`.
    pub fn verify_raw_captures(&self) -> Result<RawCaptureVerification> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let mut report = RawCaptureVerification::default();
        {
            let mut select =
                tx.prepare("SELECT sha256, size, data FROM raw_captures ORDER BY sha256")?;
            let mut rows = select.query([])?;
            while let Some(row) = rows.next()? {
                let sha256: String = row.get(0)?;
                let size = stored_size(row, 1)?;
                let data = stored_bytes(row, 2)?;
                report.captures += 1;
                report.bytes += size.max(0) as u64;
                report.stored_bytes += data.len() as u64;
                if let Err(reason) = unpack(&sha256, size, &data) {
                    report.problems.push(RawCaptureProblem { sha256, reason });
                }
            }
            let mut missing = tx.prepare(
                "SELECT p.raw_sha256, min(p.id), count(*) FROM posts p
                 WHERE p.raw_sha256 IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM raw_captures c WHERE c.sha256 = p.raw_sha256)
                 GROUP BY p.raw_sha256 ORDER BY p.raw_sha256",
            )?;
            let rows = missing.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (sha256, post_id, posts) = row?;
                report.problems.push(RawCaptureProblem {
                    sha256,
                    reason: format!(
                        "missing, yet named by {posts} post(s) (first: {post_id}); it was deleted outside vigil"
                    ),
                });
            }
        }
        tx.commit()?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpack_checks_size_and_hash() {
        let bytes = b"<rss><item>acme</item></rss>".repeat(20);
        let sha256 = vigil_core::sha256_hex(&bytes);
        let data = zstd::bulk::compress(&bytes, COMPRESSION_LEVEL).unwrap();
        let size = bytes.len() as i64;
        assert_eq!(unpack(&sha256, size, &data).unwrap(), bytes);
        assert!(
            unpack(&sha256, size + 1, &data)
                .unwrap_err()
                .contains("bytes")
        );
        let other = vigil_core::sha256_hex(b"other");
        assert!(unpack(&other, size, &data).unwrap_err().contains("hash to"));
        assert!(
            unpack(&sha256, size, b"not zstd")
                .unwrap_err()
                .contains("cannot be decompressed")
        );
    }
}

//! Near-duplicate links: a post whose text is the same as, or nearly the same as, a
//! post stored before it is kept (stored, searchable) but marked as a copy of that
//! post, the *original*, and alert windows count originals only.
//!
//! This is on top of the exact deduplication of `posts.rs`, which drops a repeat of the
//! same `(source, external_id)` or canonical URL entirely.
//!
//! # Which earlier post is the original
//!
//! Only posts whose text has a fingerprint ([`vigil_core::simhash`]: at least 40
//! normalised characters, CJK counting double) take part; shorter posts are never
//! linked, because two people can write the same short sentence. For such a post, the
//! candidates are the stored *originals* whose fingerprint is within
//! [`NEAR_DUPLICATE_DISTANCE`] (3) bits. A candidate is accepted when
//!
//! 1. its `content_hash` (SHA-256 of title and text, from the crawler) is the same, at
//!    any distance in time: a verbatim repost a month later is still a copy; or
//! 2. it was published within [`WINDOW_DAYS`] (7) days either side of the new post:
//!    near-duplicates further apart are more likely a template reused for a new event
//!    (a weekly outage notice) than a copy, and each occurrence should count.
//!
//! The best accepted candidate wins: same content first, then the smallest distance,
//! then the earliest stored. Only originals are candidates, so links are always one
//! hop (a copy of a copy points to the original) and a run of small edits cannot drift
//! away from the original through a chain. The consequence: a verbatim repost of a
//! *copy* is found through the copy's original (same fingerprint, so within 3 bits of
//! it) only inside the 7-day window.
//!
//! # Lookup
//!
//! The fingerprint is stored with each post (`posts.simhash`), but the lookup runs on
//! [`NearDuplicateIndex`], an in-memory map of the originals by each 16-bit band of
//! their fingerprint: two fingerprints within 3 bits agree on at least one band
//! (pigeonhole), so the union of the four exact band lookups holds every candidate.
//! With uniformly spread fingerprints a lookup visits about 4·N/65,536 originals (≈ 60
//! at a million), reading only the lists. For each original the map also keeps its
//! publication second and a 64-bit digest of its `content_hash`, so the few candidates
//! within 3 bits are judged without a query: the file is asked only for the id of the
//! original chosen (and to confirm a same-content match, since digests can collide).
//! The map costs 72 bytes per original (≈ 78 MB at a million, including 6 MB of fixed
//! tables).
//!
//! The same bands as four SQLite indexes were measured first: at a million posts
//! published within 12 days, every 5,000-post batch dirtied most leaf pages of all
//! four indexes (the keys are random), and ingest took 2.6× as long as without
//! near-duplicate detection (148 s against 56 s in the store's million-post test). The map is derived data and stays in step with the file
//! however many processes write it: before each ingest (inside its write transaction)
//! it loads the originals stored since it last looked (`seq` is monotonic), and it
//! reloads everything when the file's `dedup_epoch` changed, which erasure and
//! retention bump because they remove originals and promote copies.
//!
//! # Erasure
//!
//! When an original is erased (GDPR request or retention), its oldest remaining copy is
//! promoted to original and the other copies are re-pointed to it
//! ([`promote_copies`]): the story keeps counting once in alert windows, and no link
//! points at a missing post. The promoted post's links may now span more than 3 bits
//! (each copy was within 3 bits of the erased post, not of each other); that is
//! accepted, since they were copies of the same text.

use chrono::{DateTime, Datelike, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use vigil_core::{NEAR_DUPLICATE_DISTANCE, Post, hamming, simhash_bands};

use crate::Result;
use crate::time::parse_time;

/// Near-duplicates (not same-content copies) must be published within this many days
/// of the original, either side.
pub const WINDOW_DAYS: i64 = 7;

const WINDOW_SECS: i64 = WINDOW_DAYS * 24 * 60 * 60;

/// Values of one 16-bit band.
const BAND_VALUES: usize = 1 << 16;

/// The fingerprint as SQLite stores it: the same 64 bits as a signed integer.
pub(crate) fn to_sql(hash: u64) -> i64 {
    hash as i64
}

fn from_sql(value: i64) -> u64 {
    value as u64
}

/// Marks the originals as changed by something other than ingest (erasure, retention,
/// promotion), so every process's [`NearDuplicateIndex`] reloads.
pub(crate) fn bump_epoch(conn: &Connection) -> Result<()> {
    conn.prepare_cached("UPDATE dedup_epoch SET epoch = epoch + 1 WHERE id = 1")?
        .execute([])?;
    Ok(())
}

/// An original as the band lists hold it: the whole fingerprint, so the Hamming filter
/// reads nothing else, and where the rest of what the rule needs is kept. Packed to 12
/// bytes: four of these per original.
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Entry {
    simhash: u64,
    /// Index into [`NearDuplicateIndex::originals`].
    original: u32,
}

/// What the rule asks about an original besides its fingerprint, so that judging the
/// few candidates within 3 bits needs no query: the file is read only for the id of
/// the original chosen (and to confirm a same-content match, see [`content_digest`]).
#[derive(Clone, Copy)]
struct Original {
    seq: i64,
    /// [`window_secs`] of its `published_at`, [`NO_WINDOW_SECS`] when it has none.
    published_secs: i64,
    content_digest: u64,
}

/// `published_secs` of an original whose time is outside what the window compares.
const NO_WINDOW_SECS: i64 = i64::MIN;

/// The second a post was published, as the 7-day window compares it; `None` for times
/// outside years 0–9999, which the store's fixed-width text cannot hold in order (and
/// which SQLite's date functions, used for this before, answered with NULL).
fn window_secs(published_at: DateTime<Utc>) -> Option<i64> {
    (0..=9999)
        .contains(&published_at.year())
        .then(|| published_at.timestamp())
}

/// A 64-bit digest (FNV-1a) of a `content_hash`: equal hashes have equal digests, and
/// a digest match is confirmed against the file, so a collision costs a query, never a
/// wrong link.
fn content_digest(content_hash: &str) -> u64 {
    let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in content_hash.bytes() {
        digest ^= u64::from(byte);
        digest = digest.wrapping_mul(0x0000_0100_0000_01b3);
    }
    digest
}

/// The stored originals that have a fingerprint, by band: see the module documentation.
#[derive(Default)]
pub(crate) struct NearDuplicateIndex {
    /// False until the first sync, and after a failed ingest (the map may hold posts
    /// its rolled-back transaction inserted).
    loaded: bool,
    /// The file's `dedup_epoch` the map was loaded at.
    epoch: i64,
    /// Every post up to this seq has been seen.
    synced_seq: i64,
    /// `bands[b][value]`: the originals whose band `b` is `value`.
    bands: Vec<Vec<Vec<Entry>>>,
    /// Every original the band lists name, in seq order.
    originals: Vec<Original>,
}

impl NearDuplicateIndex {
    /// Forgets everything; the next [`NearDuplicateIndex::sync`] reloads.
    pub(crate) fn invalidate(&mut self) {
        self.loaded = false;
    }

    /// Runs `body` (an ingest that syncs, looks up and records inserts, then commits);
    /// if it fails, the map may hold posts its rolled-back transaction inserted, so it
    /// is invalidated.
    pub(crate) fn invalidate_unless_committed<T>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let result = body(self);
        if result.is_err() {
            self.invalidate();
        }
        result
    }

    /// Every post up to `seq` has been seen (the ingest inserting them recorded them).
    pub(crate) fn mark_synced(&mut self, seq: i64) {
        self.synced_seq = self.synced_seq.max(seq);
    }

    /// Brings the map up to date with the file. Call inside the write transaction that
    /// will use it, so no other process can add posts meanwhile.
    pub(crate) fn sync(&mut self, conn: &Connection) -> Result<()> {
        let epoch: i64 = conn
            .prepare_cached("SELECT epoch FROM dedup_epoch WHERE id = 1")?
            .query_row([], |row| row.get(0))?;
        if !self.loaded || epoch != self.epoch {
            self.bands = vec![vec![Vec::new(); BAND_VALUES]; 4];
            self.originals = Vec::new();
            self.synced_seq = 0;
            self.epoch = epoch;
            self.loaded = true;
        }
        let newest: i64 = conn
            .prepare_cached("SELECT coalesce(max(seq), 0) FROM posts")?
            .query_row([], |row| row.get(0))?;
        if newest <= self.synced_seq {
            return Ok(());
        }
        let mut statement = conn.prepare_cached(
            "SELECT seq, simhash, published_at, content_hash FROM posts
             WHERE seq > ?1 AND simhash IS NOT NULL AND duplicate_of IS NULL
             ORDER BY seq",
        )?;
        let mut rows = statement.query([self.synced_seq])?;
        let mut loaded = 0usize;
        while let Some(row) = rows.next()? {
            // A time that does not parse is outside every window, as SQLite said.
            let published_secs = row
                .get_ref(2)?
                .as_str()
                .ok()
                .and_then(|text| parse_time(text).ok())
                .and_then(window_secs);
            let content_hash = row.get_ref(3)?.as_str().unwrap_or_default();
            self.add(
                row.get(0)?,
                from_sql(row.get(1)?),
                published_secs,
                content_digest(content_hash),
            );
            loaded += 1;
        }
        if loaded > 1_000 {
            tracing::debug!(originals = loaded, "near-duplicate map loaded");
        }
        self.synced_seq = newest;
        Ok(())
    }

    fn add(&mut self, seq: i64, simhash: u64, published_secs: Option<i64>, content_digest: u64) {
        let Ok(original) = u32::try_from(self.originals.len()) else {
            // Four billion originals: the map no longer holds more, and later posts are
            // not matched against them (a rule of thumb, not a correctness issue).
            tracing::warn!(seq, "near-duplicate map full");
            return;
        };
        self.originals.push(Original {
            seq,
            published_secs: published_secs.unwrap_or(NO_WINDOW_SECS),
            content_digest,
        });
        for (band, value) in simhash_bands(simhash).into_iter().enumerate() {
            self.bands[band][usize::from(value)].push(Entry { simhash, original });
        }
    }

    /// Records a post just inserted as `seq` (an original when its `duplicate_of` is
    /// unset) so later posts of the same batch see it.
    pub(crate) fn record_insert(&mut self, seq: i64, fingerprint: u64, post: &Post) {
        if post.duplicate_of.is_none() {
            self.add(
                seq,
                fingerprint,
                window_secs(post.published_at),
                content_digest(&post.provenance.content_hash),
            );
        }
        self.synced_seq = self.synced_seq.max(seq);
    }

    /// The id of the original that `post` (fingerprint `fingerprint`) copies, if any;
    /// see the module documentation for the rule. The band lists give the candidates
    /// within 3 bits and what the rule needs of them; the file is asked for the id of
    /// the one chosen, and to confirm a same-content match.
    pub(crate) fn find_original(
        &self,
        conn: &Connection,
        post: &Post,
        fingerprint: u64,
    ) -> Result<Option<String>> {
        debug_assert!(self.loaded, "sync before looking up");
        let mut near: Vec<(u32, i64, u32)> = Vec::new();
        for (band, value) in simhash_bands(fingerprint).into_iter().enumerate() {
            // Empty (not indexable) until the first sync.
            let Some(entries) = self
                .bands
                .get(band)
                .and_then(|lists| lists.get(usize::from(value)))
            else {
                continue;
            };
            for &Entry { simhash, original } in entries {
                let distance = hamming(fingerprint, simhash);
                if distance <= NEAR_DUPLICATE_DISTANCE
                    && let Some(details) = self.originals.get(original as usize)
                {
                    near.push((distance, details.seq, original));
                }
            }
        }
        if near.is_empty() {
            return Ok(None);
        }
        // A pair agreeing on several bands is found once per band.
        near.sort_unstable();
        near.dedup_by_key(|(_, seq, _)| *seq);
        let published_secs = window_secs(post.published_at);
        let digest = content_digest(&post.provenance.content_hash);
        // In (distance, seq) order, the first in-window candidate is the best near
        // duplicate, unless a same-content candidate comes later.
        let mut in_window: Vec<i64> = Vec::new();
        for &(_, seq, original) in &near {
            let Some(details) = self.originals.get(original as usize) else {
                continue;
            };
            if details.content_digest == digest {
                let mut same_content = conn
                    .prepare_cached("SELECT id FROM posts WHERE seq = ?1 AND content_hash = ?2")?;
                let id: Option<String> = same_content
                    .query_row(params![seq, post.provenance.content_hash], |row| row.get(0))
                    .optional()?;
                if id.is_some() {
                    return Ok(id);
                }
            }
            let close = published_secs.is_some_and(|secs| {
                details.published_secs != NO_WINDOW_SECS
                    && (details.published_secs - secs).abs() <= WINDOW_SECS
            });
            if close {
                in_window.push(seq);
            }
        }
        // The first in-window candidate still stored (all are: the map follows the
        // file inside this transaction, and erasure reloads it).
        let mut id_of = conn.prepare_cached("SELECT id FROM posts WHERE seq = ?1")?;
        for seq in in_window {
            let id: Option<String> = id_of.query_row([seq], |row| row.get(0)).optional()?;
            if id.is_some() {
                return Ok(id);
            }
        }
        Ok(None)
    }
}

/// After posts were erased: gives each erased original's remaining copies a new
/// original (the oldest stored copy, promoted) and re-points the others to it. Returns
/// the ids of the posts whose `duplicate_of` changed, so derived data (the index) can
/// refresh them. Bumps the epoch when anything was erased.
pub(crate) fn promote_copies(conn: &Connection, erased_ids: &[String]) -> Result<Vec<String>> {
    if erased_ids.is_empty() {
        return Ok(Vec::new());
    }
    bump_epoch(conn)?;
    let mut relinked = Vec::new();
    let mut oldest_copy = conn
        .prepare_cached("SELECT seq, id FROM posts WHERE duplicate_of = ?1 ORDER BY seq LIMIT 1")?;
    let mut copies =
        conn.prepare_cached("SELECT id FROM posts WHERE duplicate_of = ?1 ORDER BY seq")?;
    for erased in erased_ids {
        let Some((seq, promoted)) = oldest_copy
            .query_row([erased], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .optional()?
        else {
            continue;
        };
        conn.prepare_cached("UPDATE posts SET duplicate_of = NULL WHERE seq = ?1")?
            .execute([seq])?;
        conn.prepare_cached("UPDATE post_brands SET original = 1 WHERE seq = ?1")?
            .execute([seq])?;
        relinked.push(promoted.clone());
        let others = copies
            .query_map([erased], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        conn.prepare_cached("UPDATE posts SET duplicate_of = ?2 WHERE duplicate_of = ?1")?
            .execute(params![erased, promoted])?;
        relinked.extend(others);
    }
    Ok(relinked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_seconds_cover_the_years_the_store_orders() {
        use chrono::TimeZone;
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap();
        assert_eq!(window_secs(at), Some(at.timestamp()));
        let first = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(window_secs(first), Some(first.timestamp()));
        let too_late = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(window_secs(too_late), None);
        let too_early = Utc.with_ymd_and_hms(-1, 12, 31, 0, 0, 0).unwrap();
        assert_eq!(window_secs(too_early), None);
    }

    #[test]
    fn content_digest_separates_hashes() {
        let a = vigil_core::sha256_hex("a");
        let b = vigil_core::sha256_hex("b");
        assert_eq!(content_digest(&a), content_digest(&a.clone()));
        assert_ne!(content_digest(&a), content_digest(&b));
        assert_ne!(content_digest(""), content_digest("0"));
    }

    #[test]
    fn sql_round_trip_keeps_all_64_bits() {
        for hash in [0, 1, u64::MAX, 1 << 63, 0x8000_0000_0000_0001] {
            assert_eq!(from_sql(to_sql(hash)), hash);
        }
        assert!(to_sql(u64::MAX) < 0, "the high bit becomes the sign");
    }
}

//! Posts: ingest with deduplication, sentiment updates, and the reads that let the
//! classifier and the index catch up by `seq`.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use vigil_core::{Post, Provenance, RawCapture, Sentiment, SourceCheckpoint, StoredPost};

use crate::corrections::ANALYST_BACKEND;
use crate::privacy::{PostRedactions, RedactionSummary};
use crate::raw::{BatchCaptures, CaptureLinks};
use crate::time::{format_time, json_col, parsed_col, time_col};
use crate::{Result, Store, audit, checkpoints, dedup};

/// What one [`Store::ingest`] call did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestReport {
    /// Posts newly stored, in `seq` order.
    pub stored: Vec<StoredPost>,
    /// Posts skipped because the store already held them (same source and external id,
    /// same canonical URL, or erased earlier), including repeats within the batch.
    pub duplicates: usize,
    /// Of the posts stored, how many were linked as copies of an original
    /// (`duplicate_of` set): stored and searchable, not counted by alert windows.
    pub copies: usize,
    /// SHA-256 of the raw captures newly stored with the posts ([`Store::ingest_with_raw`]).
    pub raw_captures: Vec<String>,
}

pub(crate) const POST_COLUMNS: &str = "seq, id, source, external_id, url, canonical_url, author, \
     title, text, lang, published_at, brands, fetched_at, fetch_url, http_status, content_hash, \
     extraction, sentiment_label, sentiment_score, sentiment_confidence, sentiment_lang, \
     sentiment_backend, sentiment_version, engagement, duplicate_of, raw_sha256";

/// Sets a post's sentiment (`?1` seq, `?2..?7` the sentiment) unless the post's
/// sentiment came from the backend `?8` (an analyst's label is kept; `''` keeps none).
pub(crate) const UPDATE_SENTIMENT: &str = "UPDATE posts SET sentiment_label = ?2,
     sentiment_score = ?3, sentiment_confidence = ?4, sentiment_lang = ?5,
     sentiment_backend = ?6, sentiment_version = ?7
     WHERE seq = ?1 AND sentiment_backend IS NOT ?8";

/// Runs [`UPDATE_SENTIMENT`]; returns the rows changed (0 or 1).
pub(crate) fn update_sentiment(
    statement: &mut rusqlite::Statement<'_>,
    seq: i64,
    sentiment: &Sentiment,
    keep_backend: &str,
) -> rusqlite::Result<usize> {
    statement.execute(params![
        seq,
        sentiment.label.as_str(),
        sentiment.score,
        sentiment.confidence,
        sentiment.lang,
        sentiment.backend,
        sentiment.version,
        keep_backend,
    ])
}

pub(crate) fn post_from_row(row: &Row<'_>) -> rusqlite::Result<StoredPost> {
    let label: Option<String> = row.get(17)?;
    let sentiment = match label {
        None => None,
        Some(_) => Some(Sentiment {
            label: parsed_col(row, 17)?,
            score: row.get(18)?,
            confidence: row.get(19)?,
            lang: row.get(20)?,
            backend: row.get(21)?,
            version: row.get(22)?,
        }),
    };
    Ok(StoredPost {
        seq: row.get(0)?,
        post: Post {
            id: row.get(1)?,
            source: row.get(2)?,
            external_id: row.get(3)?,
            url: row.get(4)?,
            canonical_url: row.get(5)?,
            author: row.get(6)?,
            title: row.get(7)?,
            text: row.get(8)?,
            lang: row.get(9)?,
            published_at: time_col(row, 10)?,
            brands: json_col(row, 11)?,
            provenance: Provenance {
                fetched_at: time_col(row, 12)?,
                fetch_url: row.get(13)?,
                http_status: row.get(14)?,
                content_hash: row.get(15)?,
                extraction: row.get(16)?,
                raw_sha256: row.get(25)?,
            },
            sentiment,
            engagement: row
                .get::<_, Option<String>>(23)?
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|error| {
                    rusqlite::Error::FromSqlConversionFailure(
                        23,
                        rusqlite::types::Type::Text,
                        Box::new(error),
                    )
                })?
                .unwrap_or_default(),
            duplicate_of: row.get(24)?,
        },
    })
}

/// The seq the next stored post gets: above every stored and every erased post, so a
/// seq is never handed out twice. Only valid inside a write transaction.
fn next_seq(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT max(
                 coalesce((SELECT max(seq) FROM posts), 0),
                 coalesce((SELECT max(seq) FROM tombstones), 0)) + 1",
        )?
        .query_row([], |row| row.get(0))?)
}

/// The statements one ingest runs per post, prepared once per batch: looking a cached
/// statement up hashes its SQL text, which cost more than binding the post.
struct PostWriter<'conn> {
    insert_post: rusqlite::CachedStatement<'conn>,
    insert_brand: rusqlite::CachedStatement<'conn>,
    /// `None` while the file holds no tombstone (nothing erased yet): no lookup needed.
    find_tombstone: Option<rusqlite::CachedStatement<'conn>>,
    stored_at: &'conn str,
    /// The last `fetched_at` formatted: a batch from one fetch or one import shares it.
    fetched_at: Option<(chrono::DateTime<chrono::Utc>, String)>,
}

impl<'conn> PostWriter<'conn> {
    /// Call inside the ingest's write transaction, so no tombstone can appear meanwhile.
    fn new(conn: &'conn Connection, stored_at: &'conn str) -> Result<Self> {
        let any_tombstone: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM tombstones)")?
            .query_row([], |row| row.get(0))?;
        let find_tombstone = if any_tombstone {
            Some(conn.prepare_cached("SELECT 1 FROM tombstones WHERE id = ?1")?)
        } else {
            None
        };
        Ok(PostWriter {
            insert_post: conn.prepare_cached(
                "INSERT OR IGNORE INTO posts (seq, id, source, external_id, url, canonical_url,
                     author, title, text, lang, published_at, brands, fetched_at, fetch_url,
                     http_status, content_hash, extraction, sentiment_label, sentiment_score,
                     sentiment_confidence, sentiment_lang, sentiment_backend, sentiment_version,
                     stored_at, engagement, duplicate_of, simhash, raw_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)",
            )?,
            insert_brand: conn.prepare_cached(
                "INSERT OR IGNORE INTO post_brands (seq, brand, published_at, original)
                 VALUES (?1, ?2, ?3, ?4)",
            )?,
            find_tombstone,
            stored_at,
            fetched_at: None,
        })
    }

    /// Whether a post with this id was erased or purged: it must never come back.
    /// (Until schema version 3 a trigger on `posts` said so.)
    fn is_erased(&mut self, id: &str) -> Result<bool> {
        match &mut self.find_tombstone {
            None => Ok(false),
            Some(statement) => Ok(statement.exists([id])?),
        }
    }

    /// Inserts one post as `seq` unless a unique key says it is already known; returns
    /// whether it was stored. `post.duplicate_of` is stored as given (the caller has
    /// decided it) and `fingerprint` is the text's simhash. Tombstones are the caller's
    /// check ([`PostWriter::is_erased`]).
    fn insert(&mut self, seq: i64, post: &Post, fingerprint: Option<u64>) -> Result<bool> {
        let published_at = format_time(post.published_at);
        let fetched_at = match &self.fetched_at {
            Some((time, text)) if *time == post.provenance.fetched_at => text,
            _ => {
                let time = post.provenance.fetched_at;
                &self.fetched_at.insert((time, format_time(time))).1
            }
        };
        let sentiment = post.sentiment.as_ref();
        let inserted = self.insert_post.execute(params![
            seq,
            post.id,
            post.source,
            post.external_id,
            post.url,
            post.canonical_url,
            post.author,
            post.title,
            post.text,
            post.lang,
            published_at,
            brands_json(&post.brands)?,
            fetched_at,
            post.provenance.fetch_url,
            post.provenance.http_status,
            post.provenance.content_hash,
            post.provenance.extraction,
            sentiment.map(|s| s.label.as_str()),
            sentiment.map(|s| s.score),
            sentiment.map(|s| s.confidence),
            sentiment.map(|s| s.lang.as_str()),
            sentiment.map(|s| s.backend.as_str()),
            sentiment.map(|s| s.version.as_str()),
            self.stored_at,
            if post.engagement.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&post.engagement)?)
            },
            post.duplicate_of,
            fingerprint.map(dedup::to_sql),
            post.provenance.raw_sha256,
        ])?;
        if inserted == 0 {
            return Ok(false);
        }
        let original = post.duplicate_of.is_none();
        for brand in &post.brands {
            self.insert_brand
                .execute(params![seq, brand, published_at, original])?;
        }
        Ok(true)
    }
}

/// The `brands` column: a JSON array of the brand names. Names are config keys, so
/// almost always plain text that needs no escaping: that case skips serde.
fn brands_json(brands: &[String]) -> Result<String> {
    let plain = |brand: &String| {
        brand
            .bytes()
            .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\' && byte < 0x7f)
    };
    if !brands.iter().all(plain) {
        return Ok(serde_json::to_string(brands)?);
    }
    let mut json = String::with_capacity(2 + brands.iter().map(|b| b.len() + 3).sum::<usize>());
    json.push('[');
    for (index, brand) in brands.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push('"');
        json.push_str(brand);
        json.push('"');
    }
    json.push(']');
    Ok(json)
}

impl Store {
    /// Stores the posts not already held, saves `checkpoint` (adding the posts newly
    /// stored from its source to `posts_stored`) and records one `ingest` audit entry,
    /// all in one transaction. A batch in which nothing new was stored is not audited:
    /// every `ingest` entry then covers exactly the seq range it names.
    ///
    /// Each stored post's `duplicate_of` is decided here, whatever the caller set: the
    /// id of the original it copies (an earlier post, possibly earlier in the same
    /// batch; see `dedup.rs`), or `None`. The returned posts carry the decision.
    ///
    /// With [`Store::set_privacy`] on, each post's text, title and author are redacted
    /// and pseudonymized before anything else (the returned posts are as stored); its
    /// `content_hash` stays the hash of what was fetched, and the audit entry counts
    /// what was masked under `privacy`.
    ///
    /// This copies every post into the report; [`Store::ingest_owned`] is the same
    /// without the copies, for callers that are done with the batch.
    pub fn ingest(
        &self,
        posts: &[Post],
        checkpoint: Option<&SourceCheckpoint>,
        actor: &str,
    ) -> Result<IngestReport> {
        self.ingest_owned(posts.to_vec(), checkpoint, actor)
    }

    /// [`Store::ingest`], taking the posts by value: the stored ones move into the
    /// report's `stored` (with `duplicate_of` decided), the others are dropped.
    pub fn ingest_owned(
        &self,
        posts: Vec<Post>,
        checkpoint: Option<&SourceCheckpoint>,
        actor: &str,
    ) -> Result<IngestReport> {
        self.ingest_owned_with_raw(posts, &[], checkpoint, actor)
    }

    /// [`Store::ingest`] with the raw captures of the pages the posts came from
    /// (sources with `keep_raw`). Each capture a newly stored post names (by
    /// `provenance.raw_sha256`) is stored zstd-compressed in the same transaction as the
    /// posts; a capture no stored post names (all duplicates) is not kept. A post naming
    /// a capture that is neither in `raw_captures` nor already stored is stored with
    /// `raw_sha256` cleared, and so are the posts of a page that still carries an erased
    /// post (its bytes would bring the erased content back). Privacy
    /// ([`Store::set_privacy`]) redacts the posts, not the captures: those are the bytes
    /// as fetched.
    pub fn ingest_with_raw(
        &self,
        posts: &[Post],
        raw_captures: &[RawCapture],
        checkpoint: Option<&SourceCheckpoint>,
        actor: &str,
    ) -> Result<IngestReport> {
        self.ingest_owned_with_raw(posts.to_vec(), raw_captures, checkpoint, actor)
    }

    /// [`Store::ingest_with_raw`], taking the posts by value.
    pub fn ingest_owned_with_raw(
        &self,
        mut posts: Vec<Post>,
        raw_captures: &[RawCapture],
        checkpoint: Option<&SourceCheckpoint>,
        actor: &str,
    ) -> Result<IngestReport> {
        // Redaction and fingerprints are pure CPU work: done before taking the write
        // lock. Posts are redacted first, so nothing derived from them (fingerprints,
        // the index, alerts) sees what was masked.
        let privacy = self.post_privacy()?;
        let redactions: Vec<PostRedactions> = match &privacy {
            Some(privacy) => posts.iter_mut().map(|post| privacy.apply(post)).collect(),
            None => Vec::new(),
        };
        // So is checking and compressing the raw captures. They are kept as fetched
        // whatever the privacy settings: `keep_raw` asks for the exact bytes, which only
        // `vigil raw` reads (never the index, the API or exports), and erasure removes
        // them with the posts.
        let captures = BatchCaptures::prepare(raw_captures)?;
        let names_captures = posts
            .iter()
            .any(|post| post.provenance.raw_sha256.is_some());
        let fingerprints: Vec<Option<u64>> = posts
            .iter()
            .map(|post| vigil_core::simhash(&post.text))
            .collect();
        let now = self.now();
        let stored_at = format_time(now);
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut near_duplicates = self.near_duplicates();
        // The map follows this transaction's inserts; if the transaction does not
        // commit, it is reloaded from the file next time.
        near_duplicates.invalidate_unless_committed(|near_duplicates| {
            near_duplicates.sync(&tx)?;
            let mut report = IngestReport {
                stored: Vec::with_capacity(posts.len()),
                ..IngestReport::default()
            };
            let mut seq = next_seq(&tx)?;
            let mut writer = PostWriter::new(&tx, &stored_at)?;
            let mut links = if names_captures {
                Some(CaptureLinks::new(&tx, captures, &posts)?)
            } else {
                None
            };
            let mut redacted = RedactionSummary::default();
            for (index, (mut post, fingerprint)) in posts.into_iter().zip(fingerprints).enumerate()
            {
                if writer.is_erased(&post.id)? {
                    report.duplicates += 1;
                    continue;
                }
                if let Some(links) = links.as_mut() {
                    links.settle(&mut post)?;
                }
                post.duplicate_of = match fingerprint {
                    Some(fingerprint) => near_duplicates.find_original(&tx, &post, fingerprint)?,
                    None => None,
                };
                if writer.insert(seq, &post, fingerprint)? {
                    if let Some(fingerprint) = fingerprint {
                        near_duplicates.record_insert(seq, fingerprint, &post);
                    }
                    if let (Some(links), Some(sha256)) =
                        (links.as_mut(), post.provenance.raw_sha256.as_deref())
                    {
                        links.stored_post_names(sha256)?;
                    }
                    if post.duplicate_of.is_some() {
                        report.copies += 1;
                    }
                    if let Some(done) = redactions.get(index) {
                        redacted.add(done);
                    }
                    report.stored.push(StoredPost { seq, post });
                    seq += 1;
                } else {
                    report.duplicates += 1;
                }
            }
            drop(writer);
            // `map` moves the links (and their statements on `tx`) out of scope here.
            if let Some(written) = links.map(|links| links.write(&tx)).transpose()? {
                report.raw_captures = written;
            }
            near_duplicates.mark_synced(seq - 1);
            let privacy_audit = privacy
                .as_ref()
                .map(|privacy| privacy.audit_payload(&redacted));
            self.finish_ingest(tx, now, report, checkpoint, actor, privacy_audit)
        })
    }

    /// Saves the checkpoint, audits and commits an ingest whose posts are inserted.
    fn finish_ingest(
        &self,
        tx: rusqlite::Transaction<'_>,
        now: chrono::DateTime<chrono::Utc>,
        report: IngestReport,
        checkpoint: Option<&SourceCheckpoint>,
        actor: &str,
        privacy: Option<serde_json::Value>,
    ) -> Result<IngestReport> {
        if let Some(checkpoint) = checkpoint {
            let added = report
                .stored
                .iter()
                .filter(|stored| stored.post.source == checkpoint.source)
                .count() as u64;
            checkpoints::save_in(&tx, checkpoint, Some(added))?;
        }
        if let (Some(first), Some(last)) = (report.stored.first(), report.stored.last()) {
            let sources: BTreeSet<&str> = report
                .stored
                .iter()
                .map(|stored| stored.post.source.as_str())
                .collect();
            let mut ids = Sha256::new();
            for stored in &report.stored {
                ids.update(stored.post.id.as_bytes());
                ids.update(b"\n");
            }
            let mut payload = serde_json::json!({
                "sources": sources,
                "stored": report.stored.len(),
                "duplicates": report.duplicates,
                "copies": report.copies,
                "first_seq": first.seq,
                "last_seq": last.seq,
                "ids_sha256": hex::encode(ids.finalize()),
            });
            // What privacy did to the stored posts, as counts: an auditor sees that
            // redaction and pseudonymization happened, never the values.
            if let Some(privacy) = privacy {
                payload["privacy"] = privacy;
            }
            // The raw captures stored with the posts, by hash: when each page's bytes
            // entered the store is on the hash chain.
            if !report.raw_captures.is_empty() {
                payload["raw_captures"] = serde_json::json!(report.raw_captures);
            }
            audit::append_in(&tx, now, "ingest", actor, &payload)?;
        }
        tx.commit()?;
        tracing::debug!(
            stored = report.stored.len(),
            duplicates = report.duplicates,
            copies = report.copies,
            actor,
            "ingest committed"
        );
        Ok(report)
    }

    /// Records classifier verdicts by seq. Seqs no longer present (erased meanwhile)
    /// are skipped, and so are posts an analyst corrected meanwhile.
    pub fn set_sentiments(&self, updates: &[(i64, Sentiment)]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut missing = 0usize;
        {
            let mut update = tx.prepare_cached(UPDATE_SENTIMENT)?;
            for (seq, sentiment) in updates {
                let changed = update_sentiment(&mut update, *seq, sentiment, ANALYST_BACKEND)?;
                if changed == 0 {
                    missing += 1;
                }
            }
        }
        tx.commit()?;
        if missing > 0 {
            tracing::debug!(
                missing,
                "sentiments for posts no longer stored were skipped"
            );
        }
        Ok(())
    }

    /// Posts without a sentiment, oldest seq first: the classifier's backlog.
    pub fn unclassified(&self, limit: usize) -> Result<Vec<StoredPost>> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM posts WHERE sentiment_label IS NULL ORDER BY seq LIMIT ?1"
        );
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&sql)?;
        let rows = statement.query_map([clamp_limit(limit)], post_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Posts with `seq > after_seq`, ascending: index catch-up and reindex.
    pub fn posts_after(&self, after_seq: i64, limit: usize) -> Result<Vec<StoredPost>> {
        let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE seq > ?1 ORDER BY seq LIMIT ?2");
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&sql)?;
        let rows = statement.query_map(params![after_seq, clamp_limit(limit)], post_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Highest seq of a stored post (0 when empty): what `posts_after` can reach. After
    /// the newest posts are erased it is lower than seqs handed out before, never higher.
    pub fn max_seq(&self) -> Result<i64> {
        let conn = self.conn();
        let max: Option<i64> =
            conn.query_row("SELECT max(seq) FROM posts", [], |row| row.get(0))?;
        Ok(max.unwrap_or(0))
    }

    pub fn post_count(&self) -> Result<u64> {
        let conn = self.conn();
        let count: i64 = conn.query_row("SELECT count(*) FROM posts", [], |row| row.get(0))?;
        Ok(count.max(0) as u64)
    }

    /// Every stored post whose author is one of `authors` (exact match), oldest first:
    /// what a data-subject access request returns (`vigil export --author`). A scan of
    /// the posts table: it is run by hand, rarely.
    pub fn posts_by_authors(&self, authors: &[String]) -> Result<Vec<StoredPost>> {
        if authors.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM posts WHERE author IN (SELECT value FROM json_each(?1))
             ORDER BY seq"
        );
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&sql)?;
        let rows = statement.query_map([serde_json::to_string(authors)?], post_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn get_post(&self, id: &str) -> Result<Option<StoredPost>> {
        let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE id = ?1");
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&sql)?;
        Ok(statement.query_row([id], post_from_row).optional()?)
    }

    /// Ids of the posts stored as copies of the post `id` (its `duplicate_of` links),
    /// oldest first; empty for a copy, an unknown id, or an original nobody copied.
    pub fn duplicates_of(&self, id: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut statement =
            conn.prepare_cached("SELECT id FROM posts WHERE duplicate_of = ?1 ORDER BY seq")?;
        let ids = statement
            .query_map([id], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }
}

/// SQLite's LIMIT takes an i64; `usize::MAX` means "all".
pub(crate) fn clamp_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brands_json_is_what_serde_writes() {
        let cases: [&[&str]; 7] = [
            &[],
            &["acme"],
            &["acme", "globex"],
            &["艾克米", "acme"],
            &["say \"hi\""],
            &["back\\slash", "tab\there"],
            &["del\u{7f}", "nul\u{0}"],
        ];
        for brands in cases {
            let brands: Vec<String> = brands.iter().map(|b| b.to_string()).collect();
            assert_eq!(
                brands_json(&brands).unwrap(),
                serde_json::to_string(&brands).unwrap(),
                "{brands:?}"
            );
        }
    }
}

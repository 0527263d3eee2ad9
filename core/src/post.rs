use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Sentiment;

/// One captured mention, normalised from whatever the source gave us.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Stable id derived from `(source, external_id)`: see [`post_id`]. The same item
    /// fetched twice, or replayed after a crash, gets the same id.
    pub id: String,
    /// Name of the configured source that produced the post.
    pub source: String,
    /// The id the source itself gives the item (RSS guid, API id, or the URL).
    pub external_id: String,
    pub url: Option<String>,
    /// `url` with tracking parameters and fragments removed; used for deduplication.
    pub canonical_url: Option<String>,
    pub author: Option<String>,
    pub title: Option<String>,
    pub text: String,
    pub lang: Option<String>,
    pub published_at: DateTime<Utc>,
    /// Brands this post mentions (by query) or belongs to (by the source's `brands` list).
    pub brands: Vec<String>,
    pub provenance: Provenance,
    /// Filled in by the classifier stage.
    pub sentiment: Option<Sentiment>,
    /// Reach and rating as the source reports them (votes, likes, reposts, replies,
    /// stars); all empty for sources that report none.
    #[serde(default)]
    pub engagement: Engagement,
    /// Set by the store at ingest when this post is a copy (same content, or a near
    /// duplicate by simhash) of an earlier post: the earlier post's id. Copies stay
    /// stored and searchable, but alerts count the original only.
    #[serde(default)]
    pub duplicate_of: Option<String>,
}

/// What a source says about a post's reach, and a review's rating. Every field is
/// `None` when the source does not report it (zero means "reported as zero").
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    /// Net votes or points (Reddit score, Hacker News points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    /// Likes, favourites, upvotes counted separately from the score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub likes: Option<i64>,
    /// Reposts, reblogs, boosts, quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reposts: Option<i64>,
    /// Replies or comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<i64>,
    /// A review's star rating as given (App Store 1–5, a page's `rating` field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<f64>,
}

impl Engagement {
    /// True when the source reported nothing.
    pub fn is_empty(&self) -> bool {
        *self == Engagement::default()
    }

    /// One number for ranking by reach: the sum of the reported counts, negatives
    /// (down-voted scores) counted as zero.
    pub fn reach(&self) -> i64 {
        [self.score, self.likes, self.reposts, self.replies]
            .into_iter()
            .flatten()
            .map(|v| v.max(0))
            .fold(0i64, i64::saturating_add)
    }
}

/// Where a post came from and how it was extracted: what an auditor needs to trace it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub fetched_at: DateTime<Utc>,
    /// The URL that was fetched (feed URL, API URL), or `import:FILE` for imports.
    pub fetch_url: String,
    pub http_status: Option<u16>,
    /// SHA-256 of the normalised post content (title + text), hex.
    pub content_hash: String,
    /// The extraction that produced the post, e.g. `rss:atom/entry` or `import:jsonl`.
    pub extraction: String,
    /// SHA-256 (hex) of the [`RawCapture`](crate::RawCapture) of the page the post was
    /// extracted from, for sources that keep raw captures (`keep_raw`); `None` otherwise,
    /// and once the capture is erased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_sha256: Option<String>,
}

/// A post as held by the store: `seq` is the store's insertion order, the watermark
/// every derived structure (index, classifier backlog) catches up to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPost {
    pub seq: i64,
    pub post: Post,
}

/// The stable post id: the first 16 hex digits of SHA-256 over `source \0 external_id`.
pub fn post_id(source: &str, external_id: &str) -> String {
    let digest = crate::sha256_hex(format!("{source}\0{external_id}"));
    digest[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_id_is_stable_and_distinguishes_sources() {
        assert_eq!(post_id("a", "1"), post_id("a", "1"));
        assert_ne!(post_id("a", "1"), post_id("b", "1"));
        assert_ne!(post_id("a\u{0}1", ""), post_id("a", "1"));
        assert_eq!(post_id("a", "1").len(), 16);
    }
}

/// Per-source crawl state, persisted by the store and read back by the crawler so a
/// restart resumes where it left off (conditional GET, high-water mark, health).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceCheckpoint {
    pub source: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Newest `published_at` seen so far.
    pub high_water: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// Items the last successful run extracted (before brand matching and dedup).
    pub items_last_run: u64,
    /// Posts stored from this source, all time.
    pub posts_stored: u64,
    /// Crawler-owned pagination state (JSON), e.g. where an interrupted backfill of an
    /// API listing resumes. Opaque to everything but the crawler.
    pub cursor: Option<String>,
    /// When the current run of failures began (the first failed attempt after a
    /// success, or ever); `None` while the source is healthy.
    pub failing_since: Option<DateTime<Utc>>,
}

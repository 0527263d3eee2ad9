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
}

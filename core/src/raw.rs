//! Raw captures: the exact bytes a page answered, kept for sources with `keep_raw` so
//! an auditor can see what was fetched, not only what was extracted from it.

use chrono::{DateTime, Utc};

/// The body of one fetched page as received: after HTTP content decoding (gzip,
/// brotli), before any character decoding or repair. Posts extracted from the page name
/// it by [`sha256`](RawCapture::sha256) in
/// [`Provenance::raw_sha256`](crate::Provenance::raw_sha256); a multi-page run has one
/// capture per page.
#[derive(Clone, PartialEq, Eq)]
pub struct RawCapture {
    /// Lower-case hex SHA-256 of `bytes`: the capture's identity.
    pub sha256: String,
    /// The configured source that fetched it.
    pub source: String,
    /// The URL the bytes came from (after redirects), as in the posts' provenance.
    pub fetch_url: String,
    pub fetched_at: DateTime<Utc>,
    pub http_status: u16,
    /// The `Content-Type` header as sent, charset included.
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

impl RawCapture {
    /// A capture of `bytes`, hashing them.
    pub fn new(
        source: impl Into<String>,
        fetch_url: impl Into<String>,
        fetched_at: DateTime<Utc>,
        http_status: u16,
        content_type: Option<String>,
        bytes: Vec<u8>,
    ) -> RawCapture {
        RawCapture {
            sha256: crate::sha256_hex(&bytes),
            source: source.into(),
            fetch_url: fetch_url.into(),
            fetched_at,
            http_status,
            content_type,
            bytes,
        }
    }

    /// Whether `sha256` is the hash of `bytes`.
    pub fn is_intact(&self) -> bool {
        crate::sha256_hex(&self.bytes) == self.sha256
    }
}

/// Pages can be megabytes: debug output shows their length, not their bytes.
impl std::fmt::Debug for RawCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawCapture")
            .field("sha256", &self.sha256)
            .field("source", &self.source)
            .field("fetch_url", &self.fetch_url)
            .field("fetched_at", &self.fetched_at)
            .field("http_status", &self.http_status)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_hashes_the_bytes_and_debug_hides_them() {
        let capture = RawCapture::new(
            "news",
            "https://news.example/feed",
            Utc::now(),
            200,
            Some("application/rss+xml".into()),
            b"<rss>secret body</rss>".to_vec(),
        );
        assert_eq!(capture.sha256, crate::sha256_hex(b"<rss>secret body</rss>"));
        assert!(capture.is_intact());
        let debug = format!("{capture:?}");
        assert!(debug.contains("len: 22"), "{debug}");
        assert!(!debug.contains("secret"), "{debug}");
        let mut altered = capture;
        altered.bytes[0] = b'[';
        assert!(!altered.is_intact());
    }
}

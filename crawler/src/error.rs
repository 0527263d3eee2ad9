use std::net::IpAddr;
use std::time::Duration;

use thiserror::Error;

/// Everything a crawl can fail with. [`CrawlError::is_transient`] tells the scheduler
/// whether retrying later can help (timeouts, 5xx, 429, unreachable hosts) or whether the
/// source needs a person (4xx, robots.txt says no, the feed is not a feed).
#[derive(Debug, Error)]
pub enum CrawlError {
    #[error("source {source_name:?}: kind {kind:?} is not supported by this crawler yet")]
    UnsupportedKind {
        source_name: String,
        kind: &'static str,
    },
    #[error("source {source_name:?}: {message}")]
    Config {
        source_name: String,
        message: String,
    },
    #[error("{host} asked us to back off; not before {}s from now", retry_after.as_secs())]
    BackedOff {
        host: String,
        /// What is left of the back-off window.
        retry_after: Duration,
    },
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "refusing to fetch {url}: host {host:?} resolves to the private or local address {addr} (set crawler.allow_private_addresses = true to allow it)"
    )]
    PrivateAddress {
        url: String,
        host: String,
        addr: IpAddr,
    },
    #[error("could not resolve host {host:?}: {message}")]
    Dns { host: String, message: String },
    #[error("robots.txt of {robots_url} disallows fetching {url}")]
    RobotsDisallowed { url: String, robots_url: String },
    #[error(
        "robots.txt at {robots_url} is unavailable ({reason}); not crawling the host until it can be read"
    )]
    RobotsUnavailable { robots_url: String, reason: String },
    #[error("timed out fetching {url}")]
    Timeout { url: String },
    #[error("could not connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("network error fetching {url}: {message}")]
    Network { url: String, message: String },
    #[error("too many redirects (more than {max}) fetching {url}")]
    TooManyRedirects { url: String, max: usize },
    #[error("HTTP {status} from {url}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Http {
        url: String,
        status: u16,
        /// From a `Retry-After` header (429, 503), when the server sent one.
        retry_after: Option<Duration>,
    },
    #[error("response from {url} is larger than the {limit}-byte limit (crawler.max_body_bytes)")]
    TooLarge { url: String, limit: u64 },
    #[error("source {source_name:?}: could not parse the response: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("could not build the HTTP client: {message}")]
    Client { message: String },
    #[error("internal crawler error: {message}")]
    Internal { message: String },
}

impl CrawlError {
    /// True when the same request may well succeed later without anyone changing
    /// anything: the daemon backs off and retries these, and reports the others.
    pub fn is_transient(&self) -> bool {
        match self {
            CrawlError::Timeout { .. }
            | CrawlError::Connect { .. }
            | CrawlError::Network { .. }
            | CrawlError::Dns { .. }
            | CrawlError::RobotsUnavailable { .. }
            | CrawlError::BackedOff { .. } => true,
            CrawlError::Http { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            CrawlError::UnsupportedKind { .. }
            | CrawlError::Config { .. }
            | CrawlError::InvalidUrl { .. }
            | CrawlError::PrivateAddress { .. }
            | CrawlError::RobotsDisallowed { .. }
            | CrawlError::TooManyRedirects { .. }
            | CrawlError::TooLarge { .. }
            | CrawlError::Parse { .. }
            | CrawlError::Client { .. }
            | CrawlError::Internal { .. } => false,
        }
    }

    /// How long the server asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CrawlError::Http { retry_after, .. } => *retry_after,
            CrawlError::BackedOff { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The HTTP status behind the error, if the server answered at all.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            CrawlError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T, E = CrawlError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> CrawlError {
        CrawlError::Http {
            url: "http://example.com/feed".into(),
            status,
            retry_after: None,
        }
    }

    #[test]
    fn transient_classification() {
        assert!(http(500).is_transient());
        assert!(http(503).is_transient());
        assert!(http(429).is_transient());
        assert!(!http(404).is_transient());
        assert!(!http(403).is_transient());
        assert!(CrawlError::Timeout { url: "u".into() }.is_transient());
        assert!(
            !CrawlError::TooLarge {
                url: "u".into(),
                limit: 1
            }
            .is_transient()
        );
        assert!(
            !CrawlError::RobotsDisallowed {
                url: "u".into(),
                robots_url: "r".into()
            }
            .is_transient()
        );
        assert!(
            !CrawlError::Parse {
                source_name: "s".into(),
                message: "m".into()
            }
            .is_transient()
        );
    }

    #[test]
    fn http_message_mentions_retry_after() {
        let err = CrawlError::Http {
            url: "http://x/".into(),
            status: 429,
            retry_after: Some(Duration::from_secs(120)),
        };
        assert_eq!(
            err.to_string(),
            "HTTP 429 from http://x/ (retry after 120s)"
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    }
}

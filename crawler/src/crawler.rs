//! The polite HTTP side: one client, a robots.txt cache, a per-host pace and a global
//! concurrency cap, shared by every source the daemon schedules.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{debug, warn};
use url::Url;
use vigil_config::{BrandConfig, CrawlerConfig, SourceConfig, SourceKind};
use vigil_core::{Post, SourceCheckpoint};

use crate::robots::{MAX_ROBOTS_BYTES, RobotsRules, product_token};
use crate::{BrandMatcher, CrawlError, Result, parse_feed, ssrf};

/// How long a fetched robots.txt is trusted (RFC 9309 suggests at most 24 hours).
const ROBOTS_TTL: Duration = Duration::from_secs(24 * 60 * 60);

const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, application/feed+json;q=0.8, */*;q=0.5";

/// The result of one successful fetch of one source.
#[derive(Debug, Clone)]
pub struct CrawlOutcome {
    /// Posts that matched at least one brand (or belong to the source's brands).
    pub posts: Vec<Post>,
    /// The checkpoint to store: validators, high-water mark, times, failures reset.
    pub checkpoint: SourceCheckpoint,
    pub http_status: u16,
    /// The server answered 304 Not Modified: nothing new, no posts.
    pub not_modified: bool,
    /// Items in the document, before brand matching.
    pub items_seen: usize,
    /// Items dropped because no brand matched.
    pub unmatched: usize,
    /// Recoverable problems (bytes replaced, items salvaged, dates clamped).
    pub warnings: Vec<String>,
}

/// Fetches and parses sources politely. `Send + Sync`: share one behind an `Arc` so
/// every task sees the same robots cache, per-host pace and concurrency cap.
pub struct Crawler {
    client: reqwest::Client,
    config: CrawlerConfig,
    matcher: BrandMatcher,
    robots_agent: String,
    /// Origin → its robots.txt slot. The async mutex makes concurrent crawls of one
    /// host wait for a single robots.txt fetch instead of each fetching it.
    robots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<CachedRobots>>>>>,
    /// `host:port` → when the next request may start.
    hosts: Mutex<HashMap<String, HostPace>>,
    permits: Semaphore,
}

struct CachedRobots {
    fetched: Instant,
    rules: Arc<RobotsRules>,
}

#[derive(Debug, Default)]
struct HostPace {
    next_allowed: Option<Instant>,
    /// From robots.txt `Crawl-delay`; raises the configured interval for this host.
    crawl_delay: Option<Duration>,
}

/// How to treat a body larger than the limit.
#[derive(Debug, Clone, Copy)]
enum BodyLimit {
    /// Abort with [`CrawlError::TooLarge`] (feeds).
    Fail(u64),
    /// Keep the first bytes and stop reading (robots.txt).
    Truncate(usize),
}

struct Fetched {
    status: u16,
    final_url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    content_type: Option<String>,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl Crawler {
    pub fn new(config: &CrawlerConfig, brands: &[BrandConfig]) -> Result<Crawler> {
        let guard = !config.allow_private_addresses;
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.as_str())
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(ssrf::redirect_policy(config.max_redirects, guard))
            .gzip(true)
            .brotli(true)
            // A proxy would make the connection, and the SSRF guard below would be
            // checking the proxy's address instead of the target's.
            .no_proxy();
        if guard {
            builder = builder.dns_resolver(ssrf::GuardedResolver);
        }
        let client = builder.build().map_err(|error| CrawlError::Client {
            message: error_chain(&error),
        })?;
        Ok(Crawler {
            client,
            config: config.clone(),
            matcher: BrandMatcher::new(brands),
            robots_agent: product_token(&config.user_agent),
            robots: Mutex::new(HashMap::new()),
            hosts: Mutex::new(HashMap::new()),
            permits: Semaphore::new(config.max_concurrency.max(1)),
        })
    }

    /// The brand matcher built from the configured brands (also used by imports).
    pub fn matcher(&self) -> &BrandMatcher {
        &self.matcher
    }

    /// One fetch of one source: SSRF guard, robots.txt, per-host pace, conditional GET
    /// with the checkpoint's validators, parse, normalise, brand-match. Never panics.
    pub async fn crawl(
        &self,
        source: &SourceConfig,
        checkpoint: Option<&SourceCheckpoint>,
    ) -> Result<CrawlOutcome, CrawlError> {
        if source.kind != SourceKind::Rss {
            return Err(CrawlError::UnsupportedKind {
                source_name: source.name.clone(),
                kind: source.kind.as_str(),
            });
        }
        let url = parse_http_url(&source.url)?;
        if !self.config.allow_private_addresses {
            ssrf::check_url(&url).await?;
        }
        if self.config.respect_robots {
            self.check_robots(&url).await?;
        }

        let attempted_at = Utc::now();
        let mut conditional = HeaderMap::new();
        conditional.insert(header::ACCEPT, HeaderValue::from_static(FEED_ACCEPT));
        if let Some(previous) = checkpoint {
            insert_header(
                &mut conditional,
                header::IF_NONE_MATCH,
                previous.etag.as_deref(),
            );
            insert_header(
                &mut conditional,
                header::IF_MODIFIED_SINCE,
                previous.last_modified.as_deref(),
            );
        }
        let fetched = self
            .fetch(
                &url,
                conditional,
                BodyLimit::Fail(self.config.max_body_bytes),
            )
            .await?;

        let mut next = checkpoint.cloned().unwrap_or_default();
        next.source = source.name.clone();
        next.last_attempt_at = Some(attempted_at);

        if fetched.status == StatusCode::NOT_MODIFIED.as_u16() {
            debug!(source = %source.name, url = %url, "feed not modified");
            // A 304 may omit the validators; the ones we sent are still current.
            if fetched.etag.is_some() {
                next.etag = fetched.etag;
            }
            if fetched.last_modified.is_some() {
                next.last_modified = fetched.last_modified;
            }
            mark_success(&mut next, attempted_at, 0);
            return Ok(CrawlOutcome {
                posts: Vec::new(),
                checkpoint: next,
                http_status: fetched.status,
                not_modified: true,
                items_seen: 0,
                unmatched: 0,
                warnings: Vec::new(),
            });
        }
        if !(200..300).contains(&fetched.status) {
            return Err(CrawlError::Http {
                url: fetched.final_url,
                status: fetched.status,
                retry_after: fetched.retry_after,
            });
        }

        let status = fetched.status;
        let source_name = source.name.clone();
        let final_url = fetched.final_url.clone();
        let content_type = fetched.content_type.clone();
        let body = fetched.body;
        // Parsing a multi-megabyte feed is CPU work: keep it off the async workers.
        let parsed = tokio::task::spawn_blocking(move || {
            parse_feed(
                &body,
                content_type.as_deref(),
                &source_name,
                &final_url,
                Some(status),
                attempted_at,
            )
        })
        .await
        .map_err(|error| CrawlError::Internal {
            message: format!("feed parsing task failed: {error}"),
        })??;

        let items_seen = parsed.posts.len();
        let newest = parsed.posts.iter().map(|p| p.published_at).max();
        let mut posts = Vec::with_capacity(items_seen);
        let mut unmatched = 0;
        for mut post in parsed.posts {
            post.brands = self
                .matcher
                .brands_for(source, post.title.as_deref(), &post.text);
            if post.brands.is_empty() {
                unmatched += 1;
            } else {
                posts.push(post);
            }
        }

        next.etag = fetched.etag;
        next.last_modified = fetched.last_modified;
        next.high_water = max_time(next.high_water, newest);
        mark_success(&mut next, attempted_at, items_seen as u64);
        for warning in &parsed.warnings {
            warn!(source = %source.name, %warning, "feed parsed with problems");
        }
        debug!(
            source = %source.name,
            status,
            items_seen,
            matched = posts.len(),
            unmatched,
            "feed crawled"
        );
        Ok(CrawlOutcome {
            posts,
            checkpoint: next,
            http_status: status,
            not_modified: false,
            items_seen,
            unmatched,
            warnings: parsed.warnings,
        })
    }

    async fn check_robots(&self, url: &Url) -> Result<(), CrawlError> {
        let origin = origin_of(url);
        let robots_url = format!("{origin}/robots.txt");
        let rules = self.robots_rules(&origin, &robots_url).await?;
        if let Some(delay) = rules.crawl_delay() {
            lock(&self.hosts)
                .entry(host_key(url))
                .or_default()
                .crawl_delay = Some(delay);
        }
        if rules.allowed(url.as_str()) {
            Ok(())
        } else {
            Err(CrawlError::RobotsDisallowed {
                url: url.to_string(),
                robots_url,
            })
        }
    }

    async fn robots_rules(&self, origin: &str, robots_url: &str) -> Result<Arc<RobotsRules>> {
        let slot = lock(&self.robots)
            .entry(origin.to_string())
            .or_default()
            .clone();
        let mut cached = slot.lock().await;
        if let Some(entry) = cached.as_ref()
            && entry.fetched.elapsed() < ROBOTS_TTL
        {
            return Ok(entry.rules.clone());
        }

        let url = parse_http_url(robots_url)?;
        let unreachable = |reason: String| CrawlError::RobotsUnavailable {
            robots_url: robots_url.to_string(),
            reason,
        };
        let outcome = match self
            .fetch(
                &url,
                HeaderMap::new(),
                BodyLimit::Truncate(MAX_ROBOTS_BYTES),
            )
            .await
        {
            Ok(fetched) if (200..300).contains(&fetched.status) => {
                let (rules, warning) = RobotsRules::parse(&self.robots_agent, &fetched.body);
                if let Some(warning) = warning {
                    warn!(robots_url, %warning, "robots.txt problem");
                }
                Ok(rules)
            }
            // RFC 9309: 4xx means "no rules" — except 429, which is the server asking
            // us to slow down, not saying the file does not exist.
            Ok(fetched) if (400..500).contains(&fetched.status) && fetched.status != 429 => {
                Ok(RobotsRules::AllowAll)
            }
            Ok(fetched) => Err(unreachable(format!("HTTP {}", fetched.status))),
            // RFC 9309: a redirect chain too long to follow counts as "unavailable".
            Err(CrawlError::TooManyRedirects { .. }) => Ok(RobotsRules::AllowAll),
            Err(error @ CrawlError::PrivateAddress { .. }) => return Err(error),
            Err(error) => Err(unreachable(error.to_string())),
        };
        match outcome {
            Ok(rules) => {
                let rules = Arc::new(rules);
                *cached = Some(CachedRobots {
                    fetched: Instant::now(),
                    rules: rules.clone(),
                });
                Ok(rules)
            }
            Err(error) => match cached.as_ref() {
                // An expired copy beats refusing to crawl while the server hiccups.
                Some(stale) => {
                    warn!(robots_url, %error, "robots.txt unreachable; using the previous copy");
                    Ok(stale.rules.clone())
                }
                None => Err(error),
            },
        }
    }

    /// One GET: waits for the host's turn and a global permit, then reads the body
    /// (only for 2xx) within `limit`.
    async fn fetch(&self, url: &Url, headers: HeaderMap, limit: BodyLimit) -> Result<Fetched> {
        self.wait_for_host(&host_key(url)).await;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| CrawlError::Internal {
                message: "crawler concurrency semaphore closed".into(),
            })?;
        let url_text = url.to_string();
        let map_error = |error: reqwest::Error| self.map_reqwest_error(&url_text, &error);

        let mut response = self
            .client
            .get(url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(map_error)?;
        let status = response.status().as_u16();
        let final_url = response.url().to_string();
        let response_headers = response.headers();
        let etag = header_text(response_headers, header::ETAG);
        let last_modified = header_text(response_headers, header::LAST_MODIFIED);
        let content_type = header_text(response_headers, header::CONTENT_TYPE);
        let retry_after =
            header_text(response_headers, header::RETRY_AFTER).and_then(|v| parse_retry_after(&v));

        let mut body = Vec::new();
        if (200..300).contains(&status) {
            if let BodyLimit::Fail(max) = limit
                && response.content_length().is_some_and(|len| len > max)
            {
                return Err(CrawlError::TooLarge {
                    url: final_url,
                    limit: max,
                });
            }
            while let Some(chunk) = response.chunk().await.map_err(map_error)? {
                match limit {
                    BodyLimit::Fail(max) => {
                        if (body.len() + chunk.len()) as u64 > max {
                            return Err(CrawlError::TooLarge {
                                url: final_url,
                                limit: max,
                            });
                        }
                        body.extend_from_slice(&chunk);
                    }
                    BodyLimit::Truncate(max) => {
                        let room = max.saturating_sub(body.len());
                        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        if body.len() >= max {
                            break;
                        }
                    }
                }
            }
        }
        Ok(Fetched {
            status,
            final_url,
            etag,
            last_modified,
            content_type,
            retry_after,
            body,
        })
    }

    /// Reserves the host's next slot and sleeps until it. Slots are handed out in call
    /// order, so concurrent crawls of one host queue up instead of bursting.
    async fn wait_for_host(&self, host: &str) {
        let wait = {
            let mut hosts = lock(&self.hosts);
            let pace = hosts.entry(host.to_string()).or_default();
            let interval = pace
                .crawl_delay
                .map_or(self.config.per_host_interval, |delay| {
                    delay.max(self.config.per_host_interval)
                });
            let now = Instant::now();
            let start = pace.next_allowed.map_or(now, |next| next.max(now));
            pace.next_allowed = Some(start + interval);
            start - now
        };
        if !wait.is_zero() {
            debug!(
                host,
                wait_ms = wait.as_millis() as u64,
                "waiting for the host's turn"
            );
            tokio::time::sleep(wait).await;
        }
    }

    fn map_reqwest_error(&self, url: &str, error: &reqwest::Error) -> CrawlError {
        if let Some(forbidden) = ssrf::find_forbidden(error) {
            return CrawlError::PrivateAddress {
                url: url.to_string(),
                host: forbidden.host.clone(),
                addr: forbidden.addr,
            };
        }
        if ssrf::find_too_many_redirects(error).is_some() || error.is_redirect() {
            return CrawlError::TooManyRedirects {
                url: url.to_string(),
                max: self.config.max_redirects,
            };
        }
        if error.is_timeout() {
            return CrawlError::Timeout {
                url: url.to_string(),
            };
        }
        if error.is_connect() {
            return CrawlError::Connect {
                url: url.to_string(),
                message: error_chain(error),
            };
        }
        CrawlError::Network {
            url: url.to_string(),
            message: error_chain(error),
        }
    }
}

fn mark_success(checkpoint: &mut SourceCheckpoint, at: DateTime<Utc>, items: u64) {
    checkpoint.last_success_at = Some(at);
    checkpoint.consecutive_failures = 0;
    checkpoint.items_last_run = items;
}

/// The checkpoint after a failed crawl: attempt and error recorded, failures counted.
/// Validators and the high-water mark are kept so the next attempt stays conditional.
pub fn failed_checkpoint(
    source: &str,
    previous: Option<&SourceCheckpoint>,
    error: &CrawlError,
    at: DateTime<Utc>,
) -> SourceCheckpoint {
    let mut next = previous.cloned().unwrap_or_default();
    next.source = source.to_string();
    next.last_attempt_at = Some(at);
    next.last_error_at = Some(at);
    next.last_error = Some(error.to_string());
    next.consecutive_failures = next.consecutive_failures.saturating_add(1);
    next
}

fn max_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn parse_http_url(raw: &str) -> Result<Url> {
    let url = Url::parse(raw.trim()).map_err(|error| CrawlError::InvalidUrl {
        url: raw.to_string(),
        reason: error.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CrawlError::InvalidUrl {
            url: raw.to_string(),
            reason: format!("scheme {:?} is not http or https", url.scheme()),
        });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(CrawlError::InvalidUrl {
            url: raw.to_string(),
            reason: "no host".into(),
        });
    }
    Ok(url)
}

/// `scheme://host[:port]`, the scope of one robots.txt.
fn origin_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// `host:port`, the unit of politeness.
fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(0)
    )
}

fn insert_header(headers: &mut HeaderMap, name: header::HeaderName, value: Option<&str>) {
    if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(name, value);
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

/// An error and its causes, `: `-separated (reqwest's own message stops at the top).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut current = error.source();
    while let Some(cause) = current {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        current = cause.source();
    }
    message
}

/// Poisoning only means another task panicked mid-update of a plain map; the map is
/// still usable, and the crawler must not start panicking too.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crawler_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Crawler>();
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn urls_and_keys() {
        assert!(parse_http_url("ftp://example.com/feed").is_err());
        assert!(parse_http_url("not a url").is_err());
        let url = parse_http_url("https://Example.com/a/feed.xml?x=1").expect("valid");
        assert_eq!(origin_of(&url), "https://example.com");
        assert_eq!(host_key(&url), "example.com:443");
        let with_port = parse_http_url("http://127.0.0.1:8080/feed").expect("valid");
        assert_eq!(origin_of(&with_port), "http://127.0.0.1:8080");
    }

    #[test]
    fn failure_checkpoint_counts_and_keeps_validators() {
        let previous = SourceCheckpoint {
            source: "s".into(),
            etag: Some("\"v1\"".into()),
            consecutive_failures: 2,
            ..SourceCheckpoint::default()
        };
        let error = CrawlError::Timeout {
            url: "http://x/".into(),
        };
        let at = Utc::now();
        let next = failed_checkpoint("s", Some(&previous), &error, at);
        assert_eq!(next.consecutive_failures, 3);
        assert_eq!(next.etag.as_deref(), Some("\"v1\""));
        assert_eq!(next.last_error_at, Some(at));
        assert!(
            next.last_error
                .as_deref()
                .is_some_and(|e| e.contains("timed out"))
        );
    }
}

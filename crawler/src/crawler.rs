//! The polite HTTP side: one client, a robots.txt cache, a per-host pace and a global
//! concurrency cap, shared by every source the daemon schedules.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{debug, warn};
use url::Url;
use vigil_config::{BrandConfig, CrawlerConfig, SourceConfig};
use vigil_core::{Post, RawCapture, SourceCheckpoint};

use crate::extract::Extractor;
use crate::robots::{MAX_ROBOTS_BYTES, RobotsRules, product_token};
use crate::{BrandMatcher, CrawlError, Page, PageContext, Result, platforms, ssrf};

mod recheck;
pub use recheck::{RecheckOutcome, RecheckPost};

/// How long a fetched robots.txt is trusted (RFC 9309 suggests at most 24 hours).
const ROBOTS_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a host is left alone after a 429 that did not say (`Retry-After`).
const DEFAULT_THROTTLE: Duration = Duration::from_secs(60);

/// A `Retry-After` beyond this is capped: a typo on the server should not silence a
/// source for a month.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Gaps remembered for backfilling; older ones are given up (and said so).
const MAX_GAPS: usize = 8;

/// How long an app-password session token is reused before a new one is made.
const SESSION_TTL: Duration = Duration::from_secs(60 * 60);

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
    /// For a source with `keep_raw`: the bodies of the pages `posts` came from, one per
    /// page, each named by the posts' `provenance.raw_sha256`. Always empty otherwise.
    pub raw_captures: Vec<RawCapture>,
}

/// Fetches and parses sources politely. `Send + Sync`: share one behind an `Arc` so
/// every task sees the same robots cache, per-host pace and concurrency cap.
pub struct Crawler {
    client: reqwest::Client,
    config: CrawlerConfig,
    /// Shared with the blocking tasks that extract and match each page.
    matcher: Arc<BrandMatcher>,
    robots_agent: String,
    /// Origin → its robots.txt slot. The async mutex makes concurrent crawls of one
    /// host wait for a single robots.txt fetch instead of each fetching it.
    robots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<CachedRobots>>>>>,
    /// `host:port` → when the next request may start.
    hosts: Mutex<HashMap<String, HostPace>>,
    permits: Semaphore,
    exemptions: ssrf::Exemptions,
    /// Source name → app-password session token and when it was made.
    sessions: tokio::sync::Mutex<HashMap<String, (String, Instant)>>,
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
    /// Set by 429 (and 503 with `Retry-After`): no request to the host before this.
    backoff_until: Option<Instant>,
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
        let exemptions = ssrf::Exemptions::new(&config.allow_addresses);
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.as_str())
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(ssrf::redirect_policy(
                config.max_redirects,
                guard.then(|| exemptions.clone()),
            ))
            .gzip(true)
            .brotli(true)
            // A proxy would make the connection, and the SSRF guard below would be
            // checking the proxy's address instead of the target's.
            .no_proxy();
        if guard {
            builder = builder.dns_resolver(ssrf::GuardedResolver(exemptions.clone()));
        }
        let client = builder.build().map_err(|error| CrawlError::Client {
            message: error_chain(&error),
        })?;
        Ok(Crawler {
            client,
            config: config.clone(),
            matcher: Arc::new(BrandMatcher::new(brands)),
            robots_agent: product_token(&config.user_agent),
            robots: Mutex::new(HashMap::new()),
            hosts: Mutex::new(HashMap::new()),
            permits: Semaphore::new(config.max_concurrency.max(1)),
            exemptions,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The brand matcher built from the configured brands (also used by imports).
    pub fn matcher(&self) -> &BrandMatcher {
        &self.matcher
    }

    /// One run over one source: its newest page(s), conditional on the checkpoint's
    /// validators, then any gap an earlier run left, within `max_pages` requests.
    /// Every request passes the SSRF guard, robots.txt, the host's pace and back-off,
    /// and is retried (capped exponential back-off with jitter) on timeouts and 5xx.
    /// Never panics.
    pub async fn crawl(
        &self,
        source: &SourceConfig,
        checkpoint: Option<&SourceCheckpoint>,
    ) -> Result<CrawlOutcome, CrawlError> {
        let extractor = Arc::new(Extractor::for_source(source)?);
        let first_url = parse_http_url(&source.url)?;
        let attempted_at = Utc::now();
        let auth = self.authorization(source).await?;
        let previous_high = checkpoint.and_then(|c| c.high_water);
        let mut run = Run {
            budget: if extractor.paginates() {
                source.max_pages.max(1)
            } else {
                1
            },
            ..Run::default()
        };
        let mut cursor = match checkpoint.and_then(|c| c.cursor.as_deref()) {
            None => CursorState::default(),
            Some(text) => serde_json::from_str(text).unwrap_or_else(|error| {
                run.warnings.push(format!(
                    "discarded an unreadable pagination cursor: {error}"
                ));
                CursorState::default()
            }),
        };
        let walker = Walker {
            source,
            extractor: &extractor,
            auth: auth.as_ref(),
        };

        // The head: newest first, until the posts are ones we have (or no next page).
        let validators = checkpoint.map(|c| (c.etag.clone(), c.last_modified.clone()));
        let head = self
            .walk(&walker, first_url, validators, previous_high, &mut run)
            .await?;
        let mut next = checkpoint.cloned().unwrap_or_default();
        next.source = source.name.clone();
        next.last_attempt_at = Some(attempted_at);
        let not_modified = matches!(head, WalkEnd::NotModified);
        match head {
            WalkEnd::NotModified | WalkEnd::Done => {}
            WalkEnd::CutOff { next: resume } | WalkEnd::Interrupted { next: resume } => {
                // Posts between the last page read and the previous run's newest were
                // not fetched: remember where to resume. A first run has no previous
                // newest and does not crawl the whole history.
                if let Some(until) = previous_high {
                    cursor.backfill.insert(
                        0,
                        Gap {
                            next: resume.to_string(),
                            until,
                        },
                    );
                }
            }
        }
        if cursor.backfill.len() > MAX_GAPS {
            let dropped = cursor.backfill.split_off(MAX_GAPS);
            run.warnings.push(format!(
                "gave up backfilling {} older gaps (more than {MAX_GAPS}); raise max_pages",
                dropped.len()
            ));
        }
        // Gaps left by earlier runs (`max_pages` reached, a page that failed), newest
        // first, with what is left of the page budget.
        while run.budget > 0 && !cursor.backfill.is_empty() {
            let gap = cursor.backfill[0].clone();
            let Ok(start) = parse_http_url(&gap.next) else {
                cursor.backfill.remove(0);
                continue;
            };
            match self
                .walk(&walker, start, None, Some(gap.until), &mut run)
                .await
            {
                Ok(WalkEnd::Done | WalkEnd::NotModified) => {
                    cursor.backfill.remove(0);
                }
                Ok(WalkEnd::CutOff { next: resume } | WalkEnd::Interrupted { next: resume }) => {
                    cursor.backfill[0].next = resume.to_string();
                    break;
                }
                Err(error) if error.is_transient() => {
                    run.warnings
                        .push(format!("backfill from {} failed: {error}", gap.next));
                    break;
                }
                Err(error) => {
                    // Retrying will not help (robots.txt says no, 404, not a listing):
                    // give the gap up rather than fail on it at every run.
                    run.warnings
                        .push(format!("gave up backfilling from {}: {error}", gap.next));
                    cursor.backfill.remove(0);
                }
            }
        }

        let items_seen = run.posts.len();
        let newest = run.posts.iter().map(|p| p.published_at).max();
        let mut posts = Vec::with_capacity(items_seen);
        let mut unmatched = 0;
        // Brands were matched with the extraction, off the async workers (fetch_page).
        for post in run.posts {
            if post.brands.is_empty() {
                unmatched += 1;
            } else {
                posts.push(post);
            }
        }
        // Only pages that gave a matched post are worth keeping.
        let mut raw_captures = run.captures;
        if !raw_captures.is_empty() {
            let referenced: HashSet<&str> = posts
                .iter()
                .filter_map(|post| post.provenance.raw_sha256.as_deref())
                .collect();
            raw_captures.retain(|capture| referenced.contains(capture.sha256.as_str()));
        }
        if let Some((etag, last_modified)) = run.validators {
            // A 304 may omit the validators; the ones we sent are still current.
            if etag.is_some() || !not_modified {
                next.etag = etag;
            }
            if last_modified.is_some() || !not_modified {
                next.last_modified = last_modified;
            }
        }
        next.high_water = max_time(next.high_water, newest);
        next.cursor = (!cursor.backfill.is_empty())
            .then(|| serde_json::to_string(&cursor).ok())
            .flatten();
        mark_success(&mut next, attempted_at, items_seen as u64);
        for warning in &run.warnings {
            warn!(source = %source.name, %warning, "source read with problems");
        }
        debug!(
            source = %source.name,
            status = run.first_status,
            pages = run.pages,
            items_seen,
            matched = posts.len(),
            unmatched,
            "source crawled"
        );
        Ok(CrawlOutcome {
            posts,
            checkpoint: next,
            http_status: run.first_status,
            not_modified,
            items_seen,
            unmatched,
            warnings: run.warnings,
            raw_captures,
        })
    }

    /// Follows `next` links from `start` until a page reaches `until` (posts already
    /// held), a page has no next link, or the run's page budget is spent. Fails only if
    /// the first page does; a later failure ends the walk as `Interrupted` at that page.
    async fn walk(
        &self,
        walker: &Walker<'_>,
        start: Url,
        validators: Option<(Option<String>, Option<String>)>,
        until: Option<DateTime<Utc>>,
        run: &mut Run,
    ) -> Result<WalkEnd> {
        let mut url = start;
        let mut first = true;
        loop {
            if run.budget == 0 {
                return Ok(WalkEnd::CutOff { next: url });
            }
            run.budget -= 1;
            let conditional = if first { validators.as_ref() } else { None };
            let fetched = match self.fetch_page(walker, &url, conditional).await {
                Ok(fetched) => fetched,
                Err(error) if first => return Err(error),
                Err(error) => {
                    run.warnings
                        .push(format!("stopped paging at {url}: {error}"));
                    return Ok(WalkEnd::Interrupted { next: url });
                }
            };
            if run.pages == 0 {
                // The run's first page is the head's: its status and validators are
                // the ones the checkpoint keeps.
                run.first_status = fetched.status;
                run.validators = Some((fetched.etag.clone(), fetched.last_modified.clone()));
            }
            run.pages += 1;
            let Some(page) = fetched.page else {
                return Ok(WalkEnd::NotModified);
            };
            run.warnings.extend(page.warnings);
            let reached = until.is_some_and(|u| page.posts.iter().any(|p| p.published_at <= u));
            let mut added = false;
            for post in page.posts {
                if run.seen.insert(post.id.clone()) {
                    run.posts.push(post);
                    added = true;
                }
            }
            // A page whose posts all came earlier in the run (an identical page, or a
            // listing that shifted) is named by none of the run's posts.
            if let Some(capture) = fetched.capture
                && added
                && !run
                    .captures
                    .iter()
                    .any(|kept| kept.sha256 == capture.sha256)
            {
                run.captures.push(capture);
            }
            run.visited.insert(url.to_string());
            let next = page
                .next
                .as_deref()
                .and_then(|next| url.join(next).ok())
                .filter(|next| matches!(next.scheme(), "http" | "https"))
                .filter(|next| !run.visited.contains(next.as_str()));
            match next {
                Some(next) if !reached => {
                    url = next;
                    first = false;
                }
                _ => return Ok(WalkEnd::Done),
            }
        }
    }

    /// One page: guard, robots, fetch (with retries), status check, extraction.
    async fn fetch_page(
        &self,
        walker: &Walker<'_>,
        url: &Url,
        validators: Option<&(Option<String>, Option<String>)>,
    ) -> Result<FetchedPage> {
        if !self.config.allow_private_addresses {
            ssrf::check_url(url, &self.exemptions).await?;
        }
        if self.config.respect_robots {
            self.check_robots(url).await?;
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static(walker.extractor.accept()),
        );
        if let Some(auth) = walker.auth {
            headers.insert(header::AUTHORIZATION, auth.clone());
        }
        if let Some((etag, last_modified)) = validators {
            insert_header(&mut headers, header::IF_NONE_MATCH, etag.as_deref());
            insert_header(
                &mut headers,
                header::IF_MODIFIED_SINCE,
                last_modified.as_deref(),
            );
        }
        let fetched_at = Utc::now();
        let fetched = self
            .fetch_with_retries(
                Method::GET,
                url,
                headers,
                None,
                BodyLimit::Fail(self.config.max_body_bytes),
            )
            .await?;
        if fetched.status == StatusCode::NOT_MODIFIED.as_u16() {
            debug!(source = %walker.source.name, url = %url, "not modified");
            return Ok(FetchedPage {
                status: fetched.status,
                etag: fetched.etag,
                last_modified: fetched.last_modified,
                page: None,
                capture: None,
            });
        }
        if !(200..300).contains(&fetched.status) {
            if fetched.status == 401
                && let Some(name) = walker.source.identifier.as_ref()
            {
                // An expired session: the next run makes a new one.
                debug!(identifier = %name, "session rejected; forgetting it");
                self.sessions.lock().await.remove(&walker.source.name);
            }
            return Err(CrawlError::Http {
                url: fetched.final_url,
                status: fetched.status,
                retry_after: fetched.retry_after,
            });
        }
        let status = fetched.status;
        let source_name = walker.source.name.clone();
        let final_url = fetched.final_url.clone();
        let content_type = fetched.content_type.clone();
        let body = fetched.body;
        let extractor = walker.extractor.clone();
        let matcher = Arc::clone(&self.matcher);
        let source_brands = walker.source.brands.clone();
        let keep_raw = walker.source.keep_raw;
        // Parsing a multi-megabyte document and matching brands over its posts is CPU
        // work: keep it off the async workers.
        let (page, capture) = tokio::task::spawn_blocking(move || {
            let context = PageContext {
                source: &source_name,
                fetch_url: &final_url,
                http_status: Some(status),
                fetched_at,
            };
            let mut page = extractor.extract(&body, content_type.as_deref(), &context)?;
            for post in &mut page.posts {
                post.brands = matcher.brands_listed(&source_brands, post);
            }
            // The body as received (content-decoded, not charset-decoded): what the
            // posts' provenance points at. Without keep_raw it is dropped here as before.
            let capture = keep_raw.then(|| {
                let capture = RawCapture::new(
                    source_name,
                    final_url,
                    fetched_at,
                    status,
                    content_type,
                    body,
                );
                for post in &mut page.posts {
                    post.provenance.raw_sha256 = Some(capture.sha256.clone());
                }
                capture
            });
            Ok::<_, CrawlError>((page, capture))
        })
        .await
        .map_err(|error| CrawlError::Internal {
            message: format!("extraction task failed: {error}"),
        })??;
        Ok(FetchedPage {
            status,
            etag: fetched.etag,
            last_modified: fetched.last_modified,
            page: Some(page),
            capture,
        })
    }

    /// The `Authorization` header a source needs: a bearer token (`token_env`/`token_file`), or
    /// a Bluesky app-password session (made once, reused for an hour).
    async fn authorization(&self, source: &SourceConfig) -> Result<Option<HeaderValue>> {
        let bearer = |token: &str| {
            HeaderValue::from_str(&format!("Bearer {}", token.trim())).map_err(|_| {
                CrawlError::Config {
                    source_name: source.name.clone(),
                    message: "the token contains characters not allowed in a header".into(),
                }
            })
        };
        if let Some(secret) = &source.token {
            let token = secret.resolve().map_err(|message| CrawlError::Config {
                source_name: source.name.clone(),
                message,
            })?;
            return bearer(&token).map(Some);
        }
        let (Some(identifier), Some(secret)) = (&source.identifier, &source.password) else {
            return Ok(None);
        };
        let mut sessions = self.sessions.lock().await;
        if let Some((token, made)) = sessions.get(&source.name)
            && made.elapsed() < SESSION_TTL
        {
            return bearer(token).map(Some);
        }
        let password = secret.resolve().map_err(|message| CrawlError::Config {
            source_name: source.name.clone(),
            message,
        })?;
        let url = parse_http_url(&source.url)?;
        let session_url = url
            .join("/xrpc/com.atproto.server.createSession")
            .map_err(|error| CrawlError::InvalidUrl {
                url: source.url.clone(),
                reason: error.to_string(),
            })?;
        if !self.config.allow_private_addresses {
            ssrf::check_url(&session_url, &self.exemptions).await?;
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let fetched = self
            .fetch_with_retries(
                Method::POST,
                &session_url,
                headers,
                Some(platforms::bluesky::session_request(identifier, &password)),
                BodyLimit::Fail(self.config.max_body_bytes),
            )
            .await?;
        if !(200..300).contains(&fetched.status) {
            return Err(CrawlError::Http {
                url: fetched.final_url,
                status: fetched.status,
                retry_after: fetched.retry_after,
            });
        }
        let token = platforms::bluesky::parse_session(&fetched.body).map_err(|message| {
            CrawlError::Parse {
                source_name: source.name.clone(),
                message: format!("createSession: {message}"),
            }
        })?;
        let header = bearer(&token)?;
        sessions.insert(source.name.clone(), (token, Instant::now()));
        Ok(Some(header))
    }

    /// [`Crawler::fetch`], retried on timeouts, connection errors and 5xx (but not a
    /// 503 that says when to come back) with capped exponential back-off and full
    /// jitter. 4xx are answers, not failures, and are never retried.
    async fn fetch_with_retries(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
        limit: BodyLimit,
    ) -> Result<Fetched> {
        let mut attempt = 0u32;
        loop {
            let result = self
                .fetch(method.clone(), url, headers.clone(), body.clone(), limit)
                .await;
            let retry = match &result {
                Ok(fetched) => {
                    matches!(fetched.status, 500 | 502 | 504 | 408)
                        || (fetched.status == 503 && fetched.retry_after.is_none())
                }
                Err(error) => matches!(
                    error,
                    CrawlError::Timeout { .. }
                        | CrawlError::Connect { .. }
                        | CrawlError::Network { .. }
                ),
            };
            if !retry || attempt >= self.config.retries {
                return result;
            }
            let delay = backoff_delay(
                self.config.retry_initial,
                self.config.retry_max,
                attempt,
                rand::rng().random::<f64>(),
            );
            debug!(url = %url, attempt, delay_ms = delay.as_millis() as u64, "retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
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
            .fetch_with_retries(
                Method::GET,
                &url,
                HeaderMap::new(),
                None,
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
            Err(error @ (CrawlError::PrivateAddress { .. } | CrawlError::BackedOff { .. })) => {
                return Err(error);
            }
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

    /// One request: waits for the host's turn and a global permit, then reads the body
    /// (only for 2xx) within `limit`. A 429, or a 503 with `Retry-After`, backs the
    /// whole host off.
    async fn fetch(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
        limit: BodyLimit,
    ) -> Result<Fetched> {
        let host = host_key(url);
        self.wait_for_host(&host).await?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| CrawlError::Internal {
                message: "crawler concurrency semaphore closed".into(),
            })?;
        let url_text = url.to_string();
        let map_error = |error: reqwest::Error| self.map_reqwest_error(&url_text, &error);

        let mut request = self.client.request(method, url.clone()).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let mut response = request.send().await.map_err(map_error)?;
        let status = response.status().as_u16();
        let final_url = response.url().to_string();
        let response_headers = response.headers();
        let etag = header_text(response_headers, header::ETAG);
        let last_modified = header_text(response_headers, header::LAST_MODIFIED);
        let content_type = header_text(response_headers, header::CONTENT_TYPE);
        let retry_after = header_text(response_headers, header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(&v))
            .map(|d| d.min(MAX_RETRY_AFTER));
        if status == 429 || (status == 503 && retry_after.is_some()) {
            let pause = retry_after.unwrap_or(DEFAULT_THROTTLE);
            warn!(
                host,
                status,
                pause_s = pause.as_secs(),
                "server asked us to back off"
            );
            let mut hosts = lock(&self.hosts);
            let pace = hosts.entry(host.clone()).or_default();
            let until = Instant::now() + pause;
            pace.backoff_until = Some(pace.backoff_until.map_or(until, |u| u.max(until)));
        }

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
    /// order, so concurrent crawls of one host queue up instead of bursting. A host
    /// inside a back-off window is not waited for: the crawl fails with
    /// [`CrawlError::BackedOff`] and the scheduler comes back after the window.
    async fn wait_for_host(&self, host: &str) -> Result<()> {
        let wait = {
            let mut hosts = lock(&self.hosts);
            let pace = hosts.entry(host.to_string()).or_default();
            if let Some(until) = pace.backoff_until {
                let now = Instant::now();
                if until > now {
                    return Err(CrawlError::BackedOff {
                        host: host.to_string(),
                        retry_after: until - now,
                    });
                }
                pace.backoff_until = None;
            }
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
        Ok(())
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

/// What one source and its compiled extraction need on every page.
struct Walker<'a> {
    source: &'a SourceConfig,
    extractor: &'a Arc<Extractor>,
    auth: Option<&'a HeaderValue>,
}

/// What a run has gathered so far, across the head and any backfilled gaps.
#[derive(Default)]
struct Run {
    /// Requests (pages) still allowed in this run.
    budget: u32,
    pages: u32,
    first_status: u16,
    /// ETag and Last-Modified of the head's first page.
    validators: Option<(Option<String>, Option<String>)>,
    posts: Vec<Post>,
    seen: HashSet<String>,
    visited: HashSet<String>,
    warnings: Vec<String>,
    /// `keep_raw`: the pages `posts` came from, each once.
    captures: Vec<RawCapture>,
}

/// How a walk along `next` links ended.
enum WalkEnd {
    /// The first page answered 304.
    NotModified,
    /// Reached posts already held, or the last page.
    Done,
    /// The page budget ran out; `next` is where to go on.
    CutOff { next: Url },
    /// A page after the first failed; `next` is that page.
    Interrupted { next: Url },
}

struct FetchedPage {
    status: u16,
    etag: Option<String>,
    last_modified: Option<String>,
    /// None for 304 Not Modified.
    page: Option<Page>,
    /// The page's raw body, for a source with `keep_raw`.
    capture: Option<RawCapture>,
}

/// Crawler-owned pagination state, kept as JSON in [`SourceCheckpoint::cursor`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CursorState {
    /// Stretches of a listing not yet fetched, newest first.
    #[serde(default)]
    backfill: Vec<Gap>,
}

/// Posts older than a run could page to: resume at `next`, stop at posts published
/// at or before `until` (the newest post held when the gap opened).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Gap {
    next: String,
    until: DateTime<Utc>,
}

/// Delay before retry number `attempt + 1`: `initial · 2^attempt`, capped at `max`,
/// scaled by `jitter` ∈ [0, 1) ("full jitter", so retries from many crawls spread out).
fn backoff_delay(initial: Duration, max: Duration, attempt: u32, jitter: f64) -> Duration {
    let ceiling = initial
        .saturating_mul(1u32 << attempt.min(20))
        .min(max.max(initial));
    ceiling.mul_f64(jitter.clamp(0.0, 1.0))
}

fn mark_success(checkpoint: &mut SourceCheckpoint, at: DateTime<Utc>, items: u64) {
    checkpoint.last_success_at = Some(at);
    checkpoint.consecutive_failures = 0;
    checkpoint.failing_since = None;
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
    // The first failure of a run starts the clock; later ones keep it (a checkpoint from
    // before this was recorded keeps `None`, and health estimates instead).
    if next.consecutive_failures == 0 {
        next.failing_since = Some(at);
    }
    next.consecutive_failures = next.consecutive_failures.saturating_add(1);
    next
}

fn max_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

pub(crate) fn parse_http_url(raw: &str) -> Result<Url> {
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
    fn backoff_doubles_caps_and_jitters() {
        let ms = Duration::from_millis;
        assert_eq!(backoff_delay(ms(100), ms(1000), 0, 1.0), ms(100));
        assert_eq!(backoff_delay(ms(100), ms(1000), 2, 1.0), ms(400));
        assert_eq!(backoff_delay(ms(100), ms(1000), 9, 1.0), ms(1000));
        assert_eq!(backoff_delay(ms(100), ms(1000), 40, 1.0), ms(1000));
        assert_eq!(backoff_delay(ms(100), ms(1000), 2, 0.5), ms(200));
        assert_eq!(backoff_delay(ms(100), ms(1000), 2, 0.0), Duration::ZERO);
    }

    #[test]
    fn cursor_state_round_trips() {
        let state = CursorState {
            backfill: vec![Gap {
                next: "https://example.com/api?after=13".into(),
                until: Utc::now(),
            }],
        };
        let text = serde_json::to_string(&state).expect("json");
        let back: CursorState = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.backfill.len(), 1);
        assert_eq!(back.backfill[0].next, state.backfill[0].next);
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

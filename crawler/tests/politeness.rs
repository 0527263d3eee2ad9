//! The crawler against a fault-injecting HTTP server on loopback: robots.txt answers,
//! 429/503 with both `Retry-After` forms, 5xx retries, the per-host gap, slow and
//! oversized bodies, redirect chains and redirects into refused address ranges, and
//! paging with a resumable cursor. Every assertion is on what the server saw.

mod common;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{Reply, Request, TestServer, ok, status};
use vigil_config::{BrandConfig, CrawlerConfig, SourceConfig, SourceKind};
use vigil_core::{Query, SourceCheckpoint};
use vigil_crawler::{CrawlError, CrawlOutcome, Crawler};

fn config() -> CrawlerConfig {
    CrawlerConfig {
        user_agent: "VigilBot/0.1 (+https://example.com/bot)".into(),
        per_host_interval: Duration::ZERO,
        allow_private_addresses: true,
        max_body_bytes: 64 * 1024,
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        retries: 2,
        retry_initial: Duration::from_millis(10),
        retry_max: Duration::from_millis(40),
        ..CrawlerConfig::default()
    }
}

fn brands() -> Vec<BrandConfig> {
    vec![BrandConfig {
        name: "Acme".into(),
        query_text: "acme".into(),
        query: Query::parse("acme").expect("query"),
        language: None,
    }]
}

fn crawler(config: &CrawlerConfig) -> Crawler {
    Crawler::new(config, &brands()).expect("crawler")
}

/// A JSON API source: `{"items":[{"id","text","at"}], "next": cursor|null}`, the
/// cursor going into `?after=`.
fn json_source(name: &str, url: String, max_pages: u32) -> SourceConfig {
    let mut source = SourceConfig::new(name, SourceKind::Json, url);
    source.items = Some("/items".into());
    source.fields = [("id", "/id"), ("text", "/text"), ("published", "/at")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    source.next_page = Some("/next".into());
    source.max_pages = max_pages;
    source
}

const ROBOTS: &str = "User-agent: *\nDisallow: /private/\n";

fn query_param(path: &str, name: &str) -> Option<String> {
    let query = path.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A newest-first listing over posts `1..=newest` (post n published n minutes after
/// 10:00), two per page, paged by `after=<last id>`.
fn listing(newest: &Arc<Mutex<u32>>) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    let newest = newest.clone();
    move |request| {
        if request.path == "/robots.txt" {
            return ok("text/plain", ROBOTS);
        }
        let top = *newest.lock().expect("newest");
        let start = query_param(&request.path, "after")
            .and_then(|a| a.parse::<u32>().ok())
            .map_or(top, |after| after.saturating_sub(1));
        let ids: Vec<u32> = (1..=start).rev().take(2).collect();
        let items: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| {
                let at = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap()
                    + chrono::Duration::minutes(i64::from(*id));
                serde_json::json!({"id": id, "text": format!("acme post {id}"), "at": at.to_rfc3339()})
            })
            .collect();
        let next = ids.last().filter(|last| **last > 1).map(|l| l.to_string());
        ok(
            "application/json",
            serde_json::json!({"items": items, "next": next}).to_string(),
        )
    }
}

fn ids(outcome: &CrawlOutcome) -> Vec<u32> {
    let mut ids: Vec<u32> = outcome
        .posts
        .iter()
        .map(|p| p.external_id.parse().expect("numeric id"))
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn paging_resumes_gaps_without_missing_or_refetching_everything() {
    let newest = Arc::new(Mutex::new(10));
    let server = TestServer::start(listing(&newest)).await;
    let crawler = crawler(&config());
    let source = json_source("api", server.url("/posts"), 2);

    // First run: two pages, no history backfill.
    let first = crawler.crawl(&source, None).await.expect("first run");
    assert_eq!(ids(&first), vec![7, 8, 9, 10]);
    assert_eq!(first.checkpoint.cursor, None, "a first run opens no gap");
    let requests_after_first = server.hits_prefix("/posts");
    assert_eq!(requests_after_first, 2);

    // Six new posts: the head reads 16..13 and runs out of pages before reaching 10.
    *newest.lock().expect("newest") = 16;
    let second = crawler
        .crawl(&source, Some(&first.checkpoint))
        .await
        .expect("second run");
    assert_eq!(ids(&second), vec![13, 14, 15, 16]);
    let cursor = second.checkpoint.cursor.clone().expect("gap remembered");
    assert!(cursor.contains("after=13"), "{cursor}");

    // Third run: the head is known after one page, the rest of the budget resumes the
    // gap at 12, 11 and stops there (budget), keeping the cursor.
    let third = crawler
        .crawl(&source, Some(&second.checkpoint))
        .await
        .expect("third run");
    assert!(ids(&third).contains(&11) && ids(&third).contains(&12));
    assert!(third.checkpoint.cursor.is_some(), "gap not closed yet");

    // Fourth run: the gap reaches post 10 and closes.
    let fourth = crawler
        .crawl(&source, Some(&third.checkpoint))
        .await
        .expect("fourth run");
    assert!(ids(&fourth).contains(&10));
    assert_eq!(fourth.checkpoint.cursor, None, "gap closed");

    let mut all: Vec<u32> = [&first, &second, &third, &fourth]
        .iter()
        .flat_map(|o| ids(o))
        .collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all, (7..=16).collect::<Vec<_>>(), "nothing missed");
    assert_eq!(
        fourth.checkpoint.high_water,
        Some(Utc.with_ymd_and_hms(2024, 5, 1, 10, 16, 0).unwrap())
    );
    // Each run stays within max_pages requests.
    assert_eq!(server.hits_prefix("/posts"), 8);
}

#[tokio::test]
async fn retry_after_seconds_backs_the_host_off() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/robots.txt" => ok("text/plain", ROBOTS),
        _ => Reply::Full(429, vec![("Retry-After".into(), "1".into())], Vec::new()),
    })
    .await;
    let crawler = crawler(&config());
    let source = json_source("a", server.url("/a"), 1);
    let other = json_source("b", server.url("/b"), 1);
    let err = crawler.crawl(&source, None).await.expect_err("429");
    assert_eq!(err.http_status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    assert!(err.is_transient());
    assert_eq!(server.hits("/a"), 1, "429 is not retried within the crawl");

    let before = server.requests().len();
    for src in [&source, &other] {
        let err = crawler.crawl(src, None).await.expect_err("backed off");
        assert!(matches!(err, CrawlError::BackedOff { .. }), "{err}");
        assert!(
            err.retry_after()
                .is_some_and(|d| d <= Duration::from_secs(1))
        );
    }
    assert_eq!(
        server.requests().len(),
        before,
        "no request at all inside the Retry-After window"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = crawler.crawl(&other, None).await.expect_err("429 again");
    assert_eq!(
        err.http_status(),
        Some(429),
        "allowed again after the window"
    );
    assert_eq!(server.hits("/b"), 1);
}

#[tokio::test]
async fn retry_after_http_date_backs_the_host_off() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/robots.txt" => ok("text/plain", ROBOTS),
        _ => {
            let at = Utc::now() + chrono::Duration::seconds(30);
            let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
            Reply::Full(503, vec![("Retry-After".into(), date)], Vec::new())
        }
    })
    .await;
    let crawler = crawler(&config());
    let source = json_source("a", server.url("/a"), 1);
    let err = crawler.crawl(&source, None).await.expect_err("503");
    assert_eq!(err.http_status(), Some(503));
    let wait = err.retry_after().expect("retry after");
    assert!(
        wait > Duration::from_secs(20) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    assert_eq!(
        server.hits("/a"),
        1,
        "a 503 that says when is not retried early"
    );
    let before = server.requests().len();
    let err = crawler.crawl(&source, None).await.expect_err("backed off");
    assert!(matches!(err, CrawlError::BackedOff { .. }), "{err}");
    assert_eq!(server.requests().len(), before);
}

#[tokio::test]
async fn server_errors_retry_with_backoff_and_client_errors_do_not() {
    let attempts = Arc::new(Mutex::new(0u32));
    let counter = attempts.clone();
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/robots.txt" => status(404),
        "/flaky" => {
            let mut n = counter.lock().expect("n");
            *n += 1;
            if *n == 1 {
                status(502)
            } else {
                ok(
                    "application/json",
                    r#"{"items":[{"id":1,"text":"acme ok","at":"2024-05-01T10:00:00Z"}],"next":null}"#,
                )
            }
        }
        "/down" => status(503),
        _ => status(404),
    })
    .await;
    let crawler = crawler(&config());
    let outcome = crawler
        .crawl(&json_source("flaky", server.url("/flaky"), 1), None)
        .await
        .expect("second attempt succeeds");
    assert_eq!(outcome.posts.len(), 1);
    assert_eq!(server.hits("/flaky"), 2);

    let err = crawler
        .crawl(&json_source("down", server.url("/down"), 1), None)
        .await
        .expect_err("still down");
    assert_eq!(err.http_status(), Some(503));
    assert_eq!(server.hits("/down"), 3, "one try and two retries");

    let err = crawler
        .crawl(&json_source("gone", server.url("/gone"), 1), None)
        .await
        .expect_err("404");
    assert_eq!(err.http_status(), Some(404));
    assert!(!err.is_transient());
    assert_eq!(server.hits("/gone"), 1, "4xx is never retried");
}

#[tokio::test]
async fn robots_timeout_blocks_the_host() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/robots.txt" => Reply::Slow(Duration::from_secs(5)),
        _ => ok("application/json", r#"{"items":[]}"#),
    })
    .await;
    let mut cfg = config();
    cfg.timeout = Duration::from_millis(300);
    cfg.retries = 0;
    let crawler = crawler(&cfg);
    let err = crawler
        .crawl(&json_source("a", server.url("/a"), 1), None)
        .await
        .expect_err("robots unreachable");
    assert!(matches!(err, CrawlError::RobotsUnavailable { .. }), "{err}");
    assert!(err.is_transient());
    assert_eq!(server.hits("/a"), 0, "nothing fetched without robots.txt");
}

#[tokio::test]
async fn disallowed_next_pages_are_never_requested() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/robots.txt" => ok("text/plain", ROBOTS),
        "/list" => ok(
            "application/json",
            r#"{"items":[{"id":1,"text":"acme one","at":"2024-05-01T10:00:00Z"}],"next":"/private/list?page=2"}"#,
        ),
        _ => ok("application/json", r#"{"items":[]}"#),
    })
    .await;
    let crawler = crawler(&config());
    let outcome = crawler
        .crawl(&json_source("a", server.url("/list"), 3), None)
        .await
        .expect("first page kept");
    assert_eq!(outcome.posts.len(), 1);
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.contains("robots.txt") && w.contains("disallows")),
        "{:?}",
        outcome.warnings
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| !r.path.starts_with("/private/")),
        "zero requests to disallowed paths"
    );
}

#[tokio::test]
async fn per_host_gap_is_respected_across_pages() {
    let newest = Arc::new(Mutex::new(10));
    let server = TestServer::start(listing(&newest)).await;
    let mut cfg = config();
    cfg.per_host_interval = Duration::from_millis(150);
    let crawler = crawler(&cfg);
    crawler
        .crawl(&json_source("api", server.url("/posts"), 4), None)
        .await
        .expect("crawl");
    let times: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 5, "robots.txt and four pages");
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        // A lower bound only: a busy machine makes gaps longer, never shorter.
        assert!(gap >= Duration::from_millis(140), "gap {gap:?}");
    }
}

#[tokio::test]
async fn slow_oversized_body_is_cut_at_the_cap() {
    let chunk = 16 * 1024;
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/robots.txt" => status(404),
        _ => Reply::Trickle {
            chunk,
            every: Duration::from_millis(20),
            total: 10 * 1024 * 1024,
        },
    })
    .await;
    let cfg = config();
    let crawler = crawler(&cfg);
    let mut source = SourceConfig::new("page", SourceKind::Html, server.url("/big"));
    source.item = Some("div.review".into());
    let err = crawler.crawl(&source, None).await.expect_err("too large");
    assert!(matches!(err, CrawlError::TooLarge { .. }), "{err}");
    // Give the server a moment to notice the hang-up.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent = server.body_bytes();
    // The crawler stops at the chunk that crosses the cap; the server may have handed
    // the kernel one more chunk before it saw the connection close.
    assert!(
        sent as u64 <= cfg.max_body_bytes + 2 * chunk as u64,
        "server sent {sent} bytes for a {}-byte cap",
        cfg.max_body_bytes
    );
}

#[tokio::test]
async fn redirect_chains_are_followed_within_the_limit() {
    let server = TestServer::start(|request| {
        let path = request.path.as_str();
        match path {
            "/robots.txt" => status(404),
            "/hop0" | "/hop1" | "/hop2" => {
                let n: u32 = path[4..].parse().expect("hop");
                Reply::Full(
                    301,
                    vec![("Location".into(), format!("/hop{}", n + 1))],
                    Vec::new(),
                )
            }
            "/hop3" => ok(
                "application/json",
                r#"{"items":[{"id":1,"text":"acme here","at":"2024-05-01T10:00:00Z"}]}"#,
            ),
            _ => status(404),
        }
    })
    .await;
    let crawler = crawler(&config());
    let outcome = crawler
        .crawl(&json_source("a", server.url("/hop0"), 1), None)
        .await
        .expect("three hops");
    assert_eq!(outcome.posts.len(), 1);
    assert!(outcome.posts[0].provenance.fetch_url.ends_with("/hop3"));

    let mut strict = config();
    strict.max_redirects = 2;
    let err = crawler_with(&strict)
        .crawl(&json_source("a", server.url("/hop0"), 1), None)
        .await
        .expect_err("too many");
    assert!(
        matches!(err, CrawlError::TooManyRedirects { max: 2, .. }),
        "{err}"
    );
}

fn crawler_with(config: &CrawlerConfig) -> Crawler {
    crawler(config)
}

#[tokio::test]
async fn redirects_into_refused_ranges_never_connect() {
    // The source lives on 127.0.0.2, exempted from the guard; 127.0.0.1 is not.
    let trap = TestServer::start(|_| ok("application/json", r#"{"items":[]}"#)).await;
    let trap_url = format!("http://127.0.0.1:{}/steal", trap.addr.port());
    let mapped_url = format!("http://[::ffff:127.0.0.1]:{}/steal", trap.addr.port());
    let named_url = format!("http://localhost:{}/steal", trap.addr.port());
    let exempt: IpAddr = "127.0.0.2".parse().expect("ip");
    let server = TestServer::start_on(exempt, move |request| {
        let to = |location: &str| {
            Reply::Full(302, vec![("Location".into(), location.into())], Vec::new())
        };
        match request.path.as_str() {
            "/robots.txt" => status(404),
            "/to-loopback" => to(&trap_url),
            "/to-mapped" => to(&mapped_url),
            "/to-name" => to(&named_url),
            "/to-metadata" => to("http://169.254.169.254/latest/meta-data/"),
            _ => status(404),
        }
    })
    .await;
    let mut cfg = config();
    cfg.allow_private_addresses = false;
    cfg.allow_addresses = vec![exempt];
    let crawler = crawler(&cfg);
    for path in ["/to-loopback", "/to-mapped", "/to-name", "/to-metadata"] {
        let err = crawler
            .crawl(&json_source("a", server.url(path), 1), None)
            .await
            .expect_err("refused");
        assert!(
            matches!(err, CrawlError::PrivateAddress { .. }),
            "{path}: {err}"
        );
        assert!(!err.is_transient());
    }
    assert_eq!(
        server.hits("/to-loopback"),
        1,
        "the exempt host was reached"
    );
    assert_eq!(trap.connections(), 0, "zero connections to refused ranges");
}

#[tokio::test]
async fn gzip_and_brotli_bodies_are_decoded() {
    use std::io::Write;
    let body = r#"{"items":[{"id":1,"text":"acme compressed","at":"2024-05-01T10:00:00Z"}]}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).expect("gzip");
    let gzipped = gz.finish().expect("gzip");
    let mut brotli = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut brotli, 4096, 5, 22);
        writer.write_all(body.as_bytes()).expect("brotli");
    }
    let server = TestServer::start(move |request| {
        let encoded = |encoding: &str, bytes: &Vec<u8>| {
            Reply::Full(
                200,
                vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Content-Encoding".into(), encoding.into()),
                ],
                bytes.clone(),
            )
        };
        match request.path.as_str() {
            "/robots.txt" => status(404),
            "/gz" => encoded("gzip", &gzipped),
            "/br" => encoded("br", &brotli),
            _ => status(404),
        }
    })
    .await;
    let crawler = crawler(&config());
    for path in ["/gz", "/br"] {
        let outcome = crawler
            .crawl(&json_source("a", server.url(path), 1), None)
            .await
            .expect("decoded");
        assert_eq!(outcome.posts[0].text, "acme compressed", "{path}");
    }
    let accept = server.requests()[1]
        .headers
        .get("accept-encoding")
        .cloned()
        .unwrap_or_default();
    assert!(accept.contains("gzip") && accept.contains("br"), "{accept}");
}

#[tokio::test]
async fn not_modified_costs_nothing() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/robots.txt" => status(404),
        _ if request.headers.get("if-none-match").map(String::as_str) == Some("\"v1\"") => {
            Reply::Full(304, Vec::new(), Vec::new())
        }
        _ => Reply::Full(
            200,
            vec![
                ("Content-Type".into(), "application/json".into()),
                ("ETag".into(), "\"v1\"".into()),
            ],
            br#"{"items":[{"id":1,"text":"acme","at":"2024-05-01T10:00:00Z"}]}"#.to_vec(),
        ),
    })
    .await;
    let crawler = crawler(&config());
    let source = json_source("a", server.url("/a"), 3);
    let first = crawler.crawl(&source, None).await.expect("first");
    assert_eq!(first.checkpoint.etag.as_deref(), Some("\"v1\""));
    let previous = SourceCheckpoint {
        ..first.checkpoint.clone()
    };
    let second = crawler
        .crawl(&source, Some(&previous))
        .await
        .expect("second");
    assert!(second.not_modified);
    assert!(second.posts.is_empty());
    assert_eq!(second.checkpoint.etag.as_deref(), Some("\"v1\""));
    assert_eq!(server.hits("/a"), 2);
}

#[tokio::test]
async fn a_gap_that_cannot_be_fetched_is_given_up_not_retried_forever() {
    let newest = Arc::new(Mutex::new(10));
    let gone = Arc::new(Mutex::new(false));
    let inner = listing(&newest);
    let flag = gone.clone();
    let server = TestServer::start(move |request| {
        if *flag.lock().expect("flag") && request.path.contains("after=13") {
            return status(404);
        }
        inner(request)
    })
    .await;
    let crawler = crawler(&config());
    let source = json_source("api", server.url("/posts"), 2);
    let first = crawler.crawl(&source, None).await.expect("first");
    *newest.lock().expect("newest") = 16;
    let second = crawler
        .crawl(&source, Some(&first.checkpoint))
        .await
        .expect("second");
    assert!(second.checkpoint.cursor.is_some(), "gap opened");

    *gone.lock().expect("flag") = true;
    let third = crawler
        .crawl(&source, Some(&second.checkpoint))
        .await
        .expect("head still fine");
    assert_eq!(third.checkpoint.cursor, None, "a 404 gap is dropped");
    assert!(
        third
            .warnings
            .iter()
            .any(|w| w.contains("gave up backfilling")),
        "{:?}",
        third.warnings
    );
}

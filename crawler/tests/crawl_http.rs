//! The crawler against a real HTTP server on 127.0.0.1: encodings, brand matching,
//! conditional GET, robots.txt, errors, limits and the SSRF guard.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Reply, TestServer, ok, status};
use vigil_config::{BrandConfig, CrawlerConfig, SourceConfig, SourceKind};
use vigil_core::{Query, SourceCheckpoint, post_id};
use vigil_crawler::{CrawlError, Crawler};

const ROBOTS: &str = "User-agent: *\nDisallow: /private/\n";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn gbk_feed() -> Vec<u8> {
    let xml = r#"<?xml version="1.0" encoding="gbk"?>
<rss version="2.0"><channel><title>家电新闻</title><language>zh-cn</language>
<item><guid>gbk-1</guid><title>艾克米水壶质量问题</title>
<link>https://zh.example.com/1</link>
<description>消费者投诉艾克米水壶漏水，要求召回。</description>
<pubDate>Mon, 06 May 2024 08:00:00 GMT</pubDate></item>
<item><guid>gbk-2</guid><title>今日天气</title><description>晴。</description></item>
</channel></rss>"#;
    let (bytes, _, had_unmappable) = encoding_rs::GBK.encode(xml);
    assert!(!had_unmappable);
    bytes.into_owned()
}

fn config() -> CrawlerConfig {
    CrawlerConfig {
        user_agent: "VigilBot/0.1 (+https://example.com/bot)".into(),
        max_concurrency: 4,
        per_host_interval: Duration::ZERO,
        respect_robots: true,
        allow_private_addresses: true,
        max_body_bytes: 64 * 1024,
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        max_redirects: 5,
        retry_initial: Duration::from_millis(10),
        retry_max: Duration::from_millis(50),
        ..CrawlerConfig::default()
    }
}

fn brands() -> Vec<BrandConfig> {
    [
        ("Acme", r#"acme OR 艾克米 NOT "acme of skill""#),
        ("Globex", "globex"),
    ]
    .into_iter()
    .map(|(name, query)| BrandConfig {
        name: name.into(),
        query_text: query.into(),
        query: Query::parse(query).expect("valid query"),
        language: None,
    })
    .collect()
}

fn source(name: &str, url: String) -> SourceConfig {
    SourceConfig::new(name, SourceKind::Rss, url)
}

/// The server every test shares the shape of: feeds, robots.txt and failure modes.
async fn feed_server() -> TestServer {
    let mixed = fixture("rss2_mixed.xml");
    let atom = fixture("atom.xml");
    let rss1 = fixture("rss1.xml");
    let truncated = fixture("truncated.xml");
    let gbk = gbk_feed();
    TestServer::start(move |request| match request.path.as_str() {
        "/robots.txt" => ok("text/plain", ROBOTS),
        "/feed.xml" => {
            if request.headers.get("if-none-match").map(String::as_str) == Some("\"v1\"") {
                return Reply::Full(304, vec![("ETag".into(), "\"v1\"".into())], Vec::new());
            }
            Reply::Full(
                200,
                vec![
                    (
                        "Content-Type".into(),
                        "application/rss+xml; charset=utf-8".into(),
                    ),
                    ("ETag".into(), "\"v1\"".into()),
                    (
                        "Last-Modified".into(),
                        "Fri, 03 May 2024 08:00:00 GMT".into(),
                    ),
                ],
                mixed.clone(),
            )
        }
        "/gbk.xml" => ok("text/xml", gbk.clone()),
        "/atom.xml" => ok("application/atom+xml", atom.clone()),
        "/rss1.xml" => ok("application/rdf+xml", rss1.clone()),
        "/private/feed.xml" => ok("application/rss+xml", mixed.clone()),
        "/error" => status(500),
        "/gone" => status(404),
        "/busy" => Reply::Full(429, vec![("Retry-After".into(), "7".into())], Vec::new()),
        "/slow" => Reply::Slow(Duration::from_secs(30)),
        "/huge" => ok("application/rss+xml", vec![b' '; 200 * 1024]),
        "/huge-unsized" => Reply::Unsized(1024 * 1024),
        "/malformed" => ok("application/rss+xml", truncated.clone()),
        _ => status(404),
    })
    .await
}

#[tokio::test]
async fn utf8_feed_is_parsed_matched_and_checkpointed() {
    let server = feed_server().await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");
    let src = source("news", server.url("/feed.xml"));
    let outcome = crawler.crawl(&src, None).await.expect("crawl");

    assert_eq!(outcome.http_status, 200);
    assert!(!outcome.not_modified);
    assert_eq!(outcome.items_seen, 5);
    assert_eq!(
        outcome.unmatched, 2,
        "weather and 'the acme of skill' match no brand"
    );
    let ids: Vec<&str> = outcome
        .posts
        .iter()
        .map(|p| p.external_id.as_str())
        .collect();
    assert_eq!(ids, ["acme-1", "acme-2", "globex-1"]);

    let english = &outcome.posts[0];
    assert_eq!(english.id, post_id("news", "acme-1"));
    assert_eq!(english.brands, ["Acme"]);
    assert_eq!(
        english.text,
        "The Acme kettle boils in 90 seconds.\nIt is loud."
    );
    assert_eq!(english.author.as_deref(), Some("Jane Doe"));
    let expected_url = server.url("/reviews/acme-kettle?utm_source=rss&utm_medium=feed");
    assert_eq!(english.url.as_deref(), Some(expected_url.as_str()));
    let expected_canonical = server.url("/reviews/acme-kettle");
    assert_eq!(
        english.canonical_url.as_deref(),
        Some(expected_canonical.as_str())
    );
    assert_eq!(english.lang.as_deref(), Some("en"));
    assert_eq!(english.provenance.fetch_url, server.url("/feed.xml"));
    assert_eq!(english.provenance.http_status, Some(200));
    assert_eq!(english.provenance.extraction, "rss:rss2/item");

    let chinese = &outcome.posts[1];
    assert_eq!(chinese.brands, ["Acme"]);
    assert_eq!(chinese.title.as_deref(), Some("艾克米水壶召回"));
    assert_eq!(chinese.text, "艾克米宣布召回部分水壶，用户反映底座过热。");
    assert_eq!(
        chinese.lang.as_deref(),
        Some("zh"),
        "Chinese item in an en-us feed"
    );
    assert_eq!(
        chinese.published_at.to_rfc3339(),
        "2024-05-02T02:30:00+00:00"
    );
    assert_eq!(outcome.posts[2].brands, ["Globex"]);

    let checkpoint = &outcome.checkpoint;
    assert_eq!(checkpoint.source, "news");
    assert_eq!(checkpoint.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        checkpoint.last_modified.as_deref(),
        Some("Fri, 03 May 2024 08:00:00 GMT")
    );
    assert_eq!(
        checkpoint.high_water.map(|t| t.to_rfc3339()).as_deref(),
        Some("2024-05-03T08:00:00+00:00")
    );
    assert_eq!(checkpoint.items_last_run, 5);
    assert!(checkpoint.last_success_at.is_some());
    assert_eq!(checkpoint.last_attempt_at, checkpoint.last_success_at);
}

#[tokio::test]
async fn etag_round_trip_gives_not_modified() {
    let server = feed_server().await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");
    let src = source("news", server.url("/feed.xml"));
    let first = crawler.crawl(&src, None).await.expect("first crawl");

    let previous = SourceCheckpoint {
        consecutive_failures: 3,
        ..first.checkpoint.clone()
    };
    let second = crawler
        .crawl(&src, Some(&previous))
        .await
        .expect("second crawl");
    assert!(second.not_modified);
    assert_eq!(second.http_status, 304);
    assert!(second.posts.is_empty());
    assert_eq!(second.items_seen, 0);
    assert_eq!(second.checkpoint.etag.as_deref(), Some("\"v1\""));
    assert_eq!(second.checkpoint.high_water, first.checkpoint.high_water);
    assert_eq!(
        second.checkpoint.consecutive_failures, 0,
        "success resets failures"
    );

    let feed_requests: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/feed.xml")
        .collect();
    assert_eq!(feed_requests.len(), 2);
    assert_eq!(feed_requests[0].headers.get("if-none-match"), None);
    assert_eq!(
        feed_requests[1]
            .headers
            .get("if-none-match")
            .map(String::as_str),
        Some("\"v1\"")
    );
    assert_eq!(
        feed_requests[1]
            .headers
            .get("if-modified-since")
            .map(String::as_str),
        Some("Fri, 03 May 2024 08:00:00 GMT")
    );
    assert!(
        feed_requests[0]
            .headers
            .get("user-agent")
            .is_some_and(|ua| ua.starts_with("VigilBot/0.1"))
    );
}

#[tokio::test]
async fn gbk_feed_decodes_to_chinese() {
    let server = feed_server().await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");
    let outcome = crawler
        .crawl(&source("zh", server.url("/gbk.xml")), None)
        .await
        .expect("crawl");
    assert_eq!(outcome.items_seen, 2);
    assert_eq!(outcome.unmatched, 1);
    assert!(
        outcome.warnings.iter().all(|w| !w.contains("U+FFFD")),
        "{:?}",
        outcome.warnings
    );
    let post = &outcome.posts[0];
    assert_eq!(post.title.as_deref(), Some("艾克米水壶质量问题"));
    assert_eq!(post.text, "消费者投诉艾克米水壶漏水，要求召回。");
    assert_eq!(post.brands, ["Acme"]);
    assert_eq!(post.lang.as_deref(), Some("zh"));
}

#[tokio::test]
async fn atom_and_rss1_feeds() {
    let server = feed_server().await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");

    let atom = crawler
        .crawl(&source("forum", server.url("/atom.xml")), None)
        .await
        .expect("atom");
    assert_eq!(atom.posts.len(), 1);
    let post = &atom.posts[0];
    assert_eq!(post.title.as_deref(), Some("My Acme toaster caught fire"));
    assert_eq!(post.text, "Smoke everywhere. Never buying Acme again.");
    assert_eq!(post.url.as_deref(), Some("https://forum.example.com/t/7"));
    assert_eq!(post.author.as_deref(), Some("toastfan"));
    assert_eq!(post.provenance.extraction, "rss:atom/entry");

    let rss1 = crawler
        .crawl(&source("blog", server.url("/rss1.xml")), None)
        .await
        .expect("rss1");
    assert_eq!(rss1.posts.len(), 1);
    let post = &rss1.posts[0];
    assert_eq!(post.title.as_deref(), Some("Acme blender, one year later"));
    assert_eq!(post.author.as_deref(), Some("Sam"));
    assert_eq!(post.published_at.to_rfc3339(), "2024-05-05T08:00:00+00:00");
    assert_eq!(post.provenance.extraction, "rss:rss1/item");
}

#[tokio::test]
async fn source_brands_assign_without_matching() {
    let server = feed_server().await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");
    let mut src = source("globex-news", server.url("/feed.xml"));
    src.brands = vec!["Globex".into()];
    let outcome = crawler.crawl(&src, None).await.expect("crawl");
    assert_eq!(outcome.posts.len(), 5);
    assert_eq!(outcome.unmatched, 0);
    assert!(outcome.posts.iter().all(|p| p.brands == ["Globex"]));
}

#[tokio::test]
async fn robots_disallow_blocks_without_fetching_and_is_cached() {
    let server = feed_server().await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");
    let blocked = source("private", server.url("/private/feed.xml"));
    let err = crawler.crawl(&blocked, None).await.expect_err("disallowed");
    assert!(matches!(err, CrawlError::RobotsDisallowed { .. }), "{err}");
    assert!(!err.is_transient());
    assert_eq!(server.hits("/private/feed.xml"), 0);

    crawler
        .crawl(&source("news", server.url("/feed.xml")), None)
        .await
        .expect("allowed path");
    assert_eq!(
        server.hits("/robots.txt"),
        1,
        "robots.txt is fetched once per host"
    );
    assert_eq!(server.hits("/feed.xml"), 1);

    let mut ignoring = config();
    ignoring.respect_robots = false;
    let impolite = Crawler::new(&ignoring, &brands()).expect("crawler");
    impolite
        .crawl(&blocked, None)
        .await
        .expect("robots not consulted");
    assert_eq!(server.hits("/private/feed.xml"), 1);
    assert_eq!(server.hits("/robots.txt"), 1);
}

#[tokio::test]
async fn robots_5xx_blocks_and_4xx_allows() {
    let broken = TestServer::start(|request| match request.path.as_str() {
        "/robots.txt" => status(503),
        _ => ok(
            "application/rss+xml",
            "<rss version=\"2.0\"><channel></channel></rss>",
        ),
    })
    .await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");
    let err = crawler
        .crawl(&source("s", broken.url("/feed.xml")), None)
        .await
        .expect_err("robots unreachable");
    assert!(matches!(err, CrawlError::RobotsUnavailable { .. }), "{err}");
    assert!(err.is_transient());
    assert_eq!(broken.hits("/feed.xml"), 0);

    let missing = TestServer::start(|request| match request.path.as_str() {
        "/robots.txt" => status(404),
        _ => ok(
            "application/rss+xml",
            "<rss version=\"2.0\"><channel></channel></rss>",
        ),
    })
    .await;
    let outcome = crawler
        .crawl(&source("s", missing.url("/feed.xml")), None)
        .await
        .expect("no robots.txt means allowed");
    assert_eq!(outcome.items_seen, 0);
}

#[tokio::test]
async fn real_robots_files_are_honoured() {
    let Some(shared) = shared_dir() else {
        println!("skipped: ../shared not present");
        return;
    };
    let twitter =
        std::fs::read(shared.join("fixtures/robots/crawlercommons_twitter.com-robots.txt"))
            .expect("twitter robots");
    let server = TestServer::start(move |request| match request.path.as_str() {
        "/robots.txt" => ok("text/plain", twitter.clone()),
        _ => ok(
            "application/rss+xml",
            "<rss version=\"2.0\"><channel></channel></rss>",
        ),
    })
    .await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");
    crawler
        .crawl(&source("s", server.url("/search.rss")), None)
        .await
        .expect("plain path allowed");
    let err = crawler
        .crawl(&source("s", server.url("/search.rss?q=acme")), None)
        .await
        .expect_err("Disallow: /*? for every bot");
    assert!(matches!(err, CrawlError::RobotsDisallowed { .. }), "{err}");

    // Every robots fixture must load without panicking and leave the crawler working.
    let mut files: Vec<_> = std::fs::read_dir(shared.join("fixtures/robots"))
        .expect("robots dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for file in files {
        let body = std::fs::read(&file).expect("read");
        let server = TestServer::start(move |request| match request.path.as_str() {
            "/robots.txt" => ok("text/plain", body.clone()),
            _ => ok(
                "application/rss+xml",
                "<rss version=\"2.0\"><channel></channel></rss>",
            ),
        })
        .await;
        let result = crawler
            .crawl(&source("s", server.url("/feed.xml")), None)
            .await;
        assert!(
            matches!(result, Ok(_) | Err(CrawlError::RobotsDisallowed { .. })),
            "{}: {result:?}",
            file.display()
        );
    }
}

#[tokio::test]
async fn http_errors_are_classified() {
    let server = feed_server().await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");

    let err = crawler
        .crawl(&source("s", server.url("/error")), None)
        .await
        .expect_err("500");
    assert!(matches!(err, CrawlError::Http { status: 500, .. }), "{err}");
    assert!(err.is_transient());

    let err = crawler
        .crawl(&source("s", server.url("/gone")), None)
        .await
        .expect_err("404");
    assert!(matches!(err, CrawlError::Http { status: 404, .. }), "{err}");
    assert!(!err.is_transient());

    let err = crawler
        .crawl(&source("s", server.url("/busy")), None)
        .await
        .expect_err("429");
    assert!(err.is_transient());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn slow_server_times_out_as_transient() {
    let server = feed_server().await;
    let mut impatient = config();
    impatient.timeout = Duration::from_millis(300);
    let crawler = Crawler::new(&impatient, &brands()).expect("crawler");
    let err = crawler
        .crawl(&source("s", server.url("/slow")), None)
        .await
        .expect_err("timeout");
    assert!(matches!(err, CrawlError::Timeout { .. }), "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = feed_server().await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");
    for path in ["/huge", "/huge-unsized"] {
        let err = crawler
            .crawl(&source("s", server.url(path)), None)
            .await
            .expect_err("too large");
        assert!(
            matches!(err, CrawlError::TooLarge { limit: 65536, .. }),
            "{path}: {err}"
        );
        assert!(!err.is_transient());
    }
}

#[tokio::test]
async fn malformed_feed_is_a_parse_error() {
    let server = feed_server().await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");
    let err = crawler
        .crawl(&source("broken-feed", server.url("/malformed")), None)
        .await
        .expect_err("truncated before the first item closes");
    assert!(matches!(err, CrawlError::Parse { .. }), "{err}");
    assert!(err.to_string().contains("broken-feed"), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn private_addresses_are_refused_before_connecting() {
    let server = feed_server().await;
    let mut strict = config();
    strict.allow_private_addresses = false;
    let crawler = Crawler::new(&strict, &brands()).expect("crawler");
    let err = crawler
        .crawl(&source("s", server.url("/feed.xml")), None)
        .await
        .expect_err("loopback refused");
    match &err {
        CrawlError::PrivateAddress { addr, .. } => assert!(addr.is_loopback()),
        other => panic!("expected PrivateAddress, got {other}"),
    }
    assert!(!err.is_transient());
    assert!(
        server.requests().is_empty(),
        "nothing was sent, not even robots.txt"
    );

    let by_name = format!("http://localhost:{}/feed.xml", server.addr.port());
    let err = crawler
        .crawl(&source("s", by_name), None)
        .await
        .expect_err("localhost refused");
    assert!(matches!(err, CrawlError::PrivateAddress { .. }), "{err}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn redirects_are_followed_and_recorded() {
    // The per-hop private-address refusal is unit-tested in src/ssrf.rs: from loopback
    // the first hop is already private, so it cannot be reached end to end here.
    let target = feed_server().await;
    let location = target.url("/feed.xml");
    let redirector = TestServer::start(move |_| {
        Reply::Full(302, vec![("Location".into(), location.clone())], Vec::new())
    })
    .await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");
    let outcome = crawler
        .crawl(&source("s", redirector.url("/feed")), None)
        .await
        .expect("redirect followed");
    assert_eq!(outcome.items_seen, 5);
    assert_eq!(
        outcome.posts[0].provenance.fetch_url,
        target.url("/feed.xml")
    );
}

#[tokio::test]
async fn redirect_loops_stop() {
    let looping = TestServer::start(|request| {
        let next = if request.path == "/a" { "/b" } else { "/a" };
        Reply::Full(302, vec![("Location".into(), next.into())], Vec::new())
    })
    .await;
    let mut cfg = config();
    cfg.respect_robots = false;
    let crawler = Crawler::new(&cfg, &brands()).expect("crawler");
    let err = crawler
        .crawl(&source("s", looping.url("/a")), None)
        .await
        .expect_err("loop");
    assert!(
        matches!(err, CrawlError::TooManyRedirects { max: 5, .. }),
        "{err}"
    );
    assert!(looping.requests().len() <= 6);
}

#[tokio::test]
async fn bad_selectors_are_config_errors_before_any_request() {
    let server = feed_server().await;
    let crawler = Crawler::new(&config(), &brands()).expect("crawler");
    let mut src = source("reviews", server.url("/reviews"));
    src.kind = SourceKind::Html;
    src.item = Some("div.review[".into());
    let err = crawler.crawl(&src, None).await.expect_err("bad selector");
    assert!(matches!(err, CrawlError::Config { .. }), "{err}");
    assert!(err.to_string().contains("div.review["), "{err}");
    assert!(!err.is_transient());
    assert!(vigil_crawler::check_source(&src).is_err());
    assert!(server.requests().is_empty(), "nothing fetched");
}

#[tokio::test]
async fn concurrent_crawls_share_one_robots_fetch() {
    let server = feed_server().await;
    let crawler = Arc::new(Crawler::new(&config(), &brands()).expect("crawler"));
    let mut tasks = Vec::new();
    for path in ["/feed.xml", "/atom.xml", "/rss1.xml", "/gbk.xml"] {
        let crawler = crawler.clone();
        let src = source(path, server.url(path));
        tasks.push(tokio::spawn(async move { crawler.crawl(&src, None).await }));
    }
    for task in tasks {
        task.await.expect("join").expect("crawl");
    }
    assert_eq!(server.hits("/robots.txt"), 1);
}

fn shared_dir() -> Option<std::path::PathBuf> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    shared.exists().then_some(shared)
}

/// Pacing is checked by what has *not* happened: with an hour between requests the
/// second request to the host cannot have been sent, however slow the machine is.
#[tokio::test]
async fn per_host_interval_delays_the_same_host_only() {
    let server = feed_server().await;
    let other_host = feed_server().await;
    let mut cfg = config();
    cfg.per_host_interval = Duration::from_secs(3600);
    cfg.respect_robots = false;
    let crawler = Arc::new(Crawler::new(&cfg, &brands()).expect("crawler"));

    crawler
        .crawl(&source("a", server.url("/feed.xml")), None)
        .await
        .expect("first request goes out at once");
    crawler
        .crawl(&source("b", other_host.url("/atom.xml")), None)
        .await
        .expect("another host (port) is not held back");

    let queued = {
        let crawler = crawler.clone();
        let src = source("c", server.url("/atom.xml"));
        tokio::spawn(async move { crawler.crawl(&src, None).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!queued.is_finished());
    assert_eq!(
        server.hits("/atom.xml"),
        0,
        "second request to the host must wait"
    );
    queued.abort();
}

#[tokio::test]
async fn crawl_delay_raises_the_interval() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/robots.txt" => ok(
            "text/plain",
            "User-agent: *\nCrawl-delay: 3600\nDisallow: /private/\n",
        ),
        _ => ok(
            "application/rss+xml",
            "<rss version=\"2.0\"><channel></channel></rss>",
        ),
    })
    .await;
    let crawler = Arc::new(Crawler::new(&config(), &brands()).expect("crawler"));
    crawler
        .crawl(&source("a", server.url("/one.xml")), None)
        .await
        .expect("first crawl");
    let queued = {
        let crawler = crawler.clone();
        let src = source("b", server.url("/two.xml"));
        tokio::spawn(async move { crawler.crawl(&src, None).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!queued.is_finished());
    assert_eq!(
        server.hits("/two.xml"),
        0,
        "Crawl-delay (capped at 60 s) holds it back"
    );
    queued.abort();
}

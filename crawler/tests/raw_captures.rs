//! `keep_raw` sources: the crawler hands back the exact body of every page its posts
//! came from (after HTTP content decoding, before charset decoding), and each post
//! names its page's capture by SHA-256. Without `keep_raw` nothing is kept.

mod common;

use std::io::Write;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use common::{Reply, TestServer, ok, status};
use vigil_config::{BrandConfig, CrawlerConfig, SourceConfig, SourceKind};
use vigil_core::{Query, sha256_hex};
use vigil_crawler::Crawler;

fn crawler() -> Crawler {
    let config = CrawlerConfig {
        per_host_interval: Duration::ZERO,
        allow_private_addresses: true,
        timeout: Duration::from_secs(10),
        retries: 0,
        ..CrawlerConfig::default()
    };
    let brands = [BrandConfig {
        name: "Acme".into(),
        query_text: "acme OR 艾克米".into(),
        query: Query::parse("acme OR 艾克米").expect("query"),
        language: None,
    }];
    Crawler::new(&config, &brands).expect("crawler")
}

fn gbk_feed() -> Vec<u8> {
    let xml = r#"<?xml version="1.0" encoding="gbk"?>
<rss version="2.0"><channel><title>家电新闻</title>
<item><guid>gbk-1</guid><title>艾克米水壶质量问题</title>
<description>消费者投诉艾克米水壶漏水。</description>
<pubDate>Mon, 06 May 2024 08:00:00 GMT</pubDate></item>
<item><guid>gbk-2</guid><title>今日天气</title><description>晴。</description>
<pubDate>Mon, 06 May 2024 07:00:00 GMT</pubDate></item>
</channel></rss>"#;
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(xml);
    assert!(!unmappable);
    bytes.into_owned()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A JSON listing, newest first, paged by `?after=<cursor>`: page 1 has two Acme
/// posts, page 2 only posts no brand matches, page 3 one Acme post.
fn listing_page(path: &str) -> Reply {
    let at = |minute: u32| {
        Utc.with_ymd_and_hms(2024, 5, 1, 10, minute, 0)
            .unwrap()
            .to_rfc3339()
    };
    let (items, next) = match path.split_once("after=").map(|(_, after)| after) {
        None => (
            vec![(5, "acme page one, five"), (4, "acme page one, four")],
            Some("4"),
        ),
        Some("4") => (vec![(3, "weather three"), (2, "weather two")], Some("2")),
        Some("2") => (vec![(1, "acme page three, one")], None),
        Some(_) => return status(404),
    };
    let items: Vec<serde_json::Value> = items
        .into_iter()
        .map(|(id, text)| serde_json::json!({"id": id, "text": text, "at": at(id)}))
        .collect();
    ok(
        "application/json",
        serde_json::json!({"items": items, "next": next}).to_string(),
    )
}

fn json_source(url: String, keep_raw: bool) -> SourceConfig {
    let mut source = SourceConfig::new("api", SourceKind::Json, url);
    source.items = Some("/items".into());
    source.fields = [("id", "/id"), ("text", "/text"), ("published", "/at")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    source.next_page = Some("/next".into());
    source.max_pages = 5;
    source.keep_raw = keep_raw;
    source
}

async fn server() -> TestServer {
    let gbk = gbk_feed();
    let gbk_gzipped = gzip(&gbk);
    TestServer::start(move |request| {
        let path = request.path.as_str();
        match path {
            "/robots.txt" => status(404),
            "/gbk.xml"
                if request.headers.get("if-none-match").map(String::as_str) == Some("\"g1\"") =>
            {
                Reply::Full(304, vec![("ETag".into(), "\"g1\"".into())], Vec::new())
            }
            "/gbk.xml" => Reply::Full(
                200,
                vec![
                    ("Content-Type".into(), "text/xml".into()),
                    ("Content-Encoding".into(), "gzip".into()),
                    ("ETag".into(), "\"g1\"".into()),
                ],
                gbk_gzipped.clone(),
            ),
            _ if path.starts_with("/list") => listing_page(path),
            _ => status(404),
        }
    })
    .await
}

#[tokio::test]
async fn the_capture_is_the_body_as_received_before_charset_decoding() {
    let server = server().await;
    let crawler = crawler();
    let mut source = SourceConfig::new("zh", SourceKind::Rss, server.url("/gbk.xml"));
    source.keep_raw = true;
    let outcome = crawler.crawl(&source, None).await.expect("crawl");

    assert_eq!(outcome.posts.len(), 1, "the weather item matches no brand");
    assert_eq!(outcome.raw_captures.len(), 1);
    let capture = &outcome.raw_captures[0];
    assert_eq!(
        capture.bytes,
        gbk_feed(),
        "gzip decoded, GBK left as it came"
    );
    assert_eq!(capture.sha256, sha256_hex(gbk_feed()));
    assert_eq!(capture.source, "zh");
    assert_eq!(capture.fetch_url, server.url("/gbk.xml"));
    assert_eq!(capture.http_status, 200);
    assert_eq!(capture.content_type.as_deref(), Some("text/xml"));
    let post = &outcome.posts[0];
    assert_eq!(post.title.as_deref(), Some("艾克米水壶质量问题"));
    assert_eq!(
        post.provenance.raw_sha256.as_deref(),
        Some(capture.sha256.as_str())
    );
    assert_eq!(post.provenance.fetched_at, capture.fetched_at);

    // 304 Not Modified: no page, no capture.
    let again = crawler
        .crawl(&source, Some(&outcome.checkpoint))
        .await
        .expect("conditional crawl");
    assert!(again.not_modified);
    assert!(again.raw_captures.is_empty());

    // The same source without keep_raw keeps nothing and names nothing.
    source.keep_raw = false;
    let plain = crawler.crawl(&source, None).await.expect("crawl");
    assert!(plain.raw_captures.is_empty());
    assert_eq!(plain.posts.len(), 1);
    assert_eq!(plain.posts[0].provenance.raw_sha256, None);
}

#[tokio::test]
async fn each_page_is_its_own_capture_and_pages_without_matches_are_dropped() {
    let server = server().await;
    let crawler = crawler();
    let outcome = crawler
        .crawl(&json_source(server.url("/list"), true), None)
        .await
        .expect("crawl");
    assert_eq!(outcome.items_seen, 5);
    assert_eq!(outcome.unmatched, 2);
    // Pages 1 and 3; page 2 gave no matched post.
    assert_eq!(outcome.raw_captures.len(), 2, "{:?}", outcome.raw_captures);
    for post in &outcome.posts {
        let named = post.provenance.raw_sha256.as_deref().expect("named");
        let capture = outcome
            .raw_captures
            .iter()
            .find(|capture| capture.sha256 == named)
            .expect("the capture a post names is handed back");
        let body = String::from_utf8(capture.bytes.clone()).expect("json");
        assert!(
            body.contains(&post.text),
            "{} not in its page {body}",
            post.text
        );
        assert_eq!(capture.fetch_url, post.provenance.fetch_url);
    }
    assert!(
        outcome
            .raw_captures
            .iter()
            .all(|capture| !String::from_utf8_lossy(&capture.bytes).contains("weather"))
    );

    let plain = crawler
        .crawl(&json_source(server.url("/list"), false), None)
        .await
        .expect("crawl");
    assert_eq!(plain.posts.len(), 3);
    assert!(plain.raw_captures.is_empty());
    assert!(
        plain
            .posts
            .iter()
            .all(|p| p.provenance.raw_sha256.is_none())
    );
}

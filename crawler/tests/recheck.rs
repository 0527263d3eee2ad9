//! `Crawler::recheck` (`honour_deletions`) against a real HTTP server on loopback: post
//! URLs answering 404/410 are deleted, 200 present, 5xx and robots-disallowed unknown;
//! Reddit's `/api/info` and Bluesky's `getPosts` are asked in batches and a thing that
//! is missing or marked deleted/removed counts as deleted.

mod common;

use std::time::Duration;

use common::{Reply, TestServer, ok, status};
use serde_json::json;
use vigil_config::{CrawlerConfig, SourceConfig, SourceKind};
use vigil_crawler::{Crawler, RecheckPost};

fn crawler() -> Crawler {
    let config = CrawlerConfig {
        user_agent: "VigilBot/0.1 (+https://example.com/bot)".into(),
        per_host_interval: Duration::ZERO,
        respect_robots: true,
        allow_private_addresses: true,
        retries: 1,
        retry_initial: Duration::from_millis(10),
        retry_max: Duration::from_millis(20),
        ..CrawlerConfig::default()
    };
    Crawler::new(&config, &[]).expect("crawler")
}

fn post(id: &str, external_id: &str, url: Option<String>) -> RecheckPost {
    RecheckPost {
        id: id.into(),
        external_id: external_id.into(),
        url,
    }
}

#[tokio::test]
async fn post_urls_answering_404_or_410_are_deleted_and_nothing_else() {
    let server = TestServer::start(|request| match request.path.as_str() {
        "/robots.txt" => ok("text/plain", "User-agent: *\nDisallow: /private/\n"),
        "/p/live" => ok("text/html", "<p>still here</p>"),
        "/p/gone" => status(404),
        "/p/removed" => status(410),
        "/p/broken" => status(503),
        _ => status(404),
    })
    .await;
    let source = SourceConfig::new("news", SourceKind::Rss, server.url("/feed.xml"));
    let posts = [
        post("a", "g1", Some(server.url("/p/live"))),
        post("b", "g2", Some(server.url("/p/gone"))),
        post("c", "g3", Some(server.url("/p/removed"))),
        post("d", "g4", Some(server.url("/p/broken"))),
        post("e", "g5", Some(server.url("/private/x"))),
        post("f", "g6", None),
    ];
    let outcome = crawler().recheck(&source, &posts).await;
    let deleted: Vec<&str> = outcome.deleted.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(deleted, ["b", "c"], "{outcome:?}");
    assert!(outcome.deleted[0].1.contains("404/410"), "{outcome:?}");
    assert_eq!(outcome.present, 1);
    assert_eq!(
        outcome.unknown, 3,
        "5xx, robots.txt and no URL prove nothing"
    );
    assert!(outcome.problem.is_some());
    assert_eq!(server.hits("/private/x"), 0, "robots.txt is respected");
    assert!(
        server.hits("/p/broken") >= 2,
        "a 5xx is retried like a crawl"
    );
}

#[tokio::test]
async fn reddit_is_asked_in_batches_of_100_and_markers_mean_deleted() {
    let server = TestServer::start(|request| {
        if request.path == "/robots.txt" {
            return status(404);
        }
        let Some(query) = request.path.strip_prefix("/api/info.json?") else {
            return status(404);
        };
        let ids: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "id")
            .map(|(_, v)| v.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let children: Vec<_> = ids
            .iter()
            .filter(|id| id.as_str() != "t3_missing")
            .map(|id| {
                let (author, body) = match id.as_str() {
                    "t3_bydeleted" => ("[deleted]", "[deleted]"),
                    "t1_removed" => ("mod_target", "[removed]"),
                    _ => ("someone", "an ordinary post"),
                };
                json!({"kind": "t3", "data": {"name": id, "author": author, "selftext": body, "body": body}})
            })
            .collect();
        ok(
            "application/json",
            json!({"kind": "Listing", "data": {"children": children}}).to_string(),
        )
    })
    .await;
    let source = SourceConfig::new("r", SourceKind::Reddit, server.url("/r/acme/new.json"));
    let mut posts: Vec<RecheckPost> = (0..150)
        .map(|n| post(&format!("p{n}"), &format!("t3_ok{n}"), None))
        .collect();
    posts.push(post("gone", "t3_missing", None));
    posts.push(post("deleted", "t3_bydeleted", None));
    posts.push(post("removed", "t1_removed", None));
    let outcome = crawler().recheck(&source, &posts).await;
    let deleted: Vec<&str> = outcome.deleted.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(deleted, ["gone", "deleted", "removed"], "{outcome:?}");
    assert_eq!(outcome.present, 150);
    assert_eq!(outcome.unknown, 0);
    assert_eq!(
        server.hits_prefix("/api/info.json?"),
        2,
        "153 ids: two requests"
    );
}

#[tokio::test]
async fn reddit_errors_and_bluesky_missing_uris() {
    let server = TestServer::start(|request| {
        if request.path.starts_with("/api/info") {
            return Reply::Full(
                429,
                vec![("Retry-After".into(), "1".into())],
                b"slow down".to_vec(),
            );
        }
        if let Some(query) = request.path.strip_prefix("/xrpc/app.bsky.feed.getPosts?") {
            let found: Vec<_> = url::form_urlencoded::parse(query.as_bytes())
                .filter(|(k, v)| k == "uris" && !v.ends_with("/gone"))
                .map(|(_, v)| json!({"uri": v}))
                .collect();
            return ok("application/json", json!({"posts": found}).to_string());
        }
        status(404)
    })
    .await;
    let reddit = SourceConfig::new("r", SourceKind::Reddit, server.url("/r/acme/new.json"));
    let outcome = crawler().recheck(&reddit, &[post("a", "t3_a", None)]).await;
    assert!(
        outcome.deleted.is_empty(),
        "a refusal proves nothing: {outcome:?}"
    );
    assert_eq!(outcome.unknown, 1);

    let bluesky = SourceConfig::new(
        "b",
        SourceKind::Bluesky,
        server.url("/xrpc/app.bsky.feed.searchPosts?q=acme"),
    );
    let posts: Vec<RecheckPost> = (0..30)
        .map(|n| {
            post(
                &format!("b{n}"),
                &format!("at://did:plc:x/app.bsky.feed.post/{n}"),
                None,
            )
        })
        .chain([post("bg", "at://did:plc:x/app.bsky.feed.post/gone", None)])
        .collect();
    let outcome = crawler().recheck(&bluesky, &posts).await;
    assert_eq!(outcome.deleted.len(), 1, "{outcome:?}");
    assert_eq!(outcome.deleted[0].0, "bg");
    assert_eq!(outcome.present, 30);
    assert_eq!(
        server.hits_prefix("/xrpc/app.bsky.feed.getPosts?"),
        2,
        "31 uris: 25 + 6"
    );
}

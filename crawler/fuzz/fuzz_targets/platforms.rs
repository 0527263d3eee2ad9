//! Every JSON reader over the same arbitrary bytes: `extract_json` with two specs and
//! the platform adapters (reddit, hackernews, mastodon, bluesky, appstore).
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigil_crawler::platforms::{appstore, bluesky, hackernews, mastodon, reddit};
use vigil_crawler::{JsonSpec, PageContext, extract_json};
use vigil_crawler_fuzz::{check, fetched_at};

fn spec(items: &str, fields: &[(&str, &str)], next_page: Option<&str>) -> Option<JsonSpec> {
    let fields: BTreeMap<String, String> = fields
        .iter()
        .map(|(name, pointer)| (name.to_string(), pointer.to_string()))
        .collect();
    match JsonSpec::compile(items, &fields, next_page, None) {
        Ok(spec) => Some(spec),
        Err(why) => {
            eprintln!("fuzz spec {items:?} does not compile: {why}");
            None
        }
    }
}

fn specs() -> &'static [JsonSpec] {
    static SPECS: OnceLock<Vec<JsonSpec>> = OnceLock::new();
    SPECS.get_or_init(|| {
        [
            spec(
                "/data/items",
                &[
                    ("text", "/body"),
                    ("title", "/title"),
                    ("author", "/user/name"),
                    ("published", "/created_at"),
                    ("url", "/links/0/href"),
                    ("id", "/id"),
                    ("rating", "/rating"),
                    ("likes", "/likes"),
                    ("lang", "/lang"),
                ],
                Some("/paging/next"),
            ),
            spec("", &[("text", ""), ("published", "/time")], None),
        ]
        .into_iter()
        .flatten()
        .collect()
    })
}

fn context(fetch_url: &str) -> PageContext<'_> {
    PageContext {
        source: "fuzz-json",
        fetch_url,
        http_status: Some(200),
        fetched_at: fetched_at(),
    }
}

fuzz_target!(|data: &[u8]| {
    let api = context("https://api.example.com/v1/search?q=acme&after=abc");
    for spec in specs() {
        check("extract_json", || {
            let _ = extract_json(spec, data, &api);
        });
    }
    check("reddit::parse", || {
        let _ = reddit::parse(
            data,
            &context("https://www.reddit.com/r/all/search.json?q=acme"),
        );
    });
    check("hackernews::parse", || {
        let _ = hackernews::parse(
            data,
            &context("https://hn.algolia.com/api/v1/search_by_date?query=acme&page=3"),
        );
    });
    check("mastodon::parse", || {
        let _ = mastodon::parse(
            data,
            &context("https://mastodon.social/api/v2/search?q=acme&type=statuses"),
        );
    });
    check("bluesky::parse", || {
        let _ = bluesky::parse(
            data,
            &context("https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=acme"),
        );
    });
    check("appstore::parse", || {
        let _ = appstore::parse(
            data,
            &context(
                "https://itunes.apple.com/gb/rss/customerreviews/page=2/id=1510826067/sortby=mostrecent/json",
            ),
        );
    });
    check("bluesky::parse_session", || {
        let _ = bluesky::parse_session(data);
    });
});

//! The generic `json` source kind over the small fixtures in tests/fixtures/json and
//! tests/fixtures/reddit: pointers, type coercion, relative URLs, the three ways a
//! next page is named, and the errors for bodies that are not what the spec expects.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use vigil_crawler::{CrawlError, JsonSpec, Page, PageContext, extract_json};

fn fixture(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn fetched_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 12, 0, 0).unwrap()
}

fn extract(spec: &JsonSpec, body: &[u8], fetch_url: &str) -> Result<Page, CrawlError> {
    extract_json(
        spec,
        body,
        &PageContext {
            source: "api",
            fetch_url,
            http_status: Some(200),
            fetched_at: fetched_at(),
        },
    )
}

fn parse_message(result: Result<Page, CrawlError>) -> String {
    match result {
        Err(CrawlError::Parse {
            source_name,
            message,
        }) => {
            assert_eq!(source_name, "api");
            message
        }
        Err(other) => panic!("expected a parse error, got {other}"),
        Ok(page) => panic!("expected a parse error, got {} posts", page.posts.len()),
    }
}

fn search_spec(cursor_param: Option<&str>) -> JsonSpec {
    JsonSpec::compile(
        "/results",
        &fields(&[
            ("id", "/id"),
            ("text", "/body"),
            ("title", "/heading"),
            ("author", "/user/name"),
            ("published", "/ts"),
            ("url", "/link"),
            ("score", "/stats/up"),
            ("reposts", "/stats/rt"),
            ("replies", "/stats/comments"),
            ("rating", "/stars"),
            ("lang", "/langs"),
        ]),
        Some("/meta/next_cursor"),
        cursor_param,
    )
    .expect("valid spec")
}

#[test]
fn fields_are_read_and_coerced() {
    let page = extract(
        &search_spec(None),
        &fixture("json/api_search.json"),
        "https://api.example.com/search?q=acme&after=c1",
    )
    .unwrap();
    let ids: Vec<&str> = page.posts.iter().map(|p| p.external_id.as_str()).collect();
    assert_eq!(
        ids,
        ["101", "abc", "104"],
        "numbers stringified, bad items skipped"
    );

    let first = &page.posts[0];
    assert_eq!(
        first.text, "The Acme kettle & toaster are great",
        "HTML stripped"
    );
    assert_eq!(first.author.as_deref(), Some("ann"));
    assert_eq!(
        first.published_at,
        Utc.with_ymd_and_hms(2024, 5, 1, 13, 2, 0).unwrap()
    );
    assert_eq!(
        first.url.as_deref(),
        Some("https://api.example.com/posts/101"),
        "relative URL resolved against the fetched URL"
    );
    assert_eq!(first.engagement.score, Some(12), "numeric string");
    assert_eq!(first.engagement.reposts, Some(3));
    assert_eq!(first.engagement.replies, Some(2), "2.0");
    assert_eq!(first.engagement.rating, Some(4.5));
    assert_eq!(first.lang.as_deref(), Some("en"), "first of an array");
    assert_eq!(first.provenance.extraction, "json:/results");

    let headline = &page.posts[1];
    assert_eq!(
        headline.title.as_deref(),
        Some("Only a headline about Acme")
    );
    assert_eq!(headline.text, "Only a headline about Acme");
    assert_eq!(headline.published_at, first.published_at, "RFC 3339 string");
    assert_eq!(headline.url.as_deref(), Some("https://other.example/p/abc"));
    assert_eq!(headline.engagement.score, Some(0));

    let bad = &page.posts[2];
    assert_eq!(bad.text, "Bad numbers a < b", "not HTML: kept as written");
    assert_eq!(bad.engagement.score, None);
    assert_eq!(bad.url, None, "javascript: URLs are dropped");
    assert_eq!(
        bad.published_at,
        fetched_at(),
        "unreadable date → fetch time"
    );

    let warnings = page.warnings.join("\n");
    assert!(
        warnings.contains("2 of 5 items had no usable text or title"),
        "{warnings}"
    );
    assert!(
        warnings.contains("published: 1")
            && warnings.contains("score: 1")
            && warnings.contains("url: 1"),
        "{warnings}"
    );
    assert!(
        warnings.contains("text: 1"),
        "an object where text should be: {warnings}"
    );

    assert_eq!(
        page.next.as_deref(),
        Some("https://api.example.com/search?q=acme&after=c2"),
        "the cursor replaces the existing after"
    );
}

#[test]
fn cursor_param_is_configurable() {
    let page = extract(
        &search_spec(Some("cursor")),
        &fixture("json/api_search.json"),
        "https://api.example.com/search?q=acme",
    )
    .unwrap();
    assert_eq!(
        page.next.as_deref(),
        Some("https://api.example.com/search?q=acme&cursor=c2")
    );
}

#[test]
fn next_page_as_a_relative_url() {
    let spec = JsonSpec::compile(
        "/data/items",
        &fields(&[("id", "/uid"), ("text", "/text")]),
        Some("/links/next"),
        None,
    )
    .unwrap();
    let page = extract(
        &spec,
        &fixture("json/api_next_url.json"),
        "https://api.example.com/api/v2/search?q=acme&page=2",
    )
    .unwrap();
    assert_eq!(page.posts.len(), 2);
    assert_eq!(
        page.next.as_deref(),
        Some("https://api.example.com/api/v2/search?q=acme&page=3")
    );
    let prev = JsonSpec::compile(
        "/data/items",
        &fields(&[("text", "/text")]),
        Some("/links/prev"),
        None,
    )
    .unwrap();
    let page = extract(
        &prev,
        &fixture("json/api_next_url.json"),
        "https://api.example.com/api/v2/search?q=acme&page=2",
    )
    .unwrap();
    assert_eq!(page.next, None, "null means no next page");
    assert_eq!(
        page.posts[0].external_id.len(),
        "sha256:".len() + 64,
        "no id → hash"
    );
}

#[test]
fn next_page_absent_same_or_unusable() {
    let spec = JsonSpec::compile(
        "",
        &fields(&[("id", "/id"), ("text", "/msg")]),
        Some("/0/id"),
        Some("since"),
    )
    .unwrap();
    let page = extract(
        &spec,
        &fixture("json/root_array.json"),
        "https://x.test/feed",
    )
    .unwrap();
    assert_eq!(page.posts.len(), 2, "the item with empty text is dropped");
    assert_eq!(
        page.next.as_deref(),
        Some("https://x.test/feed?since=1"),
        "numbers are cursors"
    );
    let page = extract(
        &spec,
        &fixture("json/root_array.json"),
        "https://x.test/feed?since=1",
    )
    .unwrap();
    assert_eq!(page.next, None, "a next page equal to this one would loop");

    let spec = JsonSpec::compile("/", &fields(&[("text", "/msg")]), Some("/9/next"), None).unwrap();
    let page = extract(
        &spec,
        &fixture("json/root_array.json"),
        "https://x.test/feed",
    )
    .unwrap();
    assert_eq!(page.next, None, "missing pointer: no next page");

    let spec = JsonSpec::compile("/", &fields(&[("text", "/msg")]), Some("/0"), None).unwrap();
    let page = extract(
        &spec,
        &fixture("json/root_array.json"),
        "https://x.test/feed",
    )
    .unwrap();
    assert_eq!(page.next, None);
    assert!(
        page.warnings
            .iter()
            .any(|w| w.contains("next_page points to an object")),
        "{:?}",
        page.warnings
    );
}

#[test]
fn reddit_listing_through_the_generic_kind() {
    let spec = JsonSpec::compile(
        "/data/children",
        &fields(&[
            ("id", "/data/name"),
            ("title", "/data/title"),
            ("text", "/data/selftext"),
            ("author", "/data/author"),
            ("published", "/data/created_utc"),
            ("url", "/data/permalink"),
            ("score", "/data/score"),
            ("replies", "/data/num_comments"),
        ]),
        Some("/data/after"),
        None,
    )
    .unwrap();
    let page = extract(
        &spec,
        &fixture("reddit/askreddit_new.json"),
        "https://www.reddit.com/r/AskReddit/new.json?limit=3",
    )
    .unwrap();
    assert_eq!(page.posts.len(), 3);
    assert_eq!(
        page.posts[0].url.as_deref(),
        Some(
            "https://www.reddit.com/r/AskReddit/comments/48fbm9/serious_parents_of_reddit_whats_the_biggest_lie/"
        )
    );
    assert_eq!(page.posts[0].engagement.replies, Some(1));
    assert_eq!(
        page.next.as_deref(),
        Some("https://www.reddit.com/r/AskReddit/new.json?limit=3&after=t3_48f6io")
    );
}

#[test]
fn bodies_that_do_not_fit_are_errors() {
    let spec = search_spec(None);
    let url = "https://api.example.com/search?q=acme";
    let message = parse_message(extract(
        &spec,
        b"<!DOCTYPE html><html><body>Rate limited, try again later</body></html>",
        url,
    ));
    assert!(message.contains("not JSON"), "{message}");
    assert!(
        message.contains("<!DOCTYPE html><html><body>Rate limited"),
        "{message}"
    );
    let long = "x".repeat(500);
    let message = parse_message(extract(&spec, long.as_bytes(), url));
    assert!(
        message.contains(&format!("{}…", "x".repeat(80))),
        "quotes 80 characters: {message}"
    );
    assert!(!message.contains(&"x".repeat(81)));

    let message = parse_message(extract(&spec, br#"{"data": []}"#, url));
    assert!(
        message.contains("\"/results\" is not in the document"),
        "{message}"
    );
    let message = parse_message(extract(
        &spec,
        br#"{"error": "quota", "message": "daily quota exceeded"}"#,
        url,
    ));
    assert!(message.contains("quota: daily quota exceeded"), "{message}");
    let message = parse_message(extract(&spec, br#"{"results": {"a": 1}}"#, url));
    assert!(
        message.contains("points to an object, not an array"),
        "{message}"
    );
}

#[test]
fn bom_and_bad_utf8_are_tolerated() {
    let spec = JsonSpec::compile("/", &fields(&[("text", "/t")]), None, None).unwrap();
    let mut body = b"\xEF\xBB\xBF[{\"t\": \"caf\xE9 ok\"}]".to_vec();
    let page = extract(&spec, &body, "https://x.test/").unwrap();
    assert_eq!(page.posts[0].text, "caf\u{FFFD} ok");
    assert!(page.warnings.iter().any(|w| w.contains("U+FFFD")));
    body.truncate(body.len() - 3);
    parse_message(extract(&spec, &body, "https://x.test/"));
}

#[test]
fn compile_rejects_bad_specs_with_every_reason() {
    let error = JsonSpec::compile(
        "results",
        &fields(&[("body", "/b"), ("published", "ts")]),
        None,
        Some(""),
    )
    .unwrap_err();
    assert!(
        error.contains("items = \"results\": not a JSON pointer"),
        "{error}"
    );
    assert!(error.contains("fields.body: unknown field"), "{error}");
    assert!(error.contains("fields.published = \"ts\""), "{error}");
    assert!(error.contains("map at least `text` or `title`"), "{error}");
    assert!(error.contains("cursor_param = \"\""), "{error}");
    assert_eq!(error.matches("; ").count(), 4, "{error}");
}

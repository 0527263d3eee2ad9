//! The platform adapters (`reddit`, `hackernews`, `mastodon`, `bluesky`, `appstore`):
//! small trimmed real responses in tests/fixtures (always run), the full captures in
//! ../shared/fixtures (skipped when absent), and a seeded mutation loop proving that no
//! parser panics on broken input.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use vigil_core::Post;
use vigil_crawler::platforms::{appstore, bluesky, hackernews, mastodon, reddit};
use vigil_crawler::{CrawlError, JsonSpec, Page, PageContext, extract_json};

type Parser = fn(&[u8], &PageContext<'_>) -> Result<Page, CrawlError>;

fn fixture(relative: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn shared_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures");
    dir.exists().then_some(dir)
}

fn shared(relative: &str) -> Option<Vec<u8>> {
    let Some(dir) = shared_dir() else {
        eprintln!("skipping: ../shared/fixtures/{relative} not present");
        return None;
    };
    let path = dir.join(relative);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            eprintln!("skipping: {} not present", path.display());
            None
        }
    }
}

fn fetched_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 12, 0, 0).unwrap()
}

fn context(fetch_url: &str) -> PageContext<'_> {
    PageContext {
        source: "fixture",
        fetch_url,
        http_status: Some(200),
        fetched_at: fetched_at(),
    }
}

fn run(parser: Parser, body: &[u8], fetch_url: &str) -> Page {
    match parser(body, &context(fetch_url)) {
        Ok(page) => page,
        Err(error) => panic!("{fetch_url}: {error}"),
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

fn post<'a>(page: &'a Page, external_id: &str) -> &'a Post {
    page.posts
        .iter()
        .find(|post| post.external_id == external_id)
        .unwrap_or_else(|| panic!("no post {external_id} among {:?}", ids(page)))
}

fn ids(page: &Page) -> Vec<&str> {
    page.posts.iter().map(|p| p.external_id.as_str()).collect()
}

fn parse_error_message(result: Result<Page, CrawlError>) -> String {
    match result {
        Err(CrawlError::Parse { message, .. }) => message,
        Err(other) => panic!("expected a parse error, got {other}"),
        Ok(page) => panic!("expected a parse error, got {} posts", page.posts.len()),
    }
}

// ---------------------------------------------------------------------------------
// reddit
// ---------------------------------------------------------------------------------

const REDDIT_NEW: &str = "https://www.reddit.com/r/AskReddit/new.json?limit=100&raw_json=1";

#[test]
fn reddit_new_listing_posts_and_next_after() {
    let page = run(
        reddit::parse,
        &fixture("reddit/askreddit_new.json"),
        REDDIT_NEW,
    );
    assert_eq!(ids(&page), ["t3_48fbm9", "t3_48fbig", "t3_48fbgl"]);
    let first = &page.posts[0];
    assert_eq!(first.author.as_deref(), Some("RedHeadQc"));
    assert_eq!(
        first.title.as_deref(),
        Some(
            "[Serious] Parents of Reddit, what's the biggest lie about yourself you've told your kids?"
        )
    );
    assert_eq!(
        first.text,
        first.title.clone().unwrap(),
        "no selftext: the title is the text"
    );
    assert_eq!(
        first.url.as_deref(),
        Some(
            "https://www.reddit.com/r/AskReddit/comments/48fbm9/serious_parents_of_reddit_whats_the_biggest_lie/"
        )
    );
    assert_eq!(first.published_at, at(1_456_821_458));
    assert_eq!(first.engagement.score, Some(1));
    assert_eq!(first.engagement.replies, Some(1));
    assert_eq!(
        first.engagement.likes, None,
        "ups would double-count the score"
    );
    assert_eq!(
        first.lang.as_deref(),
        Some("en"),
        "Reddit declares no language: detected from the text"
    );
    assert_eq!(first.provenance.extraction, "reddit:listing/t3");
    assert_eq!(page.posts[2].engagement.score, Some(2));
    assert_eq!(page.posts[2].engagement.replies, Some(5));
    assert_eq!(
        page.next.as_deref(),
        Some("https://www.reddit.com/r/AskReddit/new.json?limit=100&raw_json=1&after=t3_48f6io")
    );
}

#[test]
fn reddit_next_replaces_an_existing_after() {
    let url = "https://www.reddit.com/r/AskReddit/new.json?after=t3_old&limit=100";
    let page = run(reddit::parse, &fixture("reddit/askreddit_new.json"), url);
    assert_eq!(
        page.next.as_deref(),
        Some("https://www.reddit.com/r/AskReddit/new.json?after=t3_48f6io&limit=100")
    );
}

#[test]
fn reddit_comment_stream_builds_comment_urls() {
    let page = run(
        reddit::parse,
        &fixture("reddit/askreddit_comments.json"),
        "https://oauth.reddit.com/r/askreddit/comments/?limit=100&raw_json=1",
    );
    assert_eq!(ids(&page), ["t1_d4y8bdp", "t1_d4y8bdo"]);
    let first = &page.posts[0];
    assert_eq!(first.author.as_deref(), Some("preppypuppy"));
    assert_eq!(
        first.text,
        "great, life is so much better when you can do what you enjoy for a living"
    );
    assert_eq!(first.title, None);
    assert_eq!(
        first.url.as_deref(),
        Some("https://www.reddit.com/r/AskReddit/comments/4r4inc/_/d4y8bdp/"),
        "API host links go to the web site"
    );
    assert_eq!(first.published_at, at(1_467_590_690));
    assert_eq!(first.engagement.replies, None);
    assert_eq!(first.provenance.extraction, "reddit:listing/t1");
    assert_eq!(
        page.next.as_deref(),
        Some(
            "https://oauth.reddit.com/r/askreddit/comments/?limit=100&raw_json=1&after=t1_d4y8a9e"
        )
    );
}

#[test]
fn reddit_submission_with_comment_tree() {
    let page = run(
        reddit::parse,
        &fixture("reddit/comments_2gmzqe.json"),
        "https://www.reddit.com/comments/2gmzqe.json?raw_json=1",
    );
    assert_eq!(ids(&page), ["t3_2gmzqe", "t1_cklfmye", "t1_cklhv0f"]);
    assert_eq!(page.posts[0].author.as_deref(), Some("bboe"));
    assert_eq!(
        page.posts[0].url.as_deref(),
        Some(
            "https://www.reddit.com/r/redditdev/comments/2gmzqe/praw_https_enabled_praw_testing_needed/"
        )
    );
    assert_eq!(page.posts[1].author.as_deref(), Some("paneer_burrito"));
    assert!(
        page.posts[1]
            .text
            .starts_with("Quick question: I remember reading")
    );
    assert_eq!(
        page.posts[2].author.as_deref(),
        Some("bboe"),
        "nested reply"
    );
    assert_eq!(page.posts[0].provenance.extraction, "reddit:listing/t3+t1");
    assert_eq!(page.next, None, "comment trees are not paged by after");
}

#[test]
fn reddit_search_without_after_is_the_last_page() {
    let page = run(
        reddit::parse,
        &fixture("reddit/search.json"),
        "https://www.reddit.com/r/all/search.json?q=praw+oauth+search&sort=new",
    );
    assert_eq!(ids(&page), ["t3_3gpbiu", "t3_3x4kt2"]);
    assert_eq!(page.posts[0].engagement.replies, Some(21));
    assert!(page.posts[0].text.starts_with("# solved"));
    assert_eq!(page.next, None);
}

#[test]
fn reddit_error_bodies_are_parse_errors() {
    let url = "https://oauth.reddit.com/user/spez/downvoted?limit=100&raw_json=1";
    let message = parse_error_message(reddit::parse(br#"{"error": 403}"#, &context(url)));
    assert!(message.contains("403"), "{message}");
    let message = parse_error_message(reddit::parse(
        br#"{"message": "Too Many Requests", "error": 429}"#,
        &context(url),
    ));
    assert!(message.contains("429: Too Many Requests"), "{message}");
    let message = parse_error_message(reddit::parse(b"<html>blocked</html>", &context(url)));
    assert!(
        message.contains("<html>blocked</html>"),
        "quotes the body: {message}"
    );
    parse_error_message(reddit::parse(
        br#"{"kind": "t2", "data": {}}"#,
        &context(url),
    ));
    parse_error_message(reddit::parse(b"42", &context(url)));
}

#[test]
fn reddit_deleted_content_is_dropped() {
    let body = br#"{"kind":"Listing","data":{"after":null,"children":[
        {"kind":"t1","data":{"name":"t1_a","id":"a","author":"[deleted]","body":"[removed]","created_utc":1}},
        {"kind":"more","data":{"count":4}},
        {"kind":"t1","data":{"name":"t1_b","id":"b","author":"[deleted]","body":"still here","created_utc":1}}]}}"#;
    let page = run(
        reddit::parse,
        body,
        "https://www.reddit.com/r/x/comments.json",
    );
    assert_eq!(ids(&page), ["t1_b"]);
    assert_eq!(page.posts[0].author, None);
    assert!(
        page.warnings
            .iter()
            .any(|w| w.contains("1 items had no text")),
        "{:?}",
        page.warnings
    );
    assert!(
        page.warnings
            .iter()
            .any(|w| w.contains("\"load more comments\"")),
        "{:?}",
        page.warnings
    );
}

// ---------------------------------------------------------------------------------
// hackernews
// ---------------------------------------------------------------------------------

const HN_PAGE3: &str = "https://hn.algolia.com/api/v1/search?query=something+else&page=3";

#[test]
fn hackernews_stories_decode_entities_and_page_on() {
    let page = run(
        hackernews::parse,
        &fixture("hackernews/search_page3.json"),
        HN_PAGE3,
    );
    assert_eq!(ids(&page), ["7147626", "9599089", "17937354"]);
    let first = &page.posts[0];
    assert_eq!(
        first.title.as_deref(),
        Some("Give HN: I have an idea but I am already doing something else.....")
    );
    assert!(
        first
            .text
            .starts_with("I have an idea for an \"Adult Social Networking\" concept"),
        "{}",
        first.text
    );
    assert!(!first.text.contains("<p>") && !first.text.contains("&quot;"));
    assert_eq!(first.author.as_deref(), Some("jason_slack"));
    assert_eq!(
        first.url.as_deref(),
        Some("https://news.ycombinator.com/item?id=7147626")
    );
    assert_eq!(first.published_at, at(1_391_035_138));
    assert_eq!(first.engagement.score, Some(2));
    assert_eq!(first.engagement.replies, Some(6));
    assert!(
        page.posts[1]
            .text
            .contains("I'm currently 'rocking' an HTC One M7")
    );
    // A link story without story_text: its title is all there is.
    assert_eq!(
        page.posts[2].text,
        "Changing Redis master-slave replication terms with something else"
    );
    assert_eq!(
        page.posts[0].provenance.extraction,
        "hackernews:algolia/story"
    );
    assert_eq!(
        page.next.as_deref(),
        Some("https://hn.algolia.com/api/v1/search?query=something+else&page=4")
    );
}

#[test]
fn hackernews_page_comes_from_the_response_and_stops_at_nb_pages() {
    let body = fixture("hackernews/search_page3.json");
    let page = run(
        hackernews::parse,
        &body,
        "https://hn.algolia.com/api/v1/search?query=something+else",
    );
    assert_eq!(
        page.next.as_deref(),
        Some("https://hn.algolia.com/api/v1/search?query=something+else&page=4")
    );
    let mut last: Value = serde_json::from_slice(&body).unwrap();
    last["page"] = 49.into();
    let page = run(
        hackernews::parse,
        last.to_string().as_bytes(),
        "https://hn.algolia.com/api/v1/search?query=something+else&page=49",
    );
    assert_eq!(page.posts.len(), 3);
    assert_eq!(page.next, None, "page 49 of 50 is the last");
    last["hits"] = Value::Array(Vec::new());
    last["page"] = 10.into();
    let page = run(hackernews::parse, last.to_string().as_bytes(), HN_PAGE3);
    assert_eq!(page.next, None, "an empty page ends paging");
}

#[test]
fn hackernews_errors_are_parse_errors() {
    let message = parse_error_message(hackernews::parse(
        br#"{"message":"Invalid value for parameter hitsPerPage","status":400}"#,
        &context(HN_PAGE3),
    ));
    assert!(message.contains("Invalid value"), "{message}");
}

// ---------------------------------------------------------------------------------
// mastodon
// ---------------------------------------------------------------------------------

#[test]
fn mastodon_tag_timeline_pages_by_max_id() {
    let page = run(
        mastodon::parse,
        &fixture("mastodon/timeline_tag.json"),
        "http://localhost:3000/api/v1/timelines/tag/hoot?limit=20",
    );
    assert_eq!(page.posts.len(), 1);
    let status = &page.posts[0];
    assert_eq!(
        status.external_id,
        "http://localhost:3000/ap/users/117020566092212359/statuses/117020593741189701"
    );
    assert_eq!(status.text, "#hoot (hashtag toot)");
    assert_eq!(status.author.as_deref(), Some("mastodonpy_test_2"));
    assert_eq!(
        status.url.as_deref(),
        Some("http://localhost:3000/@mastodonpy_test_2/117020593741189701")
    );
    assert_eq!(
        status.published_at,
        Utc.with_ymd_and_hms(2026, 8, 1, 13, 55, 55).unwrap() + chrono::Duration::milliseconds(867)
    );
    assert_eq!(status.engagement.likes, Some(0));
    assert_eq!(status.provenance.extraction, "mastodon:statuses");
    assert_eq!(
        page.next.as_deref(),
        Some("http://localhost:3000/api/v1/timelines/tag/hoot?limit=20&max_id=117020593741189701")
    );
}

#[test]
fn mastodon_v2_search_pages_by_offset() {
    let body = fixture("mastodon/search_v2.json");
    let page = run(
        mastodon::parse,
        &body,
        "https://mastodon.social/api/v2/search?q=halcy&type=statuses",
    );
    assert_eq!(page.posts.len(), 2);
    assert_eq!(
        page.posts[0].author.as_deref(),
        Some("greg@icosahedron.website")
    );
    assert!(
        page.posts[0]
            .text
            .starts_with("@cancel @halcy not only is this the classic hip-hop")
    );
    assert_eq!(page.posts[0].engagement.replies, Some(1));
    let jo = &page.posts[1];
    assert_eq!(jo.author.as_deref(), Some("Jo@social.sublingual.xyz"));
    assert_eq!(
        jo.url.as_deref(),
        Some("https://social.sublingual.xyz/@Jo/116388107097123650")
    );
    assert_eq!(jo.lang.as_deref(), Some("en"));
    assert_eq!(jo.engagement.likes, Some(4));
    assert_eq!(jo.engagement.reposts, Some(1));
    assert_eq!(jo.engagement.replies, Some(0));
    assert_eq!(
        page.next.as_deref(),
        Some("https://mastodon.social/api/v2/search?q=halcy&type=statuses&offset=2")
    );
    let page = run(
        mastodon::parse,
        &body,
        "https://mastodon.social/api/v2/search?q=halcy&offset=20&type=statuses",
    );
    assert_eq!(
        page.next.as_deref(),
        Some("https://mastodon.social/api/v2/search?q=halcy&offset=22&type=statuses")
    );
    let empty = run(
        mastodon::parse,
        br#"{"accounts":[],"statuses":[],"hashtags":[]}"#,
        "https://mastodon.social/api/v2/search?q=halcy&offset=22",
    );
    assert_eq!(empty.next, None);
}

#[test]
fn mastodon_spoiler_text_is_the_title() {
    let page = run(
        mastodon::parse,
        &fixture("mastodon/status_spoiler.json"),
        "https://mastodon.social/api/v1/statuses/110446223051565765",
    );
    assert_eq!(page.posts.len(), 1);
    let status = &page.posts[0];
    assert_eq!(
        status.title.as_deref(),
        Some("test post for mastodon.py stuff")
    );
    assert!(
        status
            .text
            .starts_with("@halcy you're a doo-doo head\nedit:"),
        "{}",
        status.text
    );
    assert_eq!(status.engagement.likes, Some(1));
    assert_eq!(page.next, None);
}

#[test]
fn mastodon_errors_and_wrong_shapes() {
    let url = "https://mastodon.social/api/v1/statuses/0";
    let message = parse_error_message(mastodon::parse(br#"{"error":"Not Found"}"#, &context(url)));
    assert!(message.contains("Not Found"), "{message}");
    parse_error_message(mastodon::parse(br#"{"hello":"world"}"#, &context(url)));
    parse_error_message(mastodon::parse(b"\"text\"", &context(url)));
}

// ---------------------------------------------------------------------------------
// bluesky
// ---------------------------------------------------------------------------------

const BSKY_SEARCH: &str =
    "https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=redistricting&limit=25";

#[test]
fn bluesky_search_posts() {
    let page = run(
        bluesky::parse,
        &fixture("bluesky/search_posts.json"),
        BSKY_SEARCH,
    );
    assert_eq!(page.posts.len(), 3);
    let first = &page.posts[0];
    assert_eq!(
        first.external_id,
        "at://did:plc:xrs7uicyfcp5qbnhnqy7kucb/app.bsky.feed.post/3kghpycppiw2n"
    );
    assert_eq!(
        first.url.as_deref(),
        Some("https://bsky.app/profile/planetcarnival.bsky.social/post/3kghpycppiw2n")
    );
    assert_eq!(first.author.as_deref(), Some("planetcarnival.bsky.social"));
    assert!(
        first
            .text
            .starts_with("I was upset last year when redistricting")
    );
    assert_eq!(first.lang.as_deref(), Some("en"));
    assert_eq!(
        first.published_at,
        Utc.with_ymd_and_hms(2023, 12, 14, 0, 37, 20).unwrap()
            + chrono::Duration::milliseconds(615)
    );
    assert_eq!(first.engagement.likes, Some(1));
    let takei = post(
        &page,
        "at://did:plc:y4zs4cabaezzwx3bz2e5nnj2/app.bsky.feed.post/3kghcs4a2by23",
    );
    assert_eq!(takei.author.as_deref(), Some("georgetakei.bsky.social"));
    assert_eq!(takei.engagement.likes, Some(130));
    assert_eq!(takei.engagement.reposts, Some(19));
    assert_eq!(takei.engagement.replies, Some(3));
    assert_eq!(first.provenance.extraction, "bluesky:posts");
    assert_eq!(
        page.next.as_deref(),
        Some(
            "https://public.api.bsky.app/xrpc/app.bsky.feed.searchPosts?q=redistricting&limit=25&cursor=25"
        )
    );
}

#[test]
fn bluesky_quotes_count_as_reposts_and_alt_text_stands_in_for_empty_text() {
    let mut document: Value =
        serde_json::from_slice(&fixture("bluesky/search_posts.json")).unwrap();
    let takei = &mut document["posts"][1];
    takei["record"]["text"] = "".into();
    takei["quoteCount"] = 4.into();
    let page = run(bluesky::parse, document.to_string().as_bytes(), BSKY_SEARCH);
    let takei = &page.posts[1];
    assert!(
        takei
            .text
            .starts_with("@RpsAgainstTrump: \"NEW: By a four-to-three vote"),
        "{}",
        takei.text
    );
    assert_eq!(takei.engagement.reposts, Some(23));
}

#[test]
fn bluesky_media_post_without_text_or_alt_is_dropped() {
    let page = run(
        bluesky::parse,
        &fixture("bluesky/thread_empty_text.json"),
        "https://public.api.bsky.app/xrpc/app.bsky.feed.getPostThread?uri=at://x",
    );
    assert!(page.posts.is_empty());
    assert!(
        page.warnings
            .iter()
            .any(|w| w.contains("1 items had no text")),
        "{:?}",
        page.warnings
    );
    assert_eq!(page.next, None);
}

#[test]
fn bluesky_last_page_and_errors() {
    let page = run(
        bluesky::parse,
        br#"{"posts":[],"cursor":"50"}"#,
        BSKY_SEARCH,
    );
    assert_eq!(
        page.next, None,
        "an empty page ends paging even with a cursor"
    );
    let page = run(
        bluesky::parse,
        &{
            let mut document: Value =
                serde_json::from_slice(&fixture("bluesky/search_posts.json")).unwrap();
            document.as_object_mut().unwrap().remove("cursor");
            document.to_string().into_bytes()
        },
        BSKY_SEARCH,
    );
    assert_eq!(page.posts.len(), 3);
    assert_eq!(page.next, None);
    let message = parse_error_message(bluesky::parse(
        br#"{"error":"AuthMissing","message":"Authentication Required"}"#,
        &context(BSKY_SEARCH),
    ));
    assert!(
        message.contains("AuthMissing: Authentication Required"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------
// appstore
// ---------------------------------------------------------------------------------

const APPSTORE_GB: &str =
    "https://itunes.apple.com/gb/rss/customerreviews/id=1510826067/sortby=mostrecent/json";

#[test]
fn appstore_reviews_with_ratings_and_next_page() {
    let page = run(
        appstore::parse,
        &fixture("appstore/gb_page1.json"),
        APPSTORE_GB,
    );
    assert_eq!(ids(&page), ["6504352127", "6108405527"]);
    let first = &page.posts[0];
    assert_eq!(first.title.as_deref(), Some("Amazing photos integration"));
    assert!(
        first
            .text
            .starts_with("Such a great app for checking off which sites")
    );
    assert_eq!(first.author.as_deref(), Some("immeallme"));
    assert_eq!(first.engagement.rating, Some(5.0));
    assert_eq!(first.engagement.likes, Some(0));
    assert_eq!(first.lang.as_deref(), Some("en"), "gb store");
    assert_eq!(
        first.url.as_deref(),
        Some("https://itunes.apple.com/gb/review?id=1510826067&type=Purple%20Software")
    );
    assert_eq!(
        first.published_at,
        fetched_at(),
        "these entries carry no date"
    );
    assert_eq!(first.provenance.extraction, "appstore:customerreviews");
    assert_eq!(
        page.next.as_deref(),
        Some(
            "https://itunes.apple.com/gb/rss/customerreviews/page=2/id=1510826067/sortby=mostrecent/json"
        )
    );
}

#[test]
fn appstore_single_entry_object_and_dated_entries() {
    let mut document: Value = serde_json::from_slice(&fixture("appstore/gb_page1.json")).unwrap();
    let mut entry = document["feed"]["entry"][1].clone();
    entry["updated"] = serde_json::json!({"label": "2021-01-20T03:04:05-07:00"});
    document["feed"]["entry"] = entry;
    let page = run(
        appstore::parse,
        document.to_string().as_bytes(),
        "https://itunes.apple.com/fr/rss/customerreviews/page=3/id=1510826067/sortby=mostrecent/json",
    );
    assert_eq!(ids(&page), ["6108405527"]);
    assert_eq!(
        page.posts[0].published_at,
        Utc.with_ymd_and_hms(2021, 1, 20, 10, 4, 5).unwrap()
    );
    // The store's language is declared; only a CJK/English contradiction overrides it.
    assert_eq!(page.posts[0].lang.as_deref(), Some("fr"));
    assert_eq!(
        page.next.as_deref(),
        Some(
            "https://itunes.apple.com/fr/rss/customerreviews/page=4/id=1510826067/sortby=mostrecent/json"
        )
    );
}

#[test]
fn appstore_skips_the_app_entry() {
    let mut document: Value = serde_json::from_slice(&fixture("appstore/gb_page1.json")).unwrap();
    let app = serde_json::json!({
        "im:name": {"label": "Visited"}, "id": {"label": "https://apps.apple.com/gb/app/id1510826067"},
        "title": {"label": "Visited - Travel Map"}, "summary": {"label": "Track the places you visit"}
    });
    document["feed"]["entry"]
        .as_array_mut()
        .unwrap()
        .insert(0, app);
    let page = run(
        appstore::parse,
        document.to_string().as_bytes(),
        APPSTORE_GB,
    );
    assert_eq!(ids(&page), ["6504352127", "6108405527"]);
}

#[test]
fn appstore_last_page_invalid_rating_and_page_limit() {
    let last = run(
        appstore::parse,
        &fixture("appstore/gb_page2_last.json"),
        "https://itunes.apple.com/gb/rss/customerreviews/page=2/id=1510826067/sortby=mostrecent/json",
    );
    assert!(last.posts.is_empty());
    assert_eq!(last.next, None);

    let invalid = run(
        appstore::parse,
        &fixture("appstore/invalid_rating.json"),
        APPSTORE_GB,
    );
    assert_eq!(ids(&invalid), ["6091772301"]);
    assert_eq!(invalid.posts[0].engagement.rating, None);
    assert_eq!(invalid.posts[0].author.as_deref(), Some("Kel@Kai boon"));
    assert!(
        invalid
            .warnings
            .iter()
            .any(|w| w.contains("1 reviews had no readable 1–5 star rating")),
        "{:?}",
        invalid.warnings
    );

    let limit = run(
        appstore::parse,
        &fixture("appstore/page_depth_limit.txt"),
        "https://itunes.apple.com/us/rss/customerreviews/page=11/id=555731861/sortby=mostrecent/json",
    );
    assert!(limit.posts.is_empty());
    assert_eq!(limit.next, None);
    assert!(
        limit.warnings[0].contains("at most 10 pages"),
        "{:?}",
        limit.warnings
    );

    let tenth = run(
        appstore::parse,
        &fixture("appstore/gb_page1.json"),
        "https://itunes.apple.com/gb/rss/customerreviews/page=10/id=1510826067/sortby=mostrecent/json",
    );
    assert_eq!(tenth.posts.len(), 2);
    assert_eq!(tenth.next, None, "Apple stops at page 10");

    let message = parse_error_message(appstore::parse(
        b"<html>Service Unavailable</html>",
        &context(APPSTORE_GB),
    ));
    assert!(message.contains("Service Unavailable"), "{message}");
    parse_error_message(appstore::parse(br#"{"results":[]}"#, &context(APPSTORE_GB)));
}

// ---------------------------------------------------------------------------------
// The full captures in ../shared/fixtures (skipped when absent).
// ---------------------------------------------------------------------------------

#[test]
fn shared_reddit_listings() {
    let Some(new) = shared("reddit/body_r_askreddit_new.json") else {
        return;
    };
    let page = run(reddit::parse, &new, REDDIT_NEW);
    assert_eq!(page.posts.len(), 100);
    assert!(page.posts.iter().all(|p| p.external_id.starts_with("t3_")));
    let last = post(&page, "t3_48f6io");
    assert_eq!(last.author.as_deref(), Some("purpleclouds"));
    assert_eq!(last.engagement.score, Some(3));
    assert_eq!(last.engagement.replies, Some(8));
    assert_eq!(
        last.url.as_deref(),
        Some(
            "https://www.reddit.com/r/AskReddit/comments/48f6io/what_are_your_two_favorite_foods_and_how_would/"
        )
    );
    assert_eq!(
        page.posts.iter().filter_map(|p| p.engagement.score).max(),
        Some(7)
    );
    assert!(page.next.as_deref().unwrap().ends_with("&after=t3_48f6io"));

    let Some(comments) = shared("reddit/body_r_askreddit_comments.json") else {
        return;
    };
    let page = run(
        reddit::parse,
        &comments,
        "https://oauth.reddit.com/r/askreddit/comments/?limit=100&raw_json=1",
    );
    assert_eq!(page.posts.len(), 100);
    let last = post(&page, "t1_d4y8a9e");
    assert_eq!(last.author.as_deref(), Some("YoMamaIsSoFatThat"));
    assert_eq!(last.text, "But I need to find the thunderdome!");
    assert_eq!(last.published_at, at(1_467_590_634));
    assert_eq!(
        last.url.as_deref(),
        Some("https://www.reddit.com/r/AskReddit/comments/4r18p6/_/d4y8a9e/")
    );
    assert!(page.next.as_deref().unwrap().ends_with("&after=t1_d4y8a9e"));

    let Some(search) = shared("reddit/body_r_all_search.json") else {
        return;
    };
    let page = run(
        reddit::parse,
        &search,
        "https://oauth.reddit.com/r/all/search/?q=praw+oauth+search&raw_json=1",
    );
    let scores: Vec<(&str, Option<i64>, Option<i64>)> = page
        .posts
        .iter()
        .map(|p| {
            (
                p.author.as_deref().unwrap(),
                p.engagement.score,
                p.engagement.replies,
            )
        })
        .collect();
    assert_eq!(
        scores,
        [
            ("dClauzel", Some(0), Some(21)),
            ("GrinningMouth38", Some(2), Some(5)),
            ("Ouiski", Some(2), Some(13)),
            ("DAsSNipez", Some(2), Some(3)),
            ("Doomhammer458", Some(2), Some(2)),
            ("nmtake", Some(15), Some(0)),
        ]
    );
    assert_eq!(page.next, None);

    let Some(tree) = shared("reddit/body_comments_2gmzqe.json") else {
        return;
    };
    let page = run(
        reddit::parse,
        &tree,
        "https://oauth.reddit.com/comments/2gmzqe/?raw_json=1",
    );
    assert_eq!(ids(&page), ["t3_2gmzqe", "t1_cklfmye", "t1_cklhv0f"]);
}

#[test]
fn shared_reddit_forbidden_cassette() {
    let Some(cassette) =
        shared("reddit/praw_cassette_TestRedditorListings.test_downvoted__other_user.json")
    else {
        return;
    };
    let cassette: Value = serde_json::from_slice(&cassette).unwrap();
    let interaction = &cassette["interactions"][1];
    assert_eq!(interaction["response"]["status"]["code"], 403);
    let body = interaction["response"]["body"]["string"].as_str().unwrap();
    let url = interaction["request"]["uri"].as_str().unwrap();
    let message = parse_error_message(reddit::parse(body.as_bytes(), &context(url)));
    assert!(message.contains("403"), "{message}");
}

#[test]
fn shared_hackernews_searches() {
    let Some(body) = shared("hackernews/algolia_search_query_something_else_page3.json") else {
        return;
    };
    let page = run(hackernews::parse, &body, HN_PAGE3);
    assert_eq!(page.posts.len(), 20);
    assert_eq!(
        page.next.as_deref(),
        Some("https://hn.algolia.com/api/v1/search?query=something+else&page=4")
    );
    assert!(page.posts.iter().all(|p| p.engagement.score == Some(2)));
    let replies: Vec<i64> = page
        .posts
        .iter()
        .filter_map(|p| p.engagement.replies)
        .collect();
    assert_eq!(replies.len(), 20);
    assert_eq!(
        replies.iter().sum::<i64>(),
        6 + 5 + 5 + 4 + 3 + 3 + 3 + 3 + 2 + 1 + 1 + 1 + 1 + 1
    );
    for post in &page.posts {
        assert!(
            !post.text.contains("&#x27;")
                && !post.text.contains("&quot;")
                && !post.text.contains("<p>"),
            "{}: {}",
            post.external_id,
            post.text
        );
    }
    let last = post(&page, "3414700");
    assert_eq!(last.author.as_deref(), Some("Brajeshwar"));
    assert_eq!(
        last.published_at,
        Utc.with_ymd_and_hms(2012, 1, 2, 3, 47, 43).unwrap()
    );

    let Some(body) = shared("hackernews/algolia_search_stephen_hawking_has_died_tags_story.json")
    else {
        return;
    };
    let page = run(
        hackernews::parse,
        &body,
        "https://hn.algolia.com/api/v1/search?query=Stephen+Hawking+has+died&tags=story",
    );
    assert_eq!(ids(&page), ["16582136", "868325"]);
    let story = &page.posts[0];
    assert_eq!(story.title.as_deref(), Some("Stephen Hawking has died"));
    assert_eq!(story.author.as_deref(), Some("Cogito"));
    assert_eq!(story.engagement.score, Some(6015));
    assert_eq!(story.engagement.replies, Some(436));
    assert_eq!(
        story.url.as_deref(),
        Some("https://news.ycombinator.com/item?id=16582136")
    );
    assert!(page.posts[1].text.contains("It’s also extremely long"));
    assert_eq!(page.next, None, "nbPages is 1");
}

#[test]
fn shared_mastodon_responses() {
    let Some(search) = shared("mastodon/body_v2_search_q_halcy.json") else {
        return;
    };
    let page = run(
        mastodon::parse,
        &search,
        "https://mastodon.social/api/v2/search?q=halcy",
    );
    assert_eq!(page.posts.len(), 2);
    assert_eq!(
        page.next.as_deref(),
        Some("https://mastodon.social/api/v2/search?q=halcy&offset=2")
    );

    let Some(status) = shared("mastodon/body_status_110446183735368325.json") else {
        return;
    };
    let page = run(
        mastodon::parse,
        &status,
        "https://mastodon.social/api/v1/statuses/110446183735368325",
    );
    assert_eq!(page.posts.len(), 1);
    assert_eq!(page.posts[0].text, "test?");
    assert_eq!(page.posts[0].author.as_deref(), Some("halcy"));

    let Some(thread) = shared("mastodon/body_status_context_110446983926957470.json") else {
        return;
    };
    let page = run(
        mastodon::parse,
        &thread,
        "https://mastodon.social/api/v1/statuses/110446983926957470/context",
    );
    assert_eq!(
        ids(&page),
        [
            "https://mastodon.social/users/halcy/statuses/110446983178245440",
            "https://mastodon.social/users/halcy/statuses/110446984249325790"
        ]
    );
    assert_eq!(page.next, None);

    let Some(missing) = shared("mastodon/body_status_404.json") else {
        return;
    };
    let message = parse_error_message(mastodon::parse(
        &missing,
        &context("https://mastodon.social/api/v1/statuses/0"),
    ));
    assert!(message.contains("Not Found"), "{message}");
}

#[test]
fn shared_bluesky_search_and_threads() {
    let Some(body) = shared("bluesky/bskyr_app.bsky.feed.searchPosts_q_redistricting.json") else {
        return;
    };
    let page = run(bluesky::parse, &body, BSKY_SEARCH);
    assert_eq!(page.posts.len(), 23);
    assert!(page.next.as_deref().unwrap().ends_with("&cursor=25"));
    assert_eq!(
        page.posts
            .iter()
            .filter_map(|p| p.engagement.likes)
            .sum::<i64>(),
        213
    );
    assert!(page.posts.iter().all(|p| {
        p.url
            .as_deref()
            .unwrap()
            .starts_with("https://bsky.app/profile/")
    }));
    let marcelias = post(
        &page,
        "at://did:plc:pjiafkey2cokiupsxpswqlk7/app.bsky.feed.post/3kggmkh6lrr2k",
    );
    assert_eq!(marcelias.engagement.likes, Some(54));
    assert_eq!(marcelias.engagement.reposts, Some(15));
    assert!(marcelias.text.starts_with("We will never stop fighting."));
    let undeclared = post(
        &page,
        "at://did:plc:7sgclcermjo3y4b3625fyvld/app.bsky.feed.post/3kghckngg4a22",
    );
    assert_eq!(
        undeclared.lang.as_deref(),
        Some("en"),
        "no langs in the record: detected from the text"
    );
    assert_eq!(
        undeclared.published_at,
        Utc.with_ymd_and_hms(2023, 12, 13, 20, 37, 3).unwrap()
    );

    if let Some(thread) = shared("bluesky/bskyr_app.bsky.feed.getPostThread_no_replies.json") {
        let page = run(
            bluesky::parse,
            &thread,
            "https://public.api.bsky.app/xrpc/app.bsky.feed.getPostThread?uri=x",
        );
        assert_eq!(
            ids(&page),
            ["at://did:plc:ic6zqvuw5ulmfpjiwnhsr2ns/app.bsky.feed.post/3k7qmjev5lr2s"]
        );
        assert_eq!(
            page.posts[0].author.as_deref(),
            Some("soubhikbarari.bsky.social")
        );
        assert_eq!(page.posts[0].engagement.likes, Some(4));
        assert_eq!(page.next, None);
    }
    if let Some(media) = shared("bluesky/marshalx_app.bsky.feed.getPostThread_embed_media.json") {
        let page = run(
            bluesky::parse,
            &media,
            "https://public.api.bsky.app/xrpc/app.bsky.feed.getPostThread?uri=x",
        );
        assert!(page.posts.is_empty(), "empty text, empty alt");
    }
}

#[test]
fn shared_appstore_pages() {
    let Some(cn) = shared("appstore/customerreviews_497799835_cn_10.json") else {
        return;
    };
    let page = run(
        appstore::parse,
        &cn,
        "https://itunes.apple.com/cn/rss/customerreviews/page=10/id=497799835/sortby=mostrecent/json",
    );
    assert_eq!(page.posts.len(), 50);
    let mut stars = [0usize; 5];
    for post in &page.posts {
        let rating = post.engagement.rating.expect("every cn review is rated");
        stars[rating as usize - 1] += 1;
    }
    assert_eq!(stars, [29, 5, 4, 2, 10]);
    let first = post(&page, "6455612413");
    assert_eq!(first.author.as_deref(), Some("lxzyzwoout"));
    assert_eq!(first.engagement.likes, Some(2));
    assert!(
        page.posts
            .iter()
            .filter(|p| p.lang.as_deref() == Some("zh"))
            .count()
            >= 45,
        "the cn store's reviews are Chinese"
    );
    assert_eq!(page.next, None, "page 10 is Apple's last");

    let Some(fr) = shared("appstore/customerreviews_497799835_fr_1.json") else {
        return;
    };
    let page = run(
        appstore::parse,
        &fr,
        "https://itunes.apple.com/rss/customerreviews/page=1/id=497799835/sortby=mostrecent/json?l=en&cc=fr",
    );
    assert_eq!(page.posts.len(), 50);
    let mut stars = [0usize; 5];
    for post in &page.posts {
        stars[post.engagement.rating.unwrap() as usize - 1] += 1;
    }
    assert_eq!(stars, [32, 6, 4, 4, 4]);
    assert_eq!(
        post(&page, "6918761820").author.as_deref(),
        Some("Fouinneur@")
    );
    assert!(
        page.posts
            .iter()
            .filter(|p| p.lang.as_deref() == Some("fr"))
            .count()
            >= 45
    );
    assert_eq!(
        page.next.as_deref(),
        Some(
            "https://itunes.apple.com/rss/customerreviews/page=2/id=497799835/sortby=mostrecent/json?l=en&cc=fr"
        )
    );

    for (file, url) in [
        ("appstore/customerreviews_1510826067_gb_2.json", APPSTORE_GB),
        ("appstore/customerreviews_empty_page.json", APPSTORE_GB),
        (
            "appstore/customerreviews_555731861_us_11.json",
            "https://itunes.apple.com/us/rss/customerreviews/page=11/id=555731861/json",
        ),
    ] {
        let Some(body) = shared(file) else {
            return;
        };
        let page = run(appstore::parse, &body, url);
        assert!(page.posts.is_empty(), "{file}");
        assert_eq!(page.next, None, "{file}");
    }
    if let Some(gb) = shared("appstore/customerreviews_1510826067_gb_1.json") {
        let page = run(appstore::parse, &gb, APPSTORE_GB);
        assert_eq!(page.posts.len(), 4);
        assert!(page.posts.iter().all(|p| p.engagement.rating == Some(5.0)));
    }
}

#[test]
fn shared_json_kind_over_real_responses() {
    let Some(comments) = shared("reddit/body_r_askreddit_comments.json") else {
        return;
    };
    // The example of SPEC.md, unchanged.
    let fields = [
        ("id", "/data/id"),
        ("text", "/data/body"),
        ("author", "/data/author"),
        ("published", "/data/created_utc"),
        ("url", "/data/permalink"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let spec = JsonSpec::compile("/data/children", &fields, Some("/data/after"), None).unwrap();
    let page = extract_json(
        &spec,
        &comments,
        &context("https://www.reddit.com/r/askreddit/comments.json?limit=100"),
    )
    .unwrap();
    assert_eq!(page.posts.len(), 100);
    let last = post(&page, "d4y8a9e");
    assert_eq!(last.text, "But I need to find the thunderdome!");
    assert_eq!(last.published_at, at(1_467_590_634));
    assert_eq!(last.url, None, "2016 comments have no permalink");
    assert_eq!(
        page.next.as_deref(),
        Some("https://www.reddit.com/r/askreddit/comments.json?limit=100&after=t1_d4y8a9e")
    );

    let Some(bsky) = shared("bluesky/bskyr_app.bsky.feed.searchPosts_q_redistricting.json") else {
        return;
    };
    let fields = [
        ("id", "/uri"),
        ("text", "/record/text"),
        ("author", "/author/handle"),
        ("published", "/record/createdAt"),
        ("lang", "/record/langs"),
        ("likes", "/likeCount"),
        ("reposts", "/repostCount"),
        ("replies", "/replyCount"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let spec = JsonSpec::compile("/posts", &fields, Some("/cursor"), Some("cursor")).unwrap();
    let page = extract_json(&spec, &bsky, &context(BSKY_SEARCH)).unwrap();
    assert_eq!(page.posts.len(), 23);
    assert_eq!(
        page.posts
            .iter()
            .filter_map(|p| p.engagement.likes)
            .sum::<i64>(),
        213
    );
    assert!(page.next.as_deref().unwrap().ends_with("&cursor=25"));
}

// ---------------------------------------------------------------------------------
// No parser panics on broken input.
// ---------------------------------------------------------------------------------

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

/// Replaces a random selection of values with values of other types or odd contents.
fn mutate_value(value: &mut Value, rng: &mut Rng, depth: usize) {
    if depth > 40 {
        return;
    }
    if rng.below(10) == 0 {
        *value = match rng.below(12) {
            0 => Value::Null,
            1 => Value::Bool(true),
            2 => serde_json::json!(-1),
            3 => serde_json::json!(1e308),
            4 => serde_json::json!(u64::MAX),
            5 => Value::String(String::new()),
            6 => Value::String("<p>&amp;&#x4E2D;&#xFFFFFF;<b".into()),
            7 => Value::String("at://did:plc:x/app.bsky.feed.post/../../../".into()),
            8 => Value::String("9999999999999999999999".into()),
            9 => Value::Array(vec![Value::Null, Value::String("x".into())]),
            10 => serde_json::json!({"label": "", "attributes": {"href": "javascript:x"}}),
            _ => serde_json::json!({}),
        };
        return;
    }
    match value {
        Value::Array(items) => {
            if !items.is_empty() && rng.below(8) == 0 {
                let at = rng.below(items.len());
                items.remove(at);
            }
            for item in items {
                mutate_value(item, rng, depth + 1);
            }
        }
        Value::Object(object) => {
            if !object.is_empty() && rng.below(8) == 0 {
                let key = object.keys().nth(rng.below(object.len())).cloned();
                if let Some(key) = key {
                    object.remove(&key);
                }
            }
            for (_, item) in object.iter_mut() {
                mutate_value(item, rng, depth + 1);
            }
        }
        _ => {}
    }
}

fn variants(bytes: &[u8], rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut out = vec![bytes.to_vec(), Vec::new()];
    for _ in 0..6 {
        out.push(bytes[..rng.below(bytes.len() + 1)].to_vec());
    }
    for _ in 0..6 {
        let mut flipped = bytes.to_vec();
        if !flipped.is_empty() {
            for _ in 0..=rng.below(4) {
                let at = rng.below(flipped.len());
                flipped[at] = match rng.below(4) {
                    0 => b'"',
                    1 => b'{',
                    2 => 0xFF,
                    _ => (rng.next() & 0xFF) as u8,
                };
            }
        }
        out.push(flipped);
    }
    if let Ok(document) = serde_json::from_slice::<Value>(bytes) {
        for _ in 0..8 {
            let mut mutated = document.clone();
            mutate_value(&mut mutated, rng, 0);
            out.push(mutated.to_string().into_bytes());
        }
    }
    out
}

fn json_specs() -> Vec<JsonSpec> {
    let reddit_fields = [
        ("id", "/data/id"),
        ("text", "/data/body"),
        ("title", "/data/title"),
        ("author", "/data/author"),
        ("published", "/data/created_utc"),
        ("url", "/data/permalink"),
        ("score", "/data/score"),
        ("rating", "/data/ups"),
        ("lang", "/data/lang"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let root_fields = [
        ("id", "/id"),
        ("text", ""),
        ("published", "/created_at"),
        ("url", "/url"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vec![
        JsonSpec::compile("/data/children", &reddit_fields, Some("/data/after"), None).unwrap(),
        JsonSpec::compile("/", &root_fields, Some("/0/id"), Some("max_id")).unwrap(),
    ]
}

fn check_page(page: &Page, what: &str) {
    for post in &page.posts {
        assert!(!post.external_id.is_empty(), "{what}");
        assert!(!post.text.trim().is_empty(), "{what}");
        if let Some(url) = &post.url {
            assert!(
                url.starts_with("http://") || url.starts_with("https://"),
                "{what}: {url}"
            );
        }
        if let Some(rating) = post.engagement.rating {
            assert!(rating.is_finite(), "{what}");
        }
    }
    if let Some(next) = &page.next {
        assert!(
            next.starts_with("http://") || next.starts_with("https://"),
            "{what}: {next}"
        );
    }
}

#[test]
fn no_parser_panics_on_mutated_responses() {
    let mut files: Vec<PathBuf> = Vec::new();
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<PathBuf> = [
        "reddit",
        "hackernews",
        "mastodon",
        "bluesky",
        "appstore",
        "json",
    ]
    .iter()
    .map(|kind| local.join(kind))
    .collect();
    match shared_dir() {
        Some(shared) => dirs.extend(
            ["reddit", "hackernews", "mastodon", "bluesky", "appstore"]
                .iter()
                .map(|kind| shared.join(kind)),
        ),
        None => {
            eprintln!("skipping: ../shared/fixtures not present; mutating the local fixtures only")
        }
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        files.extend(
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|path| {
                    path.extension()
                        .is_some_and(|ext| ext == "json" || ext == "txt")
                }),
        );
    }
    files.sort();
    assert!(
        files.len() >= 14,
        "expected the fixtures, found {}",
        files.len()
    );

    let specs = json_specs();
    let parsers: [(&str, Parser); 5] = [
        ("reddit", reddit::parse),
        ("hackernews", hackernews::parse),
        ("mastodon", mastodon::parse),
        ("bluesky", bluesky::parse),
        ("appstore", appstore::parse),
    ];
    let urls = [
        "https://www.reddit.com/r/x/new.json?after=t3_a&raw_json=1",
        "https://hn.algolia.com/api/v1/search?query=x&page=2",
        "https://mastodon.social/api/v2/search?q=x&offset=5",
        "https://itunes.apple.com/cn/rss/customerreviews/id=1/sortby=mostrecent/json",
        "not a url at all",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut runs, mut pages) = (0usize, 0usize);
    for file in &files {
        let bytes = std::fs::read(file).expect("read fixture");
        for (index, variant) in variants(&bytes, &mut rng).iter().enumerate() {
            let url = urls[rng.below(urls.len())];
            let what = format!("{} variant {index} at {url}", file.display());
            let context = context(url);
            for (name, parser) in &parsers {
                if let Ok(page) = parser(variant, &context) {
                    check_page(&page, &format!("{name}: {what}"));
                    pages += usize::from(!page.posts.is_empty());
                }
                runs += 1;
            }
            for spec in &specs {
                if let Ok(page) = extract_json(spec, variant, &context) {
                    check_page(&page, &format!("json: {what}"));
                    pages += usize::from(!page.posts.is_empty());
                }
                runs += 1;
            }
            let _ = bluesky::parse_session(variant);
        }
    }
    assert!(runs > 1000, "only {runs} runs");
    // The mutations must reach the extraction code, not only the JSON reader (each
    // file suits one parser of seven, and byte-level damage mostly breaks the JSON).
    assert!(
        pages * 30 > runs,
        "only {pages} of {runs} runs produced posts"
    );
}

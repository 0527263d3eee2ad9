//! The `html` source kind end to end on pages: small hand-written fixtures in
//! tests/fixtures/html (always run), the captured real pages in
//! ../shared/fixtures/html (skipped when absent), and a seeded mutation loop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use vigil_core::Post;
use vigil_crawler::{HtmlSpec, Page, PageContext, decode_body, extract_html};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/html")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn shared_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/html");
    dir.exists().then_some(dir)
}

fn shared(name: &str) -> Option<Vec<u8>> {
    let path = shared_dir()?.join(name);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            eprintln!("skipping: {} not present", path.display());
            None
        }
    }
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, selector)| (name.to_string(), selector.to_string()))
        .collect()
}

/// The moment the fixtures were "fetched": anchors relative and year-less dates.
fn fetched_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 15, 12, 0, 0).unwrap()
}

fn context(fetch_url: &str) -> PageContext<'_> {
    PageContext {
        source: "acme-reviews",
        fetch_url,
        http_status: Some(200),
        fetched_at: fetched_at(),
    }
}

fn review_spec() -> HtmlSpec {
    HtmlSpec::compile(
        "div.review",
        &fields(&[
            ("text", "p.body"),
            ("title", ".title"),
            ("author", ".author"),
            ("published", "time@datetime"),
            ("url", "a.permalink@href"),
            ("rating", ".stars@data-rating"),
            ("likes", ".helpful"),
            ("id", "@data-id"),
        ]),
        Some("a.next@href"),
    )
    .expect("spec compiles")
}

fn warning<'a>(page: &'a Page, needle: &str) -> &'a str {
    page.warnings
        .iter()
        .find(|w| w.contains(needle))
        .unwrap_or_else(|| panic!("no warning with {needle:?} in {:#?}", page.warnings))
}

fn post<'a>(page: &'a Page, external_id: &str) -> &'a Post {
    page.posts
        .iter()
        .find(|p| p.external_id == external_id)
        .unwrap_or_else(|| panic!("no post {external_id}"))
}

#[test]
fn review_page_fields_links_and_next_page() {
    let fetch_url = "https://reviews.example.com/acme?page=1";
    let page = extract_html(
        &review_spec(),
        &fixture("reviews_page1.html"),
        Some("text/html; charset=utf-8"),
        &context(fetch_url),
    );
    let ids: Vec<&str> = page.posts.iter().map(|p| p.external_id.as_str()).collect();
    assert_eq!(
        ids,
        ["r101", "r102", "r103", "r104"],
        "the <script> string is no item"
    );
    assert_eq!(
        page.next.as_deref(),
        Some("https://reviews.example.com/acme?page=2")
    );

    let first = post(&page, "r101");
    assert_eq!(first.author.as_deref(), Some("Alice"));
    assert_eq!(first.title.as_deref(), Some("Boils fast, lid sticks"));
    assert_eq!(
        first.text,
        "Boils a litre in two minutes.\nThe lid sticks after a month."
    );
    assert_eq!(
        first.published_at,
        Utc.with_ymd_and_hms(2024, 5, 1, 13, 2, 0).unwrap()
    );
    assert_eq!(
        first.url.as_deref(),
        Some("https://reviews.example.com/acme/r/101")
    );
    assert_eq!(first.engagement.rating, Some(4.0));
    assert_eq!(first.engagement.likes, Some(1234));
    assert_eq!(
        first.lang.as_deref(),
        Some("en"),
        "inherited from <html lang>"
    );
    assert_eq!(first.source, "acme-reviews");
    assert_eq!(first.provenance.extraction, "html:div.review");
    assert_eq!(first.provenance.fetch_url, fetch_url);
    assert_eq!(first.provenance.http_status, Some(200));

    let second = post(&page, "r102");
    assert_eq!(second.author.as_deref(), Some("Bob & Co"));
    assert_eq!(
        second.published_at,
        fetched_at() - Duration::hours(3),
        "empty datetime attribute falls back to the text \"3 hours ago\""
    );
    assert_eq!(
        second.text, "Stopped working after a week. Support never answered.",
        "script inside the body is dropped"
    );
    assert_eq!(
        second.url.as_deref(),
        Some("https://reviews.example.com/acme/r/102#reviews"),
        "protocol-relative link"
    );
    assert_eq!(second.engagement.rating, Some(1.5));
    assert_eq!(second.engagement.likes, Some(1200), "1.2k");

    let third = post(&page, "r103");
    assert_eq!(
        third.published_at,
        Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
        "<time>2024年5月1日</time> without a datetime attribute"
    );
    assert_eq!(
        third.url.as_deref(),
        Some("https://reviews.example.com/r/103"),
        "relative link resolved against the fetched URL"
    );
    assert_eq!(
        third.engagement.rating,
        Some(5.0),
        "empty data-rating falls back to the text \"Rated 5 stars\""
    );
    assert_eq!(third.engagement.likes, None);
    assert_eq!(
        third.lang.as_deref(),
        Some("zh"),
        "Chinese text overrules lang=en"
    );

    let fourth = post(&page, "r104");
    assert_eq!(fourth.author, None);
    assert_eq!(fourth.url, None, "javascript: is not a link");
    assert_eq!(fourth.engagement.rating, None);
    assert_eq!(
        fourth.published_at,
        fetched_at(),
        "unreadable date → fetch time"
    );

    // One warning per field and kind of problem, not one per item.
    assert!(warning(&page, "fields.author").contains("1 of 4 items"));
    assert!(warning(&page, "fields.likes").contains("2 of 4 items"));
    let published = warning(&page, "fields.published");
    assert!(
        published.contains("1 of 4 values were not a date") && published.contains("sometime soon"),
        "{published}"
    );
    assert!(warning(&page, "fields.rating").contains("\"lots\""));
    assert!(warning(&page, "fields.url").contains("javascript:void(0)"));
    assert!(warning(&page, "no readable date").starts_with("1 items"));
    assert_eq!(page.warnings.len(), 6, "{:#?}", page.warnings);
}

#[test]
fn base_href_and_next_page_loop_guard() {
    let fetch_url = "https://reviews.example.com/acme?page=3";
    let page = extract_html(
        &review_spec(),
        &fixture("reviews_last_page.html"),
        None,
        &context(fetch_url),
    );
    assert_eq!(page.posts.len(), 1);
    let only = &page.posts[0];
    assert_eq!(only.external_id, "r201");
    assert_eq!(
        only.url.as_deref(),
        Some("https://cdn.example.com/mirror/r/201"),
        "<base href> wins over the fetched URL"
    );
    assert_eq!(only.text, "Second kettle, same problem.");
    assert_eq!(
        only.published_at,
        Utc.with_ymd_and_hms(2024, 4, 2, 8, 15, 0).unwrap()
    );
    assert_eq!(page.next, None, "a next link back to this page is ignored");

    // The same page fetched as page 2: its next link is a real next page.
    let page = extract_html(
        &review_spec(),
        &fixture("reviews_last_page.html"),
        None,
        &context("https://reviews.example.com/acme?page=2"),
    );
    assert_eq!(
        page.next.as_deref(),
        Some("https://reviews.example.com/acme?page=3")
    );
}

#[test]
fn item_selector_matching_nothing_is_a_warning() {
    let spec = HtmlSpec::compile(
        "article.review-card",
        &fields(&[("text", "p.body")]),
        Some("a.next"),
    )
    .unwrap();
    let page = extract_html(
        &spec,
        &fixture("reviews_page1.html"),
        None,
        &context("https://reviews.example.com/acme?page=1"),
    );
    assert!(page.posts.is_empty());
    assert_eq!(page.warnings.len(), 1, "{:#?}", page.warnings);
    assert!(
        page.warnings[0].contains("\"article.review-card\" matched nothing")
            && page.warnings[0].contains("layout"),
        "{}",
        page.warnings[0]
    );
    assert_eq!(
        page.next.as_deref(),
        Some("https://reviews.example.com/acme?page=2"),
        "next_page without @attr means @href"
    );
}

#[test]
fn without_a_text_field_the_whole_item_is_the_text() {
    let spec = HtmlSpec::compile("div.review", &BTreeMap::new(), None).unwrap();
    let page = extract_html(
        &spec,
        &fixture("reviews_page1.html"),
        None,
        &context("https://reviews.example.com/acme"),
    );
    assert_eq!(page.posts.len(), 4);
    let first = &page.posts[0];
    assert!(
        first.text.starts_with("Boils fast, lid sticks\nAlice"),
        "{}",
        first.text
    );
    assert!(first.text.contains("The lid sticks after a month."));
    // No `published` field: the item's <time datetime> is used.
    assert_eq!(
        first.published_at,
        Utc.with_ymd_and_hms(2024, 5, 1, 13, 2, 0).unwrap()
    );
    assert!(
        !page.posts[1].text.contains("track("),
        "scripts are not text"
    );
    // No `id` and no `url`: finish_items falls back to the content hash.
    assert!(first.external_id.starts_with("sha256:"));
}

#[test]
fn nested_replies_are_separate_posts_with_chinese_dates_and_counts() {
    let spec = HtmlSpec::compile(
        "li.post",
        &fields(&[
            ("text", ".content"),
            ("author", ".user"),
            ("published", ".date"),
            ("likes", ".likes"),
            ("replies", ".replies"),
            ("id", "@id"),
        ]),
        None,
    )
    .unwrap();
    let page = extract_html(
        &spec,
        &fixture("forum_thread_zh.html"),
        None,
        &context("https://bbs.example.cn/t/1"),
    );
    type Summary<'a> = (&'a str, Option<&'a str>, Option<i64>, Option<i64>);
    let summary: Vec<Summary<'_>> = page
        .posts
        .iter()
        .map(|p| {
            (
                p.external_id.as_str(),
                p.author.as_deref(),
                p.engagement.likes,
                p.engagement.replies,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("p1", Some("老王"), Some(12), Some(2)),
            ("p2", Some("小李"), Some(3), None),
            ("p3", Some("阿强"), Some(12_000), None),
        ]
    );
    assert_eq!(page.posts[0].text, "艾克米水壶漏水了，大家有遇到吗？");
    assert_eq!(
        page.posts[0].published_at,
        fetched_at() - Duration::hours(3)
    );
    assert_eq!(
        page.posts[1].published_at,
        Utc.with_ymd_and_hms(2024, 6, 14, 13, 2, 0).unwrap(),
        "昨天 13:02"
    );
    assert_eq!(
        page.posts[2].published_at,
        Utc.with_ymd_and_hms(2024, 5, 1, 9, 30, 0).unwrap()
    );
    assert_eq!(page.posts[0].lang.as_deref(), Some("zh"));
    assert!(warning(&page, "fields.replies").contains("2 of 3 items"));

    // Whole-item text: the outer post does not swallow its nested reply.
    let whole = HtmlSpec::compile("li.post", &BTreeMap::new(), None).unwrap();
    let page = extract_html(
        &whole,
        &fixture("forum_thread_zh.html"),
        None,
        &context("https://bbs.example.cn/t/1"),
    );
    assert_eq!(page.posts.len(), 3);
    assert!(page.posts[0].text.contains("大家有遇到吗"));
    assert!(
        !page.posts[0].text.contains("盖子"),
        "{}",
        page.posts[0].text
    );
    assert!(page.posts[1].text.contains("盖子"));
}

#[test]
fn gbk_page_declared_by_meta_charset() {
    let html = "<html><head><meta charset=\"gbk\"><title>评论</title></head><body>\
        <div class=\"review\"><span class=\"author\">张伟</span>\
        <span class=\"date\">2天前</span><p class=\"body\">艾克米水壶质量很差，用了一周就漏水。</p></div>\
        <div class=\"review\"><span class=\"author\">李娜</span>\
        <span class=\"date\">2024年5月1日 13:02</span><p class=\"body\">客服态度很好。</p></div>\
        </body></html>";
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(html);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "really GBK bytes");
    let spec = HtmlSpec::compile(
        "div.review",
        &fields(&[
            ("text", "p.body"),
            ("author", ".author"),
            ("published", ".date"),
        ]),
        None,
    )
    .unwrap();
    // No charset in the header, and a header that wrongly says UTF-8: the <meta> wins.
    for content_type in [None, Some("text/html"), Some("text/html; charset=utf-8")] {
        let page = extract_html(
            &spec,
            &bytes,
            content_type,
            &context("http://bbs.example.cn/"),
        );
        assert!(
            page.warnings.is_empty(),
            "{content_type:?}: {:?}",
            page.warnings
        );
        let texts: Vec<&str> = page.posts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            ["艾克米水壶质量很差，用了一周就漏水。", "客服态度很好。"],
            "{content_type:?}"
        );
        assert_eq!(page.posts[0].author.as_deref(), Some("张伟"));
        assert_eq!(page.posts[0].published_at, fetched_at() - Duration::days(2));
        assert_eq!(
            page.posts[1].published_at,
            Utc.with_ymd_and_hms(2024, 5, 1, 13, 2, 0).unwrap()
        );
    }
}

#[test]
fn utf8_page_with_a_stale_gb2312_meta_is_read_as_utf8() {
    let html = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"></head>\
        <body><div class=\"post\"><p>人工智能迈上新台阶</p></div></body></html>";
    let spec = HtmlSpec::compile("div.post", &BTreeMap::new(), None).unwrap();
    let page = extract_html(
        &spec,
        html.as_bytes(),
        None,
        &context("http://news.example.cn/"),
    );
    assert_eq!(page.posts.len(), 1);
    assert_eq!(page.posts[0].text, "人工智能迈上新台阶");
    assert!(
        page.warnings.iter().all(|w| !w.contains("U+FFFD")),
        "{:?}",
        page.warnings
    );
    let (_, encoding, had_errors) = vigil_crawler::decode_body(html.as_bytes(), None);
    assert_eq!((encoding, had_errors), (Some("UTF-8"), false));
}

#[test]
fn garbage_and_empty_bodies_are_warnings_not_panics() {
    for body in [
        &b""[..],
        b"\xFF\xFE\x00",
        b"<<<<div class=review>>>",
        b"not html at all",
        b"\x00\x01\x02\x03",
    ] {
        let page = extract_html(&review_spec(), body, None, &context("not a url"));
        assert!(
            page.warnings.iter().any(|w| w.contains("matched nothing")),
            "{body:?}: {:?}",
            page.warnings
        );
        assert_eq!(page.next, None);
    }
}

#[test]
fn compile_errors_quote_the_selector() {
    let error = HtmlSpec::compile("div[", &BTreeMap::new(), None).unwrap_err();
    assert!(
        error.contains("\"div[\" is not a valid CSS selector"),
        "{error}"
    );
    let error = HtmlSpec::compile(
        "div.review",
        &fields(&[("body", "p"), ("text", "p..x")]),
        Some("a.next@"),
    )
    .unwrap_err();
    assert!(error.contains("unknown field name \"body\""), "{error}");
    assert!(error.contains("fields.text = \"p..x\""), "{error}");
    assert!(error.contains("next_page = \"a.next@\""), "{error}");
}

// ---------------------------------------------------------------------------------
// Captured real pages (../shared/fixtures/html)

#[test]
fn shared_xenforo_forum_thread_has_nine_posts() {
    let Some(bytes) = shared("trafilatura_villagersandheroes.com.forums.patchnotes.html") else {
        eprintln!("skipping: ../shared/fixtures/html not present");
        return;
    };
    let spec = HtmlSpec::compile(
        "article.message",
        &fields(&[
            ("author", "@data-author"),
            ("id", "@data-content"),
            ("published", ".message-attribution-main time@datetime"),
            ("url", "a.message-attribution-main@href"),
            ("text", ".message-body .bbWrapper"),
        ]),
        Some("a.pageNav-jump--next@href"),
    )
    .unwrap();
    let fetch_url = "https://villagersandheroes.com/forums/threads/patchnotes-4-47-4-tagundnachtgleiche-bugfix-build.3976/";
    let page = extract_html(
        &spec,
        &bytes,
        Some("text/html; charset=utf-8"),
        &context(fetch_url),
    );
    assert!(page.warnings.is_empty(), "{:#?}", page.warnings);
    let authors: Vec<&str> = page
        .posts
        .iter()
        .map(|p| p.author.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        authors,
        [
            "Tiberius",
            "Bibi Blocksberg",
            "Bluerider",
            "Nixe",
            "Tiberius",
            "Glockenfee",
            "Bibi Blocksberg",
            "Bibi Blocksberg",
            "Tiberius"
        ]
    );
    // datetime="2020-09-18T08:56:40-0700" (an offset without a colon).
    assert_eq!(
        page.posts[0].published_at,
        Utc.with_ymd_and_hms(2020, 9, 18, 15, 56, 40).unwrap()
    );
    assert_eq!(
        page.posts[8].published_at,
        Utc.with_ymd_and_hms(2020, 10, 6, 16, 38, 8).unwrap()
    );
    assert!(
        page.posts
            .windows(2)
            .all(|w| w[0].published_at <= w[1].published_at),
        "thread order is chronological"
    );
    assert_eq!(page.posts[0].external_id, "post-53504");
    assert_eq!(
        page.posts[0].url.as_deref(),
        Some(
            "https://villagersandheroes.com/forums/threads/patchnotes-4-47-4-tagundnachtgleiche-bugfix-build.3976/post-53504"
        )
    );
    assert!(
        page.posts[0]
            .text
            .starts_with("Patch Notes 4.47.4\nVerbesserungen und Balance"),
        "{}",
        page.posts[0].text
    );
    assert!(
        page.posts[0]
            .text
            .contains("\nLichtrunen von Pharaoh Okyris wurden entfernt.\n")
    );
    assert!(
        page.posts[1]
            .text
            .starts_with("Schade das die Lichtrunen bei Okyris weg sind.")
    );
    assert_eq!(page.next, None, "a one-page thread");
}

#[test]
fn shared_trustpilot_review_with_rating() {
    let Some(bytes) = shared("trafilatura_uk.trustpilot.com.reviews.html") else {
        eprintln!("skipping: ../shared/fixtures/html not present");
        return;
    };
    let spec = HtmlSpec::compile(
        "article.review",
        &fields(&[
            ("id", "@id"),
            ("author", ".consumer-information__name"),
            ("title", ".review-content__title"),
            ("text", ".review-content__text"),
            ("rating", ".star-rating img@alt"),
            // The date is only in inline JSON: {"publishedDate":"2016-11-04T20:37:27Z",…}
            ("published", "script[data-initial-state=review-dates]"),
            ("url", ".review-content__title a@href"),
        ]),
        None,
    )
    .unwrap();
    let page = extract_html(
        &spec,
        &bytes,
        None,
        &context("https://uk.trustpilot.com/reviews/581cf1892ae760087cadbf17"),
    );
    assert!(page.warnings.is_empty(), "{:#?}", page.warnings);
    assert_eq!(page.posts.len(), 1);
    let review = &page.posts[0];
    assert_eq!(review.external_id, "581cf1892ae760087cadbf17");
    assert_eq!(review.author.as_deref(), Some("Mrs H Pyke"));
    assert_eq!(
        review.title.as_deref(),
        Some("Gousto has changed my life....")
    );
    assert!(review.text.starts_with("I cannot thank Gousto enough."));
    assert!(
        review.text.contains("'made from scratch'"),
        "entities decoded: {}",
        review.text
    );
    assert_eq!(
        review.engagement.rating,
        Some(5.0),
        "alt=\"5 stars: Excellent\""
    );
    assert_eq!(
        review.published_at,
        Utc.with_ymd_and_hms(2016, 11, 4, 20, 37, 27).unwrap()
    );
    assert_eq!(
        review.url.as_deref(),
        Some("https://uk.trustpilot.com/reviews/581cf1892ae760087cadbf17")
    );
    assert_eq!(review.lang.as_deref(), Some("en"), "<html lang=\"en-gb\">");
}

#[test]
fn shared_qq_article_is_utf8_despite_its_gb2312_meta() {
    let Some(bytes) = shared("readability_qq_source.html") else {
        eprintln!("skipping: ../shared/fixtures/html not present");
        return;
    };
    assert!(std::str::from_utf8(&bytes).is_ok(), "the capture is UTF-8");
    // What decode_body alone does with it: follows the <meta charset=gb2312>.
    let (decoded, encoding, had_errors) = decode_body(&bytes, None);
    eprintln!(
        "decode_body(qq, None) → {encoding:?}, had_errors={had_errors}, title intact: {}",
        decoded.contains("DeepMind新电脑已可利用记忆自学")
    );
    let spec = HtmlSpec::compile(
        "#C-Main-Article-QQ",
        &fields(&[
            ("title", "h1"),
            ("author", ".where"),
            ("published", ".pubTime"),
            ("text", "#Cnt-Main-Article-QQ"),
        ]),
        None,
    )
    .unwrap();
    let page = extract_html(
        &spec,
        &bytes,
        None,
        &context("http://tech.qq.com/a/20161014/006270.htm"),
    );
    assert_eq!(page.posts.len(), 1, "{:#?}", page.warnings);
    let article = &page.posts[0];
    assert_eq!(
        article.title.as_deref(),
        Some("DeepMind新电脑已可利用记忆自学 人工智能迈上新台阶")
    );
    assert_eq!(article.author.as_deref(), Some("TNW中文站"));
    // "2016年10月14日07:17", no zone → UTC.
    assert_eq!(
        article.published_at,
        Utc.with_ymd_and_hms(2016, 10, 14, 7, 17, 0).unwrap()
    );
    assert!(
        article
            .text
            .starts_with("转播到腾讯微博\nTNW中文站 10月14日报道\n"),
        "{}",
        &article.text[..200.min(article.text.len())]
    );
    assert!(
        article
            .text
            .contains("这款名为DNC（可微神经计算机）的AI模型")
    );
    assert_eq!(
        article.lang.as_deref(),
        Some("zh"),
        "the page declares no lang: detected from the text"
    );
}

/// A tiny deterministic xorshift generator: no new dependency for a fuzz loop.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Flips, deletes, duplicates and truncates: broken tags, broken UTF-8, lost closers.
fn mutate(rng: &mut XorShift, original: &[u8]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for _ in 0..=rng.below(40) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.below(bytes.len());
        match rng.below(5) {
            0 => bytes[at] = (rng.next() & 0xFF) as u8,
            1 => {
                let end = (at + rng.below(200)).min(bytes.len());
                bytes.drain(at..end);
            }
            2 => {
                let end = (at + rng.below(100)).min(bytes.len());
                let copy = bytes[at..end].to_vec();
                let to = rng.below(bytes.len());
                bytes.splice(to..to, copy);
            }
            3 => {
                let junk: &[u8] = [
                    &b"<"[..],
                    b"</div>",
                    b"<div class=review>",
                    b"\xE5\xA5",
                    b"&#x",
                    b"<script>",
                ][rng.below(6)];
                bytes.splice(at..at, junk.iter().copied());
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

#[test]
fn mutated_pages_never_panic() {
    let mut pages: Vec<(String, Vec<u8>)> = [
        "reviews_page1.html",
        "reviews_last_page.html",
        "forum_thread_zh.html",
    ]
    .iter()
    .map(|name| (name.to_string(), fixture(name)))
    .collect();
    match shared_dir() {
        Some(dir) => {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
                .expect("shared html dir")
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "html"))
                .collect();
            entries.sort();
            for path in entries {
                let bytes = std::fs::read(&path).expect("readable fixture");
                pages.push((path.display().to_string(), bytes));
            }
        }
        None => eprintln!("skipping shared pages: ../shared/fixtures/html not present"),
    }
    let specs = [
        review_spec(),
        HtmlSpec::compile(
            "article.message, li.post, div",
            &fields(&[
                ("author", "@data-author"),
                ("published", "time@datetime"),
                ("rating", "img@alt"),
                ("likes", "span"),
                ("url", "a"),
            ]),
            Some("a"),
        )
        .unwrap(),
    ];
    let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
    let mut posts = 0usize;
    for (name, original) in &pages {
        // The intact page first, then mutations; big pages get fewer rounds.
        let rounds = if original.len() > 100_000 { 3 } else { 8 };
        for round in 0..=rounds {
            let bytes = if round == 0 {
                original.clone()
            } else {
                mutate(&mut rng, original)
            };
            for spec in &specs {
                let content_type = [
                    None,
                    Some("text/html; charset=gbk"),
                    Some("text/html; charset=utf-8"),
                ][rng.below(3)];
                let page = extract_html(
                    spec,
                    &bytes,
                    content_type,
                    &context("https://example.com/a/b?page=1"),
                );
                posts += page.posts.len();
                for post in &page.posts {
                    assert!(!post.text.is_empty(), "{name}: empty post text");
                }
            }
        }
    }
    assert!(posts > 0, "the loop extracted something");
}

#[test]
fn a_configured_field_that_is_missing_is_not_replaced_by_a_default() {
    let html = "<html><body>\
        <div class=c><p class=body>Kettle leaks.</p><time datetime=2024-05-01>May 1</time></div>\
        <div class=c><span>Only a signature, no body</span><time datetime=2024-05-02>May 2</time></div>\
        </body></html>";
    let spec = HtmlSpec::compile(
        "div.c",
        &fields(&[("text", "p.body"), ("published", ".date")]),
        None,
    )
    .unwrap();
    let page = extract_html(
        &spec,
        html.as_bytes(),
        None,
        &context("https://example.com/"),
    );
    assert_eq!(page.posts.len(), 1, "the item without its body is skipped");
    assert_eq!(page.posts[0].text, "Kettle leaks.");
    assert_eq!(
        page.posts[0].published_at,
        fetched_at(),
        "a configured `published` that matches nothing does not fall back to <time>"
    );
    assert!(warning(&page, "fields.text").contains("1 of 2 items"));
    assert!(warning(&page, "fields.published").contains("2 of 2 items"));
    assert!(warning(&page, "no text and were skipped").starts_with("1 items"));
}

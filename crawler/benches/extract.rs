//! Parse + extract throughput on one core: `parse_feed` over the feed fixtures and
//! `extract_html` over synthetic review pages and the shared HTML pages. Each benchmark
//! reports bytes/s and posts/s (criterion's elements/s are posts).
//!
//! `cargo bench -p vigil-crawler --bench extract` (figures in BENCHMARKS.md, "Crawler").

mod support;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use vigil_crawler::{HtmlSpec, PageContext, extract_html, parse_feed};

use support::{crawler_dir, files, review_page, review_spec, shared_fixtures};

fn fetched_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 15, 12, 0, 0)
        .single()
        .expect("valid fixed time")
}

/// Posts `parse_feed` makes of every document (errors count as zero posts).
fn feed_posts(docs: &[(String, Vec<u8>)]) -> usize {
    docs.iter()
        .map(|(_, bytes)| {
            parse_feed(
                bytes,
                None,
                "bench",
                "https://example.com/feed",
                Some(200),
                fetched_at(),
            )
            .map_or(0, |feed| feed.posts.len())
        })
        .sum()
}

fn bench_feed_set(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    docs: &[(String, Vec<u8>)],
) {
    if docs.is_empty() {
        return;
    }
    let bytes: usize = docs.iter().map(|(_, b)| b.len()).sum();
    let posts = feed_posts(docs);
    eprintln!(
        "feed/{name}: {} documents, {bytes} bytes, {posts} posts per iteration",
        docs.len()
    );
    group.throughput(Throughput::ElementsAndBytes {
        elements: posts as u64,
        bytes: bytes as u64,
    });
    let now = fetched_at();
    group.bench_function(name, |b| {
        b.iter(|| {
            for (_, doc) in docs {
                let _ = black_box(parse_feed(
                    black_box(doc),
                    None,
                    "bench",
                    "https://example.com/feed",
                    Some(200),
                    now,
                ));
            }
        })
    });
}

fn feeds(c: &mut Criterion) {
    let mut group = c.benchmark_group("feed");
    let repo = files(&crawler_dir().join("tests/fixtures"), "xml");
    bench_feed_set(&mut group, "repo_fixtures", &repo);
    if let Some(dir) = shared_fixtures("rss") {
        let shared = files(&dir, "xml");
        bench_feed_set(&mut group, "shared_rss_all", &shared);
        // The larger real feeds one by one: the per-format figure.
        for wanted in [
            "feedrs_atom_reddit_mediarss.xml",
            "samplefeeds_theverge_atom.xml",
            "samplefeeds_skynews_rss2.xml",
            "samplefeeds_mastodon_user_rss.xml",
            "chardet_gb2312_rss092_cnblog.org.xml",
        ] {
            if let Some(doc) = shared.iter().find(|(name, _)| name == wanted) {
                let name = wanted.trim_end_matches(".xml").to_string();
                bench_feed_set(&mut group, &name, std::slice::from_ref(doc));
            }
        }
    }
    group.finish();
}

fn bench_html(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    spec: &HtmlSpec,
    page: &[u8],
    fetch_url: &str,
) {
    let context = PageContext {
        source: "bench",
        fetch_url,
        http_status: Some(200),
        fetched_at: fetched_at(),
    };
    let posts = extract_html(spec, page, None, &context).posts.len();
    eprintln!(
        "html/{name}: {} bytes, {posts} posts per iteration",
        page.len()
    );
    group.throughput(Throughput::ElementsAndBytes {
        elements: posts as u64,
        bytes: page.len() as u64,
    });
    group.bench_function(name, |b| {
        b.iter(|| black_box(extract_html(spec, black_box(page), None, &context)))
    });
}

fn spec(item: &str, fields: &[(&str, &str)]) -> HtmlSpec {
    let fields: BTreeMap<String, String> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    HtmlSpec::compile(item, &fields, None)
        .unwrap_or_else(|why| panic!("benchmark spec {item:?} does not compile: {why}"))
}

fn html(c: &mut Criterion) {
    let mut group = c.benchmark_group("html");
    let review = review_spec();
    let url = "https://reviews.example.com/acme-kettle/reviews?page=1";
    // ~100 KB: 50 reviews of ~200 words; ~1 MB: 50 reviews of ~2,500 words.
    for (name, words) in [
        ("synthetic_50_reviews_100k", 200),
        ("synthetic_50_reviews_1m", 2_500),
    ] {
        let page = review_page(1, "", 50, words, Some("?page=2"));
        let posts = extract_html(
            &review,
            page.as_bytes(),
            None,
            &PageContext {
                source: "bench",
                fetch_url: url,
                http_status: Some(200),
                fetched_at: fetched_at(),
            },
        )
        .posts
        .len();
        assert_eq!(posts, 50, "the synthetic page must yield its 50 reviews");
        bench_html(&mut group, name, &review, page.as_bytes(), url);
    }
    // The HTML parsers alone on the 100 KB page: html5ever through scraper (what
    // extract_html used before the fast tree builder), and the fast builder.
    let page = review_page(1, "", 50, 200, Some("?page=2"));
    group.throughput(Throughput::Bytes(page.len() as u64));
    group.bench_function("parse_only_scraper_100k", |b| {
        b.iter(|| black_box(scraper::Html::parse_document(black_box(&page))))
    });
    // The fast tree builder alone on the same page (the same tree; see html_tree.rs).
    assert!(
        vigil_crawler::parse_html_fast(&page).is_ok(),
        "the fast parser must accept the synthetic page"
    );
    group.bench_function("parse_only_fast_100k", |b| {
        b.iter(|| black_box(vigil_crawler::parse_html_fast(black_box(&page))))
    });

    if let Some(dir) = shared_fixtures("html") {
        let pages = files(&dir, "html");
        let xenforo = spec(
            "article.message--post",
            &[
                ("text", ".bbWrapper"),
                ("author", "@data-author"),
                ("published", "time@datetime"),
                ("id", "@data-content"),
            ],
        );
        let wordpress = spec(
            "article.comment-body",
            &[
                ("text", ".comment-content"),
                ("author", ".comment-author .fn"),
                ("published", "time@datetime"),
                ("id", "@id"),
            ],
        );
        let trustpilot = spec(
            "div.review-card",
            &[
                ("text", ".review-content__text"),
                ("title", ".review-content__title"),
                ("author", ".consumer-information__name"),
                ("published", "time@datetime"),
            ],
        );
        let paragraphs = spec("p", &[]);
        for (name, bytes) in &pages {
            let spec = if name.contains("forum") {
                &xenforo
            } else if name.contains("lemire") {
                &wordpress
            } else if name.contains("trustpilot") {
                &trustpilot
            } else {
                &paragraphs
            };
            let short = name.trim_end_matches(".html");
            bench_html(&mut group, short, spec, bytes, "https://example.com/page");
        }
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = feeds, html
}
criterion_main!(benches);

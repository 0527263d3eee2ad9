//! Aggregation latency over a generated corpus (default 1,000,000 posts over 90 days,
//! half English, half Chinese, 6 brands, 40 sources, 100,000 authors, 3% copies, a
//! "recall" spike on the last day).
//!
//! - `timeline/30d_day_all`, `timeline/30d_day_brand`, `timeline/30d_day_brand_originals`,
//!   `timeline/7d_hour_brand`: [`SearchIndex::timeline`] (the 200 ms target is the
//!   30-day daily timeline).
//! - `timeline/30d_day_brand_tantivy_aggregation`: the same numbers from tantivy's
//!   aggregation framework (date_histogram + terms + avg), for comparison.
//! - `share_of_voice/30d_6_brands`, `top_sources/30d_brand`, `top_authors/30d_brand`,
//!   `top_terms/1d_vs_7d_brand` (2,000 posts sampled per window).
//!
//! `cargo bench -p vigil-index --bench aggregate`; `VIGIL_BENCH_POSTS=N` changes the
//! corpus size. The index is built once (a minute or two) into cargo's target tmp dir
//! and reused by later runs.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector};
use tantivy::query::{BooleanQuery, Occur, Query as TantivyQuery, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;
use vigil_core::{Engagement, Label, Post, Provenance, Query, Sentiment, StoredPost};
use vigil_index::{Interval, SearchIndex, SearchRequest, TimelineOptions};

const DEFAULT_POSTS: u64 = 1_000_000;
const CORPUS_DAYS: i64 = 90;
/// Bump when the generated corpus changes, so a cached index is not reused.
const CORPUS_VERSION: u32 = 1;

const BRANDS: [(&str, u64); 6] = [
    ("acme", 40),
    ("globex", 20),
    ("initech", 15),
    ("umbrella", 10),
    ("hooli", 8),
    ("stark", 7),
];

const ENGLISH_WORDS: &[&str] = &[
    "kettle",
    "coffee",
    "delivery",
    "order",
    "support",
    "price",
    "quality",
    "battery",
    "screen",
    "update",
    "service",
    "store",
    "refund",
    "shipping",
    "customer",
    "review",
    "great",
    "terrible",
    "love",
    "hate",
    "broken",
    "works",
    "fast",
    "slow",
    "cheap",
    "expensive",
    "recommend",
    "never",
    "again",
    "today",
    "morning",
    "water",
    "tea",
    "the",
    "is",
    "and",
    "my",
    "it",
    "was",
    "with",
    "for",
    "this",
    "not",
    "very",
    "just",
];

const CHINESE_PHRASES: &[&str] = &[
    "水壶", "咖啡", "快递", "客服", "价格", "质量", "电池", "屏幕", "更新", "服务", "商店", "退款",
    "发货", "顾客", "评价", "很好", "太差", "喜欢", "讨厌", "坏了", "好用", "很快", "很慢", "便宜",
    "推荐", "今天", "早上", "烧水", "泡茶", "我的", "这个", "非常", "真的",
];

/// splitmix64: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Skewed towards 0: a few big authors and sources, a long tail.
    fn skewed(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b).min(self.below(n))
    }
}

fn corpus_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 30, 0, 0, 0).unwrap()
}

fn pick_brand(rng: &mut Rng) -> &'static str {
    let mut roll = rng.below(100);
    for (brand, weight) in BRANDS {
        if roll < weight {
            return brand;
        }
        roll -= weight;
    }
    BRANDS[0].0
}

fn generated_post(rng: &mut Rng, seq: u64, posts: u64) -> StoredPost {
    let start = corpus_end() - TimeDelta::days(CORPUS_DAYS);
    let span = CORPUS_DAYS * 86_400;
    // Roughly chronological, as crawled, with up to an hour of jitter.
    let offset = (seq as i64 * span / posts as i64 + rng.below(3_600) as i64).min(span - 1);
    let published_at = start + TimeDelta::seconds(offset);
    let last_day = offset >= span - 86_400;

    let mut brands = vec![pick_brand(rng).to_string()];
    if rng.below(10) == 0 {
        let second = pick_brand(rng).to_string();
        if second != brands[0] {
            brands.push(second);
        }
    }
    let spike = last_day && brands[0] == "acme" && rng.below(5) == 0;
    let chinese = rng.below(2) == 0;
    let mut text = String::new();
    if chinese {
        text.push_str(if brands[0] == "acme" {
            "艾克米"
        } else {
            "品牌"
        });
        if spike {
            text.push_str("宣布召回");
        }
        for _ in 0..(15 + rng.below(20)) {
            text.push_str(CHINESE_PHRASES[rng.below(CHINESE_PHRASES.len() as u64) as usize]);
        }
        text.push('。');
    } else {
        text.push_str(&brands[0]);
        if spike {
            text.push_str(" recall announced");
        }
        for _ in 0..(15 + rng.below(20)) {
            text.push(' ');
            text.push_str(ENGLISH_WORDS[rng.below(ENGLISH_WORDS.len() as u64) as usize]);
        }
        text.push('.');
    }

    let roll = rng.below(100);
    let sentiment = match roll {
        0..5 => None,
        5..35 => Some((Label::Negative, -0.2 - rng.below(80) as f32 / 100.0)),
        35..80 => Some((Label::Neutral, rng.below(30) as f32 / 100.0 - 0.15)),
        _ => Some((Label::Positive, 0.2 + rng.below(80) as f32 / 100.0)),
    };
    let id = format!("p{seq}");
    let duplicate_of = (seq > 0 && rng.below(100) < 3).then(|| format!("p{}", seq - 1));
    let likes = rng.skewed(10_000) as i64;
    StoredPost {
        seq: seq as i64 + 1,
        post: Post {
            id: id.clone(),
            source: format!("source-{}", rng.skewed(40)),
            external_id: id.clone(),
            url: Some(format!("https://example.com/{id}")),
            canonical_url: None,
            author: Some(format!("author-{}", rng.skewed(100_000))),
            title: None,
            text,
            lang: Some(if chinese { "zh" } else { "en" }.to_string()),
            published_at,
            brands,
            provenance: Provenance {
                fetched_at: published_at,
                fetch_url: "https://example.com/feed".to_string(),
                http_status: Some(200),
                content_hash: "00".to_string(),
                extraction: "bench".to_string(),
                raw_sha256: None,
            },
            sentiment: sentiment.map(|(label, score)| Sentiment {
                label,
                score,
                confidence: 0.9,
                lang: if chinese { "zh" } else { "en" }.to_string(),
                backend: "lexicon".to_string(),
                version: "1".to_string(),
            }),
            engagement: Engagement {
                likes: Some(likes),
                ..Engagement::default()
            },
            duplicate_of,
        },
    }
}

/// Opens the cached index for `posts`, building it first when missing or incomplete.
fn corpus_index(posts: u64) -> (PathBuf, SearchIndex) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("aggregate-bench-v{CORPUS_VERSION}-{posts}"));
    let words = vec!["艾克米".to_string()];
    if let Ok(index) = SearchIndex::open(&dir, &words)
        && index.doc_count().ok() == Some(posts)
        && index.watermark().ok() == Some(posts as i64)
    {
        return (dir, index);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let index = SearchIndex::open(&dir, &words).expect("open bench index");
    let started = Instant::now();
    let mut writer = index.writer(400_000_000).expect("bench writer");
    let mut rng = Rng(42);
    for seq in 0..posts {
        writer
            .add(&generated_post(&mut rng, seq, posts))
            .expect("add");
        if (seq + 1).is_multiple_of(200_000) {
            writer.commit(seq as i64 + 1).expect("commit");
            eprintln!("indexed {} posts", seq + 1);
        }
    }
    writer.commit(posts as i64).expect("commit");
    drop(writer);
    eprintln!(
        "built the {posts}-post index in {:.1} s at {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    (dir, index)
}

fn brand_filter() -> SearchRequest {
    let mut filter = SearchRequest::new(Query::All, 10);
    filter.brand = Some("acme".to_string());
    filter
}

fn last_days(days: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    (corpus_end() - TimeDelta::days(days), corpus_end())
}

fn bench_aggregations(c: &mut Criterion) {
    let posts = std::env::var("VIGIL_BENCH_POSTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_POSTS);
    let (dir, index) = corpus_index(posts);
    let everything = SearchRequest::new(Query::All, 10);
    let acme = brand_filter();
    let (from, to) = last_days(30);

    let check = index
        .timeline(&acme, Interval::Day, from, to)
        .expect("timeline");
    eprintln!(
        "{posts} posts; 30-day acme timeline: {} buckets, {} posts",
        check.buckets.len(),
        check.total
    );

    let mut group = c.benchmark_group("timeline");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("30d_day_all", |b| {
        b.iter(|| {
            black_box(
                index
                    .timeline(&everything, Interval::Day, from, to)
                    .unwrap(),
            )
        })
    });
    group.bench_function("30d_day_brand", |b| {
        b.iter(|| black_box(index.timeline(&acme, Interval::Day, from, to).unwrap()))
    });
    group.bench_function("30d_day_brand_originals", |b| {
        let options = TimelineOptions {
            originals_only: true,
        };
        b.iter(|| {
            black_box(
                index
                    .timeline_with(&acme, Interval::Day, from, to, options)
                    .unwrap(),
            )
        })
    });
    let (week_from, week_to) = last_days(7);
    group.bench_function("7d_hour_brand", |b| {
        b.iter(|| {
            black_box(
                index
                    .timeline(&acme, Interval::Hour, week_from, week_to)
                    .unwrap(),
            )
        })
    });
    bench_tantivy_aggregation(&mut group, &dir, from, to);
    group.finish();

    let mut group = c.benchmark_group("share_of_voice");
    group.sample_size(20);
    let brands: Vec<String> = BRANDS.iter().map(|(brand, _)| brand.to_string()).collect();
    let mut last_month = everything.clone();
    last_month.from = Some(from);
    last_month.to = Some(to);
    group.bench_function("30d_6_brands", |b| {
        b.iter(|| black_box(index.share_of_voice(&last_month, &brands).unwrap()))
    });
    group.finish();

    let mut acme_last_month = acme.clone();
    acme_last_month.from = Some(from);
    acme_last_month.to = Some(to);
    let mut group = c.benchmark_group("top");
    group.sample_size(10);
    group.bench_function("sources_30d_brand", |b| {
        b.iter(|| black_box(index.top_sources(&acme_last_month, 10).unwrap()))
    });
    group.bench_function("authors_30d_brand", |b| {
        b.iter(|| black_box(index.top_authors(&acme_last_month, 10).unwrap()))
    });
    let (day_from, day_to) = last_days(1);
    let top = index
        .top_terms(&acme, day_from, day_to, week_from, day_from, 10)
        .expect("top terms");
    eprintln!(
        "top terms of the last day vs the 6 before (sampled {} of {} / {} of {}): {:?}",
        top.period.sampled,
        top.period.matched,
        top.baseline.sampled,
        top.baseline.matched,
        top.terms.iter().map(|t| &t.term).collect::<Vec<_>>()
    );
    group.bench_function("terms_1d_vs_6d_brand", |b| {
        b.iter(|| {
            black_box(
                index
                    .top_terms(&acme, day_from, day_to, week_from, day_from, 10)
                    .unwrap(),
            )
        })
    });
    group.finish();
}

/// The 30-day acme timeline from tantivy's aggregation framework, on its own reader of
/// the same index directory.
fn bench_tantivy_aggregation(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    dir: &Path,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    let index = tantivy::Index::open_in_dir(dir).expect("open with tantivy");
    let schema = index.schema();
    let published_at = schema.get_field("published_at").expect("published_at");
    let brands = schema.get_field("brands").expect("brands");
    let searcher = index.reader().expect("reader").searcher();
    eprintln!("segments: {}", searcher.segment_readers().len());
    let date = |time: DateTime<Utc>| {
        tantivy::Term::from_field_date(
            published_at,
            tantivy::DateTime::from_timestamp_secs(time.timestamp()),
        )
    };
    let query = BooleanQuery::new(vec![
        (
            Occur::Must,
            Box::new(TermQuery::new(
                tantivy::Term::from_field_text(brands, "acme"),
                IndexRecordOption::Basic,
            )) as Box<dyn TantivyQuery>,
        ),
        (
            Occur::Must,
            Box::new(RangeQuery::new(
                std::ops::Bound::Included(date(from)),
                std::ops::Bound::Excluded(date(to)),
            )),
        ),
    ]);
    let request: Aggregations = serde_json::from_value(serde_json::json!({
        "timeline": {
            "date_histogram": {
                "field": "published_at",
                "fixed_interval": "1d",
                "min_doc_count": 0,
                "extended_bounds": {
                    "min": from.timestamp_millis(),
                    "max": (to - TimeDelta::days(1)).timestamp_millis()
                }
            },
            "aggs": {
                "labels": { "terms": { "field": "sentiment" } },
                "mean_score": { "avg": { "field": "score" } }
            }
        }
    }))
    .expect("aggregation request");
    group.bench_function("30d_day_brand_tantivy_aggregation", |b| {
        b.iter(|| {
            let collector =
                AggregationCollector::from_aggs(request.clone(), AggContextParams::default());
            black_box(searcher.search(&query, &collector).unwrap())
        })
    });
}

criterion_group!(benches, bench_aggregations);
criterion_main!(benches);

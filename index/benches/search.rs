//! Search latency over a generated corpus (`common/mod.rs`, default 1,000,000 posts):
//! the query classes of `vigil-bench` (bench/src/queries.rs), each search the top 20
//! by relevance plus the exact total, as `SearchIndex::search` serves `vigil search`.
//!
//! `cargo bench -p vigil-index --bench search`. Before criterion's figures (mean per
//! search, cycling through a class's queries) the run prints p50 / p99 per class from
//! 200 timed searches and the slowest query's mean. `VIGIL_BENCH_POSTS=N` changes the
//! corpus size; the index is built once into `VIGIL_BENCH_DIR` (default: cargo's
//! target tmp dir) and reused while it holds the same corpus; delete it when done.

mod common;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use vigil_core::Query;
use vigil_index::{SearchIndex, SearchRequest};

const DEFAULT_POSTS: u64 = 1_000_000;
/// Bump when the corpus changes, so a cached index is not reused.
const CORPUS_VERSION: u32 = 1;

const CLASSES: &[(&str, &[&str])] = &[
    (
        "term_english",
        &[
            "kettle", "toaster", "price", "lid", "design", "great", "broken", "loud", "recall",
            "lawsuit",
        ],
    ),
    (
        "phrase",
        &[
            "\"acme kettle\"",
            "\"globex toaster\"",
            "\"acme blender\"",
            "\"globex coffee maker\"",
            "\"stopped working\"",
            "\"build quality\"",
            "\"five stars\"",
            "\"acme air fryer\"",
            "\"not worth the money\"",
            "\"the lid is very\"",
        ],
    ),
    (
        "boolean",
        &[
            "acme AND (broken OR leaks) NOT globex",
            "globex AND (refund OR warranty)",
            "(kettle OR toaster) AND loud NOT acme",
            "acme AND recall",
            "(acme OR globex) AND (fire OR burn)",
            "(great OR excellent) AND acme",
            "acme AND \"stopped working\"",
            "\"stopped working\" AND (acme OR globex)",
            "kettle AND (lid OR handle) NOT globex",
            "acme AND globex",
        ],
    ),
    (
        "chinese_term",
        &[
            "艾克米",
            "环球",
            "召回",
            "爆炸",
            "质量",
            "客服",
            "水壶",
            "失望",
            "咖啡机",
            "电饭煲",
            "\"艾克米 水壶\"",
            "艾克米水壶",
        ],
    ),
];

fn corpus_index(posts: u64) -> SearchIndex {
    let base = std::env::var_os("VIGIL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    let dir = base.join(format!("search-bench-v{CORPUS_VERSION}-{posts}"));
    let words = common::dictionary_words();
    if let Ok(index) = SearchIndex::open(&dir, &words)
        && !index.was_rebuilt()
        && index.doc_count().ok() == Some(posts)
        && index.watermark().ok() == Some(posts as i64)
    {
        return index;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let index = SearchIndex::open(&dir, &words).expect("open bench index");
    let started = Instant::now();
    let mut writer = index.writer(64 * 1024 * 1024).expect("bench writer");
    let mut rng = common::Rng::new(7);
    for seq in 1..=posts {
        writer
            .add(&common::generated_post(&mut rng, seq, posts))
            .expect("add");
        if seq.is_multiple_of(100_000) {
            writer.commit(seq as i64).expect("commit");
            eprintln!("indexed {seq} posts");
        }
    }
    writer.commit(posts as i64).expect("commit");
    drop(writer);
    eprintln!(
        "built the {posts}-post index in {:.1} s at {}",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    index
}

fn search(index: &SearchIndex, query: &Query) -> u64 {
    let results = index
        .search(&SearchRequest::new(query.clone(), 20))
        .expect("search");
    black_box(&results.hits);
    results.total
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], share: f64) -> f64 {
    let rank = (share * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn bench_search(c: &mut Criterion) {
    let posts = std::env::var("VIGIL_BENCH_POSTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_POSTS);
    let index = corpus_index(posts);
    eprintln!(
        "{posts} posts; load average {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    for (class, queries) in CLASSES {
        let parsed: Vec<Query> = queries
            .iter()
            .map(|query| Query::parse(query).expect("query parses"))
            .collect();
        let totals: Vec<u64> = parsed.iter().map(|query| search(&index, query)).collect();
        let mut millis = Vec::new();
        let mut per_query = vec![0.0; parsed.len()];
        for n in 0..200 {
            let started = Instant::now();
            search(&index, &parsed[n % parsed.len()]);
            let elapsed = started.elapsed().as_secs_f64() * 1e3;
            millis.push(elapsed);
            per_query[n % parsed.len()] += elapsed;
        }
        millis.sort_by(f64::total_cmp);
        let runs = 200.0 / parsed.len() as f64;
        let (slowest, slowest_ms) = per_query
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, total)| (i, total / runs))
            .unwrap_or((0, 0.0));
        eprintln!(
            "{class}: p50 {:.2} ms, p99 {:.2} ms; slowest {} ({} hits) {slowest_ms:.2} ms mean",
            percentile(&millis, 0.5),
            percentile(&millis, 0.99),
            queries[slowest],
            totals[slowest],
        );
        for ((query, total), sum) in queries.iter().zip(&totals).zip(&per_query) {
            eprintln!("    {query}: {total} hits, {:.2} ms", sum / runs);
        }
    }

    let mut group = c.benchmark_group("search");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    for (class, queries) in CLASSES {
        let parsed: Vec<Query> = queries
            .iter()
            .map(|query| Query::parse(query).expect("query parses"))
            .collect();
        group.bench_function(*class, |b| {
            let mut n = 0;
            b.iter(|| {
                n += 1;
                search(&index, &parsed[n % parsed.len()])
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_search);
criterion_main!(benches);

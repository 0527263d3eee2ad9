//! End-to-end crawl throughput against a local server with politeness off: the
//! crawler (2 tokio workers plus its blocking pool for extraction) and a keep-alive
//! HTTP/1.1 server on loopback share the machine. criterion's elements/s are pages/s.
//!
//! - `crawl/html_1000_sources`: 1,000 `html` sources × 1 page (~20 KB, 10 reviews).
//! - `crawl/html_64_chains_x16`: 64 `html` sources following `a.next` for 16 pages.
//! - `crawl/json_1000_sources`: 1,000 `json` sources × 1 page (~6 KB, 10 posts).
//!
//! `cargo bench -p vigil-crawler --bench crawl` (figures in BENCHMARKS.md, "Crawler").
//! The 100,000-page memory soak is the `crawl_soak` bench.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use vigil_config::SourceConfig;
use vigil_crawler::Crawler;

use support::{
    PAGE_ITEMS, brands, cpu_seconds, fast_config, html_source, json_source, site_server,
};

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("crawler runtime")
}

/// Crawls every source once (all at once; the crawler's own cap limits requests in
/// flight) and returns the pages fetched (counted from the posts: `PAGE_ITEMS` each).
async fn crawl_all(crawler: &Arc<Crawler>, sources: &Arc<Vec<SourceConfig>>) -> usize {
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..sources.len() {
        let crawler = crawler.clone();
        let sources = sources.clone();
        tasks.spawn(async move {
            match crawler.crawl(&sources[index], None).await {
                Ok(outcome) => outcome.items_seen,
                Err(error) => panic!("crawl of {} failed: {error}", sources[index].url),
            }
        });
    }
    let mut items = 0;
    while let Some(result) = tasks.join_next().await {
        items += result.expect("crawl task");
    }
    items / PAGE_ITEMS
}

fn bench_sources(c: &mut Criterion, name: &str, sources: Vec<SourceConfig>, pages: usize) {
    let runtime = runtime();
    let crawler = Arc::new(Crawler::new(&fast_config(), &brands()).expect("crawler"));
    let sources = Arc::new(sources);
    // Warm the connection pool and check the pages are what we count.
    let seen = runtime.block_on(crawl_all(&crawler, &sources));
    assert_eq!(seen, pages, "{name}: every page must be fetched and read");
    // CPU per page over a few rounds: on a shared machine this, not wall time, says
    // what 2 dedicated cores could do (2 s of CPU per second).
    let (cpu_before, wall) = (cpu_seconds(), Instant::now());
    let rounds = 3;
    for _ in 0..rounds {
        runtime.block_on(crawl_all(&crawler, &sources));
    }
    let wall = wall.elapsed().as_secs_f64();
    if let (Some(before), Some(after)) = (cpu_before, cpu_seconds()) {
        let cpu_ms = (after - before) * 1_000.0 / (rounds * pages) as f64;
        eprintln!(
            "crawl/{name}: {:.0} pages/s wall, {cpu_ms:.3} ms CPU per page (crawler + server), 2-core ceiling {:.0} pages/s",
            (rounds * pages) as f64 / wall,
            2_000.0 / cpu_ms
        );
    }
    let mut group = c.benchmark_group("crawl");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(pages as u64));
    group.bench_function(name, |b| {
        b.iter_custom(|iterations| {
            let started = Instant::now();
            for _ in 0..iterations {
                let seen = runtime.block_on(crawl_all(&crawler, &sources));
                assert_eq!(seen, pages);
            }
            started.elapsed()
        })
    });
    group.finish();
}

fn crawl(c: &mut Criterion) {
    let server = site_server(16);
    let html_single: Vec<SourceConfig> = (0..1_000)
        .map(|i| html_source(format!("html-{i}"), server.url(&format!("/s{i}/p16")), 1))
        .collect();
    bench_sources(c, "html_1000_sources", html_single, 1_000);

    let chains: Vec<SourceConfig> = (0..64)
        .map(|i| html_source(format!("chain-{i}"), server.url(&format!("/s{i}/p1")), 16))
        .collect();
    bench_sources(c, "html_64_chains_x16", chains, 64 * 16);

    let json: Vec<SourceConfig> = (0..1_000)
        .map(|i| json_source(format!("json-{i}"), server.url(&format!("/j{i}"))))
        .collect();
    bench_sources(c, "json_1000_sources", json, 1_000);
}

criterion_group!(benches, crawl);
criterion_main!(benches);

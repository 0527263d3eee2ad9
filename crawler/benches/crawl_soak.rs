//! Memory soak: crawls 100,000 pages (html sources following `a.next`) against a
//! loopback server with politeness off, one `Crawler` for the whole run, and prints
//! the process's resident memory (VmRSS) and pages/s every 10,000 pages.
//!
//! `cargo bench -p vigil-crawler --bench crawl_soak` (figures in BENCHMARKS.md,
//! "Crawler"). `SOAK_PAGES` changes the total (a multiple of 1,000). Exits 1 when the
//! resident memory grew by more than a quarter (and 32 MiB) between the first report
//! and the last: memory is meant to stay flat.

mod support;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use vigil_config::SourceConfig;
use vigil_crawler::Crawler;

use support::{PAGE_ITEMS, brands, cpu_seconds, fast_config, html_source, rss_kib, site_server};

/// Each round: `SOURCES` sources × `PAGES_PER_SOURCE` pages, all new URLs.
const SOURCES: usize = 100;
const PAGES_PER_SOURCE: u32 = 10;
const REPORT_EVERY: usize = 10_000;

fn main() -> ExitCode {
    // `cargo bench` passes --bench; `cargo test --benches` does not: skip then, as
    // criterion benches do their quick check only.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("skipping: crawl_soak runs only under `cargo bench` (100,000 pages)");
        return ExitCode::SUCCESS;
    }
    let total: usize = std::env::var("SOAK_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let per_round = SOURCES * PAGES_PER_SOURCE as usize;
    let rounds = total.div_ceil(per_round);

    let server = site_server(PAGES_PER_SOURCE);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("crawler runtime");
    let crawler = Arc::new(Crawler::new(&fast_config(), &brands()).expect("crawler"));

    println!(
        "crawl_soak: {} pages = {rounds} rounds × {SOURCES} html sources × {PAGES_PER_SOURCE} pages ({PAGE_ITEMS} reviews, ~20 KB each); RSS at start {} KiB",
        rounds * per_round,
        rss_kib().unwrap_or(0)
    );
    println!(
        "{:>8} {:>9} {:>9} {:>13} {:>9} {:>11}",
        "pages", "seconds", "pages/s", "CPU ms/page", "RSS MiB", "posts kept"
    );
    let started = Instant::now();
    let mut block_started = Instant::now();
    let mut block_pages = 0usize;
    let cpu_start = cpu_seconds().unwrap_or(0.0);
    let mut block_cpu = cpu_start;
    let mut pages = 0usize;
    let mut posts_kept = 0usize;
    let mut reports: Vec<u64> = Vec::new();
    for round in 0..rounds {
        let sources: Arc<Vec<SourceConfig>> = Arc::new(
            (0..SOURCES)
                .map(|i| {
                    html_source(
                        format!("soak-{i}"),
                        server.url(&format!("/r{round}/s{i}/p1")),
                        PAGES_PER_SOURCE,
                    )
                })
                .collect(),
        );
        let (items, kept) = runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for index in 0..sources.len() {
                let crawler = crawler.clone();
                let sources = sources.clone();
                tasks.spawn(async move {
                    match crawler.crawl(&sources[index], None).await {
                        Ok(outcome) => (outcome.items_seen, outcome.posts.len()),
                        Err(error) => panic!("crawl of {} failed: {error}", sources[index].url),
                    }
                });
            }
            let mut totals = (0, 0);
            while let Some(result) = tasks.join_next().await {
                let (items, kept) = result.expect("crawl task");
                totals.0 += items;
                totals.1 += kept;
            }
            totals
        });
        assert_eq!(
            items,
            per_round * PAGE_ITEMS,
            "round {round}: every page read"
        );
        pages += per_round;
        posts_kept += kept;
        block_pages += per_round;
        if block_pages >= REPORT_EVERY || round + 1 == rounds {
            let rss = rss_kib().unwrap_or(0);
            let cpu = cpu_seconds().unwrap_or(0.0);
            println!(
                "{pages:>8} {:>9.1} {:>9.0} {:>13.3} {:>9.1} {posts_kept:>11}",
                started.elapsed().as_secs_f64(),
                block_pages as f64 / block_started.elapsed().as_secs_f64(),
                (cpu - block_cpu) * 1_000.0 / block_pages as f64,
                rss as f64 / 1024.0
            );
            block_cpu = cpu;
            reports.push(rss);
            block_started = Instant::now();
            block_pages = 0;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_ms = (cpu_seconds().unwrap_or(0.0) - cpu_start) * 1_000.0 / pages as f64;
    println!(
        "crawl_soak: {pages} pages in {elapsed:.1} s = {:.0} pages/s; {cpu_ms:.3} ms CPU per page (crawler + server), 2-core ceiling {:.0} pages/s",
        pages as f64 / elapsed,
        2_000.0 / cpu_ms
    );
    let (Some(first), Some(last)) = (reports.first(), reports.last()) else {
        return ExitCode::SUCCESS;
    };
    let growth = last.saturating_sub(*first);
    let flat = growth <= first / 4 || growth <= 32 * 1024;
    println!(
        "crawl_soak: RSS {:.1} MiB at the first report, {:.1} MiB at the last ({:+.1} MiB): {}",
        *first as f64 / 1024.0,
        *last as f64 / 1024.0,
        (*last as f64 - *first as f64) / 1024.0,
        if flat { "flat" } else { "GROWING" }
    );
    if flat {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

//! CPU cost of indexing: 20,000 generated posts (60 % English of 10–60 words, 40 %
//! Chinese of 15–120 characters, see `common/mod.rs`) added through
//! [`IndexWriter::add`] and committed, into a fresh index with the benchmark config's
//! dictionary words and the daemon's writer budget (64 MB).
//!
//! `cargo bench -p vigil-index --bench index_add`. Criterion's times here are the
//! process's CPU time (user + system, every thread: tantivy indexes on its own
//! threads), not wall time; the run also prints CPU and wall µs per post.
//! `VIGIL_BENCH_HEAP=BYTES` changes the writer budget.

mod common;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_index::SearchIndex;

const POSTS: u64 = 20_000;

/// User + system CPU time of this process so far, all threads included.
fn process_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // The kernel reports clock ticks, 100 per second on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn bench_index_add(c: &mut Criterion) {
    let posts = common::generated_posts(POSTS, 42);
    let words = common::dictionary_words();
    let heap: usize = std::env::var("VIGIL_BENCH_HEAP")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(64 * 1024 * 1024);
    let chinese = posts
        .iter()
        .filter(|post| post.post.lang.as_deref() == Some("zh"))
        .count();
    let bytes: usize = posts.iter().map(|post| post.post.text.len()).sum();
    eprintln!(
        "{} posts ({chinese} Chinese), {:.1} MB of text, writer heap {heap}",
        posts.len(),
        bytes as f64 / 1e6
    );

    let mut group = c.benchmark_group("index_add");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(POSTS));
    group.bench_function("20000_posts", |b| {
        b.iter_custom(|iterations| {
            let mut cpu = Duration::ZERO;
            let mut wall = Duration::ZERO;
            for _ in 0..iterations {
                let dir = tempfile::tempdir().expect("temp dir");
                let index = SearchIndex::open(&dir.path().join("index"), &words).expect("open");
                let cpu_before = process_cpu_time();
                let started = Instant::now();
                let mut writer = index.writer(heap).expect("writer");
                for post in &posts {
                    writer.add(post).expect("add");
                }
                writer.commit(POSTS as i64).expect("commit");
                drop(writer);
                wall += started.elapsed();
                cpu += process_cpu_time().saturating_sub(cpu_before);
                assert_eq!(index.doc_count().expect("count"), POSTS);
            }
            eprintln!(
                "  {iterations} run(s): {:.1} µs CPU, {:.1} µs wall per post",
                cpu.as_secs_f64() * 1e6 / (iterations * POSTS) as f64,
                wall.as_secs_f64() * 1e6 / (iterations * POSTS) as f64,
            );
            cpu
        })
    });
    group.finish();
}

criterion_group!(benches, bench_index_add);
criterion_main!(benches);

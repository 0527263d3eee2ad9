//! CPU cost per text of the `lexicon` and `learned` backends: `classify(text, None)`
//! over generated posts (English of 12–60 words, Chinese of 20–100 characters, generated
//! deterministically with SplitMix64) and, when `../shared` is present, the English
//! and Chinese lines of the shared sentiment sets. The measured value is this thread's
//! CPU time (`cpu_time.rs`); criterion's elements are texts.
//!
//! `cargo bench -p vigil-classifier --bench classify` (figures in BENCHMARKS.md,
//! "Ingest cost per post (issue 4)").

// The same CPU-time measurement as the store's ingest bench (one copy).
#[path = "../../store/benches/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vigil_classifier::{LearnedClassifier, LexiconClassifier};
use vigil_core::Classifier;

use cpu_time::ThreadCpuTime;

const TEXTS: usize = 2_000;

/// SplitMix64.
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

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        // Skewed towards the front of the list, like word frequencies.
        let rank = self.below(words.len() as u64) + 1;
        words[self.below(rank) as usize]
    }
}

const NEUTRAL: &[&str] = &[
    "the", "kettle", "i", "it", "and", "to", "a", "my", "was", "is", "of", "for", "this", "on",
    "acme", "with", "after", "order", "delivery", "service", "they", "we", "store", "week",
    "today", "customer", "support", "phone", "app", "update", "price", "box", "water", "minutes",
    "again", "just", "new", "got", "have", "been", "when", "from", "their",
];
const SENTIMENT: &[&str] = &[
    "good",
    "great",
    "love",
    "bad",
    "broken",
    "terrible",
    "happy",
    "awesome",
    "slow",
    "disappointed",
    "excellent",
    "worst",
    "best",
    "nice",
    "hate",
    "angry",
    "perfect",
    "poor",
    "recalled",
    "exploded",
    "refund",
    "helpful",
    "rude",
    "amazing",
    "annoying",
    "fine",
];
const MODIFIERS: &[&str] = &[
    "not",
    "very",
    "really",
    "so",
    "but",
    "never",
    "extremely",
    "don't",
    "isn't",
    "kind of",
    "barely",
    "too",
    "at least",
];
const EXTRAS: &[&str] = &[
    "!",
    "!!",
    "?",
    ".",
    ",",
    ":)",
    ":(",
    "😡",
    "👍",
    "😂",
    "LOVE",
    "BAD",
    "won't be back",
    "stopped working",
    "#fail",
    "@acme",
    "https://t.co/x1",
];

fn english(rng: &mut Rng) -> String {
    let words = 12 + rng.below(49);
    let mut text = String::new();
    for index in 0..words {
        if index > 0 {
            text.push(' ');
        }
        let word = match rng.below(20) {
            0..=12 => rng.pick(NEUTRAL),
            13..=16 => rng.pick(SENTIMENT),
            17..=18 => rng.pick(MODIFIERS),
            _ => rng.pick(EXTRAS),
        };
        if index == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                text.extend(first.to_uppercase());
                text.push_str(chars.as_str());
            }
        } else {
            text.push_str(word);
        }
    }
    text.push('.');
    text
}

const ZH_WORDS: &[&str] = &[
    "的",
    "了",
    "水壶",
    "艾克米",
    "外卖",
    "今天",
    "我们",
    "质量",
    "客服",
    "快递",
    "好",
    "不错",
    "很",
    "非常",
    "不",
    "没有",
    "太",
    "差",
    "慢",
    "满意",
    "推荐",
    "但是",
    "失望",
    "爆炸",
    "召回",
    "好吃",
    "难吃",
    "退款",
    "，",
    "。",
    "！",
    "[怒]",
    "[哈哈]",
    "😡",
    "Acme",
];

fn chinese(rng: &mut Rng) -> String {
    let target = 20 + rng.below(81) as usize;
    let mut text = String::new();
    while text.chars().count() < target {
        if rng.below(3) == 0 {
            text.push_str(rng.pick(ZH_WORDS));
        } else {
            let code = 0x4E00 + rng.below(3_000) as u32;
            text.push(char::from_u32(code).unwrap_or('水'));
        }
    }
    text
}

fn shared_sentiment_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/sentiment");
    if dir.exists() {
        Some(dir)
    } else {
        eprintln!("../shared not present: skipping the shared-data benchmarks");
        None
    }
}

/// The first `TEXTS` texts of a `text<TAB>…` or `…<TAB>text` file.
fn shared_lines(path: &Path, text_column: usize) -> Vec<String> {
    let Ok(raw) = std::fs::read_to_string(path) else {
        eprintln!("{} unreadable: skipped", path.display());
        return Vec::new();
    };
    raw.lines()
        .skip(1)
        .filter_map(|line| line.split('\t').nth(text_column))
        .filter(|text| !text.trim().is_empty())
        .take(TEXTS)
        .map(str::to_owned)
        .collect()
}

fn classify(c: &mut Criterion<ThreadCpuTime>) {
    let backends: [(&str, Box<dyn Classifier>); 2] = [
        ("lexicon", Box::new(LexiconClassifier::new())),
        (
            "learned",
            Box::new(LearnedClassifier::bundled().expect("the bundled model loads")),
        ),
    ];
    let mut rng = Rng(42);
    let mut sets: Vec<(&str, Vec<String>)> = vec![
        (
            "en_generated",
            (0..TEXTS).map(|_| english(&mut rng)).collect(),
        ),
        (
            "zh_generated",
            (0..TEXTS).map(|_| chinese(&mut rng)).collect(),
        ),
    ];
    if let Some(shared) = shared_sentiment_dir() {
        sets.push((
            "en_tweeteval",
            shared_lines(&shared.join("en/tweeteval_sentiment/val.filtered.tsv"), 1),
        ));
        sets.push((
            "zh_weibo",
            shared_lines(&shared.join("zh/weibo_senti_100k_split/dev.csv"), 1),
        ));
    }
    let mut group = c.benchmark_group("classify");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, texts) in &sets {
        if texts.is_empty() {
            continue;
        }
        let bytes: usize = texts.iter().map(String::len).sum();
        eprintln!(
            "classify/{name}: {} texts, {:.0} bytes each on average",
            texts.len(),
            bytes as f64 / texts.len() as f64
        );
        group.throughput(Throughput::Elements(texts.len() as u64));
        for (backend, classifier) in &backends {
            group.bench_function(BenchmarkId::new(*backend, name), |b| {
                b.iter(|| {
                    for text in texts {
                        black_box(classifier.classify(black_box(text), None));
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = classify
}
criterion_main!(benches);

//! Prediction throughput of the `learned` model, in texts per second (criterion's
//! elements), on one thread and on two.
//!
//! Model: the shipped `learned/models/sentiment.vlm` (trained without dense features).
//! Texts: English tweets (TweetEval) and Chinese Weibo posts and waimai reviews from
//! `../shared/data` when present, otherwise generated English and Chinese texts of
//! similar length.
//!
//! `cargo bench -p vigil-learned --bench predict` (figures in learned/RESULTS.md).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_learned::{Model, NoDense, read_dataset};

const TEXTS: usize = 2_000;

/// SplitMix64, for generated texts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const ENGLISH: &[&str] = &[
    "the",
    "new",
    "phone",
    "from",
    "acme",
    "is",
    "really",
    "great",
    "but",
    "battery",
    "life",
    "not",
    "good",
    "@support",
    "why",
    "is",
    "my",
    "order",
    "late",
    "again",
    "love",
    "it",
    "!",
    "http://t.co/abc",
    "today",
    "terrible",
    "service",
    "3",
    "days",
    "and",
    "no",
    "reply",
    "lol",
];
const CHINESE: &[&str] = &[
    "这个", "手机", "真的", "很好", "用", "，", "但是", "电池", "不行", "。", "送餐", "太慢", "了",
    "味道", "不错", "客服", "态度", "很差", "！", "下次", "还会", "买", "质量", "一般",
];

fn generated(words: &[&str], separator: &str, min: u64, max: u64, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    (0..TEXTS)
        .map(|_| {
            let length = min + rng.next() % (max - min);
            (0..length)
                .map(|_| rng.pick(words))
                .collect::<Vec<_>>()
                .join(separator)
        })
        .collect()
}

fn shared_texts(file: &str) -> Option<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/sentiment")
        .join(file);
    let dataset = read_dataset(&path).ok()?;
    Some(
        dataset
            .examples
            .into_iter()
            .take(TEXTS)
            .map(|example| example.text)
            .collect(),
    )
}

fn load_model() -> Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment.vlm");
    Model::load(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn bench_predict(criterion: &mut Criterion) {
    let model = load_model();
    let predictor = model
        .predictor(&NoDense)
        .expect("model without dense features");
    let sets: Vec<(&str, Vec<String>)> = vec![
        (
            "en_tweets",
            shared_texts("en/tweeteval_sentiment/test.filtered.tsv")
                .unwrap_or_else(|| generated(ENGLISH, " ", 8, 30, 1)),
        ),
        (
            "zh_weibo",
            shared_texts("zh/weibo_senti_100k_split/dev.csv")
                .unwrap_or_else(|| generated(CHINESE, "", 10, 60, 2)),
        ),
        (
            "zh_reviews",
            shared_texts("zh/chinesenlpcorpus/waimai_10k.csv")
                .unwrap_or_else(|| generated(CHINESE, "", 5, 25, 3)),
        ),
    ];
    for (name, texts) in &sets {
        let mean_chars =
            texts.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / texts.len() as f64;
        println!("{name}: {} texts, mean {mean_chars:.0} chars", texts.len());
    }

    let mut group = criterion.benchmark_group("predict");
    for (name, texts) in &sets {
        group.throughput(Throughput::Elements(texts.len() as u64));
        group.bench_function(format!("1_thread/{name}"), |bencher| {
            bencher.iter(|| {
                for text in texts {
                    black_box(predictor.predict(black_box(text), None));
                }
            })
        });
    }
    // Two threads, each predicting half of every set: the 2-core figure.
    let all: Vec<&String> = sets.iter().flat_map(|(_, texts)| texts).collect();
    group.throughput(Throughput::Elements(all.len() as u64));
    group.bench_function("2_threads/mixed", |bencher| {
        bencher.iter(|| {
            let (first, second) = all.split_at(all.len() / 2);
            std::thread::scope(|scope| {
                for half in [first, second] {
                    let predictor = &predictor;
                    scope.spawn(move || {
                        for text in half {
                            black_box(predictor.predict(black_box(text), None));
                        }
                    });
                }
            });
        })
    });
    group.finish();
}

criterion_group!(benches, bench_predict);
criterion_main!(benches);

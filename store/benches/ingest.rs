//! CPU cost of `Store::ingest` per post, on batches of 5,000 realistic posts as
//! `vigil import` hands them over: 60 % English of 12–60 words, 40 % Chinese of 20–100
//! characters, one in twenty a lightly edited copy of a recent post, every post with a
//! sentiment and most with a URL. The posts are generated deterministically (SplitMix64).
//!
//! One criterion iteration is a whole run, so every sample does the same work whatever
//! the speed: `fresh_100k` ingests 20 batches into an empty store; `onto_200k` ingests
//! 10 batches into a copy of a store already holding 200,000 posts. Each runs through
//! `Store::ingest(&[Post])` and through `Store::ingest_owned(Vec<Post>)` (the batch is
//! cloned before the clock starts, as a caller that is done with it would hand it
//! over). The measured value is the CPU time of this thread inside the ingest calls
//! only (`cpu_time.rs`): divide by the posts per iteration (criterion's elements) for
//! CPU per post.
//!
//! `cargo bench -p vigil-store --bench ingest` (figures in BENCHMARKS.md, "Ingest cost
//! per post (issue 4)"). Stores go to the system temp dir (`TMPDIR`), about 200 MB at
//! a time, removed as the bench goes.

mod cpu_time;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use vigil_core::{Label, Post, Provenance, Sentiment, post_id, sha256_hex};
use vigil_store::Store;

use cpu_time::ThreadCpuTime;

const BATCH: usize = 5_000;

/// SplitMix64: small, fast and the same everywhere.
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

    /// Skewed towards small values, like word frequencies.
    fn zipf_like(&mut self, n: u64) -> u64 {
        let rank = self.below(n) + 1;
        self.below(rank)
    }
}

const COMMON_WORDS: &[&str] = &[
    "the", "kettle", "is", "a", "and", "to", "it", "my", "of", "for", "was", "this", "new", "with",
    "after", "but", "not", "very", "great", "love", "broke", "works", "service", "customer",
    "order", "delivery", "refund", "quality", "price", "today", "again",
];

/// Generates the posts of one run; `n` numbers posts across runs so ids never repeat.
struct PostGenerator {
    rng: Rng,
    recent: Vec<String>,
    epoch: DateTime<Utc>,
}

impl PostGenerator {
    fn new(seed: u64) -> Self {
        PostGenerator {
            rng: Rng(seed),
            recent: Vec::new(),
            epoch: Utc
                .with_ymd_and_hms(2026, 9, 1, 0, 0, 0)
                .single()
                .expect("valid fixed time"),
        }
    }

    fn english(&mut self) -> String {
        let words = 12 + self.rng.below(49);
        let mut text = String::from("Acme");
        for _ in 0..words {
            text.push(' ');
            if self.rng.below(3) == 0 {
                let index = self.rng.zipf_like(COMMON_WORDS.len() as u64) as usize;
                text.push_str(COMMON_WORDS[index]);
                continue;
            }
            // Pseudo-words over a skewed vocabulary of 3,000, so texts differ as real
            // posts do and their fingerprints spread over the bands.
            let word = self.rng.zipf_like(3_000);
            let mut state = word.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for _ in 0..2 + word % 7 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(char::from(b'a' + (state % 26) as u8));
            }
        }
        text.push(if self.rng.below(4) == 0 { '!' } else { '.' });
        text
    }

    fn chinese(&mut self) -> String {
        let chars = 20 + self.rng.below(81);
        let mut text = String::from("艾克米");
        for _ in 0..chars.saturating_sub(3) {
            let code = 0x4E00 + self.rng.zipf_like(3_000) as u32;
            text.push(char::from_u32(code).unwrap_or('水'));
        }
        text
    }

    fn post(&mut self, n: u64) -> Post {
        let source = "import";
        let external_id = n.to_string();
        let english = self.rng.below(10) < 6;
        let text = if n % 20 == 19 && !self.recent.is_empty() {
            let original = &self.recent[self.rng.below(self.recent.len() as u64) as usize];
            match self.rng.below(3) {
                0 => format!("{original} https://t.co/x{n}"),
                1 => format!("{original} via @user{n}"),
                _ => format!("{original} 转发"),
            }
        } else if english {
            self.english()
        } else {
            self.chinese()
        };
        if self.recent.len() < 1_000 {
            self.recent.push(text.clone());
        } else {
            let slot = self.rng.below(1_000) as usize;
            self.recent[slot] = text.clone();
        }
        let title = (self.rng.below(10) < 3).then(|| format!("Post number {n} about Acme"));
        let url = (self.rng.below(10) < 7).then(|| {
            format!(
                "https://site{}.example/posts/{n}?utm_source=feed&ref=home",
                self.rng.below(50)
            )
        });
        let brands = if self.rng.below(5) == 0 {
            vec!["acme".to_owned(), "globex".to_owned()]
        } else {
            vec!["acme".to_owned()]
        };
        let score = (self.rng.below(2001) as f32 - 1000.0) / 1000.0;
        let label = if score >= 0.05 {
            Label::Positive
        } else if score <= -0.05 {
            Label::Negative
        } else {
            Label::Neutral
        };
        let lang = if english { "en" } else { "zh" };
        let published_at = self.epoch + chrono::Duration::seconds(n as i64 * 7);
        let content_hash = sha256_hex(format!("{}\n{text}", title.as_deref().unwrap_or("")));
        Post {
            id: post_id(source, &external_id),
            source: source.to_owned(),
            external_id,
            canonical_url: url.as_deref().and_then(vigil_core::canonical_url),
            url,
            author: Some(format!("@user{}", self.rng.zipf_like(400))),
            title,
            text,
            lang: Some(lang.to_owned()),
            published_at,
            brands,
            provenance: Provenance {
                fetched_at: self.epoch + chrono::Duration::days(100),
                fetch_url: "import:posts.jsonl".to_owned(),
                http_status: None,
                content_hash,
                extraction: "import:jsonl".to_owned(),
                raw_sha256: None,
            },
            sentiment: Some(Sentiment {
                label,
                score,
                confidence: 0.5 + score.abs() / 2.0,
                lang: lang.to_owned(),
                backend: "lexicon".to_owned(),
                version: "lexicon-1".to_owned(),
            }),
            engagement: Default::default(),
            duplicate_of: None,
        }
    }

    /// `batches` batches of [`BATCH`] posts, numbered from `first`.
    fn batches(&mut self, first: u64, batches: usize) -> Vec<Vec<Post>> {
        (0..batches)
            .map(|batch| {
                (0..BATCH)
                    .map(|i| self.post(first + (batch * BATCH + i) as u64))
                    .collect()
            })
            .collect()
    }
}

/// Which entry point a benchmark calls.
#[derive(Clone, Copy)]
enum Api {
    /// `Store::ingest(&[Post])`, which copies each post into the report.
    Borrowed,
    /// `Store::ingest_owned(Vec<Post>)`; the batch is cloned before the clock starts.
    Owned,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Borrowed => "ingest",
            Api::Owned => "ingest_owned",
        }
    }
}

/// Ingests `batches` into `store`, returning the CPU time spent inside the calls.
fn timed_ingest(store: &Store, batches: &[Vec<Post>], api: Api) -> Duration {
    let mut spent = Duration::ZERO;
    for batch in batches {
        let owned = match api {
            Api::Borrowed => None,
            Api::Owned => Some(batch.clone()),
        };
        let started = cpu_time::now();
        let report = match owned {
            None => store.ingest(batch, None, "import"),
            Some(posts) => store.ingest_owned(posts, None, "import"),
        }
        .expect("ingest into a fresh temp store");
        spent += cpu_time::now().saturating_sub(started);
        // The report goes on to the index thread in `vigil import`: freeing it (after
        // the clock is read) is not the store's cost.
        assert_eq!(
            report.stored.len(),
            batch.len(),
            "every generated post is new"
        );
    }
    spent
}

/// A store already holding `posts` posts, closed, to copy per iteration.
fn template_store(dir: &Path, posts: usize) {
    let store = Store::open(dir).expect("open template store");
    let mut generator = PostGenerator::new(7);
    let mut next = 0u64;
    while (next as usize) < posts {
        let batch = generator.batches(next, 1);
        store
            .ingest(&batch[0], None, "import")
            .expect("fill template store");
        next += BATCH as u64;
    }
    // Dropping the store closes the connection, which checkpoints the WAL into the file.
    drop(store);
}

fn ingest(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("store_ingest");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30));

    // 100,000 posts into an empty store, in 20 batches of 5,000.
    let fresh = PostGenerator::new(42).batches(0, 20);
    group.throughput(Throughput::Elements((20 * BATCH) as u64));
    for api in [Api::Borrowed, Api::Owned] {
        group.bench_function(BenchmarkId::new(api.name(), "fresh_100k"), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let store = Store::open(dir.path()).expect("open store");
                    spent += timed_ingest(&store, &fresh, api);
                }
                spent
            })
        });
    }
    drop(fresh);

    // 50,000 posts onto 200,000, in 10 batches of 5,000: the indexes no longer fit the
    // page cache of a fresh file, as in a long import.
    let template = tempfile::tempdir().expect("temp dir");
    template_store(template.path(), 200_000);
    let onto = PostGenerator::new(43).batches(10_000_000, 10);
    group.throughput(Throughput::Elements((10 * BATCH) as u64));
    for api in [Api::Borrowed, Api::Owned] {
        group.bench_function(BenchmarkId::new(api.name(), "onto_200k"), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().expect("temp dir");
                    std::fs::copy(
                        template.path().join(vigil_store::DB_FILE_NAME),
                        dir.path().join(vigil_store::DB_FILE_NAME),
                    )
                    .expect("copy template store");
                    let store = Store::open(dir.path()).expect("open store");
                    // Loads the near-duplicate map outside the measurement.
                    store.ingest(&[], None, "import").expect("empty ingest");
                    spent += timed_ingest(&store, &onto, api);
                }
                spent
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = ingest
}
criterion_main!(benches);

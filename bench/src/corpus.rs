//! The generated corpus: N posts as JSON Lines for `vigil import`, the same for a given
//! N and seed on every machine.
//!
//! - 60 % English (10–60 words), 40 % Chinese (15–120 characters), shorter texts more
//!   common than long ones.
//! - Texts are built clause by clause from the word lists in [`crate::vocab`], each
//!   slot drawn with a Zipf-like distribution, plus numbers; every text is unique (a
//!   repeat is regenerated), so the store's near-duplicate detection sees independent
//!   posts, not copies of a few templates.
//! - About 80 % of the posts name a watched brand (Acme / 艾克米, Globex / 环球); the
//!   rest name other makers. Sentiment words follow a per-post mood; crisis words
//!   (recall, 召回, 爆炸, …) appear in about 1.5 % of posts.
//! - A few hundred authors (250 writing English, 150 Chinese) with Zipf-skewed
//!   activity; URLs on 50 sites; `published_at` over 90 days from
//!   [`CORPUS_START`], in file order, with a daily cycle, busier weekends and a slow
//!   upward trend.
//!
//! Randomness comes from a SplitMix64 generator written here (not `rand`), so the file
//! cannot change with a dependency update.

use std::collections::HashSet;
use std::fs::File;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Datelike, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::vocab::*;

/// Bumped whenever the generator or its word lists change, so an old file of the same
/// N and seed is not reused.
pub const GENERATOR_VERSION: u32 = 1;

/// Days covered by `published_at`.
pub const CORPUS_DAYS: i64 = 90;

/// First instant of the corpus: 2026-08-01T00:00:00Z.
pub const CORPUS_START_SECONDS: i64 = 1_785_542_400;

/// Share of posts in English; the rest are Chinese.
pub const ENGLISH_SHARE: f64 = 0.6;

/// Share of posts naming a watched brand.
pub const BRAND_SHARE: f64 = 0.8;

/// Share of posts with a crisis clause.
pub const CRISIS_SHARE: f64 = 0.015;

/// Start of the corpus as a time.
pub fn corpus_start() -> DateTime<Utc> {
    DateTime::from_timestamp(CORPUS_START_SECONDS, 0).unwrap_or_default()
}

/// End of the corpus (exclusive).
pub fn corpus_end() -> DateTime<Utc> {
    corpus_start() + TimeDelta::days(CORPUS_DAYS)
}

/// One line of the import file (SPEC.md's `vigil import` format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedPost {
    pub id: String,
    pub url: String,
    pub author: String,
    pub published_at: String,
    pub text: String,
    pub lang: String,
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for test data, and
/// fully specified here.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// A Zipf-like rank in `0..n`: P(k) = log(k+2 / k+1) / log(n+1), about 1 / (k + 1.5)
    /// normalised — the first entries common, a long rare tail.
    pub fn zipf(&mut self, n: usize) -> usize {
        let rank = ((n + 1) as f64).powf(self.unit()) as usize;
        rank.saturating_sub(1).min(n.saturating_sub(1))
    }

    /// An entry of `list`, Zipf-distributed over its order.
    pub fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.zipf(list.len())]
    }

    /// An entry of `list`, uniformly.
    pub fn uniform<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }
}

/// SplitMix64's finaliser: a bijection on `u64`.
fn mix64(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mood {
    Positive,
    Negative,
    Neutral,
}

/// Which watched brands a post names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BrandPick {
    Acme,
    Globex,
    Both,
    /// None of the watched brands: another maker.
    Other,
}

/// Posts per hour of the day (UTC), relative: quiet at night, busy in the evening.
const HOURLY_WEIGHTS: [f64; 24] = [
    1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0, 3.2, 3.1, 3.0, 3.0, 3.1, 3.3, 3.6,
    4.0, 4.2, 3.8, 2.8, 1.8,
];

/// Makes the posts of one corpus, in order.
pub struct Generator {
    seed: u64,
    count: u64,
    /// Cumulative share of posts up to the end of each hour of the corpus.
    hour_cdf: Vec<f64>,
    authors_en: Vec<String>,
    authors_zh: Vec<String>,
    /// Hashes of the texts made so far, to keep every text unique.
    seen: HashSet<u64, BuildHasherDefault<DefaultHasher>>,
}

impl Generator {
    pub fn new(count: u64, seed: u64) -> Self {
        let start = corpus_start();
        let hours = (CORPUS_DAYS * 24) as usize;
        let mut hour_cdf = Vec::with_capacity(hours);
        let mut total = 0.0;
        for hour in 0..hours {
            let day = hour / 24;
            let weekday = (start + TimeDelta::days(day as i64)).weekday();
            let weekend = if matches!(weekday, Weekday::Sat | Weekday::Sun) {
                1.2
            } else {
                1.0
            };
            let trend = 1.0 + 0.3 * day as f64 / CORPUS_DAYS as f64;
            total += HOURLY_WEIGHTS[hour % 24] * weekend * trend;
            hour_cdf.push(total);
        }
        for value in &mut hour_cdf {
            *value /= total;
        }
        let mut rng = Rng::new(seed ^ 0x5eed_a07b_0000_0000);
        let authors_en = (0..250)
            .map(|n| {
                let word = rng.uniform(HANDLE_WORDS_EN);
                let noun = rng.uniform(PRODUCTS_EN).replace(' ', "_");
                format!("{word}_{noun}{n}")
            })
            .collect();
        let authors_zh = (0..150)
            .map(|n| format!("{}{}", rng.uniform(HANDLE_WORDS_ZH), 100 + n * 7))
            .collect();
        Generator {
            seed,
            count: count.max(1),
            hour_cdf,
            authors_en,
            authors_zh,
            seen: HashSet::default(),
        }
    }

    /// Post number `index` (0-based). Call in order: uniqueness is checked against the
    /// posts made before.
    pub fn post(&mut self, index: u64) -> GeneratedPost {
        let mut rng = Rng::new(mix64(self.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ index));
        let english = rng.chance(ENGLISH_SHARE);
        let brand = {
            let roll = rng.unit();
            if roll >= BRAND_SHARE {
                BrandPick::Other
            } else if roll < BRAND_SHARE * 0.6 {
                BrandPick::Acme
            } else if roll < BRAND_SHARE * 0.95 {
                BrandPick::Globex
            } else {
                BrandPick::Both
            }
        };
        let mood = match rng.unit() {
            roll if roll < 0.4 => Mood::Positive,
            roll if roll < 0.75 => Mood::Negative,
            _ => Mood::Neutral,
        };
        let crisis = rng.chance(CRISIS_SHARE);
        let mut text = String::new();
        for attempt in 0.. {
            text = if english {
                english_text(&mut rng, brand, mood, crisis)
            } else {
                chinese_text(&mut rng, brand, mood, crisis)
            };
            if attempt >= 50 {
                // Practically unreachable; a number makes it unique.
                text.push_str(&format!(" #{index}"));
            }
            let hash = self.seen.hasher().hash_one(&text);
            if self.seen.insert(hash) {
                break;
            }
        }
        let (site, author) = if english {
            (
                rng.pick(SITES_EN),
                &self.authors_en[rng.zipf(self.authors_en.len())],
            )
        } else {
            (
                rng.pick(SITES_ZH),
                &self.authors_zh[rng.zipf(self.authors_zh.len())],
            )
        };
        let kind = ["p", "post", "status", "review", "t", "comments"][rng.below(6)];
        let slug = mix64(
            self.seed
                .wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        );
        let tracking = if rng.chance(0.1) {
            "?utm_source=share"
        } else {
            ""
        };
        GeneratedPost {
            id: index.to_string(),
            url: format!("https://{site}/{kind}/{slug:016x}{tracking}"),
            author: author.clone(),
            published_at: self
                .published_at(index, &mut rng)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
            text,
            lang: if english { "en" } else { "zh" }.to_string(),
        }
    }

    /// Post `index`'s time: the inverse of the hourly cumulative distribution at
    /// `(index + jitter) / count`, so times grow with the index and follow the cycle.
    fn published_at(&self, index: u64, rng: &mut Rng) -> DateTime<Utc> {
        let share = ((index as f64 + rng.unit()) / self.count as f64).min(1.0 - 1e-12);
        let hour = self.hour_cdf.partition_point(|&cdf| cdf <= share);
        let hour = hour.min(self.hour_cdf.len() - 1);
        let low = if hour == 0 {
            0.0
        } else {
            self.hour_cdf[hour - 1]
        };
        let high = self.hour_cdf[hour];
        let within = if high > low {
            (share - low) / (high - low)
        } else {
            0.0
        };
        let seconds = hour as i64 * 3_600 + (within * 3_600.0) as i64;
        corpus_start() + TimeDelta::seconds(seconds.min(CORPUS_DAYS * 86_400 - 1))
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn adjective_en(rng: &mut Rng, mood: Mood) -> &'static str {
    let roll = rng.unit();
    let list = match mood {
        Mood::Positive if roll < 0.8 => POSITIVE_EN,
        Mood::Negative if roll < 0.8 => NEGATIVE_EN,
        Mood::Neutral if roll < 0.6 => NEUTRAL_EN,
        _ if roll < 0.9 => NEUTRAL_EN,
        Mood::Negative => POSITIVE_EN,
        _ => NEGATIVE_EN,
    };
    rng.pick(list)
}

fn brand_en(rng: &mut Rng, brand: BrandPick) -> String {
    match brand {
        BrandPick::Acme => ACME.to_string(),
        BrandPick::Globex => GLOBEX.to_string(),
        BrandPick::Both if rng.chance(0.5) => ACME.to_string(),
        BrandPick::Both => GLOBEX.to_string(),
        BrandPick::Other => rng.pick(OTHER_BRANDS_EN).to_string(),
    }
}

/// The other watched brand, for posts naming both.
fn second_brand_en(brand: &str) -> &'static str {
    if brand == ACME { GLOBEX } else { ACME }
}

fn english_text(rng: &mut Rng, brand: BrandPick, mood: Mood, crisis: bool) -> String {
    // 10..=60 words, short ones more common (mean about 28).
    let target = 10 + (50.0 * rng.unit().powf(1.6)) as usize;
    let name = brand_en(rng, brand);
    let product = rng.pick(PRODUCTS_EN);
    let mut clauses: Vec<String> = Vec::new();
    let opening = match rng.below(8) {
        0 => format!(
            "{} {} the {name} {product} {}",
            rng.pick(PRONOUNS_EN),
            rng.pick(PAST_VERBS_EN),
            rng.pick(TIMES_EN)
        ),
        1 => format!(
            "the {name} {product} is {} {}",
            rng.pick(DEGREES_EN),
            adjective_en(rng, mood)
        ),
        2 => format!("anyone else having trouble with the {name} {product}?"),
        3 => format!(
            "{} {} got {} {name} {product}",
            rng.pick(TIMES_EN),
            rng.pick(PRONOUNS_EN),
            if name.starts_with(['A', 'E', 'I', 'O', 'U']) {
                "an"
            } else {
                "a"
            }
        ),
        4 => format!(
            "{} {} with my {name} {product}",
            rng.between(2, 11),
            ["days", "weeks", "months"][rng.below(3)]
        ),
        5 => format!("thinking about buying the {name} {product}"),
        6 => format!("my {name} {product} {}", rng.pick(ACTIONS_EN)),
        _ => format!(
            "{} review of the {name} {product}",
            rng.pick(["quick", "honest", "long", "short", "first"].as_slice())
        ),
    };
    clauses.push(opening);
    if brand == BrandPick::Both {
        clauses.push(format!(
            "compared it with the {} {product}",
            second_brand_en(&name)
        ));
    }
    if crisis {
        let word = rng.pick(CRISIS_EN);
        clauses.push(match rng.below(4) {
            0 => format!("heard about the {name} {word}"),
            1 => format!("there was a {word} report about the {product}"),
            2 => format!("is this a {word} risk?"),
            _ => format!("mine had {word} issues near the {}", rng.pick(ASPECTS_EN)),
        });
    }
    let mut words: usize = clauses.iter().map(|c| c.split(' ').count()).sum();
    while words < target {
        let clause = match rng.below(12) {
            0 | 1 => format!(
                "the {} is {} {}",
                rng.pick(ASPECTS_EN),
                rng.pick(DEGREES_EN),
                adjective_en(rng, mood)
            ),
            2 => format!("it {}", rng.pick(ACTIONS_EN)),
            3 => rng.pick(IDIOMS_EN).to_string(),
            4 => rng.pick(SERVICE_EN).to_string(),
            5 => {
                let who = rng.pick(PRONOUNS_EN);
                let plural = who == "I" || who == "we";
                let verb = match (mood, plural) {
                    (Mood::Positive, true) => "love",
                    (Mood::Positive, false) => "loves",
                    (Mood::Negative, true) => "hate",
                    (Mood::Negative, false) => "hates",
                    (Mood::Neutral, _) => "noticed",
                };
                format!("{who} {verb} the {}", rng.pick(ASPECTS_EN))
            }
            6 => format!(
                "after {} days the {} {}",
                rng.between(1, 120),
                rng.pick(ASPECTS_EN),
                if mood == Mood::Negative {
                    rng.pick(
                        [
                            "stopped working",
                            "fell apart",
                            "broke",
                            "started to leak",
                            "leaks",
                        ]
                        .as_slice(),
                    )
                } else {
                    rng.pick(
                        [
                            "still works",
                            "looks new",
                            "is fine",
                            "holds up",
                            "keeps going",
                        ]
                        .as_slice(),
                    )
                }
            ),
            7 => format!("paid {} dollars for it", rng.between(15, 400)),
            8 => format!(
                "{} for the {}",
                adjective_en(rng, mood),
                rng.pick(PLACES_EN)
            ),
            9 => format!(
                "compared to my old {} {} it is {}",
                rng.pick(OTHER_BRANDS_EN),
                rng.pick(PRODUCTS_EN),
                adjective_en(rng, mood)
            ),
            10 => format!("{} {}", rng.pick(CONNECTORS_EN), rng.pick(IDIOMS_EN)),
            _ => format!(
                "{} rating {} out of 10",
                rng.pick(CLOSERS_EN),
                rng.between(1, 10)
            ),
        };
        words += clause.split(' ').count();
        clauses.push(clause);
    }
    let mut text = String::new();
    for (n, clause) in clauses.iter().enumerate() {
        let sentence_start = if n > 0 && text.ends_with('?') {
            text.push(' ');
            true
        } else if n > 0 {
            let separator = match rng.below(4) {
                0 | 1 => ". ",
                2 => ", ",
                _ => " - ",
            };
            text.push_str(separator);
            separator == ". "
        } else {
            false
        };
        if sentence_start {
            text.push_str(&capitalize(clause));
        } else {
            text.push_str(clause);
        }
    }
    // Cap at 60 words, then end the sentence.
    let mut capped: Vec<&str> = text.split(' ').collect();
    capped.truncate(60);
    let mut text = capitalize(&capped.join(" "));
    while text.ends_with([',', '.', '-', ' ']) {
        text.pop();
    }
    if !text.ends_with(['?', '!']) {
        text.push(if rng.chance(0.2) { '!' } else { '.' });
    }
    text
}

fn brand_zh(rng: &mut Rng, brand: BrandPick) -> String {
    // Some Chinese posts write the brand in Latin letters.
    let latin = rng.chance(0.05);
    match brand {
        BrandPick::Acme if latin => ACME.to_string(),
        BrandPick::Acme => ACME_ZH.to_string(),
        BrandPick::Globex if latin => GLOBEX.to_string(),
        BrandPick::Globex => GLOBEX_ZH.to_string(),
        BrandPick::Both if rng.chance(0.5) => ACME_ZH.to_string(),
        BrandPick::Both => GLOBEX_ZH.to_string(),
        BrandPick::Other => rng.pick(OTHER_BRANDS_ZH).to_string(),
    }
}

fn adjective_zh(rng: &mut Rng, mood: Mood) -> &'static str {
    let roll = rng.unit();
    let list = match mood {
        Mood::Positive if roll < 0.85 => POSITIVE_ZH,
        Mood::Negative if roll < 0.85 => NEGATIVE_ZH,
        Mood::Neutral if roll < 0.5 => POSITIVE_ZH,
        Mood::Negative | Mood::Neutral => NEGATIVE_ZH,
        Mood::Positive => NEGATIVE_ZH,
    };
    rng.pick(list)
}

fn chinese_text(rng: &mut Rng, brand: BrandPick, mood: Mood, crisis: bool) -> String {
    // 15..=120 characters, short ones more common (mean about 55).
    let target = 15 + (105.0 * rng.unit().powf(1.6)) as usize;
    let name = brand_zh(rng, brand);
    let product = rng.pick(PRODUCTS_ZH);
    let mut clauses: Vec<String> = Vec::new();
    clauses.push(match rng.below(6) {
        0 => format!(
            "{}{}{}{name}{product}",
            rng.pick(TIMES_ZH),
            rng.pick(SUBJECTS_ZH),
            rng.pick(VERBS_ZH)
        ),
        1 => format!(
            "{name}的{product}{}{}",
            rng.pick(DEGREES_ZH),
            adjective_zh(rng, mood)
        ),
        2 => format!("有人用过{name}{product}吗"),
        3 => format!(
            "花{}块{}{name}{product}",
            rng.between(49, 1999),
            rng.pick(VERBS_ZH)
        ),
        4 => format!("{}推荐的{name}{product}", rng.pick(SUBJECTS_ZH)),
        _ => format!("{name}{product}用了{}天", rng.between(1, 300)),
    });
    if brand == BrandPick::Both {
        let other = if name == ACME_ZH { GLOBEX_ZH } else { ACME_ZH };
        clauses.push(format!("和{other}的比了一下"));
    }
    if crisis {
        let word = rng.pick(CRISIS_ZH);
        clauses.push(match rng.below(4) {
            0 => format!("听说{name}{product}要{word}了"),
            1 => format!("{product}突然{word}"),
            2 => format!("这个有{word}的风险吗"),
            _ => format!("准备{word}"),
        });
    }
    let mut chars: usize = clauses.iter().map(|c| c.chars().count() + 1).sum();
    while chars < target {
        let clause = match rng.below(10) {
            0 | 1 => format!(
                "{}{}{}",
                rng.pick(ASPECTS_ZH),
                rng.pick(DEGREES_ZH),
                adjective_zh(rng, mood)
            ),
            2 => format!("客服{}", rng.pick(SERVICE_ZH)),
            3 => {
                if mood == Mood::Negative {
                    format!("用了{}天就坏了", rng.between(1, 90))
                } else {
                    format!(
                        "用了{}天{}{}",
                        rng.between(1, 300),
                        rng.pick(DEGREES_ZH),
                        adjective_zh(rng, mood)
                    )
                }
            }
            4 => format!(
                "{}{}{}{}",
                rng.pick(CONNECTORS_ZH),
                rng.pick(ASPECTS_ZH),
                rng.pick(DEGREES_ZH),
                adjective_zh(rng, mood)
            ),
            5 => format!(
                "比{}的{}{}",
                rng.pick(OTHER_BRANDS_ZH),
                rng.pick(DEGREES_ZH),
                adjective_zh(rng, mood)
            ),
            6 => format!(
                "{}说{}{}{}",
                rng.pick(SUBJECTS_ZH),
                rng.pick(ASPECTS_ZH),
                rng.pick(DEGREES_ZH),
                adjective_zh(rng, mood)
            ),
            7 => format!("{}的时候{}", rng.pick(TIMES_ZH), rng.pick(CLOSERS_ZH)),
            8 => format!("打{}折买的", rng.between(5, 9)),
            _ => format!(
                "放在{}里",
                ["厨房", "办公室", "宿舍", "客厅", "出租屋"][rng.below(5)]
            ),
        };
        chars += clause.chars().count() + 1;
        if chars > 119 {
            break;
        }
        clauses.push(clause);
    }
    let mut text = clauses.join("，");
    text.push(match rng.below(5) {
        0 => '！',
        1 => '？',
        _ => '。',
    });
    text
}

/// What [`ensure_corpus`] made or found.
#[derive(Debug, Clone, Serialize)]
pub struct CorpusInfo {
    pub path: PathBuf,
    pub posts: u64,
    pub bytes: u64,
    /// False when an existing file was reused.
    pub generated: bool,
    /// Generation time (0 when reused).
    pub seconds: f64,
}

/// The file name for `count` posts of `seed`.
pub fn corpus_path(out: &Path, count: u64, seed: u64) -> PathBuf {
    out.join(format!(
        "posts-v{GENERATOR_VERSION}-n{count}-seed{seed}.jsonl"
    ))
}

/// Writes the corpus unless the file for this N, seed and generator version exists.
pub fn ensure_corpus(out: &Path, count: u64, seed: u64) -> anyhow::Result<CorpusInfo> {
    let path = corpus_path(out, count, seed);
    if let Ok(meta) = std::fs::metadata(&path) {
        eprintln!(
            "corpus: reusing {} ({:.0} MB)",
            path.display(),
            meta.len() as f64 / 1e6
        );
        return Ok(CorpusInfo {
            path,
            posts: count,
            bytes: meta.len(),
            generated: false,
            seconds: 0.0,
        });
    }
    let started = Instant::now();
    let partial = path.with_extension("jsonl.partial");
    let file = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let mut generator = Generator::new(count, seed);
    for index in 0..count {
        let post = generator.post(index);
        serde_json::to_writer(&mut writer, &post)?;
        writer.write_all(b"\n")?;
        if (index + 1) % 200_000 == 0 {
            eprintln!("corpus: {} of {count} posts written", index + 1);
        }
    }
    writer
        .into_inner()
        .map_err(|error| error.into_error())?
        .sync_all()?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("renaming {} into place", partial.display()))?;
    let bytes = std::fs::metadata(&path)?.len();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "corpus: {count} posts, {:.0} MB in {seconds:.1} s -> {}",
        bytes as f64 / 1e6,
        path.display()
    );
    Ok(CorpusInfo {
        path,
        posts: count,
        bytes,
        generated: true,
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use vigil_core::text::is_cjk;

    use super::*;

    fn posts(count: u64, seed: u64) -> Vec<GeneratedPost> {
        let mut generator = Generator::new(count, seed);
        (0..count).map(|index| generator.post(index)).collect()
    }

    #[test]
    fn same_seed_same_posts_other_seed_other_posts() {
        let first = posts(2_000, 42);
        assert_eq!(first, posts(2_000, 42));
        let other = posts(2_000, 7);
        let same_text = first
            .iter()
            .zip(&other)
            .filter(|(a, b)| a.text == b.text)
            .count();
        assert!(
            same_text < 20,
            "{same_text} of 2,000 texts equal across seeds"
        );
        // A post depends on its index and seed, not on how many posts the file has
        // (only its time is scaled to the file).
        let small = posts(100, 42);
        assert_eq!(small[37].text, first[37].text);
        assert_eq!(small[37].url, first[37].url);
    }

    #[test]
    fn texts_and_urls_are_unique_and_not_near_duplicates() {
        let corpus = posts(20_000, 42);
        let texts: HashSet<&str> = corpus.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts.len(), corpus.len(), "every text is unique");
        let urls: HashSet<String> = corpus
            .iter()
            .map(|p| p.url.split('?').next().unwrap_or_default().to_string())
            .collect();
        assert_eq!(urls.len(), corpus.len(), "every URL is unique");

        // The store treats fingerprints within 3 bits as copies: count the posts that
        // would collapse, through the same pigeonhole bands the store uses.
        let mut bands: HashMap<(usize, u16), Vec<u64>> = HashMap::new();
        let mut fingerprinted = 0;
        let mut copies = 0;
        for post in &corpus {
            let Some(hash) = vigil_core::simhash(&post.text) else {
                continue;
            };
            fingerprinted += 1;
            let keys = vigil_core::simhash_bands(hash);
            let is_copy = keys.iter().enumerate().any(|(band, key)| {
                bands.get(&(band, *key)).is_some_and(|others| {
                    others.iter().any(|&other| {
                        vigil_core::hamming(hash, other) <= vigil_core::NEAR_DUPLICATE_DISTANCE
                    })
                })
            });
            if is_copy {
                copies += 1;
            } else {
                for (band, key) in keys.iter().enumerate() {
                    bands.entry((band, *key)).or_default().push(hash);
                }
            }
        }
        assert!(
            fingerprinted > corpus.len() / 2,
            "most texts are long enough for a fingerprint: {fingerprinted}"
        );
        assert!(
            copies * 100 < fingerprinted,
            "{copies} of {fingerprinted} fingerprinted posts would be stored as near-duplicate copies"
        );
    }

    #[test]
    fn language_mix_lengths_and_brand_share() {
        let corpus = posts(20_000, 42);
        let english: Vec<&GeneratedPost> = corpus.iter().filter(|p| p.lang == "en").collect();
        let chinese: Vec<&GeneratedPost> = corpus.iter().filter(|p| p.lang == "zh").collect();
        assert_eq!(english.len() + chinese.len(), corpus.len());
        let english_share = english.len() as f64 / corpus.len() as f64;
        assert!((0.58..0.62).contains(&english_share), "{english_share}");
        for post in &english {
            let words = post.text.split_whitespace().count();
            assert!((10..=60).contains(&words), "{words} words: {}", post.text);
            assert!(!post.text.chars().any(is_cjk), "{}", post.text);
        }
        for post in &chinese {
            let chars = post.text.chars().count();
            assert!((15..=121).contains(&chars), "{chars} chars: {}", post.text);
            let cjk = post.text.chars().filter(|&c| is_cjk(c)).count();
            assert!(cjk >= 5, "Chinese: {}", post.text);
        }
        // The benchmark config's brand queries: acme OR 艾克米, globex OR 环球.
        let brands: Vec<vigil_core::Query> = ["acme OR 艾克米", "globex OR 环球"]
            .iter()
            .map(|q| vigil_core::Query::parse(q).expect("brand query"))
            .collect();
        let matched = corpus
            .iter()
            .filter(|p| brands.iter().any(|b| b.matches(&p.text)))
            .count();
        let share = matched as f64 / corpus.len() as f64;
        assert!((0.78..0.82).contains(&share), "brand share {share}");
        let recall = corpus
            .iter()
            .filter(|p| p.text.contains("recall") || p.text.contains("召回"))
            .count();
        assert!(
            (5..200).contains(&recall),
            "crisis words are rare but present: {recall}"
        );
    }

    #[test]
    fn times_cover_the_window_in_order_with_a_daily_cycle() {
        let corpus = posts(50_000, 42);
        let times: Vec<DateTime<Utc>> = corpus
            .iter()
            .map(|p| {
                DateTime::parse_from_rfc3339(&p.published_at)
                    .expect("RFC 3339")
                    .with_timezone(&Utc)
            })
            .collect();
        assert!(
            times.windows(2).all(|pair| pair[0] <= pair[1]),
            "file order is time order"
        );
        assert!(times[0] < corpus_start() + TimeDelta::hours(1));
        assert!(*times.last().expect("posts") > corpus_end() - TimeDelta::hours(1));
        let mut by_hour = [0u32; 24];
        for time in &times {
            by_hour[time
                .format("%H")
                .to_string()
                .parse::<usize>()
                .expect("hour")] += 1;
        }
        assert!(
            by_hour[20] > by_hour[4] * 5,
            "evenings busier than nights: {by_hour:?}"
        );
        let mut authors: HashMap<&str, u32> = HashMap::new();
        for post in &corpus {
            *authors.entry(&post.author).or_default() += 1;
        }
        assert!(
            (300..=400).contains(&authors.len()),
            "{} authors",
            authors.len()
        );
        let busiest = authors.values().max().copied().unwrap_or_default();
        assert!(
            busiest > 50_000 / 400 * 10,
            "skewed activity: busiest wrote {busiest}"
        );
        let sites: HashSet<&str> = corpus
            .iter()
            .filter_map(|p| p.url.split('/').nth(2))
            .collect();
        assert_eq!(sites.len(), 50);
    }
}

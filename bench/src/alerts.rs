//! `--alerts DIR`: the cost of one alert tick (issue 6), `AlertEngine::evaluate` over
//! a real SQLite store.
//!
//! ```sh
//! cargo build -j1 --release -p vigil-bench
//! target/release/vigil-bench --alerts target/vigil-bench-alerts --ticks 20
//! ```
//!
//! 1. Builds the store in `DIR` unless `DIR/alerts-corpus.json` says it already holds
//!    the posts for this `--posts`, `--seed` and `--brands`: `--posts` posts (1,000,000
//!    by default) with the texts of [`crate::corpus`], each given to one of `--brands`
//!    brands (uniformly), a sentiment (40 % positive, 30 % negative, 30 % neutral) and a
//!    `published_at` spread evenly over the 30 days before [`corpus_end`], stored with
//!    `Store::ingest_owned` in batches of 5,000, as import does. The 1M-post build is
//!    paid once.
//! 2. Five rules per brand, as `vigil.example.toml` writes them: `negative_share` (1h,
//!    40 %, 10 mentions), `volume_spike` (1h against 7d, 2σ), `sentiment_drop` (1h
//!    against 7d, 2σ), `keyword` (crisis terms) and a `volume_spike` filtered by a query
//!    (support and refund words), which takes the rules' slower path: baseline posts
//!    read and matched in memory instead of counted by SQLite.
//! 3. Times `AlertEngine::evaluate(store, now)` for `--ticks` ticks, `now` advancing by
//!    the default `evaluate_every` (30 s) and the last tick at the corpus end. Then the
//!    same ticks once per rule kind (an engine holding only that kind's rules), and the
//!    store reads the rules make, called directly for every brand, to show what a tick
//!    spends its time on.
//!
//! Rule names carry a tag unique to each pass of each run (incidents are keyed by
//! `(rule, brand)`), so every run starts with no open incident and opens the same
//! ones: runs are comparable though the store is reused. The incidents of earlier runs
//! stay in the file (a few hundred rows a run).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use vigil_alerts::AlertEngine;
use vigil_config::Config;
use vigil_core::{AlertStore, Label, Post, Provenance, Query, Sentiment};
use vigil_store::Store;

use crate::corpus::{Generator, Rng};
use crate::report::{Machine, grouped};

/// Target of issue 6: one evaluation of every rule.
pub const TARGET_TICK_MS: f64 = 50.0;

/// Days covered by the alert corpus, ending at [`corpus_end`].
pub const ALERT_CORPUS_DAYS: i64 = 30;

/// Bumped whenever the posts this mode stores change, so an old store is not reused.
const ALERT_CORPUS_VERSION: u32 = 1;

/// Posts per `ingest_owned` call, as `vigil import` hands them over.
const BATCH: u64 = 5_000;

/// The default `alerts.evaluate_every`.
const TICK_INTERVAL_SECONDS: i64 = 30;

const KEYWORD_QUERY: &str =
    "recall OR fire OR smoke OR lawsuit OR explosion OR 召回 OR 爆炸 OR 起火 OR 冒烟";
const FILTER_QUERY: &str = "support OR refund OR warranty OR 退款 OR 不理人";

/// The marker written once the store is complete.
const MARKER: &str = "alerts-corpus.json";

/// The flags of this mode (flattened into the binary's arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct AlertsArgs {
    /// Measure alert rule evaluation per tick instead (issue 6): build (once) a store
    /// of `--posts` posts over 30 days and `--brands` brands in DIR, then time
    /// `AlertEngine::evaluate` with 5 rules per brand.
    #[arg(long, value_name = "DIR")]
    pub alerts: Option<PathBuf>,
    /// `--alerts`: evaluation ticks to time, 30 s apart.
    #[arg(long, default_value_t = 20)]
    pub ticks: usize,
    /// `--alerts`: brands, each with 5 rules.
    #[arg(long, default_value_t = 100)]
    pub brands: usize,
}

/// End of the alert corpus (exclusive), and the last tick: 2026-11-01T00:00:00Z.
pub fn corpus_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// What a complete store holds; reused only when every field matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoreMarker {
    version: u32,
    posts: u64,
    seed: u64,
    brands: usize,
    end: DateTime<Utc>,
    stored: u64,
    copies: u64,
    build_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
struct StoreInfo {
    path: PathBuf,
    db_bytes: u64,
    wal_bytes: u64,
    marker: StoreMarker,
    reused: bool,
}

/// Milliseconds of one measured thing over the ticks.
#[derive(Debug, Clone, Serialize)]
struct Timing {
    name: String,
    ms: Vec<f64>,
    /// What the row counts per tick (rules fired, posts read), averaged over the ticks.
    per_tick: f64,
    /// What `per_tick` counts.
    unit: String,
}

impl Timing {
    fn sorted(&self) -> Vec<f64> {
        let mut sorted = self.ms.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
    }

    fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(0.0)
    }

    fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(0.0)
    }

    fn median(&self) -> f64 {
        let sorted = self.sorted();
        let n = sorted.len();
        match n {
            0 => 0.0,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }

    /// Nearest rank: the smallest value at or above 95 % of the ticks.
    fn p95(&self) -> f64 {
        let sorted = self.sorted();
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = (0.95 * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    fn new(name: &str, unit: &str, ticks: usize) -> Timing {
        Timing {
            name: name.to_string(),
            ms: Vec::with_capacity(ticks),
            per_tick: 0.0,
            unit: unit.to_string(),
        }
    }

    fn row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {} | {} {} |",
            self.name,
            ms(self.min()),
            ms(self.median()),
            ms(self.p95()),
            ms(self.max()),
            ms(self.ms.first().copied().unwrap_or(0.0)),
            if self.per_tick >= 100.0 {
                grouped(self.per_tick.round() as u64)
            } else {
                format!("{:.1}", self.per_tick)
            },
            self.unit,
        )
    }
}

#[derive(Debug, Clone, Serialize)]
struct AlertsReport {
    command: String,
    date: String,
    commit: String,
    machine: Machine,
    store: StoreInfo,
    brands: usize,
    rules: usize,
    ticks: usize,
    first_tick: DateTime<Utc>,
    last_tick: DateTime<Utc>,
    evaluate: Timing,
    incidents_opened: usize,
    per_kind: Vec<Timing>,
    store_calls: Vec<Timing>,
}

fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.1}")
    }
}

fn brand_name(brand: usize) -> String {
    format!("Brand{brand:03}")
}

/// Post `index` of the alert corpus: the text, author and URL of the search corpus's
/// post `index`, with this mode's brand, sentiment and time.
fn alert_post(generator: &mut Generator, index: u64, posts: u64, brands: usize, seed: u64) -> Post {
    let generated = generator.post(index);
    let mut rng = Rng::new(seed ^ 0xa1e7_0000_0000_0000 ^ index.wrapping_mul(0x9e37_79b9));
    let brand = brand_name(rng.below(brands));
    let roll = rng.unit();
    let (label, score) = if roll < 0.4 {
        (Label::Positive, 0.05 + 0.9 * rng.unit() as f32)
    } else if roll < 0.7 {
        (Label::Negative, -0.05 - 0.9 * rng.unit() as f32)
    } else {
        (Label::Neutral, -0.05 + 0.1 * rng.unit() as f32)
    };
    let span_ms = ALERT_CORPUS_DAYS * 86_400_000;
    let offset_ms = ((index as f64 + rng.unit()) / posts as f64 * span_ms as f64) as i64;
    let start = corpus_end() - TimeDelta::days(ALERT_CORPUS_DAYS);
    let published_at = start + TimeDelta::milliseconds(offset_ms.min(span_ms - 1));
    let lang = generated.lang;
    Post {
        id: vigil_core::post_id("bench", &generated.id),
        source: "bench".into(),
        canonical_url: vigil_core::canonical_url(&generated.url),
        url: Some(generated.url),
        author: Some(generated.author),
        title: None,
        provenance: Provenance {
            fetched_at: published_at,
            fetch_url: "import:alerts-corpus".into(),
            http_status: None,
            content_hash: vigil_core::sha256_hex(format!("\n{}", generated.text)),
            extraction: "import:jsonl".into(),
            raw_sha256: None,
        },
        text: generated.text,
        external_id: generated.id,
        lang: Some(lang.clone()),
        published_at,
        brands: vec![brand],
        sentiment: Some(Sentiment {
            label,
            score,
            confidence: 0.5 + score.abs() / 2.0,
            lang,
            backend: "bench".into(),
            version: "bench-1".into(),
        }),
        engagement: Default::default(),
        duplicate_of: None,
    }
}

/// Opens the store in `dir`, building it first unless its marker matches.
fn ensure_store(
    dir: &Path,
    posts: u64,
    seed: u64,
    brands: usize,
) -> anyhow::Result<(Store, StoreInfo)> {
    let marker_path = dir.join(MARKER);
    let db_path = dir.join(vigil_store::DB_FILE_NAME);
    let existing: Option<StoreMarker> = std::fs::read_to_string(&marker_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let matches = existing.as_ref().is_some_and(|m| {
        m.version == ALERT_CORPUS_VERSION
            && m.posts == posts
            && m.seed == seed
            && m.brands == brands
            && m.end == corpus_end()
    });
    let (marker, reused) = match existing {
        Some(marker) if matches && db_path.exists() => {
            eprintln!("alerts: reusing the store in {}", dir.display());
            (marker, true)
        }
        _ => {
            if db_path.exists() {
                bail!(
                    "{} holds a store that is not this mode's corpus for --posts {posts} --seed {seed} --brands {brands} (or its build did not finish); delete it or pick another folder",
                    db_path.display()
                );
            }
            (build_store(dir, posts, seed, brands)?, false)
        }
    };
    let store =
        Store::open(dir).with_context(|| format!("opening the store in {}", dir.display()))?;
    let info = StoreInfo {
        db_bytes: file_bytes(&db_path),
        wal_bytes: file_bytes(&db_path.with_extension("db-wal")),
        path: db_path,
        marker,
        reused,
    };
    Ok((store, info))
}

fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn build_store(dir: &Path, posts: u64, seed: u64, brands: usize) -> anyhow::Result<StoreMarker> {
    anyhow::ensure!(
        posts > 0 && brands > 0,
        "--posts and --brands must be positive"
    );
    let started = Instant::now();
    let store =
        Store::open(dir).with_context(|| format!("creating a store in {}", dir.display()))?;
    let mut generator = Generator::new(posts, seed);
    let (mut stored, mut copies) = (0u64, 0u64);
    let mut first = 0;
    while first < posts {
        let last = (first + BATCH).min(posts);
        let batch: Vec<Post> = (first..last)
            .map(|index| alert_post(&mut generator, index, posts, brands, seed))
            .collect();
        let report = store.ingest_owned(batch, None, "vigil-bench")?;
        stored += report.stored.len() as u64;
        copies += report.copies as u64;
        if last.is_multiple_of(100_000) || last == posts {
            eprintln!(
                "alerts: {last} of {posts} posts stored ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
        first = last;
    }
    drop(store);
    let marker = StoreMarker {
        version: ALERT_CORPUS_VERSION,
        posts,
        seed,
        brands,
        end: corpus_end(),
        stored,
        copies,
        build_seconds: started.elapsed().as_secs_f64(),
    };
    std::fs::write(dir.join(MARKER), serde_json::to_string_pretty(&marker)?)?;
    Ok(marker)
}

/// The kinds in report order, with the rule-name suffix and the TOML lines of each.
const RULES: [(&str, &str); 5] = [
    (
        "negative_share",
        "kind = \"negative_share\"\nwindow = \"1h\"\nthreshold = 0.4\nmin_mentions = 10",
    ),
    (
        "volume_spike",
        "kind = \"volume_spike\"\nwindow = \"1h\"\nbaseline = \"7d\"\nsigma = 2.0\nmin_mentions = 10",
    ),
    (
        "sentiment_drop",
        "kind = \"sentiment_drop\"\nwindow = \"1h\"\nbaseline = \"7d\"\nsigma = 2.0\nmin_mentions = 10",
    ),
    ("keyword", "kind = \"keyword\"\nquery = \"KEYWORDS\""),
    (
        "volume_spike, query filter",
        "kind = \"volume_spike\"\nwindow = \"1h\"\nbaseline = \"7d\"\nsigma = 2.0\nmin_mentions = 3\nquery = \"FILTER\"",
    ),
];

/// A config with every brand and, for each, the rules in `kinds` (indexes into
/// [`RULES`]), named `<tag>-<brand>-<kind index>`.
fn alert_config(dir: &Path, brands: usize, kinds: &[usize], tag: &str) -> anyhow::Result<Config> {
    let mut toml = String::new();
    toml.push_str(&format!(
        "[storage]\ndata_dir = {}\n\n",
        serde_json::to_string(&dir.display().to_string())?
    ));
    for brand in 0..brands {
        toml.push_str(&format!(
            "[[brands]]\nname = \"{}\"\nquery = \"brand{brand:03}\"\n\n",
            brand_name(brand)
        ));
    }
    toml.push_str(
        "[alerts]\nevaluate_every = \"30s\"\n\n[alerts.smtp]\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\nfrom = \"vigil-bench@example.com\"\n\n[[alerts.recipients]]\nname = \"bench\"\nemails = [\"bench@example.com\"]\n\n",
    );
    for brand in 0..brands {
        for &kind in kinds {
            let body = RULES[kind]
                .1
                .replace("KEYWORDS", KEYWORD_QUERY)
                .replace("FILTER", FILTER_QUERY);
            toml.push_str(&format!(
                "[[alerts.rules]]\nname = \"{tag}-b{brand:03}-k{kind}\"\nbrand = \"{}\"\n{body}\nnotify = [\"bench\"]\n\n",
                brand_name(brand)
            ));
        }
    }
    let path = dir.join("alerts-bench.toml");
    vigil_config::parse_str(&toml, &path, dir)
        .map_err(|errors| anyhow::anyhow!("generated alert config: {errors}"))
}

fn tick_times(ticks: usize) -> Vec<DateTime<Utc>> {
    (0..ticks)
        .map(|k| corpus_end() - TimeDelta::seconds(TICK_INTERVAL_SECONDS * (ticks - 1 - k) as i64))
        .collect()
}

/// Times `engine.evaluate` at every tick; returns the timing (fired rules per tick)
/// and how many incidents were opened.
fn time_engine(
    name: &str,
    engine: &AlertEngine,
    store: &Store,
    times: &[DateTime<Utc>],
) -> anyhow::Result<(Timing, usize)> {
    let mut timing = Timing::new(name, "rules fired", times.len());
    let (mut fired, mut opened) = (0usize, 0usize);
    for now in times {
        let started = Instant::now();
        let outcomes = engine.evaluate(store, *now)?;
        timing.ms.push(started.elapsed().as_secs_f64() * 1e3);
        fired += outcomes.iter().filter(|o| o.fired).count();
        opened += outcomes.iter().filter(|o| o.opened).count();
    }
    timing.per_tick = fired as f64 / times.len().max(1) as f64;
    Ok((timing, opened))
}

/// One store read per brand per tick, as the rules make it, timed over all brands.
fn time_store_call(
    name: &str,
    unit: &str,
    times: &[DateTime<Utc>],
    brands: usize,
    mut call: impl FnMut(&str, DateTime<Utc>) -> anyhow::Result<usize>,
) -> anyhow::Result<Timing> {
    let mut timing = Timing::new(name, unit, times.len());
    let mut rows = 0usize;
    for now in times {
        let started = Instant::now();
        for brand in 0..brands {
            rows += call(&brand_name(brand), *now)?;
        }
        timing.ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    timing.per_tick = rows as f64 / times.len().max(1) as f64;
    Ok(timing)
}

fn store_calls(
    store: &Store,
    times: &[DateTime<Utc>],
    brands: usize,
) -> anyhow::Result<Vec<Timing>> {
    let hour = TimeDelta::hours(1);
    let week = TimeDelta::days(7);
    let filter = Query::parse(FILTER_QUERY)?;
    let mut calls = vec![
        time_store_call(
            "`window_posts`, 1h window (every rule kind)",
            "posts",
            times,
            brands,
            |brand, now| Ok(store.window_posts(brand, now - hour, now, 100_000)?.len()),
        )?,
        time_store_call(
            "`window_posts`, 7d baseline (sentiment_drop, filtered volume_spike)",
            "posts",
            times,
            brands,
            |brand, now| {
                Ok(store
                    .window_posts(brand, now - hour - week, now - hour, 500_000)?
                    .len())
            },
        )?,
        time_store_call(
            "`bucket_counts`, 7d in 1h buckets (volume_spike)",
            "buckets",
            times,
            brands,
            |brand, now| {
                Ok(store
                    .bucket_counts(brand, now - hour - week, now - hour, 3_600)?
                    .len())
            },
        )?,
    ];
    // Not product code: what the baseline read costs without decoding whole posts, on a
    // second (read-only) connection. The join still visits every post's row; the
    // index-only scan is what a covering index holding the score would cost.
    let conn = rusqlite::Connection::open_with_flags(
        store.path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let mut slim = conn.prepare(
        "SELECT pb.published_at, p.sentiment_score
         FROM post_brands AS pb JOIN posts AS p ON p.seq = pb.seq
         WHERE pb.brand = ?1 AND pb.original = 1
             AND pb.published_at >= ?2 AND pb.published_at < ?3",
    )?;
    calls.push(time_store_call(
        "for comparison: 7d baseline, `published_at` + `sentiment_score` only (join, no text)",
        "posts",
        times,
        brands,
        |brand, now| {
            let from = vigil_store::format_time(now - hour - week);
            let to = vigil_store::format_time(now - hour);
            let mut rows = slim.query(rusqlite::params![brand, from, to])?;
            let mut count = 0;
            while let Some(row) = rows.next()? {
                let _: Option<f64> = row.get(1)?;
                count += usize::from(!row.get_ref(0)?.as_str()?.is_empty());
            }
            Ok(count)
        },
    )?);
    let mut index_only = conn.prepare(
        "SELECT pb.published_at FROM post_brands AS pb
         WHERE pb.brand = ?1 AND pb.original = 1
             AND pb.published_at >= ?2 AND pb.published_at < ?3",
    )?;
    calls.push(time_store_call(
        "for comparison: 7d baseline, `published_at` only (covering index, no join)",
        "posts",
        times,
        brands,
        |brand, now| {
            let from = vigil_store::format_time(now - hour - week);
            let to = vigil_store::format_time(now - hour);
            let mut rows = index_only.query(rusqlite::params![brand, from, to])?;
            let mut count = 0;
            while let Some(row) = rows.next()? {
                count += usize::from(!row.get_ref(0)?.as_str()?.is_empty());
            }
            Ok(count)
        },
    )?);
    drop((slim, index_only));
    drop(conn);
    // The filtered volume_spike also matches every baseline post against its query.
    let mut baselines = Vec::with_capacity(brands);
    for brand in 0..brands {
        let now = times.last().copied().unwrap_or_else(corpus_end);
        baselines.push(store.window_posts(
            &brand_name(brand),
            now - hour - week,
            now - hour,
            500_000,
        )?);
    }
    let mut matching = Timing::new(
        "`Query::matches` of the filter over the 7d baseline posts (in memory)",
        "posts matched",
        times.len(),
    );
    let mut matched = 0usize;
    for _ in times {
        let started = Instant::now();
        matched = baselines
            .iter()
            .flatten()
            .filter(|post| post.matches(&filter))
            .count();
        matching.ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    matching.per_tick = matched as f64;
    calls.push(matching);
    drop(baselines);
    calls.push(time_store_call(
        "`last_resolved_at` + `unresolved_incident` (every rule)",
        "incidents found",
        times,
        brands,
        |brand, _| {
            let rule = format!("none-{brand}");
            store.last_resolved_at(&rule, brand)?;
            Ok(usize::from(
                store.unresolved_incident(&rule, brand)?.is_some(),
            ))
        },
    )?);
    Ok(calls)
}

/// `--alerts DIR`: build or reuse the store, time the ticks, print the report.
pub fn run(args: &AlertsArgs, dir: &Path, posts: u64, seed: u64) -> anyhow::Result<()> {
    anyhow::ensure!(args.ticks > 0, "--ticks must be at least 1");
    let command = format!(
        "target/release/vigil-bench {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    let mut machine = Machine::detect();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let (store, mut info) = ensure_store(&dir, posts, seed, args.brands)?;
    let times = tick_times(args.ticks);
    let tag = format!("r{}", Utc::now().timestamp_millis());
    let all_kinds: Vec<usize> = (0..RULES.len()).collect();

    eprintln!(
        "alerts: {} ticks, all {} rules",
        args.ticks,
        args.brands * RULES.len()
    );
    let engine = AlertEngine::new(&alert_config(&dir, args.brands, &all_kinds, &tag)?)?;
    let (evaluate, incidents_opened) = time_engine(
        &format!("`evaluate`, {} rules", args.brands * RULES.len()),
        &engine,
        &store,
        &times,
    )?;

    let mut per_kind = Vec::with_capacity(RULES.len());
    for (kind, (name, _)) in RULES.iter().enumerate() {
        eprintln!("alerts: {} ticks, {name} only", args.ticks);
        let engine = AlertEngine::new(&alert_config(
            &dir,
            args.brands,
            &[kind],
            &format!("{tag}k{kind}"),
        )?)?;
        let (timing, _) = time_engine(
            &format!("{name} ({} rules)", args.brands),
            &engine,
            &store,
            &times,
        )?;
        per_kind.push(timing);
    }
    eprintln!("alerts: store reads");
    let store_calls = store_calls(&store, &times, args.brands)?;

    info.db_bytes = file_bytes(&info.path);
    info.wal_bytes = file_bytes(&info.path.with_extension("db-wal"));
    machine.load_average_end = crate::report::load_average();
    let root = crate::ingest::workspace_root();
    let report = AlertsReport {
        command,
        date: Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        commit: crate::git_commit(&root),
        machine,
        store: info,
        brands: args.brands,
        rules: args.brands * RULES.len(),
        ticks: args.ticks,
        first_tick: times[0],
        last_tick: times[times.len() - 1],
        evaluate,
        incidents_opened,
        per_kind,
        store_calls,
    };
    let json_path = dir.join("alerts-results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("results: {}", json_path.display());
    print!("{}", report.markdown());
    Ok(())
}

fn megabytes(bytes: u64) -> String {
    format!("{} MB", grouped((bytes as f64 / 1e6).round() as u64))
}

impl AlertsReport {
    fn markdown(&self) -> String {
        let mut md = String::new();
        let store = &self.store;
        let marker = &store.marker;
        md.push_str(&format!(
            "#### Alert evaluation: {} posts, {} brands × 5 rules, {} ticks, {}, commit `{}`\n\n",
            grouped(marker.posts),
            self.brands,
            self.ticks,
            self.date,
            self.commit
        ));
        md.push_str(&format!("`{}`\n\n", self.command));
        md.push_str(&format!(
            "Machine: {} cores ({}), {:.0} GiB RAM; load average {} at the start, {} at the end (1/5/15 min; the machine is shared).\n\n",
            self.machine.cpus,
            self.machine.cpu_model,
            self.machine.ram_bytes as f64 / (1u64 << 30) as f64,
            self.machine.load_average_start,
            self.machine.load_average_end
        ));
        md.push_str(&format!(
            "Store: `{}`, {} (+ {} WAL); {} posts stored, {} of them near-duplicate copies (not counted by rules), {} days ending {}; {}.\n\n",
            store.path.display(),
            megabytes(store.db_bytes),
            megabytes(store.wal_bytes),
            grouped(marker.stored),
            grouped(marker.copies),
            ALERT_CORPUS_DAYS,
            marker.end.format("%Y-%m-%dT%H:%MZ"),
            if store.reused {
                format!("reused (built in {:.0} s)", marker.build_seconds)
            } else {
                format!("built in this run in {:.0} s", marker.build_seconds)
            }
        ));
        md.push_str(&format!(
            "Ticks every {TICK_INTERVAL_SECONDS} s from {} to {}; wall ms per tick; \"first\" is the first tick of the pass.\n\n",
            self.first_tick.format("%H:%M:%S"),
            self.last_tick.format("%H:%M:%S")
        ));
        md.push_str("| per tick | min | median | p95 | max | first | per tick |\n|---|---|---|---|---|---|---|\n");
        md.push_str(&self.evaluate.row());
        md.push('\n');
        md.push_str(&format!(
            "\nIncidents opened over the {} ticks: {}.\n\n",
            self.ticks, self.incidents_opened
        ));
        md.push_str("By rule kind (an engine holding only that kind's rules, same ticks):\n\n");
        md.push_str("| rule kind | min | median | p95 | max | first | per tick |\n|---|---|---|---|---|---|---|\n");
        for timing in &self.per_kind {
            md.push_str(&timing.row());
            md.push('\n');
        }
        let kinds_median: f64 = self.per_kind.iter().map(Timing::median).sum();
        md.push_str(&format!(
            "\nSum of the kinds' medians: {} ms.\n\n",
            ms(kinds_median)
        ));
        md.push_str(&format!(
            "Store reads, called directly, one per brand ({} calls per tick):\n\n",
            self.brands
        ));
        md.push_str("| read | min | median | p95 | max | first | per tick |\n|---|---|---|---|---|---|---|\n");
        for timing in &self.store_calls {
            md.push_str(&timing.row());
            md.push('\n');
        }
        let median = self.evaluate.median();
        md.push_str(&format!(
            "\nTarget (issue 6): one tick < {TARGET_TICK_MS:.0} ms: median {} ms, p95 {} ms: {}\n",
            ms(median),
            ms(self.evaluate.p95()),
            if self.evaluate.p95() < TARGET_TICK_MS {
                "**met**"
            } else {
                "**missed**"
            }
        ));
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(ms: &[f64]) -> Timing {
        let mut timing = Timing::new("t", "u", ms.len());
        timing.ms = ms.to_vec();
        timing
    }

    #[test]
    fn percentiles_use_sorted_values_and_nearest_rank() {
        let values: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        let t = timing(&values);
        assert_eq!(t.min(), 1.0);
        assert_eq!(t.max(), 20.0);
        assert_eq!(t.median(), 10.5);
        assert_eq!(t.p95(), 19.0);
        assert_eq!(timing(&[3.0, 1.0, 2.0]).median(), 2.0);
        assert_eq!(timing(&[7.0]).p95(), 7.0);
        assert_eq!(timing(&[]).median(), 0.0);
    }

    #[test]
    fn ticks_end_at_the_corpus_end_every_interval() {
        let times = tick_times(20);
        assert_eq!(times.len(), 20);
        assert_eq!(times[19], corpus_end());
        for pair in times.windows(2) {
            assert_eq!((pair[1] - pair[0]).num_seconds(), TICK_INTERVAL_SECONDS);
        }
    }

    #[test]
    fn generated_config_has_five_rules_per_brand() {
        let dir = std::env::temp_dir();
        let config = alert_config(&dir, 3, &[0, 1, 2, 3, 4], "t").unwrap();
        assert_eq!(config.brands.len(), 3);
        assert_eq!(config.alerts.rules.len(), 15);
        assert!(config.alerts.rules[4].query.is_some(), "the filtered rule");
        assert!(AlertEngine::new(&config).is_ok());
    }
}

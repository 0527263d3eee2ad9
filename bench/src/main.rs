//! `vigil-bench`: the reproducible search benchmark of issue 4, in one command.
//!
//! ```sh
//! cargo run --release -p vigil-bench -- --posts 1000000 --out /tmp/vigil-bench
//! ```
//!
//! 1. Generates the corpus ([`corpus`]), unless the file for this N and seed exists.
//! 2. Builds `vigil` (`cargo build --release -p vigil`, or takes `--vigil PATH`) and
//!    runs the real `vigil import` into a fresh data dir under `--out` ([`ingest`]),
//!    measuring wall time and peak RSS.
//! 3. Loads the same file into SQLite FTS5, the baseline ([`fts5`]).
//! 4. Opens the built index in-process and times every query class ([`queries`]) and
//!    the 30-day daily timeline on both engines.
//! 5. Prints a markdown report to stdout and writes it as JSON into the run folder.
//!
//! Progress goes to stderr.

mod alerts;
mod corpus;
mod freshness;
mod fts5;
mod ingest;
mod latency;
mod queries;
mod report;
mod vocab;

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{TimeDelta, Utc};
use clap::Parser;
use vigil_core::Query;
use vigil_index::{Interval, SearchIndex, SearchRequest};

use crate::fts5::{Baseline, BrandTerms};
use crate::queries::{CLASSES, measure};
use crate::report::{ClassResult, Machine, QueryTotals, Report};

/// The search benchmark: generated corpus → `vigil import` → query latency, with SQLite
/// FTS5 as the baseline on the same corpus and queries.
#[derive(Debug, Parser)]
#[command(name = "vigil-bench")]
struct Args {
    /// Posts to generate and import.
    #[arg(long, default_value_t = 1_000_000)]
    posts: u64,
    /// Working folder: the corpus, and one run folder per N and seed (config, data
    /// dir, FTS5 database, results.json).
    #[arg(long, default_value = "/tmp/vigil-bench")]
    out: PathBuf,
    /// Corpus seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Timed searches per query class and engine (after one warm-up pass).
    #[arg(long, default_value_t = 200)]
    iterations: usize,
    /// Use this `vigil` executable instead of running `cargo build --release -p vigil`.
    #[arg(long)]
    vigil: Option<PathBuf>,
    /// Reuse the data dir and FTS5 database of an earlier run with the same N and seed:
    /// queries only, ingest not measured.
    #[arg(long)]
    skip_ingest: bool,
    /// Leave out the SQLite FTS5 baseline.
    #[arg(long)]
    skip_baseline: bool,
    /// Measure only near-real-time search instead: start `vigil run` on the data dir of
    /// the earlier run for this N and seed (an empty one when there is none), store this
    /// many posts by crawling a loopback RSS feed and as many by `vigil import`, and
    /// time stored → searchable through `/api/search` for each.
    #[arg(long, value_name = "POSTS")]
    freshness: Option<usize>,
    #[command(flatten)]
    alerts: alerts::AlertsArgs,
    #[command(flatten)]
    latency: latency::LatencyArgs,
}

fn git_commit(root: &Path) -> String {
    std::process::Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// `--freshness`: stored → searchable lags through a running daemon.
fn run_freshness(args: &Args, run_dir: &Path, rounds: usize) -> anyhow::Result<()> {
    anyhow::ensure!(rounds > 0, "--freshness needs at least one post");
    let mut data_dir = run_dir.join("data");
    if !data_dir.join("index").exists() {
        data_dir = run_dir.join("freshness-empty");
        eprintln!(
            "freshness: no data from an earlier run in {}; using an empty data dir {}",
            run_dir.display(),
            data_dir.display()
        );
    }
    let vigil = match &args.vigil {
        Some(path) => path.clone(),
        None => ingest::build_vigil()?,
    };
    let documents = if data_dir.join("index").exists() {
        let config_text = ingest::config_text(&data_dir);
        let config = vigil_config::parse_str(&config_text, &run_dir.join("vigil.toml"), run_dir)
            .map_err(|errors| anyhow::anyhow!("bench/vigil.toml: {errors}"))?;
        SearchIndex::open(&data_dir.join("index"), &config.dictionary_words())?.doc_count()?
    } else {
        0
    };
    let load_start = report::load_average();
    let results = freshness::run(&vigil, run_dir, &data_dir, rounds)?;
    let load_end = report::load_average();
    std::fs::write(
        run_dir.join("freshness.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    println!(
        "{}",
        freshness::markdown(&results, documents, &load_start, &load_end)
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(dir) = &args.alerts.alerts {
        return alerts::run(&args.alerts, dir, args.posts, args.seed);
    }
    if let Some(dir) = &args.latency.latency {
        return latency::run(&args.latency, dir, args.vigil.as_deref(), args.seed);
    }
    let command_line = format!(
        "cargo run --release -p vigil-bench -- {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    let root = ingest::workspace_root();
    let mut machine = Machine::detect();
    let commit = git_commit(&root);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let out = args.out.canonicalize()?;
    let run_dir = out.join(format!("n{}-seed{}", args.posts, args.seed));
    std::fs::create_dir_all(&run_dir)?;

    if let Some(rounds) = args.freshness {
        return run_freshness(&args, &run_dir, rounds);
    }

    let corpus = corpus::ensure_corpus(&out, args.posts, args.seed)?;

    let data_dir = run_dir.join("data");
    let config_path = run_dir.join("vigil.toml");
    let config_text = ingest::config_text(&data_dir);
    std::fs::write(&config_path, &config_text)?;
    let config = vigil_config::parse_str(&config_text, &config_path, &run_dir)
        .map_err(|errors| anyhow::anyhow!("bench/vigil.toml: {errors}"))?;
    let words = config.dictionary_words();
    let brand_terms: Vec<BrandTerms> = config
        .brands
        .iter()
        .map(|brand| BrandTerms {
            name: brand.name.clone(),
            terms: brand
                .query
                .positive_terms()
                .into_iter()
                .map(|t| t.to_lowercase())
                .collect(),
        })
        .collect();

    let import = if args.skip_ingest {
        anyhow::ensure!(
            data_dir.join("index").exists(),
            "--skip-ingest: no data from an earlier run in {}",
            data_dir.display()
        );
        None
    } else {
        let vigil = match &args.vigil {
            Some(path) => path.clone(),
            None => ingest::build_vigil()?,
        };
        Some(ingest::run_import(
            &vigil,
            &config_path,
            &corpus.path,
            &data_dir,
        )?)
    };

    let fts5_path = run_dir.join("fts5.db");
    let (baseline, fts5_load) = if args.skip_baseline {
        (None, None)
    } else if args.skip_ingest && fts5_path.exists() {
        (Some(Baseline::open_existing(&fts5_path)?), None)
    } else {
        eprintln!("fts5: loading {}", corpus.path.display());
        let (baseline, load) = Baseline::load(&fts5_path, &corpus.path, &brand_terms)?;
        eprintln!(
            "fts5: {} lines, {} stored in {:.1} s",
            load.lines, load.stored, load.seconds
        );
        (Some(baseline), Some(load))
    };
    let bench_peak_rss = report::own_peak_rss_bytes();

    eprintln!("queries: opening {}", data_dir.join("index").display());
    let index = SearchIndex::open(&data_dir.join("index"), &words)?;
    let indexed = index.doc_count()?;
    if let Some(import) = &import
        && indexed != import.stored
    {
        eprintln!(
            "warning: the index holds {indexed} documents, the import stored {}",
            import.stored
        );
    }

    let mut classes = Vec::new();
    for class in CLASSES {
        eprintln!("queries: {}", class.name);
        let parsed: Vec<Query> = class
            .queries
            .iter()
            .map(|q| Query::parse(q).with_context(|| format!("query {q}")))
            .collect::<anyhow::Result<_>>()?;
        let requests: Vec<SearchRequest> = parsed
            .iter()
            .map(|query| SearchRequest::new(query.clone(), 20))
            .collect();
        let (vigil_totals, vigil_latency) = measure(&requests, args.iterations, |request| {
            Ok(index.search(request)?.total)
        })?;
        let (fts5_totals, fts5_latency) = match &baseline {
            Some(baseline) => {
                let expressions: Vec<String> = parsed
                    .iter()
                    .map(|query| {
                        fts5::translate(query)?.ok_or_else(|| fts5::Untranslatable("`*`".into()))
                    })
                    .collect::<Result<_, _>>()?;
                let (totals, latency) = measure(&expressions, args.iterations, |expression| {
                    Ok(baseline.search(expression, 20)?.0)
                })?;
                (Some(totals), Some(latency))
            }
            None => (None, None),
        };
        classes.push(ClassResult {
            name: class.name.to_string(),
            example: class.queries[0].to_string(),
            distinct_queries: class.queries.len(),
            vigil: vigil_latency,
            fts5: fts5_latency,
            totals: class
                .queries
                .iter()
                .enumerate()
                .map(|(n, query)| QueryTotals {
                    query: query.to_string(),
                    vigil: vigil_totals[n],
                    fts5: fts5_totals.as_ref().map(|t| t[n]),
                })
                .collect(),
        });
    }

    // 30-day daily timelines per brand, ending at each of the corpus's last 10
    // midnights.
    eprintln!("queries: timeline");
    let end = corpus::corpus_end();
    let windows: Vec<(String, chrono::DateTime<Utc>, chrono::DateTime<Utc>)> = config
        .brands
        .iter()
        .flat_map(|brand| {
            (0..10).map(move |days_back| {
                let to = end - TimeDelta::days(days_back);
                (brand.name.clone(), to - TimeDelta::days(30), to)
            })
        })
        .collect();
    let (vigil_totals, vigil_latency) = measure(&windows, args.iterations, |(brand, from, to)| {
        let mut filter = SearchRequest::new(Query::All, 0);
        filter.brand = Some(brand.clone());
        let timeline = index.timeline(&filter, Interval::Day, *from, *to)?;
        anyhow::ensure!(timeline.buckets.len() == 30, "30 daily buckets");
        Ok(timeline.total)
    })?;
    let (fts5_totals, fts5_latency) = match &baseline {
        Some(baseline) => {
            let (totals, latency) = measure(&windows, args.iterations, |(brand, from, to)| {
                let days = baseline.timeline(brand, *from, *to)?;
                Ok(days.iter().map(|(_, count)| count).sum())
            })?;
            (Some(totals), Some(latency))
        }
        None => (None, None),
    };
    classes.push(ClassResult {
        name: "timeline, 30 days daily, one brand".to_string(),
        example: format!(
            "{} {} .. {}",
            windows[0].0,
            windows[0].1.format("%Y-%m-%d"),
            windows[0].2.format("%Y-%m-%d")
        ),
        distinct_queries: windows.len(),
        vigil: vigil_latency,
        fts5: fts5_latency,
        totals: windows
            .iter()
            .enumerate()
            .map(|(n, (brand, from, to))| QueryTotals {
                query: format!("{brand} {} .. {}", from.format("%F"), to.format("%F")),
                vigil: vigil_totals[n],
                fts5: fts5_totals.as_ref().map(|t| t[n]),
            })
            .collect(),
    });

    machine.load_average_end = report::load_average();
    let report = Report {
        command: command_line,
        date: Utc::now().format("%Y-%m-%d").to_string(),
        commit,
        machine,
        posts: args.posts,
        seed: args.seed,
        iterations: args.iterations,
        corpus,
        import,
        indexed_documents: indexed,
        fts5_load,
        fts5_rows: match &baseline {
            Some(baseline) => Some(baseline.post_count()?),
            None => None,
        },
        bench_process_peak_rss_bytes: bench_peak_rss,
        classes,
    };
    let json_path = run_dir.join("results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("results: {}", json_path.display());
    print!("{}", report.markdown());
    Ok(())
}

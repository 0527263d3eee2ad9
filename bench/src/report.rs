//! The results: a JSON file in the run folder and a markdown report for BENCHMARKS.md.

use std::fmt::Write as _;

use serde::Serialize;

use crate::corpus::CorpusInfo;
use crate::fts5::LoadReport;
use crate::ingest::ImportReport;
use crate::queries::Latency;

/// Targets of issue 4.
pub const TARGET_INGEST_POSTS_PER_SECOND: f64 = 20_000.0;
pub const TARGET_SEARCH_P99_MS: f64 = 50.0;
pub const TARGET_TIMELINE_P99_MS: f64 = 200.0;

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub ram_bytes: u64,
    pub load_average_start: String,
    pub load_average_end: String,
}

/// The 1/5/15-minute load averages, as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "unknown".into())
}

/// This process's peak resident set so far (`VmHWM`).
pub fn own_peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let ram_bytes = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024);
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            ram_bytes,
            load_average_start: load_average(),
            load_average_end: String::new(),
        }
    }
}

/// One query's hit count on both engines (from the warm-up pass).
#[derive(Debug, Clone, Serialize)]
pub struct QueryTotals {
    pub query: String,
    pub vigil: u64,
    pub fts5: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassResult {
    pub name: String,
    pub example: String,
    pub distinct_queries: usize,
    pub vigil: Latency,
    pub fts5: Option<Latency>,
    pub totals: Vec<QueryTotals>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub command: String,
    pub date: String,
    pub commit: String,
    pub machine: Machine,
    pub posts: u64,
    pub seed: u64,
    pub iterations: usize,
    pub corpus: CorpusInfo,
    pub import: Option<ImportReport>,
    pub indexed_documents: u64,
    pub fts5_load: Option<LoadReport>,
    pub fts5_rows: Option<u64>,
    /// Peak RSS of the bench process after the FTS5 load (includes generating the
    /// corpus when it was generated in this run): an upper bound for the baseline.
    pub bench_process_peak_rss_bytes: Option<u64>,
    pub classes: Vec<ClassResult>,
}

/// `1234567` → `1,234,567`.
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (n, digit) in digits.chars().enumerate() {
        if n > 0 && (digits.len() - n).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn megabytes(bytes: u64) -> String {
    format!("{} MB", grouped((bytes as f64 / 1e6).round() as u64))
}

fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.1}")
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "**met**" } else { "**missed**" }
}

impl ClassResult {
    fn is_search_target(&self) -> bool {
        !self.name.starts_with("timeline")
    }

    /// Queries whose totals differ between the engines.
    fn mismatches(&self) -> usize {
        self.totals
            .iter()
            .filter(|t| t.fts5.is_some_and(|f| f != t.vigil))
            .count()
    }
}

impl Report {
    /// The report as markdown, ready for BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = self.write_markdown(&mut md);
        md
    }

    fn write_markdown(&self, md: &mut String) -> std::fmt::Result {
        let machine = &self.machine;
        writeln!(
            md,
            "#### {} posts, seed {}, {}, commit `{}`\n",
            grouped(self.posts),
            self.seed,
            self.date,
            self.commit
        )?;
        writeln!(md, "`{}`\n", self.command)?;
        writeln!(
            md,
            "Machine: {} cores ({}), {:.0} GiB RAM; load average {} at the start, {} at the end (1/5/15 min; the machine is shared).\n",
            machine.cpus,
            machine.cpu_model,
            machine.ram_bytes as f64 / (1u64 << 30) as f64,
            machine.load_average_start,
            machine.load_average_end
        )?;
        writeln!(
            md,
            "Corpus: {} ({}){}.\n",
            self.corpus.path.display(),
            megabytes(self.corpus.bytes),
            if self.corpus.generated {
                format!(", generated in {:.1} s", self.corpus.seconds)
            } else {
                ", reused".to_string()
            }
        )?;

        writeln!(
            md,
            "| ingest | wall | input lines/s | stored posts/s | peak RSS | on disk |"
        )?;
        writeln!(md, "|---|---|---|---|---|---|")?;
        let mut vigil_rate = None;
        match &self.import {
            Some(import) => {
                let stored_rate = import.stored as f64 / import.seconds;
                vigil_rate = Some(stored_rate);
                let cpu = match (import.user_seconds, import.system_seconds) {
                    (Some(user), Some(system)) => format!(" ({:.1} s CPU)", user + system),
                    _ => String::new(),
                };
                writeln!(
                    md,
                    "| `vigil import`: {} lines, {} stored ({} of them near-duplicate copies), {} duplicate, {} unmatched, {} rejected | {:.1} s{cpu} | {} | {} | {} | {} store + {} index |",
                    grouped(import.lines),
                    grouped(import.stored),
                    import
                        .near_duplicate_copies
                        .map_or("?".to_string(), grouped),
                    grouped(import.duplicates),
                    grouped(import.unmatched),
                    grouped(import.rejected),
                    import.seconds,
                    grouped((import.lines as f64 / import.seconds) as u64),
                    grouped(stored_rate as u64),
                    import.peak_rss_bytes.map_or("?".to_string(), megabytes),
                    megabytes(import.store_bytes),
                    megabytes(import.index_bytes),
                )?;
            }
            None => writeln!(
                md,
                "| `vigil import`: not measured (`--skip-ingest`); {} documents in the index | | | | | |",
                grouped(self.indexed_documents)
            )?,
        }
        if let Some(load) = &self.fts5_load {
            let stored_rate = load.stored as f64 / load.seconds;
            writeln!(
                md,
                "| SQLite FTS5 baseline: same file, {} brand-matched rows kept, {} unmatched skipped, 5,000-row transactions | {:.1} s (+ {:.1} s `optimize`) | {} | {} | ≤ {} (bench process) | {} |",
                grouped(load.stored),
                grouped(load.unmatched),
                load.seconds,
                load.optimize_seconds,
                grouped((load.lines as f64 / load.seconds) as u64),
                grouped(stored_rate as u64),
                self.bench_process_peak_rss_bytes
                    .map_or("?".to_string(), megabytes),
                megabytes(load.bytes_on_disk),
            )?;
            if let Some(vigil) = vigil_rate {
                writeln!(md, "| Vigil ÷ FTS5 | | | {:.2}× | | |", vigil / stored_rate)?;
            }
        }
        writeln!(md)?;

        writeln!(
            md,
            "Query latency in ms: {} timed runs per class and engine, cycling through the class's distinct queries, after one warm-up pass; top 20 by relevance with the exact total, no highlighting. \"FTS5 ÷ Vigil\" above 1 means Vigil is faster.\n",
            self.iterations
        )?;
        writeln!(
            md,
            "| class (distinct queries) | example | Vigil p50 | Vigil p99 | Vigil max | FTS5 p50 | FTS5 p99 | FTS5 max | FTS5 ÷ Vigil p50 / p99 | mean hits Vigil / FTS5 |"
        )?;
        writeln!(md, "|---|---|---|---|---|---|---|---|---|---|")?;
        for class in &self.classes {
            let v = &class.vigil;
            let (f50, f99, fmax, ratio, fhits) = match &class.fts5 {
                Some(f) => (
                    ms(f.p50_ms),
                    ms(f.p99_ms),
                    ms(f.max_ms),
                    format!(
                        "{:.1}× / {:.1}×",
                        f.p50_ms / v.p50_ms.max(1e-6),
                        f.p99_ms / v.p99_ms.max(1e-6)
                    ),
                    grouped(f.mean_hits.round() as u64),
                ),
                None => Default::default(),
            };
            writeln!(
                md,
                "| {} ({}) | `{}` | {} | {} | {} | {f50} | {f99} | {fmax} | {ratio} | {} / {fhits} |",
                class.name,
                class.distinct_queries,
                class.example.replace('|', "\\|"),
                ms(v.p50_ms),
                ms(v.p99_ms),
                ms(v.max_ms),
                grouped(v.mean_hits.round() as u64),
            )?;
        }
        let slowest: Vec<String> = self
            .classes
            .iter()
            .filter_map(|class| {
                let (n, mean) = class
                    .vigil
                    .per_query_mean_ms
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))?;
                let query = class.totals.get(n)?;
                Some(format!(
                    "{}: `{}` {} ms ({} hits)",
                    class.name,
                    query.query.replace('|', "\\|"),
                    ms(*mean),
                    grouped(query.vigil)
                ))
            })
            .collect();
        writeln!(
            md,
            "\nSlowest Vigil query per class (mean): {}.",
            slowest.join("; ")
        )?;
        let mismatched: Vec<String> = self
            .classes
            .iter()
            .filter(|c| c.mismatches() > 0)
            .map(|c| format!("{} ({} of {})", c.name, c.mismatches(), c.totals.len()))
            .collect();
        if !mismatched.is_empty() {
            writeln!(
                md,
                "\nQueries whose hit totals differ between the engines: {}. See `totals` in results.json.",
                mismatched.join(", ")
            )?;
        }
        writeln!(md, "\nTargets (issue 4, at 1,000,000 posts on 2 cores):\n")?;
        if let Some(import) = &self.import {
            let stored_rate = import.stored as f64 / import.seconds;
            let line_rate = import.lines as f64 / import.seconds;
            writeln!(
                md,
                "- ingest ≥ 20,000 posts/s: {} stored posts/s ({} input lines/s): {}",
                grouped(stored_rate as u64),
                grouped(line_rate as u64),
                met(stored_rate >= TARGET_INGEST_POSTS_PER_SECOND)
            )?;
        }
        let search: Vec<&ClassResult> = self
            .classes
            .iter()
            .filter(|c| c.is_search_target())
            .collect();
        if let Some(worst) = search
            .iter()
            .max_by(|a, b| a.vigil.p99_ms.total_cmp(&b.vigil.p99_ms))
        {
            writeln!(
                md,
                "- p99 < 50 ms for term, phrase, boolean and Chinese-term queries: worst p99 {} ms ({}): {}",
                ms(worst.vigil.p99_ms),
                worst.name,
                met(worst.vigil.p99_ms < TARGET_SEARCH_P99_MS)
            )?;
        }
        for class in self.classes.iter().filter(|c| !c.is_search_target()) {
            writeln!(
                md,
                "- 30-day daily timeline p99 < 200 ms: {} ms: {}",
                ms(class.vigil.p99_ms),
                met(class.vigil.p99_ms < TARGET_TIMELINE_P99_MS)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}

//! Ingest through the real binary: `vigil import --source bench FILE --config CFG`,
//! timed from the outside, with peak RSS from `/usr/bin/time` (or, without it, the
//! child's `VmHWM` sampled every 20 ms).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

/// The benchmark config, `bench/vigil.toml`; its `data_dir` is replaced per run.
pub const CONFIG_TEMPLATE: &str = include_str!("../vigil.toml");

/// The workspace root (this crate's parent folder).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The benchmark config with `data_dir` pointing at `data_dir`.
pub fn config_text(data_dir: &Path) -> String {
    let quoted = serde_json::to_string(&data_dir.display().to_string())
        .unwrap_or_else(|_| format!("\"{}\"", data_dir.display()));
    let mut out = String::new();
    for line in CONFIG_TEMPLATE.lines() {
        if line.trim_start().starts_with("data_dir") {
            out.push_str(&format!("data_dir = {quoted}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Builds `vigil` with `cargo build --release -p vigil` and returns the executable.
pub fn build_vigil() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("build: cargo build --release -p vigil");
    let mut child = Command::new(&cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--release",
            "-p",
            "vigil",
            "--message-format=json-render-diagnostics",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("running {cargo}"))?;
    let mut executable = None;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line?;
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if message["reason"] == "compiler-artifact"
                && message["target"]["name"] == "vigil"
                && let Some(path) = message["executable"].as_str()
            {
                executable = Some(PathBuf::from(path));
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("cargo build --release -p vigil failed ({status})");
    }
    executable.context("cargo did not report the vigil executable")
}

/// What `vigil import` did and cost.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub command: String,
    pub seconds: f64,
    pub user_seconds: Option<f64>,
    pub system_seconds: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    pub lines: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub unmatched: u64,
    pub rejected: u64,
    /// Stored posts the store marked as near-duplicate copies (`duplicate_of`).
    pub near_duplicate_copies: Option<u64>,
    pub store_bytes: u64,
    pub index_bytes: u64,
}

/// Parses `imported {lines} lines in {s}s: {stored} stored, {dup} duplicate,
/// {unmatched} unmatched, {rejected} rejected`.
pub fn parse_summary(stdout: &str) -> Option<(u64, u64, u64, u64, u64)> {
    let line = stdout.lines().find(|l| l.starts_with("imported "))?;
    let number_before = |marker: &str| -> Option<u64> {
        let end = line.find(marker)?;
        line[..end].split([' ', ':']).next_back()?.parse().ok()
    };
    Some((
        number_before(" lines in")?,
        number_before(" stored")?,
        number_before(" duplicate")?,
        number_before(" unmatched")?,
        number_before(" rejected")?,
    ))
}

/// Total size of the files under `path`.
pub fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_bytes(&entry.path()),
            _ => entry.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

fn vm_hwm_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Runs the import into a fresh `data_dir`.
pub fn run_import(
    vigil: &Path,
    config: &Path,
    corpus: &Path,
    data_dir: &Path,
) -> anyhow::Result<ImportReport> {
    if data_dir.exists() {
        std::fs::remove_dir_all(data_dir)
            .with_context(|| format!("removing {}", data_dir.display()))?;
    }
    let args: Vec<String> = vec![
        "--config".into(),
        config.display().to_string(),
        "import".into(),
        "--source".into(),
        "bench".into(),
        corpus.display().to_string(),
    ];
    let command = format!("{} {}", vigil.display(), args.join(" "));
    eprintln!("ingest: {command}");
    let time = Path::new("/usr/bin/time");
    let time_file = data_dir.with_extension("time");
    let started = Instant::now();
    let (output, sampled_hwm) = if time.exists() {
        let output = Command::new(time)
            .args(["-f", "%M %U %S", "-o"])
            .arg(&time_file)
            .arg(vigil)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .output()
            .context("running vigil import under /usr/bin/time")?;
        (output, None)
    } else {
        let child = Command::new(vigil)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("running vigil import")?;
        let pid = child.id();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut peak = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    peak = vm_hwm_bytes(pid).unwrap_or(0).max(peak);
                    std::thread::sleep(Duration::from_millis(20));
                }
                peak
            })
        };
        let output = child.wait_with_output()?;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let peak = sampler.join().unwrap_or(0);
        (output, Some(peak))
    };
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("vigil import failed ({}):\n{stdout}", output.status);
    }
    let (lines, stored, duplicates, unmatched, rejected) = parse_summary(&stdout)
        .with_context(|| format!("no import summary in vigil's output:\n{stdout}"))?;
    let (peak_rss_bytes, user_seconds, system_seconds) = match sampled_hwm {
        Some(peak) => (Some(peak), None, None),
        None => {
            let text = std::fs::read_to_string(&time_file).unwrap_or_default();
            let fields: Vec<&str> = text
                .lines()
                .last()
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            let number = |n: usize| fields.get(n).and_then(|f| f.parse::<f64>().ok());
            (number(0).map(|kib| kib as u64 * 1024), number(1), number(2))
        }
    };
    let database = data_dir.join("vigil.db");
    let near_duplicate_copies = rusqlite::Connection::open_with_flags(
        &database,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .and_then(|db| {
        db.query_row(
            "SELECT count(*) FROM posts WHERE duplicate_of IS NOT NULL",
            [],
            |row| row.get::<_, i64>(0),
        )
    })
    .ok()
    .map(|n| n as u64);
    let index_bytes = dir_bytes(&data_dir.join("index"));
    Ok(ImportReport {
        command,
        seconds,
        user_seconds,
        system_seconds,
        peak_rss_bytes,
        lines,
        stored,
        duplicates,
        unmatched,
        rejected,
        near_duplicate_copies,
        store_bytes: dir_bytes(data_dir).saturating_sub(index_bytes),
        index_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_import_summary() {
        let out = "imported 1000000 lines in 113.8s: 779720 stored, 3 duplicate, 220280 unmatched, 0 rejected\n  line 5: bad";
        assert_eq!(
            parse_summary(out),
            Some((1_000_000, 779_720, 3, 220_280, 0))
        );
        assert_eq!(parse_summary("nothing here"), None);
    }

    #[test]
    fn config_points_data_dir_at_the_run() {
        let text = config_text(Path::new("/tmp/x y/data"));
        assert!(text.contains("data_dir = \"/tmp/x y/data\"\n"), "{text}");
        let config = vigil_config::parse_str(&text, Path::new("bench.toml"), Path::new("/"))
            .expect("valid config");
        assert_eq!(config.storage.data_dir, Path::new("/tmp/x y/data"));
        let names: Vec<&str> = config.brands.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["Acme", "Globex"]);
    }
}

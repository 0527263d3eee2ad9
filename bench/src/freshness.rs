//! Near-real-time: how long after a post is stored it can be found through the API of a
//! running daemon, on both paths a post takes into the store:
//! - crawl: the daemon polls an RSS feed served on loopback (interval 1 s); each round
//!   adds one item with a unique word;
//! - import: `vigil import` of a one-line file while the daemon runs (the daemon holds
//!   the index writer, so it picks the posts up from the store).
//!
//! For each post the bench polls the store (SQLite, read-only) and `/api/search` every
//! few milliseconds: "stored" is the first time the row is visible in the store,
//! "searchable" the first time the search returns it. The lag between the two is what
//! issue 4's "searchable within 2 s of being stored" is about.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use serde::Serialize;

use crate::queries::percentile;

/// Polling step for both the store and the API.
const POLL: Duration = Duration::from_millis(5);
/// Give up on one post after this long.
const ROUND_LIMIT: Duration = Duration::from_secs(30);

/// Lags of one path, in milliseconds.
#[derive(Debug, Serialize)]
pub struct PathLags {
    pub path: &'static str,
    pub posts: usize,
    /// Stored → searchable.
    pub lag_ms: Vec<f64>,
}

impl PathLags {
    pub fn row(&self) -> String {
        let mut sorted = self.lag_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let mean = sorted.iter().sum::<f64>() / sorted.len().max(1) as f64;
        format!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            self.path,
            self.posts,
            percentile(&sorted, 0.5),
            mean,
            percentile(&sorted, 0.99),
            sorted.last().copied().unwrap_or(0.0),
        )
    }
}

/// Items the loopback feed serves, newest last.
#[derive(Default)]
struct Feed {
    items: Vec<(String, String)>,
}

fn rss(feed: &Feed) -> String {
    let now = Utc::now().to_rfc2822();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>freshness</title><link>http://127.0.0.1/</link><description>bench</description>",
    );
    for (guid, text) in feed.items.iter().rev().take(50) {
        out.push_str(&format!(
            "<item><guid>{guid}</guid><link>http://127.0.0.1/p/{guid}</link>\
             <title>{text}</title><description>{text}</description><pubDate>{now}</pubDate></item>"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

fn serve(listener: TcpListener, feed: Arc<Mutex<Feed>>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut request = [0u8; 4096];
        let read = stream.read(&mut request).unwrap_or(0);
        let head = String::from_utf8_lossy(&request[..read]);
        let (status, body) = if head.starts_with("GET /feed.xml") {
            let feed = feed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            ("200 OK", rss(&feed))
        } else {
            ("404 Not Found", String::new())
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/rss+xml; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `GET path` on loopback → (status, body).
fn get(port: u16, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

fn search_total(port: u16, word: &str) -> anyhow::Result<u64> {
    let (status, body) = get(port, &format!("/api/search?q={word}&limit=1"))?;
    if status != 200 {
        bail!("/api/search returned {status}: {body}");
    }
    let value: serde_json::Value = serde_json::from_str(&body)?;
    Ok(value["total"].as_u64().unwrap_or(0))
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the store holds `external_id` from `source`, then until the API finds
/// `word`; returns the lag between the two in ms.
fn stored_to_searchable(
    store: &rusqlite::Connection,
    api_port: u16,
    source: &str,
    external_id: &str,
    word: &str,
) -> anyhow::Result<f64> {
    let began = Instant::now();
    let stored_at = loop {
        let found: bool = store
            .query_row(
                "SELECT EXISTS(SELECT 1 FROM posts WHERE source = ?1 AND external_id = ?2)",
                (source, external_id),
                |row| row.get(0),
            )
            .unwrap_or(false);
        if found {
            break Instant::now();
        }
        if began.elapsed() > ROUND_LIMIT {
            bail!("{external_id} was not stored within {ROUND_LIMIT:?}");
        }
        std::thread::sleep(POLL);
    };
    loop {
        if search_total(api_port, word)? > 0 {
            return Ok(stored_at.elapsed().as_secs_f64() * 1e3);
        }
        if stored_at.elapsed() > ROUND_LIMIT {
            bail!("{word} was stored but not searchable within {ROUND_LIMIT:?}");
        }
        std::thread::sleep(POLL);
    }
}

/// Runs both paths, `rounds` posts each, against a daemon on `data_dir`.
pub fn run(
    vigil: &Path,
    run_dir: &Path,
    data_dir: &Path,
    rounds: usize,
) -> anyhow::Result<Vec<PathLags>> {
    let feed = Arc::new(Mutex::new(Feed::default()));
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let feed_port = listener.local_addr()?.port();
    {
        let feed = Arc::clone(&feed);
        std::thread::spawn(move || serve(listener, feed));
    }
    let api_port = free_port()?;
    let config_path = run_dir.join("freshness.toml");
    let mut config = crate::ingest::config_text(data_dir);
    config.push_str(&format!(
        "\n[server]\nlisten = \"127.0.0.1:{api_port}\"\n\n\
         [crawler]\nallow_private_addresses = true\nper_host_interval = \"10ms\"\n\n\
         [[sources]]\nname = \"fresh\"\nkind = \"rss\"\nurl = \"http://127.0.0.1:{feed_port}/feed.xml\"\n\
         interval = \"1s\"\n"
    ));
    std::fs::write(&config_path, &config)?;
    let log = std::fs::File::create(run_dir.join("freshness-daemon.log"))?;
    eprintln!(
        "freshness: starting the daemon on {} (log: {})",
        data_dir.display(),
        run_dir.join("freshness-daemon.log").display()
    );
    let _daemon = Daemon(
        Command::new(vigil)
            .args(["run", "--config"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", vigil.display()))?,
    );
    // The daemon is up once the API answers (start-up may catch the index up first).
    let began = Instant::now();
    while search_total(api_port, "acme").is_err() {
        if began.elapsed() > Duration::from_secs(600) {
            bail!("the daemon's API did not answer within 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let store = rusqlite::Connection::open_with_flags(
        data_dir.join("vigil.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let stamp = Utc::now().timestamp();

    let mut crawl = PathLags {
        path: "crawl (RSS on loopback, 1 s interval)",
        posts: rounds,
        lag_ms: Vec::new(),
    };
    for round in 0..rounds {
        let guid = format!("fresh-{stamp}-{round}");
        let word = format!("zqfresh{stamp}r{round}");
        feed.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .items
            .push((guid.clone(), format!("Acme kettle {word} arrived today")));
        crawl.lag_ms.push(stored_to_searchable(
            &store, api_port, "fresh", &guid, &word,
        )?);
        eprintln!(
            "freshness: crawl {}/{rounds}: {:.0} ms",
            round + 1,
            crawl.lag_ms.last().copied().unwrap_or(0.0)
        );
    }

    let mut import = PathLags {
        path: "`vigil import` of one line while the daemon runs",
        posts: rounds,
        lag_ms: Vec::new(),
    };
    let file: PathBuf = run_dir.join("freshness-import.jsonl");
    for round in 0..rounds {
        let id = format!("imp-{stamp}-{round}");
        let word = format!("zqimport{stamp}r{round}");
        std::fs::write(
            &file,
            format!(
                "{{\"id\": \"{id}\", \"text\": \"Acme kettle {word} imported\", \"published_at\": \"{}\"}}\n",
                Utc::now().to_rfc3339()
            ),
        )?;
        let status = Command::new(vigil)
            .args(["import", "--source", "fresh-import"])
            .arg(&file)
            .arg("--config")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("vigil import failed: {status}");
        }
        import.lag_ms.push(stored_to_searchable(
            &store,
            api_port,
            "fresh-import",
            &id,
            &word,
        )?);
        eprintln!(
            "freshness: import {}/{rounds}: {:.0} ms",
            round + 1,
            import.lag_ms.last().copied().unwrap_or(0.0)
        );
    }
    Ok(vec![crawl, import])
}

/// The markdown table of [`run`]'s results.
pub fn markdown(results: &[PathLags], documents: u64, load_start: &str, load_end: &str) -> String {
    let mut out = format!(
        "Stored → searchable through `/api/search`, daemon over an index of {documents} \
         documents; load average {load_start} at the start, {load_end} at the end.\n\n\
         | path | posts | p50 ms | mean ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n"
    );
    for result in results {
        out.push_str(&result.row());
        out.push('\n');
    }
    out
}

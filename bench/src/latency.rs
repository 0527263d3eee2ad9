//! `--latency DIR`: crawl → SMTP latency (issue 6): from the crawl pass that stores the
//! triggering post to the mail accepted by the SMTP server, through the real daemon.
//!
//! ```sh
//! cargo build -j2 --release -p vigil -p vigil-bench
//! target/release/vigil-bench --vigil target/release/vigil --latency /tmp/vigil-latency
//! ```
//!
//! 1. Serves `--sources` RSS feeds from a loopback HTTP server in this process and runs
//!    a loopback SMTP server (mailin-embedded, as `vigil mailcatcher` does).
//! 2. Writes `DIR/latency.toml`: a fresh data dir `DIR/data`, one brand per trial
//!    (`KettleNNN`, query `kettleNNN`), one `keyword` rule per brand (query `recall`)
//!    notifying one recipient through `[alerts.smtp]` on loopback, the feeds as `rss`
//!    sources with `interval = --source-interval` (2 s), `evaluate_every` left at its
//!    default (30 s): the daemon's wake-ups, not its tick, are what is measured.
//! 3. Starts `vigil run`, waits until every feed has been crawled once, then runs the
//!    rounds one after another. A round waits a random part of the source interval (so
//!    items land at every phase of the crawl schedule), adds an item "... KettleNNN ...
//!    recall ..." to one feed (a burst round adds `--burst-size` items, each naming its
//!    own brand, to the same feed, so they are stored by one crawl pass), then waits for
//!    their mails. Every brand is used once, so every item opens its own incident
//!    (incidents are keyed by (rule, brand)) and its own `first` notification.
//! 4. Latency = mail accepted − feed response served, both on this process's monotonic
//!    clock: "served" is the instant the HTTP server finished writing the first response
//!    that contained the item (the crawl pass that stores it), "accepted" the instant the
//!    SMTP server called `data_end` for the message whose subject names the brand (its
//!    250 goes out as that returns). The wait for the crawl (up to one interval) is not
//!    part of it.
//! 5. Splits it up afterwards, from the post's `stored_at` and the incident's
//!    `opened_at` in the store (the `now` of the alert tick that opened it) and the
//!    daemon's log (when the first mail was in the outbox), all wall clock, compared with this
//!    process's wall-clock stamps of the same events.
//!
//! A mail that does not arrive within `--mail-timeout` of its item being added counts as
//! a failure. The daemon gets SIGTERM at the end (SIGKILL if it does not stop within
//! 10 s, and on any error); `DIR/data` and the daemon log are deleted unless `--keep`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use mailin_embedded::{Handler, Response, Server, SslConfig, response};
use serde::Serialize;

use crate::corpus::Rng;
use crate::queries::percentile;
use crate::report::Machine;

/// Target of issue 6: crawl → mail within 5 s at p99.
pub const TARGET_P99_MS: f64 = 5_000.0;

/// The flags of this mode (flattened into the binary's arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct LatencyArgs {
    /// Measure crawl → SMTP latency instead (issue 6): run `vigil run` on a fresh data
    /// dir in DIR against loopback RSS feeds and a loopback SMTP server, and time each
    /// keyword incident from the feed response that carried its post to the accepted mail.
    #[arg(long, value_name = "DIR")]
    pub latency: Option<PathBuf>,
    /// `--latency`: rounds that add one item (one brand, one incident) each.
    #[arg(long, default_value_t = 100)]
    pub trials: usize,
    /// `--latency`: extra rounds that add `--burst-size` items at once to one feed.
    #[arg(long, default_value_t = 5)]
    pub bursts: usize,
    /// `--latency`: items (brands) per burst round.
    #[arg(long, default_value_t = 5)]
    pub burst_size: usize,
    /// `--latency`: RSS feeds (sources) on the loopback server.
    #[arg(long, default_value_t = 4)]
    pub sources: usize,
    /// `--latency`: the sources' crawl interval.
    #[arg(long, default_value = "2s")]
    pub source_interval: String,
    /// `--latency`: seconds to wait for a round's mails after adding its items.
    #[arg(long, default_value_t = 60)]
    pub mail_timeout: u64,
    /// `--latency`: keep the data dir and the daemon log in DIR.
    #[arg(long)]
    pub keep: bool,
}

/// One event seen by this process, on both clocks: the monotonic one for the latency,
/// the wall clock to compare with the times the daemon writes into the store.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    instant: Instant,
    wall: DateTime<Utc>,
}

impl Stamp {
    fn now() -> Stamp {
        Stamp {
            instant: Instant::now(),
            wall: Utc::now(),
        }
    }
}

fn brand_name(brand: usize) -> String {
    format!("Kettle{brand:03}")
}

/// The brand a subject names (`[warning] Kettle007: recall-kettle007`), if any.
fn brand_in(subject: &str) -> Option<usize> {
    let start = subject.find("Kettle")? + "Kettle".len();
    let digits: String = subject[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

// ---------------------------------------------------------------- feeds

struct FeedItem {
    brand: usize,
    text: String,
    published: DateTime<Utc>,
}

/// "KettleNNN recall: " and twelve random words, so no two items are near-duplicates
/// (a copy is not counted in alert windows, and would open no incident).
fn item_text(brand: usize, rng: &mut Rng) -> String {
    use crate::vocab::{ASPECTS_EN, NEGATIVE_EN, PLACES_EN, PRODUCTS_EN};
    let lists = [PRODUCTS_EN, NEGATIVE_EN, ASPECTS_EN, PLACES_EN];
    let words: Vec<&str> = (0..12).map(|n| rng.pick(lists[n % lists.len()])).collect();
    format!("{} recall: {}", brand_name(brand), words.join(" "))
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[derive(Default)]
struct Feeds {
    /// Items per source, oldest first.
    items: Vec<Vec<FeedItem>>,
    /// Brand → the end of the first response that carried its item.
    served: HashMap<usize, Stamp>,
    /// End of every response, per source.
    responses: Vec<Vec<Instant>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn rss(source: usize, items: &[FeedItem]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>latency {source}</title><link>http://127.0.0.1/</link><description>bench</description>"
    );
    // Every item, newest first: a burst must be carried whole by one response.
    for item in items.iter().rev() {
        let brand = brand_name(item.brand);
        out.push_str(&format!(
            "<item><guid>latency-{brand}</guid><link>http://127.0.0.1/p/{brand}</link>\
             <description>{}</description><pubDate>{}</pubDate></item>",
            xml_escape(&item.text),
            item.published.to_rfc2822()
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// `/feed/N.xml` → Some(N).
fn feed_number(head: &str) -> Option<usize> {
    let path = head.strip_prefix("GET ")?.split_whitespace().next()?;
    path.strip_prefix("/feed/")?
        .strip_suffix(".xml")?
        .parse()
        .ok()
}

fn serve_feeds(listener: TcpListener, feeds: Arc<Mutex<Feeds>>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut request = Vec::with_capacity(1024);
        let mut buffer = [0u8; 2048];
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65_536 {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => request.extend_from_slice(&buffer[..read]),
            }
        }
        let head = String::from_utf8_lossy(&request);
        let source = feed_number(&head);
        let (status, body, carried) = match source {
            Some(source) => {
                let feeds = lock(&feeds);
                match feeds.items.get(source) {
                    Some(items) => (
                        "200 OK",
                        rss(source, items),
                        items.iter().map(|item| item.brand).collect::<Vec<_>>(),
                    ),
                    None => ("404 Not Found", String::new(), Vec::new()),
                }
            }
            // robots.txt included: 404 means "allow everything".
            None => ("404 Not Found", String::new(), Vec::new()),
        };
        let written = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/rss+xml; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .and_then(|()| stream.flush());
        let stamp = Stamp::now();
        if written.is_err() || status != "200 OK" {
            continue;
        }
        let mut feeds = lock(&feeds);
        for brand in carried {
            feeds.served.entry(brand).or_insert(stamp);
        }
        if let Some(source) = source
            && let Some(responses) = feeds.responses.get_mut(source)
        {
            responses.push(stamp.instant);
        }
    }
}

// ---------------------------------------------------------------- SMTP

#[derive(Debug, Clone)]
struct Mail {
    accepted: Stamp,
    subject: String,
    brand: Option<usize>,
}

#[derive(Default)]
struct Inbox {
    mails: Mutex<Vec<Mail>>,
    arrived: Condvar,
}

/// Records the instant each message is accepted (end of DATA) and its subject.
#[derive(Clone)]
struct Catcher {
    inbox: Arc<Inbox>,
    message: Vec<u8>,
}

/// The unfolded `Subject:` header of a raw message.
fn subject_of(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .lines()
        .find_map(|line| {
            line.get(..8)
                .filter(|name| name.eq_ignore_ascii_case("subject:"))
                .map(|_| line[8..].trim().to_string())
        })
        .unwrap_or_default()
}

impl Handler for Catcher {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.message.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.message.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        // The server writes the 250 as soon as this returns.
        let accepted = Stamp::now();
        let subject = subject_of(&self.message);
        let brand = brand_in(&subject);
        lock(&self.inbox.mails).push(Mail {
            accepted,
            subject,
            brand,
        });
        self.inbox.arrived.notify_all();
        response::OK
    }
}

fn spawn_smtp(inbox: Arc<Inbox>) -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut server = Server::new(Catcher {
        inbox,
        message: Vec::new(),
    });
    server
        .with_name("vigil-bench-latency")
        .with_ssl(SslConfig::None)
        .map_err(|e| anyhow::anyhow!("SMTP server setup: {e}"))?
        .with_tcp_listener(listener);
    std::thread::Builder::new()
        .name("latency-smtp".into())
        .spawn(move || {
            // serve() returns only on a listener error; its error type is not Send.
            if let Err(error) = server.serve() {
                eprintln!("latency: SMTP server stopped: {error}");
            }
        })?;
    Ok(port)
}

// ---------------------------------------------------------------- daemon

/// The running daemon: SIGTERM and a wait on [`Daemon::stop`], SIGKILL when dropped
/// without it (an error on the way).
struct Daemon(Option<Child>);

impl Daemon {
    fn stop(&mut self) -> anyhow::Result<String> {
        let Some(mut child) = self.0.take() else {
            return Ok("not running".into());
        };
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let began = Instant::now();
        if term.is_ok_and(|status| status.success()) {
            while began.elapsed() < Duration::from_secs(10) {
                if let Some(status) = child.try_wait()? {
                    return Ok(format!(
                        "stopped by SIGTERM in {:.1} s ({status})",
                        began.elapsed().as_secs_f64()
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        child.kill()?;
        let status = child.wait()?;
        Ok(format!("killed ({status})"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn config_text(
    data_dir: &Path,
    api_port: u16,
    smtp_port: u16,
    feed_port: u16,
    brands: usize,
    sources: usize,
    interval: &str,
) -> anyhow::Result<String> {
    let mut toml = format!(
        "[storage]\ndata_dir = {}\n\n[server]\nlisten = \"127.0.0.1:{api_port}\"\n\n\
         [crawler]\nallow_private_addresses = true\nper_host_interval = \"10ms\"\n\n\
         [alerts.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\n\
         from = \"vigil-bench@example.com\"\ntimeout = \"10s\"\n\n\
         [[alerts.recipients]]\nname = \"bench\"\nemails = [\"bench@example.com\"]\n\n",
        serde_json::to_string(&data_dir.display().to_string())?
    );
    for brand in 0..brands {
        let name = brand_name(brand);
        toml.push_str(&format!(
            "[[brands]]\nname = \"{name}\"\nquery = \"{}\"\n\n",
            name.to_lowercase()
        ));
    }
    for source in 0..sources {
        toml.push_str(&format!(
            "[[sources]]\nname = \"feed-{source}\"\nkind = \"rss\"\n\
             url = \"http://127.0.0.1:{feed_port}/feed/{source}.xml\"\ninterval = \"{interval}\"\n\n"
        ));
    }
    for brand in 0..brands {
        let name = brand_name(brand);
        toml.push_str(&format!(
            "[[alerts.rules]]\nname = \"recall-{}\"\nbrand = \"{name}\"\nkind = \"keyword\"\n\
             query = \"recall\"\nnotify = [\"bench\"]\n\n",
            name.to_lowercase()
        ));
    }
    Ok(toml)
}

// ---------------------------------------------------------------- results

/// One item: its brand, round and what happened to it (ms).
#[derive(Debug, Clone, Serialize)]
struct Trial {
    brand: String,
    round: usize,
    /// Items added in the same round (1, or the burst size).
    round_size: usize,
    source: usize,
    /// Added to the feed → first served (the wait for the crawl; not part of the latency).
    crawl_wait_ms: Option<f64>,
    /// Served → mail accepted: the measured latency.
    latency_ms: Option<f64>,
    /// From the store: served → `stored_at`.
    served_to_stored_ms: Option<f64>,
    /// `stored_at` → the start of the alert tick that opened the incident (its
    /// `opened_at`): classify, index commit, wake-up of the alert stage.
    stored_to_tick_ms: Option<f64>,
    /// Tick start → the first mail in the outbox (daemon log): rule evaluation up to
    /// this rule, rendering.
    tick_to_queued_ms: Option<f64>,
    /// First mail in the outbox → mail accepted: the outbox stage's wake-up or poll,
    /// SMTP.
    queued_to_accepted_ms: Option<f64>,
    /// `stored_at` → mail accepted: the second start point.
    stored_to_accepted_ms: Option<f64>,
    failure: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Summary {
    name: String,
    count: usize,
    min: f64,
    median: f64,
    p95: f64,
    p99: f64,
    max: f64,
}

impl Summary {
    fn of(name: &str, values: impl IntoIterator<Item = f64>) -> Summary {
        let mut sorted: Vec<f64> = values.into_iter().collect();
        sorted.sort_by(f64::total_cmp);
        Summary {
            name: name.to_string(),
            count: sorted.len(),
            min: sorted.first().copied().unwrap_or(0.0),
            median: percentile(&sorted, 0.5),
            p95: percentile(&sorted, 0.95),
            p99: percentile(&sorted, 0.99),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }

    fn row(&self) -> String {
        format!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            self.name, self.count, self.min, self.median, self.p95, self.p99, self.max
        )
    }
}

#[derive(Debug, Clone, Serialize)]
struct LatencyReport {
    command: String,
    date: String,
    commit: String,
    machine: Machine,
    sources: usize,
    source_interval: String,
    brands: usize,
    rounds: usize,
    /// Mean gap between two responses of one feed, ms (the crawl schedule as served).
    mean_crawl_gap_ms: f64,
    mails_received: usize,
    mails_unmatched: usize,
    failures: usize,
    daemon_exit: String,
    summaries: Vec<Summary>,
    stages: Vec<Summary>,
    trials: Vec<Trial>,
}

fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e3
}

/// The store's times for one brand's post and incident.
struct StoreTimes {
    stored_at: Option<DateTime<Utc>>,
    incident: Option<i64>,
    /// The `now` of the alert tick that opened it (also the `created_at` of its first
    /// notification: evaluation and planning share the tick's clock).
    opened_at: Option<DateTime<Utc>>,
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn store_times(db: &rusqlite::Connection, brand: &str) -> anyhow::Result<StoreTimes> {
    use rusqlite::OptionalExtension as _;
    let stored_at: Option<String> = db
        .query_row(
            "SELECT p.stored_at FROM posts AS p JOIN post_brands AS pb ON pb.seq = p.seq
             WHERE pb.brand = ?1 ORDER BY p.seq LIMIT 1",
            [brand],
            |row| row.get(0),
        )
        .optional()?;
    let incident: Option<(i64, String)> = db
        .query_row(
            "SELECT id, opened_at FROM incidents WHERE brand = ?1 AND rule = ?2
             ORDER BY id LIMIT 1",
            (brand, format!("recall-{}", brand.to_lowercase())),
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    Ok(StoreTimes {
        stored_at: stored_at.as_deref().and_then(parse_time),
        incident: incident.as_ref().map(|(id, _)| *id),
        opened_at: incident.and_then(|(_, opened)| parse_time(&opened)),
    })
}

/// Incident id → when its first mail was in the outbox, from the daemon's log: the
/// engine's `incident opened` line (the first notification is written in the
/// transaction that opens the incident) or, when the planner writes it, its
/// `notification queued ... kind="first" channel=email` line; the earliest of the two.
/// The log is in tracing's default format: an RFC 3339 timestamp first, fields as
/// `key=value`, colour codes included when written to a file.
fn in_outbox_times(log: &str) -> HashMap<i64, DateTime<Utc>> {
    let mut times: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for raw in log.lines() {
        let opened = raw.contains("incident opened");
        if !opened && !raw.contains("notification queued") {
            continue;
        }
        let line = strip_ansi(raw);
        let mut words = line.split_whitespace();
        let Some(at) = words.next().and_then(parse_time) else {
            continue;
        };
        let fields: HashMap<&str, &str> = words.filter_map(|w| w.split_once('=')).collect();
        let first_mail =
            fields.get("kind") == Some(&"\"first\"") && fields.get("channel") == Some(&"email");
        if !opened && !first_mail {
            continue;
        }
        let Some(incident) = fields
            .get("incident")
            .or_else(|| fields.get("id"))
            .and_then(|id| id.parse().ok())
        else {
            continue;
        };
        times
            .entry(incident)
            .and_modify(|earliest| *earliest = (*earliest).min(at))
            .or_insert(at);
    }
    times
}

/// `text` without ANSI colour sequences (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for end in chars.by_ref() {
                if end.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------- the run

/// Round sizes: `trials` single rounds with the bursts spread evenly among them.
fn round_sizes(args: &LatencyArgs) -> Vec<usize> {
    let mut sizes = vec![1; args.trials];
    let burst_size = args.burst_size.max(1);
    for burst in 0..args.bursts {
        let at = (burst * 2 + 1) * args.trials / (args.bursts * 2).max(1) + burst;
        sizes.insert(at.min(sizes.len()), burst_size);
    }
    sizes
}

/// `--latency DIR`: the whole measurement; prints the markdown report.
pub fn run(args: &LatencyArgs, dir: &Path, vigil: Option<&Path>, seed: u64) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.trials + args.bursts > 0,
        "--latency needs at least one round"
    );
    anyhow::ensure!(args.sources > 0, "--sources must be at least 1");
    let interval = vigil_core::time::parse_duration(&args.source_interval)
        .map_err(|e| anyhow::anyhow!("--source-interval: {e}"))?;
    let command = format!(
        "target/release/vigil-bench {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    let mut machine = Machine::detect();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let data_dir = dir.join("data");
    if data_dir.exists() {
        // Only ever this mode's own leftovers (a `--keep` run, an interrupted one).
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("removing {}", data_dir.display()))?;
    }
    let vigil = match vigil {
        Some(path) => path.to_path_buf(),
        None => crate::ingest::build_vigil()?,
    };
    let sizes = round_sizes(args);
    let brands: usize = sizes.iter().sum();

    let feeds = Arc::new(Mutex::new(Feeds {
        items: (0..args.sources).map(|_| Vec::new()).collect(),
        served: HashMap::new(),
        responses: (0..args.sources).map(|_| Vec::new()).collect(),
    }));
    let feed_listener = TcpListener::bind("127.0.0.1:0")?;
    let feed_port = feed_listener.local_addr()?.port();
    {
        let feeds = Arc::clone(&feeds);
        std::thread::Builder::new()
            .name("latency-feeds".into())
            .spawn(move || serve_feeds(feed_listener, feeds))?;
    }
    let inbox = Arc::new(Inbox::default());
    let smtp_port = spawn_smtp(Arc::clone(&inbox))?;
    let api_port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();

    let config_path = dir.join("latency.toml");
    let config = config_text(
        &data_dir,
        api_port,
        smtp_port,
        feed_port,
        brands,
        args.sources,
        &args.source_interval,
    )?;
    vigil_config::parse_str(&config, &config_path, &dir)
        .map_err(|errors| anyhow::anyhow!("generated latency config: {errors}"))?;
    std::fs::write(&config_path, &config)?;
    let log_path = dir.join("latency-daemon.log");
    let log = std::fs::File::create(&log_path)?;
    eprintln!(
        "latency: starting {} run on {} (log: {}), {brands} brands, {} sources every {}",
        vigil.display(),
        data_dir.display(),
        log_path.display(),
        args.sources,
        args.source_interval
    );
    let mut daemon = Daemon(Some(
        Command::new(&vigil)
            .args(["run", "--config"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", vigil.display()))?,
    ));

    // Up once every feed has been crawled (the first pass stores nothing).
    let began = Instant::now();
    loop {
        if lock(&feeds).responses.iter().all(|r| !r.is_empty()) {
            break;
        }
        if let Some(child) = daemon.0.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!(
                "the daemon exited during start-up ({status}); see {}",
                log_path.display()
            );
        }
        if began.elapsed() > Duration::from_secs(120) {
            bail!("the daemon did not crawl every feed within 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "latency: every feed crawled after {:.1} s; {} rounds",
        began.elapsed().as_secs_f64(),
        sizes.len()
    );

    let mut rng = Rng::new(seed ^ 0x1a7e_0c11);
    let mail_timeout = Duration::from_secs(args.mail_timeout);
    // (brand, round, round size, source, added)
    let mut added: Vec<(usize, usize, usize, usize, Stamp)> = Vec::with_capacity(brands);
    let mut next_brand = 0;
    for (round, &size) in sizes.iter().enumerate() {
        std::thread::sleep(interval.mul_f64(rng.unit()));
        let source = round % args.sources;
        let round_brands: Vec<usize> = (next_brand..next_brand + size).collect();
        next_brand += size;
        let stamp = Stamp::now();
        {
            let mut feeds = lock(&feeds);
            for &brand in &round_brands {
                feeds.items[source].push(FeedItem {
                    brand,
                    text: item_text(brand, &mut rng),
                    published: stamp.wall,
                });
            }
        }
        for &brand in &round_brands {
            added.push((brand, round, size, source, stamp));
        }
        let deadline = stamp.instant + mail_timeout;
        let mut mails = lock(&inbox.mails);
        loop {
            let missing = round_brands
                .iter()
                .filter(|&&brand| !mails.iter().any(|m| m.brand == Some(brand)))
                .count();
            let now = Instant::now();
            if missing == 0 || now >= deadline {
                if missing > 0 {
                    eprintln!(
                        "latency: round {round}: {missing} of {size} mails missing after {} s",
                        args.mail_timeout
                    );
                }
                break;
            }
            mails = inbox
                .arrived
                .wait_timeout(mails, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
        drop(mails);
        if (round + 1) % 10 == 0 || round + 1 == sizes.len() {
            eprintln!("latency: {} of {} rounds", round + 1, sizes.len());
        }
    }
    // Late mails of the last round, and a last check that nothing else was sent.
    std::thread::sleep(Duration::from_secs(1));

    let db = rusqlite::Connection::open_with_flags(
        data_dir.join("vigil.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let in_outbox = in_outbox_times(&std::fs::read_to_string(&log_path).unwrap_or_default());
    let feeds_now = lock(&feeds);
    let mails = lock(&inbox.mails).clone();
    let mut trials = Vec::with_capacity(added.len());
    for &(brand, round, round_size, source, added_at) in &added {
        let name = brand_name(brand);
        let served = feeds_now.served.get(&brand).copied();
        let mail = mails.iter().find(|m| m.brand == Some(brand));
        let times = store_times(&db, &name)?;
        let queued = times
            .incident
            .and_then(|incident| in_outbox.get(&incident).copied());
        let failure = match (served, mail) {
            (None, _) => Some("never served".to_string()),
            (Some(_), None) => Some(format!("no mail within {} s", args.mail_timeout)),
            _ => None,
        };
        let accepted = mail.map(|m| m.accepted);
        trials.push(Trial {
            brand: name,
            round,
            round_size,
            source,
            crawl_wait_ms: served
                .map(|s| s.instant.duration_since(added_at.instant).as_secs_f64() * 1e3),
            latency_ms: served
                .zip(accepted)
                .map(|(s, a)| a.instant.saturating_duration_since(s.instant).as_secs_f64() * 1e3),
            served_to_stored_ms: served
                .zip(times.stored_at)
                .map(|(s, t)| ms_between(s.wall, t)),
            stored_to_tick_ms: times
                .stored_at
                .zip(times.opened_at)
                .map(|(s, o)| ms_between(s, o)),
            tick_to_queued_ms: times.opened_at.zip(queued).map(|(o, q)| ms_between(o, q)),
            queued_to_accepted_ms: queued.zip(accepted).map(|(q, a)| ms_between(q, a.wall)),
            stored_to_accepted_ms: times
                .stored_at
                .zip(accepted)
                .map(|(s, a)| ms_between(s, a.wall)),
            failure,
        });
    }
    let mut gaps = Vec::new();
    for responses in &feeds_now.responses {
        for pair in responses.windows(2) {
            gaps.push(pair[1].duration_since(pair[0]).as_secs_f64() * 1e3);
        }
    }
    drop(feeds_now);
    drop(db);
    let daemon_exit = daemon.stop()?;
    machine.load_average_end = crate::report::load_average();

    let latency = |filter: &dyn Fn(&Trial) -> bool| -> Vec<f64> {
        trials
            .iter()
            .filter(|t| filter(t))
            .filter_map(|t| t.latency_ms)
            .collect()
    };
    let mut summaries = vec![Summary::of(
        "all items: feed response served → mail accepted",
        latency(&|_| true),
    )];
    if args.bursts > 0 && args.trials > 0 {
        summaries.push(Summary::of(
            "rounds of one item",
            latency(&|t| t.round_size == 1),
        ));
        summaries.push(Summary::of(
            &format!("bursts of {} items in one crawl pass", args.burst_size),
            latency(&|t| t.round_size > 1),
        ));
    }
    let stage = |name: &str, pick: fn(&Trial) -> Option<f64>| {
        Summary::of(name, trials.iter().filter_map(pick))
    };
    let stages = vec![
        stage("served → post `stored_at` (parse, match, store)", |t| {
            t.served_to_stored_ms
        }),
        stage(
            "`stored_at` → alert tick start, the incident's `opened_at` (classify, index commit, wake-up)",
            |t| t.stored_to_tick_ms,
        ),
        stage(
            "tick start → first mail in the outbox (`incident opened` log line: evaluate, render)",
            |t| t.tick_to_queued_ms,
        ),
        stage(
            "first mail in the outbox → mail accepted (outbox wake-up or 1 s poll, SMTP)",
            |t| t.queued_to_accepted_ms,
        ),
        stage("`stored_at` → mail accepted (second start point)", |t| {
            t.stored_to_accepted_ms
        }),
        stage(
            "for reference: item added → served (crawl wait, not measured)",
            |t| t.crawl_wait_ms,
        ),
    ];
    let root = crate::ingest::workspace_root();
    let report = LatencyReport {
        command,
        date: Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        commit: crate::git_commit(&root),
        machine,
        sources: args.sources,
        source_interval: args.source_interval.clone(),
        brands,
        rounds: sizes.len(),
        mean_crawl_gap_ms: gaps.iter().sum::<f64>() / gaps.len().max(1) as f64,
        mails_received: mails.len(),
        mails_unmatched: mails
            .iter()
            .filter(|m| m.brand.is_none_or(|b| b >= brands))
            .count(),
        failures: trials.iter().filter(|t| t.failure.is_some()).count(),
        daemon_exit,
        summaries,
        stages,
        trials,
    };
    for mail in mails.iter().filter(|m| m.brand.is_none()) {
        eprintln!("latency: a mail naming no bench brand: {:?}", mail.subject);
    }
    let json_path = dir.join("latency-results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("results: {}", json_path.display());
    if !args.keep {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("removing {}", data_dir.display()))?;
        std::fs::remove_file(&log_path)?;
    }
    print!("{}", report.markdown());
    Ok(())
}

impl LatencyReport {
    fn markdown(&self) -> String {
        let mut md = format!(
            "#### Crawl → SMTP: {} items in {} rounds, {} RSS sources every {}, {}, commit `{}`\n\n`{}`\n\n",
            self.brands,
            self.rounds,
            self.sources,
            self.source_interval,
            self.date,
            self.commit,
            self.command
        );
        md.push_str(&format!(
            "Machine: {} cores ({}), {:.0} GiB RAM; load average {} at the start, {} at the end \
             (1/5/15 min; the machine is shared). Feeds served every {:.0} ms on average; \
             {} mails received, {} naming no bench brand; {} items without a mail; daemon {}.\n\n",
            self.machine.cpus,
            self.machine.cpu_model,
            self.machine.ram_bytes as f64 / (1u64 << 30) as f64,
            self.machine.load_average_start,
            self.machine.load_average_end,
            self.mean_crawl_gap_ms,
            self.mails_received,
            self.mails_unmatched,
            self.failures,
            self.daemon_exit
        ));
        md.push_str(
            "| ms | items | min | median | p95 | p99 | max |\n|---|---|---|---|---|---|---|\n",
        );
        for summary in &self.summaries {
            md.push_str(&summary.row());
            md.push('\n');
        }
        let all = &self.summaries[0];
        let met = self.failures == 0 && all.count > 0 && all.p99 < TARGET_P99_MS;
        md.push_str(&format!(
            "\nTarget p99 < {:.0} ms: {} (p99 {:.0} ms{}).\n\n",
            TARGET_P99_MS,
            if met { "**met**" } else { "**missed**" },
            all.p99,
            if self.failures > 0 {
                format!(", {} items without a mail", self.failures)
            } else {
                String::new()
            }
        ));
        md.push_str(
            "Where the time goes (wall-clock stamps of this process against the times the \
             daemon writes into the store and its log):\n\n\
             | stage, ms | items | min | median | p95 | p99 | max |\n|---|---|---|---|---|---|---|\n",
        );
        for summary in &self.stages {
            md.push_str(&summary.row());
            md.push('\n');
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_their_brand() {
        let message = b"From: a@b\r\nSubject: [warning] Kettle007:\r\n recall-kettle007\r\nTo: x@y\r\n\r\nbody Kettle009";
        let subject = subject_of(message);
        assert_eq!(subject, "[warning] Kettle007: recall-kettle007");
        assert_eq!(brand_in(&subject), Some(7));
        assert_eq!(brand_in("[warning] source_down"), None);
    }

    #[test]
    fn outbox_times_are_read_from_the_log() {
        let log = "\u{1b}[2m2026-11-23T23:43:27.563893Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m notification queued \u{1b}[3mincident\u{1b}[0m\u{1b}[2m=\u{1b}[0m1 \u{1b}[3mkind\u{1b}[0m\u{1b}[2m=\u{1b}[0m\"first\" \u{1b}[3mseq\u{1b}[0m\u{1b}[2m=\u{1b}[0m0 \u{1b}[3mchannel\u{1b}[0m\u{1b}[2m=\u{1b}[0memail\n\
            2026-11-23T23:43:28.000000Z  INFO notification queued incident=2 kind=\"reminder\" seq=1 channel=email\n\
            2026-11-23T23:43:29.000000Z  INFO notifications written to the outbox enqueued=1\n\
            2026-11-23T23:55:04.631129Z  INFO incident opened id=4 rule=recall-kettle003 brand=Kettle003 severity=warning\n\
            2026-11-23T23:55:04.631150Z  INFO incident opened incident=4 rule=\"recall-kettle003\" brand=\"Kettle003\"\n";
        let times = in_outbox_times(log);
        assert_eq!(times.len(), 2, "{times:?}");
        assert_eq!(
            times.get(&1).map(|t| t.to_rfc3339()),
            Some("2026-11-23T23:43:27.563893+00:00".to_string())
        );
        assert_eq!(
            times.get(&4).map(|t| t.to_rfc3339()),
            Some("2026-11-23T23:55:04.631129+00:00".to_string())
        );
    }

    #[test]
    fn feed_paths_parse() {
        assert_eq!(feed_number("GET /feed/3.xml HTTP/1.1\r\n"), Some(3));
        assert_eq!(feed_number("GET /robots.txt HTTP/1.1\r\n"), None);
    }

    #[test]
    fn bursts_are_spread_among_the_trials() {
        let args = LatencyArgs {
            latency: None,
            trials: 10,
            bursts: 2,
            burst_size: 3,
            sources: 1,
            source_interval: "2s".into(),
            mail_timeout: 1,
            keep: false,
        };
        let sizes = round_sizes(&args);
        assert_eq!(sizes.len(), 12);
        assert_eq!(sizes.iter().sum::<usize>(), 16);
        assert_ne!(sizes[0], 3);
        assert_ne!(sizes[11], 3);
    }
}

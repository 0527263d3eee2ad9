//! Helpers for end-to-end tests of the `vigil` binary: a feed server on loopback, the
//! binary's own mail catcher as a killable child process, bounded waits.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub fn vigil() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command.env("VIGIL_LOG", "info").env_remove("VIGIL_CONFIG");
    command
}

pub fn run(args: &[&str]) -> Output {
    vigil().args(args).output().expect("vigil runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `dir/vigil.toml`: data in `dir/data`, one brand "Acme" defined by `query`,
/// then `extra` TOML (tables may follow in any order). Retention is 100 years: the
/// tests' fixed dates (May 2024) must outlive a daemon's retention pass.
pub fn acme_config(dir: &Path, query: &str, extra: &str) -> PathBuf {
    let path = dir.join("vigil.toml");
    let text = format!(
        "[storage]\ndata_dir = \"data\"\nretention_days = 36500\n[[brands]]\nname = \"Acme\"\nquery = '{query}'\n{extra}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `vigil import [flags] --source SOURCE FILE --config CONFIG`.
pub fn import(config: &Path, source: &str, file: &Path, flags: &[&str]) -> Output {
    let mut args = vec!["import"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[
        "--source",
        source,
        file.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    run(&args)
}

/// Waits up to `limit` for `condition`, polling; panics with `what` if it never holds.
pub fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `[server]` table the API tests share: `listen` on `api_port` and two tokens,
/// `ana` (viewer, `T_VIEW`) and `pat` (responder, `T_RESP`); more `[[server.tokens]]`
/// may follow.
pub fn api_server(api_port: u16) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:{api_port}\"\n\
         [[server.tokens]]\nname = \"ana\"\nrole = \"viewer\"\ntoken_env = \"T_VIEW\"\n\
         [[server.tokens]]\nname = \"pat\"\nrole = \"responder\"\ntoken_env = \"T_RESP\"\n"
    )
}

/// Alerting the API tests share: SMTP on a port nobody listens on (mail stays pending),
/// the recipient group `pr`, and the keyword rule `recall` on brand Acme, last, so a
/// caller may add keys to the rule (`script = "…"`).
pub fn recall_alerting() -> String {
    let dead_smtp = free_port();
    format!(
        "[alerts.smtp]\nhost = \"127.0.0.1\"\nport = {dead_smtp}\ntls = \"none\"\nfrom = \"v@x.invalid\"\n\
         [[alerts.recipients]]\nname = \"pr\"\nemails = [\"pr@x.invalid\"]\n\
         [[alerts.rules]]\nname = \"recall\"\nbrand = \"Acme\"\nkind = \"keyword\"\nwindow = \"7d\"\nquery = \"recall\"\nnotify = [\"pr\"]\n"
    )
}

/// `vigil run` with the API tokens the tests configure (`T_VIEW` = `viewer-secret`,
/// `T_RESP` = `responder-secret`, `T_ADMIN` = `admin-secret`), stderr to `log`; returns once the API on `api_port`
/// accepts connections.
pub fn start_api_daemon(config: &Path, log: &Path, api_port: u16) -> Guard {
    let daemon = Guard(
        vigil()
            .args(["run", "--config", config.to_str().unwrap()])
            .env("T_VIEW", "viewer-secret")
            .env("T_RESP", "responder-secret")
            .env("T_ADMIN", "admin-secret")
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for("the API", Duration::from_secs(60), || {
        std::net::TcpStream::connect(("127.0.0.1", api_port)).is_ok()
    });
    daemon
}

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct Guard(pub Child);

impl Guard {
    pub fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not stop within 30s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn_daemon(config: &Path, log: &Path) -> Guard {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = vigil()
        .args(["run", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("vigil run starts");
    Guard(child)
}

pub fn spawn_mailcatcher(port: u16, dir: &Path) -> Guard {
    let child = vigil()
        .args([
            "mailcatcher",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--dir",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mailcatcher starts");
    wait_for(
        "the mail catcher to listen",
        Duration::from_secs(10),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
    Guard(child)
}

/// Messages captured by the mail catcher, in arrival order.
pub fn mails(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// The value of a header in a raw message (first occurrence, unfolded).
pub fn header_value(mail: &str, name: &str) -> Option<String> {
    let head = mail.split("\r\n\r\n").next()?;
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

/// Decodes quoted-printable and base64 bodies enough to search the text of a message.
pub fn mail_text(mail: &str) -> String {
    let mut out = String::new();
    for part in mail.split("\r\n\r\n").skip(1) {
        let compact: String = part
            .lines()
            .take_while(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .join("");
        if let Ok(bytes) = base64_decode(&compact) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
        out.push_str(&quoted_printable(part));
        out.push('\n');
    }
    out
}

fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(
                std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                16,
            )
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64_decode(text: &str) -> Result<Vec<u8>, ()> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if clean.is_empty() || !clean.len().is_multiple_of(4) {
        return Err(());
    }
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let mut value = 0u32;
        let mut padding = 0;
        for &c in chunk {
            value <<= 6;
            if c == b'=' {
                padding += 1;
            } else {
                value |= ALPHABET.iter().position(|&a| a == c).ok_or(())? as u32;
            }
        }
        let bytes = value.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - padding]);
    }
    Ok(out)
}

// ------------------------------------------------------------------ feed server

#[derive(Clone)]
pub struct FeedItem {
    pub guid: String,
    pub title: String,
    pub text: String,
    pub author: String,
    pub published: chrono::DateTime<chrono::Utc>,
}

#[derive(Default)]
pub struct FeedState {
    pub english: Vec<FeedItem>,
    pub chinese_gbk: Vec<FeedItem>,
    pub requests: usize,
    /// Reviews on `/reviews.html`, two per page, newest first.
    pub reviews: Vec<FeedItem>,
    /// Posts of the JSON API `/api/posts`.
    pub api_posts: Vec<FeedItem>,
    /// `/flaky.rss` answers 500 while this is set, else the English feed.
    pub flaky_down: bool,
    /// Guids whose permalink `/p/{guid}` answers 404 (deleted by their author); other
    /// English items' permalinks answer 200.
    pub deleted: Vec<String>,
}

pub type SharedFeeds = Arc<Mutex<FeedState>>;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn rss_document(base: &str, items: &[FeedItem], encoding: &str) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n<rss version=\"2.0\"><channel><title>test</title><link>{base}</link><description>t</description>\n"
    );
    for item in items {
        xml.push_str(&format!(
            "<item><title>{}</title><link>{base}/p/{}?utm_source=rss</link><guid>{}</guid><author>{}</author><pubDate>{}</pubDate><description>{}</description></item>\n",
            escape(&item.title),
            item.guid,
            item.guid,
            escape(&item.author),
            item.published.to_rfc2822(),
            escape(&item.text)
        ));
    }
    xml.push_str("</channel></rss>\n");
    xml
}

async fn english(State((feeds, base)): State<(SharedFeeds, String)>) -> Response {
    let items = {
        let mut state = feeds.lock().unwrap();
        state.requests += 1;
        state.english.clone()
    };
    (
        [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
        rss_document(&base, &items, "utf-8"),
    )
        .into_response()
}

async fn chinese(State((feeds, base)): State<(SharedFeeds, String)>) -> Response {
    let items = feeds.lock().unwrap().chinese_gbk.clone();
    let xml = rss_document(&base, &items, "gbk");
    let (bytes, _, _) = encoding_rs::GBK.encode(&xml);
    ([(header::CONTENT_TYPE, "text/xml")], bytes.into_owned()).into_response()
}

async fn broken(UrlPath(kind): UrlPath<String>) -> Response {
    match kind.as_str() {
        "500" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "malformed" => (
            [(header::CONTENT_TYPE, "application/rss+xml")],
            "<?xml version=\"1.0\"?><rss><channel><title>cut off<item><title>acme</ti",
        )
            .into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "too late".into_response()
        }
        "huge" => {
            let mut body = String::from(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>big</title>",
            );
            while body.len() < 3_000_000 {
                body.push_str("<item><title>acme acme acme</title><description>padding padding padding padding</description></item>");
            }
            body.push_str("</channel></rss>");
            ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A review site: `div.review` items with author, `time@datetime`, rating and a
/// permalink, two per page, `a.next` to the next page.
async fn reviews(
    State((feeds, _)): State<(SharedFeeds, String)>,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let page: usize = params
        .get("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let items = feeds.lock().unwrap().reviews.clone();
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Reviews</title></head><body><main>",
    );
    for review in items.iter().skip((page - 1) * 2).take(2) {
        html.push_str(&format!(
            "<div class=\"review\" id=\"r-{0}\"><a class=\"permalink\" href=\"/reviews/{0}\">#</a><span class=\"author\">{1}</span><time datetime=\"{2}\">earlier</time><span class=\"stars\" data-rating=\"2\">★★</span><p class=\"body\">{3}</p></div>",
            review.guid,
            escape(&review.author),
            review.published.to_rfc3339(),
            escape(&review.text)
        ));
    }
    if items.len() > page * 2 {
        html.push_str(&format!(
            "<a class=\"next\" href=\"/reviews.html?page={}\">next</a>",
            page + 1
        ));
    }
    html.push_str("</main></body></html>");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// A JSON API shaped like SPEC.md's example: `/data/children/*/data/{id,body,...}`.
async fn api_posts(State((feeds, _)): State<(SharedFeeds, String)>) -> Response {
    let items = feeds.lock().unwrap().api_posts.clone();
    let children: Vec<serde_json::Value> = items
        .iter()
        .map(|item| {
            serde_json::json!({"data": {
                "id": item.guid,
                "body": item.text,
                "author": item.author,
                "created_utc": item.published.timestamp(),
                "permalink": format!("/api/p/{}", item.guid),
                "score": 42,
            }})
        })
        .collect();
    axum::Json(serde_json::json!({"data": {"children": children, "after": null}})).into_response()
}

async fn flaky(state: State<(SharedFeeds, String)>) -> Response {
    if state.0.0.lock().unwrap().flaky_down {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down for maintenance").into_response();
    }
    english(state).await
}

/// An item's page, as `rss_document` links it: 200 while the item is in the English
/// feed and not deleted, else 404.
async fn permalink(
    State((feeds, _)): State<(SharedFeeds, String)>,
    UrlPath(guid): UrlPath<String>,
) -> Response {
    let state = feeds.lock().unwrap();
    if state.deleted.contains(&guid) || !state.english.iter().any(|item| item.guid == guid) {
        return (StatusCode::NOT_FOUND, "no such post").into_response();
    }
    ([(header::CONTENT_TYPE, "text/html")], "<p>the post</p>").into_response()
}

async fn robots() -> &'static str {
    "User-agent: *\nDisallow: /private/\n"
}

/// Serves `/en.rss`, `/zh-gbk.rss`, `/reviews.html`, `/api/posts`, `/flaky.rss`, `/p/{guid}`,
/// `/broken/{500,malformed,slow,huge}` and robots.txt on
/// a background runtime; returns the base URL.
pub fn start_feed_server(feeds: SharedFeeds) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let base = format!("http://{address}");
    let state = (feeds, base.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let app = Router::new()
                .route("/robots.txt", get(robots))
                .route("/en.rss", get(english))
                .route("/zh-gbk.rss", get(chinese))
                .route("/reviews.html", get(reviews))
                .route("/api/posts", get(api_posts))
                .route("/flaky.rss", get(flaky))
                .route("/p/{guid}", get(permalink))
                .route("/broken/{kind}", get(broken))
                .with_state(state);
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    base
}

pub fn item(guid: &str, text: &str, minutes_ago: i64) -> FeedItem {
    FeedItem {
        guid: guid.to_string(),
        title: vigil_core::text::truncate_chars(text, 30),
        text: text.to_string(),
        author: format!("user-{guid}"),
        published: chrono::Utc::now() - chrono::Duration::minutes(minutes_ago),
    }
}

/// `vigil search QUERY --format json` → (total, ids).
pub fn search_json(
    config: &Path,
    query: &str,
    extra: &[&str],
) -> (u64, Vec<String>, serde_json::Value) {
    let mut args = vec![
        "search",
        query,
        "--format",
        "json",
        "--limit",
        "1000",
        "--config",
        config.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(
        output.status.success(),
        "search failed: {}",
        stderr(&output)
    );
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("search prints JSON");
    let ids = value["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect();
    (value["total"].as_u64().unwrap(), ids, value)
}

/// Sends one HTTP/1.1 request and returns (status, body). POSTs carry a note.
pub fn http(port: u16, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let body = if method == "POST" {
        "{\"note\": \"on it\"}"
    } else {
        ""
    };
    http_body(port, method, path, token, body)
}

/// [`http`] with the request body given.
pub fn http_body(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The audit log's entries as `vigil audit export --only audit` prints them (the
/// summary line left out).
pub fn audit_log(config: &Path) -> Vec<serde_json::Value> {
    let output = run(&[
        "audit",
        "export",
        "--only",
        "audit",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|entry| entry["type"] == "audit")
        .collect()
}

/// The first audit entry of `kind`; panics naming the kinds there are when none is.
pub fn audit_entry(config: &Path, kind: &str) -> serde_json::Value {
    let entries = audit_log(config);
    entries
        .iter()
        .find(|entry| entry["kind"] == kind)
        .cloned()
        .unwrap_or_else(|| {
            let kinds: Vec<&str> = entries.iter().filter_map(|e| e["kind"].as_str()).collect();
            panic!("no {kind:?} audit entry among {kinds:?}")
        })
}

/// Which files under `dir` contain `needle` (the raw bytes of every file, recursively).
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|window| window == needle)
        {
            found.push(path.display().to_string());
        }
    }
    found
}

//! Shared by the crawler benchmarks: a synthetic review page, the source spec that
//! reads it, fixture loading, a keep-alive HTTP/1.1 server on loopback and the
//! crawler configuration with politeness off.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use vigil_config::{BrandConfig, CrawlerConfig, SourceConfig, SourceKind};
use vigil_core::Query;
use vigil_crawler::HtmlSpec;

/// A tiny deterministic generator (xorshift64*), so pages are the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "the",
    "kettle",
    "boils",
    "water",
    "quickly",
    "but",
    "lid",
    "sticks",
    "after",
    "a",
    "month",
    "of",
    "daily",
    "use",
    "customer",
    "support",
    "answered",
    "within",
    "two",
    "days",
    "and",
    "sent",
    "replacement",
    "Acme",
    "product",
    "quality",
    "is",
    "good",
    "price",
    "was",
    "too",
    "high",
    "for",
    "what",
    "you",
    "get",
    "would",
    "not",
    "buy",
    "again",
    "works",
    "as",
    "described",
    "delivery",
    "late",
    "packaging",
    "damaged",
    "handle",
    "gets",
    "hot",
    "easy",
    "to",
    "clean",
    "limescale",
    "filter",
    "broke",
    "warranty",
    "covered",
    "it",
    "love",
    "colour",
    "matches",
    "my",
    "kitchen",
    "noisy",
    "when",
    "boiling",
    "switch",
    "feels",
    "cheap",
    "Globex",
    "alternative",
    "better",
];

const AUTHORS: &[&str] = &[
    "Alice",
    "Bob &amp; Co",
    "王小明",
    "Jürgen",
    "María",
    "佐藤",
    "Chidi",
    "Olga",
    "Sam",
];

fn sentence(rng: &mut Rng, words: usize, out: &mut String) {
    for i in 0..words {
        let word = WORDS[rng.below(WORDS.len())];
        if i == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push(' ');
            out.push_str(word);
        }
    }
    out.push_str(". ");
}

/// A review listing page in the shape of real review sites: a head with styles and
/// scripts, navigation, `items` `div.review` items (title, author, `time@datetime`,
/// rating, `p.body` text of about `body_words` words with inline markup, permalink,
/// helpful count), a sidebar, and a `a.next` link when `next` is given. Review ids and
/// permalinks start with `id_prefix` (so pages built from one seed can differ).
pub fn review_page(
    seed: u64,
    id_prefix: &str,
    items: usize,
    body_words: usize,
    next: Option<&str>,
) -> String {
    let mut rng = Rng::new(seed);
    let mut page = String::with_capacity(items * (body_words * 7 + 900) + 6_000);
    page.push_str(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Acme Kettle 2000 — customer reviews</title>
  <link rel="stylesheet" href="/static/site.css">
  <style>.review{margin:1em 0;border-bottom:1px solid #ddd}.stars{color:#e7711b}
  .helpful{font-size:small;color:#555}nav.pages a{padding:0 .5em}</style>
  <script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}
  gtag("js",new Date());gtag("config","UA-000000-1");var tpl="<div class='review'>x</div>";</script>
</head>
<body>
  <header><a href="/" class="logo">Reviews</a>
    <nav><ul><li><a href="/kitchen">Kitchen</a></li><li><a href="/garden">Garden</a></li>
    <li><a href="/deals">Deals</a></li><li><a href="/account">Sign in</a></li></ul></nav>
  </header>
  <main>
  <h1>Acme Kettle 2000</h1>
  <div class="summary"><span class="stars" data-rating="3.9">★★★★☆</span> 3.9 of 5</div>
  <div class="reviews">
"#,
    );
    for i in 0..items {
        let id = seed.wrapping_mul(1_000).wrapping_add(i as u64);
        let day = 1 + rng.below(28);
        let hour = rng.below(24);
        let minute = rng.below(60);
        let rating = 1 + rng.below(5);
        let helpful = rng.below(3_000);
        let author = AUTHORS[rng.below(AUTHORS.len())];
        let _ = write!(
            page,
            r#"    <div class="review" data-id="{id_prefix}r{id}">
      <h3 class="title">"#
        );
        let title_words = 3 + rng.below(5);
        sentence(&mut rng, title_words, &mut page);
        let _ = write!(
            page,
            r#"</h3>
      <div class="meta"><span class="author">{author}</span>
      <time datetime="2024-05-{day:02}T{hour:02}:{minute:02}:00Z">May {day}, 2024</time>
      <span class="stars" data-rating="{rating}" style="width: {pct}%">{rating} out of 5</span></div>
      <p class="body">"#,
            pct = rating * 20
        );
        let mut written = 0;
        while written < body_words {
            let words = 6 + rng.below(14);
            sentence(&mut rng, words, &mut page);
            written += words;
            match rng.below(6) {
                0 => page.push_str("<br>"),
                1 => page.push_str("<b>Update:</b> "),
                2 => page.push_str("&quot;ok&quot; &amp; fine&hellip; "),
                _ => {}
            }
        }
        let _ = write!(
            page,
            r#"</p>
      <a class="permalink" href="/acme-kettle/reviews/{id_prefix}r{id}">Permalink</a>
      <span class="helpful">{helpful} people found this helpful</span>
      <button class="report" onclick="report('r{id}')">Report</button>
    </div>
"#
        );
    }
    page.push_str(
        "  </div>\n  <nav class=\"pages\">\n    <a class=\"prev\" href=\"?page=0\">Previous</a>\n",
    );
    if let Some(next) = next {
        let _ = writeln!(page, "    <a class=\"next\" href=\"{next}\">Next</a>");
    }
    page.push_str(
        r#"  </nav>
  </main>
  <aside><h2>Related</h2><ul><li><a href="/acme-toaster">Acme Toaster</a></li>
  <li><a href="/globex-kettle">Globex Kettle</a></li></ul></aside>
  <footer><p>&copy; 2024 Reviews Ltd. <a href="/privacy">Privacy</a> · <a href="/terms">Terms</a></p></footer>
  <script src="/static/app.js" defer></script>
</body>
</html>
"#,
    );
    page
}

/// The html source fields that read [`review_page`].
pub fn review_fields() -> BTreeMap<String, String> {
    [
        ("text", "p.body"),
        ("title", ".title"),
        ("author", ".author"),
        ("published", "time@datetime"),
        ("url", "a.permalink@href"),
        ("rating", ".stars@data-rating"),
        ("likes", ".helpful"),
        ("id", "@data-id"),
    ]
    .into_iter()
    .map(|(name, selector)| (name.to_string(), selector.to_string()))
    .collect()
}

pub const REVIEW_ITEM: &str = "div.review";
pub const REVIEW_NEXT: &str = "a.next@href";

pub fn review_spec() -> HtmlSpec {
    HtmlSpec::compile(REVIEW_ITEM, &review_fields(), Some(REVIEW_NEXT))
        .unwrap_or_else(|why| panic!("the benchmark's review spec does not compile: {why}"))
}

/// A JSON API page of `items` posts (for `kind = "json"` sources).
pub fn json_page(seed: u64, items: usize, body_words: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::from("{\"data\":{\"items\":[");
    for i in 0..items {
        if i > 0 {
            out.push(',');
        }
        let mut body = String::new();
        while body.split(' ').count() < body_words {
            let words = 6 + rng.below(14);
            sentence(&mut rng, words, &mut body);
        }
        let id = seed.wrapping_mul(1_000).wrapping_add(i as u64);
        let _ = write!(
            out,
            r#"{{"id":"p{id}","title":"Review {id}","body":{body:?},"user":{{"name":"{author}"}},"created_at":"2024-05-{day:02}T12:00:00Z","likes":{likes},"links":[{{"href":"https://api.example.com/p/{id}"}}]}}"#,
            author = AUTHORS[rng.below(AUTHORS.len())].replace('&', "and"),
            day = 1 + rng.below(28),
            likes = rng.below(500),
        );
    }
    out.push_str("]},\"paging\":{\"next\":null}}");
    out
}

pub fn json_fields() -> BTreeMap<String, String> {
    [
        ("text", "/body"),
        ("title", "/title"),
        ("author", "/user/name"),
        ("published", "/created_at"),
        ("url", "/links/0/href"),
        ("id", "/id"),
        ("likes", "/likes"),
    ]
    .into_iter()
    .map(|(name, pointer)| (name.to_string(), pointer.to_string()))
    .collect()
}

pub fn crawler_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/fixtures/<sub>` beside the repository, when present.
pub fn shared_fixtures(sub: &str) -> Option<PathBuf> {
    let dir = crawler_dir().join("../../shared/fixtures").join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping shared fixtures: {} not present", dir.display());
        None
    }
}

/// Files of `dir` with extension `ext`, sorted by name.
pub fn files(dir: &Path, ext: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            std::fs::read(&p).ok().map(|bytes| (name, bytes))
        })
        .collect()
}

/// What the benchmark server answers for one request path.
pub type Routes = Arc<dyn Fn(&str) -> Option<(&'static str, Vec<u8>)> + Send + Sync>;

/// A minimal HTTP/1.1 server with keep-alive on 127.0.0.1, on its own thread and
/// single-threaded runtime. Unknown paths are 404. It is only as strict as the
/// crawler's requests need (GET, no request bodies).
pub struct BenchServer {
    pub addr: SocketAddr,
}

impl BenchServer {
    pub fn start(routes: Routes) -> BenchServer {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("server runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
                    tx.send(listener.local_addr().expect("addr"))
                        .expect("send addr");
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let _ = stream.set_nodelay(true);
                        let routes = routes.clone();
                        tokio::spawn(async move {
                            let _ = serve(stream, routes).await;
                        });
                    }
                });
            })
            .expect("spawn server thread");
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server started");
        BenchServer { addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn serve(mut stream: TcpStream, routes: Routes) -> std::io::Result<()> {
    let mut buffer: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 || buffer.len() > 64 * 1024 {
                return Ok(());
            }
            buffer.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..end);
        let path = head.split(' ').nth(1).unwrap_or("/").to_string();
        let close = head.to_ascii_lowercase().contains("connection: close");
        let (code, content_type, body) = match routes(&path) {
            Some((content_type, body)) => (200, content_type, body),
            None => (404, "text/plain", b"not found".to_vec()),
        };
        let head = format!(
            "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{}\r\n",
            if code == 200 { "OK" } else { "Not Found" },
            body.len(),
            if close { "Connection: close\r\n" } else { "" },
        );
        let mut response = head.into_bytes();
        response.extend_from_slice(&body);
        stream.write_all(&response).await?;
        if close {
            return Ok(());
        }
    }
}

/// Reviews per page [`site_server`] serves (HTML and JSON alike).
pub const PAGE_ITEMS: usize = 10;
/// Words per review body of [`site_server`]'s HTML pages (≈ 20 KB pages).
pub const PAGE_BODY_WORDS: usize = 200;
/// Distinct page bodies [`site_server`] rotates through.
const TEMPLATES: u64 = 16;
const ID_MARK: &str = "@@ID@@";
const NEXT_MARK: &str = "@@NEXT@@";

fn path_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A site on loopback for crawl benchmarks. `…/p<n>` (any prefix, e.g.
/// `/r3/s17/p2`) is a review page of [`PAGE_ITEMS`] reviews whose `a.next` goes to
/// `p<n+1>`, up to `last_page`; review ids carry the path, so every page's posts are
/// distinct. `/j…` is a JSON page of [`PAGE_ITEMS`] posts. Bodies come from
/// [`TEMPLATES`] pre-built pages; only the ids and the next link are filled in per
/// request.
pub fn site_server(last_page: u32) -> BenchServer {
    let with_next: Vec<String> = (0..TEMPLATES)
        .map(|seed| review_page(seed, ID_MARK, PAGE_ITEMS, PAGE_BODY_WORDS, Some(NEXT_MARK)))
        .collect();
    let last: Vec<String> = (0..TEMPLATES)
        .map(|seed| review_page(seed, ID_MARK, PAGE_ITEMS, PAGE_BODY_WORDS, None))
        .collect();
    let json: Vec<Vec<u8>> = (0..TEMPLATES)
        .map(|seed| json_page(seed, PAGE_ITEMS, 80).into_bytes())
        .collect();
    BenchServer::start(Arc::new(move |path: &str| {
        let path = path.split('?').next().unwrap_or(path);
        let template = (path_hash(path) % TEMPLATES) as usize;
        if path.starts_with("/j") {
            return Some(("application/json", json[template].clone()));
        }
        let (_, page) = path.rsplit_once("/p")?;
        let n: u32 = page.parse().ok()?;
        let id = path.trim_start_matches('/').replace('/', "-") + "-";
        let body = if n >= last_page {
            last[template].replace(ID_MARK, &id)
        } else {
            with_next[template]
                .replace(ID_MARK, &id)
                .replace(NEXT_MARK, &format!("p{}", n + 1))
        };
        Some(("text/html; charset=utf-8", body.into_bytes()))
    }))
}

/// The crawler with politeness off: no per-host interval, no robots.txt, loopback
/// allowed, 64 requests at once, no retries.
pub fn fast_config() -> CrawlerConfig {
    CrawlerConfig {
        user_agent: "VigilBench/0.1".into(),
        max_concurrency: 64,
        per_host_interval: Duration::ZERO,
        respect_robots: false,
        allow_private_addresses: true,
        retries: 0,
        timeout: Duration::from_secs(30),
        ..CrawlerConfig::default()
    }
}

/// The brands every benchmark crawl matches posts against.
pub fn brands() -> Vec<BrandConfig> {
    [("Acme", "acme OR kettle"), ("Globex", "globex")]
        .into_iter()
        .map(|(name, query)| BrandConfig {
            name: name.into(),
            query_text: query.into(),
            query: Query::parse(query)
                .unwrap_or_else(|error| panic!("benchmark brand query {query:?}: {error}")),
            language: None,
        })
        .collect()
}

/// An `html` source reading [`review_page`]s, following `a.next` up to `max_pages`.
pub fn html_source(name: String, url: String, max_pages: u32) -> SourceConfig {
    let mut source = SourceConfig::new(name, SourceKind::Html, url);
    source.item = Some(REVIEW_ITEM.into());
    source.fields = review_fields();
    source.next_page = Some(REVIEW_NEXT.into());
    source.max_pages = max_pages;
    source
}

/// A `json` source reading [`json_page`]s (one page each).
pub fn json_source(name: String, url: String) -> SourceConfig {
    let mut source = SourceConfig::new(name, SourceKind::Json, url);
    source.items = Some("/data/items".into());
    source.fields = json_fields();
    source.next_page = Some("/paging/next".into());
    source.max_pages = 1;
    source
}

/// Resident memory of this process in KiB (`VmRSS` of /proc/self/status), Linux only.
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time (user + system) this process has used, in seconds, from /proc/self/stat
/// (Linux; `USER_HZ` is 100). With other work on the machine, CPU per page says what
/// the crawler costs better than wall time does.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces):
    // state is field 3, utime field 14, stime field 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

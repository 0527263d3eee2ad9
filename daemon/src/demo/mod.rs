//! `vigil demo`: the whole product, offline, in one command.
//!
//! An in-process HTTP server replays the bundled [`scenario`] as three feeds (English
//! RSS, a GBK-encoded Chinese Weibo-style RSS, an Atom review feed) plus robots.txt and
//! a page per post; a local SMTP server captures mail into a folder; the daemon runs on a
//! generated config (written to the demo folder, loaded like any user's) until Ctrl-C.

pub mod scenario;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use vigil_core::{AlertStore as _, NotificationStatus};

use crate::cli::DemoArgs;
use crate::pipeline::{self, Services};
use scenario::{Feed, ScenarioPost};

/// How long after start the crisis posts appear in the feeds: long enough for the first
/// crawl to take in the ordinary week.
const CRISIS_DELAY: Duration = Duration::from_secs(8);

struct Replay {
    posts: Vec<ScenarioPost>,
    started: Instant,
    base_url: String,
}

impl Replay {
    fn crisis_started(&self) -> bool {
        self.started.elapsed() >= CRISIS_DELAY
    }

    fn visible(&self, feed: Feed) -> impl Iterator<Item = &ScenarioPost> {
        let crisis = self.crisis_started();
        self.posts
            .iter()
            .rev()
            .filter(move |p| p.feed == feed && (crisis || !p.crisis))
    }

    fn link(&self, post: &ScenarioPost) -> String {
        format!(
            "{}/posts/{}/{}",
            self.base_url,
            post.feed.slug(),
            post.number
        )
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn rss(replay: &Replay, feed: Feed, title: &str, encoding: &str) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel>\n<title>{}</title>\n<link>{}</link>\n<description>Vigil demo feed</description>\n",
        xml_escape(title),
        replay.base_url
    );
    for post in replay.visible(feed) {
        let link = replay.link(post);
        let _ = writeln!(
            xml,
            "<item><title>{}</title><link>{link}</link><guid isPermaLink=\"false\">{}-{}</guid><dc:creator>{}</dc:creator><pubDate>{}</pubDate><description>{}</description></item>",
            xml_escape(&post.title),
            feed.slug(),
            post.number,
            xml_escape(&post.author),
            post.published_at.to_rfc2822(),
            xml_escape(&post.text)
        );
    }
    xml.push_str("</channel>\n</rss>\n");
    xml
}

fn atom(replay: &Replay) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>Kitchen gadget reviews</title>\n<id>{}/feeds/reviews.atom</id>\n<updated>{}</updated>\n",
        replay.base_url,
        Utc::now().to_rfc3339()
    );
    for post in replay.visible(Feed::Reviews) {
        let link = replay.link(post);
        let _ = writeln!(
            xml,
            "<entry><title>{}</title><id>{link}</id><link href=\"{link}\"/><author><name>{}</name></author><published>{}</published><updated>{}</updated><summary>{}</summary></entry>",
            xml_escape(&post.title),
            xml_escape(&post.author),
            post.published_at.to_rfc3339(),
            post.published_at.to_rfc3339(),
            xml_escape(&post.text)
        );
    }
    xml.push_str("</feed>\n");
    xml
}

async fn feed_handler(State(replay): State<Arc<Replay>>, Path(name): Path<String>) -> Response {
    match name.as_str() {
        "social.rss" => (
            [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
            rss(&replay, Feed::Social, "Acme mentions (social)", "utf-8"),
        )
            .into_response(),
        "weibo.rss" => {
            // Like a legacy Chinese site: GBK bytes, charset only in the XML declaration.
            let xml = rss(&replay, Feed::Weibo, "微博关键词：艾克米", "gbk");
            let (bytes, _, _) = encoding_rs::GBK.encode(&xml);
            (
                [(header::CONTENT_TYPE, "application/rss+xml")],
                bytes.into_owned(),
            )
                .into_response()
        }
        "reviews.atom" => (
            [(header::CONTENT_TYPE, "application/atom+xml")],
            atom(&replay),
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn post_page(
    State(replay): State<Arc<Replay>>,
    Path((feed, number)): Path<(String, usize)>,
) -> Response {
    let found = replay.posts.iter().find(|p| {
        p.feed.slug() == feed && p.number == number && (replay.crisis_started() || !p.crisis)
    });
    match found {
        Some(post) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!doctype html><meta charset=utf-8><title>{}</title><article><p>{}</p><footer>{} · {}</footer></article>",
                xml_escape(&post.title),
                xml_escape(&post.text),
                xml_escape(&post.author),
                post.published_at.to_rfc3339()
            ),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn robots() -> &'static str {
    "User-agent: *\nDisallow: /private/\n"
}

/// Starts the scenario server; returns its base URL.
async fn serve_scenario(shutdown: CancellationToken) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let replay = Arc::new(Replay {
        posts: scenario::build(Utc::now(), chrono::Duration::from_std(CRISIS_DELAY)?),
        started: Instant::now(),
        base_url: base_url.clone(),
    });
    let app = Router::new()
        .route("/robots.txt", get(robots))
        .route("/feeds/{name}", get(feed_handler))
        .route("/posts/{feed}/{number}", get(post_page))
        .with_state(replay);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
    });
    Ok(base_url)
}

fn demo_config(base_url: &str, smtp: SocketAddr, listen: SocketAddr) -> String {
    format!(
        r#"# Generated by `vigil demo`: a normal Vigil config pointed at the local replay server.
[storage]
data_dir = "data"

[server]
listen = "{listen}"

[[brands]]
name = "Acme"
query = '"acme" OR 艾克米 NOT "acme of skill"'

[[sources]]
name = "social-en"
kind = "rss"
url = "{base_url}/feeds/social.rss"
interval = "2s"

[[sources]]
name = "weibo-zh"
kind = "rss"
url = "{base_url}/feeds/weibo.rss"
interval = "2s"

[[sources]]
name = "reviews"
kind = "rss"
url = "{base_url}/feeds/reviews.atom"
interval = "2s"
brands = ["Acme"]

[crawler]
user_agent = "VigilBot/0.1 (demo)"
per_host_interval = "100ms"
allow_private_addresses = true   # the replay server is on loopback

[alerts]
evaluate_every = "2s"
dashboard_url = "http://{listen}"

[alerts.smtp]
host = "{smtp_host}"
port = {smtp_port}
tls = "none"
from = "Vigil demo <vigil@demo.invalid>"

[alerts.crisis]
response_window = "24h"
remind_every = "2h"
escalate_after = "4h"

[alerts.outbox]
retry_initial = "1s"
retry_max = "10s"

[[alerts.recipients]]
name = "pr-team"
emails = ["pr-team@acme.invalid"]
escalation = ["head-of-comms@acme.invalid"]

[[alerts.rules]]
name = "acme-negative-surge"
brand = "Acme"
kind = "negative_share"
window = "1h"
threshold = 0.4
min_mentions = 20
severity = "crisis"
notify = ["pr-team"]
script = "product-safety"

[[alerts.rules]]
name = "acme-volume-spike"
brand = "Acme"
kind = "volume_spike"
window = "1h"
baseline = "7d"
sigma = 2.0
min_mentions = 10
severity = "warning"
notify = ["pr-team"]
script = "holding-statement"

[[alerts.rules]]
name = "acme-safety-keywords"
brand = "Acme"
kind = "keyword"
query = "recall OR lawsuit OR explod* OR 召回 OR 爆炸 OR 起火"
severity = "crisis"
notify = ["pr-team"]
script = "product-safety"

[[scripts]]
name = "product-safety"
subject = "[{{{{ severity }}}}] {{{{ brand }}}}: {{{{ rule }}}}"
file = "scripts/product-safety.md"

[[scripts]]
name = "holding-statement"
file = "scripts/holding-statement.md"
"#,
        smtp_host = smtp.ip(),
        smtp_port = smtp.port(),
    )
}

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir.clone();
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir.join("scripts"))?;
    let mail_dir = dir.join("mail");
    let smtp = crate::mailcatcher::spawn("127.0.0.1:0", &mail_dir)?;
    let shutdown = CancellationToken::new();
    let base_url = serve_scenario(shutdown.clone()).await?;
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "note: cannot listen on {} ({error}); using a free port instead",
                args.listen
            );
            tokio::net::TcpListener::bind("127.0.0.1:0").await?
        }
    };
    let listen = listener.local_addr()?;
    std::fs::write(
        dir.join("scripts/product-safety.md"),
        include_str!("../../../scripts/product-safety.md"),
    )?;
    std::fs::write(
        dir.join("scripts/holding-statement.md"),
        include_str!("../../../scripts/holding-statement.md"),
    )?;
    let config_path = dir.join("vigil.toml");
    std::fs::write(&config_path, demo_config(&base_url, smtp, listen))?;
    let config = vigil_config::load(&config_path)?;
    let services = Services::open(config)?;
    let config_arg = config_path.display().to_string();

    println!("Vigil demo");
    println!("  replaying a week of ordinary mentions of Acme (艾克米) from {base_url}/feeds/…");
    println!(
        "  crisis posts (exploding kettles, in English and Chinese) start in {}s",
        CRISIS_DELAY.as_secs()
    );
    println!(
        "  mail is captured by a local SMTP server on {smtp} into {}/",
        mail_dir.display()
    );
    println!("  dashboard on http://{listen}/ and the API under /api/  (config: {config_arg})");
    println!();

    let pipeline_shutdown = shutdown.clone();
    let pipeline_services = services.clone();
    let mut pipeline_task = tokio::spawn(async move {
        pipeline::run_pipeline(pipeline_services, pipeline_shutdown, Some(listener)).await
    });
    let signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        signal.cancel();
    });

    let deadline = Instant::now() + Duration::from_secs(180);
    let mut announced = false;
    loop {
        tokio::select! {
            result = &mut pipeline_task => {
                result??;
                return Ok(ExitCode::SUCCESS);
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        let incidents = services.store.incidents(None)?;
        let mut sent = Vec::new();
        let mut pending = 0;
        for incident in &incidents {
            for notification in services.store.notifications_for_incident(incident.id)? {
                match notification.status {
                    NotificationStatus::Sent => sent.push(notification),
                    NotificationStatus::Pending => pending += 1,
                    NotificationStatus::Cancelled | NotificationStatus::Failed => {}
                }
            }
        }
        if !announced && !sent.is_empty() && pending == 0 {
            announced = true;
            let posts = services.store.post_count()?;
            println!(
                "Crisis detected. {posts} posts stored; {} incident(s) opened; {} alert email(s) delivered:",
                incidents.len(),
                sent.len()
            );
            for incident in &incidents {
                println!(
                    "  incident #{} [{}] {}: {}",
                    incident.id, incident.severity, incident.rule, incident.trigger.explanation
                );
            }
            println!();
            println!("What to look at:");
            println!(
                "  the dashboard:      http://{listen}/#/overview (the spike), http://{listen}/#/incidents (ack from there)"
            );
            println!(
                "  the alert emails:   {}/*.eml   (open in a mail client, or read as text)",
                mail_dir.display()
            );
            println!(
                "  the incidents:      cargo run --release -- incidents list --config {config_arg}"
            );
            println!(
                "  acknowledge one:    cargo run --release -- incidents ack 1 --by \"your name\" --config {config_arg}"
            );
            println!(
                "  search (CLI):       cargo run --release -- search '爆炸 OR exploded' --config {config_arg}"
            );
            println!(
                "  search (API):       curl 'http://{listen}/api/search?q=kettle&sentiment=negative'"
            );
            println!(
                "  audit log:          cargo run --release -- audit verify --config {config_arg}"
            );
            if args.exit_when_done {
                shutdown.cancel();
            } else {
                println!();
                println!("The daemon keeps running (reminders, API). Press Ctrl-C to stop.");
            }
        }
        if !announced && Instant::now() > deadline {
            shutdown.cancel();
            let _ = pipeline_task.await;
            anyhow::bail!(
                "the demo's crisis alert was not delivered within 3 minutes; see the log above"
            );
        }
    }
}

//! End-to-end tests of the built `vigil` binary against real servers on loopback: a feed
//! server, the binary's own SMTP mail catcher (a real SMTP server, run as a child process
//! so it can be stopped), a real SQLite store and tantivy index in a temp dir.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use support::*;

fn write_config(dir: &Path, base: &str, smtp_port: u16, api_port: u16) -> std::path::PathBuf {
    let config = format!(
        r#"[storage]
data_dir = "data"

[server]
listen = "127.0.0.1:{api_port}"

[[brands]]
name = "Acme"
query = '"acme" OR 艾克米'

[[sources]]
name = "en"
kind = "rss"
url = "{base}/en.rss"
interval = "1s"

[[sources]]
name = "zh-gbk"
kind = "rss"
url = "{base}/zh-gbk.rss"
interval = "1s"

[[sources]]
name = "down"
kind = "rss"
url = "{base}/broken/500"
interval = "1s"

[[sources]]
name = "malformed"
kind = "rss"
url = "{base}/broken/malformed"
interval = "1s"

[[sources]]
name = "slow"
kind = "rss"
url = "{base}/broken/slow"
interval = "1s"

[[sources]]
name = "huge"
kind = "rss"
url = "{base}/broken/huge"
interval = "1s"

[crawler]
per_host_interval = "50ms"
allow_private_addresses = true
max_body_bytes = 1_000_000
timeout = "2s"

[alerts]
evaluate_every = "1s"
dashboard_url = "http://127.0.0.1:{api_port}"

[alerts.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
from = "Vigil <vigil@test.invalid>"
timeout = "5s"

[alerts.outbox]
retry_initial = "500ms"
retry_max = "1s"

[[alerts.recipients]]
name = "pr"
emails = ["pr@test.invalid"]

[[alerts.rules]]
name = "recall-terms"
brand = "Acme"
kind = "keyword"
query = "recall OR 召回"
severity = "crisis"
notify = ["pr"]
script = "safety"

[[alerts.rules]]
name = "lawsuit-terms"
brand = "Acme"
kind = "keyword"
query = "lawsuit"
severity = "crisis"
notify = ["pr"]
script = "safety"

[[scripts]]
name = "safety"
subject = "[{{{{ severity }}}}] {{{{ brand }}}}: {{{{ rule }}}}"
body = "SCRIPT-MARKER: apologise for {{{{ brand }}}} and pause sales. Respond by {{{{ deadline }}}}."
"#
    );
    let path = dir.join("vigil.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn post_ids_in_store(config: &Path) -> Vec<String> {
    let (total, ids, _) = search_json(config, "*", &[]);
    assert_eq!(total as usize, ids.len());
    ids
}

#[test]
fn crisis_mail_survives_kill_9_and_mail_outage() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let feeds = SharedFeeds::default();
    {
        let mut state = feeds.lock().unwrap();
        for i in 0..30 {
            state.english.push(item(
                &format!("en-{i}"),
                &format!("Acme kettle number {i} works nicely, happy customer"),
                600 + i,
            ));
        }
        state.english.push(item(
            "en-noise",
            "A post about the weather, no brand here",
            5,
        ));
        for i in 0..10 {
            state.chinese_gbk.push(item(
                &format!("zh-{i}"),
                &format!("艾克米水壶第{i}号很好用，推荐"),
                300 + i,
            ));
        }
    }
    let base = start_feed_server(feeds.clone());
    let smtp_port = free_port();
    let api_port = free_port();
    let mail_dir = dir.join("mail");
    let config = write_config(dir, &base, smtp_port, api_port);
    let log = dir.join("daemon.log");
    let mut smtp = spawn_mailcatcher(smtp_port, &mail_dir);

    // 1. Ordinary chatter is crawled, stored, classified and indexed; bad sources don't stop it.
    let mut daemon = spawn_daemon(&config, &log);
    wait_for("40 brand posts indexed", Duration::from_secs(60), || {
        post_ids_in_store(&config).len() == 40
    });
    assert!(mails(&mail_dir).is_empty(), "no alert without a crisis");

    // 2. kill -9 while new posts arrive, then restart: nothing lost, nothing doubled.
    {
        let mut state = feeds.lock().unwrap();
        for i in 0..20 {
            state.english.push(item(
                &format!("en-late-{i}"),
                &format!("Acme toaster review {i}: solid"),
                10,
            ));
        }
    }
    std::thread::sleep(Duration::from_millis(700));
    daemon.kill9();
    let mut daemon = spawn_daemon(&config, &log);
    wait_for("60 posts after restart", Duration::from_secs(60), || {
        post_ids_in_store(&config).len() == 60
    });

    // 3. The crisis: a recall post in Chinese (GBK feed) fires the keyword rule.
    feeds.lock().unwrap().chinese_gbk.push(item(
        "zh-crisis",
        "艾克米水壶爆炸了，要求召回！太危险",
        1,
    ));
    wait_for("the crisis mail", Duration::from_secs(60), || {
        !mails(&mail_dir).is_empty()
    });
    std::thread::sleep(Duration::from_secs(2));
    let first_mails = mails(&mail_dir);
    assert_eq!(first_mails.len(), 1, "exactly one first notification");
    let mail = &first_mails[0];
    let text = mail_text(mail);
    let subject = header_value(mail, "Subject").unwrap();
    assert!(
        subject.contains("Acme") && subject.contains("recall-terms"),
        "subject: {subject}"
    );
    assert!(
        text.contains("SCRIPT-MARKER: apologise for Acme"),
        "script text in mail:\n{text}"
    );
    assert!(
        text.contains(&format!("{base}/p/zh-crisis")),
        "evidence link in mail:\n{text}"
    );
    assert!(
        text.contains("vigil incidents ack"),
        "how to acknowledge:\n{text}"
    );
    let incidents = run(&[
        "incidents",
        "list",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
    ]);
    let incidents: serde_json::Value = serde_json::from_slice(&incidents.stdout).unwrap();
    let deadline = incidents[0]["response_deadline"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline_day = &deadline[..10];
    assert!(
        text.contains(deadline_day),
        "deadline {deadline} in mail:\n{text}"
    );
    let first_message_id = header_value(mail, "Message-ID").unwrap();

    // 4. kill -9 after delivery and restart: the mail is not repeated.
    daemon.kill9();
    let mut daemon = spawn_daemon(&config, &log);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(mails(&mail_dir).len(), 1, "no repeat after restart");

    // 5. Mail server down while a second rule fires; it arrives once when the server is back.
    smtp.kill9();
    feeds.lock().unwrap().english.push(item(
        "en-lawsuit",
        "Acme faces a lawsuit over kettle burns",
        1,
    ));
    wait_for("the second incident", Duration::from_secs(60), || {
        let out = run(&[
            "incidents",
            "list",
            "--format",
            "json",
            "--config",
            config.to_str().unwrap(),
        ]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .map(|v| v.as_array().map_or(0, Vec::len) == 2)
            .unwrap_or(false)
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        mails(&mail_dir).len(),
        1,
        "nothing delivered while the server is down"
    );
    let _smtp = spawn_mailcatcher(smtp_port, &mail_dir);
    wait_for("the delayed mail", Duration::from_secs(60), || {
        mails(&mail_dir).len() >= 2
    });
    std::thread::sleep(Duration::from_secs(4));
    let all = mails(&mail_dir);
    assert_eq!(all.len(), 2, "the delayed mail arrives exactly once");
    let ids: HashSet<String> = all
        .iter()
        .map(|m| header_value(m, "Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first_message_id));
    assert!(mail_text(&all[1]).contains("lawsuit"));

    // 6. Every post exactly once; bad sources recorded errors; the daemon is still serving.
    let ids = post_ids_in_store(&config);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(
        ids.len(),
        62,
        "30 + 10 + 20 + 2 brand posts, the weather post unmatched"
    );
    assert_eq!(unique.len(), ids.len(), "no duplicates");
    let sources: serde_json::Value =
        reqwest::blocking_get(&format!("http://127.0.0.1:{api_port}/api/sources"));
    for name in ["down", "malformed", "slow", "huge"] {
        let source = sources["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap();
        assert!(
            source["last_error"].is_string(),
            "{name} records its error: {source}"
        );
    }
    for name in ["en", "zh-gbk"] {
        let source = sources["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap();
        assert!(
            source["last_success_at"].is_string(),
            "{name} keeps working: {source}"
        );
    }

    // 7. Graceful stop, and the audit chain is intact.
    let status = daemon.terminate();
    assert!(
        status.success(),
        "SIGTERM exits cleanly: {status:?}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let verify = run(&["audit", "verify", "--config", config.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", stdout(&verify));
}

/// Minimal blocking GET for JSON, to avoid pulling reqwest's blocking feature.
mod reqwest {
    pub fn blocking_get(url: &str) -> serde_json::Value {
        let url = url.strip_prefix("http://").unwrap();
        let (host, path) = url.split_once('/').unwrap();
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        serde_json::from_str(&body).unwrap()
    }

    fn dechunk(mut body: &str) -> String {
        let mut out = String::new();
        while let Some((size, rest)) = body.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.push_str(&rest[..size]);
            body = &rest[size + 2..];
        }
        out
    }
}

#[test]
fn gbk_and_utf8_feeds_are_both_searchable_in_chinese() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let feeds = SharedFeeds::default();
    {
        let mut state = feeds.lock().unwrap();
        state
            .english
            .push(item("u1", "UTF-8 feed: 艾克米水壶召回通知", 30));
        state
            .english
            .push(item("u2", "Acme kettle recall notice", 20));
        state
            .chinese_gbk
            .push(item("g1", "GBK编码：艾克米水壶召回，请停止使用", 10));
    }
    let base = start_feed_server(feeds);
    let config = acme_config(
        dir,
        "acme OR 艾克米",
        &format!(
            "[[sources]]\nname = \"utf8\"\nkind = \"rss\"\nurl = \"{base}/en.rss\"\n\
             [[sources]]\nname = \"gbk\"\nkind = \"rss\"\nurl = \"{base}/zh-gbk.rss\"\n\
             [crawler]\nallow_private_addresses = true\nper_host_interval = \"10ms\"\n"
        ),
    );
    let crawl = run(&["crawl", "--once", "--config", config.to_str().unwrap()]);
    assert!(
        crawl.status.success(),
        "{}\n{}",
        stdout(&crawl),
        stderr(&crawl)
    );
    for source in ["utf8", "gbk"] {
        let (total, _, hits) = search_json(&config, "召回", &["--source", source]);
        assert_eq!(total, 1, "召回 in the {source} feed: {hits}");
        let text = hits["hits"][0]["text"].as_str().unwrap();
        assert!(text.contains("艾克米水壶召回"), "decoded text: {text}");
    }
    let (total, _, _) = search_json(&config, "艾克米", &[]);
    assert_eq!(total, 2);
    let (total, _, hits) = search_json(&config, "recall", &[]);
    assert_eq!(total, 1, "{hits}");
    // A second pass stores nothing new.
    let again = run(&["crawl", "--once", "--config", config.to_str().unwrap()]);
    assert!(stdout(&again).contains("0 stored"), "{}", stdout(&again));
}

#[test]
fn audit_verify_names_the_altered_entry() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let config = acme_config(dir, "acme", "");
    let jsonl: String = (0..30)
        .map(|i| format!("{{\"id\": \"{i}\", \"published_at\": \"2024-05-01T12:00:00Z\", \"text\": \"acme post {i}\"}}\n"))
        .collect();
    for chunk in jsonl.lines().collect::<Vec<_>>().chunks(10) {
        let file = dir.join("chunk.jsonl");
        std::fs::write(&file, chunk.join("\n")).unwrap();
        let out = import(&config, "imp", &file, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let ok = run(&["audit", "verify", "--config", config.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", stdout(&ok));
    let export = run(&[
        "audit",
        "export",
        "--only",
        "audit",
        "--config",
        config.to_str().unwrap(),
    ]);
    let entries: Vec<serde_json::Value> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        entries.len() >= 6,
        "ingest and import entries: {}",
        entries.len()
    );
    let victim = entries[2]["seq"].as_i64().unwrap();

    let db = rusqlite::Connection::open(dir.join("data/vigil.db")).unwrap();
    // Someone with file access can drop the append-only trigger; the hash chain still tells.
    db.execute_batch("DROP TRIGGER audit_log_no_update")
        .unwrap();
    let changed = db
        .execute(
            "UPDATE audit_log SET payload = replace(payload, '1', '2') WHERE seq = ?1",
            [victim],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let bad = run(&["audit", "verify", "--config", config.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1), "{}", stdout(&bad));
    assert!(
        stdout(&bad).contains(&format!("first bad entry {victim}")),
        "{}",
        stdout(&bad)
    );
}

#[test]
fn bad_config_exits_2_with_every_problem_located() {
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("bad.toml");
    std::fs::write(&config, "[storage]\ndata_dirr = \"x\"\n[[alerts.rules]]\nname = \"r\"\nbrand = \"Nope\"\nkind = \"keyword\"\nquery = \"x\"\nnotify = [\"nobody\"]\n").unwrap();
    let out = run(&["check-config", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let file = config.display().to_string();
    assert!(
        err.contains(&format!(
            "{file}:2:1: storage.data_dirr: unknown key (did you mean \"data_dir\"?)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:5:9: alerts.rules[0].brand: unknown brand \"Nope\""
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{file}:8:11: alerts.rules[0].notify: unknown recipient \"nobody\""
        )),
        "{err}"
    );
    let good = run(&["check-config", "--config", "../vigil.example.toml"]);
    assert!(good.status.success(), "{}", stderr(&good));
    let missing = run(&[
        "search",
        "x",
        "--config",
        temp.path().join("nope.toml").to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn classify_reads_and_writes_json_lines_in_order() {
    use std::io::Write;
    let mut child = vigil()
        .args(["classify"])
        .current_dir(std::env::temp_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("{\"id\": 1, \"text\": \"I love this kettle, works great\"}\n{\"id\": \"b\", \"text\": \"艾克米水壶爆炸了，太危险了\"}\n{\"id\": 3, \"text\": \"The kettle is blue.\", \"lang\": \"en\"}\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        (lines[0]["id"].clone(), lines[0]["label"].as_str()),
        (serde_json::json!(1), Some("positive"))
    );
    assert_eq!(
        (
            lines[1]["id"].as_str(),
            lines[1]["label"].as_str(),
            lines[1]["lang"].as_str()
        ),
        (Some("b"), Some("negative"), Some("zh"))
    );
    assert_eq!(lines[2]["label"], "neutral");
    for line in &lines {
        let score = line["score"].as_f64().unwrap();
        let confidence = line["confidence"].as_f64().unwrap();
        assert!(
            (-1.0..=1.0).contains(&score) && (0.0..=1.0).contains(&confidence),
            "{line}"
        );
    }
}

#[test]
fn import_reports_stored_duplicate_unmatched_rejected() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let config = acme_config(dir, "acme OR 艾克米", "");
    let mut lines = String::new();
    for i in 0..2000 {
        let text = if i % 2 == 0 {
            format!("acme post {i}")
        } else {
            format!("艾克米 帖子 {i}")
        };
        lines.push_str(&format!("{{\"id\": \"{i}\", \"url\": \"https://example.com/p/{i}?utm_source=x\", \"published_at\": \"2024-05-01T12:00:00Z\", \"text\": \"{text}\"}}\n"));
    }
    lines.push_str("{\"id\": \"x1\", \"published_at\": \"2024-05-01T12:00:00Z\", \"text\": \"nothing to see\"}\n");
    lines.push_str("{\"id\": \"x2\", \"published_at\": \"not a time\", \"text\": \"acme\"}\n");
    lines.push_str("this is not json\n");
    let file = dir.join("posts.jsonl");
    let mut bytes = lines.into_bytes();
    bytes.extend_from_slice(b"{\"id\": \"gbk\", \"text\": \"\xb0\xac\"}\n");
    std::fs::write(&file, &bytes).unwrap();
    let first = import(&config, "archive", &file, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let summary = stdout(&first);
    assert!(
        summary.contains("2000 stored, 0 duplicate, 1 unmatched, 3 rejected")
            && summary.contains("line 2004: not UTF-8"),
        "{summary}"
    );
    assert!(summary.contains("line 2002: `published_at`"), "{summary}");
    let second = import(&config, "archive", &file, &[]);
    assert!(
        stdout(&second).contains("0 stored, 2000 duplicate"),
        "{}",
        stdout(&second)
    );
    let (total, _, _) = search_json(&config, "acme", &[]);
    assert_eq!(total, 1000);
    let reindex = run(&["reindex", "--config", config.to_str().unwrap()]);
    assert!(
        stdout(&reindex).contains("reindexed 2000 posts"),
        "{}",
        stdout(&reindex)
    );
    let (total, _, _) = search_json(&config, "*", &[]);
    assert_eq!(total, 2000);
}

/// Imported lines may carry the original source's engagement; it is stored as the
/// post's reach (search filters on it, influencer rules read it). A malformed one is a
/// rejected line, not a crash.
#[test]
fn import_keeps_engagement() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let config = acme_config(dir, "acme", "");
    let file = dir.join("posts.jsonl");
    std::fs::write(
        &file,
        "{\"id\": \"loud\", \"published_at\": \"2024-05-01T12:00:00Z\", \"text\": \"acme exploded\", \"engagement\": {\"likes\": 900, \"reposts\": 200}}\n\
         {\"id\": \"quiet\", \"published_at\": \"2024-05-01T12:00:00Z\", \"text\": \"acme is fine\"}\n\
         {\"id\": \"bad\", \"published_at\": \"2024-05-01T12:00:00Z\", \"text\": \"acme\", \"engagement\": {\"likes\": \"many\"}}\n",
    )
    .unwrap();
    let out = import(&config, "archive", &file, &[]);
    let summary = stdout(&out);
    assert!(
        summary.contains("2 stored, 0 duplicate, 0 unmatched, 1 rejected")
            && summary.contains("line 3: invalid JSON"),
        "{summary}"
    );
    let (total, _, json) = search_json(&config, "*", &["--min-reach", "1000"]);
    assert_eq!(total, 1, "{json}");
    assert!(json.to_string().contains("acme exploded"), "{json}");
    let (total, _, _) = search_json(&config, "*", &[]);
    assert_eq!(total, 2);
}

#[test]
fn demo_runs_offline_and_delivers_the_crisis_mail() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("demo");
    let out = vigil()
        .args([
            "demo",
            "--exit-when-done",
            "--listen",
            "127.0.0.1:0",
            "--dir",
            dir.to_str().unwrap(),
        ])
        .current_dir(temp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains("Crisis detected."), "{printed}");
    let mails = mails(&dir.join("mail"));
    assert!(!mails.is_empty());
    let all_text: String = mails.iter().map(|m| mail_text(m)).collect();
    assert!(
        all_text.contains("PRODUCT SAFETY RESPONSE"),
        "the demo's script is in a mail"
    );
    assert!(
        all_text.contains("艾克米")
            || all_text.contains("exploded")
            || all_text.contains("EXPLODED"),
        "evidence in the mail"
    );
}

#[test]
fn api_enforces_tokens_and_roles() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let api_port = free_port();
    let recall = recall_alerting();
    let config = acme_config(dir, "acme", &format!("{}{recall}", api_server(api_port)));
    let now = chrono::Utc::now().to_rfc3339();
    let file = dir.join("posts.jsonl");
    std::fs::write(&file, format!("{{\"id\": \"1\", \"published_at\": \"{now}\", \"text\": \"acme kettle recall announced\"}}\n")).unwrap();
    let imported = import(&config, "s", &file, &["--alerts"]);
    assert!(imported.status.success(), "{}", stderr(&imported));

    let log = dir.join("daemon.log");
    let _daemon = start_api_daemon(&config, &log, api_port);
    assert_eq!(http(api_port, "GET", "/healthz", None).0, 200);
    assert_eq!(http(api_port, "GET", "/api/search?q=acme", None).0, 401);
    assert_eq!(
        http(api_port, "GET", "/api/search?q=acme", Some("wrong")).0,
        401
    );
    // No CORS: a page from another origin gets no Access-Control-* headers, neither on a
    // preflight nor on a request carrying a valid token.
    for (method, token) in [
        ("OPTIONS", ""),
        ("GET", "Authorization: Bearer viewer-secret\r\n"),
    ] {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", api_port)).unwrap();
        write!(
            stream,
            "{method} /api/search?q=acme HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n\
             Access-Control-Request-Method: GET\r\n{token}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let head = response
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .to_ascii_lowercase();
        assert!(head.starts_with("http/1.1"), "{head}");
        assert!(!head.contains("access-control-"), "{method}: {head}");
    }
    let (status, body) = http(
        api_port,
        "GET",
        "/api/search?q=recall",
        Some("viewer-secret"),
    );
    assert_eq!(status, 200, "{body}");
    let results: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(results["total"], 1);
    assert!(results["hits"][0]["sentiment"]["label"].as_str().is_some());
    let (status, body) = http(
        api_port,
        "GET",
        "/api/search?q=acme%20OR",
        Some("viewer-secret"),
    );
    assert_eq!(status, 400, "a bad query is the caller's error: {body}");
    assert!(body.contains("column"), "{body}");
    let (status, body) = http(api_port, "GET", "/api/incidents", Some("viewer-secret"));
    assert_eq!(status, 200);
    let incidents: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = incidents[0]["id"]
        .as_i64()
        .expect("import --alerts opened an incident");
    assert_eq!(
        http(
            api_port,
            "POST",
            &format!("/api/incidents/{id}/ack"),
            Some("viewer-secret")
        )
        .0,
        403
    );
    let (status, body) = http(
        api_port,
        "POST",
        &format!("/api/incidents/{id}/ack"),
        Some("responder-secret"),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        http(
            api_port,
            "POST",
            "/api/incidents/9999/ack",
            Some("responder-secret")
        )
        .0,
        404
    );
    let listed = run(&[
        "incidents",
        "list",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
    ]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["status"], "acknowledged");
    assert_eq!(
        listed[0]["acknowledged_by"], "pat",
        "attributed to the token's name"
    );
    let (status, body) = http(api_port, "GET", "/metrics", Some("viewer-secret"));
    assert_eq!(status, 200);
    assert!(body.contains("vigil_posts_stored 1"), "{body}");
}

#[test]
fn erase_removes_an_author_from_store_and_index() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let config = acme_config(dir, "acme", "");
    let lines: String = (0..10)
        .map(|i| {
            let author = if i % 2 == 0 { "@alice" } else { "@bob" };
            format!("{{\"id\": \"{i}\", \"author\": \"{author}\", \"published_at\": \"2024-05-01T12:00:00Z\", \"text\": \"acme secret {i}\"}}\n")
        })
        .collect();
    let file = dir.join("posts.jsonl");
    std::fs::write(&file, lines).unwrap();
    let config_arg = config.to_str().unwrap();
    assert!(import(&config, "s", &file, &[]).status.success());
    assert_eq!(search_json(&config, "secret", &[]).0, 10);

    let missing_reason = run(&["erase", "--author", "@alice", "--config", config_arg]);
    assert_eq!(
        missing_reason.status.code(),
        Some(2),
        "--reason is required"
    );
    let erased = run(&[
        "erase",
        "--author",
        "@alice",
        "--reason",
        "GDPR request 7",
        "--config",
        config_arg,
    ]);
    assert!(erased.status.success(), "{}", stderr(&erased));
    assert!(
        stdout(&erased).contains("erased 5 posts"),
        "{}",
        stdout(&erased)
    );
    let (total, _, hits) = search_json(&config, "secret", &[]);
    assert_eq!(total, 5);
    assert!(
        hits["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["author"] == "@bob"),
        "{hits}"
    );

    // Captured again later: the tombstone keeps it out.
    let again = import(&config, "s", &file, &[]);
    assert!(stdout(&again).contains("0 stored"), "{}", stdout(&again));
    assert_eq!(search_json(&config, "secret", &[]).0, 5);
    let export = stdout(&run(&[
        "audit", "export", "--only", "audit", "--config", config_arg,
    ]));
    assert!(export.contains("\"kind\":\"erasure\""), "erasure audited");
    assert!(
        !export.contains("@alice"),
        "the audit log does not keep the erased handle"
    );
    assert!(
        run(&["audit", "verify", "--config", config_arg])
            .status
            .success()
    );
}

/// Regression (review of the first version): with no sources the index stage stopped at
/// start, so posts imported while the daemon ran were never indexed; and a batch could
/// move the index watermark past posts another process had stored but not classified.
#[test]
fn posts_imported_while_the_daemon_runs_are_indexed_by_it() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let api_port = free_port();
    let config = acme_config(
        dir,
        "acme",
        &format!("[server]\nlisten = \"127.0.0.1:{api_port}\"\n"),
    );
    let mut daemon = spawn_daemon(&config, &dir.join("daemon.log"));
    wait_for("the API", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", api_port)).is_ok()
    });
    for round in 0..3 {
        let lines: String = (0..500)
            .map(|i| format!("{{\"id\": \"{round}-{i}\", \"published_at\": \"2024-05-01T12:00:00Z\", \"text\": \"acme import round {round} post {i}\"}}\n"))
            .collect();
        let file = dir.join(format!("round{round}.jsonl"));
        std::fs::write(&file, lines).unwrap();
        let out = import(&config, "s", &file, &["--batch", "100"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("the running daemon indexes them"),
            "{}",
            stderr(&out)
        );
    }
    wait_for(
        "the daemon to index all 1500 imported posts",
        Duration::from_secs(60),
        || {
            let (status, body) = http(api_port, "GET", "/api/search?q=import&limit=1", None);
            status == 200
                && serde_json::from_str::<serde_json::Value>(&body).unwrap()["total"] == 1500
        },
    );
    let status = daemon.terminate();
    assert!(status.success());
    let (total, _, hits) = search_json(&config, "acme", &[]);
    assert_eq!(total, 1500);
    assert!(
        hits["hits"][0]["sentiment"]["label"].is_string(),
        "indexed with its sentiment: {hits}"
    );
}

/// Issue 3 end to end: an `html` source paged by `next_page`, a `json` API source and
/// an RSS source that goes down. The daemon crawls all three, the down source shows as
/// `down` in /api/sources and /metrics, opens a `source_down` incident that is mailed,
/// and when the source answers again the daemon resolves the incident itself.
#[test]
fn html_and_json_sources_and_a_source_going_down() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let feeds = SharedFeeds::default();
    {
        let mut state = feeds.lock().unwrap();
        for i in 0..5 {
            state.reviews.push(item(
                &format!("rev-{i}"),
                &format!("Acme kettle review {i}: the lid broke, disappointed"),
                10 + i,
            ));
            state.api_posts.push(item(
                &format!("api-{i}"),
                &format!("Acme toaster thread {i}, works fine"),
                20 + i,
            ));
        }
        state.english.push(item("en-0", "Acme news item", 30));
        state.flaky_down = true;
    }
    let base = start_feed_server(feeds.clone());
    let smtp_port = free_port();
    let api_port = free_port();
    let mail_dir = dir.join("mail");
    let config = acme_config(
        dir,
        "acme",
        &format!(
            r#"
[server]
listen = "127.0.0.1:{api_port}"

[[sources]]
name = "reviews"
kind = "html"
url = "{base}/reviews.html"
interval = "1s"
item = "div.review"
fields = {{ text = "p.body", author = ".author", published = "time@datetime", url = "a.permalink@href", rating = ".stars@data-rating" }}
next_page = "a.next@href"
max_pages = 3

[[sources]]
name = "api"
kind = "json"
url = "{base}/api/posts"
interval = "1s"
items = "/data/children"
fields = {{ id = "/data/id", text = "/data/body", author = "/data/author", published = "/data/created_utc", url = "/data/permalink", score = "/data/score" }}
next_page = "/data/after"

[[sources]]
name = "flaky"
kind = "rss"
url = "{base}/flaky.rss"
interval = "1s"
down_after = "2s"

[crawler]
per_host_interval = "10ms"
allow_private_addresses = true
retries = 0

[alerts]
evaluate_every = "1s"

[alerts.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
from = "Vigil <vigil@test.invalid>"

[[alerts.recipients]]
name = "ops"
emails = ["ops@test.invalid"]
"#
        ),
    );
    let check = run(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(check.status.success(), "{}", stderr(&check));
    let _smtp = spawn_mailcatcher(smtp_port, &mail_dir);
    let mut daemon = spawn_daemon(&config, &dir.join("daemon.log"));

    // All five reviews (three pages) and all five API posts, with their fields.
    wait_for(
        "html and json posts indexed",
        Duration::from_secs(60),
        || {
            search_json(&config, "*", &["--source", "reviews"]).0 == 5
                && search_json(&config, "*", &["--source", "api"]).0 == 5
        },
    );
    let (total, _, hits) = search_json(&config, "lid", &["--source", "reviews"]);
    assert_eq!(total, 5);
    let hit = hits["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["text"].as_str().unwrap().contains("review 0:"))
        .cloned()
        .expect("review 0 found");
    assert_eq!(hit["author"], "user-rev-0", "{hit}");
    assert_eq!(hit["engagement"]["rating"], 2.0, "{hit}");
    assert!(
        hit["url"].as_str().unwrap().ends_with("/reviews/rev-0"),
        "{hit}"
    );
    let (_, _, hits) = search_json(&config, "toaster", &["--source", "api"]);
    assert!(
        hits["hits"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/api/p/")),
        "relative permalink resolved: {hits}"
    );

    // The flaky source: down, reported, mailed.
    wait_for("source_down incident", Duration::from_secs(60), || {
        let out = run(&[
            "incidents",
            "list",
            "--format",
            "json",
            "--config",
            config.to_str().unwrap(),
        ]);
        stdout(&out).contains("source_down:flaky")
    });
    let (status, body) = http(api_port, "GET", "/api/sources", None);
    assert_eq!(status, 200);
    let sources: serde_json::Value = serde_json::from_str(&body).unwrap();
    let flaky = sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "flaky")
        .cloned()
        .unwrap();
    assert_eq!(flaky["status"], "down", "{flaky}");
    assert!(
        flaky["consecutive_failures"].as_u64().unwrap() >= 2,
        "{flaky}"
    );
    assert!(
        flaky["last_error"].as_str().unwrap().contains("500"),
        "{flaky}"
    );
    let reviews = sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "reviews")
        .cloned()
        .unwrap();
    assert_eq!(reviews["status"], "ok", "{reviews}");
    let (_, metrics) = http(api_port, "GET", "/metrics", None);
    assert!(
        metrics.contains("vigil_source_up{source=\"flaky\",kind=\"rss\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vigil_source_up{source=\"reviews\",kind=\"html\"} 1"),
        "{metrics}"
    );
    wait_for("source_down mail", Duration::from_secs(30), || {
        mails(&mail_dir)
            .iter()
            .any(|m| mail_text(m).contains("flaky"))
    });

    // Back up: the daemon resolves its own incident.
    feeds.lock().unwrap().flaky_down = false;
    wait_for("source_down resolved", Duration::from_secs(60), || {
        let out = run(&[
            "incidents",
            "list",
            "--status",
            "resolved",
            "--format",
            "json",
            "--config",
            config.to_str().unwrap(),
        ]);
        stdout(&out).contains("source_down:flaky")
    });
    daemon.terminate();
}

/// With pseudonymized authors, an erasure request by handle still finds the author's
/// posts, under the current key and under a key rotated away since.
#[test]
fn erasure_by_handle_finds_pseudonymized_posts_across_a_key_rotation() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        "[storage]\ndata_dir = \"data\"\nretention_days = 36500\npseudonymize_authors = true\n\
         [[brands]]\nname = \"Acme\"\nquery = 'acme'\n",
    )
    .unwrap();
    let post = |id: &str, author: &str, text: &str| {
        format!(
            "{{\"id\": \"{id}\", \"author\": \"{author}\", \"published_at\": \"2024-05-01T12:00:00Z\", \"text\": \"{text}\"}}\n"
        )
    };
    let file = dir.join("posts.jsonl");
    std::fs::write(
        &file,
        post("a1", "@Zhang_Wei", "acme kettle one") + &post("b1", "@bob", "acme kettle two"),
    )
    .unwrap();
    assert!(import(&config, "weibo", &file, &[]).status.success());
    let config_arg = config.to_str().unwrap();
    let rotated = run(&[
        "privacy",
        "rotate-key",
        "--by",
        "dana",
        "--config",
        config_arg,
    ]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(
        stdout(&rotated).contains("new pseudonym key")
            && stdout(&rotated).contains("previous key kept"),
        "{}",
        stdout(&rotated)
    );
    std::fs::write(&file, post("a2", "@Zhang_Wei", "acme kettle three")).unwrap();
    assert!(import(&config, "weibo", &file, &[]).status.success());

    let (total, _, json) = search_json(&config, "*", &[]);
    assert_eq!(total, 3);
    let authors: Vec<String> = json["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["author"].as_str().unwrap().to_string())
        .collect();
    assert!(
        authors.iter().all(|a| a.starts_with("anon-")),
        "{authors:?}"
    );
    assert!(!json.to_string().contains("Zhang"), "{json}");
    let mut distinct = authors.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        3,
        "a new key gives the same handle a new pseudonym"
    );

    // A data-subject access request first: both posts, under either pseudonym.
    let export = |format: &str| {
        run(&[
            "export",
            "--author",
            "@Zhang_Wei",
            "--by",
            "dpo",
            "--format",
            format,
            "--config",
            config_arg,
        ])
    };
    let jsonl = export("jsonl");
    assert!(jsonl.status.success(), "{}", stderr(&jsonl));
    let exported: Vec<serde_json::Value> = stdout(&jsonl)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let mut texts: Vec<&str> = exported
        .iter()
        .map(|post| post["post"]["text"].as_str().unwrap())
        .collect();
    texts.sort();
    assert_eq!(texts, ["acme kettle one", "acme kettle three"]);
    assert!(exported[0]["post"]["provenance"]["content_hash"].is_string());
    let csv = export("csv");
    assert!(csv.status.success(), "{}", stderr(&csv));
    let csv_text = stdout(&csv);
    assert_eq!(csv_text.lines().count(), 3, "{csv_text}");
    assert!(
        csv_text.starts_with("seq,id,source,url,author"),
        "{csv_text}"
    );
    let audit = run(&["audit", "export", "--only", "audit", "--config", config_arg]);
    let audit_text = stdout(&audit);
    assert!(audit_text.contains("subject_access_export"), "{audit_text}");
    assert!(
        !audit_text.contains("Zhang"),
        "the handle is not in the audit log"
    );

    let erased = run(&[
        "erase",
        "--author",
        "@Zhang_Wei",
        "--reason",
        "access and erasure request",
        "--by",
        "dpo",
        "--config",
        config_arg,
    ]);
    assert!(erased.status.success(), "{}", stderr(&erased));
    assert!(
        stdout(&erased).contains("erased 2 posts"),
        "{}",
        stdout(&erased)
    );
    let (total, _, json) = search_json(&config, "*", &[]);
    assert_eq!(total, 1, "{json}");
    assert!(json.to_string().contains("kettle two"), "{json}");
    let verify = run(&["audit", "verify", "--config", config_arg]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    // Both erasures (the current and the archived pseudonym) are attributed to dpo.
    let entries: Vec<serde_json::Value> = stdout(&run(&[
        "audit", "export", "--only", "audit", "--config", config_arg,
    ]))
    .lines()
    .map(|line| serde_json::from_str(line).unwrap())
    .filter(|entry: &serde_json::Value| entry["kind"] == "erasure")
    .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(
        entries.iter().all(|entry| entry["actor"] == "dpo"),
        "{entries:?}"
    );
}

/// `vigil hold`: placed, listed, released, attributed; a bad request is exit 2.
#[test]
fn legal_holds_from_the_command_line() {
    let temp = tempfile::tempdir().unwrap();
    let config = acme_config(temp.path(), "acme", "");
    let config_arg = config.to_str().unwrap();
    let hold = |args: &[&str]| {
        let mut all = vec!["hold"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--config", config_arg]);
        run(&all)
    };
    let placed = hold(&[
        "add",
        "--brand",
        "Acme",
        "--reason",
        "case 2026-17",
        "--by",
        "counsel",
    ]);
    assert!(placed.status.success(), "{}", stderr(&placed));
    assert!(
        stdout(&placed).contains("hold #1    brand Acme  active"),
        "{}",
        stdout(&placed)
    );
    let unknown = hold(&[
        "add",
        "--incident",
        "999",
        "--reason",
        "x",
        "--by",
        "counsel",
    ]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("incident 999"),
        "{}",
        stderr(&unknown)
    );
    let both = hold(&[
        "add",
        "--brand",
        "Acme",
        "--incident",
        "1",
        "--reason",
        "x",
        "--by",
        "c",
    ]);
    assert_eq!(both.status.code(), Some(2));

    let listed = hold(&["list"]);
    assert!(
        stdout(&listed).contains("case 2026-17"),
        "{}",
        stdout(&listed)
    );
    let released = hold(&["release", "1", "--by", "counsel"]);
    assert!(released.status.success(), "{}", stderr(&released));
    assert!(
        stdout(&released).contains("released"),
        "{}",
        stdout(&released)
    );
    assert_eq!(
        hold(&["release", "1", "--by", "counsel"]).status.code(),
        Some(2)
    );
    assert!(stdout(&hold(&["list"])).contains("no legal holds active"));
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&hold(&["list", "--all", "--format", "json"]))).unwrap();
    assert_eq!(json[0]["released_by"], "counsel");
    let audit = stdout(&run(&[
        "audit", "export", "--only", "audit", "--config", config_arg,
    ]));
    assert!(
        audit.contains("legal_hold_placed") && audit.contains("legal_hold_released"),
        "{audit}"
    );
}

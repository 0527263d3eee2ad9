//! `vigil search` end to end: filters, orders, cursors, highlights and streaming exports,
//! through the real binary over a real store and index in a temp dir.

mod support;

use std::collections::HashSet;
use std::path::Path;

use support::{acme_config, import, run, search_json, stderr, stdout};

/// 2,400 posts over 10 days: every 3rd mentions a recall, every 4th is Chinese, authors
/// rotate over 7 handles, URLs over two sites.
fn corpus(dir: &Path) -> std::path::PathBuf {
    let config = acme_config(dir, "acme OR 艾克米", "");
    let mut lines = String::new();
    for i in 0..2400u32 {
        let text = if i % 4 == 0 {
            format!("艾克米 水壶 第{i}号 质量很好")
        } else if i % 3 == 0 {
            format!("Acme kettle recall announced, post {i}: terrible and dangerous")
        } else {
            format!("My acme kettle number {i} works great, love it")
        };
        let site = if i % 2 == 0 {
            "news.example.com"
        } else {
            "forum.example.org"
        };
        let day = 1 + i % 10;
        let minute = i % 60;
        lines.push_str(&format!(
            "{{\"id\": \"{i}\", \"url\": \"https://{site}/p/{i}\", \"author\": \"@user{}\", \"published_at\": \"2024-05-{day:02}T12:{minute:02}:00Z\", \"text\": \"{text}\"}}\n",
            i % 7
        ));
    }
    let file = dir.join("posts.jsonl");
    std::fs::write(&file, lines).unwrap();
    let out = import(&config, "archive", &file, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2400 stored"), "{}", stdout(&out));
    config
}

fn search(config: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--config", config.to_str().unwrap()]);
    run(&all)
}

#[test]
fn exports_stream_every_hit_and_filters_narrow_them() {
    let temp = tempfile::tempdir().unwrap();
    let config = corpus(temp.path());
    let (recalls, _, _) = search_json(&config, "recall", &[]);
    assert_eq!(recalls, 600, "i % 3 == 0 and i % 4 != 0");

    // CSV: a header, then one row per hit, all of them, parseable.
    let out = search(&config, &["recall", "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "id");
    let text_column = headers.iter().position(|h| h == "text").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 600);
    assert!(rows.iter().all(|r| r[text_column].contains("recall")));
    let unique: HashSet<&str> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(unique.len(), 600);

    // JSON Lines, oldest first, across many export pages: every post once, in order.
    let out = search(&config, &["*", "--format", "jsonl", "--sort", "oldest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let hits: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hits.len(), 2400);
    let times: Vec<&str> = hits
        .iter()
        .map(|h| h["published_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    let ids: HashSet<&str> = hits.iter().map(|h| h["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2400);

    // --limit bounds an export.
    let out = search(&config, &["kettle", "--format", "jsonl", "--limit", "7"]);
    assert_eq!(stdout(&out).lines().count(), 7);

    // Filters: language, time range, sentiment score.
    let (zh, _, _) = search_json(&config, "*", &["--lang", "zh"]);
    assert_eq!(zh, 600);
    let (first_two_days, _, _) = search_json(
        &config,
        "*",
        &[
            "--from",
            "2024-05-01T00:00:00Z",
            "--to",
            "2024-05-02T23:59:59Z",
        ],
    );
    assert_eq!(first_two_days, 480);
    let (negative_scores, _, page) = search_json(&config, "kettle", &["--max-score", "-0.1"]);
    assert!(
        negative_scores > 0 && negative_scores <= 600,
        "{negative_scores}"
    );
    for hit in page["hits"].as_array().unwrap() {
        assert!(hit["sentiment"]["score"].as_f64().unwrap() <= -0.1, "{hit}");
    }
}

#[test]
fn pages_continue_by_cursor_and_bad_input_exits_2() {
    let temp = tempfile::tempdir().unwrap();
    let config = corpus(temp.path());
    // Walk every hit of a relevance search and of a time search, 1,000 at a time.
    for sort in ["relevance", "time"] {
        let mut seen = HashSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut extra = vec!["--sort", sort];
            if let Some(cursor) = &cursor {
                extra.extend_from_slice(&["--cursor", cursor]);
            }
            let (total, ids, page) = search_json(&config, "kettle OR 水壶", &extra);
            assert_eq!(total, 2400);
            for id in ids {
                assert!(seen.insert(id), "{sort}: repeated hit");
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 2400, "{sort}");
    }

    // The table marks the matched words; without a terminal the marks are brackets.
    let out = search(&config, &["exploding OR recalled", "--limit", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("600 hits"), "{table}");
    assert!(table.contains("[recall]"), "{table}");
    assert!(table.contains("more: --cursor "), "{table}");

    for (args, expect) in [
        (vec!["kettle", "--cursor", "bogus"], "invalid cursor"),
        (vec!["kettle", "--min-score", "2"], "min_score"),
        (vec!["kettle AND (", "--limit", "1"], "column"),
        (vec!["kettle", "--sort", "sideways"], "sideways"),
        (
            vec!["kettle", "--from", "1d", "--to", "2024-05-03T00:00:00Z"],
            "after",
        ),
    ] {
        let out = search(&config, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expect), "{args:?}: {}", stderr(&out));
    }
}

/// Ids in the store's `posts` table, sorted.
fn store_ids(dir: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(dir.join("data").join("vigil.db")).unwrap();
    let mut statement = db.prepare("SELECT id FROM posts ORDER BY id").unwrap();
    statement
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(|id| id.unwrap())
        .collect()
}

/// Every post id in the index (an export of `*`), sorted, repeats kept.
fn index_ids(config: &Path) -> Vec<String> {
    let out = search(config, &["*", "--format", "jsonl", "--sort", "oldest"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut ids: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    ids
}

/// Issue 4: the index is derived from the store, and a crash between a store commit and
/// the index commit is repaired when the next process opens the index. `vigil import`
/// and the daemon are killed with SIGKILL at pseudo-random moments (fixed seed); after
/// each round the daemon is started cleanly, and the index must then hold exactly the
/// store's posts: none missing, none twice.
#[test]
fn index_matches_the_store_after_kill_9_at_random_points() {
    use rand::{Rng, SeedableRng};
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let api_port = support::free_port();
    let config = acme_config(
        dir,
        "acme",
        &format!("[server]\nlisten = \"127.0.0.1:{api_port}\"\n"),
    );
    // Each round imports its own file, so every kill lands in fresh work.
    let files: Vec<std::path::PathBuf> = (0..4)
        .map(|round| {
            let lines: String = (0..8000)
                .map(|i| format!("{{\"id\": \"{round}-{i}\", \"published_at\": \"2024-05-01T12:{:02}:00Z\", \"text\": \"acme kettle round {round} post {i} is fine\"}}\n", i % 60))
                .collect();
            let file = dir.join(format!("round{round}.jsonl"));
            std::fs::write(&file, lines).unwrap();
            file
        })
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let spawn_import = |file: &Path| {
        support::vigil()
            .args([
                "import",
                "--batch",
                "200",
                "--source",
                "s",
                file.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map(support::Guard)
            .unwrap()
    };
    let settle = |round: usize| {
        // A clean daemon start repairs the index; stop it once it has caught up.
        let mut daemon = support::spawn_daemon(&config, &dir.join(format!("settle{round}.log")));
        let expected = store_ids(dir).len() as u64;
        support::wait_for(
            "the daemon to catch the index up with the store",
            std::time::Duration::from_secs(90),
            || {
                if std::net::TcpStream::connect(("127.0.0.1", api_port)).is_err() {
                    return false;
                }
                let (status, body) =
                    support::http(api_port, "GET", "/api/search?q=*&limit=0", None);
                status == 200
                    && serde_json::from_str::<serde_json::Value>(&body).unwrap()["total"]
                        == expected
            },
        );
        assert!(daemon.terminate().success());
        let stored = store_ids(dir);
        let indexed = index_ids(&config);
        assert_eq!(
            indexed.len(),
            stored.len(),
            "round {round}: index and store differ in size"
        );
        assert_eq!(indexed, stored, "round {round}: index and store differ");
        stored.len()
    };
    let mut previous = 0;
    for (round, file) in files.iter().enumerate() {
        if round % 2 == 0 {
            // The importer indexes itself here; kill it mid-run.
            let mut import = spawn_import(file);
            std::thread::sleep(std::time::Duration::from_millis(
                rng.random_range(200..1500),
            ));
            import.kill9();
        } else {
            // The daemon indexes what the importer stores; kill the daemon mid-run.
            let mut daemon = support::spawn_daemon(&config, &dir.join(format!("run{round}.log")));
            let mut import = spawn_import(file);
            std::thread::sleep(std::time::Duration::from_millis(
                rng.random_range(200..1500),
            ));
            daemon.kill9();
            let _ = import.0.wait();
        }
        let count = settle(round);
        eprintln!("round {round}: {count} posts stored and indexed after the kill");
        assert!(count >= previous, "posts never disappear");
        previous = count;
    }
    // Final imports complete every file; everything is stored and indexed once.
    for file in &files {
        let mut import = spawn_import(file);
        assert!(import.0.wait().unwrap().success());
    }
    assert_eq!(settle(99), 32_000);
}

/// Issue 4's aggregations through the daemon's API: the daily timeline, share of voice,
/// top sources and authors, and "what is this spike about".
#[test]
fn aggregations_through_the_api() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let config = corpus(dir);
    // A spike on May 12th: 200 posts about an explosion.
    let spike: String = (0..200)
        .map(|i| format!("{{\"id\": \"spike-{i}\", \"url\": \"https://news.example.com/s/{i}\", \"author\": \"@reporter{}\", \"published_at\": \"2024-05-12T0{}:{:02}:00Z\", \"text\": \"Acme kettle explosion injures owner in kitchen, report {i}\"}}\n", i % 3, i % 10, i % 60))
        .collect();
    let file = dir.join("spike.jsonl");
    std::fs::write(&file, spike).unwrap();
    assert!(import(&config, "news", &file, &[]).status.success());
    let api_port = support::free_port();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("[server]\nlisten = \"127.0.0.1:{api_port}\"\n"));
    std::fs::write(&config, text).unwrap();
    let _daemon = support::spawn_daemon(&config, &dir.join("daemon.log"));
    support::wait_for("the API", std::time::Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", api_port)).is_ok()
    });
    let get = |path: &str| -> serde_json::Value {
        let (status, body) = support::http(api_port, "GET", path, None);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    };

    let timeline = get(
        "/api/timeline?brand=Acme&interval=day&from=2024-05-01T00:00:00Z&to=2024-05-13T00:00:00Z",
    );
    let buckets = timeline["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 12);
    let counts: Vec<u64> = buckets
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [vec![240; 10], vec![0, 200]].concat());
    assert_eq!(timeline["total"], 2600);
    assert_eq!(buckets[0]["start"], "2024-05-01T00:00:00Z");
    let day = &buckets[0];
    let labels: u64 = ["negative", "neutral", "positive", "unscored"]
        .iter()
        .map(|l| day[l].as_u64().unwrap())
        .sum();
    assert_eq!(labels, 240);
    assert_eq!(day["unscored"], 0, "import classifies every post");
    assert!(day["mean_score"].as_f64().is_some());
    assert!(buckets[10]["mean_score"].is_null());
    let hourly =
        get("/api/timeline?interval=hour&from=2024-05-12T00:00:00Z&to=2024-05-12T12:00:00Z");
    let hours: Vec<u64> = hourly["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(hours, [vec![20; 10], vec![0; 2]].concat());

    let terms = get(
        "/api/top/terms?brand=Acme&from=2024-05-12T00:00:00Z&to=2024-05-13T00:00:00Z&baseline_from=2024-05-01T00:00:00Z&baseline_to=2024-05-11T00:00:00Z&limit=5",
    );
    let top: Vec<&str> = terms["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["term"].as_str().unwrap())
        .collect();
    assert!(top.contains(&"explosion"), "{terms}");
    assert!(!top.contains(&"in"), "stopwords are left out: {terms}");

    let sources = get("/api/top/sources?from=2024-05-01T00:00:00Z&to=2024-05-13T00:00:00Z");
    assert_eq!(sources[0]["source"], "archive");
    assert_eq!(sources[0]["count"], 2400);
    assert_eq!(sources[1]["source"], "news");
    let authors = get("/api/top/authors?from=2024-05-01T00:00:00Z&to=2024-05-13T00:00:00Z&limit=3");
    assert_eq!(authors.as_array().unwrap().len(), 3);
    let shares = get("/api/share_of_voice?from=2024-05-01T00:00:00Z&to=2024-05-13T00:00:00Z");
    assert_eq!(shares[0]["brand"], "Acme");
    assert_eq!(shares[0]["share"], 1.0);

    for bad in [
        "/api/timeline?interval=week",
        "/api/timeline?interval=hour&from=2020-01-01T00:00:00Z&to=2024-01-01T00:00:00Z",
        "/api/timeline?from=2024-05-02T00:00:00Z&to=2024-05-01T00:00:00Z",
        "/api/top/sources?limit=0",
        "/api/top/terms?q=kettle%20AND%20(",
    ] {
        let (status, body) = support::http(api_port, "GET", bad, None);
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("error"), "{bad}: {body}");
    }
}

/// Retention (`storage.retention_days`): the daemon purges posts published before the
/// cutoff at start (and hourly) from the store and the index at once. A copy of a purged
/// original is promoted, and stays searchable.
#[test]
fn retention_purges_old_posts_from_store_and_index() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let api_port = support::free_port();
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\ndata_dir = \"data\"\nretention_days = 30\n\
             [server]\nlisten = \"127.0.0.1:{api_port}\"\n\
             [[brands]]\nname = \"Acme\"\nquery = 'acme'\n"
        ),
    )
    .unwrap();
    let now = chrono::Utc::now();
    let line = |id: &str, days_ago: i64, text: &str| {
        format!(
            "{{\"id\": \"{id}\", \"published_at\": \"{}\", \"text\": \"{text}\"}}\n",
            (now - chrono::Duration::days(days_ago)).to_rfc3339()
        )
    };
    let story = "Acme kettle exploded in the kitchen this morning and the lid flew across the room, nobody was hurt";
    let mut lines = String::new();
    for i in 0..5 {
        lines.push_str(&line(
            &format!("old-{i}"),
            40 + i,
            &format!("acme retention old post {i}"),
        ));
        lines.push_str(&line(
            &format!("new-{i}"),
            i,
            &format!("acme retention new post {i}"),
        ));
    }
    // An old original and a fresh copy of it.
    lines.push_str(&line("story-old", 45, story));
    lines.push_str(&line("story-copy", 1, story));
    let file = dir.join("posts.jsonl");
    std::fs::write(&file, lines).unwrap();
    let out = import(&config, "s", &file, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("12 stored"), "{}", stdout(&out));
    assert_eq!(search_json(&config, "retention", &[]).0, 10);
    let (_, _, copy) = search_json(&config, "exploded", &["--sort", "newest"]);
    assert_eq!(
        copy["hits"][0]["duplicate_of"].as_str(),
        Some(vigil_core::post_id("s", "story-old").as_str()),
        "{copy}"
    );

    let mut daemon = support::spawn_daemon(&config, &dir.join("daemon.log"));
    support::wait_for("the API", std::time::Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", api_port)).is_ok()
    });
    support::wait_for(
        "retention to purge the old posts",
        std::time::Duration::from_secs(30),
        || {
            let (status, body) =
                support::http(api_port, "GET", "/api/search?q=retention&limit=50", None);
            status == 200 && serde_json::from_str::<serde_json::Value>(&body).unwrap()["total"] == 5
        },
    );
    assert!(daemon.terminate().success());

    let (total, ids, _) = search_json(&config, "retention", &[]);
    assert_eq!(total, 5);
    let new_ids: HashSet<String> = (0..5)
        .map(|i| vigil_core::post_id("s", &format!("new-{i}")))
        .collect();
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), new_ids);
    // The copy is now the original.
    let (total, _, copy) = search_json(&config, "exploded", &[]);
    assert_eq!(total, 1);
    assert!(copy["hits"][0]["duplicate_of"].is_null(), "{copy}");
    // The store holds no old content, and the purge is audited.
    let export = stdout(&run(&[
        "audit",
        "export",
        "--only",
        "audit",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert!(export.contains("retention_purge"), "{export}");
    assert!(
        !export.contains("acme retention old post"),
        "no content in the audit log"
    );
    let reimport = import(&config, "s", &file, &[]);
    assert!(
        stdout(&reimport).contains("0 stored"),
        "tombstones keep purged posts out: {}",
        stdout(&reimport)
    );
}

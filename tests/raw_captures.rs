//! Raw captures end to end: the real `vigil` binary crawls feeds from a loopback server
//! with `keep_raw = true`; `vigil raw ID` gives back exactly the bytes the server sent
//! (GBK left undecoded); `vigil erase --author` removes the page's capture with the
//! author's post, so neither the post nor the page's bytes remain in the data dir.

mod support;

use std::path::Path;

use support::*;

fn raw_captures_in(data_dir: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(data_dir.join("vigil.db")).unwrap();
    let mut statement = conn
        .prepare("SELECT sha256 FROM raw_captures ORDER BY sha256")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn raw_returns_the_fetched_bytes_and_erasure_removes_them() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let feeds = SharedFeeds::default();
    {
        let mut state = feeds.lock().unwrap();
        let mut alice = item("a1", "Acme kettle leaked: ALICE-PRIVATE-7731 at home", 30);
        alice.author = "@alice".into();
        let mut bob = item("b1", "Acme kettle is fine for me", 20);
        bob.author = "@bob".into();
        state.english = vec![alice, bob];
        state
            .chinese_gbk
            .push(item("g1", "GBK编码：艾克米水壶召回，请停止使用", 10));
    }
    let base = start_feed_server(feeds.clone());
    let config = acme_config(
        dir,
        "acme OR 艾克米",
        &format!(
            "[[sources]]\nname = \"utf8\"\nkind = \"rss\"\nurl = \"{base}/en.rss\"\nkeep_raw = true\n\
             [[sources]]\nname = \"gbk\"\nkind = \"rss\"\nurl = \"{base}/zh-gbk.rss\"\nkeep_raw = true\n\
             [crawler]\nallow_private_addresses = true\nper_host_interval = \"10ms\"\n"
        ),
    );
    let config_arg = config.to_str().unwrap();
    let data_dir = dir.join("data");
    // redact_pii is on by default: check-config says what keep_raw keeps anyway.
    let check = run(&["check-config", "--config", config_arg]);
    assert!(
        stdout(&check)
            .contains("warning: sources[utf8].keep_raw: raw captures keep the pages as fetched"),
        "{}",
        stdout(&check)
    );
    let crawl = run(&["crawl", "--once", "--config", config_arg]);
    assert!(
        crawl.status.success(),
        "{}\n{}",
        stdout(&crawl),
        stderr(&crawl)
    );
    assert!(stdout(&crawl).contains("2 stored"), "{}", stdout(&crawl));

    // What the server sent, byte for byte.
    let (english_page, gbk_page) = {
        let state = feeds.lock().unwrap();
        let english = rss_document(&base, &state.english, "utf-8").into_bytes();
        let gbk_text = rss_document(&base, &state.chinese_gbk, "gbk");
        let (gbk, _, _) = encoding_rs::GBK.encode(&gbk_text);
        (english, gbk.into_owned())
    };
    let english_sha = vigil_core::sha256_hex(&english_page);
    let alice_id = vigil_core::post_id("utf8", "a1");
    let bob_id = vigil_core::post_id("utf8", "b1");
    let gbk_id = vigil_core::post_id("gbk", "g1");

    let alice_raw = run(&["raw", &alice_id, "--config", config_arg]);
    assert!(alice_raw.status.success(), "{}", stderr(&alice_raw));
    assert!(
        alice_raw.stdout == english_page,
        "vigil raw returns the page as served:\n{}",
        stdout(&alice_raw)
    );
    let about = stderr(&alice_raw);
    assert!(about.contains(&format!("sha256: {english_sha}")), "{about}");
    assert!(
        about.contains(&format!("fetch_url: {base}/en.rss")),
        "{about}"
    );
    assert!(
        about.contains("content_type: application/rss+xml; charset=utf-8"),
        "{about}"
    );
    assert!(
        about.contains(&format!("size: {} bytes", english_page.len())),
        "{about}"
    );
    assert!(about.contains("fetched_at: 20"), "{about}");

    // The GBK page comes back undecoded, here through --out.
    let out = dir.join("gbk-page.xml");
    let gbk_raw = run(&[
        "raw",
        &gbk_id,
        "--out",
        out.to_str().unwrap(),
        "--config",
        config_arg,
    ]);
    assert!(gbk_raw.status.success(), "{}", stderr(&gbk_raw));
    assert!(gbk_raw.stdout.is_empty());
    assert!(
        std::fs::read(&out).unwrap() == gbk_page,
        "GBK bytes as sent"
    );
    std::fs::remove_file(&out).unwrap();

    // Both English posts name the same page.
    let bob_raw = run(&["raw", &bob_id, "--config", config_arg]);
    assert!(bob_raw.stdout == english_page);
    assert_eq!(raw_captures_in(&data_dir).len(), 2);

    // Erasing alice removes her post and the page that carried it; bob's post stays,
    // without a capture; the GBK page is untouched.
    let erased = run(&[
        "erase",
        "--author",
        "@alice",
        "--reason",
        "GDPR request 12",
        "--config",
        config_arg,
    ]);
    assert!(erased.status.success(), "{}", stderr(&erased));
    assert!(
        stdout(&erased).contains("erased 1 posts"),
        "{}",
        stdout(&erased)
    );
    let gone = run(&["raw", &alice_id, "--config", config_arg]);
    assert_eq!(gone.status.code(), Some(1), "{}", stderr(&gone));
    assert!(gone.stdout.is_empty());
    let unlinked = run(&["raw", &bob_id, "--config", config_arg]);
    assert_eq!(unlinked.status.code(), Some(1));
    assert!(
        stderr(&unlinked).contains("has no raw capture"),
        "{}",
        stderr(&unlinked)
    );
    assert!(unlinked.stdout.is_empty());
    let (total, ids, _) = search_json(&config, "kettle", &[]);
    assert_eq!((total, ids), (1, vec![bob_id.clone()]));
    let still = run(&["raw", &gbk_id, "--config", config_arg]);
    assert!(still.status.success() && still.stdout == gbk_page);
    assert_eq!(
        raw_captures_in(&data_dir),
        [vigil_core::sha256_hex(&gbk_page)]
    );

    // Nothing of alice's post is left in any file of the data dir (store, its WAL,
    // the index).
    let leftovers = files_containing(&data_dir, b"ALICE-PRIVATE-7731");
    assert!(leftovers.is_empty(), "erased text found in {leftovers:?}");

    // The audit log names the erased capture by hash only, and verifies.
    let export = stdout(&run(&["audit", "export", "--config", config_arg]));
    assert!(export.contains(&english_sha), "{export}");
    assert!(!export.contains("ALICE-PRIVATE"), "{export}");
    assert!(
        run(&["audit", "verify", "--config", config_arg])
            .status
            .success()
    );

    // A post without a capture (imported) says so, with exit 1.
    let file = dir.join("posts.jsonl");
    std::fs::write(
        &file,
        "{\"id\": \"i1\", \"published_at\": \"2024-05-01T12:00:00Z\", \"text\": \"acme imported\"}\n",
    )
    .unwrap();
    assert!(import(&config, "utf8", &file, &[]).status.success());
    let imported = run(&[
        "raw",
        &vigil_core::post_id("utf8", "i1"),
        "--config",
        config_arg,
    ]);
    assert_eq!(imported.status.code(), Some(1));
    assert!(stderr(&imported).contains("has no raw capture"));
    let unknown = run(&["raw", "0000000000000000", "--config", config_arg]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no post"), "{}", stderr(&unknown));

    // `vigil audit verify` re-hashes every capture: a changed byte is named by hash.
    let verify = run(&["audit", "verify", "--config", config_arg]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    assert!(
        stdout(&verify).contains("; 1 raw captures ("),
        "{}",
        stdout(&verify)
    );
    let db = rusqlite::Connection::open(data_dir.join("vigil.db")).unwrap();
    let changed = db
        .execute("UPDATE raw_captures SET data = X'00' || data", [])
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    let verify = run(&["audit", "verify", "--config", config_arg]);
    assert_eq!(verify.status.code(), Some(1), "{}", stdout(&verify));
    let text = stdout(&verify);
    assert!(
        text.contains("raw captures DAMAGED: 1 of 1"),
        "{text}{}",
        stderr(&verify)
    );
    assert!(text.contains(&vigil_core::sha256_hex(&gbk_page)), "{text}");
}

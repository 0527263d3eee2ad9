//! `honour_deletions` end to end: the real daemon crawls an RSS feed from a loopback
//! server, re-checks each post's page every second, and when one page starts answering
//! 404 (its author deleted it) the post leaves the store and the index, a tombstone and
//! an `erasure` audit entry by `honour_deletions` stay, and crawling the feed again
//! does not bring it back. (What proves nothing — 5xx, robots.txt — is tested in
//! crawler/tests/recheck.rs.)

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;

#[test]
fn posts_deleted_at_the_source_are_erased_here() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let feeds: SharedFeeds = Arc::new(Mutex::new(FeedState::default()));
    feeds.lock().unwrap().english = vec![
        item("keep-1", "acme kettle review, works fine", 30),
        item("gone-2", "acme kettle burned my hand, avoid", 20),
        item("keep-3", "acme kettle arrived today", 10),
    ];
    let base = start_feed_server(feeds.clone());
    let config = acme_config(
        dir,
        "acme",
        &format!(
            "[[sources]]\nname = \"en\"\nkind = \"rss\"\nurl = \"{base}/en.rss\"\ninterval = \"1h\"\n\
             honour_deletions = true\nrecheck_every = \"1s\"\n\
             [crawler]\nallow_private_addresses = true\nper_host_interval = \"10ms\"\n"
        ),
    );
    let log = dir.join("daemon.log");
    let mut daemon = spawn_daemon(&config, &log);
    wait_for("the three posts indexed", Duration::from_secs(60), || {
        search_json(&config, "kettle", &[]).0 == 3
    });
    let gone_id = vigil_core::post_id("en", "gone-2");

    // The author deletes one post: its page now answers 404.
    feeds.lock().unwrap().deleted.push("gone-2".into());
    wait_for("the deleted post erased", Duration::from_secs(60), || {
        search_json(&config, "kettle", &[]).0 == 2
    });
    let (_, ids, _) = search_json(&config, "kettle", &[]);
    assert!(!ids.contains(&gone_id), "{ids:?}");
    // The others are still re-checked and still there.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(search_json(&config, "kettle", &[]).0, 2);
    daemon.terminate();
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("honour_deletions: re-checked posts at the source"),
        "{log_text}"
    );

    // Audited as an erasure by honour_deletions, with hashes only.
    let erasure = audit_entry(&config, "erasure");
    assert_eq!(erasure["actor"], "honour_deletions");
    let payload = erasure["payload"].as_str().unwrap();
    assert!(payload.contains("deleted at the source (en)"), "{payload}");
    assert!(!payload.contains("burned my hand"), "{payload}");

    // The feed still lists it: crawling again does not bring it back (tombstone).
    let crawl = run(&["crawl", "--once", "--config", config.to_str().unwrap()]);
    assert!(crawl.status.success(), "{}", stderr(&crawl));
    assert_eq!(search_json(&config, "kettle", &[]).0, 2);
    assert!(
        run(&["audit", "verify", "--config", config.to_str().unwrap()])
            .status
            .success()
    );
}

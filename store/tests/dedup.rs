//! Near-duplicate links at ingest: copies are stored, searchable and linked to their
//! original, and alert windows count the original only.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{at, post};
use vigil_core::{AlertStore, Post, sha256_hex};
use vigil_store::{ErasureTarget, Store};

const RECALL: &str = "Acme has recalled 40,000 kettles after reports that the base can \
     overheat and melt; owners should stop using them and ask for a refund.";
const RECALL_ZH: &str =
    "艾克米宣布召回四万台电水壶，原因是底座可能过热熔化，请用户立即停止使用并申请退款。";
const REVIEW: &str = "Two years with my Acme kettle and it still works perfectly; the lid \
     is a little stiff but it boils a full litre in under three minutes.";

/// A post from `source` with `text` (and a content hash of that text, as the crawler
/// computes it), published at `published_at`.
fn text_post(source: &str, id: &str, text: &str, published_at: DateTime<Utc>) -> Post {
    let mut post = post(source, id, &["acme"], published_at);
    post.title = None;
    post.text = text.to_string();
    post.provenance.content_hash = sha256_hex(format!("\n{text}"));
    post
}

fn stored_link(store: &Store, post: &Post) -> Option<String> {
    store
        .get_post(&post.id)
        .unwrap()
        .expect("post is stored")
        .post
        .duplicate_of
}

#[test]
fn copies_across_sources_are_stored_and_linked_to_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let original = text_post("news", "1", RECALL, at(9, 0, 0));
    let report = store
        .ingest(std::slice::from_ref(&original), None, "crawler")
        .unwrap();
    assert_eq!((report.stored.len(), report.copies), (1, 0));

    let credited = text_post(
        "blog",
        "b1",
        &format!("{RECALL} via @newsdesk"),
        at(9, 30, 0),
    );
    let linked = text_post(
        "social",
        "s1",
        &format!("RT @newsdesk: {RECALL} https://t.co/Zx81kQ"),
        at(10, 0, 0),
    );
    let unrelated = text_post("forum", "f1", REVIEW, at(10, 5, 0));
    let report = store
        .ingest(
            &[credited.clone(), linked.clone(), unrelated.clone()],
            None,
            "crawler",
        )
        .unwrap();
    assert_eq!(report.stored.len(), 3, "copies are stored, not dropped");
    assert_eq!(report.duplicates, 0);
    assert_eq!(report.copies, 2);
    // The report carries the decision, for the stages downstream (index).
    let links: Vec<Option<&str>> = report
        .stored
        .iter()
        .map(|stored| stored.post.duplicate_of.as_deref())
        .collect();
    assert_eq!(
        links,
        [Some(original.id.as_str()), Some(original.id.as_str()), None]
    );
    assert_eq!(stored_link(&store, &credited), Some(original.id.clone()));
    assert_eq!(stored_link(&store, &linked), Some(original.id.clone()));
    assert_eq!(stored_link(&store, &unrelated), None);
    assert_eq!(stored_link(&store, &original), None);
    // Reads by seq carry the link too.
    let after = store.posts_after(0, 10).unwrap();
    assert_eq!(
        after[1].post.duplicate_of.as_deref(),
        Some(original.id.as_str())
    );

    assert_eq!(
        store.duplicates_of(&original.id).unwrap(),
        [credited.id.clone(), linked.id.clone()]
    );
    assert!(store.duplicates_of(&credited.id).unwrap().is_empty());
    assert!(store.duplicates_of("nope").unwrap().is_empty());

    // The audit entry counts the copies.
    let mut last_payload = String::new();
    store
        .audit_entries(None, None, |entry| {
            last_payload = entry.payload.clone();
            Ok(())
        })
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&last_payload).unwrap();
    assert_eq!(payload["copies"], 2);
    assert_eq!(payload["stored"], 3);
}

#[test]
fn chinese_reposts_link_to_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let original = text_post("weibo", "w1", RECALL_ZH, at(9, 0, 0));
    let reposts = [
        text_post("weibo", "w2", &format!("{RECALL_ZH}转发"), at(9, 1, 0)),
        text_post(
            "weibo",
            "w3",
            &format!("转发微博 //@厨房达人: {RECALL_ZH}😡[怒]"),
            at(9, 2, 0),
        ),
    ];
    store
        .ingest(std::slice::from_ref(&original), None, "crawler")
        .unwrap();
    let report = store.ingest(&reposts, None, "crawler").unwrap();
    assert_eq!(report.copies, 2);
    for repost in &reposts {
        assert_eq!(stored_link(&store, repost), Some(original.id.clone()));
    }
}

#[test]
fn copies_within_one_batch_link_to_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let first = text_post("a", "1", RECALL, at(9, 0, 0));
    let second = text_post("b", "2", &format!("{RECALL} #recall"), at(9, 0, 1));
    let third = text_post("c", "3", &RECALL.replace(';', ","), at(9, 0, 2));
    let report = store
        .ingest(
            &[first.clone(), second.clone(), third.clone()],
            None,
            "crawler",
        )
        .unwrap();
    assert_eq!((report.stored.len(), report.copies), (3, 2));
    assert_eq!(stored_link(&store, &first), None);
    assert_eq!(stored_link(&store, &second), Some(first.id.clone()));
    assert_eq!(stored_link(&store, &third), Some(first.id.clone()));
}

#[test]
fn links_are_flat_and_exact_copies_match_at_any_age() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let original = text_post("news", "1", RECALL, at(9, 0, 0));
    let copy = text_post("blog", "2", &format!("{RECALL} via @news"), at(10, 0, 0));
    store
        .ingest(&[original.clone(), copy.clone()], None, "crawler")
        .unwrap();
    // Same content as the copy: linked to the copy's original, not to the copy.
    let copy_of_copy = text_post("forum", "3", &copy.text, at(11, 0, 0));
    store
        .ingest(std::slice::from_ref(&copy_of_copy), None, "crawler")
        .unwrap();
    assert_eq!(
        stored_link(&store, &copy_of_copy),
        Some(original.id.clone())
    );

    // A month later: the same text verbatim (same content hash) is still a copy...
    let month = Duration::days(30);
    let verbatim = text_post("news2", "4", RECALL, at(9, 0, 0) + month);
    // ...a near-duplicate is not: outside the 7-day window it is a new occurrence.
    let near = text_post(
        "news3",
        "5",
        &format!("{RECALL} via @wire"),
        at(9, 0, 0) + month,
    );
    let report = store
        .ingest(&[verbatim.clone(), near.clone()], None, "crawler")
        .unwrap();
    assert_eq!(report.copies, 1);
    assert_eq!(stored_link(&store, &verbatim), Some(original.id.clone()));
    assert_eq!(stored_link(&store, &near), None);
    // ...and within the window the same edit is a copy.
    let near_in_window = text_post(
        "news4",
        "6",
        &format!("{RECALL} via @agency"),
        at(9, 0, 0) + Duration::days(6),
    );
    store
        .ingest(std::slice::from_ref(&near_in_window), None, "crawler")
        .unwrap();
    assert_eq!(
        stored_link(&store, &near_in_window),
        Some(original.id.clone())
    );
    assert_eq!(store.duplicates_of(&original.id).unwrap().len(), 4);
}

#[test]
fn short_or_unrelated_texts_are_never_linked() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Two people can write the same short sentence; same text, same content hash.
    let first = text_post("forum", "1", "Acme kettle broke again!", at(9, 0, 0));
    let second = text_post("social", "2", "Acme kettle broke again!", at(9, 1, 0));
    let third = text_post("social", "3", "acme KETTLE broke again", at(9, 2, 0));
    let review = text_post("reviews", "4", REVIEW, at(9, 3, 0));
    let recall = text_post("news", "5", RECALL, at(9, 4, 0));
    let report = store
        .ingest(&[first, second, third, review, recall], None, "crawler")
        .unwrap();
    assert_eq!((report.stored.len(), report.copies), (5, 0));
    assert!(report.stored.iter().all(|s| s.post.duplicate_of.is_none()));
}

#[test]
fn exact_repeats_are_still_dropped_and_caller_links_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let original = text_post("news", "1", RECALL, at(9, 0, 0));
    store
        .ingest(std::slice::from_ref(&original), None, "crawler")
        .unwrap();
    // The same item again: dropped as before, not stored as a copy of itself.
    let report = store
        .ingest(std::slice::from_ref(&original), None, "crawler")
        .unwrap();
    assert_eq!(
        (report.stored.len(), report.duplicates, report.copies),
        (0, 1, 0)
    );
    // The store decides links; whatever the caller set is replaced.
    let mut claims = text_post("blog", "2", REVIEW, at(9, 5, 0));
    claims.duplicate_of = Some(original.id.clone());
    let report = store.ingest(&[claims.clone()], None, "crawler").unwrap();
    assert_eq!(report.stored[0].post.duplicate_of, None);
    assert_eq!(stored_link(&store, &claims), None);
}

#[test]
fn alert_windows_count_and_quote_originals_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let original = text_post("news", "1", RECALL, at(9, 0, 0));
    let copies: Vec<Post> = (0..5)
        .map(|i| {
            text_post(
                "social",
                &format!("c{i}"),
                &format!("{RECALL} via @user{i}"),
                at(9, 10 + i, 0),
            )
        })
        .collect();
    let review = text_post("reviews", "r", REVIEW, at(9, 30, 0));
    let mut all = vec![original.clone()];
    all.extend(copies.iter().cloned());
    all.push(review.clone());
    let report = store.ingest(&all, None, "crawler").unwrap();
    assert_eq!((report.stored.len(), report.copies), (7, 5));

    assert_eq!(
        store
            .bucket_counts("acme", at(9, 0, 0), at(10, 0, 0), 1800)
            .unwrap(),
        vec![1, 1],
        "the recall counts once, in its original's bucket"
    );
    let evidence = store
        .window_posts("acme", at(9, 0, 0), at(10, 0, 0), 100)
        .unwrap();
    let ids: Vec<&str> = evidence.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, [review.id.as_str(), original.id.as_str()]);
    // The copies are still there for search and reads.
    assert_eq!(store.post_count().unwrap(), 7);
}

#[test]
fn erasing_an_original_promotes_its_oldest_copy() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut original = text_post("news", "1", RECALL, at(9, 0, 0));
    original.author = Some("@private".into());
    let first_copy = text_post("blog", "2", &format!("{RECALL} via @a"), at(9, 10, 0));
    let second_copy = text_post("social", "3", &format!("{RECALL} via @b"), at(9, 20, 0));
    store
        .ingest(
            &[original.clone(), first_copy.clone(), second_copy.clone()],
            None,
            "crawler",
        )
        .unwrap();
    assert_eq!(
        store
            .bucket_counts("acme", at(9, 0, 0), at(10, 0, 0), 3600)
            .unwrap(),
        vec![1]
    );

    let report = store
        .erase_posts(&ErasureTarget::Author("@private".into()), "request", "dpo")
        .unwrap();
    assert_eq!(report.ids, [original.id.clone()]);
    assert_eq!(
        report.relinked,
        [first_copy.id.clone(), second_copy.id.clone()]
    );
    assert_eq!(
        stored_link(&store, &first_copy),
        None,
        "promoted to original"
    );
    assert_eq!(
        stored_link(&store, &second_copy),
        Some(first_copy.id.clone())
    );
    assert_eq!(
        store.duplicates_of(&first_copy.id).unwrap(),
        std::slice::from_ref(&second_copy.id)
    );
    assert!(store.duplicates_of(&original.id).unwrap().is_empty());
    // The story still counts once, now through the promoted copy.
    assert_eq!(
        store
            .bucket_counts("acme", at(9, 0, 0), at(10, 0, 0), 3600)
            .unwrap(),
        vec![1]
    );
    let evidence = store
        .window_posts("acme", at(9, 0, 0), at(10, 0, 0), 10)
        .unwrap();
    assert_eq!(evidence.len(), 1);
    assert_eq!(evidence[0].id, first_copy.id);
    // New copies find the promoted original.
    let later = text_post("forum", "4", &format!("{RECALL} via @c"), at(9, 40, 0));
    store
        .ingest(std::slice::from_ref(&later), None, "crawler")
        .unwrap();
    assert_eq!(stored_link(&store, &later), Some(first_copy.id.clone()));
    assert!(store.verify_audit().unwrap().is_intact());
}

#[test]
fn retention_purge_of_an_original_keeps_later_copies_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let original = text_post("news", "1", RECALL, at(8, 0, 0));
    let early_copy = text_post("blog", "2", &format!("{RECALL} via @a"), at(8, 30, 0));
    let late_copy = text_post("social", "3", &format!("{RECALL} via @b"), at(11, 0, 0));
    store
        .ingest(
            &[original.clone(), early_copy.clone(), late_copy.clone()],
            None,
            "crawler",
        )
        .unwrap();
    let report = store
        .purge_published_before(at(10, 0, 0), "retention")
        .unwrap();
    assert_eq!(report.ids, [original.id.clone(), early_copy.id.clone()]);
    assert_eq!(report.relinked, std::slice::from_ref(&late_copy.id));
    assert_eq!(stored_link(&store, &late_copy), None);
    assert_eq!(
        store
            .bucket_counts("acme", at(10, 0, 0), at(12, 0, 0), 7200)
            .unwrap(),
        vec![1]
    );
}

#[test]
fn two_processes_see_each_others_originals_and_erasures() {
    let dir = tempfile::tempdir().unwrap();
    // Two handles on one file stand for the daemon and a CLI import: each has its own
    // in-memory near-duplicate map.
    let daemon = Store::open(dir.path()).unwrap();
    let cli = Store::open(dir.path()).unwrap();
    let mut original = text_post("news", "1", RECALL, at(9, 0, 0));
    original.author = Some("@private".into());
    // The CLI's map is loaded (empty) before the daemon stores the original.
    cli.ingest(
        &[text_post("forum", "0", REVIEW, at(8, 0, 0))],
        None,
        "import",
    )
    .unwrap();
    daemon.ingest(&[original.clone()], None, "crawler").unwrap();
    let copy = text_post("blog", "2", &format!("{RECALL} via @a"), at(9, 10, 0));
    cli.ingest(std::slice::from_ref(&copy), None, "import")
        .unwrap();
    assert_eq!(stored_link(&cli, &copy), Some(original.id.clone()));

    // The daemon's map already holds the original; the CLI erases it, promoting the
    // copy. The daemon must not link new copies to the erased post.
    cli.erase_posts(&ErasureTarget::Author("@private".into()), "request", "dpo")
        .unwrap();
    let later = text_post("social", "3", &format!("{RECALL} via @b"), at(9, 20, 0));
    daemon
        .ingest(std::slice::from_ref(&later), None, "crawler")
        .unwrap();
    assert_eq!(stored_link(&daemon, &later), Some(copy.id.clone()));
}

/// The map keeps each original's publication second and a digest of its content hash
/// (no query per candidate): the rule must come out the same whether the original was
/// recorded by this process's ingest or loaded from the file by a later one.
#[test]
fn the_rule_holds_for_originals_loaded_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let original = text_post("news", "1", RECALL, at(9, 0, 0));
    drop_store_after(dir.path(), |store| {
        store
            .ingest(std::slice::from_ref(&original), None, "crawler")
            .unwrap();
    });
    // A new process: the original is only in the file.
    let store = Store::open(dir.path()).unwrap();
    let month = Duration::days(30);
    let verbatim = text_post("news2", "2", RECALL, at(9, 0, 0) + month);
    let near_late = text_post(
        "news3",
        "3",
        &format!("{RECALL} via @wire"),
        at(9, 0, 0) + month,
    );
    let near_early = text_post(
        "news4",
        "4",
        &format!("{RECALL} via @agency"),
        at(9, 0, 0) - Duration::days(6),
    );
    let report = store
        .ingest_owned(
            vec![verbatim.clone(), near_late.clone(), near_early.clone()],
            None,
            "crawler",
        )
        .unwrap();
    assert_eq!(report.copies, 2);
    assert_eq!(stored_link(&store, &verbatim), Some(original.id.clone()));
    assert_eq!(stored_link(&store, &near_late), None);
    assert_eq!(stored_link(&store, &near_early), Some(original.id.clone()));

    // Same text, another content hash (another title), two months on: outside every
    // window and not the same content, so a new original although its text is the
    // first one's.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let mut retitled = text_post("news5", "5", RECALL, at(9, 0, 0) + month * 2);
    retitled.provenance.content_hash = sha256_hex(format!("Recall\n{RECALL}"));
    let report = store
        .ingest_owned(vec![retitled.clone()], None, "crawler")
        .unwrap();
    assert_eq!((report.stored.len(), report.copies), (1, 0));
    assert_eq!(stored_link(&store, &retitled), None);
}

fn drop_store_after(path: &std::path::Path, body: impl FnOnce(&Store)) {
    let store = Store::open(path).unwrap();
    body(&store);
}

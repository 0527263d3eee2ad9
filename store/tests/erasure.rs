mod common;

use common::{at, post};
use vigil_core::{AlertStore, EvidencePost, NewIncident, Severity, Trigger};
use vigil_store::{ErasureTarget, Store};

#[test]
fn erasure_by_author_removes_content_leaves_tombstone_and_blocks_recapture() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut victim = post("forum", "1", &["acme"], at(9, 0, 0));
    victim.author = Some("@private".into());
    let mut other_by_victim = post("news", "2", &["acme"], at(9, 5, 0));
    other_by_victim.author = Some("@private".into());
    let bystander = post("forum", "3", &["acme"], at(9, 10, 0));
    let report = store
        .ingest(
            &[victim.clone(), other_by_victim.clone(), bystander.clone()],
            None,
            "crawler",
        )
        .unwrap();
    let incident = store
        .create_incident(NewIncident {
            rule: "neg".into(),
            brand: "acme".into(),
            severity: Severity::Warning,
            opened_at: at(9, 30, 0),
            response_deadline: at(9, 30, 0) + chrono::Duration::hours(24),
            trigger: Trigger {
                metric: "keyword".into(),
                value: 1.0,
                threshold: 1.0,
                baseline: None,
                window_secs: 3600,
                baseline_secs: None,
                mentions: 3,
                explanation: "keyword".into(),
                context: Default::default(),
            },
            evidence: vec![EvidencePost {
                id: victim.id.clone(),
                url: victim.url.clone(),
                source: "forum".into(),
                author: victim.author.clone(),
                published_at: victim.published_at,
                text: victim.text.clone(),
                label: None,
                score: None,
                reach: None,
                lang: None,
            }],
        })
        .unwrap();

    let erased = store
        .erase_posts(
            &ErasureTarget::Author("@private".into()),
            "GDPR art. 17 request #12",
            "dpo",
        )
        .unwrap();
    assert_eq!(
        erased.ids,
        vec![victim.id.clone(), other_by_victim.id.clone()]
    );
    assert_eq!(
        erased.seqs,
        vec![report.stored[0].seq, report.stored[1].seq]
    );
    assert!(erased.audit_seq.is_some());
    assert_eq!(store.get_post(&victim.id).unwrap(), None);
    assert!(store.get_post(&bystander.id).unwrap().is_some());
    assert_eq!(store.post_count().unwrap(), 1);
    // Brand windows no longer see it.
    assert_eq!(
        store
            .bucket_counts("acme", at(9, 0, 0), at(10, 0, 0), 3600)
            .unwrap(),
        vec![1]
    );
    // Evidence quoting it is scrubbed.
    let scrubbed = store.incident(incident.id).unwrap().unwrap();
    assert_eq!(scrubbed.evidence[0].text, "[erased]");
    assert_eq!(scrubbed.evidence[0].author, None);

    // Crawling it again stores nothing; new posts get fresh seqs.
    let again = store
        .ingest(
            &[victim.clone(), post("forum", "4", &["acme"], at(9, 20, 0))],
            None,
            "crawler",
        )
        .unwrap();
    assert_eq!(again.duplicates, 1);
    assert_eq!(again.stored.len(), 1);
    assert!(again.stored[0].seq > report.stored[2].seq);

    // The audit entry names the ids and reason, never the author.
    let mut erasure_payload = None;
    store
        .audit_entries(None, None, |entry| {
            if entry.kind == "erasure" {
                erasure_payload = Some(entry.payload.clone());
            }
            Ok(())
        })
        .unwrap();
    let payload = erasure_payload.unwrap();
    assert!(payload.contains(&victim.id));
    assert!(payload.contains("GDPR art. 17"));
    assert!(!payload.contains("@private"));
    assert!(store.verify_audit().unwrap().is_intact());
}

#[test]
fn erasure_by_url_matches_canonical_form() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut target = post("news", "1", &["acme"], at(9, 0, 0));
    target.url = Some("https://news.example/story?utm_source=tw".into());
    target.canonical_url = vigil_core::canonical_url("https://news.example/story");
    store.ingest(&[target.clone()], None, "crawler").unwrap();
    let erased = store
        .erase_posts(
            &ErasureTarget::Url("https://NEWS.example/story#top".into()),
            "request",
            "dpo",
        )
        .unwrap();
    assert_eq!(erased.ids, vec![target.id]);
    let none = store
        .erase_posts(
            &ErasureTarget::Url("https://news.example/other".into()),
            "request",
            "dpo",
        )
        .unwrap();
    assert!(none.ids.is_empty());
    assert_eq!(none.audit_seq, None);
}

#[test]
fn retention_purges_old_posts_and_seq_is_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let posts: Vec<_> = (0..4)
        .map(|i| post("news", &i.to_string(), &["acme"], at(9 + i, 0, 0)))
        .collect();
    store.ingest(&posts, None, "crawler").unwrap();
    // Purge everything, including the newest post: its seq must still not come back.
    let purged = store
        .purge_published_before(at(23, 0, 0), "retention")
        .unwrap();
    assert_eq!(purged.seqs, vec![1, 2, 3, 4]);
    assert_eq!(store.post_count().unwrap(), 0);
    assert_eq!(store.max_seq().unwrap(), 0);
    let next = store
        .ingest(
            &[post("news", "new", &["acme"], at(23, 30, 0))],
            None,
            "crawler",
        )
        .unwrap();
    assert_eq!(next.stored[0].seq, 5);
}

/// Until schema version 3 a trigger kept erased posts out; now ingest checks the
/// tombstones itself. Neither entry point, nor a new process, nor a batch that repeats
/// the erased post among new ones may bring it back, whether erased or purged.
#[test]
fn erased_and_purged_posts_never_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut erased = post("forum", "1", &["acme"], at(9, 0, 0));
    erased.author = Some("@gone".into());
    let purged = post("news", "2", &["acme"], at(1, 0, 0));
    let kept = post("news", "3", &["acme"], at(12, 0, 0));
    store
        .ingest(
            &[erased.clone(), purged.clone(), kept.clone()],
            None,
            "crawler",
        )
        .unwrap();
    store
        .erase_posts(&ErasureTarget::Author("@gone".into()), "request", "dpo")
        .unwrap();
    store
        .purge_published_before(at(2, 0, 0), "retention")
        .unwrap();
    assert_eq!(store.tombstoned_ids().unwrap().len(), 2);

    let fresh = post("news", "4", &["acme"], at(13, 0, 0));
    let report = store
        .ingest_owned(
            vec![
                erased.clone(),
                fresh.clone(),
                purged.clone(),
                erased.clone(),
            ],
            None,
            "crawler",
        )
        .unwrap();
    assert_eq!((report.stored.len(), report.duplicates), (1, 3));
    assert_eq!(report.stored[0].post.id, fresh.id);
    assert_eq!(
        report.stored[0].seq, 4,
        "seqs of erased posts are not reused"
    );

    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let report = store
        .ingest(&[purged.clone(), erased.clone()], None, "crawler")
        .unwrap();
    assert_eq!((report.stored.len(), report.duplicates), (0, 2));
    assert_eq!(store.get_post(&erased.id).unwrap(), None);
    assert_eq!(store.get_post(&purged.id).unwrap(), None);
    assert_eq!(store.post_count().unwrap(), 2);
}

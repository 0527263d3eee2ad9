mod common;

use common::{at, post, sentiment};
use vigil_core::Label;
use vigil_store::{ANALYST_BACKEND, ErasureTarget, Store, StoreError};

fn store_with_posts(dir: &std::path::Path) -> (Store, Vec<(i64, String)>) {
    let store = Store::open(dir).unwrap();
    let mut first = post("forum", "1", &["acme"], at(9, 0, 0));
    first.text = "The kettle is fine I guess".into();
    let mut second = post("forum", "2", &["acme", "globex"], at(9, 5, 0));
    second.text = "完全踩雷，再也不买了".into();
    second.lang = Some("zh".into());
    let report = store.ingest(&[first, second], None, "crawler").unwrap();
    let posts: Vec<(i64, String)> = report
        .stored
        .iter()
        .map(|p| (p.seq, p.post.id.clone()))
        .collect();
    store
        .set_sentiments(&[
            (posts[0].0, sentiment(Label::Positive, 0.4)),
            (posts[1].0, sentiment(Label::Neutral, 0.0)),
        ])
        .unwrap();
    (store, posts)
}

#[test]
fn a_correction_sets_the_label_records_the_model_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (store, posts) = store_with_posts(dir.path());
    let (seq, id) = &posts[0];

    let correction = store
        .correct_sentiment(id, Label::Negative, " dana ", "cli")
        .unwrap();
    assert_eq!(correction.by, "dana");
    assert_eq!(correction.label, Label::Negative);
    let model = correction
        .model
        .as_ref()
        .expect("the model's verdict is kept");
    assert_eq!((model.label, model.score), (Label::Positive, 0.4));
    assert_eq!(model.backend, "lexicon");

    let stored = store.get_post(id).unwrap().unwrap();
    let sentiment = stored.post.sentiment.unwrap();
    assert_eq!(sentiment.label, Label::Negative);
    assert_eq!(sentiment.backend, ANALYST_BACKEND);
    assert_eq!(sentiment.version, "by:dana");
    assert_eq!((sentiment.score, sentiment.confidence), (-1.0, 1.0));

    // The index is told to re-add the post.
    let queued = store.pending_refresh(10).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].seq, queued[0].post_id.as_deref()),
        (*seq, Some(id.as_str()))
    );

    // Audited, with who and what.
    let mut entries = Vec::new();
    store
        .audit_entries(None, None, |entry| {
            entries.push(entry.clone());
            Ok(())
        })
        .unwrap();
    let entry = entries
        .iter()
        .find(|e| e.kind == "sentiment_corrected")
        .expect("an audit entry");
    assert_eq!(entry.actor, "dana");
    assert_eq!(entry.seq, correction.audit_seq);
    let payload: serde_json::Value = serde_json::from_str(&entry.payload).unwrap();
    assert_eq!(payload["post_id"], id.as_str());
    assert_eq!(payload["label"], "negative");
    assert_eq!(payload["model"]["label"], "positive");
    assert!(store.verify_audit().unwrap().first_bad.is_none());
}

#[test]
fn models_never_overwrite_a_correction_and_a_second_correction_keeps_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let (store, posts) = store_with_posts(dir.path());
    let (seq, id) = &posts[1];
    store
        .correct_sentiment(id, Label::Negative, "dana", "api")
        .unwrap();

    // The classifier's backlog pass and a re-scoring pass both leave it alone.
    store
        .set_sentiments(&[(*seq, sentiment(Label::Positive, 0.9))])
        .unwrap();
    assert_eq!(
        store
            .rescore(&[(*seq, sentiment(Label::Positive, 0.9))])
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .get_post(id)
            .unwrap()
            .unwrap()
            .post
            .sentiment
            .unwrap()
            .label,
        Label::Negative
    );

    let second = store
        .correct_sentiment(id, Label::Neutral, "lee", "cli")
        .unwrap();
    let model = second
        .model
        .expect("the first correction's record of the model");
    assert_eq!(
        model.label,
        Label::Neutral,
        "what the model said, not dana's label"
    );

    let history = store.corrections_of(id).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[0].by.as_str(), history[0].via.as_str()),
        ("dana", "api")
    );
    assert_eq!(history[1].label, Label::Neutral);
    assert!(history.iter().all(|c| c.audit_seq > 0));

    // Training sees the latest label once, with the text.
    let examples = store.corrected_examples().unwrap();
    assert_eq!(examples.len(), 1);
    assert_eq!(examples[0].label, Label::Neutral);
    assert_eq!(examples[0].text, "完全踩雷，再也不买了");
    assert_eq!(examples[0].brands, vec!["acme", "globex"]);
    assert_eq!(store.corrected_post_count().unwrap(), 1);
}

#[test]
fn bad_corrections_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, posts) = store_with_posts(dir.path());
    let error = store
        .correct_sentiment("no-such-post", Label::Negative, "dana", "cli")
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound(_)), "{error}");
    let error = store
        .correct_sentiment(&posts[0].1, Label::Negative, "  ", "cli")
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error}");
    assert!(store.pending_refresh(10).unwrap().is_empty());
    assert_eq!(store.corrected_post_count().unwrap(), 0);

    // An erased post cannot be corrected.
    store
        .erase_posts(
            &ErasureTarget::Author("@author_1".into()),
            "request",
            "test",
        )
        .unwrap();
    let error = store
        .correct_sentiment(&posts[0].1, Label::Negative, "dana", "cli")
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound(_)), "{error}");
}

#[test]
fn rescoring_replaces_other_models_and_queues_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let (store, posts) = store_with_posts(dir.path());
    let mut newer = sentiment(Label::Negative, -0.7);
    newer.backend = "learned".into();
    newer.version = "v2".into();

    assert_eq!(
        store
            .count_scored_by_other_model(&[("learned", "v2")], &[])
            .unwrap(),
        2
    );
    let page = store
        .scored_by_other_model(&[("learned", "v2")], &[], 0, 1)
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].seq, posts[0].0);

    assert_eq!(store.rescore(&[(posts[0].0, newer.clone())]).unwrap(), 1);
    assert_eq!(
        store
            .count_scored_by_other_model(&[("learned", "v2")], &[])
            .unwrap(),
        1
    );
    let rest = store
        .scored_by_other_model(&[("learned", "v2")], &[], 0, 10)
        .unwrap();
    assert_eq!(
        rest.iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![posts[1].0]
    );

    // A corrected post is not re-scored.
    store
        .correct_sentiment(&posts[1].1, Label::Positive, "dana", "cli")
        .unwrap();
    assert_eq!(
        store
            .count_scored_by_other_model(&[("learned", "v2")], &[])
            .unwrap(),
        0
    );

    let queued = store.pending_refresh(10).unwrap();
    assert_eq!(
        queued.iter().map(|item| item.seq).collect::<Vec<_>>(),
        vec![posts[0].0, posts[1].0]
    );
    // Re-queued while the index was busy with the first version: clearing the old
    // entry keeps the new one.
    store
        .correct_sentiment(&posts[1].1, Label::Negative, "lee", "cli")
        .unwrap();
    store.clear_refresh(&queued).unwrap();
    let left = store.pending_refresh(10).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].seq, posts[1].0);
    assert_eq!(left[0].rev, 2);
    store.clear_refresh(&left).unwrap();
    assert!(store.pending_refresh(10).unwrap().is_empty());
}

#[test]
fn corrections_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let (store, posts) = store_with_posts(dir.path());
        store
            .correct_sentiment(&posts[0].1, Label::Negative, "dana", "cli")
            .unwrap();
        posts[0].1.clone()
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.corrections_of(&id).unwrap().len(), 1);
    assert_eq!(store.pending_refresh(10).unwrap().len(), 1);
}

#[test]
fn rescoring_candidates_with_several_models_and_brands() {
    let dir = tempfile::tempdir().unwrap();
    let (store, posts) = store_with_posts(dir.path());
    // Both posts are scored by lexicon (the fixture's sentiment).
    let version = |i: usize| {
        store
            .get_post(&posts[i].1)
            .unwrap()
            .unwrap()
            .post
            .sentiment
            .unwrap()
    };
    let lexicon = version(0);
    let current = (lexicon.backend.as_str(), lexicon.version.as_str());
    let seqs = |page: Vec<vigil_core::StoredPost>| page.iter().map(|p| p.seq).collect::<Vec<_>>();

    // Lexicon is one of the models: nothing to do, unless a brand has its own model.
    assert_eq!(
        store
            .count_scored_by_other_model(&[("learned", "v2"), current], &[])
            .unwrap(),
        0
    );
    // Only the second post is of globex: it is looked at.
    assert_eq!(
        seqs(
            store
                .scored_by_other_model(&[current], &["globex"], 0, 10)
                .unwrap()
        ),
        vec![posts[1].0]
    );
    // Both are of acme.
    assert_eq!(
        store
            .count_scored_by_other_model(&[current], &["acme", "globex"])
            .unwrap(),
        2
    );
    // Paging by seq.
    assert_eq!(
        seqs(
            store
                .scored_by_other_model(&[current], &["acme"], posts[0].0, 10)
                .unwrap()
        ),
        vec![posts[1].0]
    );
    // A model list without lexicon takes both; an analyst's label takes it out.
    assert_eq!(
        store
            .count_scored_by_other_model(&[("learned", "v2")], &[])
            .unwrap(),
        2
    );
    store
        .correct_sentiment(&posts[1].1, Label::Positive, "dana", "cli")
        .unwrap();
    assert_eq!(
        store
            .count_scored_by_other_model(&[("learned", "v2")], &["globex"])
            .unwrap(),
        1
    );
}

#[test]
fn a_brands_uncorrected_posts_anchor_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let (store, posts) = store_with_posts(dir.path());
    // Newest first; both are acme's, only the second globex's.
    let acme = store.uncorrected_brand_posts("acme", 10).unwrap();
    assert_eq!(
        acme,
        [
            ("完全踩雷，再也不买了".to_string(), Some("zh".to_string())),
            (
                "The kettle is fine I guess".to_string(),
                Some("en".to_string())
            ),
        ]
    );
    assert_eq!(store.uncorrected_brand_posts("acme", 1).unwrap().len(), 1);
    assert_eq!(
        store.uncorrected_brand_posts("globex", 10).unwrap().len(),
        1
    );
    assert!(
        store
            .uncorrected_brand_posts("initech", 10)
            .unwrap()
            .is_empty()
    );
    // A corrected post is no longer one of them.
    store
        .correct_sentiment(&posts[1].1, Label::Positive, "dana", "cli")
        .unwrap();
    assert_eq!(
        store.uncorrected_brand_posts("acme", 10).unwrap(),
        [(
            "The kettle is fine I guess".to_string(),
            Some("en".to_string())
        )]
    );
}

//! Search behaviour on a real tantivy index in a temp dir.

use chrono::{DateTime, Duration, TimeZone, Utc};
use tempfile::TempDir;
use vigil_core::{Label, Post, Provenance, Query, Sentiment, StoredPost};
use vigil_index::{IndexError, SearchIndex, SearchRequest, SearchResults};

const HEAP: usize = 20_000_000;

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
}

struct PostSpec<'a> {
    seq: i64,
    id: &'a str,
    text: &'a str,
    source: &'a str,
    brands: &'a [&'a str],
    sentiment: Option<Label>,
    hours_after_base: i64,
}

impl Default for PostSpec<'_> {
    fn default() -> Self {
        Self {
            seq: 1,
            id: "p",
            text: "",
            source: "news",
            brands: &["acme"],
            sentiment: None,
            hours_after_base: 0,
        }
    }
}

fn post(spec: PostSpec<'_>) -> StoredPost {
    let published_at = base_time() + Duration::hours(spec.hours_after_base);
    StoredPost {
        seq: spec.seq,
        post: Post {
            id: spec.id.to_string(),
            source: spec.source.to_string(),
            external_id: spec.id.to_string(),
            url: Some(format!("https://example.com/{}", spec.id)),
            canonical_url: None,
            author: Some("alice".to_string()),
            title: None,
            text: spec.text.to_string(),
            lang: Some("en".to_string()),
            published_at,
            brands: spec.brands.iter().map(|b| b.to_string()).collect(),
            provenance: Provenance {
                fetched_at: published_at,
                fetch_url: "https://example.com/feed".to_string(),
                http_status: Some(200),
                content_hash: "00".to_string(),
                extraction: "rss:item".to_string(),
                raw_sha256: None,
            },
            sentiment: spec.sentiment.map(|label| Sentiment {
                label,
                score: match label {
                    Label::Negative => -0.75,
                    Label::Neutral => 0.0,
                    Label::Positive => 0.5,
                },
                confidence: 0.9,
                lang: "en".to_string(),
                backend: "lexicon".to_string(),
                version: "1".to_string(),
            }),
            engagement: Default::default(),
            duplicate_of: None,
        },
    }
}

fn simple(seq: i64, id: &str, text: &str) -> StoredPost {
    post(PostSpec {
        seq,
        id,
        text,
        hours_after_base: seq,
        ..PostSpec::default()
    })
}

/// An index in a temp dir holding `posts`, committed.
fn index_with(posts: &[StoredPost], words: &[&str]) -> (TempDir, SearchIndex) {
    let dir = tempfile::tempdir().unwrap();
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let index = SearchIndex::open(&dir.path().join("index"), &words).unwrap();
    let mut writer = index.writer(HEAP).unwrap();
    for p in posts {
        writer.add(p).unwrap();
    }
    writer
        .commit(posts.iter().map(|p| p.seq).max().unwrap_or(0))
        .unwrap();
    (dir, index)
}

fn search(index: &SearchIndex, query: &str) -> SearchResults {
    let query = Query::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    index.search(&SearchRequest::new(query, 100)).unwrap()
}

/// Ids of the hits, sorted, for order-independent comparison.
fn ids(index: &SearchIndex, query: &str) -> Vec<String> {
    let mut ids: Vec<String> = search(index, query)
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect();
    ids.sort();
    ids
}

fn english_corpus() -> Vec<StoredPost> {
    vec![
        simple(1, "a", "My Acme kettle explodes when boiling water"),
        simple(2, "b", "The toaster is exploding again, terrible"),
        simple(3, "c", "Acme announced a recall of the kettle line"),
        simple(4, "d", "Kettle acme, wrong order of words"),
        simple(5, "e", "Acmeville is a lovely town; send me an e-mail"),
    ]
}

#[test]
fn english_stemming_matches_inflections() {
    let (_dir, index) = index_with(&english_corpus(), &[]);
    assert_eq!(ids(&index, "exploded"), ["a", "b"]);
    assert_eq!(ids(&index, "EXPLODING"), ["a", "b"]);
    assert_eq!(ids(&index, "kettles"), ["a", "c", "d"]);
    assert!(ids(&index, "nonexistentword").is_empty());
}

#[test]
fn phrases_need_adjacent_words_in_order() {
    let (_dir, index) = index_with(&english_corpus(), &[]);
    assert_eq!(ids(&index, "\"acme kettle\""), ["a"]);
    assert_eq!(ids(&index, "\"kettle acme\""), ["d"]);
    // A term with a separator is a phrase of its parts.
    assert_eq!(ids(&index, "e-mail"), ["e"]);
    assert!(ids(&index, "\"acme recall\"").is_empty());
}

#[test]
fn boolean_and_or_not() {
    let (_dir, index) = index_with(&english_corpus(), &[]);
    assert_eq!(ids(&index, "acme AND kettle"), ["a", "c", "d"]);
    assert_eq!(ids(&index, "acme kettle recall"), ["c"]);
    assert_eq!(ids(&index, "toaster OR recall"), ["b", "c"]);
    assert_eq!(ids(&index, "kettle NOT recall"), ["a", "d"]);
    assert_eq!(ids(&index, "NOT kettle"), ["b", "e"]);
    // Regression, tantivy#2811: a phrase under NOT tripped a debug assertion in
    // PhraseScorer (panic in debug builds).
    assert_eq!(ids(&index, "(toaster OR town) AND NOT e-mail"), ["b"]);
    assert_eq!(ids(&index, "acme NOT \"acme kettle\""), ["c", "d"]);
    assert_eq!(ids(&index, "NOT NOT toaster"), ["b"]);
}

#[test]
fn wildcard_prefix_and_infix() {
    let (_dir, index) = index_with(&english_corpus(), &[]);
    assert_eq!(ids(&index, "acm*"), ["a", "c", "d", "e"]);
    assert_eq!(ids(&index, "*ville"), ["e"]);
    // The stem of the prefix is accepted too: "explode" is indexed as "explod".
    assert_eq!(ids(&index, "explode*"), ["a", "b"]);
    assert!(ids(&index, "zz*").is_empty());
}

#[test]
fn all_query_is_newest_first_with_total() {
    let (_dir, index) = index_with(&english_corpus(), &[]);
    let results = search(&index, "*");
    assert_eq!(results.total, 5);
    let order: Vec<&str> = results.hits.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(order, ["e", "d", "c", "b", "a"]);
}

#[test]
fn relevance_orders_non_all_queries() {
    let posts = vec![
        simple(
            1,
            "weak",
            "kettle mentioned once in a long post about many other kitchen things",
        ),
        simple(2, "strong", "kettle kettle kettle"),
    ];
    let (_dir, index) = index_with(&posts, &[]);
    let results = search(&index, "kettle");
    assert_eq!(results.hits[0].id, "strong");
    assert!(results.hits[0].relevance > results.hits[1].relevance);
}

#[test]
fn chinese_brand_in_dictionary_and_common_words() {
    let posts = vec![
        simple(1, "zh1", "我买的艾克米水壶爆炸了"),
        simple(2, "zh2", "公司宣布召回这批产品"),
        simple(3, "zh3", "今天天气很好"),
        simple(4, "zh4", "安心宝的客服很差"),
    ];
    let (_dir, index) = index_with(&posts, &["艾克米", "安心宝"]);
    assert_eq!(ids(&index, "安心宝"), ["zh4"]);
    assert_eq!(ids(&index, "艾克米"), ["zh1"]);
    assert_eq!(ids(&index, "水壶"), ["zh1"]);
    assert_eq!(ids(&index, "爆炸"), ["zh1"]);
    assert_eq!(ids(&index, "召回"), ["zh2"]);
    assert_eq!(ids(&index, "艾克米 AND 爆炸"), ["zh1"]);
    assert_eq!(ids(&index, "艾克米 OR 召回"), ["zh1", "zh2"]);
    assert!(ids(&index, "手机").is_empty());
    assert_eq!(ids(&index, "艾克*"), ["zh1"]);
}

#[test]
fn chinese_brand_missing_from_dictionary_is_still_found() {
    // Indexed without the brand in the dictionary (e.g. added to config later).
    let posts = vec![
        simple(1, "zh1", "我买的艾克米水壶爆炸了"),
        simple(2, "zh2", "克米是另一个词"),
    ];
    let (_dir, index) = index_with(&posts, &[]);
    assert_eq!(ids(&index, "艾克米"), ["zh1"]);
    assert_eq!(ids(&index, "\"米水\""), ["zh1"]);
    // Only the dictionary a reopened index is given changes, not the documents.
    drop(index);
}

#[test]
fn mixed_chinese_and_english_post() {
    let posts = vec![
        simple(1, "mix", "我的Acme水壶 exploded 了!"),
        simple(2, "en", "acme kettles are fine"),
    ];
    let (_dir, index) = index_with(&posts, &["艾克米"]);
    assert_eq!(ids(&index, "acme"), ["en", "mix"]);
    assert_eq!(ids(&index, "acme 水壶"), ["mix"]);
    assert_eq!(ids(&index, "acme水壶"), ["mix"]);
    assert_eq!(ids(&index, "explodes"), ["mix"]);
    assert_eq!(ids(&index, "水壶 OR kettle"), ["en", "mix"]);
}

#[test]
fn title_is_searchable() {
    let mut with_title = simple(1, "t", "body without the word");
    with_title.post.title = Some("Acme Recall Announced".to_string());
    let (_dir, index) = index_with(&[with_title, simple(2, "u", "nothing")], &[]);
    assert_eq!(ids(&index, "recall"), ["t"]);
    assert_eq!(ids(&index, "\"recall announced\""), ["t"]);
    let hit = &search(&index, "recall").hits[0];
    assert_eq!(hit.title.as_deref(), Some("Acme Recall Announced"));
}

fn filter_corpus() -> Vec<StoredPost> {
    vec![
        post(PostSpec {
            seq: 1,
            id: "n1",
            text: "kettle news",
            source: "news",
            brands: &["acme"],
            sentiment: Some(Label::Negative),
            hours_after_base: 0,
        }),
        post(PostSpec {
            seq: 2,
            id: "n2",
            text: "kettle review",
            source: "forum",
            brands: &["acme", "globex"],
            sentiment: Some(Label::Positive),
            hours_after_base: 24,
        }),
        post(PostSpec {
            seq: 3,
            id: "n3",
            text: "kettle thoughts",
            source: "forum",
            brands: &["globex"],
            sentiment: None,
            hours_after_base: 48,
        }),
    ]
}

fn filtered(index: &SearchIndex, edit: impl FnOnce(&mut SearchRequest)) -> Vec<String> {
    let mut request = SearchRequest::new(Query::parse("kettle").unwrap(), 100);
    edit(&mut request);
    let results = index.search(&request).unwrap();
    assert_eq!(results.total as usize, results.hits.len());
    let mut ids: Vec<String> = results.hits.into_iter().map(|h| h.id).collect();
    ids.sort();
    ids
}

#[test]
fn filters_by_brand_source_sentiment_and_time() {
    let (_dir, index) = index_with(&filter_corpus(), &[]);
    assert_eq!(filtered(&index, |_| {}), ["n1", "n2", "n3"]);
    assert_eq!(
        filtered(&index, |r| r.brand = Some("acme".into())),
        ["n1", "n2"]
    );
    assert_eq!(
        filtered(&index, |r| r.brand = Some("globex".into())),
        ["n2", "n3"]
    );
    assert!(filtered(&index, |r| r.brand = Some("initech".into())).is_empty());
    assert_eq!(
        filtered(&index, |r| r.source = Some("forum".into())),
        ["n2", "n3"]
    );
    assert_eq!(
        filtered(&index, |r| r.sentiment = Some(Label::Negative)),
        ["n1"]
    );
    assert_eq!(
        filtered(&index, |r| r.sentiment = Some(Label::Positive)),
        ["n2"]
    );
    assert!(filtered(&index, |r| r.sentiment = Some(Label::Neutral)).is_empty());
    assert_eq!(
        filtered(&index, |r| r.from = Some(base_time() + Duration::hours(1))),
        ["n2", "n3"]
    );
    assert_eq!(
        filtered(&index, |r| r.to = Some(base_time() + Duration::hours(24))),
        ["n1", "n2"]
    );
    assert_eq!(
        filtered(&index, |r| {
            r.from = Some(base_time() + Duration::hours(24));
            r.to = Some(base_time() + Duration::hours(24));
        }),
        ["n2"]
    );
    assert_eq!(
        filtered(&index, |r| {
            r.source = Some("forum".into());
            r.brand = Some("acme".into());
        }),
        ["n2"]
    );
    // Filters also apply to `*` and to NOT-only queries.
    assert_eq!(
        filtered(&index, |r| {
            r.query = Query::All;
            r.brand = Some("globex".into());
        }),
        ["n2", "n3"]
    );
    assert_eq!(
        filtered(&index, |r| {
            r.query = Query::parse("NOT review").unwrap();
            r.source = Some("forum".into());
        }),
        ["n3"]
    );
}

#[test]
fn filters_do_not_change_relevance() {
    let (_dir, index) = index_with(&filter_corpus(), &[]);
    let mut request = SearchRequest::new(Query::parse("kettle").unwrap(), 10);
    let unfiltered = index.search(&request).unwrap();
    request.source = Some("news".into());
    let filtered = index.search(&request).unwrap();
    let n1 = |results: &SearchResults| {
        results
            .hits
            .iter()
            .find(|h| h.id == "n1")
            .map(|h| h.relevance)
    };
    assert_eq!(n1(&unfiltered), n1(&filtered));
}

#[test]
fn hit_fields_round_trip() {
    let mut stored = filter_corpus().remove(1);
    stored.post.published_at =
        Utc.with_ymd_and_hms(2024, 5, 2, 12, 0, 0).unwrap() + Duration::milliseconds(123);
    let (_dir, index) = index_with(std::slice::from_ref(&stored), &[]);
    let results = search(&index, "review");
    let hit = &results.hits[0];
    assert_eq!(hit.id, "n2");
    assert_eq!(hit.url.as_deref(), Some("https://example.com/n2"));
    assert_eq!(hit.source, "forum");
    assert_eq!(hit.author.as_deref(), Some("alice"));
    assert_eq!(hit.published_at, stored.post.published_at);
    assert_eq!(hit.text, "kettle review");
    assert_eq!(hit.brands, ["acme", "globex"]);
    assert_eq!(hit.lang.as_deref(), Some("en"));
    let sentiment = hit.sentiment.as_ref().unwrap();
    assert_eq!(sentiment.label, Label::Positive);
    assert_eq!(sentiment.score, 0.5);

    let json: serde_json::Value = serde_json::to_value(&results).unwrap();
    assert_eq!(json["total"], 1);
    assert_eq!(json["hits"][0]["published_at"], "2024-05-02T12:00:00.123Z");
    assert_eq!(json["hits"][0]["sentiment"]["label"], "positive");
    let back: SearchResults = serde_json::from_value(json).unwrap();
    assert_eq!(back, results);
}

#[test]
fn pagination_keeps_total() {
    let posts: Vec<StoredPost> = (1..=25)
        .map(|i| simple(i, &format!("p{i:02}"), "kettle"))
        .collect();
    let (_dir, index) = index_with(&posts, &[]);
    let page = |query: &str, offset, limit| {
        let mut request = SearchRequest::new(Query::parse(query).unwrap(), limit);
        request.offset = offset;
        index.search(&request).unwrap()
    };
    let mut seen = Vec::new();
    for offset in [0, 10, 20] {
        let results = page("*", offset, 10);
        assert_eq!(results.total, 25);
        seen.extend(results.hits.into_iter().map(|h| h.id));
    }
    assert_eq!(seen.len(), 25);
    let expected: Vec<String> = (1..=25).rev().map(|i| format!("p{i:02}")).collect();
    assert_eq!(seen, expected);

    let mut by_relevance: Vec<String> = Vec::new();
    for offset in [0, 7, 14, 21] {
        let results = page("kettle", offset, 7);
        assert_eq!(results.total, 25);
        by_relevance.extend(results.hits.into_iter().map(|h| h.id));
    }
    by_relevance.sort();
    by_relevance.dedup();
    assert_eq!(by_relevance.len(), 25);

    let beyond = page("kettle", 100, 10);
    assert_eq!((beyond.total, beyond.hits.len()), (25, 0));
    let zero = page("kettle", 0, 0);
    assert_eq!((zero.total, zero.hits.len()), (25, 0));
    let huge = page("kettle", usize::MAX, usize::MAX);
    assert_eq!((huge.total, huge.hits.len()), (25, 0));
    let huge_limit = page("kettle", 20, usize::MAX);
    assert_eq!((huge_limit.total, huge_limit.hits.len()), (25, 5));
}

#[test]
fn adding_the_same_post_twice_keeps_one_document() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path(), &[]).unwrap();
    let mut writer = index.writer(HEAP).unwrap();
    let original = simple(1, "same", "old kettle text");
    writer.add(&original).unwrap();
    writer.add(&original).unwrap();
    writer.commit(1).unwrap();
    assert_eq!(index.doc_count().unwrap(), 1);

    // Replaying after a crash, with an updated version (e.g. now classified).
    let mut updated = original.clone();
    updated.post.text = "new toaster text".to_string();
    writer.add(&updated).unwrap();
    writer.commit(1).unwrap();
    assert_eq!(index.doc_count().unwrap(), 1);
    assert!(ids(&index, "kettle").is_empty());
    assert_eq!(ids(&index, "toaster"), ["same"]);
}

#[test]
fn delete_removes_a_post() {
    let (_dir, index) = index_with(&english_corpus(), &[]);
    let mut writer = index.writer(HEAP).unwrap();
    writer.delete("a").unwrap();
    writer.delete("no-such-id").unwrap();
    // Not visible before the commit.
    assert_eq!(index.doc_count().unwrap(), 5);
    writer.commit(5).unwrap();
    assert_eq!(index.doc_count().unwrap(), 4);
    assert_eq!(ids(&index, "exploded"), ["b"]);
}

#[test]
fn delete_all_then_re_add() {
    let (_dir, index) = index_with(&english_corpus(), &[]);
    let mut writer = index.writer(HEAP).unwrap();
    writer.delete_all().unwrap();
    writer.commit(0).unwrap();
    assert_eq!(index.doc_count().unwrap(), 0);
    assert_eq!(index.watermark().unwrap(), 0);
    assert_eq!(search(&index, "*").total, 0);

    for p in english_corpus().iter().take(2) {
        writer.add(p).unwrap();
    }
    writer.commit(2).unwrap();
    assert_eq!(index.doc_count().unwrap(), 2);
    assert_eq!(ids(&index, "exploded"), ["a", "b"]);
    assert_eq!(index.watermark().unwrap(), 2);
}

#[test]
fn watermark_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    {
        let index = SearchIndex::open(&path, &[]).unwrap();
        assert_eq!(index.watermark().unwrap(), 0);
        let mut writer = index.writer(HEAP).unwrap();
        writer.add(&simple(41, "x", "kettle")).unwrap();
        writer.commit(42).unwrap();
        assert_eq!(index.watermark().unwrap(), 42);
        // Uncommitted work is lost, and the watermark stays at the last commit.
        writer.add(&simple(43, "y", "kettle")).unwrap();
    }
    let reopened = SearchIndex::open(&path, &[]).unwrap();
    assert_eq!(reopened.watermark().unwrap(), 42);
    assert_eq!(reopened.doc_count().unwrap(), 1);
    assert_eq!(ids(&reopened, "kettle"), ["x"]);
}

#[test]
fn second_writer_is_refused_as_locked() {
    let dir = tempfile::tempdir().unwrap();
    let first = SearchIndex::open(dir.path(), &[]).unwrap();
    let second = SearchIndex::open(dir.path(), &[]).unwrap();
    let writer = first.writer(HEAP).unwrap();
    let error = second.writer(HEAP).unwrap_err();
    assert!(matches!(error, IndexError::Locked), "{error:?}");
    assert!(error.is_transient());
    assert_eq!(
        error.to_string(),
        "the index is in use by another vigil process (is the daemon running?)"
    );
    drop(writer);
    assert!(second.writer(HEAP).is_ok());
}

#[test]
fn commits_from_another_handle_become_visible_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let writer_side = SearchIndex::open(dir.path(), &[]).unwrap();
    let reader_side = SearchIndex::open(dir.path(), &[]).unwrap();
    let mut writer = writer_side.writer(HEAP).unwrap();
    writer.add(&simple(1, "x", "kettle")).unwrap();
    writer.commit(1).unwrap();
    reader_side.reload().unwrap();
    assert_eq!(reader_side.doc_count().unwrap(), 1);
    assert_eq!(reader_side.watermark().unwrap(), 1);
}

#[test]
fn tiny_heap_is_raised_to_the_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(dir.path(), &[]).unwrap();
    let mut writer = index.writer(1).unwrap();
    writer.add(&simple(1, "x", "kettle")).unwrap();
    writer.commit(1).unwrap();
    assert_eq!(index.doc_count().unwrap(), 1);
}

#[test]
fn odd_queries_and_texts_do_not_panic() {
    let long_latin = "x".repeat(70_000);
    let long_han = "水".repeat(10_000);
    let texts = [
        "",
        "!!! ??? ...",
        "🙂🙂🙂",
        "ｱｲｳｴｵ カタカナ",
        "한국어 텍스트",
        "Ünïcödé café naïve",
        "\u{0}\u{1}\u{7f}",
        &long_latin,
        &long_han,
    ];
    let posts: Vec<StoredPost> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| simple(i as i64 + 1, &format!("o{i}"), text))
        .collect();
    let (_dir, index) = index_with(&posts, &["艾克米", "", " ", "acme kettle"]);
    let hand_built = [
        Query::Term(String::new()),
        Query::Term("*".into()),
        Query::Term("**".into()),
        Query::Term("a*b*".into()),
        Query::Term("(.*)[".into()),
        Query::Term("水*壶*".into()),
        Query::Phrase("   ".into()),
        Query::Phrase("!!".into()),
        Query::And(vec![]),
        Query::Or(vec![]),
        Query::Not(Box::new(Query::All)),
        Query::Term("x".repeat(500)),
    ];
    for query in hand_built {
        let result = index.search(&SearchRequest::new(query.clone(), 10));
        assert!(result.is_ok(), "{query:?}: {result:?}");
    }
    for text in [
        "café",
        "naïve",
        "カタカナ",
        "한국어",
        "🙂",
        "水水水",
        "*ville*",
        "ｱ*",
    ] {
        // Some of these are not valid queries (no letters); those must not panic either.
        if let Ok(query) = Query::parse(text) {
            index.search(&SearchRequest::new(query, 10)).unwrap();
        }
    }
    assert_eq!(ids(&index, "café"), ["o5"]);
    assert_eq!(ids(&index, "水水水"), ["o8"]);
    assert_eq!(search(&index, "NOT *").total, 0);

    let mut deep = Query::Term("x".into());
    for _ in 0..200 {
        deep = Query::Not(Box::new(deep));
    }
    let error = index.search(&SearchRequest::new(deep, 10)).unwrap_err();
    assert!(
        matches!(error, IndexError::QueryTooDeep { .. }),
        "{error:?}"
    );
}

#[test]
fn index_built_with_another_schema_is_replaced_by_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = tantivy::schema::Schema::builder();
    let other = builder.add_text_field("other", tantivy::schema::TEXT);
    let old = tantivy::Index::create_in_dir(dir.path(), builder.build()).unwrap();
    {
        let mut writer: tantivy::IndexWriter = old.writer(HEAP).unwrap();
        writer
            .add_document(tantivy::doc!(other => "an old document"))
            .unwrap();
        let mut prepared = writer.prepare_commit().unwrap();
        prepared.set_payload("7");
        prepared.commit().unwrap();
    }
    drop(old);
    let index = SearchIndex::open(dir.path(), &[]).unwrap();
    assert!(index.was_rebuilt());
    assert_eq!(
        index.watermark().unwrap(),
        0,
        "refilled from the store from seq 0"
    );
    assert_eq!(index.doc_count().unwrap(), 0);
    let mut writer = index.writer(HEAP).unwrap();
    writer.add(&simple(1, "x", "kettle")).unwrap();
    writer.commit(1).unwrap();
    assert_eq!(ids(&index, "kettle"), ["x"]);
    drop(writer);
    // Only the first open rebuilds.
    let reopened = SearchIndex::open(dir.path(), &[]).unwrap();
    assert!(!reopened.was_rebuilt());
    assert_eq!(reopened.watermark().unwrap(), 1);
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.len() < 20,
        "the old segments were deleted, not left behind: {files:?}"
    );
}

#[test]
fn index_built_with_another_schema_and_in_use_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = tantivy::schema::Schema::builder();
    builder.add_text_field("other", tantivy::schema::TEXT);
    let old = tantivy::Index::create_in_dir(dir.path(), builder.build()).unwrap();
    // An older daemon still running holds the writer lock.
    let old_writer: tantivy::IndexWriter = old.writer(HEAP).unwrap();
    let error = SearchIndex::open(dir.path(), &[]).unwrap_err();
    assert!(
        matches!(error, IndexError::SchemaMismatch { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("vigil reindex"), "{error}");
    drop(old_writer);
    assert!(SearchIndex::open(dir.path(), &[]).unwrap().was_rebuilt());
}

#[test]
fn copies_and_engagement_round_trip_into_hits() {
    let mut copy = simple(2, "copy", "acme kettle recall notice");
    copy.post.duplicate_of = Some("orig".into());
    copy.post.engagement = vigil_core::Engagement {
        score: Some(-3),
        likes: Some(120),
        reposts: Some(45),
        replies: None,
        rating: Some(4.5),
    };
    let original = simple(1, "orig", "acme kettle recall");
    let (_dir, index) = index_with(&[original, copy.clone()], &[]);
    let results = search(&index, "recall");
    let by_id = |id: &str| results.hits.iter().find(|hit| hit.id == id).unwrap();
    let copy_hit = by_id("copy");
    assert_eq!(copy_hit.duplicate_of.as_deref(), Some("orig"));
    assert_eq!(copy_hit.engagement, copy.post.engagement);
    let original_hit = by_id("orig");
    assert_eq!(original_hit.duplicate_of, None);
    assert!(original_hit.engagement.is_empty());

    let json = serde_json::to_value(&results).unwrap();
    let hits = json["hits"].as_array().unwrap();
    let copy_json = hits.iter().find(|hit| hit["id"] == "copy").unwrap();
    let original_json = hits.iter().find(|hit| hit["id"] == "orig").unwrap();
    assert_eq!(copy_json["duplicate_of"], "orig");
    assert_eq!(
        copy_json["engagement"],
        serde_json::json!({"score": -3, "likes": 120, "reposts": 45, "rating": 4.5})
    );
    assert!(original_json["duplicate_of"].is_null());
    assert!(
        original_json.get("engagement").is_none(),
        "empty engagement is omitted: {original_json}"
    );
    // JSON written before these fields existed still reads.
    let mut old_hit = original_json.clone();
    old_hit.as_object_mut().unwrap().remove("duplicate_of");
    let parsed: vigil_index::Hit = serde_json::from_value(old_hit).unwrap();
    assert_eq!(parsed.duplicate_of, None);
    let back: SearchResults = serde_json::from_value(json).unwrap();
    assert_eq!(back, results);
}

/// Posts with language, score and reach set, for the newer filters.
fn tuned(seq: i64, id: &str, text: &str, lang: &str, score: f32, reach: i64) -> StoredPost {
    let mut stored = simple(seq, id, text);
    stored.post.lang = Some(lang.to_string());
    let sentiment = stored.post.sentiment.get_or_insert(vigil_core::Sentiment {
        label: Label::Neutral,
        score: 0.0,
        confidence: 0.9,
        lang: lang.to_string(),
        backend: "lexicon".to_string(),
        version: "1".to_string(),
    });
    sentiment.score = score;
    sentiment.label = if score < -0.05 {
        Label::Negative
    } else if score > 0.05 {
        Label::Positive
    } else {
        Label::Neutral
    };
    stored.post.engagement.likes = Some(reach);
    stored
}

#[test]
fn filters_by_language_score_range_and_reach() {
    let posts = vec![
        tuned(1, "en-bad", "kettle broke", "en", -0.8, 5),
        tuned(2, "en-meh", "kettle fine", "en", 0.0, 500),
        tuned(3, "zh-good", "kettle 很好", "zh", 0.6, 50),
        tuned(4, "en-good", "kettle great", "en", 0.9, 5000),
    ];
    let (_dir, index) = index_with(&posts, &[]);
    assert_eq!(
        filtered(&index, |r| r.lang = Some("zh".into())),
        vec!["zh-good"]
    );
    assert_eq!(
        filtered(&index, |r| r.lang = Some("EN".into())),
        vec!["en-bad", "en-good", "en-meh"]
    );
    assert_eq!(
        filtered(&index, |r| r.max_score = Some(-0.5)),
        vec!["en-bad"]
    );
    assert_eq!(
        filtered(&index, |r| {
            r.min_score = Some(0.0);
            r.max_score = Some(0.7);
        }),
        vec!["en-meh", "zh-good"]
    );
    assert_eq!(
        filtered(&index, |r| r.min_reach = Some(50)),
        vec!["en-good", "en-meh", "zh-good"]
    );
    assert_eq!(
        filtered(&index, |r| {
            r.min_reach = Some(100);
            r.min_score = Some(0.5);
        }),
        vec!["en-good"]
    );
    let mut bad = SearchRequest::new(Query::All, 10);
    bad.min_score = Some(1.5);
    let error = index.search(&bad).unwrap_err();
    assert!(error.is_bad_request(), "{error}");
    assert!(error.to_string().contains("min_score"), "{error}");
    let mut backwards = SearchRequest::new(Query::All, 10);
    backwards.from = Some(base_time() + Duration::hours(1));
    backwards.to = Some(base_time());
    assert!(index.search(&backwards).unwrap_err().is_bad_request());
}

/// Posts all published in the same second, so only the sequence breaks ties.
fn same_second(seq: i64) -> StoredPost {
    let mut stored = simple(seq, &format!("s{seq:03}"), "kettle");
    stored.post.published_at = base_time();
    stored
}

fn page_ids(results: &SearchResults) -> Vec<String> {
    results.hits.iter().map(|h| h.id.clone()).collect()
}

#[test]
fn time_order_cursor_pages_are_stable_while_posts_arrive() {
    // Mixed timestamps, several in the same second.
    let mut posts: Vec<StoredPost> = (1..=30).map(same_second).collect();
    for seq in 31..=45 {
        let mut stored = simple(seq, &format!("s{seq:03}"), "kettle");
        stored.post.published_at = base_time() - Duration::minutes(seq);
        posts.push(stored);
    }
    let (_dir, index) = index_with(&posts, &[]);
    let mut request = SearchRequest::new(Query::parse("kettle").unwrap(), 10);
    request.sort = Some(vigil_index::Sort::Newest);
    let first = index.search(&request).unwrap();
    assert_eq!(first.total, 45);
    assert_eq!(
        page_ids(&first)[0],
        "s030",
        "ties broken by sequence, newest first"
    );

    // New posts arrive between pages: newer than everything, and in the same second.
    let mut writer = index.writer(HEAP).unwrap();
    let mut newer = simple(46, "new-latest", "kettle");
    newer.post.published_at = base_time() + Duration::hours(1);
    writer.add(&newer).unwrap();
    writer.add(&same_second(47)).unwrap();
    writer.commit(47).unwrap();

    let mut seen = page_ids(&first);
    let mut cursor = first.next_cursor.clone();
    while let Some(next) = cursor {
        request.cursor = Some(next);
        let page = index.search(&request).unwrap();
        assert_eq!(page.total, 47);
        seen.extend(page_ids(&page));
        cursor = page.next_cursor;
    }
    let mut expected: Vec<String> = (1..=30).rev().map(|s| format!("s{s:03}")).collect();
    expected.extend((31..=45).map(|s| format!("s{s:03}")));
    assert_eq!(seen, expected, "no post repeated or skipped across pages");

    // Oldest first walks the same set backwards, including the new posts.
    let mut oldest = SearchRequest::new(Query::All, 7);
    oldest.sort = Some(vigil_index::Sort::Oldest);
    let mut walked = Vec::new();
    loop {
        let page = index.search(&oldest).unwrap();
        walked.extend(page_ids(&page));
        match page.next_cursor {
            Some(cursor) => oldest.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(walked.len(), 47);
    assert_eq!(walked.first().map(String::as_str), Some("s045"));
    assert_eq!(walked.last().map(String::as_str), Some("new-latest"));
    let mut unique = walked.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 47);
}

#[test]
fn relevance_cursor_continues_by_offset_and_bad_cursors_are_refused() {
    let posts: Vec<StoredPost> = (1..=12).map(same_second).collect();
    let (_dir, index) = index_with(&posts, &[]);
    let mut request = SearchRequest::new(Query::parse("kettle").unwrap(), 5);
    let mut seen = Vec::new();
    loop {
        let page = index.search(&request).unwrap();
        seen.extend(page_ids(&page));
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 12);
    for bad in ["", "x", "t1", "tabc.1", "o-1", "t1.2.3"] {
        let mut request = SearchRequest::new(Query::All, 5);
        request.cursor = Some(bad.to_string());
        if bad == "o-1" {
            request.sort = Some(vigil_index::Sort::Relevance);
        }
        let error = index.search(&request).unwrap_err();
        assert!(error.is_bad_request(), "{bad:?}: {error}");
    }
}

#[test]
fn highlights_mark_stemmed_words_chinese_terms_and_escape_html() {
    let posts = vec![
        simple(
            1,
            "en",
            "Breaking: my <Acme> kettle exploded & burned the counter",
        ),
        simple(2, "zh", "今天艾克米水壶突然爆炸了，太吓人"),
        simple(3, "plain", "nothing to see here about kettles"),
    ];
    let (_dir, index) = index_with(&posts, &["艾克米"]);
    let mut request = SearchRequest::new(Query::parse("explodes OR 爆炸").unwrap(), 10);
    request.highlight = true;
    let results = index.search(&request).unwrap();
    let by_id = |id: &str| {
        results
            .hits
            .iter()
            .find(|h| h.id == id)
            .and_then(|h| h.highlight.clone())
            .unwrap_or_else(|| panic!("no highlight for {id}"))
    };
    let en = by_id("en");
    let marked: Vec<&str> = en
        .ranges
        .iter()
        .map(|[start, end]| &en.fragment[*start..*end])
        .collect();
    assert_eq!(marked, vec!["exploded"]);
    assert!(en.html.contains("<mark>exploded</mark>"), "{}", en.html);
    assert!(
        en.html.contains("&lt;Acme&gt;") && en.html.contains("&amp;"),
        "{}",
        en.html
    );
    assert_eq!(en.marked("**", "**").matches("**exploded**").count(), 1);
    let zh = by_id("zh");
    let marked: String = zh
        .ranges
        .iter()
        .map(|[start, end]| &zh.fragment[*start..*end])
        .collect();
    assert_eq!(marked, "爆炸");

    // Without a term to mark (`*`), the passage is the text's opening, unmarked.
    let mut all = SearchRequest::new(Query::All, 10);
    all.highlight = true;
    let results = index.search(&all).unwrap();
    for hit in &results.hits {
        let highlight = hit.highlight.as_ref().unwrap();
        assert!(highlight.ranges.is_empty());
        assert!(
            hit.text
                .starts_with(highlight.fragment.trim_end_matches('…'))
        );
    }
    // Not asked for: none computed.
    let results = index.search(&SearchRequest::new(Query::All, 10)).unwrap();
    assert!(results.hits.iter().all(|h| h.highlight.is_none()));
}

#[test]
fn re_adding_after_reopen_stays_an_upsert_even_with_a_low_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    let index = SearchIndex::open(&path, &[]).unwrap();
    let mut writer = index.writer(HEAP).unwrap();
    writer.add(&simple(5, "five", "kettle five")).unwrap();
    writer.add(&simple(6, "six", "kettle six")).unwrap();
    // A caller that commits a watermark below what it added.
    writer.commit(1).unwrap();
    drop(writer);
    let mut writer = index.writer(HEAP).unwrap();
    writer.add(&simple(5, "five", "kettle five again")).unwrap();
    writer.add(&simple(7, "seven", "kettle seven")).unwrap();
    // Within one writer session: re-adding an uncommitted post replaces it too.
    writer
        .add(&simple(7, "seven", "kettle seven again"))
        .unwrap();
    writer.commit(7).unwrap();
    assert_eq!(ids(&index, "kettle"), vec!["five", "seven", "six"]);
    assert_eq!(search(&index, "again").total, 2);
}

/// Pages of a query that needs positions (a phrase) and of one that does not (a term):
/// the first are collected in the same pass as the total, the second in two passes
/// (count, then the page). In every order, with and without a filter, the pages must
/// hold every hit once and the totals agree.
#[test]
fn pages_and_totals_agree_for_phrases_terms_and_filters_in_every_order() {
    let posts: Vec<StoredPost> = (1..=40)
        .map(|i| {
            let text = match i % 4 {
                0 => "the red kettle leaks",
                1 => "a kettle that is red",
                2 => "red kettle red kettle",
                _ => "nothing relevant",
            };
            post(PostSpec {
                seq: i,
                id: &format!("p{i:02}"),
                text,
                source: if i % 3 == 0 { "forum" } else { "news" },
                // Ties in time, so the store seq has to break them.
                hours_after_base: i / 3,
                ..PostSpec::default()
            })
        })
        .collect();
    let (_dir, index) = index_with(&posts, &[]);
    let expected = |phrase: bool, forum_only: bool| -> Vec<String> {
        let mut ids: Vec<String> = posts
            .iter()
            .filter(|p| {
                let text = &p.post.text;
                let found = if phrase {
                    text.contains("red kettle")
                } else {
                    text.contains("kettle")
                };
                found && (!forum_only || p.post.source == "forum")
            })
            .map(|p| p.post.id.clone())
            .collect();
        ids.sort();
        ids
    };
    for (query, phrase) in [("\"red kettle\"", true), ("kettle", false)] {
        for forum_only in [false, true] {
            for sort in [
                vigil_index::Sort::Relevance,
                vigil_index::Sort::Newest,
                vigil_index::Sort::Oldest,
            ] {
                let want = expected(phrase, forum_only);
                let mut request = SearchRequest::new(Query::parse(query).unwrap(), 3);
                request.sort = Some(sort);
                if forum_only {
                    request.source = Some("forum".to_string());
                }
                // By cursor.
                let mut seen = Vec::new();
                loop {
                    let page = index.search(&request).unwrap();
                    assert_eq!(page.total as usize, want.len(), "{query} {sort:?}");
                    seen.extend(page.hits.iter().map(|h| h.id.clone()));
                    match page.next_cursor {
                        Some(cursor) => request.cursor = Some(cursor),
                        None => break,
                    }
                }
                let in_order = seen.clone();
                seen.sort();
                assert_eq!(seen, want, "{query} {sort:?} forum_only={forum_only}");
                if sort == vigil_index::Sort::Newest {
                    let times: Vec<(DateTime<Utc>, String)> = in_order
                        .iter()
                        .map(|id| {
                            let p = posts.iter().find(|p| &p.post.id == id).unwrap();
                            (p.post.published_at, p.post.id.clone())
                        })
                        .collect();
                    let mut sorted = times.clone();
                    sorted.sort_by(|a, b| b.cmp(a));
                    assert_eq!(times, sorted, "{query}: newest first");
                }
                // By offset, including past the end and far past it.
                request.cursor = None;
                let mut by_offset = Vec::new();
                for offset in (0..want.len() + 3).step_by(3) {
                    request.offset = offset;
                    let page = index.search(&request).unwrap();
                    assert_eq!(page.total as usize, want.len(), "{query} offset {offset}");
                    by_offset.extend(page.hits.into_iter().map(|h| h.id));
                }
                by_offset.sort();
                assert_eq!(by_offset, want, "{query} {sort:?} by offset");
                for far in [10_001, 1 << 40] {
                    request.offset = far;
                    let page = index.search(&request).unwrap();
                    assert_eq!(
                        (page.total as usize, page.hits.len()),
                        (want.len(), 0),
                        "{query} {sort:?} offset {far}"
                    );
                }
                request.offset = 0;
                request.limit = 0;
                let count_only = index.search(&request).unwrap();
                assert_eq!(
                    (count_only.total as usize, count_only.hits.len()),
                    (want.len(), 0)
                );
            }
        }
    }
}

/// A Chinese term is looked up by overlapping bigrams; its highlight must still be
/// one range per occurrence, not overlapping pieces.
#[test]
fn chinese_highlights_do_not_overlap() {
    let posts = vec![simple(1, "zh", "今天艾克米水壶坏了，克米水也坏了")];
    let (_dir, index) = index_with(&posts, &["艾克米"]);
    // Not a jieba word, so only `text_cjk` (克米 + 米水) can mark it.
    let mut request = SearchRequest::new(Query::parse("克米水").unwrap(), 10);
    request.highlight = true;
    let results = index.search(&request).unwrap();
    assert_eq!(results.total, 1);
    let highlight = results.hits[0].highlight.clone().unwrap();
    let marked: Vec<&str> = highlight
        .ranges
        .iter()
        .map(|[start, end]| &highlight.fragment[*start..*end])
        .collect();
    assert_eq!(marked, ["克米水", "克米水"], "{highlight:?}");
    assert!(
        highlight
            .ranges
            .windows(2)
            .all(|pair| pair[0][1] <= pair[1][0]),
        "{highlight:?}"
    );
    assert_eq!(
        highlight.html.matches("<mark>").count(),
        2,
        "{}",
        highlight.html
    );
}

/// Posts without CJK leave `text_cjk` out; a CJK title still goes in it, with the
/// body's markers, so CJK in the title is found and NEAR keeps title and body apart.
#[test]
fn chinese_in_the_title_of_an_english_post() {
    let mut titled = simple(1, "titled", "acme kettle recall announced");
    titled.post.title = Some("艾克米召回水壶".to_string());
    let plain = simple(2, "plain", "acme kettle recall announced");
    let mut chinese_body = simple(3, "body", "艾克米召回水壶");
    chinese_body.post.title = Some("news".to_string());
    let (_dir, index) = index_with(&[titled, plain, chinese_body], &["艾克米"]);
    assert_eq!(ids(&index, "召回"), ["body", "titled"]);
    assert_eq!(ids(&index, "米召"), ["body", "titled"]);
    assert_eq!(ids(&index, "艾克米 NEAR/0 召回"), ["body", "titled"]);
    assert_eq!(ids(&index, "召回 NEAR/3 acme"), Vec::<String>::new());
    assert_eq!(ids(&index, "acme NEAR/0 kettle"), ["plain", "titled"]);
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|window| window == needle)
        {
            found.push(path);
        }
    }
    found
}

#[test]
fn compacting_deletes_takes_an_erased_post_out_of_the_files() {
    let mut posts = english_corpus();
    posts.push(simple(
        6,
        "secret",
        "acme kettle ERASE-ME-QX7731 private words",
    ));
    let (dir, index) = index_with(&posts, &[]);
    let marker = b"ERASE-ME-QX7731";
    assert!(
        !files_containing(dir.path(), marker).is_empty(),
        "stored text is in the segment files"
    );
    let mut writer = index.writer(HEAP).unwrap();
    writer.delete("secret").unwrap();
    writer.commit(6).unwrap();
    assert!(ids(&index, "kettle").iter().all(|id| id != "secret"));
    // Deleted, yet still on disk until the segment is rewritten.
    assert_eq!(index.deleted_doc_count().unwrap(), 1);
    assert!(!files_containing(dir.path(), marker).is_empty());

    assert_eq!(writer.compact_deletes().unwrap(), 1);
    assert_eq!(index.deleted_doc_count().unwrap(), 0);
    assert_eq!(index.doc_count().unwrap(), 5);
    let left = files_containing(dir.path(), marker);
    assert!(left.is_empty(), "erased text still in {left:?}");
    assert_eq!(ids(&index, "kettle"), ["a", "c", "d"]);
    // Nothing to do the second time.
    assert_eq!(writer.compact_deletes().unwrap(), 0);
}

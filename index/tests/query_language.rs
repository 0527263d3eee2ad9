//! The query language on a real tantivy index: NEAR, field operators, wildcards and
//! Chinese, and agreement with `Query::matches` (brand matching and keyword rules) on
//! the same posts.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use tempfile::TempDir;
use vigil_core::query::{MatchMeta, MatchText};
use vigil_core::{Post, Provenance, Query, StoredPost};
use vigil_index::{SearchIndex, SearchRequest};

const HEAP: usize = 20_000_000;

#[derive(Clone, Default)]
struct Spec {
    id: String,
    title: Option<String>,
    text: String,
    author: Option<String>,
    source: String,
    url: Option<String>,
    lang: Option<String>,
}

fn spec(id: &str, text: &str) -> Spec {
    Spec {
        id: id.to_string(),
        text: text.to_string(),
        source: "news".to_string(),
        ..Spec::default()
    }
}

fn stored(seq: i64, spec: &Spec) -> StoredPost {
    let published_at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    StoredPost {
        seq,
        post: Post {
            id: spec.id.clone(),
            source: spec.source.clone(),
            external_id: spec.id.clone(),
            url: spec.url.clone(),
            canonical_url: None,
            author: spec.author.clone(),
            title: spec.title.clone(),
            text: spec.text.clone(),
            lang: spec.lang.clone(),
            published_at,
            brands: vec!["acme".to_string()],
            provenance: Provenance {
                fetched_at: published_at,
                fetch_url: "https://example.com/feed".to_string(),
                http_status: Some(200),
                content_hash: "00".to_string(),
                extraction: "rss:item".to_string(),
                raw_sha256: None,
            },
            sentiment: None,
            engagement: Default::default(),
            duplicate_of: None,
        },
    }
}

fn index_with(specs: &[Spec], words: &[&str]) -> (TempDir, SearchIndex) {
    let dir = tempfile::tempdir().unwrap();
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let index = SearchIndex::open(&dir.path().join("index"), &words).unwrap();
    let mut writer = index.writer(HEAP).unwrap();
    for (seq, spec) in specs.iter().enumerate() {
        writer.add(&stored(seq as i64 + 1, spec)).unwrap();
    }
    writer.commit(specs.len() as i64).unwrap();
    (dir, index)
}

fn parse(query: &str) -> Query {
    Query::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// Ids the index returns for `query`, sorted.
fn ids(index: &SearchIndex, query: &str) -> Vec<String> {
    index_ids(index, &parse(query))
}

fn index_ids(index: &SearchIndex, query: &Query) -> Vec<String> {
    let results = index
        .search(&SearchRequest::new(query.clone(), 1000))
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    assert_eq!(results.total as usize, results.hits.len(), "{query}");
    let mut ids: Vec<String> = results.hits.into_iter().map(|h| h.id).collect();
    ids.sort();
    ids
}

/// Ids `Query::matches_prepared` accepts, given each post's text and metadata the way
/// the crawler prepares them (title, newline, text).
fn core_ids(specs: &[Spec], query: &Query) -> Vec<String> {
    let mut ids: Vec<String> = specs
        .iter()
        .filter(|spec| {
            let combined = match &spec.title {
                Some(title) => format!("{title}\n{}", spec.text),
                None => spec.text.clone(),
            };
            let text = MatchText::with_meta(
                &combined,
                MatchMeta {
                    author: spec.author.as_deref(),
                    source: Some(&spec.source),
                    url: spec.url.as_deref(),
                    lang: spec.lang.as_deref(),
                },
            );
            query.matches_prepared(&text)
        })
        .map(|spec| spec.id.clone())
        .collect();
    ids.sort();
    ids
}

fn english() -> Vec<Spec> {
    vec![
        spec("a", "My Acme kettle exploded this morning"),
        spec("b", "The kettle from Acme is fine"),
        spec("c", "Acme sells a very nice red kettle"),
        spec("d", "kettle kettle kettle and far far far far away acme"),
        spec("e", "acme recall of the kettle line"),
        spec("f", "no brand here, only a kettle"),
    ]
}

#[test]
fn near_counts_words_between_in_either_order() {
    let (_dir, index) = index_with(&english(), &[]);
    assert_eq!(ids(&index, "acme NEAR/0 kettle"), ["a"]);
    assert_eq!(ids(&index, "acme NEAR/1 kettle"), ["a", "b"]);
    assert_eq!(ids(&index, "kettle NEAR/1 acme"), ["a", "b"]);
    assert_eq!(ids(&index, "acme NEAR/3 kettle"), ["a", "b", "e"]);
    assert_eq!(ids(&index, "acme NEAR/4 kettle"), ["a", "b", "e"]);
    // Bare NEAR is NEAR/5.
    assert_eq!(ids(&index, "acme NEAR kettle"), ["a", "b", "c", "e"]);
    assert_eq!(ids(&index, "acme NEAR/6 kettle"), ["a", "b", "c", "d", "e"]);
    let specs = english();
    for distance in 0..8 {
        let query = parse(&format!("acme NEAR/{distance} kettle"));
        assert_eq!(
            index_ids(&index, &query),
            core_ids(&specs, &query),
            "{query}"
        );
    }
    assert!(ids(&index, "acme NEAR/5 nothing").is_empty());
}

#[test]
fn near_with_phrases_patterns_stemming_and_booleans() {
    let (_dir, index) = index_with(&english(), &[]);
    assert_eq!(ids(&index, "\"acme kettle\" NEAR/1 explod*"), ["a"]);
    // acme sells a very nice | red kettle: four words between.
    assert_eq!(ids(&index, "\"red kettle\" NEAR/4 acme"), ["c"]);
    assert!(ids(&index, "\"red kettle\" NEAR/3 acme").is_empty());
    assert!(ids(&index, "\"kettle red\" NEAR/4 acme").is_empty());
    // Stemming applies inside NEAR as everywhere in the index.
    assert_eq!(ids(&index, "kettles NEAR/0 explodes"), ["a"]);
    assert_eq!(ids(&index, "ac* NEAR/0 kettle"), ["a"]);
    // Combined with booleans, and negated (an exclusion scorer seeks backwards).
    assert_eq!(
        ids(&index, "kettle NOT acme NEAR/4 kettle"),
        ["c", "d", "f"]
    );
    assert_eq!(ids(&index, "acme NEAR/0 kettle OR recall"), ["a", "e"]);
    assert_eq!(ids(&index, "NOT NOT acme NEAR/1 kettle"), ["a", "b"]);
    assert_eq!(ids(&index, "(acme NEAR/1 kettle) AND fine"), ["b"]);
}

#[test]
fn near_stays_within_the_title_or_the_body() {
    let mut titled = spec("t1", "kettle recall announced today");
    titled.title = Some("Acme news".to_string());
    let mut both_in_title = spec("t2", "nothing to see");
    both_in_title.title = Some("Acme kettle recall".to_string());
    let mut chinese_title = spec("t3", "召回水壶");
    chinese_title.title = Some("艾克米 新闻".to_string());
    let mut chinese_both = spec("t4", "别的内容");
    chinese_both.title = Some("艾克米召回水壶".to_string());
    let mut chinese_body = spec("t5", "艾克米召回水壶");
    chinese_body.title = Some("标题 title".to_string());
    let specs = vec![
        titled,
        both_in_title,
        chinese_title,
        chinese_both,
        chinese_body,
    ];
    let (_dir, index) = index_with(&specs, &["艾克米"]);
    assert_eq!(ids(&index, "acme NEAR/1 recall"), ["t2"]);
    assert_eq!(ids(&index, "acme NEAR/5 recall"), ["t2"]);
    assert_eq!(ids(&index, "艾克米 NEAR/0 召回"), ["t4", "t5"]);
    assert_eq!(ids(&index, "召回 NEAR/0 水壶"), ["t3", "t4", "t5"]);
    // The title's positions do not shift the body's.
    assert_eq!(ids(&index, "召回 NEAR/0 艾克米"), ["t4", "t5"]);
    assert_eq!(ids(&index, "标题 NEAR/0 title"), ["t5"]);
    for query in [
        "acme NEAR/1 recall",
        "艾克米 NEAR/0 召回",
        "召回 NEAR/0 水壶",
    ] {
        assert_eq!(
            ids(&index, query),
            core_ids(&specs, &parse(query)),
            "{query}"
        );
    }
}

fn chinese() -> Vec<Spec> {
    vec![
        spec("z1", "我买的艾克米净水神器爆炸了"),
        spec("z2", "艾克米宣布召回这批水壶"),
        spec("z3", "艾克米，召回"),
        spec("z4", "我的 Acme 水壶，很好"),
        spec("z5", "艾克 米饭很好吃"),
        spec("z6", "净水器和神器"),
    ]
}

#[test]
fn chinese_brand_and_configured_terms_are_whole_words() {
    let (_dir, index) = index_with(&chinese(), &["艾克米", "净水神器"]);
    // The brand and the configured four-character product name, by term and phrase.
    assert_eq!(ids(&index, "艾克米"), ["z1", "z2", "z3"]);
    assert_eq!(ids(&index, "\"艾克米\""), ["z1", "z2", "z3"]);
    assert_eq!(ids(&index, "净水神器"), ["z1"]);
    assert_eq!(ids(&index, "\"艾克米净水神器\""), ["z1"]);
    // A phrase does not run across the punctuation or space between CJK characters…
    assert!(ids(&index, "艾克米召回").is_empty());
    assert_eq!(ids(&index, "\"艾克米，召回\""), ["z3"]);
    assert!(ids(&index, "克米").iter().all(|id| id != "z5"));
    // …but the space between a Latin word and CJK is not significant.
    assert_eq!(ids(&index, "acme水壶"), ["z4"]);
    assert_eq!(ids(&index, "\"acme 水壶\""), ["z4"]);
}

#[test]
fn chinese_near_counts_characters() {
    let specs = chinese();
    let (_dir, index) = index_with(&specs, &["艾克米", "净水神器"]);
    let cases: &[(&str, &[&str])] = &[
        // 艾克米 宣布 召回: two characters between.
        ("艾克米 NEAR/2 召回", &["z2", "z3"]),
        // 艾克米，召回: the comma between CJK characters takes one position.
        ("艾克米 NEAR/1 召回", &["z3"]),
        ("艾克米 NEAR/0 召回", &[]),
        ("召回 NEAR/2 艾克米", &["z2", "z3"]),
        ("艾克米 NEAR/0 净水神器", &["z1"]),
        ("净水神器 NEAR/0 爆炸", &["z1"]),
        // Substrings: 水 inside 净水神器 and 水壶.
        ("水 NEAR/3 爆炸", &["z1"]),
        ("\"艾克米 召回\" NEAR/0 艾克米", &[]),
        ("acme NEAR/0 水壶", &["z4"]),
        // Acme | 水 壶 ， | 很好: the comma between CJK characters counts.
        ("acme NEAR/3 很好", &["z4"]),
        ("acme NEAR/2 很好", &[]),
    ];
    for (query, expected) in cases {
        assert_eq!(ids(&index, query), *expected, "index: {query}");
        assert_eq!(core_ids(&specs, &parse(query)), *expected, "core: {query}");
    }
}

fn with_meta() -> Vec<Spec> {
    let post = |id: &str, author: Option<&str>, source: &str, url: Option<&str>, lang: &str| Spec {
        id: id.to_string(),
        text: "the kettle exploded".to_string(),
        author: author.map(str::to_string),
        source: source.to_string(),
        url: url.map(str::to_string),
        lang: Some(lang.to_string()),
        title: None,
    };
    vec![
        post(
            "m1",
            Some("@JaneDoe"),
            "hn",
            Some("https://www.example.com/blog/2024/kettle"),
            "en",
        ),
        post(
            "m2",
            Some("Jane Smith"),
            "weibo",
            Some("https://news.example.com/a?b=1"),
            "zh",
        ),
        post(
            "m3",
            Some("bob"),
            "hn",
            Some("http://other.org/example.com/blog"),
            "en",
        ),
        post("m4", None, "reddit", None, "en"),
    ]
}

#[test]
fn field_operators_filter_on_metadata() {
    let specs = with_meta();
    let (_dir, index) = index_with(&specs, &[]);
    let cases: &[(&str, &[&str])] = &[
        ("author:janedoe", &["m1"]),
        ("author:@JANEDOE", &["m1"]),
        ("author:jane*", &["m1", "m2"]),
        ("author:\"Jane Smith\"", &["m2"]),
        ("author:jane", &[]),
        ("author:*", &["m1", "m2", "m3"]),
        ("source:hn", &["m1", "m3"]),
        ("source:HN", &[]),
        ("source:*i*", &["m2", "m4"]),
        ("site:example.com", &["m1", "m2"]),
        ("site:news.example.com", &["m2"]),
        // www. is dropped from the operand: the same as site:example.com.
        ("site:www.example.com", &["m1", "m2"]),
        ("site:other.org", &["m3"]),
        ("lang:zh", &["m2"]),
        ("lang:EN", &["m1", "m3", "m4"]),
        ("url:example.com/blog", &["m1"]),
        ("url:https://example.com/blog/2024", &["m1"]),
        ("url:example.com", &["m1"]),
        ("url:*example.com/blog*", &["m1", "m3"]),
        ("url:news.example.com/a?b=1", &["m2"]),
        ("url:*kettle", &["m1"]),
        ("url:other.org/*/blog", &["m3"]),
        ("kettle author:bob", &["m3"]),
        ("kettle NOT source:hn", &["m2", "m4"]),
        ("NOT author:*", &["m4"]),
        ("(source:hn OR lang:zh) NOT site:other.org", &["m1", "m2"]),
        ("exploded NEAR/0 kettle author:jane*", &["m1", "m2"]),
    ];
    for (query, expected) in cases {
        assert_eq!(ids(&index, query), *expected, "index: {query}");
        assert_eq!(core_ids(&specs, &parse(query)), *expected, "core: {query}");
    }
}

#[test]
fn a_pattern_too_broad_for_near_is_an_error_not_a_crash() {
    let words: Vec<String> = (0..2100).map(|i| format!("w{i}")).collect();
    let specs = vec![spec("wide", &words.join(" ")), spec("other", "x")];
    let (_dir, index) = index_with(&specs, &[]);
    assert_eq!(ids(&index, "w1* NEAR/0 w10"), ["wide"]);
    let error = index
        .search(&SearchRequest::new(parse("w* NEAR/0 x"), 10))
        .unwrap_err();
    assert!(error.to_string().contains("matches more than"), "{error}");
}

/// Seeded random posts and queries over a small vocabulary: the index and
/// `Query::matches` must return the same posts for every query. The vocabulary keeps
/// to forms the English stemmer maps to distinct stems and patterns whose stems match
/// the same words, since the index (unlike `Query::matches`) stems.
#[test]
fn index_and_matcher_agree_on_random_queries() {
    const LATIN: &[&str] = &[
        "acme", "kettle", "recall", "water", "red", "blue", "dog", "lid",
    ];
    const CJK: &[&str] = &[
        "艾克米",
        "水壶",
        "爆炸",
        "召回",
        "很",
        "好",
        "的",
        "了",
        "净水神器",
    ];
    const SEPARATORS: &[&str] = &[" ", " ", " ", ", ", "，", "。", "", "! "];
    const AUTHORS: &[Option<&str>] = &[Some("Alice"), Some("@Bob"), Some("bobby"), None];
    const SOURCES: &[&str] = &["hn", "weibo"];
    const URLS: &[Option<&str>] = &[
        Some("https://www.example.com/blog/1-kettle"),
        Some("https://news.example.com/x"),
        Some("http://other.org/blog"),
        None,
    ];
    const LANGS: &[Option<&str>] = &[Some("en"), Some("zh"), None];
    const LATIN_OPERANDS: &[&str] = &[
        "acme",
        "kettle",
        "recall",
        "water",
        "red",
        "lid",
        "\"acme kettle\"",
        "\"red lid\"",
        "ket*",
        "re*",
        "ac*",
        "*ttle",
        "w*r",
    ];
    const CJK_OPERANDS: &[&str] = &[
        "艾克米",
        "水壶",
        "爆炸",
        "召回",
        "很好",
        "水",
        "\"艾克米 水壶\"",
        "艾克米水壶",
        "净水神器",
        "神器",
        // Odd lengths and pieces across jieba's words: looked up by bigrams.
        "克米",
        "米水壶",
        "壶爆炸",
        "好的了",
        "\"很好 的\"",
    ];
    const FIELDS: &[&str] = &[
        "author:alice",
        "author:bob*",
        "source:hn",
        "site:example.com",
        "lang:zh",
        "url:example.com/blog",
        "url:*blog*",
    ];

    let mut state: u64 = 0x5eed_0001;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let pick = |next: &mut dyn FnMut() -> usize, from: &[&'static str]| from[next() % from.len()];

    let mut specs = Vec::new();
    for i in 0..120 {
        let mut text = String::new();
        for _ in 0..(3 + next() % 14) {
            let word = if next().is_multiple_of(2) {
                pick(&mut next, LATIN)
            } else {
                pick(&mut next, CJK)
            };
            text.push_str(word);
            text.push_str(pick(&mut next, SEPARATORS));
        }
        specs.push(Spec {
            id: format!("p{i:03}"),
            title: None,
            text,
            author: AUTHORS[next() % AUTHORS.len()].map(str::to_string),
            source: pick(&mut next, SOURCES).to_string(),
            url: URLS[next() % URLS.len()].map(str::to_string),
            lang: LANGS[next() % LANGS.len()].map(str::to_string),
        });
    }
    let (_dir, index) = index_with(&specs, &["艾克米", "净水神器"]);

    let operand = |next: &mut dyn FnMut() -> usize| {
        if next().is_multiple_of(2) {
            pick(next, LATIN_OPERANDS)
        } else {
            pick(next, CJK_OPERANDS)
        }
    };
    let mut non_trivial = 0;
    let mut checked = BTreeSet::new();
    for _ in 0..800 {
        let near = |next: &mut dyn FnMut() -> usize| {
            format!("{} NEAR/{} {}", operand(next), next() % 5, operand(next))
        };
        let query = match next() % 8 {
            0..=2 => near(&mut next),
            3 => format!("{} AND {}", near(&mut next), pick(&mut next, FIELDS)),
            4 => format!("{} NOT {}", operand(&mut next), near(&mut next)),
            5 => format!(
                "{} OR ({} {})",
                near(&mut next),
                operand(&mut next),
                pick(&mut next, FIELDS)
            ),
            6 => format!("{} {}", operand(&mut next), operand(&mut next)),
            _ => format!("NOT {} {}", pick(&mut next, FIELDS), operand(&mut next)),
        };
        if !checked.insert(query.clone()) {
            continue;
        }
        let parsed = parse(&query);
        let from_index = index_ids(&index, &parsed);
        let from_matcher = core_ids(&specs, &parsed);
        let differing: Vec<&str> = specs
            .iter()
            .filter(|spec| from_index.contains(&spec.id) != from_matcher.contains(&spec.id))
            .map(|spec| spec.text.as_str())
            .collect();
        assert_eq!(
            from_index, from_matcher,
            "{query}: posts in one only: {differing:?}"
        );
        if !from_index.is_empty() && from_index.len() < specs.len() {
            non_trivial += 1;
        }
    }
    // The comparison means something only if many queries select some posts, not all.
    assert!(non_trivial > 200, "only {non_trivial} non-trivial queries");
}

/// Chinese terms are looked up in `text_cjk` by their bigrams. Over a small alphabet
/// with repeats ("哈哈哈"), breaks and Latin words between the characters, every
/// substring query must find exactly the posts `Query::matches` finds.
#[test]
fn chinese_substrings_agree_with_the_matcher() {
    const CHARACTERS: &[&str] = &["哈", "艾", "克", "米", "水", "壶", "的"];
    const GLUE: &[&str] = &["", "", "", "", "", "，", " ", " ok ", "。", "\n"];
    let mut state: u64 = 0x5eed_0002;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let mut specs = Vec::new();
    for i in 0..150 {
        let mut text = String::new();
        for _ in 0..(1 + next() % 24) {
            text.push_str(CHARACTERS[next() % CHARACTERS.len()]);
            text.push_str(GLUE[next() % GLUE.len()]);
        }
        specs.push(spec(&format!("c{i:03}"), &text));
    }
    let (_dir, index) = index_with(&specs, &["艾克米"]);
    let mut non_trivial = 0;
    let mut checked = BTreeSet::new();
    for _ in 0..600 {
        let length = 1 + next() % 6;
        let mut term: String = (0..length)
            .map(|_| CHARACTERS[next() % CHARACTERS.len()])
            .collect();
        let query = match next() % 4 {
            0 if length > 1 => {
                // A phrase with a break inside: only a break matches there.
                let split = term
                    .char_indices()
                    .nth(1 + next() % (length - 1))
                    .map_or(term.len(), |(at, _)| at);
                term.insert(split, ' ');
                format!("\"{term}\"")
            }
            1 => format!("{term} NOT 哈哈"),
            _ => term,
        };
        if !checked.insert(query.clone()) {
            continue;
        }
        let parsed = parse(&query);
        let from_index = index_ids(&index, &parsed);
        let from_matcher = core_ids(&specs, &parsed);
        assert_eq!(from_index, from_matcher, "{query}");
        if !from_index.is_empty() && from_index.len() < specs.len() {
            non_trivial += 1;
        }
    }
    assert!(non_trivial > 150, "only {non_trivial} non-trivial queries");
}

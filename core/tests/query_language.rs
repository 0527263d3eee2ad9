//! The query language through its public API, checked against the user reference in
//! `docs/query-language.md` (the error table is read from the file itself).

use vigil_core::query::{
    DEFAULT_NEAR_DISTANCE, MatchMeta, MatchText, MetaField, NearOperand, near_gap, word_positions,
};
use vigil_core::{Query, QueryError};

fn q(text: &str) -> Query {
    Query::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn assert_matches(query: &str, text: &str) {
    assert!(q(query).matches(text), "{query} should match {text:?}");
}

fn assert_no_match(query: &str, text: &str) {
    assert!(!q(query).matches(text), "{query} should not match {text:?}");
}

#[test]
fn operator_table_examples() {
    assert_matches("acme", "I love Acme!");
    assert_no_match("acme", "acmes");
    assert_matches("\"acme kettle\"", "Acme-kettle");
    assert_no_match("\"acme kettle\"", "kettle acme");
    assert_eq!(q("e-mail"), q("\"e mail\""));
    assert_matches("艾克米", "买了艾克米水壶");
    assert_matches("acme kettle", "the kettle by acme");
    assert_matches("kettle OR toaster", "a toaster");
    assert_no_match("acme NOT \"acme of skill\"", "the acme of skill");
    assert_matches("NOT recall", "all good");
    assert_matches("acme (kettle OR toaster)", "acme toaster");
    assert_matches("acm*", "Acmeville");
    assert_matches("*ville", "Acmeville");
    assert_matches("a*e", "acme");
    assert_matches("*", "");
    assert_matches("acme NEAR/3 recall", "acme announced a recall");
    assert_eq!(
        q("acme NEAR recall"),
        q(&format!("acme NEAR/{DEFAULT_NEAR_DISTANCE} recall"))
    );
    // Precedence as the grammar section says.
    assert_eq!(q("a OR b NOT c"), q("(a OR b) AND NOT c"));
    assert_eq!(q("x a NEAR/2 b"), q("x AND (a NEAR/2 b)"));
    assert_matches("rock and roll", "rock and roll");
    assert_no_match("rock and roll", "rock roll");
    assert_matches("“acme kettle”", "acme kettle");
}

#[test]
fn words_phrases_and_chinese_sections() {
    assert_no_match("acme", "acmeville");
    assert_matches("\"acme kettle\"", "Acme, kettle");
    assert_matches("召回", "艾克米宣布召回水壶");
    assert_no_match("克米", "艾克，米");
    assert_no_match("艾克米召回", "艾克米，召回");
    for query in ["\"艾克米，召回\"", "\"艾克米 召回\""] {
        assert_matches(query, "艾克米，召回");
        assert_matches(query, "艾克米。召回");
        assert_no_match(query, "艾克米召回");
    }
    for query in ["acme水壶", "\"acme 水壶\""] {
        assert_matches(query, "我的Acme水壶");
        assert_matches(query, "我的 Acme 水壶");
    }
    // Brand matching does not stem; a pattern catches the forms.
    assert_no_match("exploded", "it explodes");
    assert_matches("explod*", "it explodes");
}

/// The smallest n for which `query` with `NEAR/n` matches `text`.
fn smallest_near(left: &str, right: &str, text: &str) -> Option<u32> {
    (0..=20).find(|n| q(&format!("{left} NEAR/{n} {right}")).matches(text))
}

#[test]
fn near_tables() {
    let english = [
        ("acme kettle", true),
        ("kettle, acme", true),
        ("acme: a big kettle", true),
        ("acme has a big kettle", false),
    ];
    for (text, matched) in english {
        assert_eq!(
            q("acme NEAR/2 kettle").matches(text),
            matched,
            "acme NEAR/2 kettle on {text:?}"
        );
    }
    let chinese = [
        ("艾克米召回", 0),
        ("艾克米，召回", 1),
        ("艾克米宣布召回", 2),
        ("艾克米 Acme 召回", 1),
    ];
    for (text, smallest) in chinese {
        assert_eq!(
            smallest_near("艾克米", "召回", text),
            Some(smallest),
            "{text}"
        );
        assert_eq!(
            smallest_near("召回", "艾克米", text),
            Some(smallest),
            "{text}"
        );
    }
    assert_matches("\"acme kettle\" NEAR/3 recall", "acme kettle recall");
    assert_matches("explod* NEAR/2 kettle", "the kettle exploded");
    assert_matches("acme水壶 NEAR/3 爆炸", "我的acme水壶爆炸了");
    assert_no_match("acme NEAR/3 acme", "acme");
    assert_matches("acme NEAR/3 acme", "acme and acme");
    assert_matches(
        "acme NEAR/3 kettle AND kettle NEAR/3 recall",
        "acme kettle recall",
    );
    assert_no_match("kettle NOT acme NEAR/3 recall", "kettle: acme recall");
}

#[test]
fn positions_and_gaps_are_public() {
    let positions: Vec<u32> = word_positions("艾克米，召回 acme kettle")
        .into_iter()
        .map(|(position, _)| position)
        .collect();
    // 艾 克 米 (，) 召 回 acme kettle
    assert_eq!(positions, [0, 1, 2, 4, 5, 6, 7]);
    assert_eq!(near_gap((0, 3), (4, 6)), Some(1));
    assert_eq!(near_gap((4, 6), (0, 3)), Some(1));
    assert_eq!(near_gap((0, 2), (2, 3)), Some(0));
    assert_eq!(near_gap((0, 2), (1, 3)), None);
}

fn post(author: &str, source: &str, url: &str, lang: &str) -> MatchText {
    MatchText::with_meta(
        "Acme kettle recall",
        MatchMeta {
            author: Some(author),
            source: Some(source),
            url: Some(url),
            lang: Some(lang),
        },
    )
}

#[test]
fn field_operator_section() {
    let jane = post(
        "@AcmeSupport",
        "hn",
        "https://www.example.com/blog/2024/x",
        "en",
    );
    let news = post("Jane Doe", "weibo", "https://news.example.com/shop", "zh");
    let check = |query: &str, on_jane: bool, on_news: bool| {
        let parsed = q(query);
        assert_eq!(parsed.matches_prepared(&jane), on_jane, "{query} on jane");
        assert_eq!(parsed.matches_prepared(&news), on_news, "{query} on news");
    };
    check("author:@AcmeSupport", true, false);
    check("author:acmesupport", true, false);
    check("AUTHOR:\"Jane Doe\"", false, true);
    check("author:acme*", true, false);
    check("author:alice OR author:\"jane doe\"", false, true);
    check("source:hn", true, false);
    check("source:HN", false, false);
    check("site:example.com", true, true);
    check("site:news.example.com", false, true);
    check("lang:zh", false, true);
    check("url:https://www.example.com/blog", true, false);
    check("url:example.com/blog", true, false);
    check("url:example.com/shop", false, false);
    check("url:*shop*", false, true);
    check("kettle author:acme* NOT site:spam.example", true, false);
    // Other prefixes are ordinary words.
    assert_matches("ratio:3", "the ratio: 3 to 1");
    assert_no_match("ratio:3", "a ratio of 3");
    // On text alone a field operator matches nothing.
    assert!(!q("source:hn").matches("source hn"));
    assert!(q("NOT author:x").matches("anything"));
    assert!(q("kettle author:x").has_field_operators());
    assert!(!q("kettle NEAR/2 acme").has_field_operators());
    // Field values are not terms for the segmenter or highlighting.
    assert_eq!(q("author:bob kettle").positive_terms(), ["kettle"]);
}

/// The error table of docs/query-language.md, read from the file.
#[test]
fn error_table_in_the_docs_holds() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/query-language.md");
    let text = std::fs::read_to_string(&docs).expect("docs/query-language.md is in the repo");
    let table_start = text
        .find("| Query | Column | Message contains |")
        .expect("the error table");
    let mut rows = 0;
    for line in text[table_start..].lines().skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 3, "{line}");
        let query = if cells[0] == "(empty query)" {
            ""
        } else {
            cells[0]
                .strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or_else(|| panic!("query cell {:?}", cells[0]))
        };
        let column: usize = cells[1].parse().expect("column");
        let error: QueryError = Query::parse(query)
            .err()
            .unwrap_or_else(|| panic!("{query:?} should be refused"));
        assert_eq!(error.column, column, "{query:?}: {error}");
        let message = error.to_string();
        for piece in cells[2].split('…').map(str::trim).filter(|p| !p.is_empty()) {
            assert!(
                message.contains(piece),
                "{query:?}: {message:?} lacks {piece:?}"
            );
        }
        rows += 1;
    }
    assert!(rows >= 20, "read only {rows} rows");
}

#[test]
fn new_variants_survive_serde_and_display() {
    let queries = [
        q("acme NEAR/3 \"kettle lid\""),
        q("explod* NEAR 召回"),
        q("author:\"jane doe\" OR site:example.com OR url:example.com/a* OR lang:zh"),
        q("source:hn NOT (a NEAR/0 b)"),
    ];
    for query in queries {
        let json = serde_json::to_string(&query).unwrap();
        let back: Query = serde_json::from_str(&json).unwrap();
        assert_eq!(back, query, "{json}");
        assert_eq!(q(&query.to_string()), query, "{query}");
    }
    assert_eq!(
        q("acme NEAR/3 \"kettle lid\""),
        Query::Near {
            left: NearOperand::Term("acme".into()),
            right: NearOperand::Phrase("kettle lid".into()),
            distance: 3,
        }
    );
    assert_eq!(
        serde_json::to_value(q("author:bob")).unwrap(),
        serde_json::json!({"Field": {"field": "author", "value": "bob"}})
    );
    assert_eq!(MetaField::from_name("URL"), Some(MetaField::Url));
    assert_eq!(MetaField::from_name("foo"), None);
}

#[test]
fn matches_and_prepared_matches_agree() {
    let text = "Acme kettle: 艾克米水壶，召回! acmeville e-mail";
    let prepared = MatchText::new(text);
    for query in [
        "acme",
        "acm*",
        "\"kettle 艾克米\"",
        "艾克米 NEAR/2 召回",
        "水壶 NEAR/0 召回",
        "e-mail NEAR/1 acmeville",
        "NOT 召回",
        "kettle OR nothing",
    ] {
        let parsed = q(query);
        assert_eq!(
            parsed.matches(text),
            parsed.matches_prepared(&prepared),
            "{query}"
        );
    }
    assert_matches("\"kettle 艾克米\"", text);
    assert_matches("水壶 NEAR/1 召回", text);
    assert_no_match("水壶 NEAR/0 召回", text);
}

#[test]
fn evidence_posts_match_field_operators_on_their_metadata() {
    let post = vigil_core::EvidencePost {
        id: "p".into(),
        url: Some("https://news.example.com/2024/recall".into()),
        source: "reddit".into(),
        author: Some("@Acme_Watch".into()),
        published_at: chrono::Utc::now(),
        text: "Acme kettle recall announced".into(),
        label: None,
        score: None,
        reach: None,
        lang: None,
    };
    let matches = |q: &str| post.matches(&Query::parse(q).unwrap());
    assert!(matches("recall AND site:example.com"));
    assert!(matches("recall AND author:acme_watch AND source:reddit"));
    assert!(matches("url:news.example.com/2024*"));
    assert!(!matches("recall AND source:mastodon"));
    assert!(!matches("recall AND site:other.org"));
    assert!(!matches("lang:en"), "evidence carries no language");
}

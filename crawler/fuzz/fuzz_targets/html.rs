//! `extract_html` with fixed source specs (a review list with every field mapped, a
//! nested forum thread, a whole-item spec) over arbitrary bytes, plus `strip_html`
//! and `decode_entities` over the same text. Whenever the fast HTML tree builder
//! accepts the decoded page, its tree must be html5ever's (`compare_parsers`).
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigil_crawler::{
    HtmlSpec, PageContext, compare_parsers, decode_body, decode_entities, extract_html, strip_html,
};
use vigil_crawler_fuzz::{check, fetched_at, pick};

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("text/html; charset=utf-8"),
    Some("text/html; charset=windows-1252"),
];

fn spec(item: &str, fields: &[(&str, &str)], next_page: Option<&str>) -> Option<HtmlSpec> {
    let fields: BTreeMap<String, String> = fields
        .iter()
        .map(|(name, selector)| (name.to_string(), selector.to_string()))
        .collect();
    match HtmlSpec::compile(item, &fields, next_page) {
        Ok(spec) => Some(spec),
        Err(why) => {
            eprintln!("fuzz spec {item:?} does not compile: {why}");
            None
        }
    }
}

fn specs() -> &'static [HtmlSpec] {
    static SPECS: OnceLock<Vec<HtmlSpec>> = OnceLock::new();
    SPECS.get_or_init(|| {
        [
            spec(
                "div.review",
                &[
                    ("text", "p.body"),
                    ("title", ".title"),
                    ("author", ".author"),
                    ("published", "time@datetime"),
                    ("url", "a.permalink@href"),
                    ("rating", ".stars@data-rating"),
                    ("likes", ".helpful"),
                    ("id", "@data-id"),
                    ("lang", "@lang"),
                ],
                Some("a.next@href"),
            ),
            spec(
                "li.post, article",
                &[
                    ("text", ".content"),
                    ("author", ".user"),
                    ("published", ".date"),
                    ("likes", ".likes"),
                    ("replies", ".replies"),
                    ("reposts", ".shares"),
                    ("score", ".score"),
                    ("id", "@id"),
                ],
                Some("link[rel=next]"),
            ),
            spec("p, div.comment", &[], None),
        ]
        .into_iter()
        .flatten()
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let content_type = *pick(data, CONTENT_TYPES);
    let context = PageContext {
        source: "fuzz-html",
        fetch_url: "https://reviews.example.com/acme/reviews?page=2",
        http_status: Some(200),
        fetched_at: fetched_at(),
    };
    for spec in specs() {
        check("extract_html", || {
            let _ = extract_html(spec, data, content_type, &context);
        });
    }
    check("compare_parsers", || {
        let (page, _, _) = decode_body(data, content_type);
        if let Err(why) = compare_parsers(&page) {
            panic!("the fast HTML parser differs from html5ever: {why}");
        }
    });
    let text = String::from_utf8_lossy(data);
    check("strip_html", || {
        let _ = strip_html(&text);
    });
    check("decode_entities", || {
        let _ = decode_entities(&text);
    });
});

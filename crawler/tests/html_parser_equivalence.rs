//! The fast HTML tree builder (`parse_html_fast`) against html5ever
//! (`scraper::Html::parse_document`): whenever the fast one accepts a document, both
//! trees must be identical, and `extract_html` must give the same page as the
//! html5ever-only reference `extract_html_html5ever`, for several source specs.
//!
//! Inputs: the repository's HTML fixtures, the captured real pages in
//! ../shared/fixtures/html (skipped when absent), synthetic review pages like the
//! benchmarks', and seeded random documents built from a grammar of well-formed and
//! broken markup.

#[path = "../benches/support/mod.rs"]
mod bench_support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use scraper::Html;
use vigil_crawler::{
    HtmlSpec, PageContext, decode_body, extract_html, extract_html_html5ever, parse_html,
    parse_html_fast,
};

fn fetched_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 15, 12, 0, 0).unwrap()
}

fn spec(item: &str, fields: &[(&str, &str)], next: Option<&str>) -> HtmlSpec {
    let fields: BTreeMap<String, String> = fields
        .iter()
        .map(|(name, selector)| (name.to_string(), selector.to_string()))
        .collect();
    HtmlSpec::compile(item, &fields, next).unwrap_or_else(|why| panic!("{item:?}: {why}"))
}

/// The specs of the tests, benchmarks and fuzz target, plus some whole-page ones.
fn specs() -> Vec<HtmlSpec> {
    vec![
        // tests/html_extract.rs and the benchmarks: a review list, every field.
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
            ],
            Some("a.next@href"),
        ),
        // The forum fixture and the fuzz target's second spec.
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
        // The benchmarks' specs for the shared pages.
        spec(
            "article.message--post",
            &[
                ("text", ".bbWrapper"),
                ("author", "@data-author"),
                ("published", "time@datetime"),
                ("id", "@data-content"),
            ],
            None,
        ),
        spec(
            "article.comment-body",
            &[
                ("text", ".comment-content"),
                ("author", ".comment-author .fn"),
                ("published", "time@datetime"),
                ("id", "@id"),
            ],
            None,
        ),
        spec(
            "div.review-card",
            &[
                ("text", ".review-content__text"),
                ("title", ".review-content__title"),
                ("author", ".consumer-information__name"),
                ("published", "time@datetime"),
            ],
            None,
        ),
        // Whole-element items: every paragraph, list item, cell, div.
        spec("p, div.comment", &[], None),
        spec(
            "li",
            &[("url", "a"), ("title", "a@title")],
            Some("a[rel=next]"),
        ),
        spec("td, th", &[("lang", "@lang")], None),
        spec("div", &[("title", "h1, h2, h3"), ("id", "@id")], Some("a")),
        spec("body", &[("text", "main, #content")], None),
    ]
}

fn context(fetch_url: &str) -> PageContext<'_> {
    PageContext {
        source: "equivalence",
        fetch_url,
        http_status: Some(200),
        fetched_at: fetched_at(),
    }
}

/// Whether the fast parser accepted `text`; panics when its tree differs.
fn check_tree(name: &str, text: &str) -> bool {
    match parse_html_fast(text) {
        Ok(fast) => {
            let reference = Html::parse_document(text);
            assert_eq!(
                fast.quirks_mode, reference.quirks_mode,
                "{name}: quirks mode differs"
            );
            if fast.tree != reference.tree {
                panic!(
                    "{name}: trees differ: {}\ninput: {:?}",
                    first_difference(&fast, &reference),
                    text.chars().take(300).collect::<String>()
                );
            }
            // `parse_html` is the fast tree when the fast parser accepts.
            assert!(parse_html(text).tree == reference.tree, "{name}");
            true
        }
        Err(_) => {
            assert!(parse_html(text).tree == Html::parse_document(text).tree);
            false
        }
    }
}

/// The first node (in arena order) where two trees differ, with its ancestors.
fn first_difference(fast: &Html, reference: &Html) -> String {
    let describe = |node: ego_tree::NodeRef<'_, scraper::Node>| -> String {
        let mut path: Vec<String> = node
            .ancestors()
            .filter_map(|a| a.value().as_element().map(|e| e.name().to_string()))
            .collect();
        path.reverse();
        format!("{:?} under {}", node.value(), path.join(" > "))
    };
    let ids = |node: Option<ego_tree::NodeRef<'_, scraper::Node>>| node.map(|n| n.id());
    for (index, (a, b)) in fast.tree.nodes().zip(reference.tree.nodes()).enumerate() {
        let same = a.value() == b.value()
            && ids(a.parent()) == ids(b.parent())
            && ids(a.prev_sibling()) == ids(b.prev_sibling())
            && ids(a.next_sibling()) == ids(b.next_sibling())
            && ids(a.first_child()) == ids(b.first_child());
        if !same {
            return format!(
                "node {index}:\n  fast:      {}\n  html5ever: {}",
                describe(a),
                describe(b)
            );
        }
    }
    format!(
        "node counts {} vs {}",
        fast.tree.nodes().count(),
        reference.tree.nodes().count()
    )
}

/// `extract_html` against the html5ever-only reference for every spec.
fn check_pages(name: &str, body: &[u8], specs: &[HtmlSpec]) {
    let context = context("https://example.com/forum/page?p=2");
    for spec in specs {
        let fast = extract_html(spec, body, None, &context);
        let reference = extract_html_html5ever(spec, body, None, &context);
        assert_eq!(
            fast,
            reference,
            "{name}: pages differ for {}",
            spec.extraction()
        );
    }
}

fn html_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "html"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

fn check_files(files: &[(String, Vec<u8>)]) -> usize {
    let specs = specs();
    let mut accepted = 0;
    for (name, bytes) in files {
        let (text, _, _) = decode_body(bytes, None);
        let fast = check_tree(name, &text);
        match parse_html_fast(&text) {
            Ok(_) => eprintln!("{name}: fast parser"),
            Err(why) => eprintln!("{name}: html5ever ({why})"),
        }
        accepted += usize::from(fast);
        check_pages(name, bytes, &specs);
    }
    accepted
}

#[test]
fn repository_fixtures_parse_identically() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/html");
    let files = html_files(&dir);
    assert_eq!(files.len(), 3, "the three hand-written pages");
    // They are well-formed: the fast parser must take all of them.
    assert_eq!(check_files(&files), files.len());
}

#[test]
fn shared_pages_parse_identically() {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/html");
    if !dir.is_dir() {
        eprintln!("skipping: {} not present", dir.display());
        return;
    }
    let files = html_files(&dir);
    let accepted = check_files(&files);
    eprintln!("{accepted} of {} shared pages parsed fast", files.len());
}

// ---------------------------------------------------------------------------------
// Synthetic pages
// ---------------------------------------------------------------------------------

/// xorshift64*, so the documents are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A review page in the benchmarks' shape (head with style and script, navigation,
/// `div.review` items, a next link).
fn review_page(rng: &mut Rng, items: usize) -> String {
    let mut page = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  <title>Acme &amp; co — reviews</title>\n  <style>.review{margin:1em}</style>\n  <script>var t=\"<div class='review'>x</div>\";if(a<b&&c){}</script>\n</head>\n<body>\n  <header><nav><ul><li><a href=\"/k\">Kitchen</a></li><li><a href=\"/g\">Garden</a></li></ul></nav></header>\n  <main>\n  <h1>Acme Kettle</h1>\n  <div class=\"reviews\">\n",
    );
    for i in 0..items {
        let _ = write!(
            page,
            "    <div class=\"review\" data-id=\"r{i}\">\n      <h3 class=\"title\">Title {i} &hellip;</h3>\n      <div class=\"meta\"><span class=\"author\">{}</span>\n      <time datetime=\"2024-05-{:02}T10:00:00Z\">May {}, 2024</time>\n      <span class=\"stars\" data-rating=\"{}\" style=\"width: 80%\">4 out of 5</span></div>\n      <p class=\"body\">",
            rng.pick(&["Alice", "Bob &amp; Co", "王小明", "Jürgen"]),
            1 + rng.below(28),
            1 + rng.below(28),
            1 + rng.below(5),
        );
        for _ in 0..(20 + rng.below(40)) {
            page.push_str(rng.pick(&[
                "the kettle ",
                "boils ",
                "<b>Update:</b> ",
                "&quot;ok&quot; &amp; fine&hellip; ",
                "<br>",
                "Acme ",
                "<em>really</em> ",
                "<a href=\"/x?a=1&amp;b=2\">link</a> ",
                "\n",
            ]));
        }
        let _ = write!(
            page,
            "</p>\n      <a class=\"permalink\" href=\"/r/{i}\">Permalink</a>\n      <span class=\"helpful\">{} people found this helpful</span>\n      <button onclick=\"report('r{i}')\">Report</button>\n    </div>\n",
            rng.below(3000)
        );
    }
    page.push_str("  </div>\n  <nav class=\"pages\"><a class=\"next\" href=\"?page=3\">Next</a></nav>\n  </main>\n  <footer><p>&copy; 2024</p></footer>\n</body>\n</html>\n");
    page
}

#[test]
fn benchmark_pages_parse_fast_and_identically() {
    let specs = specs();
    for (seed, words) in [(1, 200), (7, 2_500), (42, 20)] {
        let page =
            bench_support::review_page(seed, "p", 10 + seed as usize, words, Some("?page=2"));
        let name = format!("benchmark page {seed}");
        assert!(
            check_tree(&name, &page),
            "{name}: the fast parser must accept the benchmarks' page: {:?}",
            parse_html_fast(&page).err()
        );
        check_pages(&name, page.as_bytes(), &specs);
    }
}

#[test]
fn synthetic_review_pages_parse_fast_and_identically() {
    let specs = specs();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..20 {
        let page = review_page(&mut rng, 1 + round % 7);
        let name = format!("review page {round}");
        assert!(
            check_tree(&name, &page),
            "{name}: the fast parser must accept the benchmark's page shape: {:?}",
            parse_html_fast(&page).err()
        );
        check_pages(&name, page.as_bytes(), &specs);
    }
}

/// Pieces of markup: mostly well-formed page furniture, and everything the parser
/// treats specially (implied end tags, tables, selects, SVG, raw text, entities,
/// comments, misnesting, stray end tags).
const PIECES: &[&str] = &[
    "<div class=\"review\">",
    "</div>",
    "<div class=comment id=c1>",
    "<p>",
    "</p>",
    "<p class=body>",
    "<span class=author>",
    "</span>",
    "<b>",
    "</b>",
    "<i>",
    "</i>",
    "<em>",
    "</em>",
    "<strong>",
    "</strong>",
    "<a href=\"/a?x=1&amp;y=2\" class=permalink>",
    "<a class=\"next\" href='?page=2'>",
    "</a>",
    "<ul>",
    "</ul>",
    "<ol>",
    "</ol>",
    "<li class=post>",
    "<li>",
    "</li>",
    "<dl><dt>t<dd>d",
    "</dl>",
    "<h2 class=title>",
    "</h2>",
    "<h3>",
    "</h3>",
    "<br>",
    "<br/>",
    "</br>",
    "<hr>",
    "<img src=x.png alt=\"a &amp; b\">",
    "<input type=hidden name=t value=1>",
    "<input name=q>",
    "<time datetime=\"2024-05-01T10:00:00Z\">",
    "</time>",
    "<table>",
    "</table>",
    "<tr>",
    "</tr>",
    "<td>",
    "</td>",
    "<th>",
    "<tbody>",
    "</tbody>",
    "<thead>",
    "<caption>",
    "</caption>",
    "<colgroup><col>",
    "<select name=s>",
    "</select>",
    "<option value=1>",
    "</option>",
    "<optgroup label=g>",
    "<form action=/f>",
    "</form>",
    "<button>",
    "</button>",
    "<pre>\n",
    "</pre>",
    "<textarea>\nfoo &lt; bar</textarea>",
    "<script>if (a < b && c > d) { x = '</div>'; }</script>",
    "<script><!-- y = 1; --></script>",
    "<style>a > b { color: red }</style>",
    "<title>A &amp; B</title>",
    "<noscript><img src=t></noscript>",
    "<iframe src=/i></iframe>",
    "<svg viewBox=\"0 0 10 10\" class=stars><path d=\"M0 0\"/><title>4 stars</title></svg>",
    "<svg><g><rect width=1 /></g><lineargradient id=g></lineargradient></svg>",
    "<!-- a comment -->",
    "<!---->",
    "<!DOCTYPE html>",
    "<?xml version=\"1.0\"?>",
    "<!bogus>",
    "</3>",
    "</>",
    "text ",
    "Acme kettle ",
    "  \n  ",
    "\t",
    "\r\n",
    "&amp; &lt; &gt; &quot; &#39; &#x4E2D; &hellip; &nbsp;",
    "&notit; &copy2024 &#150; &#0; &#x110000; &bogus; & ",
    "a < b ",
    "中文评论 ",
    "<head>",
    "</head>",
    "<body class=b>",
    "</body>",
    "<html lang=zh>",
    "</html>",
    "<meta charset=utf-8>",
    "<link rel=next href=/p2>",
    "<base href=\"https://cdn.example.com/\">",
    "<main>",
    "</main>",
    "<section>",
    "</section>",
    "<article id=a1>",
    "</article>",
    "<nobr>",
    "</nobr>",
    "<font color=red>",
    "</font>",
    "<object>",
    "</object>",
    "<ruby>r<rt>t</rt></ruby>",
    "<DIV CLASS=Upper>",
    "<p title=\"a > b\" data-x=1 data-x=2 disabled>",
    "<div class=\"unterminated>",
    "<template><p>t</p></template>",
    "<math><mi>x</mi></math>",
    "<plaintext>",
    "<frameset>",
    "<table>text in table</table>",
    "<b><p>mis</b>nested</p>",
];

/// A random document of `len` pieces; `tame` keeps to the well-formed furniture.
fn random_document(rng: &mut Rng, len: usize, tame: bool) -> String {
    let mut doc = String::new();
    let pool = if tame { &PIECES[..42] } else { PIECES };
    for _ in 0..len {
        doc.push_str(pool[rng.below(pool.len())]);
    }
    doc
}

#[test]
fn random_documents_parse_identically_when_accepted() {
    let specs = specs();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut accepted = 0;
    let total = 3_000;
    for round in 0..total {
        let len = 1 + rng.below(60);
        let doc = random_document(&mut rng, len, round % 3 == 0);
        let name = format!("random document {round}");
        if check_tree(&name, &doc) {
            accepted += 1;
            if round % 10 == 0 {
                check_pages(&name, doc.as_bytes(), &specs);
            }
        }
    }
    eprintln!("{accepted} of {total} random documents parsed fast");
    // Most documents hold something the fast parser leaves to html5ever, but not all:
    // a fast parser that declined everything would pass the rest of this test.
    assert!(accepted > total / 10, "only {accepted} of {total} accepted");
}

/// Element names for the structured generator: every kind the tree builder treats in
/// its own way, and ordinary ones.
const NAMES: &[&str] = &[
    "div",
    "p",
    "span",
    "a",
    "b",
    "i",
    "em",
    "strong",
    "u",
    "s",
    "code",
    "font",
    "nobr",
    "big",
    "small",
    "tt",
    "strike",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "h1",
    "h2",
    "h3",
    "h6",
    "pre",
    "listing",
    "form",
    "button",
    "table",
    "caption",
    "colgroup",
    "col",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "td",
    "th",
    "select",
    "option",
    "optgroup",
    "input",
    "textarea",
    "label",
    "img",
    "br",
    "hr",
    "wbr",
    "area",
    "embed",
    "param",
    "source",
    "track",
    "keygen",
    "image",
    "meta",
    "link",
    "base",
    "style",
    "script",
    "title",
    "noscript",
    "noframes",
    "noembed",
    "iframe",
    "xmp",
    "svg",
    "path",
    "g",
    "rect",
    "foreignObject",
    "desc",
    "clipPath",
    "lineargradient",
    "math",
    "template",
    "object",
    "applet",
    "marquee",
    "ruby",
    "rb",
    "rt",
    "rp",
    "rtc",
    "header",
    "footer",
    "main",
    "nav",
    "section",
    "article",
    "aside",
    "address",
    "blockquote",
    "center",
    "details",
    "summary",
    "dialog",
    "dir",
    "fieldset",
    "figure",
    "figcaption",
    "hgroup",
    "menu",
    "search",
    "html",
    "head",
    "body",
    "frameset",
    "frame",
    "plaintext",
    "time",
    "sub",
    "sup",
    "var",
    "cite",
    "abbr",
    "q",
    "custom-element",
    "X-Y",
    "café",
];

const ATTRS: &[&str] = &[
    " class=review",
    " class=\"a b\"",
    " id=x",
    " ID='Y'",
    " href=\"/p?a=1&amp;b=2&c\"",
    " href=/q?x=1&copy=2",
    " title=\"&lt;&#x41;&notit;\"",
    " data-id=r1",
    " data-id=r2",
    " disabled",
    " type=hidden",
    " type=HIDDEN",
    " lang=zh",
    " viewbox='0 0 1 1'",
    " xlink:href=#a",
    " xmlns=\"http://www.w3.org/2000/svg\"",
    " definitionurl=x",
    " color=red",
    "/",
    " a=b/",
    " =x",
    " \"q\"=1",
    " x=`y`",
    " rel=next",
    " datetime=\"2024-05-01T10:00:00Z\"",
    " style=\"width: 80%\"",
    " onclick=\"f('</div>')\"",
];

const TEXTS: &[&str] = &[
    "kettle",
    " ",
    "\n",
    "  \t\n ",
    "Acme &amp; Globex",
    "&lt;b&gt;",
    "&#39;&#x27;&#150;&#0;&#xD800;&#1114112;&#99999999999;",
    "&notin; &notit &not &amp &ampx &AMP; &hellip &nbsp; &; &#; &#x; &#x41",
    "中文",
    "a<b",
    "< x",
    "1 > 0",
    "\r\n",
    "\r",
    "é",
];

/// A document from a grammar: nested elements with attributes and text, with some
/// end tags missing, doubled or out of order.
fn structured_document(rng: &mut Rng, out: &mut String, depth: usize) {
    let children = rng.below(5);
    for _ in 0..children {
        match rng.below(10) {
            0..=3 => out.push_str(rng.pick(TEXTS)),
            4 => out.push_str(rng.pick(&[
                "<!-- c -->",
                "<!---->",
                "<!--->",
                "<!-- a --!>",
                "<?pi?>",
                "<!x>",
                "</ x>",
                "</>",
                "<!DOCTYPE html>",
            ])),
            _ => {
                let name = rng.pick(NAMES);
                out.push('<');
                out.push_str(name);
                for _ in 0..rng.below(3) {
                    out.push_str(rng.pick(ATTRS));
                }
                out.push('>');
                if depth < 8 {
                    structured_document(rng, out, depth + 1);
                }
                match rng.below(8) {
                    0 => {}
                    1 => {
                        out.push_str("</");
                        out.push_str(rng.pick(NAMES));
                        out.push('>');
                    }
                    _ => {
                        out.push_str("</");
                        out.push_str(name);
                        out.push('>');
                    }
                }
            }
        }
    }
}

/// Cuts, copies and inserts at random places of `page` (on char boundaries).
fn mutate(rng: &mut Rng, page: &str) -> String {
    let mut doc = page.to_string();
    for _ in 0..1 + rng.below(4) {
        let boundary = |rng: &mut Rng, doc: &str| {
            let mut at = rng.below(doc.len() + 1);
            while !doc.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        let a = boundary(rng, &doc);
        let b = boundary(rng, &doc);
        let (a, b) = (a.min(b), a.max(b));
        let b = b.min(a + 200);
        let b = (a..=b)
            .rev()
            .find(|at| doc.is_char_boundary(*at))
            .unwrap_or(a);
        match rng.below(4) {
            0 => doc.replace_range(a..b, ""),
            1 => {
                let copy = doc[a..b].to_string();
                doc.insert_str(b, &copy);
            }
            _ => doc.insert_str(a, PIECES[rng.below(PIECES.len())]),
        }
    }
    doc
}

fn rounds(default: usize) -> usize {
    std::env::var("VIGIL_EQUIVALENCE_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[test]
fn structured_documents_parse_identically_when_accepted() {
    let mut rng = Rng(0x51_7CC1_B727_220A);
    let total = rounds(3_000);
    let mut accepted = 0;
    for round in 0..total {
        let mut doc = String::new();
        if round % 2 == 0 {
            doc.push_str("<!DOCTYPE html><html><head><title>t</title></head><body>");
        }
        structured_document(&mut rng, &mut doc, 0);
        accepted += usize::from(check_tree(&format!("structured document {round}"), &doc));
    }
    eprintln!("{accepted} of {total} structured documents parsed fast");
    assert!(accepted > total / 10, "only {accepted} of {total} accepted");
}

#[test]
fn mutated_pages_parse_identically_when_accepted() {
    let mut pages: Vec<String> =
        html_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/html"))
            .into_iter()
            .map(|(_, bytes)| decode_body(&bytes, None).0)
            .collect();
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/html");
    if shared.is_dir() {
        pages.extend(
            html_files(&shared)
                .into_iter()
                .map(|(_, bytes)| decode_body(&bytes, None).0),
        );
    } else {
        eprintln!("skipping shared pages: {} not present", shared.display());
    }
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    pages.push(review_page(&mut rng, 5));
    let total = rounds(300);
    let mut accepted = 0;
    for round in 0..total {
        let page = &pages[round % pages.len()];
        let doc = mutate(&mut rng, page);
        accepted += usize::from(check_tree(&format!("mutated page {round}"), &doc));
    }
    eprintln!("{accepted} of {total} mutated pages parsed fast");
}

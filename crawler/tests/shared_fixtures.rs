//! Every captured real-world feed in ../shared/fixtures/rss through `parse_feed`:
//! no panics, legacy encodings decoded, broken documents reported — plus a seeded
//! mutation loop over them. Skipped when ../shared is not present (fresh clone).

use std::path::{Path, PathBuf};

use chrono::Utc;
use vigil_crawler::{CrawlError, ParsedFeed, decode_body, parse_feed};

fn rss_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/rss");
    dir.exists().then_some(dir)
}

fn parse(bytes: &[u8]) -> Result<ParsedFeed, CrawlError> {
    parse_feed(
        bytes,
        None,
        "fixture",
        "http://example.com/feed.xml",
        Some(200),
        Utc::now(),
    )
}

fn all_text(feed: &ParsedFeed) -> String {
    feed.posts
        .iter()
        .map(|p| format!("{}\n{}\n", p.title.as_deref().unwrap_or(""), p.text))
        .collect()
}

#[test]
fn every_fixture_parses_or_fails_cleanly() {
    let Some(dir) = rss_dir() else {
        println!("skipped: ../shared not present");
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("rss dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "expected the captured feeds, found {}",
        files.len()
    );
    let mut parsed = 0;
    for file in &files {
        let bytes = std::fs::read(file).expect("read fixture");
        match parse(&bytes) {
            Ok(feed) => {
                parsed += 1;
                for post in &feed.posts {
                    assert!(!post.external_id.is_empty(), "{}", file.display());
                    assert_eq!(post.id.len(), 16);
                    let lower = post.text.to_lowercase();
                    let leftover = ["<p>", "<br", "<div", "<a ", "<img", "<script", "</"]
                        .iter()
                        .find(|tag| lower.contains(*tag));
                    assert!(
                        leftover.is_none(),
                        "{}: {leftover:?} left in {:?}",
                        file.display(),
                        post.text
                    );
                }
            }
            Err(err) => assert!(
                matches!(err, CrawlError::Parse { .. }),
                "{}: unexpected error {err}",
                file.display()
            ),
        }
    }
    assert!(
        parsed >= 24,
        "only {parsed} of {} fixtures parsed",
        files.len()
    );
}

#[test]
fn legacy_cjk_encodings_decode() {
    let Some(dir) = rss_dir() else {
        println!("skipped: ../shared not present");
        return;
    };
    for (file, expected, encoding) in [
        (
            "chardet_gb2312_rss2_w3cn.org.xml",
            "如何以及何时使用sIFR",
            "gb18030",
        ),
        (
            "chardet_gb2312_rss092_cnblog.org.xml",
            "一个能让Symbian Series 60",
            "gb18030",
        ),
        (
            "chardet_gb2312_rss1_luciferwang.blogcn.com.xml",
            "奥登说的大实话",
            "gb18030",
        ),
        (
            "chardet_gb2312_atom_eighthday.blogspot.com.xml",
            "又颠了",
            "gb18030",
        ),
        (
            "chardet_big5_rss2_unoriginalblog.com.xml",
            "試下今日用中文打日記先",
            "Big5",
        ),
        (
            "chardet_big5_rss1_coolloud.org.tw.xml",
            "不見棺材不走人",
            "Big5",
        ),
        (
            "chardet_shiftjis_rss2_moon-light.ne.jp.xml",
            "大晦日のテレビ視聴率",
            "Shift_JIS",
        ),
    ] {
        let bytes = std::fs::read(dir.join(file)).expect("read fixture");
        let (_, used, _) = decode_body(&bytes, None);
        assert_eq!(used, Some(encoding), "{file}");
        let feed = parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!feed.posts.is_empty(), "{file}: no posts");
        let text = all_text(&feed);
        assert!(
            text.contains(expected),
            "{file}: {expected:?} not found in {text:.300}"
        );
        assert!(!text.contains('\u{FFFD}'), "{file}: replacement characters");
    }
}

#[test]
fn broken_documents_are_reported_not_fatal() {
    let Some(dir) = rss_dir() else {
        println!("skipped: ../shared not present");
        return;
    };
    let truncated =
        std::fs::read(dir.join("feedrs_rss2_truncated_reuters_MALFORMED.xml")).expect("read");
    match parse(&truncated) {
        Err(err) => assert!(err.to_string().contains("fixture"), "{err}"),
        Ok(feed) => assert!(
            feed.posts.is_empty(),
            "the truncated feed has no complete item"
        ),
    }

    let linenoise = std::fs::read(dir.join("feedparser_edge_linenoise.xml")).expect("read");
    let feed = parse(&linenoise).expect("bad bytes are replaced, not fatal");
    assert!(
        feed.warnings.iter().any(|w| w.contains("U+FFFD")),
        "{:?}",
        feed.warnings
    );
    assert_eq!(feed.posts.len(), 1);

    let gb2312_declared =
        std::fs::read(dir.join("feedparser_edge_atom_gb2312_declared.xml")).expect("read");
    assert_eq!(
        decode_body(&gb2312_declared, Some("application/atom+xml")).1,
        Some("gb18030")
    );

    let utf16 = std::fs::read(dir.join("feedparser_edge_utf-16le-bom.xml")).expect("read");
    let (text, used, errors) = decode_body(&utf16, None);
    assert_eq!(used, Some("UTF-16LE"));
    assert!(!errors && text.contains("<rss>"));
}

/// xorshift64*: a fixed seed makes every failure reproducible without a rand dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn mutated_fixtures_never_panic() {
    let Some(dir) = rss_dir() else {
        println!("skipped: ../shared not present");
        return;
    };
    let seeds: Vec<Vec<u8>> = [
        "feedrs_rss2_bbc.xml",
        "feedrs_atom_youtube_mediarss.xml",
        "feedrs_rss1_debian.xml",
        "chardet_gb2312_rss2_w3cn.org.xml",
        "chardet_shiftjis_rss2_moon-light.ne.jp.xml",
        "feedparser_edge_utf-16le-bom.xml",
    ]
    .iter()
    .map(|f| std::fs::read(dir.join(f)).expect("read seed"))
    .collect();
    let interesting: &[&[u8]] = &[
        b"<",
        b">",
        b"&",
        b"&#",
        b"]]>",
        b"<![CDATA[",
        b"<item>",
        b"</item>",
        b"<entry>",
        b"\xFF",
        b"\xEF\xBB\xBF",
        b"\x00",
        b"<?xml version=\"1.0\" encoding=\"utf-16\"?>",
        b"<script>",
        b"&#xD800;",
        b"\"",
        b"<!--",
    ];
    let mut rng = Rng(0x5EED_F00D_1234_5678);
    for round in 0..600 {
        let mut doc = seeds[round % seeds.len()].clone();
        for _ in 0..1 + rng.below(8) {
            if doc.is_empty() {
                break;
            }
            let at = rng.below(doc.len());
            match rng.below(5) {
                0 => doc[at] = rng.next() as u8,
                1 => doc.truncate(at),
                2 => {
                    let end = (at + rng.below(64)).min(doc.len());
                    doc.drain(at..end);
                }
                3 => {
                    let piece = interesting[rng.below(interesting.len())];
                    doc.splice(at..at, piece.iter().copied());
                }
                _ => {
                    let end = (at + rng.below(256)).min(doc.len());
                    let copy = doc[at..end].to_vec();
                    doc.splice(at..at, copy);
                }
            }
        }
        // A panic fails the test; errors are fine.
        let _ = parse(&doc);
        let _ = decode_body(&doc, Some("text/xml; charset=gbk"));
        let _ = vigil_crawler::strip_html(&String::from_utf8_lossy(&doc));
    }
}

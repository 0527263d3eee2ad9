//! Feed bytes → [`Post`]s: decode (see `decode`), hand UTF-8 to feed-rs, normalise
//! every entry. Pure: no I/O, usable from tests, fuzzers and benchmarks.

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use feed_rs::model::{Entry, Feed, FeedType, Link, Text};
use url::Url;
use vigil_core::{Post, Provenance, canonical_url, post_id, sha256_hex};

use crate::decode::{decode_body, strip_xml_declarations};
use crate::html::{collapse_whitespace, strip_html};
use crate::item::post_lang;
#[cfg(test)]
use crate::item::reconcile_lang;
use crate::repair::{fix_ampersands, upgrade_atom_03};
use crate::{CrawlError, Result};

/// A publication date this far past the fetch time is a broken clock or time zone,
/// not a post from the future; it would sit at the top of every window otherwise.
const FUTURE_TOLERANCE_MINUTES: i64 = 10;

/// The posts of one feed document, before brand matching (`brands` is empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    pub posts: Vec<Post>,
    /// Recoverable problems: replaced bytes, items salvaged from a broken document,
    /// clamped dates.
    pub warnings: Vec<String>,
}

/// Parses a feed (RSS 2.0, RSS 1.0, RSS 0.9x, Atom, JSON Feed) into posts of `source`.
/// Never panics; a document that cannot be read at all is [`CrawlError::Parse`].
pub fn parse_feed(
    bytes: &[u8],
    content_type: Option<&str>,
    source: &str,
    fetch_url: &str,
    http_status: Option<u16>,
    fetched_at: DateTime<Utc>,
) -> Result<ParsedFeed, CrawlError> {
    let mut warnings = Vec::new();
    let (text, encoding, had_errors) = decode_body(bytes, content_type);
    if had_errors {
        warnings.push(format!(
            "malformed {} byte sequences were replaced with U+FFFD",
            encoding.unwrap_or("UTF-8")
        ));
    }
    let stripped = strip_xml_declarations(&text);
    let document = upgrade_atom_03(&stripped).unwrap_or(stripped);

    let feed = match run_feed_rs(&document, fetch_url) {
        Ok(feed) => feed,
        Err(first_error) => {
            let repaired = fix_ampersands(&document);
            match run_feed_rs(&repaired, fetch_url) {
                Ok(feed) => {
                    warnings.push(format!(
                        "the document is not well-formed XML ({first_error}); parsed it after escaping stray '&' characters"
                    ));
                    feed
                }
                Err(_) => match salvage(&repaired, fetch_url) {
                    Some(feed) if !feed.entries.is_empty() => {
                        warnings.push(format!(
                            "the document is malformed ({first_error}); kept the {} complete items before the damage",
                            feed.entries.len()
                        ));
                        feed
                    }
                    _ => {
                        return Err(CrawlError::Parse {
                            source_name: source.to_string(),
                            message: first_error,
                        });
                    }
                },
            }
        }
    };

    let extraction = match feed.feed_type {
        FeedType::Atom => "rss:atom/entry",
        FeedType::RSS2 => "rss:rss2/item",
        FeedType::RSS1 => "rss:rss1/item",
        FeedType::RSS0 => "rss:rss0/item",
        FeedType::JSON => "rss:json/item",
    };
    let context = EntryContext {
        base: Url::parse(fetch_url).ok(),
        feed_lang: feed.language.as_deref(),
        source,
        fetch_url,
        http_status,
        fetched_at,
        extraction,
        atom: feed.feed_type == FeedType::Atom,
    };
    let latest_allowed = fetched_at + ChronoDuration::minutes(FUTURE_TOLERANCE_MINUTES);
    let mut clamped = 0usize;
    let mut undated = 0usize;
    let posts = feed
        .entries
        .iter()
        .map(|entry| {
            let published_at = match entry.published.or(entry.updated) {
                Some(published) if published > latest_allowed => {
                    clamped += 1;
                    fetched_at
                }
                Some(published) => published,
                None => {
                    undated += 1;
                    fetched_at
                }
            };
            entry_to_post(entry, &context, published_at)
        })
        .collect();
    if clamped > 0 {
        warnings.push(format!(
            "{clamped} items were dated in the future; their publication time was set to the fetch time"
        ));
    }
    if undated > 0 {
        warnings.push(format!(
            "{undated} items had no readable publication date; the fetch time was used"
        ));
    }
    Ok(ParsedFeed { posts, warnings })
}

/// Runs feed-rs behind `catch_unwind`: it parses outside input, and a bug in it must
/// cost one feed, not the crawler task.
fn run_feed_rs(document: &str, fetch_url: &str) -> Result<Feed, String> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(fetch_url))
        // No id invented by the parser (it falls back to a random UUID): we derive a
        // stable one ourselves so a re-fetched item keeps its post id.
        .id_generator(|_links, _title, _uri| String::new())
        .sanitize_content(false)
        .build();
    match catch_unwind(AssertUnwindSafe(|| parser.parse(document.as_bytes()))) {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("the feed parser panicked on this document".to_string()),
    }
}

/// Recovers the complete items of a truncated or damaged document: cut after the last
/// `</item>`/`</entry>` and close the root element again.
fn salvage(document: &str, fetch_url: &str) -> Option<Feed> {
    let (cut, closing) = if let Some(at) = document.rfind("</entry>") {
        (at + "</entry>".len(), "</feed>")
    } else {
        let at = document.rfind("</item>")?;
        let closing = if document.contains("<rdf:RDF") || document.contains("<RDF") {
            "</rdf:RDF>"
        } else if document.contains("<channel") && !is_rss1_layout(document) {
            "</channel></rss>"
        } else {
            "</rss>"
        };
        (at + "</item>".len(), closing)
    };
    let repaired = format!("{}{}", &document[..cut], closing);
    run_feed_rs(&repaired, fetch_url).ok()
}

/// RSS 1.0 puts items beside the channel, not inside it.
fn is_rss1_layout(document: &str) -> bool {
    match (document.find("</channel>"), document.find("<item")) {
        (Some(channel_end), Some(first_item)) => channel_end < first_item,
        _ => false,
    }
}

/// What every entry of one document shares.
struct EntryContext<'a> {
    base: Option<Url>,
    feed_lang: Option<&'a str>,
    source: &'a str,
    fetch_url: &'a str,
    http_status: Option<u16>,
    fetched_at: DateTime<Utc>,
    extraction: &'static str,
    atom: bool,
}

fn entry_to_post(entry: &Entry, context: &EntryContext<'_>, published_at: DateTime<Utc>) -> Post {
    let title = entry
        .title
        .as_ref()
        .map(|t| text_to_plain(t, context.atom).replace('\n', " "))
        .filter(|t| !t.is_empty());
    let mut text = entry_text(entry, context.atom);
    if text.is_empty()
        && let Some(title) = &title
    {
        // Headline-only feeds: the title is all there is to classify.
        text = title.clone();
    }
    let url = pick_link(&entry.links).map(|href| resolve(context.base.as_ref(), href));
    let content_hash = sha256_hex(format!("{}\n{}", title.as_deref().unwrap_or(""), text));
    let external_id = {
        let id = entry.id.trim();
        if !id.is_empty() {
            id.to_string()
        } else if let Some(url) = &url {
            url.clone()
        } else {
            format!("sha256:{content_hash}")
        }
    };
    let author = entry.authors.iter().find_map(|person| {
        let name = person
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        name.or_else(|| {
            person
                .email
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
        })
        .map(str::to_string)
    });
    let declared_lang = entry.language.as_deref().or(context.feed_lang);
    let lang = post_lang(
        declared_lang.map(str::to_string),
        title.as_deref().unwrap_or(""),
        &text,
    );
    Post {
        id: post_id(context.source, &external_id),
        source: context.source.to_string(),
        external_id,
        canonical_url: url.as_deref().and_then(canonical_url),
        url,
        author,
        title,
        text,
        lang,
        published_at,
        brands: Vec::new(),
        provenance: Provenance {
            fetched_at: context.fetched_at,
            fetch_url: context.fetch_url.to_string(),
            http_status: context.http_status,
            content_hash,
            extraction: context.extraction.to_string(),
            raw_sha256: None,
        },
        sentiment: None,
        engagement: Default::default(),
        duplicate_of: None,
    }
}

/// The longest readable body of an entry: content (full text) if present, else the
/// summary, else media descriptions (YouTube puts the text there).
fn entry_text(entry: &Entry, atom: bool) -> String {
    let content = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .map(strip_html)
        .unwrap_or_default();
    if !content.is_empty() {
        return content;
    }
    let summary = entry
        .summary
        .as_ref()
        .map(|t| text_to_plain(t, atom))
        .unwrap_or_default();
    if !summary.is_empty() {
        return summary;
    }
    let media: Vec<String> = entry
        .media
        .iter()
        .filter_map(|m| m.description.as_ref().map(|t| text_to_plain(t, atom)))
        .filter(|d| !d.is_empty())
        .collect();
    media.join("\n")
}

/// Atom says whether a text construct is plain text or HTML, and means it. RSS has no
/// such flag and its descriptions carry HTML by convention (even where feed-rs reports
/// text/plain, as for RSS 1.0), so RSS text is always treated as HTML.
fn text_to_plain(text: &Text, atom: bool) -> String {
    let mime = text.content_type.to_string();
    if !atom || mime.contains("html") || mime.contains("xml") {
        strip_html(&text.content)
    } else {
        collapse_whitespace(&text.content)
    }
}

/// The entry's own page: an `alternate` (or untyped) link, else the first link.
fn pick_link(links: &[Link]) -> Option<&str> {
    links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| links.first())
        .map(|l| l.href.trim())
        .filter(|href| !href.is_empty())
}

fn resolve(base: Option<&Url>, href: &str) -> String {
    match base.and_then(|b| b.join(href).ok()) {
        Some(url) => url.to_string(),
        None => href.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-08T12:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn parse(xml: &str) -> Result<ParsedFeed> {
        parse_feed(
            xml.as_bytes(),
            None,
            "test",
            "https://example.com/feeds/main.xml",
            Some(200),
            now(),
        )
    }

    #[test]
    fn rss2_item_fields() {
        let feed = parse(
            r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title><language>en-us</language>
<item><title>Acme &amp; friends</title><link>/posts/1?utm_source=rss#top</link>
<guid isPermaLink="false">item-1</guid><dc:creator>Jane</dc:creator>
<description>&lt;p&gt;The &lt;b&gt;kettle&lt;/b&gt; broke&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</description>
<pubDate>Tue, 07 May 2024 10:00:00 GMT</pubDate></item>
</channel></rss>"#,
        )
        .expect("parses");
        assert_eq!(feed.posts.len(), 1);
        let post = &feed.posts[0];
        assert_eq!(post.external_id, "item-1");
        assert_eq!(post.id, post_id("test", "item-1"));
        assert_eq!(post.title.as_deref(), Some("Acme & friends"));
        assert_eq!(post.text, "The kettle broke");
        assert_eq!(
            post.url.as_deref(),
            Some("https://example.com/posts/1?utm_source=rss#top")
        );
        assert_eq!(
            post.canonical_url.as_deref(),
            Some("https://example.com/posts/1")
        );
        assert_eq!(post.author.as_deref(), Some("Jane"));
        assert_eq!(post.lang.as_deref(), Some("en"));
        assert_eq!(post.published_at.to_rfc3339(), "2024-05-07T10:00:00+00:00");
        assert_eq!(post.provenance.extraction, "rss:rss2/item");
        assert_eq!(post.provenance.http_status, Some(200));
        assert_eq!(post.provenance.fetched_at, now());
        assert_eq!(
            post.provenance.content_hash,
            sha256_hex("Acme & friends\nThe kettle broke")
        );
        assert!(post.brands.is_empty());
    }

    #[test]
    fn ids_fall_back_to_link_then_hash_and_are_stable() {
        let xml = r#"<rss version="2.0"><channel><title>t</title>
<item><title>linked</title><link>https://example.com/a</link></item>
<item><title>bare</title><description>only text</description></item>
</channel></rss>"#;
        let first = parse(xml).expect("parses");
        let second = parse(xml).expect("parses");
        assert_eq!(first.posts[0].external_id, "https://example.com/a");
        assert_eq!(
            first.posts[1].external_id,
            format!("sha256:{}", sha256_hex("bare\nonly text"))
        );
        assert_eq!(first.posts, second.posts);
    }

    #[test]
    fn atom_entry_and_dates() {
        let feed = parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN"><title>t</title><id>f</id>
<entry><id>tag:x,2024:1</id><title type="html">&lt;em&gt;艾克米&lt;/em&gt;召回</title>
<link rel="self" href="https://example.com/self"/><link rel="alternate" href="https://example.com/e/1"/>
<updated>2024-05-01T08:00:00+08:00</updated><author><name>王</name></author>
<content type="html">&lt;p&gt;水壶爆炸&lt;/p&gt;</content></entry>
<entry><id>tag:x,2024:2</id><title>future</title><updated>2999-01-01T00:00:00Z</updated></entry>
<entry><id>tag:x,2024:3</id><title>undated English words only</title></entry>
</feed>"#,
        )
        .expect("parses");
        let post = &feed.posts[0];
        assert_eq!(post.title.as_deref(), Some("艾克米召回"));
        assert_eq!(post.text, "水壶爆炸");
        assert_eq!(post.url.as_deref(), Some("https://example.com/e/1"));
        assert_eq!(post.author.as_deref(), Some("王"));
        assert_eq!(post.published_at.to_rfc3339(), "2024-05-01T00:00:00+00:00");
        assert_eq!(post.provenance.extraction, "rss:atom/entry");
        assert_eq!(feed.posts[1].published_at, now());
        assert!(feed.warnings.iter().any(|w| w.contains("future")));
        assert_eq!(feed.posts[2].published_at, now());
        assert_eq!(feed.posts[2].text, "undated English words only");
    }

    #[test]
    fn language_reconciled_with_text() {
        assert_eq!(reconcile_lang("en-US", "", "hello").as_deref(), Some("en"));
        assert_eq!(
            reconcile_lang("en", "艾克米", "水壶爆炸了").as_deref(),
            Some("zh")
        );
        assert_eq!(
            reconcile_lang("zh-cn", "Acme", "kettle review").as_deref(),
            Some("en")
        );
        assert_eq!(
            reconcile_lang("ja", "", "演劇ニュース").as_deref(),
            Some("ja")
        );
        assert_eq!(
            reconcile_lang("de", "", "Wasserkocher").as_deref(),
            Some("de")
        );
        assert_eq!(reconcile_lang("???", "", "x"), None);
    }

    #[test]
    fn truncated_feed_keeps_complete_items() {
        let feed = parse(
            r#"<rss version="2.0"><channel><title>t</title>
<item><guid>1</guid><title>one</title></item>
<item><guid>2</guid><title>two</title></item>
<item><guid>3</guid><title>thr"#,
        );
        match feed {
            Ok(feed) => {
                assert!(feed.posts.len() >= 2, "{feed:?}");
                assert_eq!(feed.posts[0].external_id, "1");
            }
            Err(err) => assert!(err.to_string().contains("\"test\""), "{err}"),
        }
    }

    #[test]
    fn garbage_is_a_parse_error_naming_the_source() {
        let err = parse("this is not a feed").expect_err("not a feed");
        assert!(matches!(err, CrawlError::Parse { .. }));
        assert!(err.to_string().contains("\"test\""), "{err}");
        assert!(parse("").is_err());
    }
}

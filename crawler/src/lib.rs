//! vigil-crawler: fetches sources politely and turns what they return into [`Post`]s.
//!
//! - [`Crawler`] owns one HTTP client (reqwest on tokio) and the politeness state every
//!   source shares: a robots.txt cache, a per-host minimum interval (raised by
//!   `Crawl-delay`), a global concurrency cap, and an SSRF guard that keeps feeds and
//!   their redirects away from loopback and private networks. [`Crawler::crawl`] does
//!   one conditional GET of one source and returns a [`CrawlOutcome`]: brand-matched
//!   posts plus the updated [`SourceCheckpoint`].
//! - [`parse_feed`] is the pure half (bytes → posts) for RSS 2.0/1.0/0.9x and Atom;
//!   [`decode_body`] picks the character encoding (BOM, HTTP charset, XML declaration,
//!   HTML meta) so GB2312, Big5, Shift-JIS and broken UTF-8 all come out as text.
//! - [`parse_html`] parses HTML pages into the same tree as html5ever, with a fast
//!   builder for documents that need no error recovery (html5ever for the rest).
//! - [`BrandMatcher`] assigns brands, for crawled and imported posts alike.
//! - [`CrawlError`] says whether a failure is worth retrying ([`CrawlError::is_transient`]).
//!
//! Every source kind of SPEC.md is read: `rss`, `html` (CSS selectors, see
//! `html_extract`), `json` (JSON pointers, see `json_extract`) and the platform
//! adapters in [`platforms`]. [`Extractor`] picks the reader for a source; the crawler
//! follows `next` pages within `max_pages` and keeps unfetched stretches of a listing
//! in the checkpoint's cursor so the next run fills them in.
//!
//! [`Post`]: vigil_core::Post
//! [`SourceCheckpoint`]: vigil_core::SourceCheckpoint

mod crawler;
mod dates;
mod decode;
mod error;
mod extract;
mod feed;
mod html;
mod html_extract;
mod html_tree;
mod item;
mod json_extract;
mod matcher;
pub mod platforms;
mod repair;
mod robots;
mod ssrf;

pub use crawler::{CrawlOutcome, Crawler, RecheckOutcome, RecheckPost, failed_checkpoint};
pub use dates::{epoch, parse_date};
pub use decode::decode_body;
pub use error::{CrawlError, Result};
pub use extract::{Extractor, check_source};
pub use feed::{ParsedFeed, parse_feed};
pub use html::{decode_entities, strip_html};
pub use html_extract::{
    HTML_FIELD_NAMES, HtmlSpec, extract_html, extract_html_html5ever, parse_count, parse_rating,
};
pub use html_tree::{Unsupported, compare_parsers, parse_html, parse_html_fast};
pub use item::{Item, Page, PageContext, finish_items, post_lang};
pub use json_extract::{DEFAULT_CURSOR_PARAM, JSON_FIELD_NAMES, JsonSpec, extract_json};
pub use matcher::BrandMatcher;
pub use robots::{MAX_ROBOTS_BYTES, RobotsRules, product_token};
pub use ssrf::is_forbidden_ip;

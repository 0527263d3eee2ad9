//! One source kind → how its documents become posts. [`Extractor::for_source`]
//! compiles the source's selectors and pointers once (and is what `check-config`
//! runs, so a bad selector is a start-up error, not a silent empty crawl);
//! [`Extractor::extract`] is pure and runs on a blocking thread.

use vigil_config::{SourceConfig, SourceKind};

use crate::html_extract::{HtmlSpec, extract_html};
use crate::json_extract::{JsonSpec, extract_json};
use crate::{CrawlError, Page, PageContext, parse_feed, platforms};

/// The compiled extraction of one source.
#[derive(Debug)]
pub enum Extractor {
    Feed,
    Html(HtmlSpec),
    Json(JsonSpec),
    Reddit,
    Hackernews,
    Mastodon,
    Bluesky,
    Appstore,
}

impl Extractor {
    /// Compiles `source`'s extraction; a bad selector or pointer is
    /// [`CrawlError::Config`] naming the source.
    pub fn for_source(source: &SourceConfig) -> Result<Extractor, CrawlError> {
        let config_error = |message: String| CrawlError::Config {
            source_name: source.name.clone(),
            message,
        };
        Ok(match source.kind {
            SourceKind::Rss => Extractor::Feed,
            SourceKind::Html => {
                let item = source.item.as_deref().ok_or_else(|| {
                    config_error("html sources need `item`, the CSS selector of one post".into())
                })?;
                Extractor::Html(
                    HtmlSpec::compile(item, &source.fields, source.next_page.as_deref())
                        .map_err(config_error)?,
                )
            }
            SourceKind::Json => {
                let items = source.items.as_deref().ok_or_else(|| {
                    config_error(
                        "json sources need `items`, the JSON pointer to the list of posts".into(),
                    )
                })?;
                Extractor::Json(
                    JsonSpec::compile(
                        items,
                        &source.fields,
                        source.next_page.as_deref(),
                        source.cursor_param.as_deref(),
                    )
                    .map_err(config_error)?,
                )
            }
            SourceKind::Reddit => Extractor::Reddit,
            SourceKind::Hackernews => Extractor::Hackernews,
            SourceKind::Mastodon => Extractor::Mastodon,
            SourceKind::Bluesky => Extractor::Bluesky,
            SourceKind::Appstore => Extractor::Appstore,
        })
    }

    /// Whether the kind has pages beyond the first.
    pub fn paginates(&self) -> bool {
        !matches!(self, Extractor::Feed)
    }

    /// The `Accept` header for this kind's documents.
    pub fn accept(&self) -> &'static str {
        match self {
            Extractor::Feed => {
                "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, application/feed+json;q=0.8, */*;q=0.5"
            }
            Extractor::Html(_) => "text/html, application/xhtml+xml;q=0.9, */*;q=0.5",
            _ => "application/json, */*;q=0.5",
        }
    }

    /// One fetched document → posts (before brand matching) and the next page.
    pub fn extract(
        &self,
        body: &[u8],
        content_type: Option<&str>,
        context: &PageContext<'_>,
    ) -> Result<Page, CrawlError> {
        match self {
            Extractor::Feed => {
                let parsed = parse_feed(
                    body,
                    content_type,
                    context.source,
                    context.fetch_url,
                    context.http_status,
                    context.fetched_at,
                )?;
                Ok(Page {
                    posts: parsed.posts,
                    next: None,
                    warnings: parsed.warnings,
                })
            }
            Extractor::Html(spec) => Ok(extract_html(spec, body, content_type, context)),
            Extractor::Json(spec) => extract_json(spec, body, context),
            Extractor::Reddit => platforms::reddit::parse(body, context),
            Extractor::Hackernews => platforms::hackernews::parse(body, context),
            Extractor::Mastodon => platforms::mastodon::parse(body, context),
            Extractor::Bluesky => platforms::bluesky::parse(body, context),
            Extractor::Appstore => platforms::appstore::parse(body, context),
        }
    }
}

/// Checks what can be checked of a source without fetching it: its URL and its
/// selectors or pointers. `vigil check-config` and daemon start-up run this.
pub fn check_source(source: &SourceConfig) -> Result<(), CrawlError> {
    crate::crawler::parse_http_url(&source.url)?;
    Extractor::for_source(source).map(|_| ())
}

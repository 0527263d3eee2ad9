//! Mastodon REST API → posts: status arrays (`/api/v1/timelines/tag/:tag`,
//! `/api/v1/timelines/public`, account statuses), `/api/v2/search` (`statuses`), and,
//! for completeness, a single status and a `/context` (`ancestors` + `descendants`).
//!
//! A reblog is replaced by the status it boosts. `content` is HTML and becomes text;
//! when it is empty, media descriptions (alt text) stand in. A content warning
//! (`spoiler_text`) becomes the title. The external id is the status `uri` (the same on
//! every instance), the URL its `url` (falling back to `uri`).
//! Engagement: `favourites_count` → likes, `reblogs_count` + `quotes_count` → reposts,
//! `replies_count` → replies.

use serde_json::Value;

use crate::CrawlError;
use crate::html::{decode_entities, strip_html};
use crate::item::{Item, Page, PageContext, finish_items};
use crate::json_extract::{
    api_error, date_of, int_at, kind_of, parse_document, parse_error, query_param, set_query_param,
    str_at,
};

/// The shapes of response this adapter reads.
enum Shape<'a> {
    /// A timeline: paged backwards with `max_id`.
    Timeline(&'a [Value]),
    /// `/api/v2/search`: paged with `offset`.
    Search(&'a [Value]),
    /// One status or a thread context: not paged.
    Single(Vec<&'a Value>),
}

/// Parses one Mastodon API response. `next` is `fetch_url` with `max_id` set to the
/// last status's id (timelines) or `offset` advanced by the statuses returned
/// (v2 search); `None` when the page is empty, or for a single status or context.
pub fn parse(body: &[u8], context: &PageContext<'_>) -> Result<Page, CrawlError> {
    let (document, mut warnings) = parse_document(body, context.source)?;
    if let Some(error) = api_error(&document) {
        return Err(parse_error(
            context.source,
            format!("mastodon answered with an error: {error}"),
        ));
    }
    let shape = match &document {
        Value::Array(statuses) => Shape::Timeline(statuses),
        Value::Object(object) => {
            if let Some(statuses) = object.get("statuses").and_then(Value::as_array) {
                Shape::Search(statuses)
            } else if object.contains_key("ancestors") || object.contains_key("descendants") {
                let thread = ["ancestors", "descendants"]
                    .iter()
                    .filter_map(|key| object.get(*key).and_then(Value::as_array))
                    .flatten()
                    .collect();
                Shape::Single(thread)
            } else if object.contains_key("content") && object.contains_key("id") {
                Shape::Single(vec![&document])
            } else {
                return Err(parse_error(
                    context.source,
                    "expected a list of statuses, a v2 search result or a status",
                ));
            }
        }
        other => {
            return Err(parse_error(
                context.source,
                format!("expected a list of statuses, got {}", kind_of(other)),
            ));
        }
    };
    let statuses: Vec<&Value> = match &shape {
        Shape::Timeline(statuses) | Shape::Search(statuses) => statuses.iter().collect(),
        Shape::Single(statuses) => statuses.clone(),
    };
    let mut items = Vec::with_capacity(statuses.len());
    let mut unreadable = 0usize;
    for status in &statuses {
        match status_item(status, context) {
            Some(item) => items.push(item),
            None => unreadable += 1,
        }
    }
    if unreadable > 0 {
        warnings.push(format!(
            "{unreadable} entries were not statuses (no id/uri) and were skipped"
        ));
    }
    let next = match shape {
        Shape::Timeline(statuses) => statuses
            .last()
            .and_then(|last| str_at(last, "/id"))
            .and_then(|last_id| set_query_param(context.fetch_url, "max_id", &last_id)),
        Shape::Search(statuses) if !statuses.is_empty() => {
            let offset = query_param(context.fetch_url, "offset")
                .and_then(|offset| offset.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let returned = u64::try_from(statuses.len()).unwrap_or(u64::MAX);
            set_query_param(
                context.fetch_url,
                "offset",
                &offset.saturating_add(returned).to_string(),
            )
        }
        Shape::Search(_) | Shape::Single(_) => None,
    }
    .filter(|next| next != context.fetch_url);
    let posts = finish_items(items, context, "mastodon:statuses", &mut warnings);
    Ok(Page {
        posts,
        next,
        warnings,
    })
}

fn status_item(wrapper: &Value, context: &PageContext<'_>) -> Option<Item> {
    let status = wrapper
        .get("reblog")
        .filter(|r| r.is_object())
        .unwrap_or(wrapper);
    let external_id = str_at(status, "/uri").or_else(|| str_at(status, "/id"))?;
    let mut text = str_at(status, "/content")
        .map(|html| strip_html(&html))
        .unwrap_or_default();
    if text.is_empty() {
        text = media_descriptions(status);
    }
    let title = str_at(status, "/spoiler_text").map(|spoiler| decode_entities(&spoiler));
    let url = str_at(status, "/url")
        .or_else(|| str_at(status, "/uri"))
        .filter(|url| url.starts_with("https://") || url.starts_with("http://"));
    let author = str_at(status, "/account/acct").or_else(|| str_at(status, "/account/username"));
    let published_at = status
        .get("created_at")
        .and_then(|at| date_of(at, context.fetched_at));
    let mut item = Item {
        external_id: Some(external_id),
        url,
        author,
        title,
        text,
        lang: str_at(status, "/language"),
        published_at,
        ..Item::default()
    };
    item.engagement.likes = int_at(status, "/favourites_count");
    item.engagement.reposts = match (
        int_at(status, "/reblogs_count"),
        int_at(status, "/quotes_count"),
    ) {
        (Some(reblogs), Some(quotes)) => Some(reblogs.saturating_add(quotes)),
        (reblogs, quotes) => reblogs.or(quotes),
    };
    item.engagement.replies = int_at(status, "/replies_count");
    Some(item)
}

/// Alt texts of attached media, one per line: the only words of a media-only status.
fn media_descriptions(status: &Value) -> String {
    status
        .get("media_attachments")
        .and_then(Value::as_array)
        .map(|media| {
            media
                .iter()
                .filter_map(|attachment| str_at(attachment, "/description"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn context(fetch_url: &str) -> PageContext<'_> {
        PageContext {
            source: "masto",
            fetch_url,
            http_status: Some(200),
            fetched_at: Utc::now(),
        }
    }

    #[test]
    fn reblogs_use_the_inner_status_but_page_by_the_outer_id() {
        let body = br#"[{"id":"200","uri":"https://a.test/users/b/statuses/200/activity","content":"",
            "account":{"acct":"booster"},"created_at":"2024-01-02T00:00:00Z",
            "reblog":{"id":"150","uri":"https://c.test/users/d/statuses/9","url":"https://c.test/@d/9",
              "content":"<p>Acme &amp; co</p>","spoiler_text":"","account":{"acct":"d@c.test"},
              "created_at":"2024-01-01T00:00:00Z","language":"en","favourites_count":5,
              "reblogs_count":2,"quotes_count":1,"replies_count":0,
              "media_attachments":[]}}]"#;
        let page = parse(
            body,
            &context("https://m.test/api/v1/timelines/tag/acme?limit=40"),
        )
        .unwrap();
        assert_eq!(page.posts.len(), 1);
        let post = &page.posts[0];
        assert_eq!(post.external_id, "https://c.test/users/d/statuses/9");
        assert_eq!(post.author.as_deref(), Some("d@c.test"));
        assert_eq!(post.text, "Acme & co");
        assert_eq!(post.title, None);
        assert_eq!(post.engagement.likes, Some(5));
        assert_eq!(post.engagement.reposts, Some(3));
        assert_eq!(
            page.next.as_deref(),
            Some("https://m.test/api/v1/timelines/tag/acme?limit=40&max_id=200")
        );
    }

    #[test]
    fn empty_timeline_has_no_next_page_and_errors_are_errors() {
        let page = parse(b"[]", &context("https://m.test/api/v1/timelines/public")).unwrap();
        assert!(page.posts.is_empty());
        assert_eq!(page.next, None);
        let error = parse(
            br#"{"error":"Not Found"}"#,
            &context("https://m.test/api/v1/statuses/0"),
        )
        .unwrap_err();
        assert!(error.to_string().contains("Not Found"), "{error}");
    }
}

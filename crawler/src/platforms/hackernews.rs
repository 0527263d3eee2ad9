//! Hacker News through the Algolia search API (`hn.algolia.com/api/v1/search` and
//! `search_by_date`) → posts. Stories become title + `story_text`, comments their
//! `comment_text`; both are HTML with entities and are stripped to text. Every post
//! links to its discussion page, `https://news.ycombinator.com/item?id=<objectID>`
//! (a story's external `url` is where it points, not the post itself).
//! Engagement: `points` → score, `num_comments` → replies.

use serde_json::Value;

use crate::CrawlError;
use crate::html::strip_html;
use crate::item::{Item, Page, PageContext, finish_items};
use crate::json_extract::{
    api_error, date_of, int_at, int_of, parse_document, parse_error, query_param, set_query_param,
    str_at,
};

/// The discussion page of an item.
const ITEM_URL: &str = "https://news.ycombinator.com/item?id=";

/// Parses one Algolia search response. `next` is `fetch_url` with `page=page+1`
/// while that is below `nbPages` and this page had hits.
pub fn parse(body: &[u8], context: &PageContext<'_>) -> Result<Page, CrawlError> {
    let (document, mut warnings) = parse_document(body, context.source)?;
    let Some(hits) = document.get("hits").and_then(Value::as_array) else {
        let detail = api_error(&document)
            .or_else(|| str_at(&document, "/message"))
            .unwrap_or_else(|| "no `hits` array".to_string());
        return Err(parse_error(
            context.source,
            format!("not an Algolia search response: {detail}"),
        ));
    };
    let mut items = Vec::with_capacity(hits.len());
    let mut without_id = 0usize;
    let (mut stories, mut comments) = (false, false);
    for hit in hits {
        let Some(object_id) = str_at(hit, "/objectID") else {
            without_id += 1;
            continue;
        };
        let is_comment = is_comment(hit);
        let (title, text) = if is_comment {
            comments = true;
            (None, html_text(hit, "/comment_text"))
        } else {
            stories = true;
            (
                str_at(hit, "/title").map(|title| strip_html(&title)),
                html_text(hit, "/story_text"),
            )
        };
        let published_at = hit
            .get("created_at_i")
            .and_then(|at| date_of(at, context.fetched_at))
            .or_else(|| {
                hit.get("created_at")
                    .and_then(|at| date_of(at, context.fetched_at))
            });
        let mut item = Item {
            url: Some(format!("{ITEM_URL}{object_id}")),
            external_id: Some(object_id),
            author: str_at(hit, "/author"),
            title,
            text,
            published_at,
            ..Item::default()
        };
        item.engagement.score = int_at(hit, "/points");
        item.engagement.replies = int_at(hit, "/num_comments");
        items.push(item);
    }
    if without_id > 0 {
        warnings.push(format!(
            "{without_id} hits had no objectID and were skipped"
        ));
    }
    let next = next_page(&document, context.fetch_url, !hits.is_empty());
    let extraction = match (stories, comments) {
        (true, true) => "hackernews:algolia/story+comment",
        (false, true) => "hackernews:algolia/comment",
        _ => "hackernews:algolia/story",
    };
    let posts = finish_items(items, context, extraction, &mut warnings);
    Ok(Page {
        posts,
        next,
        warnings,
    })
}

/// Comment hits are tagged `comment`; untagged hits with `comment_text` are too.
fn is_comment(hit: &Value) -> bool {
    let tagged = hit
        .get("_tags")
        .and_then(Value::as_array)
        .map(|tags| tags.iter().filter_map(Value::as_str).collect::<Vec<_>>());
    match tagged {
        Some(tags) if tags.contains(&"comment") => true,
        Some(tags) if tags.contains(&"story") => false,
        _ => str_at(hit, "/comment_text").is_some() && str_at(hit, "/title").is_none(),
    }
}

fn html_text(hit: &Value, pointer: &str) -> String {
    str_at(hit, pointer)
        .map(|html| strip_html(&html))
        .unwrap_or_default()
}

fn next_page(document: &Value, fetch_url: &str, had_hits: bool) -> Option<String> {
    if !had_hits {
        return None;
    }
    let page = document
        .get("page")
        .and_then(int_of)
        .or_else(|| query_param(fetch_url, "page").and_then(|p| p.trim().parse().ok()))
        .unwrap_or(0);
    let pages = document.get("nbPages").and_then(int_of)?;
    let next = page.checked_add(1)?;
    if page < 0 || next >= pages {
        return None;
    }
    set_query_param(fetch_url, "page", &next.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn comment_hits_use_comment_text() {
        let body = br#"{"hits":[{"objectID":"42","author":"pg","comment_text":"I &#x27;d <i>say</i> no","story_title":"Acme","parent_id":41,"created_at_i":1700000000,"_tags":["comment","author_pg","story_41"]}],
            "page":0,"nbPages":1}"#;
        let context = PageContext {
            source: "hn",
            fetch_url: "https://hn.algolia.com/api/v1/search_by_date?query=acme&tags=comment",
            http_status: Some(200),
            fetched_at: Utc::now(),
        };
        let page = parse(body, &context).unwrap();
        assert_eq!(page.posts.len(), 1);
        let post = &page.posts[0];
        assert_eq!(post.text, "I 'd say no");
        assert_eq!(post.title, None);
        assert_eq!(
            post.url.as_deref(),
            Some("https://news.ycombinator.com/item?id=42")
        );
        assert_eq!(post.provenance.extraction, "hackernews:algolia/comment");
        assert_eq!(page.next, None, "page 0 of 1 is the last");
    }
}

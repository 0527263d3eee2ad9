//! Reddit Listing JSON → posts: `/r/all/search.json?q=…&sort=new`, `/r/x/new.json`,
//! `/r/x/comments.json` and the `[submission listing, comment tree]` array of
//! `/comments/<id>.json`. `t3` children are submissions (title + selftext), `t1`
//! children comments (body; nested `replies` are followed); `more` stubs and other
//! kinds are skipped.
//!
//! Reddit's JSON escapes `&`, `<` and `>` as entities unless the request asked for
//! `raw_json=1`; entities are decoded unless the fetched URL has `raw_json=1`.
//! Engagement: `score` and `num_comments` (replies). `ups` is not reported as likes:
//! it equals the score today and would count the same votes twice.

use serde_json::Value;
use url::Url;

use crate::CrawlError;
use crate::html::decode_entities;
use crate::item::{Item, Page, PageContext, finish_items};
use crate::json_extract::{
    api_error, date_of, int_at, parse_document, parse_error, query_param, resolve_url,
    set_query_param, str_at,
};

/// Where Reddit's web pages live; API hosts (`oauth.reddit.com`, `api.reddit.com`)
/// serve JSON only, so permalinks are made absolute against this.
const WEB_ORIGIN: &str = "https://www.reddit.com";

/// Author names Reddit uses for accounts that no longer exist.
const GONE_AUTHORS: &[&str] = &["[deleted]", "[removed]"];

/// Bodies Reddit shows in place of removed content: no text to classify.
const GONE_TEXT: &[&str] = &["[deleted]", "[removed]"];

/// How deep nested comment replies are followed (the JSON parser's own nesting limit
/// keeps this bounded anyway).
const MAX_REPLY_DEPTH: usize = 64;

/// Parses one Reddit Listing response. `next` is `fetch_url` with `after` set to the
/// listing's `data.after`, or `None` when that is null (last page) or for the
/// submission + comments array form (comment trees are not paged by `after`).
pub fn parse(body: &[u8], context: &PageContext<'_>) -> Result<Page, CrawlError> {
    let (document, mut warnings) = parse_document(body, context.source)?;
    if let Some(error) = api_error(&document) {
        return Err(parse_error(
            context.source,
            format!("reddit answered with an error: {error}"),
        ));
    }
    let listings: Vec<&Value> = match &document {
        Value::Array(listings) => listings.iter().collect(),
        Value::Object(_) => vec![&document],
        other => {
            return Err(parse_error(
                context.source,
                format!(
                    "expected a reddit Listing, got {}",
                    crate::json_extract::kind_of(other)
                ),
            ));
        }
    };
    let mut walker = Walker {
        origin: web_origin(context.fetch_url),
        decode: query_param(context.fetch_url, "raw_json").as_deref() != Some("1"),
        context,
        items: Vec::new(),
        seen_t3: false,
        seen_t1: false,
        skipped_more: 0,
        skipped_other: 0,
    };
    let mut any_listing = false;
    for listing in &listings {
        if let Some(children) = listing.pointer("/data/children").and_then(Value::as_array) {
            any_listing = true;
            walker.children(children, 0);
        }
    }
    if !any_listing {
        return Err(parse_error(
            context.source,
            "expected a reddit Listing (an object with data.children)",
        ));
    }
    if walker.skipped_more > 0 {
        warnings.push(format!(
            "{} \"load more comments\" stubs were not followed",
            walker.skipped_more
        ));
    }
    if walker.skipped_other > 0 {
        warnings.push(format!(
            "{} children were neither submissions (t3) nor comments (t1) and were skipped",
            walker.skipped_other
        ));
    }
    let next = match &document {
        Value::Object(_) => str_at(&document, "/data/after")
            .and_then(|after| set_query_param(context.fetch_url, "after", &after))
            .filter(|next| next != context.fetch_url),
        _ => None,
    };
    let extraction = match (walker.seen_t3, walker.seen_t1) {
        (true, true) => "reddit:listing/t3+t1",
        (false, true) => "reddit:listing/t1",
        _ => "reddit:listing/t3",
    };
    let posts = finish_items(walker.items, context, extraction, &mut warnings);
    Ok(Page {
        posts,
        next,
        warnings,
    })
}

struct Walker<'a> {
    origin: Option<Url>,
    decode: bool,
    context: &'a PageContext<'a>,
    items: Vec<Item>,
    seen_t3: bool,
    seen_t1: bool,
    skipped_more: usize,
    skipped_other: usize,
}

impl Walker<'_> {
    fn children(&mut self, children: &[Value], depth: usize) {
        for child in children {
            let Some(data) = child.get("data").filter(|d| d.is_object()) else {
                self.skipped_other += 1;
                continue;
            };
            match child.get("kind").and_then(Value::as_str) {
                Some("t3") => {
                    self.seen_t3 = true;
                    self.items.push(self.submission(data));
                }
                Some("t1") => {
                    self.seen_t1 = true;
                    self.items.push(self.comment(data));
                    if depth < MAX_REPLY_DEPTH
                        && let Some(replies) = data
                            .pointer("/replies/data/children")
                            .and_then(Value::as_array)
                    {
                        self.children(replies, depth + 1);
                    }
                }
                Some("more") => self.skipped_more += 1,
                _ => self.skipped_other += 1,
            }
        }
    }

    fn submission(&self, data: &Value) -> Item {
        let mut item = self.common(data);
        item.title = self.text_at(data, "/title");
        item.text = self.text_at(data, "/selftext").unwrap_or_default();
        item.engagement.replies = int_at(data, "/num_comments");
        item
    }

    fn comment(&self, data: &Value) -> Item {
        let mut item = self.common(data);
        item.text = self.text_at(data, "/body").unwrap_or_default();
        if item.url.is_none() {
            item.url = self.comment_url(data);
        }
        item
    }

    fn common(&self, data: &Value) -> Item {
        let external_id = str_at(data, "/name").or_else(|| str_at(data, "/id"));
        let url = str_at(data, "/permalink")
            .and_then(|permalink| resolve_url(self.origin.as_ref(), &permalink));
        let author = str_at(data, "/author").filter(|a| !GONE_AUTHORS.contains(&a.as_str()));
        let published_at = data
            .get("created_utc")
            .and_then(|created| date_of(created, self.context.fetched_at));
        let mut item = Item {
            external_id,
            url,
            author,
            published_at,
            ..Item::default()
        };
        item.engagement.score = int_at(data, "/score");
        item
    }

    /// Comments in listings from before 2016 carry no permalink; Reddit accepts
    /// `/r/<sub>/comments/<link id>/_/<comment id>/` for any comment.
    fn comment_url(&self, data: &Value) -> Option<String> {
        let link = str_at(data, "/link_id")?;
        let link = link.strip_prefix("t3_").unwrap_or(&link);
        let id = str_at(data, "/id")?;
        let path = match str_at(data, "/subreddit") {
            Some(subreddit) => format!("/r/{subreddit}/comments/{link}/_/{id}/"),
            None => format!("/comments/{link}/_/{id}/"),
        };
        resolve_url(self.origin.as_ref(), &path)
    }

    fn text_at(&self, data: &Value, pointer: &str) -> Option<String> {
        let raw = str_at(data, pointer)?;
        if GONE_TEXT.contains(&raw.as_str()) {
            return None;
        }
        Some(if self.decode {
            decode_entities(&raw)
        } else {
            raw
        })
    }
}

/// The origin permalinks are resolved against: Reddit's web site for any reddit.com
/// host (API hosts have no HTML pages), otherwise the fetched origin (a mirror or a
/// test server).
fn web_origin(fetch_url: &str) -> Option<Url> {
    let fetched = Url::parse(fetch_url).ok();
    let is_reddit = fetched
        .as_ref()
        .and_then(Url::host_str)
        .is_some_and(|host| host == "reddit.com" || host.ends_with(".reddit.com"));
    match fetched {
        Some(mut origin) if !is_reddit => {
            origin.set_path("/");
            origin.set_query(None);
            origin.set_fragment(None);
            Some(origin)
        }
        _ => Url::parse(WEB_ORIGIN).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn context(fetch_url: &str) -> PageContext<'_> {
        PageContext {
            source: "reddit-test",
            fetch_url,
            http_status: Some(200),
            fetched_at: Utc::now(),
        }
    }

    #[test]
    fn api_hosts_link_to_the_web_site() {
        assert_eq!(
            web_origin("https://oauth.reddit.com/r/x/new?limit=5")
                .map(|u| u.to_string())
                .as_deref(),
            Some("https://www.reddit.com/")
        );
        assert_eq!(
            web_origin("http://127.0.0.1:8080/r/x/new.json")
                .map(|u| u.to_string())
                .as_deref(),
            Some("http://127.0.0.1:8080/")
        );
    }

    #[test]
    fn entities_decoded_unless_raw_json() {
        let body = br#"{"kind":"Listing","data":{"after":null,"children":[
            {"kind":"t1","data":{"name":"t1_a","id":"a","link_id":"t3_b","subreddit":"x",
             "body":"Tom &amp; Jerry","created_utc":1700000000,"score":3}}]}}"#;
        let page = parse(body, &context("https://www.reddit.com/r/x/comments.json")).unwrap();
        assert_eq!(page.posts[0].text, "Tom & Jerry");
        assert_eq!(
            page.posts[0].url.as_deref(),
            Some("https://www.reddit.com/r/x/comments/b/_/a/")
        );
        let raw = parse(
            body,
            &context("https://www.reddit.com/r/x/comments.json?raw_json=1"),
        )
        .unwrap();
        assert_eq!(raw.posts[0].text, "Tom &amp; Jerry");
        assert_eq!(page.next, None);
    }
}

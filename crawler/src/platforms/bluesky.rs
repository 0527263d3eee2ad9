//! Bluesky (AT Protocol XRPC) → posts: `app.bsky.feed.searchPosts` (`posts` +
//! `cursor`), feed-shaped responses such as `getAuthorFeed` (`feed[].post`), and
//! `getPostThread` (the post, its parents and replies).
//!
//! The external id is the post's `at://` URI; its web URL is
//! `https://bsky.app/profile/<handle or DID>/post/<rkey>`. A post without text
//! (media only) is described by its images' alt text, or dropped when there is none.
//! Engagement: `likeCount` → likes, `repostCount` + `quoteCount` → reposts,
//! `replyCount` → replies.
//!
//! Searching may need a session: [`session_request`] builds the body of the
//! `com.atproto.server.createSession` call for an app password and [`parse_session`]
//! reads the access token from its answer.

use serde_json::{Value, json};

use crate::CrawlError;
use crate::item::{Item, Page, PageContext, finish_items};
use crate::json_extract::{
    api_error, date_of, int_at, parse_document, parse_error, set_query_param, str_at, string_of,
};

/// Where the web app shows a post.
const WEB_PROFILE: &str = "https://bsky.app/profile/";

/// The collection of ordinary posts in an `at://` URI.
const POST_COLLECTION: &str = "app.bsky.feed.post";

/// The handle Bluesky reports when an account's handle no longer verifies.
const INVALID_HANDLE: &str = "handle.invalid";

/// The XRPC path of session creation, relative to the account's service.
pub const CREATE_SESSION_PATH: &str = "/xrpc/com.atproto.server.createSession";

/// How deep thread replies and parents are followed.
const MAX_THREAD_DEPTH: usize = 64;

/// The JSON body of a `com.atproto.server.createSession` call (POST it as
/// `Content-Type: application/json` to `<service>`[`CREATE_SESSION_PATH`]):
/// `{"identifier": …, "password": …}` for a handle, DID or e-mail and an app password.
pub fn session_request(identifier: &str, password: &str) -> Vec<u8> {
    json!({ "identifier": identifier.trim(), "password": password })
        .to_string()
        .into_bytes()
}

/// The `accessJwt` of a `createSession` answer (send it as `Authorization: Bearer`).
/// `Err` describes an XRPC error (`{"error": "AuthenticationRequired", "message": …}`)
/// or a body that is not a session.
pub fn parse_session(body: &[u8]) -> Result<String, String> {
    let document = match parse_document(body, "bluesky") {
        Ok((document, _)) => document,
        Err(CrawlError::Parse { message, .. }) => return Err(message),
        Err(other) => return Err(other.to_string()),
    };
    if let Some(error) = api_error(&document) {
        return Err(format!("login failed: {error}"));
    }
    str_at(&document, "/accessJwt").ok_or_else(|| {
        "the answer has no accessJwt (is this a createSession response?)".to_string()
    })
}

/// Parses one XRPC response. `next` is `fetch_url` with `cursor` set to the
/// response's `cursor`, or `None` when there is none or the page was empty.
pub fn parse(body: &[u8], context: &PageContext<'_>) -> Result<Page, CrawlError> {
    let (document, mut warnings) = parse_document(body, context.source)?;
    if let Some(error) = api_error(&document) {
        return Err(parse_error(
            context.source,
            format!("bluesky answered with an error: {error}"),
        ));
    }
    let mut views: Vec<&Value> = Vec::new();
    let extraction = if let Some(posts) = document.get("posts").and_then(Value::as_array) {
        views.extend(posts);
        "bluesky:posts"
    } else if let Some(feed) = document.get("feed").and_then(Value::as_array) {
        views.extend(feed.iter().filter_map(|entry| entry.get("post")));
        "bluesky:feed"
    } else if let Some(thread) = document.get("thread").filter(|t| t.is_object()) {
        collect_parents(thread.get("parent"), &mut views, 0);
        collect_thread(thread, &mut views, 0);
        "bluesky:thread"
    } else {
        return Err(parse_error(
            context.source,
            "expected an XRPC response with `posts`, `feed` or `thread`",
        ));
    };
    let mut items = Vec::with_capacity(views.len());
    let mut not_posts = 0usize;
    for view in &views {
        match post_item(view, context) {
            Some(item) => items.push(item),
            None => not_posts += 1,
        }
    }
    if not_posts > 0 {
        warnings.push(format!(
            "{not_posts} entries were not readable posts (no at:// uri) and were skipped"
        ));
    }
    let next = if views.is_empty() {
        None
    } else {
        document
            .get("cursor")
            .and_then(string_of)
            .and_then(|cursor| set_query_param(context.fetch_url, "cursor", &cursor))
            .filter(|next| next != context.fetch_url)
    };
    let posts = finish_items(items, context, extraction, &mut warnings);
    Ok(Page {
        posts,
        next,
        warnings,
    })
}

/// A thread view's post, then its replies, depth first.
fn collect_thread<'a>(thread: &'a Value, views: &mut Vec<&'a Value>, depth: usize) {
    if let Some(post) = thread.get("post").filter(|p| p.is_object()) {
        views.push(post);
    }
    if depth >= MAX_THREAD_DEPTH {
        return;
    }
    if let Some(replies) = thread.get("replies").and_then(Value::as_array) {
        for reply in replies {
            collect_thread(reply, views, depth + 1);
        }
    }
}

/// Parents from the root down (they nest child → parent).
fn collect_parents<'a>(parent: Option<&'a Value>, views: &mut Vec<&'a Value>, depth: usize) {
    let Some(parent) = parent.filter(|p| p.is_object()) else {
        return;
    };
    if depth < MAX_THREAD_DEPTH {
        collect_parents(parent.get("parent"), views, depth + 1);
    }
    if let Some(post) = parent.get("post").filter(|p| p.is_object()) {
        views.push(post);
    }
}

fn post_item(view: &Value, context: &PageContext<'_>) -> Option<Item> {
    let uri = str_at(view, "/uri").filter(|uri| uri.starts_with("at://"))?;
    let handle = str_at(view, "/author/handle").filter(|handle| handle != INVALID_HANDLE);
    let did = str_at(view, "/author/did");
    let url = web_url(&uri, handle.as_deref().or(did.as_deref()));
    let mut text = str_at(view, "/record/text").unwrap_or_default();
    if text.is_empty() {
        text = alt_texts(view);
    }
    let published_at = view
        .pointer("/record/createdAt")
        .and_then(|at| date_of(at, context.fetched_at))
        .or_else(|| {
            view.get("indexedAt")
                .and_then(|at| date_of(at, context.fetched_at))
        });
    let lang = view
        .pointer("/record/langs")
        .and_then(Value::as_array)
        .and_then(|langs| langs.iter().find_map(string_of));
    let mut item = Item {
        external_id: Some(uri),
        url,
        author: handle.or(did),
        text,
        lang,
        published_at,
        ..Item::default()
    };
    item.engagement.likes = int_at(view, "/likeCount");
    item.engagement.reposts = match (int_at(view, "/repostCount"), int_at(view, "/quoteCount")) {
        (Some(reposts), Some(quotes)) => Some(reposts.saturating_add(quotes)),
        (reposts, quotes) => reposts.or(quotes),
    };
    item.engagement.replies = int_at(view, "/replyCount");
    Some(item)
}

/// `at://<did or handle>/app.bsky.feed.post/<rkey>` → the bsky.app page, shown under
/// `profile` (the author's handle, else the URI's own authority).
pub fn web_url(at_uri: &str, profile: Option<&str>) -> Option<String> {
    let rest = at_uri.strip_prefix("at://")?;
    let mut parts = rest.split('/');
    let authority = parts.next().filter(|a| !a.is_empty())?;
    let collection = parts.next()?;
    let rkey = parts.next().filter(|k| !k.is_empty())?;
    if collection != POST_COLLECTION || parts.next().is_some() || !is_safe_segment(rkey) {
        return None;
    }
    let profile = profile
        .filter(|profile| is_safe_segment(profile))
        .unwrap_or(authority);
    if !is_safe_segment(profile) {
        return None;
    }
    Some(format!("{WEB_PROFILE}{profile}/post/{rkey}"))
}

/// Record keys, DIDs and handles use only these characters; anything else would
/// change the URL's meaning.
fn is_safe_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '~'))
}

/// Alt texts of the images a post embeds (directly or with a quoted record), from the
/// record and, failing that, the hydrated view.
fn alt_texts(view: &Value) -> String {
    let mut alts = Vec::new();
    for embed in [view.pointer("/record/embed"), view.get("embed")]
        .into_iter()
        .flatten()
    {
        for images in [embed.get("images"), embed.pointer("/media/images")]
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
        {
            alts.extend(images.iter().filter_map(|image| str_at(image, "/alt")));
        }
        if !alts.is_empty() {
            break;
        }
    }
    alts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_uris_become_web_urls() {
        assert_eq!(
            web_url(
                "at://did:plc:abc/app.bsky.feed.post/3kghpycppiw2n",
                Some("alice.bsky.social")
            )
            .as_deref(),
            Some("https://bsky.app/profile/alice.bsky.social/post/3kghpycppiw2n")
        );
        assert_eq!(
            web_url("at://did:plc:abc/app.bsky.feed.post/3k", None).as_deref(),
            Some("https://bsky.app/profile/did:plc:abc/post/3k")
        );
        assert_eq!(
            web_url("at://did:plc:abc/app.bsky.feed.like/3k", None),
            None
        );
        assert_eq!(
            web_url("at://did:plc:abc/app.bsky.feed.post/a?b", None),
            None
        );
        assert_eq!(web_url("https://x", None), None);
    }

    #[test]
    fn session_round_trip() {
        let body: Value = serde_json::from_slice(&session_request(" me.test ", "p\"w")).unwrap();
        assert_eq!(body["identifier"], "me.test");
        assert_eq!(body["password"], "p\"w");
        assert_eq!(
            parse_session(br#"{"did":"did:plc:x","accessJwt":"eyJ.a.b","refreshJwt":"r"}"#)
                .unwrap(),
            "eyJ.a.b"
        );
        let error = parse_session(
            br#"{"error":"AuthenticationRequired","message":"Invalid identifier or password"}"#,
        )
        .unwrap_err();
        assert!(error.contains("Invalid identifier or password"), "{error}");
        assert!(parse_session(b"<html>").unwrap_err().contains("not JSON"));
        assert!(parse_session(b"{}").is_err());
    }
}

//! `honour_deletions`: asking the source whether posts it gave us still exist, so a post
//! its author deleted (or a moderator removed) is erased here too. Reddit's API terms
//! require it; for other sources it is the courteous default for personal data.
//!
//! Per kind:
//! - `reddit`: `GET /api/info?id=<fullnames>` (100 per request). A thing that is
//!   missing, whose author is `[deleted]`, whose text is `[deleted]`/`[removed]`, or
//!   that has a `removed_by_category`, is gone.
//! - `bluesky`: `GET /xrpc/app.bsky.feed.getPosts?uris=…` (25 per request); a URI
//!   missing from the answer is gone.
//! - every other kind (`rss`, `html`, `json`, `hackernews`, `mastodon`, `appstore`): a
//!   `GET` of the post's own URL; 404 or 410 means gone.
//!
//! Anything else (a 5xx, a timeout, robots.txt disallowing the URL, a redirect to a
//! login page) proves nothing: the post is reported `unknown` and kept. Every request
//! goes through the same SSRF guard, robots.txt, per-host pace, back-off and
//! concurrency cap as crawling.

use reqwest::Method;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde_json::Value;
use url::Url;
use vigil_config::{SourceConfig, SourceKind};

use super::{BodyLimit, Crawler, parse_http_url};
use crate::{CrawlError, Result, ssrf};

/// Ids per Reddit `/api/info` request (the API's limit).
const REDDIT_BATCH: usize = 100;
/// URIs per Bluesky `getPosts` request (the API's limit).
const BLUESKY_BATCH: usize = 25;
/// API answers are small; a post page is read only for its status.
const RECHECK_BODY_LIMIT: u64 = 8 * 1024 * 1024;

/// A stored post to re-check: its id here, its id at the source, its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecheckPost {
    pub id: String,
    pub external_id: String,
    pub url: Option<String>,
}

/// What one re-check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecheckOutcome {
    /// Posts the source no longer has: (post id, why we think so).
    pub deleted: Vec<(String, String)>,
    /// Posts the source confirmed.
    pub present: usize,
    /// Posts the answer said nothing definite about (errors, no URL, robots).
    pub unknown: usize,
    /// The first problem met, for the log.
    pub problem: Option<String>,
}

impl RecheckOutcome {
    fn unknown(&mut self, count: usize, problem: String) {
        self.unknown += count;
        self.problem.get_or_insert(problem);
    }
}

impl Crawler {
    /// Asks `source` about `posts` (see the module documentation). Never fails as a
    /// whole for one post's problem: those are counted as unknown.
    pub async fn recheck(&self, source: &SourceConfig, posts: &[RecheckPost]) -> RecheckOutcome {
        let mut outcome = RecheckOutcome::default();
        match source.kind {
            SourceKind::Reddit => {
                for chunk in posts.chunks(REDDIT_BATCH) {
                    self.recheck_reddit(source, chunk, &mut outcome).await;
                }
            }
            SourceKind::Bluesky => {
                for chunk in posts.chunks(BLUESKY_BATCH) {
                    self.recheck_bluesky(source, chunk, &mut outcome).await;
                }
            }
            _ => {
                for post in posts {
                    self.recheck_url(source, post, &mut outcome).await;
                }
            }
        }
        outcome
    }

    /// GET `url` through the polite path; `Ok((status, body))`.
    async fn recheck_get(
        &self,
        source: &SourceConfig,
        url: &Url,
        accept: &'static str,
    ) -> Result<(u16, Vec<u8>)> {
        if !self.config.allow_private_addresses {
            ssrf::check_url(url, &self.exemptions).await?;
        }
        if self.config.respect_robots {
            self.check_robots(url).await?;
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        if let Some(auth) = self.authorization(source).await? {
            headers.insert(header::AUTHORIZATION, auth);
        }
        let fetched = self
            .fetch_with_retries(
                Method::GET,
                url,
                headers,
                None,
                BodyLimit::Fail(RECHECK_BODY_LIMIT),
            )
            .await?;
        Ok((fetched.status, fetched.body))
    }

    async fn recheck_url(
        &self,
        source: &SourceConfig,
        post: &RecheckPost,
        outcome: &mut RecheckOutcome,
    ) {
        let Some(url) = post.url.as_deref() else {
            outcome.unknown(1, format!("post {} has no URL to re-check", post.id));
            return;
        };
        let url = match parse_http_url(url) {
            Ok(url) => url,
            Err(error) => {
                outcome.unknown(1, error.to_string());
                return;
            }
        };
        match self.recheck_get(source, &url, "*/*").await {
            Ok((404 | 410, _)) => outcome
                .deleted
                .push((post.id.clone(), format!("{url} answers HTTP 404/410"))),
            Ok((status, _)) if (200..300).contains(&status) => outcome.present += 1,
            Ok((status, _)) => outcome.unknown(1, format!("{url} answered HTTP {status}")),
            Err(error) => outcome.unknown(1, error.to_string()),
        }
    }

    /// GETs `path` on the source's origin with `query` and returns the JSON answer, or
    /// why there is none (`what` names the API in the message).
    async fn api_json(
        &self,
        source: &SourceConfig,
        path: &str,
        query: &[(&str, &str)],
        what: &str,
    ) -> std::result::Result<Value, String> {
        let fetched = async {
            let base = parse_http_url(&source.url)?;
            let mut url = base.join(path).map_err(|error| CrawlError::InvalidUrl {
                url: source.url.clone(),
                reason: error.to_string(),
            })?;
            url.query_pairs_mut().extend_pairs(query);
            self.recheck_get(source, &url, "application/json").await
        }
        .await;
        match fetched {
            Ok((200, body)) => {
                serde_json::from_slice(&body).map_err(|_| format!("{what}: not JSON"))
            }
            Ok((status, _)) => Err(format!("{what} answered HTTP {status}")),
            Err(error) => Err(error.to_string()),
        }
    }

    async fn recheck_reddit(
        &self,
        source: &SourceConfig,
        posts: &[RecheckPost],
        outcome: &mut RecheckOutcome,
    ) {
        // www.reddit.com serves JSON with `.json`; oauth.reddit.com always does.
        let oauth =
            parse_http_url(&source.url).is_ok_and(|url| url.host_str() == Some("oauth.reddit.com"));
        let path = if oauth { "/api/info" } else { "/api/info.json" };
        let ids: Vec<&str> = posts.iter().map(|p| p.external_id.as_str()).collect();
        let ids = ids.join(",");
        let query = [("id", ids.as_str()), ("raw_json", "1")];
        let listing = match self
            .api_json(source, path, &query, "reddit /api/info")
            .await
        {
            Ok(listing) => listing,
            Err(problem) => return outcome.unknown(posts.len(), problem),
        };
        let Some(children) = listing.pointer("/data/children").and_then(Value::as_array) else {
            return outcome.unknown(posts.len(), "reddit /api/info: no data.children".into());
        };
        for post in posts {
            let thing = children.iter().find_map(|child| {
                let data = child.get("data")?;
                (data.get("name")?.as_str()? == post.external_id).then_some(data)
            });
            match thing.map(reddit_removal) {
                None => outcome
                    .deleted
                    .push((post.id.clone(), "reddit no longer returns it".to_string())),
                Some(Some(reason)) => outcome.deleted.push((post.id.clone(), reason)),
                Some(None) => outcome.present += 1,
            }
        }
    }

    async fn recheck_bluesky(
        &self,
        source: &SourceConfig,
        posts: &[RecheckPost],
        outcome: &mut RecheckOutcome,
    ) {
        let query: Vec<(&str, &str)> = posts
            .iter()
            .map(|post| ("uris", post.external_id.as_str()))
            .collect();
        let path = "/xrpc/app.bsky.feed.getPosts";
        let answer = match self
            .api_json(source, path, &query, "bluesky getPosts")
            .await
        {
            Ok(answer) => answer,
            Err(problem) => return outcome.unknown(posts.len(), problem),
        };
        let Some(found) = answer.get("posts").and_then(Value::as_array) else {
            return outcome.unknown(posts.len(), "bluesky getPosts: no posts array".into());
        };
        for post in posts {
            let present = found
                .iter()
                .any(|p| p.get("uri").and_then(Value::as_str) == Some(post.external_id.as_str()));
            if present {
                outcome.present += 1;
            } else {
                outcome
                    .deleted
                    .push((post.id.clone(), "bluesky no longer returns it".to_string()));
            }
        }
    }
}

/// Why a Reddit thing counts as removed, or `None` while it stands.
fn reddit_removal(data: &Value) -> Option<String> {
    let text = |key: &str| data.get(key).and_then(Value::as_str);
    if let Some(category) = data.get("removed_by_category").and_then(Value::as_str) {
        return Some(format!("reddit: removed ({category})"));
    }
    if text("author") == Some("[deleted]") {
        return Some("reddit: deleted by its author".to_string());
    }
    for key in ["selftext", "body"] {
        if let Some(marker @ ("[deleted]" | "[removed]")) = text(key) {
            return Some(format!("reddit: {key} is {marker}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reddit_removal_markers() {
        assert_eq!(
            reddit_removal(&json!({"author": "bob", "selftext": "hi"})),
            None
        );
        assert_eq!(
            reddit_removal(&json!({"author": "[deleted]", "selftext": "hi"})).as_deref(),
            Some("reddit: deleted by its author")
        );
        assert_eq!(
            reddit_removal(&json!({"author": "bob", "body": "[removed]"})).as_deref(),
            Some("reddit: body is [removed]")
        );
        assert_eq!(
            reddit_removal(&json!({"author": "bob", "removed_by_category": "moderator"}))
                .as_deref(),
            Some("reddit: removed (moderator)")
        );
        // A post that merely quotes the marker is not removed.
        assert_eq!(
            reddit_removal(&json!({"author": "bob", "body": "it said [deleted] lol"})),
            None
        );
    }
}

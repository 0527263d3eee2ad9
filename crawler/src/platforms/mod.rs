//! Platform adapters: the pure parsing half of the `reddit`, `hackernews`, `mastodon`,
//! `bluesky` and `appstore` source kinds. Each module has one
//! `parse(body, &PageContext) -> Result<Page, CrawlError>` that turns one fetched
//! response into posts (through [`finish_items`](crate::finish_items)) and computes
//! the URL of the next, older page from `context.fetch_url` and the response:
//!
//! | kind | responses understood | next page |
//! |---|---|---|
//! | [`reddit`] | Listing JSON (`search.json`, `new.json`, `comments.json`), `[submission, comments]` | `after=<data.after>` |
//! | [`hackernews`] | Algolia `search` / `search_by_date` | `page=<page + 1>` while `< nbPages` |
//! | [`mastodon`] | status arrays (timelines), `/api/v2/search`, one status, a context | `max_id=<last id>` / `offset=<offset + n>` |
//! | [`bluesky`] | `searchPosts`, `getAuthorFeed`-style `feed`, `getPostThread` | `cursor=<cursor>` |
//! | [`appstore`] | iTunes customer-reviews JSON | `/page=N+1/` up to Apple's 10 |
//!
//! A body that is not what the platform returns (not JSON, an `{"error": …}` object,
//! the wrong shape) is [`CrawlError::Parse`](crate::CrawlError::Parse); a bad item
//! is skipped and counted in the page's warnings. No I/O happens here.

pub mod appstore;
pub mod bluesky;
pub mod hackernews;
pub mod mastodon;
pub mod reddit;

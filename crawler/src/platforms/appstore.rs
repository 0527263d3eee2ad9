//! Apple App Store customer reviews (the iTunes RSS feed in JSON,
//! `https://itunes.apple.com/<cc>/rss/customerreviews/[page=N/]id=<app>/sortby=mostrecent/json`)
//! → posts: title, review text, author, star rating (→ `engagement.rating`), helpful
//! votes (`im:voteCount` → likes).
//!
//! `feed.entry` is an array, a single object when there is one entry, or absent past
//! the last page. Some responses start with an entry describing the app itself (no
//! `im:rating`): it is skipped. Apple serves at most 10 pages; page 11 answers with the
//! plain text `CustomerReviews RSS page depth is limited to 10`, which is an empty page
//! here, not an error.
//!
//! Reviews declare no language; the store's country (path segment or `cc=`) stands
//! in, through [`store_language`].

use serde_json::Value;

use crate::CrawlError;
use crate::html::strip_html;
use crate::item::{Item, Page, PageContext, finish_items};
use crate::json_extract::{
    api_error, date_of, float_of, int_at, parse_document, parse_error, query_param, str_at,
};

/// Apple's page limit for the customer-reviews feed.
pub const MAX_PAGE: u32 = 10;

/// What Apple answers past [`MAX_PAGE`] (plain text, not JSON).
const PAGE_DEPTH_NOTICE: &str = "page depth is limited";

/// Store country (ISO 3166-1 alpha-2, lower case) → the language its reviews are
/// overwhelmingly written in. Countries with several common review languages
/// (Canada, Switzerland, Belgium, Singapore, India, Malaysia, …) are deliberately
/// absent: a wrong declared language is worse than none (the text is detected then).
const STORE_LANGUAGES: &[(&str, &str)] = &[
    // English
    ("us", "en"),
    ("gb", "en"),
    ("uk", "en"),
    ("au", "en"),
    ("nz", "en"),
    ("ie", "en"),
    ("za", "en"),
    // Chinese
    ("cn", "zh"),
    ("tw", "zh"),
    ("hk", "zh"),
    ("mo", "zh"),
    // Other single-language stores
    ("jp", "ja"),
    ("kr", "ko"),
    ("fr", "fr"),
    ("de", "de"),
    ("at", "de"),
    ("es", "es"),
    ("mx", "es"),
    ("ar", "es"),
    ("co", "es"),
    ("cl", "es"),
    ("pe", "es"),
    ("it", "it"),
    ("pt", "pt"),
    ("br", "pt"),
    ("nl", "nl"),
    ("se", "sv"),
    ("no", "nb"),
    ("dk", "da"),
    ("fi", "fi"),
    ("pl", "pl"),
    ("cz", "cs"),
    ("sk", "sk"),
    ("hu", "hu"),
    ("ro", "ro"),
    ("gr", "el"),
    ("tr", "tr"),
    ("ru", "ru"),
    ("ua", "uk"),
    ("il", "he"),
    ("sa", "ar"),
    ("ae", "ar"),
    ("eg", "ar"),
    ("th", "th"),
    ("vn", "vi"),
    ("id", "id"),
];

/// The language of a store country code (`"cn"` → `"zh"`, `"gb"` → `"en"`), `None`
/// for multilingual or unknown stores. See the table in the source for the mapping.
pub fn store_language(country: &str) -> Option<&'static str> {
    let country = country.trim().to_ascii_lowercase();
    STORE_LANGUAGES
        .iter()
        .find(|(code, _)| *code == country)
        .map(|(_, lang)| *lang)
}

/// The store country of a customer-reviews URL: the two-letter path segment before
/// `rss`, else the `cc` query parameter.
pub fn store_country(fetch_url: &str) -> Option<String> {
    let parsed = url::Url::parse(fetch_url).ok()?;
    let segments: Vec<&str> = parsed.path_segments()?.collect();
    let from_path = segments
        .windows(2)
        .find(|pair| pair[1].eq_ignore_ascii_case("rss"))
        .map(|pair| pair[0])
        .filter(|code| code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()));
    from_path
        .map(str::to_string)
        .or_else(|| query_param(fetch_url, "cc"))
        .map(|code| code.trim().to_ascii_lowercase())
        .filter(|code| !code.is_empty())
}

/// Parses one customer-reviews response. `next` is `fetch_url` with its `page=N`
/// path segment set to N+1 (inserted before `id=` when absent, i.e. page 1) while
/// N < [`MAX_PAGE`] and this page had reviews.
pub fn parse(body: &[u8], context: &PageContext<'_>) -> Result<Page, CrawlError> {
    let document = match parse_document(body, context.source) {
        Ok((document, warnings)) => Some((document, warnings)),
        Err(error) => {
            let text = String::from_utf8_lossy(body);
            if text.contains(PAGE_DEPTH_NOTICE) {
                None
            } else {
                return Err(error);
            }
        }
    };
    let Some((document, mut warnings)) = document else {
        return Ok(Page {
            posts: Vec::new(),
            next: None,
            warnings: vec![format!(
                "Apple serves at most {MAX_PAGE} pages of reviews; {} is past the last",
                context.fetch_url
            )],
        });
    };
    let Some(feed) = document.get("feed").filter(|feed| feed.is_object()) else {
        let detail = api_error(&document).unwrap_or_else(|| "no `feed` object".to_string());
        return Err(parse_error(
            context.source,
            format!("not an App Store customer-reviews response: {detail}"),
        ));
    };
    let entries: Vec<&Value> = match feed.get("entry") {
        Some(Value::Array(entries)) => entries.iter().collect(),
        Some(entry @ Value::Object(_)) => vec![entry],
        _ => Vec::new(),
    };
    let lang = store_country(context.fetch_url)
        .and_then(|country| store_language(&country))
        .map(str::to_string);
    let mut items = Vec::with_capacity(entries.len());
    let mut bad_ratings: Vec<String> = Vec::new();
    let mut bad_rating_count = 0usize;
    let mut reviews = 0usize;
    for entry in entries {
        // The app's own entry, which some responses put first, has no rating.
        let Some(rating) = entry.get("im:rating") else {
            continue;
        };
        reviews += 1;
        let rating_label = rating.get("label").unwrap_or(rating);
        let stars = float_of(rating_label).filter(|stars| (1.0..=5.0).contains(stars));
        if stars.is_none() {
            bad_rating_count += 1;
            if bad_ratings.len() < 5 {
                bad_ratings.push(rating_label.to_string());
            }
        }
        let mut item = review_item(entry, context);
        item.lang = lang.clone();
        item.engagement.rating = stars;
        items.push(item);
    }
    if bad_rating_count > 0 {
        warnings.push(format!(
            "{bad_rating_count} reviews had no readable 1–5 star rating (e.g. {}); kept without one",
            bad_ratings.join(", ")
        ));
    }
    let next = if reviews > 0 {
        next_page_url(context.fetch_url)
    } else {
        None
    };
    let posts = finish_items(items, context, "appstore:customerreviews", &mut warnings);
    Ok(Page {
        posts,
        next,
        warnings,
    })
}

fn review_item(entry: &Value, context: &PageContext<'_>) -> Item {
    let content_is_html = str_at(entry, "/content/attributes/type")
        .is_some_and(|kind| kind.eq_ignore_ascii_case("html"));
    let text = str_at(entry, "/content/label")
        .map(|text| {
            if content_is_html {
                strip_html(&text)
            } else {
                text
            }
        })
        .unwrap_or_default();
    let url = match entry.get("link") {
        Some(Value::Array(links)) => links
            .iter()
            .find_map(|link| str_at(link, "/attributes/href")),
        Some(link) => str_at(link, "/attributes/href"),
        None => None,
    }
    .filter(|href| href.starts_with("https://") || href.starts_with("http://"));
    let published_at = entry
        .pointer("/updated/label")
        .and_then(|at| date_of(at, context.fetched_at));
    let mut item = Item {
        external_id: str_at(entry, "/id/label"),
        url,
        author: str_at(entry, "/author/name/label"),
        title: str_at(entry, "/title/label"),
        text,
        published_at,
        ..Item::default()
    };
    item.engagement.likes = int_at(entry, "/im:voteCount/label");
    item
}

/// The URL of the page after the one in `fetch_url`, or `None` at [`MAX_PAGE`] or
/// when the URL has neither a `page=N` nor an `id=` segment.
pub fn next_page_url(fetch_url: &str) -> Option<String> {
    let mut parsed = url::Url::parse(fetch_url).ok()?;
    let segments: Vec<String> = parsed.path_segments()?.map(str::to_string).collect();
    let page_at = segments
        .iter()
        .position(|segment| segment.to_ascii_lowercase().starts_with("page="));
    let mut next_segments = segments.clone();
    match page_at {
        Some(at) => {
            let current: u32 = segments[at]["page=".len()..].trim().parse().ok()?;
            if current == 0 || current >= MAX_PAGE {
                return None;
            }
            next_segments[at] = format!("page={}", current + 1);
        }
        None => {
            let id_at = segments
                .iter()
                .position(|segment| segment.to_ascii_lowercase().starts_with("id="))?;
            next_segments.insert(id_at, "page=2".to_string());
        }
    }
    parsed.set_path(&next_segments.join("/"));
    Some(parsed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_segments() {
        assert_eq!(
            next_page_url(
                "https://itunes.apple.com/gb/rss/customerreviews/id=1510826067/sortby=mostrecent/json"
            )
            .as_deref(),
            Some(
                "https://itunes.apple.com/gb/rss/customerreviews/page=2/id=1510826067/sortby=mostrecent/json"
            )
        );
        assert_eq!(
            next_page_url(
                "https://itunes.apple.com/rss/customerreviews/page=9/id=1/sortby=mostrecent/json?l=en&cc=fr"
            )
            .as_deref(),
            Some(
                "https://itunes.apple.com/rss/customerreviews/page=10/id=1/sortby=mostrecent/json?l=en&cc=fr"
            )
        );
        assert_eq!(
            next_page_url("https://itunes.apple.com/cn/rss/customerreviews/page=10/id=1/json"),
            None
        );
        assert_eq!(
            next_page_url("https://itunes.apple.com/cn/rss/topfreeapplications/json"),
            None
        );
    }

    #[test]
    fn store_countries_and_languages() {
        assert_eq!(
            store_country("https://itunes.apple.com/CN/rss/customerreviews/id=1/json").as_deref(),
            Some("cn")
        );
        assert_eq!(
            store_country("https://itunes.apple.com/rss/customerreviews/page=1/id=1/json?cc=fr")
                .as_deref(),
            Some("fr")
        );
        assert_eq!(store_language("cn"), Some("zh"));
        assert_eq!(store_language("GB"), Some("en"));
        assert_eq!(store_language("ca"), None);
        assert_eq!(store_language("zz"), None);
    }
}

//! The shape every extractor (HTML, JSON, platform adapters) produces before it becomes a
//! [`Post`]: an [`Item`] with whatever fields the source gave, and one place,
//! [`finish_items`], that turns items into posts the same way for every kind (stable id,
//! canonical URL, content hash, provenance, date sanity).

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use vigil_core::text::is_cjk;
use vigil_core::{Engagement, Post, Provenance, canonical_url, post_id, sha256_hex};

/// A publication date this far past the fetch time is a broken clock or time zone,
/// not a post from the future; it would sit at the top of every window otherwise.
pub(crate) const FUTURE_TOLERANCE_MINUTES: i64 = 10;

/// What one fetched document was, for provenance.
#[derive(Debug, Clone, Copy)]
pub struct PageContext<'a> {
    /// The configured source's name.
    pub source: &'a str,
    /// The URL actually fetched (after redirects): base for relative links.
    pub fetch_url: &'a str,
    pub http_status: Option<u16>,
    pub fetched_at: DateTime<Utc>,
}

/// One post as extracted, before normalisation. Empty strings count as absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item {
    /// The source's own id for the item; falls back to the URL, then the content hash.
    pub external_id: Option<String>,
    /// Absolute URL of the item's own page.
    pub url: Option<String>,
    pub author: Option<String>,
    pub title: Option<String>,
    /// Plain text (HTML already stripped).
    pub text: String,
    /// BCP 47 language as declared by the source; detected from the text when absent.
    pub lang: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub engagement: Engagement,
}

/// One fetched page of a source, extracted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Posts in document order, before brand matching (`brands` is empty).
    pub posts: Vec<Post>,
    /// The URL of the next (older) page, when the document names one.
    pub next: Option<String>,
    /// Recoverable problems: skipped items, clamped or missing dates, bad fields.
    pub warnings: Vec<String>,
}

/// Turns extracted items into posts of `context.source`: items with neither text nor
/// title are dropped (counted in a warning), a missing date becomes the fetch time and
/// a date in the future is clamped to it (both counted in a warning).
/// `extraction` names how the items were found, e.g. `html:div.review` or
/// `reddit:listing/t3`; it is kept in every post's provenance.
pub fn finish_items(
    items: Vec<Item>,
    context: &PageContext<'_>,
    extraction: &str,
    warnings: &mut Vec<String>,
) -> Vec<Post> {
    let latest_allowed = context.fetched_at + ChronoDuration::minutes(FUTURE_TOLERANCE_MINUTES);
    let (mut empty, mut undated, mut clamped) = (0usize, 0usize, 0usize);
    let mut posts = Vec::with_capacity(items.len());
    for item in items {
        let title = non_empty(item.title);
        let mut text = trimmed(item.text);
        if text.is_empty() {
            match &title {
                // Headline-only items: the title is all there is to classify.
                Some(title) => text = title.clone(),
                None => {
                    empty += 1;
                    continue;
                }
            }
        }
        let published_at = match item.published_at {
            Some(at) if at > latest_allowed => {
                clamped += 1;
                context.fetched_at
            }
            Some(at) => at,
            None => {
                undated += 1;
                context.fetched_at
            }
        };
        let url = non_empty(item.url);
        let content_hash = sha256_hex(format!("{}\n{}", title.as_deref().unwrap_or(""), text));
        let external_id = non_empty(item.external_id)
            .or_else(|| url.clone())
            .unwrap_or_else(|| format!("sha256:{content_hash}"));
        let lang = post_lang(item.lang, title.as_deref().unwrap_or(""), &text);
        posts.push(Post {
            id: post_id(context.source, &external_id),
            source: context.source.to_string(),
            external_id,
            canonical_url: url.as_deref().and_then(canonical_url),
            url,
            author: non_empty(item.author),
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
                extraction: extraction.to_string(),
                raw_sha256: None,
            },
            sentiment: None,
            engagement: item.engagement,
            duplicate_of: None,
        });
    }
    if empty > 0 {
        warnings.push(format!("{empty} items had no text and were skipped"));
    }
    if undated > 0 {
        warnings.push(format!(
            "{undated} items had no readable date; used the fetch time"
        ));
    }
    if clamped > 0 {
        warnings.push(format!(
            "{clamped} items were dated in the future; used the fetch time"
        ));
    }
    posts
}

/// `value` without surrounding whitespace; no copy when there is none.
fn trimmed(value: String) -> String {
    if value.trim().len() == value.len() {
        value
    } else {
        value.trim().to_string()
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A post's language: the declared one reconciled with the text, else the one detected
/// from the text (`None` when the text has no letters). Every post path (crawl, import)
/// uses this, so `lang:` in queries and `--lang` in search find undeclared posts too.
pub fn post_lang(declared: Option<String>, title: &str, text: &str) -> Option<String> {
    non_empty(declared)
        .and_then(|declared| reconcile_lang(&declared, title, text))
        .or_else(|| match detect_lang_joined(title, text) {
            "und" => None,
            detected => Some(detected.to_string()),
        })
}

/// The declared language (primary subtag, lower case), unless the text plainly
/// contradicts it: a Chinese item in an `en` feed, an English item in a `zh` feed.
/// Sources declare one language for a whole channel while mixing items.
pub(crate) fn reconcile_lang(declared: &str, title: &str, text: &str) -> Option<String> {
    let primary = declared
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if primary.is_empty() || !primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let detected = detect_lang_joined(title, text);
    let declared_cjk = matches!(primary.as_str(), "zh" | "ja" | "ko");
    let lang = match detected {
        "zh" if !declared_cjk => "zh".to_string(),
        "en" if declared_cjk => "en".to_string(),
        _ => primary,
    };
    Some(lang)
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// How many of the eight ASCII bytes of `word` are letters (`A`–`Z`, `a`–`z`).
fn ascii_letters(word: u64) -> usize {
    // Lower-cased, every byte is below 0x80: adding 0x1F sets bit 7 from `a` up,
    // adding 0x05 sets it from `{` up; no byte carries into the next.
    let lower = word | (0x20 * LOW_BITS);
    let from_a = lower.wrapping_add(0x1F * LOW_BITS);
    let past_z = lower.wrapping_add(0x05 * LOW_BITS);
    (from_a & !past_z & HIGH_BITS).count_ones() as usize
}

/// Exactly [`vigil_core::text::detect_lang`] of `"{title}\n{text}"`, without building
/// that string: ASCII bytes are classified without decoding, and the scan stops as soon
/// as the rest of the text (at most one letter per byte, one Han character per three
/// bytes) can no longer change the answer.
pub(crate) fn detect_lang_joined(title: &str, text: &str) -> &'static str {
    let mut han = 0usize;
    let mut latin = 0usize;
    let total = title.len() + text.len();
    let mut done = 0usize;
    for part in [title, text] {
        let bytes = part.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            // A stretch between checks of whether the answer is settled.
            let stop = (at + 256).min(bytes.len());
            while at < stop {
                // ASCII eight bytes at a time; other characters one by one.
                while let Some(word) = bytes.get(at..at + 8).filter(|_| at + 8 <= stop) {
                    let word = u64::from_le_bytes([
                        word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
                    ]);
                    if word & HIGH_BITS != 0 {
                        break;
                    }
                    latin += ascii_letters(word);
                    at += 8;
                }
                let Some(&byte) = bytes.get(at).filter(|_| at < stop) else {
                    break;
                };
                if byte.is_ascii() {
                    latin += usize::from(byte.is_ascii_alphabetic());
                    at += 1;
                } else {
                    let c = part[at..].chars().next().unwrap_or(' ');
                    if is_cjk(c) {
                        han += 1;
                    } else if c.is_alphabetic() {
                        latin += 1;
                    }
                    at += c.len_utf8();
                }
            }
            let rest = total - done - at;
            // Every CJK character `is_cjk` accepts takes at least 3 bytes in UTF-8.
            if latin > 4 * (han + rest / 3) {
                return "en";
            }
            if han > 0 && 4 * han >= latin + rest {
                return "zh";
            }
        }
        done += bytes.len();
    }
    if han == 0 && latin == 0 {
        "und"
    } else if han * 5 >= han + latin {
        "zh"
    } else {
        "en"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_ascii_letters_eight_at_a_time() {
        for start in 0u8..=120 {
            let bytes: Vec<u8> = (0..8).map(|i| start + i).collect();
            let word = u64::from_le_bytes(bytes.clone().try_into().unwrap());
            let expected = bytes.iter().filter(|b| b.is_ascii_alphabetic()).count();
            assert_eq!(ascii_letters(word), expected, "{bytes:?}");
        }
    }

    #[test]
    fn detect_lang_joined_matches_core() {
        let pieces = [
            "The kettle ",
            "boils",
            "水壶",
            "坏了",
            "Acme",
            " ",
            "1234",
            "!!",
            "é",
            "ひらがな",
            "한국어",
            "\n",
            "🙂",
            "𠀀",
            "Ωμέγα",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..4_000 {
            let mut parts = [String::new(), String::new()];
            for part in &mut parts {
                let count = if round % 7 == 0 { 400 } else { seed % 9 };
                for _ in 0..count {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    part.push_str(pieces[(seed % pieces.len() as u64) as usize]);
                }
            }
            if round % 11 == 0 {
                // Long one-script stretches: where the early exit decides.
                let latin = "kettle ".repeat(seed as usize % 700);
                let han = "水".repeat(seed as usize % 900);
                parts[1] = if round % 2 == 0 {
                    format!("{latin}{han}")
                } else {
                    format!("{han}{latin}")
                };
            }
            let [title, text] = &parts;
            assert_eq!(
                detect_lang_joined(title, text),
                vigil_core::text::detect_lang(&format!("{title}\n{text}")),
                "{title:?} / {text:?}"
            );
        }
    }

    fn context(now: DateTime<Utc>) -> PageContext<'static> {
        PageContext {
            source: "reviews",
            fetch_url: "https://example.com/reviews?page=1",
            http_status: Some(200),
            fetched_at: now,
        }
    }

    #[test]
    fn items_become_posts_with_provenance() {
        let now = Utc::now();
        let mut warnings = Vec::new();
        let posts = finish_items(
            vec![
                Item {
                    external_id: Some(" r1 ".into()),
                    url: Some("https://example.com/r/1?utm_source=x".into()),
                    author: Some("alice".into()),
                    text: "The kettle broke after a week".into(),
                    lang: Some("en-GB".into()),
                    published_at: Some(now - ChronoDuration::hours(1)),
                    engagement: Engagement {
                        likes: Some(3),
                        rating: Some(1.0),
                        ..Engagement::default()
                    },
                    ..Item::default()
                },
                Item {
                    title: Some("Headline only".into()),
                    published_at: Some(now + ChronoDuration::days(2)),
                    ..Item::default()
                },
                Item::default(),
            ],
            &context(now),
            "html:div.review",
            &mut warnings,
        );
        assert_eq!(posts.len(), 2);
        let first = &posts[0];
        assert_eq!(first.external_id, "r1");
        assert_eq!(first.id, post_id("reviews", "r1"));
        assert_eq!(
            first.canonical_url.as_deref(),
            Some("https://example.com/r/1")
        );
        assert_eq!(first.lang.as_deref(), Some("en"));
        assert_eq!(first.engagement.likes, Some(3));
        assert_eq!(first.provenance.extraction, "html:div.review");
        assert_eq!(first.provenance.http_status, Some(200));
        let second = &posts[1];
        assert_eq!(second.text, "Headline only");
        assert_eq!(second.published_at, now, "future date clamped");
        assert!(second.external_id.starts_with("sha256:"));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("1 items had no text")));
        assert!(warnings.iter().any(|w| w.contains("in the future")));
    }
}

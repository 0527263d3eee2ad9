//! The `json` source kind: a generic JSON API described by JSON pointers (RFC 6901) —
//! where the list of posts is, which field of each item is which, and where the next
//! page is named. Also the small JSON helpers the platform adapters share (reading a
//! body, typed field access, query-string cursors). Pure: bytes in, [`Page`] out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::Value;
use url::Url;
use vigil_core::Engagement;

use crate::CrawlError;
use crate::dates::{epoch, parse_date};
use crate::html::{collapse_whitespace, strip_html};
use crate::item::{Item, Page, PageContext, finish_items};

/// The field names a `json` source may map, in the order the docs list them.
pub const JSON_FIELD_NAMES: &[&str] = &[
    "id",
    "text",
    "author",
    "published",
    "url",
    "title",
    "lang",
    "score",
    "likes",
    "reposts",
    "replies",
    "rating",
];

/// The query parameter a cursor token is put into when `cursor_param` is not set.
pub const DEFAULT_CURSOR_PARAM: &str = "after";

/// How many characters of a body an error message quotes.
const QUOTE_CHARS: usize = 80;

/// A validated description of a JSON API: made once per source with
/// [`JsonSpec::compile`], then applied to every fetched page with [`extract_json`].
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSpec {
    /// Pointer to the array of items; `""` is the document itself.
    items: String,
    /// Known field name → pointer relative to each item (`""` is the item itself).
    fields: BTreeMap<&'static str, String>,
    /// Pointer (from the document root) to the next page's URL or cursor token.
    next_page: Option<String>,
    /// Query parameter a cursor token is written into.
    cursor_param: String,
}

impl JsonSpec {
    /// Validates a source's `items`, `fields`, `next_page` and `cursor_param`.
    ///
    /// Pointers must be empty or start with `/` (and use `~0`/`~1` correctly); `"/"`
    /// is taken to mean the root (for `items`) or the item itself (for fields), as
    /// people write it. Field names must be among [`JSON_FIELD_NAMES`] and at least one
    /// of `text` and `title` must be mapped. Every problem is reported, joined by `; `.
    pub fn compile(
        items: &str,
        fields: &BTreeMap<String, String>,
        next_page: Option<&str>,
        cursor_param: Option<&str>,
    ) -> Result<JsonSpec, String> {
        let mut problems = Vec::new();
        let items = match normalise_pointer(items) {
            Ok(pointer) => pointer,
            Err(why) => {
                problems.push(format!("items = {items:?}: {why}"));
                String::new()
            }
        };
        let mut compiled = BTreeMap::new();
        for (name, pointer) in fields {
            let Some(known) = JSON_FIELD_NAMES.iter().find(|known| **known == name) else {
                problems.push(format!(
                    "fields.{name}: unknown field (expected one of {})",
                    JSON_FIELD_NAMES.join(", ")
                ));
                continue;
            };
            match normalise_pointer(pointer) {
                Ok(pointer) => {
                    compiled.insert(*known, pointer);
                }
                Err(why) => problems.push(format!("fields.{name} = {pointer:?}: {why}")),
            }
        }
        if !fields.contains_key("text") && !fields.contains_key("title") {
            problems
                .push("fields: map at least `text` or `title` (e.g. text = \"/body\")".to_string());
        }
        let next_page = match next_page {
            None => None,
            Some(raw) => match normalise_pointer(raw) {
                Ok(pointer) if pointer.is_empty() => {
                    problems.push(format!(
                        "next_page = {raw:?}: must point inside the document, not at its root"
                    ));
                    None
                }
                Ok(pointer) => Some(pointer),
                Err(why) => {
                    problems.push(format!("next_page = {raw:?}: {why}"));
                    None
                }
            },
        };
        let cursor_param = cursor_param.unwrap_or(DEFAULT_CURSOR_PARAM).trim();
        if cursor_param.is_empty()
            || cursor_param
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '&' | '=' | '#' | '?'))
        {
            problems.push(format!(
                "cursor_param = {cursor_param:?}: expected a query parameter name such as \"after\" or \"cursor\""
            ));
        }
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        Ok(JsonSpec {
            items,
            fields: compiled,
            next_page,
            cursor_param: cursor_param.to_string(),
        })
    }

    /// The pointer to the items array (`""` for the root).
    pub fn items_pointer(&self) -> &str {
        &self.items
    }

    /// How extracted posts are labelled in their provenance: `json:<items pointer>`.
    pub fn extraction(&self) -> String {
        format!(
            "json:{}",
            if self.items.is_empty() {
                "/"
            } else {
                &self.items
            }
        )
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// `""` or `"/"` → `""` (the root); otherwise a valid RFC 6901 pointer, unchanged.
fn normalise_pointer(pointer: &str) -> Result<String, String> {
    let pointer = pointer.trim();
    if pointer.is_empty() || pointer == "/" {
        return Ok(String::new());
    }
    if !pointer.starts_with('/') {
        return Err(format!(
            "not a JSON pointer (must start with '/', e.g. \"/{pointer}\")"
        ));
    }
    let bytes = pointer.as_bytes();
    for (at, byte) in bytes.iter().enumerate() {
        if *byte == b'~' && !matches!(bytes.get(at + 1), Some(b'0' | b'1')) {
            return Err("'~' must be written ~0, and '/' inside a key ~1".to_string());
        }
    }
    Ok(pointer.to_string())
}

/// Applies `spec` to one fetched page. A body that is not JSON, or whose `items`
/// pointer is missing or not an array, is [`CrawlError::Parse`]; items without usable
/// text or title and unusable field values are skipped and counted in warnings.
pub fn extract_json(
    spec: &JsonSpec,
    body: &[u8],
    context: &PageContext<'_>,
) -> Result<Page, CrawlError> {
    let (document, mut warnings) = parse_document(body, context.source)?;
    let Some(found) = document.pointer(&spec.items) else {
        let mut message = format!(
            "the items pointer {:?} is not in the document",
            spec.extraction().trim_start_matches("json:")
        );
        if let Some(error) = api_error(&document) {
            let _ = write!(message, " (the API answered with an error: {error})");
        }
        return Err(parse_error(context.source, message));
    };
    let Some(array) = found.as_array() else {
        return Err(parse_error(
            context.source,
            format!(
                "the items pointer {:?} points to {}, not an array",
                spec.extraction().trim_start_matches("json:"),
                kind_of(found)
            ),
        ));
    };

    let base = Url::parse(context.fetch_url).ok();
    let mut problems = FieldProblems::default();
    let mut skipped = 0usize;
    let mut items = Vec::with_capacity(array.len());
    for value in array {
        match item_from(
            spec,
            value,
            base.as_ref(),
            context.fetched_at,
            &mut problems,
        ) {
            Some(item) => items.push(item),
            None => skipped += 1,
        }
    }
    if skipped > 0 {
        warnings.push(format!(
            "{skipped} of {} items had no usable text or title at the configured pointers and were skipped",
            array.len()
        ));
    }
    problems.report(&mut warnings);

    let next = match &spec.next_page {
        Some(pointer) => next_from(
            document.pointer(pointer),
            context.fetch_url,
            &spec.cursor_param,
            &mut warnings,
        ),
        None => None,
    };
    let posts = finish_items(items, context, &spec.extraction(), &mut warnings);
    Ok(Page {
        posts,
        next,
        warnings,
    })
}

/// Unusable values per field, reported as one warning per page.
#[derive(Default)]
struct FieldProblems {
    by_field: BTreeMap<&'static str, usize>,
}

impl FieldProblems {
    fn note(&mut self, field: &'static str) {
        *self.by_field.entry(field).or_default() += 1;
    }

    fn report(&self, warnings: &mut Vec<String>) {
        if self.by_field.is_empty() {
            return;
        }
        let counts: Vec<String> = self
            .by_field
            .iter()
            .map(|(field, count)| format!("{field}: {count}"))
            .collect();
        warnings.push(format!(
            "ignored field values of an unusable type or format ({})",
            counts.join(", ")
        ));
    }
}

fn item_from(
    spec: &JsonSpec,
    value: &Value,
    base: Option<&Url>,
    now: DateTime<Utc>,
    problems: &mut FieldProblems,
) -> Option<Item> {
    let lookup = |name: &str| -> Option<&Value> {
        let pointer = spec.field(name)?;
        value.pointer(pointer).filter(|found| !found.is_null())
    };
    let text_field = |name: &'static str, problems: &mut FieldProblems| -> Option<String> {
        let found = lookup(name)?;
        let text = text_of(found);
        if text.is_none() && !matches!(found, Value::String(_)) {
            problems.note(name);
        }
        text
    };

    let text = text_field("text", problems)
        .map(|text| readable_text(&text))
        .unwrap_or_default();
    let title = text_field("title", problems).map(|title| readable_text(&title));
    if text.is_empty() && title.as_deref().is_none_or(str::is_empty) {
        return None;
    }
    let external_id = scalar_field(lookup("id"), "id", problems);
    let author = scalar_field(lookup("author"), "author", problems);
    let lang = match lookup("lang") {
        Some(Value::Array(langs)) => langs.iter().find_map(string_of),
        other => scalar_field(other, "lang", problems),
    };
    let url = match scalar_field(lookup("url"), "url", problems) {
        Some(raw) => {
            let resolved = resolve_url(base, &raw);
            if resolved.is_none() {
                problems.note("url");
            }
            resolved
        }
        None => None,
    };
    let published_at = match lookup("published") {
        Some(found) => {
            let at = date_of(found, now);
            if at.is_none() {
                problems.note("published");
            }
            at
        }
        None => None,
    };
    let mut count = |name: &'static str| -> Option<i64> {
        let found = lookup(name)?;
        let number = int_of(found);
        if number.is_none() {
            problems.note(name);
        }
        number
    };
    let engagement = Engagement {
        score: count("score"),
        likes: count("likes"),
        reposts: count("reposts"),
        replies: count("replies"),
        rating: match lookup("rating") {
            Some(found) => {
                let rating = float_of(found);
                if rating.is_none() {
                    problems.note("rating");
                }
                rating
            }
            None => None,
        },
    };
    Some(Item {
        external_id,
        url,
        author,
        title,
        text,
        lang,
        published_at,
        engagement,
    })
}

fn scalar_field(
    found: Option<&Value>,
    name: &'static str,
    problems: &mut FieldProblems,
) -> Option<String> {
    let found = found?;
    let text = string_of(found);
    if text.is_none() && !matches!(found, Value::String(_)) {
        problems.note(name);
    }
    text
}

/// The next page named at `found`: a URL (absolute, or relative when it starts with
/// `/` or `?`) or a cursor token written into `cursor_param` of `fetch_url`.
/// Null, `false`, empty strings and a URL equal to `fetch_url` mean no next page.
fn next_from(
    found: Option<&Value>,
    fetch_url: &str,
    cursor_param: &str,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let token = match found? {
        Value::String(text) => text.trim().to_string(),
        Value::Number(number) => number.to_string(),
        Value::Null | Value::Bool(false) => return None,
        other => {
            warnings.push(format!(
                "next_page points to {}, not a URL or cursor; stopped paging",
                kind_of(other)
            ));
            return None;
        }
    };
    if token.is_empty() {
        return None;
    }
    let lower = token.to_ascii_lowercase();
    let next = if lower.starts_with("http://")
        || lower.starts_with("https://")
        || token.starts_with('/')
        || token.starts_with('?')
    {
        let base = Url::parse(fetch_url).ok();
        let resolved = resolve_url(base.as_ref(), &token);
        if resolved.is_none() {
            warnings.push(format!(
                "next_page {:?} is not a usable http(s) URL; stopped paging",
                quote(&token)
            ));
        }
        resolved
    } else {
        let with_cursor = set_query_param(fetch_url, cursor_param, &token);
        if with_cursor.is_none() {
            warnings.push(format!(
                "could not add the cursor to {:?}; stopped paging",
                quote(fetch_url)
            ));
        }
        with_cursor
    };
    next.filter(|next| next != fetch_url)
}

/// Text that looks like HTML (closing tags, `<br>`, `<p>`) is stripped to plain text;
/// anything else is only trimmed, so a literal "a < b" survives.
fn readable_text(text: &str) -> String {
    if looks_like_html(text) {
        strip_html(text)
    } else {
        text.trim().to_string()
    }
}

fn looks_like_html(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    lower
        .match_indices("</")
        .any(|(at, _)| bytes.get(at + 2).is_some_and(|b| b.is_ascii_alphabetic()))
        || lower.contains("<br")
        || lower.contains("<p>")
}

// ---------------------------------------------------------------------------------
// Helpers shared with the platform adapters.
// ---------------------------------------------------------------------------------

/// Reads a JSON body: a UTF-8 BOM is skipped, invalid UTF-8 is replaced (with a
/// warning). Anything that is not JSON is [`CrawlError::Parse`] quoting the body's
/// start, so an HTML error page or a rate-limit notice is recognisable in the log.
pub(crate) fn parse_document(
    body: &[u8],
    source: &str,
) -> Result<(Value, Vec<String>), CrawlError> {
    let mut warnings = Vec::new();
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = match std::str::from_utf8(body) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => {
            warnings.push("malformed UTF-8 byte sequences were replaced with U+FFFD".to_string());
            String::from_utf8_lossy(body)
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(document) => Ok((document, warnings)),
        Err(error) => Err(parse_error(
            source,
            format!(
                "the body is not JSON ({error}); it starts {:?}",
                quote(&text)
            ),
        )),
    }
}

/// The first characters of `text`, whitespace collapsed, for error messages.
pub(crate) fn quote(text: &str) -> String {
    let collapsed = collapse_whitespace(text);
    let mut quoted: String = collapsed.chars().take(QUOTE_CHARS).collect();
    if collapsed.chars().nth(QUOTE_CHARS).is_some() {
        quoted.push('…');
    }
    quoted
}

pub(crate) fn parse_error(source: &str, message: impl Into<String>) -> CrawlError {
    CrawlError::Parse {
        source_name: source.to_string(),
        message: message.into(),
    }
}

/// `{"error": …, "message"?: …}` (Reddit, Mastodon, XRPC, many others) → a readable
/// description; `None` for documents that are not such an error.
pub(crate) fn api_error(document: &Value) -> Option<String> {
    let object = document.as_object()?;
    let error = object.get("error").filter(|e| !e.is_null())?;
    let mut described = match error {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Object(inner) => inner
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("error")
            .to_string(),
        Value::Bool(true) => "error".to_string(),
        _ => return None,
    };
    for key in ["message", "error_description", "reason"] {
        if let Some(detail) = object.get(key).and_then(Value::as_str)
            && !detail.trim().is_empty()
        {
            let _ = write!(described, ": {}", quote(detail));
            break;
        }
    }
    Some(described)
}

/// What kind of JSON value this is, for messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string (trimmed, non-empty) or a number written out; ids come as either.
pub(crate) fn string_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => {
            let text = text.trim();
            (!text.is_empty()).then(|| text.to_string())
        }
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Like [`string_of`], but an array of strings is joined with line breaks.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Array(parts) => {
            let joined: Vec<String> = parts.iter().filter_map(string_of).collect();
            (!joined.is_empty()).then(|| joined.join("\n"))
        }
        other => string_of(other),
    }
}

/// The string at `pointer`, trimmed and non-empty.
pub(crate) fn str_at(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(string_of)
}

/// A count: an integer, a float (rounded) or a numeric string ("12", "1,204").
pub(crate) fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number
            .as_i64()
            .or_else(|| {
                number
                    .as_u64()
                    .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
            })
            .or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.round() as i64)
            }),
        Value::String(text) => {
            let cleaned: String = text
                .trim()
                .chars()
                .filter(|c| *c != ',' && *c != '_')
                .collect();
            cleaned.parse::<i64>().ok().or_else(|| {
                cleaned
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f.round() as i64)
            })
        }
        _ => None,
    }
}

/// The count at `pointer`.
pub(crate) fn int_at(value: &Value, pointer: &str) -> Option<i64> {
    value.pointer(pointer).and_then(int_of)
}

/// A finite number, or a numeric string ("4.5").
pub(crate) fn float_of(value: &Value) -> Option<f64> {
    let number = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    number.filter(|f| f.is_finite())
}

/// A date given as epoch seconds/milliseconds (number) or as text ([`parse_date`]).
pub(crate) fn date_of(value: &Value, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(number) => number.as_f64().and_then(epoch),
        Value::String(text) => parse_date(text, now),
        _ => None,
    }
}

/// `raw` resolved against `base`; only http(s) results are kept.
pub(crate) fn resolve_url(base: Option<&Url>, raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let resolved = match Url::parse(raw) {
        Ok(absolute) => absolute,
        Err(url::ParseError::RelativeUrlWithoutBase) => base?.join(raw).ok()?,
        Err(_) => return None,
    };
    matches!(resolved.scheme(), "http" | "https").then(|| resolved.to_string())
}

/// `url` with query parameter `name` set to `value`: an existing `name` is replaced
/// in place (the first; later duplicates dropped), otherwise it is appended. Other
/// parameters keep their order. `None` when `url` is not an absolute URL.
pub(crate) fn set_query_param(url: &str, name: &str, value: &str) -> Option<String> {
    let mut parsed = Url::parse(url).ok()?;
    if parsed.cannot_be_a_base() {
        return None;
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut replaced = false;
    for (key, existing) in parsed.query_pairs() {
        if key == name {
            if !replaced {
                pairs.push((key.into_owned(), value.to_string()));
                replaced = true;
            }
        } else {
            pairs.push((key.into_owned(), existing.into_owned()));
        }
    }
    if !replaced {
        pairs.push((name.to_string(), value.to_string()));
    }
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    Some(parsed.to_string())
}

/// The value of query parameter `name` in `url`, if present.
pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    parsed
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn compile_reports_every_problem() {
        let error = JsonSpec::compile(
            "data/children",
            &fields(&[("txt", "/body"), ("author", "author"), ("score", "/a~2")]),
            Some("next"),
            Some("a b"),
        )
        .unwrap_err();
        for expected in [
            "items = \"data/children\"",
            "fields.txt: unknown field",
            "fields.author = \"author\"",
            "fields.score = \"/a~2\"",
            "map at least `text` or `title`",
            "next_page = \"next\"",
            "cursor_param = \"a b\"",
        ] {
            assert!(error.contains(expected), "{expected:?} missing in {error}");
        }
    }

    #[test]
    fn compile_accepts_root_and_defaults() {
        let spec = JsonSpec::compile("/", &fields(&[("text", "")]), None, None).unwrap();
        assert_eq!(spec.items_pointer(), "");
        assert_eq!(spec.cursor_param, "after");
        assert_eq!(spec.extraction(), "json:/");
        assert!(JsonSpec::compile("", &fields(&[("title", "/t")]), Some("/"), None).is_err());
    }

    #[test]
    fn query_params_are_replaced_in_place() {
        assert_eq!(
            set_query_param("https://x.test/s?q=a+b&after=old&n=1", "after", "t3_x").as_deref(),
            Some("https://x.test/s?q=a+b&after=t3_x&n=1")
        );
        assert_eq!(
            set_query_param("https://x.test/s", "page", "2").as_deref(),
            Some("https://x.test/s?page=2")
        );
        assert_eq!(set_query_param("not a url", "page", "2"), None);
        assert_eq!(
            query_param("https://x.test/?a=1&b=%20", "b").as_deref(),
            Some(" ")
        );
    }

    #[test]
    fn numbers_and_dates_in_any_reasonable_form() {
        assert_eq!(int_of(&serde_json::json!(12)), Some(12));
        assert_eq!(int_of(&serde_json::json!(12.6)), Some(13));
        assert_eq!(int_of(&serde_json::json!("1,204")), Some(1204));
        assert_eq!(int_of(&serde_json::json!("x")), None);
        assert_eq!(int_of(&serde_json::json!(u64::MAX)), Some(i64::MAX));
        assert_eq!(float_of(&serde_json::json!("4.5")), Some(4.5));
        let expected = Utc.with_ymd_and_hms(2024, 5, 1, 13, 2, 0).unwrap();
        assert_eq!(
            date_of(&serde_json::json!(1714568520), Utc::now()),
            Some(expected)
        );
        assert_eq!(
            date_of(&serde_json::json!("2024-05-01T13:02:00Z"), Utc::now()),
            Some(expected)
        );
        assert_eq!(date_of(&serde_json::json!([1]), Utc::now()), None);
    }

    #[test]
    fn urls_resolve_only_to_http() {
        let base = Url::parse("https://www.reddit.com/r/x/new.json?limit=2").unwrap();
        assert_eq!(
            resolve_url(Some(&base), "/r/x/comments/abc/t/").as_deref(),
            Some("https://www.reddit.com/r/x/comments/abc/t/")
        );
        assert_eq!(resolve_url(Some(&base), "javascript:alert(1)"), None);
        assert_eq!(resolve_url(None, "/relative"), None);
    }

    #[test]
    fn html_is_stripped_only_when_it_looks_like_html() {
        assert_eq!(readable_text("<p>Tom &amp; Jerry</p>"), "Tom & Jerry");
        assert_eq!(readable_text(" a < b and c > d "), "a < b and c > d");
    }

    #[test]
    fn api_errors_are_described() {
        assert_eq!(
            api_error(&serde_json::json!({"error": 403})).as_deref(),
            Some("403")
        );
        assert_eq!(
            api_error(&serde_json::json!({"error": "InvalidToken", "message": "Bad token"}))
                .as_deref(),
            Some("InvalidToken: Bad token")
        );
        assert_eq!(api_error(&serde_json::json!({"data": 1})), None);
    }
}

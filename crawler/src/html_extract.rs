//! The `html` source kind: a web page described by CSS selectors — which element is one
//! post (`item`), where each field sits inside it (`selector` or `selector@attribute`),
//! and where the link to the next page is. Pure: bytes in, [`Page`] out, never a panic.
//!
//! Field values:
//! - `selector` is the text of the first element matching inside the item (whitespace
//!   collapsed; for `text`, block elements become line breaks and `<script>`/`<style>`
//!   are dropped); `selector@attr` is that element's attribute; `@attr` (or
//!   `:scope@attr`) is the item element's own attribute.
//! - `text` defaults to the item's whole text. Elements matched by `item` inside another
//!   item (nested replies) belong to themselves: they are left out of the outer item's
//!   text and fields.
//! - `url` without `@attr` takes the element's `href` when it has one; `url` and
//!   `next_page` are resolved against the page (`<base href>` or the fetched URL), and
//!   only `http`/`https` results are kept. `next_page` without `@attr` means `@href`; a
//!   next page that is the fetched page itself is ignored (loop guard).
//! - `published` goes through [`parse_date`](crate::parse_date) anchored at the fetch
//!   time, searching inside longer text ("Posted on May 1, 2024"). Without a
//!   `published` field the item's first `<time datetime>` is used. Times without a
//!   zone are UTC.
//! - `rating` and the counts (`likes`, `replies`, `reposts`, `score`) are read by
//!   [`parse_rating`] and [`parse_count`].
//! - For `published`, `rating` and the counts, an attribute that is empty or unreadable
//!   falls back to the element's text (`<time datetime="">3 hours ago</time>`).
//! - `lang` defaults to the nearest `lang` attribute on the item or its ancestors
//!   (`<html lang>` included; the post's text can still overrule it, see
//!   [`finish_items`]).
//!
//! Problems are warnings on the [`Page`], one per field and kind of problem: a field
//! missing in some items, values that could not be read, an `item` selector that
//! matched nothing (usually a changed page layout), undecodable bytes.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use scraper::{ElementRef, Html, Node, Selector};
use url::Url;
use vigil_core::Engagement;

use crate::dates::find_date;
use crate::decode::decode_body;
use crate::html::{BLOCK_TAGS, collapse_whitespace};
use crate::html_tree::parse_html;
use crate::item::{Item, Page, PageContext, finish_items};

/// The field names an `html` source may map, in the order the docs list them.
pub const HTML_FIELD_NAMES: &[&str] = &[
    "text",
    "title",
    "author",
    "published",
    "url",
    "id",
    "rating",
    "lang",
    "likes",
    "replies",
    "reposts",
    "score",
];

/// How many characters of a bad value a warning quotes.
const QUOTE_CHARS: usize = 60;

/// Elements whose content is never text a person reads.
const SKIP_CONTENT: &[&str] = &["script", "style", "template", "noscript", "head"];

/// Elements that separate words without starting a block.
const SPACE_ELEMENTS: &[&str] = &["td", "th", "img", "caption", "input", "button"];

/// One of [`HTML_FIELD_NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Text,
    Title,
    Author,
    Published,
    Url,
    Id,
    Rating,
    Lang,
    Likes,
    Replies,
    Reposts,
    Score,
}

impl Field {
    fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "text" => Field::Text,
            "title" => Field::Title,
            "author" => Field::Author,
            "published" => Field::Published,
            "url" => Field::Url,
            "id" => Field::Id,
            "rating" => Field::Rating,
            "lang" => Field::Lang,
            "likes" => Field::Likes,
            "replies" => Field::Replies,
            "reposts" => Field::Reposts,
            "score" => Field::Score,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Field::Text => "text",
            Field::Title => "title",
            Field::Author => "author",
            Field::Published => "published",
            Field::Url => "url",
            Field::Id => "id",
            Field::Rating => "rating",
            Field::Lang => "lang",
            Field::Likes => "likes",
            Field::Replies => "replies",
            Field::Reposts => "reposts",
            Field::Score => "score",
        }
    }
}

/// Where a value is: an element (or the item itself) and optionally an attribute.
#[derive(Debug, Clone)]
struct Target {
    /// As configured, for messages.
    raw: String,
    /// `None`: the item element itself.
    selector: Option<Selector>,
    /// Lower-cased attribute name; `None`: the element's text.
    attribute: Option<String>,
}

/// A compiled description of an HTML page: made once per source with
/// [`HtmlSpec::compile`], then applied to every fetched page with [`extract_html`].
#[derive(Debug, Clone)]
pub struct HtmlSpec {
    /// The `item` selector as configured (trimmed), for provenance and messages.
    item_raw: String,
    item: Selector,
    /// Mapped fields, in [`HTML_FIELD_NAMES`] order.
    fields: Vec<(Field, Target)>,
    next_page: Option<Target>,
}

impl HtmlSpec {
    /// Compiles `item`, each field (`selector` or `selector@attr`; field names: text,
    /// title, author, published, url, id, rating, lang, likes, replies, reposts, score —
    /// unknown names are an `Err` naming them), and `next_page`.
    ///
    /// `@attr` alone (or `:scope@attr`) is the item's own attribute. The `@` that
    /// separates the attribute is the last one outside brackets and quotes, so
    /// `a[href^="mailto:x@y"]@href` works. Every problem is reported, joined by `; `,
    /// each quoting the selector and saying what is wrong.
    pub fn compile(
        item: &str,
        fields: &BTreeMap<String, String>,
        next_page: Option<&str>,
    ) -> Result<HtmlSpec, String> {
        let mut problems = Vec::new();
        let item_raw = item.trim();
        let item_selector = if item_raw.is_empty() {
            problems.push(
                "item = \"\": expected the CSS selector of one post, e.g. \"div.review\""
                    .to_string(),
            );
            None
        } else {
            match split_target(item_raw) {
                (_, Some(attribute)) => {
                    problems.push(format!(
                        "item = {item_raw:?}: the item is an element; `@{attribute}` belongs in a field"
                    ));
                    None
                }
                (selector, None) => match parse_selector(selector) {
                    Ok(selector) => Some(selector),
                    Err(why) => {
                        problems.push(format!("item = {item_raw:?}: {why}"));
                        None
                    }
                },
            }
        };

        let mut compiled = Vec::new();
        let mut unknown = Vec::new();
        for (name, raw) in fields {
            let Some(field) = Field::from_name(name.trim()) else {
                unknown.push(format!("{name:?}"));
                continue;
            };
            match compile_target(raw) {
                Ok(target) => compiled.push((field, target)),
                Err(why) => problems.push(format!("fields.{name} = {raw:?}: {why}")),
            }
        }
        if !unknown.is_empty() {
            problems.push(format!(
                "fields: unknown field name{} {} (expected one of {})",
                if unknown.len() == 1 { "" } else { "s" },
                unknown.join(", "),
                HTML_FIELD_NAMES.join(", ")
            ));
        }
        compiled.sort_by_key(|(field, _)| *field);

        let next_page = match next_page.map(str::trim) {
            None => None,
            Some(raw) => match compile_target(raw) {
                Ok(Target { selector: None, .. }) => {
                    problems.push(format!(
                        "next_page = {raw:?}: expected the selector of the page's next-page link, e.g. \"a.next@href\""
                    ));
                    None
                }
                Ok(mut target) => {
                    target.attribute.get_or_insert_with(|| "href".to_string());
                    Some(target)
                }
                Err(why) => {
                    problems.push(format!("next_page = {raw:?}: {why}"));
                    None
                }
            },
        };

        match item_selector {
            Some(item) if problems.is_empty() => Ok(HtmlSpec {
                item_raw: item_raw.to_string(),
                item,
                fields: compiled,
                next_page,
            }),
            _ => Err(problems.join("; ")),
        }
    }

    /// How extracted posts are labelled in their provenance: `html:<item selector>`.
    pub fn extraction(&self) -> String {
        format!("html:{}", self.item_raw)
    }

    fn target(&self, field: Field) -> Option<&Target> {
        self.fields
            .iter()
            .find(|(candidate, _)| *candidate == field)
            .map(|(_, target)| target)
    }
}

/// `selector@attr` → (`selector`, `Some(attr)`), splitting at the last `@` outside
/// brackets, parentheses and quotes.
fn split_target(raw: &str) -> (&str, Option<&str>) {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut split = None;
    for (at, c) in raw.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') => escaped = true,
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => depth -= 1,
            (None, '@') if depth <= 0 => split = Some(at),
            _ => {}
        }
    }
    match split {
        Some(at) => (&raw[..at], Some(&raw[at + 1..])),
        None => (raw, None),
    }
}

fn compile_target(raw: &str) -> Result<Target, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("empty; expected a CSS selector, `selector@attribute` or `@attribute`".into());
    }
    let (selector_text, attribute) = split_target(trimmed);
    let attribute = match attribute.map(str::trim) {
        None => None,
        Some("") => {
            return Err("nothing after `@`; expected an attribute name such as `href`".into());
        }
        Some(name)
            if name.chars().any(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || matches!(c, '"' | '\'' | '>' | '<' | '/' | '=')
            }) =>
        {
            return Err(format!("`{name}` is not an attribute name"));
        }
        Some(name) => Some(name.to_ascii_lowercase()),
    };
    let selector_text = selector_text.trim();
    // "", ":scope": the item element itself.
    let selector = if selector_text.is_empty() || selector_text == ":scope" {
        None
    } else {
        Some(parse_selector(selector_text)?)
    };
    Ok(Target {
        raw: trimmed.to_string(),
        selector,
        attribute,
    })
}

fn parse_selector(text: &str) -> Result<Selector, String> {
    Selector::parse(text).map_err(|error| {
        let why = match error {
            scraper::error::SelectorErrorKind::UnexpectedSelectorParseError(inner) => {
                format!("{inner:?}")
            }
            other => other.to_string(),
        };
        format!("{text:?} is not a valid CSS selector ({why})")
    })
}

/// Per-field counts of problems over one page, turned into one warning each.
#[derive(Default)]
struct FieldProblems {
    /// Field → number of items without it.
    missing: BTreeMap<Field, usize>,
    /// Field → (number of unreadable values, first such value).
    unreadable: BTreeMap<Field, (usize, String)>,
}

impl FieldProblems {
    fn missing(&mut self, field: Field) {
        *self.missing.entry(field).or_default() += 1;
    }

    fn unreadable(&mut self, field: Field, value: &str) {
        let entry = self
            .unreadable
            .entry(field)
            .or_insert_with(|| (0, quote(value)));
        entry.0 += 1;
    }

    fn into_warnings(self, spec: &HtmlSpec, items: usize, warnings: &mut Vec<String>) {
        let raw = |field: Field| spec.target(field).map_or("", |target| target.raw.as_str());
        for (field, count) in self.missing {
            warnings.push(format!(
                "fields.{} ({:?}) matched nothing in {count} of {items} items",
                field.name(),
                raw(field)
            ));
        }
        for (field, (count, example)) in self.unreadable {
            let expected = match field {
                Field::Published => "a date",
                Field::Url => "an http(s) URL",
                Field::Rating => "a rating",
                _ => "a number",
            };
            warnings.push(format!(
                "fields.{} ({:?}): {count} of {items} values were not {expected}, e.g. {example:?}",
                field.name(),
                raw(field)
            ));
        }
    }
}

fn quote(value: &str) -> String {
    let mut quoted: String = value.chars().take(QUOTE_CHARS).collect();
    if value.chars().nth(QUOTE_CHARS).is_some() {
        quoted.push('…');
    }
    quoted
}

/// Extracts one page. Never panics.
///
/// The body is decoded with [`decode_body`] (BOM, `content_type` charset, `<meta>`
/// charset, and valid UTF-8 behind a stale legacy `<meta charset>`). Items without text or title are skipped by
/// [`finish_items`] and counted there.
///
/// The page is parsed by [`parse_html`], which gives the same tree as html5ever.
pub fn extract_html(
    spec: &HtmlSpec,
    body: &[u8],
    content_type: Option<&str>,
    context: &PageContext<'_>,
) -> Page {
    extract_parsed(spec, body, content_type, context, parse_html)
}

/// [`extract_html`] with every page parsed by html5ever
/// ([`Html::parse_document`]): the reference the fast parser is tested against.
#[doc(hidden)]
pub fn extract_html_html5ever(
    spec: &HtmlSpec,
    body: &[u8],
    content_type: Option<&str>,
    context: &PageContext<'_>,
) -> Page {
    extract_parsed(spec, body, content_type, context, Html::parse_document)
}

fn extract_parsed(
    spec: &HtmlSpec,
    body: &[u8],
    content_type: Option<&str>,
    context: &PageContext<'_>,
    parse: fn(&str) -> Html,
) -> Page {
    let mut warnings = Vec::new();
    let text = decode_page(body, content_type, &mut warnings);
    let document = parse(&text);
    let base = base_url(&document, context.fetch_url);

    let items: Vec<ElementRef<'_>> = document.select(&spec.item).collect();
    if items.is_empty() {
        warnings.push(format!(
            "item selector {:?} matched nothing on this page; if the page used to have posts, its layout has probably changed",
            spec.item_raw
        ));
    }
    let item_ids: HashSet<_> = items.iter().map(|element| element.id()).collect();
    let is_item = |element: ElementRef<'_>| item_ids.contains(&element.id());

    let mut problems = FieldProblems::default();
    let extracted: Vec<Item> = items
        .iter()
        .map(|element| {
            extract_item(
                spec,
                *element,
                &is_item,
                base.as_ref(),
                context,
                &mut problems,
            )
        })
        .collect();
    problems.into_warnings(spec, items.len(), &mut warnings);

    let posts = finish_items(extracted, context, &spec.extraction(), &mut warnings);
    let next = spec
        .next_page
        .as_ref()
        .and_then(|target| next_page_url(&document, target, base.as_ref(), context.fetch_url));
    Page {
        posts,
        next,
        warnings,
    }
}

/// Bytes → text, with a warning for replaced sequences.
fn decode_page(body: &[u8], content_type: Option<&str>, warnings: &mut Vec<String>) -> String {
    let (text, encoding, had_errors) = decode_body(body, content_type);
    if !had_errors {
        return text;
    }
    warnings.push(format!(
        "the page had byte sequences that are not valid {}; they were replaced with U+FFFD",
        encoding.unwrap_or("UTF-8")
    ));
    text
}

/// `<base href>` resolved against the fetched URL, else the fetched URL.
fn base_url(document: &Html, fetch_url: &str) -> Option<Url> {
    let fetched = Url::parse(fetch_url).ok()?;
    static BASE: LazyLock<Option<Selector>> = LazyLock::new(|| Selector::parse("base[href]").ok());
    let base_selector = BASE.as_ref()?;
    let declared = document
        .select(base_selector)
        .next()
        .and_then(|base| base.value().attr("href"))
        .and_then(|href| fetched.join(href.trim()).ok())
        .filter(|url| matches!(url.scheme(), "http" | "https"));
    Some(declared.unwrap_or(fetched))
}

/// An absolute http(s) URL for `raw`, relative to `base`.
fn resolve_url(base: Option<&Url>, raw: &str) -> Option<Url> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let url = Url::options().base_url(base).parse(raw).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

fn next_page_url(
    document: &Html,
    target: &Target,
    base: Option<&Url>,
    fetch_url: &str,
) -> Option<String> {
    let selector = target.selector.as_ref()?;
    let attribute = target.attribute.as_deref().unwrap_or("href");
    let mut next = document.select(selector).find_map(|element| {
        let raw = element.value().attr(attribute)?;
        resolve_url(base, raw)
    })?;
    let mut current = Url::parse(fetch_url).ok();
    if let Some(current) = current.as_mut() {
        current.set_fragment(None);
    }
    next.set_fragment(None);
    // "Next" pointing at the page itself (last page, "#", "?") would loop forever.
    if current.as_ref() == Some(&next) {
        return None;
    }
    Some(next.into())
}

fn extract_item(
    spec: &HtmlSpec,
    element: ElementRef<'_>,
    is_item: &dyn Fn(ElementRef<'_>) -> bool,
    base: Option<&Url>,
    context: &PageContext<'_>,
    problems: &mut FieldProblems,
) -> Item {
    let mut item = Item::default();
    let mut engagement = Engagement::default();
    // Defaults apply to fields that are not configured; a configured field that is
    // missing stays missing (and is counted), it does not silently change meaning.
    let text_configured = spec.target(Field::Text).is_some();
    let published_configured = spec.target(Field::Published).is_some();
    for (field, target) in &spec.fields {
        let field = *field;
        let Some(found) = locate(element, target, is_item) else {
            problems.missing(field);
            continue;
        };
        let single_line = |found: ElementRef<'_>| element_text(found, is_item, false);
        let value = match &target.attribute {
            Some(attribute) => found.value().attr(attribute).map(str::trim).unwrap_or(""),
            None => "",
        };
        let text_value = || -> String {
            if target.attribute.is_some() {
                one_line(collapse_whitespace(value))
            } else {
                single_line(found)
            }
        };
        match field {
            Field::Text => {
                let text = match target.attribute {
                    Some(_) => collapse_whitespace(value),
                    None => element_text(found, is_item, true),
                };
                if text.is_empty() {
                    problems.missing(field);
                }
                item.text = text;
            }
            Field::Title | Field::Author | Field::Id | Field::Lang => {
                let text = text_value();
                if text.is_empty() {
                    problems.missing(field);
                    continue;
                }
                match field {
                    Field::Title => item.title = Some(text),
                    Field::Author => item.author = Some(text),
                    Field::Id => item.external_id = Some(text),
                    _ => item.lang = Some(text),
                }
            }
            Field::Url => {
                let raw = match &target.attribute {
                    Some(_) => value.to_string(),
                    None => found
                        .value()
                        .attr("href")
                        .map_or_else(|| single_line(found), |href| href.trim().to_string()),
                };
                if raw.is_empty() {
                    problems.missing(field);
                    continue;
                }
                match resolve_url(base, &raw) {
                    Some(url) => item.url = Some(url.into()),
                    None => problems.unreadable(field, &raw),
                }
            }
            Field::Published => {
                match read_with_fallback(found, target, &text_value(), is_item, |text| {
                    find_date(text, context.fetched_at)
                }) {
                    Ok(at) => item.published_at = Some(at),
                    Err(None) => problems.missing(field),
                    Err(Some(bad)) => problems.unreadable(field, &bad),
                }
            }
            Field::Rating => {
                match read_with_fallback(found, target, &text_value(), is_item, parse_rating) {
                    Ok(rating) => engagement.rating = Some(rating),
                    Err(None) => problems.missing(field),
                    Err(Some(bad)) => problems.unreadable(field, &bad),
                }
            }
            Field::Likes | Field::Replies | Field::Reposts | Field::Score => {
                let count =
                    match read_with_fallback(found, target, &text_value(), is_item, parse_count) {
                        Ok(count) => count,
                        Err(None) => {
                            problems.missing(field);
                            continue;
                        }
                        Err(Some(bad)) => {
                            problems.unreadable(field, &bad);
                            continue;
                        }
                    };
                match field {
                    Field::Likes => engagement.likes = Some(count),
                    Field::Replies => engagement.replies = Some(count),
                    Field::Reposts => engagement.reposts = Some(count),
                    _ => engagement.score = Some(count),
                }
            }
        }
    }
    if !text_configured {
        item.text = element_text(element, is_item, true);
    }
    if !published_configured {
        item.published_at = first_time_element(element, is_item)
            .and_then(|datetime| find_date(datetime, context.fetched_at));
    }
    if item.lang.is_none() {
        item.lang = inherited_lang(element);
    }
    item.engagement = engagement;
    item
}

/// Reads a date, rating or count: from `primary` (the attribute, or the element's text)
/// and, when an attribute is empty or unreadable, from the element's text
/// (`<time datetime="">3 hours ago</time>`, `<span data-rating="">4 stars</span>`).
/// `Err(None)`: nothing there at all; `Err(Some(value))`: a value that did not parse.
fn read_with_fallback<T>(
    found: ElementRef<'_>,
    target: &Target,
    primary: &str,
    is_item: &dyn Fn(ElementRef<'_>) -> bool,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, Option<String>> {
    if !primary.is_empty()
        && let Some(value) = parse(primary)
    {
        return Ok(value);
    }
    let fallback = if target.attribute.is_some() {
        element_text(found, is_item, false)
    } else {
        String::new()
    };
    if !fallback.is_empty()
        && let Some(value) = parse(&fallback)
    {
        return Ok(value);
    }
    match (primary.is_empty(), fallback.is_empty()) {
        (true, true) => Err(None),
        (false, _) => Err(Some(primary.to_string())),
        (true, false) => Err(Some(fallback)),
    }
}

/// The element a target names inside `item`: the first match that is not inside a
/// nested item, or the item itself.
fn locate<'a>(
    item: ElementRef<'a>,
    target: &Target,
    is_item: &dyn Fn(ElementRef<'_>) -> bool,
) -> Option<ElementRef<'a>> {
    let Some(selector) = &target.selector else {
        return Some(item);
    };
    item.select(selector)
        .find(|found| !inside_nested_item(*found, item, is_item))
}

/// Whether `found` (a descendant of `item`) is, or is inside, another item.
fn inside_nested_item(
    found: ElementRef<'_>,
    item: ElementRef<'_>,
    is_item: &dyn Fn(ElementRef<'_>) -> bool,
) -> bool {
    if is_item(found) {
        return true;
    }
    for ancestor in found.ancestors() {
        if ancestor.id() == item.id() {
            return false;
        }
        if ElementRef::wrap(ancestor).is_some_and(is_item) {
            return true;
        }
    }
    false
}

fn first_time_element<'a>(
    item: ElementRef<'a>,
    is_item: &dyn Fn(ElementRef<'_>) -> bool,
) -> Option<&'a str> {
    // Parsed once: this runs for every item of specs without `published`.
    static TIME: LazyLock<Option<Selector>> =
        LazyLock::new(|| Selector::parse("time[datetime]").ok());
    let selector = TIME.as_ref()?;
    item.select(selector)
        .find(|found| !inside_nested_item(*found, item, is_item))
        .and_then(|time| time.value().attr("datetime"))
}

fn inherited_lang(item: ElementRef<'_>) -> Option<String> {
    std::iter::once(*item)
        .chain(item.ancestors())
        .filter_map(ElementRef::wrap)
        .find_map(|element| element.value().attr("lang"))
        .map(|lang| lang.trim().to_string())
        .filter(|lang| !lang.is_empty())
}

/// The readable text of `root`: text nodes in order, skipping `<script>`, `<style>`
/// (unless `root` is one: a date in inline JSON) and nested items. With `blocks`, block
/// elements become line breaks; otherwise everything is one line.
fn element_text(
    root: ElementRef<'_>,
    is_item: &dyn Fn(ElementRef<'_>) -> bool,
    blocks: bool,
) -> String {
    let root_is_raw = SKIP_CONTENT.contains(&root.value().name());
    let root_id = root.id();
    let mut out = String::new();
    let separator = |name: &str| -> Option<char> {
        if BLOCK_TAGS.contains(&name) {
            Some(if blocks { '\n' } else { ' ' })
        } else if SPACE_ELEMENTS.contains(&name) {
            Some(' ')
        } else {
            None
        }
    };
    // Iterative depth-first walk: deeply nested pages must not overflow the stack.
    let root_node = *root;
    let mut node = root_node;
    loop {
        let mut descend = true;
        match node.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(element) if node.id() != root_id => {
                let skip = (!root_is_raw && SKIP_CONTENT.contains(&element.name()))
                    || ElementRef::wrap(node).is_some_and(is_item);
                if skip {
                    descend = false;
                } else if let Some(separator) = separator(element.name()) {
                    out.push(separator);
                }
            }
            _ => {}
        }
        if descend && let Some(child) = node.first_child() {
            node = child;
            continue;
        }
        // Leave `node` (and every ancestor that has no next sibling).
        loop {
            if node.id() == root_id {
                return finish_text(&out, blocks);
            }
            if let Node::Element(element) = node.value()
                && descend
                && let Some(separator) = separator(element.name())
            {
                out.push(separator);
            }
            descend = true;
            if let Some(sibling) = node.next_sibling() {
                node = sibling;
                break;
            }
            match node.parent() {
                Some(parent) => node = parent,
                None => return finish_text(&out, blocks),
            }
        }
    }
}

fn finish_text(raw: &str, blocks: bool) -> String {
    let collapsed = collapse_whitespace(raw);
    if blocks {
        collapsed
    } else {
        one_line(collapsed)
    }
}

/// Line breaks become spaces (no copy when there are none).
fn one_line(text: String) -> String {
    if text.contains('\n') {
        text.replace('\n', " ")
    } else {
        text
    }
}

/// A review rating from what pages put in their markup, on the scale it was given or,
/// when the scale is written, converted to 5 stars:
/// - `4`, `4.5`, `4,5` (decimal comma), `Rated 4 stars`, `5 stars: Excellent`,
///   `stars-5.svg`, `4.5分` → the first number as is (0–10);
/// - `4 out of 5`, `4/5`, `8/10`, `4 of 5`, `4 von 5`, `4 sur 5` → out of 5
///   (`8/10` → 4.0);
/// - a percentage (`width: 80%`, a bare number from 10 to 100) → out of 5 (→ 4.0);
/// - star glyphs without digits: `★★★★☆` → 4 (a `½` adds a half).
///
/// Anything else, negative or over 100 is `None`.
pub fn parse_rating(text: &str) -> Option<f64> {
    let text = text.trim();
    let numbers = scan_decimals(text);
    let Some(&(first, _, end)) = numbers.first() else {
        let full = text
            .chars()
            .filter(|c| matches!(c, '★' | '⭐' | '🌟'))
            .count();
        if full == 0 {
            return None;
        }
        let half = if text.contains('½') { 0.5 } else { 0.0 };
        return Some(full as f64 + half);
    };
    let after = text.get(end..).unwrap_or("").trim_start();
    if after.starts_with('%') {
        return (0.0..=100.0).contains(&first).then(|| round2(first / 20.0));
    }
    let lower = after.to_lowercase();
    let scale_rest = ["out of", "of", "von", "sur", "/", "de"]
        .iter()
        .find_map(|word| lower.strip_prefix(word));
    if let Some(rest) = scale_rest
        && let Some(&(scale, start, _)) = scan_decimals(rest).first()
        && rest[..start].trim().is_empty()
        && scale > 0.0
        && first <= scale
    {
        if (scale - 5.0).abs() < f64::EPSILON {
            return Some(first);
        }
        return Some(round2(first / scale * 5.0));
    }
    match first {
        value if (0.0..=10.0).contains(&value) => Some(value),
        value if value <= 100.0 => Some(round2(value / 20.0)),
        _ => None,
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Decimal numbers in `text` with their byte ranges: `4`, `4.5`, `4,5` (a comma
/// followed by one or two digits is a decimal comma).
fn scan_decimals(text: &str) -> Vec<(f64, usize, usize)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() && found.len() < 4 {
        if !bytes[at].is_ascii_digit() {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        if at + 1 < bytes.len()
            && matches!(bytes[at], b'.' | b',')
            && bytes[at + 1].is_ascii_digit()
        {
            let mut fraction_end = at + 1;
            while fraction_end < bytes.len() && bytes[fraction_end].is_ascii_digit() {
                fraction_end += 1;
            }
            let fraction_digits = fraction_end - at - 1;
            if bytes[at] == b'.' || fraction_digits <= 2 {
                at = fraction_end;
            }
        }
        let number = text[start..at].replace(',', ".");
        if number.len() <= 20
            && let Ok(value) = number.parse::<f64>()
            && value.is_finite()
        {
            found.push((value, start, at));
        }
    }
    found
}

/// A count from what pages print: `1,234`, `1.234` (grouping), `1 234`, `1.2k`,
/// `3.4M`, `2B`, `12.5万`, `3亿`, `3 replies`, `-5 points`. The first number in the
/// text; `None` when there is none or it is absurdly large.
pub fn parse_count(text: &str) -> Option<i64> {
    let chars: Vec<char> = text.chars().take(200).collect();
    let start = chars.iter().position(char::is_ascii_digit)?;
    let negative = start > 0 && matches!(chars[start - 1], '-' | '−');
    let mut end = start;
    let mut digits = String::new();
    // Separator positions within `digits` and the separator character.
    let mut separators: Vec<(usize, char)> = Vec::new();
    while end < chars.len() {
        let c = chars[end];
        if c.is_ascii_digit() {
            digits.push(c);
            end += 1;
        } else if matches!(
            c,
            ',' | '.' | '\'' | ' ' | '\u{A0}' | '\u{202F}' | '\u{2009}'
        ) && chars.get(end + 1).is_some_and(char::is_ascii_digit)
        {
            separators.push((digits.len(), c));
            end += 1;
        } else {
            break;
        }
        if digits.len() > 18 {
            return None;
        }
    }
    let rest: String = chars[end..].iter().collect();
    let rest = rest.trim_start();
    let mut suffix = rest.chars();
    let multiplier = match (suffix.next(), suffix.next()) {
        (Some('k' | 'K' | '千'), next) if !next.is_some_and(char::is_alphabetic) => 1e3,
        (Some('m' | 'M'), next) if !next.is_some_and(char::is_alphabetic) => 1e6,
        (Some('b' | 'B'), next) if !next.is_some_and(char::is_alphabetic) => 1e9,
        (Some('w' | 'W'), next) if !next.is_some_and(char::is_alphabetic) => 1e4,
        (Some('万' | '萬'), _) => 1e4,
        (Some('亿' | '億'), _) => 1e8,
        _ => 1.0,
    };
    // With a multiplier the last '.' or ',' is a decimal point: 1.2k, 1,5M.
    let decimal_at = separators
        .last()
        .filter(|(at, c)| {
            matches!(c, '.' | ',')
                && (multiplier > 1.0 || separators.len() == 1 && digits.len() - at != 3)
        })
        .map(|(at, _)| *at);
    let value = match decimal_at {
        Some(at) => {
            let number = format!("{}.{}", &digits[..at], &digits[at..]);
            number.parse::<f64>().ok()? * multiplier
        }
        None => {
            // Grouping separators only if every group after one has three digits;
            // otherwise the number ends at the first separator ("3 4" is 3).
            let mut boundaries: Vec<usize> = separators.iter().map(|(at, _)| *at).collect();
            boundaries.push(digits.len());
            let grouped = boundaries.windows(2).all(|pair| pair[1] - pair[0] == 3);
            let integer = if grouped {
                digits.as_str()
            } else {
                &digits[..separators.first().map_or(digits.len(), |(at, _)| *at)]
            };
            integer.parse::<f64>().ok()? * multiplier
        }
    };
    if !value.is_finite() || value > 1e15 {
        return None;
    }
    let count = value.round() as i64;
    Some(if negative { -count } else { count })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn splits_targets_at_the_last_bare_at() {
        assert_eq!(split_target("a.next@href"), ("a.next", Some("href")));
        assert_eq!(split_target("@data-id"), ("", Some("data-id")));
        assert_eq!(split_target(".author"), (".author", None));
        assert_eq!(
            split_target("a[href^=\"mailto:x@y\"]@href"),
            ("a[href^=\"mailto:x@y\"]", Some("href"))
        );
        assert_eq!(split_target("a[title='x@y']"), ("a[title='x@y']", None));
    }

    #[test]
    fn compile_reports_every_problem() {
        let error = HtmlSpec::compile(
            "div..review",
            &fields(&[
                ("text", "p.body"),
                ("author", "span[@"),
                ("colour", ".c"),
                ("mood", ".m"),
                ("url", "a@"),
            ]),
            Some("@href"),
        )
        .unwrap_err();
        assert!(error.contains("item = \"div..review\""), "{error}");
        assert!(
            error.contains("\"div..review\" is not a valid CSS selector"),
            "{error}"
        );
        assert!(error.contains("fields.author = \"span[@\""), "{error}");
        assert!(
            error.contains("unknown field names \"colour\", \"mood\""),
            "{error}"
        );
        assert!(
            error.contains("fields.url = \"a@\": nothing after `@`"),
            "{error}"
        );
        assert!(error.contains("next_page = \"@href\""), "{error}");
        assert!(!error.contains("fields.text"), "{error}");

        let error = HtmlSpec::compile("", &BTreeMap::new(), None).unwrap_err();
        assert!(error.contains("item = \"\""), "{error}");
        let error = HtmlSpec::compile("div@id", &BTreeMap::new(), None).unwrap_err();
        assert!(error.contains("`@id` belongs in a field"), "{error}");

        let spec = HtmlSpec::compile(
            " div.review ",
            &fields(&[("id", "@data-id"), ("title", ":scope@title"), ("url", "a")]),
            Some("a.next"),
        )
        .unwrap();
        assert_eq!(spec.extraction(), "html:div.review");
        assert_eq!(
            spec.next_page.as_ref().and_then(|t| t.attribute.as_deref()),
            Some("href")
        );
        assert!(spec.target(Field::Id).is_some_and(|t| t.selector.is_none()));
        assert!(
            spec.target(Field::Title)
                .is_some_and(|t| t.selector.is_none())
        );
    }

    #[test]
    fn ratings() {
        for (text, expected) in [
            ("4", Some(4.0)),
            ("4.5", Some(4.5)),
            ("4,5 Sterne", Some(4.5)),
            ("4 out of 5", Some(4.0)),
            ("4.5/5", Some(4.5)),
            ("3.5 / 5", Some(3.5)),
            ("8/10", Some(4.0)),
            ("Rated 4 stars", Some(4.0)),
            ("Bewertung: 4 von 5", Some(4.0)),
            ("5 stars: Excellent", Some(5.0)),
            ("https://cdn.example/stars-5.svg", Some(5.0)),
            ("width: 80%", Some(4.0)),
            ("width:90.0%", Some(4.5)),
            ("80", Some(4.0)),
            ("★★★★☆", Some(4.0)),
            ("★★★½", Some(3.5)),
            ("4.5分", Some(4.5)),
            ("no rating", None),
            ("", None),
            ("500", None),
            ("150%", None),
        ] {
            assert_eq!(parse_rating(text), expected, "{text:?}");
        }
    }

    #[test]
    fn counts() {
        for (text, expected) in [
            ("1,234", Some(1234)),
            ("1.234", Some(1234)),
            ("1 234 likes", Some(1234)),
            ("1.2k", Some(1200)),
            ("1,5K", Some(1500)),
            ("3.4M views", Some(3_400_000)),
            ("12.5万", Some(125_000)),
            ("3亿", Some(300_000_000)),
            ("3 replies", Some(3)),
            ("Replies: 17", Some(17)),
            ("-5 points", Some(-5)),
            ("4.0", Some(4)),
            ("12,345,678", Some(12_345_678)),
            ("5 min read", Some(5)),
            ("no replies", None),
            ("", None),
            ("99999999999999999999999", None),
        ] {
            assert_eq!(parse_count(text), expected, "{text:?}");
        }
    }

    #[test]
    fn text_keeps_blocks_and_drops_scripts() {
        let document = Html::parse_document(
            "<div id=r><h3>Title</h3><p>First <b>bold</b> line</p><script>var x='<p>';</script><style>p{}</style><ul><li>one</li><li>two</li></ul>tail<br>after</div>",
        );
        let selector = Selector::parse("#r").unwrap();
        let root = document.select(&selector).next().unwrap();
        let none = |_: ElementRef<'_>| false;
        assert_eq!(
            element_text(root, &none, true),
            "Title\nFirst bold line\none\ntwo\ntail\nafter"
        );
        assert_eq!(
            element_text(root, &none, false),
            "Title First bold line one two tail after"
        );
        let script_document =
            Html::parse_document("<script type=application/json>{\"d\":\"2024-05-01\"}</script>");
        let script_selector = Selector::parse("script").unwrap();
        let script = script_document.select(&script_selector).next().unwrap();
        assert_eq!(element_text(script, &none, false), "{\"d\":\"2024-05-01\"}");
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let html = format!(
            "<div class=i>{}deep{}</div>",
            "<span>".repeat(50_000),
            "</span>".repeat(50_000)
        );
        let document = Html::parse_document(&html);
        let selector = Selector::parse(".i").unwrap();
        let root = document.select(&selector).next().unwrap();
        assert!(element_text(root, &|_| false, true).contains("deep"));
    }
}

//! A fast HTML parser for the pages the `html` source kind reads: it builds the very
//! same [`scraper::Html`] tree as html5ever (same nodes, same order in the arena, same
//! attributes), several times faster, for documents whose tree construction needs none
//! of the HTML parser's error recovery. Anything else makes it give up, and
//! [`parse_html`] falls back to html5ever: correctness first.
//!
//! What it follows, from the WHATWG parsing algorithm as html5ever 0.40 implements it:
//! - the tokenizer's data, tag, attribute, comment, bogus comment, DOCTYPE, RAWTEXT,
//!   RCDATA and script data states (character references with html5ever's own entity
//!   table, duplicate attributes dropped, names lower-cased, CR/CRLF → LF);
//! - the insertion modes initial, before html, before head, in head, after head, in
//!   body, text, in table (with in table text, caption, column group, table body, row
//!   and cell), after body and after after body, with implied `html`/`head`/`body`/
//!   `tbody`/`tr`/`colgroup` elements, implied end tags (`p`, `li`, `dd`, `option`…),
//!   `<select>`/`<option>` handling, the list of active formatting elements as far as
//!   it stays trivial, `svg` content (tag and attribute name adjustments, self-closing
//!   tags), quirks mode from the DOCTYPE.
//!
//! Where it gives up ([`Unsupported`]): misnested formatting elements that the parser
//! would reconstruct or move (the adoption agency's hard case), foster parenting (text
//! or elements misplaced inside a table), `<template>`, `<frameset>`, `<plaintext>`,
//! `<math>`, HTML inside SVG integration points, CDATA, NUL bytes, an unclosed comment
//! or tag at the end of input, unusual DOCTYPEs, and a few other rare cases.
//!
//! Tests compare the two parsers tree for tree (`tests/html_parser_equivalence.rs`),
//! and the `html` fuzz target does the same on every input the fast parser accepts.

use std::fmt;

use ego_tree::{NodeId, Tree};
use html5ever::tendril::StrTendril;
use html5ever::tree_builder::QuirksMode;
use html5ever::{Attribute, LocalName, Namespace, QualName, local_name, namespace_prefix, ns};
use scraper::node::{Comment, Doctype, Element, Text};
use scraper::{Html, Node};

/// Why the fast parser declined a document (it then goes to html5ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported {
    /// What it met, e.g. `"foster parenting"`.
    pub reason: &'static str,
    /// Byte offset in the (CR-normalised) text where it gave up.
    pub at: usize,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.at)
    }
}

type R<T> = Result<T, Unsupported>;

/// Parses a whole document: the fast parser when it can, html5ever otherwise. The
/// result is the same as [`Html::parse_document`]'s either way (parse errors are not
/// recorded by the fast parser).
pub fn parse_html(text: &str) -> Html {
    match parse_html_fast(text) {
        Ok(html) => html,
        Err(why) => {
            tracing::trace!(%why, "fast HTML parser declined; using html5ever");
            Html::parse_document(text)
        }
    }
}

/// The fast parser alone: the same tree as [`Html::parse_document`], or why not.
pub fn parse_html_fast(text: &str) -> Result<Html, Unsupported> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let bytes = text.as_bytes();
    if let Some(at) = memchr::memchr(0, bytes) {
        return Err(Unsupported {
            reason: "NUL byte",
            at,
        });
    }
    let normalised;
    let text = if memchr::memchr(b'\r', bytes).is_some() {
        normalised = text.replace("\r\n", "\n").replace('\r', "\n");
        normalised.as_str()
    } else {
        text
    };
    let mut builder = Builder::new(text);
    builder.run()?;
    let mut html = Html::new_document();
    html.quirks_mode = builder.quirks;
    html.tree = builder.tree;
    Ok(html)
}

/// Parses `text` with both parsers, for tests and fuzzing. `Ok(true)`: the fast parser
/// accepted it and built html5ever's tree; `Ok(false)`: it declined; `Err`: the trees
/// (or quirks modes) differ, which is a bug of the fast parser.
#[doc(hidden)]
pub fn compare_parsers(text: &str) -> Result<bool, String> {
    let Ok(fast) = parse_html_fast(text) else {
        return Ok(false);
    };
    let reference = Html::parse_document(text);
    if fast.quirks_mode != reference.quirks_mode {
        return Err(format!(
            "quirks mode {:?}, html5ever {:?}",
            fast.quirks_mode, reference.quirks_mode
        ));
    }
    if fast.tree != reference.tree {
        return Err(format!(
            "trees differ\nfast:      {}\nhtml5ever: {}",
            fast.html(),
            reference.html()
        ));
    }
    Ok(true)
}

/// Element namespaces the builder knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Html,
    Svg,
}

/// An element on the stack of open elements.
#[derive(Debug, Clone)]
struct Open {
    id: NodeId,
    name: LocalName,
    ns: Ns,
}

impl Open {
    fn is(&self, name: &LocalName) -> bool {
        self.ns == Ns::Html && self.name == *name
    }

    fn html(&self) -> Option<&LocalName> {
        (self.ns == Ns::Html).then_some(&self.name)
    }
}

/// An entry of the list of active formatting elements.
#[derive(Debug, Clone)]
enum Formatting {
    Marker,
    Element(NodeId, LocalName),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Initial,
    BeforeHtml,
    BeforeHead,
    InHead,
    AfterHead,
    InBody,
    Text,
    InTable,
    InCaption,
    InColumnGroup,
    InTableBody,
    InRow,
    InCell,
    AfterBody,
    AfterAfterBody,
}

/// The scopes of the "has an element in scope" checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Default,
    ListItem,
    Button,
    Table,
}

/// How the tokenizer reads an element's content after its start tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Raw {
    /// RCDATA: text with character references (`title`, `textarea`).
    Rcdata,
    /// RAWTEXT (`style`, `xmp`, `iframe`, `noembed`, `noframes`, `noscript`).
    Rawtext,
    /// Script data (`script`).
    Script,
}

/// A start or end tag from the tokenizer.
struct Tag {
    name: LocalName,
    attrs: Vec<Attribute>,
    self_closing: bool,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|attr| attr.name.ns == ns!() && &*attr.name.local == name)
            .map(|attr| &*attr.value)
    }
}

/// What a start tag asks of the tokenizer.
enum After {
    Continue,
    Raw(Raw, LocalName),
}

struct Builder<'s> {
    src: &'s str,
    pos: usize,
    tree: Tree<Node>,
    doc: NodeId,
    stack: Vec<Open>,
    formatting: Vec<Formatting>,
    mode: Mode,
    /// The mode to return to after a text-only element (`Mode::Text`).
    orig_mode: Mode,
    head: Option<NodeId>,
    form: Option<NodeId>,
    quirks: QuirksMode,
    /// Drop a newline right after `<pre>`, `<listing>`, `<textarea>`.
    ignore_lf: bool,
    /// Scratch for text and attribute values.
    buf: String,
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | b'\x0C' | b' ')
}

fn is_ascii_ws(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | b'\x0C' | b' ' | b'\r')
}

/// Elements the parser treats specially (`special_tag` in html5ever).
fn is_special(open: &Open) -> bool {
    let Some(name) = open.html() else {
        return false;
    };
    matches!(
        *name,
        local_name!("address")
            | local_name!("applet")
            | local_name!("area")
            | local_name!("article")
            | local_name!("aside")
            | local_name!("base")
            | local_name!("basefont")
            | local_name!("bgsound")
            | local_name!("blockquote")
            | local_name!("body")
            | local_name!("br")
            | local_name!("button")
            | local_name!("caption")
            | local_name!("center")
            | local_name!("col")
            | local_name!("colgroup")
            | local_name!("dd")
            | local_name!("details")
            | local_name!("dir")
            | local_name!("div")
            | local_name!("dl")
            | local_name!("dt")
            | local_name!("embed")
            | local_name!("fieldset")
            | local_name!("figcaption")
            | local_name!("figure")
            | local_name!("footer")
            | local_name!("form")
            | local_name!("frame")
            | local_name!("frameset")
            | local_name!("h1")
            | local_name!("h2")
            | local_name!("h3")
            | local_name!("h4")
            | local_name!("h5")
            | local_name!("h6")
            | local_name!("head")
            | local_name!("header")
            | local_name!("hgroup")
            | local_name!("hr")
            | local_name!("html")
            | local_name!("iframe")
            | local_name!("img")
            | local_name!("input")
            | local_name!("isindex")
            | local_name!("li")
            | local_name!("link")
            | local_name!("listing")
            | local_name!("main")
            | local_name!("marquee")
            | local_name!("menu")
            | local_name!("meta")
            | local_name!("nav")
            | local_name!("noembed")
            | local_name!("noframes")
            | local_name!("noscript")
            | local_name!("object")
            | local_name!("ol")
            | local_name!("p")
            | local_name!("param")
            | local_name!("plaintext")
            | local_name!("pre")
            | local_name!("script")
            | local_name!("section")
            | local_name!("select")
            | local_name!("source")
            | local_name!("style")
            | local_name!("summary")
            | local_name!("table")
            | local_name!("tbody")
            | local_name!("td")
            | local_name!("template")
            | local_name!("textarea")
            | local_name!("tfoot")
            | local_name!("th")
            | local_name!("thead")
            | local_name!("title")
            | local_name!("tr")
            | local_name!("track")
            | local_name!("ul")
            | local_name!("wbr")
            | local_name!("xmp")
    )
}

/// `cursory_implied_end` in html5ever.
fn is_implied_end(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("dd")
            | local_name!("dt")
            | local_name!("li")
            | local_name!("option")
            | local_name!("optgroup")
            | local_name!("p")
            | local_name!("rb")
            | local_name!("rp")
            | local_name!("rt")
            | local_name!("rtc")
    )
}

fn is_heading(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("h1")
            | local_name!("h2")
            | local_name!("h3")
            | local_name!("h4")
            | local_name!("h5")
            | local_name!("h6")
    )
}

/// SVG elements whose content is HTML (`svg_html_integration_point`).
fn is_svg_integration_point(open: &Open) -> bool {
    open.ns == Ns::Svg
        && matches!(
            open.name,
            local_name!("foreignObject") | local_name!("desc") | local_name!("title")
        )
}

fn is_scope_boundary(scope: Scope, open: &Open) -> bool {
    let Some(name) = open.html() else {
        // Foreign elements: only the SVG integration points bound the scopes that
        // include the default scope.
        return scope != Scope::Table && is_svg_integration_point(open);
    };
    let default = matches!(
        *name,
        local_name!("applet")
            | local_name!("caption")
            | local_name!("html")
            | local_name!("table")
            | local_name!("td")
            | local_name!("th")
            | local_name!("marquee")
            | local_name!("object")
            | local_name!("select")
            | local_name!("template")
    );
    match scope {
        Scope::Default => default,
        Scope::ListItem => default || matches!(*name, local_name!("ol") | local_name!("ul")),
        Scope::Button => default || *name == local_name!("button"),
        Scope::Table => matches!(
            *name,
            local_name!("html") | local_name!("table") | local_name!("template")
        ),
    }
}

impl<'s> Builder<'s> {
    fn new(src: &'s str) -> Builder<'s> {
        // About one node per 45 bytes of markup on real pages.
        let tree = Tree::with_capacity(Node::Document, src.len() / 45 + 16);
        let doc = tree.root().id();
        Builder {
            src,
            pos: 0,
            tree,
            doc,
            stack: Vec::with_capacity(32),
            formatting: Vec::new(),
            mode: Mode::Initial,
            orig_mode: Mode::InBody,
            head: None,
            form: None,
            quirks: QuirksMode::NoQuirks,
            ignore_lf: false,
            buf: String::new(),
        }
    }

    fn bail<T>(&self, reason: &'static str) -> R<T> {
        Err(Unsupported {
            reason,
            at: self.pos,
        })
    }

    // ----------------------------------------------------------------------------
    // Tokenizer
    // ----------------------------------------------------------------------------

    fn run(&mut self) -> R<()> {
        let src = self.src;
        let bytes = src.as_bytes();
        let mut text = std::mem::take(&mut self.buf);
        loop {
            // Data state: text up to the next tag, comment or declaration.
            text.clear();
            let mut markup = false;
            while self.pos < bytes.len() {
                let Some(offset) = memchr::memchr2(b'<', b'&', &bytes[self.pos..]) else {
                    text.push_str(&src[self.pos..]);
                    self.pos = bytes.len();
                    break;
                };
                text.push_str(&src[self.pos..self.pos + offset]);
                self.pos += offset;
                if bytes[self.pos] == b'&' {
                    self.pos = self.char_ref(self.pos + 1, false, &mut text)?;
                    continue;
                }
                match bytes.get(self.pos + 1) {
                    Some(b) if b.is_ascii_alphabetic() || matches!(b, b'/' | b'!' | b'?') => {
                        markup = true;
                        break;
                    }
                    _ => {
                        text.push('<');
                        self.pos += 1;
                    }
                }
            }
            if !text.is_empty() {
                self.characters(&text)?;
            }
            if !markup {
                break;
            }
            self.markup(&mut text)?;
        }
        self.buf = text;
        self.eof()
    }

    /// One `<…` construct at `self.pos`.
    fn markup(&mut self, text: &mut String) -> R<()> {
        let src = self.src;
        let bytes = src.as_bytes();
        let at = self.pos;
        match bytes[at + 1] {
            b'!' => {
                if src[at..].starts_with("<!--") {
                    return self.comment(at + 4);
                }
                if bytes.len() >= at + 9 && bytes[at + 2..at + 9].eq_ignore_ascii_case(b"doctype") {
                    return self.doctype(at + 9);
                }
                if src[at..].starts_with("<![CDATA[") {
                    return self.bail("CDATA section");
                }
                self.bogus_comment(at + 2)
            }
            b'?' => self.bogus_comment(at + 1),
            b'/' => match bytes.get(at + 2) {
                Some(b) if b.is_ascii_alphabetic() => {
                    let tag = self.tag(at + 2, true)?;
                    self.token_seen();
                    self.end_tag(tag)
                }
                Some(b'>') => {
                    // `</>`: dropped (a parse error; it still ends `ignore_lf`).
                    self.pos = at + 3;
                    self.ignore_lf = false;
                    Ok(())
                }
                Some(_) => self.bogus_comment(at + 2),
                None => {
                    self.pos = bytes.len();
                    self.characters("</")
                }
            },
            _ => {
                let tag = self.tag(at + 1, false)?;
                self.token_seen();
                match self.start_tag(tag)? {
                    After::Continue => Ok(()),
                    After::Raw(kind, name) => self.raw_text(kind, &name, text),
                }
            }
        }
    }

    /// Clears `ignore_lf` for a token that is not text (html5ever drops the flag on
    /// every token).
    fn token_seen(&mut self) {
        self.ignore_lf = false;
    }

    /// After a start tag that sets `ignore_lf`: drop a `\n` that follows it directly.
    /// A character reference there could be preceded by a parse error (which resets
    /// the flag in html5ever), so that case is left to html5ever.
    fn after_ignore_lf_tag(&mut self) -> R<()> {
        match self.src.as_bytes().get(self.pos) {
            Some(b'\n') => {
                self.pos += 1;
                self.ignore_lf = false;
                Ok(())
            }
            Some(b'&') => self.bail("character reference after <pre>"),
            _ => {
                self.ignore_lf = false;
                Ok(())
            }
        }
    }

    /// `<!--` … `-->` starting after `<!--` at `from`.
    fn comment(&mut self, from: usize) -> R<()> {
        let src = self.src;
        let rest = &src[from..];
        let (content, end) = if rest.starts_with('>') {
            ("", from + 1)
        } else if rest.starts_with("->") {
            ("", from + 2)
        } else {
            let close = memchr::memmem::find(rest.as_bytes(), b"-->");
            let bang = memchr::memmem::find(rest.as_bytes(), b"--!>");
            match (close, bang) {
                (Some(c), Some(b)) if b < c => (&rest[..b], from + b + 4),
                (Some(c), _) => (&rest[..c], from + c + 3),
                (None, Some(b)) => (&rest[..b], from + b + 4),
                (None, None) => return self.bail("unclosed comment"),
            }
        };
        self.pos = end;
        self.token_seen();
        self.comment_token(content)
    }

    /// `<!…>`, `<?…>`, `</3…>`: a comment up to the next `>`.
    fn bogus_comment(&mut self, from: usize) -> R<()> {
        let src = self.src;
        let (content, end) = match memchr::memchr(b'>', &src.as_bytes()[from..]) {
            Some(offset) => (&src[from..from + offset], from + offset + 1),
            None => (&src[from..], src.len()),
        };
        self.pos = end;
        self.token_seen();
        self.comment_token(content)
    }

    /// `<!DOCTYPE …>` after the keyword at `from`. Only the usual shapes.
    fn doctype(&mut self, from: usize) -> R<()> {
        let src = self.src;
        let bytes = src.as_bytes();
        let Some(offset) = memchr::memchr(b'>', &bytes[from..]) else {
            return self.bail("unclosed DOCTYPE");
        };
        let inner = &src[from..from + offset];
        self.pos = from + offset + 1;
        self.token_seen();
        let Some(doctype) = parse_doctype(inner) else {
            return self.bail("unusual DOCTYPE");
        };
        if self.mode != Mode::Initial {
            // A DOCTYPE anywhere else is ignored.
            return Ok(());
        }
        self.quirks = doctype_quirks(&doctype);
        let node = Node::Doctype(Doctype {
            name: StrTendril::from_slice(doctype.name),
            public_id: StrTendril::from_slice(doctype.public.unwrap_or("")),
            system_id: StrTendril::from_slice(doctype.system.unwrap_or("")),
        });
        self.node(self.doc)?.append(node);
        self.mode = Mode::BeforeHtml;
        Ok(())
    }

    /// A start or end tag whose name starts at `from`; `self.pos` ends after it.
    fn tag(&mut self, from: usize, end: bool) -> R<Tag> {
        let src = self.src;
        let bytes = src.as_bytes();
        let mut at = from;
        while at < bytes.len() && !matches!(bytes[at], b'\t' | b'\n' | b'\x0C' | b' ' | b'/' | b'>')
        {
            at += 1;
        }
        if at >= bytes.len() {
            return self.bail("tag at end of input");
        }
        let name = lower_atom(&src[from..at]);
        let mut tag = Tag {
            name,
            attrs: Vec::new(),
            self_closing: false,
        };
        // Before attribute name.
        loop {
            while at < bytes.len() && is_space(bytes[at]) {
                at += 1;
            }
            let Some(&byte) = bytes.get(at) else {
                return self.bail("tag at end of input");
            };
            match byte {
                b'>' => {
                    self.pos = at + 1;
                    return Ok(tag);
                }
                b'/' => {
                    // Self-closing start tag state.
                    match bytes.get(at + 1) {
                        Some(b'>') => {
                            tag.self_closing = true;
                            self.pos = at + 2;
                            return Ok(tag);
                        }
                        Some(_) => {
                            at += 1;
                            continue;
                        }
                        None => return self.bail("tag at end of input"),
                    }
                }
                _ => {}
            }
            // Attribute name: the first character may be `=`.
            let name_start = at;
            at += 1;
            while at < bytes.len()
                && !matches!(
                    bytes[at],
                    b'\t' | b'\n' | b'\x0C' | b' ' | b'/' | b'>' | b'='
                )
            {
                at += 1;
            }
            let name_end = at;
            // After attribute name.
            while at < bytes.len() && is_space(bytes[at]) {
                at += 1;
            }
            let mut value: Option<StrTendril> = None;
            if bytes.get(at) == Some(&b'=') {
                at += 1;
                while at < bytes.len() && is_space(bytes[at]) {
                    at += 1;
                }
                match bytes.get(at) {
                    None => return self.bail("tag at end of input"),
                    Some(&quote @ (b'"' | b'\'')) => {
                        let start = at + 1;
                        let Some(offset) = memchr::memchr(quote, &bytes[start..]) else {
                            return self.bail("tag at end of input");
                        };
                        let raw = &src[start..start + offset];
                        value = Some(self.attr_value(raw, start)?);
                        at = start + offset + 1;
                        // After attribute value (quoted): anything but space, `/` or
                        // `>` starts the next attribute directly (a parse error).
                    }
                    Some(b'>') => {
                        // Missing value: the attribute is empty and the tag ends.
                        value = Some(StrTendril::new());
                    }
                    Some(_) => {
                        let start = at;
                        while at < bytes.len()
                            && !matches!(bytes[at], b'\t' | b'\n' | b'\x0C' | b' ' | b'>')
                        {
                            at += 1;
                        }
                        if at >= bytes.len() {
                            return self.bail("tag at end of input");
                        }
                        value = Some(self.attr_value(&src[start..at], start)?);
                    }
                }
            }
            if !end {
                let name = lower_atom(&src[name_start..name_end]);
                if !tag.attrs.iter().any(|attr| attr.name.local == name) {
                    tag.attrs.push(Attribute {
                        name: QualName::new(None, ns!(), name),
                        value: value.unwrap_or_default(),
                    });
                }
            }
        }
    }

    /// An attribute value with its character references decoded.
    fn attr_value(&mut self, raw: &str, start: usize) -> R<StrTendril> {
        if memchr::memchr(b'&', raw.as_bytes()).is_none() {
            return Ok(StrTendril::from_slice(raw));
        }
        // Decode within `raw` only: a reference cannot run past the value's end.
        let mut out = String::with_capacity(raw.len());
        let bytes = raw.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            let Some(offset) = memchr::memchr(b'&', &bytes[at..]) else {
                out.push_str(&raw[at..]);
                break;
            };
            out.push_str(&raw[at..at + offset]);
            at = decode_char_ref(raw, at + offset + 1, true, &mut out).map_err(|reason| {
                Unsupported {
                    reason,
                    at: start + at,
                }
            })?;
        }
        Ok(StrTendril::from_slice(&out))
    }

    /// A character reference in text, after the `&` at `from - 1`.
    fn char_ref(&mut self, from: usize, in_attribute: bool, out: &mut String) -> R<usize> {
        if self.ignore_lf && out.is_empty() {
            return self.bail("character reference after <pre>");
        }
        decode_char_ref(self.src, from, in_attribute, out)
            .map_err(|reason| Unsupported { reason, at: from })
    }

    /// The content of a RAWTEXT, RCDATA or script element, and its end tag.
    fn raw_text(&mut self, kind: Raw, name: &LocalName, text: &mut String) -> R<()> {
        let src = self.src;
        let bytes = src.as_bytes();
        let start = self.pos;
        let name_bytes = name.as_bytes();
        // The first `</name` followed by a space, `/` or `>`.
        let mut search = start;
        let end = loop {
            let Some(offset) = memchr::memmem::find(&bytes[search..], b"</") else {
                break None;
            };
            let candidate = search + offset;
            let name_end = candidate + 2 + name_bytes.len();
            if name_end < bytes.len()
                && bytes[candidate + 2..name_end].eq_ignore_ascii_case(name_bytes)
                && matches!(
                    bytes[name_end],
                    b'\t' | b'\n' | b'\x0C' | b' ' | b'/' | b'>'
                )
            {
                break Some(candidate);
            }
            search = candidate + 2;
        };
        let content_end = end.unwrap_or(bytes.len());
        let content = &src[start..content_end];
        if kind == Raw::Script && memchr::memmem::find(content.as_bytes(), b"<!--").is_some() {
            // Escaped script data: `<!--<script>` would hide the end tag.
            let lower = content.to_ascii_lowercase();
            if lower.contains("<script") {
                return self.bail("escaped script data");
            }
        }
        let mut content = content;
        if self.ignore_lf {
            match content.as_bytes().first() {
                Some(b'\n') => content = &content[1..],
                Some(b'&') if kind == Raw::Rcdata => {
                    return self.bail("character reference after <textarea>");
                }
                _ => {}
            }
            self.ignore_lf = false;
        }
        if kind == Raw::Rcdata && memchr::memchr(b'&', content.as_bytes()).is_some() {
            text.clear();
            let cbytes = content.as_bytes();
            let mut at = 0;
            while at < cbytes.len() {
                let Some(offset) = memchr::memchr(b'&', &cbytes[at..]) else {
                    text.push_str(&content[at..]);
                    break;
                };
                text.push_str(&content[at..at + offset]);
                at = decode_char_ref(content, at + offset + 1, false, text).map_err(|reason| {
                    Unsupported {
                        reason,
                        at: start + at,
                    }
                })?;
            }
            if !text.is_empty() {
                self.text_mode_characters(text)?;
            }
        } else if !content.is_empty() {
            self.text_mode_characters(content)?;
        }
        self.pos = content_end;
        if end.is_some() {
            // The end tag's attributes, if any, are read and dropped.
            self.tag(content_end + 2, true)?;
            self.token_seen();
            // Text mode: any end tag closes the element.
            self.pop()?;
            self.mode = self.orig_mode;
        }
        Ok(())
    }

    fn text_mode_characters(&mut self, text: &str) -> R<()> {
        let target = self.current()?.id;
        self.append_text(target, text)
    }

    // ----------------------------------------------------------------------------
    // Tree operations
    // ----------------------------------------------------------------------------

    fn node(&mut self, id: NodeId) -> R<ego_tree::NodeMut<'_, Node>> {
        match self.tree.get_mut(id) {
            Some(node) => Ok(node),
            None => Err(Unsupported {
                reason: "internal: unknown node",
                at: self.pos,
            }),
        }
    }

    fn current(&self) -> R<&Open> {
        match self.stack.last() {
            Some(open) => Ok(open),
            None => self.bail("internal: empty stack"),
        }
    }

    fn current_is(&self, name: &LocalName) -> bool {
        self.stack.last().is_some_and(|open| open.is(name))
    }

    fn append_text(&mut self, parent: NodeId, text: &str) -> R<()> {
        let mut node = self.node(parent)?;
        if let Some(mut last) = node.last_child()
            && let Node::Text(existing) = last.value()
        {
            existing.text.push_slice(text);
            return Ok(());
        }
        node.append(Node::Text(Text {
            text: StrTendril::from_slice(text),
        }));
        Ok(())
    }

    fn append_comment(&mut self, parent: NodeId, text: &str) -> R<()> {
        self.node(parent)?.append(Node::Comment(Comment {
            comment: StrTendril::from_slice(text),
        }));
        Ok(())
    }

    /// Creates an element as the last child of the current node; `push` puts it on
    /// the stack of open elements.
    fn insert(&mut self, ns: Ns, name: LocalName, attrs: Vec<Attribute>, push: bool) -> R<NodeId> {
        let parent = self.current()?.id;
        self.insert_into(parent, ns, name, attrs, push)
    }

    fn insert_into(
        &mut self,
        parent: NodeId,
        ns: Ns,
        name: LocalName,
        attrs: Vec<Attribute>,
        push: bool,
    ) -> R<NodeId> {
        let namespace: Namespace = match ns {
            Ns::Html => ns!(html),
            Ns::Svg => ns!(svg),
        };
        let element = Element::new(QualName::new(None, namespace, name.clone()), attrs);
        let id = self.node(parent)?.append(Node::Element(element)).id();
        if push {
            self.stack.push(Open { id, name, ns });
        }
        Ok(id)
    }

    fn insert_tag(&mut self, tag: Tag, push: bool) -> R<NodeId> {
        self.insert(Ns::Html, tag.name, tag.attrs, push)
    }

    fn insert_phantom(&mut self, name: LocalName) -> R<NodeId> {
        self.insert(Ns::Html, name, Vec::new(), true)
    }

    fn pop(&mut self) -> R<Open> {
        match self.stack.pop() {
            Some(open) => Ok(open),
            None => self.bail("internal: empty stack"),
        }
    }

    /// Adds the attributes an element does not have yet (`<html>`/`<body>` again).
    fn add_attrs_if_missing(&mut self, id: NodeId, attrs: Vec<Attribute>) -> R<()> {
        let mut node = self.node(id)?;
        let Node::Element(element) = node.value() else {
            return Ok(());
        };
        for attr in attrs {
            if let Err(index) = element
                .attrs
                .binary_search_by(|(name, _)| name.cmp(&attr.name))
            {
                element.attrs.insert(index, (attr.name, attr.value));
            }
        }
        Ok(())
    }

    fn in_scope(&self, scope: Scope, pred: impl Fn(&Open) -> bool) -> bool {
        for open in self.stack.iter().rev() {
            if pred(open) {
                return true;
            }
            if is_scope_boundary(scope, open) {
                return false;
            }
        }
        false
    }

    fn in_scope_named(&self, scope: Scope, name: &LocalName) -> bool {
        self.in_scope(scope, |open| open.is(name))
    }

    fn generate_implied_end(&mut self, except: Option<&LocalName>) {
        while let Some(open) = self.stack.last() {
            match open.html() {
                Some(name) if is_implied_end(name) && Some(name) != except => {
                    self.stack.pop();
                }
                _ => return,
            }
        }
    }

    /// Pops up to and including the first element (from the top) that `pred` accepts.
    fn pop_until(&mut self, pred: impl Fn(&Open) -> bool) {
        while let Some(open) = self.stack.pop() {
            if pred(&open) {
                return;
            }
        }
    }

    fn pop_until_named(&mut self, name: &LocalName) {
        self.pop_until(|open| open.is(name));
    }

    /// Pops until the current node is one of `names` (or `html`, `template`).
    fn pop_until_current(&mut self, names: &[LocalName]) {
        while let Some(open) = self.stack.last() {
            if let Some(name) = open.html()
                && (names.contains(name)
                    || matches!(*name, local_name!("html") | local_name!("template")))
            {
                return;
            }
            self.stack.pop();
        }
    }

    fn close_p(&mut self) {
        self.generate_implied_end(Some(&local_name!("p")));
        self.pop_until_named(&local_name!("p"));
    }

    fn close_p_in_button_scope(&mut self) {
        if self.in_scope_named(Scope::Button, &local_name!("p")) {
            self.close_p();
        }
    }

    fn in_stack(&self, id: NodeId) -> bool {
        self.stack.iter().any(|open| open.id == id)
    }

    fn has_template(&self) -> bool {
        self.stack
            .iter()
            .any(|open| open.is(&local_name!("template")))
    }

    /// Reconstructing active formatting elements: nothing to do, or give up.
    fn reconstruct(&self) -> R<()> {
        match self.formatting.last() {
            None | Some(Formatting::Marker) => Ok(()),
            Some(Formatting::Element(id, _)) if self.in_stack(*id) => Ok(()),
            Some(Formatting::Element(..)) => self.bail("formatting element to reconstruct"),
        }
    }

    fn clear_formatting_to_marker(&mut self) {
        while let Some(entry) = self.formatting.pop() {
            if matches!(entry, Formatting::Marker) {
                return;
            }
        }
    }

    fn push_formatting(&mut self, tag: Tag) -> R<()> {
        // Three equal entries would make the parser drop the oldest ("Noah's Ark");
        // same-named ones are counted, which is stricter.
        let same = self
            .formatting
            .iter()
            .rev()
            .take_while(|entry| matches!(entry, Formatting::Element(..)))
            .filter(|entry| matches!(entry, Formatting::Element(_, name) if *name == tag.name))
            .count();
        if same >= 3 {
            return self.bail("many nested formatting elements");
        }
        let name = tag.name.clone();
        let id = self.insert_tag(tag, true)?;
        self.formatting.push(Formatting::Element(id, name));
        Ok(())
    }

    // ----------------------------------------------------------------------------
    // Tree construction
    // ----------------------------------------------------------------------------

    fn comment_token(&mut self, text: &str) -> R<()> {
        let target = match self.mode {
            Mode::Initial | Mode::BeforeHtml | Mode::AfterAfterBody => self.doc,
            Mode::AfterBody => match self.stack.first() {
                Some(html) => html.id,
                None => return self.bail("internal: no html element"),
            },
            _ => self.current()?.id,
        };
        self.append_comment(target, text)
    }

    fn characters(&mut self, text: &str) -> R<()> {
        let mut text = text;
        if self.ignore_lf {
            self.ignore_lf = false;
            if let Some(rest) = text.strip_prefix('\n') {
                text = rest;
            }
        }
        loop {
            if text.is_empty() {
                return Ok(());
            }
            let ws = text
                .as_bytes()
                .iter()
                .position(|b| !is_ascii_ws(*b))
                .unwrap_or(text.len());
            match self.mode {
                Mode::Initial | Mode::BeforeHtml | Mode::BeforeHead => {
                    text = &text[ws..];
                    if text.is_empty() {
                        return Ok(());
                    }
                    self.anything_else()?;
                }
                Mode::InHead | Mode::AfterHead => {
                    if ws > 0 {
                        let target = self.current()?.id;
                        self.append_text(target, &text[..ws])?;
                        text = &text[ws..];
                        continue;
                    }
                    self.anything_else()?;
                }
                Mode::InBody | Mode::InCaption | Mode::InCell => {
                    self.reconstruct()?;
                    let target = self.current()?.id;
                    return self.append_text(target, text);
                }
                Mode::Text => return self.text_mode_characters(text),
                Mode::InTable | Mode::InTableBody | Mode::InRow => {
                    let in_table = self.stack.last().and_then(Open::html).is_some_and(|name| {
                        matches!(
                            *name,
                            local_name!("table")
                                | local_name!("tbody")
                                | local_name!("tfoot")
                                | local_name!("thead")
                                | local_name!("tr")
                        )
                    });
                    if !in_table || ws < text.len() {
                        return self.bail("foster parenting");
                    }
                    let target = self.current()?.id;
                    return self.append_text(target, text);
                }
                Mode::InColumnGroup => {
                    if ws < text.len() {
                        return self.bail("text in <colgroup>");
                    }
                    let target = self.current()?.id;
                    return self.append_text(target, text);
                }
                Mode::AfterBody | Mode::AfterAfterBody => {
                    if ws > 0 {
                        self.reconstruct()?;
                        let target = self.current()?.id;
                        self.append_text(target, &text[..ws])?;
                        text = &text[ws..];
                        continue;
                    }
                    self.mode = Mode::InBody;
                }
            }
        }
    }

    /// The "anything else" step of the modes before `<body>`: create what is implied
    /// and move to the next mode.
    fn anything_else(&mut self) -> R<()> {
        match self.mode {
            Mode::Initial => {
                self.quirks = QuirksMode::Quirks;
                self.mode = Mode::BeforeHtml;
            }
            Mode::BeforeHtml => {
                self.create_root(Vec::new())?;
            }
            Mode::BeforeHead => {
                self.head = Some(self.insert_phantom(local_name!("head"))?);
                self.mode = Mode::InHead;
            }
            Mode::InHead => {
                self.pop()?;
                self.mode = Mode::AfterHead;
            }
            Mode::AfterHead => {
                self.insert_phantom(local_name!("body"))?;
                self.mode = Mode::InBody;
            }
            _ => return self.bail("internal: anything else"),
        }
        Ok(())
    }

    fn create_root(&mut self, attrs: Vec<Attribute>) -> R<()> {
        let doc = self.doc;
        self.insert_into(doc, Ns::Html, local_name!("html"), attrs, true)?;
        self.mode = Mode::BeforeHead;
        Ok(())
    }

    fn eof(&mut self) -> R<()> {
        loop {
            match self.mode {
                Mode::Initial
                | Mode::BeforeHtml
                | Mode::BeforeHead
                | Mode::InHead
                | Mode::AfterHead => self.anything_else()?,
                Mode::Text => {
                    self.pop()?;
                    self.mode = self.orig_mode;
                }
                _ => return Ok(()),
            }
        }
    }

    fn start_tag(&mut self, tag: Tag) -> R<After> {
        if self.foreign_current() {
            return self.foreign_start_tag(tag);
        }
        loop {
            match self.mode {
                Mode::Initial => {
                    self.anything_else()?;
                }
                Mode::BeforeHtml => {
                    if tag.name == local_name!("html") {
                        self.create_root(tag.attrs)?;
                        return Ok(After::Continue);
                    }
                    self.anything_else()?;
                }
                Mode::BeforeHead => match tag.name {
                    local_name!("html") => return self.body_start_tag(tag),
                    local_name!("head") => {
                        self.head = Some(self.insert_tag(tag, true)?);
                        self.mode = Mode::InHead;
                        return Ok(After::Continue);
                    }
                    _ => self.anything_else()?,
                },
                Mode::InHead => {
                    if let Some(after) = self.head_start_tag(&tag)? {
                        return self.head_element(tag, after);
                    }
                    match tag.name {
                        local_name!("html") => return self.body_start_tag(tag),
                        local_name!("head") => return Ok(After::Continue),
                        _ => self.anything_else()?,
                    }
                }
                Mode::AfterHead => match tag.name {
                    local_name!("html") => return self.body_start_tag(tag),
                    local_name!("body") => {
                        self.insert_tag(tag, true)?;
                        self.mode = Mode::InBody;
                        return Ok(After::Continue);
                    }
                    local_name!("frameset") => return self.bail("<frameset>"),
                    local_name!("head") => return Ok(After::Continue),
                    // `<noscript>` is not one of the head elements "after head" takes.
                    local_name!("noscript") => self.anything_else()?,
                    _ => {
                        if let Some(after) = self.head_start_tag(&tag)? {
                            // Into the head element, which is not on the stack.
                            let Some(head) = self.head else {
                                return self.bail("internal: no head");
                            };
                            return self.head_element_into(head, tag, after);
                        }
                        self.anything_else()?;
                    }
                },
                Mode::InBody | Mode::AfterBody | Mode::AfterAfterBody => {
                    if self.mode != Mode::InBody && tag.name != local_name!("html") {
                        self.mode = Mode::InBody;
                    }
                    return self.body_start_tag(tag);
                }
                Mode::Text => return self.bail("internal: tag in text mode"),
                Mode::InTable => return self.table_start_tag(tag),
                Mode::InCaption => {
                    if is_table_part(&tag.name) {
                        if !self.in_scope_named(Scope::Table, &local_name!("caption")) {
                            return Ok(After::Continue);
                        }
                        self.close_caption();
                        self.mode = Mode::InTable;
                        continue;
                    }
                    return self.body_start_tag(tag);
                }
                Mode::InColumnGroup => match tag.name {
                    local_name!("html") => return self.body_start_tag(tag),
                    local_name!("col") => {
                        self.insert_tag(tag, false)?;
                        return Ok(After::Continue);
                    }
                    local_name!("template") => return self.bail("<template>"),
                    _ => {
                        if !self.current_is(&local_name!("colgroup")) {
                            return Ok(After::Continue);
                        }
                        self.pop()?;
                        self.mode = Mode::InTable;
                    }
                },
                Mode::InTableBody => match tag.name {
                    local_name!("tr") => {
                        self.pop_until_current(&TABLE_BODY_CONTEXT);
                        self.insert_tag(tag, true)?;
                        self.mode = Mode::InRow;
                        return Ok(After::Continue);
                    }
                    local_name!("th") | local_name!("td") => {
                        self.pop_until_current(&TABLE_BODY_CONTEXT);
                        self.insert_phantom(local_name!("tr"))?;
                        self.mode = Mode::InRow;
                    }
                    local_name!("caption")
                    | local_name!("col")
                    | local_name!("colgroup")
                    | local_name!("tbody")
                    | local_name!("tfoot")
                    | local_name!("thead") => {
                        if !self.table_body_in_scope() {
                            return Ok(After::Continue);
                        }
                        self.pop_until_current(&TABLE_BODY_CONTEXT);
                        self.pop()?;
                        self.mode = Mode::InTable;
                    }
                    _ => return self.table_start_tag(tag),
                },
                Mode::InRow => match tag.name {
                    local_name!("th") | local_name!("td") => {
                        self.pop_until_current(&TABLE_ROW_CONTEXT);
                        self.insert_tag(tag, true)?;
                        self.mode = Mode::InCell;
                        self.formatting.push(Formatting::Marker);
                        return Ok(After::Continue);
                    }
                    local_name!("caption")
                    | local_name!("col")
                    | local_name!("colgroup")
                    | local_name!("tbody")
                    | local_name!("tfoot")
                    | local_name!("thead")
                    | local_name!("tr") => {
                        if !self.in_scope_named(Scope::Table, &local_name!("tr")) {
                            return Ok(After::Continue);
                        }
                        self.close_row()?;
                        self.mode = Mode::InTableBody;
                    }
                    _ => return self.table_start_tag(tag),
                },
                Mode::InCell => {
                    if is_table_part(&tag.name) {
                        let cell_in_scope = self.in_scope(Scope::Table, |open| {
                            open.is(&local_name!("td")) || open.is(&local_name!("th"))
                        });
                        if !cell_in_scope {
                            return Ok(After::Continue);
                        }
                        self.close_cell();
                        self.mode = Mode::InRow;
                        continue;
                    }
                    return self.body_start_tag(tag);
                }
            }
        }
    }

    /// The start tags "in head" handles itself: `Some` when `tag` is one of them.
    fn head_start_tag(&self, tag: &Tag) -> R<Option<Option<Raw>>> {
        Ok(Some(match tag.name {
            local_name!("base")
            | local_name!("basefont")
            | local_name!("bgsound")
            | local_name!("link")
            | local_name!("meta") => None,
            local_name!("title") => Some(Raw::Rcdata),
            local_name!("noframes") | local_name!("style") | local_name!("noscript") => {
                Some(Raw::Rawtext)
            }
            local_name!("script") => Some(Raw::Script),
            local_name!("template") => return self.bail("<template>"),
            _ => return Ok(None),
        }))
    }

    /// Inserts an element of the head kinds at the current node.
    fn head_element(&mut self, tag: Tag, raw: Option<Raw>) -> R<After> {
        let parent = self.current()?.id;
        self.head_element_into(parent, tag, raw)
    }

    fn head_element_into(&mut self, parent: NodeId, tag: Tag, raw: Option<Raw>) -> R<After> {
        match raw {
            None => {
                self.insert_into(parent, Ns::Html, tag.name, tag.attrs, false)?;
                Ok(After::Continue)
            }
            Some(kind) => {
                let name = tag.name.clone();
                self.insert_into(parent, Ns::Html, tag.name, tag.attrs, true)?;
                self.orig_mode = self.mode;
                self.mode = Mode::Text;
                Ok(After::Raw(kind, name))
            }
        }
    }

    fn raw(&mut self, tag: Tag, kind: Raw) -> R<After> {
        let name = tag.name.clone();
        self.insert_tag(tag, true)?;
        self.orig_mode = self.mode;
        self.mode = Mode::Text;
        Ok(After::Raw(kind, name))
    }

    /// "In body" start tags (also reached from other modes).
    fn body_start_tag(&mut self, tag: Tag) -> R<After> {
        match tag.name {
            local_name!("html") => {
                if !self.has_template()
                    && let Some(html) = self.stack.first().map(|open| open.id)
                {
                    self.add_attrs_if_missing(html, tag.attrs)?;
                }
            }
            local_name!("base")
            | local_name!("basefont")
            | local_name!("bgsound")
            | local_name!("link")
            | local_name!("meta") => {
                self.insert_tag(tag, false)?;
            }
            local_name!("title") => return self.raw(tag, Raw::Rcdata),
            local_name!("noframes") | local_name!("style") | local_name!("noscript") => {
                return self.raw(tag, Raw::Rawtext);
            }
            local_name!("script") => return self.raw(tag, Raw::Script),
            local_name!("template") => return self.bail("<template>"),
            local_name!("body") => {
                let body = self
                    .stack
                    .get(1)
                    .filter(|open| open.is(&local_name!("body")))
                    .map(|open| open.id);
                if let Some(body) = body
                    && self.stack.len() != 1
                    && !self.has_template()
                {
                    self.add_attrs_if_missing(body, tag.attrs)?;
                }
            }
            local_name!("frameset") => return self.bail("<frameset>"),
            local_name!("address")
            | local_name!("article")
            | local_name!("aside")
            | local_name!("blockquote")
            | local_name!("center")
            | local_name!("details")
            | local_name!("dialog")
            | local_name!("dir")
            | local_name!("div")
            | local_name!("dl")
            | local_name!("fieldset")
            | local_name!("figcaption")
            | local_name!("figure")
            | local_name!("footer")
            | local_name!("header")
            | local_name!("hgroup")
            | local_name!("main")
            | local_name!("nav")
            | local_name!("ol")
            | local_name!("p")
            | local_name!("search")
            | local_name!("section")
            | local_name!("summary")
            | local_name!("ul")
            | local_name!("menu") => {
                self.close_p_in_button_scope();
                self.insert_tag(tag, true)?;
            }
            local_name!("h1")
            | local_name!("h2")
            | local_name!("h3")
            | local_name!("h4")
            | local_name!("h5")
            | local_name!("h6") => {
                self.close_p_in_button_scope();
                if self
                    .stack
                    .last()
                    .and_then(Open::html)
                    .is_some_and(is_heading)
                {
                    self.pop()?;
                }
                self.insert_tag(tag, true)?;
            }
            local_name!("pre") | local_name!("listing") => {
                self.close_p_in_button_scope();
                self.insert_tag(tag, true)?;
                self.ignore_lf = true;
                self.after_ignore_lf_tag()?;
            }
            local_name!("form") => {
                if self.form.is_none() || self.has_template() {
                    if self.has_template() {
                        return self.bail("<template>");
                    }
                    self.close_p_in_button_scope();
                    let id = self.insert_tag(tag, true)?;
                    self.form = Some(id);
                }
            }
            local_name!("li") | local_name!("dd") | local_name!("dt") => {
                let list = tag.name == local_name!("li");
                let mut to_close = None;
                for open in self.stack.iter().rev() {
                    let closes = match open.html() {
                        Some(name) if list => *name == local_name!("li"),
                        Some(name) => matches!(*name, local_name!("dd") | local_name!("dt")),
                        None => false,
                    };
                    if closes {
                        to_close = Some(open.name.clone());
                        break;
                    }
                    if is_special(open)
                        && !matches!(
                            open.name,
                            local_name!("address") | local_name!("div") | local_name!("p")
                        )
                    {
                        break;
                    }
                }
                if let Some(name) = to_close {
                    self.generate_implied_end(Some(&name));
                    self.pop_until_named(&name);
                }
                self.close_p_in_button_scope();
                self.insert_tag(tag, true)?;
            }
            local_name!("plaintext") => return self.bail("<plaintext>"),
            local_name!("button") => {
                if self.in_scope_named(Scope::Default, &local_name!("button")) {
                    self.generate_implied_end(None);
                    self.pop_until_named(&local_name!("button"));
                }
                self.reconstruct()?;
                self.insert_tag(tag, true)?;
            }
            local_name!("a") => {
                let open_a = self
                    .formatting
                    .iter()
                    .rev()
                    .take_while(|entry| matches!(entry, Formatting::Element(..)))
                    .any(|entry| {
                        matches!(entry, Formatting::Element(_, name) if *name == local_name!("a"))
                    });
                if open_a {
                    return self.bail("nested <a>");
                }
                self.reconstruct()?;
                self.push_formatting(tag)?;
            }
            local_name!("b")
            | local_name!("big")
            | local_name!("code")
            | local_name!("em")
            | local_name!("font")
            | local_name!("i")
            | local_name!("s")
            | local_name!("small")
            | local_name!("strike")
            | local_name!("strong")
            | local_name!("tt")
            | local_name!("u") => {
                self.reconstruct()?;
                self.push_formatting(tag)?;
            }
            local_name!("nobr") => {
                self.reconstruct()?;
                if self.in_scope_named(Scope::Default, &local_name!("nobr")) {
                    return self.bail("nested <nobr>");
                }
                self.push_formatting(tag)?;
            }
            local_name!("applet") | local_name!("marquee") | local_name!("object") => {
                self.reconstruct()?;
                self.insert_tag(tag, true)?;
                self.formatting.push(Formatting::Marker);
            }
            local_name!("table") => {
                if self.quirks != QuirksMode::Quirks {
                    self.close_p_in_button_scope();
                }
                self.insert_tag(tag, true)?;
                self.mode = Mode::InTable;
            }
            local_name!("area")
            | local_name!("br")
            | local_name!("embed")
            | local_name!("img")
            | local_name!("keygen")
            | local_name!("wbr") => {
                self.reconstruct()?;
                self.insert_tag(tag, false)?;
            }
            local_name!("input") => {
                if self.in_scope_named(Scope::Default, &local_name!("select")) {
                    self.pop_until_named(&local_name!("select"));
                }
                self.reconstruct()?;
                self.insert_tag(tag, false)?;
            }
            local_name!("param") | local_name!("source") | local_name!("track") => {
                self.insert_tag(tag, false)?;
            }
            local_name!("hr") => {
                self.close_p_in_button_scope();
                if self.in_scope_named(Scope::Default, &local_name!("select")) {
                    self.generate_implied_end(None);
                }
                self.insert_tag(tag, false)?;
            }
            local_name!("image") => {
                let renamed = Tag {
                    name: local_name!("img"),
                    ..tag
                };
                return self.body_start_tag(renamed);
            }
            local_name!("textarea") => {
                self.ignore_lf = true;
                return self.raw(tag, Raw::Rcdata);
            }
            local_name!("xmp") => {
                self.close_p_in_button_scope();
                self.reconstruct()?;
                return self.raw(tag, Raw::Rawtext);
            }
            local_name!("iframe") | local_name!("noembed") => return self.raw(tag, Raw::Rawtext),
            local_name!("select") => {
                if self.in_scope_named(Scope::Default, &local_name!("select")) {
                    self.pop_until_named(&local_name!("select"));
                } else {
                    self.reconstruct()?;
                    self.insert_tag(tag, true)?;
                }
            }
            local_name!("option") => {
                if self.in_scope_named(Scope::Default, &local_name!("select")) {
                    self.generate_implied_end(Some(&local_name!("optgroup")));
                } else if self.current_is(&local_name!("option")) {
                    self.pop()?;
                }
                self.reconstruct()?;
                self.insert_tag(tag, true)?;
            }
            local_name!("optgroup") => {
                if self.in_scope_named(Scope::Default, &local_name!("select")) {
                    self.generate_implied_end(None);
                } else if self.current_is(&local_name!("option")) {
                    self.pop()?;
                }
                self.reconstruct()?;
                self.insert_tag(tag, true)?;
            }
            local_name!("rb") | local_name!("rtc") => {
                if self.in_scope_named(Scope::Default, &local_name!("ruby")) {
                    self.generate_implied_end(None);
                }
                self.insert_tag(tag, true)?;
            }
            local_name!("rp") | local_name!("rt") => {
                if self.in_scope_named(Scope::Default, &local_name!("ruby")) {
                    self.generate_implied_end(Some(&local_name!("rtc")));
                }
                self.insert_tag(tag, true)?;
            }
            local_name!("math") => return self.bail("<math>"),
            local_name!("svg") => {
                self.reconstruct()?;
                let mut tag = tag;
                adjust_svg_attributes(&mut tag);
                let self_closing = tag.self_closing;
                self.insert(Ns::Svg, tag.name, tag.attrs, !self_closing)?;
            }
            local_name!("caption")
            | local_name!("col")
            | local_name!("colgroup")
            | local_name!("frame")
            | local_name!("head")
            | local_name!("tbody")
            | local_name!("td")
            | local_name!("tfoot")
            | local_name!("th")
            | local_name!("thead")
            | local_name!("tr") => {}
            _ => {
                self.reconstruct()?;
                self.insert_tag(tag, true)?;
            }
        }
        Ok(After::Continue)
    }

    /// "In table" start tags.
    fn table_start_tag(&mut self, tag: Tag) -> R<After> {
        match tag.name {
            local_name!("caption") => {
                self.pop_until_current(&[local_name!("table")]);
                self.formatting.push(Formatting::Marker);
                self.insert_tag(tag, true)?;
                self.mode = Mode::InCaption;
            }
            local_name!("colgroup") => {
                self.pop_until_current(&[local_name!("table")]);
                self.insert_tag(tag, true)?;
                self.mode = Mode::InColumnGroup;
            }
            local_name!("col") => {
                self.pop_until_current(&[local_name!("table")]);
                self.insert_phantom(local_name!("colgroup"))?;
                self.mode = Mode::InColumnGroup;
                return self.start_tag(tag);
            }
            local_name!("tbody") | local_name!("tfoot") | local_name!("thead") => {
                self.pop_until_current(&[local_name!("table")]);
                self.insert_tag(tag, true)?;
                self.mode = Mode::InTableBody;
            }
            local_name!("td") | local_name!("th") | local_name!("tr") => {
                self.pop_until_current(&[local_name!("table")]);
                self.insert_phantom(local_name!("tbody"))?;
                self.mode = Mode::InTableBody;
                return self.start_tag(tag);
            }
            local_name!("table") => {
                if self.in_scope_named(Scope::Table, &local_name!("table")) {
                    self.pop_until_named(&local_name!("table"));
                    self.mode = self.reset_mode()?;
                    return self.start_tag(tag);
                }
            }
            local_name!("style") => return self.raw(tag, Raw::Rawtext),
            local_name!("script") => return self.raw(tag, Raw::Script),
            local_name!("template") => return self.bail("<template>"),
            local_name!("input")
                if tag
                    .attr("type")
                    .is_some_and(|value| value.eq_ignore_ascii_case("hidden")) =>
            {
                self.insert_tag(tag, false)?;
            }
            local_name!("form") => {
                if self.has_template() {
                    return self.bail("<template>");
                }
                if self.form.is_none() {
                    self.form = Some(self.insert_tag(tag, false)?);
                }
            }
            _ => return self.bail("foster parenting"),
        }
        Ok(After::Continue)
    }

    fn table_body_in_scope(&self) -> bool {
        self.in_scope(Scope::Table, |open| {
            open.html().is_some_and(|name| {
                matches!(
                    *name,
                    local_name!("table") | local_name!("tbody") | local_name!("tfoot")
                )
            })
        })
    }

    fn close_caption(&mut self) {
        self.generate_implied_end(None);
        self.pop_until_named(&local_name!("caption"));
        self.clear_formatting_to_marker();
    }

    fn close_cell(&mut self) {
        self.generate_implied_end(None);
        self.pop_until(|open| open.is(&local_name!("td")) || open.is(&local_name!("th")));
        self.clear_formatting_to_marker();
    }

    fn close_row(&mut self) -> R<()> {
        self.pop_until_current(&TABLE_ROW_CONTEXT);
        self.pop()?;
        Ok(())
    }

    /// Resetting the insertion mode appropriately (after a table closes).
    fn reset_mode(&self) -> R<Mode> {
        for (index, open) in self.stack.iter().enumerate().rev() {
            let last = index == 0;
            let Some(name) = open.html() else {
                continue;
            };
            match *name {
                local_name!("td") | local_name!("th") if !last => return Ok(Mode::InCell),
                local_name!("tr") => return Ok(Mode::InRow),
                local_name!("tbody") | local_name!("thead") | local_name!("tfoot") => {
                    return Ok(Mode::InTableBody);
                }
                local_name!("caption") => return Ok(Mode::InCaption),
                local_name!("colgroup") => return Ok(Mode::InColumnGroup),
                local_name!("table") => return Ok(Mode::InTable),
                local_name!("template") | local_name!("frameset") => {
                    return self.bail("<template>");
                }
                local_name!("head") if !last => return self.bail("table in head"),
                local_name!("body") => return Ok(Mode::InBody),
                local_name!("html") => {
                    return Ok(if self.head.is_none() {
                        Mode::BeforeHead
                    } else {
                        Mode::AfterHead
                    });
                }
                _ => {}
            }
        }
        Ok(Mode::InBody)
    }

    fn end_tag(&mut self, tag: Tag) -> R<()> {
        if self.foreign_current() {
            return self.foreign_end_tag(&tag.name);
        }
        let name = tag.name;
        loop {
            match self.mode {
                Mode::Initial => self.anything_else()?,
                Mode::BeforeHtml | Mode::BeforeHead => match name {
                    local_name!("head")
                    | local_name!("body")
                    | local_name!("html")
                    | local_name!("br") => self.anything_else()?,
                    _ => return Ok(()),
                },
                Mode::InHead => match name {
                    local_name!("head") => {
                        self.pop()?;
                        self.mode = Mode::AfterHead;
                        return Ok(());
                    }
                    local_name!("body") | local_name!("html") | local_name!("br") => {
                        self.anything_else()?;
                    }
                    local_name!("template") => return self.bail("</template>"),
                    _ => return Ok(()),
                },
                Mode::AfterHead => match name {
                    local_name!("body") | local_name!("html") | local_name!("br") => {
                        self.anything_else()?;
                    }
                    local_name!("template") => return self.bail("</template>"),
                    _ => return Ok(()),
                },
                Mode::InBody => return self.body_end_tag(&name),
                Mode::Text => {
                    self.pop()?;
                    self.mode = self.orig_mode;
                    return Ok(());
                }
                Mode::InTable => return self.table_end_tag(&name),
                Mode::InCaption => match name {
                    local_name!("table") | local_name!("caption") => {
                        if !self.in_scope_named(Scope::Table, &local_name!("caption")) {
                            return Ok(());
                        }
                        self.close_caption();
                        self.mode = Mode::InTable;
                        if name == local_name!("caption") {
                            return Ok(());
                        }
                    }
                    local_name!("body")
                    | local_name!("col")
                    | local_name!("colgroup")
                    | local_name!("html")
                    | local_name!("tbody")
                    | local_name!("td")
                    | local_name!("tfoot")
                    | local_name!("th")
                    | local_name!("thead")
                    | local_name!("tr") => return Ok(()),
                    _ => return self.body_end_tag(&name),
                },
                Mode::InColumnGroup => match name {
                    local_name!("colgroup") => {
                        if self.current_is(&local_name!("colgroup")) {
                            self.pop()?;
                            self.mode = Mode::InTable;
                        }
                        return Ok(());
                    }
                    local_name!("col") => return Ok(()),
                    local_name!("template") => return self.bail("</template>"),
                    _ => {
                        if !self.current_is(&local_name!("colgroup")) {
                            return Ok(());
                        }
                        self.pop()?;
                        self.mode = Mode::InTable;
                    }
                },
                Mode::InTableBody => match name {
                    local_name!("tbody") | local_name!("tfoot") | local_name!("thead") => {
                        if self.in_scope_named(Scope::Table, &name) {
                            self.pop_until_current(&TABLE_BODY_CONTEXT);
                            self.pop()?;
                            self.mode = Mode::InTable;
                        }
                        return Ok(());
                    }
                    local_name!("table") => {
                        if !self.table_body_in_scope() {
                            return Ok(());
                        }
                        self.pop_until_current(&TABLE_BODY_CONTEXT);
                        self.pop()?;
                        self.mode = Mode::InTable;
                    }
                    local_name!("body")
                    | local_name!("caption")
                    | local_name!("col")
                    | local_name!("colgroup")
                    | local_name!("html")
                    | local_name!("td")
                    | local_name!("th")
                    | local_name!("tr") => return Ok(()),
                    _ => return self.table_end_tag(&name),
                },
                Mode::InRow => match name {
                    local_name!("tr") => {
                        if self.in_scope_named(Scope::Table, &local_name!("tr")) {
                            self.close_row()?;
                            self.mode = Mode::InTableBody;
                        }
                        return Ok(());
                    }
                    local_name!("table") => {
                        if !self.in_scope_named(Scope::Table, &local_name!("tr")) {
                            return Ok(());
                        }
                        self.close_row()?;
                        self.mode = Mode::InTableBody;
                    }
                    local_name!("tbody") | local_name!("tfoot") | local_name!("thead") => {
                        if !self.in_scope_named(Scope::Table, &name)
                            || !self.in_scope_named(Scope::Table, &local_name!("tr"))
                        {
                            return Ok(());
                        }
                        self.close_row()?;
                        self.mode = Mode::InTableBody;
                    }
                    local_name!("body")
                    | local_name!("caption")
                    | local_name!("col")
                    | local_name!("colgroup")
                    | local_name!("html")
                    | local_name!("td")
                    | local_name!("th") => return Ok(()),
                    _ => return self.table_end_tag(&name),
                },
                Mode::InCell => match name {
                    local_name!("td") | local_name!("th") => {
                        if self.in_scope_named(Scope::Table, &name) {
                            self.generate_implied_end(None);
                            self.pop_until_named(&name);
                            self.clear_formatting_to_marker();
                            self.mode = Mode::InRow;
                        }
                        return Ok(());
                    }
                    local_name!("body")
                    | local_name!("caption")
                    | local_name!("col")
                    | local_name!("colgroup")
                    | local_name!("html") => return Ok(()),
                    local_name!("table")
                    | local_name!("tbody")
                    | local_name!("tfoot")
                    | local_name!("thead")
                    | local_name!("tr") => {
                        if !self.in_scope_named(Scope::Table, &name) {
                            return Ok(());
                        }
                        self.close_cell();
                        self.mode = Mode::InRow;
                    }
                    _ => return self.body_end_tag(&name),
                },
                Mode::AfterBody => {
                    if name == local_name!("html") {
                        self.mode = Mode::AfterAfterBody;
                        return Ok(());
                    }
                    self.mode = Mode::InBody;
                }
                Mode::AfterAfterBody => self.mode = Mode::InBody,
            }
        }
    }

    fn table_end_tag(&mut self, name: &LocalName) -> R<()> {
        match *name {
            local_name!("table") => {
                if self.in_scope_named(Scope::Table, &local_name!("table")) {
                    self.pop_until_named(&local_name!("table"));
                    self.mode = self.reset_mode()?;
                }
                Ok(())
            }
            local_name!("body")
            | local_name!("caption")
            | local_name!("col")
            | local_name!("colgroup")
            | local_name!("html")
            | local_name!("tbody")
            | local_name!("td")
            | local_name!("tfoot")
            | local_name!("th")
            | local_name!("thead")
            | local_name!("tr") => Ok(()),
            local_name!("template") => self.bail("</template>"),
            _ => self.bail("foster parenting"),
        }
    }

    /// "In body" end tags.
    fn body_end_tag(&mut self, name: &LocalName) -> R<()> {
        match *name {
            local_name!("template") => return self.bail("</template>"),
            local_name!("body") => {
                if self.in_scope_named(Scope::Default, &local_name!("body")) {
                    self.mode = Mode::AfterBody;
                }
            }
            local_name!("html") => {
                if self.in_scope_named(Scope::Default, &local_name!("body")) {
                    // Reprocessed in "after body": straight to "after after body".
                    self.mode = Mode::AfterAfterBody;
                }
            }
            local_name!("address")
            | local_name!("article")
            | local_name!("aside")
            | local_name!("blockquote")
            | local_name!("button")
            | local_name!("center")
            | local_name!("details")
            | local_name!("dialog")
            | local_name!("dir")
            | local_name!("div")
            | local_name!("dl")
            | local_name!("fieldset")
            | local_name!("figcaption")
            | local_name!("figure")
            | local_name!("footer")
            | local_name!("header")
            | local_name!("hgroup")
            | local_name!("listing")
            | local_name!("main")
            | local_name!("menu")
            | local_name!("nav")
            | local_name!("ol")
            | local_name!("pre")
            | local_name!("search")
            | local_name!("section")
            | local_name!("select")
            | local_name!("summary")
            | local_name!("ul") => {
                if self.in_scope_named(Scope::Default, name) {
                    self.generate_implied_end(None);
                    self.pop_until_named(name);
                }
            }
            local_name!("form") => {
                if self.has_template() {
                    return self.bail("</form> in <template>");
                }
                let Some(form) = self.form.take() else {
                    return Ok(());
                };
                if !self.in_scope(Scope::Default, |open| open.id == form) {
                    return Ok(());
                }
                self.generate_implied_end(None);
                if self.stack.last().map(|open| open.id) != Some(form) {
                    return self.bail("misnested </form>");
                }
                self.pop()?;
            }
            local_name!("p") => {
                if !self.in_scope_named(Scope::Button, &local_name!("p")) {
                    self.insert_phantom(local_name!("p"))?;
                }
                self.close_p();
            }
            local_name!("li") => {
                if self.in_scope_named(Scope::ListItem, name) {
                    self.generate_implied_end(Some(name));
                    self.pop_until_named(name);
                }
            }
            local_name!("dd") | local_name!("dt") => {
                if self.in_scope_named(Scope::Default, name) {
                    self.generate_implied_end(Some(name));
                    self.pop_until_named(name);
                }
            }
            local_name!("h1")
            | local_name!("h2")
            | local_name!("h3")
            | local_name!("h4")
            | local_name!("h5")
            | local_name!("h6") => {
                if self.in_scope(Scope::Default, |open| open.html().is_some_and(is_heading)) {
                    self.generate_implied_end(None);
                    self.pop_until(|open| open.html().is_some_and(is_heading));
                }
            }
            local_name!("a")
            | local_name!("b")
            | local_name!("big")
            | local_name!("code")
            | local_name!("em")
            | local_name!("font")
            | local_name!("i")
            | local_name!("nobr")
            | local_name!("s")
            | local_name!("small")
            | local_name!("strike")
            | local_name!("strong")
            | local_name!("tt")
            | local_name!("u") => return self.adoption_agency(name),
            local_name!("applet") | local_name!("marquee") | local_name!("object") => {
                if self.in_scope_named(Scope::Default, name) {
                    self.generate_implied_end(None);
                    self.pop_until_named(name);
                    self.clear_formatting_to_marker();
                }
            }
            local_name!("br") => {
                // `</br>` is `<br>` without attributes.
                self.reconstruct()?;
                self.insert(Ns::Html, local_name!("br"), Vec::new(), false)?;
            }
            _ => self.any_other_end_tag(name),
        }
        Ok(())
    }

    fn any_other_end_tag(&mut self, name: &LocalName) {
        let mut found = None;
        for (index, open) in self.stack.iter().enumerate().rev() {
            if open.is(name) {
                found = Some(index);
                break;
            }
            if is_special(open) {
                return;
            }
        }
        let Some(index) = found else {
            return;
        };
        self.generate_implied_end(Some(name));
        self.stack.truncate(index);
    }

    /// The adoption agency algorithm for the cases that need no reparenting.
    fn adoption_agency(&mut self, subject: &LocalName) -> R<()> {
        if let Some(current) = self.stack.last()
            && current.is(subject)
        {
            let id = current.id;
            let listed = self
                .formatting
                .iter()
                .any(|entry| matches!(entry, Formatting::Element(entry_id, _) if *entry_id == id));
            if !listed {
                self.stack.pop();
                return Ok(());
            }
        }
        let mut entry = None;
        for (index, item) in self.formatting.iter().enumerate().rev() {
            match item {
                Formatting::Marker => break,
                Formatting::Element(id, name) if name == subject => {
                    entry = Some((index, *id));
                    break;
                }
                Formatting::Element(..) => {}
            }
        }
        let Some((entry_index, element)) = entry else {
            self.any_other_end_tag(subject);
            return Ok(());
        };
        let Some(stack_index) = self.stack.iter().rposition(|open| open.id == element) else {
            self.formatting.remove(entry_index);
            return Ok(());
        };
        if !self.in_scope(Scope::Default, |open| open.id == element) {
            return Ok(());
        }
        if self.stack[stack_index..].iter().any(is_special) {
            return self.bail("misnested formatting element");
        }
        self.stack.truncate(stack_index);
        self.formatting.remove(entry_index);
        Ok(())
    }

    // ----------------------------------------------------------------------------
    // Foreign (SVG) content
    // ----------------------------------------------------------------------------

    /// Whether the current node is an SVG element (tokens then follow the rules for
    /// foreign content; integration points are handled where they matter).
    fn foreign_current(&self) -> bool {
        self.stack.last().is_some_and(|open| open.ns == Ns::Svg)
    }

    fn foreign_start_tag(&mut self, mut tag: Tag) -> R<After> {
        if self.stack.last().is_some_and(is_svg_integration_point) {
            return self.bail("start tag in an SVG integration point");
        }
        let breakout = matches!(
            tag.name,
            local_name!("b")
                | local_name!("big")
                | local_name!("blockquote")
                | local_name!("body")
                | local_name!("br")
                | local_name!("center")
                | local_name!("code")
                | local_name!("dd")
                | local_name!("div")
                | local_name!("dl")
                | local_name!("dt")
                | local_name!("em")
                | local_name!("embed")
                | local_name!("h1")
                | local_name!("h2")
                | local_name!("h3")
                | local_name!("h4")
                | local_name!("h5")
                | local_name!("h6")
                | local_name!("head")
                | local_name!("hr")
                | local_name!("i")
                | local_name!("img")
                | local_name!("li")
                | local_name!("listing")
                | local_name!("menu")
                | local_name!("meta")
                | local_name!("nobr")
                | local_name!("ol")
                | local_name!("p")
                | local_name!("pre")
                | local_name!("ruby")
                | local_name!("s")
                | local_name!("small")
                | local_name!("span")
                | local_name!("strong")
                | local_name!("strike")
                | local_name!("sub")
                | local_name!("sup")
                | local_name!("table")
                | local_name!("tt")
                | local_name!("u")
                | local_name!("ul")
                | local_name!("var")
        ) || (tag.name == local_name!("font")
            && ["color", "face", "size"]
                .iter()
                .any(|name| tag.attr(name).is_some()));
        if breakout {
            return self.bail("HTML start tag in SVG");
        }
        tag.name = adjust_svg_tag_name(tag.name);
        adjust_svg_attributes(&mut tag);
        let self_closing = tag.self_closing;
        self.insert(Ns::Svg, tag.name, tag.attrs, !self_closing)?;
        Ok(After::Continue)
    }

    fn foreign_end_tag(&mut self, name: &LocalName) -> R<()> {
        if matches!(*name, local_name!("br") | local_name!("p")) {
            return self.bail("HTML end tag in SVG");
        }
        let mut index = self.stack.len() - 1;
        loop {
            if index == 0 {
                return Ok(());
            }
            let open = &self.stack[index];
            if open.ns == Ns::Html {
                return self.bail("HTML end tag in SVG");
            }
            if open.name.eq_ignore_ascii_case(name) {
                self.stack.truncate(index);
                return Ok(());
            }
            index -= 1;
        }
    }
}

const TABLE_BODY_CONTEXT: [LocalName; 3] = [
    local_name!("tbody"),
    local_name!("tfoot"),
    local_name!("thead"),
];

const TABLE_ROW_CONTEXT: [LocalName; 1] = [local_name!("tr")];

/// Start tags that end a caption or cell before being reprocessed.
fn is_table_part(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("caption")
            | local_name!("col")
            | local_name!("colgroup")
            | local_name!("tbody")
            | local_name!("td")
            | local_name!("tfoot")
            | local_name!("th")
            | local_name!("thead")
            | local_name!("tr")
    )
}

/// A tag or attribute name as the tokenizer keeps it: ASCII upper case lowered.
fn lower_atom(name: &str) -> LocalName {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        LocalName::from(name.to_ascii_lowercase())
    } else {
        common_atom(name).unwrap_or_else(|| LocalName::from(name))
    }
}

/// The most frequent tag and attribute names without hashing them (the same atoms
/// `LocalName::from` gives).
fn common_atom(name: &str) -> Option<LocalName> {
    Some(match name {
        "a" => local_name!("a"),
        "b" => local_name!("b"),
        "i" => local_name!("i"),
        "p" => local_name!("p"),
        "br" => local_name!("br"),
        "em" => local_name!("em"),
        "h1" => local_name!("h1"),
        "h2" => local_name!("h2"),
        "h3" => local_name!("h3"),
        "h4" => local_name!("h4"),
        "id" => local_name!("id"),
        "li" => local_name!("li"),
        "td" => local_name!("td"),
        "tr" => local_name!("tr"),
        "ul" => local_name!("ul"),
        "alt" => local_name!("alt"),
        "div" => local_name!("div"),
        "img" => local_name!("img"),
        "nav" => local_name!("nav"),
        "rel" => local_name!("rel"),
        "src" => local_name!("src"),
        "svg" => local_name!("svg"),
        "href" => local_name!("href"),
        "lang" => local_name!("lang"),
        "link" => local_name!("link"),
        "main" => local_name!("main"),
        "meta" => local_name!("meta"),
        "name" => local_name!("name"),
        "path" => local_name!("path"),
        "role" => local_name!("role"),
        "span" => local_name!("span"),
        "time" => local_name!("time"),
        "type" => local_name!("type"),
        "class" => local_name!("class"),
        "input" => local_name!("input"),
        "label" => local_name!("label"),
        "small" => local_name!("small"),
        "style" => local_name!("style"),
        "title" => local_name!("title"),
        "value" => local_name!("value"),
        "width" => local_name!("width"),
        "button" => local_name!("button"),
        "footer" => local_name!("footer"),
        "header" => local_name!("header"),
        "height" => local_name!("height"),
        "script" => local_name!("script"),
        "strong" => local_name!("strong"),
        "content" => local_name!("content"),
        "onclick" => local_name!("onclick"),
        "section" => local_name!("section"),
        "article" => local_name!("article"),
        "datetime" => local_name!("datetime"),
        _ => return None,
    })
}

/// Decodes the character reference after the `&` at `from - 1` of `src` into `out`
/// (or writes the `&` when there is none) and returns where the text goes on.
fn decode_char_ref(
    src: &str,
    from: usize,
    in_attribute: bool,
    out: &mut String,
) -> Result<usize, &'static str> {
    let bytes = src.as_bytes();
    match bytes.get(from) {
        Some(b) if b.is_ascii_alphanumeric() => {
            // The common case, `&name;`: no entity name goes on past a `;`, so a full
            // match of the whole `name;` is the longest match.
            let window = &bytes[from..bytes.len().min(from + 34)];
            if let Some(length) = window.iter().position(|b| !b.is_ascii_alphanumeric())
                && window[length] == b';'
                && let Some(&(first, second)) =
                    html5ever::data::NAMED_ENTITIES.get(&src[from..from + length + 1])
                && first != 0
            {
                push_entity(out, first, second)?;
                return Ok(from + length + 1);
            }
            // The longest name in the entity table that the text starts with, where
            // every prefix on the way is itself a prefix of some entity.
            let mut end = from;
            let mut matched: Option<(usize, (u32, u32))> = None;
            while end < bytes.len() {
                let next = end + utf8_width(bytes[end]);
                let Some(candidate) = src.get(from..next) else {
                    break;
                };
                match html5ever::data::NAMED_ENTITIES.get(candidate) {
                    Some(&value) => {
                        if value.0 != 0 {
                            matched = Some((next, value));
                        }
                        end = next;
                    }
                    None => break,
                }
            }
            let Some((match_end, (first, second))) = matched else {
                out.push('&');
                return Ok(from);
            };
            let last = bytes[match_end - 1];
            let next = bytes.get(match_end).copied();
            if in_attribute
                && last != b';'
                && next.is_some_and(|b| b == b'=' || b.is_ascii_alphanumeric())
            {
                out.push('&');
                return Ok(from);
            }
            push_entity(out, first, second)?;
            Ok(match_end)
        }
        Some(b'#') => {
            let mut at = from + 1;
            let base = match bytes.get(at) {
                Some(b'x' | b'X') => {
                    at += 1;
                    16
                }
                _ => 10,
            };
            let digits_start = at;
            let mut num: u32 = 0;
            let mut too_big = false;
            while let Some(digit) = bytes.get(at).and_then(|b| (*b as char).to_digit(base)) {
                num = num.wrapping_mul(base);
                if num > 0x10FFFF {
                    too_big = true;
                }
                num = num.wrapping_add(digit);
                at += 1;
            }
            if at == digits_start {
                out.push('&');
                return Ok(from);
            }
            if bytes.get(at) == Some(&b';') {
                at += 1;
            }
            out.push(numeric_char(num, too_big));
            Ok(at)
        }
        _ => {
            out.push('&');
            Ok(from)
        }
    }
}

/// The one or two characters of an entity table value.
fn push_entity(out: &mut String, first: u32, second: u32) -> Result<(), &'static str> {
    let Some(c) = char::from_u32(first) else {
        return Err("bad entity table value");
    };
    out.push(c);
    if second != 0 {
        let Some(c) = char::from_u32(second) else {
            return Err("bad entity table value");
        };
        out.push(c);
    }
    Ok(())
}

fn utf8_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// The character a numeric reference stands for (html5ever's `finish_numeric`).
fn numeric_char(num: u32, too_big: bool) -> char {
    match num {
        n if n > 0x10FFFF || too_big => '\u{FFFD}',
        0x00 | 0xD800..=0xDFFF => '\u{FFFD}',
        0x80..=0x9F => html5ever::data::C1_REPLACEMENTS[(num - 0x80) as usize]
            .unwrap_or_else(|| char::from_u32(num).unwrap_or('\u{FFFD}')),
        n => char::from_u32(n).unwrap_or('\u{FFFD}'),
    }
}

struct ParsedDoctype<'a> {
    name: &'a str,
    public: Option<&'a str>,
    system: Option<&'a str>,
}

/// `html`, `html PUBLIC "…" ["…"]`, `html SYSTEM "…"` (any case, either quote),
/// with the name lower-cased (only when it is already lower case: `html`).
fn parse_doctype(inner: &str) -> Option<ParsedDoctype<'_>> {
    let bytes = inner.as_bytes();
    if !bytes.first().is_some_and(|b| is_space(*b)) {
        return None;
    }
    let rest = inner.trim_start_matches(['\t', '\n', '\x0C', ' ']);
    let name_end = rest.find(['\t', '\n', '\x0C', ' ']).unwrap_or(rest.len());
    let name = &rest[..name_end];
    if name.is_empty() || name.bytes().any(|b| b.is_ascii_uppercase()) {
        // An upper-case name would be lowered by the tokenizer; keep it simple.
        if !name.eq_ignore_ascii_case("html") {
            return None;
        }
    }
    let name = if name.eq_ignore_ascii_case("html") {
        "html"
    } else {
        name
    };
    let mut rest = rest[name_end..].trim_start_matches(['\t', '\n', '\x0C', ' ']);
    if rest.is_empty() {
        return Some(ParsedDoctype {
            name,
            public: None,
            system: None,
        });
    }
    let keyword = rest.get(..6)?;
    let public = keyword.eq_ignore_ascii_case("public");
    if !public && !keyword.eq_ignore_ascii_case("system") {
        return None;
    }
    rest = &rest[6..];
    if !rest.as_bytes().first().is_some_and(|b| is_space(*b)) {
        return None;
    }
    rest = rest.trim_start_matches(['\t', '\n', '\x0C', ' ']);
    let (first, after) = quoted(rest)?;
    rest = after.trim_start_matches(['\t', '\n', '\x0C', ' ']);
    if !public {
        return rest.is_empty().then_some(ParsedDoctype {
            name,
            public: None,
            system: Some(first),
        });
    }
    if rest.is_empty() {
        return Some(ParsedDoctype {
            name,
            public: Some(first),
            system: None,
        });
    }
    if !after.as_bytes().first().is_some_and(|b| is_space(*b)) {
        return None;
    }
    let (second, after) = quoted(rest)?;
    if !after
        .trim_start_matches(['\t', '\n', '\x0C', ' '])
        .is_empty()
    {
        return None;
    }
    Some(ParsedDoctype {
        name,
        public: Some(first),
        system: Some(second),
    })
}

fn quoted(text: &str) -> Option<(&str, &str)> {
    let quote = text.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let end = text[1..].find(quote)? + 1;
    Some((&text[1..end], &text[end + 1..]))
}

/// The quirks mode a DOCTYPE sets (html5ever's `doctype_error_and_quirks`).
fn doctype_quirks(doctype: &ParsedDoctype<'_>) -> QuirksMode {
    const QUIRKY_PUBLIC_PREFIXES: &[&str] = &[
        "-//advasoft ltd//dtd html 3.0 aswedit + extensions//",
        "-//as//dtd html 3.0 aswedit + extensions//",
        "-//ietf//dtd html 2.0 level 1//",
        "-//ietf//dtd html 2.0 level 2//",
        "-//ietf//dtd html 2.0 strict level 1//",
        "-//ietf//dtd html 2.0 strict level 2//",
        "-//ietf//dtd html 2.0 strict//",
        "-//ietf//dtd html 2.0//",
        "-//ietf//dtd html 2.1e//",
        "-//ietf//dtd html 3.0//",
        "-//ietf//dtd html 3.2 final//",
        "-//ietf//dtd html 3.2//",
        "-//ietf//dtd html 3//",
        "-//ietf//dtd html level 0//",
        "-//ietf//dtd html level 1//",
        "-//ietf//dtd html level 2//",
        "-//ietf//dtd html level 3//",
        "-//ietf//dtd html strict level 0//",
        "-//ietf//dtd html strict level 1//",
        "-//ietf//dtd html strict level 2//",
        "-//ietf//dtd html strict level 3//",
        "-//ietf//dtd html strict//",
        "-//ietf//dtd html//",
        "-//metrius//dtd metrius presentational//",
        "-//microsoft//dtd internet explorer 2.0 html strict//",
        "-//microsoft//dtd internet explorer 2.0 html//",
        "-//microsoft//dtd internet explorer 2.0 tables//",
        "-//microsoft//dtd internet explorer 3.0 html strict//",
        "-//microsoft//dtd internet explorer 3.0 html//",
        "-//microsoft//dtd internet explorer 3.0 tables//",
        "-//netscape comm. corp.//dtd html//",
        "-//netscape comm. corp.//dtd strict html//",
        "-//o'reilly and associates//dtd html 2.0//",
        "-//o'reilly and associates//dtd html extended 1.0//",
        "-//o'reilly and associates//dtd html extended relaxed 1.0//",
        "-//softquad software//dtd hotmetal pro 6.0::19990601::extensions to html 4.0//",
        "-//softquad//dtd hotmetal pro 4.0::19971010::extensions to html 4.0//",
        "-//spyglass//dtd html 2.0 extended//",
        "-//sq//dtd html 2.0 hotmetal + extensions//",
        "-//sun microsystems corp.//dtd hotjava html//",
        "-//sun microsystems corp.//dtd hotjava strict html//",
        "-//w3c//dtd html 3 1995-03-24//",
        "-//w3c//dtd html 3.2 draft//",
        "-//w3c//dtd html 3.2 final//",
        "-//w3c//dtd html 3.2//",
        "-//w3c//dtd html 3.2s draft//",
        "-//w3c//dtd html 4.0 frameset//",
        "-//w3c//dtd html 4.0 transitional//",
        "-//w3c//dtd html experimental 19960712//",
        "-//w3c//dtd html experimental 970421//",
        "-//w3c//dtd w3 html//",
        "-//w3o//dtd w3 html 3.0//",
        "-//webtechs//dtd mozilla html 2.0//",
        "-//webtechs//dtd mozilla html//",
    ];
    const QUIRKY_PUBLIC_MATCHES: &[&str] = &[
        "-//w3o//dtd w3 html strict 3.0//en//",
        "-/w3c/dtd html 4.0 transitional/en",
        "html",
    ];
    const QUIRKY_SYSTEM_MATCHES: &[&str] =
        &["http://www.ibm.com/data/dtd/v11/ibmxhtml1-transitional.dtd"];
    const LIMITED_QUIRKY_PUBLIC_PREFIXES: &[&str] = &[
        "-//w3c//dtd xhtml 1.0 frameset//",
        "-//w3c//dtd xhtml 1.0 transitional//",
    ];
    const HTML4_PUBLIC_PREFIXES: &[&str] = &[
        "-//w3c//dtd html 4.01 frameset//",
        "-//w3c//dtd html 4.01 transitional//",
    ];
    if doctype.name != "html" {
        return QuirksMode::Quirks;
    }
    let public = doctype.public.map(str::to_ascii_lowercase);
    let system = doctype.system.map(str::to_ascii_lowercase);
    let starts = |list: &[&str], p: &str| list.iter().any(|prefix| p.starts_with(prefix));
    match (public.as_deref(), system.as_deref()) {
        (Some(p), _) if QUIRKY_PUBLIC_MATCHES.contains(&p) => QuirksMode::Quirks,
        (_, Some(s)) if QUIRKY_SYSTEM_MATCHES.contains(&s) => QuirksMode::Quirks,
        (Some(p), _) if starts(QUIRKY_PUBLIC_PREFIXES, p) => QuirksMode::Quirks,
        (Some(p), _) if starts(LIMITED_QUIRKY_PUBLIC_PREFIXES, p) => QuirksMode::LimitedQuirks,
        (Some(p), None) if starts(HTML4_PUBLIC_PREFIXES, p) => QuirksMode::Quirks,
        (Some(p), Some(_)) if starts(HTML4_PUBLIC_PREFIXES, p) => QuirksMode::LimitedQuirks,
        _ => QuirksMode::NoQuirks,
    }
}

fn adjust_svg_tag_name(name: LocalName) -> LocalName {
    match name {
        local_name!("altglyph") => local_name!("altGlyph"),
        local_name!("altglyphdef") => local_name!("altGlyphDef"),
        local_name!("altglyphitem") => local_name!("altGlyphItem"),
        local_name!("animatecolor") => local_name!("animateColor"),
        local_name!("animatemotion") => local_name!("animateMotion"),
        local_name!("animatetransform") => local_name!("animateTransform"),
        local_name!("clippath") => local_name!("clipPath"),
        local_name!("feblend") => local_name!("feBlend"),
        local_name!("fecolormatrix") => local_name!("feColorMatrix"),
        local_name!("fecomponenttransfer") => local_name!("feComponentTransfer"),
        local_name!("fecomposite") => local_name!("feComposite"),
        local_name!("feconvolvematrix") => local_name!("feConvolveMatrix"),
        local_name!("fediffuselighting") => local_name!("feDiffuseLighting"),
        local_name!("fedisplacementmap") => local_name!("feDisplacementMap"),
        local_name!("fedistantlight") => local_name!("feDistantLight"),
        local_name!("fedropshadow") => local_name!("feDropShadow"),
        local_name!("feflood") => local_name!("feFlood"),
        local_name!("fefunca") => local_name!("feFuncA"),
        local_name!("fefuncb") => local_name!("feFuncB"),
        local_name!("fefuncg") => local_name!("feFuncG"),
        local_name!("fefuncr") => local_name!("feFuncR"),
        local_name!("fegaussianblur") => local_name!("feGaussianBlur"),
        local_name!("feimage") => local_name!("feImage"),
        local_name!("femerge") => local_name!("feMerge"),
        local_name!("femergenode") => local_name!("feMergeNode"),
        local_name!("femorphology") => local_name!("feMorphology"),
        local_name!("feoffset") => local_name!("feOffset"),
        local_name!("fepointlight") => local_name!("fePointLight"),
        local_name!("fespecularlighting") => local_name!("feSpecularLighting"),
        local_name!("fespotlight") => local_name!("feSpotLight"),
        local_name!("fetile") => local_name!("feTile"),
        local_name!("feturbulence") => local_name!("feTurbulence"),
        local_name!("foreignobject") => local_name!("foreignObject"),
        local_name!("glyphref") => local_name!("glyphRef"),
        local_name!("lineargradient") => local_name!("linearGradient"),
        local_name!("radialgradient") => local_name!("radialGradient"),
        local_name!("textpath") => local_name!("textPath"),
        other => other,
    }
}

/// SVG attribute names in their proper case, and the `xlink:`/`xml:`/`xmlns`
/// attributes in their namespaces (html5ever's `adjust_svg_attributes` and
/// `adjust_foreign_attributes`).
fn adjust_svg_attributes(tag: &mut Tag) {
    for attr in &mut tag.attrs {
        let adjusted = match &*attr.name.local {
            "attributename" => "attributeName",
            "attributetype" => "attributeType",
            "basefrequency" => "baseFrequency",
            "baseprofile" => "baseProfile",
            "calcmode" => "calcMode",
            "clippathunits" => "clipPathUnits",
            "diffuseconstant" => "diffuseConstant",
            "edgemode" => "edgeMode",
            "filterunits" => "filterUnits",
            "glyphref" => "glyphRef",
            "gradienttransform" => "gradientTransform",
            "gradientunits" => "gradientUnits",
            "kernelmatrix" => "kernelMatrix",
            "kernelunitlength" => "kernelUnitLength",
            "keypoints" => "keyPoints",
            "keysplines" => "keySplines",
            "keytimes" => "keyTimes",
            "lengthadjust" => "lengthAdjust",
            "limitingconeangle" => "limitingConeAngle",
            "markerheight" => "markerHeight",
            "markerunits" => "markerUnits",
            "markerwidth" => "markerWidth",
            "maskcontentunits" => "maskContentUnits",
            "maskunits" => "maskUnits",
            "numoctaves" => "numOctaves",
            "pathlength" => "pathLength",
            "patterncontentunits" => "patternContentUnits",
            "patterntransform" => "patternTransform",
            "patternunits" => "patternUnits",
            "pointsatx" => "pointsAtX",
            "pointsaty" => "pointsAtY",
            "pointsatz" => "pointsAtZ",
            "preservealpha" => "preserveAlpha",
            "preserveaspectratio" => "preserveAspectRatio",
            "primitiveunits" => "primitiveUnits",
            "refx" => "refX",
            "refy" => "refY",
            "repeatcount" => "repeatCount",
            "repeatdur" => "repeatDur",
            "requiredextensions" => "requiredExtensions",
            "requiredfeatures" => "requiredFeatures",
            "specularconstant" => "specularConstant",
            "specularexponent" => "specularExponent",
            "spreadmethod" => "spreadMethod",
            "startoffset" => "startOffset",
            "stddeviation" => "stdDeviation",
            "stitchtiles" => "stitchTiles",
            "surfacescale" => "surfaceScale",
            "systemlanguage" => "systemLanguage",
            "tablevalues" => "tableValues",
            "targetx" => "targetX",
            "targety" => "targetY",
            "textlength" => "textLength",
            "viewbox" => "viewBox",
            "viewtarget" => "viewTarget",
            "xchannelselector" => "xChannelSelector",
            "ychannelselector" => "yChannelSelector",
            "zoomandpan" => "zoomAndPan",
            _ => {
                if let Some(name) = foreign_attribute(&attr.name.local) {
                    attr.name = name;
                }
                continue;
            }
        };
        attr.name = QualName::new(None, ns!(), LocalName::from(adjusted));
    }
}

fn foreign_attribute(local: &str) -> Option<QualName> {
    let (prefix, namespace, local) = match local {
        "xlink:actuate" => (Some(namespace_prefix!("xlink")), ns!(xlink), "actuate"),
        "xlink:arcrole" => (Some(namespace_prefix!("xlink")), ns!(xlink), "arcrole"),
        "xlink:href" => (Some(namespace_prefix!("xlink")), ns!(xlink), "href"),
        "xlink:role" => (Some(namespace_prefix!("xlink")), ns!(xlink), "role"),
        "xlink:show" => (Some(namespace_prefix!("xlink")), ns!(xlink), "show"),
        "xlink:title" => (Some(namespace_prefix!("xlink")), ns!(xlink), "title"),
        "xlink:type" => (Some(namespace_prefix!("xlink")), ns!(xlink), "type"),
        "xml:lang" => (Some(namespace_prefix!("xml")), ns!(xml), "lang"),
        "xml:space" => (Some(namespace_prefix!("xml")), ns!(xml), "space"),
        "xmlns" => (Some(namespace_prefix!("")), ns!(xmlns), "xmlns"),
        "xmlns:xlink" => (Some(namespace_prefix!("xmlns")), ns!(xmlns), "xlink"),
        _ => return None,
    };
    Some(QualName::new(prefix, namespace, LocalName::from(local)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(html: &str) {
        let fast = parse_html_fast(html).unwrap_or_else(|why| panic!("{why}: {html:?}"));
        let reference = Html::parse_document(html);
        assert_eq!(fast.quirks_mode, reference.quirks_mode, "{html:?}");
        assert_eq!(fast.tree, reference.tree, "{html:?}");
    }

    fn declined(html: &str) {
        assert!(parse_html_fast(html).is_err(), "{html:?}");
    }

    #[test]
    fn builds_html5ever_trees() {
        for html in [
            "",
            "hello",
            "<!DOCTYPE html><title>t</title><p>x",
            "<!doctype html>\n<html lang=en><head><meta charset=utf-8></head><body class=a>x</body></html>\n",
            "<p>one<p>two<div>three</div><li>a<li>b",
            "<ul><li>a<li>b</ul><dl><dt>t<dd>d<dt>u</dl>",
            "<div class=\"review\" data-id='r1'><h3>T</h3><p>Body &amp; more&hellip; &notit; &#x4E2D;&#150;</p></div>",
            "<a href=\"/x?a=1&b=2&amp;c=3&copy=4\">l</a><img src=x alt=\"a&ltb\">",
            "<b>bold <i>both</i></b> <span>s</span></p> </div>",
            "<table><tr><td>a<td>b</tr><tr><th>c</table>after",
            "<table>\n<thead><tr><th>h</th></tr></thead>\n<tbody><tr><td>d</td></tr></tbody></table>",
            "<select><option>a<option>b<optgroup><option>c</select>x",
            "<svg viewbox='0 0 1 1'><path d=M0/><title>Star</title><lineargradient/></svg>z",
            "<pre>\nkeep\n</pre><textarea>\nx &amp; y</textarea>",
            "<script>if (a < b && c) { document.write('</div>') }</script><style>p>a{}</style>",
            "<!-- c --><!----><!--->x<!-- a -- b --!><?php x ?><!bogus></3>",
            "<html><body><p>x</body></html>\n<!-- tail -->\ny",
            "<head><script>x</script></head>\n<body></body>",
            "</p>stray<br/></br>",
            "<h1>a<h2>b</h2></h1><form><input type=text></form><button>b<button>c</button>",
            "<p>a<table><tr><td>x</td></tr></table>",
            "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\"><p>a<table></table>",
            "<DIV CLASS=X ID=y data-x=1 data-x=2>dup</DIV>",
            "a < b & c <3 &#;",
            "<noscript><p>hidden</p></noscript><iframe><b>raw</b></iframe>",
        ] {
            same(html);
        }
    }

    #[test]
    fn common_atoms_are_the_interned_ones() {
        for name in [
            "a", "b", "i", "p", "br", "em", "h1", "h2", "h3", "h4", "id", "li", "td", "tr", "ul",
            "alt", "div", "img", "nav", "rel", "src", "svg", "href", "lang", "link", "main",
            "meta", "name", "path", "role", "span", "time", "type", "class", "input", "label",
            "small", "style", "title", "value", "width", "button", "footer", "header", "height",
            "script", "strong", "content", "onclick", "section", "article", "datetime",
        ] {
            assert_eq!(common_atom(name), Some(LocalName::from(name)), "{name}");
        }
        assert_eq!(common_atom("data-id"), None);
    }

    #[test]
    fn declines_what_needs_error_recovery() {
        for html in [
            "<b><p>x</b>y</p>",
            "<b>x<div>y</b>z</div>",
            "<table>text</table>",
            "<table><div>x</div></table>",
            "<template><p>x</p></template>",
            "<math><mi>x</mi></math>",
            "<p>x\0y",
            "<!-- open",
            "<div class=\"unterminated",
            "<frameset></frameset>",
        ] {
            declined(html);
        }
    }
}

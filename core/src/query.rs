//! The query language shared by brand definitions, `vigil search`, the API and keyword
//! rules. `docs/query-language.md` is the user's reference; this is the grammar.
//!
//! ```text
//! query    := or_expr ( "NOT" or_expr )*      binary NOT binds loosest:  a OR b NOT c  =  (a OR b) AND NOT c
//! or_expr  := and_expr ( "OR" and_expr )*
//! and_expr := unary ( ["AND"] unary )*        juxtaposition means AND
//! unary    := "NOT" unary | near              a leading NOT, or one after AND, negates one atom
//! near     := atom [ NEAR[/n] operand ]       both sides a term or phrase, at most n positions
//!                                             apart, either order; NEAR alone is NEAR/5
//! operand  := TERM | "PHRASE"
//! atom     := TERM | "PHRASE" | FIELD:VALUE | FIELD:"VALUE" | "(" query ")" | "*"
//! FIELD    := author | source | site | lang | url        (any case)
//! ```
//! Operators are upper-case; lower-case `and`/`or`/`not`/`near` are ordinary words. Terms
//! are case-insensitive and match whole words; `*` inside a term matches any run of word
//! characters (`acm*`). Chinese (and other CJK) terms match as substrings, since those
//! scripts put no spaces between words. A lone `*` matches everything. A word with a
//! colon whose prefix is not one of the five field names (`ratio:3`, `https://…`) is an
//! ordinary term.
//!
//! **Positions** (what `NEAR/n` counts): every word of a space-separated script and every
//! CJK character takes one position; spaces and punctuation take none, except a run of
//! them between two CJK characters, which takes one (so a phrase never runs across
//! "艾克米，召回"'s comma). Spaces between a CJK character and a Latin word are not
//! significant at all: `acme水壶` and `acme 水壶` are the same text. `a NEAR/n b`
//! matches when an occurrence of `a` and one of `b` do not overlap and have at most `n`
//! positions between them. The index (`vigil-index`) numbers its tokens the same way.
//!
//! **Field operators** compare the post's metadata, given with [`MatchText::with_meta`]:
//! `author:` its [`author_key`](crate::text::author_key), `source:` the source name
//! exactly, `site:` the host or any parent domain ([`site_keys`](crate::site_keys)),
//! `lang:` the language code, `url:` the start of the URL after its scheme and an
//! optional `www.`. `*` in a value matches any characters. With [`MatchText::new`] (text
//! only) a field operator matches nothing, so `NOT author:x` matches everything.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::OnceLock;

use crate::text::{author_key, is_cjk, is_word_char};
use crate::urls::{site_key, site_keys};

/// The distance of a bare `NEAR`.
pub const DEFAULT_NEAR_DISTANCE: u32 = 5;
/// The largest `n` `NEAR/n` accepts.
pub const MAX_NEAR_DISTANCE: u32 = 1000;
/// Deeper nesting of parentheses and `NOT`s is refused, so a hostile query cannot
/// exhaust the stack.
pub const MAX_NESTING: usize = 50;

/// A parsed query. Build it with [`Query::parse`]; [`Display`](fmt::Display) writes it
/// back in a form that parses to the same value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    /// `*`: every post.
    All,
    /// A single word, lower-cased; may contain `*` wildcards.
    Term(String),
    /// Words that must appear in this order, adjacent.
    Phrase(String),
    /// Every part must match.
    And(Vec<Query>),
    /// At least one part must match.
    Or(Vec<Query>),
    /// The inner query must not match.
    Not(Box<Query>),
    /// `left NEAR/distance right`: both occur, in either order, with at most `distance`
    /// positions between them (see the module docs for what a position is).
    Near {
        left: NearOperand,
        right: NearOperand,
        distance: u32,
    },
    /// `field:value`, comparing the post's metadata; `value` is already normalized for
    /// `field` ([`MetaField::normalize_value`]) and may contain `*` wildcards.
    Field { field: MetaField, value: String },
}

/// One side of a `NEAR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NearOperand {
    /// One word, lower-cased (it may be several tokens, as in `acme水壶`); a `*` makes it
    /// a pattern over one Latin word (`acm*`).
    Term(String),
    /// Words adjacent, in order.
    Phrase(String),
}

impl NearOperand {
    /// The normalized words of the operand.
    pub fn text(&self) -> &str {
        match self {
            NearOperand::Term(text) | NearOperand::Phrase(text) => text,
        }
    }

    /// True for a word pattern such as `acm*`.
    pub fn is_wildcard(&self) -> bool {
        matches!(self, NearOperand::Term(text) if text.contains('*'))
    }
}

impl fmt::Display for NearOperand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NearOperand::Term(term) => f.write_str(term),
            NearOperand::Phrase(phrase) => write!(f, "\"{phrase}\""),
        }
    }
}

/// The post metadata a field operator compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetaField {
    /// `author:` — the author handle, compared as [`author_key`].
    Author,
    /// `source:` — the configured source name, exactly.
    Source,
    /// `site:` — the URL's host or any of its parent domains, without `www.`.
    Site,
    /// `lang:` — the post's language code (`en`, `zh`).
    Lang,
    /// `url:` — the start of the URL after `scheme://` and an optional `www.`.
    Url,
}

impl MetaField {
    /// Every field, in the order the docs list them.
    pub const ALL: [MetaField; 5] = [
        MetaField::Author,
        MetaField::Source,
        MetaField::Site,
        MetaField::Lang,
        MetaField::Url,
    ];

    /// The name written before the colon.
    pub fn name(self) -> &'static str {
        match self {
            MetaField::Author => "author",
            MetaField::Source => "source",
            MetaField::Site => "site",
            MetaField::Lang => "lang",
            MetaField::Url => "url",
        }
    }

    /// The field called `name`, in any case.
    pub fn from_name(name: &str) -> Option<MetaField> {
        MetaField::ALL
            .into_iter()
            .find(|field| field.name().eq_ignore_ascii_case(name))
    }

    fn example(self) -> &'static str {
        match self {
            MetaField::Author => "author:alice or author:\"Jane Doe\"",
            MetaField::Source => "source:hn",
            MetaField::Site => "site:example.com",
            MetaField::Lang => "lang:zh",
            MetaField::Url => "url:example.com/blog",
        }
    }

    /// The value as the matcher and the index compare it: `author` as
    /// [`author_key`] (`@Alice` → `alice`), `site` as [`site_key`], `lang` lower-cased,
    /// `url` lower-cased without its scheme and a leading `www.`, `source` trimmed only.
    pub fn normalize_value(self, raw: &str) -> String {
        let raw = raw.trim();
        match self {
            MetaField::Author => author_key(raw),
            MetaField::Source => raw.to_string(),
            MetaField::Site => site_key(raw),
            MetaField::Lang => raw.to_lowercase(),
            MetaField::Url => {
                let lowered = raw.to_lowercase();
                let rest = after_scheme(&lowered).unwrap_or(&lowered);
                rest.strip_prefix("www.").unwrap_or(rest).to_string()
            }
        }
    }
}

impl fmt::Display for MetaField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A query the parser could not read: where, what it expected, what it found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query error at column {column}: expected {expected}, found {found}")]
pub struct QueryError {
    /// 1-based character column in the query string.
    pub column: usize,
    /// What would have been valid there.
    pub expected: String,
    /// What was there instead.
    pub found: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near(u32),
    Star,
    Word(String),
    Phrase(String),
    Field(MetaField, String),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::LParen => "'('".into(),
            Token::RParen => "')'".into(),
            Token::And => "AND".into(),
            Token::Or => "OR".into(),
            Token::Not => "NOT".into(),
            Token::Near(distance) => format!("NEAR/{distance}"),
            Token::Star => "'*'".into(),
            Token::Word(w) => format!("term {w:?}"),
            Token::Phrase(p) => format!("phrase \"{p}\""),
            Token::Field(field, value) => format!("{field}:{value:?}"),
        }
    }
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”')
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')') || is_quote(c)
}

/// What sits at `index` of the query, for "found …" in errors.
fn describe_at(chars: &[char], index: usize) -> String {
    match chars.get(index) {
        None => "the end of the query".into(),
        Some(c) if c.is_whitespace() => "a space".into(),
        Some(c) => format!("'{c}'"),
    }
}

/// Reads a quoted string whose opening quote is at `open`; returns it and the index
/// after the closing quote.
fn read_quoted(chars: &[char], open: usize, what: &str) -> Result<(String, usize), QueryError> {
    let start = open + 1;
    let mut end = start;
    while end < chars.len() && !is_quote(chars[end]) {
        end += 1;
    }
    if end == chars.len() {
        return Err(QueryError {
            column: open + 1,
            expected: format!("a closing '\"' for this {what}"),
            found: "the end of the query".into(),
        });
    }
    Ok((chars[start..end].iter().collect(), end + 1))
}

/// `author:` etc. at `start`: the field and the index just after the colon.
fn field_prefix(chars: &[char], start: usize) -> Option<(MetaField, usize)> {
    let mut end = start;
    while end < chars.len() && chars[end].is_ascii_alphabetic() {
        end += 1;
    }
    if end == start || chars.get(end) != Some(&':') {
        return None;
    }
    let name: String = chars[start..end].iter().collect();
    MetaField::from_name(&name).map(|field| (field, end + 1))
}

fn tokenize(input: &str) -> Result<Vec<(usize, Token)>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push((column, Token::LParen));
            i += 1;
        } else if c == ')' {
            tokens.push((column, Token::RParen));
            i += 1;
        } else if is_quote(c) {
            let (phrase, next) = read_quoted(&chars, i, "phrase")?;
            if phrase.trim().is_empty() {
                return Err(QueryError {
                    column,
                    expected: "words inside the quotes".into(),
                    found: "an empty phrase".into(),
                });
            }
            tokens.push((column, Token::Phrase(phrase)));
            i = next;
        } else if let Some((field, value_start)) = field_prefix(&chars, i) {
            let (value, next) = if chars.get(value_start).copied().is_some_and(is_quote) {
                read_quoted(&chars, value_start, "value")?
            } else {
                let mut end = value_start;
                while end < chars.len() && !ends_word(chars[end]) {
                    end += 1;
                }
                (chars[value_start..end].iter().collect(), end)
            };
            let missing = |found: String| QueryError {
                column: value_start + 1,
                expected: format!(
                    "a value right after {field}: (e.g. {}; to match several, write {field}:a OR {field}:b)",
                    field.example()
                ),
                found,
            };
            if value.trim().is_empty() {
                let found = if next > value_start {
                    "empty quotes".to_string()
                } else {
                    describe_at(&chars, value_start)
                };
                return Err(missing(found));
            }
            let normalized = field.normalize_value(&value);
            if normalized.is_empty() {
                return Err(missing(format!("{value:?}")));
            }
            tokens.push((column, Token::Field(field, normalized)));
            i = next;
        } else {
            let start = i;
            while i < chars.len() && !ends_word(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let token = match word.as_str() {
                "AND" => Token::And,
                "OR" => Token::Or,
                "NOT" => Token::Not,
                "NEAR" => Token::Near(DEFAULT_NEAR_DISTANCE),
                "*" => Token::Star,
                _ => match word.strip_prefix("NEAR/") {
                    Some(digits) => Token::Near(near_distance(&chars, start, digits)?),
                    None => Token::Word(word),
                },
            };
            tokens.push((column, token));
        }
    }
    Ok(tokens)
}

/// The `n` of `NEAR/n`; `word_start` indexes the `N`.
fn near_distance(chars: &[char], word_start: usize, digits: &str) -> Result<u32, QueryError> {
    let digits_at = word_start + "NEAR/".len();
    let expected = "a number of positions after NEAR/ (e.g. NEAR/5)";
    if digits.is_empty() {
        return Err(QueryError {
            column: digits_at + 1,
            expected: expected.into(),
            found: describe_at(chars, digits_at),
        });
    }
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(QueryError {
            column: digits_at + 1,
            expected: expected.into(),
            found: format!("{digits:?}"),
        });
    }
    match digits.parse::<u32>() {
        Ok(distance) if distance <= MAX_NEAR_DISTANCE => Ok(distance),
        _ => Err(QueryError {
            column: digits_at + 1,
            expected: format!("a distance of at most {MAX_NEAR_DISTANCE} after NEAR/"),
            found: digits.to_string(),
        }),
    }
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    end_column: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }

    fn column_of(&self, pos: usize) -> usize {
        self.tokens
            .get(pos)
            .map_or(self.end_column, |(column, _)| *column)
    }

    fn error(&self, expected: &str) -> QueryError {
        match self.tokens.get(self.pos) {
            Some((column, token)) => QueryError {
                column: *column,
                expected: expected.into(),
                found: token.describe(),
            },
            None => QueryError {
                column: self.end_column,
                expected: expected.into(),
                found: "the end of the query".into(),
            },
        }
    }

    fn enter(&mut self) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(QueryError {
                column: self.column_of(self.pos),
                expected: format!("at most {MAX_NESTING} nested groups and NOTs"),
                found: "deeper nesting".into(),
            });
        }
        Ok(())
    }

    fn query(&mut self) -> Result<Query, QueryError> {
        let mut include = self.or_expr()?;
        while self.peek() == Some(&Token::Not) {
            self.pos += 1;
            let exclude = self.or_expr()?;
            include = Query::And(vec![include, Query::Not(Box::new(exclude))]);
        }
        Ok(include)
    }

    fn or_expr(&mut self) -> Result<Query, QueryError> {
        let mut alternatives = vec![self.and_expr()?];
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            alternatives.push(self.and_expr()?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.pop().expect("one")
        } else {
            Query::Or(alternatives)
        })
    }

    fn and_expr(&mut self) -> Result<Query, QueryError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Token::And) => {
                    self.pos += 1;
                    parts.push(self.unary()?);
                }
                Some(
                    Token::Word(_)
                    | Token::Phrase(_)
                    | Token::LParen
                    | Token::Star
                    | Token::Field(..),
                ) => {
                    parts.push(self.unary()?);
                }
                _ => break,
            }
        }
        Ok(if parts.len() == 1 {
            parts.pop().expect("one")
        } else {
            Query::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Query, QueryError> {
        if self.peek() == Some(&Token::Not) {
            self.pos += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Query::Not(Box::new(inner)));
        }
        self.near()
    }

    fn near(&mut self) -> Result<Query, QueryError> {
        let left_pos = self.pos;
        let left = self.atom()?;
        let Some(Token::Near(distance)) = self.peek().cloned() else {
            return Ok(left);
        };
        let left = self.near_operand(left, left_pos)?;
        self.pos += 1;
        let right_pos = self.pos;
        let right = match self.peek().cloned() {
            Some(Token::Word(word)) => {
                self.pos += 1;
                word_query(&word, self.column_of(right_pos))?
            }
            Some(Token::Phrase(phrase)) => {
                self.pos += 1;
                phrase_query(&phrase, self.column_of(right_pos))?
            }
            _ => return Err(self.error("a term or \"phrase\" after NEAR")),
        };
        let right = self.near_operand(right, right_pos)?;
        if let Some(Token::Near(_)) = self.peek() {
            return Err(self.error(
                "AND, OR, NOT or the end of the query (NEAR joins exactly two terms or phrases: write a NEAR/2 b AND b NEAR/2 c)",
            ));
        }
        Ok(Query::Near {
            left,
            right,
            distance,
        })
    }

    /// `query`, parsed from the tokens starting at `pos`, as one side of a NEAR.
    fn near_operand(&self, query: Query, pos: usize) -> Result<NearOperand, QueryError> {
        let column = self.column_of(pos);
        let found = || match self.tokens.get(pos) {
            Some((_, Token::LParen)) => "a group in parentheses".to_string(),
            Some((_, token)) => token.describe(),
            None => "the end of the query".to_string(),
        };
        match query {
            Query::Term(term) if term.contains('*') && term.chars().any(is_cjk) => {
                Err(QueryError {
                    column,
                    expected: "a term, a \"phrase\" or a pattern over one Latin word (acm*) next to NEAR; patterns with Chinese characters cannot be used there".into(),
                    found: format!("the pattern {term:?}"),
                })
            }
            Query::Term(term) => Ok(NearOperand::Term(term)),
            Query::Phrase(phrase) => Ok(NearOperand::Phrase(phrase)),
            _ => Err(QueryError {
                column,
                expected: "a term or \"phrase\" on each side of NEAR".into(),
                found: found(),
            }),
        }
    }

    fn atom(&mut self) -> Result<Query, QueryError> {
        const EXPECTED: &str = "a term, a \"phrase\", field:value, '(' or '*'";
        let token = self.peek().cloned().ok_or_else(|| self.error(EXPECTED))?;
        let column = self.column_of(self.pos);
        match token {
            Token::Word(word) => {
                self.pos += 1;
                word_query(&word, column)
            }
            Token::Phrase(phrase) => {
                self.pos += 1;
                phrase_query(&phrase, column)
            }
            Token::Field(field, value) => {
                self.pos += 1;
                Ok(Query::Field { field, value })
            }
            Token::Star => {
                self.pos += 1;
                Ok(Query::All)
            }
            Token::LParen => {
                self.pos += 1;
                self.enter()?;
                let inner = self.query()?;
                self.depth -= 1;
                if self.peek() != Some(&Token::RParen) {
                    return Err(self.error("')' to close the '(' or an operator (AND, OR, NOT)"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Token::Near(_) => Err(self.error("a term or \"phrase\" before NEAR")),
            _ => Err(self.error(EXPECTED)),
        }
    }
}

/// A word of the query: a term, a phrase when separators split it (`e-mail`), a pattern
/// when it has `*` (each separated piece its own pattern, all required).
fn word_query(word: &str, column: usize) -> Result<Query, QueryError> {
    if word.contains('*') {
        let mut pieces: Vec<Query> = normalize_keep_star(word)
            .split(' ')
            .filter(|piece| !piece.chars().all(|c| c == '*'))
            .map(|piece| Query::Term(piece.to_string()))
            .collect();
        return Ok(match pieces.len() {
            0 => Query::All,
            1 => pieces.pop().expect("one"),
            _ => Query::And(pieces),
        });
    }
    let normalized = normalize(word);
    if normalized.is_empty() {
        return Err(QueryError {
            column,
            expected: "a term with letters or digits".into(),
            found: format!("{word:?}"),
        });
    }
    Ok(if normalized.contains(' ') {
        // "acme's" or "e-mail": several words, matched as a phrase.
        Query::Phrase(normalized)
    } else {
        Query::Term(normalized)
    })
}

fn phrase_query(phrase: &str, column: usize) -> Result<Query, QueryError> {
    let normalized = normalize(phrase);
    if normalized.is_empty() {
        return Err(QueryError {
            column,
            expected: "letters or digits inside the quotes".into(),
            found: format!("\"{phrase}\""),
        });
    }
    Ok(Query::Phrase(normalized))
}

/// Lower-cases and turns every run of separators (anything that is neither a word
/// character nor CJK) into one space, or into nothing between a CJK character and a
/// word character (`acme 水壶` = `acme水壶`). Texts and query terms go through the same
/// function so they compare equal.
pub fn normalize(text: &str) -> String {
    normalize_with(text, false)
}

fn normalize_keep_star(text: &str) -> String {
    normalize_with(text, true)
}

fn is_ascii_kept(byte: u8, keep_star: bool) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || (keep_star && byte == b'*')
}

/// [`normalize`]'s engine. Brand matching runs it over every crawled text, so the
/// common cases avoid the Unicode tables: ASCII bytes (most crawled text; Chinese posts
/// carry Latin words and punctuation too) are classified and lower-cased as bytes —
/// `is_word_char` on ASCII is exactly alphanumeric or `_` — and CJK characters, which
/// have no case, are copied as they are. Same output as going through `char` methods
/// for everything (tested against such a version).
fn normalize_with(text: &str, keep_star: bool) -> String {
    let mut out = String::with_capacity(text.len());
    // Whether the last character written was CJK; None before the first.
    let mut last_cjk: Option<bool> = None;
    let mut pending_space = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte < 0x80 {
            i += 1;
            if is_ascii_kept(byte, keep_star) {
                if pending_space && last_cjk == Some(false) {
                    out.push(' ');
                }
                pending_space = false;
                last_cjk = Some(false);
                out.push(char::from(byte.to_ascii_lowercase()));
            } else {
                pending_space = true;
            }
            continue;
        }
        // `i` is on a character boundary: it only ever moves by whole characters.
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        i += c.len_utf8();
        let cjk = is_cjk(c);
        if cjk || is_word_char(c) {
            if pending_space && last_cjk == Some(cjk) {
                out.push(' ');
            }
            pending_space = false;
            if cjk {
                out.push(c);
            } else {
                out.extend(c.to_lowercase());
            }
            last_cjk = Some(cjk);
        } else {
            pending_space = true;
        }
    }
    out
}

/// The tokens of a text and their positions, as `NEAR` counts them: each Latin word and
/// each CJK character is one token; the position after a CJK character is skipped when
/// spaces or punctuation separate it from the next CJK character. Tokens are lower-cased
/// (the text is [`normalize`]d first). `vigil-index` numbers its tokens the same way.
pub fn word_positions(text: &str) -> Vec<(u32, String)> {
    let normalized = normalize(text);
    positioned_tokens(&normalized)
        .into_iter()
        .map(|token| {
            (
                token.position,
                normalized[token.start..token.end].to_string(),
            )
        })
        .collect()
}

/// A token of normalized text: its position and byte range.
#[derive(Debug, Clone, Copy)]
struct TextToken {
    position: u32,
    start: usize,
    end: usize,
    cjk: bool,
}

/// Walks normalized text (separators already single spaces, none at the ends).
fn positioned_tokens(normalized: &str) -> Vec<TextToken> {
    let mut tokens = Vec::new();
    let mut position: u32 = 0;
    let mut word_start: Option<usize> = None;
    let mut last_cjk: Option<bool> = None;
    let mut after_space = false;
    let close_word =
        |tokens: &mut Vec<TextToken>, start: &mut Option<usize>, end: usize, position: &mut u32| {
            if let Some(start) = start.take() {
                tokens.push(TextToken {
                    position: *position,
                    start,
                    end,
                    cjk: false,
                });
                *position = position.saturating_add(1);
            }
        };
    for (offset, c) in normalized.char_indices() {
        if c == ' ' {
            close_word(&mut tokens, &mut word_start, offset, &mut position);
            after_space = true;
            continue;
        }
        let cjk = is_cjk(c);
        if cjk {
            close_word(&mut tokens, &mut word_start, offset, &mut position);
            if after_space && last_cjk == Some(true) {
                position = position.saturating_add(1);
            }
            tokens.push(TextToken {
                position,
                start: offset,
                end: offset + c.len_utf8(),
                cjk: true,
            });
            position = position.saturating_add(1);
        } else if word_start.is_none() {
            word_start = Some(offset);
        }
        after_space = false;
        last_cjk = Some(cjk);
    }
    close_word(
        &mut tokens,
        &mut word_start,
        normalized.len(),
        &mut position,
    );
    tokens
}

/// Post metadata for field operators; every part optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchMeta<'a> {
    /// The author as the source gave it (`@Alice`).
    pub author: Option<&'a str>,
    /// The configured source name.
    pub source: Option<&'a str>,
    /// The post's URL.
    pub url: Option<&'a str>,
    /// The post's language code.
    pub lang: Option<&'a str>,
}

impl<'a> MatchMeta<'a> {
    /// The metadata of a post, as the index holds it: author, source name, URL and
    /// language.
    pub fn of_post(post: &'a crate::Post) -> Self {
        Self {
            author: post.author.as_deref(),
            source: Some(&post.source),
            url: post.url.as_deref(),
            lang: post.lang.as_deref(),
        }
    }
}

/// [`MatchMeta`] in the form field operators compare.
#[derive(Debug, Clone)]
struct PreparedMeta {
    author: Option<String>,
    source: Option<String>,
    sites: Vec<String>,
    url: Option<String>,
    lang: Option<String>,
}

impl PreparedMeta {
    fn new(meta: MatchMeta<'_>) -> Self {
        Self {
            author: meta.author.map(author_key),
            source: meta.source.map(str::to_string),
            sites: meta.url.map(site_keys).unwrap_or_default(),
            url: meta.url.map(str::to_lowercase),
            lang: meta.lang.map(str::to_string),
        }
    }

    fn matches(&self, field: MetaField, value: &str) -> bool {
        match field {
            MetaField::Author => self
                .author
                .as_deref()
                .is_some_and(|author| value_matches(value, author)),
            MetaField::Source => self
                .source
                .as_deref()
                .is_some_and(|source| value_matches(value, source)),
            MetaField::Lang => self
                .lang
                .as_deref()
                .is_some_and(|lang| value_matches(value, lang)),
            MetaField::Site => self.sites.iter().any(|site| value_matches(value, site)),
            MetaField::Url => self
                .url
                .as_deref()
                .is_some_and(|url| url_matches(value, url)),
        }
    }
}

fn value_matches(pattern: &str, value: &str) -> bool {
    if pattern.contains('*') {
        wildcard_matches(pattern, value)
    } else {
        pattern == value
    }
}

/// The part of a lower-case URL after `scheme://`, when it starts with a scheme
/// (`[a-z][a-z0-9+.-]*`).
fn after_scheme(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '-'));
    valid.then_some(rest)
}

/// `url:value` against a lower-cased URL: `value` (already without scheme and `www.`)
/// must start the URL after its scheme, with or without a `www.` there. URLs without a
/// scheme never match. The index's regex over `url_key` says the same.
fn url_matches(value: &str, url: &str) -> bool {
    let Some(rest) = after_scheme(url) else {
        return false;
    };
    let pattern = format!("{value}*");
    wildcard_matches(&pattern, rest)
        || rest
            .strip_prefix("www.")
            .is_some_and(|without_www| wildcard_matches(&pattern, without_www))
}

/// Text prepared once for matching against many queries (one per brand), with the
/// post's metadata when field operators should see it.
#[derive(Debug, Clone)]
pub struct MatchText {
    normalized: String,
    /// Computed on first use: only NEAR and word patterns need them.
    tokens: OnceLock<Vec<TextToken>>,
    meta: Option<PreparedMeta>,
}

impl MatchText {
    /// The text alone: field operators match nothing.
    pub fn new(text: &str) -> Self {
        Self {
            normalized: normalize(text),
            tokens: OnceLock::new(),
            meta: None,
        }
    }

    /// The text and the post's metadata, which field operators compare.
    pub fn with_meta(text: &str, meta: MatchMeta<'_>) -> Self {
        Self {
            meta: Some(PreparedMeta::new(meta)),
            ..Self::new(text)
        }
    }

    fn tokens(&self) -> &[TextToken] {
        self.tokens
            .get_or_init(|| positioned_tokens(&self.normalized))
    }

    fn token_text(&self, token: &TextToken) -> &str {
        &self.normalized[token.start..token.end]
    }
}

impl Query {
    /// Parses a query; errors name the column and what was expected there.
    pub fn parse(input: &str) -> Result<Query, QueryError> {
        let tokens = tokenize(input)?;
        let mut parser = Parser {
            tokens,
            pos: 0,
            end_column: input.chars().count() + 1,
            depth: 0,
        };
        let query = parser.query()?;
        if parser.pos < parser.tokens.len() {
            let expected = match parser.peek() {
                Some(Token::RParen) => {
                    "an operator or the end of the query (this ')' has no matching '(')"
                }
                Some(Token::Near(_)) => {
                    "an operator (AND, OR, NOT) or the end of the query (NEAR needs a term or \"phrase\" on its left)"
                }
                _ => "an operator (AND, OR, NOT) or the end of the query",
            };
            return Err(parser.error(expected));
        }
        Ok(query)
    }

    /// Does `text` match? Field operators match nothing here: use
    /// [`MatchText::with_meta`] and [`Query::matches_prepared`] to give them metadata.
    /// For many queries over one text, prepare it once with [`MatchText::new`].
    pub fn matches(&self, text: &str) -> bool {
        self.matches_prepared(&MatchText::new(text))
    }

    /// Does the prepared text (and metadata, if it has some) match?
    pub fn matches_prepared(&self, text: &MatchText) -> bool {
        match self {
            Query::All => true,
            Query::Term(term) if term.contains('*') => wildcard_match(term, text),
            Query::Term(term) | Query::Phrase(term) => {
                contains_on_boundaries(&text.normalized, term)
            }
            Query::And(parts) => parts.iter().all(|q| q.matches_prepared(text)),
            Query::Or(parts) => parts.iter().any(|q| q.matches_prepared(text)),
            Query::Not(inner) => !inner.matches_prepared(text),
            Query::Near {
                left,
                right,
                distance,
            } => near_match(left, right, *distance, text),
            Query::Field { field, value } => text
                .meta
                .as_ref()
                .is_some_and(|meta| meta.matches(*field, value)),
        }
    }

    /// The positive terms and phrases (not under NOT), NEAR operands included, field
    /// values not: for highlighting, and for the Chinese segmenter's user dictionary.
    pub fn positive_terms(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_terms(false, &mut out);
        out
    }

    fn collect_terms(&self, negated: bool, out: &mut Vec<String>) {
        match self {
            Query::All | Query::Field { .. } => {}
            Query::Term(t) | Query::Phrase(t) => {
                if !negated {
                    out.push(t.clone());
                }
            }
            Query::Near { left, right, .. } => {
                if !negated {
                    out.push(left.text().to_string());
                    out.push(right.text().to_string());
                }
            }
            Query::And(parts) | Query::Or(parts) => {
                for part in parts {
                    part.collect_terms(negated, out);
                }
            }
            Query::Not(inner) => inner.collect_terms(!negated, out),
        }
    }

    /// True when the query has a field operator anywhere (it then needs metadata, see
    /// [`MatchText::with_meta`]).
    pub fn has_field_operators(&self) -> bool {
        match self {
            Query::Field { .. } => true,
            Query::And(parts) | Query::Or(parts) => parts.iter().any(Query::has_field_operators),
            Query::Not(inner) => inner.has_field_operators(),
            Query::All | Query::Term(_) | Query::Phrase(_) | Query::Near { .. } => false,
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::All => f.write_str("*"),
            Query::Term(t) => f.write_str(t),
            Query::Phrase(p) => write!(f, "\"{p}\""),
            Query::And(parts) | Query::Or(parts) => {
                let op = if matches!(self, Query::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                f.write_str("(")?;
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    write!(f, "{part}")?;
                }
                f.write_str(")")
            }
            Query::Not(inner) => write!(f, "NOT {inner}"),
            Query::Near {
                left,
                right,
                distance,
            } => write!(f, "{left} NEAR/{distance} {right}"),
            Query::Field { field, value } => {
                let bare = !value.is_empty() && !value.chars().any(ends_word);
                if bare {
                    write!(f, "{field}:{value}")
                } else {
                    write!(f, "{field}:\"{value}\"")
                }
            }
        }
    }
}

/// Finds `needle` in `haystack` where it is not glued to other word characters.
/// CJK needles need no boundary: Chinese is written without spaces.
fn contains_on_boundaries(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let first_is_word = needle.chars().next().is_some_and(is_word_char);
    let last_is_word = needle.chars().next_back().is_some_and(is_word_char);
    let mut from = 0;
    while let Some(offset) = haystack[from..].find(needle) {
        let start = from + offset;
        let end = start + needle.len();
        let before_ok = !first_is_word
            || !haystack[..start]
                .chars()
                .next_back()
                .is_some_and(is_word_char);
        let after_ok = !last_is_word || !haystack[end..].chars().next().is_some_and(is_word_char);
        if before_ok && after_ok {
            return true;
        }
        from = start + haystack[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// `acm*` against each Latin word. A pattern with CJK may sit anywhere inside a run of
/// text without spaces, since CJK runs are whole clauses rather than words.
fn wildcard_match(pattern: &str, text: &MatchText) -> bool {
    if !pattern.chars().any(is_cjk) {
        return text
            .tokens()
            .iter()
            .filter(|token| !token.cjk)
            .any(|token| wildcard_matches(pattern, text.token_text(token)));
    }
    let mut padded = pattern.to_string();
    if padded.chars().next().is_some_and(is_cjk) {
        padded.insert(0, '*');
    }
    if padded.chars().next_back().is_some_and(is_cjk) {
        padded.push('*');
    }
    text.normalized
        .split(' ')
        .any(|chunk| wildcard_matches(&padded, chunk))
}

/// Glob matching: `*` in `pattern` matches any run of characters (none included), every
/// other character itself. Works on bytes, which is exact for UTF-8: a literal can only
/// match at a character boundary.
pub fn wildcard_matches(pattern: &str, text: &str) -> bool {
    glob(pattern.as_bytes(), text.as_bytes())
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative glob with backtracking to the last star: linear in practice.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The positions between two spans `[start, end)`, or None when they overlap. `NEAR/n`
/// holds for two occurrences when this is `Some(k)` with `k <= n`; the index uses the
/// same function.
pub fn near_gap(a: (u32, u32), b: (u32, u32)) -> Option<u32> {
    if a.1 <= b.0 {
        Some(b.0 - a.1)
    } else if b.1 <= a.0 {
        Some(a.0 - b.1)
    } else {
        None
    }
}

/// Where `operand` occurs in `text`, as position spans `[start, end)`.
fn near_spans(operand: &NearOperand, text: &MatchText) -> Vec<(u32, u32)> {
    let pattern_text = operand.text();
    let pattern = positioned_tokens(pattern_text);
    let Some(last) = pattern.last() else {
        return Vec::new();
    };
    let width = last.position + 1;
    let piece = |token: &TextToken| &pattern_text[token.start..token.end];
    let token_matches = |wanted: &TextToken, found: &TextToken| {
        let wanted_text = piece(wanted);
        let found_text = text.token_text(found);
        wanted.cjk == found.cjk
            && if wanted_text.contains('*') {
                wildcard_matches(wanted_text, found_text)
            } else {
                wanted_text == found_text
            }
    };
    let tokens = text.tokens();
    let mut spans = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        if !token_matches(&pattern[0], token) {
            continue;
        }
        let start = token.position;
        // The occurrence is consecutive tokens at the pattern's positions: a free
        // position (a break between CJK) must be free in the text too, not a word.
        let rest_found = pattern[1..].iter().enumerate().all(|(k, wanted)| {
            tokens.get(index + 1 + k).is_some_and(|found| {
                found.position == start.saturating_add(wanted.position)
                    && token_matches(wanted, found)
            })
        });
        if rest_found {
            spans.push((start, start.saturating_add(width)));
        }
    }
    spans
}

fn near_match(left: &NearOperand, right: &NearOperand, distance: u32, text: &MatchText) -> bool {
    let left_spans = near_spans(left, text);
    if left_spans.is_empty() {
        return false;
    }
    let right_spans = near_spans(right, text);
    left_spans.iter().any(|&a| {
        right_spans
            .iter()
            .any(|&b| near_gap(a, b).is_some_and(|gap| gap <= distance))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query {
        Query::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn spec_example_parses_with_not_loosest() {
        let query = q(r#""acme" OR "acme kettle" OR 艾克米 NOT "acme of skill""#);
        assert!(query.matches("My Acme kettle broke"));
        assert!(query.matches("买了艾克米水壶"));
        assert!(!query.matches("the acme of skill in kettles"));
        assert!(!query.matches("艾克米 and the acme of skill"));
        assert!(!query.matches("acmeville is a town"));
    }

    #[test]
    fn boolean_operators_and_grouping() {
        let query = q("acme (kettle OR toaster) AND NOT recall");
        assert!(query.matches("acme kettle review"));
        assert!(query.matches("ACME Toaster!"));
        assert!(!query.matches("acme kettle recall announced"));
        assert!(!query.matches("acme blender"));
        assert!(q("NOT acme").matches("hello world"));
        assert!(!q("NOT acme").matches("acme"));
        assert!(q("*").matches(""));
        assert!(q("acme *").matches("acme"));
    }

    #[test]
    fn words_match_on_boundaries_and_cjk_as_substrings() {
        assert!(q("acme").matches("I love Acme."));
        assert!(q("acme").matches("买了acme水壶"));
        assert!(q("acme").matches("买了 acme 水壶"));
        assert!(!q("acme").matches("acmes"));
        assert!(q("召回").matches("艾克米宣布召回水壶"));
        assert!(q("\"acme kettle\"").matches("acme-kettle"));
        assert!(!q("\"acme kettle\"").matches("kettle acme"));
        // Punctuation between CJK characters breaks a phrase; a space next to a Latin
        // word does not matter.
        assert!(!q("克米").matches("艾克，米"));
        assert!(q("\"acme 水壶\"").matches("我的acme水壶"));
        assert!(q("acme水壶").matches("我的 Acme 水壶"));
    }

    #[test]
    fn wildcards() {
        assert!(q("acm*").matches("Acmeville"));
        assert!(q("*ville").matches("Acmeville"));
        assert!(q("a*e").matches("acme"));
        assert!(!q("acm*").matches("an acorn"));
        assert!(q("艾克*").matches("我买了艾克米水壶"));
        // A Latin word inside Chinese text is still a word for patterns.
        assert!(q("acm*").matches("我的 Acme 水壶"));
        assert!(q("acm*").matches("我的Acme水壶"));
        // Separators inside a pattern split it into patterns that must all match.
        assert_eq!(
            q("acme's*"),
            Query::And(vec![Query::Term("acme".into()), Query::Term("s*".into())])
        );
        assert_eq!(q("**"), Query::All);
    }

    #[test]
    fn errors_name_column_and_expectation() {
        let err = Query::parse("acme OR").unwrap_err();
        assert_eq!(err.column, 8);
        assert!(err.to_string().contains("expected a term"), "{err}");
        let err = Query::parse("(acme OR kettle").unwrap_err();
        assert!(err.to_string().contains("')' to close"), "{err}");
        let err = Query::parse("acme )").unwrap_err();
        assert_eq!(err.column, 6);
        let err = Query::parse("\"acme kettle").unwrap_err();
        assert_eq!(err.column, 1);
        assert!(Query::parse("").is_err());
        assert!(Query::parse("AND acme").is_err());
        assert!(Query::parse("!!!").is_err());
        let err = Query::parse("\"!!\"").unwrap_err();
        assert_eq!((err.column, err.found.as_str()), (1, "\"!!\""));
    }

    #[test]
    fn lower_case_operators_are_words() {
        assert!(q("rock and roll").matches("rock and roll"));
        assert!(!q("rock and roll").matches("rock roll"));
        assert_eq!(q("near/5"), Query::Phrase("near 5".into()));
    }

    #[test]
    fn positive_terms_skip_negated_and_fields() {
        let query = q(r#"acme OR 艾克米 NOT "acme of skill""#);
        assert_eq!(
            query.positive_terms(),
            vec!["acme".to_string(), "艾克米".to_string()]
        );
        let query = q(r#"author:bob (召回 NEAR/3 "acme kettle") NOT (x NEAR y)"#);
        assert_eq!(query.positive_terms(), ["召回", "acme kettle"]);
        assert!(query.has_field_operators());
        assert!(!q("a NEAR b").has_field_operators());
    }

    #[test]
    fn glob_does_not_blow_up() {
        let text = "a".repeat(200);
        assert!(!wildcard_matches("a*a*a*a*a*a*b", &text));
        assert!(wildcard_matches("a*a", &text));
        assert!(wildcard_matches("水*壶", "水龙头壶"));
        assert!(!wildcard_matches("水*壶", "水龙头"));
    }

    #[test]
    fn near_parses_with_distance_default_and_precedence() {
        assert_eq!(
            q("acme NEAR/3 kettle"),
            Query::Near {
                left: NearOperand::Term("acme".into()),
                right: NearOperand::Term("kettle".into()),
                distance: 3,
            }
        );
        assert_eq!(
            q("acme NEAR \"kettle lid\""),
            Query::Near {
                left: NearOperand::Term("acme".into()),
                right: NearOperand::Phrase("kettle lid".into()),
                distance: DEFAULT_NEAR_DISTANCE,
            }
        );
        // NEAR binds tighter than AND, and NOT negates the whole NEAR.
        let near = Query::Near {
            left: NearOperand::Term("a".into()),
            right: NearOperand::Term("b".into()),
            distance: 1,
        };
        assert_eq!(
            q("x a NEAR/1 b y"),
            Query::And(vec![
                Query::Term("x".into()),
                near.clone(),
                Query::Term("y".into())
            ])
        );
        assert_eq!(q("NOT a NEAR/1 b"), Query::Not(Box::new(near.clone())));
        assert_eq!(q("(a NEAR/1 b)"), near);
        // A separated word is a phrase operand; a pattern is a wildcard operand.
        assert_eq!(
            q("e-mail NEAR/2 acm*"),
            Query::Near {
                left: NearOperand::Phrase("e mail".into()),
                right: NearOperand::Term("acm*".into()),
                distance: 2,
            }
        );
    }

    #[test]
    fn near_counts_words_either_order() {
        let query = q("acme NEAR/2 kettle");
        assert!(query.matches("acme kettle"));
        assert!(query.matches("kettle, acme"));
        assert!(query.matches("acme's new kettle"));
        assert!(query.matches("acme: a big kettle"));
        assert!(!query.matches("acme has a big kettle"));
        assert!(!query.matches("acme alone"));
        assert!(q("acme NEAR/0 kettle").matches("Kettle ACME"));
        assert!(!q("acme NEAR/0 kettle").matches("kettle by acme"));
        // Any pair of occurrences will do.
        assert!(query.matches("acme far far far far away, then acme kettle"));
        // Overlapping occurrences are not two mentions.
        assert!(!q("acme NEAR/3 \"acme kettle\"").matches("acme kettle"));
        assert!(q("acme NEAR/3 \"acme kettle\"").matches("acme kettle and acme"));
        assert!(!q("acme NEAR/3 acme").matches("acme"));
        assert!(q("acme NEAR/3 acme").matches("acme or acme"));
    }

    #[test]
    fn near_with_phrases_and_patterns() {
        let query = q("\"acme kettle\" NEAR/2 explod*");
        assert!(query.matches("my acme kettle just exploded"));
        assert!(query.matches("Exploding acme kettle"));
        assert!(!query.matches("my acme kettle, which I loved dearly, exploded"));
        assert!(!query.matches("acme exploded kettle"));
        assert!(q("e-mail NEAR/1 acme").matches("acme sent e-mail"));
        assert!(!q("e-mail NEAR/1 acme").matches("acme sent an e-mail"));
    }

    #[test]
    fn near_counts_cjk_characters() {
        // 艾克米 (3) 宣布 (2) 召回 (2): two characters between the brand and 召回.
        let text = "艾克米宣布召回水壶";
        assert!(q("艾克米 NEAR/2 召回").matches(text));
        assert!(!q("艾克米 NEAR/1 召回").matches(text));
        assert!(q("召回 NEAR/2 艾克米").matches(text));
        // Substrings: 克米 is inside 艾克米.
        assert!(q("克米 NEAR/0 宣布").matches(text));
        // Punctuation between CJK takes one position; a Latin word takes one.
        assert!(!q("艾克米 NEAR/0 召回").matches("艾克米，召回"));
        assert!(q("艾克米 NEAR/1 召回").matches("艾克米，召回"));
        assert!(q("艾克米 NEAR/1 召回").matches("艾克米 Acme 召回"));
        assert!(!q("艾克米 NEAR/0 召回").matches("艾克米 Acme 召回"));
        // Mixed scripts.
        assert!(q("acme NEAR/1 召回").matches("acme宣召回"));
        assert!(q("acme NEAR/0 召回").matches("acme 召回了"));
        assert!(q("\"艾克米 水壶\" NEAR/0 爆炸").matches("艾克米。水壶爆炸了"));
        assert!(!q("\"艾克米 水壶\" NEAR/0 爆炸").matches("艾克米水壶爆炸了"));
        // A break in a phrase is not a Latin word, though both take one position.
        assert!(!q("\"艾克米 水壶\" NEAR/0 爆炸").matches("艾克米 acme 水壶爆炸了"));
    }

    #[test]
    fn word_positions_follow_the_rules() {
        let positions = word_positions("The Acme水壶, 爆炸！ok  ok");
        let expected: Vec<(u32, String)> = vec![
            (0, "the".into()),
            (1, "acme".into()),
            (2, "水".into()),
            (3, "壶".into()),
            // 壶 → 爆: punctuation between CJK takes a position.
            (5, "爆".into()),
            (6, "炸".into()),
            (7, "ok".into()),
            (8, "ok".into()),
        ];
        assert_eq!(positions, expected);
        assert!(word_positions(" ,, ").is_empty());
    }

    #[test]
    fn near_errors_name_column_and_expectation() {
        let err = Query::parse("acme NEAR/").unwrap_err();
        assert_eq!(err.column, 11);
        assert!(
            err.expected.contains("a number of positions after NEAR/"),
            "{err}"
        );
        assert_eq!(err.found, "the end of the query");
        let err = Query::parse("acme NEAR/x kettle").unwrap_err();
        assert_eq!((err.column, err.found.as_str()), (11, "\"x\""));
        let err = Query::parse("acme NEAR/ kettle").unwrap_err();
        assert_eq!((err.column, err.found.as_str()), (11, "a space"));
        let err = Query::parse("acme NEAR/5000 kettle").unwrap_err();
        assert!(err.expected.contains("at most 1000"), "{err}");
        let err = Query::parse("acme NEAR").unwrap_err();
        assert_eq!(err.column, 10);
        assert!(err.expected.contains("after NEAR"), "{err}");
        let err = Query::parse("acme NEAR OR kettle").unwrap_err();
        assert_eq!((err.column, err.found.as_str()), (11, "OR"));
        let err = Query::parse("NEAR kettle").unwrap_err();
        assert_eq!(err.column, 1);
        assert!(err.expected.contains("before NEAR"), "{err}");
        let err = Query::parse("a NEAR/2 b NEAR/2 c").unwrap_err();
        assert_eq!(err.column, 12);
        assert!(err.expected.contains("exactly two"), "{err}");
        let err = Query::parse("(a OR b) NEAR c").unwrap_err();
        assert_eq!(
            (err.column, err.found.as_str()),
            (1, "a group in parentheses")
        );
        let err = Query::parse("author:bob NEAR c").unwrap_err();
        assert!(err.expected.contains("each side of NEAR"), "{err}");
        let err = Query::parse("a NEAR (b)").unwrap_err();
        assert_eq!(err.column, 8);
        let err = Query::parse("a NEAR 艾克*").unwrap_err();
        assert_eq!(err.column, 8);
        assert!(err.found.contains("艾克*"), "{err}");
        let err = Query::parse("a NEAR *").unwrap_err();
        assert_eq!(err.column, 8);
    }

    #[test]
    fn field_operators_parse_and_normalize() {
        let field = |field, value: &str| Query::Field {
            field,
            value: value.into(),
        };
        assert_eq!(
            q("author:@AcmeSupport"),
            field(MetaField::Author, "acmesupport")
        );
        assert_eq!(
            q("Author:\"Jane Doe\""),
            field(MetaField::Author, "jane doe")
        );
        assert_eq!(q("source:HN"), field(MetaField::Source, "HN"));
        assert_eq!(
            q("site:WWW.Example.com"),
            field(MetaField::Site, "example.com")
        );
        assert_eq!(q("lang:ZH"), field(MetaField::Lang, "zh"));
        assert_eq!(
            q("url:https://www.Example.com/Blog*"),
            field(MetaField::Url, "example.com/blog*")
        );
        assert_eq!(
            q("(author:a OR author:b) kettle"),
            Query::And(vec![
                Query::Or(vec![
                    field(MetaField::Author, "a"),
                    field(MetaField::Author, "b")
                ]),
                Query::Term("kettle".into()),
            ])
        );
        // Unknown prefixes stay terms.
        assert_eq!(q("ratio:3"), Query::Phrase("ratio 3".into()));
        assert_eq!(
            q("https://example.com"),
            Query::Phrase("https example com".into())
        );
    }

    #[test]
    fn field_errors_name_column_and_expectation() {
        let err = Query::parse("kettle author:").unwrap_err();
        assert_eq!(
            (err.column, err.found.as_str()),
            (15, "the end of the query")
        );
        assert!(
            err.expected.contains("a value right after author:"),
            "{err}"
        );
        let err = Query::parse("author: bob").unwrap_err();
        assert_eq!((err.column, err.found.as_str()), (8, "a space"));
        let err = Query::parse("author:(a OR b)").unwrap_err();
        assert_eq!((err.column, err.found.as_str()), (8, "'('"));
        assert!(err.expected.contains("author:a OR author:b"), "{err}");
        let err = Query::parse("author:\"\"").unwrap_err();
        assert_eq!((err.column, err.found.as_str()), (8, "empty quotes"));
        let err = Query::parse("author:\"jane").unwrap_err();
        assert_eq!(err.column, 8);
        assert!(err.expected.contains("closing"), "{err}");
        let err = Query::parse("author:@").unwrap_err();
        assert_eq!((err.column, err.found.as_str()), (8, "\"@\""));
    }

    #[test]
    fn field_operators_match_metadata() {
        let meta = MatchMeta {
            author: Some("@JaneDoe"),
            source: Some("hn"),
            url: Some("https://www.News.Example.com/Blog/2024/kettle?id=1"),
            lang: Some("en"),
        };
        let text = MatchText::with_meta("the kettle exploded", meta);
        let yes = |query: &str| assert!(q(query).matches_prepared(&text), "{query}");
        let no = |query: &str| assert!(!q(query).matches_prepared(&text), "{query}");
        yes("author:janedoe");
        yes("author:@JANEDOE kettle");
        yes("author:jane*");
        no("author:jane");
        yes("source:hn");
        no("source:HN");
        no("source:h");
        yes("source:h*");
        yes("site:example.com");
        yes("site:news.example.com");
        yes("site:www.example.com");
        no("site:other.com");
        no("site:ample.com");
        yes("lang:en");
        yes("lang:EN");
        no("lang:zh");
        yes("url:news.example.com/blog");
        yes("url:https://news.example.com/blog/2024");
        yes("url:http://news.example.com/blog");
        yes("url:www.news.example.com/blog");
        yes("url:*kettle*");
        yes("url:news.example.com/*/2024");
        no("url:example.com");
        no("url:blog");
        yes("kettle NOT author:bob");
        // Without metadata a field operator matches nothing.
        let bare = MatchText::new("the kettle exploded");
        assert!(!q("author:janedoe").matches_prepared(&bare));
        assert!(q("NOT author:janedoe").matches_prepared(&bare));
        assert!(!q("source:hn").matches("hn"));
    }

    #[test]
    fn url_operator_needs_a_scheme_in_the_post_url() {
        let text = |url| {
            MatchText::with_meta(
                "",
                MatchMeta {
                    url: Some(url),
                    ..MatchMeta::default()
                },
            )
        };
        assert!(q("url:example.com").matches_prepared(&text("HTTPS://EXAMPLE.COM/")));
        assert!(!q("url:example.com").matches_prepared(&text("example.com/x")));
        assert!(!q("url:https").matches_prepared(&text("https://example.com/")));
        assert!(q("url:www.x.com").matches_prepared(&text("https://x.com/")));
        assert!(q("url:x.com").matches_prepared(&text("ftp://www.x.com/")));
    }

    #[test]
    fn display_round_trips_new_constructs() {
        for text in [
            "acme NEAR/3 kettle",
            "\"acme kettle\" NEAR explod*",
            "NOT 艾克米 NEAR/0 召回 OR x",
            "author:\"jane doe\" source:hn site:example.com lang:zh url:example.com/a*",
            "source:\"AND\"",
            "source:AND",
            "(a OR b NOT c) NEAR/1 d OR e",
        ] {
            let Ok(query) = Query::parse(text) else {
                continue;
            };
            let shown = query.to_string();
            assert_eq!(q(&shown), query, "{text} → {shown}");
        }
    }

    /// The reference implementation the fast path must agree with.
    fn normalize_char_by_char(text: &str, keep_star: bool) -> String {
        let mut out = String::new();
        let mut last_cjk: Option<bool> = None;
        let mut pending_space = false;
        for c in text.chars() {
            let cjk = is_cjk(c);
            if cjk || is_word_char(c) || (keep_star && c == '*') {
                if pending_space && last_cjk == Some(cjk) {
                    out.push(' ');
                }
                pending_space = false;
                out.extend(c.to_lowercase());
                last_cjk = Some(cjk);
            } else {
                pending_space = true;
            }
        }
        out
    }

    #[test]
    fn normalize_fast_path_equals_char_by_char() {
        let samples = [
            "The ACME Kettle EXPLODED!!! (again) e-mail: x_y@z.com",
            "我的Acme水壶 exploded 了，真的 BAD…",
            "Ünïcödé CAFÉ naïve İstanbul ΣΊΣΥΦΟΣ straße",
            "  leading and trailing  ",
            "a*b *ville 艾克* -- ** _",
            "🙂🙂 emoji🙂between 😡",
            "\u{0}\u{7f}\t\n\r",
            "",
        ];
        for sample in samples {
            for keep_star in [false, true] {
                assert_eq!(
                    normalize_with(sample, keep_star),
                    normalize_char_by_char(sample, keep_star),
                    "{sample:?}"
                );
            }
        }
        const PIECES: &[&str] = &[
            "A", "b", "Z9", "_", " ", "-", "*", "é", "É", "İ", "ß", "艾", "克", "，", "。", "🙂",
            "\u{301}", "ｱ", "한", "\t", "Ω", "'", "1", "あ", "カ", "㐀", "豈", "𠀀", "Ⅻ", "ǅ",
        ];
        let mut state: u64 = 0x0dd5_eed5;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        for _ in 0..5_000 {
            let text: String = (0..next() % 24)
                .map(|_| PIECES[next() % PIECES.len()])
                .collect();
            for keep_star in [false, true] {
                assert_eq!(
                    normalize_with(&text, keep_star),
                    normalize_char_by_char(&text, keep_star),
                    "{text:?}"
                );
            }
        }
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    const PIECES: &[&str] = &[
        "acme",
        "\"",
        "(",
        ")",
        "AND",
        "OR",
        "NOT",
        "NEAR",
        "NEAR/2",
        "NEAR/",
        "NEAR/x",
        "*",
        "艾克米",
        "召回",
        " ",
        "a*b",
        "“",
        "”",
        "-",
        "é",
        "\u{0}",
        "\\",
        "🔥",
        "NOT NOT",
        "((",
        "))",
        "author:",
        "url:",
        "site:x.com",
        "lang:\"zh\"",
        "source:",
        ":",
        "kettle",
    ];

    fn generator(seed: u64) -> impl FnMut() -> usize {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize
        }
    }

    /// Seeded random queries and texts built from the language's own pieces: the parser
    /// and matcher must return (Ok or a located error), never panic, on any of them;
    /// every query that parses must print as a query that parses back to itself.
    #[test]
    fn random_queries_never_panic_and_round_trip() {
        let mut next = generator(0x5eed);
        let mut parsed_count = 0;
        for _ in 0..30_000 {
            let length = next() % 12;
            let query: String = (0..length)
                .map(|_| PIECES[next() % PIECES.len()])
                .collect::<Vec<_>>()
                .join(if next().is_multiple_of(2) { " " } else { "" });
            match Query::parse(&query) {
                Ok(parsed) => {
                    parsed_count += 1;
                    let text: String = (0..next() % 8)
                        .map(|_| PIECES[next() % PIECES.len()])
                        .collect();
                    let _ = parsed.matches(&text);
                    let with_meta = MatchText::with_meta(
                        &text,
                        MatchMeta {
                            author: Some(&text),
                            source: Some("acme"),
                            url: Some("https://x.com/a"),
                            lang: Some("zh"),
                        },
                    );
                    let _ = parsed.matches_prepared(&with_meta);
                    let _ = parsed.positive_terms();
                    let shown = parsed.to_string();
                    assert_eq!(
                        Query::parse(&shown).as_ref(),
                        Ok(&parsed),
                        "{query:?} printed as {shown:?}"
                    );
                }
                Err(error) => assert!(
                    error.column >= 1 && error.column <= query.chars().count() + 1,
                    "{query:?}: {error}"
                ),
            }
        }
        assert!(parsed_count > 3_000, "only {parsed_count} queries parsed");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}acme{}", "(".repeat(10_000), ")".repeat(10_000));
        let error = Query::parse(&deep).unwrap_err();
        assert!(error.expected.contains("nested"), "{error}");
        let nots = "NOT ".repeat(10_000) + "acme";
        assert!(Query::parse(&nots).is_err());
        let fine = format!("{}acme{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(q(&fine), Query::Term("acme".into()));
    }

    fn q(s: &str) -> Query {
        Query::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
}

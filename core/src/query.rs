//! The boolean query language shared by brand definitions, `vigil search`, the API and
//! keyword rules.
//!
//! ```text
//! query    := or_expr ( "NOT" or_expr )*      binary NOT binds loosest:  a OR b NOT c  =  (a OR b) AND NOT c
//! or_expr  := and_expr ( "OR" and_expr )*
//! and_expr := unary ( ["AND"] unary )*        juxtaposition means AND
//! unary    := "NOT" unary | atom               a leading NOT, or one after AND, negates one atom
//! atom     := TERM | "PHRASE" | "(" query ")" | "*"
//! ```
//! Operators are upper-case; lower-case `and`/`or`/`not` are ordinary words. Terms are
//! case-insensitive and match whole words; `*` inside a term matches any run of word
//! characters (`acm*`). Chinese (and other CJK) terms match as substrings, since those
//! scripts put no spaces between words. A lone `*` matches everything.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::text::{is_cjk, is_word_char};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    /// `*`: every post.
    All,
    /// A single word, lower-cased; may contain `*` wildcards.
    Term(String),
    /// Words that must appear in this order, adjacent.
    Phrase(String),
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
}

/// A query the parser could not read: where, what it expected, what it found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query error at column {column}: expected {expected}, found {found}")]
pub struct QueryError {
    /// 1-based character column in the query string.
    pub column: usize,
    pub expected: String,
    pub found: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Star,
    Word(String),
    Phrase(String),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::LParen => "'('".into(),
            Token::RParen => "')'".into(),
            Token::And => "AND".into(),
            Token::Or => "OR".into(),
            Token::Not => "NOT".into(),
            Token::Star => "'*'".into(),
            Token::Word(w) => format!("term {w:?}"),
            Token::Phrase(p) => format!("phrase \"{p}\""),
        }
    }
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
        } else if c == '"' || c == '“' || c == '”' {
            let start = i + 1;
            let mut end = start;
            while end < chars.len() && !matches!(chars[end], '"' | '“' | '”') {
                end += 1;
            }
            if end == chars.len() {
                return Err(QueryError {
                    column,
                    expected: "a closing '\"' for this phrase".into(),
                    found: "the end of the query".into(),
                });
            }
            let phrase: String = chars[start..end].iter().collect();
            if phrase.trim().is_empty() {
                return Err(QueryError {
                    column,
                    expected: "words inside the quotes".into(),
                    found: "an empty phrase".into(),
                });
            }
            tokens.push((column, Token::Phrase(phrase)));
            i = end + 1;
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '(' | ')' | '"' | '“' | '”')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let token = match word.as_str() {
                "AND" => Token::And,
                "OR" => Token::Or,
                "NOT" => Token::Not,
                "*" => Token::Star,
                _ => Token::Word(word),
            };
            tokens.push((column, token));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    end_column: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(_, t)| t)
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
                Some(Token::Word(_) | Token::Phrase(_) | Token::LParen | Token::Star) => {
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
            return Ok(Query::Not(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Query, QueryError> {
        const EXPECTED: &str = "a term, a \"phrase\", '(' or '*'";
        let token = self.peek().cloned().ok_or_else(|| self.error(EXPECTED))?;
        match token {
            Token::Word(word) => {
                self.pos += 1;
                if word.contains('*') {
                    return Ok(Query::Term(normalize_keep_star(&word)));
                }
                let normalized = normalize(&word);
                if normalized.is_empty() {
                    return Err(QueryError {
                        column: self.tokens[self.pos - 1].0,
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
            Token::Phrase(phrase) => {
                self.pos += 1;
                Ok(Query::Phrase(normalize(&phrase)))
            }
            Token::Star => {
                self.pos += 1;
                Ok(Query::All)
            }
            Token::LParen => {
                self.pos += 1;
                let inner = self.query()?;
                if self.peek() != Some(&Token::RParen) {
                    return Err(self.error("')' to close the '(' or an operator (AND, OR, NOT)"));
                }
                self.pos += 1;
                Ok(inner)
            }
            _ => Err(self.error(EXPECTED)),
        }
    }
}

/// Lower-cases and turns every run of separators (anything that is neither a word
/// character nor CJK) into one space. Texts and query terms go through the same
/// function so they compare equal.
pub fn normalize(text: &str) -> String {
    normalize_with(text, false)
}

fn normalize_keep_star(text: &str) -> String {
    normalize_with(text, true)
}

fn normalize_with(text: &str, keep_star: bool) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    let mut pending_space = false;
    for c in text.chars() {
        if is_word_char(c) || is_cjk(c) || (keep_star && c == '*') {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.extend(c.to_lowercase());
        } else {
            pending_space = true;
        }
    }
    out
}

/// Text prepared once for matching against many queries (one per brand).
pub struct MatchText {
    normalized: String,
}

impl MatchText {
    pub fn new(text: &str) -> Self {
        Self {
            normalized: normalize(text),
        }
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
        };
        let query = parser.query()?;
        if parser.pos < parser.tokens.len() {
            let expected = if parser.peek() == Some(&Token::RParen) {
                "an operator or the end of the query (this ')' has no matching '(')"
            } else {
                "an operator (AND, OR, NOT) or the end of the query"
            };
            return Err(parser.error(expected));
        }
        Ok(query)
    }

    /// Does `text` match? For many queries over one text, use [`Query::matches_prepared`].
    pub fn matches(&self, text: &str) -> bool {
        self.matches_prepared(&MatchText::new(text))
    }

    pub fn matches_prepared(&self, text: &MatchText) -> bool {
        match self {
            Query::All => true,
            Query::Term(term) if term.contains('*') => wildcard_match(term, &text.normalized),
            Query::Term(term) | Query::Phrase(term) => {
                contains_on_boundaries(&text.normalized, term)
            }
            Query::And(parts) => parts.iter().all(|q| q.matches_prepared(text)),
            Query::Or(parts) => parts.iter().any(|q| q.matches_prepared(text)),
            Query::Not(inner) => !inner.matches_prepared(text),
        }
    }

    /// The positive terms and phrases (not under NOT): for highlighting, and for the
    /// Chinese segmenter's user dictionary.
    pub fn positive_terms(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_terms(false, &mut out);
        out
    }

    fn collect_terms(&self, negated: bool, out: &mut Vec<String>) {
        match self {
            Query::All => {}
            Query::Term(t) | Query::Phrase(t) => {
                if !negated {
                    out.push(t.clone());
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

/// `acm*` against each word; a pattern that starts or ends in CJK may sit anywhere
/// inside a CJK run, since those runs are whole clauses rather than words.
fn wildcard_match(pattern: &str, haystack: &str) -> bool {
    let mut pattern = pattern.to_string();
    if pattern.chars().next().is_some_and(is_cjk) {
        pattern.insert(0, '*');
    }
    if pattern.chars().next_back().is_some_and(is_cjk) {
        pattern.push('*');
    }
    let pattern: Vec<char> = pattern.chars().collect();
    haystack.split(' ').any(|word| {
        let word: Vec<char> = word.chars().collect();
        glob(&pattern, &word)
    })
}

fn glob(pattern: &[char], text: &[char]) -> bool {
    // Iterative glob with backtracking to the last star: linear in practice.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
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
    pattern[p..].iter().all(|&c| c == '*')
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
        assert!(!q("acme").matches("acmes"));
        assert!(q("召回").matches("艾克米宣布召回水壶"));
        assert!(q("\"acme kettle\"").matches("acme-kettle"));
        assert!(!q("\"acme kettle\"").matches("kettle acme"));
    }

    #[test]
    fn wildcards() {
        assert!(q("acm*").matches("Acmeville"));
        assert!(q("*ville").matches("Acmeville"));
        assert!(q("a*e").matches("acme"));
        assert!(!q("acm*").matches("an acorn"));
        assert!(q("艾克*").matches("我买了艾克米水壶"));
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
    }

    #[test]
    fn lower_case_operators_are_words() {
        assert!(q("rock and roll").matches("rock and roll"));
        assert!(!q("rock and roll").matches("rock roll"));
    }

    #[test]
    fn positive_terms_skip_negated() {
        let query = q(r#"acme OR 艾克米 NOT "acme of skill""#);
        assert_eq!(
            query.positive_terms(),
            vec!["acme".to_string(), "艾克米".to_string()]
        );
    }

    #[test]
    fn glob_does_not_blow_up() {
        let pattern: Vec<char> = "a*a*a*a*a*a*b".chars().collect();
        let text: Vec<char> = "a".repeat(200).chars().collect();
        assert!(!glob(&pattern, &text));
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    /// Seeded random queries and texts built from the language's own pieces: the parser
    /// and matcher must return (Ok or a located error), never panic, on any of them.
    #[test]
    fn random_queries_never_panic() {
        const PIECES: &[&str] = &[
            "acme",
            "\"",
            "(",
            ")",
            "AND",
            "OR",
            "NOT",
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
        ];
        let mut state: u64 = 0x5eed;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize
        };
        for _ in 0..20_000 {
            let length = next() % 12;
            let query: String = (0..length)
                .map(|_| PIECES[next() % PIECES.len()])
                .collect::<Vec<_>>()
                .join(if next() % 2 == 0 { " " } else { "" });
            match Query::parse(&query) {
                Ok(parsed) => {
                    let text: String = (0..next() % 8)
                        .map(|_| PIECES[next() % PIECES.len()])
                        .collect();
                    let _ = parsed.matches(&text);
                    let _ = parsed.positive_terms();
                    let _ = parsed.to_string();
                }
                Err(error) => assert!(
                    error.column >= 1 && error.column <= query.chars().count() + 1,
                    "{query:?}: {error}"
                ),
            }
        }
    }
}

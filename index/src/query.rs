//! Translates vigil's boolean [`Query`] into tantivy queries over the text fields.
//!
//! A term or phrase is analyzed exactly as the text was (same tokenizer, same jieba
//! dictionary), so `exploded` finds `explodes` and a Chinese word finds the segment
//! jieba produced. Each is searched in `text` and `title`; an all-CJK one is also
//! searched as a character phrase in `text_cjk`, which gives it the substring
//! semantics `Query::matches` has for CJK.
//!
//! Wildcards (`acm*`) become a regex over the indexed terms. Those terms are stemmed
//! while the pattern is only lower-cased, so `explode*` would miss `exploded` (indexed
//! as `explod`); for a trailing `*` we therefore also accept the stem of the prefix
//! itself, which can over-match slightly (`explode*` also finds `exploding`); for a
//! pattern ending in letters (`*ville`) the stem of that ending is accepted too.
//! A wildcard containing CJK is approximated by requiring each literal piece.

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query as TantivyQuery, RegexQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use vigil_core::Query;
use vigil_core::text::{is_cjk, is_word_char};

use crate::error::{IndexError, Result};
use crate::forward_only::ForwardOnlyQuery;
use crate::schema::Fields;
use crate::tokenizer::analyze;

/// Deeper trees than this are refused rather than risking the stack.
pub(crate) const MAX_QUERY_DEPTH: usize = 64;

pub(crate) struct QueryTranslator {
    pub fields: Fields,
    pub analyzer: TextAnalyzer,
    pub cjk_analyzer: TextAnalyzer,
}

impl QueryTranslator {
    pub fn translate(&mut self, query: &Query) -> Result<Box<dyn TantivyQuery>> {
        self.translate_at(query, 0)
    }

    fn translate_at(&mut self, query: &Query, depth: usize) -> Result<Box<dyn TantivyQuery>> {
        if depth > MAX_QUERY_DEPTH {
            return Err(IndexError::QueryTooDeep {
                max: MAX_QUERY_DEPTH,
            });
        }
        Ok(match query {
            Query::All => Box::new(AllQuery),
            Query::Term(term) if term.contains('*') => self.wildcard(term)?,
            Query::Term(text) | Query::Phrase(text) => self.text_match(text),
            Query::And(parts) => {
                let mut clauses = Vec::with_capacity(parts.len() + 1);
                let mut has_positive = false;
                for part in parts {
                    if let Query::Not(inner) = part {
                        clauses.push((Occur::MustNot, self.translate_at(inner, depth + 1)?));
                    } else {
                        has_positive = true;
                        clauses.push((Occur::Must, self.translate_at(part, depth + 1)?));
                    }
                }
                if !has_positive {
                    // tantivy matches nothing for a boolean query of only MustNot.
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Query::Or(parts) => {
                if parts.is_empty() {
                    return Ok(Box::new(EmptyQuery));
                }
                let mut clauses = Vec::with_capacity(parts.len());
                for part in parts {
                    clauses.push((Occur::Should, self.translate_at(part, depth + 1)?));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Query::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, self.translate_at(inner, depth + 1)?),
            ])),
        })
    }

    /// A term or phrase, matched as analyzed tokens in `text` or `title`, and for
    /// all-CJK input also as a character phrase in `text_cjk`.
    fn text_match(&mut self, text: &str) -> Box<dyn TantivyQuery> {
        let tokens = analyze(&mut self.analyzer, text);
        let mut alternatives: Vec<Box<dyn TantivyQuery>> = Vec::new();
        for field in [self.fields.text, self.fields.title] {
            if let Some(query) = positional_query(field, &tokens) {
                alternatives.push(query);
            }
        }
        let all_cjk = text.chars().any(is_cjk) && !text.chars().any(is_word_char);
        if all_cjk {
            let characters = analyze(&mut self.cjk_analyzer, text);
            if let Some(query) = positional_query(self.fields.text_cjk, &characters) {
                alternatives.push(query);
            }
        }
        one_of(alternatives)
    }

    fn wildcard(&mut self, pattern: &str) -> Result<Box<dyn TantivyQuery>> {
        // Separators split the pattern the way they split text (`acme's*`).
        let pieces: Vec<&str> = pattern
            .split(|c: char| !(is_word_char(c) || is_cjk(c) || c == '*'))
            .filter(|piece| !piece.is_empty())
            .collect();
        let mut required = Vec::with_capacity(pieces.len());
        for piece in pieces {
            required.push(self.wildcard_piece(pattern, piece)?);
        }
        Ok(match required.len() {
            0 => Box::new(EmptyQuery),
            1 => required.pop().unwrap_or_else(|| Box::new(EmptyQuery)),
            _ => Box::new(BooleanQuery::intersection(required)),
        })
    }

    fn wildcard_piece(&mut self, pattern: &str, piece: &str) -> Result<Box<dyn TantivyQuery>> {
        if !piece.contains('*') {
            return Ok(self.text_match(piece));
        }
        if piece.chars().all(|c| c == '*') {
            return Ok(Box::new(AllQuery));
        }
        if piece.chars().any(is_cjk) {
            let literals: Vec<Box<dyn TantivyQuery>> = piece
                .split('*')
                .filter(|literal| !literal.is_empty())
                .map(|literal| self.text_match(literal))
                .collect();
            return Ok(Box::new(BooleanQuery::intersection(literals)));
        }
        let lowered = piece.to_lowercase();
        // Only word characters and '*' remain, none of them regex syntax.
        let regex = lowered.replace('*', ".*");
        let mut alternatives: Vec<Box<dyn TantivyQuery>> = Vec::new();
        for field in [self.fields.text, self.fields.title] {
            let query =
                RegexQuery::from_pattern(&regex, field).map_err(|error| IndexError::Wildcard {
                    term: pattern.to_string(),
                    reason: error.to_string(),
                })?;
            alternatives.push(Box::new(query));
        }
        // Stemming may have cut the end of the word the pattern was written against.
        if let Some(prefix) = lowered.strip_suffix('*')
            && !prefix.contains('*')
        {
            if let Some(stem) = self.stem(prefix) {
                for field in [self.fields.text, self.fields.title] {
                    alternatives.push(term_query(field, &stem));
                }
            }
        } else if let Some((head, suffix)) = lowered.rsplit_once('*')
            && let Some(stem) = self.stem(suffix)
            && stem != suffix
        {
            let stemmed_regex = format!("{}.*{stem}", head.replace('*', ".*"));
            for field in [self.fields.text, self.fields.title] {
                let query = RegexQuery::from_pattern(&stemmed_regex, field).map_err(|error| {
                    IndexError::Wildcard {
                        term: pattern.to_string(),
                        reason: error.to_string(),
                    }
                })?;
                alternatives.push(Box::new(query));
            }
        }
        Ok(one_of(alternatives))
    }

    /// The single stemmed token `word` analyzes to, if it is one word.
    fn stem(&mut self, word: &str) -> Option<String> {
        match analyze(&mut self.analyzer, word).as_mut_slice() {
            [(_, stem)] => Some(std::mem::take(stem)),
            _ => None,
        }
    }
}

fn term_query(field: Field, text: &str) -> Box<dyn TantivyQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

/// One token: a term query; several: a phrase at the analyzer's positions; none: nothing.
fn positional_query(field: Field, tokens: &[(usize, String)]) -> Option<Box<dyn TantivyQuery>> {
    match tokens {
        [] => None,
        [(_, text)] => Some(term_query(field, text)),
        _ => {
            let first = tokens[0].0;
            let terms = tokens
                .iter()
                .map(|(position, text)| {
                    (
                        position.saturating_sub(first),
                        Term::from_field_text(field, text),
                    )
                })
                .collect();
            Some(Box::new(ForwardOnlyQuery::new(Box::new(
                PhraseQuery::new_with_offset(terms),
            ))))
        }
    }
}

fn one_of(mut alternatives: Vec<Box<dyn TantivyQuery>>) -> Box<dyn TantivyQuery> {
    match alternatives.len() {
        0 => Box::new(EmptyQuery),
        1 => alternatives.pop().unwrap_or_else(|| Box::new(EmptyQuery)),
        _ => Box::new(BooleanQuery::union(alternatives)),
    }
}

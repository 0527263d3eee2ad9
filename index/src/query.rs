//! Translates vigil's [`Query`] into tantivy queries over the text and metadata fields.
//!
//! A term or phrase is analyzed exactly as the text was (same tokenizer, same jieba
//! dictionary), so `exploded` finds `explodes` and a Chinese word finds the segment
//! jieba produced. Each is searched in `text` and `title`; an all-CJK one is also
//! searched as a character phrase in `text_cjk`, which gives it the substring
//! semantics `Query::matches` has for CJK. That phrase is looked up by its bigrams
//! (`tokenizer::cjk_query_terms`): a two-character term is a single term query.
//!
//! Wildcards (`acm*`) become a regex over the indexed terms. Those terms are stemmed
//! while the pattern is only lower-cased, so `explode*` would miss `exploded` (indexed
//! as `explod`); for a trailing `*` we therefore also accept the stem of the prefix
//! itself, which can over-match slightly (`explode*` also finds `exploding`); for a
//! pattern ending in letters (`*ville`) the stem of that ending is accepted too.
//! A wildcard containing CJK is approximated by requiring each literal piece.
//!
//! `a NEAR/n b` is a [`NearQuery`]: the documents holding both sides, kept when the
//! token positions of an occurrence of each (title with title, body with body) are at
//! most `n` apart. Word and mixed operands are read from `text`/`title` (stemmed, jieba
//! segments), all-CJK ones character by character from `text_cjk`, word patterns from
//! the terms they expand to in each segment. The tokenizers number positions as
//! `vigil_core::query::word_positions` does, so the counts agree with `Query::matches`.
//!
//! Field operators are exact term queries on the metadata fields (`author_key`,
//! `source`, `site`, `lang`), or regexes when the value has `*`; `url:` is always a
//! regex over `url_key`: `scheme://`, an optional `www.`, then the value as a prefix.

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query as TantivyQuery, RegexQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use vigil_core::Query;
use vigil_core::query::{MetaField, NearOperand};
use vigil_core::text::{is_cjk, is_word_char};

use crate::error::{IndexError, Result};
use crate::forward_only::{ForwardOnlyQuery, NearOperandPlan, NearQuery, OperandSource, SlotTerms};
use crate::schema::Fields;
use crate::tokenizer::{analyze, cjk_query_terms};

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
            Query::Near {
                left,
                right,
                distance,
            } => self.near(left, right, *distance)?,
            Query::Field { field, value } => self.field(*field, value)?,
        })
    }

    fn near(
        &mut self,
        left: &NearOperand,
        right: &NearOperand,
        distance: u32,
    ) -> Result<Box<dyn TantivyQuery>> {
        let (Some(left_plan), Some(right_plan)) = (self.near_plan(left), self.near_plan(right))
        else {
            return Ok(Box::new(EmptyQuery));
        };
        let candidates =
            BooleanQuery::intersection(vec![self.operand_query(left)?, self.operand_query(right)?]);
        Ok(Box::new(NearQuery::new(
            Box::new(candidates),
            left_plan,
            right_plan,
            distance,
        )))
    }

    /// The documents where `operand` occurs at all.
    fn operand_query(&mut self, operand: &NearOperand) -> Result<Box<dyn TantivyQuery>> {
        if operand.is_wildcard() {
            self.wildcard(operand.text())
        } else {
            Ok(self.text_match(operand.text()))
        }
    }

    /// Where and how to find `operand`'s occurrences; None when it cannot occur (no
    /// token survives analysis, or a pattern NEAR cannot use).
    fn near_plan(&mut self, operand: &NearOperand) -> Option<NearOperandPlan> {
        let text = operand.text();
        let words = OperandSource::Words {
            body: self.fields.text,
            title: self.fields.title,
        };
        if operand.is_wildcard() {
            // One Latin word pattern (the parser refuses others next to NEAR).
            let lowered = text.to_lowercase();
            if !lowered
                .chars()
                .all(|c| c == '*' || (is_word_char(c) && !is_cjk(c)))
            {
                return None;
            }
            let (patterns, exact) = self.word_pattern_terms(&lowered);
            return Some(NearOperandPlan {
                source: words,
                slots: vec![(0, SlotTerms::Pattern { patterns, exact })],
                width: 1,
            });
        }
        let all_cjk = text.chars().any(is_cjk) && !text.chars().any(is_word_char);
        let (source, tokens) = if all_cjk {
            let field = self.fields.text_cjk;
            (
                OperandSource::Characters { field },
                analyze(&mut self.cjk_analyzer, text),
            )
        } else {
            (words, analyze(&mut self.analyzer, text))
        };
        let (last_position, last_text) = tokens.last()?;
        // A jieba segment covers one position per character; a word, one.
        let last_width = if last_text.chars().any(is_cjk) {
            last_text.chars().count()
        } else {
            1
        };
        let first_position = tokens[0].0;
        let position = |p: usize| u32::try_from(p - first_position).ok();
        let width = position(*last_position)?.checked_add(u32::try_from(last_width).ok()?)?;
        let slots = tokens
            .iter()
            .map(|(p, term)| Some((position(*p)?, SlotTerms::Exact(term.clone()))))
            .collect::<Option<Vec<_>>>()?;
        Some(NearOperandPlan {
            source,
            slots,
            width,
        })
    }

    /// `field:value` on the metadata field it names.
    fn field(&self, field: MetaField, value: &str) -> Result<Box<dyn TantivyQuery>> {
        let fields = &self.fields;
        let index_field = match field {
            MetaField::Author => fields.author_key,
            MetaField::Source => fields.source,
            MetaField::Site => fields.site,
            MetaField::Lang => fields.lang,
            MetaField::Url => fields.url_key,
        };
        let regex = match field {
            // Mirrors `url_matches` in vigil-core: after `scheme://` and an optional
            // `www.`, the value as a prefix.
            MetaField::Url => format!(
                "(?s)[a-z][a-z0-9+.\\-]*://(www\\.)?{}.*",
                glob_to_regex(value)
            ),
            _ if value.contains('*') => format!("(?s){}", glob_to_regex(value)),
            _ => {
                return Ok(Box::new(TermQuery::new(
                    Term::from_field_text(index_field, value),
                    IndexRecordOption::Basic,
                )));
            }
        };
        let query = RegexQuery::from_pattern(&regex, index_field).map_err(|error| {
            IndexError::Wildcard {
                term: format!("{field}:{value}"),
                reason: error.to_string(),
            }
        })?;
        Ok(Box::new(query))
    }

    /// A term or phrase (normalized: separators are single spaces), matched as analyzed
    /// tokens in `text` or `title`, and for all-CJK input also as a character phrase in
    /// `text_cjk`.
    fn text_match(&mut self, text: &str) -> Box<dyn TantivyQuery> {
        let all_cjk = text.chars().any(is_cjk) && !text.chars().any(is_word_char);
        let mut alternatives: Vec<Box<dyn TantivyQuery>> = Vec::new();
        // With a break in it ("艾克米，水壶"), all-CJK text is only looked for in
        // `text_cjk`, where breaks have a token: in `text` a Latin word in that place
        // would look the same.
        if !(all_cjk && text.contains(' ')) {
            let tokens = analyze(&mut self.analyzer, text);
            for field in [self.fields.text, self.fields.title] {
                if let Some(query) = positional_query(field, &tokens) {
                    alternatives.push(query);
                }
            }
        }
        if all_cjk {
            let characters = analyze(&mut self.cjk_analyzer, text);
            let terms = cjk_query_terms(&characters);
            if let Some(query) = positional_query(self.fields.text_cjk, &terms) {
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
        let (patterns, exact) = self.word_pattern_terms(&lowered);
        let mut alternatives: Vec<Box<dyn TantivyQuery>> = Vec::new();
        for field in [self.fields.text, self.fields.title] {
            for glob in &patterns {
                // Only word characters and '*' remain, none of them regex syntax.
                let regex = glob.replace('*', ".*");
                let query = RegexQuery::from_pattern(&regex, field).map_err(|error| {
                    IndexError::Wildcard {
                        term: pattern.to_string(),
                        reason: error.to_string(),
                    }
                })?;
                alternatives.push(Box::new(query));
            }
            for term in &exact {
                alternatives.push(term_query(field, term));
            }
        }
        Ok(one_of(alternatives))
    }

    /// What a lower-cased word pattern stands for among the indexed (stemmed) terms:
    /// globs, and exact terms. Stemming may have cut the end of the word the pattern was
    /// written against: a trailing `*` also accepts the stem of the prefix, a pattern
    /// ending in letters also the stem of that ending.
    fn word_pattern_terms(&mut self, lowered: &str) -> (Vec<String>, Vec<String>) {
        let mut globs = vec![lowered.to_string()];
        let mut exact = Vec::new();
        if let Some(prefix) = lowered.strip_suffix('*')
            && !prefix.contains('*')
        {
            exact.extend(self.stem(prefix));
        } else if let Some((head, suffix)) = lowered.rsplit_once('*')
            && !suffix.is_empty()
        {
            for stem in self.suffix_stems(suffix) {
                globs.push(format!("{head}*{stem}"));
            }
        }
        (globs, exact)
    }

    /// How the stemmer may have rewritten `suffix` at the end of an indexed word. Alone,
    /// a short ending is too short for the stemmer to touch (`ttle` stays `ttle`, while
    /// `kettle` becomes `kettl`), so it is also stemmed behind a long neutral prefix.
    /// Endings the stemmer removes entirely (`*ing`) are left out rather than made to
    /// match every word.
    fn suffix_stems(&mut self, suffix: &str) -> Vec<String> {
        const FILLER: &str = "bababab";
        let mut stems = Vec::new();
        let alone = self.stem(suffix);
        let behind_filler = self
            .stem(&format!("{FILLER}{suffix}"))
            .and_then(|stem| stem.strip_prefix(FILLER).map(str::to_string));
        for stem in [alone, behind_filler].into_iter().flatten() {
            if stem != suffix && stem.chars().count() >= 2 && !stems.contains(&stem) {
                stems.push(stem);
            }
        }
        stems
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

/// A glob (`*` = any characters) as a regex, every other character literal.
fn glob_to_regex(glob: &str) -> String {
    let mut regex = String::with_capacity(glob.len() + 8);
    for c in glob.chars() {
        if c == '*' {
            regex.push_str(".*");
            continue;
        }
        // regex-syntax's meta characters; escaping them is always allowed.
        if matches!(
            c,
            '\\' | '.'
                | '+'
                | '?'
                | '('
                | ')'
                | '|'
                | '['
                | ']'
                | '{'
                | '}'
                | '^'
                | '$'
                | '#'
                | '&'
                | '-'
                | '~'
        ) {
            regex.push('\\');
        }
        regex.push(c);
    }
    regex
}

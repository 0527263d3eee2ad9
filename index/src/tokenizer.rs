//! The two analyzers behind the text fields.
//!
//! - `vigil` (fields `text`, `title`): words of space-separated scripts are runs of
//!   word characters; runs of CJK characters are segmented into words by jieba (with
//!   the brand names and terms from config in its user dictionary). Words are then
//!   lower-cased and English-stemmed (CJK segments have no case and no English
//!   suffixes, so they are left as they are).
//! - `vigil_cjk` (field `text_cjk`): every CJK character is a token, and so is every
//!   pair of neighbouring characters of one run (a bigram, at the position of its first
//!   character). A phrase of characters then finds a Chinese term anywhere, however
//!   jieba segmented the text around it — the substring semantics `Query::matches` has
//!   for CJK, and a safety net for brand names added to config after the posts were
//!   indexed. Queries look a term up by its bigrams ([`cjk_query_terms`]): a
//!   two-character term is one bigram, a term query rather than a phrase, and longer
//!   ones need half as many positions. Every value opens with a [`VALUE_START`] marker
//!   token so `NEAR` can tell the title's positions from the body's (`text_cjk` holds
//!   the title, when there is one, then the body), and a [`CJK_BREAK`] token stands on
//!   every break between CJK characters.
//!
//! Both number tokens the way `vigil_core::query::word_positions` does, which is what
//! `NEAR/n` counts: a Latin word takes one position, a CJK character one (a jieba
//! segment as many as it has characters, so its neighbours are where they would be in
//! `text_cjk`), separators none — except a run of them between two CJK characters,
//! which takes one, so a phrase never spans "艾克米，召回"'s comma. `vigil_cjk` emits no
//! Latin words but counts them, so its positions match `vigil`'s.
//!
//! Both tokenizers first list the tokens of a text as byte spans in a buffer they
//! keep, then hand them out through one reused [`Token`], so indexing allocates nothing
//! per token; stems are remembered per tokenizer ([`WordNormalizer`]).

use std::collections::HashMap;
use std::sync::Arc;

use jieba_rs::Jieba;
use tantivy::tokenizer::{
    Language, RawTokenizer, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};
use vigil_core::text::{is_cjk, is_word_char};

// The names are in the schema: renaming them (as when positions changed for NEAR, and
// when `vigil_cjk` gained bigrams) makes `SearchIndex::open` rebuild indexes analyzed
// the old way.
pub(crate) const VIGIL_TOKENIZER: &str = "vigil_v2";
pub(crate) const CJK_TOKENIZER: &str = "vigil_cjk_v3";

/// The token `vigil_cjk` puts at the first position of every value it indexes; no text
/// produces it (the tokenizer emits only CJK characters otherwise).
pub(crate) const VALUE_START: &str = "\u{2}";

/// The token `vigil_cjk` puts on the position a break between two CJK characters takes
/// (spaces or punctuation). Gaps alone cannot tell "艾克米，水壶" from "艾克米 acme
/// 水壶" (a Latin word also takes one position); with this token a phrase of
/// characters with a break in it matches only a break.
pub(crate) const CJK_BREAK: &str = "\u{3}";

/// Longer tokens are dropped: they are never words, and tantivy rejects terms over 64 KiB.
const MAX_TOKEN_BYTES: usize = 100;

/// jieba's frequency for user-dictionary words; high enough that the word wins over
/// any split of it in context, as a brand name should.
const USER_WORD_MIN_FREQ: usize = 100_000;

/// Distinct words whose stems one tokenizer remembers; past this the memory starts
/// afresh (a few MB at most; English vocabulary is mostly a few thousand common words).
const REMEMBERED_STEMS: usize = 50_000;

/// Builds the jieba segmenter with `dictionary_words` that contain CJK added. Words
/// without CJK are skipped: jieba only ever sees CJK runs, so they would never match.
pub(crate) fn segmenter(dictionary_words: &[String]) -> Jieba {
    let mut jieba = Jieba::new();
    for word in dictionary_words {
        let word = word.trim();
        if word.is_empty() || !word.chars().any(is_cjk) {
            continue;
        }
        let freq = jieba.suggest_freq(word).max(USER_WORD_MIN_FREQ);
        jieba.add_word(word, Some(freq), None);
    }
    jieba
}

pub(crate) fn vigil_analyzer(jieba: Arc<Jieba>) -> TextAnalyzer {
    TextAnalyzer::builder(VigilTokenizer {
        jieba,
        spans: Vec::new(),
        words: WordNormalizer::new(),
    })
    .build()
}

/// `text_cjk`'s analyzer: characters, bigrams, breaks and value markers.
pub(crate) fn cjk_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CjkCharTokenizer {
        bigrams: true,
        spans: Vec::new(),
    })
    .build()
}

/// [`cjk_analyzer`] without the bigrams: how queries read CJK text, by position, before
/// [`cjk_query_terms`] picks the terms to look up.
pub(crate) fn cjk_characters_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CjkCharTokenizer {
        bigrams: false,
        spans: Vec::new(),
    })
    .build()
}

/// True when `text` has a CJK character, i.e. when `text_cjk` would hold anything for it
/// besides its [`VALUE_START`] marker.
pub(crate) fn has_cjk(text: &str) -> bool {
    !text.is_ascii() && text.chars().any(is_cjk)
}

/// Runs `text` through `analyzer`, returning `(position, term text)` pairs, without
/// [`VALUE_START`] markers.
pub(crate) fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, String)> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        if token.text != VALUE_START {
            out.push((token.position, token.text.clone()));
        }
    }
    out
}

/// The `text_cjk` terms, with their positions, that find `characters` (the
/// [`cjk_characters_analyzer`] tokens of a query: characters and breaks) exactly where
/// a phrase of those characters would: each run of characters at consecutive positions
/// becomes its bigrams, every other one (`艾克米` → `艾克`, `克米`; `艾克米水` → `艾克`,
/// `米水`), the last overlapping when the run is odd; a lone character and breaks stay as
/// they are. A bigram at a position stands for its two characters there and in one run,
/// which is what consecutive positions already mean in `text_cjk`, so the document sets
/// are the same.
pub(crate) fn cjk_query_terms(characters: &[(usize, String)]) -> Vec<(usize, String)> {
    let mut terms = Vec::with_capacity(characters.len());
    let mut start = 0;
    while start < characters.len() {
        let mut end = start + 1;
        if characters[start].1 != CJK_BREAK {
            while end < characters.len()
                && characters[end].1 != CJK_BREAK
                && characters[end].0 == characters[end - 1].0 + 1
            {
                end += 1;
            }
        }
        let run = &characters[start..end];
        if run.len() == 1 {
            terms.push(run[0].clone());
        } else {
            let mut first = 0;
            while first < run.len() {
                // The last bigram overlaps the one before when the run is odd.
                let at = first.min(run.len() - 2);
                terms.push((run[at].0, format!("{}{}", run[at].1, run[at + 1].1)));
                first = at + 2;
            }
        }
        start = end;
    }
    terms
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CharClass {
    Word,
    Cjk,
    Separator,
}

fn classify(c: char) -> CharClass {
    if c.is_ascii() {
        // `is_word_char` for ASCII, without the Unicode tables.
        if c.is_ascii_alphanumeric() || c == '_' {
            CharClass::Word
        } else {
            CharClass::Separator
        }
    } else if is_cjk(c) {
        CharClass::Cjk
    } else if is_word_char(c) {
        CharClass::Word
    } else {
        CharClass::Separator
    }
}

/// Splits `text` into maximal runs of one class, calling `visit(byte_offset, run, class)`.
fn for_each_run(text: &str, mut visit: impl FnMut(usize, &str, CharClass)) {
    let mut run_start = 0;
    let mut run_class: Option<CharClass> = None;
    for (offset, c) in text.char_indices() {
        let class = classify(c);
        if run_class != Some(class) {
            if let Some(previous) = run_class {
                visit(run_start, &text[run_start..offset], previous);
            }
            run_start = offset;
            run_class = Some(class);
        }
    }
    if let Some(class) = run_class {
        visit(run_start, &text[run_start..], class);
    }
}

/// A word or CJK run with the position of its first token.
struct PositionedRun<'a> {
    offset: usize,
    text: &'a str,
    class: CharClass,
    position: usize,
    /// Byte range of the separators before the run when they count as a position (a
    /// break between two CJK characters).
    break_before: Option<std::ops::Range<usize>>,
}

/// [`for_each_run`] over word and CJK runs only, numbering positions as the module
/// docs say.
fn for_each_positioned_run(text: &str, mut visit: impl FnMut(PositionedRun<'_>)) {
    let mut position = 0usize;
    let mut previous: Option<CharClass> = None;
    let mut separator: Option<std::ops::Range<usize>> = None;
    for_each_run(text, |offset, run, class| {
        if class == CharClass::Separator {
            separator = Some(offset..offset + run.len());
            return;
        }
        let break_before = separator
            .take()
            .filter(|_| previous == Some(CharClass::Cjk) && class == CharClass::Cjk);
        if break_before.is_some() {
            position += 1;
        }
        visit(PositionedRun {
            offset,
            text: run,
            class,
            position,
            break_before,
        });
        position += match class {
            CharClass::Cjk => run.chars().count(),
            _ => 1,
        };
        previous = Some(class);
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpanKind {
    /// A word of a space-separated script: lower-cased and stemmed on the way out.
    Word,
    /// CJK text (a jieba segment, a character or a bigram), as it is in the text.
    Verbatim,
    /// [`VALUE_START`], covering nothing.
    ValueStart,
    /// [`CJK_BREAK`], covering the separators.
    Break,
}

/// One token to be: a byte range of the text, its position and how to spell it.
#[derive(Debug, Clone, Copy)]
struct Span {
    from: usize,
    to: usize,
    position: usize,
    kind: SpanKind,
}

/// Lower-cases and English-stems words exactly as tantivy's `LowerCaser` and
/// `Stemmer` filters would (Unicode lower case per character; ASCII in place), and
/// remembers the stems it computed.
pub(crate) struct WordNormalizer {
    stems: HashMap<Box<str>, Box<str>>,
    lowered: String,
    stemmer: TextAnalyzer,
}

impl WordNormalizer {
    fn new() -> Self {
        WordNormalizer {
            stems: HashMap::new(),
            lowered: String::new(),
            stemmer: TextAnalyzer::builder(RawTokenizer::default())
                .filter(Stemmer::new(Language::English))
                .build(),
        }
    }

    /// Appends the term for `word` to `out`.
    fn normalize_into(&mut self, word: &str, out: &mut String) {
        self.lowered.clear();
        if word.is_ascii() {
            self.lowered.push_str(word);
            self.lowered.make_ascii_lowercase();
        } else {
            for c in word.chars() {
                self.lowered.extend(c.to_lowercase());
            }
        }
        if let Some(stem) = self.stems.get(self.lowered.as_str()) {
            out.push_str(stem);
            return;
        }
        let stem: Box<str> = {
            let mut stream = self.stemmer.token_stream(&self.lowered);
            match stream.next() {
                Some(token) => token.text.as_str().into(),
                None => self.lowered.as_str().into(),
            }
        };
        out.push_str(&stem);
        if self.stems.len() >= REMEMBERED_STEMS {
            self.stems.clear();
        }
        self.stems.insert(self.lowered.as_str().into(), stem);
    }
}

impl Clone for WordNormalizer {
    /// A fresh one: the memory of stems is not worth copying (analyzers are cloned for
    /// every query and every indexing segment).
    fn clone(&self) -> Self {
        WordNormalizer::new()
    }
}

/// Hands out the tokens of `spans` through one reused [`Token`].
pub(crate) struct SpanTokenStream<'a> {
    text: &'a str,
    spans: std::slice::Iter<'a, Span>,
    /// How [`SpanKind::Word`] spans are spelled; only `vigil` has words.
    words: Option<&'a mut WordNormalizer>,
    token: Token,
}

impl TokenStream for SpanTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let Some(span) = self.spans.next() else {
            return false;
        };
        let token = &mut self.token;
        token.offset_from = span.from;
        token.offset_to = span.to;
        token.position = span.position;
        token.position_length = 1;
        token.text.clear();
        let surface = &self.text[span.from..span.to];
        match (span.kind, self.words.as_deref_mut()) {
            (SpanKind::Word, Some(words)) => words.normalize_into(surface, &mut token.text),
            (SpanKind::Word | SpanKind::Verbatim, _) => token.text.push_str(surface),
            (SpanKind::ValueStart, _) => token.text.push_str(VALUE_START),
            (SpanKind::Break, _) => token.text.push_str(CJK_BREAK),
        }
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

pub(crate) struct VigilTokenizer {
    jieba: Arc<Jieba>,
    /// Reused between texts.
    spans: Vec<Span>,
    words: WordNormalizer,
}

impl Clone for VigilTokenizer {
    fn clone(&self) -> Self {
        VigilTokenizer {
            jieba: Arc::clone(&self.jieba),
            spans: Vec::new(),
            words: WordNormalizer::new(),
        }
    }
}

impl Tokenizer for VigilTokenizer {
    type TokenStream<'a> = SpanTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> SpanTokenStream<'a> {
        let VigilTokenizer {
            jieba,
            spans,
            words,
        } = self;
        spans.clear();
        for_each_positioned_run(text, |run| match run.class {
            CharClass::Separator => {}
            CharClass::Word => {
                if run.text.len() < MAX_TOKEN_BYTES {
                    spans.push(Span {
                        from: run.offset,
                        to: run.offset + run.text.len(),
                        position: run.position,
                        kind: SpanKind::Word,
                    });
                }
            }
            CharClass::Cjk => {
                // Default mode (not Search) so a query term segments the way the
                // same characters did in the text. Every segment is CJK: the run is.
                let mut word_offset = run.offset;
                let mut word_position = run.position;
                for word in jieba.cut(run.text, true) {
                    if word.len() < MAX_TOKEN_BYTES {
                        spans.push(Span {
                            from: word_offset,
                            to: word_offset + word.len(),
                            position: word_position,
                            kind: SpanKind::Verbatim,
                        });
                    }
                    word_offset += word.len();
                    word_position += word.chars().count();
                }
                debug_assert_eq!(
                    word_offset,
                    run.offset + run.text.len(),
                    "jieba words tile the run"
                );
            }
        });
        SpanTokenStream {
            text,
            spans: spans.iter(),
            words: Some(words),
            token: Token::default(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct CjkCharTokenizer {
    /// Emit the bigrams too (the index), or characters and breaks only (queries).
    bigrams: bool,
    /// Reused between texts.
    spans: Vec<Span>,
}

impl Tokenizer for CjkCharTokenizer {
    type TokenStream<'a> = SpanTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> SpanTokenStream<'a> {
        let bigrams = self.bigrams;
        let spans = &mut self.spans;
        spans.clear();
        spans.push(Span {
            from: 0,
            to: 0,
            position: 0,
            kind: SpanKind::ValueStart,
        });
        for_each_positioned_run(text, |run| {
            if run.class != CharClass::Cjk {
                return;
            }
            if let Some(separators) = run.break_before {
                spans.push(Span {
                    from: separators.start,
                    to: separators.end,
                    position: run.position - 1,
                    kind: SpanKind::Break,
                });
            }
            // Tokens go out in the order of their offsets: a bigram before its second
            // character (tantivy's snippets read them in that order).
            let mut previous_start: Option<usize> = None;
            for (index, (offset, c)) in run.text.char_indices().enumerate() {
                let from = run.offset + offset;
                let to = from + c.len_utf8();
                let position = run.position + index;
                if let Some(previous) = previous_start.filter(|_| bigrams) {
                    spans.push(Span {
                        from: previous,
                        to,
                        position: position - 1,
                        kind: SpanKind::Verbatim,
                    });
                }
                spans.push(Span {
                    from,
                    to,
                    position,
                    kind: SpanKind::Verbatim,
                });
                previous_start = Some(from);
            }
        });
        SpanTokenStream {
            text,
            spans: spans.iter(),
            words: None,
            token: Token::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
        analyze(analyzer, text)
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    #[test]
    fn english_is_lowercased_and_stemmed_without_punctuation() {
        let mut analyzer = vigil_analyzer(Arc::new(segmenter(&[])));
        assert_eq!(
            words(&mut analyzer, "The Kettle EXPLODED, e-mail!"),
            ["the", "kettl", "explod", "e", "mail"]
        );
    }

    #[test]
    fn positions_follow_core_and_offsets_are_bytes() {
        let mut analyzer = vigil_analyzer(Arc::new(segmenter(&[])));
        let text = "我的 Acme水壶，爆炸了! ok";
        let mut stream = analyzer.token_stream(text);
        let mut seen = Vec::new();
        while let Some(token) = stream.next() {
            assert!(text.is_char_boundary(token.offset_from));
            assert!(text.is_char_boundary(token.offset_to));
            seen.push((token.position, token.text.clone()));
        }
        // 我 (0) 的 (1) acme (2) 水壶 (3-4) ， (5) 爆炸 (6-7) 了 (8) ok (9)
        let expected: Vec<(usize, String)> = vec![
            (0, "我".into()),
            (1, "的".into()),
            (2, "acm".into()),
            (3, "水壶".into()),
            (6, "爆炸".into()),
            (8, "了".into()),
            (9, "ok".into()),
        ];
        assert_eq!(seen, expected);
    }

    /// Seeded random texts: both analyzers put every token where
    /// `vigil_core::query::word_positions` puts it, which is what `Query::matches`
    /// counts for NEAR.
    #[test]
    fn positions_agree_with_core_on_random_text() {
        const PIECES: &[&str] = &[
            "Acme",
            "kettle",
            "e-mail",
            "艾克米",
            "水壶",
            "爆炸",
            "了",
            "的",
            "召回",
            " ",
            " ",
            "，",
            "。",
            "!",
            "🙂",
            "-",
            "Café",
            "x_y",
            "9",
            "ｱ",
            "한국",
            "\n",
        ];
        let mut state: u64 = 0xc0ffee;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        let mut words = vigil_analyzer(Arc::new(segmenter(&["艾克米".to_string()])));
        let mut characters = cjk_characters_analyzer();
        let mut bigrams = cjk_analyzer();
        for _ in 0..2_000 {
            let text: String = (0..next() % 16)
                .map(|_| PIECES[next() % PIECES.len()])
                .collect();
            let core: Vec<(usize, String)> = vigil_core::query::word_positions(&text)
                .into_iter()
                .map(|(position, token)| (position as usize, token))
                .collect();
            let core_cjk: Vec<(usize, String)> = core
                .iter()
                .filter(|(_, token)| token.chars().any(is_cjk))
                .cloned()
                .collect();
            let characters_and_breaks = analyze(&mut characters, &text);
            // The index analyzer adds a bigram for every two characters at neighbouring
            // positions (so of one run), just before the second one.
            let mut with_bigrams: Vec<(usize, String)> = Vec::new();
            for (index, (position, token)) in characters_and_breaks.iter().enumerate() {
                if let Some((previous_position, previous)) =
                    index.checked_sub(1).map(|i| &characters_and_breaks[i])
                    && previous_position + 1 == *position
                    && previous != CJK_BREAK
                    && token != CJK_BREAK
                {
                    with_bigrams.push((*previous_position, format!("{previous}{token}")));
                }
                with_bigrams.push((*position, token.clone()));
            }
            assert_eq!(analyze(&mut bigrams, &text), with_bigrams, "{text:?}");
            let (breaks, characters_only): (Vec<_>, Vec<_>) = characters_and_breaks
                .into_iter()
                .partition(|(_, token)| token == CJK_BREAK);
            assert_eq!(characters_only, core_cjk, "{text:?}");
            // A break token stands exactly on each free position between two CJK
            // characters.
            let core_breaks: Vec<usize> = core
                .windows(2)
                .filter(|pair| {
                    pair[1].0 == pair[0].0 + 2
                        && pair.iter().all(|(_, token)| token.chars().any(is_cjk))
                })
                .map(|pair| pair[0].0 + 1)
                .collect();
            let break_positions: Vec<usize> = breaks.into_iter().map(|(p, _)| p).collect();
            assert_eq!(break_positions, core_breaks, "{text:?}");

            let mut stream = words.token_stream(&text);
            let mut latin = 0;
            while let Some(token) = stream.next() {
                let surface = text[token.offset_from..token.offset_to].to_lowercase();
                if surface.chars().any(is_cjk) {
                    // A segment covers one core token per character.
                    for (index, c) in surface.chars().enumerate() {
                        let wanted = (token.position + index, c.to_string());
                        assert!(core.contains(&wanted), "{text:?}: {wanted:?} in {core:?}");
                    }
                } else {
                    latin += 1;
                    let wanted = (token.position, surface);
                    assert!(core.contains(&wanted), "{text:?}: {wanted:?} in {core:?}");
                }
            }
            let core_latin = core.len() - core_cjk.len();
            assert_eq!(latin, core_latin, "{text:?}");
        }
    }

    #[test]
    fn user_dictionary_keeps_brand_whole() {
        // jieba alone splits this made-up brand into 安心 + 宝.
        let text = "我买的安心宝水壶爆炸了";
        let mut plain = vigil_analyzer(Arc::new(segmenter(&[])));
        let plain_words = words(&mut plain, text);
        assert!(
            !plain_words.contains(&"安心宝".to_string()),
            "{plain_words:?}"
        );

        let brands = [
            "安心宝".to_string(),
            "艾克米".to_string(),
            "Acme".to_string(),
        ];
        let mut with_brands = vigil_analyzer(Arc::new(segmenter(&brands)));
        assert_eq!(
            words(&mut with_brands, text),
            ["我", "买", "的", "安心宝", "水壶", "爆炸", "了"]
        );
        assert!(words(&mut with_brands, "艾克米水壶").contains(&"艾克米".to_string()));
        // The query side sees the same dictionary.
        assert_eq!(words(&mut with_brands, "安心宝"), ["安心宝"]);
    }

    #[test]
    fn cjk_tokenizer_emits_characters_counting_latin_words_and_breaks() {
        let mut analyzer = cjk_characters_analyzer();
        // 艾 克 | acme (counted, not emitted) | 米 | "!" between CJK takes one | 水
        let text = "艾克 acme 米!水";
        let tokens = analyze(&mut analyzer, text);
        let expected: Vec<(usize, String)> = vec![
            (0, "艾".into()),
            (1, "克".into()),
            (3, "米".into()),
            (4, CJK_BREAK.into()),
            (5, "水".into()),
        ];
        assert_eq!(tokens, expected);
        // The break token covers the separators, for highlighting.
        let mut stream = analyzer.token_stream(text);
        while let Some(token) = stream.next() {
            if token.text == CJK_BREAK {
                assert_eq!(&text[token.offset_from..token.offset_to], "!");
            }
        }
    }

    #[test]
    fn cjk_tokenizer_opens_every_value_with_a_marker() {
        let mut analyzer = cjk_characters_analyzer();
        for text in ["", "acme only", "艾克米"] {
            let mut stream = analyzer.token_stream(text);
            let first = stream
                .next()
                .map(|token| (token.text.clone(), token.position));
            assert_eq!(first, Some((VALUE_START.to_string(), 0)), "{text:?}");
            let mut rest = 0;
            while let Some(token) = stream.next() {
                assert_ne!(token.text, VALUE_START);
                rest += 1;
            }
            assert_eq!(rest, text.chars().filter(|c| is_cjk(*c)).count());
        }
    }

    #[test]
    fn user_dictionary_keeps_product_names_whole() {
        // A four-character product name jieba alone cuts in two (净水 + 神器).
        let name = "净水神器";
        let text = "艾克米的净水神器坏了";
        let mut plain = vigil_analyzer(Arc::new(segmenter(&[])));
        let plain_words = words(&mut plain, text);
        assert!(!plain_words.contains(&name.to_string()), "{plain_words:?}");
        let mut configured = vigil_analyzer(Arc::new(segmenter(&[
            "艾克米".to_string(),
            name.to_string(),
        ])));
        let configured_words = words(&mut configured, text);
        assert!(
            configured_words.contains(&name.to_string()),
            "{configured_words:?}"
        );
        assert!(
            configured_words.contains(&"艾克米".to_string()),
            "{configured_words:?}"
        );
        assert_eq!(words(&mut configured, name), [name]);
    }

    #[test]
    fn odd_input_does_not_panic() {
        let mut analyzer = vigil_analyzer(Arc::new(segmenter(&["".into(), "  ".into()])));
        for text in [
            "",
            " ",
            "\u{0}",
            "🙂🙂",
            "ｱｲｳ",
            "한국어",
            "a\u{301}",
            &"水".repeat(5000),
        ] {
            let _ = analyze(&mut analyzer, text);
            let _ = analyze(&mut cjk_analyzer(), text);
        }
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert!(words(&mut analyzer, &long).is_empty());
    }

    /// The tokenizer as it was before it lower-cased and stemmed by itself: segments and
    /// words as separate tokens, then tantivy's own filters. The fused one must spell
    /// every token the same, or indexes and queries would disagree with older builds'
    /// reasoning (and `Query::matches`).
    mod reference {
        use super::super::*;
        use tantivy::tokenizer::{LowerCaser, RemoveLongFilter};

        #[derive(Clone)]
        pub struct Tokens(Vec<Token>, Token);

        impl TokenStream for Tokens {
            fn advance(&mut self) -> bool {
                if self.0.is_empty() {
                    return false;
                }
                self.1 = self.0.remove(0);
                true
            }
            fn token(&self) -> &Token {
                &self.1
            }
            fn token_mut(&mut self) -> &mut Token {
                &mut self.1
            }
        }

        #[derive(Clone)]
        pub struct Unfiltered(pub Arc<Jieba>);

        impl Tokenizer for Unfiltered {
            type TokenStream<'a> = Tokens;
            fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
                let mut tokens = Vec::new();
                let token = |from: usize, text: &str, position| Token {
                    offset_from: from,
                    offset_to: from + text.len(),
                    position,
                    text: text.to_string(),
                    position_length: 1,
                };
                for_each_positioned_run(text, |run| match run.class {
                    CharClass::Separator => {}
                    CharClass::Word => tokens.push(token(run.offset, run.text, run.position)),
                    CharClass::Cjk => {
                        let mut offset = 0;
                        let mut position = run.position;
                        for word in self.0.cut(run.text, true) {
                            tokens.push(token(run.offset + offset, word, position));
                            offset += word.len();
                            position += word.chars().count();
                        }
                    }
                });
                Tokens(tokens, Token::default())
            }
        }

        pub fn analyzer(jieba: Arc<Jieba>) -> TextAnalyzer {
            TextAnalyzer::builder(Unfiltered(jieba))
                .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
                .filter(LowerCaser)
                .filter(Stemmer::new(Language::English))
                .build()
        }
    }

    fn all_tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<Token> {
        let mut stream = analyzer.token_stream(text);
        let mut tokens = Vec::new();
        while let Some(token) = stream.next() {
            tokens.push(token.clone());
        }
        tokens
    }

    #[test]
    fn fused_analyzer_spells_every_token_as_tantivys_filters_did() {
        const PIECES: &[&str] = &[
            "Acme",
            "KETTLES",
            "exploded",
            "running",
            "Café",
            "ÉCOLE",
            "İstanbul",
            "STRASSE",
            "straße",
            "ΣΟΦΙΑ",
            "Ⅻ",
            "x_Y",
            "42",
            "艾克米",
            "水壶",
            "爆炸了",
            "ｱｲｳ",
            "カタカナ",
            "한국어",
            "安心宝",
            " ",
            "，",
            "-",
            "'s",
            "🙂",
        ];
        let jieba = Arc::new(segmenter(&["艾克米".to_string()]));
        let mut fused = vigil_analyzer(Arc::clone(&jieba));
        let mut old = reference::analyzer(jieba);
        let mut state: u64 = 0x5eed;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        let long_word = "W".repeat(MAX_TOKEN_BYTES);
        let long_cjk = "水".repeat(40);
        for round in 0..3_000 {
            let mut text: String = (0..next() % 20)
                .map(|_| PIECES[next() % PIECES.len()])
                .collect();
            if round % 100 == 0 {
                text.push(' ');
                text.push_str(&long_word);
                text.push_str(&long_cjk);
            }
            // Twice through the same tokenizer: remembered stems spell the same.
            for _ in 0..2 {
                assert_eq!(
                    all_tokens(&mut fused, &text),
                    all_tokens(&mut old, &text),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn query_terms_are_bigrams_at_the_characters_positions() {
        let mut characters = cjk_characters_analyzer();
        let terms = |characters: &mut TextAnalyzer, text: &str| -> Vec<(usize, String)> {
            cjk_query_terms(&analyze(characters, text))
        };
        let expect = |pairs: &[(usize, &str)]| -> Vec<(usize, String)> {
            pairs.iter().map(|(p, t)| (*p, t.to_string())).collect()
        };
        assert_eq!(terms(&mut characters, "水"), expect(&[(0, "水")]));
        assert_eq!(terms(&mut characters, "水壶"), expect(&[(0, "水壶")]));
        assert_eq!(
            terms(&mut characters, "艾克米"),
            expect(&[(0, "艾克"), (1, "克米")])
        );
        assert_eq!(
            terms(&mut characters, "艾克米水"),
            expect(&[(0, "艾克"), (2, "米水")])
        );
        assert_eq!(
            terms(&mut characters, "净水神器好"),
            expect(&[(0, "净水"), (2, "神器"), (3, "器好")])
        );
        // Breaks stay, and split the runs.
        assert_eq!(
            terms(&mut characters, "艾克米，召回 水"),
            expect(&[
                (0, "艾克"),
                (1, "克米"),
                (3, CJK_BREAK),
                (4, "召回"),
                (6, CJK_BREAK),
                (7, "水")
            ])
        );
        // Every term is one the index holds for the same text.
        let mut index = cjk_analyzer();
        for text in ["艾克米，召回 水", "净水神器好", "了"] {
            let indexed = analyze(&mut index, text);
            for term in terms(&mut characters, text) {
                assert!(indexed.contains(&term), "{text:?}: {term:?}");
            }
        }
    }

    #[test]
    fn has_cjk_finds_any_cjk_character() {
        assert!(!has_cjk("plain ascii"));
        assert!(!has_cjk("Café 🙂 Ⅻ"));
        assert!(has_cjk("my Acme水壶"));
        assert!(has_cjk("カ"));
        assert!(has_cjk("한"));
    }
}

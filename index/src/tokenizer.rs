//! The two analyzers behind the text fields.
//!
//! - `vigil` (fields `text`, `title`): words of space-separated scripts are runs of
//!   word characters; runs of CJK characters are segmented into words by jieba (with
//!   the brand names and terms from config in its user dictionary). Tokens are then
//!   lower-cased and English-stemmed.
//! - `vigil_cjk` (field `text_cjk`): every CJK character is a token. A phrase of
//!   characters then finds a Chinese term anywhere, however jieba segmented the text
//!   around it — the substring semantics `Query::matches` has for CJK, and a safety net
//!   for brand names added to config after the posts were indexed. Every value opens
//!   with a [`VALUE_START`] marker token so `NEAR` can tell the title's positions from
//!   the body's (`text_cjk` holds the title, when there is one, then the body), and a
//!   [`CJK_BREAK`] token stands on every break between CJK characters.
//!
//! Both number tokens the way `vigil_core::query::word_positions` does, which is what
//! `NEAR/n` counts: a Latin word takes one position, a CJK character one (a jieba
//! segment as many as it has characters, so its neighbours are where they would be in
//! `text_cjk`), separators none — except a run of them between two CJK characters,
//! which takes one, so a phrase never spans "艾克米，召回"'s comma. `vigil_cjk` emits no
//! Latin words but counts them, so its positions match `vigil`'s.

use std::sync::Arc;

use jieba_rs::Jieba;
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};
use vigil_core::text::{is_cjk, is_word_char};

// The names are in the schema: renaming them (as when positions changed for NEAR) makes
// `SearchIndex::open` rebuild indexes analyzed the old way.
pub(crate) const VIGIL_TOKENIZER: &str = "vigil_v2";
pub(crate) const CJK_TOKENIZER: &str = "vigil_cjk_v2";

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
    TextAnalyzer::builder(VigilTokenizer { jieba })
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

pub(crate) fn cjk_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CjkCharTokenizer).build()
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum CharClass {
    Word,
    Cjk,
    Separator,
}

fn classify(c: char) -> CharClass {
    if is_cjk(c) {
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

#[derive(Clone)]
pub(crate) struct VigilTokenizer {
    jieba: Arc<Jieba>,
}

pub(crate) struct VecTokenStream {
    tokens: std::vec::IntoIter<Token>,
    current: Token,
}

impl VecTokenStream {
    fn new(tokens: Vec<Token>) -> Self {
        Self {
            tokens: tokens.into_iter(),
            current: Token::default(),
        }
    }
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(token) => {
                self.current = token;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

fn token(offset_from: usize, text: &str, position: usize) -> Token {
    Token {
        offset_from,
        offset_to: offset_from + text.len(),
        position,
        text: text.to_string(),
        position_length: 1,
    }
}

impl Tokenizer for VigilTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let mut tokens = Vec::new();
        for_each_positioned_run(text, |run| match run.class {
            CharClass::Separator => {}
            CharClass::Word => tokens.push(token(run.offset, run.text, run.position)),
            CharClass::Cjk => {
                // Default mode (not Search) so a query term segments the way the
                // same characters did in the text.
                let mut word_offset = 0;
                let mut word_position = run.position;
                for word in self.jieba.cut(run.text, true) {
                    let word_start = run.offset + word_offset;
                    word_offset += word.len();
                    if word.chars().any(is_cjk) {
                        tokens.push(token(word_start, word, word_position));
                    }
                    word_position += word.chars().count();
                }
                debug_assert_eq!(word_offset, run.text.len(), "jieba words tile the run");
            }
        });
        VecTokenStream::new(tokens)
    }
}

#[derive(Clone)]
pub(crate) struct CjkCharTokenizer;

impl Tokenizer for CjkCharTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let mut tokens = vec![Token {
            text: VALUE_START.to_string(),
            ..token(0, "", 0)
        }];
        for_each_positioned_run(text, |run| {
            if run.class != CharClass::Cjk {
                return;
            }
            if let Some(separators) = run.break_before {
                tokens.push(Token {
                    offset_from: separators.start,
                    offset_to: separators.end,
                    position: run.position - 1,
                    text: CJK_BREAK.to_string(),
                    position_length: 1,
                });
            }
            for (index, (offset, c)) in run.text.char_indices().enumerate() {
                let mut buffer = [0u8; 4];
                tokens.push(token(
                    run.offset + offset,
                    c.encode_utf8(&mut buffer),
                    run.position + index,
                ));
            }
        });
        VecTokenStream::new(tokens)
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
        let mut characters = cjk_analyzer();
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
            let (breaks, characters_only): (Vec<_>, Vec<_>) = analyze(&mut characters, &text)
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
        let mut analyzer = cjk_analyzer();
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
        let mut analyzer = cjk_analyzer();
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
}

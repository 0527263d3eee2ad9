//! The two analyzers behind the text fields.
//!
//! - `vigil` (fields `text`, `title`): words of space-separated scripts are runs of
//!   word characters; runs of CJK characters are segmented into words by jieba (with
//!   the brand names and terms from config in its user dictionary). Tokens are then
//!   lower-cased and English-stemmed.
//! - `vigil_cjk` (field `text_cjk`): every CJK character is a token. A phrase of
//!   characters then finds a Chinese term anywhere, however jieba segmented the text
//!   around it — the substring semantics `Query::matches` has for CJK, and a safety net
//!   for brand names added to config after the posts were indexed.
//!
//! Separators never become tokens, and positions grow by one per emitted token so
//! phrase queries work; `vigil_cjk` leaves one free position where a run of CJK is
//! broken, so a phrase never spans punctuation or Latin text.

use std::sync::Arc;

use jieba_rs::Jieba;
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};
use vigil_core::text::{is_cjk, is_word_char};

pub(crate) const VIGIL_TOKENIZER: &str = "vigil";
pub(crate) const CJK_TOKENIZER: &str = "vigil_cjk";

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

/// Runs `text` through `analyzer`, returning `(position, term text)` pairs.
pub(crate) fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<(usize, String)> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push((token.position, token.text.clone()));
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
        for_each_run(text, |run_offset, run, class| match class {
            CharClass::Separator => {}
            CharClass::Word => tokens.push(token(run_offset, run, tokens.len())),
            CharClass::Cjk => {
                // Default mode (not Search) so a query term segments the way the
                // same characters did in the text.
                let mut word_offset = 0;
                for word in self.jieba.cut(run, true) {
                    let word_start = run_offset + word_offset;
                    word_offset += word.len();
                    if word.chars().any(is_cjk) {
                        tokens.push(token(word_start, word, tokens.len()));
                    }
                }
                debug_assert_eq!(word_offset, run.len(), "jieba words tile the run");
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
        let mut tokens = Vec::new();
        let mut position = 0;
        for_each_run(text, |run_offset, run, class| {
            if class != CharClass::Cjk {
                return;
            }
            if !tokens.is_empty() {
                // Leave a hole so a phrase cannot bridge whatever broke the run.
                position += 1;
            }
            for (offset, c) in run.char_indices() {
                let mut buffer = [0u8; 4];
                tokens.push(token(
                    run_offset + offset,
                    c.encode_utf8(&mut buffer),
                    position,
                ));
                position += 1;
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
    fn positions_count_emitted_tokens_and_offsets_are_bytes() {
        let mut analyzer = vigil_analyzer(Arc::new(segmenter(&[])));
        let text = "我的 Acme水壶，爆炸了!";
        let mut stream = analyzer.token_stream(text);
        let mut position = 0;
        while let Some(token) = stream.next() {
            assert_eq!(token.position, position);
            assert!(text.is_char_boundary(token.offset_from));
            assert!(text.is_char_boundary(token.offset_to));
            position += 1;
        }
        assert!(position >= 4, "got {position} tokens");
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
    fn cjk_tokenizer_emits_characters_with_gaps_between_runs() {
        let mut analyzer = cjk_analyzer();
        let tokens = analyze(&mut analyzer, "艾克 acme 米!水");
        let expected: Vec<(usize, String)> = vec![
            (0, "艾".into()),
            (1, "克".into()),
            (3, "米".into()),
            (5, "水".into()),
        ];
        assert_eq!(tokens, expected);
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

//! The built-in `lexicon` backend: VADER for English (`vader.rs`, a port of the
//! `vader_sentiment` crate; `reference.rs` checks it against the crate), a bundled
//! lexicon for Chinese, both offline and without model files.

mod chinese;
mod english;
#[cfg(test)]
mod reference;
mod vader;

use std::sync::OnceLock;

use rustc_hash::FxHashMap;
use vigil_core::text::{detect_lang, is_cjk};
use vigil_core::{Classifier, Label, Sentiment};

use chinese::ChineseLexicon;

/// VADER's normalisation constant: a summed valence of ±15 maps to about ±0.97.
const NORMALIZATION_ALPHA: f64 = 15.0;
/// VADER's punctuation emphasis: each "!" (up to four) adds 0.292 to the magnitude,
/// "?" adds 0.18 each, 0.96 in all beyond three.
const EXCLAMATION_INCREMENT: f64 = 0.292;
const MAX_EXCLAMATIONS: usize = 4;
const QUESTION_INCREMENT: f64 = 0.18;
const MAX_QUESTIONS: usize = 3;
const MANY_QUESTIONS_INCREMENT: f64 = 0.96;

/// Scores at or beyond ±this are polar; inside the band, neutral (VADER's convention).
const POLARITY_THRESHOLD: f32 = 0.05;
/// Longer texts are scored on their first this many bytes: sentiment of a long
/// article is decided by its opening, and the cost of one call stays bounded.
pub(crate) const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Confidence of the neutral verdict for a text in a language the lexicons do not
/// cover (a hint naming another language, or Latin text that reads as German, French,
/// Spanish…): below the 0.5 any polar verdict has, because "neutral" here means "not
/// read", not "read and found neutral".
pub(crate) const UNSUPPORTED_LANGUAGE_CONFIDENCE: f32 = 0.2;
/// In mixed-script text one Han character carries about as much as this many Latin
/// letters (a two-character Chinese word against a five-letter English one).
const LATIN_LETTERS_PER_HAN: f64 = 2.5;

/// The built-in backend. Construction is cheap after the first one in a process (the
/// English lexicon is shared); classifying needs no I/O and never panics.
#[derive(Debug)]
pub struct LexiconClassifier {
    chinese: ChineseLexicon,
}

impl LexiconClassifier {
    /// Backend name, as in the config's `classifier.backend`.
    pub const BACKEND: &'static str = "lexicon";
    /// Recorded with every score; bump when the lexicons or the rules change.
    pub const VERSION: &'static str = "lexicon-2";

    pub fn new() -> Self {
        english::warm_up();
        LexiconClassifier {
            chinese: ChineseLexicon::builtin(),
        }
    }

    /// The score and the parts it is made of (for the `learned` backend's dense
    /// features). Text in a language the lexicons do not cover
    /// ([`unsupported_language`]) scores 0 with no parts.
    pub(crate) fn analyse(&self, text: &str) -> Analysis {
        if unsupported_language(text) {
            return Analysis::english_only(0.0, 0);
        }
        self.analyse_as_supported(text)
    }

    /// [`Self::analyse`] without the language check: the text is read as English and
    /// Chinese whatever it is.
    fn analyse_as_supported(&self, text: &str) -> Analysis {
        let emoji = |c| self.chinese.emoji_valence(c);
        if text.is_ascii() {
            // No Han: English only, without counting characters.
            let english = english::score(text, emoji);
            return Analysis::english_only(english, text.len());
        }
        let mut han = 0usize;
        let mut latin = 0usize;
        for c in text.chars() {
            if is_cjk(c) {
                han += 1;
            } else if c.is_alphabetic() {
                latin += 1;
            }
        }
        if han == 0 {
            let (kaomoji, _) = self.chinese.kaomoji(text);
            let mut english = english::score(text, emoji);
            if kaomoji != 0.0 {
                english = normalize(denormalize(english) + kaomoji);
            }
            return Analysis::english_only(english, latin);
        }
        let chinese = self.chinese.score(text);
        if latin == 0 {
            return Analysis {
                combined: chinese.score,
                english: 0.0,
                chinese: chinese.score,
                chinese_hits: chinese.hits,
                han,
                latin,
            };
        }
        // Mixed scripts: score each part and weigh by length. A part with nothing
        // sentiment-bearing (typically a Latin brand name in a Chinese post) is left
        // out instead of pulling the other part towards neutral.
        let latin_part: String = text
            .chars()
            .map(|c| if is_cjk(c) { ' ' } else { c })
            .collect();
        let english = english::score(&latin_part, emoji);
        let chinese_weight = if chinese.hits > 0 { han as f64 } else { 0.0 };
        let english_weight = if english != 0.0 {
            latin as f64 / LATIN_LETTERS_PER_HAN
        } else {
            0.0
        };
        let total_weight = chinese_weight + english_weight;
        let combined = if total_weight == 0.0 {
            0.0
        } else {
            (chinese.score * chinese_weight + english * english_weight) / total_weight
        };
        Analysis {
            combined,
            english,
            chinese: chinese.score,
            chinese_hits: chinese.hits,
            han,
            latin,
        }
    }
}

/// What [`LexiconClassifier::analyse`] found in one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Analysis {
    /// The backend's score (before clamping and labelling).
    pub(crate) combined: f64,
    /// VADER's compound score of the Latin part (0 when there is none).
    pub(crate) english: f64,
    /// The Chinese lexicon's score (0 without Han characters).
    pub(crate) chinese: f64,
    /// Sentiment-bearing Chinese entries found.
    pub(crate) chinese_hits: usize,
    /// Han characters (0 for ASCII text).
    pub(crate) han: usize,
    /// Latin letters (for ASCII text: its length in bytes, not counted separately).
    pub(crate) latin: usize,
}

impl Analysis {
    fn english_only(english: f64, latin: usize) -> Self {
        Analysis {
            combined: english,
            english,
            chinese: 0.0,
            chinese_hits: 0,
            han: 0,
            latin,
        }
    }
}

impl Default for LexiconClassifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Classifier for LexiconClassifier {
    fn backend(&self) -> &str {
        Self::BACKEND
    }

    fn version(&self) -> &str {
        Self::VERSION
    }

    fn classify(&self, text: &str, lang: Option<&str>) -> Sentiment {
        let text = truncate_to_bytes(text, MAX_TEXT_BYTES);
        let lang = resolve_lang(text, lang);
        if lang == UNDETERMINED && text.chars().any(char::is_alphabetic) {
            // Letters of a language the lexicons do not cover: say so rather than
            // read German through an English lexicon ("war" is negative in English).
            return Sentiment {
                label: Label::Neutral,
                score: 0.0,
                confidence: UNSUPPORTED_LANGUAGE_CONFIDENCE,
                lang: lang.to_owned(),
                backend: Self::BACKEND.to_owned(),
                version: Self::VERSION.to_owned(),
            };
        }
        // The language is supported, by detection or by the hint: a hint wins over
        // detection, as it always has.
        let score = self.analyse_as_supported(text).combined as f32;
        let score = if score.is_finite() {
            score.clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let (label, confidence) = verdict(score);
        Sentiment {
            label,
            score,
            confidence,
            lang: lang.to_owned(),
            backend: Self::BACKEND.to_owned(),
            version: Self::VERSION.to_owned(),
        }
    }
}

/// Label and confidence for a score. Polar labels: 0.5 at the threshold rising
/// linearly to 1.0 at ±1 (`0.5 + |score| / 2`). Neutral: 1.0 at exactly 0 falling to
/// 0.5 at the threshold (`1 - |score| * 10`), so confidence is continuous-ish across
/// the boundary and lowest where the label is least certain.
pub(crate) fn verdict(score: f32) -> (Label, f32) {
    let magnitude = score.abs();
    if score >= POLARITY_THRESHOLD {
        (Label::Positive, (0.5 + magnitude / 2.0).min(1.0))
    } else if score <= -POLARITY_THRESHOLD {
        (Label::Negative, (0.5 + magnitude / 2.0).min(1.0))
    } else {
        (Label::Neutral, (1.0 - magnitude * 10.0).clamp(0.0, 1.0))
    }
}

/// The language tag for text the lexicons cannot read.
const UNDETERMINED: &str = "und";

/// The hint's primary subtag when it is one the lexicon knows (`zh-CN` → `zh`), `und`
/// for other languages, detection when there is no hint: `und` also for text with no
/// letters and for text in a language the lexicons do not cover
/// ([`unsupported_language`]).
pub(crate) fn resolve_lang(text: &str, hint: Option<&str>) -> &'static str {
    let Some(hint) = hint.map(str::trim).filter(|h| !h.is_empty()) else {
        if unsupported_language(text) {
            return UNDETERMINED;
        }
        return detect_lang_fast(text);
    };
    let primary = hint.split(['-', '_']).next().unwrap_or(hint);
    if primary.eq_ignore_ascii_case("en") {
        "en"
    } else if primary.eq_ignore_ascii_case("zh") {
        "zh"
    } else {
        "und"
    }
}

/// Whether `text` is in a language the lexicons do not cover, as far as cheap signs
/// tell: Japanese or Korean (a text at least half CJK in which kana or hangul, which
/// [`is_cjk`] counts as Han, are at least a fifth of the CJK characters), or
/// Latin-script text whose function words are German, French, Spanish, Italian, Portuguese or Dutch rather than English (at least
/// two such words, more than twice the English ones; ASCII text that reaches three
/// English ones before any foreign one is English). Text with too few words to tell
/// counts as covered.
pub(crate) fn unsupported_language(text: &str) -> bool {
    let mut words = FunctionWordCounts::default();
    let mut cjk = 0usize;
    let mut kana_or_hangul = 0usize;
    let mut latin = 0usize;
    if text.is_ascii() {
        for byte in text.bytes() {
            if words.english >= ENGLISH_WORDS_ENOUGH && words.foreign == 0 {
                // Plainly English so far: a post does not switch language often
                // enough to pay for reading the rest.
                return false;
            }
            if byte.is_ascii_alphabetic() {
                words.push(byte.to_ascii_lowercase());
            } else {
                words.finish_word();
            }
        }
    } else {
        let mut buffer = [0u8; 4];
        for c in text.chars() {
            if is_cjk(c) {
                cjk += 1;
                // Kana and hangul, not the katakana middle dot (・) that English posts use.
                if matches!(c as u32, 0x3040..=0x30FA | 0x30FD..=0x30FF | 0xAC00..=0xD7AF) {
                    kana_or_hangul += 1;
                }
                words.finish_word();
            } else if c.is_alphabetic() {
                latin += 1;
                for lower in c.to_lowercase() {
                    for &byte in lower.encode_utf8(&mut buffer).as_bytes() {
                        words.push(byte);
                    }
                }
            } else {
                words.finish_word();
            }
        }
    }
    words.finish_word();
    if cjk > 0 {
        // Only a post with at least as many CJK characters as Latin letters: an English
        // tweet with a Japanese hashtag is English.
        return kana_or_hangul >= 2 && kana_or_hangul * 5 >= cjk && cjk >= latin;
    }
    words.foreign >= 2 && words.foreign > 2 * words.english
}

/// Counts of function words, and the current word lower-cased and packed into a u64
/// while it fits in 8 bytes.
#[derive(Default)]
struct FunctionWordCounts {
    foreign: usize,
    english: usize,
    key: u64,
    key_bytes: usize,
}

impl FunctionWordCounts {
    fn push(&mut self, byte: u8) {
        self.key = self.key << 8 | u64::from(byte);
        self.key_bytes += 1;
    }

    fn finish_word(&mut self) {
        if (1..=8).contains(&self.key_bytes) {
            match function_words().get(&self.key) {
                Some(true) => self.foreign += 1,
                Some(false) => self.english += 1,
                None => {}
            }
        }
        self.key = 0;
        self.key_bytes = 0;
    }
}

/// An ASCII text whose words so far include this many English function words and no
/// foreign ones is taken as English without reading further.
const ENGLISH_WORDS_ENOUGH: usize = 3;

/// Function words frequent in one language and rare as English words (no "die", "war",
/// "also", "den", "van", "la", "de", which English text and names use). Lower case, at
/// most 8 bytes of UTF-8.
#[rustfmt::skip] // one line per language
const FOREIGN_FUNCTION_WORDS: &[&str] = &[
    // German
    "und", "ist", "nicht", "ich", "sehr", "ein", "eine", "einen", "das", "der", "mit",
    "auch", "aber", "wir", "sind", "nur", "noch", "für", "über", "wird", "kann", "wie",
    "bei", "auf", "dem", "sie", "gut", "schlecht", "nein", "bin", "habe", "haben", "wurde",
    "zum", "zur", "keine", "kein", "ganz", "leider", "schon", "immer",
    // French
    "est", "et", "je", "une", "très", "avec", "mais", "pas", "nous", "vous", "il", "elle",
    "qui", "les", "des", "du", "au", "sont", "ça", "ce", "cette", "mon", "dans", "suis",
    "j", "c", "n", "bien", "trop", "merci",
    // Spanish, Italian, Portuguese
    "muy", "pero", "es", "una", "está", "por", "para", "con", "que", "las", "lo", "yo",
    "mi", "su", "bueno", "malo", "gracias", "también", "más", "qué", "della", "che",
    "molto", "sono", "è", "anche", "questo", "não", "muito", "com", "uma", "é", "os",
    "isso", "mas", "você", "eu",
    // Dutch
    "het", "een", "niet", "zeer", "heel", "ik", "zijn", "maar",
];

/// English function words: their count keeps English text with a few foreign words
/// English.
const ENGLISH_FUNCTION_WORDS: &[&str] = &[
    "the", "and", "is", "are", "was", "this", "that", "with", "for", "you", "it", "not", "have",
    "my", "of", "to", "in", "on", "be", "but", "just", "so", "i", "me", "we", "they", "at", "very",
    "what", "a", "an", "all", "from", "will", "can", "if", "about", "get", "your", "our", "has",
];

/// [`FOREIGN_FUNCTION_WORDS`] (true) and [`ENGLISH_FUNCTION_WORDS`] (false) by their
/// bytes packed into a u64, so a word costs one hash lookup.
fn function_words() -> &'static FxHashMap<u64, bool> {
    static WORDS: OnceLock<FxHashMap<u64, bool>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let pack = |word: &str| {
            debug_assert!(word.len() <= 8, "{word}");
            word.bytes()
                .fold(0u64, |key, byte| key << 8 | u64::from(byte))
        };
        let foreign = FOREIGN_FUNCTION_WORDS.iter().map(|word| (pack(word), true));
        let english = ENGLISH_FUNCTION_WORDS
            .iter()
            .map(|word| (pack(word), false));
        foreign.chain(english).collect()
    })
}

/// [`detect_lang`], skipping its per-character count for ASCII text: no Han, so `en`
/// when there is a letter, else `und`.
fn detect_lang_fast(text: &str) -> &'static str {
    if !text.is_ascii() {
        return detect_lang(text);
    }
    if text.bytes().any(|byte| byte.is_ascii_alphabetic()) {
        "en"
    } else {
        "und"
    }
}

pub(crate) fn truncate_to_bytes(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// VADER's normalisation of a summed valence into -1..1.
fn normalize(total: f64) -> f64 {
    if !total.is_finite() {
        return 0.0;
    }
    (total / (total * total + NORMALIZATION_ALPHA).sqrt()).clamp(-1.0, 1.0)
}

/// Inverse of [`normalize`], to add valences to a score VADER already normalised.
fn denormalize(score: f64) -> f64 {
    let score = score.clamp(-0.9999, 0.9999);
    score * (NORMALIZATION_ALPHA / (1.0 - score * score)).sqrt()
}

/// How much "!" and "?" add to the magnitude of a non-zero sum (VADER's rule, counting
/// full-width marks too).
fn punctuation_emphasis(text: &str) -> f64 {
    let exclamations = text.chars().filter(|c| matches!(c, '!' | '！')).count();
    let questions = text.chars().filter(|c| matches!(c, '?' | '？')).count();
    let exclamation_emphasis = exclamations.min(MAX_EXCLAMATIONS) as f64 * EXCLAMATION_INCREMENT;
    let question_emphasis = if questions > MAX_QUESTIONS {
        MANY_QUESTIONS_INCREMENT
    } else {
        questions as f64 * QUESTION_INCREMENT
    };
    exclamation_emphasis + question_emphasis
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(text: &str) -> Sentiment {
        LexiconClassifier::new().classify(text, None)
    }

    fn label(text: &str) -> Label {
        classify(text).label
    }

    #[test]
    fn negation_in_both_languages() {
        assert_eq!(label("good"), Label::Positive);
        assert_eq!(label("not good"), Label::Negative);
        assert_eq!(label("好"), Label::Positive);
        assert_eq!(label("不好"), Label::Negative);
        let not_very_good = classify("不是很好");
        assert!(not_very_good.score < 0.05, "{not_very_good:?}");
        assert!(not_very_good.score > classify("不好").score);
    }

    #[test]
    fn intensifiers_in_both_languages() {
        assert!(classify("非常满意").score > classify("满意").score);
        assert!(classify("太差了").score < classify("差").score);
        assert!(classify("extremely good").score > classify("good").score);
        assert!(
            classify("The service was slow").score > classify("The service was SO slow!!").score
        );
    }

    #[test]
    fn adversatives_shift_weight_to_the_second_clause() {
        assert_eq!(label("好吃但是太贵了，以后不会再来了"), Label::Negative);
        assert_eq!(
            label("The pizza was good but the staff were rude and slow"),
            Label::Negative
        );
        assert_eq!(label("价格有点贵，不过味道真的很好"), Label::Positive);
    }

    #[test]
    fn emoji_and_emoticon_codes() {
        assert_eq!(label("😡😡"), Label::Negative);
        assert_eq!(label("👍"), Label::Positive);
        assert_eq!(label("Acme 👍❤️"), Label::Positive);
        assert_eq!(label("外卖到了[怒][怒]"), Label::Negative);
        assert_eq!(label("收到啦[哈哈][赞]"), Label::Positive);
        assert_eq!(label(":("), Label::Negative);
    }

    #[test]
    fn crisis_and_praise_sentences() {
        assert_eq!(
            label("Acme kettle exploded and burned my hand, avoid!"),
            Label::Negative
        );
        assert_eq!(label("艾克米水壶爆炸了，太危险了"), Label::Negative);
        assert_eq!(
            label("Love my new Acme kettle, works great"),
            Label::Positive
        );
        assert_eq!(label("这个水壶很好用，推荐"), Label::Positive);
        assert_eq!(
            label("Acme recalled 20,000 kettles after reports of fires"),
            Label::Negative
        );
        assert_eq!(label("艾克米召回两万台水壶"), Label::Negative);
    }

    #[test]
    fn factual_sentences_are_neutral() {
        for text in [
            "Acme will release its new kettle on Monday.",
            "The store opens at 9am on weekdays.",
            "艾克米周一发布新款水壶",
            "快递今天下午送到公司",
            "1234 56",
            "",
        ] {
            let sentiment = classify(text);
            assert_eq!(sentiment.label, Label::Neutral, "{text}: {sentiment:?}");
            assert_eq!(sentiment.confidence, 1.0, "{text}");
        }
    }

    #[test]
    fn mixed_script_posts_combine_both_parts() {
        // A Latin brand name does not dilute a Chinese verdict.
        let brand_only = classify("我的Acme水壶爆炸了");
        assert_eq!(brand_only.label, Label::Negative);
        assert_eq!(brand_only.score, classify("我的水壶爆炸了").score);
        // Both parts polar: the result lies between them.
        let zh = classify("水壶很好用").score;
        let en = classify("terrible").score;
        let mixed = classify("水壶很好用 terrible").score;
        assert!(mixed < zh && mixed > en, "{en} < {mixed} < {zh}");
        assert_eq!(label("Acme水壶 is awful, 太危险了"), Label::Negative);
    }

    /// Regression: German was read with the English lexicon ("war" is negative there)
    /// and came out with a confident label. Languages the lexicons do not cover are
    /// neutral with low confidence and `und`.
    #[test]
    fn unsupported_languages_are_neutral_with_low_confidence() {
        let classifier = LexiconClassifier::new();
        for (text, hint) in [
            ("Das ist ein gutes Produkt, ich bin sehr zufrieden.", None),
            (
                "Das Essen war schrecklich und der Service war langsam.",
                None,
            ),
            ("Le produit est très bien, je suis content.", None),
            ("El servicio es muy malo y la comida está fría.", None),
            ("この商品はとても良いです", None),
            ("이 제품 정말 좋아요", None),
            ("Das Produkt war gut", Some("de")),
            ("great product", Some("fr-FR")),
        ] {
            let sentiment = classifier.classify(text, hint);
            assert_eq!(sentiment.label, Label::Neutral, "{text}: {sentiment:?}");
            assert_eq!(sentiment.score, 0.0, "{text}");
            assert_eq!(
                sentiment.confidence, UNSUPPORTED_LANGUAGE_CONFIDENCE,
                "{text}"
            );
            assert_eq!(sentiment.lang, "und", "{text}");
            if hint.is_none() {
                assert_eq!(classifier.analyse(text).combined, 0.0, "{text}");
            }
        }
        // English and Chinese keep their scores, including a few foreign words, a
        // Japanese kaomoji character and a hint that says English.
        for (text, hint, label) in [
            (
                "The food at Le Petit Bistro is great",
                None,
                Label::Positive,
            ),
            ("Real Madrid lost again, terrible", None, Label::Negative),
            ("I love La La Land", None, Label::Positive),
            ("Das war gut", Some("en"), Label::Negative),
            ("今天好开心ヾ(≧▽≦*)o", None, Label::Positive),
            ("Happy #Thanksgiving・・・#アリアナ", None, Label::Positive),
            ("这个水壶很好用", Some("zh-CN"), Label::Positive),
        ] {
            let sentiment = classifier.classify(text, hint);
            assert_eq!(sentiment.label, label, "{text}: {sentiment:?}");
            assert_ne!(sentiment.lang, "und", "{text}");
        }
        // No letters: still scored (emoji), still `und`.
        assert_eq!(classifier.classify("👍", Some("de")).label, Label::Positive);
    }

    /// Regression: +0.37 ("not" negated "terrible" across the comma).
    #[test]
    fn would_not_go_back_terrible_is_negative() {
        let sentiment = classify("I would not go back, terrible.");
        assert_eq!(sentiment.label, Label::Negative, "{sentiment:?}");
    }

    #[test]
    fn kaomoji_alone_and_in_posts() {
        assert_eq!(label("(╥﹏╥)"), Label::Negative);
        assert_eq!(label("( ´▽｀)"), Label::Positive);
        assert_eq!(label("finally got it ( ´▽｀)"), Label::Positive);
        assert_eq!(label("等了两个小时(╥﹏╥)"), Label::Negative);
    }

    #[test]
    fn sentiment_carries_lang_backend_and_version() {
        let classifier = LexiconClassifier::new();
        let zh = classifier.classify("这个水壶很好用", None);
        assert_eq!(zh.lang, "zh");
        assert_eq!(zh.backend, "lexicon");
        assert_eq!(zh.version, LexiconClassifier::VERSION);
        assert_eq!(classifier.classify("works great", None).lang, "en");
        assert_eq!(classifier.classify("👍", None).lang, "und");
        assert_eq!(classifier.classify("works great", Some("zh-CN")).lang, "zh");
        assert_eq!(classifier.classify("works great", Some(" EN ")).lang, "en");
        assert_eq!(
            classifier.classify("fonctionne bien", Some("fr")).lang,
            "und"
        );
        assert_eq!(classifier.classify("works great", Some("")).lang, "en");
        assert_eq!(classifier.backend(), "lexicon");
        assert_eq!(classifier.version(), "lexicon-2");
    }

    #[test]
    fn verdict_mapping() {
        assert_eq!(verdict(0.0), (Label::Neutral, 1.0));
        assert_eq!(verdict(0.05).0, Label::Positive);
        assert_eq!(verdict(-0.05).0, Label::Negative);
        assert_eq!(verdict(1.0), (Label::Positive, 1.0));
        assert_eq!(verdict(-1.0), (Label::Negative, 1.0));
        let (label, confidence) = verdict(0.04);
        assert_eq!(label, Label::Neutral);
        assert!((confidence - 0.6).abs() < 1e-6);
        let (_, confidence) = verdict(-0.5);
        assert!((confidence - 0.75).abs() < 1e-6);
    }

    #[test]
    fn never_panics_and_stays_in_range() {
        let classifier = LexiconClassifier::new();
        let huge = "great terrible 好 差 😡 ".repeat(20_000);
        let inputs = [
            String::new(),
            " ".to_owned(),
            "\0\u{1}\u{7f}\u{85}\u{200b}\u{feff}".to_owned(),
            "!!!!!!!!????????".to_owned(),
            "'''\"\"\" -- :) :( ;-) <3".to_owned(),
            "a".to_owned(),
            "x y z but but but not not not".to_owned(),
            "\u{fe0f}\u{200d}\u{fe0f}".to_owned(),
            "[[[[怒]]]][".to_owned(),
            "不".repeat(1000),
            "好".repeat(1000),
            "NOT GOOD AT ALL!!! very very very very very bad".to_owned(),
            "𠀀𠀁 \u{10ffff} \u{e000}".to_owned(),
            huge,
        ];
        for text in &inputs {
            for lang in [None, Some("en"), Some("zh"), Some("xx")] {
                let sentiment = classifier.classify(text, lang);
                assert!((-1.0..=1.0).contains(&sentiment.score), "{sentiment:?}");
                assert!((0.0..=1.0).contains(&sentiment.confidence), "{sentiment:?}");
            }
        }
    }

    #[test]
    fn fast_language_detection_is_detect_lang() {
        for text in [
            "",
            "1234 56!",
            "a",
            "Acme kettle broke",
            "  \t\n",
            "_",
            "水壶",
            "Acme 水壶 kettle",
            "café",
            "😡",
        ] {
            assert_eq!(detect_lang_fast(text), detect_lang(text), "{text:?}");
        }
        for byte in 0u8..=127 {
            let text = format!("{} x1", char::from(byte));
            assert_eq!(detect_lang_fast(&text), detect_lang(&text), "{text:?}");
            let alone = char::from(byte).to_string();
            assert_eq!(detect_lang_fast(&alone), detect_lang(&alone), "{alone:?}");
        }
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_to_bytes("水壶", 4), "水");
        assert_eq!(truncate_to_bytes("abc", 10), "abc");
        assert_eq!(truncate_to_bytes("水", 0), "");
    }

    #[test]
    fn normalisation_round_trips() {
        for total in [-8.0, -1.5, 0.0, 0.3, 4.0] {
            assert!(
                (denormalize(normalize(total)) - total).abs() < 1e-6,
                "{total}"
            );
        }
        assert_eq!(normalize(f64::NAN), 0.0);
    }

    #[test]
    fn classify_batch_keeps_order() {
        let classifier = LexiconClassifier::new();
        let out = classifier.classify_batch(&[("great", None), ("差", Some("zh")), ("", None)]);
        let labels: Vec<Label> = out.iter().map(|s| s.label).collect();
        assert_eq!(labels, [Label::Positive, Label::Negative, Label::Neutral]);
    }
}

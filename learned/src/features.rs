//! Text → hashed sparse features, in one pass and without heap allocation.
//!
//! The scanner walks the text once. Latin-script words (any alphanumeric run outside
//! the CJK blocks) are lower-cased and hashed as unigrams and bigrams, optionally with
//! character n-grams inside the word; CJK runs (Han, kana, Hangul) give character
//! n-grams, so Chinese needs no segmentation. URLs, @mentions and numbers collapse to
//! one token each; emoji and ASCII emoticons are tokens of their own. A negator (`not`,
//! `n't`, `never`, …) marks the next few words until clause punctuation, so `not good`
//! yields a different unigram from `good`. Cheap signals (exclamation and question
//! marks, all-caps words, elongated words, emoji) become a handful of extra features.
//!
//! Every feature is a 64-bit hash; the model maps it to a bucket (the top `hash_bits`
//! bits) and a sign (the lowest bit), the "signed hashing trick", so collisions cancel
//! out on average instead of adding up.

use serde::{Deserialize, Serialize};

use crate::error::{LearnedError, Result};

/// Which features the model extracts. Stored in the model file, so prediction always
/// uses the configuration the model was trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// The weight table has `2^hash_bits` buckets (10..=24).
    pub hash_bits: u8,
    /// Longest word n-gram for Latin text: 1 (unigrams) or 2 (adds bigrams).
    pub word_ngrams: u8,
    /// Character n-gram lengths over CJK runs (within 1..=4).
    pub cjk_char_ngrams: NgramRange,
    /// Character n-grams inside Latin words, with word-boundary markers; `None` = off.
    pub latin_char_ngrams: Option<NgramRange>,
    /// Negation marking of the words after a negator.
    pub negation: bool,
    /// Exclamation/question marks, all-caps, elongation and emoji signals.
    pub signals: bool,
}

/// An inclusive range of n-gram lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NgramRange {
    pub min: u8,
    pub max: u8,
}

/// The defaults are the configuration chosen on the shared dev splits (see
/// `learned/RESULTS.md`).
impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            hash_bits: 19,
            word_ngrams: 2,
            cjk_char_ngrams: NgramRange { min: 1, max: 2 },
            latin_char_ngrams: None,
            negation: true,
            signals: true,
        }
    }
}

pub(crate) const MIN_HASH_BITS: u8 = 10;
pub(crate) const MAX_HASH_BITS: u8 = 24;
/// Latin character n-grams are taken from at most this many leading characters of a
/// word (the word's own hash always covers all of it).
const WORD_BUFFER: usize = 24;
/// Words marked after a negator, unless clause punctuation comes first.
const NEGATION_SCOPE: u8 = 4;

impl FeatureConfig {
    /// Checks the ranges; used by training and by the model file reader.
    pub fn validate(&self) -> Result<()> {
        if !(MIN_HASH_BITS..=MAX_HASH_BITS).contains(&self.hash_bits) {
            return Err(LearnedError::InvalidConfig(format!(
                "hash_bits {} is outside {MIN_HASH_BITS}..={MAX_HASH_BITS}",
                self.hash_bits
            )));
        }
        if !(1..=2).contains(&self.word_ngrams) {
            return Err(LearnedError::InvalidConfig(format!(
                "word_ngrams {} is not 1 or 2",
                self.word_ngrams
            )));
        }
        let cjk = self.cjk_char_ngrams;
        if cjk.min == 0 || cjk.min > cjk.max || cjk.max > 4 {
            return Err(LearnedError::InvalidConfig(format!(
                "cjk_char_ngrams {}..={} is not within 1..=4",
                cjk.min, cjk.max
            )));
        }
        if let Some(latin) = self.latin_char_ngrams
            && (latin.min == 0 || latin.min > latin.max || latin.max > 6)
        {
            return Err(LearnedError::InvalidConfig(format!(
                "latin_char_ngrams {}..={} is not within 1..=6",
                latin.min, latin.max
            )));
        }
        Ok(())
    }

    pub(crate) fn buckets(&self) -> usize {
        1usize << self.hash_bits
    }
}

/// Features the caller computes, appended to the hashed ones: typically lexicon
/// scores, which this crate cannot compute itself (it must not depend on the
/// classifier). The model stores the name and count it was trained with and refuses
/// a different set.
pub trait DenseFeatures: Send + Sync {
    /// Names the feature set and its version (e.g. `lexicon-v2`); stored in the model.
    fn name(&self) -> &str;
    /// How many values [`DenseFeatures::features`] appends.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends exactly [`DenseFeatures::len`] values for `text` to `out` (which the
    /// caller has cleared). Any scale is fine: the model standardises each feature
    /// with the mean and deviation it saw in training.
    fn features(&self, text: &str, lang: Option<&str>, out: &mut Vec<f32>);
}

/// No dense features: the model uses hashed n-grams only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDense;

impl DenseFeatures for NoDense {
    fn name(&self) -> &str {
        "none"
    }
    fn len(&self) -> usize {
        0
    }
    fn features(&self, _text: &str, _lang: Option<&str>, _out: &mut Vec<f32>) {}
}

/// The hashes of every feature of `text`, in extraction order (for tests and
/// debugging; prediction hashes on the fly).
pub fn feature_hashes(text: &str, config: &FeatureConfig) -> Vec<u64> {
    let mut hashes = Vec::new();
    for_each_feature(text, config, |hash| hashes.push(hash));
    hashes
}

/// Maps a feature hash to its bucket (top bits) and sign (lowest bit).
#[inline]
pub(crate) fn bucket_and_sign(hash: u64, hash_bits: u8) -> (usize, f32) {
    let bucket = (hash >> (64 - u32::from(hash_bits))) as usize;
    let sign = if hash & 1 == 0 { 1.0 } else { -1.0 };
    (bucket, sign)
}

// Namespaces keep a word, a CJK n-gram and a signal with the same characters apart.
const SEED_WORD: u64 = 0x243F_6A88_85A3_08D3;
const SEED_NEGATED: u64 = 0x1319_8A2E_0370_7344;
const SEED_BIGRAM: u64 = 0xA409_3822_299F_31D0;
const SEED_CJK: u64 = 0x082E_FA98_EC4E_6C89;
const SEED_LATIN_CHARS: u64 = 0x4528_21E6_38D0_1377;
const SEED_SYMBOL: u64 = 0xBE54_66CF_34E9_0C6C;
const SEED_SIGNAL: u64 = 0xC0AC_29B7_C97C_50DD;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

#[inline]
fn fnv_char(hash: u64, c: char) -> u64 {
    (hash ^ u64::from(u32::from(c))).wrapping_mul(FNV_PRIME)
}

fn fnv_str(seed: u64, text: &str) -> u64 {
    text.chars().fold(FNV_OFFSET ^ seed, fnv_char)
}

/// SplitMix64's finaliser: spreads FNV's weak low bits over the whole word.
#[inline]
pub(crate) fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline]
fn combine(first: u64, second: u64, seed: u64) -> u64 {
    finalize(first.rotate_left(23) ^ second.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed)
}

/// Is `c` in a CJK block (Han ideographs, kana, Hangul)? These scripts are written
/// without spaces and get character n-grams.
#[inline]
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x2FFFF) // Extensions B–F
}

#[inline]
fn is_emoji(c: char) -> bool {
    matches!(u32::from(c),
        0x1F300..=0x1FAFF    // pictographs, emoticons, transport, supplemental
        | 0x1F000..=0x1F2FF  // mahjong, cards, enclosed
        | 0x2600..=0x27BF    // misc symbols, dingbats (☺ ♥ ✔ ❤)
        | 0x2B50..=0x2B55) // ⭐ ⭕
}

/// Emoji modifiers and joiners carry no meaning of their own.
#[inline]
fn is_emoji_modifier(c: char) -> bool {
    matches!(
        u32::from(c),
        0x1F3FB..=0x1F3FF | 0xFE0E | 0xFE0F | 0x200D | 0x20E3
    )
}

#[inline]
fn is_word_char(c: char) -> bool {
    c == '\'' || c == '\u{2019}' || (c.is_alphanumeric() && !is_cjk(c))
}

#[inline]
fn lower(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else if c == '\u{2019}' {
        '\''
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// Tokens that stand for a whole class of strings.
struct SpecialTokens {
    url: u64,
    user: u64,
    number: u64,
}

fn special_tokens() -> SpecialTokens {
    SpecialTokens {
        url: fnv_str(SEED_WORD, "\u{1}url"),
        user: fnv_str(SEED_WORD, "\u{1}user"),
        number: fnv_str(SEED_WORD, "\u{1}num"),
    }
}

const NEGATORS: &[&str] = &[
    "not", "no", "never", "n't", "nothing", "nobody", "none", "neither", "nor", "nowhere",
    "cannot", "cant", "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "werent", "wont",
    "wouldnt", "shouldnt", "couldnt", "aint", "havent", "hasnt", "hadnt", "without", "hardly",
    "barely",
];

fn is_negator(word: &[char]) -> bool {
    // "don't", "isn't", "n't" (PTB-tokenised text) all end in n't.
    if word.len() >= 3 && word[word.len() - 3..] == ['n', '\'', 't'] {
        return true;
    }
    NEGATORS
        .iter()
        .any(|negator| negator.chars().eq(word.iter().copied()))
}

/// Counters for the end-of-text signal features.
#[derive(Default)]
struct Signals {
    exclamations: u32,
    questions: u32,
    letter_words: u32,
    caps_words: u32,
    elongated_words: u32,
    emoji: u32,
}

struct Scanner<'c, F: FnMut(u64)> {
    config: &'c FeatureConfig,
    emit: F,
    specials: SpecialTokens,
    previous_word: Option<u64>,
    negation_left: u8,
    signals: Signals,
}

/// Calls `emit` with the hash of every feature of `text`. Training and prediction both
/// go through here, so they cannot disagree on features.
pub(crate) fn for_each_feature(text: &str, config: &FeatureConfig, emit: impl FnMut(u64)) {
    let mut scanner = Scanner {
        config,
        emit,
        specials: special_tokens(),
        previous_word: None,
        negation_left: 0,
        signals: Signals::default(),
    };
    scanner.scan(text);
    scanner.finish();
}

impl<F: FnMut(u64)> Scanner<'_, F> {
    fn scan(&mut self, text: &str) {
        let mut rest = text;
        let mut previous_char = ' ';
        while let Some(c) = rest.chars().next() {
            let consumed = self.token_at(rest, c, previous_char);
            let (done, remaining) = rest.split_at(consumed);
            previous_char = done.chars().next_back().unwrap_or(' ');
            rest = remaining;
        }
    }

    /// Handles the token starting at `rest` (whose first char is `c`); returns how many
    /// bytes it consumed (always at least one char).
    fn token_at(&mut self, rest: &str, c: char, previous_char: char) -> usize {
        let at_boundary = !previous_char.is_alphanumeric();
        if (c == 'h' || c == 'H' || c == 'w' || c == 'W')
            && at_boundary
            && let Some(url_len) = url_length(rest)
        {
            self.word_token(self.specials.url);
            return url_len;
        }
        if c == '@' && at_boundary {
            let mention_len = rest[1..]
                .char_indices()
                .find(|&(_, m)| !(m.is_alphanumeric() || m == '_' || m == '-'))
                .map_or(rest.len() - 1, |(index, _)| index);
            if mention_len > 0 {
                self.word_token(self.specials.user);
                return 1 + mention_len;
            }
        }
        if let Some(emoticon_len) = emoticon_length(rest, previous_char) {
            self.symbol(&rest[..emoticon_len]);
            self.signals.emoji += 1;
            return emoticon_len;
        }
        if is_word_char(c) {
            let word_len = rest
                .char_indices()
                .find(|&(_, w)| !is_word_char(w))
                .map_or(rest.len(), |(index, _)| index);
            self.word(&rest[..word_len]);
            return word_len;
        }
        if is_cjk(c) {
            let run_len = rest
                .char_indices()
                .find(|&(_, r)| !is_cjk(r))
                .map_or(rest.len(), |(index, _)| index);
            self.cjk_run(&rest[..run_len]);
            return run_len;
        }
        if is_emoji_modifier(c) {
            return c.len_utf8();
        }
        if is_emoji(c) {
            self.symbol(&rest[..c.len_utf8()]);
            self.signals.emoji += 1;
            return c.len_utf8();
        }
        match c {
            '!' | '！' => {
                self.signals.exclamations += 1;
                self.clause_break();
            }
            '?' | '？' => {
                self.signals.questions += 1;
                self.clause_break();
            }
            '.' | ',' | ';' | ':' | '。' | '，' | '；' | '：' | '、' | '…' => {
                self.clause_break()
            }
            _ => {}
        }
        c.len_utf8()
    }

    fn emit(&mut self, hash: u64) {
        (self.emit)(hash);
    }

    fn clause_break(&mut self) {
        self.negation_left = 0;
    }

    /// A token that takes part in the word n-grams (special tokens, words).
    fn word_token(&mut self, hash: u64) {
        self.emit(finalize(hash));
        self.bigram(hash);
    }

    fn bigram(&mut self, hash: u64) {
        if self.config.word_ngrams >= 2
            && let Some(previous) = self.previous_word
        {
            self.emit(combine(previous, hash, SEED_BIGRAM));
        }
        self.previous_word = Some(hash);
    }

    fn symbol(&mut self, symbol: &str) {
        self.emit(finalize(fnv_str(SEED_SYMBOL, symbol)));
    }

    fn word(&mut self, raw: &str) {
        let trimmed = raw.trim_matches(|c| c == '\'' || c == '\u{2019}');
        if trimmed.is_empty() {
            return;
        }
        let word = trimmed;
        if word.chars().all(|c| c.is_numeric()) {
            self.word_token(self.specials.number);
            return;
        }

        let mut buffer = ['\0'; WORD_BUFFER];
        let mut buffered = 0;
        let mut hash = FNV_OFFSET ^ SEED_WORD;
        let mut letters = 0u32;
        let mut uppercase = 0u32;
        let mut run_char = '\0';
        let mut run_length = 0u32;
        let mut elongated = false;
        for original in word.chars() {
            let c = lower(original);
            if original.is_alphabetic() {
                letters += 1;
                if original.is_uppercase() {
                    uppercase += 1;
                }
            }
            if c == run_char {
                run_length += 1;
            } else {
                run_char = c;
                run_length = 1;
            }
            // "soooo" and "sooo" are the same word: runs longer than two collapse.
            if run_length > 2 {
                elongated = true;
                continue;
            }
            hash = fnv_char(hash, c);
            if buffered < WORD_BUFFER {
                buffer[buffered] = c;
                buffered += 1;
            }
        }
        let chars = &buffer[..buffered];

        if letters > 0 {
            self.signals.letter_words += 1;
            if letters >= 2 && uppercase == letters {
                self.signals.caps_words += 1;
            }
        }
        if elongated {
            self.signals.elongated_words += 1;
        }

        if self.config.negation && self.negation_left > 0 {
            self.negation_left -= 1;
            self.emit(finalize(hash ^ SEED_NEGATED));
            self.bigram(hash);
        } else {
            self.word_token(hash);
        }
        if self.config.negation && is_negator(chars) {
            self.negation_left = NEGATION_SCOPE;
        }

        if let Some(range) = self.config.latin_char_ngrams {
            self.latin_char_ngrams(chars, range);
        }
    }

    /// Character n-grams of `<word>` (with boundary markers).
    fn latin_char_ngrams(&mut self, chars: &[char], range: NgramRange) {
        let mut padded = ['\0'; WORD_BUFFER + 2];
        padded[0] = '\u{2}';
        padded[1..=chars.len()].copy_from_slice(chars);
        padded[chars.len() + 1] = '\u{3}';
        let padded = &padded[..chars.len() + 2];
        for n in usize::from(range.min)..=usize::from(range.max) {
            // A gram as long as the whole padded word repeats the unigram.
            if n >= padded.len() {
                break;
            }
            for window in padded.windows(n) {
                let hash = window
                    .iter()
                    .fold(FNV_OFFSET ^ SEED_LATIN_CHARS, |h, &c| fnv_char(h, c));
                self.emit(finalize(hash));
            }
        }
    }

    fn cjk_run(&mut self, run: &str) {
        // Word bigrams do not reach across Chinese text.
        self.previous_word = None;
        self.negation_left = 0;
        let range = self.config.cjk_char_ngrams;
        let (min, max) = (usize::from(range.min), usize::from(range.max));
        let mut window = ['\0'; 4];
        let mut seen = 0usize;
        for c in run.chars() {
            window.rotate_left(1);
            window[3] = c;
            seen += 1;
            for n in min..=max.min(seen) {
                let hash = window[4 - n..]
                    .iter()
                    .fold(FNV_OFFSET ^ SEED_CJK, |h, &c| fnv_char(h, c));
                self.emit(finalize(hash));
            }
        }
    }

    fn signal(&mut self, name: &str) {
        self.emit(finalize(fnv_str(SEED_SIGNAL, name)));
    }

    fn finish(&mut self) {
        if !self.config.signals {
            return;
        }
        let Signals {
            exclamations,
            questions,
            letter_words,
            caps_words,
            elongated_words,
            emoji,
        } = self.signals;
        match exclamations {
            0 => {}
            1 => self.signal("!"),
            _ => self.signal("!!"),
        }
        match questions {
            0 => {}
            1 => self.signal("?"),
            _ => self.signal("??"),
        }
        if caps_words > 0 {
            self.signal("caps");
            if letter_words >= 3 && caps_words * 2 > letter_words {
                self.signal("shouting");
            }
        }
        if elongated_words > 0 {
            self.signal("elongated");
        }
        if emoji > 0 {
            self.signal("emoji");
        }
    }
}

/// Length in bytes of a URL starting at `text`, if one does.
fn url_length(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let prefix = ["https://", "http://", "www."].iter().find(|prefix| {
        bytes.len() > prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    })?;
    // A URL runs to the next whitespace or non-ASCII char (Weibo glues them to text).
    let end = bytes
        .iter()
        .position(|&b| b.is_ascii_whitespace() || !b.is_ascii())
        .unwrap_or(bytes.len());
    (end > prefix.len()).then_some(end)
}

/// Length of an ASCII emoticon (`:)`, `:-(`, `;D`, `<3`, …) starting at `text`.
fn emoticon_length(text: &str, previous_char: char) -> Option<usize> {
    let bytes = text.as_bytes();
    if !matches!(bytes.first(), Some(b':' | b';' | b'=' | b'<')) || previous_char.is_alphanumeric()
    {
        return None;
    }
    if bytes.starts_with(b"<3") {
        return Some(2);
    }
    let mut index = 1;
    if bytes.get(index) == Some(&b'-') || bytes.get(index) == Some(&b'\'') {
        index += 1;
    }
    let mouth = *bytes.get(index)?;
    if !matches!(
        mouth,
        b')' | b'(' | b'D' | b'P' | b'p' | b'/' | b'|' | b']' | b'[' | b'O' | b'o'
    ) {
        return None;
    }
    // `:p` and `:o` only count when a word does not continue (":post", "http:/").
    let next = bytes.get(index + 1).copied();
    if matches!(mouth, b'D' | b'P' | b'p' | b'O' | b'o' | b'/')
        && next.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'/')
    {
        return None;
    }
    Some(index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(text: &str, config: &FeatureConfig) -> Vec<u64> {
        let mut hashes = feature_hashes(text, config);
        hashes.sort_unstable();
        hashes
    }

    #[test]
    fn case_and_collapsed_tokens() {
        let config = FeatureConfig {
            signals: false,
            ..FeatureConfig::default()
        };
        assert_eq!(
            sorted("Great phone", &config),
            sorted("great PHONE", &config)
        );
        assert_eq!(
            sorted("see http://a.example/x now @bob 12", &config),
            sorted("see https://b.example now @alice_2 345", &config)
        );
        assert_eq!(sorted("sooooo good", &config), sorted("sooo good", &config));
    }

    #[test]
    fn negation_changes_the_following_word() {
        let config = FeatureConfig::default();
        let plain = feature_hashes("good", &config);
        let negated = feature_hashes("not good", &config);
        assert!(!negated.contains(&plain[0]));
        let ptb = feature_hashes("does n't work", &config);
        let after_period = feature_hashes("no. good", &config);
        assert!(after_period.contains(&plain[0]));
        assert_eq!(ptb.len(), 5, "3 unigrams + 2 bigrams");
    }

    #[test]
    fn cjk_runs_give_character_ngrams() {
        let config = FeatureConfig {
            cjk_char_ngrams: NgramRange { min: 1, max: 3 },
            signals: false,
            ..FeatureConfig::default()
        };
        // 4 chars: 4 unigrams + 3 bigrams + 2 trigrams.
        assert_eq!(feature_hashes("很好吃啊", &config).len(), 9);
        // The punctuation splits the runs: (1) + (2+1) = 4.
        assert_eq!(feature_hashes("好，不错", &config).len(), 4);
    }

    #[test]
    fn emoticons_and_emoji_are_tokens() {
        let config = FeatureConfig {
            signals: false,
            ..FeatureConfig::default()
        };
        assert_eq!(feature_hashes(":)", &config).len(), 1);
        assert_eq!(feature_hashes("😀", &config).len(), 1);
        assert_ne!(feature_hashes(":)", &config), feature_hashes(":(", &config));
        assert!(emoticon_length(":post", ' ').is_none());
        assert!(emoticon_length("http://x", 'p').is_none());
    }

    #[test]
    fn odd_input_does_not_panic() {
        let config = FeatureConfig {
            latin_char_ngrams: Some(NgramRange { min: 1, max: 6 }),
            ..FeatureConfig::default()
        };
        for text in [
            "",
            "'",
            "''''",
            "n't",
            "@",
            "http://",
            "www.",
            ":",
            "<",
            "\u{FE0F}\u{200D}",
            "a\u{0300}\u{0301}",
            &"x".repeat(300),
            "İstanbul ǅ ß ﬁ",
        ] {
            feature_hashes(text, &config);
        }
    }

    #[test]
    fn config_validation() {
        assert!(FeatureConfig::default().validate().is_ok());
        let bad = FeatureConfig {
            hash_bits: 30,
            ..FeatureConfig::default()
        };
        assert!(bad.validate().is_err());
        let bad = FeatureConfig {
            cjk_char_ngrams: NgramRange { min: 2, max: 1 },
            ..FeatureConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}

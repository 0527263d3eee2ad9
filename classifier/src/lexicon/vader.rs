//! VADER's compound score: a port of the `vader_sentiment` crate 0.1.1, which Vigil
//! called before and which spent most of its time on allocation (a `String` per input
//! character to look emoji up, a regex per token, `join`ed token windows, maps hashed
//! with SipHash through Unicode case folding).
//!
//! The port keeps every rule of that crate, quirks included, because its scores are
//! what the `lexicon-1` labels were measured with (BENCHMARKS.md, "Sentiment
//! accuracy"): tokens are whitespace-separated pieces longer than one byte with ASCII
//! punctuation trimmed; words compare under Unicode case folding (the crate's
//! `UniCase` keys); ALL-CAPS is its regex `^[A-Z\W]+$`; the special idioms and the
//! boosters in the three words before a word are found by substring, so "also" counts
//! as "so"; a sum of exactly zero still takes the punctuation emphasis, negatively.
//! `least_check`'s first branch (`at` and `very` at the same position) can never hold
//! and is left out. Where the crate's outcome depended on its hash maps' random
//! iteration order (two different special idioms in one five-word window; the order in
//! which booster values are added, which moves the last bits), the port takes the
//! order of the tables below. The unit tests in `reference.rs` compare the two on
//! generated texts and on the shared sentiment sets.
//!
//! One deliberate change is behind a switch, [`Vader::clause_bounded`], which the
//! `lexicon` backend uses since `lexicon-2`: negations, boosters and "least" stop at
//! clause punctuation. Without the switch the port scores exactly as the crate.
//!
//! What makes it fast: one FxHash lookup per token finds everything the rules ask of a
//! word; tokens borrow from the text (allocation only for a text with emoji, or a
//! non-ASCII token to case-fold); the substring rules run Aho-Corasick automata.
//!
//! The lexicons (`vader/`) are the crate's files, unchanged; see `vader/NOTICE.md`.

use std::borrow::Cow;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use rustc_hash::FxHashMap;
use unicase::UniCase;

const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
/// Added to (or taken from) an ALL-CAPS word's valence in a text that is not all caps.
const C_INCR: f64 = 0.733;
const NEGATION_SCALAR: f64 = -0.740;
const QUESTION_INCREMENT: f64 = 0.180;
const EXCLAMATION_INCREMENT: f64 = 0.292;
const MAX_EXCLAMATIONS: usize = 4;
const MAX_QUESTIONS: usize = 3;
const MANY_QUESTIONS_INCREMENT: f64 = 0.96;
const NORMALIZATION_ALPHA: f64 = 15.0;

const RAW_LEXICON: &str = include_str!("vader/vader_lexicon.txt");
const RAW_EMOJI_LEXICON: &str = include_str!("vader/emoji_utf8_lexicon.txt");

const NEGATION_TOKENS: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOSTERS: &[(&str, f64)] = &[
    ("absolutely", B_INCR),
    ("amazingly", B_INCR),
    ("awfully", B_INCR),
    ("completely", B_INCR),
    ("considerable", B_INCR),
    ("considerably", B_INCR),
    ("decidedly", B_INCR),
    ("deeply", B_INCR),
    ("effing", B_INCR),
    ("enormous", B_INCR),
    ("enormously", B_INCR),
    ("entirely", B_INCR),
    ("especially", B_INCR),
    ("exceptional", B_INCR),
    ("exceptionally", B_INCR),
    ("extreme", B_INCR),
    ("extremely", B_INCR),
    ("fabulously", B_INCR),
    ("flipping", B_INCR),
    ("flippin", B_INCR),
    ("frackin", B_INCR),
    ("fracking", B_INCR),
    ("fricking", B_INCR),
    ("frickin", B_INCR),
    ("frigging", B_INCR),
    ("friggin", B_INCR),
    ("fully", B_INCR),
    ("fuckin", B_INCR),
    ("fucking", B_INCR),
    ("fuggin", B_INCR),
    ("fugging", B_INCR),
    ("greatly", B_INCR),
    ("hella", B_INCR),
    ("highly", B_INCR),
    ("hugely", B_INCR),
    ("incredible", B_INCR),
    ("incredibly", B_INCR),
    ("intensely", B_INCR),
    ("major", B_INCR),
    ("majorly", B_INCR),
    ("more", B_INCR),
    ("most", B_INCR),
    ("particularly", B_INCR),
    ("purely", B_INCR),
    ("quite", B_INCR),
    ("really", B_INCR),
    ("remarkably", B_INCR),
    ("so", B_INCR),
    ("substantially", B_INCR),
    ("thoroughly", B_INCR),
    ("total", B_INCR),
    ("totally", B_INCR),
    ("tremendous", B_INCR),
    ("tremendously", B_INCR),
    ("uber", B_INCR),
    ("unbelievably", B_INCR),
    ("unusually", B_INCR),
    ("utter", B_INCR),
    ("utterly", B_INCR),
    ("very", B_INCR),
    ("almost", B_DECR),
    ("barely", B_DECR),
    ("hardly", B_DECR),
    ("just enough", B_DECR),
    ("kind of", B_DECR),
    ("kinda", B_DECR),
    ("kindof", B_DECR),
    ("kind-of", B_DECR),
    ("less", B_DECR),
    ("little", B_DECR),
    ("marginal", B_DECR),
    ("marginally", B_DECR),
    ("occasional", B_DECR),
    ("occasionally", B_DECR),
    ("partly", B_DECR),
    ("scarce", B_DECR),
    ("scarcely", B_DECR),
    ("slight", B_DECR),
    ("slightly", B_DECR),
    ("somewhat", B_DECR),
    ("sort of", B_DECR),
    ("sorta", B_DECR),
    ("sortof", B_DECR),
    ("sort-of", B_DECR),
];

/// Idioms containing lexicon words; the first one found in a word's window replaces
/// its valence.
const SPECIAL_CASE_IDIOMS: &[(&str, f64)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
];

/// Words the rules look for by name (compared case-folded, as the crate's `UniCase`).
const BUT: u16 = 1 << 0;
const KIND: u16 = 1 << 1;
const OF: u16 = 1 << 2;
const LEAST: u16 = 1 << 3;
const NEVER: u16 = 1 << 4;
const SO: u16 = 1 << 5;
const THIS: u16 = 1 << 6;
const WITHOUT: u16 = 1 << 7;
const DOUBT: u16 = 1 << 8;
/// In [`NEGATION_TOKENS`].
const NEGATION: u16 = 1 << 9;

const NAMED_WORDS: &[(&str, u16)] = &[
    ("but", BUT),
    ("kind", KIND),
    ("of", OF),
    ("least", LEAST),
    ("never", NEVER),
    ("so", SO),
    ("this", THIS),
    ("without", WITHOUT),
    ("doubt", DOUBT),
];

/// Everything the rules ask of one case-folded word, found with one lookup.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct WordInfo {
    /// Its valence in the lexicon.
    valence: Option<f64>,
    /// Its booster scalar.
    booster: Option<f64>,
    flags: u16,
}

#[derive(Debug, Clone, Copy)]
struct Token<'t> {
    /// As in the text, ASCII punctuation trimmed (the crate's `strip_punc_if_word`).
    raw: &'t str,
    info: WordInfo,
    all_caps: bool,
    negated: bool,
    /// The piece ended with clause punctuation (`,` `;` `:` `.` `!` `?`): with
    /// [`Vader::clause_bounded`], modifiers before it do not reach words after it.
    ends_clause: bool,
}

impl Token<'_> {
    fn is(&self, flag: u16) -> bool {
        self.info.flags & flag != 0
    }
}

/// The analyzer: the lexicons folded into one map, and the automata for the substring
/// rules. Build once ([`Vader::with_supplement`]); scoring takes `&self`.
#[derive(Debug)]
pub(crate) struct Vader {
    words: FxHashMap<Box<str>, WordInfo>,
    /// Single-character emoji and their descriptions (the crate looks emoji up one
    /// character at a time, so longer sequences in its file never match).
    emoji: FxHashMap<char, &'static str>,
    /// Whether any ASCII character is such an emoji (none is in the bundled file); when
    /// not, an ASCII text needs no emoji pass.
    ascii_emoji: bool,
    idioms: Option<AhoCorasick>,
    boosters: Option<AhoCorasick>,
    /// Vigil's rule, off in the crate: negations, boosters and "least" do not reach
    /// across clause punctuation ("I would not go back, terrible." is not a negated
    /// "terrible").
    clause_bounded: bool,
}

/// Unicode case folding, as the crate's `UniCase` keys compare.
fn fold(word: &str) -> Cow<'_, str> {
    if word.is_ascii() {
        if word.bytes().any(|byte| byte.is_ascii_uppercase()) {
            Cow::Owned(word.to_ascii_lowercase())
        } else {
            Cow::Borrowed(word)
        }
    } else {
        Cow::Owned(UniCase::new(word).to_folded_case())
    }
}

/// `word<TAB>value…` lines, as the crate's `parse_raw_lexicon` reads them; a line
/// without a numeric second field is skipped (the crate would panic on it).
fn lexicon_lines(raw: &str) -> impl Iterator<Item = (&str, f64)> {
    raw.trim_end_matches('\n')
        .split('\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let word = fields.next()?;
            let value = fields.next()?.parse().ok()?;
            Some((word, value))
        })
}

/// The crate's `is_all_caps`: its regex `^[A-Z\W]+$` (Unicode `\W`) on a token longer
/// than one byte.
fn is_all_caps(token: &str) -> bool {
    token.len() > 1
        && token
            .chars()
            .all(|c| c.is_ascii_uppercase() || !is_word_character(c))
}

/// Unicode `\w`, as the crate's regex reads it.
fn is_word_character(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        regex_syntax::try_is_word_character(c).unwrap_or_else(|_| c.is_alphanumeric())
    }
}

/// How much "!" (up to four) and "?" add to the magnitude of the sum.
fn punctuation_emphasis(text: &str) -> f64 {
    let exclamations = text.bytes().filter(|&byte| byte == b'!').count();
    let questions = text.bytes().filter(|&byte| byte == b'?').count();
    let exclamation_emphasis = exclamations.min(MAX_EXCLAMATIONS) as f64 * EXCLAMATION_INCREMENT;
    let question_emphasis = if questions > MAX_QUESTIONS {
        MANY_QUESTIONS_INCREMENT
    } else {
        questions as f64 * QUESTION_INCREMENT
    };
    question_emphasis + exclamation_emphasis
}

fn normalize_score(score: f64) -> f64 {
    (score / (score * score + NORMALIZATION_ALPHA).sqrt()).clamp(-1.0, 1.0)
}

/// Patterns are fixed strings: building their automaton does not fail, but if it did
/// it would cost the rule (logged), never a panic. A DFA without prefilter: on texts
/// of a few hundred bytes a prefilter's restarts cost more than the scan (measured
/// with `benches/classify.rs`; the boosters include "so", "more" and "less").
fn automaton(patterns: &[(&str, f64)]) -> Option<AhoCorasick> {
    AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .prefilter(false)
        .build(patterns.iter().map(|(pattern, _)| pattern))
        .inspect_err(|error| tracing::warn!(%error, "VADER rule automaton failed to build"))
        .ok()
}

impl Vader {
    /// VADER's lexicons with `supplement` (`word<TAB>valence` lines) merged in after
    /// them, overriding as the crate's `HashMap::extend` did.
    pub(crate) fn with_supplement(supplement: &str) -> Self {
        let mut words: FxHashMap<Box<str>, WordInfo> = FxHashMap::default();
        for (word, valence) in lexicon_lines(RAW_LEXICON).chain(lexicon_lines(supplement)) {
            words.entry(fold(word).into()).or_default().valence = Some(valence);
        }
        for &(word, scalar) in BOOSTERS {
            words.entry(fold(word).into()).or_default().booster = Some(scalar);
        }
        for &word in NEGATION_TOKENS {
            words.entry(fold(word).into()).or_default().flags |= NEGATION;
        }
        for &(word, flag) in NAMED_WORDS {
            words.entry(fold(word).into()).or_default().flags |= flag;
        }
        let mut emoji = FxHashMap::default();
        for line in RAW_EMOJI_LEXICON.trim_end_matches('\n').split('\n') {
            let mut fields = line.split('\t');
            let (Some(key), Some(description)) = (fields.next(), fields.next()) else {
                continue;
            };
            let mut chars = key.chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                emoji.insert(c, description);
            }
        }
        let ascii_emoji = emoji.keys().any(char::is_ascii);
        Vader {
            words,
            emoji,
            ascii_emoji,
            idioms: automaton(SPECIAL_CASE_IDIOMS),
            boosters: automaton(BOOSTERS),
            clause_bounded: false,
        }
    }

    /// The same analyzer with modifiers stopped at clause punctuation (Vigil's rule;
    /// without it the port computes exactly the crate's compound).
    pub(crate) fn clause_bounded(self) -> Self {
        Vader {
            clause_bounded: true,
            ..self
        }
    }

    /// Whether VADER replaces `c` by a description.
    pub(crate) fn is_emoji(&self, c: char) -> bool {
        (self.ascii_emoji || !c.is_ascii()) && self.emoji.contains_key(&c)
    }

    /// Whether some ASCII character is an emoji to VADER (so an ASCII text is not
    /// necessarily free of them).
    pub(crate) fn has_ascii_emoji(&self) -> bool {
        self.ascii_emoji
    }

    /// The `compound` of the crate's `polarity_scores(text)`: in -1..=1, 0 for a text
    /// without tokens.
    pub(crate) fn compound(&self, text: &str) -> f64 {
        let text = self.append_emoji_descriptions(text);
        let mut tokens = Vec::with_capacity(text.len() / 4 + 1);
        self.tokenize(&text, &mut tokens);
        if tokens.is_empty() {
            return 0.0;
        }
        let mixed_caps =
            tokens.iter().any(|token| token.all_caps) && tokens.iter().any(|token| !token.all_caps);
        let but = tokens.iter().position(|token| token.is(BUT));
        let mut lowered: Option<Lowered> = None;
        // `Sum for f64` starts from -0.0; so does this.
        let mut total = -0.0_f64;
        for index in 0..tokens.len() {
            let token = &tokens[index];
            let mut sentiment = if token.info.booster.is_some()
                || (token.is(KIND) && tokens.get(index + 1).is_some_and(|next| next.is(OF)))
            {
                0.0
            } else {
                self.sentiment_valence(&tokens, index, mixed_caps, &mut lowered)
            };
            if let Some(but) = but {
                if index < but {
                    sentiment *= 0.5;
                } else if index > but {
                    sentiment *= 1.5;
                }
            }
            total += sentiment;
        }
        let emphasis = punctuation_emphasis(&text);
        if total > 0.0 {
            total += emphasis;
        } else {
            total -= emphasis;
        }
        normalize_score(total)
    }

    /// Each emoji character replaced by its description, with a space before it unless
    /// one precedes (and none after: the crate glues it to what follows).
    fn append_emoji_descriptions<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.ascii_emoji && text.is_ascii() {
            return Cow::Borrowed(text);
        }
        let Some(first) = text
            .char_indices()
            .find(|&(_, c)| self.is_emoji(c))
            .map(|(index, _)| index)
        else {
            return Cow::Borrowed(text);
        };
        let mut result = String::with_capacity(text.len() + 32);
        result.push_str(&text[..first]);
        let mut previous_space = text[..first].chars().next_back().is_none_or(|c| c == ' ');
        for c in text[first..].chars() {
            let description = if self.ascii_emoji || !c.is_ascii() {
                self.emoji.get(&c)
            } else {
                None
            };
            match description {
                Some(description) => {
                    if !previous_space {
                        result.push(' ');
                    }
                    result.push_str(description);
                    previous_space = false;
                }
                _ => {
                    previous_space = c == ' ';
                    result.push(c);
                }
            }
        }
        Cow::Owned(result)
    }

    fn tokenize<'t>(&self, text: &'t str, tokens: &mut Vec<Token<'t>>) {
        for piece in text.split_whitespace() {
            if piece.len() <= 1 {
                // A lone comma or stop ("good , but" in tokenised text) ends the
                // clause of the word before it.
                if matches!(piece, "," | ";" | ":" | "." | "!" | "?")
                    && let Some(last) = tokens.last_mut()
                {
                    last.ends_clause = true;
                }
                continue;
            }
            let stripped = piece.trim_matches(|c: char| c.is_ascii_punctuation());
            let raw = if stripped.len() <= 1 { piece } else { stripped };
            let info = self
                .words
                .get(fold(raw).as_ref())
                .copied()
                .unwrap_or_default();
            tokens.push(Token {
                raw,
                info,
                all_caps: is_all_caps(raw),
                negated: info.flags & NEGATION != 0 || raw.contains("n't"),
                ends_clause: piece
                    .bytes()
                    .next_back()
                    .is_some_and(|byte| matches!(byte, b',' | b';' | b':' | b'.' | b'!' | b'?')),
            });
        }
    }

    fn sentiment_valence(
        &self,
        tokens: &[Token<'_>],
        index: usize,
        mixed_caps: bool,
        lowered: &mut Option<Lowered>,
    ) -> f64 {
        let token = &tokens[index];
        let Some(mut valence) = token.info.valence else {
            return 0.0;
        };
        if token.all_caps && mixed_caps {
            if valence > 0.0 {
                valence += C_INCR;
            } else {
                valence -= C_INCR;
            }
        }
        for distance in 0..3 {
            // `distance` + 1 words back, when that word is not itself in the lexicon.
            let Some(previous) = index
                .checked_sub(distance + 1)
                .map(|position| &tokens[position])
            else {
                continue;
            };
            if self.clause_bounded && previous.ends_clause {
                break;
            }
            if previous.info.valence.is_some() {
                continue;
            }
            let mut scalar = booster_scalar(previous, valence, mixed_caps);
            if distance == 1 {
                scalar *= 0.95;
            } else if distance == 2 {
                scalar *= 0.9;
            }
            valence += scalar;
            valence = negation_check(valence, tokens, distance, index);
            if distance == 2 {
                let lowered = lowered.get_or_insert_with(|| self.lowered(tokens));
                valence = special_idioms_check(valence, lowered, tokens.len(), index);
            }
        }
        if index > 0
            && tokens[index - 1].is(LEAST)
            && !(self.clause_bounded && tokens[index - 1].ends_clause)
        {
            valence *= NEGATION_SCALAR;
        }
        valence
    }

    /// The tokens lower-cased and joined with single spaces, and where the idioms and
    /// boosters occur in that text: built once per text, on the first word that needs
    /// `special_idioms_check`.
    fn lowered(&self, tokens: &[Token<'_>]) -> Lowered {
        let mut text = String::with_capacity(tokens.iter().map(|t| t.raw.len() + 1).sum());
        let mut spans = Vec::with_capacity(tokens.len());
        for token in tokens {
            if !text.is_empty() {
                text.push(' ');
            }
            let start = text.len();
            if token.raw.is_ascii() {
                text.push_str(token.raw);
                text[start..].make_ascii_lowercase();
            } else {
                text.push_str(&token.raw.to_lowercase());
            }
            spans.push((start, text.len()));
        }
        let occurrences = |automaton: &Option<AhoCorasick>| -> Vec<(usize, usize, usize)> {
            automaton.as_ref().map_or_else(Vec::new, |automaton| {
                automaton
                    .find_overlapping_iter(&text)
                    .map(|hit| (hit.start(), hit.end(), hit.pattern().as_usize()))
                    .collect()
            })
        };
        let idioms = occurrences(&self.idioms);
        let boosters = occurrences(&self.boosters);
        Lowered {
            spans,
            idioms,
            boosters,
        }
    }
}

/// What `special_idioms_check` reads, for all windows of a text at once. The crate
/// lower-cases each window (its words joined with spaces) and searches it; since the
/// words are separated by spaces, which lower-casing does not look across (not even
/// for a final Σ), each window's text is exactly a slice of the whole text lower-cased
/// word by word, and what occurs in the window is what occurs within that slice.
#[derive(Debug)]
struct Lowered {
    /// Each token's bytes in the lower-cased text.
    spans: Vec<(usize, usize)>,
    /// `(start, end, pattern)` of every occurrence, overlapping ones included.
    idioms: Vec<(usize, usize, usize)>,
    boosters: Vec<(usize, usize, usize)>,
}

/// The crate's `special_idioms_check` for the word at `index` (≥ 3): an idiom in the
/// window of three words before to two after replaces the valence, and each booster
/// found as a substring of the three words before adds its scalar.
fn special_idioms_check(mut valence: f64, lowered: &Lowered, tokens: usize, index: usize) -> f64 {
    let Some(first) = index.checked_sub(3) else {
        return valence;
    };
    let last = (index + 3).min(tokens) - 1;
    let (Some(&(window_start, _)), Some(&(_, window_end)), Some(&(_, previous_end))) = (
        lowered.spans.get(first),
        lowered.spans.get(last),
        lowered.spans.get(index - 1),
    ) else {
        return valence;
    };
    let within = |&&(start, end, _): &&(usize, usize, usize), limit: usize| {
        start >= window_start && end <= limit
    };
    let idiom = lowered
        .idioms
        .iter()
        .filter(|occurrence| within(occurrence, window_end))
        .map(|&(_, _, pattern)| pattern)
        .min();
    if let Some(&(_, idiom_valence)) = idiom.and_then(|pattern| SPECIAL_CASE_IDIOMS.get(pattern)) {
        valence = idiom_valence;
    }
    let mut found = [false; BOOSTERS.len()];
    for &(_, _, pattern) in lowered
        .boosters
        .iter()
        .filter(|occurrence| within(occurrence, previous_end))
    {
        if let Some(seen) = found.get_mut(pattern) {
            *seen = true;
        }
    }
    for (&(_, scalar), seen) in BOOSTERS.iter().zip(found) {
        if seen {
            valence += scalar;
        }
    }
    valence
}

#[cfg(test)]
impl Vader {
    /// Whether some five-word window of `text` (as `special_idioms_check` builds them)
    /// holds two different special idioms: there the crate's answer depended on its
    /// hash map's iteration order, so the port may differ.
    pub(crate) fn has_ambiguous_idiom_window(&self, text: &str) -> bool {
        let Some(idioms) = &self.idioms else {
            return false;
        };
        let text = self.append_emoji_descriptions(text);
        let mut tokens = Vec::new();
        self.tokenize(&text, &mut tokens);
        (3..tokens.len()).any(|index| {
            let end = (index + 3).min(tokens.len());
            let window = tokens[index - 3..end]
                .iter()
                .map(|token| token.raw)
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            let mut found: Vec<usize> = idioms
                .find_overlapping_iter(&window)
                .map(|hit| hit.pattern().as_usize())
                .collect();
            found.sort_unstable();
            found.dedup();
            found.len() > 1
        })
    }
}

/// The crate's `scalar_inc_dec`: what a booster word before a word adds to its valence.
fn booster_scalar(token: &Token<'_>, valence: f64, mixed_caps: bool) -> f64 {
    let Some(mut scalar) = token.info.booster else {
        return 0.0;
    };
    if valence < 0.0 {
        scalar *= -1.0;
    }
    if token.all_caps && mixed_caps {
        if valence > 0.0 {
            scalar += C_INCR;
        } else {
            scalar -= C_INCR;
        }
    }
    scalar
}

/// The crate's `negation_check`, `&&` and `||` grouped as it wrote them (Rust's
/// precedence: `a && b || c` is `(a && b) || c`).
fn negation_check(valence: f64, tokens: &[Token<'_>], distance: usize, index: usize) -> f64 {
    let back = |n: usize| &tokens[index - n];
    match distance {
        0 => {
            if back(1).negated {
                return valence * NEGATION_SCALAR;
            }
        }
        1 => {
            if back(2).is(NEVER) && (back(1).is(SO) || back(1).is(THIS)) {
                return valence * 1.25;
            } else if back(2).is(WITHOUT) && back(1).is(DOUBT) {
                return valence;
            } else if back(2).negated {
                return valence * NEGATION_SCALAR;
            }
        }
        _ => {
            if (back(3).is(NEVER) && back(2).is(SO))
                || back(2).is(THIS)
                || back(1).is(SO)
                || back(1).is(THIS)
            {
                return valence * 1.25;
            } else if (back(3).is(WITHOUT) && back(2).is(DOUBT)) || back(1).is(DOUBT) {
                return valence;
            } else if back(3).negated {
                return valence * NEGATION_SCALAR;
            }
        }
    }
    valence
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vader() -> Vader {
        Vader::with_supplement("")
    }

    #[test]
    fn lexicons_load_whole() {
        let vader = vader();
        let lines = RAW_LEXICON.trim_end_matches('\n').split('\n').count();
        assert_eq!(
            lexicon_lines(RAW_LEXICON).count(),
            lines,
            "every line parses"
        );
        // 26 entries differ from an earlier one only by case (the later value wins).
        let with_valence = vader.words.values().filter(|w| w.valence.is_some()).count();
        assert_eq!(with_valence, lines - 26);
        assert!(vader.emoji.len() > 1_000, "{}", vader.emoji.len());
        assert!(!vader.has_ascii_emoji());
    }

    #[test]
    fn case_folding_matches_unicase() {
        let vader = vader();
        assert_eq!(fold("GOOD"), "good");
        assert_eq!(fold(":-Þ"), ":-þ");
        // U+017F LATIN SMALL LETTER LONG S folds to "s": "ſo" is the booster "so".
        let long_s = vader
            .words
            .get(fold("ſo").as_ref())
            .copied()
            .unwrap_or_default();
        assert_eq!(long_s.booster, Some(B_INCR));
    }

    #[test]
    fn all_caps_follows_the_regex() {
        for (token, caps) in [
            ("GOOD", true),
            ("GOOD!", true),
            ("A1", false),
            ("OK_", false),
            ("ÉTÉ", false),
            ("::", true),
            ("A", false),
            ("Good", false),
            ("😀😀", true),
        ] {
            assert_eq!(is_all_caps(token), caps, "{token}");
        }
    }

    #[test]
    fn rules_apply() {
        let vader = vader();
        assert!(vader.compound("good") > 0.0);
        assert!(vader.compound("not good") < 0.0);
        assert!(vader.compound("very good") > vader.compound("good"));
        assert!(vader.compound("GOOD stuff") > vader.compound("good stuff"));
        assert!(vader.compound("good!!!") > vader.compound("good"));
        assert!(vader.compound("good but awful") < 0.0);
        assert_eq!(vader.compound(""), 0.0);
        assert_eq!(vader.compound("a b c"), 0.0, "one-byte tokens are dropped");
        // A zero sum still takes the punctuation emphasis, negatively.
        assert!(vader.compound("the kettle!") < 0.0);
        // An emoji becomes its description.
        assert!(vader.compound("😀") > 0.0);
    }

    /// Regression: "I would not go back, terrible." scored +0.37 because "not", three
    /// words back across the comma, negated "terrible".
    #[test]
    fn clause_bounded_modifiers_stop_at_clause_punctuation() {
        let crate_rules = vader();
        let vigil_rules = vader().clause_bounded();
        let text = "I would not go back, terrible.";
        assert!(
            crate_rules.compound(text) > 0.0,
            "the crate's rule negates it"
        );
        assert!(vigil_rules.compound(text) < -0.05);
        // Inside one clause negation and boosters still apply.
        assert_eq!(
            vigil_rules.compound("it was not good"),
            crate_rules.compound("it was not good")
        );
        assert!(vigil_rules.compound("very, good") < crate_rules.compound("very, good"));
        assert!(vigil_rules.compound("least. good") > 0.0);
        assert!(
            vigil_rules.compound("would not go back , terrible") < -0.05,
            "PTB commas"
        );
        assert!(crate_rules.compound("least. good") < 0.0);
    }
}

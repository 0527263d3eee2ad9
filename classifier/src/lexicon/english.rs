//! English scoring with VADER (`vader.rs`, a port of the `vader_sentiment` crate), whose
//! rules already cover negation, boosters, "but", ALL-CAPS and punctuation emphasis.
//! Vigil adds words VADER lacks (product failures, crisis language), review idioms and
//! its own emoji valences.

use std::borrow::Cow;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind};

use super::vader::Vader;
use super::{denormalize, normalize, punctuation_emphasis};

/// Words absent from VADER's lexicon that decide product reviews and brand crises
/// (`word<TAB>valence`, VADER's scale). Only words VADER does not know: overriding its
/// crowd-rated values would need its method, not guesses.
pub(super) const SUPPLEMENT: &str = "\
exploded\t-2.5
explode\t-2.3
explodes\t-2.3
exploding\t-2.3
explosion\t-2.5
explosions\t-2.5
burned\t-2.0
burnt\t-1.8
burns\t-1.8
burn\t-1.5
electrocuted\t-3.0
overheated\t-2.0
overheating\t-2.0
overheats\t-2.0
melted\t-1.8
recall\t-0.8
recalls\t-1.0
recalled\t-1.5
hazard\t-2.0
hazardous\t-2.3
unsafe\t-2.3
toxic\t-2.5
contaminated\t-2.5
contamination\t-2.3
hospitalized\t-2.5
injuries\t-2.3
sued\t-1.5
outage\t-2.0
outages\t-2.0
breach\t-1.8
leaking\t-1.5
malfunction\t-2.0
malfunctioned\t-2.0
malfunctioning\t-2.0
crashed\t-1.8
crashes\t-1.5
crashing\t-1.5
froze\t-1.3
unusable\t-2.3
unreliable\t-1.8
flimsy\t-1.8
cracked\t-1.5
laggy\t-1.5
counterfeit\t-2.3
knockoff\t-1.8
scammed\t-2.8
scammer\t-2.8
scammers\t-2.8
ripoff\t-2.5
rip-off\t-2.5
junk\t-2.0
refund\t-1.0
overpriced\t-1.8
mediocre\t-1.5
bland\t-1.5
stale\t-1.5
tasteless\t-1.8
inedible\t-2.5
undercooked\t-1.8
overcooked\t-1.5
soggy\t-1.5
greasy\t-1.2
moldy\t-2.3
filthy\t-2.3
slow\t-1.0
yyds\t2.8
";

/// Multi-word idioms of reviews and complaints that VADER scores wrongly ("don't
/// waste" reads as negated "waste", so positive) or not at all ("stopped working",
/// "won't be back": VADER has no "work" or "back"). Matched case-insensitively on word
/// boundaries, longest first; a matched phrase is blanked out of what VADER sees and
/// its valence is added to VADER's sum. Apostrophes are optional ("wont" matches too).
pub(super) const PHRASES: &[(&str, f64)] = &[
    ("won't be back", -2.5),
    ("will not be back", -2.5),
    ("never be back", -2.5),
    ("not be back", -2.3),
    ("never coming back", -2.5),
    ("not coming back", -2.3),
    ("never come back", -2.3),
    ("never go back", -2.3),
    ("never going back", -2.5),
    ("won't be returning", -2.3),
    ("never again", -2.3),
    ("don't waste", -2.3),
    ("do not waste", -2.3),
    ("waste of money", -2.5),
    ("waste of time", -2.5),
    ("waste your money", -2.5),
    ("waste your time", -2.5),
    ("don't buy", -2.3),
    ("do not buy", -2.3),
    ("stay away", -2.0),
    ("go elsewhere", -1.8),
    ("thumbs down", -2.0),
    ("zero stars", -2.5),
    ("0 stars", -2.5),
    ("one star", -1.8),
    ("1 star", -1.8),
    ("stopped working", -2.3),
    ("quit working", -2.3),
    ("doesn't work", -2.0),
    ("does not work", -2.0),
    ("didn't work", -2.0),
    ("did not work", -2.0),
    ("don't work", -2.0),
    ("not working", -2.0),
    ("never worked", -2.3),
    ("fell apart", -2.0),
    ("falls apart", -2.0),
    ("broke down", -2.0),
    ("not worth", -1.8),
    ("rip off", -2.5),
    ("ripped off", -2.5),
    ("is a joke", -2.0),
    ("went downhill", -2.0),
    ("gone downhill", -2.0),
    ("over rated", -1.5),
    // "would not go back", "at best", "look elsewhere": plain words VADER reads as
    // neutral or (for "best") positive in complaints.
    ("not go back", -2.3),
    ("wouldn't go back", -2.3),
    ("won't go back", -2.3),
    ("not going back", -2.3),
    ("not eat here again", -2.3),
    ("wouldn't eat here again", -2.3),
    ("won't eat here again", -2.3),
    ("not return", -1.8),
    ("at best", -1.8),
    ("look elsewhere", -1.8),
    ("was a joke", -2.0),
    ("i've had better", -1.8),
    ("expect better", -1.5),
    ("lost the love", -2.0),
    ("expected better", -1.5),
    ("save your money", -2.3),
    // "no problem": VADER does not negate with "no", so it reads as a problem.
    ("no problem", 1.5),
    ("no problems", 1.5),
    ("no trouble", 1.5),
    ("no issues", 1.5),
    ("nothing bad", 1.8),
    ("caught fire", -3.0),
    ("burst into flames", -3.0),
    ("went up in flames", -3.0),
    ("will be back", 2.0),
    ("definitely be back", 2.3),
    ("will come back", 1.8),
    ("coming back", 1.5),
    ("will return", 1.5),
    ("can't wait", 1.5),
    ("cannot wait", 1.5),
    ("can't beat", 2.0),
    ("cannot beat", 2.0),
    ("can't complain", 1.5),
    ("no complaints", 1.8),
    ("couldn't be happier", 3.0),
    ("could not be happier", 3.0),
    ("can't say enough good", 3.0),
    ("out of this world", 3.0),
    ("thumbs up", 2.0),
    ("five stars", 2.3),
    ("5 stars", 2.3),
    ("must try", 2.0),
];

/// [`PHRASES`] with apostrophe-less variants, longest first (ties in table order): the
/// order in which phrases claim text.
pub(super) fn phrase_table() -> Vec<(String, f64)> {
    let mut table: Vec<(String, f64)> = Vec::new();
    for &(phrase, valence) in PHRASES {
        table.push((phrase.to_owned(), valence));
        if phrase.contains('\'') {
            table.push((phrase.replace('\'', ""), valence));
        }
    }
    table.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.len()));
    table
}

/// The English scorer: VADER with [`SUPPLEMENT`], and [`PHRASES`] as one automaton.
#[derive(Debug)]
struct English {
    vader: Vader,
    /// Every phrase, ASCII case-insensitive, pattern ids in [`phrase_table`] order.
    phrases: Option<AhoCorasick>,
    phrase_valences: Vec<f64>,
}

impl English {
    fn new() -> Self {
        Self::with_vader(Vader::with_supplement(SUPPLEMENT).clause_bounded())
    }

    fn with_vader(vader: Vader) -> Self {
        let table = phrase_table();
        // A DFA without prefilter, as for VADER's automata (`vader.rs`): with phrases
        // starting "no", "at" and "not", a prefilter's restarts cost more than the scan.
        let phrases = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(false)
            .build(table.iter().map(|(phrase, _)| phrase))
            .inspect_err(|error| tracing::warn!(%error, "phrase automaton failed to build"))
            .ok();
        English {
            vader,
            phrases,
            phrase_valences: table.into_iter().map(|(_, valence)| valence).collect(),
        }
    }

    /// Blanks the [`PHRASES`] out of `text`, returning what is left and their summed
    /// valence. Phrases claim text in [`phrase_table`] order; each claims its
    /// occurrences left to right, skipping one that overlaps its previous occurrence
    /// (as `str::match_indices` finds them), one not on word boundaries, and one that
    /// overlaps text an earlier phrase claimed.
    fn take_phrases<'t>(&self, text: &'t str) -> (Cow<'t, str>, f64) {
        let Some(phrases) = &self.phrases else {
            return (Cow::Borrowed(text), 0.0);
        };
        let mut found: Vec<(usize, usize, usize)> = phrases
            .find_overlapping_iter(text)
            .map(|hit| (hit.pattern().as_usize(), hit.start(), hit.end()))
            .collect();
        if found.is_empty() {
            return (Cow::Borrowed(text), 0.0);
        }
        found.sort_unstable();
        let mut claimed: Vec<(usize, usize)> = Vec::new();
        let mut total = 0.0;
        let mut previous: Option<(usize, usize)> = None;
        for (pattern, start, end) in found {
            match previous {
                Some((previous_pattern, searched_to))
                    if previous_pattern == pattern && start < searched_to =>
                {
                    continue;
                }
                _ => previous = Some((pattern, end)),
            }
            let before = text[..start].chars().next_back();
            let after = text[end..].chars().next();
            let on_boundaries = !before.is_some_and(char::is_alphanumeric)
                && !after.is_some_and(char::is_alphanumeric);
            if !on_boundaries
                || claimed
                    .iter()
                    .any(|&(claimed_start, claimed_end)| claimed_start < end && start < claimed_end)
            {
                continue;
            }
            total += self.phrase_valences.get(pattern).copied().unwrap_or(0.0);
            claimed.push((start, end));
        }
        if claimed.is_empty() {
            return (Cow::Borrowed(text), total);
        }
        // Phrases are ASCII, so the claimed bytes are whole chars.
        claimed.sort_unstable();
        let mut rest = String::with_capacity(text.len());
        let mut position = 0;
        for (start, end) in claimed {
            rest.push_str(&text[position..start]);
            rest.extend(std::iter::repeat_n(' ', end - start));
            position = end;
        }
        rest.push_str(&text[position..]);
        (Cow::Owned(rest), total)
    }
}

static ENGLISH: OnceLock<English> = OnceLock::new();

/// Built once per process (≈ 7,600 words).
fn english() -> &'static English {
    ENGLISH.get_or_init(English::new)
}

/// Builds the shared scorer now rather than on the first classified text.
pub(crate) fn warm_up() {
    english();
}

/// [`English::take_phrases`] of the shared scorer, for the comparison with the old path.
#[cfg(test)]
pub(super) fn take_phrases(text: &str) -> (String, f64) {
    let (rest, total) = english().take_phrases(text);
    (rest.into_owned(), total)
}

/// The text `score` hands to VADER, for the comparison with the old path.
#[cfg(test)]
pub(super) fn prepared_for_vader(
    text: &str,
    emoji_valence: impl Fn(char) -> Option<f64>,
) -> String {
    let english = english();
    let text = text.replace(['\u{2019}', '\u{2018}'], "'");
    let (rest, _) = english.take_phrases(&text);
    let mut added_total = 0.0;
    prepare_emoji(&rest, &english.vader, &emoji_valence, &mut added_total).into_owned()
}

/// Emoji with a valence in `emoji_valence` become a space (their valence is added to
/// `added_total`); emoji VADER describes get a space either side, because VADER glues a
/// description to the next word ("😂good" becomes "…of joygood"). `emoji_valence` is
/// asked about non-ASCII characters only: the Chinese lexicon refuses ASCII emoji.
fn prepare_emoji<'t>(
    text: &'t str,
    vader: &Vader,
    emoji_valence: &impl Fn(char) -> Option<f64>,
    added_total: &mut f64,
) -> Cow<'t, str> {
    if text.is_ascii() && !vader.has_ascii_emoji() {
        return Cow::Borrowed(text);
    }
    let mut prepared: Option<String> = None;
    for (index, c) in text.char_indices() {
        let valence = if c.is_ascii() { None } else { emoji_valence(c) };
        let described = valence.is_none() && vader.is_emoji(c);
        if valence.is_none() && !described {
            if let Some(prepared) = &mut prepared {
                prepared.push(c);
            }
            continue;
        }
        let prepared = prepared.get_or_insert_with(|| {
            let mut copy = String::with_capacity(text.len() + 8);
            copy.push_str(&text[..index]);
            copy
        });
        if let Some(valence) = valence {
            *added_total += valence;
            prepared.push(' ');
        } else {
            prepared.push(' ');
            prepared.push(c);
            prepared.push(' ');
        }
    }
    prepared.map_or(Cow::Borrowed(text), Cow::Owned)
}

/// Scores English (or script-less) text in -1..=1; 0 when nothing sentiment-bearing
/// was found. Emoji with a valence in `emoji_valence` are taken out before VADER sees
/// them (VADER maps 👍 and 😡 to descriptions it does not score, and 🔥 to "fire") and
/// added to its sum before normalisation, as are [`PHRASES`].
pub(crate) fn score(text: &str, emoji_valence: impl Fn(char) -> Option<f64>) -> f64 {
    english().score(text, emoji_valence)
}

/// [`score`] with VADER's own rules (modifiers reach across clause punctuation), for the
/// comparison with the `vader_sentiment` crate.
#[cfg(test)]
pub(super) fn score_with_crate_rules(
    text: &str,
    emoji_valence: impl Fn(char) -> Option<f64>,
) -> f64 {
    static CRATE_RULES: OnceLock<English> = OnceLock::new();
    CRATE_RULES
        .get_or_init(|| English::with_vader(Vader::with_supplement(SUPPLEMENT)))
        .score(text, emoji_valence)
}

impl English {
    fn score(&self, text: &str, emoji_valence: impl Fn(char) -> Option<f64>) -> f64 {
        let text_apostrophes = if text.contains(['\u{2019}', '\u{2018}']) {
            Cow::Owned(text.replace(['\u{2019}', '\u{2018}'], "'"))
        } else {
            Cow::Borrowed(text)
        };
        let (rest, phrase_total) = self.take_phrases(&text_apostrophes);
        let mut added_total = phrase_total;
        let prepared = prepare_emoji(&rest, &self.vader, &emoji_valence, &mut added_total);
        let compound = self.vader.compound(&prepared);
        let compound = if compound.is_finite() { compound } else { 0.0 };
        if added_total == 0.0 {
            return compound;
        }
        let mut total = denormalize(compound) + added_total;
        if compound == 0.0 {
            // VADER only applies "!!!" when it found words; with phrases or emoji alone
            // do it here.
            total += punctuation_emphasis(text).copysign(total);
        }
        normalize(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn english(text: &str) -> f64 {
        score(text, |c| match c {
            '😡' => Some(-2.8),
            '👍' => Some(2.0),
            _ => None,
        })
    }

    #[test]
    fn supplement_parses_and_is_new_to_vader() {
        let supplement = vader_sentiment::parse_raw_lexicon(SUPPLEMENT);
        assert!(supplement.len() > 50);
        for word in supplement.keys() {
            assert!(
                !vader_sentiment::LEXICON.contains_key(word),
                "{word} is already in VADER's lexicon"
            );
        }
    }

    #[test]
    fn vader_rules_apply() {
        assert!(english("good") > 0.05);
        assert!(english("not good") < -0.05);
        assert!(english("very good") > english("good"));
        assert!(english("GOOD!!!") > english("good"));
        assert!(english("The food was good but the service was awful") < 0.0);
    }

    #[test]
    fn supplement_words_count() {
        assert!(english("the kettle exploded") < -0.05);
        assert!(english("the kettle overheated") < -0.05);
    }

    #[test]
    fn phrases_fix_what_vader_misreads() {
        assert!(english("Don't waste your money.") < -0.05);
        assert!(english("dont buy it") < -0.05);
        assert!(english("I won\u{2019}t be back.") < -0.05);
        assert!(english("We will be back!") > 0.05);
        assert!(
            english("We're not coming back") < -0.05,
            "longest phrase wins"
        );
        assert!(english("It stopped working after a week") < -0.05);
        assert!(english("I could not be happier with it") > 0.05);
        // Inside a longer word a phrase does not match.
        assert_eq!(take_phrases("unwill be backed").1, 0.0);
        assert_eq!(take_phrases("水壶 caught fire 了").0, "水壶             了");
    }

    /// Regression: scored +0.37. "not" three words back across the comma negated
    /// "terrible" (VADER's negation window ignores punctuation); now modifiers stop at
    /// clause punctuation, and "not go back" is a complaint of its own.
    #[test]
    fn negation_does_not_cross_clause_punctuation() {
        assert!(english("I would not go back, terrible.") < -0.05);
        // Without the phrase: the clause rule alone.
        assert!(english("I would not buy it, terrible.") < -0.05);
        assert!(score_with_crate_rules("I would not buy it, terrible.", |_| None) > 0.05);
        assert!(english("not terrible") > 0.0);
        assert!(english("It was not good at all") < -0.05);
    }

    #[test]
    fn complaint_idioms_and_slang() {
        assert!(english("The service here is fair at best.") < -0.05);
        assert!(english("Food was average at best.") < -0.05);
        assert!(english("I wouldn't go back.") < -0.05);
        assert!(english("I would not eat here again.") < -0.05);
        assert!(english("skip it and look elsewhere") < -0.05);
        assert!(english("I've had better bagels from the grocery store.") < -0.05);
        assert!(english("this place yyds") > 0.05);
        assert!(english("I was able to do voice dialing in the car with no problem.") > 0.05);
        assert!(english("Save your money.") < -0.05);
    }

    #[test]
    fn emoji_are_scored_with_and_without_words() {
        assert!(english("😡") < -0.05);
        assert!(english("👍") > 0.05);
        assert!(english("great 😡😡😡") < english("great"));
        assert!(english("😡!!!") < english("😡"));
        // An emoji VADER knows, glued to a word: both still count.
        assert!(english("😂good") > english("good"));
    }

    #[test]
    fn nothing_to_score_is_zero() {
        assert_eq!(english(""), 0.0);
        assert_eq!(english("The kettle is on the table."), 0.0);
    }
}

//! English scoring with VADER (`vader_sentiment`), whose rules already cover negation,
//! boosters, "but", ALL-CAPS and punctuation emphasis. Vigil adds words VADER lacks
//! (product failures, crisis language) and its own emoji valences.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use vader_sentiment::SentimentIntensityAnalyzer;

use super::{denormalize, normalize, punctuation_emphasis};

/// Words absent from VADER's lexicon that decide product reviews and brand crises
/// (`word<TAB>valence`, VADER's scale). Only words VADER does not know: overriding its
/// crowd-rated values would need its method, not guesses.
const SUPPLEMENT: &str = "\
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
";

/// Multi-word idioms of reviews and complaints that VADER scores wrongly ("don't
/// waste" reads as negated "waste", so positive) or not at all ("stopped working",
/// "won't be back": VADER has no "work" or "back"). Matched case-insensitively on word
/// boundaries, longest first; a matched phrase is blanked out of what VADER sees and
/// its valence is added to VADER's sum. Apostrophes are optional ("wont" matches too).
const PHRASES: &[(&str, f64)] = &[
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

/// [`PHRASES`] with apostrophe-less variants, longest first.
fn phrases() -> &'static [(String, f64)] {
    static PHRASE_TABLE: OnceLock<Vec<(String, f64)>> = OnceLock::new();
    PHRASE_TABLE.get_or_init(|| {
        let mut table: Vec<(String, f64)> = Vec::new();
        for &(phrase, valence) in PHRASES {
            table.push((phrase.to_owned(), valence));
            if phrase.contains('\'') {
                table.push((phrase.replace('\'', ""), valence));
            }
        }
        table.sort_by_key(|(phrase, _)| std::cmp::Reverse(phrase.len()));
        table
    })
}

/// Blanks the [`PHRASES`] out of `text`, returning what is left and their summed valence.
fn take_phrases(text: &str) -> (String, f64) {
    let lower = text.to_ascii_lowercase();
    let mut bytes = text.as_bytes().to_vec();
    let mut blanked = vec![false; bytes.len()];
    let mut total = 0.0;
    for (phrase, valence) in phrases() {
        for (start, _) in lower.match_indices(phrase.as_str()) {
            let end = start + phrase.len();
            let before = lower[..start].chars().next_back();
            let after = lower[end..].chars().next();
            let on_boundaries = !before.is_some_and(char::is_alphanumeric)
                && !after.is_some_and(char::is_alphanumeric);
            if !on_boundaries || blanked[start..end].iter().any(|&b| b) {
                continue;
            }
            total += valence;
            // Phrases are ASCII, so the matched bytes are whole chars: blanking them
            // keeps the text valid UTF-8.
            bytes[start..end].fill(b' ');
            blanked[start..end].fill(true);
        }
    }
    match String::from_utf8(bytes) {
        Ok(rest) => (rest, total),
        Err(_) => (text.to_owned(), 0.0),
    }
}

static ANALYZER: OnceLock<SentimentIntensityAnalyzer<'static>> = OnceLock::new();

/// VADER with the supplement merged in, built once per process (≈ 7,600 entries).
fn analyzer() -> &'static SentimentIntensityAnalyzer<'static> {
    ANALYZER.get_or_init(|| {
        let mut lexicon = (*vader_sentiment::LEXICON).clone();
        lexicon.extend(vader_sentiment::parse_raw_lexicon(SUPPLEMENT));
        // The analyzer borrows its lexicon; both live for the rest of the process, so
        // leaking this one allocation is the same as a static.
        SentimentIntensityAnalyzer::from_lexicon(Box::leak(Box::new(lexicon)))
    })
}

/// Builds the shared analyzer now rather than on the first classified text.
pub(crate) fn warm_up() {
    analyzer();
}

/// Scores English (or script-less) text in -1..=1; 0 when nothing sentiment-bearing
/// was found. Emoji with a valence in `emoji_valence` are taken out before VADER sees
/// them (VADER maps 👍 and 😡 to descriptions it does not score, and 🔥 to "fire") and
/// added to its sum before normalisation, as are [`PHRASES`].
pub(crate) fn score(text: &str, emoji_valence: impl Fn(char) -> Option<f64>) -> f64 {
    let text_apostrophes = text.replace(['\u{2019}', '\u{2018}'], "'");
    let (rest, phrase_total) = take_phrases(&text_apostrophes);
    let mut prepared = String::with_capacity(rest.len() + 8);
    let mut added_total = phrase_total;
    let mut buffer = [0u8; 4];
    for c in rest.chars() {
        if let Some(valence) = emoji_valence(c) {
            added_total += valence;
            prepared.push(' ');
        } else if vader_sentiment::EMOJI_LEXICON.contains_key(&*c.encode_utf8(&mut buffer)) {
            // VADER glues an emoji's description to the next word ("😂good" becomes
            // "…of joygood"); spaces keep both words intact.
            prepared.push(' ');
            prepared.push(c);
            prepared.push(' ');
        } else {
            prepared.push(c);
        }
    }
    // vader_sentiment is unmaintained and indexes token windows by hand; a panic in it
    // must cost one score, never the pipeline.
    let compound = catch_unwind(AssertUnwindSafe(|| {
        analyzer()
            .polarity_scores(&prepared)
            .get("compound")
            .copied()
            .unwrap_or(0.0)
    }))
    .unwrap_or_else(|_| {
        tracing::warn!(
            chars = text.chars().count(),
            "vader panicked; scoring as neutral"
        );
        0.0
    });
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

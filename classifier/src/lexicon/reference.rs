//! The English scorer as it was before the VADER port (`vader.rs`): the same wrapper
//! around the `vader_sentiment` crate (a dev-dependency now), kept to show that the
//! port scores the same. Two checks: the port's compound against the crate's on
//! generated texts built to reach every rule, and `english::score` against this old
//! path on the same texts and on the English lines of the shared sentiment sets
//! (skipped, with a message, when `../shared` is absent). Both use VADER's own rules
//! (`english::score_with_crate_rules`): Vigil's clause-bounded modifiers are a
//! deliberate change, tested in `vader.rs` and `english.rs`.
//!
//! Scores must agree within 1e-9. The crate iterates hash maps in a random order in two
//! places; one only moves the last bits of a sum, the other decides which of two
//! different special idioms in one five-word window wins. Texts with such a window are
//! counted and only they may disagree: under 1 % of the generated texts (which are
//! dense in idioms on purpose), under 0.1 % of the shared sets'.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::OnceLock;

use vader_sentiment::SentimentIntensityAnalyzer;

use super::chinese::ChineseLexicon;
use super::english::{self, PHRASES, SUPPLEMENT, phrase_table};
use super::vader::Vader;
use super::{denormalize, normalize, punctuation_emphasis};

const TOLERANCE: f64 = 1e-9;

/// The old `take_phrases`: `match_indices` per phrase over the lower-cased text.
fn old_take_phrases(text: &str) -> (String, f64) {
    static TABLE: OnceLock<Vec<(String, f64)>> = OnceLock::new();
    let table = TABLE.get_or_init(phrase_table);
    let lower = text.to_ascii_lowercase();
    let mut bytes = text.as_bytes().to_vec();
    let mut blanked = vec![false; bytes.len()];
    let mut total = 0.0;
    for (phrase, valence) in table {
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
            bytes[start..end].fill(b' ');
            blanked[start..end].fill(true);
        }
    }
    match String::from_utf8(bytes) {
        Ok(rest) => (rest, total),
        Err(_) => (text.to_owned(), 0.0),
    }
}

/// The crate's analyzer with Vigil's supplement, as `english.rs` built it.
fn analyzer() -> &'static SentimentIntensityAnalyzer<'static> {
    static ANALYZER: OnceLock<SentimentIntensityAnalyzer<'static>> = OnceLock::new();
    ANALYZER.get_or_init(|| {
        let mut lexicon = (*vader_sentiment::LEXICON).clone();
        lexicon.extend(vader_sentiment::parse_raw_lexicon(SUPPLEMENT));
        SentimentIntensityAnalyzer::from_lexicon(Box::leak(Box::new(lexicon)))
    })
}

fn crate_compound(text: &str) -> f64 {
    catch_unwind(AssertUnwindSafe(|| {
        analyzer()
            .polarity_scores(text)
            .get("compound")
            .copied()
            .unwrap_or(0.0)
    }))
    .unwrap_or(0.0)
}

/// The old `english::score`, line for line.
fn old_score(text: &str, emoji_valence: impl Fn(char) -> Option<f64>) -> f64 {
    let text_apostrophes = text.replace(['\u{2019}', '\u{2018}'], "'");
    let (rest, phrase_total) = old_take_phrases(&text_apostrophes);
    let mut prepared = String::with_capacity(rest.len() + 8);
    let mut added_total = phrase_total;
    let mut buffer = [0u8; 4];
    for c in rest.chars() {
        if let Some(valence) = emoji_valence(c) {
            added_total += valence;
            prepared.push(' ');
        } else if vader_sentiment::EMOJI_LEXICON.contains_key(&*c.encode_utf8(&mut buffer)) {
            prepared.push(' ');
            prepared.push(c);
            prepared.push(' ');
        } else {
            prepared.push(c);
        }
    }
    let compound = crate_compound(&prepared);
    let compound = if compound.is_finite() { compound } else { 0.0 };
    if added_total == 0.0 {
        return compound;
    }
    let mut total = denormalize(compound) + added_total;
    if compound == 0.0 {
        total += punctuation_emphasis(text).copysign(total);
    }
    normalize(total)
}

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Words and pieces that reach VADER's rules: negations (with and without "n't"),
/// boosters (one- and two-word), the words the rules name, idioms and their parts,
/// "but", "least", non-ASCII letters that case-fold to ASCII (ſ, K, ﬁ), all-caps
/// candidates, emoticons, numbers and one-byte tokens.
const TRICKY: &[&str] = &[
    "not",
    "NOT",
    "Not",
    "isn't",
    "ISN'T",
    "don't",
    "dont",
    "never",
    "NEVER",
    "ain't",
    "wasn't",
    "cannot",
    "can't",
    "without",
    "Without",
    "nothing",
    "nor",
    "rarely",
    "despite",
    "uh-uh",
    "won't",
    "very",
    "VERY",
    "so",
    "So",
    "SO",
    "really",
    "extremely",
    "kind of",
    "kind",
    "of",
    "sort of",
    "kinda",
    "barely",
    "slightly",
    "more",
    "most",
    "total",
    "also",
    "unless",
    "butter",
    "utterly",
    "but",
    "BUT",
    "But",
    "least",
    "at least",
    "the least",
    "never so",
    "never this",
    "this",
    "without doubt",
    "doubt",
    "the shit",
    "the bomb",
    "bad ass",
    "badass",
    "yeah right",
    "kiss of death",
    "to die for",
    "the",
    "ſo",
    "ſtop",
    "\u{212A}ind of",
    "ﬁne",
    "café",
    "naïve",
    "ÉNORME",
    "ΣΑΣ",
    "straße",
    "İstanbul",
    "ＧＯＯＤ",
    "Ｇｏｏｄ",
    ":)",
    ":-(",
    ":-Þ",
    ":Þ",
    "<3",
    ":D",
    ":d",
    "xD",
    "(:",
    "5 stars",
    "1 star",
    "0 stars",
    "a",
    "I",
    "!",
    "?",
    "x",
    "1",
    "2nd",
    "A1",
    "OK_",
    "#fail",
    "@acme",
    "https://t.co/x1",
    "水壶",
    "好",
    "…",
    "--",
    "'",
    "\"",
    "n't",
];

const PUNCTUATION: &[&str] = &[
    "", "", "", "", "!", "!!", "!!!!!", "?", "???", "????", ".", ",", "...", "\"", "'", "(", ")",
    ":", "#", "*", "?!",
];

const SEPARATORS: &[&str] = &[
    " ", " ", " ", " ", " ", " ", " ", " ", "", "\t", "\n", "  ", "\u{a0}", "\u{3000}", "\u{b}",
    "\u{85}", "\u{2028}", "\u{1c}",
];

const EXTRA_EMOJI: &[char] = &['😡', '👍', '😭', '❤', '\u{fe0f}', '\u{200d}', '🔥', '😂'];

fn lexicon_words() -> Vec<&'static str> {
    include_str!("vader/vader_lexicon.txt")
        .lines()
        .filter_map(|line| line.split('\t').next())
        .collect()
}

fn single_char_emoji() -> Vec<char> {
    include_str!("vader/emoji_utf8_lexicon.txt")
        .lines()
        .filter_map(|line| {
            let key = line.split('\t').next()?;
            let mut chars = key.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        })
        .collect()
}

fn change_case(rng: &mut Rng, word: &str) -> String {
    match rng.below(8) {
        0 => word.to_uppercase(),
        1 => {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        }
        2 => word
            .chars()
            .map(|c| {
                if c.is_ascii() && (c as u32).is_multiple_of(2) {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect(),
        _ => word.to_owned(),
    }
}

/// One text of 1–60 pieces.
fn generated_text(rng: &mut Rng, lexicon: &[&str], emoji: &[char]) -> String {
    let pieces = 1 + rng.below(60);
    let mut text = String::new();
    for index in 0..pieces {
        if index > 0 {
            text.push_str(rng.pick(SEPARATORS));
        }
        text.push_str(rng.pick(PUNCTUATION));
        match rng.below(20) {
            0..=6 => {
                let word = rng.pick(lexicon);
                text.push_str(&change_case(rng, word));
            }
            7..=11 => {
                let word = rng.pick(TRICKY);
                text.push_str(&change_case(rng, word));
            }
            12..=13 => {
                let (phrase, _) = rng.pick(PHRASES);
                let phrase = match rng.below(4) {
                    0 => phrase.replace('\'', "\u{2019}"),
                    1 => phrase.replace('\'', ""),
                    2 => phrase.to_uppercase(),
                    _ => phrase.to_owned(),
                };
                text.push_str(&phrase);
            }
            14..=15 => text.push(rng.pick(emoji)),
            16 => text.push(rng.pick(EXTRA_EMOJI)),
            _ => text.push_str(rng.pick(&[
                "the", "kettle", "was", "it", "and", "my", "Acme", "order", "service", "to",
            ])),
        }
        text.push_str(rng.pick(PUNCTUATION));
    }
    text
}

fn generated_texts(count: usize) -> Vec<String> {
    let lexicon = lexicon_words();
    let emoji = single_char_emoji();
    let mut rng = Rng(2024);
    (0..count)
        .map(|_| generated_text(&mut rng, &lexicon, &emoji))
        .collect()
}

/// How many texts to generate: `VIGIL_VADER_TEXTS`, default 20,000.
fn generated_count() -> usize {
    std::env::var("VIGIL_VADER_TEXTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20_000)
}

/// Compares `new` and `old` on every text; returns (compared, ambiguous). Panics
/// naming the first text that differs outside an ambiguous window of what VADER is
/// given (`to_vader` of the text).
fn compare(
    name: &str,
    texts: impl IntoIterator<Item = String>,
    vader: &Vader,
    to_vader: impl Fn(&str) -> String,
    new: impl Fn(&str) -> f64,
    old: impl Fn(&str) -> f64,
) -> (usize, usize) {
    let (mut compared, mut ambiguous) = (0, 0);
    for text in texts {
        compared += 1;
        let (new_score, old_score) = (new(&text), old(&text));
        if (new_score - old_score).abs() <= TOLERANCE {
            continue;
        }
        if vader.has_ambiguous_idiom_window(&to_vader(&text)) {
            ambiguous += 1;
            continue;
        }
        panic!("{name}: {text:?}: port {new_score} but vader_sentiment path {old_score}");
    }
    println!(
        "{name}: {compared} texts compared, all within {TOLERANCE} except {ambiguous} \
         with an ambiguous idiom window"
    );
    (compared, ambiguous)
}

#[test]
fn the_port_computes_the_crates_compound() {
    let vader = Vader::with_supplement(SUPPLEMENT);
    let texts = generated_texts(generated_count());
    let (compared, ambiguous) = compare(
        "generated, compound",
        texts,
        &vader,
        str::to_owned,
        |text| vader.compound(text),
        crate_compound,
    );
    // The generator is dense in idioms on purpose; real text almost never has two.
    assert!(ambiguous * 100 <= compared, "{ambiguous} of {compared}");
}

#[test]
fn english_score_is_what_it_was_on_generated_texts() {
    let vader = Vader::with_supplement(SUPPLEMENT);
    let chinese = ChineseLexicon::builtin();
    let emoji = |c| chinese.emoji_valence(c);
    let texts = generated_texts(generated_count());
    let (compared, ambiguous) = compare(
        "generated, english::score",
        texts,
        &vader,
        |text| english::prepared_for_vader(text, emoji),
        |text| english::score_with_crate_rules(text, emoji),
        |text| old_score(text, emoji),
    );
    assert!(ambiguous * 100 <= compared, "{ambiguous} of {compared}");
}

/// English lines of the shared sets: every line of each file (the text column).
fn shared_english_lines(shared: &Path) -> Vec<(String, Vec<String>)> {
    let sentiment = shared.join("data/sentiment/en");
    let files: [(&str, usize, bool); 6] = [
        (
            "uci_sentiment_labelled_sentences/yelp_labelled.txt",
            0,
            false,
        ),
        (
            "uci_sentiment_labelled_sentences/amazon_cells_labelled.txt",
            0,
            false,
        ),
        (
            "uci_sentiment_labelled_sentences/imdb_labelled.txt",
            0,
            false,
        ),
        ("glue_sst2/dev.tsv", 0, true),
        ("tweeteval_sentiment/val.filtered.tsv", 1, true),
        ("tweeteval_sentiment/test.filtered.tsv", 1, true),
    ];
    files
        .iter()
        .map(|&(file, column, header)| {
            let path = sentiment.join(file);
            let raw = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let lines = raw
                .lines()
                .skip(usize::from(header))
                .filter_map(|line| line.split('\t').nth(column))
                .map(str::to_owned)
                .collect();
            (file.to_owned(), lines)
        })
        .collect()
}

#[test]
fn english_score_is_what_it_was_on_the_shared_sets() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if !shared.exists() {
        println!("skipped: ../shared not present, the shared sentiment sets were not compared");
        return;
    }
    let vader = Vader::with_supplement(SUPPLEMENT);
    let chinese = ChineseLexicon::builtin();
    let emoji = |c| chinese.emoji_valence(c);
    let mut total = 0;
    for (file, lines) in shared_english_lines(&shared) {
        assert!(!lines.is_empty(), "{file}: no lines read");
        let (compared, ambiguous) = compare(
            &file,
            lines,
            &vader,
            |text| english::prepared_for_vader(text, emoji),
            |text| english::score_with_crate_rules(text, emoji),
            |text| old_score(text, emoji),
        );
        assert!(
            ambiguous * 1000 <= compared,
            "{file}: {ambiguous} of {compared}"
        );
        total += compared;
    }
    assert!(total > 10_000, "{total} lines compared");
}

#[test]
fn old_and_new_phrase_matching_agree_on_overlaps() {
    let english_scorer = |text: &str| english::score_with_crate_rules(text, |_| None);
    for text in [
        "caught fire caught fire",
        "won't be back won't be back",
        "not coming back coming back",
        "wont be backwont be back",
        "WASTE OF MONEY and waste of time",
        "never again never again never again",
        "won’t be back",
        "1 star 1 stars 5 stars",
        "do not buy, don't buy; dont buy",
    ] {
        assert!(
            (english_scorer(text) - old_score(text, |_| None)).abs() <= TOLERANCE,
            "{text}"
        );
        let (old_rest, old_total) = old_take_phrases(text);
        let (new_rest, new_total) = english::take_phrases(text);
        assert_eq!(new_rest, old_rest, "{text}");
        assert!((new_total - old_total).abs() <= TOLERANCE, "{text}");
    }
}

#[test]
fn phrases_are_taken_as_before_on_generated_texts() {
    for text in generated_texts(generated_count() / 4) {
        let text = text.replace(['\u{2019}', '\u{2018}'], "'");
        let (old_rest, old_total) = old_take_phrases(&text);
        let (new_rest, new_total) = english::take_phrases(&text);
        assert_eq!(new_rest, old_rest, "{text:?}");
        assert!((new_total - old_total).abs() <= TOLERANCE, "{text:?}");
    }
}

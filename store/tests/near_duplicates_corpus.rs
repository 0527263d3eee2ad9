//! Measures `vigil_core::simhash` on the development corpora in `../shared/data`: how far
//! apart unrelated texts are, whether every pair the fingerprint calls a copy really is
//! one, and how copies made the way reposters make them (a new link, "via @x", 转发,
//! emoji) land. The figures it prints are the ones in `core/src/simhash.rs`.
//!
//! Skips when `../shared/data` is absent (a fresh clone without the shared folder).
//! Run: `cargo test -p vigil-store --test near_duplicates_corpus -- --nocapture`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use vigil_core::{NEAR_DUPLICATE_DISTANCE, hamming, simhash, simhash_bands};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/sentiment")
}

/// One text per row: the column after the first tab (TSV with a label first), the
/// column before the last tab (UCI: text then label), or the CSV's last column.
fn load(
    relative: &str,
    skip_header: bool,
    column: fn(&str) -> Option<&str>,
) -> Option<Vec<String>> {
    let path = data_dir().join(relative);
    let content = std::fs::read_to_string(&path).ok()?;
    Some(
        content
            .lines()
            .skip(usize::from(skip_header))
            .filter_map(column)
            .map(|text| text.trim_start_matches('\u{feff}').to_string())
            .collect(),
    )
}

/// Picks the text out of one line of a corpus file.
type Column = fn(&str) -> Option<&str>;

fn after_first_tab(line: &str) -> Option<&str> {
    line.split_once('\t').map(|(_, text)| text)
}

fn before_last_tab(line: &str) -> Option<&str> {
    line.rsplit_once('\t').map(|(text, _)| text)
}

fn after_second_comma(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once(',')?;
    rest.split_once(',').map(|(_, text)| text)
}

/// Lower-cased letters and digits only: a crude, independent view of a text's content.
fn plain(text: &str) -> Vec<char> {
    text.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Share of the smaller text's character 4-grams found in the other: near 1 for a copy
/// (even one with a credit or a link added), low for unrelated texts.
fn containment(a: &str, b: &str) -> f64 {
    let grams = |text: &str| -> HashSet<Vec<char>> {
        plain(text).windows(4).map(<[char]>::to_vec).collect()
    };
    let (a, b) = (grams(a), grams(b));
    let smaller = a.len().min(b.len()).max(1);
    a.intersection(&b).count() as f64 / smaller as f64
}

struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// The ways reposters copy a post.
fn copies(text: &str, n: usize) -> Vec<String> {
    vec![
        format!("{text} https://t.co/Ab{n}xQ"),
        format!("{text} via @reposter{n}"),
        format!("RT @reposter{n}: {text}"),
        format!("{text} 转发"),
        format!("转发微博 //@转发者{n}: {text}"),
        format!("{text} 😡😡"),
        format!("{text}[哈哈]"),
        format!("  {}  ", text.replace(' ', "  ")),
        swap_punctuation_style(text),
    ]
}

/// Sentence punctuation swapped between half-width and full-width styles, and "..." for
/// "…": what an editor's or an input method's settings change.
fn swap_punctuation_style(text: &str) -> String {
    let swapped: String = text
        .chars()
        .map(|c| match c {
            ',' => '，',
            '，' => ',',
            '。' => '.',
            '!' => '！',
            '！' => '!',
            '?' => '？',
            '？' => '?',
            c => c,
        })
        .collect();
    swapped.replace("...", "…")
}

/// The text with one word (Latin) or one character (CJK) in the middle replaced.
fn light_edit(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let middle = chars.len() / 2;
    if chars.iter().any(|c| vigil_core::text::is_cjk(*c)) {
        let mut edited = chars.clone();
        if let Some(position) = (middle..chars.len()).find(|i| vigil_core::text::is_cjk(chars[*i]))
        {
            edited[position] = if chars[position] == '好' {
                '坏'
            } else {
                '好'
            };
        }
        edited.into_iter().collect()
    } else {
        let mut words: Vec<&str> = text.split(' ').collect();
        let middle_word = words.len() / 2;
        words[middle_word] = "different";
        words.join(" ")
    }
}

fn percentile(sorted: &[u32], share: f64) -> u32 {
    sorted[((sorted.len() - 1) as f64 * share) as usize]
}

struct Figures {
    with_fingerprint: usize,
    near_pairs: usize,
    not_copies: Vec<(String, String, u32)>,
    unrelated_min: u32,
    unrelated_p01: u32,
    unrelated_mean: f64,
    copies_within: usize,
    copies_total: usize,
    copies_max: u32,
    edits_within: usize,
    edits_total: usize,
    edits_median: u32,
}

fn measure(texts: &[String]) -> Figures {
    let fingerprinted: Vec<(&String, u64)> = texts
        .iter()
        .filter_map(|text| simhash(text).map(|hash| (text, hash)))
        .collect();
    // Every pair within the threshold, through the same band lookup the store uses.
    let mut buckets: HashMap<(usize, u16), Vec<usize>> = HashMap::new();
    for (index, (_, hash)) in fingerprinted.iter().enumerate() {
        for (band_no, band) in simhash_bands(*hash).into_iter().enumerate() {
            buckets.entry((band_no, band)).or_default().push(index);
        }
    }
    let mut near: HashSet<(usize, usize)> = HashSet::new();
    for members in buckets.values() {
        for (position, &a) in members.iter().enumerate() {
            for &b in &members[position + 1..] {
                if hamming(fingerprinted[a].1, fingerprinted[b].1) <= NEAR_DUPLICATE_DISTANCE {
                    near.insert((a.min(b), a.max(b)));
                }
            }
        }
    }
    let not_copies: Vec<(String, String, u32)> = near
        .iter()
        .filter(|(a, b)| containment(fingerprinted[*a].0, fingerprinted[*b].0) < 0.5)
        .map(|(a, b)| {
            (
                fingerprinted[*a].0.clone(),
                fingerprinted[*b].0.clone(),
                hamming(fingerprinted[*a].1, fingerprinted[*b].1),
            )
        })
        .collect();

    // Unrelated: all pairs among a deterministic sample of 1,000 texts, leaving out the
    // real copies the corpus holds (retweets), which are not "unrelated".
    let mut random = Lcg(7);
    let sample: Vec<usize> = (0..1000.min(fingerprinted.len()))
        .map(|_| random.below(fingerprinted.len()))
        .collect();
    let mut distances = Vec::new();
    for (position, &a) in sample.iter().enumerate() {
        for &b in &sample[position + 1..] {
            let distance = hamming(fingerprinted[a].1, fingerprinted[b].1);
            // Containment is slow; only close pairs can be copies worth leaving out.
            let copy = distance <= 12 && containment(fingerprinted[a].0, fingerprinted[b].0) >= 0.5;
            if a != b && !copy {
                distances.push(distance);
            }
        }
    }
    distances.sort_unstable();

    let mut copies_within = 0;
    let mut copies_total = 0;
    let mut copies_max = 0;
    let mut misses_by_kind = [0usize; 9];
    let mut edits_within = 0;
    let mut edits_total = 0;
    let mut edit_distances = Vec::new();
    for (n, &index) in sample.iter().enumerate() {
        let (text, hash) = fingerprinted[index];
        for (kind, copy) in copies(text, n).into_iter().enumerate() {
            let Some(copy_hash) = simhash(&copy) else {
                continue;
            };
            let distance = hamming(hash, copy_hash);
            copies_total += 1;
            copies_max = copies_max.max(distance);
            if distance <= NEAR_DUPLICATE_DISTANCE {
                copies_within += 1;
            } else {
                misses_by_kind[kind] += 1;
                if std::env::var_os("VIGIL_SHOW_MISSES").is_some() {
                    println!("  miss {kind} at {distance}: {text:?} / {copy:?}");
                }
            }
        }
        if let Some(edited) = simhash(&light_edit(text)) {
            edits_total += 1;
            edit_distances.push(hamming(hash, edited));
            if hamming(hash, edited) <= NEAR_DUPLICATE_DISTANCE {
                edits_within += 1;
            }
        }
    }
    println!("  copy misses by kind: {misses_by_kind:?}");
    edit_distances.sort_unstable();
    let histogram: Vec<usize> = (0..=4)
        .map(|d| edit_distances.iter().filter(|x| **x == d).count())
        .collect();
    println!("  one-word edits at distance 0..=4: {histogram:?}");
    Figures {
        with_fingerprint: fingerprinted.len(),
        near_pairs: near.len(),
        not_copies,
        unrelated_min: distances[0],
        unrelated_p01: percentile(&distances, 0.01),
        unrelated_mean: distances.iter().map(|d| f64::from(*d)).sum::<f64>()
            / distances.len() as f64,
        copies_within,
        copies_total,
        copies_max,
        edits_within,
        edits_total,
        edits_median: percentile(&edit_distances, 0.5),
    }
}

#[test]
fn fingerprints_separate_copies_from_unrelated_texts_on_the_corpora() {
    if !data_dir().is_dir() {
        eprintln!("skipping: ../shared/data not present");
        return;
    }
    let sets: [(&str, &str, bool, Column); 4] = [
        (
            "TweetEval test",
            "en/tweeteval_sentiment/test.filtered.tsv",
            true,
            after_first_tab,
        ),
        (
            "Weibo dev",
            "zh/weibo_senti_100k_split/dev.csv",
            true,
            after_first_tab,
        ),
        (
            "shopping reviews",
            "zh/chinesenlpcorpus/online_shopping_10_cats.no_hotel_book_computer.csv",
            true,
            after_second_comma,
        ),
        (
            "IMDB sentences",
            "en/uci_sentiment_labelled_sentences/imdb_labelled.txt",
            false,
            before_last_tab,
        ),
    ];
    for (name, path, header, column) in sets {
        let Some(texts) = load(path, header, column) else {
            eprintln!("skipping {name}: {path} not present");
            continue;
        };
        let figures = measure(&texts);
        println!(
            "{name}: {} texts, {} with a fingerprint; pairs within {NEAR_DUPLICATE_DISTANCE}: {} ({} not copies); \
             unrelated distance min {} / 1st pct {} / mean {:.1}; copies within: {}/{} (max {}); \
             one-word edits within: {}/{} (median distance {})",
            texts.len(),
            figures.with_fingerprint,
            figures.near_pairs,
            figures.not_copies.len(),
            figures.unrelated_min,
            figures.unrelated_p01,
            figures.unrelated_mean,
            figures.copies_within,
            figures.copies_total,
            figures.copies_max,
            figures.edits_within,
            figures.edits_total,
            figures.edits_median,
        );
        for (a, b, distance) in figures.not_copies.iter().take(5) {
            println!("  not a copy at {distance}: {a:?} / {b:?}");
        }
        assert!(
            figures.not_copies.is_empty(),
            "{name}: {} pairs within the threshold share under half their content",
            figures.not_copies.len()
        );
        assert!(
            figures.unrelated_mean > 28.0,
            "{name}: unrelated texts too close"
        );
        assert!(
            figures.unrelated_min > NEAR_DUPLICATE_DISTANCE,
            "{name}: unrelated pair within the threshold"
        );
        assert!(
            figures.copies_within * 100 >= figures.copies_total * 99,
            "{name}: only {}/{} reposter-style copies within the threshold",
            figures.copies_within,
            figures.copies_total
        );
    }
}

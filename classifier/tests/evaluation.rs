//! Development figures of the `lexicon` backend on the labelled corpora in
//! ../shared/data (see its README: development sets, not product data). The floors are
//! the figures measured when the backend was written, minus a margin, so a regression
//! in the lexicons or rules fails here. Accuracy counts a neutral prediction as wrong
//! (the sets are binary); the neutral share is printed separately.
//!
//! `cargo test -p vigil-classifier --test evaluation -- --nocapture` prints the figures;
//! `-- --ignored` adds the larger and harder sets (no floors, figures only).

use std::fs;
use std::path::{Path, PathBuf};

use vigil_classifier::LexiconClassifier;
use vigil_core::{Classifier, Label};

struct Example {
    text: String,
    label: Label,
}

fn shared_data() -> Option<PathBuf> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if !shared.exists() {
        println!("skipped: ../shared not present");
        return None;
    }
    Some(shared.join("data/sentiment"))
}

fn binary_label(field: &str) -> Option<Label> {
    match field.trim() {
        "0" => Some(Label::Negative),
        "1" => Some(Label::Positive),
        _ => None,
    }
}

/// UCI files: `sentence<TAB>label`, no header, no quoting, records split on `\n` only.
fn read_uci(path: &Path) -> Vec<Example> {
    let raw = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    raw.split('\n')
        .filter_map(|line| {
            let (text, label) = line.rsplit_once('\t')?;
            Some(Example {
                text: text.to_owned(),
                label: binary_label(label)?,
            })
        })
        .collect()
}

/// Minimal RFC 4180 reader (quoted fields, doubled quotes, separators and newlines
/// inside quotes): enough for the corpora here without a CSV dependency.
fn parse_delimited(raw: &str, separator: char) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut at_field_start = true;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                in_quotes = true;
                at_field_start = false;
            }
            c if c == separator => {
                row.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                at_field_start = true;
            }
            '\r' => {}
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// A headed CSV/TSV with the label and text in the given columns.
fn read_table(
    path: &Path,
    separator: char,
    label_column: usize,
    text_column: usize,
) -> Vec<Example> {
    let raw = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_delimited(&raw, separator)
        .into_iter()
        .skip(1)
        .filter_map(|row| {
            Some(Example {
                label: binary_label(row.get(label_column)?)?,
                text: row.get(text_column)?.clone(),
            })
        })
        .collect()
}

#[derive(Debug)]
struct Figures {
    total: usize,
    correct: usize,
    neutral: usize,
}

impl Figures {
    fn accuracy(&self) -> f64 {
        self.correct as f64 / self.total.max(1) as f64
    }
    fn neutral_share(&self) -> f64 {
        self.neutral as f64 / self.total.max(1) as f64
    }
    /// Accuracy over the texts that got a polar label.
    fn polar_accuracy(&self) -> f64 {
        self.correct as f64 / (self.total - self.neutral).max(1) as f64
    }
}

fn evaluate(name: &str, examples: &[Example], lang: Option<&str>) -> Figures {
    assert!(!examples.is_empty(), "{name}: no examples read");
    let classifier = LexiconClassifier::new();
    let mut figures = Figures {
        total: 0,
        correct: 0,
        neutral: 0,
    };
    for example in examples {
        let predicted = classifier.classify(&example.text, lang).label;
        figures.total += 1;
        if predicted == example.label {
            figures.correct += 1;
        } else if predicted == Label::Neutral {
            figures.neutral += 1;
        }
    }
    println!(
        "{name:<40} n={:>6}  accuracy={:.3}  neutral={:.3}  accuracy-of-polar={:.3}",
        figures.total,
        figures.accuracy(),
        figures.neutral_share(),
        figures.polar_accuracy()
    );
    figures
}

#[test]
fn lexicon_beats_its_measured_floors() {
    let Some(data) = shared_data() else { return };
    let uci = data.join("en/uci_sentiment_labelled_sentences");
    let mut english = read_uci(&uci.join("yelp_labelled.txt"));
    let yelp = evaluate("en uci yelp", &english, None);
    let amazon_examples = read_uci(&uci.join("amazon_cells_labelled.txt"));
    let amazon = evaluate("en uci amazon", &amazon_examples, None);
    english.extend(amazon_examples);
    let both = evaluate("en uci yelp+amazon", &english, None);
    let waimai_examples = read_table(&data.join("zh/chinesenlpcorpus/waimai_10k.csv"), ',', 0, 1);
    let waimai = evaluate("zh waimai_10k", &waimai_examples, None);

    assert_eq!(both.total, 2000);
    assert_eq!(waimai.total, 11_987);
    // Floors: the figures measured when the backend was written (yelp 0.724, amazon
    // 0.750, both 0.737 with 0.885 of polar predictions right; waimai 0.741, polar
    // 0.855), minus about 0.04 so only a real regression trips them.
    assert!(yelp.accuracy() > 0.68, "{yelp:?}");
    assert!(amazon.accuracy() > 0.71, "{amazon:?}");
    assert!(both.accuracy() > 0.70, "{both:?}");
    assert!(both.polar_accuracy() > 0.84, "{both:?}");
    assert!(waimai.accuracy() > 0.70, "{waimai:?}");
    assert!(waimai.polar_accuracy() > 0.81, "{waimai:?}");
    // These sets hold no neutral sentences; a widening neutral band is a regression too.
    assert!(both.neutral_share() < 0.22, "{both:?}");
    assert!(waimai.neutral_share() < 0.18, "{waimai:?}");
}

#[test]
#[ignore = "larger and harder sets, figures only; run with --ignored --nocapture"]
fn extended_development_figures() {
    let Some(data) = shared_data() else { return };
    let uci = data.join("en/uci_sentiment_labelled_sentences");
    evaluate(
        "en uci imdb",
        &read_uci(&uci.join("imdb_labelled.txt")),
        None,
    );
    evaluate(
        "en sst2 dev",
        &read_table(&data.join("en/glue_sst2/dev.tsv"), '\t', 1, 0),
        None,
    );
    let shopping = read_table(
        &data.join("zh/chinesenlpcorpus/online_shopping_10_cats.no_hotel_book_computer.csv"),
        ',',
        1,
        2,
    );
    evaluate("zh online_shopping (filtered)", &shopping, None);
    let weibo = read_table(&data.join("zh/weibo_senti_100k_split/dev.csv"), '\t', 0, 1);
    evaluate("zh weibo dev (with emoticon codes)", &weibo, None);
    let stripped: Vec<Example> = weibo
        .iter()
        .map(|example| Example {
            text: strip_emoticon_codes(&example.text),
            label: example.label,
        })
        .collect();
    evaluate("zh weibo dev (codes stripped)", &stripped, None);
}

/// Removes Weibo `[…]` emoticon codes, whose presence decided the labels.
fn strip_emoticon_codes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        match rest[open..].find(']') {
            Some(close) if close <= 16 => rest = &rest[open + close + 1..],
            _ => {
                out.push('[');
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn table_reader_handles_quotes() {
    let rows = parse_delimited("label,review\n1,\"a, \"\"b\"\"\nc\"\n0,plain\r\n", ',');
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1], ["1", "a, \"b\"\nc"]);
    assert_eq!(rows[2], ["0", "plain"]);
    assert_eq!(strip_emoticon_codes("好[哈哈]啊[x"), "好啊[x");
}

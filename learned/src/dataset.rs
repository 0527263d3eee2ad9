//! Labelled data: readers for the corpora in `../shared/data` and for JSONL, and the
//! dedupe and split steps that keep evaluation honest.
//!
//! Formats (detected from the header line or the file extension, see
//! [`detect_format`]):
//!
//! - **UCI sentences**: `text<TAB>label`, no header, no quoting.
//! - **Tables** with a header that names a label column (`label`, `sentiment`,
//!   `polarity`) and a text column (`text`, `review`, `sentence`, `x_valid`, `content`,
//!   `tweet`): SST-2 (`sentence<TAB>label`), TweetEval (`label<TAB>text`), waimai_10k
//!   (`label,review`), online_shopping (`cat,label,review`), Weibo (`label<TAB>x_valid`).
//!   Comma-separated files and the Weibo file use CSV quoting; other tab-separated
//!   files are read literally (TweetEval tweets start with a bare `"`). In the Weibo
//!   file, bracketed emoticon codes (`[泪]`, `[哈哈]`) are stripped: its labels were made
//!   from them, so a model would learn the labelling rule instead of the text.
//! - **JSONL**: one `{"text": …, "label": "negative"|"neutral"|"positive", "lang": …}`
//!   object per line (`lang` optional, other keys ignored).
//!
//! Numeric labels: `0`/`1` are negative/positive; a file that also uses `2` is
//! three-class (`0` negative, `1` neutral, `2` positive, TweetEval's mapping). Label
//! words (`negative`, `neutral`, `positive`) work in every format. A file without any
//! neutral example is *polar only*: its examples teach the negative/positive contrast
//! and nothing about neutral (see [`Example::polar_only`]).
//!
//! Bad rows (wrong column count, unknown label, empty text, invalid UTF-8, broken
//! JSON) are counted in [`Dataset::bad_rows`], with the first few kept as samples.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vigil_core::Label;

use crate::error::{LearnedError, Result};
use crate::features::{finalize, is_cjk};

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub text: String,
    /// `en`, `zh`, … (readers guess it from the script when the file does not say).
    pub lang: Option<String>,
    pub label: Label,
    /// The source only distinguishes negative from positive (its texts were selected
    /// or labelled without a neutral class). Training then uses this example for the
    /// negative/positive contrast only, so a corpus without neutral texts does not
    /// teach that its language is never neutral.
    pub polar_only: bool,
}

impl Example {
    pub fn new(text: impl Into<String>, label: Label) -> Self {
        Example {
            text: text.into(),
            lang: None,
            label,
            polar_only: false,
        }
    }
}

/// How a data file is laid out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DatasetFormat {
    /// `text<TAB>label`, no header, no quoting (UCI sentiment labelled sentences).
    UciSentences,
    Table(TableFormat),
    /// One JSON object per line.
    Jsonl,
}

/// A delimited table with a header line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableFormat {
    pub separator: char,
    /// CSV quoting (`"…"` with doubled inner quotes); otherwise fields are literal.
    pub quoted: bool,
    pub columns: usize,
    pub label_column: usize,
    pub text_column: usize,
    /// Remove `[…]` emoticon codes from the text (Weibo, whose labels come from them).
    pub strip_emoticon_codes: bool,
}

/// A row that could not be used, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRow {
    /// 1-based line number in the file.
    pub line: usize,
    pub reason: String,
}

/// The examples read from one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    pub name: String,
    pub format: DatasetFormat,
    pub examples: Vec<Example>,
    /// Rows skipped as unusable.
    pub bad_rows: usize,
    /// The first few of them.
    pub bad_row_samples: Vec<BadRow>,
}

const BAD_ROW_SAMPLES: usize = 10;

impl Dataset {
    /// One line: name, examples per label, bad rows.
    pub fn summary(&self) -> String {
        let count = |label| self.examples.iter().filter(|e| e.label == label).count();
        format!(
            "{}: {} examples ({} negative, {} neutral, {} positive), {} bad rows",
            self.name,
            self.examples.len(),
            count(Label::Negative),
            count(Label::Neutral),
            count(Label::Positive),
            self.bad_rows
        )
    }
}

/// Reads a data file, detecting its format.
pub fn read_dataset(path: &Path) -> Result<Dataset> {
    let bytes = std::fs::read(path).map_err(|source| LearnedError::Io {
        path: path.to_owned(),
        source,
    })?;
    // Invalid UTF-8 becomes U+FFFD and the rows holding it are rejected below.
    let content = String::from_utf8_lossy(&bytes);
    let format = detect_format(path, &content)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(parse_dataset(&name, &content, &format))
}

/// Recognises the layout of `content` (read from `path`).
pub fn detect_format(path: &Path, content: &str) -> Result<DatasetFormat> {
    let dataset_error = |message: String| LearnedError::Dataset {
        path: path.to_owned(),
        message,
    };
    let first_line = content
        .trim_start_matches('\u{FEFF}')
        .split('\n')
        .next()
        .unwrap_or("")
        .trim_end_matches('\r');
    let is_jsonl = path
        .extension()
        .is_some_and(|ext| ext == "jsonl" || ext == "ndjson")
        || first_line.trim_start().starts_with('{');
    if is_jsonl {
        return Ok(DatasetFormat::Jsonl);
    }
    if first_line.trim().is_empty() {
        return Err(dataset_error("empty file or empty first line".into()));
    }
    let separator = if first_line.contains('\t') { '\t' } else { ',' };
    let names: Vec<String> = first_line
        .split(separator)
        .map(|name| name.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let label_column = names
        .iter()
        .position(|n| matches!(n.as_str(), "label" | "sentiment" | "polarity"));
    let text_column = names.iter().position(|n| {
        matches!(
            n.as_str(),
            "text" | "review" | "sentence" | "x_valid" | "content" | "tweet"
        )
    });
    if let (Some(label_column), Some(text_column)) = (label_column, text_column) {
        let weibo = names[text_column] == "x_valid";
        return Ok(DatasetFormat::Table(TableFormat {
            separator,
            quoted: separator == ',' || weibo,
            columns: names.len(),
            label_column,
            text_column,
            strip_emoticon_codes: weibo,
        }));
    }
    if let Some((_, label)) = first_line.rsplit_once('\t')
        && parse_label(label).is_some()
    {
        return Ok(DatasetFormat::UciSentences);
    }
    let preview: String = first_line.chars().take(80).collect();
    Err(dataset_error(format!(
        "unrecognised data format (first line {preview:?}); expected `text<TAB>label` \
         lines, a CSV/TSV header naming a label and a text column, or JSONL"
    )))
}

/// Parses `content` laid out as `format`. Never fails: unusable rows are counted.
pub fn parse_dataset(name: &str, content: &str, format: &DatasetFormat) -> Dataset {
    let content = content.strip_prefix('\u{FEFF}').unwrap_or(content);
    let mut bad = BadRows::default();
    let rows: Vec<RawRow> = match format {
        DatasetFormat::UciSentences => uci_rows(content),
        DatasetFormat::Table(table) => table_rows(content, table),
        DatasetFormat::Jsonl => jsonl_rows(content),
    };
    let three_class = rows
        .iter()
        .any(|row| row.problem.is_none() && row.label.trim() == "2");
    let mut examples = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(problem) = row.problem {
            bad.add(row.line, problem);
            continue;
        }
        let Some(label) = map_label(&row.label, three_class) else {
            bad.add(
                row.line,
                format!("unknown label {:?}", truncate(&row.label)),
            );
            continue;
        };
        let text = row
            .text
            .trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}')
            .to_owned();
        if text.is_empty() {
            bad.add(row.line, "empty text".into());
            continue;
        }
        if text.contains('\u{FFFD}') {
            bad.add(row.line, "invalid UTF-8".into());
            continue;
        }
        let lang = row.lang.or_else(|| Some(guess_lang(&text).to_owned()));
        examples.push(Example {
            text,
            lang,
            label,
            polar_only: false,
        });
    }
    if !examples
        .iter()
        .any(|example| example.label == Label::Neutral)
    {
        for example in &mut examples {
            example.polar_only = true;
        }
    }
    Dataset {
        name: name.to_owned(),
        format: format.clone(),
        examples,
        bad_rows: bad.count,
        bad_row_samples: bad.samples,
    }
}

#[derive(Default)]
struct BadRows {
    count: usize,
    samples: Vec<BadRow>,
}

impl BadRows {
    fn add(&mut self, line: usize, reason: String) {
        self.count += 1;
        if self.samples.len() < BAD_ROW_SAMPLES {
            self.samples.push(BadRow { line, reason });
        }
    }
}

/// A row as read, or why it could not be read (kept in line order for the report).
struct RawRow {
    line: usize,
    label: String,
    text: String,
    lang: Option<String>,
    problem: Option<String>,
}

impl RawRow {
    fn bad(line: usize, problem: String) -> Self {
        RawRow {
            line,
            label: String::new(),
            text: String::new(),
            lang: None,
            problem: Some(problem),
        }
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

fn parse_label(raw: &str) -> Option<Label> {
    map_label(raw, false)
}

fn map_label(raw: &str, three_class: bool) -> Option<Label> {
    let raw = raw.trim();
    match raw {
        "0" => Some(Label::Negative),
        "1" if three_class => Some(Label::Neutral),
        "1" => Some(Label::Positive),
        "2" => Some(Label::Positive),
        _ => raw.to_ascii_lowercase().parse().ok(),
    }
}

/// `zh` when CJK characters make up a fair share of the letters, else `en`.
fn guess_lang(text: &str) -> &'static str {
    let (mut cjk, mut letters) = (0usize, 0usize);
    for c in text.chars() {
        if is_cjk(c) {
            cjk += 1;
        } else if c.is_alphabetic() {
            letters += 1;
        }
    }
    // A CJK character carries about as much as a short word.
    if cjk * 3 >= letters && cjk > 0 {
        "zh"
    } else {
        "en"
    }
}

/// Splits on `\n` only: the UCI files hold U+0085, which some APIs treat as a line
/// break.
fn lines(content: &str) -> impl Iterator<Item = (usize, &str)> {
    content
        .split('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.strip_suffix('\r').unwrap_or(line)))
        .filter(|(_, line)| !line.trim().is_empty())
}

fn uci_rows(content: &str) -> Vec<RawRow> {
    let mut rows = Vec::new();
    for (line, text) in lines(content) {
        match text.rsplit_once('\t') {
            Some((text, label)) => rows.push(RawRow {
                line,
                label: label.to_owned(),
                text: text.to_owned(),
                lang: None,
                problem: None,
            }),
            None => rows.push(RawRow::bad(line, "no tab separating text and label".into())),
        }
    }
    rows
}

fn table_rows(content: &str, table: &TableFormat) -> Vec<RawRow> {
    let records = if table.quoted {
        quoted_records(content, table.separator)
    } else {
        lines(content)
            .map(|(line, text)| Record {
                line,
                fields: text.split(table.separator).map(str::to_owned).collect(),
                unterminated_quote: false,
            })
            .collect()
    };
    let mut rows = Vec::new();
    for record in records.into_iter().skip(1) {
        if record.unterminated_quote {
            rows.push(RawRow::bad(record.line, "unterminated quoted field".into()));
            continue;
        }
        if record.fields.len() != table.columns {
            rows.push(RawRow::bad(
                record.line,
                format!(
                    "{} fields, the header has {}",
                    record.fields.len(),
                    table.columns
                ),
            ));
            continue;
        }
        let mut fields = record.fields;
        let label = std::mem::take(&mut fields[table.label_column]);
        let mut text = std::mem::take(&mut fields[table.text_column]);
        if table.strip_emoticon_codes {
            text = strip_emoticon_codes(&text);
        }
        rows.push(RawRow {
            line: record.line,
            label,
            text,
            lang: None,
            problem: None,
        });
    }
    rows
}

struct Record {
    line: usize,
    fields: Vec<String>,
    unterminated_quote: bool,
}

/// RFC 4180 records: quoted fields may hold separators, doubled quotes and newlines.
/// A quote in the middle of an unquoted field is literal.
fn quoted_records(content: &str, separator: char) -> Vec<Record> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut at_field_start = true;
    let mut line = 1;
    let mut record_line = 1;
    let mut chars = content.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                in_quotes = true;
                at_field_start = false;
            }
            '\n' => {
                fields.push(std::mem::take(&mut field));
                let record_fields = std::mem::take(&mut fields);
                // Blank lines are not records.
                if !(record_fields.len() == 1 && record_fields[0].trim().is_empty()) {
                    records.push(Record {
                        line: record_line,
                        fields: record_fields,
                        unterminated_quote: false,
                    });
                }
                line += 1;
                record_line = line;
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            c if c == separator => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if in_quotes || !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push(Record {
            line: record_line,
            fields,
            unterminated_quote: in_quotes,
        });
    }
    records
}

#[derive(Deserialize)]
struct JsonlRow {
    text: String,
    label: String,
    #[serde(default)]
    lang: Option<String>,
}

fn jsonl_rows(content: &str) -> Vec<RawRow> {
    let mut rows = Vec::new();
    for (line, text) in lines(content) {
        match serde_json::from_str::<JsonlRow>(text) {
            Ok(row) => {
                // JSONL labels are words; a digit would be ambiguous.
                if row.label.trim().parse::<u8>().is_ok() {
                    rows.push(RawRow::bad(
                        line,
                        "numeric label (JSONL labels are negative, neutral or positive)".into(),
                    ));
                    continue;
                }
                rows.push(RawRow {
                    line,
                    label: row.label,
                    text: row.text,
                    lang: row.lang.filter(|lang| !lang.trim().is_empty()),
                    problem: None,
                });
            }
            Err(error) => rows.push(RawRow::bad(line, format!("invalid JSON row: {error}"))),
        }
    }
    rows
}

/// Removes Weibo-style emoticon codes: `[` + 1 to 8 characters without brackets or
/// whitespace + `]` (`[泪]`, `[哈哈]`, `[good]`).
pub fn strip_emoticon_codes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let code_end = after
            .char_indices()
            .take(9)
            .find(|&(_, c)| c == ']' || c == '[' || c.is_whitespace());
        match code_end {
            Some((index, ']')) if index > 0 => rest = &after[index + 1..],
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What [`dedupe`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DedupeStats {
    pub input: usize,
    pub kept: usize,
    /// Extra copies of a text with one label (the first copy is kept).
    pub duplicates_removed: usize,
    /// Texts that occur with different labels: every copy is dropped.
    pub conflicting_texts: usize,
    pub conflicting_examples_removed: usize,
}

/// Keeps one example per distinct text (after trimming), in first-seen order; texts
/// with conflicting labels are dropped altogether. Run it before splitting, so no text
/// is in both train and test.
pub fn dedupe(examples: Vec<Example>) -> (Vec<Example>, DedupeStats) {
    let input = examples.len();
    let mut labels: HashMap<&str, (Label, bool, usize)> = HashMap::new();
    for example in &examples {
        let entry = labels
            .entry(example.text.trim())
            .or_insert((example.label, false, 0));
        entry.2 += 1;
        if entry.0 != example.label {
            entry.1 = true;
        }
    }
    let conflicting_texts = labels.values().filter(|(_, conflict, _)| *conflict).count();
    let conflicting_examples_removed: usize = labels
        .values()
        .filter(|(_, conflict, _)| *conflict)
        .map(|(_, _, count)| count)
        .sum();
    let keep: HashMap<String, bool> = labels
        .into_iter()
        .map(|(text, (_, conflict, _))| (text.to_owned(), !conflict))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut kept = Vec::new();
    for example in examples {
        let text = example.text.trim();
        if keep.get(text).copied().unwrap_or(false) && seen.insert(text.to_owned()) {
            kept.push(example);
        }
    }
    let stats = DedupeStats {
        input,
        kept: kept.len(),
        duplicates_removed: input - kept.len() - conflicting_examples_removed,
        conflicting_texts,
        conflicting_examples_removed,
    };
    (kept, stats)
}

/// Shares of train and dev; test gets the rest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitFractions {
    pub train: f64,
    pub dev: f64,
}

impl Default for SplitFractions {
    fn default() -> Self {
        SplitFractions {
            train: 0.8,
            dev: 0.1,
        }
    }
}

/// Train, dev and test parts of one data set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Splits {
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
    pub test: Vec<Example>,
}

/// Assigns each example by a seeded hash of its text: deterministic, independent of
/// row order, and stable for the old rows when rows are added.
pub fn split(examples: Vec<Example>, fractions: SplitFractions, seed: u64) -> Splits {
    let mut splits = Splits::default();
    for example in examples {
        let position = split_position(&example.text, seed);
        if position < fractions.train {
            splits.train.push(example);
        } else if position < fractions.train + fractions.dev {
            splits.dev.push(example);
        } else {
            splits.test.push(example);
        }
    }
    splits
}

/// A number in [0, 1) from the text and the seed.
fn split_position(text: &str, seed: u64) -> f64 {
    let hash = text
        .trim()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325 ^ finalize(seed), |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    (finalize(hash) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoticon_codes() {
        assert_eq!(strip_emoticon_codes("好[泪]吧[哈哈]"), "好吧");
        assert_eq!(strip_emoticon_codes("[good] ok"), " ok");
        assert_eq!(strip_emoticon_codes("a [not a code] b"), "a [not a code] b");
        assert_eq!(strip_emoticon_codes("[[泪]"), "[");
        assert_eq!(strip_emoticon_codes("[]["), "[][");
        assert_eq!(
            strip_emoticon_codes("[很长很长很长很长很长]"),
            "[很长很长很长很长很长]"
        );
    }

    #[test]
    fn languages() {
        assert_eq!(guess_lang("很好吃 ok"), "zh");
        assert_eq!(guess_lang("great phone"), "en");
        assert_eq!(guess_lang("iPhone 很好"), "zh");
    }
}

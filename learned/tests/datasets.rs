//! Dataset readers on small handwritten samples of each shared format, dedupe and
//! split; and, when ../shared is present, the real files against their README counts.

mod common;

use std::path::Path;

use vigil_core::Label;
use vigil_learned::{
    DatasetFormat, Example, LearnedError, SplitFractions, dedupe, detect_format, parse_dataset,
    read_dataset, split, strip_emoticon_codes,
};

fn parse(file_name: &str, content: &str) -> vigil_learned::Dataset {
    let format = detect_format(Path::new(file_name), content).unwrap();
    parse_dataset(file_name, content, &format)
}

fn texts(dataset: &vigil_learned::Dataset) -> Vec<&str> {
    dataset.examples.iter().map(|e| e.text.as_str()).collect()
}

#[test]
fn uci_sentences() {
    // Literal quotes, a U+0085 inside a sentence (not a line break), a row without a
    // tab and one with a bad label.
    let content = "Good case, \"Excellent\" value.\t1\n\
                   It broke\u{85}after a week.\t0\n\
                   no label here\n\
                   Weird label\t7\n\n";
    let dataset = parse("amazon_cells_labelled.txt", content);
    assert_eq!(dataset.format, DatasetFormat::UciSentences);
    assert_eq!(
        texts(&dataset),
        [
            "Good case, \"Excellent\" value.",
            "It broke\u{85}after a week."
        ]
    );
    assert_eq!(dataset.examples[0].label, Label::Positive);
    assert_eq!(dataset.examples[1].label, Label::Negative);
    assert!(dataset.examples.iter().all(|e| e.polar_only));
    assert_eq!(dataset.examples[0].lang.as_deref(), Some("en"));
    assert_eq!(dataset.bad_rows, 2);
    assert_eq!(dataset.bad_row_samples[0].line, 3);
    assert!(dataset.bad_row_samples[1].reason.contains("unknown label"));
}

#[test]
fn sst2_tsv() {
    let content = "sentence\tlabel\nit 's a charming journey . \t1\nunflinchingly bleak \t0\n";
    let dataset = parse("dev.tsv", content);
    assert_eq!(
        texts(&dataset),
        ["it 's a charming journey .", "unflinchingly bleak"]
    );
    assert_eq!(
        dataset.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
        [Label::Positive, Label::Negative]
    );
}

#[test]
fn tweeteval_is_three_class_and_unquoted() {
    let content = "label\ttext\n\
                   1\tDark Souls 3 April Launch Date Confirmed \n\
                   2\t\"National hot dog day... Sounds like a Friday night.\" \n\
                   0\t\"unbalanced quote stays literal\n\
                   0\tWhen girls become bandwagon fans @user\n";
    let dataset = parse("val.filtered.tsv", content);
    match &dataset.format {
        DatasetFormat::Table(table) => assert!(!table.quoted),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        dataset.examples.iter().map(|e| e.label).collect::<Vec<_>>(),
        [
            Label::Neutral,
            Label::Positive,
            Label::Negative,
            Label::Negative
        ]
    );
    assert_eq!(
        dataset.examples[1].text,
        "\"National hot dog day... Sounds like a Friday night.\""
    );
    assert_eq!(dataset.examples[2].text, "\"unbalanced quote stays literal");
    assert!(dataset.examples.iter().all(|e| !e.polar_only));
}

#[test]
fn waimai_csv_with_quotes() {
    let content = "label,review\n1,很快，好吃，味道足，量大\n0,\"送餐慢, 菜凉了\"\n0,\"他说\"\"再也不点\"\"\"\n2x,坏标签\n";
    let dataset = parse("waimai_10k.csv", content);
    assert_eq!(
        texts(&dataset),
        [
            "很快，好吃，味道足，量大",
            "送餐慢, 菜凉了",
            "他说\"再也不点\""
        ]
    );
    assert_eq!(dataset.examples[0].lang.as_deref(), Some("zh"));
    assert_eq!(dataset.bad_rows, 1);
}

#[test]
fn online_shopping_with_category_bom_and_empty_review() {
    let content = "\u{FEFF}cat,label,review\n平板,1,\u{FEFF}很不错。。。很好的平板\n蒙牛,0,\n洗发水,0,味道太冲\n衣服,1\n";
    let dataset = parse("online_shopping_10_cats.csv", content);
    assert_eq!(texts(&dataset), ["很不错。。。很好的平板", "味道太冲"]);
    assert_eq!(dataset.bad_rows, 2);
    let reasons: Vec<&str> = dataset
        .bad_row_samples
        .iter()
        .map(|b| b.reason.as_str())
        .collect();
    assert_eq!(reasons, ["empty text", "2 fields, the header has 3"]);
    assert_eq!(dataset.bad_row_samples[1].line, 5);
}

#[test]
fn weibo_is_quoted_tsv_with_emoticon_codes_stripped() {
    let content = "label\tx_valid\n\
                   1\t恭喜恭喜！！ //@WiWide迈外迪张程:[嘻嘻]\n\
                   0\t\"他说\"\"好\"\"[衰]\"\n\
                   0\t[泪][泪]\n\
                   1\t\"never closed\n";
    let dataset = parse("dev.csv", content);
    assert_eq!(
        texts(&dataset),
        ["恭喜恭喜！！ //@WiWide迈外迪张程:", "他说\"好\""]
    );
    // Only emoticons: empty once stripped; the unterminated quote is a bad row too.
    assert_eq!(dataset.bad_rows, 2);
    assert!(
        dataset
            .bad_row_samples
            .iter()
            .any(|b| b.reason == "unterminated quoted field")
    );
}

#[test]
fn jsonl_rows() {
    let content = r#"{"text": "love it", "label": "positive", "lang": "en"}
{"text": "就这样吧", "label": "neutral", "id": 7}
{"text": "broken", "label": "Negative"}
{"text": "bad label", "label": "meh"}
{"text": "numeric", "label": "1"}
not json
{"label": "positive"}
"#;
    let dataset = parse("extra.jsonl", content);
    assert_eq!(dataset.format, DatasetFormat::Jsonl);
    assert_eq!(texts(&dataset), ["love it", "就这样吧", "broken"]);
    assert_eq!(dataset.examples[1].lang.as_deref(), Some("zh"));
    assert_eq!(dataset.examples[2].label, Label::Negative);
    // A neutral example is present, so none is polar-only.
    assert!(dataset.examples.iter().all(|e| !e.polar_only));
    assert_eq!(dataset.bad_rows, 4);

    let polar = parse("x.jsonl", "{\"text\":\"a\",\"label\":\"positive\"}\n");
    assert!(polar.examples[0].polar_only);
}

#[test]
fn unrecognised_formats_and_missing_files_are_errors() {
    let error = detect_format(Path::new("x.csv"), "a,b,c\n1,2,3\n").unwrap_err();
    assert!(matches!(error, LearnedError::Dataset { .. }));
    assert!(
        error.to_string().contains("unrecognised data format"),
        "{error}"
    );
    assert!(detect_format(Path::new("x.txt"), "").is_err());
    assert!(matches!(
        read_dataset(Path::new("/nonexistent/data.tsv")),
        Err(LearnedError::Io { .. })
    ));
}

#[test]
fn invalid_utf8_rows_are_bad_rows() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("data.txt");
    std::fs::write(&path, b"fine text\t1\nbroken \xff\xfe text\t0\n").unwrap();
    let dataset = read_dataset(&path).unwrap();
    assert_eq!(dataset.examples.len(), 1);
    assert_eq!(dataset.bad_rows, 1);
    assert_eq!(dataset.bad_row_samples[0].reason, "invalid UTF-8");
    assert_eq!(dataset.name, "data.txt");
}

#[test]
fn dedupe_drops_copies_and_conflicts() {
    let examples = vec![
        Example::new("same", Label::Positive),
        Example::new("other", Label::Negative),
        Example::new("same ", Label::Positive),
        Example::new("conflict", Label::Positive),
        Example::new("conflict", Label::Negative),
        Example::new("conflict", Label::Negative),
    ];
    let (kept, stats) = dedupe(examples);
    assert_eq!(
        kept.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
        ["same", "other"]
    );
    assert_eq!(stats.input, 6);
    assert_eq!(stats.kept, 2);
    assert_eq!(stats.duplicates_removed, 1);
    assert_eq!(stats.conflicting_texts, 1);
    assert_eq!(stats.conflicting_examples_removed, 3);
}

#[test]
fn split_is_seeded_deterministic_and_disjoint() {
    let examples: Vec<Example> = (0..5_000)
        .map(|index| Example::new(format!("text number {index}"), Label::Positive))
        .collect();
    let first = split(examples.clone(), SplitFractions::default(), 1);
    let mut reversed = examples.clone();
    reversed.reverse();
    let again = split(reversed, SplitFractions::default(), 1);
    let sorted = |part: &[Example]| {
        let mut texts: Vec<String> = part.iter().map(|e| e.text.clone()).collect();
        texts.sort();
        texts
    };
    // Independent of order.
    assert_eq!(sorted(&first.train), sorted(&again.train));
    assert_eq!(sorted(&first.test), sorted(&again.test));
    // Roughly 80/10/10.
    assert!(
        (3_850..=4_150).contains(&first.train.len()),
        "{}",
        first.train.len()
    );
    assert!(
        (420..=580).contains(&first.dev.len()),
        "{}",
        first.dev.len()
    );
    assert_eq!(
        first.train.len() + first.dev.len() + first.test.len(),
        5_000
    );
    // Another seed gives another split.
    let other = split(examples, SplitFractions::default(), 2);
    assert_ne!(sorted(&first.test), sorted(&other.test));
}

/// The real files: counts from ../shared/data/README.md (rows, duplicates, conflicts).
#[test]
fn shared_files_read_as_documented() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let sentiment = data.join("sentiment");
    // (file, rows the README gives, bad rows we expect, neutral examples)
    let files: [(&str, usize, usize, usize); 9] = [
        (
            "en/uci_sentiment_labelled_sentences/amazon_cells_labelled.txt",
            1_000,
            0,
            0,
        ),
        (
            "en/uci_sentiment_labelled_sentences/yelp_labelled.txt",
            1_000,
            0,
            0,
        ),
        (
            "en/uci_sentiment_labelled_sentences/imdb_labelled.txt",
            1_000,
            0,
            0,
        ),
        ("en/glue_sst2/dev.tsv", 872, 0, 0),
        ("en/tweeteval_sentiment/val.filtered.tsv", 1_910, 0, 835),
        ("en/tweeteval_sentiment/test.filtered.tsv", 11_963, 0, 5_757),
        ("zh/chinesenlpcorpus/waimai_10k.csv", 11_987, 0, 0),
        (
            "zh/chinesenlpcorpus/online_shopping_10_cats.no_hotel_book_computer.csv",
            44_931,
            1,
            0,
        ),
        // Posts made of emoticon codes only are empty once the codes are stripped.
        ("zh/weibo_senti_100k_split/dev.csv", 11_999, 72, 0),
    ];
    for (file, rows, bad, neutral) in files {
        let dataset = read_dataset(&sentiment.join(file)).unwrap();
        println!("{}", dataset.summary());
        assert_eq!(dataset.examples.len() + dataset.bad_rows, rows, "{file}");
        assert_eq!(
            dataset.bad_rows, bad,
            "{file}: {:?}",
            dataset.bad_row_samples
        );
        let neutrals = dataset
            .examples
            .iter()
            .filter(|e| e.label == Label::Neutral)
            .count();
        assert_eq!(neutrals, neutral, "{file}");
        if file.contains("weibo") {
            assert!(
                dataset
                    .examples
                    .iter()
                    .all(|e| strip_emoticon_codes(&e.text) == e.text)
            );
        }
    }

    // README: waimai has 7 duplicated texts, all with conflicting labels.
    let waimai = read_dataset(&sentiment.join("zh/chinesenlpcorpus/waimai_10k.csv")).unwrap();
    let (_, stats) = dedupe(waimai.examples);
    assert_eq!(stats.conflicting_texts, 7);
}

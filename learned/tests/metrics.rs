//! Metrics against confusion matrices computed by hand.

use vigil_core::Label::{self, Negative, Neutral, Positive};
use vigil_learned::{Evaluation, expected_calibration_error};

fn pairs(counts: &[(Label, Label, usize)]) -> Vec<(Label, Label)> {
    counts
        .iter()
        .flat_map(|&(gold, predicted, count)| std::iter::repeat_n((gold, predicted), count))
        .collect()
}

fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "{actual} is not {expected}"
    );
}

#[test]
fn three_class_by_hand() {
    // gold \ predicted   neg  neu  pos
    // negative             5    2    1
    // neutral              1    6    3
    // positive             0    2    8
    let evaluation = Evaluation::three_class(pairs(&[
        (Negative, Negative, 5),
        (Negative, Neutral, 2),
        (Negative, Positive, 1),
        (Neutral, Negative, 1),
        (Neutral, Neutral, 6),
        (Neutral, Positive, 3),
        (Positive, Neutral, 2),
        (Positive, Positive, 8),
    ]));
    assert_eq!(
        evaluation.confusion,
        vec![vec![5, 2, 1], vec![1, 6, 3], vec![0, 2, 8]]
    );
    assert_eq!(evaluation.total, 28);
    close(evaluation.accuracy, 19.0 / 28.0);

    // negative: P = 5/6, R = 5/8, F1 = 2·(5/6)(5/8)/((5/6)+(5/8)) = 5/7
    // neutral:  P = 6/10, R = 6/10, F1 = 0.6
    // positive: P = 8/12, R = 8/10, F1 = 2·(2/3)(4/5)/((2/3)+(4/5)) = 8/11
    let negative = &evaluation.per_class[0];
    close(negative.precision, 5.0 / 6.0);
    close(negative.recall, 5.0 / 8.0);
    close(negative.f1, 5.0 / 7.0);
    assert_eq!((negative.support, negative.predicted), (8, 6));
    close(evaluation.per_class[1].f1, 0.6);
    close(evaluation.per_class[2].precision, 8.0 / 12.0);
    close(evaluation.per_class[2].f1, 8.0 / 11.0);
    close(evaluation.macro_f1, (5.0 / 7.0 + 0.6 + 8.0 / 11.0) / 3.0);
}

#[test]
fn binary_and_absent_classes() {
    // Binary: 40 TN-ish, 10 wrong each way, 40 right.
    let evaluation = Evaluation::binary(pairs(&[
        (Negative, Negative, 40),
        (Negative, Positive, 10),
        (Positive, Negative, 10),
        (Positive, Positive, 40),
        // Not in the class list: skipped, not counted.
        (Positive, Neutral, 3),
    ]));
    assert_eq!(evaluation.total, 100);
    assert_eq!(evaluation.skipped, 3);
    close(evaluation.accuracy, 0.8);
    close(evaluation.macro_f1, 0.8);

    // Three-class metrics on binary gold: neutral has no support and does not enter the
    // macro average; predicting it costs recall of the others.
    let evaluation = Evaluation::three_class(pairs(&[
        (Negative, Negative, 3),
        (Negative, Neutral, 1),
        (Positive, Positive, 4),
    ]));
    close(evaluation.accuracy, 7.0 / 8.0);
    let neutral = &evaluation.per_class[1];
    assert_eq!((neutral.support, neutral.predicted), (0, 1));
    close(neutral.precision, 0.0);
    close(neutral.f1, 0.0);
    // negative: P 1, R 3/4 → F1 6/7; positive: P 1, R 1 → F1 1.
    close(evaluation.macro_f1, (6.0 / 7.0 + 1.0) / 2.0);

    let empty = Evaluation::three_class(Vec::new());
    assert_eq!(empty.total, 0);
    close(empty.accuracy, 0.0);
    close(empty.macro_f1, 0.0);
}

#[test]
fn serialises_to_json_and_renders_a_table() {
    let evaluation = Evaluation::three_class(pairs(&[
        (Negative, Negative, 2),
        (Neutral, Positive, 1),
        (Positive, Positive, 1),
    ]));
    let json = serde_json::to_value(&evaluation).unwrap();
    assert_eq!(
        json["classes"],
        serde_json::json!(["negative", "neutral", "positive"])
    );
    assert_eq!(json["confusion"][1][2], 1);
    assert_eq!(json["per_class"][0]["label"], "negative");
    assert_eq!(json["total"], 4);
    let back: Evaluation = serde_json::from_value(json).unwrap();
    assert_eq!(back, evaluation);

    let table = evaluation.to_table();
    assert!(table.starts_with("n=4 accuracy=0.7500"), "{table}");
    assert!(table.contains("negative"), "{table}");
    let confusion_row = table
        .lines()
        .rfind(|line| line.starts_with("neutral"))
        .unwrap();
    assert_eq!(
        confusion_row.split_whitespace().collect::<Vec<_>>(),
        ["neutral", "0", "0", "1"]
    );
}

#[test]
fn expected_calibration_error_by_hand() {
    // Two bins of 10: confidences 0.25 (2 of 4 right) and 0.95 (6 of 6 right).
    // Bin [0.2, 0.3): |0.5 − 0.25| = 0.25, weight 4/10; bin [0.9, 1.0]: |1 − 0.95| =
    // 0.05, weight 6/10. ECE = 0.1 + 0.03 = 0.13.
    let samples = [
        (0.25, true),
        (0.25, true),
        (0.25, false),
        (0.25, false),
        (0.95, true),
        (0.95, true),
        (0.95, true),
        (0.95, true),
        (0.95, true),
        (0.95, true),
    ];
    let ece = expected_calibration_error(samples, 10);
    assert!((ece - 0.13).abs() < 1e-6, "{ece}");
    // Confidence 1.0 falls in the last bin; NaN is ignored.
    let ece = expected_calibration_error([(1.0, true), (f32::NAN, false)], 10);
    assert!(ece.abs() < 1e-9);
    assert_eq!(expected_calibration_error(std::iter::empty(), 15), 0.0);
}

//! `vigil classifier eval` end to end through the binary: formats, figures against
//! hand-made files with known answers, and bad input.

mod support;

use support::{run, stderr, stdout};

/// Texts the lexicon gets right or wrong for sure, so the expected figures are exact.
fn write_three_class(dir: &std::path::Path) -> std::path::PathBuf {
    let lines = [
        ("I love this kettle, it is wonderful", "positive"),
        ("Great service, excellent and happy", "positive"),
        ("This is terrible, awful and broken", "negative"),
        ("I hate it, worst purchase ever", "negative"),
        ("The kettle holds one litre", "neutral"),
        // Wrong on purpose: gold neutral, the text is plainly positive.
        ("What a fantastic, amazing day", "neutral"),
    ];
    let text: String = lines
        .iter()
        .map(|(text, label)| format!("{{\"text\": \"{text}\", \"label\": \"{label}\"}}\n"))
        .collect();
    let path = dir.join("three.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn eval_prints_metrics_in_every_format() {
    let temp = tempfile::tempdir().unwrap();
    let file = write_three_class(temp.path());
    let file_arg = file.to_str().unwrap();

    let out = run(&["classifier", "eval", file_arg, "--format", "jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(result["task"], "three-class");
    assert_eq!(result["backend"], "lexicon");
    let evaluation = &result["evaluation"];
    assert_eq!(evaluation["total"], 6);
    // 5 of 6 right: the fantastic day is predicted positive against a neutral gold label.
    assert!(
        (evaluation["accuracy"].as_f64().unwrap() - 5.0 / 6.0).abs() < 1e-9,
        "{result}"
    );
    assert_eq!(
        evaluation["confusion"],
        serde_json::json!([[2, 0, 0], [0, 1, 1], [0, 0, 2]])
    );

    let out = run(&["classifier", "eval", file_arg, "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "header + one row per class: {csv}");
    assert!(lines[0].starts_with("dataset,backend,version,task,n,accuracy,macro_f1,class"));
    assert!(
        lines[2].contains(",neutral,") && lines[2].ends_with(",0,1,1"),
        "{csv}"
    );

    let out = run(&["classifier", "eval", file_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("accuracy=0.8333"), "{}", stdout(&out));
    assert!(stdout(&out).contains("gold\\pred"), "{}", stdout(&out));
}

#[test]
fn binary_sets_are_scored_by_the_sign_of_the_score() {
    let temp = tempfile::tempdir().unwrap();
    // The UCI layout: text<TAB>0|1, no header.
    let path = temp.path().join("reviews_labelled.txt");
    std::fs::write(
        &path,
        "Wonderful food and great staff.\t1\nThe soup was cold and awful.\t0\nTerrible place, I hate it.\t0\n",
    )
    .unwrap();
    let out = run(&[
        "classifier",
        "eval",
        path.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(result["task"], "binary");
    assert_eq!(
        result["evaluation"]["classes"],
        serde_json::json!(["negative", "positive"])
    );
    assert_eq!(result["evaluation"]["accuracy"], 1.0);
}

#[test]
fn bad_files_are_clear_errors() {
    let temp = tempfile::tempdir().unwrap();
    let missing = temp.path().join("missing.jsonl");
    let out = run(&["classifier", "eval", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.jsonl"), "{}", stderr(&out));

    let garbage = temp.path().join("garbage.jsonl");
    std::fs::write(&garbage, "not json\n{\"text\": 3}\n").unwrap();
    let out = run(&["classifier", "eval", garbage.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no labelled examples"),
        "{}",
        stderr(&out)
    );

    let out = run(&["classifier", "eval", "x.jsonl", "--backend", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

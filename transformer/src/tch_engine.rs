//! The libtorch engine: rust-bert's BERT and RoBERTa networks, run by libtorch (tch) on
//! the CPU. Weights come straight from the model directory's `model.safetensors`, read
//! into memory and copied into the network's variables by name: nothing is converted to
//! rust-bert's `rust_model.ot` on disk, so a read-only model directory (a system
//! site-packages, a container image) works and there is no cache to go stale. Texts
//! are tokenized by the shared [`TextTokenizer`], padded and pooled by the shared code
//! in `encoder.rs`, exactly as the candle engine does, so the two engines see the same
//! ids and differ only in the network's arithmetic.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use rust_bert::bert::{BertConfig, BertEmbeddings, BertForSequenceClassification, BertModel};
use rust_bert::roberta::RobertaForSequenceClassification;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::encoder::{
    DEFAULT_BATCH_SIZE, SentenceEncoder, SequenceClassifierEngine, length_sorted_batches,
    mean_pool, softmax,
};
use crate::error::{Result, TransformerError};
use crate::model_dir::{Architecture, ModelDir, ModelKind, Pooling};
use crate::tokenize::{PaddedBatch, TextTokenizer, TokenizedText, pad_batch};

const ENGINE: &str = "rust-bert";

pub(crate) fn engine_error(error: impl std::fmt::Display) -> TransformerError {
    TransformerError::Engine {
        engine: ENGINE,
        message: error.to_string(),
    }
}

/// rust-bert's `BertConfig` from `config.json`, with the fields Hugging Face configs may
/// leave out filled in (rust-bert requires them; dropout and initialisation do not
/// matter for inference).
pub(crate) fn rust_bert_config(model: &ModelDir) -> Result<BertConfig> {
    let type_vocab_size = match model.architecture {
        Architecture::Bert => 2,
        Architecture::Roberta => 1,
    };
    let defaults = [
        ("hidden_act", Value::from("gelu")),
        ("attention_probs_dropout_prob", Value::from(0.1)),
        ("hidden_dropout_prob", Value::from(0.1)),
        ("initializer_range", Value::from(0.02)),
        ("type_vocab_size", Value::from(type_vocab_size)),
    ];
    let mut config = model.config.clone();
    if let Some(object) = config.as_object_mut() {
        for (key, value) in defaults {
            object.entry(key).or_insert(value);
        }
    }
    let config: BertConfig = serde_json::from_value(config).map_err(|error| {
        TransformerError::config(
            model.config_path(),
            format!("for the rust-bert engine: {error}"),
        )
    })?;
    // rust-bert builds every LayerNorm with eps 1e-12 (BERT's value); RoBERTa checkpoints
    // say 1e-5. With hidden-state variances of order one the outputs differ in about the
    // sixth digit, so such checkpoints are accepted with a note in the log.
    let layer_norm_eps = model.config.get("layer_norm_eps").and_then(Value::as_f64);
    if let Some(eps) = layer_norm_eps.filter(|eps| (eps - 1e-12).abs() > 1e-15) {
        tracing::info!(
            layer_norm_eps = eps,
            dir = %model.dir.display(),
            "rust-bert uses LayerNorm eps 1e-12; outputs may differ from the reference in the last digits"
        );
    }
    Ok(config)
}

/// What both libtorch models share: tokenizer, padding id, identity.
struct Common {
    tokenizer: TextTokenizer,
    pad_id: u32,
    model_id: String,
}

fn load_common(model: &ModelDir) -> Result<Common> {
    let weights_path = model.weights_path();
    let bytes = std::fs::read(&weights_path).map_err(TransformerError::io(&weights_path))?;
    let digest = hex::encode(Sha256::digest(&bytes));
    let tokenizer = TextTokenizer::from_file(&model.tokenizer_path(), model.max_seq_length)?;
    Ok(Common {
        tokenizer,
        pad_id: model.pad_id(),
        model_id: format!("{}@{}", model.name, &digest[..12]),
    })
}

/// Copies the tensors of `model.safetensors` into the variables the network created,
/// by name. A variable missing from the file, or of another shape, is an error; tensors
/// the network does not use (`embeddings.position_ids`, a pooler the encoder skips) are
/// ignored. `prefixes` are tried in order before each name (sentence-transformers
/// folders sometimes keep BERT's `bert.` prefix).
fn load_weights(var_store: &VarStore, model: &ModelDir, prefixes: &[&str]) -> Result<()> {
    let candidates = |name: &str| -> Vec<String> {
        prefixes
            .iter()
            .map(|prefix| format!("{prefix}{name}"))
            .collect()
    };
    load_weights_with(var_store, model, &candidates, &|_| false).map(drop)
}

/// [`load_weights`] with the stored names to try for each variable given by
/// `candidates`, and the variables that may be absent from the file (left as the
/// network initialised them) chosen by `optional`. Returns the names left as they were.
pub(crate) fn load_weights_with(
    var_store: &VarStore,
    model: &ModelDir,
    candidates: &dyn Fn(&str) -> Vec<String>,
    optional: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>> {
    let weights_path = model.weights_path();
    let weights_error = |message: String| {
        TransformerError::model_dir(&model.dir, format!("model.safetensors: {message}"))
    };
    let stored: HashMap<String, Tensor> = Tensor::read_safetensors(&weights_path)
        .map_err(|error| weights_error(error.to_string()))?
        .into_iter()
        .collect();
    let mut variables: Vec<(String, Tensor)> = var_store.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    let mut missing = Vec::new();
    let mut initialised = Vec::new();
    tch::no_grad(|| -> Result<()> {
        for (name, variable) in &mut variables {
            let Some(source) = candidates(name)
                .iter()
                .find_map(|candidate| stored.get(candidate))
            else {
                if optional(name) {
                    initialised.push(name.clone());
                } else {
                    missing.push(name.clone());
                }
                continue;
            };
            if source.size() != variable.size() {
                return Err(weights_error(format!(
                    "{name} has shape {:?}, the configuration makes it {:?}",
                    source.size(),
                    variable.size()
                )));
            }
            // `copy_` also converts half-precision weights to the variable's f32.
            variable
                .f_copy_(source)
                .map_err(|error| weights_error(format!("{name}: {error}")))?;
        }
        Ok(())
    })?;
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(5).map(String::as_str).collect();
        return Err(weights_error(format!(
            "{} tensor(s) missing, e.g. {}",
            missing.len(),
            shown.join(", ")
        )));
    }
    Ok(initialised)
}

fn int64_tensor(values: &[u32], rows: usize, columns: usize) -> Tensor {
    let values: Vec<i64> = values.iter().map(|&value| i64::from(value)).collect();
    Tensor::from_slice(&values).view([rows as i64, columns as i64])
}

/// The network's inputs: ids, token type ids, attention mask.
pub(crate) fn input_tensors(batch: &PaddedBatch) -> (Tensor, Tensor, Tensor) {
    let (rows, columns) = (batch.rows, batch.columns);
    (
        int64_tensor(&batch.ids, rows, columns),
        int64_tensor(&batch.type_ids, rows, columns),
        int64_tensor(&batch.mask, rows, columns),
    )
}

/// RoBERTa's position ids as Hugging Face computes them: real tokens count up from
/// `pad_id + 1`, padding sits at `pad_id`. Computed here because rust-bert assumes the
/// padding id is 1.
fn roberta_position_ids(batch: &PaddedBatch, pad_id: u32) -> Tensor {
    let mut positions = Vec::with_capacity(batch.ids.len());
    for row in batch.ids.chunks(batch.columns.max(1)) {
        let mut position = i64::from(pad_id);
        for &id in row {
            if id == pad_id {
                positions.push(i64::from(pad_id));
            } else {
                position += 1;
                positions.push(position);
            }
        }
    }
    Tensor::from_slice(&positions).view([batch.rows as i64, batch.columns as i64])
}

/// Runs `forward` on a libtorch network, turning a panic inside tch (its non-`f_`
/// methods, which rust-bert uses, panic on a libtorch error) into an engine error, so
/// one bad batch cannot take down the caller's thread.
fn guarded<T>(forward: impl FnOnce() -> Result<T>) -> Result<T> {
    caught(|| tch::no_grad(forward))
}

/// Runs `action`, turning a panic inside tch into an engine error (gradients stay on,
/// for training).
pub(crate) fn caught<T>(action: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(action)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("libtorch failed");
        Err(engine_error(message))
    })
}

/// Runs `forward` over length-sorted batches of the tokenized texts and returns one
/// output per text, in input order. Batches run one after the other: libtorch already
/// spreads each operation over its own thread pool (all cores).
fn run_batched<T>(
    tokenized: &[TokenizedText],
    batch_size: usize,
    pad_id: u32,
    forward: &dyn Fn(&PaddedBatch) -> Result<Vec<T>>,
) -> Result<Vec<T>> {
    let lengths: Vec<usize> = tokenized.iter().map(|text| text.ids.len()).collect();
    let mut outputs: Vec<Option<T>> = (0..tokenized.len()).map(|_| None).collect();
    for positions in length_sorted_batches(&lengths, batch_size) {
        let texts: Vec<&TokenizedText> = positions.iter().map(|&i| &tokenized[i]).collect();
        let results = forward(&pad_batch(&texts, pad_id))?;
        if results.len() != positions.len() {
            return Err(engine_error(format!(
                "{} outputs for a batch of {}",
                results.len(),
                positions.len()
            )));
        }
        for (position, result) in positions.into_iter().zip(results) {
            outputs[position] = Some(result);
        }
    }
    outputs
        .into_iter()
        .map(|output| output.ok_or_else(|| engine_error("a text got no output")))
        .collect()
}

/// tch's tensors are `Send` but not `Sync`, so a network is shared between threads
/// behind a mutex. One forward pass at a time costs nothing: each already uses every
/// core. The network holds no state a panicking pass could leave half-changed, so a
/// poisoned lock is simply taken over.
struct Shared<T>(Mutex<T>);

impl<T> Shared<T> {
    fn new(value: T) -> Self {
        Shared(Mutex::new(value))
    }

    fn with<R>(&self, action: impl FnOnce(&T) -> R) -> R {
        let guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        action(&guard)
    }
}

/// Sentence embeddings with libtorch (all-MiniLM-L6-v2 and other BERT-layout
/// sentence-transformers folders with mean pooling).
pub struct RustBertSentenceEncoder {
    model: Shared<BertModel<BertEmbeddings>>,
    // Owns the variables the network's layers point into.
    _var_store: VarStore,
    tokenizer: TextTokenizer,
    pooling: Pooling,
    dimension: usize,
    pad_id: u32,
    batch_size: usize,
    model_id: String,
}

impl RustBertSentenceEncoder {
    /// Loads a sentence-transformers folder (`config.json`, `model.safetensors`,
    /// `tokenizer.json`, optional `modules.json`, `sentence_bert_config.json`,
    /// `1_Pooling/config.json`), as `CandleSentenceEncoder::load` does.
    pub fn load(dir: &Path) -> Result<RustBertSentenceEncoder> {
        let model = ModelDir::open(dir)?;
        let ModelKind::SentenceEmbedding(pooling) = model.kind else {
            return Err(TransformerError::config(
                model.config_path(),
                "this is a sequence-classification checkpoint, not a sentence-embedding model \
                 (load it with RustBertSequenceClassifier)",
            ));
        };
        let config = rust_bert_config(&model)?;
        let common = load_common(&model)?;
        let var_store = VarStore::new(Device::Cpu);
        // No pooler: sentence-transformers pools the token states itself.
        let network =
            BertModel::<BertEmbeddings>::new_with_optional_pooler(var_store.root(), &config, false);
        load_weights(&var_store, &model, &["", "bert."])?;
        let dimension = usize::try_from(config.hidden_size)
            .map_err(|_| TransformerError::config(model.config_path(), "hidden_size < 0"))?;
        Ok(RustBertSentenceEncoder {
            model: Shared::new(network),
            _var_store: var_store,
            tokenizer: common.tokenizer,
            pooling,
            dimension,
            pad_id: common.pad_id,
            batch_size: DEFAULT_BATCH_SIZE,
            model_id: common.model_id,
        })
    }

    /// Texts per forward pass (at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// The maximum number of tokens per text, special tokens included.
    pub fn max_seq_length(&self) -> usize {
        self.tokenizer.max_length()
    }

    fn forward(&self, batch: &PaddedBatch) -> Result<Vec<Vec<f32>>> {
        let (ids, type_ids, mask) = input_tensors(batch);
        let states = self.model.with(|network| {
            guarded(|| {
                let output = network
                    .forward_t(
                        Some(&ids),
                        Some(&mask),
                        Some(&type_ids),
                        None,
                        None,
                        None,
                        None,
                        false,
                    )
                    .map_err(engine_error)?;
                let flat = output.hidden_state.f_reshape([-1]).map_err(engine_error)?;
                Vec::<f32>::try_from(&flat).map_err(engine_error)
            })
        })?;
        let per_row = batch.columns * self.dimension;
        if states.len() != batch.rows * per_row {
            return Err(engine_error(format!(
                "{} state values for a {}×{} batch of dimension {}",
                states.len(),
                batch.rows,
                batch.columns,
                self.dimension
            )));
        }
        Ok((0..batch.rows)
            .map(|row| {
                mean_pool(
                    &states[row * per_row..(row + 1) * per_row],
                    &batch.mask[row * batch.columns..(row + 1) * batch.columns],
                    self.dimension,
                    self.pooling.normalize,
                )
            })
            .collect())
    }
}

impl SentenceEncoder for RustBertSentenceEncoder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let tokenized = self.tokenizer.encode(texts)?;
        run_batched(&tokenized, self.batch_size, self.pad_id, &|batch| {
            self.forward(batch)
        })
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn engine(&self) -> &'static str {
        ENGINE
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}

enum ClassifierNetwork {
    /// `bert.*` (with `bert.pooler.dense`) + `classifier`.
    Bert(BertForSequenceClassification),
    /// `roberta.*` + `classifier.dense` / `classifier.out_proj` (RoBERTa, XLM-RoBERTa).
    Roberta(RobertaForSequenceClassification),
}

/// A Hugging Face sequence-classification checkpoint (BERT, RoBERTa, XLM-RoBERTa) run
/// with libtorch.
pub struct RustBertSequenceClassifier {
    network: Shared<ClassifierNetwork>,
    _var_store: VarStore,
    tokenizer: TextTokenizer,
    classes: usize,
    pad_id: u32,
    batch_size: usize,
    model_id: String,
}

impl RustBertSequenceClassifier {
    pub fn load(dir: &Path) -> Result<RustBertSequenceClassifier> {
        let model = ModelDir::open(dir)?;
        let ModelKind::SequenceClassification(labels) = &model.kind else {
            return Err(TransformerError::config(
                model.config_path(),
                "this is a sentence-embedding model, not a sequence-classification checkpoint",
            ));
        };
        let classes = labels.len();
        let config = rust_bert_config(&model)?;
        let common = load_common(&model)?;
        let var_store = VarStore::new(Device::Cpu);
        let network = match model.architecture {
            Architecture::Bert => BertForSequenceClassification::new(var_store.root(), &config)
                .map(ClassifierNetwork::Bert),
            Architecture::Roberta => {
                RobertaForSequenceClassification::new(var_store.root(), &config)
                    .map(ClassifierNetwork::Roberta)
            }
        }
        .map_err(|error| {
            TransformerError::config(
                model.config_path(),
                format!("for the rust-bert engine: {error}"),
            )
        })?;
        load_weights(&var_store, &model, &[""])?;
        Ok(RustBertSequenceClassifier {
            network: Shared::new(network),
            _var_store: var_store,
            tokenizer: common.tokenizer,
            classes,
            pad_id: common.pad_id,
            batch_size: DEFAULT_BATCH_SIZE,
            model_id: common.model_id,
        })
    }

    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    fn logits(&self, batch: &PaddedBatch) -> Result<Vec<Vec<f32>>> {
        let (ids, type_ids, mask) = input_tensors(batch);
        self.network.with(|network| {
            guarded(|| {
                let logits = match network {
                    ClassifierNetwork::Bert(model) => {
                        model
                            .forward_t(Some(&ids), Some(&mask), Some(&type_ids), None, None, false)
                            .logits
                    }
                    ClassifierNetwork::Roberta(model) => {
                        let positions = roberta_position_ids(batch, self.pad_id);
                        model
                            .forward_t(
                                Some(&ids),
                                Some(&mask),
                                Some(&type_ids),
                                Some(&positions),
                                None,
                                false,
                            )
                            .logits
                    }
                };
                Vec::<Vec<f32>>::try_from(&logits.to_kind(Kind::Float)).map_err(engine_error)
            })
        })
    }
}

impl SequenceClassifierEngine for RustBertSequenceClassifier {
    fn class_probabilities(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let tokenized = self.tokenizer.encode(texts)?;
        run_batched(&tokenized, self.batch_size, self.pad_id, &|batch| {
            self.logits(batch)?
                .iter()
                .map(|row| {
                    if row.len() == self.classes {
                        Ok(softmax(row))
                    } else {
                        Err(engine_error(format!(
                            "{} logits, the checkpoint has {} labels",
                            row.len(),
                            self.classes
                        )))
                    }
                })
                .collect()
        })
    }

    fn engine(&self) -> &'static str {
        ENGINE
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roberta_positions_skip_padding() {
        let batch = PaddedBatch {
            rows: 2,
            columns: 4,
            ids: vec![0, 7, 8, 2, 0, 2, 1, 1],
            type_ids: vec![0; 8],
            mask: vec![1, 1, 1, 1, 1, 1, 0, 0],
        };
        let positions = roberta_position_ids(&batch, 1);
        let values = Vec::<Vec<i64>>::try_from(&positions).unwrap();
        assert_eq!(values, vec![vec![2, 3, 4, 5], vec![2, 3, 1, 1]]);
    }
}

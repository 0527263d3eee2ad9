//! The pure-Rust engine: candle runs the network on the CPU, the Hugging Face
//! tokenizers crate reads `tokenizer.json`. No system libraries.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder, linear};
use candle_transformers::models::{bert, xlm_roberta};
use rayon::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::encoder::{
    DEFAULT_BATCH_SIZE, SentenceEncoder, SequenceClassifierEngine, length_sorted_batches,
    mean_pool, softmax,
};
use crate::error::{Result, TransformerError};
use crate::model_dir::{Architecture, ModelDir, ModelKind, Pooling};
use crate::tokenize::{PaddedBatch, TextTokenizer, TokenizedText, pad_batch};

const ENGINE: &str = "candle";

fn engine_error(error: impl std::fmt::Display) -> TransformerError {
    TransformerError::Engine {
        engine: ENGINE,
        message: error.to_string(),
    }
}

/// What both candle models share: weights read from `model.safetensors`, tokenizer,
/// padding id, identity.
struct Loaded {
    variables: VarBuilder<'static>,
    tokenizer: TextTokenizer,
    pad_id: u32,
    model_id: String,
}

fn load_common(model: &ModelDir) -> Result<Loaded> {
    let weights_path = model.weights_path();
    let bytes = std::fs::read(&weights_path).map_err(TransformerError::io(&weights_path))?;
    let digest = hex::encode(Sha256::digest(&bytes));
    let variables = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)
        .map_err(|error| {
            TransformerError::model_dir(&model.dir, format!("model.safetensors: {error}"))
        })?;
    let tokenizer = TextTokenizer::from_file(&model.tokenizer_path(), model.max_seq_length)?;
    let pad_id = model.pad_id();
    Ok(Loaded {
        variables,
        tokenizer,
        pad_id,
        model_id: format!("{}@{}", model.name, &digest[..12]),
    })
}

/// Parses `config.json` into an engine configuration type, naming the file on error.
fn engine_config<T: serde::de::DeserializeOwned>(
    model: &ModelDir,
    defaults: &[(&str, Value)],
) -> Result<T> {
    let mut config = model.config.clone();
    if let Some(object) = config.as_object_mut() {
        for (key, value) in defaults {
            object.entry(*key).or_insert_with(|| value.clone());
        }
    }
    serde_json::from_value(config).map_err(|error| {
        TransformerError::config(
            model.config_path(),
            format!("for the candle engine: {error}"),
        )
    })
}

fn input_tensors(batch: &PaddedBatch) -> Result<(Tensor, Tensor, Tensor)> {
    let shape = (batch.rows, batch.columns);
    let tensor =
        |values: &[u32]| Tensor::from_slice(values, shape, &Device::Cpu).map_err(engine_error);
    Ok((
        tensor(&batch.ids)?,
        tensor(&batch.type_ids)?,
        tensor(&batch.mask)?,
    ))
}

/// Whether batches run concurrently by default: only when `CANDLE_NUM_THREADS=1`.
///
/// candle splits large element-wise operations (GELU, softmax, additions) over its own
/// spinning barrier pool of `CANDLE_NUM_THREADS` threads (default: all cores). Two
/// batches in flight then fight over that pool, and on a busy machine its spinning
/// burns a core: measured on 2 cores, 65–70 texts per CPU-second with the pool against
/// 110 with `CANDLE_NUM_THREADS=1`. With the pool off, concurrent batches are what keeps
/// both cores busy during element-wise work (see `RESULTS.md`).
pub(crate) fn parallel_batches_by_default() -> bool {
    std::env::var("CANDLE_NUM_THREADS").is_ok_and(|value| value.trim() == "1")
}

/// Runs `forward` over length-sorted batches of the tokenized texts and returns one
/// output per text, in input order. With `parallel`, batches run concurrently on
/// rayon's global pool (the pool candle's matrix products use).
fn run_batched<T: Send>(
    tokenized: &[TokenizedText],
    batch_size: usize,
    pad_id: u32,
    parallel: bool,
    forward: &(dyn Fn(&PaddedBatch) -> Result<Vec<T>> + Sync),
) -> Result<Vec<T>> {
    let lengths: Vec<usize> = tokenized.iter().map(|text| text.ids.len()).collect();
    // In parallel, a call of a few texts is still split so every thread gets a batch.
    let batch_size = if parallel {
        batch_size.min(
            tokenized
                .len()
                .div_ceil(rayon::current_num_threads().max(1)),
        )
    } else {
        batch_size
    };
    let batches = length_sorted_batches(&lengths, batch_size);
    let run = |positions: &Vec<usize>| -> Result<Vec<T>> {
        let texts: Vec<&TokenizedText> = positions.iter().map(|&i| &tokenized[i]).collect();
        let results = forward(&pad_batch(&texts, pad_id))?;
        if results.len() != positions.len() {
            return Err(engine_error(format!(
                "{} outputs for a batch of {}",
                results.len(),
                positions.len()
            )));
        }
        Ok(results)
    };
    let results: Vec<Result<Vec<T>>> = if parallel && batches.len() > 1 {
        batches.par_iter().map(run).collect()
    } else {
        batches.iter().map(run).collect()
    };
    let mut outputs: Vec<Option<T>> = (0..tokenized.len()).map(|_| None).collect();
    for (positions, results) in batches.into_iter().zip(results) {
        for (position, result) in positions.into_iter().zip(results?) {
            outputs[position] = Some(result);
        }
    }
    outputs
        .into_iter()
        .map(|output| output.ok_or_else(|| engine_error("a text got no output")))
        .collect()
}

/// Sentence embeddings with candle (all-MiniLM-L6-v2 and other BERT-layout
/// sentence-transformers folders with mean pooling).
pub struct CandleSentenceEncoder {
    model: bert::BertModel,
    tokenizer: TextTokenizer,
    pooling: Pooling,
    dimension: usize,
    pad_id: u32,
    batch_size: usize,
    parallel: bool,
    model_id: String,
}

impl CandleSentenceEncoder {
    /// Loads a sentence-transformers folder (`config.json`, `model.safetensors`,
    /// `tokenizer.json`, optional `modules.json`, `sentence_bert_config.json`,
    /// `1_Pooling/config.json`).
    pub fn load(dir: &Path) -> Result<CandleSentenceEncoder> {
        let model = ModelDir::open(dir)?;
        let ModelKind::SentenceEmbedding(pooling) = model.kind else {
            return Err(TransformerError::config(
                model.config_path(),
                "this is a sequence-classification checkpoint, not a sentence-embedding model \
                 (load it with CandleSequenceClassifier)",
            ));
        };
        let config: bert::Config = engine_config(&model, &[])?;
        let loaded = load_common(&model)?;
        let network = bert::BertModel::load(loaded.variables, &config).map_err(|error| {
            TransformerError::model_dir(&model.dir, format!("model.safetensors: {error}"))
        })?;
        Ok(CandleSentenceEncoder {
            model: network,
            tokenizer: loaded.tokenizer,
            pooling,
            dimension: config.hidden_size,
            pad_id: loaded.pad_id,
            batch_size: DEFAULT_BATCH_SIZE,
            parallel: parallel_batches_by_default(),
            model_id: loaded.model_id,
        })
    }

    /// Texts per forward pass (at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Whether the batches of one call run concurrently. The default is on when
    /// `CANDLE_NUM_THREADS=1` (the recommended setting) and off otherwise; see
    /// `RESULTS.md` for the figures.
    pub fn with_parallel_batches(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// The maximum number of tokens per text, special tokens included.
    pub fn max_seq_length(&self) -> usize {
        self.tokenizer.max_length()
    }

    /// Tokens per text after truncation, special tokens included (what the network
    /// sees).
    pub fn token_counts(&self, texts: &[&str]) -> Result<Vec<usize>> {
        Ok(self
            .tokenizer
            .encode(texts)?
            .iter()
            .map(|text| text.ids.len())
            .collect())
    }

    fn forward(&self, batch: &PaddedBatch) -> Result<Vec<Vec<f32>>> {
        let (ids, type_ids, mask) = input_tensors(batch)?;
        let states = self
            .model
            .forward(&ids, &type_ids, Some(&mask))
            .and_then(|states| states.flatten_all())
            .and_then(|states| states.to_vec1::<f32>())
            .map_err(engine_error)?;
        let per_row = batch.columns * self.dimension;
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

impl SentenceEncoder for CandleSentenceEncoder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let tokenized = self.tokenizer.encode(texts)?;
        run_batched(
            &tokenized,
            self.batch_size,
            self.pad_id,
            self.parallel,
            &|batch| self.forward(batch),
        )
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
    /// `bert.*` + `bert.pooler.dense` (tanh on the first token) + `classifier`.
    Bert {
        model: bert::BertModel,
        pooler: Linear,
        classifier: Linear,
    },
    /// `roberta.*` + `classifier.dense` / `classifier.out_proj`.
    Roberta(xlm_roberta::XLMRobertaForSequenceClassification),
}

/// A Hugging Face sequence-classification checkpoint (BERT, RoBERTa, XLM-RoBERTa) run
/// with candle.
pub struct CandleSequenceClassifier {
    network: ClassifierNetwork,
    tokenizer: TextTokenizer,
    classes: usize,
    pad_id: u32,
    batch_size: usize,
    parallel: bool,
    model_id: String,
}

impl CandleSequenceClassifier {
    pub fn load(dir: &Path) -> Result<CandleSequenceClassifier> {
        let model = ModelDir::open(dir)?;
        let ModelKind::SequenceClassification(labels) = &model.kind else {
            return Err(TransformerError::config(
                model.config_path(),
                "this is a sentence-embedding model, not a sequence-classification checkpoint",
            ));
        };
        let classes = labels.len();
        let loaded = load_common(&model)?;
        let weights_error = |error: candle_core::Error| {
            TransformerError::model_dir(&model.dir, format!("model.safetensors: {error}"))
        };
        let network = match model.architecture {
            Architecture::Bert => {
                let config: bert::Config = engine_config(&model, &[])?;
                let variables = loaded.variables;
                let bert_model =
                    bert::BertModel::load(variables.pp("bert"), &config).map_err(weights_error)?;
                let pooler = linear(
                    config.hidden_size,
                    config.hidden_size,
                    variables.pp("bert.pooler.dense"),
                )
                .map_err(weights_error)?;
                let classifier = linear(config.hidden_size, classes, variables.pp("classifier"))
                    .map_err(weights_error)?;
                ClassifierNetwork::Bert {
                    model: bert_model,
                    pooler,
                    classifier,
                }
            }
            Architecture::Roberta => {
                let config: xlm_roberta::Config = engine_config(
                    &model,
                    &[
                        ("position_embedding_type", Value::from("absolute")),
                        ("type_vocab_size", Value::from(1)),
                        ("pad_token_id", Value::from(1)),
                    ],
                )?;
                ClassifierNetwork::Roberta(
                    xlm_roberta::XLMRobertaForSequenceClassification::new(
                        classes,
                        &config,
                        loaded.variables,
                    )
                    .map_err(weights_error)?,
                )
            }
        };
        let pad_id = match model.architecture {
            Architecture::Roberta if model.config.get("pad_token_id").is_none() => 1,
            _ => loaded.pad_id,
        };
        Ok(CandleSequenceClassifier {
            network,
            tokenizer: loaded.tokenizer,
            classes,
            pad_id,
            batch_size: DEFAULT_BATCH_SIZE,
            parallel: parallel_batches_by_default(),
            model_id: loaded.model_id,
        })
    }

    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// As [`CandleSentenceEncoder::with_parallel_batches`].
    pub fn with_parallel_batches(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    fn logits(&self, batch: &PaddedBatch) -> candle_core::Result<Tensor> {
        let (ids, type_ids, mask) =
            input_tensors(batch).map_err(|error| candle_core::Error::Msg(error.to_string()))?;
        match &self.network {
            ClassifierNetwork::Bert {
                model,
                pooler,
                classifier,
            } => {
                let states = model.forward(&ids, &type_ids, Some(&mask))?;
                let first = states.get_on_dim(1, 0)?.contiguous()?;
                let pooled = pooler.forward(&first)?.tanh()?;
                classifier.forward(&pooled)
            }
            ClassifierNetwork::Roberta(model) => model.forward(&ids, &mask, &type_ids),
        }
    }
}

impl SequenceClassifierEngine for CandleSequenceClassifier {
    fn class_probabilities(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let tokenized = self.tokenizer.encode(texts)?;
        run_batched(
            &tokenized,
            self.batch_size,
            self.pad_id,
            self.parallel,
            &|batch| {
                let logits = self
                    .logits(batch)
                    .and_then(|logits| logits.to_vec2::<f32>())
                    .map_err(engine_error)?;
                logits
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
            },
        )
    }

    fn engine(&self) -> &'static str {
        ENGINE
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }
}

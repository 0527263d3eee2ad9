//! Fine-tuning the encoder (cargo feature `rust-bert`): a BERT-layout model
//! (all-MiniLM-L6-v2, or a BERT sequence-classification checkpoint) becomes a
//! `BertForSequenceClassification` with the labels negative / neutral / positive,
//! trained end to end with libtorch's autograd (AdamW, linear warm-up and decay,
//! gradient clipping, dropout as configured), judged on dev data after every epoch.
//! The best epoch is kept, its temperature fitted on the dev logits and folded into
//! the classifier layer (logits / T), and the result is written as an ordinary Hugging
//! Face checkpoint directory (`config.json`, `model.safetensors`, tokenizer files) that
//! both engines — and `transformers` — load like any downloaded checkpoint.
//!
//! Polar-only examples (corpora that only tell negative from positive) are trained on
//! the negative/positive contrast alone: their neutral logit is masked out of the
//! softmax, as vigil-learned and the head do, so such a corpus does not teach that its
//! language is never neutral.
//!
//! The output directory is written beside the target and renamed into place, so a
//! crash leaves either the old checkpoint or the new one, never half of one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rust_bert::bert::BertForSequenceClassification;
use serde::Serialize;
use serde_json::{Value, json};
use tch::nn::{self, OptimizerConfig as _, VarStore};
use tch::{Device, Kind, Tensor};
use vigil_core::Label;

use crate::error::{Result, TransformerError};
use crate::model_dir::{Architecture, ModelDir};
use crate::tch_engine::{caught, engine_error, input_tensors, load_weights_with, rust_bert_config};
use crate::tokenize::{TextTokenizer, TokenizedText, pad_batch};

/// How a fine-tuning run trains.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate, reached after the warm-up and decayed linearly to zero.
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Share of all steps spent warming the learning rate up from zero.
    pub warmup_fraction: f64,
    /// Gradients are clipped to this global L2 norm.
    pub max_grad_norm: f64,
    /// Texts are cut to this many tokens (special tokens included), in training and in
    /// the written checkpoint's `tokenizer_config.json`.
    pub max_seq_length: usize,
    /// Seeds the classifier's initial weights, dropout and the order of examples.
    pub seed: u64,
    /// Keep only the first this many transformer layers of the base (fewer layers,
    /// proportionally faster inference); `None` keeps them all.
    pub layers: Option<usize>,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        FinetuneConfig {
            epochs: 3,
            batch_size: 32,
            learning_rate: 5e-5,
            weight_decay: 0.01,
            warmup_fraction: 0.06,
            max_grad_norm: 1.0,
            max_seq_length: 128,
            seed: 20261123,
            layers: None,
        }
    }
}

/// One labelled text.
#[derive(Debug, Clone, Copy)]
pub struct FinetuneExample<'a> {
    pub text: &'a str,
    pub label: Label,
    /// Only the negative/positive contrast is known (see the module docs).
    pub polar_only: bool,
}

/// What an epoch achieved.
#[derive(Debug, Clone, Serialize)]
pub struct EpochReport {
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Mean cross-entropy on the dev texts (dropout off), when there are any.
    pub dev_loss: Option<f64>,
    /// Share of dev texts labelled right (polar-only ones: negative vs positive).
    pub dev_accuracy: Option<f64>,
    pub seconds: f64,
}

/// Progress, reported to the caller as training goes.
#[derive(Debug, Clone)]
pub enum FinetuneProgress<'a> {
    Step {
        epoch: usize,
        step: usize,
        steps: usize,
        /// Mean loss of the epoch so far.
        loss: f64,
        texts_per_second: f64,
    },
    Epoch(&'a EpochReport),
}

/// The outcome of [`finetune`].
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneOutcome {
    pub dir: PathBuf,
    pub epochs: Vec<EpochReport>,
    /// The epoch whose weights were written (the best on dev; the last without dev).
    pub best_epoch: usize,
    /// The temperature folded into the classifier layer (1 without dev texts).
    pub temperature: f64,
}

/// The labels of the written checkpoint, in class order.
const CLASSES: [Label; 3] = Label::ALL;
/// Added to the neutral logit of polar-only examples (masks it out of the softmax).
const MASKED: f32 = -1e4;

/// The best epoch so far, with its weights and dev logits.
struct Best {
    epoch: usize,
    accuracy: f64,
    loss: f64,
    weights: HashMap<String, Tensor>,
    dev_logits: Vec<[f32; 3]>,
}

fn class_of(label: Label) -> i64 {
    CLASSES
        .iter()
        .position(|&class| class == label)
        .map_or(1, |index| index as i64)
}

/// Fine-tunes the model in `base` on `train`, picks the epoch by `dev`, and writes the
/// checkpoint to `out` (replacing a checkpoint already there). `metadata` is stored in
/// the written `config.json` under `vigil_finetune`, next to the configuration and the
/// epoch reports.
pub fn finetune(
    base: &Path,
    out: &Path,
    train: &[FinetuneExample<'_>],
    dev: &[FinetuneExample<'_>],
    config: &FinetuneConfig,
    metadata: Value,
    progress: &mut dyn FnMut(FinetuneProgress<'_>),
) -> Result<FinetuneOutcome> {
    if train.is_empty() {
        return Err(engine_error("no training texts"));
    }
    if config.epochs == 0 || config.batch_size == 0 {
        return Err(engine_error("epochs and batch size must be at least 1"));
    }
    let model = ModelDir::open(base)?;
    if model.architecture != Architecture::Bert {
        return Err(TransformerError::config(
            model.config_path(),
            "fine-tuning supports BERT-layout models (all-MiniLM-L6-v2, BERT checkpoints)",
        ));
    }
    let mut bert_config = rust_bert_config(&model)?;
    bert_config.id2label = Some(
        CLASSES
            .iter()
            .enumerate()
            .map(|(id, label)| (id as i64, label.as_str().to_owned()))
            .collect(),
    );
    bert_config.label2id = Some(
        CLASSES
            .iter()
            .enumerate()
            .map(|(id, label)| (label.as_str().to_owned(), id as i64))
            .collect(),
    );
    if let Some(layers) = config.layers {
        let available = bert_config.num_hidden_layers;
        if layers == 0 || layers as i64 > available {
            return Err(TransformerError::config(
                model.config_path(),
                format!("cannot keep {layers} layers of {available}"),
            ));
        }
        bert_config.num_hidden_layers = layers as i64;
    }
    let max_length = config.max_seq_length.min(model.max_seq_length);
    let tokenizer = TextTokenizer::from_file(&model.tokenizer_path(), max_length)?;
    let pad_id = model.pad_id();

    tch::manual_seed(config.seed as i64);
    let var_store = VarStore::new(Device::Cpu);
    let network = BertForSequenceClassification::new(var_store.root(), &bert_config)
        .map_err(|error| TransformerError::config(model.config_path(), error.to_string()))?;
    // A sentence-transformers folder stores the encoder without the `bert.` prefix; a
    // checkpoint stores it with. The classifier (and a pooler the base lacks) start
    // from the network's own initialisation.
    let candidates = |name: &str| -> Vec<String> {
        let mut names = vec![name.to_owned()];
        if let Some(rest) = name.strip_prefix("bert.") {
            names.push(rest.to_owned());
        }
        names
    };
    let fresh = load_weights_with(&var_store, &model, &candidates, &|name| {
        name.starts_with("classifier.") || name.starts_with("bert.pooler.")
    })?;
    tracing::info!(initialised = ?fresh, "fine-tuning from {}", base.display());

    let train_tokens = tokenizer.encode(&texts(train))?;
    let dev_tokens = tokenizer.encode(&texts(dev))?;
    let mut optimizer = nn::AdamW {
        wd: config.weight_decay,
        ..Default::default()
    }
    .build(&var_store, config.learning_rate)
    .map_err(engine_error)?;
    let steps_per_epoch = train.len().div_ceil(config.batch_size);
    let total_steps = steps_per_epoch * config.epochs;
    let warmup_steps = ((total_steps as f64) * config.warmup_fraction)
        .ceil()
        .max(1.0);
    let learning_rate = |step: usize| {
        let step = step as f64;
        let rate = if step < warmup_steps {
            (step + 1.0) / warmup_steps
        } else {
            ((total_steps as f64 - step) / (total_steps as f64 - warmup_steps).max(1.0)).max(0.0)
        };
        config.learning_rate * rate
    };

    let mut rng = SplitMix(config.seed ^ 0x5eed_f1e7);
    let mut reports: Vec<EpochReport> = Vec::new();
    let mut best: Option<Best> = None;
    let mut step = 0usize;
    for epoch in 1..=config.epochs {
        let started = Instant::now();
        let mut loss_sum = 0.0;
        let mut batches_done = 0usize;
        let mut texts_done = 0usize;
        let mut last_report = Instant::now();
        for batch in shuffled_batches(&train_tokens, config.batch_size, &mut rng) {
            optimizer.set_lr(learning_rate(step));
            let loss = caught(|| {
                let (logits, targets) =
                    logits_and_targets(&network, &train_tokens, train, &batch, pad_id, true)?;
                let loss = logits.cross_entropy_for_logits(&targets);
                optimizer.backward_step_clip_norm(&loss, config.max_grad_norm);
                f64::try_from(&loss).map_err(engine_error)
            })?;
            if !loss.is_finite() {
                return Err(engine_error(format!(
                    "the training loss became {loss} at step {step}; try a lower learning rate"
                )));
            }
            loss_sum += loss;
            batches_done += 1;
            texts_done += batch.len();
            step += 1;
            if last_report.elapsed().as_secs() >= 10 || batches_done == steps_per_epoch {
                last_report = Instant::now();
                progress(FinetuneProgress::Step {
                    epoch,
                    step: batches_done,
                    steps: steps_per_epoch,
                    loss: loss_sum / batches_done as f64,
                    texts_per_second: texts_done as f64 / started.elapsed().as_secs_f64().max(1e-3),
                });
            }
        }
        let (dev_loss, dev_accuracy, dev_logits) = if dev.is_empty() {
            (None, None, Vec::new())
        } else {
            let logits = dev_logits(&network, &dev_tokens, dev, config.batch_size, pad_id)?;
            let (loss, accuracy) = score(&logits, dev, 1.0);
            (Some(loss), Some(accuracy), logits)
        };
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / batches_done.max(1) as f64,
            dev_loss,
            dev_accuracy,
            seconds: started.elapsed().as_secs_f64(),
        };
        progress(FinetuneProgress::Epoch(&report));
        // Better: higher dev accuracy, then lower dev loss; without dev, the latest.
        let accuracy = dev_accuracy.unwrap_or(epoch as f64);
        let loss = dev_loss.unwrap_or(0.0);
        let improves = best.as_ref().is_none_or(|best| {
            accuracy > best.accuracy || (accuracy == best.accuracy && loss < best.loss)
        });
        if improves {
            best = Some(Best {
                epoch,
                accuracy,
                loss,
                weights: snapshot(&var_store)?,
                dev_logits,
            });
        }
        reports.push(report);
    }
    let Some(Best {
        epoch: best_epoch,
        weights,
        dev_logits,
        ..
    }) = best
    else {
        return Err(engine_error("no epoch ran"));
    };
    restore(&var_store, &weights)?;
    let temperature = if dev.is_empty() {
        1.0
    } else {
        fit_temperature(&dev_logits, dev)
    };
    fold_temperature(&var_store, temperature)?;

    let outcome = FinetuneOutcome {
        dir: out.to_owned(),
        epochs: reports,
        best_epoch,
        temperature,
    };
    let mut written_config = model.config.clone();
    if let Some(object) = written_config.as_object_mut() {
        object.insert(
            "architectures".into(),
            json!(["BertForSequenceClassification"]),
        );
        object.insert(
            "id2label".into(),
            CLASSES
                .iter()
                .enumerate()
                .map(|(id, label)| (id.to_string(), json!(label.as_str())))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        );
        object.insert(
            "label2id".into(),
            CLASSES
                .iter()
                .enumerate()
                .map(|(id, label)| (label.as_str().to_owned(), json!(id)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        );
        object.insert(
            "num_hidden_layers".into(),
            json!(bert_config.num_hidden_layers),
        );
        object.insert(
            "_name_or_path".into(),
            json!(format!("vigil-finetuned-{}", model.name)),
        );
        object.insert(
            "vigil_finetune".into(),
            json!({
                "base": model.name,
                "config": config,
                "train_texts": train.len(),
                "dev_texts": dev.len(),
                "epochs": outcome.epochs,
                "best_epoch": best_epoch,
                "temperature": temperature,
                "metadata": metadata,
            }),
        );
    }
    write_checkpoint(&var_store, &model, &written_config, max_length, out)?;
    Ok(outcome)
}

fn texts<'a>(examples: &[FinetuneExample<'a>]) -> Vec<&'a str> {
    examples.iter().map(|example| example.text).collect()
}

/// The batch's logits (with polar-only examples' neutral logit masked) and targets.
fn logits_and_targets(
    network: &BertForSequenceClassification,
    tokens: &[TokenizedText],
    examples: &[FinetuneExample<'_>],
    batch: &[usize],
    pad_id: u32,
    train: bool,
) -> Result<(Tensor, Tensor)> {
    let texts: Vec<&TokenizedText> = batch.iter().map(|&i| &tokens[i]).collect();
    let padded = pad_batch(&texts, pad_id);
    let (ids, type_ids, mask) = input_tensors(&padded);
    let output = network.forward_t(Some(&ids), Some(&mask), Some(&type_ids), None, None, train);
    let mut masks = Vec::with_capacity(batch.len() * 3);
    let mut targets = Vec::with_capacity(batch.len());
    for &i in batch {
        let example = &examples[i];
        let neutral = if example.polar_only { MASKED } else { 0.0 };
        masks.extend([0.0, neutral, 0.0]);
        targets.push(class_of(example.label));
    }
    let masks = Tensor::from_slice(&masks).view([batch.len() as i64, 3]);
    let logits = output.logits.to_kind(Kind::Float) + masks;
    Ok((logits, Tensor::from_slice(&targets)))
}

/// Every dev text's masked logits, dropout off.
fn dev_logits(
    network: &BertForSequenceClassification,
    tokens: &[TokenizedText],
    examples: &[FinetuneExample<'_>],
    batch_size: usize,
    pad_id: u32,
) -> Result<Vec<[f32; 3]>> {
    let lengths: Vec<usize> = tokens.iter().map(|text| text.ids.len()).collect();
    let mut logits = vec![[0.0f32; 3]; tokens.len()];
    for batch in crate::encoder::length_sorted_batches(&lengths, batch_size) {
        let rows = caught(|| {
            tch::no_grad(|| {
                let (batch_logits, _) =
                    logits_and_targets(network, tokens, examples, &batch, pad_id, false)?;
                Vec::<Vec<f32>>::try_from(&batch_logits).map_err(engine_error)
            })
        })?;
        for (&i, row) in batch.iter().zip(rows) {
            if let [a, b, c] = row[..] {
                logits[i] = [a, b, c];
            } else {
                return Err(engine_error(format!("{} logits, expected 3", row.len())));
            }
        }
    }
    Ok(logits)
}

/// Mean cross-entropy of `logits / temperature` and the share labelled right.
fn score(logits: &[[f32; 3]], examples: &[FinetuneExample<'_>], temperature: f64) -> (f64, f64) {
    let mut loss = 0.0;
    let mut right = 0usize;
    for (row, example) in logits.iter().zip(examples) {
        let scaled: Vec<f64> = row.iter().map(|&v| f64::from(v) / temperature).collect();
        let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = scaled.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
        let target = class_of(example.label) as usize;
        loss += log_sum - scaled[target];
        let predicted = (0..3)
            .max_by(|&a, &b| scaled[a].total_cmp(&scaled[b]))
            .unwrap_or(1);
        right += usize::from(predicted == target);
    }
    let n = examples.len().max(1) as f64;
    (loss / n, right as f64 / n)
}

/// The temperature that minimises the dev cross-entropy (golden-section search over
/// log T in [ln 0.1, ln 10]).
fn fit_temperature(logits: &[[f32; 3]], examples: &[FinetuneExample<'_>]) -> f64 {
    let nll = |log_t: f64| score(logits, examples, log_t.exp()).0;
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut low, mut high) = (0.1f64.ln(), 10f64.ln());
    for _ in 0..60 {
        let a = high - ratio * (high - low);
        let b = low + ratio * (high - low);
        if nll(a) < nll(b) {
            high = b;
        } else {
            low = a;
        }
    }
    ((low + high) / 2.0).exp()
}

/// Divides the classifier layer by `temperature`, so the checkpoint's logits are the
/// calibrated ones.
fn fold_temperature(var_store: &VarStore, temperature: f64) -> Result<()> {
    let variables = var_store.variables();
    caught(|| {
        tch::no_grad(|| {
            for name in ["classifier.weight", "classifier.bias"] {
                let mut variable = variables
                    .get(name)
                    .ok_or_else(|| engine_error(format!("the network has no {name}")))?
                    .shallow_clone();
                let scaled = variable.f_div_scalar(temperature).map_err(engine_error)?;
                variable.f_copy_(&scaled).map_err(engine_error)?;
            }
            Ok(())
        })
    })
}

fn snapshot(var_store: &VarStore) -> Result<HashMap<String, Tensor>> {
    caught(|| {
        Ok(tch::no_grad(|| {
            var_store
                .variables()
                .into_iter()
                .map(|(name, tensor)| (name, tensor.detach().copy()))
                .collect()
        }))
    })
}

fn restore(var_store: &VarStore, weights: &HashMap<String, Tensor>) -> Result<()> {
    caught(|| {
        tch::no_grad(|| {
            for (name, mut variable) in var_store.variables() {
                let saved = weights
                    .get(&name)
                    .ok_or_else(|| engine_error(format!("no saved weights for {name}")))?;
                variable.f_copy_(saved).map_err(engine_error)?;
            }
            Ok(())
        })
    })
}

/// Writes the checkpoint into a fresh directory beside `out`, then swaps it in.
fn write_checkpoint(
    var_store: &VarStore,
    base: &ModelDir,
    config: &Value,
    max_length: usize,
    out: &Path,
) -> Result<()> {
    let name = out
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| {
            TransformerError::model_dir(out, "the output needs a folder name".to_owned())
        })?;
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let had_old = out.exists();
    if had_old && !out.join("config.json").is_file() {
        return Err(TransformerError::model_dir(
            out,
            "exists and is not a checkpoint; not replacing it".to_owned(),
        ));
    }
    std::fs::create_dir_all(&parent).map_err(TransformerError::io(&parent))?;
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(TransformerError::io(&staging))?;
    }
    std::fs::create_dir(&staging).map_err(TransformerError::io(&staging))?;
    if let Err(error) = fill_checkpoint(var_store, base, config, max_length, &staging) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }

    // Swap: the old checkpoint moves aside first, so `out` is never half-written.
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    if had_old {
        std::fs::rename(out, &old).map_err(TransformerError::io(out))?;
    }
    std::fs::rename(&staging, out).map_err(TransformerError::io(out))?;
    if had_old {
        std::fs::remove_dir_all(&old).map_err(TransformerError::io(&old))?;
    }
    if let Ok(directory) = std::fs::File::open(&parent) {
        let _ = directory.sync_all();
    }
    Ok(())
}

/// Writes the checkpoint's files into `staging` and syncs them.
fn fill_checkpoint(
    var_store: &VarStore,
    base: &ModelDir,
    config: &Value,
    max_length: usize,
    staging: &Path,
) -> Result<()> {
    let mut variables: Vec<(String, Tensor)> = var_store.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    let weights = staging.join("model.safetensors");
    caught(|| {
        Tensor::write_safetensors(&variables, &weights).map_err(engine_error)?;
        Ok(())
    })?;
    write_json(&staging.join("config.json"), config)?;
    for file in ["tokenizer.json", "vocab.txt", "special_tokens_map.json"] {
        let source = base.dir.join(file);
        if source.is_file() {
            let target = staging.join(file);
            std::fs::copy(&source, &target).map_err(TransformerError::io(&target))?;
        }
    }
    let mut tokenizer_config = crate::model_dir::read_json(&base.dir.join("tokenizer_config.json"))
        .unwrap_or_else(|_| json!({}));
    if let Some(object) = tokenizer_config.as_object_mut() {
        object.insert("model_max_length".into(), json!(max_length));
    }
    write_json(&staging.join("tokenizer_config.json"), &tokenizer_config)?;
    for entry in std::fs::read_dir(staging).map_err(TransformerError::io(staging))? {
        let path = entry.map_err(TransformerError::io(staging))?.path();
        std::fs::File::open(&path)
            .and_then(|file| file.sync_all())
            .map_err(TransformerError::io(&path))?;
    }

    Ok(())
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| TransformerError::config(path, error.to_string()))?;
    std::fs::write(path, text + "\n").map_err(TransformerError::io(path))
}

/// Batches of indices: shuffled, then sorted by length within windows of 50 batches
/// (little padding), then the batches shuffled.
fn shuffled_batches(
    tokens: &[TokenizedText],
    batch_size: usize,
    rng: &mut SplitMix,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..tokens.len()).collect();
    rng.shuffle(&mut order);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for window in order.chunks(batch_size * 50) {
        let mut window = window.to_vec();
        window.sort_by_key(|&i| tokens[i].ids.len());
        batches.extend(window.chunks(batch_size).map(<[usize]>::to_vec));
    }
    rng.shuffle(&mut batches);
    batches
}

/// A small seeded generator (SplitMix64) for the order of examples.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(label: Label, polar_only: bool) -> FinetuneExample<'static> {
        FinetuneExample {
            text: "",
            label,
            polar_only,
        }
    }

    #[test]
    fn temperature_fit_undoes_a_known_scaling() {
        // Logits drawn from a calibrated model, multiplied by 3: the fit should find
        // a temperature near 3.
        let mut rng = SplitMix(7);
        let mut logits = Vec::new();
        let mut examples = Vec::new();
        for _ in 0..3000 {
            let raw: [f64; 3] = std::array::from_fn(|_| (rng.next() % 1000) as f64 / 250.0);
            let max = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let weights: Vec<f64> = raw.iter().map(|v| (v - max).exp()).collect();
            let total: f64 = weights.iter().sum();
            let draw = (rng.next() % 1_000_000) as f64 / 1_000_000.0 * total;
            let mut acc = 0.0;
            let mut class = 2;
            for (index, weight) in weights.iter().enumerate() {
                acc += weight;
                if draw < acc {
                    class = index;
                    break;
                }
            }
            logits.push(raw.map(|v| (v * 3.0) as f32));
            examples.push(example(CLASSES[class], false));
        }
        let temperature = fit_temperature(&logits, &examples);
        assert!(
            (temperature - 3.0).abs() < 0.4,
            "fitted temperature {temperature}"
        );
        let (before, _) = score(&logits, &examples, 1.0);
        let (after, _) = score(&logits, &examples, temperature);
        assert!(after < before);
    }

    #[test]
    fn polar_examples_are_scored_without_neutral() {
        // A masked neutral logit cannot win, so the example is right when positive
        // beats negative.
        let logits = [[0.0, MASKED + 5.0, 1.0]];
        let (_, accuracy) = score(&logits, &[example(Label::Positive, true)], 1.0);
        assert_eq!(accuracy, 1.0);
        let (_, accuracy) = score(&logits, &[example(Label::Negative, true)], 1.0);
        assert_eq!(accuracy, 0.0);
    }

    #[test]
    fn batches_cover_every_example_once() {
        let tokens: Vec<TokenizedText> = (0..103)
            .map(|i| TokenizedText {
                ids: vec![1; 1 + i % 17],
                type_ids: vec![0; 1 + i % 17],
            })
            .collect();
        let mut rng = SplitMix(1);
        let batches = shuffled_batches(&tokens, 8, &mut rng);
        let mut seen: Vec<usize> = batches.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..103).collect::<Vec<_>>());
        assert!(batches.iter().all(|batch| batch.len() <= 8));
    }
}

//! Training: multinomial logistic regression with L2, by AdaGrad over shuffled
//! examples, deterministic for a given seed (single-threaded, fixed order).

use serde::{Deserialize, Serialize};

use crate::dataset::Example;
use crate::error::{LearnedError, Result};
use crate::features::{DenseFeatures, FeatureConfig, bucket_and_sign, for_each_feature};
use crate::model::{
    DenseSpec, Model, WeightEncoding, class_index, example_probabilities, feature_scale, softmax,
};

/// How to weight classes against imbalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeighting {
    /// Every example counts the same.
    None,
    /// Each class counts as much in total: weight = n / (classes · n_class).
    Balanced,
    /// The square root of `Balanced`: a milder correction.
    SqrtBalanced,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub features: FeatureConfig,
    pub epochs: u32,
    /// AdaGrad's base step.
    pub learning_rate: f32,
    /// L2 penalty per update on the weights an example touches (not the bias).
    pub l2: f32,
    /// Seeds the shuffling; the same seed, data and configuration give the same model.
    pub seed: u64,
    pub class_weighting: ClassWeighting,
    /// How much a polar-only example (from a corpus without neutral texts) also
    /// teaches "not neutral": 0 = it only trains the negative/positive contrast, 1 = a
    /// plain three-class example. The loss is −log q(gold) − w·log(1 − p(neutral)),
    /// q being the softmax over negative and positive alone.
    pub polar_neutral_weight: f32,
    /// Return the average of the weights over all training steps instead of the last
    /// ones (Polyak averaging: smoother, less sensitive to the last examples seen).
    pub average: bool,
    /// Round the weights to the 8-bit file encoding at the end (see
    /// [`Model::quantize`]).
    pub quantize: bool,
}

/// The defaults are the configuration chosen on the shared dev splits (see
/// `learned/RESULTS.md`); `epochs` 2 suits tens of thousands of examples, small data
/// sets want more.
impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            features: FeatureConfig::default(),
            epochs: 2,
            learning_rate: 0.2,
            l2: 1e-3,
            seed: 0x5EED,
            class_weighting: ClassWeighting::None,
            polar_neutral_weight: 1.0,
            average: false,
            quantize: true,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        self.features.validate()?;
        if self.epochs == 0 || self.epochs > 1000 {
            return Err(LearnedError::InvalidConfig(format!(
                "epochs {} is outside 1..=1000",
                self.epochs
            )));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(LearnedError::InvalidConfig(format!(
                "learning_rate {} is not a positive number",
                self.learning_rate
            )));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(LearnedError::InvalidConfig(format!(
                "l2 {} is not a non-negative number",
                self.l2
            )));
        }
        if !(0.0..=1.0).contains(&self.polar_neutral_weight) {
            return Err(LearnedError::InvalidConfig(format!(
                "polar_neutral_weight {} is outside 0..=1",
                self.polar_neutral_weight
            )));
        }
        Ok(())
    }
}

/// Trains a model on `examples`. `dense` supplies the caller's extra features (use
/// [`crate::NoDense`] for none); the model remembers which.
pub fn train(
    examples: &[Example],
    config: &TrainConfig,
    dense: &dyn DenseFeatures,
) -> Result<Model> {
    train_with_progress(examples, config, dense, |_, _| {})
}

/// [`train`], calling `after_epoch(epoch, model)` after each epoch (1-based) with the
/// model so far (unquantised, temperature 1): for choosing the epoch count on dev data.
pub fn train_with_progress(
    examples: &[Example],
    config: &TrainConfig,
    dense: &dyn DenseFeatures,
    mut after_epoch: impl FnMut(u32, &Model),
) -> Result<Model> {
    config.validate()?;
    if examples.is_empty() {
        return Err(LearnedError::InvalidConfig("no training examples".into()));
    }
    let data = TrainingData::new(examples, &config.features, dense);
    let class_weights = class_weights(examples, config.class_weighting);

    let mut model = Model {
        features: config.features,
        dense: data.dense_spec.clone(),
        weights: vec![[0.0; 3]; config.features.buckets()],
        dense_weights: vec![[0.0; 3]; data.dense_len],
        bias: [0.0; 3],
        temperature: 1.0,
        encoding: WeightEncoding::F32,
        metadata: serde_json::json!({
            "train_config": config,
            "examples": examples.len(),
            "dense_features": dense.name(),
        })
        .to_string(),
    };
    // AdaGrad's sums of squared gradients, one per parameter.
    let mut weight_history = vec![[0f32; 3]; model.weights.len()];
    let mut dense_history = vec![[0f32; 3]; data.dense_len];
    let mut bias_history = [0f32; 3];
    // Polyak averaging, lazily: after T steps the mean of the weights is
    // w_T − (1/T)·Σ_t (t − 1)·Δ_t, so each update adds (t − 1)·Δ to an accumulator.
    let mut averages = config.average.then(|| Averages {
        weights: vec![[0f64; 3]; model.weights.len()],
        dense: vec![[0f64; 3]; data.dense_len],
        bias: [0f64; 3],
    });
    let mut step = 0u64;

    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = SplitMix64(config.seed);
    let learning_rate = config.learning_rate;
    let l2 = config.l2;
    for epoch in 1..=config.epochs {
        // Fisher–Yates with our own generator, so the order never depends on a crate.
        for index in (1..order.len()).rev() {
            let other = (rng.next() % (index as u64 + 1)) as usize;
            order.swap(index, other);
        }
        for &example_index in &order {
            step += 1;
            let step_weight = (step - 1) as f64;
            let example = &examples[example_index];
            let sparse = data.sparse(example_index);
            let dense_values = data.dense(example_index);

            let mut logits = model.bias;
            for &(bucket, value) in sparse {
                let row = model.weights[bucket as usize];
                for class in 0..3 {
                    logits[class] += value * row[class];
                }
            }
            for (row, &value) in model.dense_weights.iter().zip(dense_values) {
                for class in 0..3 {
                    logits[class] += value * row[class];
                }
            }
            let gold = class_index(example.label);
            let gradient = loss_gradient(
                logits,
                gold,
                example.polar_only,
                config.polar_neutral_weight,
                class_weights[gold],
            );

            for &(bucket, value) in sparse {
                let bucket = bucket as usize;
                let delta = adagrad_row(
                    &mut model.weights[bucket],
                    &mut weight_history[bucket],
                    gradient,
                    value,
                    l2,
                    learning_rate,
                );
                if let Some(averages) = &mut averages {
                    accumulate(&mut averages.weights[bucket], delta, step_weight);
                }
            }
            for (index, &value) in dense_values.iter().enumerate() {
                let delta = adagrad_row(
                    &mut model.dense_weights[index],
                    &mut dense_history[index],
                    gradient,
                    value,
                    l2,
                    learning_rate,
                );
                if let Some(averages) = &mut averages {
                    accumulate(&mut averages.dense[index], delta, step_weight);
                }
            }
            let delta = adagrad_row(
                &mut model.bias,
                &mut bias_history,
                gradient,
                1.0,
                0.0,
                learning_rate,
            );
            if let Some(averages) = &mut averages {
                accumulate(&mut averages.bias, delta, step_weight);
            }
        }
        if let Some(averages) = &averages {
            if epoch < config.epochs {
                after_epoch(epoch, &averages.apply(&model, step));
            } else {
                model = averages.apply(&model, step);
                after_epoch(epoch, &model);
            }
            continue;
        }
        after_epoch(epoch, &model);
    }
    if config.quantize {
        model.quantize();
    }
    Ok(model)
}

/// Gradient of the loss with respect to the logits (see
/// [`TrainConfig::polar_neutral_weight`]); for a three-class example, p − onehot.
fn loss_gradient(
    logits: [f32; 3],
    gold: usize,
    polar_only: bool,
    polar_neutral_weight: f32,
    class_weight: f32,
) -> [f32; 3] {
    let mut gradient = [0f32; 3];
    if polar_only {
        // −log q(gold): q − onehot on the polar pair, nothing on neutral.
        let pair = example_probabilities(logits, 1.0, true);
        for class in [0, 2] {
            gradient[class] = pair[class] - if class == gold { 1.0 } else { 0.0 };
        }
        // −w·log(1 − p(neutral)): w·p(neutral) on neutral, −w·p(c)·p(neutral)/(1 − p(neutral))
        // = −w·p(neutral)·q(c) on each polar class.
        if polar_neutral_weight > 0.0 {
            let full = softmax(logits, 1.0);
            let neutral = full[1];
            gradient[1] += polar_neutral_weight * neutral;
            for class in [0, 2] {
                gradient[class] -= polar_neutral_weight * neutral * pair[class];
            }
        }
    } else {
        let full = softmax(logits, 1.0);
        for class in 0..3 {
            gradient[class] = full[class] - if class == gold { 1.0 } else { 0.0 };
        }
    }
    gradient.map(|value| value * class_weight)
}

/// One AdaGrad step on a row of three class weights; returns the change.
#[inline]
fn adagrad_row(
    row: &mut [f32; 3],
    history: &mut [f32; 3],
    gradient: [f32; 3],
    value: f32,
    l2: f32,
    learning_rate: f32,
) -> [f32; 3] {
    let mut delta = [0f32; 3];
    for class in 0..3 {
        let step = gradient[class] * value + l2 * row[class];
        if step == 0.0 {
            continue;
        }
        history[class] += step * step;
        delta[class] = -learning_rate * step / (history[class].sqrt() + 1e-8);
        row[class] += delta[class];
    }
    delta
}

#[inline]
fn accumulate(sum: &mut [f64; 3], delta: [f32; 3], step_weight: f64) {
    for class in 0..3 {
        sum[class] += step_weight * f64::from(delta[class]);
    }
}

/// Σ (t − 1)·Δ_t per parameter, for [`TrainConfig::average`].
struct Averages {
    weights: Vec<[f64; 3]>,
    dense: Vec<[f64; 3]>,
    bias: [f64; 3],
}

impl Averages {
    /// The model with its weights replaced by their mean over `steps` steps.
    fn apply(&self, model: &Model, steps: u64) -> Model {
        let steps = steps.max(1) as f64;
        let mean = |current: [f32; 3], sum: &[f64; 3]| {
            let mut row = [0f32; 3];
            for class in 0..3 {
                row[class] = (f64::from(current[class]) - sum[class] / steps) as f32;
            }
            row
        };
        let mut averaged = model.clone();
        for (row, sum) in averaged.weights.iter_mut().zip(&self.weights) {
            *row = mean(*row, sum);
        }
        for (row, sum) in averaged.dense_weights.iter_mut().zip(&self.dense) {
            *row = mean(*row, sum);
        }
        averaged.bias = mean(averaged.bias, &self.bias);
        averaged
    }
}

fn class_weights(examples: &[Example], weighting: ClassWeighting) -> [f32; 3] {
    let mut counts = [0usize; 3];
    for example in examples {
        counts[class_index(example.label)] += 1;
    }
    let present = counts.iter().filter(|&&count| count > 0).count().max(1);
    let total = examples.len() as f32;
    counts.map(|count| {
        if count == 0 {
            return 1.0;
        }
        let balanced = total / (present as f32 * count as f32);
        match weighting {
            ClassWeighting::None => 1.0,
            ClassWeighting::Balanced => balanced,
            ClassWeighting::SqrtBalanced => balanced.sqrt(),
        }
    })
}

/// Every example's features, extracted once: hashed features merged per bucket and
/// scaled (CSR layout), dense features standardised.
struct TrainingData {
    offsets: Vec<usize>,
    entries: Vec<(u32, f32)>,
    dense_len: usize,
    dense_values: Vec<f32>,
    dense_spec: DenseSpec,
}

impl TrainingData {
    fn new(examples: &[Example], features: &FeatureConfig, dense: &dyn DenseFeatures) -> Self {
        let mut offsets = Vec::with_capacity(examples.len() + 1);
        let mut entries = Vec::new();
        let mut scratch: Vec<(u32, f32)> = Vec::new();
        offsets.push(0);
        for example in examples {
            scratch.clear();
            for_each_feature(&example.text, features, |hash| {
                let (bucket, sign) = bucket_and_sign(hash, features.hash_bits);
                scratch.push((bucket as u32, sign));
            });
            let scale = feature_scale(scratch.len() as u32);
            scratch.sort_unstable_by_key(|&(bucket, _)| bucket);
            let mut index = 0;
            while index < scratch.len() {
                let bucket = scratch[index].0;
                let mut sum = 0.0;
                while index < scratch.len() && scratch[index].0 == bucket {
                    sum += scratch[index].1;
                    index += 1;
                }
                // Opposite signs can cancel a bucket out.
                if sum != 0.0 {
                    entries.push((bucket, sum * scale));
                }
            }
            offsets.push(entries.len());
        }

        let dense_len = dense.len();
        let mut dense_values = Vec::with_capacity(examples.len() * dense_len);
        let mut row = Vec::with_capacity(dense_len);
        for example in examples {
            row.clear();
            dense.features(&example.text, example.lang.as_deref(), &mut row);
            row.resize(dense_len, f32::NAN);
            dense_values.extend(
                row.iter()
                    .map(|v| if v.is_finite() { *v } else { f32::NAN }),
            );
        }
        let dense_spec = standardisation(dense.name(), dense_len, &dense_values);
        for (index, value) in dense_values.iter_mut().enumerate() {
            let feature = index % dense_len.max(1);
            *value = dense_spec.standardise(feature, Some(*value));
        }
        TrainingData {
            offsets,
            entries,
            dense_len,
            dense_values,
            dense_spec,
        }
    }

    fn sparse(&self, example: usize) -> &[(u32, f32)] {
        &self.entries[self.offsets[example]..self.offsets[example + 1]]
    }

    fn dense(&self, example: usize) -> &[f32] {
        &self.dense_values[example * self.dense_len..(example + 1) * self.dense_len]
    }
}

/// Mean and 1/std of each dense feature over the finite values.
fn standardisation(name: &str, len: usize, values: &[f32]) -> DenseSpec {
    let mut mean = vec![0f32; len];
    let mut inverse_std = vec![1f32; len];
    for feature in 0..len {
        let column: Vec<f64> = values
            .iter()
            .skip(feature)
            .step_by(len)
            .filter(|v| v.is_finite())
            .map(|&v| f64::from(v))
            .collect();
        if column.is_empty() {
            continue;
        }
        let average = column.iter().sum::<f64>() / column.len() as f64;
        let variance =
            column.iter().map(|v| (v - average).powi(2)).sum::<f64>() / column.len() as f64;
        mean[feature] = average as f32;
        if variance > 1e-12 {
            inverse_std[feature] = (1.0 / variance.sqrt()) as f32;
        }
    }
    DenseSpec {
        name: name.to_owned(),
        mean,
        inverse_std,
    }
}

/// SplitMix64: small, fast, and fixed forever (unlike a crate's default generator).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        crate::features::finalize(self.0)
    }
}

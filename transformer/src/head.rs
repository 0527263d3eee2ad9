//! The classification head on sentence embeddings: a softmax regression over the
//! standardised embedding (negative, neutral, positive), trained here in Rust,
//! temperature-calibrated on dev data, and stored in a small checksummed file.
//!
//! File format version 1, all numbers little-endian:
//!
//! ```text
//! magic        8 bytes  "VIGILTHD"
//! version      u16      1
//! flags        u16      0 (reserved)
//! total_len    u64      length of the whole file, checksum included
//! dimension    u32      embedding length (384 for all-MiniLM-L6-v2), ≤ 65,536
//! temperature  f32      > 0
//! bias         3 × f32  negative, neutral, positive
//! per dimension: mean f32, 1/std f32, 3 × f32 weights
//! encoder      u16 length + UTF-8: the model the head was trained on
//! probes       u16 count, per probe: u16 length + UTF-8 text, dimension × f32 embedding
//! metadata     u32 length + UTF-8 (JSON: training data, configuration, figures)
//! checksum     u32      CRC-32 (IEEE) of every byte before it
//! ```
//!
//! The probes are a few fixed texts with the embeddings the training encoder gave them;
//! [`SentimentHead::check_encoder`] re-embeds them so a head is never silently used on
//! another model's vectors. Reading checks magic, version, length, checksum, then every
//! field; each failure is an error, never a panic.

use std::path::Path;

use serde::Serialize;
use vigil_core::Label;

use crate::encoder::{SentenceEncoder, cosine};
use crate::error::{Result, TransformerError};
use crate::labels::label_index;
use vigil_learned::bytes::ByteReader as Reader;

const MAGIC: &[u8; 8] = b"VIGILTHD";
pub const HEAD_FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = 8 + 2 + 2 + 8;
const MAX_DIMENSION: usize = 1 << 16;
const MAX_PROBES: usize = 64;
const MAX_METADATA: usize = 1 << 20;
/// Probe embeddings must agree this well (cosine) with the encoder in use. Two correct
/// engines agree to about 1e-6; another model's vectors are nowhere near.
pub const PROBE_MIN_COSINE: f32 = 0.999;

const CLASSES: [Label; 3] = Label::ALL;

/// Texts whose embeddings a new head records, for [`SentimentHead::check_encoder`].
pub const PROBE_TEXTS: [&str; 3] = [
    "The service was great and the staff were friendly.",
    "Terrible update, the app crashes every time I open it.",
    "The store opens at nine on weekdays.",
];

/// The head's verdict on one embedding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeadPrediction {
    /// Calibrated probabilities of negative, neutral, positive.
    pub probabilities: [f32; 3],
    pub label: Label,
    /// The probability of `label`.
    pub confidence: f32,
}

impl HeadPrediction {
    pub fn from_probabilities(probabilities: [f32; 3]) -> Self {
        let mut best = 0;
        for index in 1..3 {
            if probabilities[index] > probabilities[best] {
                best = index;
            }
        }
        HeadPrediction {
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

/// A text and its embedding, recorded when the head was trained.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub text: String,
    pub embedding: Vec<f32>,
}

/// Softmax regression over a standardised embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct SentimentHead {
    dimension: usize,
    mean: Vec<f32>,
    inverse_std: Vec<f32>,
    /// One row of three class weights per embedding dimension.
    weights: Vec<[f32; 3]>,
    bias: [f32; 3],
    temperature: f32,
    encoder: String,
    probes: Vec<Probe>,
    metadata: String,
}

/// One training or calibration example.
#[derive(Debug, Clone, Copy)]
pub struct LabelledEmbedding<'a> {
    pub embedding: &'a [f32],
    pub label: Label,
    /// From a corpus without neutral texts (see `vigil_learned::Example::polar_only`).
    pub polar_only: bool,
}

/// How [`train_head`] fits the weights: full-batch Adam on the mean cross-entropy plus
/// an L2 penalty, from zero weights, so the result is deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeadTrainConfig {
    pub iterations: u32,
    pub learning_rate: f32,
    /// L2 penalty on the weights (not the bias), per example.
    pub l2: f32,
    /// How much a polar-only example also teaches "not neutral": 0 = negative/positive
    /// contrast only, 1 = a plain three-class example. Loss −log q(gold) −
    /// w·log(1 − p(neutral)), q being the softmax over negative and positive alone
    /// (as in vigil-learned).
    pub polar_neutral_weight: f32,
    /// Weight three-class examples by the inverse frequency of their label.
    pub balanced: bool,
}

impl Default for HeadTrainConfig {
    /// The configuration chosen on the shared dev splits (see `RESULTS.md`).
    fn default() -> Self {
        HeadTrainConfig {
            iterations: 800,
            learning_rate: 0.05,
            l2: 1e-3,
            polar_neutral_weight: 0.5,
            balanced: false,
        }
    }
}

/// What [`SentimentHead::calibrate`] found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeadCalibration {
    pub examples: usize,
    pub temperature: f32,
    pub nll_before: f64,
    pub nll_after: f64,
}

/// Fits a head on `train`. `encoder` names the model the embeddings came from and
/// `probes` are [`PROBE_TEXTS`] with their embeddings (see
/// [`SentimentHead::check_encoder`]).
pub fn train_head(
    train: &[LabelledEmbedding<'_>],
    config: &HeadTrainConfig,
    encoder: &str,
    probes: Vec<Probe>,
) -> Result<SentimentHead> {
    let Some(first) = train.first() else {
        return Err(TransformerError::Training("no training examples".into()));
    };
    let dimension = first.embedding.len();
    if dimension == 0 || dimension > MAX_DIMENSION {
        return Err(TransformerError::Training(format!(
            "embedding dimension {dimension}"
        )));
    }
    if let Some(bad) = train.iter().find(|example| {
        example.embedding.len() != dimension || !example.embedding.iter().all(|v| v.is_finite())
    }) {
        return Err(TransformerError::Training(format!(
            "an embedding of length {} (expected {dimension}) or with non-finite values",
            bad.embedding.len()
        )));
    }
    if let Some(probe) = probes
        .iter()
        .find(|probe| probe.embedding.len() != dimension)
    {
        return Err(TransformerError::Training(format!(
            "probe {:?} has {} values, expected {dimension}",
            probe.text,
            probe.embedding.len()
        )));
    }
    if !(config.learning_rate > 0.0 && config.l2 >= 0.0 && config.iterations > 0) {
        return Err(TransformerError::Training(format!(
            "learning rate {}, l2 {}, iterations {}",
            config.learning_rate, config.l2, config.iterations
        )));
    }

    // Standardise each dimension with the training mean and deviation.
    let count = train.len() as f64;
    let mut mean = vec![0f64; dimension];
    for example in train {
        for (total, &value) in mean.iter_mut().zip(example.embedding) {
            *total += f64::from(value);
        }
    }
    mean.iter_mut().for_each(|value| *value /= count);
    let mut variance = vec![0f64; dimension];
    for example in train {
        for ((total, &value), mean) in variance.iter_mut().zip(example.embedding).zip(&mean) {
            *total += (f64::from(value) - mean).powi(2);
        }
    }
    let inverse_std: Vec<f32> = variance
        .iter()
        .map(|total| {
            let std = (total / count).sqrt();
            if std > 1e-12 { (1.0 / std) as f32 } else { 1.0 }
        })
        .collect();
    let mean: Vec<f32> = mean.iter().map(|&value| value as f32).collect();
    let inputs: Vec<Vec<f32>> = train
        .iter()
        .map(|example| standardise(example.embedding, &mean, &inverse_std))
        .collect();

    let mut label_counts = [0f64; 3];
    for example in train.iter().filter(|example| !example.polar_only) {
        label_counts[label_index(example.label)] += 1.0;
    }
    let present = label_counts.iter().filter(|&&n| n > 0.0).count().max(1) as f64;
    let three_class_total: f64 = label_counts.iter().sum();
    let example_weight = |example: &LabelledEmbedding<'_>| -> f64 {
        if config.balanced && !example.polar_only {
            three_class_total / (present * label_counts[label_index(example.label)])
        } else {
            1.0
        }
    };
    let weights_of_examples: Vec<f64> = train.iter().map(example_weight).collect();
    let weight_total: f64 = weights_of_examples.iter().sum();

    // Parameters: dimension rows of 3 weights, then the bias row.
    let parameters = (dimension + 1) * 3;
    let mut theta = vec![0f64; parameters];
    let mut first_moment = vec![0f64; parameters];
    let mut second_moment = vec![0f64; parameters];
    let mut gradient = vec![0f64; parameters];
    let (beta1, beta2, epsilon) = (0.9f64, 0.999f64, 1e-8f64);
    let learning_rate = f64::from(config.learning_rate);
    let l2 = f64::from(config.l2);
    let neutral_weight = f64::from(config.polar_neutral_weight);
    for step in 1..=config.iterations {
        gradient.fill(0.0);
        for ((input, example), &example_weight) in
            inputs.iter().zip(train).zip(&weights_of_examples)
        {
            let logits = logits_f64(&theta, input);
            let delta = loss_gradient(
                logits,
                label_index(example.label),
                example.polar_only,
                neutral_weight,
            );
            let scale = example_weight / weight_total;
            for (row, &value) in input.iter().enumerate() {
                let value = f64::from(value) * scale;
                for class in 0..3 {
                    gradient[row * 3 + class] += value * delta[class];
                }
            }
            for class in 0..3 {
                gradient[dimension * 3 + class] += scale * delta[class];
            }
        }
        for index in 0..dimension * 3 {
            gradient[index] += l2 * theta[index];
        }
        let correction1 = 1.0 - beta1.powi(step as i32);
        let correction2 = 1.0 - beta2.powi(step as i32);
        for index in 0..parameters {
            first_moment[index] = beta1 * first_moment[index] + (1.0 - beta1) * gradient[index];
            second_moment[index] =
                beta2 * second_moment[index] + (1.0 - beta2) * gradient[index].powi(2);
            let m = first_moment[index] / correction1;
            let v = second_moment[index] / correction2;
            theta[index] -= learning_rate * m / (v.sqrt() + epsilon);
        }
    }
    let weights = (0..dimension)
        .map(|row| {
            [
                theta[row * 3] as f32,
                theta[row * 3 + 1] as f32,
                theta[row * 3 + 2] as f32,
            ]
        })
        .collect();
    let bias = [
        theta[dimension * 3] as f32,
        theta[dimension * 3 + 1] as f32,
        theta[dimension * 3 + 2] as f32,
    ];
    Ok(SentimentHead {
        dimension,
        mean,
        inverse_std,
        weights,
        bias,
        temperature: 1.0,
        encoder: encoder.to_owned(),
        probes,
        metadata: String::new(),
    })
}

fn standardise(embedding: &[f32], mean: &[f32], inverse_std: &[f32]) -> Vec<f32> {
    embedding
        .iter()
        .zip(mean)
        .zip(inverse_std)
        .map(|((value, mean), scale)| (value - mean) * scale)
        .collect()
}

fn logits_f64(theta: &[f64], input: &[f32]) -> [f64; 3] {
    let dimension = input.len();
    let mut logits = [
        theta[dimension * 3],
        theta[dimension * 3 + 1],
        theta[dimension * 3 + 2],
    ];
    for (row, &value) in input.iter().enumerate() {
        let value = f64::from(value);
        for (class, logit) in logits.iter_mut().enumerate() {
            *logit += value * theta[row * 3 + class];
        }
    }
    logits
}

fn softmax3(logits: [f64; 3]) -> [f64; 3] {
    let max = logits[0].max(logits[1]).max(logits[2]);
    let exp = logits.map(|value| (value - max).exp());
    let sum = exp[0] + exp[1] + exp[2];
    exp.map(|value| value / sum)
}

/// d loss / d logits (see [`HeadTrainConfig::polar_neutral_weight`]).
fn loss_gradient(logits: [f64; 3], gold: usize, polar_only: bool, neutral_weight: f64) -> [f64; 3] {
    let p = softmax3(logits);
    if !polar_only {
        let mut delta = p;
        delta[gold] -= 1.0;
        return delta;
    }
    let pair = softmax3([logits[0], f64::NEG_INFINITY, logits[2]]);
    let mut delta = [0f64; 3];
    for class in [0, 2] {
        delta[class] = pair[class] - f64::from(u8::from(class == gold))
            + neutral_weight * (p[class] - pair[class]);
    }
    delta[1] = neutral_weight * p[1];
    delta
}

fn loss(logits: [f64; 3], gold: usize, polar_only: bool, neutral_weight: f64) -> f64 {
    let p = softmax3(logits);
    if !polar_only {
        return -p[gold].max(1e-300).ln();
    }
    let pair = softmax3([logits[0], f64::NEG_INFINITY, logits[2]]);
    -pair[gold].max(1e-300).ln() - neutral_weight * (1.0 - p[1]).max(1e-300).ln()
}

impl SentimentHead {
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Softmax temperature from calibration (1 = uncalibrated).
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// The model the head was trained on.
    pub fn encoder(&self) -> &str {
        &self.encoder
    }

    pub fn probes(&self) -> &[Probe] {
        &self.probes
    }

    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    pub fn set_metadata(&mut self, metadata: impl Into<String>) {
        self.metadata = metadata.into();
    }

    /// Uncalibrated class scores.
    pub fn logits(&self, embedding: &[f32]) -> Result<[f32; 3]> {
        if embedding.len() != self.dimension {
            return Err(TransformerError::HeadMismatch(format!(
                "embedding of length {}, the head takes {}",
                embedding.len(),
                self.dimension
            )));
        }
        let mut logits = self.bias;
        for (((value, mean), scale), row) in embedding
            .iter()
            .zip(&self.mean)
            .zip(&self.inverse_std)
            .zip(&self.weights)
        {
            let input = (value - mean) * scale;
            for class in 0..3 {
                logits[class] += input * row[class];
            }
        }
        Ok(logits)
    }

    /// Calibrated prediction for one embedding.
    pub fn predict(&self, embedding: &[f32]) -> Result<HeadPrediction> {
        let logits = self.logits(embedding)?;
        let scaled = logits.map(|logit| f64::from(logit / self.temperature));
        let probabilities = softmax3(scaled).map(|p| p as f32);
        Ok(HeadPrediction::from_probabilities(probabilities))
    }

    /// Fits the softmax temperature on `dev` (minimum mean negative log-likelihood under
    /// the training loss, golden-section search on log T over [0.05, 20]) and keeps it.
    pub fn calibrate(
        &mut self,
        dev: &[LabelledEmbedding<'_>],
        polar_neutral_weight: f32,
    ) -> Result<HeadCalibration> {
        if dev.is_empty() {
            return Err(TransformerError::Training("no calibration examples".into()));
        }
        let logits: Vec<([f32; 3], usize, bool)> = dev
            .iter()
            .map(|example| {
                Ok((
                    self.logits(example.embedding)?,
                    label_index(example.label),
                    example.polar_only,
                ))
            })
            .collect::<Result<_>>()?;
        let neutral_weight = f64::from(polar_neutral_weight);
        let nll = |temperature: f64| -> f64 {
            logits
                .iter()
                .map(|&(logits, gold, polar_only)| {
                    let scaled = logits.map(|logit| f64::from(logit) / temperature);
                    loss(scaled, gold, polar_only, neutral_weight)
                })
                .sum::<f64>()
                / logits.len() as f64
        };
        let (mut low, mut high) = (0.05f64.ln(), 20f64.ln());
        let ratio = (5f64.sqrt() - 1.0) / 2.0;
        for _ in 0..60 {
            let left = high - ratio * (high - low);
            let right = low + ratio * (high - low);
            if nll(left.exp()) <= nll(right.exp()) {
                high = right;
            } else {
                low = left;
            }
        }
        let fitted = ((low + high) / 2.0).exp();
        let calibration = HeadCalibration {
            examples: dev.len(),
            temperature: fitted as f32,
            nll_before: nll(f64::from(self.temperature)),
            nll_after: nll(fitted),
        };
        self.temperature = fitted as f32;
        Ok(calibration)
    }

    /// Re-embeds the probe texts with `encoder` and requires every embedding to match
    /// the recorded one (cosine ≥ [`PROBE_MIN_COSINE`]), and the dimensions to agree.
    pub fn check_encoder(&self, encoder: &dyn SentenceEncoder) -> Result<()> {
        if encoder.dimension() != self.dimension {
            return Err(TransformerError::HeadMismatch(format!(
                "the encoder {} gives {} values, the head (trained on {}) takes {}",
                encoder.model_id(),
                encoder.dimension(),
                self.encoder,
                self.dimension
            )));
        }
        if self.probes.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = self
            .probes
            .iter()
            .map(|probe| probe.text.as_str())
            .collect();
        let embeddings = encoder.embed(&texts)?;
        for (probe, embedding) in self.probes.iter().zip(&embeddings) {
            let similarity = cosine(&probe.embedding, embedding);
            if similarity.is_nan() || similarity < PROBE_MIN_COSINE {
                return Err(TransformerError::HeadMismatch(format!(
                    "the head was trained on {} embeddings; the encoder {} embeds {:?} \
                     differently (cosine {similarity:.4}, need {PROBE_MIN_COSINE})",
                    self.encoder,
                    encoder.model_id(),
                    probe.text
                )));
            }
        }
        Ok(())
    }

    /// The head in file format version 1.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.dimension * 20 + 4096);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&HEAD_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // total_len, patched below
        out.extend_from_slice(&(self.dimension as u32).to_le_bytes());
        put_f32(&mut out, self.temperature);
        for value in self.bias {
            put_f32(&mut out, value);
        }
        for row in 0..self.dimension {
            put_f32(&mut out, self.mean[row]);
            put_f32(&mut out, self.inverse_std[row]);
            for value in self.weights[row] {
                put_f32(&mut out, value);
            }
        }
        put_string16(&mut out, &self.encoder);
        let probes = &self.probes[..self.probes.len().min(MAX_PROBES)];
        out.extend_from_slice(&(probes.len() as u16).to_le_bytes());
        for probe in probes {
            put_string16(&mut out, &probe.text);
            for &value in &probe.embedding {
                put_f32(&mut out, value);
            }
        }
        let metadata = truncate_utf8(&self.metadata, MAX_METADATA);
        out.extend_from_slice(&(metadata.len() as u32).to_le_bytes());
        out.extend_from_slice(metadata.as_bytes());
        let total_len = (out.len() + 4) as u64;
        out[12..20].copy_from_slice(&total_len.to_le_bytes());
        let checksum = crc32fast::hash(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    /// Reads a head written by [`SentimentHead::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<SentimentHead> {
        let prefix = bytes.len().min(MAGIC.len());
        if bytes[..prefix] != MAGIC[..prefix] {
            return Err(TransformerError::HeadBadMagic);
        }
        if bytes.len() < HEADER_LEN + 4 {
            return Err(TransformerError::HeadTruncated {
                expected: (HEADER_LEN + 4) as u64,
                actual: bytes.len() as u64,
            });
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != HEAD_FORMAT_VERSION {
            return Err(TransformerError::HeadUnsupportedVersion {
                found: version,
                supported: HEAD_FORMAT_VERSION,
            });
        }
        let mut total_len = [0u8; 8];
        total_len.copy_from_slice(&bytes[12..20]);
        let total_len = u64::from_le_bytes(total_len);
        if (bytes.len() as u64) < total_len {
            return Err(TransformerError::HeadTruncated {
                expected: total_len,
                actual: bytes.len() as u64,
            });
        }
        if bytes.len() as u64 > total_len {
            return Err(TransformerError::HeadCorrupt(format!(
                "{} bytes after the end the header gives ({total_len})",
                bytes.len() as u64 - total_len
            )));
        }
        let (body, stored) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
        let actual = crc32fast::hash(body);
        if stored != actual {
            return Err(TransformerError::HeadChecksumMismatch { stored, actual });
        }
        let flags = u16::from_le_bytes([bytes[10], bytes[11]]);
        if flags != 0 {
            return Err(TransformerError::HeadCorrupt(format!(
                "unknown flags {flags:#06x}"
            )));
        }
        let mut reader = Reader::new(body, HEADER_LEN);
        let dimension = reader.u32("dimension")? as usize;
        if dimension == 0 || dimension > MAX_DIMENSION {
            return Err(TransformerError::HeadCorrupt(format!(
                "dimension {dimension}"
            )));
        }
        let temperature = reader.finite_f32("temperature")?;
        if temperature <= 0.0 {
            return Err(TransformerError::HeadCorrupt(format!(
                "temperature {temperature} is not positive"
            )));
        }
        let bias = [
            reader.finite_f32("bias")?,
            reader.finite_f32("bias")?,
            reader.finite_f32("bias")?,
        ];
        let mut mean = Vec::with_capacity(dimension);
        let mut inverse_std = Vec::with_capacity(dimension);
        let mut weights = Vec::with_capacity(dimension);
        for _ in 0..dimension {
            mean.push(reader.finite_f32("mean")?);
            inverse_std.push(reader.finite_f32("scale")?);
            weights.push([
                reader.finite_f32("weight")?,
                reader.finite_f32("weight")?,
                reader.finite_f32("weight")?,
            ]);
        }
        let length = usize::from(reader.u16("encoder name length")?);
        let encoder = reader.string(length, "encoder name")?;
        let probe_count = usize::from(reader.u16("probe count")?);
        if probe_count > MAX_PROBES {
            return Err(TransformerError::HeadCorrupt(format!(
                "{probe_count} probes"
            )));
        }
        let mut probes = Vec::with_capacity(probe_count);
        for _ in 0..probe_count {
            let length = usize::from(reader.u16("probe text length")?);
            let text = reader.string(length, "probe text")?;
            let embedding = (0..dimension)
                .map(|_| reader.finite_f32("probe embedding"))
                .collect::<std::result::Result<Vec<f32>, _>>()?;
            probes.push(Probe { text, embedding });
        }
        let metadata_length = reader.u32("metadata length")? as usize;
        if metadata_length > MAX_METADATA {
            return Err(TransformerError::HeadCorrupt(format!(
                "metadata of {metadata_length} bytes"
            )));
        }
        let metadata = reader.string(metadata_length, "metadata")?;
        if reader.remaining() != 0 {
            return Err(TransformerError::HeadCorrupt(format!(
                "{} unread bytes before the checksum",
                reader.remaining()
            )));
        }
        Ok(SentimentHead {
            dimension,
            mean,
            inverse_std,
            weights,
            bias,
            temperature,
            encoder,
            probes,
            metadata,
        })
    }

    /// Writes the head to `path` through a temporary file and a rename.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = std::path::PathBuf::from(temporary);
        std::fs::write(&temporary, self.to_bytes()).map_err(TransformerError::io(&temporary))?;
        std::fs::rename(&temporary, path).map_err(TransformerError::io(path))
    }

    pub fn load(path: &Path) -> Result<SentimentHead> {
        let bytes = std::fs::read(path).map_err(TransformerError::io(path))?;
        SentimentHead::from_bytes(&bytes)
    }
}

fn put_f32(out: &mut Vec<u8>, value: f32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_string16(out: &mut Vec<u8>, text: &str) {
    let text = truncate_utf8(text, u16::MAX as usize);
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points around three centres in 4 dimensions.
    fn toy_data() -> Vec<(Vec<f32>, Label, bool)> {
        let centres = [
            ([1.0, 0.0, 0.0, 0.2], Label::Negative),
            ([0.0, 1.0, 0.0, 0.2], Label::Neutral),
            ([0.0, 0.0, 1.0, 0.2], Label::Positive),
        ];
        let mut data = Vec::new();
        for step in 0..30 {
            for (centre, label) in centres {
                let jitter = (step as f32 * 0.37).sin() * 0.3;
                let mut point = centre.to_vec();
                point[(step % 4) as usize] += jitter;
                data.push((point, label, false));
            }
        }
        data
    }

    fn examples(data: &[(Vec<f32>, Label, bool)]) -> Vec<LabelledEmbedding<'_>> {
        data.iter()
            .map(|(embedding, label, polar_only)| LabelledEmbedding {
                embedding,
                label: *label,
                polar_only: *polar_only,
            })
            .collect()
    }

    fn toy_head() -> SentimentHead {
        let data = toy_data();
        let probes = vec![Probe {
            text: "probe".into(),
            embedding: vec![0.5, 0.5, 0.0, 0.0],
        }];
        let mut head =
            train_head(&examples(&data), &HeadTrainConfig::default(), "toy", probes).unwrap();
        head.set_metadata(r#"{"note": "toy"}"#);
        head
    }

    #[test]
    fn learns_separable_classes() {
        let head = toy_head();
        for (point, label, _) in toy_data() {
            assert_eq!(head.predict(&point).unwrap().label, label, "{point:?}");
        }
        assert!(head.predict(&[1.0, 2.0]).is_err());
    }

    #[test]
    fn polar_only_examples_leave_neutral_alone() {
        // Only polar-only data, neutral weight 0: neutral is never pushed up or down
        // from its zero start, and the polar contrast is learned.
        let data: Vec<_> = toy_data()
            .into_iter()
            .filter(|(_, label, _)| *label != Label::Neutral)
            .map(|(point, label, _)| (point, label, true))
            .collect();
        let config = HeadTrainConfig {
            polar_neutral_weight: 0.0,
            ..HeadTrainConfig::default()
        };
        let head = train_head(&examples(&data), &config, "toy", Vec::new()).unwrap();
        assert!(head.weights.iter().all(|row| row[1] == 0.0));
        for (point, label, _) in &data {
            assert_eq!(head.predict(point).unwrap().polar_label(), *label);
        }
    }

    #[test]
    fn calibration_lowers_the_nll() {
        let mut head = toy_head();
        let data = toy_data();
        let calibration = head.calibrate(&examples(&data), 1.0).unwrap();
        assert!(calibration.nll_after <= calibration.nll_before + 1e-12);
        assert_eq!(head.temperature(), calibration.temperature);
    }

    #[test]
    fn file_round_trip() {
        let head = toy_head();
        let bytes = head.to_bytes();
        assert_eq!(SentimentHead::from_bytes(&bytes).unwrap(), head);
    }

    #[test]
    fn corrupt_files_are_errors() {
        let bytes = toy_head().to_bytes();
        assert!(matches!(
            SentimentHead::from_bytes(b"VIGILLRN...."),
            Err(TransformerError::HeadBadMagic)
        ));
        assert!(matches!(
            SentimentHead::from_bytes(b""),
            Err(TransformerError::HeadTruncated { .. })
        ));
        // Every truncation and every single flipped byte is an error, never a panic.
        for cut in 0..bytes.len() {
            assert!(
                SentimentHead::from_bytes(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        for position in 0..bytes.len() {
            let mut corrupt = bytes.clone();
            corrupt[position] ^= 0x41;
            assert!(
                SentimentHead::from_bytes(&corrupt).is_err(),
                "flip at {position}"
            );
        }
        let mut future = bytes.clone();
        future[8] = 2;
        assert!(matches!(
            SentimentHead::from_bytes(&future),
            Err(TransformerError::HeadUnsupportedVersion { found: 2, .. })
        ));
        let mut longer = bytes;
        longer.push(0);
        assert!(SentimentHead::from_bytes(&longer).is_err());
    }

    #[test]
    fn polar_gradient_matches_finite_differences() {
        let logits = [0.3, -0.2, 0.8];
        for (gold, polar_only, weight) in [(0, false, 1.0), (2, true, 0.0), (0, true, 0.5)] {
            let analytic = loss_gradient(logits, gold, polar_only, weight);
            for class in 0..3 {
                let mut up = logits;
                up[class] += 1e-6;
                let mut down = logits;
                down[class] -= 1e-6;
                let numeric = (loss(up, gold, polar_only, weight)
                    - loss(down, gold, polar_only, weight))
                    / 2e-6;
                assert!(
                    (numeric - analytic[class]).abs() < 1e-6,
                    "class {class}: {numeric} vs {}",
                    analytic[class]
                );
            }
        }
    }
}

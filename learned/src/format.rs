//! The model file, format version 1. All integers and floats little-endian.
//!
//! ```text
//! magic        8 bytes  "VIGILLRN"
//! version      u16      1
//! flags        u16      0 (reserved)
//! total_len    u64      length of the whole file, checksum included
//! features     8 × u8   hash_bits, word_ngrams, cjk_min, cjk_max,
//!                       latin_min, latin_max (0, 0 = off), negation, signals
//! classes      u8 count (3), then per class: u8 length + UTF-8 name
//!              ("negative", "neutral", "positive": the order of every row below)
//! temperature  f32
//! bias         3 × f32
//! dense        u16 name length + UTF-8 name, u32 count,
//!              then per feature: mean f32, 1/std f32, 3 × f32 weights
//! metadata     u32 length + UTF-8 (free-form JSON: training data, config, figures)
//! weights      u8 encoding (0 = f32, 1 = int8 sqrt-companded), u32 buckets (= 2^hash_bits),
//!              int8 only: f32 scale; then buckets × 3 values (f32 or i8), bucket-major
//! checksum     u32      CRC-32 (IEEE) of every byte before it
//! ```
//!
//! Reading checks, in order: magic, version, length (truncation), checksum, then every
//! field's range; each failure is a [`LearnedError`], never a panic.

use std::io::Write;
use std::path::Path;

use crate::bytes::ByteReader as Reader;
use crate::error::{LearnedError, Result};
use crate::features::{FeatureConfig, NgramRange};
use crate::model::{CLASSES, DenseSpec, Model, WeightEncoding};

const MAGIC: &[u8; 8] = b"VIGILLRN";
pub const FORMAT_VERSION: u16 = 1;
/// magic + version + flags + total_len.
const HEADER_LEN: usize = 8 + 2 + 2 + 8;
const MAX_DENSE: usize = 1 << 16;
const MAX_METADATA: usize = 16 << 20;

impl Model {
    /// The model in file format version 1.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.weights.len() * 3 + 4096);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // total_len, patched below

        let features = &self.features;
        let latin = features
            .latin_char_ngrams
            .unwrap_or(NgramRange { min: 0, max: 0 });
        out.extend_from_slice(&[
            features.hash_bits,
            features.word_ngrams,
            features.cjk_char_ngrams.min,
            features.cjk_char_ngrams.max,
            latin.min,
            latin.max,
            u8::from(features.negation),
            u8::from(features.signals),
        ]);
        out.push(CLASSES.len() as u8);
        for class in CLASSES {
            out.push(class.as_str().len() as u8);
            out.extend_from_slice(class.as_str().as_bytes());
        }
        put_f32(&mut out, self.temperature);
        for value in self.bias {
            put_f32(&mut out, value);
        }

        // Names are short by construction; cut rather than write an unreadable file.
        let name = truncate_utf8(&self.dense.name, u16::MAX as usize);
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(self.dense.len() as u32).to_le_bytes());
        for index in 0..self.dense.len() {
            put_f32(&mut out, self.dense.mean[index]);
            put_f32(&mut out, self.dense.inverse_std[index]);
            for value in self.dense_weights[index] {
                put_f32(&mut out, value);
            }
        }

        let metadata = truncate_utf8(&self.metadata, MAX_METADATA);
        out.extend_from_slice(&(metadata.len() as u32).to_le_bytes());
        out.extend_from_slice(metadata.as_bytes());

        match self.encoding {
            WeightEncoding::F32 => {
                out.push(0);
                out.extend_from_slice(&(self.weights.len() as u32).to_le_bytes());
                for row in &self.weights {
                    for &value in row {
                        put_f32(&mut out, value);
                    }
                }
            }
            WeightEncoding::Int8Sqrt => {
                out.push(1);
                out.extend_from_slice(&(self.weights.len() as u32).to_le_bytes());
                let scale = int8_scale(&self.weights);
                put_f32(&mut out, scale);
                for row in &self.weights {
                    for &value in row {
                        out.push(int8_encode(value, scale) as u8);
                    }
                }
            }
        }

        let total_len = (out.len() + 4) as u64;
        out[12..20].copy_from_slice(&total_len.to_le_bytes());
        let checksum = crc32fast::hash(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    /// Reads a model written by [`Model::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        let prefix = bytes.len().min(MAGIC.len());
        if bytes[..prefix] != MAGIC[..prefix] {
            return Err(LearnedError::BadMagic);
        }
        if bytes.len() < HEADER_LEN {
            return Err(LearnedError::Truncated {
                expected: HEADER_LEN as u64,
                actual: bytes.len() as u64,
            });
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != FORMAT_VERSION {
            return Err(LearnedError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let mut total_len = [0u8; 8];
        total_len.copy_from_slice(&bytes[12..20]);
        let total_len = u64::from_le_bytes(total_len);
        if (bytes.len() as u64) < total_len {
            return Err(LearnedError::Truncated {
                expected: total_len,
                actual: bytes.len() as u64,
            });
        }
        if bytes.len() as u64 > total_len {
            return Err(LearnedError::Corrupt(format!(
                "{} bytes after the end the header gives ({total_len})",
                bytes.len() as u64 - total_len
            )));
        }
        if bytes.len() < HEADER_LEN + 4 {
            return Err(LearnedError::Corrupt("no room for the checksum".into()));
        }
        let (body, stored) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
        let actual = crc32fast::hash(body);
        if stored != actual {
            return Err(LearnedError::ChecksumMismatch { stored, actual });
        }
        let flags = u16::from_le_bytes([bytes[10], bytes[11]]);
        if flags != 0 {
            return Err(LearnedError::Corrupt(format!("unknown flags {flags:#06x}")));
        }
        parse_body(&mut Reader::new(body, HEADER_LEN))
    }

    /// Writes the model to `path` (through a temporary file and a rename, so a crash
    /// never leaves half a model).
    pub fn save(&self, path: &Path) -> Result<()> {
        let io_error = |source| LearnedError::Io {
            path: path.to_owned(),
            source,
        };
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = std::path::PathBuf::from(temporary);
        let mut file = std::fs::File::create(&temporary).map_err(io_error)?;
        file.write_all(&self.to_bytes()).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        drop(file);
        std::fs::rename(&temporary, path).map_err(io_error)
    }

    pub fn load(path: &Path) -> Result<Model> {
        let bytes = std::fs::read(path).map_err(|source| LearnedError::Io {
            path: path.to_owned(),
            source,
        })?;
        Model::from_bytes(&bytes)
    }
}

fn parse_body(reader: &mut Reader<'_>) -> Result<Model> {
    let [
        hash_bits,
        word_ngrams,
        cjk_min,
        cjk_max,
        latin_min,
        latin_max,
        negation,
        signals,
    ] = reader.array::<8>("feature configuration")?;
    let features = FeatureConfig {
        hash_bits,
        word_ngrams,
        cjk_char_ngrams: NgramRange {
            min: cjk_min,
            max: cjk_max,
        },
        latin_char_ngrams: (latin_max > 0).then_some(NgramRange {
            min: latin_min,
            max: latin_max,
        }),
        negation: flag(negation, "negation")?,
        signals: flag(signals, "signals")?,
    };
    features
        .validate()
        .map_err(|error| LearnedError::Corrupt(error.to_string()))?;

    let class_count = reader.u8("class count")?;
    if usize::from(class_count) != CLASSES.len() {
        return Err(LearnedError::Corrupt(format!(
            "{class_count} classes, expected {}",
            CLASSES.len()
        )));
    }
    for expected in CLASSES {
        let length = reader.u8("class name length")?;
        let name = reader.take(usize::from(length), "class name")?;
        if name != expected.as_str().as_bytes() {
            return Err(LearnedError::Corrupt(format!(
                "class order {:?}, expected negative, neutral, positive",
                String::from_utf8_lossy(name)
            )));
        }
    }
    let temperature = reader.f32("temperature")?;
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(LearnedError::Corrupt(format!(
            "temperature {temperature} is not positive"
        )));
    }
    let bias = [
        reader.finite_f32("bias")?,
        reader.finite_f32("bias")?,
        reader.finite_f32("bias")?,
    ];

    let name_length = usize::from(reader.u16("dense name length")?);
    let dense_name = reader.string(name_length, "dense feature name")?;
    let dense_count = reader.u32("dense feature count")? as usize;
    if dense_count > MAX_DENSE {
        return Err(LearnedError::Corrupt(format!(
            "{dense_count} dense features (at most {MAX_DENSE})"
        )));
    }
    let mut mean = Vec::with_capacity(dense_count);
    let mut inverse_std = Vec::with_capacity(dense_count);
    let mut dense_weights = Vec::with_capacity(dense_count);
    for _ in 0..dense_count {
        mean.push(reader.finite_f32("dense mean")?);
        inverse_std.push(reader.finite_f32("dense scale")?);
        dense_weights.push([
            reader.finite_f32("dense weight")?,
            reader.finite_f32("dense weight")?,
            reader.finite_f32("dense weight")?,
        ]);
    }

    let metadata_length = reader.u32("metadata length")? as usize;
    if metadata_length > MAX_METADATA {
        return Err(LearnedError::Corrupt(format!(
            "metadata of {metadata_length} bytes"
        )));
    }
    let metadata = reader.string(metadata_length, "metadata")?;

    let encoding = match reader.u8("weight encoding")? {
        0 => WeightEncoding::F32,
        1 => WeightEncoding::Int8Sqrt,
        other => {
            return Err(LearnedError::Corrupt(format!(
                "unknown weight encoding {other}"
            )));
        }
    };
    let buckets = reader.u32("bucket count")? as usize;
    if buckets != features.buckets() {
        return Err(LearnedError::Corrupt(format!(
            "{buckets} weight rows for hash_bits {} (expected {})",
            features.hash_bits,
            features.buckets()
        )));
    }
    let weights = match encoding {
        WeightEncoding::F32 => {
            let raw = reader.take(buckets * 12, "weights")?;
            let mut weights = Vec::with_capacity(buckets);
            for row in raw.chunks_exact(12) {
                let value = |offset: usize| {
                    f32::from_le_bytes([
                        row[offset],
                        row[offset + 1],
                        row[offset + 2],
                        row[offset + 3],
                    ])
                };
                let values = [value(0), value(4), value(8)];
                if !values.iter().all(|v| v.is_finite()) {
                    return Err(LearnedError::Corrupt("non-finite weight".into()));
                }
                weights.push(values);
            }
            weights
        }
        WeightEncoding::Int8Sqrt => {
            let scale = reader.finite_f32("weight scale")?;
            if scale <= 0.0 {
                return Err(LearnedError::Corrupt(format!("weight scale {scale}")));
            }
            let raw = reader.take(buckets * 3, "weights")?;
            raw.chunks_exact(3)
                .map(|row| {
                    [
                        int8_decode(row[0] as i8, scale),
                        int8_decode(row[1] as i8, scale),
                        int8_decode(row[2] as i8, scale),
                    ]
                })
                .collect()
        }
    };
    if reader.remaining() != 0 {
        return Err(LearnedError::Corrupt(format!(
            "{} unread bytes before the checksum",
            reader.remaining()
        )));
    }
    Ok(Model {
        features,
        dense: DenseSpec {
            name: dense_name,
            mean,
            inverse_std,
        },
        weights,
        dense_weights,
        bias,
        temperature,
        encoding,
        metadata,
    })
}

fn flag(value: u8, what: &str) -> Result<bool> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(LearnedError::Corrupt(format!("{what} flag is {other}"))),
    }
}

fn put_f32(out: &mut Vec<u8>, value: f32) {
    out.extend_from_slice(&value.to_le_bytes());
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

/// The largest |weight| (1 for an all-zero table, so decoding stays finite).
pub(crate) fn int8_scale(weights: &[[f32; 3]]) -> f32 {
    let max = weights
        .iter()
        .flatten()
        .fold(0f32, |max, &value| max.max(value.abs()));
    if max > 0.0 && max.is_finite() {
        max
    } else {
        1.0
    }
}

pub(crate) fn int8_encode(value: f32, scale: f32) -> i8 {
    if !value.is_finite() {
        return 0;
    }
    let magnitude = ((value.abs() / scale).min(1.0).sqrt() * 127.0).round() as i8;
    if value < 0.0 { -magnitude } else { magnitude }
}

pub(crate) fn int8_decode(code: i8, scale: f32) -> f32 {
    // -128 never comes out of the encoder; read it as -127 rather than fail.
    let magnitude = f32::from(code.unsigned_abs().min(127)) / 127.0;
    let value = magnitude * magnitude * scale;
    if code < 0 { -value } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_round_trip_is_idempotent() {
        let scale = 2.5;
        for code in -127i8..=127 {
            let value = int8_decode(code, scale);
            assert_eq!(int8_encode(value, scale), code, "code {code}");
        }
        assert_eq!(int8_encode(2.5, scale), 127);
        assert_eq!(int8_encode(-2.5, scale), -127);
        assert_eq!(int8_encode(0.0, scale), 0);
        assert_eq!(int8_encode(f32::NAN, scale), 0);
    }
}

//! The model file: round trips predict identically; truncated, corrupt, foreign and
//! wrong-version files are errors, never panics.

mod common;

use vigil_learned::{
    FORMAT_VERSION, FeatureConfig, LearnedError, Model, NoDense, TrainConfig, WeightEncoding, train,
};

fn small_model(quantize: bool) -> Model {
    let config = TrainConfig {
        features: FeatureConfig {
            hash_bits: 12,
            ..FeatureConfig::default()
        },
        epochs: 10,
        quantize,
        ..TrainConfig::default()
    };
    let mut model = train(&common::handwritten(), &config, &NoDense).unwrap();
    model.calibrate(&common::handwritten(), &NoDense).unwrap();
    model.set_metadata(r#"{"note":"test model, 中文"}"#);
    model
}

const PROBES: &[&str] = &[
    "I love this phone",
    "terrible service",
    "the shop opens at nine",
    "很好吃",
    "太难吃了",
    "",
    "@someone http://t.co/x 12 :) 😀 NOT GOOD!!!",
];

fn assert_same_predictions(first: &Model, second: &Model) {
    for text in PROBES {
        let a = first.predict(text, None, &NoDense).unwrap();
        let b = second.predict(text, None, &NoDense).unwrap();
        assert_eq!(a, b, "{text:?}");
    }
}

#[test]
fn round_trip_predicts_identically() {
    for quantize in [true, false] {
        let model = small_model(quantize);
        assert_eq!(
            model.weight_encoding(),
            if quantize {
                WeightEncoding::Int8Sqrt
            } else {
                WeightEncoding::F32
            }
        );
        let loaded = Model::from_bytes(&model.to_bytes()).unwrap();
        assert_eq!(loaded, model, "quantize {quantize}");
        assert_same_predictions(&model, &loaded);
        assert_eq!(loaded.metadata(), r#"{"note":"test model, 中文"}"#);
        // Writing the loaded model again gives the same bytes.
        assert_eq!(loaded.to_bytes(), model.to_bytes());
    }
}

#[test]
fn save_and_load_through_a_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("model.vlm");
    let model = small_model(true);
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    assert_same_predictions(&model, &loaded);
    assert!(!directory.path().join("model.vlm.tmp").exists());

    let missing = Model::load(&directory.path().join("absent.vlm")).unwrap_err();
    assert!(matches!(missing, LearnedError::Io { .. }));
    assert!(missing.to_string().contains("absent.vlm"));
}

#[test]
fn quantized_weights_are_one_byte_each() {
    let quantized = small_model(true).to_bytes().len();
    let exact = small_model(false).to_bytes().len();
    let buckets = 1usize << 12;
    // f32 rows take 12 bytes, int8 rows 3 (plus a 4-byte scale).
    assert_eq!(exact - quantized, buckets * 9 - 4);
}

#[test]
fn foreign_and_wrong_version_files_are_refused() {
    assert!(matches!(
        Model::from_bytes(b"PK\x03\x04 a zip file"),
        Err(LearnedError::BadMagic)
    ));
    assert!(matches!(
        Model::from_bytes(b""),
        Err(LearnedError::Truncated { .. })
    ));
    assert!(matches!(
        Model::from_bytes(b"VIGIL"),
        Err(LearnedError::Truncated { .. })
    ));

    let mut bytes = small_model(true).to_bytes();
    bytes[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let error = Model::from_bytes(&bytes).unwrap_err();
    assert!(
        matches!(error, LearnedError::UnsupportedVersion { found, .. } if found == FORMAT_VERSION + 1)
    );
    assert!(error.to_string().contains("version 2"), "{error}");
}

#[test]
fn truncated_files_are_refused() {
    let bytes = small_model(true).to_bytes();
    for length in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        let error = Model::from_bytes(&bytes[..length]).unwrap_err();
        match error {
            LearnedError::Truncated { actual, .. } => assert_eq!(actual, length as u64),
            LearnedError::BadMagic if length == 0 => {}
            other => panic!("length {length}: {other}"),
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        Model::from_bytes(&longer),
        Err(LearnedError::Corrupt(_))
    ));
}

#[test]
fn every_single_byte_flip_is_detected() {
    let bytes = small_model(true).to_bytes();
    // Flip each byte of the header and body regions (all of a small file would take
    // ~12k loads; every 3rd byte plus the whole header keeps it quick).
    let positions = (0..64).chain((64..bytes.len()).step_by(3));
    for position in positions {
        let mut corrupt = bytes.clone();
        corrupt[position] ^= 0x5A;
        assert!(
            Model::from_bytes(&corrupt).is_err(),
            "flip at {position} was not detected"
        );
    }
}

/// SplitMix64, so the "fuzz" loop is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_damage_never_panics_and_is_an_error() {
    let bytes = small_model(true).to_bytes();
    let mut rng = Rng(7);
    for round in 0..2_000 {
        let mut damaged = bytes.clone();
        match round % 4 {
            // Random byte changes.
            0 => {
                for _ in 0..1 + rng.below(8) {
                    let position = rng.below(damaged.len());
                    damaged[position] = rng.next() as u8;
                }
            }
            // Truncation.
            1 => damaged.truncate(rng.below(damaged.len())),
            // A random slice removed from the middle.
            2 => {
                let start = rng.below(damaged.len());
                let end = (start + 1 + rng.below(64)).min(damaged.len());
                damaged.drain(start..end);
            }
            // Random garbage behind a valid magic.
            _ => {
                let length = 8 + rng.below(256);
                damaged = (0..length).map(|_| rng.next() as u8).collect();
                damaged[..8].copy_from_slice(b"VIGILLRN");
            }
        }
        if damaged == bytes {
            continue;
        }
        assert!(Model::from_bytes(&damaged).is_err(), "round {round}");
    }
}

/// Bytes with a recomputed checksum, as a buggy writer would produce: the field checks
/// still reject them.
fn with_checksum(mut body: Vec<u8>) -> Vec<u8> {
    let total = (body.len() + 4) as u64;
    body[12..20].copy_from_slice(&total.to_le_bytes());
    let checksum = crc32fast_hash(&body);
    body.extend_from_slice(&checksum.to_le_bytes());
    body
}

/// CRC-32 (IEEE), bit by bit: independent of the crate's implementation.
fn crc32fast_hash(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn out_of_range_fields_behind_a_valid_checksum_are_refused() {
    let bytes = small_model(true).to_bytes();
    let body = bytes[..bytes.len() - 4].to_vec();
    // The independent CRC agrees with the writer's.
    assert_eq!(with_checksum(body.clone()), bytes);

    let cases: [(usize, u8, &str); 5] = [
        (20, 40, "hash_bits"),    // hash bits out of range
        (21, 3, "word_ngrams"),   // word n-grams
        (26, 7, "negation flag"), // a flag that is not 0/1
        (28, 4, "classes"),       // class count
        (29, 9, "class order"),   // class name length
    ];
    for (offset, value, what) in cases {
        let mut changed = body.clone();
        changed[offset] = value;
        let error = Model::from_bytes(&with_checksum(changed)).unwrap_err();
        assert!(matches!(error, LearnedError::Corrupt(_)), "{what}: {error}");
    }
    // Flags reserved for later versions.
    let mut changed = body.clone();
    changed[10] = 1;
    assert!(matches!(
        Model::from_bytes(&with_checksum(changed)),
        Err(LearnedError::Corrupt(_))
    ));
}

/// The bundled model uses the classifier's `lexicon-v1` dense features, which live in
/// `vigil-classifier` (this crate cannot depend on it): its predictions are tested
/// there (`learned::tests::bundled_model_classifies_obvious_cases`); here only that it
/// loads and refuses other dense features.
#[test]
fn the_bundled_model_loads_and_names_its_dense_features() {
    let model = Model::bundled().unwrap();
    assert_eq!(model.dense_name(), "lexicon-v1");
    assert_eq!(model.dense_len(), 8);
    assert_eq!(model.weight_encoding(), WeightEncoding::Int8Sqrt);
    assert!(model.temperature() > 0.0);
    let metadata: serde_json::Value = serde_json::from_str(model.metadata()).unwrap();
    assert!(metadata["train_config"].is_object(), "{metadata}");
    assert!(matches!(
        model.predictor(&NoDense),
        Err(LearnedError::DenseMismatch { .. })
    ));
}

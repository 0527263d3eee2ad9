//! Training on handwritten data: obvious cases are separated, training is
//! deterministic, dense features are used and checked.

mod common;

use vigil_core::Label;
use vigil_learned::{
    ClassWeighting, DenseFeatures, Example, FeatureConfig, LearnedError, Model, NgramRange,
    NoDense, TrainConfig, train, train_with_progress,
};

fn config() -> TrainConfig {
    TrainConfig {
        features: FeatureConfig {
            hash_bits: 16,
            ..FeatureConfig::default()
        },
        epochs: 30,
        learning_rate: 0.3,
        l2: 0.0,
        ..TrainConfig::default()
    }
}

#[test]
fn separates_the_training_examples() {
    let examples = common::handwritten();
    let model = train(&examples, &config(), &NoDense).unwrap();
    let predictor = model.predictor(&NoDense).unwrap();
    for example in &examples {
        let prediction = predictor.predict(&example.text, example.lang.as_deref());
        assert_eq!(prediction.label, example.label, "{:?}", example.text);
        let sum: f32 = prediction.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4);
        assert_eq!(
            prediction.confidence,
            prediction.probabilities.iter().cloned().fold(0.0, f32::max)
        );
    }
}

#[test]
fn generalises_to_obvious_unseen_texts() {
    let model = train(&common::handwritten(), &config(), &NoDense).unwrap();
    let predictor = model.predictor(&NoDense).unwrap();
    let cases = [
        ("great, I love it", Label::Positive),
        ("terrible and awful", Label::Negative),
        ("the shop is on main street", Label::Neutral),
        ("很好，很满意", Label::Positive),
        ("太差了，很失望", Label::Negative),
    ];
    for (text, expected) in cases {
        let prediction = predictor.predict(text, None);
        assert_eq!(prediction.label, expected, "{text:?}: {prediction:?}");
        match expected {
            Label::Positive => assert!(prediction.score() > 0.0),
            Label::Negative => assert!(prediction.score() < 0.0),
            Label::Neutral => {}
        }
    }
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let examples = common::handwritten();
    let first = train(&examples, &config(), &NoDense).unwrap().to_bytes();
    let second = train(&examples, &config(), &NoDense).unwrap().to_bytes();
    assert_eq!(first, second);
    let other_seed = TrainConfig {
        seed: 99,
        ..config()
    };
    let third = train(&examples, &other_seed, &NoDense).unwrap().to_bytes();
    assert_ne!(first, third, "the seed should change the example order");
}

#[test]
fn reports_progress_every_epoch() {
    let mut epochs = Vec::new();
    train_with_progress(&common::handwritten(), &config(), &NoDense, |epoch, _| {
        epochs.push(epoch)
    })
    .unwrap();
    assert_eq!(epochs, (1..=30).collect::<Vec<_>>());
}

#[test]
fn polar_only_examples_do_not_teach_neutral_when_weight_is_zero() {
    // Only polar-only examples: with weight 0 nothing pushes neutral down, so a text
    // with no known features stays at the (untouched) neutral bias.
    let polar: Vec<Example> = common::handwritten()
        .into_iter()
        .filter(|e| e.label != Label::Neutral)
        .map(|e| Example {
            polar_only: true,
            ..e
        })
        .collect();
    let conditional = TrainConfig {
        polar_neutral_weight: 0.0,
        quantize: false,
        ..config()
    };
    let model = train(&polar, &conditional, &NoDense).unwrap();
    let unknown = model.predict("zzz qqq", None, &NoDense).unwrap();
    assert!(unknown.probabilities[1] > 0.3, "{unknown:?}");
    // Polar texts are still told apart.
    assert_eq!(
        model
            .predict("I love it, great", None, &NoDense)
            .unwrap()
            .polar_label(),
        Label::Positive
    );
    let full = TrainConfig {
        polar_neutral_weight: 1.0,
        quantize: false,
        ..config()
    };
    let model = train(&polar, &full, &NoDense).unwrap();
    let polar_text = model.predict("I love it, great", None, &NoDense).unwrap();
    assert!(polar_text.probabilities[1] < 0.1, "{polar_text:?}");
}

/// A dense feature that gives the answer away: +1 for "yay", −1 for "boo".
struct Oracle;

impl DenseFeatures for Oracle {
    fn name(&self) -> &str {
        "oracle-v1"
    }
    fn len(&self) -> usize {
        2
    }
    fn features(&self, text: &str, _lang: Option<&str>, out: &mut Vec<f32>) {
        let score = if text.contains("yay") {
            10.0
        } else if text.contains("boo") {
            -10.0
        } else {
            0.0
        };
        out.push(score);
        out.push(f32::NAN); // non-finite values count as the mean
    }
}

#[test]
fn dense_features_are_learned_and_checked() {
    let mut examples = Vec::new();
    for index in 0..40 {
        // The words carry no signal: every word occurs with both labels.
        let filler = format!("word{}", index % 5);
        examples.push(Example::new(format!("{filler} yay"), Label::Positive));
        examples.push(Example::new(format!("{filler} boo"), Label::Negative));
    }
    let features = FeatureConfig {
        hash_bits: 12,
        word_ngrams: 1,
        ..FeatureConfig::default()
    };
    let config = TrainConfig {
        features,
        epochs: 20,
        ..TrainConfig::default()
    };
    let model = train(&examples, &config, &Oracle).unwrap();
    assert_eq!(model.dense_len(), 2);
    assert_eq!(model.dense_name(), "oracle-v1");

    // "yay" and "boo" are hashed features as well; the dense feature must still move the
    // prediction on its own: same text, the oracle decides.
    struct Constant(f32);
    impl DenseFeatures for Constant {
        fn name(&self) -> &str {
            "oracle-v1"
        }
        fn len(&self) -> usize {
            2
        }
        fn features(&self, _text: &str, _lang: Option<&str>, out: &mut Vec<f32>) {
            out.extend([self.0, 0.0]);
        }
    }
    let up = model.predict("unseen text", None, &Constant(10.0)).unwrap();
    let down = model
        .predict("unseen text", None, &Constant(-10.0))
        .unwrap();
    assert!(up.score() > down.score() + 0.5, "{up:?} vs {down:?}");

    // Mismatches are refused with a message naming both sides.
    let error = model.predictor(&NoDense).err().expect("mismatch");
    assert!(matches!(error, LearnedError::DenseMismatch { .. }));
    let message = error.to_string();
    assert!(
        message.contains("oracle-v1") && message.contains("none"),
        "{message}"
    );
    assert!(model.predict("x", None, &NoDense).is_err());
}

#[test]
fn invalid_configuration_and_empty_data_are_errors() {
    let examples = common::handwritten();
    let bad = [
        TrainConfig {
            epochs: 0,
            ..config()
        },
        TrainConfig {
            learning_rate: f32::NAN,
            ..config()
        },
        TrainConfig {
            l2: -1.0,
            ..config()
        },
        TrainConfig {
            polar_neutral_weight: 2.0,
            ..config()
        },
        TrainConfig {
            features: FeatureConfig {
                hash_bits: 40,
                ..FeatureConfig::default()
            },
            ..config()
        },
        TrainConfig {
            features: FeatureConfig {
                latin_char_ngrams: Some(NgramRange { min: 3, max: 9 }),
                ..FeatureConfig::default()
            },
            ..config()
        },
    ];
    for config in bad {
        let error = train(&examples, &config, &NoDense).unwrap_err();
        assert!(matches!(error, LearnedError::InvalidConfig(_)), "{error}");
    }
    assert!(matches!(
        train(&[], &config(), &NoDense),
        Err(LearnedError::InvalidConfig(_))
    ));
}

#[test]
fn every_class_weighting_and_latin_char_ngrams_train() {
    let examples = common::handwritten();
    for weighting in [
        ClassWeighting::None,
        ClassWeighting::Balanced,
        ClassWeighting::SqrtBalanced,
    ] {
        let config = TrainConfig {
            class_weighting: weighting,
            features: FeatureConfig {
                hash_bits: 16,
                latin_char_ngrams: Some(NgramRange { min: 3, max: 5 }),
                ..FeatureConfig::default()
            },
            ..config()
        };
        let model: Model = train(&examples, &config, &NoDense).unwrap();
        let prediction = model.predict("I love it, great", None, &NoDense).unwrap();
        assert_eq!(prediction.label, Label::Positive, "{weighting:?}");
    }
}

#[test]
fn calibration_fits_a_temperature_and_reports_ece() {
    let examples = common::handwritten();
    let mut model = train(&examples, &config(), &NoDense).unwrap();
    // An overconfident model on data that includes label noise gets a temperature > 1.
    let mut noisy = examples.clone();
    for example in noisy.iter_mut().step_by(4) {
        example.label = match example.label {
            Label::Positive => Label::Negative,
            _ => Label::Positive,
        };
    }
    let calibration = model.calibrate(&noisy, &NoDense).unwrap();
    assert!(calibration.temperature > 1.0, "{calibration:?}");
    assert!(calibration.nll_after <= calibration.nll_before);
    assert_eq!(model.temperature(), calibration.temperature);
    assert_eq!(calibration.examples, noisy.len());
}

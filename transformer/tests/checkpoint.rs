//! Hugging Face sequence-classification checkpoints with the candle engine:
//!
//! - tiny BERT and XLM-RoBERTa checkpoints made by `scripts/tiny_checkpoints.py`
//!   (committed, 30 KB each) against the probabilities Hugging Face transformers gave;
//! - checkpoints this test writes itself (config.json + model.safetensors through the
//!   `safetensors` crate), to pin label mapping and error handling without Python.
#![cfg(feature = "candle")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use serde::Deserialize;
use vigil_core::Label;
use vigil_transformer::{
    CandleSequenceClassifier, Engine, SequenceClassifierEngine, load_classifier,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[derive(Deserialize)]
struct Reference {
    texts: Vec<String>,
    probabilities: Vec<Vec<f32>>,
}

fn reference(name: &str) -> Reference {
    let path = fixtures().join("tiny_checkpoints_reference.json");
    let mut all: HashMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::from_value(all.remove(name).unwrap()).unwrap()
}

fn check_against_transformers(name: &str) {
    let reference = reference(name);
    let texts: Vec<&str> = reference.texts.iter().map(String::as_str).collect();
    // Batch size 2 pads short texts next to long ones: padding must not leak.
    let engine = CandleSequenceClassifier::load(&fixtures().join(name))
        .unwrap()
        .with_batch_size(2);
    let probabilities = engine.class_probabilities(&texts).unwrap();
    for ((text, ours), theirs) in texts
        .iter()
        .zip(&probabilities)
        .zip(&reference.probabilities)
    {
        for (a, b) in ours.iter().zip(theirs) {
            assert!(
                (a - b).abs() < 1e-5,
                "{name} {text:?}: {ours:?} vs {theirs:?}"
            );
        }
    }
}

#[test]
fn bert_checkpoint_matches_transformers() {
    check_against_transformers("tiny-bert-cls");
}

#[test]
fn xlm_roberta_checkpoint_matches_transformers() {
    check_against_transformers("tiny-xlmr-cls");
}

#[test]
fn checkpoint_as_a_vigil_classifier() {
    let classifier =
        load_classifier(Engine::Candle, &fixtures().join("tiny-bert-cls"), None).unwrap();
    assert_eq!(classifier.backend(), "transformer");
    assert!(classifier.version().starts_with("candle:tiny-bert-cls@"));
    let reference = reference("tiny-bert-cls");
    let items: Vec<(&str, Option<&str>)> = reference
        .texts
        .iter()
        .map(|text| (text.as_str(), None))
        .collect();
    let sentiments = classifier.classify_batch(&items);
    for (sentiment, probabilities) in sentiments.iter().zip(&reference.probabilities) {
        // id2label is negative, neutral, positive: no folding.
        let best = (0..3)
            .max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]))
            .unwrap();
        assert_eq!(sentiment.label, Label::ALL[best]);
        assert!((sentiment.score - (probabilities[2] - probabilities[0])).abs() < 1e-5);
        assert!((sentiment.confidence - probabilities[best]).abs() < 1e-5);
    }
    assert_eq!(sentiments[0].lang, "en");
    assert_eq!(classifier.classify("good", Some("de")).lang, "de");

    // A checkpoint has no head a brand could replace.
    let brand_heads = [("Acme".to_string(), PathBuf::from("acme.vth"))];
    let error = vigil_transformer::load_classifiers(
        Engine::Candle,
        &fixtures().join("tiny-bert-cls"),
        None,
        &brand_heads,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        error.contains("brand model for \"Acme\"") && error.contains("no head to replace"),
        "{error}"
    );
}

/// Deterministic "random" values in -0.5..0.5.
fn values(count: usize, seed: usize) -> Vec<f32> {
    (0..count)
        .map(|i| (((i * 7919 + seed * 104_729) % 1000) as f32 / 1000.0) - 0.5)
        .collect()
}

const HIDDEN: usize = 8;
const VOCAB: usize = 40;

/// Writes a BERT sequence-classification checkpoint with `id2label` and a classifier
/// whose weights are zero and bias is `bias`, so its output is known: softmax(bias).
/// The tokenizer is the tiny fixture's. `skip` leaves one tensor out.
fn write_bert_checkpoint(dir: &Path, id2label: &str, bias: &[f32], skip: Option<&str>) {
    let classes = bias.len();
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut add = |name: &str, shape: Vec<usize>, data: Vec<f32>| {
        tensors.push((name.to_owned(), shape, data));
    };
    let seed = &mut 0usize;
    let mut random = |count: usize| {
        *seed += 1;
        values(count, *seed)
    };
    add(
        "bert.embeddings.word_embeddings.weight",
        vec![VOCAB, HIDDEN],
        random(VOCAB * HIDDEN),
    );
    add(
        "bert.embeddings.position_embeddings.weight",
        vec![32, HIDDEN],
        random(32 * HIDDEN),
    );
    add(
        "bert.embeddings.token_type_embeddings.weight",
        vec![2, HIDDEN],
        random(2 * HIDDEN),
    );
    add(
        "bert.embeddings.LayerNorm.weight",
        vec![HIDDEN],
        vec![1.0; HIDDEN],
    );
    add(
        "bert.embeddings.LayerNorm.bias",
        vec![HIDDEN],
        vec![0.0; HIDDEN],
    );
    let prefix = "bert.encoder.layer.0";
    for part in [
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
    ] {
        add(
            &format!("{prefix}.{part}.weight"),
            vec![HIDDEN, HIDDEN],
            random(HIDDEN * HIDDEN),
        );
        add(
            &format!("{prefix}.{part}.bias"),
            vec![HIDDEN],
            random(HIDDEN),
        );
    }
    add(
        &format!("{prefix}.intermediate.dense.weight"),
        vec![16, HIDDEN],
        random(16 * HIDDEN),
    );
    add(
        &format!("{prefix}.intermediate.dense.bias"),
        vec![16],
        random(16),
    );
    add(
        &format!("{prefix}.output.dense.weight"),
        vec![HIDDEN, 16],
        random(16 * HIDDEN),
    );
    add(
        &format!("{prefix}.output.dense.bias"),
        vec![HIDDEN],
        random(HIDDEN),
    );
    for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
        add(
            &format!("{prefix}.{norm}.weight"),
            vec![HIDDEN],
            vec![1.0; HIDDEN],
        );
        add(
            &format!("{prefix}.{norm}.bias"),
            vec![HIDDEN],
            vec![0.0; HIDDEN],
        );
    }
    add(
        "bert.pooler.dense.weight",
        vec![HIDDEN, HIDDEN],
        random(HIDDEN * HIDDEN),
    );
    add("bert.pooler.dense.bias", vec![HIDDEN], random(HIDDEN));
    add(
        "classifier.weight",
        vec![classes, HIDDEN],
        vec![0.0; classes * HIDDEN],
    );
    add("classifier.bias", vec![classes], bias.to_vec());

    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .filter(|(name, _, _)| Some(name.as_str()) != skip)
        .map(|(name, shape, data)| {
            let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name, shape, raw)
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(name, shape, raw)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), raw).unwrap(),
            )
        })
        .collect();
    safetensors::tensor::serialize_to_file(views, None, &dir.join("model.safetensors")).unwrap();
    let config = format!(
        r#"{{"architectures": ["BertForSequenceClassification"], "model_type": "bert",
            "vocab_size": {VOCAB}, "hidden_size": {HIDDEN}, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "max_position_embeddings": 32,
            "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
            "pad_token_id": 0, "id2label": {id2label}}}"#
    );
    std::fs::write(dir.join("config.json"), config).unwrap();
    std::fs::copy(
        fixtures().join("tiny-bert-cls/tokenizer.json"),
        dir.join("tokenizer.json"),
    )
    .unwrap();
}

#[test]
fn generic_labels_follow_the_documented_order() {
    let dir = tempfile::tempdir().unwrap();
    // LABEL_0, LABEL_1 = negative, positive; the bias makes class 1 certain.
    write_bert_checkpoint(
        dir.path(),
        r#"{"0": "LABEL_0", "1": "LABEL_1"}"#,
        &[0.0, 4.0],
        None,
    );
    let classifier = load_classifier(Engine::Candle, dir.path(), None).unwrap();
    let sentiment = classifier.classify("the service was great", None);
    assert_eq!(sentiment.label, Label::Positive);
    let expected = 1.0 / (1.0 + (-4f32).exp());
    assert!(
        (sentiment.confidence - expected).abs() < 1e-5,
        "{sentiment:?}"
    );
    assert!((sentiment.score - (2.0 * expected - 1.0)).abs() < 1e-5);
}

#[test]
fn named_labels_in_any_order_and_case() {
    let dir = tempfile::tempdir().unwrap();
    write_bert_checkpoint(
        dir.path(),
        r#"{"0": "POSITIVE", "1": "Neutral", "2": "NEGATIVE"}"#,
        &[0.0, 1.0, 5.0],
        None,
    );
    let classifier = load_classifier(Engine::Candle, dir.path(), None).unwrap();
    let sentiments = classifier.classify_batch(&[("late and late", None), ("", None)]);
    assert!(sentiments.iter().all(|s| s.label == Label::Negative));
    assert!(sentiments[0].score < -0.9);
}

#[test]
fn broken_checkpoints_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_bert_checkpoint(
        dir.path(),
        r#"{"0": "negative", "1": "positive"}"#,
        &[0.0, 0.0],
        Some("classifier.weight"),
    );
    let error = load_classifier(Engine::Candle, dir.path(), None)
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("model.safetensors") && error.contains("classifier"),
        "{error}"
    );

    // A label count that does not match the classifier's rows.
    write_bert_checkpoint(
        dir.path(),
        r#"{"0": "negative", "1": "positive"}"#,
        &[0.0, 0.0, 0.0],
        None,
    );
    assert!(load_classifier(Engine::Candle, dir.path(), None).is_err());

    // Not a safetensors file at all.
    write_bert_checkpoint(
        dir.path(),
        r#"{"0": "negative", "1": "positive"}"#,
        &[0.0, 0.0],
        None,
    );
    std::fs::write(
        dir.path().join("model.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{}",
    )
    .unwrap();
    assert!(load_classifier(Engine::Candle, dir.path(), None).is_err());
    std::fs::write(dir.path().join("model.safetensors"), b"garbage").unwrap();
    let error = load_classifier(Engine::Candle, dir.path(), None)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("model.safetensors"), "{error}");

    // A tokenizer that is not JSON.
    write_bert_checkpoint(
        dir.path(),
        r#"{"0": "negative", "1": "positive"}"#,
        &[0.0, 0.0],
        None,
    );
    std::fs::write(dir.path().join("tokenizer.json"), b"{").unwrap();
    let error = load_classifier(Engine::Candle, dir.path(), None)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("tokenizer"), "{error}");

    // Labels Vigil cannot map.
    write_bert_checkpoint(
        dir.path(),
        r#"{"0": "joy", "1": "anger"}"#,
        &[0.0, 0.0],
        None,
    );
    let error = load_classifier(Engine::Candle, dir.path(), None)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("\"joy\""), "{error}");
}

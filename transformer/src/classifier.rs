//! [`vigil_core::Classifier`] implementations: sentence embeddings + the trained head
//! ([`TransformerClassifier`]), or a fine-tuned checkpoint ([`CheckpointClassifier`]).

use sha2::{Digest, Sha256};
use vigil_core::{Classifier, Label, Sentiment};

use crate::encoder::{SentenceEncoder, SequenceClassifierEngine};
use crate::error::{Result, TransformerError};
use crate::head::{HeadPrediction, SentimentHead};
use crate::labels::LabelMap;

/// The backend name recorded with every score.
pub const BACKEND: &str = "transformer";

fn language(text: &str, hint: Option<&str>) -> String {
    hint.map(str::to_owned)
        .unwrap_or_else(|| vigil_core::text::detect_lang(text).to_owned())
}

fn sentiment(probabilities: [f32; 3], lang: String, version: &str) -> Sentiment {
    let prediction = HeadPrediction::from_probabilities(probabilities);
    Sentiment {
        label: prediction.label,
        score: prediction.score().clamp(-1.0, 1.0),
        confidence: prediction.confidence.clamp(0.0, 1.0),
        lang,
        backend: BACKEND.to_owned(),
        version: version.to_owned(),
    }
}

/// What the infallible [`Classifier`] methods return when the engine fails: neutral,
/// score 0, confidence 0, so nothing downstream mistakes it for a verdict. The error is
/// logged; callers that want it use the `try_` methods.
fn failed(text: &str, hint: Option<&str>, version: &str) -> Sentiment {
    Sentiment {
        label: Label::Neutral,
        score: 0.0,
        confidence: 0.0,
        lang: language(text, hint),
        backend: BACKEND.to_owned(),
        version: version.to_owned(),
    }
}

/// Sentence embeddings from an engine, scored by a [`SentimentHead`].
pub struct TransformerClassifier {
    encoder: std::sync::Arc<dyn SentenceEncoder>,
    head: SentimentHead,
    version: String,
}

impl TransformerClassifier {
    /// Pairs `encoder` with `head` after checking that the head was trained on this
    /// encoder's embeddings ([`SentimentHead::check_encoder`]).
    pub fn new(encoder: Box<dyn SentenceEncoder>, head: SentimentHead) -> Result<Self> {
        Self::shared(std::sync::Arc::from(encoder), head)
    }

    /// The same encoder (one copy of the weights in memory) with another head, e.g. a
    /// brand's (`[classifier.brand_models]`).
    pub fn with_head(&self, head: SentimentHead) -> Result<Self> {
        Self::shared(std::sync::Arc::clone(&self.encoder), head)
    }

    fn shared(encoder: std::sync::Arc<dyn SentenceEncoder>, head: SentimentHead) -> Result<Self> {
        head.check_encoder(encoder.as_ref())?;
        let head_digest = hex::encode(Sha256::digest(head.to_bytes()));
        let version = format!(
            "{}:{}+head:{}",
            encoder.engine(),
            encoder.model_id(),
            &head_digest[..12]
        );
        Ok(TransformerClassifier {
            encoder,
            head,
            version,
        })
    }

    pub fn head(&self) -> &SentimentHead {
        &self.head
    }

    pub fn encoder(&self) -> &dyn SentenceEncoder {
        self.encoder.as_ref()
    }

    /// Calibrated probabilities (negative, neutral, positive) per text.
    pub fn predict_batch(&self, texts: &[&str]) -> Result<Vec<HeadPrediction>> {
        self.encoder
            .embed(texts)?
            .iter()
            .map(|embedding| self.head.predict(embedding))
            .collect()
    }
}

/// A fine-tuned sequence-classification checkpoint, its labels mapped to Vigil's.
pub struct CheckpointClassifier {
    engine: Box<dyn SequenceClassifierEngine>,
    labels: LabelMap,
    version: String,
}

impl CheckpointClassifier {
    pub fn new(engine: Box<dyn SequenceClassifierEngine>, labels: LabelMap) -> Self {
        let version = format!("{}:{}", engine.engine(), engine.model_id());
        CheckpointClassifier {
            engine,
            labels,
            version,
        }
    }

    pub fn labels(&self) -> &LabelMap {
        &self.labels
    }

    /// Negative, neutral, positive probabilities per text (the checkpoint's classes
    /// summed by [`LabelMap::fold`]).
    pub fn predict_batch(&self, texts: &[&str]) -> Result<Vec<HeadPrediction>> {
        self.engine
            .class_probabilities(texts)?
            .iter()
            .map(|probabilities| {
                if probabilities.len() == self.labels.len() {
                    Ok(HeadPrediction::from_probabilities(
                        self.labels.fold(probabilities),
                    ))
                } else {
                    Err(TransformerError::Engine {
                        engine: self.engine.engine(),
                        message: format!(
                            "{} class probabilities, the checkpoint has {} labels",
                            probabilities.len(),
                            self.labels.len()
                        ),
                    })
                }
            })
            .collect()
    }
}

/// The rest is the same for both classifiers, given their `predict_batch` and
/// `version`: the fallible batch call and the [`Classifier`] methods.
macro_rules! batch_classifier {
    ($type:ty, $kind:literal) => {
        impl $type {
            /// Like [`Classifier::classify_batch`], but returns the engine's error.
            pub fn try_classify_batch(
                &self,
                items: &[(&str, Option<&str>)],
            ) -> Result<Vec<Sentiment>> {
                let texts: Vec<&str> = items.iter().map(|(text, _)| *text).collect();
                Ok(sentiments(
                    items,
                    self.predict_batch(&texts)?,
                    &self.version,
                ))
            }
        }

        impl Classifier for $type {
            fn backend(&self) -> &str {
                BACKEND
            }

            fn version(&self) -> &str {
                &self.version
            }

            fn classify(&self, text: &str, lang: Option<&str>) -> Sentiment {
                self.classify_batch(&[(text, lang)])
                    .pop()
                    .unwrap_or_else(|| failed(text, lang, &self.version))
            }

            fn classify_batch(&self, items: &[(&str, Option<&str>)]) -> Vec<Sentiment> {
                or_failed(self.try_classify_batch(items), items, &self.version, $kind)
            }
        }
    };
}

batch_classifier!(TransformerClassifier, "transformer");
batch_classifier!(CheckpointClassifier, "checkpoint");

/// One [`Sentiment`] per item from the calibrated class probabilities.
fn sentiments(
    items: &[(&str, Option<&str>)],
    predictions: Vec<HeadPrediction>,
    version: &str,
) -> Vec<Sentiment> {
    items
        .iter()
        .zip(predictions)
        .map(|((text, hint), prediction)| {
            sentiment(prediction.probabilities, language(text, *hint), version)
        })
        .collect()
}

/// The infallible [`Classifier::classify_batch`]: on an engine error, logs it and gives
/// every item the neutral, zero-confidence [`failed`] sentiment.
fn or_failed(
    result: Result<Vec<Sentiment>>,
    items: &[(&str, Option<&str>)],
    version: &str,
    kind: &'static str,
) -> Vec<Sentiment> {
    match result {
        Ok(sentiments) => sentiments,
        Err(error) => {
            tracing::warn!(%error, texts = items.len(), kind, "inference failed");
            items
                .iter()
                .map(|(text, hint)| failed(text, *hint, version))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::head::{HeadTrainConfig, LabelledEmbedding, PROBE_TEXTS, Probe, train_head};

    /// Embeds by counting a few cue words: dimension 4 (negative cues, neutral cues,
    /// positive cues, length).
    struct CueEncoder {
        fail: AtomicBool,
        shift: f32,
    }

    impl CueEncoder {
        fn new(shift: f32) -> Self {
            CueEncoder {
                fail: AtomicBool::new(false),
                shift,
            }
        }
    }

    impl SentenceEncoder for CueEncoder {
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
            if self.fail.load(Ordering::Relaxed) {
                return Err(TransformerError::Engine {
                    engine: "cue",
                    message: "out of cues".into(),
                });
            }
            Ok(texts
                .iter()
                .map(|text| {
                    let count = |cues: &[&str]| {
                        cues.iter().filter(|cue| text.contains(*cue)).count() as f32
                    };
                    vec![
                        count(&["bad", "terrible", "crash"]) + self.shift,
                        count(&["opens", "weekday", "store"]),
                        count(&["great", "good", "friendly"]),
                        text.len() as f32 / 100.0,
                    ]
                })
                .collect())
        }
        fn dimension(&self) -> usize {
            4
        }
        fn engine(&self) -> &'static str {
            "cue"
        }
        fn model_id(&self) -> &str {
            "cues@0"
        }
    }

    fn head_for(encoder: &CueEncoder) -> SentimentHead {
        let texts = [
            ("bad terrible", Label::Negative),
            ("the app crash is bad", Label::Negative),
            ("store opens weekday", Label::Neutral),
            ("the store opens", Label::Neutral),
            ("great good", Label::Positive),
            ("friendly and great", Label::Positive),
        ];
        let embeddings = encoder
            .embed(&texts.iter().map(|(text, _)| *text).collect::<Vec<_>>())
            .unwrap();
        let train: Vec<LabelledEmbedding<'_>> = embeddings
            .iter()
            .zip(&texts)
            .map(|(embedding, (_, label))| LabelledEmbedding {
                embedding,
                label: *label,
                polar_only: false,
            })
            .collect();
        let probes = PROBE_TEXTS
            .iter()
            .zip(encoder.embed(&PROBE_TEXTS).unwrap())
            .map(|(text, embedding)| Probe {
                text: (*text).to_owned(),
                embedding,
            })
            .collect();
        train_head(&train, &HeadTrainConfig::default(), "cues", probes).unwrap()
    }

    #[test]
    fn classifies_with_backend_and_version() {
        let encoder = CueEncoder::new(0.0);
        let head = head_for(&encoder);
        let classifier = TransformerClassifier::new(Box::new(encoder), head).unwrap();
        assert_eq!(classifier.backend(), "transformer");
        let version = classifier.version().to_owned();
        assert!(version.starts_with("cue:cues@0+head:"), "{version}");
        assert_eq!(version.len(), "cue:cues@0+head:".len() + 12);
        let sentiments = classifier.classify_batch(&[
            ("terrible, it is bad", None),
            ("great and friendly", Some("en")),
            ("这家店很好", None),
        ]);
        assert_eq!(sentiments[0].label, Label::Negative);
        assert!(sentiments[0].score < 0.0);
        assert_eq!(sentiments[1].label, Label::Positive);
        assert!(sentiments[1].confidence > 0.5 && sentiments[1].confidence <= 1.0);
        assert_eq!(sentiments[2].lang, "zh");
        assert_eq!(sentiments[1].version, version);
        assert_eq!(
            classifier.classify("bad", None),
            sentiments_one(&classifier, "bad")
        );
    }

    fn sentiments_one(classifier: &TransformerClassifier, text: &str) -> Sentiment {
        classifier.classify_batch(&[(text, None)]).remove(0)
    }

    #[test]
    fn refuses_a_head_trained_on_another_encoder() {
        let head = head_for(&CueEncoder::new(0.0));
        let error = TransformerClassifier::new(Box::new(CueEncoder::new(5.0)), head)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("head does not fit the encoder"), "{error}");
    }

    #[test]
    fn engine_failure_is_neutral_with_zero_confidence() {
        let encoder = CueEncoder::new(0.0);
        let head = head_for(&encoder);
        let classifier = TransformerClassifier::new(Box::new(encoder), head).unwrap();
        let failing = CueEncoder::new(0.0);
        failing.fail.store(true, Ordering::Relaxed);
        let broken = TransformerClassifier {
            encoder: std::sync::Arc::new(failing),
            head: classifier.head.clone(),
            version: classifier.version.clone(),
        };
        assert!(broken.try_classify_batch(&[("bad", None)]).is_err());
        let sentiment = broken.classify("bad", None);
        assert_eq!(sentiment.label, Label::Neutral);
        assert_eq!((sentiment.score, sentiment.confidence), (0.0, 0.0));
        assert_eq!(sentiment.backend, "transformer");
    }
}

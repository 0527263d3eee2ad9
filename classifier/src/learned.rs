//! The `learned` backend: `vigil-learned`'s logistic regression over hashed n-grams,
//! with the lexicon backend's scores as dense features ([`LexiconFeatures`]).

use std::path::{Path, PathBuf};

use vigil_core::{Classifier, Sentiment};
use vigil_learned::{DenseFeatures, Model, NoDense};

use crate::error::{ClassifierError, Result};
use crate::lexicon::{LexiconClassifier, MAX_TEXT_BYTES, resolve_lang, truncate_to_bytes};

/// Environment variable naming a model file for the `learned` backend; it wins over
/// `model_dir` and the bundled model.
pub const MODEL_ENV: &str = "VIGIL_LEARNED_MODEL";
/// File name looked for in `[classifier] model_dir`.
pub const MODEL_FILE_NAME: &str = "sentiment.vlm";

/// Dense features from the `lexicon` backend, named `lexicon-v1` in model files:
///
/// 0. the lexicon backend's score (-1..=1),
/// 1. VADER's compound score of the Latin part,
/// 2. the Chinese lexicon's score,
/// 3. ln(1 + sentiment-bearing Chinese entries found),
/// 4. 1 if the text has Han characters,
/// 5. 1 if it has Latin letters,
/// 6. |score| (strength regardless of direction: evidence against neutral),
/// 7. Han share of the letters, Han / (Han + Latin).
///
/// Changing the list or the order is a new name (models store it and refuse another).
#[derive(Debug, Default)]
pub struct LexiconFeatures {
    lexicon: LexiconClassifier,
}

impl LexiconFeatures {
    pub const NAME: &'static str = "lexicon-v1";
    const LEN: usize = 8;

    pub fn new() -> Self {
        LexiconFeatures {
            lexicon: LexiconClassifier::new(),
        }
    }
}

impl DenseFeatures for LexiconFeatures {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn len(&self) -> usize {
        Self::LEN
    }

    fn features(&self, text: &str, _lang: Option<&str>, out: &mut Vec<f32>) {
        let text = truncate_to_bytes(text, MAX_TEXT_BYTES);
        let analysis = self.lexicon.analyse(text);
        let finite = |value: f64| {
            if value.is_finite() {
                value.clamp(-1.0, 1.0) as f32
            } else {
                0.0
            }
        };
        let combined = finite(analysis.combined);
        let letters = analysis.han + analysis.latin;
        let han_share = if letters == 0 {
            0.0
        } else {
            analysis.han as f32 / letters as f32
        };
        out.extend_from_slice(&[
            combined,
            finite(analysis.english),
            finite(analysis.chinese),
            (analysis.chinese_hits as f32).ln_1p(),
            f32::from(u8::from(analysis.han > 0)),
            f32::from(u8::from(analysis.latin > 0)),
            combined.abs(),
            han_share,
        ]);
    }
}

/// The dense feature set a model file names; an unknown name is an error.
pub fn dense_features_for(model: &Model) -> Result<Box<dyn DenseFeatures>> {
    let dense: Box<dyn DenseFeatures> = match model.dense_name() {
        "none" => Box::new(NoDense),
        LexiconFeatures::NAME => Box::new(LexiconFeatures::new()),
        other => {
            return Err(ClassifierError::Unavailable {
                backend: LearnedClassifier::BACKEND.to_owned(),
                reason: format!(
                    "the model uses dense features `{other}`, which this build does not \
                     know (known: none, {})",
                    LexiconFeatures::NAME
                ),
            });
        }
    };
    model
        .check_dense(dense.as_ref())
        .map_err(|error| unavailable(error.to_string()))?;
    Ok(dense)
}

fn unavailable(reason: String) -> ClassifierError {
    ClassifierError::Unavailable {
        backend: LearnedClassifier::BACKEND.to_owned(),
        reason,
    }
}

/// The `learned` backend. Label = most probable class after calibration, confidence =
/// its probability, score = P(positive) − P(negative).
pub struct LearnedClassifier {
    model: Model,
    dense: Box<dyn DenseFeatures>,
    version: String,
}

impl std::fmt::Debug for LearnedClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LearnedClassifier")
            .field("version", &self.version)
            .field("dense", &self.dense.name())
            .finish_non_exhaustive()
    }
}

impl LearnedClassifier {
    pub const BACKEND: &'static str = "learned";

    /// The model shipped in `vigil-learned` (`learned/models/sentiment.vlm`).
    pub fn bundled() -> Result<Self> {
        Self::from_bytes(vigil_learned::BUNDLED_MODEL)
    }

    /// Loads a model file written by `vigil classifier train` (or `Model::save`).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .map_err(|error| unavailable(format!("cannot read {}: {error}", path.display())))?;
        Self::from_bytes(&bytes).map_err(|error| match error {
            ClassifierError::Unavailable { reason, .. } => {
                unavailable(format!("{}: {reason}", path.display()))
            }
            other => other,
        })
    }

    /// A model from the bytes of a model file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let model = Model::from_bytes(bytes).map_err(|error| unavailable(error.to_string()))?;
        let dense = dense_features_for(&model)?;
        let version = format!("learned-{:016x}", fnv1a(bytes));
        Ok(LearnedClassifier {
            model,
            dense,
            version,
        })
    }

    /// The model chosen by the environment and config: the file in `VIGIL_LEARNED_MODEL`
    /// if set, else `model_dir/sentiment.vlm` if that file exists, else the bundled one.
    pub fn from_environment(model_dir: Option<&Path>) -> Result<Self> {
        match model_path(std::env::var_os(MODEL_ENV).map(PathBuf::from), model_dir) {
            Some(path) => Self::load(&path),
            None => Self::bundled(),
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }
}

/// Which model file to load, if any (see [`LearnedClassifier::from_environment`]).
fn model_path(env: Option<PathBuf>, model_dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = env.filter(|path| !path.as_os_str().is_empty()) {
        return Some(path);
    }
    let candidate = model_dir?.join(MODEL_FILE_NAME);
    candidate.is_file().then_some(candidate)
}

/// 64-bit FNV-1a: a content hash for the version string (not cryptographic).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl Classifier for LearnedClassifier {
    fn backend(&self) -> &str {
        Self::BACKEND
    }

    fn version(&self) -> &str {
        &self.version
    }

    fn classify(&self, text: &str, lang: Option<&str>) -> Sentiment {
        let text = truncate_to_bytes(text, MAX_TEXT_BYTES);
        // The dense features were checked against the model when it was loaded.
        let prediction = match self.model.predict(text, lang, self.dense.as_ref()) {
            Ok(prediction) => prediction,
            Err(_) => unreachable_neutral(),
        };
        let score = prediction.score();
        let score = if score.is_finite() {
            score.clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let confidence = if prediction.confidence.is_finite() {
            prediction.confidence.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Sentiment {
            label: prediction.label,
            score,
            confidence,
            lang: resolve_lang(text, lang).to_owned(),
            backend: Self::BACKEND.to_owned(),
            version: self.version.clone(),
        }
    }
}

/// Stands in for a prediction that cannot fail (the dense set was checked on load).
fn unreachable_neutral() -> vigil_learned::Prediction {
    vigil_learned::Prediction {
        probabilities: [0.0, 1.0, 0.0],
        label: vigil_core::Label::Neutral,
        confidence: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_core::Label;

    #[test]
    fn lexicon_features_have_the_declared_length_and_sense() {
        let features = LexiconFeatures::new();
        for text in [
            "",
            "great product",
            "太好了，非常满意",
            "Acme 太差了 terrible",
            "🙂",
        ] {
            let mut out = Vec::new();
            features.features(text, None, &mut out);
            assert_eq!(out.len(), features.len(), "{text}");
            assert!(out.iter().all(|v| v.is_finite()), "{text}: {out:?}");
        }
        let mut good = Vec::new();
        features.features("I love it, great product", None, &mut good);
        let mut bad = Vec::new();
        features.features("质量太差了，非常失望", None, &mut bad);
        assert!(good[0] > 0.3 && good[1] > 0.3, "{good:?}");
        assert_eq!((good[4], good[5]), (0.0, 1.0));
        assert!(bad[0] < -0.3 && bad[2] < -0.3 && bad[3] > 0.0, "{bad:?}");
        assert_eq!((bad[4], bad[5], bad[7]), (1.0, 0.0, 1.0));
    }

    #[test]
    fn bundled_model_classifies_obvious_cases() {
        let classifier = LearnedClassifier::bundled().expect("bundled model loads");
        assert_eq!(classifier.backend(), "learned");
        assert!(classifier.version().starts_with("learned-"));
        for (text, label) in [
            (
                "This is terrible, it broke after a day. Worst purchase ever.",
                Label::Negative,
            ),
            ("Absolutely love it, works great!", Label::Positive),
            ("质量太差了，非常失望", Label::Negative),
            ("非常好吃，送餐很快，满意", Label::Positive),
        ] {
            let sentiment = classifier.classify(text, None);
            assert_eq!(sentiment.label, label, "{text}: {sentiment:?}");
            assert!((-1.0..=1.0).contains(&sentiment.score));
            assert!(sentiment.confidence >= 1.0 / 3.0 && sentiment.confidence <= 1.0);
            assert_eq!(sentiment.backend, "learned");
            assert_eq!(sentiment.version, classifier.version());
        }
        assert_eq!(classifier.classify("great", Some("en-GB")).lang, "en");
        assert_eq!(classifier.classify("", None).lang, "und");
    }

    #[test]
    fn bad_model_bytes_are_an_error_not_a_panic() {
        let mut bytes = vigil_learned::BUNDLED_MODEL.to_vec();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xFF;
        let error = LearnedClassifier::from_bytes(&bytes).expect_err("corrupt model");
        assert!(
            matches!(error, ClassifierError::Unavailable { .. }),
            "{error:?}"
        );
        assert!(LearnedClassifier::from_bytes(b"not a model").is_err());
        let missing = LearnedClassifier::load(Path::new("/nonexistent/sentiment.vlm"))
            .expect_err("missing file");
        assert!(
            missing.to_string().contains("/nonexistent/sentiment.vlm"),
            "{missing}"
        );
    }

    #[test]
    fn model_path_precedence() {
        let dir = std::env::temp_dir();
        let env = PathBuf::from("/some/model.vlm");
        assert_eq!(model_path(Some(env.clone()), Some(&dir)), Some(env));
        assert_eq!(model_path(Some(PathBuf::new()), None), None);
        assert_eq!(
            model_path(None, Some(Path::new("/nonexistent-dir-for-vigil"))),
            None
        );
    }

    #[test]
    fn version_is_a_content_hash() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}

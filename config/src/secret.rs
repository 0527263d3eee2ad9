//! Where a secret lives: an environment variable (`*_env`) or a file (`*_file`, e.g. a
//! Docker or Kubernetes secret mount). The config holds only the reference; the value
//! is read when needed and never stored in [`crate::Config`], logged or printed.

use std::fmt;
use std::path::{Path, PathBuf};

/// Secret files larger than this are refused: a token or password is short, and a
/// wrong path (a log, a database) should not be read into memory as a "password".
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `*_env = "NAME"`: the environment variable `NAME`.
    Env(String),
    /// `*_file = "PATH"`: the file's contents, without a trailing newline. Relative paths
    /// are resolved against the config file's folder.
    File(PathBuf),
}

impl SecretRef {
    pub fn env(variable: impl Into<String>) -> Self {
        SecretRef::Env(variable.into())
    }

    /// Reads the secret from the process environment or the file.
    pub fn resolve(&self) -> Result<String, String> {
        self.resolve_with(&|name| std::env::var(name).ok())
    }

    /// Reads the secret with `env` standing in for the environment (tests).
    pub fn resolve_with(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
        match self {
            SecretRef::Env(variable) => match env(variable) {
                Some(value) if !value.is_empty() => Ok(value),
                Some(_) => Err(format!("environment variable {variable} is empty")),
                None => Err(format!("environment variable {variable} is not set")),
            },
            SecretRef::File(path) => read_secret_file(path),
        }
    }

    /// A warning when a secret file can be read by other users (unix mode bits).
    pub fn permission_warning(&self) -> Option<String> {
        let SecretRef::File(path) = self else {
            return None;
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path).ok()?.permissions().mode();
            (mode & 0o077 != 0).then(|| {
                format!(
                    "secret file {} can be read by other users (mode {:o}; chmod 600 it)",
                    path.display(),
                    mode & 0o777
                )
            })
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            None
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(variable) => write!(f, "environment variable {variable}"),
            SecretRef::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

fn read_secret_file(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let metadata =
        std::fs::metadata(path).map_err(|error| format!("secret file {shown}: {error}"))?;
    if !metadata.is_file() {
        return Err(format!("secret file {shown} is not a regular file"));
    }
    if metadata.len() > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "secret file {shown} is {} bytes; a secret file holds one value (at most {MAX_SECRET_FILE_BYTES} bytes)",
            metadata.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|error| format!("secret file {shown}: {error}"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| format!("secret file {shown} is not UTF-8 text"))?;
    // `echo secret > file` and secret mounts end with a newline that is not part of it.
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(format!("secret file {shown} is empty"));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_secrets_come_from_the_lookup() {
        let env = |name: &str| match name {
            "SET" => Some("s3cret".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(SecretRef::env("SET").resolve_with(&env).unwrap(), "s3cret");
        let empty = SecretRef::env("EMPTY").resolve_with(&env).unwrap_err();
        assert_eq!(empty, "environment variable EMPTY is empty");
        let unset = SecretRef::env("UNSET").resolve_with(&env).unwrap_err();
        assert_eq!(unset, "environment variable UNSET is not set");
    }

    #[test]
    fn file_secrets_lose_the_trailing_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  tok en\r\n\n").unwrap();
        let secret = SecretRef::File(path.clone());
        assert_eq!(secret.resolve().unwrap(), "  tok en");
        assert_eq!(secret.to_string(), format!("file {}", path.display()));

        std::fs::write(&path, "\n").unwrap();
        assert!(secret.resolve().unwrap_err().ends_with("is empty"));
        std::fs::write(&path, [0xff, 0xfe, b'x']).unwrap();
        assert!(secret.resolve().unwrap_err().ends_with("is not UTF-8 text"));
        std::fs::write(&path, vec![b'a'; 70_000]).unwrap();
        assert!(secret.resolve().unwrap_err().contains("70000 bytes"));
        let missing = SecretRef::File(dir.path().join("nope"))
            .resolve()
            .unwrap_err();
        assert!(
            missing.starts_with("secret file ") && missing.contains("nope"),
            "{missing}"
        );
        let directory = SecretRef::File(dir.path().to_path_buf())
            .resolve()
            .unwrap_err();
        assert!(directory.ends_with("is not a regular file"), "{directory}");
    }

    #[cfg(unix)]
    #[test]
    fn readable_secret_files_are_flagged() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "x").unwrap();
        let secret = SecretRef::File(path.clone());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(secret.permission_warning(), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let warning = secret.permission_warning().unwrap();
        assert!(warning.contains("mode 644"), "{warning}");
        assert_eq!(SecretRef::env("X").permission_warning(), None);
    }
}

//! `vigil check-config --print`: the config file as TOML, comments kept, with every
//! secret reference annotated (set or not, never the value) and anything that looks
//! like a credential redacted: URL passwords, credential-like query parameters, and
//! values of credential-like keys. What is printed is safe to paste into a ticket.

use std::path::Path;

use toml_edit::{DocumentMut, Item, Table, Value};
use vigil_config::SecretRef;

const REDACTED: &str = "REDACTED";

/// Query parameters and keys whose values are credentials.
const SENSITIVE_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "api_key",
    "apikey",
    "key",
    "client_secret",
    "auth",
    "authorization",
    "sig",
    "signature",
    "session",
    "sessionid",
];

fn is_sensitive(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    SENSITIVE_NAMES.contains(&name.as_str())
        || name.ends_with("_token")
        || name.ends_with("_secret")
        || name.ends_with("_password")
        || name.ends_with("_key")
}

/// `text` (the config file) with secrets annotated and credentials redacted.
/// `base_dir` resolves relative `*_file` paths; `env` stands in for the environment.
pub fn redacted(
    text: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<String> {
    let mut document: DocumentMut = text.parse()?;
    redact_table(document.as_table_mut(), base_dir, env);
    Ok(document.to_string())
}

fn redact_table(table: &mut Table, base_dir: &Path, env: &dyn Fn(&str) -> Option<String>) {
    for (key, item) in table.iter_mut() {
        let name = key.get().to_string();
        match item {
            Item::Value(value) => {
                if let Some(note) = redact_value(&name, value, base_dir, env) {
                    // The user's own comment on the line stays, after the note.
                    let comment = value
                        .decor()
                        .suffix()
                        .and_then(|suffix| suffix.as_str())
                        .map(str::trim)
                        .filter(|comment| !comment.is_empty())
                        .map(|comment| format!(" {comment}"))
                        .unwrap_or_default();
                    value.decor_mut().set_suffix(format!(" # {note}{comment}"));
                }
            }
            Item::Table(inner) => redact_table(inner, base_dir, env),
            Item::ArrayOfTables(tables) => {
                for inner in tables.iter_mut() {
                    redact_table(inner, base_dir, env);
                }
            }
            Item::None => {}
        }
    }
}

/// Redacts one value in place; returns the note for a secret reference.
fn redact_value(
    name: &str,
    value: &mut Value,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    match value {
        Value::String(string) => {
            let text = string.value().clone();
            let reference = if let Some(stem) = name.strip_suffix("_env") {
                Some((stem, SecretRef::env(text.clone())))
            } else {
                name.strip_suffix("_file").map(|stem| {
                    let path = Path::new(&text);
                    let path = if path.is_absolute() {
                        path.to_path_buf()
                    } else {
                        base_dir.join(path)
                    };
                    (stem, SecretRef::File(path))
                })
            };
            if let Some((_, secret)) = reference {
                // The name of a variable or a path is not the secret: keep it, say
                // whether it resolves.
                return Some(match secret.resolve_with(env) {
                    Ok(_) => "secret: set".to_string(),
                    Err(problem) => format!("secret: {problem}"),
                });
            }
            let redacted = if is_sensitive(name) {
                REDACTED.to_string()
            } else {
                redact_url(&text)
            };
            if redacted != text {
                let decor = string.decor().clone();
                *value = Value::from(redacted);
                *value.decor_mut() = decor;
            }
            None
        }
        Value::Array(array) => {
            for element in array.iter_mut() {
                redact_value(name, element, base_dir, env);
            }
            None
        }
        Value::InlineTable(table) => {
            // Inline tables cannot hold comments, so a secret reference inside one gets
            // no note; its value is redacted all the same.
            for (key, element) in table.iter_mut() {
                let inner = key.get().to_string();
                redact_value(&inner, element, base_dir, env);
            }
            None
        }
        _ => None,
    }
}

/// A URL's password and credential-like query values replaced by `REDACTED`; text
/// that is not an absolute URL comes back unchanged.
pub fn redact_url(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return text.to_string();
    };
    if url.cannot_be_a_base() {
        return text.to_string();
    }
    let mut changed = false;
    if url.password().is_some() {
        let _ = url.set_password(Some(REDACTED));
        changed = true;
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.iter().any(|(k, _)| is_sensitive(k)) {
            let mut serializer = url.query_pairs_mut();
            serializer.clear();
            for (k, v) in &pairs {
                serializer.append_pair(k, if is_sensitive(k) { REDACTED } else { v });
            }
            drop(serializer);
            changed = true;
        }
    }
    if changed {
        url.to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_passwords_and_credential_parameters_only() {
        assert_eq!(
            redact_url("https://bot:hunter2@example.com/feed?q=acme&api_key=XYZ&page=2"),
            "https://bot:REDACTED@example.com/feed?q=acme&api_key=REDACTED&page=2"
        );
        assert_eq!(
            redact_url("https://example.com/search?q=acme"),
            "https://example.com/search?q=acme"
        );
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url("mailto:pr@example.com"), "mailto:pr@example.com");
        assert_eq!(
            redact_url("https://hooks.example.com/x?access_token=abc"),
            "https://hooks.example.com/x?access_token=REDACTED"
        );
    }

    #[test]
    fn secret_references_are_annotated_never_resolved_into_the_output() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("smtp.pass"), "file-secret\n").unwrap();
        let text = r#"# my config
[server]
listen = "127.0.0.1:8080"
[[server.tokens]]
name = "analyst"
role = "viewer"
token_env = "TOKEN_SET" # the analysts' token

[[server.tokens]]
name = "ops"
role = "admin"
token_env = "TOKEN_UNSET"

[alerts.smtp]
host = "smtp.example.com"
username = "alerts"
password_file = "smtp.pass"
from = "Vigil <alerts@example.com>"

[[sources]]
name = "api"
kind = "json"
url = "https://user:pw-in-url@api.example.com/search?q=acme&token=tok-in-url"
fields = { text = "/body", api_key = "inline-key" }
"#;
        let env = |name: &str| (name == "TOKEN_SET").then(|| "env-secret".to_string());
        let printed = redacted(text, dir.path(), &env).unwrap();
        for secret in [
            "env-secret",
            "file-secret",
            "pw-in-url",
            "tok-in-url",
            "inline-key",
        ] {
            assert!(!printed.contains(secret), "{secret} leaked:\n{printed}");
        }
        assert!(printed.contains("# my config"), "{printed}");
        assert!(
            printed.contains("token_env = \"TOKEN_SET\" # secret: set # the analysts' token"),
            "{printed}"
        );
        assert!(
            printed.contains(
                "token_env = \"TOKEN_UNSET\" # secret: environment variable TOKEN_UNSET is not set"
            ),
            "{printed}"
        );
        assert!(
            printed.contains("password_file = \"smtp.pass\" # secret: set"),
            "{printed}"
        );
        assert!(
            printed.contains("https://user:REDACTED@api.example.com/search?q=acme&token=REDACTED"),
            "{printed}"
        );
        // Still TOML, and the same keys.
        let reparsed: DocumentMut = printed.parse().unwrap();
        assert_eq!(
            reparsed["server"]["tokens"]
                .as_array_of_tables()
                .unwrap()
                .len(),
            2
        );
    }
}

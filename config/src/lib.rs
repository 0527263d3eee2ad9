//! Vigil's configuration: TOML → validated [`Config`].
//!
//! [`load`] reads a file and reports *every* problem at once ([`ConfigErrors`]), each
//! with `file:line:col`, the key, the bad value and what was expected: unknown keys
//! (with a "did you mean"), wrong types, bad durations and enum values, literal
//! secrets, and references that do not resolve (a rule naming an unknown brand,
//! recipient or script). [`Config::builtin_default`] is what commands run on when no
//! config file exists. Secrets are never in the file: `*_env` keys name environment
//! variables and `*_file` keys name files ([`SecretRef`]), read when needed.

mod error;
mod load;
mod reader;
mod secret;
mod types;

pub use error::{ConfigError, ConfigErrors};
pub use load::{load, parse_str, secret_from_env};
pub use secret::SecretRef;
pub use types::*;

//! Vigil's configuration: TOML → validated [`Config`].
//!
//! [`load`] reads a file and reports *every* problem at once ([`ConfigErrors`]), each
//! with `file:line:col`, the key, the bad value and what was expected: unknown keys,
//! wrong types, bad durations and enums, and references that do not resolve (a rule
//! naming an unknown brand, recipient or script). [`Config::builtin_default`] is what
//! commands run on when no config file exists.

mod error;
mod types;

pub use error::{ConfigError, ConfigErrors};
pub use types::*;

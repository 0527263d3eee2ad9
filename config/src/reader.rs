//! A span-aware reader over a parsed TOML table. Every accessor records the key as
//! known; type errors are collected instead of returned, so one pass over the file
//! reports every problem; [`TableReader::finish`] reports the keys nobody asked for.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml_edit::{Item, TableLike, Value};

use crate::ConfigError;

pub(crate) type Span = Option<Range<usize>>;

/// Collects errors and turns byte spans into `line:column`.
pub(crate) struct Diagnostics<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub errors: Vec<(usize, ConfigError)>,
}

impl<'a> Diagnostics<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Self {
            file,
            text,
            errors: Vec::new(),
        }
    }

    pub fn error(&mut self, span: &Span, key: &str, message: impl Into<String>) {
        let offset = span.as_ref().map_or(0, |s| s.start).min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        self.errors.push((
            offset,
            ConfigError {
                file: self.file.to_path_buf(),
                line,
                column,
                key: key.to_string(),
                message: message.into(),
            },
        ));
    }

    /// Errors in file order (stable for equal offsets).
    pub fn into_sorted(mut self) -> Vec<ConfigError> {
        self.errors.sort_by_key(|(offset, _)| *offset);
        self.errors.into_iter().map(|(_, e)| e).collect()
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(value) => match value {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a datetime",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "an inline table",
        },
    }
}

pub(crate) struct TableReader<'doc> {
    /// Dotted path of this table, e.g. `alerts.rules[2]`.
    pub path: String,
    pub span: Span,
    table: &'doc dyn TableLike,
    used: BTreeSet<String>,
}

impl<'doc> TableReader<'doc> {
    pub fn new(table: &'doc dyn TableLike, span: Span, path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            span,
            table,
            used: BTreeSet::new(),
        }
    }

    pub fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The item under `key` with the best span for messages about its value.
    pub fn item(&mut self, key: &str) -> Option<(&'doc Item, Span)> {
        self.used.insert(key.to_string());
        let (key_ref, item) = self.table.get_key_value(key)?;
        let span = item.span().or_else(|| key_ref.span());
        Some((item, span))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    fn wrong_type(
        &self,
        diag: &mut Diagnostics,
        key: &str,
        item: &Item,
        span: &Span,
        expected: &str,
    ) {
        diag.error(
            span,
            &self.key_path(key),
            format!("expected {expected}, found {}", type_name(item)),
        );
    }

    pub fn string(&mut self, diag: &mut Diagnostics, key: &str) -> Option<(String, Span)> {
        let (item, span) = self.item(key)?;
        match item.as_str() {
            Some(s) => Some((s.to_string(), span)),
            None => {
                self.wrong_type(diag, key, item, &span, "a string");
                None
            }
        }
    }

    pub fn required_string(&mut self, diag: &mut Diagnostics, key: &str) -> Option<(String, Span)> {
        if !self.contains(key) {
            self.used.insert(key.to_string());
            diag.error(&self.span, &self.key_path(key), "missing required key");
            return None;
        }
        self.string(diag, key)
    }

    pub fn string_or(&mut self, diag: &mut Diagnostics, key: &str, default: &str) -> String {
        self.string(diag, key)
            .map_or_else(|| default.to_string(), |(s, _)| s)
    }

    pub fn bool_or(&mut self, diag: &mut Diagnostics, key: &str, default: bool) -> bool {
        let Some((item, span)) = self.item(key) else {
            return default;
        };
        item.as_bool().unwrap_or_else(|| {
            self.wrong_type(diag, key, item, &span, "true or false");
            default
        })
    }

    pub fn integer(&mut self, diag: &mut Diagnostics, key: &str) -> Option<(i64, Span)> {
        let (item, span) = self.item(key)?;
        match item.as_integer() {
            Some(n) => Some((n, span)),
            None => {
                self.wrong_type(diag, key, item, &span, "an integer");
                None
            }
        }
    }

    /// An integer in `min..=max`.
    pub fn int_in(
        &mut self,
        diag: &mut Diagnostics,
        key: &str,
        default: i64,
        min: i64,
        max: i64,
    ) -> i64 {
        let Some((n, span)) = self.integer(diag, key) else {
            return default;
        };
        if n < min || n > max {
            diag.error(
                &span,
                &self.key_path(key),
                format!("{n} is out of range: expected {min} to {max}"),
            );
            return default;
        }
        n
    }

    pub fn float(&mut self, diag: &mut Diagnostics, key: &str) -> Option<(f64, Span)> {
        let (item, span) = self.item(key)?;
        match item
            .as_float()
            .or_else(|| item.as_integer().map(|n| n as f64))
        {
            Some(x) => Some((x, span)),
            None => {
                self.wrong_type(diag, key, item, &span, "a number");
                None
            }
        }
    }

    pub fn duration_or(&mut self, diag: &mut Diagnostics, key: &str, default: &str) -> Duration {
        let fallback =
            vigil_core::time::parse_duration(default).expect("default durations are valid");
        let Some((text, span)) = self.string(diag, key) else {
            return fallback;
        };
        match vigil_core::time::parse_duration(&text) {
            Ok(d) if d.is_zero() => {
                diag.error(&span, &self.key_path(key), "must be longer than zero");
                fallback
            }
            Ok(d) => d,
            Err(e) => {
                diag.error(&span, &self.key_path(key), e.to_string());
                fallback
            }
        }
    }

    /// One of `allowed`, returned as its index.
    pub fn choice(
        &mut self,
        diag: &mut Diagnostics,
        key: &str,
        allowed: &[&str],
        default: usize,
    ) -> usize {
        let Some((text, span)) = self.string(diag, key) else {
            return default;
        };
        match allowed.iter().position(|a| *a == text) {
            Some(i) => i,
            None => {
                diag.error(
                    &span,
                    &self.key_path(key),
                    format!(
                        "unknown value {text:?}: expected one of {}",
                        allowed.join(", ")
                    ),
                );
                default
            }
        }
    }

    pub fn string_list(&mut self, diag: &mut Diagnostics, key: &str) -> Vec<(String, Span)> {
        let Some((item, span)) = self.item(key) else {
            return Vec::new();
        };
        let Some(array) = item.as_array() else {
            self.wrong_type(diag, key, item, &span, "an array of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, value) in array.iter().enumerate() {
            match value.as_str() {
                Some(s) => out.push((s.to_string(), value.span())),
                None => diag.error(
                    &value.span(),
                    &format!("{}[{i}]", self.key_path(key)),
                    "expected a string",
                ),
            }
        }
        out
    }

    /// A sub-table written either as `[a.b]` or inline as `b = { … }`.
    pub fn table(&mut self, diag: &mut Diagnostics, key: &str) -> Option<TableReader<'doc>> {
        let (item, span) = self.item(key)?;
        let path = self.key_path(key);
        match item {
            Item::Table(t) => Some(TableReader::new(t, t.span().or(span), path)),
            Item::Value(Value::InlineTable(t)) => {
                Some(TableReader::new(t, t.span().or(span), path))
            }
            other => {
                self.wrong_type(diag, key, other, &span, "a table");
                None
            }
        }
    }

    /// An array of tables written either as `[[a.b]]` or as `b = [{…}, {…}]`.
    pub fn tables(&mut self, diag: &mut Diagnostics, key: &str) -> Vec<TableReader<'doc>> {
        let Some((item, span)) = self.item(key) else {
            return Vec::new();
        };
        let path = self.key_path(key);
        match item {
            Item::ArrayOfTables(array) => array
                .iter()
                .enumerate()
                .map(|(i, t)| TableReader::new(t, t.span(), format!("{path}[{i}]")))
                .collect(),
            Item::Value(Value::Array(array)) => {
                let mut out = Vec::new();
                for (i, value) in array.iter().enumerate() {
                    match value.as_inline_table() {
                        Some(t) => out.push(TableReader::new(t, t.span(), format!("{path}[{i}]"))),
                        None => diag.error(
                            &value.span(),
                            &format!("{path}[{i}]"),
                            "expected a table ({ … })",
                        ),
                    }
                }
                out
            }
            other => {
                self.wrong_type(diag, key, other, &span, "an array of tables");
                Vec::new()
            }
        }
    }

    /// All string values of an inline table, in file order (for `fields = { … }`).
    pub fn string_map(&mut self, diag: &mut Diagnostics, key: &str) -> Vec<(String, String)> {
        self.string_map_spanned(diag, key)
            .into_iter()
            .map(|(k, value, _)| (k, value))
            .collect()
    }

    /// All string values of a table with the span of each, in file order.
    pub fn string_map_spanned(
        &mut self,
        diag: &mut Diagnostics,
        key: &str,
    ) -> Vec<(String, String, Span)> {
        let Some(mut table) = self.table(diag, key) else {
            return Vec::new();
        };
        let keys: Vec<String> = table.table.iter().map(|(k, _)| k.to_string()).collect();
        let mut out = Vec::new();
        for k in keys {
            if let Some((value, span)) = table.string(diag, &k) {
                out.push((k, value, span));
            }
        }
        out
    }

    /// Reports every key present in the table that no accessor asked for.
    pub fn finish(self, diag: &mut Diagnostics) {
        for (key, item) in self.table.iter() {
            if self.used.contains(key) {
                continue;
            }
            let span = self
                .table
                .get_key_value(key)
                .and_then(|(k, _)| k.span())
                .or_else(|| item.span());
            let mut message = "unknown key".to_string();
            if let Some(suggestion) = closest(key, self.used.iter().map(String::as_str)) {
                message.push_str(&format!(" (did you mean {suggestion:?}?)"));
            } else {
                let known: Vec<&str> = self.used.iter().map(String::as_str).collect();
                message.push_str(&format!("; known keys here: {}", known.join(", ")));
            }
            diag.error(&span, &self.key_path(key), message);
        }
    }
}

/// The known key closest to `key` by edit distance, if it is close enough to be a typo.
fn closest<'a>(key: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|candidate| (levenshtein(key, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            closest("listn", ["listen", "tokens"].into_iter()),
            Some("listen")
        );
        assert_eq!(closest("zzzzzz", ["listen", "tokens"].into_iter()), None);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}

//! The baseline a user might pick instead of Vigil: SQLite with an FTS5 index, loaded
//! from the same JSON Lines and asked the same queries.
//!
//! Choices, each what a careful user would do:
//! - A `posts` table (deduplicated by `id`, `INSERT OR IGNORE`) plus an FTS5 index,
//!   5,000 rows per transaction, WAL, `synchronous=NORMAL`.
//! - Like Vigil, only posts naming a watched brand are kept; the brands are tagged at
//!   load by a case-insensitive substring test of each brand's terms and kept in a
//!   `brands` column, so both engines hold the same posts and their hit counts can be
//!   compared.
//! - Tokenizer `porter unicode61`: English stemming, as Vigil has. `unicode61` makes a
//!   whole run of Chinese one token, and the `trigram` tokenizer cannot match the
//!   two-character words that are most of Chinese (召回, 爆炸, 质量). So the indexed
//!   text has a space around every CJK character (see [`fts_text`]) and a Chinese term
//!   becomes a phrase of characters — substring search, the semantics Vigil gives
//!   Chinese terms through its per-character field. The index is therefore
//!   contentless (`content=''`, rowid = `posts.seq`): its text differs from
//!   `posts.text`, which hits are read from.
//! - The timeline is a `GROUP BY` day over a covering index on
//!   `(published_at, brands)`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, params};
use serde::{Deserialize, Serialize};
use vigil_core::Query;
use vigil_core::query::NearOperand;
use vigil_core::text::is_cjk;

/// Rows per transaction, as `vigil import` batches.
pub const BATCH: usize = 5_000;

/// A brand as the baseline tags it: its name and the lower-cased terms of its query.
#[derive(Debug, Clone)]
pub struct BrandTerms {
    pub name: String,
    pub terms: Vec<String>,
}

/// What loading the baseline took.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub lines: u64,
    /// Rows inserted (brand-matched, not seen before).
    pub stored: u64,
    pub duplicates: u64,
    pub unmatched: u64,
    pub seconds: f64,
    /// `INSERT INTO posts_fts(posts_fts) VALUES('optimize')` after the load, not counted
    /// in `seconds`.
    pub optimize_seconds: f64,
    pub bytes_on_disk: u64,
}

/// Why a Vigil query has no FTS5 translation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no FTS5 equivalent: {0}")]
pub struct Untranslatable(pub String);

/// `text` as the FTS5 index sees it: a space on both sides of every CJK character, so
/// `unicode61` makes each one a token.
pub fn fts_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    for c in text.chars() {
        if is_cjk(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// An FTS5 string literal of `words` (a phrase when it has several tokens), CJK spaced.
fn fts_string(words: &str) -> String {
    let spaced = fts_text(words);
    let collapsed = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("\"{}\"", collapsed.replace('"', "\"\""))
}

fn fts_term(term: &str) -> Result<String, Untranslatable> {
    match term.find('*') {
        None => Ok(fts_string(term)),
        Some(star) if star == term.len() - 1 && star > 0 && !term.chars().any(is_cjk) => {
            Ok(format!("{}*", fts_string(&term[..star])))
        }
        Some(_) => Err(Untranslatable(format!(
            "wildcard {term:?} (FTS5 has prefix queries only)"
        ))),
    }
}

fn near_operand(operand: &NearOperand) -> Result<String, Untranslatable> {
    match operand {
        NearOperand::Term(term) => fts_term(term),
        NearOperand::Phrase(phrase) => Ok(fts_string(phrase)),
    }
}

/// The FTS5 `MATCH` expression for `query`, or `None` for `*` (every row).
///
/// FTS5's `NOT` is binary (`a NOT b`), so a negation must sit in an `AND` with at
/// least one positive part; field operators have no equivalent here.
pub fn translate(query: &Query) -> Result<Option<String>, Untranslatable> {
    match query {
        Query::All => Ok(None),
        other => expression(other).map(Some),
    }
}

/// The translated parts of an `AND`, nested `AND`s flattened, negations apart.
fn and_parts(
    parts: &[Query],
    positive: &mut Vec<String>,
    negative: &mut Vec<String>,
) -> Result<(), Untranslatable> {
    for part in parts {
        match part {
            Query::All => {}
            Query::And(inner) => and_parts(inner, positive, negative)?,
            Query::Not(inner) => negative.push(expression(inner)?),
            other => positive.push(expression(other)?),
        }
    }
    Ok(())
}

fn expression(query: &Query) -> Result<String, Untranslatable> {
    match query {
        Query::All => Err(Untranslatable("`*` inside an expression".into())),
        Query::Term(term) => fts_term(term),
        Query::Phrase(phrase) => Ok(fts_string(phrase)),
        Query::Near {
            left,
            right,
            distance,
        } => Ok(format!(
            "NEAR({} {}, {distance})",
            near_operand(left)?,
            near_operand(right)?
        )),
        Query::Or(parts) => {
            let translated = parts
                .iter()
                .map(|part| match part {
                    Query::Not(_) => Err(Untranslatable("NOT inside OR".into())),
                    other => expression(other),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("({})", translated.join(" OR ")))
        }
        Query::And(parts) => {
            let mut positive = Vec::new();
            let mut negative = Vec::new();
            and_parts(parts, &mut positive, &mut negative)?;
            if positive.is_empty() {
                return Err(Untranslatable("an AND with only negated parts".into()));
            }
            let mut out = if positive.len() == 1 {
                positive.remove(0)
            } else {
                format!("({})", positive.join(" AND "))
            };
            if negative.is_empty() {
                return Ok(out);
            }
            for part in negative {
                out.push_str(" NOT ");
                out.push_str(&part);
            }
            Ok(format!("({out})"))
        }
        Query::Not(_) => Err(Untranslatable("NOT without a positive part".into())),
        Query::Field { field, .. } => {
            Err(Untranslatable(format!("field operator {}:", field.name())))
        }
    }
}

/// One line of the import file, as the baseline reads it.
#[derive(Debug, Deserialize)]
struct Line {
    id: serde_json::Value,
    url: Option<String>,
    author: Option<String>,
    published_at: String,
    text: String,
    lang: Option<String>,
}

/// The loaded baseline database.
pub struct Baseline {
    connection: Connection,
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn database_bytes(path: &Path) -> u64 {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| file_size(&path.with_file_name(format!("{name}{suffix}"))))
        .sum()
}

/// The brands (comma-separated names) whose terms occur in `lowercase_text`.
pub fn tag_brands(lowercase_text: &str, brands: &[BrandTerms]) -> String {
    let mut names = String::new();
    for brand in brands {
        if brand
            .terms
            .iter()
            .any(|term| lowercase_text.contains(term.as_str()))
        {
            if !names.is_empty() {
                names.push(',');
            }
            names.push_str(&brand.name);
        }
    }
    names
}

fn create_schema(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         CREATE TABLE posts (
             seq INTEGER PRIMARY KEY,
             id TEXT NOT NULL UNIQUE,
             url TEXT,
             author TEXT,
             published_at TEXT NOT NULL,
             text TEXT NOT NULL,
             lang TEXT,
             brands TEXT NOT NULL
         );
         CREATE INDEX posts_published_brands ON posts (published_at, brands);
         CREATE VIRTUAL TABLE posts_fts USING fts5(
             body, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
         );",
    )
}

impl Baseline {
    /// Opens an in-memory database with the schema (for tests).
    #[cfg(test)]
    pub fn in_memory() -> anyhow::Result<Baseline> {
        let connection = Connection::open_in_memory()?;
        create_schema(&connection)?;
        Ok(Baseline { connection })
    }

    /// Opens a database loaded before (`--skip-ingest`).
    pub fn open_existing(path: &Path) -> anyhow::Result<Baseline> {
        let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Baseline { connection })
    }

    /// Creates `db` afresh and loads `corpus` into it, timing the load.
    pub fn load(
        db: &Path,
        corpus: &Path,
        brands: &[BrandTerms],
    ) -> anyhow::Result<(Baseline, LoadReport)> {
        for suffix in ["", "-wal", "-shm"] {
            let name = format!("{}{suffix}", db.display());
            let _ = std::fs::remove_file(name);
        }
        let mut connection = Connection::open(db)?;
        let options: Vec<String> = connection
            .prepare("PRAGMA compile_options")?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        anyhow::ensure!(
            options.iter().any(|o| o == "ENABLE_FTS5"),
            "this SQLite was built without FTS5"
        );
        create_schema(&connection)?;
        let reader = BufReader::with_capacity(
            1 << 20,
            File::open(corpus).with_context(|| format!("opening {}", corpus.display()))?,
        );
        let started = Instant::now();
        let mut report = LoadReport {
            lines: 0,
            stored: 0,
            duplicates: 0,
            unmatched: 0,
            seconds: 0.0,
            optimize_seconds: 0.0,
            bytes_on_disk: 0,
        };
        let mut lines = reader.lines();
        let mut done = false;
        while !done {
            let transaction = connection.transaction()?;
            {
                let mut insert_post = transaction.prepare_cached(
                    "INSERT OR IGNORE INTO posts (id, url, author, published_at, text, lang, brands)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                let mut insert_fts = transaction
                    .prepare_cached("INSERT INTO posts_fts (rowid, body) VALUES (?1, ?2)")?;
                let mut in_batch = 0;
                while in_batch < BATCH {
                    let Some(line) = lines.next() else {
                        done = true;
                        break;
                    };
                    let line = line?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    report.lines += 1;
                    in_batch += 1;
                    let post: Line = serde_json::from_str(&line)
                        .with_context(|| format!("line {}", report.lines))?;
                    let brand_names = tag_brands(&post.text.to_lowercase(), brands);
                    if brand_names.is_empty() {
                        report.unmatched += 1;
                        continue;
                    }
                    let id = match &post.id {
                        serde_json::Value::String(id) => id.clone(),
                        other => other.to_string(),
                    };
                    let inserted = insert_post.execute(params![
                        id,
                        post.url,
                        post.author,
                        post.published_at,
                        post.text,
                        post.lang,
                        brand_names
                    ])?;
                    if inserted == 0 {
                        report.duplicates += 1;
                        continue;
                    }
                    report.stored += 1;
                    insert_fts.execute(params![
                        transaction.last_insert_rowid(),
                        fts_text(&post.text)
                    ])?;
                }
            }
            transaction.commit()?;
            if report.lines % 200_000 < BATCH as u64 && report.lines >= 200_000 && !done {
                let rate = report.lines as f64 / started.elapsed().as_secs_f64();
                eprintln!("fts5: {} lines loaded ({rate:.0} lines/s)", report.lines);
            }
        }
        report.seconds = started.elapsed().as_secs_f64();
        let optimize = Instant::now();
        connection.execute("INSERT INTO posts_fts (posts_fts) VALUES ('optimize')", [])?;
        connection.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?;
        report.optimize_seconds = optimize.elapsed().as_secs_f64();
        report.bytes_on_disk = database_bytes(db);
        Ok((Baseline { connection }, report))
    }

    /// Inserts one post directly (tests).
    #[cfg(test)]
    pub fn insert(
        &self,
        id: &str,
        published_at: &str,
        text: &str,
        brands: &[BrandTerms],
    ) -> anyhow::Result<()> {
        let names = tag_brands(&text.to_lowercase(), brands);
        self.connection.execute(
            "INSERT INTO posts (id, published_at, text, brands) VALUES (?1, ?2, ?3, ?4)",
            params![id, published_at, text, names],
        )?;
        self.connection.execute(
            "INSERT INTO posts_fts (rowid, body) VALUES (?1, ?2)",
            params![self.connection.last_insert_rowid(), fts_text(text)],
        )?;
        Ok(())
    }

    /// Rows in `posts`.
    pub fn post_count(&self) -> anyhow::Result<u64> {
        Ok(self
            .connection
            .query_row("SELECT count(*) FROM posts", [], |row| row.get::<_, i64>(0))?
            as u64)
    }

    /// The search Vigil's `SearchIndex::search` answers: the exact number of matches
    /// and the best `limit` by BM25, rows read. Returns (total, hits read).
    pub fn search(&self, expression: &str, limit: usize) -> anyhow::Result<(u64, usize)> {
        let total: i64 = self
            .connection
            .prepare_cached("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH ?1")?
            .query_row([expression], |row| row.get(0))?;
        let mut statement = self.connection.prepare_cached(
            "SELECT p.id, p.url, p.author, p.published_at, p.text, p.lang, p.brands
             FROM (SELECT rowid AS r, rank AS k FROM posts_fts
                   WHERE posts_fts MATCH ?1 ORDER BY rank LIMIT ?2) AS best
             JOIN posts p ON p.seq = best.r
             ORDER BY best.k",
        )?;
        let mut rows = statement.query(params![expression, limit as i64])?;
        let mut read = 0;
        while let Some(row) = rows.next()? {
            let hit: (String, Option<String>, Option<String>, String, String) = (
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            );
            std::hint::black_box(hit);
            read += 1;
        }
        Ok((total as u64, read))
    }

    /// Posts of `brand` per UTC day in `[from, to)`, oldest day first.
    pub fn timeline(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<(String, u64)>> {
        let format = |time: DateTime<Utc>| time.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut statement = self.connection.prepare_cached(
            "SELECT substr(published_at, 1, 10) AS day, count(*) FROM posts
             WHERE published_at >= ?1 AND published_at < ?2 AND instr(brands, ?3) > 0
             GROUP BY day ORDER BY day",
        )?;
        let days = statement
            .query_map(params![format(from), format(to), brand], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translated(query: &str) -> Result<Option<String>, Untranslatable> {
        translate(&Query::parse(query).expect("valid query"))
    }

    fn brands() -> Vec<BrandTerms> {
        vec![
            BrandTerms {
                name: "Acme".into(),
                terms: vec!["acme".into(), "艾克米".into()],
            },
            BrandTerms {
                name: "Globex".into(),
                terms: vec!["globex".into(), "环球".into()],
            },
        ]
    }

    #[test]
    fn translates_terms_phrases_and_chinese() {
        assert_eq!(translated("kettle").unwrap().unwrap(), r#""kettle""#);
        assert_eq!(
            translated("\"acme kettle\"").unwrap().unwrap(),
            r#""acme kettle""#
        );
        assert_eq!(translated("召回").unwrap().unwrap(), r#""召 回""#);
        assert_eq!(translated("acme水壶").unwrap().unwrap(), r#""acme 水 壶""#);
        assert_eq!(translated("acm*").unwrap().unwrap(), r#""acm"*"#);
        // Operator words inside quotes are plain words to FTS5.
        assert_eq!(
            translated("\"not near\"").unwrap().unwrap(),
            r#""not near""#
        );
        assert_eq!(translated("*").unwrap(), None);
    }

    #[test]
    fn translates_boolean_structure() {
        assert_eq!(
            translated("acme AND (broken OR leak) NOT globex")
                .unwrap()
                .unwrap(),
            r#"(("acme" AND ("broken" OR "leak")) NOT "globex")"#
        );
        assert_eq!(
            translated("kettle OR toaster").unwrap().unwrap(),
            r#"("kettle" OR "toaster")"#
        );
        assert_eq!(
            translated("acme NEAR/3 kettle").unwrap().unwrap(),
            r#"NEAR("acme" "kettle", 3)"#
        );
        assert!(translated("NOT acme").is_err());
        assert!(translated("acme OR NOT globex").is_err());
        assert!(translated("author:bob").is_err());
        assert!(translated("*ville").is_err());
    }

    #[test]
    fn translated_queries_find_what_vigil_matching_finds() {
        let baseline = Baseline::in_memory().unwrap();
        let texts = [
            "The Acme kettle is broken again",
            "Acme kettle started to leak, Globex is better",
            "My Acme toaster works great",
            "艾克米水壶召回了，质量太差",
            "环球的搅拌机很好用",
            "Globex blender exploded",
            "Acme kettles everywhere",
        ];
        for (n, text) in texts.iter().enumerate() {
            baseline
                .insert(&n.to_string(), "2026-08-01T00:00:00Z", text, &brands())
                .unwrap();
        }
        for query in [
            "acme",
            "\"acme kettle\"",
            "acme AND (broken OR leak) NOT globex",
            "召回",
            "质量",
            "艾克米",
            "kettle",
            "explode",
        ] {
            let parsed = Query::parse(query).unwrap();
            let expression = translate(&parsed).unwrap().unwrap();
            let (total, read) = baseline.search(&expression, 20).unwrap();
            let expected = texts.iter().filter(|t| parsed.matches(t)).count() as u64;
            // Vigil's own matcher has no stemming; FTS5 (like Vigil's index) stems.
            let stemmed_extra = match query {
                "kettle" | "\"acme kettle\"" => 1, // "kettles"
                "explode" => 1,                    // "exploded"
                _ => 0,
            };
            assert_eq!(total, expected + stemmed_extra, "{query} -> {expression}");
            assert_eq!(read as u64, total.min(20));
        }
    }

    #[test]
    fn brands_are_tagged_and_timeline_groups_by_day() {
        let baseline = Baseline::in_memory().unwrap();
        for (id, time, text) in [
            ("1", "2026-08-01T10:00:00Z", "acme kettle"),
            ("2", "2026-08-01T23:59:59Z", "艾克米水壶"),
            ("3", "2026-08-02T00:00:00Z", "globex and acme"),
            ("4", "2026-08-03T12:00:00Z", "globex only"),
            ("5", "2026-08-04T00:00:00Z", "acme, out of range"),
        ] {
            baseline.insert(id, time, text, &brands()).unwrap();
        }
        assert_eq!(tag_brands("globex and acme", &brands()), "Acme,Globex");
        assert_eq!(tag_brands("initech", &brands()), "");
        let from = "2026-08-01T00:00:00Z".parse().unwrap();
        let to = "2026-08-04T00:00:00Z".parse().unwrap();
        assert_eq!(
            baseline.timeline("Acme", from, to).unwrap(),
            vec![("2026-08-01".to_string(), 2), ("2026-08-02".to_string(), 1)]
        );
        assert_eq!(
            baseline.timeline("Globex", from, to).unwrap(),
            vec![("2026-08-02".to_string(), 1), ("2026-08-03".to_string(), 1)]
        );
    }
}

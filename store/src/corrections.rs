//! Analysts' sentiment corrections, re-scoring, and the queue of posts whose indexed
//! copy is stale.
//!
//! A correction ([`Store::correct_sentiment`]) is one transaction: it appends a row to
//! `corrections` (who, when, the label, and what the model had said), sets the post's
//! sentiment to the analyst's (backend [`ANALYST_BACKEND`], confidence 1, score -1, 0
//! or +1), queues the post in `index_refresh`, and appends a `sentiment_corrected`
//! audit entry. A model never overwrites an analyst's label: [`Store::set_sentiments`]
//! and [`Store::rescore`] skip corrected posts.
//!
//! `index_refresh` holds the seq of every post whose sentiment changed after it may have
//! been indexed. The index writer re-adds those posts and then clears them
//! ([`Store::pending_refresh`], [`Store::clear_refresh`]); a crash in between re-adds
//! them once more, which the index treats as an update.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use vigil_core::{Label, Sentiment};

use crate::audit::append_in;
use crate::posts::{UPDATE_SENTIMENT, update_sentiment};
use crate::time::{format_time, parsed_col, time_col};
use crate::{Result, Store, StoreError};

/// `sentiment_backend` of a post whose label an analyst set.
pub const ANALYST_BACKEND: &str = "analyst";

/// One stored correction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correction {
    pub id: i64,
    pub post_id: String,
    pub label: Label,
    /// Who corrected it (`--by`, or the API token's name).
    pub by: String,
    /// How: `cli` or `api`.
    pub via: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// What the model had said before the first correction (`None` if it had not
    /// scored the post yet).
    pub model: Option<Sentiment>,
    /// The audit entry that records it.
    pub audit_seq: i64,
}

/// A corrected post's text with its latest label, for training.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrectedExample {
    pub post_id: String,
    pub text: String,
    pub lang: Option<String>,
    pub brands: Vec<String>,
    pub label: Label,
}

/// A post the index must re-add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRefresh {
    pub seq: i64,
    /// `None` when the post was erased since (nothing to re-add).
    pub post_id: Option<String>,
    /// Bumped each time the post is queued again, so a change made while the index was
    /// re-adding an older version is not cleared with it.
    pub rev: i64,
}

const QUEUE_REFRESH: &str = "INSERT INTO index_refresh (seq, rev) VALUES (?1, 1)
     ON CONFLICT (seq) DO UPDATE SET rev = rev + 1";

/// The sentiment an analyst's label stands for.
pub fn analyst_sentiment(label: Label, lang: &str, by: &str) -> Sentiment {
    Sentiment {
        label,
        score: match label {
            Label::Negative => -1.0,
            Label::Neutral => 0.0,
            Label::Positive => 1.0,
        },
        confidence: 1.0,
        lang: lang.to_string(),
        backend: ANALYST_BACKEND.to_string(),
        version: format!("by:{by}"),
    }
}

impl Store {
    /// Records an analyst's label for the post `post_id` (see the module docs). Fails
    /// with [`StoreError::NotFound`] for an unknown (or erased) post and
    /// [`StoreError::Invalid`] for an empty `by`.
    pub fn correct_sentiment(
        &self,
        post_id: &str,
        label: Label,
        by: &str,
        via: &str,
    ) -> Result<Correction> {
        let by = by.trim();
        if by.is_empty() {
            return Err(StoreError::Invalid(
                "a correction needs the analyst's name".into(),
            ));
        }
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        type Row = (i64, Option<String>, Option<String>, Option<String>);
        let found: Option<(Row, Option<Sentiment>)> = tx
            .query_row(
                "SELECT seq, lang, sentiment_label, sentiment_backend, sentiment_score,
                        sentiment_confidence, sentiment_lang, sentiment_version
                 FROM posts WHERE id = ?1",
                [post_id],
                |row| {
                    let label: Option<String> = row.get(2)?;
                    let backend: Option<String> = row.get(3)?;
                    let model = match (&label, &backend) {
                        (Some(label), Some(backend)) if backend != ANALYST_BACKEND => {
                            label.parse::<Label>().ok().map(|label| Sentiment {
                                label,
                                score: row.get(4).unwrap_or(0.0),
                                confidence: row.get(5).unwrap_or(0.0),
                                lang: row
                                    .get::<_, Option<String>>(6)
                                    .ok()
                                    .flatten()
                                    .unwrap_or_default(),
                                backend: backend.clone(),
                                version: row
                                    .get::<_, Option<String>>(7)
                                    .ok()
                                    .flatten()
                                    .unwrap_or_default(),
                            })
                        }
                        _ => None,
                    };
                    Ok(((row.get(0)?, row.get(1)?, label, backend), model))
                },
            )
            .optional()?;
        let Some(((seq, lang, _, backend), model_now)) = found else {
            return Err(StoreError::NotFound(format!("post {post_id}")));
        };
        // What the model said: from the post if the model's label is still there, else
        // from the first correction (which recorded it).
        let model = if backend.as_deref() == Some(ANALYST_BACKEND) {
            tx.query_row(
                "SELECT model_json FROM corrections WHERE post_id = ?1 ORDER BY id LIMIT 1",
                [post_id],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten()
            .and_then(|json| serde_json::from_str::<Sentiment>(&json).ok())
        } else {
            model_now
        };
        let lang = lang
            .or_else(|| model.as_ref().map(|m| m.lang.clone()))
            .unwrap_or_else(|| "und".into());
        let sentiment = analyst_sentiment(label, &lang, by);
        // An analyst may overwrite an analyst: no backend's label is kept.
        let mut update = tx.prepare_cached(UPDATE_SENTIMENT)?;
        update_sentiment(&mut update, seq, &sentiment, "")?;
        drop(update);
        let model_json = model.as_ref().map(serde_json::to_string).transpose()?;
        tx.execute(
            "INSERT INTO corrections (post_id, label, by, via, at, model_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                post_id,
                label.as_str(),
                by,
                via,
                format_time(now),
                model_json
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.execute(QUEUE_REFRESH, [seq])?;
        let entry = append_in(
            &tx,
            now,
            "sentiment_corrected",
            by,
            &serde_json::json!({
                "correction": id,
                "post_id": post_id,
                "label": label.as_str(),
                "via": via,
                "model": model.as_ref().map(|m| serde_json::json!({
                    "label": m.label.as_str(),
                    "score": m.score,
                    "backend": m.backend,
                    "version": m.version,
                })),
            }),
        )?;
        tx.execute(
            "UPDATE corrections SET audit_seq = ?2 WHERE id = ?1",
            params![id, entry.seq],
        )?;
        tx.commit()?;
        Ok(Correction {
            id,
            post_id: post_id.to_string(),
            label,
            by: by.to_string(),
            via: via.to_string(),
            at: now,
            model,
            audit_seq: entry.seq,
        })
    }

    /// Every correction of `post_id`, oldest first.
    pub fn corrections_of(&self, post_id: &str) -> Result<Vec<Correction>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT id, post_id, label, by, via, at, model_json, audit_seq
             FROM corrections WHERE post_id = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([post_id], |row| {
            let model: Option<String> = row.get(6)?;
            Ok(Correction {
                id: row.get(0)?,
                post_id: row.get(1)?,
                label: parsed_col(row, 2)?,
                by: row.get(3)?,
                via: row.get(4)?,
                at: time_col(row, 5)?,
                model: model.and_then(|json| serde_json::from_str(&json).ok()),
                audit_seq: row.get(7)?,
            })
        })?;
        let out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(out)
    }

    /// The latest label of every corrected post still stored, with its text, in post
    /// order: training data for `vigil classifier train --with-corrections`.
    pub fn corrected_examples(&self) -> Result<Vec<CorrectedExample>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT p.id, p.text, p.lang, p.brands, c.label
             FROM corrections c JOIN posts p ON p.id = c.post_id
             WHERE c.id = (SELECT max(id) FROM corrections WHERE post_id = c.post_id)
             ORDER BY p.seq",
        )?;
        let rows = statement.query_map([], |row| {
            let brands: String = row.get(3)?;
            Ok(CorrectedExample {
                post_id: row.get(0)?,
                text: row.get(1)?,
                lang: row.get(2)?,
                brands: serde_json::from_str(&brands).unwrap_or_default(),
                label: parsed_col(row, 4)?,
            })
        })?;
        let out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(out)
    }

    /// Text and language of up to `limit` of `brand`'s most recent original posts that
    /// no analyst labelled: what a brand's own model is anchored on, labelled by the
    /// shared model, so it learns from the corrections what differs and nothing more.
    pub fn uncorrected_brand_posts(
        &self,
        brand: &str,
        limit: usize,
    ) -> Result<Vec<(String, Option<String>)>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT p.text, p.lang FROM post_brands b JOIN posts p ON p.seq = b.seq
             WHERE b.brand = ?1 AND b.original = 1 AND p.sentiment_backend IS NOT ?2
             ORDER BY p.seq DESC LIMIT ?3",
        )?;
        let rows = statement.query_map(params![brand, ANALYST_BACKEND, limit as i64], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many posts were corrected.
    pub fn corrected_post_count(&self) -> Result<u64> {
        let conn = self.conn();
        Ok(conn.query_row(
            "SELECT count(DISTINCT post_id) FROM corrections",
            [],
            |row| row.get::<_, i64>(0),
        )? as u64)
    }

    /// Replaces model sentiments with new ones (re-scoring), skipping posts an analyst
    /// corrected, and queues every changed post for the index. Returns how many changed.
    pub fn rescore(&self, updates: &[(i64, Sentiment)]) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut changed = 0;
        {
            let mut update = tx.prepare_cached(UPDATE_SENTIMENT)?;
            let mut queue = tx.prepare_cached(QUEUE_REFRESH)?;
            for (seq, sentiment) in updates {
                let rows = update_sentiment(&mut update, *seq, sentiment, ANALYST_BACKEND)?;
                if rows > 0 {
                    queue.execute([seq])?;
                    changed += 1;
                }
            }
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Posts a re-scoring pass has to look at, after `after_seq`, oldest first, at most
    /// `limit`: those scored by none of `models` (`(backend, version)` pairs), and every
    /// post of one of `brands` (whose model depends on its brands: the caller checks
    /// each). Never a post an analyst labelled.
    pub fn scored_by_other_model(
        &self,
        models: &[(&str, &str)],
        brands: &[&str],
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<vigil_core::StoredPost>> {
        let (filter, mut values) = rescore_filter(models, brands);
        let sql = format!(
            "SELECT {} FROM posts WHERE seq > ? AND {filter} ORDER BY seq LIMIT ?",
            crate::posts::POST_COLUMNS
        );
        values.insert(0, after_seq.into());
        values.push((limit as i64).into());
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&sql)?;
        let rows = statement.query_map(
            rusqlite::params_from_iter(values),
            crate::posts::post_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many posts [`Store::scored_by_other_model`] would return in all.
    pub fn count_scored_by_other_model(
        &self,
        models: &[(&str, &str)],
        brands: &[&str],
    ) -> Result<u64> {
        let (filter, values) = rescore_filter(models, brands);
        let conn = self.conn();
        Ok(conn.query_row(
            &format!("SELECT count(*) FROM posts WHERE {filter}"),
            rusqlite::params_from_iter(values),
            |row| row.get::<_, i64>(0),
        )? as u64)
    }

    /// Posts queued for re-indexing, oldest first, at most `limit`.
    pub fn pending_refresh(&self, limit: usize) -> Result<Vec<PendingRefresh>> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(
            "SELECT r.seq, p.id, r.rev FROM index_refresh r LEFT JOIN posts p ON p.seq = r.seq
             ORDER BY r.seq LIMIT ?1",
        )?;
        let rows = statement.query_map([limit as i64], |row| {
            Ok(PendingRefresh {
                seq: row.get(0)?,
                post_id: row.get(1)?,
                rev: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Removes entries [`Store::pending_refresh`] returned, once the index committed
    /// them. An entry queued again meanwhile (a newer `rev`) stays.
    pub fn clear_refresh(&self, done: &[PendingRefresh]) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut delete =
                tx.prepare_cached("DELETE FROM index_refresh WHERE seq = ?1 AND rev = ?2")?;
            for item in done {
                delete.execute(params![item.seq, item.rev])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// The WHERE clause of a re-scoring pass (see [`Store::scored_by_other_model`]) and its
/// values, in placeholder order.
fn rescore_filter(
    models: &[(&str, &str)],
    brands: &[&str],
) -> (String, Vec<rusqlite::types::Value>) {
    let mut values: Vec<rusqlite::types::Value> = vec![ANALYST_BACKEND.to_owned().into()];
    let mut other = "1".to_owned();
    if !models.is_empty() {
        let rows = vec!["(?, ?)"; models.len()].join(", ");
        other = format!(
            "NOT EXISTS (SELECT 1 FROM (VALUES {rows}) m
                         WHERE m.column1 IS sentiment_backend AND m.column2 IS sentiment_version)"
        );
        for (backend, version) in models {
            values.push((*backend).to_owned().into());
            values.push((*version).to_owned().into());
        }
    }
    if !brands.is_empty() {
        let marks = vec!["?"; brands.len()].join(", ");
        other =
            format!("({other} OR seq IN (SELECT seq FROM post_brands WHERE brand IN ({marks})))");
        values.extend(brands.iter().map(|brand| (*brand).to_owned().into()));
    }
    (
        format!("sentiment_label IS NOT NULL AND sentiment_backend IS NOT ? AND {other}"),
        values,
    )
}

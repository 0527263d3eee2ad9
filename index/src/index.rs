use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::error::{DeleteError, LockError};
use tantivy::directory::{Directory, INDEX_WRITER_LOCK, MmapDirectory};
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, Occur, Query as TantivyQuery, RangeQuery, TermQuery,
};
use tantivy::schema::{IndexRecordOption, Schema, Value};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocAddress, Index, IndexReader, IndexSettings, Order, ReloadPolicy, Searcher, TantivyDocument,
    TantivyError, Term,
};
use tracing::{debug, warn};
use vigil_core::{Engagement, Label, Query, StoredPost};

use crate::error::{IndexError, Result};
use crate::query::QueryTranslator;
use crate::schema::{Fields, PUBLISHED_AT, build_schema};
use crate::tokenizer::{CJK_TOKENIZER, VIGIL_TOKENIZER, cjk_analyzer, segmenter, vigil_analyzer};

/// Hits per page are capped here so a huge `limit` cannot make tantivy allocate for it.
pub const MAX_LIMIT: usize = 10_000;

/// tantivy refuses less than this per indexing thread.
const MIN_HEAP_PER_THREAD: usize = 15_000_000;

/// What to search for: the query plus exact-match filters.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub query: Query,
    pub brand: Option<String>,
    pub source: Option<String>,
    pub sentiment: Option<Label>,
    /// Inclusive; compared at one-second precision.
    pub from: Option<DateTime<Utc>>,
    /// Inclusive; compared at one-second precision.
    pub to: Option<DateTime<Utc>>,
    /// Capped at [`MAX_LIMIT`].
    pub limit: usize,
    pub offset: usize,
}

impl SearchRequest {
    /// A request for `query` with no filters, first page of `limit` hits.
    pub fn new(query: Query, limit: usize) -> Self {
        Self {
            query,
            brand: None,
            source: None,
            sentiment: None,
            from: None,
            to: None,
            limit,
            offset: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Every matching post, not just this page.
    pub total: u64,
    pub hits: Vec<Hit>,
}

/// One post as search returns it (the JSON hit shape of `vigil search` and `/api/search`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub id: String,
    pub url: Option<String>,
    pub source: String,
    pub author: Option<String>,
    pub published_at: DateTime<Utc>,
    pub title: Option<String>,
    pub text: String,
    pub brands: Vec<String>,
    pub lang: Option<String>,
    pub sentiment: Option<HitSentiment>,
    /// BM25 score; 1.0 for every hit of `*`, which is ordered by time instead.
    pub relevance: f32,
    /// When this post is a copy of another (syndicated, reposted verbatim or nearly):
    /// the original's id, which alerts count instead. `null` for originals.
    #[serde(default)]
    pub duplicate_of: Option<String>,
    /// Reach and rating as the source reported them; omitted when it reported none.
    #[serde(default, skip_serializing_if = "Engagement::is_empty")]
    pub engagement: Engagement,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitSentiment {
    pub label: Label,
    pub score: f32,
}

/// The full-text index: derived data, rebuildable from the store at any time.
///
/// Cheap to clone; clones share the reader, so a commit through any writer is seen by
/// all of them.
#[derive(Clone)]
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    analyzer: TextAnalyzer,
    rebuilt: bool,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens the index in `dir` (the index directory itself, e.g. `<data_dir>/index`),
    /// creating the directory and an empty index when missing.
    ///
    /// An index built with a different schema (by an older vigil) is derived data this
    /// build cannot read: it is deleted and an empty one created in its place, with
    /// watermark 0, so the daemon's catch-up (or `vigil reindex`) refills it from the
    /// store; [`SearchIndex::was_rebuilt`] says so. This needs the index's writer lock:
    /// while another process (an old daemon) holds it, opening fails with
    /// [`IndexError::SchemaMismatch`].
    ///
    /// `dictionary_words` (brand names, Chinese terms) go into the segmenter's user
    /// dictionary so they are never split. Changing them only affects posts indexed
    /// afterwards; CJK terms are still found in older posts through `text_cjk`.
    pub fn open(dir: &Path, dictionary_words: &[String]) -> Result<SearchIndex> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let directory = MmapDirectory::open(dir).map_err(|source| IndexError::OpenDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let (schema, fields) = build_schema();
        let (index, rebuilt) = match Index::open_or_create(directory.clone(), schema.clone()) {
            Ok(index) => (index, false),
            Err(TantivyError::SchemaError(_)) => (recreate(dir, directory, schema)?, true),
            Err(other) => return Err(other.into()),
        };
        let analyzer = vigil_analyzer(Arc::new(segmenter(dictionary_words)));
        index
            .tokenizers()
            .register(VIGIL_TOKENIZER, analyzer.clone());
        index.tokenizers().register(CJK_TOKENIZER, cjk_analyzer());
        // Commits from our own writer reload explicitly; the watcher catches commits
        // made by another process (`vigil reindex`) or another `SearchIndex`.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        debug!(dir = %dir.display(), words = dictionary_words.len(), "search index opened");
        Ok(SearchIndex {
            index,
            reader,
            fields,
            analyzer,
            rebuilt,
        })
    }

    /// True when [`SearchIndex::open`] found an index built with another schema (an
    /// older vigil) and replaced it with an empty one: it holds nothing until the daemon
    /// catches up from the store or `vigil reindex` runs.
    pub fn was_rebuilt(&self) -> bool {
        self.rebuilt
    }

    /// Takes the index's writer lock. `heap_bytes` is the indexing memory budget,
    /// raised to tantivy's minimum (15 MB) when below it.
    pub fn writer(&self, heap_bytes: usize) -> Result<IndexWriter> {
        let heap_bytes = heap_bytes.max(MIN_HEAP_PER_THREAD);
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(heap_bytes / MIN_HEAP_PER_THREAD)
            .clamp(1, 8);
        let writer = self
            .index
            .writer_with_num_threads(threads, heap_bytes)
            .map_err(|error| match error {
                TantivyError::LockFailure(LockError::LockBusy, _) => IndexError::Locked,
                other => IndexError::Tantivy(other),
            })?;
        Ok(IndexWriter {
            writer,
            reader: self.reader.clone(),
            fields: self.fields,
        })
    }

    /// Store seq of the last committed batch; 0 for a new index.
    pub fn watermark(&self) -> Result<i64> {
        let metas = self.index.load_metas()?;
        match metas.payload {
            None => Ok(0),
            Some(payload) => payload
                .trim()
                .parse()
                .map_err(|_| IndexError::BadWatermark { payload }),
        }
    }

    /// Runs a search. `*` is ordered newest first; anything else by relevance (BM25),
    /// ties in index order. `total` counts every match, whatever the page.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults> {
        let searcher = self.reader.searcher();
        let query = self.build_query(request)?;
        let limit = request.limit.min(MAX_LIMIT);
        let page_possible = limit > 0 && (request.offset as u64) < searcher.num_docs();
        if !page_possible {
            let total = searcher.search(&query, &Count)? as u64;
            return Ok(SearchResults {
                total,
                hits: Vec::new(),
            });
        }
        let page = TopDocs::with_limit(limit).and_offset(request.offset);
        let (total, scored): (usize, Vec<(f32, DocAddress)>) = if request.query == Query::All {
            let by_time = page.order_by_fast_field::<tantivy::DateTime>(PUBLISHED_AT, Order::Desc);
            let (total, docs) = searcher.search(&query, &(Count, by_time))?;
            (
                total,
                docs.into_iter()
                    .map(|(_, address)| (1.0, address))
                    .collect(),
            )
        } else {
            searcher.search(&query, &(Count, page.order_by_score()))?
        };
        let mut hits = Vec::with_capacity(scored.len());
        for (relevance, address) in scored {
            hits.push(self.hit(&searcher, address, relevance)?);
        }
        Ok(SearchResults {
            total: total as u64,
            hits,
        })
    }

    /// Documents visible to searches (committed and reloaded).
    pub fn doc_count(&self) -> Result<u64> {
        Ok(self.reader.searcher().num_docs())
    }

    /// Makes commits from other processes visible now rather than after the watcher's delay.
    pub fn reload(&self) -> Result<()> {
        Ok(self.reader.reload()?)
    }

    fn build_query(&self, request: &SearchRequest) -> Result<Box<dyn TantivyQuery>> {
        let mut translator = QueryTranslator {
            fields: self.fields,
            analyzer: self.analyzer.clone(),
            cjk_analyzer: cjk_analyzer(),
        };
        let main = translator.translate(&request.query)?;
        let fields = self.fields;
        let mut filters: Vec<Box<dyn TantivyQuery>> = Vec::new();
        let exact = |field, value: &str| -> Box<dyn TantivyQuery> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(brand) = &request.brand {
            filters.push(exact(fields.brands, brand));
        }
        if let Some(source) = &request.source {
            filters.push(exact(fields.source, source));
        }
        if let Some(label) = request.sentiment {
            filters.push(exact(fields.sentiment, label.as_str()));
        }
        if request.from.is_some() || request.to.is_some() {
            let bound = |time: Option<DateTime<Utc>>| match time {
                Some(time) => Bound::Included(Term::from_field_date(
                    fields.published_at,
                    to_tantivy_date(time),
                )),
                None => Bound::Unbounded,
            };
            filters.push(Box::new(RangeQuery::new(
                bound(request.from),
                bound(request.to),
            )));
        }
        if filters.is_empty() {
            return Ok(main);
        }
        let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = vec![(Occur::Must, main)];
        for filter in filters {
            // Score 0 so filters narrow the hits without changing their ranking.
            clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    fn hit(&self, searcher: &Searcher, address: DocAddress, relevance: f32) -> Result<Hit> {
        let doc: TantivyDocument = searcher.doc(address)?;
        let fields = &self.fields;
        let text = |field| -> Option<String> {
            doc.get_first(field)
                .and_then(|value| value.as_str().map(str::to_string))
        };
        let published_at = doc
            .get_first(fields.published_at)
            .and_then(|value| value.as_datetime())
            .map(from_tantivy_date)
            .unwrap_or_default();
        let sentiment = text(fields.sentiment)
            .and_then(|label| label.parse::<Label>().ok())
            .map(|label| HitSentiment {
                label,
                score: doc
                    .get_first(fields.score)
                    .and_then(|value| value.as_f64())
                    .unwrap_or(0.0) as f32,
            });
        Ok(Hit {
            id: text(fields.id).unwrap_or_default(),
            url: text(fields.url),
            source: text(fields.source).unwrap_or_default(),
            author: text(fields.author),
            published_at,
            title: text(fields.title),
            text: text(fields.text).unwrap_or_default(),
            brands: doc
                .get_all(fields.brands)
                .filter_map(|value| value.as_str().map(str::to_string))
                .collect(),
            lang: text(fields.lang),
            sentiment,
            relevance,
            duplicate_of: text(fields.duplicate_of),
            // Written by `IndexWriter::add` from an `Engagement`; a document that does
            // not parse (none should) shows no engagement rather than failing the search.
            engagement: text(fields.engagement)
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default(),
        })
    }
}

/// Holds the index's writer lock until dropped. Changes become visible to searches
/// (and durable) only at [`IndexWriter::commit`].
pub struct IndexWriter {
    writer: tantivy::IndexWriter<TantivyDocument>,
    reader: IndexReader,
    fields: Fields,
}

impl std::fmt::Debug for IndexWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexWriter").finish_non_exhaustive()
    }
}

impl IndexWriter {
    /// Upsert: deletes any doc with the same post id, then adds. Idempotent, so replaying
    /// a range after a crash creates no duplicates.
    pub fn add(&mut self, stored: &StoredPost) -> Result<()> {
        let fields = &self.fields;
        let post = &stored.post;
        let mut doc = TantivyDocument::new();
        doc.add_text(fields.id, &post.id);
        doc.add_u64(fields.seq, u64::try_from(stored.seq).unwrap_or(0));
        doc.add_text(fields.source, &post.source);
        for brand in &post.brands {
            doc.add_text(fields.brands, brand);
        }
        if let Some(sentiment) = &post.sentiment {
            doc.add_text(fields.sentiment, sentiment.label.as_str());
            doc.add_f64(fields.score, f64::from(sentiment.score));
        }
        doc.add_date(fields.published_at, to_tantivy_date(post.published_at));
        let optional = [
            (fields.url, &post.url),
            (fields.author, &post.author),
            (fields.title, &post.title),
            (fields.lang, &post.lang),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                doc.add_text(field, value);
            }
        }
        doc.add_text(fields.text, &post.text);
        if let Some(title) = &post.title {
            doc.add_text(fields.text_cjk, title);
        }
        doc.add_text(fields.text_cjk, &post.text);
        if let Some(original) = &post.duplicate_of {
            doc.add_text(fields.duplicate_of, original);
        }
        if !post.engagement.is_empty() {
            doc.add_text(fields.engagement, serde_json::to_string(&post.engagement)?);
        }
        doc.add_u64(
            fields.reach,
            u64::try_from(post.engagement.reach()).unwrap_or(0),
        );

        self.writer.delete_term(id_term(fields, &post.id));
        self.writer.add_document(doc)?;
        Ok(())
    }

    pub fn delete(&mut self, post_id: &str) -> Result<()> {
        self.writer.delete_term(id_term(&self.fields, post_id));
        Ok(())
    }

    /// Removes every document (before a rebuild); takes effect at the next commit.
    pub fn delete_all(&mut self) -> Result<()> {
        self.writer.delete_all_documents()?;
        Ok(())
    }

    /// Commits with `watermark` (store seq) in the commit payload, then reloads the
    /// reader so searches see the commit at once.
    pub fn commit(&mut self, watermark: i64) -> Result<()> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&watermark.to_string());
        let opstamp = prepared.commit()?;
        self.reader.reload()?;
        debug!(watermark, opstamp, "index committed");
        Ok(())
    }
}

/// Replaces the index in `dir`, built with another schema, by an empty one with
/// `schema`, holding the writer lock meanwhile. Deletes only the files the old index's
/// meta lists as its own (segments, `meta.json`, `.managed.json`).
fn recreate(dir: &Path, directory: MmapDirectory, schema: Schema) -> Result<Index> {
    let mismatch = || IndexError::SchemaMismatch {
        path: dir.to_path_buf(),
    };
    let old = Index::open(directory.clone())?;
    let _lock = old
        .directory()
        .acquire_lock(&INDEX_WRITER_LOCK)
        .map_err(|error| match error {
            LockError::LockBusy => mismatch(),
            other => IndexError::Tantivy(other.into()),
        })?;
    let mut files: Vec<PathBuf> = old.directory().list_managed_files().into_iter().collect();
    files.sort();
    files.push(PathBuf::from(".managed.json"));
    // meta.json last: until it goes, the directory still reads as the old index.
    files.push(PathBuf::from("meta.json"));
    drop(old);
    for file in &files {
        match directory.delete(file) {
            Ok(()) | Err(DeleteError::FileDoesNotExist(_)) => {}
            Err(error) => {
                return Err(IndexError::Replace {
                    path: dir.to_path_buf(),
                    reason: error.to_string(),
                });
            }
        }
    }
    warn!(
        dir = %dir.display(),
        files = files.len(),
        "the search index was built with another schema; replaced it with an empty one to be refilled from the store"
    );
    Ok(Index::create(directory, schema, IndexSettings::default())?)
}

fn id_term(fields: &Fields, post_id: &str) -> Term {
    Term::from_field_text(fields.id, post_id)
}

fn to_tantivy_date(time: DateTime<Utc>) -> tantivy::DateTime {
    tantivy::DateTime::from_timestamp_micros(time.timestamp_micros())
}

fn from_tantivy_date(time: tantivy::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time.into_timestamp_micros()).unwrap_or_default()
}

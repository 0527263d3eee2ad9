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
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocAddress, Index, IndexReader, IndexSettings, ReloadPolicy, Searcher, TantivyDocument,
    TantivyError, Term,
};
use tracing::{debug, warn};
use vigil_core::{Engagement, Label, Query, StoredPost};

use crate::error::{IndexError, Result};
use crate::query::QueryTranslator;
use crate::schema::{Fields, PUBLISHED_AT, SEQ, build_schema};
use crate::tokenizer::{
    CJK_TOKENIZER, VIGIL_TOKENIZER, cjk_analyzer, cjk_characters_analyzer, has_cjk, segmenter,
    vigil_analyzer,
};

/// Hits per page are capped here so a huge `limit` cannot make tantivy allocate for it.
pub const MAX_LIMIT: usize = 10_000;

/// Longest highlighted passage, in characters.
pub const SNIPPET_CHARS: usize = 200;

/// Pages starting further in than this count the hits before collecting them, so a
/// page past the end allocates nothing (collectors hold `offset + limit` hits).
const ONE_PASS_MAX_OFFSET: usize = MAX_LIMIT;

/// tantivy refuses less than this per indexing thread.
const MIN_HEAP_PER_THREAD: usize = 15_000_000;

/// What to search for: the query plus filters, order and page.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub query: Query,
    pub brand: Option<String>,
    pub source: Option<String>,
    pub sentiment: Option<Label>,
    /// Language code as stored (`en`, `zh`, ...).
    pub lang: Option<String>,
    /// Inclusive; compared at one-second precision.
    pub from: Option<DateTime<Utc>>,
    /// Inclusive; compared at one-second precision.
    pub to: Option<DateTime<Utc>>,
    /// Sentiment score at least this (-1..1); unscored posts never pass a score bound.
    pub min_score: Option<f32>,
    /// Sentiment score at most this.
    pub max_score: Option<f32>,
    /// `Engagement::reach()` at least this.
    pub min_reach: Option<u64>,
    /// Order of the hits; `None` means relevance for a query, newest first for `*`.
    pub sort: Option<Sort>,
    /// Capped at [`MAX_LIMIT`].
    pub limit: usize,
    /// Hits to skip. Ignored when `cursor` is set.
    pub offset: usize,
    /// `SearchResults::next_cursor` of the previous page: continues after its last hit.
    /// In time order this is stable while posts are added (new posts do not shift later
    /// pages); in relevance order it is an offset.
    pub cursor: Option<String>,
    /// Compute a highlighted snippet for every hit.
    pub highlight: bool,
}

/// How hits are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// BM25, best first; ties in index order.
    Relevance,
    /// Newest `published_at` first; ties by store sequence, newest first.
    Newest,
    /// Oldest first.
    Oldest,
}

impl std::str::FromStr for Sort {
    type Err = String;

    fn from_str(value: &str) -> std::result::Result<Self, String> {
        match value {
            "relevance" => Ok(Sort::Relevance),
            "time" | "newest" => Ok(Sort::Newest),
            "oldest" => Ok(Sort::Oldest),
            other => Err(format!(
                "unknown sort {other:?}: expected relevance, time (newest first) or oldest"
            )),
        }
    }
}

impl SearchRequest {
    /// A request for `query` with no filters, first page of `limit` hits.
    pub fn new(query: Query, limit: usize) -> Self {
        Self {
            query,
            brand: None,
            source: None,
            sentiment: None,
            lang: None,
            from: None,
            to: None,
            min_score: None,
            max_score: None,
            min_reach: None,
            sort: None,
            limit,
            offset: 0,
            cursor: None,
            highlight: false,
        }
    }

    /// The order these hits come in.
    pub fn effective_sort(&self) -> Sort {
        match self.sort {
            Some(sort) => sort,
            None if self.query == Query::All => Sort::Newest,
            None => Sort::Relevance,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Every matching post, not just this page.
    pub total: u64,
    pub hits: Vec<Hit>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
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
    /// The best passage of the text with the matched terms marked; only when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlight: Option<Highlight>,
}

/// A passage of a hit's text (or title) with the query's terms marked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Highlight {
    /// The passage, plain text, at most [`SNIPPET_CHARS`] characters.
    pub fragment: String,
    /// Byte ranges of `fragment` that matched, in order, not overlapping.
    pub ranges: Vec<[usize; 2]>,
    /// `fragment` HTML-escaped with each range wrapped in `<mark>`.
    pub html: String,
}

impl Highlight {
    /// The fragment with each match wrapped in `open` and `close` (for terminals).
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::with_capacity(self.fragment.len() + 16);
        let mut at = 0;
        for [start, end] in &self.ranges {
            out.push_str(&self.fragment[at..*start]);
            out.push_str(open);
            out.push_str(&self.fragment[*start..*end]);
            out.push_str(close);
            at = *end;
        }
        out.push_str(&self.fragment[at..]);
        out
    }
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
    pub(crate) reader: IndexReader,
    pub(crate) fields: Fields,
    pub(crate) analyzer: TextAnalyzer,
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
            newest_seq: self.watermark()?.max(self.max_indexed_seq()?),
        })
    }

    /// The highest store seq of any committed document (0 when empty), from the seq
    /// column's per-segment maximum.
    fn max_indexed_seq(&self) -> Result<i64> {
        self.reader.reload()?;
        let searcher = self.reader.searcher();
        let mut max = 0u64;
        for segment in searcher.segment_readers() {
            if let Ok(column) = segment.fast_fields().u64(SEQ) {
                max = max.max(column.max_value());
            }
        }
        Ok(i64::try_from(max).unwrap_or(i64::MAX))
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

    /// Runs a search: one page of hits in the requested order, the exact `total`, and a
    /// cursor for the next page.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults> {
        let searcher = self.reader.searcher();
        let (main, filters) = self.query_parts(request)?;
        let query = with_filters(
            main.box_clone(),
            filters.iter().map(|filter| filter.box_clone()).collect(),
        );
        let limit = request.limit.min(MAX_LIMIT);
        let sort = request.effective_sort();
        let mut results = SearchResults {
            total: 0,
            hits: Vec::new(),
            next_cursor: None,
        };
        // The page and the total come from one pass over the matches, except where
        // two are cheaper: a term query's count is its document frequency, and BM25
        // top-k over terms skips whole blocks (block-WAND); positions (phrases, CJK
        // terms), filters and time order visit every match anyway, so counting there
        // costs nothing more, while a second pass would redo it all.
        let (total, page, next_cursor): (u64, Vec<(f32, DocAddress)>, Option<String>) = match sort {
            Sort::Relevance => {
                let offset = match &request.cursor {
                    Some(cursor) => parse_offset_cursor(cursor)?,
                    None => request.offset,
                };
                let top = || {
                    TopDocs::with_limit(limit)
                        .and_offset(offset)
                        .order_by_score()
                };
                let (total, docs) = if limit > 0
                    && offset <= ONE_PASS_MAX_OFFSET
                    && !blocks_can_be_skipped(&*query)
                {
                    let (total, docs) = searcher.search(&query, &(Count, top()))?;
                    (total as u64, docs)
                } else {
                    // Deep pages first learn whether there is anything to collect:
                    // the collector holds `offset + limit` hits per segment.
                    let total = searcher.search(&query, &Count)? as u64;
                    if limit == 0 || offset as u64 >= total {
                        (total, Vec::new())
                    } else {
                        (total, searcher.search(&query, &top())?)
                    }
                };
                let next = offset + docs.len();
                let more = (next as u64) < total && !docs.is_empty();
                (total, docs, more.then(|| format!("o{next}")))
            }
            Sort::Newest | Sort::Oldest => {
                let newest = sort == Sort::Newest;
                // One more than asked says whether another page exists.
                let top = |offset| {
                    TopDocs::with_limit(limit + 1)
                        .and_offset(offset)
                        .order_by(time_key_computer(newest))
                };
                let (total, mut docs) = match &request.cursor {
                    _ if limit == 0 => (searcher.search(&query, &Count)? as u64, Vec::new()),
                    Some(cursor) => {
                        // The page is of the posts after the cursor; the total, of all.
                        let after = TimeCursor::parse(cursor)?;
                        let mut clauses = filters;
                        clauses.push(after.remaining(&self.fields, newest));
                        let page_query = with_filters(main.box_clone(), clauses);
                        let total = searcher.search(&query, &Count)? as u64;
                        (total, searcher.search(&page_query, &top(0))?)
                    }
                    None if request.offset <= ONE_PASS_MAX_OFFSET => {
                        let (total, docs) =
                            searcher.search(&query, &(Count, top(request.offset)))?;
                        (total as u64, docs)
                    }
                    None => {
                        let total = searcher.search(&query, &Count)? as u64;
                        if request.offset as u64 >= total {
                            (total, Vec::new())
                        } else {
                            (total, searcher.search(&query, &top(request.offset))?)
                        }
                    }
                };
                let more = docs.len() > limit;
                docs.truncate(limit);
                let next = match docs.last() {
                    Some((key, _)) if more => Some(TimeCursor::from_key(*key, newest).to_string()),
                    _ => None,
                };
                (
                    total,
                    docs.into_iter()
                        .map(|(_, address)| (1.0, address))
                        .collect(),
                    next,
                )
            }
        };
        results.total = total;
        if page.is_empty() {
            return Ok(results);
        }
        let highlighter = if request.highlight {
            Some(Highlighter::new(&searcher, &*main, &self.fields)?)
        } else {
            None
        };
        for (relevance, address) in page {
            let mut hit = self.hit(&searcher, address, relevance)?;
            if let Some(highlighter) = &highlighter {
                hit.highlight = Some(highlighter.highlight(&hit));
            }
            results.hits.push(hit);
        }
        results.next_cursor = next_cursor;
        Ok(results)
    }

    /// Documents visible to searches (committed and reloaded).
    /// Documents deleted but still in segment files (until a merge or
    /// [`IndexWriter::compact_deletes`]).
    pub fn deleted_doc_count(&self) -> Result<u64> {
        Ok(self
            .index
            .searchable_segment_metas()?
            .iter()
            .map(|meta| u64::from(meta.num_deleted_docs()))
            .sum())
    }

    pub fn doc_count(&self) -> Result<u64> {
        Ok(self.reader.searcher().num_docs())
    }

    /// Makes commits from other processes visible now rather than after the watcher's delay.
    pub fn reload(&self) -> Result<()> {
        Ok(self.reader.reload()?)
    }

    /// The whole query for `request`: its boolean query narrowed by every filter.
    pub(crate) fn build_query(&self, request: &SearchRequest) -> Result<Box<dyn TantivyQuery>> {
        let (main, filters) = self.query_parts(request)?;
        Ok(with_filters(main, filters))
    }

    fn translator(&self) -> QueryTranslator {
        QueryTranslator {
            fields: self.fields,
            analyzer: self.analyzer.clone(),
            cjk_analyzer: cjk_characters_analyzer(),
        }
    }

    /// The request's boolean query, and its filters as separate queries.
    fn query_parts(&self, request: &SearchRequest) -> Result<QueryParts> {
        let main = self.translator().translate(&request.query)?;
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
        if let Some(lang) = &request.lang {
            filters.push(exact(fields.lang, &lang.trim().to_ascii_lowercase()));
        }
        if let (Some(from), Some(to)) = (request.from, request.to)
            && from > to
        {
            return Err(IndexError::InvalidFilter(format!(
                "from ({from}) is after to ({to})"
            )));
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
        for (name, value) in [
            ("min_score", request.min_score),
            ("max_score", request.max_score),
        ] {
            if let Some(value) = value
                && !(-1.0..=1.0).contains(&value)
            {
                return Err(IndexError::InvalidFilter(format!(
                    "{name} {value} is outside -1..1"
                )));
            }
        }
        if request.min_score.is_some() || request.max_score.is_some() {
            let bound = |score: Option<f32>, default: f64| {
                Bound::Included(Term::from_field_f64(
                    fields.score,
                    score.map_or(default, f64::from),
                ))
            };
            filters.push(Box::new(RangeQuery::new(
                bound(request.min_score, -1.0),
                bound(request.max_score, 1.0),
            )));
        }
        if let Some(reach) = request.min_reach {
            filters.push(Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_u64(fields.reach, reach)),
                Bound::Unbounded,
            )));
        }
        Ok((main, filters))
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
            highlight: None,
        })
    }
}

/// A request's boolean query and its filters, kept apart for highlighting and cursors.
type QueryParts = (Box<dyn TantivyQuery>, Vec<Box<dyn TantivyQuery>>);

/// `main` narrowed by `filters`, which score 0 so they do not change the ranking.
fn with_filters(
    main: Box<dyn TantivyQuery>,
    filters: Vec<Box<dyn TantivyQuery>>,
) -> Box<dyn TantivyQuery> {
    if filters.is_empty() {
        return main;
    }
    let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = vec![(Occur::Must, main)];
    for filter in filters {
        clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))));
    }
    Box::new(BooleanQuery::new(clauses))
}

/// A relevance-order cursor: `o<offset>`.
fn parse_offset_cursor(cursor: &str) -> Result<usize> {
    cursor
        .strip_prefix('o')
        .and_then(|offset| offset.parse().ok())
        .ok_or_else(|| IndexError::InvalidCursor {
            cursor: cursor.to_string(),
        })
}

/// A time-order cursor: the last hit's `published_at` (seconds) and store sequence,
/// written `t<seconds>.<seq>`. The next page is everything strictly past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeCursor {
    seconds: i64,
    seq: u64,
}

/// Sort key for time order: published_at seconds (sign bit flipped so it orders as
/// unsigned) in the high half, store sequence in the low half; inverted for oldest
/// first, since tantivy keeps the largest keys.
fn time_key(seconds: i64, seq: u64, newest: bool) -> u128 {
    let key = (u128::from((seconds as u64) ^ (1 << 63)) << 64) | u128::from(seq);
    if newest { key } else { !key }
}

fn time_key_computer(
    newest: bool,
) -> impl Fn(&tantivy::SegmentReader) -> Box<dyn FnMut(tantivy::DocId) -> u128> + Send + Sync + 'static
{
    move |segment: &tantivy::SegmentReader| {
        let fast = segment.fast_fields();
        let published = fast
            .date(PUBLISHED_AT)
            .ok()
            .map(|column| column.first_or_default_col(tantivy::DateTime::from_timestamp_secs(0)));
        let seq = fast
            .u64(SEQ)
            .ok()
            .map(|column| column.first_or_default_col(0));
        Box::new(move |doc| {
            let seconds = published
                .as_ref()
                .map_or(0, |column| column.get_val(doc).into_timestamp_secs());
            let seq = seq.as_ref().map_or(0, |column| column.get_val(doc));
            time_key(seconds, seq, newest)
        })
    }
}

impl TimeCursor {
    fn from_key(key: u128, newest: bool) -> TimeCursor {
        let key = if newest { key } else { !key };
        TimeCursor {
            seconds: (((key >> 64) as u64) ^ (1 << 63)) as i64,
            seq: key as u64,
        }
    }

    fn parse(cursor: &str) -> Result<TimeCursor> {
        let invalid = || IndexError::InvalidCursor {
            cursor: cursor.to_string(),
        };
        let (seconds, seq) = cursor
            .strip_prefix('t')
            .and_then(|rest| rest.split_once('.'))
            .ok_or_else(invalid)?;
        Ok(TimeCursor {
            seconds: seconds.parse().map_err(|_| invalid())?,
            seq: seq.parse().map_err(|_| invalid())?,
        })
    }

    /// Documents after this cursor in the given order.
    fn remaining(&self, fields: &Fields, newest: bool) -> Box<dyn TantivyQuery> {
        let date = |seconds| {
            Term::from_field_date(
                fields.published_at,
                tantivy::DateTime::from_timestamp_secs(seconds),
            )
        };
        let seq = Term::from_field_u64(fields.seq, self.seq);
        let (earlier_or_later, same_second_rest): (RangeQuery, RangeQuery) = if newest {
            (
                RangeQuery::new(Bound::Unbounded, Bound::Excluded(date(self.seconds))),
                RangeQuery::new(Bound::Unbounded, Bound::Excluded(seq)),
            )
        } else {
            (
                RangeQuery::new(Bound::Excluded(date(self.seconds)), Bound::Unbounded),
                RangeQuery::new(Bound::Excluded(seq), Bound::Unbounded),
            )
        };
        let same_second = RangeQuery::new(
            Bound::Included(date(self.seconds)),
            Bound::Included(date(self.seconds)),
        );
        let tie: Box<dyn TantivyQuery> = Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(same_second) as Box<dyn TantivyQuery>),
            (Occur::Must, Box::new(same_second_rest)),
        ]));
        Box::new(BooleanQuery::new(vec![
            (
                Occur::Should,
                Box::new(earlier_or_later) as Box<dyn TantivyQuery>,
            ),
            (Occur::Should, tie),
        ]))
    }
}

impl std::fmt::Display for TimeCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "t{}.{}", self.seconds, self.seq)
    }
}

/// Marks the query's terms in a hit's text: word terms through the `text` field's
/// analyzer (so `exploded` marks "explodes"), CJK through the per-character field.
struct Highlighter {
    words: SnippetGenerator,
    cjk: SnippetGenerator,
}

impl Highlighter {
    fn new(searcher: &Searcher, query: &dyn TantivyQuery, fields: &Fields) -> Result<Highlighter> {
        let mut words = SnippetGenerator::create(searcher, query, fields.text)?;
        words.set_max_num_chars(SNIPPET_CHARS);
        let mut cjk = SnippetGenerator::create(searcher, query, fields.text_cjk)?;
        cjk.set_max_num_chars(SNIPPET_CHARS);
        Ok(Highlighter { words, cjk })
    }

    fn highlight(&self, hit: &Hit) -> Highlight {
        let candidates = [self.words.snippet(&hit.text), self.cjk.snippet(&hit.text)];
        let best = candidates
            .into_iter()
            .chain(hit.title.as_deref().map(|title| self.words.snippet(title)))
            .find(|snippet| !snippet.highlighted().is_empty());
        match best {
            Some(snippet) => Highlight {
                fragment: snippet.fragment().to_string(),
                ranges: disjoint_ranges(snippet.highlighted()),
                html: {
                    let mut snippet = snippet;
                    snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
                    snippet.to_html()
                },
            },
            None => {
                // `*`, a filter-only search, or a wildcard: the opening of the text.
                let fragment = vigil_core::text::truncate_chars(&hit.text, SNIPPET_CHARS);
                Highlight {
                    html: html_escape(&fragment),
                    fragment,
                    ranges: Vec::new(),
                }
            }
        }
    }
}

/// `ranges` in order with overlapping ones merged: a bigram of `text_cjk` overlaps
/// its neighbours and the characters it is made of.
fn disjoint_ranges(ranges: &[std::ops::Range<usize>]) -> Vec<[usize; 2]> {
    let mut sorted: Vec<[usize; 2]> = ranges
        .iter()
        .map(|range| [range.start, range.end])
        .collect();
    sorted.sort_unstable();
    let mut merged: Vec<[usize; 2]> = Vec::with_capacity(sorted.len());
    for [start, end] in sorted {
        match merged.last_mut() {
            Some(last) if start < last[1] => last[1] = last[1].max(end),
            _ => merged.push([start, end]),
        }
    }
    merged
}

/// True for the queries tantivy answers fastest in two passes: a term (its count is
/// its document frequency) or a union or an intersection of terms alone (the top
/// hits by block-WAND, which skips blocks that cannot make the page).
fn blocks_can_be_skipped(query: &dyn TantivyQuery) -> bool {
    if query.is::<TermQuery>() {
        return true;
    }
    let Some(boolean) = query.downcast_ref::<BooleanQuery>() else {
        return false;
    };
    let clauses = boolean.clauses();
    let terms_only = clauses.iter().all(|(_, clause)| clause.is::<TermQuery>());
    let all_should = clauses.iter().all(|(occur, _)| *occur == Occur::Should);
    let all_must = clauses.iter().all(|(occur, _)| *occur == Occur::Must);
    !clauses.is_empty() && terms_only && (all_should || all_must)
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Holds the index's writer lock until dropped. Changes become visible to searches
/// (and durable) only at [`IndexWriter::commit`].
pub struct IndexWriter {
    writer: tantivy::IndexWriter<TantivyDocument>,
    reader: IndexReader,
    fields: Fields,
    /// Highest store seq committed or added through this writer. A post above it
    /// cannot be in the index yet (the commit payload says which seqs the index holds),
    /// so adding it skips the delete that makes `add` an upsert: applying deletes at
    /// commit means looking every id up in every segment.
    newest_seq: i64,
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
        if let Some(author) = &post.author {
            doc.add_text(fields.author_key, vigil_core::text::author_key(author));
        }
        if let Some(url) = &post.url {
            doc.add_text(fields.url_key, url.to_lowercase());
            for site in vigil_core::site_keys(url) {
                doc.add_text(fields.site, site);
            }
        }
        doc.add_text(fields.text, &post.text);
        // Only CJK characters are looked up in `text_cjk`: a post without any (most
        // English ones) leaves it out rather than indexing its value markers.
        if has_cjk(&post.text) || post.title.as_deref().is_some_and(has_cjk) {
            if let Some(title) = &post.title {
                doc.add_text(fields.text_cjk, title);
            }
            doc.add_text(fields.text_cjk, &post.text);
        }
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

        if stored.seq > self.newest_seq {
            self.newest_seq = stored.seq;
        } else {
            self.writer.delete_term(id_term(fields, &post.id));
        }
        self.writer.add_document(doc)?;
        Ok(())
    }

    pub fn delete(&mut self, post_id: &str) -> Result<()> {
        self.writer.delete_term(id_term(&self.fields, post_id));
        Ok(())
    }

    /// Rewrites every segment that holds deleted documents without them, then removes
    /// the old segment files. A delete only marks a document; its stored text stays in
    /// the segment's files until a merge. Erasure calls this after committing, so an
    /// erased post's bytes leave the disk at once; retention leaves it to the merge
    /// policy (rewriting the big segments every hour would cost more than it frees).
    /// Returns how many segments were rewritten.
    pub fn compact_deletes(&mut self) -> Result<usize> {
        let segments: Vec<tantivy::index::SegmentId> = self
            .writer
            .index()
            .searchable_segment_metas()?
            .into_iter()
            .filter(|meta| meta.has_deletes())
            .map(|meta| meta.id())
            .collect();
        if segments.is_empty() {
            return Ok(0);
        }
        // One segment at a time: each merge rewrites one segment minus its deletes,
        // so the disk needs room for one extra segment, not for the whole index.
        for segment in &segments {
            self.writer.merge(std::slice::from_ref(segment)).wait()?;
        }
        self.writer.garbage_collect_files().wait()?;
        self.reader.reload()?;
        debug!(segments = segments.len(), "segments with deletes rewritten");
        Ok(segments.len())
    }

    /// Removes every document (before a rebuild); takes effect at the next commit.
    pub fn delete_all(&mut self) -> Result<()> {
        self.writer.delete_all_documents()?;
        self.newest_seq = 0;
        Ok(())
    }

    /// Commits with `watermark` (store seq) in the commit payload, then reloads the
    /// reader so searches see the commit at once.
    pub fn commit(&mut self, watermark: i64) -> Result<()> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&watermark.to_string());
        let opstamp = prepared.commit()?;
        self.newest_seq = self.newest_seq.max(watermark);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_highlight_ranges_are_merged_and_ordered() {
        assert_eq!(disjoint_ranges(&[]), Vec::<[usize; 2]>::new());
        // Bigrams 克米 (3..9) and 米水 (6..12), and a repeat further on.
        assert_eq!(
            disjoint_ranges(&[3..9, 6..12, 20..26, 23..29]),
            [[3, 12], [20, 29]]
        );
        // Adjacent ranges (characters of a phrase) stay apart; order is restored.
        assert_eq!(disjoint_ranges(&[3..6, 0..3]), [[0, 3], [3, 6]]);
        assert_eq!(disjoint_ranges(&[0..9, 3..6]), [[0, 9]]);
    }

    #[test]
    fn only_terms_alone_are_searched_in_two_passes() {
        let (_, fields) = build_schema();
        let term = |text: &str| -> Box<dyn TantivyQuery> {
            Box::new(TermQuery::new(
                Term::from_field_text(fields.text, text),
                IndexRecordOption::WithFreqs,
            ))
        };
        assert!(blocks_can_be_skipped(&*term("kettl")));
        assert!(blocks_can_be_skipped(&BooleanQuery::union(vec![
            term("kettl"),
            term("acm")
        ])));
        assert!(blocks_can_be_skipped(&BooleanQuery::intersection(vec![
            term("kettl"),
            term("acm")
        ])));
        // Exclusions, nesting, filters and phrases visit every match anyway.
        assert!(!blocks_can_be_skipped(&BooleanQuery::new(vec![
            (Occur::Must, term("kettl")),
            (Occur::MustNot, term("acm")),
        ])));
        assert!(!blocks_can_be_skipped(&BooleanQuery::union(vec![
            term("kettl"),
            Box::new(BooleanQuery::union(vec![term("acm")])),
        ])));
        assert!(!blocks_can_be_skipped(&*with_filters(
            term("kettl"),
            vec![term("acm")]
        )));
        assert!(!blocks_can_be_skipped(&tantivy::query::PhraseQuery::new(
            vec![
                Term::from_field_text(fields.text, "red"),
                Term::from_field_text(fields.text, "kettl"),
            ]
        )));
        assert!(!blocks_can_be_skipped(&tantivy::query::AllQuery));
        assert!(!blocks_can_be_skipped(&BooleanQuery::new(Vec::new())));
    }
}

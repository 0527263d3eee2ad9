//! Aggregations for dashboards and alerts, computed from the index's fast fields.
//!
//! Every aggregation takes a [`SearchRequest`] as its filter, so the same query and
//! brand/source/sentiment/time filters apply as in search (`limit` and `offset` are
//! ignored). Methods that take their own time window ([`SearchIndex::timeline`],
//! [`SearchIndex::top_terms`]) use it in place of the filter's `from`/`to`; windows are
//! half-open, `[from, to)`.
//!
//! Counting runs in custom tantivy collectors over the fast-field columns
//! (`published_at`, `sentiment`, `score`, `reach`, `source`, `author`, `brands`) rather
//! than tantivy's aggregation framework. On the timeline both take about the same time
//! (`index/benches/aggregate.rs` measures both); the collector gives exact half-open
//! windows at sub-second edges, zero-filled buckets, `unscored` counts and typed results
//! without translating a JSON request and response, and the group collector merges
//! per-segment results sorted by key instead of hashing 100,000 author names.
//!
//! [`SearchIndex::top_terms`] is the exception: it needs the words of the posts, which
//! only the stored documents have, so it reads a sample of the most recent posts of
//! each window and says how many it read.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::{Bound, Range};
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{
    BooleanQuery, EmptyQuery, Occur, Query as TantivyQuery, RangeQuery, TermQuery,
};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocAddress, DocId, Order, Score, Searcher, SegmentOrdinal, SegmentReader, TantivyDocument,
    TantivyError, Term,
};
use thiserror::Error;
use tracing::debug;
use vigil_core::Label;

use crate::error::IndexError;
use crate::index::{SearchIndex, SearchRequest};
use crate::schema::{AUTHOR, BRANDS, PUBLISHED_AT, REACH, SCORE, SENTIMENT, SOURCE};

/// A timeline never has more buckets than this (10,000 hours is about 14 months).
pub const MAX_BUCKETS: usize = 10_000;

/// Posts read per window by [`SearchIndex::top_terms`] unless told otherwise.
pub const DEFAULT_TERM_SAMPLE: usize = 2_000;

/// [`TermsOptions::sample_size`] is capped here: each sampled post is a stored-document
/// read plus a run of the analyzer.
pub const MAX_TERM_SAMPLE: usize = 50_000;

/// Why an aggregation could not be computed.
#[derive(Debug, Error)]
pub enum AggregateError {
    /// `from` is after `to`.
    #[error("the time range is reversed: from {from} is after to {to}")]
    InvalidRange {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    /// The range would need more than [`MAX_BUCKETS`] buckets.
    #[error(
        "a timeline by {interval} from {from} to {to} would have {buckets} buckets, more than the {max} allowed; choose a shorter range or a wider interval"
    )]
    TooManyBuckets {
        interval: Interval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        buckets: u64,
        max: usize,
    },
    /// A timestamp too close to the ends of chrono's range to do arithmetic with.
    #[error("the time {time} is out of the supported range")]
    TimeOutOfRange { time: DateTime<Utc> },
    /// Not `hour` or `day`.
    #[error("unknown interval {value:?}: expected hour or day")]
    UnknownInterval { value: String },
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl AggregateError {
    /// True when the request itself is wrong (HTTP 400), false for failures of the index.
    pub fn is_bad_request(&self) -> bool {
        match self {
            AggregateError::Index(error) => error.is_bad_request(),
            _ => true,
        }
    }
}

impl From<TantivyError> for AggregateError {
    fn from(error: TantivyError) -> Self {
        AggregateError::Index(IndexError::Tantivy(error))
    }
}

pub type AggregateResult<T> = std::result::Result<T, AggregateError>;

/// Width of a timeline bucket. Buckets are aligned to UTC hours or UTC midnights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Hour,
    Day,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
        }
    }

    /// The bucket width; UTC has no daylight saving, so every day is 24 hours.
    pub fn seconds(self) -> i64 {
        match self {
            Interval::Hour => 3_600,
            Interval::Day => 86_400,
        }
    }

    /// Start of the bucket holding `time`.
    pub fn floor(self, time: DateTime<Utc>) -> DateTime<Utc> {
        let width = self.seconds();
        let start = time.timestamp().div_euclid(width) * width;
        // A whole number of seconds at or before a valid time is valid, except at
        // chrono's very first second; fall back to `time` there.
        DateTime::from_timestamp(start, 0).unwrap_or(time)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Interval {
    type Err = AggregateError;

    fn from_str(value: &str) -> AggregateResult<Interval> {
        match value.trim().to_ascii_lowercase().as_str() {
            "hour" => Ok(Interval::Hour),
            "day" => Ok(Interval::Day),
            _ => Err(AggregateError::UnknownInterval {
                value: value.to_string(),
            }),
        }
    }
}

/// Posts per sentiment label. `unscored` posts have no label yet (not classified).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCounts {
    pub negative: u64,
    pub neutral: u64,
    pub positive: u64,
    pub unscored: u64,
}

/// How to count a timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimelineOptions {
    /// Count near-duplicate copies (posts with `duplicate_of`) out, so a syndicated
    /// story counts once: what alerts use. Dashboards count everything (the default).
    pub originals_only: bool,
}

/// Mentions over time: `GET /api/timeline`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub interval: Interval,
    /// The counted range, `[from, to)`. The first and last buckets are partial when
    /// `from`/`to` are not on a bucket boundary.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// True when copies were left out.
    pub originals_only: bool,
    /// Posts counted over all buckets.
    pub total: u64,
    /// Every bucket from the one holding `from` to the one holding the last instant
    /// before `to`, oldest first, empty ones included.
    pub buckets: Vec<TimelineBucket>,
}

/// One hour or day of a [`Timeline`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineBucket {
    /// Aligned to the UTC hour or midnight.
    pub start: DateTime<Utc>,
    pub count: u64,
    #[serde(flatten)]
    pub labels: LabelCounts,
    /// Mean sentiment score (-1..1) of the scored posts; `null` when none is scored.
    pub mean_score: Option<f64>,
}

/// One brand's part of the conversation: [`SearchIndex::share_of_voice`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrandShare {
    pub brand: String,
    /// Posts mentioning the brand; a post mentioning two of the brands counts for both.
    pub mentions: u64,
    /// `mentions` over the mentions of all the brands asked about (0..1); all zero
    /// when none of them is mentioned.
    pub share: f64,
    #[serde(flatten)]
    pub labels: LabelCounts,
    pub mean_score: Option<f64>,
}

/// [`SearchIndex::top_sources`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceStats {
    pub source: String,
    pub count: u64,
    #[serde(flatten)]
    pub labels: LabelCounts,
    pub mean_score: Option<f64>,
}

/// [`SearchIndex::top_authors`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorStats {
    pub author: String,
    pub posts: u64,
    /// Sum of the posts' `Engagement::reach()`.
    pub total_reach: u64,
    pub max_reach: u64,
    pub mean_score: Option<f64>,
}

/// How [`SearchIndex::top_terms_with`] samples and filters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TermsOptions {
    /// Most recent posts read per window; capped at [`MAX_TERM_SAMPLE`].
    pub sample_size: usize,
    /// A term must be in at least this many sampled posts of the period.
    pub min_posts: u64,
    /// When the baseline has posts, terms scoring (G²) below this are chance and left
    /// out. The default, 3.84, is significance at p < 0.05.
    pub min_score: f64,
    /// Leave copies (`duplicate_of`) out so one syndicated story does not count as
    /// many posts.
    pub originals_only: bool,
}

impl Default for TermsOptions {
    fn default() -> Self {
        Self {
            sample_size: DEFAULT_TERM_SAMPLE,
            min_posts: 2,
            min_score: 3.84,
            originals_only: true,
        }
    }
}

/// "What is this spike about": [`SearchIndex::top_terms`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopTerms {
    pub period: WindowSample,
    pub baseline: WindowSample,
    /// Most over-represented first; terms of the filter's brand after all others.
    pub terms: Vec<TermStats>,
}

/// A window of [`TopTerms`] and how much of it was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSample {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Posts in the window matching the filter.
    pub matched: u64,
    /// The most recent of them that were read for terms.
    pub sampled: u64,
}

/// One term of [`TopTerms`]. Counts are posts of the samples containing the term (a
/// post repeating a word counts once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TermStats {
    /// The most frequent word (lower-cased) that produced the stem: `exploded`, not
    /// `explod`.
    pub term: String,
    /// What the index holds: stemmed and lower-cased; search for it with `term`.
    pub stem: String,
    pub count: u64,
    pub baseline_count: u64,
    /// `count` over the period's sampled posts.
    pub rate: f64,
    /// `baseline_count` over the baseline's sampled posts.
    pub baseline_rate: f64,
    /// Dunning's log-likelihood ratio G² of the 2×2 table (posts with/without the term,
    /// period/baseline). Above 3.84 the difference is significant at p < 0.05, above
    /// 10.83 at p < 0.001. Only terms more frequent in the period and scoring at least
    /// [`TermsOptions::min_score`] are listed; with an empty baseline every score is 0
    /// and terms are ordered by count.
    pub score: f64,
    /// The term is (part of) the name of the filter's brand; such terms are listed
    /// after the others.
    pub is_brand: bool,
}

impl SearchIndex {
    /// Mentions per hour or day in `[from, to)`, per sentiment label, with the mean
    /// score; every bucket present, zero-filled. The filter's own `from`/`to` are
    /// replaced by this window. Copies are counted (see [`SearchIndex::timeline_with`]).
    pub fn timeline(
        &self,
        filter: &SearchRequest,
        interval: Interval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> AggregateResult<Timeline> {
        self.timeline_with(filter, interval, from, to, TimelineOptions::default())
    }

    /// [`SearchIndex::timeline`] with options (alerts count originals only).
    ///
    /// Errors: `from` after `to` ([`AggregateError::InvalidRange`]), more than
    /// [`MAX_BUCKETS`] buckets ([`AggregateError::TooManyBuckets`]).
    pub fn timeline_with(
        &self,
        filter: &SearchRequest,
        interval: Interval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        options: TimelineOptions,
    ) -> AggregateResult<Timeline> {
        if from > to {
            return Err(AggregateError::InvalidRange { from, to });
        }
        let first_start = interval.floor(from);
        let width_micros = interval.seconds() * 1_000_000;
        let span_micros = to.timestamp_micros() - first_start.timestamp_micros();
        let bucket_count = if from == to {
            0
        } else {
            // Ceiling division: the last bucket holds the last instant before `to`.
            (span_micros + width_micros - 1) / width_micros
        };
        let bucket_count = u64::try_from(bucket_count).unwrap_or(0);
        if bucket_count > MAX_BUCKETS as u64 {
            return Err(AggregateError::TooManyBuckets {
                interval,
                from,
                to,
                buckets: bucket_count,
                max: MAX_BUCKETS,
            });
        }
        let buckets = bucket_count as usize;

        let searcher = self.reader.searcher();
        let query = self.filtered_query(filter, Some(from..to), options.originals_only)?;
        let collector = TimelineCollector {
            first_start_micros: first_start.timestamp_micros(),
            width_micros,
            from_micros: from.timestamp_micros(),
            to_micros: to.timestamp_micros(),
            buckets,
        };
        let accumulators = if buckets == 0 {
            Vec::new()
        } else {
            searcher.search(&*query, &collector)?
        };

        let width = TimeDelta::seconds(interval.seconds());
        let mut timeline_buckets = Vec::with_capacity(buckets);
        let mut start = first_start;
        let mut total = 0;
        for accumulator in accumulators {
            total += accumulator.count;
            timeline_buckets.push(TimelineBucket {
                start,
                count: accumulator.count,
                labels: accumulator.labels,
                mean_score: accumulator.mean_score(),
            });
            start = start
                .checked_add_signed(width)
                .ok_or(AggregateError::TimeOutOfRange { time: start })?;
        }
        debug!(%interval, buckets, total, "timeline computed");
        Ok(Timeline {
            interval,
            from,
            to,
            originals_only: options.originals_only,
            total,
            buckets: timeline_buckets,
        })
    }

    /// Share of voice between `brands` among the posts matching `filter` (its brand
    /// filter is ignored; its time range applies), in the order given, duplicates
    /// removed. Shares sum to 1 unless no brand is mentioned at all.
    pub fn share_of_voice(
        &self,
        filter: &SearchRequest,
        brands: &[String],
    ) -> AggregateResult<Vec<BrandShare>> {
        let mut unique: Vec<&String> = Vec::with_capacity(brands.len());
        for brand in brands {
            if !unique.contains(&brand) {
                unique.push(brand);
            }
        }
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        let without_brand = SearchRequest {
            brand: None,
            ..filter.clone()
        };
        let base = self.filtered_query(&without_brand, None, false)?;
        let any_brand: Vec<Box<dyn TantivyQuery>> = unique
            .iter()
            .map(|brand| exact_term(self.fields.brands, brand))
            .collect();
        let query = BooleanQuery::new(vec![
            (Occur::Must, base),
            (Occur::Must, Box::new(BooleanQuery::union(any_brand))),
        ]);
        let searcher = self.reader.searcher();
        let by_brand: HashMap<String, Accumulator> = searcher
            .search(&query, &GroupCollector::new(BRANDS))?
            .into_iter()
            .collect();
        let total: u64 = unique
            .iter()
            .filter_map(|brand| by_brand.get(String::as_str(brand)))
            .map(|accumulator| accumulator.count)
            .sum();
        Ok(unique
            .into_iter()
            .map(|brand| {
                let accumulator = by_brand
                    .get(String::as_str(brand))
                    .copied()
                    .unwrap_or_default();
                BrandShare {
                    brand: brand.clone(),
                    mentions: accumulator.count,
                    share: if total == 0 {
                        0.0
                    } else {
                        accumulator.count as f64 / total as f64
                    },
                    labels: accumulator.labels,
                    mean_score: accumulator.mean_score(),
                }
            })
            .collect())
    }

    /// The `limit` sources with the most posts matching `filter`, most first (ties by
    /// name), with their label counts and mean score.
    pub fn top_sources(
        &self,
        filter: &SearchRequest,
        limit: usize,
    ) -> AggregateResult<Vec<SourceStats>> {
        let query = self.filtered_query(filter, None, false)?;
        let by_source = self
            .reader
            .searcher()
            .search(&*query, &GroupCollector::new(SOURCE))?;
        let mut sources: Vec<SourceStats> = by_source
            .into_iter()
            .map(|(source, accumulator)| SourceStats {
                source,
                count: accumulator.count,
                labels: accumulator.labels,
                mean_score: accumulator.mean_score(),
            })
            .collect();
        keep_top(&mut sources, limit, |a, b| {
            b.count.cmp(&a.count).then_with(|| a.source.cmp(&b.source))
        });
        Ok(sources)
    }

    /// The `limit` authors of posts matching `filter` with the most total reach, then
    /// the most posts (ties by name). Posts without an author are not counted.
    pub fn top_authors(
        &self,
        filter: &SearchRequest,
        limit: usize,
    ) -> AggregateResult<Vec<AuthorStats>> {
        let query = self.filtered_query(filter, None, false)?;
        let by_author = self
            .reader
            .searcher()
            .search(&*query, &GroupCollector::new(AUTHOR).with_reach())?;
        let mut authors: Vec<AuthorStats> = by_author
            .into_iter()
            .map(|(author, accumulator)| AuthorStats {
                author,
                posts: accumulator.count,
                total_reach: accumulator.reach_sum,
                max_reach: accumulator.reach_max,
                mean_score: accumulator.mean_score(),
            })
            .collect();
        keep_top(&mut authors, limit, |a, b| {
            b.total_reach
                .cmp(&a.total_reach)
                .then_with(|| b.posts.cmp(&a.posts))
                .then_with(|| a.author.cmp(&b.author))
        });
        Ok(authors)
    }

    /// The `limit` terms most over-represented in `[from, to)` compared with
    /// `[baseline_from, baseline_to)`, among posts matching `filter` (its time range is
    /// replaced by the windows), with [`TermsOptions::default`]: the most recent 2,000
    /// posts of each window, copies left out.
    pub fn top_terms(
        &self,
        filter: &SearchRequest,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        baseline_from: DateTime<Utc>,
        baseline_to: DateTime<Utc>,
        limit: usize,
    ) -> AggregateResult<TopTerms> {
        self.top_terms_with(
            filter,
            from..to,
            baseline_from..baseline_to,
            limit,
            TermsOptions::default(),
        )
    }

    /// [`SearchIndex::top_terms`] with explicit sampling options.
    ///
    /// Terms come from the index's analyzer over each post's title and text, minus
    /// English and Chinese stopwords, single characters and numbers.
    pub fn top_terms_with(
        &self,
        filter: &SearchRequest,
        period: Range<DateTime<Utc>>,
        baseline: Range<DateTime<Utc>>,
        limit: usize,
        options: TermsOptions,
    ) -> AggregateResult<TopTerms> {
        for window in [&period, &baseline] {
            if window.start > window.end {
                return Err(AggregateError::InvalidRange {
                    from: window.start,
                    to: window.end,
                });
            }
        }
        let sample_size = options.sample_size.min(MAX_TERM_SAMPLE);
        let searcher = self.reader.searcher();
        let (period_sample, period_addresses) =
            self.sample_window(&searcher, filter, &period, sample_size, options)?;
        let (baseline_sample, baseline_addresses) =
            self.sample_window(&searcher, filter, &baseline, sample_size, options)?;
        // Reading and analyzing the samples is nearly all the time (jieba, the
        // stemmer): one window on another thread halves it on two cores.
        let tally = |addresses: &[DocAddress]| {
            let mut analyzer = self.analyzer.clone();
            tally_terms(&searcher, &self.fields, &mut analyzer, addresses)
        };
        let (period_tally, baseline_tally) = std::thread::scope(|scope| {
            let baseline = scope.spawn(|| tally(&baseline_addresses));
            let period = tally(&period_addresses);
            let baseline = baseline
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (period, baseline)
        });
        let (period_tally, mut surfaces) = period_tally?;
        let (baseline_tally, baseline_surfaces) = baseline_tally?;
        surfaces.absorb(baseline_surfaces);
        let mut analyzer = self.analyzer.clone();

        let brand_stems: HashSet<String> = match &filter.brand {
            Some(brand) => {
                let mut stream = analyzer.token_stream(brand);
                let mut stems = HashSet::new();
                while let Some(token) = stream.next() {
                    stems.insert(token.text.clone());
                }
                stems
            }
            None => HashSet::new(),
        };

        let period_posts = period_sample.sampled;
        let baseline_posts = baseline_sample.sampled;
        let mut terms: Vec<TermStats> = period_tally
            .into_iter()
            .filter(|(_, count)| *count >= options.min_posts.max(1))
            .filter_map(|(stem, count)| {
                let baseline_count = baseline_tally.get(&stem).copied().unwrap_or(0);
                let rate = count as f64 / period_posts as f64;
                let baseline_rate = if baseline_posts == 0 {
                    0.0
                } else {
                    baseline_count as f64 / baseline_posts as f64
                };
                let score = log_likelihood(count, baseline_count, period_posts, baseline_posts);
                if baseline_posts > 0 && (rate <= baseline_rate || score < options.min_score) {
                    return None;
                }
                Some(TermStats {
                    term: surfaces.most_frequent(&stem),
                    is_brand: brand_stems.contains(&stem),
                    score,
                    stem,
                    count,
                    baseline_count,
                    rate,
                    baseline_rate,
                })
            })
            .collect();
        // The filter's brand is what every post is about, so it never explains a
        // spike: listed (marked) after the other terms.
        terms.sort_by(|a, b| {
            a.is_brand
                .cmp(&b.is_brand)
                .then_with(|| b.score.total_cmp(&a.score))
                .then_with(|| b.count.cmp(&a.count))
                .then_with(|| a.stem.cmp(&b.stem))
        });
        terms.truncate(limit);
        Ok(TopTerms {
            period: period_sample,
            baseline: baseline_sample,
            terms,
        })
    }

    /// `filter` as a tantivy query, with its time range replaced by `window` when given
    /// (made half-open at the index's one-second precision) and copies left out when
    /// `originals_only`.
    fn filtered_query(
        &self,
        filter: &SearchRequest,
        window: Option<Range<DateTime<Utc>>>,
        originals_only: bool,
    ) -> AggregateResult<Box<dyn TantivyQuery>> {
        let query = match window {
            Some(window) => {
                let from = first_whole_second_at_or_after(window.start)?;
                let to = last_whole_second_before(window.end)?;
                if from > to {
                    // No whole second in the window, so no post (or an empty window).
                    return Ok(Box::new(EmptyQuery));
                }
                let request = SearchRequest {
                    from: Some(from),
                    to: Some(to),
                    ..filter.clone()
                };
                self.build_query(&request)?
            }
            None => self.build_query(filter)?,
        };
        if !originals_only {
            return Ok(query);
        }
        // Every term of `duplicate_of`: the field exists only on copies.
        let copies = RangeQuery::new(
            Bound::Included(Term::from_field_text(self.fields.duplicate_of, "")),
            Bound::Unbounded,
        );
        Ok(Box::new(BooleanQuery::new(vec![
            (Occur::Must, query),
            (Occur::MustNot, Box::new(copies)),
        ])))
    }

    /// How many posts match `filter` in `window`, and the addresses of the most recent
    /// `sample_size` of them, in index order (cheapest for the doc store).
    fn sample_window(
        &self,
        searcher: &Searcher,
        filter: &SearchRequest,
        window: &Range<DateTime<Utc>>,
        sample_size: usize,
        options: TermsOptions,
    ) -> AggregateResult<(WindowSample, Vec<DocAddress>)> {
        let query = self.filtered_query(filter, Some(window.clone()), options.originals_only)?;
        let (matched, mut addresses) = if window.start == window.end {
            (0, Vec::new())
        } else if sample_size == 0 {
            (searcher.search(&*query, &Count)?, Vec::new())
        } else {
            let newest = TopDocs::with_limit(sample_size)
                .order_by_fast_field::<tantivy::DateTime>(PUBLISHED_AT, Order::Desc);
            let (matched, hits) = searcher.search(&*query, &(Count, newest))?;
            (
                matched,
                hits.into_iter().map(|(_, address)| address).collect(),
            )
        };
        addresses.sort();
        Ok((
            WindowSample {
                from: window.start,
                to: window.end,
                matched: matched as u64,
                sampled: addresses.len() as u64,
            },
            addresses,
        ))
    }
}

/// Keeps the first `limit` of `items` in `order`, sorted: a selection first, so tens
/// of thousands of authors are not all sorted for a top ten.
fn keep_top<T>(items: &mut Vec<T>, limit: usize, order: impl Fn(&T, &T) -> std::cmp::Ordering) {
    if limit == 0 {
        items.clear();
        return;
    }
    if items.len() > limit {
        items.select_nth_unstable_by(limit - 1, &order);
        items.truncate(limit);
    }
    items.sort_by(order);
}

fn exact_term(field: tantivy::schema::Field, value: &str) -> Box<dyn TantivyQuery> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// The filter's `from` is inclusive at one-second precision: round up.
fn first_whole_second_at_or_after(time: DateTime<Utc>) -> AggregateResult<DateTime<Utc>> {
    let seconds = time.timestamp() + i64::from(time.timestamp_subsec_nanos() > 0);
    DateTime::from_timestamp(seconds, 0).ok_or(AggregateError::TimeOutOfRange { time })
}

/// The filter's `to` is inclusive at one-second precision, ours exclusive: the last
/// whole second strictly before `time`.
fn last_whole_second_before(time: DateTime<Utc>) -> AggregateResult<DateTime<Utc>> {
    let seconds = time.timestamp() - i64::from(time.timestamp_subsec_nanos() == 0);
    DateTime::from_timestamp(seconds, 0).ok_or(AggregateError::TimeOutOfRange { time })
}

/// Running totals for one bucket or group.
#[derive(Debug, Clone, Copy, Default)]
struct Accumulator {
    count: u64,
    labels: LabelCounts,
    score_sum: f64,
    scored: u64,
    reach_sum: u64,
    reach_max: u64,
}

impl Accumulator {
    #[inline]
    fn add(&mut self, label: Option<Label>, score: Option<f64>, reach: u64) {
        self.count += 1;
        match label {
            Some(Label::Negative) => self.labels.negative += 1,
            Some(Label::Neutral) => self.labels.neutral += 1,
            Some(Label::Positive) => self.labels.positive += 1,
            None => self.labels.unscored += 1,
        }
        if let Some(score) = score
            && score.is_finite()
        {
            self.score_sum += score;
            self.scored += 1;
        }
        self.reach_sum = self.reach_sum.saturating_add(reach);
        self.reach_max = self.reach_max.max(reach);
    }

    fn merge(&mut self, other: &Accumulator) {
        self.count += other.count;
        self.labels.negative += other.labels.negative;
        self.labels.neutral += other.labels.neutral;
        self.labels.positive += other.labels.positive;
        self.labels.unscored += other.labels.unscored;
        self.score_sum += other.score_sum;
        self.scored += other.scored;
        self.reach_sum = self.reach_sum.saturating_add(other.reach_sum);
        self.reach_max = self.reach_max.max(other.reach_max);
    }

    fn mean_score(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.score_sum / self.scored as f64)
    }
}

/// A segment's sentiment columns: the label (by term ordinal) and the score.
struct SentimentColumns {
    label_ords: Option<Column<u64>>,
    /// Label of each term ordinal of the `sentiment` dictionary.
    label_by_ord: Vec<Option<Label>>,
    score: Option<Column<f64>>,
}

impl SentimentColumns {
    fn open(segment: &SegmentReader) -> tantivy::Result<SentimentColumns> {
        let fast_fields = segment.fast_fields();
        let (label_ords, label_by_ord) = match fast_fields.str(SENTIMENT)? {
            Some(column) => {
                let mut label_by_ord = Vec::with_capacity(column.num_terms());
                let mut label = String::new();
                for ord in 0..column.num_terms() as u64 {
                    label.clear();
                    column.ord_to_str(ord, &mut label)?;
                    label_by_ord.push(label.parse::<Label>().ok());
                }
                (Some(column.ords().clone()), label_by_ord)
            }
            None => (None, Vec::new()),
        };
        Ok(SentimentColumns {
            label_ords,
            label_by_ord,
            score: fast_fields.column_opt::<f64>(SCORE)?,
        })
    }

    #[inline]
    fn label(&self, doc: DocId) -> Option<Label> {
        self.label_of(self.label_ords.as_ref()?.first(doc)?)
    }

    #[inline]
    fn label_of(&self, ord: u64) -> Option<Label> {
        self.label_by_ord.get(ord as usize).copied().flatten()
    }

    #[inline]
    fn score(&self, doc: DocId) -> Option<f64> {
        self.score.as_ref()?.first(doc)
    }
}

/// Counts matching posts into fixed-width time buckets.
struct TimelineCollector {
    first_start_micros: i64,
    width_micros: i64,
    from_micros: i64,
    to_micros: i64,
    buckets: usize,
}

struct TimelineSegmentCollector {
    published_at: Option<Column<tantivy::DateTime>>,
    sentiment: SentimentColumns,
    first_start_micros: i64,
    width_micros: i64,
    from_micros: i64,
    to_micros: i64,
    accumulators: Vec<Accumulator>,
    /// Per-block buffers for `collect_block`.
    times: Vec<Option<tantivy::DateTime>>,
    label_ords: Vec<Option<u64>>,
    scores: Vec<Option<f64>>,
}

impl Collector for TimelineCollector {
    type Fruit = Vec<Accumulator>;
    type Child = TimelineSegmentCollector;

    fn for_segment(
        &self,
        _segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<TimelineSegmentCollector> {
        Ok(TimelineSegmentCollector {
            published_at: segment
                .fast_fields()
                .column_opt::<tantivy::DateTime>(PUBLISHED_AT)?,
            sentiment: SentimentColumns::open(segment)?,
            first_start_micros: self.first_start_micros,
            width_micros: self.width_micros,
            from_micros: self.from_micros,
            to_micros: self.to_micros,
            accumulators: vec![Accumulator::default(); self.buckets],
            times: Vec::new(),
            label_ords: Vec::new(),
            scores: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<Vec<Accumulator>>) -> tantivy::Result<Vec<Accumulator>> {
        let mut merged = vec![Accumulator::default(); self.buckets];
        for segment in &segments {
            for (total, part) in merged.iter_mut().zip(segment) {
                total.merge(part);
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for TimelineSegmentCollector {
    type Fruit = Vec<Accumulator>;

    #[inline]
    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(published_at) = self.published_at.as_ref().and_then(|c| c.first(doc)) else {
            return;
        };
        let label = self.sentiment.label(doc);
        let score = self.sentiment.score(doc);
        self.add(published_at, label, score);
    }

    /// Reads the columns a block of documents at a time: tantivy decodes the
    /// (always present) `published_at` column in bulk.
    fn collect_block(&mut self, docs: &[DocId]) {
        let Some(published_at) = &self.published_at else {
            return;
        };
        // `first_vals` leaves the entries of documents without a value untouched.
        fill_none(&mut self.times, docs.len());
        fill_none(&mut self.label_ords, docs.len());
        fill_none(&mut self.scores, docs.len());
        published_at.first_vals(docs, &mut self.times);
        if let Some(column) = &self.sentiment.label_ords {
            column.first_vals(docs, &mut self.label_ords);
        }
        if let Some(column) = &self.sentiment.score {
            column.first_vals(docs, &mut self.scores);
        }
        for position in 0..docs.len() {
            let Some(time) = self.times[position] else {
                continue;
            };
            let label = self.label_ords[position].and_then(|ord| self.sentiment.label_of(ord));
            self.add(time, label, self.scores[position]);
        }
    }

    fn harvest(self) -> Vec<Accumulator> {
        self.accumulators
    }
}

impl TimelineSegmentCollector {
    #[inline]
    fn add(&mut self, published_at: tantivy::DateTime, label: Option<Label>, score: Option<f64>) {
        let micros = published_at.into_timestamp_micros();
        // The query's range is at one-second precision; this is the exact [from, to).
        if micros < self.from_micros || micros >= self.to_micros {
            return;
        }
        let bucket = ((micros - self.first_start_micros) / self.width_micros) as usize;
        if let Some(accumulator) = self.accumulators.get_mut(bucket) {
            accumulator.add(label, score, 0);
        }
    }
}

fn fill_none<T>(buffer: &mut Vec<Option<T>>, len: usize) {
    buffer.clear();
    buffer.resize_with(len, || None);
}

/// Totals per value of a string fast field (`source`, `author`, `brands`; a
/// multi-valued field counts a post once for each distinct value).
struct GroupCollector {
    field: &'static str,
    with_reach: bool,
}

impl GroupCollector {
    fn new(field: &'static str) -> Self {
        Self {
            field,
            with_reach: false,
        }
    }

    fn with_reach(self) -> Self {
        Self {
            with_reach: true,
            ..self
        }
    }
}

struct GroupSegmentCollector {
    keys: Option<StrColumn>,
    sentiment: SentimentColumns,
    reach: Option<Column<u64>>,
    /// Indexed by the key's term ordinal in this segment; allocated at the first match
    /// so segments outside the query's time range cost nothing.
    accumulators: Vec<Accumulator>,
    terms: usize,
    ords: Vec<u64>,
}

/// Totals by key, sorted by key (bytes).
type GroupTotals = Vec<(String, Accumulator)>;

/// A segment's totals; an error reading the key dictionary is carried to
/// `merge_fruits`, which can return it.
type GroupFruit = Result<GroupTotals, String>;

impl Collector for GroupCollector {
    type Fruit = GroupTotals;
    type Child = GroupSegmentCollector;

    fn for_segment(
        &self,
        _segment_ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<GroupSegmentCollector> {
        let keys = segment.fast_fields().str(self.field)?;
        let terms = keys.as_ref().map_or(0, |column| column.num_terms());
        let reach = if self.with_reach {
            segment.fast_fields().column_opt::<u64>(REACH)?
        } else {
            None
        };
        Ok(GroupSegmentCollector {
            keys,
            sentiment: SentimentColumns::open(segment)?,
            reach,
            accumulators: Vec::new(),
            terms,
            ords: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    /// Merges the segments' key-sorted lists pairwise, which needs no hashing: with
    /// 100,000 authors, hashing the keys took most of the time.
    fn merge_fruits(&self, segments: Vec<GroupFruit>) -> tantivy::Result<GroupTotals> {
        let mut lists: Vec<GroupTotals> = Vec::with_capacity(segments.len());
        for segment in segments {
            let list = segment.map_err(|reason| {
                TantivyError::InternalError(format!(
                    "cannot read the {} dictionary: {reason}",
                    self.field
                ))
            })?;
            if !list.is_empty() {
                lists.push(list);
            }
        }
        while lists.len() > 1 {
            let mut next = Vec::with_capacity(lists.len().div_ceil(2));
            let mut pairs = lists.into_iter();
            while let Some(left) = pairs.next() {
                next.push(match pairs.next() {
                    Some(right) => merge_sorted_totals(left, right),
                    None => left,
                });
            }
            lists = next;
        }
        Ok(lists.pop().unwrap_or_default())
    }
}

impl SegmentCollector for GroupSegmentCollector {
    type Fruit = GroupFruit;

    #[inline]
    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(keys) = &self.keys else {
            return;
        };
        self.ords.clear();
        self.ords.extend(keys.term_ords(doc));
        if self.ords.is_empty() {
            return;
        }
        if self.ords.len() > 1 {
            self.ords.sort_unstable();
            self.ords.dedup();
        }
        if self.accumulators.is_empty() {
            self.accumulators = vec![Accumulator::default(); self.terms];
        }
        let label = self.sentiment.label(doc);
        let score = self.sentiment.score(doc);
        let reach = self
            .reach
            .as_ref()
            .and_then(|column| column.first(doc))
            .unwrap_or(0);
        for ord in &self.ords {
            if let Some(accumulator) = self.accumulators.get_mut(*ord as usize) {
                accumulator.add(label, score, reach);
            }
        }
    }

    fn harvest(self) -> GroupFruit {
        let Some(keys) = self.keys else {
            return Ok(Vec::new());
        };
        let used: Vec<u64> = self
            .accumulators
            .iter()
            .enumerate()
            .filter(|(_, accumulator)| accumulator.count > 0)
            .map(|(ord, _)| ord as u64)
            .collect();
        let mut names = Vec::with_capacity(used.len());
        keys.dictionary()
            .sorted_ords_to_term_cb(&used, |bytes| {
                names.push(match std::str::from_utf8(bytes) {
                    Ok(name) => name.to_string(),
                    Err(_) => String::from_utf8_lossy(bytes).into_owned(),
                });
            })
            .map_err(|error| error.to_string())?;
        if names.len() != used.len() {
            return Err(format!(
                "{} of {} term ordinals found",
                names.len(),
                used.len()
            ));
        }
        // Term ordinals follow the byte order of the terms, so this is sorted by key.
        Ok(names
            .into_iter()
            .zip(used)
            .map(|(name, ord)| (name, self.accumulators[ord as usize]))
            .collect())
    }
}

/// Merges two key-sorted lists, adding up the totals of keys in both.
fn merge_sorted_totals(left: GroupTotals, right: GroupTotals) -> GroupTotals {
    let mut merged = Vec::with_capacity(left.len().max(right.len()));
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let order = match (left.peek(), right.peek()) {
            (Some((a, _)), Some((b, _))) => a.as_bytes().cmp(b.as_bytes()),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => return merged,
        };
        match order {
            std::cmp::Ordering::Less => merged.extend(left.next()),
            std::cmp::Ordering::Greater => merged.extend(right.next()),
            std::cmp::Ordering::Equal => {
                if let (Some((key, mut total)), Some((_, part))) = (left.next(), right.next()) {
                    total.merge(&part);
                    merged.push((key, total));
                }
            }
        }
    }
}

/// Counts of the original words behind each stem, to show `exploded` for `explod`.
#[derive(Default)]
struct SurfaceForms {
    by_stem: HashMap<String, HashMap<String, u64>>,
}

impl SurfaceForms {
    fn add(&mut self, stem: &str, surface: &str) {
        let forms = match self.by_stem.get_mut(stem) {
            Some(forms) => forms,
            None => self.by_stem.entry(stem.to_string()).or_default(),
        };
        match forms.get_mut(surface) {
            Some(count) => *count += 1,
            None => {
                forms.insert(surface.to_string(), 1);
            }
        }
    }

    fn absorb(&mut self, other: SurfaceForms) {
        for (stem, forms) in other.by_stem {
            let mine = self.by_stem.entry(stem).or_default();
            for (form, count) in forms {
                *mine.entry(form).or_default() += count;
            }
        }
    }

    /// The most frequent surface form; ties go to the shorter, then the first in order.
    fn most_frequent(&self, stem: &str) -> String {
        self.by_stem
            .get(stem)
            .and_then(|forms| {
                forms.iter().max_by(|(a, a_count), (b, b_count)| {
                    a_count
                        .cmp(b_count)
                        .then_with(|| b.len().cmp(&a.len()))
                        .then_with(|| b.cmp(a))
                })
            })
            .map_or_else(|| stem.to_string(), |(form, _)| form.clone())
    }
}

/// For each candidate term (by stem), the number of posts at `addresses` containing
/// it; and the words seen for each stem.
fn tally_terms(
    searcher: &Searcher,
    fields: &crate::schema::Fields,
    analyzer: &mut TextAnalyzer,
    addresses: &[DocAddress],
) -> AggregateResult<(HashMap<String, u64>, SurfaceForms)> {
    let mut surfaces = SurfaceForms::default();
    let mut posts_with: HashMap<String, u64> = HashMap::new();
    let mut in_this_post: HashSet<String> = HashSet::new();
    for address in addresses {
        let doc: TantivyDocument = searcher.doc(*address)?;
        in_this_post.clear();
        for field in [fields.title, fields.text] {
            for value in doc.get_all(field) {
                let Some(text) = value.as_str() else {
                    continue;
                };
                let mut stream = analyzer.token_stream(text);
                while let Some(token) = stream.next() {
                    let Some(original) = text.get(token.offset_from..token.offset_to) else {
                        continue;
                    };
                    if !is_candidate_stem(&token.text) {
                        continue;
                    }
                    let surface = original.to_lowercase();
                    if !is_candidate_term(&token.text, &surface) {
                        continue;
                    }
                    surfaces.add(&token.text, &surface);
                    if !in_this_post.contains(&token.text) {
                        in_this_post.insert(token.text.clone());
                    }
                }
            }
        }
        for stem in in_this_post.drain() {
            *posts_with.entry(stem).or_default() += 1;
        }
    }
    Ok((posts_with, surfaces))
}

/// The checks that need only the stem: not a single character, not a number, not a
/// stopword.
fn is_candidate_stem(stem: &str) -> bool {
    stem.chars().nth(1).is_some()
        && !stem.chars().all(|c| c.is_numeric() || c == '_')
        && !STOPWORDS.contains(stem)
}

/// Words worth showing: not stopwords, not numbers, not single characters.
fn is_candidate_term(stem: &str, surface: &str) -> bool {
    is_candidate_stem(stem) && surface.chars().nth(1).is_some() && !STOPWORDS.contains(surface)
}

/// Dunning's G² for "the term is in `a` of `n1` period posts and `b` of `n2` baseline
/// posts"; 0 when either window has no posts.
fn log_likelihood(a: u64, b: u64, n1: u64, n2: u64) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 0.0;
    }
    let (a, b, n1, n2) = (a as f64, b as f64, n1 as f64, n2 as f64);
    let (c, d) = ((n1 - a).max(0.0), (n2 - b).max(0.0));
    let n = n1 + n2;
    let cell = |observed: f64, expected: f64| {
        if observed > 0.0 && expected > 0.0 {
            observed * (observed / expected).ln()
        } else {
            0.0
        }
    };
    let with_term = a + b;
    let without_term = c + d;
    2.0 * (cell(a, n1 * with_term / n)
        + cell(b, n2 * with_term / n)
        + cell(c, n1 * without_term / n)
        + cell(d, n2 * without_term / n))
}

/// Function words of English and Chinese (lower-case surface forms), plus URL debris.
/// Single characters are dropped anyway, so single-character Chinese words are absent.
static STOPWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    ENGLISH_STOPWORDS
        .iter()
        .chain(CHINESE_STOPWORDS)
        .copied()
        .collect()
});

const ENGLISH_STOPWORDS: &[&str] = &[
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "cannot",
    "could",
    "couldn",
    "did",
    "didn",
    "do",
    "does",
    "doesn",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "even",
    "ever",
    "every",
    "few",
    "for",
    "from",
    "further",
    "get",
    "gets",
    "got",
    "had",
    "hadn",
    "has",
    "hasn",
    "have",
    "haven",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "if",
    "in",
    "into",
    "is",
    "isn",
    "it",
    "its",
    "itself",
    "just",
    "let",
    "ll",
    "me",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "re",
    "really",
    "same",
    "she",
    "should",
    "shouldn",
    "so",
    "some",
    "still",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "ve",
    "very",
    "was",
    "wasn",
    "we",
    "were",
    "weren",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "won",
    "would",
    "wouldn",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "via",
    "amp",
    "http",
    "https",
    "www",
    "com",
    "html",
];

const CHINESE_STOPWORDS: &[&str] = &[
    "我们",
    "你们",
    "他们",
    "她们",
    "它们",
    "咱们",
    "自己",
    "这个",
    "那个",
    "这些",
    "那些",
    "这样",
    "那样",
    "这么",
    "那么",
    "这里",
    "那里",
    "哪里",
    "什么",
    "怎么",
    "怎么样",
    "为什么",
    "没有",
    "不是",
    "就是",
    "还是",
    "也是",
    "都是",
    "只是",
    "但是",
    "可是",
    "不过",
    "因为",
    "所以",
    "因此",
    "如果",
    "虽然",
    "而且",
    "并且",
    "或者",
    "以及",
    "然后",
    "还有",
    "已经",
    "可以",
    "可能",
    "应该",
    "需要",
    "能够",
    "一个",
    "一些",
    "一下",
    "一样",
    "一直",
    "有点",
    "有些",
    "比较",
    "非常",
    "真的",
    "其实",
    "现在",
    "时候",
    "今天",
    "知道",
    "觉得",
    "大家",
    "之后",
    "之前",
    "以后",
    "以前",
    "起来",
    "出来",
    "不会",
    "不能",
    "关于",
    "对于",
    "通过",
    "进行",
    "之一",
    "我的",
    "你的",
    "他的",
    "她的",
    "的话",
    "而已",
];

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn interval_floor_aligns_to_utc_hours_and_days() {
        let time = Utc.with_ymd_and_hms(2024, 5, 1, 13, 45, 10).unwrap();
        assert_eq!(
            Interval::Hour.floor(time),
            Utc.with_ymd_and_hms(2024, 5, 1, 13, 0, 0).unwrap()
        );
        assert_eq!(
            Interval::Day.floor(time),
            Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap()
        );
        let before_epoch = Utc.with_ymd_and_hms(1969, 12, 31, 23, 30, 0).unwrap();
        assert_eq!(
            Interval::Day.floor(before_epoch),
            Utc.with_ymd_and_hms(1969, 12, 31, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn interval_parses_and_serializes_lowercase() {
        assert_eq!("hour".parse::<Interval>().unwrap(), Interval::Hour);
        assert_eq!(" Day ".parse::<Interval>().unwrap(), Interval::Day);
        assert!(matches!(
            "week".parse::<Interval>(),
            Err(AggregateError::UnknownInterval { .. })
        ));
        assert_eq!(serde_json::to_string(&Interval::Day).unwrap(), "\"day\"");
    }

    #[test]
    fn window_edges_round_to_whole_seconds() {
        let whole = Utc.with_ymd_and_hms(2024, 5, 1, 13, 0, 0).unwrap();
        let fraction = whole + TimeDelta::milliseconds(500);
        assert_eq!(first_whole_second_at_or_after(whole).unwrap(), whole);
        assert_eq!(
            first_whole_second_at_or_after(fraction).unwrap(),
            whole + TimeDelta::seconds(1)
        );
        assert_eq!(
            last_whole_second_before(whole).unwrap(),
            whole - TimeDelta::seconds(1)
        );
        assert_eq!(last_whole_second_before(fraction).unwrap(), whole);
    }

    #[test]
    fn log_likelihood_grows_with_over_representation() {
        assert_eq!(log_likelihood(5, 5, 0, 100), 0.0);
        let even = log_likelihood(10, 10, 100, 100);
        assert!(even.abs() < 1e-9, "{even}");
        let spike = log_likelihood(30, 1, 100, 100);
        let mild = log_likelihood(15, 8, 100, 100);
        assert!(spike > mild && mild > 0.0, "{spike} {mild}");
        // 2·Σ O·ln(O/E) for [[30, 70], [1, 99]], computed by hand.
        assert!((spike - 39.1408).abs() < 1e-3, "{spike}");
    }

    #[test]
    fn candidate_terms_skip_stopwords_numbers_and_single_characters() {
        assert!(is_candidate_term("recal", "recall"));
        assert!(is_candidate_term("召回", "召回"));
        for (stem, surface) in [
            ("the", "the"),
            ("a", "a"),
            ("2024", "2024"),
            ("水", "水"),
            ("我们", "我们"),
            ("becaus", "because"),
            ("http", "http"),
        ] {
            assert!(!is_candidate_term(stem, surface), "{surface}");
        }
    }

    #[test]
    fn sorted_totals_merge_adds_up_shared_keys() {
        let totals = |entries: &[(&str, u64)]| -> GroupTotals {
            entries
                .iter()
                .map(|(key, count)| {
                    let mut accumulator = Accumulator::default();
                    for _ in 0..*count {
                        accumulator.add(None, None, 1);
                    }
                    (key.to_string(), accumulator)
                })
                .collect()
        };
        let merged = merge_sorted_totals(
            totals(&[("alice", 1), ("carol", 2), ("zoe", 1)]),
            totals(&[("bob", 4), ("carol", 3)]),
        );
        let flat: Vec<(&str, u64, u64)> = merged
            .iter()
            .map(|(key, total)| (key.as_str(), total.count, total.reach_sum))
            .collect();
        assert_eq!(
            flat,
            [
                ("alice", 1, 1),
                ("bob", 4, 4),
                ("carol", 5, 5),
                ("zoe", 1, 1)
            ]
        );
    }

    #[test]
    fn surface_form_is_the_most_frequent_word() {
        let mut forms = SurfaceForms::default();
        forms.add("explod", "exploded");
        forms.add("explod", "explodes");
        forms.add("explod", "exploded");
        assert_eq!(forms.most_frequent("explod"), "exploded");
        assert_eq!(forms.most_frequent("unknown"), "unknown");
    }
}

//! Vigil's full-text index: tantivy in `<data_dir>/index`, derived from the store and
//! rebuildable from it at any time (`vigil reindex`).
//!
//! - [`SearchIndex`] opens (or creates) the index and answers [`SearchRequest`]s —
//!   vigil's boolean [`vigil_core::Query`] plus brand/source/sentiment/time filters —
//!   with [`SearchResults`]: an exact total and one page of [`Hit`]s.
//! - [`IndexWriter`] upserts posts by id and commits with the store sequence number in
//!   the commit payload, so [`SearchIndex::watermark`] says where to resume after a crash.
//!
//! Text is analyzed by one tokenizer for English and Chinese: jieba segments CJK runs
//! (with brand names in its user dictionary), other scripts split on non-word
//! characters, then everything is lower-cased and English-stemmed. A second field
//! indexes CJK character by character, and by pairs of characters, so Chinese terms
//! are found as substrings, the way `Query::matches` finds them, by looking up their
//! bigrams.

mod aggregate;
mod error;
mod forward_only;
mod index;
mod query;
mod schema;
mod tokenizer;

pub use aggregate::{
    AggregateError, AggregateResult, AuthorStats, BrandShare, DEFAULT_TERM_SAMPLE, Interval,
    LabelCounts, MAX_BUCKETS, MAX_TERM_SAMPLE, SourceStats, TermStats, TermsOptions, Timeline,
    TimelineBucket, TimelineOptions, TopTerms, WindowSample,
};
pub use error::{IndexError, Result};
pub use index::{
    Highlight, Hit, HitSentiment, IndexWriter, MAX_LIMIT, SNIPPET_CHARS, SearchIndex,
    SearchRequest, SearchResults, Sort,
};

//! The tantivy schema: one document per post, keyed by post id.
//!
//! Changing it (adding a field, changing options) makes existing indexes unreadable by
//! this build; `SearchIndex::open` then rebuilds an empty index in their place, which
//! the daemon refills from the store (its watermark starts again at 0).

use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, INDEXED, IndexRecordOption, STORED, STRING,
    Schema, TextFieldIndexing, TextOptions,
};

use crate::tokenizer::{CJK_TOKENIZER, VIGIL_TOKENIZER};

/// Handles on every field, resolved once from the schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// Post id, untokenized: the term upserts and deletes go by.
    pub id: Field,
    /// Store sequence number.
    pub seq: Field,
    pub source: Field,
    /// One value per brand.
    pub brands: Field,
    /// Sentiment label (`negative`, ...); absent until classified.
    pub sentiment: Field,
    /// Sentiment score, -1..1; indexed for range filters, fast for aggregations.
    pub score: Field,
    pub published_at: Field,
    pub url: Field,
    /// The author as the source gave it (stored, fast for "top authors").
    pub author: Field,
    /// `vigil_core::text::author_key` of the author: what `author:` matches.
    pub author_key: Field,
    /// `vigil_core::site_keys` of the URL: what `site:` matches. Not stored.
    pub site: Field,
    /// The URL in lower case, untokenized: what `url:` matches. Not stored.
    pub url_key: Field,
    pub title: Field,
    pub lang: Field,
    pub text: Field,
    /// Title and text again, one token per CJK character and one per pair of
    /// neighbouring characters (bigrams); not stored, and left out for posts without
    /// CJK characters.
    pub text_cjk: Field,
    /// Id of the original when the post is a copy (`Post::duplicate_of`); absent for
    /// originals. Untokenized, so "copies of X" is a term query.
    pub duplicate_of: Field,
    /// `Post::engagement` as JSON; absent when the source reported none. Stored only.
    pub engagement: Field,
    /// `Engagement::reach()`, a fast field so results can be ordered by reach.
    pub reach: Field,
}

pub(crate) const PUBLISHED_AT: &str = "published_at";
pub(crate) const REACH: &str = "reach";
pub(crate) const SEQ: &str = "seq";
pub(crate) const SCORE: &str = "score";
pub(crate) const SOURCE: &str = "source";
pub(crate) const BRANDS: &str = "brands";
pub(crate) const SENTIMENT: &str = "sentiment";
pub(crate) const AUTHOR: &str = "author";
pub(crate) const LANG: &str = "lang";

pub(crate) fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let analyzed = |tokenizer: &str| {
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions)
    };
    let full_text = TextOptions::default()
        .set_indexing_options(analyzed(VIGIL_TOKENIZER))
        .set_stored();
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        seq: builder.add_u64_field(SEQ, INDEXED | STORED | FAST),
        source: builder.add_text_field(SOURCE, STRING | STORED | FAST),
        brands: builder.add_text_field(BRANDS, STRING | STORED | FAST),
        sentiment: builder.add_text_field(SENTIMENT, STRING | STORED | FAST),
        score: builder.add_f64_field(SCORE, INDEXED | STORED | FAST),
        published_at: builder.add_date_field(
            PUBLISHED_AT,
            DateOptions::from(INDEXED | STORED | FAST).set_precision(DateTimePrecision::Seconds),
        ),
        url: builder.add_text_field("url", STORED),
        author: builder.add_text_field(AUTHOR, STRING | STORED | FAST),
        author_key: builder.add_text_field("author_key", STRING),
        site: builder.add_text_field("site", STRING),
        url_key: builder.add_text_field("url_key", STRING),
        title: builder.add_text_field("title", full_text.clone()),
        lang: builder.add_text_field(LANG, STRING | STORED | FAST),
        text: builder.add_text_field("text", full_text),
        text_cjk: builder.add_text_field(
            "text_cjk",
            TextOptions::default().set_indexing_options(analyzed(CJK_TOKENIZER)),
        ),
        duplicate_of: builder.add_text_field("duplicate_of", STRING | STORED),
        engagement: builder.add_text_field("engagement", STORED),
        reach: builder.add_u64_field(REACH, INDEXED | FAST),
    };
    (builder.build(), fields)
}

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
    pub score: Field,
    pub published_at: Field,
    pub url: Field,
    pub author: Field,
    pub title: Field,
    pub lang: Field,
    pub text: Field,
    /// Title and text again, one token per CJK character; not stored.
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
        seq: builder.add_u64_field("seq", INDEXED | STORED | FAST),
        source: builder.add_text_field("source", STRING | STORED | FAST),
        brands: builder.add_text_field("brands", STRING | STORED),
        sentiment: builder.add_text_field("sentiment", STRING | STORED),
        score: builder.add_f64_field("score", STORED | FAST),
        published_at: builder.add_date_field(
            PUBLISHED_AT,
            DateOptions::from(INDEXED | STORED | FAST).set_precision(DateTimePrecision::Seconds),
        ),
        url: builder.add_text_field("url", STORED),
        author: builder.add_text_field("author", STRING | STORED),
        title: builder.add_text_field("title", full_text.clone()),
        lang: builder.add_text_field("lang", STRING | STORED),
        text: builder.add_text_field("text", full_text),
        text_cjk: builder.add_text_field(
            "text_cjk",
            TextOptions::default().set_indexing_options(analyzed(CJK_TOKENIZER)),
        ),
        duplicate_of: builder.add_text_field("duplicate_of", STRING | STORED),
        engagement: builder.add_text_field("engagement", STORED),
        reach: builder.add_u64_field(REACH, FAST),
    };
    (builder.build(), fields)
}

//! Custom tantivy queries over positions.
//!
//! [`ForwardOnlyQuery`] is a guard around phrase queries for tantivy issue #2811: `PhraseScorer` debug-asserts
//! that it is never asked to seek to a document before its current one, but tantivy's
//! own exclusion (`NOT`) and intersection code does exactly that — legitimately, e.g.
//! right after the scorer was created. Release builds are unaffected; debug builds
//! (tests, `cargo run`) would panic on `kettle NOT "acme recall"`. The wrapper answers
//! such seeks itself and hides the inner scorer's lazy `seek_danger`, so the inner
//! scorer only ever sees forward seeks.
//!
//! [`NearQuery`] is `a NEAR/n b`: the documents of a candidate query (both sides
//! present) whose token positions put an occurrence of each side at most `n`
//! positions apart. Positions are numbered by the tokenizers the way
//! `vigil_core::query::word_positions` numbers them, so the index and
//! `Query::matches` agree.

use std::collections::BTreeMap;
use std::fmt;

use tantivy::index::InvertedIndexReader;
use tantivy::postings::{Postings, SegmentPostings, TermInfo};
use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, TantivyError, Term};
use vigil_core::query::{near_gap, wildcard_matches};

use crate::tokenizer::VALUE_START;

pub(crate) struct ForwardOnlyQuery {
    inner: Box<dyn Query>,
}

impl ForwardOnlyQuery {
    pub(crate) fn new(inner: Box<dyn Query>) -> Self {
        Self { inner }
    }
}

impl Clone for ForwardOnlyQuery {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.box_clone(),
        }
    }
}

impl fmt::Debug for ForwardOnlyQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ForwardOnly({:?})", self.inner)
    }
}

impl Query for ForwardOnlyQuery {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(ForwardOnlyWeight {
            inner: self.inner.weight(enable_scoring)?,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.inner.query_terms(visitor);
    }
}

struct ForwardOnlyWeight {
    inner: Box<dyn Weight>,
}

impl Weight for ForwardOnlyWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        Ok(Box::new(ForwardOnlyScorer {
            inner: self.inner.scorer(reader, boost)?,
        }))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.inner.explain(reader, doc)
    }
}

struct ForwardOnlyScorer {
    inner: Box<dyn Scorer>,
}

impl DocSet for ForwardOnlyScorer {
    fn advance(&mut self) -> DocId {
        self.inner.advance()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let current = self.inner.doc();
        if current >= target {
            return current;
        }
        self.inner.seek(target)
    }

    // `seek_danger` keeps DocSet's default, which only ever calls `seek` forward.

    fn doc(&self) -> DocId {
        self.inner.doc()
    }

    fn size_hint(&self) -> u32 {
        self.inner.size_hint()
    }

    fn cost(&self) -> u64 {
        self.inner.cost()
    }
}

impl Scorer for ForwardOnlyScorer {
    fn score(&mut self) -> Score {
        self.inner.score()
    }
}

/// Where a NEAR operand's occurrences are read from.
#[derive(Debug, Clone)]
pub(crate) enum OperandSource {
    /// Analyzed words and jieba segments in the body (`text`) and `title` fields.
    Words { body: Field, title: Field },
    /// One token per CJK character in `text_cjk`, whose values are the title (when the
    /// post has one) then the body, each opened by a [`VALUE_START`] marker.
    Characters { field: Field },
}

/// What must stand at one position of an operand.
#[derive(Debug, Clone)]
pub(crate) enum SlotTerms {
    /// One indexed term.
    Exact(String),
    /// Every indexed term matching one of the glob `patterns`, and the `exact` terms.
    Pattern {
        patterns: Vec<String>,
        exact: Vec<String>,
    },
}

/// One side of a NEAR as the index sees it: terms at positions relative to the first.
#[derive(Debug, Clone)]
pub(crate) struct NearOperandPlan {
    pub source: OperandSource,
    pub slots: Vec<(u32, SlotTerms)>,
    /// Positions the operand covers (last slot's position plus its length).
    pub width: u32,
}

/// A pattern may stand for at most this many indexed words inside NEAR, per segment.
pub(crate) const MAX_PATTERN_WORDS: usize = 2048;

/// `left NEAR/distance right` over token positions. `candidates` finds the documents
/// holding both sides (it is what scores them); each is then kept only when an
/// occurrence of each side lies at most `distance` positions apart, both in the title or
/// both in the body, counted as `vigil_core::query::near_gap` counts them.
pub(crate) struct NearQuery {
    candidates: Box<dyn Query>,
    left: NearOperandPlan,
    right: NearOperandPlan,
    distance: u32,
}

impl NearQuery {
    pub(crate) fn new(
        candidates: Box<dyn Query>,
        left: NearOperandPlan,
        right: NearOperandPlan,
        distance: u32,
    ) -> Self {
        Self {
            candidates,
            left,
            right,
            distance,
        }
    }
}

impl Clone for NearQuery {
    fn clone(&self) -> Self {
        Self {
            candidates: self.candidates.box_clone(),
            left: self.left.clone(),
            right: self.right.clone(),
            distance: self.distance,
        }
    }
}

impl fmt::Debug for NearQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Near({:?} NEAR/{} {:?} within {:?})",
            self.left, self.distance, self.right, self.candidates
        )
    }
}

impl Query for NearQuery {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(NearWeight {
            candidates: self.candidates.weight(enable_scoring)?,
            left: self.left.clone(),
            right: self.right.clone(),
            distance: self.distance,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        self.candidates.query_terms(visitor);
    }
}

struct NearWeight {
    candidates: Box<dyn Weight>,
    left: NearOperandPlan,
    right: NearOperandPlan,
    distance: u32,
}

impl Weight for NearWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let candidates = self.candidates.scorer(reader, boost)?;
        let left = resolve(reader, &self.left)?;
        let right = resolve(reader, &self.right)?;
        let marker_field =
            [&self.left, &self.right]
                .into_iter()
                .find_map(|plan| match plan.source {
                    OperandSource::Characters { field } => Some(field),
                    OperandSource::Words { .. } => None,
                });
        let markers = match marker_field {
            Some(field) => reader.inverted_index(field)?.read_postings(
                &Term::from_field_text(field, VALUE_START),
                IndexRecordOption::WithFreqsAndPositions,
            )?,
            None => None,
        };
        let mut scorer = NearScorer {
            candidates,
            left,
            right,
            markers,
            distance: self.distance,
            buffers: Buffers::default(),
        };
        scorer.settle();
        Ok(Box::new(scorer))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        self.candidates.explain(reader, doc)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Title,
    Body,
}

#[derive(Debug, Clone, Copy)]
enum ScopeRule {
    Fixed(Scope),
    /// Title or body according to the [`VALUE_START`] markers.
    ByMarkers,
}

/// An operand's slots resolved to the postings of one segment and one field.
struct ResolvedSource {
    scope: ScopeRule,
    slots: Vec<(u32, Vec<SegmentPostings>)>,
    width: u32,
}

fn resolve(reader: &SegmentReader, plan: &NearOperandPlan) -> tantivy::Result<Vec<ResolvedSource>> {
    let fields: Vec<(Field, ScopeRule)> = match plan.source {
        OperandSource::Words { body, title } => vec![
            (body, ScopeRule::Fixed(Scope::Body)),
            (title, ScopeRule::Fixed(Scope::Title)),
        ],
        OperandSource::Characters { field } => vec![(field, ScopeRule::ByMarkers)],
    };
    let mut sources = Vec::with_capacity(fields.len());
    'fields: for (field, scope) in fields {
        let inverted = reader.inverted_index(field)?;
        let mut slots = Vec::with_capacity(plan.slots.len());
        for (offset, terms) in &plan.slots {
            let postings = slot_postings(&inverted, field, terms)?;
            if postings.is_empty() {
                // A slot with no word in this segment: the operand cannot occur here.
                continue 'fields;
            }
            slots.push((*offset, postings));
        }
        if !slots.is_empty() {
            sources.push(ResolvedSource {
                scope,
                slots,
                width: plan.width,
            });
        }
    }
    Ok(sources)
}

fn slot_postings(
    inverted: &InvertedIndexReader,
    field: Field,
    terms: &SlotTerms,
) -> tantivy::Result<Vec<SegmentPostings>> {
    const OPTION: IndexRecordOption = IndexRecordOption::WithFreqsAndPositions;
    let (patterns, exact): (&[String], Vec<&str>) = match terms {
        SlotTerms::Exact(term) => (&[], vec![term.as_str()]),
        SlotTerms::Pattern { patterns, exact } => (
            patterns.as_slice(),
            exact.iter().map(String::as_str).collect(),
        ),
    };
    let mut infos: BTreeMap<Vec<u8>, TermInfo> = BTreeMap::new();
    for term in exact {
        if let Some(info) = inverted.get_term_info(&Term::from_field_text(field, term))? {
            infos.insert(term.as_bytes().to_vec(), info);
        }
    }
    for pattern in patterns {
        // Only terms that start with the pattern's literal prefix can match it.
        let prefix = pattern.split('*').next().unwrap_or("");
        let mut stream = inverted
            .terms()
            .range()
            .ge(prefix.as_bytes())
            .into_stream()?;
        while stream.advance() {
            let key = stream.key();
            if !key.starts_with(prefix.as_bytes()) {
                break;
            }
            let Ok(word) = std::str::from_utf8(key) else {
                continue;
            };
            if wildcard_matches(pattern, word) {
                infos.insert(key.to_vec(), stream.value().clone());
                if infos.len() > MAX_PATTERN_WORDS {
                    return Err(TantivyError::InvalidArgument(format!(
                        "the pattern {pattern:?} matches more than {MAX_PATTERN_WORDS} words; make it more specific to use it with NEAR"
                    )));
                }
            }
        }
    }
    infos
        .values()
        .map(|info| Ok(inverted.read_postings_from_terminfo(info, OPTION)?))
        .collect()
}

#[derive(Default)]
struct Buffers {
    markers: Vec<u32>,
    slot: Vec<Vec<u32>>,
    left: Vec<(Scope, u32, u32)>,
    right: Vec<(Scope, u32, u32)>,
}

struct NearScorer {
    candidates: Box<dyn Scorer>,
    left: Vec<ResolvedSource>,
    right: Vec<ResolvedSource>,
    markers: Option<SegmentPostings>,
    distance: u32,
    buffers: Buffers,
}

/// Appends the positions of `postings` in `doc`, if it is there. Postings only move
/// forward, and documents are checked in increasing order.
fn append_positions(postings: &mut SegmentPostings, doc: DocId, out: &mut Vec<u32>) {
    if postings.doc() < doc {
        postings.seek(doc);
    }
    if postings.doc() == doc {
        postings.append_positions_with_offset(0, out);
    }
}

/// Title or body, and the position inside it, of `position` in `text_cjk`, whose
/// values start at `markers` (title first when there are two).
fn locate(markers: &[u32], position: u32) -> (Scope, u32) {
    let values_started = markers.partition_point(|&start| start <= position);
    match values_started.checked_sub(1) {
        None => (Scope::Body, position),
        Some(value) => {
            let scope = if value + 1 < markers.len() {
                Scope::Title
            } else {
                Scope::Body
            };
            (scope, position - markers[value])
        }
    }
}

/// Every occurrence of an operand in `doc`, as (scope, start, end).
fn collect_spans(
    sources: &mut [ResolvedSource],
    doc: DocId,
    markers: &[u32],
    slot_buffers: &mut Vec<Vec<u32>>,
    spans: &mut Vec<(Scope, u32, u32)>,
) {
    spans.clear();
    for source in sources.iter_mut() {
        slot_buffers.resize_with(source.slots.len(), Vec::new);
        let mut every_slot_present = true;
        for ((_, postings), positions) in source.slots.iter_mut().zip(slot_buffers.iter_mut()) {
            positions.clear();
            for posting in postings.iter_mut() {
                append_positions(posting, doc, positions);
            }
            positions.sort_unstable();
            positions.dedup();
            every_slot_present &= !positions.is_empty();
        }
        if !every_slot_present {
            continue;
        }
        let first_offset = source.slots[0].0;
        for &first in &slot_buffers[0] {
            let Some(start) = first.checked_sub(first_offset) else {
                continue;
            };
            let rest_present =
                source.slots[1..]
                    .iter()
                    .zip(&slot_buffers[1..])
                    .all(|((offset, _), positions)| {
                        positions
                            .binary_search(&start.saturating_add(*offset))
                            .is_ok()
                    });
            if !rest_present {
                continue;
            }
            let (scope, local_start) = match source.scope {
                ScopeRule::Fixed(scope) => (scope, start),
                ScopeRule::ByMarkers => locate(markers, start),
            };
            spans.push((scope, local_start, local_start.saturating_add(source.width)));
        }
    }
}

impl NearScorer {
    fn matches(&mut self, doc: DocId) -> bool {
        let buffers = &mut self.buffers;
        buffers.markers.clear();
        if let Some(markers) = self.markers.as_mut() {
            append_positions(markers, doc, &mut buffers.markers);
        }
        collect_spans(
            &mut self.left,
            doc,
            &buffers.markers,
            &mut buffers.slot,
            &mut buffers.left,
        );
        if buffers.left.is_empty() {
            return false;
        }
        collect_spans(
            &mut self.right,
            doc,
            &buffers.markers,
            &mut buffers.slot,
            &mut buffers.right,
        );
        buffers
            .left
            .iter()
            .any(|&(left_scope, left_start, left_end)| {
                buffers
                    .right
                    .iter()
                    .any(|&(right_scope, right_start, right_end)| {
                        left_scope == right_scope
                            && near_gap((left_start, left_end), (right_start, right_end))
                                .is_some_and(|gap| gap <= self.distance)
                    })
            })
    }

    /// Moves to the first candidate, from the current one on, that matches.
    fn settle(&mut self) -> DocId {
        let mut doc = self.candidates.doc();
        while doc != TERMINATED && !self.matches(doc) {
            doc = self.candidates.advance();
        }
        doc
    }
}

impl DocSet for NearScorer {
    fn advance(&mut self) -> DocId {
        if self.candidates.advance() == TERMINATED {
            return TERMINATED;
        }
        self.settle()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        // Forward only, like ForwardOnlyScorer: exclusion may seek to an earlier doc.
        let current = self.candidates.doc();
        if current >= target {
            return current;
        }
        self.candidates.seek(target);
        self.settle()
    }

    fn doc(&self) -> DocId {
        self.candidates.doc()
    }

    fn size_hint(&self) -> u32 {
        self.candidates.size_hint()
    }

    fn cost(&self) -> u64 {
        self.candidates.cost()
    }
}

impl Scorer for NearScorer {
    fn score(&mut self) -> Score {
        self.candidates.score()
    }
}

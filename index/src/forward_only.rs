//! A guard around phrase queries for tantivy issue #2811: `PhraseScorer` debug-asserts
//! that it is never asked to seek to a document before its current one, but tantivy's
//! own exclusion (`NOT`) and intersection code does exactly that — legitimately, e.g.
//! right after the scorer was created. Release builds are unaffected; debug builds
//! (tests, `cargo run`) would panic on `kettle NOT "acme recall"`. The wrapper answers
//! such seeks itself and hides the inner scorer's lazy `seek_danger`, so the inner
//! scorer only ever sees forward seeks.

use std::fmt;

use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, Term};

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

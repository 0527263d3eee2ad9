use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong opening, writing or searching the index.
#[derive(Debug, Error)]
pub enum IndexError {
    /// Another `IndexWriter` (almost always the daemon) holds the tantivy lock file.
    #[error("the index is in use by another vigil process (is the daemon running?)")]
    Locked,
    /// The on-disk index was built by a version of vigil with a different schema, and
    /// could not be replaced because another process holds its writer lock.
    #[error(
        "the index at {path} was built by another version of vigil with a different schema, and another process (an older daemon?) is using it; stop that process, then start the daemon or run `vigil reindex` to rebuild the index from the store"
    )]
    SchemaMismatch { path: PathBuf },
    #[error("cannot replace the outdated index at {path}: {reason}")]
    Replace { path: PathBuf, reason: String },
    #[error("cannot create the index directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the index directory {path}: {source}")]
    OpenDir {
        path: PathBuf,
        #[source]
        source: tantivy::directory::error::OpenDirectoryError,
    },
    /// The commit payload is not the store sequence number we write there.
    #[error(
        "the index commit payload {payload:?} is not a store sequence number; run `vigil reindex`"
    )]
    BadWatermark { payload: String },
    #[error("the query is nested more than {max} levels deep")]
    QueryTooDeep { max: usize },
    #[error("cannot search for wildcard term {term:?}: {reason}")]
    Wildcard { term: String, reason: String },
    /// A `cursor` that no search of this version returned.
    #[error("invalid cursor {cursor:?}: pass `next_cursor` from the previous page unchanged")]
    InvalidCursor { cursor: String },
    /// A filter value outside its range (a score bound outside -1..1, from after to).
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    #[error("index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("cannot encode a document: {0}")]
    Json(#[from] serde_json::Error),
}

impl IndexError {
    /// True when the request was at fault (cursor, filter, query shape): an API answers
    /// 400 and the CLI exits 2.
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            IndexError::InvalidCursor { .. }
                | IndexError::InvalidFilter(_)
                | IndexError::QueryTooDeep { .. }
                | IndexError::Wildcard { .. }
        )
    }

    /// True when retrying later may succeed (the lock is released when the other
    /// process exits); everything else needs a different input or a rebuild.
    pub fn is_transient(&self) -> bool {
        matches!(self, IndexError::Locked)
    }
}

pub type Result<T, E = IndexError> = std::result::Result<T, E>;

use std::path::PathBuf;

/// Everything that can go wrong in this crate. None of these is transient: a model file
/// or a data set that fails to load fails the same way on a retry.
#[derive(Debug, thiserror::Error)]
pub enum LearnedError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The bytes do not start with the model magic: not a Vigil model file at all.
    #[error("not a vigil-learned model file (bad magic bytes)")]
    BadMagic,

    #[error(
        "unsupported model format version {found} (this build reads version {supported}); \
         retrain with `vigil classifier train`"
    )]
    UnsupportedVersion { found: u16, supported: u16 },

    #[error("model file truncated: {actual} bytes, the header says {expected}")]
    Truncated { expected: u64, actual: u64 },

    #[error("model file corrupt: checksum {actual:08x} does not match the stored {stored:08x}")]
    ChecksumMismatch { stored: u32, actual: u32 },

    /// The checksum matched but a field is out of range (a file written by a buggy or
    /// hostile writer).
    #[error("model file corrupt: {0}")]
    Corrupt(String),

    /// The caller's dense features are not the ones the model was trained with.
    #[error(
        "dense feature mismatch: the model was trained with {model_count} dense features \
         named `{model_name}`, but {given_count} named `{given_name}` were supplied"
    )]
    DenseMismatch {
        model_name: String,
        model_count: usize,
        given_name: String,
        given_count: usize,
    },

    /// A data file whose format could not be recognised (row-level problems are counted
    /// in [`crate::Dataset::bad_rows`] instead).
    #[error("{path}: {message}")]
    Dataset { path: PathBuf, message: String },

    #[error("invalid training configuration: {0}")]
    InvalidConfig(String),
}

pub type Result<T, E = LearnedError> = std::result::Result<T, E>;

impl From<crate::bytes::FormatError> for LearnedError {
    fn from(error: crate::bytes::FormatError) -> Self {
        LearnedError::Corrupt(error.0)
    }
}

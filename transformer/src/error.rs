use std::path::PathBuf;

/// Everything that can go wrong in this crate. None of these is transient: a model
/// directory, a head file or a checkpoint that fails to load fails the same way on a
/// retry, and an inference error comes from the input or the model, not the moment.
#[derive(Debug, thiserror::Error)]
pub enum TransformerError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A model directory lacks a file it needs, or a file in it is unusable.
    #[error("model directory {dir}: {message}")]
    ModelDir { dir: PathBuf, message: String },

    /// A model directory's configuration asks for something this crate does not do
    /// (an architecture, a pooling mode, a label set).
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    /// The inference engine (candle, libtorch) failed.
    #[error("{engine} engine: {message}")]
    Engine {
        engine: &'static str,
        message: String,
    },

    /// The engine asked for is not compiled into this build.
    #[error(
        "the `{engine}` transformer engine is not part of this build; rebuild with \
         `--features {feature}`"
    )]
    EngineNotBuilt {
        engine: &'static str,
        feature: &'static str,
    },

    /// The bytes do not start with the head magic: not a Vigil head file at all.
    #[error("not a vigil-transformer head file (bad magic bytes)")]
    HeadBadMagic,

    #[error("unsupported head format version {found} (this build reads version {supported})")]
    HeadUnsupportedVersion { found: u16, supported: u16 },

    #[error("head file truncated: {actual} bytes, the header says {expected}")]
    HeadTruncated { expected: u64, actual: u64 },

    #[error("head file corrupt: checksum {actual:08x} does not match the stored {stored:08x}")]
    HeadChecksumMismatch { stored: u32, actual: u32 },

    /// The checksum matched but a field is out of range.
    #[error("head file corrupt: {0}")]
    HeadCorrupt(String),

    /// The head was trained on another encoder's embeddings.
    #[error("head does not fit the encoder: {0}")]
    HeadMismatch(String),

    #[error("invalid training input: {0}")]
    Training(String),

    #[error(transparent)]
    Learned(#[from] vigil_learned::LearnedError),
}

pub type Result<T, E = TransformerError> = std::result::Result<T, E>;

impl TransformerError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TransformerError::Io { path, source }
    }

    pub(crate) fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        TransformerError::Config {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn model_dir(dir: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        TransformerError::ModelDir {
            dir: dir.into(),
            message: message.into(),
        }
    }
}

impl From<vigil_learned::bytes::FormatError> for TransformerError {
    fn from(error: vigil_learned::bytes::FormatError) -> Self {
        TransformerError::HeadCorrupt(error.0)
    }
}

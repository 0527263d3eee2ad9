use thiserror::Error;

/// Errors from building a classifier. Classifying itself cannot fail: every text gets a
/// verdict, if need be a neutral one.
#[derive(Debug, Error)]
pub enum ClassifierError {
    /// The backend exists in Vigil but cannot run here (not in this build, or its model
    /// files are missing).
    #[error("classifier backend `{backend}` is not available: {reason}")]
    Unavailable { backend: String, reason: String },
    /// The name matches no backend at all (e.g. a typo in `vigil classify --backend`).
    #[error("unknown classifier backend `{name}` (expected lexicon, learned or transformer)")]
    UnknownBackend { name: String },
}

impl ClassifierError {
    /// Whether retrying could help. Neither a missing backend nor a bad name fixes
    /// itself: the operator has to change the config or the build.
    pub fn is_transient(&self) -> bool {
        match self {
            ClassifierError::Unavailable { .. } | ClassifierError::UnknownBackend { .. } => false,
        }
    }
}

pub type Result<T, E = ClassifierError> = std::result::Result<T, E>;

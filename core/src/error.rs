use thiserror::Error;

/// Errors from parsing the small languages core owns (durations, times, queries).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    #[error(
        "invalid duration {input:?}: {reason} (expected a number and a unit: ms, s, m, h, d, w; e.g. \"30s\", \"7d\")"
    )]
    Duration { input: String, reason: String },
    #[error(
        "invalid time {input:?}: expected RFC 3339 (2024-05-01T13:02:00Z), a date (2024-05-01) or a relative time such as \"24h\" or \"7d\" (meaning that long ago)"
    )]
    Time { input: String },
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

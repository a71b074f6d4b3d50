//! The one error type of every store backend.

use std::fmt::Display;

/// Why a store operation failed. The API server maps each variant to one
/// Kubernetes status (AlreadyExists and Conflict to 409, NotFound to 404,
/// Compacted to 410 Expired, FutureRevision to 504 "Too large resource version").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// `create` of a key that has a live value.
    #[error("key {key:?} already exists")]
    AlreadyExists { key: String },
    /// `update` or `delete` of a key that has no live value.
    #[error("key {key:?} not found")]
    NotFound { key: String },
    /// The key's mod revision is not the one the caller based its write on.
    #[error("key {key:?} has mod revision {actual}, the write expected {expected}")]
    Conflict {
        key: String,
        expected: i64,
        actual: i64,
    },
    /// The revision asked for is older than the history the store keeps.
    #[error("revision {requested} is compacted (history starts after revision {compacted})")]
    Compacted { requested: i64, compacted: i64 },
    /// The revision asked for has not been written yet.
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision { requested: i64, current: i64 },
    /// The storage engine failed; `context` says what the store was doing.
    #[error("{context}: {message}")]
    Backend { context: String, message: String },
}

impl StoreError {
    pub(crate) fn backend(context: impl Into<String>, error: impl Display) -> Self {
        StoreError::Backend {
            context: context.into(),
            message: error.to_string(),
        }
    }
}

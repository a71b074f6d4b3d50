//! Revisioned key-value store under podnet's Kubernetes API server.
//!
//! The [`Store`] trait is etcd's revision model: one global revision counter,
//! values with create and mod revisions, lists consistent at a revision,
//! watches that resume from a revision, and compaction of old history.
//! [`SqliteStore`] is the embedded backend: one append-only log table in a
//! SQLite file, a single writer thread with group commit, and in-process
//! watch fan-out.

mod error;
mod keys;
mod kv;
mod sqlite;
mod store;

pub use error::StoreError;
pub use kv::{Event, KeyValue, ListResult};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use store::Store;

//! Revisioned key-value store under podnet's Kubernetes API server.
//!
//! The [`Store`] trait is etcd's revision model: one global revision counter,
//! values with create and mod revisions, lists consistent at a revision,
//! watches that resume from a revision, and compaction of old history.
//! [`SqliteStore`] is the embedded backend: one append-only log table in a
//! SQLite file, a single writer thread with group commit, and in-process
//! watch fan-out. [`EtcdStore`] is the same trait on an etcd v3 cluster,
//! under a key prefix; [`LocalEtcd`] runs a throwaway etcd for tests and
//! benchmarks.

mod error;
mod etcd;
mod keys;
mod kv;
mod local_etcd;
mod sqlite;
mod store;

pub use error::StoreError;
pub use etcd::{EtcdOptions, EtcdStore};
pub use kv::{Event, KeyValue, ListResult};
pub use local_etcd::LocalEtcd;
pub use sqlite::{SqliteOptions, SqliteStore};
pub use store::Store;

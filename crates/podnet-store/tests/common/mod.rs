//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use podnet_store::{
    EtcdOptions, EtcdStore, Event, KeyValue, LocalEtcd, SqliteOptions, SqliteStore, Store,
};
use tempfile::TempDir;
use tokio::sync::mpsc::Receiver;

/// Long enough for a loaded machine, short enough that a hang fails fast.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Runs each named test body, an `async fn(Fresh)`, on both backends: as
/// `sqlite::NAME` on a fresh SQLite file and as `etcd::NAME` on a fresh etcd
/// of its own (etcd's revisions and compaction are global, so tests that
/// count revisions cannot share one). With `watch_buffer = N in A, B;` the
/// stores get that watch buffer and the modules are named `A` and `B`.
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        on_both_backends!(@modules sqlite, etcd, None; $($test),*);
    };
    (watch_buffer = $buffer:literal in $sqlite:ident, $etcd:ident; $($test:ident),* $(,)?) => {
        on_both_backends!(@modules $sqlite, $etcd, Some($buffer); $($test),*);
    };
    (@modules $sqlite:ident, $etcd:ident, $buffer:expr; $($test:ident),*) => {
        mod $sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::common::sqlite_with_watch_buffer($buffer).await).await
                }
            )*
        }
        mod $etcd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(crate::common::etcd_with_watch_buffer($buffer).await).await
                }
            )*
        }
    };
}

/// A fresh store of either backend and what keeps it alive. Derefs to the
/// store.
pub struct Fresh {
    pub store: Arc<dyn Store>,
    /// The store's revision before the test's first write: 0 for SQLite,
    /// 1 for a fresh etcd (etcd starts at revision 1).
    pub base: i64,
    /// Dropped after `store`.
    backing: Backing,
}

enum Backing {
    Sqlite(TempDir),
    Etcd(LocalEtcd),
}

impl Fresh {
    /// The store, for tasks that outlive a borrow.
    pub fn shared(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The SQLite file, for checks of what is stored in it.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match &self.backing {
            Backing::Sqlite(dir) => Some(dir.path().join("store.db")),
            Backing::Etcd(_) => None,
        }
    }
}

impl std::ops::Deref for Fresh {
    type Target = dyn Store;
    fn deref(&self) -> &dyn Store {
        &*self.store
    }
}

/// A store with the backend's default options, or the given watch buffer.
pub async fn sqlite_with_watch_buffer(watch_buffer: Option<usize>) -> Fresh {
    let mut options = SqliteOptions::default();
    if let Some(watch_buffer) = watch_buffer {
        options.watch_buffer = watch_buffer;
    }
    let TestStore { store, dir } = open_fresh_with(options).await;
    Fresh {
        store: Arc::new(store),
        base: 0,
        backing: Backing::Sqlite(dir),
    }
}

/// A store on an etcd of its own, with default options or the given watch buffer.
pub async fn etcd_with_watch_buffer(watch_buffer: Option<usize>) -> Fresh {
    let mut options = EtcdOptions::default();
    if let Some(watch_buffer) = watch_buffer {
        options.watch_buffer = watch_buffer;
    }
    let etcd = start_etcd().await;
    let store = EtcdStore::connect_with(&[etcd.endpoint()], "/podnet-test", options)
        .await
        .expect("connect to etcd");
    Fresh {
        store: Arc::new(store),
        base: 1,
        backing: Backing::Etcd(etcd),
    }
}

pub async fn start_etcd() -> LocalEtcd {
    tokio::task::spawn_blocking(LocalEtcd::start)
        .await
        .expect("the start task ran")
        .expect("start etcd")
}

/// A SQLite store in a fresh directory; the directory lives as long as the value.
pub struct TestStore {
    pub store: SqliteStore,
    pub dir: TempDir,
}

impl std::ops::Deref for TestStore {
    type Target = SqliteStore;
    fn deref(&self) -> &SqliteStore {
        &self.store
    }
}

pub async fn open_fresh() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("store.db"))
        .await
        .expect("open store");
    TestStore { store, dir }
}

pub async fn open_fresh_with(options: SqliteOptions) -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_with(&dir.path().join("store.db"), options)
        .await
        .expect("open store");
    TestStore { store, dir }
}

pub async fn next_event(events: &mut Receiver<Event>) -> Event {
    tokio::time::timeout(PATIENCE, events.recv())
        .await
        .expect("an event within the patience")
        .expect("the stream to stay open")
}

pub async fn next_events(events: &mut Receiver<Event>, count: usize) -> Vec<Event> {
    let mut received = Vec::with_capacity(count);
    for _ in 0..count {
        received.push(next_event(events).await);
    }
    received
}

/// Asserts that nothing more arrives for a short while.
pub async fn assert_quiet(events: &mut Receiver<Event>) {
    if let Ok(next) = tokio::time::timeout(Duration::from_millis(100), events.recv()).await {
        panic!("expected no event, got {next:?}");
    }
}

pub fn kv(key: &str, value: &str, create_revision: i64, mod_revision: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: value.as_bytes().to_vec(),
        create_revision,
        mod_revision,
    }
}

pub fn put(kv: KeyValue, prev: Option<KeyValue>) -> Event {
    Event::Put { kv, prev }
}

pub fn delete(key: &str, revision: i64, prev: KeyValue) -> Event {
    Event::Delete {
        key: key.to_owned(),
        revision,
        prev,
    }
}

pub fn keys(kvs: &[KeyValue]) -> Vec<&str> {
    kvs.iter().map(|kv| kv.key.as_str()).collect()
}

pub async fn create_all(store: &dyn Store, keys: &[&str]) {
    for key in keys {
        store
            .create(key, key.as_bytes().to_vec())
            .await
            .unwrap_or_else(|error| panic!("create {key}: {error}"));
    }
}

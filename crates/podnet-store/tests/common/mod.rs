//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use podnet_store::{Event, KeyValue, SqliteOptions, SqliteStore, Store};
use tempfile::TempDir;
use tokio::sync::mpsc::Receiver;

/// Long enough for a loaded machine, short enough that a hang fails fast.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A store in a fresh directory; the directory lives as long as the value.
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

pub async fn create_all(store: &impl Store, keys: &[&str]) {
    for key in keys {
        store
            .create(key, key.as_bytes().to_vec())
            .await
            .unwrap_or_else(|error| panic!("create {key}: {error}"));
    }
}

//! The store contract every backend honours: etcd's revision model.

use tokio::sync::mpsc::Receiver;

use crate::error::StoreError;
use crate::kv::{Event, KeyValue, ListResult};

/// A revisioned key-value store.
///
/// Every successful write takes the next revision of one global counter;
/// revisions are strictly increasing and shared across keys. Failed writes
/// take none. Revision 0 means "before the first write".
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// The revision of the last committed write (0 for an empty store).
    async fn current_revision(&self) -> Result<i64, StoreError>;

    /// The key's live value, `None` if it never existed or is deleted.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Keys with `prefix`, ascending, strictly after `start_after` if given, at most `limit` (None = all),
    /// as of `revision` (None = now; Some(r) with r compacted -> Compacted, r > current -> FutureRevision).
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
        revision: Option<i64>,
    ) -> Result<ListResult, StoreError>;

    /// How many keys with `prefix` have a live value now.
    async fn count(&self, prefix: &str) -> Result<u64, StoreError>;

    /// Creates `key`; a key with a live value -> AlreadyExists. A deleted key
    /// can be created again (with a new create revision).
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<KeyValue, StoreError>;

    /// `expected` = Some(mod_revision) for compare-and-swap; None = unconditional. Missing key -> NotFound.
    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Option<i64>,
    ) -> Result<KeyValue, StoreError>;

    /// Returns the deleted value. `expected` as for update.
    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<KeyValue, StoreError>;

    /// Every event on keys with `prefix` with revision > `after`, in revision order, then live events,
    /// until the receiver is dropped. `after` older than the compacted revision -> Err(Compacted).
    ///
    /// The stream may also end from the store's side: when the watcher falls
    /// too far behind, or the store shuts down. The events received are then
    /// still complete up to the last one, so the caller watches again from
    /// that event's revision. `after` beyond the current revision is allowed:
    /// the stream starts when the store gets there.
    async fn watch(&self, prefix: &str, after: i64) -> Result<Receiver<Event>, StoreError>;

    /// Drops history at or below `revision` (current values always stay).
    ///
    /// Afterwards lists at `revision` or later still work and watches from
    /// `after >= revision` still work; anything older fails with Compacted.
    /// `revision` beyond the current one -> FutureRevision; below the
    /// compacted revision -> Compacted; equal to it -> nothing to do.
    async fn compact(&self, revision: i64) -> Result<(), StoreError>;

    /// The revision of the last compaction (0 if none).
    async fn compacted_revision(&self) -> Result<i64, StoreError>;
}

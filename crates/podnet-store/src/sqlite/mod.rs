//! The embedded backend: the revision model in one SQLite file.

mod read;
mod schema;
mod watch;
mod write;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use rustix::fs::FlockOperation;
use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::kv::{Event, KeyValue, ListResult};
use crate::store::Store;
use read::{Readers, Snapshot};
use schema::{open_writer, read_meta, CURRENT_REVISION};
use watch::{replay_then_forward, Registration, WatchHub};
use write::{Request, WriteOp, Writer};

/// Tunables of [`SqliteStore`]; `Default` gives the values the API server uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Events a watcher may have queued before the store ends its stream
    /// (the writer never waits for a watcher). At least 1. Below one write
    /// batch (512) even a watcher that keeps up can be cut, because a
    /// committed batch is handed over at once.
    pub watch_buffer: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { watch_buffer: 4096 }
    }
}

/// The embedded [`Store`]: a SQLite file in WAL mode with one writer thread
/// (group commit) and a pool of read connections. One process at a time may
/// have a file open (a `<file>.lock` lock file enforces it), because watch
/// events are fanned out in-process only.
///
/// Dropping the store waits for the writer thread to finish its current
/// batch and ends every watch stream.
pub struct SqliteStore {
    readers: Arc<Readers>,
    hub: Arc<WatchHub>,
    options: SqliteOptions,
    requests: std_mpsc::Sender<Request>,
    writer: Option<JoinHandle<()>>,
}

impl SqliteStore {
    /// Opens the store in the file at `path`, creating it if missing.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Like [`SqliteStore::open`], with tunables other than the defaults.
    pub async fn open_with(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        if options.watch_buffer == 0 {
            return Err(StoreError::backend(
                format!("opening {}", path.display()),
                "watch_buffer must be at least 1",
            ));
        }
        let path = path.to_owned();
        let context = format!("opening {}", path.display());
        tokio::task::spawn_blocking(move || Self::open_blocking(path, options))
            .await
            .map_err(|error| StoreError::backend(context, error))?
    }

    fn open_blocking(path: PathBuf, options: SqliteOptions) -> Result<Self, StoreError> {
        let lock = lock_exclusively(&path)?;
        let conn = open_writer(&path)?;
        let current = read_meta(&conn, CURRENT_REVISION)?;
        let hub = Arc::new(WatchHub::new(current));
        let (requests, queue) = std_mpsc::channel();
        let writer = Writer::new(conn, lock, queue, hub.clone());
        let thread = std::thread::Builder::new()
            .name("podnet-store-writer".to_owned())
            .spawn(move || writer.run())
            .map_err(|error| StoreError::backend("starting the writer thread", error))?;
        Ok(SqliteStore {
            readers: Arc::new(Readers::new(path)),
            hub,
            options,
            requests,
            writer: Some(thread),
        })
    }

    async fn write(&self, op: WriteOp) -> Result<KeyValue, StoreError> {
        let context = format!("{} key {:?}", op.verb(), op.key());
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Write { op, reply })
            .map_err(|_| writer_stopped(&context))?;
        answer.await.map_err(|_| writer_stopped(&context))?
    }

    /// Runs `query` in a read transaction on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        context: &str,
        query: impl FnOnce(&Snapshot<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.with(|conn| query(&Snapshot::begin(conn)?)))
            .await
            .map_err(|error| StoreError::backend(context, error))?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // The writer stops when its queue has no sender left.
        let (orphan, _) = std_mpsc::channel();
        drop(std::mem::replace(&mut self.requests, orphan));
        if let Some(writer) = self.writer.take() {
            // A panicked writer has already failed every write sent to it;
            // there is nobody left to tell here.
            let _ = writer.join();
        }
    }
}

fn writer_stopped(context: &str) -> StoreError {
    StoreError::backend(context, "the writer thread has stopped")
}

/// Takes `<path>.lock` exclusively (not the database file itself: closing
/// any descriptor of that file would drop SQLite's own POSIX locks).
fn lock_exclusively(path: &Path) -> Result<File, StoreError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let context = || format!("locking {}", lock_path.display());
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|error| StoreError::backend(context(), error))?;
    match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(StoreError::backend(
            context(),
            "another store has this file open",
        )),
        Err(error) => Err(StoreError::backend(context(), error)),
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn current_revision(&self) -> Result<i64, StoreError> {
        self.read("reading the current revision", |snapshot| {
            Ok(snapshot.current)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let key = key.to_owned();
        let context = format!("reading key {key:?}");
        self.read(&context, move |snapshot| snapshot.get(&key))
            .await
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
        revision: Option<i64>,
    ) -> Result<ListResult, StoreError> {
        let prefix = prefix.to_owned();
        let start_after = start_after.map(str::to_owned);
        let context = format!("listing prefix {prefix:?}");
        self.read(&context, move |snapshot| {
            snapshot.list(&prefix, start_after.as_deref(), limit, revision)
        })
        .await
    }

    async fn count(&self, prefix: &str) -> Result<u64, StoreError> {
        let prefix = prefix.to_owned();
        let context = format!("counting prefix {prefix:?}");
        self.read(&context, move |snapshot| snapshot.count(&prefix))
            .await
    }

    async fn create(&self, key: &str, value: Vec<u8>) -> Result<KeyValue, StoreError> {
        self.write(WriteOp::Create {
            key: key.to_owned(),
            value,
        })
        .await
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Option<i64>,
    ) -> Result<KeyValue, StoreError> {
        self.write(WriteOp::Update {
            key: key.to_owned(),
            value,
            expected,
        })
        .await
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<KeyValue, StoreError> {
        self.write(WriteOp::Delete {
            key: key.to_owned(),
            expected,
        })
        .await
    }

    async fn watch(&self, prefix: &str, after: i64) -> Result<mpsc::Receiver<Event>, StoreError> {
        let compacted = self
            .read("starting a watch", |snapshot| Ok(snapshot.compacted))
            .await?;
        if after < compacted {
            return Err(StoreError::Compacted {
                requested: after,
                compacted,
            });
        }
        let buffer = self.options.watch_buffer;
        let (out, events) = mpsc::channel(buffer);
        match self.hub.register(prefix, after, out, buffer) {
            Registration::Live => {}
            Registration::Replay { out, through, live } => {
                // A compaction between the check above and the replay ends
                // the stream; the client's next watch gets Compacted.
                tokio::spawn(replay_then_forward(
                    self.readers.clone(),
                    prefix.to_owned(),
                    after,
                    through,
                    out,
                    live,
                ));
            }
        }
        Ok(events)
    }

    async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        let context = format!("compacting at revision {revision}");
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Compact { revision, reply })
            .map_err(|_| writer_stopped(&context))?;
        answer.await.map_err(|_| writer_stopped(&context))?
    }

    async fn compacted_revision(&self) -> Result<i64, StoreError> {
        self.read("reading the compacted revision", |snapshot| {
            Ok(snapshot.compacted)
        })
        .await
    }
}

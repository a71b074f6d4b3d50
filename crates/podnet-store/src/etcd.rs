//! The etcd v3 backend: etcd already has the revision model, so each store
//! operation is one etcd request (a transaction where a write has a
//! precondition), under a key prefix that lets several users share one etcd.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType,
    GetOptions, KvClient, Txn, TxnOp, TxnOpResponse, TxnResponse, WatchClient, WatchOptions,
    WatchStream,
};
use tokio::sync::{mpsc, watch as signal};

use crate::error::StoreError;
use crate::keys::{lower_bound, prefix_end, LowerBound};
use crate::kv::{Event, KeyValue, ListResult};
use crate::store::Store;

/// Appended to the prefix: the key that records the last compaction. 0xFF
/// never occurs in UTF-8, so no user key (a `&str`) maps to it, and every
/// user range ends at or below `prefix + 0xFF` (see [`KeySpace::range_end`]).
const META_COMPACTED: &[u8] = b"\xFFmeta/compacted";
/// etcd's gRPC server sends messages of up to 2 GiB; a whole-prefix list of
/// many objects exceeds tonic's default limit of 4 MiB.
const MAX_MESSAGE: usize = i32::MAX as usize;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// etcd's server refuses pings more often than every 5 s
/// (`--grpc-keepalive-min-time`); these detect a dead server under a watch.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// etcd checks unsynced watchers against its compaction every 100 ms; a
/// watch whose start is compacted is cancelled well within this.
const CANCEL_PATIENCE: Duration = Duration::from_secs(10);

/// Where the store's keys live in etcd's key space.
struct KeySpace {
    prefix: Vec<u8>,
    meta_compacted: Vec<u8>,
}

impl KeySpace {
    fn new(prefix: &str) -> Self {
        let prefix = prefix.as_bytes().to_vec();
        let mut meta_compacted = prefix.clone();
        meta_compacted.extend_from_slice(META_COMPACTED);
        KeySpace {
            prefix,
            meta_compacted,
        }
    }

    fn etcd_key(&self, key: &str) -> Vec<u8> {
        let mut etcd_key = Vec::with_capacity(self.prefix.len() + key.len());
        etcd_key.extend_from_slice(&self.prefix);
        etcd_key.extend_from_slice(key.as_bytes());
        etcd_key
    }

    /// The exclusive end of the user keys starting with `user_prefix`. A
    /// prefix without an upper bound among strings (the empty one) ends at
    /// `prefix + 0xFF`, which sorts above every UTF-8 suffix and below the
    /// meta key.
    fn range_end(&self, user_prefix: &str) -> Vec<u8> {
        let mut end = self.prefix.clone();
        match prefix_end(user_prefix) {
            Some(bound) => end.extend_from_slice(bound.as_bytes()),
            None => end.push(0xFF),
        }
        end
    }

    /// The first etcd key a list may return.
    fn range_start(&self, user_prefix: &str, start_after: Option<&str>) -> Vec<u8> {
        match lower_bound(user_prefix, start_after) {
            LowerBound::Inclusive(key) => self.etcd_key(key),
            LowerBound::Exclusive(key) => {
                // The smallest key greater than `key` is `key` followed by NUL.
                let mut start = self.etcd_key(key);
                start.push(0);
                start
            }
        }
    }

    fn user_key(&self, etcd_key: &[u8]) -> Result<String, StoreError> {
        let shown = || String::from_utf8_lossy(etcd_key).into_owned();
        let suffix = etcd_key
            .strip_prefix(self.prefix.as_slice())
            .ok_or_else(|| {
                StoreError::backend(
                    format!("reading key {:?} from etcd", shown()),
                    "the key is outside the store's prefix",
                )
            })?;
        String::from_utf8(suffix.to_vec()).map_err(|error| {
            StoreError::backend(format!("reading key {:?} from etcd", shown()), error)
        })
    }

    fn key_value(&self, kv: &etcd_client::KeyValue) -> Result<KeyValue, StoreError> {
        Ok(KeyValue {
            key: self.user_key(kv.key())?,
            value: kv.value().to_vec(),
            create_revision: kv.create_revision(),
            mod_revision: kv.mod_revision(),
        })
    }
}

/// Why etcd refused to read or compact at a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RevisionRefusal {
    Compacted,
    Future,
}

/// etcd reports both as gRPC OutOfRange with mvcc's message; the message
/// is the only thing that tells them apart.
fn revision_refusal(error: &etcd_client::Error) -> Option<RevisionRefusal> {
    let etcd_client::Error::GRpcStatus(status) = error else {
        return None;
    };
    let message = status.message();
    if message.contains("required revision has been compacted") {
        Some(RevisionRefusal::Compacted)
    } else if message.contains("required revision is a future revision") {
        Some(RevisionRefusal::Future)
    } else {
        None
    }
}

fn header_revision(
    header: Option<&etcd_client::ResponseHeader>,
    context: &str,
) -> Result<i64, StoreError> {
    header
        .map(etcd_client::ResponseHeader::revision)
        .ok_or_else(|| StoreError::backend(context, "etcd's response has no header"))
}

/// The meta value: zero-padded decimal, so that etcd's byte-wise value
/// comparison orders it like the number.
fn encode_revision(revision: i64) -> Vec<u8> {
    format!("{revision:019}").into_bytes()
}

fn decode_revision(value: &[u8]) -> Result<i64, StoreError> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            StoreError::backend(
                "reading the recorded compacted revision",
                format!(
                    "the meta key holds {:?}, not a revision",
                    String::from_utf8_lossy(value)
                ),
            )
        })
}

/// Tunables of [`EtcdStore`]; `Default` gives the values the API server uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EtcdOptions {
    /// Events a watcher may have queued before the store ends its stream.
    /// At least 1. The store keeps reading etcd's stream whatever the
    /// watcher does: all watches share one HTTP/2 connection with every
    /// other request, and data left unread there would hold back the
    /// connection's flow-control window, so one stalled watcher could stall
    /// the whole store.
    pub watch_buffer: usize,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        EtcdOptions { watch_buffer: 4096 }
    }
}

/// The [`Store`] on an etcd v3 cluster. Every key lives under the prefix
/// given to [`EtcdStore::connect`]; revisions are etcd's own, shared by
/// everyone who writes to that etcd.
///
/// Differences from [`SqliteStore`](crate::SqliteStore):
/// - a fresh etcd is at revision 1, not 0, and the revision counter counts
///   every write to the etcd, under any prefix;
/// - `compact` compacts the whole etcd (all prefixes) and records the
///   revision under the store's prefix, which takes one revision;
/// - a watcher is cut off when its queue fills ([`EtcdOptions::watch_buffer`])
///   during the replay of history as well, not only on live events.
///
/// Dropping the store ends every watch stream it started.
pub struct EtcdStore {
    kv: KvClient,
    watch: WatchClient,
    keys: Arc<KeySpace>,
    /// The highest compacted revision etcd has reported (its errors carry
    /// none; a cancelled watch carries it); compactions by other etcd
    /// clients show up only this way.
    learned_compacted: Arc<AtomicI64>,
    options: EtcdOptions,
    /// Never sent on: dropping it tells the watch tasks to stop.
    _shutdown: signal::Sender<()>,
    shutdown_signal: signal::Receiver<()>,
}

impl EtcdStore {
    /// Connects to the etcd cluster at `endpoints` (`http://host:port`) and
    /// checks that it answers. `prefix` (not empty, e.g. `/podnet`) is put in
    /// front of every key; keys handed back have it stripped. Users of one
    /// etcd never see each other's keys as long as neither prefix starts
    /// with the other (`/podnet` and `/podnet2` overlap: a list of the whole
    /// store under `/podnet` would show `/podnet2`'s keys).
    pub async fn connect(endpoints: &[String], prefix: &str) -> Result<EtcdStore, StoreError> {
        Self::connect_with(endpoints, prefix, EtcdOptions::default()).await
    }

    /// Like [`EtcdStore::connect`], with tunables other than the defaults.
    pub async fn connect_with(
        endpoints: &[String],
        prefix: &str,
        options: EtcdOptions,
    ) -> Result<EtcdStore, StoreError> {
        let context = format!("connecting to etcd at {}", endpoints.join(","));
        if options.watch_buffer == 0 {
            return Err(StoreError::backend(
                context,
                "watch_buffer must be at least 1",
            ));
        }
        if prefix.is_empty() {
            return Err(StoreError::backend(
                context,
                "the key prefix is empty (etcd has no empty key, and the store's empty key is the prefix itself)",
            ));
        }
        let connect_options = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            .with_require_leader(true);
        let client = Client::connect(endpoints, Some(connect_options))
            .await
            .map_err(|error| StoreError::backend(context.as_str(), error))?;
        let (shutdown, shutdown_signal) = signal::channel(());
        let store = EtcdStore {
            kv: client
                .kv_client()
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
            watch: client.watch_client().max_decoding_message_size(MAX_MESSAGE),
            keys: Arc::new(KeySpace::new(prefix)),
            learned_compacted: Arc::new(AtomicI64::new(0)),
            options,
            _shutdown: shutdown,
            shutdown_signal,
        };
        // The client connects lazily, and a request waits for a reachable
        // endpoint; one bounded read tells a wrong address right away.
        match tokio::time::timeout(2 * CONNECT_TIMEOUT, store.read_meta(&context)).await {
            Ok(Ok(_)) => Ok(store),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(StoreError::backend(
                context,
                format!("no answer within {:?}", 2 * CONNECT_TIMEOUT),
            )),
        }
    }

    /// The current revision and the compacted revision recorded in the meta key.
    async fn read_meta(&self, context: &str) -> Result<(i64, i64), StoreError> {
        let response = self
            .kv
            .clone()
            .get(self.keys.meta_compacted.clone(), None)
            .await
            .map_err(|error| StoreError::backend(context, error))?;
        let current = header_revision(response.header(), context)?;
        let recorded = match response.kvs().first() {
            Some(kv) => decode_revision(kv.value())?,
            None => 0,
        };
        Ok((current, recorded))
    }

    fn known_compacted(&self, recorded: i64) -> i64 {
        recorded.max(self.learned_compacted.load(Ordering::Relaxed))
    }

    fn learn_compacted(&self, revision: i64) {
        self.learned_compacted
            .fetch_max(revision, Ordering::Relaxed);
    }

    /// Whether etcd can still read at `revision` (1 or more), i.e. it is at
    /// or above etcd's compacted revision.
    async fn readable_at(&self, revision: i64, context: &str) -> Result<bool, StoreError> {
        let options = GetOptions::new().with_revision(revision).with_count_only();
        match self
            .kv
            .clone()
            .get(self.keys.meta_compacted.clone(), Some(options))
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if revision_refusal(&error) == Some(RevisionRefusal::Compacted) => Ok(false),
            Err(error) => Err(StoreError::backend(context, error)),
        }
    }

    /// etcd's compacted revision, known to be above `below` (which etcd
    /// refused as compacted). etcd answers no direct question about it, but
    /// it cancels a watch from revision 1 with the compacted revision.
    async fn compacted_above(&self, below: i64, context: &str) -> Result<i64, StoreError> {
        let known = self.known_compacted(self.read_meta(context).await?.1);
        if known > below {
            return Ok(known);
        }
        let options = WatchOptions::new().with_start_revision(1);
        let mut stream = self
            .watch
            .clone()
            .watch(self.keys.meta_compacted.clone(), Some(options))
            .await
            .map_err(|error| StoreError::backend(context, error))?;
        let compacted = wait_for_compaction_cancel(&mut stream, context).await?;
        self.learn_compacted(compacted);
        Ok(compacted)
    }

    /// Turns etcd's refusal to read or compact at `requested` into the
    /// store's error, with the revision etcd did not say.
    async fn refused_revision(
        &self,
        error: etcd_client::Error,
        requested: i64,
        context: &str,
    ) -> StoreError {
        let translated = match revision_refusal(&error) {
            Some(RevisionRefusal::Compacted) => {
                self.compacted_above(requested, context)
                    .await
                    .map(|compacted| StoreError::Compacted {
                        requested,
                        compacted,
                    })
            }
            Some(RevisionRefusal::Future) => self
                .read_meta(context)
                .await
                .map(|(current, _)| StoreError::FutureRevision { requested, current }),
            None => Ok(StoreError::backend(context, error)),
        };
        translated.unwrap_or_else(|failure| failure)
    }

    /// Raises the recorded compacted revision to `revision`, never lowers it
    /// (two stores on one prefix may compact concurrently).
    async fn record_compaction(&self, revision: i64, context: &str) -> Result<(), StoreError> {
        let meta = self.keys.meta_compacted.clone();
        let value = encode_revision(revision);
        let put = TxnOp::put(meta.clone(), value.clone(), None);
        let raise = Txn::new()
            .when([Compare::value(meta.clone(), CompareOp::Less, value)])
            .and_then([put.clone()]);
        let record = Txn::new()
            .when([Compare::create_revision(meta, CompareOp::Equal, 0)])
            .and_then([put])
            .or_else([TxnOp::txn(raise)]);
        self.kv
            .clone()
            .txn(record)
            .await
            .map_err(|error| StoreError::backend(context, error))?;
        Ok(())
    }

    /// A list at revision 0 or below, which etcd would read as "now": the
    /// store is empty there, unless that is compacted.
    async fn list_before_first_write(&self, revision: i64) -> Result<ListResult, StoreError> {
        let context = format!("listing at revision {revision}");
        let (_, recorded) = self.read_meta(&context).await?;
        let mut compacted = self.known_compacted(recorded);
        if compacted <= revision && !self.readable_at(1, &context).await? {
            compacted = self.compacted_above(1, &context).await?;
        }
        if revision < compacted {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted,
            });
        }
        Ok(ListResult {
            kvs: Vec::new(),
            revision,
            more: false,
        })
    }

    /// The refusal of a conditional write to `key`: `read` is what the
    /// transaction's failure branch found under the key.
    fn write_refusal(
        key: &str,
        expected: Option<i64>,
        read: Option<etcd_client::KeyValue>,
        context: &str,
    ) -> StoreError {
        match (read, expected) {
            (None, _) => StoreError::NotFound {
                key: key.to_owned(),
            },
            (Some(live), Some(expected)) => StoreError::Conflict {
                key: key.to_owned(),
                expected,
                actual: live.mod_revision(),
            },
            (Some(_), None) => {
                StoreError::backend(context, "etcd refused an unconditional write to a live key")
            }
        }
    }

    /// The conditions of update and delete: the key is live, and its mod
    /// revision is `expected` if given.
    fn live_with(etcd_key: &[u8], expected: Option<i64>) -> Vec<Compare> {
        let mut compares = vec![Compare::create_revision(
            etcd_key.to_vec(),
            CompareOp::Greater,
            0,
        )];
        if let Some(expected) = expected {
            compares.push(Compare::mod_revision(
                etcd_key.to_vec(),
                CompareOp::Equal,
                expected,
            ));
        }
        compares
    }

    async fn txn(&self, txn: Txn, context: &str) -> Result<TxnResponse, StoreError> {
        self.kv
            .clone()
            .txn(txn)
            .await
            .map_err(|error| StoreError::backend(context, error))
    }
}

fn keys_only() -> Option<GetOptions> {
    Some(GetOptions::new().with_keys_only())
}

/// The key the transaction's last read found, if any.
fn txn_read(response: &TxnResponse) -> Option<etcd_client::KeyValue> {
    response
        .op_responses()
        .into_iter()
        .rev()
        .find_map(|op| match op {
            TxnOpResponse::Get(mut get) => Some(get.take_kvs().into_iter().next()),
            _ => None,
        })
        .flatten()
}

/// Reads a watch stream until etcd cancels it for compaction; returns the
/// compacted revision it reports.
async fn wait_for_compaction_cancel(
    stream: &mut WatchStream,
    context: &str,
) -> Result<i64, StoreError> {
    let cancel = async {
        loop {
            match stream.message().await {
                Ok(Some(response)) if response.canceled() => {
                    return match response.compact_revision() {
                        0 => Err(StoreError::backend(
                            context,
                            format!("etcd cancelled the watch: {}", response.cancel_reason()),
                        )),
                        compacted => Ok(compacted),
                    };
                }
                Ok(Some(_)) => continue,
                Ok(None) => {
                    return Err(StoreError::backend(
                        context,
                        "the watch ended before etcd reported its compacted revision",
                    ))
                }
                Err(error) => return Err(StoreError::backend(context, error)),
            }
        }
    };
    tokio::time::timeout(CANCEL_PATIENCE, cancel)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::backend(
                context,
                format!("etcd did not report its compacted revision within {CANCEL_PATIENCE:?}"),
            ))
        })
}

/// One etcd watch event as the store's event. A missing previous value
/// (etcd reads it at the event's revision - 1, which a compaction may have
/// removed meanwhile) is an error: the stream cannot go on complete.
fn translate(keys: &KeySpace, event: &etcd_client::Event) -> Result<Event, StoreError> {
    let context = "translating an etcd watch event";
    let kv = event
        .kv()
        .ok_or_else(|| StoreError::backend(context, "the event has no key"))?;
    let prev = || {
        event
            .prev_kv()
            .map(|prev| keys.key_value(prev))
            .transpose()?
            .ok_or_else(|| {
                StoreError::backend(
                    context,
                    format!("revision {} has no previous value", kv.mod_revision()),
                )
            })
    };
    Ok(match event.event_type() {
        EventType::Put => {
            let created = kv.create_revision() == kv.mod_revision();
            Event::Put {
                kv: keys.key_value(kv)?,
                prev: if created { None } else { Some(prev()?) },
            }
        }
        EventType::Delete => Event::Delete {
            key: keys.user_key(kv.key())?,
            revision: kv.mod_revision(),
            prev: prev()?,
        },
    })
}

/// Hands the events of one etcd watch to `out` until the receiver is
/// dropped or falls behind (its queue is full), the store is dropped, or
/// etcd ends or cancels the watch. Events at or below `after` are etcd's
/// start revision, which the caller has seen.
async fn forward(
    mut stream: WatchStream,
    out: mpsc::Sender<Event>,
    after: i64,
    keys: Arc<KeySpace>,
    learned_compacted: Arc<AtomicI64>,
    mut shutdown: signal::Receiver<()>,
) {
    loop {
        let message = tokio::select! {
            () = out.closed() => return,
            _ = shutdown.changed() => return,
            message = stream.message() => message,
        };
        let Ok(Some(response)) = message else {
            return;
        };
        if response.canceled() {
            learned_compacted.fetch_max(response.compact_revision(), Ordering::Relaxed);
            return;
        }
        for event in response.events() {
            let Ok(event) = translate(&keys, event) else {
                return;
            };
            if event.revision() <= after {
                continue;
            }
            // Full or closed: either way this watcher's stream ends here.
            if out.try_send(event).is_err() {
                return;
            }
        }
    }
}

#[async_trait::async_trait]
impl Store for EtcdStore {
    async fn current_revision(&self) -> Result<i64, StoreError> {
        let context = "reading the current revision from etcd";
        let response = self
            .kv
            .clone()
            .get(
                self.keys.meta_compacted.clone(),
                Some(GetOptions::new().with_count_only()),
            )
            .await
            .map_err(|error| StoreError::backend(context, error))?;
        header_revision(response.header(), context)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let context = format!("reading key {key:?} from etcd");
        let response = self
            .kv
            .clone()
            .get(self.keys.etcd_key(key), None)
            .await
            .map_err(|error| StoreError::backend(context, error))?;
        response
            .kvs()
            .first()
            .map(|kv| self.keys.key_value(kv))
            .transpose()
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
        revision: Option<i64>,
    ) -> Result<ListResult, StoreError> {
        if let Some(revision) = revision.filter(|revision| *revision <= 0) {
            return self.list_before_first_write(revision).await;
        }
        let context = match revision {
            Some(revision) => format!("listing prefix {prefix:?} at revision {revision} in etcd"),
            None => format!("listing prefix {prefix:?} in etcd"),
        };
        let mut options = GetOptions::new().with_range(self.keys.range_end(prefix));
        if let Some(revision) = revision {
            options = options.with_revision(revision);
        }
        match limit {
            // etcd reads limit 0 as "no limit"; a count says whether any follow.
            Some(0) => options = options.with_count_only(),
            // A limit beyond i64 cannot be reached: etcd's "no limit" is the same.
            Some(limit) => options = options.with_limit(i64::try_from(limit).unwrap_or(0)),
            None => {}
        }
        let start = self.keys.range_start(prefix, start_after);
        let mut response = match self.kv.clone().get(start, Some(options)).await {
            Ok(response) => response,
            Err(error) => {
                return Err(match revision {
                    Some(revision) => self.refused_revision(error, revision, &context).await,
                    None => StoreError::backend(context, error),
                })
            }
        };
        let current = header_revision(response.header(), &context)?;
        let more = match limit {
            Some(0) => response.count() > 0,
            _ => response.more(),
        };
        let kvs = response
            .take_kvs()
            .iter()
            .map(|kv| self.keys.key_value(kv))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ListResult {
            kvs,
            revision: revision.unwrap_or(current),
            more,
        })
    }

    async fn count(&self, prefix: &str) -> Result<u64, StoreError> {
        let context = format!("counting prefix {prefix:?} in etcd");
        let options = GetOptions::new()
            .with_range(self.keys.range_end(prefix))
            .with_count_only();
        let response = self
            .kv
            .clone()
            .get(self.keys.etcd_key(prefix), Some(options))
            .await
            .map_err(|error| StoreError::backend(context.as_str(), error))?;
        u64::try_from(response.count()).map_err(|error| StoreError::backend(context, error))
    }

    async fn create(&self, key: &str, value: Vec<u8>) -> Result<KeyValue, StoreError> {
        let context = format!("creating key {key:?} in etcd");
        let etcd_key = self.keys.etcd_key(key);
        let txn = Txn::new()
            .when([Compare::create_revision(
                etcd_key.clone(),
                CompareOp::Equal,
                0,
            )])
            .and_then([TxnOp::put(etcd_key, value.clone(), None)]);
        let response = self.txn(txn, &context).await?;
        if !response.succeeded() {
            return Err(StoreError::AlreadyExists {
                key: key.to_owned(),
            });
        }
        let revision = header_revision(response.header(), &context)?;
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
        })
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected: Option<i64>,
    ) -> Result<KeyValue, StoreError> {
        let context = format!("updating key {key:?} in etcd");
        let etcd_key = self.keys.etcd_key(key);
        // The read after the put (etcd's transactions read their own
        // writes) gives the create revision without sending the old value.
        let txn = Txn::new()
            .when(Self::live_with(&etcd_key, expected))
            .and_then([
                TxnOp::put(etcd_key.clone(), value.clone(), None),
                TxnOp::get(etcd_key.clone(), keys_only()),
            ])
            .or_else([TxnOp::get(etcd_key, keys_only())]);
        let response = self.txn(txn, &context).await?;
        let read = txn_read(&response);
        if !response.succeeded() {
            return Err(Self::write_refusal(key, expected, read, &context));
        }
        let written = read.ok_or_else(|| {
            StoreError::backend(
                context.as_str(),
                "the transaction did not find the key it had written",
            )
        })?;
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision: written.create_revision(),
            mod_revision: written.mod_revision(),
        })
    }

    async fn delete(&self, key: &str, expected: Option<i64>) -> Result<KeyValue, StoreError> {
        let context = format!("deleting key {key:?} in etcd");
        let etcd_key = self.keys.etcd_key(key);
        let txn = Txn::new()
            .when(Self::live_with(&etcd_key, expected))
            .and_then([TxnOp::delete(
                etcd_key.clone(),
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(etcd_key, keys_only())]);
        let response = self.txn(txn, &context).await?;
        if !response.succeeded() {
            return Err(Self::write_refusal(
                key,
                expected,
                txn_read(&response),
                &context,
            ));
        }
        let deleted = response
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Delete(mut delete) => delete.take_prev_kvs().into_iter().next(),
                _ => None,
            })
            .ok_or_else(|| {
                StoreError::backend(context.as_str(), "etcd did not return the deleted value")
            })?;
        self.keys.key_value(&deleted)
    }

    async fn watch(&self, prefix: &str, after: i64) -> Result<mpsc::Receiver<Event>, StoreError> {
        let context = format!("watching prefix {prefix:?} after revision {after} in etcd");
        let (_, recorded) = self.read_meta(&context).await?;
        let known = self.known_compacted(recorded);
        if after < known {
            return Err(StoreError::Compacted {
                requested: after,
                compacted: known,
            });
        }
        // etcd refuses a start revision below its compacted revision; the
        // store refuses `after` below it. Starting at `after` itself (its
        // events are dropped) makes etcd's check the store's. Start 0 would
        // mean "now" to etcd.
        let start = after.max(1);
        let options = WatchOptions::new()
            .with_range(self.keys.range_end(prefix))
            .with_start_revision(start)
            .with_prev_key();
        let mut stream = self
            .watch
            .clone()
            .watch(self.keys.etcd_key(prefix), Some(options))
            .await
            .map_err(|error| StoreError::backend(context.as_str(), error))?;
        let created = stream
            .message()
            .await
            .map_err(|error| StoreError::backend(context.as_str(), error))?
            .ok_or_else(|| {
                StoreError::backend(context.as_str(), "the watch ended before it was created")
            })?;
        if created.canceled() {
            return Err(match created.compact_revision() {
                0 => StoreError::backend(
                    context,
                    format!("etcd refused the watch: {}", created.cancel_reason()),
                ),
                compacted => {
                    self.learn_compacted(compacted);
                    StoreError::Compacted {
                        requested: after,
                        compacted,
                    }
                }
            });
        }
        let current = header_revision(created.header(), &context)?;
        // etcd checks a start in the past against its compaction later, in
        // the background, and then cancels the watch; a read at the start
        // revision answers the same question now.
        if start <= current && !self.readable_at(start, &context).await? {
            let compacted = wait_for_compaction_cancel(&mut stream, &context).await?;
            self.learn_compacted(compacted);
            return Err(StoreError::Compacted {
                requested: after,
                compacted,
            });
        }
        let (out, events) = mpsc::channel(self.options.watch_buffer);
        tokio::spawn(forward(
            stream,
            out,
            after,
            self.keys.clone(),
            self.learned_compacted.clone(),
            self.shutdown_signal.clone(),
        ));
        Ok(events)
    }

    async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        let context = format!("compacting etcd at revision {revision}");
        let (current, recorded) = self.read_meta(&context).await?;
        let known = self.known_compacted(recorded);
        if revision > current {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current,
            });
        }
        if revision < known {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted: known,
            });
        }
        if revision == known {
            return Ok(());
        }
        let options = CompactionOptions::new().with_physical();
        match self.kv.clone().compact(revision, Some(options)).await {
            Ok(_) => {}
            // etcd also refuses its own compacted revision; the store does
            // nothing there. Someone else compacted at or past `revision`.
            Err(error) if revision_refusal(&error) == Some(RevisionRefusal::Compacted) => {
                if !self.readable_at(revision, &context).await? {
                    let compacted = self.compacted_above(revision, &context).await?;
                    return Err(StoreError::Compacted {
                        requested: revision,
                        compacted,
                    });
                }
            }
            Err(error) => return Err(self.refused_revision(error, revision, &context).await),
        }
        // Known before it is recorded: the record may fail, etcd's compaction stands.
        self.learn_compacted(revision);
        self.record_compaction(revision, &context).await
    }

    async fn compacted_revision(&self) -> Result<i64, StoreError> {
        let (_, recorded) = self
            .read_meta("reading the compacted revision from etcd")
            .await?;
        Ok(self.known_compacted(recorded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ranges_stay_below_the_meta_key_and_inside_the_prefix() {
        let keys = KeySpace::new("/podnet");
        let everything_end = keys.range_end("");
        assert_eq!(everything_end, b"/podnet\xFF");
        assert!(keys.meta_compacted.as_slice() >= everything_end.as_slice());
        for user_key in ["", "/", "/registry/pods/a", "\u{10FFFF}\u{10FFFF}"] {
            let etcd_key = keys.etcd_key(user_key);
            assert!(etcd_key.as_slice() >= keys.range_start("", None).as_slice());
            assert!(etcd_key < everything_end, "{user_key:?}");
            assert_eq!(keys.user_key(&etcd_key).unwrap(), user_key);
        }
        assert_eq!(keys.range_end("/pods/"), b"/podnet/pods0");
    }

    #[test]
    fn start_after_begins_just_past_the_key() {
        let keys = KeySpace::new("/p");
        assert_eq!(keys.range_start("/a/", Some("/a/x")), b"/p/a/x\0");
        assert_eq!(keys.range_start("/a/", Some("/0")), b"/p/a/");
        assert_eq!(keys.range_start("/a/", None), b"/p/a/");
    }

    #[test]
    fn keys_outside_the_prefix_or_not_utf8_are_errors() {
        let keys = KeySpace::new("/p");
        assert!(matches!(
            keys.user_key(b"/q/a"),
            Err(StoreError::Backend { .. })
        ));
        assert!(matches!(
            keys.user_key(b"/p\xFFmeta"),
            Err(StoreError::Backend { .. })
        ));
    }

    #[test]
    fn recorded_revisions_order_bytewise_like_numbers() {
        assert!(encode_revision(9) < encode_revision(10));
        assert!(encode_revision(99_999) < encode_revision(100_000));
        assert_eq!(
            decode_revision(&encode_revision(i64::MAX)).unwrap(),
            i64::MAX
        );
        assert!(decode_revision(b"x").is_err());
    }
}

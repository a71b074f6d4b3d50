//! The write side: one thread owns the only write connection, takes every
//! write request waiting in its queue as one batch, applies the batch in one
//! transaction (group commit: one fsync for the lot), hands the committed
//! events to the watch hub, then answers the callers. Compaction runs on the
//! same thread in small pages between batches, so it never stalls writes for
//! long.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::kv::{Event, KeyValue};
use crate::sqlite::schema::{read_meta, write_meta, COMPACTED_REVISION, CURRENT_REVISION};
use crate::sqlite::watch::WatchHub;

/// Most writes per transaction; bounds how long one commit holds the others
/// and how many events one batch pushes into a watcher's channel at once.
const MAX_BATCH: usize = 512;
/// Log rows examined per compaction transaction.
const COMPACTION_PAGE: i64 = 2000;

pub(crate) enum WriteOp {
    Create {
        key: String,
        value: Vec<u8>,
    },
    Update {
        key: String,
        value: Vec<u8>,
        expected: Option<i64>,
    },
    Delete {
        key: String,
        expected: Option<i64>,
    },
}

impl WriteOp {
    pub(crate) fn key(&self) -> &str {
        match self {
            WriteOp::Create { key, .. }
            | WriteOp::Update { key, .. }
            | WriteOp::Delete { key, .. } => key,
        }
    }

    pub(crate) fn verb(&self) -> &'static str {
        match self {
            WriteOp::Create { .. } => "creating",
            WriteOp::Update { .. } => "updating",
            WriteOp::Delete { .. } => "deleting",
        }
    }
}

type WriteReply = oneshot::Sender<Result<KeyValue, StoreError>>;
type CompactReply = oneshot::Sender<Result<(), StoreError>>;

pub(crate) enum Request {
    Write { op: WriteOp, reply: WriteReply },
    Compact { revision: i64, reply: CompactReply },
}

/// One write's fate within a batch: applied, or refused without a revision.
type Outcome = Result<Applied, StoreError>;

/// A write that passed its checks: what the caller gets and what watchers get.
struct Applied {
    result: KeyValue,
    event: Event,
}

/// The latest log row of a key.
struct Latest {
    revision: i64,
    deleted: bool,
    create_revision: i64,
    value: Vec<u8>,
}

impl Latest {
    fn live(self) -> Option<Latest> {
        (!self.deleted).then_some(self)
    }

    fn into_kv(self, key: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: self.value,
            create_revision: self.create_revision,
            mod_revision: self.revision,
        }
    }
}

struct Compaction {
    target: i64,
    /// Log rows at or below this revision have been examined.
    done_through: i64,
    reply: CompactReply,
}

pub(crate) struct Writer {
    conn: Connection,
    requests: Receiver<Request>,
    hub: Arc<WatchHub>,
    queued_compactions: VecDeque<(i64, CompactReply)>,
    running_compaction: Option<Compaction>,
    /// Held for the writer's lifetime so no second store opens the file;
    /// declared after `conn` so the connection closes first.
    _lock: File,
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        lock: File,
        requests: Receiver<Request>,
        hub: Arc<WatchHub>,
    ) -> Self {
        Writer {
            conn,
            requests,
            hub,
            queued_compactions: VecDeque::new(),
            running_compaction: None,
            _lock: lock,
        }
    }

    /// Serves requests until every sender is gone, then ends all watch streams.
    pub(crate) fn run(mut self) {
        loop {
            let compacting =
                self.running_compaction.is_some() || !self.queued_compactions.is_empty();
            // While compacting, do not wait for writes: the next page is due.
            let first = if compacting {
                match self.requests.try_recv() {
                    Ok(request) => Some(request),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => break,
                }
            } else {
                match self.requests.recv() {
                    Ok(request) => Some(request),
                    Err(_) => break,
                }
            };
            let mut writes = Vec::new();
            if let Some(first) = first {
                self.take(first, &mut writes);
                while writes.len() < MAX_BATCH {
                    match self.requests.try_recv() {
                        Ok(request) => self.take(request, &mut writes),
                        Err(_) => break,
                    }
                }
            }
            if !writes.is_empty() {
                self.commit(writes);
            }
            self.compaction_step();
        }
        self.hub.close();
    }

    fn take(&mut self, request: Request, writes: &mut Vec<(WriteOp, WriteReply)>) {
        match request {
            Request::Write { op, reply } => writes.push((op, reply)),
            Request::Compact { revision, reply } => {
                self.queued_compactions.push_back((revision, reply))
            }
        }
    }

    fn commit(&mut self, writes: Vec<(WriteOp, WriteReply)>) {
        let count = writes.len();
        let (ops, replies): (Vec<_>, Vec<_>) = writes.into_iter().unzip();
        match apply_batch(&mut self.conn, ops) {
            Ok((outcomes, revision)) => {
                let mut events = Vec::with_capacity(outcomes.len());
                let results: Vec<_> = outcomes
                    .into_iter()
                    .map(|outcome| {
                        outcome.map(|applied| {
                            events.push(applied.event);
                            applied.result
                        })
                    })
                    .collect();
                // Watchers first: a caller that has its answer and then
                // watches from its revision must find the hub there already.
                self.hub.publish(&events, revision);
                for (reply, result) in replies.into_iter().zip(results) {
                    // A caller that went away needs no answer; its write stands.
                    let _ = reply.send(result);
                }
            }
            Err(error) => {
                let error =
                    StoreError::backend(format!("committing a batch of {count} writes"), error);
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }

    fn compaction_step(&mut self) {
        if let Some(mut job) = self.running_compaction.take() {
            match compact_page(&mut self.conn, job.target, job.done_through) {
                Ok(done_through) if done_through >= job.target => {
                    let _ = job.reply.send(Ok(()));
                }
                Ok(done_through) => {
                    job.done_through = done_through;
                    self.running_compaction = Some(job);
                }
                Err(error) => {
                    let _ = job.reply.send(Err(error));
                }
            }
            return;
        }
        let Some((target, reply)) = self.queued_compactions.pop_front() else {
            return;
        };
        match start_compaction(&mut self.conn, target) {
            Ok(true) => {
                self.running_compaction = Some(Compaction {
                    target,
                    done_through: 0,
                    reply,
                })
            }
            Ok(false) => {
                let _ = reply.send(Ok(()));
            }
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
    }
}

/// Applies `ops` in order in one transaction. The outer error aborts the
/// whole batch (nothing committed); the inner ones are per-write refusals
/// that take no revision.
fn apply_batch(conn: &mut Connection, ops: Vec<WriteOp>) -> rusqlite::Result<(Vec<Outcome>, i64)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut revision: i64 = tx
        .prepare_cached("SELECT value FROM meta WHERE name = ?1")?
        .query_row([CURRENT_REVISION], |row| row.get(0))?;
    let mut outcomes = Vec::with_capacity(ops.len());
    for op in ops {
        outcomes.push(apply(&tx, &mut revision, op)?);
    }
    write_meta(&tx, CURRENT_REVISION, revision)?;
    tx.commit()?;
    Ok((outcomes, revision))
}

fn apply(tx: &Transaction<'_>, revision: &mut i64, op: WriteOp) -> rusqlite::Result<Outcome> {
    let latest = latest_row(tx, op.key())?;
    let next = *revision + 1;
    let applied = match op {
        WriteOp::Create { key, value } => {
            if latest.as_ref().is_some_and(|latest| !latest.deleted) {
                return Ok(Err(StoreError::AlreadyExists { key }));
            }
            let prev_revision = latest.map_or(0, |latest| latest.revision);
            insert_row(tx, next, &key, RowKind::Create, next, prev_revision, &value)?;
            let kv = KeyValue {
                key,
                value,
                create_revision: next,
                mod_revision: next,
            };
            Applied {
                result: kv.clone(),
                event: Event::Put { kv, prev: None },
            }
        }
        WriteOp::Update {
            key,
            value,
            expected,
        } => {
            let prev = match checked_live(latest, &key, expected) {
                Ok(prev) => prev,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let kv = KeyValue {
                key,
                value,
                create_revision: prev.create_revision,
                mod_revision: next,
            };
            insert_row(
                tx,
                next,
                &kv.key,
                RowKind::Update,
                prev.create_revision,
                prev.revision,
                &kv.value,
            )?;
            let prev = prev.into_kv(&kv.key);
            Applied {
                result: kv.clone(),
                event: Event::Put {
                    kv,
                    prev: Some(prev),
                },
            }
        }
        WriteOp::Delete { key, expected } => {
            let prev = match checked_live(latest, &key, expected) {
                Ok(prev) => prev,
                Err(refusal) => return Ok(Err(refusal)),
            };
            insert_row(
                tx,
                next,
                &key,
                RowKind::Tombstone,
                prev.create_revision,
                prev.revision,
                &[],
            )?;
            let prev = prev.into_kv(&key);
            Applied {
                result: prev.clone(),
                event: Event::Delete {
                    key,
                    revision: next,
                    prev,
                },
            }
        }
    };
    *revision = next;
    Ok(Ok(applied))
}

/// The key's live row, if it has one and its mod revision is `expected`.
fn checked_live(
    latest: Option<Latest>,
    key: &str,
    expected: Option<i64>,
) -> Result<Latest, StoreError> {
    let live = latest
        .and_then(Latest::live)
        .ok_or_else(|| StoreError::NotFound {
            key: key.to_owned(),
        })?;
    match expected {
        Some(expected) if expected != live.revision => Err(StoreError::Conflict {
            key: key.to_owned(),
            expected,
            actual: live.revision,
        }),
        _ => Ok(live),
    }
}

fn latest_row(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<Option<Latest>> {
    tx.prepare_cached(
        "SELECT revision, deleted, create_revision, value FROM log
         WHERE key = ?1 ORDER BY revision DESC LIMIT 1",
    )?
    .query_row([key], |row| {
        Ok(Latest {
            revision: row.get(0)?,
            deleted: row.get(1)?,
            create_revision: row.get(2)?,
            value: row.get(3)?,
        })
    })
    .optional()
}

#[derive(Clone, Copy)]
enum RowKind {
    Create,
    Update,
    Tombstone,
}

fn insert_row(
    tx: &Transaction<'_>,
    revision: i64,
    key: &str,
    kind: RowKind,
    create_revision: i64,
    prev_revision: i64,
    value: &[u8],
) -> rusqlite::Result<()> {
    let (created, deleted) = match kind {
        RowKind::Create => (true, false),
        RowKind::Update => (false, false),
        RowKind::Tombstone => (false, true),
    };
    tx.prepare_cached(
        "INSERT INTO log (revision, key, created, deleted, create_revision, prev_revision, value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute((
        revision,
        key,
        created,
        deleted,
        create_revision,
        prev_revision,
        value,
    ))
    .map(drop)
}

/// Checks `target` and records it as the compacted revision, which from
/// then on refuses reads and watches from before it. Returns whether there
/// is history to delete.
fn start_compaction(conn: &mut Connection, target: i64) -> Result<bool, StoreError> {
    let context = format!("compacting at revision {target}");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|error| StoreError::backend(context.as_str(), error))?;
    let current = read_meta(&tx, CURRENT_REVISION)?;
    let compacted = read_meta(&tx, COMPACTED_REVISION)?;
    if target > current {
        return Err(StoreError::FutureRevision {
            requested: target,
            current,
        });
    }
    if target < compacted {
        return Err(StoreError::Compacted {
            requested: target,
            compacted,
        });
    }
    if target == compacted {
        return Ok(false);
    }
    write_meta(&tx, COMPACTED_REVISION, target)
        .and_then(|()| tx.commit())
        .map_err(|error| StoreError::backend(context, error))?;
    Ok(true)
}

/// Deletes, among the next page of log rows after `done_through`, those no
/// read at or after `target` can need: rows superseded by a later row of the
/// same key at or below `target`, and tombstones at or below `target`. The
/// row a key has at `target` stays, so lists at `target` still work and
/// every later event still finds the row it replaced. Returns the revision
/// examined through.
fn compact_page(conn: &mut Connection, target: i64, done_through: i64) -> Result<i64, StoreError> {
    delete_superseded_page(conn, target, done_through).map_err(|error| {
        StoreError::backend(
            format!("compacting at revision {target} after revision {done_through}"),
            error,
        )
    })
}

fn delete_superseded_page(
    conn: &mut Connection,
    target: i64,
    done_through: i64,
) -> rusqlite::Result<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let page_end: Option<i64> = tx
        .prepare_cached(
            "SELECT revision FROM log WHERE revision > ?1 AND revision <= ?2
             ORDER BY revision LIMIT 1 OFFSET ?3",
        )?
        .query_row((done_through, target, COMPACTION_PAGE - 1), |row| {
            row.get(0)
        })
        .optional()?;
    let through = page_end.unwrap_or(target);
    tx.prepare_cached(
        "DELETE FROM log WHERE revision > ?1 AND revision <= ?2 AND (
             deleted = 1 OR revision < (SELECT max(newer.revision) FROM log AS newer
                                        WHERE newer.key = log.key AND newer.revision <= ?3))",
    )?
    .execute((done_through, through, target))?;
    tx.commit()?;
    Ok(through)
}

//! The read side: a small pool of read-only connections and the queries
//! that answer get, list, count and watch replay from the log.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, Transaction};

use crate::error::StoreError;
use crate::keys::{lower_bound, prefix_end, LowerBound};
use crate::kv::{Event, KeyValue, ListResult};
use crate::sqlite::schema::{open_reader, read_meta, COMPACTED_REVISION, CURRENT_REVISION};

/// Connections kept open between reads; more are opened under load and
/// closed when they come back to a full pool.
const MAX_IDLE_READERS: usize = 16;

pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Self {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on a pooled connection (blocking: call from a blocking thread).
    pub(crate) fn with<T>(
        &self,
        read: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // The lock only guards the Vec; a panic elsewhere cannot leave it half-changed.
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let result = read(&mut conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

fn sqlite_error(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StoreError {
    let context = context.into();
    move |error| StoreError::backend(context, error)
}

/// A read transaction with the revisions it sees; every query made through
/// it reads the same committed state.
pub(crate) struct Snapshot<'c> {
    tx: Transaction<'c>,
    pub(crate) current: i64,
    pub(crate) compacted: i64,
}

impl<'c> Snapshot<'c> {
    pub(crate) fn begin(conn: &'c mut Connection) -> Result<Self, StoreError> {
        let tx = conn
            .transaction()
            .map_err(sqlite_error("beginning a read transaction"))?;
        // The first read fixes the snapshot; later queries in `tx` see the same one.
        let current = read_meta(&tx, CURRENT_REVISION)?;
        let compacted = read_meta(&tx, COMPACTED_REVISION)?;
        Ok(Snapshot {
            tx,
            current,
            compacted,
        })
    }

    /// Checks that the state as of `revision` is still kept.
    fn check_readable(&self, revision: i64) -> Result<(), StoreError> {
        if revision < self.compacted {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted: self.compacted,
            });
        }
        if revision > self.current {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current: self.current,
            });
        }
        Ok(())
    }

    pub(crate) fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let latest = self
            .tx
            .prepare_cached(
                "SELECT deleted, value, create_revision, revision FROM log
                 WHERE key = ?1 ORDER BY revision DESC LIMIT 1",
            )
            .and_then(|mut statement| {
                statement
                    .query_row([key], |row| {
                        let deleted: bool = row.get(0)?;
                        (!deleted)
                            .then(|| kv_from_row(key.to_owned(), row, 1))
                            .transpose()
                    })
                    .optional()
            })
            .map_err(sqlite_error(format!("reading key {key:?}")))?;
        Ok(latest.flatten())
    }

    pub(crate) fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: Option<usize>,
        revision: Option<i64>,
    ) -> Result<ListResult, StoreError> {
        let revision = match revision {
            Some(revision) => {
                self.check_readable(revision)?;
                revision
            }
            None => self.current,
        };
        // One row past the limit tells whether more follow.
        let fetch = limit
            .and_then(|limit| i64::try_from(limit).ok())
            .and_then(|limit| limit.checked_add(1))
            .unwrap_or(-1);
        let (range, mut params) = key_range("key", prefix, start_after);
        params.push(Value::Integer(revision));
        params.push(Value::Integer(fetch));
        // The inner query walks the covering index once: per key the row with
        // the highest revision at or below `revision` (SQLite takes bare
        // columns such as `deleted` from the row that holds the max), keeps
        // live ones, stops after `fetch` keys. The join then reads values.
        // The order is restored below rather than with an outer ORDER BY,
        // which would make SQLite sort whole rows, values included, and
        // spill large lists to a temporary file.
        let sql = format!(
            "SELECT l.key, l.value, l.create_revision, l.revision
             FROM (SELECT max(revision) AS rev, deleted FROM log
                   WHERE {range} AND revision <= ?
                   GROUP BY key HAVING deleted = 0
                   ORDER BY key LIMIT ?) AS latest
             JOIN log AS l ON l.revision = latest.rev"
        );
        let context = format!("listing prefix {prefix:?} at revision {revision}");
        let mut kvs = self
            .tx
            .prepare_cached(&sql)
            .and_then(|mut statement| {
                statement
                    .query_map(rusqlite::params_from_iter(params), |row| {
                        kv_from_row(row.get(0)?, row, 1)
                    })?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(sqlite_error(context))?;
        kvs.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let more = limit.is_some_and(|limit| kvs.len() > limit);
        if let Some(limit) = limit {
            kvs.truncate(limit);
        }
        Ok(ListResult {
            kvs,
            revision,
            more,
        })
    }

    pub(crate) fn count(&self, prefix: &str) -> Result<u64, StoreError> {
        let (range, params) = key_range("key", prefix, None);
        let sql = format!(
            "SELECT count(*) FROM (SELECT max(revision), deleted FROM log
                                   WHERE {range} GROUP BY key HAVING deleted = 0)"
        );
        let count: i64 = self
            .tx
            .prepare_cached(&sql)
            .and_then(|mut statement| {
                statement.query_row(rusqlite::params_from_iter(params), |row| row.get(0))
            })
            .map_err(sqlite_error(format!("counting prefix {prefix:?}")))?;
        u64::try_from(count)
            .map_err(|error| StoreError::backend(format!("counting prefix {prefix:?}"), error))
    }

    /// Events on keys with `prefix` with revision in (`after`, `through`], at
    /// most `max`, in revision order, and the revision up to which the log
    /// has been read (`through` unless the page filled up).
    pub(crate) fn events(
        &self,
        prefix: &str,
        after: i64,
        through: i64,
        max: usize,
    ) -> Result<(Vec<Event>, i64), StoreError> {
        if after < self.compacted {
            return Err(StoreError::Compacted {
                requested: after,
                compacted: self.compacted,
            });
        }
        let (range, mut key_params) = key_range("l.key", prefix, None);
        let mut params = vec![Value::Integer(after), Value::Integer(through)];
        params.append(&mut key_params);
        params.push(Value::Integer(i64::try_from(max).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT l.key, l.created, l.deleted, l.value, l.create_revision, l.revision,
                    p.value, p.create_revision, p.revision
             FROM log AS l
             LEFT JOIN log AS p ON l.created = 0 AND p.revision = l.prev_revision
             WHERE l.revision > ? AND l.revision <= ? AND {range}
             ORDER BY l.revision LIMIT ?"
        );
        let context = format!("reading events of prefix {prefix:?} after revision {after}");
        let events = self
            .tx
            .prepare_cached(&sql)
            .and_then(|mut statement| {
                statement
                    .query_map(rusqlite::params_from_iter(params), event_from_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(sqlite_error(context))?
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let read_through = match events.last() {
            Some(last) if events.len() == max => last.revision(),
            _ => through,
        };
        Ok((events, read_through))
    }
}

/// A WHERE clause for the keys with `prefix` (after `start_after`), on
/// `column`, with its parameters in order.
fn key_range(column: &str, prefix: &str, start_after: Option<&str>) -> (String, Vec<Value>) {
    let (mut clause, mut params) = match lower_bound(prefix, start_after) {
        LowerBound::Inclusive(key) => (format!("{column} >= ?"), vec![Value::Text(key.to_owned())]),
        LowerBound::Exclusive(key) => (format!("{column} > ?"), vec![Value::Text(key.to_owned())]),
    };
    if let Some(end) = prefix_end(prefix) {
        clause.push_str(&format!(" AND {column} < ?"));
        params.push(Value::Text(end));
    }
    (clause, params)
}

/// A KeyValue from columns value, create_revision, mod revision starting at `first`.
fn kv_from_row(key: String, row: &Row<'_>, first: usize) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key,
        value: row.get(first)?,
        create_revision: row.get(first + 1)?,
        mod_revision: row.get(first + 2)?,
    })
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Event, StoreError>> {
    let key: String = row.get(0)?;
    let created: bool = row.get(1)?;
    let deleted: bool = row.get(2)?;
    let revision: i64 = row.get(5)?;
    let prev = match row.get::<_, Option<i64>>(8)? {
        Some(_) => Some(kv_from_row(key.clone(), row, 6)?),
        None => None,
    };
    if created {
        let kv = kv_from_row(key, row, 3)?;
        return Ok(Ok(Event::Put { kv, prev: None }));
    }
    let Some(prev) = prev else {
        return Ok(Err(StoreError::backend(
            format!("replaying revision {revision} of key {key:?}"),
            "the row it replaced is missing from the log",
        )));
    };
    Ok(Ok(if deleted {
        Event::Delete {
            key,
            revision,
            prev,
        }
    } else {
        Event::Put {
            kv: kv_from_row(key, row, 3)?,
            prev: Some(prev),
        }
    }))
}

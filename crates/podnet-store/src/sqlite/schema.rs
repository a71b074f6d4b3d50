//! The on-disk layout: one append-only log table, its index, a meta table,
//! and the connection settings that make commits durable.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::StoreError;

/// Bumped when the layout changes; a file of another version is refused
/// rather than misread.
const SCHEMA_VERSION: i64 = 1;

/// Meta row: the revision of the last committed write. Kept apart from the
/// log because compaction may delete the row that carried it (a tombstone).
pub(crate) const CURRENT_REVISION: &str = "current_revision";
/// Meta row: the revision of the last compaction.
pub(crate) const COMPACTED_REVISION: &str = "compacted_revision";
const SCHEMA_VERSION_NAME: &str = "schema_version";

/// How long a connection waits for SQLite's own locks (a WAL checkpoint, a
/// reader opening while the writer starts) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Readers map the file instead of copying pages into a private cache per
/// connection: a large list then reads straight from the OS page cache,
/// shared by every reader.
const READER_MMAP_BYTES: i64 = 1 << 30;

// One row per write, keyed by its revision (kine's layout less `old_value`:
// the value an event replaced is the row at `prev_revision`, which compaction
// keeps for as long as any event still refers to it).
// - created: 1 if this write created the key (no previous live value).
// - deleted: 1 for a tombstone; its value is empty.
// - create_revision: the revision that created the key's current life.
// - prev_revision: the key's previous row (0 if none).
// The index answers "latest row of a key at or below revision r" with one
// seek, and lists scan it without touching the table (covering).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    revision        INTEGER PRIMARY KEY,
    key             TEXT    NOT NULL,
    created         INTEGER NOT NULL,
    deleted         INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL,
    value           BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision, deleted);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

fn sqlite_error(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StoreError {
    let context = context.into();
    move |error| StoreError::backend(context, error)
}

/// Opens the connection the writer thread owns: creates the file and the
/// schema if needed and checks the version.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let shown = path.display();
    let conn = Connection::open(path).map_err(sqlite_error(format!("opening {shown}")))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite_error(format!("setting busy timeout on {shown}")))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
        .map_err(sqlite_error(format!("switching {shown} to WAL")))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::backend(
            format!("switching {shown} to WAL"),
            format!("SQLite kept journal mode {mode:?}"),
        ));
    }
    // FULL: every commit fsyncs the WAL before the write is acknowledged, so
    // acknowledged writes survive power loss, not only a killed process (for
    // that, NORMAL would do). Group commit pays one fsync per batch.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite_error(format!("setting synchronous on {shown}")))?;
    conn.execute_batch(SCHEMA)
        .map_err(sqlite_error(format!("creating the schema in {shown}")))?;
    conn.execute(
        "INSERT OR IGNORE INTO meta (name, value) VALUES (?1, ?2), (?3, 0), (?4, 0)",
        (
            SCHEMA_VERSION_NAME,
            SCHEMA_VERSION,
            CURRENT_REVISION,
            COMPACTED_REVISION,
        ),
    )
    .map_err(sqlite_error(format!("initialising meta in {shown}")))?;
    let version = read_meta(&conn, SCHEMA_VERSION_NAME)?;
    if version != SCHEMA_VERSION {
        return Err(StoreError::backend(
            format!("opening {shown}"),
            format!("schema version {version}, this build reads version {SCHEMA_VERSION}"),
        ));
    }
    Ok(conn)
}

/// Opens a read-only connection; readers never block the writer in WAL mode.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let shown = path.display();
    // NO_MUTEX: a pooled connection is used by one thread at a time.
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(sqlite_error(format!("opening {shown} for reading")))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite_error(format!("setting busy timeout on {shown}")))?;
    conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)
        .map_err(sqlite_error(format!("setting mmap_size on {shown}")))?;
    Ok(conn)
}

pub(crate) fn read_meta(conn: &Connection, name: &str) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")
        .and_then(|mut statement| statement.query_row([name], |row| row.get(0)).optional())
        .map_err(sqlite_error(format!("reading {name}")))?
        .ok_or_else(|| StoreError::backend(format!("reading {name}"), "the meta row is missing"))
}

pub(crate) fn write_meta(conn: &Connection, name: &str, value: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE meta SET value = ?2 WHERE name = ?1")?
        .execute((name, value))
        .map(drop)
}

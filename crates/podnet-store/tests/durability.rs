//! What survives: a clean reopen, and a writer process killed with SIGKILL.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{kv, next_events, PATIENCE};
use podnet_store::{Event, SqliteStore, Store, StoreError};

#[tokio::test]
async fn reopening_after_drop_keeps_values_revisions_history_and_the_compacted_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store.create("/p/a", b"a1".to_vec()).await.unwrap(); // 1
        store.create("/p/b", b"b1".to_vec()).await.unwrap(); // 2
        store.update("/p/a", b"a2".to_vec(), None).await.unwrap(); // 3
        store.compact(2).await.unwrap();
        store.update("/p/b", b"b2".to_vec(), None).await.unwrap(); // 4
        store.delete("/p/a", None).await.unwrap(); // 5
                                                   // A failed write must not have taken a revision that reappears later.
        store.create("/p/b", vec![]).await.unwrap_err();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 5);
    assert_eq!(store.compacted_revision().await.unwrap(), 2);
    assert_eq!(store.get("/p/a").await.unwrap(), None);
    assert_eq!(
        store.get("/p/b").await.unwrap(),
        Some(kv("/p/b", "b2", 2, 4))
    );
    let then = store.list("/p/", None, None, Some(3)).await.unwrap();
    assert_eq!(then.kvs, [kv("/p/a", "a2", 1, 3), kv("/p/b", "b1", 2, 2)]);
    assert!(matches!(
        store.list("/p/", None, None, Some(1)).await,
        Err(StoreError::Compacted { .. })
    ));
    let mut events = store.watch("/p/", 2).await.unwrap();
    let replayed: Vec<i64> = next_events(&mut events, 3)
        .await
        .iter()
        .map(Event::revision)
        .collect();
    assert_eq!(replayed, [3, 4, 5]);
    assert_eq!(store.create("/p/c", vec![]).await.unwrap().mod_revision, 6);
}

#[tokio::test]
async fn a_second_store_on_an_open_file_is_refused_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let first = SqliteStore::open(&path).await.unwrap();
    first.create("/a", vec![1]).await.unwrap();
    let Err(StoreError::Backend { context, message }) = SqliteStore::open(&path).await else {
        panic!("a second open of the same file succeeded");
    };
    assert!(context.starts_with("locking "), "{context}");
    assert!(message.contains("another store"), "{message}");
    drop(first);
    let second = SqliteStore::open(&path).await.unwrap();
    assert_eq!(second.current_revision().await.unwrap(), 1);
}

/// Set in the child process: the directory of the store it writes to.
const CHILD_ENV: &str = "PODNET_STORE_TEST_WRITE_UNTIL_KILLED";
const ACKED_BEFORE_KILL: usize = 300;

/// Kills the child even when an assertion fails first.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_of_the_writing_process() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        write_until_killed(PathBuf::from(dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_writes_survive_sigkill_of_the_writing_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().unwrap();
    let (lines, acks) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    // key -> the highest revision the child was told is committed
    let mut acked: BTreeMap<String, i64> = BTreeMap::new();
    let mut count = 0;
    let deadline = Instant::now() + PATIENCE;
    while count < ACKED_BEFORE_KILL {
        let line = acks
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the child acknowledges writes");
        // The first ack may share its line with the test harness's own output.
        let Some((_, ack)) = line.split_once("acked ") else {
            continue;
        };
        let (key, revision) = ack.rsplit_once(' ').unwrap();
        let revision: i64 = revision.parse().unwrap();
        let entry = acked.entry(key.to_owned()).or_insert(revision);
        *entry = (*entry).max(revision);
        count += 1;
    }
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.signal(), Some(SIGKILL), "{status:?}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(&dir.path().join("store.db"))
            .await
            .unwrap();
        let highest = acked.values().copied().max().unwrap();
        assert!(store.current_revision().await.unwrap() >= highest);
        for (key, revision) in &acked {
            let stored = store
                .get(key)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("acknowledged key {key} lost"));
            assert!(
                stored.mod_revision >= *revision,
                "{key}: acknowledged revision {revision}, stored {}",
                stored.mod_revision
            );
        }
    });
}

const SIGKILL: i32 = 9;

/// The child: eight concurrent writers (so acknowledgements come from group
/// commits) create keys and update each once, printing every acknowledged
/// write. Bounded, in case the parent never kills it.
fn write_until_killed(dir: PathBuf) -> ! {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = Arc::new(open_for_child(&dir).await);
        let mut writers = Vec::new();
        for writer in 0..8 {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..5000 {
                    let key = format!("/crash/{writer}/{i}");
                    let created = store.create(&key, vec![1; 64]).await.unwrap();
                    ack(&key, created.mod_revision);
                    let updated = store.update(&key, vec![2; 64], None).await.unwrap();
                    ack(&key, updated.mod_revision);
                }
            }));
        }
        let give_up = tokio::time::sleep(Duration::from_secs(30));
        tokio::select! {
            _ = give_up => {}
            _ = async { for writer in writers { let _ = writer.await; } } => {}
        }
    });
    std::process::exit(0)
}

async fn open_for_child(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("store.db")).await.unwrap()
}

fn ack(key: &str, revision: i64) {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "acked {key} {revision}").unwrap();
    stdout.flush().unwrap();
}

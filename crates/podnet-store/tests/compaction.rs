//! Compaction: what it drops, what it keeps, and what it refuses.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use common::{kv, next_events, open_fresh, put, Fresh};
use podnet_store::{Store, StoreError};
use rusqlite::{Connection, OpenFlags};

on_both_backends!(
    compaction_drops_superseded_history_and_keeps_the_state_at_and_after_its_revision,
    compaction_refuses_future_and_older_revisions_and_repeating_the_last_one_is_harmless,
    a_key_deleted_before_the_compacted_revision_can_be_created_again,
);

/// The revisions of the rows left in the log, read straight from the file.
fn log_revisions(db: &Path) -> BTreeSet<i64> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut statement = conn.prepare("SELECT revision FROM log").unwrap();
    let revisions = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    revisions
}

async fn compaction_drops_superseded_history_and_keeps_the_state_at_and_after_its_revision(
    store: Fresh,
) {
    let base = store.base;
    let r = |n: i64| base + n;
    store.create("/p/a", b"a1".to_vec()).await.unwrap(); // 1
    store.create("/p/b", b"b1".to_vec()).await.unwrap(); // 2
    store.create("/p/c", b"c1".to_vec()).await.unwrap(); // 3
    store.update("/p/a", b"a2".to_vec(), None).await.unwrap(); // 4
    store.delete("/p/b", None).await.unwrap(); // 5
    store.update("/p/c", b"c2".to_vec(), None).await.unwrap(); // 6
    store.update("/p/a", b"a3".to_vec(), None).await.unwrap(); // 7

    store.compact(r(5)).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), r(5));
    if let Some(db) = store.sqlite_file() {
        // Rows 1 and 2 were superseded at 5, and 5 is a tombstone; 3 and 4
        // are the values a and c have at 5, which later events replace.
        assert_eq!(log_revisions(&db), BTreeSet::from([3, 4, 6, 7]));
    }

    assert_eq!(
        store.get("/p/a").await.unwrap(),
        Some(kv("/p/a", "a3", r(1), r(7)))
    );
    assert_eq!(store.get("/p/b").await.unwrap(), None);
    assert_eq!(
        store.get("/p/c").await.unwrap(),
        Some(kv("/p/c", "c2", r(3), r(6)))
    );
    let at_compaction = store.list("/p/", None, None, Some(r(5))).await.unwrap();
    assert_eq!(
        at_compaction.kvs,
        [kv("/p/a", "a2", r(1), r(4)), kv("/p/c", "c1", r(3), r(3))]
    );
    for before in [0, r(4)] {
        let error = store
            .list("/p/", None, None, Some(before))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            StoreError::Compacted {
                requested: before,
                compacted: r(5)
            }
        );
    }

    // Events after the compacted revision still carry the value they replaced.
    let mut events = store.watch("/p/", r(5)).await.unwrap();
    assert_eq!(
        next_events(&mut events, 2).await,
        [
            put(
                kv("/p/c", "c2", r(3), r(6)),
                Some(kv("/p/c", "c1", r(3), r(3)))
            ),
            put(
                kv("/p/a", "a3", r(1), r(7)),
                Some(kv("/p/a", "a2", r(1), r(4)))
            ),
        ]
    );
}

async fn compaction_refuses_future_and_older_revisions_and_repeating_the_last_one_is_harmless(
    store: Fresh,
) {
    let base = store.base;
    for i in 0..4 {
        store.create(&format!("/k/{i}"), vec![]).await.unwrap();
    }
    assert_eq!(
        store.compact(base + 5).await.unwrap_err(),
        StoreError::FutureRevision {
            requested: base + 5,
            current: base + 4
        }
    );
    store.compact(base + 3).await.unwrap();
    store.compact(base + 3).await.unwrap();
    assert_eq!(
        store.compact(base + 2).await.unwrap_err(),
        StoreError::Compacted {
            requested: base + 2,
            compacted: base + 3
        }
    );
    store.compact(base + 4).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), base + 4);
    assert_eq!(store.count("/k/").await.unwrap(), 4);
}

async fn a_key_deleted_before_the_compacted_revision_can_be_created_again(store: Fresh) {
    let base = store.base;
    store.create("/k", b"one".to_vec()).await.unwrap();
    store.delete("/k", None).await.unwrap();
    store.compact(base + 2).await.unwrap();
    assert_eq!(store.get("/k").await.unwrap(), None);
    // etcd records the compaction with a write of its own: take the next
    // revision from the store rather than counting.
    let next = store.current_revision().await.unwrap() + 1;
    let again = store.create("/k", b"two".to_vec()).await.unwrap();
    assert_eq!(again, kv("/k", "two", next, next));
}

// SQLite only: compaction in pages on the writer thread, read from the file.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compaction_over_many_pages_runs_between_writes_and_leaves_one_row_per_key() {
    let store = Arc::new(open_fresh().await);
    let db = store.dir.path().join("store.db");
    let keys = ["/h/a", "/h/b", "/h/c"];
    for key in keys {
        store.create(key, vec![0]).await.unwrap();
    }
    let mut handles = Vec::new();
    for key in keys {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for round in 1..=1500u32 {
                store
                    .update(key, round.to_le_bytes().to_vec(), None)
                    .await
                    .unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let target = store.current_revision().await.unwrap();
    assert_eq!(target, 3 + 3 * 1500);

    let writes_during = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..100 {
                store.create(&format!("/during/{i}"), vec![]).await.unwrap();
            }
        })
    };
    store.compact(target).await.unwrap();
    writes_during.await.unwrap();

    let left = log_revisions(&db);
    let history_left: Vec<i64> = left.iter().copied().filter(|r| *r <= target).collect();
    assert_eq!(history_left.len(), 3, "{history_left:?}");
    assert_eq!(left.len(), 3 + 100);
    for key in keys {
        let value = store.get(key).await.unwrap().unwrap().value;
        assert_eq!(value, 1500u32.to_le_bytes());
    }
}

//! Watches: history replay, live events, prefixes, compaction, many
//! watchers, and watchers that fall behind.

#[macro_use]
mod common;

use std::time::Duration;

use common::{assert_quiet, delete, kv, next_event, next_events, open_fresh, put, Fresh, PATIENCE};
use podnet_store::{Event, Store, StoreError};

on_both_backends!(
    a_watch_from_zero_replays_the_history_then_streams_live_events_in_order,
    a_watch_from_the_middle_starts_strictly_after_the_given_revision,
    a_watch_from_the_current_revision_gets_only_later_events,
    a_watch_from_a_future_revision_starts_when_the_store_gets_there,
    a_watch_sees_only_keys_with_its_prefix,
    a_watch_from_before_the_compacted_revision_is_compacted,
    a_hundred_watchers_all_see_every_event_in_order,
    watches_started_while_writes_go_on_hand_over_from_replay_to_live_without_gap_or_duplicate,
);

async fn a_watch_from_zero_replays_the_history_then_streams_live_events_in_order(store: Fresh) {
    let base = store.base;
    store.create("/p/a", b"a1".to_vec()).await.unwrap();
    store.create("/p/b", b"b1".to_vec()).await.unwrap();
    store.update("/p/a", b"a2".to_vec(), None).await.unwrap();
    store.delete("/p/b", None).await.unwrap();

    let mut events = store.watch("/p/", 0).await.unwrap();
    assert_eq!(
        next_events(&mut events, 4).await,
        [
            put(kv("/p/a", "a1", base + 1, base + 1), None),
            put(kv("/p/b", "b1", base + 2, base + 2), None),
            put(
                kv("/p/a", "a2", base + 1, base + 3),
                Some(kv("/p/a", "a1", base + 1, base + 1))
            ),
            delete("/p/b", base + 4, kv("/p/b", "b1", base + 2, base + 2)),
        ]
    );
    assert_quiet(&mut events).await;

    store.create("/p/c", b"c1".to_vec()).await.unwrap();
    store.delete("/p/a", Some(base + 3)).await.unwrap();
    store.create("/p/b", b"b2".to_vec()).await.unwrap();
    assert_eq!(
        next_events(&mut events, 3).await,
        [
            put(kv("/p/c", "c1", base + 5, base + 5), None),
            delete("/p/a", base + 6, kv("/p/a", "a2", base + 1, base + 3)),
            // Created again after a delete: a create, with nothing replaced.
            put(kv("/p/b", "b2", base + 7, base + 7), None),
        ]
    );
}

async fn a_watch_from_the_middle_starts_strictly_after_the_given_revision(store: Fresh) {
    let base = store.base;
    for i in 1..=6 {
        store.create(&format!("/p/{i}"), vec![i]).await.unwrap();
    }
    let mut events = store.watch("/p/", base + 4).await.unwrap();
    let replayed = next_events(&mut events, 2).await;
    assert_eq!(
        replayed.iter().map(Event::revision).collect::<Vec<_>>(),
        [base + 5, base + 6]
    );
    store.create("/p/7", vec![7]).await.unwrap();
    assert_eq!(next_event(&mut events).await.revision(), base + 7);
    assert_quiet(&mut events).await;
}

async fn a_watch_from_the_current_revision_gets_only_later_events(store: Fresh) {
    let base = store.base;
    let old = store.create("/p/old", b"x".to_vec()).await.unwrap();
    let mut events = store.watch("/p/", old.mod_revision).await.unwrap();
    assert_quiet(&mut events).await;
    store
        .update("/p/old", b"y".to_vec(), Some(old.mod_revision))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut events).await,
        put(
            kv("/p/old", "y", base + 1, base + 2),
            Some(kv("/p/old", "x", base + 1, base + 1))
        )
    );
}

async fn a_watch_from_a_future_revision_starts_when_the_store_gets_there(store: Fresh) {
    let base = store.base;
    let mut events = store.watch("/p/", base + 2).await.unwrap();
    store.create("/p/1", vec![1]).await.unwrap();
    store.create("/p/2", vec![2]).await.unwrap();
    store.create("/p/3", vec![3]).await.unwrap();
    assert_eq!(next_event(&mut events).await.revision(), base + 3);
}

async fn a_watch_sees_only_keys_with_its_prefix(store: Fresh) {
    store.create("/pods/a", vec![]).await.unwrap();
    store.create("/podsx", vec![]).await.unwrap();
    let mut events = store.watch("/pods/", 0).await.unwrap();
    store.create("/services/a", vec![]).await.unwrap();
    store.create("/pods/b", vec![]).await.unwrap();
    let keys: Vec<String> = next_events(&mut events, 2)
        .await
        .iter()
        .map(|event| event.key().to_owned())
        .collect();
    assert_eq!(keys, ["/pods/a", "/pods/b"]);
    assert_quiet(&mut events).await;
}

async fn a_watch_from_before_the_compacted_revision_is_compacted(store: Fresh) {
    let base = store.base;
    for i in 1..=5 {
        store.create(&format!("/p/{i}"), vec![i]).await.unwrap();
    }
    store.compact(base + 3).await.unwrap();
    for after in [0, base + 2] {
        let error = store.watch("/p/", after).await.unwrap_err();
        assert_eq!(
            error,
            StoreError::Compacted {
                requested: after,
                compacted: base + 3
            }
        );
    }
    let mut events = store.watch("/p/", base + 3).await.unwrap();
    let replayed = next_events(&mut events, 2).await;
    assert_eq!(
        replayed.iter().map(Event::revision).collect::<Vec<_>>(),
        [base + 4, base + 5]
    );
    assert_quiet(&mut events).await;
}

async fn a_hundred_watchers_all_see_every_event_in_order(store: Fresh) {
    const WRITERS: i64 = 4;
    const PER_WRITER: i64 = 100;
    const TOTAL: usize = (WRITERS * PER_WRITER) as usize;
    let base = store.base;
    // Some history first, so that the watchers from the start replay while
    // the writers go on: the hand-over from replay to live must have no gap
    // and no duplicate.
    for i in 0..20 {
        store
            .create(&format!("/w/history-{i}"), vec![])
            .await
            .unwrap();
    }
    let mut watchers = Vec::new();
    for watcher in 0..100 {
        let after = if watcher % 2 == 0 { base } else { base + 20 };
        let mut events = store.watch("/w/", after).await.unwrap();
        let expected = if after == base { TOTAL + 20 } else { TOTAL };
        watchers.push(tokio::spawn(async move {
            let received = next_events(&mut events, expected).await;
            (after, received)
        }));
    }
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = store.shared();
        writers.push(tokio::spawn(async move {
            for i in 0..PER_WRITER {
                store
                    .create(&format!("/w/{writer}-{i}"), vec![])
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let last = store.current_revision().await.unwrap();
    assert_eq!(last, base + 20 + TOTAL as i64);
    for watcher in watchers {
        let (after, received) = watcher.await.unwrap();
        let revisions: Vec<i64> = received.iter().map(Event::revision).collect();
        assert_eq!(revisions, ((after + 1)..=last).collect::<Vec<_>>());
    }
}

async fn watches_started_while_writes_go_on_hand_over_from_replay_to_live_without_gap_or_duplicate(
    store: Fresh,
) {
    const TOTAL: i64 = 600;
    let base = store.base;
    let last = base + TOTAL;
    let writer = {
        let store = store.shared();
        tokio::spawn(async move {
            for i in 0..TOTAL {
                store.create(&format!("/k/{i:04}"), vec![]).await.unwrap();
            }
        })
    };
    let mut watchers = Vec::new();
    while !writer.is_finished() {
        let current = store.current_revision().await.unwrap();
        for after in [base, (base + current) / 2, current] {
            let mut events = store.watch("/k/", after).await.unwrap();
            watchers.push(tokio::spawn(async move {
                let received = next_events(&mut events, (last - after) as usize).await;
                (after, received)
            }));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    writer.await.unwrap();
    assert!(watchers.len() >= 3);
    for watcher in watchers {
        let (after, received) = watcher.await.unwrap();
        let revisions: Vec<i64> = received.iter().map(Event::revision).collect();
        assert_eq!(
            revisions,
            ((after + 1)..=last).collect::<Vec<_>>(),
            "watch after {after}"
        );
    }
}

on_both_backends!(
    watch_buffer = 4 in sqlite_small_buffer, etcd_small_buffer;
    a_watcher_that_falls_behind_does_not_block_writers_and_its_stream_ends,
    a_watcher_that_falls_behind_during_its_replay_ends_and_can_resume,
);

async fn a_watcher_that_falls_behind_does_not_block_writers_and_its_stream_ends(store: Fresh) {
    let base = store.base;
    let mut stalled = store.watch("/p/", 0).await.unwrap();
    let mut keeping_up = store.watch("/q/", 0).await.unwrap();
    let writes = async {
        for i in 0..50 {
            store.create(&format!("/p/{i:02}"), vec![]).await.unwrap();
        }
    };
    tokio::time::timeout(PATIENCE, writes)
        .await
        .expect("writes go on while a watcher does not read");

    let mut received = Vec::new();
    while let Some(event) = tokio::time::timeout(PATIENCE, stalled.recv())
        .await
        .expect("the stream ends rather than hangs")
    {
        received.push(event.revision());
    }
    // Everything that was queued arrives, in order from the start; then the end.
    assert!(!received.is_empty() && received.len() < 50, "{received:?}");
    assert_eq!(
        received,
        ((base + 1)..=(base + received.len() as i64)).collect::<Vec<_>>()
    );

    // A watcher of another prefix was never behind and stays open.
    store.create("/q/a", vec![]).await.unwrap();
    assert_eq!(next_event(&mut keeping_up).await.key(), "/q/a");
}

async fn a_watcher_that_falls_behind_during_its_replay_ends_and_can_resume(store: Fresh) {
    let base = store.base;
    let last_written = base + 40;
    for i in 0..10 {
        store.create(&format!("/p/{i:02}"), vec![]).await.unwrap();
    }
    let mut events = store.watch("/p/", base).await.unwrap();
    for i in 10..40 {
        store.create(&format!("/p/{i:02}"), vec![]).await.unwrap();
    }
    // Each stream delivers at least a full queue before it ends, so
    // watching again from the last event seen gets through.
    let mut last = base;
    let mut resumed = 0;
    while last < last_written {
        match tokio::time::timeout(PATIENCE, events.recv())
            .await
            .expect("an event or the end of the stream")
        {
            Some(event) => {
                assert_eq!(event.revision(), last + 1);
                last = event.revision();
            }
            None => {
                resumed += 1;
                assert!(
                    resumed <= 40,
                    "no progress: at {last} after {resumed} watches"
                );
                events = store.watch("/p/", last).await.unwrap();
            }
        }
    }
    assert!(
        resumed >= 1,
        "a watcher with a queue of 4 was never cut off"
    );
}

// SQLite only: its in-process fan-out ends with the store, after the events
// the replay still reads from the log.

#[tokio::test]
async fn dropping_the_store_ends_every_watch_stream() {
    let store = open_fresh().await;
    store.create("/p/a", vec![]).await.unwrap();
    let mut live = store.watch("/p/", 1).await.unwrap();
    let mut replaying = store.watch("/p/", 0).await.unwrap();
    let common::TestStore { store, dir } = store;
    drop(store);
    assert_eq!(
        tokio::time::timeout(PATIENCE, live.recv()).await.unwrap(),
        None
    );
    assert_eq!(next_event(&mut replaying).await.revision(), 1);
    assert_eq!(
        tokio::time::timeout(PATIENCE, replaying.recv())
            .await
            .unwrap(),
        None
    );
    drop(dir);
}

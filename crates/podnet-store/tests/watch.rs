//! Watches: history replay, live events, prefixes, compaction, many
//! watchers, and watchers that fall behind.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    assert_quiet, delete, kv, next_event, next_events, open_fresh, open_fresh_with, put, PATIENCE,
};
use podnet_store::{Event, SqliteOptions, Store, StoreError};

#[tokio::test]
async fn a_watch_from_zero_replays_the_history_then_streams_live_events_in_order() {
    let store = open_fresh().await;
    store.create("/p/a", b"a1".to_vec()).await.unwrap();
    store.create("/p/b", b"b1".to_vec()).await.unwrap();
    store.update("/p/a", b"a2".to_vec(), None).await.unwrap();
    store.delete("/p/b", None).await.unwrap();

    let mut events = store.watch("/p/", 0).await.unwrap();
    assert_eq!(
        next_events(&mut events, 4).await,
        [
            put(kv("/p/a", "a1", 1, 1), None),
            put(kv("/p/b", "b1", 2, 2), None),
            put(kv("/p/a", "a2", 1, 3), Some(kv("/p/a", "a1", 1, 1))),
            delete("/p/b", 4, kv("/p/b", "b1", 2, 2)),
        ]
    );
    assert_quiet(&mut events).await;

    store.create("/p/c", b"c1".to_vec()).await.unwrap();
    store.delete("/p/a", Some(3)).await.unwrap();
    assert_eq!(
        next_events(&mut events, 2).await,
        [
            put(kv("/p/c", "c1", 5, 5), None),
            delete("/p/a", 6, kv("/p/a", "a2", 1, 3)),
        ]
    );
}

#[tokio::test]
async fn a_watch_from_the_middle_starts_strictly_after_the_given_revision() {
    let store = open_fresh().await;
    for i in 1..=6 {
        store.create(&format!("/p/{i}"), vec![i]).await.unwrap();
    }
    let mut events = store.watch("/p/", 4).await.unwrap();
    let replayed = next_events(&mut events, 2).await;
    assert_eq!(
        replayed.iter().map(Event::revision).collect::<Vec<_>>(),
        [5, 6]
    );
    store.create("/p/7", vec![7]).await.unwrap();
    assert_eq!(next_event(&mut events).await.revision(), 7);
    assert_quiet(&mut events).await;
}

#[tokio::test]
async fn a_watch_from_the_current_revision_gets_only_later_events() {
    let store = open_fresh().await;
    store.create("/p/old", b"x".to_vec()).await.unwrap();
    let mut events = store.watch("/p/", 1).await.unwrap();
    assert_quiet(&mut events).await;
    store
        .update("/p/old", b"y".to_vec(), Some(1))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut events).await,
        put(kv("/p/old", "y", 1, 2), Some(kv("/p/old", "x", 1, 1)))
    );
}

#[tokio::test]
async fn a_watch_from_a_future_revision_starts_when_the_store_gets_there() {
    let store = open_fresh().await;
    let mut events = store.watch("/p/", 2).await.unwrap();
    store.create("/p/1", vec![1]).await.unwrap();
    store.create("/p/2", vec![2]).await.unwrap();
    store.create("/p/3", vec![3]).await.unwrap();
    assert_eq!(next_event(&mut events).await.revision(), 3);
}

#[tokio::test]
async fn a_watch_sees_only_keys_with_its_prefix() {
    let store = open_fresh().await;
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

#[tokio::test]
async fn a_watch_from_before_the_compacted_revision_is_compacted() {
    let store = open_fresh().await;
    for i in 1..=5 {
        store.create(&format!("/p/{i}"), vec![i]).await.unwrap();
    }
    store.compact(3).await.unwrap();
    for after in [0, 2] {
        let error = store.watch("/p/", after).await.unwrap_err();
        assert_eq!(
            error,
            StoreError::Compacted {
                requested: after,
                compacted: 3
            }
        );
    }
    let mut events = store.watch("/p/", 3).await.unwrap();
    let replayed = next_events(&mut events, 2).await;
    assert_eq!(
        replayed.iter().map(Event::revision).collect::<Vec<_>>(),
        [4, 5]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_watchers_all_see_every_event_in_order() {
    const WRITERS: i64 = 4;
    const PER_WRITER: i64 = 100;
    const TOTAL: usize = (WRITERS * PER_WRITER) as usize;
    let store = Arc::new(open_fresh().await);
    // Some history first, so that the watchers from 0 replay while the
    // writers go on: the hand-over from replay to live must have no gap and
    // no duplicate.
    for i in 0..20 {
        store
            .create(&format!("/w/history-{i}"), vec![])
            .await
            .unwrap();
    }
    let mut watchers = Vec::new();
    for watcher in 0..100 {
        let after = if watcher % 2 == 0 { 0 } else { 20 };
        let mut events = store.watch("/w/", after).await.unwrap();
        let expected = if after == 0 { TOTAL + 20 } else { TOTAL };
        watchers.push(tokio::spawn(async move {
            let received = next_events(&mut events, expected).await;
            (after, received)
        }));
    }
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
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
    assert_eq!(last, 20 + TOTAL as i64);
    for watcher in watchers {
        let (after, received) = watcher.await.unwrap();
        let revisions: Vec<i64> = received.iter().map(Event::revision).collect();
        assert_eq!(revisions, ((after + 1)..=last).collect::<Vec<_>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_started_while_writes_go_on_hand_over_from_replay_to_live_without_gap_or_duplicate()
{
    const TOTAL: i64 = 600;
    let store = Arc::new(open_fresh().await);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..TOTAL {
                store.create(&format!("/k/{i:04}"), vec![]).await.unwrap();
            }
        })
    };
    let mut watchers = Vec::new();
    while !writer.is_finished() {
        let current = store.current_revision().await.unwrap();
        for after in [0, current / 2, current] {
            let mut events = store.watch("/k/", after).await.unwrap();
            watchers.push(tokio::spawn(async move {
                let received = next_events(&mut events, (TOTAL - after) as usize).await;
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
            ((after + 1)..=TOTAL).collect::<Vec<_>>(),
            "watch after {after}"
        );
    }
}

#[tokio::test]
async fn a_watcher_that_falls_behind_does_not_block_writers_and_its_stream_ends() {
    let mut options = SqliteOptions::default();
    options.watch_buffer = 8;
    let store = open_fresh_with(options).await;
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
    assert_eq!(received, (1..=received.len() as i64).collect::<Vec<_>>());

    // A watcher of another prefix was never behind and stays open.
    store.create("/q/a", vec![]).await.unwrap();
    assert_eq!(next_event(&mut keeping_up).await.key(), "/q/a");
}

#[tokio::test]
async fn a_watcher_that_falls_behind_during_its_replay_ends_and_can_resume() {
    let mut options = SqliteOptions::default();
    options.watch_buffer = 4;
    let store = open_fresh_with(options).await;
    for i in 0..10 {
        store.create(&format!("/p/{i:02}"), vec![]).await.unwrap();
    }
    let mut events = store.watch("/p/", 0).await.unwrap();
    for i in 10..40 {
        store.create(&format!("/p/{i:02}"), vec![]).await.unwrap();
    }
    let mut last = 0;
    while let Some(event) = tokio::time::timeout(PATIENCE, events.recv()).await.unwrap() {
        assert_eq!(event.revision(), last + 1);
        last = event.revision();
    }
    assert!(last < 40);
    let mut resumed = store.watch("/p/", last).await.unwrap();
    let rest = next_events(&mut resumed, (40 - last) as usize).await;
    assert_eq!(rest.last().map(Event::revision), Some(40));
}

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

//! What only the etcd backend has: prefixes sharing one etcd, compactions
//! made by someone else, its meta key, the process behind it.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{assert_quiet, create_all, keys, next_events, start_etcd, PATIENCE};
use podnet_store::{EtcdOptions, EtcdStore, Event, LocalEtcd, Store, StoreError};

async fn connect(etcd: &LocalEtcd, prefix: &str) -> EtcdStore {
    EtcdStore::connect(&[etcd.endpoint()], prefix)
        .await
        .unwrap_or_else(|error| panic!("connect with prefix {prefix}: {error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_with_different_prefixes_share_the_revisions_and_nothing_else() {
    let etcd = start_etcd().await;
    let one = connect(&etcd, "/one").await;
    let other = connect(&etcd, "/other").await;
    let first = one.create("/x", b"one".to_vec()).await.unwrap();
    let second = other.create("/x", b"other".to_vec()).await.unwrap();
    assert_eq!(second.mod_revision, first.mod_revision + 1);
    assert_eq!(one.current_revision().await.unwrap(), second.mod_revision);

    assert_eq!(one.get("/x").await.unwrap().unwrap().value, b"one");
    assert_eq!(other.get("/x").await.unwrap().unwrap().value, b"other");
    assert_eq!(
        keys(&one.list("", None, None, None).await.unwrap().kvs),
        ["/x"]
    );
    assert_eq!(other.count("").await.unwrap(), 1);

    let mut events = one.watch("", 0).await.unwrap();
    other.delete("/x", None).await.unwrap();
    one.update("/x", b"two".to_vec(), None).await.unwrap();
    let received = next_events(&mut events, 2).await;
    assert_eq!(
        received.iter().map(Event::revision).collect::<Vec<_>>(),
        [first.mod_revision, first.mod_revision + 3]
    );
    assert!(matches!(&received[1], Event::Put { kv, .. } if kv.key == "/x" && kv.value == b"two"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compaction_record_never_shows_in_lists_counts_or_watches() {
    let etcd = start_etcd().await;
    let store = connect(&etcd, "/podnet").await;
    create_all(&store, &["", "/a", "\u{10FFFF}"]).await;
    let mut events = store.watch("", 0).await.unwrap();
    // Received before the compaction: etcd cancels a watch still replaying
    // history that a compaction removes.
    let replayed = next_events(&mut events, 3).await;
    assert_eq!(
        replayed.iter().map(Event::key).collect::<Vec<_>>(),
        ["", "/a", "\u{10FFFF}"]
    );
    let compacted = store.current_revision().await.unwrap();
    store.compact(compacted).await.unwrap();
    // The record is a write of its own: it took a revision.
    assert_eq!(store.current_revision().await.unwrap(), compacted + 1);
    store.create("/b", vec![]).await.unwrap();

    let listed = store.list("", None, None, None).await.unwrap();
    assert_eq!(keys(&listed.kvs), ["", "/a", "/b", "\u{10FFFF}"]);
    assert_eq!(store.count("").await.unwrap(), 4);
    let next = next_events(&mut events, 1).await;
    assert_eq!(next[0].key(), "/b");
    assert_quiet(&mut events).await;
    assert_eq!(store.compacted_revision().await.unwrap(), compacted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compaction_made_by_another_etcd_user_is_learned_from_etcd() {
    let etcd = start_etcd().await;
    let store = connect(&etcd, "/mine").await;
    for i in 0..5 {
        store.create(&format!("/k/{i}"), vec![i]).await.unwrap();
    }
    // Revisions 2 to 6 are this store's; etcd compaction is global.
    let neighbour = connect(&etcd, "/theirs").await;
    neighbour.compact(5).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), 0);

    let compacted_at_5 = |requested| StoreError::Compacted {
        requested,
        compacted: 5,
    };
    assert_eq!(
        store.list("/k/", None, None, Some(3)).await.unwrap_err(),
        compacted_at_5(3)
    );
    assert_eq!(store.compacted_revision().await.unwrap(), 5);

    // Fresh connections have learned nothing: each path finds out anew.
    let unaware = connect(&etcd, "/mine").await;
    assert_eq!(
        unaware.watch("/k/", 4).await.unwrap_err(),
        compacted_at_5(4)
    );
    let unaware = connect(&etcd, "/mine").await;
    assert_eq!(
        unaware.watch("/k/", 0).await.unwrap_err(),
        compacted_at_5(0)
    );
    let unaware = connect(&etcd, "/mine").await;
    assert_eq!(
        unaware.list("/k/", None, None, Some(0)).await.unwrap_err(),
        compacted_at_5(0)
    );
    let unaware = connect(&etcd, "/mine").await;
    assert_eq!(unaware.compact(4).await.unwrap_err(), compacted_at_5(4));
    let unaware = connect(&etcd, "/mine").await;
    unaware.compact(5).await.unwrap();
    assert_eq!(unaware.compacted_revision().await.unwrap(), 5);

    let unaware = connect(&etcd, "/mine").await;
    let mut events = unaware.watch("/k/", 5).await.unwrap();
    assert_eq!(next_events(&mut events, 1).await[0].revision(), 6);
    let at_5 = store.list("/k/", None, None, Some(5)).await.unwrap();
    assert_eq!(at_5.kvs.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_that_do_not_read_never_stall_the_other_requests() {
    // Four streams of 12.5 MiB each, far beyond the connection's HTTP/2
    // flow-control window (5 MiB), which unread data would keep closed.
    const WRITES: usize = 200;
    const VALUE: usize = 64 * 1024;
    let etcd = start_etcd().await;
    let mut options = EtcdOptions::default();
    options.watch_buffer = 4;
    let store = EtcdStore::connect_with(&[etcd.endpoint()], "/podnet", options)
        .await
        .unwrap();
    let mut stalled = Vec::new();
    for _ in 0..4 {
        stalled.push(store.watch("/p/", 0).await.unwrap());
    }
    let writes = async {
        for i in 0..WRITES {
            store
                .create(&format!("/p/{i:04}"), vec![7; VALUE])
                .await
                .unwrap();
        }
    };
    tokio::time::timeout(4 * PATIENCE, writes)
        .await
        .expect("writes go on while watchers do not read");
    for mut events in stalled {
        let mut received = 0;
        while let Some(event) = tokio::time::timeout(PATIENCE, events.recv())
            .await
            .expect("the stream ends rather than hangs")
        {
            assert_eq!(event.revision(), 2 + received);
            received += 1;
        }
        assert!(received < WRITES as i64, "{received}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_store_ends_its_watch_streams() {
    let etcd = start_etcd().await;
    let store = connect(&etcd, "/podnet").await;
    store.create("/p/a", vec![]).await.unwrap();
    let mut events = store.watch("/p/", 0).await.unwrap();
    assert_eq!(next_events(&mut events, 1).await[0].key(), "/p/a");
    drop(store);
    let end = tokio::time::timeout(PATIENCE, events.recv()).await;
    assert_eq!(end, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_stream_ends_when_etcd_goes_away() {
    let etcd = start_etcd().await;
    let store = connect(&etcd, "/podnet").await;
    let mut events = store.watch("/p/", 0).await.unwrap();
    store.create("/p/a", vec![]).await.unwrap();
    assert_eq!(next_events(&mut events, 1).await[0].key(), "/p/a");
    drop(etcd);
    let end = tokio::time::timeout(PATIENCE, events.recv()).await;
    assert_eq!(end, Ok(None));
}

#[tokio::test]
async fn connect_refuses_an_empty_prefix_and_reports_an_endpoint_that_does_not_answer() {
    let etcd = start_etcd().await;
    let Err(StoreError::Backend { message, .. }) = EtcdStore::connect(&[etcd.endpoint()], "").await
    else {
        panic!("an empty prefix was accepted");
    };
    assert!(message.contains("prefix is empty"), "{message}");

    let endpoint = etcd.endpoint();
    drop(etcd);
    let Err(StoreError::Backend { context, .. }) =
        EtcdStore::connect(std::slice::from_ref(&endpoint), "/podnet").await
    else {
        panic!("connecting to a stopped etcd succeeded");
    };
    assert!(context.contains(&endpoint), "{context}");
}

#[test]
fn a_missing_etcd_binary_is_a_clear_error() {
    let error = LocalEtcd::start_binary(Path::new("/nonexistent/etcd")).unwrap_err();
    let StoreError::Backend { context, message } = error else {
        panic!("{error:?}");
    };
    assert!(context.contains("/nonexistent/etcd"), "{context}");
    assert!(message.contains("etcd-server"), "{message}");
}

#[test]
fn dropping_a_local_etcd_stops_it_and_removes_its_directory() {
    let etcd = LocalEtcd::start().unwrap();
    let dir = etcd.dir().to_owned();
    let address = etcd.endpoint().trim_start_matches("http://").to_owned();
    assert!(dir.join("etcd.log").is_file());
    assert!(TcpStream::connect(&address).is_ok());
    drop(etcd);
    assert!(!dir.exists());
    // The port closes with the process.
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(&address).is_ok() {
        assert!(Instant::now() < deadline, "etcd still listens on {address}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

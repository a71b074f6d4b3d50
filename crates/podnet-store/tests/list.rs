//! Lists by prefix, paging, lists at older revisions, counts.

mod common;

use common::{create_all, keys, kv, open_fresh};
use podnet_store::{Store, StoreError};

#[tokio::test]
async fn list_returns_exactly_the_keys_with_the_prefix_in_ascending_order() {
    let store = open_fresh().await;
    create_all(
        &*store,
        &[
            "/pods/b",
            "/pods0",
            "/pods/a",
            "/pod",
            "/pods/c/x",
            "/pods",
            "/services/a",
        ],
    )
    .await;
    let listed = store.list("/pods/", None, None, None).await.unwrap();
    assert_eq!(keys(&listed.kvs), ["/pods/a", "/pods/b", "/pods/c/x"]);
    assert_eq!(listed.revision, 7);
    assert!(!listed.more);
    assert_eq!(listed.kvs[0], kv("/pods/a", "/pods/a", 3, 3));

    let everything = store.list("", None, None, None).await.unwrap();
    assert_eq!(everything.kvs.len(), 7);
    assert!(everything
        .kvs
        .windows(2)
        .all(|pair| pair[0].key < pair[1].key));
}

#[tokio::test]
async fn list_shows_current_values_and_leaves_out_deleted_keys() {
    let store = open_fresh().await;
    create_all(&*store, &["/p/a", "/p/b", "/p/c"]).await;
    store.update("/p/a", b"new".to_vec(), None).await.unwrap();
    store.delete("/p/b", None).await.unwrap();
    let listed = store.list("/p/", None, None, None).await.unwrap();
    assert_eq!(
        listed.kvs,
        [kv("/p/a", "new", 1, 4), kv("/p/c", "/p/c", 3, 3)]
    );
    assert_eq!(listed.revision, 5);
}

#[tokio::test]
async fn paging_with_start_after_and_limit_visits_every_key_once_and_says_when_more_follow() {
    let store = open_fresh().await;
    let all: Vec<String> = (0..25).map(|i| format!("/p/{i:02}")).collect();
    let all_refs: Vec<&str> = all.iter().map(String::as_str).collect();
    create_all(&*store, &all_refs).await;
    store.create("/q/other", b"x".to_vec()).await.unwrap();

    let mut seen = Vec::new();
    let mut start_after: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let page = store
            .list("/p/", start_after.as_deref(), Some(10), None)
            .await
            .unwrap();
        pages.push((page.kvs.len(), page.more));
        seen.extend(page.kvs.iter().map(|kv| kv.key.clone()));
        if !page.more {
            break;
        }
        start_after = page.kvs.last().map(|kv| kv.key.clone());
    }
    assert_eq!(pages, [(10, true), (10, true), (5, false)]);
    assert_eq!(seen, all);

    let exact = store.list("/p/", None, Some(25), None).await.unwrap();
    assert_eq!((exact.kvs.len(), exact.more), (25, false));
    let none = store.list("/p/", None, Some(0), None).await.unwrap();
    assert_eq!((none.kvs.len(), none.more), (0, true));
}

#[tokio::test]
async fn start_after_outside_the_prefix_range_bounds_nothing_or_everything() {
    let store = open_fresh().await;
    create_all(&*store, &["/p/a", "/p/b"]).await;
    let before = store.list("/p/", Some("/a"), None, None).await.unwrap();
    assert_eq!(keys(&before.kvs), ["/p/a", "/p/b"]);
    let after = store.list("/p/", Some("/q"), None, None).await.unwrap();
    assert!(after.kvs.is_empty());
    let between = store.list("/p/", Some("/p/a"), None, None).await.unwrap();
    assert_eq!(keys(&between.kvs), ["/p/b"]);
}

#[tokio::test]
async fn a_list_at_an_older_revision_shows_the_state_of_that_revision() {
    let store = open_fresh().await;
    create_all(&*store, &["/p/changed", "/p/deleted", "/p/same"]).await;
    let snapshot = store.current_revision().await.unwrap();
    store
        .update("/p/changed", b"later".to_vec(), None)
        .await
        .unwrap();
    store.delete("/p/deleted", None).await.unwrap();
    store.create("/p/new", b"later".to_vec()).await.unwrap();
    store.delete("/p/same", None).await.unwrap();
    store
        .create("/p/same", b"recreated".to_vec())
        .await
        .unwrap();

    let then = store.list("/p/", None, None, Some(snapshot)).await.unwrap();
    assert_eq!(then.revision, snapshot);
    assert_eq!(
        then.kvs,
        [
            kv("/p/changed", "/p/changed", 1, 1),
            kv("/p/deleted", "/p/deleted", 2, 2),
            kv("/p/same", "/p/same", 3, 3),
        ]
    );
    let now = store.list("/p/", None, None, None).await.unwrap();
    assert_eq!(
        now.kvs,
        [
            kv("/p/changed", "later", 1, 4),
            kv("/p/new", "later", 6, 6),
            kv("/p/same", "recreated", 8, 8),
        ]
    );
    let at_zero = store.list("/p/", None, None, Some(0)).await.unwrap();
    assert!(at_zero.kvs.is_empty());
}

#[tokio::test]
async fn pages_of_one_list_stay_consistent_while_writes_go_on() {
    let store = open_fresh().await;
    create_all(&*store, &["/p/1", "/p/2", "/p/3", "/p/4"]).await;
    let first = store.list("/p/", None, Some(2), None).await.unwrap();
    store
        .update("/p/3", b"changed".to_vec(), None)
        .await
        .unwrap();
    store.delete("/p/4", None).await.unwrap();
    store.create("/p/5", b"new".to_vec()).await.unwrap();
    let second = store
        .list("/p/", Some("/p/2"), Some(2), Some(first.revision))
        .await
        .unwrap();
    assert_eq!(second.revision, first.revision);
    assert_eq!(
        second.kvs,
        [kv("/p/3", "/p/3", 3, 3), kv("/p/4", "/p/4", 4, 4)]
    );
    assert!(!second.more);
}

#[tokio::test]
async fn a_list_at_a_future_revision_is_refused() {
    let store = open_fresh().await;
    create_all(&*store, &["/p/a"]).await;
    let error = store.list("/p/", None, None, Some(2)).await.unwrap_err();
    assert_eq!(
        error,
        StoreError::FutureRevision {
            requested: 2,
            current: 1
        }
    );
}

#[tokio::test]
async fn count_counts_live_keys_with_the_prefix() {
    let store = open_fresh().await;
    create_all(&*store, &["/p/a", "/p/b", "/p/c", "/pa", "/q/a"]).await;
    store.update("/p/a", b"x".to_vec(), None).await.unwrap();
    store.delete("/p/b", None).await.unwrap();
    assert_eq!(store.count("/p/").await.unwrap(), 2);
    assert_eq!(store.count("/p").await.unwrap(), 3);
    assert_eq!(store.count("").await.unwrap(), 4);
    assert_eq!(store.count("/none/").await.unwrap(), 0);
}

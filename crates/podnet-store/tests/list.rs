//! Lists by prefix, paging, lists at older revisions, counts.

#[macro_use]
mod common;

use common::{create_all, keys, kv, Fresh};
use podnet_store::StoreError;

on_both_backends!(
    list_returns_exactly_the_keys_with_the_prefix_in_ascending_order,
    list_shows_current_values_and_leaves_out_deleted_keys,
    paging_with_start_after_and_limit_visits_every_key_once_and_says_when_more_follow,
    start_after_outside_the_prefix_range_bounds_nothing_or_everything,
    a_list_at_an_older_revision_shows_the_state_of_that_revision,
    pages_of_one_list_stay_consistent_while_writes_go_on,
    a_list_at_a_future_revision_is_refused,
    count_counts_live_keys_with_the_prefix,
);

async fn list_returns_exactly_the_keys_with_the_prefix_in_ascending_order(store: Fresh) {
    let base = store.base;
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
    assert_eq!(listed.revision, base + 7);
    assert!(!listed.more);
    assert_eq!(listed.kvs[0], kv("/pods/a", "/pods/a", base + 3, base + 3));

    let everything = store.list("", None, None, None).await.unwrap();
    assert_eq!(everything.kvs.len(), 7);
    assert!(everything
        .kvs
        .windows(2)
        .all(|pair| pair[0].key < pair[1].key));
}

async fn list_shows_current_values_and_leaves_out_deleted_keys(store: Fresh) {
    let base = store.base;
    create_all(&*store, &["/p/a", "/p/b", "/p/c"]).await;
    store.update("/p/a", b"new".to_vec(), None).await.unwrap();
    store.delete("/p/b", None).await.unwrap();
    let listed = store.list("/p/", None, None, None).await.unwrap();
    assert_eq!(
        listed.kvs,
        [
            kv("/p/a", "new", base + 1, base + 4),
            kv("/p/c", "/p/c", base + 3, base + 3)
        ]
    );
    assert_eq!(listed.revision, base + 5);
}

async fn paging_with_start_after_and_limit_visits_every_key_once_and_says_when_more_follow(
    store: Fresh,
) {
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
    let none_left = store
        .list("/p/", Some("/p/24"), Some(0), None)
        .await
        .unwrap();
    assert_eq!((none_left.kvs.len(), none_left.more), (0, false));
}

async fn start_after_outside_the_prefix_range_bounds_nothing_or_everything(store: Fresh) {
    create_all(&*store, &["/p/a", "/p/b"]).await;
    let before = store.list("/p/", Some("/a"), None, None).await.unwrap();
    assert_eq!(keys(&before.kvs), ["/p/a", "/p/b"]);
    let after = store.list("/p/", Some("/q"), None, None).await.unwrap();
    assert!(after.kvs.is_empty());
    let between = store.list("/p/", Some("/p/a"), None, None).await.unwrap();
    assert_eq!(keys(&between.kvs), ["/p/b"]);
}

async fn a_list_at_an_older_revision_shows_the_state_of_that_revision(store: Fresh) {
    let base = store.base;
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
            kv("/p/changed", "/p/changed", base + 1, base + 1),
            kv("/p/deleted", "/p/deleted", base + 2, base + 2),
            kv("/p/same", "/p/same", base + 3, base + 3),
        ]
    );
    let now = store.list("/p/", None, None, None).await.unwrap();
    assert_eq!(
        now.kvs,
        [
            kv("/p/changed", "later", base + 1, base + 4),
            kv("/p/new", "later", base + 6, base + 6),
            kv("/p/same", "recreated", base + 8, base + 8),
        ]
    );
    // Before the first write the store held nothing (etcd reads revision
    // 0 as "now": the store must not pass it on).
    for before_any_write in [0, base] {
        let empty = store
            .list("/p/", None, None, Some(before_any_write))
            .await
            .unwrap();
        assert!(empty.kvs.is_empty(), "at {before_any_write}");
        assert_eq!(empty.revision, before_any_write);
    }
}

async fn pages_of_one_list_stay_consistent_while_writes_go_on(store: Fresh) {
    let base = store.base;
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
        [
            kv("/p/3", "/p/3", base + 3, base + 3),
            kv("/p/4", "/p/4", base + 4, base + 4)
        ]
    );
    assert!(!second.more);
}

async fn a_list_at_a_future_revision_is_refused(store: Fresh) {
    let base = store.base;
    create_all(&*store, &["/p/a"]).await;
    let error = store
        .list("/p/", None, None, Some(base + 2))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::FutureRevision {
            requested: base + 2,
            current: base + 1
        }
    );
}

async fn count_counts_live_keys_with_the_prefix(store: Fresh) {
    create_all(&*store, &["/p/a", "/p/b", "/p/c", "/pa", "/q/a"]).await;
    store.update("/p/a", b"x".to_vec(), None).await.unwrap();
    store.delete("/p/b", None).await.unwrap();
    assert_eq!(store.count("/p/").await.unwrap(), 2);
    assert_eq!(store.count("/p").await.unwrap(), 3);
    assert_eq!(store.count("").await.unwrap(), 4);
    assert_eq!(store.count("/none/").await.unwrap(), 0);
}

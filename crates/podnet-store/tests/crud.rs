//! create/get/update/delete semantics and the revision counter.

mod common;

use common::{kv, open_fresh};
use podnet_store::{Store, StoreError};

#[tokio::test]
async fn an_empty_store_is_at_revision_zero_with_nothing_compacted() {
    let store = open_fresh().await;
    assert_eq!(store.current_revision().await.unwrap(), 0);
    assert_eq!(store.compacted_revision().await.unwrap(), 0);
    assert_eq!(store.get("/a").await.unwrap(), None);
}

#[tokio::test]
async fn create_stores_the_value_at_the_next_revision_as_both_create_and_mod_revision() {
    let store = open_fresh().await;
    let created = store.create("/a", b"one".to_vec()).await.unwrap();
    assert_eq!(created, kv("/a", "one", 1, 1));
    assert_eq!(store.get("/a").await.unwrap(), Some(created));
    assert_eq!(store.current_revision().await.unwrap(), 1);
}

#[tokio::test]
async fn create_of_a_live_key_is_already_exists_and_takes_no_revision() {
    let store = open_fresh().await;
    store.create("/a", b"one".to_vec()).await.unwrap();
    let error = store.create("/a", b"two".to_vec()).await.unwrap_err();
    assert_eq!(error, StoreError::AlreadyExists { key: "/a".into() });
    assert_eq!(store.current_revision().await.unwrap(), 1);
    assert_eq!(store.get("/a").await.unwrap(), Some(kv("/a", "one", 1, 1)));
}

#[tokio::test]
async fn update_keeps_the_create_revision_and_moves_the_mod_revision() {
    let store = open_fresh().await;
    store.create("/a", b"one".to_vec()).await.unwrap();
    let updated = store.update("/a", b"two".to_vec(), None).await.unwrap();
    assert_eq!(updated, kv("/a", "two", 1, 2));
    assert_eq!(store.get("/a").await.unwrap(), Some(updated));
}

#[tokio::test]
async fn update_with_the_current_mod_revision_succeeds_and_with_a_stale_one_is_conflict() {
    let store = open_fresh().await;
    let created = store.create("/a", b"one".to_vec()).await.unwrap();
    let updated = store
        .update("/a", b"two".to_vec(), Some(created.mod_revision))
        .await
        .unwrap();
    let error = store
        .update("/a", b"three".to_vec(), Some(created.mod_revision))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict {
            key: "/a".into(),
            expected: 1,
            actual: 2
        }
    );
    assert_eq!(store.get("/a").await.unwrap(), Some(updated));
    assert_eq!(store.current_revision().await.unwrap(), 2);
}

#[tokio::test]
async fn update_and_delete_of_a_key_that_never_existed_are_not_found() {
    let store = open_fresh().await;
    let not_found = StoreError::NotFound { key: "/a".into() };
    assert_eq!(
        store.update("/a", b"x".to_vec(), None).await.unwrap_err(),
        not_found
    );
    assert_eq!(
        store
            .update("/a", b"x".to_vec(), Some(1))
            .await
            .unwrap_err(),
        not_found
    );
    assert_eq!(store.delete("/a", None).await.unwrap_err(), not_found);
    assert_eq!(store.current_revision().await.unwrap(), 0);
}

#[tokio::test]
async fn delete_returns_the_last_value_and_the_key_is_gone_afterwards() {
    let store = open_fresh().await;
    store.create("/a", b"one".to_vec()).await.unwrap();
    store.update("/a", b"two".to_vec(), None).await.unwrap();
    let deleted = store.delete("/a", None).await.unwrap();
    assert_eq!(deleted, kv("/a", "two", 1, 2));
    assert_eq!(store.current_revision().await.unwrap(), 3);
    assert_eq!(store.get("/a").await.unwrap(), None);
    let not_found = StoreError::NotFound { key: "/a".into() };
    assert_eq!(store.delete("/a", None).await.unwrap_err(), not_found);
    assert_eq!(
        store.update("/a", b"x".to_vec(), None).await.unwrap_err(),
        not_found
    );
}

#[tokio::test]
async fn delete_with_a_stale_mod_revision_is_conflict_and_deletes_nothing() {
    let store = open_fresh().await;
    store.create("/a", b"one".to_vec()).await.unwrap();
    store.update("/a", b"two".to_vec(), None).await.unwrap();
    let error = store.delete("/a", Some(1)).await.unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict {
            key: "/a".into(),
            expected: 1,
            actual: 2
        }
    );
    assert_eq!(store.get("/a").await.unwrap(), Some(kv("/a", "two", 1, 2)));
    assert_eq!(
        store.delete("/a", Some(2)).await.unwrap(),
        kv("/a", "two", 1, 2)
    );
}

#[tokio::test]
async fn a_deleted_key_can_be_created_again_with_a_new_create_revision() {
    let store = open_fresh().await;
    store.create("/a", b"one".to_vec()).await.unwrap();
    store.delete("/a", None).await.unwrap();
    let again = store.create("/a", b"again".to_vec()).await.unwrap();
    assert_eq!(again, kv("/a", "again", 3, 3));
    assert_eq!(store.get("/a").await.unwrap(), Some(again));
}

#[tokio::test]
async fn revisions_are_strictly_increasing_and_shared_across_keys() {
    let store = open_fresh().await;
    let mut seen = Vec::new();
    for round in 0..5 {
        for key in ["/x", "/y", "/z"] {
            let written = if round == 0 {
                store.create(key, vec![round]).await.unwrap()
            } else {
                store.update(key, vec![round], None).await.unwrap()
            };
            seen.push(written.mod_revision);
        }
    }
    assert_eq!(seen, (1..=15).collect::<Vec<i64>>());
    assert_eq!(store.current_revision().await.unwrap(), 15);
}

#[tokio::test]
async fn values_are_stored_byte_for_byte_and_keys_may_hold_any_unicode() {
    let store = open_fresh().await;
    let value: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let key = "/registry/configmaps/ns/\u{e9}t\u{e9}-\u{1F600}";
    store.create(key, value.clone()).await.unwrap();
    let read = store.get(key).await.unwrap().expect("stored");
    assert_eq!(read.value, value);
    assert_eq!(
        store.create("", b"empty key".to_vec()).await.unwrap().key,
        ""
    );
    assert_eq!(store.get("").await.unwrap().unwrap().value, b"empty key");
}

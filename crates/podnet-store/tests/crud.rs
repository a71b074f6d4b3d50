//! create/get/update/delete semantics and the revision counter.

#[macro_use]
mod common;

use common::{kv, Fresh};
use podnet_store::StoreError;

on_both_backends!(
    a_fresh_store_is_at_its_base_revision_with_nothing_compacted,
    create_stores_the_value_at_the_next_revision_as_both_create_and_mod_revision,
    create_of_a_live_key_is_already_exists_and_takes_no_revision,
    update_keeps_the_create_revision_and_moves_the_mod_revision,
    update_with_the_current_mod_revision_succeeds_and_with_a_stale_one_is_conflict,
    update_and_delete_of_a_key_that_never_existed_are_not_found,
    delete_returns_the_last_value_and_the_key_is_gone_afterwards,
    delete_with_a_stale_mod_revision_is_conflict_and_deletes_nothing,
    a_deleted_key_can_be_created_again_with_a_new_create_revision,
    revisions_are_strictly_increasing_and_shared_across_keys,
    values_are_stored_byte_for_byte_and_keys_may_hold_any_unicode,
);

async fn a_fresh_store_is_at_its_base_revision_with_nothing_compacted(store: Fresh) {
    assert_eq!(store.current_revision().await.unwrap(), store.base);
    assert_eq!(store.compacted_revision().await.unwrap(), 0);
    assert_eq!(store.get("/a").await.unwrap(), None);
}

async fn create_stores_the_value_at_the_next_revision_as_both_create_and_mod_revision(
    store: Fresh,
) {
    let base = store.base;
    let created = store.create("/a", b"one".to_vec()).await.unwrap();
    assert_eq!(created, kv("/a", "one", base + 1, base + 1));
    assert_eq!(store.get("/a").await.unwrap(), Some(created));
    assert_eq!(store.current_revision().await.unwrap(), base + 1);
}

async fn create_of_a_live_key_is_already_exists_and_takes_no_revision(store: Fresh) {
    let base = store.base;
    store.create("/a", b"one".to_vec()).await.unwrap();
    let error = store.create("/a", b"two".to_vec()).await.unwrap_err();
    assert_eq!(error, StoreError::AlreadyExists { key: "/a".into() });
    assert_eq!(store.current_revision().await.unwrap(), base + 1);
    assert_eq!(
        store.get("/a").await.unwrap(),
        Some(kv("/a", "one", base + 1, base + 1))
    );
}

async fn update_keeps_the_create_revision_and_moves_the_mod_revision(store: Fresh) {
    let base = store.base;
    store.create("/a", b"one".to_vec()).await.unwrap();
    let updated = store.update("/a", b"two".to_vec(), None).await.unwrap();
    assert_eq!(updated, kv("/a", "two", base + 1, base + 2));
    assert_eq!(store.get("/a").await.unwrap(), Some(updated));
}

async fn update_with_the_current_mod_revision_succeeds_and_with_a_stale_one_is_conflict(
    store: Fresh,
) {
    let base = store.base;
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
            expected: base + 1,
            actual: base + 2
        }
    );
    assert_eq!(store.get("/a").await.unwrap(), Some(updated));
    assert_eq!(store.current_revision().await.unwrap(), base + 2);
}

async fn update_and_delete_of_a_key_that_never_existed_are_not_found(store: Fresh) {
    let not_found = StoreError::NotFound { key: "/a".into() };
    assert_eq!(
        store.update("/a", b"x".to_vec(), None).await.unwrap_err(),
        not_found
    );
    // Expecting mod revision 0 (what a missing key compares as in etcd)
    // must not create the key.
    for expected in [0, 1] {
        assert_eq!(
            store
                .update("/a", b"x".to_vec(), Some(expected))
                .await
                .unwrap_err(),
            not_found
        );
        assert_eq!(
            store.delete("/a", Some(expected)).await.unwrap_err(),
            not_found
        );
    }
    assert_eq!(store.delete("/a", None).await.unwrap_err(), not_found);
    assert_eq!(store.current_revision().await.unwrap(), store.base);
    assert_eq!(store.get("/a").await.unwrap(), None);
}

async fn delete_returns_the_last_value_and_the_key_is_gone_afterwards(store: Fresh) {
    let base = store.base;
    store.create("/a", b"one".to_vec()).await.unwrap();
    store.update("/a", b"two".to_vec(), None).await.unwrap();
    let deleted = store.delete("/a", None).await.unwrap();
    assert_eq!(deleted, kv("/a", "two", base + 1, base + 2));
    assert_eq!(store.current_revision().await.unwrap(), base + 3);
    assert_eq!(store.get("/a").await.unwrap(), None);
    let not_found = StoreError::NotFound { key: "/a".into() };
    assert_eq!(store.delete("/a", None).await.unwrap_err(), not_found);
    assert_eq!(
        store.update("/a", b"x".to_vec(), None).await.unwrap_err(),
        not_found
    );
}

async fn delete_with_a_stale_mod_revision_is_conflict_and_deletes_nothing(store: Fresh) {
    let base = store.base;
    store.create("/a", b"one".to_vec()).await.unwrap();
    store.update("/a", b"two".to_vec(), None).await.unwrap();
    let error = store.delete("/a", Some(base + 1)).await.unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict {
            key: "/a".into(),
            expected: base + 1,
            actual: base + 2
        }
    );
    assert_eq!(
        store.get("/a").await.unwrap(),
        Some(kv("/a", "two", base + 1, base + 2))
    );
    assert_eq!(
        store.delete("/a", Some(base + 2)).await.unwrap(),
        kv("/a", "two", base + 1, base + 2)
    );
}

async fn a_deleted_key_can_be_created_again_with_a_new_create_revision(store: Fresh) {
    let base = store.base;
    store.create("/a", b"one".to_vec()).await.unwrap();
    store.delete("/a", None).await.unwrap();
    let again = store.create("/a", b"again".to_vec()).await.unwrap();
    assert_eq!(again, kv("/a", "again", base + 3, base + 3));
    assert_eq!(store.get("/a").await.unwrap(), Some(again));
}

async fn revisions_are_strictly_increasing_and_shared_across_keys(store: Fresh) {
    let base = store.base;
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
    assert_eq!(seen, ((base + 1)..=(base + 15)).collect::<Vec<i64>>());
    assert_eq!(store.current_revision().await.unwrap(), base + 15);
}

async fn values_are_stored_byte_for_byte_and_keys_may_hold_any_unicode(store: Fresh) {
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

//! Many concurrent clients: group commit must keep every write and every
//! check correct.

#[macro_use]
mod common;

use std::collections::BTreeSet;

use common::Fresh;
use podnet_store::StoreError;

on_both_backends!(
    sixteen_writers_creating_five_hundred_keys_each_all_succeed_with_unique_revisions,
    concurrent_compare_and_swap_increments_lose_no_update,
    concurrent_creates_of_one_key_let_exactly_one_win,
);

async fn sixteen_writers_creating_five_hundred_keys_each_all_succeed_with_unique_revisions(
    store: Fresh,
) {
    let base = store.base;
    let mut writers = Vec::new();
    for writer in 0..16 {
        let store = store.shared();
        writers.push(tokio::spawn(async move {
            let mut revisions = Vec::with_capacity(500);
            for i in 0..500 {
                let key = format!("/registry/pods/ns{writer}/pod-{i}");
                let created = store.create(&key, vec![7; 200]).await.unwrap();
                assert_eq!(created.create_revision, created.mod_revision);
                revisions.push(created.mod_revision);
            }
            revisions
        }));
    }
    let mut all = BTreeSet::new();
    for writer in writers {
        let revisions = writer.await.unwrap();
        assert!(revisions.windows(2).all(|pair| pair[0] < pair[1]));
        all.extend(revisions);
    }
    assert_eq!(all, ((base + 1)..=(base + 8000)).collect());
    assert_eq!(store.current_revision().await.unwrap(), base + 8000);
    assert_eq!(store.count("/registry/pods/").await.unwrap(), 8000);
    let listed = store
        .list("/registry/pods/", None, None, None)
        .await
        .unwrap();
    assert_eq!(listed.kvs.len(), 8000);
}

async fn concurrent_compare_and_swap_increments_lose_no_update(store: Fresh) {
    store
        .create("/counter", 0u64.to_le_bytes().to_vec())
        .await
        .unwrap();
    let mut clients = Vec::new();
    for _ in 0..16 {
        let store = store.shared();
        clients.push(tokio::spawn(async move {
            let mut conflicts = 0;
            for _ in 0..20 {
                loop {
                    let current = store.get("/counter").await.unwrap().unwrap();
                    let value = u64::from_le_bytes(current.value.try_into().unwrap());
                    let next = (value + 1).to_le_bytes().to_vec();
                    match store
                        .update("/counter", next, Some(current.mod_revision))
                        .await
                    {
                        Ok(_) => break,
                        Err(StoreError::Conflict { .. }) => conflicts += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for client in clients {
        conflicts += client.await.unwrap();
    }
    let counter = store.get("/counter").await.unwrap().unwrap();
    assert_eq!(u64::from_le_bytes(counter.value.try_into().unwrap()), 320);
    // Every successful increment took one revision, every conflict none.
    assert_eq!(counter.mod_revision, store.base + 1 + 320);
    assert!(conflicts > 0, "16 clients on one key never collided");
}

async fn concurrent_creates_of_one_key_let_exactly_one_win(store: Fresh) {
    let mut clients = Vec::new();
    for client in 0..16u8 {
        let store = store.shared();
        clients.push(tokio::spawn(async move {
            store.create("/only", vec![client]).await
        }));
    }
    let mut winners = 0;
    for client in clients {
        match client.await.unwrap() {
            Ok(_) => winners += 1,
            Err(StoreError::AlreadyExists { key }) => assert_eq!(key, "/only"),
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(store.current_revision().await.unwrap(), store.base + 1);
}

//! Concurrent allocation: the flock serialises threads and separate handles.

mod common;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::thread;

use common::{open, validated};
use podnet_ipam::Store;

const WORKERS: usize = 50;

fn assert_distinct(got: Vec<IpAddr>) {
    let distinct: HashSet<IpAddr> = got.iter().copied().collect();
    assert_eq!(distinct.len(), WORKERS, "duplicates in {got:?}");
}

#[test]
fn fifty_threads_sharing_one_store_get_fifty_distinct_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Arc::new(validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#));
    let store = Arc::new(open(dir.path()));
    let handles: Vec<_> = (0..WORKERS)
        .map(|n| {
            let (cfg, store) = (Arc::clone(&cfg), Arc::clone(&store));
            thread::spawn(move || {
                let locked = store.lock().unwrap();
                let got = locked
                    .allocate(&cfg, &format!("c{n}"), "eth0", &[])
                    .unwrap();
                got[0].address.addr()
            })
        })
        .collect();
    let got: Vec<IpAddr> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_distinct(got);
    assert_eq!(store.lock().unwrap().allocations().unwrap().len(), WORKERS);
}

#[test]
fn fifty_threads_with_their_own_store_handles_get_fifty_distinct_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Arc::new(validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00::/64"}]]"#,
    ));
    let data_dir = dir.path().to_path_buf();
    let handles: Vec<_> = (0..WORKERS)
        .map(|n| {
            let (cfg, data_dir) = (Arc::clone(&cfg), data_dir.clone());
            thread::spawn(move || {
                // A separate handle per worker, as separate plugin processes have.
                let store = Store::open(&data_dir, "testnet").unwrap();
                let locked = store.lock().unwrap();
                let got = locked
                    .allocate(&cfg, &format!("c{n}"), "eth0", &[])
                    .unwrap();
                (got[0].address.addr(), got[1].address.addr())
            })
        })
        .collect();
    let got: Vec<(IpAddr, IpAddr)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_distinct(got.iter().map(|g| g.0).collect());
    assert_distinct(got.iter().map(|g| g.1).collect());
}

#[test]
fn concurrent_release_and_allocate_never_hand_out_an_address_twice() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Arc::new(validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10", "rangeEnd": "10.1.0.69"}]]"#,
    ));
    let data_dir = dir.path().to_path_buf();
    let handles: Vec<_> = (0..WORKERS)
        .map(|n| {
            let (cfg, data_dir) = (Arc::clone(&cfg), data_dir.clone());
            thread::spawn(move || {
                let store = Store::open(&data_dir, "testnet").unwrap();
                let id = format!("c{n}");
                for _ in 0..5 {
                    store
                        .lock()
                        .unwrap()
                        .allocate(&cfg, &id, "eth0", &[])
                        .unwrap();
                    store.lock().unwrap().release(&id, "eth0").unwrap();
                }
                store
                    .lock()
                    .unwrap()
                    .allocate(&cfg, &id, "eth0", &[])
                    .unwrap()[0]
                    .address
                    .addr()
            })
        })
        .collect();
    let got: Vec<IpAddr> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_distinct(got);
}

#[test]
fn a_second_lock_waits_until_the_first_is_dropped() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let acquired = Arc::new(AtomicBool::new(false));
    let first = store.lock().unwrap();
    let waiter = {
        let (data_dir, acquired) = (dir.path().to_path_buf(), Arc::clone(&acquired));
        thread::spawn(move || {
            let other = Store::open(&data_dir, "testnet").unwrap();
            let _second = other.lock().unwrap();
            acquired.store(true, Ordering::SeqCst);
        })
    };
    thread::sleep(Duration::from_millis(200));
    assert!(
        !acquired.load(Ordering::SeqCst),
        "second lock taken while the first was held"
    );
    drop(first);
    waiter.join().unwrap();
    assert!(acquired.load(Ordering::SeqCst));
}

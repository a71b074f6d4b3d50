//! Release, GC, listing and STATUS.

mod common;

use std::fs;

use common::{addrs, ip, open, validated};

#[test]
fn release_frees_every_address_of_the_attachment_and_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00::/64"}]]"#,
    );
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    let mine = addrs(&locked.allocate(&cfg, "c1", "eth0", &[]).unwrap());
    let other_if = addrs(&locked.allocate(&cfg, "c1", "net1", &[]).unwrap());
    let other = addrs(&locked.allocate(&cfg, "c2", "eth0", &[]).unwrap());
    let released = locked.release("c1", "eth0").unwrap();
    assert_eq!(released, mine);
    let left: Vec<_> = locked
        .allocations()
        .unwrap()
        .into_iter()
        .map(|a| a.0)
        .collect();
    let mut expected = [other_if, other].concat();
    expected.sort();
    assert_eq!(left, expected);
}

#[test]
fn release_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    locked.allocate(&cfg, "c1", "eth0", &[]).unwrap();
    assert_eq!(locked.release("c1", "eth0").unwrap(), [ip("10.1.0.2")]);
    assert!(locked.release("c1", "eth0").unwrap().is_empty());
    assert!(locked.release("never-seen", "eth0").unwrap().is_empty());
}

#[test]
fn release_also_frees_old_format_files_holding_only_the_container_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fs::write(store.dir().join("10.1.0.7"), "c1").unwrap();
    fs::write(store.dir().join("10.1.0.8"), "c1\n").unwrap();
    fs::write(store.dir().join("10.1.0.9"), "c2").unwrap();
    let locked = store.lock().unwrap();
    assert_eq!(
        locked.release("c1", "eth0").unwrap(),
        [ip("10.1.0.7"), ip("10.1.0.8")]
    );
    assert!(store.dir().join("10.1.0.9").exists());
}

#[test]
fn release_leaves_bookkeeping_files_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    locked.allocate(&cfg, "c1", "eth0", &[]).unwrap();
    locked.release("c1", "eth0").unwrap();
    let mut names: Vec<String> = fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // The owner index of the released attachment is gone too.
    assert_eq!(names, ["last_reserved_ip.0", "lock"]);
}

#[test]
fn allocations_lists_owners_sorted_by_address_with_empty_ifname_for_old_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    fs::write(store.dir().join("10.1.0.100"), "legacy").unwrap();
    let locked = store.lock().unwrap();
    locked.allocate(&cfg, "c1", "eth0", &[]).unwrap();
    assert_eq!(
        locked.allocations().unwrap(),
        [
            (ip("10.1.0.2"), "c1".to_string(), "eth0".to_string()),
            (ip("10.1.0.100"), "legacy".to_string(), String::new()),
        ]
    );
}

#[test]
fn gc_frees_everything_not_in_the_valid_attachments() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    locked.allocate(&cfg, "keep", "eth0", &[]).unwrap(); // .2
    locked.allocate(&cfg, "keep", "net1", &[]).unwrap(); // .3
    locked.allocate(&cfg, "gone", "eth0", &[]).unwrap(); // .4
    let freed = locked
        .gc(&[("keep".to_string(), "eth0".to_string())])
        .unwrap();
    assert_eq!(freed, [ip("10.1.0.3"), ip("10.1.0.4")]);
    assert_eq!(
        locked.allocations().unwrap(),
        [(ip("10.1.0.2"), "keep".to_string(), "eth0".to_string())]
    );
    // The kept attachment still retries idempotently (its owner index survived).
    let again = locked.allocate(&cfg, "keep", "eth0", &[]).unwrap();
    assert_eq!(addrs(&again), [ip("10.1.0.2")]);
}

#[test]
fn gc_with_no_valid_attachments_frees_all_and_keeps_bookkeeping() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    locked.allocate(&cfg, "a", "eth0", &[]).unwrap();
    locked.allocate(&cfg, "b", "eth0", &[]).unwrap();
    assert_eq!(locked.gc(&[]).unwrap(), [ip("10.1.0.2"), ip("10.1.0.3")]);
    let mut names: Vec<String> = fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["last_reserved_ip.0", "lock"]);
}

#[test]
fn gc_keeps_old_format_files_of_a_valid_container_and_frees_stale_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fs::write(store.dir().join("10.1.0.7"), "legacy-live").unwrap();
    fs::write(store.dir().join("10.1.0.8"), "legacy-dead").unwrap();
    let locked = store.lock().unwrap();
    let freed = locked
        .gc(&[("legacy-live".to_string(), "eth0".to_string())])
        .unwrap();
    assert_eq!(freed, [ip("10.1.0.8")]);
    assert!(store.dir().join("10.1.0.7").exists());
}

#[test]
fn gc_removes_a_crash_leftover_scratch_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    fs::write(store.dir().join(".podnet-tmp"), "half").unwrap();
    store.lock().unwrap().gc(&[]).unwrap();
    assert!(!store.dir().join(".podnet-tmp").exists());
}

#[test]
fn has_free_turns_false_when_any_set_is_full_and_back_after_release() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00::/126"}]]"#,
    );
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    assert!(locked.has_free(&cfg).unwrap());
    locked.allocate(&cfg, "a", "eth0", &[]).unwrap();
    assert!(locked.has_free(&cfg).unwrap());
    locked.allocate(&cfg, "b", "eth0", &[]).unwrap();
    assert!(!locked.has_free(&cfg).unwrap());
    locked.release("a", "eth0").unwrap();
    assert!(locked.has_free(&cfg).unwrap());
}

#[test]
fn has_free_ignores_files_outside_the_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/30"}]]"#);
    let store = open(dir.path());
    // Files of addresses that cannot be handed out (another config's, the gateway's).
    fs::write(store.dir().join("10.9.0.2"), "x\r\neth0").unwrap();
    fs::write(store.dir().join("10.1.0.1"), "x\r\neth0").unwrap();
    assert!(store.lock().unwrap().has_free(&cfg).unwrap());
    fs::write(store.dir().join("10.1.0.2"), "x\r\neth0").unwrap();
    assert!(!store.lock().unwrap().has_free(&cfg).unwrap());
}

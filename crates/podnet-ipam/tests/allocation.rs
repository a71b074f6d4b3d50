//! Allocation: defaults, round-robin, requested addresses, idempotence,
//! dual-stack, exhaustion and rollback.

mod common;

use std::fs;

use common::{addrs, ip, open, validated};
use podnet_ipam::IpamError;

#[test]
fn the_first_allocation_skips_network_and_gateway_and_carries_prefix_and_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    let got = store
        .lock()
        .unwrap()
        .allocate(&cfg, "c1", "eth0", &[])
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].range_set, 0);
    assert_eq!(got[0].address, "10.1.0.2/24".parse().unwrap());
    assert_eq!(got[0].gateway, Some(ip("10.1.0.1")));
}

#[test]
fn a_slash_30_holds_one_address_then_reports_exhaustion() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/30"}]]"#);
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    assert_eq!(
        addrs(&locked.allocate(&cfg, "c1", "eth0", &[]).unwrap()),
        [ip("10.1.0.2")]
    );
    let err = locked.allocate(&cfg, "c2", "eth0", &[]).unwrap_err();
    assert!(
        matches!(err, IpamError::Exhausted { range_set: 0, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "no IP addresses available in range set 0 (10.1.0.1-10.1.0.2)"
    );
    // Nothing was written for the failed attachment.
    assert_eq!(locked.allocations().unwrap().len(), 1);
}

#[test]
fn a_released_address_is_not_reused_until_the_range_wraps() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10", "rangeEnd": "10.1.0.13"}]]"#,
    );
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    let first = addrs(&locked.allocate(&cfg, "c1", "eth0", &[]).unwrap());
    assert_eq!(first, [ip("10.1.0.10")]);
    assert_eq!(locked.release("c1", "eth0").unwrap(), [ip("10.1.0.10")]);
    let mut order = Vec::new();
    for n in 2..=5 {
        order.extend(addrs(
            &locked
                .allocate(&cfg, &format!("c{n}"), "eth0", &[])
                .unwrap(),
        ));
    }
    assert_eq!(
        order,
        ["10.1.0.11", "10.1.0.12", "10.1.0.13", "10.1.0.10"].map(ip)
    );
}

#[test]
fn round_robin_walks_across_the_ranges_of_a_set_and_wraps_to_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10", "rangeEnd": "10.1.0.11"},
             {"subnet": "10.2.0.0/24", "rangeStart": "10.2.0.20", "rangeEnd": "10.2.0.21"}]]"#,
    );
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    let mut order = Vec::new();
    for n in 0..4 {
        let got = locked
            .allocate(&cfg, &format!("c{n}"), "eth0", &[])
            .unwrap();
        order.push(got[0].address);
    }
    assert_eq!(
        order,
        [
            "10.1.0.10/24",
            "10.1.0.11/24",
            "10.2.0.20/24",
            "10.2.0.21/24"
        ]
        .map(|s| s.parse().unwrap())
    );
    locked.release("c0", "eth0").unwrap();
    let got = locked.allocate(&cfg, "c4", "eth0", &[]).unwrap();
    assert_eq!(got[0].address, "10.1.0.10/24".parse().unwrap());
    assert_eq!(got[0].gateway, Some(ip("10.1.0.1")));
}

#[test]
fn the_gateway_is_never_handed_out_even_mid_range() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10", "rangeEnd": "10.1.0.12", "gateway": "10.1.0.11"}]]"#,
    );
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    let a = addrs(&locked.allocate(&cfg, "a", "eth0", &[]).unwrap());
    let b = addrs(&locked.allocate(&cfg, "b", "eth0", &[]).unwrap());
    assert_eq!([a[0], b[0]], [ip("10.1.0.10"), ip("10.1.0.12")]);
    assert!(matches!(
        locked.allocate(&cfg, "c", "eth0", &[]),
        Err(IpamError::Exhausted { .. })
    ));
}

#[test]
fn a_range_ending_at_the_broadcast_address_never_hands_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/30", "rangeStart": "10.1.0.0", "rangeEnd": "10.1.0.3"}]]"#,
    );
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    assert_eq!(
        addrs(&locked.allocate(&cfg, "a", "eth0", &[]).unwrap()),
        [ip("10.1.0.2")]
    );
    assert!(matches!(
        locked.allocate(&cfg, "b", "eth0", &[]),
        Err(IpamError::Exhausted { .. })
    ));
}

#[test]
fn a_requested_address_inside_the_range_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    let got = locked
        .allocate(&cfg, "c1", "eth0", &[Some(ip("10.1.0.77"))])
        .unwrap();
    assert_eq!(got[0].address, "10.1.0.77/24".parse().unwrap());
    // As host-local: the pinned address also moves the round-robin.
    let next = locked.allocate(&cfg, "c2", "eth0", &[None]).unwrap();
    assert_eq!(next[0].address.addr(), ip("10.1.0.78"));
}

#[test]
fn a_requested_address_outside_the_ranges_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10", "rangeEnd": "10.1.0.20"}]]"#,
    );
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    let err = locked
        .allocate(&cfg, "c1", "eth0", &[Some(ip("10.1.0.30"))])
        .unwrap_err();
    assert!(
        matches!(err, IpamError::RequestedOutsideRanges { range_set: 0, ip: i, .. } if i == ip("10.1.0.30")),
        "{err}"
    );
    assert!(err.to_string().contains("10.1.0.30"), "{err}");
    let err = locked
        .allocate(&cfg, "c1", "eth0", &[Some(ip("fd00::5"))])
        .unwrap_err();
    assert!(
        matches!(err, IpamError::RequestedOutsideRanges { .. }),
        "{err}"
    );
    assert!(locked.allocations().unwrap().is_empty());
}

#[test]
fn a_requested_gateway_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    let err = locked
        .allocate(&cfg, "c1", "eth0", &[Some(ip("10.1.0.1"))])
        .unwrap_err();
    assert!(
        matches!(err, IpamError::RequestedReserved { range_set: 0, .. }),
        "{err}"
    );
}

#[test]
fn a_requested_address_held_by_another_attachment_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    locked
        .allocate(&cfg, "owner", "eth0", &[Some(ip("10.1.0.9"))])
        .unwrap();
    let err = locked
        .allocate(&cfg, "thief", "eth0", &[Some(ip("10.1.0.9"))])
        .unwrap_err();
    match &err {
        IpamError::RequestedTaken {
            range_set,
            ip: taken,
            container_id,
            ifname,
        } => {
            assert_eq!(*range_set, 0);
            assert_eq!(*taken, ip("10.1.0.9"));
            assert_eq!(container_id, "owner");
            assert_eq!(ifname, "eth0");
        }
        other => panic!("unexpected error {other}"),
    }
    // Another interface of the same container is another attachment.
    assert!(matches!(
        locked.allocate(&cfg, "owner", "net1", &[Some(ip("10.1.0.9"))]),
        Err(IpamError::RequestedTaken { .. })
    ));
}

#[test]
fn a_retry_for_the_same_attachment_returns_the_same_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00:1::/64"}]]"#,
    );
    let store = open(dir.path());
    let first = store
        .lock()
        .unwrap()
        .allocate(&cfg, "c1", "eth0", &[])
        .unwrap();
    let again = store
        .lock()
        .unwrap()
        .allocate(&cfg, "c1", "eth0", &[])
        .unwrap();
    assert_eq!(first, again);
    // A requested address equal to the held one is also a retry.
    let pinned = store
        .lock()
        .unwrap()
        .allocate(&cfg, "c1", "eth0", &[Some(first[0].address.addr())])
        .unwrap();
    assert_eq!(pinned, first);
    assert_eq!(store.lock().unwrap().allocations().unwrap().len(), 2);
    // Another interface of the same container gets its own addresses.
    let other = store
        .lock()
        .unwrap()
        .allocate(&cfg, "c1", "net1", &[])
        .unwrap();
    assert_ne!(addrs(&other), addrs(&first));
}

#[test]
fn a_retry_requesting_a_different_address_than_the_held_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    locked.allocate(&cfg, "c1", "eth0", &[]).unwrap();
    let err = locked
        .allocate(&cfg, "c1", "eth0", &[Some(ip("10.1.0.50"))])
        .unwrap_err();
    assert!(
        matches!(err, IpamError::HeldDifferentAddress { held, requested, .. }
            if held == ip("10.1.0.2") && requested == ip("10.1.0.50")),
        "{err}"
    );
}

#[test]
fn a_held_address_found_without_the_owner_index_is_still_returned_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    // As host-local (or a crash before the index was written) leaves it.
    fs::write(store.dir().join("10.1.0.40"), "c1\r\neth0").unwrap();
    let got = store
        .lock()
        .unwrap()
        .allocate(&cfg, "c1", "eth0", &[Some(ip("10.1.0.40"))])
        .unwrap();
    assert_eq!(addrs(&got), [ip("10.1.0.40")]);
}

#[test]
fn a_stale_owner_index_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    store
        .lock()
        .unwrap()
        .allocate(&cfg, "c1", "eth0", &[])
        .unwrap();
    // host-local releases by deleting the address file only; the address then goes to someone else.
    fs::remove_file(store.dir().join("10.1.0.2")).unwrap();
    fs::write(store.dir().join("10.1.0.2"), "other\r\neth0").unwrap();
    let got = store
        .lock()
        .unwrap()
        .allocate(&cfg, "c1", "eth0", &[])
        .unwrap();
    assert_eq!(addrs(&got), [ip("10.1.0.3")]);
}

#[test]
fn dual_stack_gives_one_address_per_family() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.244.1.0/24"}], [{"subnet": "fd00:10:244:1::/64"}]]"#,
    );
    let store = open(dir.path());
    let got = store
        .lock()
        .unwrap()
        .allocate(&cfg, "pod", "eth0", &[])
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].range_set, 0);
    assert_eq!(got[0].address, "10.244.1.2/24".parse().unwrap());
    assert_eq!(got[0].gateway, Some(ip("10.244.1.1")));
    assert_eq!(got[1].range_set, 1);
    assert_eq!(got[1].address, "fd00:10:244:1::2/64".parse().unwrap());
    assert_eq!(got[1].gateway, Some(ip("fd00:10:244:1::1")));
    let pinned = store
        .lock()
        .unwrap()
        .allocate(
            &cfg,
            "pod2",
            "eth0",
            &[None, Some(ip("fd00:10:244:1::abcd"))],
        )
        .unwrap();
    assert_eq!(pinned[0].address.addr(), ip("10.244.1.3"));
    assert_eq!(pinned[1].address.addr(), ip("fd00:10:244:1::abcd"));
}

#[test]
fn a_failure_in_a_later_set_releases_what_earlier_sets_took() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00::/126"}]]"#,
    );
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    // fd00::/126 has two allocatable addresses (::2, ::3).
    locked.allocate(&cfg, "a", "eth0", &[]).unwrap();
    locked.allocate(&cfg, "b", "eth0", &[]).unwrap();
    let before = locked.allocations().unwrap();
    let err = locked.allocate(&cfg, "c", "eth0", &[]).unwrap_err();
    assert!(
        matches!(err, IpamError::Exhausted { range_set: 1, .. }),
        "{err}"
    );
    assert_eq!(locked.allocations().unwrap(), before);
    assert!(!store.dir().join("10.1.0.4").exists());
}

#[test]
fn a_refused_request_in_a_later_set_also_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00::/64"}]]"#,
    );
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    let err = locked
        .allocate(&cfg, "c", "eth0", &[None, Some(ip("fd01::1"))])
        .unwrap_err();
    assert!(
        matches!(err, IpamError::RequestedOutsideRanges { range_set: 1, .. }),
        "{err}"
    );
    assert!(locked.allocations().unwrap().is_empty());
}

#[test]
fn more_requests_than_range_sets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    let err = store
        .lock()
        .unwrap()
        .allocate(&cfg, "c", "eth0", &[None, None])
        .unwrap_err();
    assert!(matches!(
        err,
        IpamError::TooManyRequested {
            requested: 2,
            range_sets: 1
        }
    ));
}

#[test]
fn attachments_that_cannot_be_recorded_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    assert!(matches!(
        locked.allocate(&cfg, " ", "eth0", &[]),
        Err(IpamError::InvalidContainerId { .. })
    ));
    assert!(matches!(
        locked.allocate(&cfg, "c", "", &[]),
        Err(IpamError::InvalidIfname { .. })
    ));
    assert!(matches!(
        locked.allocate(&cfg, "c\r\nx", "eth0", &[]),
        Err(IpamError::InvalidContainerId { .. })
    ));
}

#[test]
fn a_long_run_of_taken_addresses_is_skipped_and_a_full_set_reports_exhaustion() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    // Taken behind podnet's back, as host-local or a restore would leave them.
    for host in 2..=200 {
        fs::write(store.dir().join(format!("10.1.0.{host}")), "other\r\neth0").unwrap();
    }
    let locked = store.lock().unwrap();
    let got = locked.allocate(&cfg, "c", "eth0", &[]).unwrap();
    assert_eq!(addrs(&got), [ip("10.1.0.201")]);
    for host in 202..=254 {
        fs::write(store.dir().join(format!("10.1.0.{host}")), "other\r\neth0").unwrap();
    }
    assert!(matches!(
        locked.allocate(&cfg, "d", "eth0", &[]),
        Err(IpamError::Exhausted { .. })
    ));
}

#[test]
fn a_large_ipv6_range_allocates_across_a_64_bit_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "fd00::/48"}]]"#);
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    let a = locked.allocate(&cfg, "a", "eth0", &[Some(ip("fd00::ffff:ffff:ffff:fffe"))]);
    assert!(a.is_ok());
    let b = locked.allocate(&cfg, "b", "eth0", &[]).unwrap();
    assert_eq!(addrs(&b), [ip("fd00::ffff:ffff:ffff:ffff")]);
    let c = locked.allocate(&cfg, "c", "eth0", &[]).unwrap();
    assert_eq!(addrs(&c), [ip("fd00::1:0:0:0:0")]);
}

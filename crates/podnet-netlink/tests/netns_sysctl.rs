//! Root tests for named namespaces, `NetNs::run` and sysctls.

mod common;

use std::path::Path;

use common::TestNs;
use podnet_netlink::{sysctl, Error, Handle, NetNs, NETNS_RUN_DIR};

#[test]
fn named_namespace_lifecycle() {
    require_root!();
    let name = format!("pnt-{}-life", std::process::id());
    // Guard so a failing assertion still removes the namespace.
    struct Cleanup<'a>(&'a str);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            if let Err(e) = NetNs::delete_named(self.0) {
                eprintln!("cleanup: could not delete netns {}: {e}", self.0);
            }
        }
    }
    let _cleanup = Cleanup(&name);

    let created = NetNs::create_named(&name).unwrap();
    let path = Path::new(NETNS_RUN_DIR).join(&name);
    assert_eq!(created.path(), Some(path.as_path()));
    let duplicate = NetNs::create_named(&name);
    assert!(
        duplicate.as_ref().is_err_and(Error::is_exists),
        "{duplicate:?}"
    );

    let reopened = NetNs::open(&path).unwrap();
    assert!(reopened.same_as(&created).unwrap());
    let own = NetNs::current().unwrap();
    assert!(
        !own.same_as(&created).unwrap(),
        "a new namespace is not ours"
    );

    // Visible to iproute2 as well.
    if let Some(text) = common::TestNs::list_with_ip() {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(name.as_str())),
            "{text}"
        );
    }

    NetNs::delete_named(&name).unwrap();
    assert!(!path.exists());
    NetNs::delete_named(&name).unwrap();
    let gone = NetNs::open(&path);
    assert!(gone.as_ref().is_err_and(Error::is_not_found), "{gone:?}");
    // The handle opened before deletion still pins the namespace.
    let links = Handle::in_netns(&created).unwrap().links().unwrap();
    assert_eq!(
        links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        vec!["lo"]
    );
}

#[test]
fn invalid_namespace_names_are_rejected_before_touching_the_filesystem() {
    require_root!();
    for bad in ["", "..", "a/b"] {
        let err = NetNs::create_named(bad).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{bad:?}: {err:?}");
        let err = NetNs::delete_named(bad).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{bad:?}: {err:?}");
    }
}

#[test]
fn run_enters_the_namespace_on_a_helper_thread_only() {
    require_root!();
    let node = TestNs::new("run");
    let before = NetNs::current().unwrap();
    let inside = node.ns.run(|| NetNs::current().unwrap()).unwrap();
    assert!(inside.same_as(&node.ns).unwrap());
    let after = NetNs::current().unwrap();
    assert!(
        after.same_as(&before).unwrap(),
        "the caller's thread did not move"
    );
    assert!(!after.same_as(&node.ns).unwrap());
}

#[test]
fn run_resumes_a_panic_on_the_caller() {
    require_root!();
    let node = TestNs::new("panic");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        node.ns.run(|| panic!("boom inside the namespace")).unwrap();
    }));
    let payload = caught.expect_err("the panic must reach the caller");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"boom inside the namespace")
    );
}

#[test]
fn sysctl_set_inside_a_namespace_leaves_the_host_alone() {
    require_root!();
    let node = TestNs::new("sysctl");
    let host_before = sysctl::get("net.ipv4.ip_forward").unwrap();
    let wanted = if host_before == "1" { "0" } else { "1" };

    let inside = node
        .ns
        .run(|| {
            sysctl::set("net.ipv4.ip_forward", wanted)?;
            sysctl::get("net/ipv4/ip_forward")
        })
        .unwrap()
        .unwrap();
    assert_eq!(inside, wanted);
    assert_eq!(
        sysctl::get("net.ipv4.ip_forward").unwrap(),
        host_before,
        "host value unchanged"
    );

    // Per-interface keys of links that only exist inside resolve there; the
    // name carries the pid so the host cannot have a link of that name.
    let inner = format!("pnt{}", std::process::id() % 1_000_000);
    let key = format!("net.ipv4.conf.{inner}.rp_filter");
    let mut nl = node.handle();
    common::up_veth_pair(&mut nl, &inner, "peer0");
    let value = node
        .ns
        .run(|| {
            sysctl::set(&key, "2")?;
            sysctl::get(&key)
        })
        .unwrap()
        .unwrap();
    assert_eq!(value, "2");
    let outside = sysctl::get(&key);
    assert!(
        outside.as_ref().is_err_and(Error::is_not_found),
        "{outside:?}"
    );

    let missing = node
        .ns
        .run(|| sysctl::set("net.ipv4.no_such_key", "1"))
        .unwrap();
    assert!(
        missing.as_ref().is_err_and(Error::is_not_found),
        "{missing:?}"
    );
}

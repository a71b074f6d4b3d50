//! Shared fixtures for the root tests: throwaway named namespaces that are
//! removed on drop, also when an assertion fails.

#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use podnet_netlink::{Handle, NetNs, VethSpec};

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Skips the calling test with a printed reason when not root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !common::is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

/// A named namespace `pnt-<pid>-<n>-<tag>`, deleted when dropped.
pub struct TestNs {
    pub name: String,
    pub ns: NetNs,
}

impl TestNs {
    pub fn new(tag: &str) -> TestNs {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "pnt-{}-{}-{tag}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let ns = NetNs::create_named(&name).unwrap_or_else(|e| panic!("create netns {name}: {e}"));
        TestNs { name, ns }
    }

    pub fn handle(&self) -> Handle {
        Handle::in_netns(&self.ns).unwrap_or_else(|e| panic!("handle in {}: {e}", self.name))
    }

    /// Runs a command inside the namespace (like `ip netns exec`) and returns
    /// its stdout, or `None` when the tool is not installed.
    pub fn exec(&self, program: &str, args: &[&str]) -> Option<String> {
        let output = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .ok()?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if stderr.contains("No such file") || stderr.contains("not found") {
                return None;
            }
            panic!("{program} {args:?} in {} failed: {stderr}", self.name);
        }
        Some(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl TestNs {
    /// `ip netns list` output, or `None` without iproute2.
    pub fn list_with_ip() -> Option<String> {
        let output = Command::new("ip").args(["netns", "list"]).output().ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        if let Err(e) = NetNs::delete_named(&self.name) {
            eprintln!("cleanup: could not delete netns {}: {e}", self.name);
        }
    }
}

/// A veth pair inside `ns`, both ends up, so it has carrier. Returns the
/// indexes of (`name`, `peer`).
pub fn up_veth_pair(handle: &mut Handle, name: &str, peer: &str) -> (u32, u32) {
    handle
        .add_veth(&VethSpec {
            name,
            mtu: None,
            mac: None,
            peer_name: peer,
            peer_mac: None,
            peer_netns: None,
        })
        .unwrap();
    let first = handle
        .link_by_name(name)
        .unwrap()
        .expect("veth end exists")
        .index;
    let second = handle
        .link_by_name(peer)
        .unwrap()
        .expect("veth peer exists")
        .index;
    handle.set_up(first).unwrap();
    handle.set_up(second).unwrap();
    (first, second)
}

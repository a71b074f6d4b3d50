//! Throwaway network namespaces for the root tests (`pproxy-<pid>-<n>`), deleted on
//! drop, also on failure.
#![allow(dead_code)] // each test file uses its own part

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use podnet_nft::{Family, NftCli};
use podnet_proxy::TABLE;

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Netns {
        let name = format!(
            "pproxy-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("ip netns add");
        assert!(status.success(), "ip netns add {name}");
        Netns { name }
    }

    pub fn nft(&self) -> NftCli {
        NftCli::in_netns_named(&self.name).stateless_listing(true)
    }

    /// The table listing with lines sorted: element and object order do not count.
    pub fn listing(&self) -> Option<Vec<String>> {
        use podnet_nft::Backend;
        let text = self.nft().list_table(Family::Inet, TABLE).expect("list")?;
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| l.trim().trim_end_matches(',').to_string())
            .collect();
        lines.sort();
        Some(lines)
    }

    /// Runs `f` on a thread that entered the namespace, so that netlink batches and
    /// nft started from it act there.
    pub fn run_inside<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = File::open(format!("/var/run/netns/{}", self.name)).expect("open netns");
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: setns on a descriptor we hold, for this thread only.
                    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                    assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
                    f()
                })
                .join()
                .expect("thread in the namespace")
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped: needs root");
    }
    root
}

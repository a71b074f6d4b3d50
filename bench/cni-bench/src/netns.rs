//! Throwaway named network namespaces, and moving the calling thread into one.
//!
//! The bench runs every plugin inside a node namespace it created: the thread that
//! spawns plugins joins that namespace, and children inherit the namespace of the
//! thread that forked them.

use crate::error::BenchError;
use podnet_netlink::NetNs;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A named namespace (as `ip netns add` makes them), deleted on drop.
pub struct NamedNetns {
    name: String,
}

impl NamedNetns {
    pub fn create(name: String) -> Result<NamedNetns, BenchError> {
        NetNs::create_named(&name).map_err(|e| BenchError::Command {
            command: format!("creating network namespace {name}"),
            detail: e.to_string(),
        })?;
        Ok(NamedNetns { name })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// What a runtime passes as `CNI_NETNS`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(podnet_netlink::NETNS_RUN_DIR).join(&self.name)
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        if let Err(e) = NetNs::delete_named(&self.name) {
            eprintln!("cleanup: deleting network namespace {}: {e}", self.name);
        }
    }
}

/// Runs `ip ARGS`, turning a failure into an error that quotes its stderr.
pub fn run_ip(args: &[&str]) -> Result<(), BenchError> {
    let command = format!("ip {}", args.join(" "));
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BenchError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(BenchError::Command {
            command,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// The calling thread's stay in another network namespace; dropping it returns the
/// thread to the namespace it came from.
pub struct Entered {
    original: File,
    name: String,
}

/// Moves the calling thread into `netns` until the returned guard drops.
pub fn enter(netns: &NamedNetns) -> Result<Entered, BenchError> {
    let setns_error = |source| BenchError::Setns {
        namespace: netns.name().to_string(),
        source,
    };
    let original = File::open("/proc/thread-self/ns/net").map_err(setns_error)?;
    let target = File::open(netns.path()).map_err(setns_error)?;
    setns(&target).map_err(setns_error)?;
    Ok(Entered {
        original,
        name: netns.name().to_string(),
    })
}

fn setns(netns: &File) -> std::io::Result<()> {
    // SAFETY: setns on an open namespace descriptor affects only the calling thread.
    if unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Drop for Entered {
    fn drop(&mut self) {
        if let Err(e) = setns(&self.original) {
            eprintln!("cleanup: leaving network namespace {}: {e}", self.name);
        }
    }
}

//! Throwaway named network namespaces, and threads that work inside one.
//!
//! A thread that has joined a namespace with setns keeps it for its whole life, and the
//! processes it spawns (`nft`, `iptables-restore`) start in it: that is how both rule
//! sets are loaded into the bench's own namespaces and never into the host's.

use crate::error::BenchError;
use podnet_netlink::{NetNs, NETNS_RUN_DIR};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;

/// Names of the namespaces that exist right now, for the panic hook: the release
/// profile aborts on panic, so no destructor would remove them.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Deletes every namespace still registered. Called from the panic hook.
pub fn delete_all_live() {
    let names = match LIVE.lock() {
        Ok(mut live) => std::mem::take(&mut *live),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    for name in names {
        if let Err(e) = NetNs::delete_named(&name) {
            eprintln!("cleanup: deleting network namespace {name}: {e}");
        }
    }
}

/// Makes a panic anywhere remove the bench's namespaces before the process ends.
pub fn delete_on_panic() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        delete_all_live();
    }));
}

/// A named namespace (as `ip netns add` makes them) with `lo` up, deleted on drop.
pub struct NamedNetns {
    name: String,
    handle: NetNs,
}

impl NamedNetns {
    pub fn create(name: String) -> Result<NamedNetns, BenchError> {
        let netns_error = |detail: String| BenchError::Netns {
            namespace: name.clone(),
            detail,
        };
        let handle =
            NetNs::create_named(&name).map_err(|e| netns_error(format!("creating: {e}")))?;
        LIVE.lock()
            .map_err(|_| netns_error("namespace registry poisoned".into()))?
            .push(name.clone());
        let netns = NamedNetns { name, handle };
        run_ip(&["-n", netns.name(), "link", "set", "lo", "up"])?;
        Ok(netns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(NETNS_RUN_DIR).join(&self.name)
    }

    /// Writes a sysctl under /proc/sys/net of this namespace.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), BenchError> {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        run_in(self, "sysctl", move || {
            std::fs::write(&path, value).map_err(|e| BenchError::Netns {
                namespace: self.name.clone(),
                detail: format!("writing {path}: {e}"),
            })
        })?
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        if let Err(e) = NetNs::delete_named(&self.name) {
            eprintln!("cleanup: deleting network namespace {}: {e}", self.name);
        }
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|name| name != &self.name);
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

fn open(netns: &NamedNetns) -> Result<File, BenchError> {
    File::open(netns.path()).map_err(|e| BenchError::Netns {
        namespace: netns.name().to_string(),
        detail: format!("opening: {e}"),
    })
}

fn enter(file: &File, name: &str) -> Result<(), BenchError> {
    // SAFETY: setns on an open namespace descriptor affects only the calling thread.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(BenchError::Netns {
            namespace: name.to_string(),
            detail: format!("setns: {}", std::io::Error::last_os_error()),
        });
    }
    Ok(())
}

/// Runs `f` on a fresh thread inside `netns` and waits for it.
pub fn run_in<T: Send>(
    netns: &NamedNetns,
    what: &str,
    f: impl FnOnce() -> T + Send,
) -> Result<T, BenchError> {
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| netns.handle.run(f)));
    match ran {
        Ok(result) => result.map_err(|e| BenchError::Netns {
            namespace: netns.name().to_string(),
            detail: e.to_string(),
        }),
        Err(_) => Err(BenchError::ThreadPanicked {
            what: what.to_string(),
        }),
    }
}

/// Starts `f` on a thread inside `netns` that outlives this call (a server).
pub fn spawn_in<T: Send + 'static>(
    netns: &NamedNetns,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<Result<T, BenchError>>, BenchError> {
    let file = open(netns)?;
    let name = netns.name().to_string();
    Ok(std::thread::spawn(move || {
        enter(&file, &name)?;
        drop(file);
        Ok(f())
    }))
}

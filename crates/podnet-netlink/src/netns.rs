//! Network namespace handles: open, create and delete named namespaces, and
//! run code inside one without moving the caller's thread.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread;

use crate::error::{Error, Result};

/// Where `ip netns` keeps named namespaces; shared with iproute2 on purpose so
/// `ip netns exec` works on namespaces created here and vice versa.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// `_IO(NSIO, 0x3)` from `linux/nsfs.h`: asks an nsfs file for its type.
const NS_GET_NSTYPE: libc::c_ulong = (0xb7 << 8) | 0x3;

/// An open handle on a network namespace file (`/proc/<pid>/ns/net`, a
/// `/run/netns/NAME` bind mount, or any other bind mount of one). Holding it
/// keeps the namespace alive.
#[derive(Debug)]
pub struct NetNs {
    file: File,
    path: Option<PathBuf>,
}

impl NetNs {
    /// Opens a namespace file. A missing path is [`Error::NotFound`]; a file
    /// that is not a network namespace (for instance a `/run/netns` entry whose
    /// bind mount is gone) is [`Error::NetNs`].
    pub fn open(path: impl AsRef<Path>) -> Result<NetNs> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                Error::NotFound {
                    what: format!("network namespace {}", path.display()),
                }
            } else {
                Error::NetNs {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        check_is_netns(&file).map_err(|source| Error::NetNs {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(NetNs {
            file,
            path: Some(path.to_path_buf()),
        })
    }

    /// The namespace of the calling thread (not of the process: a thread
    /// inside [`NetNs::run`] gets the namespace it entered).
    pub fn current() -> Result<NetNs> {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        NetNs::open(format!("/proc/{}/task/{tid}/ns/net", std::process::id()))
    }

    /// The path this handle was opened from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The namespace file descriptor, e.g. for [`crate::VethSpec::peer_netns`]
    /// or [`crate::Handle::set_netns`].
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Creates a persistent named namespace like `ip netns add NAME`:
    /// `/run/netns/NAME` becomes a bind mount of a fresh namespace, with
    /// `/run/netns` made a shared mount point as iproute2 does, so the mount
    /// propagates to other mount namespaces. An existing name is
    /// [`Error::Exists`].
    pub fn create_named(name: &str) -> Result<NetNs> {
        check_netns_name(name)?;
        let dir = Path::new(NETNS_RUN_DIR);
        fs::create_dir_all(dir)
            .map_err(|source| Error::io(format!("create {}", dir.display()), source))?;
        make_shared_mount_point(dir)?;

        let path = dir.join(name);
        // O_EXCL on the mount target is what makes concurrent creates of one
        // name safe: exactly one of them gets the file.
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o000)
            .open(&path)
            .map_err(|source| {
                if source.kind() == io::ErrorKind::AlreadyExists {
                    Error::Exists {
                        what: format!("network namespace {name}"),
                    }
                } else {
                    Error::NetNs {
                        path: path.clone(),
                        source,
                    }
                }
            })?;

        let mounted = thread::scope(|scope| {
            let worker = scope.spawn(|| bind_fresh_netns(&path));
            match worker.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        if let Err(err) = mounted {
            // Leave no half-made entry behind; the mount error is the one the
            // caller needs, so a failure to unlink is not reported over it.
            let _ = fs::remove_file(&path);
            return Err(err);
        }
        NetNs::open(&path)
    }

    /// Deletes a named namespace like `ip netns del NAME`: lazy unmount, then
    /// unlink. Already gone is success. Processes or handles still inside
    /// keep the namespace itself alive.
    pub fn delete_named(name: &str) -> Result<()> {
        check_netns_name(name)?;
        let path = Path::new(NETNS_RUN_DIR).join(name);
        let c_path = path_to_cstring(&path)?;
        // SAFETY: c_path is a valid NUL-terminated string.
        if unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) } != 0 {
            let source = io::Error::last_os_error();
            // EINVAL: not a mount point (a leftover file); ENOENT: already gone.
            match source.raw_os_error() {
                Some(libc::EINVAL) | Some(libc::ENOENT) => {}
                _ => return Err(Error::NetNs { path, source }),
            }
        }
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(source) if source.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::NetNs { path, source }),
        }
    }

    /// Runs `f` on a short-lived helper thread that has entered this
    /// namespace, and returns its value. The calling thread never changes
    /// namespace, so nothing else running on it can end up in the wrong one.
    /// A panic in `f` is resumed on the caller.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let fd = self.file.as_raw_fd();
        thread::scope(|scope| {
            let worker = scope.spawn(move || {
                // SAFETY: fd belongs to self.file, which outlives the scope.
                if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
                    return Err(Error::NetNs {
                        path: self.display_path(),
                        source: io::Error::last_os_error(),
                    });
                }
                Ok(f())
            });
            match worker.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Whether both handles name the same namespace (same nsfs device and
    /// inode), regardless of the paths they were opened from.
    pub fn same_as(&self, other: &NetNs) -> Result<bool> {
        let mine = self.identity()?;
        let theirs = other.identity()?;
        Ok(mine == theirs)
    }

    fn identity(&self) -> Result<(u64, u64)> {
        let meta = self.file.metadata().map_err(|source| Error::NetNs {
            path: self.display_path(),
            source,
        })?;
        use std::os::unix::fs::MetadataExt;
        Ok((meta.dev(), meta.ino()))
    }

    fn display_path(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("fd {}", self.file.as_raw_fd())))
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

fn check_is_netns(file: &File) -> io::Result<()> {
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd.
    let kind = unsafe { libc::ioctl(file.as_raw_fd(), NS_GET_NSTYPE as _) };
    if kind < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOTTY) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a namespace file",
            ));
        }
        return Err(err);
    }
    if kind != libc::CLONE_NEWNET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a namespace file, but not a network namespace",
        ));
    }
    Ok(())
}

/// Names end up as a single path component under /run/netns.
pub(crate) fn check_netns_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "empty"
    } else if name == "." || name == ".." {
        "not a file name"
    } else if name.contains('/') || name.contains('\0') {
        "contains '/' or NUL"
    } else if name.len() > 255 {
        "longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(Error::invalid(
        format!("network namespace name {name:?}"),
        reason,
    ))
}

fn path_to_cstring(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(format!("path {}", path.display()), "contains NUL"))
}

/// Mirrors iproute2: try to mark `dir` shared; if it is not a mount point yet
/// (EINVAL), bind it onto itself once and try again.
fn make_shared_mount_point(dir: &Path) -> Result<()> {
    let c_dir = path_to_cstring(dir)?;
    let none = c"none";
    let empty = c"";
    let mut made_mount_point = false;
    loop {
        // SAFETY: all pointers are valid NUL-terminated strings or null.
        let rc = unsafe {
            libc::mount(
                empty.as_ptr(),
                c_dir.as_ptr(),
                none.as_ptr(),
                libc::MS_SHARED | libc::MS_REC,
                std::ptr::null(),
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let source = io::Error::last_os_error();
        if source.raw_os_error() != Some(libc::EINVAL) || made_mount_point {
            return Err(Error::io(
                format!("make {} a shared mount", dir.display()),
                source,
            ));
        }
        // SAFETY: as above.
        let rc = unsafe {
            libc::mount(
                c_dir.as_ptr(),
                c_dir.as_ptr(),
                none.as_ptr(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(Error::io(
                format!("bind-mount {} onto itself", dir.display()),
                io::Error::last_os_error(),
            ));
        }
        made_mount_point = true;
    }
}

/// Runs on a throwaway thread: unsharing moves only this thread into the new
/// namespace, and the bind mount keeps it alive after the thread exits.
fn bind_fresh_netns(target: &Path) -> Result<()> {
    // SAFETY: unshare has no memory-safety preconditions.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(Error::io(
            "unshare a new network namespace",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let source = path_to_cstring(Path::new(&format!(
        "/proc/{}/task/{tid}/ns/net",
        std::process::id()
    )))?;
    let c_target = path_to_cstring(target)?;
    let none = c"none";
    // SAFETY: all pointers are valid NUL-terminated strings or null.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            c_target.as_ptr(),
            none.as_ptr(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(Error::NetNs {
            path: target.to_path_buf(),
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_names_must_be_one_path_component() {
        assert!(check_netns_name("pnt-1").is_ok());
        for bad in ["", ".", "..", "a/b", "a\0b"] {
            let err = check_netns_name(bad).unwrap_err();
            assert!(matches!(err, Error::Invalid { .. }), "{bad:?}: {err:?}");
        }
        assert!(check_netns_name(&"x".repeat(256)).is_err());
    }

    #[test]
    fn opening_a_missing_namespace_path_is_not_found() {
        let err = NetNs::open("/proc/self/ns/does-not-exist").unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
    }

    #[test]
    fn a_regular_file_is_not_a_namespace() {
        let err = NetNs::open("/proc/self/status").unwrap_err();
        assert!(matches!(err, Error::NetNs { .. }), "{err:?}");
    }

    #[test]
    fn a_namespace_of_another_kind_is_rejected() {
        let err = NetNs::open("/proc/self/ns/uts").unwrap_err();
        assert!(matches!(err, Error::NetNs { .. }), "{err:?}");
    }

    #[test]
    fn current_is_the_same_namespace_as_the_process() {
        let current = NetNs::current().unwrap();
        let process = NetNs::open("/proc/self/ns/net").unwrap();
        assert!(current.same_as(&process).unwrap());
        assert!(current.path().unwrap().ends_with("ns/net"));
    }

    #[test]
    fn run_returns_the_closure_value_and_can_borrow() {
        let ns = NetNs::open("/proc/self/ns/net").unwrap();
        let borrowed = String::from("borrowed from the caller");
        let length = ns.run(|| borrowed.len());
        // Entering a namespace needs CAP_SYS_ADMIN; without it the error must
        // name the namespace rather than panic.
        match length {
            Ok(length) => assert_eq!(length, borrowed.len()),
            Err(Error::NetNs { path, .. }) => assert!(path.ends_with("ns/net")),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
}

//! The on-disk store in host-local's format, and its lock.
//!
//! Layout of `<dataDir>/<network>/`:
//! - `<ip>`: one file per allocated address, named by the address's text,
//!   holding `containerID\r\nifname` (older host-local wrote only the id);
//! - `last_reserved_ip.<i>`: the last address handed out from range set `i`;
//! - `lock`: flock(LOCK_EX) around every read-modify-write, shared with host-local;
//! - `.podnet-owner.<hash>`: podnet's index from an attachment to its addresses,
//!   so an idempotent retry needs no directory scan. host-local ignores it (the
//!   name is not an address); it is a hint, always checked against the `<ip>` files;
//! - `.podnet-tmp`: scratch file for crash-safe writes, only present under the lock.

use std::ffi::{OsStr, OsString};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use podnet_model::hash::short_hash;
use rustix::fs::FlockOperation;

use crate::error::IpamError;

const LOCK_FILE: &str = "lock";
const LAST_RESERVED_PREFIX: &str = "last_reserved_ip.";
const TEMP_FILE: &str = ".podnet-tmp";
const OWNER_INDEX_PREFIX: &str = ".podnet-owner.";
/// Base32 characters of the attachment hash in owner index names (130 bits).
const OWNER_HASH_LEN: usize = 26;
/// host-local's separator between container id and interface name.
const LINE_BREAK: &str = "\r\n";

/// The state directory of one network. Cheap to open; every operation goes
/// through [`Store::lock`].
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
}

/// The store with its lock held; the lock is released when this is dropped.
#[derive(Debug)]
pub struct Locked<'a> {
    store: &'a Store,
    /// Held for its flock; closing it releases the lock.
    _lock: File,
}

/// Who holds an address, as recorded in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) container_id: String,
    /// `None` for files of old host-local versions, which recorded only the id.
    pub(crate) ifname: Option<String>,
}

impl Owner {
    /// Parses a file's content the way host-local compares it: surrounding
    /// whitespace trimmed, id and interface separated by `\r\n`.
    pub(crate) fn parse(content: &[u8]) -> Owner {
        let text = String::from_utf8_lossy(content);
        let text = text.trim();
        match text.split_once(LINE_BREAK) {
            Some((id, ifname)) => Owner {
                container_id: id.to_string(),
                ifname: Some(ifname.to_string()),
            },
            None => Owner {
                container_id: text.to_string(),
                ifname: None,
            },
        }
    }

    /// Exactly this attachment (new format only).
    pub(crate) fn is(&self, container_id: &str, ifname: &str) -> bool {
        self.container_id == container_id && self.ifname.as_deref() == Some(ifname)
    }

    /// This attachment, or an old-format file of the same container.
    pub(crate) fn belongs_to(&self, container_id: &str, ifname: &str) -> bool {
        self.container_id == container_id
            && self
                .ifname
                .as_deref()
                .is_none_or(|recorded| recorded == ifname)
    }

    pub(crate) fn ifname_or_empty(&self) -> &str {
        self.ifname.as_deref().unwrap_or("")
    }
}

/// The files of the directory that matter, from one listing.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Allocation files: the address and the file's actual name.
    pub(crate) addresses: Vec<(IpAddr, OsString)>,
    /// Names of podnet owner index files.
    pub(crate) owner_indexes: Vec<OsString>,
}

/// host-local writes exactly `TrimSpace(id) + "\r\n" + ifname`.
pub(crate) fn owner_content(container_id: &str, ifname: &str) -> String {
    format!("{container_id}{LINE_BREAK}{ifname}")
}

/// The container id as host-local records it (trimmed), refused when it could
/// not be read back from the file.
pub(crate) fn checked_container_id(container_id: &str) -> Result<&str, IpamError> {
    let trimmed = container_id.trim();
    let reason = if trimmed.is_empty() {
        Some("is empty")
    } else if trimmed.contains(['\r', '\n']) {
        Some("contains a line break")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(IpamError::InvalidContainerId {
            container_id: container_id.to_string(),
            reason,
        }),
        None => Ok(trimmed),
    }
}

/// An interface name that reads back unchanged from `id\r\nifname`.
pub(crate) fn check_ifname(ifname: &str) -> Result<(), IpamError> {
    let reason = if ifname.is_empty() {
        Some("is empty")
    } else if ifname.trim() != ifname || ifname.contains(['\r', '\n']) {
        Some("contains whitespace at an end or a line break")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(IpamError::InvalidIfname {
            ifname: ifname.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// CNI's rule for network names, which also keeps them a single safe path component.
fn check_network_name(name: &str) -> Result<(), IpamError> {
    let mut chars = name.chars();
    let reason = match chars.next() {
        None => Some("is empty"),
        Some(first) if !first.is_ascii_alphanumeric() => Some("must start with a letter or digit"),
        Some(_) if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) => {
            Some("may hold only letters, digits, '_', '.' and '-'")
        }
        Some(_) => None,
    };
    match reason {
        Some(reason) => Err(IpamError::InvalidNetworkName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

fn open_lock_file(dir: &Path) -> Result<File, IpamError> {
    let path = dir.join(LOCK_FILE);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&path)
        .map_err(|e| IpamError::io("open lock file", path, e))
}

impl Store {
    /// Opens (creating as needed) the state directory `<data_dir>/<network>`
    /// and its lock file. `network` must follow CNI's naming rule (letters,
    /// digits, `_`, `.`, `-`, starting with a letter or digit).
    pub fn open(data_dir: &Path, network: &str) -> Result<Store, IpamError> {
        check_network_name(network)?;
        let dir = data_dir.join(network);
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(|e| IpamError::io("create directory", &dir, e))?;
        open_lock_file(&dir)?;
        Ok(Store { dir })
    }

    /// The network's state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the exclusive lock, waiting for other holders (threads, other
    /// podnet processes, host-local). Each call opens the lock file afresh:
    /// flock locks belong to an open file, so a shared descriptor would let
    /// two threads of one process both "hold" the lock.
    pub fn lock(&self) -> Result<Locked<'_>, IpamError> {
        let file = open_lock_file(&self.dir)?;
        loop {
            match rustix::fs::flock(&file, FlockOperation::LockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(errno) => {
                    return Err(IpamError::io(
                        "lock",
                        self.dir.join(LOCK_FILE),
                        io::Error::from(errno),
                    ))
                }
            }
        }
        Ok(Locked {
            store: self,
            _lock: file,
        })
    }
}

impl Locked<'_> {
    pub(crate) fn path(&self, name: impl AsRef<Path>) -> PathBuf {
        self.store.dir.join(name)
    }

    /// Lists allocation and owner index files (everything else is ignored).
    pub(crate) fn list(&self) -> Result<Listing, IpamError> {
        let dir = &self.store.dir;
        let entries = fs::read_dir(dir).map_err(|e| IpamError::io("list", dir, e))?;
        let mut listing = Listing::default();
        for entry in entries {
            let entry = entry.map_err(|e| IpamError::io("list", dir, e))?;
            let name = entry.file_name();
            let Some(text) = name.to_str() else { continue };
            if let Ok(ip) = text.parse::<IpAddr>() {
                listing.addresses.push((ip, name));
            } else if text.starts_with(OWNER_INDEX_PREFIX) {
                listing.owner_indexes.push(name);
            }
        }
        Ok(listing)
    }

    /// The owner recorded in an allocation file; `None` when there is no such file.
    pub(crate) fn read_owner(&self, name: &OsStr) -> Result<Option<Owner>, IpamError> {
        let path = self.path(name);
        match fs::read(&path) {
            Ok(content) => Ok(Some(Owner::parse(&content))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(IpamError::io("read allocation", path, e)),
        }
    }

    /// Removes a file; false when it was already gone.
    pub(crate) fn remove(&self, name: &OsStr) -> Result<bool, IpamError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(IpamError::io("remove", path, e)),
        }
    }

    /// Writes the scratch file as a new inode. Any leftover scratch file is
    /// unlinked first, never truncated: after a crash between link() and
    /// unlink() it is the same inode as an allocation file. No fsync: a crashed
    /// process leaves its page cache behind; only a host crash could lose this write.
    pub(crate) fn write_temp(&self, content: &[u8]) -> Result<(), IpamError> {
        self.remove_temp()?;
        let path = self.path(TEMP_FILE);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .map_err(|e| IpamError::io("create", &path, e))?;
        file.write_all(content)
            .map_err(|e| IpamError::io("write", &path, e))
    }

    /// Hard-links the scratch file to `ip`'s name. link() fails with EEXIST
    /// when the address is taken, and a linked file is always complete, so no
    /// half-written allocation can exist. False when taken.
    pub(crate) fn link_temp_to(&self, ip: IpAddr) -> Result<bool, IpamError> {
        let target = self.path(ip.to_string());
        match fs::hard_link(self.path(TEMP_FILE), &target) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(IpamError::io("link allocation", target, e)),
        }
    }

    pub(crate) fn remove_temp(&self) -> Result<(), IpamError> {
        self.remove(OsStr::new(TEMP_FILE)).map(|_| ())
    }

    /// Replaces a whole file atomically (scratch file, then rename).
    fn replace(&self, name: &str, content: &[u8]) -> Result<(), IpamError> {
        self.write_temp(content)?;
        let target = self.path(name);
        fs::rename(self.path(TEMP_FILE), &target).map_err(|e| IpamError::io("replace", target, e))
    }

    /// The round-robin hint of range set `set`. Unreadable content is no
    /// error: like host-local, allocation then starts from the set's first address.
    pub(crate) fn last_reserved(&self, set: usize) -> Result<Option<IpAddr>, IpamError> {
        let path = self.path(format!("{LAST_RESERVED_PREFIX}{set}"));
        match fs::read(&path) {
            Ok(content) => Ok(String::from_utf8_lossy(&content).trim().parse().ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(IpamError::io("read", path, e)),
        }
    }

    /// Records `ip` as the last address handed out from set `set` (host-local
    /// writes the bare address, no newline). Overwritten in place, not replaced
    /// by rename: ext4 flushes a file renamed over another one at once, which
    /// cost milliseconds per allocation. A process dying mid-write can leave a
    /// mix of old and new text; that only moves the round-robin start, since the
    /// allocation files alone say what is taken.
    pub(crate) fn set_last_reserved(&self, set: usize, ip: IpAddr) -> Result<(), IpamError> {
        let path = self.path(format!("{LAST_RESERVED_PREFIX}{set}"));
        let content = ip.to_string();
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(&path)
            .map_err(|e| IpamError::io("open", &path, e))?;
        file.write_all(content.as_bytes())
            .map_err(|e| IpamError::io("write", &path, e))?;
        // Shortening to a non-zero length: truncating to zero would trigger the same flush.
        file.set_len(content.len() as u64)
            .map_err(|e| IpamError::io("truncate", &path, e))
    }

    /// Name of the owner index file of an attachment.
    pub(crate) fn owner_index_name(container_id: &str, ifname: &str) -> String {
        let hash = short_hash(&owner_content(container_id, ifname), OWNER_HASH_LEN);
        format!("{OWNER_INDEX_PREFIX}{hash}")
    }

    /// Addresses the index says the attachment holds (unverified).
    pub(crate) fn read_owner_index(
        &self,
        container_id: &str,
        ifname: &str,
    ) -> Result<Vec<IpAddr>, IpamError> {
        let path = self.path(Self::owner_index_name(container_id, ifname));
        match fs::read(&path) {
            Ok(content) => Ok(String::from_utf8_lossy(&content)
                .lines()
                .filter_map(|line| line.trim().parse().ok())
                .collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(IpamError::io("read", path, e)),
        }
    }

    pub(crate) fn write_owner_index(
        &self,
        container_id: &str,
        ifname: &str,
        ips: &[IpAddr],
    ) -> Result<(), IpamError> {
        let content: String = ips.iter().map(|ip| format!("{ip}\n")).collect();
        self.replace(
            &Self::owner_index_name(container_id, ifname),
            content.as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_parsing_follows_host_local_trimming() {
        assert_eq!(
            Owner::parse(b"abc\r\neth0"),
            Owner {
                container_id: "abc".into(),
                ifname: Some("eth0".into())
            }
        );
        assert_eq!(
            Owner::parse(b" abc\r\neth0\n"),
            Owner {
                container_id: "abc".into(),
                ifname: Some("eth0".into())
            }
        );
        assert_eq!(
            Owner::parse(b"abc\n"),
            Owner {
                container_id: "abc".into(),
                ifname: None
            }
        );
        assert_eq!(
            Owner::parse(b""),
            Owner {
                container_id: String::new(),
                ifname: None
            }
        );
    }

    #[test]
    fn old_format_owners_belong_to_every_interface_of_their_container() {
        let old = Owner::parse(b"abc");
        assert!(old.belongs_to("abc", "eth0"));
        assert!(old.belongs_to("abc", "net1"));
        assert!(!old.belongs_to("abcd", "eth0"));
        assert!(!old.is("abc", "eth0"));
        let new = Owner::parse(b"abc\r\neth0");
        assert!(new.belongs_to("abc", "eth0"));
        assert!(!new.belongs_to("abc", "net1"));
        assert!(new.is("abc", "eth0"));
    }

    #[test]
    fn network_names_follow_the_cni_rule() {
        for good in ["podnet", "k8s-pod-network", "a.b_c-1", "0net"] {
            assert!(check_network_name(good).is_ok(), "{good}");
        }
        for bad in ["", "..", ".hidden", "a/b", "net work", "-x", "ü"] {
            assert!(
                matches!(
                    check_network_name(bad),
                    Err(IpamError::InvalidNetworkName { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn container_ids_are_trimmed_and_must_read_back() {
        assert_eq!(checked_container_id("  abc \n").unwrap(), "abc");
        assert!(checked_container_id("  ").is_err());
        assert!(checked_container_id("a\r\nb").is_err());
        assert!(check_ifname("eth0").is_ok());
        assert!(check_ifname("").is_err());
        assert!(check_ifname("eth0 ").is_err());
        assert!(check_ifname("a\nb").is_err());
    }
}

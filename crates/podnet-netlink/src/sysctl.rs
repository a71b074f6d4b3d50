//! Kernel parameters under `/proc/sys`.
//!
//! Network sysctls (`net/...`) resolve against the network namespace of the
//! thread that opens the file, so calling these inside [`crate::NetNs::run`]
//! reads and writes that namespace's values.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

use crate::error::{Error, Result};

const PROC_SYS: &str = "/proc/sys";

/// Writes `value` to the sysctl `key` (`net/ipv4/ip_forward` or
/// `net.ipv4.ip_forward`). A key that does not exist is [`Error::NotFound`].
pub fn set(key: &str, value: &str) -> Result<()> {
    let path = key_path(key)?;
    let mut file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|source| open_error(key, source))?;
    // One write call: procfs parses each write on its own.
    file.write_all(value.as_bytes())
        .map_err(|source| Error::io(format!("set sysctl {key} to {value:?}"), source))
}

/// Reads the sysctl `key`, without the trailing newline.
pub fn get(key: &str) -> Result<String> {
    let path = key_path(key)?;
    let text = fs::read_to_string(&path).map_err(|source| open_error(key, source))?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

/// Turns a dotted or slashed key into a relative path. Keys containing `/`
/// are taken as paths as they are, so interface names with dots
/// (`net/ipv4/conf/eth0.100/forwarding`) stay expressible, as with sysctl(8).
pub(crate) fn normalize_key(key: &str) -> Result<String> {
    let relative = if key.contains('/') {
        key.to_string()
    } else {
        key.replace('.', "/")
    };
    let bad = |reason: &str| Error::invalid(format!("sysctl key {key:?}"), reason);
    if relative.is_empty() {
        return Err(bad("empty"));
    }
    if relative.contains('\0') {
        return Err(bad("contains NUL"));
    }
    for component in relative.split('/') {
        if component.is_empty() || component == "." || component == ".." {
            return Err(bad("has an empty, '.' or '..' component"));
        }
    }
    Ok(relative)
}

fn key_path(key: &str) -> Result<PathBuf> {
    Ok(PathBuf::from(PROC_SYS).join(normalize_key(key)?))
}

fn open_error(key: &str, source: io::Error) -> Error {
    if source.kind() == io::ErrorKind::NotFound {
        Error::NotFound {
            what: format!("sysctl {key}"),
        }
    } else {
        Error::io(format!("open sysctl {key}"), source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_become_paths() {
        assert_eq!(
            normalize_key("net.ipv4.ip_forward").unwrap(),
            "net/ipv4/ip_forward"
        );
    }

    #[test]
    fn slashed_keys_keep_their_dots() {
        assert_eq!(
            normalize_key("net/ipv4/conf/eth0.100/forwarding").unwrap(),
            "net/ipv4/conf/eth0.100/forwarding"
        );
    }

    #[test]
    fn keys_cannot_escape_proc_sys() {
        for bad in [
            "",
            "/net/ipv4/ip_forward",
            "net/../../etc/passwd",
            "net..ipv4",
            "net/ipv4/",
            "a\0b",
        ] {
            let err = normalize_key(bad).unwrap_err();
            assert!(matches!(err, Error::Invalid { .. }), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn reading_a_missing_key_is_not_found() {
        let err = get("net.ipv4.no_such_sysctl_here").unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
    }

    #[test]
    fn reading_a_known_key_strips_the_newline() {
        let value = get("kernel.ostype").unwrap();
        assert_eq!(value, "Linux");
    }
}

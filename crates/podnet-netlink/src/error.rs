//! The crate's single error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while talking to the kernel.
///
/// `Exists` and `NotFound` are split out of the generic kernel error because
/// callers routinely branch on them (idempotent adds, deletes of things that
/// are already gone).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object to create is already there (`EEXIST`).
    #[error("{what} already exists")]
    Exists { what: String },

    /// The object looked up, changed or deleted is not there
    /// (`ENODEV`, `ESRCH`, `ENOENT`; `EADDRNOTAVAIL` when deleting an address).
    #[error("{what} not found")]
    NotFound { what: String },

    /// Any other error the kernel answered with; `message` is the kernel's
    /// extended-ack text when it gave one, otherwise the errno description.
    #[error("{op}: {message} (errno {errno})")]
    Kernel {
        op: String,
        errno: i32,
        message: String,
    },

    /// A system call or file operation outside the netlink protocol failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    /// Opening, entering or naming a network namespace failed.
    #[error("network namespace {}: {source}", path.display())]
    NetNs {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The caller passed a value the kernel would reject anyway; caught early
    /// so the message names the offending field.
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },

    /// The kernel's answer could not be decoded or broke the protocol.
    #[error("{context}: {message}")]
    Protocol { context: String, message: String },
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// True for [`Error::Exists`].
    pub fn is_exists(&self) -> bool {
        matches!(self, Error::Exists { .. })
    }

    /// True for [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// The kernel errno behind this error, when there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Exists { .. } => Some(libc::EEXIST),
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io { source, .. } | Error::NetNs { source, .. } => source.raw_os_error(),
            Error::NotFound { .. } | Error::Invalid { .. } | Error::Protocol { .. } => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Maps a negative-errno netlink answer to the matching variant.
    /// `what` names the object (for `Exists`/`NotFound`), `verb` the action.
    pub(crate) fn from_kernel(
        errno: i32,
        ext_message: Option<String>,
        verb: &str,
        what: &str,
    ) -> Error {
        match errno {
            libc::EEXIST => Error::Exists {
                what: what.to_string(),
            },
            libc::ENODEV | libc::ESRCH | libc::ENOENT => Error::NotFound {
                what: what.to_string(),
            },
            _ => Error::Kernel {
                op: format!("{verb} {what}"),
                errno,
                message: ext_message
                    .unwrap_or_else(|| io::Error::from_raw_os_error(errno).to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eexist_becomes_exists_naming_the_object() {
        let err = Error::from_kernel(libc::EEXIST, None, "add", "link br0");
        assert!(err.is_exists());
        assert_eq!(err.to_string(), "link br0 already exists");
        assert_eq!(err.errno(), Some(libc::EEXIST));
    }

    #[test]
    fn missing_object_errnos_become_not_found() {
        for errno in [libc::ENODEV, libc::ESRCH, libc::ENOENT] {
            let err = Error::from_kernel(errno, None, "delete", "route 10.0.0.0/24");
            assert!(err.is_not_found(), "errno {errno} should map to NotFound");
        }
    }

    #[test]
    fn other_errnos_keep_the_kernel_message_and_operation() {
        let err = Error::from_kernel(
            libc::EINVAL,
            Some("Invalid prefix".into()),
            "add",
            "route x",
        );
        match &err {
            Error::Kernel { op, errno, message } => {
                assert_eq!(op, "add route x");
                assert_eq!(*errno, libc::EINVAL);
                assert_eq!(message, "Invalid prefix");
            }
            other => panic!("expected Kernel, got {other:?}"),
        }
        assert!(!err.is_exists() && !err.is_not_found());
    }

    #[test]
    fn kernel_error_without_extended_ack_uses_the_errno_text() {
        let err = Error::from_kernel(libc::EPERM, None, "set", "link 3");
        let text = err.to_string();
        assert!(text.contains("set link 3"), "{text}");
        assert!(text.contains("errno 1"), "{text}");
    }
}

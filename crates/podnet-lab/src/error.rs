//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// What can go wrong while planning, building, inspecting or removing a lab.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot give a working lab; `what` names the field.
    #[error("invalid lab {what}: {reason}")]
    Invalid { what: String, reason: String },

    /// An object carries one of the lab's names but is not what the lab makes, so it
    /// belongs to someone else and is left alone.
    #[error("{what} exists but {reason}; it is left as it is")]
    Conflict { what: String, reason: String },

    /// A netlink, namespace or sysctl operation failed.
    #[error("{context}: {source}")]
    Kernel {
        context: String,
        #[source]
        source: podnet_netlink::Error,
    },

    /// Applying or listing the lab's nftables table failed.
    #[error("{context}: {source}")]
    Firewall {
        context: String,
        #[source]
        source: podnet_nft::Error,
    },

    /// Reading or writing the lab's state directory failed.
    #[error("{context} {}: {source}", path.display())]
    State {
        context: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// `down` went on after failures so that it removed all it could; these are the
    /// steps that failed.
    #[error("the lab was not removed completely: {}", list(failures))]
    Incomplete { failures: Vec<Error> },
}

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, Error>;

fn list(failures: &[Error]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn conflict(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Conflict {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

/// Attaches context to kernel and firewall errors at the call site.
pub(crate) trait Context<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, podnet_netlink::Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Kernel {
            context: context(),
            source,
        })
    }
}

impl<T> Context<T> for std::result::Result<T, podnet_nft::Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Firewall {
            context: context(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_lists_every_failure() {
        let error = Error::Incomplete {
            failures: vec![
                Error::invalid("prefix", "empty"),
                Error::conflict("link podnet-lab0", "it is a dummy, not a bridge"),
            ],
        };
        assert_eq!(
            error.to_string(),
            "the lab was not removed completely: invalid lab prefix: empty; \
             link podnet-lab0 exists but it is a dummy, not a bridge; it is left as it is"
        );
    }

    #[test]
    fn kernel_errors_keep_their_context_and_source() {
        let failed: std::result::Result<(), podnet_netlink::Error> =
            Err(podnet_netlink::Error::NotFound {
                what: "link podnet-n1".into(),
            });
        let error = failed.context(|| "attach podnet-n1".into()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "attach podnet-n1: link podnet-n1 not found"
        );
        assert!(std::error::Error::source(&error).is_some());
    }
}

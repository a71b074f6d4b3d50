//! Errors of the on-disk store and the allocator.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

/// Why a store operation failed; each variant names the object involved.
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    /// The network name cannot safely name a directory.
    #[error("network name {name:?}: {reason}")]
    InvalidNetworkName { name: String, reason: &'static str },
    /// The container id cannot be recorded in host-local's file format.
    #[error("container id {container_id:?}: {reason}")]
    InvalidContainerId {
        container_id: String,
        reason: &'static str,
    },
    /// The interface name cannot be recorded in host-local's file format.
    #[error("interface name {ifname:?}: {reason}")]
    InvalidIfname {
        ifname: String,
        reason: &'static str,
    },
    /// A file system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Every address of the range set is taken.
    #[error("no IP addresses available in range set {range_set} ({ranges})")]
    Exhausted { range_set: usize, ranges: String },
    /// More requested addresses than range sets.
    #[error("{requested} requested addresses for {range_sets} range sets")]
    TooManyRequested { requested: usize, range_sets: usize },
    /// A requested address lies in none of its set's ranges.
    #[error("requested address {ip} is not inside range set {range_set} ({ranges})")]
    RequestedOutsideRanges {
        range_set: usize,
        ip: IpAddr,
        ranges: String,
    },
    /// A requested address is the gateway, network or broadcast address.
    #[error("requested address {ip} of range set {range_set} is a gateway, network or broadcast address")]
    RequestedReserved { range_set: usize, ip: IpAddr },
    /// A requested address is held by another attachment.
    #[error("requested address {ip} of range set {range_set} is held by container {container_id:?} interface {ifname:?}")]
    RequestedTaken {
        range_set: usize,
        ip: IpAddr,
        container_id: String,
        ifname: String,
    },
    /// The attachment already holds another address in the set than the one requested.
    #[error("container {container_id:?} interface {ifname:?} already holds {held} in range set {range_set}, not the requested {requested}")]
    HeldDifferentAddress {
        range_set: usize,
        container_id: String,
        ifname: String,
        held: IpAddr,
        requested: IpAddr,
    },
    /// An allocation failed and undoing the call's earlier allocations failed too.
    #[error("{error}; releasing the addresses this call had taken also failed: {rollback_error}")]
    RollbackFailed {
        error: Box<IpamError>,
        rollback_error: Box<IpamError>,
    },
}

impl IpamError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        IpamError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

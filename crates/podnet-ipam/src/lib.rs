//! host-local-compatible IP address management on disk.
//!
//! The `podnet-cni` plugin uses this in process when a network config says
//! `"ipam": {"type": "podnet-ipam", ...}`. Config fields and the on-disk state
//! are those of the CNI reference `host-local` plugin, so either plugin can
//! read and continue the other's state (see the crate README for the format).
//!
//! Flow: parse [`IpamConfig`] from JSON, [`IpamConfig::validate`] it once,
//! [`Store::open`] the network's directory, [`Store::lock`] it, and call the
//! operations on the [`Locked`] guard.

mod allocate;
mod config;
mod error;
mod release;
mod store;
mod validate;

pub use allocate::Allocation;
pub use config::{IpamConfig, Range, RangeSet, RouteConfig};
pub use error::IpamError;
pub use store::{Locked, Store};
pub use validate::{
    ConfigError, ValidatedConfig, ValidatedRange, ValidatedRangeSet, DEFAULT_DATA_DIR,
};

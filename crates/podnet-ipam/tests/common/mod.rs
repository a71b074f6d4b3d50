//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::IpAddr;
use std::path::Path;

use podnet_ipam::{IpamConfig, Store, ValidatedConfig};

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Parses an `ipam` JSON object.
pub fn config(json: &str) -> IpamConfig {
    serde_json::from_str(json).unwrap()
}

/// Parses and validates an `ipam` JSON object whose data dir is `dir`.
pub fn validated(dir: &Path, ranges_json: &str) -> ValidatedConfig {
    let json = format!(
        r#"{{"type": "podnet-ipam", "dataDir": {:?}, "ranges": {ranges_json}}}"#,
        dir.to_str().unwrap()
    );
    config(&json).validate().unwrap()
}

pub fn open(dir: &Path) -> Store {
    Store::open(dir, "testnet").unwrap()
}

/// Addresses of one allocate call, in set order.
pub fn addrs(allocations: &[podnet_ipam::Allocation]) -> Vec<IpAddr> {
    allocations.iter().map(|a| a.address.addr()).collect()
}

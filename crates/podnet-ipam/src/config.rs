//! The `ipam` section of a CNI network config, as host-local spells it.

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The `ipam` object of a network config (camelCase JSON, host-local's field
/// names). Unknown fields (`resolvConf`, plugin-specific keys) are ignored, as
/// host-local ignores what it does not know. Call [`IpamConfig::validate`]
/// before use.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IpamConfig {
    pub r#type: String,
    /// Range sets: one address is allocated from each set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<RangeSet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
    /// Parent of the per-network state directory; default [`crate::DEFAULT_DATA_DIR`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Legacy single-range form: when `subnet` is set these four fields form a
    /// range set placed before `ranges` (host-local's order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_start: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_end: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

/// Ranges sharing one allocation: an address comes from whichever range of the
/// set has room. All ranges of a set are of one address family.
pub type RangeSet = Vec<Range>;

/// One allocation range inside a subnet.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Range {
    pub subnet: IpNet,
    /// First address handed out, inclusive; default network + 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_start: Option<IpAddr>,
    /// Last address handed out, inclusive; default the last host address
    /// (IPv4 broadcast - 1, IPv6 the subnet's last address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_end: Option<IpAddr>,
    /// Default network + 1. Never handed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

/// A route returned to the caller with every allocation.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct RouteConfig {
    pub dst: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_local_json_parses_with_its_field_names() {
        let cfg: IpamConfig = serde_json::from_str(
            r#"{
                "type": "podnet-ipam",
                "ranges": [[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10",
                             "rangeEnd": "10.1.0.20", "gateway": "10.1.0.254"}],
                           [{"subnet": "fd00::/64"}]],
                "routes": [{"dst": "0.0.0.0/0"}, {"dst": "fd01::/64", "gw": "fd00::1"}],
                "dataDir": "/run/podnet-ipam",
                "resolvConf": "/etc/resolv.conf"
            }"#,
        )
        .unwrap();
        assert_eq!(cfg.r#type, "podnet-ipam");
        assert_eq!(cfg.ranges.len(), 2);
        assert_eq!(
            cfg.ranges[0][0].range_start,
            Some("10.1.0.10".parse().unwrap())
        );
        assert_eq!(
            cfg.ranges[0][0].range_end,
            Some("10.1.0.20".parse().unwrap())
        );
        assert_eq!(
            cfg.ranges[0][0].gateway,
            Some("10.1.0.254".parse().unwrap())
        );
        assert_eq!(
            cfg.ranges[1][0].subnet,
            "fd00::/64".parse::<IpNet>().unwrap()
        );
        assert_eq!(cfg.routes[0].gw, None);
        assert_eq!(cfg.routes[1].gw, Some("fd00::1".parse().unwrap()));
        assert_eq!(cfg.data_dir, Some(PathBuf::from("/run/podnet-ipam")));
        assert_eq!(cfg.subnet, None);
    }

    #[test]
    fn legacy_single_range_fields_parse() {
        let cfg: IpamConfig = serde_json::from_str(
            r#"{"type": "host-local", "subnet": "10.2.0.0/16",
                "rangeStart": "10.2.1.0", "rangeEnd": "10.2.1.255", "gateway": "10.2.0.1"}"#,
        )
        .unwrap();
        assert_eq!(cfg.subnet, Some("10.2.0.0/16".parse().unwrap()));
        assert_eq!(cfg.range_start, Some("10.2.1.0".parse().unwrap()));
        assert_eq!(cfg.range_end, Some("10.2.1.255".parse().unwrap()));
        assert_eq!(cfg.gateway, Some("10.2.0.1".parse().unwrap()));
        assert!(cfg.ranges.is_empty());
    }

    #[test]
    fn serialization_round_trips_and_omits_absent_fields() {
        let cfg: IpamConfig = serde_json::from_str(
            r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24"}]]}"#,
        )
        .unwrap();
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(
            json,
            r#"{"type":"podnet-ipam","ranges":[[{"subnet":"10.1.0.0/24"}]]}"#
        );
        assert_eq!(serde_json::from_str::<IpamConfig>(&json).unwrap(), cfg);
    }

    #[test]
    fn a_subnet_with_host_bits_keeps_them_for_validation_to_judge() {
        let cfg: IpamConfig = serde_json::from_str(
            r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.7/24"}]]}"#,
        )
        .unwrap();
        assert_eq!(
            cfg.ranges[0][0].subnet.addr(),
            "10.1.0.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn malformed_addresses_are_rejected_by_the_parser() {
        let err = serde_json::from_str::<IpamConfig>(
            r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0"}]]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid"), "{err}");
    }
}

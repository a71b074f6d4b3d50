//! CNI versions and the result object, read in any supported version and written in
//! the version the network config asked for.

use crate::error::{CniError, Code, Result};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::net::IpAddr;

pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
pub const LATEST_VERSION: &str = "1.1.0";

/// A CNI spec version we speak, ordered so features can be gated by comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(u8, u8, u8);

impl Version {
    pub const V0_4_0: Version = Version(0, 4, 0);
    pub const V1_0_0: Version = Version(1, 0, 0);
    pub const V1_1_0: Version = Version(1, 1, 0);

    pub fn parse(s: &str) -> Result<Version> {
        if !SUPPORTED_VERSIONS.contains(&s) {
            return Err(CniError::new(
                Code::IncompatibleVersion,
                format!(
                    "cniVersion: {s:?} is not supported (supported: {})",
                    SUPPORTED_VERSIONS.join(", ")
                ),
            ));
        }
        let mut parts = s.split('.').map(|p| p.parse::<u8>().unwrap_or(0));
        Ok(Version(
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        ))
    }

    pub fn as_str(&self) -> &'static str {
        match (self.0, self.1, self.2) {
            (0, 3, 0) => "0.3.0",
            (0, 3, 1) => "0.3.1",
            (0, 4, 0) => "0.4.0",
            (1, 0, 0) => "1.0.0",
            _ => "1.1.0",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sandbox: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    pub address: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteEntry {
    pub dst: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advmss: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dns {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Dns {
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty()
            && self.domain.is_empty()
            && self.search.is_empty()
            && self.options.is_empty()
    }
}

/// The result of an ADD, version-independent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CniResult {
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    #[serde(default)]
    pub ips: Vec<IpConfig>,
    #[serde(default)]
    pub routes: Vec<RouteEntry>,
    #[serde(default)]
    pub dns: Dns,
}

impl CniResult {
    /// Reads a result of any supported version (a prevResult or a delegated IPAM's output).
    /// The 0.3/0.4 `ips[].version` field is ignored: the address says its family.
    pub fn from_value(value: &Value, what: &str) -> Result<CniResult> {
        serde_json::from_value(value.clone())
            .map_err(|e| CniError::new(Code::Decode, format!("{what}: {e}")))
    }

    /// The result as the given spec version prints it.
    pub fn to_value(&self, version: Version) -> Value {
        let mut out = Map::new();
        out.insert("cniVersion".into(), json!(version.as_str()));
        if !self.interfaces.is_empty() {
            let ifaces: Vec<Value> = self
                .interfaces
                .iter()
                .map(|i| {
                    let mut v = serde_json::to_value(i).expect("interface serialises");
                    if version < Version::V1_1_0 {
                        strip(&mut v, &["mtu"]);
                    }
                    v
                })
                .collect();
            out.insert("interfaces".into(), Value::Array(ifaces));
        }
        let ips: Vec<Value> = self
            .ips
            .iter()
            .map(|ip| {
                let mut v = serde_json::to_value(ip).expect("ip serialises");
                if version < Version::V1_0_0 {
                    let family = if ip.address.addr().is_ipv4() {
                        "4"
                    } else {
                        "6"
                    };
                    v.as_object_mut()
                        .expect("object")
                        .insert("version".into(), json!(family));
                }
                v
            })
            .collect();
        out.insert("ips".into(), Value::Array(ips));
        if !self.routes.is_empty() {
            let routes: Vec<Value> = self
                .routes
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).expect("route serialises");
                    if version < Version::V1_1_0 {
                        strip(&mut v, &["mtu", "advmss", "priority", "table", "scope"]);
                    }
                    v
                })
                .collect();
            out.insert("routes".into(), Value::Array(routes));
        }
        out.insert(
            "dns".into(),
            serde_json::to_value(&self.dns).expect("dns serialises"),
        );
        Value::Object(out)
    }
}

fn strip(v: &mut Value, keys: &[&str]) {
    if let Some(obj) = v.as_object_mut() {
        for k in keys {
            obj.remove(*k);
        }
    }
}

/// What VERSION prints.
pub fn version_info(requested: Option<&str>) -> Value {
    let version = requested
        .filter(|v| SUPPORTED_VERSIONS.contains(v))
        .unwrap_or(LATEST_VERSION);
    json!({ "cniVersion": version, "supportedVersions": SUPPORTED_VERSIONS })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CniResult {
        CniResult {
            interfaces: vec![Interface {
                name: "eth0".into(),
                mac: "02:00:00:00:00:01".into(),
                mtu: Some(1450),
                sandbox: "/run/netns/p".into(),
            }],
            ips: vec![
                IpConfig {
                    address: "10.1.0.5/24".parse().unwrap(),
                    gateway: Some("10.1.0.1".parse().unwrap()),
                    interface: Some(0),
                },
                IpConfig {
                    address: "fd00::5/64".parse().unwrap(),
                    gateway: None,
                    interface: Some(0),
                },
            ],
            routes: vec![RouteEntry {
                dst: "0.0.0.0/0".parse().unwrap(),
                gw: Some("10.1.0.1".parse().unwrap()),
                mtu: Some(1400),
                ..Default::default()
            }],
            dns: Dns::default(),
        }
    }

    #[test]
    fn every_supported_version_parses_and_unknown_is_code_1() {
        for v in SUPPORTED_VERSIONS {
            assert_eq!(Version::parse(v).unwrap().as_str(), *v);
        }
        let err = Version::parse("0.2.0").unwrap_err();
        assert_eq!(err.code, Code::IncompatibleVersion);
        assert!(err.msg.contains("cniVersion"));
        assert!(Version::parse("0.3.1").unwrap() < Version::V0_4_0);
    }

    #[test]
    fn old_versions_carry_ip_version_and_no_new_route_fields() {
        let v = sample().to_value(Version::parse("0.3.1").unwrap());
        assert_eq!(v["cniVersion"], "0.3.1");
        assert_eq!(v["ips"][0]["version"], "4");
        assert_eq!(v["ips"][1]["version"], "6");
        assert!(v["routes"][0].get("mtu").is_none());
        assert!(v["interfaces"][0].get("mtu").is_none());
        assert_eq!(v["interfaces"][0]["sandbox"], "/run/netns/p");
    }

    #[test]
    fn v1_drops_ip_version_and_v1_1_keeps_route_mtu() {
        let v1 = sample().to_value(Version::V1_0_0);
        assert!(v1["ips"][0].get("version").is_none());
        assert!(v1["routes"][0].get("mtu").is_none());
        let v11 = sample().to_value(Version::V1_1_0);
        assert_eq!(v11["routes"][0]["mtu"], 1400);
        assert_eq!(v11["interfaces"][0]["mtu"], 1450);
        assert_eq!(v11["ips"][0]["address"], "10.1.0.5/24");
        assert_eq!(v11["ips"][0]["interface"], 0);
    }

    #[test]
    fn results_round_trip_through_every_version() {
        for v in SUPPORTED_VERSIONS {
            let version = Version::parse(v).unwrap();
            let back = CniResult::from_value(&sample().to_value(version), "prevResult").unwrap();
            assert_eq!(back.ips, sample().ips);
            assert_eq!(back.interfaces[0].name, "eth0");
        }
    }

    #[test]
    fn malformed_result_is_a_decode_error_naming_the_source() {
        let err = CniResult::from_value(&json!({"ips": [{"address": "nope"}]}), "prevResult")
            .unwrap_err();
        assert_eq!(err.code, Code::Decode);
        assert!(err.msg.starts_with("prevResult"));
    }

    #[test]
    fn version_lists_all_supported() {
        let v = version_info(Some("0.4.0"));
        assert_eq!(v["cniVersion"], "0.4.0");
        assert_eq!(v["supportedVersions"].as_array().unwrap().len(), 5);
        assert_eq!(version_info(Some("9.9.9"))["cniVersion"], LATEST_VERSION);
    }
}

//! The network configuration on stdin: parsed, defaulted and validated before any
//! effect, so bad input is refused with the field named and nothing done.

use crate::env::{validate_ifname, CniEnv};
use crate::error::{CniError, Code, Result};
use crate::result::{Dns, Version};
use ipnet::IpNet;
use serde_json::Value;
use std::net::IpAddr;
use std::path::PathBuf;

pub const DEFAULT_BRIDGE: &str = "podnet0";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/podnet/cni";
pub const BUILTIN_IPAM: &str = "podnet-ipam";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortMapping {
    #[serde(rename = "hostPort")]
    pub host_port: u16,
    #[serde(rename = "containerPort")]
    pub container_port: u16,
    pub protocol: String,
    #[serde(rename = "hostIP", default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
}

impl PortMapping {
    pub fn protocol(&self) -> Protocol {
        match self.protocol.as_str() {
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            _ => Protocol::Tcp,
        }
    }
}

#[derive(Debug, Clone)]
pub enum IpamChoice {
    /// `podnet-ipam`: the host-local-compatible allocator, in process.
    BuiltIn(podnet_ipam::ValidatedConfig),
    /// Any other type: executed from CNI_PATH with the same env and config.
    Delegated { plugin: String },
}

#[derive(Debug, Clone)]
pub struct NetConf {
    pub version: Version,
    pub name: String,
    pub bridge: String,
    pub is_gateway: bool,
    pub is_default_gateway: bool,
    pub force_address: bool,
    pub ip_masq: bool,
    /// Destinations pod traffic reaches without masquerade; default the pod subnets.
    pub cluster_cidrs: Vec<IpNet>,
    pub mtu: Option<u32>,
    pub hairpin_mode: bool,
    pub promisc_mode: bool,
    pub ipam: IpamChoice,
    pub dns: Dns,
    pub port_mappings: Vec<PortMapping>,
    pub requested_ips: Vec<IpAddr>,
    pub requested_mac: Option<[u8; 6]>,
    pub prev_result: Option<Value>,
    pub valid_attachments: Vec<(String, String)>,
    pub state_dir: PathBuf,
    pub log_file: Option<PathBuf>,
    /// The config exactly as received, handed on unchanged to a delegated IPAM plugin.
    pub raw: Value,
}

/// Options of the reference bridge plugin that podnet-cni deliberately does not implement;
/// setting them is refused (code 2) instead of being silently ignored.
const UNSUPPORTED: &[&str] = &["vlan", "vlanTrunk", "preserveDefaultVlan", "macspoofchk"];

fn field<'a>(obj: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn bool_field(obj: &serde_json::Map<String, Value>, key: &str) -> Result<bool> {
    match field(obj, key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(CniError::config(format!(
            "{key}: expected true or false, got {other}"
        ))),
    }
}

fn str_field<'a>(obj: &'a serde_json::Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    match field(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(CniError::config(format!(
            "{key}: expected a string, got {other}"
        ))),
    }
}

fn parse_ip_or_cidr(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<IpNet>().ok().map(|n| n.addr()))
}

impl NetConf {
    /// Parses stdin. Decode errors are code 6, bad values code 7 naming the field.
    pub fn parse(stdin: &[u8], env: &CniEnv) -> Result<NetConf> {
        let raw: Value = serde_json::from_slice(stdin).map_err(|e| {
            CniError::new(
                Code::Decode,
                format!("network config on stdin is not valid JSON: {e}"),
            )
        })?;
        let obj = raw.as_object().ok_or_else(|| {
            CniError::new(
                Code::Decode,
                "network config on stdin must be a JSON object",
            )
        })?;

        let version = Version::parse(
            str_field(obj, "cniVersion")?
                .ok_or_else(|| CniError::config("cniVersion: required"))?,
        )?;
        let name = str_field(obj, "name")?
            .ok_or_else(|| CniError::config("name: required"))?
            .to_string();
        if name.is_empty() || name.contains(['/', '\0']) || name == "." || name == ".." {
            return Err(CniError::config(format!(
                "name: {name:?} is not a valid network name (non-empty, no '/')"
            )));
        }
        for key in UNSUPPORTED {
            if let Some(v) = field(obj, key) {
                let is_default = matches!(v, Value::Bool(false))
                    || v.as_u64() == Some(0)
                    || v.as_array().is_some_and(|a| a.is_empty());
                if !is_default {
                    return Err(CniError::new(
                        Code::UnsupportedField,
                        format!("{key}: not supported by podnet-cni"),
                    ));
                }
            }
        }

        let bridge = str_field(obj, "bridge")?
            .unwrap_or(DEFAULT_BRIDGE)
            .to_string();
        validate_ifname(&bridge).map_err(|e| CniError::config(format!("bridge: {e}")))?;
        let is_default_gateway = bool_field(obj, "isDefaultGateway")?;
        // As the reference bridge: a default gateway is necessarily a gateway.
        let is_gateway = bool_field(obj, "isGateway")? || is_default_gateway;
        let mtu = match field(obj, "mtu") {
            None => None,
            Some(v) => match v.as_u64() {
                Some(m) if (68..=65535).contains(&m) => Some(m as u32),
                _ => {
                    return Err(CniError::config(format!(
                        "mtu: {v} is not an MTU between 68 and 65535"
                    )))
                }
            },
        };

        let ipam_obj = field(obj, "ipam").ok_or_else(|| {
            CniError::config("ipam: required (e.g. {\"type\": \"podnet-ipam\", ...})")
        })?;
        let ipam_type = ipam_obj
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| CniError::config("ipam.type: required"))?;
        let ipam = if ipam_type == BUILTIN_IPAM {
            let cfg: podnet_ipam::IpamConfig = serde_json::from_value(ipam_obj.clone())
                .map_err(|e| CniError::config(format!("ipam: {e}")))?;
            let validated = cfg
                .validate()
                .map_err(|e| CniError::config(e.to_string()))?;
            IpamChoice::BuiltIn(validated)
        } else {
            if ipam_type.is_empty() || ipam_type.contains('/') {
                return Err(CniError::config(format!(
                    "ipam.type: {ipam_type:?} is not a plugin name"
                )));
            }
            IpamChoice::Delegated {
                plugin: ipam_type.to_string(),
            }
        };

        let cluster_cidrs = match field(obj, "clusterCIDRs") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .and_then(|s| s.parse::<IpNet>().ok())
                        .map(|n| n.trunc())
                        .ok_or_else(|| {
                            CniError::config(format!("clusterCIDRs[{i}]: {v} is not a CIDR"))
                        })
                })
                .collect::<Result<_>>()?,
            Some(other) => {
                return Err(CniError::config(format!(
                    "clusterCIDRs: expected a list of CIDRs, got {other}"
                )))
            }
        };

        let dns = match field(obj, "dns") {
            None => Dns::default(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| CniError::config(format!("dns: {e}")))?,
        };

        let (port_mappings, mut requested_ips, mut requested_mac) =
            match field(obj, "runtimeConfig") {
                None => (Vec::new(), Vec::new(), None),
                Some(rc) => parse_runtime_config(rc)?,
            };
        // The "args" convention ({"args": {"cni": {"ips": [...], "mac": ...}}}) as a fallback.
        if let Some(cni_args) = field(obj, "args").and_then(|a| a.get("cni")) {
            if requested_ips.is_empty() {
                if let Some(ips) = cni_args.get("ips").and_then(Value::as_array) {
                    for (i, v) in ips.iter().enumerate() {
                        requested_ips.push(v.as_str().and_then(parse_ip_or_cidr).ok_or_else(
                            || CniError::config(format!("args.cni.ips[{i}]: {v} is not an IP")),
                        )?);
                    }
                }
            }
            if requested_mac.is_none() {
                if let Some(m) = cni_args.get("mac").and_then(Value::as_str) {
                    requested_mac = Some(podnet_netlink::parse_mac(m).ok_or_else(|| {
                        CniError::config(format!("args.cni.mac: {m:?} is not a MAC address"))
                    })?);
                }
            }
        }
        // CNI_ARGS IP= / MAC= apply when the runtime config did not say.
        if requested_ips.is_empty() {
            requested_ips = env.args.ips.clone();
        }
        if requested_mac.is_none() {
            requested_mac = env.args.mac;
        }
        if let Some(mac) = requested_mac {
            if mac[0] & 1 == 1 {
                return Err(CniError::config(format!(
                    "mac: {} is a multicast address",
                    podnet_netlink::format_mac(&mac)
                )));
            }
        }

        let valid_attachments = match field(obj, "cni.dev/valid-attachments") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let id = a.get("containerID").and_then(Value::as_str);
                    let ifname = a.get("ifname").and_then(Value::as_str);
                    match (id, ifname) {
                        (Some(id), Some(ifname)) => Ok((id.to_string(), ifname.to_string())),
                        _ => Err(CniError::config(format!(
                            "cni.dev/valid-attachments[{i}]: needs containerID and ifname"
                        ))),
                    }
                })
                .collect::<Result<_>>()?,
            Some(other) => {
                return Err(CniError::config(format!(
                    "cni.dev/valid-attachments: expected a list, got {other}"
                )))
            }
        };

        let state_dir = PathBuf::from(str_field(obj, "stateDir")?.unwrap_or(DEFAULT_STATE_DIR));
        let log_file = str_field(obj, "logFile")?.map(PathBuf::from);

        Ok(NetConf {
            version,
            name,
            bridge,
            is_gateway,
            is_default_gateway,
            force_address: bool_field(obj, "forceAddress")?,
            ip_masq: bool_field(obj, "ipMasq")?,
            cluster_cidrs,
            mtu,
            hairpin_mode: bool_field(obj, "hairpinMode")?,
            promisc_mode: bool_field(obj, "promiscMode")?,
            ipam,
            dns,
            port_mappings,
            requested_ips,
            requested_mac,
            prev_result: field(obj, "prevResult").cloned(),
            valid_attachments,
            state_dir,
            log_file,
            raw,
        })
    }

    /// Destinations exempt from masquerade: configured, or the subnets pods get addresses from.
    pub fn masquerade_exempt(&self, pod_subnets: &[IpNet]) -> Vec<IpNet> {
        if self.cluster_cidrs.is_empty() {
            pod_subnets.iter().map(IpNet::trunc).collect()
        } else {
            self.cluster_cidrs.clone()
        }
    }
}

type RuntimeParts = (Vec<PortMapping>, Vec<IpAddr>, Option<[u8; 6]>);

fn parse_runtime_config(rc: &Value) -> Result<RuntimeParts> {
    let obj = rc
        .as_object()
        .ok_or_else(|| CniError::config(format!("runtimeConfig: expected an object, got {rc}")))?;
    let mut mappings = Vec::new();
    if let Some(list) = field(obj, "portMappings") {
        let items = list.as_array().ok_or_else(|| {
            CniError::config("runtimeConfig.portMappings: expected a list".to_string())
        })?;
        for (i, item) in items.iter().enumerate() {
            let at = format!("runtimeConfig.portMappings[{i}]");
            let port = |key: &str| -> Result<u16> {
                let v = item
                    .get(key)
                    .ok_or_else(|| CniError::config(format!("{at}.{key}: required")))?;
                v.as_u64()
                    .filter(|p| (1..=65535).contains(p))
                    .map(|p| p as u16)
                    .ok_or_else(|| {
                        CniError::config(format!("{at}.{key}: {v} is not a port (1-65535)"))
                    })
            };
            let host_port = port("hostPort")?;
            let container_port = port("containerPort")?;
            let protocol = match item.get("protocol").and_then(Value::as_str) {
                None | Some("") => "tcp".to_string(),
                Some(p) => {
                    let lower = p.to_ascii_lowercase();
                    if !matches!(lower.as_str(), "tcp" | "udp" | "sctp") {
                        return Err(CniError::config(format!(
                            "{at}.protocol: {p:?} is not tcp, udp or sctp"
                        )));
                    }
                    lower
                }
            };
            let host_ip = match item.get("hostIP").and_then(Value::as_str) {
                None | Some("") => None,
                Some(s) => {
                    let ip: IpAddr = s.parse().map_err(|_| {
                        CniError::config(format!("{at}.hostIP: {s:?} is not an IP address"))
                    })?;
                    // 0.0.0.0 and :: mean "every address", as in Kubernetes.
                    (!ip.is_unspecified()).then_some(ip)
                }
            };
            let mapping = PortMapping {
                host_port,
                container_port,
                protocol,
                host_ip,
            };
            if mappings.iter().any(|m: &PortMapping| {
                m.host_port == mapping.host_port
                    && m.protocol == mapping.protocol
                    && m.host_ip == mapping.host_ip
            }) {
                return Err(CniError::config(format!(
                    "{at}: hostPort {}/{} is mapped twice",
                    mapping.host_port, mapping.protocol
                )));
            }
            mappings.push(mapping);
        }
    }
    let mut ips = Vec::new();
    if let Some(list) = field(obj, "ips") {
        let items = list
            .as_array()
            .ok_or_else(|| CniError::config("runtimeConfig.ips: expected a list".to_string()))?;
        for (i, v) in items.iter().enumerate() {
            ips.push(v.as_str().and_then(parse_ip_or_cidr).ok_or_else(|| {
                CniError::config(format!("runtimeConfig.ips[{i}]: {v} is not an IP address"))
            })?);
        }
    }
    let mac = match field(obj, "mac").and_then(Value::as_str) {
        None => None,
        Some(m) => Some(podnet_netlink::parse_mac(m).ok_or_else(|| {
            CniError::config(format!("runtimeConfig.mac: {m:?} is not a MAC address"))
        })?),
    };
    Ok((mappings, ips, mac))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env() -> CniEnv {
        CniEnv::from_lookup(|k| match k {
            "CNI_COMMAND" => Some("ADD".into()),
            "CNI_CONTAINERID" => Some("c1".into()),
            "CNI_NETNS" => Some("/run/netns/p".into()),
            "CNI_IFNAME" => Some("eth0".into()),
            "CNI_PATH" => Some("/opt/cni/bin".into()),
            _ => None,
        })
        .unwrap()
    }

    fn base() -> Value {
        json!({
            "cniVersion": "1.0.0", "name": "podnet", "type": "podnet-cni",
            "ipam": {"type": "podnet-ipam", "ranges": [[{"subnet": "10.22.0.0/24"}]]}
        })
    }

    fn parse(v: &Value) -> Result<NetConf> {
        NetConf::parse(v.to_string().as_bytes(), &env())
    }

    #[test]
    fn defaults_match_the_documented_ones() {
        let c = parse(&base()).unwrap();
        assert_eq!(c.bridge, DEFAULT_BRIDGE);
        assert!(!c.is_gateway && !c.ip_masq && !c.hairpin_mode);
        assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
        assert!(matches!(c.ipam, IpamChoice::BuiltIn(_)));
        let exempt = c.masquerade_exempt(&["10.22.0.7/24".parse().unwrap()]);
        assert_eq!(exempt, vec!["10.22.0.0/24".parse::<IpNet>().unwrap()]);
    }

    #[test]
    fn default_gateway_implies_gateway() {
        let mut v = base();
        v["isDefaultGateway"] = json!(true);
        assert!(parse(&v).unwrap().is_gateway);
    }

    #[test]
    fn malformed_json_is_code_6_and_invalid_values_code_7_naming_the_field() {
        let err = NetConf::parse(b"{not json", &env()).unwrap_err();
        assert_eq!(err.code, Code::Decode);
        for (key, value, needle) in [
            ("mtu", json!(10), "mtu"),
            ("bridge", json!("a-bridge-name-way-too-long"), "bridge"),
            ("ipMasq", json!("yes"), "ipMasq"),
            ("clusterCIDRs", json!(["10.0.0.0/33"]), "clusterCIDRs[0]"),
        ] {
            let mut v = base();
            v[key] = value;
            let err = parse(&v).unwrap_err();
            assert_eq!(err.code, Code::InvalidConfig, "{key}");
            assert!(err.msg.contains(needle), "{key}: {}", err.msg);
        }
    }

    #[test]
    fn missing_required_fields_are_named() {
        for key in ["cniVersion", "name", "ipam"] {
            let mut v = base();
            v.as_object_mut().unwrap().remove(key);
            assert!(parse(&v).unwrap_err().msg.contains(key));
        }
    }

    #[test]
    fn unknown_version_is_code_1() {
        let mut v = base();
        v["cniVersion"] = json!("0.1.0");
        assert_eq!(parse(&v).unwrap_err().code, Code::IncompatibleVersion);
    }

    #[test]
    fn vlan_is_an_unsupported_field() {
        let mut v = base();
        v["vlan"] = json!(100);
        assert_eq!(parse(&v).unwrap_err().code, Code::UnsupportedField);
        v["vlan"] = json!(0);
        assert!(parse(&v).is_ok());
    }

    #[test]
    fn runtime_config_port_mappings_ips_and_mac() {
        let mut v = base();
        v["runtimeConfig"] = json!({
            "portMappings": [
                {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                {"hostPort": 5353, "containerPort": 53, "protocol": "UDP", "hostIP": "127.0.0.1"},
                {"hostPort": 9090, "containerPort": 90, "hostIP": "0.0.0.0"}
            ],
            "ips": ["10.22.0.9/24"],
            "mac": "02:11:22:33:44:55"
        });
        let c = parse(&v).unwrap();
        assert_eq!(c.port_mappings.len(), 3);
        assert_eq!(c.port_mappings[1].protocol(), Protocol::Udp);
        assert_eq!(
            c.port_mappings[1].host_ip,
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(c.port_mappings[2].host_ip, None);
        assert_eq!(c.port_mappings[2].protocol(), Protocol::Tcp);
        assert_eq!(
            c.requested_ips,
            vec!["10.22.0.9".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(c.requested_mac, Some([2, 0x11, 0x22, 0x33, 0x44, 0x55]));
    }

    #[test]
    fn bad_port_mappings_name_the_entry() {
        for (pm, needle) in [
            (
                json!({"hostPort": 0, "containerPort": 80}),
                "portMappings[0].hostPort",
            ),
            (json!({"hostPort": 80}), "portMappings[0].containerPort"),
            (
                json!({"hostPort": 80, "containerPort": 80, "protocol": "icmp"}),
                "protocol",
            ),
            (
                json!({"hostPort": 80, "containerPort": 80, "hostIP": "x"}),
                "hostIP",
            ),
        ] {
            let mut v = base();
            v["runtimeConfig"] = json!({ "portMappings": [pm] });
            let err = parse(&v).unwrap_err();
            assert!(err.msg.contains(needle), "{}", err.msg);
        }
    }

    #[test]
    fn multicast_mac_is_refused() {
        let mut v = base();
        v["runtimeConfig"] = json!({"mac": "01:00:5e:00:00:01"});
        assert!(parse(&v).unwrap_err().msg.contains("multicast"));
    }

    #[test]
    fn delegated_ipam_keeps_the_plugin_name() {
        let mut v = base();
        v["ipam"] = json!({"type": "host-local", "subnet": "10.9.0.0/24"});
        match parse(&v).unwrap().ipam {
            IpamChoice::Delegated { plugin } => assert_eq!(plugin, "host-local"),
            other => panic!("expected delegation, got {other:?}"),
        }
        v["ipam"] = json!({"type": "../evil"});
        assert!(parse(&v).unwrap_err().msg.contains("ipam.type"));
    }

    #[test]
    fn valid_attachments_are_read_for_gc() {
        let mut v = base();
        v["cni.dev/valid-attachments"] =
            json!([{"containerID": "a", "ifname": "eth0"}, {"containerID": "b", "ifname": "net1"}]);
        let c = parse(&v).unwrap();
        assert_eq!(
            c.valid_attachments[1],
            ("b".to_string(), "net1".to_string())
        );
    }
}

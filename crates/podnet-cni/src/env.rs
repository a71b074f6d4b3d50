//! The CNI_* environment a runtime passes, validated per command as the spec requires.

use crate::error::{CniError, Result};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Status,
    Gc,
    Version,
}

impl Command {
    fn parse(s: &str) -> Result<Command> {
        Ok(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "STATUS" => Command::Status,
            "GC" => Command::Gc,
            "VERSION" => Command::Version,
            other => {
                return Err(CniError::env(format!(
                    "CNI_COMMAND: unknown command {other:?} (expected ADD, DEL, CHECK, STATUS, GC or VERSION)"
                )))
            }
        })
    }
}

/// Arguments from CNI_ARGS that this plugin understands (`K=V;K2=V2`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniArgs {
    pub ignore_unknown: bool,
    pub pod_namespace: Option<String>,
    pub pod_name: Option<String>,
    pub pod_infra_container_id: Option<String>,
    pub pod_uid: Option<String>,
    pub ips: Vec<IpAddr>,
    pub mac: Option<[u8; 6]>,
    /// Unknown keys, kept so callers (and delegated IPAM) see the same arguments.
    pub other: BTreeMap<String, String>,
}

impl CniArgs {
    pub fn parse(raw: &str) -> Result<CniArgs> {
        let mut args = CniArgs::default();
        let mut unknown = Vec::new();
        for pair in raw.split(';').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                CniError::env(format!("CNI_ARGS: {pair:?} is not of the form KEY=VALUE"))
            })?;
            match key {
                "IgnoreUnknown" => {
                    args.ignore_unknown =
                        matches!(value.to_ascii_lowercase().as_str(), "1" | "true")
                }
                "K8S_POD_NAMESPACE" => args.pod_namespace = Some(value.to_string()),
                "K8S_POD_NAME" => args.pod_name = Some(value.to_string()),
                "K8S_POD_INFRA_CONTAINER_ID" => {
                    args.pod_infra_container_id = Some(value.to_string())
                }
                "K8S_POD_UID" => args.pod_uid = Some(value.to_string()),
                "IP" => {
                    for ip in value.split(',').filter(|s| !s.is_empty()) {
                        let ip = ip.trim();
                        args.ips.push(ip.parse().map_err(|_| {
                            CniError::env(format!("CNI_ARGS: IP={ip:?} is not an IP address"))
                        })?);
                    }
                }
                "MAC" => {
                    args.mac = Some(podnet_netlink::parse_mac(value).ok_or_else(|| {
                        CniError::env(format!("CNI_ARGS: MAC={value:?} is not a MAC address"))
                    })?)
                }
                _ => {
                    unknown.push(key.to_string());
                    args.other.insert(key.to_string(), value.to_string());
                }
            }
        }
        if !unknown.is_empty() && !args.ignore_unknown {
            return Err(CniError::env(format!(
                "CNI_ARGS: unknown argument(s) {} (set IgnoreUnknown=1 to allow them)",
                unknown.join(", ")
            )));
        }
        Ok(args)
    }
}

#[derive(Debug, Clone)]
pub struct CniEnv {
    pub command: Command,
    pub container_id: String,
    pub netns: Option<PathBuf>,
    pub ifname: String,
    pub args_raw: String,
    pub args: CniArgs,
    pub path: Vec<PathBuf>,
}

/// Linux interface names: 1..=15 bytes, no '/', no whitespace, not "." or "..".
pub fn validate_ifname(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() || name.len() > 15 {
        return Err(format!("{name:?} must be 1 to 15 characters"));
    }
    if name == "."
        || name == ".."
        || name.contains(['/', ':'])
        || name.contains(char::is_whitespace)
    {
        return Err(format!(
            "{name:?} contains characters not allowed in an interface name"
        ));
    }
    Ok(())
}

/// Container ids: the spec allows alphanumerics plus '_', '.', '-', starting alphanumeric.
fn validate_container_id(id: &str) -> std::result::Result<(), String> {
    let mut chars = id.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return Err(format!("{id:?} must start with a letter or digit")),
    }
    if chars.any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(format!(
            "{id:?} may only contain letters, digits, '_', '.' and '-'"
        ));
    }
    Ok(())
}

impl CniEnv {
    /// Reads the environment through `get` (std::env::var in the binary, a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<CniEnv> {
        let command = get("CNI_COMMAND")
            .ok_or_else(|| CniError::env("CNI_COMMAND is not set"))
            .and_then(|c| Command::parse(&c))?;
        let nonempty = |k: &str| get(k).filter(|v| !v.is_empty());
        let needs_container = matches!(command, Command::Add | Command::Del | Command::Check);
        let container_id = nonempty("CNI_CONTAINERID").unwrap_or_default();
        let ifname = nonempty("CNI_IFNAME").unwrap_or_default();
        let netns = nonempty("CNI_NETNS").map(PathBuf::from);
        if needs_container {
            if container_id.is_empty() {
                return Err(CniError::env("CNI_CONTAINERID is not set"));
            }
            validate_container_id(&container_id)
                .map_err(|e| CniError::env(format!("CNI_CONTAINERID: {e}")))?;
            if ifname.is_empty() {
                return Err(CniError::env("CNI_IFNAME is not set"));
            }
            validate_ifname(&ifname).map_err(|e| CniError::env(format!("CNI_IFNAME: {e}")))?;
        }
        if matches!(command, Command::Add | Command::Check) && netns.is_none() {
            return Err(CniError::env("CNI_NETNS is not set"));
        }
        let path: Vec<PathBuf> = get("CNI_PATH")
            .unwrap_or_default()
            .split(':')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect();
        if path.is_empty() && command != Command::Version {
            return Err(CniError::env("CNI_PATH is not set"));
        }
        let args_raw = get("CNI_ARGS").unwrap_or_default();
        let args = CniArgs::parse(&args_raw)?;
        Ok(CniEnv {
            command,
            container_id,
            netns,
            ifname,
            args_raw,
            args,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<CniEnv> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CniEnv::from_lookup(|k| map.get(k).cloned())
    }

    const ADD: &[(&str, &str)] = &[
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "abc123"),
        ("CNI_NETNS", "/run/netns/x"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/opt/cni/bin:/usr/lib/cni"),
    ];

    #[test]
    fn add_with_all_variables_parses_path_list() {
        let e = env(ADD).unwrap();
        assert_eq!(e.command, Command::Add);
        assert_eq!(e.path.len(), 2);
        assert_eq!(e.ifname, "eth0");
    }

    #[test]
    fn add_without_netns_is_invalid_environment_naming_the_variable() {
        let pairs: Vec<_> = ADD
            .iter()
            .copied()
            .filter(|(k, _)| *k != "CNI_NETNS")
            .collect();
        let err = env(&pairs).unwrap_err();
        assert_eq!(err.code, Code::InvalidEnvironment);
        assert!(err.msg.contains("CNI_NETNS"), "{}", err.msg);
    }

    #[test]
    fn del_may_lack_netns() {
        let mut pairs: Vec<_> = ADD
            .iter()
            .copied()
            .filter(|(k, _)| *k != "CNI_NETNS")
            .collect();
        pairs[0] = ("CNI_COMMAND", "DEL");
        assert!(env(&pairs).unwrap().netns.is_none());
    }

    #[test]
    fn status_and_gc_need_only_command_and_path() {
        for cmd in ["STATUS", "GC"] {
            let e = env(&[("CNI_COMMAND", cmd), ("CNI_PATH", "/opt/cni/bin")]).unwrap();
            assert!(e.container_id.is_empty());
        }
        let err = env(&[("CNI_COMMAND", "GC")]).unwrap_err();
        assert!(err.msg.contains("CNI_PATH"));
    }

    #[test]
    fn version_needs_nothing_but_the_command() {
        assert_eq!(
            env(&[("CNI_COMMAND", "VERSION")]).unwrap().command,
            Command::Version
        );
    }

    #[test]
    fn unknown_command_and_bad_ifname_are_rejected() {
        assert_eq!(
            env(&[("CNI_COMMAND", "FROB")]).unwrap_err().code,
            Code::InvalidEnvironment
        );
        let mut pairs = ADD.to_vec();
        pairs[3] = ("CNI_IFNAME", "an-interface-name-too-long");
        assert!(env(&pairs).unwrap_err().msg.contains("CNI_IFNAME"));
        let mut pairs = ADD.to_vec();
        pairs[1] = ("CNI_CONTAINERID", "../etc");
        assert!(env(&pairs).unwrap_err().msg.contains("CNI_CONTAINERID"));
    }

    #[test]
    fn cni_args_known_keys_are_parsed() {
        let a = CniArgs::parse(
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;\
             K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;IP=10.1.0.9,fd00::9;MAC=02:00:00:00:00:01;FOO=bar",
        )
        .unwrap();
        assert!(a.ignore_unknown);
        assert_eq!(a.pod_namespace.as_deref(), Some("default"));
        assert_eq!(a.pod_name.as_deref(), Some("web-0"));
        assert_eq!(a.pod_infra_container_id.as_deref(), Some("abc"));
        assert_eq!(a.pod_uid.as_deref(), Some("u-1"));
        assert_eq!(a.ips.len(), 2);
        assert_eq!(a.mac, Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(a.other.get("FOO").map(String::as_str), Some("bar"));
    }

    #[test]
    fn cni_args_unknown_key_without_ignore_unknown_is_an_error() {
        let err = CniArgs::parse("FOO=bar").unwrap_err();
        assert!(err.msg.contains("FOO"));
        assert!(CniArgs::parse("IgnoreUnknown=true;FOO=bar").is_ok());
    }

    #[test]
    fn cni_args_bad_values_name_the_key() {
        assert!(CniArgs::parse("IP=not-an-ip")
            .unwrap_err()
            .msg
            .contains("IP="));
        assert!(CniArgs::parse("MAC=zz").unwrap_err().msg.contains("MAC="));
        assert!(CniArgs::parse("novalue")
            .unwrap_err()
            .msg
            .contains("KEY=VALUE"));
    }
}

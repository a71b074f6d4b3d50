//! The node's CNI network config for podnet-cni, and writing it so that a
//! runtime never reads half a file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde_json::json;

use crate::config::{cni_dir, CniPlugins, NETWORK_NAME, POD_BRIDGE};

/// The CNI spec version of the config: 1.1.0 has STATUS and GC, which the
/// kubelet uses to clean up after a restart.
pub const CNI_VERSION: &str = "1.1.0";

/// What the conflist depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflistInputs<'a> {
    pub pod_cidr: Ipv4Net,
    pub cluster_cidr: Ipv4Net,
    /// The pods' MTU: the underlay's, less the overlay's headers if any.
    pub mtu: u32,
    pub state_root: &'a Path,
    pub plugins: CniPlugins,
}

/// The conflist text (pretty JSON with a final newline).
///
/// Pods get their addresses from the node's pod CIDR and a default route via
/// the bridge (the range's first address); the node's own masquerade table
/// does SNAT, so the plugin's `ipMasq` stays off; hairpin lets a pod reach
/// itself through a Service.
pub fn render(inputs: &ConflistInputs) -> String {
    let cni = cni_dir(inputs.state_root);
    let conflist = match inputs.plugins {
        CniPlugins::Podnet => podnet_conflist(inputs, &cni),
        CniPlugins::Reference => reference_conflist(inputs, &cni),
    };
    let mut text = serde_json::to_string_pretty(&conflist).expect("JSON values always serialize");
    text.push('\n');
    text
}

/// The same network with the reference plugins (`bridge`, `host-local`,
/// `portmap` of the CNI project), for comparison: same bridge, subnet,
/// gateway, MTU and hairpin. CNI 1.0.0 is the highest version the packaged
/// reference plugins speak.
fn reference_conflist(inputs: &ConflistInputs, cni: &Path) -> serde_json::Value {
    json!({
        "cniVersion": "1.0.0",
        "name": NETWORK_NAME,
        "plugins": [{
            "type": "bridge",
            "bridge": POD_BRIDGE,
            "isGateway": true,
            "isDefaultGateway": true,
            "ipMasq": false,
            "hairpinMode": true,
            "mtu": inputs.mtu,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": inputs.pod_cidr.to_string()}]],
                "dataDir": path_text(&cni.join("ipam")),
            },
        }, {
            "type": "portmap",
            "capabilities": {"portMappings": true},
        }],
    })
}

fn podnet_conflist(inputs: &ConflistInputs, cni: &Path) -> serde_json::Value {
    json!({
        "cniVersion": CNI_VERSION,
        "name": NETWORK_NAME,
        "plugins": [{
            "type": "podnet-cni",
            "bridge": POD_BRIDGE,
            "isGateway": true,
            "isDefaultGateway": true,
            "ipMasq": false,
            "hairpinMode": true,
            "mtu": inputs.mtu,
            "clusterCIDRs": [inputs.cluster_cidr.to_string()],
            "stateDir": path_text(&cni.join("state")),
            "capabilities": {"portMappings": true},
            "ipam": {
                "type": "podnet-ipam",
                "ranges": [[{"subnet": inputs.pod_cidr.to_string()}]],
                "dataDir": path_text(&cni.join("ipam")),
            },
        }],
    })
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Writes `content` to `path` unless it already holds exactly that; returns
/// whether it wrote. The new content goes to a temporary file in the same
/// directory, is flushed to disk, and is renamed over `path`, so readers see
/// the old or the new file, never a mix.
pub fn write_if_changed(path: &Path, content: &str) -> std::io::Result<bool> {
    match std::fs::read_to_string(path) {
        Ok(existing) if existing == content => return Ok(false),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let dir = path.parent().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} has no parent directory", path.display()),
        )
    })?;
    std::fs::create_dir_all(dir)?;
    let tmp = temporary_path(path);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(content.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| true)
}

/// A name CNI runtimes skip when they scan the directory (they read only
/// `.conf`, `.conflist` and `.json` files).
fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(root: &Path) -> ConflistInputs<'_> {
        ConflistInputs {
            pod_cidr: "10.244.2.0/24".parse().unwrap(),
            cluster_cidr: "10.244.0.0/16".parse().unwrap(),
            mtu: 1450,
            state_root: root,
            plugins: CniPlugins::Podnet,
        }
    }

    #[test]
    fn the_conflist_configures_podnet_cni_for_the_nodes_pod_cidr() {
        let root = Path::new("/var/lib/podnet/nodes/podnet-node-2");
        let value: serde_json::Value = serde_json::from_str(&render(&inputs(root))).unwrap();
        assert_eq!(value["cniVersion"], "1.1.0");
        assert_eq!(value["name"], "podnet");
        let plugins = value["plugins"].as_array().unwrap();
        assert_eq!(plugins.len(), 1);
        let plugin = &plugins[0];
        assert_eq!(plugin["type"], "podnet-cni");
        assert_eq!(plugin["bridge"], "podnet0");
        assert_eq!(plugin["isGateway"], true);
        assert_eq!(plugin["isDefaultGateway"], true);
        assert_eq!(plugin["ipMasq"], false);
        assert_eq!(plugin["hairpinMode"], true);
        assert_eq!(plugin["mtu"], 1450);
        assert_eq!(plugin["clusterCIDRs"], json!(["10.244.0.0/16"]));
        assert_eq!(
            plugin["stateDir"],
            "/var/lib/podnet/nodes/podnet-node-2/cni/state"
        );
        assert_eq!(plugin["ipam"]["type"], "podnet-ipam");
        assert_eq!(
            plugin["ipam"]["ranges"],
            json!([[{"subnet": "10.244.2.0/24"}]])
        );
        assert_eq!(
            plugin["ipam"]["dataDir"],
            "/var/lib/podnet/nodes/podnet-node-2/cni/ipam"
        );
    }

    #[test]
    fn podnet_cni_accepts_the_plugin_config() {
        let text = render(&inputs(Path::new("/var/lib/podnet/nodes/n1")));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        // A runtime hands each plugin its entry plus the list's name and version.
        let mut plugin = value["plugins"][0].clone();
        plugin["name"] = value["name"].clone();
        plugin["cniVersion"] = value["cniVersion"].clone();
        let env = podnet_cni::env::CniEnv::from_lookup(|key| match key {
            "CNI_COMMAND" => Some("ADD".into()),
            "CNI_CONTAINERID" => Some("abc".into()),
            "CNI_NETNS" => Some("/run/netns/x".into()),
            "CNI_IFNAME" => Some("eth0".into()),
            "CNI_PATH" => Some("/opt/cni/bin".into()),
            _ => None,
        })
        .unwrap();
        let conf = podnet_cni::config::NetConf::parse(plugin.to_string().as_bytes(), &env).unwrap();
        assert_eq!(conf.bridge, "podnet0");
        assert!(conf.is_gateway && conf.is_default_gateway && conf.hairpin_mode);
        assert!(!conf.ip_masq);
        assert_eq!(conf.mtu, Some(1450));
        assert_eq!(conf.cluster_cidrs, vec!["10.244.0.0/16".parse().unwrap()]);
        assert_eq!(
            conf.state_dir,
            Path::new("/var/lib/podnet/nodes/n1/cni/state")
        );
    }

    #[test]
    fn the_file_is_written_once_and_replaced_only_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.d/10-podnet.conflist");
        assert!(write_if_changed(&path, "one\n").unwrap());
        assert!(!write_if_changed(&path, "one\n").unwrap());
        assert!(write_if_changed(&path, "two\n").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["10-podnet.conflist"], "no temporary file is left");
    }

    #[test]
    fn the_reference_plugins_get_the_same_network() {
        let dir = tempfile::tempdir().unwrap();
        let inputs = ConflistInputs {
            plugins: CniPlugins::Reference,
            ..inputs(dir.path())
        };
        let v: serde_json::Value = serde_json::from_str(&render(&inputs)).unwrap();
        assert_eq!(v["plugins"][0]["type"], "bridge");
        assert_eq!(v["plugins"][0]["bridge"], POD_BRIDGE);
        assert_eq!(v["plugins"][0]["mtu"], 1450);
        assert_eq!(v["plugins"][0]["ipam"]["type"], "host-local");
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.244.2.0/24"
        );
        assert_eq!(v["plugins"][1]["type"], "portmap");
    }
}

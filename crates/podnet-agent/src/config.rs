//! The agent's settings and the names it gives to what it creates.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::Ipv4Net;

/// How pod traffic reaches other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// A route per peer node's pod CIDR via the peer's underlay address; the
    /// nodes must share one link.
    HostGw,
    /// A VXLAN overlay: pod traffic to a peer is encapsulated towards the
    /// peer's underlay address.
    Vxlan,
}

impl Routing {
    pub fn as_str(self) -> &'static str {
        match self {
            Routing::HostGw => "host-gw",
            Routing::Vxlan => "vxlan",
        }
    }
}

impl std::str::FromStr for Routing {
    type Err = String;

    fn from_str(text: &str) -> Result<Routing, String> {
        match text {
            "host-gw" => Ok(Routing::HostGw),
            "vxlan" => Ok(Routing::Vxlan),
            other => Err(format!("unknown routing mode {other:?} (host-gw or vxlan)")),
        }
    }
}

impl std::fmt::Display for Routing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The VXLAN device of the overlay.
pub const VXLAN_DEVICE: &str = "podnet-vxlan";
/// The overlay's VXLAN network identifier.
pub const VXLAN_VNI: u32 = 1;
/// The overlay's UDP port (the Linux kernel's default, also flannel's).
pub const VXLAN_PORT: u16 = 8472;
/// Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers.
pub const VXLAN_OVERHEAD: u32 = 50;
/// The Node annotation that publishes a node's VTEP MAC to its peers.
pub const VTEP_MAC_ANNOTATION: &str = "podnet.io/vtep-mac";
/// The routing protocol number (`proto` in `ip route`) the agent's routes
/// carry, so it finds and removes its own routes and never others'.
pub const ROUTE_PROTOCOL: u8 = 113;
/// The nftables table of the node.
pub const NODE_TABLE: &str = "podnet-node";
/// The bridge podnet-cni attaches the node's pods to.
pub const POD_BRIDGE: &str = "podnet0";
/// The CNI network name in the conflist.
pub const NETWORK_NAME: &str = "podnet";
/// Where a node's state lives by default: `<this>/<node name>`.
pub const DEFAULT_STATE_PARENT: &str = "/var/lib/podnet/nodes";

/// The CNI plugins the node's conflist configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CniPlugins {
    /// podnet-cni with its built-in IPAM.
    #[default]
    Podnet,
    /// The reference `bridge` + `host-local` + `portmap` plugins, for comparison.
    Reference,
}

/// Everything the node part of the agent needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAgentConfig {
    pub node_name: String,
    /// The node's address on the underlay (its InternalIP).
    pub node_ip: Ipv4Addr,
    /// The interface the node reaches its peers through.
    pub underlay_interface: String,
    pub routing: Routing,
    /// Island (on: pod traffic leaving the cluster CIDR is SNATed to the node)
    /// or flat (off: pods are routed as they are).
    pub masquerade: bool,
    pub cluster_cidr: Ipv4Net,
    pub service_cidr: Ipv4Net,
    /// The node's directory: CNI config, IPAM and plugin state live under it.
    pub state_root: PathBuf,
    /// How long the node's Lease is valid after each renewal.
    pub lease_duration: Duration,
    /// How often the Lease is renewed and the node status recomputed.
    pub heartbeat: Duration,
    /// The underlay's MTU; `None` reads it from the interface.
    pub underlay_mtu: Option<u32>,
    pub cni_plugins: CniPlugins,
}

impl NodeAgentConfig {
    /// The defaults of a lab node: underlay `eth0`, host-gw, masquerade on,
    /// the address plan's CIDRs, a 40 s lease renewed every 10 s.
    pub fn new(node_name: impl Into<String>, node_ip: Ipv4Addr) -> NodeAgentConfig {
        let node_name = node_name.into();
        let state_root = Path::new(DEFAULT_STATE_PARENT).join(&node_name);
        NodeAgentConfig {
            node_name,
            node_ip,
            underlay_interface: "eth0".into(),
            routing: Routing::HostGw,
            masquerade: true,
            cluster_cidr: "10.244.0.0/16".parse().expect("valid CIDR"),
            service_cidr: "10.96.0.0/16".parse().expect("valid CIDR"),
            state_root,
            lease_duration: Duration::from_secs(40),
            heartbeat: Duration::from_secs(10),
            underlay_mtu: None,
            cni_plugins: CniPlugins::Podnet,
        }
    }

    pub fn conflist_path(&self) -> PathBuf {
        conflist_path(&self.state_root)
    }

    /// Checks what would otherwise fail later in less obvious ways.
    pub fn validate(&self) -> Result<(), String> {
        if self.node_name.is_empty() {
            return Err("node name is empty".into());
        }
        if self.heartbeat.is_zero() {
            return Err("heartbeat must be longer than zero".into());
        }
        if self.lease_duration < self.heartbeat {
            return Err(format!(
                "lease duration {:?} is shorter than the heartbeat {:?}",
                self.lease_duration, self.heartbeat
            ));
        }
        if self.lease_duration.as_secs() == 0 || self.lease_duration.as_secs() > i32::MAX as u64 {
            return Err(format!(
                "lease duration {:?} is not a whole number of seconds a Lease can hold",
                self.lease_duration
            ));
        }
        for (what, cidr) in [
            ("cluster", self.cluster_cidr),
            ("service", self.service_cidr),
        ] {
            if cidr.contains(&self.node_ip) {
                return Err(format!(
                    "node IP {} is inside the {what} CIDR {cidr}",
                    self.node_ip
                ));
            }
        }
        // Pod routes and the masquerade exemption cover the whole cluster
        // CIDR; Service addresses inside it would be routed to nodes.
        if self.cluster_cidr.contains(&self.service_cidr.network())
            || self.service_cidr.contains(&self.cluster_cidr.network())
        {
            return Err(format!(
                "the cluster CIDR {} and the service CIDR {} overlap",
                self.cluster_cidr, self.service_cidr
            ));
        }
        Ok(())
    }
}

/// The node's CNI network config: `<state_root>/cni/net.d/10-podnet.conflist`.
pub fn conflist_path(state_root: &Path) -> PathBuf {
    cni_dir(state_root).join("net.d").join("10-podnet.conflist")
}

/// The node's CNI directory: config, IPAM data and plugin state.
pub fn cni_dir(state_root: &Path) -> PathBuf {
    state_root.join("cni")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conflist_lives_in_the_nodes_own_cni_directory() {
        let config = NodeAgentConfig::new("podnet-node-2", Ipv4Addr::new(172, 30, 0, 12));
        assert_eq!(
            config.conflist_path(),
            Path::new("/var/lib/podnet/nodes/podnet-node-2/cni/net.d/10-podnet.conflist")
        );
        config.validate().unwrap();
    }

    #[test]
    fn routing_modes_parse_and_print_as_on_the_command_line() {
        for mode in [Routing::HostGw, Routing::Vxlan] {
            assert_eq!(mode.as_str().parse::<Routing>(), Ok(mode));
        }
        assert!("ipip".parse::<Routing>().unwrap_err().contains("ipip"));
    }

    #[test]
    fn a_lease_shorter_than_the_heartbeat_is_refused() {
        let mut config = NodeAgentConfig::new("n", Ipv4Addr::new(172, 30, 0, 11));
        config.lease_duration = Duration::from_secs(5);
        assert!(config.validate().unwrap_err().contains("lease duration"));
        let mut config = NodeAgentConfig::new("n", Ipv4Addr::new(10, 244, 3, 1));
        config.cluster_cidr = "10.244.0.0/16".parse().unwrap();
        assert!(config.validate().unwrap_err().contains("cluster CIDR"));
        let mut config = NodeAgentConfig::new("n", Ipv4Addr::new(172, 30, 0, 11));
        config.service_cidr = "10.244.128.0/20".parse().unwrap();
        assert!(config.validate().unwrap_err().contains("overlap"));
    }
}

//! The nftables service proxy: Services and EndpointSlices in, one `inet podnet-proxy`
//! table out.
//!
//! [`compile`] is the pure function from what the proxy knows ([`ServiceState`]) to the
//! desired [`Program`]; [`ServiceProxy`] keeps that program in the kernel, recompiling
//! only the Services touched since the last sync and applying each change as one small
//! transaction. [`trace`] runs simulated packets through a compiled table. The crate
//! README states the contract: table, hooks, priorities, mark, what is read.

mod compile;
mod layout;
mod proxy;
mod state;
#[cfg(test)]
mod tests;
pub mod trace;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

pub use compile::compile;
pub use proxy::{Error, ServiceProxy, SyncReport};
pub use state::ServiceState;

/// The table this crate owns (family inet).
pub const TABLE: &str = "podnet-proxy";
/// The packet mark bit that asks postrouting to masquerade.
pub const MASQUERADE_MARK: u32 = 0x4000;
/// Services carrying this label are served only by the proxy of that name.
pub const PROXY_NAME_LABEL: &str = "service.kubernetes.io/service-proxy-name";
/// The EndpointSlice label naming the Service a slice belongs to.
pub const SERVICE_NAME_LABEL: &str = podnet_model::labels::SERVICE_NAME;
/// sessionAffinityConfig.clientIP.timeoutSeconds when unset (3 hours).
pub const DEFAULT_AFFINITY_TIMEOUT_SECONDS: u32 = 10_800;

/// What this node's proxy needs to know beside the API objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    pub node_name: String,
    /// Pod CIDR(s) of the whole cluster: ClusterIP traffic from outside them is masqueraded.
    pub cluster_cidrs: Vec<ipnet::Ipv4Net>,
    /// Serve Services whose PROXY_NAME_LABEL equals this; None: only Services without the label.
    pub proxy_name: Option<String>,
    pub masquerade_mark: u32,
}

impl ProxyConfig {
    pub fn new(node_name: impl Into<String>, cluster_cidrs: Vec<ipnet::Ipv4Net>) -> Self {
        ProxyConfig {
            node_name: node_name.into(),
            cluster_cidrs,
            proxy_name: None,
            masquerade_mark: MASQUERADE_MARK,
        }
    }
}

/// The compiled program: the table plus what the agent needs beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub table: podnet_nft::Table,
    /// healthCheckNodePort -> the service and its node-local ready endpoint count.
    pub health_checks: BTreeMap<u16, HealthCheck>,
    /// Every LoadBalancer ingress IP this node proxies, with what announcing needs.
    pub load_balancers: Vec<LoadBalancerIp>,
    /// UDP (frontend, endpoint) pairs, to find stale conntrack entries when endpoints go.
    pub udp_targets: BTreeSet<UdpTarget>,
    pub stats: ProgramStats,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub namespace: String,
    pub name: String,
    pub local_endpoints: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoadBalancerIp {
    pub ip: Ipv4Addr,
    pub namespace: String,
    pub name: String,
    /// externalTrafficPolicy Local: only nodes with local ready endpoints should announce.
    pub local_only: bool,
    pub local_endpoints: usize,
    /// The Service's `spec.loadBalancerClass`: whoever implements that class announces
    /// the address; the proxy serves every class.
    pub class: Option<String>,
}

/// Where a connection was addressed before DNAT.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Frontend {
    /// A ClusterIP, external IP or LoadBalancer IP with the Service port.
    Ip(Ipv4Addr, u16),
    /// A NodePort on any local address.
    NodePort(u16),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UdpTarget {
    pub frontend: Frontend,
    pub endpoint: Ipv4Addr,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramStats {
    /// Services proxied (skipped ones not counted).
    pub services: usize,
    pub service_ports: usize,
    /// Usable endpoints summed over service ports.
    pub endpoints: usize,
    pub chains: usize,
    pub elements: usize,
    /// Services with only IPv6 cluster IPs, left alone by this IPv4 proxy.
    pub skipped_ipv6: usize,
}

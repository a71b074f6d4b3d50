//! The service proxy part of the agent: it replaces kube-proxy on the node.
//!
//! Services and EndpointSlices are watched and handed to the proxy engine
//! ([`engine`]), a thread that owns the `inet podnet-proxy` table through
//! [`podnet_proxy::ServiceProxy`]: it compiles only what changed and applies
//! it as one nftables transaction, removes stale UDP conntrack entries of
//! endpoints that went, and publishes what the other parts need in a
//! [`ProxyStatus`]. Beside it run the health check node ports of
//! externalTrafficPolicy Local services and the proxy's `/healthz` and
//! `/metrics` ([`health`]), and the announcement of LoadBalancer addresses
//! on the node network ([`announce`]).

pub mod announce;
pub mod engine;
pub mod health;
pub mod metrics;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::watch;

use crate::error::AgentError;
use engine::Change;

/// Where bridged pod traffic is handed to the IP hooks: without it, the
/// reply of a pod to a pod on the same bridge that reached it through a
/// Service skips the node's conntrack and is never un-NATed.
const BRIDGE_NF_CALL_IPTABLES: &str = "net.bridge.bridge-nf-call-iptables";

/// How the node's service proxy runs.
#[derive(Debug, Clone)]
pub struct ServiceProxyConfig {
    pub node_name: String,
    pub node_ip: Ipv4Addr,
    /// The cluster's pod CIDRs: ClusterIP traffic from elsewhere is masqueraded.
    pub cluster_cidrs: Vec<Ipv4Net>,
    /// Serve the Services whose `service.kubernetes.io/service-proxy-name`
    /// label says this; `None` serves the Services without that label.
    pub proxy_name: Option<String>,
    /// The interface LoadBalancer addresses are announced on.
    pub underlay_interface: String,
    /// Whether this node takes part in announcing LoadBalancer addresses.
    pub announce_load_balancers: bool,
    /// `/healthz` (kube-proxy's port is 10256); `None`: not served.
    pub healthz_address: Option<SocketAddr>,
    /// `/metrics` in the Prometheus text format; `None`: not served.
    pub metrics_address: Option<SocketAddr>,
    /// A full table replace this often repairs what something else changed.
    pub full_sync_every: Duration,
}

impl ServiceProxyConfig {
    pub fn new(node_name: impl Into<String>, node_ip: Ipv4Addr) -> ServiceProxyConfig {
        ServiceProxyConfig {
            node_name: node_name.into(),
            node_ip,
            cluster_cidrs: Vec::new(),
            proxy_name: None,
            underlay_interface: "eth0".into(),
            announce_load_balancers: true,
            healthz_address: Some(SocketAddr::from(([0, 0, 0, 0], 10256))),
            metrics_address: Some(SocketAddr::from(([0, 0, 0, 0], 10249))),
            full_sync_every: Duration::from_secs(60),
        }
    }

    fn proxy_config(&self) -> podnet_proxy::ProxyConfig {
        let mut config =
            podnet_proxy::ProxyConfig::new(self.node_name.clone(), self.cluster_cidrs.clone());
        config.proxy_name = self.proxy_name.clone();
        config
    }
}

/// What the engine last did, for health checks, `/healthz` and the announcer.
#[derive(Debug, Clone, Default)]
pub struct ProxyStatus {
    /// When the rules last reached the kernel.
    pub last_sync: Option<SystemTime>,
    /// A change the engine has not applied yet, since when (healthz turns
    /// unhealthy when this gets old).
    pub pending_since: Option<SystemTime>,
    /// The last failure, cleared by the next success.
    pub last_error: Option<String>,
    /// healthCheckNodePort -> service and node-local endpoint count.
    pub health_checks: Arc<BTreeMap<u16, podnet_proxy::HealthCheck>>,
    /// LoadBalancer addresses the proxy serves.
    pub load_balancers: Arc<Vec<podnet_proxy::LoadBalancerIp>>,
    /// For the externalTrafficPolicy Local ones among them: the nodes with
    /// ready endpoints, which alone may announce them.
    pub endpoint_nodes: Arc<BTreeMap<(String, String), BTreeSet<String>>>,
}

/// Runs the service proxy in the calling process's network namespace until
/// `shutdown` completes. The table stays when it stops, so a restarted
/// proxy takes over from rules that kept working meanwhile.
pub async fn run(
    client: Client,
    config: ServiceProxyConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    enable_bridge_netfilter()?;
    let metrics = Arc::new(metrics::ProxyMetrics::new());
    let (status_tx, status_rx) = watch::channel(ProxyStatus::default());
    let (changes, engine) = engine::start(
        config.proxy_config(),
        config.full_sync_every,
        status_tx,
        Arc::clone(&metrics),
    )?;
    tracing::info!(node = %config.node_name, proxy_name = ?config.proxy_name, "service proxy starting");

    let services = forward(
        Api::<Service>::all(client.clone()),
        changes.clone(),
        "services",
        Change::Service,
        Change::ServiceGone,
        Change::Services,
    );
    let slices = forward(
        Api::<EndpointSlice>::all(client.clone()),
        changes.clone(),
        "endpointslices",
        Change::Slice,
        Change::SliceGone,
        Change::Slices,
    );
    let health_checks = health::serve_health_checks(status_rx.clone());
    let healthz = health::serve_healthz(
        config.healthz_address,
        config.metrics_address,
        status_rx.clone(),
        Arc::clone(&metrics),
        config.full_sync_every,
    );
    let holder = Arc::new(announce::AddressHolder::new(&config.underlay_interface));
    let announcer = announce::run(client, config.clone(), status_rx, Arc::clone(&holder));
    let outcome = tokio::select! {
        () = shutdown => Ok(()),
        error = services => Err(error),
        error = slices => Err(error),
        result = health_checks => result,
        result = healthz => result,
        result = announcer => result,
    };
    if config.announce_load_balancers {
        // Another node takes the addresses over once this one is not Ready.
        let withdrawn = tokio::task::spawn_blocking(move || holder.withdraw()).await;
        if !matches!(withdrawn, Ok(Ok(()))) {
            tracing::warn!("could not withdraw the LoadBalancer addresses: {withdrawn:?}");
        }
    }
    let _ = changes.send(Change::Stop);
    let joined = tokio::task::spawn_blocking(move || engine.join()).await;
    if !matches!(joined, Ok(Ok(()))) {
        tracing::warn!("the service proxy engine did not stop cleanly");
    }
    outcome
}

/// Feeds one kind's watch into the engine: a whole list after every
/// (re)list, then single changes. Returns only when the watch ends.
async fn forward<K>(
    api: Api<K>,
    changes: std::sync::mpsc::Sender<Change>,
    resource: &'static str,
    applied: fn(K) -> Change,
    deleted: fn(K) -> Change,
    listed: fn(Vec<K>) -> Change,
) -> AgentError
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let mut events = podnet_controllers::watch::events(api, watcher::Config::default(), resource);
    let mut listing: Vec<K> = Vec::new();
    while let Some(event) = events.next().await {
        let change = match event {
            watcher::Event::Init => {
                listing.clear();
                continue;
            }
            watcher::Event::InitApply(object) => {
                listing.push(object);
                continue;
            }
            watcher::Event::InitDone => listed(std::mem::take(&mut listing)),
            watcher::Event::Apply(object) => applied(object),
            watcher::Event::Delete(object) => deleted(object),
        };
        if changes.send(change).is_err() {
            return AgentError::Task {
                context: format!("forward {resource} to the service proxy"),
                message: "the proxy engine stopped".into(),
            };
        }
    }
    AgentError::WatchEnded(resource)
}

/// Turns on the hand-over of bridged IPv4 traffic to the IP hooks in this
/// namespace when the kernel has bridge netfilter at all.
fn enable_bridge_netfilter() -> Result<(), AgentError> {
    if !std::path::Path::new("/proc/sys/net/bridge").exists() {
        tracing::warn!(
            "no bridge netfilter in this kernel: a pod reaching a pod on its own bridge through a Service gets no reply"
        );
        return Ok(());
    }
    podnet_netlink::sysctl::set(BRIDGE_NF_CALL_IPTABLES, "1").map_err(AgentError::netlink(format!(
        "set {BRIDGE_NF_CALL_IPTABLES}"
    )))
}

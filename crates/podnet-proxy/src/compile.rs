//! From Services and EndpointSlices to the table: one fragment per Service, assembled
//! into the shared layout.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use podnet_nft::{Chain, Set, SetFlag, Table};

use crate::layout::{self, hashed_name, set_mark, SetId, SlotFamily, SlotNames};
use crate::state::{ObjectKey, ServiceState};
use crate::{
    Frontend, HealthCheck, LoadBalancerIp, Program, ProgramStats, ProxyConfig, UdpTarget,
    DEFAULT_AFFINITY_TIMEOUT_SECONDS, PROXY_NAME_LABEL,
};

/// Services with this label are left to whoever manages them (kube-proxy ignores them too).
use podnet_model::labels::HEADLESS as HEADLESS_LABEL;

/// Everything one Service contributes to the program.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fragment {
    /// (set, element key, value for maps) in shared sets and maps.
    pub elements: Vec<(SetId, String, Option<String>)>,
    /// Chains and sets owned by this Service alone (session affinity, firewall).
    pub chains: Vec<Chain>,
    pub sets: Vec<Set>,
    /// Largest endpoint count going through the shared slots (0: none).
    pub max_slot_endpoints: usize,
    pub health_check: Option<(u16, HealthCheck)>,
    pub load_balancers: Vec<LoadBalancerIp>,
    pub udp_targets: Vec<UdpTarget>,
    pub service_ports: usize,
    pub endpoints: usize,
    /// The Service has only IPv6 cluster IPs: nothing else is filled in.
    pub ipv6_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Endpoint {
    ip: Ipv4Addr,
    port: u16,
}

#[derive(Debug, Clone, Copy)]
struct Conditions {
    ready: bool,
    serving: bool,
    terminating: bool,
    local: bool,
}

fn protocol_name(port: &ServicePort) -> Option<&'static str> {
    match port.protocol.as_deref().unwrap_or("TCP") {
        "TCP" => Some("tcp"),
        "UDP" => Some("udp"),
        "SCTP" => Some("sctp"),
        _ => None,
    }
}

/// The IPv4 ClusterIP, `Err(())` when the Service has only IPv6 ones, `Ok(None)` when it
/// has none (headless).
fn ipv4_cluster_ip(service: &Service) -> Result<Option<Ipv4Addr>, ()> {
    let Some(spec) = &service.spec else {
        return Ok(None);
    };
    let mut ips: Vec<&str> = spec
        .cluster_ips
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if let Some(ip) = spec.cluster_ip.as_deref() {
        ips.insert(0, ip);
    }
    let ips: Vec<&str> = ips
        .into_iter()
        .filter(|ip| !ip.is_empty() && *ip != "None")
        .collect();
    if ips.is_empty() {
        return Ok(None);
    }
    match ips.iter().find_map(|ip| ip.parse::<Ipv4Addr>().ok()) {
        Some(ip) => Ok(Some(ip)),
        None => Err(()),
    }
}

/// The endpoints of one Service port, deduplicated by address and port across slices.
fn port_endpoints(
    slices: &[&EndpointSlice],
    port: &ServicePort,
    config: &ProxyConfig,
) -> BTreeMap<Endpoint, Conditions> {
    let name = port.name.as_deref().unwrap_or_default();
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    let mut found = BTreeMap::new();
    for slice in slices {
        if slice.address_type != "IPv4" {
            continue;
        }
        let Some(slice_port) = slice.ports.iter().flatten().find(|p| {
            p.name.as_deref().unwrap_or_default() == name
                && p.protocol.as_deref().unwrap_or("TCP") == protocol
        }) else {
            continue;
        };
        let Some(number) = slice_port.port.and_then(|p| u16::try_from(p).ok()) else {
            continue;
        };
        for endpoint in &slice.endpoints {
            let conditions = endpoint.conditions.as_ref();
            let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
            // As kube-proxy reads them: a missing serving is true, and only
            // the first address counts.
            let serving = conditions.and_then(|c| c.serving).unwrap_or(true);
            let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
            let local = endpoint.node_name.as_deref() == Some(config.node_name.as_str());
            if let Some(address) = endpoint.addresses.first() {
                let Ok(ip) = address.parse::<Ipv4Addr>() else {
                    continue;
                };
                found
                    .entry(Endpoint { ip, port: number })
                    .or_insert(Conditions {
                        ready,
                        serving,
                        terminating,
                        local,
                    });
            }
        }
    }
    found
}

/// Ready endpoints among those `keep` accepts; if there are none, the serving and
/// terminating ones (traffic keeps flowing during rollouts).
fn usable(
    endpoints: &BTreeMap<Endpoint, Conditions>,
    keep: impl Fn(&Conditions) -> bool,
) -> Vec<Endpoint> {
    let ready: Vec<Endpoint> = endpoints
        .iter()
        .filter(|(_, c)| keep(c) && c.ready)
        .map(|(e, _)| *e)
        .collect();
    if !ready.is_empty() {
        return ready;
    }
    endpoints
        .iter()
        .filter(|(_, c)| keep(c) && c.serving && c.terminating)
        .map(|(e, _)| *e)
        .collect()
}

fn endpoint_text(endpoint: &Endpoint) -> String {
    format!("{} . {}", endpoint.ip, endpoint.port)
}

/// Whether this proxy serves the Service at all.
fn is_served(service: &Service, config: &ProxyConfig) -> bool {
    let labels = service.metadata.labels.as_ref();
    let proxy_name = labels
        .and_then(|l| l.get(PROXY_NAME_LABEL))
        .map(String::as_str);
    if proxy_name != config.proxy_name.as_deref() {
        return false;
    }
    if labels.is_some_and(|l| l.contains_key(HEADLESS_LABEL)) {
        return false;
    }
    let Some(spec) = &service.spec else {
        return false;
    };
    spec.type_.as_deref() != Some("ExternalName")
}

/// The Service's fragment, or `None` when this proxy does not serve it.
pub(crate) fn compile_service(
    key: &ObjectKey,
    service: &Service,
    slices: &[&EndpointSlice],
    config: &ProxyConfig,
) -> Option<Fragment> {
    if !is_served(service, config) {
        return None;
    }
    let spec = service.spec.as_ref()?;
    let cluster_ip = match ipv4_cluster_ip(service) {
        Ok(Some(ip)) => ip,
        Ok(None) => return None,
        Err(()) => {
            return Some(Fragment {
                ipv6_only: true,
                ..Fragment::default()
            })
        }
    };
    let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
    let is_load_balancer = kind == "LoadBalancer";
    let has_node_ports = kind == "NodePort" || is_load_balancer;
    let external_local = spec.external_traffic_policy.as_deref() == Some("Local");
    let internal_local = spec.internal_traffic_policy.as_deref() == Some("Local");
    let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(DEFAULT_AFFINITY_TIMEOUT_SECONDS)
    });

    let mut lb_ips: Vec<Ipv4Addr> = Vec::new();
    if is_load_balancer {
        let ingress = service
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref());
        for entry in ingress.into_iter().flatten() {
            // With ipMode Proxy the load balancer delivers to the node, not to the IP.
            if entry.ip_mode.as_deref() == Some("Proxy") {
                continue;
            }
            if let Some(ip) = entry.ip.as_deref().and_then(|ip| ip.parse().ok()) {
                if !lb_ips.contains(&ip) {
                    lb_ips.push(ip);
                }
            }
        }
    }
    let mut external_ips: Vec<Ipv4Addr> = spec
        .external_ips
        .iter()
        .flatten()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    external_ips.extend(lb_ips.iter().copied());
    external_ips.sort();
    external_ips.dedup();

    let mut fragment = Fragment::default();
    let mut local_ready_ips = BTreeSet::new();
    let mut hairpin_ips = BTreeSet::new();

    for port in spec.ports.iter().flatten() {
        let Some(protocol) = protocol_name(port) else {
            continue;
        };
        let Ok(service_port) = u16::try_from(port.port) else {
            continue;
        };
        let node_port = port
            .node_port
            .filter(|_| has_node_ports)
            .and_then(|p| u16::try_from(p).ok());
        fragment.service_ports += 1;
        let endpoints = port_endpoints(slices, port, config);
        local_ready_ips.extend(
            endpoints
                .iter()
                .filter(|(_, c)| c.local && c.ready)
                .map(|(e, _)| e.ip),
        );
        let cluster = usable(&endpoints, |_| true);
        let local = usable(&endpoints, |c| c.local);
        fragment.endpoints += cluster.len();
        for endpoint in cluster.iter().chain(&local) {
            if endpoints[endpoint].local {
                hairpin_ips.insert(endpoint.ip);
            }
        }

        let id = format!("{}/{}/{protocol}/{service_port}", key.namespace, key.name);
        let has_external = !external_ips.is_empty() || node_port.is_some();
        let needs_local = !local.is_empty() && (internal_local || (external_local && has_external));
        let mut port_compiler = PortCompiler {
            fragment: &mut fragment,
            config,
            id: &id,
            protocol,
            cluster: &cluster,
            local: &local,
            own_chains: affinity_timeout.is_some()
                || cluster.len() > layout::MAX_SHARED_SLOTS
                || local.len() > layout::MAX_SHARED_SLOTS,
        };
        if port_compiler.own_chains {
            port_compiler.own_chains(affinity_timeout, needs_local, has_external, &endpoints);
        }

        // ClusterIP.
        let ip_key = |ip: Ipv4Addr| format!("{ip} . {protocol} . {service_port}");
        let cluster_key = ip_key(cluster_ip);
        port_compiler.element(layout::CLUSTER_IPS, cluster_ip.to_string(), None);
        if internal_local {
            match port_compiler.target(SlotFamily::Local, &cluster_key) {
                Some(target) => port_compiler.verdict(layout::SERVICE_IPS, &cluster_key, &target),
                None if cluster.is_empty() => {
                    port_compiler.reject(layout::NO_ENDPOINT_SERVICES, &cluster_key)
                }
                None => port_compiler.element(
                    layout::NO_ENDPOINT_SERVICES,
                    cluster_key.clone(),
                    Some("drop".into()),
                ),
            }
        } else {
            match port_compiler.target(SlotFamily::Cluster, &cluster_key) {
                Some(target) => port_compiler.verdict(layout::SERVICE_IPS, &cluster_key, &target),
                None => port_compiler.reject(layout::NO_ENDPOINT_SERVICES, &cluster_key),
            }
        }

        // External IPs and LoadBalancer IPs.
        for ip in &external_ips {
            let key = ip_key(*ip);
            port_compiler.external(
                &key,
                external_local,
                [
                    layout::SERVICE_IPS,
                    layout::POD_SHORT_CIRCUIT_IPS,
                    layout::NODE_SHORT_CIRCUIT_IPS,
                    layout::NO_ENDPOINT_SERVICES,
                ],
                SlotFamily::Cluster,
                SlotFamily::Local,
            );
        }
        if let Some(node_port) = node_port {
            let key = format!("{protocol} . {node_port}");
            port_compiler.external(
                &key,
                external_local,
                [
                    layout::SERVICE_NODEPORTS,
                    layout::POD_SHORT_CIRCUIT_NODEPORTS,
                    layout::NODE_SHORT_CIRCUIT_NODEPORTS,
                    layout::NO_ENDPOINT_NODEPORTS,
                ],
                SlotFamily::NodePortCluster,
                SlotFamily::NodePortLocal,
            );
        }
        if is_load_balancer && !lb_ips.is_empty() {
            port_compiler.firewall(
                spec.load_balancer_source_ranges.as_deref(),
                &lb_ips,
                service_port,
            );
        }

        if protocol == "udp" {
            let mut frontends = vec![Frontend::Ip(cluster_ip, service_port)];
            frontends.extend(
                external_ips
                    .iter()
                    .map(|ip| Frontend::Ip(*ip, service_port)),
            );
            frontends.extend(node_port.map(Frontend::NodePort));
            // Every serving endpoint keeps its flows, also a terminating one that new
            // connections no longer reach while ready ones exist: graceful termination.
            let targets: BTreeSet<Ipv4Addr> = endpoints
                .iter()
                .filter(|(_, c)| c.serving)
                .map(|(e, _)| e.ip)
                .collect();
            for frontend in frontends {
                for endpoint in &targets {
                    fragment.udp_targets.push(UdpTarget {
                        frontend: frontend.clone(),
                        endpoint: *endpoint,
                    });
                }
            }
        }
    }

    for ip in hairpin_ips {
        fragment
            .elements
            .push((layout::HAIRPIN.into(), format!("{ip} . {ip}"), None));
    }
    let local_endpoints = local_ready_ips.len();
    let namespace = key.namespace.clone();
    let name = key.name.clone();
    if is_load_balancer && external_local {
        if let Some(port) = spec
            .health_check_node_port
            .and_then(|p| u16::try_from(p).ok())
        {
            fragment.health_check = Some((
                port,
                HealthCheck {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    local_endpoints,
                },
            ));
        }
    }
    fragment.load_balancers = lb_ips
        .iter()
        .map(|ip| LoadBalancerIp {
            ip: *ip,
            namespace: namespace.clone(),
            name: name.clone(),
            local_only: external_local,
            local_endpoints,
            class: spec.load_balancer_class.clone(),
        })
        .collect();
    fragment.elements.sort();
    fragment.elements.dedup();
    Some(fragment)
}

/// Compiles one Service port into its fragment.
struct PortCompiler<'a> {
    fragment: &'a mut Fragment,
    config: &'a ProxyConfig,
    id: &'a str,
    protocol: &'a str,
    cluster: &'a [Endpoint],
    local: &'a [Endpoint],
    /// Endpoints chosen in chains of this Service port (session affinity, or more
    /// endpoints than the shared slots hold) instead of the shared slot maps.
    own_chains: bool,
}

impl PortCompiler<'_> {
    fn element(&mut self, set: impl Into<SetId>, key: String, value: Option<String>) {
        self.fragment.elements.push((set.into(), key, value));
    }

    fn verdict(&mut self, map: &'static str, key: &str, chain: &str) {
        self.element(map, key.to_string(), Some(format!("goto {chain}")));
    }

    fn reject(&mut self, map: &'static str, key: &str) {
        self.verdict(map, key, layout::REJECT_CHAIN);
    }

    fn endpoints_of(&self, family: SlotFamily) -> &[Endpoint] {
        match family {
            SlotFamily::Cluster | SlotFamily::NodePortCluster => self.cluster,
            SlotFamily::Local | SlotFamily::NodePortLocal => self.local,
        }
    }

    /// The chain choosing among the family's endpoints for this frontend, with the slot
    /// elements it needs; `None` without endpoints.
    fn target(&mut self, family: SlotFamily, key: &str) -> Option<String> {
        let endpoints = self.endpoints_of(family).to_vec();
        if endpoints.is_empty() {
            return None;
        }
        if self.own_chains {
            return Some(self.own_chain(family));
        }
        for (slot, endpoint) in endpoints.iter().enumerate() {
            self.element(
                SetId::Slot(family, slot),
                key.to_string(),
                Some(endpoint_text(endpoint)),
            );
        }
        self.fragment.max_slot_endpoints = self.fragment.max_slot_endpoints.max(endpoints.len());
        Some(family.pick(endpoints.len()))
    }

    /// Like `target`, for external traffic of the cluster path: marked for masquerade.
    fn masquerade_target(&mut self, family: SlotFamily, key: &str) -> Option<String> {
        let plain = self.target(family, key)?;
        if self.own_chains {
            return Some(hashed_name("external", self.id));
        }
        debug_assert!(!plain.is_empty());
        Some(family.masquerade_pick(self.endpoints_of(family).len()))
    }

    fn own_chain(&self, family: SlotFamily) -> String {
        match family {
            SlotFamily::Cluster | SlotFamily::NodePortCluster => hashed_name("svc", self.id),
            SlotFamily::Local | SlotFamily::NodePortLocal => hashed_name("local", self.id),
        }
    }

    /// An external frontend (external IP, LoadBalancer IP or NodePort): maps are
    /// [dispatch, pod short-circuit, node short-circuit, no-endpoint].
    fn external(
        &mut self,
        key: &str,
        external_local: bool,
        maps: [&'static str; 4],
        cluster_family: SlotFamily,
        local_family: SlotFamily,
    ) {
        let [dispatch, pods, node, no_endpoints] = maps;
        if self.cluster.is_empty() {
            self.reject(no_endpoints, key);
            return;
        }
        if !external_local {
            let target = self
                .masquerade_target(cluster_family, key)
                .expect("cluster endpoints exist");
            self.verdict(dispatch, key, &target);
            return;
        }
        let direct = self
            .target(cluster_family, key)
            .expect("cluster endpoints exist");
        self.verdict(pods, key, &direct);
        let masqueraded = self
            .masquerade_target(cluster_family, key)
            .expect("cluster endpoints exist");
        self.verdict(node, key, &masqueraded);
        match self.target(local_family, key) {
            Some(target) => self.verdict(dispatch, key, &target),
            None => self.element(no_endpoints, key.to_string(), Some("drop".into())),
        }
    }

    /// kube-proxy style chains: one chain per endpoint (with sessionAffinity ClientIP,
    /// recording the client in the endpoint's affinity set), and per-policy chains that
    /// (with affinity, send known clients back to their endpoint, then) choose at random.
    fn own_chains(
        &mut self,
        affinity_timeout: Option<u32>,
        needs_local: bool,
        has_external: bool,
        all: &BTreeMap<Endpoint, Conditions>,
    ) {
        let mut endpoint_chains = BTreeMap::new();
        for endpoint in self.cluster.iter().chain(self.local) {
            if endpoint_chains.contains_key(endpoint) {
                continue;
            }
            let readable = format!("{}__{}/{}", self.id, endpoint.ip, endpoint.port);
            let chain_name = hashed_name("endpoint", &readable);
            let mut chain = Chain::new(&chain_name);
            let set = affinity_timeout.map(|timeout| {
                let set = hashed_name("affinity", &readable);
                self.fragment.sets.push(
                    Set::new(&set, "ipv4_addr")
                        .with_flag(SetFlag::Dynamic)
                        .with_flag(SetFlag::Timeout)
                        .with_timeout(Duration::from_secs(u64::from(timeout))),
                );
                chain.push_rule(format!("update @{set} {{ ip saddr }}"));
                set
            });
            chain.push_rule(format!(
                "meta l4proto {} dnat ip to {}:{}",
                self.protocol, endpoint.ip, endpoint.port
            ));
            self.fragment.chains.push(chain);
            endpoint_chains.insert(*endpoint, (chain_name, set));
        }
        debug_assert!(endpoint_chains.keys().all(|e| all.contains_key(e)));
        let policy_chain = |name: String, endpoints: &[Endpoint]| {
            let mut chain = Chain::new(name);
            for endpoint in endpoints {
                if let (target, Some(set)) = &endpoint_chains[endpoint] {
                    chain.push_rule(format!("ip saddr @{set} goto {target}"));
                }
            }
            let targets: Vec<String> = endpoints
                .iter()
                .map(|e| endpoint_chains[e].0.clone())
                .collect();
            chain.push_rule(layout::random_goto(&targets));
            chain
        };
        if !self.cluster.is_empty() {
            let svc = hashed_name("svc", self.id);
            self.fragment
                .chains
                .push(policy_chain(svc.clone(), self.cluster));
            if has_external {
                self.fragment
                    .chains
                    .push(
                        Chain::new(hashed_name("external", self.id)).with_rule(format!(
                            "{} goto {svc}",
                            set_mark(self.config.masquerade_mark)
                        )),
                    );
            }
        }
        if needs_local {
            self.fragment
                .chains
                .push(policy_chain(hashed_name("local", self.id), self.local));
        }
    }

    /// loadBalancerSourceRanges: LoadBalancer traffic from other sources is dropped.
    fn firewall(&mut self, ranges: Option<&[String]>, lb_ips: &[Ipv4Addr], port: u16) {
        let Some(ranges) = ranges.filter(|r| !r.is_empty()) else {
            return;
        };
        let allowed: Vec<ipnet::Ipv4Net> = ranges
            .iter()
            .filter_map(|range| range.trim().parse::<ipnet::Ipv4Net>().ok())
            .collect();
        let chain = hashed_name("firewall", self.id);
        let rule = if allowed.is_empty() {
            // Only IPv6 ranges: no IPv4 source is allowed.
            "drop".to_string()
        } else {
            let list: Vec<String> = ipnet::Ipv4Net::aggregate(&allowed)
                .iter()
                .map(ToString::to_string)
                .collect();
            format!("ip saddr != {{ {} }} drop", list.join(", "))
        };
        self.fragment
            .chains
            .push(Chain::new(&chain).with_rule(rule));
        for ip in lb_ips {
            let key = format!("{ip} . {} . {port}", self.protocol);
            self.verdict(layout::FIREWALL_IPS, &key, &chain);
        }
    }
}

/// Pure: the whole desired program for this state.
pub fn compile(state: &ServiceState, config: &ProxyConfig) -> Program {
    Assembly::build(state, config).program
}

/// Element changes: (set, key) -> (value before, value after), `None` for absent.
pub(crate) type ElementChanges =
    BTreeMap<(String, String), (Option<Option<String>>, Option<Option<String>>)>;

/// What one incremental update changed, to be turned into a small transaction.
#[derive(Debug, Default)]
pub(crate) struct Delta {
    pub elements: ElementChanges,
    /// Chains and sets before and after, for those that were added, removed or replaced.
    pub old_chains: BTreeMap<String, Chain>,
    pub new_chains: BTreeMap<String, Chain>,
    pub old_sets: BTreeMap<String, Set>,
    pub new_sets: BTreeMap<String, Set>,
    pub stale_udp: Vec<UdpTarget>,
}

impl Delta {
    fn record_element(
        &mut self,
        set: &str,
        key: &str,
        before: Option<Option<String>>,
        after: Option<Option<String>>,
    ) {
        self.elements
            .entry((set.to_string(), key.to_string()))
            .and_modify(|change| change.1 = after.clone())
            .or_insert((before, after));
    }

    /// Whether a chain keeps its name but changes what the kernel cannot change in place
    /// (base hook or comment): a diff would then replace the whole table with the
    /// delta's few objects, so such a change needs a full sync instead.
    pub fn recreates_chains(&self) -> bool {
        self.old_chains.iter().any(|(name, old)| {
            self.new_chains
                .get(name)
                .is_some_and(|new| new.base != old.base || new.comment != old.comment)
        })
    }

    /// Whether only elements of existing sets change.
    pub fn is_element_only(&self) -> bool {
        self.old_chains.keys().eq(self.new_chains.keys())
            && self
                .old_chains
                .iter()
                .all(|(name, chain)| self.new_chains[name] == *chain)
            && self.old_sets.keys().eq(self.new_sets.keys())
            && self
                .old_sets
                .iter()
                .all(|(name, set)| self.new_sets[name] == *set)
    }
}

/// The program with the bookkeeping to change it one Service at a time.
#[derive(Debug, Clone)]
pub(crate) struct Assembly {
    config: ProxyConfig,
    fragments: BTreeMap<ObjectKey, Fragment>,
    /// (set, key) -> the Services contributing it. The first Service's value is the one
    /// in the table, so that conflicts resolve the same way whatever order the changes
    /// came in; the values themselves stay in the fragments and the table.
    contributions: HashMap<(SetId, String), Contributors>,
    slot_names: SlotNames,
    /// Largest slot endpoint count -> number of Services with it.
    slot_counts: BTreeMap<usize, usize>,
    udp_counts: HashMap<UdpTarget, usize>,
    /// Services with health checks or LoadBalancer IPs.
    announced: BTreeSet<ObjectKey>,
    skipped_ipv6: usize,
    slots: usize,
    pub program: Program,
}

/// The Services contributing one element, in key order. Nearly every element has one.
#[derive(Debug, Clone)]
enum Contributors {
    One(Arc<ObjectKey>),
    Many(Vec<Arc<ObjectKey>>),
}

impl Contributors {
    fn first(&self) -> &Arc<ObjectKey> {
        match self {
            Contributors::One(key) => key,
            Contributors::Many(keys) => &keys[0],
        }
    }

    fn insert(&mut self, key: &Arc<ObjectKey>) {
        match self {
            Contributors::One(existing) if existing == key => {}
            Contributors::One(existing) => {
                let mut keys = vec![existing.clone(), key.clone()];
                keys.sort();
                *self = Contributors::Many(keys);
            }
            Contributors::Many(keys) => {
                if let Err(at) = keys.binary_search(key) {
                    keys.insert(at, key.clone());
                }
            }
        }
    }

    /// Removes the Service; true when none is left.
    fn remove(&mut self, key: &ObjectKey) -> bool {
        match self {
            Contributors::One(existing) => **existing == *key,
            Contributors::Many(keys) => {
                keys.retain(|k| **k != *key);
                if keys.len() == 1 {
                    let last = keys[0].clone();
                    *self = Contributors::One(last);
                    return false;
                }
                keys.is_empty()
            }
        }
    }
}

fn slots_of(counts: &BTreeMap<usize, usize>) -> usize {
    layout::slots_for(counts.keys().next_back().copied().unwrap_or(0))
}

impl Assembly {
    pub fn build(state: &ServiceState, config: &ProxyConfig) -> Assembly {
        let mut fragments = BTreeMap::new();
        for key in state.service_keys() {
            let service = state.service_by_key(key).expect("key listed by the state");
            if let Some(fragment) = compile_service(key, service, &state.slices_of(key), config) {
                fragments.insert(key.clone(), fragment);
            }
        }
        // The slot maps are sized before the fragments go in; insert_fragment
        // alone keeps the counts, so a later removal can shrink them again.
        let slots = layout::slots_for(
            fragments
                .values()
                .map(|fragment| fragment.max_slot_endpoints)
                .max()
                .unwrap_or(0),
        );
        let mut slot_names = SlotNames::default();
        slot_names.grow_to(slots);
        let mut assembly = Assembly {
            config: config.clone(),
            fragments: BTreeMap::new(),
            contributions: HashMap::new(),
            slot_names,
            slot_counts: BTreeMap::new(),
            udp_counts: HashMap::new(),
            announced: BTreeSet::new(),
            skipped_ipv6: 0,
            slots,
            program: Program {
                table: layout::base_table(config, slots),
                health_checks: BTreeMap::new(),
                load_balancers: Vec::new(),
                udp_targets: BTreeSet::new(),
                stats: ProgramStats::default(),
            },
        };
        for (key, fragment) in fragments {
            assembly.insert_fragment(&key, fragment, None);
        }
        assembly.finish();
        assembly
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// Recompiles the given Services from the state and applies the result to the
    /// program, returning what changed.
    pub fn update(&mut self, state: &ServiceState, touched: &BTreeSet<ObjectKey>) -> Delta {
        let mut delta = Delta::default();
        let mut replacements = Vec::with_capacity(touched.len());
        for key in touched {
            let fragment = state.service_by_key(key).and_then(|service| {
                compile_service(key, service, &state.slices_of(key), &self.config)
            });
            if self.fragments.get(key) == fragment.as_ref() {
                continue;
            }
            replacements.push((key.clone(), fragment));
        }
        if replacements.is_empty() {
            return delta;
        }
        // Slot structure first grows to what the new fragments need...
        let mut counts = self.slot_counts.clone();
        for (key, fragment) in &replacements {
            if let Some(old) = self.fragments.get(key) {
                uncount(&mut counts, old.max_slot_endpoints);
            }
            if let Some(new) = fragment {
                count(&mut counts, new.max_slot_endpoints);
            }
        }
        let new_slots = slots_of(&counts);
        if new_slots > self.slots {
            self.restructure(new_slots, &mut delta);
        }
        for (key, fragment) in replacements {
            if let Some(old) = self.fragments.remove(&key) {
                self.remove_fragment(&key, old, &mut delta);
            }
            if let Some(new) = fragment {
                self.insert_fragment(&key, new, Some(&mut delta));
            }
        }
        // ...and shrinks once no Service uses the slots any more.
        if new_slots < self.slots {
            self.restructure(new_slots, &mut delta);
        }
        // A replaced fragment gives up its targets before the new one takes them
        // again: only targets no fragment holds now are stale, or live flows to
        // endpoints that stay would be cut.
        let udp_targets = &self.program.udp_targets;
        delta
            .stale_udp
            .retain(|target| !udp_targets.contains(target));
        self.finish();
        delta
    }

    /// Adds or removes the shared slot chains and maps for a new slot count.
    fn restructure(&mut self, slots: usize, delta: &mut Delta) {
        let before = layout::base_table(&self.config, self.slots);
        let after = layout::base_table(&self.config, slots);
        self.slot_names.grow_to(slots);
        let table = &mut self.program.table;
        for (name, chain) in &before.chains {
            if !after.chains.contains_key(name) {
                table.chains.remove(name);
                delta
                    .old_chains
                    .entry(name.clone())
                    .or_insert_with(|| chain.clone());
            }
        }
        for (name, chain) in &after.chains {
            if !before.chains.contains_key(name) {
                table.add_chain(chain.clone());
                delta.new_chains.insert(name.clone(), chain.clone());
            }
        }
        for name in before.sets.keys() {
            if !after.sets.contains_key(name) {
                let old = table.sets.remove(name).expect("slot map exists");
                delta.old_sets.entry(name.clone()).or_insert(old);
            }
        }
        for (name, set) in &after.sets {
            if !before.sets.contains_key(name) {
                table.add_set(set.clone());
                delta.new_sets.insert(name.clone(), set.clone());
            }
        }
        self.slots = slots;
    }

    /// Adds the fragment's elements, chains and sets; `delta` records what changed
    /// (`None` while building, when nothing is in the kernel to change).
    fn insert_fragment(
        &mut self,
        key: &ObjectKey,
        fragment: Fragment,
        mut delta: Option<&mut Delta>,
    ) {
        let owner = Arc::new(key.clone());
        for (set, element, value) in &fragment.elements {
            let name = self.slot_names.name(*set);
            let table_set = self
                .program
                .table
                .sets
                .get_mut(name)
                .expect("fragment sets exist");
            let becomes_first = match self.contributions.entry((*set, element.clone())) {
                Entry::Vacant(vacant) => {
                    vacant.insert(Contributors::One(owner.clone()));
                    true
                }
                Entry::Occupied(occupied) => {
                    let contributors = occupied.into_mut();
                    contributors.insert(&owner);
                    **contributors.first() == *key
                }
            };
            if !becomes_first {
                continue;
            }
            let before = table_set.elements.insert(element.clone(), value.clone());
            if before.as_ref() != Some(value) {
                if let Some(delta) = delta.as_deref_mut() {
                    delta.record_element(name, element, before, Some(value.clone()));
                }
            }
        }
        for chain in &fragment.chains {
            self.program.table.add_chain(chain.clone());
            if let Some(delta) = delta.as_deref_mut() {
                delta.new_chains.insert(chain.name.clone(), chain.clone());
            }
        }
        for set in &fragment.sets {
            self.program.table.add_set(set.clone());
            if let Some(delta) = delta.as_deref_mut() {
                delta.new_sets.insert(set.name.clone(), set.clone());
            }
        }
        for target in &fragment.udp_targets {
            *self.udp_counts.entry(target.clone()).or_insert(0) += 1;
            self.program.udp_targets.insert(target.clone());
        }
        count(&mut self.slot_counts, fragment.max_slot_endpoints);
        if fragment.health_check.is_some() || !fragment.load_balancers.is_empty() {
            self.announced.insert(key.clone());
        }
        self.skipped_ipv6 += usize::from(fragment.ipv6_only);
        self.fragments.insert(key.clone(), fragment);
    }

    fn remove_fragment(&mut self, key: &ObjectKey, fragment: Fragment, delta: &mut Delta) {
        for (set, element, _) in &fragment.elements {
            let map_key = (*set, element.clone());
            // A key the fragment holds twice was handled at its first occurrence.
            let Some(contributors) = self.contributions.get_mut(&map_key) else {
                continue;
            };
            let was_first = **contributors.first() == *key;
            let now_empty = contributors.remove(key);
            let name = self.slot_names.name(*set);
            let table_set = self
                .program
                .table
                .sets
                .get_mut(name)
                .expect("fragment sets exist");
            if now_empty {
                self.contributions.remove(&map_key);
                let before = table_set.elements.remove(element);
                delta.record_element(name, element, before, None);
            } else if was_first {
                let next = &self.fragments[&**contributors.first()];
                let value = next
                    .elements
                    .iter()
                    .rev()
                    .find(|(s, e, _)| s == set && e == element)
                    .map(|(_, _, value)| value.clone())
                    .expect("a contributor holds the element");
                let before = table_set.elements.insert(element.clone(), value.clone());
                if before.as_ref() != Some(&value) {
                    delta.record_element(name, element, before, Some(value));
                }
            }
        }
        for chain in fragment.chains {
            self.program.table.chains.remove(&chain.name);
            let name = chain.name.clone();
            delta.old_chains.entry(name.clone()).or_insert(chain);
            delta.new_chains.remove(&name);
        }
        for set in fragment.sets {
            self.program.table.sets.remove(&set.name);
            let name = set.name.clone();
            delta.old_sets.entry(name.clone()).or_insert(set);
            delta.new_sets.remove(&name);
        }
        for target in fragment.udp_targets {
            let remaining = self.udp_counts.get_mut(&target).expect("counted");
            *remaining -= 1;
            if *remaining == 0 {
                self.udp_counts.remove(&target);
                self.program.udp_targets.remove(&target);
                delta.stale_udp.push(target);
            }
        }
        uncount(&mut self.slot_counts, fragment.max_slot_endpoints);
        self.announced.remove(key);
        self.skipped_ipv6 -= usize::from(fragment.ipv6_only);
    }

    /// Recomputes the small derived parts of the program.
    fn finish(&mut self) {
        let program = &mut self.program;
        program.health_checks.clear();
        program.load_balancers.clear();
        for key in &self.announced {
            let fragment = &self.fragments[key];
            if let Some((port, check)) = &fragment.health_check {
                program
                    .health_checks
                    .entry(*port)
                    .or_insert_with(|| check.clone());
            }
            program
                .load_balancers
                .extend(fragment.load_balancers.iter().cloned());
        }
        program.load_balancers.sort();
        let served = self.fragments.values().filter(|f| !f.ipv6_only);
        let (mut services, mut ports, mut endpoints) = (0, 0, 0);
        for fragment in served {
            services += 1;
            ports += fragment.service_ports;
            endpoints += fragment.endpoints;
        }
        program.stats = ProgramStats {
            services,
            service_ports: ports,
            endpoints,
            chains: program.table.chains.len(),
            elements: program.table.sets.values().map(|s| s.elements.len()).sum(),
            skipped_ipv6: self.skipped_ipv6,
        };
    }
}

fn count(counts: &mut BTreeMap<usize, usize>, n: usize) {
    if n > 0 {
        *counts.entry(n).or_insert(0) += 1;
    }
}

fn uncount(counts: &mut BTreeMap<usize, usize>, n: usize) {
    if n == 0 {
        return;
    }
    let remaining = counts.get_mut(&n).expect("counted");
    *remaining -= 1;
    if *remaining == 0 {
        counts.remove(&n);
    }
}

/// Mini tables holding only what the delta touches, whose `podnet_nft::diff` is the
/// transaction for it. `current` is the program after the update.
pub(crate) fn delta_tables(delta: &Delta, current: &Table) -> (Table, Table) {
    let mut old = Table::new(current.family, current.name.clone());
    let mut new = Table::new(current.family, current.name.clone());
    for chain in delta.old_chains.values() {
        old.add_chain(chain.clone());
    }
    for chain in delta.new_chains.values() {
        new.add_chain(chain.clone());
    }
    for set in delta.old_sets.values() {
        old.add_set(set.clone());
    }
    for (name, set) in &delta.new_sets {
        new.add_set(
            current
                .sets
                .get(name)
                .cloned()
                .unwrap_or_else(|| set.clone()),
        );
    }
    for ((set_name, key), (before, after)) in &delta.elements {
        if before == after {
            continue;
        }
        let existing = current
            .sets
            .get(set_name)
            .or_else(|| delta.old_sets.get(set_name))
            .expect("changed elements belong to known sets");
        let empty = || Set {
            elements: BTreeMap::new(),
            ..existing.clone()
        };
        let created =
            delta.new_sets.contains_key(set_name) && !delta.old_sets.contains_key(set_name);
        let removed =
            delta.old_sets.contains_key(set_name) && !delta.new_sets.contains_key(set_name);
        if !created {
            let set = old.sets.entry(set_name.clone()).or_insert_with(empty);
            if let Some(value) = before {
                set.elements.insert(key.clone(), value.clone());
            }
        }
        if !removed && !created {
            let set = new.sets.entry(set_name.clone()).or_insert_with(empty);
            if let Some(value) = after {
                set.elements.insert(key.clone(), value.clone());
            }
        }
    }
    (old, new)
}

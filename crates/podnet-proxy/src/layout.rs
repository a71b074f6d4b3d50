//! The fixed part of the table: base chains, dispatch chains, shared maps, and the
//! shared endpoint-selection chains ("slots" and "picks").
//!
//! Endpoints of ordinary Services live in shared maps, not in per-Service chains: slot
//! map `F-endpoints-i` maps a frontend (`daddr . proto . dport`, or `proto . dport` for
//! NodePorts) to its i-th endpoint, chain `F-slot-i` DNATs through it, and chain
//! `F-pick-n` chooses one of slots 0..n uniformly. A Service with n endpoints is then a
//! handful of map elements (`frontend : goto F-pick-n`, and one element per endpoint),
//! so adding a Service or changing an endpoint changes elements only. Per-Service
//! anonymous maps are avoided on purpose: the kernel needs seconds per thousand of them.

use std::fmt::Write;

use podnet_nft::{Chain, ChainType, Family, Hook, Policy, Set, SetFlag, Table};

use crate::ProxyConfig;

/// Slot maps always exist for at least this many endpoints, so that Services growing or
/// shrinking below it never change the table's structure.
pub(crate) const MIN_SLOTS: usize = 16;

/// The most endpoints a Service port picks from through the shared slots. The pick
/// chains for n slots hold 2 + 3 + ... + n vmap entries, so the shared part grows with
/// the square of the largest Service; ports with more endpoints get chains of their
/// own (one per endpoint, as kube-proxy builds them), which grow linearly.
pub(crate) const MAX_SHARED_SLOTS: usize = 32;

pub(crate) const IP_KEY: &str = "ipv4_addr . inet_proto . inet_service";
pub(crate) const PORT_KEY: &str = "inet_proto . inet_service";
pub(crate) const ENDPOINT_VALUE: &str = "ipv4_addr . inet_service";

pub(crate) const CLUSTER_IPS: &str = "cluster-ips";
pub(crate) const CLUSTER_CIDRS: &str = "cluster-cidrs";
pub(crate) const HAIRPIN: &str = "hairpin";
pub(crate) const SERVICE_IPS: &str = "service-ips";
pub(crate) const SERVICE_NODEPORTS: &str = "service-nodeports";
pub(crate) const POD_SHORT_CIRCUIT_IPS: &str = "pod-short-circuit-ips";
pub(crate) const NODE_SHORT_CIRCUIT_IPS: &str = "node-short-circuit-ips";
pub(crate) const POD_SHORT_CIRCUIT_NODEPORTS: &str = "pod-short-circuit-nodeports";
pub(crate) const NODE_SHORT_CIRCUIT_NODEPORTS: &str = "node-short-circuit-nodeports";
pub(crate) const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
pub(crate) const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
pub(crate) const FIREWALL_IPS: &str = "firewall-ips";
pub(crate) const REJECT_CHAIN: &str = "reject-chain";

/// Which endpoints a slot family holds, and how its frontends are keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum SlotFamily {
    /// All usable endpoints, frontends keyed by IP.
    Cluster,
    /// Node-local usable endpoints, frontends keyed by IP.
    Local,
    /// All usable endpoints, NodePort frontends.
    NodePortCluster,
    /// Node-local usable endpoints, NodePort frontends.
    NodePortLocal,
}

impl SlotFamily {
    pub const ALL: [SlotFamily; 4] = [
        SlotFamily::Cluster,
        SlotFamily::Local,
        SlotFamily::NodePortCluster,
        SlotFamily::NodePortLocal,
    ];

    fn prefix(self) -> &'static str {
        match self {
            SlotFamily::Cluster => "cluster",
            SlotFamily::Local => "local",
            SlotFamily::NodePortCluster => "nodeport-cluster",
            SlotFamily::NodePortLocal => "nodeport-local",
        }
    }

    fn is_nodeport(self) -> bool {
        matches!(
            self,
            SlotFamily::NodePortCluster | SlotFamily::NodePortLocal
        )
    }

    /// Whether external traffic through this family is masqueraded (the cluster path).
    fn has_masquerade_picks(self) -> bool {
        matches!(self, SlotFamily::Cluster | SlotFamily::NodePortCluster)
    }

    pub fn map(self, slot: usize) -> String {
        format!("{}-endpoints-{slot}", self.prefix())
    }

    fn slot_chain(self, slot: usize) -> String {
        format!("{}-slot-{slot}", self.prefix())
    }

    /// The chain choosing uniformly among `n` (>= 1) endpoints.
    pub fn pick(self, n: usize) -> String {
        if n == 1 {
            self.slot_chain(0)
        } else {
            format!("{}-pick-{n}", self.prefix())
        }
    }

    /// The chain that marks for masquerade, then picks among `n` endpoints.
    pub fn masquerade_pick(self, n: usize) -> String {
        format!("masq-{}-pick-{n}", self.prefix())
    }
}

/// A shared set or map that Services put elements in. Slot maps are named by family and
/// index rather than by a formatted name, so that compiling an element allocates nothing
/// for the set it goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum SetId {
    Fixed(&'static str),
    Slot(SlotFamily, usize),
}

impl From<&'static str> for SetId {
    fn from(name: &'static str) -> SetId {
        SetId::Fixed(name)
    }
}

/// The formatted names of the slot maps, made once per slot count.
#[derive(Debug, Clone, Default)]
pub(crate) struct SlotNames {
    names: Vec<[String; 4]>,
}

impl SlotNames {
    pub fn grow_to(&mut self, slots: usize) {
        while self.names.len() < slots {
            let slot = self.names.len();
            self.names
                .push(SlotFamily::ALL.map(|family| family.map(slot)));
        }
    }

    /// The name of a fixed set, or of a slot map below the count grown to.
    pub fn name(&self, set: SetId) -> &str {
        match set {
            SetId::Fixed(name) => name,
            SetId::Slot(family, slot) => &self.names[slot][family as usize],
        }
    }
}

/// Number of slots for a largest endpoint count: at least `MIN_SLOTS`, else the next
/// power of two, so that the structure changes only when a Service doubles past it.
pub(crate) fn slots_for(max_endpoints: usize) -> usize {
    max_endpoints.next_power_of_two().max(MIN_SLOTS)
}

pub(crate) fn mark_hex(mark: u32) -> String {
    format!("0x{mark:x}")
}

pub(crate) fn set_mark(mark: u32) -> String {
    format!("meta mark set meta mark | {}", mark_hex(mark))
}

/// The table without any Service: base chains, dispatch chains, shared maps and sets,
/// and the slot machinery for `slots` endpoints per Service.
pub(crate) fn base_table(config: &ProxyConfig, slots: usize) -> Table {
    let mut table = Table::new(Family::Inet, crate::TABLE);
    let has_cidrs = !config.cluster_cidrs.is_empty();
    let mark = config.masquerade_mark;

    table.add_set(Set::new(CLUSTER_IPS, "ipv4_addr").with_comment("Active ClusterIPs"));
    let cidrs = table.add_set(
        Set::new(CLUSTER_CIDRS, "ipv4_addr")
            .with_flag(SetFlag::Interval)
            .with_comment("Pod CIDRs of the cluster"),
    );
    for cidr in ipnet::Ipv4Net::aggregate(&config.cluster_cidrs) {
        cidrs.insert(cidr.to_string());
    }
    table.add_set(
        Set::new(HAIRPIN, "ipv4_addr . ipv4_addr")
            .with_comment("Node-local endpoints reaching themselves"),
    );
    for (name, key) in [
        (SERVICE_IPS, IP_KEY),
        (SERVICE_NODEPORTS, PORT_KEY),
        (POD_SHORT_CIRCUIT_IPS, IP_KEY),
        (NODE_SHORT_CIRCUIT_IPS, IP_KEY),
        (POD_SHORT_CIRCUIT_NODEPORTS, PORT_KEY),
        (NODE_SHORT_CIRCUIT_NODEPORTS, PORT_KEY),
        (NO_ENDPOINT_SERVICES, IP_KEY),
        (NO_ENDPOINT_NODEPORTS, PORT_KEY),
        (FIREWALL_IPS, IP_KEY),
    ] {
        table.add_set(Set::map(name, key, "verdict"));
    }

    let base =
        |name: &str, kind, hook, priority| Chain::base(name, kind, hook, priority, Policy::Accept);
    let new = "ct state new";
    table.add_chain(
        base(
            "filter-prerouting",
            ChainType::Filter,
            Hook::Prerouting,
            -110,
        )
        .with_rule(format!("{new} jump firewall-check")),
    );
    table.add_chain(
        base("filter-input", ChainType::Filter, Hook::Input, -110)
            .with_rule(format!("{new} jump nodeport-endpoints-check"))
            .with_rule(format!("{new} jump service-endpoints-check")),
    );
    table.add_chain(
        base("filter-forward", ChainType::Filter, Hook::Forward, -110)
            .with_rule(format!("{new} jump service-endpoints-check"))
            .with_rule(format!("{new} jump cluster-ips-check")),
    );
    table.add_chain(
        base("filter-output", ChainType::Filter, Hook::Output, -110)
            .with_rule(format!("{new} jump firewall-check")),
    );
    // The node's own connections are checked after nat-output: an external IP of a
    // Local-policy Service without endpoints on this node is dropped for outside
    // clients, but the node itself is short-circuited to the cluster's endpoints.
    table.add_chain(
        base(
            "filter-output-post-dnat",
            ChainType::Filter,
            Hook::Output,
            -90,
        )
        .with_rule(format!("{new} jump service-endpoints-check"))
        .with_rule(format!("{new} jump cluster-ips-check")),
    );
    table.add_chain(
        base("nat-prerouting", ChainType::Nat, Hook::Prerouting, -100).with_rule("jump services"),
    );
    table.add_chain(
        base("nat-output", ChainType::Nat, Hook::Output, -100).with_rule("jump services"),
    );
    table.add_chain(
        base("nat-postrouting", ChainType::Nat, Hook::Postrouting, 100)
            .with_rule("jump masquerading"),
    );

    table.add_chain(Chain::new("firewall-check").with_rule(format!(
        "ip daddr . meta l4proto . th dport vmap @{FIREWALL_IPS}"
    )));
    table.add_chain(Chain::new("service-endpoints-check").with_rule(format!(
        "ip daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}"
    )));
    table.add_chain(Chain::new("nodeport-endpoints-check").with_rule(format!(
        "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}"
    )));
    table.add_chain(
        Chain::new("cluster-ips-check")
            .with_rule(format!("ip daddr @{CLUSTER_IPS} reject"))
            .with_comment("Reject traffic to invalid ports of ClusterIPs"),
    );
    table.add_chain(Chain::new(REJECT_CHAIN).with_rule("reject"));

    let services = table.add_chain(Chain::new("services"));
    if has_cidrs {
        services.push_rule(format!(
            "ip daddr @{CLUSTER_IPS} ip saddr != @{CLUSTER_CIDRS} {}",
            set_mark(mark)
        ));
        services.push_rule(format!(
            "ip saddr @{CLUSTER_CIDRS} ip daddr . meta l4proto . th dport vmap @{POD_SHORT_CIRCUIT_IPS}"
        ));
    }
    services.push_rule(format!(
        "fib saddr type local ip daddr . meta l4proto . th dport vmap @{NODE_SHORT_CIRCUIT_IPS}"
    ));
    services.push_rule(format!(
        "ip daddr . meta l4proto . th dport vmap @{SERVICE_IPS}"
    ));
    services.push_rule("fib daddr type local ip daddr != 127.0.0.0/8 jump nodeports");

    let nodeports = table.add_chain(Chain::new("nodeports"));
    if has_cidrs {
        nodeports.push_rule(format!(
            "ip saddr @{CLUSTER_CIDRS} meta l4proto . th dport vmap @{POD_SHORT_CIRCUIT_NODEPORTS}"
        ));
    }
    nodeports.push_rule(format!(
        "fib saddr type local meta l4proto . th dport vmap @{NODE_SHORT_CIRCUIT_NODEPORTS}"
    ));
    nodeports.push_rule(format!("meta l4proto . th dport vmap @{SERVICE_NODEPORTS}"));

    let masquerading = table.add_chain(Chain::new("masquerading"));
    masquerading.push_rule(format!(
        "ct status dnat ip saddr . ip daddr @{HAIRPIN} {}",
        set_mark(mark)
    ));
    masquerading.push_rule(format!("meta mark & {} == 0 return", mark_hex(mark)));
    masquerading.push_rule(format!("meta mark set meta mark ^ {}", mark_hex(mark)));
    masquerading.push_rule("masquerade fully-random");

    add_slots(&mut table, config, slots);
    table
}

/// The slot maps and chains and the pick chains for `slots` endpoints.
fn add_slots(table: &mut Table, config: &ProxyConfig, slots: usize) {
    for family in SlotFamily::ALL {
        for slot in 0..slots {
            let key = if family.is_nodeport() {
                PORT_KEY
            } else {
                IP_KEY
            };
            table.add_set(Set::map(family.map(slot), key, ENDPOINT_VALUE));
            let lookup = if family.is_nodeport() {
                "meta l4proto . th dport"
            } else {
                "ip daddr . meta l4proto . th dport"
            };
            table.add_chain(Chain::new(family.slot_chain(slot)).with_rule(format!(
                "meta l4proto {{ tcp, udp, sctp }} dnat ip to {lookup} map @{}",
                family.map(slot)
            )));
        }
        for n in 2..=slots {
            let targets: Vec<String> = (0..n).map(|slot| family.slot_chain(slot)).collect();
            table.add_chain(Chain::new(family.pick(n)).with_rule(random_goto(&targets)));
        }
        if family.has_masquerade_picks() {
            for n in 1..=slots {
                table.add_chain(Chain::new(family.masquerade_pick(n)).with_rule(format!(
                    "{} goto {}",
                    set_mark(config.masquerade_mark),
                    family.pick(n)
                )));
            }
        }
    }
}

/// `svc-HASH-ns/name/proto/port` style names: readable, and unique through the hash of
/// the readable part, like kube-proxy's.
pub(crate) fn hashed_name(prefix: &str, readable: &str) -> String {
    let hash = podnet_model::hash::short_hash(readable, 8).to_uppercase();
    format!("{prefix}-{hash}-{readable}")
}

/// A uniformly random `goto` to one of `targets` (a plain `goto` for one).
pub fn random_goto(targets: &[String]) -> String {
    if targets.len() == 1 {
        return format!("goto {}", targets[0]);
    }
    let mut rule = format!("numgen random mod {} vmap {{ ", targets.len());
    for (index, target) in targets.iter().enumerate() {
        if index > 0 {
            rule.push_str(", ");
        }
        let _ = write!(rule, "{index} : goto {target}");
    }
    rule.push_str(" }");
    rule
}

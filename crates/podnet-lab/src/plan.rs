//! The lab as plain data: every name and address, computed from a configuration
//! without touching the kernel.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use podnet_model::hash::stable_mac;
use podnet_netlink::NETNS_RUN_DIR;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Prefix of the real lab's names (`podnet-lab0`, `podnet-node-1`, `podnet-ext`).
pub const DEFAULT_PREFIX: &str = "podnet";

/// Longest prefix: the bridge `{prefix}-lab0` must fit the kernel's 15-byte
/// interface names.
pub const MAX_PREFIX_LEN: usize = 10;

/// Where the real lab records its plan.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/podnet/lab";

/// Longest interface name the kernel accepts (`IFNAMSIZ` minus the NUL).
const MAX_IFNAME_LEN: usize = 15;

/// Which member of the lab a namespace or link belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MemberKind {
    /// Node `i`, counted from 1.
    Node(usize),
    /// The external test host.
    External,
}

impl fmt::Display for MemberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemberKind::Node(index) => write!(f, "node {index}"),
            MemberKind::External => f.write_str("external host"),
        }
    }
}

/// Everything that names a lab: enough to find all of it again without its plan,
/// which is what `down` and `status` work from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabScope {
    /// Starts every name the lab gives: `{prefix}-lab0`, `{prefix}-node-1`,
    /// `{prefix}-ext`, `{prefix}-n1`, table `inet {prefix}-lab`. Lowercase letters,
    /// digits and `-`, starting with a letter, at most [`MAX_PREFIX_LEN`] bytes.
    pub prefix: String,
    /// The underlay interface inside every node and the external host.
    pub interface: String,
    /// The namespace that plays the host: `None` is the network namespace of the
    /// calling thread, `Some(name)` the named namespace `/run/netns/NAME`, which must
    /// exist. Tests use the latter to keep a whole lab away from the real host.
    pub host_netns: Option<String>,
    /// Where `up` records the plan it built. Nothing depends on it being there.
    pub state_dir: PathBuf,
}

impl Default for LabScope {
    fn default() -> Self {
        LabScope::new(DEFAULT_PREFIX)
    }
}

impl LabScope {
    /// A scope with this prefix, interface `eth0`, the caller's namespace as host and
    /// the state directory [`LabScope::default_state_dir`] gives for the prefix.
    pub fn new(prefix: impl Into<String>) -> LabScope {
        let prefix = prefix.into();
        LabScope {
            state_dir: LabScope::default_state_dir(&prefix),
            prefix,
            interface: "eth0".to_string(),
            host_netns: None,
        }
    }

    /// [`DEFAULT_STATE_DIR`] for the real lab, `/var/lib/podnet/lab-{prefix}` for
    /// any other, so two labs never share a state file.
    pub fn default_state_dir(prefix: &str) -> PathBuf {
        if prefix == DEFAULT_PREFIX {
            PathBuf::from(DEFAULT_STATE_DIR)
        } else {
            PathBuf::from(format!("{DEFAULT_STATE_DIR}-{prefix}"))
        }
    }

    /// Checks that every name derived from the scope is one the kernel and nft accept.
    pub fn validate(&self) -> Result<()> {
        check_prefix(&self.prefix)?;
        check_ifname("interface", &self.interface)?;
        if let Some(name) = &self.host_netns {
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                return Err(Error::invalid(
                    "host namespace",
                    format!("{name:?} is not a name under {NETNS_RUN_DIR}"),
                ));
            }
        }
        if self.state_dir.as_os_str().is_empty() {
            return Err(Error::invalid("state directory", "empty"));
        }
        Ok(())
    }

    /// The underlay bridge in the host namespace.
    pub fn bridge(&self) -> String {
        format!("{}-lab0", self.prefix)
    }

    /// The nftables table (family `inet`) in the host namespace.
    pub fn table(&self) -> String {
        format!("{}-lab", self.prefix)
    }

    /// The named network namespace of a member.
    pub fn netns(&self, member: MemberKind) -> String {
        match member {
            MemberKind::Node(index) => format!("{}-node-{index}", self.prefix),
            MemberKind::External => format!("{}-ext", self.prefix),
        }
    }

    /// The host-side end of a member's veth, a port of the bridge.
    pub fn host_veth(&self, member: MemberKind) -> String {
        match member {
            MemberKind::Node(index) => format!("{}-n{index}", self.prefix),
            MemberKind::External => format!("{}-ext", self.prefix),
        }
    }

    /// The file `up` writes the plan to.
    pub fn state_file(&self) -> PathBuf {
        self.state_dir.join("plan.json")
    }

    /// The member whose namespace has this name, if it is one of the lab's.
    pub fn member_of_netns(&self, name: &str) -> Option<MemberKind> {
        let rest = name.strip_prefix(&self.prefix)?.strip_prefix('-')?;
        if rest == "ext" {
            return Some(MemberKind::External);
        }
        parse_index(rest.strip_prefix("node-")?).map(MemberKind::Node)
    }

    /// The member whose host-side veth has this name, if it is one of the lab's.
    pub fn member_of_host_veth(&self, name: &str) -> Option<MemberKind> {
        let rest = name.strip_prefix(&self.prefix)?.strip_prefix('-')?;
        if rest == "ext" {
            return Some(MemberKind::External);
        }
        parse_index(rest.strip_prefix('n')?).map(MemberKind::Node)
    }
}

/// A node index as the lab writes it: decimal, no sign, no leading zero, not 0.
fn parse_index(text: &str) -> Option<usize> {
    if text.is_empty() || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn check_prefix(prefix: &str) -> Result<()> {
    let reason = if prefix.is_empty() {
        "empty".to_string()
    } else if prefix.len() > MAX_PREFIX_LEN {
        format!(
            "longer than {MAX_PREFIX_LEN} bytes, so {prefix}-lab0 would not fit an interface name"
        )
    } else if !prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
        "does not start with a lowercase letter".to_string()
    } else if prefix.ends_with('-') {
        "ends with '-'".to_string()
    } else if !prefix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        "has characters other than lowercase letters, digits and '-'".to_string()
    } else {
        return Ok(());
    };
    Err(Error::invalid(format!("prefix {prefix:?}"), reason))
}

fn check_ifname(what: &str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > MAX_IFNAME_LEN {
        "longer than 15 bytes"
    } else if name == "." || name == ".." || name == "lo" {
        "not usable as the underlay interface"
    } else if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace())
    {
        "contains '/', ':', NUL or whitespace"
    } else {
        return Ok(());
    };
    Err(Error::invalid(format!("{what} {name:?}"), reason))
}

/// What to build: the names (through the scope), the node count and the underlay
/// addresses. The defaults are the address plan of the architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabConfig {
    pub scope: LabScope,
    /// Number of node namespaces, at least 1.
    pub nodes: usize,
    /// The underlay subnet on the bridge.
    pub underlay: Ipv4Net,
    /// The host's address on the bridge (where the API server listens); every
    /// member's default gateway.
    pub host_address: Ipv4Addr,
    /// Node `i` gets this address plus `i`.
    pub node_base: Ipv4Addr,
    /// The external test host's address.
    pub external_address: Ipv4Addr,
    /// Underlay ranges other parts of podnet hand out (the LoadBalancer pool); no
    /// lab member gets an address in them.
    pub reserved: Vec<Ipv4Net>,
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            scope: LabScope::default(),
            nodes: 3,
            underlay: Ipv4Net::new(Ipv4Addr::new(172, 30, 0, 0), 24).expect("valid prefix"),
            host_address: Ipv4Addr::new(172, 30, 0, 1),
            node_base: Ipv4Addr::new(172, 30, 0, 10),
            external_address: Ipv4Addr::new(172, 30, 0, 200),
            reserved: vec![Ipv4Net::new(Ipv4Addr::new(172, 30, 0, 64), 27).expect("valid prefix")],
        }
    }
}

/// One namespace of the lab (a node or the external host) and its link to the
/// bridge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub kind: MemberKind,
    /// Named network namespace, `/run/netns/{netns}`.
    pub netns: String,
    /// The underlay interface inside the namespace.
    pub interface: String,
    /// Its address, with the underlay's prefix length.
    pub address: Ipv4Net,
    /// The default route's gateway: the host's address on the bridge.
    pub gateway: Ipv4Addr,
    /// The veth end in the host namespace, a port of the bridge.
    pub host_veth: String,
    /// Fixed MACs, so that rebuilding a member does not leave stale neighbour
    /// entries behind in the others.
    pub mac: [u8; 6],
    pub host_veth_mac: [u8; 6],
    /// `net.ipv4.ip_forward` inside: on for nodes (they route for their pods), off
    /// for the external host.
    pub forwarding: bool,
}

impl Member {
    /// The member's address without prefix length.
    pub fn ip(&self) -> Ipv4Addr {
        self.address.addr()
    }

    /// The namespace's path, for `NetNs::open` or `setns`.
    pub fn netns_path(&self) -> PathBuf {
        Path::new(NETNS_RUN_DIR).join(&self.netns)
    }
}

/// The whole lab, computed: what `up` builds and `status` is compared against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabPlan {
    pub scope: LabScope,
    pub underlay: Ipv4Net,
    /// The underlay bridge in the host namespace.
    pub bridge: String,
    pub bridge_mac: [u8; 6],
    /// The host's address on the bridge, with the underlay's prefix length.
    pub host_address: Ipv4Net,
    /// The nftables table (family `inet`) in the host namespace.
    pub table: String,
    /// Node `i` is `nodes[i - 1]`.
    pub nodes: Vec<Member>,
    pub external: Member,
}

impl LabPlan {
    /// Computes the plan, or says which part of the configuration cannot work.
    pub fn new(config: LabConfig) -> Result<LabPlan> {
        let LabConfig {
            scope,
            nodes,
            underlay,
            host_address,
            node_base,
            external_address,
            reserved,
        } = config;
        scope.validate()?;
        if underlay != underlay.trunc() {
            return Err(Error::invalid(
                format!("underlay {underlay}"),
                format!("has host bits set; the subnet is {}", underlay.trunc()),
            ));
        }
        if underlay.prefix_len() > 29 {
            return Err(Error::invalid(
                format!("underlay {underlay}"),
                "is too small for a host, a node and the external host",
            ));
        }
        if nodes == 0 {
            return Err(Error::invalid("node count", "must be at least 1"));
        }
        let usable = |what: &str, address: Ipv4Addr| -> Result<Ipv4Net> {
            let problem = if !underlay.contains(&address) {
                Some(format!("outside the underlay {underlay}"))
            } else if address == underlay.network() || address == underlay.broadcast() {
                Some(format!(
                    "the network or broadcast address of the underlay {underlay}"
                ))
            } else {
                reserved
                    .iter()
                    .find(|range| range.contains(&address))
                    .map(|range| format!("in the reserved range {range}"))
            };
            match problem {
                Some(problem) => Err(Error::invalid(what, format!("{address} is {problem}"))),
                None => {
                    Ok(Ipv4Net::new(address, underlay.prefix_len()).expect("prefix from a net"))
                }
            }
        };
        let host = usable("host address", host_address)?;
        let external_net = usable("external host address", external_address)?;
        if external_address == host_address {
            return Err(Error::invalid(
                "external host address",
                format!("{external_address} is the host address"),
            ));
        }

        let member = |kind: MemberKind, address: Ipv4Net| {
            let netns = scope.netns(kind);
            let host_veth = scope.host_veth(kind);
            Member {
                kind,
                mac: stable_mac(&format!("lab-member/{netns}/{}", scope.interface)),
                host_veth_mac: stable_mac(&format!("lab-port/{host_veth}")),
                netns,
                interface: scope.interface.clone(),
                address,
                gateway: host_address,
                host_veth,
                forwarding: matches!(kind, MemberKind::Node(_)),
            }
        };

        let mut planned_nodes = Vec::with_capacity(nodes);
        for index in 1..=nodes {
            let what = format!("address of node {index}");
            let address = u32::try_from(index)
                .ok()
                .and_then(|offset| u32::from(node_base).checked_add(offset))
                .map(Ipv4Addr::from)
                .ok_or_else(|| Error::invalid(&what, format!("{node_base} + {index} overflows")))?;
            let net = usable(&what, address)?;
            for (other, name) in [(host_address, "host"), (external_address, "external host")] {
                if address == other {
                    return Err(Error::invalid(
                        what,
                        format!("{address} is the {name} address"),
                    ));
                }
            }
            planned_nodes.push(member(MemberKind::Node(index), net));
        }
        let external = member(MemberKind::External, external_net);

        Ok(LabPlan {
            bridge: scope.bridge(),
            bridge_mac: stable_mac(&format!("lab-bridge/{}", scope.bridge())),
            table: scope.table(),
            underlay,
            host_address: host,
            nodes: planned_nodes,
            external,
            scope,
        })
    }

    /// Checks that the plan's names are the ones its scope gives, in order: `down`
    /// and `status` find the lab by those names alone, so a plan edited by hand must
    /// not build anything they would miss.
    pub fn check_names(&self) -> Result<()> {
        let scope = &self.scope;
        scope.validate()?;
        let mismatch = |what: String, found: &str, expected: String| {
            Error::invalid(
                what,
                format!("{found:?} is not the name its scope gives ({expected:?})"),
            )
        };
        if self.bridge != scope.bridge() {
            return Err(mismatch("bridge".into(), &self.bridge, scope.bridge()));
        }
        if self.table != scope.table() {
            return Err(mismatch("table".into(), &self.table, scope.table()));
        }
        let expected_kinds = (1..=self.nodes.len())
            .map(MemberKind::Node)
            .chain(std::iter::once(MemberKind::External));
        for (member, kind) in self.members().zip(expected_kinds) {
            if member.kind != kind {
                return Err(Error::invalid(
                    format!("{}", member.kind),
                    format!("is listed where {kind} belongs"),
                ));
            }
            if member.netns != scope.netns(kind) {
                return Err(mismatch(
                    format!("namespace of {kind}"),
                    &member.netns,
                    scope.netns(kind),
                ));
            }
            if member.host_veth != scope.host_veth(kind) {
                return Err(mismatch(
                    format!("host veth of {kind}"),
                    &member.host_veth,
                    scope.host_veth(kind),
                ));
            }
            if member.interface != scope.interface {
                return Err(mismatch(
                    format!("interface of {kind}"),
                    &member.interface,
                    scope.interface.clone(),
                ));
            }
        }
        Ok(())
    }

    /// Node `index` (from 1).
    pub fn node(&self, index: usize) -> Option<&Member> {
        index.checked_sub(1).and_then(|i| self.nodes.get(i))
    }

    /// The nodes, then the external host.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.nodes.iter().chain(std::iter::once(&self.external))
    }

    /// The member of this kind, if the plan has it.
    pub fn member(&self, kind: MemberKind) -> Option<&Member> {
        match kind {
            MemberKind::Node(index) => self.node(index),
            MemberKind::External => Some(&self.external),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    #[test]
    fn the_default_plan_is_the_architecture_address_plan() {
        let plan = LabPlan::new(LabConfig::default()).unwrap();
        assert_eq!(plan.bridge, "podnet-lab0");
        assert_eq!(plan.table, "podnet-lab");
        assert_eq!(plan.host_address.to_string(), "172.30.0.1/24");
        assert_eq!(plan.nodes.len(), 3);
        for (i, node) in plan.nodes.iter().enumerate() {
            let index = i + 1;
            assert_eq!(node.kind, MemberKind::Node(index));
            assert_eq!(node.netns, format!("podnet-node-{index}"));
            assert_eq!(node.host_veth, format!("podnet-n{index}"));
            assert_eq!(node.interface, "eth0");
            assert_eq!(
                node.address.to_string(),
                format!("172.30.0.{}/24", 10 + index)
            );
            assert_eq!(node.gateway, ip("172.30.0.1"));
            assert!(node.forwarding);
            assert_eq!(
                node.netns_path(),
                PathBuf::from(format!("/run/netns/podnet-node-{index}"))
            );
        }
        assert_eq!(plan.node(2).unwrap().ip(), ip("172.30.0.12"));
        assert_eq!(plan.node(0), None);
        assert_eq!(plan.node(4), None);
        assert_eq!(plan.external.netns, "podnet-ext");
        assert_eq!(plan.external.address.to_string(), "172.30.0.200/24");
        assert!(!plan.external.forwarding);
        assert_eq!(
            plan.scope.state_file(),
            PathBuf::from("/var/lib/podnet/lab/plan.json")
        );
        assert_eq!(plan.members().count(), 4);
    }

    #[test]
    fn a_prefix_renames_everything_and_keeps_names_within_interface_limits() {
        let plan = LabPlan::new(LabConfig {
            scope: LabScope::new("pnt-ab12cd"),
            nodes: 53,
            ..LabConfig::default()
        })
        .unwrap();
        assert_eq!(plan.bridge, "pnt-ab12cd-lab0");
        assert_eq!(plan.table, "pnt-ab12cd-lab");
        assert_eq!(plan.node(1).unwrap().netns, "pnt-ab12cd-node-1");
        assert_eq!(plan.external.netns, "pnt-ab12cd-ext");
        assert_eq!(
            plan.scope.state_dir,
            PathBuf::from("/var/lib/podnet/lab-pnt-ab12cd")
        );
        let mut names = vec![plan.bridge.clone()];
        names.extend(plan.members().map(|m| m.host_veth.clone()));
        for name in &names {
            assert!(name.len() <= MAX_IFNAME_LEN, "{name}");
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 1 + 53 + 1, "host-side names are distinct");
    }

    #[test]
    fn names_map_back_to_their_members_and_nothing_else_does() {
        let scope = LabScope::new("podnet");
        for kind in [
            MemberKind::Node(1),
            MemberKind::Node(42),
            MemberKind::External,
        ] {
            assert_eq!(scope.member_of_netns(&scope.netns(kind)), Some(kind));
            assert_eq!(
                scope.member_of_host_veth(&scope.host_veth(kind)),
                Some(kind)
            );
        }
        for foreign in [
            "podnet-node-0",
            "podnet-node-01",
            "podnet-node-",
            "podnet-node-1a",
            "podnet-node-+1",
            "podnetx-node-1",
            "podnet-x-node-1",
            "podnet-lab0",
            "podnet",
            "other-node-1",
        ] {
            assert_eq!(scope.member_of_netns(foreign), None, "{foreign}");
        }
        for foreign in [
            "podnet-n0",
            "podnet-n",
            "podnet-lab0",
            "podnet-nx",
            "podnet-n1-x",
            "podnet0",
        ] {
            assert_eq!(scope.member_of_host_veth(foreign), None, "{foreign}");
        }
        // Another lab's names are not ours, even when its prefix extends ours.
        let other = LabScope::new("podnet-2");
        assert_eq!(
            scope.member_of_netns(&other.netns(MemberKind::Node(1))),
            None
        );
        assert_eq!(
            scope.member_of_host_veth(&other.host_veth(MemberKind::External)),
            None
        );
    }

    #[test]
    fn bad_prefixes_and_interfaces_are_refused_with_the_reason() {
        for (prefix, reason) in [
            ("", "empty"),
            ("abcdefghijk", "longer than 10 bytes"),
            ("1abc", "lowercase letter"),
            ("Abc", "lowercase letter"),
            ("abc-", "ends with '-'"),
            ("ab_c", "other than lowercase"),
        ] {
            let error = LabScope::new(prefix).validate().unwrap_err().to_string();
            assert!(error.contains(reason), "{prefix:?}: {error}");
        }
        let mut scope = LabScope::new("podnet");
        scope.interface = "eth0:1".into();
        assert!(scope.validate().is_err());
        scope.interface = "lo".into();
        assert!(scope.validate().is_err());
        scope.interface = "underlay0".into();
        scope.host_netns = Some("a/b".into());
        assert!(scope.validate().is_err());
        scope.host_netns = Some("pnt-host".into());
        scope.validate().unwrap();
    }

    #[test]
    fn node_addresses_stay_clear_of_the_reserved_pool_and_other_members() {
        let mut config = LabConfig {
            nodes: 54,
            ..LabConfig::default()
        };
        let error = LabPlan::new(config.clone()).unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid lab address of node 54: 172.30.0.64 is in the reserved range 172.30.0.64/27"
        );

        config.reserved.clear();
        config.nodes = 190;
        let error = LabPlan::new(config.clone()).unwrap_err().to_string();
        assert!(
            error.contains("172.30.0.200 is the external host address"),
            "{error}"
        );

        config.node_base = ip("172.30.0.0");
        config.nodes = 1;
        let error = LabPlan::new(config.clone()).unwrap_err().to_string();
        assert!(error.contains("172.30.0.1 is the host address"), "{error}");

        config.node_base = ip("172.30.0.250");
        config.nodes = 5;
        let error = LabPlan::new(config).unwrap_err().to_string();
        assert!(
            error.contains("172.30.0.255 is the network or broadcast"),
            "{error}"
        );
    }

    #[test]
    fn underlay_and_addresses_are_checked() {
        let base = LabConfig::default();
        let cases: Vec<(LabConfig, &str)> = vec![
            (
                LabConfig {
                    nodes: 0,
                    ..base.clone()
                },
                "at least 1",
            ),
            (
                LabConfig {
                    underlay: "172.30.0.1/24".parse().unwrap(),
                    ..base.clone()
                },
                "host bits",
            ),
            (
                LabConfig {
                    underlay: "172.30.0.0/30".parse().unwrap(),
                    ..base.clone()
                },
                "too small",
            ),
            (
                LabConfig {
                    host_address: ip("10.0.0.1"),
                    ..base.clone()
                },
                "outside the underlay",
            ),
            (
                LabConfig {
                    external_address: ip("172.30.0.1"),
                    ..base.clone()
                },
                "is the host address",
            ),
            (
                LabConfig {
                    external_address: ip("172.30.0.70"),
                    ..base.clone()
                },
                "reserved range",
            ),
        ];
        for (config, expected) in cases {
            let error = LabPlan::new(config).unwrap_err().to_string();
            assert!(error.contains(expected), "{error} should say {expected}");
        }
    }

    #[test]
    fn macs_are_stable_unicast_local_and_distinct() {
        let a = LabPlan::new(LabConfig::default()).unwrap();
        let b = LabPlan::new(LabConfig::default()).unwrap();
        assert_eq!(a, b);
        let mut macs = vec![a.bridge_mac];
        for member in a.members() {
            macs.push(member.mac);
            macs.push(member.host_veth_mac);
        }
        for mac in &macs {
            assert_eq!(mac[0] & 0x01, 0, "unicast");
            assert_eq!(mac[0] & 0x02, 0x02, "locally administered");
        }
        let count = macs.len();
        macs.sort();
        macs.dedup();
        assert_eq!(macs.len(), count);
    }

    #[test]
    fn plans_whose_names_left_their_scope_are_refused() {
        let plan = LabPlan::new(LabConfig::default()).unwrap();
        plan.check_names().unwrap();
        let mut renamed = plan.clone();
        renamed.bridge = "br-lab".into();
        assert!(renamed
            .check_names()
            .unwrap_err()
            .to_string()
            .contains("bridge"));
        let mut renamed = plan.clone();
        renamed.nodes[1].netns = "elsewhere".into();
        let error = renamed.check_names().unwrap_err().to_string();
        assert!(error.contains("namespace of node 2"), "{error}");
        let mut reordered = plan.clone();
        reordered.nodes.swap(0, 1);
        assert!(reordered.check_names().is_err());
        let mut renamed = plan;
        renamed.external.interface = "eth1".into();
        assert!(renamed.check_names().is_err());
    }

    #[test]
    fn plans_round_trip_through_json() {
        let plan = LabPlan::new(LabConfig::default()).unwrap();
        let text = serde_json::to_string(&plan).unwrap();
        let back: LabPlan = serde_json::from_str(&text).unwrap();
        assert_eq!(back, plan);
    }
}

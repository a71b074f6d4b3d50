//! What of a lab exists, found by its names, and how that differs from a plan.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use ipnet::{IpNet, Ipv4Net};
use podnet_netlink::{sysctl, Family, Handle, Link, NetNs, NETNS_RUN_DIR};

use crate::error::{Context, Result};
use crate::firewall;
use crate::host::{named_netns, Host};
use crate::plan::{LabPlan, LabScope, MemberKind};
use crate::state::{self, Recorded};

/// A link as the lab sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    pub name: String,
    /// `bridge`, `veth`, ...; `None` for devices without a kind.
    pub kind: Option<String>,
    pub up: bool,
    pub mac: Option<[u8; 6]>,
    /// IPv4 addresses (link-local IPv6 ones are the kernel's and not shown).
    pub addresses: Vec<Ipv4Net>,
}

/// The host-side end of a member's veth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortStatus {
    pub link: LinkStatus,
    /// Enslaved to the lab bridge.
    pub on_bridge: bool,
}

/// One member namespace, as far as it exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    pub kind: MemberKind,
    pub netns: String,
    /// `/run/netns/{netns}` exists and is a network namespace.
    pub netns_present: bool,
    /// The underlay interface inside (named by the scope).
    pub interface: Option<LinkStatus>,
    pub loopback_up: bool,
    /// `net.ipv4.ip_forward` inside.
    pub forwarding: Option<bool>,
    /// The IPv4 default routes of the main table, by gateway (`None`: a route
    /// straight out of a device).
    pub default_routes: Vec<Option<Ipv4Addr>>,
    /// The veth end in the host namespace.
    pub port: Option<PortStatus>,
}

/// Everything of one lab that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabStatus {
    pub scope: LabScope,
    pub bridge: Option<LinkStatus>,
    /// Members with a namespace or a host-side link, nodes by index, then the
    /// external host.
    pub members: Vec<MemberStatus>,
    /// The nftables table, as nft lists it (with counters).
    pub table: Option<String>,
    /// The state file.
    pub recorded: Recorded,
    /// The named host namespace does not exist (never for the caller's namespace).
    pub host_missing: bool,
}

impl LabStatus {
    /// Nothing of the lab exists: no namespace, link, table or state file.
    pub fn is_absent(&self) -> bool {
        self.bridge.is_none()
            && self.members.is_empty()
            && self.table.is_none()
            && self.recorded == Recorded::Absent
    }

    /// Node `index`, if anything of it exists.
    pub fn node(&self, index: usize) -> Option<&MemberStatus> {
        self.member(MemberKind::Node(index))
    }

    pub fn member(&self, kind: MemberKind) -> Option<&MemberStatus> {
        self.members.iter().find(|member| member.kind == kind)
    }

    /// How the lab differs from `plan`, one line per difference; empty when the lab
    /// is exactly the plan. (The recorded plan is not compared: it is a record.)
    pub fn differences(&self, plan: &LabPlan) -> Vec<String> {
        let mut out = Vec::new();
        if self.host_missing {
            out.push("the host namespace does not exist".to_string());
        }
        if self.table.is_none() {
            out.push(format!(
                "table {} {} is missing",
                firewall::FAMILY,
                plan.table
            ));
        }
        match &self.bridge {
            None => out.push(format!("bridge {} is missing", plan.bridge)),
            Some(bridge) => {
                compare_link(
                    &mut out,
                    bridge,
                    Some("bridge"),
                    Some(plan.bridge_mac),
                    plan.host_address,
                );
            }
        }
        for member in plan.members() {
            let Some(status) = self.member(member.kind) else {
                out.push(format!("{} ({}) is missing", member.kind, member.netns));
                continue;
            };
            let who = &member.netns;
            if !status.netns_present {
                out.push(format!("network namespace {who} is missing"));
            }
            match &status.interface {
                None if status.netns_present => {
                    out.push(format!("{} is missing in {who}", member.interface))
                }
                None => {}
                Some(link) => {
                    let mut inner = Vec::new();
                    compare_link(
                        &mut inner,
                        link,
                        Some("veth"),
                        Some(member.mac),
                        member.address,
                    );
                    out.extend(inner.into_iter().map(|line| format!("{line} in {who}")));
                }
            }
            if status.netns_present {
                if !status.loopback_up {
                    out.push(format!("lo is down in {who}"));
                }
                if status.forwarding != Some(member.forwarding) {
                    out.push(format!(
                        "net.ipv4.ip_forward in {who} is {}, not {}",
                        show_switch(status.forwarding),
                        u8::from(member.forwarding)
                    ));
                }
                if status.default_routes != [Some(member.gateway)] {
                    out.push(format!(
                        "default routes in {who} go via {:?}, not only via {}",
                        status.default_routes, member.gateway
                    ));
                }
            }
            match &status.port {
                None => out.push(format!("{} is missing", member.host_veth)),
                Some(port) => {
                    let link = &port.link;
                    if link.kind.as_deref() != Some("veth") {
                        out.push(format!("{} is not a veth", link.name));
                    }
                    if !link.up {
                        out.push(format!("{} is down", link.name));
                    }
                    if !port.on_bridge {
                        out.push(format!("{} is not a port of {}", link.name, plan.bridge));
                    }
                }
            }
        }
        for status in &self.members {
            if plan.member(status.kind).is_none() {
                out.push(format!(
                    "{} ({}) is not in the plan",
                    status.kind, status.netns
                ));
            }
        }
        out
    }
}

fn show_switch(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "1",
        Some(false) => "0",
        None => "unreadable",
    }
}

fn compare_link(
    out: &mut Vec<String>,
    link: &LinkStatus,
    kind: Option<&str>,
    mac: Option<[u8; 6]>,
    address: Ipv4Net,
) {
    let name = &link.name;
    if link.kind.as_deref() != kind {
        out.push(format!("{name} is {:?}, not {kind:?}", link.kind));
    }
    if !link.up {
        out.push(format!("{name} is down"));
    }
    if mac.is_some() && link.mac != mac {
        out.push(format!("{name} has another MAC"));
    }
    if link.addresses != [address] {
        out.push(format!(
            "{name} has {:?}, not only {address}",
            link.addresses
        ));
    }
}

/// Finds everything of the lab named by `scope`, without needing its plan.
pub fn status(scope: &LabScope) -> Result<LabStatus> {
    scope.validate()?;
    let mut status = LabStatus {
        scope: scope.clone(),
        bridge: None,
        members: Vec::new(),
        table: None,
        recorded: state::read(scope),
        host_missing: false,
    };
    let mut members: BTreeMap<MemberKind, MemberStatus> = BTreeMap::new();
    let blank = |kind: MemberKind| MemberStatus {
        kind,
        netns: scope.netns(kind),
        netns_present: false,
        interface: None,
        loopback_up: false,
        forwarding: None,
        default_routes: Vec::new(),
        port: None,
    };

    match Host::open(scope) {
        Ok(mut host) => {
            status.table = host.list_table()?;
            let links = host
                .handle
                .links()
                .context(|| "list links of the host namespace".to_string())?;
            let bridge = links.iter().find(|link| link.name == scope.bridge());
            let bridge_index = bridge.map(|link| link.index);
            if let Some(link) = bridge {
                status.bridge = Some(link_status(&mut host.handle, link)?);
            }
            for link in &links {
                if let Some(kind) = scope.member_of_host_veth(&link.name) {
                    let port = PortStatus {
                        link: link_status(&mut host.handle, link)?,
                        on_bridge: bridge_index.is_some() && link.master == bridge_index,
                    };
                    members.entry(kind).or_insert_with(|| blank(kind)).port = Some(port);
                }
            }
        }
        Err(crate::Error::Kernel { source, .. })
            if scope.host_netns.is_some() && source.is_not_found() =>
        {
            status.host_missing = true;
        }
        Err(error) => return Err(error),
    }

    for name in named_netns()? {
        let Some(kind) = scope.member_of_netns(&name) else {
            continue;
        };
        let member = members.entry(kind).or_insert_with(|| blank(kind));
        inspect_member(member, &scope.interface)?;
    }
    status.members = members.into_values().collect();
    Ok(status)
}

/// Fills in what exists inside a member's namespace. An entry that is not a
/// namespace (left by an interrupted create) counts as absent.
fn inspect_member(member: &mut MemberStatus, interface: &str) -> Result<()> {
    let path = Path::new(NETNS_RUN_DIR).join(&member.netns);
    let ns = match NetNs::open(&path) {
        Ok(ns) => ns,
        Err(podnet_netlink::Error::NetNs { .. }) => return Ok(()),
        Err(error) if error.is_not_found() => return Ok(()),
        Err(source) => {
            return Err(crate::Error::Kernel {
                context: format!("open network namespace {}", member.netns),
                source,
            })
        }
    };
    member.netns_present = true;
    let at = |what: &str| format!("{what} in {}", member.netns);
    let mut inside = Handle::in_netns(&ns).context(|| at("open a netlink socket"))?;
    member.loopback_up = inside
        .link_by_name("lo")
        .context(|| at("look up lo"))?
        .is_some_and(|lo| lo.up);
    if let Some(link) = inside
        .link_by_name(interface)
        .context(|| at(&format!("look up {interface}")))?
    {
        member.interface = Some(link_status(&mut inside, &link)?);
    }
    member.forwarding = Some(
        ns.run(|| sysctl::get("net.ipv4.ip_forward"))
            .and_then(|read| read)
            .context(|| at("read net.ipv4.ip_forward"))?
            == "1",
    );
    member.default_routes = inside
        .routes(Family::V4, None)
        .context(|| at("list routes"))?
        .into_iter()
        .filter(|route| route.dst.is_none_or(|dst| dst.prefix_len() == 0))
        .map(|route| match route.gateway {
            Some(IpAddr::V4(gateway)) => Some(gateway),
            _ => None,
        })
        .collect();
    Ok(())
}

fn link_status(handle: &mut Handle, link: &Link) -> Result<LinkStatus> {
    let addresses = handle
        .addresses(Some(link.index), Some(Family::V4))
        .context(|| format!("list the addresses of {}", link.name))?
        .into_iter()
        .filter_map(|address| match address.net {
            IpNet::V4(net) => Some(net),
            IpNet::V6(_) => None,
        })
        .collect();
    Ok(LinkStatus {
        name: link.name.clone(),
        kind: link.kind.clone(),
        up: link.up,
        mac: link.mac,
        addresses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::LabConfig;

    /// The status of a lab that is exactly `plan`.
    fn built(plan: &LabPlan) -> LabStatus {
        let members = plan
            .members()
            .map(|member| MemberStatus {
                kind: member.kind,
                netns: member.netns.clone(),
                netns_present: true,
                interface: Some(LinkStatus {
                    name: member.interface.clone(),
                    kind: Some("veth".into()),
                    up: true,
                    mac: Some(member.mac),
                    addresses: vec![member.address],
                }),
                loopback_up: true,
                forwarding: Some(member.forwarding),
                default_routes: vec![Some(member.gateway)],
                port: Some(PortStatus {
                    link: LinkStatus {
                        name: member.host_veth.clone(),
                        kind: Some("veth".into()),
                        up: true,
                        mac: Some(member.host_veth_mac),
                        addresses: Vec::new(),
                    },
                    on_bridge: true,
                }),
            })
            .collect();
        LabStatus {
            scope: plan.scope.clone(),
            bridge: Some(LinkStatus {
                name: plan.bridge.clone(),
                kind: Some("bridge".into()),
                up: true,
                mac: Some(plan.bridge_mac),
                addresses: vec![plan.host_address],
            }),
            members,
            table: Some("table inet podnet-lab { }".into()),
            recorded: Recorded::Absent,
            host_missing: false,
        }
    }

    #[test]
    fn a_lab_built_as_planned_has_no_differences() {
        let plan = LabPlan::new(LabConfig::default()).unwrap();
        let status = built(&plan);
        assert_eq!(status.differences(&plan), Vec::<String>::new());
        assert!(!status.is_absent());
        assert_eq!(status.node(2).unwrap().netns, "podnet-node-2");
    }

    #[test]
    fn each_difference_is_named() {
        let plan = LabPlan::new(LabConfig::default()).unwrap();
        let mut status = built(&plan);
        status.table = None;
        status
            .bridge
            .as_mut()
            .unwrap()
            .addresses
            .push("172.30.0.2/24".parse().unwrap());
        let node1 = &mut status.members[0];
        node1.forwarding = Some(false);
        node1.default_routes.push(None);
        node1.port.as_mut().unwrap().on_bridge = false;
        let node2 = &mut status.members[1];
        node2.interface.as_mut().unwrap().up = false;
        status.members.remove(2);

        let smaller = LabPlan::new(LabConfig {
            nodes: 1,
            ..LabConfig::default()
        })
        .unwrap();
        assert_eq!(
            status.differences(&plan),
            [
                "table inet podnet-lab is missing",
                "podnet-lab0 has [172.30.0.1/24, 172.30.0.2/24], not only 172.30.0.1/24",
                "net.ipv4.ip_forward in podnet-node-1 is 0, not 1",
                "default routes in podnet-node-1 go via [Some(172.30.0.1), None], not only via 172.30.0.1",
                "podnet-n1 is not a port of podnet-lab0",
                "eth0 is down in podnet-node-2",
                "node 3 (podnet-node-3) is missing",
            ]
        );
        let extra = status.differences(&smaller);
        assert!(
            extra.contains(&"node 2 (podnet-node-2) is not in the plan".to_string()),
            "{extra:#?}"
        );
    }

    #[test]
    fn nothing_found_is_absent() {
        let status = LabStatus {
            scope: LabScope::default(),
            bridge: None,
            members: Vec::new(),
            table: None,
            recorded: Recorded::Absent,
            host_missing: false,
        };
        assert!(status.is_absent());
        let plan = LabPlan::new(LabConfig::default()).unwrap();
        assert_eq!(status.differences(&plan).len(), 2 + 4);
    }
}

//! Building the lab: a reconcile from whatever exists (nothing, a half-built lab, a
//! lab of another size) to exactly the plan.

use std::path::Path;

use ipnet::{IpNet, Ipv4Net};
use podnet_netlink::{
    format_mac, sysctl, Family, Handle, Link, NetNs, Route, VethSpec, NETNS_RUN_DIR,
};

use crate::error::{Context, Error, Result};
use crate::firewall;
use crate::host::{named_netns, Host};
use crate::plan::{LabPlan, Member, MemberKind};
use crate::state;

const FORWARDING: &str = "net.ipv4.ip_forward";

/// What `up` changed, one line per change. Empty when the lab already was the plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpReport {
    pub changes: Vec<String>,
}

impl UpReport {
    fn changed(&mut self, change: impl Into<String>) {
        self.changes.push(change.into());
    }
}

/// Builds the lab of `plan`, or brings an existing (possibly half-built) one to it.
/// Running it again changes nothing. Members beyond the plan (a node 4 left from a
/// bigger lab) are removed. Inside the member namespaces only what the lab owns is
/// touched: loopback, the underlay interface, its addresses, the default route and
/// the forwarding switch; whatever else runs there (agents, pods) stays.
///
/// The firewall table goes in first, so that nothing the lab builds can forward to
/// the uplink before it is in place.
pub fn up(plan: &LabPlan) -> Result<UpReport> {
    plan.check_names()?;
    let mut report = UpReport::default();
    let mut host = Host::open(&plan.scope)?;

    let had_table = host.list_table()?.is_some();
    host.apply_table(&firewall::table(&plan.scope).render_replace())?;
    if !had_table {
        report.changed(format!("created table {} {}", firewall::FAMILY, plan.table));
    }

    let bridge = ensure_bridge(&mut host.handle, plan, &mut report)?;
    for member in plan.members() {
        ensure_member(&mut host.handle, bridge, member, &mut report)?;
    }
    remove_members_beyond(&mut host.handle, plan, &mut report)?;

    if state::write(plan)? {
        report.changed(format!(
            "recorded the plan in {}",
            plan.scope.state_file().display()
        ));
    }
    Ok(report)
}

fn ensure_bridge(host: &mut Handle, plan: &LabPlan, report: &mut UpReport) -> Result<u32> {
    let name = &plan.bridge;
    let link = match host
        .link_by_name(name)
        .context(|| format!("look up bridge {name}"))?
    {
        Some(link) => {
            if link.kind.as_deref() != Some("bridge") {
                return Err(Error::conflict(
                    format!("link {name}"),
                    format!("it is {}, not a bridge", describe_kind(&link)),
                ));
            }
            link
        }
        None => {
            host.add_bridge(name, None)
                .context(|| format!("create bridge {name}"))?;
            report.changed(format!("created bridge {name}"));
            lookup(host, name, "bridge")?
        }
    };
    if link.mac != Some(plan.bridge_mac) {
        host.set_mac(link.index, plan.bridge_mac)
            .context(|| format!("set the MAC of bridge {name}"))?;
        report.changed(format!(
            "set MAC {} on {name}",
            format_mac(&plan.bridge_mac)
        ));
    }
    if !link.up {
        host.set_up(link.index)
            .context(|| format!("set bridge {name} up"))?;
        report.changed(format!("set {name} up"));
    }
    ensure_only_address(host, link.index, plan.host_address, name, report)?;
    Ok(link.index)
}

fn ensure_member(
    host: &mut Handle,
    bridge: u32,
    member: &Member,
    report: &mut UpReport,
) -> Result<()> {
    let ns = ensure_netns(&member.netns, report)?;
    let mut inside =
        Handle::in_netns(&ns).context(|| format!("open a netlink socket in {}", member.netns))?;
    let at = |what: &str| format!("{what} in {}", member.netns);

    let lo = lookup(&mut inside, "lo", &member.netns)?;
    if !lo.up {
        inside.set_up(lo.index).context(|| at("set lo up"))?;
        report.changed(at("set lo up"));
    }

    let wanted = if member.forwarding { "1" } else { "0" };
    let current = ns
        .run(|| sysctl::get(FORWARDING))
        .and_then(|read| read)
        .context(|| at("read net.ipv4.ip_forward"))?;
    if current != wanted {
        ns.run(|| sysctl::set(FORWARDING, wanted))
            .and_then(|written| written)
            .context(|| at("set net.ipv4.ip_forward"))?;
        report.changed(at(&format!("set net.ipv4.ip_forward to {wanted}")));
    }

    let (host_end, inner_end) = ensure_veth(host, &mut inside, &ns, member, report)?;

    if host_end.mac != Some(member.host_veth_mac) {
        host.set_mac(host_end.index, member.host_veth_mac)
            .context(|| format!("set the MAC of {}", member.host_veth))?;
        report.changed(format!(
            "set MAC {} on {}",
            format_mac(&member.host_veth_mac),
            member.host_veth
        ));
    }
    if host_end.master != Some(bridge) {
        host.set_master(host_end.index, bridge)
            .context(|| format!("attach {} to the bridge", member.host_veth))?;
        report.changed(format!("attached {} to the bridge", member.host_veth));
    }
    if !host_end.up {
        host.set_up(host_end.index)
            .context(|| format!("set {} up", member.host_veth))?;
        report.changed(format!("set {} up", member.host_veth));
    }

    let interface = &member.interface;
    if inner_end.mac != Some(member.mac) {
        inside
            .set_mac(inner_end.index, member.mac)
            .context(|| at(&format!("set the MAC of {interface}")))?;
        report.changed(at(&format!(
            "set MAC {} on {interface}",
            format_mac(&member.mac)
        )));
    }
    if !inner_end.up {
        inside
            .set_up(inner_end.index)
            .context(|| at(&format!("set {interface} up")))?;
        report.changed(at(&format!("set {interface} up")));
    }
    let label = at(interface);
    ensure_only_address(&mut inside, inner_end.index, member.address, &label, report)?;
    ensure_default_route(&mut inside, inner_end.index, member, report)
}

/// Opens the member's namespace, creating it when missing. A `/run/netns` entry that
/// is no namespace any more (its creator was killed between creating the file and
/// mounting it, or someone unmounted it) is replaced.
fn ensure_netns(name: &str, report: &mut UpReport) -> Result<NetNs> {
    let path = Path::new(NETNS_RUN_DIR).join(name);
    match NetNs::open(&path) {
        Ok(ns) => return Ok(ns),
        Err(error) if error.is_not_found() => {}
        Err(podnet_netlink::Error::NetNs { .. }) => {
            NetNs::delete_named(name)
                .context(|| format!("remove the stale entry {}", path.display()))?;
            report.changed(format!("removed the stale entry {}", path.display()));
        }
        Err(error) => {
            return Err(Error::Kernel {
                context: format!("open network namespace {name}"),
                source: error,
            })
        }
    }
    match NetNs::create_named(name) {
        Ok(ns) => {
            report.changed(format!("created network namespace {name}"));
            Ok(ns)
        }
        // Another `up` made it in the meantime.
        Err(error) if error.is_exists() => {
            NetNs::open(&path).context(|| format!("open network namespace {name}"))
        }
        Err(error) => Err(Error::Kernel {
            context: format!("create network namespace {name}"),
            source: error,
        }),
    }
}

/// Makes sure the member's veth pair exists and returns both ends. Ends without
/// their partner (left when a namespace was deleted while something kept it alive, or
/// by an interrupted `up`) are deleted and the pair is made anew.
fn ensure_veth(
    host: &mut Handle,
    inside: &mut Handle,
    ns: &NetNs,
    member: &Member,
    report: &mut UpReport,
) -> Result<(Link, Link)> {
    let host_name = &member.host_veth;
    let inner_name = &member.interface;
    let host_end = host
        .link_by_name(host_name)
        .context(|| format!("look up {host_name}"))?;
    if let Some(link) = &host_end {
        if link.kind.as_deref() != Some("veth") {
            return Err(Error::conflict(
                format!("link {host_name}"),
                format!("it is {}, not a veth", describe_kind(link)),
            ));
        }
    }
    let inner_end = inside
        .link_by_name(inner_name)
        .context(|| format!("look up {inner_name} in {}", member.netns))?;
    match (host_end, inner_end) {
        (Some(host_end), Some(inner_end)) if inner_end.kind.as_deref() == Some("veth") => {
            return Ok((host_end, inner_end))
        }
        (host_end, inner_end) => {
            if let Some(link) = host_end {
                host.delete_link(link.index)
                    .or_else(ignore_not_found)
                    .context(|| {
                        format!(
                            "delete {host_name}, whose peer is not {inner_name} in {}",
                            member.netns
                        )
                    })?;
                report.changed(format!(
                    "deleted {host_name}, which had no peer in {}",
                    member.netns
                ));
            }
            // Deleting a veth end takes its peer along, possibly this very link, so
            // look again before deleting.
            if let Some(link) = inner_end {
                if inside
                    .link_by_name(inner_name)
                    .context(|| format!("look up {inner_name} in {}", member.netns))?
                    .is_some()
                {
                    inside
                        .delete_link(link.index)
                        .or_else(ignore_not_found)
                        .context(|| format!("delete {inner_name} in {}", member.netns))?;
                    report.changed(format!(
                        "deleted {inner_name} in {}, which had no peer on the bridge",
                        member.netns
                    ));
                }
            }
        }
    }
    host.add_veth(&VethSpec {
        name: host_name,
        mtu: None,
        mac: Some(member.host_veth_mac),
        peer_name: inner_name,
        peer_mac: Some(member.mac),
        peer_netns: Some(ns.as_fd()),
    })
    .context(|| {
        format!(
            "create veth {host_name} with peer {inner_name} in {}",
            member.netns
        )
    })?;
    report.changed(format!(
        "created veth {host_name} with peer {inner_name} in {}",
        member.netns
    ));
    let host_end = lookup(host, host_name, "the host namespace")?;
    let inner_end = lookup(inside, inner_name, &member.netns)?;
    Ok((host_end, inner_end))
}

/// Leaves exactly `wanted` as the IPv4 address of the link (IPv6 link-local
/// addresses are the kernel's and stay).
fn ensure_only_address(
    handle: &mut Handle,
    index: u32,
    wanted: Ipv4Net,
    label: &str,
    report: &mut UpReport,
) -> Result<()> {
    let wanted = IpNet::V4(wanted);
    let present = handle
        .addresses(Some(index), Some(Family::V4))
        .context(|| format!("list the addresses of {label}"))?;
    let mut found = false;
    for address in present {
        if address.net == wanted {
            found = true;
            continue;
        }
        handle
            .del_address(index, address.net)
            .or_else(ignore_not_found)
            .context(|| format!("remove {} from {label}", address.net))?;
        report.changed(format!("removed {} from {label}", address.net));
    }
    if !found {
        handle
            .add_address(index, wanted, false)
            .context(|| format!("add {wanted} to {label}"))?;
        report.changed(format!("added {wanted} to {label}"));
    }
    Ok(())
}

fn is_default(route: &Route) -> bool {
    route.dst.is_none_or(|dst| dst.prefix_len() == 0)
}

/// One IPv4 default route in the main table, via the host over the underlay.
fn ensure_default_route(
    inside: &mut Handle,
    oif: u32,
    member: &Member,
    report: &mut UpReport,
) -> Result<()> {
    let gateway = std::net::IpAddr::V4(member.gateway);
    let defaults: Vec<Route> = inside
        .routes(Family::V4, None)
        .context(|| format!("list routes in {}", member.netns))?
        .into_iter()
        .filter(is_default)
        .collect();
    let mut found = false;
    for route in defaults {
        if route.gateway == Some(gateway) && route.oif == Some(oif) && !found {
            found = true;
            continue;
        }
        inside
            .del_route(&route)
            .or_else(ignore_not_found)
            .context(|| format!("delete a default route in {}", member.netns))?;
        report.changed(format!(
            "deleted a default route {} in {}",
            route
                .gateway
                .map_or("without gateway".to_string(), |g| format!("via {g}")),
            member.netns
        ));
    }
    if !found {
        let route = Route {
            gateway: Some(gateway),
            oif: Some(oif),
            ..Route::default()
        };
        inside
            .replace_route(&route)
            .context(|| format!("add the default route in {}", member.netns))?;
        report.changed(format!(
            "added the default route via {} in {}",
            member.gateway, member.netns
        ));
    }
    Ok(())
}

/// Removes the host-side links and namespaces of members the plan does not have.
fn remove_members_beyond(host: &mut Handle, plan: &LabPlan, report: &mut UpReport) -> Result<()> {
    let scope = &plan.scope;
    let in_plan = |kind: MemberKind| plan.member(kind).is_some();
    for link in host
        .links()
        .context(|| "list links of the host namespace".to_string())?
    {
        let beyond = scope
            .member_of_host_veth(&link.name)
            .is_some_and(|kind| !in_plan(kind));
        if !beyond {
            continue;
        }
        if link.kind.as_deref() != Some("veth") {
            return Err(Error::conflict(
                format!("link {}", link.name),
                format!("it is {}, not a veth", describe_kind(&link)),
            ));
        }
        if host
            .delete_link_by_name(&link.name)
            .context(|| format!("delete {}", link.name))?
        {
            report.changed(format!("deleted {}, which is not in the plan", link.name));
        }
    }
    for name in named_netns()? {
        if scope
            .member_of_netns(&name)
            .is_some_and(|kind| !in_plan(kind))
        {
            NetNs::delete_named(&name).context(|| format!("delete network namespace {name}"))?;
            report.changed(format!(
                "deleted network namespace {name}, which is not in the plan"
            ));
        }
    }
    Ok(())
}

fn lookup(handle: &mut Handle, name: &str, place: &str) -> Result<Link> {
    handle
        .link_by_name(name)
        .context(|| format!("look up {name} in {place}"))?
        .ok_or_else(|| Error::Kernel {
            context: format!("look up {name} in {place}"),
            source: podnet_netlink::Error::NotFound {
                what: format!("link {name}"),
            },
        })
}

pub(crate) fn describe_kind(link: &Link) -> String {
    match &link.kind {
        Some(kind) => format!("a {kind}"),
        None => "a device without a kind (physical or loopback)".to_string(),
    }
}

/// For deletes racing with the kernel's own cleanup: gone is what was wanted.
fn ignore_not_found(
    error: podnet_netlink::Error,
) -> std::result::Result<(), podnet_netlink::Error> {
    if error.is_not_found() {
        Ok(())
    } else {
        Err(error)
    }
}

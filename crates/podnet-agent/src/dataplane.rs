//! Applying the compiled routing and masquerade state to the node's kernel.
//!
//! [`Dataplane`] is the seam between the agent's loops and the kernel, so
//! the loops can be tested against a recording stand-in; [`KernelDataplane`]
//! is the real one (netlink and nftables, in the namespace it was made for).
//! Every apply is a reconcile: it reads what is there, changes only what
//! differs, and removes only objects the agent made (routes tagged with
//! [`ROUTE_PROTOCOL`], and everything on the agent's own VXLAN device).

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use podnet_netlink::{Family, Handle, NetNs, Route, VxlanSpec};
use podnet_nft::{NftCli, Table, TableSync};

use crate::config::{ROUTE_PROTOCOL, VXLAN_DEVICE};
use crate::error::AgentError;
use crate::routing::{DesiredRouting, PeerRoute, RouteDevice, VxlanDevice};

/// The node's kernel as the agent sees it.
pub trait Dataplane: Send + 'static {
    /// Turns IPv4 forwarding on and returns the underlay interface's MTU.
    fn prepare(&mut self) -> Result<u32, AgentError>;
    /// Brings routes, the VXLAN device and its entries to `desired`.
    fn apply_routing(&mut self, desired: &DesiredRouting) -> Result<(), AgentError>;
    /// Brings the node's nftables table to `table`.
    fn apply_masquerade(&mut self, table: &Table) -> Result<(), AgentError>;
}

/// The real kernel: netlink for links and routes, `nft` for the table.
pub struct KernelDataplane {
    underlay: String,
    handle: Handle,
    /// The namespace sysctls are written in; `None` is the caller's own.
    netns: Option<NetNs>,
    nft: TableSync<NftCli>,
}

impl std::fmt::Debug for KernelDataplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelDataplane")
            .field("underlay", &self.underlay)
            .finish_non_exhaustive()
    }
}

impl KernelDataplane {
    /// The network namespace the agent runs in (a lab node's, or a real
    /// node's host namespace).
    pub fn new(underlay: impl Into<String>) -> Result<KernelDataplane, AgentError> {
        Ok(KernelDataplane {
            underlay: underlay.into(),
            handle: Handle::new().map_err(AgentError::netlink("open a netlink socket"))?,
            netns: None,
            nft: TableSync::new(NftCli::new()),
        })
    }

    /// The named namespace `/run/netns/<name>`, from outside it.
    pub fn in_named_netns(
        underlay: impl Into<String>,
        name: &str,
    ) -> Result<KernelDataplane, AgentError> {
        let netns = NetNs::open(std::path::Path::new(podnet_netlink::NETNS_RUN_DIR).join(name))
            .map_err(AgentError::netlink(format!(
                "open network namespace {name}"
            )))?;
        let handle = Handle::in_netns(&netns).map_err(AgentError::netlink(format!(
            "open a netlink socket in {name}"
        )))?;
        Ok(KernelDataplane {
            underlay: underlay.into(),
            handle,
            netns: Some(netns),
            nft: TableSync::new(NftCli::in_netns_named(name)),
        })
    }

    fn underlay_index(&mut self) -> Result<u32, AgentError> {
        let underlay = self.underlay.clone();
        self.handle
            .link_by_name(&underlay)
            .map_err(AgentError::netlink(format!("look up underlay {underlay}")))?
            .map(|link| link.index)
            .ok_or_else(|| {
                AgentError::Config(format!("underlay interface {underlay} does not exist"))
            })
    }

    /// Creates or fixes the VXLAN device; returns its index.
    fn ensure_vxlan(&mut self, device: &VxlanDevice, underlay: u32) -> Result<u32, AgentError> {
        let context = |what: &str| format!("{what} {VXLAN_DEVICE}");
        let existing = self
            .handle
            .link_by_name(VXLAN_DEVICE)
            .map_err(AgentError::netlink(context("look up")))?;
        let link = match existing {
            Some(link) if link.kind.as_deref() == Some("vxlan") => link,
            other => {
                if let Some(foreign) = other {
                    // Something else under our name: ours to replace.
                    self.handle
                        .delete_link(foreign.index)
                        .map_err(AgentError::netlink(context("delete a non-vxlan")))?;
                }
                self.handle
                    .add_vxlan(&VxlanSpec {
                        name: VXLAN_DEVICE,
                        vni: device.vni,
                        local: Some(IpAddr::V4(device.local)),
                        port: device.port,
                        underlay_index: Some(underlay),
                        learning: false,
                        mtu: Some(device.mtu),
                    })
                    .map_err(AgentError::netlink(context("create")))?;
                self.handle
                    .link_by_name(VXLAN_DEVICE)
                    .map_err(AgentError::netlink(context("look up")))?
                    .ok_or_else(|| {
                        AgentError::Objects(vec![format!("{VXLAN_DEVICE} vanished after creation")])
                    })?
            }
        };
        if link.mac != Some(device.mac) {
            self.handle
                .set_mac(link.index, device.mac)
                .map_err(AgentError::netlink(context("set the MAC of")))?;
        }
        if link.mtu != device.mtu {
            self.handle
                .set_mtu(link.index, device.mtu)
                .map_err(AgentError::netlink(context("set the MTU of")))?;
        }
        if !link.up {
            self.handle
                .set_up(link.index)
                .map_err(AgentError::netlink(context("bring up")))?;
        }
        Ok(link.index)
    }

    fn reconcile_vxlan_entries(
        &mut self,
        device: &VxlanDevice,
        index: u32,
        desired: &DesiredRouting,
        failures: &mut Vec<String>,
    ) -> Result<(), AgentError> {
        let want_addresses: BTreeSet<IpNet> =
            device.address.iter().map(|a| IpNet::V4(*a)).collect();
        let addresses = self
            .handle
            .addresses(Some(index), Some(Family::V4))
            .map_err(AgentError::netlink(format!(
                "list addresses of {VXLAN_DEVICE}"
            )))?;
        for address in &addresses {
            if !want_addresses.contains(&address.net) {
                if let Err(error) = self.handle.del_address(index, address.net) {
                    failures.push(error.to_string());
                }
            }
        }
        for net in &want_addresses {
            if !addresses.iter().any(|a| a.net == *net) {
                if let Err(error) = self.handle.add_address(index, *net, false) {
                    failures.push(error.to_string());
                }
            }
        }

        let want_fdb: BTreeSet<([u8; 6], IpAddr)> = desired
            .fdb
            .iter()
            .map(|(mac, ip)| (*mac, IpAddr::V4(*ip)))
            .collect();
        let entries = self
            .handle
            .fdb_entries(index)
            .map_err(AgentError::netlink(format!(
                "list the fdb of {VXLAN_DEVICE}"
            )))?;
        let mut present = BTreeSet::new();
        for entry in entries.iter().filter(|entry| entry.permanent) {
            let Some(dst) = entry.dst else { continue };
            if want_fdb.contains(&(entry.mac, dst)) {
                present.insert((entry.mac, dst));
            } else if let Err(error) = self.handle.del_fdb(index, entry.mac, dst) {
                if !error.is_not_found() {
                    failures.push(error.to_string());
                }
            }
        }
        for (mac, dst) in want_fdb.difference(&present) {
            if let Err(error) = self.handle.add_fdb(index, *mac, *dst) {
                failures.push(error.to_string());
            }
        }

        let want_neighbours: BTreeSet<(IpAddr, [u8; 6])> = desired
            .neighbours
            .iter()
            .map(|(ip, mac)| (IpAddr::V4(*ip), *mac))
            .collect();
        let neighbours = self
            .handle
            .neighbours(Some(index), Some(Family::V4))
            .map_err(AgentError::netlink(format!(
                "list neighbours of {VXLAN_DEVICE}"
            )))?;
        let mut present = BTreeSet::new();
        for neighbour in neighbours.iter().filter(|n| n.permanent) {
            let key = neighbour.mac.map(|mac| (neighbour.ip, mac));
            match key {
                Some(key) if want_neighbours.contains(&key) => {
                    present.insert(key);
                }
                _ => {
                    if let Err(error) = self.handle.del_neighbour(index, neighbour.ip) {
                        if !error.is_not_found() {
                            failures.push(error.to_string());
                        }
                    }
                }
            }
        }
        for (ip, mac) in want_neighbours.difference(&present) {
            if let Err(error) = self.handle.add_neighbour(index, *ip, *mac) {
                failures.push(error.to_string());
            }
        }
        Ok(())
    }

    fn reconcile_routes(
        &mut self,
        routes: &[PeerRoute],
        underlay: u32,
        vxlan: Option<u32>,
        failures: &mut Vec<String>,
    ) -> Result<(), AgentError> {
        let mut wanted = Vec::new();
        for route in routes {
            let oif = match route.device {
                RouteDevice::Underlay => underlay,
                RouteDevice::Vxlan => match vxlan {
                    Some(index) => index,
                    None => {
                        failures.push(format!("route {}: no {VXLAN_DEVICE}", route.dst));
                        continue;
                    }
                },
            };
            wanted.push(kernel_route(route, oif));
        }
        let ours: Vec<Route> = self
            .handle
            .routes(Family::V4, None)
            .map_err(AgentError::netlink("list IPv4 routes"))?
            .into_iter()
            .filter(|route| route.protocol == Some(ROUTE_PROTOCOL))
            .collect();
        for route in &ours {
            if !wanted.iter().any(|want| same_route(want, route)) {
                let stale = Route {
                    dst: route.dst,
                    gateway: route.gateway,
                    oif: route.oif,
                    protocol: Some(ROUTE_PROTOCOL),
                    ..Route::default()
                };
                if let Err(error) = self.handle.del_route(&stale) {
                    if !error.is_not_found() {
                        failures.push(error.to_string());
                    }
                }
            }
        }
        for want in &wanted {
            if !ours.iter().any(|route| same_route(want, route)) {
                // Replace: a route for the same destination left by an
                // earlier mode or address is taken over in one step.
                if let Err(error) = self.handle.replace_route(want) {
                    failures.push(error.to_string());
                }
            }
        }
        Ok(())
    }
}

fn kernel_route(route: &PeerRoute, oif: u32) -> Route {
    Route {
        dst: Some(IpNet::V4(route.dst)),
        gateway: Some(IpAddr::V4(route.gateway)),
        oif: Some(oif),
        onlink: route.onlink,
        protocol: Some(ROUTE_PROTOCOL),
        ..Route::default()
    }
}

/// Whether a listed route is the wanted one, comparing the fields the agent
/// sets (listings fill in table, scope and more).
fn same_route(want: &Route, listed: &Route) -> bool {
    want.dst == listed.dst
        && want.gateway == listed.gateway
        && want.oif == listed.oif
        && want.onlink == listed.onlink
        && listed.table == Some(podnet_netlink::TABLE_MAIN)
}

impl Dataplane for KernelDataplane {
    fn prepare(&mut self) -> Result<u32, AgentError> {
        let set_forwarding = || podnet_netlink::sysctl::set("net.ipv4.ip_forward", "1");
        match &self.netns {
            Some(netns) => netns
                .run(set_forwarding)
                .map_err(AgentError::netlink("enter the node namespace"))?,
            None => set_forwarding(),
        }
        .map_err(AgentError::netlink("set net.ipv4.ip_forward=1"))?;
        let underlay = self.underlay.clone();
        let index = self.underlay_index()?;
        let link = self
            .handle
            .link_by_index(index)
            .map_err(AgentError::netlink(format!("read underlay {underlay}")))?
            .ok_or_else(|| {
                AgentError::Config(format!("underlay interface {underlay} does not exist"))
            })?;
        Ok(link.mtu)
    }

    fn apply_routing(&mut self, desired: &DesiredRouting) -> Result<(), AgentError> {
        let underlay = self.underlay_index()?;
        let mut failures = Vec::new();
        let vxlan = match &desired.vxlan {
            Some(device) => {
                let index = self.ensure_vxlan(device, underlay)?;
                self.reconcile_vxlan_entries(device, index, desired, &mut failures)?;
                Some(index)
            }
            None => {
                // Another mode's device: deleting it takes its addresses,
                // entries and routes along.
                self.handle
                    .delete_link_by_name(VXLAN_DEVICE)
                    .map_err(AgentError::netlink(format!("delete {VXLAN_DEVICE}")))?;
                None
            }
        };
        self.reconcile_routes(&desired.routes, underlay, vxlan, &mut failures)?;
        if failures.is_empty() {
            Ok(())
        } else {
            Err(AgentError::Objects(failures))
        }
    }

    fn apply_masquerade(&mut self, table: &Table) -> Result<(), AgentError> {
        self.nft
            .sync(table.clone())
            .map(|_| ())
            .map_err(|source| AgentError::Nft {
                context: format!("apply table inet {}", table.name),
                source,
            })
    }
}

//! Kernel wiring of a pod: the node's bridge, the veth pair, and the pod side's
//! addresses and routes. Every step is a targeted netlink request (no dumps), so the
//! cost of an ADD does not grow with the number of pods on the bridge.

use crate::error::{CniError, Code, Result};
use crate::result::RouteEntry;
use ipnet::IpNet;
use podnet_netlink::{sysctl, Handle, Link, NetNs, Route, VethSpec};
use std::net::IpAddr;

/// Host-side veth name: stable for a container interface, so DEL and GC find it
/// without any record; "pn" + 11 hash characters stays within 15 bytes.
pub fn host_veth_name(container_id: &str, ifname: &str) -> String {
    format!(
        "pn{}",
        podnet_model::hash::short_hash(&format!("{container_id}/{ifname}"), 11)
    )
}

pub use podnet_model::hash::stable_mac;

pub struct BridgeSpec<'a> {
    pub name: &'a str,
    pub mtu: Option<u32>,
    pub promisc: bool,
}

/// Finds or creates the bridge, up, with a fixed MAC (a bridge otherwise takes the
/// lowest port MAC, which changes as pods come and go and churns neighbours' caches).
pub fn ensure_bridge(h: &mut Handle, spec: &BridgeSpec) -> Result<Link> {
    let link = match h.link_by_name(spec.name)? {
        Some(l) => l,
        None => {
            match h.add_bridge(spec.name, spec.mtu) {
                Ok(()) => {}
                // A concurrent ADD created it first.
                Err(e) if e.is_exists() => {}
                Err(e) => {
                    return Err(CniError::kernel(
                        format!("creating bridge {}", spec.name),
                        e,
                    ))
                }
            }
            let l = h.link_by_name(spec.name)?.ok_or_else(|| {
                CniError::new(
                    Code::Kernel,
                    format!("bridge {} vanished after creation", spec.name),
                )
            })?;
            h.set_mac(l.index, stable_mac(&format!("bridge/{}", spec.name)))?;
            l
        }
    };
    if link.kind.as_deref() != Some("bridge") {
        return Err(CniError::config(format!(
            "bridge: {} exists and is a {} device, not a bridge",
            spec.name,
            link.kind.as_deref().unwrap_or("non-bridge")
        )));
    }
    if !link.up {
        h.set_up(link.index)?;
    }
    if spec.promisc && !link.promisc {
        h.set_promisc(link.index, true)?;
    }
    Ok(link)
}

/// Puts the gateway addresses on the bridge (isGateway). An address of the same
/// family in another subnet is an error unless `force` (forceAddress) replaces it.
pub fn ensure_gateway_addresses(
    h: &mut Handle,
    bridge: &Link,
    gateways: &[IpNet],
    force: bool,
) -> Result<()> {
    if gateways.is_empty() {
        return Ok(());
    }
    let present = h.addresses(Some(bridge.index), None)?;
    for gw in gateways {
        if present.iter().any(|a| a.net.addr() == gw.addr()) {
            continue;
        }
        if gw.addr().is_ipv4() {
            if let Some(other) = present
                .iter()
                .find(|a| a.net.addr().is_ipv4() && a.net.trunc() == gw.trunc())
            {
                if !force {
                    return Err(CniError::config(format!(
                        "bridge {} already has {} in the gateway's subnet (want {}); set forceAddress to replace it",
                        bridge.name, other.net, gw
                    )));
                }
                h.del_address(bridge.index, other.net)?;
            }
        }
        match h.add_address(bridge.index, *gw, true) {
            Ok(()) => {}
            Err(e) if e.is_exists() => {}
            Err(e) => {
                return Err(CniError::kernel(
                    format!("adding {gw} to {}", bridge.name),
                    e,
                ))
            }
        }
    }
    Ok(())
}

/// Sysctl write that skips the write when the value is already right.
pub fn ensure_sysctl(key: &str, value: &str) -> Result<()> {
    match sysctl::get(key) {
        Ok(v) if v.trim() == value => Ok(()),
        _ => sysctl::set(key, value).map_err(|e| CniError::kernel(format!("sysctl {key}"), e)),
    }
}

pub struct PodLinkSpec<'a> {
    pub host_name: &'a str,
    pub ifname: &'a str,
    pub mtu: Option<u32>,
    pub mac: [u8; 6],
    pub hairpin: bool,
}

/// Creates the veth pair with its pod end directly inside the pod's netns (so the
/// pod-side name never clashes with host names), attaches the host end to the bridge.
/// Returns (host link, pod link index).
pub fn create_veth(
    host: &mut Handle,
    pod: &mut Handle,
    pod_ns: &NetNs,
    bridge: &Link,
    spec: &PodLinkSpec,
) -> Result<Link> {
    if pod.link_by_name(spec.ifname)?.is_some() {
        return Err(CniError::new(
            Code::Kernel,
            format!(
                "CNI_IFNAME: interface {} already exists in the container's network namespace",
                spec.ifname
            ),
        ));
    }
    let veth = VethSpec {
        name: spec.host_name,
        mtu: spec.mtu,
        mac: None,
        peer_name: spec.ifname,
        peer_mac: Some(spec.mac),
        peer_netns: Some(pod_ns.as_fd()),
    };
    match host.add_veth(&veth) {
        Ok(()) => {}
        Err(e) if e.is_exists() => {
            // Left by an ADD of this same container that was killed midway: replace it.
            host.delete_link_by_name(spec.host_name)?;
            host.add_veth(&veth)
                .map_err(|e| CniError::kernel(format!("creating veth {}", spec.host_name), e))?;
        }
        Err(e) => {
            return Err(CniError::kernel(
                format!("creating veth {}", spec.host_name),
                e,
            ))
        }
    }
    let link = host.link_by_name(spec.host_name)?.ok_or_else(|| {
        CniError::new(
            Code::Kernel,
            format!("veth {} vanished after creation", spec.host_name),
        )
    })?;
    // A bridge port needs no address of its own. Without this every new port gets an
    // IPv6 link-local address whose DAD, MLD and router solicitations are flooded to
    // every other port, so each ADD would cost more the more pods the bridge has.
    // Bridged IPv6 traffic is not affected. A kernel without IPv6 has no such key.
    match sysctl::set(
        &format!("net/ipv6/conf/{}/disable_ipv6", spec.host_name),
        "1",
    ) {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            return Err(CniError::kernel(
                format!("disabling IPv6 on {}", spec.host_name),
                e,
            ))
        }
    }
    host.set_master(link.index, bridge.index)?;
    if spec.hairpin {
        host.set_hairpin(link.index, true)?;
    }
    host.set_up(link.index)?;
    host.link_by_index(link.index)?
        .ok_or_else(|| CniError::new(Code::Kernel, format!("veth {} vanished", spec.host_name)))
}

/// Addresses, link up and routes inside the pod. IPv6 addresses are added with
/// NODAD after turning DAD off, so they are usable at once instead of after seconds.
pub fn configure_pod(
    pod: &mut Handle,
    pod_ns: &NetNs,
    ifname: &str,
    addresses: &[IpNet],
    routes: &[RouteEntry],
) -> Result<Link> {
    let link = pod.link_by_name(ifname)?.ok_or_else(|| {
        CniError::new(
            Code::Kernel,
            format!("pod interface {ifname} missing after creation"),
        )
    })?;
    if addresses.iter().any(|a| a.addr().is_ipv6()) {
        let keys = [
            (format!("net/ipv6/conf/{ifname}/disable_ipv6"), "0"),
            (format!("net/ipv6/conf/{ifname}/accept_dad"), "0"),
        ];
        pod_ns
            .run(|| -> Result<()> {
                for (k, v) in &keys {
                    ensure_sysctl(k, v)?;
                }
                Ok(())
            })
            .map_err(|e| CniError::kernel("entering the pod network namespace", e))??;
    } else {
        // An IPv4-only pod has no use for a link-local address, whose DAD, MLD and
        // router solicitations would be flooded to every pod on the bridge.
        match pod.set_ipv6_addr_gen_none(link.index) {
            Ok(()) => {}
            // A kernel without IPv6 sends none of that chatter anyway.
            Err(e) if e.errno() == Some(libc::EAFNOSUPPORT) => {}
            Err(e) => {
                return Err(CniError::kernel(
                    format!("IPv6 address mode of {ifname}"),
                    e,
                ))
            }
        }
    }
    for addr in addresses {
        pod.add_address(link.index, *addr, true)
            .map_err(|e| CniError::kernel(format!("adding {addr} to {ifname}"), e))?;
    }
    pod.set_up(link.index)?;
    for r in routes {
        let route = Route {
            dst: Some(r.dst),
            gateway: r.gw,
            oif: Some(link.index),
            table: r.table,
            scope: r.scope,
            priority: r.priority,
            mtu: r.mtu,
            advmss: r.advmss,
            ..Default::default()
        };
        match pod.add_route(&route) {
            Ok(()) => {}
            Err(e) if e.is_exists() => {}
            Err(e) => {
                return Err(CniError::kernel(
                    format!("adding route {} via {:?} in the pod", r.dst, r.gw),
                    e,
                ))
            }
        }
    }
    Ok(link)
}

/// Gateway address for a pod address: the given one or the subnet's first host
/// (as the reference bridge plugin does when IPAM names none).
pub fn gateway_for(address: &IpNet, gateway: Option<IpAddr>) -> Option<IpAddr> {
    gateway.or_else(|| podnet_model::cidr::add(address.network(), 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_veth_names_are_stable_short_and_distinct_per_interface() {
        let a = host_veth_name("0123456789abcdef", "eth0");
        assert_eq!(a, host_veth_name("0123456789abcdef", "eth0"));
        assert!(a.len() <= 15 && a.starts_with("pn"));
        assert_ne!(a, host_veth_name("0123456789abcdef", "net1"));
        assert_ne!(a, host_veth_name("0123456789abcdeg", "eth0"));
    }

    #[test]
    fn stable_macs_are_unicast_and_locally_administered() {
        for seed in ["a", "b", "container/eth0", "bridge/podnet0"] {
            let m = stable_mac(seed);
            assert_eq!(m[0] & 0x01, 0, "unicast");
            assert_eq!(m[0] & 0x02, 0x02, "locally administered");
            assert_eq!(m, stable_mac(seed));
        }
        assert_ne!(stable_mac("a"), stable_mac("b"));
    }

    #[test]
    fn gateway_defaults_to_the_first_host_of_the_subnet() {
        let a: IpNet = "10.1.2.7/24".parse().unwrap();
        assert_eq!(gateway_for(&a, None), Some("10.1.2.1".parse().unwrap()));
        assert_eq!(
            gateway_for(&a, Some("10.1.2.254".parse().unwrap())),
            Some("10.1.2.254".parse().unwrap())
        );
    }
}

//! What the node's routing tables should hold, compiled from the Node list
//! alone (pure; the kernel side is in `dataplane`).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::Node;

use crate::config::{Routing, VTEP_MAC_ANNOTATION, VXLAN_OVERHEAD, VXLAN_PORT, VXLAN_VNI};

/// What routing needs to know about one Node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub name: String,
    pub internal_ip: Option<Ipv4Addr>,
    /// The node's IPv4 pod CIDR, once node IPAM assigned one.
    pub pod_cidr: Option<Ipv4Net>,
    /// The MAC of the node's VXLAN device, from its annotation.
    pub vtep_mac: Option<[u8; 6]>,
    /// A node being deleted gets no routes any more.
    pub deleting: bool,
}

impl NodeView {
    pub fn of(node: &Node) -> NodeView {
        let name = node.metadata.name.clone().unwrap_or_default();
        let internal_ip = node
            .status
            .as_ref()
            .and_then(|status| status.addresses.as_ref())
            .and_then(|addresses| {
                addresses
                    .iter()
                    .filter(|address| address.type_ == "InternalIP")
                    .find_map(|address| address.address.parse::<Ipv4Addr>().ok())
            });
        let pod_cidr = node.spec.as_ref().and_then(|spec| {
            let listed = spec.pod_cidrs.iter().flatten();
            listed
                .chain(spec.pod_cidr.iter())
                .find_map(|cidr| cidr.parse::<Ipv4Net>().ok())
        });
        let vtep_mac = node
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(VTEP_MAC_ANNOTATION))
            .and_then(|text| podnet_netlink::parse_mac(text));
        NodeView {
            name,
            internal_ip,
            pod_cidr,
            vtep_mac,
            deleting: node.metadata.deletion_timestamp.is_some(),
        }
    }
}

/// The MAC of a node's VXLAN device: derived from the node name, so it is
/// the same across agent restarts and device re-creation, and peers keep
/// valid FDB entries. Locally administered, unicast.
pub fn vtep_mac(node_name: &str) -> [u8; 6] {
    podnet_model::hash::stable_mac(node_name)
}

/// The node's own VXLAN device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanDevice {
    pub vni: u32,
    pub port: u16,
    pub local: Ipv4Addr,
    pub mtu: u32,
    pub mac: [u8; 6],
    /// The first address of the node's pod CIDR as a /32; `None` until the
    /// node has a pod CIDR.
    pub address: Option<Ipv4Net>,
}

/// Where a peer route leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteDevice {
    Underlay,
    Vxlan,
}

/// A route to a peer node's pods.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PeerRoute {
    pub dst: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub device: RouteDevice,
    /// The gateway is not covered by any address of the device.
    pub onlink: bool,
}

/// Everything routing wants in the node's kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRouting {
    pub mode: Routing,
    /// `Some` in vxlan mode; in host-gw mode the device must not exist.
    pub vxlan: Option<VxlanDevice>,
    /// Sorted by destination.
    pub routes: Vec<PeerRoute>,
    /// VXLAN forwarding entries: peer VTEP MAC -> peer underlay address.
    pub fdb: Vec<([u8; 6], Ipv4Addr)>,
    /// Neighbour entries on the VXLAN device: peer VTEP address -> MAC.
    pub neighbours: Vec<(Ipv4Addr, [u8; 6])>,
    /// Peers left out, with why (for the log).
    pub skipped: Vec<String>,
}

/// What the node is and sees, for [`compile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalNode<'a> {
    pub name: &'a str,
    pub ip: Ipv4Addr,
    pub mode: Routing,
    pub underlay_mtu: u32,
    /// The node's own pod CIDR, once assigned.
    pub pod_cidr: Option<Ipv4Net>,
}

/// The pods' MTU in `mode`.
pub fn pod_mtu(mode: Routing, underlay_mtu: u32) -> u32 {
    match mode {
        Routing::HostGw => underlay_mtu,
        Routing::Vxlan => underlay_mtu.saturating_sub(VXLAN_OVERHEAD),
    }
}

/// Compiles the routing state for `local` from every Node it knows.
///
/// A peer needs an InternalIP and a pod CIDR (and, for vxlan, a VTEP MAC);
/// peers lacking one are skipped until their Node says more. A pod CIDR that
/// overlaps the node's own or an earlier peer's is skipped too: two routes
/// for one destination would send pods to the wrong node.
pub fn compile(local: &LocalNode, nodes: &[NodeView]) -> DesiredRouting {
    let mut desired = DesiredRouting {
        mode: local.mode,
        vxlan: match local.mode {
            Routing::HostGw => None,
            Routing::Vxlan => Some(VxlanDevice {
                vni: VXLAN_VNI,
                port: VXLAN_PORT,
                local: local.ip,
                mtu: pod_mtu(Routing::Vxlan, local.underlay_mtu),
                mac: vtep_mac(local.name),
                address: local
                    .pod_cidr
                    .map(|cidr| Ipv4Net::new(cidr.network(), 32).expect("/32 is valid")),
            }),
        },
        routes: Vec::new(),
        fdb: Vec::new(),
        neighbours: Vec::new(),
        skipped: Vec::new(),
    };
    let mut taken: Vec<Ipv4Net> = local.pod_cidr.into_iter().collect();
    let mut peers: Vec<&NodeView> = nodes
        .iter()
        .filter(|node| node.name != local.name && !node.deleting)
        .collect();
    peers.sort_by(|a, b| a.name.cmp(&b.name));
    for peer in peers {
        let (Some(ip), Some(cidr)) = (peer.internal_ip, peer.pod_cidr) else {
            desired.skipped.push(format!(
                "{}: no {} yet",
                peer.name,
                if peer.internal_ip.is_none() {
                    "InternalIP"
                } else {
                    "pod CIDR"
                }
            ));
            continue;
        };
        if let Some(clash) = taken
            .iter()
            .find(|other| other.contains(&cidr.network()) || cidr.contains(&other.network()))
        {
            desired
                .skipped
                .push(format!("{}: pod CIDR {cidr} overlaps {clash}", peer.name));
            continue;
        }
        match local.mode {
            Routing::HostGw => desired.routes.push(PeerRoute {
                dst: cidr,
                gateway: ip,
                device: RouteDevice::Underlay,
                onlink: false,
            }),
            Routing::Vxlan => {
                let Some(mac) = peer.vtep_mac else {
                    desired.skipped.push(format!(
                        "{}: no {VTEP_MAC_ANNOTATION} annotation yet",
                        peer.name
                    ));
                    continue;
                };
                let vtep = cidr.network();
                desired.fdb.push((mac, ip));
                desired.neighbours.push((vtep, mac));
                desired.routes.push(PeerRoute {
                    dst: cidr,
                    gateway: vtep,
                    device: RouteDevice::Vxlan,
                    onlink: true,
                });
            }
        }
        taken.push(cidr);
    }
    desired.routes.sort();
    desired
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, ip: Option<&str>, cidr: Option<&str>, mac: Option<&str>) -> Node {
        let mut annotations = serde_json::Map::new();
        if let Some(mac) = mac {
            annotations.insert(VTEP_MAC_ANNOTATION.into(), json!(mac));
        }
        let addresses: Vec<_> = ip
            .map(|ip| {
                vec![
                    json!({"type": "Hostname", "address": name}),
                    json!({"type": "InternalIP", "address": ip}),
                ]
            })
            .unwrap_or_default();
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"podCIDR": cidr, "podCIDRs": cidr.map(|c| vec![c])},
            "status": {"addresses": addresses},
        }))
        .unwrap()
    }

    fn views(nodes: &[Node]) -> Vec<NodeView> {
        nodes.iter().map(NodeView::of).collect()
    }

    fn local(mode: Routing) -> LocalNode<'static> {
        LocalNode {
            name: "n1",
            ip: "172.30.0.11".parse().unwrap(),
            mode,
            underlay_mtu: 1500,
            pod_cidr: Some("10.244.1.0/24".parse().unwrap()),
        }
    }

    fn cluster() -> Vec<NodeView> {
        views(&[
            node(
                "n1",
                Some("172.30.0.11"),
                Some("10.244.1.0/24"),
                Some("02:00:00:00:00:01"),
            ),
            node(
                "n3",
                Some("172.30.0.13"),
                Some("10.244.3.0/24"),
                Some("02:00:00:00:00:03"),
            ),
            node(
                "n2",
                Some("172.30.0.12"),
                Some("10.244.2.0/24"),
                Some("02:00:00:00:00:02"),
            ),
        ])
    }

    #[test]
    fn a_node_view_reads_internal_ip_pod_cidr_and_vtep_mac() {
        let view = NodeView::of(&node(
            "n2",
            Some("172.30.0.12"),
            Some("10.244.2.0/24"),
            Some("02:aa:bb:cc:dd:ee"),
        ));
        assert_eq!(view.internal_ip, Some("172.30.0.12".parse().unwrap()));
        assert_eq!(view.pod_cidr, Some("10.244.2.0/24".parse().unwrap()));
        assert_eq!(view.vtep_mac, Some([0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]));
        assert!(!view.deleting);
    }

    #[test]
    fn host_gw_routes_each_peer_cidr_via_its_underlay_address() {
        let desired = compile(&local(Routing::HostGw), &cluster());
        assert_eq!(desired.vxlan, None);
        assert!(desired.fdb.is_empty() && desired.neighbours.is_empty());
        assert_eq!(
            desired.routes,
            vec![
                PeerRoute {
                    dst: "10.244.2.0/24".parse().unwrap(),
                    gateway: "172.30.0.12".parse().unwrap(),
                    device: RouteDevice::Underlay,
                    onlink: false,
                },
                PeerRoute {
                    dst: "10.244.3.0/24".parse().unwrap(),
                    gateway: "172.30.0.13".parse().unwrap(),
                    device: RouteDevice::Underlay,
                    onlink: false,
                },
            ]
        );
        assert!(desired.skipped.is_empty(), "{:?}", desired.skipped);
    }

    #[test]
    fn vxlan_programs_fdb_neighbour_and_onlink_route_per_peer() {
        let desired = compile(&local(Routing::Vxlan), &cluster());
        let device = desired.vxlan.as_ref().unwrap();
        assert_eq!(device.vni, 1);
        assert_eq!(device.port, 8472);
        assert_eq!(device.local, "172.30.0.11".parse::<Ipv4Addr>().unwrap());
        assert_eq!(device.mtu, 1450);
        assert_eq!(device.mac, vtep_mac("n1"));
        assert_eq!(device.address, Some("10.244.1.0/32".parse().unwrap()));
        assert_eq!(
            desired.fdb,
            vec![
                ([2, 0, 0, 0, 0, 2], "172.30.0.12".parse().unwrap()),
                ([2, 0, 0, 0, 0, 3], "172.30.0.13".parse().unwrap()),
            ]
        );
        assert_eq!(
            desired.neighbours,
            vec![
                ("10.244.2.0".parse().unwrap(), [2, 0, 0, 0, 0, 2]),
                ("10.244.3.0".parse().unwrap(), [2, 0, 0, 0, 0, 3]),
            ]
        );
        assert_eq!(
            desired.routes[0],
            PeerRoute {
                dst: "10.244.2.0/24".parse().unwrap(),
                gateway: "10.244.2.0".parse().unwrap(),
                device: RouteDevice::Vxlan,
                onlink: true,
            }
        );
        assert_eq!(desired.routes.len(), 2);
    }

    #[test]
    fn incomplete_deleting_and_overlapping_peers_are_skipped_with_a_reason() {
        let mut nodes = views(&[
            node("n2", None, Some("10.244.2.0/24"), Some("02:00:00:00:00:02")),
            node("n3", Some("172.30.0.13"), None, Some("02:00:00:00:00:03")),
            node("n4", Some("172.30.0.14"), Some("10.244.4.0/24"), None),
            node(
                "n5",
                Some("172.30.0.15"),
                Some("10.244.1.0/24"),
                Some("02:00:00:00:00:05"),
            ),
            node(
                "n6",
                Some("172.30.0.16"),
                Some("10.244.6.0/24"),
                Some("02:00:00:00:00:06"),
            ),
        ]);
        nodes[4].deleting = true;
        let desired = compile(&local(Routing::Vxlan), &nodes);
        assert!(desired.routes.is_empty(), "{:?}", desired.routes);
        assert_eq!(
            desired.skipped,
            vec![
                "n2: no InternalIP yet".to_string(),
                "n3: no pod CIDR yet".to_string(),
                "n4: no podnet.io/vtep-mac annotation yet".to_string(),
                "n5: pod CIDR 10.244.1.0/24 overlaps 10.244.1.0/24".to_string(),
            ]
        );
        // host-gw needs no VTEP MAC.
        let host_gw = compile(&local(Routing::HostGw), &nodes);
        assert_eq!(host_gw.routes.len(), 1);
        assert_eq!(
            host_gw.routes[0].gateway,
            "172.30.0.14".parse::<Ipv4Addr>().unwrap()
        );
    }

    #[test]
    fn without_its_own_cidr_the_vxlan_device_has_no_address_but_peers_are_routed() {
        let mut local = local(Routing::Vxlan);
        local.pod_cidr = None;
        let desired = compile(&local, &cluster());
        assert_eq!(desired.vxlan.unwrap().address, None);
        // n1 is the local node by name, so only n2 and n3 are peers.
        assert_eq!(desired.routes.len(), 2);
    }

    #[test]
    fn vtep_macs_are_stable_unicast_and_locally_administered() {
        let mac = vtep_mac("podnet-node-1");
        assert_eq!(mac, vtep_mac("podnet-node-1"));
        assert_ne!(mac, vtep_mac("podnet-node-2"));
        assert_eq!(mac[0] & 0x01, 0, "unicast");
        assert_eq!(mac[0] & 0x02, 0x02, "locally administered");
    }

    #[test]
    fn pods_lose_the_overlay_headers_from_their_mtu_with_vxlan_only() {
        assert_eq!(pod_mtu(Routing::HostGw, 1500), 1500);
        assert_eq!(pod_mtu(Routing::Vxlan, 1500), 1450);
    }
}

//! Links: lookups, bridge/veth/vxlan creation, attribute changes, deletion.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{DefaultNla, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoVeth, InfoVxlan, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage, LinkProtoInfoBridge,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::mac::mac_from_slice;

/// `IFLA_BRPORT_MODE`: the bridge port's hairpin switch.
const IFLA_BRPORT_MODE: u16 = 4;
/// `IFNAMSIZ` minus the terminating NUL.
const MAX_IFNAME_LEN: usize = 15;

/// A network interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `IFLA_INFO_KIND` (`bridge`, `veth`, `vxlan`, ...); `None` for physical
    /// devices and loopback.
    pub kind: Option<String>,
    /// `None` when the link-layer address is not an Ethernet one.
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    /// Index of the bridge (or other controller) this link is enslaved to.
    pub master: Option<u32>,
    /// Administratively up (`IFF_UP`), regardless of carrier.
    pub up: bool,
    /// Promiscuous mode as requested by the user (`IFF_PROMISC`); bridge ports
    /// do not show it just for being ports.
    pub promisc: bool,
}

/// A veth pair to create. The peer can be created straight inside another
/// namespace, so its name only has to be unique there.
#[derive(Debug, Clone)]
pub struct VethSpec<'a> {
    pub name: &'a str,
    /// Applied to both ends.
    pub mtu: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub peer_name: &'a str,
    pub peer_mac: Option<[u8; 6]>,
    /// Namespace for the peer (`IFLA_NET_NS_FD` in the peer's attributes);
    /// `None` keeps it beside the first end.
    pub peer_netns: Option<BorrowedFd<'a>>,
}

/// A VXLAN device to create, for an FDB-driven unicast overlay (no
/// multicast group).
#[derive(Debug, Clone)]
pub struct VxlanSpec<'a> {
    pub name: &'a str,
    /// 24-bit VXLAN network identifier.
    pub vni: u32,
    /// Source address of the tunnel packets.
    pub local: Option<IpAddr>,
    /// Destination UDP port; 0 leaves the kernel default (8472).
    pub port: u16,
    /// Underlay device the tunnel packets leave through.
    pub underlay_index: Option<u32>,
    /// Whether the kernel learns remote MACs from received packets; overlays
    /// that program the FDB themselves turn it off.
    pub learning: bool,
    pub mtu: Option<u32>,
}

impl Handle {
    /// Looks a link up by name with a targeted `RTM_GETLINK` (no dump).
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<Link>> {
        check_ifname(name)?;
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_string()));
        self.get_link(message, || format!("link {name}"))
    }

    /// Looks a link up by index.
    pub fn link_by_index(&mut self, index: u32) -> Result<Option<Link>> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        self.get_link(message, || format!("link {index}"))
    }

    /// All links of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let answers = self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()), || {
            "links".into()
        })?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewLink(message) => Some(link_from_message(message)),
                _ => None,
            })
            .collect())
    }

    /// Whether the bridge port `index` has hairpin mode on; `None` when the
    /// link is not a bridge port.
    pub fn hairpin(&mut self, index: u32) -> Result<Option<bool>> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        let answers = self.request(RouteNetlinkMessage::GetLink(message), 0, "get", || {
            format!("link {index}")
        })?;
        let message = single_link(&answers, || format!("link {index}"))?;
        Ok(hairpin_from_message(message))
    }

    /// Creates a bridge. An existing name is [`Error::Exists`].
    pub fn add_bridge(&mut self, name: &str, mtu: Option<u32>) -> Result<()> {
        check_ifname(name)?;
        let message = bridge_message(name, mtu);
        self.request(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
            "add",
            || format!("link {name}"),
        )?;
        Ok(())
    }

    /// Creates a veth pair, the peer possibly in another namespace. A name
    /// taken on either side is [`Error::Exists`].
    pub fn add_veth(&mut self, spec: &VethSpec) -> Result<()> {
        check_ifname(spec.name)?;
        check_ifname(spec.peer_name)?;
        let message = veth_message(spec);
        self.request(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
            "add",
            || format!("veth {} (peer {})", spec.name, spec.peer_name),
        )?;
        Ok(())
    }

    /// Creates a VXLAN device.
    pub fn add_vxlan(&mut self, spec: &VxlanSpec) -> Result<()> {
        check_ifname(spec.name)?;
        if spec.vni >= 1 << 24 {
            return Err(Error::invalid(
                format!("vni of vxlan {}", spec.name),
                format!("{} does not fit in 24 bits", spec.vni),
            ));
        }
        let message = vxlan_message(spec);
        self.request(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
            "add",
            || format!("vxlan {} (vni {})", spec.name, spec.vni),
        )?;
        Ok(())
    }

    /// Deletes a link; a missing one is [`Error::NotFound`]. Deleting one end
    /// of a veth pair deletes both.
    pub fn delete_link(&mut self, index: u32) -> Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        self.request(RouteNetlinkMessage::DelLink(message), 0, "delete", || {
            format!("link {index}")
        })?;
        Ok(())
    }

    /// Deletes a link by name; `Ok(false)` when there was none.
    pub fn delete_link_by_name(&mut self, name: &str) -> Result<bool> {
        check_ifname(name)?;
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::DelLink(message), 0, "delete", || {
            format!("link {name}")
        }) {
            Ok(_) => Ok(true),
            Err(err) if err.is_not_found() => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Sets `IFF_UP`.
    pub fn set_up(&mut self, index: u32) -> Result<()> {
        self.set_flag(index, LinkFlags::Up, true, "set up")
    }

    /// Clears `IFF_UP`.
    pub fn set_down(&mut self, index: u32) -> Result<()> {
        self.set_flag(index, LinkFlags::Up, false, "set down")
    }

    /// Enslaves the link to `master` (a bridge); 0 releases it.
    pub fn set_master(&mut self, index: u32, master: u32) -> Result<()> {
        self.set_attribute(index, LinkAttribute::Controller(master), || {
            format!("set master {master} on")
        })
    }

    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<()> {
        self.set_attribute(index, LinkAttribute::Mtu(mtu), || {
            format!("set mtu {mtu} on")
        })
    }

    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> Result<()> {
        self.set_attribute(index, LinkAttribute::Address(mac.to_vec()), || {
            format!("set mac {} on", crate::format_mac(&mac))
        })
    }

    /// Stops the kernel from giving the link an IPv6 link-local address (addr_gen_mode
    /// none). Without one the link sends no duplicate address detection, router
    /// solicitations or MLD reports: useful on links of an IPv4-only network. Takes
    /// effect for addresses generated after it, so set it before the link goes up.
    pub fn set_ipv6_addr_gen_none(&mut self, index: u32) -> Result<()> {
        use netlink_packet_route::link::{AfSpecInet6, AfSpecUnspec, In6AddrGenMode};
        self.set_attribute(
            index,
            LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(vec![AfSpecInet6::AddrGenMode(
                In6AddrGenMode::None,
            )])]),
            || "set IPv6 addr_gen_mode none on".to_string(),
        )
    }

    pub fn set_promisc(&mut self, index: u32, on: bool) -> Result<()> {
        let verb = if on {
            "set promisc on"
        } else {
            "set promisc off"
        };
        self.set_flag(index, LinkFlags::Promisc, on, verb)
    }

    /// Moves the link into the namespace behind `ns`. The index may change
    /// there, so look the link up again by name afterwards.
    pub fn set_netns(&mut self, index: u32, ns: BorrowedFd<'_>) -> Result<()> {
        self.set_attribute(index, LinkAttribute::NetNsFd(ns.as_raw_fd()), || {
            "move to another netns".into()
        })
    }

    /// Renames the link; the kernel refuses while it is up.
    pub fn set_name(&mut self, index: u32, name: &str) -> Result<()> {
        check_ifname(name)?;
        self.set_attribute(index, LinkAttribute::IfName(name.to_string()), || {
            format!("rename to {name}")
        })
    }

    /// Turns hairpin mode of a bridge port on or off (`IFLA_PROTINFO` /
    /// `IFLA_BRPORT_MODE` on an `AF_BRIDGE` `RTM_SETLINK`). The link must
    /// already be enslaved to a bridge.
    pub fn set_hairpin(&mut self, index: u32, on: bool) -> Result<()> {
        let message = hairpin_message(index, on);
        let verb = if on {
            "set hairpin on"
        } else {
            "set hairpin off"
        };
        self.request(RouteNetlinkMessage::SetLink(message), 0, verb, || {
            format!("bridge port {index}")
        })?;
        Ok(())
    }

    fn get_link(
        &mut self,
        message: LinkMessage,
        what: impl Fn() -> String,
    ) -> Result<Option<Link>> {
        match self.request(RouteNetlinkMessage::GetLink(message), 0, "get", &what) {
            Ok(answers) => Ok(Some(link_from_message(single_link(&answers, &what)?))),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn set_flag(&mut self, index: u32, flag: LinkFlags, on: bool, verb: &str) -> Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        message.header.change_mask = flag;
        if on {
            message.header.flags = flag;
        }
        self.request(RouteNetlinkMessage::SetLink(message), 0, verb, || {
            format!("link {index}")
        })?;
        Ok(())
    }

    fn set_attribute(
        &mut self,
        index: u32,
        attribute: LinkAttribute,
        verb: impl FnOnce() -> String,
    ) -> Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        message.attributes.push(attribute);
        let verb = verb();
        self.request(RouteNetlinkMessage::SetLink(message), 0, &verb, || {
            format!("link {index}")
        })?;
        Ok(())
    }
}

fn single_link(answers: &[RouteNetlinkMessage], what: impl Fn() -> String) -> Result<&LinkMessage> {
    answers
        .iter()
        .find_map(|answer| match answer {
            RouteNetlinkMessage::NewLink(message) => Some(message),
            _ => None,
        })
        .ok_or_else(|| Error::Protocol {
            context: format!("get {}", what()),
            message: "the kernel acknowledged without sending the link".into(),
        })
}

/// Applies the kernel's `dev_valid_name` rules up front so the error names
/// the field instead of a bare EINVAL.
pub(crate) fn check_ifname(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > MAX_IFNAME_LEN {
        "longer than 15 bytes"
    } else if name == "." || name == ".." {
        "not a valid name"
    } else if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace())
    {
        "contains '/', ':', NUL or whitespace"
    } else {
        return Ok(());
    };
    Err(Error::invalid(format!("interface name {name:?}"), reason))
}

pub(crate) fn link_from_message(message: &LinkMessage) -> Link {
    let mut link = Link {
        index: message.header.index,
        name: String::new(),
        kind: None,
        mac: None,
        mtu: 0,
        master: None,
        up: message.header.flags.contains(LinkFlags::Up),
        promisc: message.header.flags.contains(LinkFlags::Promisc),
    };
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::IfName(name) => link.name = name.clone(),
            LinkAttribute::Address(bytes) => link.mac = mac_from_slice(bytes),
            LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
            LinkAttribute::Controller(master) if *master != 0 => link.master = Some(*master),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(kind) = info {
                        link.kind = Some(kind.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

pub(crate) fn hairpin_from_message(message: &LinkMessage) -> Option<bool> {
    message
        .attributes
        .iter()
        .find_map(|attribute| match attribute {
            LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|info| match info {
                LinkInfo::PortData(InfoPortData::BridgePort(port)) => {
                    port.iter().find_map(|item| match item {
                        InfoBridgePort::HairpinMode(on) => Some(*on),
                        _ => None,
                    })
                }
                _ => None,
            }),
            _ => None,
        })
}

pub(crate) fn bridge_message(name: &str, mtu: Option<u32>) -> LinkMessage {
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    if let Some(mtu) = mtu {
        message.attributes.push(LinkAttribute::Mtu(mtu));
    }
    message
        .attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Bridge,
        )]));
    message
}

pub(crate) fn veth_message(spec: &VethSpec) -> LinkMessage {
    let mut peer = LinkMessage::default();
    peer.attributes
        .push(LinkAttribute::IfName(spec.peer_name.to_string()));
    if let Some(mtu) = spec.mtu {
        peer.attributes.push(LinkAttribute::Mtu(mtu));
    }
    if let Some(mac) = spec.peer_mac {
        peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    if let Some(ns) = spec.peer_netns {
        peer.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
    }

    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(spec.name.to_string()));
    if let Some(mtu) = spec.mtu {
        message.attributes.push(LinkAttribute::Mtu(mtu));
    }
    if let Some(mac) = spec.mac {
        message
            .attributes
            .push(LinkAttribute::Address(mac.to_vec()));
    }
    message.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    message
}

pub(crate) fn vxlan_message(spec: &VxlanSpec) -> LinkMessage {
    let mut data = vec![InfoVxlan::Id(spec.vni)];
    match spec.local {
        Some(IpAddr::V4(local)) => data.push(InfoVxlan::Local(local)),
        Some(IpAddr::V6(local)) => data.push(InfoVxlan::Local6(local)),
        None => {}
    }
    if let Some(underlay) = spec.underlay_index {
        data.push(InfoVxlan::Link(underlay));
    }
    if spec.port != 0 {
        data.push(InfoVxlan::Port(spec.port));
    }
    data.push(InfoVxlan::Learning(spec.learning));

    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(spec.name.to_string()));
    if let Some(mtu) = spec.mtu {
        message.attributes.push(LinkAttribute::Mtu(mtu));
    }
    message.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Vxlan),
        LinkInfo::Data(InfoData::Vxlan(data)),
    ]));
    message
}

pub(crate) fn hairpin_message(index: u32, on: bool) -> LinkMessage {
    let mut message = LinkMessage::default();
    message.header.interface_family = AddressFamily::Bridge;
    message.header.index = index;
    message.attributes.push(LinkAttribute::ProtoInfoBridge(vec![
        LinkProtoInfoBridge::Other(DefaultNla::new(IFLA_BRPORT_MODE, vec![u8::from(on)])),
    ]));
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, Parseable};
    use std::net::Ipv4Addr;

    /// Serialises and parses back, the way the kernel would see the message.
    fn round_trip(message: &LinkMessage) -> LinkMessage {
        let mut bytes = vec![0u8; message.buffer_len()];
        message.emit(&mut bytes);
        LinkMessage::parse(bytes.as_slice()).unwrap()
    }

    fn info_of(message: &LinkMessage) -> &Vec<LinkInfo> {
        message
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::LinkInfo(infos) => Some(infos),
                _ => None,
            })
            .expect("message has IFLA_LINKINFO")
    }

    #[test]
    fn interface_names_follow_kernel_rules() {
        assert!(check_ifname("eth0").is_ok());
        assert!(check_ifname("a23456789012345").is_ok());
        for bad in [
            "",
            ".",
            "..",
            "a2345678901234567",
            "a/b",
            "a:b",
            "a b",
            "a\tb",
        ] {
            assert!(
                matches!(check_ifname(bad), Err(Error::Invalid { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn link_is_read_from_header_flags_and_attributes() {
        let mut message = LinkMessage::default();
        message.header.index = 7;
        message.header.flags = LinkFlags::Up | LinkFlags::Promisc | LinkFlags::Broadcast;
        message.attributes = vec![
            LinkAttribute::IfName("veth1".into()),
            LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]),
            LinkAttribute::Mtu(1450),
            LinkAttribute::Controller(3),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth)]),
        ];
        let link = link_from_message(&round_trip(&message));
        assert_eq!(
            link,
            Link {
                index: 7,
                name: "veth1".into(),
                kind: Some("veth".into()),
                mac: Some([2, 0, 0, 0, 0, 1]),
                mtu: 1450,
                master: Some(3),
                up: true,
                promisc: true,
            }
        );
    }

    #[test]
    fn link_without_optional_attributes_has_none() {
        let mut message = LinkMessage::default();
        message.header.index = 1;
        message.attributes = vec![
            LinkAttribute::IfName("lo".into()),
            LinkAttribute::Mtu(65536),
        ];
        let link = link_from_message(&message);
        assert_eq!(link.kind, None);
        assert_eq!(link.mac, None);
        assert_eq!(link.master, None);
        assert!(!link.up && !link.promisc);
    }

    #[test]
    fn bridge_message_names_kind_and_mtu() {
        let message = round_trip(&bridge_message("br0", Some(1400)));
        assert!(message
            .attributes
            .contains(&LinkAttribute::IfName("br0".into())));
        assert!(message.attributes.contains(&LinkAttribute::Mtu(1400)));
        assert!(info_of(&message).contains(&LinkInfo::Kind(InfoKind::Bridge)));
    }

    #[test]
    fn veth_peer_carries_its_own_name_mac_mtu_and_namespace() {
        let ns = std::fs::File::open("/proc/self/ns/net").unwrap();
        let ns_fd = std::os::fd::AsFd::as_fd(&ns);
        let spec = VethSpec {
            name: "veth0",
            mtu: Some(1450),
            mac: Some([2, 0, 0, 0, 0, 1]),
            peer_name: "eth0",
            peer_mac: Some([2, 0, 0, 0, 0, 2]),
            peer_netns: Some(ns_fd),
        };
        let message = veth_message(&spec);
        assert!(message
            .attributes
            .contains(&LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1])));
        let infos = info_of(&message);
        assert_eq!(infos[0], LinkInfo::Kind(InfoKind::Veth));
        let LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))) = &infos[1] else {
            panic!("second info must be the veth peer: {infos:?}");
        };
        assert_eq!(
            peer.attributes,
            vec![
                LinkAttribute::IfName("eth0".into()),
                LinkAttribute::Mtu(1450),
                LinkAttribute::Address(vec![2, 0, 0, 0, 0, 2]),
                LinkAttribute::NetNsFd(ns.as_raw_fd()),
            ]
        );
    }

    #[test]
    fn vxlan_message_encodes_vni_local_underlay_port_and_learning() {
        let spec = VxlanSpec {
            name: "vx0",
            vni: 42,
            local: Some(IpAddr::V4(Ipv4Addr::new(172, 30, 0, 10))),
            port: 4789,
            underlay_index: Some(2),
            learning: false,
            mtu: Some(1450),
        };
        let message = round_trip(&vxlan_message(&spec));
        let infos = info_of(&message);
        assert_eq!(infos[0], LinkInfo::Kind(InfoKind::Vxlan));
        assert_eq!(
            infos[1],
            LinkInfo::Data(InfoData::Vxlan(vec![
                InfoVxlan::Id(42),
                InfoVxlan::Local(Ipv4Addr::new(172, 30, 0, 10)),
                InfoVxlan::Link(2),
                InfoVxlan::Port(4789),
                InfoVxlan::Learning(false),
            ]))
        );
        assert!(message.attributes.contains(&LinkAttribute::Mtu(1450)));
    }

    #[test]
    fn vxlan_port_zero_leaves_the_kernel_default() {
        let spec = VxlanSpec {
            name: "vx0",
            vni: 1,
            local: None,
            port: 0,
            underlay_index: None,
            learning: true,
            mtu: None,
        };
        let infos = info_of(&vxlan_message(&spec)).clone();
        let LinkInfo::Data(InfoData::Vxlan(data)) = &infos[1] else {
            panic!("{infos:?}")
        };
        assert_eq!(data, &vec![InfoVxlan::Id(1), InfoVxlan::Learning(true)]);
    }

    #[test]
    fn hairpin_request_is_a_nested_bridge_protinfo() {
        let message = hairpin_message(9, true);
        let mut bytes = vec![0u8; message.buffer_len()];
        message.emit(&mut bytes);
        // ifinfomsg: family AF_BRIDGE (7), index 9.
        assert_eq!(bytes[0], libc::AF_BRIDGE as u8);
        assert_eq!(u32::from_ne_bytes(bytes[4..8].try_into().unwrap()), 9);
        // IFLA_PROTINFO (12) with NLA_F_NESTED, holding IFLA_BRPORT_MODE = 1.
        let outer_kind = u16::from_ne_bytes(bytes[18..20].try_into().unwrap());
        assert_eq!(outer_kind, 12 | 0x8000);
        let inner_kind = u16::from_ne_bytes(bytes[22..24].try_into().unwrap());
        assert_eq!(inner_kind, IFLA_BRPORT_MODE);
        assert_eq!(bytes[24], 1);
    }

    #[test]
    fn hairpin_is_read_from_bridge_port_data() {
        let mut message = LinkMessage::default();
        message.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::PortKind(netlink_packet_route::link::InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                true,
            )])),
        ]));
        assert_eq!(hairpin_from_message(&round_trip(&message)), Some(true));
        assert_eq!(hairpin_from_message(&LinkMessage::default()), None);
    }
}

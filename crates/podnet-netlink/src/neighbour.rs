//! Neighbour (ARP/NDP) entries and bridge/VXLAN forwarding database entries,
//! the two tables a VXLAN overlay programs per remote node.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::address::{address_family_of, Family};
use crate::error::Result;
use crate::handle::Handle;
use crate::mac::{format_mac, mac_from_slice};

/// A neighbour table entry (IP to MAC on one link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    pub index: u32,
    pub ip: IpAddr,
    /// `None` while the entry is unresolved.
    pub mac: Option<[u8; 6]>,
    pub permanent: bool,
}

/// A forwarding database entry: frames for `mac` leave through link `index`,
/// towards `dst` for VXLAN devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdbEntry {
    pub index: u32,
    pub mac: [u8; 6],
    /// Remote VTEP address; `None` on plain bridge ports.
    pub dst: Option<IpAddr>,
    pub permanent: bool,
}

impl Handle {
    /// Adds or replaces a permanent neighbour entry.
    pub fn add_neighbour(&mut self, index: u32, ip: IpAddr, mac: [u8; 6]) -> Result<()> {
        let message = neighbour_message(index, ip, mac);
        self.request(
            RouteNetlinkMessage::NewNeighbour(message),
            NLM_F_CREATE | NLM_F_REPLACE,
            "add",
            || format!("neighbour {ip} lladdr {} on link {index}", format_mac(&mac)),
        )?;
        Ok(())
    }

    /// Deletes the neighbour entry for `ip`; absent is [`crate::Error::NotFound`].
    pub fn del_neighbour(&mut self, index: u32, ip: IpAddr) -> Result<()> {
        let mut message = NeighbourMessage::default();
        message.header.family = address_family_of(&ip);
        message.header.ifindex = index;
        message
            .attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::from(ip)));
        self.request(
            RouteNetlinkMessage::DelNeighbour(message),
            0,
            "delete",
            || format!("neighbour {ip} on link {index}"),
        )?;
        Ok(())
    }

    /// Neighbour entries of one link (or all), of one family (or both).
    pub fn neighbours(
        &mut self,
        index: Option<u32>,
        family: Option<Family>,
    ) -> Result<Vec<Neighbour>> {
        let mut request = NeighbourMessage::default();
        request.header.family = family.map_or(AddressFamily::Unspec, Family::address_family);
        // Strict dump checking wants the link filter as NDA_IFINDEX, not in
        // the header.
        if let Some(index) = index {
            request.attributes.push(NeighbourAttribute::IfIndex(index));
        }
        let answers = self.dump(RouteNetlinkMessage::GetNeighbour(request), || match index {
            Some(index) => format!("neighbours of link {index}"),
            None => "neighbours".into(),
        })?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewNeighbour(message) => neighbour_from_message(message),
                _ => None,
            })
            .filter(|neighbour| index.is_none_or(|index| neighbour.index == index))
            .filter(|neighbour| family.is_none_or(|family| Family::of(&neighbour.ip) == family))
            .collect())
    }

    /// Adds a permanent FDB entry on a VXLAN device (`bridge fdb ... self
    /// permanent`). The all-zero MAC is the flood list, which holds one entry
    /// per remote, so it is appended to; any other MAC points at one remote
    /// and is replaced. Both are idempotent.
    pub fn add_fdb(&mut self, index: u32, mac: [u8; 6], dst: IpAddr) -> Result<()> {
        let message = fdb_message(index, mac, dst);
        self.request(
            RouteNetlinkMessage::NewNeighbour(message),
            fdb_add_flags(&mac),
            "add",
            || format!("fdb entry {} dst {dst} on link {index}", format_mac(&mac)),
        )?;
        Ok(())
    }

    /// Deletes one FDB entry (for the flood list, only the remote `dst`).
    /// No entry for `mac` at all is [`crate::Error::NotFound`]; the kernel
    /// treats an unknown `dst` of an existing `mac` as already deleted.
    pub fn del_fdb(&mut self, index: u32, mac: [u8; 6], dst: IpAddr) -> Result<()> {
        let message = fdb_message(index, mac, dst);
        self.request(
            RouteNetlinkMessage::DelNeighbour(message),
            0,
            "delete",
            || format!("fdb entry {} dst {dst} on link {index}", format_mac(&mac)),
        )?;
        Ok(())
    }

    /// FDB entries of link `index` (a VXLAN device or bridge port).
    pub fn fdb_entries(&mut self, index: u32) -> Result<Vec<FdbEntry>> {
        let mut request = NeighbourMessage::default();
        request.header.family = AddressFamily::Bridge;
        request.header.ifindex = index;
        let answers = self.dump(RouteNetlinkMessage::GetNeighbour(request), || {
            format!("fdb of link {index}")
        })?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewNeighbour(message) => fdb_from_message(message),
                _ => None,
            })
            .filter(|entry| entry.index == index)
            .collect())
    }
}

pub(crate) fn neighbour_message(index: u32, ip: IpAddr, mac: [u8; 6]) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = address_family_of(&ip);
    message.header.ifindex = index;
    message.header.state = NeighbourState::Permanent;
    message
        .attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::from(ip)));
    message
        .attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    message
}

pub(crate) fn fdb_message(index: u32, mac: [u8; 6], dst: IpAddr) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = index;
    message.header.state = NeighbourState::Permanent;
    // NTF_SELF: the entry belongs to the VXLAN device itself, not to a bridge
    // it might be a port of.
    message.header.flags = NeighbourFlags::Own;
    message
        .attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
    message
        .attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::from(dst)));
    message
}

pub(crate) fn fdb_add_flags(mac: &[u8; 6]) -> u16 {
    if mac.iter().all(|&b| b == 0) {
        NLM_F_CREATE | NLM_F_APPEND
    } else {
        NLM_F_CREATE | NLM_F_REPLACE
    }
}

fn neighbour_ip(address: &NeighbourAddress) -> Option<IpAddr> {
    match address {
        NeighbourAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        NeighbourAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        // AF_BRIDGE entries carry the VTEP address raw; its length says
        // which family it is.
        NeighbourAddress::Other(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(bytes.as_slice()).ok().map(IpAddr::from),
            16 => <[u8; 16]>::try_from(bytes.as_slice())
                .ok()
                .map(IpAddr::from),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn neighbour_from_message(message: &NeighbourMessage) -> Option<Neighbour> {
    let mut ip = None;
    let mut mac = None;
    for attribute in &message.attributes {
        match attribute {
            NeighbourAttribute::Destination(address) => ip = neighbour_ip(address),
            NeighbourAttribute::LinkLayerAddress(bytes) => mac = mac_from_slice(bytes),
            _ => {}
        }
    }
    Some(Neighbour {
        index: message.header.ifindex,
        ip: ip?,
        mac,
        permanent: message.header.state == NeighbourState::Permanent,
    })
}

pub(crate) fn fdb_from_message(message: &NeighbourMessage) -> Option<FdbEntry> {
    let mut mac = None;
    let mut dst = None;
    for attribute in &message.attributes {
        match attribute {
            NeighbourAttribute::LinkLayerAddress(bytes) => mac = mac_from_slice(bytes),
            NeighbourAttribute::Destination(address) => dst = neighbour_ip(address),
            _ => {}
        }
    }
    Some(FdbEntry {
        index: message.header.ifindex,
        mac: mac?,
        dst,
        permanent: message.header.state == NeighbourState::Permanent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, Parseable};

    fn round_trip(message: &NeighbourMessage) -> NeighbourMessage {
        let mut bytes = vec![0u8; message.buffer_len()];
        message.emit(&mut bytes);
        NeighbourMessage::parse(bytes.as_slice()).unwrap()
    }

    const MAC: [u8; 6] = [0x02, 0x42, 0, 0, 0, 1];

    #[test]
    fn neighbour_request_is_permanent_and_round_trips() {
        let ip: IpAddr = "10.244.2.0".parse().unwrap();
        let message = round_trip(&neighbour_message(5, ip, MAC));
        assert_eq!(message.header.family, AddressFamily::Inet);
        assert_eq!(message.header.state, NeighbourState::Permanent);
        assert_eq!(
            neighbour_from_message(&message),
            Some(Neighbour {
                index: 5,
                ip,
                mac: Some(MAC),
                permanent: true
            })
        );
    }

    #[test]
    fn fdb_request_is_bridge_family_self_and_permanent() {
        let dst: IpAddr = "172.30.0.11".parse().unwrap();
        let message = round_trip(&fdb_message(6, MAC, dst));
        assert_eq!(message.header.family, AddressFamily::Bridge);
        assert!(message.header.flags.contains(NeighbourFlags::Own));
        assert_eq!(message.header.state, NeighbourState::Permanent);
        assert_eq!(
            fdb_from_message(&message),
            Some(FdbEntry {
                index: 6,
                mac: MAC,
                dst: Some(dst),
                permanent: true
            })
        );
    }

    #[test]
    fn flood_entries_append_and_unicast_entries_replace() {
        assert_eq!(fdb_add_flags(&[0; 6]), NLM_F_CREATE | NLM_F_APPEND);
        assert_eq!(fdb_add_flags(&MAC), NLM_F_CREATE | NLM_F_REPLACE);
    }

    #[test]
    fn ipv6_neighbour_uses_inet6() {
        let ip: IpAddr = "fd00::2".parse().unwrap();
        assert_eq!(
            neighbour_message(1, ip, MAC).header.family,
            AddressFamily::Inet6
        );
    }
}

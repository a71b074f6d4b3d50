//! Interface addresses.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressProtocol,
    AddressScope,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{Error, Result};
use crate::handle::Handle;

/// An address on an interface. `net` keeps the host bits
/// (`10.244.1.5/24`), as `ip addr` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub index: u32,
    pub net: IpNet,
}

/// An IP family, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(ip: &IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    pub(crate) fn address_family(self) -> AddressFamily {
        match self {
            Family::V4 => AddressFamily::Inet,
            Family::V6 => AddressFamily::Inet6,
        }
    }
}

pub(crate) fn address_family_of(ip: &IpAddr) -> AddressFamily {
    Family::of(ip).address_family()
}

impl Handle {
    /// Adds `net` to link `index`. With `nodad`, an IPv6 address skips
    /// duplicate address detection and is usable at once instead of staying
    /// "tentative" for a second or more. Already present is [`Error::Exists`].
    pub fn add_address(&mut self, index: u32, net: IpNet, nodad: bool) -> Result<()> {
        let message = add_address_message(index, net, nodad);
        self.request(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
            "add",
            || format!("address {net} on link {index}"),
        )?;
        Ok(())
    }

    /// Adds `net` to link `index` tagged with `protocol` (the address's
    /// IFA_PROTO, kernel 6.3 and later), so its owner can find the addresses
    /// it added among others with [`Handle::tagged_addresses`] after a restart.
    pub fn add_tagged_address(&mut self, index: u32, net: IpNet, protocol: u8) -> Result<()> {
        let mut message = add_address_message(index, net, false);
        message
            .attributes
            .push(AddressAttribute::Protocol(AddressProtocol::from(protocol)));
        self.request(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
            "add",
            || format!("address {net} (protocol {protocol}) on link {index}"),
        )?;
        Ok(())
    }

    /// The addresses of link `index` tagged with `protocol`.
    pub fn tagged_addresses(&mut self, index: u32, protocol: u8) -> Result<Vec<Address>> {
        let mut request = AddressMessage::default();
        request.header.index = index;
        let answers = self.dump(RouteNetlinkMessage::GetAddress(request), || {
            format!("addresses of link {index}")
        })?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewAddress(message)
                    if message.attributes.iter().any(
                        |a| matches!(a, AddressAttribute::Protocol(p) if u8::from(*p) == protocol),
                    ) =>
                {
                    address_from_message(message)
                }
                _ => None,
            })
            .filter(|address| address.index == index)
            .collect())
    }

    /// Removes `net` from link `index`; absent is [`Error::NotFound`].
    pub fn del_address(&mut self, index: u32, net: IpNet) -> Result<()> {
        let message = address_message(index, net);
        let result = self.request(
            RouteNetlinkMessage::DelAddress(message),
            0,
            "delete",
            || format!("address {net} on link {index}"),
        );
        match result {
            Ok(_) => Ok(()),
            // The kernel's answer for "no such address on this link".
            Err(Error::Kernel {
                errno: libc::EADDRNOTAVAIL,
                ..
            }) => Err(Error::NotFound {
                what: format!("address {net} on link {index}"),
            }),
            Err(err) => Err(err),
        }
    }

    /// Addresses of one link (or all), of one family (or both). Nothing is
    /// left out: link-local and temporary addresses are listed too.
    pub fn addresses(
        &mut self,
        index: Option<u32>,
        family: Option<Family>,
    ) -> Result<Vec<Address>> {
        let mut request = AddressMessage::default();
        request.header.family = family.map_or(AddressFamily::Unspec, Family::address_family);
        request.header.index = index.unwrap_or(0);
        let answers = self.dump(RouteNetlinkMessage::GetAddress(request), || match index {
            Some(index) => format!("addresses of link {index}"),
            None => "addresses".into(),
        })?;
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewAddress(message) => address_from_message(message),
                _ => None,
            })
            // The kernel filters by index and family too; this also covers
            // kernels that ignore dump filters.
            .filter(|address| index.is_none_or(|index| address.index == index))
            .filter(|address| family.is_none_or(|family| Family::of(&address.net.addr()) == family))
            .collect())
    }
}

fn address_message(index: u32, net: IpNet) -> AddressMessage {
    let mut message = AddressMessage::default();
    message.header.family = address_family_of(&net.addr());
    message.header.prefix_len = net.prefix_len();
    message.header.index = index;
    message.header.scope = AddressScope::Universe;
    message.attributes.push(AddressAttribute::Local(net.addr()));
    message
        .attributes
        .push(AddressAttribute::Address(net.addr()));
    message
}

pub(crate) fn add_address_message(index: u32, net: IpNet, nodad: bool) -> AddressMessage {
    let mut message = address_message(index, net);
    if let IpNet::V4(v4) = net {
        // Like the reference CNI plugins: give IPv4 subnets their broadcast
        // address; /31 and /32 have none.
        if v4.prefix_len() < 31 {
            message
                .attributes
                .push(AddressAttribute::Broadcast(v4.broadcast()));
        }
    }
    if nodad {
        message.header.flags = AddressHeaderFlags::Nodad;
        message
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    message
}

pub(crate) fn address_from_message(message: &AddressMessage) -> Option<Address> {
    // On point-to-point links IFA_ADDRESS is the peer and IFA_LOCAL ours;
    // elsewhere they are equal and IPv6 sends only IFA_ADDRESS.
    let mut local = None;
    let mut address = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    let ip = local.or(address)?;
    let net = IpNet::new(ip, message.header.prefix_len).ok()?;
    Some(Address {
        index: message.header.index,
        net,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, Parseable};
    use std::net::Ipv4Addr;

    fn round_trip(message: &AddressMessage) -> AddressMessage {
        let mut bytes = vec![0u8; message.buffer_len()];
        message.emit(&mut bytes);
        AddressMessage::parse(bytes.as_slice()).unwrap()
    }

    #[test]
    fn ipv4_address_gets_local_address_and_broadcast() {
        let net: IpNet = "10.244.1.5/24".parse().unwrap();
        let message = round_trip(&add_address_message(4, net, false));
        assert_eq!(message.header.family, AddressFamily::Inet);
        assert_eq!(message.header.prefix_len, 24);
        assert_eq!(message.header.index, 4);
        assert!(message
            .attributes
            .contains(&AddressAttribute::Local(net.addr())));
        assert!(message
            .attributes
            .contains(&AddressAttribute::Address(net.addr())));
        assert!(message
            .attributes
            .contains(&AddressAttribute::Broadcast(Ipv4Addr::new(10, 244, 1, 255))));
        assert!(!message
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Flags(_))));
    }

    #[test]
    fn host_routes_get_no_broadcast() {
        let net: IpNet = "10.244.1.5/32".parse().unwrap();
        let message = add_address_message(4, net, false);
        assert!(!message
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Broadcast(_))));
    }

    #[test]
    fn nodad_sets_both_the_header_flag_and_ifa_flags() {
        let net: IpNet = "fd00:10:244:1::5/64".parse().unwrap();
        let message = round_trip(&add_address_message(4, net, true));
        assert_eq!(message.header.family, AddressFamily::Inet6);
        assert!(message.header.flags.contains(AddressHeaderFlags::Nodad));
        assert!(message
            .attributes
            .contains(&AddressAttribute::Flags(AddressFlags::Nodad)));
    }

    #[test]
    fn parsed_address_prefers_local_over_peer() {
        let mut message = AddressMessage::default();
        message.header.index = 3;
        message.header.prefix_len = 32;
        message.attributes = vec![
            AddressAttribute::Address("10.0.0.2".parse().unwrap()),
            AddressAttribute::Local("10.0.0.1".parse().unwrap()),
        ];
        let address = address_from_message(&message).unwrap();
        assert_eq!(
            address,
            Address {
                index: 3,
                net: "10.0.0.1/32".parse().unwrap()
            }
        );
    }

    #[test]
    fn parsed_ipv6_address_keeps_host_bits() {
        let mut message = AddressMessage::default();
        message.header.index = 2;
        message.header.prefix_len = 64;
        message.attributes = vec![AddressAttribute::Address("fe80::1".parse().unwrap())];
        assert_eq!(
            address_from_message(&message).unwrap().net.to_string(),
            "fe80::1/64"
        );
    }

    #[test]
    fn family_of_ip() {
        assert_eq!(Family::of(&"10.0.0.1".parse().unwrap()), Family::V4);
        assert_eq!(Family::of(&"::1".parse().unwrap()), Family::V6);
    }
}

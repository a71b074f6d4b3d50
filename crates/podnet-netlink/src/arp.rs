//! Gratuitous ARP, so that neighbours move an address to this node at once
//! (a LoadBalancer IP that just started being announced here, for example)
//! instead of waiting for their cached entry to go stale.

use std::io;
use std::mem;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::mac::format_mac;

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IP: u16 = 0x0800;
const ARPHRD_ETHER: u16 = 1;
const ARPOP_REQUEST: u16 = 1;
const ARPOP_REPLY: u16 = 2;
const BROADCAST: [u8; 6] = [0xff; 6];
/// Ethernet header (14) plus an Ethernet/IPv4 ARP body (28).
const FRAME_LEN: usize = 42;

/// Sends one gratuitous ARP request and one gratuitous ARP reply for `ip`
/// from interface `ifname` of the current network namespace, both broadcast
/// with the interface's MAC as sender. Receivers update an existing entry
/// for `ip` from either; whether they create a missing one is their
/// `arp_accept` setting.
pub fn announce(ifname: &str, ip: Ipv4Addr) -> Result<()> {
    let link = Handle::new()?
        .link_by_name(ifname)?
        .ok_or_else(|| Error::NotFound {
            what: format!("link {ifname}"),
        })?;
    let mac = link.mac.ok_or_else(|| {
        Error::invalid(format!("link {ifname}"), "has no MAC address to announce")
    })?;
    let socket = PacketSocket::open(link.index)
        .map_err(|source| Error::io(format!("open packet socket on {ifname}"), source))?;
    for operation in [ARPOP_REQUEST, ARPOP_REPLY] {
        let frame = gratuitous_arp(operation, mac, ip);
        socket.send(&frame).map_err(|source| {
            Error::io(
                format!(
                    "send gratuitous ARP for {ip} ({}) on {ifname}",
                    format_mac(&mac)
                ),
                source,
            )
        })?;
    }
    Ok(())
}

/// An ARP frame with sender and target protocol address both `ip`. The
/// request leaves the target hardware address zero (RFC 5227 announcement);
/// the reply repeats the sender's MAC there, because Linux only lets a reply
/// override a recently updated entry as gratuitous when both MACs agree.
fn gratuitous_arp(operation: u16, mac: [u8; 6], ip: Ipv4Addr) -> [u8; FRAME_LEN] {
    let target_mac = if operation == ARPOP_REPLY {
        mac
    } else {
        [0; 6]
    };
    let mut frame = [0u8; FRAME_LEN];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        frame[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    put(&BROADCAST);
    put(&mac);
    put(&ETH_P_ARP.to_be_bytes());
    put(&ARPHRD_ETHER.to_be_bytes());
    put(&ETH_P_IP.to_be_bytes());
    put(&[6, 4]);
    put(&operation.to_be_bytes());
    put(&mac);
    put(&ip.octets());
    put(&target_mac);
    put(&ip.octets());
    frame
}

/// An `AF_PACKET` raw socket bound to one interface.
struct PacketSocket {
    fd: OwnedFd,
    index: u32,
}

impl PacketSocket {
    fn open(index: u32) -> io::Result<PacketSocket> {
        // Protocol 0: the socket only sends, so it never queues received
        // frames.
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(PacketSocket { fd, index })
    }

    fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid start.
        let mut address: libc::sockaddr_ll = unsafe { mem::zeroed() };
        address.sll_family = libc::AF_PACKET as u16;
        address.sll_protocol = ETH_P_ARP.to_be();
        address.sll_ifindex = self.index as i32;
        address.sll_halen = 6;
        address.sll_addr[..6].copy_from_slice(&BROADCAST);
        // SAFETY: frame and address are valid for the lengths given.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&address as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        if sent as usize != frame.len() {
            return Err(io::Error::other(format!(
                "sent {sent} of {} frame bytes",
                frame.len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x1e, 0x00, 0x0b];

    #[test]
    fn request_announces_the_address_as_both_sender_and_target() {
        let ip: Ipv4Addr = "172.30.0.64".parse().unwrap();
        let frame = gratuitous_arp(ARPOP_REQUEST, MAC, ip);
        assert_eq!(&frame[0..6], &BROADCAST, "broadcast destination");
        assert_eq!(&frame[6..12], &MAC, "source MAC");
        assert_eq!(&frame[12..14], &[0x08, 0x06], "ARP ethertype");
        assert_eq!(&frame[14..20], &[0, 1, 0x08, 0x00, 6, 4], "Ethernet/IPv4");
        assert_eq!(&frame[20..22], &[0, 1], "request");
        assert_eq!(&frame[22..28], &MAC, "sender MAC");
        assert_eq!(&frame[28..32], &ip.octets(), "sender IP");
        assert_eq!(&frame[32..38], &[0; 6], "target MAC unknown");
        assert_eq!(&frame[38..42], &ip.octets(), "target IP");
    }

    #[test]
    fn reply_names_the_sender_mac_as_target_and_goes_to_broadcast() {
        let ip: Ipv4Addr = "172.30.0.65".parse().unwrap();
        let frame = gratuitous_arp(ARPOP_REPLY, MAC, ip);
        assert_eq!(&frame[0..6], &BROADCAST);
        assert_eq!(&frame[20..22], &[0, 2], "reply");
        assert_eq!(&frame[32..38], &MAC);
        assert_eq!(&frame[28..32], &frame[38..42]);
    }

    #[test]
    fn announcing_on_a_missing_link_names_it() {
        let error = announce("podnet-absent0", "10.0.0.1".parse().unwrap()).unwrap_err();
        assert!(error.is_not_found(), "{error:?}");
        assert!(error.to_string().contains("podnet-absent0"), "{error}");
    }
}

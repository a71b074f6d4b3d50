//! Stale UDP conntrack entries, removed through ctnetlink.
//!
//! UDP has no connection teardown, so a conntrack entry that was DNATed to an
//! endpoint keeps steering a client's datagrams there for as long as the
//! client keeps sending, even after the endpoint is gone. The service proxy
//! deletes those entries when an endpoint leaves a service, as kube-proxy
//! does.
//!
//! Everything here talks to the conntrack subsystem of nfnetlink
//! (`NETLINK_NETFILTER`) in the calling thread's network namespace. The
//! ctnetlink messages and attributes are encoded by hand; the numbers used
//! are the kernel's UAPI values from `linux/netfilter/nfnetlink.h` and
//! `linux/netfilter/nfnetlink_conntrack.h`, listed below.
//!
//! | name | value | where |
//! |---|---|---|
//! | `NFNL_SUBSYS_CTNETLINK` | 1 | high byte of the message type |
//! | `IPCTNL_MSG_CT_NEW` / `_GET` / `_DELETE` | 0 / 1 / 2 | low byte of the message type |
//! | `CTA_TUPLE_ORIG` / `CTA_TUPLE_REPLY` | 1 / 2 | top level, nested |
//! | `CTA_ID` | 12 | top level, u32 big-endian |
//! | `CTA_ZONE` | 18 | top level, u16 big-endian |
//! | `CTA_FILTER` | 25 | top level, nested (dump requests, Linux 5.10+) |
//! | `CTA_TUPLE_IP` / `CTA_TUPLE_PROTO` | 1 / 2 | in a tuple, nested |
//! | `CTA_IP_V4_SRC` / `CTA_IP_V4_DST` | 1 / 2 | in `CTA_TUPLE_IP`, big-endian |
//! | `CTA_PROTO_NUM` | 1 | in `CTA_TUPLE_PROTO`, u8 |
//! | `CTA_PROTO_SRC_PORT` / `CTA_PROTO_DST_PORT` | 2 / 3 | in `CTA_TUPLE_PROTO`, big-endian |
//! | `CTA_FILTER_ORIG_FLAGS` / `CTA_FILTER_REPLY_FLAGS` | 1 / 2 | in `CTA_FILTER`, u32 |
//!
//! The `CTA_FILTER` flag bits (`CTA_FILTER_F_CTA_IP_SRC` = 1 << 0,
//! `_IP_DST` = 1 << 1, `_PROTO_NUM` = 1 << 3, `_PROTO_DST_PORT` = 1 << 5)
//! are part of the ABI although the kernel keeps them in an internal header.
//! Kernels older than 5.10 ignore `CTA_FILTER` and dump everything, so every
//! entry the kernel returns is matched again here; the filter only keeps the
//! dump small where it is understood.

use std::io;
use std::net::Ipv4Addr;

use netlink_packet_core::{NlaBuffer, NlasIterator};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

use crate::error::{Error, Result};
use crate::socket::ext_ack_message;

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;

const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_ID: u16 = 12;
const CTA_ZONE: u16 = 18;
const CTA_FILTER: u16 = 25;

const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;

const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;

const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;

const CTA_FILTER_ORIG_FLAGS: u16 = 1;
const CTA_FILTER_REPLY_FLAGS: u16 = 2;
const CTA_FILTER_F_CTA_IP_SRC: u32 = 1 << 0;
const CTA_FILTER_F_CTA_IP_DST: u32 = 1 << 1;
const CTA_FILTER_F_CTA_PROTO_NUM: u32 = 1 << 3;
const CTA_FILTER_F_CTA_PROTO_DST_PORT: u32 = 1 << 5;

const NLA_F_NESTED: u16 = 1 << 15;
const NFNETLINK_V0: u8 = 0;
const IPPROTO_UDP: u8 = 17;

const NLMSG_HEADER_LEN: usize = 16;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;

/// Conntrack dump batches fit a page-sized skb each; 64 KiB leaves room for
/// the largest the kernel sends.
const RECV_BUF_LEN: usize = 64 * 1024;
/// Room for several dump batches, so a large table streams without stalls.
const SOCKET_RCVBUF: usize = 1024 * 1024;

/// One IPv4 UDP conntrack entry, as far as stale-flow cleanup needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpFlow {
    /// Source of the original direction (the client).
    pub orig_src: Ipv4Addr,
    pub orig_src_port: u16,
    /// Destination the client sent to (a service IP, node IP or LB IP).
    pub orig_dst: Ipv4Addr,
    pub orig_dst_port: u16,
    /// Source of the reply direction: the endpoint after DNAT.
    pub reply_src: Ipv4Addr,
    pub reply_src_port: u16,
    /// The kernel's id of the entry; a delete naming it cannot hit a newer
    /// entry that reuses the same tuple.
    pub id: Option<u32>,
    /// Conntrack zone, when the entry is not in the default one.
    pub zone: Option<u16>,
}

/// Which entries a cleanup removes; `None` fields match anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlowFilter {
    orig_dst: Option<Ipv4Addr>,
    orig_dst_port: Option<u16>,
    reply_src: Ipv4Addr,
}

impl FlowFilter {
    fn matches(&self, flow: &UdpFlow) -> bool {
        self.orig_dst.is_none_or(|dst| flow.orig_dst == dst)
            && self
                .orig_dst_port
                .is_none_or(|port| flow.orig_dst_port == port)
            && flow.reply_src == self.reply_src
    }

    /// The attributes of a dump request that asks the kernel to return only
    /// matching UDP entries (`CTA_TUPLE_ORIG`, `CTA_TUPLE_REPLY` holding the
    /// values, `CTA_FILTER` naming which of them count).
    fn dump_attributes(&self) -> Vec<u8> {
        let mut orig_flags = CTA_FILTER_F_CTA_PROTO_NUM;
        let mut orig_ip = Vec::new();
        if let Some(dst) = self.orig_dst {
            orig_flags |= CTA_FILTER_F_CTA_IP_DST;
            put_attr(&mut orig_ip, CTA_IP_V4_DST, &dst.octets());
        }
        let mut orig_proto = Vec::new();
        put_attr(&mut orig_proto, CTA_PROTO_NUM, &[IPPROTO_UDP]);
        if let Some(port) = self.orig_dst_port {
            orig_flags |= CTA_FILTER_F_CTA_PROTO_DST_PORT;
            put_attr(&mut orig_proto, CTA_PROTO_DST_PORT, &port.to_be_bytes());
        }
        let mut orig = Vec::new();
        put_nested(&mut orig, CTA_TUPLE_IP, &orig_ip);
        put_nested(&mut orig, CTA_TUPLE_PROTO, &orig_proto);

        let mut reply_ip = Vec::new();
        put_attr(&mut reply_ip, CTA_IP_V4_SRC, &self.reply_src.octets());
        let mut reply_proto = Vec::new();
        put_attr(&mut reply_proto, CTA_PROTO_NUM, &[IPPROTO_UDP]);
        let mut reply = Vec::new();
        put_nested(&mut reply, CTA_TUPLE_IP, &reply_ip);
        put_nested(&mut reply, CTA_TUPLE_PROTO, &reply_proto);

        let mut filter = Vec::new();
        put_attr(
            &mut filter,
            CTA_FILTER_ORIG_FLAGS,
            &orig_flags.to_ne_bytes(),
        );
        put_attr(
            &mut filter,
            CTA_FILTER_REPLY_FLAGS,
            &CTA_FILTER_F_CTA_IP_SRC.to_ne_bytes(),
        );

        let mut attributes = Vec::new();
        put_nested(&mut attributes, CTA_TUPLE_ORIG, &orig);
        put_nested(&mut attributes, CTA_TUPLE_REPLY, &reply);
        put_nested(&mut attributes, CTA_FILTER, &filter);
        attributes
    }
}

/// Deletes the UDP conntrack entries of the current network namespace whose
/// original destination is `orig_dst` (and `orig_dst_port`, when given) and
/// whose reply comes from `reply_src`, the endpoint that went away. Returns
/// how many entries were deleted; entries that expire meanwhile are not
/// counted.
pub fn delete_udp_flows(
    orig_dst: Ipv4Addr,
    orig_dst_port: Option<u16>,
    reply_src: Ipv4Addr,
) -> Result<usize> {
    delete_matching(FlowFilter {
        orig_dst: Some(orig_dst),
        orig_dst_port,
        reply_src,
    })
}

/// Deletes the UDP conntrack entries sent to `orig_dst_port` on any
/// destination address and answered by `reply_src`: the NodePort case,
/// where the client may have used any local address of the node.
pub fn delete_udp_flows_to_port(orig_dst_port: u16, reply_src: Ipv4Addr) -> Result<usize> {
    delete_matching(FlowFilter {
        orig_dst: None,
        orig_dst_port: Some(orig_dst_port),
        reply_src,
    })
}

/// Every IPv4 UDP conntrack entry of the current network namespace.
pub fn list_udp_flows() -> Result<Vec<UdpFlow>> {
    let mut socket = ConntrackSocket::open()?;
    let mut proto = Vec::new();
    put_attr(&mut proto, CTA_PROTO_NUM, &[IPPROTO_UDP]);
    let mut orig = Vec::new();
    put_nested(&mut orig, CTA_TUPLE_IP, &[]);
    put_nested(&mut orig, CTA_TUPLE_PROTO, &proto);
    let mut filter = Vec::new();
    put_attr(
        &mut filter,
        CTA_FILTER_ORIG_FLAGS,
        &CTA_FILTER_F_CTA_PROTO_NUM.to_ne_bytes(),
    );
    put_attr(&mut filter, CTA_FILTER_REPLY_FLAGS, &0u32.to_ne_bytes());
    let mut attributes = Vec::new();
    put_nested(&mut attributes, CTA_TUPLE_ORIG, &orig);
    put_nested(&mut attributes, CTA_FILTER, &filter);
    socket.dump_udp(&attributes)
}

fn delete_matching(filter: FlowFilter) -> Result<usize> {
    let mut socket = ConntrackSocket::open()?;
    let flows = socket.dump_udp(&filter.dump_attributes())?;
    let mut deleted = 0;
    for flow in flows.iter().filter(|flow| filter.matches(flow)) {
        if socket.delete(flow)? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// A ctnetlink socket bound to the namespace it was opened in.
struct ConntrackSocket {
    socket: Socket,
    sequence: u32,
    recv_buf: Vec<u8>,
}

impl ConntrackSocket {
    fn open() -> Result<ConntrackSocket> {
        let context = "open NETLINK_NETFILTER socket";
        let wrap = |source| Error::io(context, source);
        let mut socket = Socket::new(NETLINK_NETFILTER).map_err(wrap)?;
        socket.bind_auto().map_err(wrap)?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(wrap)?;
        socket.set_rx_buf_sz(SOCKET_RCVBUF).map_err(wrap)?;
        socket.set_ext_ack(true).map_err(wrap)?;
        socket.set_cap_ack(true).map_err(wrap)?;
        Ok(ConntrackSocket {
            socket,
            sequence: 0,
            recv_buf: Vec::with_capacity(RECV_BUF_LEN),
        })
    }

    /// Dumps the IPv4 table with `attributes` in the request and returns the
    /// UDP entries among the answers.
    fn dump_udp(&mut self, attributes: &[u8]) -> Result<Vec<UdpFlow>> {
        let (verb, what) = ("dump", "conntrack table");
        let sequence = self.send(IPCTNL_MSG_CT_GET, NLM_F_DUMP, attributes, verb, what)?;
        let mut flows = Vec::new();
        self.collect(sequence, verb, what, |message_type, payload| {
            if message_type != ctnetlink_type(IPCTNL_MSG_CT_NEW) {
                return Ok(());
            }
            let attributes = payload.get(NFGENMSG_LEN..).ok_or_else(|| Error::Protocol {
                context: format!("{verb} {what}"),
                message: "conntrack message shorter than its family header".into(),
            })?;
            if let Some(flow) = parse_udp_flow(attributes).map_err(|message| Error::Protocol {
                context: format!("{verb} {what}"),
                message,
            })? {
                flows.push(flow);
            }
            Ok(())
        })?;
        Ok(flows)
    }

    /// Deletes one entry; `false` when it was already gone.
    fn delete(&mut self, flow: &UdpFlow) -> Result<bool> {
        let what = format!(
            "conntrack entry udp {}:{} -> {}:{}",
            flow.orig_src, flow.orig_src_port, flow.orig_dst, flow.orig_dst_port
        );
        let attributes = delete_attributes(flow);
        let sequence = self.send(
            IPCTNL_MSG_CT_DELETE,
            NLM_F_ACK,
            &attributes,
            "delete",
            &what,
        )?;
        match self.collect(sequence, "delete", &what, |_, _| Ok(())) {
            Ok(()) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn send(
        &mut self,
        message: u16,
        flags: u16,
        attributes: &[u8],
        verb: &str,
        what: &str,
    ) -> Result<u32> {
        self.sequence = self.sequence.wrapping_add(1);
        let packet = encode_request(
            ctnetlink_type(message),
            NLM_F_REQUEST | flags,
            self.sequence,
            attributes,
        );
        let sent = self
            .socket
            .send(&packet, 0)
            .map_err(|source| Error::io(format!("{verb} {what}: netlink socket"), source))?;
        if sent != packet.len() {
            return Err(Error::Protocol {
                context: format!("{verb} {what}"),
                message: format!("sent {sent} of {} request bytes", packet.len()),
            });
        }
        Ok(self.sequence)
    }

    /// Reads answers to `sequence` until the ack (requests) or `NLMSG_DONE`
    /// (dumps), handing each data message to `on_message`.
    fn collect(
        &mut self,
        sequence: u32,
        verb: &str,
        what: &str,
        mut on_message: impl FnMut(u16, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let context = format!("{verb} {what}");
        let protocol = |message: String| Error::Protocol {
            context: context.clone(),
            message,
        };
        loop {
            self.receive(&context)?;
            let mut offset = 0;
            while offset < self.recv_buf.len() {
                let header = parse_header(&self.recv_buf[offset..]).map_err(protocol)?;
                let message = &self.recv_buf[offset..offset + header.length];
                offset += align4(header.length);
                if header.sequence != sequence {
                    continue;
                }
                let payload = &message[NLMSG_HEADER_LEN..];
                match header.message_type {
                    NLMSG_NOOP => {}
                    NLMSG_ERROR | NLMSG_DONE => {
                        let code = payload.get(..4).map_or(0, |bytes| {
                            i32::from_ne_bytes(bytes.try_into().expect("four bytes"))
                        });
                        if code < 0 {
                            let ext = ext_ack_message(
                                header.flags,
                                &payload[4..],
                                header.message_type == NLMSG_ERROR,
                            );
                            return Err(Error::from_kernel(-code, ext, verb, what));
                        }
                        return Ok(());
                    }
                    NLMSG_OVERRUN => {
                        return Err(protocol("kernel reported a buffer overrun".into()))
                    }
                    message_type => on_message(message_type, payload)?,
                }
            }
        }
    }

    fn receive(&mut self, context: &str) -> Result<()> {
        loop {
            self.recv_buf.clear();
            match self.socket.recv(&mut self.recv_buf, libc::MSG_TRUNC) {
                Ok(size) if size > self.recv_buf.capacity() => {
                    return Err(Error::Protocol {
                        context: context.into(),
                        message: format!(
                            "kernel datagram of {size} bytes exceeds the {} byte receive buffer",
                            self.recv_buf.capacity()
                        ),
                    })
                }
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(Error::io(format!("{context}: netlink socket"), source)),
            }
        }
    }
}

/// `struct nfgenmsg`: family, version, resource id (big-endian).
const NFGENMSG_LEN: usize = 4;

fn ctnetlink_type(message: u16) -> u16 {
    (NFNL_SUBSYS_CTNETLINK << 8) | message
}

fn encode_request(message_type: u16, flags: u16, sequence: u32, attributes: &[u8]) -> Vec<u8> {
    let length = NLMSG_HEADER_LEN + NFGENMSG_LEN + attributes.len();
    let mut packet = Vec::with_capacity(length);
    packet.extend_from_slice(&(length as u32).to_ne_bytes());
    packet.extend_from_slice(&message_type.to_ne_bytes());
    packet.extend_from_slice(&flags.to_ne_bytes());
    packet.extend_from_slice(&sequence.to_ne_bytes());
    // Port id 0: the kernel fills in the socket's own.
    packet.extend_from_slice(&0u32.to_ne_bytes());
    packet.extend_from_slice(&[libc::AF_INET as u8, NFNETLINK_V0, 0, 0]);
    packet.extend_from_slice(attributes);
    packet
}

/// The original tuple (which is how the kernel finds the entry), plus its
/// id and zone so exactly the dumped entry goes.
fn delete_attributes(flow: &UdpFlow) -> Vec<u8> {
    let mut ip = Vec::new();
    put_attr(&mut ip, CTA_IP_V4_SRC, &flow.orig_src.octets());
    put_attr(&mut ip, CTA_IP_V4_DST, &flow.orig_dst.octets());
    let mut proto = Vec::new();
    put_attr(&mut proto, CTA_PROTO_NUM, &[IPPROTO_UDP]);
    put_attr(
        &mut proto,
        CTA_PROTO_SRC_PORT,
        &flow.orig_src_port.to_be_bytes(),
    );
    put_attr(
        &mut proto,
        CTA_PROTO_DST_PORT,
        &flow.orig_dst_port.to_be_bytes(),
    );
    let mut tuple = Vec::new();
    put_nested(&mut tuple, CTA_TUPLE_IP, &ip);
    put_nested(&mut tuple, CTA_TUPLE_PROTO, &proto);
    let mut attributes = Vec::new();
    put_nested(&mut attributes, CTA_TUPLE_ORIG, &tuple);
    if let Some(id) = flow.id {
        put_attr(&mut attributes, CTA_ID, &id.to_be_bytes());
    }
    if let Some(zone) = flow.zone {
        put_attr(&mut attributes, CTA_ZONE, &zone.to_be_bytes());
    }
    attributes
}

struct Header {
    length: usize,
    message_type: u16,
    flags: u16,
    sequence: u32,
}

fn parse_header(bytes: &[u8]) -> std::result::Result<Header, String> {
    if bytes.len() < NLMSG_HEADER_LEN {
        return Err(format!("truncated netlink header of {} bytes", bytes.len()));
    }
    let u32_at = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let u16_at = |at: usize| u16::from_ne_bytes(bytes[at..at + 2].try_into().expect("2 bytes"));
    let length = u32_at(0) as usize;
    if length < NLMSG_HEADER_LEN || length > bytes.len() {
        return Err(format!("netlink message length {length} out of bounds"));
    }
    Ok(Header {
        length,
        message_type: u16_at(4),
        flags: u16_at(6),
        sequence: u32_at(8),
    })
}

fn align4(length: usize) -> usize {
    (length + 3) & !3
}

fn put_attr(buffer: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let length = 4 + value.len();
    buffer.extend_from_slice(&(length as u16).to_ne_bytes());
    buffer.extend_from_slice(&kind.to_ne_bytes());
    buffer.extend_from_slice(value);
    buffer.resize(buffer.len() + align4(length) - length, 0);
}

fn put_nested(buffer: &mut Vec<u8>, kind: u16, inner: &[u8]) {
    put_attr(buffer, kind | NLA_F_NESTED, inner);
}

/// The attributes of one buffer, by kind; the last occurrence wins.
fn attributes_of(bytes: &[u8]) -> std::result::Result<Vec<NlaBuffer<&[u8]>>, String> {
    NlasIterator::new(bytes)
        .map(|nla| nla.map_err(|e| format!("bad conntrack attribute: {e}")))
        .collect()
}

fn find<'a>(attributes: &[NlaBuffer<&'a [u8]>], kind: u16) -> Option<&'a [u8]> {
    attributes
        .iter()
        .rev()
        .find(|nla| nla.kind() == kind)
        .map(|nla| {
            let inner = nla.into_inner();
            &inner[4..nla.length() as usize]
        })
}

fn fixed<const N: usize>(value: &[u8], name: &str) -> std::result::Result<[u8; N], String> {
    value
        .try_into()
        .map_err(|_| format!("{name} has {} bytes, expected {N}", value.len()))
}

struct Tuple {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    src_port: u16,
    dst_port: u16,
}

/// Decodes a `CTA_TUPLE_*` body; `None` for tuples that are not IPv4 or
/// carry no ports.
fn parse_tuple(bytes: &[u8]) -> std::result::Result<Option<Tuple>, String> {
    let tuple = attributes_of(bytes)?;
    let (Some(ip), Some(proto)) = (find(&tuple, CTA_TUPLE_IP), find(&tuple, CTA_TUPLE_PROTO))
    else {
        return Ok(None);
    };
    let ip = attributes_of(ip)?;
    let (Some(src), Some(dst)) = (find(&ip, CTA_IP_V4_SRC), find(&ip, CTA_IP_V4_DST)) else {
        return Ok(None);
    };
    let proto = attributes_of(proto)?;
    let Some(protocol) = find(&proto, CTA_PROTO_NUM) else {
        return Ok(None);
    };
    let (Some(src_port), Some(dst_port)) = (
        find(&proto, CTA_PROTO_SRC_PORT),
        find(&proto, CTA_PROTO_DST_PORT),
    ) else {
        return Ok(None);
    };
    Ok(Some(Tuple {
        src: Ipv4Addr::from(fixed::<4>(src, "CTA_IP_V4_SRC")?),
        dst: Ipv4Addr::from(fixed::<4>(dst, "CTA_IP_V4_DST")?),
        protocol: fixed::<1>(protocol, "CTA_PROTO_NUM")?[0],
        src_port: u16::from_be_bytes(fixed(src_port, "CTA_PROTO_SRC_PORT")?),
        dst_port: u16::from_be_bytes(fixed(dst_port, "CTA_PROTO_DST_PORT")?),
    }))
}

/// Decodes the attributes of one conntrack message; `None` for anything but
/// an IPv4 UDP entry.
fn parse_udp_flow(bytes: &[u8]) -> std::result::Result<Option<UdpFlow>, String> {
    let top = attributes_of(bytes)?;
    let (Some(orig), Some(reply)) = (find(&top, CTA_TUPLE_ORIG), find(&top, CTA_TUPLE_REPLY))
    else {
        return Ok(None);
    };
    let (Some(orig), Some(reply)) = (parse_tuple(orig)?, parse_tuple(reply)?) else {
        return Ok(None);
    };
    if orig.protocol != IPPROTO_UDP {
        return Ok(None);
    }
    let id = find(&top, CTA_ID)
        .map(|value| fixed::<4>(value, "CTA_ID").map(u32::from_be_bytes))
        .transpose()?;
    let zone = find(&top, CTA_ZONE)
        .map(|value| fixed::<2>(value, "CTA_ZONE").map(u16::from_be_bytes))
        .transpose()?
        .filter(|&zone| zone != 0);
    Ok(Some(UdpFlow {
        orig_src: orig.src,
        orig_src_port: orig.src_port,
        orig_dst: orig.dst,
        orig_dst_port: orig.dst_port,
        reply_src: reply.src,
        reply_src_port: reply.src_port,
        id,
        zone,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    fn tuple(src: &str, dst: &str, protocol: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut ip_attrs = Vec::new();
        put_attr(&mut ip_attrs, CTA_IP_V4_SRC, &ip(src).octets());
        put_attr(&mut ip_attrs, CTA_IP_V4_DST, &ip(dst).octets());
        let mut proto = Vec::new();
        put_attr(&mut proto, CTA_PROTO_NUM, &[protocol]);
        put_attr(&mut proto, CTA_PROTO_SRC_PORT, &sport.to_be_bytes());
        put_attr(&mut proto, CTA_PROTO_DST_PORT, &dport.to_be_bytes());
        let mut out = Vec::new();
        put_nested(&mut out, CTA_TUPLE_IP, &ip_attrs);
        put_nested(&mut out, CTA_TUPLE_PROTO, &proto);
        out
    }

    /// A client 10.0.0.2:40000 talking to service 10.96.0.10:53, DNATed to
    /// endpoint 10.244.1.5:5353, as the kernel reports it.
    fn dnat_entry(protocol: u8) -> Vec<u8> {
        let mut out = Vec::new();
        put_nested(
            &mut out,
            CTA_TUPLE_ORIG,
            &tuple("10.0.0.2", "10.96.0.10", protocol, 40000, 53),
        );
        put_nested(
            &mut out,
            CTA_TUPLE_REPLY,
            &tuple("10.244.1.5", "10.0.0.2", protocol, 5353, 40000),
        );
        put_attr(&mut out, CTA_ID, &0xdead_beefu32.to_be_bytes());
        out
    }

    fn sample_flow() -> UdpFlow {
        parse_udp_flow(&dnat_entry(IPPROTO_UDP)).unwrap().unwrap()
    }

    #[test]
    fn a_dnat_udp_entry_decodes_into_both_directions() {
        assert_eq!(
            sample_flow(),
            UdpFlow {
                orig_src: ip("10.0.0.2"),
                orig_src_port: 40000,
                orig_dst: ip("10.96.0.10"),
                orig_dst_port: 53,
                reply_src: ip("10.244.1.5"),
                reply_src_port: 5353,
                id: Some(0xdead_beef),
                zone: None,
            }
        );
    }

    #[test]
    fn tcp_entries_are_not_udp_flows() {
        assert_eq!(parse_udp_flow(&dnat_entry(6)).unwrap(), None);
    }

    #[test]
    fn a_truncated_address_is_a_decode_error() {
        let mut ip_attrs = Vec::new();
        put_attr(&mut ip_attrs, CTA_IP_V4_SRC, &[10, 0, 0]);
        put_attr(&mut ip_attrs, CTA_IP_V4_DST, &[10, 0, 0, 1]);
        let mut proto = Vec::new();
        put_attr(&mut proto, CTA_PROTO_NUM, &[IPPROTO_UDP]);
        put_attr(&mut proto, CTA_PROTO_SRC_PORT, &1u16.to_be_bytes());
        put_attr(&mut proto, CTA_PROTO_DST_PORT, &2u16.to_be_bytes());
        let mut bad = Vec::new();
        put_nested(&mut bad, CTA_TUPLE_IP, &ip_attrs);
        put_nested(&mut bad, CTA_TUPLE_PROTO, &proto);
        let mut entry = Vec::new();
        put_nested(&mut entry, CTA_TUPLE_ORIG, &bad);
        put_nested(&mut entry, CTA_TUPLE_REPLY, &bad);
        let error = parse_udp_flow(&entry).unwrap_err();
        assert!(error.contains("CTA_IP_V4_SRC has 3 bytes"), "{error}");
    }

    #[test]
    fn filter_matches_destination_port_and_endpoint() {
        let flow = sample_flow();
        let service = FlowFilter {
            orig_dst: Some(ip("10.96.0.10")),
            orig_dst_port: Some(53),
            reply_src: ip("10.244.1.5"),
        };
        assert!(service.matches(&flow));
        assert!(FlowFilter {
            orig_dst_port: None,
            ..service
        }
        .matches(&flow));
        assert!(!FlowFilter {
            orig_dst_port: Some(54),
            ..service
        }
        .matches(&flow));
        assert!(!FlowFilter {
            reply_src: ip("10.244.1.6"),
            ..service
        }
        .matches(&flow));
        assert!(!FlowFilter {
            orig_dst: Some(ip("10.96.0.11")),
            ..service
        }
        .matches(&flow));
        let node_port = FlowFilter {
            orig_dst: None,
            orig_dst_port: Some(53),
            reply_src: ip("10.244.1.5"),
        };
        assert!(node_port.matches(&flow));
    }

    #[test]
    fn delete_request_names_the_original_tuple_and_id() {
        let mut flow = sample_flow();
        flow.zone = Some(7);
        let packet = encode_request(
            ctnetlink_type(IPCTNL_MSG_CT_DELETE),
            NLM_F_REQUEST | NLM_F_ACK,
            9,
            &delete_attributes(&flow),
        );
        let header = parse_header(&packet).unwrap();
        assert_eq!(header.length, packet.len());
        assert_eq!(header.message_type, 0x0102);
        assert_eq!(header.sequence, 9);
        assert_eq!(
            &packet[NLMSG_HEADER_LEN..NLMSG_HEADER_LEN + 4],
            &[libc::AF_INET as u8, 0, 0, 0]
        );
        let attributes = &packet[NLMSG_HEADER_LEN + NFGENMSG_LEN..];
        let top = attributes_of(attributes).unwrap();
        let orig = parse_tuple(find(&top, CTA_TUPLE_ORIG).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            (orig.src, orig.src_port, orig.dst, orig.dst_port),
            (ip("10.0.0.2"), 40000, ip("10.96.0.10"), 53)
        );
        assert_eq!(find(&top, CTA_ID), Some(&0xdead_beefu32.to_be_bytes()[..]));
        assert_eq!(find(&top, CTA_ZONE), Some(&7u16.to_be_bytes()[..]));
        assert!(top
            .iter()
            .any(|nla| nla.kind() == CTA_TUPLE_ORIG && nla.nested_flag()));
    }

    #[test]
    fn dump_filter_asks_for_udp_to_the_service_from_the_endpoint() {
        let filter = FlowFilter {
            orig_dst: Some(ip("10.96.0.10")),
            orig_dst_port: Some(53),
            reply_src: ip("10.244.1.5"),
        };
        let bytes = filter.dump_attributes();
        let top = attributes_of(&bytes).unwrap();
        let flags = attributes_of(find(&top, CTA_FILTER).unwrap()).unwrap();
        let orig_flags =
            u32::from_ne_bytes(fixed(find(&flags, CTA_FILTER_ORIG_FLAGS).unwrap(), "").unwrap());
        assert_eq!(
            orig_flags,
            CTA_FILTER_F_CTA_PROTO_NUM | CTA_FILTER_F_CTA_IP_DST | CTA_FILTER_F_CTA_PROTO_DST_PORT
        );
        let reply_flags =
            u32::from_ne_bytes(fixed(find(&flags, CTA_FILTER_REPLY_FLAGS).unwrap(), "").unwrap());
        assert_eq!(reply_flags, CTA_FILTER_F_CTA_IP_SRC);
        let reply = attributes_of(find(&top, CTA_TUPLE_REPLY).unwrap()).unwrap();
        let reply_ip = attributes_of(find(&reply, CTA_TUPLE_IP).unwrap()).unwrap();
        assert_eq!(find(&reply_ip, CTA_IP_V4_SRC), Some(&[10, 244, 1, 5][..]));

        let node_port = FlowFilter {
            orig_dst: None,
            ..filter
        };
        let bytes = node_port.dump_attributes();
        let top = attributes_of(&bytes).unwrap();
        let flags = attributes_of(find(&top, CTA_FILTER).unwrap()).unwrap();
        let orig_flags =
            u32::from_ne_bytes(fixed(find(&flags, CTA_FILTER_ORIG_FLAGS).unwrap(), "").unwrap());
        assert_eq!(orig_flags & CTA_FILTER_F_CTA_IP_DST, 0);
    }
}

//! The request/answer loop on one NETLINK_ROUTE socket.
//!
//! Requests carry `NLM_F_REQUEST|NLM_F_ACK` and are read until the kernel's
//! ack or error for their sequence number; dumps are read until `NLMSG_DONE`.
//! Errors come back as [`Failure`], which the handle turns into an
//! [`crate::Error`] naming the object concerned.

use std::io;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator, NLM_F_ACK,
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// `NLM_F_CAPPED` / `NLM_F_ACK_TLVS` as they appear on an `NLMSG_ERROR`.
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`: the human-readable extended-ack text.
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSG_HEADER_LEN: usize = 16;

/// Big enough for any datagram the kernel sends on a route socket: dump
/// batches are capped at 32 KiB, and single messages stay far below that
/// since VF details are never requested.
const RECV_BUF_LEN: usize = 64 * 1024;
/// Socket receive buffer; asks for room for several full dump batches so a
/// dump of thousands of routes streams without the kernel having to wait on
/// us (the kernel caps it at net.core.rmem_max).
const SOCKET_RCVBUF: usize = 1024 * 1024;

/// Why a request did not succeed, before it is tied to an object.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The kernel answered with a negative errno.
    Kernel { errno: i32, message: Option<String> },
    /// A socket system call failed.
    Io(io::Error),
    /// The answer could not be decoded or broke the protocol.
    Protocol(String),
    /// The dump saw concurrent changes (`NLM_F_DUMP_INTR`) and must be retried.
    Interrupted,
}

pub(crate) struct NetlinkSocket {
    socket: Socket,
    sequence: u32,
    send_buf: Vec<u8>,
    recv_buf: Vec<u8>,
}

impl NetlinkSocket {
    /// Opens a route socket in the calling thread's network namespace.
    pub(crate) fn open() -> io::Result<NetlinkSocket> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        // Only the kernel ever talks to us.
        socket.connect(&SocketAddr::new(0, 0))?;
        socket.set_rx_buf_sz(SOCKET_RCVBUF)?;
        // Extended acks give messages such as "Nexthop has invalid gateway";
        // capped acks stop the kernel from echoing whole requests back.
        socket.set_ext_ack(true)?;
        socket.set_cap_ack(true)?;
        // Strict checking lets the kernel filter dumps by the header fields
        // we set (interface, table), so a dump for one link stays small.
        socket.set_netlink_get_strict_chk(true)?;
        Ok(NetlinkSocket {
            socket,
            sequence: 0,
            send_buf: Vec::with_capacity(4096),
            recv_buf: Vec::with_capacity(RECV_BUF_LEN),
        })
    }

    /// Sends a request and returns the messages answered to it (none for
    /// changes, one for a targeted GET) once the kernel has acknowledged it.
    pub(crate) fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, Failure> {
        let sequence = self.send(message, flags | NLM_F_REQUEST | NLM_F_ACK)?;
        self.collect(sequence, false)
    }

    /// Sends a dump request and returns every message of the dump.
    pub(crate) fn dump(
        &mut self,
        message: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, Failure> {
        let sequence = self.send(message, NLM_F_REQUEST | NLM_F_DUMP)?;
        self.collect(sequence, true)
    }

    fn send(&mut self, message: RouteNetlinkMessage, flags: u16) -> Result<u32, Failure> {
        self.sequence = self.sequence.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        packet.finalize();
        self.send_buf.clear();
        self.send_buf.resize(packet.buffer_len(), 0);
        packet.serialize(&mut self.send_buf);
        let sent = self.socket.send(&self.send_buf, 0).map_err(Failure::Io)?;
        if sent != self.send_buf.len() {
            return Err(Failure::Protocol(format!(
                "sent {sent} of {} request bytes",
                self.send_buf.len()
            )));
        }
        Ok(self.sequence)
    }

    fn collect(
        &mut self,
        sequence: u32,
        is_dump: bool,
    ) -> Result<Vec<RouteNetlinkMessage>, Failure> {
        let mut answers = Vec::new();
        let mut interrupted = false;
        loop {
            self.receive()?;
            let mut offset = 0;
            while offset < self.recv_buf.len() {
                let datagram = &self.recv_buf[offset..];
                let length = NetlinkBuffer::new_checked(datagram)
                    .map_err(|e| Failure::Protocol(format!("bad netlink header: {e}")))?
                    .length() as usize;
                if length < NLMSG_HEADER_LEN || length > datagram.len() {
                    return Err(Failure::Protocol(format!(
                        "netlink message length {length} out of bounds"
                    )));
                }
                offset += align4(length);
                let bytes = &datagram[..length];
                let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                    .map_err(|e| Failure::Protocol(format!("cannot decode kernel message: {e}")))?;
                // Leftovers of an earlier request that failed half-way.
                if parsed.header.sequence_number != sequence {
                    continue;
                }
                if parsed.header.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match parsed.payload {
                    NetlinkPayload::InnerMessage(inner) => answers.push(inner),
                    NetlinkPayload::Error(error) => match error.code {
                        None if !is_dump => return Ok(answers),
                        None => {}
                        Some(code) => {
                            return Err(Failure::Kernel {
                                errno: -code.get(),
                                message: ext_ack_message(parsed.header.flags, &error.header, true),
                            })
                        }
                    },
                    NetlinkPayload::Done(done) => {
                        if done.code < 0 {
                            return Err(Failure::Kernel {
                                errno: -done.code,
                                message: ext_ack_message(
                                    parsed.header.flags,
                                    &done.extended_ack,
                                    false,
                                ),
                            });
                        }
                        if interrupted {
                            return Err(Failure::Interrupted);
                        }
                        return Ok(answers);
                    }
                    NetlinkPayload::Noop => {}
                    NetlinkPayload::Overrun(_) => {
                        return Err(Failure::Protocol("kernel reported a buffer overrun".into()))
                    }
                    other => {
                        return Err(Failure::Protocol(format!(
                            "unexpected netlink payload {other:?}"
                        )))
                    }
                }
            }
        }
    }

    fn receive(&mut self) -> Result<(), Failure> {
        loop {
            self.recv_buf.clear();
            // MSG_TRUNC makes recv report the datagram's real size, so a
            // datagram larger than the buffer is detected instead of being
            // parsed half.
            match self.socket.recv(&mut self.recv_buf, libc::MSG_TRUNC) {
                Ok(size) if size > self.recv_buf.len() => {
                    return Err(Failure::Protocol(format!(
                        "kernel datagram of {size} bytes exceeds the {} byte receive buffer",
                        self.recv_buf.len()
                    )))
                }
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Failure::Io(e)),
            }
        }
    }
}

fn align4(length: usize) -> usize {
    (length + 3) & !3
}

/// Extracts the extended-ack text from an error or done payload.
///
/// `payload` is what follows the errno. For `NLMSG_ERROR` it starts with the
/// echoed request (only its header when `NLM_F_CAPPED` is set), and the TLVs
/// come after it; for `NLMSG_DONE` the TLVs come right away.
pub(crate) fn ext_ack_message(flags: u16, payload: &[u8], echoes_request: bool) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let skip = if !echoes_request {
        0
    } else if flags & NLM_F_CAPPED != 0 {
        NLMSG_HEADER_LEN
    } else {
        let echoed_len = payload.get(..4)?;
        align4(u32::from_ne_bytes(echoed_len.try_into().ok()?) as usize)
    };
    let tlvs = payload.get(skip..)?;
    for nla in NlasIterator::new(tlvs) {
        let nla = nla.ok()?;
        if nla.kind() == NLMSGERR_ATTR_MSG {
            let text = nla.value();
            let text = text.split(|&b| b == 0).next().unwrap_or(text);
            return Some(String::from_utf8_lossy(text).into_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out
    }

    fn echoed_header(length: u32) -> Vec<u8> {
        let mut out = vec![0u8; NLMSG_HEADER_LEN];
        out[..4].copy_from_slice(&length.to_ne_bytes());
        out
    }

    #[test]
    fn capped_error_skips_only_the_echoed_header() {
        let mut payload = echoed_header(200);
        payload.extend(tlv(
            NLMSGERR_ATTR_MSG,
            b"Invalid prefix for given prefix length\0",
        ));
        assert_eq!(
            ext_ack_message(NLM_F_CAPPED | NLM_F_ACK_TLVS, &payload, true).as_deref(),
            Some("Invalid prefix for given prefix length")
        );
    }

    #[test]
    fn uncapped_error_skips_the_whole_echoed_request() {
        let mut payload = echoed_header(22);
        payload.extend([0xaa; 6]);
        payload.extend([0, 0]);
        payload.extend(tlv(2, &7u32.to_ne_bytes()));
        payload.extend(tlv(NLMSGERR_ATTR_MSG, b"Unknown device type\0"));
        assert_eq!(
            ext_ack_message(NLM_F_ACK_TLVS, &payload, true).as_deref(),
            Some("Unknown device type")
        );
    }

    #[test]
    fn done_carries_tlvs_directly() {
        let payload = tlv(NLMSGERR_ATTR_MSG, b"dump failed\0");
        assert_eq!(
            ext_ack_message(NLM_F_ACK_TLVS, &payload, false).as_deref(),
            Some("dump failed")
        );
    }

    #[test]
    fn no_tlv_flag_means_no_message() {
        let mut payload = echoed_header(16);
        payload.extend(tlv(NLMSGERR_ATTR_MSG, b"ignored\0"));
        assert_eq!(ext_ack_message(NLM_F_CAPPED, &payload, true), None);
    }

    #[test]
    fn truncated_payload_yields_no_message() {
        assert_eq!(
            ext_ack_message(NLM_F_CAPPED | NLM_F_ACK_TLVS, &[0; 8], true),
            None
        );
    }

    #[test]
    fn lengths_align_to_four() {
        assert_eq!(align4(16), 16);
        assert_eq!(align4(17), 20);
        assert_eq!(align4(19), 20);
    }
}

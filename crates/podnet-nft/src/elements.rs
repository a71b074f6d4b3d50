//! Set and map elements straight over nf_tables netlink, for hot paths.
//!
//! Starting `nft` costs 5-15 ms per call (library loading, cache fetch), more than
//! everything else a CNI ADD does together. Adding or removing a few elements of an
//! existing set needs none of that: one NETLINK_NETFILTER batch (BEGIN, NEWSETELEM /
//! DELSETELEM, END) is one kernel transaction, atomic like `nft -f`, in well under a
//! millisecond. Structure (tables, chains, sets, rules) still goes through `nft -f`;
//! this module only moves elements of sets whose types it can encode.
//!
//! Element text is the same nft syntax the model uses ("10.0.0.5 . tcp . 8080",
//! "goto masq-abc"), encoded from the set's declared key and value types.

use crate::model::{Family, Set, SetFlag};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const NETLINK_NETFILTER: i32 = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 0x2;
const NLA_F_NESTED: u16 = 0x8000;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CODE: u16 = 1;
const NFTA_VERDICT_CHAIN: u16 = 2;

/// Why an element batch did not apply.
#[derive(Debug, thiserror::Error)]
pub enum ElementError {
    /// The element text or the set type is outside what this module encodes.
    #[error("set {set}: {reason}")]
    Unsupported { set: String, reason: String },
    /// The kernel refused the batch; nothing of it was applied.
    #[error("nf_tables refused the element batch for table {table}: {message} (errno {errno})")]
    Kernel {
        table: String,
        errno: i32,
        message: String,
    },
    #[error("netfilter netlink socket: {0}")]
    Io(#[from] std::io::Error),
}

impl ElementError {
    /// The table, set or verdict chain does not exist: the structure must be created first.
    pub fn is_missing(&self) -> bool {
        matches!(self, ElementError::Kernel { errno, .. } if *errno == libc::ENOENT)
    }
}

enum Op {
    Add,
    Delete,
}

/// One atomic batch of element additions and removals in one table.
pub struct ElementBatch {
    family: Family,
    table: String,
    ops: Vec<(Op, String, Vec<u8>)>,
}

fn family_code(f: Family) -> u8 {
    match f {
        Family::Ip => libc::NFPROTO_IPV4 as u8,
        Family::Ip6 => libc::NFPROTO_IPV6 as u8,
        Family::Inet => libc::NFPROTO_INET as u8,
        Family::Arp => libc::NFPROTO_ARP as u8,
        Family::Bridge => libc::NFPROTO_BRIDGE as u8,
        Family::Netdev => libc::NFPROTO_NETDEV as u8,
    }
}

impl ElementBatch {
    pub fn new(family: Family, table: &str) -> ElementBatch {
        ElementBatch {
            family,
            table: table.to_string(),
            ops: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Adds elements (existing identical ones are kept, as `nft add element` does).
    pub fn add(
        &mut self,
        set: &Set,
        elements: &[(String, Option<String>)],
    ) -> Result<(), ElementError> {
        for list in encode_lists(set, elements)? {
            self.ops.push((Op::Add, set.name.clone(), list));
        }
        Ok(())
    }

    /// Removes elements whether or not they are present: each is added, then deleted,
    /// in the same transaction (the kernel has no "delete if present").
    pub fn remove(
        &mut self,
        set: &Set,
        elements: &[(String, Option<String>)],
    ) -> Result<(), ElementError> {
        for list in encode_lists(set, elements)? {
            self.ops.push((Op::Add, set.name.clone(), list.clone()));
            self.ops.push((Op::Delete, set.name.clone(), list));
        }
        Ok(())
    }

    /// Sends the batch in the calling thread's network namespace and waits for the verdict.
    pub fn commit(&self) -> Result<(), ElementError> {
        if self.ops.is_empty() {
            return Ok(());
        }
        self.commit_on(&ElementSocket::open()?)
    }

    /// Sends the batch over a socket kept open across batches (see [`ElementSocket`]),
    /// in the network namespace the socket was opened in. After an error the socket may
    /// hold stale replies: open a new one.
    pub fn commit_on(&self, socket: &ElementSocket) -> Result<(), ElementError> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let (buf, acks) = self.encode();
        let sock = &socket.fd;
        if buf.len() > DEFAULT_SNDBUF {
            // A batch is one datagram: the send buffer must hold all of it.
            set_sndbuf(sock, buf.len() + DEFAULT_SNDBUF)?;
        }
        // SAFETY: sending our own buffer on a socket we own.
        let sent = unsafe { libc::send(sock.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0) };
        if sent < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        self.read_acks(sock, acks)
    }

    fn encode(&self) -> (Vec<u8>, usize) {
        let mut buf = Vec::with_capacity(256);
        let mut seq = 1u32;
        message(
            &mut buf,
            NFNL_MSG_BATCH_BEGIN,
            NLM_F_REQUEST,
            seq,
            0,
            |_| {},
        );
        for (op, set, list) in &self.ops {
            seq += 1;
            let (kind, flags) = match op {
                Op::Add => (NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK),
                Op::Delete => (NFT_MSG_DELSETELEM, NLM_F_REQUEST | NLM_F_ACK),
            };
            let ty = (NFNL_SUBSYS_NFTABLES << 8) | kind;
            message(&mut buf, ty, flags, seq, family_code(self.family), |b| {
                attr_str(b, NFTA_SET_ELEM_LIST_TABLE, &self.table);
                attr_str(b, NFTA_SET_ELEM_LIST_SET, set);
                attr(b, NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED, list);
            });
        }
        seq += 1;
        message(&mut buf, NFNL_MSG_BATCH_END, NLM_F_REQUEST, seq, 0, |_| {});
        (buf, self.ops.len())
    }

    fn read_acks(&self, sock: &OwnedFd, mut expected: usize) -> Result<(), ElementError> {
        let mut first_error: Option<(i32, String)> = None;
        let mut buf = vec![0u8; 64 * 1024];
        while expected > 0 {
            // SAFETY: receiving into our own buffer.
            let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(std::io::Error::last_os_error().into());
            }
            let mut at = 0usize;
            let n = n as usize;
            while at + 16 <= n {
                let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
                let ty = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
                if len < 16 || at + len > n {
                    break;
                }
                if ty == NLMSG_ERROR && len >= 20 {
                    expected = expected.saturating_sub(1);
                    let code =
                        i32::from_ne_bytes(buf[at + 16..at + 20].try_into().expect("4 bytes"));
                    if code != 0 && first_error.is_none() {
                        let errno = -code;
                        first_error =
                            Some((errno, std::io::Error::from_raw_os_error(errno).to_string()));
                    }
                }
                at += (len + 3) & !3;
            }
        }
        match first_error {
            None => Ok(()),
            Some((errno, message)) => Err(ElementError::Kernel {
                table: format!("{} {}", self.family, self.table),
                errno,
                message,
            }),
        }
    }
}

/// A NETLINK_NETFILTER socket for element batches, bound to the network namespace of
/// the thread that opened it. Worth keeping open on hot paths: closing a socket that
/// committed waits until the kernel has freed the finished transactions, one RCU grace
/// period (10-30 ms on a busy machine), far more than the commit itself.
#[derive(Debug)]
pub struct ElementSocket {
    fd: OwnedFd,
}

impl ElementSocket {
    pub fn open() -> Result<ElementSocket, ElementError> {
        Ok(ElementSocket { fd: open_socket()? })
    }
}

/// Send buffer size below which no socket needs a larger one (the usual wmem_default).
const DEFAULT_SNDBUF: usize = 200 * 1024;

fn set_sndbuf(sock: &OwnedFd, bytes: usize) -> Result<(), ElementError> {
    let size = libc::c_int::try_from(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("element batch of {bytes} bytes"),
        )
    })?;
    // SAFETY: setsockopt with a correctly sized int option on a socket we own. FORCE
    // passes the wmem_max cap, allowed with the CAP_NET_ADMIN nf_tables needs anyway.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

fn open_socket() -> Result<OwnedFd, ElementError> {
    // SAFETY: plain socket(2); the descriptor is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_NETFILTER,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl zeroed is "the kernel, any port".
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: bind with a correctly sized sockaddr_nl.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(sock)
}

fn message(
    buf: &mut Vec<u8>,
    ty: u16,
    flags: u16,
    seq: u32,
    family: u8,
    body: impl FnOnce(&mut Vec<u8>),
) {
    let start = buf.len();
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family, version, resource id (the subsystem, for batch markers).
    buf.push(family);
    buf.push(0);
    let res_id = if ty == NFNL_MSG_BATCH_BEGIN || ty == NFNL_MSG_BATCH_END {
        NFNL_SUBSYS_NFTABLES
    } else {
        0
    };
    buf.extend_from_slice(&res_id.to_be_bytes());
    body(buf);
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

fn attr(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    buf.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(payload);
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

fn attr_str(buf: &mut Vec<u8>, ty: u16, s: &str) {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    attr(buf, ty, &v);
}

fn nested(ty: u16, build: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut inner = Vec::new();
    build(&mut inner);
    let mut out = Vec::new();
    attr(&mut out, ty | NLA_F_NESTED, &inner);
    out
}

/// Largest NFTA_SET_ELEM_LIST_ELEMENTS payload: attribute lengths are 16 bits.
const MAX_LIST_BYTES: usize = 60 * 1024;

/// The NFTA_SET_ELEM_LIST_ELEMENTS payloads for these elements of `set`, as many as
/// needed to keep each under the attribute size limit.
fn encode_lists(
    set: &Set,
    elements: &[(String, Option<String>)],
) -> Result<Vec<Vec<u8>>, ElementError> {
    let unsupported = |reason: String| ElementError::Unsupported {
        set: set.name.clone(),
        reason,
    };
    if set.flags.contains(&SetFlag::Interval) {
        return Err(unsupported("interval sets need ranges; use nft".into()));
    }
    let mut lists = Vec::new();
    let mut list = Vec::new();
    for (key, value) in elements {
        let key_bytes =
            encode_typed(&set.key, key).map_err(|r| unsupported(format!("key {key:?}: {r}")))?;
        let data = match (&set.value, value) {
            (None, None) => None,
            (Some(vt), Some(v)) if vt == "verdict" => {
                let (code, chain) =
                    parse_verdict(v).map_err(|r| unsupported(format!("value {v:?}: {r}")))?;
                Some(nested(NFTA_SET_ELEM_DATA, |b| {
                    let verdict = nested(NFTA_DATA_VERDICT, |vb| {
                        attr(vb, NFTA_VERDICT_CODE, &code.to_be_bytes());
                        if let Some(c) = chain {
                            attr_str(vb, NFTA_VERDICT_CHAIN, c);
                        }
                    });
                    b.extend_from_slice(&verdict);
                }))
            }
            (Some(vt), Some(v)) => {
                let bytes =
                    encode_typed(vt, v).map_err(|r| unsupported(format!("value {v:?}: {r}")))?;
                Some(nested(NFTA_SET_ELEM_DATA, |b| {
                    attr(b, NFTA_DATA_VALUE, &bytes)
                }))
            }
            (Some(_), None) => {
                return Err(unsupported(format!("map element {key:?} has no value")))
            }
            (None, Some(_)) => return Err(unsupported(format!("set element {key:?} has a value"))),
        };
        let elem = nested(NFTA_LIST_ELEM, |b| {
            let k = nested(NFTA_SET_ELEM_KEY, |kb| {
                attr(kb, NFTA_DATA_VALUE, &key_bytes)
            });
            b.extend_from_slice(&k);
            if let Some(d) = &data {
                b.extend_from_slice(d);
            }
        });
        if list.len() + elem.len() > MAX_LIST_BYTES {
            lists.push(std::mem::take(&mut list));
        }
        list.extend_from_slice(&elem);
    }
    if !list.is_empty() {
        lists.push(list);
    }
    Ok(lists)
}

fn parse_verdict(v: &str) -> Result<(i32, Option<&str>), String> {
    let mut words = v.split_whitespace();
    let code = match words.next() {
        Some("accept") => 1, // NF_ACCEPT
        Some("drop") => 0,   // NF_DROP
        Some("continue") => -1,
        Some("break") => -2,
        Some("jump") => -3,
        Some("goto") => -4,
        Some("return") => -5,
        other => return Err(format!("unknown verdict {other:?}")),
    };
    let chain = words.next();
    if (code == -3 || code == -4) != chain.is_some() || words.next().is_some() {
        return Err("jump and goto take exactly one chain".into());
    }
    Ok((code, chain))
}

/// Encodes "a . b . c" of type "t1 . t2 . t3": each field in network order, padded
/// to 4 bytes when part of a concatenation (nf_tables register alignment).
fn encode_typed(types: &str, text: &str) -> Result<Vec<u8>, String> {
    let types: Vec<&str> = types.split('.').map(str::trim).collect();
    let values: Vec<&str> = text.split(" . ").map(str::trim).collect();
    if types.len() != values.len() {
        return Err(format!(
            "has {} fields, type has {}",
            values.len(),
            types.len()
        ));
    }
    let concat = types.len() > 1;
    let mut out = Vec::new();
    for (ty, v) in types.iter().zip(values) {
        let mut field = match *ty {
            "ipv4_addr" => v
                .parse::<Ipv4Addr>()
                .map_err(|_| format!("{v:?} is not an IPv4 address"))?
                .octets()
                .to_vec(),
            "ipv6_addr" => v
                .parse::<Ipv6Addr>()
                .map_err(|_| format!("{v:?} is not an IPv6 address"))?
                .octets()
                .to_vec(),
            "inet_proto" => vec![match v {
                "tcp" => 6,
                "udp" => 17,
                "sctp" => 132,
                "icmp" => 1,
                "icmpv6" => 58,
                n => n
                    .parse::<u8>()
                    .map_err(|_| format!("{n:?} is not a protocol"))?,
            }],
            "inet_service" => v
                .parse::<u16>()
                .map_err(|_| format!("{v:?} is not a port"))?
                .to_be_bytes()
                .to_vec(),
            other => return Err(format!("type {other} is not encoded here")),
        };
        if concat {
            while field.len() % 4 != 0 {
                field.push(0);
            }
        }
        out.extend_from_slice(&field);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenations_pad_each_field_to_four_bytes() {
        let b = encode_typed(
            "ipv4_addr . inet_proto . inet_service",
            "10.0.0.5 . tcp . 8080",
        )
        .unwrap();
        assert_eq!(b, vec![10, 0, 0, 5, 6, 0, 0, 0, 0x1f, 0x90, 0, 0]);
        assert_eq!(encode_typed("inet_service", "80").unwrap(), vec![0, 80]);
        assert_eq!(encode_typed("ipv6_addr", "::1").unwrap().len(), 16);
    }

    #[test]
    fn bad_fields_are_named() {
        assert!(encode_typed("ipv4_addr", "fd00::1")
            .unwrap_err()
            .contains("IPv4"));
        assert!(encode_typed("ipv4_addr . inet_service", "10.0.0.1")
            .unwrap_err()
            .contains("fields"));
        assert!(encode_typed("mark", "1").unwrap_err().contains("mark"));
    }

    #[test]
    fn verdicts_encode_their_codes_and_chains() {
        assert_eq!(parse_verdict("goto masq-x").unwrap(), (-4, Some("masq-x")));
        assert_eq!(parse_verdict("accept").unwrap(), (1, None));
        assert!(parse_verdict("goto").is_err());
        assert!(parse_verdict("accept now").is_err());
    }

    #[test]
    fn long_element_lists_are_split_under_the_attribute_limit() {
        let s = Set::map("m", "ipv4_addr . inet_proto . inet_service", "verdict");
        let elements: Vec<(String, Option<String>)> = (0..5000u32)
            .map(|i| {
                let ip = Ipv4Addr::from(0x0a00_0000 + i);
                (format!("{ip} . tcp . 80"), Some("goto svc".to_string()))
            })
            .collect();
        let lists = encode_lists(&s, &elements).unwrap();
        assert!(lists.len() > 1);
        assert!(lists.iter().all(|l| 4 + l.len() <= usize::from(u16::MAX)));
        let whole: usize = lists.iter().map(Vec::len).sum();
        let single = encode_lists(&s, &elements[..1]).unwrap();
        assert_eq!(whole, single[0].len() * elements.len());
    }

    #[test]
    fn interval_sets_are_left_to_nft() {
        let s = Set::new("s", "ipv4_addr").with_flag(SetFlag::Interval);
        let err = ElementBatch::new(Family::Inet, "t")
            .add(&s, &[("10.0.0.0/8".into(), None)])
            .unwrap_err();
        assert!(matches!(err, ElementError::Unsupported { .. }));
    }

    #[test]
    fn a_batch_is_framed_by_begin_and_end_with_one_ack_per_operation() {
        let s = Set::map("m", "ipv4_addr", "verdict");
        let mut b = ElementBatch::new(Family::Inet, "t");
        b.remove(&s, &[("10.0.0.1".into(), Some("goto c".into()))])
            .unwrap();
        let (buf, acks) = b.encode();
        assert_eq!(acks, 2, "add + delete");
        let first_type = u16::from_ne_bytes([buf[4], buf[5]]);
        assert_eq!(first_type, NFNL_MSG_BATCH_BEGIN);
        let total: usize = {
            let mut at = 0;
            let mut count = 0;
            while at < buf.len() {
                let len = u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
                at += (len + 3) & !3;
                count += 1;
            }
            count
        };
        assert_eq!(total, 4, "begin, add, delete, end");
    }
}

//! CIDR arithmetic on top of `ipnet`.
//!
//! Addresses are handled as unsigned integers (`u128` for both families, so one
//! code path serves IPv4 and IPv6); every step that could leave the address
//! family's space is checked and answers `None` instead of wrapping.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why a CIDR string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The string has no `/` separating address and prefix length.
    #[error("{input:?} is not in CIDR form: missing \"/<prefix length>\"")]
    MissingPrefix { input: String },
    /// The part before `/` is not an IP address.
    #[error("{input:?}: {address:?} is not an IPv4 or IPv6 address")]
    BadAddress { input: String, address: String },
    /// The part after `/` is not a prefix length valid for the address family.
    #[error("{input:?}: prefix length {prefix:?} is not a number from 0 to {max}")]
    BadPrefix {
        input: String,
        prefix: String,
        max: u8,
    },
}

/// The address as an unsigned integer (IPv4 in the low 32 bits).
pub(crate) fn to_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address of `family` (taken from `like`) with the integer value `bits`,
/// or `None` when `bits` does not fit that family.
pub(crate) fn from_bits(like: IpAddr, bits: u128) -> Option<IpAddr> {
    match like {
        IpAddr::V4(_) => u32::try_from(bits)
            .ok()
            .map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        IpAddr::V6(_) => Some(IpAddr::V6(Ipv6Addr::from(bits))),
    }
}

/// Number of host bits of `net` (address width minus prefix length).
fn host_bits(net: &IpNet) -> u32 {
    u32::from(net.max_prefix_len() - net.prefix_len())
}

/// `ip + n` in the same family, `None` past the end of the address space.
pub fn add(ip: IpAddr, n: u128) -> Option<IpAddr> {
    to_bits(ip)
        .checked_add(n)
        .and_then(|bits| from_bits(ip, bits))
}

/// `ip - n` in the same family, `None` before the start of the address space.
pub fn sub(ip: IpAddr, n: u128) -> Option<IpAddr> {
    to_bits(ip)
        .checked_sub(n)
        .and_then(|bits| from_bits(ip, bits))
}

/// Index of `ip` inside `net`, counted from the network address (host bits of
/// `net` itself are ignored). `None` when `ip` is outside `net` or of the other family.
pub fn offset(net: &IpNet, ip: IpAddr) -> Option<u128> {
    if !net.contains(&ip) {
        return None;
    }
    Some(to_bits(ip) - to_bits(net.network()))
}

/// The `n`-th address of `net` counting from the network address (0), or `None`
/// when `net` has no `n`-th address.
pub fn nth(net: &IpNet, n: u128) -> Option<IpAddr> {
    let host_bits = host_bits(net);
    // A shift by 128 would overflow; an IPv6 /0 holds every u128 index.
    if host_bits < 128 && n >> host_bits != 0 {
        return None;
    }
    add(net.network(), n)
}

/// Number of addresses in `net`. An IPv6 /0 holds 2^128 addresses, one more
/// than `u128` can count, so it saturates at `u128::MAX`.
pub fn size(net: &IpNet) -> u128 {
    let host_bits = host_bits(net);
    if host_bits >= 128 {
        u128::MAX
    } else {
        1u128 << host_bits
    }
}

/// First address usable by a host: network + 1. Point-to-point IPv4 /31
/// (RFC 3021) and single-address nets (/32, /128) have no network address to
/// skip, so their first address is usable.
pub fn first_host(net: &IpNet) -> IpAddr {
    let whole_net_usable = match net {
        IpNet::V4(_) => net.prefix_len() >= 31,
        IpNet::V6(_) => net.prefix_len() == 128,
    };
    if whole_net_usable {
        return net.network();
    }
    add(net.network(), 1).expect("a net of two or more addresses holds network + 1")
}

/// Last address usable by a host: IPv4 broadcast - 1 (the broadcast address
/// itself for /31 and /32), IPv6 the last address of the net (IPv6 has no broadcast).
pub fn last_host(net: &IpNet) -> IpAddr {
    match net {
        IpNet::V4(_) if net.prefix_len() < 31 => {
            sub(net.broadcast(), 1).expect("a net of four or more addresses holds broadcast - 1")
        }
        _ => net.broadcast(),
    }
}

/// The subnets of `parent` with prefix length `new_prefix`, in address order,
/// e.g. a /16 split into its 256 /24s. A `new_prefix` shorter than the parent's
/// or longer than the family allows yields nothing.
pub fn subnets(parent: &IpNet, new_prefix: u8) -> impl Iterator<Item = IpNet> {
    parent.subnets(new_prefix).into_iter().flatten()
}

/// Whether `a` and `b` share at least one address. Nets of different families never do.
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    // Two prefixes overlap exactly when one contains the other's network address;
    // `contains` is false across families.
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Parses `address/prefix`. Host bits are kept: CNI writes interface addresses
/// in this form ("10.0.0.5/24" is the address 10.0.0.5 on a /24), so
/// canonicalising here would lose the address. Use `IpNet::trunc` for the network.
pub fn parse_net(s: &str) -> Result<IpNet, ParseError> {
    let (address_text, prefix_text) =
        s.split_once('/').ok_or_else(|| ParseError::MissingPrefix {
            input: s.to_string(),
        })?;
    let address: IpAddr = address_text.parse().map_err(|_| ParseError::BadAddress {
        input: s.to_string(),
        address: address_text.to_string(),
    })?;
    let max = match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let bad_prefix = || ParseError::BadPrefix {
        input: s.to_string(),
        prefix: prefix_text.to_string(),
        max,
    };
    // u8's parser accepts a leading '+', which no CIDR notation does.
    if prefix_text.is_empty() || !prefix_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_prefix());
    }
    let prefix: u8 = prefix_text.parse().map_err(|_| bad_prefix())?;
    IpNet::new(address, prefix).map_err(|_| bad_prefix())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn add_steps_within_the_family_and_stops_at_the_end_of_the_space() {
        assert_eq!(add(ip("10.0.0.255"), 1), Some(ip("10.0.1.0")));
        assert_eq!(add(ip("10.0.0.1"), 0), Some(ip("10.0.0.1")));
        assert_eq!(add(ip("255.255.255.254"), 1), Some(ip("255.255.255.255")));
        assert_eq!(add(ip("255.255.255.255"), 1), None);
        assert_eq!(add(ip("0.0.0.0"), 1 << 32), None);
        assert_eq!(add(ip("fd00::ffff"), 1), Some(ip("fd00::1:0")));
        assert_eq!(add(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 1), None);
        assert_eq!(add(ip("::1"), u128::MAX), None);
        assert_eq!(
            add(ip("::"), u128::MAX),
            Some(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        );
    }

    #[test]
    fn sub_steps_back_and_stops_at_the_start_of_the_space() {
        assert_eq!(sub(ip("10.0.1.0"), 1), Some(ip("10.0.0.255")));
        assert_eq!(sub(ip("0.0.0.0"), 1), None);
        assert_eq!(sub(ip("0.0.0.5"), 5), Some(ip("0.0.0.0")));
        assert_eq!(sub(ip("fd00::1:0"), 1), Some(ip("fd00::ffff")));
        assert_eq!(sub(ip("::"), 1), None);
    }

    #[test]
    fn offset_counts_from_the_network_address_and_rejects_outsiders() {
        assert_eq!(offset(&net("10.0.0.0/24"), ip("10.0.0.0")), Some(0));
        assert_eq!(offset(&net("10.0.0.0/24"), ip("10.0.0.255")), Some(255));
        assert_eq!(offset(&net("10.0.0.77/24"), ip("10.0.0.5")), Some(5));
        assert_eq!(offset(&net("10.0.0.0/24"), ip("10.0.1.0")), None);
        assert_eq!(offset(&net("10.0.0.0/24"), ip("::a00:5")), None);
        assert_eq!(offset(&net("10.0.0.1/32"), ip("10.0.0.1")), Some(0));
        assert_eq!(offset(&net("fd00::/64"), ip("fd00::1:2")), Some(0x1_0002));
        assert_eq!(
            offset(&net("::/0"), ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            Some(u128::MAX)
        );
    }

    #[test]
    fn nth_is_the_inverse_of_offset_inside_the_net() {
        let n = net("10.1.0.0/16");
        assert_eq!(nth(&n, 0), Some(ip("10.1.0.0")));
        assert_eq!(nth(&n, 258), Some(ip("10.1.1.2")));
        assert_eq!(nth(&n, 65535), Some(ip("10.1.255.255")));
        assert_eq!(nth(&n, 65536), None);
        assert_eq!(offset(&n, nth(&n, 1234).unwrap()), Some(1234));
        assert_eq!(nth(&net("10.0.0.9/32"), 0), Some(ip("10.0.0.9")));
        assert_eq!(nth(&net("10.0.0.9/32"), 1), None);
        assert_eq!(
            nth(&net("0.0.0.0/0"), u128::from(u32::MAX)),
            Some(ip("255.255.255.255"))
        );
        assert_eq!(nth(&net("0.0.0.0/0"), 1 << 32), None);
        assert_eq!(
            nth(&net("::/0"), u128::MAX),
            Some(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        );
        assert_eq!(nth(&net("fd00::/127"), 1), Some(ip("fd00::1")));
        assert_eq!(nth(&net("fd00::/127"), 2), None);
    }

    #[test]
    fn size_counts_addresses_and_saturates_only_for_the_whole_v6_space() {
        assert_eq!(size(&net("10.0.0.0/24")), 256);
        assert_eq!(size(&net("10.0.0.0/31")), 2);
        assert_eq!(size(&net("10.0.0.0/32")), 1);
        assert_eq!(size(&net("0.0.0.0/0")), 1 << 32);
        assert_eq!(size(&net("fd00::/64")), 1 << 64);
        assert_eq!(size(&net("fd00::/128")), 1);
        assert_eq!(size(&net("::/1")), 1 << 127);
        assert_eq!(size(&net("::/0")), u128::MAX);
    }

    #[test]
    fn host_bounds_skip_network_and_broadcast_for_ordinary_v4_nets() {
        let n = net("10.0.0.0/24");
        assert_eq!(first_host(&n), ip("10.0.0.1"));
        assert_eq!(last_host(&n), ip("10.0.0.254"));
        let n = net("10.0.0.4/30");
        assert_eq!(first_host(&n), ip("10.0.0.5"));
        assert_eq!(last_host(&n), ip("10.0.0.6"));
        // Host bits in the net do not move the bounds.
        let n = net("10.0.0.77/24");
        assert_eq!(first_host(&n), ip("10.0.0.1"));
        assert_eq!(last_host(&n), ip("10.0.0.254"));
    }

    #[test]
    fn host_bounds_of_v4_slash_31_and_slash_32_are_the_addresses_themselves() {
        let n = net("10.0.0.6/31");
        assert_eq!(first_host(&n), ip("10.0.0.6"));
        assert_eq!(last_host(&n), ip("10.0.0.7"));
        let n = net("10.0.0.9/32");
        assert_eq!(first_host(&n), ip("10.0.0.9"));
        assert_eq!(last_host(&n), ip("10.0.0.9"));
        let n = net("255.255.255.255/32");
        assert_eq!(first_host(&n), ip("255.255.255.255"));
        assert_eq!(last_host(&n), ip("255.255.255.255"));
    }

    #[test]
    fn host_bounds_of_v6_nets_run_from_network_plus_one_to_the_last_address() {
        let n = net("fd00::/64");
        assert_eq!(first_host(&n), ip("fd00::1"));
        assert_eq!(last_host(&n), ip("fd00::ffff:ffff:ffff:ffff"));
        let n = net("fd00::/127");
        assert_eq!(first_host(&n), ip("fd00::1"));
        assert_eq!(last_host(&n), ip("fd00::1"));
        let n = net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
        assert_eq!(first_host(&n), n.addr());
        assert_eq!(last_host(&n), n.addr());
    }

    #[test]
    fn subnets_split_a_parent_in_address_order() {
        let all: Vec<IpNet> = subnets(&net("10.244.0.0/16"), 24).collect();
        assert_eq!(all.len(), 256);
        assert_eq!(all[0], net("10.244.0.0/24"));
        assert_eq!(all[1], net("10.244.1.0/24"));
        assert_eq!(all[255], net("10.244.255.0/24"));
        let same: Vec<IpNet> = subnets(&net("10.0.0.0/24"), 24).collect();
        assert_eq!(same, vec![net("10.0.0.0/24")]);
        let v6: Vec<IpNet> = subnets(&net("fd00::/62"), 64).collect();
        assert_eq!(
            v6,
            vec![
                net("fd00::/64"),
                net("fd00:0:0:1::/64"),
                net("fd00:0:0:2::/64"),
                net("fd00:0:0:3::/64")
            ]
        );
    }

    #[test]
    fn subnets_stop_cleanly_at_the_end_of_the_address_space() {
        let last: Vec<IpNet> = subnets(&net("255.255.0.0/16"), 24).collect();
        assert_eq!(last.len(), 256);
        assert_eq!(last[255], net("255.255.255.0/24"));
        let hosts: Vec<IpNet> = subnets(&net("255.255.255.252/30"), 32).collect();
        assert_eq!(hosts.len(), 4);
        assert_eq!(hosts[3], net("255.255.255.255/32"));
        let v6: Vec<IpNet> =
            subnets(&net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffc/126"), 127).collect();
        assert_eq!(v6.len(), 2);
    }

    #[test]
    fn subnets_with_an_impossible_prefix_yield_nothing() {
        assert_eq!(subnets(&net("10.0.0.0/16"), 8).count(), 0);
        assert_eq!(subnets(&net("10.0.0.0/16"), 33).count(), 0);
        assert_eq!(subnets(&net("fd00::/64"), 129).count(), 0);
    }

    #[test]
    fn overlaps_detects_containment_and_ignores_other_families() {
        assert!(overlaps(&net("10.0.0.0/16"), &net("10.0.5.0/24")));
        assert!(overlaps(&net("10.0.5.0/24"), &net("10.0.0.0/16")));
        assert!(overlaps(&net("10.0.0.0/24"), &net("10.0.0.0/24")));
        assert!(overlaps(&net("10.0.0.7/32"), &net("10.0.0.0/24")));
        assert!(!overlaps(&net("10.0.0.0/24"), &net("10.0.1.0/24")));
        assert!(!overlaps(&net("10.0.0.0/31"), &net("10.0.0.2/31")));
        assert!(!overlaps(&net("0.0.0.0/0"), &net("::/0")));
        assert!(overlaps(&net("fd00::/48"), &net("fd00:0:0:7::/64")));
        assert!(!overlaps(&net("fd00::/64"), &net("fd00:0:0:1::/64")));
    }

    #[test]
    fn parse_net_keeps_host_bits() {
        let n = parse_net("10.0.0.5/24").unwrap();
        assert_eq!(n.addr(), ip("10.0.0.5"));
        assert_eq!(n.prefix_len(), 24);
        assert_eq!(n.network(), ip("10.0.0.0"));
        let n = parse_net("fd00::5/64").unwrap();
        assert_eq!(n.addr(), ip("fd00::5"));
        assert_eq!(n.prefix_len(), 64);
        assert_eq!(parse_net("0.0.0.0/0").unwrap(), net("0.0.0.0/0"));
        assert_eq!(parse_net("::1/128").unwrap(), net("::1/128"));
    }

    #[test]
    fn parse_net_names_what_is_wrong() {
        assert_eq!(
            parse_net("10.0.0.5"),
            Err(ParseError::MissingPrefix {
                input: "10.0.0.5".into()
            })
        );
        assert_eq!(
            parse_net("10.0.0/24"),
            Err(ParseError::BadAddress {
                input: "10.0.0/24".into(),
                address: "10.0.0".into()
            })
        );
        assert_eq!(
            parse_net("10.0.0.0/33"),
            Err(ParseError::BadPrefix {
                input: "10.0.0.0/33".into(),
                prefix: "33".into(),
                max: 32
            })
        );
        assert!(matches!(
            parse_net("fd00::/129"),
            Err(ParseError::BadPrefix { max: 128, .. })
        ));
        assert!(matches!(
            parse_net("10.0.0.0/+8"),
            Err(ParseError::BadPrefix { .. })
        ));
        assert!(matches!(
            parse_net("10.0.0.0/"),
            Err(ParseError::BadPrefix { .. })
        ));
        assert!(matches!(
            parse_net("10.0.0.0/300"),
            Err(ParseError::BadPrefix { .. })
        ));
        let message = parse_net("10.0.0.0/33").unwrap_err().to_string();
        assert!(message.contains("10.0.0.0/33"), "{message}");
    }
}

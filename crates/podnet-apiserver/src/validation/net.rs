//! IP addresses and CIDRs as Kubernetes parses them (Go's "sloppy" parsers,
//! which also take IPv4 octets with leading zeros) and the address ranges it
//! refuses for endpoints and external IPs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::status::FieldError;

const IP_MSG: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
const CIDR_MSG: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// An IPv4 address whose octets may have leading zeros ("010.1.1.1").
fn parse_v4_sloppy(s: &str) -> Option<Ipv4Addr> {
    let octets: Vec<u8> = s
        .split('.')
        .map(|part| {
            if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                part.parse::<u8>().ok()
            }
        })
        .collect::<Option<Vec<u8>>>()?;
    match octets.as_slice() {
        [a, b, c, d] => Some(Ipv4Addr::new(*a, *b, *c, *d)),
        _ => None,
    }
}

pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        parse_v4_sloppy(s).map(IpAddr::V4)
    }
}

/// The address as Go sees it: IPv4-mapped IPv6 addresses count as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub(crate) fn is_ipv4(s: &str) -> bool {
    parse_ip(s).is_some_and(|ip| canonical(ip).is_ipv4())
}

pub(crate) fn is_ipv6(s: &str) -> bool {
    parse_ip(s).is_some_and(|ip| canonical(ip).is_ipv6())
}

pub(crate) fn parse_cidr(s: &str) -> Option<IpNet> {
    let (addr, prefix) = s.split_once('/')?;
    let ip = parse_ip(addr)?;
    if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix: u8 = prefix.parse().ok()?;
    IpNet::new(ip, prefix).ok()
}

pub(crate) fn valid_ip(path: &str, value: &str) -> Vec<FieldError> {
    if parse_ip(value).is_some() {
        Vec::new()
    } else {
        vec![FieldError::invalid_str(path, value, IP_MSG)]
    }
}

pub(crate) fn valid_ipv4(path: &str, value: &str) -> Vec<FieldError> {
    if is_ipv4(value) {
        Vec::new()
    } else {
        vec![FieldError::invalid_str(
            path,
            value,
            "must be a valid IPv4 address",
        )]
    }
}

pub(crate) fn valid_ipv6(path: &str, value: &str) -> Vec<FieldError> {
    if is_ipv6(value) {
        Vec::new()
    } else {
        vec![FieldError::invalid_str(
            path,
            value,
            "must be a valid IPv6 address",
        )]
    }
}

pub(crate) fn valid_cidr(path: &str, value: &str) -> Vec<FieldError> {
    if parse_cidr(value).is_some() {
        Vec::new()
    } else {
        vec![FieldError::invalid_str(path, value, CIDR_MSG)]
    }
}

/// Addresses that cannot be a Service backend or external IP: unspecified,
/// loopback and link-local ranges.
pub(crate) fn non_special_ip(path: &str, value: &str) -> Vec<FieldError> {
    let Some(ip) = parse_ip(value).map(canonical) else {
        return vec![FieldError::invalid_str(
            path,
            value,
            "must be a valid IP address",
        )];
    };
    let mut errors = Vec::new();
    if ip.is_unspecified() {
        errors.push(FieldError::invalid_str(
            path,
            value,
            format!("may not be unspecified ({value})"),
        ));
    }
    if ip.is_loopback() {
        errors.push(FieldError::invalid_str(
            path,
            value,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let (link_local_unicast, link_local_multicast) = match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            (a == 169 && b == 254, a == 224 && b == 0 && c == 0)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (s[0] & 0xffc0 == 0xfe80, s[0] & 0xff0f == 0xff02)
        }
    };
    if link_local_unicast {
        errors.push(FieldError::invalid_str(
            path,
            value,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        errors.push(FieldError::invalid_str(
            path,
            value,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sloppy_parsing_like_go() {
        assert!(parse_ip("010.001.1.1").is_some());
        assert!(parse_ip("1.2.3").is_none());
        assert!(parse_ip("1.2.3.256").is_none());
        assert!(is_ipv4("::ffff:10.0.0.1"));
        assert!(is_ipv6("fd00::1"));
        assert!(parse_cidr("10.0.0.0/8").is_some());
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(parse_cidr("10.0.0.0").is_none());
    }

    #[test]
    fn special_ranges() {
        assert!(non_special_ip("p", "10.1.2.3").is_empty());
        assert_eq!(non_special_ip("p", "127.0.0.1").len(), 1);
        assert_eq!(non_special_ip("p", "0.0.0.0").len(), 1);
        assert_eq!(non_special_ip("p", "169.254.1.1").len(), 1);
        assert_eq!(non_special_ip("p", "224.0.0.5").len(), 1);
        assert_eq!(non_special_ip("p", "fe80::1").len(), 1);
        assert_eq!(non_special_ip("p", "::ffff:127.0.0.1").len(), 1);
    }
}

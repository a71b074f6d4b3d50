//! Ethernet address text form.

/// Parses `aa:bb:cc:dd:ee:ff` (either case). Anything else, including other
/// separators or single-digit groups, is `None`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut groups = s.split(':');
    for byte in mac.iter_mut() {
        let group = groups.next()?;
        if group.len() != 2 || !group.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(group, 16).ok()?;
    }
    if groups.next().is_some() {
        return None;
    }
    Some(mac)
}

/// Formats as lowercase `aa:bb:cc:dd:ee:ff`, the form the CNI result uses.
pub fn format_mac(mac: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    )
}

/// Converts a kernel link-layer address attribute to an Ethernet address;
/// other lengths (loopback has none, tunnels have 4 or 16 bytes) are `None`.
pub(crate) fn mac_from_slice(bytes: &[u8]) -> Option<[u8; 6]> {
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lower_and_upper_case() {
        assert_eq!(
            parse_mac("0a:1b:2c:3d:4e:5f"),
            Some([0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f])
        );
        assert_eq!(
            parse_mac("0A:1B:2C:3D:4E:5F"),
            Some([0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f])
        );
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "",
            "0a:1b:2c:3d:4e",
            "0a:1b:2c:3d:4e:5f:60",
            "0a-1b-2c-3d-4e-5f",
            "a:1b:2c:3d:4e:5f",
            "0a:1b:2c:3d:4e:5g",
            "0a:1b:2c:3d:4e:5f:",
            "+a:1b:2c:3d:4e:5f",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad:?} should not parse");
        }
    }

    #[test]
    fn formats_lowercase_with_leading_zeros() {
        assert_eq!(
            format_mac(&[0x0a, 0xBB, 0, 0xff, 0x01, 0x10]),
            "0a:bb:00:ff:01:10"
        );
    }

    #[test]
    fn format_then_parse_round_trips() {
        let mac = [0xde, 0xad, 0xbe, 0xef, 0x00, 0x42];
        assert_eq!(parse_mac(&format_mac(&mac)), Some(mac));
    }

    #[test]
    fn only_six_byte_link_addresses_are_macs() {
        assert_eq!(
            mac_from_slice(&[1, 2, 3, 4, 5, 6]),
            Some([1, 2, 3, 4, 5, 6])
        );
        assert_eq!(mac_from_slice(&[]), None);
        assert_eq!(mac_from_slice(&[10, 0, 0, 1]), None);
    }
}

//! Stable short hashes for generated names (chains, interfaces, files).

use sha2::{Digest, Sha256};

const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Characters in the base32 form of a SHA-256 digest (256 bits / 5, rounded up).
pub const MAX_SHORT_HASH_LEN: usize = 52;

/// The first `len` characters of the lowercase, unpadded base32 (RFC 4648
/// alphabet) form of SHA-256(`input`). The same input always gives the same
/// name, on every node and across versions. A digest has only
/// [`MAX_SHORT_HASH_LEN`] characters, so a longer `len` yields all of them.
pub fn short_hash(input: &str, len: usize) -> String {
    let digest = Sha256::digest(input.as_bytes());
    let len = len.min(MAX_SHORT_HASH_LEN);
    let mut out = String::with_capacity(len);
    let mut buffer: u32 = 0;
    let mut buffered_bits = 0;
    for &byte in digest.iter() {
        buffer = (buffer << 8) | u32::from(byte);
        buffered_bits += 8;
        while buffered_bits >= 5 {
            if out.len() == len {
                return out;
            }
            buffered_bits -= 5;
            out.push(BASE32_ALPHABET[((buffer >> buffered_bits) & 31) as usize] as char);
        }
    }
    if buffered_bits > 0 && out.len() < len {
        // The last group is zero-padded on the right, as RFC 4648 specifies.
        out.push(BASE32_ALPHABET[((buffer << (5 - buffered_bits)) & 31) as usize] as char);
    }
    out
}

/// A locally administered unicast MAC derived from a seed: the same for the
/// same seed, so a link re-created under one name keeps its MAC and its
/// peers' neighbour and FDB entries stay right.
pub fn stable_mac(seed: &str) -> [u8; 6] {
    let digest = Sha256::digest(seed.as_bytes());
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&digest[..6]);
    mac[0] = (mac[0] & 0xfe) | 0x02;
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values come from an independent RFC 4648 base32 encoder applied to
    // SHA-256 digests.
    const EMPTY_FULL: &str = "4oymiquy7qobjgx36tejs35zeqt24qpemsnzgtfeswmrw6csxbkq";
    const ABC_FULL: &str = "xj4bnp4pahh6uqkbidpf3lrceoyagyndsylxvhfucd7wd4qacwwq";

    #[test]
    fn the_full_hash_matches_reference_vectors() {
        assert_eq!(short_hash("", MAX_SHORT_HASH_LEN), EMPTY_FULL);
        assert_eq!(short_hash("abc", MAX_SHORT_HASH_LEN), ABC_FULL);
    }

    #[test]
    fn short_hashes_are_prefixes_of_the_full_hash() {
        for len in 0..=MAX_SHORT_HASH_LEN {
            assert_eq!(short_hash("abc", len), &ABC_FULL[..len]);
        }
    }

    #[test]
    fn kube_proxy_style_chain_names_match() {
        // kube-proxy names the chain of service ns1/svc1 port 80/TCP "service-ULMVA6XW-ns1/svc1/tcp/p80".
        assert_eq!(short_hash("ns1/svc1/tcp/p80", 8), "ulmva6xw");
    }

    #[test]
    fn lengths_past_the_digest_give_the_whole_digest() {
        assert_eq!(short_hash("abc", 100), ABC_FULL);
        assert_eq!(short_hash("abc", usize::MAX), ABC_FULL);
    }

    #[test]
    fn output_uses_only_the_lowercase_alphabet_and_differs_by_input() {
        let a = short_hash("podnet/pod-a", 16);
        let b = short_hash("podnet/pod-b", 16);
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| BASE32_ALPHABET.contains(&c)), "{a}");
        assert_ne!(a, b);
        assert_eq!(short_hash("podnet/pod-a", 16), a);
    }
}

//! The short hashes workload controllers put in names and labels:
//! `pod-template-hash` of a Deployment's ReplicaSets and the
//! `controller-revision-hash` of a StatefulSet's pods.
//!
//! Kubernetes hashes a template with 32-bit FNV-1a, mixes in the owner's
//! collisionCount, and writes the decimal number with its "safe" alphabet
//! (no vowels, no look-alike characters), so the values look alike here:
//! `7d4b9c8f5`. The bytes hashed are the template's JSON form, which is
//! stable for one template; a different podnet version hashing differently
//! starts no rollout, because a Deployment finds its current ReplicaSet by
//! comparing templates, not hashes.

use k8s_openapi::api::core::v1::PodTemplateSpec;

/// The characters a hash is written with: Kubernetes' rand.SafeEncodeString alphabet.
const SAFE_ALPHABET: &[u8; 27] = b"bcdfghjklmnpqrstvwxz2456789";

const FNV32_OFFSET_BASIS: u32 = 0x811c_9dc5;
const FNV32_PRIME: u32 = 0x0100_0193;

fn fnv32a(chunks: &[&[u8]]) -> u32 {
    let mut hash = FNV32_OFFSET_BASIS;
    for chunk in chunks {
        for &byte in *chunk {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(FNV32_PRIME);
        }
    }
    hash
}

/// Each character of `text` mapped onto the safe alphabet.
fn safe_encode(text: &str) -> String {
    text.bytes()
        .map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// The hash of `data` with `collision_count` mixed in, as the safe-encoded
/// decimal form of a 32-bit FNV-1a sum. A raised collision count gives
/// another name for the same data.
pub fn hash_with_collisions(data: &[u8], collision_count: Option<i32>) -> String {
    let sum = match collision_count {
        // Kubernetes appends the count as 8 little-endian bytes, the upper
        // four zero.
        Some(count) => {
            let mut bytes = [0u8; 8];
            bytes[..4].copy_from_slice(&(count as u32).to_le_bytes());
            fnv32a(&[data, &bytes])
        }
        None => fnv32a(&[data]),
    };
    safe_encode(&sum.to_string())
}

/// The `pod-template-hash` of a pod template.
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let bytes = serde_json::to_vec(template).expect("a PodTemplateSpec always serializes");
    hash_with_collisions(&bytes, collision_count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn fnv32a_matches_reference_vectors() {
        // Published FNV-1a 32-bit test vectors.
        assert_eq!(fnv32a(&[b""]), 0x811c9dc5);
        assert_eq!(fnv32a(&[b"a"]), 0xe40c292c);
        assert_eq!(fnv32a(&[b"foobar"]), 0xbf9cf968);
        assert_eq!(fnv32a(&[b"foo", b"bar"]), 0xbf9cf968);
    }

    #[test]
    fn safe_encoding_maps_digits_like_kubernetes() {
        assert_eq!(safe_encode("0123456789"), "456789bcdf");
    }

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "web".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn template_hashes_are_stable_and_differ_by_template_and_collision_count() {
        let a = pod_template_hash(&template("nginx:1"), None);
        assert_eq!(a, pod_template_hash(&template("nginx:1"), None));
        assert!(!a.is_empty() && a.len() <= 10, "{a}");
        assert!(a.bytes().all(|c| SAFE_ALPHABET.contains(&c)), "{a}");
        assert_ne!(a, pod_template_hash(&template("nginx:2"), None));
        assert_ne!(
            pod_template_hash(&template("nginx:1"), Some(0)),
            pod_template_hash(&template("nginx:1"), Some(1))
        );
    }
}

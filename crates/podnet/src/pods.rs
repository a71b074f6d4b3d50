//! Where the kubelet part of a node keeps a pod's pieces on the host, for the
//! commands that look at pods from outside their node (`exec`, `logs`, the demo).

use std::path::PathBuf;

/// The pod's network namespace.
pub fn netns_path(_node: &str, uid: &str) -> PathBuf {
    PathBuf::from("/run/netns").join(format!(
        "podnet-pod-{}",
        podnet_model::hash::short_hash(uid, 10)
    ))
}

/// The current log of one of the pod's containers.
pub fn log_path(node: &str, uid: &str, container: &str) -> PathBuf {
    crate::cluster::kubelet_dir(node)
        .join("pods")
        .join(uid)
        .join("logs")
        .join(format!("{container}.log"))
}

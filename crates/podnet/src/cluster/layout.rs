//! Where a `podnet up` cluster keeps its files. Everything podnet writes on the
//! host lives under these two roots, which is what lets `podnet down` remove all
//! of it.

use std::path::PathBuf;

/// Persistent state: API server data, kubeconfigs, per-node state, logs.
pub const STATE_ROOT: &str = "/var/lib/podnet";
/// Runtime state: pid files and mount points; gone at reboot anyway.
pub const RUN_ROOT: &str = "/run/podnet";

pub fn kubeconfig() -> PathBuf {
    PathBuf::from(STATE_ROOT).join("kubeconfig")
}

pub fn apiserver_dir() -> PathBuf {
    PathBuf::from(STATE_ROOT).join("apiserver")
}

/// The options of the running cluster, so that a second `up` and `status` know them.
pub fn cluster_file() -> PathBuf {
    PathBuf::from(STATE_ROOT).join("cluster.json")
}

pub fn logs_dir() -> PathBuf {
    PathBuf::from(STATE_ROOT).join("logs")
}

pub fn node_dir(node: &str) -> PathBuf {
    PathBuf::from(STATE_ROOT).join("nodes").join(node)
}

pub fn node_kubeconfig(node: &str) -> PathBuf {
    node_dir(node).join("kubeconfig")
}

pub fn node_run_dir(node: &str) -> PathBuf {
    PathBuf::from(RUN_ROOT).join("nodes").join(node)
}

pub fn pid_file(name: &str) -> PathBuf {
    PathBuf::from(RUN_ROOT)
        .join("pids")
        .join(format!("{name}.pid"))
}

pub fn log_file(name: &str) -> PathBuf {
    logs_dir().join(format!("{name}.log"))
}

/// Everything `up` writes, for `down` to remove: the whole runtime root and
/// the cluster's entries of the state root.
pub fn cluster_files() -> Vec<PathBuf> {
    let state = PathBuf::from(STATE_ROOT);
    vec![
        PathBuf::from(RUN_ROOT),
        apiserver_dir(),
        state.join("nodes"),
        logs_dir(),
        state.join("lab"),
        kubeconfig(),
        cluster_file(),
        cluster_file().with_extension("tmp"),
    ]
}

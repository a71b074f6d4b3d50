use std::io;
use std::path::PathBuf;

/// Everything that stops a benchmark run. Each names the object it concerns.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Namespaces and plugins need root.
    #[error("cni-bench must run as root (it creates network namespaces and runs CNI plugins)")]
    NotRoot,

    /// A command-line value that makes no sense.
    #[error("invalid --{option}: {reason}")]
    InvalidOption {
        option: &'static str,
        reason: String,
    },

    /// A plugin binary the benchmark needs is not there.
    #[error("{what} not found at {}", path.display())]
    MissingBinary { what: String, path: PathBuf },

    /// A set-up command (`ip netns ...`) failed.
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },

    /// Joining or leaving a network namespace failed.
    #[error("switching to network namespace {namespace}: {source}")]
    Setns {
        namespace: String,
        source: io::Error,
    },

    /// IPv4 forwarding could not be switched on in the node namespace.
    #[error("enabling ip_forward in network namespace {namespace}: {source}")]
    Forwarding {
        namespace: String,
        source: io::Error,
    },

    /// A measurement produced no samples (its loop never ran).
    #[error("no samples for {what}")]
    NoSamples { what: String },

    /// The temp dir for IPAM state could not be made.
    #[error("creating the IPAM data dir: {0}")]
    TempDir(io::Error),

    /// A plugin process could not be started or waited for.
    #[error("{plugin} {command} for {container_id}: running {}: {source}", binary.display())]
    PluginSpawn {
        plugin: String,
        command: &'static str,
        container_id: String,
        binary: PathBuf,
        source: io::Error,
    },

    /// A plugin exited non-zero; stdout holds its CNI error.
    #[error("{plugin} {command} for {container_id} failed with exit code {code}: stdout {stdout:?}, stderr {stderr:?}")]
    PluginFailed {
        plugin: String,
        command: &'static str,
        container_id: String,
        code: i32,
        stdout: String,
        stderr: String,
    },

    /// An ADD succeeded without printing a JSON result.
    #[error("{plugin} ADD for {container_id} printed no JSON result: {stdout:?}")]
    PluginResult {
        plugin: String,
        container_id: String,
        stdout: String,
    },

    /// SIGINT or SIGTERM arrived; the run stops and cleans up.
    #[error("interrupted")]
    Interrupted,
}

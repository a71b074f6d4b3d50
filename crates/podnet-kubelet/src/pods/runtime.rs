//! What the pod worker needs from the node's container runtime: sandboxes
//! (the pod's namespaces and network), container processes and exec.
//!
//! Every method blocks (processes, files, CNI plugins); the worker calls
//! them through `tokio::task::spawn_blocking`. All of them are idempotent
//! per pod uid and container name, so a worker may repeat a call after an
//! error or a restart of the agent.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// A host port published by a pod, passed to the CNI plugins as the
/// `portMappings` capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`, lower case as CNI's portmap wants it.
    pub protocol: String,
    pub host_ip: Option<IpAddr>,
}

/// What a pod's sandbox is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    /// The pod's hostname (spec.hostname or the pod name, at most 63 characters).
    pub hostname: String,
    /// `<hostname>.<subdomain>.<namespace>.svc.<cluster domain>` when the pod
    /// has a subdomain: the hosts file names the pod IP with it.
    pub fqdn: Option<String>,
    pub host_network: bool,
    /// The whole /etc/resolv.conf of the pod.
    pub resolv_conf: String,
    /// hostAliases: extra /etc/hosts lines.
    pub extra_hosts: Vec<(IpAddr, Vec<String>)>,
    pub port_mappings: Vec<PortMapping>,
}

/// A sandbox that exists on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    pub uid: String,
    pub netns: PathBuf,
    pub ips: Vec<IpAddr>,
    pub created_at: SystemTime,
}

/// One process to run in a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    /// The program and its arguments: the container's command followed by its
    /// args, with `$(VAR)` references already expanded.
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<PathBuf>,
}

/// A container's process as the runtime last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    Running {
        pid: u32,
        started_at: SystemTime,
    },
    Exited {
        exit_code: i32,
        signal: Option<i32>,
        started_at: SystemTime,
        finished_at: SystemTime,
        /// `Completed`, `Error`, `OOMKilled`, ... as Kubernetes names them.
        reason: String,
    },
    /// Never started in this sandbox (or its record is gone).
    Missing,
}

/// The result of a command run in a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The command ran out of time and was killed.
    pub timed_out: bool,
}

/// The node's container runtime as the pod worker uses it.
pub trait PodRuntime: Send + Sync + 'static {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Creates the sandbox of `spec.uid`, or returns the one that exists.
    fn create_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox, Self::Error>;
    /// Kills what is left in the sandbox, releases its network (CNI DEL) and
    /// removes it; nothing to do when it does not exist.
    fn remove_sandbox(&self, uid: &str) -> Result<(), Self::Error>;
    /// Every sandbox on the node, read from disk (adoption after a restart).
    fn sandboxes(&self) -> Result<Vec<Sandbox>, Self::Error>;
    /// Starts a container (again, when it exited before).
    fn start_container(
        &self,
        uid: &str,
        spec: &ContainerSpec,
    ) -> Result<ContainerState, Self::Error>;
    fn container_state(&self, uid: &str, name: &str) -> Result<ContainerState, Self::Error>;
    /// SIGTERM to the container's process group, up to `grace` to exit, then SIGKILL.
    fn stop_container(&self, uid: &str, name: &str, grace: Duration) -> Result<(), Self::Error>;
    /// Runs `argv` in the sandbox's namespaces, killed after `timeout`.
    fn exec(
        &self,
        uid: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, Self::Error>;
    /// Removes the sandboxes of pods not in `live_uids` and stale CNI attachments.
    fn garbage_collect(&self, live_uids: &HashSet<String>) -> Result<(), Self::Error>;
}

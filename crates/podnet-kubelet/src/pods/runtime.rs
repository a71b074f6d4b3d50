//! What the pod worker needs from the node's container runtime: sandboxes
//! (the pod's namespaces and network), container processes and exec.
//!
//! Every method blocks (processes, files, CNI plugins); the worker calls
//! them through `tokio::task::spawn_blocking`. All of them are idempotent
//! per pod uid and container name, so a worker may repeat a call after an
//! error or a restart of the agent.

use std::collections::HashSet;
use std::time::Duration;

pub use crate::runtime::{
    ContainerSpec, ContainerState, ExecOutput, PortMapping, Sandbox, SandboxSpec,
};

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
    /// Runs `argv` in the sandbox's namespaces with container `name`'s
    /// environment and working directory, killed after `timeout`.
    fn exec(
        &self,
        uid: &str,
        name: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, Self::Error>;
    /// Removes the sandboxes of pods not in `live_uids` and stale CNI attachments.
    fn garbage_collect(&self, live_uids: &HashSet<String>) -> Result<(), Self::Error>;
}

/// The node's own runtime: every method forwards to [`crate::runtime::Runtime`].
impl PodRuntime for crate::runtime::Runtime {
    type Error = crate::runtime::RuntimeError;

    fn create_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox, Self::Error> {
        crate::runtime::Runtime::create_sandbox(self, spec)
    }
    fn remove_sandbox(&self, uid: &str) -> Result<(), Self::Error> {
        crate::runtime::Runtime::remove_sandbox(self, uid)
    }
    fn sandboxes(&self) -> Result<Vec<Sandbox>, Self::Error> {
        crate::runtime::Runtime::sandboxes(self)
    }
    fn start_container(
        &self,
        uid: &str,
        spec: &ContainerSpec,
    ) -> Result<ContainerState, Self::Error> {
        crate::runtime::Runtime::start_container(self, uid, spec)
    }
    fn container_state(&self, uid: &str, name: &str) -> Result<ContainerState, Self::Error> {
        crate::runtime::Runtime::container_state(self, uid, name)
    }
    fn stop_container(&self, uid: &str, name: &str, grace: Duration) -> Result<(), Self::Error> {
        crate::runtime::Runtime::stop_container(self, uid, name, grace)
    }
    fn exec(
        &self,
        uid: &str,
        name: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, Self::Error> {
        crate::runtime::Runtime::exec_in_container(self, uid, name, argv, timeout)
    }
    fn garbage_collect(&self, live_uids: &HashSet<String>) -> Result<(), Self::Error> {
        crate::runtime::Runtime::garbage_collect(self, live_uids)
    }
}

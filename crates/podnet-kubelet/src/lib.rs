//! The kubelet part of a podnet node agent.
//!
//! - [`runtime`]: the container runtime layer: pod sandboxes (network, mount and
//!   UTS namespaces), CNI invocation as libcni does it, container processes under a
//!   shim that outlives the agent, exec, adoption after a restart.
//! - [`pods`], [`probe`], [`status`]: the pod worker on top of the runtime.

pub mod pods;
pub mod probe;
pub mod runtime;
pub mod status;

//! podnet's kubelet part: for the pods bound to one node, the sandbox, the
//! containers as processes, probes, pod status, deletion and adoption after
//! a restart, all driven through the Kubernetes API.

pub mod pods;
pub mod probe;
pub mod status;

//! podnet's cluster controllers. Each one works through the Kubernetes API
//! only (kube-rs watches and writes), computes what it wants from what it
//! sees with pure functions tested without a server, and is started by its
//! module's `run`.

pub mod endpointslice;
pub mod error;
pub mod events;
pub mod load_balancer;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod scheduler;
pub mod watch;

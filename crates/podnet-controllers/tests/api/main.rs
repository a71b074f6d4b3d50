//! The controllers against a real podnet API server in this process,
//! through kube-rs, as they run in a cluster.

mod support;

mod endpointslice;
mod load_balancer;
mod node_ipam;
mod node_lifecycle;
mod scheduler;

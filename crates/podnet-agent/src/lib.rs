//! The node part of podnet's per-node agent.
//!
//! One [`NodeAgent`] per node: it registers the Node and keeps its Lease
//! and status (Ready once the node has a pod CIDR, its CNI config is written
//! and its routes are in place), writes the node's CNI config for
//! podnet-cni, routes pod traffic to the other nodes (host-gw routes or a
//! VXLAN overlay) and keeps the node's masquerade table `inet podnet-node`.
//! Everything it decides is computed by pure functions from the Node list
//! ([`routing::compile`], [`masquerade::table`], [`conflist::render`],
//! [`status::node_status`]); [`dataplane::Dataplane`] applies it.

pub mod agent;
pub mod config;
pub mod conflist;
pub mod dataplane;
pub mod error;
pub mod host;
pub mod lease;
pub mod masquerade;
pub mod routing;
pub mod services;
pub mod status;

pub use agent::{run, ConflistReady, NodeAgent};
pub use config::{conflist_path, CniPlugins, NodeAgentConfig, Routing};
pub use dataplane::{Dataplane, KernelDataplane};
pub use error::AgentError;

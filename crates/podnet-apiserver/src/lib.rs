//! podnet's Kubernetes API server.
//!
//! Serves the subset of the Kubernetes REST API that podnet's components,
//! kubectl and kube-rs use, over a revisioned store ([`podnet_store::Store`]):
//! discovery and OpenAPI, CRUD with patch, list and watch with selectors,
//! validation and defaulting, ClusterIP and NodePort allocation, namespace
//! lifecycle and garbage collection, over HTTPS with bearer tokens.

pub mod defaults;
pub mod resources;
pub mod status;
pub mod validation;

//! podnet's Kubernetes API server.
//!
//! Serves the subset of the Kubernetes REST API that podnet's components,
//! kubectl and kube-rs use, over a revisioned store ([`podnet_store::Store`]):
//! discovery and OpenAPI, CRUD with patch, list and watch with selectors,
//! validation and defaulting, ClusterIP and NodePort allocation, namespace
//! lifecycle and garbage collection, over HTTPS with bearer tokens.

pub mod openapi;
pub mod patch;
pub mod resources;
pub mod schema;
pub mod status;

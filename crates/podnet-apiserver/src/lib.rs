//! podnet's Kubernetes API server.
//!
//! Serves the subset of the Kubernetes REST API that podnet's components,
//! kubectl and kube-rs use, over a revisioned store ([`podnet_store::Store`]):
//! discovery and OpenAPI, CRUD with patch, list and watch with selectors,
//! validation and defaulting, ClusterIP and NodePort allocation, namespace
//! lifecycle and garbage collection, over HTTPS with bearer tokens.

pub mod alloc;
pub mod auth;
pub mod controllers;
pub mod defaults;
pub mod discovery;
pub mod fields;
mod files;
pub mod filter;
pub mod http;
pub mod listener;
pub mod object;
pub mod openapi;
pub mod patch;
pub mod pki;
pub mod protobuf;
pub mod registry;
pub mod resources;
pub mod schema;
pub mod server;
pub mod status;
pub mod table;
pub mod typed;
pub mod validation;
pub mod watch;

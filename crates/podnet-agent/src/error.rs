//! Errors of the agent, each naming what was being done.

/// Why the agent stopped or a step of it failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The settings cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A request to the API server failed.
    #[error("{context}: {source}")]
    Api {
        context: String,
        #[source]
        source: kube::Error,
    },
    /// A kernel change or read failed.
    #[error("{context}: {source}")]
    Netlink {
        context: String,
        #[source]
        source: podnet_netlink::Error,
    },
    /// The node's nftables table could not be applied.
    #[error("{context}: {source}")]
    Nft {
        context: String,
        #[source]
        source: podnet_nft::Error,
    },
    /// The service proxy's rules could not be applied.
    #[error("{context}: {source}")]
    Proxy {
        context: String,
        #[source]
        source: podnet_proxy::Error,
    },
    /// A file of the node's state could not be read or written.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Several independent kernel objects failed; each is listed.
    #[error("{} of the node's network objects failed: {}", .0.len(), .0.join("; "))]
    Objects(Vec<String>),
    /// A blocking task of the agent panicked or was cancelled.
    #[error("{context}: {message}")]
    Task { context: String, message: String },
    /// A watch stream ended, which the watcher never does while it can retry.
    #[error("the watch of {0} ended")]
    WatchEnded(&'static str),
}

impl AgentError {
    /// A mapper for `map_err` naming the API request.
    pub fn api(context: impl Into<String>) -> impl FnOnce(kube::Error) -> AgentError {
        let context = context.into();
        move |source| AgentError::Api { context, source }
    }

    /// A mapper for `map_err` naming the kernel operation.
    pub fn netlink(context: impl Into<String>) -> impl FnOnce(podnet_netlink::Error) -> AgentError {
        let context = context.into();
        move |source| AgentError::Netlink { context, source }
    }

    /// A mapper for `map_err` naming the file operation.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> AgentError {
        let context = context.into();
        move |source| AgentError::Io { context, source }
    }
}

pub use podnet_controllers::error::{is_conflict, is_not_found};

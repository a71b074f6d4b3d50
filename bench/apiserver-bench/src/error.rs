//! Why a run fails.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("--{option}: {reason}")]
    InvalidOption {
        option: &'static str,
        reason: String,
    },
    #[error("interrupted")]
    Interrupted,
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{context}: {source:#}")]
    Server {
        context: String,
        #[source]
        source: anyhow::Error,
    },
    #[error("starting etcd: {0}")]
    LocalEtcd(#[source] podnet_store::StoreError),
    #[error("{context}: {source}")]
    Kubeconfig {
        context: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("{context}: {source}")]
    Kube {
        context: String,
        #[source]
        source: kube::Error,
    },
    #[error("{context}: {source}")]
    Etcd {
        context: String,
        #[source]
        source: etcd_client::Error,
    },
    #[error("{context}: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{context}: {reason}")]
    Unexpected { context: String, reason: String },
    #[error("a benchmark task ended abnormally: {0}")]
    Task(#[source] tokio::task::JoinError),
}

impl BenchError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
        let context = context.into();
        move |source| BenchError::Io { context, source }
    }

    pub fn kube(context: impl Into<String>) -> impl FnOnce(kube::Error) -> BenchError {
        let context = context.into();
        move |source| BenchError::Kube { context, source }
    }

    pub fn etcd(context: impl Into<String>) -> impl FnOnce(etcd_client::Error) -> BenchError {
        let context = context.into();
        move |source| BenchError::Etcd { context, source }
    }

    pub fn unexpected(context: impl Into<String>, reason: impl Into<String>) -> BenchError {
        BenchError::Unexpected {
            context: context.into(),
            reason: reason.into(),
        }
    }
}

impl From<tokio::task::JoinError> for BenchError {
    fn from(error: tokio::task::JoinError) -> Self {
        BenchError::Task(error)
    }
}

//! Errors of the controllers, each with what was being done when it happened.

/// Why a controller step failed.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// A request to the API server failed.
    #[error("{context}: {source}")]
    Api {
        context: String,
        #[source]
        source: kube::Error,
    },
    /// A watch failed; the watcher retries with back-off, this is for the log.
    #[error("watching {resource}: {source}")]
    Watch {
        resource: &'static str,
        #[source]
        source: kube::runtime::watcher::Error,
    },
    /// A watch stream ended, which the watcher never does while it can retry.
    #[error("the watch of {resource} ended")]
    WatchEnded { resource: &'static str },
    /// The controller's settings cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The local cache has not yet seen the controller's own last writes;
    /// acting on it would undo or duplicate them, so the work is retried.
    #[error("{0}: the local cache has not caught up with this controller's writes yet")]
    StaleCache(String),
}

impl ControllerError {
    /// A mapper for `map_err` naming what was being done.
    pub fn api(context: impl Into<String>) -> impl FnOnce(kube::Error) -> ControllerError {
        let context = context.into();
        move |source| ControllerError::Api { context, source }
    }
}

/// Whether the API server answered 404 Not Found.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_not_found())
}

/// Whether the API server answered 409 Conflict (a stale resourceVersion or an existing name).
pub fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_conflict() || status.is_already_exists())
}

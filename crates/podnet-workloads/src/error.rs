//! Errors of the pure plans and of the reconcile loops.

use podnet_model::selector::SelectorError;

/// Why a plan could not be made from the objects as they are. These mean
/// the object is malformed in a way the API server's validation should
/// have refused, so the loop reports them and waits for a change.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// `object` names the kind too: "ReplicaSet default/web-5d8f7".
    #[error("{object}: {field} is missing")]
    MissingField { object: String, field: &'static str },
    #[error("{object}: invalid label selector: {source}")]
    InvalidSelector {
        object: String,
        #[source]
        source: SelectorError,
    },
    #[error("{field}: invalid value for IntOrString: {value:?} is not an integer or a percentage")]
    InvalidIntOrPercent { field: &'static str, value: String },
    #[error("Deployment {object}: strategy type {strategy:?} isn't supported")]
    UnsupportedStrategy { object: String, strategy: String },
}

/// Why one reconcile of an object failed; the loop retries it with back-off.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("{context}: {source}")]
    Api {
        context: String,
        #[source]
        source: kube::Error,
    },
    /// A write found the object changed since it was read; the next
    /// reconcile starts from the new state.
    #[error("{context}: the object changed since it was read")]
    Conflict { context: String },
    /// The name a new ReplicaSet was to get belongs to a ReplicaSet with
    /// another template; the Deployment's collisionCount has been raised.
    #[error("Deployment {deployment}: hash collision on ReplicaSet {replica_set}")]
    HashCollision {
        deployment: String,
        replica_set: String,
    },
}

impl ReconcileError {
    /// Wraps an API error, keeping conflicts apart: they are expected when
    /// two writers race and only call for a quick retry.
    pub fn api(context: impl Into<String>, source: kube::Error) -> ReconcileError {
        let context = context.into();
        if is_status(&source, 409) {
            ReconcileError::Conflict { context }
        } else {
            ReconcileError::Api { context, source }
        }
    }

    /// True when a quick retry is the right answer (conflicts, collisions).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ReconcileError::Conflict { .. } | ReconcileError::HashCollision { .. }
        )
    }
}

/// True when `error` is an API error Status with HTTP code `code`.
pub fn is_status(error: &kube::Error, code: u16) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == code)
}

/// True when `error` is a 409 whose reason is AlreadyExists (a 409 Conflict
/// is a stale write instead).
pub fn is_already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409 && status.reason == "AlreadyExists")
}

//! What the three reconcile loops share: how writes identify themselves,
//! retry pacing after failures, and running a kube-rs controller stream.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::{self, Action};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::Resource;

use crate::error::ReconcileError;

/// The field manager the controllers' writes carry.
pub const FIELD_MANAGER: &str = "podnet-workloads";

pub fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

pub fn merge_patch(patch: &serde_json::Value) -> (PatchParams, Patch<&serde_json::Value>) {
    (
        PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        },
        Patch::Merge(patch),
    )
}

/// A deletion that only removes the object with this uid, not a newer
/// object that took the same name.
pub fn delete_params(uid: &str) -> DeleteParams {
    DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..Default::default()
    }
}

/// The first retry comes after this; each further failure doubles it.
const FIRST_RETRY: Duration = Duration::from_millis(10);
/// Retries of failing objects never wait longer than this.
const LONGEST_RETRY: Duration = Duration::from_secs(60);

/// Per-object exponential back-off, as Kubernetes' controller work queues
/// pace failing items: a conflict retries almost at once, an object that
/// keeps failing waits up to a minute.
#[derive(Default)]
pub struct Retries {
    failures: Mutex<HashMap<String, u32>>,
}

impl Retries {
    fn key<K: Resource<DynamicType = ()>>(object: &K) -> String {
        let meta = object.meta();
        format!(
            "{}/{}",
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or("")
        )
    }

    pub fn succeeded<K: Resource<DynamicType = ()>>(&self, object: &K) {
        self.lock().remove(&Self::key(object));
    }

    /// The requeue after one more failure of `object`.
    pub fn failed<K: Resource<DynamicType = ()>>(
        &self,
        object: &K,
        error: &ReconcileError,
    ) -> Action {
        let mut failures = self.lock();
        let count = failures.entry(Self::key(object)).or_insert(0);
        *count = count.saturating_add(1);
        let delay = FIRST_RETRY
            .saturating_mul(1u32 << (*count - 1).min(16))
            .min(LONGEST_RETRY);
        if error.is_transient() {
            tracing::debug!(object = %Self::key(object), %error, ?delay, "retrying");
        } else {
            tracing::warn!(object = %Self::key(object), %error, ?delay, "reconcile failed");
        }
        Action::requeue(delay)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // A panic while holding the lock leaves counts that are still valid.
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a reconcile returns when it has nothing to wait for but changes.
pub fn requeue(after: Option<Duration>) -> Action {
    match after {
        Some(after) => Action::requeue(after),
        None => Action::await_change(),
    }
}

/// Drives a controller's stream to its end. Reconcile failures are logged
/// by the retry policy; watch failures (the watcher retries them) here.
pub async fn drive<K: Resource>(
    name: &'static str,
    stream: impl Stream<
        Item = Result<(ObjectRef<K>, Action), controller::Error<ReconcileError, watcher::Error>>,
    >,
) {
    stream
        .for_each(|result| async move {
            match result {
                Ok(_) | Err(controller::Error::ReconcilerFailed(..)) => {}
                Err(controller::Error::ObjectNotFound(object)) => {
                    tracing::debug!(controller = name, %object, "object gone before its reconcile");
                }
                Err(error) => tracing::warn!(controller = name, %error, "watch failed"),
            }
        })
        .await;
    tracing::info!(controller = name, "controller stopped");
}

//! What the three reconcile loops share: how writes identify themselves,
//! retry pacing after failures, and running a kube-rs controller.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::{self, Action};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, Resource};

use crate::error::{is_status, ReconcileError};
use crate::owners::{self, ChildPatch};

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
fn delete_params(uid: &str) -> DeleteParams {
    DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        }),
        ..Default::default()
    }
}

/// Applies `change` to an owned object. One that went away needs no change.
pub async fn patch_child<K>(api: &Api<K>, change: &ChildPatch) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let (params, patch) = merge_patch(&change.patch);
    match api.patch(&change.name, &params, &patch).await {
        Err(e) if !is_status(&e, 404) => Err(e),
        _ => Ok(()),
    }
}

/// Deletes the owned object `name` if it still has `uid`. One that is gone
/// already, or replaced by another object of that name, needs nothing.
pub async fn delete_child<K>(api: &Api<K>, name: &str, uid: &str) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &delete_params(uid)).await {
        Err(e) if !(is_status(&e, 404) || is_status(&e, 409)) => Err(e),
        _ => Ok(()),
    }
}

/// Which `K` a change of `child` concerns when `child` has a controller:
/// that controller if it is a `K`, none otherwise. `None` for an orphan,
/// whose candidates each loop finds its own way.
pub fn controlling<K>(child: &ObjectMeta) -> Option<Vec<ObjectRef<K>>>
where
    K: Resource<DynamicType = ()>,
{
    let reference = owners::controller_of(child)?;
    let is_k = reference.kind == K::kind(&()) && reference.api_version == K::api_version(&());
    Some(if is_k {
        vec![ObjectRef::new(&reference.name).within(child.namespace.as_deref().unwrap_or(""))]
    } else {
        Vec::new()
    })
}

/// The first retry comes after this; each further failure doubles it.
const FIRST_RETRY: Duration = Duration::from_millis(10);
/// Retries of failing objects never wait longer than this.
const LONGEST_RETRY: Duration = Duration::from_secs(60);

/// Per-object exponential back-off, as Kubernetes' controller work queues
/// pace failing items: a conflict retries almost at once, an object that
/// keeps failing waits up to a minute.
#[derive(Default)]
struct Retries {
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

    fn succeeded<K: Resource<DynamicType = ()>>(&self, object: &K) {
        self.lock().remove(&Self::key(object));
    }

    /// The requeue after one more failure of `object`.
    fn failed<K: Resource<DynamicType = ()>>(&self, object: &K, error: &ReconcileError) -> Action {
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

/// What each reconcile gets besides its object.
pub struct Context {
    /// For the reconcile's fresh reads and its writes.
    pub client: Client,
    retries: Retries,
}

/// Runs `controller` until its watches end (they retry on their own, so in
/// practice until the task is dropped), retrying each object that fails
/// with back-off.
pub async fn run<K, F, Fut>(
    name: &'static str,
    controller: Controller<K>,
    client: Client,
    mut reconcile: F,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: FnMut(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, ReconcileError>> + Send + 'static,
{
    let context = Arc::new(Context {
        client,
        retries: Retries::default(),
    });
    let stream = controller.run(
        move |object, context: Arc<Context>| {
            let reconciled = reconcile(object.clone(), context.clone());
            async move {
                let result = reconciled.await;
                if result.is_ok() {
                    context.retries.succeeded(object.as_ref());
                }
                result
            }
        },
        |object, error, context: Arc<Context>| context.retries.failed(object.as_ref(), error),
        context,
    );
    drive(name, stream).await;
}

/// Drives a controller's stream to its end. Reconcile failures are logged
/// by the retry policy; watch failures (the watcher retries them) here.
async fn drive<K: Resource>(
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

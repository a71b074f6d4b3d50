//! The StatefulSet reconcile loop: watches StatefulSets and pods, reads
//! the StatefulSet and its namespace's pods fresh, and carries out the plan.

use std::sync::Arc;

use futures_util::future::join_all;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, ResourceExt};

use super::plan::{self, PodWrite, StatefulSetPlan};
use crate::error::ReconcileError;
use crate::owners;
use crate::pods;
use crate::runtime::{self, Context};

/// Runs the StatefulSet controller until the watches end (they retry on
/// their own, so in practice until the task is dropped).
pub async fn run(client: Client) {
    let controller = Controller::new(
        Api::<StatefulSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let sets = controller.store();
    let controller = controller.watches(
        Api::<Pod>::all(client.clone()),
        watcher::Config::default(),
        move |pod| sets_of_pod(&sets, &pod),
    );
    runtime::run("statefulset", controller, client, reconcile).await;
}

/// A pod change concerns its controlling StatefulSet, or for an orphan
/// named like a member the set of that name when its selector matches.
fn sets_of_pod(store: &Store<StatefulSet>, pod: &Pod) -> Vec<ObjectRef<StatefulSet>> {
    if let Some(controlling) = runtime::controlling(&pod.metadata) {
        return controlling;
    }
    let namespace = pod.namespace().unwrap_or_default();
    let Some((parent, _)) = plan::parent_and_ordinal(pod.metadata.name.as_deref().unwrap_or(""))
    else {
        return Vec::new();
    };
    store
        .get(&ObjectRef::new(parent).within(&namespace))
        .filter(|set| {
            set.spec
                .as_ref()
                .and_then(|spec| owners::selector_of(set.as_ref(), &spec.selector).ok())
                .is_some_and(|selector| selector.matches(pods::labels(&pod.metadata)))
        })
        .map(|set| ObjectRef::from_obj(set.as_ref()))
        .into_iter()
        .collect()
}

async fn reconcile(
    cached: Arc<StatefulSet>,
    context: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let namespace = cached.namespace().unwrap_or_default();
    let name = cached.name_any();
    let sets: Api<StatefulSet> = Api::namespaced(context.client.clone(), &namespace);
    let pods_api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    // Fresh reads: OrderedReady must never create a pod twice or miss that
    // a predecessor stopped being Ready.
    let Some(set) = sets
        .get_opt(&name)
        .await
        .map_err(|e| ReconcileError::api(format!("reading StatefulSet {namespace}/{name}"), e))?
    else {
        return Ok(Action::await_change());
    };
    let pods = pods_api
        .list(&ListParams::default())
        .await
        .map_err(|e| ReconcileError::api(format!("listing pods in {namespace}"), e))?;
    let plan = plan::plan(&set, &pods.items, Timestamp::now())?;
    let written = execute(&set, &plan, &pods_api).await;
    // The status is recorded even when a pod write failed, as Kubernetes does.
    if let Some(status) = &plan.status {
        write_status(&set, status.clone(), &sets).await?;
    }
    written?;
    Ok(runtime::requeue(plan.requeue_after))
}

async fn execute(
    set: &StatefulSet,
    plan: &StatefulSetPlan,
    pods_api: &Api<Pod>,
) -> Result<(), ReconcileError> {
    let describe = owners::describe(set);
    let mut creates = Vec::new();
    let mut deletes = Vec::new();
    for write in &plan.writes {
        match write {
            PodWrite::Adopt(change) | PodWrite::Release(change) | PodWrite::Relabel(change) => {
                runtime::patch_child(pods_api, change).await.map_err(|e| {
                    ReconcileError::api(format!("{describe}: patching pod {}", change.name), e)
                })?;
            }
            PodWrite::Create(pod) => creates.push(pod.as_ref()),
            PodWrite::Delete { name, uid } => deletes.push((name, uid)),
        }
    }
    // In OrderedReady a plan holds at most one create or delete; Parallel
    // ones go out together.
    let params = runtime::post_params();
    let created = join_all(creates.iter().map(|pod| pods_api.create(&params, pod))).await;
    for (pod, result) in creates.iter().zip(created) {
        if let Err(e) = result {
            return Err(ReconcileError::api(
                format!("{describe}: creating pod {}", pod.name_any()),
                e,
            ));
        }
    }
    let deleted = join_all(
        deletes
            .iter()
            .map(|(name, uid)| runtime::delete_child(pods_api, name, uid)),
    )
    .await;
    for ((name, _), result) in deletes.iter().zip(deleted) {
        result.map_err(|e| ReconcileError::api(format!("{describe}: deleting pod {name}"), e))?;
    }
    Ok(())
}

async fn write_status(
    set: &StatefulSet,
    status: StatefulSetStatus,
    sets: &Api<StatefulSet>,
) -> Result<(), ReconcileError> {
    let mut updated = set.clone();
    updated.status = Some(status);
    // A replace, not a merge patch: counts that dropped to zero are left
    // out of the status and must disappear from the stored one.
    sets.replace_status(&set.name_any(), &runtime::post_params(), &updated)
        .await
        .map_err(|e| {
            ReconcileError::api(format!("{}: writing status", owners::describe(set)), e)
        })?;
    Ok(())
}

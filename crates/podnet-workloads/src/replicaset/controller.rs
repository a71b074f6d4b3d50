//! The ReplicaSet reconcile loop: watches ReplicaSets and pods, reads the
//! ReplicaSet and its namespace's pods fresh from the API server, and
//! carries out the plan.

use std::sync::Arc;

use futures_util::future::join_all;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, ResourceExt};

use super::plan::{self, ReplicaSetPlan};
use crate::error::ReconcileError;
use crate::owners;
use crate::pods;
use crate::runtime::{self, Context};

/// Runs the ReplicaSet controller until the watches end (they retry on
/// their own, so in practice until the task is dropped).
pub async fn run(client: Client) {
    let controller = Controller::new(
        Api::<ReplicaSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let replica_sets = controller.store();
    let controller = controller.watches(
        Api::<Pod>::all(client.clone()),
        watcher::Config::default(),
        move |pod| replica_sets_of_pod(&replica_sets, &pod),
    );
    runtime::run("replicaset", controller, client, reconcile).await;
}

/// The ReplicaSets a pod change concerns: its controller if that is a
/// ReplicaSet, or for an orphan every ReplicaSet of its namespace whose
/// selector matches it (one of them will adopt it).
fn replica_sets_of_pod(store: &Store<ReplicaSet>, pod: &Pod) -> Vec<ObjectRef<ReplicaSet>> {
    if let Some(controlling) = runtime::controlling(&pod.metadata) {
        return controlling;
    }
    if !pods::is_active(pod) {
        return Vec::new();
    }
    let namespace = pod.namespace().unwrap_or_default();
    store
        .state()
        .into_iter()
        .filter(|rs| rs.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|rs| {
            rs.spec
                .as_ref()
                .and_then(|spec| owners::selector_of(rs.as_ref(), &spec.selector).ok())
                .is_some_and(|selector| selector.matches(pods::labels(&pod.metadata)))
        })
        .map(|rs| ObjectRef::from_obj(rs.as_ref()))
        .collect()
}

async fn reconcile(
    cached: Arc<ReplicaSet>,
    context: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let namespace = cached.namespace().unwrap_or_default();
    let name = cached.name_any();
    let replica_sets: Api<ReplicaSet> = Api::namespaced(context.client.clone(), &namespace);
    let pods_api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    // Fresh reads: a plan made from a cache that lags behind this loop's own
    // writes would create or delete twice.
    let Some(rs) = replica_sets
        .get_opt(&name)
        .await
        .map_err(|e| ReconcileError::api(format!("reading ReplicaSet {namespace}/{name}"), e))?
    else {
        return Ok(Action::await_change());
    };
    let pods = pods_api
        .list(&ListParams::default())
        .await
        .map_err(|e| ReconcileError::api(format!("listing pods in {namespace}"), e))?;
    let plan = plan::plan(&rs, &pods.items, Timestamp::now())?;
    execute(&rs, &plan, &replica_sets, &pods_api).await?;
    Ok(runtime::requeue(plan.requeue_after))
}

async fn execute(
    rs: &ReplicaSet,
    plan: &ReplicaSetPlan,
    replica_sets: &Api<ReplicaSet>,
    pods_api: &Api<Pod>,
) -> Result<(), ReconcileError> {
    let describe = owners::describe(rs);
    for change in plan.adopt.iter().chain(&plan.release) {
        runtime::patch_child(pods_api, change).await.map_err(|e| {
            ReconcileError::api(
                format!("{describe}: changing the owners of pod {}", change.name),
                e,
            )
        })?;
    }

    let manage = if plan.create > 0 {
        create_pods(rs, plan.create, pods_api)
            .await
            .map_err(|e| (true, e))
    } else {
        delete_pods(plan, pods_api).await.map_err(|e| (false, e))
    };
    let name = rs.name_any();
    match manage {
        Ok(()) => {
            if let Some(status) = &plan.status {
                write_status(rs, status.clone(), replica_sets).await?;
            }
            Ok(())
        }
        Err((creating, error)) => {
            let base = plan
                .status
                .clone()
                .or_else(|| rs.status.clone())
                .unwrap_or_default();
            let status = plan::with_failure(base, creating, error.to_string(), Timestamp::now());
            if let Err(status_error) = write_status(rs, status, replica_sets).await {
                tracing::warn!(replica_set = %name, error = %status_error, "recording the failure");
            }
            Err(error)
        }
    }
}

async fn write_status(
    rs: &ReplicaSet,
    status: k8s_openapi::api::apps::v1::ReplicaSetStatus,
    replica_sets: &Api<ReplicaSet>,
) -> Result<(), ReconcileError> {
    let mut updated = rs.clone();
    updated.status = Some(status);
    // A replace, not a merge patch: counts that dropped to zero are left
    // out of the status and must disappear from the stored one.
    replica_sets
        .replace_status(&rs.name_any(), &runtime::post_params(), &updated)
        .await
        .map_err(|e| ReconcileError::api(format!("{}: writing status", owners::describe(rs)), e))?;
    Ok(())
}

/// Creates `count` pods in batches of 1, 2, 4, ... as Kubernetes does, so
/// a failure that would hit every pod (quota, a bad template) costs one
/// request and not hundreds.
async fn create_pods(
    rs: &ReplicaSet,
    count: usize,
    pods_api: &Api<Pod>,
) -> Result<(), ReconcileError> {
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .ok_or_else(|| crate::error::PlanError::MissingField {
            object: owners::describe(rs),
            field: "spec.template",
        })?;
    let mut pod = pods::pod_from_template(template, owners::controller_ref(rs)?)?;
    pod.metadata.generate_name = Some(format!("{}-", rs.name_any()));
    let params = runtime::post_params();
    let mut remaining = count;
    let mut batch = 1;
    while remaining > 0 {
        let size = batch.min(remaining);
        let results = join_all((0..size).map(|_| pods_api.create(&params, &pod))).await;
        if let Some(error) = results.into_iter().find_map(Result::err) {
            return Err(ReconcileError::api(
                format!("{}: creating a pod", owners::describe(rs)),
                error,
            ));
        }
        remaining -= size;
        batch *= 2;
    }
    Ok(())
}

async fn delete_pods(plan: &ReplicaSetPlan, pods_api: &Api<Pod>) -> Result<(), ReconcileError> {
    let results = join_all(plan.delete.iter().map(|pod| async move {
        runtime::delete_child(pods_api, &pod.name, &pod.uid)
            .await
            .map_err(|e| ReconcileError::api(format!("deleting pod {}", pod.name), e))
    }))
    .await;
    results.into_iter().collect()
}

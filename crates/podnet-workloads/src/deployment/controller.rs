//! The Deployment reconcile loop: watches Deployments, ReplicaSets and
//! pods, reads the Deployment and its namespace's ReplicaSets fresh, and
//! carries out the plan.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::plan::{self, DeploymentPlan, ReplicaSetWrite, REVISION, STRATEGY_RECREATE};
use crate::error::{is_already_exists, ReconcileError};
use crate::owners;
use crate::pods;
use crate::runtime::{self, Context};

/// Runs the Deployment controller until the watches end (they retry on
/// their own, so in practice until the task is dropped).
pub async fn run(client: Client) {
    let controller = Controller::new(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
    );
    let for_replica_sets = controller.store();
    let for_pods = controller.store();
    let controller = controller
        .watches(
            Api::<ReplicaSet>::all(client.clone()),
            watcher::Config::default(),
            move |rs| deployments_of_replica_set(&for_replica_sets, &rs),
        )
        .watches(
            Api::<Pod>::all(client.clone()),
            watcher::Config::default(),
            move |pod| recreate_deployments_of_pod(&for_pods, &pod),
        );
    runtime::run("deployment", controller, client, reconcile).await;
}

fn selects(deployment: &Deployment, labels: &std::collections::BTreeMap<String, String>) -> bool {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| owners::selector_of(deployment, &spec.selector).ok())
        .is_some_and(|selector| !selector.is_everything() && selector.matches(labels))
}

/// A ReplicaSet change concerns its controlling Deployment, or for an
/// orphan every Deployment of its namespace that selects it.
fn deployments_of_replica_set(
    store: &Store<Deployment>,
    rs: &ReplicaSet,
) -> Vec<ObjectRef<Deployment>> {
    if let Some(controlling) = runtime::controlling(&rs.metadata) {
        return controlling;
    }
    let namespace = rs.namespace().unwrap_or_default();
    store
        .state()
        .into_iter()
        .filter(|d| d.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|d| selects(d, pods::labels(&rs.metadata)))
        .map(|d| ObjectRef::from_obj(d.as_ref()))
        .collect()
}

/// Pods matter to a Deployment only with the Recreate strategy, which
/// waits for the last old pod to be gone; no ReplicaSet changes then.
fn recreate_deployments_of_pod(store: &Store<Deployment>, pod: &Pod) -> Vec<ObjectRef<Deployment>> {
    let namespace = pod.namespace().unwrap_or_default();
    store
        .state()
        .into_iter()
        .filter(|d| d.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|d| is_recreate(d) && selects(d, pods::labels(&pod.metadata)))
        .map(|d| ObjectRef::from_obj(d.as_ref()))
        .collect()
}

fn is_recreate(deployment: &Deployment) -> bool {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some(STRATEGY_RECREATE)
}

async fn reconcile(
    cached: Arc<Deployment>,
    context: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let namespace = cached.namespace().unwrap_or_default();
    let name = cached.name_any();
    let deployments: Api<Deployment> = Api::namespaced(context.client.clone(), &namespace);
    let replica_sets: Api<ReplicaSet> = Api::namespaced(context.client.clone(), &namespace);
    // Fresh reads, so a plan never acts on a state older than this loop's
    // own last writes.
    let Some(deployment) = deployments
        .get_opt(&name)
        .await
        .map_err(|e| ReconcileError::api(format!("reading Deployment {namespace}/{name}"), e))?
    else {
        return Ok(Action::await_change());
    };
    let listed = replica_sets
        .list(&ListParams::default())
        .await
        .map_err(|e| ReconcileError::api(format!("listing ReplicaSets in {namespace}"), e))?;
    let pods = if is_recreate(&deployment) {
        let spec =
            deployment
                .spec
                .as_ref()
                .ok_or_else(|| crate::error::PlanError::MissingField {
                    object: owners::describe(&deployment),
                    field: "spec",
                })?;
        let selector = owners::selector_of(&deployment, &spec.selector)?;
        Api::<Pod>::namespaced(context.client.clone(), &namespace)
            .list(&ListParams::default().labels(&selector.to_string()))
            .await
            .map_err(|e| ReconcileError::api(format!("listing pods in {namespace}"), e))?
            .items
    } else {
        Vec::new()
    };
    let plan = plan::plan(&deployment, &listed.items, &pods, Timestamp::now())?;
    execute(deployment, &plan, &deployments, &replica_sets).await?;
    Ok(runtime::requeue(plan.requeue_after))
}

async fn execute(
    deployment: Deployment,
    plan: &DeploymentPlan,
    deployments: &Api<Deployment>,
    replica_sets: &Api<ReplicaSet>,
) -> Result<(), ReconcileError> {
    let describe = owners::describe(&deployment);
    for write in &plan.writes {
        match write {
            ReplicaSetWrite::Adopt(change) | ReplicaSetWrite::Release(change) => {
                runtime::patch_child(replica_sets, change)
                    .await
                    .map_err(|e| {
                        ReconcileError::api(
                            format!(
                                "{describe}: changing the owners of ReplicaSet {}",
                                change.name
                            ),
                            e,
                        )
                    })?;
            }
            ReplicaSetWrite::Create(rs) => {
                create_replica_set(&deployment, rs, deployments, replica_sets).await?
            }
            ReplicaSetWrite::Update(rs) => {
                let rs_name = rs.name_any();
                replica_sets
                    .replace(&rs_name, &runtime::post_params(), rs)
                    .await
                    .map_err(|e| {
                        ReconcileError::api(format!("{describe}: updating ReplicaSet {rs_name}"), e)
                    })?;
            }
            ReplicaSetWrite::Delete { name, uid } => {
                runtime::delete_child(replica_sets, name, uid)
                    .await
                    .map_err(|e| {
                        ReconcileError::api(
                            format!("{describe}: deleting old ReplicaSet {name}"),
                            e,
                        )
                    })?;
            }
        }
    }

    let mut current = deployment;
    if let Some(revision) = &plan.revision {
        let patch = json!({"metadata": {"annotations": {REVISION: revision}}});
        let (params, patch) = runtime::merge_patch(&patch);
        current = deployments
            .patch(&current.name_any(), &params, &patch)
            .await
            .map_err(|e| {
                ReconcileError::api(format!("{describe}: recording revision {revision}"), e)
            })?;
    }
    if let Some(status) = &plan.status {
        write_status(current, status.clone(), deployments).await?;
    }
    Ok(())
}

async fn create_replica_set(
    deployment: &Deployment,
    rs: &ReplicaSet,
    deployments: &Api<Deployment>,
    replica_sets: &Api<ReplicaSet>,
) -> Result<(), ReconcileError> {
    let describe = owners::describe(deployment);
    let rs_name = rs.name_any();
    let error = match replica_sets.create(&runtime::post_params(), rs).await {
        Ok(_) => return Ok(()),
        Err(error) => error,
    };
    if is_already_exists(&error) {
        let existing = replica_sets.get(&rs_name).await.map_err(|e| {
            ReconcileError::api(format!("{describe}: reading ReplicaSet {rs_name}"), e)
        })?;
        if plan::is_current_replica_set(deployment, &existing) {
            // Ours, made by an earlier pass: start over from what is stored.
            return Err(ReconcileError::Conflict {
                context: format!("{describe}: ReplicaSet {rs_name} exists already"),
            });
        }
        write_status(
            deployment.clone(),
            plan::status_after_collision(deployment),
            deployments,
        )
        .await?;
        return Err(ReconcileError::HashCollision {
            deployment: describe,
            replica_set: rs_name,
        });
    }
    if let Some(status) = plan::status_after_create_failure(
        deployment,
        &rs_name,
        &error.to_string(),
        Timestamp::now(),
    ) {
        if let Err(status_error) = write_status(deployment.clone(), status, deployments).await {
            tracing::warn!(deployment = %describe, error = %status_error, "recording the failure");
        }
    }
    Err(ReconcileError::api(
        format!("{describe}: creating ReplicaSet {rs_name}"),
        error,
    ))
}

async fn write_status(
    mut deployment: Deployment,
    status: DeploymentStatus,
    deployments: &Api<Deployment>,
) -> Result<(), ReconcileError> {
    let describe = owners::describe(&deployment);
    deployment.status = Some(status);
    // A replace, not a merge patch: counts that dropped to zero are left
    // out of the status and must disappear from the stored one.
    deployments
        .replace_status(&deployment.name_any(), &runtime::post_params(), &deployment)
        .await
        .map_err(|e| ReconcileError::api(format!("{describe}: writing status"), e))?;
    Ok(())
}

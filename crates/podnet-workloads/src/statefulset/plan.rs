//! What a StatefulSet controller does next, from the StatefulSet and the
//! pods of its namespace: pods named `<set>-<ordinal>` with a stable
//! hostname and subdomain, created in order (OrderedReady: each only once
//! its predecessors are Running and Ready) or all at once (Parallel),
//! removed from the highest ordinal down, replaced from the highest
//! ordinal down when the template changes (RollingUpdate), and the status
//! to record. The steps are Kubernetes' StatefulSet controller's; pure:
//! the caller supplies the time.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, Pod, Volume};
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use crate::error::PlanError;
use crate::hash;
use crate::owners::{self, ChildPatch, Claim};
use crate::pods;

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
pub const REVISION_LABEL: &str = "controller-revision-hash";

pub const POLICY_ORDERED_READY: &str = "OrderedReady";
pub const POLICY_PARALLEL: &str = "Parallel";
pub const UPDATE_ROLLING: &str = "RollingUpdate";
pub const UPDATE_ON_DELETE: &str = "OnDelete";

/// One write to a pod, in the order the plan makes them.
#[derive(Debug, Clone, PartialEq)]
pub enum PodWrite {
    Adopt(ChildPatch),
    Release(ChildPatch),
    /// A pod for a missing ordinal, named and labelled for it.
    Create(Box<Pod>),
    /// Restores the identity labels of a pod that lost them.
    Relabel(ChildPatch),
    /// Scale-down, a finished pod to be replaced, or an outdated pod in a
    /// rolling update.
    Delete {
        name: String,
        uid: String,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatefulSetPlan {
    pub writes: Vec<PodWrite>,
    /// The status to record, when it differs from the stored one.
    pub status: Option<StatefulSetStatus>,
    /// When a Ready pod becomes available (minReadySeconds), which changes
    /// the status and may unblock the next ordinal without any event.
    pub requeue_after: Option<Duration>,
}

/// The parent name and ordinal a pod's name encodes (`web-2` -> `web`, 2).
pub fn parent_and_ordinal(name: &str) -> Option<(&str, i32)> {
    let (parent, digits) = name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, digits.parse().ok()?))
}

fn spec(set: &StatefulSet) -> Result<&StatefulSetSpec, PlanError> {
    set.spec.as_ref().ok_or_else(|| PlanError::MissingField {
        object: owners::describe(set),
        field: "spec",
    })
}

/// The revision name of the set's current template: `<set>-<hash>`, what
/// its pods carry in the controller-revision-hash label.
pub fn update_revision(set: &StatefulSet) -> Result<String, PlanError> {
    let spec = spec(set)?;
    let collisions = set
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let template = serde_json::to_vec(&spec.template).expect("a PodTemplateSpec always serializes");
    Ok(format!(
        "{}-{}",
        owners::name_of(set)?,
        hash::hash_with_collisions(&template, Some(collisions))
    ))
}

fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get(REVISION_LABEL)
        .map(String::as_str)
}

/// The pod for `ordinal`: the template's pod with the set's identity
/// (name, hostname, subdomain, identity labels), its revision label, and a
/// volume for each claim template, named as Kubernetes names the claims.
pub fn new_pod(set: &StatefulSet, ordinal: i32, revision: &str) -> Result<Pod, PlanError> {
    let spec = spec(set)?;
    let set_name = owners::name_of(set)?;
    let mut pod = pods::pod_from_template(&spec.template, owners::controller_ref(set)?)?;
    let name = format!("{set_name}-{ordinal}");
    pod.metadata.name = Some(name.clone());
    pod.metadata.namespace = set.metadata.namespace.clone();
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(REVISION_LABEL.into(), revision.into());
    let pod_spec = pod.spec.get_or_insert_with(Default::default);
    pod_spec.hostname = Some(name);
    pod_spec.subdomain = spec.service_name.clone().filter(|s| !s.is_empty());
    let claims = spec.volume_claim_templates.iter().flatten();
    let mut volumes: Vec<Volume> = claims
        .clone()
        .map(|claim| {
            let claim_name = claim.metadata.name.clone().unwrap_or_default();
            Volume {
                name: claim_name.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: format!("{claim_name}-{set_name}-{ordinal}"),
                    read_only: None,
                }),
                ..Default::default()
            }
        })
        .collect();
    if !volumes.is_empty() {
        let claim_names: Vec<&str> = claims.filter_map(|c| c.metadata.name.as_deref()).collect();
        volumes.extend(
            pod_spec
                .volumes
                .take()
                .into_iter()
                .flatten()
                .filter(|v| !claim_names.contains(&v.name.as_str())),
        );
        pod_spec.volumes = Some(volumes);
    }
    Ok(pod)
}

/// The identity labels a pod of the set must carry.
fn identity_matches(pod: &Pod, ordinal: i32) -> bool {
    let labels = pods::labels(&pod.metadata);
    labels.get(POD_NAME_LABEL) == pod.metadata.name.as_ref()
        && labels.get(POD_INDEX_LABEL) == Some(&ordinal.to_string())
}

fn relabel(pod: &Pod, ordinal: i32) -> ChildPatch {
    ChildPatch {
        name: pod.metadata.name.clone().unwrap_or_default(),
        patch: json!({"metadata": {
            "resourceVersion": pod.metadata.resource_version,
            "labels": {
                POD_NAME_LABEL: pod.metadata.name,
                POD_INDEX_LABEL: ordinal.to_string(),
            },
        }}),
    }
}

fn delete(pod: &Pod) -> PodWrite {
    PodWrite::Delete {
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
    }
}

/// Not available, or on its way out.
fn is_unavailable(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    !pods::is_available(pod, min_ready_seconds, now) || pods::is_terminating(pod)
}

fn is_finished(pod: &Pod) -> bool {
    matches!(pods::phase(pod), pods::PHASE_FAILED | pods::PHASE_SUCCEEDED)
}

/// The plan for `set`, given the pods of its namespace (any: only those
/// matching the selector and named after the set are its members) at `now`.
pub fn plan(set: &StatefulSet, pods: &[Pod], now: Timestamp) -> Result<StatefulSetPlan, PlanError> {
    let spec = spec(set)?;
    let set_name = owners::name_of(set)?;
    let selector = owners::selector_of(set, &spec.selector)?;
    let controller = owners::controller_ref(set)?;
    let min_ready = spec.min_ready_seconds.unwrap_or(0);

    let mut writes = Vec::new();
    let mut members: Vec<(&Pod, i32)> = Vec::new();
    for pod in pods {
        let name = pod.metadata.name.as_deref().unwrap_or("");
        let member = parent_and_ordinal(name).filter(|(parent, _)| *parent == set_name);
        let matches = member.is_some() && selector.matches(pods::labels(&pod.metadata));
        match owners::claim(&set.metadata, &pod.metadata, matches) {
            Claim::Owned => members.extend(member.map(|(_, ordinal)| (pod, ordinal))),
            Claim::Adopt => {
                writes.push(PodWrite::Adopt(owners::adoption(
                    &pod.metadata,
                    &controller,
                )));
                members.extend(member.map(|(_, ordinal)| (pod, ordinal)));
            }
            Claim::Release => writes.push(PodWrite::Release(owners::release(
                &pod.metadata,
                &controller.uid,
            ))),
            Claim::Ignore => {}
        }
    }

    let update_revision = update_revision(set)?;
    let current_revision = set
        .status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| update_revision.clone());
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let start = spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0);
    let mut slots: Vec<Option<&Pod>> = vec![None; usize::try_from(replicas).unwrap_or(0)];
    let mut condemned: Vec<(&Pod, i32)> = Vec::new();
    for &(pod, ordinal) in &members {
        if ordinal >= start && ordinal - start < replicas {
            slots[(ordinal - start) as usize] = Some(pod);
        } else {
            condemned.push((pod, ordinal));
        }
    }
    // Highest ordinal first: scale-down order.
    condemned.sort_by_key(|&(_, ordinal)| std::cmp::Reverse(ordinal));

    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        current_revision: Some(current_revision.clone()),
        update_revision: Some(update_revision.clone()),
        collision_count: Some(
            set.status
                .as_ref()
                .and_then(|s| s.collision_count)
                .unwrap_or(0),
        ),
        ..Default::default()
    };
    let (mut ready, mut available, mut current, mut updated) = (0, 0, 0, 0);
    for &(pod, _) in &members {
        status.replicas += 1;
        if pods::is_running_and_ready(pod) {
            ready += 1;
            if pods::is_available(pod, min_ready, now) {
                available += 1;
            }
        }
        if !pods::is_terminating(pod) {
            let revision = revision_of(pod);
            current += i32::from(revision == Some(current_revision.as_str()));
            updated += i32::from(revision == Some(update_revision.as_str()));
        }
    }

    // The first pod that is not available, by ordinal: the one scale-down
    // may remove although it is unhealthy.
    let first_unavailable: Option<i32> = slots
        .iter()
        .enumerate()
        .find(|(_, slot)| slot.is_none_or(|pod| is_unavailable(pod, min_ready, now)))
        .map(|(index, _)| start + index as i32)
        .or_else(|| {
            condemned
                .iter()
                .rev()
                .find(|(pod, _)| is_unavailable(pod, min_ready, now))
                .map(|&(_, ordinal)| ordinal)
        });

    if set.metadata.deletion_timestamp.is_none() {
        let walk = Walk {
            set,
            spec,
            start,
            ordered: spec.pod_management_policy.as_deref() != Some(POLICY_PARALLEL),
            min_ready,
            now,
            update_revision: &update_revision,
        };
        if walk.run(&slots, &condemned, first_unavailable, &mut writes)? == Some(UpdateDeletion) {
            // The pod deleted for the update no longer counts as current.
            current = (current - 1).max(0);
        }
    }
    // Kubernetes leaves zero counts out, except availableReplicas.
    status.ready_replicas = (ready != 0).then_some(ready);
    status.available_replicas = Some(available);
    status.current_replicas = (current != 0).then_some(current);
    status.updated_replicas = (updated != 0).then_some(updated);
    complete_rolling_update(spec, &mut status);

    Ok(StatefulSetPlan {
        writes,
        status: (set.status.as_ref() != Some(&status)).then_some(status),
        requeue_after: members
            .iter()
            .filter_map(|(pod, _)| pods::available_in(pod, min_ready, now))
            .min(),
    })
}

/// A rolling update deleted a pod of the current revision.
#[derive(Debug, PartialEq, Eq)]
struct UpdateDeletion;

/// The walk over the ordinals. In OrderedReady it stops at the first step
/// that must wait for a pod to start, become Ready and available, or go.
struct Walk<'a> {
    set: &'a StatefulSet,
    spec: &'a StatefulSetSpec,
    start: i32,
    ordered: bool,
    min_ready: i32,
    now: Timestamp,
    update_revision: &'a str,
}

impl Walk<'_> {
    fn healthy(&self, pod: &Pod) -> bool {
        pods::is_running_and_ready(pod) && pods::is_available(pod, self.min_ready, self.now)
    }

    fn run(
        &self,
        slots: &[Option<&Pod>],
        condemned: &[(&Pod, i32)],
        first_unavailable: Option<i32>,
        writes: &mut Vec<PodWrite>,
    ) -> Result<Option<UpdateDeletion>, PlanError> {
        for (index, slot) in slots.iter().enumerate() {
            let ordinal = self.start + index as i32;
            let Some(pod) = slot else {
                let pod = new_pod(self.set, ordinal, self.update_revision)?;
                writes.push(PodWrite::Create(Box::new(pod)));
                if self.ordered {
                    return Ok(None);
                }
                continue;
            };
            // A finished pod is replaced, whatever its exit code: delete it
            // now, create its successor once it is gone.
            if is_finished(pod) {
                if !pods::is_terminating(pod) {
                    writes.push(delete(pod));
                }
                if self.ordered {
                    return Ok(None);
                }
                continue;
            }
            if self.ordered && (pods::is_terminating(pod) || !self.healthy(pod)) {
                return Ok(None);
            }
            if !identity_matches(pod, ordinal) {
                writes.push(PodWrite::Relabel(relabel(pod, ordinal)));
            }
        }

        for &(pod, ordinal) in condemned {
            if pods::is_terminating(pod) {
                if self.ordered {
                    return Ok(None);
                }
                continue;
            }
            // Only the first unhealthy pod may go while others are unhealthy.
            if self.ordered && !self.healthy(pod) && Some(ordinal) != first_unavailable {
                return Ok(None);
            }
            writes.push(delete(pod));
            if self.ordered {
                return Ok(None);
            }
        }

        let strategy = self.spec.update_strategy.as_ref();
        if strategy.and_then(|s| s.type_.as_deref()) == Some(UPDATE_ON_DELETE) {
            return Ok(None);
        }
        let partition = strategy
            .and_then(|s| s.rolling_update.as_ref())
            .and_then(|r| r.partition)
            .unwrap_or(0)
            .max(0) as usize;
        for slot in slots.iter().skip(partition).rev() {
            // A pod created in this pass has the update revision; wait for it.
            let Some(pod) = slot else {
                return Ok(None);
            };
            if revision_of(pod) != Some(self.update_revision) && !pods::is_terminating(pod) {
                writes.push(delete(pod));
                return Ok(Some(UpdateDeletion));
            }
            if is_unavailable(pod, self.min_ready, self.now) {
                return Ok(None);
            }
        }
        Ok(None)
    }
}

/// When every pod runs the update revision and is Ready, the update
/// revision becomes the current one.
fn complete_rolling_update(spec: &StatefulSetSpec, status: &mut StatefulSetStatus) {
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == UPDATE_ROLLING);
    let all = status.replicas;
    if rolling
        && status.updated_replicas.unwrap_or(0) == all
        && status.ready_replicas.unwrap_or(0) == all
    {
        status.current_revision = status.update_revision.clone();
        status.current_replicas = status.updated_replicas;
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

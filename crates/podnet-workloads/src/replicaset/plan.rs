//! What a ReplicaSet controller does next, from the ReplicaSet and the pods
//! of its namespace: claim pods, create or delete to reach spec.replicas,
//! and the status to record. Pure: the caller supplies the time.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::error::PlanError;
use crate::owners::{self, ChildPatch, Claim};
use crate::pods;

/// At most this many pods are created or deleted in one pass, as in Kubernetes.
pub const BURST_REPLICAS: usize = 500;

/// Pods with a lower cost are deleted first when a ReplicaSet scales down.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

pub const CONDITION_REPLICA_FAILURE: &str = "ReplicaFailure";
pub const REASON_FAILED_CREATE: &str = "FailedCreate";
pub const REASON_FAILED_DELETE: &str = "FailedDelete";

/// A pod chosen for deletion; the uid makes the deletion a no-op when a
/// pod of the same name replaced it meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodToDelete {
    pub name: String,
    pub uid: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplicaSetPlan {
    /// Orphan pods matching the selector; they count as owned in this plan.
    pub adopt: Vec<ChildPatch>,
    /// Pods this ReplicaSet controls that no longer match its selector.
    pub release: Vec<ChildPatch>,
    /// How many pods to create from the template.
    pub create: usize,
    /// Pods to delete, the most expendable first.
    pub delete: Vec<PodToDelete>,
    /// The status to write, when it differs from the stored one.
    pub status: Option<ReplicaSetStatus>,
    /// When a Ready pod becomes available (minReadySeconds), the status
    /// changes without any event: look again then.
    pub requeue_after: Option<Duration>,
}

fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn min_ready_seconds(rs: &ReplicaSet) -> i32 {
    rs.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

/// The plan for `rs`, given the pods of its namespace (any pods: those not
/// matching the selector or owned by others are left alone) at `now`.
pub fn plan(rs: &ReplicaSet, pods: &[Pod], now: Timestamp) -> Result<ReplicaSetPlan, PlanError> {
    let spec = rs.spec.as_ref().ok_or_else(|| PlanError::MissingField {
        object: owners::describe(rs),
        field: "spec",
    })?;
    let selector = owners::selector_of(rs, &spec.selector)?;
    let controller = owners::controller_ref(rs)?;

    let mut result = ReplicaSetPlan::default();
    let mut owned: Vec<&Pod> = Vec::new();
    for pod in pods.iter().filter(|p| pods::is_active(p)) {
        let matches = selector.matches(pods::labels(&pod.metadata));
        match owners::claim(&rs.metadata, &pod.metadata, matches) {
            Claim::Owned => owned.push(pod),
            Claim::Adopt => {
                result
                    .adopt
                    .push(owners::adoption(&pod.metadata, &controller));
                owned.push(pod);
            }
            Claim::Release => result
                .release
                .push(owners::release(&pod.metadata, &controller.uid)),
            Claim::Ignore => {}
        }
    }

    if rs.metadata.deletion_timestamp.is_none() {
        let wanted = usize::try_from(replicas(rs).max(0)).unwrap_or(0);
        if owned.len() < wanted {
            result.create = (wanted - owned.len()).min(BURST_REPLICAS);
        } else if owned.len() > wanted {
            let count = (owned.len() - wanted).min(BURST_REPLICAS);
            result.delete = pods_to_delete(&owned, count);
        }
    }

    let status = status_of(rs, &owned, now);
    if rs.status.as_ref() != Some(&status) {
        result.status = Some(status);
    }
    let min_ready = min_ready_seconds(rs);
    result.requeue_after = owned
        .iter()
        .filter_map(|p| pods::available_in(p, min_ready, now))
        .min();
    Ok(result)
}

/// The status from the owned active pods as they are (before this plan's
/// creates and deletes, which the next pass sees).
fn status_of(rs: &ReplicaSet, owned: &[&Pod], now: Timestamp) -> ReplicaSetStatus {
    let template_labels = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let min_ready = min_ready_seconds(rs);
    let fully_labeled = owned
        .iter()
        .filter(|p| {
            let labels = pods::labels(&p.metadata);
            template_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        })
        .count();
    let ready = owned.iter().filter(|p| pods::is_ready(p)).count();
    let available = owned
        .iter()
        .filter(|p| pods::is_available(p, min_ready, now))
        .count();
    let previous = rs.status.clone().unwrap_or_default();
    let conditions: Vec<ReplicaSetCondition> = previous
        .conditions
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != CONDITION_REPLICA_FAILURE)
        .collect();
    ReplicaSetStatus {
        replicas: count(owned.len()),
        fully_labeled_replicas: nonzero(fully_labeled),
        ready_replicas: nonzero(ready),
        available_replicas: nonzero(available),
        observed_generation: rs.metadata.generation,
        conditions: (!conditions.is_empty()).then_some(conditions),
        terminating_replicas: previous.terminating_replicas,
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Kubernetes leaves zero counts out of the stored status.
fn nonzero(n: usize) -> Option<i32> {
    (n > 0).then(|| count(n))
}

/// `status` with a ReplicaFailure condition saying why creating
/// (`creating`) or deleting pods failed; an existing one is kept as it is.
pub fn with_failure(
    mut status: ReplicaSetStatus,
    creating: bool,
    message: String,
    now: Timestamp,
) -> ReplicaSetStatus {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    if conditions
        .iter()
        .any(|c| c.type_ == CONDITION_REPLICA_FAILURE)
    {
        return status;
    }
    conditions.push(ReplicaSetCondition {
        type_: CONDITION_REPLICA_FAILURE.into(),
        status: "True".into(),
        reason: Some(
            if creating {
                REASON_FAILED_CREATE
            } else {
                REASON_FAILED_DELETE
            }
            .into(),
        ),
        message: Some(message),
        last_transition_time: Some(Time(now)),
    });
    status
}

fn phase_rank(pod: &Pod) -> u8 {
    match pods::phase(pod) {
        pods::PHASE_UNKNOWN => 1,
        pods::PHASE_RUNNING => 2,
        _ => 0,
    }
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// Later instants first, a missing one before all (it is the least settled).
fn later_first(a: Option<Timestamp>, b: Option<Timestamp>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => b.cmp(&a),
    }
}

/// The `count` pods to delete, in Kubernetes' order of expendability:
/// unscheduled before scheduled; Pending, Unknown, then Running; not Ready
/// before Ready; lower pod-deletion-cost first; pods sharing a node with
/// more of the set's pods first; Ready for the shorter time first; more
/// container restarts first; newer before older.
fn pods_to_delete(owned: &[&Pod], count: usize) -> Vec<PodToDelete> {
    let mut pods_on_node: HashMap<&str, usize> = HashMap::new();
    for pod in owned {
        *pods_on_node.entry(node_name(pod)).or_default() += 1;
    }
    let mut ranked: Vec<(&Pod, usize)> = owned
        .iter()
        .map(|pod| (*pod, pods_on_node[node_name(pod)]))
        .collect();
    if count < ranked.len() {
        ranked.sort_by(|(a, rank_a), (b, rank_b)| {
            let unassigned = node_name(a)
                .is_empty()
                .cmp(&node_name(b).is_empty())
                .reverse();
            let both_ready = pods::is_ready(a) && pods::is_ready(b);
            unassigned
                .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
                .then_with(|| pods::is_ready(a).cmp(&pods::is_ready(b)))
                .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
                .then_with(|| rank_b.cmp(rank_a))
                .then_with(|| {
                    if both_ready {
                        later_first(pods::ready_since(a), pods::ready_since(b))
                    } else {
                        Ordering::Equal
                    }
                })
                .then_with(|| pods::max_restarts(b).cmp(&pods::max_restarts(a)))
                .then_with(|| {
                    later_first(
                        a.metadata.creation_timestamp.as_ref().map(|t| t.0),
                        b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    )
                })
                .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        });
    }
    ranked
        .into_iter()
        .take(count)
        .map(|(pod, _)| PodToDelete {
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::test_pods::*;
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodStatus, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    fn replica_set(replicas: i32) -> ReplicaSet {
        let labels: std::collections::BTreeMap<String, String> =
            [("app".to_string(), "web".to_string())].into();
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web-5d8f7".into()),
                namespace: Some("default".into()),
                uid: Some("rs-uid".into()),
                generation: Some(2),
                resource_version: Some("10".into()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                selector: LabelSelector {
                    match_labels: Some(labels.clone()),
                    ..Default::default()
                },
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        ..Default::default()
                    }),
                    spec: Some(Default::default()),
                }),
                min_ready_seconds: None,
            }),
            status: None,
        }
    }

    fn mine(name: &str) -> Pod {
        let rs = replica_set(1);
        owned_by(
            pod(name, &[("app", "web")]),
            owners::controller_ref(&rs).unwrap(),
        )
    }

    fn names(plan: &ReplicaSetPlan) -> Vec<&str> {
        plan.delete.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn creates_the_missing_pods() {
        let rs = replica_set(3);
        let plan = plan(&rs, &[mine("a")], at(0)).unwrap();
        assert_eq!(plan.create, 2);
        assert!(plan.delete.is_empty());
        let status = plan.status.unwrap();
        assert_eq!(status.replicas, 1);
        assert_eq!(status.fully_labeled_replicas, Some(1));
        assert_eq!(status.observed_generation, Some(2));
    }

    #[test]
    fn creation_is_capped_by_the_burst_limit() {
        let plan = plan(&replica_set(2000), &[], at(0)).unwrap();
        assert_eq!(plan.create, BURST_REPLICAS);
    }

    #[test]
    fn inactive_and_foreign_pods_do_not_count() {
        let rs = replica_set(2);
        let foreign = owned_by(
            pod("f", &[("app", "web")]),
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                uid: "other".into(),
                controller: Some(true),
                ..Default::default()
            },
        );
        let pods = [
            mine("a"),
            terminating(mine("b")),
            with_phase(mine("c"), pods::PHASE_FAILED),
            with_phase(mine("d"), pods::PHASE_SUCCEEDED),
            foreign,
            pod("unrelated", &[("app", "db")]),
        ];
        let plan = plan(&rs, &pods, at(0)).unwrap();
        assert_eq!(plan.create, 1);
        assert!(plan.adopt.is_empty() && plan.release.is_empty());
    }

    #[test]
    fn orphans_are_adopted_and_mismatches_released() {
        let rs = replica_set(2);
        let mut relabeled = mine("r");
        relabeled.metadata.labels = Some([("app".to_string(), "debug".to_string())].into());
        let pods = [pod("orphan", &[("app", "web")]), relabeled, mine("a")];
        let plan = plan(&rs, &pods, at(0)).unwrap();
        assert_eq!(plan.adopt.len(), 1);
        assert_eq!(plan.adopt[0].name, "orphan");
        assert_eq!(plan.release.len(), 1);
        assert_eq!(plan.release[0].name, "r");
        // The adopted orphan counts: two pods, nothing to create.
        assert_eq!(plan.create, 0);
        assert_eq!(plan.status.unwrap().replicas, 2);
    }

    #[test]
    fn scale_down_deletes_the_most_expendable_pods_first() {
        let rs = replica_set(0);
        let old_ready = created_at(ready_at(on_node(mine("old-ready"), "n1"), 10), 0);
        let new_ready = created_at(ready_at(on_node(mine("new-ready"), "n2"), 50), 40);
        let running = created_at(running(on_node(mine("running"), "n3")), 5);
        let pending = created_at(on_node(mine("pending"), "n4"), 1);
        let unscheduled = created_at(mine("unscheduled"), 2);
        let pods = [
            old_ready.clone(),
            new_ready.clone(),
            running.clone(),
            pending.clone(),
            unscheduled.clone(),
        ];
        let all = plan(&rs, &pods, at(100)).unwrap();
        // Deleting every pod keeps the input order, as nothing needs ranking.
        assert_eq!(all.delete.len(), 5);

        let rs = replica_set(1);
        let plan = plan(&rs, &pods, at(100)).unwrap();
        assert_eq!(
            names(&plan),
            ["unscheduled", "pending", "running", "new-ready"]
        );
    }

    #[test]
    fn scale_down_prefers_newer_pods_then_restarts_and_cost() {
        let rs = replica_set(1);
        let older = created_at(on_node(mine("older"), "n1"), 0);
        let newer = created_at(on_node(mine("newer"), "n2"), 10);
        assert_eq!(
            names(&plan(&rs, &[older.clone(), newer.clone()], at(20)).unwrap()),
            ["newer"]
        );

        let mut restarted = older.clone();
        restarted.status = Some(PodStatus {
            phase: Some(pods::PHASE_PENDING.into()),
            container_statuses: Some(vec![ContainerStatus {
                restart_count: 4,
                ..Default::default()
            }]),
            ..Default::default()
        });
        assert_eq!(
            names(&plan(&rs, &[restarted, newer.clone()], at(20)).unwrap()),
            ["older"]
        );

        let mut cheap = older.clone();
        cheap.metadata.annotations =
            Some([(POD_DELETION_COST.to_string(), "-5".to_string())].into());
        assert_eq!(
            names(&plan(&rs, &[cheap, newer], at(20)).unwrap()),
            ["older"]
        );
    }

    #[test]
    fn scale_down_prefers_pods_doubled_up_on_a_node() {
        let rs = replica_set(2);
        let a = created_at(on_node(mine("a"), "n1"), 10);
        let b = created_at(on_node(mine("b"), "n1"), 0);
        let c = created_at(on_node(mine("c"), "n2"), 20);
        let plan = plan(&rs, &[a, b, c], at(30)).unwrap();
        assert_eq!(names(&plan), ["a"]);
    }

    #[test]
    fn status_counts_ready_and_available_with_min_ready_seconds() {
        let mut rs = replica_set(3);
        rs.spec.as_mut().unwrap().min_ready_seconds = Some(10);
        let pods = [
            ready_at(mine("a"), 0),
            ready_at(mine("b"), 15),
            running(mine("c")),
        ];
        let plan = plan(&rs, &pods, at(20)).unwrap();
        let status = plan.status.unwrap();
        assert_eq!(status.replicas, 3);
        assert_eq!(status.ready_replicas, Some(2));
        assert_eq!(status.available_replicas, Some(1));
        // b becomes available 10 s after 15, just after 25.
        assert_eq!(plan.requeue_after, Some(Duration::from_millis(5001)));
    }

    #[test]
    fn unchanged_status_is_not_rewritten() {
        let mut rs = replica_set(1);
        let pods = [ready_at(mine("a"), 0)];
        let first = plan(&rs, &pods, at(5)).unwrap();
        rs.status = first.status;
        let second = plan(&rs, &pods, at(6)).unwrap();
        assert_eq!(second, ReplicaSetPlan::default());
    }

    #[test]
    fn a_replica_set_being_deleted_only_reports_status() {
        let mut rs = replica_set(3);
        rs.metadata.deletion_timestamp = Some(Time(at(1)));
        let plan = plan(&rs, &[mine("a")], at(2)).unwrap();
        assert_eq!(plan.create, 0);
        assert!(plan.status.is_some());
    }

    #[test]
    fn failures_add_one_replica_failure_condition_and_success_removes_it() {
        let rs = replica_set(2);
        let status = with_failure(ReplicaSetStatus::default(), true, "quota".into(), at(1));
        let condition = &status.conditions.as_ref().unwrap()[0];
        assert_eq!(condition.type_, CONDITION_REPLICA_FAILURE);
        assert_eq!(condition.reason.as_deref(), Some(REASON_FAILED_CREATE));
        let again = with_failure(status.clone(), false, "other".into(), at(2));
        assert_eq!(again, status);

        let mut failed = rs.clone();
        failed.status = Some(status);
        let plan = plan(&failed, &[mine("a"), mine("b")], at(3)).unwrap();
        assert_eq!(plan.status.unwrap().conditions, None);
    }
}

//! What a Deployment controller does next, from the Deployment, the
//! ReplicaSets of its namespace and (for the Recreate strategy) its pods:
//! claim ReplicaSets, create the one for the current template, scale new
//! and old ones (a rollout or a proportional scale), prune history, and the
//! status and conditions to record. The steps and numbers are Kubernetes'
//! deployment controller's; pure: the caller supplies the time.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::error::PlanError;
use crate::hash;
use crate::intstr::scaled_value;
use crate::owners::{self, ChildPatch, Claim};
use crate::pods;

/// The label that tells a Deployment's ReplicaSets (and their pods) apart.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const DEPRECATED_ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// The revision history annotation stops growing at this many characters.
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

pub const STRATEGY_ROLLING_UPDATE: &str = "RollingUpdate";
pub const STRATEGY_RECREATE: &str = "Recreate";

pub const CONDITION_AVAILABLE: &str = "Available";
pub const CONDITION_PROGRESSING: &str = "Progressing";
pub const CONDITION_REPLICA_FAILURE: &str = "ReplicaFailure";

pub const REASON_REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
pub const REASON_FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
pub const REASON_NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const REASON_FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const REASON_NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const REASON_TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const REASON_PAUSED: &str = "DeploymentPaused";
pub const REASON_RESUMED: &str = "DeploymentResumed";
pub const REASON_MINIMUM_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const REASON_MINIMUM_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// One write to a ReplicaSet, in the order the plan makes them.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplicaSetWrite {
    Adopt(ChildPatch),
    Release(ChildPatch),
    /// The ReplicaSet for the current template, named
    /// `<deployment>-<pod-template-hash>`.
    Create(Box<ReplicaSet>),
    /// The whole ReplicaSet as it should be (replicas, annotations,
    /// minReadySeconds), with the resourceVersion it was read at.
    Update(Box<ReplicaSet>),
    /// An old ReplicaSet beyond revisionHistoryLimit.
    Delete {
        name: String,
        uid: String,
    },
}

impl ReplicaSetWrite {
    fn replica_set_name(&self) -> Option<&str> {
        match self {
            ReplicaSetWrite::Create(rs) | ReplicaSetWrite::Update(rs) => {
                rs.metadata.name.as_deref()
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeploymentPlan {
    pub writes: Vec<ReplicaSetWrite>,
    /// The `deployment.kubernetes.io/revision` annotation the Deployment
    /// should carry, when it carries another.
    pub revision: Option<String>,
    /// The status to record, when it differs from the stored one.
    pub status: Option<DeploymentStatus>,
    /// When the progress deadline would pass if nothing else happens.
    pub requeue_after: Option<Duration>,
}

/// The plan for `deployment`, given the ReplicaSets of its namespace, its
/// namespace's pods (only read with the Recreate strategy, which waits for
/// old pods to be gone; pass an empty slice otherwise) and the time.
pub fn plan(
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    now: Timestamp,
) -> Result<DeploymentPlan, PlanError> {
    let mut sim = Simulation::new(deployment, replica_sets, now)?;
    if sim.selects_everything {
        // Kubernetes refuses to act on a selector that would claim every
        // ReplicaSet of the namespace; it only records that it saw the spec.
        let mut status = deployment.status.clone().unwrap_or_default();
        if status.observed_generation < deployment.metadata.generation {
            status.observed_generation = deployment.metadata.generation;
            return Ok(DeploymentPlan {
                status: Some(status),
                ..Default::default()
            });
        }
        return Ok(DeploymentPlan::default());
    }
    if deployment.metadata.deletion_timestamp.is_some() {
        sim.sync_revision(false)?;
        let status = sim.calculate_status()?;
        return Ok(sim.finish(status));
    }
    sim.check_paused_conditions();
    let paused = sim.spec().paused == Some(true);
    sim.sync_revision(false)?;
    if paused || sim.is_scaling_event() {
        sim.scale()?;
        if paused {
            sim.cleanup();
        }
        let status = sim.calculate_status()?;
        return Ok(sim.finish(status));
    }
    match sim.strategy_type() {
        STRATEGY_RECREATE => sim.rollout_recreate(pods)?,
        STRATEGY_ROLLING_UPDATE => sim.rollout_rolling()?,
        other => {
            return Err(PlanError::UnsupportedStrategy {
                object: owners::describe(deployment),
                strategy: other.to_string(),
            })
        }
    }
    let status = sim.rollout_status()?;
    Ok(sim.finish(status))
}

/// The status after a failed creation of the new ReplicaSet: a Progressing
/// condition saying so, when the Deployment has a progress deadline.
pub fn status_after_create_failure(
    deployment: &Deployment,
    replica_set: &str,
    error: &str,
    now: Timestamp,
) -> Option<DeploymentStatus> {
    if !has_progress_deadline(deployment) {
        return None;
    }
    let mut status = deployment.status.clone().unwrap_or_default();
    set_condition(
        &mut status,
        new_condition(
            CONDITION_PROGRESSING,
            "False",
            REASON_FAILED_RS_CREATE,
            format!("Failed to create new replica set {replica_set:?}: {error}"),
            now,
        ),
    );
    Some(status)
}

/// The status after a name collision: the collision count one higher, so
/// the next pass hashes the template to another name.
pub fn status_after_collision(deployment: &Deployment) -> DeploymentStatus {
    let mut status = deployment.status.clone().unwrap_or_default();
    status.collision_count = Some(status.collision_count.unwrap_or(0).saturating_add(1));
    status
}

/// True when `rs` is the ReplicaSet of `deployment`'s current template:
/// controlled by it, with the same template apart from the hash label.
pub fn is_current_replica_set(deployment: &Deployment, rs: &ReplicaSet) -> bool {
    let Some(uid) = deployment.metadata.uid.as_deref() else {
        return false;
    };
    let template = deployment.spec.as_ref().map(|s| &s.template);
    let rs_template = rs.spec.as_ref().and_then(|s| s.template.as_ref());
    owners::is_controlled_by(&rs.metadata, uid)
        && matches!((template, rs_template), (Some(a), Some(b)) if equal_ignoring_hash(a, b))
}

/// Templates compared without the pod-template-hash label; a label map
/// left empty counts as none, as Kubernetes' semantic equality has it.
fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    fn normalized(template: &PodTemplateSpec) -> PodTemplateSpec {
        let mut template = template.clone();
        if let Some(meta) = template.metadata.as_mut() {
            if let Some(labels) = meta.labels.as_mut() {
                labels.remove(POD_TEMPLATE_HASH);
                if labels.is_empty() {
                    meta.labels = None;
                }
            }
            if meta.annotations.as_ref().is_some_and(BTreeMap::is_empty) {
                meta.annotations = None;
            }
        }
        template
    }
    normalized(a) == normalized(b)
}

fn has_progress_deadline(deployment: &Deployment) -> bool {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .is_some_and(|seconds| seconds != i32::MAX)
}

fn condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Kubernetes' SetDeploymentCondition: a condition with the same status
/// and reason stays as it is; the same status keeps its transition time;
/// the condition moves to the end of the list.
fn set_condition(status: &mut DeploymentStatus, mut new: DeploymentCondition) {
    if let Some(current) = condition(status, &new.type_) {
        if current.status == new.status && current.reason == new.reason {
            return;
        }
        if current.status == new.status {
            new.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, &new.type_);
    status.conditions.get_or_insert_with(Vec::new).push(new);
}

fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn status_of(rs: &ReplicaSet) -> (i32, i32, i32) {
    let status = rs.status.clone().unwrap_or_default();
    (
        status.replicas,
        status.ready_replicas.unwrap_or(0),
        status.available_replicas.unwrap_or(0),
    )
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

fn annotation_i32(rs: &ReplicaSet, key: &str) -> Option<i32> {
    annotation(&rs.metadata, key)?.parse().ok()
}

/// The revision a ReplicaSet records; an unreadable one counts as none.
fn revision(rs: &ReplicaSet) -> i64 {
    annotation(&rs.metadata, REVISION)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn created(rs: &ReplicaSet) -> Timestamp {
    // A ReplicaSet this plan creates has no timestamp yet: it is the newest.
    rs.metadata
        .creation_timestamp
        .as_ref()
        .map_or(Timestamp::MAX, |t| t.0)
}

/// Oldest first, by name when created in the same second.
fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    created(a)
        .cmp(&created(b))
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

fn nonzero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

/// The working state of one plan: the owned ReplicaSets as the plan
/// changes them, and the writes that make those changes.
struct Simulation<'a> {
    deployment: &'a Deployment,
    spec: &'a DeploymentSpec,
    replicas: i32,
    replica_sets: Vec<ReplicaSet>,
    new_index: Option<usize>,
    writes: Vec<ReplicaSetWrite>,
    /// The Deployment's status as changed by steps before the final one
    /// (conditions, for instance), as Kubernetes' controller keeps it.
    status: DeploymentStatus,
    revision: Option<String>,
    selects_everything: bool,
    now: Timestamp,
}

impl<'a> Simulation<'a> {
    fn new(
        deployment: &'a Deployment,
        replica_sets: &[ReplicaSet],
        now: Timestamp,
    ) -> Result<Simulation<'a>, PlanError> {
        let spec = deployment
            .spec
            .as_ref()
            .ok_or_else(|| PlanError::MissingField {
                object: owners::describe(deployment),
                field: "spec",
            })?;
        let selects_everything = spec
            .selector
            .match_labels
            .as_ref()
            .is_none_or(BTreeMap::is_empty)
            && spec
                .selector
                .match_expressions
                .as_ref()
                .is_none_or(Vec::is_empty);
        let selector = owners::selector_of(deployment, &spec.selector)?;
        let controller = owners::controller_ref(deployment)?;
        let mut sim = Simulation {
            deployment,
            spec,
            replicas: spec.replicas.unwrap_or(1),
            replica_sets: Vec::new(),
            new_index: None,
            writes: Vec::new(),
            status: deployment.status.clone().unwrap_or_default(),
            revision: None,
            selects_everything,
            now,
        };
        if selects_everything {
            return Ok(sim);
        }
        for rs in replica_sets {
            let matches = selector.matches(pods::labels(&rs.metadata));
            match owners::claim(&deployment.metadata, &rs.metadata, matches) {
                Claim::Owned => sim.replica_sets.push(rs.clone()),
                Claim::Adopt => {
                    sim.writes.push(ReplicaSetWrite::Adopt(owners::adoption(
                        &rs.metadata,
                        &controller,
                    )));
                    sim.replica_sets.push(rs.clone());
                }
                Claim::Release => sim.writes.push(ReplicaSetWrite::Release(owners::release(
                    &rs.metadata,
                    &controller.uid,
                ))),
                Claim::Ignore => {}
            }
        }
        sim.replica_sets.sort_by(by_creation);
        Ok(sim)
    }

    fn spec(&self) -> &'a DeploymentSpec {
        self.spec
    }

    fn strategy_type(&self) -> &str {
        self.spec()
            .strategy
            .as_ref()
            .and_then(|s| s.type_.as_deref())
            .unwrap_or(STRATEGY_ROLLING_UPDATE)
    }

    fn is_rolling_update(&self) -> bool {
        self.strategy_type() == STRATEGY_ROLLING_UPDATE
    }

    /// The rolling update parameters; the API server defaults both to 25%.
    fn rolling_parameters(&self) -> (IntOrString, IntOrString) {
        let rolling = self
            .spec()
            .strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref());
        let default = || IntOrString::String("25%".into());
        (
            rolling
                .and_then(|r| r.max_surge.clone())
                .unwrap_or_else(default),
            rolling
                .and_then(|r| r.max_unavailable.clone())
                .unwrap_or_else(default),
        )
    }

    /// maxSurge as a number for this many replicas, rounded up.
    fn scaled_surge(&self) -> Result<i32, PlanError> {
        let (max_surge, _) = self.rolling_parameters();
        scaled_value(
            "spec.strategy.rollingUpdate.maxSurge",
            &max_surge,
            self.replicas,
            true,
        )
    }

    /// maxSurge and maxUnavailable as numbers for this many replicas:
    /// surge rounds up, unavailability down, and when both come to zero one
    /// pod may be unavailable, or nothing could ever move.
    fn fenceposts(&self) -> Result<(i32, i32), PlanError> {
        let (_, max_unavailable) = self.rolling_parameters();
        let surge = self.scaled_surge()?;
        let unavailable = scaled_value(
            "spec.strategy.rollingUpdate.maxUnavailable",
            &max_unavailable,
            self.replicas,
            false,
        )?;
        if surge == 0 && unavailable == 0 {
            return Ok((0, 1));
        }
        Ok((surge, unavailable))
    }

    fn max_surge(&self) -> Result<i32, PlanError> {
        if !self.is_rolling_update() {
            return Ok(0);
        }
        Ok(self.fenceposts()?.0)
    }

    fn max_unavailable(&self) -> Result<i32, PlanError> {
        if !self.is_rolling_update() || self.replicas == 0 {
            return Ok(0);
        }
        Ok(self.fenceposts()?.1.min(self.replicas))
    }

    fn old_indices(&self) -> Vec<usize> {
        (0..self.replica_sets.len())
            .filter(|i| Some(*i) != self.new_index)
            .collect()
    }

    fn all_indices(&self) -> Vec<usize> {
        (0..self.replica_sets.len()).collect()
    }

    fn active(&self, indices: &[usize]) -> Vec<usize> {
        indices
            .iter()
            .copied()
            .filter(|&i| spec_replicas(&self.replica_sets[i]) > 0)
            .collect()
    }

    fn sum(&self, indices: &[usize], value: impl Fn(&ReplicaSet) -> i32) -> i32 {
        indices.iter().map(|&i| value(&self.replica_sets[i])).sum()
    }

    /// Records that the ReplicaSet at `index` changed: its pending write
    /// (a creation or an earlier update) is replaced by the new state, so
    /// each ReplicaSet is written once per plan.
    fn record(&mut self, index: usize) {
        let rs = self.replica_sets[index].clone();
        let name = rs.metadata.name.clone();
        if let Some(write) = self
            .writes
            .iter_mut()
            .find(|w| w.replica_set_name() == name.as_deref())
        {
            *write = match write {
                ReplicaSetWrite::Create(_) => ReplicaSetWrite::Create(Box::new(rs)),
                _ => ReplicaSetWrite::Update(Box::new(rs)),
            };
            return;
        }
        self.writes.push(ReplicaSetWrite::Update(Box::new(rs)));
    }

    /// Sets the desired-replicas and max-replicas annotations; true when they changed.
    fn set_replicas_annotations(&self, rs: &mut ReplicaSet) -> Result<bool, PlanError> {
        let desired = self.replicas.to_string();
        let max = (self.replicas + self.max_surge()?).to_string();
        let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
        let mut changed = false;
        for (key, value) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
            if annotations.get(key) != Some(&value) {
                annotations.insert(key.to_string(), value);
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Scales the ReplicaSet at `index` (Kubernetes' scaleReplicaSet): the
    /// replica annotations follow the Deployment even when the size stays.
    /// True when the size changed.
    fn scale_replica_set(&mut self, index: usize, size: i32) -> Result<bool, PlanError> {
        let mut rs = self.replica_sets[index].clone();
        let size_changes = spec_replicas(&rs) != size;
        let annotations_change = self.set_replicas_annotations(&mut rs)?;
        if size_changes || annotations_change {
            rs.spec.get_or_insert_with(Default::default).replicas = Some(size);
            self.replica_sets[index] = rs;
            self.record(index);
        }
        Ok(size_changes)
    }

    /// Scales only when the size changes (scaleReplicaSetAndRecordEvent).
    fn scale_if_needed(&mut self, index: usize, size: i32) -> Result<bool, PlanError> {
        if spec_replicas(&self.replica_sets[index]) == size {
            return Ok(false);
        }
        self.scale_replica_set(index, size)
    }

    /// Copies the Deployment's annotations (but the controller's own and
    /// kubectl's last-applied one) and raises the revision of the new
    /// ReplicaSet; a raised revision on an existing one (a rollback) is
    /// remembered in its revision history. True when anything changed.
    fn set_new_replica_set_annotations(
        &self,
        rs: &mut ReplicaSet,
        new_revision: i64,
        exists: bool,
    ) -> Result<bool, PlanError> {
        let skip = [
            LAST_APPLIED,
            REVISION,
            REVISION_HISTORY,
            DESIRED_REPLICAS,
            MAX_REPLICAS,
            DEPRECATED_ROLLBACK_TO,
        ];
        let mut changed = false;
        let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
        for (key, value) in self.deployment.metadata.annotations.iter().flatten() {
            if skip.contains(&key.as_str()) || annotations.get(key) == Some(value) {
                continue;
            }
            annotations.insert(key.clone(), value.clone());
            changed = true;
        }
        let old_revision = annotations.get(REVISION).cloned();
        let old_revision_number = match &old_revision {
            // An unreadable revision is left alone, as Kubernetes does.
            Some(text) => match text.parse::<i64>() {
                Ok(n) => n,
                Err(_) => return Ok(changed),
            },
            None => 0,
        };
        if old_revision_number < new_revision {
            annotations.insert(REVISION.to_string(), new_revision.to_string());
            changed = true;
            if let Some(old) = old_revision {
                let history = annotations
                    .get(REVISION_HISTORY)
                    .cloned()
                    .unwrap_or_default();
                if history.is_empty() {
                    annotations.insert(REVISION_HISTORY.to_string(), old);
                } else {
                    let mut entries: Vec<&str> = history.split(',').collect();
                    let mut total = history.len() + old.len() + 1;
                    let mut start = 0;
                    while total > MAX_REVISION_HISTORY_CHARS && start < entries.len() {
                        total -= entries[start].len() + 1;
                        start += 1;
                    }
                    if total <= MAX_REVISION_HISTORY_CHARS {
                        entries = entries.split_off(start);
                        entries.push(&old);
                        annotations.insert(REVISION_HISTORY.to_string(), entries.join(","));
                    }
                }
            }
        }
        if !exists && self.set_replicas_annotations(rs)? {
            changed = true;
        }
        Ok(changed)
    }

    /// Finds the ReplicaSet of the current template (the oldest such), keeps
    /// its revision the highest, and creates it when asked and missing
    /// (Kubernetes' getAllReplicaSetsAndSyncRevision).
    fn sync_revision(&mut self, create: bool) -> Result<(), PlanError> {
        let template = &self.spec().template;
        self.new_index = (0..self.replica_sets.len()).find(|&i| {
            self.replica_sets[i]
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| equal_ignoring_hash(template, t))
        });
        let max_old_revision = self
            .old_indices()
            .iter()
            .map(|&i| revision(&self.replica_sets[i]))
            .max()
            .unwrap_or(0);
        let new_revision = max_old_revision + 1;
        let min_ready_seconds = self.spec().min_ready_seconds;

        if let Some(index) = self.new_index {
            let mut rs = self.replica_sets[index].clone();
            let annotations_changed =
                self.set_new_replica_set_annotations(&mut rs, new_revision, true)?;
            let spec = rs.spec.get_or_insert_with(Default::default);
            let min_ready_changed =
                spec.min_ready_seconds.unwrap_or(0) != min_ready_seconds.unwrap_or(0);
            if annotations_changed || min_ready_changed {
                spec.min_ready_seconds = min_ready_seconds;
                self.replica_sets[index] = rs;
                self.record(index);
            }
            let revision = annotation(&self.replica_sets[index].metadata, REVISION)
                .unwrap_or("")
                .to_string();
            self.set_deployment_revision(revision);
            if has_progress_deadline(self.deployment)
                && condition(&self.status, CONDITION_PROGRESSING).is_none()
            {
                let name = self.replica_sets[index]
                    .metadata
                    .name
                    .clone()
                    .unwrap_or_default();
                set_condition(
                    &mut self.status,
                    new_condition(
                        CONDITION_PROGRESSING,
                        "True",
                        REASON_FOUND_NEW_RS,
                        format!("Found new replica set {name:?}"),
                        self.now,
                    ),
                );
            }
            return Ok(());
        }
        if !create {
            return Ok(());
        }

        let deployment = self.deployment;
        let spec = self.spec();
        let hash = hash::pod_template_hash(&spec.template, self.status.collision_count);
        let mut template = spec.template.clone();
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let deployment_name = owners::name_of(deployment)?;
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{deployment_name}-{hash}")),
                namespace: deployment.metadata.namespace.clone(),
                labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                owner_references: Some(vec![owners::controller_ref(deployment)?]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        self.replica_sets.push(rs.clone());
        let index = self.replica_sets.len() - 1;
        self.new_index = Some(index);
        let replicas = self.new_replica_set_replicas(index)?;
        rs.spec.get_or_insert_with(Default::default).replicas = Some(replicas);
        self.set_new_replica_set_annotations(&mut rs, new_revision, false)?;
        self.replica_sets[index] = rs.clone();
        self.writes.push(ReplicaSetWrite::Create(Box::new(rs)));
        self.set_deployment_revision(new_revision.to_string());
        if has_progress_deadline(deployment) {
            let name = self.replica_sets[index]
                .metadata
                .name
                .clone()
                .unwrap_or_default();
            set_condition(
                &mut self.status,
                new_condition(
                    CONDITION_PROGRESSING,
                    "True",
                    REASON_NEW_RS_CREATED,
                    format!("Created new replica set {name:?}"),
                    self.now,
                ),
            );
        }
        Ok(())
    }

    fn set_deployment_revision(&mut self, revision: String) {
        if annotation(&self.deployment.metadata, REVISION) != Some(revision.as_str()) {
            self.revision = Some(revision);
        }
    }

    /// How many replicas the new ReplicaSet may have now (NewRSNewReplicas).
    fn new_replica_set_replicas(&self, new_index: usize) -> Result<i32, PlanError> {
        let new_replicas = spec_replicas(&self.replica_sets[new_index]);
        match self.strategy_type() {
            STRATEGY_RECREATE => Ok(self.replicas),
            STRATEGY_ROLLING_UPDATE => {
                let max_surge = self.scaled_surge()?;
                let current = self.sum(&self.all_indices(), spec_replicas);
                let max_total = self.replicas + max_surge;
                if current >= max_total {
                    return Ok(new_replicas);
                }
                let scale_up = (max_total - current).min(self.replicas - new_replicas);
                Ok(new_replicas + scale_up)
            }
            other => Err(PlanError::UnsupportedStrategy {
                object: owners::describe(self.deployment),
                strategy: other.to_string(),
            }),
        }
    }

    /// A scaling event: an active ReplicaSet was sized for another replica count.
    fn is_scaling_event(&self) -> bool {
        self.active(&self.all_indices()).iter().any(|&i| {
            annotation_i32(&self.replica_sets[i], DESIRED_REPLICAS)
                .is_some_and(|desired| desired != self.replicas)
        })
    }

    /// Progressing becomes Unknown while paused and when resumed, so a
    /// pause does not count against the progress deadline.
    fn check_paused_conditions(&mut self) {
        if !has_progress_deadline(self.deployment) {
            return;
        }
        let current = condition(&self.status, CONDITION_PROGRESSING);
        if current.is_some_and(|c| c.reason.as_deref() == Some(REASON_TIMED_OUT)) {
            return;
        }
        let paused_recorded = current.is_some_and(|c| c.reason.as_deref() == Some(REASON_PAUSED));
        let paused = self.spec().paused == Some(true);
        if paused && !paused_recorded {
            set_condition(
                &mut self.status,
                new_condition(
                    CONDITION_PROGRESSING,
                    "Unknown",
                    REASON_PAUSED,
                    "Deployment is paused".into(),
                    self.now,
                ),
            );
        } else if !paused && paused_recorded {
            set_condition(
                &mut self.status,
                new_condition(
                    CONDITION_PROGRESSING,
                    "Unknown",
                    REASON_RESUMED,
                    "Deployment is resumed".into(),
                    self.now,
                ),
            );
        }
    }

    /// The only active ReplicaSet, or the newest when none is active; None
    /// when several are active (FindActiveOrLatest).
    fn active_or_latest(&self) -> Option<usize> {
        let mut old = self.old_indices();
        if self.new_index.is_none() && old.is_empty() {
            return None;
        }
        old.sort_by(|&a, &b| by_creation(&self.replica_sets[b], &self.replica_sets[a]));
        let mut all = old.clone();
        all.extend(self.new_index);
        let active = self.active(&all);
        match active.len() {
            0 => self.new_index.or_else(|| old.first().copied()),
            1 => Some(active[0]),
            _ => None,
        }
    }

    fn is_saturated(&self, index: usize) -> bool {
        let rs = &self.replica_sets[index];
        spec_replicas(rs) == self.replicas
            && annotation_i32(rs, DESIRED_REPLICAS) == Some(self.replicas)
            && status_of(rs).2 == self.replicas
    }

    /// A scaling event: spreads the new replica count over the active
    /// ReplicaSets in proportion to their sizes (Kubernetes' scale()).
    fn scale(&mut self) -> Result<(), PlanError> {
        if let Some(index) = self.active_or_latest() {
            if spec_replicas(&self.replica_sets[index]) != self.replicas {
                self.scale_if_needed(index, self.replicas)?;
            }
            return Ok(());
        }
        if self.new_index.is_some_and(|i| self.is_saturated(i)) {
            for index in self.active(&self.old_indices()) {
                self.scale_if_needed(index, 0)?;
            }
            return Ok(());
        }
        if !self.is_rolling_update() {
            return Ok(());
        }
        let mut all = self.old_indices();
        all.extend(self.new_index);
        let mut active = self.active(&all);
        let current: i32 = self.sum(&active, spec_replicas);
        let max_surge = self.max_surge()?;
        let allowed = if self.replicas > 0 {
            self.replicas + max_surge
        } else {
            0
        };
        let to_add = allowed - current;
        match to_add.cmp(&0) {
            // Larger first; among equals the newer gets the extra pods.
            Ordering::Greater => active.sort_by(|&a, &b| {
                let (a, b) = (&self.replica_sets[a], &self.replica_sets[b]);
                spec_replicas(b)
                    .cmp(&spec_replicas(a))
                    .then_with(|| by_creation(b, a))
            }),
            // Larger first; among equals the older loses pods first.
            Ordering::Less => active.sort_by(|&a, &b| {
                let (a, b) = (&self.replica_sets[a], &self.replica_sets[b]);
                spec_replicas(b)
                    .cmp(&spec_replicas(a))
                    .then_with(|| by_creation(a, b))
            }),
            Ordering::Equal => {}
        }
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(active.len());
        for &index in &active {
            let rs = &self.replica_sets[index];
            if to_add != 0 {
                let proportion = self.proportion(rs, to_add, added, max_surge);
                sizes.push(spec_replicas(rs) + proportion);
                added += proportion;
            } else {
                sizes.push(spec_replicas(rs));
            }
        }
        for (position, &index) in active.iter().enumerate() {
            let mut size = sizes[position];
            // Whatever rounding left over goes to the largest.
            if position == 0 && to_add != 0 {
                size = (size + to_add - added).max(0);
            }
            self.scale_replica_set(index, size)?;
        }
        Ok(())
    }

    /// The share of `to_add` (positive or negative) a ReplicaSet gets,
    /// from its size against the Deployment size it was made for
    /// (GetReplicaSetProportion).
    fn proportion(&self, rs: &ReplicaSet, to_add: i32, added: i32, max_surge: i32) -> i32 {
        let size = spec_replicas(rs);
        if size == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let fraction = if self.replicas == 0 {
            -size
        } else {
            let max_now = self.replicas + max_surge;
            let max_before = annotation_i32(rs, MAX_REPLICAS)
                .filter(|&m| m != 0)
                .unwrap_or_else(|| {
                    self.deployment
                        .status
                        .as_ref()
                        .map_or(0, |s| s.replicas.unwrap_or(0))
                });
            if max_before == 0 {
                0
            } else {
                let scaled = f64::from(size) * f64::from(max_now) / f64::from(max_before);
                scaled.round() as i32 - size
            }
        };
        let allowed = to_add - added;
        if to_add > 0 {
            fraction.min(allowed)
        } else {
            fraction.max(allowed)
        }
    }

    /// Deletes the oldest revisions beyond revisionHistoryLimit, only those
    /// scaled to zero with no pods left.
    fn cleanup(&mut self) {
        let Some(limit) = self
            .spec()
            .revision_history_limit
            .filter(|&l| l != i32::MAX)
        else {
            return;
        };
        let mut cleanable: Vec<usize> = self
            .old_indices()
            .into_iter()
            .filter(|&i| self.replica_sets[i].metadata.deletion_timestamp.is_none())
            .collect();
        let excess = cleanable.len() as i64 - i64::from(limit);
        if excess <= 0 {
            return;
        }
        cleanable.sort_by(|&a, &b| {
            let (a, b) = (&self.replica_sets[a], &self.replica_sets[b]);
            revision(a)
                .cmp(&revision(b))
                .then_with(|| by_creation(a, b))
        });
        for &index in cleanable.iter().take(excess as usize) {
            let rs = &self.replica_sets[index];
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            let busy = status_of(rs).0 != 0
                || spec_replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed;
            // A ReplicaSet created or changed in this plan is not history.
            let written = self
                .writes
                .iter()
                .any(|w| w.replica_set_name() == rs.metadata.name.as_deref());
            if busy || written {
                continue;
            }
            self.writes.push(ReplicaSetWrite::Delete {
                name: rs.metadata.name.clone().unwrap_or_default(),
                uid: rs.metadata.uid.clone().unwrap_or_default(),
            });
        }
    }

    /// RollingUpdate: scale the new ReplicaSet up as far as maxSurge
    /// allows, or else old ones down as far as maxUnavailable allows.
    fn rollout_rolling(&mut self) -> Result<(), PlanError> {
        self.sync_revision(true)?;
        if self.reconcile_new_replica_set()? {
            return Ok(());
        }
        if self.reconcile_old_replica_sets()? {
            return Ok(());
        }
        if self.is_complete(self.deployment.status.as_ref()) {
            self.cleanup();
        }
        Ok(())
    }

    fn reconcile_new_replica_set(&mut self) -> Result<bool, PlanError> {
        let Some(new) = self.new_index else {
            return Ok(false);
        };
        let current = spec_replicas(&self.replica_sets[new]);
        if current == self.replicas {
            return Ok(false);
        }
        if current > self.replicas {
            return self.scale_if_needed(new, self.replicas);
        }
        let size = self.new_replica_set_replicas(new)?;
        self.scale_if_needed(new, size)
    }

    fn reconcile_old_replica_sets(&mut self) -> Result<bool, PlanError> {
        let Some(new) = self.new_index else {
            return Ok(false);
        };
        let mut old = self.active(&self.old_indices());
        if self.sum(&old, spec_replicas) == 0 {
            return Ok(false);
        }
        let all_pods = self.sum(&self.all_indices(), spec_replicas);
        let min_available = self.replicas - self.max_unavailable()?;
        let new_rs = &self.replica_sets[new];
        let new_unavailable = spec_replicas(new_rs) - status_of(new_rs).2;
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        old.sort_by(|&a, &b| by_creation(&self.replica_sets[a], &self.replica_sets[b]));

        // Unhealthy old pods go first: they add nothing to availability,
        // and waiting on them could stall the rollout.
        let mut cleaned = 0;
        for &index in &old {
            if cleaned >= max_scaled_down {
                break;
            }
            let rs = &self.replica_sets[index];
            let (size, available) = (spec_replicas(rs), status_of(rs).2);
            if size == 0 || size == available {
                continue;
            }
            let count = (max_scaled_down - cleaned).min(size - available);
            self.scale_if_needed(index, size - count)?;
            cleaned += count;
        }

        // Then as many available old pods as keep minAvailable.
        let available = self.sum(&self.all_indices(), |rs| status_of(rs).2);
        let mut scaled = 0;
        if available > min_available {
            let to_scale_down = available - min_available;
            for &index in &old {
                if scaled >= to_scale_down {
                    break;
                }
                let size = spec_replicas(&self.replica_sets[index]);
                if size == 0 {
                    continue;
                }
                let count = size.min(to_scale_down - scaled);
                self.scale_if_needed(index, size - count)?;
                scaled += count;
            }
        }
        Ok(cleaned + scaled > 0)
    }

    /// Recreate: every old pod gone before the new ReplicaSet scales up.
    fn rollout_recreate(&mut self, pods: &[Pod]) -> Result<(), PlanError> {
        let mut scaled_down = false;
        for index in self.active(&self.old_indices()) {
            scaled_down |= self.scale_if_needed(index, 0)?;
        }
        if scaled_down || self.old_pods_running(pods) {
            return Ok(());
        }
        if self.new_index.is_none() {
            self.sync_revision(true)?;
        }
        if let Some(new) = self.new_index {
            self.scale_if_needed(new, self.replicas)?;
        }
        if self.is_complete(self.deployment.status.as_ref()) {
            self.cleanup();
        }
        Ok(())
    }

    /// Old ReplicaSets still count pods, or pods they control are not yet
    /// finished (a terminating pod is still running).
    fn old_pods_running(&self, pods: &[Pod]) -> bool {
        let old = self.old_indices();
        if self.sum(&old, |rs| status_of(rs).0) > 0 {
            return true;
        }
        let old_uids: Vec<&str> = old
            .iter()
            .filter_map(|&i| self.replica_sets[i].metadata.uid.as_deref())
            .collect();
        pods.iter().any(|pod| {
            owners::controller_of(&pod.metadata).is_some_and(|r| old_uids.contains(&r.uid.as_str()))
                && !matches!(pods::phase(pod), pods::PHASE_FAILED | pods::PHASE_SUCCEEDED)
        })
    }

    /// The rollout is done: every replica updated and available, and the
    /// latest spec observed.
    fn is_complete(&self, status: Option<&DeploymentStatus>) -> bool {
        let status = status.cloned().unwrap_or_default();
        status.updated_replicas.unwrap_or(0) == self.replicas
            && status.replicas.unwrap_or(0) == self.replicas
            && status.available_replicas.unwrap_or(0) == self.replicas
            && status.observed_generation >= self.deployment.metadata.generation
    }

    /// The counts from the ReplicaSets, the Available condition, and the
    /// conditions earlier steps set (calculateStatus).
    fn calculate_status(&self) -> Result<DeploymentStatus, PlanError> {
        let all = self.all_indices();
        let available = self.sum(&all, |rs| status_of(rs).2);
        let total = self.sum(&all, spec_replicas);
        let updated = self
            .new_index
            .map_or(0, |i| status_of(&self.replica_sets[i]).0);
        let mut status = DeploymentStatus {
            observed_generation: self.deployment.metadata.generation,
            replicas: nonzero(self.sum(&all, |rs| status_of(rs).0)),
            updated_replicas: nonzero(updated),
            ready_replicas: nonzero(self.sum(&all, |rs| status_of(rs).1)),
            available_replicas: nonzero(available),
            unavailable_replicas: nonzero((total - available).max(0)),
            collision_count: self.status.collision_count,
            conditions: self.status.conditions.clone(),
            terminating_replicas: None,
        };
        let condition = if available >= self.replicas - self.max_unavailable()? {
            new_condition(
                CONDITION_AVAILABLE,
                "True",
                REASON_MINIMUM_AVAILABLE,
                "Deployment has minimum availability.".into(),
                self.now,
            )
        } else {
            new_condition(
                CONDITION_AVAILABLE,
                "False",
                REASON_MINIMUM_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
                self.now,
            )
        };
        set_condition(&mut status, condition);
        Ok(status)
    }

    /// The status at the end of a rollout step, with Progressing saying
    /// whether the rollout completed, moved, or ran past its deadline
    /// (syncRolloutStatus).
    fn rollout_status(&self) -> Result<DeploymentStatus, PlanError> {
        let mut status = self.calculate_status()?;
        let has_deadline = has_progress_deadline(self.deployment);
        if !has_deadline {
            remove_condition(&mut status, CONDITION_PROGRESSING);
        }
        let current = condition(&self.status, CONDITION_PROGRESSING).cloned();
        let already_complete = status.replicas == status.updated_replicas
            && current
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some(REASON_NEW_RS_AVAILABLE));
        if has_deadline && !already_complete {
            let subject = match self.new_index {
                Some(i) => format!(
                    "ReplicaSet {:?}",
                    self.replica_sets[i].metadata.name.as_deref().unwrap_or("")
                ),
                None => format!(
                    "Deployment {:?}",
                    self.deployment.metadata.name.as_deref().unwrap_or("")
                ),
            };
            if self.is_complete(Some(&status)) {
                set_condition(
                    &mut status,
                    new_condition(
                        CONDITION_PROGRESSING,
                        "True",
                        REASON_NEW_RS_AVAILABLE,
                        format!("{subject} has successfully progressed."),
                        self.now,
                    ),
                );
            } else if self.made_progress(&status) {
                let mut progressing = new_condition(
                    CONDITION_PROGRESSING,
                    "True",
                    REASON_REPLICA_SET_UPDATED,
                    format!("{subject} is progressing."),
                    self.now,
                );
                // Progress refreshes lastUpdateTime even with the same reason.
                if let Some(current) = &current {
                    if current.status == "True" {
                        progressing.last_transition_time = current.last_transition_time.clone();
                    }
                    remove_condition(&mut status, CONDITION_PROGRESSING);
                }
                set_condition(&mut status, progressing);
            } else if self.timed_out(&status) {
                set_condition(
                    &mut status,
                    new_condition(
                        CONDITION_PROGRESSING,
                        "False",
                        REASON_TIMED_OUT,
                        format!("{subject} has timed out progressing."),
                        self.now,
                    ),
                );
            }
        }
        match self.replica_failure() {
            Some(failure) => set_condition(&mut status, failure),
            None => remove_condition(&mut status, CONDITION_REPLICA_FAILURE),
        }
        Ok(status)
    }

    /// More pods updated, fewer old ones, or more ready or available than
    /// the stored status says.
    fn made_progress(&self, new: &DeploymentStatus) -> bool {
        let old = self.deployment.status.clone().unwrap_or_default();
        let count = |v: Option<i32>| v.unwrap_or(0);
        let old_old = count(old.replicas) - count(old.updated_replicas);
        let new_old = count(new.replicas) - count(new.updated_replicas);
        count(new.updated_replicas) > count(old.updated_replicas)
            || new_old < old_old
            || count(new.ready_replicas) > count(old.ready_replicas)
            || count(new.available_replicas) > count(old.available_replicas)
    }

    fn deadline(&self) -> SignedDuration {
        let seconds = self.spec().progress_deadline_seconds.unwrap_or(i32::MAX);
        SignedDuration::from_secs(i64::from(seconds))
    }

    fn timed_out(&self, status: &DeploymentStatus) -> bool {
        let Some(progressing) = condition(status, CONDITION_PROGRESSING) else {
            return false;
        };
        match progressing.reason.as_deref() {
            Some(REASON_NEW_RS_AVAILABLE) => false,
            Some(REASON_TIMED_OUT) => true,
            _ => progressing
                .last_update_time
                .as_ref()
                .and_then(|t| t.0.checked_add(self.deadline()).ok())
                .is_some_and(|deadline| deadline < self.now),
        }
    }

    /// A ReplicaFailure of the new ReplicaSet, or else of any old one.
    fn replica_failure(&self) -> Option<DeploymentCondition> {
        let failure_of = |rs: &ReplicaSet| {
            rs.status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == CONDITION_REPLICA_FAILURE)
                .map(|c| DeploymentCondition {
                    type_: c.type_.clone(),
                    status: c.status.clone(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                    last_update_time: c.last_transition_time.clone(),
                    last_transition_time: c.last_transition_time.clone(),
                })
        };
        self.new_index
            .and_then(|i| failure_of(&self.replica_sets[i]))
            .or_else(|| self.replica_sets.iter().find_map(failure_of))
    }

    /// When to look again for a rollout that may run past its deadline.
    fn requeue_after(&self, status: &DeploymentStatus) -> Option<Duration> {
        if !has_progress_deadline(self.deployment) || self.is_complete(Some(status)) {
            return None;
        }
        let progressing = condition(status, CONDITION_PROGRESSING)?;
        if progressing.reason.as_deref() == Some(REASON_TIMED_OUT) {
            return None;
        }
        let deadline = progressing
            .last_update_time
            .as_ref()?
            .0
            .checked_add(self.deadline())
            .ok()?;
        let wait = Duration::try_from(deadline.duration_since(self.now)).unwrap_or(Duration::ZERO);
        Some(wait + Duration::from_secs(1))
    }

    fn finish(self, status: DeploymentStatus) -> DeploymentPlan {
        let requeue_after = self.requeue_after(&status);
        let changed = self.deployment.status.as_ref() != Some(&status);
        DeploymentPlan {
            writes: self.writes,
            revision: self.revision,
            status: changed.then_some(status),
            requeue_after,
        }
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

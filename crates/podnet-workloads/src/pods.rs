//! What the workload controllers read from a pod (activity, readiness,
//! availability) and how they make one from a template.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::error::PlanError;

pub const PHASE_PENDING: &str = "Pending";
pub const PHASE_RUNNING: &str = "Running";
pub const PHASE_SUCCEEDED: &str = "Succeeded";
pub const PHASE_FAILED: &str = "Failed";
pub const PHASE_UNKNOWN: &str = "Unknown";

pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// A pod that counts toward a ReplicaSet's replicas: neither finished nor
/// being deleted.
pub fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), PHASE_SUCCEEDED | PHASE_FAILED) && !is_terminating(pod)
}

/// The time the pod's Ready condition turned True, when it is True. The
/// time is None when the condition carries none.
fn ready_condition(pod: &Pod) -> Option<Option<Timestamp>> {
    let conditions = pod.status.as_ref()?.conditions.as_ref()?;
    let ready = conditions.iter().find(|c| c.type_ == "Ready")?;
    (ready.status == "True").then(|| ready.last_transition_time.as_ref().map(|t| t.0))
}

pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some()
}

/// Since when the pod has been Ready; None when it is not Ready or the
/// condition has no transition time.
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod).flatten()
}

pub fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == PHASE_RUNNING && is_ready(pod)
}

fn min_ready(min_ready_seconds: i32) -> SignedDuration {
    SignedDuration::from_secs(i64::from(min_ready_seconds.max(0)))
}

/// Ready for at least `min_ready_seconds` at `now`. With a minimum, a Ready
/// condition without a transition time never counts: Kubernetes cannot tell
/// how long such a pod has been ready either.
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_condition(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => false,
        Some(Some(since)) => since
            .checked_add(min_ready(min_ready_seconds))
            .is_ok_and(|at| at < now),
    }
}

/// How long until a Ready pod that is not yet available becomes so; None
/// when it already is, or never will be without a change to the pod.
pub fn available_in(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> Option<Duration> {
    if min_ready_seconds <= 0 || is_available(pod, min_ready_seconds, now) {
        return None;
    }
    let since = ready_since(pod)?;
    let at = since.checked_add(min_ready(min_ready_seconds)).ok()?;
    let wait = at.duration_since(now);
    // Availability needs the instant strictly after the minimum has passed.
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO) + Duration::from_millis(1))
}

/// The highest restart count of the pod's containers.
pub fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|statuses| statuses.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

pub fn labels(meta: &ObjectMeta) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    meta.labels.as_ref().unwrap_or(&EMPTY)
}

/// A pod made from `template` the way Kubernetes' controllers make one:
/// the template's labels, annotations and finalizers, its spec, and the
/// owner as controller. The name is the caller's (a generateName prefix or
/// a fixed name).
pub fn pod_from_template(
    template: &PodTemplateSpec,
    owner: OwnerReference,
) -> Result<Pod, PlanError> {
    let spec = template
        .spec
        .clone()
        .ok_or_else(|| PlanError::MissingField {
            object: format!("{} {}", owner.kind, owner.name),
            field: "spec.template.spec",
        })?;
    let template_meta = template.metadata.clone().unwrap_or_default();
    Ok(Pod {
        metadata: ObjectMeta {
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    })
}

#[cfg(test)]
pub(crate) mod test_pods {
    //! Pods in the states the controllers distinguish, for unit tests.
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    pub fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    pub fn pod(name: &str, labels: &[(&str, &str)]) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                resource_version: Some("1".into()),
                creation_timestamp: Some(Time(at(0))),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            spec: Some(Default::default()),
            status: Some(PodStatus {
                phase: Some(PHASE_PENDING.into()),
                ..Default::default()
            }),
        }
    }

    pub fn owned_by(mut pod: Pod, owner: OwnerReference) -> Pod {
        pod.metadata.owner_references = Some(vec![owner]);
        pod
    }

    pub fn created_at(mut pod: Pod, seconds: i64) -> Pod {
        pod.metadata.creation_timestamp = Some(Time(at(seconds)));
        pod
    }

    pub fn on_node(mut pod: Pod, node: &str) -> Pod {
        pod.spec.get_or_insert_with(Default::default).node_name = Some(node.into());
        pod
    }

    pub fn running(mut pod: Pod) -> Pod {
        pod.status.get_or_insert_with(Default::default).phase = Some(PHASE_RUNNING.into());
        pod
    }

    /// Running and Ready since `seconds`.
    pub fn ready_at(pod: Pod, seconds: i64) -> Pod {
        let mut pod = running(pod);
        pod.status.get_or_insert_with(Default::default).conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(Time(at(seconds))),
            ..Default::default()
        }]);
        pod
    }

    pub fn with_phase(mut pod: Pod, phase: &str) -> Pod {
        pod.status.get_or_insert_with(Default::default).phase = Some(phase.into());
        pod
    }

    pub fn terminating(mut pod: Pod) -> Pod {
        pod.metadata.deletion_timestamp = Some(Time(at(100)));
        pod
    }
}

#[cfg(test)]
mod tests {
    use super::test_pods::*;
    use super::*;

    #[test]
    fn activity_excludes_finished_and_terminating_pods() {
        assert!(is_active(&pod("a", &[])));
        assert!(is_active(&running(pod("a", &[]))));
        assert!(!is_active(&with_phase(pod("a", &[]), PHASE_SUCCEEDED)));
        assert!(!is_active(&with_phase(pod("a", &[]), PHASE_FAILED)));
        assert!(!is_active(&terminating(running(pod("a", &[])))));
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let ready = ready_at(pod("a", &[]), 10);
        assert!(is_ready(&ready));
        assert!(is_available(&ready, 0, at(10)));
        assert!(!is_available(&ready, 5, at(15)));
        assert!(is_available(&ready, 5, at(16)));
        assert_eq!(
            available_in(&ready, 5, at(12)),
            Some(Duration::from_millis(3001))
        );
        assert_eq!(available_in(&ready, 5, at(16)), None);
        assert_eq!(available_in(&ready, 0, at(0)), None);
        let not_ready = running(pod("b", &[]));
        assert!(!is_available(&not_ready, 0, at(100)));
        assert_eq!(available_in(&not_ready, 5, at(0)), None);
    }

    #[test]
    fn pods_from_templates_carry_template_metadata_and_the_owner() {
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                annotations: Some([("a".to_string(), "b".to_string())].into()),
                name: Some("ignored".into()),
                ..Default::default()
            }),
            spec: Some(Default::default()),
        };
        let owner = OwnerReference {
            name: "web-1".into(),
            uid: "u1".into(),
            controller: Some(true),
            ..Default::default()
        };
        let pod = pod_from_template(&template, owner.clone()).unwrap();
        assert_eq!(
            pod.metadata.labels,
            template.metadata.as_ref().unwrap().labels
        );
        assert_eq!(pod.metadata.annotations.as_ref().unwrap()["a"], "b");
        assert_eq!(pod.metadata.name, None);
        assert_eq!(pod.metadata.owner_references, Some(vec![owner]));
        let no_spec = PodTemplateSpec::default();
        assert!(pod_from_template(&no_spec, OwnerReference::default()).is_err());
    }
}

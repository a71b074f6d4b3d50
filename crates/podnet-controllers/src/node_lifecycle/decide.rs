//! What the node lifecycle controller does about one Node (pure).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, NodeCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The taint of a node whose agent stopped reporting.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// The taint of a node that reports Ready=False.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The effect of both taints here: no new pods; pods already there stay.
pub const EFFECT_NO_SCHEDULE: &str = "NoSchedule";

/// The reason and message of conditions the node stopped reporting.
pub const REASON_STATUS_UNKNOWN: &str = "NodeStatusUnknown";
pub const MESSAGE_STATUS_UNKNOWN: &str = "Kubelet stopped posting node status.";
/// The reason and message of conditions the node never reported.
pub const REASON_NEVER_UPDATED: &str = "NodeStatusNeverUpdated";
pub const MESSAGE_NEVER_UPDATED: &str = "Kubelet never posted node status.";

/// The conditions the controller marks Unknown, as Kubernetes' does.
pub const MONITORED_CONDITIONS: [&str; 4] =
    ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// What to write to a Node; `None` leaves that part as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    /// The whole new `status.conditions`.
    pub conditions: Option<Vec<NodeCondition>>,
    /// The whole new `spec.taints`.
    pub taints: Option<Vec<Taint>>,
}

impl Decision {
    pub fn is_nothing(&self) -> bool {
        self.conditions.is_none() && self.taints.is_none()
    }
}

/// Decides about `node`, whose agent was last heard from (Lease renewed or
/// status posted, as observed by the controller) at `last_heard`.
///
/// Silent for longer than `grace_period`: every monitored condition that is
/// not Unknown yet becomes Unknown (`NodeStatusUnknown`), and ones the node
/// never posted are added as Unknown (`NodeStatusNeverUpdated`). Then the
/// taints follow the Ready condition: Unknown -> unreachable, False ->
/// not-ready, True -> neither (both NoSchedule).
pub fn decide(
    node: &Node,
    last_heard: Timestamp,
    now: Timestamp,
    grace_period: Duration,
) -> Decision {
    let current: Vec<NodeCondition> = node
        .status
        .as_ref()
        .and_then(|status| status.conditions.clone())
        .unwrap_or_default();
    let silent_for = now.duration_since(last_heard);
    let grace = SignedDuration::try_from(grace_period).unwrap_or(SignedDuration::MAX);
    let mut conditions = current.clone();
    if silent_for > grace {
        let created = node
            .metadata
            .creation_timestamp
            .clone()
            .unwrap_or(Time(now));
        for type_ in MONITORED_CONDITIONS {
            match conditions.iter_mut().find(|c| c.type_ == type_) {
                Some(condition) if condition.status != "Unknown" => {
                    condition.status = "Unknown".into();
                    condition.reason = Some(REASON_STATUS_UNKNOWN.into());
                    condition.message = Some(MESSAGE_STATUS_UNKNOWN.into());
                    condition.last_transition_time = Some(Time(now));
                }
                Some(_) => {}
                None => conditions.push(NodeCondition {
                    type_: type_.into(),
                    status: "Unknown".into(),
                    reason: Some(REASON_NEVER_UPDATED.into()),
                    message: Some(MESSAGE_NEVER_UPDATED.into()),
                    last_heartbeat_time: Some(created.clone()),
                    last_transition_time: Some(Time(now)),
                }),
            }
        }
    }
    let ready = conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str());
    let wanted: Option<&str> = match ready {
        Some("Unknown") => Some(TAINT_UNREACHABLE),
        Some("False") => Some(TAINT_NOT_READY),
        _ => None,
    };
    let taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|spec| spec.taints.clone())
        .unwrap_or_default();
    let ours = |taint: &Taint| {
        taint.effect == EFFECT_NO_SCHEDULE
            && (taint.key == TAINT_UNREACHABLE || taint.key == TAINT_NOT_READY)
    };
    let mut new_taints: Vec<Taint> = taints
        .iter()
        .filter(|taint| !ours(taint) || Some(taint.key.as_str()) == wanted)
        .cloned()
        .collect();
    if let Some(key) = wanted {
        if !new_taints
            .iter()
            .any(|t| t.key == key && t.effect == EFFECT_NO_SCHEDULE)
        {
            new_taints.push(Taint {
                key: key.into(),
                effect: EFFECT_NO_SCHEDULE.into(),
                ..Taint::default()
            });
        }
    }
    Decision {
        conditions: (conditions != current).then_some(conditions),
        taints: (new_taints != taints).then_some(new_taints),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    const GRACE: Duration = Duration::from_secs(40);

    fn node(ready: Option<&str>, taints: serde_json::Value) -> Node {
        let conditions: Vec<_> = ready
            .map(|status| {
                vec![
                    json!({"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                           "lastHeartbeatTime": "2023-11-14T22:13:20Z", "lastTransitionTime": "2023-11-14T22:13:20Z"}),
                    json!({"type": "Ready", "status": status, "reason": "KubeletReady",
                           "lastHeartbeatTime": "2023-11-14T22:13:20Z", "lastTransitionTime": "2023-11-14T22:13:20Z"}),
                ]
            })
            .unwrap_or_default();
        serde_json::from_value(json!({
            "metadata": {"name": "n1", "creationTimestamp": "2023-11-14T22:13:20Z"},
            "spec": {"taints": taints},
            "status": {"conditions": conditions},
        }))
        .unwrap()
    }

    fn condition<'a>(conditions: &'a [NodeCondition], type_: &str) -> &'a NodeCondition {
        conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn a_node_heard_from_within_the_grace_period_is_left_alone() {
        let decision = decide(&node(Some("True"), json!([])), at(0), at(40), GRACE);
        assert!(decision.is_nothing(), "{decision:?}");
    }

    #[test]
    fn a_silent_node_goes_unknown_and_unreachable() {
        let decision = decide(&node(Some("True"), json!([])), at(0), at(41), GRACE);
        let conditions = decision.conditions.unwrap();
        let ready = condition(&conditions, "Ready");
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            ready.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(ready.last_transition_time, Some(Time(at(41))));
        assert_eq!(
            ready.last_heartbeat_time,
            Some(Time(at(0))),
            "the heartbeat time stays"
        );
        assert_eq!(condition(&conditions, "MemoryPressure").status, "Unknown");
        // Never posted by this node: added as never updated.
        let disk = condition(&conditions, "DiskPressure");
        assert_eq!(disk.reason.as_deref(), Some("NodeStatusNeverUpdated"));
        assert_eq!(
            disk.message.as_deref(),
            Some("Kubelet never posted node status.")
        );
        assert_eq!(
            decision.taints.unwrap(),
            vec![Taint {
                key: "node.kubernetes.io/unreachable".into(),
                effect: "NoSchedule".into(),
                ..Taint::default()
            }]
        );
    }

    #[test]
    fn an_already_unknown_node_is_not_rewritten() {
        let mut silent = node(Some("True"), json!([]));
        let first = decide(&silent, at(0), at(41), GRACE);
        silent.status.as_mut().unwrap().conditions = first.conditions;
        silent.spec.as_mut().unwrap().taints = first.taints;
        assert!(decide(&silent, at(0), at(100), GRACE).is_nothing());
    }

    #[test]
    fn a_node_that_never_posted_status_gets_never_updated_conditions() {
        let decision = decide(&node(None, json!([])), at(0), at(41), GRACE);
        let conditions = decision.conditions.unwrap();
        assert_eq!(conditions.len(), 4);
        let ready = condition(&conditions, "Ready");
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusNeverUpdated"));
        assert_eq!(
            ready.last_heartbeat_time,
            Some(Time(at(0))),
            "the creation time"
        );
    }

    #[test]
    fn not_ready_is_tainted_not_ready_and_ready_clears_both_taints() {
        let decision = decide(&node(Some("False"), json!([])), at(0), at(1), GRACE);
        assert_eq!(decision.conditions, None);
        assert_eq!(
            decision.taints.unwrap()[0].key,
            "node.kubernetes.io/not-ready"
        );

        let tainted = node(
            Some("True"),
            json!([
                {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"},
                {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
                {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
            ]),
        );
        let taints = decide(&tainted, at(0), at(1), GRACE).taints.unwrap();
        let keys: Vec<_> = taints
            .iter()
            .map(|t| (t.key.as_str(), t.effect.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("dedicated", "NoSchedule"),
                ("node.kubernetes.io/unreachable", "NoExecute")
            ],
            "others' taints stay"
        );
    }

    #[test]
    fn going_from_not_ready_to_unknown_swaps_the_taint() {
        let node = node(
            Some("False"),
            json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]),
        );
        let taints = decide(&node, at(0), at(41), GRACE).taints.unwrap();
        assert_eq!(taints.len(), 1);
        assert_eq!(taints[0].key, "node.kubernetes.io/unreachable");
    }
}

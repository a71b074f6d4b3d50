//! The Node object and status the agent posts, computed without the API
//! (pure), as the kubelet computes them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeAddress, NodeCondition, NodeStatus, NodeSystemInfo};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::config::{NodeAgentConfig, Routing, VTEP_MAC_ANNOTATION};
use crate::host::HostFacts;
use crate::routing::vtep_mac;

/// The `kubeletVersion` the node reports: the Kubernetes API level podnet
/// serves, marked as podnet's.
pub const KUBELET_VERSION: &str = "v1.33.0-podnet";
/// Pods a node accepts, the kubelet's default `maxPods`.
pub const MAX_PODS: u32 = 110;

pub const READY: &str = "Ready";
pub const MEMORY_PRESSURE: &str = "MemoryPressure";
pub const DISK_PRESSURE: &str = "DiskPressure";
pub const PID_PRESSURE: &str = "PIDPressure";

/// The reason of a Ready=False condition posted by the node itself.
pub const REASON_NOT_READY: &str = "KubeletNotReady";
/// The message of the Ready=False condition posted when the agent stops.
pub const MESSAGE_STOPPED: &str = "agent stopped";

/// Whether the node can run pods, as far as the network is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not ready; the message says why.
    NotReady(String),
}

impl Readiness {
    /// The node's network is not usable yet: the message has the form the
    /// kubelet uses for a runtime whose network plugin is not ready.
    pub fn network_not_ready(detail: impl std::fmt::Display) -> Readiness {
        Readiness::NotReady(format!(
            "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:{detail}"
        ))
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }
}

/// The labels the kubelet puts on its Node.
pub fn node_labels(node_name: &str, architecture: &str) -> BTreeMap<String, String> {
    [
        ("kubernetes.io/hostname", node_name),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", architecture),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", architecture),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The annotations the agent owns: the VTEP MAC with vxlan, none otherwise.
fn vtep_annotation(config: &NodeAgentConfig) -> Option<String> {
    match config.routing {
        Routing::Vxlan => Some(podnet_netlink::format_mac(&vtep_mac(&config.node_name))),
        Routing::HostGw => None,
    }
}

/// The Node to create when it does not exist. The spec stays empty: the pod
/// CIDR is node IPAM's to assign.
pub fn new_node(config: &NodeAgentConfig, facts: &HostFacts) -> Node {
    let annotations =
        vtep_annotation(config).map(|mac| BTreeMap::from([(VTEP_MAC_ANNOTATION.to_string(), mac)]));
    Node {
        metadata: ObjectMeta {
            name: Some(config.node_name.clone()),
            labels: Some(node_labels(&config.node_name, &facts.architecture)),
            annotations,
            ..ObjectMeta::default()
        },
        ..Node::default()
    }
}

/// A JSON merge patch bringing an existing Node's labels and the agent's
/// annotation to what [`new_node`] would create; other labels and
/// annotations stay. With host-gw the annotation is removed, so peers stop
/// treating the node as a VTEP.
pub fn registration_patch(config: &NodeAgentConfig, facts: &HostFacts) -> Value {
    json!({"metadata": {
        "labels": node_labels(&config.node_name, &facts.architecture),
        "annotations": {VTEP_MAC_ANNOTATION: vtep_annotation(config)},
    }})
}

/// The node's conditions for `readiness`, keeping each condition's
/// `lastTransitionTime` from `current` while its status stays the same.
pub fn conditions(
    readiness: &Readiness,
    current: &[NodeCondition],
    now: Timestamp,
) -> Vec<NodeCondition> {
    let (ready_status, ready_reason, ready_message) = match readiness {
        Readiness::Ready => (
            "True",
            "KubeletReady",
            "kubelet is posting ready status".to_string(),
        ),
        Readiness::NotReady(message) => ("False", REASON_NOT_READY, message.clone()),
    };
    [
        (
            MEMORY_PRESSURE,
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available".to_string(),
        ),
        (
            DISK_PRESSURE,
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure".to_string(),
        ),
        (
            PID_PRESSURE,
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available".to_string(),
        ),
        (READY, ready_status, ready_reason, ready_message),
    ]
    .into_iter()
    .map(|(type_, status, reason, message)| {
        let transition = current
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        NodeCondition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message),
            last_heartbeat_time: Some(Time(now)),
            last_transition_time: Some(transition),
        }
    })
    .collect()
}

/// The node's whole status as the agent reports it.
pub fn node_status(
    config: &NodeAgentConfig,
    facts: &HostFacts,
    readiness: &Readiness,
    current: Option<&NodeStatus>,
    now: Timestamp,
) -> NodeStatus {
    let current_conditions = current
        .and_then(|status| status.conditions.as_deref())
        .unwrap_or_default();
    let resources: BTreeMap<String, Quantity> = [
        ("cpu", facts.cpus.to_string()),
        ("memory", format!("{}Ki", facts.memory_kib)),
        ("pods", MAX_PODS.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Quantity(v)))
    .collect();
    NodeStatus {
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: config.node_ip.to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: config.node_name.clone(),
            },
        ]),
        capacity: Some(resources.clone()),
        allocatable: Some(resources),
        conditions: Some(conditions(readiness, current_conditions, now)),
        node_info: Some(NodeSystemInfo {
            architecture: facts.architecture.clone(),
            boot_id: facts.boot_id.clone(),
            container_runtime_version: format!("podnet://{}", env!("CARGO_PKG_VERSION")),
            kernel_version: facts.kernel_version.clone(),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.into(),
            machine_id: facts.machine_id.clone(),
            operating_system: "linux".into(),
            os_image: facts.os_image.clone(),
            swap: None,
            system_uuid: facts.system_uuid.clone(),
        }),
        ..NodeStatus::default()
    }
}

/// Whether posting `desired` would change what `current` says, heartbeat
/// times aside (those alone are not worth a write: the Lease is the
/// heartbeat).
pub fn status_changed(current: Option<&NodeStatus>, desired: &NodeStatus) -> bool {
    let Some(current) = current else { return true };
    let essence = |conditions: Option<&Vec<NodeCondition>>| -> Vec<(String, String, Option<String>, Option<String>)> {
        let mut list: Vec<_> = conditions
            .into_iter()
            .flatten()
            .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone(), c.message.clone()))
            .collect();
        list.sort();
        list
    };
    essence(current.conditions.as_ref()) != essence(desired.conditions.as_ref())
        || current.addresses != desired.addresses
        || current.capacity != desired.capacity
        || current.allocatable != desired.allocatable
        || current.node_info != desired.node_info
}

/// The merge patch that posts `status` (lists are replaced whole).
pub fn status_patch(status: &NodeStatus) -> Value {
    json!({"status": status})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn config(routing: Routing) -> NodeAgentConfig {
        let mut config = NodeAgentConfig::new("podnet-node-1", Ipv4Addr::new(172, 30, 0, 11));
        config.routing = routing;
        config
    }

    fn facts() -> HostFacts {
        HostFacts {
            os_image: "Debian GNU/Linux 12 (bookworm)".into(),
            kernel_version: "6.1.0".into(),
            machine_id: "m".into(),
            system_uuid: String::new(),
            boot_id: "b".into(),
            architecture: "amd64".into(),
            cpus: 2,
            memory_kib: 4_000_000,
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap()
    }

    fn condition<'a>(status: &'a NodeStatus, type_: &str) -> &'a NodeCondition {
        status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == type_)
            .unwrap()
    }

    #[test]
    fn a_ready_node_reports_kubelets_conditions_addresses_and_capacity() {
        let status = node_status(
            &config(Routing::HostGw),
            &facts(),
            &Readiness::Ready,
            None,
            at(0),
        );
        let types: Vec<_> = status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(
            types,
            ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        );
        let ready = condition(&status, READY);
        assert_eq!(ready.status, "True");
        assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
        assert_eq!(
            ready.message.as_deref(),
            Some("kubelet is posting ready status")
        );
        let memory = condition(&status, MEMORY_PRESSURE);
        assert_eq!(memory.status, "False");
        assert_eq!(memory.reason.as_deref(), Some("KubeletHasSufficientMemory"));
        assert_eq!(
            condition(&status, DISK_PRESSURE).reason.as_deref(),
            Some("KubeletHasNoDiskPressure")
        );
        assert_eq!(
            condition(&status, PID_PRESSURE).reason.as_deref(),
            Some("KubeletHasSufficientPID")
        );
        assert_eq!(
            status.addresses.as_ref().unwrap(),
            &vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: "172.30.0.11".into()
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: "podnet-node-1".into()
                },
            ]
        );
        let capacity = status.capacity.as_ref().unwrap();
        assert_eq!(capacity["cpu"], Quantity("2".into()));
        assert_eq!(capacity["memory"], Quantity("4000000Ki".into()));
        assert_eq!(capacity["pods"], Quantity("110".into()));
        assert_eq!(status.allocatable, status.capacity);
        let info = status.node_info.as_ref().unwrap();
        assert_eq!(info.kubelet_version, "v1.33.0-podnet");
        assert_eq!(info.operating_system, "linux");
        assert_eq!(info.architecture, "amd64");
        assert_eq!(info.os_image, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(info.kernel_version, "6.1.0");
    }

    #[test]
    fn not_ready_says_why_and_transition_times_move_only_on_change() {
        let waiting = Readiness::network_not_ready("no pod CIDR assigned yet");
        let first = node_status(&config(Routing::HostGw), &facts(), &waiting, None, at(0));
        let ready = condition(&first, READY);
        assert_eq!(ready.status, "False");
        assert_eq!(ready.reason.as_deref(), Some("KubeletNotReady"));
        assert!(ready
            .message
            .as_deref()
            .unwrap()
            .ends_with("message:no pod CIDR assigned yet"));

        let again = node_status(
            &config(Routing::HostGw),
            &facts(),
            &waiting,
            Some(&first),
            at(10),
        );
        assert!(
            !status_changed(Some(&first), &again),
            "only heartbeat times moved"
        );
        assert_eq!(
            condition(&again, READY).last_transition_time,
            Some(Time(at(0)))
        );
        assert_eq!(
            condition(&again, READY).last_heartbeat_time,
            Some(Time(at(10)))
        );

        let now_ready = node_status(
            &config(Routing::HostGw),
            &facts(),
            &Readiness::Ready,
            Some(&again),
            at(20),
        );
        assert!(status_changed(Some(&again), &now_ready));
        assert_eq!(
            condition(&now_ready, READY).last_transition_time,
            Some(Time(at(20)))
        );
        assert_eq!(
            condition(&now_ready, DISK_PRESSURE).last_transition_time,
            Some(Time(at(0)))
        );
    }

    #[test]
    fn the_new_node_has_kubelet_labels_and_the_vtep_mac_with_vxlan_only() {
        let node = new_node(&config(Routing::Vxlan), &facts());
        let labels = node.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "podnet-node-1");
        assert_eq!(labels["kubernetes.io/os"], "linux");
        assert_eq!(labels["kubernetes.io/arch"], "amd64");
        let mac = &node.metadata.annotations.as_ref().unwrap()[VTEP_MAC_ANNOTATION];
        assert_eq!(
            podnet_netlink::parse_mac(mac),
            Some(vtep_mac("podnet-node-1"))
        );
        assert!(node.spec.is_none(), "the pod CIDR is node IPAM's");
        assert!(new_node(&config(Routing::HostGw), &facts())
            .metadata
            .annotations
            .is_none());

        let patch = registration_patch(&config(Routing::HostGw), &facts());
        assert_eq!(
            patch["metadata"]["annotations"][VTEP_MAC_ANNOTATION],
            Value::Null
        );
        assert_eq!(patch["metadata"]["labels"]["kubernetes.io/os"], "linux");
    }
}

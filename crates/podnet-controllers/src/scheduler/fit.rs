//! Where a pod may run and where it should: Kubernetes' default filters that
//! matter without resources and volumes (NodeUnschedulable, TaintToleration,
//! NodeAffinity, NodePorts, the pod count of NodeResourcesFit), a spreading
//! choice among the nodes that fit, and the "0/N nodes are available" message
//! when none does.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use k8s_openapi::api::core::v1::{
    Container, Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, Taint, Toleration,
};
use kube::ResourceExt;

/// Taint the node lifecycle controller puts on nodes that are not Ready.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint the node lifecycle controller puts on nodes whose Ready is Unknown.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Taint of nodes marked `spec.unschedulable`.
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

const NO_SCHEDULE: &str = "NoSchedule";
const NO_EXECUTE: &str = "NoExecute";

/// Why one node does not fit a pod; shown as Kubernetes' filter plugins word it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unfit {
    /// NodeUnschedulable: `spec.unschedulable` and no toleration for it.
    Unschedulable,
    /// TaintToleration: the first NoSchedule/NoExecute taint not tolerated.
    UntoleratedTaint { key: String, value: String },
    /// NodeAffinity: `nodeSelector` or required node affinity not matched.
    NodeAffinity,
    /// NodePorts: a requested hostPort is in use on the node.
    HostPorts,
    /// NodeResourcesFit: the node's allocatable pod count is reached.
    TooManyPods,
}

impl fmt::Display for Unfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unfit::Unschedulable => f.write_str("node(s) were unschedulable"),
            Unfit::UntoleratedTaint { key, value } => {
                write!(f, "node(s) had untolerated taint {{{key}: {value}}}")
            }
            Unfit::NodeAffinity => f.write_str("node(s) didn't match Pod's node affinity/selector"),
            Unfit::HostPorts => {
                f.write_str("node(s) didn't have free ports for the requested pod ports")
            }
            Unfit::TooManyPods => f.write_str("Too many pods"),
        }
    }
}

/// No node fits: how many there are and why each one does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    pub nodes: usize,
    pub reasons: Vec<Unfit>,
}

impl fmt::Display for FitError {
    /// Kubernetes' wording: a count per reason, sorted as strings, or the
    /// message for a cluster without nodes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nodes == 0 {
            return f.write_str("no nodes available to schedule pods");
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for reason in &self.reasons {
            *counts.entry(reason.to_string()).or_default() += 1;
        }
        let mut parts: Vec<String> = counts
            .iter()
            .map(|(reason, count)| format!("{count} {reason}"))
            .collect();
        parts.sort();
        write!(
            f,
            "0/{} nodes are available: {}.",
            self.nodes,
            parts.join(", ")
        )
    }
}

/// A host port a pod takes on its node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

const ANY_IP: &str = "0.0.0.0";

impl HostPort {
    /// Kubernetes' rule: 0.0.0.0 conflicts with every address for the same
    /// protocol and port; other addresses conflict with themselves and 0.0.0.0.
    fn conflicts_with(&self, other: &HostPort) -> bool {
        self.protocol == other.protocol
            && self.port == other.port
            && (self.ip == other.ip || self.ip == ANY_IP || other.ip == ANY_IP)
    }
}

/// One node as the scheduler sees it: the node and the pods placed on it
/// (bound, or assumed while their binding is in flight).
#[derive(Debug, Clone)]
pub struct NodeState {
    pub node: Node,
    pub pods: usize,
    /// Pods per controlling owner (uid).
    pub by_owner: HashMap<String, usize>,
    pub host_ports: Vec<HostPort>,
}

impl NodeState {
    pub fn new(node: Node) -> NodeState {
        NodeState {
            node,
            pods: 0,
            by_owner: HashMap::new(),
            host_ports: Vec::new(),
        }
    }

    pub fn name(&self) -> String {
        self.node.name_any()
    }

    /// Counts `pod` as placed on this node.
    pub fn add(&mut self, pod: &Pod) {
        self.pods += 1;
        if let Some(owner) = controller_uid(pod) {
            *self.by_owner.entry(owner).or_default() += 1;
        }
        self.host_ports.extend(host_ports(pod));
    }
}

/// The uid of the pod's controlling owner (a ReplicaSet, StatefulSet, ...).
pub fn controller_uid(pod: &Pod) -> Option<String> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.clone())
}

/// Whether a pod has ended (its phase is Succeeded or Failed); such pods no
/// longer count on their node.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// Whether `scheduler` should place this pod: no node yet, addressed to it,
/// not being deleted, not ended, not held by scheduling gates.
pub fn needs_scheduling(pod: &Pod, scheduler: &str) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let unbound = spec.node_name.as_deref().unwrap_or("").is_empty();
    let ours = spec
        .scheduler_name
        .as_deref()
        .unwrap_or("default-scheduler")
        == scheduler;
    let gated = spec
        .scheduling_gates
        .as_ref()
        .is_some_and(|gates| !gates.is_empty());
    unbound && ours && !gated && pod.metadata.deletion_timestamp.is_none() && !is_terminal(pod)
}

/// Containers whose ports a pod holds while it runs: the containers and the
/// sidecars (init containers that keep running).
fn running_containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    let spec = pod.spec.as_ref();
    let containers = spec.map(|s| s.containers.iter()).into_iter().flatten();
    let sidecars = spec
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    containers.chain(sidecars)
}

/// The host ports a pod asks for.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    running_containers(pod)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|port| *port > 0)?;
            Some(HostPort {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| ANY_IP.to_string()),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_string()),
                port,
            })
        })
        .collect()
}

/// The taints the scheduler honours on a node: its NoSchedule and NoExecute
/// taints, plus the not-ready or unreachable taint Kubernetes' node lifecycle
/// controller would add while the node is not Ready (podnet has no such
/// controller, so the scheduler reads the Ready condition itself).
pub fn effective_taints(node: &Node) -> Vec<Taint> {
    let mut taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.effect == NO_SCHEDULE || t.effect == NO_EXECUTE)
        .collect();
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.as_str());
    let implied = match ready {
        Some("True") => None,
        Some("Unknown") => Some(TAINT_UNREACHABLE),
        _ => Some(TAINT_NOT_READY),
    };
    if let Some(key) = implied {
        if !taints.iter().any(|t| t.key == key) {
            taints.push(Taint {
                key: key.to_string(),
                effect: NO_SCHEDULE.to_string(),
                value: None,
                time_added: None,
            });
        }
    }
    taints
}

/// Kubernetes' toleration match: effect and key when given, then Equal
/// compares values and Exists matches any.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

fn tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[])
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or(&[]);
    let as_int = |s: &str| s.parse::<i64>().ok();
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| values.iter().all(|x| x != v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), [want]) = (value.and_then(as_int), values) else {
                return false;
            };
            let Some(want) = as_int(want) else {
                return false;
            };
            if req.operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

/// A node selector term: every expression (labels) and field (metadata.name)
/// must match; an empty term matches nothing.
fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let labels = node.labels();
    let name = node.name_any();
    expressions
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            let value = (r.key == "metadata.name").then_some(name.as_str());
            r.key == "metadata.name" && requirement_matches(r, value)
        })
}

/// NodeAffinity: `spec.nodeSelector` and the required node affinity terms.
pub fn matches_node_selector(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    let labels = node.labels();
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    let affinity_ok = required.is_none_or(|selector| {
        selector
            .node_selector_terms
            .iter()
            .any(|term| term_matches(term, node))
    });
    selector_ok && affinity_ok
}

fn allocatable_pods(node: &Node) -> Option<usize> {
    let quantity = node.status.as_ref()?.allocatable.as_ref()?.get("pods")?;
    quantity.0.parse().ok()
}

/// Whether `pod` fits `state`, or the first reason it does not, in the order
/// of Kubernetes' filter plugins.
pub fn check(pod: &Pod, state: &NodeState) -> Result<(), Unfit> {
    let node = &state.node;
    let tolerations = tolerations(pod);
    let unschedulable = node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    if unschedulable {
        let taint = Taint {
            key: TAINT_UNSCHEDULABLE.to_string(),
            effect: NO_SCHEDULE.to_string(),
            value: None,
            time_added: None,
        };
        if !tolerations.iter().any(|t| tolerates(t, &taint)) {
            return Err(Unfit::Unschedulable);
        }
    }
    if let Some(taint) = effective_taints(node)
        .into_iter()
        .find(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
    {
        return Err(Unfit::UntoleratedTaint {
            key: taint.key,
            value: taint.value.unwrap_or_default(),
        });
    }
    if !matches_node_selector(pod, node) {
        return Err(Unfit::NodeAffinity);
    }
    let wanted = host_ports(pod);
    if wanted
        .iter()
        .any(|w| state.host_ports.iter().any(|used| w.conflicts_with(used)))
    {
        return Err(Unfit::HostPorts);
    }
    if allocatable_pods(node).is_some_and(|max| state.pods + 1 > max) {
        return Err(Unfit::TooManyPods);
    }
    Ok(())
}

/// The node for `pod`: among those that fit, the one with the fewest pods
/// of the same controlling owner (so a workload's replicas spread), then the
/// fewest pods, then the first by name. Returns the index into `nodes`.
pub fn select_node(pod: &Pod, nodes: &[NodeState]) -> Result<usize, FitError> {
    let owner = controller_uid(pod);
    let mut reasons = Vec::new();
    let mut best: Option<(usize, (usize, usize, String))> = None;
    for (i, state) in nodes.iter().enumerate() {
        if let Err(reason) = check(pod, state) {
            reasons.push(reason);
            continue;
        }
        let siblings = owner
            .as_ref()
            .and_then(|o| state.by_owner.get(o).copied())
            .unwrap_or(0);
        let score = (siblings, state.pods, state.name());
        if best.as_ref().is_none_or(|(_, b)| score < *b) {
            best = Some((i, score));
        }
    }
    best.map(|(i, _)| i).ok_or(FitError {
        nodes: nodes.len(),
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Affinity, ContainerPort, NodeAffinity, NodeCondition, NodeSelector, NodeSpec, NodeStatus,
        PodSpec, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn ready_node(name: &str, labels: &[(&str, &str)]) -> Node {
        let mut node = Node::default();
        node.metadata.name = Some(name.into());
        node.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        node.status = Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..NodeCondition::default()
            }]),
            ..NodeStatus::default()
        });
        node
    }

    fn pod(name: &str) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some("default".into());
        pod.spec = Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                ..Container::default()
            }],
            ..PodSpec::default()
        });
        pod
    }

    fn owned_by(mut pod: Pod, uid: &str) -> Pod {
        pod.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "rs".into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
        pod
    }

    fn with_selector(mut pod: Pod, selector: &[(&str, &str)]) -> Pod {
        pod.spec.as_mut().expect("spec").node_selector = Some(
            selector
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        pod
    }

    fn states(nodes: Vec<Node>) -> Vec<NodeState> {
        nodes.into_iter().map(NodeState::new).collect()
    }

    fn spec_mut(node: &mut Node) -> &mut NodeSpec {
        node.spec.get_or_insert_with(NodeSpec::default)
    }

    #[test]
    fn replicas_of_one_workload_spread_over_the_nodes() {
        let mut nodes = states(vec![
            ready_node("node-1", &[]),
            ready_node("node-2", &[]),
            ready_node("node-3", &[]),
        ]);
        // node-1 already runs unrelated pods: it is least loaded for the workload all the same.
        nodes[0].add(&pod("other-a"));
        nodes[0].add(&pod("other-b"));
        let mut placed = Vec::new();
        for i in 0..6 {
            let replica = owned_by(pod(&format!("web-{i}")), "rs-1");
            let chosen = select_node(&replica, &nodes).expect("fits");
            nodes[chosen].add(&replica);
            placed.push(nodes[chosen].name());
        }
        assert_eq!(
            placed,
            vec!["node-2", "node-3", "node-1", "node-2", "node-3", "node-1"]
        );
    }

    #[test]
    fn pods_without_an_owner_go_to_the_node_with_fewest_pods() {
        let mut nodes = states(vec![ready_node("a", &[]), ready_node("b", &[])]);
        nodes[0].add(&pod("x"));
        assert_eq!(select_node(&pod("p"), &nodes), Ok(1));
    }

    #[test]
    fn node_selector_is_honoured() {
        let nodes = states(vec![
            ready_node("node-1", &[("disk", "hdd")]),
            ready_node("node-2", &[("disk", "ssd")]),
        ]);
        let p = with_selector(pod("db"), &[("disk", "ssd")]);
        assert_eq!(select_node(&p, &nodes), Ok(1));
    }

    #[test]
    fn no_matching_node_gives_kubernetes_message() {
        let nodes = states(vec![
            ready_node("node-1", &[]),
            ready_node("node-2", &[]),
            ready_node("node-3", &[]),
        ]);
        let p = with_selector(pod("db"), &[("disk", "ssd")]);
        let error = select_node(&p, &nodes).expect_err("no fit");
        assert_eq!(
            error.to_string(),
            "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
        );
    }

    #[test]
    fn mixed_reasons_are_counted_and_sorted() {
        let mut cordoned = ready_node("node-1", &[]);
        spec_mut(&mut cordoned).unschedulable = Some(true);
        let mut tainted = ready_node("node-2", &[]);
        spec_mut(&mut tainted).taints = Some(vec![Taint {
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: "NoSchedule".into(),
            time_added: None,
        }]);
        let mut not_ready = ready_node("node-3", &[]);
        not_ready.status = None;
        let nodes = states(vec![
            cordoned,
            tainted,
            not_ready,
            ready_node("node-4", &[]),
            ready_node("node-5", &[]),
        ]);
        let p = with_selector(pod("p"), &[("zone", "a")]);
        let error = select_node(&p, &nodes).expect_err("no fit");
        assert_eq!(
            error.to_string(),
            "0/5 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, \
             1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, \
             1 node(s) were unschedulable, \
             2 node(s) didn't match Pod's node affinity/selector."
        );
    }

    #[test]
    fn an_empty_cluster_has_its_own_message() {
        let error = select_node(&pod("p"), &[]).expect_err("no nodes");
        assert_eq!(error.to_string(), "no nodes available to schedule pods");
    }

    #[test]
    fn tolerations_open_tainted_and_cordoned_nodes() {
        let mut node = ready_node("n", &[]);
        spec_mut(&mut node).unschedulable = Some(true);
        spec_mut(&mut node).taints = Some(vec![Taint {
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: "NoExecute".into(),
            time_added: None,
        }]);
        let nodes = states(vec![node]);
        let mut p = pod("p");
        p.spec.as_mut().expect("spec").tolerations = Some(vec![
            Toleration {
                key: Some("dedicated".into()),
                operator: Some("Equal".into()),
                value: Some("gpu".into()),
                ..Toleration::default()
            },
            Toleration {
                key: Some(TAINT_UNSCHEDULABLE.into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Toleration::default()
            },
        ]);
        assert_eq!(select_node(&p, &nodes), Ok(0));
        // A toleration for another value does not help.
        p.spec
            .as_mut()
            .expect("spec")
            .tolerations
            .as_mut()
            .expect("list")[0]
            .value = Some("tpu".into());
        assert_eq!(
            check(&p, &nodes[0]),
            Err(Unfit::UntoleratedTaint {
                key: "dedicated".into(),
                value: "gpu".into()
            })
        );
    }

    #[test]
    fn an_empty_key_exists_toleration_tolerates_everything() {
        let mut node = ready_node("n", &[]);
        node.status = None;
        let state = NodeState::new(node);
        let mut p = pod("p");
        p.spec.as_mut().expect("spec").tolerations = Some(vec![Toleration {
            operator: Some("Exists".into()),
            ..Toleration::default()
        }]);
        assert_eq!(check(&p, &state), Ok(()));
    }

    #[test]
    fn prefer_no_schedule_taints_do_not_filter() {
        let mut node = ready_node("n", &[]);
        spec_mut(&mut node).taints = Some(vec![Taint {
            key: "soft".into(),
            value: None,
            effect: "PreferNoSchedule".into(),
            time_added: None,
        }]);
        assert_eq!(check(&pod("p"), &NodeState::new(node)), Ok(()));
    }

    #[test]
    fn an_unknown_ready_condition_reads_as_unreachable() {
        let mut node = ready_node("n", &[]);
        node.status.as_mut().expect("status").conditions = Some(vec![NodeCondition {
            type_: "Ready".into(),
            status: "Unknown".into(),
            ..NodeCondition::default()
        }]);
        assert_eq!(
            check(&pod("p"), &NodeState::new(node)),
            Err(Unfit::UntoleratedTaint {
                key: TAINT_UNREACHABLE.into(),
                value: String::new()
            })
        );
    }

    fn required_affinity(terms: Vec<NodeSelectorTerm>) -> Affinity {
        Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: terms,
                }),
                ..NodeAffinity::default()
            }),
            ..Affinity::default()
        }
    }

    fn requirement(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn required_node_affinity_terms_are_ored_and_their_expressions_anded() {
        let nodes = states(vec![
            ready_node("a", &[("zone", "z1"), ("cores", "4")]),
            ready_node("b", &[("zone", "z2"), ("cores", "16")]),
            ready_node("c", &[("zone", "z3")]),
        ]);
        let mut p = pod("p");
        p.spec.as_mut().expect("spec").affinity = Some(required_affinity(vec![
            NodeSelectorTerm {
                match_expressions: Some(vec![
                    requirement("zone", "In", &["z1", "z2"]),
                    requirement("cores", "Gt", &["8"]),
                ]),
                match_fields: None,
            },
            NodeSelectorTerm {
                match_expressions: None,
                match_fields: Some(vec![requirement("metadata.name", "In", &["c"])]),
            },
        ]));
        let fits: Vec<bool> = nodes.iter().map(|n| check(&p, n).is_ok()).collect();
        assert_eq!(fits, vec![false, true, true]);
    }

    #[test]
    fn selector_operators_follow_kubernetes() {
        let has = |v: Option<&str>, op: &str, values: &[&str]| {
            requirement_matches(&requirement("k", op, values), v)
        };
        assert!(has(None, "NotIn", &["x"]));
        assert!(has(Some("y"), "NotIn", &["x"]));
        assert!(!has(Some("x"), "NotIn", &["x"]));
        assert!(has(None, "DoesNotExist", &[]));
        assert!(!has(Some(""), "DoesNotExist", &[]));
        assert!(has(Some(""), "Exists", &[]));
        assert!(!has(Some("abc"), "Gt", &["1"]));
        assert!(has(Some("2"), "Gt", &["1"]));
        assert!(has(Some("-3"), "Lt", &["1"]));
        assert!(!has(Some("2"), "Gt", &["1", "0"]));
        assert!(!has(Some("2"), "Bogus", &["2"]));
        let empty = NodeSelectorTerm::default();
        assert!(!term_matches(&empty, &ready_node("n", &[])));
    }

    fn with_host_port(mut pod: Pod, port: i32, ip: Option<&str>) -> Pod {
        pod.spec.as_mut().expect("spec").containers[0].ports = Some(vec![ContainerPort {
            container_port: 8080,
            host_port: Some(port),
            host_ip: ip.map(str::to_string),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]);
        pod
    }

    #[test]
    fn host_ports_in_use_keep_a_second_pod_off_the_node() {
        let mut nodes = states(vec![ready_node("a", &[]), ready_node("b", &[])]);
        nodes[0].add(&with_host_port(pod("first"), 8080, None));
        let second = with_host_port(pod("second"), 8080, Some("10.0.0.1"));
        assert_eq!(check(&second, &nodes[0]), Err(Unfit::HostPorts));
        assert_eq!(select_node(&second, &nodes), Ok(1));
        nodes[1].add(&second);
        let error = select_node(&with_host_port(pod("third"), 8080, None), &nodes)
            .expect_err("no free port");
        assert_eq!(
            error.to_string(),
            "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports."
        );
        // Another address of the same port does not conflict with a specific one.
        let mut specific = states(vec![ready_node("c", &[])]);
        specific[0].add(&with_host_port(pod("x"), 9090, Some("10.0.0.1")));
        assert_eq!(
            check(
                &with_host_port(pod("y"), 9090, Some("10.0.0.2")),
                &specific[0]
            ),
            Ok(())
        );
    }

    #[test]
    fn the_allocatable_pod_count_is_a_limit() {
        let mut node = ready_node("n", &[]);
        node.status.as_mut().expect("status").allocatable =
            Some([("pods".to_string(), Quantity("1".into()))].into());
        let mut state = NodeState::new(node);
        assert_eq!(check(&pod("a"), &state), Ok(()));
        state.add(&pod("a"));
        assert_eq!(check(&pod("b"), &state), Err(Unfit::TooManyPods));
    }

    #[test]
    fn only_unbound_live_pods_of_this_scheduler_need_scheduling() {
        let p = pod("p");
        assert!(needs_scheduling(&p, "default-scheduler"));
        assert!(!needs_scheduling(&p, "my-scheduler"));
        let mut bound = pod("b");
        bound.spec.as_mut().expect("spec").node_name = Some("n".into());
        assert!(!needs_scheduling(&bound, "default-scheduler"));
        let mut done = pod("d");
        done.status = Some(PodStatus {
            phase: Some("Succeeded".into()),
            ..PodStatus::default()
        });
        assert!(!needs_scheduling(&done, "default-scheduler"));
        let mut deleting = pod("x");
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ));
        assert!(!needs_scheduling(&deleting, "default-scheduler"));
        let mut gated = pod("g");
        gated.spec.as_mut().expect("spec").scheduling_gates =
            Some(vec![k8s_openapi::api::core::v1::PodSchedulingGate {
                name: "wait".into(),
            }]);
        assert!(!needs_scheduling(&gated, "default-scheduler"));
    }
}

//! Node IPAM: every Node gets a pod CIDR (`spec.podCIDR` and `spec.podCIDRs`)
//! from the cluster CIDR, like Kubernetes' range allocator.
//!
//! The assignments live on the Nodes only. After a (re)list the allocator is
//! rebuilt from them before anything new is handed out, so a restarted
//! controller keeps every node's CIDR; a Node's CIDR is free again once the
//! Node is deleted (or marked for deletion). When the range is exhausted the
//! node waits, with a warning in the log and a `CIDRNotAvailable` event on
//! the Node, and gets a CIDR as soon as one is released.

mod allocator;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use ipnet::IpNet;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, ResourceExt};
use serde_json::{json, Value};

pub use allocator::{CidrPlan, IpamError, PodCidrAllocator, MAX_NODE_CIDR_BITS};

use crate::error::{is_conflict, is_not_found, ControllerError};
use crate::events::{object_reference, EventRecorder, EventType};

/// The component name on node IPAM's events, as in Kubernetes.
pub const EVENT_COMPONENT: &str = "cidrAllocator";

/// How often nodes whose CIDR could not be written are tried again.
const RETRY_EVERY: Duration = Duration::from_secs(2);

/// Settings of node IPAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIpamConfig {
    /// At most one IPv4 and one IPv6 CIDR; a node's `podCIDRs` follow this order.
    pub cluster_cidrs: Vec<IpNet>,
    pub node_mask_ipv4: u8,
    pub node_mask_ipv6: u8,
    /// Service CIDRs: where they overlap a cluster CIDR, no node gets them.
    pub service_cidrs: Vec<IpNet>,
}

impl Default for NodeIpamConfig {
    fn default() -> Self {
        NodeIpamConfig {
            cluster_cidrs: vec!["10.244.0.0/16".parse().expect("valid CIDR")],
            node_mask_ipv4: 24,
            node_mask_ipv6: 64,
            service_cidrs: vec!["10.96.0.0/16".parse().expect("valid CIDR")],
        }
    }
}

impl NodeIpamConfig {
    pub fn plan(&self) -> CidrPlan {
        CidrPlan {
            cluster_cidrs: self.cluster_cidrs.clone(),
            node_mask_ipv4: self.node_mask_ipv4,
            node_mask_ipv6: self.node_mask_ipv6,
            reserved: self.service_cidrs.clone(),
        }
    }
}

/// What node IPAM does about one Node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeAction {
    /// The node has its CIDRs (or is gone); nothing to write.
    Nothing,
    /// Write these CIDRs to the node.
    Assign(Vec<IpNet>),
    /// The node is being deleted; what it held is free again.
    Released(Vec<IpNet>),
}

/// A decision and the problems noticed on the way (to be logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: NodeAction,
    pub problems: Vec<IpamError>,
}

/// The pod CIDRs a Node carries: `spec.podCIDRs`, or the single `spec.podCIDR`
/// older writers set.
pub fn node_pod_cidrs(node: &Node) -> Vec<String> {
    let spec = node.spec.as_ref();
    let list = spec
        .and_then(|s| s.pod_cidrs.clone())
        .filter(|l| !l.is_empty());
    match list {
        Some(list) => list,
        None => spec
            .and_then(|s| s.pod_cidr.clone())
            .filter(|c| !c.is_empty())
            .into_iter()
            .collect(),
    }
}

/// Decides about one Node, updating the allocator's books.
pub fn decide(allocator: &mut PodCidrAllocator, node: &Node) -> Result<Decision, IpamError> {
    let name = node.name_any();
    if node.metadata.deletion_timestamp.is_some() {
        return Ok(Decision {
            action: NodeAction::Released(allocator.release(&name)),
            problems: Vec::new(),
        });
    }
    let current = node_pod_cidrs(node);
    if !current.is_empty() {
        return Ok(Decision {
            action: NodeAction::Nothing,
            problems: allocator.observe(&name, &current),
        });
    }
    Ok(Decision {
        action: NodeAction::Assign(allocator.allocate(&name)?),
        problems: Vec::new(),
    })
}

/// The patch that writes `cidrs` to a Node, only onto the version decided on.
pub fn pod_cidr_patch(resource_version: Option<&str>, cidrs: &[IpNet]) -> Value {
    let list: Vec<String> = cidrs.iter().map(IpNet::to_string).collect();
    let mut patch = json!({"spec": {"podCIDR": list.first(), "podCIDRs": list}});
    if let Some(rv) = resource_version {
        patch["metadata"] = json!({"resourceVersion": rv});
    }
    patch
}

/// Runs node IPAM until the watch of Nodes fails for good.
pub async fn run(client: Client, config: NodeIpamConfig) -> Result<(), ControllerError> {
    let plan = config.plan();
    let allocator =
        PodCidrAllocator::new(&plan).map_err(|e| ControllerError::Config(e.to_string()))?;
    let mut controller = NodeIpam {
        api: Api::all(client.clone()),
        recorder: EventRecorder::start(client, EVENT_COMPONENT),
        plan,
        allocator,
        waiting: BTreeMap::new(),
    };
    let mut nodes = watcher(controller.api.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut listed: Vec<Node> = Vec::new();
    let mut retry = tokio::time::interval(RETRY_EVERY);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = nodes.next() => match event {
                None => return Err(ControllerError::WatchEnded { resource: "nodes" }),
                Some(Err(source)) => {
                    tracing::warn!(error = %ControllerError::Watch { resource: "nodes", source }, "node IPAM");
                }
                Some(Ok(watcher::Event::Init)) => listed.clear(),
                Some(Ok(watcher::Event::InitApply(node))) => listed.push(node),
                Some(Ok(watcher::Event::InitDone)) => {
                    controller.rebuild(&listed)?;
                    for node in std::mem::take(&mut listed) {
                        controller.sync(node).await;
                    }
                }
                Some(Ok(watcher::Event::Apply(node))) => controller.sync(node).await,
                Some(Ok(watcher::Event::Delete(node))) => controller.forget(&node.name_any()).await,
            },
            _ = retry.tick() => controller.retry_waiting().await,
        }
    }
}

struct NodeIpam {
    api: Api<Node>,
    recorder: EventRecorder,
    plan: CidrPlan,
    allocator: PodCidrAllocator,
    /// Nodes without a CIDR yet (range exhausted, or the write failed), by name,
    /// with whether their exhaustion has been reported.
    waiting: BTreeMap<String, (Node, bool)>,
}

impl NodeIpam {
    fn rebuild(&mut self, nodes: &[Node]) -> Result<(), ControllerError> {
        let cidrs: Vec<(String, Vec<String>)> = nodes
            .iter()
            .filter(|n| n.metadata.deletion_timestamp.is_none())
            .map(|n| (n.name_any(), node_pod_cidrs(n)))
            .collect();
        let (allocator, problems) = PodCidrAllocator::rebuild(
            &self.plan,
            cidrs.iter().map(|(n, c)| (n.as_str(), c.as_slice())),
        )
        .map_err(|e| ControllerError::Config(e.to_string()))?;
        for problem in problems {
            tracing::warn!(%problem, "node IPAM: a node's existing pod CIDR");
        }
        self.allocator = allocator;
        self.waiting
            .retain(|name, _| nodes.iter().any(|n| &n.name_any() == name));
        tracing::info!(nodes = nodes.len(), free = ?self.allocator.free(), "node IPAM: pod CIDRs rebuilt from the nodes");
        Ok(())
    }

    async fn sync(&mut self, node: Node) {
        let name = node.name_any();
        let decision = match decide(&mut self.allocator, &node) {
            Ok(decision) => decision,
            Err(error) => {
                let reported = self.waiting.get(&name).is_some_and(|(_, r)| *r);
                if !reported {
                    tracing::warn!(node = %name, %error, "node IPAM: the node waits for a pod CIDR");
                    self.recorder.record(
                        object_reference(&node),
                        EventType::Warning,
                        "CIDRNotAvailable",
                        format!("Node {name} status is now: CIDRNotAvailable"),
                    );
                }
                self.waiting.insert(name, (node, true));
                return;
            }
        };
        for problem in &decision.problems {
            tracing::warn!(node = %name, %problem, "node IPAM");
        }
        match decision.action {
            NodeAction::Nothing => {
                self.waiting.remove(&name);
            }
            NodeAction::Released(cidrs) => {
                self.waiting.remove(&name);
                if !cidrs.is_empty() {
                    tracing::info!(node = %name, ?cidrs, "node IPAM: released the pod CIDRs of a node being deleted");
                    self.retry_waiting().await;
                }
            }
            NodeAction::Assign(cidrs) => {
                let patch = pod_cidr_patch(node.metadata.resource_version.as_deref(), &cidrs);
                match self
                    .api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => {
                        tracing::info!(node = %name, ?cidrs, "node IPAM: set the node's pod CIDRs");
                        self.waiting.remove(&name);
                    }
                    Err(error) => {
                        self.allocator.release(&name);
                        if is_conflict(&error) || is_not_found(&error) {
                            // The node changed or went; its next watch event decides again.
                            tracing::debug!(node = %name, %error, "node IPAM: the node changed under the patch");
                            self.waiting.remove(&name);
                        } else {
                            tracing::warn!(node = %name, error = %ControllerError::api(format!("setting the pod CIDRs of node {name}"))(error), "node IPAM: will retry");
                            self.waiting.insert(name, (node, false));
                        }
                    }
                }
            }
        }
    }

    async fn forget(&mut self, name: &str) {
        self.waiting.remove(name);
        let released = self.allocator.release(name);
        if !released.is_empty() {
            tracing::info!(node = %name, cidrs = ?released, "node IPAM: released the pod CIDRs of a deleted node");
            self.retry_waiting().await;
        }
    }

    async fn retry_waiting(&mut self) {
        let waiting: Vec<Node> = self.waiting.values().map(|(n, _)| n.clone()).collect();
        for node in waiting {
            Box::pin(self.sync(node)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn node(name: &str, cidrs: &[&str]) -> Node {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.metadata.resource_version = Some("7".into());
        if !cidrs.is_empty() {
            n.spec = Some(NodeSpec {
                pod_cidr: Some(cidrs[0].into()),
                pod_cidrs: Some(cidrs.iter().map(|c| c.to_string()).collect()),
                ..NodeSpec::default()
            });
        }
        n
    }

    fn allocator() -> PodCidrAllocator {
        PodCidrAllocator::new(&NodeIpamConfig::default().plan()).expect("allocator")
    }

    #[test]
    fn a_node_without_cidrs_is_assigned_one() {
        let mut a = allocator();
        let d = decide(&mut a, &node("n1", &[])).expect("decision");
        assert_eq!(
            d.action,
            NodeAction::Assign(vec!["10.244.0.0/24".parse().expect("cidr")])
        );
    }

    #[test]
    fn a_node_with_cidrs_keeps_them_and_they_are_not_handed_out() {
        let mut a = allocator();
        let d = decide(&mut a, &node("n1", &["10.244.0.0/24"])).expect("decision");
        assert_eq!(d.action, NodeAction::Nothing);
        assert!(d.problems.is_empty());
        let d = decide(&mut a, &node("n2", &[])).expect("decision");
        assert_eq!(
            d.action,
            NodeAction::Assign(vec!["10.244.1.0/24".parse().expect("cidr")])
        );
    }

    #[test]
    fn a_node_being_deleted_gives_its_cidr_back() {
        let mut a = allocator();
        decide(&mut a, &node("n1", &["10.244.0.0/24"])).expect("decision");
        let mut deleting = node("n1", &["10.244.0.0/24"]);
        deleting.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        let d = decide(&mut a, &deleting).expect("decision");
        assert_eq!(
            d.action,
            NodeAction::Released(vec!["10.244.0.0/24".parse().expect("cidr")])
        );
        // Free again, and first in line: nothing was handed out before it.
        let d = decide(&mut a, &node("n2", &[])).expect("decision");
        assert_eq!(
            d.action,
            NodeAction::Assign(vec!["10.244.0.0/24".parse().expect("cidr")])
        );
    }

    #[test]
    fn the_single_pod_cidr_of_older_writers_counts() {
        let mut n = node("n1", &[]);
        n.spec = Some(NodeSpec {
            pod_cidr: Some("10.244.3.0/24".into()),
            ..NodeSpec::default()
        });
        assert_eq!(node_pod_cidrs(&n), vec!["10.244.3.0/24".to_string()]);
    }

    #[test]
    fn the_patch_sets_both_fields_on_the_version_decided_on() {
        let cidrs: Vec<IpNet> = vec![
            "10.244.1.0/24".parse().expect("cidr"),
            "fd00:1::/64".parse().expect("cidr"),
        ];
        assert_eq!(
            pod_cidr_patch(Some("42"), &cidrs),
            json!({
                "metadata": {"resourceVersion": "42"},
                "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:1::/64"]}
            })
        );
    }
}

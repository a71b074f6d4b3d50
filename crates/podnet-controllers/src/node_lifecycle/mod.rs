//! Node lifecycle: a Node whose agent stops renewing its Lease (and posting
//! status) for longer than the grace period gets its conditions set to
//! Unknown and the `node.kubernetes.io/unreachable:NoSchedule` taint; a Node
//! reporting Ready=False gets `node.kubernetes.io/not-ready:NoSchedule`;
//! both go once it is Ready again. As in Kubernetes, "heard from" is when
//! this controller saw the Lease's renewTime (or the Ready heartbeat) move,
//! by its own clock, so clocks of nodes do not matter.

mod decide;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;

pub use decide::{
    decide, Decision, EFFECT_NO_SCHEDULE, MESSAGE_NEVER_UPDATED, MESSAGE_STATUS_UNKNOWN,
    MONITORED_CONDITIONS, REASON_NEVER_UPDATED, REASON_STATUS_UNKNOWN, TAINT_NOT_READY,
    TAINT_UNREACHABLE,
};

use crate::error::{is_conflict, is_not_found, ControllerError};
use crate::watch::events;

/// The namespace of node Leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// Settings of the node lifecycle controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLifecycleConfig {
    /// How long a node may stay silent before it is Unknown (Kubernetes'
    /// `--node-monitor-grace-period`, 40 s).
    pub grace_period: Duration,
    /// How often every node is checked (`--node-monitor-period`, 5 s).
    pub monitor_period: Duration,
}

impl Default for NodeLifecycleConfig {
    fn default() -> Self {
        NodeLifecycleConfig {
            grace_period: Duration::from_secs(40),
            monitor_period: Duration::from_secs(5),
        }
    }
}

/// What the controller knows about one node.
struct Tracked {
    node: Node,
    /// When the controller last heard from the node.
    last_heard: Timestamp,
    /// The Ready condition's heartbeat time as last seen.
    ready_heartbeat: Option<Time>,
}

/// Runs the controller until a watch ends for good.
pub async fn run(client: Client, config: NodeLifecycleConfig) -> Result<(), ControllerError> {
    if config.grace_period.is_zero() || config.monitor_period.is_zero() {
        return Err(ControllerError::Config(
            "node lifecycle: grace and monitor periods must be longer than zero".into(),
        ));
    }
    let nodes_api: Api<Node> = Api::all(client.clone());
    let mut nodes = events(nodes_api.clone(), watcher::Config::default(), "nodes");
    let mut leases = events(
        Api::<Lease>::namespaced(client, NODE_LEASE_NAMESPACE),
        watcher::Config::default(),
        "leases",
    );
    let mut tracked: BTreeMap<String, Tracked> = BTreeMap::new();
    let mut listing: Option<BTreeMap<String, Node>> = None;
    // Lease renewTimes by node, as last seen.
    let mut renewals: BTreeMap<String, Option<MicroTime>> = BTreeMap::new();
    let mut tick = tokio::time::interval(config.monitor_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = nodes.next() => {
                let event = event.ok_or(ControllerError::WatchEnded { resource: "nodes" })?;
                match event {
                    watcher::Event::Init => listing = Some(BTreeMap::new()),
                    watcher::Event::InitApply(node) => {
                        listing.get_or_insert_with(BTreeMap::new).insert(node.name_any(), node);
                    }
                    watcher::Event::InitDone => {
                        let listed = listing.take().unwrap_or_default();
                        tracked.retain(|name, _| listed.contains_key(name));
                        for node in listed.into_values() {
                            observe_node(&mut tracked, node);
                        }
                    }
                    watcher::Event::Apply(node) => {
                        let name = node.name_any();
                        observe_node(&mut tracked, node);
                        if let Some(entry) = tracked.get_mut(&name) {
                            // Taints follow a Ready change at once.
                            reconcile(&nodes_api, entry, config.grace_period).await;
                        }
                    }
                    watcher::Event::Delete(node) => {
                        tracked.remove(&node.name_any());
                    }
                }
            }
            event = leases.next() => {
                let event = event.ok_or(ControllerError::WatchEnded { resource: "leases" })?;
                match event {
                    watcher::Event::Apply(lease) | watcher::Event::InitApply(lease) => {
                        let name = lease.name_any();
                        let renew = lease
                            .spec
                            .as_ref()
                            .and_then(|spec| spec.renew_time.clone());
                        if renewals.get(&name) != Some(&renew) {
                            if let Some(entry) = tracked.get_mut(&name) {
                                entry.last_heard = Timestamp::now();
                            }
                            renewals.insert(name, renew);
                        }
                    }
                    watcher::Event::Delete(lease) => {
                        renewals.remove(&lease.name_any());
                    }
                    watcher::Event::Init | watcher::Event::InitDone => {}
                }
            }
            _ = tick.tick() => {
                for entry in tracked.values_mut() {
                    reconcile(&nodes_api, entry, config.grace_period).await;
                }
            }
        }
    }
}

/// Takes a node's new version in; a newly seen node, or a moved Ready
/// heartbeat, counts as hearing from it.
fn observe_node(tracked: &mut BTreeMap<String, Tracked>, node: Node) {
    let name = node.name_any();
    let heartbeat = ready_heartbeat(&node);
    match tracked.get_mut(&name) {
        Some(entry) => {
            if heartbeat.is_some() && heartbeat != entry.ready_heartbeat {
                entry.last_heard = Timestamp::now();
            }
            entry.ready_heartbeat = heartbeat;
            entry.node = node;
        }
        None => {
            tracked.insert(
                name,
                Tracked {
                    node,
                    last_heard: Timestamp::now(),
                    ready_heartbeat: heartbeat,
                },
            );
        }
    }
}

fn ready_heartbeat(node: &Node) -> Option<Time> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?
        .last_heartbeat_time
        .clone()
}

/// Applies the decision about one node. Writes carry the resourceVersion
/// decided on, so a status the agent posted meanwhile is never overwritten;
/// a conflict is decided again with the next version.
async fn reconcile(api: &Api<Node>, entry: &mut Tracked, grace_period: Duration) {
    if entry.node.metadata.deletion_timestamp.is_some() {
        return;
    }
    let decision = decide(
        &entry.node,
        entry.last_heard,
        Timestamp::now(),
        grace_period,
    );
    if decision.is_nothing() {
        return;
    }
    let name = entry.node.name_any();
    if let Some(conditions) = &decision.conditions {
        let patch = json!({
            "metadata": {"resourceVersion": entry.node.metadata.resource_version},
            "status": {"conditions": conditions},
        });
        match api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(node) => {
                tracing::info!(node = %name, "node lifecycle: the node stopped posting status; conditions Unknown");
                entry.ready_heartbeat = ready_heartbeat(&node);
                entry.node = node;
            }
            Err(error) => {
                report(&name, "set the conditions of", error);
                return;
            }
        }
    }
    // The taints follow the conditions as just written.
    let decision = decide(
        &entry.node,
        entry.last_heard,
        Timestamp::now(),
        grace_period,
    );
    if let Some(taints) = decision.taints {
        let patch = json!({
            "metadata": {"resourceVersion": entry.node.metadata.resource_version},
            "spec": {"taints": taints},
        });
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(node) => {
                let keys: Vec<&str> = taints.iter().map(|t| t.key.as_str()).collect();
                tracing::info!(node = %name, taints = ?keys, "node lifecycle: taints updated");
                entry.node = node;
            }
            Err(error) => report(&name, "set the taints of", error),
        }
    }
}

fn report(name: &str, what: &str, error: kube::Error) {
    if is_conflict(&error) || is_not_found(&error) {
        tracing::debug!(node = %name, %error, "node lifecycle: the node changed under the write");
    } else {
        tracing::warn!(error = %ControllerError::api(format!("{what} node {name}"))(error), "node lifecycle: will retry");
    }
}

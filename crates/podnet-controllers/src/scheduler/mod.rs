//! The scheduler: binds every pod without a node (and addressed to this
//! scheduler) to a node that fits it, through the pods/binding subresource.
//!
//! Placement follows [`fit`]: Kubernetes' filters, then the node with the
//! fewest replicas of the pod's workload, then the fewest pods. Pods are
//! placed one at a time in priority and creation order against one picture
//! of the cluster; bindings go out concurrently, and a pod whose binding is
//! in flight counts on its node until the cache shows it bound. A pod that
//! fits nowhere gets `PodScheduled=False` with reason `Unschedulable`, the
//! reasons in Kubernetes' words, and a `FailedScheduling` event; it is tried
//! again whenever nodes or pods change.

pub mod fit;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::{json, Value};
use tokio::sync::{Notify, Semaphore};

use crate::error::{is_conflict, is_not_found, ControllerError};
use crate::events::{object_reference, EventRecorder, EventType};
use crate::watch;

pub use fit::{FitError, NodeState, Unfit};

/// The scheduler name pods get by default.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// A failed binding is tried again after this long.
const BIND_RETRY_AFTER: Duration = Duration::from_millis(500);

/// Settings of the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Pods whose `spec.schedulerName` is this one are scheduled.
    pub scheduler_name: String,
    /// Bindings in flight at most.
    pub concurrent_bindings: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            scheduler_name: DEFAULT_SCHEDULER.to_string(),
            concurrent_bindings: 16,
        }
    }
}

/// The order pods are placed in: higher priority first, then older first.
pub fn queue_order(a: &Pod, b: &Pod) -> std::cmp::Ordering {
    let priority = |p: &Pod| p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    priority(b)
        .cmp(&priority(a))
        .then_with(|| created(a).cmp(&created(b)))
        .then_with(|| a.namespace().cmp(&b.namespace()))
        .then_with(|| a.name_any().cmp(&b.name_any()))
}

/// The PodScheduled condition to write for a pod that fits nowhere, or
/// `None` when the pod already says exactly that. The transition time stays
/// when the condition was already False, as Kubernetes keeps it.
pub fn unschedulable_condition(pod: &Pod, message: &str, now: Timestamp) -> Option<PodCondition> {
    let current = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    if let Some(c) = current {
        if c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
            && c.message.as_deref() == Some(message)
        {
            return None;
        }
    }
    let since = current
        .filter(|c| c.status == "False")
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    Some(PodCondition {
        type_: "PodScheduled".into(),
        status: "False".into(),
        reason: Some("Unschedulable".into()),
        message: Some(message.to_string()),
        last_transition_time: Some(since),
        last_probe_time: None,
        observed_generation: None,
    })
}

/// The body of a pods/binding request.
pub fn binding(pod: &Pod, node: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": pod.name_any(), "namespace": pod.namespace(), "uid": pod.uid()},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    })
}

/// The picture of the cluster one scheduling pass works on: every node with
/// the pods placed on it, bound or assumed.
pub fn cluster_state(
    nodes: &[Arc<Node>],
    pods: &[Arc<Pod>],
    assumed: &HashMap<String, String>,
) -> Vec<NodeState> {
    let mut states: Vec<NodeState> = nodes
        .iter()
        .filter(|n| n.metadata.deletion_timestamp.is_none())
        .map(|n| NodeState::new(Node::clone(n)))
        .collect();
    states.sort_by_key(NodeState::name);
    let index: HashMap<String, usize> = states
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name(), i))
        .collect();
    for pod in pods.iter().filter(|p| !fit::is_terminal(p)) {
        let bound = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| !n.is_empty());
        let node = bound.or_else(|| {
            pod.uid()
                .and_then(|uid| assumed.get(&uid))
                .map(String::as_str)
        });
        if let Some(i) = node.and_then(|n| index.get(n)) {
            states[*i].add(pod);
        }
    }
    states
}

/// Runs the scheduler until a watch fails for good.
pub async fn run(client: Client, config: SchedulerConfig) -> Result<(), ControllerError> {
    if config.concurrent_bindings == 0 {
        return Err(ControllerError::Config(
            "the scheduler needs at least one binding in flight".into(),
        ));
    }
    let (pods, pod_writer) = reflector::store::<Pod>();
    let (nodes, node_writer) = reflector::store::<Node>();
    let wake = Arc::new(Notify::new());
    let scheduler = Scheduler {
        recorder: EventRecorder::start(client.clone(), &config.scheduler_name),
        bindings: Arc::new(Semaphore::new(config.concurrent_bindings)),
        client: client.clone(),
        config,
        pods,
        nodes,
        wake: wake.clone(),
        assumed: Arc::new(Mutex::new(HashMap::new())),
    };
    tokio::select! {
        error = watch::reflect(Api::all(client.clone()), watcher::Config::default(), pod_writer, wake.clone(), "pods") => Err(error),
        error = watch::reflect(Api::all(client), watcher::Config::default(), node_writer, wake, "nodes") => Err(error),
        result = scheduler.run() => result,
    }
}

struct Scheduler {
    client: Client,
    config: SchedulerConfig,
    pods: Store<Pod>,
    nodes: Store<Node>,
    wake: Arc<Notify>,
    /// Pods (uid) whose binding was sent, and their node, until the cache shows them bound.
    assumed: Arc<Mutex<HashMap<String, String>>>,
    bindings: Arc<Semaphore>,
    recorder: EventRecorder,
}

impl Scheduler {
    async fn run(&self) -> Result<(), ControllerError> {
        for (store_ready, resource) in [
            (self.pods.wait_until_ready().await, "pods"),
            (self.nodes.wait_until_ready().await, "nodes"),
        ] {
            store_ready.map_err(|_| ControllerError::WatchEnded { resource })?;
        }
        loop {
            self.pass().await;
            self.wake.notified().await;
        }
    }

    /// Places every pending pod once.
    async fn pass(&self) {
        let nodes = self.nodes.state();
        let pods = self.pods.state();
        let mut to_bind = Vec::new();
        let mut unfit = Vec::new();
        {
            let mut assumed = self.assumed.lock().unwrap_or_else(PoisonError::into_inner);
            let unbound: HashSet<String> = pods
                .iter()
                .filter(|p| {
                    p.spec
                        .as_ref()
                        .and_then(|s| s.node_name.as_deref())
                        .unwrap_or("")
                        .is_empty()
                })
                .filter_map(|p| p.uid())
                .collect();
            assumed.retain(|uid, _| unbound.contains(uid));
            let mut states = cluster_state(&nodes, &pods, &assumed);
            let mut pending: Vec<&Arc<Pod>> = pods
                .iter()
                .filter(|p| fit::needs_scheduling(p, &self.config.scheduler_name))
                .filter(|p| p.uid().is_some_and(|uid| !assumed.contains_key(&uid)))
                .collect();
            pending.sort_by(|a, b| queue_order(a, b));
            for pod in pending {
                match fit::select_node(pod, &states) {
                    Ok(i) => {
                        states[i].add(pod);
                        let node = states[i].name();
                        if let Some(uid) = pod.uid() {
                            assumed.insert(uid, node.clone());
                        }
                        to_bind.push((Arc::clone(pod), node));
                    }
                    Err(error) => unfit.push((Arc::clone(pod), error)),
                }
            }
        }
        for (pod, node) in to_bind {
            self.bind(pod, node).await;
        }
        for (pod, error) in unfit {
            self.report_unschedulable(&pod, &error).await;
        }
    }

    async fn bind(&self, pod: Arc<Pod>, node: String) {
        // The semaphore is never closed, so acquiring only waits for a free slot.
        let Ok(permit) = Arc::clone(&self.bindings).acquire_owned().await else {
            return;
        };
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let assumed = Arc::clone(&self.assumed);
        let wake = Arc::clone(&self.wake);
        let recorder = self.recorder.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let name = pod.name_any();
            let namespace = pod.namespace().unwrap_or_default();
            match api
                .create_subresource::<Value, Value>(
                    "binding",
                    &name,
                    &PostParams::default(),
                    &binding(&pod, &node),
                )
                .await
            {
                Ok(_) => {
                    tracing::debug!(pod = %name, %namespace, %node, "scheduler: bound");
                    recorder.record(
                        object_reference(pod.as_ref()),
                        EventType::Normal,
                        "Scheduled",
                        format!("Successfully assigned {namespace}/{name} to {node}"),
                    );
                }
                Err(error) => {
                    if let Some(uid) = pod.uid() {
                        assumed
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&uid);
                    }
                    if is_not_found(&error) || is_conflict(&error) {
                        // Gone, or bound meanwhile: the pod's next watch event says which.
                        tracing::debug!(pod = %name, %namespace, %error, "scheduler: binding refused");
                    } else {
                        tracing::warn!(pod = %name, %namespace, %node, %error, "scheduler: binding failed; will retry");
                        tokio::time::sleep(BIND_RETRY_AFTER).await;
                        wake.notify_one();
                    }
                }
            }
        });
    }

    async fn report_unschedulable(&self, pod: &Pod, error: &FitError) {
        let message = error.to_string();
        let Some(condition) = unschedulable_condition(pod, &message, Timestamp::now()) else {
            return;
        };
        let name = pod.name_any();
        let namespace = pod.namespace().unwrap_or_default();
        tracing::info!(pod = %name, %namespace, %message, "scheduler: unschedulable");
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &namespace);
        let patch = json!({"status": {"conditions": [condition]}});
        if let Err(error) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            if !is_not_found(&error) {
                tracing::warn!(pod = %name, %namespace, %error, "scheduler: could not write the Unschedulable condition");
            }
            return;
        }
        self.recorder.record(
            object_reference(pod),
            EventType::Warning,
            "FailedScheduling",
            message,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};

    fn pod(name: &str, uid: &str, node: Option<&str>) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some("default".into());
        pod.metadata.uid = Some(uid.into());
        pod.spec = Some(PodSpec {
            node_name: node.map(str::to_string),
            ..PodSpec::default()
        });
        pod
    }

    fn node(name: &str) -> Node {
        let mut node = Node::default();
        node.metadata.name = Some(name.into());
        node
    }

    #[test]
    fn the_cluster_state_counts_bound_and_assumed_pods_but_not_ended_ones() {
        let nodes = vec![Arc::new(node("b")), Arc::new(node("a"))];
        let mut ended = pod("done", "u3", Some("a"));
        ended.status = Some(PodStatus {
            phase: Some("Succeeded".into()),
            ..PodStatus::default()
        });
        let pods = vec![
            Arc::new(pod("bound", "u1", Some("a"))),
            Arc::new(pod("in-flight", "u2", None)),
            Arc::new(ended),
            Arc::new(pod("elsewhere", "u4", Some("gone"))),
        ];
        let assumed = HashMap::from([("u2".to_string(), "b".to_string())]);
        let states = cluster_state(&nodes, &pods, &assumed);
        let counts: Vec<(String, usize)> = states.iter().map(|s| (s.name(), s.pods)).collect();
        assert_eq!(counts, vec![("a".into(), 1), ("b".into(), 1)]);
    }

    #[test]
    fn higher_priority_then_older_pods_go_first() {
        let mut old = pod("old", "1", None);
        old.metadata.creation_timestamp = Some(Time(Timestamp::from_second(100).expect("ts")));
        let mut new = pod("new", "2", None);
        new.metadata.creation_timestamp = Some(Time(Timestamp::from_second(200).expect("ts")));
        let mut urgent = pod("urgent", "3", None);
        urgent.metadata.creation_timestamp = Some(Time(Timestamp::from_second(300).expect("ts")));
        urgent.spec.as_mut().expect("spec").priority = Some(1000);
        let mut queue = [&new, &urgent, &old];
        queue.sort_by(|a, b| queue_order(a, b));
        let names: Vec<String> = queue.iter().map(|p| p.name_any()).collect();
        assert_eq!(names, vec!["urgent", "old", "new"]);
    }

    #[test]
    fn the_unschedulable_condition_is_written_once_per_message() {
        let now = Timestamp::from_second(1_000).expect("ts");
        let mut p = pod("p", "u", None);
        let first = unschedulable_condition(&p, "0/1 nodes are available: x.", now).expect("new");
        assert_eq!(first.reason.as_deref(), Some("Unschedulable"));
        assert_eq!(first.status, "False");
        p.status = Some(PodStatus {
            conditions: Some(vec![first.clone()]),
            ..PodStatus::default()
        });
        assert_eq!(
            unschedulable_condition(&p, "0/1 nodes are available: x.", now),
            None
        );
        let later = Timestamp::from_second(2_000).expect("ts");
        let changed =
            unschedulable_condition(&p, "0/2 nodes are available: y.", later).expect("changed");
        // Still False: the transition time is the first one.
        assert_eq!(changed.last_transition_time, Some(Time(now)));
    }

    #[test]
    fn the_binding_names_the_pod_and_the_node() {
        let b = binding(&pod("web", "u1", None), "node-2");
        assert_eq!(b["kind"], "Binding");
        assert_eq!(b["metadata"]["name"], "web");
        assert_eq!(b["metadata"]["uid"], "u1");
        assert_eq!(
            b["target"],
            json!({"apiVersion": "v1", "kind": "Node", "name": "node-2"})
        );
    }
}

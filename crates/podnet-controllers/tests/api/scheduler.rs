use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use podnet_controllers::scheduler::{self, SchedulerConfig};
use serde_json::{json, Value};

use crate::support::{eventually, Cluster, PATIENCE};

fn pod(name: &str, extra_spec: Value) -> Value {
    let mut manifest = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "podnet"}]},
    });
    if let (Some(spec), Some(extra)) = (manifest["spec"].as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    manifest
}

async fn node_of(cluster: &Cluster, pod: &str) -> Option<String> {
    let pod = cluster.pods().get(pod).await.ok()?;
    pod.spec?.node_name.filter(|n| !n.is_empty())
}

fn scheduled_condition(pod: &Pod) -> Option<PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "PodScheduled")
        .cloned()
}

async fn three_nodes(cluster: &Cluster) {
    cluster.add_node("node-1", json!({"disk": "hdd"})).await;
    cluster.add_node("node-2", json!({"disk": "ssd"})).await;
    cluster.add_node("node-3", json!({"disk": "hdd"})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_is_bound_to_the_node_its_selector_matches() {
    let mut cluster = Cluster::start().await;
    three_nodes(&cluster).await;
    cluster.spawn(scheduler::run(
        cluster.client.clone(),
        SchedulerConfig::default(),
    ));
    cluster
        .create_pod(pod("db", json!({"nodeSelector": {"disk": "ssd"}})))
        .await;
    let node = eventually("db bound", PATIENCE, || node_of(&cluster, "db")).await;
    assert_eq!(node, "node-2");
    let bound = cluster.pods().get("db").await.expect("pod");
    let condition = scheduled_condition(&bound).expect("PodScheduled");
    assert_eq!(condition.status, "True");
    let event = eventually("a Scheduled event", PATIENCE, || async {
        cluster
            .events_about("default", "db")
            .await
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("Scheduled"))
    })
    .await;
    assert_eq!(
        event.message.as_deref(),
        Some("Successfully assigned default/db to node-2")
    );
    assert_eq!(
        event.source.and_then(|s| s.component).as_deref(),
        Some("default-scheduler")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_naming_their_node_or_another_scheduler_are_left_alone() {
    let mut cluster = Cluster::start().await;
    three_nodes(&cluster).await;
    cluster.spawn(scheduler::run(
        cluster.client.clone(),
        SchedulerConfig::default(),
    ));
    cluster
        .create_pod(pod("pinned", json!({"nodeName": "node-3"})))
        .await;
    cluster
        .create_pod(pod("other", json!({"schedulerName": "my-scheduler"})))
        .await;
    cluster.create_pod(pod("plain", json!({}))).await;
    eventually("plain bound", PATIENCE, || node_of(&cluster, "plain")).await;
    assert_eq!(node_of(&cluster, "pinned").await.as_deref(), Some("node-3"));
    assert_eq!(node_of(&cluster, "other").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unschedulable_pod_says_why_and_is_bound_once_a_node_fits() {
    let mut cluster = Cluster::start().await;
    three_nodes(&cluster).await;
    cluster.spawn(scheduler::run(
        cluster.client.clone(),
        SchedulerConfig::default(),
    ));
    cluster
        .create_pod(pod("gpu", json!({"nodeSelector": {"gpu": "yes"}})))
        .await;
    let condition = eventually("an Unschedulable condition", PATIENCE, || async {
        let pod = cluster.pods().get("gpu").await.ok()?;
        scheduled_condition(&pod).filter(|c| c.status == "False")
    })
    .await;
    assert_eq!(condition.reason.as_deref(), Some("Unschedulable"));
    assert_eq!(
        condition.message.as_deref(),
        Some("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")
    );
    let event = eventually("a FailedScheduling event", PATIENCE, || async {
        cluster
            .events_about("default", "gpu")
            .await
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
    })
    .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.message, condition.message);

    let patch = json!({"metadata": {"labels": {"gpu": "yes"}}});
    cluster
        .nodes()
        .patch("node-3", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("label node-3");
    let node = eventually("gpu bound", PATIENCE, || node_of(&cluster, "gpu")).await;
    assert_eq!(node, "node-3");
    let pod = cluster.pods().get("gpu").await.expect("pod");
    assert_eq!(scheduled_condition(&pod).expect("condition").status, "True");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_not_ready_cordoned_or_tainted_get_no_pods() {
    let mut cluster = Cluster::start().await;
    three_nodes(&cluster).await;
    cluster.set_node_ready("node-1", false).await;
    let cordon = json!({"spec": {"unschedulable": true}});
    cluster
        .nodes()
        .patch("node-2", &PatchParams::default(), &Patch::Merge(&cordon))
        .await
        .expect("cordon");
    let taint =
        json!({"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}});
    cluster
        .nodes()
        .patch("node-3", &PatchParams::default(), &Patch::Merge(&taint))
        .await
        .expect("taint");
    cluster.spawn(scheduler::run(
        cluster.client.clone(),
        SchedulerConfig::default(),
    ));
    cluster.create_pod(pod("web", json!({}))).await;
    let condition = eventually("an Unschedulable condition", PATIENCE, || async {
        let pod = cluster.pods().get("web").await.ok()?;
        scheduled_condition(&pod).filter(|c| c.status == "False")
    })
    .await;
    assert_eq!(
        condition.message.as_deref(),
        Some(
            "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, \
             1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, \
             1 node(s) were unschedulable."
        )
    );
    cluster
        .create_pod(pod(
            "db",
            json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]}),
        ))
        .await;
    assert_eq!(
        eventually("db bound", PATIENCE, || node_of(&cluster, "db")).await,
        "node-3"
    );
    cluster.set_node_ready("node-1", true).await;
    assert_eq!(
        eventually("web bound", PATIENCE, || node_of(&cluster, "web")).await,
        "node-1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workloads_replicas_spread_over_the_nodes() {
    let mut cluster = Cluster::start().await;
    three_nodes(&cluster).await;
    let replica_sets: Api<ReplicaSet> = Api::namespaced(cluster.client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "app", "image": "podnet"}]}}
        }
    }))
    .expect("replica set");
    let rs = replica_sets
        .create(&PostParams::default(), &rs)
        .await
        .expect("create replica set");
    // Unrelated pods already load node-1.
    for i in 0..2 {
        cluster
            .create_pod(pod(&format!("other-{i}"), json!({"nodeName": "node-1"})))
            .await;
    }
    cluster.spawn(scheduler::run(
        cluster.client.clone(),
        SchedulerConfig::default(),
    ));
    for i in 0..6 {
        let mut manifest = pod(&format!("web-{i}"), json!({}));
        manifest["metadata"]["labels"] = json!({"app": "web"});
        manifest["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
            "uid": rs.uid().expect("uid"), "controller": true, "blockOwnerDeletion": true
        }]);
        cluster.create_pod(manifest).await;
    }
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..6 {
        let name = format!("web-{i}");
        let node = eventually("a replica bound", PATIENCE, || node_of(&cluster, &name)).await;
        *per_node.entry(node).or_default() += 1;
    }
    assert_eq!(
        per_node,
        BTreeMap::from([
            ("node-1".to_string(), 2),
            ("node-2".to_string(), 2),
            ("node-3".to_string(), 2)
        ])
    );
}

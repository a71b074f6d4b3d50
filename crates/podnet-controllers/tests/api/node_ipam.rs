use std::collections::HashSet;

use ipnet::IpNet;
use kube::api::DeleteParams;
use podnet_controllers::node_ipam::{self, NodeIpamConfig};
use serde_json::json;

use crate::support::{eventually, Cluster, PATIENCE};

async fn pod_cidrs(cluster: &Cluster, node: &str) -> Option<Vec<String>> {
    let node = cluster.nodes().get(node).await.ok()?;
    let spec = node.spec?;
    let cidrs = spec.pod_cidrs.filter(|c| !c.is_empty())?;
    assert_eq!(spec.pod_cidr.as_ref(), cidrs.first());
    Some(cidrs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_get_distinct_pod_cidrs_that_survive_a_restart() {
    let mut cluster = Cluster::start().await;
    cluster.spawn(node_ipam::run(
        cluster.client.clone(),
        NodeIpamConfig::default(),
    ));
    for i in 1..=3 {
        cluster.add_node(&format!("node-{i}"), json!({})).await;
    }
    let mut assigned = Vec::new();
    for i in 1..=3 {
        let name = format!("node-{i}");
        let cidrs = eventually("a pod CIDR", PATIENCE, || pod_cidrs(&cluster, &name)).await;
        assert_eq!(cidrs.len(), 1);
        let net: IpNet = cidrs[0].parse().expect("a CIDR");
        assert_eq!(net.prefix_len(), 24);
        assert!("10.244.0.0/16"
            .parse::<IpNet>()
            .expect("cidr")
            .contains(&net));
        assigned.push(cidrs[0].clone());
    }
    assert_eq!(
        assigned.iter().collect::<HashSet<_>>().len(),
        3,
        "{assigned:?}"
    );

    // A new controller learns the assignments from the nodes and keeps them.
    cluster.stop_controllers().await;
    cluster.add_node("node-4", json!({})).await;
    cluster.spawn(node_ipam::run(
        cluster.client.clone(),
        NodeIpamConfig::default(),
    ));
    let fourth = eventually("node-4's pod CIDR", PATIENCE, || {
        pod_cidrs(&cluster, "node-4")
    })
    .await;
    assert!(
        !assigned.contains(&fourth[0]),
        "{fourth:?} reused one of {assigned:?}"
    );
    for (i, cidr) in assigned.iter().enumerate() {
        let now = pod_cidrs(&cluster, &format!("node-{}", i + 1)).await;
        assert_eq!(now.as_deref(), Some(std::slice::from_ref(cidr)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_range_waits_with_an_event_until_a_node_goes() {
    let mut cluster = Cluster::start().await;
    let config = NodeIpamConfig {
        cluster_cidrs: vec!["10.250.0.0/23".parse().expect("cidr")],
        ..NodeIpamConfig::default()
    };
    cluster.spawn(node_ipam::run(cluster.client.clone(), config));
    cluster.add_node("a", json!({})).await;
    let first = eventually("a's CIDR", PATIENCE, || pod_cidrs(&cluster, "a")).await;
    cluster.add_node("b", json!({})).await;
    eventually("b's CIDR", PATIENCE, || pod_cidrs(&cluster, "b")).await;
    cluster.add_node("c", json!({})).await;
    let event = eventually("a CIDRNotAvailable event", PATIENCE, || async {
        cluster
            .events_about("default", "c")
            .await
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("CIDRNotAvailable"))
    })
    .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(
        event.message.as_deref(),
        Some("Node c status is now: CIDRNotAvailable")
    );
    assert_eq!(event.involved_object.kind.as_deref(), Some("Node"));
    assert_eq!(pod_cidrs(&cluster, "c").await, None);

    cluster
        .nodes()
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete node a");
    let third = eventually("c's CIDR after a went", PATIENCE, || {
        pod_cidrs(&cluster, "c")
    })
    .await;
    assert_eq!(third, first);
}

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use podnet_controllers::node_lifecycle::{self, NodeLifecycleConfig};
use serde_json::json;

use crate::support::{eventually, Cluster, PATIENCE};

fn ready(node: &Node) -> Option<(String, String, String)> {
    let condition = node
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    Some((
        condition.status.clone(),
        condition.reason.clone().unwrap_or_default(),
        condition.message.clone().unwrap_or_default(),
    ))
}

fn taint_keys(node: &Node) -> Vec<String> {
    node.spec
        .as_ref()
        .and_then(|spec| spec.taints.as_ref())
        .map(|taints| {
            taints
                .iter()
                .map(|t| format!("{}:{}", t.key, t.effect))
                .collect()
        })
        .unwrap_or_default()
}

/// Posts the Ready condition with a fresh heartbeat, as an agent does.
async fn post_ready(cluster: &Cluster, status: &str) {
    let reason = if status == "True" {
        "KubeletReady"
    } else {
        "KubeletNotReady"
    };
    let patch = json!({"status": {"conditions": [{
        "type": "Ready", "status": status, "reason": reason,
        "lastHeartbeatTime": Timestamp::now().to_string(),
        "lastTransitionTime": Timestamp::now().to_string(),
    }]}});
    cluster
        .nodes()
        .patch_status("n1", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("post node status");
}

/// Renews `name`'s Lease every 200 ms while `renewing` is set, as an agent does.
fn heartbeat(
    leases: Api<Lease>,
    name: &'static str,
    renewing: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40},
        }))
        .expect("lease");
        let mut lease = leases
            .create(&PostParams::default(), &lease)
            .await
            .expect("create lease");
        loop {
            if renewing.load(Ordering::SeqCst) {
                lease.spec.as_mut().expect("spec").renew_time = Some(MicroTime(Timestamp::now()));
                lease = leases
                    .replace(name, &PostParams::default(), &lease)
                    .await
                    .expect("renew lease");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_goes_unknown_and_unreachable_and_comes_back() {
    let mut cluster = Cluster::start().await;
    cluster.spawn(node_lifecycle::run(
        cluster.client.clone(),
        NodeLifecycleConfig {
            grace_period: Duration::from_secs(1),
            monitor_period: Duration::from_millis(100),
        },
    ));
    cluster.add_node("n1", json!({})).await;
    let leases: Api<Lease> = Api::namespaced(cluster.client.clone(), "kube-node-lease");
    let renewing = Arc::new(AtomicBool::new(true));
    let beat = heartbeat(leases, "n1", renewing.clone());

    // Heard from: stays Ready and untainted well past the grace period.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let node = cluster.nodes().get("n1").await.expect("node");
    assert_eq!(ready(&node).expect("ready").0, "True");
    assert!(taint_keys(&node).is_empty(), "{:?}", taint_keys(&node));

    // Silent: Unknown with Kubernetes' reason and message, and unreachable.
    renewing.store(false, Ordering::SeqCst);
    let node = eventually("Ready=Unknown", PATIENCE, || async {
        let node = cluster.nodes().get("n1").await.ok()?;
        (ready(&node)?.0 == "Unknown" && !taint_keys(&node).is_empty()).then_some(node)
    })
    .await;
    let (_, reason, message) = ready(&node).expect("ready");
    assert_eq!(reason, "NodeStatusUnknown");
    assert_eq!(message, "Kubelet stopped posting node status.");
    let pressure = node.status.as_ref().unwrap().conditions.as_ref().unwrap();
    assert!(
        pressure.iter().all(|c| c.status == "Unknown"),
        "{pressure:?}"
    );
    assert_eq!(
        taint_keys(&node),
        ["node.kubernetes.io/unreachable:NoSchedule"]
    );

    // Back: the agent renews and posts Ready, the taint goes.
    renewing.store(true, Ordering::SeqCst);
    post_ready(&cluster, "True").await;
    eventually("the unreachable taint removed", PATIENCE, || async {
        let node = cluster.nodes().get("n1").await.ok()?;
        (ready(&node)?.0 == "True" && taint_keys(&node).is_empty()).then_some(())
    })
    .await;

    // Ready=False while heard from: not-ready, not unreachable.
    post_ready(&cluster, "False").await;
    let node = eventually("the not-ready taint", PATIENCE, || async {
        let node = cluster.nodes().get("n1").await.ok()?;
        (!taint_keys(&node).is_empty()).then_some(node)
    })
    .await;
    assert_eq!(
        taint_keys(&node),
        ["node.kubernetes.io/not-ready:NoSchedule"]
    );
    assert_eq!(ready(&node).expect("ready").0, "False");
    beat.abort();
}

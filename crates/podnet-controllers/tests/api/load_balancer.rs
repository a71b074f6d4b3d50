use k8s_openapi::api::core::v1::{Event, Service};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
use podnet_controllers::load_balancer::{self, LoadBalancerConfig};
use serde_json::{json, Value};

use crate::support::{eventually, Cluster, PATIENCE};

fn config(pool: &str) -> LoadBalancerConfig {
    LoadBalancerConfig {
        pools: vec![pool.parse().expect("pool CIDR")],
    }
}

fn services(cluster: &Cluster) -> Api<Service> {
    Api::namespaced(cluster.client.clone(), "default")
}

async fn create_service(cluster: &Cluster, name: &str, spec: Value) {
    let mut spec = spec;
    spec["ports"] = json!([{"port": 80, "protocol": "TCP"}]);
    spec["selector"] = json!({"app": name});
    let service: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("service");
    services(cluster)
        .create(&PostParams::default(), &service)
        .await
        .expect("create service");
}

/// `(ip, ipMode)` of every ingress entry.
async fn ingress(cluster: &Cluster, name: &str) -> Vec<(String, String)> {
    let service = services(cluster).get(name).await.expect("get service");
    load_balancer::ingress(&service)
        .into_iter()
        .map(|entry| {
            (
                entry.ip.unwrap_or_default(),
                entry.ip_mode.unwrap_or_default(),
            )
        })
        .collect()
}

async fn assigned_ip(cluster: &Cluster, name: &str) -> String {
    let entries = eventually(&format!("an address for {name}"), PATIENCE, || async {
        Some(ingress(cluster, name).await).filter(|entries| !entries.is_empty())
    })
    .await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].1, "VIP");
    entries[0].0.clone()
}

async fn event(cluster: &Cluster, name: &str, reason: &str) -> Event {
    eventually(
        &format!("a {reason} event about {name}"),
        PATIENCE,
        || async {
            cluster
                .events_about("default", name)
                .await
                .into_iter()
                .find(|e| e.reason.as_deref() == Some(reason))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancers_get_pool_addresses_honour_requests_and_keep_them_across_a_restart() {
    let mut cluster = Cluster::start().await;
    cluster.spawn(load_balancer::run(
        cluster.client.clone(),
        config("172.30.0.64/29"),
    ));

    create_service(&cluster, "web", json!({"type": "LoadBalancer"})).await;
    assert_eq!(assigned_ip(&cluster, "web").await, "172.30.0.65");
    let allocated = event(&cluster, "web", "IPAllocated").await;
    assert_eq!(allocated.type_.as_deref(), Some("Normal"));
    assert_eq!(
        allocated.message.as_deref(),
        Some("Assigned IP [\"172.30.0.65\"]")
    );
    assert_eq!(allocated.involved_object.kind.as_deref(), Some("Service"));

    create_service(
        &cluster,
        "pinned",
        json!({"type": "LoadBalancer", "loadBalancerIP": "172.30.0.69"}),
    )
    .await;
    assert_eq!(assigned_ip(&cluster, "pinned").await, "172.30.0.69");

    create_service(
        &cluster,
        "outside",
        json!({"type": "LoadBalancer", "loadBalancerIP": "10.1.2.3"}),
    )
    .await;
    let refused = event(&cluster, "outside", "AllocationFailed").await;
    assert_eq!(refused.type_.as_deref(), Some("Warning"));
    assert_eq!(
        refused.message.as_deref(),
        Some(
            "Failed to allocate IP for \"default/outside\": spec.loadBalancerIP 10.1.2.3 \
             is not an assignable address of the load-balancer pools (172.30.0.64/29)"
        )
    );
    assert!(ingress(&cluster, "outside").await.is_empty());

    // The same address asked for twice: the first Service keeps it.
    create_service(
        &cluster,
        "twin-1",
        json!({"type": "LoadBalancer", "loadBalancerIP": "172.30.0.70"}),
    )
    .await;
    assert_eq!(assigned_ip(&cluster, "twin-1").await, "172.30.0.70");
    create_service(
        &cluster,
        "twin-2",
        json!({"type": "LoadBalancer", "loadBalancerIP": "172.30.0.70"}),
    )
    .await;
    let taken = event(&cluster, "twin-2", "AllocationFailed").await;
    assert!(
        taken.message.as_deref().is_some_and(|m| m.ends_with(
            "spec.loadBalancerIP 172.30.0.70 is already assigned to service default/twin-1"
        )),
        "{:?}",
        taken.message
    );

    // Another class and other types are never touched.
    create_service(
        &cluster,
        "foreign",
        json!({"type": "LoadBalancer", "loadBalancerClass": "example.com/other"}),
    )
    .await;
    create_service(&cluster, "plain", json!({"type": "ClusterIP"})).await;
    create_service(&cluster, "after", json!({"type": "LoadBalancer"})).await;
    // Services are handled in order, so once "after" has its address the
    // controller has seen the two before it.
    assert_eq!(assigned_ip(&cluster, "after").await, "172.30.0.66");
    for name in ["foreign", "plain"] {
        assert!(ingress(&cluster, name).await.is_empty(), "{name}");
        assert!(
            cluster.events_about("default", name).await.is_empty(),
            "{name}"
        );
    }

    // A new controller learns the addresses from the statuses.
    cluster.stop_controllers().await;
    create_service(&cluster, "late", json!({"type": "LoadBalancer"})).await;
    cluster.spawn(load_balancer::run(
        cluster.client.clone(),
        config("172.30.0.64/29"),
    ));
    assert_eq!(assigned_ip(&cluster, "late").await, "172.30.0.67");
    for (name, ip) in [
        ("web", "172.30.0.65"),
        ("pinned", "172.30.0.69"),
        ("twin-1", "172.30.0.70"),
        ("after", "172.30.0.66"),
    ] {
        assert_eq!(
            ingress(&cluster, name).await,
            vec![(ip.to_string(), "VIP".to_string())],
            "{name}"
        );
    }
    assert!(ingress(&cluster, "twin-2").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_waits_until_a_service_is_deleted_or_stops_being_a_load_balancer() {
    let mut cluster = Cluster::start().await;
    cluster.spawn(load_balancer::run(
        cluster.client.clone(),
        config("172.30.0.64/30"),
    ));
    create_service(&cluster, "a", json!({"type": "LoadBalancer"})).await;
    assert_eq!(assigned_ip(&cluster, "a").await, "172.30.0.65");
    create_service(&cluster, "b", json!({"type": "LoadBalancer"})).await;
    assert_eq!(assigned_ip(&cluster, "b").await, "172.30.0.66");
    create_service(&cluster, "c", json!({"type": "LoadBalancer"})).await;
    let exhausted = event(&cluster, "c", "AllocationFailed").await;
    assert_eq!(exhausted.type_.as_deref(), Some("Warning"));
    assert_eq!(
        exhausted.message.as_deref(),
        Some(
            "Failed to allocate IP for \"default/c\": no available IP in the \
             load-balancer pools (172.30.0.64/30)"
        )
    );
    assert!(ingress(&cluster, "c").await.is_empty());

    services(&cluster)
        .delete("a", &DeleteParams::default())
        .await
        .expect("delete a");
    assert_eq!(assigned_ip(&cluster, "c").await, "172.30.0.65");

    create_service(&cluster, "d", json!({"type": "LoadBalancer"})).await;
    event(&cluster, "d", "AllocationFailed").await;
    services(&cluster)
        .patch(
            "b",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"type": "ClusterIP"}})),
        )
        .await
        .expect("make b a ClusterIP service");
    eventually("b's ingress cleared", PATIENCE, || async {
        ingress(&cluster, "b").await.is_empty().then_some(())
    })
    .await;
    assert_eq!(assigned_ip(&cluster, "d").await, "172.30.0.66");
}

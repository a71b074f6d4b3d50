use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointSlice};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use podnet_controllers::endpointslice::{self, EndpointSliceConfig};
use serde_json::{json, Value};

use crate::support::{eventually, Cluster, PATIENCE};

fn web_pod(name: &str, named_port: bool) -> Value {
    let ports = if named_port {
        json!([{"name": "http", "containerPort": 8080}])
    } else {
        json!([])
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {
            "nodeName": "node-1",
            "containers": [{"name": "app", "image": "podnet", "ports": ports}]
        },
    })
}

async fn create_service(cluster: &Cluster, manifest: Value) -> Service {
    let api: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    let service: Service = serde_json::from_value(manifest).expect("service");
    api.create(&PostParams::default(), &service)
        .await
        .expect("create service")
}

async fn web_service(cluster: &Cluster) -> Service {
    create_service(
        cluster,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "labels": {"team": "shop"}},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
        }),
    )
    .await
}

async fn slices_of(cluster: &Cluster, service: &str) -> Vec<EndpointSlice> {
    let api: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), "default");
    api.list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
        .await
        .expect("list slices")
        .items
}

/// The endpoints of a Service's slices by pod name, with (ready, serving, terminating).
async fn conditions_by_pod(
    cluster: &Cluster,
    service: &str,
) -> BTreeMap<String, (bool, bool, bool)> {
    slices_of(cluster, service)
        .await
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .map(|e: &Endpoint| {
            let c = e.conditions.clone().unwrap_or_default();
            (
                e.target_ref
                    .as_ref()
                    .and_then(|t| t.name.clone())
                    .unwrap_or_default(),
                (
                    c.ready.unwrap_or(false),
                    c.serving.unwrap_or(false),
                    c.terminating.unwrap_or(false),
                ),
            )
        })
        .collect()
}

fn expect(pods: &[(&str, (bool, bool, bool))]) -> BTreeMap<String, (bool, bool, bool)> {
    pods.iter().map(|(n, c)| (n.to_string(), *c)).collect()
}

async fn cluster_with_controller() -> Cluster {
    let mut cluster = Cluster::start().await;
    cluster.add_node("node-1", json!({})).await;
    cluster.spawn(endpointslice::run(
        cluster.client.clone(),
        EndpointSliceConfig::default(),
    ));
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_services_slice_follows_its_pods_readiness_and_termination() {
    let cluster = cluster_with_controller().await;
    let service = web_service(&cluster).await;
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        cluster.create_pod(web_pod(name, true)).await;
        cluster
            .set_pod_running(name, &format!("10.244.0.{}", i + 10), true)
            .await;
    }
    let ready = (true, true, false);
    eventually("three ready endpoints", PATIENCE, || async {
        let now = conditions_by_pod(&cluster, "web").await;
        (now == expect(&[("a", ready), ("b", ready), ("c", ready)])).then_some(())
    })
    .await;

    let slices = slices_of(&cluster, "web").await;
    assert_eq!(slices.len(), 1);
    let slice = &slices[0];
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(
        slice
            .labels()
            .get("endpointslice.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("endpointslice-controller.k8s.io")
    );
    assert_eq!(slice.labels().get("team").map(String::as_str), Some("shop"));
    let owner = &slice.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Service", service.uid().expect("uid").as_str())
    );
    let port = &slice.ports.as_ref().expect("ports")[0];
    assert_eq!(
        (port.name.as_deref(), port.port),
        (Some("http"), Some(8080))
    );
    let endpoint = &slice.endpoints[0];
    assert_eq!(endpoint.node_name.as_deref(), Some("node-1"));
    assert_eq!(
        endpoint.target_ref.as_ref().and_then(|t| t.kind.as_deref()),
        Some("Pod")
    );

    // Nothing to change: a reconcile (the Service was touched) writes nothing.
    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client.clone(), "default");
    let endpoints_version = eventually("the Endpoints object", PATIENCE, || async {
        endpoints.get_opt("web").await.ok().flatten()
    })
    .await
    .resource_version();
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    let touch = json!({"metadata": {"annotations": {"touched": "yes"}}});
    services
        .patch("web", &PatchParams::default(), &Patch::Merge(&touch))
        .await
        .expect("touch the service");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let again = slices_of(&cluster, "web").await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].resource_version(), slice.resource_version());
    let endpoints_now = endpoints.get("web").await.expect("endpoints");
    assert_eq!(endpoints_now.resource_version(), endpoints_version);

    // Readiness lost, as a kubelet reports a failing probe.
    cluster.set_pod_running("b", "10.244.0.11", false).await;
    eventually("b not ready", PATIENCE, || async {
        let now = conditions_by_pod(&cluster, "web").await;
        (now.get("b") == Some(&(false, false, false))).then_some(())
    })
    .await;

    // A pod being deleted (on a node, so it waits for its kubelet) is terminating but still serving.
    cluster
        .pods()
        .delete("c", &DeleteParams::default())
        .await
        .expect("delete c");
    eventually("c terminating", PATIENCE, || async {
        let now = conditions_by_pod(&cluster, "web").await;
        (now == expect(&[
            ("a", ready),
            ("b", (false, false, false)),
            ("c", (false, true, true)),
        ]))
        .then_some(())
    })
    .await;

    // The legacy Endpoints list the ready pod as ready and the others as not ready.
    let (ready_ips, not_ready_ips) = eventually("the Endpoints object", PATIENCE, || async {
        let ep = endpoints.get("web").await.ok()?;
        let subsets = ep.subsets.unwrap_or_default();
        let ips = |ready: bool| -> Vec<String> {
            subsets
                .iter()
                .flat_map(|s| {
                    if ready {
                        s.addresses.clone()
                    } else {
                        s.not_ready_addresses.clone()
                    }
                })
                .flatten()
                .map(|a| a.ip)
                .collect()
        };
        let found = (ips(true), ips(false));
        (found
            == (
                vec!["10.244.0.10".to_string()],
                vec!["10.244.0.11".to_string()],
            ))
            .then_some(found)
    })
    .await;
    assert_eq!(ready_ips, vec!["10.244.0.10"]);
    assert_eq!(not_ready_ips, vec!["10.244.0.11"]);

    // Gone for good: out of the slice. The slice was updated in place throughout.
    cluster
        .pods()
        .delete(
            "c",
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..DeleteParams::default()
            },
        )
        .await
        .expect("force delete c");
    eventually("c gone", PATIENCE, || async {
        let now = conditions_by_pod(&cluster, "web").await;
        (!now.contains_key("c") && now.len() == 2).then_some(())
    })
    .await;
    let after = slices_of(&cluster, "web").await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].name_any(), slice.name_any());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_without_the_named_port_get_a_slice_without_it() {
    let cluster = cluster_with_controller().await;
    web_service(&cluster).await;
    cluster.create_pod(web_pod("named", true)).await;
    cluster.set_pod_running("named", "10.244.0.20", true).await;
    cluster.create_pod(web_pod("bare", false)).await;
    cluster.set_pod_running("bare", "10.244.0.21", true).await;
    let shapes = eventually("two slices", PATIENCE, || async {
        let slices = slices_of(&cluster, "web").await;
        let mut shapes: Vec<(Vec<i32>, Vec<String>)> = slices
            .iter()
            .filter(|s| !s.endpoints.is_empty())
            .map(|s| {
                let ports = s.ports.iter().flatten().filter_map(|p| p.port).collect();
                let pods = s
                    .endpoints
                    .iter()
                    .filter_map(|e| e.target_ref.as_ref().and_then(|t| t.name.clone()))
                    .collect();
                (ports, pods)
            })
            .collect();
        shapes.sort();
        (shapes.len() == 2).then_some(shapes)
    })
    .await;
    assert_eq!(
        shapes,
        vec![
            (vec![], vec!["bare".to_string()]),
            (vec![8080], vec!["named".to_string()])
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_a_hundred_pods_are_split_over_slices() {
    let cluster = cluster_with_controller().await;
    web_service(&cluster).await;
    for i in 0..150 {
        let name = format!("web-{i:03}");
        cluster.create_pod(web_pod(&name, true)).await;
        cluster
            .set_pod_running(&name, &format!("10.244.{}.{}", i / 100, i % 100 + 2), true)
            .await;
    }
    let sizes = eventually("150 endpoints", PATIENCE, || async {
        let slices = slices_of(&cluster, "web").await;
        let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        (sizes.iter().sum::<usize>() == 150).then_some(sizes)
    })
    .await;
    assert!(sizes.iter().all(|n| *n <= 100), "{sizes:?}");
    assert_eq!(sizes.len(), 2, "{sizes:?}");
    let names: std::collections::BTreeSet<String> = slices_of(&cluster, "web")
        .await
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .filter_map(|e| e.target_ref.as_ref().and_then(|t| t.name.clone()))
        .collect();
    assert_eq!(names.len(), 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_not_ready_addresses_and_hostnames() {
    let cluster = cluster_with_controller().await;
    create_service(
        &cluster,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "db"},
            "spec": {"clusterIP": "None", "publishNotReadyAddresses": true,
                     "selector": {"app": "db"}, "ports": [{"port": 5432}]}
        }),
    )
    .await;
    cluster
        .create_pod(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "db-0", "labels": {"app": "db"}},
            "spec": {"nodeName": "node-1", "hostname": "db-0", "subdomain": "db",
                     "containers": [{"name": "db", "image": "podnet"}]}
        }))
        .await;
    cluster.set_pod_running("db-0", "10.244.0.30", false).await;
    let endpoint = eventually("db-0's endpoint", PATIENCE, || async {
        slices_of(&cluster, "db")
            .await
            .into_iter()
            .flat_map(|s| s.endpoints)
            .next()
    })
    .await;
    let c = endpoint.conditions.expect("conditions");
    assert_eq!(
        (c.ready, c.serving, c.terminating),
        (Some(true), Some(false), Some(false))
    );
    assert_eq!(endpoint.hostname.as_deref(), Some("db-0"));
    let slices = slices_of(&cluster, "db").await;
    assert_eq!(
        slices[0]
            .labels()
            .get("service.kubernetes.io/headless")
            .map(String::as_str),
        Some("")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_without_selector_keep_their_user_slices() {
    let cluster = cluster_with_controller().await;
    create_service(
        &cluster,
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "external"},
            "spec": {"ports": [{"port": 80}]}
        }),
    )
    .await;
    let user_slice: EndpointSlice = serde_json::from_value(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "external-1", "labels": {"kubernetes.io/service-name": "external"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["192.0.2.10"]}],
        "ports": [{"port": 80}]
    }))
    .expect("slice");
    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), "default");
    slices
        .create(&PostParams::default(), &user_slice)
        .await
        .expect("create user slice");
    // A Service with a selector made after it is handled: so the controller has seen both.
    web_service(&cluster).await;
    eventually("web's placeholder slice", PATIENCE, || async {
        (!slices_of(&cluster, "web").await.is_empty()).then_some(())
    })
    .await;
    let external = slices_of(&cluster, "external").await;
    assert_eq!(external.len(), 1);
    assert_eq!(external[0].name_any(), "external-1");
    assert_eq!(external[0].endpoints[0].addresses, vec!["192.0.2.10"]);
    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client.clone(), "default");
    assert!(endpoints.get_opt("external").await.expect("get").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_services_endpoints_go_and_a_deleted_slice_comes_back() {
    let cluster = cluster_with_controller().await;
    web_service(&cluster).await;
    cluster.create_pod(web_pod("a", true)).await;
    cluster.set_pod_running("a", "10.244.0.40", true).await;
    let first = eventually("a slice with a", PATIENCE, || async {
        slices_of(&cluster, "web")
            .await
            .into_iter()
            .find(|s| s.endpoints.len() == 1)
    })
    .await;
    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), "default");
    slices
        .delete(&first.name_any(), &DeleteParams::default())
        .await
        .expect("delete slice");
    eventually("a new slice with a", PATIENCE, || async {
        slices_of(&cluster, "web")
            .await
            .into_iter()
            .find(|s| s.endpoints.len() == 1 && s.name_any() != first.name_any())
    })
    .await;

    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client.clone(), "default");
    eventually("web's Endpoints", PATIENCE, || async {
        endpoints.get_opt("web").await.ok().flatten()
    })
    .await;
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), "default");
    services
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete service");
    eventually("web's Endpoints gone", PATIENCE, || async {
        endpoints.get_opt("web").await.ok()?.is_none().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_start_managed_endpoints_without_a_service_go_and_users_stay() {
    let mut cluster = Cluster::start().await;
    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client.clone(), "default");
    for (name, labels) in [
        (
            "stale",
            json!({"endpoints.kubernetes.io/managed-by": "endpoint-controller"}),
        ),
        ("handmade", json!({})),
    ] {
        let object: Endpoints = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "labels": labels},
            "subsets": [{"addresses": [{"ip": "192.0.2.7"}], "ports": [{"port": 80}]}]
        }))
        .expect("endpoints");
        endpoints
            .create(&PostParams::default(), &object)
            .await
            .expect("create endpoints");
    }
    cluster.spawn(endpointslice::run(
        cluster.client.clone(),
        EndpointSliceConfig::default(),
    ));
    eventually("the stale Endpoints gone", PATIENCE, || async {
        endpoints
            .get_opt("stale")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    assert!(endpoints.get_opt("handmade").await.expect("get").is_some());
}

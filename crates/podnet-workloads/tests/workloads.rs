//! The workload controllers against a real podnet API server through
//! kube-rs, with the test in the kubelet's place.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use support::{eventually, is_ready, names, wait_for, Cluster};

const WAIT: Duration = Duration::from_secs(30);

fn deployment(name: &str, replicas: i32, image: &str, strategy: serde_json::Value) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }))
    .expect("a valid Deployment")
}

async fn owned_replica_sets(cluster: &Cluster, deployment: &Deployment) -> Vec<ReplicaSet> {
    let uid = deployment.uid().expect("uid");
    let replica_sets: Api<ReplicaSet> = cluster.api();
    replica_sets
        .list(&ListParams::default())
        .await
        .expect("list ReplicaSets")
        .items
        .into_iter()
        .filter(|rs| {
            rs.owner_references()
                .iter()
                .any(|r| r.uid == uid && r.controller == Some(true))
        })
        .collect()
}

fn owned_by<'a>(pods: &'a [Pod], rs: &ReplicaSet) -> Vec<&'a Pod> {
    let uid = rs.uid().expect("uid");
    pods.iter()
        .filter(|p| p.owner_references().iter().any(|r| r.uid == uid))
        .collect()
}

async fn mark_all_ready(cluster: &Cluster) {
    for pod in cluster.active_pods().await {
        if !is_ready(&pod) {
            cluster.mark_ready(&pod.name_any()).await;
        }
    }
}

/// Waits until the Deployment's status reports `replicas` pods, all
/// updated, ready and available, for its latest generation.
async fn wait_complete(cluster: &Cluster, name: &str, replicas: i32) -> Deployment {
    let deployments: Api<Deployment> = cluster.api();
    wait_for(
        &format!("Deployment {name} complete with {replicas}"),
        WAIT,
        || async {
            let d = deployments.get(name).await.ok()?;
            let status = d.status.clone()?;
            let wanted = (replicas != 0).then_some(replicas);
            let complete = status.observed_generation == d.metadata.generation
                && status.replicas == wanted
                && status.updated_replicas == wanted
                && status.ready_replicas == wanted
                && status.available_replicas == wanted;
            let progressed = status.conditions.iter().flatten().any(|c| {
                c.type_ == "Progressing" && c.reason.as_deref() == Some("NewReplicaSetAvailable")
            });
            (complete && progressed).then_some(d)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_makes_a_replica_set_and_pods_and_scales() {
    let cluster = Cluster::start().await;
    let deployments: Api<Deployment> = cluster.api();
    let created = deployments
        .create(
            &PostParams::default(),
            &deployment("web", 3, "nginx:1", json!({})),
        )
        .await
        .expect("create the Deployment");

    let rs = wait_for("one ReplicaSet", WAIT, || async {
        let owned = owned_replica_sets(&cluster, &created).await;
        (owned.len() == 1).then(|| owned[0].clone())
    })
    .await;
    let hash = rs.labels()["pod-template-hash"].clone();
    assert_eq!(rs.name_any(), format!("web-{hash}"));
    assert_eq!(rs.annotations()["deployment.kubernetes.io/revision"], "1");
    let selector = rs
        .spec
        .as_ref()
        .unwrap()
        .selector
        .match_labels
        .clone()
        .unwrap();
    assert_eq!(selector["pod-template-hash"], hash);

    eventually("3 pods", WAIT, || async {
        cluster.active_pods().await.len() == 3
    })
    .await;
    let pods = cluster.active_pods().await;
    for pod in &pods {
        let name = pod.name_any();
        let suffix = name
            .strip_prefix(&format!("{}-", rs.name_any()))
            .expect("named after the ReplicaSet");
        assert_eq!(suffix.len(), 5, "{name}");
        let owner = &pod.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("ReplicaSet", rs.name_any().as_str())
        );
        assert_eq!(owner.controller, Some(true));
        assert_eq!(owner.block_owner_deletion, Some(true));
        assert_eq!(pod.labels()["pod-template-hash"], hash);
    }
    let status = deployments.get("web").await.unwrap().status.unwrap();
    assert_eq!(status.available_replicas, None, "no pod is ready yet");

    mark_all_ready(&cluster).await;
    let done = wait_complete(&cluster, "web", 3).await;
    let conditions = done.status.clone().unwrap().conditions.unwrap();
    assert!(conditions
        .iter()
        .any(|c| c.type_ == "Available" && c.status == "True"));
    assert_eq!(done.annotations()["deployment.kubernetes.io/revision"], "1");

    // Settled means settled: no controller keeps rewriting what it owns.
    let versions = |d: &Deployment, rs: &[ReplicaSet]| {
        let mut all = vec![d.resource_version()];
        all.extend(rs.iter().map(|rs| rs.resource_version()));
        all
    };
    let before = versions(&done, &owned_replica_sets(&cluster, &created).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let now = deployments.get("web").await.unwrap();
    assert_eq!(
        versions(&now, &owned_replica_sets(&cluster, &created).await),
        before
    );

    for replicas in [5, 1] {
        let patch = json!({"spec": {"replicas": replicas}});
        deployments
            .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("scale");
        eventually(&format!("{replicas} pods"), WAIT, || async {
            cluster.active_pods().await.len() == replicas as usize
        })
        .await;
        mark_all_ready(&cluster).await;
        wait_complete(&cluster, "web", replicas).await;
        let owned = owned_replica_sets(&cluster, &created).await;
        assert_eq!(owned.len(), 1, "scaling makes no new ReplicaSet");
        assert_eq!(owned[0].spec.as_ref().unwrap().replicas, Some(replicas));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_honours_max_surge_max_unavailable_and_readiness() {
    let cluster = Cluster::start().await;
    let deployments: Api<Deployment> = cluster.api();
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}});
    let created = deployments
        .create(
            &PostParams::default(),
            &deployment("web", 4, "nginx:1", strategy),
        )
        .await
        .expect("create the Deployment");
    eventually("4 pods", WAIT, || async {
        cluster.active_pods().await.len() == 4
    })
    .await;
    mark_all_ready(&cluster).await;
    wait_complete(&cluster, "web", 4).await;
    let first = owned_replica_sets(&cluster, &created).await.remove(0);

    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}});
    deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("change the image");

    // Act as the kubelets: one new pod at a time becomes ready, and only
    // after the pods seen are within bounds: at most 4 + 1 pods, at least
    // 4 - 1 ready.
    let mut marked = BTreeSet::new();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the rollout did not finish"
        );
        let pods = cluster.active_pods().await;
        let ready = pods.iter().filter(|p| is_ready(p)).count();
        assert!(
            pods.len() <= 5,
            "more pods than maxSurge allows: {:?}",
            names(&pods)
        );
        assert!(
            ready >= 3,
            "fewer ready pods than maxUnavailable allows: {:?}",
            names(&pods)
        );
        let first_uid = first.uid().unwrap();
        let old_left = pods
            .iter()
            .filter(|p| p.owner_references().iter().any(|r| r.uid == first_uid))
            .count();
        if old_left == 0 && pods.len() == 4 && ready == 4 {
            break;
        }
        if let Some(unready) = pods
            .iter()
            .find(|p| !is_ready(p) && !marked.contains(&p.name_any()))
        {
            cluster.mark_ready(&unready.name_any()).await;
            marked.insert(unready.name_any());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let done = wait_complete(&cluster, "web", 4).await;
    assert_eq!(done.annotations()["deployment.kubernetes.io/revision"], "2");
    let mut owned = owned_replica_sets(&cluster, &created).await;
    owned.sort_by_key(|rs| rs.annotations()["deployment.kubernetes.io/revision"].clone());
    assert_eq!(owned.len(), 2);
    assert_eq!(owned[0].uid(), first.uid());
    assert_eq!(owned[0].spec.as_ref().unwrap().replicas, Some(0));
    assert_eq!(owned[1].spec.as_ref().unwrap().replicas, Some(4));
    let pods = cluster.active_pods().await;
    assert_eq!(owned_by(&pods, &owned[1]).len(), 4);
    assert_ne!(
        owned[0].labels()["pod-template-hash"],
        owned[1].labels()["pod-template-hash"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_replaces_every_pod_at_once() {
    let cluster = Cluster::start().await;
    let deployments: Api<Deployment> = cluster.api();
    let created = deployments
        .create(
            &PostParams::default(),
            &deployment("db", 2, "postgres:16", json!({"type": "Recreate"})),
        )
        .await
        .expect("create the Deployment");
    eventually("2 pods", WAIT, || async {
        cluster.active_pods().await.len() == 2
    })
    .await;
    mark_all_ready(&cluster).await;
    wait_complete(&cluster, "db", 2).await;
    let old = names(&cluster.active_pods().await);

    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "postgres:17"}]}}}});
    deployments
        .patch("db", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("change the image");
    eventually("2 new pods", WAIT, || async {
        let pods = cluster.active_pods().await;
        pods.len() == 2 && names(&pods).iter().all(|n| !old.contains(n))
    })
    .await;
    mark_all_ready(&cluster).await;
    wait_complete(&cluster, "db", 2).await;
    assert_eq!(owned_replica_sets(&cluster, &created).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_deployment_removes_its_replica_sets_and_pods() {
    let cluster = Cluster::start().await;
    let deployments: Api<Deployment> = cluster.api();
    deployments
        .create(
            &PostParams::default(),
            &deployment("web", 2, "nginx:1", json!({})),
        )
        .await
        .expect("create the Deployment");
    eventually("2 pods", WAIT, || async {
        cluster.active_pods().await.len() == 2
    })
    .await;
    deployments
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete the Deployment");
    let replica_sets: Api<ReplicaSet> = cluster.api();
    let pods: Api<Pod> = cluster.api();
    eventually("no ReplicaSets and no pods", WAIT, || async {
        let rs_left = replica_sets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len();
        let pods_left = pods.list(&ListParams::default()).await.unwrap().items.len();
        rs_left == 0 && pods_left == 0
    })
    .await;
}

fn stateful_set(name: &str, replicas: i32, policy: &str) -> StatefulSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": "nginx",
            "podManagementPolicy": policy,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1"}]},
            },
        },
    }))
    .expect("a valid StatefulSet")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateful_set_starts_pods_in_order_once_each_is_ready() {
    let cluster = Cluster::start().await;
    let sets: Api<StatefulSet> = cluster.api();
    let created = sets
        .create(
            &PostParams::default(),
            &stateful_set("web", 3, "OrderedReady"),
        )
        .await
        .expect("create the StatefulSet");

    for ordinal in 0..3 {
        let name = format!("web-{ordinal}");
        eventually(&format!("pod {name}"), WAIT, || async {
            names(&cluster.active_pods().await).contains(&name)
        })
        .await;
        // The next ordinal waits while this one is not Ready.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pods = cluster.active_pods().await;
        assert_eq!(pods.len(), ordinal + 1, "{:?}", names(&pods));
        let pod = pods.iter().find(|p| p.name_any() == name).unwrap();
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(name.as_str()));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        assert_eq!(pod.labels()["statefulset.kubernetes.io/pod-name"], name);
        assert_eq!(
            pod.labels()["apps.kubernetes.io/pod-index"],
            ordinal.to_string()
        );
        let owner = &pod.owner_references()[0];
        assert_eq!(owner.uid, created.uid().unwrap());
        assert_eq!(owner.controller, Some(true));
        cluster.mark_ready(&name).await;
    }

    let set = wait_for("3 ready replicas", WAIT, || async {
        let set = sets.get("web").await.ok()?;
        let status = set.status.clone()?;
        (status.ready_replicas == Some(3) && status.available_replicas == Some(3)).then_some(set)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        sets.get("web").await.unwrap().resource_version(),
        set.resource_version(),
        "a settled StatefulSet is not rewritten"
    );
    let status = set.status.unwrap();
    assert_eq!(status.replicas, 3);
    assert_eq!(status.current_revision, status.update_revision);
    let revision = status.update_revision.unwrap();
    assert!(revision.starts_with("web-"));
    for pod in cluster.active_pods().await {
        assert_eq!(pod.labels()["controller-revision-hash"], revision);
    }

    // A deleted member comes back under the same name and hostname.
    let pods: Api<Pod> = cluster.api();
    let old_uid = pods.get("web-1").await.unwrap().uid();
    pods.delete("web-1", &DeleteParams::default())
        .await
        .expect("delete web-1");
    let again = wait_for("web-1 again", WAIT, || async {
        let pod = pods.get_opt("web-1").await.ok()??;
        (pod.uid() != old_uid && pod.metadata.deletion_timestamp.is_none()).then_some(pod)
    })
    .await;
    assert_eq!(again.spec.unwrap().hostname.as_deref(), Some("web-1"));
    cluster.mark_ready("web-1").await;

    let patch = json!({"spec": {"replicas": 1}});
    sets.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("scale down");
    eventually("only web-0 left", WAIT, || async {
        names(&cluster.active_pods().await) == ["web-0"]
    })
    .await;

    sets.delete("web", &DeleteParams::default())
        .await
        .expect("delete the set");
    eventually("no pods", WAIT, || async {
        pods.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_stateful_set_starts_every_pod_at_once() {
    let cluster = Cluster::start().await;
    let sets: Api<StatefulSet> = cluster.api();
    sets.create(&PostParams::default(), &stateful_set("db", 3, "Parallel"))
        .await
        .expect("create the StatefulSet");
    eventually("db-0, db-1 and db-2 without any ready", WAIT, || async {
        names(&cluster.active_pods().await) == ["db-0", "db-1", "db-2"]
    })
    .await;
}

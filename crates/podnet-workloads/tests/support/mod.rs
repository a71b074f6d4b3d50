//! A podnet API server in the test's process with the workload controllers
//! running against it, and the kubelet's part played by the test: pods
//! become Running and Ready only when a test says so.
#![allow(dead_code)]

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use podnet_apiserver::server::{self, RunningServer, ServerConfig};
use serde_json::json;
use tempfile::TempDir;
use tokio::task::JoinHandle;

pub struct Cluster {
    pub client: Client,
    controllers: JoinHandle<()>,
    _server: RunningServer,
    _dir: TempDir,
}

impl Cluster {
    /// A fresh server on a free port with every workload controller running.
    pub async fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::new(dir.path());
        config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let running = server::start(config).await.expect("start the API server");
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&running.kubeconfig).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("client config");
        let client = Client::try_from(config).expect("client");
        let namespaces: Api<Namespace> = Api::all(client.clone());
        eventually("the default namespace", Duration::from_secs(20), || async {
            namespaces.get_opt("default").await.ok().flatten().is_some()
        })
        .await;
        let controllers = tokio::spawn(podnet_workloads::run(client.clone()));
        Cluster {
            client,
            controllers,
            _server: running,
            _dir: dir,
        }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), "default")
    }

    /// The pods that count: neither finished nor being deleted.
    pub async fn active_pods(&self) -> Vec<Pod> {
        let pods: Api<Pod> = self.api();
        pods.list(&ListParams::default())
            .await
            .expect("list pods")
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect()
    }

    /// Does what a kubelet does once a pod's containers run and pass their
    /// readiness probes.
    pub async fn mark_ready(&self, name: &str) {
        let pods: Api<Pod> = self.api();
        let now = serde_json::to_value(Time(Timestamp::now())).expect("time");
        let status = json!({"status": {
            "phase": "Running",
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
            ],
        }});
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap_or_else(|e| panic!("marking pod {name} ready: {e}"));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.controllers.abort();
    }
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn names(pods: &[Pod]) -> Vec<String> {
    let mut names: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
    names.sort();
    names
}

/// Polls `check` until it holds; fails the test naming `what` otherwise.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `value` until it returns Some.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut value: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = value().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

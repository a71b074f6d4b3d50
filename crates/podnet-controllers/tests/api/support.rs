//! A podnet API server on a free port with a kube-rs client for it, nodes
//! and pods written the way an agent would, and polling helpers.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use podnet_apiserver::server::{self, RunningServer, ServerConfig};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::task::JoinHandle;

pub struct Cluster {
    pub client: Client,
    _server: RunningServer,
    _dir: TempDir,
    controllers: Vec<JoinHandle<()>>,
}

impl Cluster {
    pub async fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::new(dir.path());
        config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let running = server::start(config).await.expect("start the API server");
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&running.kubeconfig).expect("read kubeconfig");
        let client_config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .expect("client config");
        let client = Client::try_from(client_config).expect("client");
        Cluster {
            client,
            _server: running,
            _dir: dir,
            controllers: Vec::new(),
        }
    }

    /// Runs a controller until the cluster is dropped (or [`Cluster::stop_controllers`]).
    pub fn spawn<F, E>(&mut self, controller: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        self.controllers.push(tokio::spawn(async move {
            if let Err(error) = controller.await {
                panic!("controller stopped: {error}");
            }
        }));
    }

    pub async fn stop_controllers(&mut self) {
        for task in self.controllers.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }

    pub fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// A node as an agent registers it: Ready, with `labels`.
    pub async fn add_node(&self, name: &str, labels: Value) -> Node {
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
        }))
        .expect("node");
        let created = self
            .nodes()
            .create(&PostParams::default(), &node)
            .await
            .expect("create node");
        self.set_node_ready(name, true).await;
        created
    }

    pub async fn set_node_ready(&self, name: &str, ready: bool) {
        let status = if ready { "True" } else { "False" };
        let patch = json!({"status": {"conditions": [
            {"type": "Ready", "status": status, "reason": "KubeletReady", "message": "podnet agent"}
        ]}});
        self.nodes()
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
            .expect("node status");
    }

    pub async fn create_pod(&self, manifest: Value) -> Pod {
        let pod: Pod = serde_json::from_value(manifest).expect("pod");
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("create pod")
    }

    /// Pod status as a kubelet writes it once the sandbox runs.
    pub async fn set_pod_running(&self, name: &str, ip: &str, ready: bool) {
        let ready = if ready { "True" } else { "False" };
        let patch = json!({"status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [
                {"type": "Ready", "status": ready},
                {"type": "ContainersReady", "status": ready}
            ]
        }});
        self.pods()
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
            .expect("pod status");
    }

    pub async fn events_about(&self, namespace: &str, name: &str) -> Vec<Event> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        api.list(&ListParams::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for task in &self.controllers {
            task.abort();
        }
    }
}

/// Polls `check` until it returns `Some`, or panics naming `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub const PATIENCE: Duration = Duration::from_secs(20);

//! The agent's `run` against a real podnet API server in this process,
//! with node IPAM assigning pod CIDRs and a recording dataplane in place of
//! the kernel (the kernel side has its own root tests).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use podnet_agent::config::{Routing, VTEP_MAC_ANNOTATION};
use podnet_agent::routing::{vtep_mac, DesiredRouting, RouteDevice};
use podnet_agent::{AgentError, Dataplane, NodeAgent, NodeAgentConfig};
use podnet_apiserver::server::{self, RunningServer, ServerConfig};
use podnet_controllers::node_ipam::{self, NodeIpamConfig};
use podnet_nft::Table;
use serde_json::json;
use tokio::sync::oneshot;

const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Recorded {
    prepared: bool,
    routing: Vec<DesiredRouting>,
    tables: Vec<Table>,
}

/// A dataplane that records what it is asked to apply.
struct RecordingDataplane(Arc<Mutex<Recorded>>);

impl Dataplane for RecordingDataplane {
    fn prepare(&mut self) -> Result<u32, AgentError> {
        self.0.lock().unwrap().prepared = true;
        Ok(1500)
    }

    fn apply_routing(&mut self, desired: &DesiredRouting) -> Result<(), AgentError> {
        self.0.lock().unwrap().routing.push(desired.clone());
        Ok(())
    }

    fn apply_masquerade(&mut self, table: &Table) -> Result<(), AgentError> {
        self.0.lock().unwrap().tables.push(table.clone());
        Ok(())
    }
}

async fn start_server(data_dir: &Path, listen: SocketAddr) -> (RunningServer, Client) {
    let mut config = ServerConfig::new(data_dir);
    config.listen = listen;
    let running = server::start(config).await.expect("start the API server");
    let kubeconfig = kube::config::Kubeconfig::read_from(&running.kubeconfig).expect("kubeconfig");
    let client_config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("client config");
    (running, Client::try_from(client_config).expect("client"))
}

/// A TCP relay in front of the API server that can be taken down (every
/// connection cut, the port closed) and brought back on the same port, to
/// play an API server restart for the client.
struct Relay {
    address: SocketAddr,
    upstream: SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let address = listener.local_addr().unwrap();
        let mut relay = Relay {
            address,
            upstream,
            task: None,
        };
        relay.serve(listener);
        relay
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let upstream = self.upstream;
        self.task = Some(tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Cuts every connection and closes the port.
    async fn down(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.address).await.unwrap();
        self.serve(listener);
    }
}

async fn client_through(server: &RunningServer, address: SocketAddr) -> Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).expect("kubeconfig");
    let mut client_config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("client config");
    client_config.cluster_url = format!("https://{address}").parse().unwrap();
    Client::try_from(client_config).expect("client")
}

async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ready_condition(node: &Node) -> Option<(String, String, String)> {
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

fn config(state_root: &Path, routing: Routing) -> NodeAgentConfig {
    let mut config = NodeAgentConfig::new("node-a", Ipv4Addr::new(172, 30, 0, 11));
    config.routing = routing;
    config.state_root = state_root.to_path_buf();
    config.heartbeat = Duration::from_millis(500);
    config.lease_duration = Duration::from_secs(40);
    config
}

async fn renew_time(leases: &Api<Lease>) -> Option<String> {
    let lease = leases.get("node-a").await.ok()?;
    Some(
        serde_json::to_value(lease.spec?.renew_time?)
            .ok()?
            .as_str()?
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_registers_becomes_ready_with_a_pod_cidr_and_goes_not_ready_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = start_server(
        &dir.path().join("api"),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await;
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let recorded = Arc::new(Mutex::new(Recorded::default()));
    let state_root = dir.path().join("nodes/node-a");
    let (agent, mut conflist_ready) = NodeAgent::with_dataplane(
        config(&state_root, Routing::Vxlan),
        Box::new(RecordingDataplane(recorded.clone())),
    )
    .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let agent_task = tokio::spawn(agent.run(client.clone(), async {
        let _ = stopped.await;
    }));

    // Registered, but not Ready: node IPAM has not run yet.
    let node = eventually("the node is registered not ready", || async {
        let node = nodes.get("node-a").await.ok()?;
        let (status, _, _) = ready_condition(&node)?;
        (status == "False").then_some(node)
    })
    .await;
    let (_, reason, message) = ready_condition(&node).unwrap();
    assert_eq!(reason, "KubeletNotReady");
    assert!(message.contains("no pod CIDR"), "{message}");
    let labels = node.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/hostname"], "node-a");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert!(labels.contains_key("kubernetes.io/arch"));
    let mac = &node.metadata.annotations.clone().unwrap()[VTEP_MAC_ANNOTATION];
    assert_eq!(podnet_netlink::parse_mac(mac), Some(vtep_mac("node-a")));
    let status = node.status.clone().unwrap();
    let addresses: Vec<_> = status
        .addresses
        .unwrap()
        .into_iter()
        .map(|a| (a.type_, a.address))
        .collect();
    assert_eq!(
        addresses,
        [
            ("InternalIP".to_string(), "172.30.0.11".to_string()),
            ("Hostname".to_string(), "node-a".to_string())
        ]
    );
    assert_eq!(status.node_info.unwrap().kubelet_version, "v1.33.0-podnet");
    assert!(!*conflist_ready.borrow());
    assert!(recorded.lock().unwrap().prepared);

    // The Lease is held by the node, owned by it, and renewed.
    let lease = eventually("the lease", || async { leases.get("node-a").await.ok() }).await;
    let spec = lease.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("node-a"));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    let owner = &lease.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Node", "node-a")
    );
    assert_eq!(Some(owner.uid.clone()), node.metadata.uid);
    let first_renewal = renew_time(&leases).await.unwrap();
    eventually("a lease renewal", || async {
        renew_time(&leases).await.filter(|t| *t != first_renewal)
    })
    .await;

    // Node IPAM assigns a CIDR: conflist written, Ready.
    let ipam = tokio::spawn(node_ipam::run(client.clone(), NodeIpamConfig::default()));
    eventually("Ready=True", || async {
        let node = nodes.get("node-a").await.ok()?;
        let (status, reason, message) = ready_condition(&node)?;
        (status == "True").then_some((reason, message))
    })
    .await;
    tokio::time::timeout(PATIENCE, conflist_ready.wait_for(|ready| *ready))
        .await
        .expect("conflist announced")
        .unwrap();
    let path = podnet_agent::conflist_path(&state_root);
    assert!(
        path.exists(),
        "the announced conflist is at {}",
        path.display()
    );
    let conflist: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cidr = nodes
        .get("node-a")
        .await
        .unwrap()
        .spec
        .unwrap()
        .pod_cidr
        .unwrap();
    assert_eq!(
        conflist["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
        json!(cidr)
    );
    assert_eq!(conflist["plugins"][0]["mtu"], 1450);

    // A peer appears: the agent routes to it through the overlay.
    let peer: Node = serde_json::from_value(json!({
        "metadata": {"name": "node-b", "annotations": {VTEP_MAC_ANNOTATION: "02:00:00:00:00:0b"}},
    }))
    .unwrap();
    nodes.create(&PostParams::default(), &peer).await.unwrap();
    nodes
        .patch_status(
            "node-b",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"addresses": [{"type": "InternalIP", "address": "172.30.0.12"}]}})),
        )
        .await
        .unwrap();
    let routed = eventually("a route to node-b", || async {
        let recorded = recorded.lock().unwrap();
        let last = recorded.routing.last()?;
        (last.routes.len() == 1).then(|| last.clone())
    })
    .await;
    assert_eq!(routed.routes[0].device, RouteDevice::Vxlan);
    assert_eq!(
        routed.fdb,
        vec![([2, 0, 0, 0, 0, 0x0b], "172.30.0.12".parse().unwrap())]
    );
    let table = recorded.lock().unwrap().tables.last().cloned().unwrap();
    assert!(table.render_replace().contains("masquerade"));

    // Shutdown: Ready=False "agent stopped", and the Lease is left alone.
    stop.send(()).unwrap();
    agent_task.await.unwrap().unwrap();
    let node = nodes.get("node-a").await.unwrap();
    let (status, reason, message) = ready_condition(&node).unwrap();
    assert_eq!(
        (status.as_str(), reason.as_str(), message.as_str()),
        ("False", "KubeletNotReady", "agent stopped")
    );
    let last_renewal = renew_time(&leases).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        renew_time(&leases).await.unwrap(),
        last_renewal,
        "no renewal after shutdown"
    );
    ipam.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_rides_out_an_unreachable_api_server_and_reregisters_a_deleted_node() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start_server(
        &dir.path().join("api"),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await;
    let mut relay = Relay::start(server.address).await;
    let agent_client = client_through(&server, relay.address).await;
    let recorded = Arc::new(Mutex::new(Recorded::default()));
    let (agent, _conflist_ready) = NodeAgent::with_dataplane(
        config(&dir.path().join("nodes/node-a"), Routing::HostGw),
        Box::new(RecordingDataplane(recorded)),
    )
    .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let agent_task = tokio::spawn(agent.run(agent_client, async {
        let _ = stopped.await;
    }));
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    eventually("registration", || async { nodes.get("node-a").await.ok() }).await;
    eventually("the lease", || async { renew_time(&leases).await }).await;

    // The API server is unreachable for a few heartbeats, then back.
    relay.down().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = renew_time(&leases).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        renew_time(&leases).await.unwrap(),
        before,
        "no renewal while unreachable"
    );
    relay.up().await;
    eventually("a lease renewal once the server is back", || async {
        renew_time(&leases).await.filter(|t| *t != before)
    })
    .await;

    // Deleted behind its back, the node registers again.
    let old_uid = nodes.get("node-a").await.unwrap().metadata.uid;
    nodes.delete("node-a", &Default::default()).await.unwrap();
    let node = eventually("the node registered again", || async {
        nodes
            .get("node-a")
            .await
            .ok()
            .filter(|n| n.metadata.uid != old_uid)
    })
    .await;
    assert!(ready_condition(&node).is_some() || node.status.is_none());
    eventually("the node's status posted again", || async {
        ready_condition(&nodes.get("node-a").await.ok()?)
    })
    .await;

    stop.send(()).unwrap();
    agent_task.await.unwrap().unwrap();
}

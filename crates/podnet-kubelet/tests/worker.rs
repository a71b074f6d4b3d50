//! The pod worker against a real podnet API server in this process, over a
//! fake runtime whose containers are entries in a table: `serve` runs until
//! stopped, `exit N` exits at once with N, and the exec probe `check FLAG`
//! succeeds while the test sets FLAG.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod, PodCondition};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use podnet_apiserver::server::{self, RunningServer, ServerConfig};
use podnet_kubelet::pods::runtime::{
    ContainerSpec, ContainerState, ExecOutput, PodRuntime, Sandbox, SandboxSpec,
};
use podnet_kubelet::pods::{self, KubeletConfig};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

const NODE: &str = "node-1";
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug)]
struct FakeError(String);

impl std::fmt::Display for FakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FakeError {}

#[derive(Default)]
struct FakeState {
    sandboxes: HashMap<String, Sandbox>,
    specs: HashMap<String, SandboxSpec>,
    containers: HashMap<(String, String), ContainerState>,
    starts: HashMap<(String, String), u32>,
    flags: HashSet<String>,
    next_ip: u8,
    collected: Vec<HashSet<String>>,
}

#[derive(Default)]
struct FakeRuntime {
    state: Mutex<FakeState>,
}

impl FakeRuntime {
    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().expect("fake runtime lock")
    }

    fn set_flag(&self, flag: &str, on: bool) {
        let mut state = self.lock();
        if on {
            state.flags.insert(flag.to_string());
        } else {
            state.flags.remove(flag);
        }
    }

    fn starts(&self, uid: &str, name: &str) -> u32 {
        self.lock()
            .starts
            .get(&(uid.to_string(), name.to_string()))
            .copied()
            .unwrap_or(0)
    }

    fn has_sandbox(&self, uid: &str) -> bool {
        self.lock().sandboxes.contains_key(uid)
    }

    fn state_of(&self, uid: &str, name: &str) -> ContainerState {
        self.lock()
            .containers
            .get(&(uid.to_string(), name.to_string()))
            .cloned()
            .unwrap_or(ContainerState::Missing)
    }
}

impl PodRuntime for FakeRuntime {
    type Error = FakeError;

    fn create_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox, FakeError> {
        let mut state = self.lock();
        if let Some(existing) = state.sandboxes.get(&spec.uid) {
            return Ok(existing.clone());
        }
        state.next_ip += 1;
        let sandbox = Sandbox {
            uid: spec.uid.clone(),
            namespace: spec.namespace.clone(),
            name: spec.name.clone(),
            host_network: spec.host_network,
            netns: Some(format!("/run/netns/fake-{}", spec.uid).into()),
            ips: vec![IpAddr::from([10, 244, 1, 10 + state.next_ip])],
            created_at: SystemTime::now(),
            ready: true,
        };
        state.sandboxes.insert(spec.uid.clone(), sandbox.clone());
        state.specs.insert(spec.uid.clone(), spec.clone());
        Ok(sandbox)
    }

    fn remove_sandbox(&self, uid: &str) -> Result<(), FakeError> {
        let mut state = self.lock();
        state.sandboxes.remove(uid);
        state.containers.retain(|(owner, _), _| owner != uid);
        Ok(())
    }

    fn sandboxes(&self) -> Result<Vec<Sandbox>, FakeError> {
        Ok(self.lock().sandboxes.values().cloned().collect())
    }

    fn start_container(
        &self,
        uid: &str,
        spec: &ContainerSpec,
    ) -> Result<ContainerState, FakeError> {
        let mut state = self.lock();
        if !state.sandboxes.contains_key(uid) {
            return Err(FakeError(format!("no sandbox for pod {uid}")));
        }
        let now = SystemTime::now();
        let container = match spec.command.first().map(String::as_str) {
            Some("serve") => ContainerState::Running {
                pid: 4242,
                started_at: now,
            },
            Some("exit") => {
                let code: i32 = spec
                    .command
                    .get(1)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                ContainerState::Exited {
                    exit_code: code,
                    signal: None,
                    started_at: now,
                    finished_at: now,
                    reason: if code == 0 { "Completed" } else { "Error" }.into(),
                    message: String::new(),
                }
            }
            other => return Err(FakeError(format!("unknown fake program {other:?}"))),
        };
        let key = (uid.to_string(), spec.name.clone());
        *state.starts.entry(key.clone()).or_default() += 1;
        state.containers.insert(key, container.clone());
        Ok(container)
    }

    fn container_state(&self, uid: &str, name: &str) -> Result<ContainerState, FakeError> {
        Ok(self.state_of(uid, name))
    }

    fn stop_container(&self, uid: &str, name: &str, _grace: Duration) -> Result<(), FakeError> {
        let mut state = self.lock();
        let key = (uid.to_string(), name.to_string());
        if let Some(ContainerState::Running { started_at, .. }) =
            state.containers.get(&key).cloned()
        {
            state.containers.insert(
                key,
                ContainerState::Exited {
                    exit_code: 143,
                    signal: Some(15),
                    started_at,
                    finished_at: SystemTime::now(),
                    reason: "Error".into(),
                    message: String::new(),
                },
            );
        }
        Ok(())
    }

    fn exec(
        &self,
        _uid: &str,
        _name: &str,
        argv: &[String],
        _timeout: Duration,
    ) -> Result<ExecOutput, FakeError> {
        let healthy = argv.first().map(String::as_str) == Some("check")
            && argv
                .get(1)
                .is_some_and(|flag| self.lock().flags.contains(flag));
        Ok(ExecOutput {
            exit_code: Some(if healthy { 0 } else { 1 }),
            stdout: if healthy {
                Vec::new()
            } else {
                b"not healthy".to_vec()
            },
            stderr: Vec::new(),
            timed_out: false,
        })
    }

    fn garbage_collect(&self, live_uids: &HashSet<String>) -> Result<(), FakeError> {
        let mut state = self.lock();
        state.collected.push(live_uids.clone());
        state.sandboxes.retain(|uid, _| live_uids.contains(uid));
        Ok(())
    }
}

struct Cluster {
    client: Client,
    runtime: Arc<FakeRuntime>,
    kubelet: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    _server: RunningServer,
    dir: TempDir,
}

impl Cluster {
    async fn start() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig::new(dir.path());
        config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let running = server::start(config).await.expect("start the API server");
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&running.kubeconfig).expect("kubeconfig");
        let client_config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .expect("client config");
        Cluster {
            client: Client::try_from(client_config).expect("client"),
            runtime: Arc::new(FakeRuntime::default()),
            kubelet: None,
            _server: running,
            dir,
        }
    }

    fn start_kubelet(&mut self) {
        let (_cni_sender, cni_ready) = watch::channel(true);
        let mut config = KubeletConfig::new(NODE, vec![IpAddr::from([172, 30, 0, 11])], cni_ready);
        config.node_resolv_conf = self.dir.path().join("resolv.conf");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(pods::run(
            self.client.clone(),
            Arc::clone(&self.runtime),
            config,
            async move {
                let _ = stopped.await;
            },
        ));
        let task = tokio::spawn(async move {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => panic!("the kubelet stopped: {error}"),
                Err(error) if error.is_cancelled() => {}
                Err(error) => panic!("the kubelet task failed: {error}"),
            }
        });
        self.kubelet = Some((stop, task));
    }

    async fn stop_kubelet(&mut self) {
        if let Some((stop, task)) = self.kubelet.take() {
            let _ = stop.send(());
            task.await.expect("kubelet task");
        }
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    async fn create_pod(&self, name: &str, spec: Value) -> Pod {
        let mut spec = spec;
        spec["nodeName"] = json!(NODE);
        let pod: Pod = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name},
            "spec": spec,
        }))
        .expect("pod");
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .expect("create pod")
    }

    async fn pod(&self, name: &str) -> Option<Pod> {
        self.pods().get_opt(name).await.expect("get pod")
    }

    async fn events_about(&self, name: &str) -> Vec<Event> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), "default");
        api.list(&ListParams::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .collect()
    }

    async fn wait_for_event(&self, name: &str, reason: &str) -> Event {
        eventually(&format!("a {reason} event about {name}"), || async {
            self.events_about(name)
                .await
                .into_iter()
                .find(|e| e.reason.as_deref() == Some(reason))
        })
        .await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some((_, task)) = &self.kubelet {
            task.abort();
        }
    }
}

async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
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

fn condition(pod: &Pod, type_: &str) -> Option<PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .cloned()
}

fn is_ready(pod: &Pod) -> bool {
    condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

fn container_status(pod: &Pod, name: &str) -> Option<ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|s| s.name == name)
        .cloned()
}

fn phase(pod: &Pod) -> Option<String> {
    pod.status.as_ref()?.phase.clone()
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().expect("uid")
}

fn serving(readiness: Option<&str>, liveness: Option<&str>) -> Value {
    let mut container = json!({"name": "app", "image": "podnet", "command": ["serve"]});
    if let Some(flag) = readiness {
        container["readinessProbe"] = json!({"exec": {"command": ["check", flag]}, "periodSeconds": 1, "failureThreshold": 1});
    }
    if let Some(flag) = liveness {
        container["livenessProbe"] = json!({"exec": {"command": ["check", flag]},
            "periodSeconds": 1, "failureThreshold": 2, "terminationGracePeriodSeconds": 1});
    }
    json!({"containers": [container]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_bound_to_the_node_runs_and_becomes_ready() {
    let mut cluster = Cluster::start().await;
    cluster.runtime.set_flag("web-ready", true);
    cluster.start_kubelet();
    let created = cluster
        .create_pod("web", serving(Some("web-ready"), None))
        .await;
    let pod = eventually("web Running and Ready", || async {
        cluster
            .pod("web")
            .await
            .filter(|p| phase(p).as_deref() == Some("Running") && is_ready(p))
    })
    .await;
    let status = pod.status.clone().expect("status");
    assert!(status
        .pod_ip
        .as_deref()
        .is_some_and(|ip| ip.starts_with("10.244.1.")));
    assert_eq!(status.pod_ips.as_ref().map(Vec::len), Some(1));
    assert_eq!(status.host_ip.as_deref(), Some("172.30.0.11"));
    assert!(status.start_time.is_some());
    for type_ in [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "PodScheduled",
    ] {
        assert_eq!(
            condition(&pod, type_).map(|c| c.status).as_deref(),
            Some("True"),
            "{type_}"
        );
    }
    let app = container_status(&pod, "app").expect("app status");
    assert!(app.ready);
    assert_eq!(app.started, Some(true));
    assert_eq!(app.restart_count, 0);
    assert!(app
        .container_id
        .as_deref()
        .is_some_and(|id| id.starts_with("podnet://")));
    assert!(app.state.and_then(|s| s.running).is_some());
    let started = cluster.wait_for_event("web", "Started").await;
    assert_eq!(started.message.as_deref(), Some("Started container app"));
    assert_eq!(
        started.involved_object.field_path.as_deref(),
        Some("spec.containers{app}")
    );
    assert_eq!(started.source.and_then(|s| s.host).as_deref(), Some(NODE));
    // The sandbox was described from the pod.
    let spec = cluster
        .runtime
        .lock()
        .specs
        .get(&uid(&created))
        .cloned()
        .expect("sandbox spec");
    assert_eq!(spec.hostname, "web");
    assert!(spec.resolv_conf.contains("nameserver 10.96.0.10"));
    assert!(spec
        .resolv_conf
        .contains("search default.svc.cluster.local svc.cluster.local cluster.local"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_failure_flips_ready_and_back() {
    let mut cluster = Cluster::start().await;
    cluster.runtime.set_flag("ready", true);
    cluster.start_kubelet();
    cluster
        .create_pod("web", serving(Some("ready"), None))
        .await;
    eventually("web Ready", || async {
        cluster.pod("web").await.filter(is_ready)
    })
    .await;
    cluster.runtime.set_flag("ready", false);
    let flipped_at = Instant::now();
    let pod = eventually("web not Ready", || async {
        cluster.pod("web").await.filter(|p| !is_ready(p))
    })
    .await;
    // periodSeconds 1 x failureThreshold 1, plus a second.
    assert!(
        flipped_at.elapsed() < Duration::from_secs(3),
        "took {:?}",
        flipped_at.elapsed()
    );
    let ready = condition(&pod, "Ready").expect("Ready");
    assert_eq!(ready.reason.as_deref(), Some("ContainersNotReady"));
    assert_eq!(
        ready.message.as_deref(),
        Some("containers with unready status: [app]")
    );
    assert_eq!(phase(&pod).as_deref(), Some("Running"));
    let unhealthy = cluster.wait_for_event("web", "Unhealthy").await;
    assert_eq!(
        unhealthy.message.as_deref(),
        Some("Readiness probe failed: not healthy")
    );
    cluster.runtime.set_flag("ready", true);
    eventually("web Ready again", || async {
        cluster.pod("web").await.filter(is_ready)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_failure_restarts_the_container() {
    let mut cluster = Cluster::start().await;
    cluster.start_kubelet();
    let pod = cluster
        .create_pod("web", serving(None, Some("alive")))
        .await;
    let restarted = eventually("a restart", || async {
        cluster
            .pod("web")
            .await
            .filter(|p| container_status(p, "app").is_some_and(|s| s.restart_count == 1))
    })
    .await;
    // Keep the new container alive.
    cluster.runtime.set_flag("alive", true);
    let app = container_status(&restarted, "app").expect("app");
    let last = app
        .last_state
        .and_then(|s| s.terminated)
        .expect("last state terminated");
    assert_eq!(last.exit_code, 143);
    assert_eq!(last.signal, Some(15));
    assert_eq!(cluster.runtime.starts(&uid(&pod), "app"), 2);
    let killing = cluster.wait_for_event("web", "Killing").await;
    assert_eq!(
        killing.message.as_deref(),
        Some("Container app failed liveness probe, will be restarted")
    );
    let unhealthy = cluster.wait_for_event("web", "Unhealthy").await;
    assert_eq!(
        unhealthy.message.as_deref(),
        Some("Liveness probe failed: not healthy")
    );
    let running = eventually("app running again", || async {
        cluster.pod("web").await.filter(|p| {
            container_status(p, "app")
                .and_then(|s| s.state)
                .is_some_and(|s| s.running.is_some())
        })
    })
    .await;
    assert_eq!(phase(&running).as_deref(), Some("Running"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_container_backs_off() {
    let mut cluster = Cluster::start().await;
    cluster.start_kubelet();
    cluster
        .create_pod(
            "crash",
            json!({"containers": [{"name": "app", "image": "podnet", "command": ["exit", "3"]}]}),
        )
        .await;
    let pod = eventually("CrashLoopBackOff", || async {
        cluster.pod("crash").await.filter(|p| {
            container_status(p, "app")
                .and_then(|s| s.state)
                .and_then(|s| s.waiting)
                .is_some_and(|w| w.reason.as_deref() == Some("CrashLoopBackOff"))
        })
    })
    .await;
    let app = container_status(&pod, "app").expect("app");
    // The first restart is immediate, the second waits 10 s.
    assert_eq!(app.restart_count, 1);
    let waiting = app.state.and_then(|s| s.waiting).expect("waiting");
    let label = format!("crash_default({})", uid(&pod));
    assert_eq!(
        waiting.message.as_deref(),
        Some(format!("back-off 10s restarting failed container=app pod={label}").as_str())
    );
    assert_eq!(
        app.last_state
            .and_then(|s| s.terminated)
            .map(|t| t.exit_code),
        Some(3)
    );
    assert_eq!(phase(&pod).as_deref(), Some("Running"));
    let backoff = cluster.wait_for_event("crash", "BackOff").await;
    assert_eq!(
        backoff.message.as_deref(),
        Some(format!("Back-off restarting failed container app in pod {label}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_containers_run_first_and_a_finished_pod_releases_its_sandbox() {
    let mut cluster = Cluster::start().await;
    cluster.start_kubelet();
    let created = cluster
        .create_pod(
            "job",
            json!({"restartPolicy": "Never",
                "initContainers": [{"name": "setup", "image": "podnet", "command": ["exit", "0"]}],
                "containers": [{"name": "work", "image": "podnet", "command": ["exit", "0"]}]}),
        )
        .await;
    let pod = eventually("job Succeeded", || async {
        cluster
            .pod("job")
            .await
            .filter(|p| phase(p).as_deref() == Some("Succeeded"))
    })
    .await;
    let init = pod
        .status
        .as_ref()
        .and_then(|s| s.init_container_statuses.clone())
        .expect("init statuses");
    let setup = init[0]
        .state
        .clone()
        .and_then(|s| s.terminated)
        .expect("setup terminated");
    assert_eq!(setup.reason.as_deref(), Some("Completed"));
    assert!(init[0].ready);
    assert_eq!(
        condition(&pod, "Ready").and_then(|c| c.reason).as_deref(),
        Some("PodCompleted")
    );
    assert!(pod.status.as_ref().and_then(|s| s.pod_ip.clone()).is_some());
    eventually("the sandbox released", || async {
        (!cluster.runtime.has_sandbox(&uid(&created))).then_some(())
    })
    .await;
    assert_eq!(cluster.runtime.starts(&uid(&created), "work"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_without_command_says_why_it_cannot_start() {
    let mut cluster = Cluster::start().await;
    cluster.start_kubelet();
    cluster
        .create_pod(
            "nocmd",
            json!({"containers": [{"name": "app", "image": "nginx"}]}),
        )
        .await;
    let pod = eventually("CreateContainerConfigError", || async {
        cluster.pod("nocmd").await.filter(|p| {
            container_status(p, "app")
                .and_then(|s| s.state)
                .and_then(|s| s.waiting)
                .is_some_and(|w| w.reason.as_deref() == Some("CreateContainerConfigError"))
        })
    })
    .await;
    let waiting = container_status(&pod, "app")
        .and_then(|s| s.state)
        .and_then(|s| s.waiting)
        .expect("waiting");
    assert!(waiting
        .message
        .as_deref()
        .is_some_and(|m| m.contains("no command")));
    assert_eq!(phase(&pod).as_deref(), Some("Pending"));
    let failed = cluster.wait_for_event("nocmd", "Failed").await;
    assert!(failed
        .message
        .as_deref()
        .is_some_and(|m| m.starts_with("Error: ")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_stops_releases_and_is_confirmed() {
    let mut cluster = Cluster::start().await;
    cluster.start_kubelet();
    let created = cluster.create_pod("web", serving(None, None)).await;
    eventually("web Running", || async {
        cluster
            .pod("web")
            .await
            .filter(|p| phase(p).as_deref() == Some("Running"))
    })
    .await;
    cluster
        .pods()
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("web gone", || async {
        cluster.pod("web").await.is_none().then_some(())
    })
    .await;
    let uid = uid(&created);
    assert!(!cluster.runtime.has_sandbox(&uid));
    let stopping = cluster.wait_for_event("web", "Killing").await;
    assert_eq!(stopping.message.as_deref(), Some("Stopping container app"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_adopts_running_containers() {
    let mut cluster = Cluster::start().await;
    cluster.start_kubelet();
    let created = cluster.create_pod("web", serving(None, None)).await;
    let uid = uid(&created);
    let first = eventually("web Running", || async {
        cluster
            .pod("web")
            .await
            .filter(|p| phase(p).as_deref() == Some("Running"))
    })
    .await;
    cluster.stop_kubelet().await;

    // While the agent is down: the API shows restarts from earlier, and a
    // sandbox of a pod that no longer exists is left on the node.
    let patch = json!({"status": {"containerStatuses": [
        serde_json::to_value(ContainerStatus { restart_count: 4, ..container_status(&first, "app").expect("app") }).expect("status")
    ]}});
    cluster
        .pods()
        .patch_status("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch status");
    cluster
        .runtime
        .create_sandbox(&SandboxSpec {
            uid: "ghost".into(),
            namespace: "default".into(),
            name: "ghost".into(),
            hostname: "ghost".into(),
            domain: None,
            host_network: false,
            resolv_conf: String::new(),
            extra_hosts: Vec::new(),
            port_mappings: Vec::new(),
        })
        .expect("ghost sandbox");

    cluster.start_kubelet();
    eventually("the ghost sandbox collected", || async {
        (!cluster.runtime.has_sandbox("ghost")).then_some(())
    })
    .await;
    let collected = cluster.runtime.lock().collected.clone();
    assert!(collected.last().is_some_and(|live| live.contains(&uid)));
    // Give the new worker time to act on the pod.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pod = cluster.pod("web").await.expect("web");
    assert_eq!(cluster.runtime.starts(&uid, "app"), 1, "no restart");
    let app = container_status(&pod, "app").expect("app");
    assert_eq!(app.restart_count, 4);
    assert_eq!(
        app.container_id,
        container_status(&first, "app").and_then(|s| s.container_id)
    );
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.pod_ip.clone()),
        first.status.as_ref().and_then(|s| s.pod_ip.clone())
    );
    assert!(is_ready(&pod));
}

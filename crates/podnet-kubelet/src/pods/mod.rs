//! The pod worker: watches the pods bound to this node and, one task per
//! pod uid, drives the runtime toward what each pod asks for (sandbox, init
//! containers, containers, restarts, probes), writes the pod's status and
//! events, and carries out its deletion.
//!
//! At start the sandboxes already on the node are adopted: their running
//! containers keep running, and restart counts continue from the pod's
//! status in the API. Once the first list of pods is in, the runtime
//! removes what belongs to no pod any more.

pub mod backoff;
pub mod dns;
pub mod env;
pub mod events;
pub mod runtime;
mod worker;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::dns::ClusterDns;
use self::events::PodEvents;
use self::runtime::{PodRuntime, Sandbox};

/// How the kubelet part of an agent runs.
#[derive(Debug, Clone)]
pub struct KubeletConfig {
    pub node_name: String,
    /// The node's addresses: the pods' hostIP(s), and the podIP(s) of host-network pods.
    pub node_ips: Vec<IpAddr>,
    pub cluster_dns: Vec<IpAddr>,
    pub cluster_domain: String,
    /// The node's resolver configuration, for dnsPolicy Default and the
    /// search domains appended under ClusterFirst.
    pub node_resolv_conf: PathBuf,
    /// True once the node's CNI configuration exists; pods that need a
    /// network wait for it (host-network pods do not).
    pub cni_ready: watch::Receiver<bool>,
    /// Sandboxes built at the same time at most (default: half the host's cores, at
    /// least 1; a build is mostly kernel work and a plugin's lock, and the node's
    /// starting containers need the other half).
    pub parallel_sandbox_builds: usize,
}

impl KubeletConfig {
    /// The cluster defaults: DNS 10.96.0.10, domain cluster.local, the node's /etc/resolv.conf.
    pub fn new(
        node_name: impl Into<String>,
        node_ips: Vec<IpAddr>,
        cni_ready: watch::Receiver<bool>,
    ) -> KubeletConfig {
        KubeletConfig {
            node_name: node_name.into(),
            node_ips,
            cluster_dns: vec![IpAddr::from([10, 96, 0, 10])],
            cluster_domain: "cluster.local".into(),
            node_resolv_conf: PathBuf::from("/etc/resolv.conf"),
            cni_ready,
            parallel_sandbox_builds: std::thread::available_parallelism()
                .map(|n| n.get() / 2)
                .unwrap_or(1)
                .max(1),
        }
    }
}

/// Why the kubelet part stopped.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    #[error("{context}: {source}")]
    Api {
        context: String,
        #[source]
        source: kube::Error,
    },
    #[error("{context}: {source}")]
    Runtime {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{context}: the blocking task failed: {source}")]
    Blocking {
        context: String,
        #[source]
        source: tokio::task::JoinError,
    },
    #[error("the watch of the pods of node {node} ended")]
    WatchEnded { node: String },
}

/// What every pod worker of the node shares.
pub(crate) struct Shared<R> {
    pub client: Client,
    pub runtime: Arc<R>,
    pub config: KubeletConfig,
    pub cluster_dns: ClusterDns,
    pub events: PodEvents,
    /// Sandbox builds in flight at most: beyond the cores, more at once only
    /// queue in the kernel and in the CNI plugins' locks, and every pod waits
    /// longer for its network.
    pub sandbox_builds: tokio::sync::Semaphore,
}

/// Runs a blocking runtime call off the async threads.
pub(crate) async fn blocking<R, T, F>(
    runtime: &Arc<R>,
    context: impl Into<String>,
    call: F,
) -> Result<T, KubeletError>
where
    R: PodRuntime,
    T: Send + 'static,
    F: FnOnce(&R) -> Result<T, R::Error> + Send + 'static,
{
    let runtime = Arc::clone(runtime);
    let context = context.into();
    match tokio::task::spawn_blocking(move || call(&runtime)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(KubeletError::Runtime {
            context,
            source: Box::new(error),
        }),
        Err(source) => Err(KubeletError::Blocking { context, source }),
    }
}

struct WorkerHandle {
    pod: watch::Sender<Option<Pod>>,
    task: JoinHandle<()>,
}

/// Runs the pods bound to `config.node_name` until `shutdown` completes.
/// Containers keep running after a shutdown: the next run adopts them.
pub async fn run<R: PodRuntime>(
    client: Client,
    runtime: Arc<R>,
    config: KubeletConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), KubeletError> {
    let node = config.node_name.clone();
    let mut adoptable: HashMap<String, Sandbox> =
        blocking(&runtime, "listing the sandboxes on the node", |r| {
            r.sandboxes()
        })
        .await?
        .into_iter()
        .map(|sandbox| (sandbox.uid.clone(), sandbox))
        .collect();
    let shared = Arc::new(Shared {
        events: PodEvents::start(client.clone(), &node),
        sandbox_builds: tokio::sync::Semaphore::new(config.parallel_sandbox_builds.max(1)),
        cluster_dns: ClusterDns {
            servers: config.cluster_dns.clone(),
            domain: config.cluster_domain.clone(),
        },
        client: client.clone(),
        runtime: Arc::clone(&runtime),
        config,
    });
    let api: Api<Pod> = Api::all(client);
    let selector = format!("spec.nodeName={node}");
    let mut stream = watcher(api, watcher::Config::default().fields(&selector))
        .default_backoff()
        .boxed();
    let mut workers: HashMap<String, WorkerHandle> = HashMap::new();
    // Pods whose worker ended (deleted or gone): late updates about them
    // start nothing. Forgotten at each new list, which no longer has them.
    let mut done: HashSet<String> = HashSet::new();
    let mut listing: HashSet<String> = HashSet::new();
    let mut collected = false;
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    let mut reap = tokio::time::interval(Duration::from_secs(5));
    loop {
        let event = tokio::select! {
            _ = &mut shutdown => break,
            _ = reap.tick() => {
                workers.retain(|uid, w| {
                    let finished = w.task.is_finished();
                    if finished {
                        done.insert(uid.clone());
                    }
                    !finished
                });
                continue;
            }
            event = stream.next() => event,
        };
        let event = match event {
            None => return Err(KubeletError::WatchEnded { node }),
            Some(Err(error)) => {
                tracing::warn!(%error, node = %node, "watching the node's pods failed; retrying");
                continue;
            }
            Some(Ok(event)) => event,
        };
        match event {
            Event::Init => {
                listing.clear();
                done.clear();
            }
            Event::InitApply(pod) => {
                if let Some(uid) = pod.uid() {
                    listing.insert(uid);
                }
                apply(&shared, &mut workers, &done, &mut adoptable, pod);
            }
            Event::InitDone => {
                for (uid, worker) in &workers {
                    if !listing.contains(uid) {
                        worker.pod.send_replace(None);
                    }
                }
                if !collected {
                    collected = true;
                    // Sandboxes of pods that are gone from the API.
                    for uid in adoptable.keys() {
                        tracing::info!(uid = %uid, "removing the sandbox of a pod that no longer exists");
                    }
                    adoptable.clear();
                    let live = listing.clone();
                    if let Err(error) =
                        blocking(&runtime, "garbage-collecting sandboxes", move |r| {
                            r.garbage_collect(&live)
                        })
                        .await
                    {
                        tracing::warn!(%error, "garbage collection of the node's sandboxes failed");
                    }
                }
            }
            Event::Apply(pod) => apply(&shared, &mut workers, &done, &mut adoptable, pod),
            Event::Delete(pod) => {
                if let Some(worker) = pod.uid().and_then(|uid| workers.get(&uid)) {
                    worker.pod.send_replace(None);
                }
            }
        }
    }
    // The containers stay; only the workers stop.
    for worker in workers.values() {
        worker.task.abort();
    }
    Ok(())
}

fn apply<R: PodRuntime>(
    shared: &Arc<Shared<R>>,
    workers: &mut HashMap<String, WorkerHandle>,
    done: &HashSet<String>,
    adoptable: &mut HashMap<String, Sandbox>,
    pod: Pod,
) {
    let Some(uid) = pod.uid() else {
        return;
    };
    if done.contains(&uid) {
        return;
    }
    if let Some(worker) = workers.get(&uid) {
        worker.pod.send_replace(Some(pod));
        return;
    }
    let (sender, receiver) = watch::channel(Some(pod));
    let task = tokio::spawn(worker::run(
        Arc::clone(shared),
        uid.clone(),
        receiver,
        // A sandbox whose namespace holder is gone (a reboot, a kill mid-build)
        // cannot run containers: the worker builds it again instead.
        adoptable.remove(&uid).filter(|sandbox| sandbox.ready),
    ));
    workers.insert(uid, WorkerHandle { pod: sender, task });
}

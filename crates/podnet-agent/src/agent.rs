//! The agent's loops: the network loop (Nodes -> conflist, routes, table)
//! and the reporter (registration, status, Lease), run together until
//! shutdown.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use tokio::sync::watch;

use crate::config::NodeAgentConfig;
use crate::conflist::{self, ConflistInputs};
use crate::dataplane::{Dataplane, KernelDataplane};
use crate::error::{is_conflict, is_not_found, AgentError};
use crate::host::HostFacts;
use crate::lease::{self, NODE_LEASE_NAMESPACE};
use crate::masquerade::{self, MasqueradeInputs};
use crate::routing::{self, LocalNode, NodeView};
use crate::status::{self, Readiness, MESSAGE_STOPPED};

/// How often the network state is re-applied even without a Node change, to
/// repair what something else changed.
const RESYNC_EVERY: Duration = Duration::from_secs(30);
/// The first retry after a failure; doubled up to the heartbeat (network)
/// or [`RESYNC_EVERY`].
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// Even an unchanged status is posted this often, so the Node's heartbeat
/// times stay recent (the kubelet's `nodeStatusReportFrequency`).
const STATUS_REPORT_EVERY: Duration = Duration::from_secs(300);
/// How long the final Ready=False may take before the agent gives up on it.
const STOP_REPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// The field manager of the agent's writes.
const FIELD_MANAGER: &str = "podnet-agent";

/// The node part of the agent, ready to run.
pub struct NodeAgent {
    config: NodeAgentConfig,
    dataplane: Box<dyn Dataplane>,
    conflist_ready: watch::Sender<bool>,
}

impl std::fmt::Debug for NodeAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeAgent")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Tells whoever runs pods on the node where its CNI config is, once it is
/// written for the node's pod CIDR (`None` until then).
pub type ConflistReady = watch::Receiver<bool>;

impl NodeAgent {
    /// An agent programming the kernel of the namespace it runs in.
    pub fn new(config: NodeAgentConfig) -> Result<(NodeAgent, ConflistReady), AgentError> {
        let dataplane = KernelDataplane::new(config.underlay_interface.clone())?;
        NodeAgent::with_dataplane(config, Box::new(dataplane))
    }

    /// An agent applying its network state through `dataplane`.
    pub fn with_dataplane(
        config: NodeAgentConfig,
        dataplane: Box<dyn Dataplane>,
    ) -> Result<(NodeAgent, ConflistReady), AgentError> {
        config.validate().map_err(AgentError::Config)?;
        let (conflist_ready, receiver) = watch::channel(false);
        Ok((
            NodeAgent {
                config,
                dataplane,
                conflist_ready,
            },
            receiver,
        ))
    }

    /// Runs until `shutdown` completes (then posts Ready=False and returns
    /// `Ok`) or a failure the agent cannot retry (then posts Ready=False and
    /// returns it). API failures are retried with back-off, so the agent
    /// survives API server restarts.
    pub async fn run(
        self,
        client: Client,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), AgentError> {
        let NodeAgent {
            config,
            dataplane,
            conflist_ready,
        } = self;
        let (dataplane, underlay_mtu) =
            blocking("prepare the node namespace", dataplane, |dp| dp.prepare()).await?;
        let underlay_mtu = config.underlay_mtu.unwrap_or(underlay_mtu?);
        let facts = tokio::task::spawn_blocking(HostFacts::read)
            .await
            .map_err(|error| AgentError::Task {
                context: "read the host's facts".into(),
                message: error.to_string(),
            })?;
        let (readiness_tx, readiness_rx) = watch::channel(Readiness::network_not_ready(
            "the node's network is not set up yet",
        ));
        let mut reporter = Reporter::new(client.clone(), config.clone(), facts);
        let network = NetworkLoop {
            nodes: Api::all(client.clone()),
            config: config.clone(),
            underlay_mtu,
            dataplane: Some(dataplane),
            readiness: readiness_tx,
            conflist_ready,
        };
        tracing::info!(node = %config.node_name, routing = %config.routing, masquerade = config.masquerade, underlay_mtu, "node agent starting");
        let outcome = tokio::select! {
            () = shutdown => Ok(()),
            result = network.run() => result,
            result = reporter.run(readiness_rx) => result,
        };
        match tokio::time::timeout(STOP_REPORT_TIMEOUT, reporter.post_stopped()).await {
            Ok(Ok(())) => {
                tracing::info!(node = %config.node_name, "posted Ready=False: agent stopped")
            }
            Ok(Err(error)) => tracing::warn!(%error, "could not post Ready=False on the way out"),
            Err(_) => tracing::warn!("posting Ready=False on the way out timed out"),
        }
        outcome
    }
}

/// Runs the node part of the agent in the calling process's network
/// namespace until `shutdown` completes; see [`NodeAgent::run`].
pub async fn run(
    client: Client,
    config: NodeAgentConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let (agent, _conflist_ready) = NodeAgent::new(config)?;
    agent.run(client, shutdown).await
}

/// Runs `work` on the dataplane on a blocking thread (netlink and nft wait
/// for the kernel and for processes) and hands the dataplane back.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    mut dataplane: Box<dyn Dataplane>,
    work: impl FnOnce(&mut dyn Dataplane) -> T + Send + 'static,
) -> Result<(Box<dyn Dataplane>, T), AgentError> {
    tokio::task::spawn_blocking(move || {
        let result = work(dataplane.as_mut());
        (dataplane, result)
    })
    .await
    .map_err(|error| AgentError::Task {
        context: what.into(),
        message: error.to_string(),
    })
}

/// Doubles a delay from [`FIRST_RETRY`] up to a ceiling.
struct Backoff {
    next: Duration,
    ceiling: Duration,
}

impl Backoff {
    fn new(ceiling: Duration) -> Backoff {
        Backoff {
            next: FIRST_RETRY,
            ceiling,
        }
    }

    fn next(&mut self) -> Duration {
        let delay = self.next.min(self.ceiling);
        self.next = (self.next * 2).min(self.ceiling);
        delay
    }

    fn reset(&mut self) {
        self.next = FIRST_RETRY;
    }
}

struct NetworkLoop {
    nodes: Api<Node>,
    config: NodeAgentConfig,
    underlay_mtu: u32,
    /// Away only while a blocking apply runs.
    dataplane: Option<Box<dyn Dataplane>>,
    readiness: watch::Sender<Readiness>,
    conflist_ready: watch::Sender<bool>,
}

impl NetworkLoop {
    async fn run(mut self) -> Result<(), AgentError> {
        let mut events = watcher(self.nodes.clone(), watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut known: BTreeMap<String, NodeView> = BTreeMap::new();
        let mut listing: Option<BTreeMap<String, NodeView>> = None;
        let mut listed = false;
        let mut backoff = Backoff::new(RESYNC_EVERY);
        let mut next_sync = tokio::time::Instant::now() + RESYNC_EVERY;
        loop {
            let mut changed = false;
            tokio::select! {
                event = events.next() => {
                    let event = event.ok_or(AgentError::WatchEnded("nodes"))?;
                    changed |= apply_event(event, &mut known, &mut listing, &mut listed);
                    // Take whatever else is already there before applying.
                    while let Some(Some(event)) = events.next().now_or_never() {
                        changed |= apply_event(event, &mut known, &mut listing, &mut listed);
                    }
                }
                () = tokio::time::sleep_until(next_sync) => {
                    // Moved on here too: before the first list no sync runs to
                    // move it, and a past deadline would wake this loop at once, forever.
                    next_sync = tokio::time::Instant::now() + RESYNC_EVERY;
                    changed = true;
                }
            }
            if !(changed && listed) {
                continue;
            }
            match self.sync(&known).await? {
                Ok(()) => {
                    backoff.reset();
                    next_sync = tokio::time::Instant::now() + RESYNC_EVERY;
                }
                Err(error) => {
                    let delay = backoff.next();
                    tracing::warn!(%error, retry_in = ?delay, "node network not in place");
                    next_sync = tokio::time::Instant::now() + delay;
                }
            }
        }
    }

    /// Brings conflist, routes and table to what `nodes` call for. The outer
    /// error is fatal; the inner one is retried.
    async fn sync(
        &mut self,
        nodes: &BTreeMap<String, NodeView>,
    ) -> Result<Result<(), AgentError>, AgentError> {
        let own = nodes.get(&self.config.node_name);
        let pod_cidr = own.and_then(|node| node.pod_cidr);
        let views: Vec<NodeView> = nodes.values().cloned().collect();
        let local = LocalNode {
            name: &self.config.node_name,
            ip: self.config.node_ip,
            mode: self.config.routing,
            underlay_mtu: self.underlay_mtu,
            pod_cidr,
        };
        let desired = routing::compile(&local, &views);
        for skipped in &desired.skipped {
            tracing::debug!(peer = %skipped, "peer not routed yet");
        }
        let table = masquerade::table(&MasqueradeInputs {
            enabled: self.config.masquerade,
            pod_cidr,
            cluster_cidr: self.config.cluster_cidr,
            underlay_interface: &self.config.underlay_interface,
        });

        let conflist_written = match pod_cidr {
            Some(pod_cidr) => Some(self.write_conflist(pod_cidr).await),
            None => None,
        };

        let dataplane = self.dataplane.take().ok_or_else(|| AgentError::Task {
            context: "apply the node network".into(),
            message: "the dataplane was lost by an earlier apply".into(),
        })?;
        let (dataplane, (routes, table)) =
            blocking("apply the node network", dataplane, move |dp| {
                (dp.apply_routing(&desired), dp.apply_masquerade(&table))
            })
            .await?;
        self.dataplane = Some(dataplane);

        let readiness = match (pod_cidr, &conflist_written, &routes, &table) {
            (None, _, _, _) => Readiness::network_not_ready("no pod CIDR assigned to the node yet"),
            (_, Some(Err(error)), _, _) => {
                Readiness::network_not_ready(format!("CNI config not written: {error}"))
            }
            (_, _, Err(error), _) => {
                Readiness::network_not_ready(format!("routes not in place: {error}"))
            }
            (_, _, _, Err(error)) => {
                Readiness::network_not_ready(format!("masquerade table not applied: {error}"))
            }
            _ => Readiness::Ready,
        };
        self.readiness.send_if_modified(|current| {
            if *current == readiness {
                false
            } else {
                *current = readiness.clone();
                true
            }
        });
        match (conflist_written, routes, table) {
            (Some(Err(error)), _, _) | (_, Err(error), _) | (_, _, Err(error)) => Ok(Err(error)),
            _ => Ok(Ok(())),
        }
    }

    async fn write_conflist(&mut self, pod_cidr: ipnet::Ipv4Net) -> Result<(), AgentError> {
        let path = self.config.conflist_path();
        let text = conflist::render(&ConflistInputs {
            pod_cidr,
            cluster_cidr: self.config.cluster_cidr,
            mtu: routing::pod_mtu(self.config.routing, self.underlay_mtu),
            state_root: &self.config.state_root,
            plugins: self.config.cni_plugins,
        });
        let target = path.clone();
        let written =
            tokio::task::spawn_blocking(move || conflist::write_if_changed(&target, &text))
                .await
                .map_err(|error| AgentError::Task {
                    context: "write the CNI config".into(),
                    message: error.to_string(),
                })?
                .map_err(AgentError::io(format!("write {}", path.display())))?;
        if written {
            tracing::info!(path = %path.display(), %pod_cidr, "CNI config written");
        }
        self.conflist_ready
            .send_if_modified(|ready| !std::mem::replace(ready, true));
        Ok(())
    }
}

/// Folds one watch event into the known nodes; whether they changed.
fn apply_event(
    event: Result<watcher::Event<Node>, watcher::Error>,
    known: &mut BTreeMap<String, NodeView>,
    listing: &mut Option<BTreeMap<String, NodeView>>,
    listed: &mut bool,
) -> bool {
    match event {
        Err(error) => {
            tracing::warn!(%error, "watch of nodes failed; retrying");
            false
        }
        Ok(watcher::Event::Init) => {
            *listing = Some(BTreeMap::new());
            false
        }
        Ok(watcher::Event::InitApply(node)) => {
            let view = NodeView::of(&node);
            listing
                .get_or_insert_with(BTreeMap::new)
                .insert(view.name.clone(), view);
            false
        }
        Ok(watcher::Event::InitDone) => {
            *known = listing.take().unwrap_or_default();
            *listed = true;
            true
        }
        Ok(watcher::Event::Apply(node)) => {
            let view = NodeView::of(&node);
            known.insert(view.name.clone(), view.clone()) != Some(view)
        }
        Ok(watcher::Event::Delete(node)) => known
            .remove(node.metadata.name.as_deref().unwrap_or_default())
            .is_some(),
    }
}

/// Registration, status and Lease.
struct Reporter {
    nodes: Api<Node>,
    leases: Api<Lease>,
    config: NodeAgentConfig,
    facts: HostFacts,
    /// The uid of the registered Node; `None` until registered (again).
    node_uid: Option<String>,
    lease: Option<Lease>,
    last_status_post: Option<Instant>,
}

impl Reporter {
    fn new(client: Client, config: NodeAgentConfig, facts: HostFacts) -> Reporter {
        Reporter {
            nodes: Api::all(client.clone()),
            leases: Api::namespaced(client, NODE_LEASE_NAMESPACE),
            config,
            facts,
            node_uid: None,
            lease: None,
            last_status_post: None,
        }
    }

    async fn run(&mut self, mut readiness: watch::Receiver<Readiness>) -> Result<(), AgentError> {
        let mut backoff = Backoff::new(self.config.heartbeat);
        loop {
            let current = readiness.borrow_and_update().clone();
            let wait = match self.beat(&current).await {
                Ok(()) => {
                    backoff.reset();
                    self.config.heartbeat
                }
                Err(error) => {
                    let delay = backoff.next();
                    tracing::warn!(%error, retry_in = ?delay, "node heartbeat failed");
                    delay
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                changed = readiness.changed() => {
                    if changed.is_err() {
                        // The network loop is gone; the select in `run` ends too.
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }

    async fn beat(&mut self, readiness: &Readiness) -> Result<(), AgentError> {
        if self.node_uid.is_none() {
            self.register().await?;
        }
        self.post_status(readiness).await?;
        self.renew_lease().await
    }

    /// Creates the Node, or brings an existing one's labels and annotation
    /// up to date.
    async fn register(&mut self) -> Result<(), AgentError> {
        let name = &self.config.node_name;
        let node = match self
            .nodes
            .create(
                &PostParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..PostParams::default()
                },
                &status::new_node(&self.config, &self.facts),
            )
            .await
        {
            Ok(node) => {
                tracing::info!(node = %name, "registered the node");
                node
            }
            Err(error) if is_conflict(&error) => self
                .nodes
                .patch(
                    name,
                    &PatchParams::default(),
                    &Patch::Merge(status::registration_patch(&self.config, &self.facts)),
                )
                .await
                .map_err(AgentError::api(format!("update the existing node {name}")))?,
            Err(error) => return Err(AgentError::api(format!("register node {name}"))(error)),
        };
        self.node_uid = node.metadata.uid;
        self.last_status_post = None;
        Ok(())
    }

    /// Posts the status when it changed (or is due); a vanished Node is
    /// registered again on the next beat.
    async fn post_status(&mut self, readiness: &Readiness) -> Result<(), AgentError> {
        let name = self.config.node_name.clone();
        let current = match self.nodes.get(&name).await {
            Ok(node) => node,
            Err(error) if is_not_found(&error) => {
                tracing::warn!(node = %name, "the node is gone; registering it again");
                self.node_uid = None;
                self.lease = None;
                self.register().await?;
                self.nodes
                    .get(&name)
                    .await
                    .map_err(AgentError::api(format!("read node {name}")))?
            }
            Err(error) => return Err(AgentError::api(format!("read node {name}"))(error)),
        };
        if current.metadata.uid != self.node_uid {
            self.node_uid = current.metadata.uid.clone();
            self.lease = None;
        }
        let desired = status::node_status(
            &self.config,
            &self.facts,
            readiness,
            current.status.as_ref(),
            Timestamp::now(),
        );
        let due = self
            .last_status_post
            .is_none_or(|at| at.elapsed() >= STATUS_REPORT_EVERY);
        if !due && !status::status_changed(current.status.as_ref(), &desired) {
            return Ok(());
        }
        self.nodes
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(status::status_patch(&desired)),
            )
            .await
            .map_err(AgentError::api(format!("post the status of node {name}")))?;
        self.last_status_post = Some(Instant::now());
        Ok(())
    }

    async fn renew_lease(&mut self) -> Result<(), AgentError> {
        let name = self.config.node_name.clone();
        let uid = self.node_uid.clone().unwrap_or_default();
        let seconds = i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let now = Timestamp::now();
        let existing = match self.lease.take() {
            Some(lease) => Some(lease),
            None => match self.leases.get(&name).await {
                Ok(lease) => Some(lease),
                Err(error) if is_not_found(&error) => None,
                Err(error) => return Err(AgentError::api(format!("read lease {name}"))(error)),
            },
        };
        let result = match existing {
            Some(existing) => {
                let lease = lease::renewed(&existing, &name, &uid, seconds, now);
                self.leases
                    .replace(&name, &PostParams::default(), &lease)
                    .await
            }
            None => {
                let lease = lease::new_lease(&name, &uid, seconds, now);
                self.leases.create(&PostParams::default(), &lease).await
            }
        };
        match result {
            Ok(lease) => {
                self.lease = Some(lease);
                Ok(())
            }
            // Someone else wrote it, or it went: read it afresh next time.
            Err(error) => Err(AgentError::api(format!(
                "renew lease {NODE_LEASE_NAMESPACE}/{name}"
            ))(error)),
        }
    }

    /// Ready=False "agent stopped", once, without renewing the Lease again.
    async fn post_stopped(&mut self) -> Result<(), AgentError> {
        let name = self.config.node_name.clone();
        let current = match self.nodes.get(&name).await {
            Ok(node) => node,
            Err(error) if is_not_found(&error) => return Ok(()),
            Err(error) => return Err(AgentError::api(format!("read node {name}"))(error)),
        };
        let desired = status::node_status(
            &self.config,
            &self.facts,
            &Readiness::NotReady(MESSAGE_STOPPED.into()),
            current.status.as_ref(),
            Timestamp::now(),
        );
        self.nodes
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(status::status_patch(&desired)),
            )
            .await
            .map_err(AgentError::api(format!("post the status of node {name}")))?;
        Ok(())
    }
}

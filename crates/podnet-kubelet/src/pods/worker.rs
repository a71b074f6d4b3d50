//! One pod's worker: a loop that reads the pod's latest version, moves the
//! node toward it one step at a time and writes what it sees as status.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::backoff::{go_duration, should_restart, CrashLoopBackoff};
use super::dns::{sandbox_spec, ResolvConf};
use super::env::{container_command, container_env, PodAddresses};
use super::events::{ContainerRef, EventType};
use super::runtime::{ContainerSpec, ContainerState, PodRuntime, Sandbox};
use super::{blocking, KubeletError, Shared};
use crate::probe::{
    self, probe_of, probe_spec, ProbeKind, ProbeOutcome, ProbeResult, ProbeSpec, ProbeTarget,
    ProbeTracker,
};
use crate::status::{
    needs_write, pod_status, ContainerObservation, ContainerView, PodObservation, Terminated,
};

/// How often the runtime is asked whether containers are still running.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Retries of a failed sandbox creation: from 1 s, doubling, up to 30 s.
const SANDBOX_RETRY_MIN: Duration = Duration::from_secs(1);
const SANDBOX_RETRY_MAX: Duration = Duration::from_secs(30);
/// Kubernetes' default terminationGracePeriodSeconds.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// The least time a container is given to stop, as the kubelet gives it.
const MINIMUM_GRACE: Duration = Duration::from_secs(2);

/// A probe run's result on its way back to the worker.
struct ProbeReport {
    container: usize,
    probe: usize,
    run: u64,
    outcome: ProbeOutcome,
}

/// One container of the pod as the worker tracks it.
struct Slot {
    name: String,
    image: String,
    init: bool,
    /// What the runtime said last.
    state: ContainerState,
    /// Starts by this worker; probe reports of an older run are dropped.
    run: u64,
    restart_count: i32,
    /// The run before the current one.
    previous_exit: Option<Terminated>,
    /// Why the container is not running, when it waits.
    waiting: Option<(String, Option<String>)>,
    probes: Vec<(ProbeTracker, ProbeSpec)>,
    /// What the API said about this container when the worker started.
    adopted: Option<ContainerStatus>,
    /// The time a failed start may be tried again.
    retry_at: Option<SystemTime>,
    /// The BackOff event for this exit was written.
    backoff_reported: bool,
}

impl Slot {
    fn new(container: &Container, init: bool, api: Option<&ContainerStatus>) -> Slot {
        Slot {
            name: container.name.clone(),
            image: container.image.clone().unwrap_or_default(),
            init,
            state: ContainerState::Missing,
            run: 0,
            restart_count: api.map(|s| s.restart_count).unwrap_or(0),
            previous_exit: api.and_then(last_terminated_of),
            waiting: None,
            probes: Vec::new(),
            adopted: api.cloned(),
            retry_at: None,
            backoff_reported: false,
        }
    }

    fn reference(&self) -> ContainerRef<'_> {
        if self.init {
            ContainerRef::Init(&self.name)
        } else {
            ContainerRef::App(&self.name)
        }
    }

    fn started_at(&self) -> Option<SystemTime> {
        match self.state {
            ContainerState::Running { started_at, .. } => Some(started_at),
            ContainerState::Exited { started_at, .. } => Some(started_at),
            ContainerState::Missing => None,
        }
    }

    fn is_running(&self) -> bool {
        matches!(self.state, ContainerState::Running { .. })
    }

    fn exit_code(&self) -> Option<i32> {
        match self.state {
            ContainerState::Exited { exit_code, .. } => Some(exit_code),
            _ => None,
        }
    }

    fn probe(&self, kind: ProbeKind) -> Option<&ProbeTracker> {
        self.probes
            .iter()
            .map(|(tracker, _)| tracker)
            .find(|t| t.kind() == kind)
    }

    /// The startup probe succeeded, or there is none.
    fn started(&self) -> bool {
        self.is_running()
            && self
                .probe(ProbeKind::Startup)
                .is_none_or(|t| t.result() == ProbeResult::Success)
    }

    fn ready(&self) -> bool {
        if self.init {
            return self.exit_code() == Some(0);
        }
        self.started()
            && self
                .probe(ProbeKind::Readiness)
                .is_none_or(|t| t.result() == ProbeResult::Success)
    }
}

fn last_terminated_of(status: &ContainerStatus) -> Option<Terminated> {
    let t = status.last_state.as_ref()?.terminated.as_ref()?;
    let time = |time: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        time.as_ref()
            .map(|t| SystemTime::from(t.0))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    Some(Terminated {
        exit_code: t.exit_code,
        signal: t.signal,
        reason: t.reason.clone().unwrap_or_default(),
        message: t.message.clone(),
        started_at: time(&t.started_at),
        finished_at: time(&t.finished_at),
        container_id: t.container_id.clone().unwrap_or_default(),
    })
}

/// `podnet://<id>`: stable for one run of a container, also across agent restarts.
fn container_id(uid: &str, name: &str, started_at: SystemTime) -> String {
    let nanos = started_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "podnet://{}",
        podnet_model::hash::short_hash(&format!("{uid}/{name}/{nanos}"), 20)
    )
}

/// The instant `at` was, on the monotonic clock.
fn instant_of(at: SystemTime) -> Instant {
    let now = Instant::now();
    match SystemTime::now().duration_since(at) {
        Ok(ago) => now.checked_sub(ago).unwrap_or(now),
        Err(_) => now,
    }
}

/// `name_namespace(uid)`, as the kubelet names a pod in messages.
fn pod_label(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.name_any(),
        pod.namespace().unwrap_or_default(),
        pod.uid().unwrap_or_default()
    )
}

pub(crate) struct Worker<R: PodRuntime> {
    shared: Arc<Shared<R>>,
    uid: String,
    pods: watch::Receiver<Option<Pod>>,
    sandbox: Option<Sandbox>,
    sandbox_retry_at: Option<Instant>,
    sandbox_retry: Duration,
    /// The last reason the sandbox could not be made, to report it once.
    sandbox_problem: Option<String>,
    slots: Vec<Slot>,
    init_count: usize,
    backoff: CrashLoopBackoff,
    probe_sender: mpsc::UnboundedSender<ProbeReport>,
    probe_receiver: mpsc::UnboundedReceiver<ProbeReport>,
    /// The pod ran to its end: no containers, no sandbox, status final.
    finished: bool,
    pod_ips: Vec<IpAddr>,
    written: Option<(k8s_openapi::api::core::v1::PodStatus, Option<u64>)>,
}

/// Runs the worker of pod `uid` until the pod is deleted or gone.
pub(crate) async fn run<R: PodRuntime>(
    shared: Arc<Shared<R>>,
    uid: String,
    pods: watch::Receiver<Option<Pod>>,
    adopted: Option<Sandbox>,
) {
    let Some(pod) = pods.borrow().clone() else {
        return;
    };
    let (probe_sender, probe_receiver) = mpsc::unbounded_channel();
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    let api_status = |list: &Option<Vec<ContainerStatus>>, name: &str| {
        list.iter().flatten().find(|s| s.name == name).cloned()
    };
    let mut slots = Vec::new();
    for c in spec.init_containers.iter().flatten() {
        slots.push(Slot::new(
            c,
            true,
            api_status(&status.init_container_statuses, &c.name).as_ref(),
        ));
    }
    let init_count = slots.len();
    for c in &spec.containers {
        slots.push(Slot::new(
            c,
            false,
            api_status(&status.container_statuses, &c.name).as_ref(),
        ));
    }
    let finished = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
    let pod_ips = if spec.host_network == Some(true) {
        shared.config.node_ips.clone()
    } else {
        match &adopted {
            Some(sandbox) => sandbox.ips.clone(),
            None => status
                .pod_ips
                .iter()
                .flatten()
                .filter_map(|ip| ip.ip.parse().ok())
                .collect(),
        }
    };
    let mut worker = Worker {
        pod_ips,
        shared,
        uid,
        pods,
        sandbox: adopted,
        sandbox_retry_at: None,
        sandbox_retry: SANDBOX_RETRY_MIN,
        sandbox_problem: None,
        slots,
        init_count,
        backoff: CrashLoopBackoff::default(),
        probe_sender,
        probe_receiver,
        finished,
        written: None,
    };
    if finished {
        // A pod that ended before this agent started: only its sandbox may be left.
        worker.remove_sandbox().await;
    } else {
        worker.adopt().await;
    }
    worker.main_loop().await;
}

impl<R: PodRuntime> Worker<R> {
    fn pod(&self) -> Option<Pod> {
        self.pods.borrow().clone()
    }

    fn runtime(&self) -> &Arc<R> {
        &self.shared.runtime
    }

    /// The runtime's record of slot `i`'s container.
    async fn read_container_state(&self, i: usize) -> Result<ContainerState, KubeletError> {
        let (uid, name) = (self.uid.clone(), self.slots[i].name.clone());
        blocking(
            self.runtime(),
            format!("reading container {name}"),
            move |r| r.container_state(&uid, &name),
        )
        .await
    }

    fn record(
        &self,
        pod: &Pod,
        slot: Option<usize>,
        kind: EventType,
        reason: &str,
        message: String,
    ) {
        let container = slot.map(|i| self.slots[i].reference());
        self.shared
            .events
            .record(pod, container, kind, reason, message);
    }

    /// Takes over the containers of an adopted sandbox as they are.
    async fn adopt(&mut self) {
        if self.sandbox.is_none() {
            return;
        }
        let Some(pod) = self.pod() else {
            return;
        };
        let spec = pod.spec.clone().unwrap_or_default();
        let containers: Vec<Container> = spec
            .init_containers
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(spec.containers.clone())
            .collect();
        for i in 0..self.slots.len() {
            let state = match self.read_container_state(i).await {
                Ok(state) => state,
                Err(error) => {
                    tracing::warn!(%error, "adopting a container");
                    continue;
                }
            };
            let slot = &mut self.slots[i];
            slot.state = state;
            if let ContainerState::Running { started_at, .. } = slot.state {
                slot.run = 1;
                slot.probes = containers
                    .get(i)
                    .and_then(|c| container_probes(c).ok())
                    .unwrap_or_default();
                let same_run = slot.adopted.as_ref().and_then(|s| s.container_id.clone())
                    == Some(container_id(&self.uid, &slot.name, started_at));
                let was_ready = slot.adopted.as_ref().is_some_and(|s| s.ready);
                let was_started = slot
                    .adopted
                    .as_ref()
                    .is_some_and(|s| s.started == Some(true));
                for (tracker, _) in &mut slot.probes {
                    let kept = match tracker.kind() {
                        ProbeKind::Readiness if same_run && was_ready => ProbeResult::Success,
                        ProbeKind::Startup if same_run && was_started => ProbeResult::Success,
                        _ => {
                            tracker.container_started(instant_of(started_at));
                            continue;
                        }
                    };
                    tracker.container_adopted(instant_of(started_at), kept);
                }
            }
        }
    }

    async fn main_loop(&mut self) {
        loop {
            let Some(pod) = self.pod() else {
                self.tear_down(MINIMUM_GRACE).await;
                return;
            };
            if pod.metadata.deletion_timestamp.is_some() {
                self.terminate(&pod).await;
                return;
            }
            if !self.finished {
                if let Err(error) = self.sync(&pod).await {
                    tracing::warn!(%error, pod = %pod_label(&pod), "syncing a pod");
                }
                self.write_status(&pod).await;
            }
            let wake = self.next_wake();
            tokio::select! {
                changed = self.pods.changed() => {
                    if changed.is_err() {
                        // The manager is gone (the agent stops): leave everything running.
                        return;
                    }
                }
                Some(report) = self.probe_receiver.recv() => {
                    let pod = self.pod();
                    if let Some(pod) = pod {
                        self.probe_reported(&pod, report).await;
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }

    fn next_wake(&self) -> Instant {
        let mut wake = Instant::now() + POLL_INTERVAL;
        if let Some(at) = self.sandbox_retry_at {
            wake = wake.min(at);
        }
        for slot in &self.slots {
            for (tracker, _) in &slot.probes {
                if let Some(due) = tracker.next_due() {
                    wake = wake.min(due);
                }
            }
        }
        wake
    }

    /// One step toward what the pod asks for.
    async fn sync(&mut self, pod: &Pod) -> Result<(), KubeletError> {
        if !self.ensure_sandbox(pod).await? {
            return Ok(());
        }
        self.refresh_states().await;
        let spec = pod.spec.clone().unwrap_or_default();
        let policy = spec
            .restart_policy
            .clone()
            .unwrap_or_else(|| "Always".into());

        // Init containers, one after the other, each to a successful exit.
        let mut initialized = true;
        for i in 0..self.init_count {
            match self.slots[i].state {
                ContainerState::Exited { exit_code: 0, .. } => continue,
                ContainerState::Running { .. } => {
                    initialized = false;
                    break;
                }
                ContainerState::Missing => {
                    initialized = false;
                    let container = spec.init_containers.as_ref().map(|c| c[i].clone());
                    if let Some(container) = container {
                        self.start(pod, i, &container).await;
                    }
                    break;
                }
                ContainerState::Exited { .. } => {
                    initialized = false;
                    if policy == "Never" {
                        self.finish(pod).await;
                        return Ok(());
                    }
                    let container = spec.init_containers.as_ref().map(|c| c[i].clone());
                    if let Some(container) = container {
                        self.restart_after_backoff(pod, i, &container).await;
                    }
                    break;
                }
            }
        }
        if !initialized {
            for slot in &mut self.slots[self.init_count..] {
                if slot.state == ContainerState::Missing {
                    slot.waiting = Some(("PodInitializing".into(), None));
                }
            }
            return Ok(());
        }

        for (offset, container) in spec.containers.iter().enumerate() {
            let i = self.init_count + offset;
            match self.slots[i].state {
                ContainerState::Running { .. } => {}
                ContainerState::Missing => self.start(pod, i, container).await,
                ContainerState::Exited { exit_code, .. } => {
                    if should_restart(&policy, exit_code) {
                        self.restart_after_backoff(pod, i, container).await;
                    }
                }
            }
        }
        let all_done = self.slots[self.init_count..].iter().all(|slot| {
            slot.exit_code()
                .is_some_and(|code| !should_restart(&policy, code))
        });
        if all_done {
            self.finish(pod).await;
            return Ok(());
        }
        self.start_due_probes();
        Ok(())
    }

    /// The sandbox exists (made now if needed); false while it cannot be made yet.
    async fn ensure_sandbox(&mut self, pod: &Pod) -> Result<bool, KubeletError> {
        if self.sandbox.is_some() {
            return Ok(true);
        }
        if self.sandbox_retry_at.is_some_and(|at| at > Instant::now()) {
            return Ok(false);
        }
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        if !host_network && !*self.shared.config.cni_ready.borrow() {
            let problem = "network is not ready: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni config uninitialized".to_string();
            if self.sandbox_problem.as_deref() != Some(problem.as_str()) {
                self.record(
                    pod,
                    None,
                    EventType::Warning,
                    "NetworkNotReady",
                    problem.clone(),
                );
                self.sandbox_problem = Some(problem);
            }
            self.mark_waiting_all("ContainerCreating");
            return Ok(false);
        }
        let node_conf = match tokio::fs::read_to_string(&self.shared.config.node_resolv_conf).await
        {
            Ok(text) => ResolvConf::parse(&text),
            Err(error) => {
                tracing::debug!(%error, "no node resolv.conf; pods resolving as the node get an empty one");
                ResolvConf::default()
            }
        };
        self.mark_waiting_all("ContainerCreating");
        let spec = match sandbox_spec(pod, &self.shared.cluster_dns, &node_conf) {
            Ok(spec) => spec,
            Err(error) => {
                self.sandbox_failed(pod, error.to_string());
                return Ok(false);
            }
        };
        let created = {
            let _turn = self
                .shared
                .sandbox_builds
                .acquire()
                .await
                .expect("the sandbox semaphore is never closed");
            blocking(self.runtime(), "creating the pod sandbox", move |r| {
                r.create_sandbox(&spec)
            })
            .await
        };
        match created {
            Ok(sandbox) => {
                self.pod_ips = if host_network {
                    self.shared.config.node_ips.clone()
                } else {
                    sandbox.ips.clone()
                };
                self.sandbox = Some(sandbox);
                self.sandbox_retry = SANDBOX_RETRY_MIN;
                self.sandbox_retry_at = None;
                self.sandbox_problem = None;
                Ok(true)
            }
            Err(error) => {
                self.sandbox_failed(pod, error.to_string());
                Ok(false)
            }
        }
    }

    fn sandbox_failed(&mut self, pod: &Pod, error: String) {
        let message = format!("Failed to create pod sandbox: {error}");
        self.record(
            pod,
            None,
            EventType::Warning,
            "FailedCreatePodSandBox",
            message.clone(),
        );
        self.sandbox_problem = Some(message);
        self.sandbox_retry_at = Some(Instant::now() + self.sandbox_retry);
        self.sandbox_retry = (self.sandbox_retry * 2).min(SANDBOX_RETRY_MAX);
    }

    fn mark_waiting_all(&mut self, reason: &str) {
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if slot.state == ContainerState::Missing {
                let reason = if i < self.init_count || self.init_count == 0 {
                    reason
                } else {
                    "PodInitializing"
                };
                slot.waiting = Some((reason.into(), None));
            }
        }
    }

    /// Asks the runtime where each started container is.
    async fn refresh_states(&mut self) {
        for i in 0..self.slots.len() {
            if self.slots[i].run == 0 && self.slots[i].state == ContainerState::Missing {
                continue;
            }
            let state = match self.read_container_state(i).await {
                Ok(state) => state,
                Err(error) => {
                    tracing::warn!(%error, "reading a container's state");
                    continue;
                }
            };
            self.observe(i, state);
        }
    }

    /// Takes in the runtime's view of container `i`.
    fn observe(&mut self, i: usize, state: ContainerState) {
        let slot = &mut self.slots[i];
        let was_running = slot.is_running();
        slot.state = state;
        match slot.state {
            ContainerState::Running { .. } => slot.waiting = None,
            _ if was_running => {
                for (tracker, _) in &mut slot.probes {
                    tracker.container_stopped();
                }
                slot.backoff_reported = false;
            }
            _ => {}
        }
    }

    /// Restarts container `i` unless it is in its crash-loop back-off.
    async fn restart_after_backoff(&mut self, pod: &Pod, i: usize, container: &Container) {
        let ContainerState::Exited { finished_at, .. } = self.slots[i].state else {
            return;
        };
        let now = SystemTime::now();
        if self
            .backoff
            .remaining(&self.slots[i].name, finished_at, now)
            .is_some()
        {
            let wait = self
                .backoff
                .current(&self.slots[i].name)
                .unwrap_or_default();
            let name = self.slots[i].name.clone();
            self.slots[i].waiting = Some((
                "CrashLoopBackOff".into(),
                Some(format!(
                    "back-off {} restarting failed container={name} pod={}",
                    go_duration(wait),
                    pod_label(pod)
                )),
            ));
            if !self.slots[i].backoff_reported {
                self.slots[i].backoff_reported = true;
                self.record(
                    pod,
                    Some(i),
                    EventType::Warning,
                    "BackOff",
                    format!(
                        "Back-off restarting failed container {name} in pod {}",
                        pod_label(pod)
                    ),
                );
            }
            return;
        }
        self.start(pod, i, container).await;
    }

    /// Starts (or restarts) container `i`.
    async fn start(&mut self, pod: &Pod, i: usize, container: &Container) {
        let now = SystemTime::now();
        if self.slots[i].retry_at.is_some_and(|at| at > now) {
            return;
        }
        let prepared = self.prepare(pod, container);
        let (spec, probes) = match prepared {
            Ok(prepared) => prepared,
            Err(message) => {
                let changed = self.slots[i]
                    .waiting
                    .as_ref()
                    .and_then(|(_, m)| m.as_deref())
                    != Some(message.as_str());
                self.slots[i].waiting =
                    Some(("CreateContainerConfigError".into(), Some(message.clone())));
                if changed {
                    self.record(
                        pod,
                        Some(i),
                        EventType::Warning,
                        "Failed",
                        format!("Error: {message}"),
                    );
                }
                return;
            }
        };
        let restart = matches!(self.slots[i].state, ContainerState::Exited { .. });
        let uid = self.uid.clone();
        let started = blocking(
            self.runtime(),
            format!("starting container {}", container.name),
            move |r| r.start_container(&uid, &spec),
        )
        .await;
        match started {
            Ok(state) => {
                let name = container.name.clone();
                let previous = self.slots[i].state.clone();
                let slot = &mut self.slots[i];
                if restart {
                    if let ContainerState::Exited {
                        exit_code,
                        signal,
                        started_at,
                        finished_at,
                        reason,
                        message,
                    } = previous
                    {
                        slot.previous_exit = Some(Terminated {
                            exit_code,
                            signal,
                            reason,
                            message: (!message.is_empty()).then_some(message),
                            started_at,
                            finished_at,
                            container_id: container_id(&uid_of(pod), &name, started_at),
                        });
                    }
                    slot.restart_count += 1;
                    self.backoff.restarted(&name, now);
                }
                let slot = &mut self.slots[i];
                slot.run += 1;
                slot.retry_at = None;
                slot.waiting = None;
                slot.backoff_reported = false;
                slot.probes = probes;
                let started_at = match state {
                    ContainerState::Running { started_at, .. } => started_at,
                    ContainerState::Exited { started_at, .. } => started_at,
                    ContainerState::Missing => now,
                };
                for (tracker, _) in &mut slot.probes {
                    tracker.container_started(instant_of(started_at));
                }
                slot.state = state;
                self.record(
                    pod,
                    Some(i),
                    EventType::Normal,
                    "Created",
                    format!("Created container: {name}"),
                );
                self.record(
                    pod,
                    Some(i),
                    EventType::Normal,
                    "Started",
                    format!("Started container {name}"),
                );
            }
            Err(error) => {
                let message = error.to_string();
                let slot = &mut self.slots[i];
                let wait = self
                    .backoff
                    .current(&slot.name)
                    .unwrap_or(super::backoff::INITIAL_BACKOFF);
                slot.retry_at = Some(now + wait);
                slot.waiting = Some(("RunContainerError".into(), Some(message.clone())));
                self.record(
                    pod,
                    Some(i),
                    EventType::Warning,
                    "Failed",
                    format!("Error: {message}"),
                );
            }
        }
    }

    /// The process to start for `container`, and its probes; an error says why it cannot start.
    fn prepare(
        &self,
        pod: &Pod,
        container: &Container,
    ) -> Result<(ContainerSpec, Vec<(ProbeTracker, ProbeSpec)>), String> {
        let addresses = PodAddresses {
            pod_ips: self.pod_ips.clone(),
            host_ips: self.shared.config.node_ips.clone(),
        };
        // PATH (podnet first) and HOSTNAME, when the spec sets none, are the
        // runtime's: it knows the sandbox's hostname, also for hostNetwork pods.
        let env = container_env(pod, container, &addresses).map_err(|e| e.to_string())?;
        let command = container_command(container, &env).map_err(|e| e.to_string())?;
        let probes = container_probes(container).map_err(|e| e.to_string())?;
        Ok((
            ContainerSpec {
                name: container.name.clone(),
                command,
                env,
                working_dir: container
                    .working_dir
                    .clone()
                    .filter(|d| !d.is_empty())
                    .map(Into::into),
            },
            probes,
        ))
    }

    /// Starts every probe that is due, each in its own task.
    fn start_due_probes(&mut self) {
        let now = Instant::now();
        let pod_ip = self.pod_ips.first().copied();
        for (container, slot) in self.slots.iter_mut().enumerate() {
            if !slot.is_running() {
                continue;
            }
            let target = ProbeTarget {
                uid: self.uid.clone(),
                container: slot.name.clone(),
                pod_ip,
            };
            let started = slot.is_running()
                && slot
                    .probes
                    .iter()
                    .find(|(t, _)| t.kind() == ProbeKind::Startup)
                    .is_none_or(|(t, _)| t.result() == ProbeResult::Success);
            let run = slot.run;
            for (index, (tracker, spec)) in slot.probes.iter_mut().enumerate() {
                if !tracker.begin(now, started) {
                    continue;
                }
                let spec = spec.clone();
                let target = target.clone();
                let runtime = Arc::clone(&self.shared.runtime);
                let sender = self.probe_sender.clone();
                tokio::spawn(async move {
                    let outcome = probe::run(&spec, &target, &runtime).await;
                    let _ = sender.send(ProbeReport {
                        container,
                        probe: index,
                        run,
                        outcome,
                    });
                });
            }
        }
    }

    async fn probe_reported(&mut self, pod: &Pod, report: ProbeReport) {
        let Some(slot) = self.slots.get_mut(report.container) else {
            return;
        };
        if slot.run != report.run || !slot.is_running() {
            return;
        }
        let Some((tracker, spec)) = slot.probes.get_mut(report.probe) else {
            return;
        };
        let kind = tracker.kind();
        let grace = spec.termination_grace;
        tracker.record(report.outcome.is_success());
        let wants_restart = tracker.wants_restart();
        match &report.outcome {
            ProbeOutcome::Failure(message) => self.record(
                pod,
                Some(report.container),
                EventType::Warning,
                "Unhealthy",
                format!("{} probe failed: {message}", kind.as_str()),
            ),
            ProbeOutcome::Warning(message) => self.record(
                pod,
                Some(report.container),
                EventType::Warning,
                "ProbeWarning",
                format!("{} probe warning: {message}", kind.as_str()),
            ),
            ProbeOutcome::Success => {}
        }
        if wants_restart {
            let name = self.slots[report.container].name.clone();
            self.record(
                pod,
                Some(report.container),
                EventType::Normal,
                "Killing",
                format!(
                    "Container {name} failed {} probe, will be restarted",
                    kind.lowercase()
                ),
            );
            let grace = grace.unwrap_or_else(|| pod_grace(pod));
            let uid = self.uid.clone();
            if let Err(error) = blocking(
                self.runtime(),
                format!("stopping container {name}"),
                move |r| r.stop_container(&uid, &name, grace),
            )
            .await
            {
                tracing::warn!(%error, "killing a container that failed its probe");
            }
            self.refresh_states().await;
        }
    }

    /// The pod ran to its end: stop what runs, release the sandbox, write the final status.
    async fn finish(&mut self, pod: &Pod) {
        self.stop_all(pod, pod_grace(pod), false).await;
        self.refresh_states().await;
        self.remove_sandbox().await;
        self.write_final_status(pod).await;
        self.finished = true;
    }

    async fn remove_sandbox(&mut self) {
        let uid = self.uid.clone();
        match blocking(self.runtime(), "removing the pod sandbox", move |r| {
            r.remove_sandbox(&uid)
        })
        .await
        {
            Ok(()) => self.sandbox = None,
            Err(error) => tracing::warn!(%error, uid = %self.uid, "removing a pod sandbox"),
        }
    }

    /// Stops every running container at once, each with at most `grace`;
    /// preStop hooks first when `hooks`.
    async fn stop_all(&mut self, pod: &Pod, grace: Duration, hooks: bool) {
        let deadline = Instant::now() + grace;
        let spec = pod.spec.clone().unwrap_or_default();
        let mut stops = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            if !slot.is_running() {
                continue;
            }
            let container = if slot.init {
                spec.init_containers
                    .as_ref()
                    .and_then(|c| c.get(i))
                    .cloned()
            } else {
                spec.containers.get(i - self.init_count).cloned()
            };
            self.record(
                pod,
                Some(i),
                EventType::Normal,
                "Killing",
                format!("Stopping container {}", slot.name),
            );
            let runtime = Arc::clone(&self.shared.runtime);
            let uid = self.uid.clone();
            let name = slot.name.clone();
            let pod_ip = self.pod_ips.first().copied();
            let events = self.shared.events.clone();
            let pod = pod.clone();
            let reference_init = slot.init;
            stops.push(async move {
                if hooks {
                    if let Some(container) = &container {
                        if let Some(error) =
                            run_pre_stop(&runtime, &uid, container, pod_ip, deadline).await
                        {
                            let reference = if reference_init {
                                ContainerRef::Init(&name)
                            } else {
                                ContainerRef::App(&name)
                            };
                            events.record(
                                &pod,
                                Some(reference),
                                EventType::Warning,
                                "FailedPreStopHook",
                                error,
                            );
                        }
                    }
                }
                let remaining = deadline
                    .saturating_duration_since(Instant::now())
                    .max(MINIMUM_GRACE);
                let stop_name = name.clone();
                if let Err(error) =
                    blocking(&runtime, format!("stopping container {name}"), move |r| {
                        r.stop_container(&uid, &stop_name, remaining)
                    })
                    .await
                {
                    tracing::warn!(%error, "stopping a container");
                }
            });
        }
        futures_util::future::join_all(stops).await;
    }

    /// The pod is being deleted: stop, release, confirm.
    async fn terminate(&mut self, pod: &Pod) {
        let grace = pod
            .metadata
            .deletion_grace_period_seconds
            .map(|s| Duration::from_secs(s.max(0) as u64))
            .unwrap_or_else(|| pod_grace(pod));
        self.stop_all(pod, grace, true).await;
        self.refresh_states().await;
        self.remove_sandbox().await;
        if !self.finished {
            self.write_final_status(pod).await;
        }
        let api: Api<Pod> = Api::namespaced(
            self.shared.client.clone(),
            &pod.namespace().unwrap_or_default(),
        );
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&pod.name_any(), &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.is_not_found() || status.is_conflict() => {}
            Err(error) => {
                tracing::warn!(%error, pod = %pod_label(pod), "confirming a pod's deletion");
            }
        }
    }

    /// The pod is gone from the API without a graceful deletion.
    async fn tear_down(&mut self, grace: Duration) {
        for slot in &self.slots {
            if !slot.is_running() {
                continue;
            }
            let uid = self.uid.clone();
            let name = slot.name.clone();
            if let Err(error) = blocking(self.runtime(), "stopping a container", move |r| {
                r.stop_container(&uid, &name, grace)
            })
            .await
            {
                tracing::warn!(%error, "stopping a container of a pod that is gone");
            }
        }
        self.remove_sandbox().await;
    }

    fn observations(&self) -> (Vec<ContainerObservation>, Vec<ContainerObservation>) {
        let mut init = Vec::new();
        let mut app = Vec::new();
        for slot in &self.slots {
            let observation = self.observation(slot);
            if slot.init {
                init.push(observation);
            } else {
                app.push(observation);
            }
        }
        (init, app)
    }

    fn observation(&self, slot: &Slot) -> ContainerObservation {
        let id = slot
            .started_at()
            .map(|at| container_id(&self.uid, &slot.name, at));
        let (state, last) = match &slot.state {
            ContainerState::Running { started_at, .. } => (
                ContainerView::Running {
                    started_at: *started_at,
                },
                slot.previous_exit.clone(),
            ),
            ContainerState::Exited {
                exit_code,
                signal,
                started_at,
                finished_at,
                reason,
                message,
            } => {
                let exit = Terminated {
                    exit_code: *exit_code,
                    signal: *signal,
                    reason: reason.clone(),
                    message: (!message.is_empty()).then(|| message.clone()),
                    started_at: *started_at,
                    finished_at: *finished_at,
                    container_id: id.clone().unwrap_or_default(),
                };
                match &slot.waiting {
                    Some((reason, message)) => (
                        ContainerView::Waiting {
                            reason: reason.clone(),
                            message: message.clone(),
                        },
                        Some(exit),
                    ),
                    None => (ContainerView::Terminated(exit), slot.previous_exit.clone()),
                }
            }
            ContainerState::Missing => {
                let (reason, message) = slot
                    .waiting
                    .clone()
                    .unwrap_or_else(|| ("ContainerCreating".into(), None));
                (
                    ContainerView::Waiting { reason, message },
                    slot.previous_exit.clone(),
                )
            }
        };
        ContainerObservation {
            name: slot.name.clone(),
            image: slot.image.clone(),
            state,
            last_terminated: last,
            restart_count: slot.restart_count,
            ready: slot.ready(),
            started: slot.started(),
            container_id: id,
        }
    }

    fn desired_status(&self, pod: &Pod, terminal: bool) -> k8s_openapi::api::core::v1::PodStatus {
        let (init_containers, containers) = self.observations();
        pod_status(&PodObservation {
            pod,
            sandbox_ready: self.sandbox.is_some(),
            pod_ips: self.pod_ips.clone(),
            host_ips: self.shared.config.node_ips.clone(),
            init_containers,
            containers,
            terminal,
            now: Timestamp::now(),
        })
    }

    async fn write_status(&mut self, pod: &Pod) {
        self.patch_status(pod, false).await;
    }

    async fn write_final_status(&mut self, pod: &Pod) {
        self.patch_status(pod, true).await;
    }

    /// The pod to compute the status from: the watched one, or, while the
    /// watch has not shown this worker's last write yet, that one with the
    /// status written (so conditions keep their transition times and the
    /// same status is not written twice).
    fn status_base(&self, pod: &Pod) -> Pod {
        let Some((written, written_rv)) = &self.written else {
            return pod.clone();
        };
        let seen = pod
            .metadata
            .resource_version
            .as_deref()
            .and_then(|rv| rv.parse::<u64>().ok());
        let stale = match (seen, written_rv) {
            (Some(seen), Some(written_rv)) => seen < *written_rv,
            _ => false,
        };
        let mut base = pod.clone();
        if stale {
            base.status = Some(written.clone());
        }
        base
    }

    /// Writes the status through the status subresource when it changed.
    /// A JSON merge patch: the kubelet's lists (conditions, container
    /// statuses) are replaced whole, every other field is left as it is.
    async fn patch_status(&mut self, pod: &Pod, terminal: bool) {
        let base = self.status_base(pod);
        let desired = self.desired_status(&base, terminal);
        if !needs_write(base.status.as_ref(), &desired) {
            return;
        }
        let api: Api<Pod> = Api::namespaced(
            self.shared.client.clone(),
            &pod.namespace().unwrap_or_default(),
        );
        let patch = json!({"status": desired});
        match api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(updated) => {
                let rv = updated
                    .metadata
                    .resource_version
                    .as_deref()
                    .and_then(|rv| rv.parse().ok());
                self.written = Some((desired, rv));
            }
            Err(kube::Error::Api(status)) if status.is_not_found() => {}
            Err(error) => {
                tracing::warn!(%error, pod = %pod_label(pod), "writing a pod's status");
            }
        }
    }
}

/// The container's probes, each with a fresh tracker.
fn container_probes(
    container: &Container,
) -> Result<Vec<(ProbeTracker, ProbeSpec)>, crate::probe::ProbeConfigError> {
    let mut probes = Vec::new();
    for kind in [
        ProbeKind::Startup,
        ProbeKind::Liveness,
        ProbeKind::Readiness,
    ] {
        if let Some(probe) = probe_of(container, kind) {
            let spec = probe_spec(probe, container, kind)?;
            probes.push((ProbeTracker::new(kind, &spec), spec));
        }
    }
    Ok(probes)
}

fn uid_of(pod: &Pod) -> String {
    pod.uid().unwrap_or_default()
}

/// The pod's terminationGracePeriodSeconds (30 s when unset).
fn pod_grace(pod: &Pod) -> Duration {
    pod.spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .map(|s| Duration::from_secs(s.max(0) as u64))
        .unwrap_or(DEFAULT_GRACE)
}

/// Runs the container's preStop hook within `deadline`; the error to report, if it failed.
async fn run_pre_stop<R: PodRuntime>(
    runtime: &Arc<R>,
    uid: &str,
    container: &Container,
    pod_ip: Option<IpAddr>,
    deadline: Instant,
) -> Option<String> {
    let handler = container.lifecycle.as_ref()?.pre_stop.as_ref()?;
    let budget = deadline.saturating_duration_since(Instant::now());
    if let Some(exec) = &handler.exec {
        let argv = exec.command.clone().unwrap_or_default();
        let uid = uid.to_string();
        let name = container.name.clone();
        let shown = argv.join(" ");
        return match blocking(runtime, "running a preStop hook", move |r| {
            r.exec(&uid, &name, &argv, budget)
        })
        .await
        {
            Ok(output) if output.exit_code == Some(0) && !output.timed_out => None,
            Ok(output) => Some(format!(
                "PreStopHook failed: command {shown:?} {}: {}",
                match output.exit_code {
                    Some(code) => format!("exited with {code}"),
                    None => "timed out".to_string(),
                },
                String::from_utf8_lossy(&output.stdout)
            )),
            Err(error) => Some(format!("PreStopHook failed: {error}")),
        };
    }
    if let Some(get) = &handler.http_get {
        let probe = k8s_openapi::api::core::v1::Probe {
            http_get: Some(get.clone()),
            timeout_seconds: Some(budget.as_secs().max(1) as i32),
            ..Default::default()
        };
        let spec = match probe_spec(&probe, container, ProbeKind::Liveness) {
            Ok(spec) => spec,
            Err(error) => return Some(format!("PreStopHook failed: {error}")),
        };
        let target = ProbeTarget {
            uid: uid.to_string(),
            container: container.name.clone(),
            pod_ip,
        };
        return match probe::run(&spec, &target, runtime).await {
            ProbeOutcome::Failure(message) => Some(format!("PreStopHook failed: {message}")),
            _ => None,
        };
    }
    if let Some(sleep) = &handler.sleep {
        let wanted = Duration::from_secs(sleep.seconds.max(0) as u64);
        tokio::time::sleep(wanted.min(budget)).await;
        return None;
    }
    None
}

//! A pod's status computed from what the node sees, as the kubelet
//! computes it: phase, the kubelet's conditions (keeping their
//! lastTransitionTime while unchanged, and every condition others own),
//! addresses, start time, QoS class and container statuses. Pure.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// The conditions the kubelet owns; every other condition is kept as it is.
pub const KUBELET_CONDITIONS: [&str; 5] = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
];

/// A run of a container that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminated {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: String,
    pub message: Option<String>,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    pub container_id: String,
}

/// Where a container is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerView {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: SystemTime,
    },
    Terminated(Terminated),
}

/// What the node knows about one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerObservation {
    pub name: String,
    pub image: String,
    pub state: ContainerView,
    pub last_terminated: Option<Terminated>,
    pub restart_count: i32,
    pub ready: bool,
    pub started: bool,
    /// `podnet://<id>` of the current or last run; None before the first start.
    pub container_id: Option<String>,
}

/// What the node knows about a pod.
#[derive(Debug, Clone)]
pub struct PodObservation<'a> {
    /// The pod as the API server last showed it (spec and current status).
    pub pod: &'a Pod,
    /// The sandbox exists with its network set up.
    pub sandbox_ready: bool,
    pub pod_ips: Vec<IpAddr>,
    pub host_ips: Vec<IpAddr>,
    pub init_containers: Vec<ContainerObservation>,
    pub containers: Vec<ContainerObservation>,
    /// The pod will not run containers again (deleted, or finished).
    pub terminal: bool,
    pub now: Timestamp,
}

/// A time as the API shows it (whole seconds).
pub fn api_time(at: SystemTime) -> Time {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Time(Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH))
}

fn whole_seconds(at: Timestamp) -> Time {
    Time(Timestamp::from_second(at.as_second()).unwrap_or(Timestamp::UNIX_EPOCH))
}

fn terminated_state(t: &Terminated) -> ContainerStateTerminated {
    ContainerStateTerminated {
        exit_code: t.exit_code,
        signal: t.signal,
        reason: Some(t.reason.clone()),
        message: t.message.clone(),
        started_at: Some(api_time(t.started_at)),
        finished_at: Some(api_time(t.finished_at)),
        container_id: Some(t.container_id.clone()),
    }
}

/// The API's status of one container.
pub fn container_status(observation: &ContainerObservation) -> ContainerStatus {
    let state = match &observation.state {
        ContainerView::Waiting { reason, message } => ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.clone()),
                message: message.clone(),
            }),
            ..ContainerState::default()
        },
        ContainerView::Running { started_at } => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(api_time(*started_at)),
            }),
            ..ContainerState::default()
        },
        ContainerView::Terminated(t) => ContainerState {
            terminated: Some(terminated_state(t)),
            ..ContainerState::default()
        },
    };
    let last_state = observation
        .last_terminated
        .as_ref()
        .map(|t| ContainerState {
            terminated: Some(terminated_state(t)),
            ..ContainerState::default()
        })
        .unwrap_or_default();
    ContainerStatus {
        name: observation.name.clone(),
        image: observation.image.clone(),
        // Nothing is pulled: there is no image digest to show.
        image_id: String::new(),
        container_id: observation.container_id.clone(),
        ready: observation.ready,
        started: Some(observation.started),
        restart_count: observation.restart_count,
        state: Some(state),
        last_state: Some(last_state),
        ..ContainerStatus::default()
    }
}

/// A regular container that runs or ran: the pod was initialized before.
fn any_regular_started(statuses: &[ContainerStatus]) -> bool {
    statuses.iter().any(|s| {
        s.state
            .as_ref()
            .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
    })
}

fn status_of<'a>(statuses: &'a [ContainerStatus], name: &str) -> Option<&'a ContainerStatus> {
    statuses.iter().find(|s| s.name == name)
}

fn terminated_of(state: &Option<ContainerState>) -> Option<&ContainerStateTerminated> {
    state.as_ref().and_then(|s| s.terminated.as_ref())
}

/// Kubernetes' pod phase from the container statuses. `terminal`: the
/// containers will not be restarted whatever the restart policy says.
pub fn phase(
    pod: &Pod,
    init_statuses: &[ContainerStatus],
    statuses: &[ContainerStatus],
    terminal: bool,
) -> &'static str {
    let spec = pod.spec.clone().unwrap_or_default();
    let restart_policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let mut pending_initialization = 0;
    let mut failed_initialization = 0;
    for container in spec.init_containers.iter().flatten() {
        let Some(status) = status_of(init_statuses, &container.name) else {
            pending_initialization += 1;
            continue;
        };
        let state = status.state.clone().unwrap_or_default();
        if state.running.is_some() {
            pending_initialization += 1;
        } else if let Some(t) = &state.terminated {
            if t.exit_code != 0 {
                failed_initialization += 1;
            }
        } else if state.waiting.is_some() {
            match terminated_of(&status.last_state) {
                Some(last) if last.exit_code != 0 => failed_initialization += 1,
                Some(_) => {}
                None => pending_initialization += 1,
            }
        } else {
            pending_initialization += 1;
        }
    }
    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0, 0);
    for container in &spec.containers {
        let Some(status) = status_of(statuses, &container.name) else {
            unknown += 1;
            continue;
        };
        let state = status.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = &state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if state.waiting.is_some() {
            if terminated_of(&status.last_state).is_some() {
                stopped += 1;
            } else {
                waiting += 1;
            }
        } else {
            unknown += 1;
        }
    }
    if failed_initialization > 0 && restart_policy == "Never" {
        return "Failed";
    }
    if (pending_initialization > 0 && !any_regular_started(statuses)) || waiting > 0 {
        return "Pending";
    }
    if running > 0 && unknown == 0 {
        return "Running";
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if terminal {
            return if stopped == succeeded {
                "Succeeded"
            } else {
                "Failed"
            };
        }
        if restart_policy == "Always" {
            return "Running";
        }
        if stopped == succeeded {
            return "Succeeded";
        }
        if restart_policy == "Never" {
            return "Failed";
        }
        return "Running";
    }
    "Pending"
}

fn condition(
    type_: &str,
    ready: bool,
    reason: Option<&str>,
    message: Option<String>,
) -> PodCondition {
    PodCondition {
        type_: type_.to_string(),
        status: if ready { "True" } else { "False" }.to_string(),
        reason: reason.map(str::to_string),
        message,
        ..PodCondition::default()
    }
}

/// Go's `%s` of a string slice: `[a b]`.
fn go_list(names: &[String]) -> String {
    format!("[{}]", names.join(" "))
}

fn terminal_reason(phase: &str) -> Option<&'static str> {
    match phase {
        "Failed" => Some("PodFailed"),
        "Succeeded" => Some("PodCompleted"),
        _ => None,
    }
}

fn containers_ready(pod: &Pod, statuses: &[ContainerStatus], phase: &str) -> PodCondition {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut unknown = Vec::new();
    let mut unready = Vec::new();
    for container in &spec.containers {
        match status_of(statuses, &container.name) {
            Some(status) if !status.ready => unready.push(container.name.clone()),
            Some(_) => {}
            None => unknown.push(container.name.clone()),
        }
    }
    if (phase == "Succeeded" && unknown.is_empty()) || phase == "Failed" {
        return condition("ContainersReady", false, terminal_reason(phase), None);
    }
    let mut messages = Vec::new();
    if !unknown.is_empty() {
        messages.push(format!(
            "containers with unknown status: {}",
            go_list(&unknown)
        ));
    }
    if !unready.is_empty() {
        messages.push(format!(
            "containers with unready status: {}",
            go_list(&unready)
        ));
    }
    if messages.is_empty() {
        condition("ContainersReady", true, None, None)
    } else {
        condition(
            "ContainersReady",
            false,
            Some("ContainersNotReady"),
            Some(messages.join(", ")),
        )
    }
}

fn pod_ready(pod: &Pod, containers_ready: &PodCondition, others: &[PodCondition]) -> PodCondition {
    if containers_ready.status != "True" {
        return PodCondition {
            type_: "Ready".into(),
            ..containers_ready.clone()
        };
    }
    let spec = pod.spec.clone().unwrap_or_default();
    let mut messages = Vec::new();
    for gate in spec.readiness_gates.iter().flatten() {
        match others.iter().find(|c| c.type_ == gate.condition_type) {
            None => messages.push(format!(
                "corresponding condition of pod readiness gate {:?} does not exist.",
                gate.condition_type
            )),
            Some(c) if c.status != "True" => messages.push(format!(
                "the status of pod readiness gate {:?} is not \"True\", but {}",
                gate.condition_type, c.status
            )),
            Some(_) => {}
        }
    }
    if messages.is_empty() {
        condition("Ready", true, None, None)
    } else {
        condition(
            "Ready",
            false,
            Some("ReadinessGatesNotReady"),
            Some(messages.join(", ")),
        )
    }
}

fn initialized(
    pod: &Pod,
    init_statuses: &[ContainerStatus],
    statuses: &[ContainerStatus],
    phase: &str,
) -> PodCondition {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut unknown = Vec::new();
    let mut incomplete = Vec::new();
    for container in spec.init_containers.iter().flatten() {
        match status_of(init_statuses, &container.name) {
            // An init container is ready once it exited 0.
            Some(status) if !status.ready => incomplete.push(container.name.clone()),
            Some(_) => {}
            None => unknown.push(container.name.clone()),
        }
    }
    if phase == "Succeeded" && unknown.is_empty() {
        return condition("Initialized", true, Some("PodCompleted"), None);
    }
    if any_regular_started(statuses) {
        return condition("Initialized", true, None, None);
    }
    let mut messages = Vec::new();
    if !unknown.is_empty() {
        messages.push(format!(
            "containers with unknown status: {}",
            go_list(&unknown)
        ));
    }
    if !incomplete.is_empty() {
        messages.push(format!(
            "containers with incomplete status: {}",
            go_list(&incomplete)
        ));
    }
    if messages.is_empty() {
        condition("Initialized", true, None, None)
    } else {
        condition(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(messages.join(", ")),
        )
    }
}

/// QoS class from the containers' requests and limits, when the API server
/// has not recorded one.
fn qos_class(pod: &Pod) -> String {
    let spec = pod.spec.clone().unwrap_or_default();
    let all: Vec<_> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let any = all.iter().any(|c| {
        c.resources.as_ref().is_some_and(|r| {
            r.requests.as_ref().is_some_and(|m| !m.is_empty())
                || r.limits.as_ref().is_some_and(|m| !m.is_empty())
        })
    });
    if !any {
        return "BestEffort".into();
    }
    let guaranteed = all.iter().all(|c| {
        let resources = c.resources.clone().unwrap_or_default();
        ["cpu", "memory"].iter().all(|name| {
            let limit = resources.limits.as_ref().and_then(|l| l.get(*name));
            let request = resources.requests.as_ref().and_then(|r| r.get(*name));
            limit.is_some() && (request.is_none() || request == limit)
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
    .into()
}

/// The status the kubelet writes for `observation`.
pub fn pod_status(observation: &PodObservation) -> PodStatus {
    let pod = observation.pod;
    let current = pod.status.clone().unwrap_or_default();
    let init_statuses: Vec<ContainerStatus> = observation
        .init_containers
        .iter()
        .map(container_status)
        .collect();
    let statuses: Vec<ContainerStatus> = observation
        .containers
        .iter()
        .map(container_status)
        .collect();

    let mut phase = phase(pod, &init_statuses, &statuses, observation.terminal).to_string();
    // A pod never leaves a terminal phase.
    if let Some(previous @ ("Succeeded" | "Failed")) = current.phase.as_deref() {
        phase = previous.to_string();
    }

    let others: Vec<PodCondition> = current
        .conditions
        .iter()
        .flatten()
        .filter(|c| !KUBELET_CONDITIONS.contains(&c.type_.as_str()))
        .cloned()
        .collect();
    let ready_to_start = condition(
        "PodReadyToStartContainers",
        observation.sandbox_ready,
        None,
        None,
    );
    let initialized = initialized(pod, &init_statuses, &statuses, &phase);
    let containers_ready = containers_ready(pod, &statuses, &phase);
    let ready = pod_ready(pod, &containers_ready, &others);
    let scheduled = current
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "True")
        .cloned()
        .unwrap_or_else(|| condition("PodScheduled", true, None, None));
    let mut conditions = others;
    for mut c in [
        ready_to_start,
        initialized,
        ready,
        containers_ready,
        scheduled,
    ] {
        let previous = current
            .conditions
            .iter()
            .flatten()
            .find(|p| p.type_ == c.type_);
        c.last_transition_time = match previous {
            Some(p) if p.status == c.status && p.last_transition_time.is_some() => {
                p.last_transition_time.clone()
            }
            _ => Some(whole_seconds(observation.now)),
        };
        conditions.push(c);
    }

    let pod_ips: Vec<PodIP> = observation
        .pod_ips
        .iter()
        .map(|ip| PodIP { ip: ip.to_string() })
        .collect();
    let host_ips: Vec<HostIP> = observation
        .host_ips
        .iter()
        .map(|ip| HostIP { ip: ip.to_string() })
        .collect();
    PodStatus {
        phase: Some(phase),
        conditions: Some(conditions),
        pod_ip: pod_ips.first().map(|p| p.ip.clone()),
        pod_ips: (!pod_ips.is_empty()).then_some(pod_ips),
        host_ip: host_ips.first().map(|h| h.ip.clone()),
        host_ips: (!host_ips.is_empty()).then_some(host_ips),
        start_time: current
            .start_time
            .clone()
            .or_else(|| Some(whole_seconds(observation.now))),
        qos_class: current.qos_class.clone().or_else(|| Some(qos_class(pod))),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        container_statuses: Some(statuses),
        message: current.message.clone(),
        reason: current.reason.clone(),
        nominated_node_name: current.nominated_node_name.clone(),
        ..PodStatus::default()
    }
}

/// Whether `desired` differs from what the API shows in any field the kubelet writes.
pub fn needs_write(current: Option<&PodStatus>, desired: &PodStatus) -> bool {
    let Some(current) = current else {
        return true;
    };
    let (Ok(current), Ok(desired)) = (serde_json::to_value(current), serde_json::to_value(desired))
    else {
        return true;
    };
    let Some(desired) = desired.as_object() else {
        return true;
    };
    desired
        .iter()
        .any(|(key, value)| current.get(key) != Some(value))
}

#[cfg(test)]
mod tests;

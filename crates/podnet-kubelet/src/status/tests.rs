use std::time::Duration;

use serde_json::{json, Value};

use super::*;

fn pod(spec: Value, status: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
        "spec": spec,
        "status": status,
    }))
    .expect("pod")
}

fn two_containers() -> Value {
    json!({"containers": [{"name": "a", "image": "img-a"}, {"name": "b", "image": "img-b"}]})
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn now() -> Timestamp {
    Timestamp::from_second(1_700_000_100).unwrap()
}

fn running(name: &str, ready: bool) -> ContainerObservation {
    ContainerObservation {
        name: name.into(),
        image: format!("img-{name}"),
        state: ContainerView::Running { started_at: at(1) },
        last_terminated: None,
        restart_count: 0,
        ready,
        started: true,
        container_id: Some(format!("podnet://{name}1")),
    }
}

fn exited(name: &str, code: i32) -> ContainerObservation {
    ContainerObservation {
        state: ContainerView::Terminated(Terminated {
            exit_code: code,
            signal: None,
            reason: if code == 0 { "Completed" } else { "Error" }.into(),
            message: None,
            started_at: at(1),
            finished_at: at(2),
            container_id: format!("podnet://{name}1"),
        }),
        ready: false,
        started: false,
        ..running(name, false)
    }
}

fn waiting(name: &str, reason: &str) -> ContainerObservation {
    ContainerObservation {
        state: ContainerView::Waiting {
            reason: reason.into(),
            message: None,
        },
        ready: false,
        started: false,
        container_id: None,
        ..running(name, false)
    }
}

fn observe<'a>(
    pod: &'a Pod,
    init: Vec<ContainerObservation>,
    containers: Vec<ContainerObservation>,
    terminal: bool,
) -> PodObservation<'a> {
    PodObservation {
        pod,
        sandbox_ready: true,
        pod_ips: vec!["10.244.1.7".parse().unwrap()],
        host_ips: vec!["172.30.0.11".parse().unwrap()],
        init_containers: init,
        containers,
        terminal,
        now: now(),
    }
}

fn cond<'a>(status: &'a PodStatus, type_: &str) -> &'a PodCondition {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition"))
}

fn phase_of(
    spec: Value,
    init: Vec<ContainerObservation>,
    containers: Vec<ContainerObservation>,
    terminal: bool,
) -> String {
    let p = pod(spec, json!({}));
    pod_status(&observe(&p, init, containers, terminal))
        .phase
        .unwrap()
}

#[test]
fn phases_follow_kubernetes_rules() {
    let spec = two_containers();
    assert_eq!(
        phase_of(
            spec.clone(),
            vec![],
            vec![running("a", true), running("b", true)],
            false
        ),
        "Running"
    );
    assert_eq!(
        phase_of(
            spec.clone(),
            vec![],
            vec![running("a", true), waiting("b", "ContainerCreating")],
            false
        ),
        "Pending"
    );
    assert_eq!(
        phase_of(spec.clone(), vec![], vec![running("a", true)], false),
        "Pending"
    );
    // All exited: Always keeps restarting; OnFailure and Never finish.
    assert_eq!(
        phase_of(
            spec.clone(),
            vec![],
            vec![exited("a", 0), exited("b", 1)],
            false
        ),
        "Running"
    );
    let on_failure = json!({"restartPolicy": "OnFailure", "containers": spec["containers"]});
    assert_eq!(
        phase_of(
            on_failure.clone(),
            vec![],
            vec![exited("a", 0), exited("b", 0)],
            false
        ),
        "Succeeded"
    );
    assert_eq!(
        phase_of(
            on_failure,
            vec![],
            vec![exited("a", 0), exited("b", 2)],
            false
        ),
        "Running"
    );
    let never = json!({"restartPolicy": "Never", "containers": spec["containers"]});
    assert_eq!(
        phase_of(never, vec![], vec![exited("a", 0), exited("b", 2)], false),
        "Failed"
    );
    // Terminal (deleted): no restarts whatever the policy.
    assert_eq!(
        phase_of(
            spec.clone(),
            vec![],
            vec![exited("a", 0), exited("b", 143)],
            true
        ),
        "Failed"
    );
    assert_eq!(
        phase_of(spec, vec![], vec![exited("a", 0), exited("b", 0)], true),
        "Succeeded"
    );
}

#[test]
fn a_container_in_back_off_counts_as_stopped() {
    let spec = json!({"restartPolicy": "OnFailure", "containers": [{"name": "a"}]});
    let mut crash = waiting("a", "CrashLoopBackOff");
    crash.last_terminated = Some(match exited("a", 1).state {
        ContainerView::Terminated(t) => t,
        _ => unreachable!("exited() makes a terminated container"),
    });
    crash.restart_count = 3;
    assert_eq!(phase_of(spec, vec![], vec![crash], false), "Running");
}

#[test]
fn init_containers_gate_the_phase() {
    let spec = json!({"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]});
    assert_eq!(
        phase_of(
            spec.clone(),
            vec![running("i", false)],
            vec![waiting("a", "PodInitializing")],
            false
        ),
        "Pending"
    );
    let never = json!({"restartPolicy": "Never", "initContainers": [{"name": "i"}], "containers": [{"name": "a"}]});
    assert_eq!(
        phase_of(
            never,
            vec![exited("i", 1)],
            vec![waiting("a", "PodInitializing")],
            false
        ),
        "Failed"
    );
    let mut done = exited("i", 0);
    done.ready = true;
    let p = pod(spec, json!({}));
    let status = pod_status(&observe(&p, vec![done], vec![running("a", true)], false));
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(cond(&status, "Initialized").status, "True");
}

#[test]
fn conditions_say_which_containers_are_not_ready() {
    let p = pod(
        json!({"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}, {"name": "b"}]}),
        json!({}),
    );
    let status = pod_status(&observe(
        &p,
        vec![running("i1", false)],
        vec![
            waiting("a", "PodInitializing"),
            waiting("b", "PodInitializing"),
        ],
        false,
    ));
    let init = cond(&status, "Initialized");
    assert_eq!(init.status, "False");
    assert_eq!(init.reason.as_deref(), Some("ContainersNotInitialized"));
    assert_eq!(
        init.message.as_deref(),
        Some("containers with unknown status: [i2], containers with incomplete status: [i1]")
    );
    let ready = cond(&status, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason.as_deref(), Some("ContainersNotReady"));
    assert_eq!(
        ready.message.as_deref(),
        Some("containers with unready status: [a b]")
    );
    assert_eq!(cond(&status, "ContainersReady").message, ready.message);
    assert_eq!(cond(&status, "PodReadyToStartContainers").status, "True");
    assert_eq!(cond(&status, "PodScheduled").status, "True");
}

#[test]
fn finished_pods_say_completed_or_failed() {
    let p = pod(
        json!({"restartPolicy": "Never", "containers": [{"name": "a"}]}),
        json!({}),
    );
    let status = pod_status(&observe(&p, vec![], vec![exited("a", 0)], false));
    assert_eq!(status.phase.as_deref(), Some("Succeeded"));
    assert_eq!(
        cond(&status, "Ready").reason.as_deref(),
        Some("PodCompleted")
    );
    assert_eq!(
        cond(&status, "Initialized").reason.as_deref(),
        Some("PodCompleted")
    );
    let status = pod_status(&observe(&p, vec![], vec![exited("a", 1)], false));
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    assert_eq!(
        cond(&status, "ContainersReady").reason.as_deref(),
        Some("PodFailed")
    );
}

#[test]
fn transition_times_are_kept_while_a_condition_keeps_its_status() {
    let earlier = "2023-11-14T22:00:00Z";
    let p = pod(
        two_containers(),
        json!({"phase": "Running", "qosClass": "Burstable", "startTime": earlier, "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": earlier},
            {"type": "ContainersReady", "status": "False", "lastTransitionTime": earlier},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": earlier},
            {"type": "example.com/gate", "status": "True", "lastTransitionTime": earlier},
        ]}),
    );
    let status = pod_status(&observe(
        &p,
        vec![],
        vec![running("a", true), running("b", true)],
        false,
    ));
    let earlier_time: Timestamp = earlier.parse().unwrap();
    assert_eq!(
        cond(&status, "Ready").last_transition_time,
        Some(Time(earlier_time))
    );
    assert_eq!(
        cond(&status, "PodScheduled").last_transition_time,
        Some(Time(earlier_time))
    );
    assert_eq!(
        cond(&status, "ContainersReady").last_transition_time,
        Some(Time(now()))
    );
    // Conditions owned by others stay, first.
    assert_eq!(
        status.conditions.as_ref().unwrap()[0].type_,
        "example.com/gate"
    );
    assert_eq!(status.start_time, Some(Time(earlier_time)));
    assert_eq!(status.qos_class.as_deref(), Some("Burstable"));
}

#[test]
fn readiness_gates_hold_ready_until_their_conditions_are_true() {
    let spec = json!({"readinessGates": [{"conditionType": "example.com/lb"}], "containers": [{"name": "a"}]});
    let p = pod(spec.clone(), json!({}));
    let status = pod_status(&observe(&p, vec![], vec![running("a", true)], false));
    let ready = cond(&status, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason.as_deref(), Some("ReadinessGatesNotReady"));
    assert_eq!(
        ready.message.as_deref(),
        Some("corresponding condition of pod readiness gate \"example.com/lb\" does not exist.")
    );
    assert_eq!(cond(&status, "ContainersReady").status, "True");
    let p = pod(
        spec.clone(),
        json!({"conditions": [{"type": "example.com/lb", "status": "False"}]}),
    );
    let status = pod_status(&observe(&p, vec![], vec![running("a", true)], false));
    assert_eq!(
        cond(&status, "Ready").message.as_deref(),
        Some("the status of pod readiness gate \"example.com/lb\" is not \"True\", but False")
    );
    let p = pod(
        spec,
        json!({"conditions": [{"type": "example.com/lb", "status": "True"}]}),
    );
    let status = pod_status(&observe(&p, vec![], vec![running("a", true)], false));
    assert_eq!(cond(&status, "Ready").status, "True");
}

#[test]
fn addresses_qos_and_container_statuses() {
    let p = pod(
        json!({"containers": [{"name": "a", "image": "img-a",
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}),
        json!({}),
    );
    let mut a = running("a", true);
    a.restart_count = 2;
    a.last_terminated = match exited("a", 137).state {
        ContainerView::Terminated(mut t) => {
            t.signal = Some(9);
            Some(t)
        }
        _ => None,
    };
    let status = pod_status(&observe(&p, vec![], vec![a], false));
    assert_eq!(status.pod_ip.as_deref(), Some("10.244.1.7"));
    assert_eq!(status.pod_ips.as_ref().unwrap()[0].ip, "10.244.1.7");
    assert_eq!(status.host_ip.as_deref(), Some("172.30.0.11"));
    assert_eq!(status.host_ips.as_ref().unwrap()[0].ip, "172.30.0.11");
    assert_eq!(status.qos_class.as_deref(), Some("Guaranteed"));
    assert_eq!(status.start_time, Some(Time(now())));
    let value = serde_json::to_value(&status.container_statuses.unwrap()[0]).unwrap();
    assert_eq!(value["name"], "a");
    assert_eq!(value["image"], "img-a");
    assert_eq!(value["containerID"], "podnet://a1");
    assert_eq!(value["restartCount"], 2);
    assert_eq!(value["ready"], true);
    assert_eq!(value["started"], true);
    assert_eq!(
        value["state"]["running"]["startedAt"],
        "2023-11-14T22:13:21Z"
    );
    assert_eq!(value["lastState"]["terminated"]["exitCode"], 137);
    assert_eq!(value["lastState"]["terminated"]["signal"], 9);
    assert_eq!(value["lastState"]["terminated"]["reason"], "Error");
}

#[test]
fn a_terminal_phase_is_never_left() {
    let p = pod(two_containers(), json!({"phase": "Failed"}));
    let status = pod_status(&observe(
        &p,
        vec![],
        vec![running("a", true), running("b", true)],
        false,
    ));
    assert_eq!(status.phase.as_deref(), Some("Failed"));
}

#[test]
fn writes_happen_only_when_something_the_kubelet_writes_changed() {
    let p = pod(two_containers(), json!({}));
    let status = pod_status(&observe(
        &p,
        vec![],
        vec![running("a", true), running("b", true)],
        false,
    ));
    assert!(needs_write(None, &status));
    assert!(needs_write(p.status.as_ref(), &status));
    let mut written = p.clone();
    written.status = Some(status.clone());
    let again = pod_status(&PodObservation {
        now: Timestamp::from_second(1_700_000_500).unwrap(),
        ..observe(
            &written,
            vec![],
            vec![running("a", true), running("b", true)],
            false,
        )
    });
    assert!(!needs_write(written.status.as_ref(), &again));
    let unready = pod_status(&observe(
        &written,
        vec![],
        vec![running("a", false), running("b", true)],
        false,
    ));
    assert!(needs_write(written.status.as_ref(), &unready));
}

//! End to end: `podnet up` as a user runs it, then kubectl, `podnet exec` and
//! plain `ip`/`nft` to check the network model, in both routing modes (host-gw
//! with masquerade on, vxlan with masquerade off), then `podnet down`.
//!
//! Root only. The cluster has fixed names (podnet-lab0, podnet-node-i), so the
//! tests of this file take turns, and a cluster already running on the host is
//! replaced.

mod cluster_support;

use cluster_support::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NETEXEC: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: netexec}
spec:
  replicas: 6
  selector: {matchLabels: {app: netexec}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: netexec}}
    spec:
      containers:
        - name: netexec
          image: podnet/workload
          command: ["podnet", "workload", "netexec", "--http-port", "8080"]
          env: [{name: GENERATION, value: "1"}]
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: netexec}
spec:
  selector: {app: netexec}
  ports: [{name: http, port: 80, targetPort: http}]
"#;

/// One whole pass over the issue's list in one cluster.
fn exercise(mode: Mode) {
    let _ = run(&mut podnet(&["down"]));
    let baseline = host_state();
    let cluster = Cluster::up(mode);
    // `up` twice is safe: nothing restarts.
    let again = up(mode);
    assert!(again.contains("already running"), "{again}");

    let nodes = kubectl_json(&["get", "nodes"]);
    assert_eq!(nodes["items"].as_array().unwrap().len(), 3);
    let cidrs = node_cidrs();

    // Pod IPs unique and inside their node's podCIDR; pods spread over nodes.
    apply(NETEXEC);
    let netexec = ready_pods("app=netexec", 6);
    let ips: BTreeSet<IpAddr> = netexec.iter().map(|p| p.ip).collect();
    assert_eq!(ips.len(), 6, "pod IPs are unique: {netexec:?}");
    for pod in &netexec {
        assert!(
            cidrs[&pod.node].contains(&pod.ip),
            "{} {} inside {}'s {}",
            pod.name,
            pod.ip,
            pod.node,
            cidrs[&pod.node]
        );
    }
    let per_node: BTreeMap<&str, usize> = netexec.iter().fold(BTreeMap::new(), |mut m, p| {
        *m.entry(p.node.as_str()).or_default() += 1;
        m
    });
    assert_eq!(
        per_node.len(),
        3,
        "replicas spread over the nodes: {per_node:?}"
    );

    // Pod to pod, same node and across nodes: the server sees the client's own address.
    // Two pods on one node serve on the same port.
    let client = &netexec[0];
    for server in &netexec[1..] {
        let seen = curl_in_pod(&client.name, &format!("http://{}:8080/clientip", server.ip));
        assert_eq!(
            seen,
            client.ip.to_string(),
            "{} -> {} (same node: {})",
            client.name,
            server.name,
            client.node == server.node
        );
        let hostname = curl_in_pod(&client.name, &format!("http://{}:8080/hostname", server.ip));
        assert_eq!(hostname, server.name);
    }
    // Node to pod without NAT: the server sees one of the node's own addresses.
    for server in &netexec {
        let seen: IpAddr = curl_in_netns(
            "podnet-node-1",
            &format!("http://{}:8080/clientip", server.ip),
        )
        .parse()
        .unwrap();
        assert!(
            node_addresses("podnet-node-1").contains(&seen),
            "node-1 -> {}: server saw {seen}",
            server.name
        );
    }

    // Two containers of one pod talk over localhost; each pod has its own hostname.
    apply(include_str!("../../../examples/localhost-pod.yaml"));
    ready_pods("app=localhost-pair", 1);
    wait_for(
        "the client container's log",
        Duration::from_secs(20),
        || {
            let out = run(&mut podnet(&["logs", "localhost-pair", "-c", "client"]));
            String::from_utf8_lossy(&out.stdout)
                .contains("/hostname: localhost-pair")
                .then_some(())
        },
    );
    assert_eq!(
        ok(&mut podnet(&[
            "exec",
            "localhost-pair",
            "-c",
            "server",
            "--",
            "hostname"
        ]))
        .trim(),
        "localhost-pair"
    );

    // To the external host: masqueraded to the node's address when on, the pod's own when off.
    let mut ext = Command::new("ip")
        .args([
            "netns",
            "exec",
            "podnet-ext",
            PODNET,
            "workload",
            "netexec",
            "--http-port",
            "8080",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ext_guard = KillOnDrop(&mut ext);
    let seen: IpAddr = wait_for("the external server", Duration::from_secs(10), || {
        let out = run(&mut podnet(&[
            "exec",
            &client.name,
            "--",
            "curl",
            "-sS",
            "--max-time",
            "2",
            &format!("http://{EXT_IP}:8080/clientip"),
        ]));
        client_address(String::from_utf8_lossy(&out.stdout).trim())
            .parse()
            .ok()
    });
    let node_ip: IpAddr = kubectl_json(&["get", "node", &client.node])["status"]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "InternalIP")
        .unwrap()["address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    if mode.masquerade {
        assert_eq!(
            seen, node_ip,
            "masquerade on: the external host sees the node"
        );
    } else {
        assert_eq!(
            seen, client.ip,
            "masquerade off: the external host sees the pod"
        );
    }
    drop(ext_guard);

    readiness_and_liveness();
    deletion_releases_ip_and_veth();
    statefulset_is_stable();
    rolling_update_keeps_ready_pods();
    agent_restart_keeps_pods(mode);

    drop(cluster);
    let after = host_state();
    assert_eq!(
        after, baseline,
        "podnet down restores the host as it was before up"
    );
}

struct KillOnDrop<'a>(&'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn readiness_and_liveness() {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let ready_file = dir.path().join("ready");
    let alive_file = dir.path().join("alive");
    std::fs::write(&ready_file, "").unwrap();
    std::fs::write(&alive_file, "").unwrap();
    apply(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: probed, labels: {{app: probed}}}}
spec:
  containers:
    - name: main
      image: podnet/workload
      command: ["podnet", "workload", "netexec", "--http-port", "8080"]
      ports: [{{containerPort: 8080}}]
      readinessProbe:
        exec: {{command: ["test", "-e", "{ready}"]}}
        periodSeconds: 1
        failureThreshold: 2
      livenessProbe:
        exec: {{command: ["test", "-e", "{alive}"]}}
        periodSeconds: 1
        failureThreshold: 2
---
apiVersion: v1
kind: Service
metadata: {{name: probed}}
spec:
  selector: {{app: probed}}
  ports: [{{port: 80, targetPort: 8080}}]
"#,
        ready = ready_file.display(),
        alive = alive_file.display()
    ));
    ready_pods("app=probed", 1);
    let slice_ready = || -> Option<bool> {
        let slices = kubectl_json(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=probed",
        ]);
        slices["items"]
            .as_array()?
            .iter()
            .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
            .next()
            .and_then(|e| e["conditions"]["ready"].as_bool())
    };
    wait_for("the endpoint to be ready", Duration::from_secs(10), || {
        (slice_ready() == Some(true)).then_some(())
    });
    // Readiness: periodSeconds x failureThreshold + 1 s = 3 s.
    std::fs::remove_file(&ready_file).unwrap();
    let start = Instant::now();
    wait_for(
        "Ready=False and the endpoint not ready",
        Duration::from_secs(10),
        || {
            let pod = pods("app=probed");
            (pod.len() == 1 && !pod[0].ready && slice_ready() == Some(false)).then_some(())
        },
    );
    let took = start.elapsed();
    assert!(
        took <= Duration::from_millis(3000 + 1000),
        "readiness failure took {took:?} to show (limit 3 s + polling)"
    );
    std::fs::write(&ready_file, "").unwrap();
    wait_for("Ready again", Duration::from_secs(10), || {
        let pod = pods("app=probed");
        (pod.len() == 1 && pod[0].ready && slice_ready() == Some(true)).then_some(())
    });
    // Liveness: failure restarts the container.
    let ip = pods("app=probed")[0].ip;
    std::fs::remove_file(&alive_file).unwrap();
    wait_for(
        "a restart after the liveness failure",
        Duration::from_secs(20),
        || {
            let pod = pods("app=probed");
            (pod.len() == 1 && pod[0].restarts >= 1).then_some(())
        },
    );
    std::fs::write(&alive_file, "").unwrap();
    let pod = ready_pods("app=probed", 1);
    assert_eq!(pod[0].ip, ip, "a container restart keeps the pod's IP");
    ok(&mut kubectl(&["delete", "pod", "probed", "--wait=true"]));
    ok(&mut kubectl(&["delete", "service", "probed"]));
}

fn deletion_releases_ip_and_veth() {
    let pod = pods("app=netexec").remove(0);
    let node_dir = format!("/var/lib/podnet/nodes/{}/cni/ipam", pod.node);
    let allocated = |ip: IpAddr| -> bool {
        walk(Path::new(&node_dir)).iter().any(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy() == ip.to_string())
        })
    };
    assert!(allocated(pod.ip), "{} is allocated in {node_dir}", pod.ip);
    let veths = |node: &str| -> usize {
        // Pod veths are the ports of the node's pod bridge.
        ok(Command::new("ip").args(["-n", node, "-o", "link", "show", "master", "podnet0"]))
            .lines()
            .count()
    };
    let before = veths(&pod.node);
    ok(&mut kubectl(&["delete", "pod", &pod.name, "--wait=true"]));
    wait_for("the IP and veth released", Duration::from_secs(15), || {
        (!allocated(pod.ip) || pods("app=netexec").iter().any(|p| p.ip == pod.ip)).then_some(())
    });
    // The replacement may land on the same node; the deleted pod's veth is gone either way.
    ready_pods("app=netexec", 6);
    let field = format!("spec.nodeName={}", pod.node);
    let on_node = kubectl_json(&["get", "pods", "-A", "--field-selector", &field])["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| p["status"]["podIP"].is_string())
        .filter(|p| p["status"]["phase"] == "Running" || p["status"]["phase"] == "Pending")
        .count();
    assert_eq!(
        veths(&pod.node),
        on_node,
        "one veth per pod on {} (was {before})",
        pod.node
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn statefulset_is_stable() {
    apply(include_str!("../../../examples/statefulset.yaml"));
    let web = ready_pods("app=web", 2);
    let names: Vec<&str> = web.iter().map(|p| p.name.as_str()).collect();
    assert!(
        names.contains(&"web-0") && names.contains(&"web-1"),
        "{names:?}"
    );
    let fqdn = ok(&mut podnet(&["exec", "web-0", "--", "hostname", "-f"]));
    assert_eq!(fqdn.trim(), "web-0.web.default.svc.cluster.local");
    let old_uid = web.iter().find(|p| p.name == "web-0").unwrap().uid.clone();
    ok(&mut kubectl(&["delete", "pod", "web-0", "--wait=true"]));
    let web = wait_for("web-0 again", Duration::from_secs(60), || {
        let found = pods("app=web");
        found
            .iter()
            .find(|p| p.name == "web-0" && p.uid != old_uid && p.ready)
            .cloned()
    });
    assert_eq!(web.name, "web-0");
    assert_eq!(
        ok(&mut podnet(&["exec", "web-0", "--", "hostname"])).trim(),
        "web-0"
    );
}

fn rolling_update_keeps_ready_pods() {
    // replicas 6, maxUnavailable 1: at least 5 ready pods all along.
    ok(&mut kubectl(&[
        "set",
        "env",
        "deployment/netexec",
        "GENERATION=2",
    ]));
    let start = Instant::now();
    let mut lowest = usize::MAX;
    loop {
        let current = pods("app=netexec");
        let ready = current.iter().filter(|p| p.ready).count();
        lowest = lowest.min(ready);
        let deployment = kubectl_json(&["get", "deployment", "netexec"]);
        let status = &deployment["status"];
        if status["updatedReplicas"] == 6
            && status["readyReplicas"] == 6
            && status["replicas"] == 6
            && deployment["metadata"]["generation"] == status["observedGeneration"]
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "rollout did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        lowest >= 5,
        "ready pods dropped to {lowest} during the rollout (maxUnavailable 1 of 6)"
    );
}

fn agent_restart_keeps_pods(mode: Mode) {
    let before = pods("app=netexec");
    let node = before[0].node.clone();
    let pid = agent_pid(&node);
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(500));
    up(mode);
    std::thread::sleep(Duration::from_secs(3));
    let after = ready_pods("app=netexec", 6);
    for pod in &before {
        let now = after
            .iter()
            .find(|p| p.uid == pod.uid)
            .unwrap_or_else(|| panic!("{} still there after the agent restart", pod.name));
        assert_eq!(now.ip, pod.ip, "{} keeps its IP", pod.name);
        assert_eq!(now.restarts, pod.restarts, "{} did not restart", pod.name);
    }
    // Still reachable across nodes.
    let other = after.iter().find(|p| p.node != node).unwrap();
    let local = after.iter().find(|p| p.node == node).unwrap();
    assert_eq!(
        curl_in_pod(&other.name, &format!("http://{}:8080/clientip", local.ip)),
        other.ip.to_string()
    );
}

#[test]
fn host_gw_with_masquerade() {
    in_turn(
        Mode {
            routing: "host-gw",
            masquerade: true,
        },
        exercise,
    );
}

#[test]
fn vxlan_flat() {
    in_turn(
        Mode {
            routing: "vxlan",
            masquerade: false,
        },
        exercise,
    );
}

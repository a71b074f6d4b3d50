//! End to end: Services through the nodes' service proxies, driven with
//! kubectl in a `podnet up` cluster, in both routing modes. Clients are pods
//! pinned to each node, the node namespaces themselves and the external host
//! namespace of the lab.
//!
//! Root only; takes turns with the other cluster tests (fixed names).

mod cluster_support;

use cluster_support::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

const NODES: [&str; 3] = ["podnet-node-1", "podnet-node-2", "podnet-node-3"];
const NODE_IPS: [&str; 3] = ["172.30.0.11", "172.30.0.12", "172.30.0.13"];

fn manifests(ready_file: &str) -> String {
    let mut text = String::from(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend}
spec:
  replicas: 3
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      containers:
        - name: netexec
          image: podnet/workload
          command: ["podnet", "workload", "netexec", "--http-port", "8080", "--udp-port", "8081"]
          ports: [{name: http, containerPort: 8080}, {name: udp, containerPort: 8081, protocol: UDP}]
          readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: backend}
spec:
  selector: {app: backend}
  ports:
    - {name: http, port: 80, targetPort: http}
    - {name: udp, port: 81, targetPort: udp, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: backend-lb}
spec:
  type: LoadBalancer
  selector: {app: backend}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: backend}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec:
  selector: {app: nothing-has-this}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: local, labels: {app: local}}
spec:
  nodeName: podnet-node-1
  containers:
    - name: netexec
      image: podnet/workload
      command: ["podnet", "workload", "netexec", "--http-port", "8080"]
      ports: [{name: http, containerPort: 8080}]
      readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: local-lb}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: local}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: local-internal}
spec:
  internalTrafficPolicy: Local
  selector: {app: local}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: flappy, labels: {app: flappy}}
spec:
  nodeName: podnet-node-2
  containers:
    - name: netexec
      image: podnet/workload
      command: ["podnet", "workload", "netexec", "--http-port", "8080"]
      ports: [{name: http, containerPort: 8080}]
      readinessProbe:
        exec: {command: ["test", "-e", "READY_FILE"]}
        periodSeconds: 1
        failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: steady, labels: {app: flappy}}
spec:
  nodeName: podnet-node-3
  containers:
    - name: netexec
      image: podnet/workload
      command: ["podnet", "workload", "netexec", "--http-port", "8080"]
      ports: [{name: http, containerPort: 8080}]
      readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: flappy}
spec:
  selector: {app: flappy}
  ports: [{name: http, port: 80, targetPort: http}]
"#,
    )
    .replace("READY_FILE", ready_file);
    for (index, node) in NODES.iter().enumerate() {
        text.push_str(&format!(
            r#"---
apiVersion: v1
kind: Pod
metadata: {{name: client-{n}, labels: {{app: client}}}}
spec:
  nodeName: {node}
  containers:
    - name: netexec
      image: podnet/workload
      command: ["podnet", "workload", "netexec", "--http-port", "8080"]
"#,
            n = index + 1
        ));
    }
    text
}

fn service(name: &str) -> Value {
    kubectl_json(&["get", "service", name])
}

fn cluster_ip(name: &str) -> String {
    service(name)["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_string()
}

fn node_port(name: &str) -> u64 {
    service(name)["spec"]["ports"][0]["nodePort"]
        .as_u64()
        .unwrap()
}

fn load_balancer_ip(name: &str) -> String {
    wait_for(
        &format!("a LoadBalancer address for {name}"),
        Duration::from_secs(20),
        || {
            service(name)["status"]["loadBalancer"]["ingress"][0]["ip"]
                .as_str()
                .map(str::to_string)
        },
    )
}

/// Runs `script` with sh inside the pod; its stdout.
fn sh_in_pod(pod: &str, script: &str) -> String {
    ok(&mut podnet(&["exec", pod, "--", "sh", "-c", script]))
}

/// `count` GETs of `url` from inside the pod: one answer per line, failures as "FAIL".
fn gets_in_pod(pod: &str, url: &str, count: usize) -> Vec<String> {
    let script = format!(
        "for i in $(seq {count}); do curl -sS --max-time 2 {url} || echo -n FAIL; echo; done"
    );
    sh_in_pod(pod, &script)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

fn ready_endpoints(service: &str) -> Vec<String> {
    let slices = kubectl_json(&[
        "get",
        "endpointslices",
        "-l",
        &format!("kubernetes.io/service-name={service}"),
    ]);
    slices["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["conditions"]["ready"].as_bool() != Some(false))
        .filter_map(|e| e["targetRef"]["name"].as_str().map(str::to_string))
        .collect()
}

fn seconds_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Timestamped answers of `url` from inside the pod for about `seconds`:
/// (unix time, answer).
fn timed_gets_in_pod(pod: &str, url: &str, seconds: u32) -> Vec<(f64, String)> {
    let script = format!(
        "end=$(($(date +%s) + {seconds})); while [ $(date +%s) -lt $end ]; do \
         echo \"$(date +%s.%N) $(curl -sS --max-time 1 {url} || echo FAIL)\"; done"
    );
    sh_in_pod(pod, &script)
        .lines()
        .filter_map(|l| {
            let (time, answer) = l.split_once(' ')?;
            Some((time.parse().ok()?, answer.trim().to_string()))
        })
        .collect()
}

/// A keep-alive HTTP connection opened from inside a node's namespace.
fn connect_from_node(node: &str, address: SocketAddr) -> TcpStream {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let ns = std::fs::File::open(format!("/run/netns/{node}")).unwrap();
                // SAFETY: setns on this short-lived thread only; the socket
                // keeps the namespace it was made in.
                assert_eq!(
                    unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) },
                    0
                );
                TcpStream::connect_timeout(&address, Duration::from_secs(3)).unwrap()
            })
            .join()
            .unwrap()
    })
}

/// One GET /hostname on a kept-alive connection; the body.
fn keep_alive_get(reader: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    reader
        .get_mut()
        .write_all(b"GET /hostname HTTP/1.1\r\nHost: backend\r\n\r\n")?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(String::from_utf8_lossy(&body).to_string())
}

fn exercise(mode: Mode) {
    let _ = run(&mut podnet(&["down"]));
    let cluster = Cluster::up(mode);
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let ready_file = dir.path().join("ready");
    std::fs::write(&ready_file, "").unwrap();
    apply(&manifests(&ready_file.display().to_string()));
    let backends = ready_pods("app=backend", 3);
    ready_pods("app=client", 3);
    ready_pods("app=local", 1);
    ready_pods("app=flappy", 2);
    wait_for("3 ready backend endpoints", Duration::from_secs(10), || {
        (ready_endpoints("backend").len() == 3).then_some(())
    });
    let backend_ip = cluster_ip("backend");

    // ClusterIP from a pod on every node reaches every endpoint: 300
    // connections, each endpoint at least 15%.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for client in ["client-1", "client-2", "client-3"] {
        for answer in gets_in_pod(client, &format!("http://{backend_ip}/hostname"), 100) {
            *counts.entry(answer).or_default() += 1;
        }
    }
    assert_eq!(counts.values().sum::<usize>(), 300, "{counts:?}");
    for pod in &backends {
        let got = counts.get(&pod.name).copied().unwrap_or(0);
        assert!(got >= 45, "{} got {got} of 300: {counts:?}", pod.name);
    }
    // UDP through the same ClusterIP.
    ok(&mut podnet(&[
        "exec",
        "client-2",
        "--",
        "podnet",
        "workload",
        "connect",
        &format!("{backend_ip}:81"),
        "--protocol",
        "udp",
        "--timeout",
        "2s",
    ]));
    // From a node itself (masqueraded: not from a pod address).
    for node in NODES {
        let answer = try_curl(
            CurlFrom::Netns(node),
            &format!("http://{backend_ip}/hostname"),
            "3",
        );
        assert!(answer.is_ok(), "from {node}: {answer:?}");
    }

    // NodePort and LoadBalancer from the external host through every node.
    let lb_port = node_port("backend-lb");
    for node_ip in NODE_IPS {
        let answer = try_curl(
            CurlFrom::Netns("podnet-ext"),
            &format!("http://{node_ip}:{lb_port}/hostname"),
            "3",
        );
        assert!(answer.is_ok(), "NodePort via {node_ip}: {answer:?}");
    }
    // Not on the node's loopback.
    assert!(try_curl(
        CurlFrom::Netns(NODES[0]),
        &format!("http://127.0.0.1:{lb_port}/"),
        "1"
    )
    .is_err());
    let lb_ip = load_balancer_ip("backend-lb");
    assert!(lb_ip.starts_with("172.30.0."), "{lb_ip}");
    let answer = try_curl(
        CurlFrom::Netns("podnet-ext"),
        &format!("http://{lb_ip}/hostname"),
        "3",
    );
    assert!(answer.is_ok(), "LoadBalancer {lb_ip}: {answer:?}");
    // The announcing node leaves: another takes the address over at once.
    let announcer = NODES
        .iter()
        .find(|node| {
            ok(Command::new("ip").args(["-n", node, "-o", "addr", "show"]))
                .contains(&format!("inet {lb_ip}/32"))
        })
        .expect("one node holds the LoadBalancer address")
        .to_string();
    ok(&mut kubectl(&[
        "label",
        "node",
        &announcer,
        "node.kubernetes.io/exclude-from-external-load-balancers=",
    ]));
    wait_for("another node to announce", Duration::from_secs(5), || {
        NODES
            .iter()
            .filter(|node| **node != announcer)
            .any(|node| {
                ok(Command::new("ip").args(["-n", node, "-o", "addr", "show"]))
                    .contains(&format!("inet {lb_ip}/32"))
            })
            .then_some(())
    });
    let answer = try_curl(
        CurlFrom::Netns("podnet-ext"),
        &format!("http://{lb_ip}/hostname"),
        "3",
    );
    assert!(
        answer.is_ok(),
        "LoadBalancer {lb_ip} after the move: {answer:?}"
    );
    ok(&mut kubectl(&[
        "label",
        "node",
        &announcer,
        "node.kubernetes.io/exclude-from-external-load-balancers-",
    ]));

    // externalTrafficPolicy Local: the client's address is kept, nodes
    // without an endpoint drop, the health check node port tells them apart.
    let local_ip = load_balancer_ip("local-lb");
    assert_eq!(
        try_curl(
            CurlFrom::Netns("podnet-ext"),
            &format!("http://{local_ip}/clientip"),
            "3"
        )
        .map(|a| client_address(&a)),
        Ok(EXT_IP.to_string())
    );
    let local_port = node_port("local-lb");
    assert_eq!(
        try_curl(
            CurlFrom::Netns("podnet-ext"),
            &format!("http://{}:{local_port}/clientip", NODE_IPS[0]),
            "3"
        )
        .map(|a| client_address(&a)),
        Ok(EXT_IP.to_string())
    );
    let started = Instant::now();
    assert_eq!(
        try_curl(
            CurlFrom::Netns("podnet-ext"),
            &format!("http://{}:{local_port}/clientip", NODE_IPS[1]),
            "2"
        ),
        Err(28),
        "dropped (a timeout) on a node without endpoints"
    );
    assert!(started.elapsed() >= Duration::from_millis(1900));
    let health_port = service("local-lb")["spec"]["healthCheckNodePort"]
        .as_u64()
        .unwrap();
    let health = |node_ip: &str| {
        let output = run(Command::new("ip").args([
            "netns",
            "exec",
            "podnet-ext",
            "curl",
            "-s",
            "--max-time",
            "3",
            "-o",
            "/dev/stderr",
            "-w",
            "%{http_code}",
            &format!("http://{node_ip}:{health_port}/"),
        ]));
        (
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let (code, body) = health(NODE_IPS[0]);
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("\"localEndpoints\":1"), "{body}");
    assert_eq!(health(NODE_IPS[1]).0, "503");

    // internalTrafficPolicy Local: only the node with the endpoint answers.
    let internal_ip = cluster_ip("local-internal");
    assert!(try_curl(
        CurlFrom::Pod("client-1"),
        &format!("http://{internal_ip}/hostname"),
        "2"
    )
    .is_ok());
    assert_eq!(
        try_curl(
            CurlFrom::Pod("client-2"),
            &format!("http://{internal_ip}/hostname"),
            "2"
        ),
        Err(28)
    );

    // No endpoints: refused at once, not a timeout.
    let empty_ip = cluster_ip("empty");
    let started = Instant::now();
    assert_eq!(
        try_curl(
            CurlFrom::Pod("client-3"),
            &format!("http://{empty_ip}/"),
            "5"
        ),
        Err(7),
        "connection refused"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // Hairpin: the only endpoint reaches itself through its service.
    let local_cluster_ip = cluster_ip("local-lb");
    assert_eq!(
        try_curl(
            CurlFrom::Pod("local"),
            &format!("http://{local_cluster_ip}/hostname"),
            "3"
        ),
        Ok("local".to_string())
    );

    // Session affinity pins one client to one endpoint.
    let sticky_ip = cluster_ip("sticky");
    let answers = gets_in_pod("client-2", &format!("http://{sticky_ip}/hostname"), 20);
    let distinct: std::collections::BTreeSet<&String> = answers.iter().collect();
    assert_eq!(distinct.len(), 1, "{answers:?}");
    assert!(!answers[0].contains("FAIL"), "{answers:?}");

    // A readiness failure takes the endpoint out within 1 s of the slice.
    let flappy_ip = cluster_ip("flappy");
    std::fs::remove_file(&ready_file).unwrap();
    wait_for("flappy out of the slice", Duration::from_secs(10), || {
        (!ready_endpoints("flappy").contains(&"flappy".to_string())).then_some(())
    });
    let out_at = seconds_now();
    let answers = timed_gets_in_pod("client-1", &format!("http://{flappy_ip}/hostname"), 3);
    let late: Vec<_> = answers
        .iter()
        .filter(|(time, answer)| answer == "flappy" && *time > out_at + 1.0)
        .collect();
    assert!(late.is_empty(), "answers from the unready pod: {late:?}");
    assert!(answers.iter().any(|(_, a)| a == "steady"), "{answers:?}");
    // Scaling up: the new endpoint gets traffic within 1 s of its slice.
    ok(&mut kubectl(&[
        "scale",
        "deployment",
        "backend",
        "--replicas",
        "4",
    ]));
    let newcomer = wait_for("a fourth ready endpoint", Duration::from_secs(30), || {
        let ready = ready_endpoints("backend");
        (ready.len() == 4).then(|| {
            ready
                .into_iter()
                .find(|name| backends.iter().all(|b| &b.name != name))
        })?
    });
    let in_at = seconds_now();
    let answers = timed_gets_in_pod("client-3", &format!("http://{backend_ip}/hostname"), 3);
    let first = answers
        .iter()
        .find(|(_, answer)| *answer == newcomer)
        .unwrap_or_else(|| panic!("{newcomer} never answered: {answers:?}"));
    assert!(
        first.0 <= in_at + 1.0,
        "{newcomer} first answered {:.2} s after its slice",
        first.0 - in_at
    );

    // A long-lived TCP stream through a ClusterIP keeps flowing across 5
    // restarts of the agent of the node it starts on.
    let stream = connect_from_node(NODES[0], format!("{backend_ip}:80").parse().unwrap());
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let first = keep_alive_get(&mut reader).unwrap();
    for restart in 0..5 {
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(agent_pid(NODES[0]), libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Command::new("kill")
            .args(["-0", &agent_pid(NODES[0]).to_string()])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(Instant::now() < deadline, "the agent stops on SIGTERM");
            assert_eq!(
                keep_alive_get(&mut reader).unwrap(),
                first,
                "restart {restart}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        up(mode);
        for _ in 0..10 {
            assert_eq!(
                keep_alive_get(&mut reader).unwrap(),
                first,
                "restart {restart}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    drop(cluster);
    let tables = ok(Command::new("nft").args(["list", "tables"]));
    assert!(!tables.contains("podnet-proxy"), "{tables}");
    for node in NODES {
        assert!(!std::path::Path::new(&format!("/run/netns/{node}")).exists());
    }
}

#[test]
fn services_host_gw() {
    in_turn(
        Mode {
            routing: "host-gw",
            masquerade: true,
        },
        exercise,
    );
}

#[test]
fn services_vxlan() {
    in_turn(
        Mode {
            routing: "vxlan",
            masquerade: false,
        },
        exercise,
    );
}

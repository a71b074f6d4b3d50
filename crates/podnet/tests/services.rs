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
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

const NODES: [&str; 3] = ["podnet-node-1", "podnet-node-2", "podnet-node-3"];
const NODE_IPS: [&str; 3] = ["172.30.0.11", "172.30.0.12", "172.30.0.13"];
/// A Service's externalIP: on the lab network, outside its LoadBalancer pool
/// (172.30.0.64/27); the external host routes it to a node, as a router would.
const EXTERNAL_IP: &str = "172.30.0.99";

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
---
apiVersion: v1
kind: Service
metadata: {name: external}
spec:
  selector: {app: backend}
  externalIPs: [EXTERNAL_IP]
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: manual}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: udp-a, labels: {app: udp-one}}
spec:
  nodeName: podnet-node-2
  containers:
    - name: netexec
      image: podnet/workload
      command: ["podnet", "workload", "netexec", "--http-port", "8080", "--udp-port", "8081"]
      readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: udp-b, labels: {app: udp-spare}}
spec:
  nodeName: podnet-node-3
  containers:
    - name: netexec
      image: podnet/workload
      command: ["podnet", "workload", "netexec", "--http-port", "8080", "--udp-port", "8081"]
      readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: udp-one}
spec:
  selector: {app: udp-one}
  ports: [{name: dns, port: 53, targetPort: 8081, protocol: UDP}]
---
apiVersion: v1
kind: Pod
metadata: {name: drain-a, labels: {app: drain}}
spec:
  nodeName: podnet-node-2
  terminationGracePeriodSeconds: 120
  containers:
    - name: netexec
      image: podnet/workload
      command: ["podnet", "workload", "netexec", "--http-port", "8080"]
      readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
      lifecycle: {preStop: {exec: {command: ["sleep", "120"]}}}
---
apiVersion: v1
kind: Pod
metadata: {name: drain-b, labels: {app: drain}}
spec:
  nodeName: podnet-node-3
  containers:
    - name: netexec
      image: podnet/workload
      command: ["podnet", "workload", "netexec", "--http-port", "8080"]
      readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: drain}
spec:
  selector: {app: drain}
  ports: [{name: http, port: 80, targetPort: 8080}]
"#,
    )
    .replace("READY_FILE", ready_file)
    .replace("EXTERNAL_IP", EXTERNAL_IP);
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

/// Every endpoint of the Service's slices, as JSON.
fn slice_endpoints(service: &str) -> Vec<Value> {
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
        .collect()
}

fn ready_endpoints(service: &str) -> Vec<String> {
    slice_endpoints(service)
        .into_iter()
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

/// A UDP socket made inside a node's namespace, bound to `port` and connected to
/// `target`, so that every datagram it sends belongs to one conntrack flow.
fn udp_from_node(node: &str, port: u16, target: SocketAddr) -> UdpSocket {
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
                let socket = UdpSocket::bind(("0.0.0.0", port)).unwrap();
                socket.connect(target).unwrap();
                socket
                    .set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                socket
            })
            .join()
            .unwrap()
    })
}

/// Asks netexec's UDP server for its hostname; `None` without an answer in 200 ms.
fn udp_hostname(socket: &UdpSocket) -> Option<String> {
    socket.send(b"hostname").unwrap();
    let mut buffer = [0u8; 512];
    let n = socket.recv(&mut buffer).ok()?;
    Some(String::from_utf8_lossy(&buffer[..n]).trim().to_string())
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
    ready_pods("app=udp-one", 1);
    ready_pods("app=udp-spare", 1);
    ready_pods("app=drain", 2);
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
    // Each node in turn announces the address (the others are excluded from
    // external load balancers) and the external host reaches it through that node.
    let holds = |node: &str| {
        ok(Command::new("ip").args(["-n", node, "-o", "addr", "show"]))
            .contains(&format!("inet {lb_ip}/32"))
    };
    let exclude = |node: &str, excluded: bool| {
        let label = "node.kubernetes.io/exclude-from-external-load-balancers";
        let change = if excluded {
            format!("{label}=")
        } else {
            format!("{label}-")
        };
        ok(&mut kubectl(&[
            "label",
            "node",
            node,
            &change,
            "--overwrite",
        ]));
    };
    for announcer in NODES {
        for node in NODES {
            exclude(node, node != announcer);
        }
        wait_for(
            &format!("{announcer} alone announcing {lb_ip}"),
            Duration::from_secs(5),
            || {
                NODES
                    .iter()
                    .all(|node| holds(node) == (*node == announcer))
                    .then_some(())
            },
        );
        let answer = try_curl(
            CurlFrom::Netns("podnet-ext"),
            &format!("http://{lb_ip}/hostname"),
            "3",
        );
        assert!(
            answer.is_ok(),
            "LoadBalancer {lb_ip} through {announcer}: {answer:?}"
        );
    }
    for node in NODES {
        exclude(node, false);
    }

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

    // externalIPs: the external host routes the address to a node, as a
    // router would; pods reach it too.
    ok(Command::new("ip").args([
        "-n",
        "podnet-ext",
        "route",
        "add",
        &format!("{EXTERNAL_IP}/32"),
        "via",
        NODE_IPS[1],
    ]));
    for from in [CurlFrom::Netns("podnet-ext"), CurlFrom::Pod("client-1")] {
        let answer = try_curl(from, &format!("http://{EXTERNAL_IP}/hostname"), "3");
        assert!(
            answer
                .as_ref()
                .is_ok_and(|a| backends.iter().any(|b| &b.name == a)),
            "externalIP from {from:?}: {answer:?}"
        );
    }

    // A Service without a selector uses the EndpointSlices its user writes.
    let chosen = &backends[..2];
    apply(&format!(
        r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: manual-1
  labels: {{kubernetes.io/service-name: manual}}
addressType: IPv4
ports: [{{name: http, port: 8080, protocol: TCP}}]
endpoints:
  - addresses: ["{}"]
    conditions: {{ready: true}}
  - addresses: ["{}"]
    conditions: {{ready: true}}
"#,
        chosen[0].ip, chosen[1].ip
    ));
    let manual_ip = cluster_ip("manual");
    let answers = wait_for("the written slice in use", Duration::from_secs(5), || {
        let answers = gets_in_pod("client-3", &format!("http://{manual_ip}/hostname"), 20);
        answers.iter().all(|a| a != "FAIL").then_some(answers)
    });
    let names: std::collections::BTreeSet<&str> = answers.iter().map(String::as_str).collect();
    let expected: std::collections::BTreeSet<&str> =
        chosen.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, expected, "{answers:?}");
    assert_eq!(slice_endpoints("manual").len(), 2, "the user's slice stays");

    // Stale UDP conntrack entries go with their endpoint: one flow (fixed
    // source port) answered by udp-a moves to udp-b as soon as udp-a leaves.
    let udp_target: SocketAddr = format!("{}:53", cluster_ip("udp-one")).parse().unwrap();
    let socket = udp_from_node(NODES[0], 40053, udp_target);
    wait_for("udp-a answers the flow", Duration::from_secs(5), || {
        (udp_hostname(&socket).as_deref() == Some("udp-a")).then_some(())
    });
    ok(&mut kubectl(&[
        "label",
        "pod",
        "udp-b",
        "app=udp-one",
        "--overwrite",
    ]));
    wait_for("udp-b in the slice", Duration::from_secs(10), || {
        (ready_endpoints("udp-one").len() == 2).then_some(())
    });
    // The established flow stays where it is while its endpoint serves.
    let answers: Vec<_> = (0..5).map(|_| udp_hostname(&socket)).collect();
    assert!(
        answers.iter().all(|a| a.as_deref() == Some("udp-a")),
        "{answers:?}"
    );
    ok(&mut kubectl(&[
        "label",
        "pod",
        "udp-a",
        "app=udp-gone",
        "--overwrite",
    ]));
    wait_for("udp-a out of the slice", Duration::from_secs(10), || {
        (ready_endpoints("udp-one") == ["udp-b"]).then_some(())
    });
    let out_at = Instant::now();
    let mut answers = Vec::new();
    while out_at.elapsed() < Duration::from_secs(3) {
        answers.push((out_at.elapsed(), udp_hostname(&socket)));
    }
    let late: Vec<_> = answers
        .iter()
        .filter(|(at, a)| a.as_deref() == Some("udp-a") && *at > Duration::from_secs(1))
        .collect();
    assert!(late.is_empty(), "the flow stayed on udp-a: {late:?}");
    assert!(
        answers.iter().any(|(_, a)| a.as_deref() == Some("udp-b")),
        "{answers:?}"
    );

    // Terminating endpoints that still serve are used only when no ready
    // ones exist.
    let drain_ip = cluster_ip("drain");
    ok(&mut kubectl(&["delete", "pod", "drain-a", "--wait=false"]));
    wait_for("drain-a terminating", Duration::from_secs(10), || {
        slice_endpoints("drain")
            .iter()
            .any(|e| {
                e["targetRef"]["name"] == "drain-a"
                    && e["conditions"]["terminating"] == true
                    && e["conditions"]["serving"] == true
            })
            .then_some(())
    });
    wait_for("only drain-b answers", Duration::from_secs(3), || {
        gets_in_pod("client-1", &format!("http://{drain_ip}/hostname"), 5)
            .iter()
            .all(|a| a == "drain-b")
            .then_some(())
    });
    let answers = gets_in_pod("client-1", &format!("http://{drain_ip}/hostname"), 10);
    assert!(answers.iter().all(|a| a == "drain-b"), "{answers:?}");
    ok(&mut kubectl(&[
        "label",
        "pod",
        "drain-b",
        "app=drained",
        "--overwrite",
    ]));
    wait_for("drain-b out of the slice", Duration::from_secs(10), || {
        slice_endpoints("drain")
            .iter()
            .all(|e| e["targetRef"]["name"] != "drain-b")
            .then_some(())
    });
    let answers = wait_for(
        "the terminating drain-a answers",
        Duration::from_secs(3),
        || {
            let answers = gets_in_pod("client-1", &format!("http://{drain_ip}/hostname"), 5);
            answers.iter().all(|a| a == "drain-a").then_some(answers)
        },
    );
    assert_eq!(answers.len(), 5);

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

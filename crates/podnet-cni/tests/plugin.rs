//! podnet-cni through the CNI protocol, as a runtime runs it, inside throwaway node and
//! pod namespaces: lifecycle, reachability, concurrency, errors, chaining with the
//! reference plugins, GC, rollback and crash recovery.

mod support;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

/// One test's network: its node, config dirs and a conflist with podnet-cni first.
struct Net {
    node: NodeNs,
    dirs: tempfile::TempDir,
    name: String,
    bridge: String,
}

impl Net {
    fn new() -> Net {
        let node = NodeNs::new();
        let n = node.name().rsplit('-').next().unwrap_or("0").to_string();
        Net {
            node,
            dirs: tempfile::Builder::new()
                .prefix("pct-net")
                .tempdir()
                .unwrap(),
            name: format!("pct-net-{n}"),
            bridge: "pctbr0".into(),
        }
    }

    fn ipam_dir(&self) -> PathBuf {
        self.dirs.path().join("ipam")
    }

    fn state_dir(&self) -> PathBuf {
        self.dirs.path().join("state")
    }

    /// podnet-cni's plugin config with the test's dirs; `extra` is merged in.
    fn plugin(&self, extra: Value) -> Value {
        let mut p = json!({
            "type": "podnet-cni",
            "bridge": self.bridge,
            "isGateway": true,
            "isDefaultGateway": true,
            "ipMasq": true,
            "ipam": {
                "type": "podnet-ipam",
                "ranges": [[{"subnet": "10.123.0.0/24"}]],
                "dataDir": self.ipam_dir(),
            },
            "stateDir": self.state_dir(),
            "capabilities": {"portMappings": true, "ips": true, "mac": true},
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            p[k] = v;
        }
        p
    }

    fn list(&self, version: &str, plugins: Vec<Value>) -> Conflist {
        Conflist::new(json!({"cniVersion": version, "name": self.name, "plugins": plugins}))
    }

    fn simple(&self) -> Conflist {
        self.list("1.1.0", vec![self.plugin(json!({}))])
    }

    /// The single-plugin stdin for direct invocations (STATUS, GC, error cases).
    fn stdin(&self, version: &str, extra: Value) -> String {
        let mut p = self.plugin(extra);
        p["name"] = json!(self.name);
        p["cniVersion"] = json!(version);
        p.to_string()
    }

    fn links(&self) -> String {
        in_ns(self.node.name(), &["ip", "-o", "link", "show"]).stdout
    }

    fn nft_table(&self) -> String {
        in_ns(
            self.node.name(),
            &["nft", "list", "table", "inet", "podnet-cni"],
        )
        .stdout
    }

    fn allocations(&self) -> Vec<String> {
        match std::fs::read_dir(self.ipam_dir().join(&self.name)) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn records(&self) -> usize {
        std::fs::read_dir(self.state_dir().join("attachments").join(&self.name))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Nothing of `ip` is left: no pod veth on the node, no allocation, no record, no element.
    fn assert_clean_of(&self, ip: &str) {
        let links = self.links();
        assert!(!links.contains(": pn"), "a pod veth remains: {links}");
        assert!(
            !self.allocations().contains(&ip.to_string()),
            "allocation of {ip} remains"
        );
        assert_eq!(self.records(), 0, "attachment records remain");
        let table = self.nft_table();
        assert!(
            !mentions_ip(&table, ip),
            "nftables still mentions {ip}: {table}"
        );
    }
}

fn pod_ping(pod: &PodNs, ip: &str) -> bool {
    in_ns(pod.name(), &["busybox", "ping", "-c", "1", "-W", "2", ip]).success()
}

/// An "external host" namespace linked to the node by a veth on 192.168.231.0/24.
struct ExtHost {
    ns: PodNs,
}

const NODE_EXT_IP: &str = "192.168.231.1";
const EXT_IP: &str = "192.168.231.2";

impl ExtHost {
    fn new(node: &NodeNs) -> ExtHost {
        let ns = PodNs::new();
        run_ok(&[
            "ip",
            "-n",
            node.name(),
            "link",
            "add",
            "pctx0",
            "type",
            "veth",
            "peer",
            "name",
            "pctx1",
            "netns",
            ns.name(),
        ]);
        run_ok(&[
            "ip",
            "-n",
            node.name(),
            "addr",
            "add",
            &format!("{NODE_EXT_IP}/24"),
            "dev",
            "pctx0",
        ]);
        run_ok(&["ip", "-n", node.name(), "link", "set", "pctx0", "up"]);
        run_ok(&[
            "ip",
            "-n",
            ns.name(),
            "addr",
            "add",
            &format!("{EXT_IP}/24"),
            "dev",
            "pctx1",
        ]);
        run_ok(&["ip", "-n", ns.name(), "link", "set", "pctx1", "up"]);
        ExtHost { ns }
    }
}

/// A TCP server in `ns` on `port` that answers each connection with the client's address.
fn whoami_server(ns: &str, port: u16) -> ChildGuard {
    let script = format!(
        "import socket\ns=socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('0.0.0.0',{port}))\ns.listen(16)\n\
         while True:\n  c,a=s.accept()\n  c.sendall(a[0].encode())\n  c.close()\n"
    );
    let child = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the whoami server");
    let guard = ChildGuard { child };
    // Ready once something listens on the port.
    for _ in 0..50 {
        let ss = in_ns(ns, &["ss", "-ltn", &format!("sport = :{port}")]).stdout;
        if ss.contains(&format!(":{port}")) {
            return guard;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("whoami server in {ns} did not start");
}

/// Connects from `ns` to ip:port and returns what the server said (the client address).
fn whoami(ns: &str, ip: &str, port: u16) -> Option<String> {
    let out = in_ns(
        ns,
        &[
            "curl",
            "-s",
            "--max-time",
            "3",
            &format!("telnet://{ip}:{port}"),
        ],
    );
    let said = out.stdout.trim().to_string();
    (!said.is_empty()).then_some(said)
}

#[test]
fn add_check_del_and_del_again_leave_nothing_behind() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let pod = PodNs::new();
    let list = net.simple();
    let att = Attachment::new("ctr-lifecycle", &pod.path());
    let result = list.add(&net.node, &att).expect("ADD");
    assert_eq!(result["cniVersion"], "1.1.0");
    let ip = result_ip(&result).unwrap();
    assert!(ip.starts_with("10.123.0."), "{result}");
    assert_eq!(result["interfaces"][2]["name"], "eth0");
    assert_eq!(result["interfaces"][2]["sandbox"], pod.path_str());
    assert_eq!(result["ips"][0]["interface"], 2);
    assert_eq!(result["ips"][0]["gateway"], "10.123.0.1");
    let pod_addr = in_ns(pod.name(), &["ip", "-o", "addr", "show", "eth0"]).stdout;
    assert!(pod_addr.contains(&format!("{ip}/24")), "{pod_addr}");
    let v6 = in_ns(pod.name(), &["ip", "-6", "addr", "show", "dev", "eth0"]).stdout;
    assert!(
        !v6.contains("inet6"),
        "an IPv4-only pod got an IPv6 address: {v6}"
    );
    let routes = in_ns(pod.name(), &["ip", "route"]).stdout;
    assert!(routes.contains("default via 10.123.0.1"), "{routes}");
    let bridge = in_ns(net.node.name(), &["ip", "-o", "addr", "show", &net.bridge]).stdout;
    assert!(bridge.contains("10.123.0.1/24"), "{bridge}");
    assert!(
        mentions_ip(&net.nft_table(), &ip),
        "masquerade element missing"
    );

    list.check(&net.node, &att, &result)
        .expect("CHECK of a fresh attachment");

    list.del(&net.node, &att, Some(&result)).expect("DEL");
    net.assert_clean_of(&ip);
    list.del(&net.node, &att, Some(&result))
        .expect("second DEL");
    list.del(&net.node, &att.clone().without_netns(), None)
        .expect("DEL without netns or prevResult");
    list.del(
        &net.node,
        &Attachment::new("never-added", &pod.path()),
        None,
    )
    .expect("DEL of an unknown container");
}

#[test]
fn check_reports_an_address_removed_behind_the_plugins_back() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let pod = PodNs::new();
    let list = net.simple();
    let att = Attachment::new("ctr-check", &pod.path());
    let result = list.add(&net.node, &att).expect("ADD");
    let ip = result_ip(&result).unwrap();
    run_ok(&[
        "ip",
        "-n",
        pod.name(),
        "addr",
        "del",
        &format!("{ip}/24"),
        "dev",
        "eth0",
    ]);
    let err = list
        .check(&net.node, &att, &result)
        .expect_err("CHECK must fail");
    assert_eq!(err.cni_error_code(), Some(102), "{err}");
    assert!(err.to_string().contains(&ip), "{err}");
    list.del(&net.node, &att, Some(&result)).expect("DEL");
}

#[test]
fn two_pods_on_one_bridge_reach_each_other_and_the_node_without_nat() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let (a, b) = (PodNs::new(), PodNs::new());
    let list = net.simple();
    let ra = list
        .add(&net.node, &Attachment::new("ctr-a", &a.path()))
        .expect("ADD a");
    let rb = list
        .add(&net.node, &Attachment::new("ctr-b", &b.path()))
        .expect("ADD b");
    let (ipa, ipb) = (result_ip(&ra).unwrap(), result_ip(&rb).unwrap());
    assert_ne!(ipa, ipb);
    assert!(pod_ping(&a, &ipb), "a cannot reach b");
    assert!(pod_ping(&b, &ipa), "b cannot reach a");
    let _server = whoami_server(b.name(), 7001);
    assert_eq!(
        whoami(a.name(), &ipb, 7001).as_deref(),
        Some(ipa.as_str()),
        "pod-to-pod NAT"
    );
    assert!(in_ns(
        net.node.name(),
        &["busybox", "ping", "-c", "1", "-W", "2", &ipa]
    )
    .success());
    for (id, ns, r) in [("ctr-a", &a, &ra), ("ctr-b", &b, &rb)] {
        list.del(&net.node, &Attachment::new(id, &ns.path()), Some(r))
            .expect("DEL");
    }
}

#[test]
fn fifty_parallel_adds_get_fifty_distinct_addresses() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let list = net.simple();
    let pods: Vec<PodNs> = (0..50).map(|_| PodNs::new()).collect();
    let results: Vec<(Attachment, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = pods
            .iter()
            .enumerate()
            .map(|(i, pod)| {
                let list = &list;
                let node = &net.node;
                s.spawn(move || {
                    let att = Attachment::new(&format!("ctr-par-{i}"), &pod.path());
                    let r = list
                        .add(node, &att)
                        .unwrap_or_else(|e| panic!("ADD {i}: {e}"));
                    (att, r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("ADD thread"))
            .collect()
    });
    let ips: HashSet<String> = results.iter().map(|(_, r)| result_ip(r).unwrap()).collect();
    assert_eq!(ips.len(), 50, "duplicate addresses: {ips:?}");
    assert_eq!(net.allocations().len(), 50);
    for (att, r) in &results {
        list.del(&net.node, att, Some(r)).expect("DEL");
    }
    assert!(net.allocations().is_empty());
    assert_eq!(net.records(), 0);
}

#[test]
fn protocol_errors_carry_the_spec_codes_and_do_nothing() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let pod = PodNs::new();
    let plugin = Plugin::podnet();
    let p = pod.path_str();
    let env = [
        ("CNI_CONTAINERID", "ctr-err"),
        ("CNI_NETNS", p.as_str()),
        ("CNI_IFNAME", "eth0"),
    ];

    let cases: Vec<(u64, &str, Output)> = vec![
        (
            6,
            "malformed stdin",
            plugin.run(&net.node, "ADD", &env, "{\"cniVersion\": "),
        ),
        (
            4,
            "missing env",
            plugin.run(&net.node, "ADD", &env[..1], &net.stdin("1.1.0", json!({}))),
        ),
        (
            1,
            "unknown version",
            plugin.run(&net.node, "ADD", &env, &net.stdin("0.1.0", json!({}))),
        ),
        (
            7,
            "invalid field",
            plugin.run(
                &net.node,
                "ADD",
                &env,
                &net.stdin("1.1.0", json!({"mtu": 5})),
            ),
        ),
        (
            2,
            "unsupported field",
            plugin.run(
                &net.node,
                "ADD",
                &env,
                &net.stdin("1.1.0", json!({"vlan": 7})),
            ),
        ),
    ];
    for (code, what, out) in &cases {
        assert!(!out.success(), "{what}: {out}");
        assert_eq!(out.cni_error_code(), Some(*code), "{what}: {out}");
        // Stdout carries exactly one JSON error object, nothing else.
        let trimmed = out.stdout.trim();
        assert!(
            trimmed.starts_with('{') && trimmed.ends_with('}') && out.json.is_some(),
            "{what}: {out}"
        );
    }
    assert!(
        cases[1].2.stdout.contains("CNI_IFNAME is not set"),
        "the missing variable is named: {}",
        cases[1].2
    );
    assert!(
        cases[3].2.stdout.contains("mtu"),
        "the bad field is named: {}",
        cases[3].2
    );
    assert!(
        !net.links().contains(&net.bridge),
        "a refused ADD created the bridge"
    );
    assert!(net.allocations().is_empty());

    let out = plugin.run(&net.node, "VERSION", &[], "{\"cniVersion\":\"1.0.0\"}");
    let v = out.expect_json("VERSION");
    assert_eq!(
        v["supportedVersions"],
        json!(["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"])
    );
}

#[test]
fn results_are_printed_in_the_version_the_config_asks_for() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    for (i, version) in ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
        .iter()
        .enumerate()
    {
        let pod = PodNs::new();
        let list = net.list(version, vec![net.plugin(json!({}))]);
        let att = Attachment::new(&format!("ctr-v{i}"), &pod.path());
        let r = list.add(&net.node, &att).expect("ADD");
        assert_eq!(r["cniVersion"], *version);
        let has_version_field = r["ips"][0].get("version").is_some();
        assert_eq!(
            has_version_field,
            version.starts_with("0."),
            "{version}: {r}"
        );
        if *version != "0.3.0" && *version != "0.3.1" {
            list.check(&net.node, &att, &r).expect("CHECK");
        }
        list.del(&net.node, &att, Some(&r)).expect("DEL");
    }
}

#[test]
fn chained_with_the_reference_portmap_plugin_which_consumes_the_result() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let pod = PodNs::new();
    let mut first = net.plugin(json!({}));
    first["capabilities"] = json!({});
    let list = net.list(
        "1.0.0",
        vec![
            first,
            json!({"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}),
        ],
    );
    let att = Attachment::new("ctr-portmap", &pod.path()).with_capability(
        "portMappings",
        json!([{"hostPort": 18080, "containerPort": 7002, "protocol": "tcp"}]),
    );
    let result = list
        .add(&net.node, &att)
        .expect("ADD through podnet-cni then portmap");
    let ip = result_ip(&result).unwrap();
    let ext = ExtHost::new(&net.node);
    let _server = whoami_server(pod.name(), 7002);
    assert!(
        whoami(ext.ns.name(), NODE_EXT_IP, 18080).is_some(),
        "portmap's hostPort does not answer"
    );
    // CHECK through this chain is not exercised: Debian's portmap 1.1.1 checks its
    // IPv6 chain even for an IPv4-only result and fails on its own.
    list.del(&net.node, &att, Some(&result))
        .expect("DEL in reverse");
    net.assert_clean_of(&ip);
}

#[test]
fn reference_host_local_works_as_the_delegated_ipam() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let pod = PodNs::new();
    let dir = net.dirs.path().join("host-local");
    let list = net.list(
        "1.0.0",
        vec![net.plugin(json!({"ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": "10.124.0.0/24", "rangeStart": "10.124.0.50"}]],
            "dataDir": dir,
        }}))],
    );
    let att = Attachment::new("ctr-hostlocal", &pod.path());
    let result = list.add(&net.node, &att).expect("ADD with host-local");
    let ip = result_ip(&result).unwrap();
    assert_eq!(ip, "10.124.0.50");
    let file = dir.join(&net.name).join(&ip);
    let content = std::fs::read_to_string(&file).expect("host-local's allocation file");
    assert!(content.starts_with("ctr-hostlocal"), "{content}");
    list.check(&net.node, &att, &result)
        .expect("CHECK forwarded to host-local");
    list.del(&net.node, &att, Some(&result))
        .expect("DEL forwarded to host-local");
    assert!(!file.exists(), "host-local did not release {ip}");
}

#[test]
fn host_ports_answer_from_other_hosts_and_the_node_and_go_on_del() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let pod = PodNs::new();
    let list = net.simple();
    let att = Attachment::new("ctr-hostport", &pod.path()).with_capability(
        "portMappings",
        json!([
            {"hostPort": 18081, "containerPort": 7003, "protocol": "tcp"},
            {"hostPort": 18082, "containerPort": 7003, "protocol": "tcp", "hostIP": NODE_EXT_IP}
        ]),
    );
    let result = list.add(&net.node, &att).expect("ADD");
    let ip = result_ip(&result).unwrap();
    let ext = ExtHost::new(&net.node);
    let _server = whoami_server(pod.name(), 7003);
    // From another host the pod sees the client's own address (no SNAT needed).
    assert_eq!(
        whoami(ext.ns.name(), NODE_EXT_IP, 18081).as_deref(),
        Some(EXT_IP)
    );
    assert_eq!(
        whoami(ext.ns.name(), NODE_EXT_IP, 18082).as_deref(),
        Some(EXT_IP)
    );
    // From the node itself, on its address and on localhost.
    assert!(
        whoami(net.node.name(), NODE_EXT_IP, 18081).is_some(),
        "node -> own IP hostPort"
    );
    assert!(
        whoami(net.node.name(), "127.0.0.1", 18081).is_some(),
        "node -> localhost hostPort"
    );
    // The host-IP mapping answers only on that address.
    assert!(whoami(net.node.name(), "10.123.0.1", 18082).is_none());
    // A second pod claiming the same hostPort is refused, naming the owner.
    let other = PodNs::new();
    let clash = Attachment::new("ctr-clash", &other.path()).with_capability(
        "portMappings",
        json!([{"hostPort": 18081, "containerPort": 80}]),
    );
    let err = list.add(&net.node, &clash).expect_err("hostPort conflict");
    assert!(err.to_string().contains("ctr-hostport"), "{err}");
    list.del(&net.node, &clash, None)
        .expect("DEL after the failed ADD");

    list.del(&net.node, &att, Some(&result)).expect("DEL");
    net.assert_clean_of(&ip);
    assert!(
        whoami(ext.ns.name(), NODE_EXT_IP, 18081).is_none(),
        "hostPort still answers"
    );
}

#[test]
fn ip_masq_hides_pods_behind_the_node_outside_the_cluster_cidrs_only() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let ext = ExtHost::new(&net.node);
    let _server = whoami_server(ext.ns.name(), 7004);
    // Masqueraded: the external host sees the node's address.
    let pod = PodNs::new();
    let list = net.simple();
    let att = Attachment::new("ctr-masq", &pod.path());
    let r = list.add(&net.node, &att).expect("ADD");
    assert_eq!(
        whoami(pod.name(), EXT_IP, 7004).as_deref(),
        Some(NODE_EXT_IP)
    );
    list.del(&net.node, &att, Some(&r)).expect("DEL");
    // The external subnet declared part of the cluster: no masquerade, the pod's own address.
    let pod2 = PodNs::new();
    let list2 = net.list(
        "1.1.0",
        vec![net.plugin(json!({"clusterCIDRs": ["10.123.0.0/24", "192.168.231.0/24"]}))],
    );
    let att2 = Attachment::new("ctr-nomasq", &pod2.path());
    let r2 = list2.add(&net.node, &att2).expect("ADD");
    // The external host needs a route back to the pod subnet to answer.
    run_ok(&[
        "ip",
        "-n",
        ext.ns.name(),
        "route",
        "add",
        "10.123.0.0/24",
        "via",
        NODE_EXT_IP,
    ]);
    let ip2 = result_ip(&r2).unwrap();
    assert_eq!(
        whoami(pod2.name(), EXT_IP, 7004).as_deref(),
        Some(ip2.as_str())
    );
    list2.del(&net.node, &att2, Some(&r2)).expect("DEL");
}

#[test]
fn dual_stack_addresses_are_usable_at_once() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let pod = PodNs::new();
    let list = net.list(
        "1.1.0",
        vec![net.plugin(json!({"ipam": {
            "type": "podnet-ipam",
            "ranges": [[{"subnet": "10.125.0.0/24"}], [{"subnet": "fd00:125::/64"}]],
            "dataDir": net.ipam_dir(),
        }}))],
    );
    let att = Attachment::new("ctr-dual", &pod.path());
    let started = std::time::Instant::now();
    let r = list.add(&net.node, &att).expect("ADD");
    let v6 = r["ips"][1]["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert!(v6.starts_with("fd00:125::"), "{r}");
    let addrs = in_ns(pod.name(), &["ip", "-6", "addr", "show", "eth0"]).stdout;
    assert!(!addrs.contains("tentative"), "DAD still running: {addrs}");
    assert!(
        in_ns(
            net.node.name(),
            &["busybox", "ping", "-6", "-c", "1", "-W", "2", &v6]
        )
        .success(),
        "node cannot reach the pod over IPv6"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "IPv6 took {:?}",
        started.elapsed()
    );
    list.del(&net.node, &att, Some(&r)).expect("DEL");
}

#[test]
fn requested_ip_and_mac_from_runtime_config_and_cni_args_are_honoured() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let pod = PodNs::new();
    let list = net.simple();
    let att = Attachment::new("ctr-ips", &pod.path())
        .with_capability("ips", json!(["10.123.0.77/24"]))
        .with_capability("mac", json!("02:42:0a:7b:00:4d"));
    let r = list.add(&net.node, &att).expect("ADD");
    assert_eq!(result_ip(&r).as_deref(), Some("10.123.0.77"));
    assert_eq!(r["interfaces"][2]["mac"], "02:42:0a:7b:00:4d");
    list.del(&net.node, &att, Some(&r)).expect("DEL");

    let mut att2 = Attachment::new("ctr-args", &pod.path());
    att2.args = Some("IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.123.0.78".into());
    let r2 = list.add(&net.node, &att2).expect("ADD with CNI_ARGS IP");
    assert_eq!(result_ip(&r2).as_deref(), Some("10.123.0.78"));
    list.del(&net.node, &att2, Some(&r2)).expect("DEL");
}

#[test]
fn a_failing_add_rolls_back_everything_it_did() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let pod = PodNs::new();
    // eth0 already exists in the pod: the ADD fails after IPAM and the bridge.
    run_ok(&[
        "ip",
        "-n",
        pod.name(),
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        "pctother",
    ]);
    let list = net.simple();
    let att = Attachment::new("ctr-rollback", &pod.path());
    let err = list
        .add(&net.node, &att)
        .expect_err("ADD onto an existing eth0");
    assert!(err.to_string().contains("already exists"), "{err}");
    assert!(
        net.allocations().is_empty(),
        "allocation left after rollback"
    );
    assert_eq!(net.records(), 0);
    assert!(!net.links().contains(": pn"), "veth left after rollback");
    let eth0 = in_ns(pod.name(), &["ip", "-d", "link", "show", "eth0"]).stdout;
    assert!(
        eth0.contains("pctother"),
        "the pod's own eth0 was touched: {eth0}"
    );
}

#[test]
fn a_plugin_killed_mid_add_leaves_nothing_that_del_does_not_remove() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let stdin = net.stdin(
        "1.1.0",
        json!({"runtimeConfig": {"portMappings": [
            {"hostPort": 18090, "containerPort": 80}
        ]}}),
    );
    // Kill at a spread of moments through the ADD; each time the runtime's DEL cleans up.
    for (i, delay_us) in [0u64, 300, 1000, 2000, 3000, 5000, 8000, 12000]
        .iter()
        .enumerate()
    {
        let pod = PodNs::new();
        let id = format!("ctr-kill-{i}");
        let mut cmd = Command::new(podnet_cni_binary());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CNI_COMMAND", "ADD")
            .env("CNI_CONTAINERID", &id)
            .env("CNI_NETNS", pod.path())
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", REFERENCE_PLUGIN_DIR)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = spawn_in_netns(&mut cmd, &net.node.path()).expect("spawn ADD");
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            let _ = input.write_all(stdin.as_bytes());
        }
        std::thread::sleep(Duration::from_micros(*delay_us));
        let _ = child.kill();
        let _ = child.wait();
        let p = pod.path_str();
        let del = Plugin::podnet().run(
            &net.node,
            "DEL",
            &[
                ("CNI_CONTAINERID", id.as_str()),
                ("CNI_NETNS", p.as_str()),
                ("CNI_IFNAME", "eth0"),
            ],
            &stdin,
        );
        del.expect_success("DEL after a killed ADD");
        assert!(
            net.allocations().is_empty(),
            "kill at {delay_us}us: allocation left"
        );
        assert_eq!(net.records(), 0, "kill at {delay_us}us: record left");
        assert!(
            !net.links().contains(": pn"),
            "kill at {delay_us}us: veth left"
        );
        // The network's subnet stays in hostport-src4 (network-level); no pod address may.
        let table = net.nft_table();
        let pod_elements: Vec<&str> = table
            .lines()
            .filter(|l| l.contains("10.123.0.") && !l.contains("10.123.0.0/24"))
            .collect();
        assert!(
            pod_elements.is_empty(),
            "kill at {delay_us}us: {pod_elements:?}"
        );
        assert!(
            !table.contains("18090"),
            "kill at {delay_us}us: hostPort left: {table}"
        );
    }
}

#[test]
fn gc_frees_everything_not_in_valid_attachments() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let (keep, drop_) = (PodNs::new(), PodNs::new());
    let list = net.simple();
    let rk = list
        .add(&net.node, &Attachment::new("ctr-keep", &keep.path()))
        .expect("ADD keep");
    let att_drop = Attachment::new("ctr-drop", &drop_.path()).with_capability(
        "portMappings",
        json!([{"hostPort": 18091, "containerPort": 80}]),
    );
    let rd = list.add(&net.node, &att_drop).expect("ADD drop");
    let (ipk, ipd) = (result_ip(&rk).unwrap(), result_ip(&rd).unwrap());
    let plugin = Plugin::podnet();

    let stdin = net.stdin(
        "1.1.0",
        json!({"cni.dev/valid-attachments": [{"containerID": "ctr-keep", "ifname": "eth0"}]}),
    );
    plugin
        .run(&net.node, "GC", &[], &stdin)
        .expect_success("GC");
    let table = net.nft_table();
    assert!(
        !mentions_ip(&table, &ipd),
        "GC left the dropped pod's elements: {table}"
    );
    assert!(
        !table.contains("18091"),
        "GC left the dropped pod's hostPort: {table}"
    );
    assert!(
        mentions_ip(&table, &ipk),
        "GC removed the kept pod's masquerade: {table}"
    );
    assert_eq!(net.allocations(), vec![ipk.clone()]);
    assert_eq!(net.records(), 1);
    assert_eq!(net.links().matches(": pn").count(), 1, "{}", net.links());
    assert!(
        pod_ping(&keep, "10.123.0.1"),
        "the kept pod lost its network"
    );

    let old = net.stdin("1.0.0", json!({}));
    assert_eq!(
        plugin.run(&net.node, "GC", &[], &old).cni_error_code(),
        Some(1),
        "GC needs 1.1.0"
    );
    list.del(
        &net.node,
        &Attachment::new("ctr-keep", &keep.path()),
        Some(&rk),
    )
    .expect("DEL");
}

#[test]
fn status_succeeds_only_while_an_add_could() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let plugin = Plugin::podnet();
    let tiny = json!({"ipam": {"type": "podnet-ipam", "ranges": [[{"subnet": "10.126.0.0/30"}]], "dataDir": net.ipam_dir()}});
    let stdin = net.stdin("1.1.0", tiny.clone());
    plugin
        .run(&net.node, "STATUS", &[], &stdin)
        .expect_success("STATUS on a fresh node");
    // A /30 has one address besides the gateway; take it.
    let pod = PodNs::new();
    let list = net.list("1.1.0", vec![net.plugin(tiny)]);
    let att = Attachment::new("ctr-status", &pod.path());
    let r = list.add(&net.node, &att).expect("ADD");
    let out = plugin.run(&net.node, "STATUS", &[], &stdin);
    assert_eq!(out.cni_error_code(), Some(50), "exhausted pool: {out}");
    let other = PodNs::new();
    let err = list
        .add(&net.node, &Attachment::new("ctr-status-2", &other.path()))
        .expect_err("exhausted");
    assert_eq!(err.cni_error_code(), Some(101), "{err}");
    list.del(&net.node, &att, Some(&r)).expect("DEL");
    plugin
        .run(&net.node, "STATUS", &[], &stdin)
        .expect_success("STATUS after release");
    let old = net.stdin("1.0.0", json!({}));
    assert_eq!(
        plugin.run(&net.node, "STATUS", &[], &old).cni_error_code(),
        Some(1)
    );
}

#[test]
fn mtu_hairpin_and_promiscuous_options_reach_the_kernel() {
    if !root_or_skip() {
        return;
    }
    let net = Net::new();
    let pod = PodNs::new();
    let list = net.list(
        "1.1.0",
        vec![net.plugin(json!({"mtu": 1400, "hairpinMode": true, "promiscMode": true}))],
    );
    let att = Attachment::new("ctr-options", &pod.path());
    let r = list.add(&net.node, &att).expect("ADD");
    assert_eq!(r["interfaces"][2]["mtu"], 1400);
    let eth0 = in_ns(pod.name(), &["ip", "-o", "link", "show", "eth0"]).stdout;
    assert!(eth0.contains("mtu 1400"), "{eth0}");
    let host = r["interfaces"][1]["name"].as_str().unwrap().to_string();
    let port = in_ns(
        net.node.name(),
        &["bridge", "-d", "link", "show", "dev", &host],
    )
    .stdout;
    assert!(port.contains("hairpin on"), "{port}");
    let bridge = in_ns(net.node.name(), &["ip", "-o", "link", "show", &net.bridge]).stdout;
    assert!(bridge.contains("PROMISC"), "{bridge}");
    list.del(&net.node, &att, Some(&r)).expect("DEL");
}

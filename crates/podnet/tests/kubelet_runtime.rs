//! The node runtime of podnet-kubelet (sandboxes, CNI, containers, exec) with
//! the real podnet binary as its helper, inside a throwaway "node" network
//! namespace: every runtime call runs on a thread that entered the node, as
//! the agent runs inside its node. Needs root; skipped otherwise.

use podnet_kubelet::runtime::{
    cni, pod_netns_name, ContainerSpec, ContainerState, PortMapping, Runtime, RuntimeConfig,
    RuntimeError, SandboxSpec,
};
use std::collections::HashSet;
use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const PODNET: &str = env!("CARGO_BIN_EXE_podnet");
const REFERENCE_PLUGINS: &str = "/usr/lib/cni";

fn root_or_skip() -> bool {
    if rustix::process::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped: needs root");
        false
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn next_id() -> u32 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn run(argv: &[&str]) -> std::process::Output {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// podnet-cni is built next to the podnet binary; a test run of this crate
/// alone does not build it, so build it once here.
fn podnet_cni_dir() -> PathBuf {
    let dir = Path::new(PODNET).parent().unwrap().to_path_buf();
    if !dir.join("podnet-cni").is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "podnet-cni", "--bin", "podnet-cni"])
            .status()
            .expect("run cargo build -p podnet-cni");
        assert!(status.success(), "cargo build -p podnet-cni failed");
        assert!(
            dir.join("podnet-cni").is_file(),
            "podnet-cni not in {}",
            dir.display()
        );
    }
    dir
}

/// A throwaway node: its network namespace, directories and CNI config.
struct Node {
    netns: String,
    dirs: tempfile::TempDir,
    bridge: String,
    subnet_prefix: String,
    runtime: Option<Runtime>,
}

enum Plugins {
    PodnetCni,
    Reference,
}

impl Node {
    fn new(plugins: Plugins) -> Node {
        let n = next_id();
        let pid = std::process::id();
        let netns = format!("pkt-{pid}-node{n}");
        run(&["ip", "netns", "add", &netns]);
        run(&["ip", "-n", &netns, "link", "set", "lo", "up"]);
        let dirs = tempfile::Builder::new()
            .prefix("pkt-node")
            .tempdir()
            .unwrap();
        let bridge = format!("pkb{}{n}", pid % 100_000);
        // A /24 per test inside 10.211.0.0/16; nothing outside the node sees it.
        let subnet_prefix = format!("10.211.{}", (pid as u32 * 7 + n) % 250 + 1);
        let node = Node {
            netns,
            dirs,
            bridge,
            subnet_prefix,
            runtime: None,
        };
        node.write_conflist(plugins);
        node
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dirs.path().join(rel)
    }

    fn conflist_path(&self) -> PathBuf {
        self.path("cni/net.d/10-test.conflist")
    }

    fn write_conflist(&self, plugins: Plugins) {
        let subnet = format!("{}.0/24", self.subnet_prefix);
        let list = match plugins {
            Plugins::PodnetCni => serde_json::json!({
                "cniVersion": "1.1.0",
                "name": "pkt",
                "plugins": [{
                    "type": "podnet-cni",
                    "bridge": self.bridge,
                    "isGateway": true,
                    "isDefaultGateway": true,
                    "hairpinMode": true,
                    "ipam": {"type": "podnet-ipam", "ranges": [[{"subnet": subnet}]],
                             "dataDir": self.path("cni/ipam")},
                    "stateDir": self.path("cni/state"),
                    "capabilities": {"portMappings": true},
                }],
            }),
            Plugins::Reference => serde_json::json!({
                "cniVersion": "1.0.0",
                "name": "pkt-ref",
                "plugins": [
                    {"type": "bridge", "bridge": self.bridge, "isGateway": true,
                     "isDefaultGateway": true, "hairpinMode": true,
                     "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                              "dataDir": self.path("cni/ipam")}},
                    {"type": "portmap", "capabilities": {"portMappings": true}},
                ],
            }),
        };
        self.write_raw_conflist(&serde_json::to_string_pretty(&list).unwrap());
    }

    fn write_raw_conflist(&self, text: &str) {
        std::fs::create_dir_all(self.conflist_path().parent().unwrap()).unwrap();
        std::fs::write(self.conflist_path(), text).unwrap();
    }

    fn config(&self) -> RuntimeConfig {
        RuntimeConfig {
            node_name: self.netns.clone(),
            state_dir: self.path("state"),
            run_dir: self.path("run"),
            podnet_binary: PathBuf::from(PODNET),
            cni_conflist: self.conflist_path(),
            cni_bin_dirs: vec![podnet_cni_dir(), PathBuf::from(REFERENCE_PLUGINS)],
            path_dir: self.path("bin"),
        }
    }

    fn runtime(&mut self) -> Runtime {
        if self.runtime.is_none() {
            self.runtime = Some(Runtime::new(self.config()).unwrap());
        }
        self.runtime.clone().unwrap()
    }

    /// Runs `f` on a thread inside the node's network namespace.
    fn on<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = File::open(Path::new("/run/netns").join(&self.netns)).unwrap();
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    rustix::thread::move_into_link_name_space(
                        file.as_fd(),
                        Some(rustix::thread::LinkNameSpaceType::Network),
                    )
                    .expect("enter the node namespace");
                    f()
                })
                .join()
                .unwrap()
        })
    }

    fn node_links(&self) -> String {
        String::from_utf8(run(&["ip", "-n", &self.netns, "-o", "link", "show"]).stdout).unwrap()
    }

    fn allocations(&self, network: &str) -> Vec<String> {
        std::fs::read_dir(self.path("cni/ipam").join(network))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.parse::<IpAddr>().is_ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            self.on(|| {
                if let Ok(sandboxes) = runtime.sandboxes() {
                    for sandbox in sandboxes {
                        let _ = runtime.remove_sandbox(&sandbox.uid);
                    }
                }
            });
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

fn unique_uid(tag: &str) -> String {
    format!(
        "{tag}-{}-{}-{}",
        std::process::id(),
        next_id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

fn spec(uid: &str, name: &str) -> SandboxSpec {
    SandboxSpec {
        uid: uid.into(),
        namespace: "default".into(),
        name: name.into(),
        hostname: name.into(),
        domain: None,
        host_network: false,
        resolv_conf: "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n".into(),
        extra_hosts: Vec::new(),
        port_mappings: Vec::new(),
    }
}

fn container(name: &str, script: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.into(),
        command: vec!["sh".into(), "-c".into(), script.into()],
        env: vec![("GREETING".into(), "hello from env".into())],
        working_dir: None,
    }
}

fn argv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn exec_ok(runtime: &Runtime, uid: &str, args: &[&str]) -> String {
    let out = runtime
        .exec(uid, &argv(args), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("exec {args:?}: {e}"));
    assert_eq!(
        out.exit_code,
        Some(0),
        "exec {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_exited(runtime: &Runtime, uid: &str, name: &str) -> ContainerState {
    let mut state = ContainerState::Missing;
    wait_for(&format!("{name} to exit"), Duration::from_secs(10), || {
        state = runtime.container_state(uid, name).unwrap();
        matches!(state, ContainerState::Exited { .. })
    });
    state
}

fn netns_exists(uid: &str) -> bool {
    Path::new("/run/netns").join(pod_netns_name(uid)).exists()
}

/// Gone, or a zombie its new parent has not reaped yet.
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat[stat.rfind(')').unwrap() + 1..]
            .trim_start()
            .starts_with('Z'),
        Err(_) => true,
    }
}

fn mounted(needle: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(needle)
}

#[test]
fn sandbox_lifecycle_with_podnet_cni() {
    if !root_or_skip() {
        return;
    }
    let mut node = Node::new(Plugins::PodnetCni);
    let runtime = node.runtime();
    let uid = unique_uid("life");
    let mut sandbox_spec = spec(&uid, "web-0");
    sandbox_spec.domain = Some("web.default.svc.cluster.local".into());
    sandbox_spec.extra_hosts = vec![(
        "10.1.2.3".parse().unwrap(),
        vec!["foo.remote".into(), "bar.remote".into()],
    )];
    node.on(|| {
        let started = Instant::now();
        let sandbox = runtime.create_sandbox(&sandbox_spec).unwrap();
        eprintln!("sandbox + CNI ADD took {:?}", started.elapsed());
        assert!(sandbox.ready);
        assert_eq!(sandbox.ips.len(), 1);
        let ip = sandbox.ips[0];
        assert!(
            ip.to_string()
                .starts_with(&format!("{}.", node.subnet_prefix)),
            "{ip}"
        );
        assert!(netns_exists(&uid));
        assert_eq!(
            runtime.create_sandbox(&sandbox_spec).unwrap().ips,
            sandbox.ips,
            "a second create returns the same sandbox"
        );

        // What the pod sees.
        assert_eq!(exec_ok(&runtime, &uid, &["hostname"]).trim(), "web-0");
        let hosts = exec_ok(&runtime, &uid, &["cat", "/etc/hosts"]);
        assert!(
            hosts.starts_with("# Kubernetes-managed hosts file.\n"),
            "{hosts}"
        );
        assert!(
            hosts.contains(&format!(
                "{ip}\tweb-0.web.default.svc.cluster.local\tweb-0\n"
            )),
            "{hosts}"
        );
        assert!(
            hosts.contains("10.1.2.3\tfoo.remote\tbar.remote\n"),
            "{hosts}"
        );
        assert_eq!(
            exec_ok(&runtime, &uid, &["cat", "/etc/resolv.conf"]),
            sandbox_spec.resolv_conf
        );
        let addrs = exec_ok(&runtime, &uid, &["ip", "-o", "addr", "show"]);
        assert!(addrs.contains(&format!("eth0    inet {ip}/24")), "{addrs}");
        assert!(addrs.contains("lo    inet 127.0.0.1/8"), "{addrs}");
        // The node's own files are untouched.
        assert_ne!(std::fs::read_to_string("/etc/hosts").unwrap(), hosts);
        // `podnet` is on the pod's PATH.
        assert!(exec_ok(&runtime, &uid, &["sh", "-c", "command -v podnet"])
            .trim()
            .ends_with("/podnet"));

        // A container: log, env, exec in its environment.
        let state = runtime
            .start_container(
                &uid,
                &container(
                    "app",
                    "echo hello; echo oops >&2; echo \"$GREETING $HOSTNAME\"; exec sleep 1000",
                ),
            )
            .unwrap();
        let ContainerState::Running { pid, .. } = state else {
            panic!("not running: {state:?}");
        };
        let log = runtime.log_path(&uid, "app");
        wait_for("the log", Duration::from_secs(5), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("hello from env web-0"))
        });
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("hello\n") && text.contains("oops\n"),
            "{text}"
        );
        assert!(matches!(
            runtime.start_container(&uid, &container("app", "true")),
            Err(RuntimeError::ContainerRunning { .. })
        ));
        let out = runtime
            .exec_in_container(
                &uid,
                "app",
                &argv(&["sh", "-c", "echo $GREETING"]),
                Duration::from_secs(5),
            )
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from env\n");
        // The container runs in the pod's namespaces.
        let pod_net = std::fs::metadata(format!("/proc/{pid}/ns/net")).unwrap();
        let netns = std::fs::metadata(Path::new("/run/netns").join(pod_netns_name(&uid))).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(pod_net.ino(), netns.ino());

        // Exec timeout kills the command.
        let out = runtime
            .exec(&uid, &argv(&["sleep", "30"]), Duration::from_millis(200))
            .unwrap();
        assert!(out.timed_out);
        assert_eq!(out.exit_code, None);
        let out = runtime
            .exec(&uid, &argv(&["sh", "-c", "exit 7"]), Duration::from_secs(5))
            .unwrap();
        assert_eq!(out.exit_code, Some(7));

        // Stop: SIGTERM is enough for sleep.
        runtime
            .stop_container(&uid, "app", Duration::from_secs(5))
            .unwrap();
        match runtime.container_state(&uid, "app").unwrap() {
            ContainerState::Exited {
                exit_code,
                signal,
                reason,
                ..
            } => {
                assert_eq!((exit_code, signal), (143, Some(15)));
                assert_eq!(reason, "Error");
            }
            other => panic!("{other:?}"),
        }

        // Restart: the previous log is kept.
        runtime
            .start_container(&uid, &container("app", "echo second run; exec sleep 1000"))
            .unwrap();
        wait_for("the new log", Duration::from_secs(5), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("second run"))
        });
        let previous = std::fs::read_to_string(runtime.previous_log_path(&uid, "app")).unwrap();
        assert!(previous.contains("hello\n"), "{previous}");
        assert!(!std::fs::read_to_string(&log).unwrap().contains("hello\n"));

        // A container that ignores SIGTERM is killed after the grace period.
        runtime
            .start_container(
                &uid,
                &container("stubborn", "trap '' TERM; while true; do sleep 0.05; done"),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        runtime
            .stop_container(&uid, "stubborn", Duration::from_millis(400))
            .unwrap();
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(400), "{took:?}");
        match runtime.container_state(&uid, "stubborn").unwrap() {
            ContainerState::Exited {
                exit_code, signal, ..
            } => {
                assert_eq!((exit_code, signal), (137, Some(9)))
            }
            other => panic!("{other:?}"),
        }

        // Exit codes and reasons.
        runtime
            .start_container(&uid, &container("ok", "true"))
            .unwrap();
        runtime
            .start_container(&uid, &container("fails", "exit 3"))
            .unwrap();
        match wait_exited(&runtime, &uid, "ok") {
            ContainerState::Exited {
                exit_code, reason, ..
            } => {
                assert_eq!((exit_code, reason.as_str()), (0, "Completed"))
            }
            other => panic!("{other:?}"),
        }
        match wait_exited(&runtime, &uid, "fails") {
            ContainerState::Exited {
                exit_code, reason, ..
            } => {
                assert_eq!((exit_code, reason.as_str()), (3, "Error"))
            }
            other => panic!("{other:?}"),
        }
        let missing = ContainerSpec {
            name: "missing".into(),
            command: vec!["/nonexistent/binary".into()],
            env: Vec::new(),
            working_dir: None,
        };
        match runtime.start_container(&uid, &missing) {
            Err(RuntimeError::StartFailed { reason, .. }) => {
                assert!(reason.contains("/nonexistent/binary"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        match runtime.container_state(&uid, "missing").unwrap() {
            ContainerState::Exited {
                reason, exit_code, ..
            } => {
                assert_eq!((reason.as_str(), exit_code), ("StartError", 128))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            runtime.container_state(&uid, "never").unwrap(),
            ContainerState::Missing
        );
        assert_eq!(
            runtime.containers(&uid).unwrap(),
            vec!["app", "fails", "missing", "ok", "stubborn"]
        );

        // Removal leaves nothing: processes, netns, veth, address, mounts, state.
        let running_pid = match runtime.container_state(&uid, "app").unwrap() {
            ContainerState::Running { pid, .. } => pid,
            other => panic!("{other:?}"),
        };
        runtime.remove_sandbox(&uid).unwrap();
        assert!(process_gone(running_pid));
        assert!(!netns_exists(&uid));
        assert!(!mounted(&pod_netns_name(&uid)));
        let links = node.node_links();
        assert!(!links.contains(": pn"), "a pod veth remains: {links}");
        assert!(node.allocations("pkt").is_empty());
        assert!(runtime.sandboxes().unwrap().is_empty());
        assert!(!node.path("state/sandboxes").join(&uid).exists());
        assert!(!node.path("run/kubelet/sandboxes").join(&uid).exists());
        assert_eq!(
            std::fs::read_dir(node.path("state/cni/results"))
                .unwrap()
                .count(),
            0,
            "the CNI result cache entry is gone"
        );
        runtime.remove_sandbox(&uid).unwrap();
    });
}

#[test]
fn a_new_runtime_adopts_running_sandboxes_and_containers() {
    if !root_or_skip() {
        return;
    }
    let mut node = Node::new(Plugins::PodnetCni);
    let first = node.runtime();
    let uid = unique_uid("adopt");
    let (ip, pid) = node.on(|| {
        let sandbox = first.create_sandbox(&spec(&uid, "adopted")).unwrap();
        let state = first
            .start_container(&uid, &container("app", "exec sleep 1000"))
            .unwrap();
        let ContainerState::Running { pid, .. } = state else {
            panic!("{state:?}")
        };
        (sandbox.ips[0], pid)
    });
    drop(first);
    node.runtime = None;
    let second = node.runtime();
    node.on(|| {
        let sandboxes = second.sandboxes().unwrap();
        assert_eq!(sandboxes.len(), 1);
        assert_eq!(sandboxes[0].uid, uid);
        assert_eq!(sandboxes[0].ips, vec![ip]);
        assert!(sandboxes[0].ready);
        match second.container_state(&uid, "app").unwrap() {
            ContainerState::Running { pid: now, .. } => assert_eq!(now, pid),
            other => panic!("{other:?}"),
        }
        // create_sandbox of an adopted uid is the same sandbox, not a new one.
        assert_eq!(
            second.create_sandbox(&spec(&uid, "adopted")).unwrap().ips,
            vec![ip]
        );
        assert_eq!(exec_ok(&second, &uid, &["hostname"]).trim(), "adopted");
        second
            .stop_container(&uid, "app", Duration::from_secs(5))
            .unwrap();
        assert!(matches!(
            second.container_state(&uid, "app").unwrap(),
            ContainerState::Exited { .. }
        ));
        second.remove_sandbox(&uid).unwrap();
    });
}

#[test]
fn reference_bridge_host_local_portmap_chain() {
    if !root_or_skip() {
        return;
    }
    if !Path::new(REFERENCE_PLUGINS).join("bridge").is_file() {
        eprintln!("skipped: no reference CNI plugins in {REFERENCE_PLUGINS}");
        return;
    }
    let mut node = Node::new(Plugins::Reference);
    let runtime = node.runtime();
    let uid = unique_uid("ref");
    let mut sandbox_spec = spec(&uid, "ref");
    sandbox_spec.port_mappings = vec![PortMapping {
        host_port: 18080,
        container_port: 8080,
        protocol: "tcp".into(),
        host_ip: String::new(),
    }];
    node.on(|| {
        let sandbox = runtime.create_sandbox(&sandbox_spec).unwrap();
        let ip = sandbox.ips[0];
        assert!(ip
            .to_string()
            .starts_with(&format!("{}.", node.subnet_prefix)));
        let addrs = exec_ok(&runtime, &uid, &["ip", "-o", "addr", "show", "eth0"]);
        assert!(addrs.contains(&format!("inet {ip}/24")), "{addrs}");
        // portmap got the mapping through runtimeConfig.
        let rules = String::from_utf8(
            run(&[
                "ip",
                "netns",
                "exec",
                &node.netns,
                "iptables-save",
                "-t",
                "nat",
            ])
            .stdout,
        )
        .unwrap();
        assert!(rules.contains("18080"), "{rules}");
        // Node to pod over the bridge.
        runtime
            .start_container(
                &uid,
                &container("srv", "exec podnet workload netexec --http-port 8080"),
            )
            .unwrap();
        wait_for("netexec", Duration::from_secs(10), || {
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &node.netns,
                    "curl",
                    "-sf",
                    "--max-time",
                    "1",
                ])
                .arg(format!("http://{ip}:8080/hostname"))
                .output()
                .is_ok_and(|o| o.status.success() && o.stdout == b"ref")
        });
        runtime.remove_sandbox(&uid).unwrap();
        assert!(!netns_exists(&uid));
        let links = node.node_links();
        assert!(!links.contains("veth"), "a veth remains: {links}");
        assert!(node.allocations("pkt-ref").is_empty());
        let rules = String::from_utf8(
            run(&[
                "ip",
                "netns",
                "exec",
                &node.netns,
                "iptables-save",
                "-t",
                "nat",
            ])
            .stdout,
        )
        .unwrap();
        assert!(!rules.contains("18080"), "{rules}");
    });
}

#[test]
fn garbage_collection_removes_stale_sandboxes_and_attachments() {
    if !root_or_skip() {
        return;
    }
    let mut node = Node::new(Plugins::PodnetCni);
    let runtime = node.runtime();
    let live = unique_uid("live");
    let stale = unique_uid("stale");
    node.on(|| {
        let live_ip = runtime.create_sandbox(&spec(&live, "live")).unwrap().ips[0];
        runtime.create_sandbox(&spec(&stale, "stale")).unwrap();
        runtime
            .start_container(&stale, &container("app", "exec sleep 1000"))
            .unwrap();

        // An attachment the runtime has no sandbox for, with a cached result
        // (DEL'd by libcni-style GC), and one without (podnet-cni's GC).
        let list = runtime.load_conflist().unwrap();
        let invoker = cni::CniInvoker {
            plugin_dirs: node.config().cni_bin_dirs,
            cache_dir: node.path("state/cni/results"),
        };
        let orphan_ns = format!("pkt-{}-orphan{}", std::process::id(), next_id());
        run(&["ip", "netns", "add", &orphan_ns]);
        let attachment = cni::Attachment {
            container_id: "orphan-cached".into(),
            netns: Path::new("/run/netns").join(&orphan_ns),
            ifname: "eth0".into(),
            args: Vec::new(),
            capability_args: Default::default(),
        };
        invoker.add(&list, &attachment).unwrap();
        let uncached = cni::CniInvoker {
            plugin_dirs: invoker.plugin_dirs.clone(),
            cache_dir: node.path("elsewhere"),
        };
        let second = cni::Attachment {
            container_id: "orphan-uncached".into(),
            ifname: "eth1".into(),
            ..attachment.clone()
        };
        uncached.add(&list, &second).unwrap();
        assert_eq!(node.allocations("pkt").len(), 4);

        let live_set: HashSet<String> = [live.clone()].into_iter().collect();
        runtime.garbage_collect(&live_set).unwrap();
        let _ = Command::new("ip")
            .args(["netns", "del", &orphan_ns])
            .status();

        let left: Vec<String> = runtime
            .sandboxes()
            .unwrap()
            .into_iter()
            .map(|s| s.uid)
            .collect();
        assert_eq!(left, vec![live.clone()]);
        assert!(!netns_exists(&stale));
        assert_eq!(node.allocations("pkt"), vec![live_ip.to_string()]);
        assert_eq!(exec_ok(&runtime, &live, &["hostname"]).trim(), "live");
        // The remaining pod's mount namespace let go of the removed pod's netns
        // mount (slave propagation), so nothing keeps that namespace alive.
        let mounts = exec_ok(&runtime, &live, &["cat", "/proc/self/mountinfo"]);
        assert!(!mounts.contains(&pod_netns_name(&stale)), "{mounts}");
        assert!(mounts.contains(&pod_netns_name(&live)), "{mounts}");
    });
}

#[test]
fn cni_errors_surface_and_leave_nothing_behind() {
    if !root_or_skip() {
        return;
    }
    let mut node = Node::new(Plugins::PodnetCni);
    let runtime = node.runtime();
    let uid = unique_uid("err");
    node.on(|| {
        // The plugin refuses its config: code and message come through. The
        // rollback DEL fails the same way, so the sandbox stays (not ready,
        // its namespace gone) until a DEL succeeds, as with any runtime.
        let good = std::fs::read_to_string(node.conflist_path()).unwrap();
        node.write_raw_conflist(
            r#"{"cniVersion":"1.1.0","name":"pkt","plugins":[{"type":"podnet-cni",
                "ipam":{"type":"podnet-ipam","ranges":[[{"subnet":"not-a-subnet"}]]}}]}"#,
        );
        let first_error = |err: RuntimeError| match err {
            RuntimeError::Multiple(mut all) => all.remove(0),
            other => other,
        };
        match runtime
            .create_sandbox(&spec(&uid, "err"))
            .map_err(first_error)
        {
            Err(RuntimeError::CniPlugin(failure)) => {
                assert_eq!(failure.plugin, "podnet-cni");
                assert_eq!(failure.command, "ADD");
                assert_eq!(failure.code, Some(7), "{failure}");
                assert!(failure.msg.contains("IP address"), "{failure}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!netns_exists(&uid));
        let left = runtime.sandboxes().unwrap();
        assert!(left.len() == 1 && !left[0].ready, "{left:?}");
        node.write_raw_conflist(&good);
        runtime.remove_sandbox(&uid).unwrap();
        assert!(runtime.sandboxes().unwrap().is_empty());

        // A plugin that is not installed.
        node.write_raw_conflist(
            r#"{"cniVersion":"1.0.0","name":"pkt","plugins":[{"type":"no-such-plugin"}]}"#,
        );
        match runtime
            .create_sandbox(&spec(&uid, "err"))
            .map_err(first_error)
        {
            Err(RuntimeError::CniPluginNotFound { plugin, .. }) => {
                assert_eq!(plugin, "no-such-plugin")
            }
            other => panic!("{other:?}"),
        }
        assert!(!netns_exists(&uid));
        node.write_raw_conflist(&good);
        runtime.remove_sandbox(&uid).unwrap();

        // A broken list names the field, before anything is made.
        node.write_raw_conflist(r#"{"cniVersion":"1.0.0","name":"pkt","plugins":[{}]}"#);
        match runtime.create_sandbox(&spec(&uid, "err")) {
            Err(RuntimeError::CniConfig { field, .. }) => assert_eq!(field, "plugins[0].type"),
            other => panic!("{other:?}"),
        }
        assert!(runtime.sandboxes().unwrap().is_empty());
        assert!(!netns_exists(&uid));

        // With the config back, the same pod gets its sandbox.
        node.write_raw_conflist(&good);
        assert!(runtime.create_sandbox(&spec(&uid, "err")).unwrap().ready);
        runtime.remove_sandbox(&uid).unwrap();
    });
}

#[test]
fn host_network_pods_share_the_node_network_and_hostname() {
    if !root_or_skip() {
        return;
    }
    let mut node = Node::new(Plugins::PodnetCni);
    let runtime = node.runtime();
    let uid = unique_uid("hostnet");
    let mut sandbox_spec = spec(&uid, "hostnet");
    sandbox_spec.host_network = true;
    node.on(|| {
        let sandbox = runtime.create_sandbox(&sandbox_spec).unwrap();
        assert!(sandbox.ready && sandbox.netns.is_none() && sandbox.ips.is_empty());
        assert!(!netns_exists(&uid));
        let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(exec_ok(&runtime, &uid, &["hostname"]), host_name);
        let hosts = exec_ok(&runtime, &uid, &["cat", "/etc/hosts"]);
        assert!(
            hosts.starts_with("# Kubernetes-managed hosts file (host network).\n"),
            "{hosts}"
        );
        // The node's network: the pod sees the node namespace's loopback only.
        let links = exec_ok(&runtime, &uid, &["ip", "-o", "link", "show"]);
        assert_eq!(links, node.node_links());
        runtime
            .start_container(&uid, &container("app", "echo $HOSTNAME; exec sleep 1000"))
            .unwrap();
        wait_for("the log", Duration::from_secs(5), || {
            std::fs::read_to_string(runtime.log_path(&uid, "app")).is_ok_and(|l| l == host_name)
        });
        runtime.remove_sandbox(&uid).unwrap();
        assert!(runtime.sandboxes().unwrap().is_empty());
    });
}

#[test]
fn dead_helpers_are_handled() {
    if !root_or_skip() {
        return;
    }
    let mut node = Node::new(Plugins::PodnetCni);
    let runtime = node.runtime();
    let uid = unique_uid("crash");
    node.on(|| {
        runtime.create_sandbox(&spec(&uid, "crash")).unwrap();
        runtime
            .start_container(&uid, &container("app", "exec sleep 1000"))
            .unwrap();
        // The shim dies: the container keeps running and is still seen running;
        // once it is gone too, its state is Unknown.
        let run_record: serde_json::Value = serde_json::from_slice(
            &std::fs::read(node.path(&format!("run/kubelet/sandboxes/{uid}/app.json"))).unwrap(),
        )
        .unwrap();
        let shim = run_record["shim"]["pid"].as_i64().unwrap() as i32;
        let pid = run_record["process"]["pid"].as_i64().unwrap() as i32;
        run(&["kill", "-9", &shim.to_string()]);
        wait_for("the shim to die", Duration::from_secs(5), || {
            !Path::new(&format!("/proc/{shim}")).exists()
        });
        assert!(matches!(
            runtime.container_state(&uid, "app").unwrap(),
            ContainerState::Running { .. }
        ));
        run(&["kill", "-9", &pid.to_string()]);
        match wait_exited(&runtime, &uid, "app") {
            ContainerState::Exited {
                reason, exit_code, ..
            } => {
                assert_eq!((reason.as_str(), exit_code), ("Unknown", 255))
            }
            other => panic!("{other:?}"),
        }

        // The namespace holder dies: the sandbox is not ready, and creating it
        // again replaces it.
        let pause: serde_json::Value = serde_json::from_slice(
            &std::fs::read(node.path(&format!("run/kubelet/sandboxes/{uid}/pause.json"))).unwrap(),
        )
        .unwrap();
        let pause_pid = pause["process"]["pid"].as_i64().unwrap();
        run(&["kill", "-9", &pause_pid.to_string()]);
        wait_for("the holder to die", Duration::from_secs(5), || {
            !runtime.sandbox(&uid).unwrap().unwrap().ready
        });
        assert!(matches!(
            runtime.exec(&uid, &argv(&["true"]), Duration::from_secs(1)),
            Err(RuntimeError::SandboxNotRunning { .. })
        ));
        let again = runtime.create_sandbox(&spec(&uid, "crash")).unwrap();
        assert!(again.ready);
        assert_eq!(exec_ok(&runtime, &uid, &["hostname"]).trim(), "crash");
        assert_eq!(node.allocations("pkt").len(), 1);
        runtime.remove_sandbox(&uid).unwrap();
        assert!(node.allocations("pkt").is_empty());
    });
}

#[test]
fn concurrent_sandboxes_get_distinct_addresses() {
    if !root_or_skip() {
        return;
    }
    let mut node = Node::new(Plugins::PodnetCni);
    let runtime = node.runtime();
    let uids: Vec<String> = (0..12).map(|_| unique_uid("many")).collect();
    node.on(|| {
        let created: Vec<(IpAddr, Duration)> = std::thread::scope(|scope| {
            let handles: Vec<_> = uids
                .iter()
                .map(|uid| {
                    let runtime = runtime.clone();
                    scope.spawn(move || {
                        let started = Instant::now();
                        let sandbox = runtime.create_sandbox(&spec(uid, "many")).unwrap();
                        (sandbox.ips[0], started.elapsed())
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ips: HashSet<IpAddr> = created.iter().map(|(ip, _)| *ip).collect();
        assert_eq!(ips.len(), uids.len(), "{created:?}");
        let mut times: Vec<Duration> = created.iter().map(|(_, t)| *t).collect();
        times.sort();
        eprintln!(
            "{} concurrent sandboxes: median {:?}, max {:?}",
            times.len(),
            times[times.len() / 2],
            times[times.len() - 1]
        );
        // Pod to pod over the node's bridge.
        let first = created[0].0.to_string();
        exec_ok(
            &runtime,
            &uids[1],
            &["busybox", "ping", "-c", "1", "-W", "2", &first],
        );
        std::thread::scope(|scope| {
            for uid in &uids {
                let runtime = runtime.clone();
                scope.spawn(move || runtime.remove_sandbox(uid).unwrap());
            }
        });
        assert!(runtime.sandboxes().unwrap().is_empty());
        assert!(node.allocations("pkt").is_empty());
        let links = node.node_links();
        assert!(!links.contains(": pn"), "a pod veth remains: {links}");
    });
}

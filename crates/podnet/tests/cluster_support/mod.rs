//! What the cluster end-to-end tests share: running `podnet`, kubectl and
//! curl, waiting, reading pods and nodes, and the host state `down` restores.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::new(());
pub const KUBECONFIG: &str = "/var/lib/podnet/kubeconfig";
pub const PODNET: &str = env!("CARGO_BIN_EXE_podnet");
pub const EXT_IP: &str = "172.30.0.200";

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    output
}

pub fn ok(command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

pub fn podnet(args: &[&str]) -> Command {
    let mut command = Command::new(PODNET);
    command.args(args).env("KUBECONFIG", KUBECONFIG);
    command
}

pub fn kubectl(args: &[&str]) -> Command {
    let mut command = Command::new("kubectl");
    command.args(args).env("KUBECONFIG", KUBECONFIG);
    command
}

pub fn kubectl_json(args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&ok(&mut kubectl(&all))).expect("kubectl prints JSON")
}

pub fn apply(manifest: &str) {
    let mut child = kubectl(&["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "kubectl apply failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn wait_for<T>(what: &str, patience: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The host's view of the things `down` must restore: named namespaces, links,
/// nftables tables, mount points.
#[derive(Debug, PartialEq, Eq)]
pub struct HostState {
    pub netns: BTreeSet<String>,
    pub links: BTreeSet<String>,
    pub tables: BTreeSet<String>,
    pub mounts: BTreeSet<String>,
}

pub fn host_state() -> HostState {
    let netns = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    let links = ok(Command::new("ip").args(["-o", "link", "show"]))
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect();
    let tables = ok(Command::new("nft").args(["list", "tables"]))
        .lines()
        .map(str::to_string)
        .collect();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(str::to_string)
        .collect();
    HostState {
        netns,
        links,
        tables,
        mounts,
    }
}

/// Brings the cluster down when a test ends, also when it fails.
pub struct Cluster;

impl Cluster {
    /// `podnet up` of a 3-node cluster with `mode`'s flags.
    pub fn up(mode: Mode) -> Cluster {
        let out = up(mode);
        assert!(
            out.contains("export KUBECONFIG=/var/lib/podnet/kubeconfig"),
            "up prints the kubeconfig line: {out}"
        );
        Cluster
    }
}

/// The routing and masquerade flags of one end-to-end pass.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    pub routing: &'static str,
    pub masquerade: bool,
}

/// `podnet up --nodes 3` with `mode`'s flags (also to restart what died); its stdout.
pub fn up(mode: Mode) -> String {
    ok(&mut podnet(&[
        "up",
        "--nodes",
        "3",
        "--routing",
        mode.routing,
        "--masquerade",
        if mode.masquerade { "on" } else { "off" },
    ]))
}

/// Runs `pass` as root, one cluster test at a time (the lab has fixed names);
/// without root it says it skipped.
pub fn in_turn(mode: Mode, pass: impl FnOnce(Mode)) {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let _turn = ONE_CLUSTER_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    pass(mode);
}

/// The pid of a node's agent, from the pid file `up` wrote.
pub fn agent_pid(node: &str) -> i32 {
    std::fs::read_to_string(format!("/run/podnet/pids/agent-{node}.pid"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let output = run(&mut podnet(&["down"]));
        if !output.status.success() {
            eprintln!(
                "podnet down failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[derive(Debug, Clone)]
pub struct PodInfo {
    pub name: String,
    pub uid: String,
    pub node: String,
    pub ip: IpAddr,
    pub ready: bool,
    pub restarts: i64,
}

pub fn pods(selector: &str) -> Vec<PodInfo> {
    let list = kubectl_json(&["get", "pods", "-l", selector]);
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter_map(|p| {
            Some(PodInfo {
                name: p["metadata"]["name"].as_str()?.to_string(),
                uid: p["metadata"]["uid"].as_str()?.to_string(),
                node: p["spec"]["nodeName"].as_str()?.to_string(),
                ip: p["status"]["podIP"].as_str()?.parse().ok()?,
                ready: p["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                }),
                restarts: p["status"]["containerStatuses"]
                    .as_array()
                    .map(|s| s.iter().filter_map(|c| c["restartCount"].as_i64()).sum())
                    .unwrap_or(0),
            })
        })
        .collect()
}

pub fn ready_pods(selector: &str, count: usize) -> Vec<PodInfo> {
    wait_for(
        &format!("{count} ready pods {selector}"),
        Duration::from_secs(90),
        || {
            let found = pods(selector);
            (found.len() == count && found.iter().all(|p| p.ready)).then_some(found)
        },
    )
}

/// Where a test's curl runs.
#[derive(Debug, Clone, Copy)]
pub enum CurlFrom<'a> {
    /// In a pod's namespaces, through `podnet exec`.
    Pod(&'a str),
    /// In a named network namespace (a node, the external host).
    Netns(&'a str),
}

fn curl(from: CurlFrom, url: &str, max_time: &str) -> Command {
    let curl = ["curl", "-sS", "--max-time", max_time, url];
    match from {
        CurlFrom::Pod(pod) => {
            let mut command = podnet(&["exec", pod, "--"]);
            command.args(curl);
            command
        }
        CurlFrom::Netns(netns) => {
            let mut command = Command::new("ip");
            command.args(["netns", "exec", netns]).args(curl);
            command
        }
    }
}

/// curl `url` from `from` within `max_time` seconds: the body, or curl's exit code.
pub fn try_curl(from: CurlFrom, url: &str, max_time: &str) -> Result<String, i32> {
    let output = run(&mut curl(from, url, max_time));
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(output.status.code().unwrap_or(-1))
    }
}

/// GET a netexec path from inside a pod, through `podnet exec` and curl.
pub fn curl_in_pod(pod: &str, url: &str) -> String {
    client_address(ok(&mut curl(CurlFrom::Pod(pod), url, "3")).trim())
}

pub fn curl_in_netns(netns: &str, url: &str) -> String {
    client_address(ok(&mut curl(CurlFrom::Netns(netns), url, "3")).trim())
}

/// netexec's /clientip answers `address:port`; other answers pass unchanged.
pub fn client_address(answer: &str) -> String {
    answer
        .parse::<std::net::SocketAddr>()
        .map(|s| s.ip().to_string())
        .unwrap_or_else(|_| answer.to_string())
}

pub fn node_cidrs() -> BTreeMap<String, ipnet::IpNet> {
    let nodes = kubectl_json(&["get", "nodes"]);
    nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["metadata"]["name"].as_str().unwrap().to_string(),
                n["spec"]["podCIDR"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

pub fn node_addresses(netns: &str) -> Vec<IpAddr> {
    let out = ok(Command::new("ip").args(["-n", netns, "-j", "addr", "show"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["local"].as_str()?.parse().ok())
        .collect()
}

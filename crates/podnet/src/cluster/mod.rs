//! `podnet up`, `podnet down`, `podnet status`: a whole cluster on this host.
//! The lab (crates/podnet-lab) is the network; this module starts and stops
//! the processes that make it a cluster (the control plane in the host
//! namespace, one agent inside each node namespace) and waits for the nodes.

mod layout;
mod process;

pub use layout::{kubeconfig as kubeconfig_path, STATE_ROOT};

use anyhow::{bail, Context, Result};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use podnet_kubelet::runtime::process as pod_process;
use podnet_lab::{LabConfig, LabPlan, LabScope};
use podnet_netlink::{Handle, NetNs, Route};
use process::Daemon;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The address plan's cluster and service CIDRs.
const CLUSTER_CIDR: &str = "10.244.0.0/16";
const SERVICE_CIDR: &str = "10.96.0.0/16";
/// Addresses of LoadBalancer Services: the range the lab keeps free on the underlay.
const LOAD_BALANCER_POOL: &str = "172.30.0.64/27";
const API_PORT: u16 = 6443;
/// How long `up` waits for the API server, then for every node to be Ready.
const API_PATIENCE: Duration = Duration::from_secs(60);
const NODES_PATIENCE: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    /// A route per peer node's podCIDR via its underlay address.
    HostGw,
    /// A VXLAN overlay between the nodes.
    Vxlan,
}

impl Routing {
    fn as_str(self) -> &'static str {
        match self {
            Routing::HostGw => "host-gw",
            Routing::Vxlan => "vxlan",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum OnOff {
    On,
    Off,
}

impl OnOff {
    fn as_str(self) -> &'static str {
        match self {
            OnOff::On => "on",
            OnOff::Off => "off",
        }
    }
}

/// The CNI plugins the nodes' kubelets run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CniChoice {
    /// podnet-cni.
    Podnet,
    /// The reference plugins `bridge` + `host-local` (+ `portmap`) from the OS
    /// package, for comparison.
    Reference,
}

impl CniChoice {
    fn as_str(self) -> &'static str {
        match self {
            CniChoice::Podnet => "podnet",
            CniChoice::Reference => "reference",
        }
    }
}

#[derive(clap::Args, Clone)]
pub struct UpArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// How pod traffic crosses between nodes.
    #[arg(long, value_enum, default_value = "host-gw")]
    pub routing: Routing,
    /// SNAT pod traffic leaving the cluster CIDR to the node's address.
    #[arg(long, value_enum, default_value = "on")]
    pub masquerade: OnOff,
    /// Also apply the examples and show pods talking to each other.
    #[arg(long)]
    pub demo: bool,
    /// The CNI plugins the nodes use.
    #[arg(long, value_enum, default_value = "podnet", hide = true)]
    pub cni: CniChoice,
}

/// What a running cluster was started with; a second `up` must ask for the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ClusterOptions {
    nodes: usize,
    routing: Routing,
    masquerade: OnOff,
    cni: CniChoice,
}

fn require_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("podnet needs root to build namespaces, links and firewall tables: run it as root");
    }
    Ok(())
}

fn lab_plan(nodes: usize) -> Result<LabPlan> {
    anyhow::ensure!(
        nodes >= 1,
        "--nodes {nodes}: a cluster needs at least one node"
    );
    LabPlan::new(LabConfig {
        nodes,
        ..LabConfig::default()
    })
    .with_context(|| format!("--nodes {nodes}"))
}

fn controlplane_daemon() -> Daemon {
    Daemon {
        name: "control plane".into(),
        pid_file: layout::pid_file("controlplane"),
        log_file: layout::log_file("controlplane"),
    }
}

fn agent_daemon(node: &str) -> Daemon {
    Daemon {
        name: format!("agent of {node}"),
        pid_file: layout::pid_file(&format!("agent-{node}")),
        log_file: layout::log_file(&format!("agent-{node}")),
    }
}

fn read_options() -> Option<ClusterOptions> {
    let text = fs::read_to_string(layout::cluster_file()).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_options(options: &ClusterOptions) -> Result<()> {
    let path = layout::cluster_file();
    fs::create_dir_all(STATE_ROOT).with_context(|| format!("creating {STATE_ROOT}"))?;
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, serde_json::to_vec_pretty(options)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

fn step(message: impl AsRef<str>) {
    println!("==> {}", message.as_ref());
    let _ = std::io::stdout().flush();
}

pub fn up(args: UpArgs) -> Result<()> {
    require_root()?;
    let options = ClusterOptions {
        nodes: args.nodes,
        routing: args.routing,
        masquerade: args.masquerade,
        cni: args.cni,
    };
    let plan = lab_plan(args.nodes)?;
    let controlplane = controlplane_daemon();
    if let Some(previous) = read_options() {
        let anything_runs = controlplane.running().is_some()
            || plan
                .nodes
                .iter()
                .any(|n| agent_daemon(&n.netns).running().is_some());
        if previous != options && anything_runs {
            bail!(
                "a cluster with {} is running; `podnet down` first to start one with {}",
                describe(&previous),
                describe(&options)
            );
        }
    }
    let executable = std::env::current_exe().context("finding the podnet executable")?;

    step(format!(
        "lab: bridge {} ({}), {} node namespace(s), external host {}",
        plan.bridge,
        plan.host_address,
        plan.nodes.len(),
        plan.external.address
    ));
    let report = podnet_lab::up(&plan).context("building the lab")?;
    for change in &report.changes {
        println!("    {change}");
    }
    write_options(&options)?;

    let api_ip = plan.host_address.addr();
    if controlplane.running().is_none() {
        let mut command = Command::new(&executable);
        command
            .arg("controlplane")
            .arg("--data-dir")
            .arg(layout::apiserver_dir())
            .arg("--listen")
            .arg(format!("{api_ip}:{API_PORT}"))
            .args([
                "--cluster-cidr",
                CLUSTER_CIDR,
                "--service-cidr",
                SERVICE_CIDR,
                "--load-balancer-pool",
                LOAD_BALANCER_POOL,
            ]);
        let started = controlplane.start(command, None)?;
        step(format!(
            "control plane: API server and controllers started (pid {}, log {})",
            started.pid,
            controlplane.log_file.display()
        ));
    } else {
        step("control plane: already running");
    }

    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    let client = runtime.block_on(wait_for_api(&controlplane))?;
    fs::copy(
        layout::apiserver_dir().join("kubeconfig"),
        layout::kubeconfig(),
    )
    .context("writing the cluster's kubeconfig")?;

    for node in &plan.nodes {
        let name = &node.netns;
        let daemon = agent_daemon(name);
        if daemon.running().is_some() {
            continue;
        }
        let kubeconfig = layout::node_kubeconfig(name);
        if !kubeconfig.exists() {
            fs::create_dir_all(layout::node_dir(name))?;
            podnet_apiserver::server::issue_token(
                &layout::apiserver_dir(),
                &format!("system:node:{name}"),
                &["system:nodes"],
                Some(&kubeconfig),
            )
            .with_context(|| format!("issuing the token of {name}"))?;
        }
        let mut command = Command::new(&executable);
        command
            .arg("agent")
            .args(["--node-name", name])
            .args(["--node-ip", &node.ip().to_string()])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--routing", args.routing.as_str()])
            .args(["--masquerade", args.masquerade.as_str()])
            .args([
                "--cluster-cidr",
                CLUSTER_CIDR,
                "--service-cidr",
                SERVICE_CIDR,
            ])
            .args(["--cni", args.cni.as_str()])
            .arg("--state-dir")
            .arg(layout::node_dir(name))
            .arg("--run-dir")
            .arg(layout::node_run_dir(name));
        let started = daemon.start(command, Some(&node.netns_path()))?;
        step(format!(
            "{name}: agent started in its namespace (pid {}, log {})",
            started.pid,
            daemon.log_file.display()
        ));
    }

    let names: Vec<String> = plan.nodes.iter().map(|n| n.netns.clone()).collect();
    let nodes = runtime.block_on(wait_for_nodes(&client, &names))?;
    route_external_host(&plan, &nodes).context("routing the external host to the pods")?;

    if args.demo {
        runtime.block_on(crate::demo::run(&client))?;
    }
    println!();
    println!(
        "cluster ready: {} node(s), routing {}, masquerade {}",
        names.len(),
        args.routing.as_str(),
        args.masquerade.as_str()
    );
    println!("export KUBECONFIG={}", layout::kubeconfig().display());
    Ok(())
}

fn describe(options: &ClusterOptions) -> String {
    format!(
        "--nodes {} --routing {} --masquerade {}{}",
        options.nodes,
        options.routing.as_str(),
        options.masquerade.as_str(),
        match options.cni {
            CniChoice::Podnet => "",
            CniChoice::Reference => " --cni reference",
        }
    )
}

async fn wait_for_api(controlplane: &Daemon) -> Result<kube::Client> {
    let deadline = Instant::now() + API_PATIENCE;
    let kubeconfig = layout::apiserver_dir().join("kubeconfig");
    loop {
        if controlplane.running().is_none() {
            bail!(
                "the control plane exited; see {}",
                controlplane.log_file.display()
            );
        }
        if kubeconfig.exists() {
            if let Ok(client) = crate::kube_client(&kubeconfig).await {
                if client.apiserver_version().await.is_ok() {
                    step("API server: ready");
                    return Ok(client);
                }
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the API server did not answer within {} s; see {}",
                API_PATIENCE.as_secs(),
                controlplane.log_file.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A node as `up` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct NodeView {
    ready: bool,
    pod_cidr: Option<String>,
    internal_ip: Option<IpAddr>,
    reason: String,
}

fn node_view(node: &Node) -> NodeView {
    let status = node.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
    NodeView {
        ready: ready.is_some_and(|c| c.status == "True"),
        reason: ready
            .map(|c| {
                let message = c.message.clone().unwrap_or_default();
                format!("{} {}", c.reason.clone().unwrap_or_default(), message)
                    .trim()
                    .to_string()
            })
            .unwrap_or_else(|| "registered".into()),
        pod_cidr: node.spec.as_ref().and_then(|s| s.pod_cidr.clone()),
        internal_ip: status
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
            .and_then(|a| a.address.parse().ok()),
    }
}

/// Waits until every named node is Ready, printing each change on the way.
async fn wait_for_nodes(
    client: &kube::Client,
    names: &[String],
) -> Result<BTreeMap<String, NodeView>> {
    let api: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + NODES_PATIENCE;
    let mut seen: BTreeMap<String, NodeView> = BTreeMap::new();
    loop {
        let list = api.list(&ListParams::default()).await;
        if let Ok(list) = list {
            for node in &list.items {
                let name = node.metadata.name.clone().unwrap_or_default();
                if !names.contains(&name) {
                    continue;
                }
                let view = node_view(node);
                if seen.get(&name) != Some(&view) {
                    let state = if view.ready {
                        "Ready".to_string()
                    } else {
                        format!("not ready: {}", view.reason)
                    };
                    println!(
                        "    {name}: {} podCIDR {} - {state}",
                        view.internal_ip
                            .map(|ip| ip.to_string())
                            .unwrap_or_else(|| "-".into()),
                        view.pod_cidr.as_deref().unwrap_or("-"),
                    );
                    seen.insert(name, view);
                }
            }
        }
        if names.iter().all(|n| seen.get(n).is_some_and(|v| v.ready)) {
            step(format!("all {} node(s) Ready", names.len()));
            return Ok(seen);
        }
        for name in names {
            if agent_daemon(name).running().is_none() {
                bail!(
                    "the agent of {name} exited; see {}",
                    agent_daemon(name).log_file.display()
                );
            }
        }
        if Instant::now() > deadline {
            let waiting: Vec<&String> = names
                .iter()
                .filter(|n| !seen.get(*n).is_some_and(|v| v.ready))
                .collect();
            bail!(
                "nodes not Ready after {} s: {waiting:?}; see the agents' logs in {}",
                NODES_PATIENCE.as_secs(),
                layout::logs_dir().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The external host stands for a machine on the nodes' network. Its routes to
/// the podCIDRs (via each node) are what a flat network's router would know;
/// with masquerade on, pods reach it from their node's address and the routes
/// go unused.
fn route_external_host(plan: &LabPlan, nodes: &BTreeMap<String, NodeView>) -> Result<()> {
    let ns = NetNs::open(plan.external.netns_path())?;
    let mut handle = Handle::in_netns(&ns)?;
    for member in &plan.nodes {
        let Some(view) = nodes.get(&member.netns) else {
            continue;
        };
        let Some(cidr) = view.pod_cidr.as_deref() else {
            continue;
        };
        let route = Route {
            dst: Some(cidr.parse().with_context(|| format!("podCIDR {cidr}"))?),
            gateway: Some(IpAddr::V4(member.ip())),
            ..Route::default()
        };
        handle.replace_route(&route).with_context(|| {
            format!(
                "route {cidr} via {} in {}",
                member.ip(),
                plan.external.netns
            )
        })?;
    }
    Ok(())
}

pub fn down() -> Result<()> {
    require_root()?;
    let scope = LabScope::default();
    // Agents first and gently, so that they can say NotReady; then everything
    // that still runs in a node's or a pod's namespace, however it got there.
    let mut agents = Vec::new();
    for entry in fs::read_dir(layout::pid_file("x").parent().expect("pid dir"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(node) = name
            .strip_prefix("agent-")
            .and_then(|n| n.strip_suffix(".pid"))
        {
            agents.push(agent_daemon(node));
        }
    }
    for agent in &agents {
        if agent.stop(Duration::from_secs(5))? {
            println!("stopped the {}", agent.name);
        }
    }
    let namespaces = podnet_namespaces(&scope);
    let marks = pod_process::SandboxMarks {
        net_ns: namespaces
            .iter()
            .filter_map(|p| pod_process::ns_identity(p).ok())
            .collect(),
        ..Default::default()
    };
    let stray = pod_process::sandbox_processes(&marks);
    if !stray.is_empty() {
        println!(
            "stopping {} process(es) in the cluster's namespaces",
            stray.len()
        );
        pod_process::terminate_and_wait(&stray, Duration::from_secs(2));
    }
    if controlplane_daemon().stop(Duration::from_secs(10))? {
        println!("stopped the control plane");
    }

    let mut failures = Vec::new();
    for mount in podnet_mounts() {
        match unmount(&mount) {
            Ok(()) => println!("unmounted {}", mount.display()),
            Err(e) => failures.push(format!("unmounting {}: {e}", mount.display())),
        }
    }
    for path in &namespaces {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if scope.member_of_netns(name).is_some() {
            continue; // the lab removes its own
        }
        match NetNs::delete_named(name) {
            Ok(()) => println!("removed network namespace {name}"),
            Err(e) => failures.push(format!("removing network namespace {name}: {e}")),
        }
    }
    match podnet_lab::down(&scope) {
        Ok(report) => {
            for line in report.removed {
                println!("removed {line}");
            }
        }
        Err(e) => failures.push(format!("removing the lab: {e}")),
    }
    // Only what `up` wrote: /var/lib/podnet may also hold podnet-cni's own
    // state from a runtime on this host.
    for path in layout::cluster_files() {
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        match removed {
            Ok(()) => println!("removed {}", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => failures.push(format!("removing {}: {e}", path.display())),
        }
    }
    // Left empty, the roots go too.
    let _ = fs::remove_dir(STATE_ROOT);
    if !failures.is_empty() {
        bail!(
            "podnet down left things behind:\n  {}",
            failures.join("\n  ")
        );
    }
    println!("podnet down: nothing of the cluster is left");
    Ok(())
}

/// Named network namespaces of the lab and of its pods (`podnet-*` in /run/netns).
fn podnet_namespaces(scope: &LabScope) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(podnet_netlink::NETNS_RUN_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            scope.member_of_netns(&name).is_some()
                || name.starts_with(podnet_kubelet::runtime::POD_NETNS_PREFIX)
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Mount points under podnet's runtime root, deepest first.
fn podnet_mounts() -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut mounts: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mount_path)
        .filter(|p| p.starts_with(layout::RUN_ROOT))
        .collect();
    mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    mounts.dedup();
    mounts
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            if let Ok(code) = u8::from_str_radix(&field[i + 1..i + 4], 8) {
                out.push(code);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    let os: std::ffi::OsString = std::os::unix::ffi::OsStringExt::from_vec(out);
    PathBuf::from(os)
}

fn unmount(path: &Path) -> std::io::Result<()> {
    let c = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))?;
    // SAFETY: c is a valid NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

pub fn status() -> Result<()> {
    let scope = LabScope::default();
    let lab = podnet_lab::status(&scope).context("reading the lab")?;
    let Some(options) = read_options() else {
        if lab.is_absent() {
            println!("no cluster: run `podnet up`");
            return Ok(());
        }
        println!("a lab without cluster state is here; `podnet down` removes it");
        return Ok(());
    };
    println!("cluster: {}", describe(&options));
    if let Ok(plan) = lab_plan(options.nodes) {
        let differences = lab.differences(&plan);
        if differences.is_empty() {
            println!("lab: as planned ({} on {})", plan.bridge, plan.host_address);
        } else {
            println!("lab: differs from its plan (`podnet up` repairs it):");
            for d in differences {
                println!("  {d}");
            }
        }
        let cp = controlplane_daemon();
        println!(
            "control plane: {}",
            cp.running()
                .map(|r| format!("running (pid {})", r.pid))
                .unwrap_or_else(|| "not running".into())
        );
        for node in &plan.nodes {
            let agent = agent_daemon(&node.netns);
            println!(
                "agent {}: {}",
                node.netns,
                agent
                    .running()
                    .map(|r| format!("running (pid {})", r.pid))
                    .unwrap_or_else(|| "not running".into())
            );
        }
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async {
        let client = match crate::kube_client(&layout::kubeconfig()).await {
            Ok(c) => c,
            Err(e) => {
                println!("API: {e:#}");
                return Ok::<(), anyhow::Error>(());
            }
        };
        let nodes: Api<Node> = Api::all(client.clone());
        match tokio::time::timeout(Duration::from_secs(5), nodes.list(&ListParams::default())).await
        {
            Ok(Ok(list)) => {
                println!(
                    "{:<16} {:<8} {:<15} {:<16}",
                    "NODE", "READY", "INTERNAL-IP", "POD-CIDR"
                );
                for node in &list.items {
                    let view = node_view(node);
                    println!(
                        "{:<16} {:<8} {:<15} {:<16}",
                        node.metadata.name.as_deref().unwrap_or(""),
                        if view.ready { "True" } else { "False" },
                        view.internal_ip.map(|i| i.to_string()).unwrap_or_default(),
                        view.pod_cidr.unwrap_or_default()
                    );
                }
            }
            Ok(Err(e)) => println!("API: {e}"),
            Err(_) => println!("API: no answer within 5 s"),
        }
        Ok(())
    })?;
    println!("export KUBECONFIG={}", layout::kubeconfig().display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(
            unescape_mount_path("/run/podnet/a\\040b"),
            PathBuf::from("/run/podnet/a b")
        );
        assert_eq!(
            unescape_mount_path("/run/podnet/plain"),
            PathBuf::from("/run/podnet/plain")
        );
        assert_eq!(unescape_mount_path("/x\\"), PathBuf::from("/x\\"));
    }

    #[test]
    fn options_describe_themselves_as_flags() {
        let options = ClusterOptions {
            nodes: 2,
            routing: Routing::Vxlan,
            masquerade: OnOff::Off,
            cni: CniChoice::Podnet,
        };
        assert_eq!(
            describe(&options),
            "--nodes 2 --routing vxlan --masquerade off"
        );
    }
}

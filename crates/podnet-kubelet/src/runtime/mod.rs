//! The runtime layer of the kubelet part: what a CRI runtime (containerd) does
//! for a kubelet, without images, cgroups or a PID namespace.
//!
//! # API
//!
//! ```text
//! RuntimeConfig { node_name, state_dir, run_dir, podnet_binary, cni_conflist, cni_bin_dirs, path_dir }
//!     RuntimeConfig::for_node(node_name, podnet_binary) -> RuntimeConfig   (the standard paths)
//! Runtime::new(config) -> Result<Runtime>                  // cheap to clone, Send + Sync, blocking
//! runtime.create_sandbox(&SandboxSpec) -> Result<Sandbox>  // idempotent per uid; rolls back on error
//! runtime.remove_sandbox(uid) -> Result<()>                // kills leftovers, CNI DEL, netns gone; idempotent
//! runtime.sandbox(uid) -> Result<Option<Sandbox>>
//! runtime.sandboxes() -> Result<Vec<Sandbox>>              // from disk: adoption after a restart
//! runtime.start_container(uid, &ContainerSpec) -> Result<ContainerState>   // Running { pid, started_at }
//! runtime.container_state(uid, name) -> Result<ContainerState>
//! runtime.containers(uid) -> Result<Vec<String>>           // names with a record in the sandbox
//! runtime.stop_container(uid, name, grace) -> Result<()>   // SIGTERM to the group, grace, SIGKILL
//! runtime.exec(uid, argv, timeout) -> Result<ExecOutput>   // in the sandbox, pod default env
//! runtime.exec_in_container(uid, name, argv, timeout) -> Result<ExecOutput>  // + the container's env/workdir
//! runtime.exec_command(uid, container: Option<&str>, argv) -> Result<Command> // for `podnet exec` (inherits stdio)
//! runtime.log_path(uid, container) -> PathBuf              // <name>.log; previous run: previous_log_path
//! runtime.garbage_collect(&live_uids) -> Result<()>        // stale sandboxes, then CNI GC
//! SandboxNamespaces::open(state_dir, run_dir, uid) + enter_on_spawn(&mut Command)
//! helper_main(args) -> i32                                 // `podnet kubelet-internal ...`
//! ```
//!
//! # Design
//!
//! A sandbox is the pod's network namespace `podnet-pod-<10 hex of sha256(uid)>`
//! in /run/netns (none for hostNetwork pods), attached by the node's CNI
//! configuration list, plus a mount and a UTS namespace held by a small
//! "pause" process of the podnet binary (see [`helper`]) in which the pod's
//! hosts, resolv.conf and hostname files are bind-mounted. Containers run
//! under a shim process each; both helpers detach from the agent, so an agent
//! restart finds everything running and adopts it from the records on disk
//! ([`records`]). The sandbox record is written before the first effect and
//! removed after the last undo, so a SIGKILL at any moment leaves something
//! `remove_sandbox` or `garbage_collect` finishes.
//!
//! The CNI container id is the pod uid; CNI_ARGS carry the Kubernetes keys.

pub mod cni;
pub mod error;
pub mod exec;
pub mod helper;
pub mod hosts;
pub mod process;
pub mod records;

use serde_json::Map;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use error::{PluginFailure, Result, RuntimeError};
pub use exec::{ExecOutput, SandboxNamespaces};
pub use helper::{helper_main, HELPER_SUBCOMMAND};
pub use records::{PortMapping, SetupTimings};

use cni::{Attachment, CniInvoker, NetworkConfigList};
use records::{
    read_json, remove_dir_if_exists, remove_file_if_exists, write_atomic, write_json,
    ContainerRecord, ExitRecord, Layout, ProcessRecord, RunRecord, SandboxPhase, SandboxRecord,
};

/// The interface name of the pod's network attachment.
pub const POD_IFNAME: &str = "eth0";

/// Prefix of pod network namespace names in /run/netns.
pub const POD_NETNS_PREFIX: &str = "podnet-pod-";

/// The search path a container gets when it sets no PATH, after the directory
/// holding `podnet`.
pub const DEFAULT_PATH_TAIL: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where and how one node's runtime works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    pub node_name: String,
    /// Durable state: `/var/lib/podnet/nodes/<node>/kubelet`.
    pub state_dir: PathBuf,
    /// Process records (gone after a reboot): `/run/podnet/nodes/<node>`.
    pub run_dir: PathBuf,
    /// The podnet executable the helpers run from, and that `podnet` means in pods.
    pub podnet_binary: PathBuf,
    /// The node's CNI configuration list.
    pub cni_conflist: PathBuf,
    /// CNI_PATH, in order.
    pub cni_bin_dirs: Vec<PathBuf>,
    /// The directory holding the `podnet` symlink, first on pods' PATH.
    pub path_dir: PathBuf,
}

impl RuntimeConfig {
    /// The standard layout of `podnet up` for `node_name`: state under
    /// /var/lib/podnet/nodes/<node>, process records under /run/podnet/nodes/<node>,
    /// CNI plugins next to the podnet binary, then /usr/lib/cni and /opt/cni/bin.
    pub fn for_node(node_name: &str, podnet_binary: PathBuf) -> RuntimeConfig {
        let node_dir = Path::new("/var/lib/podnet/nodes").join(node_name);
        let run_dir = Path::new("/run/podnet/nodes").join(node_name);
        let mut cni_bin_dirs = Vec::new();
        if let Some(dir) = podnet_binary.parent() {
            cni_bin_dirs.push(dir.to_path_buf());
        }
        cni_bin_dirs.push(PathBuf::from("/usr/lib/cni"));
        cni_bin_dirs.push(PathBuf::from("/opt/cni/bin"));
        RuntimeConfig {
            node_name: node_name.to_string(),
            state_dir: node_dir.join("kubelet"),
            cni_conflist: node_dir.join("cni/net.d/10-podnet.conflist"),
            path_dir: run_dir.join("bin"),
            run_dir,
            podnet_binary,
            cni_bin_dirs,
        }
    }
}

/// What the pod needs of its sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxSpec {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    /// spec.hostname, or the pod name (at most 63 characters).
    pub hostname: String,
    /// `<subdomain>.<namespace>.svc.<cluster domain>` when spec.subdomain is set:
    /// the hosts file then maps the pod IP to `<hostname>.<domain>` too.
    pub domain: Option<String>,
    pub host_network: bool,
    /// The pod's /etc/resolv.conf content (per dnsPolicy, built by the caller).
    pub resolv_conf: String,
    /// spec.hostAliases.
    pub extra_hosts: Vec<(IpAddr, Vec<String>)>,
    /// hostPorts, passed to plugins declaring the `portMappings` capability.
    pub port_mappings: Vec<PortMapping>,
}

/// A sandbox as the runtime knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub host_network: bool,
    /// `/run/netns/podnet-pod-...`; `None` for hostNetwork pods.
    pub netns: Option<PathBuf>,
    /// Pod IPs from the CNI result, IPv4 first; empty for hostNetwork pods.
    pub ips: Vec<IpAddr>,
    pub created_at: SystemTime,
    /// Fully created and its namespace holder alive (Kubernetes' SANDBOX_READY).
    pub ready: bool,
}

/// One container to start: the command is already resolved (command + args,
/// with $(VAR) expanded) and env already built from the pod spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
    Running {
        pid: u32,
        started_at: SystemTime,
    },
    Exited {
        /// 128 + signal when killed by a signal.
        exit_code: i32,
        signal: Option<i32>,
        started_at: SystemTime,
        finished_at: SystemTime,
        /// `Completed` (exit 0), `Error`, `StartError` (could not exec), or
        /// `Unknown` (the shim vanished without recording the exit; exit code 255).
        reason: String,
        /// Details for `StartError`.
        message: String,
    },
    /// No such container in the sandbox (or no such sandbox).
    Missing,
}

/// The build times of every Ready sandbox recorded under a node's kubelet
/// state directory (what the benchmark reads, without a running agent).
pub fn sandbox_timings(state_dir: &Path) -> Result<Vec<SetupTimings>> {
    let layout = Layout {
        state_dir: state_dir.to_path_buf(),
        run_dir: PathBuf::new(),
    };
    let dir = layout.sandboxes_dir();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RuntimeError::io(format!("read {}", dir.display()), e)),
    };
    let mut timings = Vec::new();
    for entry in entries.flatten() {
        let uid = entry.file_name().to_string_lossy().to_string();
        if let Some(record) = read_json::<SandboxRecord>(&layout.sandbox_record(&uid))? {
            timings.extend(record.setup);
        }
    }
    Ok(timings)
}

/// The container runtime of one node.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

/// (pod uid, container name).
type ContainerKey = (String, String);

struct Inner {
    config: RuntimeConfig,
    layout: Layout,
    /// Serializes sandbox create/remove/start per pod uid.
    sandbox_locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Held while a container is being started, so its state is never read half-made.
    container_locks: Mutex<HashMap<ContainerKey, Arc<Mutex<()>>>>,
}

/// `podnet-pod-` + the first 10 hex digits of SHA-256(uid).
pub fn pod_netns_name(uid: &str) -> String {
    let digest = Sha256::digest(uid.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{POD_NETNS_PREFIX}{}", &hex[..10])
}

/// Uids become file names and CNI container ids: letters, digits, `-`, `_`, `.`.
fn check_uid(uid: &str) -> Result<()> {
    let ok = !uid.is_empty()
        && uid.len() <= 128
        && uid.as_bytes()[0].is_ascii_alphanumeric()
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(RuntimeError::invalid(
            format!("pod uid {uid:?}"),
            "must be 1-128 letters, digits, '-', '_' or '.', starting with a letter or digit",
        ))
    }
}

/// Container names become file names (Kubernetes already makes them DNS labels).
fn check_container_name(name: &str) -> Result<()> {
    let problems = podnet_model::names::dns1123_label(name);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RuntimeError::invalid(
            format!("container name {name:?}"),
            problems.join("; "),
        ))
    }
}

/// The environment a container process gets: PATH (the podnet directory first)
/// unless the spec sets one, HOSTNAME as containerd sets it, the spec's
/// variables in order (a later duplicate wins, in the first one's place), and
/// HOME=/root when unset, as runc does for root.
pub fn container_env(
    path_dir: &Path,
    hostname: &str,
    spec_env: &[(String, String)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            format!("{}:{DEFAULT_PATH_TAIL}", path_dir.display()),
        ),
        ("HOSTNAME".into(), hostname.into()),
    ];
    for (key, value) in spec_env {
        match env.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.clone(),
            None => env.push((key.clone(), value.clone())),
        }
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        env.push(("HOME".into(), "/root".into()));
    }
    env
}

fn node_hostname() -> Result<String> {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .map_err(|e| RuntimeError::io("read the node's hostname", e))
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Runtime {
    /// Prepares the directories and the `podnet` symlink of `path_dir`. Starts
    /// nothing and touches no sandbox.
    pub fn new(config: RuntimeConfig) -> Result<Runtime> {
        if config.cni_bin_dirs.is_empty() {
            return Err(RuntimeError::invalid("cni_bin_dirs", "empty"));
        }
        for dir in [&config.state_dir, &config.run_dir, &config.path_dir] {
            fs::create_dir_all(dir)
                .map_err(|e| RuntimeError::io(format!("create {}", dir.display()), e))?;
        }
        let link = config.path_dir.join("podnet");
        if fs::read_link(&link).ok().as_deref() != Some(config.podnet_binary.as_path()) {
            let tmp = config
                .path_dir
                .join(format!(".podnet.{}.tmp", std::process::id()));
            let _ = fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&config.podnet_binary, &tmp)
                .and_then(|()| fs::rename(&tmp, &link))
                .map_err(|e| RuntimeError::io(format!("link {}", link.display()), e))?;
        }
        let layout = Layout {
            state_dir: config.state_dir.clone(),
            run_dir: config.run_dir.clone(),
        };
        Ok(Runtime {
            inner: Arc::new(Inner {
                config,
                layout,
                sandbox_locks: Mutex::new(HashMap::new()),
                container_locks: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    fn sandbox_lock(&self, uid: &str) -> Arc<Mutex<()>> {
        let mut locks = self
            .inner
            .sandbox_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        locks.entry(uid.to_string()).or_default().clone()
    }

    fn container_lock(&self, uid: &str, name: &str) -> Arc<Mutex<()>> {
        let mut locks = self
            .inner
            .container_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        locks
            .entry((uid.to_string(), name.to_string()))
            .or_default()
            .clone()
    }

    fn forget_locks(&self, uid: &str) {
        self.inner
            .sandbox_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uid);
        self.inner
            .container_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(u, _), _| u != uid);
    }

    /// The node's CNI configuration list, read now (the agent may rewrite it).
    pub fn load_conflist(&self) -> Result<NetworkConfigList> {
        let path = &self.inner.config.cni_conflist;
        let bytes = fs::read(path)
            .map_err(|e| RuntimeError::io(format!("read CNI config {}", path.display()), e))?;
        cni::parse_conflist(path, &bytes)
    }

    fn cni(&self) -> CniInvoker {
        CniInvoker {
            plugin_dirs: self.inner.config.cni_bin_dirs.clone(),
            cache_dir: self.layout().cni_cache_dir(),
        }
    }

    fn attachment(&self, record: &SandboxRecord) -> Attachment {
        let mut capability_args = Map::new();
        if !record.port_mappings.is_empty() {
            capability_args.insert(
                "portMappings".into(),
                serde_json::to_value(&record.port_mappings).expect("port mappings serialize"),
            );
        }
        Attachment {
            container_id: record.uid.clone(),
            netns: Path::new(podnet_netlink::NETNS_RUN_DIR)
                .join(record.netns_name.as_deref().unwrap_or_default()),
            ifname: POD_IFNAME.into(),
            args: Attachment::kubernetes_args(
                &record.namespace,
                &record.name,
                &record.uid,
                &record.uid,
            ),
            capability_args,
        }
    }

    fn pause_alive(&self, uid: &str) -> Result<Option<ProcessRecord>> {
        let pause: Option<ProcessRecord> = read_json(&self.layout().pause_record(uid))?;
        Ok(pause.filter(|p| process::is_alive(p.process)))
    }

    fn to_sandbox(&self, record: &SandboxRecord) -> Result<Sandbox> {
        let ready = record.phase == SandboxPhase::Ready && self.pause_alive(&record.uid)?.is_some();
        Ok(Sandbox {
            uid: record.uid.clone(),
            namespace: record.namespace.clone(),
            name: record.name.clone(),
            host_network: record.host_network,
            netns: record
                .netns_name
                .as_ref()
                .map(|n| Path::new(podnet_netlink::NETNS_RUN_DIR).join(n)),
            ips: record.ips.clone(),
            created_at: record.created_at,
            ready,
        })
    }

    /// Creates the sandbox of a pod, or returns the existing ready one. A
    /// half-made or dead sandbox of the same uid is removed and made anew.
    /// On failure everything done so far is undone.
    pub fn create_sandbox(&self, spec: &SandboxSpec) -> Result<Sandbox> {
        check_uid(&spec.uid)?;
        let lock = self.sandbox_lock(&spec.uid);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(record) = read_json::<SandboxRecord>(&self.layout().sandbox_record(&spec.uid))?
        {
            let sandbox = self.to_sandbox(&record)?;
            if sandbox.ready {
                return Ok(sandbox);
            }
            self.remove_locked(&spec.uid)?;
        }
        // Read before any effect: a bad config must leave nothing behind.
        let conflist = if spec.host_network {
            None
        } else {
            Some(self.load_conflist()?)
        };
        let mut record = SandboxRecord {
            uid: spec.uid.clone(),
            namespace: spec.namespace.clone(),
            name: spec.name.clone(),
            hostname: spec.hostname.clone(),
            host_network: spec.host_network,
            netns_name: (!spec.host_network).then(|| pod_netns_name(&spec.uid)),
            cni_network: conflist.as_ref().map(|l| l.name.clone()),
            port_mappings: spec.port_mappings.clone(),
            phase: SandboxPhase::Creating,
            ips: Vec::new(),
            created_at: SystemTime::now(),
            setup: None,
        };
        write_json(&self.layout().sandbox_record(&spec.uid), &record)?;
        match self.build_sandbox(spec, &mut record, conflist.as_ref()) {
            Ok(()) => self.to_sandbox(&record),
            Err(err) => match self.remove_locked(&spec.uid) {
                Ok(()) => Err(err),
                Err(undo) => Err(RuntimeError::Multiple(vec![err, undo])),
            },
        }
    }

    fn build_sandbox(
        &self,
        spec: &SandboxSpec,
        record: &mut SandboxRecord,
        conflist: Option<&NetworkConfigList>,
    ) -> Result<()> {
        let layout = self.layout();
        let uid = &spec.uid;
        let started = Instant::now();
        let mut network = Duration::ZERO;
        let hosts = if let (Some(netns_name), Some(list)) = (&record.netns_name, conflist) {
            let netns = match podnet_netlink::NetNs::create_named(netns_name) {
                Err(e) if e.is_exists() => {
                    // Left over from a crash before its record was removed.
                    podnet_netlink::NetNs::delete_named(netns_name).map_err(|source| {
                        RuntimeError::NetNs {
                            name: netns_name.clone(),
                            source,
                        }
                    })?;
                    podnet_netlink::NetNs::create_named(netns_name)
                }
                other => other,
            }
            .map_err(|source| RuntimeError::NetNs {
                name: netns_name.clone(),
                source,
            })?;
            // The runtime, not the CNI plugin, brings up the loopback interface.
            let lo_up = (|| -> podnet_netlink::Result<()> {
                let mut handle = podnet_netlink::Handle::in_netns(&netns)?;
                let lo = handle
                    .link_by_name("lo")?
                    .ok_or_else(|| podnet_netlink::Error::NotFound { what: "lo".into() })?;
                handle.set_up(lo.index)
            })();
            lo_up.map_err(|source| RuntimeError::NetNs {
                name: netns_name.clone(),
                source,
            })?;
            let cni_started = Instant::now();
            let result = self.cni().add(list, &self.attachment(record))?;
            network = cni_started.elapsed();
            record.ips = cni::result_ips(&result, POD_IFNAME);
            hosts::managed_hosts(
                &record.ips,
                &spec.hostname,
                spec.domain.as_deref(),
                &spec.extra_hosts,
            )
        } else {
            let node_hosts = fs::read_to_string("/etc/hosts")
                .map_err(|e| RuntimeError::io("read the node's /etc/hosts", e))?;
            hosts::host_network_hosts(&node_hosts, &spec.extra_hosts)
        };
        write_atomic(&layout.hosts_file(uid), hosts.as_bytes())?;
        write_atomic(&layout.resolv_file(uid), spec.resolv_conf.as_bytes())?;
        write_atomic(
            &layout.hostname_file(uid),
            format!("{}\n", spec.hostname).as_bytes(),
        )?;
        let mut args = vec!["pause".to_string()];
        args.extend(["--state-dir".into(), layout.state_dir.display().to_string()]);
        args.extend(helper::helper_marker(layout, uid));
        helper::run_helper(
            &self.inner.config.podnet_binary,
            &args,
            &format!("namespace holder of pod {uid}"),
        )?;
        record.phase = SandboxPhase::Ready;
        record.setup = Some(SetupTimings {
            namespaces: started.elapsed().saturating_sub(network),
            network,
        });
        write_json(&layout.sandbox_record(uid), record)
    }

    /// Removes a sandbox: kills every process in it, runs CNI DEL, deletes the
    /// network namespace and the state. Unknown uid: success. On failure the
    /// record stays so a retry (or GC) finishes the job.
    pub fn remove_sandbox(&self, uid: &str) -> Result<()> {
        check_uid(uid)?;
        let lock = self.sandbox_lock(uid);
        let result = {
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            self.remove_locked(uid)
        };
        if result.is_ok() {
            self.forget_locks(uid);
        }
        result
    }

    fn remove_locked(&self, uid: &str) -> Result<()> {
        let layout = self.layout();
        let Some(record) = read_json::<SandboxRecord>(&layout.sandbox_record(uid))? else {
            // Records are written before effects and removed after, so no
            // record means nothing to undo; only stray process records may remain.
            return remove_dir_if_exists(&layout.run_sandbox_dir(uid));
        };
        let mut errors = Vec::new();

        // 1. Processes: everything in the pod's network namespace or the
        //    holder's mount namespace, and any helper started for this uid.
        let netns_path = record
            .netns_name
            .as_ref()
            .map(|n| Path::new(podnet_netlink::NETNS_RUN_DIR).join(n));
        let net_ns: Vec<(u64, u64)> = netns_path
            .as_deref()
            .and_then(|p| process::ns_identity(p).ok())
            .into_iter()
            .collect();
        let mut live = Vec::new();
        if let Some(pause) = read_json::<ProcessRecord>(&layout.pause_record(uid)).unwrap_or(None) {
            live.push(pause.process);
        }
        for name in self.containers(uid).unwrap_or_default() {
            if let Some(run) =
                read_json::<RunRecord>(&layout.run_record(uid, &name)).unwrap_or(None)
            {
                live.extend([run.process, run.shim]);
            }
        }
        live.retain(|p| process::is_alive(*p));
        let mnt_ns: Vec<(u64, u64)> = live
            .iter()
            .filter_map(|p| {
                let ns = process::process_ns(p.pid, "mnt").ok()?;
                // Read, then checked again: the pid must not have been reused in between.
                process::is_alive(*p).then_some(ns)
            })
            .collect();
        let marker = helper::helper_marker(layout, uid);
        let marks = process::SandboxMarks {
            // A missing netns leaves its bind-mount point: its identity is then
            // that of the plain file, which no process has.
            net_ns,
            mnt_ns,
            helper_args: Some(&marker),
        };
        let mut pids = process::sandbox_processes(&marks);
        for process in &live {
            if !pids.contains(&process.pid) {
                pids.push(process.pid);
            }
        }
        let left = process::kill_and_wait(&pids, process::KILL_TIMEOUT);
        if !left.is_empty() {
            errors.push(RuntimeError::NotStopped {
                what: format!("processes {left:?} of sandbox {uid}"),
                seconds: process::KILL_TIMEOUT.as_secs(),
            });
        }

        // 2. Network: CNI DEL with the node's current configuration.
        if record.netns_name.is_some() && record.cni_network.is_some() {
            match self.load_conflist() {
                Ok(list) => {
                    if let Err(e) = self.cni().del(&list, &self.attachment(&record)) {
                        errors.push(e);
                    }
                }
                Err(e) => errors.push(e),
            }
        }

        // 3. The network namespace.
        if let Some(name) = &record.netns_name {
            if let Err(source) = podnet_netlink::NetNs::delete_named(name) {
                errors.push(RuntimeError::NetNs {
                    name: name.clone(),
                    source,
                });
            }
        }
        if !errors.is_empty() {
            return RuntimeError::collect(errors);
        }

        // 4. State, the record last.
        remove_dir_if_exists(&layout.run_sandbox_dir(uid))?;
        let dir = layout.sandbox_dir(uid);
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if entry.file_name() != "sandbox.json" {
                    let path = entry.path();
                    if path.is_dir() {
                        remove_dir_if_exists(&path)?;
                    } else {
                        remove_file_if_exists(&path)?;
                    }
                }
            }
        }
        remove_dir_if_exists(&dir)
    }

    /// One sandbox by uid, from disk.
    pub fn sandbox(&self, uid: &str) -> Result<Option<Sandbox>> {
        check_uid(uid)?;
        match read_json::<SandboxRecord>(&self.layout().sandbox_record(uid))? {
            Some(record) => self.to_sandbox(&record).map(Some),
            None => Ok(None),
        }
    }

    /// Every sandbox with a record on disk (ready or not).
    pub fn sandboxes(&self) -> Result<Vec<Sandbox>> {
        let dir = self.layout().sandboxes_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RuntimeError::io(format!("read {}", dir.display()), e)),
        };
        let mut sandboxes = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| RuntimeError::io(format!("read {}", dir.display()), e))?;
            let path = entry.path().join("sandbox.json");
            if let Some(record) = read_json::<SandboxRecord>(&path)? {
                sandboxes.push(self.to_sandbox(&record)?);
            }
        }
        sandboxes.sort_by_key(|s| s.created_at);
        Ok(sandboxes)
    }

    fn sandbox_record(&self, uid: &str) -> Result<SandboxRecord> {
        read_json(&self.layout().sandbox_record(uid))?
            .ok_or_else(|| RuntimeError::SandboxNotFound { uid: uid.into() })
    }

    fn pod_hostname(&self, record: &SandboxRecord) -> Result<String> {
        if record.host_network {
            node_hostname()
        } else {
            Ok(record.hostname.clone())
        }
    }

    /// Starts (or restarts, after it exited) a container in a ready sandbox.
    /// The previous run's log becomes `<name>.previous.log`. A command that
    /// cannot be executed is [`RuntimeError::StartFailed`], and its state then
    /// reads `Exited { reason: "StartError" }`.
    pub fn start_container(&self, uid: &str, spec: &ContainerSpec) -> Result<ContainerState> {
        check_uid(uid)?;
        check_container_name(&spec.name)?;
        if spec.command.is_empty() {
            return Err(RuntimeError::invalid(
                format!("command of container {}", spec.name),
                "empty",
            ));
        }
        let sandbox_lock = self.sandbox_lock(uid);
        let _sandbox_guard = sandbox_lock.lock().unwrap_or_else(|p| p.into_inner());
        let container_lock = self.container_lock(uid, &spec.name);
        let _container_guard = container_lock.lock().unwrap_or_else(|p| p.into_inner());

        let record = self.sandbox_record(uid)?;
        if record.phase != SandboxPhase::Ready || self.pause_alive(uid)?.is_none() {
            return Err(RuntimeError::SandboxNotRunning { uid: uid.into() });
        }
        if let ContainerState::Running { pid, .. } = self.read_state(uid, &spec.name)? {
            return Err(RuntimeError::ContainerRunning {
                uid: uid.into(),
                name: spec.name.clone(),
                pid,
            });
        }
        let layout = self.layout();
        let previous: Option<ContainerRecord> =
            read_json(&layout.container_record(uid, &spec.name))?;
        let run_id = unix_nanos(SystemTime::now()).max(previous.map_or(0, |p| p.run_id + 1));
        let container = ContainerRecord {
            name: spec.name.clone(),
            run_id,
            command: spec.command.clone(),
            env: container_env(
                &self.inner.config.path_dir,
                &self.pod_hostname(&record)?,
                &spec.env,
            ),
            working_dir: spec.working_dir.clone(),
        };
        helper::rotate_log(layout, uid, &spec.name)?;
        write_json(&layout.container_record(uid, &spec.name), &container)?;
        remove_file_if_exists(&layout.exit_record(uid, &spec.name))?;
        let mut args = vec!["shim".to_string()];
        args.extend(["--state-dir".into(), layout.state_dir.display().to_string()]);
        args.extend(helper::helper_marker(layout, uid));
        args.extend(["--name".into(), spec.name.clone()]);
        let started = helper::run_helper(
            &self.inner.config.podnet_binary,
            &args,
            &format!("shim of container {} of pod {uid}", spec.name),
        );
        match started {
            Ok(_) => self.read_state(uid, &spec.name),
            Err(RuntimeError::Helper { reason, .. })
                if read_json::<ExitRecord>(&layout.exit_record(uid, &spec.name))?
                    .is_some_and(|e| e.run_id == run_id) =>
            {
                Err(RuntimeError::StartFailed {
                    uid: uid.into(),
                    name: spec.name.clone(),
                    reason,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The state of a container's last run.
    pub fn container_state(&self, uid: &str, name: &str) -> Result<ContainerState> {
        check_uid(uid)?;
        check_container_name(name)?;
        let lock = self.container_lock(uid, name);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        self.read_state(uid, name)
    }

    fn read_state(&self, uid: &str, name: &str) -> Result<ContainerState> {
        let layout = self.layout();
        let Some(container) = read_json::<ContainerRecord>(&layout.container_record(uid, name))?
        else {
            return Ok(ContainerState::Missing);
        };
        let exited = |exit: ExitRecord| ContainerState::Exited {
            exit_code: exit.exit_code,
            signal: exit.signal,
            started_at: exit.started_at,
            finished_at: exit.finished_at,
            reason: exit.reason,
            message: exit.message,
        };
        let read_exit = || -> Result<Option<ExitRecord>> {
            Ok(read_json::<ExitRecord>(&layout.exit_record(uid, name))?
                .filter(|e| e.run_id == container.run_id))
        };
        if let Some(exit) = read_exit()? {
            return Ok(exited(exit));
        }
        let run = read_json::<RunRecord>(&layout.run_record(uid, name))?
            .filter(|r| r.run_id == container.run_id);
        let Some(run) = run else {
            // Neither started nor failed: the shim died before recording anything.
            return Ok(ContainerState::Exited {
                exit_code: 255,
                signal: None,
                started_at: UNIX_EPOCH + Duration::from_nanos(container.run_id),
                finished_at: UNIX_EPOCH + Duration::from_nanos(container.run_id),
                reason: "Unknown".into(),
                message: "the container's shim exited before recording the process".into(),
            });
        };
        // The shim outlives its container by the moment it takes to write the exit.
        if process::is_alive(run.process) || process::is_alive(run.shim) {
            return Ok(ContainerState::Running {
                pid: run.process.pid,
                started_at: run.started_at,
            });
        }
        if let Some(exit) = read_exit()? {
            return Ok(exited(exit));
        }
        Ok(ContainerState::Exited {
            exit_code: 255,
            signal: None,
            started_at: run.started_at,
            finished_at: SystemTime::now(),
            reason: "Unknown".into(),
            message: "the container's shim exited without recording the exit".into(),
        })
    }

    /// Names of the containers with a record in the sandbox.
    pub fn containers(&self, uid: &str) -> Result<Vec<String>> {
        check_uid(uid)?;
        let dir = self.layout().sandbox_dir(uid).join("containers");
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RuntimeError::io(format!("read {}", dir.display()), e)),
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let file = e.file_name().to_string_lossy().into_owned();
                let name = file.strip_suffix(".json")?;
                (!name.ends_with(".exit") && !name.starts_with('.')).then(|| name.to_string())
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// SIGTERM to the container's process group, up to `grace` for it to exit,
    /// then SIGKILL to the group. A container that is not running: success.
    pub fn stop_container(&self, uid: &str, name: &str, grace: Duration) -> Result<()> {
        check_uid(uid)?;
        check_container_name(name)?;
        let run = read_json::<RunRecord>(&self.layout().run_record(uid, name))?;
        let ContainerState::Running { pid, .. } = self.container_state(uid, name)? else {
            return Ok(());
        };
        let pgid = pid;
        let still_running = |deadline: Instant| -> Result<bool> {
            loop {
                match self.container_state(uid, name)? {
                    ContainerState::Running { pid: now, .. } if now == pid => {}
                    _ => return Ok(false),
                }
                if Instant::now() >= deadline {
                    return Ok(true);
                }
                thread::sleep(Duration::from_millis(5));
            }
        };
        let leader_alive = run.is_some_and(|r| process::is_alive(r.process));
        if leader_alive && !grace.is_zero() {
            process::signal_group(pgid, libc::SIGTERM)
                .map_err(|e| RuntimeError::io(format!("SIGTERM process group {pgid}"), e))?;
            if !still_running(Instant::now() + grace)? {
                // Whatever the leader left behind in its group goes too.
                let _ = process::signal_group(pgid, libc::SIGKILL);
                return Ok(());
            }
        }
        process::signal_group(pgid, libc::SIGKILL)
            .map_err(|e| RuntimeError::io(format!("SIGKILL process group {pgid}"), e))?;
        if still_running(Instant::now() + process::KILL_TIMEOUT)? {
            return Err(RuntimeError::NotStopped {
                what: format!("container {name} of pod {uid} (pid {pid})"),
                seconds: process::KILL_TIMEOUT.as_secs(),
            });
        }
        Ok(())
    }

    /// A command that runs `argv` in the sandbox's namespaces with the pod's
    /// default environment, or with a container's environment and working
    /// directory; stdio is left to the caller (`podnet exec` inherits it).
    pub fn exec_command(
        &self,
        uid: &str,
        container: Option<&str>,
        argv: &[String],
    ) -> Result<Command> {
        check_uid(uid)?;
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| RuntimeError::invalid("exec command", "empty"))?;
        let record = self.sandbox_record(uid)?;
        let (env, working_dir) = match container {
            Some(name) => {
                check_container_name(name)?;
                let c: ContainerRecord = read_json(&self.layout().container_record(uid, name))?
                    .ok_or_else(|| RuntimeError::ContainerNotFound {
                        uid: uid.into(),
                        name: name.into(),
                    })?;
                (c.env, c.working_dir)
            }
            None => (
                container_env(
                    &self.inner.config.path_dir,
                    &self.pod_hostname(&record)?,
                    &[],
                ),
                None,
            ),
        };
        let namespaces = SandboxNamespaces::open(
            self.inner.config.state_dir.clone(),
            self.inner.config.run_dir.clone(),
            uid,
        )?;
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(env)
            .current_dir(working_dir.unwrap_or_else(|| PathBuf::from("/")));
        namespaces.enter_on_spawn(&mut command);
        Ok(command)
    }

    /// Runs `argv` in the sandbox with the pod's default environment and
    /// captures its output; killed (with its process group) after `timeout`.
    pub fn exec(&self, uid: &str, argv: &[String], timeout: Duration) -> Result<ExecOutput> {
        let command = self.exec_command(uid, None, argv)?;
        exec::run_captured(command, timeout, &format!("{argv:?} in pod {uid}"))
    }

    /// Like [`Runtime::exec`], with a container's environment and working
    /// directory, as an exec probe of that container runs.
    pub fn exec_in_container(
        &self,
        uid: &str,
        name: &str,
        argv: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput> {
        let command = self.exec_command(uid, Some(name), argv)?;
        exec::run_captured(
            command,
            timeout,
            &format!("{argv:?} in container {name} of pod {uid}"),
        )
    }

    /// The container's current log (stdout and stderr, appended as written).
    pub fn log_path(&self, uid: &str, container: &str) -> PathBuf {
        self.layout().log_file(uid, container)
    }

    /// The log of the container's previous run (`kubectl logs --previous`).
    pub fn previous_log_path(&self, uid: &str, container: &str) -> PathBuf {
        self.layout().previous_log_file(uid, container)
    }

    /// Removes every sandbox whose uid is not live, then lets the CNI plugins
    /// collect attachments that belong to no remaining sandbox (libcni's GC:
    /// cached attachments get a DEL, and 1.1.0 plugins a GC with
    /// `cni.dev/valid-attachments`). Without a conflist there is no network to
    /// collect in, and only sandboxes are removed. All failures are reported.
    pub fn garbage_collect(&self, live_uids: &HashSet<String>) -> Result<()> {
        let mut errors = Vec::new();
        let mut remaining = Vec::new();
        for sandbox in self.sandboxes()? {
            if live_uids.contains(&sandbox.uid) {
                remaining.push(sandbox);
            } else if let Err(e) = self.remove_sandbox(&sandbox.uid) {
                errors.push(e);
            }
        }
        if self.inner.config.cni_conflist.exists() {
            match self.load_conflist() {
                Ok(list) => {
                    let mut valid = Vec::new();
                    for sandbox in &remaining {
                        let record = self.sandbox_record(&sandbox.uid)?;
                        if record.cni_network.as_deref() == Some(list.name.as_str()) {
                            valid.push((sandbox.uid.clone(), POD_IFNAME.to_string()));
                        }
                    }
                    if let Err(e) = self.cni().gc(&list, &valid) {
                        errors.push(e);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        RuntimeError::collect(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_names_are_stable_and_short() {
        let name = pod_netns_name("7f6b3c1e-0d6a-4a57-9f55-3c7d1c0e2b11");
        assert!(name.starts_with("podnet-pod-"));
        assert_eq!(name.len(), "podnet-pod-".len() + 10);
        assert!(name["podnet-pod-".len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(name, pod_netns_name("7f6b3c1e-0d6a-4a57-9f55-3c7d1c0e2b11"));
        assert_ne!(name, pod_netns_name("another"));
        // SHA-256("abc") starts with ba7816bf8f.
        assert_eq!(pod_netns_name("abc"), "podnet-pod-ba7816bf8f");
    }

    #[test]
    fn uids_and_container_names_are_checked() {
        assert!(check_uid("7f6b3c1e-0d6a-4a57-9f55-3c7d1c0e2b11").is_ok());
        for bad in ["", "../x", "a/b", "-a", "a b"] {
            assert!(check_uid(bad).is_err(), "{bad:?}");
        }
        assert!(check_container_name("web-1").is_ok());
        for bad in ["", "Web", "a.b", "a/b"] {
            assert!(check_container_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn env_puts_podnet_first_on_path_and_spec_values_win() {
        let env = container_env(
            Path::new("/run/podnet/nodes/n1/bin"),
            "web-0",
            &[
                ("A".into(), "1".into()),
                ("HOSTNAME".into(), "custom".into()),
                ("A".into(), "2".into()),
            ],
        );
        assert_eq!(
            env,
            vec![
                (
                    "PATH".to_string(),
                    format!("/run/podnet/nodes/n1/bin:{DEFAULT_PATH_TAIL}")
                ),
                ("HOSTNAME".into(), "custom".into()),
                ("A".into(), "2".into()),
                ("HOME".into(), "/root".into()),
            ]
        );
        let env = container_env(
            Path::new("/bin-dir"),
            "h",
            &[
                ("PATH".into(), "/only".into()),
                ("HOME".into(), "/home/x".into()),
            ],
        );
        assert_eq!(env[0], ("PATH".into(), "/only".into()));
        assert_eq!(env.iter().filter(|(k, _)| k == "HOME").count(), 1);
        assert!(env.contains(&("HOME".into(), "/home/x".into())));
    }

    #[test]
    fn standard_config_for_a_node() {
        let config = RuntimeConfig::for_node("podnet-node-1", PathBuf::from("/usr/bin/podnet"));
        assert_eq!(
            config.state_dir,
            PathBuf::from("/var/lib/podnet/nodes/podnet-node-1/kubelet")
        );
        assert_eq!(
            config.cni_conflist,
            PathBuf::from("/var/lib/podnet/nodes/podnet-node-1/cni/net.d/10-podnet.conflist")
        );
        assert_eq!(
            config.run_dir,
            PathBuf::from("/run/podnet/nodes/podnet-node-1")
        );
        assert_eq!(
            config.cni_bin_dirs,
            vec![
                PathBuf::from("/usr/bin"),
                PathBuf::from("/usr/lib/cni"),
                PathBuf::from("/opt/cni/bin")
            ]
        );
        assert!(config.path_dir.starts_with(&config.run_dir));
    }
}

//! Harness shared by the podnet-cni integration tests (`mod support;`).
//!
//! Every plugin invocation runs inside a throwaway "node" network namespace that the
//! test created, never in the host namespace: bridges, veths and firewall rules (the
//! reference `bridge` with `ipMasq` writes iptables rules) land only in namespaces that
//! are deleted afterwards. Pod namespaces are named namespaces whose path
//! `/run/netns/NAME` is passed as `CNI_NETNS`. Every name starts with `pct-<pid>-`, and
//! every guard removes what it made on drop, so a panicking test still cleans up.
//!
//! - [`NodeNs`], [`PodNs`]: namespace guards.
//! - [`Plugin::run`]: one plugin process with exactly the CNI environment.
//! - [`Conflist`]: a chain of plugins run the way libcni (containerd) runs it.
//! - [`in_ns`]: any command inside a namespace, through `ip netns exec`.
//! - [`root_or_skip`] / [`skip`]: tests that need root print why they did nothing.

// Each test file includes this module and uses a different part of it.
#![allow(dead_code)]

use serde_json::{json, Map, Value};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::symlink;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Directory of Debian's reference plugins (containernetworking-plugins).
pub const REFERENCE_PLUGIN_DIR: &str = "/usr/lib/cni";

/// Longest a single plugin or helper command may run before the test gives up on it,
/// so that a hung plugin fails the test instead of hanging the whole run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

static NEXT_NAME: AtomicU32 = AtomicU32::new(0);

/// A name unique to this test process: `pct-<pid>-<kind><n>`.
pub fn unique_name(kind: &str) -> String {
    let n = NEXT_NAME.fetch_add(1, Ordering::Relaxed);
    format!("pct-{}-{kind}{n}", std::process::id())
}

/// Whether the tests run with the privileges namespaces and plugins need.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Says on the real stderr why a test did nothing. Written around the test harness's
/// output capture on purpose: a skipped test must be visible in a normal run.
pub fn skip(reason: &str) {
    let test = thread::current().name().unwrap_or("test").to_string();
    let _ = writeln!(io::stderr(), "{test}: skipped: {reason}");
}

/// True when running as root; otherwise prints `skipped: needs root` and returns false,
/// for `if !support::root_or_skip() { return; }`.
pub fn root_or_skip() -> bool {
    if is_root() {
        true
    } else {
        skip("needs root");
        false
    }
}

/// What a finished command left behind.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; 128 + signal number when the process was killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// `stdout` parsed as JSON, when it is JSON (CNI results and errors are).
    pub json: Option<Value>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// The JSON result of a command that must have succeeded; panics with everything the
    /// command printed otherwise.
    pub fn expect_json(&self, what: &str) -> &Value {
        if !self.success() {
            panic!("{what} failed: {self}");
        }
        match &self.json {
            Some(value) => value,
            None => panic!("{what} printed no JSON: {self}"),
        }
    }

    /// Panics with everything the command printed unless it exited 0.
    pub fn expect_success(&self, what: &str) -> &Self {
        if !self.success() {
            panic!("{what} failed: {self}");
        }
        self
    }

    /// The CNI error code of a failed plugin call (`{"code": N, ...}` on stdout).
    pub fn cni_error_code(&self) -> Option<u64> {
        self.json.as_ref()?.get("code")?.as_u64()
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {}; stdout: {:?}; stderr: {:?}",
            self.code,
            self.stdout.trim(),
            self.stderr.trim()
        )
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => -1,
    }
}

/// Spawns `command` with its stdio piped, feeds it `stdin`, and collects its output,
/// killing it after `timeout`.
pub fn run_bounded(command: Command, stdin: &str, timeout: Duration) -> io::Result<Output> {
    run_bounded_in(command, None, stdin, timeout)
}

/// Like [`run_bounded`], the child first entering the network namespace at `netns`.
pub fn run_bounded_in(
    mut command: Command,
    netns: Option<&Path>,
    stdin: &str,
    timeout: Duration,
) -> io::Result<Output> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match netns {
        Some(path) => spawn_in_netns(&mut command, path)?,
        None => command.spawn()?,
    };
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    // Readers on their own threads: a child that fills a pipe must not block waiting.
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        out.read_to_end(&mut buf).map(|_| buf)
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        err.read_to_end(&mut buf).map(|_| buf)
    });
    {
        let mut input = child.stdin.take().expect("stdin is piped");
        // A plugin may exit without reading stdin (VERSION does); that is not an error.
        match input.write_all(stdin.as_bytes()) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
            _ => {}
        }
    }
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{command:?} still running after {timeout:?}; killed"),
            ));
        }
        thread::sleep(Duration::from_millis(2));
    };
    let stdout = out_reader.join().expect("stdout reader thread")?;
    let stderr = err_reader.join().expect("stderr reader thread")?;
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let json = serde_json::from_str(&stdout).ok();
    Ok(Output {
        code: exit_code(status),
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        json,
    })
}

/// Spawns `command` inside the network namespace at `netns_path`. The child calls
/// setns() between fork and exec, so nothing else in the test process changes
/// namespace, and unlike `ip netns exec` the child keeps the host's /sys mounts (runc
/// needs the cgroup mounts there).
pub fn spawn_in_netns(command: &mut Command, netns_path: &Path) -> io::Result<Child> {
    let netns = File::open(netns_path)?;
    let fd = netns.as_raw_fd();
    // SAFETY: the closure only makes the async-signal-safe setns() syscall on a
    // descriptor that stays open until spawn() returns.
    unsafe {
        command.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn();
    drop(netns);
    child
}

/// Runs `argv` inside the named namespace `ns` with `ip netns exec`.
pub fn in_ns(ns: &str, argv: &[&str]) -> Output {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", ns]).args(argv);
    run_bounded(command, "", COMMAND_TIMEOUT)
        .unwrap_or_else(|e| panic!("ip netns exec {ns} {argv:?}: {e}"))
}

/// Runs a host command (namespace set-up and the like), panicking unless it succeeds.
pub fn run_ok(argv: &[&str]) -> Output {
    let mut command = Command::new(argv[0]);
    command.args(&argv[1..]);
    let output =
        run_bounded(command, "", COMMAND_TIMEOUT).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    if !output.success() {
        panic!("{argv:?} failed: {output}");
    }
    output
}

/// A named network namespace, deleted on drop.
struct NamedNetns {
    name: String,
}

impl NamedNetns {
    fn create(kind: &str) -> NamedNetns {
        let name = unique_name(kind);
        run_ok(&["ip", "netns", "add", &name]);
        // The guard exists as soon as the namespace does, so a failure below still
        // deletes it.
        let netns = NamedNetns { name };
        run_ok(&["ip", "-n", &netns.name, "link", "set", "lo", "up"]);
        netns
    }

    fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let result = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        match result {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "cleanup: ip netns del {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("cleanup: ip netns del {}: {e}", self.name),
        }
    }
}

/// The namespace standing for a node: plugins run here, so the bridge, the host ends of
/// the veths and the firewall rules live here. Loopback up, IPv4 forwarding on.
pub struct NodeNs {
    netns: NamedNetns,
}

impl NodeNs {
    pub fn new() -> NodeNs {
        let netns = NamedNetns::create("node");
        let node = NodeNs { netns };
        node.enable_forwarding();
        node
    }

    pub fn name(&self) -> &str {
        &self.netns.name
    }

    pub fn path(&self) -> PathBuf {
        self.netns.path()
    }

    fn enable_forwarding(&self) {
        let path = self.path();
        // /proc/sys/net belongs to the namespace of the thread that opens it, so a
        // short-lived thread joins the node and writes there.
        let written = thread::spawn(move || -> io::Result<()> {
            let netns = File::open(&path)?;
            // SAFETY: setns on a valid namespace descriptor; it changes only this
            // thread, which ends right after.
            if unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
        })
        .join()
        .expect("forwarding thread");
        if let Err(e) = written {
            panic!("enabling ip_forward in {}: {e}", self.name());
        }
    }
}

/// A pod's network namespace (loopback up); its [`PodNs::path`] is the `CNI_NETNS`.
pub struct PodNs {
    netns: NamedNetns,
}

impl PodNs {
    pub fn new() -> PodNs {
        PodNs {
            netns: NamedNetns::create("pod"),
        }
    }

    pub fn name(&self) -> &str {
        &self.netns.name
    }

    pub fn path(&self) -> PathBuf {
        self.netns.path()
    }

    pub fn path_str(&self) -> String {
        self.path().display().to_string()
    }
}

/// A child process killed (and reaped) on drop: servers a test starts in a namespace.
pub struct ChildGuard {
    pub child: Child,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `CNI_PATH` the tests hand to plugins: a private directory holding a `podnet-cni`
/// link to the binary under test, then the reference plugins.
pub struct CniPath {
    bin_dir: tempfile::TempDir,
    dirs: Vec<PathBuf>,
}

impl CniPath {
    pub fn new() -> Arc<CniPath> {
        let bin_dir = tempfile::Builder::new()
            .prefix(&format!("pct-{}-cnibin", std::process::id()))
            .tempdir()
            .expect("creating the CNI bin dir");
        let link = bin_dir.path().join("podnet-cni");
        symlink(podnet_cni_binary(), &link)
            .unwrap_or_else(|e| panic!("linking {}: {e}", link.display()));
        let dirs = vec![bin_dir.path().to_path_buf(), REFERENCE_PLUGIN_DIR.into()];
        Arc::new(CniPath { bin_dir, dirs })
    }

    /// The value of `CNI_PATH`.
    pub fn env_value(&self) -> String {
        let dirs: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        dirs.join(":")
    }

    /// The binary a runtime would execute for `"type": plugin_type`.
    pub fn find(&self, plugin_type: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .map(|dir| dir.join(plugin_type))
            .find(|candidate| candidate.is_file())
    }
}

/// The podnet-cni binary Cargo built for these tests.
pub fn podnet_cni_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_podnet-cni"))
}

/// One CNI plugin binary and the `CNI_PATH` it runs with.
#[derive(Clone)]
pub struct Plugin {
    pub path: PathBuf,
    cni_path: Arc<CniPath>,
}

impl Plugin {
    /// The podnet-cni binary under test.
    pub fn podnet() -> Plugin {
        Plugin::by_type("podnet-cni")
    }

    /// A reference plugin such as `bridge`, `host-local` or `portmap`.
    pub fn reference(name: &str) -> Plugin {
        let cni_path = CniPath::new();
        let path = Path::new(REFERENCE_PLUGIN_DIR).join(name);
        assert!(
            path.is_file(),
            "reference plugin {} is missing",
            path.display()
        );
        Plugin { path, cni_path }
    }

    /// Whatever binary `CNI_PATH` resolves `plugin_type` to.
    pub fn by_type(plugin_type: &str) -> Plugin {
        let cni_path = CniPath::new();
        let path = cni_path.find(plugin_type).unwrap_or_else(|| {
            panic!(
                "no plugin {plugin_type:?} in CNI_PATH {}",
                cni_path.env_value()
            )
        });
        Plugin { path, cni_path }
    }

    /// Runs the plugin inside `node` with `CNI_COMMAND=cmd`, `CNI_PATH` set, and the
    /// other CNI variables (`CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`, `CNI_ARGS`)
    /// taken from `env`. No other CNI variable leaks in from the test's environment.
    pub fn run(&self, node: &NodeNs, cmd: &str, env: &[(&str, &str)], stdin: &str) -> Output {
        self.try_run(&node.path(), cmd, env, stdin)
            .unwrap_or_else(|e| panic!("running {} {cmd}: {e}", self.path.display()))
    }

    fn try_run(
        &self,
        netns: &Path,
        cmd: &str,
        env: &[(&str, &str)],
        stdin: &str,
    ) -> io::Result<Output> {
        let mut command = Command::new(&self.path);
        // PATH stays: plugins execute iptables, nft and the like, as they do under a
        // real runtime, which also passes its own environment through.
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CNI_COMMAND", cmd)
            .env("CNI_PATH", self.cni_path.env_value());
        for (key, value) in env {
            command.env(key, value);
        }
        run_bounded_in(command, Some(netns), stdin, COMMAND_TIMEOUT)
    }
}

/// Why a conflist operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The conflist itself is malformed.
    #[error("invalid conflist: {reason}")]
    InvalidConflist { reason: String },
    /// No binary for a plugin type in `CNI_PATH`.
    #[error("plugin {plugin_type:?} not found in CNI_PATH {cni_path}")]
    PluginNotFound {
        plugin_type: String,
        cni_path: String,
    },
    /// The plugin process could not be run at all.
    #[error("running plugin {plugin_type:?} for {command}: {source}")]
    Spawn {
        plugin_type: String,
        command: String,
        source: io::Error,
    },
    /// The plugin exited non-zero; its CNI error is in `output.json`.
    #[error("plugin {plugin_type:?} failed {command}: {output}")]
    PluginFailed {
        plugin_type: String,
        command: String,
        output: Box<Output>,
    },
    /// An ADD succeeded but printed no JSON result.
    #[error("plugin {plugin_type:?} printed no result for {command}: {output}")]
    InvalidResult {
        plugin_type: String,
        command: String,
        output: Box<Output>,
    },
}

impl ChainError {
    /// The CNI error code, when a plugin reported one.
    pub fn cni_error_code(&self) -> Option<u64> {
        match self {
            ChainError::PluginFailed { output, .. } => output.cni_error_code(),
            _ => None,
        }
    }
}

/// One attachment of a container to a network: what a runtime passes besides the
/// network configuration.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub container_id: String,
    /// `CNI_NETNS`; `None` for a DEL after the namespace is gone.
    pub netns: Option<PathBuf>,
    pub ifname: String,
    /// `CNI_ARGS`, `K=V;K2=V2`.
    pub args: Option<String>,
    /// Capability arguments (`portMappings`, `ipRanges`, ...), handed as
    /// `runtimeConfig` only to plugins that declare the capability.
    pub capability_args: Map<String, Value>,
}

impl Attachment {
    pub fn new(container_id: &str, netns: &Path) -> Attachment {
        Attachment {
            container_id: container_id.to_string(),
            netns: Some(netns.to_path_buf()),
            ifname: "eth0".to_string(),
            args: None,
            capability_args: Map::new(),
        }
    }

    pub fn with_capability(mut self, name: &str, value: Value) -> Attachment {
        self.capability_args.insert(name.to_string(), value);
        self
    }

    pub fn without_netns(mut self) -> Attachment {
        self.netns = None;
        self
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("CNI_CONTAINERID", self.container_id.clone()),
            ("CNI_IFNAME", self.ifname.clone()),
        ];
        if let Some(netns) = &self.netns {
            env.push(("CNI_NETNS", netns.display().to_string()));
        }
        if let Some(args) = &self.args {
            env.push(("CNI_ARGS", args.clone()));
        }
        env
    }
}

/// A network configuration list run as libcni runs it: ADD through the plugins in
/// order, each getting the previous plugin's result as `prevResult`; DEL in reverse
/// order and CHECK in order (as libcni does), each plugin getting the final ADD result.
/// Every plugin gets the list's `name` and `cniVersion`, and a `runtimeConfig` holding
/// only the capabilities it declares in `capabilities`.
pub struct Conflist {
    doc: Value,
    cni_path: Arc<CniPath>,
}

impl Conflist {
    pub fn new(doc: Value) -> Conflist {
        Conflist {
            doc,
            cni_path: CniPath::new(),
        }
    }

    pub fn doc(&self) -> &Value {
        &self.doc
    }

    pub fn name(&self) -> Option<&str> {
        self.doc["name"].as_str()
    }

    pub fn cni_path(&self) -> &CniPath {
        &self.cni_path
    }

    fn plugins(&self) -> Result<&Vec<Value>, ChainError> {
        let invalid = |reason: &str| ChainError::InvalidConflist {
            reason: reason.to_string(),
        };
        if !self.doc["name"].is_string() {
            return Err(invalid("`name` is not a string"));
        }
        if !self.doc["cniVersion"].is_string() {
            return Err(invalid("`cniVersion` is not a string"));
        }
        match self.doc["plugins"].as_array() {
            Some(plugins) if !plugins.is_empty() => Ok(plugins),
            _ => Err(invalid("`plugins` is not a non-empty list")),
        }
    }

    /// The stdin of plugin `plugin`: its own configuration plus what the runtime injects.
    pub fn plugin_stdin(
        &self,
        plugin: &Value,
        attachment: &Attachment,
        prev_result: Option<&Value>,
    ) -> Value {
        let mut conf = plugin.as_object().cloned().unwrap_or_default();
        conf.insert("name".into(), self.doc["name"].clone());
        conf.insert("cniVersion".into(), self.doc["cniVersion"].clone());
        let mut runtime_config = Map::new();
        if let Some(capabilities) = plugin["capabilities"].as_object() {
            for (capability, enabled) in capabilities {
                if enabled.as_bool() != Some(true) {
                    continue;
                }
                if let Some(value) = attachment.capability_args.get(capability) {
                    runtime_config.insert(capability.clone(), value.clone());
                }
            }
        }
        if !runtime_config.is_empty() {
            conf.insert("runtimeConfig".into(), Value::Object(runtime_config));
        }
        if let Some(prev) = prev_result {
            conf.insert("prevResult".into(), prev.clone());
        }
        Value::Object(conf)
    }

    fn invoke(
        &self,
        node: &NodeNs,
        command: &str,
        plugin: &Value,
        attachment: &Attachment,
        prev_result: Option<&Value>,
    ) -> Result<Output, ChainError> {
        let plugin_type = plugin["type"].as_str().unwrap_or_default().to_string();
        if plugin_type.is_empty() {
            return Err(ChainError::InvalidConflist {
                reason: format!("a plugin has no `type`: {plugin}"),
            });
        }
        let path = self
            .cni_path
            .find(&plugin_type)
            .ok_or_else(|| ChainError::PluginNotFound {
                plugin_type: plugin_type.clone(),
                cni_path: self.cni_path.env_value(),
            })?;
        let binary = Plugin {
            path,
            cni_path: Arc::clone(&self.cni_path),
        };
        let stdin = self
            .plugin_stdin(plugin, attachment, prev_result)
            .to_string();
        let env = attachment.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let output = binary
            .try_run(&node.path(), command, &env, &stdin)
            .map_err(|source| ChainError::Spawn {
                plugin_type: plugin_type.clone(),
                command: command.to_string(),
                source,
            })?;
        if !output.success() {
            return Err(ChainError::PluginFailed {
                plugin_type,
                command: command.to_string(),
                output: Box::new(output),
            });
        }
        Ok(output)
    }

    /// ADD through the chain; the last plugin's result is the attachment's result.
    pub fn add(&self, node: &NodeNs, attachment: &Attachment) -> Result<Value, ChainError> {
        let mut prev: Option<Value> = None;
        for plugin in self.plugins()? {
            let output = self.invoke(node, "ADD", plugin, attachment, prev.as_ref())?;
            match output.json {
                Some(result) => prev = Some(result),
                None => {
                    return Err(ChainError::InvalidResult {
                        plugin_type: plugin["type"].as_str().unwrap_or_default().to_string(),
                        command: "ADD".to_string(),
                        output: Box::new(output),
                    })
                }
            }
        }
        Ok(prev.expect("a non-empty chain produced a result"))
    }

    /// DEL through the chain in reverse, with the ADD result (if the runtime has one).
    pub fn del(
        &self,
        node: &NodeNs,
        attachment: &Attachment,
        result: Option<&Value>,
    ) -> Result<(), ChainError> {
        for plugin in self.plugins()?.iter().rev() {
            self.invoke(node, "DEL", plugin, attachment, result)?;
        }
        Ok(())
    }

    /// CHECK through the chain, each plugin verifying against the ADD result.
    pub fn check(
        &self,
        node: &NodeNs,
        attachment: &Attachment,
        result: &Value,
    ) -> Result<(), ChainError> {
        for plugin in self.plugins()? {
            self.invoke(node, "CHECK", plugin, attachment, Some(result))?;
        }
        Ok(())
    }
}

/// The first address of a CNI result (`ips[0].address` without the prefix length).
pub fn result_ip(result: &Value) -> Option<String> {
    let address = result["ips"].get(0)?["address"].as_str()?;
    Some(address.split('/').next()?.to_string())
}

/// Whether `text` mentions the address `ip` as a whole (10.1.0.2 is not in 10.1.0.23,
/// but is in `10.1.0.2:8080`).
pub fn mentions_ip(text: &str, ip: &str) -> bool {
    let v6 = ip.contains(':');
    let continues_address = |c: Option<char>| match c {
        Some(c) if v6 => c.is_ascii_hexdigit() || c == ':',
        Some(c) => c.is_ascii_digit() || c == '.',
        None => false,
    };
    text.match_indices(ip).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + ip.len()..].chars().next();
        !continues_address(before) && !continues_address(after)
    })
}

#[cfg(test)]
mod harness_tests {
    use super::*;

    fn two_plugin_list() -> Conflist {
        Conflist::new(json!({
            "cniVersion": "1.0.0",
            "name": "net1",
            "plugins": [
                { "type": "podnet-cni", "bridge": "br9" },
                { "type": "portmap", "capabilities": { "portMappings": true, "bandwidth": false } }
            ]
        }))
    }

    #[test]
    fn each_plugin_gets_the_list_name_and_version_and_only_its_declared_capabilities() {
        let list = two_plugin_list();
        let attachment = Attachment::new("c1", Path::new("/run/netns/x"))
            .with_capability(
                "portMappings",
                json!([{ "hostPort": 80, "containerPort": 8080 }]),
            )
            .with_capability("bandwidth", json!({ "ingressRate": 1 }));
        let plugins = list.plugins().expect("valid list");

        let first = list.plugin_stdin(&plugins[0], &attachment, None);
        assert_eq!(first["name"], "net1");
        assert_eq!(first["cniVersion"], "1.0.0");
        assert_eq!(first["bridge"], "br9");
        assert!(first.get("runtimeConfig").is_none(), "{first}");
        assert!(first.get("prevResult").is_none(), "{first}");

        let prev = json!({ "cniVersion": "1.0.0", "ips": [{ "address": "10.1.0.2/24" }] });
        let second = list.plugin_stdin(&plugins[1], &attachment, Some(&prev));
        assert_eq!(
            second["runtimeConfig"],
            json!({ "portMappings": [{ "hostPort": 80, "containerPort": 8080 }] })
        );
        assert_eq!(second["prevResult"], prev);
    }

    #[test]
    fn a_list_without_plugins_is_rejected_before_anything_runs() {
        let list = Conflist::new(json!({ "cniVersion": "1.0.0", "name": "n", "plugins": [] }));
        assert!(matches!(
            list.plugins(),
            Err(ChainError::InvalidConflist { .. })
        ));
    }

    #[test]
    fn the_environment_names_the_netns_only_when_there_is_one() {
        let attachment = Attachment::new("c1", Path::new("/run/netns/x"));
        assert!(attachment
            .env()
            .iter()
            .any(|(k, v)| *k == "CNI_NETNS" && v == "/run/netns/x"));
        let gone = attachment.without_netns();
        assert!(!gone.env().iter().any(|(k, _)| *k == "CNI_NETNS"));
    }

    #[test]
    fn addresses_match_only_as_whole_addresses() {
        assert!(mentions_ip("ip saddr { 10.1.0.2 }", "10.1.0.2"));
        assert!(mentions_ip("dnat ip to 10.1.0.2:8080", "10.1.0.2"));
        assert!(!mentions_ip("ip saddr { 10.1.0.23 }", "10.1.0.2"));
        assert!(!mentions_ip("110.1.0.2", "10.1.0.2"));
        assert!(mentions_ip("fd00::2/64", "fd00::2"));
        assert!(!mentions_ip("fd00::2a", "fd00::2"));
    }

    #[test]
    fn result_ip_drops_the_prefix_length() {
        let result = json!({ "ips": [{ "address": "10.88.0.7/24", "gateway": "10.88.0.1" }] });
        assert_eq!(result_ip(&result).as_deref(), Some("10.88.0.7"));
        assert_eq!(result_ip(&json!({})), None);
    }
}

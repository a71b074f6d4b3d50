//! CNI invocation the way libcni (the library containerd and CRI-O use) does it:
//! network configuration lists, plugin execution with the CNI environment,
//! chained `prevResult`, `runtimeConfig` from declared capabilities, the result
//! cache, DEL in reverse order with the cached result, and GC with
//! `cni.dev/valid-attachments`.

use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::{PluginFailure, Result, RuntimeError};
use super::records::write_atomic;

/// CNI versions whose results this runtime understands (0.1.0 and 0.2.0 use
/// another result shape and are refused).
pub const SUPPORTED_VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/// How long one plugin invocation may run (the kubelet's default runtime
/// request timeout).
pub const PLUGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// One plugin of a configuration list.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConf {
    /// `type`: the binary name looked up in CNI_PATH.
    pub plugin_type: String,
    /// Capabilities declared `true` under `capabilities`.
    pub capabilities: Vec<String>,
    /// The plugin's object as written in the list.
    pub raw: Map<String, Value>,
}

/// A parsed and validated `.conflist`.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfigList {
    pub name: String,
    pub cni_version: String,
    pub disable_check: bool,
    pub disable_gc: bool,
    pub plugins: Vec<PluginConf>,
    /// The file's bytes, kept for the result cache as libcni does.
    pub bytes: Vec<u8>,
}

/// Parses a configuration list, naming the offending field on error.
pub fn parse_conflist(path: &Path, bytes: &[u8]) -> Result<NetworkConfigList> {
    let bad = |field: &str, reason: String| RuntimeError::CniConfig {
        path: path.to_path_buf(),
        field: field.to_string(),
        reason,
    };
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| bad("(document)", format!("not JSON: {e}")))?;
    let top = value
        .as_object()
        .ok_or_else(|| bad("(document)", "not a JSON object".into()))?;

    let name = match top.get("name") {
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(bad("name", "must be a string".into())),
        None => return Err(bad("name", "required".into())),
    };
    check_network_name(&name).map_err(|reason| bad("name", reason))?;

    let cni_version = select_version(top).map_err(|(field, reason)| bad(field, reason))?;

    let flag = |field: &str| -> Result<bool> {
        match top.get(field) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            // libcni also accepts the strings "true"/"false" for these flags.
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(bad(field, "must be a boolean".into())),
        }
    };
    let disable_check = flag("disableCheck")?;
    let disable_gc = flag("disableGC")?;

    let plugins = match top.get("plugins") {
        Some(Value::Array(plugins)) => plugins,
        Some(_) => return Err(bad("plugins", "must be an array".into())),
        None => return Err(bad("plugins", "required".into())),
    };
    if plugins.is_empty() {
        return Err(bad("plugins", "no plugins in the list".into()));
    }
    let mut parsed = Vec::with_capacity(plugins.len());
    for (i, plugin) in plugins.iter().enumerate() {
        let field = |f: &str| format!("plugins[{i}]{f}");
        let raw = plugin
            .as_object()
            .ok_or_else(|| bad(&field(""), "must be an object".into()))?;
        let plugin_type = match raw.get("type") {
            Some(Value::String(t)) if !t.is_empty() => t.clone(),
            Some(Value::String(_)) => return Err(bad(&field(".type"), "empty".into())),
            Some(_) => return Err(bad(&field(".type"), "must be a string".into())),
            None => return Err(bad(&field(".type"), "required".into())),
        };
        if plugin_type.contains('/') || plugin_type == "." || plugin_type == ".." {
            return Err(bad(&field(".type"), "must be a file name".into()));
        }
        let capabilities = match raw.get("capabilities") {
            None => Vec::new(),
            Some(Value::Object(caps)) => {
                let mut enabled = Vec::new();
                for (cap, on) in caps {
                    match on {
                        Value::Bool(true) => enabled.push(cap.clone()),
                        Value::Bool(false) => {}
                        _ => {
                            return Err(bad(
                                &field(&format!(".capabilities.{cap}")),
                                "must be a boolean".into(),
                            ))
                        }
                    }
                }
                enabled
            }
            Some(_) => return Err(bad(&field(".capabilities"), "must be an object".into())),
        };
        parsed.push(PluginConf {
            plugin_type,
            capabilities,
            raw: raw.clone(),
        });
    }
    Ok(NetworkConfigList {
        name,
        cni_version,
        disable_check,
        disable_gc,
        plugins: parsed,
        bytes: bytes.to_vec(),
    })
}

/// libcni's network name rule.
fn check_network_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("empty".into()),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return Err(format!("{name:?} must start with a letter or digit"))
        }
        Some(_) => {}
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(format!(
            "{name:?} contains {c:?}; only letters, digits, '_', '.' and '-' are allowed"
        ));
    }
    Ok(())
}

/// `cniVersion`, or the highest supported entry of `cniVersions` when present
/// (CNI 1.1 lets a list offer several).
fn select_version(top: &Map<String, Value>) -> Result<String, (&'static str, String)> {
    let declared = match top.get("cniVersion") {
        Some(Value::String(v)) => Some(v.clone()),
        Some(_) => return Err(("cniVersion", "must be a string".into())),
        None => None,
    };
    if let Some(list) = top.get("cniVersions") {
        let list = list
            .as_array()
            .ok_or(("cniVersions", "must be an array of strings".to_string()))?;
        let mut best: Option<&str> = None;
        for v in list {
            let v = v
                .as_str()
                .ok_or(("cniVersions", "must be an array of strings".to_string()))?;
            if SUPPORTED_VERSIONS.contains(&v)
                && best.is_none_or(|b| version_at_least(v, b).unwrap_or(false))
            {
                best = Some(v);
            }
        }
        if let Some(best) = best {
            return Ok(best.to_string());
        }
    }
    match declared {
        Some(v) if SUPPORTED_VERSIONS.contains(&v.as_str()) => Ok(v),
        Some(v) => Err((
            "cniVersion",
            format!(
                "{v:?} is not supported (supported: {})",
                SUPPORTED_VERSIONS.join(", ")
            ),
        )),
        None => Err(("cniVersion", "required".into())),
    }
}

fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

/// `a >= b` for CNI version strings; `None` when one does not parse.
pub fn version_at_least(a: &str, b: &str) -> Option<bool> {
    Some(parse_version(a)? >= parse_version(b)?)
}

/// Who is being attached: the runtime-side facts of one ADD or DEL.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub container_id: String,
    pub netns: PathBuf,
    pub ifname: String,
    /// CNI_ARGS, in order.
    pub args: Vec<(String, String)>,
    /// Capability arguments (`portMappings`, ...) offered to plugins that declare them.
    pub capability_args: Map<String, Value>,
}

impl Attachment {
    /// The CNI_ARGS a Kubernetes runtime passes for a pod sandbox.
    pub fn kubernetes_args(
        namespace: &str,
        name: &str,
        sandbox_id: &str,
        uid: &str,
    ) -> Vec<(String, String)> {
        vec![
            ("IgnoreUnknown".into(), "1".into()),
            ("K8S_POD_NAMESPACE".into(), namespace.into()),
            ("K8S_POD_NAME".into(), name.into()),
            ("K8S_POD_INFRA_CONTAINER_ID".into(), sandbox_id.into()),
            ("K8S_POD_UID".into(), uid.into()),
        ]
    }

    fn cni_args(&self) -> String {
        self.args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// Runs the plugins of a configuration list.
#[derive(Debug, Clone)]
pub struct CniInvoker {
    /// CNI_PATH, searched in order.
    pub plugin_dirs: Vec<PathBuf>,
    /// Where results are cached (`<network>-<containerID>-<ifname>` files).
    pub cache_dir: PathBuf,
}

/// The stdin config of one plugin invocation.
pub fn plugin_stdin(
    list: &NetworkConfigList,
    plugin: &PluginConf,
    prev_result: Option<&Value>,
    capability_args: &Map<String, Value>,
) -> Value {
    let mut conf = plugin.raw.clone();
    conf.insert("name".into(), Value::String(list.name.clone()));
    conf.insert("cniVersion".into(), Value::String(list.cni_version.clone()));
    if let Some(prev) = prev_result {
        conf.insert("prevResult".into(), prev.clone());
    }
    let mut runtime_config = Map::new();
    for cap in &plugin.capabilities {
        if let Some(value) = capability_args.get(cap) {
            runtime_config.insert(cap.clone(), value.clone());
        }
    }
    if !runtime_config.is_empty() {
        conf.insert("runtimeConfig".into(), Value::Object(runtime_config));
    }
    Value::Object(conf)
}

impl CniInvoker {
    fn cache_path(&self, network: &str, attachment: &Attachment) -> PathBuf {
        self.cache_dir.join(format!(
            "{network}-{}-{}",
            attachment.container_id, attachment.ifname
        ))
    }

    /// ADD through every plugin in order; the last result is cached and returned.
    /// Nothing is undone on failure: like a runtime, the caller runs [`Self::del`].
    pub fn add(&self, list: &NetworkConfigList, attachment: &Attachment) -> Result<Value> {
        let mut prev: Option<Value> = None;
        for plugin in &list.plugins {
            let stdin = plugin_stdin(list, plugin, prev.as_ref(), &attachment.capability_args);
            let out = self.exec(&plugin.plugin_type, "ADD", Some(attachment), &stdin)?;
            let result: Value =
                serde_json::from_slice(&out).map_err(|e| RuntimeError::CniResult {
                    plugin: plugin.plugin_type.clone(),
                    command: "ADD".into(),
                    reason: format!("not JSON: {e}"),
                })?;
            if !result.is_object() {
                return Err(RuntimeError::CniResult {
                    plugin: plugin.plugin_type.clone(),
                    command: "ADD".into(),
                    reason: "not a JSON object".into(),
                });
            }
            prev = Some(result);
        }
        let result = prev.unwrap_or_else(|| json!({"cniVersion": list.cni_version}));
        self.write_cache(list, attachment, &result)?;
        Ok(result)
    }

    /// DEL through every plugin in reverse order with the cached result as
    /// `prevResult` (0.4.0 and later), then drops the cache entry. Missing
    /// cache is fine: the plugins are asked to delete without one.
    pub fn del(&self, list: &NetworkConfigList, attachment: &Attachment) -> Result<()> {
        let cache = self.cache_path(&list.name, attachment);
        let cached = if version_at_least(&list.cni_version, "0.4.0").unwrap_or(false) {
            read_cached_result(&cache)
        } else {
            None
        };
        for plugin in list.plugins.iter().rev() {
            let stdin = plugin_stdin(list, plugin, cached.as_ref(), &attachment.capability_args);
            self.exec(&plugin.plugin_type, "DEL", Some(attachment), &stdin)?;
        }
        match fs::remove_file(&cache) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(RuntimeError::io(
                format!("remove CNI result cache {}", cache.display()),
                e,
            )),
        }
    }

    /// The attachments with a cached result for `network` (container id, ifname).
    pub fn cached_attachments(&self, network: &str) -> Result<Vec<CachedAttachment>> {
        let entries = match fs::read_dir(&self.cache_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(RuntimeError::io(
                    format!("read {}", self.cache_dir.display()),
                    e,
                ))
            }
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry
                .map_err(|e| RuntimeError::io(format!("read {}", self.cache_dir.display()), e))?;
            let path = entry.path();
            let Some(record) = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            else {
                // A half-written cache file from a crash: libcni skips those too.
                continue;
            };
            if record.get("networkName").and_then(Value::as_str) != Some(network) {
                continue;
            }
            let field = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_string);
            if let (Some(container_id), Some(ifname)) = (field("containerId"), field("ifName")) {
                found.push(CachedAttachment {
                    container_id,
                    ifname,
                    netns: field("netns").map(PathBuf::from),
                    args: record
                        .get("cniArgs")
                        .and_then(Value::as_array)
                        .map(|pairs| {
                            pairs
                                .iter()
                                .filter_map(|p| {
                                    Some((p.get(0)?.as_str()?.into(), p.get(1)?.as_str()?.into()))
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    capability_args: record
                        .get("capabilityArgs")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                });
            }
        }
        Ok(found)
    }

    /// libcni's GCNetworkList: DEL for every cached attachment of the network
    /// that is not valid, then (1.1.0 and later) GC on every plugin with
    /// `cni.dev/valid-attachments`. Errors of all steps are reported together.
    pub fn gc(&self, list: &NetworkConfigList, valid: &[(String, String)]) -> Result<()> {
        if list.disable_gc {
            return Ok(());
        }
        let valid_set: HashSet<&(String, String)> = valid.iter().collect();
        let mut errors = Vec::new();
        for cached in self.cached_attachments(&list.name)? {
            let key = (cached.container_id.clone(), cached.ifname.clone());
            if valid_set.contains(&key) {
                continue;
            }
            let attachment = Attachment {
                container_id: cached.container_id,
                // libcni passes no netns for these DELs: the namespace is usually gone.
                netns: PathBuf::new(),
                ifname: cached.ifname,
                args: cached.args,
                capability_args: cached.capability_args,
            };
            if let Err(e) = self.del(list, &attachment) {
                errors.push(e);
            }
        }
        if version_at_least(&list.cni_version, "1.1.0").unwrap_or(false) {
            let valid_json: Vec<Value> = valid
                .iter()
                .map(|(id, ifname)| json!({"containerID": id, "ifname": ifname}))
                .collect();
            for plugin in &list.plugins {
                let mut stdin = plugin_stdin(list, plugin, None, &Map::new());
                stdin["cni.dev/valid-attachments"] = Value::Array(valid_json.clone());
                if let Err(e) = self.exec(&plugin.plugin_type, "GC", None, &stdin) {
                    errors.push(e);
                }
            }
        }
        RuntimeError::collect(errors)
    }

    fn find_plugin(&self, plugin: &str) -> Result<PathBuf> {
        self.plugin_dirs
            .iter()
            .map(|dir| dir.join(plugin))
            .find(|path| path.is_file())
            .ok_or_else(|| RuntimeError::CniPluginNotFound {
                plugin: plugin.to_string(),
                dirs: self.plugin_dirs.clone(),
            })
    }

    fn cni_path(&self) -> OsString {
        let mut joined = OsString::new();
        for (i, dir) in self.plugin_dirs.iter().enumerate() {
            if i > 0 {
                joined.push(":");
            }
            joined.push(dir);
        }
        joined
    }

    /// Runs one plugin; its stdout on success, its error object as
    /// [`RuntimeError::CniPlugin`] on failure.
    fn exec(
        &self,
        plugin: &str,
        command: &str,
        attachment: Option<&Attachment>,
        stdin: &Value,
    ) -> Result<Vec<u8>> {
        let binary = self.find_plugin(plugin)?;
        let mut cmd = Command::new(&binary);
        cmd.env("CNI_COMMAND", command)
            .env("CNI_PATH", self.cni_path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(a) = attachment {
            cmd.env("CNI_CONTAINERID", &a.container_id)
                .env("CNI_NETNS", &a.netns)
                .env("CNI_IFNAME", &a.ifname)
                .env("CNI_ARGS", a.cni_args());
        }
        let what = format!("run CNI plugin {} {command}", binary.display());
        let mut child = cmd.spawn().map_err(|e| RuntimeError::io(&what, e))?;
        let input = serde_json::to_vec(stdin).expect("a JSON value serializes");
        let mut stdin_pipe = child.stdin.take().expect("stdin is piped");
        // stderr is drained on its own thread so a chatty plugin cannot block on it
        // while this thread waits for stdout.
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut buf);
            buf
        });
        match stdin_pipe.write_all(&input) {
            Ok(()) => {}
            // VERSION-like plugins may exit without reading; the exit status tells.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RuntimeError::io(&what, e));
            }
        }
        drop(stdin_pipe);
        // Reading and waiting happen on a thread so a hung plugin can be killed
        // after PLUGIN_TIMEOUT, as a runtime's request deadline would.
        let pid = child.id();
        let mut stdout_pipe = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = Vec::new();
            let read = stdout_pipe.read_to_end(&mut stdout);
            let status = child.wait();
            let _ = sender.send((read, status, stdout));
        });
        let (read, status, stdout) = match receiver.recv_timeout(PLUGIN_TIMEOUT) {
            Ok(done) => done,
            Err(_) => {
                // SAFETY: the child is not reaped until the thread's wait returns,
                // so the pid still names it.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                let _ = receiver.recv();
                return Err(RuntimeError::CniPlugin(PluginFailure {
                    plugin: plugin.into(),
                    command: command.into(),
                    code: None,
                    msg: format!("killed after {} s", PLUGIN_TIMEOUT.as_secs()),
                    details: String::new(),
                }));
            }
        };
        read.map_err(|e| RuntimeError::io(&what, e))?;
        let status = status.map_err(|e| RuntimeError::io(&what, e))?;
        let stderr = stderr_reader.join().unwrap_or_default();
        if status.success() {
            return Ok(stdout);
        }
        Err(RuntimeError::CniPlugin(plugin_failure(
            plugin, command, &stdout, &stderr, status,
        )))
    }

    fn write_cache(
        &self,
        list: &NetworkConfigList,
        attachment: &Attachment,
        result: &Value,
    ) -> Result<()> {
        let record = json!({
            "kind": "cniCacheV1",
            "containerId": attachment.container_id,
            "config": base64(&list.bytes),
            "ifName": attachment.ifname,
            "networkName": list.name,
            "netns": attachment.netns,
            "cniArgs": attachment.args.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "capabilityArgs": attachment.capability_args,
            "result": result,
        });
        let path = self.cache_path(&list.name, attachment);
        write_atomic(
            &path,
            &serde_json::to_vec(&record).expect("a JSON value serializes"),
        )
    }
}

/// A cached attachment found on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedAttachment {
    pub container_id: String,
    pub ifname: String,
    pub netns: Option<PathBuf>,
    pub args: Vec<(String, String)>,
    pub capability_args: Map<String, Value>,
}

fn read_cached_result(path: &Path) -> Option<Value> {
    let bytes = fs::read(path).ok()?;
    let record: Value = serde_json::from_slice(&bytes).ok()?;
    record.get("result").cloned().filter(Value::is_object)
}

fn plugin_failure(
    plugin: &str,
    command: &str,
    stdout: &[u8],
    stderr: &[u8],
    status: std::process::ExitStatus,
) -> PluginFailure {
    if let Ok(Value::Object(err)) = serde_json::from_slice::<Value>(stdout) {
        if let Some(code) = err.get("code").and_then(Value::as_u64) {
            let text = |k: &str| {
                err.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            return PluginFailure {
                plugin: plugin.into(),
                command: command.into(),
                code: Some(code),
                msg: text("msg"),
                details: text("details"),
            };
        }
    }
    let printed = String::from_utf8_lossy(if stdout.is_empty() { stderr } else { stdout });
    PluginFailure {
        plugin: plugin.into(),
        command: command.into(),
        code: None,
        msg: format!("{status}: {}", printed.trim()),
        details: String::new(),
    }
}

/// The pod's addresses from a CNI result: those of `ifname` inside the sandbox
/// (or with no interface reference), IPv4 first as containerd orders them.
pub fn result_ips(result: &Value, ifname: &str) -> Vec<IpAddr> {
    let interfaces = result
        .get("interfaces")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut ips: Vec<IpAddr> = result
        .get("ips")
        .and_then(Value::as_array)
        .map(|ips| {
            ips.iter()
                .filter(|ip| match ip.get("interface").and_then(Value::as_u64) {
                    None => true,
                    Some(index) => interfaces.get(index as usize).is_some_and(|i| {
                        i.get("name").and_then(Value::as_str) == Some(ifname)
                            && i.get("sandbox")
                                .and_then(Value::as_str)
                                .is_some_and(|s| !s.is_empty())
                    }),
                })
                .filter_map(|ip| ip.get("address")?.as_str()?.split('/').next()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    ips.sort_by_key(|ip| ip.is_ipv6());
    ips
}

/// Standard base64 with padding: how Go's JSON encodes the `config` bytes of
/// libcni's cache records.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<NetworkConfigList> {
        parse_conflist(Path::new("10-test.conflist"), s.as_bytes())
    }

    fn field_of(err: RuntimeError) -> String {
        match err {
            RuntimeError::CniConfig { field, .. } => field,
            other => panic!("expected a config error, got {other}"),
        }
    }

    #[test]
    fn a_podnet_conflist_parses() {
        let list = parse(
            r#"{"cniVersion":"1.1.0","name":"podnet","plugins":[
                {"type":"podnet-cni","bridge":"podnet0","capabilities":{"portMappings":true,"ips":false}},
                {"type":"portmap","capabilities":{"portMappings":true}}]}"#,
        )
        .unwrap();
        assert_eq!(list.name, "podnet");
        assert_eq!(list.cni_version, "1.1.0");
        assert!(!list.disable_gc);
        assert_eq!(list.plugins.len(), 2);
        assert_eq!(list.plugins[0].plugin_type, "podnet-cni");
        assert_eq!(list.plugins[0].capabilities, vec!["portMappings"]);
        assert_eq!(list.plugins[0].raw["bridge"], "podnet0");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"[]"#, "(document)"),
            (r#"{"cniVersion":"1.0.0","plugins":[{"type":"x"}]}"#, "name"),
            (
                r#"{"cniVersion":"1.0.0","name":"bad name","plugins":[{"type":"x"}]}"#,
                "name",
            ),
            (r#"{"name":"n","plugins":[{"type":"x"}]}"#, "cniVersion"),
            (
                r#"{"cniVersion":"0.2.0","name":"n","plugins":[{"type":"x"}]}"#,
                "cniVersion",
            ),
            (r#"{"cniVersion":"1.0.0","name":"n"}"#, "plugins"),
            (
                r#"{"cniVersion":"1.0.0","name":"n","plugins":[]}"#,
                "plugins",
            ),
            (
                r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a"},{"bridge":"b"}]}"#,
                "plugins[1].type",
            ),
            (
                r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"../x"}]}"#,
                "plugins[0].type",
            ),
            (
                r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a","capabilities":{"portMappings":"yes"}}]}"#,
                "plugins[0].capabilities.portMappings",
            ),
            (
                r#"{"cniVersion":"1.0.0","name":"n","disableGC":3,"plugins":[{"type":"a"}]}"#,
                "disableGC",
            ),
        ];
        for (text, field) in cases {
            assert_eq!(field_of(parse(text).unwrap_err()), field, "{text}");
        }
    }

    #[test]
    fn cni_versions_picks_the_highest_supported() {
        let list = parse(
            r#"{"cniVersion":"0.4.0","cniVersions":["1.0.0","9.9.9","1.1.0"],"name":"n","plugins":[{"type":"a"}]}"#,
        )
        .unwrap();
        assert_eq!(list.cni_version, "1.1.0");
        let list = parse(
            r#"{"cniVersion":"0.4.0","cniVersions":["9.9.9"],"name":"n","plugins":[{"type":"a"}]}"#,
        )
        .unwrap();
        assert_eq!(list.cni_version, "0.4.0");
    }

    #[test]
    fn stdin_carries_name_version_prev_result_and_declared_capabilities_only() {
        let list = parse(
            r#"{"cniVersion":"1.0.0","name":"net1","plugins":[
                {"type":"bridge","bridge":"cni0"},
                {"type":"portmap","capabilities":{"portMappings":true}}]}"#,
        )
        .unwrap();
        let mut caps = Map::new();
        caps.insert(
            "portMappings".into(),
            json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]),
        );
        caps.insert("bandwidth".into(), json!({"ingressRate": 1}));
        let first = plugin_stdin(&list, &list.plugins[0], None, &caps);
        assert_eq!(
            first,
            json!({"type":"bridge","bridge":"cni0","name":"net1","cniVersion":"1.0.0"})
        );
        let prev = json!({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]});
        let second = plugin_stdin(&list, &list.plugins[1], Some(&prev), &caps);
        assert_eq!(second["prevResult"], prev);
        assert_eq!(
            second["runtimeConfig"],
            json!({"portMappings":[{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})
        );
        assert_eq!(second["capabilities"], json!({"portMappings": true}));
    }

    #[test]
    fn cni_args_are_kubernetes_ordered() {
        let a = Attachment {
            container_id: "c1".into(),
            netns: PathBuf::from("/run/netns/x"),
            ifname: "eth0".into(),
            args: Attachment::kubernetes_args("default", "web-0", "c1", "u-1"),
            capability_args: Map::new(),
        };
        assert_eq!(
            a.cni_args(),
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=u-1"
        );
    }

    #[test]
    fn result_ips_take_the_sandbox_interface_ipv4_first() {
        let result = json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "cni0", "mac": "aa:bb:cc:dd:ee:ff"},
                {"name": "veth1", "mac": "aa:bb:cc:dd:ee:00"},
                {"name": "eth0", "mac": "aa:bb:cc:dd:ee:01", "sandbox": "/run/netns/p"}
            ],
            "ips": [
                {"address": "fd00::5/64", "interface": 2},
                {"address": "10.1.0.5/24", "interface": 2, "gateway": "10.1.0.1"},
                {"address": "10.1.0.1/24", "interface": 0}
            ]
        });
        let ips = result_ips(&result, "eth0");
        assert_eq!(
            ips,
            vec![
                "10.1.0.5".parse::<IpAddr>().unwrap(),
                "fd00::5".parse().unwrap()
            ]
        );
        let legacy = json!({"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.2.0.9/16"}]});
        assert_eq!(
            result_ips(&legacy, "eth0"),
            vec!["10.2.0.9".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn plugin_errors_keep_code_and_message() {
        use std::os::unix::process::ExitStatusExt;
        let failure = plugin_failure(
            "podnet-cni",
            "ADD",
            br#"{"cniVersion":"1.1.0","code":7,"msg":"ipam.subnet: bad","details":"more"}"#,
            b"",
            std::process::ExitStatus::from_raw(1 << 8),
        );
        assert_eq!(failure.code, Some(7));
        assert_eq!(failure.msg, "ipam.subnet: bad");
        assert_eq!(failure.details, "more");
        let text = RuntimeError::CniPlugin(failure).to_string();
        assert!(
            text.contains("code 7") && text.contains("ipam.subnet"),
            "{text}"
        );

        let raw = plugin_failure(
            "x",
            "DEL",
            b"",
            b"panic: boom",
            std::process::ExitStatus::from_raw(2 << 8),
        );
        assert_eq!(raw.code, None);
        assert!(raw.msg.contains("panic: boom"), "{}", raw.msg);
    }

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe]), "//4=");
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(version_at_least("1.1.0", "1.0.0"), Some(true));
        assert_eq!(version_at_least("0.4.0", "0.10.0"), Some(false));
        assert_eq!(version_at_least("0.3.1", "0.4.0"), Some(false));
        assert_eq!(version_at_least("x", "0.4.0"), None);
    }
}

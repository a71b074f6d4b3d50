//! IPAM: the built-in host-local-compatible allocator in process, or delegation to the
//! plugin named by `ipam.type`, executed from CNI_PATH with the same environment and
//! config, as the spec describes.

use crate::config::{IpamChoice, NetConf};
use crate::env::CniEnv;
use crate::error::{CniError, Code, Result};
use crate::result::{CniResult, IpConfig, RouteEntry};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn ipam_error(e: podnet_ipam::IpamError) -> CniError {
    let code = if matches!(e, podnet_ipam::IpamError::Exhausted { .. }) {
        Code::AddressesExhausted
    } else {
        Code::Io
    };
    CniError::new(code, format!("ipam: {e}"))
}

/// Runs `op` on the network's allocation store under its lock.
fn with_store<T>(
    cfg: &podnet_ipam::ValidatedConfig,
    network: &str,
    op: impl FnOnce(&podnet_ipam::Locked<'_>) -> std::result::Result<T, podnet_ipam::IpamError>,
) -> Result<T> {
    let store = podnet_ipam::Store::open(&cfg.data_dir, network).map_err(ipam_error)?;
    let locked = store.lock().map_err(ipam_error)?;
    op(&locked).map_err(ipam_error)
}

/// Allocates the pod's addresses; the returned result has no interfaces (IPAM results never do).
pub fn add(conf: &NetConf, env: &CniEnv) -> Result<CniResult> {
    match &conf.ipam {
        IpamChoice::BuiltIn(cfg) => {
            let requested = requested_per_set(cfg, &conf.requested_ips)?;
            let allocs = with_store(cfg, &conf.name, |s| {
                s.allocate(cfg, &env.container_id, &env.ifname, &requested)
            })?;
            Ok(CniResult {
                interfaces: vec![],
                ips: allocs
                    .into_iter()
                    .map(|a| IpConfig {
                        address: a.address,
                        gateway: a.gateway,
                        interface: None,
                    })
                    .collect(),
                routes: cfg
                    .routes
                    .iter()
                    .map(|r| RouteEntry {
                        dst: r.dst,
                        gw: r.gw,
                        ..Default::default()
                    })
                    .collect(),
                dns: Default::default(),
            })
        }
        IpamChoice::Delegated { plugin } => {
            let out = exec(plugin, conf, env, "ADD")?;
            let value: serde_json::Value = serde_json::from_slice(&out).map_err(|e| {
                CniError::new(
                    Code::Decode,
                    format!("ipam plugin {plugin}: result is not JSON: {e}"),
                )
            })?;
            CniResult::from_value(&value, &format!("ipam plugin {plugin} result"))
        }
    }
}

/// Releases the pod's addresses; idempotent.
pub fn del(conf: &NetConf, env: &CniEnv) -> Result<()> {
    match &conf.ipam {
        IpamChoice::BuiltIn(cfg) => {
            with_store(cfg, &conf.name, |s| {
                s.release(&env.container_id, &env.ifname)
            })?;
            Ok(())
        }
        IpamChoice::Delegated { plugin } => exec(plugin, conf, env, "DEL").map(|_| ()),
    }
}

/// Frees allocations of attachments not in the valid list.
pub fn gc(conf: &NetConf, env: &CniEnv) -> Result<Vec<IpAddr>> {
    match &conf.ipam {
        IpamChoice::BuiltIn(cfg) => with_store(cfg, &conf.name, |s| s.gc(&conf.valid_attachments)),
        IpamChoice::Delegated { plugin } => exec(plugin, conf, env, "GC").map(|_| Vec::new()),
    }
}

/// STATUS: Ok when an ADD could get addresses.
pub fn status(conf: &NetConf, env: &CniEnv) -> Result<()> {
    match &conf.ipam {
        IpamChoice::BuiltIn(cfg) => {
            if with_store(cfg, &conf.name, |s| s.has_free(cfg))? {
                Ok(())
            } else {
                Err(CniError::new(
                    Code::NotAvailable,
                    format!("ipam: no free address left in network {}", conf.name),
                ))
            }
        }
        IpamChoice::Delegated { plugin } => exec(plugin, conf, env, "STATUS").map(|_| ()),
    }
}

/// CHECK: every address of prevResult is still held by this container interface.
pub fn check(conf: &NetConf, env: &CniEnv, addresses: &[IpAddr]) -> Result<()> {
    match &conf.ipam {
        IpamChoice::BuiltIn(cfg) => {
            let held = with_store(cfg, &conf.name, |s| s.allocations())?;
            for addr in addresses {
                let ours = held.iter().any(|(ip, id, ifname)| {
                    ip == addr && *id == env.container_id && *ifname == env.ifname
                });
                if !ours {
                    return Err(CniError::new(
                        Code::CheckFailed,
                        format!(
                            "ipam: address {addr} is not allocated to this container interface"
                        ),
                    ));
                }
            }
            Ok(())
        }
        IpamChoice::Delegated { plugin } => exec(plugin, conf, env, "CHECK").map(|_| ()),
    }
}

/// Matches requested IPs (runtimeConfig.ips, CNI_ARGS IP=) to the range set they belong to.
fn requested_per_set(
    cfg: &podnet_ipam::ValidatedConfig,
    requested: &[IpAddr],
) -> Result<Vec<Option<IpAddr>>> {
    let mut per_set = vec![None; cfg.ranges.len()];
    for ip in requested {
        let set = cfg
            .ranges
            .iter()
            .position(|set| set.iter().any(|r| r.subnet.contains(ip)))
            .ok_or_else(|| {
                CniError::config(format!(
                    "runtimeConfig.ips: {ip} is in no subnet of ipam.ranges"
                ))
            })?;
        if per_set[set].replace(*ip).is_some() {
            return Err(CniError::config(format!(
                "runtimeConfig.ips: two addresses requested from range set {set}"
            )));
        }
    }
    Ok(per_set)
}

/// Finds a plugin binary in CNI_PATH.
pub fn find_plugin(plugin: &str, path: &[PathBuf]) -> Result<PathBuf> {
    path.iter()
        .map(|dir| dir.join(plugin))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            CniError::config(format!(
                "ipam.type: plugin {plugin:?} not found in CNI_PATH ({})",
                path.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":")
            ))
        })
}

/// Runs the delegated plugin with `command`, the caller's CNI env and the same config;
/// returns its stdout, or its error object turned into ours.
fn exec(plugin: &str, conf: &NetConf, env: &CniEnv, command: &str) -> Result<Vec<u8>> {
    let bin = find_plugin(plugin, &env.path)?;
    let mut child = Command::new(&bin)
        .env("CNI_COMMAND", command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| CniError::new(Code::Io, format!("ipam plugin {}: {e}", bin.display())))?;
    let stdin_bytes = serde_json::to_vec(&conf.raw).expect("config serialises");
    if let Some(mut stdin) = child.stdin.take() {
        // A plugin that exits without reading stdin is judged by its exit status below.
        let _ = stdin.write_all(&stdin_bytes);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| CniError::new(Code::Io, format!("ipam plugin {}: {e}", bin.display())))?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let (code, msg) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .map(|v| {
            (
                v.get("code").and_then(|c| c.as_u64()).unwrap_or(0),
                v.get("msg")
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .unwrap_or((0, String::from_utf8_lossy(&out.stdout).trim().to_string()));
    Err(CniError::new(
        Code::DelegateFailed,
        format!("ipam plugin {plugin} {command} failed (code {code}): {msg}"),
    ))
}

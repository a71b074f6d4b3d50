//! What the runtime keeps on disk, and where.
//!
//! ```text
//! <state_dir>/sandboxes/<uid>/sandbox.json          SandboxRecord (written before any effect)
//! <state_dir>/sandboxes/<uid>/{hosts,resolv.conf,hostname}   bind-mounted into the pod
//! <state_dir>/sandboxes/<uid>/containers/<name>.json        ContainerRecord (spec of the last start)
//! <state_dir>/sandboxes/<uid>/containers/<name>.exit.json   ExitRecord (written by the shim)
//! <state_dir>/sandboxes/<uid>/logs/<name>.log, <name>.previous.log
//! <state_dir>/cni/results/<network>-<containerID>-<ifname>  libcni-style result cache
//! <run_dir>/kubelet/sandboxes/<uid>/pause.json              ProcessRecord of the namespace holder
//! <run_dir>/kubelet/sandboxes/<uid>/<name>.json             RunRecord of the running container
//! ```
//!
//! Process ids live under the run dir (a tmpfs) so that after a reboot no stale
//! pid can be mistaken for a live process; every pid is also checked against
//! the process start time recorded with it.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::error::{Result, RuntimeError};

/// A hostPort mapping, in the CNI `portMappings` capability format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp` (lowercase, as CNI runtimes pass it).
    pub protocol: String,
    #[serde(rename = "hostIP", default, skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SandboxPhase {
    /// Effects may be half done; only removal is valid.
    Creating,
    Ready,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxRecord {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub hostname: String,
    pub host_network: bool,
    /// Name under /run/netns; `None` for host-network pods.
    pub netns_name: Option<String>,
    /// The CNI network the pod was attached to (for DEL with the same name).
    pub cni_network: Option<String>,
    pub port_mappings: Vec<PortMapping>,
    pub phase: SandboxPhase,
    pub ips: Vec<IpAddr>,
    pub created_at: SystemTime,
    /// How long the sandbox took to build, once it is Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<SetupTimings>,
}

/// Where a sandbox's build time went: what the benchmark reports per pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupTimings {
    /// Namespaces, loopback, the pod's files and the namespace holder.
    pub namespaces: std::time::Duration,
    /// The whole CNI ADD chain.
    pub network: std::time::Duration,
}

/// A process identified beyond its pid: pid plus start time in clock ticks
/// after boot (field 22 of /proc/PID/stat), so a reused pid does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: u32,
    pub start_ticks: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub process: ProcessId,
    /// Device and inode of the process's mount namespace: every process of the
    /// sandbox shares it, which is how leftovers are found after a crash.
    pub mnt_ns: (u64, u64),
}

/// What a container was last started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub name: String,
    /// Distinguishes runs of one container: the shim writes it into the exit record.
    pub run_id: u64,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<PathBuf>,
}

/// The running container as the shim recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: u64,
    pub process: ProcessId,
    pub shim: ProcessId,
    pub started_at: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitRecord {
    pub run_id: u64,
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub started_at: SystemTime,
    pub finished_at: SystemTime,
    pub reason: String,
    /// Why the start failed, for `StartError`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Paths of one node's runtime state.
#[derive(Debug, Clone)]
pub struct Layout {
    pub state_dir: PathBuf,
    pub run_dir: PathBuf,
}

impl Layout {
    pub fn sandboxes_dir(&self) -> PathBuf {
        self.state_dir.join("sandboxes")
    }
    pub fn sandbox_dir(&self, uid: &str) -> PathBuf {
        self.sandboxes_dir().join(uid)
    }
    pub fn sandbox_record(&self, uid: &str) -> PathBuf {
        self.sandbox_dir(uid).join("sandbox.json")
    }
    pub fn hosts_file(&self, uid: &str) -> PathBuf {
        self.sandbox_dir(uid).join("hosts")
    }
    pub fn resolv_file(&self, uid: &str) -> PathBuf {
        self.sandbox_dir(uid).join("resolv.conf")
    }
    pub fn hostname_file(&self, uid: &str) -> PathBuf {
        self.sandbox_dir(uid).join("hostname")
    }
    pub fn container_record(&self, uid: &str, name: &str) -> PathBuf {
        self.sandbox_dir(uid)
            .join("containers")
            .join(format!("{name}.json"))
    }
    pub fn exit_record(&self, uid: &str, name: &str) -> PathBuf {
        self.sandbox_dir(uid)
            .join("containers")
            .join(format!("{name}.exit.json"))
    }
    pub fn log_file(&self, uid: &str, name: &str) -> PathBuf {
        self.sandbox_dir(uid)
            .join("logs")
            .join(format!("{name}.log"))
    }
    pub fn previous_log_file(&self, uid: &str, name: &str) -> PathBuf {
        self.sandbox_dir(uid)
            .join("logs")
            .join(format!("{name}.previous.log"))
    }
    pub fn cni_cache_dir(&self) -> PathBuf {
        self.state_dir.join("cni").join("results")
    }
    pub fn run_sandbox_dir(&self, uid: &str) -> PathBuf {
        self.run_dir.join("kubelet").join("sandboxes").join(uid)
    }
    pub fn pause_record(&self, uid: &str) -> PathBuf {
        self.run_sandbox_dir(uid).join("pause.json")
    }
    pub fn run_record(&self, uid: &str, name: &str) -> PathBuf {
        self.run_sandbox_dir(uid).join(format!("{name}.json"))
    }
}

/// Writes `bytes` to a temporary file next to `path` and renames it over
/// `path`, so readers see the old or the new content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| RuntimeError::invalid("state path", format!("{}", path.display())))?;
    fs::create_dir_all(dir)
        .map_err(|e| RuntimeError::io(format!("create {}", dir.display()), e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        RuntimeError::io(format!("write {}", path.display()), e)
    })
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| RuntimeError::Record {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic(path, &bytes)
}

/// `Ok(None)` when the file does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| RuntimeError::Record {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RuntimeError::io(format!("read {}", path.display()), e)),
    }
}

pub fn remove_file_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::io(format!("remove {}", path.display()), e)),
    }
}

pub fn remove_dir_if_exists(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::io(format!("remove {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_port_mappings_use_cni_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/sandbox.json");
        let record = SandboxRecord {
            uid: "u1".into(),
            namespace: "default".into(),
            name: "web".into(),
            hostname: "web".into(),
            host_network: false,
            netns_name: Some("podnet-pod-0123456789".into()),
            cni_network: Some("podnet".into()),
            port_mappings: vec![PortMapping {
                host_port: 8080,
                container_port: 80,
                protocol: "tcp".into(),
                host_ip: String::new(),
            }],
            phase: SandboxPhase::Ready,
            ips: vec!["10.244.1.5".parse().unwrap()],
            created_at: SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1500),
            setup: Some(SetupTimings {
                namespaces: std::time::Duration::from_micros(5_600),
                network: std::time::Duration::from_micros(5_400),
            }),
        };
        write_json(&path, &record).unwrap();
        assert_eq!(
            read_json::<SandboxRecord>(&path).unwrap(),
            Some(record.clone())
        );
        let mapping = serde_json::to_value(&record.port_mappings[0]).unwrap();
        assert_eq!(
            mapping,
            serde_json::json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp"})
        );
        assert_eq!(
            read_json::<SandboxRecord>(&dir.path().join("missing")).unwrap(),
            None
        );
        std::fs::write(&path, b"{\"uid\":").unwrap();
        assert!(matches!(
            read_json::<SandboxRecord>(&path),
            Err(RuntimeError::Record { .. })
        ));
        // No temporary files are left next to the record.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("sandbox.json")]);
    }
}

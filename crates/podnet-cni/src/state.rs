//! Attachment records: what an ADD did (or was about to do) for one container
//! interface. Written before the first effect and updated as the ADD goes, so a DEL
//! or GC after a crash knows everything that may need undoing.

use crate::config::PortMapping;
use crate::error::{CniError, Code, Result};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub container_id: String,
    pub ifname: String,
    pub network: String,
    pub host_veth: String,
    /// Pod addresses with their subnet's prefix length.
    #[serde(default)]
    pub ips: Vec<IpNet>,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    #[serde(default)]
    pub ip_masq: bool,
    /// Destinations that stay unmasqueraded for this network.
    #[serde(default)]
    pub masq_exempt: Vec<IpNet>,
}

impl Attachment {
    /// Pod subnets (addresses truncated to their network).
    pub fn subnets(&self) -> Vec<IpNet> {
        self.ips.iter().map(IpNet::trunc).collect()
    }
}

fn io_err(context: impl std::fmt::Display, e: std::io::Error) -> CniError {
    CniError::new(Code::Io, format!("{context}: {e}"))
}

/// The directory of attachment records: `<stateDir>/attachments/<network>/<id>.<ifname>.json`.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(state_dir: &Path) -> StateDir {
        StateDir {
            root: state_dir.join("attachments"),
        }
    }

    fn network_dir(&self, network: &str) -> PathBuf {
        self.root.join(network)
    }

    fn path(&self, network: &str, container_id: &str, ifname: &str) -> PathBuf {
        self.network_dir(network)
            .join(format!("{container_id}.{ifname}.json"))
    }

    /// Per-network fingerprints of the firewall structure last applied.
    pub fn nft_marker_dir(&self) -> PathBuf {
        self.root.with_file_name("nft-structure")
    }

    /// Lock file serialising kernel firewall updates with GC's full rebuild.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }

    pub fn load(
        &self,
        network: &str,
        container_id: &str,
        ifname: &str,
    ) -> Result<Option<Attachment>> {
        let path = self.path(network, container_id, ifname);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| CniError::new(Code::Decode, format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(path.display(), e)),
        }
    }

    /// Writes atomically (temp file + rename): a reader sees the old or the new record.
    pub fn save(&self, a: &Attachment) -> Result<()> {
        let dir = self.network_dir(&a.network);
        fs::create_dir_all(&dir).map_err(|e| io_err(dir.display(), e))?;
        let path = self.path(&a.network, &a.container_id, &a.ifname);
        let tmp = dir.join(format!(".{}.{}.tmp", a.container_id, a.ifname));
        let bytes = serde_json::to_vec(a).expect("attachment serialises");
        let mut f = fs::File::create(&tmp).map_err(|e| io_err(tmp.display(), e))?;
        f.write_all(&bytes).map_err(|e| io_err(tmp.display(), e))?;
        fs::rename(&tmp, &path).map_err(|e| io_err(path.display(), e))
    }

    pub fn remove(&self, network: &str, container_id: &str, ifname: &str) -> Result<()> {
        let path = self.path(network, container_id, ifname);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(path.display(), e)),
        }
    }

    /// Every record of one network.
    pub fn list(&self, network: &str) -> Result<Vec<Attachment>> {
        list_dir(&self.network_dir(network))
    }

    /// Every record of every network (the firewall table is shared by all of them).
    pub fn list_all(&self) -> Result<Vec<Attachment>> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_err(self.root.display(), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_err(self.root.display(), e))?;
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(list_dir(&entry.path())?);
            }
        }
        Ok(out)
    }
}

fn list_dir(dir: &Path) -> Result<Vec<Attachment>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err(dir.display(), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir.display(), e))?;
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let bytes = fs::read(&path).map_err(|e| io_err(path.display(), e))?;
        out.push(
            serde_json::from_slice(&bytes)
                .map_err(|e| CniError::new(Code::Decode, format!("{}: {e}", path.display())))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str) -> Attachment {
        Attachment {
            container_id: id.into(),
            ifname: "eth0".into(),
            network: "net".into(),
            host_veth: "pnabc".into(),
            ips: vec!["10.0.0.5/24".parse().unwrap()],
            port_mappings: vec![],
            ip_masq: true,
            masq_exempt: vec![],
        }
    }

    #[test]
    fn records_save_load_list_and_remove_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::new(dir.path());
        assert!(s.load("net", "a", "eth0").unwrap().is_none());
        s.save(&sample("a")).unwrap();
        s.save(&sample("b")).unwrap();
        assert_eq!(s.load("net", "a", "eth0").unwrap().unwrap(), sample("a"));
        assert_eq!(s.list("net").unwrap().len(), 2);
        assert_eq!(s.list_all().unwrap().len(), 2);
        s.remove("net", "a", "eth0").unwrap();
        s.remove("net", "a", "eth0").unwrap();
        assert_eq!(s.list("net").unwrap().len(), 1);
        assert_eq!(
            sample("a").subnets(),
            vec!["10.0.0.0/24".parse::<IpNet>().unwrap()]
        );
    }
}

//! The on-disk format is host-local's: podnet reads what host-local writes and
//! writes what host-local reads.

mod common;

use std::fs;
use std::path::Path;

use common::{addrs, ip, open, validated};

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with(".podnet-owner."))
        .collect();
    names.sort();
    names
}

#[test]
fn allocation_files_hold_id_crlf_ifname_and_last_reserved_holds_the_bare_address() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00:1::/64"}]]"#,
    );
    let store = open(dir.path());
    store
        .lock()
        .unwrap()
        .allocate(&cfg, " c1 ", "eth0", &[])
        .unwrap();
    assert_eq!(store.dir(), dir.path().join("testnet"));
    // The container id is trimmed, as host-local trims it.
    assert_eq!(
        fs::read(store.dir().join("10.1.0.2")).unwrap(),
        b"c1\r\neth0"
    );
    assert_eq!(
        fs::read(store.dir().join("fd00:1::2")).unwrap(),
        b"c1\r\neth0"
    );
    assert_eq!(
        fs::read(store.dir().join("last_reserved_ip.0")).unwrap(),
        b"10.1.0.2"
    );
    assert_eq!(
        fs::read(store.dir().join("last_reserved_ip.1")).unwrap(),
        b"fd00:1::2"
    );
    // No scratch file is left behind.
    assert_eq!(
        names(store.dir()),
        [
            "10.1.0.2",
            "fd00:1::2",
            "last_reserved_ip.0",
            "last_reserved_ip.1",
            "lock"
        ]
    );
}

#[test]
fn state_written_by_host_local_is_read_and_continued() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let net_dir = dir.path().join("testnet");
    fs::create_dir_all(&net_dir).unwrap();
    fs::write(net_dir.join("lock"), "").unwrap();
    fs::write(net_dir.join("10.1.0.2"), "hl-a\r\neth0").unwrap();
    fs::write(net_dir.join("10.1.0.3"), "hl-b\r\neth0").unwrap();
    fs::write(net_dir.join("10.1.0.6"), "hl-c\r\neth0").unwrap();
    fs::write(net_dir.join("last_reserved_ip.0"), "10.1.0.5").unwrap();
    let store = open(dir.path());
    let locked = store.lock().unwrap();
    assert_eq!(
        locked.allocations().unwrap(),
        [
            (ip("10.1.0.2"), "hl-a".to_string(), "eth0".to_string()),
            (ip("10.1.0.3"), "hl-b".to_string(), "eth0".to_string()),
            (ip("10.1.0.6"), "hl-c".to_string(), "eth0".to_string()),
        ]
    );
    // Round-robin continues after host-local's last reservation, skipping its files.
    assert_eq!(
        addrs(&locked.allocate(&cfg, "p1", "eth0", &[]).unwrap()),
        [ip("10.1.0.7")]
    );
    assert_eq!(locked.release("hl-b", "eth0").unwrap(), [ip("10.1.0.3")]);
    assert!(!net_dir.join("10.1.0.3").exists());
}

#[test]
fn a_last_reserved_address_outside_the_set_restarts_at_the_range_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.50"}]]"#,
    );
    let store = open(dir.path());
    fs::write(store.dir().join("last_reserved_ip.0"), "10.9.9.9").unwrap();
    let got = store
        .lock()
        .unwrap()
        .allocate(&cfg, "a", "eth0", &[])
        .unwrap();
    assert_eq!(addrs(&got), [ip("10.1.0.50")]);
}

#[test]
fn unreadable_last_reserved_content_restarts_at_the_range_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.50"}]]"#,
    );
    let store = open(dir.path());
    fs::write(store.dir().join("last_reserved_ip.0"), "not an address").unwrap();
    let got = store
        .lock()
        .unwrap()
        .allocate(&cfg, "a", "eth0", &[])
        .unwrap();
    assert_eq!(addrs(&got), [ip("10.1.0.50")]);
}

#[test]
fn the_last_address_of_the_range_wraps_to_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(
        dir.path(),
        r#"[[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.50"}]]"#,
    );
    let store = open(dir.path());
    fs::write(store.dir().join("last_reserved_ip.0"), "10.1.0.254").unwrap();
    let got = store
        .lock()
        .unwrap()
        .allocate(&cfg, "a", "eth0", &[])
        .unwrap();
    assert_eq!(addrs(&got), [ip("10.1.0.50")]);
}

#[test]
fn a_leftover_scratch_file_linked_to_an_allocation_is_never_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = validated(dir.path(), r#"[[{"subnet": "10.1.0.0/24"}]]"#);
    let store = open(dir.path());
    // A crash between link() and unlink() leaves the scratch name on the allocation's inode.
    fs::write(store.dir().join("10.1.0.2"), "crashed\r\neth0").unwrap();
    fs::hard_link(
        store.dir().join("10.1.0.2"),
        store.dir().join(".podnet-tmp"),
    )
    .unwrap();
    store
        .lock()
        .unwrap()
        .allocate(&cfg, "next", "eth0", &[])
        .unwrap();
    assert_eq!(
        fs::read(store.dir().join("10.1.0.2")).unwrap(),
        b"crashed\r\neth0"
    );
}

/// Runs the reference host-local plugin binary against a data dir.
mod reference_plugin {
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    pub fn binary() -> PathBuf {
        std::env::var_os("PODNET_HOST_LOCAL")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/lib/cni/host-local"))
    }

    /// Runs `command` and returns the parsed result (null for DEL).
    pub fn run(
        command: &str,
        data_dir: &Path,
        ranges_json: &str,
        container_id: &str,
        ifname: &str,
    ) -> serde_json::Value {
        let conf = format!(
            r#"{{"cniVersion": "1.0.0", "name": "testnet",
                "ipam": {{"type": "host-local", "dataDir": {:?}, "ranges": {ranges_json}}}}}"#,
            data_dir.to_str().unwrap()
        );
        let plugin = binary();
        let mut child = Command::new(&plugin)
            .env_clear()
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", container_id)
            .env("CNI_NETNS", "/proc/self/ns/net")
            .env("CNI_IFNAME", ifname)
            .env("CNI_PATH", plugin.parent().unwrap())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("host-local runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(conf.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "host-local {command} failed: {stdout}"
        );
        if stdout.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&stdout).unwrap()
        }
    }

    pub fn first_address(result: &serde_json::Value) -> String {
        result["ips"][0]["address"].as_str().unwrap().to_string()
    }
}

#[test]
fn podnet_and_the_reference_host_local_share_one_state_directory() {
    // The suite's setup installs containernetworking-plugins; elsewhere say why nothing ran.
    if !reference_plugin::binary().is_file() {
        eprintln!(
            "skipped: {} is missing (containernetworking-plugins)",
            reference_plugin::binary().display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ranges = r#"[[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00:1::/64"}]]"#;
    let cfg = validated(dir.path(), ranges);

    let first = reference_plugin::run("ADD", dir.path(), ranges, "hl-1", "eth0");
    assert_eq!(reference_plugin::first_address(&first), "10.1.0.2/24");

    let store = open(dir.path());
    let ours = store
        .lock()
        .unwrap()
        .allocate(&cfg, "pn-1", "eth0", &[])
        .unwrap();
    assert_eq!(addrs(&ours), [ip("10.1.0.3"), ip("fd00:1::3")]);

    let second = reference_plugin::run("ADD", dir.path(), ranges, "hl-2", "eth0");
    assert_eq!(reference_plugin::first_address(&second), "10.1.0.4/24");
    assert_eq!(second["ips"][1]["address"], "fd00:1::4/64");

    // host-local's DEL finds podnet's files; podnet's release finds host-local's.
    reference_plugin::run("DEL", dir.path(), ranges, "pn-1", "eth0");
    assert_eq!(
        store.lock().unwrap().release("hl-1", "eth0").unwrap(),
        [ip("10.1.0.2"), ip("fd00:1::2")]
    );
    let left: Vec<_> = store
        .lock()
        .unwrap()
        .allocations()
        .unwrap()
        .into_iter()
        .map(|(ip, id, _)| (ip, id))
        .collect();
    assert_eq!(
        left,
        [
            (ip("10.1.0.4"), "hl-2".to_string()),
            (ip("fd00:1::4"), "hl-2".to_string())
        ]
    );

    // A podnet retry after host-local's DEL does not trust the stale owner index.
    let again = store
        .lock()
        .unwrap()
        .allocate(&cfg, "pn-1", "eth0", &[])
        .unwrap();
    assert_eq!(addrs(&again), [ip("10.1.0.5"), ip("fd00:1::5")]);
}

//! End to end with a real containerd: `ctr run --cni` attaches two busybox containers
//! through the plugin, they talk to each other, a hostPort reaches a third pod from a
//! client outside the node, and after teardown nothing is left in the node namespace,
//! the IPAM data dir or the firewall.
//!
//! How it stays off the host:
//! - containerd gets a private root, state dir and socket under a temp dir and runs in a
//!   throwaway node namespace; every `ctr` runs there too (`ip netns exec`), and ctr is
//!   what executes the CNI plugins, so bridge, veths and rules land in the node.
//! - ctr only reads /etc/cni/net.d and /opt/cni/bin, so the test installs a uniquely
//!   named conflist and the plugin links there for its own duration only, and skips if
//!   another conflist would be loaded before its own (ctr loads the first one).
//!
//! What ctr does not do, and the test does instead, as a runtime would:
//! - ctr has no way to pass `portMappings`, so the hostPort pod is attached by invoking
//!   the same conflist directly (support::Conflist) with that capability argument.
//! - ctr before containerd 1.7 never runs CNI DEL for a detached container. The test runs
//!   DEL itself with the result ctr cached (as libcni does): for the first container while
//!   it still runs (as the CRI plugin does when stopping a sandbox), for the second after
//!   it is gone (no netns: DEL must still free everything), skipping a DEL ctr already ran.

mod support;

use serde_json::{json, Value};
use std::collections::HashSet;
use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};
use support::{
    in_ns, mentions_ip, run_bounded, run_bounded_in, skip, spawn_in_netns, Attachment, ChildGuard,
    Conflist, NodeNs, Output, PodNs, COMMAND_TIMEOUT,
};

/// /etc/cni/net.d is shared by every test that installs a conflist: one at a time.
static CNI_CONF_DIR: Mutex<()> = Mutex::new(());

const CNI_CONF_DIR_PATH: &str = "/etc/cni/net.d";
const CNI_BIN_DIR_PATH: &str = "/opt/cni/bin";
/// Where libcni (inside ctr) caches ADD results, keyed `<network>-<container>-<ifname>`.
const CNI_CACHE_DIR: &str = "/var/lib/cni/results";
/// Where containerd shims put their sockets whatever the configured state dir.
const CONTAINERD_RUN_DIR: &str = "/run/containerd";

const SUBNET: &str = "10.88.0.0/24";
const GATEWAY: &str = "10.88.0.1";
const HTTP_PORT: u16 = 8080;
const HOST_PORT: u16 = 18080;
/// The link between the node and the client outside it, for the hostPort check.
const NODE_UPLINK_ADDR: &str = "192.168.250.1";
const CLIENT_ADDR: &str = "192.168.250.2";

/// Which plugins serve the network. The reference chain proves the harness against
/// containernetworking-plugins; the podnet one is the plugin under test.
#[derive(Clone, Copy, Debug)]
enum Flavor {
    Podnet,
    Reference,
}

impl Flavor {
    fn conflist(self, network: &str, ipam_dir: &Path) -> Value {
        let data_dir = ipam_dir.display().to_string();
        match self {
            Flavor::Podnet => json!({
                "cniVersion": "1.0.0",
                "name": network,
                "plugins": [{
                    "type": "podnet-cni",
                    "bridge": "pct-e2e0",
                    "isGateway": true,
                    "isDefaultGateway": true,
                    "ipMasq": true,
                    "ipam": {
                        "type": "podnet-ipam",
                        "ranges": [[{ "subnet": SUBNET, "gateway": GATEWAY }]],
                        "dataDir": data_dir,
                    },
                    "capabilities": { "portMappings": true },
                }],
            }),
            Flavor::Reference => json!({
                "cniVersion": "1.0.0",
                "name": network,
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": "pct-e2e0",
                        "isGateway": true,
                        "isDefaultGateway": true,
                        "ipMasq": true,
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{ "subnet": SUBNET, "gateway": GATEWAY }]],
                            "dataDir": data_dir,
                        },
                    },
                    { "type": "portmap", "capabilities": { "portMappings": true } },
                ],
            }),
        }
    }

    /// The binaries ctr must find in /opt/cni/bin, and whether an existing file of that
    /// name may stand in for ours (a reference plugin may; the plugin under test not).
    fn binaries(self) -> Vec<(&'static str, PathBuf, bool)> {
        match self {
            Flavor::Podnet => vec![("podnet-cni", support::podnet_cni_binary(), false)],
            Flavor::Reference => ["bridge", "host-local", "portmap"]
                .into_iter()
                .map(|name| {
                    (
                        name,
                        Path::new(support::REFERENCE_PLUGIN_DIR).join(name),
                        true,
                    )
                })
                .collect(),
        }
    }

    /// Debian's portmap 1.1.1 fails CHECK on an IPv4-only pod, looking for an IPv6
    /// DNAT chain it never made; CHECK is only asserted for the plugin under test.
    fn check_is_reliable(self) -> bool {
        matches!(self, Flavor::Podnet)
    }

    /// Debian's bridge 1.1.1 returns from a DEL without netns before tearing down its
    /// ipMasq rules (it learns the addresses from the interface), so it leaks them.
    fn del_without_netns_clears_rules(self) -> bool {
        matches!(self, Flavor::Podnet)
    }

    fn rules_tool(self) -> &'static str {
        match self {
            Flavor::Podnet => "nft",
            Flavor::Reference => "iptables-save",
        }
    }

    /// The node's firewall state the plugins own, as text.
    fn rules(self, node: &NodeNs) -> String {
        match self {
            Flavor::Podnet => {
                let out = in_ns(node.name(), &["nft", "list", "table", "inet", "podnet-cni"]);
                // A table that was never created or already removed holds nothing.
                if !out.success() && out.stderr.contains("No such file or directory") {
                    return String::new();
                }
                out.expect_success("nft list table inet podnet-cni")
                    .stdout
                    .clone()
            }
            Flavor::Reference => in_ns(node.name(), &["iptables-save"])
                .expect_success("iptables-save")
                .stdout
                .clone(),
        }
    }
}

#[test]
fn containerd_attaches_two_containers_through_podnet_cni_and_teardown_leaves_nothing() {
    run_e2e(Flavor::Podnet);
}

#[test]
fn containerd_attaches_two_containers_through_the_reference_bridge_and_teardown_leaves_nothing() {
    run_e2e(Flavor::Reference);
}

fn run_e2e(flavor: Flavor) {
    if !support::root_or_skip() {
        return;
    }
    let busybox = match prerequisites(flavor) {
        Ok(busybox) => busybox,
        Err(reason) => return skip(&reason),
    };
    let _one_at_a_time = CNI_CONF_DIR.lock().unwrap_or_else(|e| e.into_inner());

    let pid = std::process::id();
    let network = format!("pct-{pid}-e2e");
    let ctr_namespace = format!("pct-{pid}");
    let work = tempfile::Builder::new()
        .prefix(&format!("pct-{pid}-e2e"))
        .tempdir()
        .expect("creating the work dir");
    let ipam_dir = work.path().join("ipam");
    let marker = format!("served by podnet e2e {pid}");
    let rootfs = build_rootfs(&work.path().join("rootfs"), &busybox, &marker);
    let conflist_doc = flavor.conflist(&network, &ipam_dir);

    // Declared in this order so that they drop in reverse: containerd and its tasks
    // first, then the installed CNI files, then the namespaces.
    let node = NodeNs::new();
    let install = match CniInstall::new(&network, &conflist_doc, &flavor.binaries()) {
        Ok(install) => install,
        Err(reason) => return skip(&reason),
    };
    let containerd = Containerd::start(&node, &ctr_namespace, work.path());

    // Two containers attached by ctr itself.
    let web = containerd.run_container(
        "web",
        &rootfs,
        &[
            "/bin/httpd",
            "-f",
            "-p",
            &HTTP_PORT.to_string(),
            "-h",
            "/www",
        ],
    );
    let client = containerd.run_container("client", &rootfs, &["/bin/sleep", "3600"]);
    let web_result = install.cached_result(&containerd.full_id("web"));
    let client_result = install.cached_result(&containerd.full_id("client"));
    let web_ip = expect_ip_in_subnet(&web_result, "web");
    let client_ip = expect_ip_in_subnet(&client_result, "client");
    assert_ne!(web_ip, client_ip, "both containers got {web_ip}");
    assert_eq!(
        containerd.eth0_ipv4(&web),
        web_ip,
        "web's eth0 vs its CNI result"
    );
    assert_eq!(
        containerd.eth0_ipv4(&client),
        client_ip,
        "client's eth0 vs its CNI result"
    );

    let http_get = format!(
        "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | /bin/nc -w 5 {web_ip} {HTTP_PORT}"
    );
    let reply = retry_until_contains("client fetching from web", &marker, || {
        containerd.exec(&client, &["/bin/sh", "-c", &http_get])
    });
    assert!(reply.stdout.contains("200 OK"), "{reply}");
    containerd
        .exec(
            &web,
            &["/bin/ping", "-c", "1", "-W", "2", &client_ip.to_string()],
        )
        .expect_success("web pinging client");

    // A hostPort, through the same network, reached from a client outside the node.
    let conflist = Conflist::new(conflist_doc.clone());
    let hostport_pod = PodNs::new();
    let hostport_id = format!("pct-{pid}-hostport");
    let hostport_attachment = Attachment::new(&hostport_id, &hostport_pod.path()).with_capability(
        "portMappings",
        json!([{ "hostPort": HOST_PORT, "containerPort": HTTP_PORT, "protocol": "tcp" }]),
    );
    let hostport_result = conflist
        .add(&node, &hostport_attachment)
        .unwrap_or_else(|e| panic!("ADD of the hostPort pod: {e}"));
    let hostport_ip = expect_ip_in_subnet(&hostport_result, "hostport pod");
    let hostport_server = serve_http(&busybox, &hostport_pod, &rootfs.join("www"));
    let outside = PodNs::new();
    connect_outside_client(&node, &outside);
    let reply = retry_until_contains(
        "outside client fetching through the hostPort",
        &marker,
        || http_get_from(&busybox, &outside, NODE_UPLINK_ADDR, HOST_PORT),
    );
    assert!(reply.stdout.contains("200 OK"), "{reply}");
    if flavor.check_is_reliable() {
        conflist
            .check(&node, &hostport_attachment, &hostport_result)
            .unwrap_or_else(|e| panic!("CHECK of the hostPort pod: {e}"));
    }

    // While attached, each pod has an allocation and rules naming it, so the absence
    // checks below cannot pass vacuously.
    let ips = [
        web_ip.to_string(),
        client_ip.to_string(),
        hostport_ip.to_string(),
    ];
    let rules = flavor.rules(&node);
    for ip in &ips {
        assert!(
            allocation_files(&ipam_dir).contains(ip),
            "no allocation for {ip} in {}",
            ipam_dir.display()
        );
        assert!(
            mentions_ip(&rules, ip),
            "{} shows nothing for {ip}:\n{rules}",
            flavor.rules_tool()
        );
    }

    // Teardown, as described at the top of the file.
    drop(hostport_server);
    conflist
        .del(&node, &hostport_attachment, Some(&hostport_result))
        .unwrap_or_else(|e| panic!("DEL of the hostPort pod: {e}"));
    run_ok_in(&node, &["ip", "link", "del", "ext0"]);

    let web_netns = PathBuf::from(format!("/proc/{}/ns/net", web.pid));
    install.del_cached(
        &node,
        &conflist,
        &containerd.full_id("web"),
        Some(&web_netns),
    );
    containerd.kill_and_remove(&web);

    containerd.kill_and_remove(&client);
    install.del_cached(&node, &conflist, &containerd.full_id("client"), None);

    let veths = in_ns(node.name(), &["ip", "-o", "link", "show", "type", "veth"]);
    assert!(
        veths
            .expect_success("listing veths")
            .stdout
            .trim()
            .is_empty(),
        "veths left in the node: {}",
        veths.stdout
    );
    let left = allocation_files(&ipam_dir);
    for ip in &ips {
        assert!(
            !left.contains(ip),
            "allocation for {ip} left in {}",
            ipam_dir.display()
        );
    }
    let rules = flavor.rules(&node);
    for ip in &ips {
        if *ip == client_ip.to_string() && !flavor.del_without_netns_clears_rules() {
            continue;
        }
        assert!(
            !mentions_ip(&rules, ip),
            "{} still shows {ip}:\n{rules}",
            flavor.rules_tool()
        );
    }
}

/// The static busybox to build the rootfs from, or why the test cannot run here.
fn prerequisites(flavor: Flavor) -> Result<PathBuf, String> {
    for tool in ["containerd", "ctr", "runc", "ip", flavor.rules_tool()] {
        if find_in_path(tool).is_none() {
            return Err(format!("{tool} is not installed"));
        }
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or("busybox is not installed (busybox-static)")?;
    match is_static_elf(&busybox) {
        Ok(true) => {}
        Ok(false) => {
            return Err(format!(
                "{} is not statically linked (busybox-static)",
                busybox.display()
            ))
        }
        Err(e) => return Err(format!("reading {}: {e}", busybox.display())),
    }
    if let Flavor::Reference = flavor {
        for (name, path, _) in flavor.binaries() {
            if !path.is_file() {
                return Err(format!(
                    "reference plugin {name} is missing (containernetworking-plugins)"
                ));
            }
        }
    }
    Ok(busybox)
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Whether an ELF executable has no program interpreter, i.e. runs in an empty rootfs.
fn is_static_elf(path: &Path) -> io::Result<bool> {
    const PT_INTERP: u32 = 3;
    let bytes = fs::read(path)?;
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "not a 64-bit little-endian ELF file",
        )
    };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return Err(invalid());
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().expect("8 bytes")) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let kind = bytes.get(at..at + 4).ok_or_else(invalid)?;
        if u32::from_le_bytes(kind.try_into().expect("4 bytes")) == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A minimal root filesystem: busybox and the applets the test uses, and a page to serve.
fn build_rootfs(root: &Path, busybox: &Path, marker: &str) -> PathBuf {
    for dir in ["bin", "proc", "sys", "dev", "tmp", "etc", "www"] {
        fs::create_dir_all(root.join(dir)).expect("creating rootfs dirs");
    }
    fs::copy(busybox, root.join("bin/busybox")).expect("copying busybox into the rootfs");
    let applets = [
        "sh", "ip", "ifconfig", "wget", "nc", "httpd", "sleep", "cat", "echo", "ping", "printf",
        "ls",
    ];
    for applet in applets {
        symlink("busybox", root.join("bin").join(applet)).expect("linking a busybox applet");
    }
    fs::write(root.join("www/index.html"), format!("{marker}\n")).expect("writing index.html");
    root.to_path_buf()
}

/// The conflist and plugin links installed where ctr looks, removed again on drop along
/// with every directory the test had to create and the results ctr cached.
struct CniInstall {
    network: String,
    files: Vec<PathBuf>,
    created_dirs: Vec<PathBuf>,
}

impl CniInstall {
    /// Installs, or says why the test must skip rather than touch what is there.
    fn new(
        network: &str,
        conflist: &Value,
        binaries: &[(&str, PathBuf, bool)],
    ) -> Result<CniInstall, String> {
        let conf_name = format!("10-podnet-e2e-{}.conflist", std::process::id());
        let earlier = fs::read_dir(CNI_CONF_DIR_PATH)
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok())
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .filter(|name| {
                        [".conf", ".conflist", ".json"]
                            .iter()
                            .any(|ext| name.ends_with(ext))
                    })
                    .filter(|name| name.as_str() < conf_name.as_str())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if !earlier.is_empty() {
            return Err(format!(
                "{CNI_CONF_DIR_PATH} holds {earlier:?}, which ctr would load instead of the test's conflist"
            ));
        }
        for (name, target, may_reuse) in binaries {
            let installed = Path::new(CNI_BIN_DIR_PATH).join(name);
            if installed.symlink_metadata().is_ok() && !may_reuse && !same_file(&installed, target)
            {
                return Err(format!(
                    "{} exists and is not the binary under test",
                    installed.display()
                ));
            }
        }

        let mut install = CniInstall {
            network: network.to_string(),
            files: Vec::new(),
            created_dirs: Vec::new(),
        };
        for dir in [
            "/etc/cni",
            CNI_CONF_DIR_PATH,
            "/opt/cni",
            CNI_BIN_DIR_PATH,
            "/var/lib/cni",
            CNI_CACHE_DIR,
        ] {
            install.create_dir(Path::new(dir));
        }
        let conf_path = Path::new(CNI_CONF_DIR_PATH).join(conf_name);
        fs::write(
            &conf_path,
            serde_json::to_vec_pretty(conflist).expect("conflist JSON"),
        )
        .unwrap_or_else(|e| panic!("writing {}: {e}", conf_path.display()));
        install.files.push(conf_path);
        for (name, target, _) in binaries {
            let installed = Path::new(CNI_BIN_DIR_PATH).join(name);
            if installed.symlink_metadata().is_ok() {
                continue;
            }
            symlink(target, &installed)
                .unwrap_or_else(|e| panic!("linking {}: {e}", installed.display()));
            install.files.push(installed);
        }
        Ok(install)
    }

    fn create_dir(&mut self, dir: &Path) {
        if dir.exists() {
            return;
        }
        fs::create_dir(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        self.created_dirs.push(dir.to_path_buf());
    }

    fn cache_path(&self, container_id: &str) -> PathBuf {
        Path::new(CNI_CACHE_DIR).join(format!("{}-{container_id}-eth0", self.network))
    }

    /// The result libcni cached when ctr ran ADD for `container_id`.
    fn cached_result(&self, container_id: &str) -> Value {
        let path = self.cache_path(container_id);
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading the cached CNI result {}: {e}", path.display()));
        let cache: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
        match cache.get("result") {
            Some(result) if result.is_object() => result.clone(),
            _ => panic!("{} holds no result: {text}", path.display()),
        }
    }

    /// CNI DEL for a container ctr attached, with its cached result as prevResult,
    /// then drops the cache entry as libcni does. Nothing to do when ctr already ran
    /// DEL itself (newer ctr does on kill), which removed the entry.
    fn del_cached(
        &self,
        node: &NodeNs,
        conflist: &Conflist,
        container_id: &str,
        netns: Option<&Path>,
    ) {
        let path = self.cache_path(container_id);
        if !path.exists() {
            return;
        }
        let result = self.cached_result(container_id);
        let attachment = Attachment {
            netns: netns.map(Path::to_path_buf),
            ..Attachment::new(container_id, Path::new(""))
        };
        conflist
            .del(node, &attachment, Some(&result))
            .unwrap_or_else(|e| panic!("DEL of {container_id}: {e}"));
        fs::remove_file(&path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
    }
}

impl Drop for CniInstall {
    fn drop(&mut self) {
        for file in &self.files {
            if let Err(e) = fs::remove_file(file) {
                eprintln!("cleanup: removing {}: {e}", file.display());
            }
        }
        let cache_prefix = format!("{}-", self.network);
        if let Ok(entries) = fs::read_dir(CNI_CACHE_DIR) {
            for entry in entries.filter_map(|entry| entry.ok()) {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&cache_prefix)
                {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        // Only directories the test created, and only if nothing else moved in.
        for dir in self.created_dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A container started by `ctr run`.
struct Container {
    id: String,
    pid: u32,
}

/// A private containerd in the node namespace; on drop its containers are killed and
/// removed, the daemon stopped, anything mounted under its dirs unmounted, and the dirs
/// removed.
struct Containerd {
    daemon: Option<Child>,
    node_name: String,
    namespace: String,
    dir: PathBuf,
    address: PathBuf,
    run_dir_existed: bool,
    next_exec: AtomicU32,
}

impl Containerd {
    fn start(node: &NodeNs, namespace: &str, work: &Path) -> Containerd {
        let dir = work.join("containerd");
        fs::create_dir_all(&dir).expect("creating the containerd dir");
        let address = dir.join("containerd.sock");
        let config = format!(
            "version = 2\n\
             root = \"{root}\"\n\
             state = \"{state}\"\n\
             # No CRI: nothing but ctr should run CNI plugins here.\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{address}\"\n\
             [ttrpc]\n  address = \"{address}.ttrpc\"\n",
            root = dir.join("root").display(),
            state = dir.join("state").display(),
            address = address.display(),
        );
        let config_path = dir.join("config.toml");
        fs::write(&config_path, config).expect("writing the containerd config");
        let log =
            fs::File::create(dir.join("containerd.log")).expect("creating the containerd log");
        let mut command = Command::new("containerd");
        command
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        // Entered with setns, not `ip netns exec`: that remounts /sys, hiding the cgroup
        // mounts runc needs.
        let child = spawn_in_netns(&mut command, &node.path()).expect("starting containerd");
        let containerd = Containerd {
            daemon: Some(child),
            node_name: node.name().to_string(),
            namespace: namespace.to_string(),
            dir,
            address,
            run_dir_existed: Path::new(CONTAINERD_RUN_DIR).exists(),
            next_exec: AtomicU32::new(0),
        };
        containerd.wait_ready();
        containerd
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.address.exists() && self.ctr(&["version"]).success() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "containerd did not come up; its log ends:\n{}",
                    self.log_tail()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `ctr` against this containerd, run in the node namespace.
    fn ctr(&self, args: &[&str]) -> Output {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.node_name, "ctr", "--address"])
            .arg(&self.address)
            .args(["--namespace", &self.namespace])
            .args(args);
        run_bounded(command, "", COMMAND_TIMEOUT).unwrap_or_else(|e| panic!("ctr {args:?}: {e}"))
    }

    fn fifo_dir(&self) -> String {
        self.dir.join("fifo").display().to_string()
    }

    /// The ID ctr hands to CNI: `<namespace>-<container>`.
    fn full_id(&self, id: &str) -> String {
        format!("{}-{id}", self.namespace)
    }

    fn run_container(&self, id: &str, rootfs: &Path, argv: &[&str]) -> Container {
        let pid_file = self.dir.join(format!("{id}.pid"));
        let runc_root = self.dir.join("runc").display().to_string();
        let fifo_dir = self.fifo_dir();
        let pid_path = pid_file.display().to_string();
        let rootfs = rootfs.display().to_string();
        let mut args = vec![
            "run",
            "--cni",
            "--rootfs",
            "--detach",
            "--null-io",
            "--fifo-dir",
            &fifo_dir,
            "--runc-root",
            &runc_root,
            "--pid-file",
            &pid_path,
            &rootfs,
            id,
        ];
        args.extend_from_slice(argv);
        let out = self.ctr(&args);
        if !out.success() {
            panic!(
                "ctr run {id} failed: {out}\ncontainerd log ends:\n{}",
                self.log_tail()
            );
        }
        let pid = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or_else(|| panic!("ctr wrote no pid to {}", pid_file.display()));
        Container {
            id: id.to_string(),
            pid,
        }
    }

    fn exec(&self, container: &Container, argv: &[&str]) -> Output {
        let exec_id = format!("x{}", self.next_exec.fetch_add(1, Ordering::Relaxed));
        let fifo_dir = self.fifo_dir();
        let mut args = vec![
            "task",
            "exec",
            "--fifo-dir",
            &fifo_dir,
            "--exec-id",
            &exec_id,
            &container.id,
        ];
        args.extend_from_slice(argv);
        self.ctr(&args)
    }

    fn eth0_ipv4(&self, container: &Container) -> Ipv4Addr {
        let out = self.exec(
            container,
            &["/bin/ip", "-o", "-4", "addr", "show", "dev", "eth0"],
        );
        out.expect_success("ip addr show eth0");
        let cidr = out
            .stdout
            .split_whitespace()
            .skip_while(|word| *word != "inet")
            .nth(1)
            .unwrap_or_else(|| panic!("no IPv4 address on {}'s eth0: {out}", container.id));
        cidr.split('/')
            .next()
            .and_then(|ip| ip.parse().ok())
            .unwrap_or_else(|| panic!("bad address {cidr}"))
    }

    fn task_status(&self, id: &str) -> Option<String> {
        let out = self.ctr(&["task", "ls"]);
        out.stdout
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|fields| fields.first() == Some(&id))
            .and_then(|fields| fields.get(2).map(|status| status.to_string()))
    }

    fn kill_and_remove(&self, container: &Container) {
        self.ctr(&["task", "kill", "--signal", "SIGKILL", &container.id])
            .expect_success("ctr task kill");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.task_status(&container.id).as_deref() == Some("RUNNING") {
            assert!(
                Instant::now() < deadline,
                "{} still running after SIGKILL",
                container.id
            );
            thread::sleep(Duration::from_millis(50));
        }
        self.ctr(&["container", "rm", &container.id])
            .expect_success("ctr container rm");
    }

    fn remove_everything(&self) {
        let tasks = self.ctr(&["task", "ls", "--quiet"]);
        for id in tasks.stdout.split_whitespace() {
            let _ = self.ctr(&["task", "kill", "--signal", "SIGKILL", id]);
            let _ = self.ctr(&["task", "delete", "--force", id]);
        }
        let containers = self.ctr(&["container", "ls", "--quiet"]);
        for id in containers.stdout.split_whitespace() {
            let out = self.ctr(&["container", "rm", id]);
            if !out.success() {
                eprintln!("cleanup: ctr container rm {id}: {out}");
            }
        }
    }

    fn stop_daemon(&mut self) {
        let Some(mut child) = self.daemon.take() else {
            return;
        };
        // SAFETY: signalling our own child, which has not been reaped yet.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
            }
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if self.daemon.is_some() {
            self.remove_everything();
        }
        self.stop_daemon();
        unmount_under(&self.dir);
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("cleanup: removing {}: {e}", self.dir.display());
        }
        if !self.run_dir_existed {
            // Shim socket dir containerd creates whatever its config says; left empty.
            for dir in ["s", "fifo"] {
                let _ = fs::remove_dir(Path::new(CONTAINERD_RUN_DIR).join(dir));
            }
            let _ = fs::remove_dir(CONTAINERD_RUN_DIR);
        }
    }
}

/// Lazily unmounts everything mounted at or below `dir`, deepest first.
fn unmount_under(dir: &Path) {
    let Ok(mountinfo) = fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(unescape_mount_point(point)))
        .filter(|point| point.starts_with(dir))
        .collect();
    points.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
    for point in points {
        let Ok(c_path) = std::ffi::CString::new(point.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: a valid NUL-terminated path; MNT_DETACH cannot block on busy mounts.
        if unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH) } != 0 {
            eprintln!(
                "cleanup: unmounting {}: {}",
                point.display(),
                io::Error::last_os_error()
            );
        }
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mount_point(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 4 <= bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let octal = std::str::from_utf8(&bytes[i + 1..i + 4]).expect("ascii digits");
            out.push(u8::from_str_radix(octal, 8).expect("octal digits"));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn expect_ip_in_subnet(result: &Value, who: &str) -> Ipv4Addr {
    let ip: Ipv4Addr = support::result_ip(result)
        .and_then(|ip| ip.parse().ok())
        .unwrap_or_else(|| panic!("{who}'s CNI result has no IPv4 address: {result}"));
    let network = Ipv4Addr::new(10, 88, 0, 0);
    let in_subnet = u32::from(ip) & 0xffff_ff00 == u32::from(network);
    let usable = !matches!(ip.octets()[3], 0 | 1 | 255);
    assert!(
        in_subnet && usable,
        "{who} got {ip}, outside the usable part of {SUBNET}"
    );
    ip
}

/// Names of the files under the IPAM data dir; an allocation is a file named by its IP.
fn allocation_files(dir: &Path) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(|entry| entry.ok()) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                names.insert(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names
}

fn run_ok_in(node: &NodeNs, argv: &[&str]) {
    in_ns(node.name(), argv).expect_success(&argv.join(" "));
}

/// A busybox httpd serving `www` inside `pod`, stopped on drop.
fn serve_http(busybox: &Path, pod: &PodNs, www: &Path) -> ChildGuard {
    let mut command = Command::new(busybox);
    command
        .args(["httpd", "-f", "-p", &HTTP_PORT.to_string(), "-h"])
        .arg(www)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child =
        spawn_in_netns(&mut command, &pod.path()).expect("starting httpd in the hostPort pod");
    ChildGuard { child }
}

/// Wires `outside` to the node over a veth, as a client on the node's network would be.
fn connect_outside_client(node: &NodeNs, outside: &PodNs) {
    run_ok_in(
        node,
        &[
            "ip",
            "link",
            "add",
            "ext0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            outside.name(),
        ],
    );
    run_ok_in(
        node,
        &[
            "ip",
            "addr",
            "add",
            &format!("{NODE_UPLINK_ADDR}/30"),
            "dev",
            "ext0",
        ],
    );
    run_ok_in(node, &["ip", "link", "set", "ext0", "up"]);
    for argv in [
        &[
            "ip",
            "addr",
            "add",
            &format!("{CLIENT_ADDR}/30"),
            "dev",
            "eth0",
        ][..],
        &["ip", "link", "set", "eth0", "up"][..],
    ] {
        in_ns(outside.name(), argv).expect_success(&argv.join(" "));
    }
}

fn http_get_from(busybox: &Path, client: &PodNs, host: &str, port: u16) -> Output {
    let mut command = Command::new(busybox);
    command.args(["nc", "-w", "5", host, &port.to_string()]);
    run_bounded_in(
        command,
        Some(&client.path()),
        "GET /index.html HTTP/1.0\r\n\r\n",
        COMMAND_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("nc {host} {port}: {e}"))
}

/// Retries `attempt` for a few seconds until its output contains `expected` (servers
/// need a moment to listen), panicking with the last output if it never does.
fn retry_until_contains(what: &str, expected: &str, mut attempt: impl FnMut() -> Output) -> Output {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = attempt();
        if out.stdout.contains(expected) {
            return out;
        }
        if Instant::now() >= deadline {
            panic!("{what}: never got {expected:?}; last try: {out}");
        }
        thread::sleep(Duration::from_millis(200));
    }
}

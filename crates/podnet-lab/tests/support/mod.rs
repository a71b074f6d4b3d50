//! Fixtures for the root tests: throwaway labs whose host is a namespace of their
//! own, removed on drop (also when an assertion fails), and an ICMP echo that runs
//! inside a namespace without any outside tool.

#![allow(dead_code)]

use std::io;
use std::mem;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use podnet_lab::{LabConfig, LabPlan, LabScope};
use podnet_netlink::{sysctl, Handle, NetNs, NETNS_RUN_DIR};

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Skips the calling test with a printed reason when not root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !support::is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

/// A prefix no other test (of this or another process) uses: `pnt` + 5 hex digits
/// of the pid + 2 digits of a counter, 10 bytes.
pub fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "pnt{:05x}{:02}",
        std::process::id() & 0xfffff,
        NEXT.fetch_add(1, Ordering::Relaxed) % 100
    )
}

/// A named namespace, deleted on drop.
pub struct TestNs {
    pub name: String,
    pub ns: NetNs,
}

impl TestNs {
    pub fn new(name: String) -> TestNs {
        let ns = NetNs::create_named(&name).unwrap_or_else(|e| panic!("create netns {name}: {e}"));
        let test = TestNs { name, ns };
        let mut handle = test.handle();
        let lo = handle
            .link_by_name("lo")
            .unwrap()
            .expect("every namespace has lo");
        handle.set_up(lo.index).unwrap();
        test
    }

    pub fn handle(&self) -> Handle {
        Handle::in_netns(&self.ns).unwrap_or_else(|e| panic!("handle in {}: {e}", self.name))
    }

    pub fn sysctl(&self, key: &str, value: &str) {
        self.ns
            .run(|| sysctl::set(key, value))
            .and_then(|set| set)
            .unwrap_or_else(|e| panic!("{key}={value} in {}: {e}", self.name));
    }

    /// Runs nft inside the namespace (from a thread that entered it, so the process
    /// starts there) and returns whether it succeeded.
    pub fn nft(&self, args: &[&str]) -> bool {
        self.ns
            .run(|| Command::new("nft").args(args).output())
            .expect("enter namespace")
            .expect("run nft")
            .status
            .success()
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        if let Err(e) = NetNs::delete_named(&self.name) {
            eprintln!("cleanup: could not delete netns {}: {e}", self.name);
        }
    }
}

/// A lab whose host is a throwaway namespace `{prefix}-host`, with its state in a
/// temporary directory. Dropping it runs `down` and deletes the host namespace.
pub struct TestLab {
    pub scope: LabScope,
    pub host: TestNs,
    pub state: tempfile::TempDir,
}

impl TestLab {
    pub fn new() -> TestLab {
        let prefix = unique_prefix();
        let host = TestNs::new(format!("{prefix}-host"));
        let state = tempfile::tempdir().expect("temporary state directory");
        let mut scope = LabScope::new(prefix);
        scope.host_netns = Some(host.name.clone());
        scope.state_dir = state.path().join("lab");
        TestLab { scope, host, state }
    }

    pub fn plan(&self, nodes: usize) -> LabPlan {
        LabPlan::new(LabConfig {
            scope: self.scope.clone(),
            nodes,
            ..LabConfig::default()
        })
        .expect("the test plan is valid")
    }

    /// Names under /run/netns that start with this lab's prefix, the host's own
    /// namespace aside.
    pub fn netns_entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(NETNS_RUN_DIR)
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                    .filter(|name| name.starts_with(&self.scope.prefix) && *name != self.host.name)
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Links of the host namespace other than loopback.
    pub fn host_links(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .host
            .handle()
            .links()
            .unwrap()
            .into_iter()
            .map(|link| link.name)
            .filter(|name| name != "lo")
            .collect();
        names.sort();
        names
    }

    pub fn open_netns(&self, name: &str) -> NetNs {
        NetNs::open(Path::new(NETNS_RUN_DIR).join(name))
            .unwrap_or_else(|e| panic!("open netns {name}: {e}"))
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        if let Err(e) = podnet_lab::down(&self.scope) {
            eprintln!("cleanup: down of {} failed: {e}", self.scope.prefix);
        }
    }
}

/// Whether `dst` answers an ICMP echo sent from inside `ns` within `timeout`.
pub fn ping(ns: &NetNs, dst: Ipv4Addr, timeout: Duration) -> bool {
    ns.run(|| echo(dst, timeout))
        .expect("enter namespace")
        .unwrap_or_else(|e| panic!("ICMP echo to {dst}: {e}"))
}

/// A reachable address answers well within this.
pub const ANSWERS: Duration = Duration::from_secs(5);
/// How long a dropped echo is given before it counts as dropped.
pub const DROPPED: Duration = Duration::from_millis(1500);

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut packet = vec![8, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(b"podnet-lab-probe");
    let sum = checksum(&packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// Sends echo requests on a raw ICMP socket (in the calling thread's namespace)
/// every 200 ms until a matching reply arrives or time is up.
fn echo(dst: Ipv4Addr, timeout: Duration) -> io::Result<bool> {
    static NEXT_ID: AtomicU32 = AtomicU32::new(1);
    let id = (std::process::id() as u16) ^ (NEXT_ID.fetch_add(1, Ordering::Relaxed) as u16);
    // SAFETY: plain socket call; the descriptor is owned right away.
    let raw = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMP,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh descriptor nobody else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    let wait = libc::timeval {
        tv_sec: 0,
        tv_usec: 200_000,
    };
    // SAFETY: the option value is a timeval of the given size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&wait as *const libc::timeval).cast(),
            mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let target = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(dst).to_be(),
        },
        sin_zero: [0; 8],
    };
    let deadline = Instant::now() + timeout;
    let mut seq: u16 = 0;
    while Instant::now() < deadline {
        seq = seq.wrapping_add(1);
        let packet = echo_request(id, seq);
        // SAFETY: buffer and address are valid for the given lengths.
        let sent = unsafe {
            libc::sendto(
                socket.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&target as *const libc::sockaddr_in).cast(),
                mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            // No route or no neighbour yet: not answered this round.
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        let round_end = Instant::now() + Duration::from_millis(200);
        while Instant::now() < round_end {
            let mut buffer = [0u8; 1500];
            // SAFETY: the buffer is valid for its length.
            let received = unsafe {
                libc::recv(
                    socket.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    0,
                )
            };
            if received < 0 {
                let error = io::Error::last_os_error();
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) {
                    break;
                }
                return Err(error);
            }
            let packet = &buffer[..received as usize];
            if is_reply(packet, dst, id) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// An IPv4 packet from `from` carrying an echo reply with our identifier.
fn is_reply(packet: &[u8], from: Ipv4Addr, id: u16) -> bool {
    if packet.len() < 20 {
        return false;
    }
    let header = usize::from(packet[0] & 0x0f) * 4;
    let source = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
    let Some(icmp) = packet.get(header..header + 8) else {
        return false;
    };
    source == from && icmp[0] == 0 && u16::from_be_bytes([icmp[4], icmp[5]]) == id
}

/// The packet count of the first `counter` in an nft listing line containing `needle`.
pub fn counter_packets(listing: &str, needle: &str) -> Option<u64> {
    let line = listing.lines().find(|line| line.contains(needle))?;
    let after = line.split("counter packets ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

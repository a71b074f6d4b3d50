//! Root test of packets through the proxy's rules: a client namespace, a node namespace
//! holding the table (forwarding) and a server namespace, joined by veth pairs.
//!
//! SCTP is tested with hand-built packets over raw sockets, so that it needs no SCTP
//! stack in the kernel (many kernels ship without the sctp module): the client sends an
//! INIT chunk to the cluster IP, the server's raw socket sees it arrive at the endpoint's
//! address and target port with a checksum the NAT rewrote correctly.

mod support;

use std::collections::BTreeMap;
use std::mem::size_of;
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podnet_proxy::{ProxyConfig, ServiceProxy, SERVICE_NAME_LABEL};
use support::{is_root, Netns};

const IPPROTO_SCTP: i32 = 132;
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 244, 1, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 244, 2, 2);
const CLUSTER_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 20);
const SERVICE_PORT: u16 = 7000;
const TARGET_PORT: u16 = 7001;
const CLIENT_PORT: u16 = 5000;

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("ip");
    assert!(status.success(), "ip {}", args.join(" "));
}

/// Client and server namespaces routed through `node` (10.244.1.0/24 and
/// 10.244.2.0/24), forwarding on, a default route to an
/// uplink that leads nowhere.
fn wire(node: &Netns, client: &Netns, server: &Netns) {
    for (link, pod, address, gateway) in [
        ("vclient", client, CLIENT, "10.244.1.1"),
        ("vserver", server, SERVER, "10.244.2.1"),
    ] {
        ip(&[
            "-n", &node.name, "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns",
            &pod.name,
        ]);
        ip(&[
            "-n",
            &node.name,
            "addr",
            "add",
            &format!("{gateway}/24"),
            "dev",
            link,
        ]);
        ip(&["-n", &node.name, "link", "set", link, "up"]);
        ip(&[
            "-n",
            &pod.name,
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", &pod.name, "link", "set", "eth0", "up"]);
        ip(&["-n", &pod.name, "route", "add", "default", "via", gateway]);
    }
    // A node has a default route: without one, traffic to a cluster IP nobody
    // translates would fail the routing lookup before the proxy's filter rules saw it.
    ip(&[
        "-n",
        &node.name,
        "link",
        "add",
        "uplink",
        "type",
        "veth",
        "peer",
        "name",
        "uplink-end",
    ]);
    ip(&[
        "-n",
        &node.name,
        "addr",
        "add",
        "192.168.255.1/24",
        "dev",
        "uplink",
    ]);
    ip(&["-n", &node.name, "link", "set", "uplink", "up"]);
    ip(&["-n", &node.name, "link", "set", "uplink-end", "up"]);
    ip(&[
        "-n",
        &node.name,
        "route",
        "add",
        "default",
        "via",
        "192.168.255.2",
    ]);
    node.run_inside(|| {
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").expect("ip_forward");
    });
}

fn sctp_service() -> (Service, EndpointSlice) {
    let service = Service {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some("assoc".into()),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: Some(CLUSTER_IP.to_string()),
            type_: Some("ClusterIP".into()),
            ports: Some(vec![ServicePort {
                name: Some("sctp".into()),
                port: SERVICE_PORT.into(),
                protocol: Some("SCTP".into()),
                target_port: Some(IntOrString::Int(TARGET_PORT.into())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    };
    let slice = EndpointSlice {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some("assoc-1".into()),
            labels: Some(BTreeMap::from([(
                SERVICE_NAME_LABEL.into(),
                "assoc".into(),
            )])),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints: vec![Endpoint {
            addresses: vec![SERVER.to_string()],
            node_name: Some("node-b".into()),
            ..Default::default()
        }],
        ports: Some(vec![EndpointPort {
            name: Some("sctp".into()),
            port: Some(TARGET_PORT.into()),
            protocol: Some("SCTP".into()),
            ..Default::default()
        }]),
    };
    (service, slice)
}

/// CRC32c (Castagnoli, reflected), as SCTP's checksum uses it.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// An SCTP packet (common header + INIT chunk) with its checksum.
fn sctp_init(source_port: u16, destination_port: u16, initiate_tag: u32) -> Vec<u8> {
    let mut packet = Vec::with_capacity(32);
    packet.extend_from_slice(&source_port.to_be_bytes());
    packet.extend_from_slice(&destination_port.to_be_bytes());
    packet.extend_from_slice(&0u32.to_be_bytes()); // verification tag: 0 on INIT
    packet.extend_from_slice(&0u32.to_be_bytes()); // checksum, filled below
    packet.extend_from_slice(&[1, 0]); // chunk type INIT, flags
    packet.extend_from_slice(&20u16.to_be_bytes()); // chunk length
    packet.extend_from_slice(&initiate_tag.to_be_bytes());
    packet.extend_from_slice(&65_535u32.to_be_bytes()); // advertised receiver window
    packet.extend_from_slice(&1u16.to_be_bytes()); // outbound streams
    packet.extend_from_slice(&1u16.to_be_bytes()); // inbound streams
    packet.extend_from_slice(&1u32.to_be_bytes()); // initial TSN
                                                   // The checksum goes on the wire in little-endian order (RFC 9260 appendix A).
    let checksum = crc32c(&packet);
    packet[8..12].copy_from_slice(&checksum.to_le_bytes());
    packet
}

fn checksum_is_valid(sctp: &[u8]) -> bool {
    let mut zeroed = sctp.to_vec();
    zeroed[8..12].fill(0);
    crc32c(&zeroed).to_le_bytes() == sctp[8..12]
}

struct RawSocket(i32);

impl RawSocket {
    fn sctp() -> RawSocket {
        // SAFETY: plain socket(2) call; the descriptor is owned by the value.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, IPPROTO_SCTP) };
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        RawSocket(fd)
    }

    fn send_to(&self, packet: &[u8], to: Ipv4Addr) {
        let address = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(to).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: the buffer and address outlive the call; lengths match them.
        let sent = unsafe {
            libc::sendto(
                self.0,
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&address as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        assert_eq!(
            sent,
            packet.len() as isize,
            "sendto: {}",
            std::io::Error::last_os_error()
        );
    }

    /// The next IPv4 packet (header included) within `patience`.
    fn receive(&self, patience: Duration) -> Option<Vec<u8>> {
        let timeout = libc::timeval {
            tv_sec: patience.as_secs() as libc::time_t,
            tv_usec: patience.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: the option value is a timeval of the given size.
        unsafe {
            libc::setsockopt(
                self.0,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        let mut buffer = vec![0u8; 2048];
        // SAFETY: the buffer is writable for its length.
        let n = unsafe { libc::recv(self.0, buffer.as_mut_ptr().cast(), buffer.len(), 0) };
        (n > 0).then(|| {
            buffer.truncate(n as usize);
            buffer
        })
    }
}

impl Drop for RawSocket {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}

#[test]
fn sctp_to_a_cluster_ip_reaches_the_endpoint_at_its_target_port() {
    if !is_root() {
        return;
    }
    let (node, client, server) = (Netns::new(), Netns::new(), Netns::new());
    wire(&node, &client, &server);
    let mut proxy = ServiceProxy::new(
        ProxyConfig::new("node-a", vec!["10.244.0.0/16".parse().unwrap()]),
        node.nft(),
    );
    let (service, slice) = sctp_service();
    proxy.state_mut().apply_service(service);
    proxy.state_mut().apply_slice(slice);
    proxy.sync().expect("sync");

    let tag: u32 = 0x5eed_0001;
    let arrived = std::thread::scope(|scope| {
        let receiver = scope.spawn(|| {
            server.run_inside(|| {
                let socket = RawSocket::sctp();
                let deadline = Instant::now() + Duration::from_secs(5);
                while let Some(remaining) = deadline.checked_duration_since(Instant::now()) {
                    let Some(packet) = socket.receive(remaining) else {
                        break;
                    };
                    let header = usize::from(packet[0] & 0x0f) * 4;
                    let sctp = &packet[header..];
                    if sctp.len() >= 20 && sctp[16..20] == tag.to_be_bytes() {
                        return Some(packet);
                    }
                }
                None
            })
        });
        // The server's socket exists before the first packet leaves; a few more
        // packets cover a slow start of its thread.
        client.run_inside(|| {
            let socket = RawSocket::sctp();
            for _ in 0..10 {
                socket.send_to(&sctp_init(CLIENT_PORT, SERVICE_PORT, tag), CLUSTER_IP);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        receiver.join().expect("receiver")
    });
    let packet = arrived.expect("the INIT reached the server");
    let header = usize::from(packet[0] & 0x0f) * 4;
    let source = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
    let destination = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
    let sctp = &packet[header..];
    assert_eq!(
        (source, destination),
        (CLIENT, SERVER),
        "DNAT to the endpoint, no masquerade from inside the cluster"
    );
    assert_eq!(
        (
            u16::from_be_bytes([sctp[0], sctp[1]]),
            u16::from_be_bytes([sctp[2], sctp[3]])
        ),
        (CLIENT_PORT, TARGET_PORT)
    );
    assert!(checksum_is_valid(sctp), "checksum after NAT");

    // Without endpoints the same packet is refused by the node (ICMP), not lost.
    proxy.state_mut().delete_slice("ns", "assoc-1");
    proxy.sync().expect("sync");
    let refused = client.run_inside(|| {
        let icmp = {
            // SAFETY: plain socket(2) call; closed below.
            let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
            assert!(fd >= 0, "raw ICMP socket");
            RawSocket(fd)
        };
        RawSocket::sctp().send_to(&sctp_init(CLIENT_PORT + 1, SERVICE_PORT, tag), CLUSTER_IP);
        let packet = icmp.receive(Duration::from_secs(3))?;
        let header = usize::from(packet[0] & 0x0f) * 4;
        Some((packet[header], packet[header + 1]))
    });
    // nftables' plain `reject`: destination unreachable, port unreachable.
    assert_eq!(refused, Some((3, 3)));
}

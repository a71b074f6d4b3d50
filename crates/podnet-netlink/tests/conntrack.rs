//! Root test for stale UDP flow cleanup: a client namespace sends UDP
//! through DNAT rules in a node namespace, and only the flows answered by
//! the removed endpoint disappear.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use common::TestNs;
use ipnet::IpNet;
use podnet_netlink::conntrack::{self, UdpFlow};
use podnet_netlink::VethSpec;

const SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);
const NODE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const REMOVED_ENDPOINT: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 5);
const KEPT_ENDPOINT: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 6);
const NODE_PORT: u16 = 30053;

/// (client source port, destination, destination port, DNAT target).
const FLOWS: [(u16, Ipv4Addr, u16, Ipv4Addr); 4] = [
    (1001, SERVICE_IP, 53, REMOVED_ENDPOINT),
    (1002, SERVICE_IP, 53, KEPT_ENDPOINT),
    (1003, SERVICE_IP, 54, REMOVED_ENDPOINT),
    (1004, NODE_IP, NODE_PORT, REMOVED_ENDPOINT),
];

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn client_ports(flows: &[UdpFlow]) -> Vec<u16> {
    let mut ports: Vec<u16> = flows
        .iter()
        .filter(|flow| flow.orig_src == CLIENT_IP)
        .map(|flow| flow.orig_src_port)
        .collect();
    ports.sort_unstable();
    ports
}

fn wait_for_flows(node: &TestNs, count: usize) -> Vec<UdpFlow> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let flows = node.ns.run(conntrack::list_udp_flows).unwrap().unwrap();
        if client_ports(&flows).len() >= count || Instant::now() > deadline {
            return flows;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn udp_flows_of_a_removed_endpoint_are_deleted_and_others_kept() {
    require_root!();
    if TestNs::list_with_ip().is_none() {
        eprintln!("skipped: needs iproute2");
        return;
    }
    let node = TestNs::new("ctnode");
    let client = TestNs::new("ctclient");
    let mut nl = node.handle();
    nl.add_veth(&VethSpec {
        name: "n0",
        mtu: None,
        mac: None,
        peer_name: "c0",
        peer_mac: None,
        peer_netns: Some(client.ns.as_fd()),
    })
    .unwrap();
    let n0 = nl.link_by_name("n0").unwrap().expect("node end").index;
    let lo = nl.link_by_name("lo").unwrap().expect("loopback").index;
    nl.add_address(n0, net("10.0.0.1/24"), true).unwrap();
    nl.add_address(lo, net("10.1.0.5/32"), true).unwrap();
    nl.add_address(lo, net("10.1.0.6/32"), true).unwrap();
    nl.set_up(n0).unwrap();
    nl.set_up(lo).unwrap();
    let mut cl = client.handle();
    let c0 = cl.link_by_name("c0").unwrap().expect("client end").index;
    cl.add_address(c0, net("10.0.0.2/24"), true).unwrap();
    cl.set_up(c0).unwrap();
    client
        .exec("ip", &["route", "add", "default", "via", "10.0.0.1"])
        .expect("ip");

    let mut ruleset = String::from(
        "add table ip podnet-ct-test; \
         add chain ip podnet-ct-test pre { type nat hook prerouting priority dstnat; }; ",
    );
    for (source_port, _, _, endpoint) in FLOWS {
        ruleset.push_str(&format!(
            "add rule ip podnet-ct-test pre udp sport {source_port} dnat to {endpoint}; "
        ));
    }
    if node.exec("nft", &[&ruleset]).is_none() {
        eprintln!("skipped: needs nft");
        return;
    }

    // Listeners keep the node from answering with port unreachable.
    let _listeners = node
        .ns
        .run(|| {
            [53, 54, NODE_PORT].map(|port| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).unwrap())
        })
        .unwrap();
    client
        .ns
        .run(|| {
            for (source_port, destination, port, _) in FLOWS {
                let socket = UdpSocket::bind((CLIENT_IP, source_port)).unwrap();
                socket.send_to(b"query", (destination, port)).unwrap();
            }
        })
        .unwrap();

    let flows = wait_for_flows(&node, FLOWS.len());
    assert_eq!(client_ports(&flows), [1001, 1002, 1003, 1004], "{flows:#?}");
    let first = flows
        .iter()
        .find(|flow| flow.orig_src_port == 1001)
        .unwrap();
    assert_eq!(
        (first.orig_dst, first.orig_dst_port, first.reply_src),
        (SERVICE_IP, 53, REMOVED_ENDPOINT)
    );

    let in_node = |f: fn() -> podnet_netlink::Result<usize>| node.ns.run(f).unwrap().unwrap();
    assert_eq!(
        in_node(|| conntrack::delete_udp_flows(SERVICE_IP, Some(53), REMOVED_ENDPOINT)),
        1
    );
    let left = node.ns.run(conntrack::list_udp_flows).unwrap().unwrap();
    assert_eq!(client_ports(&left), [1002, 1003, 1004]);

    // Without a port, every port of the service address goes.
    assert_eq!(
        in_node(|| conntrack::delete_udp_flows(SERVICE_IP, None, REMOVED_ENDPOINT)),
        1
    );
    // NodePort flows match on the port whatever local address was used.
    assert_eq!(
        in_node(|| conntrack::delete_udp_flows_to_port(NODE_PORT, REMOVED_ENDPOINT)),
        1
    );
    // Nothing left to delete: a second round is a no-op.
    assert_eq!(
        in_node(|| conntrack::delete_udp_flows_to_port(NODE_PORT, REMOVED_ENDPOINT)),
        0
    );

    let left = node.ns.run(conntrack::list_udp_flows).unwrap().unwrap();
    assert_eq!(client_ports(&left), [1002]);
    // Cross-check with the kernel's own text listing of the namespace.
    if let Some(table) = node.exec("cat", &["/proc/net/nf_conntrack"]) {
        let client_lines: Vec<&str> = table
            .lines()
            .filter(|line| line.contains("src=10.0.0.2 "))
            .collect();
        assert_eq!(client_lines.len(), 1, "{table}");
        assert!(client_lines[0].contains("sport=1002"), "{table}");
        assert!(client_lines[0].contains("src=10.1.0.6"), "{table}");
    }
}

//! Root tests of the kernel dataplane: two "nodes" (throwaway namespaces
//! `pna-<pid>-<n>-<tag>` joined by a veth pair as their underlay), each
//! applying what routing compiles for a node list, then pod addresses talk
//! across them. The namespaces go on drop, also when an assertion fails.
//! Without root every test reports itself skipped.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net};
use podnet_agent::config::{ROUTE_PROTOCOL, VXLAN_DEVICE};
use podnet_agent::masquerade::{self, MasqueradeInputs};
use podnet_agent::routing::{self, vtep_mac, LocalNode, NodeView};
use podnet_agent::{Dataplane, KernelDataplane, Routing};
use podnet_netlink::{Family, Handle, NetNs, Route, VethSpec};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

macro_rules! require_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

struct TestNs {
    name: String,
    ns: NetNs,
}

impl TestNs {
    fn new(tag: &str) -> TestNs {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "pna-{}-{}-{tag}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let ns = NetNs::create_named(&name).unwrap_or_else(|e| panic!("create netns {name}: {e}"));
        TestNs { name, ns }
    }

    fn handle(&self) -> Handle {
        Handle::in_netns(&self.ns).unwrap()
    }

    fn nft_list(&self) -> String {
        let output = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.name,
                "nft",
                "list",
                "table",
                "inet",
                "podnet-node",
            ])
            .output()
            .expect("run nft");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        if let Err(e) = NetNs::delete_named(&self.name) {
            eprintln!("cleanup: could not delete netns {}: {e}", self.name);
        }
    }
}

/// One lab-like node: underlay `eth0` and a pod bridge holding the pod
/// CIDR's gateway address, which plays a pod.
struct TestNode {
    ns: TestNs,
    name: &'static str,
    ip: Ipv4Addr,
    pod_cidr: Ipv4Net,
}

impl TestNode {
    fn pod_ip(&self) -> Ipv4Addr {
        self.pod_cidr.hosts().next().unwrap()
    }

    fn view(&self) -> NodeView {
        NodeView {
            name: self.name.into(),
            internal_ip: Some(self.ip),
            pod_cidr: Some(self.pod_cidr),
            vtep_mac: Some(vtep_mac(self.name)),
            deleting: false,
        }
    }

    fn apply(&self, mode: Routing, masquerade_on: bool, nodes: &[NodeView]) {
        let mut dataplane = KernelDataplane::in_named_netns("eth0", &self.ns.name).unwrap();
        let mtu = dataplane.prepare().unwrap();
        assert_eq!(mtu, 1500);
        let desired = routing::compile(
            &LocalNode {
                name: self.name,
                ip: self.ip,
                mode,
                underlay_mtu: mtu,
                pod_cidr: Some(self.pod_cidr),
            },
            nodes,
        );
        dataplane.apply_routing(&desired).unwrap();
        // A second apply finds everything in place.
        dataplane.apply_routing(&desired).unwrap();
        let table = masquerade::table(&MasqueradeInputs {
            enabled: masquerade_on,
            pod_cidr: Some(self.pod_cidr),
            cluster_cidr: "10.244.0.0/16".parse().unwrap(),
            underlay_interface: "eth0",
        });
        dataplane.apply_masquerade(&table).unwrap();
    }

    fn our_routes(&self) -> Vec<Route> {
        self.ns
            .handle()
            .routes(Family::V4, None)
            .unwrap()
            .into_iter()
            .filter(|r| r.protocol == Some(ROUTE_PROTOCOL))
            .collect()
    }

    fn udp(&self, addr: Ipv4Addr, port: u16) -> UdpSocket {
        self.ns
            .ns
            .run(move || UdpSocket::bind(SocketAddr::from((addr, port))))
            .unwrap()
            .unwrap()
    }
}

/// Two namespaces joined by a veth underlay, without pod bridges.
fn two_underlay_namespaces() -> (TestNs, TestNs) {
    let one = TestNs::new("u1");
    let two = TestNs::new("u2");
    one.handle()
        .add_veth(&VethSpec {
            name: "eth0",
            mtu: Some(1500),
            mac: None,
            peer_name: "eth0",
            peer_mac: None,
            peer_netns: Some(two.ns.as_fd()),
        })
        .unwrap();
    for (ns, ip) in [(&one, "172.30.0.11/24"), (&two, "172.30.0.12/24")] {
        let mut h = ns.handle();
        let lo = h.link_by_name("lo").unwrap().unwrap();
        h.set_up(lo.index).unwrap();
        let eth0 = h.link_by_name("eth0").unwrap().unwrap();
        h.add_address(eth0.index, ip.parse().unwrap(), false)
            .unwrap();
        h.set_up(eth0.index).unwrap();
    }
    (one, two)
}

fn two_nodes() -> (TestNode, TestNode) {
    let one = TestNode {
        ns: TestNs::new("n1"),
        name: "node-1",
        ip: "172.30.0.11".parse().unwrap(),
        pod_cidr: "10.244.1.0/24".parse().unwrap(),
    };
    let two = TestNode {
        ns: TestNs::new("n2"),
        name: "node-2",
        ip: "172.30.0.12".parse().unwrap(),
        pod_cidr: "10.244.2.0/24".parse().unwrap(),
    };
    let mut h1 = one.ns.handle();
    h1.add_veth(&VethSpec {
        name: "eth0",
        mtu: Some(1500),
        mac: None,
        peer_name: "eth0",
        peer_mac: None,
        peer_netns: Some(two.ns.ns.as_fd()),
    })
    .unwrap();
    for node in [&one, &two] {
        let mut h = node.ns.handle();
        let lo = h.link_by_name("lo").unwrap().unwrap();
        h.set_up(lo.index).unwrap();
        let eth0 = h.link_by_name("eth0").unwrap().unwrap();
        h.add_address(
            eth0.index,
            IpNet::V4(Ipv4Net::new(node.ip, 24).unwrap()),
            false,
        )
        .unwrap();
        h.set_up(eth0.index).unwrap();
        h.add_bridge("podnet0", None).unwrap();
        let bridge = h.link_by_name("podnet0").unwrap().unwrap();
        h.add_address(
            bridge.index,
            IpNet::V4(Ipv4Net::new(node.pod_ip(), 24).unwrap()),
            false,
        )
        .unwrap();
        h.set_up(bridge.index).unwrap();
    }
    (one, two)
}

/// Sends a datagram from `from` to `to` and returns the source address the
/// receiver saw, or `None` when nothing arrived.
fn source_seen(from: &UdpSocket, to: &UdpSocket) -> Option<Ipv4Addr> {
    to.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let target = to.local_addr().unwrap();
    // The first datagrams may wait for ARP; send a few.
    for _ in 0..10 {
        from.send_to(b"podnet", target).unwrap();
        let mut buffer = [0u8; 16];
        if let Ok((_, SocketAddr::V4(source))) = to.recv_from(&mut buffer) {
            return Some(*source.ip());
        }
    }
    None
}

fn assert_pods_talk_without_nat(one: &TestNode, two: &TestNode, port: u16) {
    let server = two.udp(two.pod_ip(), port);
    let client = one.udp(one.pod_ip(), 0);
    assert_eq!(
        source_seen(&client, &server),
        Some(one.pod_ip()),
        "pod to pod"
    );
    let back_server = one.udp(one.pod_ip(), port);
    let back_client = two.udp(two.pod_ip(), 0);
    assert_eq!(
        source_seen(&back_client, &back_server),
        Some(two.pod_ip()),
        "pod to pod, back"
    );
    // Node to pod keeps the node's address.
    let node_client = one.udp(one.ip, 0);
    assert_eq!(
        source_seen(&node_client, &server),
        Some(one.ip),
        "node to pod"
    );
}

#[test]
fn host_gw_routes_pods_across_nodes_and_switching_to_vxlan_and_back_cleans_up() {
    require_root!();
    let (one, two) = two_nodes();
    let nodes = [one.view(), two.view()];
    // Someone else's route in the same range of protocols' reach stays.
    let foreign = Route {
        dst: Some("10.99.0.0/24".parse().unwrap()),
        gateway: Some("172.30.0.12".parse().unwrap()),
        ..Route::default()
    };
    one.ns.handle().add_route(&foreign).unwrap();

    for node in [&one, &two] {
        node.apply(Routing::HostGw, false, &nodes);
    }
    let routes = one.our_routes();
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert_eq!(routes[0].dst, Some("10.244.2.0/24".parse().unwrap()));
    assert_eq!(routes[0].gateway, Some("172.30.0.12".parse().unwrap()));
    assert_pods_talk_without_nat(&one, &two, 9001);

    for node in [&one, &two] {
        node.apply(Routing::Vxlan, false, &nodes);
    }
    let mut h1 = one.ns.handle();
    let vxlan = h1
        .link_by_name(VXLAN_DEVICE)
        .unwrap()
        .expect("vxlan device");
    assert_eq!(vxlan.kind.as_deref(), Some("vxlan"));
    assert_eq!(vxlan.mtu, 1450);
    assert_eq!(vxlan.mac, Some(vtep_mac("node-1")));
    assert!(vxlan.up);
    let addresses = h1.addresses(Some(vxlan.index), Some(Family::V4)).unwrap();
    assert_eq!(addresses.len(), 1);
    assert_eq!(addresses[0].net, "10.244.1.0/32".parse::<IpNet>().unwrap());
    let fdb = h1.fdb_entries(vxlan.index).unwrap();
    assert!(
        fdb.iter().any(|e| e.mac == vtep_mac("node-2")
            && e.dst == Some("172.30.0.12".parse().unwrap())
            && e.permanent),
        "{fdb:?}"
    );
    let neighbours = h1.neighbours(Some(vxlan.index), Some(Family::V4)).unwrap();
    assert!(
        neighbours.iter().any(
            |n| n.ip == "10.244.2.0".parse::<std::net::IpAddr>().unwrap()
                && n.mac == Some(vtep_mac("node-2"))
                && n.permanent
        ),
        "{neighbours:?}"
    );
    let routes = one.our_routes();
    assert_eq!(routes.len(), 1, "host-gw's route is gone: {routes:?}");
    assert_eq!(routes[0].oif, Some(vxlan.index));
    assert!(routes[0].onlink);
    assert_pods_talk_without_nat(&one, &two, 9002);

    // A peer leaving takes its entries along.
    one.apply(Routing::Vxlan, false, &[one.view()]);
    assert!(one.our_routes().is_empty());
    assert!(h1
        .fdb_entries(vxlan.index)
        .unwrap()
        .iter()
        .all(|e| !e.permanent || e.mac != vtep_mac("node-2")));
    assert!(h1
        .neighbours(Some(vxlan.index), Some(Family::V4))
        .unwrap()
        .iter()
        .all(|n| !n.permanent));

    for node in [&one, &two] {
        node.apply(Routing::HostGw, false, &nodes);
    }
    assert!(
        h1.link_by_name(VXLAN_DEVICE).unwrap().is_none(),
        "vxlan device removed"
    );
    assert_eq!(one.our_routes().len(), 1);
    assert_pods_talk_without_nat(&one, &two, 9003);
    let still = h1.routes(Family::V4, None).unwrap();
    assert!(
        still.iter().any(|r| r.dst == foreign.dst),
        "foreign route kept: {still:?}"
    );
}

#[test]
fn island_masquerades_pods_to_the_outside_and_flat_does_not() {
    require_root!();
    let (one, two) = two_nodes();
    let nodes = [one.view(), two.view()];
    for node in [&one, &two] {
        node.apply(Routing::HostGw, true, &nodes);
    }
    // The peer's underlay address is outside the cluster CIDR: it plays
    // the external host.
    let outside = two.udp(two.ip, 9100);
    let pod = one.udp(one.pod_ip(), 0);
    assert_eq!(
        source_seen(&pod, &outside),
        Some(one.ip),
        "island: SNAT to the node"
    );
    assert_pods_talk_without_nat(&one, &two, 9101);
    let listing = one.ns.nft_list();
    assert!(listing.contains("masquerade"), "{listing}");

    one.apply(Routing::HostGw, false, &nodes);
    let listing = one.ns.nft_list();
    assert!(!listing.contains("masquerade"), "{listing}");
    let outside = two.udp(two.ip, 9102);
    let pod = one.udp(one.pod_ip(), 0);
    assert_eq!(
        source_seen(&pod, &outside),
        Some(one.pod_ip()),
        "flat: no SNAT"
    );
    assert_eq!(
        one.ns
            .ns
            .run(|| podnet_netlink::sysctl::get("net.ipv4.ip_forward"))
            .unwrap()
            .unwrap(),
        "1"
    );
}

mod agents {
    //! Two whole agents (`NodeAgent::run` with the kernel dataplane of their
    //! namespace) against an in-process API server with node IPAM.

    use super::*;
    use k8s_openapi::api::core::v1::Node;
    use kube::{Api, Client};
    use podnet_agent::{NodeAgent, NodeAgentConfig};
    use podnet_apiserver::server::{self, ServerConfig};
    use podnet_controllers::node_ipam::{self, NodeIpamConfig};
    use std::time::Instant;

    fn is_ready(node: &Node) -> bool {
        node.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_agents_route_pods_over_vxlan_once_ready() {
        require_root!();
        let dir = tempfile::tempdir().unwrap();
        let mut server_config = ServerConfig::new(dir.path().join("api"));
        server_config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let server = server::start(server_config).await.unwrap();
        let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
        let client = Client::try_from(
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .unwrap(),
        )
        .unwrap();
        let ipam = tokio::spawn(node_ipam::run(client.clone(), NodeIpamConfig::default()));
        let (ns1, ns2) = two_underlay_namespaces();

        let mut stops = Vec::new();
        let mut tasks = Vec::new();
        for (ns, name, ip) in [
            (&ns1, "node-1", "172.30.0.11"),
            (&ns2, "node-2", "172.30.0.12"),
        ] {
            let mut config = NodeAgentConfig::new(name, ip.parse().unwrap());
            config.routing = Routing::Vxlan;
            config.state_root = dir.path().join("nodes").join(name);
            config.heartbeat = Duration::from_millis(500);
            let dataplane = KernelDataplane::in_named_netns("eth0", &ns.name).unwrap();
            let (agent, _ready) = NodeAgent::with_dataplane(config, Box::new(dataplane)).unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            stops.push(stop);
            tasks.push(tokio::spawn(agent.run(client.clone(), async {
                let _ = stopped.await;
            })));
        }

        let nodes: Api<Node> = Api::all(client.clone());
        let deadline = Instant::now() + Duration::from_secs(30);
        let cidrs: Vec<Ipv4Net> = loop {
            let listed = nodes.list(&Default::default()).await.unwrap().items;
            let ready: Vec<_> = listed.iter().filter(|n| is_ready(n)).collect();
            if ready.len() == 2 {
                let mut by_name: Vec<_> = ready
                    .iter()
                    .map(|n| {
                        let cidr = n.spec.as_ref().unwrap().pod_cidr.clone().unwrap();
                        (n.metadata.name.clone().unwrap(), cidr.parse().unwrap())
                    })
                    .collect();
                by_name.sort();
                break by_name.into_iter().map(|(_, cidr)| cidr).collect();
            }
            assert!(Instant::now() < deadline, "both nodes Ready: {listed:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };

        // Play the CNI plugin: a bridge holding the first pod address.
        let mut pods = Vec::new();
        for (ns, cidr) in [(&ns1, cidrs[0]), (&ns2, cidrs[1])] {
            let mut h = ns.handle();
            h.add_bridge("podnet0", None).unwrap();
            let bridge = h.link_by_name("podnet0").unwrap().unwrap();
            let pod_ip = cidr.hosts().next().unwrap();
            h.add_address(
                bridge.index,
                IpNet::V4(Ipv4Net::new(pod_ip, cidr.prefix_len()).unwrap()),
                false,
            )
            .unwrap();
            h.set_up(bridge.index).unwrap();
            pods.push(pod_ip);
        }
        let (pod1, pod2) = (pods[0], pods[1]);
        let server_socket = ns2
            .ns
            .run(move || UdpSocket::bind((pod2, 9200)))
            .unwrap()
            .unwrap();
        let client_socket = ns1
            .ns
            .run(move || UdpSocket::bind((pod1, 0)))
            .unwrap()
            .unwrap();
        let seen = tokio::task::spawn_blocking(move || source_seen(&client_socket, &server_socket))
            .await
            .unwrap();
        assert_eq!(seen, Some(pods[0]), "pod to pod across the overlay, no NAT");

        for stop in stops {
            stop.send(()).unwrap();
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert!(nodes
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .iter()
            .all(|n| !is_ready(n)));
        ipam.abort();
    }
}

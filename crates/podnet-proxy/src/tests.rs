//! Semantics through the tracer, small golden checks, incremental == full.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

use k8s_openapi::api::core::v1::{
    ClientIPConfig, LoadBalancerIngress, LoadBalancerStatus, Service, ServicePort, ServiceSpec,
    ServiceStatus, SessionAffinityConfig,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podnet_nft::RecordingBackend;

use crate::trace::{trace, Origin, Outcome, Packet, Protocol};
use crate::*;

const NODE: &str = "node-a";
const POD_CIDR: &str = "10.244.0.0/16";

fn config() -> ProxyConfig {
    ProxyConfig::new(NODE, vec![POD_CIDR.parse().unwrap()])
}

fn service(name: &str, ip: &str, kind: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: Some(ip.into()),
            type_: Some(kind.into()),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                protocol: Some("TCP".into()),
                node_port: (kind != "ClusterIP").then_some(30080),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// (ip, node, ready, serving, terminating)
type Ep<'a> = (&'a str, &'a str, Option<bool>, Option<bool>, Option<bool>);

fn slice(service: &str, name: &str, endpoints: &[Ep]) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                SERVICE_NAME_LABEL.into(),
                service.into(),
            )])),
            ..ObjectMeta::default()
        },
        address_type: "IPv4".into(),
        endpoints: endpoints
            .iter()
            .map(|(ip, node, ready, serving, terminating)| Endpoint {
                addresses: vec![ip.to_string()],
                node_name: Some(node.to_string()),
                conditions: Some(EndpointConditions {
                    ready: *ready,
                    serving: *serving,
                    terminating: *terminating,
                }),
                ..Endpoint::default()
            })
            .collect(),
        ports: Some(vec![EndpointPort {
            name: Some("http".into()),
            port: Some(8080),
            protocol: Some("TCP".into()),
            ..EndpointPort::default()
        }]),
    }
}

fn ready(ip: &str, node: &str) -> Ep<'static> {
    (
        Box::leak(ip.to_string().into_boxed_str()),
        Box::leak(node.to_string().into_boxed_str()),
        None,
        None,
        None,
    )
}

fn packet(src: &str, dst: &str, port: u16, origin: Origin, dst_is_local: bool) -> Packet {
    Packet {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        protocol: Protocol::Tcp,
        dst_port: port,
        origin,
        dst_is_local,
    }
}

fn from_pod(dst: &str, port: u16) -> Packet {
    packet("10.244.1.5", dst, port, Origin::Network, false)
}

fn from_outside(dst: &str, port: u16, local: bool) -> Packet {
    packet("192.0.2.7", dst, port, Origin::Network, local)
}

fn program(services: Vec<Service>, slices: Vec<EndpointSlice>) -> Program {
    let mut state = ServiceState::default();
    services.into_iter().for_each(|s| state.apply_service(s));
    slices.into_iter().for_each(|s| state.apply_slice(s));
    let program = compile(&state, &config());
    program.table.validate().expect("the table validates");
    program
}

fn outcome(program: &Program, packet: &Packet) -> Outcome {
    trace(&program.table, packet)
        .expect("the tracer reads every rule")
        .outcome
}

fn dnat(candidates: &[&str], masquerade: bool) -> Outcome {
    let mut candidates: Vec<SocketAddrV4> = candidates.iter().map(|c| c.parse().unwrap()).collect();
    candidates.sort();
    Outcome::Dnat {
        candidates,
        masquerade,
    }
}

fn sorted(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Dnat {
            mut candidates,
            masquerade,
        } => {
            candidates.sort();
            Outcome::Dnat {
                candidates,
                masquerade,
            }
        }
        other => other,
    }
}

#[test]
fn cluster_ip_balances_over_ready_endpoints_and_masquerades_off_cluster_clients() {
    let p = program(
        vec![service("web", "10.96.0.10", "ClusterIP")],
        vec![slice(
            "web",
            "web-1",
            &[
                ready("10.244.1.2", "node-b"),
                ready("10.244.2.3", "node-c"),
                ("10.244.3.4", "node-c", Some(false), None, None),
            ],
        )],
    );
    let expected = ["10.244.1.2:8080", "10.244.2.3:8080"];
    assert_eq!(
        sorted(outcome(&p, &from_pod("10.96.0.10", 80))),
        dnat(&expected, false)
    );
    assert_eq!(
        sorted(outcome(&p, &from_outside("10.96.0.10", 80, false))),
        dnat(&expected, true)
    );
    let from_node = packet("172.30.0.11", "10.96.0.10", 80, Origin::LocalProcess, false);
    assert_eq!(sorted(outcome(&p, &from_node)), dnat(&expected, true));
    // A port the Service does not have, and an address that is no Service.
    assert_eq!(outcome(&p, &from_pod("10.96.0.10", 81)), Outcome::Reject);
    assert_eq!(
        outcome(&p, &from_pod("10.96.0.11", 80)),
        Outcome::NotAService
    );
    assert_eq!(p.stats.services, 1);
    assert_eq!(p.stats.endpoints, 2);
}

#[test]
fn no_endpoints_rejects_and_terminating_serving_endpoints_are_a_fallback() {
    let p = program(vec![service("web", "10.96.0.10", "NodePort")], vec![]);
    assert_eq!(outcome(&p, &from_pod("10.96.0.10", 80)), Outcome::Reject);
    assert_eq!(
        outcome(&p, &from_outside("172.30.0.11", 30080, true)),
        Outcome::Reject
    );
    let node = packet("172.30.0.11", "10.96.0.10", 80, Origin::LocalProcess, false);
    assert_eq!(outcome(&p, &node), Outcome::Reject);

    let terminating = ("10.244.1.2", "node-b", Some(false), Some(true), Some(true));
    let gone = ("10.244.1.3", "node-b", Some(false), Some(false), Some(true));
    let p = program(
        vec![service("web", "10.96.0.10", "ClusterIP")],
        vec![slice("web", "s", &[terminating, gone])],
    );
    assert_eq!(
        sorted(outcome(&p, &from_pod("10.96.0.10", 80))),
        dnat(&["10.244.1.2:8080"], false)
    );
    let p = program(
        vec![service("web", "10.96.0.10", "ClusterIP")],
        vec![slice(
            "web",
            "s",
            &[terminating, ready("10.244.1.9", "node-b")],
        )],
    );
    assert_eq!(
        sorted(outcome(&p, &from_pod("10.96.0.10", 80))),
        dnat(&["10.244.1.9:8080"], false)
    );
}

#[test]
fn nodeport_answers_on_node_addresses_not_loopback_and_masquerades() {
    let p = program(
        vec![service("web", "10.96.0.10", "NodePort")],
        vec![slice("web", "s", &[ready("10.244.1.2", "node-b")])],
    );
    assert_eq!(
        sorted(outcome(&p, &from_outside("172.30.0.11", 30080, true))),
        dnat(&["10.244.1.2:8080"], true)
    );
    let loopback = packet("127.0.0.1", "127.0.0.1", 30080, Origin::LocalProcess, true);
    assert_eq!(outcome(&p, &loopback), Outcome::NotAService);
    assert_eq!(
        outcome(&p, &from_outside("172.30.0.11", 30081, true)),
        Outcome::NotAService
    );
}

#[test]
fn external_traffic_policy_local_keeps_the_client_and_uses_local_endpoints_only() {
    let mut svc = service("web", "10.96.0.10", "LoadBalancer");
    let spec = svc.spec.as_mut().unwrap();
    spec.external_traffic_policy = Some("Local".into());
    spec.health_check_node_port = Some(32000);
    svc.status = Some(ServiceStatus {
        load_balancer: Some(LoadBalancerStatus {
            ingress: Some(vec![LoadBalancerIngress {
                ip: Some("192.0.2.100".into()),
                ..Default::default()
            }]),
        }),
        ..Default::default()
    });
    let eps = [ready("10.244.0.2", NODE), ready("10.244.1.2", "node-b")];
    let p = program(vec![svc.clone()], vec![slice("web", "s", &eps)]);
    assert_eq!(
        sorted(outcome(&p, &from_outside("192.0.2.100", 80, false))),
        dnat(&["10.244.0.2:8080"], false)
    );
    assert_eq!(
        sorted(outcome(&p, &from_outside("172.30.0.11", 30080, true))),
        dnat(&["10.244.0.2:8080"], false)
    );
    // Pods short-circuit to all endpoints; the node itself too, masqueraded.
    let both = ["10.244.0.2:8080", "10.244.1.2:8080"];
    assert_eq!(
        sorted(outcome(&p, &from_pod("192.0.2.100", 80))),
        dnat(&both, false)
    );
    let node = packet(
        "172.30.0.11",
        "192.0.2.100",
        80,
        Origin::LocalProcess,
        false,
    );
    assert_eq!(sorted(outcome(&p, &node)), dnat(&both, true));
    assert_eq!(p.health_checks[&32000].local_endpoints, 1);
    assert_eq!(p.load_balancers.len(), 1);
    assert!(p.load_balancers[0].local_only);

    // No local endpoint: external traffic is dropped, pods still reach the Service.
    let p = program(
        vec![svc],
        vec![slice("web", "s", &[ready("10.244.1.2", "node-b")])],
    );
    assert_eq!(
        outcome(&p, &from_outside("192.0.2.100", 80, false)),
        Outcome::Drop
    );
    assert_eq!(
        outcome(&p, &from_outside("172.30.0.11", 30080, true)),
        Outcome::Drop
    );
    assert_eq!(
        sorted(outcome(&p, &from_pod("10.96.0.10", 80))),
        dnat(&["10.244.1.2:8080"], false)
    );
    // The node itself reaches the external address through the cluster's endpoints
    // (its filter check runs after its DNAT).
    assert_eq!(
        sorted(outcome(&p, &from_pod("192.0.2.100", 80))),
        dnat(&["10.244.1.2:8080"], false)
    );
    assert_eq!(sorted(outcome(&p, &node)), dnat(&["10.244.1.2:8080"], true));
    assert_eq!(p.health_checks[&32000].local_endpoints, 0);
}

#[test]
fn internal_traffic_policy_local_uses_local_endpoints_or_drops() {
    let mut svc = service("web", "10.96.0.10", "ClusterIP");
    svc.spec.as_mut().unwrap().internal_traffic_policy = Some("Local".into());
    let p = program(
        vec![svc.clone()],
        vec![slice(
            "web",
            "s",
            &[ready("10.244.0.2", NODE), ready("10.244.1.2", "node-b")],
        )],
    );
    assert_eq!(
        sorted(outcome(&p, &from_pod("10.96.0.10", 80))),
        dnat(&["10.244.0.2:8080"], false)
    );
    let p = program(
        vec![svc],
        vec![slice("web", "s", &[ready("10.244.1.2", "node-b")])],
    );
    assert_eq!(outcome(&p, &from_pod("10.96.0.10", 80)), Outcome::Drop);
}

#[test]
fn hairpin_traffic_to_a_local_endpoint_is_masqueraded() {
    let p = program(
        vec![service("web", "10.96.0.10", "ClusterIP")],
        vec![slice("web", "s", &[ready("10.244.0.2", NODE)])],
    );
    let hairpin = packet("10.244.0.2", "10.96.0.10", 80, Origin::Network, false);
    assert_eq!(outcome(&p, &hairpin), dnat(&["10.244.0.2:8080"], true));
    assert!(p.table.sets["hairpin"]
        .elements
        .contains_key("10.244.0.2 . 10.244.0.2"));
}

#[test]
fn session_affinity_uses_endpoint_chains_with_timed_sets() {
    let mut svc = service("web", "10.96.0.10", "ClusterIP");
    let spec = svc.spec.as_mut().unwrap();
    spec.session_affinity = Some("ClientIP".into());
    spec.session_affinity_config = Some(SessionAffinityConfig {
        client_ip: Some(ClientIPConfig {
            timeout_seconds: Some(60),
        }),
    });
    let p = program(
        vec![svc],
        vec![slice(
            "web",
            "s",
            &[ready("10.244.1.2", "node-b"), ready("10.244.1.3", "node-b")],
        )],
    );
    assert_eq!(
        sorted(outcome(&p, &from_pod("10.96.0.10", 80))),
        dnat(&["10.244.1.2:8080", "10.244.1.3:8080"], false)
    );
    let affinity: Vec<_> = p
        .table
        .sets
        .values()
        .filter(|s| s.name.starts_with("affinity-"))
        .collect();
    assert_eq!(affinity.len(), 2);
    assert_eq!(
        affinity[0].timeout,
        Some(std::time::Duration::from_secs(60))
    );
    let svc_chain = p
        .table
        .chains
        .keys()
        .find(|n| n.starts_with("svc-"))
        .unwrap();
    assert!(svc_chain.ends_with("-ns/web/tcp/80"), "{svc_chain}");
    assert_eq!(p.table.chains[svc_chain].rules.len(), 3);
}

#[test]
fn load_balancer_source_ranges_drop_other_sources() {
    let mut svc = service("web", "10.96.0.10", "LoadBalancer");
    svc.spec.as_mut().unwrap().load_balancer_source_ranges = Some(vec!["198.51.100.0/24".into()]);
    svc.status = Some(ServiceStatus {
        load_balancer: Some(LoadBalancerStatus {
            ingress: Some(vec![LoadBalancerIngress {
                ip: Some("192.0.2.100".into()),
                ..Default::default()
            }]),
        }),
        ..Default::default()
    });
    let p = program(
        vec![svc],
        vec![slice("web", "s", &[ready("10.244.1.2", "node-b")])],
    );
    assert_eq!(
        outcome(&p, &from_outside("192.0.2.100", 80, false)),
        Outcome::Drop
    );
    let allowed = packet("198.51.100.9", "192.0.2.100", 80, Origin::Network, false);
    assert_eq!(outcome(&p, &allowed), dnat(&["10.244.1.2:8080"], true));
}

#[test]
fn skipped_services_leave_no_trace() {
    let mut other_proxy = service("a", "10.96.0.1", "ClusterIP");
    other_proxy.metadata.labels = Some(BTreeMap::from([(PROXY_NAME_LABEL.into(), "other".into())]));
    let headless = service("b", "None", "ClusterIP");
    let mut external_name = service("c", "", "ExternalName");
    external_name.spec.as_mut().unwrap().cluster_ip = None;
    let ipv6 = service("d", "fd00::10", "ClusterIP");
    let p = program(vec![other_proxy, headless, external_name, ipv6], vec![]);
    assert_eq!(p.stats.services, 0);
    assert_eq!(p.stats.skipped_ipv6, 1);
    assert!(p.table.sets["cluster-ips"].elements.is_empty());
    assert_eq!(
        outcome(&p, &from_pod("10.96.0.1", 80)),
        Outcome::NotAService
    );
}

#[test]
fn udp_targets_list_frontends_with_their_endpoints() {
    let mut svc = service("dns", "10.96.0.53", "ClusterIP");
    svc.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].protocol = Some("UDP".into());
    let mut s = slice("dns", "s", &[ready("10.244.1.2", "node-b")]);
    s.ports.as_mut().unwrap()[0].protocol = Some("UDP".into());
    let p = program(vec![svc], vec![s]);
    let target = UdpTarget {
        frontend: Frontend::Ip("10.96.0.53".parse().unwrap(), 80),
        endpoint: Ipv4Addr::new(10, 244, 1, 2),
    };
    assert_eq!(p.udp_targets.iter().collect::<Vec<_>>(), [&target]);
}

/// A tiny deterministic generator (xorshift), so the test needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn incremental_syncs_reach_the_same_program_as_a_full_compile() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut proxy = ServiceProxy::new(config(), RecordingBackend::new());
    proxy.sync().unwrap();
    let kinds = ["ClusterIP", "NodePort", "LoadBalancer"];
    // Even-numbered Services serve UDP: their stale conntrack targets are checked too.
    let protocol = |n: u64| (n % 2 == 0).then(|| "UDP".to_string());
    for round in 0..300 {
        let n = rng.below(12);
        let name = format!("s{n}");
        let udp_before = proxy.program().udp_targets.clone();
        let state = proxy.state_mut();
        match rng.below(6) {
            0 => state.delete_service("ns", &name),
            1 => state.delete_slice("ns", &format!("{name}-a")),
            2 | 3 => {
                let endpoints: Vec<Ep> = (0..rng.below(40))
                    .map(|i| {
                        let node = if rng.below(3) == 0 { NODE } else { "node-b" };
                        let ready = [None, Some(true), Some(false)][rng.below(3) as usize];
                        let ip = format!("10.244.{}.{}", n, i + 1);
                        (
                            Box::leak(ip.into_boxed_str()) as &str,
                            node,
                            ready,
                            Some(rng.below(2) == 0),
                            Some(rng.below(2) == 0),
                        )
                    })
                    .collect();
                let part = if rng.below(2) == 0 { "a" } else { "b" };
                let mut written = slice(&name, &format!("{name}-{part}"), &endpoints);
                written.ports.as_mut().unwrap()[0].protocol = protocol(n);
                state.apply_slice(written);
            }
            _ => {
                let mut svc = service(
                    &name,
                    &format!("10.96.0.{}", n + 1),
                    kinds[rng.below(3) as usize],
                );
                let spec = svc.spec.as_mut().unwrap();
                spec.ports.as_mut().unwrap()[0].protocol = protocol(n);
                if rng.below(3) == 0 {
                    spec.external_traffic_policy = Some("Local".into());
                }
                if rng.below(4) == 0 {
                    spec.internal_traffic_policy = Some("Local".into());
                }
                if rng.below(5) == 0 {
                    spec.session_affinity = Some("ClientIP".into());
                }
                if rng.below(3) == 0 {
                    spec.external_ips = Some(vec![format!("192.0.2.{}", rng.below(4) + 1)]);
                }
                proxy.state_mut().apply_service(svc);
            }
        }
        let report = proxy.sync().unwrap();
        assert!(!report.full, "incremental after the first sync");
        let full = compile(proxy.state(), proxy.config());
        assert_eq!(proxy.program(), &full, "round {round}");
        // Stale: exactly the targets that went, never one that stays.
        let stale: BTreeSet<UdpTarget> = report.stale_udp.iter().cloned().collect();
        let gone: BTreeSet<UdpTarget> = udp_before
            .difference(&proxy.program().udp_targets)
            .cloned()
            .collect();
        assert_eq!(stale, gone, "round {round}");
        assert_eq!(
            stale.len(),
            report.stale_udp.len(),
            "round {round}: repeats"
        );
    }
    assert!(proxy.program().stats.services > 0);
    assert!(!proxy.program().udp_targets.is_empty());
}

#[test]
fn first_sync_replaces_and_an_endpoint_change_is_a_small_element_diff() {
    let mut proxy = ServiceProxy::new(config(), RecordingBackend::new());
    proxy
        .state_mut()
        .apply_service(service("web", "10.96.0.10", "ClusterIP"));
    proxy
        .state_mut()
        .apply_slice(slice("web", "s", &[ready("10.244.1.2", "node-b")]));
    assert!(proxy.sync().unwrap().full);
    proxy
        .state_mut()
        .apply_slice(slice("web", "s", &[ready("10.244.1.3", "node-b")]));
    let report = proxy.sync().unwrap();
    assert!(!report.full);
    let script = proxy.backend().applied.last().unwrap();
    assert_eq!(
        script.lines().collect::<Vec<_>>(),
        [
            "add table inet podnet-proxy",
            "delete element inet podnet-proxy cluster-endpoints-0 { 10.96.0.10 . tcp . 80 }",
            "add element inet podnet-proxy cluster-endpoints-0 { 10.96.0.10 . tcp . 80 : 10.244.1.3 . 8080 }",
        ]
    );
    assert_eq!(proxy.sync().unwrap().commands, 0);
    proxy.backend_mut().reject_next("Error: nope");
    proxy.state_mut().delete_service("ns", "web");
    assert!(proxy.sync().is_err());
    assert!(proxy.sync().unwrap().full);
}

#[test]
fn slot_maps_shrink_again_after_a_full_sync_when_a_big_service_goes() {
    let mut proxy = ServiceProxy::new(config(), RecordingBackend::new());
    let endpoints: Vec<Ep> = (0..20)
        .map(|i| ready(&format!("10.244.1.{}", i + 2), "node-b"))
        .collect();
    proxy
        .state_mut()
        .apply_service(service("big", "10.96.0.10", "ClusterIP"));
    proxy.state_mut().apply_slice(slice("big", "b", &endpoints));
    proxy
        .state_mut()
        .apply_service(service("small", "10.96.0.11", "ClusterIP"));
    proxy
        .state_mut()
        .apply_slice(slice("small", "s", &[ready("10.244.2.2", "node-c")]));
    assert!(proxy.sync().unwrap().full);
    proxy.state_mut().delete_service("ns", "big");
    proxy.sync().unwrap();
    let expected = compile(proxy.state(), proxy.config());
    assert_eq!(
        proxy.program().table.sets.keys().collect::<Vec<_>>(),
        expected.table.sets.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        proxy.program().table.chains.keys().collect::<Vec<_>>(),
        expected.table.chains.keys().collect::<Vec<_>>()
    );
}

#[test]
fn stale_udp_targets_of_a_failed_apply_are_reported_by_the_next_full_sync() {
    let mut svc = service("dns", "10.96.0.53", "ClusterIP");
    svc.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].protocol = Some("UDP".into());
    let udp_slice = |ips: &[&str]| {
        let endpoints: Vec<Ep> = ips.iter().map(|ip| ready(ip, "node-b")).collect();
        let mut s = slice("dns", "s", &endpoints);
        s.ports.as_mut().unwrap()[0].protocol = Some("UDP".into());
        s
    };
    let mut proxy = ServiceProxy::new(config(), RecordingBackend::new());
    proxy.state_mut().apply_service(svc);
    proxy
        .state_mut()
        .apply_slice(udp_slice(&["10.244.1.2", "10.244.1.3"]));
    proxy.sync().unwrap();
    proxy.backend_mut().reject_next("Error: nope");
    proxy.state_mut().apply_slice(udp_slice(&["10.244.1.3"]));
    assert!(proxy.sync().is_err());
    let report = proxy.sync().unwrap();
    assert!(report.full);
    assert_eq!(
        report.stale_udp,
        [UdpTarget {
            frontend: Frontend::Ip("10.96.0.53".parse().unwrap(), 80),
            endpoint: Ipv4Addr::new(10, 244, 1, 2),
        }]
    );
}

#[test]
fn udp_flows_to_a_terminating_endpoint_that_still_serves_are_kept() {
    let mut svc = service("dns", "10.96.0.53", "ClusterIP");
    svc.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].protocol = Some("UDP".into());
    let udp_slice = |endpoints: &[Ep]| {
        let mut s = slice("dns", "s", endpoints);
        s.ports.as_mut().unwrap()[0].protocol = Some("UDP".into());
        s
    };
    let mut proxy = ServiceProxy::new(config(), RecordingBackend::new());
    proxy.state_mut().apply_service(svc);
    let a = ready("10.244.1.2", "node-b");
    let b = ready("10.244.1.3", "node-b");
    proxy.state_mut().apply_slice(udp_slice(&[a, b]));
    proxy.sync().unwrap();
    let terminating = ("10.244.1.3", "node-b", Some(false), Some(true), Some(true));
    proxy.state_mut().apply_slice(udp_slice(&[a, terminating]));
    assert_eq!(proxy.sync().unwrap().stale_udp, []);
    let no_longer_serving = ("10.244.1.3", "node-b", Some(false), Some(false), Some(true));
    proxy
        .state_mut()
        .apply_slice(udp_slice(&[a, no_longer_serving]));
    assert_eq!(
        proxy.sync().unwrap().stale_udp,
        [UdpTarget {
            frontend: Frontend::Ip("10.96.0.53".parse().unwrap(), 80),
            endpoint: Ipv4Addr::new(10, 244, 1, 3),
        }]
    );
}

#[test]
fn a_service_with_hundreds_of_endpoints_gets_chains_of_its_own() {
    let svc = service("big", "10.96.0.77", "NodePort");
    let ips: Vec<String> = (0..600)
        .map(|i| format!("10.244.{}.{}", 1 + i / 200, 1 + i % 200))
        .collect();
    let eps: Vec<Ep> = ips.iter().map(|ip| ready(ip, "node-b")).collect();
    let small = service("small", "10.96.0.78", "ClusterIP");
    let p = program(
        vec![svc, small],
        vec![
            slice("big", "big-s", &eps),
            slice("small", "small-s", &[ready("10.244.9.9", "node-b")]),
        ],
    );
    let all: Vec<String> = ips.iter().map(|ip| format!("{ip}:8080")).collect();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    assert_eq!(
        sorted(outcome(&p, &from_pod("10.96.0.77", 80))),
        dnat(&all, false)
    );
    assert_eq!(
        sorted(outcome(&p, &from_outside("172.30.0.11", 30080, true))),
        dnat(&all, true)
    );
    assert_eq!(
        outcome(&p, &from_pod("10.96.0.78", 80)),
        dnat(&["10.244.9.9:8080"], false)
    );
    // The shared slots stay at their minimum; the table grows linearly.
    let slot_maps = p
        .table
        .sets
        .keys()
        .filter(|name| name.starts_with("cluster-endpoints-"))
        .count();
    assert_eq!(slot_maps, 16);
    assert!(
        p.table.chains.len() < 900,
        "{} chains",
        p.table.chains.len()
    );
    let vmap_entries: usize = p
        .table
        .chains
        .values()
        .flat_map(|c| c.rules.iter())
        .map(|r| r.matches(" : goto ").count())
        .sum();
    assert!(
        vmap_entries < 2_000,
        "{vmap_entries} anonymous vmap entries"
    );
}

#[test]
fn the_slow_refresh_keeps_affinity_sets_and_a_failed_one_is_followed_by_a_replace() {
    let mut svc = service("web", "10.96.0.10", "ClusterIP");
    svc.spec.as_mut().unwrap().session_affinity = Some("ClientIP".into());
    let mut proxy = ServiceProxy::new(config(), RecordingBackend::new());
    proxy.state_mut().apply_service(svc);
    proxy
        .state_mut()
        .apply_slice(slice("web", "s", &[ready("10.244.1.2", "node-b")]));
    proxy.sync().unwrap();
    proxy.refresh_on_next_sync();
    assert!(proxy.sync().unwrap().full);
    let script = proxy.backend().applied.last().unwrap().clone();
    assert!(!script.contains("delete table"), "{script}");
    assert!(script.contains("flush map inet podnet-proxy service-ips"));
    let affinity = proxy
        .program()
        .table
        .sets
        .keys()
        .find(|name| name.starts_with("affinity-"))
        .unwrap()
        .clone();
    assert!(script.contains(&format!("add set inet podnet-proxy {affinity} ")));
    assert!(!script.contains(&format!("flush set inet podnet-proxy {affinity}")));

    proxy.refresh_on_next_sync();
    proxy.backend_mut().reject_next("Error: drift");
    assert!(proxy.sync().is_err());
    proxy.sync().unwrap();
    assert!(proxy
        .backend()
        .applied
        .last()
        .unwrap()
        .contains("delete table inet podnet-proxy"));
}

#[test]
fn a_relist_replaces_what_the_state_holds() {
    let mut state = ServiceState::default();
    state.apply_service(service("web", "10.96.0.10", "ClusterIP"));
    state.apply_service(service("old", "10.96.0.11", "ClusterIP"));
    state.apply_slice(slice("web", "a", &[ready("10.244.1.2", "node-b")]));
    state.apply_slice(slice("web", "b", &[ready("10.244.1.3", "node-b")]));
    state.replace_services(vec![service("web", "10.96.0.10", "ClusterIP")]);
    state.replace_slices(vec![slice("web", "b", &[ready("10.244.1.3", "node-b")])]);
    assert!(state.service("ns", "old").is_none());
    let names: Vec<_> = state
        .slices_of_service("ns", "web")
        .iter()
        .map(|s| s.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["b"]);
    assert_eq!(
        sorted(outcome(
            &compile(&state, &config()),
            &from_pod("10.96.0.10", 80)
        )),
        dnat(&["10.244.1.3:8080"], false)
    );
}

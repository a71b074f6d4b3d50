//! Root tests against the real nft and kernel, each in a throwaway network namespace
//! (`pproxy-<pid>-<n>`) deleted on drop, also on failure. Without root they report
//! themselves skipped. `scale_10k` measures the figures (run it with
//! `--release -- --ignored --nocapture`).

mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podnet_nft::NftCli;
use podnet_proxy::{compile, ProxyConfig, ServiceProxy, ServiceState, SERVICE_NAME_LABEL};
use support::{is_root, Netns};

fn service(i: usize) -> Service {
    let kind = ["ClusterIP", "NodePort", "LoadBalancer"][i % 3];
    Service {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some(format!("s{i}")),
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: Some(format!("10.96.{}.{}", i / 250, i % 250 + 1)),
            type_: Some(kind.into()),
            external_traffic_policy: (i % 5 == 0).then(|| "Local".into()),
            session_affinity: (i % 97 == 0).then(|| "ClientIP".into()),
            ports: Some(vec![ServicePort {
                name: Some("p".into()),
                port: 80,
                node_port: (kind != "ClusterIP").then_some(30000 + (i % 2000) as i32),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

fn slice(i: usize, endpoints: usize, generation: usize) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            namespace: Some("ns".into()),
            name: Some(format!("s{i}-x")),
            labels: Some(BTreeMap::from([(
                SERVICE_NAME_LABEL.into(),
                format!("s{i}"),
            )])),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints: (0..endpoints)
            .map(|e| Endpoint {
                addresses: vec![format!(
                    "10.{}.{}.{}",
                    100 + generation,
                    (i * endpoints + e) / 250 % 250,
                    (i * endpoints + e) % 250 + 1
                )],
                node_name: Some(if e % 4 == 0 { "node-a" } else { "node-b" }.into()),
                ..Default::default()
            })
            .collect(),
        ports: Some(vec![EndpointPort {
            name: Some("p".into()),
            port: Some(8080),
            ..Default::default()
        }]),
    }
}

fn config() -> ProxyConfig {
    ProxyConfig::new("node-a", vec!["10.100.0.0/14".parse().unwrap()])
}

fn fill(state: &mut ServiceState, services: usize, endpoints: usize) {
    for i in 0..services {
        state.apply_service(service(i));
        state.apply_slice(slice(i, endpoints, 0));
    }
}

#[test]
fn full_program_is_accepted_and_incremental_diffs_reach_the_same_kernel_state() {
    if !is_root() {
        return;
    }
    let incremental = Netns::new();
    let mut proxy = ServiceProxy::new(config(), incremental.nft());
    fill(proxy.state_mut(), 300, 5);
    let script = compile(proxy.state(), proxy.config())
        .table
        .render_replace();
    incremental
        .nft()
        .check(&script)
        .expect("nft -c accepts the full program");
    assert!(proxy.sync().unwrap().full);
    for i in (0..300).step_by(7) {
        // Up to 60 endpoints: past the shared slots, into chains of their own.
        proxy.state_mut().apply_slice(slice(i, 1 + i % 60, 1));
    }
    for i in (0..300).step_by(11) {
        proxy.state_mut().delete_service("ns", &format!("s{i}"));
    }
    proxy.state_mut().apply_service(service(400));
    proxy.state_mut().apply_slice(slice(400, 3, 0));
    let report = proxy.sync().unwrap();
    assert!(!report.full && report.commands > 0);

    let replaced = Netns::new();
    let mut fresh = ServiceProxy::new(config(), replaced.nft());
    *fresh.state_mut() = proxy.state().clone();
    fresh.sync().unwrap();
    assert_eq!(incremental.listing(), replaced.listing());
    // The slow timer's in-place refresh reaches the same state.
    proxy.refresh_on_next_sync();
    assert!(proxy.sync().unwrap().full);
    assert_eq!(incremental.listing(), replaced.listing());

    proxy.remove().unwrap();
    assert_eq!(incremental.listing(), None);
}

#[test]
fn thousand_services_then_element_changes_over_netlink() {
    if !is_root() {
        return;
    }
    let netns = Netns::new();
    netns.run_inside(|| {
        let mut proxy = ServiceProxy::new(config(), NftCli::new());
        proxy.set_netlink_elements(true);
        fill(proxy.state_mut(), 1000, 10);
        assert!(proxy.sync().unwrap().full);
        proxy.state_mut().apply_slice(slice(1, 10, 1));
        proxy.state_mut().apply_service(service(1001));
        proxy.state_mut().apply_slice(slice(1001, 10, 0));
        let report = proxy.sync().unwrap();
        assert!(!report.full && report.commands > 0);
    });
    let expected = {
        let mut state = ServiceState::default();
        fill(&mut state, 1000, 10);
        state.apply_slice(slice(1, 10, 1));
        state.apply_service(service(1001));
        state.apply_slice(slice(1001, 10, 0));
        state
    };
    let check = Netns::new();
    let mut fresh = ServiceProxy::new(config(), check.nft());
    *fresh.state_mut() = expected;
    fresh.sync().unwrap();
    assert_eq!(netns.listing(), check.listing());
}

#[test]
fn netlink_full_sync_creates_a_fresh_table_and_replaces_an_existing_one() {
    if !is_root() {
        return;
    }
    let netns = Netns::new();
    let check = Netns::new();
    let mut reference = ServiceProxy::new(config(), check.nft());
    fill(reference.state_mut(), 200, 3);
    reference.sync().unwrap();
    netns.run_inside(|| {
        // Fresh namespace: created empty, filled over netlink.
        let mut first = ServiceProxy::new(config(), NftCli::new());
        first.set_netlink_elements(true);
        fill(first.state_mut(), 50, 2);
        assert!(first.sync().unwrap().full);
        // The table exists now: a new proxy's create fails and it replaces the table.
        let mut second = ServiceProxy::new(config(), NftCli::new());
        second.set_netlink_elements(true);
        fill(second.state_mut(), 200, 3);
        assert!(second.sync().unwrap().full);
    });
    assert_eq!(netns.listing(), check.listing());
}

#[test]
#[ignore = "measurement: 10,000 services x 10 endpoints"]
fn scale_10k() {
    if !is_root() {
        return;
    }
    let netns = Netns::new();
    netns.run_inside(|| {
        let mut proxy = ServiceProxy::new(config(), NftCli::new());
        proxy.set_netlink_elements(true);
        fill(proxy.state_mut(), 10_000, 10);
        let started = Instant::now();
        let compiled = compile(proxy.state(), proxy.config());
        eprintln!("compile: {:?} ({:?})", started.elapsed(), compiled.stats);
        let report = proxy.sync().unwrap();
        eprintln!("full sync: {:?}", report.duration);
        for (what, change) in [
            ("add one service", 0usize),
            ("change one endpoint", 1),
            ("endpoint count 10 -> 9", 2),
        ] {
            let started = Instant::now();
            match change {
                0 => {
                    proxy.state_mut().apply_service(service(10_001));
                    proxy.state_mut().apply_slice(slice(10_001, 10, 0));
                }
                1 => proxy.state_mut().apply_slice(slice(5, 10, 1)),
                _ => proxy.state_mut().apply_slice(slice(6, 9, 1)),
            }
            let report = proxy.sync().unwrap();
            eprintln!(
                "{what}: {:?} end to end, sync {:?}, {} operations",
                started.elapsed(),
                report.duration,
                report.commands
            );
        }
        proxy.set_netlink_elements(false);
        let started = Instant::now();
        proxy.state_mut().apply_slice(slice(7, 10, 1));
        proxy.sync().unwrap();
        eprintln!(
            "change one endpoint through nft -f: {:?}",
            started.elapsed()
        );
    });
}

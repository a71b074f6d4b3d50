//! Root tests of whole labs. Each lab has its own prefix (`pnt…`) and its own
//! throwaway namespace playing the host, so neither the real host namespace nor a
//! real lab is touched; a drop guard runs `down` and deletes the host namespace also
//! when an assertion fails. Without root every test reports itself skipped.

mod support;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use podnet_lab::{down, firewall, status, up, LabConfig, LabPlan, LabScope, MemberKind, Recorded};
use podnet_netlink::{Handle, NetNs, Route, VethSpec, NETNS_RUN_DIR};
use support::{counter_packets, ping, TestLab, TestNs, ANSWERS, DROPPED};

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

fn assert_matches_plan(lab: &TestLab, plan: &LabPlan) {
    let status = status(&lab.scope).unwrap();
    let differences = status.differences(plan);
    assert!(
        differences.is_empty(),
        "lab differs from its plan: {differences:#?}"
    );
}

#[test]
fn a_three_node_lab_is_connected_over_the_underlay() {
    require_root!();
    let lab = TestLab::new();
    let plan = lab.plan(3);
    let report = up(&plan).unwrap();
    assert!(!report.changes.is_empty());
    assert_matches_plan(&lab, &plan);

    let prefix = &lab.scope.prefix;
    assert_eq!(
        lab.netns_entries(),
        [
            format!("{prefix}-ext"),
            format!("{prefix}-node-1"),
            format!("{prefix}-node-2"),
            format!("{prefix}-node-3"),
        ]
    );
    assert_eq!(
        lab.host_links(),
        [
            format!("{prefix}-ext"),
            format!("{prefix}-lab0"),
            format!("{prefix}-n1"),
            format!("{prefix}-n2"),
            format!("{prefix}-n3"),
        ]
    );

    let node1 = lab.open_netns(&plan.node(1).unwrap().netns);
    assert!(ping(&node1, ip("172.30.0.12"), ANSWERS), "node 1 -> node 2");
    assert!(ping(&node1, ip("172.30.0.1"), ANSWERS), "node 1 -> host");
    assert!(
        ping(&node1, ip("172.30.0.200"), ANSWERS),
        "node 1 -> external host"
    );
    let ext = lab.open_netns(&plan.external.netns);
    assert!(
        ping(&ext, ip("172.30.0.13"), ANSWERS),
        "external host -> node 3"
    );
    assert!(
        ping(&lab.host.ns, ip("172.30.0.11"), ANSWERS),
        "host -> node 1"
    );

    let status = status(&lab.scope).unwrap();
    let node2 = status.node(2).unwrap();
    assert_eq!(
        node2.interface.as_ref().unwrap().addresses,
        [plan.node(2).unwrap().address]
    );
    assert_eq!(node2.forwarding, Some(true));
    assert_eq!(
        status.member(MemberKind::External).unwrap().forwarding,
        Some(false)
    );
    let table = status.table.as_deref().expect("the table exists");
    assert!(
        table.contains(&format!(
            "iifname \"{prefix}-lab0\" oifname != \"{prefix}-lab0\""
        )),
        "{table}"
    );
    assert_eq!(status.recorded, Recorded::Plan(Box::new(plan.clone())));
}

/// Link indexes of everything the lab made: equal indexes mean nothing was recreated.
fn indexes(lab: &TestLab, plan: &LabPlan) -> Vec<(String, u32)> {
    let mut host = lab.host.handle();
    let mut out = Vec::new();
    let mut names = vec![plan.bridge.clone()];
    names.extend(plan.members().map(|m| m.host_veth.clone()));
    for name in names {
        let index = host
            .link_by_name(&name)
            .unwrap()
            .expect("link exists")
            .index;
        out.push((name, index));
    }
    for member in plan.members() {
        let ns = lab.open_netns(&member.netns);
        let index = Handle::in_netns(&ns)
            .unwrap()
            .link_by_name(&member.interface)
            .unwrap()
            .expect("interface exists")
            .index;
        out.push((format!("{} in {}", member.interface, member.netns), index));
    }
    out
}

#[test]
fn up_twice_changes_nothing_and_up_repairs_and_resizes_the_lab() {
    require_root!();
    let lab = TestLab::new();
    let plan = lab.plan(3);
    up(&plan).unwrap();
    let before = indexes(&lab, &plan);

    let again = up(&plan).unwrap();
    assert!(
        again.changes.is_empty(),
        "second up changed {:#?}",
        again.changes
    );
    assert_eq!(indexes(&lab, &plan), before);
    assert_matches_plan(&lab, &plan);

    // Break a few things the way a person or a crash might.
    let node2 = plan.node(2).unwrap();
    let node2_ns = lab.open_netns(&node2.netns);
    let mut inside = Handle::in_netns(&node2_ns).unwrap();
    let eth0 = inside.link_by_name(&node2.interface).unwrap().unwrap();
    inside
        .del_address(eth0.index, node2.address.into())
        .unwrap();
    let mut host = lab.host.handle();
    let port1 = host
        .link_by_name(&plan.node(1).unwrap().host_veth)
        .unwrap()
        .unwrap();
    host.set_down(port1.index).unwrap();
    let bridge = host.link_by_name(&plan.bridge).unwrap().unwrap();
    host.add_address(bridge.index, "172.30.0.2/24".parse().unwrap(), false)
        .unwrap();
    NetNs::delete_named(&plan.external.netns).unwrap();
    assert!(lab.host.nft(&["delete", "table", "inet", &plan.table]));
    drop(node2_ns);
    assert!(!status(&lab.scope).unwrap().differences(&plan).is_empty());

    let repair = up(&plan).unwrap();
    assert!(!repair.changes.is_empty());
    assert_matches_plan(&lab, &plan);
    let node1 = lab.open_netns(&plan.node(1).unwrap().netns);
    assert!(
        ping(&node1, ip("172.30.0.200"), ANSWERS),
        "node 1 -> rebuilt external host"
    );
    assert!(
        ping(&node1, ip("172.30.0.12"), ANSWERS),
        "node 1 -> repaired node 2"
    );

    // A smaller plan removes node 3; a bigger one brings it back.
    let smaller = lab.plan(2);
    up(&smaller).unwrap();
    assert_matches_plan(&lab, &smaller);
    let status_small = status(&lab.scope).unwrap();
    assert!(status_small.node(3).is_none(), "{status_small:#?}");
    assert!(!lab
        .netns_entries()
        .contains(&format!("{}-node-3", lab.scope.prefix)));
    up(&plan).unwrap();
    assert_matches_plan(&lab, &plan);
}

#[test]
fn down_removes_everything_and_is_safe_twice() {
    require_root!();
    let lab = TestLab::new();
    let plan = lab.plan(3);
    up(&plan).unwrap();
    assert!(lab.scope.state_file().exists());

    let report = down(&lab.scope).unwrap();
    assert!(!report.removed.is_empty());
    let after = status(&lab.scope).unwrap();
    assert!(after.is_absent(), "{after:#?}");
    assert_eq!(lab.netns_entries(), Vec::<String>::new());
    assert_eq!(lab.host_links(), Vec::<String>::new());
    assert!(!lab.scope.state_dir.exists());
    assert!(!lab.host.nft(&["list", "table", "inet", &plan.table]));

    let again = down(&lab.scope).unwrap();
    assert_eq!(again.removed, Vec::<String>::new());
}

/// Leaves what an `up` killed at various points could leave: a bridge without
/// address, a node namespace with an unattached veth, a host-side veth whose peer
/// never reached its namespace, a `/run/netns` entry whose mount never happened, the
/// table, and a node beyond the plan.
fn half_build(lab: &TestLab) {
    let scope = &lab.scope;
    let mut host = lab.host.handle();
    host.add_bridge(&scope.bridge(), None).unwrap();

    let node1 = NetNs::create_named(&scope.netns(MemberKind::Node(1))).unwrap();
    host.add_veth(&VethSpec {
        name: &scope.host_veth(MemberKind::Node(1)),
        mtu: None,
        mac: None,
        peer_name: &scope.interface,
        peer_mac: None,
        peer_netns: Some(node1.as_fd()),
    })
    .unwrap();

    host.add_veth(&VethSpec {
        name: &scope.host_veth(MemberKind::Node(2)),
        mtu: None,
        mac: None,
        peer_name: "stray0",
        peer_mac: None,
        peer_netns: None,
    })
    .unwrap();

    let stale = Path::new(NETNS_RUN_DIR).join(scope.netns(MemberKind::Node(3)));
    std::fs::write(&stale, "").unwrap();

    NetNs::create_named(&scope.netns(MemberKind::Node(7))).unwrap();
    let table = firewall::table(scope).render_replace();
    let applied = lab
        .host
        .ns
        .run(|| {
            use std::io::Write;
            let mut child = Command::new("nft")
                .args(["-f", "-"])
                .stdin(std::process::Stdio::piped())
                .spawn()
                .expect("run nft");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(table.as_bytes())
                .unwrap();
            child.wait().unwrap().success()
        })
        .unwrap();
    assert!(applied, "nft applied the table");
}

#[test]
fn down_removes_a_half_built_lab() {
    require_root!();
    let lab = TestLab::new();
    half_build(&lab);
    let before = status(&lab.scope).unwrap();
    assert!(!before.is_absent());
    assert!(before.table.is_some());
    assert!(before.node(7).is_some());

    down(&lab.scope).unwrap();
    let after = status(&lab.scope).unwrap();
    assert!(after.is_absent(), "{after:#?}");
    assert_eq!(lab.netns_entries(), Vec::<String>::new());
    assert_eq!(
        lab.host_links(),
        Vec::<String>::new(),
        "stray0 went with its peer"
    );
    down(&lab.scope).unwrap();
}

#[test]
fn up_completes_a_half_built_lab() {
    require_root!();
    let lab = TestLab::new();
    half_build(&lab);
    let plan = lab.plan(3);
    up(&plan).unwrap();
    assert_matches_plan(&lab, &plan);
    assert!(!lab.host_links().contains(&"stray0".to_string()));
    let node3 = lab.open_netns(&plan.node(3).unwrap().netns);
    assert!(ping(&node3, ip("172.30.0.11"), ANSWERS), "node 3 -> node 1");
    assert!(up(&plan).unwrap().changes.is_empty());
}

#[test]
fn forwarding_from_the_lab_to_the_uplink_is_dropped() {
    require_root!();
    let lab = TestLab::new();
    // A stand-in for the host's uplink: another throwaway namespace behind a veth,
    // with a route back to the underlay, and forwarding on in the (throwaway) host.
    let uplink = TestNs::new(format!("{}-uplink", lab.scope.prefix));
    let mut host = lab.host.handle();
    host.add_veth(&VethSpec {
        name: "uplink0",
        mtu: None,
        mac: None,
        peer_name: "eth0",
        peer_mac: None,
        peer_netns: Some(uplink.ns.as_fd()),
    })
    .unwrap();
    let host_end = host.link_by_name("uplink0").unwrap().unwrap();
    host.add_address(host_end.index, "198.51.100.1/24".parse().unwrap(), false)
        .unwrap();
    host.set_up(host_end.index).unwrap();
    let mut far = uplink.handle();
    let far_end = far.link_by_name("eth0").unwrap().unwrap();
    far.add_address(far_end.index, "198.51.100.2/24".parse().unwrap(), false)
        .unwrap();
    far.set_up(far_end.index).unwrap();
    far.add_route(&Route {
        dst: Some("172.30.0.0/24".parse().unwrap()),
        gateway: Some("198.51.100.1".parse().unwrap()),
        ..Route::default()
    })
    .unwrap();
    lab.host.sysctl("net.ipv4.ip_forward", "1");

    let plan = lab.plan(2);
    up(&plan).unwrap();
    let outside = ip("198.51.100.2");
    assert!(
        ping(&lab.host.ns, outside, ANSWERS),
        "the host itself reaches the uplink"
    );
    let node1 = lab.open_netns(&plan.node(1).unwrap().netns);
    assert!(
        !ping(&node1, outside, DROPPED),
        "node 1 must not reach past the host"
    );
    let listing = status(&lab.scope).unwrap().table.unwrap();
    let dropped = counter_packets(&listing, "oifname != ").unwrap();
    assert!(dropped > 0, "the drop rule counted the attempt: {listing}");
    assert!(
        ping(&node1, ip("172.30.0.12"), ANSWERS),
        "node to node still works"
    );
    assert!(
        ping(&node1, ip("172.30.0.1"), ANSWERS),
        "node to host still works"
    );
    // Bridged traffic meets the forward hook too when br_netfilter is active, with the
    // bridge as both interfaces: it must not count as leaving.
    let listing = status(&lab.scope).unwrap().table.unwrap();
    assert_eq!(counter_packets(&listing, "oifname != "), Some(dropped));

    // Control: without the table the same attempt goes through, so it was the
    // table that stopped it; up puts the table back.
    assert!(lab.host.nft(&["delete", "table", "inet", &plan.table]));
    assert!(
        ping(&node1, outside, ANSWERS),
        "without the table the route works"
    );
    up(&plan).unwrap();
    assert!(!ping(&node1, outside, DROPPED), "dropped again after up");
}

#[test]
fn a_lab_in_the_callers_own_namespace() {
    require_root!();
    // The caller's namespace is the host here: all of it runs on a thread inside a
    // throwaway namespace, so the real host stays untouched.
    let lab = TestLab::new();
    let mut scope = lab.scope.clone();
    scope.host_netns = None;
    let plan = LabPlan::new(LabConfig {
        scope: scope.clone(),
        nodes: 1,
        ..LabConfig::default()
    })
    .unwrap();
    let (differences, reached, links_inside) = lab
        .host
        .ns
        .run(|| {
            up(&plan).unwrap();
            let differences = status(&scope).unwrap().differences(&plan);
            let node1 = NetNs::open(plan.node(1).unwrap().netns_path()).unwrap();
            let reached = ping(&node1, ip("172.30.0.1"), ANSWERS);
            let links = Handle::new().unwrap().links().unwrap().len();
            (differences, reached, links)
        })
        .unwrap();
    assert!(differences.is_empty(), "{differences:#?}");
    assert!(reached, "node 1 -> host");
    assert_eq!(links_inside, 4, "lo, bridge, node port, external port");
    assert_eq!(
        lab.host_links().len(),
        3,
        "built in the namespace the code ran in"
    );
    let mut real_host = Handle::new().unwrap();
    assert_eq!(real_host.link_by_name(&plan.bridge).unwrap(), None);

    let absent = lab
        .host
        .ns
        .run(|| {
            down(&scope).unwrap();
            status(&scope).unwrap().is_absent()
        })
        .unwrap();
    assert!(absent);
}

/// The child half of `down_cleans_up_after_up_was_killed`: rebuilds the lab named in
/// the environment over and over until killed. Run alone it builds and removes a
/// throwaway lab of its own.
#[test]
#[ignore = "started as a child process by down_cleans_up_after_up_was_killed"]
fn child_runs_up_until_killed() {
    require_root!();
    match std::env::var("PODNET_LAB_TEST_SCOPE") {
        Ok(json) => {
            let scope: LabScope = serde_json::from_str(&json).unwrap();
            let plans: Vec<LabPlan> = [3, 1]
                .into_iter()
                .map(|nodes| {
                    LabPlan::new(LabConfig {
                        scope: scope.clone(),
                        nodes,
                        ..LabConfig::default()
                    })
                    .unwrap()
                })
                .collect();
            for plan in plans.iter().cycle() {
                up(plan).unwrap();
                down(&scope).unwrap();
            }
        }
        Err(_) => {
            let lab = TestLab::new();
            let plan = lab.plan(1);
            up(&plan).unwrap();
            assert_matches_plan(&lab, &plan);
            down(&lab.scope).unwrap();
            assert!(status(&lab.scope).unwrap().is_absent());
        }
    }
}

#[test]
fn down_cleans_up_after_up_was_killed() {
    require_root!();
    let lab = TestLab::new();
    let scope_json = serde_json::to_string(&lab.scope).unwrap();
    // Rounds whose kill left something behind (it may land between a down and the
    // next up of the child, leaving nothing).
    let mut interrupted = 0;
    for (round, delay_ms) in [0u64, 15, 40, 100, 250, 600].into_iter().enumerate() {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_runs_up_until_killed",
                "--ignored",
                "--nocapture",
            ])
            .env("PODNET_LAB_TEST_SCOPE", &scope_json)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the child is building, then kill it at a different point each
        // round: inside an up, inside a down, or between them.
        let started = Instant::now();
        while lab.netns_entries().is_empty() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        let exit = child.wait().unwrap();
        assert!(
            exit.code().is_none(),
            "the child was killed, not finished: {exit}"
        );

        if !status(&lab.scope).unwrap().is_absent() {
            interrupted += 1;
        }
        down(&lab.scope).unwrap();
        let after = status(&lab.scope).unwrap();
        assert!(after.is_absent(), "round {round}: {after:#?}");
        assert_eq!(lab.host_links(), Vec::<String>::new(), "round {round}");
    }
    assert!(interrupted > 0, "no kill left a partial lab behind");
    // And a killed lab can be built again.
    let plan = lab.plan(2);
    up(&plan).unwrap();
    assert_matches_plan(&lab, &plan);
}

#[test]
fn links_with_lab_names_but_another_kind_are_left_alone() {
    require_root!();
    let lab = TestLab::new();
    let mut host = lab.host.handle();
    // A veth where the bridge belongs: someone else's device under the lab's name.
    host.add_veth(&VethSpec {
        name: &lab.scope.bridge(),
        mtu: None,
        mac: None,
        peer_name: "foreign0",
        peer_mac: None,
        peer_netns: None,
    })
    .unwrap();

    let refused = up(&lab.plan(1)).unwrap_err();
    assert!(
        matches!(refused, podnet_lab::Error::Conflict { .. }),
        "{refused}"
    );
    let incomplete = down(&lab.scope).unwrap_err();
    match &incomplete {
        podnet_lab::Error::Incomplete { failures } => {
            assert_eq!(failures.len(), 1, "{incomplete}");
            assert!(matches!(failures[0], podnet_lab::Error::Conflict { .. }));
        }
        other => panic!("expected Incomplete, got {other}"),
    }
    let bridge_named = host.link_by_name(&lab.scope.bridge()).unwrap().unwrap();
    assert_eq!(bridge_named.kind.as_deref(), Some("veth"), "still there");
    assert!(host.link_by_name("foreign0").unwrap().is_some());
    // Everything else the refused up made is gone.
    assert_eq!(lab.netns_entries(), Vec::<String>::new());
    assert!(!lab.host.nft(&["list", "table", "inet", &lab.scope.table()]));
    host.delete_link(bridge_named.index).unwrap();
}

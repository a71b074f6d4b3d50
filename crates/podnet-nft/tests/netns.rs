//! Root tests against the real `nft` and kernel, each in its own throwaway network
//! namespace (`pnft-<pid>-<n>`), deleted by a drop guard even when the test fails. Every
//! nft call goes through `ip netns exec NAME`, so the host's ruleset is never touched:
//! if the namespace were missing, `ip netns exec` would fail instead of falling back to
//! the host.
//!
//! Without root each test reports itself skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use podnet_nft::{
    diff, Backend, Chain, ChainType, Error, Family, Hook, NftCli, Policy, Set, SetFlag, Table,
    TableSync,
};
use serde_json::Value;

static NEXT_NETNS: AtomicU32 = AtomicU32::new(0);

/// A network namespace of this test process, deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        let name = format!(
            "pnft-{}-{}",
            std::process::id(),
            NEXT_NETNS.fetch_add(1, Ordering::Relaxed)
        );
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip netns add");
        assert!(status.success(), "ip netns add {name} failed");
        Netns { name }
    }

    fn nft(&self) -> NftCli {
        NftCli::in_netns_named(&self.name).stateless_listing(true)
    }

    /// Runs nft with arguments in the namespace, returning stdout; panics on failure.
    fn run_nft(&self, args: &[&str]) -> String {
        let output = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft"])
            .args(args)
            .output()
            .expect("run nft");
        assert!(
            output.status.success(),
            "nft {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("nft output is UTF-8")
    }

    /// The table as the kernel holds it, normalized so that two namespaces holding the
    /// same content compare equal whatever order things were created in: objects as a
    /// set (handles and expiry times dropped, elements sorted), rules in order per chain.
    fn snapshot(&self, family: Family, name: &str) -> Snapshot {
        let json = self.run_nft(&["-j", "-s", "list", "table", family.as_str(), name]);
        let mut value: Value = serde_json::from_str(&json).expect("nft -j prints JSON");
        strip_volatile(&mut value);
        let mut snapshot = Snapshot::default();
        for object in value["nftables"].as_array().expect("nftables array") {
            if let Some(rule) = object.get("rule") {
                let chain = rule["chain"].as_str().expect("rule chain").to_string();
                snapshot
                    .rules
                    .entry(chain)
                    .or_default()
                    .push(rule["expr"].to_string());
            } else if object.get("metainfo").is_none() {
                snapshot.objects.insert(object.to_string());
            }
        }
        snapshot
    }

    fn has_table(&self, family: Family, name: &str) -> bool {
        self.nft()
            .list_table(family, name)
            .expect("list table")
            .is_some()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let status = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("could not delete network namespace {}", self.name);
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Snapshot {
    objects: BTreeSet<String>,
    rules: BTreeMap<String, Vec<String>>,
}

fn strip_volatile(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("handle");
            map.remove("expires");
            for (_, inner) in map.iter_mut() {
                strip_volatile(inner);
            }
            if let Some(Value::Array(elements)) = map.get_mut("elem") {
                elements.sort_by_key(|element| element.to_string());
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_volatile),
        _ => {}
    }
}

fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// For `if !root_or_skip() { return; }`.
fn root_or_skip() -> bool {
    if is_root() {
        return true;
    }
    let test = std::thread::current().name().unwrap_or("test").to_string();
    eprintln!("{test}: skipped: needs root");
    false
}

const TABLE: &str = "podnet-test";

/// A table shaped like the service proxy's: a dispatch verdict map to per-service
/// chains, a DNAT map, an interval set with concatenations, a timeout set, names with
/// `-` and `/`.
fn proxy_table() -> Table {
    let mut table = Table::new(Family::Inet, TABLE);
    let services = table.add_set(
        Set::map(
            "service-ips",
            "ipv4_addr . inet_proto . inet_service",
            "verdict",
        )
        .with_comment("ClusterIP dispatch"),
    );
    services.insert_mapping("10.96.0.10 . udp . 53", "goto svc-ns1/dns/udp/p53");
    services.insert_mapping("10.96.0.20 . tcp . 80", "goto svc-ns1/web/tcp/p80");
    table
        .add_set(Set::map(
            "dnat-targets",
            "ipv4_addr . inet_proto . inet_service",
            "ipv4_addr . inet_service",
        ))
        .insert_mapping("172.30.0.11 . tcp . 30080", "10.0.0.7 . 8080");
    let ranges = table.add_set(
        Set::new("lb-sources", "ipv4_addr . inet_proto . inet_service")
            .with_flag(SetFlag::Interval),
    );
    ranges.insert("10.0.0.0/8 . tcp . 30000-32767");
    ranges.insert("192.168.0.0/16 . udp . 53");
    table.add_set(
        Set::new("affinity", "ipv4_addr")
            .with_flag(SetFlag::Timeout)
            .with_flag(SetFlag::Dynamic)
            .with_timeout(Duration::from_secs(10800)),
    );
    table.add_chain(
        Chain::base(
            "pre",
            ChainType::Nat,
            Hook::Prerouting,
            -100,
            Policy::Accept,
        )
        .with_comment("services; see README #hooks")
        .with_rule("ip daddr . meta l4proto . th dport vmap @service-ips")
        .with_rule("dnat ip to ip daddr . meta l4proto . th dport map @dnat-targets"),
    );
    table.add_chain(
        Chain::base(
            "filter-in",
            ChainType::Filter,
            Hook::Input,
            0,
            Policy::Accept,
        )
        .with_rule("ip saddr . meta l4proto . th dport @lb-sources counter accept"),
    );
    table.add_chain(
        Chain::new("svc-ns1/dns/udp/p53")
            .with_rule("update @affinity { ip saddr }")
            .with_rule("dnat ip to 10.0.0.53"),
    );
    table.add_chain(Chain::new("svc-ns1/web/tcp/p80").with_rule("dnat ip to 10.0.0.80"));
    table.validate().expect("test table is valid");
    table
}

#[test]
fn replace_then_ensure_twice_leaves_the_same_table_without_duplicate_rules() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new();
    let mut nft = ns.nft();
    let table = proxy_table();
    nft.apply(&table.render_replace()).unwrap();
    let replaced = ns.snapshot(Family::Inet, TABLE);
    assert_eq!(replaced.rules["pre"].len(), 2);

    nft.apply(&table.render_ensure()).unwrap();
    nft.apply(&table.render_ensure()).unwrap();
    assert_eq!(ns.snapshot(Family::Inet, TABLE), replaced);

    let listing = nft.list_table(Family::Inet, TABLE).unwrap().unwrap();
    assert_eq!(listing.matches("vmap @service-ips").count(), 1);
    assert!(listing.contains("comment \"services; see README #hooks\""));
    assert!(listing.contains("timeout 3h"));
}

#[test]
fn ensure_creates_a_missing_table_and_keeps_elements_it_does_not_list() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new();
    let mut nft = ns.nft();
    let table = proxy_table();
    assert!(!ns.has_table(Family::Inet, TABLE));
    nft.apply(&table.render_ensure()).unwrap();
    let reference = Netns::new();
    reference.nft().apply(&table.render_replace()).unwrap();
    assert_eq!(
        ns.snapshot(Family::Inet, TABLE),
        reference.snapshot(Family::Inet, TABLE)
    );

    // Another pod's element, added by an earlier ADD.
    ns.run_nft(&[
        "add",
        "element",
        "inet",
        TABLE,
        "dnat-targets",
        "{ 172.30.0.11 . tcp . 30081 : 10.0.0.8 . 8080 }",
    ]);
    nft.apply(&table.render_ensure()).unwrap();
    let listing = nft.list_table(Family::Inet, TABLE).unwrap().unwrap();
    assert!(listing.contains("172.30.0.11 . tcp . 30081 : 10.0.0.8 . 8080"));
    assert!(listing.contains("172.30.0.11 . tcp . 30080 : 10.0.0.7 . 8080"));
}

#[test]
fn refresh_replaces_elements_but_keeps_what_the_packet_path_recorded() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new();
    let mut nft = ns.nft();
    let table = proxy_table();
    nft.apply(&table.render_replace()).unwrap();
    // A stray element of a listed map, a client recorded in the dynamic set, and a
    // rule somebody added to a listed chain.
    ns.run_nft(&[
        "add",
        "element",
        "inet",
        TABLE,
        "dnat-targets",
        "{ 172.30.0.11 . tcp . 30099 : 10.0.0.9 . 8080 }",
    ]);
    ns.run_nft(&[
        "add",
        "element",
        "inet",
        TABLE,
        "affinity",
        "{ 10.244.1.7 }",
    ]);
    let chain = table.chains.keys().next().unwrap().clone();
    ns.run_nft(&["add", "rule", "inet", TABLE, &chain, "counter"]);

    let keep = |set: &podnet_nft::Set| set.flags.contains(&SetFlag::Dynamic);
    nft.apply(&table.render_refresh(keep)).unwrap();
    nft.apply(&table.render_refresh(keep)).unwrap();
    let listing = nft.list_table(Family::Inet, TABLE).unwrap().unwrap();
    assert!(!listing.contains("30099"), "{listing}");
    assert!(listing.contains("172.30.0.11 . tcp . 30080 : 10.0.0.7 . 8080"));
    assert!(listing.contains("10.244.1.7"), "{listing}");
    // Apart from the recorded client, exactly what a replace gives.
    ns.run_nft(&[
        "delete",
        "element",
        "inet",
        TABLE,
        "affinity",
        "{ 10.244.1.7 }",
    ]);
    let reference = Netns::new();
    reference.nft().apply(&table.render_replace()).unwrap();
    assert_eq!(
        ns.snapshot(Family::Inet, TABLE),
        reference.snapshot(Family::Inet, TABLE)
    );
}

#[test]
fn removing_absent_elements_succeeds_even_without_the_table() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new();
    let mut nft = ns.nft();
    let table = proxy_table();
    let removals = vec![
        (
            "dnat-targets".to_string(),
            vec![(
                "172.30.0.11 . tcp . 30080".to_string(),
                Some("10.0.0.7 . 8080".to_string()),
            )],
        ),
        (
            "service-ips".to_string(),
            vec![(
                "10.96.0.20 . tcp . 80".to_string(),
                Some("goto svc-ns1/web/tcp/p80".to_string()),
            )],
        ),
        (
            "lb-sources".to_string(),
            vec![("10.0.0.0/8 . tcp . 30000-32767".to_string(), None)],
        ),
    ];
    let script = table.render_remove_elements(&removals);

    // No table at all yet.
    nft.apply(&script).unwrap();
    // The table exists and the elements are present: they go, the others stay.
    nft.apply(&table.render_replace()).unwrap();
    nft.apply(&script).unwrap();
    let listing = nft.list_table(Family::Inet, TABLE).unwrap().unwrap();
    assert!(!listing.contains("30080"));
    assert!(!listing.contains("10.96.0.20"));
    assert!(!listing.contains("10.0.0.0/8"));
    assert!(listing.contains("10.96.0.10 . udp . 53 : goto svc-ns1/dns/udp/p53"));
    assert!(listing.contains("192.168.0.0/16 . udp . 53"));
    // Already gone: still fine, and nothing else changes.
    let before = ns.snapshot(Family::Inet, TABLE);
    nft.apply(&script).unwrap();
    assert_eq!(ns.snapshot(Family::Inet, TABLE), before);
}

/// Applies `replace(old)` then `diff(old, new)` in one namespace, `replace(new)` in
/// another, and checks both hold the same table.
fn assert_diff_reaches(old: &Table, new: &Table) {
    let ns = Netns::new();
    let mut nft = ns.nft();
    nft.apply(&old.render_replace()).unwrap();
    let script = diff(old, new);
    nft.apply(script.as_str())
        .unwrap_or_else(|error| panic!("diff rejected: {error}\n{script}"));

    let reference = Netns::new();
    reference.nft().apply(&new.render_replace()).unwrap();
    assert_eq!(
        ns.snapshot(new.family, &new.name),
        reference.snapshot(new.family, &new.name),
        "after diff:\n{script}"
    );
}

#[test]
fn diffs_bring_the_kernel_to_the_same_state_as_a_replace() {
    if !root_or_skip() {
        return;
    }
    let old = proxy_table();

    // Elements added, removed and a map value changed.
    let mut new = old.clone();
    let targets = new.set_mut("dnat-targets").unwrap();
    targets.insert_mapping("172.30.0.11 . tcp . 30080", "10.0.0.9 . 8080");
    targets.insert_mapping("172.30.0.11 . udp . 30053", "10.0.0.9 . 53");
    new.set_mut("lb-sources")
        .unwrap()
        .elements
        .remove("192.168.0.0/16 . udp . 53");
    assert_diff_reaches(&old, &new);

    // A service goes away (its chain and the verdict pointing at it), another arrives.
    let mut new = old.clone();
    new.chains.remove("svc-ns1/web/tcp/p80");
    let services = new.set_mut("service-ips").unwrap();
    services.elements.remove("10.96.0.20 . tcp . 80");
    services.insert_mapping("10.96.0.30 . tcp . 443", "goto svc-ns2/api/tcp/p443");
    new.add_chain(Chain::new("svc-ns2/api/tcp/p443").with_rule("dnat ip to 10.0.0.44"));
    assert_diff_reaches(&old, &new);

    // A chain's rules change and a base chain's policy changes.
    let mut new = old.clone();
    new.chain_mut("pre").unwrap().rules.reverse();
    new.chain_mut("filter-in")
        .unwrap()
        .base
        .as_mut()
        .unwrap()
        .policy = Policy::Drop;
    assert_diff_reaches(&old, &new);

    // A set referred to by a rule changes definition.
    let mut new = old.clone();
    let sources = new.set_mut("lb-sources").unwrap();
    sources.flags.push(SetFlag::Timeout);
    sources.timeout = Some(Duration::from_secs(60));
    assert_diff_reaches(&old, &new);

    // A set is removed together with the rule using it; a new set and chain appear.
    let mut new = old.clone();
    new.sets.remove("lb-sources");
    new.chain_mut("filter-in").unwrap().rules = vec!["ip saddr @node-ips accept".into()];
    new.add_set(Set::new("node-ips", "ipv4_addr"))
        .insert("172.30.0.11");
    assert_diff_reaches(&old, &new);

    // A priority change cannot be done in place: the diff is a replace.
    let mut new = old.clone();
    new.chain_mut("pre")
        .unwrap()
        .base
        .as_mut()
        .unwrap()
        .priority = -110;
    assert_diff_reaches(&old, &new);

    // From nothing at all.
    assert_diff_reaches(&Table::new(Family::Inet, TABLE), &old);
}

#[test]
fn a_rejected_script_reports_nfts_message_and_changes_nothing() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new();
    let mut nft = ns.nft();
    let table = proxy_table();
    nft.apply(&table.render_replace()).unwrap();
    let before = ns.snapshot(Family::Inet, TABLE);

    // A syntax error in the middle of otherwise valid changes.
    let mut bad = table.clone();
    bad.set_mut("lb-sources").unwrap().elements.clear();
    bad.chain_mut("pre")
        .unwrap()
        .push_rule("frobnicate the packet");
    match nft.apply(&bad.render_ensure()).unwrap_err() {
        Error::Rejected {
            stderr,
            script_excerpt,
        } => {
            assert!(stderr.contains("syntax error"), "{stderr}");
            assert!(
                script_excerpt.contains("frobnicate the packet"),
                "{script_excerpt}"
            );
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(ns.snapshot(Family::Inet, TABLE), before);

    // A kernel refusal after valid commands already went into the same transaction:
    // the elements are deleted first, then a jump to a chain that does not exist.
    let mut bad = table.clone();
    bad.set_mut("service-ips").unwrap().elements.clear();
    bad.chain_mut("filter-in")
        .unwrap()
        .push_rule("jump no-such-chain");
    let script = diff(&table, &bad);
    assert!(script.as_str().find("delete element") < script.as_str().find("jump no-such-chain"));
    match nft.apply(script.as_str()).unwrap_err() {
        Error::Rejected { stderr, .. } => assert!(stderr.contains("Error"), "{stderr}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(ns.snapshot(Family::Inet, TABLE), before);
}

#[test]
fn listing_and_deleting_a_table() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new();
    let mut nft = ns.nft();
    assert_eq!(nft.list_table(Family::Inet, TABLE).unwrap(), None);
    // Deleting a table that does not exist is fine.
    nft.apply(&Table::render_delete(Family::Inet, TABLE))
        .unwrap();
    nft.apply(&proxy_table().render_replace()).unwrap();
    assert!(ns.has_table(Family::Inet, TABLE));
    nft.apply(&Table::render_delete(Family::Inet, TABLE))
        .unwrap();
    assert!(!ns.has_table(Family::Inet, TABLE));
}

#[test]
fn other_tables_in_the_namespace_are_left_alone() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new();
    let mut nft = ns.nft();
    ns.run_nft(&["add", "table", "inet", "someone-else"]);
    ns.run_nft(&["add", "chain", "inet", "someone-else", "keep"]);
    let theirs = ns.snapshot(Family::Inet, "someone-else");
    let table = proxy_table();
    nft.apply(&table.render_replace()).unwrap();
    nft.apply(&table.render_ensure()).unwrap();
    nft.apply(diff(&table, &Table::new(Family::Inet, TABLE)).as_str())
        .unwrap();
    nft.apply(&Table::render_delete(Family::Inet, TABLE))
        .unwrap();
    assert_eq!(ns.snapshot(Family::Inet, "someone-else"), theirs);
}

#[test]
fn table_sync_replaces_once_then_applies_diffs() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new();
    let mut sync = TableSync::new(ns.nft());
    let first = sync.sync(proxy_table()).unwrap();
    assert_eq!(first.as_str(), proxy_table().render_replace());

    let mut next = proxy_table();
    next.set_mut("lb-sources")
        .unwrap()
        .insert("172.16.0.0/12 . tcp . 443");
    let second = sync.sync(next.clone()).unwrap();
    assert!(second.as_str().contains("add element"));
    assert!(!second.as_str().contains("delete table"));
    assert!(sync.sync(next).unwrap().is_empty());

    let listing = ns.nft().list_table(Family::Inet, TABLE).unwrap().unwrap();
    assert!(listing.contains("172.16.0.0/12 . tcp . 443"));
}

#[test]
fn ten_thousand_services_replace_and_diff_in_one_transaction_each() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new();
    let mut nft = ns.nft();
    let ip = |i: u32| format!("10.96.{}.{}", i / 250, i % 250 + 1);
    let mut old = Table::new(Family::Inet, TABLE);
    let targets = old.add_set(Set::map(
        "dnat-targets",
        "ipv4_addr . inet_proto . inet_service",
        "ipv4_addr . inet_service",
    ));
    for i in 0..10_000 {
        targets.insert_mapping(
            format!("{} . tcp . 80", ip(i)),
            format!("10.0.0.{} . 8080", i % 200 + 1),
        );
    }
    let mut new = old.clone();
    let targets = new.set_mut("dnat-targets").unwrap();
    for i in 0..1_000 {
        targets.elements.remove(&format!("{} . tcp . 80", ip(i)));
        targets.insert_mapping(format!("{} . tcp . 443", ip(i)), "10.0.1.1 . 8443");
    }

    let started = Instant::now();
    nft.apply(&old.render_replace()).unwrap();
    let replace_time = started.elapsed();
    let script = diff(&old, &new);
    assert_eq!(script.commands(), 3);
    let started = Instant::now();
    nft.apply(script.as_str()).unwrap();
    let diff_time = started.elapsed();
    eprintln!("10k elements: replace {replace_time:?}, diff of 2k elements {diff_time:?}");

    let listing = nft.list_table(Family::Inet, TABLE).unwrap().unwrap();
    assert_eq!(listing.matches(" . tcp . 443 : ").count(), 1_000);
    assert_eq!(listing.matches(" . tcp . 80 : ").count(), 9_000);
}

#[test]
fn names_that_pass_check_name_are_accepted_by_nft_and_keywords_are_not() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new();
    let mut nft = ns.nft();
    let long = "n".repeat(podnet_nft::MAX_NAME_LEN);
    let names = [
        "svc-ULMVA6XW-ns1/svc1/tcp/p80",
        "_x",
        ".x",
        "input",
        "filter",
        "nat",
        "services",
        long.as_str(),
    ];
    for name in names {
        podnet_nft::check_name(name).unwrap();
        let mut table = Table::new(Family::Inet, name);
        table.add_set(Set::new(name, "ipv4_addr"));
        table.add_chain(Chain::new(name).with_rule(format!("ip saddr @{name} accept")));
        table.validate().unwrap();
        nft.check(&table.render_replace())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
    }
    // Keywords cannot be names, which is why check_name refuses them.
    assert!(podnet_nft::check_name("tcp").is_err());
    assert!(nft.check("add table inet tcp\n").is_err());
}

/// Runs `f` on a thread that has joined the namespace `name`.
fn in_netns<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let ns = std::fs::File::open(format!("/run/netns/{name}")).expect("open netns");
            // SAFETY: setns on a valid namespace descriptor, for this thread only.
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&ns), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("netns thread")
    })
}

fn element_table() -> Table {
    let mut t = Table::new(Family::Inet, TABLE);
    t.add_chain(Chain::new("masq"));
    t.add_set(Set::map("pods4", "ipv4_addr", "verdict"));
    t.add_set(Set::map(
        "ports4",
        "inet_proto . inet_service",
        "ipv4_addr . inet_service",
    ));
    t.add_set(Set::new("keys6", "ipv6_addr . inet_proto . inet_service"));
    t
}

#[test]
fn element_batches_over_netlink_add_and_remove_idempotently() {
    if !root_or_skip() {
        return;
    }
    let ns = Netns::new();
    let t = element_table();
    let pods = vec![("10.1.0.5".to_string(), Some("goto masq".to_string()))];
    let ports = vec![("tcp . 8080".to_string(), Some("10.1.0.5 . 80".to_string()))];
    let keys = vec![("fd00::5 . udp . 53".to_string(), None)];

    // No table yet: the batch says the structure is missing.
    let mut add = podnet_nft::ElementBatch::new(Family::Inet, TABLE);
    add.add(&t.sets["pods4"], &pods).unwrap();
    let err = in_netns(&ns.name, || add.commit()).unwrap_err();
    assert!(err.is_missing(), "{err}");

    ns.nft().apply(&t.render_replace()).expect("structure");
    add.add(&t.sets["ports4"], &ports).unwrap();
    add.add(&t.sets["keys6"], &keys).unwrap();
    in_netns(&ns.name, || add.commit()).expect("add");
    in_netns(&ns.name, || add.commit()).expect("adding the same elements again");
    let listing = ns.run_nft(&["list", "table", "inet", TABLE]);
    assert!(listing.contains("10.1.0.5 : goto masq"), "{listing}");
    assert!(listing.contains("tcp . 8080 : 10.1.0.5 . 80"), "{listing}");
    assert!(listing.contains("fd00::5 . udp . 53"), "{listing}");

    let mut remove = podnet_nft::ElementBatch::new(Family::Inet, TABLE);
    remove.remove(&t.sets["pods4"], &pods).unwrap();
    remove.remove(&t.sets["ports4"], &ports).unwrap();
    remove.remove(&t.sets["keys6"], &keys).unwrap();
    in_netns(&ns.name, || remove.commit()).expect("remove");
    in_netns(&ns.name, || remove.commit()).expect("removing absent elements");
    let listing = ns.run_nft(&["list", "table", "inet", TABLE]);
    assert!(!listing.contains("10.1.0.5"), "{listing}");
    assert!(!listing.contains("fd00::5"), "{listing}");

    // A batch that fails half-way applies nothing.
    let mut bad = podnet_nft::ElementBatch::new(Family::Inet, TABLE);
    bad.add(&t.sets["pods4"], &pods).unwrap();
    bad.add(
        &t.sets["pods4"],
        &[(
            "10.1.0.6".to_string(),
            Some("goto no-such-chain".to_string()),
        )],
    )
    .unwrap();
    assert!(in_netns(&ns.name, || bad.commit()).is_err());
    let listing = ns.run_nft(&["list", "table", "inet", TABLE]);
    assert!(
        !listing.contains("10.1.0.5"),
        "partial batch applied: {listing}"
    );
}

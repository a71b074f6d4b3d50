//! The `inet podnet-cni` table: pod masquerade (ipMasq) and hostPort DNAT.
//!
//! Compile is pure: attachments in, a desired table out. The structure (chains, maps,
//! rules) is the same for every pod; what a pod adds are map and set elements, so an
//! ADD or DEL is one small atomic transaction whatever the number of pods.
//!
//! Hooks and priorities:
//! - `prerouting` (nat, dstnat -100) and `output` (nat, dstnat -100): packets to a local
//!   address jump to `hostports`, which marks those needing masquerade and DNATs through
//!   the hostPort maps.
//! - `postrouting` (nat, srcnat 100): marked hostPort traffic is masqueraded (node-local
//!   and same-network clients, so replies come back through the node); then pod sources
//!   dispatch through `masq-pods4/6` to their network's `masq-<hash>` chain, which
//!   returns for exempt destinations and masquerades the rest.

use crate::state::Attachment;
use ipnet::IpNet;
use podnet_nft::{BaseChain, Chain, ChainType, Family, Hook, Policy, Removal, Set, SetFlag, Table};
use std::collections::BTreeMap;
use std::net::IpAddr;

pub const TABLE: &str = "podnet-cni";
/// Packet mark bit asking postrouting to masquerade hostPort traffic.
pub const MASQ_MARK: u32 = 0x2000;

#[derive(Clone, Copy)]
enum Fam {
    V4,
    V6,
}

impl Fam {
    fn of(ip: &IpAddr) -> Fam {
        if ip.is_ipv4() {
            Fam::V4
        } else {
            Fam::V6
        }
    }
    fn suffix(self) -> &'static str {
        match self {
            Fam::V4 => "4",
            Fam::V6 => "6",
        }
    }
    fn addr_type(self) -> &'static str {
        match self {
            Fam::V4 => "ipv4_addr",
            Fam::V6 => "ipv6_addr",
        }
    }
    fn proto(self) -> &'static str {
        match self {
            Fam::V4 => "ip",
            Fam::V6 => "ip6",
        }
    }
    const BOTH: [Fam; 2] = [Fam::V4, Fam::V6];
}

fn set(name: String, key: &str, value: Option<&str>, flags: Vec<SetFlag>) -> Set {
    Set {
        name,
        key: key.to_string(),
        value: value.map(str::to_string),
        flags,
        timeout: None,
        elements: BTreeMap::new(),
        comment: None,
    }
}

fn base_chain(name: &str, kind: ChainType, hook: Hook, priority: i32, rules: Vec<String>) -> Chain {
    Chain {
        name: name.to_string(),
        base: Some(BaseChain {
            kind,
            hook,
            priority,
            policy: Policy::Accept,
        }),
        rules,
        comment: None,
    }
}

/// Name of a network's masquerade chain; hashed so any network name fits nft's rules.
pub fn masq_chain(network: &str) -> String {
    format!("masq-{}", podnet_model::hash::short_hash(network, 10))
}

/// The fixed part of the table: maps, sets and base chains, without elements.
pub fn skeleton() -> Table {
    let mut t = Table::new(Family::Inet, TABLE);
    let mut add_set = |s: Set| {
        t.sets.insert(s.name.clone(), s);
    };
    add_set(set(
        "hostport-keys".into(),
        "inet_proto . inet_service",
        None,
        vec![],
    ));
    for f in Fam::BOTH {
        let a = f.addr_type();
        let s = f.suffix();
        add_set(set(format!("masq-pods{s}"), a, Some("verdict"), vec![]));
        add_set(set(
            format!("hostports{s}"),
            "inet_proto . inet_service",
            Some(&format!("{a} . inet_service")),
            vec![],
        ));
        add_set(set(
            format!("hostip-ports{s}"),
            &format!("{a} . inet_proto . inet_service"),
            Some(&format!("{a} . inet_service")),
            vec![],
        ));
        add_set(set(
            format!("hostip-keys{s}"),
            &format!("{a} . inet_proto . inet_service"),
            None,
            vec![],
        ));
        add_set(set(
            format!("hostport-src{s}"),
            a,
            None,
            vec![SetFlag::Interval],
        ));
    }

    let mark = format!("meta mark set meta mark | {MASQ_MARK:#010x}");
    let mut hostports = vec![format!(
        "fib saddr type local meta l4proto . th dport @hostport-keys {mark}"
    )];
    for f in Fam::BOTH {
        let (p, s) = (f.proto(), f.suffix());
        hostports.push(format!(
            "{p} saddr @hostport-src{s} meta l4proto . th dport @hostport-keys {mark}"
        ));
        hostports.push(format!(
            "fib saddr type local {p} daddr . meta l4proto . th dport @hostip-keys{s} {mark}"
        ));
        hostports.push(format!(
            "{p} saddr @hostport-src{s} {p} daddr . meta l4proto . th dport @hostip-keys{s} {mark}"
        ));
    }
    for f in Fam::BOTH {
        let (p, s) = (f.proto(), f.suffix());
        let nfproto = match f {
            Fam::V4 => "ipv4",
            Fam::V6 => "ipv6",
        };
        hostports.push(format!(
            "meta nfproto {nfproto} dnat {p} to {p} daddr . meta l4proto . th dport map @hostip-ports{s}"
        ));
        hostports.push(format!(
            "meta nfproto {nfproto} dnat {p} to meta l4proto . th dport map @hostports{s}"
        ));
    }
    let chains = [
        Chain {
            name: "hostports".into(),
            base: None,
            rules: hostports,
            comment: None,
        },
        base_chain(
            "prerouting",
            ChainType::Nat,
            Hook::Prerouting,
            -100,
            vec!["fib daddr type local jump hostports".into()],
        ),
        base_chain(
            "output",
            ChainType::Nat,
            Hook::Output,
            -100,
            vec!["fib daddr type local jump hostports".into()],
        ),
        base_chain(
            "postrouting",
            ChainType::Nat,
            Hook::Postrouting,
            100,
            vec![
                format!("meta mark & {MASQ_MARK:#010x} == {MASQ_MARK:#010x} masquerade"),
                "ip saddr vmap @masq-pods4".into(),
                "ip6 saddr vmap @masq-pods6".into(),
            ],
        ),
    ];
    for c in chains {
        t.chains.insert(c.name.clone(), c);
    }
    t
}

/// A network's masquerade chain: exempt destinations return, the rest is masqueraded.
fn masquerade_chain(network: &str, exempt: &[IpNet]) -> Chain {
    let mut rules = Vec::new();
    for f in Fam::BOTH {
        let nets: Vec<String> = exempt
            .iter()
            .filter(|n| matches!((f, n), (Fam::V4, IpNet::V4(_)) | (Fam::V6, IpNet::V6(_))))
            .map(|n| n.trunc().to_string())
            .collect();
        if !nets.is_empty() {
            rules.push(format!(
                "{} daddr {{ {} }} return",
                f.proto(),
                nets.join(", ")
            ));
        }
    }
    // Multicast and link-local never leave the segment; masquerading them breaks them.
    rules.push("ip daddr 224.0.0.0/4 return".into());
    rules.push("ip6 daddr { fe80::/10, ff00::/8 } return".into());
    rules.push("masquerade".into());
    Chain {
        name: masq_chain(network),
        base: None,
        rules,
        comment: Some(format!("ipMasq for network {network}")),
    }
}

/// The elements an attachment owns, per set: what its DEL removes.
pub fn elements(a: &Attachment) -> Vec<Removal> {
    // Keyed maps: a dual-stack pod contributes the same hostPort key once per family.
    let mut by_set: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
    let mut push = |set: String, key: String, value: Option<String>| {
        by_set.entry(set).or_default().insert(key, value);
    };
    if a.ip_masq {
        for ip in &a.ips {
            let f = Fam::of(&ip.addr());
            push(
                format!("masq-pods{}", f.suffix()),
                ip.addr().to_string(),
                Some(format!("goto {}", masq_chain(&a.network))),
            );
        }
    }
    for pm in &a.port_mappings {
        let proto = pm.protocol().as_str();
        for ip in &a.ips {
            let pod_ip = ip.addr();
            let f = Fam::of(&pod_ip);
            let s = f.suffix();
            let target = Some(format!("{pod_ip} . {}", pm.container_port));
            match pm.host_ip {
                None => {
                    push(
                        "hostport-keys".into(),
                        format!("{proto} . {}", pm.host_port),
                        None,
                    );
                    push(
                        format!("hostports{s}"),
                        format!("{proto} . {}", pm.host_port),
                        target,
                    );
                }
                Some(host_ip) if Fam::of(&host_ip).suffix() == s => {
                    let key = format!("{host_ip} . {proto} . {}", pm.host_port);
                    push(format!("hostip-keys{s}"), key.clone(), None);
                    push(format!("hostip-ports{s}"), key, target);
                }
                Some(_) => {}
            }
        }
    }
    by_set
        .into_iter()
        .map(|(set, elems)| (set, elems.into_iter().collect()))
        .collect()
}

/// Network-level elements (shared by every pod of the network, never removed by a DEL):
/// the network's subnets as sources whose hostPort traffic is masqueraded. Present for
/// every pod of a network that uses the table, so the network's structure is the same
/// whichever of its pods comes first.
fn network_elements(a: &Attachment) -> Vec<(String, String)> {
    a.subnets()
        .into_iter()
        .map(|n| {
            let s = Fam::of(&n.addr()).suffix();
            (format!("hostport-src{s}"), n.to_string())
        })
        .collect()
}

/// Whether an attachment needs the table at all.
pub fn needs_table(a: &Attachment) -> bool {
    a.ip_masq || !a.port_mappings.is_empty()
}

/// The table structure one attachment needs (chains, sets, network-level elements),
/// without its own elements: what must exist before its elements can be added.
pub fn structure(a: &Attachment) -> Table {
    let mut t = compile(std::slice::from_ref(a));
    for (set, elems) in elements(a) {
        if let Some(s) = t.sets.get_mut(&set) {
            for (k, _) in elems {
                s.elements.remove(&k);
            }
        }
    }
    t
}

/// The desired table holding exactly these attachments (GC rebuilds from this).
pub fn compile(attachments: &[Attachment]) -> Table {
    let mut t = skeleton();
    for a in attachments.iter().filter(|a| needs_table(a)) {
        if a.ip_masq {
            let c = masquerade_chain(&a.network, &a.masq_exempt);
            t.chains.insert(c.name.clone(), c);
        }
        for (set, elems) in elements(a) {
            let s = t
                .sets
                .get_mut(&set)
                .expect("element set is in the skeleton");
            s.elements.extend(elems);
        }
        for (set, key) in network_elements(a) {
            t.sets
                .get_mut(&set)
                .expect("network set is in the skeleton")
                .elements
                .insert(key, None);
        }
    }
    t
}

/// Port mappings of `a` already taken by another attachment (hostPort conflict).
pub fn port_conflicts<'a>(
    a: &Attachment,
    others: &'a [Attachment],
) -> Option<(&'a Attachment, String)> {
    for pm in &a.port_mappings {
        for o in others {
            if o.container_id == a.container_id && o.ifname == a.ifname {
                continue;
            }
            for opm in &o.port_mappings {
                let same_ip =
                    opm.host_ip.is_none() || pm.host_ip.is_none() || opm.host_ip == pm.host_ip;
                if opm.host_port == pm.host_port && opm.protocol == pm.protocol && same_ip {
                    return Some((o, format!("{}/{}", pm.host_port, pm.protocol)));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PortMapping;

    fn pod(id: &str, ips: &[&str], masq: bool, pms: Vec<PortMapping>) -> Attachment {
        Attachment {
            container_id: id.into(),
            ifname: "eth0".into(),
            network: "net-a".into(),
            host_veth: "pnx".into(),
            ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
            port_mappings: pms,
            ip_masq: masq,
            masq_exempt: vec![
                "10.244.0.0/16".parse().unwrap(),
                "fd00:10::/56".parse().unwrap(),
            ],
        }
    }

    fn pm(host: u16, cont: u16, proto: &str, host_ip: Option<&str>) -> PortMapping {
        PortMapping {
            host_port: host,
            container_port: cont,
            protocol: proto.into(),
            host_ip: host_ip.map(|s| s.parse().unwrap()),
        }
    }

    #[test]
    fn masquerade_puts_each_pod_ip_in_its_family_map_pointing_at_the_network_chain() {
        let a = pod("a", &["10.244.1.5/24", "fd00:10::5/64"], true, vec![]);
        let t = compile(&[a]);
        let chain = masq_chain("net-a");
        assert_eq!(
            t.sets["masq-pods4"].elements.get("10.244.1.5"),
            Some(&Some(format!("goto {chain}")))
        );
        assert!(t.sets["masq-pods6"].elements.contains_key("fd00:10::5"));
        let rules = &t.chains[&chain].rules;
        assert_eq!(rules[0], "ip daddr { 10.244.0.0/16 } return");
        assert_eq!(rules[1], "ip6 daddr { fd00:10::/56 } return");
        assert_eq!(rules.last().unwrap(), "masquerade");
    }

    #[test]
    fn no_masquerade_and_no_ports_needs_no_table() {
        let a = pod("a", &["10.244.1.5/24"], false, vec![]);
        assert!(!needs_table(&a));
        assert!(elements(&a).is_empty());
        let t = compile(&[a]);
        assert!(t.sets.values().all(|s| s.elements.is_empty()));
    }

    #[test]
    fn port_mappings_fill_the_wildcard_and_host_ip_maps_per_family() {
        let a = pod(
            "a",
            &["10.244.1.5/24", "fd00:10::5/64"],
            false,
            vec![
                pm(8080, 80, "tcp", None),
                pm(5353, 53, "udp", Some("192.168.5.1")),
            ],
        );
        let t = compile(&[a]);
        assert_eq!(
            t.sets["hostports4"].elements.get("tcp . 8080"),
            Some(&Some("10.244.1.5 . 80".into()))
        );
        assert_eq!(
            t.sets["hostports6"].elements.get("tcp . 8080"),
            Some(&Some("fd00:10::5 . 80".into()))
        );
        assert!(t.sets["hostport-keys"].elements.contains_key("tcp . 8080"));
        assert_eq!(
            t.sets["hostip-ports4"]
                .elements
                .get("192.168.5.1 . udp . 5353"),
            Some(&Some("10.244.1.5 . 53".into()))
        );
        // A v4 host IP never maps to the pod's v6 address.
        assert!(t.sets["hostip-ports6"].elements.is_empty());
        assert!(t.sets["hostport-src4"]
            .elements
            .contains_key("10.244.1.0/24"));
    }

    #[test]
    fn pods_of_one_network_share_one_structure() {
        let a = pod(
            "a",
            &["10.244.1.5/24"],
            true,
            vec![pm(8080, 80, "tcp", None)],
        );
        let b = pod("b", &["10.244.1.6/24"], true, vec![]);
        assert_eq!(
            structure(&a).render_replace(),
            structure(&b).render_replace()
        );
        assert!(!structure(&a).render_replace().contains("10.244.1.5"));
    }

    #[test]
    fn del_elements_are_exactly_the_pods_own() {
        let a = pod(
            "a",
            &["10.244.1.5/24"],
            true,
            vec![pm(8080, 80, "tcp", None)],
        );
        let sets: Vec<String> = elements(&a).into_iter().map(|(s, _)| s).collect();
        assert_eq!(sets, vec!["hostport-keys", "hostports4", "masq-pods4"]);
        let dual = pod(
            "b",
            &["10.244.1.6/24", "fd00:10::6/64"],
            false,
            vec![pm(80, 80, "tcp", None)],
        );
        let keys = elements(&dual)
            .into_iter()
            .find(|(s, _)| s == "hostport-keys")
            .unwrap()
            .1;
        assert_eq!(keys.len(), 1, "one key for both families");
    }

    #[test]
    fn host_port_conflicts_are_found_across_attachments() {
        let a = pod(
            "a",
            &["10.244.1.5/24"],
            false,
            vec![pm(8080, 80, "tcp", None)],
        );
        let b = pod(
            "b",
            &["10.244.1.6/24"],
            false,
            vec![pm(8080, 81, "tcp", Some("10.0.0.1"))],
        );
        let c = pod(
            "c",
            &["10.244.1.7/24"],
            false,
            vec![pm(8080, 80, "udp", None)],
        );
        assert!(port_conflicts(&b, std::slice::from_ref(&a)).is_some());
        assert!(port_conflicts(&c, std::slice::from_ref(&a)).is_none());
        assert!(port_conflicts(&a, std::slice::from_ref(&a)).is_none());
    }

    #[test]
    fn skeleton_hooks_and_priorities_are_the_documented_ones() {
        let t = skeleton();
        let post = t.chains["postrouting"].base.as_ref().unwrap();
        assert_eq!((post.hook, post.priority), (Hook::Postrouting, 100));
        let pre = t.chains["prerouting"].base.as_ref().unwrap();
        assert_eq!((pre.hook, pre.priority), (Hook::Prerouting, -100));
        assert!(t.chains["hostports"].base.is_none());
    }
}

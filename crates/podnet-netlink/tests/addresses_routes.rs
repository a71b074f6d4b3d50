//! Root tests for addresses and routes, inside throwaway namespaces.

mod common;

use std::net::{IpAddr, UdpSocket};

use common::TestNs;
use ipnet::IpNet;
use podnet_netlink::{Address, Error, Family, Route, SCOPE_LINK, TABLE_ALL, TABLE_MAIN};

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn ipv4_and_ipv6_addresses_are_added_listed_and_deleted() {
    require_root!();
    let node = TestNs::new("addr");
    let mut nl = node.handle();
    let (index, peer) = common::up_veth_pair(&mut nl, "veth0", "veth1");

    let v4 = net("10.244.1.1/24");
    let v6 = net("fd00:10:244:1::1/64");
    nl.add_address(index, v4, false).unwrap();
    nl.add_address(index, v6, true).unwrap();

    let v4_list = nl.addresses(Some(index), Some(Family::V4)).unwrap();
    assert_eq!(v4_list, vec![Address { index, net: v4 }]);
    let v6_list = nl.addresses(Some(index), Some(Family::V6)).unwrap();
    assert!(v6_list.contains(&Address { index, net: v6 }), "{v6_list:?}");
    assert!(v6_list.iter().all(|a| a.index == index));
    // Nothing is filtered out: the kernel's link-local address is listed too.
    // The kernel adds it on its own once the veth's carrier comes up, which
    // happens after set_up returns, so give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut v6_list = v6_list;
    while !v6_list
        .iter()
        .any(|a| a.net.addr().to_string().starts_with("fe80:"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no link-local address: {v6_list:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        v6_list = nl.addresses(Some(index), Some(Family::V6)).unwrap();
    }
    // Loopback gets 127.0.0.1/8 once up (a fresh namespace starts it down).
    let lo = nl.link_by_name("lo").unwrap().expect("loopback exists");
    nl.set_up(lo.index).unwrap();
    let all = nl.addresses(None, None).unwrap();
    assert!(all.contains(&Address { index, net: v4 }) && all.contains(&Address { index, net: v6 }));
    assert!(
        all.iter().any(|a| a.net == net("127.0.0.1/8")),
        "loopback is listed: {all:?}"
    );
    assert!(nl
        .addresses(Some(peer), Some(Family::V4))
        .unwrap()
        .is_empty());

    let duplicate = nl.add_address(index, v4, false);
    assert!(
        duplicate.as_ref().is_err_and(Error::is_exists),
        "{duplicate:?}"
    );

    nl.del_address(index, v4).unwrap();
    assert!(nl
        .addresses(Some(index), Some(Family::V4))
        .unwrap()
        .is_empty());
    let again = nl.del_address(index, v4);
    assert!(again.as_ref().is_err_and(Error::is_not_found), "{again:?}");
    let missing_v6 = nl.del_address(index, net("fd00:99::1/64"));
    assert!(
        missing_v6.as_ref().is_err_and(Error::is_not_found),
        "{missing_v6:?}"
    );
}

#[test]
fn ipv6_address_added_with_nodad_is_usable_at_once() {
    require_root!();
    let node = TestNs::new("nodad");
    let mut nl = node.handle();
    let (index, _) = common::up_veth_pair(&mut nl, "veth0", "veth1");
    let v6 = net("fd00:10:244:2::5/64");
    nl.add_address(index, v6, true).unwrap();

    // A tentative address cannot be bound (EADDRNOTAVAIL); binding right
    // away proves DAD was skipped.
    let bound = node
        .ns
        .run(|| UdpSocket::bind((v6.addr(), 0)).map(|_| ()))
        .unwrap();
    assert!(bound.is_ok(), "bind on {v6} failed: {bound:?}");
    if let Some(text) = node.exec("ip", &["-6", "addr", "show", "dev", "veth0"]) {
        let line = text
            .lines()
            .find(|l| l.contains("fd00:10:244:2::5"))
            .expect("address shown");
        assert!(!line.contains("tentative"), "{line}");
    }
}

#[test]
fn routes_are_added_replaced_listed_and_deleted() {
    require_root!();
    let node = TestNs::new("route");
    let mut nl = node.handle();
    let (index, _) = common::up_veth_pair(&mut nl, "veth0", "veth1");
    nl.add_address(index, net("10.99.0.1/24"), false).unwrap();

    let default = Route {
        gateway: Some(ip("10.99.0.254")),
        oif: Some(index),
        ..Route::default()
    };
    let via = Route {
        dst: Some(net("10.100.0.0/16")),
        gateway: Some(ip("10.99.0.2")),
        mtu: Some(1400),
        advmss: Some(1360),
        ..Route::default()
    };
    nl.add_route(&default).unwrap();
    nl.add_route(&via).unwrap();
    let duplicate = nl.add_route(&via);
    assert!(
        duplicate.as_ref().is_err_and(Error::is_exists),
        "{duplicate:?}"
    );

    let routes = nl.routes(Family::V4, None).unwrap();
    let listed_default = routes
        .iter()
        .find(|r| r.dst.is_none())
        .expect("default route listed");
    assert_eq!(listed_default.gateway, default.gateway);
    assert_eq!(listed_default.oif, Some(index));
    assert_eq!(listed_default.table, Some(TABLE_MAIN));
    let listed_via = routes
        .iter()
        .find(|r| r.dst == via.dst)
        .expect("route via gateway listed");
    assert_eq!(listed_via.gateway, via.gateway);
    assert_eq!(
        (listed_via.mtu, listed_via.advmss),
        (Some(1400), Some(1360))
    );
    // The kernel's connected route is there too, link scoped and gateway-less.
    let connected = routes
        .iter()
        .find(|r| r.dst == Some(net("10.99.0.0/24")))
        .expect("connected route");
    assert_eq!(
        (connected.gateway, connected.scope),
        (None, Some(SCOPE_LINK))
    );

    let replaced = Route {
        gateway: Some(ip("10.99.0.3")),
        mtu: None,
        advmss: None,
        ..via.clone()
    };
    nl.replace_route(&replaced).unwrap();
    let routes = nl.routes(Family::V4, None).unwrap();
    let matching: Vec<&Route> = routes.iter().filter(|r| r.dst == via.dst).collect();
    assert_eq!(matching.len(), 1, "replace keeps one route: {matching:?}");
    assert_eq!(matching[0].gateway, replaced.gateway);

    nl.del_route(&Route {
        dst: via.dst,
        ..Route::default()
    })
    .unwrap();
    nl.del_route(&default).unwrap();
    let routes = nl.routes(Family::V4, None).unwrap();
    assert!(
        !routes.iter().any(|r| r.dst == via.dst || r.dst.is_none()),
        "{routes:?}"
    );
    let again = nl.del_route(&default);
    assert!(again.as_ref().is_err_and(Error::is_not_found), "{again:?}");
}

#[test]
fn routes_in_other_tables_and_ipv6() {
    require_root!();
    let node = TestNs::new("rtable");
    let mut nl = node.handle();
    let (index, _) = common::up_veth_pair(&mut nl, "veth0", "veth1");
    nl.add_address(index, net("10.98.0.1/24"), false).unwrap();
    nl.add_address(index, net("fd00:98::1/64"), true).unwrap();

    let in_table = Route {
        dst: Some(net("10.200.0.0/16")),
        oif: Some(index),
        table: Some(1000),
        priority: Some(50),
        ..Route::default()
    };
    nl.add_route(&in_table).unwrap();
    let listed = nl.routes(Family::V4, Some(1000)).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].dst, in_table.dst);
    assert_eq!(listed[0].table, Some(1000));
    assert_eq!(listed[0].priority, Some(50));
    assert!(!nl
        .routes(Family::V4, None)
        .unwrap()
        .iter()
        .any(|r| r.dst == in_table.dst));
    assert!(nl
        .routes(Family::V4, Some(TABLE_ALL))
        .unwrap()
        .iter()
        .any(|r| r.dst == in_table.dst));
    assert!(
        nl.routes(Family::V4, Some(2000)).unwrap().is_empty(),
        "an unused table lists empty"
    );

    let v6_default = Route {
        gateway: Some(ip("fd00:98::fe")),
        ..Route::default()
    };
    let v6_onlink = Route {
        dst: Some(net("fd00:200::/64")),
        gateway: Some(ip("fd00:99::1")),
        oif: Some(index),
        onlink: true,
        ..Route::default()
    };
    nl.add_route(&v6_default).unwrap();
    nl.add_route(&v6_onlink).unwrap();
    let v6 = nl.routes(Family::V6, None).unwrap();
    assert!(
        v6.iter()
            .any(|r| r.dst.is_none() && r.gateway == v6_default.gateway),
        "{v6:?}"
    );
    let onlink = v6
        .iter()
        .find(|r| r.dst == v6_onlink.dst)
        .expect("onlink route listed");
    assert!(onlink.onlink);
    assert!(v6.iter().all(|r| r.dst.is_none_or(|d| d.addr().is_ipv6())));

    nl.del_route(&in_table).unwrap();
    nl.del_route(&v6_onlink).unwrap();
    nl.del_route(&v6_default).unwrap();
    assert!(nl.routes(Family::V4, Some(1000)).unwrap().is_empty());
}

#[test]
fn route_through_an_unreachable_gateway_is_a_kernel_error() {
    require_root!();
    let node = TestNs::new("rerr");
    let mut nl = node.handle();
    let (index, _) = common::up_veth_pair(&mut nl, "veth0", "veth1");
    let route = Route {
        dst: Some(net("10.201.0.0/16")),
        gateway: Some(ip("192.0.2.1")),
        oif: Some(index),
        ..Route::default()
    };
    let err = nl.add_route(&route).unwrap_err();
    match &err {
        Error::Kernel { op, errno, .. } => {
            assert_eq!(*errno, libc::ENETUNREACH);
            assert!(op.contains("route 10.201.0.0/16 via 192.0.2.1"), "{op}");
        }
        other => panic!("expected a kernel error, got {other:?}"),
    }
}

#[test]
fn routes_carry_their_protocol_and_onlink_ipv4_gateways_need_no_address() {
    require_root!();
    let node = TestNs::new("proto");
    let mut nl = node.handle();
    let (index, _) = common::up_veth_pair(&mut nl, "veth0", "veth1");
    // The kernel classifies an onlink gateway through the local table, which
    // a namespace without any address does not have yet.
    let lo = nl.link_by_name("lo").unwrap().expect("loopback exists");
    nl.set_up(lo.index).unwrap();
    // Like an overlay route: the gateway is a remote node's address that no
    // local address covers.
    let tagged = Route {
        dst: Some(net("10.244.7.0/24")),
        gateway: Some(ip("10.244.7.0")),
        oif: Some(index),
        onlink: true,
        protocol: Some(113),
        ..Route::default()
    };
    let plain = Route {
        dst: Some(net("10.244.8.0/24")),
        oif: Some(index),
        ..Route::default()
    };
    nl.add_route(&tagged).unwrap();
    nl.add_route(&plain).unwrap();
    let listed = nl.routes(Family::V4, None).unwrap();
    let found = listed
        .iter()
        .find(|r| r.dst == tagged.dst)
        .expect("tagged route listed");
    assert_eq!(found.protocol, Some(113));
    assert!(found.onlink);
    assert_eq!(found.gateway, tagged.gateway);
    let other = listed
        .iter()
        .find(|r| r.dst == plain.dst)
        .expect("plain route listed");
    assert_eq!(other.protocol, Some(podnet_netlink::PROTOCOL_BOOT));

    // A delete naming another protocol does not match.
    let wrong = nl.del_route(&Route {
        protocol: Some(114),
        ..tagged.clone()
    });
    assert!(wrong.as_ref().is_err_and(Error::is_not_found), "{wrong:?}");
    nl.del_route(&tagged).unwrap();
    assert!(!nl
        .routes(Family::V4, None)
        .unwrap()
        .iter()
        .any(|r| r.dst == tagged.dst));
}

#[test]
fn tagged_addresses_are_told_apart_from_others_on_the_link() {
    require_root!();
    let node = TestNs::new("tag");
    let mut nl = node.handle();
    let (index, _) = common::up_veth_pair(&mut nl, "veth0", "veth1");
    nl.add_address(index, net("172.30.0.11/24"), false).unwrap();
    nl.add_tagged_address(index, net("172.30.0.64/32"), 113)
        .unwrap();
    nl.add_tagged_address(index, net("172.30.0.65/32"), 114)
        .unwrap();
    let ours = nl.tagged_addresses(index, 113).unwrap();
    assert_eq!(
        ours,
        vec![Address {
            index,
            net: net("172.30.0.64/32")
        }]
    );
    let all = nl.addresses(Some(index), Some(Family::V4)).unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    nl.del_address(index, net("172.30.0.64/32")).unwrap();
    assert!(nl.tagged_addresses(index, 113).unwrap().is_empty());
}

//! Root tests for the VXLAN overlay pieces: the device, FDB entries and
//! neighbour entries.

mod common;

use std::net::IpAddr;

use common::TestNs;
use ipnet::IpNet;
use podnet_netlink::{Error, Family, FdbEntry, Neighbour, VxlanSpec};

const PEER_VTEP_MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0xf4, 0x02, 0x00];
const FLOOD: [u8; 6] = [0; 6];

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn vxlan_device_with_fdb_and_neighbour_entries() {
    require_root!();
    let node = TestNs::new("vx");
    let mut nl = node.handle();
    let (underlay, _) = common::up_veth_pair(&mut nl, "under0", "under1");
    let local: IpNet = "172.31.0.10/24".parse().unwrap();
    nl.add_address(underlay, local, false).unwrap();

    let spec = VxlanSpec {
        name: "vxlan42",
        vni: 42,
        local: Some(local.addr()),
        port: 4789,
        underlay_index: Some(underlay),
        learning: false,
        mtu: Some(1450),
    };
    nl.add_vxlan(&spec).unwrap();
    let duplicate = nl.add_vxlan(&spec);
    assert!(
        duplicate.as_ref().is_err_and(Error::is_exists),
        "{duplicate:?}"
    );
    let vxlan = nl.link_by_name("vxlan42").unwrap().expect("vxlan exists");
    assert_eq!(vxlan.kind.as_deref(), Some("vxlan"));
    assert_eq!(vxlan.mtu, 1450);
    nl.set_up(vxlan.index).unwrap();
    if let Some(details) = node.exec("ip", &["-d", "link", "show", "dev", "vxlan42"]) {
        assert!(details.contains("vxlan id 42"), "{details}");
        assert!(details.contains("local 172.31.0.10"), "{details}");
        assert!(details.contains("dstport 4789"), "{details}");
        assert!(details.contains("nolearning"), "{details}");
    }

    // Flood list: one entry per remote, appended; adding again is a no-op.
    let (remote_a, remote_b) = (ip("172.31.0.11"), ip("172.31.0.12"));
    nl.add_fdb(vxlan.index, FLOOD, remote_a).unwrap();
    nl.add_fdb(vxlan.index, FLOOD, remote_b).unwrap();
    nl.add_fdb(vxlan.index, FLOOD, remote_a).unwrap();
    // Unicast entry: replaced when the remote moves.
    nl.add_fdb(vxlan.index, PEER_VTEP_MAC, remote_a).unwrap();
    nl.add_fdb(vxlan.index, PEER_VTEP_MAC, remote_b).unwrap();

    let fdb = nl.fdb_entries(vxlan.index).unwrap();
    let entry = |mac, dst| FdbEntry {
        index: vxlan.index,
        mac,
        dst: Some(dst),
        permanent: true,
    };
    assert!(fdb.contains(&entry(FLOOD, remote_a)), "{fdb:?}");
    assert!(fdb.contains(&entry(FLOOD, remote_b)), "{fdb:?}");
    assert!(fdb.contains(&entry(PEER_VTEP_MAC, remote_b)), "{fdb:?}");
    assert!(
        !fdb.contains(&entry(PEER_VTEP_MAC, remote_a)),
        "replaced: {fdb:?}"
    );
    assert_eq!(fdb.iter().filter(|e| e.mac == FLOOD).count(), 2, "{fdb:?}");

    nl.del_fdb(vxlan.index, FLOOD, remote_a).unwrap();
    let fdb = nl.fdb_entries(vxlan.index).unwrap();
    assert!(
        !fdb.contains(&entry(FLOOD, remote_a)) && fdb.contains(&entry(FLOOD, remote_b)),
        "{fdb:?}"
    );
    // The kernel accepts deleting an unknown remote while the MAC still has
    // others; once the MAC has none left, deleting is NotFound.
    nl.del_fdb(vxlan.index, FLOOD, remote_b).unwrap();
    assert!(!nl
        .fdb_entries(vxlan.index)
        .unwrap()
        .iter()
        .any(|e| e.mac == FLOOD));
    let again = nl.del_fdb(vxlan.index, FLOOD, remote_a);
    assert!(again.as_ref().is_err_and(Error::is_not_found), "{again:?}");

    // Neighbour entry for the remote node's VTEP address on the overlay.
    let remote_vtep = ip("10.244.2.0");
    nl.add_neighbour(vxlan.index, remote_vtep, PEER_VTEP_MAC)
        .unwrap();
    nl.add_neighbour(vxlan.index, remote_vtep, PEER_VTEP_MAC)
        .unwrap();
    let neighbours = nl.neighbours(Some(vxlan.index), Some(Family::V4)).unwrap();
    assert_eq!(
        neighbours,
        vec![Neighbour {
            index: vxlan.index,
            ip: remote_vtep,
            mac: Some(PEER_VTEP_MAC),
            permanent: true,
        }]
    );
    let moved_mac = [0x02, 0x42, 0, 0, 0, 9];
    nl.add_neighbour(vxlan.index, remote_vtep, moved_mac)
        .unwrap();
    let neighbours = nl.neighbours(Some(vxlan.index), None).unwrap();
    assert_eq!(
        neighbours
            .iter()
            .find(|n| n.ip == remote_vtep)
            .and_then(|n| n.mac),
        Some(moved_mac)
    );

    nl.del_neighbour(vxlan.index, remote_vtep).unwrap();
    assert!(nl
        .neighbours(Some(vxlan.index), Some(Family::V4))
        .unwrap()
        .is_empty());
    let again = nl.del_neighbour(vxlan.index, remote_vtep);
    assert!(again.as_ref().is_err_and(Error::is_not_found), "{again:?}");

    nl.delete_link(vxlan.index).unwrap();
    assert_eq!(nl.link_by_name("vxlan42").unwrap(), None);
}

#[test]
fn vxlan_vni_must_fit_in_24_bits() {
    require_root!();
    let node = TestNs::new("vxbad");
    let mut nl = node.handle();
    let err = nl
        .add_vxlan(&VxlanSpec {
            name: "vxlan0",
            vni: 1 << 24,
            local: None,
            port: 0,
            underlay_index: None,
            learning: true,
            mtu: None,
        })
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    assert_eq!(nl.link_by_name("vxlan0").unwrap(), None);
}

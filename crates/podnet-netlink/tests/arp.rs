//! Root test for gratuitous ARP: an announcement from one namespace moves a
//! neighbour entry in the other to the announcer's MAC.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::thread;
use std::time::{Duration, Instant};

use common::TestNs;
use ipnet::IpNet;
use podnet_netlink::{arp, format_mac, Family, VethSpec};

const ANNOUNCED: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const STALE_MAC: &str = "02:00:00:00:00:99";

#[test]
fn announce_moves_an_existing_neighbour_entry_to_the_announcers_mac() {
    require_root!();
    if TestNs::list_with_ip().is_none() {
        eprintln!("skipped: needs iproute2");
        return;
    }
    let speaker = TestNs::new("arpa");
    let listener = TestNs::new("arpb");
    let mut nl = speaker.handle();
    nl.add_veth(&VethSpec {
        name: "va",
        mtu: None,
        mac: None,
        peer_name: "vb",
        peer_mac: None,
        peer_netns: Some(listener.ns.as_fd()),
    })
    .unwrap();
    let va = nl.link_by_name("va").unwrap().expect("speaker end");
    nl.add_address(va.index, "10.0.1.1/24".parse::<IpNet>().unwrap(), true)
        .unwrap();
    nl.set_up(va.index).unwrap();
    let speaker_mac = va.mac.expect("veth has a MAC");

    let mut peer = listener.handle();
    let vb = peer
        .link_by_name("vb")
        .unwrap()
        .expect("listener end")
        .index;
    peer.add_address(vb, "10.0.1.2/24".parse::<IpNet>().unwrap(), true)
        .unwrap();
    peer.set_up(vb).unwrap();
    // The entry the listener learnt before the address moved: still points
    // at the old owner.
    listener
        .exec(
            "ip",
            &[
                "neigh", "replace", "10.0.1.1", "lladdr", STALE_MAC, "dev", "vb", "nud", "stale",
            ],
        )
        .expect("ip");

    let entry_mac = |peer: &mut podnet_netlink::Handle| {
        peer.neighbours(Some(vb), Some(Family::V4))
            .unwrap()
            .into_iter()
            .find(|neighbour| neighbour.ip == IpAddr::V4(ANNOUNCED))
            .and_then(|neighbour| neighbour.mac)
    };
    assert_eq!(
        entry_mac(&mut peer).map(|mac| format_mac(&mac)).as_deref(),
        Some(STALE_MAC)
    );

    speaker
        .ns
        .run(|| arp::announce("va", ANNOUNCED))
        .unwrap()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen = entry_mac(&mut peer);
    while seen != Some(speaker_mac) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        seen = entry_mac(&mut peer);
    }
    assert_eq!(
        seen.map(|mac| format_mac(&mac)),
        Some(format_mac(&speaker_mac)),
        "listener's entry for {ANNOUNCED} did not move to the announcer"
    );
}

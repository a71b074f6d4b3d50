//! Config validation: host-local's defaults and errors that name the field.

mod common;

use common::{config, ip};
use podnet_ipam::{ConfigError, DEFAULT_DATA_DIR};
use std::path::PathBuf;

fn error_of(json: &str) -> ConfigError {
    config(json).validate().unwrap_err()
}

#[test]
fn defaults_follow_host_local_for_ipv4() {
    let cfg = config(r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24"}]]}"#)
        .validate()
        .unwrap();
    let range = &cfg.ranges[0][0];
    assert_eq!(range.subnet, "10.1.0.0/24".parse().unwrap());
    assert_eq!(range.range_start, ip("10.1.0.1"));
    assert_eq!(range.range_end, ip("10.1.0.254"));
    assert_eq!(range.gateway, ip("10.1.0.1"));
    // .0, .1 (gateway) and .255 are never handed out.
    assert_eq!(range.allocatable_count(), 253);
    assert_eq!(cfg.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
}

#[test]
fn defaults_follow_host_local_for_ipv6() {
    let cfg = config(r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "fd00:10::/64"}]]}"#)
        .validate()
        .unwrap();
    let range = &cfg.ranges[0][0];
    assert_eq!(range.range_start, ip("fd00:10::1"));
    assert_eq!(range.range_end, ip("fd00:10::ffff:ffff:ffff:ffff"));
    assert_eq!(range.gateway, ip("fd00:10::1"));
    assert_eq!(range.allocatable_count(), (1u128 << 64) - 2);
}

#[test]
fn explicit_fields_are_kept_and_data_dir_is_taken() {
    let cfg = config(
        r#"{"type": "podnet-ipam", "dataDir": "/run/x",
            "ranges": [[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10",
                         "rangeEnd": "10.1.0.20", "gateway": "10.1.0.254"}]]}"#,
    )
    .validate()
    .unwrap();
    let range = &cfg.ranges[0][0];
    assert_eq!(range.range_start, ip("10.1.0.10"));
    assert_eq!(range.range_end, ip("10.1.0.20"));
    assert_eq!(range.gateway, ip("10.1.0.254"));
    assert_eq!(range.allocatable_count(), 11);
    assert_eq!(cfg.data_dir, PathBuf::from("/run/x"));
}

#[test]
fn legacy_single_range_becomes_the_first_range_set() {
    let cfg = config(
        r#"{"type": "host-local", "subnet": "10.9.0.0/24", "rangeStart": "10.9.0.100",
            "ranges": [[{"subnet": "fd00::/120"}]]}"#,
    )
    .validate()
    .unwrap();
    assert_eq!(cfg.ranges.len(), 2);
    assert_eq!(cfg.ranges[0][0].subnet, "10.9.0.0/24".parse().unwrap());
    assert_eq!(cfg.ranges[0][0].range_start, ip("10.9.0.100"));
    assert_eq!(cfg.ranges[1][0].subnet, "fd00::/120".parse().unwrap());
}

#[test]
fn range_start_outside_the_subnet_names_the_field() {
    let err = error_of(
        r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24"},
            {"subnet": "10.2.0.0/24", "rangeStart": "10.1.0.5"}]]}"#,
    );
    assert_eq!(err.field(), "ipam.ranges[0][1].rangeStart");
    assert_eq!(
        err.to_string(),
        "ipam.ranges[0][1].rangeStart: 10.1.0.5 is outside subnet 10.2.0.0/24"
    );
}

#[test]
fn range_end_and_gateway_outside_the_subnet_name_their_fields() {
    let err = error_of(
        r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24", "rangeEnd": "10.1.1.1"}]]}"#,
    );
    assert_eq!(err.field(), "ipam.ranges[0][0].rangeEnd");
    let err = error_of(
        r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24"}], [{"subnet": "fd00::/64", "gateway": "10.1.0.1"}]]}"#,
    );
    assert_eq!(err.field(), "ipam.ranges[1][0].gateway");
    assert!(matches!(err, ConfigError::OutsideSubnet { .. }));
}

#[test]
fn legacy_fields_are_named_at_the_top_level() {
    let err = error_of(r#"{"type": "host-local", "subnet": "10.1.0.0/24", "gateway": "10.2.0.1"}"#);
    assert_eq!(err.field(), "ipam.gateway");
    let err = error_of(r#"{"type": "host-local", "subnet": "10.1.0.1/24"}"#);
    assert_eq!(err.field(), "ipam.subnet");
    let err = error_of(r#"{"type": "host-local", "rangeStart": "10.1.0.1"}"#);
    assert_eq!(err.field(), "ipam.rangeStart");
    assert!(matches!(err, ConfigError::LegacyFieldWithoutSubnet { .. }));
}

#[test]
fn a_subnet_with_host_bits_is_rejected_with_the_network_it_means() {
    let err = error_of(r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.0.0.1/24"}]]}"#);
    assert_eq!(err.field(), "ipam.ranges[0][0].subnet");
    assert_eq!(
        err.to_string(),
        "ipam.ranges[0][0].subnet: 10.0.0.1/24 has host bits set; the network is 10.0.0.0/24"
    );
    let err = error_of(r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "fd00::5/64"}]]}"#);
    assert!(matches!(err, ConfigError::SubnetHostBits { .. }));
}

#[test]
fn subnets_without_room_for_network_gateway_and_host_are_rejected() {
    for subnet in ["10.0.0.0/31", "10.0.0.0/32", "fd00::/127", "fd00::/128"] {
        let err = error_of(&format!(
            r#"{{"type": "podnet-ipam", "ranges": [[{{"subnet": "{subnet}"}}]]}}"#
        ));
        assert!(
            matches!(err, ConfigError::SubnetTooSmall { .. }),
            "{subnet}: {err}"
        );
        assert_eq!(err.field(), "ipam.ranges[0][0].subnet");
    }
    assert!(
        config(r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.0.0.0/30"}]]}"#)
            .validate()
            .is_ok()
    );
}

#[test]
fn range_start_after_range_end_is_rejected() {
    let err = error_of(
        r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24",
            "rangeStart": "10.1.0.50", "rangeEnd": "10.1.0.40"}]]}"#,
    );
    assert_eq!(err.field(), "ipam.ranges[0][0].rangeStart");
    assert!(matches!(err, ConfigError::StartAfterEnd { .. }));
}

#[test]
fn a_range_of_only_reserved_addresses_is_rejected() {
    let err = error_of(
        r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24",
            "rangeStart": "10.1.0.1", "rangeEnd": "10.1.0.1"}]]}"#,
    );
    assert_eq!(err.field(), "ipam.ranges[0][0]");
    assert!(matches!(err, ConfigError::NoAllocatableAddress { .. }));
}

#[test]
fn a_set_may_not_mix_families() {
    let err = error_of(
        r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24"}, {"subnet": "fd00::/64"}]]}"#,
    );
    assert_eq!(err.field(), "ipam.ranges[0][1].subnet");
    assert!(
        err.to_string().contains("ipam.ranges[0][0].subnet"),
        "{err}"
    );
    assert!(matches!(err, ConfigError::MixedFamilies { .. }));
}

#[test]
fn overlapping_ranges_in_a_set_are_rejected_but_disjoint_parts_of_one_subnet_are_fine() {
    let err = error_of(
        r#"{"type": "podnet-ipam", "ranges": [[
            {"subnet": "10.1.0.0/24", "rangeEnd": "10.1.0.127"},
            {"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.127"}]]}"#,
    );
    assert_eq!(err.field(), "ipam.ranges[0][1]");
    assert!(err.to_string().contains("ipam.ranges[0][0]"), "{err}");
    assert!(config(
        r#"{"type": "podnet-ipam", "ranges": [[
            {"subnet": "10.1.0.0/24", "rangeEnd": "10.1.0.127"},
            {"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.128"}]]}"#
    )
    .validate()
    .is_ok());
}

#[test]
fn overlapping_range_sets_are_rejected() {
    let err = error_of(
        r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/16"}], [{"subnet": "10.1.5.0/24"}]]}"#,
    );
    assert_eq!(err.field(), "ipam.ranges[1][0]");
    assert!(matches!(err, ConfigError::Overlap { .. }));
}

#[test]
fn at_least_one_non_empty_range_set_is_required() {
    let err = error_of(r#"{"type": "podnet-ipam"}"#);
    assert_eq!(err.field(), "ipam.ranges");
    assert!(matches!(err, ConfigError::NoRanges { .. }));
    let err = error_of(r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24"}], []]}"#);
    assert_eq!(err.field(), "ipam.ranges[1]");
    assert!(matches!(err, ConfigError::EmptyRangeSet { .. }));
}

#[test]
fn a_route_gateway_must_match_its_destination_family() {
    let err = error_of(
        r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "10.1.0.1"}]}"#,
    );
    assert_eq!(err.field(), "ipam.routes[1].gw");
    let cfg = config(
        r#"{"type": "podnet-ipam", "ranges": [[{"subnet": "10.1.0.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}]}"#,
    )
    .validate()
    .unwrap();
    assert_eq!(cfg.routes.len(), 1);
    assert_eq!(cfg.routes[0].gw, Some(ip("10.1.0.1")));
}

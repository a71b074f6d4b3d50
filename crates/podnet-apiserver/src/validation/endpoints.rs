//! Endpoints (core/v1) and EndpointSlices (discovery.k8s.io/v1).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, Endpoints};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointHints, EndpointSlice};
use podnet_model::names;

use super::container::protocol;
use super::meta::{validate_labels, validate_meta, validate_meta_update_with, MetaRules, NameRule};
use super::{
    child, immutable, index, invalid_problems, items, net, port_number, repr, text, too_many,
};
use crate::status::FieldError;

const META: MetaRules = MetaRules::namespaced(NameRule::Subdomain);
const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 100;
const MAX_TOPOLOGY_LABELS: usize = 16;
const MAX_FOR_ZONES: usize = 8;
const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
/// Updates also accept the type v1beta1 slices may have been stored with.
const ADDRESS_TYPES_ON_UPDATE: &[&str] = &["FQDN", "IP", "IPv4", "IPv6"];
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

pub(crate) fn endpoints_create(ep: &Endpoints) -> Vec<FieldError> {
    let mut errors = validate_meta(&ep.metadata, META);
    errors.extend(subsets(ep));
    errors
}

pub(crate) fn endpoints_update(new: &Endpoints, old: &Endpoints) -> Vec<FieldError> {
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, META);
    errors.extend(endpoints_create(new));
    errors
}

fn subsets(ep: &Endpoints) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, subset) in items(&ep.subsets).iter().enumerate() {
        let path = index("subsets", i);
        let (ready, not_ready) = (items(&subset.addresses), items(&subset.not_ready_addresses));
        if ready.is_empty() && not_ready.is_empty() {
            errors.push(FieldError::required(
                &path,
                "must specify `addresses` or `notReadyAddresses`",
            ));
        }
        for (field, list) in [("addresses", ready), ("notReadyAddresses", not_ready)] {
            let list_path = child(&path, field);
            for (j, address) in list.iter().enumerate() {
                errors.extend(endpoint_address(address, &index(&list_path, j)));
            }
        }
        let ports = items(&subset.ports);
        let ports_path = child(&path, "ports");
        for (j, port) in ports.iter().enumerate() {
            errors.extend(endpoint_port(port, ports.len() > 1, &index(&ports_path, j)));
        }
    }
    errors
}

fn endpoint_address(address: &EndpointAddress, path: &str) -> Vec<FieldError> {
    let ip_path = child(path, "ip");
    let mut errors = net::valid_ip(&ip_path, &address.ip);
    let hostname = text(&address.hostname);
    if !hostname.is_empty() {
        errors.extend(super::dns_label(&child(path, "hostname"), hostname));
    }
    if let Some(node) = &address.node_name {
        errors.extend(super::dns_subdomain(&child(path, "nodeName"), node));
    }
    errors.extend(net::non_special_ip(&ip_path, &address.ip));
    errors
}

fn endpoint_port(port: &EndpointPort, require_name: bool, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = text(&port.name);
    if require_name && name.is_empty() {
        errors.push(FieldError::required(child(path, "name"), ""));
    } else if !name.is_empty() {
        errors.extend(super::dns_label(&child(path, "name"), name));
    }
    errors.extend(port_number(&child(path, "port"), i64::from(port.port)));
    errors.extend(protocol(text(&port.protocol), &child(path, "protocol")));
    if let Some(app_protocol) = &port.app_protocol {
        errors.extend(super::qualified_name(
            &child(path, "appProtocol"),
            app_protocol,
        ));
    }
    errors
}

pub(crate) fn endpoint_slice_create(slice: &EndpointSlice) -> Vec<FieldError> {
    validate_slice(slice, ADDRESS_TYPES)
}

pub(crate) fn endpoint_slice_update(new: &EndpointSlice, old: &EndpointSlice) -> Vec<FieldError> {
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, META);
    errors.extend(validate_slice(new, ADDRESS_TYPES_ON_UPDATE));
    errors.extend(immutable(
        "addressType",
        &new.address_type,
        &old.address_type,
        |t| repr::quoted(t),
    ));
    errors
}

fn validate_slice(slice: &EndpointSlice, address_types: &[&str]) -> Vec<FieldError> {
    let mut errors = validate_meta(&slice.metadata, META);
    if slice.address_type.is_empty() {
        errors.push(FieldError::required("addressType", ""));
    } else if !address_types.contains(&slice.address_type.as_str()) {
        errors.push(FieldError::not_supported(
            "addressType",
            &slice.address_type,
            address_types,
        ));
    }
    errors.extend(slice_endpoints(&slice.endpoints, &slice.address_type));
    errors.extend(slice_ports(items(&slice.ports)));
    errors
}

fn slice_endpoints(endpoints: &[Endpoint], address_type: &str) -> Vec<FieldError> {
    if endpoints.len() > MAX_ENDPOINTS {
        return vec![too_many("endpoints", endpoints.len(), MAX_ENDPOINTS)];
    }
    let mut errors = Vec::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        let path = index("endpoints", i);
        let addresses_path = child(&path, "addresses");
        if endpoint.addresses.is_empty() {
            errors.push(FieldError::required(
                &addresses_path,
                "must contain at least 1 address",
            ));
        } else if endpoint.addresses.len() > MAX_ADDRESSES {
            errors.push(too_many(
                &addresses_path,
                endpoint.addresses.len(),
                MAX_ADDRESSES,
            ));
        }
        for (j, address) in endpoint.addresses.iter().enumerate() {
            errors.extend(slice_address(
                address,
                address_type,
                &index(&addresses_path, j),
            ));
        }
        if let Some(node) = &endpoint.node_name {
            errors.extend(super::dns_subdomain(&child(&path, "nodeName"), node));
        }
        let topology_path = child(&path, "deprecatedTopology");
        if let Some(topology) = &endpoint.deprecated_topology {
            if topology.len() > MAX_TOPOLOGY_LABELS {
                errors.push(too_many(
                    &topology_path,
                    topology.len(),
                    MAX_TOPOLOGY_LABELS,
                ));
            }
            errors.extend(validate_labels(Some(topology), &topology_path));
        }
        if let Some(zone) = &endpoint.zone {
            let zone_label = [(ZONE_LABEL.to_string(), zone.clone())].into();
            errors.extend(validate_labels(Some(&zone_label), &child(&path, "zone")));
        }
        if let Some(hostname) = &endpoint.hostname {
            errors.extend(super::dns_label(&child(&path, "hostname"), hostname));
        }
        if let Some(hints) = &endpoint.hints {
            errors.extend(slice_hints(hints, &child(&path, "hints")));
        }
    }
    errors
}

fn slice_address(address: &str, address_type: &str, path: &str) -> Vec<FieldError> {
    match address_type {
        "IP" => net::valid_ip(path, address),
        "IPv4" | "IPv6" => {
            let problems = if address_type == "IPv4" {
                net::valid_ipv4(path, address)
            } else {
                net::valid_ipv6(path, address)
            };
            if problems.is_empty() {
                net::non_special_ip(path, address)
            } else {
                problems
            }
        }
        "FQDN" => fully_qualified_domain_name(address, path),
        _ => Vec::new(),
    }
}

fn fully_qualified_domain_name(name: &str, path: &str) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let problems = names::dns1123_subdomain(name);
    if !problems.is_empty() {
        return vec![FieldError::invalid_str(path, name, problems.join(","))];
    }
    if name.split('.').count() < 2 {
        return vec![FieldError::invalid_str(
            path,
            name,
            "should be a domain with at least two segments separated by dots",
        )];
    }
    for label in name.split('.') {
        let problems = names::dns1123_label(label);
        if !problems.is_empty() {
            return vec![FieldError::invalid_str(path, label, problems.join(","))];
        }
    }
    Vec::new()
}

fn slice_hints(hints: &EndpointHints, path: &str) -> Vec<FieldError> {
    let zones = items(&hints.for_zones);
    let zones_path = child(path, "forZones");
    if zones.len() > MAX_FOR_ZONES {
        return vec![too_many(&zones_path, zones.len(), MAX_FOR_ZONES)];
    }
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, zone) in zones.iter().enumerate() {
        let zone_path = child(&index(&zones_path, i), "name");
        if !seen.insert(zone.name.as_str()) {
            errors.push(FieldError::duplicate(&zone_path, repr::quoted(&zone.name)));
        }
        errors.extend(invalid_problems(
            &zone_path,
            &zone.name,
            names::label_value(&zone.name),
        ));
    }
    errors
}

fn slice_ports(ports: &[k8s_openapi::api::discovery::v1::EndpointPort]) -> Vec<FieldError> {
    if ports.len() > MAX_PORTS {
        return vec![too_many("ports", ports.len(), MAX_PORTS)];
    }
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let path = index("ports", i);
        let name = text(&port.name);
        if !name.is_empty() {
            errors.extend(super::dns_label(&child(&path, "name"), name));
        }
        if !seen.insert(name) {
            errors.push(FieldError::duplicate(
                child(&path, "name"),
                repr::quoted(name),
            ));
        }
        match port.protocol.as_deref() {
            None => errors.push(FieldError::required(child(&path, "protocol"), "")),
            Some(p) => errors.extend(protocol(p, &child(&path, "protocol"))),
        }
        if let Some(app_protocol) = &port.app_protocol {
            errors.extend(super::qualified_name(
                &child(&path, "appProtocol"),
                app_protocol,
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    #[test]
    fn endpoints() {
        let ep = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "10.244.1.5", "nodeName": "node-1"}],
                         "ports": [{"port": 8080, "protocol": "TCP"}]}]
        });
        assert_valid(&create("Endpoints", "", ep.clone()));
        let mut bad = ep;
        bad["subsets"] = json!([
            {},
            {"addresses": [{"ip": "127.0.0.1"}],
             "ports": [{"port": 1, "protocol": "TCP"}, {"name": "b", "port": 0, "protocol": "TCP"}]}
        ]);
        let errors = create("Endpoints", "", bad);
        assert_eq!(
            fields(&errors),
            vec![
                "subsets[0]",
                "subsets[1].addresses[0].ip",
                "subsets[1].ports[0].name",
                "subsets[1].ports[1].port",
            ]
        );
    }

    #[test]
    fn endpoint_slices() {
        let slice = json!({
            "metadata": {"name": "web-abc", "namespace": "default"},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": true}, "zone": "a"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        });
        assert_valid(&create("EndpointSlice", "discovery.k8s.io", slice.clone()));
        let mut bad = slice.clone();
        bad["addressType"] = json!("IPv6");
        bad["endpoints"] = json!([{"addresses": ["10.244.1.5"]}, {"addresses": []}]);
        bad["ports"] =
            json!([{"name": "http", "protocol": "TCP"}, {"name": "http", "protocol": "XTP"}]);
        let errors = create("EndpointSlice", "discovery.k8s.io", bad);
        assert_eq!(
            fields(&errors),
            vec![
                "endpoints[0].addresses[0]",
                "endpoints[1].addresses",
                "ports[1].name",
                "ports[1].protocol",
            ]
        );
        let mut too_many = slice.clone();
        too_many["endpoints"] = json!(vec![json!({"addresses": ["10.0.0.1"]}); 1001]);
        let errors = create("EndpointSlice", "discovery.k8s.io", too_many);
        assert_eq!(
            errors[0].message(),
            "Too many: 1001: must have at most 1000 items"
        );

        let mut fqdn = slice.clone();
        fqdn["metadata"]["resourceVersion"] = json!("2");
        fqdn["addressType"] = json!("FQDN");
        fqdn["endpoints"] = json!([{"addresses": ["db.example.com"]}]);
        let errors = update("EndpointSlice", "discovery.k8s.io", fqdn, slice);
        assert_eq!(fields(&errors), vec!["addressType"]);
    }
}

//! Services (`ValidateService`, `ValidateServiceUpdate`). The checks assume
//! what Kubernetes does before validating: defaults applied, `clusterIPs`
//! kept in step with `clusterIP`, and allocated values carried over on update.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::container::{port_num_or_name, protocol};
use super::meta::{validate_labels, validate_meta, validate_meta_update_with, MetaRules, NameRule};
use super::{child, index, items, key, net, port_number, repr, text};
use crate::status::{FieldError, FieldErrorKind};

const SERVICE_META: MetaRules = MetaRules::namespaced(NameRule::Dns1035);
const SOURCE_RANGES_ANNOTATION: &str = "service.beta.kubernetes.io/load-balancer-source-ranges";
const TOPOLOGY_MODE_ANNOTATION: &str = "service.kubernetes.io/topology-mode";
const TOPOLOGY_HINTS_ANNOTATION: &str = "service.kubernetes.io/topology-aware-hints";
/// The longest ClientIP session affinity Kubernetes allows (one day).
const MAX_AFFINITY_SECONDS: i32 = 86400;

pub(crate) fn service_create(svc: &Service) -> Vec<FieldError> {
    validate_service(svc)
}

pub(crate) fn service_update(new: &Service, old: &Service) -> Vec<FieldError> {
    let (new_spec, old_spec) = (spec(new), spec(old));
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, SERVICE_META);
    errors.extend(upgrade_downgrade_cluster_ips(&old_spec, &new_spec));
    errors.extend(upgrade_downgrade_ip_families(&old_spec, &new_spec));
    errors.extend(load_balancer_class(Some(&old_spec), &new_spec));
    if needs_health_check(&old_spec)
        && needs_health_check(&new_spec)
        && new_spec.health_check_node_port != old_spec.health_check_node_port
    {
        errors.push(FieldError::forbidden(
            "spec.healthCheckNodePort",
            "field is immutable",
        ));
    }
    errors.extend(validate_service(new));
    errors
}

fn spec(svc: &Service) -> ServiceSpec {
    svc.spec.clone().unwrap_or_default()
}

fn kind(spec: &ServiceSpec) -> &str {
    text(&spec.type_)
}

fn is_headless(spec: &ServiceSpec) -> bool {
    matches!(items(&spec.cluster_ips), [only] if only == "None")
}

fn externally_accessible(spec: &ServiceSpec) -> bool {
    matches!(kind(spec), "LoadBalancer" | "NodePort")
        || (kind(spec) == "ClusterIP" && !items(&spec.external_ips).is_empty())
}

fn needs_health_check(spec: &ServiceSpec) -> bool {
    kind(spec) == "LoadBalancer" && text(&spec.external_traffic_policy) == "Local"
}

fn validate_service(svc: &Service) -> Vec<FieldError> {
    let spec = spec(svc);
    let mut errors = validate_meta(&svc.metadata, SERVICE_META);
    errors.extend(topology_annotations(svc));
    let ports = items(&spec.ports);
    if ports.is_empty() && !is_headless(&spec) && kind(&spec) != "ExternalName" {
        errors.push(FieldError::required("spec.ports", ""));
    }
    errors.extend(type_specific(&spec));
    let mut port_names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        errors.extend(service_port(
            port,
            ports.len() > 1,
            &mut port_names,
            &index("spec.ports", i),
        ));
    }
    if spec.selector.is_some() {
        errors.extend(validate_labels(spec.selector.as_ref(), "spec.selector"));
    }
    errors.extend(session_affinity(&spec));
    errors.extend(cluster_ips_related(&spec));
    for (i, ip) in items(&spec.external_ips).iter().enumerate() {
        let path = index("spec.externalIPs", i);
        let problems = net::valid_ip(&path, ip);
        if problems.is_empty() {
            errors.extend(net::non_special_ip(&path, ip));
        } else {
            errors.extend(problems);
        }
    }
    const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    match kind(&spec) {
        "" => errors.push(FieldError::required("spec.type", "")),
        t if !TYPES.contains(&t) => errors.push(FieldError::not_supported("spec.type", t, TYPES)),
        _ => {}
    }
    errors.extend(port_uniqueness(&spec));
    errors.extend(source_ranges(svc, &spec));
    let lb = kind(&spec) == "LoadBalancer";
    if spec.allocate_load_balancer_node_ports.is_some() && !lb {
        errors.push(FieldError::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    if lb && spec.allocate_load_balancer_node_ports.is_none() {
        // Kubernetes names this field without its spec prefix.
        errors.push(FieldError::required("allocateLoadBalancerNodePorts", ""));
    }
    errors.extend(load_balancer_class(None, &spec));
    errors.extend(traffic_policies(&spec));
    errors
}

fn topology_annotations(svc: &Service) -> Vec<FieldError> {
    let annotations = svc.metadata.annotations.as_ref();
    let mode = annotations.and_then(|a| a.get(TOPOLOGY_MODE_ANNOTATION));
    let hints = annotations.and_then(|a| a.get(TOPOLOGY_HINTS_ANNOTATION));
    match (mode, hints) {
        (Some(mode), Some(hints)) if mode != hints => vec![FieldError::invalid_str(
            key("metadata.annotations", TOPOLOGY_MODE_ANNOTATION),
            mode,
            format!("must match annotations[{TOPOLOGY_HINTS_ANNOTATION}] when both are specified"),
        )],
        _ => Vec::new(),
    }
}

fn type_specific(spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match kind(spec) {
        t @ ("LoadBalancer" | "NodePort") if is_headless(spec) => {
            errors.push(FieldError::invalid_str(
                "spec.clusterIPs[0]",
                "None",
                format!("may not be set to 'None' for {t} services"),
            ));
        }
        "ExternalName" => {
            let forbidden = [
                ("spec.clusterIPs", !items(&spec.cluster_ips).is_empty()),
                ("spec.ipFamilies", !items(&spec.ip_families).is_empty()),
                ("spec.ipFamilyPolicy", spec.ip_family_policy.is_some()),
            ];
            for (path, set) in forbidden {
                if set {
                    errors.push(FieldError::forbidden(
                        path,
                        "may not be set for ExternalName services",
                    ));
                }
            }
            // A trailing dot marks the name fully qualified.
            let name = text(&spec.external_name);
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errors.push(FieldError::required("spec.externalName", ""));
            } else {
                errors.extend(super::dns_subdomain("spec.externalName", cname));
            }
        }
        _ => {}
    }
    errors
}

fn service_port(
    port: &ServicePort,
    require_name: bool,
    seen: &mut BTreeSet<String>,
    path: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = text(&port.name);
    let name_path = child(path, "name");
    if require_name && name.is_empty() {
        errors.push(FieldError::required(&name_path, ""));
    } else if !name.is_empty() {
        errors.extend(super::dns_label(&name_path, name));
        if !seen.insert(name.to_string()) {
            errors.push(FieldError::duplicate(&name_path, repr::quoted(name)));
        }
    }
    errors.extend(port_number(&child(path, "port"), i64::from(port.port)));
    errors.extend(protocol(text(&port.protocol), &child(path, "protocol")));
    let target = port.target_port.clone().unwrap_or(IntOrString::Int(0));
    errors.extend(port_num_or_name(&target, &child(path, "targetPort")));
    if let Some(app_protocol) = &port.app_protocol {
        errors.extend(super::qualified_name(
            &child(path, "appProtocol"),
            app_protocol,
        ));
    }
    errors
}

fn session_affinity(spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let affinity = text(&spec.session_affinity);
    match affinity {
        "" => errors.push(FieldError::required("spec.sessionAffinity", "")),
        "ClientIP" | "None" => {}
        other => errors.push(FieldError::not_supported(
            "spec.sessionAffinity",
            other,
            &["ClientIP", "None"],
        )),
    }
    let path = "spec.sessionAffinityConfig";
    if affinity == "ClientIP" {
        let client_ip = spec
            .session_affinity_config
            .as_ref()
            .map(|c| c.client_ip.as_ref());
        let timeout = client_ip.flatten().and_then(|c| c.timeout_seconds);
        let why = "when session affinity type is ClientIP";
        match (client_ip, timeout) {
            (None, _) => errors.push(FieldError::required(path, why)),
            (Some(None), _) => errors.push(FieldError::required(child(path, "clientIP"), why)),
            (Some(Some(_)), None) => errors.push(FieldError::required(
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                why,
            )),
            (Some(Some(_)), Some(t)) if t <= 0 || t > MAX_AFFINITY_SECONDS => {
                errors.push(FieldError::invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    t,
                    format!("must be greater than 0 and less than {MAX_AFFINITY_SECONDS}"),
                ));
            }
            _ => {}
        }
    } else if affinity == "None" && spec.session_affinity_config.is_some() {
        errors.push(FieldError::forbidden(
            path,
            "must not be set when session affinity is None",
        ));
    }
    errors
}

fn cluster_ips_list(spec: &ServiceSpec) -> String {
    repr::string_list(spec.cluster_ips.as_deref())
}

/// clusterIP, clusterIPs, ipFamilies and ipFamilyPolicy, which must agree.
fn cluster_ips_related(spec: &ServiceSpec) -> Vec<FieldError> {
    if kind(spec) == "ExternalName" {
        return Vec::new();
    }
    let mut errors = cluster_ip_sync(spec);
    errors.extend(families_and_policy(spec));
    let (value_errors, has_invalid) = cluster_ip_values(spec);
    errors.extend(value_errors);
    if has_invalid {
        return errors;
    }
    let ips = items(&spec.cluster_ips);
    if ips.len() > 1 && net::is_ipv6(&ips[0]) == net::is_ipv6(&ips[1]) {
        errors.push(invalid_cluster_ips(
            spec,
            "may specify no more than one IP for each IP family",
        ));
    }
    if !is_headless(spec) {
        for (i, (ip, family)) in ips.iter().zip(items(&spec.ip_families)).enumerate() {
            let expected = match (family.as_str(), net::is_ipv6(ip)) {
                ("IPv4", true) => Some("IPv4"),
                ("IPv6", false) => Some("IPv6"),
                _ => None,
            };
            if let Some(expected) = expected {
                errors.push(FieldError::invalid_str(
                    index("spec.clusterIPs", i),
                    ip,
                    format!("expected an {expected} value as indicated by `ipFamilies[{i}]`"),
                ));
            }
        }
    }
    errors
}

fn invalid_cluster_ips(spec: &ServiceSpec, detail: &str) -> FieldError {
    FieldError::new(
        FieldErrorKind::Invalid,
        "spec.clusterIPs",
        Some(cluster_ips_list(spec)),
        detail,
    )
}

/// clusterIPs[0] is clusterIP, and both are set or neither.
fn cluster_ip_sync(spec: &ServiceSpec) -> Vec<FieldError> {
    let ips = items(&spec.cluster_ips);
    let cluster_ip = text(&spec.cluster_ip);
    if !cluster_ip.is_empty() {
        match ips.first() {
            None => vec![FieldError::required("spec.clusterIPs", "")],
            Some(first) if first != cluster_ip => vec![invalid_cluster_ips(
                spec,
                "first value must match `clusterIP`",
            )],
            _ => Vec::new(),
        }
    } else if !ips.is_empty() {
        vec![invalid_cluster_ips(
            spec,
            "must be empty when `clusterIP` is not specified",
        )]
    } else {
        Vec::new()
    }
}

fn families_and_policy(spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, family) in items(&spec.ip_families).iter().enumerate() {
        let path = index("spec.ipFamilies", i);
        if !matches!(family.as_str(), "IPv4" | "IPv6") {
            errors.push(FieldError::not_supported(&path, family, &["IPv4", "IPv6"]));
        }
        if !seen.insert(family.as_str()) {
            errors.push(FieldError::duplicate(&path, repr::quoted(family)));
        }
    }
    if let Some(policy) = spec.ip_family_policy.as_deref() {
        const POLICIES: &[&str] = &["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !POLICIES.contains(&policy) {
            errors.push(FieldError::not_supported(
                "spec.ipFamilyPolicy",
                policy,
                POLICIES,
            ));
        }
    }
    errors
}

/// Each clusterIP is an address ("None" only alone); true when any is not.
fn cluster_ip_values(spec: &ServiceSpec) -> (Vec<FieldError>, bool) {
    let ips = items(&spec.cluster_ips);
    let mut errors = Vec::new();
    let mut has_invalid = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                has_invalid = true;
                errors.push(invalid_cluster_ips(
                    spec,
                    "'None' must be the first and only value",
                ));
            }
            continue;
        }
        let problems = net::valid_ip(&index("spec.clusterIPs", i), ip);
        has_invalid |= !problems.is_empty();
        errors.extend(problems);
    }
    if ips.len() > 2 {
        errors.push(invalid_cluster_ips(spec, "may only hold up to 2 values"));
    }
    (errors, has_invalid)
}

/// The Go struct Kubernetes prints for a duplicated (protocol, port) pair.
fn port_key_repr(protocol: &str, port: i32) -> String {
    format!(
        "core.ServicePort{{Name:\"\", Protocol:{protocol:?}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}"
    )
}

fn port_uniqueness(spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let ports = items(&spec.ports);
    if kind(spec) == "ClusterIP" {
        for (i, port) in ports.iter().enumerate() {
            if port.node_port.unwrap_or(0) != 0 {
                errors.push(FieldError::forbidden(
                    format!("spec.ports[{i}].nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
    }
    let mut node_ports = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let node_port = port.node_port.unwrap_or(0);
        if node_port != 0 && !node_ports.insert((text(&port.protocol), node_port)) {
            errors.push(FieldError::duplicate(
                format!("spec.ports[{i}].nodePort"),
                node_port,
            ));
        }
    }
    let mut pairs = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let protocol = text(&port.protocol);
        if !pairs.insert((protocol, port.port)) {
            errors.push(FieldError::duplicate(
                index("spec.ports", i),
                port_key_repr(protocol, port.port),
            ));
        }
    }
    errors
}

fn source_ranges(svc: &Service, spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let lb = kind(spec) == "LoadBalancer";
    let ranges = items(&spec.load_balancer_source_ranges);
    let only_lb = "may only be used when `type` is 'LoadBalancer'";
    if !ranges.is_empty() {
        // Kubernetes spells this path with a capital L.
        let path = "spec.LoadBalancerSourceRanges";
        if !lb {
            errors.push(FieldError::forbidden(path, only_lb));
        }
        for (i, value) in ranges.iter().enumerate() {
            errors.extend(net::valid_cidr(&index(path, i), value.trim()));
        }
    } else if let Some(value) = svc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SOURCE_RANGES_ANNOTATION))
    {
        let path = key("metadata.annotations", SOURCE_RANGES_ANNOTATION);
        if !lb {
            errors.push(FieldError::forbidden(&path, only_lb));
        }
        let value = value.trim();
        if !value.is_empty() {
            for cidr in value.split(',') {
                errors.extend(net::valid_cidr(&path, cidr.trim()));
            }
        }
    }
    errors
}

fn load_balancer_class(old: Option<&ServiceSpec>, spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let path = "spec.loadBalancerClass";
    let lb = kind(spec) == "LoadBalancer";
    if let Some(old) = old {
        if lb && kind(old) == "LoadBalancer" && old.load_balancer_class != spec.load_balancer_class
        {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                path,
                Some(
                    spec.load_balancer_class
                        .as_deref()
                        .map_or_else(|| "null".to_string(), repr::quoted),
                ),
                "may not change once set",
            ));
        }
        return errors;
    }
    match (&spec.load_balancer_class, lb) {
        (Some(class), true) => errors.extend(super::qualified_name(path, class)),
        (Some(_), false) => errors.push(FieldError::forbidden(
            path,
            "may only be used when service type is 'LoadBalancer'",
        )),
        (None, _) => {}
    }
    errors
}

fn traffic_policies(spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let external = text(&spec.external_traffic_policy);
    let external_path = "spec.externalTrafficPolicy";
    if !externally_accessible(spec) {
        if !external.is_empty() {
            errors.push(FieldError::invalid_str(
                external_path,
                external,
                "may only be set for externally-accessible services",
            ));
        }
    } else if external.is_empty() {
        errors.push(FieldError::required(external_path, ""));
    } else if !matches!(external, "Cluster" | "Local") {
        errors.push(FieldError::not_supported(
            external_path,
            external,
            &["Cluster", "Local"],
        ));
    }
    let hc_path = "spec.healthCheckNodePort";
    let hc = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(spec) {
        if hc != 0 {
            errors.push(FieldError::invalid(
                hc_path,
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc == 0 {
        errors.push(FieldError::required(hc_path, ""));
    } else {
        errors.extend(port_number(hc_path, i64::from(hc)));
    }
    let internal_path = "spec.internalTrafficPolicy";
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(kind(spec), "NodePort" | "LoadBalancer" | "ClusterIP") => {
            errors.push(FieldError::required(internal_path, ""));
        }
        Some(policy) if !matches!(policy, "Cluster" | "Local") => errors.push(
            FieldError::not_supported(internal_path, policy, &["Cluster", "Local"]),
        ),
        _ => {}
    }
    if let Some(distribution) = spec.traffic_distribution.as_deref() {
        if distribution != "PreferClose" {
            errors.push(FieldError::not_supported(
                "spec.trafficDistribution",
                distribution,
                &["PreferClose"],
            ));
        }
    }
    errors
}

/// clusterIPs may gain or lose a secondary address, never change the primary.
fn upgrade_downgrade_cluster_ips(old: &ServiceSpec, new: &ServiceSpec) -> Vec<FieldError> {
    if kind(new) == "ExternalName" || kind(old) == "ExternalName" {
        return Vec::new();
    }
    if is_headless(old) && is_headless(new) {
        return Vec::new();
    }
    let (old_ips, new_ips) = (items(&old.cluster_ips), items(&new.cluster_ips));
    let shown = || Some(cluster_ips_list(new));
    let invalid = |i: usize, detail: &str| {
        FieldError::new(
            FieldErrorKind::Invalid,
            index("spec.clusterIPs", i),
            shown(),
            detail,
        )
    };
    let mut errors = Vec::new();
    if old_ips.len() == new_ips.len() {
        for (i, (a, b)) in old_ips.iter().zip(new_ips).enumerate() {
            if a != b {
                errors.push(invalid(i, "may not change once set"));
            }
        }
    } else if old_ips.len() > new_ips.len() {
        if new_ips.is_empty() {
            errors.push(invalid(0, "primary clusterIP can not be unset"));
        }
        if !old_ips.is_empty() && !new_ips.is_empty() && new_ips[0] != old_ips[0] {
            errors.push(invalid(0, "may not change once set"));
        }
        if new_ips.len() == 1 && text(&new.ip_family_policy) != "SingleStack" {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                "spec.ipFamilyPolicy",
                Some(policy_repr(new)),
                "must be set to 'SingleStack' when releasing the secondary clusterIP",
            ));
        }
    } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
        errors.push(invalid(0, "may not change once set"));
    }
    errors
}

fn policy_repr(spec: &ServiceSpec) -> String {
    spec.ip_family_policy
        .as_deref()
        .map_or_else(|| "null".to_string(), repr::quoted)
}

fn upgrade_downgrade_ip_families(old: &ServiceSpec, new: &ServiceSpec) -> Vec<FieldError> {
    if kind(new) == "ExternalName" || kind(old) == "ExternalName" {
        return Vec::new();
    }
    if is_headless(old) || is_headless(new) {
        return Vec::new();
    }
    let (old_families, new_families) = (items(&old.ip_families), items(&new.ip_families));
    let families = || {
        Some(repr::typed_string_list(
            "core.IPFamily",
            new.ip_families.as_deref(),
        ))
    };
    let path = "spec.ipFamilies[0]";
    let mut errors = Vec::new();
    if old_families.len() == new_families.len() {
        if old_families != new_families {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                path,
                families(),
                "may not change once set",
            ));
        }
    } else if old_families.len() > new_families.len() {
        if items(&new.cluster_ips).is_empty() {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                path,
                families(),
                "primary ipFamily can not be unset",
            ));
        }
        if !new_families.is_empty() && new_families[0] != old_families[0] {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                path,
                Some(cluster_ips_list(new)),
                "may not change once set",
            ));
        }
        if new_families.len() == 1 && text(&new.ip_family_policy) != "SingleStack" {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                "spec.ipFamilyPolicy",
                Some(policy_repr(new)),
                "must be set to 'SingleStack' when releasing the secondary ipFamily",
            ));
        }
    } else if !old_families.is_empty() && new_families[0] != old_families[0] {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            path,
            Some(cluster_ips_list(new)),
            "may not change once set",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    /// A ClusterIP service as it looks after defaulting and allocation.
    fn svc() -> serde_json::Value {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
            "spec": {
                "type": "ClusterIP", "sessionAffinity": "None",
                "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
                "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster"
            }
        })
    }

    #[test]
    fn a_defaulted_service_is_valid() {
        assert_valid(&create("Service", "", svc()));
    }

    #[test]
    fn port_mistakes() {
        let mut s = svc();
        s["spec"]["ports"] = json!([
            {"port": 70000, "targetPort": 80, "protocol": "UDPX"},
            {"name": "http", "port": 80, "targetPort": "Bad_Name", "protocol": "TCP"},
            {"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}
        ]);
        let errors = create("Service", "", s);
        assert_eq!(
            fields(&errors),
            vec![
                "spec.ports[0].name",
                "spec.ports[0].port",
                "spec.ports[0].protocol",
                "spec.ports[1].targetPort",
                "spec.ports[2].name",
                "spec.ports[2]",
            ]
        );
        assert_eq!(
            errors[1].full_message(),
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            errors[2].message(),
            "Unsupported value: \"UDPX\": supported values: \"SCTP\", \"TCP\", \"UDP\""
        );
    }

    #[test]
    fn names_are_dns_1035_labels() {
        let mut s = svc();
        s["metadata"]["name"] = json!("1web");
        assert_eq!(fields(&create("Service", "", s)), vec!["metadata.name"]);
    }

    #[test]
    fn headless_and_external_name() {
        let mut headless = svc();
        headless["spec"]["clusterIP"] = json!("None");
        headless["spec"]["clusterIPs"] = json!(["None"]);
        headless["spec"]["ports"] = json!([]);
        assert_valid(&create("Service", "", headless));

        let external = json!({
            "metadata": {"name": "db", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "db.example.com.", "sessionAffinity": "None"}
        });
        assert_valid(&create("Service", "", external.clone()));
        let mut missing = external;
        missing["spec"]["externalName"] = json!("");
        missing["spec"]["ipFamilies"] = json!(["IPv4"]);
        assert_eq!(
            fields(&create("Service", "", missing)),
            vec!["spec.ipFamilies", "spec.externalName"]
        );
    }

    #[test]
    fn affinity_ips_and_policies() {
        let mut s = svc();
        s["spec"]["sessionAffinity"] = json!("ClientIP");
        s["spec"]["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 90000}});
        s["spec"]["clusterIPs"] = json!(["10.96.0.11"]);
        s["spec"]["externalIPs"] = json!(["127.0.0.1", "nope"]);
        s["spec"]["externalTrafficPolicy"] = json!("Local");
        s["spec"]["loadBalancerSourceRanges"] = json!(["10.0.0.0/8"]);
        let errors = create("Service", "", s);
        assert_eq!(
            fields(&errors),
            vec![
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                "spec.clusterIPs",
                "spec.externalIPs[0]",
                "spec.externalIPs[1]",
                "spec.LoadBalancerSourceRanges",
            ]
        );
        assert_eq!(
            errors[1].message(),
            "Invalid value: []string{\"10.96.0.11\"}: first value must match `clusterIP`"
        );
    }

    #[test]
    fn node_ports_and_load_balancers() {
        let mut s = svc();
        s["spec"]["type"] = json!("LoadBalancer");
        s["spec"]["externalTrafficPolicy"] = json!("Cluster");
        s["spec"]["allocateLoadBalancerNodePorts"] = json!(true);
        s["spec"]["ports"][0]["nodePort"] = json!(30080);
        assert_valid(&create("Service", "", s.clone()));
        s["spec"]["type"] = json!("ClusterIP");
        let errors = create("Service", "", s);
        assert_eq!(
            fields(&errors),
            vec![
                "spec.ports[0].nodePort",
                "spec.allocateLoadBalancerNodePorts",
                "spec.externalTrafficPolicy",
            ]
        );
    }

    #[test]
    fn cluster_ip_may_not_change() {
        let old = svc();
        let mut new = svc();
        new["spec"]["clusterIP"] = json!("10.96.0.20");
        new["spec"]["clusterIPs"] = json!(["10.96.0.20"]);
        let errors = update("Service", "", new, old.clone());
        assert_eq!(fields(&errors), vec!["spec.clusterIPs[0]"]);
        assert_eq!(
            errors[0].message(),
            "Invalid value: []string{\"10.96.0.20\"}: may not change once set"
        );
        let external = json!({
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": "2"},
            "spec": {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"}
        });
        assert_valid(&update("Service", "", external, old));
    }
}

//! networking.k8s.io: NetworkPolicies, Ingresses and IngressClasses.

use k8s_openapi::api::core::v1::TypedLocalObjectReference;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, IPBlock, Ingress, IngressBackend, IngressClass,
    IngressClassParametersReference, IngressRule, IngressSpec, NetworkPolicy, NetworkPolicyPeer,
    NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podnet_model::names;

use super::meta::{
    validate_label_selector, validate_meta, validate_meta_update_with, MetaRules, NameRule,
};
use super::{
    child, immutable, index, invalid_problems, items, net, port_number, repr, text, too_long,
};
use crate::status::{FieldError, FieldErrorKind};

const NAMESPACED: MetaRules = MetaRules::namespaced(NameRule::Subdomain);
const INGRESS_CLASS_META: MetaRules = MetaRules::cluster(NameRule::Subdomain);
const INGRESS_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const MAX_CONTROLLER_LEN: usize = 250;
const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];
const INVALID_PATH_SEQUENCES: &[&str] = &["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES: &[&str] = &["/..", "/."];
/// RFC 3986 path characters, for IngressClass controller names.
const HTTP_PATH_CHARS: &str = "-._~%!$&'()*+,;=:/";

pub(crate) fn network_policy_create(np: &NetworkPolicy) -> Vec<FieldError> {
    let mut errors = validate_meta(&np.metadata, NAMESPACED);
    errors.extend(network_policy_spec(np, &[]));
    errors
}

pub(crate) fn network_policy_update(new: &NetworkPolicy, old: &NetworkPolicy) -> Vec<FieldError> {
    // CIDRs already stored stay acceptable even if they would be rejected today.
    let mut existing: Vec<String> = Vec::new();
    if let Some(spec) = &old.spec {
        let peers = items(&spec.ingress)
            .iter()
            .flat_map(|r| items(&r.from))
            .chain(items(&spec.egress).iter().flat_map(|r| items(&r.to)));
        for block in peers.filter_map(|p| p.ip_block.as_ref()) {
            existing.push(block.cidr.clone());
            existing.extend(items(&block.except).iter().cloned());
        }
    }
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, NAMESPACED);
    errors.extend(network_policy_spec(new, &existing));
    errors
}

fn network_policy_spec(np: &NetworkPolicy, existing_cidrs: &[String]) -> Vec<FieldError> {
    let spec = np.spec.clone().unwrap_or_default();
    let mut errors = validate_label_selector(spec.pod_selector.as_ref(), "spec.podSelector");
    for (i, rule) in items(&spec.ingress).iter().enumerate() {
        let rule_path = index("spec.ingress", i);
        errors.extend(policy_ports(
            items(&rule.ports),
            &child(&rule_path, "ports"),
        ));
        let from = child(&rule_path, "from");
        for (j, peer) in items(&rule.from).iter().enumerate() {
            errors.extend(policy_peer(peer, existing_cidrs, &index(&from, j)));
        }
    }
    for (i, rule) in items(&spec.egress).iter().enumerate() {
        let rule_path = index("spec.egress", i);
        errors.extend(policy_ports(
            items(&rule.ports),
            &child(&rule_path, "ports"),
        ));
        let to = child(&rule_path, "to");
        for (j, peer) in items(&rule.to).iter().enumerate() {
            errors.extend(policy_peer(peer, existing_cidrs, &index(&to, j)));
        }
    }
    let types = items(&spec.policy_types);
    if types.len() > 2 {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            "spec.policyTypes",
            Some(repr::typed_string_list(
                "networking.PolicyType",
                Some(types),
            )),
            "may not specify more than two policyTypes",
        ));
        return errors;
    }
    for (i, policy_type) in types.iter().enumerate() {
        if !matches!(policy_type.as_str(), "Ingress" | "Egress") {
            errors.push(FieldError::not_supported(
                index("spec.policyTypes", i),
                policy_type,
                &["Ingress", "Egress"],
            ));
        }
    }
    errors
}

fn policy_ports(ports: &[NetworkPolicyPort], path: &str) -> Vec<FieldError> {
    ports
        .iter()
        .enumerate()
        .flat_map(|(i, port)| policy_port(port, &index(path, i)))
        .collect()
}

fn policy_port(port: &NetworkPolicyPort, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(protocol) = port.protocol.as_deref() {
        if !matches!(protocol, "TCP" | "UDP" | "SCTP") {
            errors.push(FieldError::not_supported(
                child(path, "protocol"),
                protocol,
                &["TCP", "UDP", "SCTP"],
            ));
        }
    }
    let end_path = child(path, "endPort");
    match (&port.port, port.end_port) {
        (Some(IntOrString::Int(start)), end) => {
            errors.extend(port_number(&child(path, "port"), i64::from(*start)));
            if let Some(end) = end {
                if end < *start {
                    errors.push(FieldError::invalid(
                        &end_path,
                        end,
                        "must be greater than or equal to `port`",
                    ));
                }
                errors.extend(port_number(&end_path, i64::from(end)));
            }
        }
        (Some(IntOrString::String(name)), end) => {
            if let Some(end) = end {
                errors.push(FieldError::invalid(
                    &end_path,
                    end,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            errors.extend(invalid_problems(
                &child(path, "port"),
                name,
                names::port_name(name),
            ));
        }
        (None, Some(end)) => errors.push(FieldError::invalid(
            &end_path,
            end,
            "may not be specified when `port` is not specified",
        )),
        (None, None) => {}
    }
    errors
}

fn policy_peer(peer: &NetworkPolicyPeer, existing_cidrs: &[String], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut count = 0;
    if peer.pod_selector.is_some() {
        count += 1;
        errors.extend(validate_label_selector(
            peer.pod_selector.as_ref(),
            &child(path, "podSelector"),
        ));
    }
    if peer.namespace_selector.is_some() {
        count += 1;
        errors.extend(validate_label_selector(
            peer.namespace_selector.as_ref(),
            &child(path, "namespaceSelector"),
        ));
    }
    if let Some(block) = &peer.ip_block {
        count += 1;
        errors.extend(ip_block(block, existing_cidrs, &child(path, "ipBlock")));
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a peer"));
    } else if count > 1 && peer.ip_block.is_some() {
        errors.push(FieldError::forbidden(
            path,
            "may not specify both ipBlock and another peer",
        ));
    }
    errors
}

fn ip_block(block: &IPBlock, existing_cidrs: &[String], path: &str) -> Vec<FieldError> {
    let cidr_path = child(path, "cidr");
    if block.cidr.is_empty() {
        return vec![FieldError::required(cidr_path, "")];
    }
    let legacy_ok = |value: &str| existing_cidrs.iter().any(|c| c == value);
    let mut errors = Vec::new();
    if !legacy_ok(&block.cidr) {
        errors.extend(net::valid_cidr(&cidr_path, &block.cidr));
    }
    let Some(outer) = net::parse_cidr(&block.cidr) else {
        return errors;
    };
    let except_path = child(path, "except");
    for (i, except) in items(&block.except).iter().enumerate() {
        let entry = index(&except_path, i);
        if !legacy_ok(except) {
            errors.extend(net::valid_cidr(&entry, except));
        }
        let Some(inner) = net::parse_cidr(except) else {
            continue;
        };
        if !outer.contains(&inner.addr()) || outer.prefix_len() >= inner.prefix_len() {
            errors.push(FieldError::invalid_str(
                entry,
                except,
                "must be a strict subset of `cidr`",
            ));
        }
    }
    errors
}

pub(crate) fn ingress_create(ingress: &Ingress) -> Vec<FieldError> {
    let mut errors = validate_ingress(ingress, false);
    let annotation = ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(INGRESS_CLASS_ANNOTATION));
    let class_name = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_ref());
    if let (Some(annotation), Some(class_name)) = (annotation, class_name) {
        if annotation != class_name {
            errors.push(FieldError::invalid_str(
                format!("annotations.{INGRESS_CLASS_ANNOTATION}"),
                annotation,
                "must match `ingressClassName` when both are specified",
            ));
        }
    }
    errors
}

pub(crate) fn ingress_update(new: &Ingress, old: &Ingress) -> Vec<FieldError> {
    // Objects stored before stricter rules keep passing them on update.
    let invalid_secret_names_ok = old.spec.as_ref().is_some_and(|s| {
        items(&s.tls)
            .iter()
            .any(|t| !tls_secret_problems(text(&t.secret_name)).is_empty())
    });
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, NAMESPACED);
    errors.extend(validate_ingress(new, invalid_secret_names_ok));
    errors
}

fn validate_ingress(ingress: &Ingress, invalid_secret_names_ok: bool) -> Vec<FieldError> {
    let mut errors = validate_meta(&ingress.metadata, NAMESPACED);
    errors.extend(ingress_spec(
        &ingress.spec.clone().unwrap_or_default(),
        invalid_secret_names_ok,
    ));
    errors
}

fn ingress_spec(spec: &IngressSpec, invalid_secret_names_ok: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let rules = items(&spec.rules);
    if rules.is_empty() && spec.default_backend.is_none() {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            "spec",
            Some("[]networking.IngressRule(nil)".to_string()),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(backend) = &spec.default_backend {
        errors.extend(ingress_backend(backend, "spec.defaultBackend"));
    }
    for (i, rule) in rules.iter().enumerate() {
        errors.extend(ingress_rule(rule, &index("spec.rules", i)));
    }
    for (i, tls) in items(&spec.tls).iter().enumerate() {
        let tls_path = index("spec.tls", i);
        let hosts_path = child(&tls_path, "hosts");
        for (j, host) in items(&tls.hosts).iter().enumerate() {
            let problems = if host.contains('*') {
                names::wildcard_dns1123_subdomain(host)
            } else {
                names::dns1123_subdomain(host)
            };
            errors.extend(invalid_problems(&index(&hosts_path, j), host, problems));
        }
        if !invalid_secret_names_ok {
            let secret = text(&tls.secret_name);
            errors.extend(invalid_problems(
                &child(&tls_path, "secretName"),
                secret,
                tls_secret_problems(secret),
            ));
        }
    }
    if let Some(class_name) = &spec.ingress_class_name {
        errors.extend(super::dns_subdomain("spec.ingressClassName", class_name));
    }
    errors
}

fn tls_secret_problems(name: &str) -> Vec<String> {
    if name.is_empty() {
        Vec::new()
    } else {
        names::dns1123_subdomain(name)
    }
}

fn ingress_rule(rule: &IngressRule, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let host = text(&rule.host);
    if !host.is_empty() {
        let host_path = child(path, "host");
        if net::parse_ip(host).is_some() {
            errors.push(FieldError::invalid_str(
                &host_path,
                host,
                "must be a DNS name, not an IP address",
            ));
        }
        let problems = if host.contains('*') {
            names::wildcard_dns1123_subdomain(host)
        } else {
            names::dns1123_subdomain(host)
        };
        errors.extend(invalid_problems(&host_path, host, problems));
    }
    if let Some(http) = &rule.http {
        let paths_path = child(&child(path, "http"), "paths");
        if http.paths.is_empty() {
            errors.push(FieldError::required(&paths_path, ""));
        }
        for (i, p) in http.paths.iter().enumerate() {
            errors.extend(http_path(p, &index(&paths_path, i)));
        }
    }
    errors
}

fn http_path(p: &HTTPIngressPath, path: &str) -> Vec<FieldError> {
    // A missing pathType decodes as "".
    let path_type = p.path_type.as_str();
    if path_type.is_empty() {
        return vec![FieldError::required(
            child(path, "pathType"),
            "pathType must be specified",
        )];
    }
    let mut errors = Vec::new();
    let value = text(&p.path);
    let path_path = child(path, "path");
    match path_type {
        "Exact" | "Prefix" => {
            if !value.starts_with('/') {
                errors.push(FieldError::invalid_str(
                    &path_path,
                    value,
                    "must be an absolute path",
                ));
            }
            for seq in INVALID_PATH_SEQUENCES
                .iter()
                .filter(|s| value.contains(**s))
            {
                errors.push(FieldError::invalid_str(
                    &path_path,
                    value,
                    format!("must not contain '{seq}'"),
                ));
            }
            for suffix in INVALID_PATH_SUFFIXES
                .iter()
                .filter(|s| value.ends_with(**s))
            {
                errors.push(FieldError::invalid_str(
                    &path_path,
                    value,
                    format!("cannot end with '{suffix}'"),
                ));
            }
        }
        "ImplementationSpecific" => {
            if !value.is_empty() && !value.starts_with('/') {
                errors.push(FieldError::invalid_str(
                    &path_path,
                    value,
                    "must be an absolute path",
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            child(path, "pathType"),
            other,
            PATH_TYPES,
        )),
    }
    errors.extend(ingress_backend(&p.backend, &child(path, "backend")));
    errors
}

fn ingress_backend(backend: &IngressBackend, path: &str) -> Vec<FieldError> {
    match (&backend.resource, &backend.service) {
        (Some(_), Some(_)) => vec![FieldError::invalid_str(
            path,
            "",
            "cannot set both resource and service backends",
        )],
        (Some(resource), None) => typed_local_reference(resource, &child(path, "resource")),
        (None, Some(service)) => {
            let mut errors = Vec::new();
            let name_path = format!("{path}.service.name");
            if service.name.is_empty() {
                errors.push(FieldError::required(&name_path, ""));
            } else {
                errors.extend(invalid_problems(
                    &name_path,
                    &service.name,
                    names::dns1035_label(&service.name),
                ));
            }
            let port = service.port.as_ref();
            let port_name = port.map_or("", |p| text(&p.name));
            let port_number = port.and_then(|p| p.number).unwrap_or(0);
            match (port_name.is_empty(), port_number == 0) {
                (false, false) => errors.push(FieldError::invalid_str(
                    path,
                    "",
                    "cannot set both port name & port number",
                )),
                (false, true) => errors.extend(invalid_problems(
                    &format!("{path}.service.port.name"),
                    port_name,
                    names::port_name(port_name),
                )),
                (true, false) => errors.extend(super::port_number(
                    &format!("{path}.service.port.number"),
                    i64::from(port_number),
                )),
                (true, true) => errors.push(FieldError::required(
                    path,
                    "port name or number is required",
                )),
            }
            errors
        }
        (None, None) => vec![FieldError::invalid_str(
            path,
            "",
            "resource or service backend is required",
        )],
    }
}

fn typed_local_reference(reference: &TypedLocalObjectReference, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(group) = &reference.api_group {
        errors.extend(super::dns_subdomain(&child(path, "apiGroup"), group));
    }
    errors.extend(required_path_segment(&reference.kind, &child(path, "kind")));
    errors.extend(required_path_segment(&reference.name, &child(path, "name")));
    errors
}

fn required_path_segment(value: &str, path: &str) -> Vec<FieldError> {
    if value.is_empty() {
        vec![FieldError::required(path, "")]
    } else {
        invalid_problems(path, value, names::path_segment_name(value))
    }
}

pub(crate) fn ingress_class_create(class: &IngressClass) -> Vec<FieldError> {
    let mut errors = validate_meta(&class.metadata, INGRESS_CLASS_META);
    let spec = class.spec.clone().unwrap_or_default();
    let controller = text(&spec.controller);
    let controller_path = "spec.controller";
    if controller.is_empty() {
        errors.push(FieldError::required(controller_path, ""));
    } else {
        if controller.len() > MAX_CONTROLLER_LEN {
            errors.push(too_long(controller_path, MAX_CONTROLLER_LEN));
        }
        errors.extend(domain_prefixed_path(controller, controller_path));
    }
    if let Some(parameters) = &spec.parameters {
        errors.extend(class_parameters(parameters, "spec.parameters"));
    }
    errors
}

pub(crate) fn ingress_class_update(new: &IngressClass, old: &IngressClass) -> Vec<FieldError> {
    let controller = |c: &IngressClass| {
        c.spec
            .as_ref()
            .map(|s| text(&s.controller).to_string())
            .unwrap_or_default()
    };
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, INGRESS_CLASS_META);
    errors.extend(immutable(
        "spec.controller",
        &controller(new),
        &controller(old),
        |c| repr::quoted(c),
    ));
    errors.extend(ingress_class_create(new));
    errors
}

/// `example.com/some-path`: a DNS subdomain, a slash, then URL path characters.
fn domain_prefixed_path(value: &str, path: &str) -> Vec<FieldError> {
    let Some((host, rest)) = value
        .split_once('/')
        .filter(|(h, r)| !h.is_empty() && !r.is_empty())
    else {
        return vec![FieldError::invalid_str(
            path,
            value,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )];
    };
    let mut errors = invalid_problems(path, host, names::dns1123_subdomain(host));
    if !rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || HTTP_PATH_CHARS.contains(c))
    {
        errors.push(FieldError::invalid_str(
            path,
            rest,
            "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')",
        ));
    }
    errors
}

fn class_parameters(params: &IngressClassParametersReference, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(group) = &params.api_group {
        errors.extend(super::dns_subdomain(&child(path, "apiGroup"), group));
    }
    errors.extend(required_path_segment(&params.kind, &child(path, "kind")));
    errors.extend(required_path_segment(&params.name, &child(path, "name")));
    let Some(scope) = params.scope.as_deref() else {
        errors.push(FieldError::required(child(path, "scope"), ""));
        return errors;
    };
    let namespace_path = child(path, "namespace");
    match scope {
        "Namespace" => match params.namespace.as_deref() {
            None => errors.push(FieldError::required(
                namespace_path,
                "`parameters.scope` is set to 'Namespace'",
            )),
            Some(ns) => errors.extend(super::dns_label(&namespace_path, ns)),
        },
        "Cluster" => {
            if params.namespace.is_some() {
                errors.push(FieldError::forbidden(
                    namespace_path,
                    "`parameters.scope` is set to 'Cluster'",
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            child(path, "scope"),
            other,
            &["Cluster", "Namespace"],
        )),
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    const GROUP: &str = "networking.k8s.io";

    #[test]
    fn network_policies() {
        let np = json!({
            "metadata": {"name": "allow-web", "namespace": "default"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "web"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {}}],
                             "ports": [{"protocol": "TCP", "port": 80, "endPort": 90}]}],
                "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}]
            }
        });
        assert_valid(&create("NetworkPolicy", GROUP, np.clone()));
        let mut bad = np;
        bad["spec"]["policyTypes"] = json!(["Ingress", "Sideways"]);
        bad["spec"]["ingress"] = json!([{
            "from": [{}, {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}],
            "ports": [{"protocol": "ICMP", "port": "http", "endPort": 90}, {"port": 90, "endPort": 80}]
        }]);
        bad["spec"]["egress"] = json!([{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8", "192.168.0.0/16", "x"]}}]}]);
        let errors = create("NetworkPolicy", GROUP, bad);
        assert_eq!(
            fields(&errors),
            vec![
                "spec.ingress[0].ports[0].protocol",
                "spec.ingress[0].ports[0].endPort",
                "spec.ingress[0].ports[1].endPort",
                "spec.ingress[0].from[0]",
                "spec.ingress[0].from[1]",
                "spec.egress[0].to[0].ipBlock.except[0]",
                "spec.egress[0].to[0].ipBlock.except[1]",
                "spec.egress[0].to[0].ipBlock.except[2]",
                "spec.policyTypes[1]",
            ]
        );
    }

    fn ingress() -> serde_json::Value {
        json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": ["*.example.com"], "secretName": "web-tls"}],
                "rules": [{"host": "*.example.com", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "web", "port": {"number": 80}}}}
                ]}}]
            }
        })
    }

    #[test]
    fn a_valid_ingress() {
        assert_valid(&create("Ingress", GROUP, ingress()));
    }

    #[test]
    fn ingress_mistakes() {
        let mut bad = ingress();
        bad["spec"]["rules"] = json!([
            {"host": "10.0.0.1", "http": {"paths": [{"path": "api", "pathType": "Exact",
                "backend": {"service": {"name": "web", "port": {"name": "http", "number": 80}}}}]}},
            {"host": "example.com", "http": {"paths": [{"path": "/x", "backend": {}}]}},
            {"http": {"paths": [{"path": "/a//b", "pathType": "Prefix",
                "backend": {"service": {"name": "web"}}}]}}
        ]);
        let errors = create("Ingress", GROUP, bad);
        assert_eq!(
            fields(&errors),
            vec![
                "spec.rules[0].host",
                "spec.rules[0].http.paths[0].path",
                "spec.rules[0].http.paths[0].backend",
                "spec.rules[1].http.paths[0].pathType",
                "spec.rules[2].http.paths[0].path",
                "spec.rules[2].http.paths[0].backend",
            ]
        );
        assert_eq!(
            errors[3].message(),
            "Required value: pathType must be specified"
        );
    }

    #[test]
    fn ingress_classes() {
        let class = json!({
            "metadata": {"name": "nginx"},
            "spec": {"controller": "k8s.io/ingress-nginx",
                     "parameters": {"kind": "Params", "name": "p", "scope": "Cluster"}}
        });
        assert_valid(&create("IngressClass", GROUP, class.clone()));
        let mut bad = class.clone();
        bad["spec"]["controller"] = json!("nginx");
        bad["spec"]["parameters"] = json!({"kind": "Params", "name": "p", "scope": "Namespace"});
        let errors = create("IngressClass", GROUP, bad);
        assert_eq!(
            fields(&errors),
            vec!["spec.controller", "spec.parameters.namespace"]
        );
        let mut old = class.clone();
        old["metadata"]["resourceVersion"] = json!("1");
        let mut new = old.clone();
        new["spec"]["controller"] = json!("example.com/other");
        assert_eq!(
            fields(&update("IngressClass", GROUP, new, old)),
            vec!["spec.controller"]
        );
    }
}

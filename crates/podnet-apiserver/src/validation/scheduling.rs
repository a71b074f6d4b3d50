//! Pod placement and name resolution fields: affinity, tolerations, taint
//! effects, topology spread, DNS config and host aliases.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    Affinity, HostAlias, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodAffinityTerm,
    PodDNSConfig, Toleration, TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use podnet_model::names;

use super::meta::{validate_label_name, validate_label_selector};
use super::{child, index, invalid_problems, items, net, repr, text};
use crate::status::{FieldError, FieldErrorKind};

const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCH_PATHS: usize = 32;
const MAX_SEARCH_CHARS: usize = 2048;

pub(crate) fn taint_effect(effect: &str, allow_empty: bool, path: &str) -> Vec<FieldError> {
    if !allow_empty && effect.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    if TAINT_EFFECTS.contains(&effect) {
        Vec::new()
    } else {
        vec![FieldError::not_supported(path, effect, TAINT_EFFECTS)]
    }
}

pub(crate) fn tolerations(list: &[Toleration], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let t_path = index(path, i);
        let key = text(&t.key);
        let operator = text(&t.operator);
        let effect = text(&t.effect);
        let value = text(&t.value);
        if !key.is_empty() {
            errors.extend(validate_label_name(key, &child(&t_path, "key")));
        }
        if key.is_empty() && operator != "Exists" {
            errors.push(FieldError::invalid_str(
                child(&t_path, "operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errors.push(FieldError::invalid_str(
                child(&t_path, "effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let problems = names::label_value(value);
                if !problems.is_empty() {
                    errors.push(FieldError::invalid_str(
                        child(&t_path, "operator"),
                        value,
                        problems.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errors.push(FieldError::invalid_str(
                        child(&t_path, "operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(
                child(&t_path, "operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            errors.extend(taint_effect(effect, true, &child(&t_path, "effect")));
        }
    }
    errors
}

pub(crate) fn affinity(affinity: &Affinity, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(node) = &affinity.node_affinity {
        let node_path = child(path, "nodeAffinity");
        if let Some(required) = &node.required_during_scheduling_ignored_during_execution {
            errors.extend(node_selector(
                required,
                &child(&node_path, "requiredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
        let preferred_path = child(
            &node_path,
            "preferredDuringSchedulingIgnoredDuringExecution",
        );
        for (i, term) in items(&node.preferred_during_scheduling_ignored_during_execution)
            .iter()
            .enumerate()
        {
            let term_path = index(&preferred_path, i);
            errors.extend(weight(term.weight, &child(&term_path, "weight")));
            // Preferred terms may carry invalid label values: they just never match.
            errors.extend(node_selector_term(
                &term.preference,
                false,
                &child(&term_path, "preference"),
            ));
        }
    }
    let pod_terms = [
        (
            "podAffinity",
            affinity.pod_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            affinity.pod_anti_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ];
    for (field, terms) in pod_terms {
        let Some((required, preferred)) = terms else {
            continue;
        };
        let kind_path = child(path, field);
        let required_path = child(&kind_path, "requiredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in items(required).iter().enumerate() {
            errors.extend(pod_affinity_term(term, &index(&required_path, i)));
        }
        let preferred_path = child(
            &kind_path,
            "preferredDuringSchedulingIgnoredDuringExecution",
        );
        for (i, term) in items(preferred).iter().enumerate() {
            errors.extend(weighted_pod_affinity_term(term, &index(&preferred_path, i)));
        }
    }
    errors
}

fn weight(weight: i32, path: &str) -> Vec<FieldError> {
    if (1..=100).contains(&weight) {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            path,
            weight,
            "must be in the range 1-100",
        )]
    }
}

fn node_selector(selector: &NodeSelector, path: &str) -> Vec<FieldError> {
    let terms_path = child(path, "nodeSelectorTerms");
    if selector.node_selector_terms.is_empty() {
        return vec![FieldError::required(
            terms_path,
            "must have at least one node selector term",
        )];
    }
    selector
        .node_selector_terms
        .iter()
        .enumerate()
        .flat_map(|(i, term)| node_selector_term(term, true, &index(&terms_path, i)))
        .collect()
}

fn node_selector_term(term: &NodeSelectorTerm, check_values: bool, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let expressions = child(path, "matchExpressions");
    for (i, req) in items(&term.match_expressions).iter().enumerate() {
        errors.extend(node_selector_requirement(
            req,
            check_values,
            &index(&expressions, i),
        ));
    }
    let fields = child(path, "matchFields");
    for (i, req) in items(&term.match_fields).iter().enumerate() {
        errors.extend(node_field_requirement(req, &index(&fields, i)));
    }
    errors
}

fn node_selector_requirement(
    req: &NodeSelectorRequirement,
    check_values: bool,
    path: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let values = items(&req.values);
    let values_path = child(path, "values");
    match req.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => errors.push(FieldError::required(
            &values_path,
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(FieldError::forbidden(
            &values_path,
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "Gt" | "Lt" if values.len() != 1 => errors.push(FieldError::required(
            &values_path,
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        other => errors.push(FieldError::invalid_str(
            child(path, "operator"),
            other,
            "not a valid selector operator",
        )),
    }
    errors.extend(validate_label_name(&req.key, &child(path, "key")));
    if check_values {
        for (i, value) in values.iter().enumerate() {
            errors.extend(invalid_problems(
                &index(&values_path, i),
                value,
                names::label_value(value),
            ));
        }
    }
    errors
}

fn node_field_requirement(req: &NodeSelectorRequirement, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let values = items(&req.values);
    match req.operator.as_str() {
        "In" | "NotIn" if values.len() != 1 => errors.push(FieldError::required(
            child(path, "values"),
            "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
        )),
        "In" | "NotIn" => {}
        other => errors.push(FieldError::invalid_str(
            child(path, "operator"),
            other,
            "not a valid selector operator",
        )),
    }
    if req.key == "metadata.name" {
        let values_path = child(path, "values");
        for (i, value) in values.iter().enumerate() {
            errors.extend(invalid_problems(
                &index(&values_path, i),
                value,
                names::dns1123_subdomain(value),
            ));
        }
    } else {
        errors.push(FieldError::invalid_str(
            child(path, "key"),
            &req.key,
            "not a valid field selector key",
        ));
    }
    errors
}

fn pod_affinity_term(term: &PodAffinityTerm, path: &str) -> Vec<FieldError> {
    let mut errors =
        validate_label_selector(term.label_selector.as_ref(), &child(path, "labelSelector"));
    errors.extend(validate_label_selector(
        term.namespace_selector.as_ref(),
        &child(path, "namespaceSelector"),
    ));
    for namespace in items(&term.namespaces) {
        errors.extend(invalid_problems(
            &child(path, "namespace"),
            namespace,
            names::dns1123_label(namespace),
        ));
    }
    if term.topology_key.is_empty() {
        errors.push(FieldError::required(
            child(path, "topologyKey"),
            "can not be empty",
        ));
    }
    errors.extend(validate_label_name(
        &term.topology_key,
        &child(path, "topologyKey"),
    ));
    errors
}

fn weighted_pod_affinity_term(term: &WeightedPodAffinityTerm, path: &str) -> Vec<FieldError> {
    let mut errors = weight(term.weight, &child(path, "weight"));
    errors.extend(pod_affinity_term(
        &term.pod_affinity_term,
        &child(path, "podAffinityTerm"),
    ));
    errors
}

pub(crate) fn topology_spread(list: &[TopologySpreadConstraint], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let c_path = index(path, i);
        if c.max_skew <= 0 {
            errors.push(FieldError::invalid(
                child(&c_path, "maxSkew"),
                c.max_skew,
                "must be greater than zero",
            ));
        }
        if c.topology_key.is_empty() {
            errors.push(FieldError::required(
                child(&c_path, "topologyKey"),
                "can not be empty",
            ));
        }
        const ACTIONS: &[&str] = &["DoNotSchedule", "ScheduleAnyway"];
        if !ACTIONS.contains(&c.when_unsatisfiable.as_str()) {
            errors.push(FieldError::not_supported(
                child(&c_path, "whenUnsatisfiable"),
                &c.when_unsatisfiable,
                ACTIONS,
            ));
        }
        let repeated = list[i + 1..].iter().any(|other| {
            other.topology_key == c.topology_key && other.when_unsatisfiable == c.when_unsatisfiable
        });
        if repeated {
            errors.push(FieldError::duplicate(
                child(&c_path, "{topologyKey, whenUnsatisfiable}"),
                repr::quoted(&format!("{{{}, {}}}", c.topology_key, c.when_unsatisfiable)),
            ));
        }
        if let Some(min_domains) = c.min_domains {
            let min_path = child(&c_path, "minDomains");
            if min_domains <= 0 {
                errors.push(FieldError::invalid(
                    &min_path,
                    min_domains,
                    "must be greater than zero",
                ));
            }
            if c.when_unsatisfiable != "DoNotSchedule" {
                errors.push(FieldError::invalid(
                    &min_path,
                    min_domains,
                    format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {}",
                        c.when_unsatisfiable
                    ),
                ));
            }
        }
        for (field, policy) in [
            ("nodeAffinityPolicy", &c.node_affinity_policy),
            ("nodeTaintsPolicy", &c.node_taints_policy),
        ] {
            if let Some(policy) = policy.as_deref() {
                if !matches!(policy, "Honor" | "Ignore") {
                    errors.push(FieldError::not_supported(
                        child(&c_path, field),
                        policy,
                        &["Honor", "Ignore"],
                    ));
                }
            }
        }
        errors.extend(validate_label_selector(
            c.label_selector.as_ref(),
            &child(&c_path, "labelSelector"),
        ));
    }
    errors
}

/// DNS search domains may carry underscores (relaxed search validation).
fn search_domain_problems(domain: &str) -> Vec<String> {
    const MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '_', '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?(\\._?[a-z0-9]([-_a-z0-9]*[a-z0-9])?)*')";
    let label_ok = |label: &str| {
        let body = label.strip_prefix('_').unwrap_or(label).as_bytes();
        let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !body.is_empty()
            && alnum(&body[0])
            && alnum(&body[body.len() - 1])
            && body.iter().all(|c| alnum(c) || *c == b'-' || *c == b'_')
    };
    let mut problems = Vec::new();
    if domain.len() > 253 {
        problems.push("must be no more than 253 characters".to_string());
    }
    if !domain.split('.').all(label_ok) {
        problems.push(MSG.to_string());
    }
    problems
}

pub(crate) fn dns_config(
    config: Option<&PodDNSConfig>,
    dns_policy: &str,
    path: &str,
) -> Vec<FieldError> {
    if dns_policy == "None" {
        let Some(config) = config else {
            return vec![FieldError::required(
                path,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            )];
        };
        if items(&config.nameservers).is_empty() {
            return vec![FieldError::required(
                child(path, "nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )];
        }
    }
    let Some(config) = config else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    let nameservers = items(&config.nameservers);
    let ns_path = child(path, "nameservers");
    if nameservers.len() > MAX_NAMESERVERS {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            &ns_path,
            Some(repr::string_list(Some(nameservers))),
            format!("must not have more than {MAX_NAMESERVERS} nameservers"),
        ));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        errors.extend(net::valid_ip(&index(&ns_path, i), ns));
    }
    let searches = items(&config.searches);
    let search_path = child(path, "searches");
    if searches.len() > MAX_SEARCH_PATHS {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            &search_path,
            Some(repr::string_list(Some(searches))),
            format!("must not have more than {MAX_SEARCH_PATHS} search paths"),
        ));
    }
    if searches.join(" ").len() > MAX_SEARCH_CHARS {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            &search_path,
            Some(repr::string_list(Some(searches))),
            format!("must not have more than {MAX_SEARCH_CHARS} characters (including spaces) in the search list"),
        ));
    }
    for (i, search) in searches.iter().enumerate() {
        if search != "." {
            let trimmed = search.strip_suffix('.').unwrap_or(search);
            errors.extend(invalid_problems(
                &index(&search_path, i),
                trimmed,
                search_domain_problems(trimmed),
            ));
        }
    }
    let options_path = child(path, "options");
    for (i, option) in items(&config.options).iter().enumerate() {
        if text(&option.name).is_empty() {
            errors.push(FieldError::required(
                index(&options_path, i),
                "must not be empty",
            ));
        }
    }
    errors
}

pub(crate) fn host_aliases(aliases: &[HostAlias], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, alias) in aliases.iter().enumerate() {
        let alias_path = index(path, i);
        errors.extend(net::valid_ip(&child(&alias_path, "ip"), &alias.ip));
        let hostnames = child(&alias_path, "hostnames");
        for (j, hostname) in items(&alias.hostnames).iter().enumerate() {
            errors.extend(super::dns_subdomain(&index(&hostnames, j), hostname));
        }
    }
    errors
}

/// Scheduling gates: qualified names, each once.
pub(crate) fn scheduling_gates(gates: &[String], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, gate) in gates.iter().enumerate() {
        let gate_path = index(path, i);
        errors.extend(super::qualified_name(&gate_path, gate));
        if !seen.insert(gate.as_str()) {
            errors.push(FieldError::duplicate(gate_path, repr::quoted(gate)));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn toleration_rules() {
        let list: Vec<Toleration> = serde_json::from_value(json!([
            {"operator": "Exists"},
            {"key": "a", "operator": "Exists", "value": "x"},
            {"key": "b", "tolerationSeconds": 5, "effect": "NoSchedule"},
            {"operator": "Equal", "value": "v"}
        ]))
        .unwrap();
        let errors = tolerations(&list, "spec.tolerations");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "spec.tolerations[1].operator",
                "spec.tolerations[2].effect",
                "spec.tolerations[3].operator",
            ]
        );
    }

    #[test]
    fn node_affinity_requirements() {
        let a: Affinity = serde_json::from_value(json!({
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "zone", "operator": "In"},
                        {"key": "gen", "operator": "Gt", "values": ["1", "2"]}
                    ]}]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 0, "preference": {"matchExpressions": [{"key": "z", "operator": "Exists"}]}}
                ]
            },
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"app": "web"}}}]
            }
        }))
        .unwrap();
        let errors = affinity(&a, "spec.affinity");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values",
                "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
                "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
            ]
        );
    }

    #[test]
    fn dns_config_rules() {
        let config: PodDNSConfig = serde_json::from_value(json!({
            "nameservers": ["1.1.1.1", "bad"],
            "searches": ["svc.cluster.local.", "_srv.example.com", "Bad"],
            "options": [{"value": "2"}]
        }))
        .unwrap();
        let errors = dns_config(Some(&config), "ClusterFirst", "spec.dnsConfig");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "spec.dnsConfig.nameservers[1]",
                "spec.dnsConfig.searches[2]",
                "spec.dnsConfig.options[0]",
            ]
        );
        let missing = dns_config(None, "None", "spec.dnsConfig");
        assert_eq!(missing[0].field, "spec.dnsConfig");
    }
}

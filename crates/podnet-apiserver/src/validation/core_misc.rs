//! Namespaces, Nodes, Events (core/v1) and Leases.

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, NodeSpec, Taint};
use podnet_model::names;

use super::meta::{
    kube_finalizer_name, validate_generic_meta, validate_label_name, validate_meta,
    validate_meta_update_with, MetaRules, NameRule,
};
use super::{child, index, invalid_problems, items, net, quantity, repr, text};
use crate::status::{FieldError, FieldErrorKind};

const NAMESPACE_META: MetaRules = MetaRules::cluster(NameRule::Label);
const NODE_META: MetaRules = MetaRules::cluster(NameRule::Subdomain);
/// Events over core/v1 only get the generic metadata checks, and only once
/// their own checks passed.
const EVENT_META: MetaRules = MetaRules {
    namespaced: true,
    name: NameRule::PathSegment,
    kube_finalizers: false,
};
/// coordination.k8s.io uses apimachinery's metadata rules without the
/// core finalizer-name rule.
const LEASE_META: MetaRules = MetaRules {
    namespaced: true,
    name: NameRule::Subdomain,
    kube_finalizers: false,
};
const REPORTING_INSTANCE_LIMIT: usize = 128;
const ACTION_LIMIT: usize = 128;
const REASON_LIMIT: usize = 128;
const NOTE_LIMIT: usize = 1024;

pub(crate) fn namespace_create(ns: &Namespace) -> Vec<FieldError> {
    let mut errors = validate_meta(&ns.metadata, NAMESPACE_META);
    let finalizers = ns
        .spec
        .as_ref()
        .map(|s| items(&s.finalizers))
        .unwrap_or(&[]);
    for finalizer in finalizers {
        errors.extend(invalid_problems(
            "spec.finalizers",
            finalizer,
            names::qualified_name(finalizer),
        ));
        errors.extend(kube_finalizer_name(finalizer, "spec.finalizers"));
    }
    errors
}

pub(crate) fn namespace_update(new: &Namespace, old: &Namespace) -> Vec<FieldError> {
    validate_meta_update_with(&new.metadata, &old.metadata, NAMESPACE_META)
}

pub(crate) fn node_create(node: &Node) -> Vec<FieldError> {
    let spec = node.spec.clone().unwrap_or_default();
    let mut errors = validate_meta(&node.metadata, NODE_META);
    errors.extend(node_taints(items(&spec.taints)));
    errors.extend(node_resources(node));
    let cidrs = pod_cidrs(&spec);
    let cidrs_path = "spec.podCIDRs";
    for (i, cidr) in cidrs.iter().enumerate() {
        errors.extend(net::valid_cidr(&index(cidrs_path, i), cidr));
    }
    if cidrs.len() > 1 {
        let families: Vec<Option<bool>> = cidrs
            .iter()
            .map(|c| net::parse_cidr(c).map(|n| n.addr().is_ipv6()))
            .collect();
        let dual_stack = cidrs.len() == 2 && families[0].is_some() && families[0] != families[1];
        if !dual_stack {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                cidrs_path,
                Some(repr::string_list(Some(&cidrs))),
                "may specify no more than one CIDR for each IP family",
            ));
        }
        for (i, cidr) in cidrs.iter().enumerate() {
            if cidrs[..i].contains(cidr) {
                errors.push(FieldError::duplicate(
                    index(cidrs_path, i),
                    repr::quoted(cidr),
                ));
            }
        }
    }
    errors
}

/// podCIDRs, or the single podCIDR older clients set (as Kubernetes converts it).
fn pod_cidrs(spec: &NodeSpec) -> Vec<String> {
    match (items(&spec.pod_cidrs), text(&spec.pod_cidr)) {
        ([], "") => Vec::new(),
        ([], single) => vec![single.to_string()],
        (list, _) => list.to_vec(),
    }
}

fn taint_repr(taint: &Taint) -> String {
    format!(
        "core.Taint{{Key:{:?}, Value:{:?}, Effect:{:?}, TimeAdded:(*v1.Time)(nil)}}",
        taint.key,
        text(&taint.value),
        taint.effect
    )
}

/// Taints; Kubernetes reports them under metadata, not spec.
fn node_taints(taints: &[Taint]) -> Vec<FieldError> {
    let path = "metadata.taints";
    let mut errors = Vec::new();
    let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, taint) in taints.iter().enumerate() {
        let t_path = index(path, i);
        errors.extend(validate_label_name(&taint.key, &child(&t_path, "key")));
        let value = text(&taint.value);
        let problems = names::label_value(value);
        if !problems.is_empty() {
            errors.push(FieldError::invalid_str(
                child(&t_path, "value"),
                value,
                problems.join(";"),
            ));
        }
        errors.extend(super::scheduling::taint_effect(
            &taint.effect,
            false,
            &child(&t_path, "effect"),
        ));
        let keys = seen.entry(taint.effect.as_str()).or_default();
        if keys.contains(&taint.key.as_str()) {
            errors.push(FieldError::new(
                FieldErrorKind::Duplicate,
                t_path,
                Some(taint_repr(taint)),
                "taints must be unique by key and effect pair",
            ));
            continue;
        }
        keys.push(taint.key.as_str());
    }
    errors
}

fn node_resources(node: &Node) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(status) = &node.status else {
        return errors;
    };
    for (field, list) in [
        ("capacity", &status.capacity),
        ("allocatable", &status.allocatable),
    ] {
        for (name, q) in list.iter().flatten() {
            if quantity::value(&q.0).is_some_and(|v| v < 0.0) {
                errors.push(FieldError::invalid_str(
                    format!("status.{field}.{name}"),
                    &q.0,
                    "must be greater than or equal to 0",
                ));
            }
        }
    }
    errors
}

pub(crate) fn node_update(new: &Node, old: &Node) -> Vec<FieldError> {
    let (new_spec, old_spec) = (
        new.spec.clone().unwrap_or_default(),
        old.spec.clone().unwrap_or_default(),
    );
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, NODE_META);
    errors.extend(node_resources(new));
    let addresses = new
        .status
        .as_ref()
        .map(|s| items(&s.addresses))
        .unwrap_or(&[]);
    for (i, address) in addresses.iter().enumerate() {
        if addresses[..i].contains(address) {
            errors.push(FieldError::duplicate(
                index("status.addresses", i),
                format!(
                    "core.NodeAddress{{Type:{:?}, Address:{:?}}}",
                    address.type_, address.address
                ),
            ));
        }
    }
    let old_cidrs = pod_cidrs(&old_spec);
    if !old_cidrs.is_empty() && old_cidrs != pod_cidrs(&new_spec) {
        errors.push(FieldError::forbidden(
            "spec.podCIDRs",
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    let old_provider = text(&old_spec.provider_id);
    if !old_provider.is_empty() && old_provider != text(&new_spec.provider_id) {
        errors.push(FieldError::forbidden(
            "spec.providerID",
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    errors.extend(node_taints(items(&new_spec.taints)));
    if new_spec.external_id != old_spec.external_id {
        errors.push(FieldError::forbidden(
            "spec.externalID",
            "may not be updated",
        ));
    }
    errors
}

pub(crate) fn event_create(event: &Event) -> Vec<FieldError> {
    let errors = legacy_event(event);
    if !errors.is_empty() {
        return errors;
    }
    validate_generic_meta(&event.metadata, true)
}

pub(crate) fn event_update(new: &Event, old: &Event) -> Vec<FieldError> {
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, EVENT_META);
    errors.extend(legacy_event(new));
    errors
}

/// The checks every Event written through core/v1 gets.
fn legacy_event(event: &Event) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let namespace = text(&event.metadata.namespace);
    let involved_namespace = text(&event.involved_object.namespace);
    let mismatch = || {
        FieldError::invalid_str(
            "involvedObject.namespace",
            involved_namespace,
            "does not match event.namespace",
        )
    };
    if event.event_time.is_none() {
        if involved_namespace.is_empty() {
            if !namespace.is_empty() && namespace != "default" {
                errors.push(mismatch());
            }
        } else if namespace != involved_namespace {
            errors.push(mismatch());
        }
    } else {
        if involved_namespace.is_empty() && namespace != "default" && namespace != "kube-system" {
            errors.push(mismatch());
        }
        errors.extend(reporting_fields(event));
    }
    errors.extend(invalid_problems(
        "namespace",
        namespace,
        names::dns1123_subdomain(namespace),
    ));
    errors
}

/// Events with an eventTime are new-style: they name their reporter and action.
fn reporting_fields(event: &Event) -> Vec<FieldError> {
    let mut errors = Vec::new();
    // core/v1 reportingComponent is the internal reportingController.
    let controller = text(&event.reporting_component);
    if controller.is_empty() {
        errors.push(FieldError::required("reportingController", ""));
    }
    errors.extend(invalid_problems(
        "reportingController",
        controller,
        names::qualified_name(controller),
    ));
    for (path, value, limit) in [
        (
            "reportingInstance",
            text(&event.reporting_instance),
            REPORTING_INSTANCE_LIMIT,
        ),
        ("action", text(&event.action), ACTION_LIMIT),
        ("reason", text(&event.reason), REASON_LIMIT),
    ] {
        if value.is_empty() {
            errors.push(FieldError::required(path, ""));
        }
        if value.len() > limit {
            errors.push(FieldError::invalid_str(
                path,
                "",
                format!("can have at most {limit} characters"),
            ));
        }
    }
    if text(&event.message).len() > NOTE_LIMIT {
        errors.push(FieldError::invalid_str(
            "message",
            "",
            format!("can have at most {NOTE_LIMIT} characters"),
        ));
    }
    errors
}

pub(crate) fn lease_create(lease: &Lease) -> Vec<FieldError> {
    let mut errors = validate_meta(&lease.metadata, LEASE_META);
    errors.extend(lease_spec(lease));
    errors
}

pub(crate) fn lease_update(new: &Lease, old: &Lease) -> Vec<FieldError> {
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, LEASE_META);
    errors.extend(lease_spec(new));
    errors
}

fn lease_spec(lease: &Lease) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(spec) = &lease.spec else {
        return errors;
    };
    if let Some(duration) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
        errors.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            duration,
            "must be greater than 0",
        ));
    }
    if let Some(transitions) = spec.lease_transitions.filter(|t| *t < 0) {
        errors.push(FieldError::invalid(
            "spec.leaseTransitions",
            transitions,
            "must be greater than or equal to 0",
        ));
    }
    if let Some(strategy) = &spec.strategy {
        // Kubernetes nests the strategy path twice in these errors.
        let path = "spec.strategy.strategy";
        if strategy.contains('/') {
            errors.extend(super::qualified_name(path, strategy));
        } else if strategy != "OldestEmulationVersion" {
            errors.push(FieldError::not_supported(
                path,
                strategy,
                &["OldestEmulationVersion"],
            ));
        }
    }
    let preferred = text(&spec.preferred_holder);
    if !preferred.is_empty() && text(&spec.strategy).is_empty() {
        errors.push(FieldError::forbidden(
            "spec.preferredHolder",
            "may only be specified if `strategy` is defined",
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    #[test]
    fn namespaces() {
        assert_valid(&create(
            "Namespace",
            "",
            json!({"metadata": {"name": "team-a"}}),
        ));
        let errors = create(
            "Namespace",
            "",
            json!({"metadata": {"name": "team.a"}, "spec": {"finalizers": ["custom"]}}),
        );
        assert_eq!(fields(&errors), vec!["metadata.name", "spec.finalizers"]);
        assert_eq!(
            errors[0].message(),
            "Invalid value: \"team.a\": must not contain dots"
        );
    }

    #[test]
    fn nodes() {
        let node = json!({
            "metadata": {"name": "node-1.example.com"},
            "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:1::/64"],
                     "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}
        });
        assert_valid(&create("Node", "", node.clone()));
        let mut bad = node.clone();
        bad["spec"]["podCIDRs"] = json!(["10.244.1.0/24", "10.244.2.0/24", "bad"]);
        bad["spec"]["taints"] = json!([
            {"key": "a", "effect": "Sometimes"},
            {"key": "b", "effect": "NoSchedule"},
            {"key": "b", "effect": "NoSchedule"}
        ]);
        let errors = create("Node", "", bad);
        assert_eq!(
            fields(&errors),
            vec![
                "metadata.taints[0].effect",
                "metadata.taints[2]",
                "spec.podCIDRs[2]",
                "spec.podCIDRs",
            ]
        );
        let mut old = node.clone();
        old["metadata"]["resourceVersion"] = json!("1");
        let mut new = old.clone();
        new["spec"]["podCIDRs"] = json!(["10.244.9.0/24"]);
        new["spec"]["podCIDR"] = json!("10.244.9.0/24");
        let errors = update("Node", "", new, old);
        assert_eq!(fields(&errors), vec!["spec.podCIDRs"]);
    }

    #[test]
    fn events() {
        let event = json!({
            "metadata": {"name": "web.17a8b2c3", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
            "reason": "Started", "message": "Started container", "type": "Normal"
        });
        assert_valid(&create("Event", "", event.clone()));
        let mut bad = event;
        bad["involvedObject"]["namespace"] = json!("other");
        assert_eq!(
            fields(&create("Event", "", bad)),
            vec!["involvedObject.namespace"]
        );
        let new_style = json!({
            "metadata": {"name": "e1", "namespace": "default"},
            "involvedObject": {"kind": "Node", "name": "n1"},
            "eventTime": "2025-01-01T00:00:00.000000Z",
            "reportingComponent": "podnet/agent", "reportingInstance": "n1"
        });
        let errors = create("Event", "", new_style);
        assert_eq!(fields(&errors), vec!["action", "reason"]);
    }

    #[test]
    fn event_names_only_need_to_be_path_segments() {
        let event = json!({
            "metadata": {"name": "a/b", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}
        });
        let errors = create("Event", "", event);
        assert_eq!(fields(&errors), vec!["metadata.name"]);
        assert_eq!(
            errors[0].message(),
            "Invalid value: \"a/b\": may not contain '/'"
        );
    }

    #[test]
    fn renames_and_namespace_moves_are_refused() {
        let old = json!({"metadata": {"name": "team-a", "resourceVersion": "3"}});
        let new = json!({"metadata": {"name": "team-b", "resourceVersion": "3"}});
        let errors = update("Namespace", "", new, old);
        assert_eq!(fields(&errors), vec!["metadata.name"]);
        assert_eq!(
            errors[0].message(),
            "Invalid value: \"team-b\": field is immutable"
        );
    }

    #[test]
    fn leases() {
        let lease = json!({
            "metadata": {"name": "podnet-agent-n1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}
        });
        assert_valid(&create("Lease", "coordination.k8s.io", lease.clone()));
        let mut bad = lease;
        bad["spec"]["leaseDurationSeconds"] = json!(0);
        bad["spec"]["preferredHolder"] = json!("n2");
        let errors = create("Lease", "coordination.k8s.io", bad);
        assert_eq!(
            fields(&errors),
            vec!["spec.leaseDurationSeconds", "spec.preferredHolder"]
        );
    }
}

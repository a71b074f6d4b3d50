//! Object metadata, labels, annotations and label selectors
//! (apimachinery's `ValidateObjectMeta*`, `ValidateLabels`, `ValidateLabelSelector`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta, OwnerReference,
};
use podnet_model::names;
use podnet_model::selector::{self, SelectorError};

use super::{child, immutable, index, invalid_problems, items, repr, text, too_long};
use crate::status::{FieldError, FieldErrorKind};

/// Kubernetes caps the sum of annotation key and value lengths at 256 KiB.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Finalizers without a domain prefix that Kubernetes itself defines.
const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// Which syntax a kind's object names follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// RFC 1123 subdomain: most kinds.
    Subdomain,
    /// RFC 1123 label: Namespace, StatefulSet.
    Label,
    /// RFC 1035 label: Service.
    Dns1035,
    /// Only what fits in a URL path segment: Event (core/v1), and the generic
    /// check every object passes.
    PathSegment,
}

impl NameRule {
    fn problems(self, name: &str) -> Vec<String> {
        match self {
            NameRule::Subdomain => names::dns1123_subdomain(name),
            NameRule::Label => names::dns1123_label(name),
            NameRule::Dns1035 => names::dns1035_label(name),
            NameRule::PathSegment => names::path_segment_name(name),
        }
    }

    /// A generateName is checked as a prefix: a trailing dash is fine there.
    fn prefix_problems(self, prefix: &str) -> Vec<String> {
        match prefix.strip_suffix('-') {
            Some(rest) if self != NameRule::PathSegment => self.problems(&format!("{rest}a")),
            _ => self.problems(prefix),
        }
    }
}

/// How a kind's metadata is checked on create.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MetaRules {
    pub namespaced: bool,
    pub name: NameRule,
    /// Core and most API groups also reject unprefixed finalizers Kubernetes
    /// does not define; coordination.k8s.io uses the generic rules only.
    pub kube_finalizers: bool,
}

impl MetaRules {
    pub(crate) const fn namespaced(name: NameRule) -> Self {
        MetaRules {
            namespaced: true,
            name,
            kube_finalizers: true,
        }
    }

    pub(crate) const fn cluster(name: NameRule) -> Self {
        MetaRules {
            namespaced: false,
            name,
            kube_finalizers: true,
        }
    }
}

/// `metadata` of a new object.
pub(crate) fn validate_meta(meta: &ObjectMeta, rules: MetaRules) -> Vec<FieldError> {
    let path = "metadata";
    let mut errors = Vec::new();
    let generate_name = text(&meta.generate_name);
    if !generate_name.is_empty() {
        errors.extend(invalid_problems(
            &child(path, "generateName"),
            generate_name,
            rules.name.prefix_problems(generate_name),
        ));
    }
    let name = text(&meta.name);
    if name.is_empty() {
        errors.push(FieldError::required(
            child(path, "name"),
            "name or generateName is required",
        ));
    } else {
        errors.extend(invalid_problems(
            &child(path, "name"),
            name,
            rules.name.problems(name),
        ));
    }
    errors.extend(common_meta(meta, rules.namespaced, path));
    if rules.kube_finalizers {
        errors.extend(kube_finalizers(meta, path));
    }
    errors
}

/// The namespace, generation, labels, annotations, owners and finalizers
/// checks every object gets on create and update.
fn common_meta(meta: &ObjectMeta, namespaced: bool, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let namespace = text(&meta.namespace);
    let namespace_path = child(path, "namespace");
    if namespaced {
        if namespace.is_empty() {
            errors.push(FieldError::required(namespace_path, ""));
        } else {
            errors.extend(invalid_problems(
                &namespace_path,
                namespace,
                names::dns1123_label(namespace),
            ));
        }
    } else if !namespace.is_empty() {
        errors.push(FieldError::forbidden(
            namespace_path,
            "not allowed on this type",
        ));
    }
    errors.extend(super::nonnegative(
        &child(path, "generation"),
        meta.generation.unwrap_or(0),
    ));
    errors.extend(validate_labels(
        meta.labels.as_ref(),
        &child(path, "labels"),
    ));
    errors.extend(validate_annotations(
        meta.annotations.as_ref(),
        &child(path, "annotations"),
    ));
    errors.extend(owner_references(
        items(&meta.owner_references),
        &child(path, "ownerReferences"),
    ));
    errors.extend(finalizers(
        items(&meta.finalizers),
        &child(path, "finalizers"),
    ));
    errors
}

/// The generic metadata check Kubernetes runs on every object after its
/// kind's own checks passed: only path-safe names are required.
pub(crate) fn validate_generic_meta(meta: &ObjectMeta, namespaced: bool) -> Vec<FieldError> {
    validate_meta(
        meta,
        MetaRules {
            namespaced,
            name: NameRule::PathSegment,
            kube_finalizers: false,
        },
    )
}

/// `metadata` of an updated object against the stored one.
pub(crate) fn validate_meta_update(new: &ObjectMeta, old: &ObjectMeta) -> Vec<FieldError> {
    let path = "metadata";
    let mut errors = no_new_finalizers_while_deleting(new, old);
    if text(&new.resource_version).is_empty() {
        errors.push(FieldError::invalid_str(
            child(path, "resourceVersion"),
            "",
            "must be specified for an update",
        ));
    }
    let (new_generation, old_generation) =
        (new.generation.unwrap_or(0), old.generation.unwrap_or(0));
    if new_generation < old_generation {
        errors.push(FieldError::invalid(
            child(path, "generation"),
            new_generation,
            "must not be decremented",
        ));
    }
    errors.extend(identity_unchanged(new, old));
    errors.extend(validate_labels(new.labels.as_ref(), &child(path, "labels")));
    errors.extend(validate_annotations(
        new.annotations.as_ref(),
        &child(path, "annotations"),
    ));
    errors.extend(owner_references(
        items(&new.owner_references),
        &child(path, "ownerReferences"),
    ));
    errors.extend(finalizers(
        items(&new.finalizers),
        &child(path, "finalizers"),
    ));
    errors
}

fn no_new_finalizers_while_deleting(new: &ObjectMeta, old: &ObjectMeta) -> Vec<FieldError> {
    if old.deletion_timestamp.is_none() {
        return Vec::new();
    }
    let added: Vec<String> = items(&new.finalizers)
        .iter()
        .filter(|f| !items(&old.finalizers).contains(f))
        .map(|f| format!("{f:?}"))
        .collect();
    if added.is_empty() {
        return Vec::new();
    }
    vec![FieldError::forbidden(
        "metadata.finalizers",
        format!(
            "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
            added.join(", ")
        ),
    )]
}

/// Name, namespace, uid and the server-set timestamps never change.
fn identity_unchanged(new: &ObjectMeta, old: &ObjectMeta) -> Vec<FieldError> {
    let quoted = |s: &&str| repr::quoted(s);
    let mut errors = Vec::new();
    for (field, a, b) in [
        ("name", text(&new.name), text(&old.name)),
        ("namespace", text(&new.namespace), text(&old.namespace)),
        ("uid", text(&new.uid), text(&old.uid)),
    ] {
        errors.extend(immutable(&child("metadata", field), &a, &b, quoted));
    }
    let time = |t: &Option<String>| {
        t.as_deref()
            .map_or_else(|| "null".to_string(), repr::quoted)
    };
    let stamp = |t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        t.as_ref().map(|t| t.0.to_string())
    };
    for (field, a, b) in [
        (
            "creationTimestamp",
            stamp(&new.creation_timestamp),
            stamp(&old.creation_timestamp),
        ),
        (
            "deletionTimestamp",
            stamp(&new.deletion_timestamp),
            stamp(&old.deletion_timestamp),
        ),
    ] {
        errors.extend(immutable(&child("metadata", field), &a, &b, time));
    }
    errors.extend(immutable(
        "metadata.deletionGracePeriodSeconds",
        &new.deletion_grace_period_seconds,
        &old.deletion_grace_period_seconds,
        |v| v.map_or_else(|| "null".to_string(), |v| v.to_string()),
    ));
    errors
}

/// What every update gets before its kind's checks: the generic create
/// checks on the new metadata, then the update rules; plus the kind's
/// unprefixed-finalizer rule when it has one.
pub(crate) fn validate_meta_update_with(
    new: &ObjectMeta,
    old: &ObjectMeta,
    rules: MetaRules,
) -> Vec<FieldError> {
    let mut errors = validate_generic_meta(new, rules.namespaced);
    errors.extend(validate_meta_update(new, old));
    if rules.kube_finalizers {
        errors.extend(kube_finalizers(new, "metadata"));
    }
    errors
}

/// Label keys and values; errors name the map, not the key, as Kubernetes does.
pub(crate) fn validate_labels(
    labels: Option<&BTreeMap<String, String>>,
    path: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        errors.extend(invalid_problems(path, k, names::qualified_name(k)));
        errors.extend(invalid_problems(path, v, names::label_value(v)));
    }
    errors
}

/// A single label key (taint keys, toleration keys, topology keys).
pub(crate) fn validate_label_name(name: &str, path: &str) -> Vec<FieldError> {
    invalid_problems(path, name, names::qualified_name(name))
}

pub(crate) fn validate_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    path: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut total = 0;
    for (k, v) in annotations.into_iter().flatten() {
        // Annotation keys are qualified names in any letter case.
        errors.extend(invalid_problems(
            path,
            k,
            names::qualified_name(&k.to_lowercase()),
        ));
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errors.push(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errors
}

fn owner_references(refs: &[OwnerReference], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut first_controller: Option<String> = None;
    for owner in refs {
        errors.extend(owner_reference(owner, path));
        if owner.controller == Some(true) {
            let current = format!("{}/{}", owner.kind, owner.name);
            match &first_controller {
                Some(first) => errors.push(FieldError::new(
                    FieldErrorKind::Invalid,
                    path,
                    Some(owner_references_repr(refs)),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errors
}

fn owner_reference(owner: &OwnerReference, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    // apiVersion is "group/version" or "version"; only the version is required.
    let parts: Vec<&str> = owner.api_version.split('/').collect();
    let version = match parts.as_slice() {
        [version] | [_, version] => *version,
        _ => "",
    };
    if version.is_empty() {
        errors.push(FieldError::invalid_str(
            child(path, "apiVersion"),
            &owner.api_version,
            "version must not be empty",
        ));
    }
    for (field, value) in [
        ("kind", &owner.kind),
        ("name", &owner.name),
        ("uid", &owner.uid),
    ] {
        if value.is_empty() {
            errors.push(FieldError::invalid_str(
                child(path, field),
                value,
                "must not be empty",
            ));
        }
    }
    if version == "v1" && owner.api_version == "v1" && owner.kind == "Event" {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            path,
            Some(owner_references_repr(std::slice::from_ref(owner))),
            "/v1, Kind=Event is disallowed from being an owner",
        ));
    }
    errors
}

fn owner_references_repr(refs: &[OwnerReference]) -> String {
    let entries: Vec<String> = refs
        .iter()
        .map(|r| {
            format!(
                "v1.OwnerReference{{APIVersion:{:?}, Kind:{:?}, Name:{:?}, UID:{:?}}}",
                r.api_version, r.kind, r.name, r.uid
            )
        })
        .collect();
    format!("[]v1.OwnerReference{{{}}}", entries.join(", "))
}

fn finalizers(list: &[String], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for finalizer in list {
        errors.extend(invalid_problems(
            path,
            finalizer,
            names::qualified_name(finalizer),
        ));
    }
    let has = |f: &str| list.iter().any(|x| x == f);
    if has("orphan") && has("foregroundDeletion") {
        errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            path,
            Some(repr::string_list(Some(list))),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errors
}

fn kube_finalizers(meta: &ObjectMeta, path: &str) -> Vec<FieldError> {
    let path = child(path, "finalizers");
    items(&meta.finalizers)
        .iter()
        .enumerate()
        .flat_map(|(i, f)| kube_finalizer_name(f, &index(&path, i)))
        .collect()
}

/// Unprefixed finalizers must be ones Kubernetes defines.
pub(crate) fn kube_finalizer_name(finalizer: &str, path: &str) -> Vec<FieldError> {
    if !finalizer.contains('/') && !STANDARD_FINALIZERS.contains(&finalizer) {
        vec![FieldError::invalid_str(
            path,
            finalizer,
            "name is neither a standard finalizer name nor is it fully qualified",
        )]
    } else {
        Vec::new()
    }
}

/// A label selector's syntax: label maps, operators, keys and values.
pub(crate) fn validate_label_selector(
    selector: Option<&LabelSelector>,
    path: &str,
) -> Vec<FieldError> {
    let Some(selector) = selector else {
        return Vec::new();
    };
    let mut errors = validate_labels(selector.match_labels.as_ref(), &child(path, "matchLabels"));
    let expressions = child(path, "matchExpressions");
    for (i, req) in items(&selector.match_expressions).iter().enumerate() {
        errors.extend(selector_requirement(req, &index(&expressions, i)));
    }
    errors
}

fn selector_requirement(req: &LabelSelectorRequirement, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let values = items(&req.values);
    match req.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errors.push(FieldError::required(
                    child(path, "values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errors.push(FieldError::forbidden(
                    child(path, "values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        other => errors.push(FieldError::invalid_str(
            child(path, "operator"),
            other,
            "not a valid selector operator",
        )),
    }
    errors.extend(validate_label_name(&req.key, &child(path, "key")));
    let values_path = child(path, "values");
    for (i, value) in values.iter().enumerate() {
        errors.extend(invalid_problems(
            &index(&values_path, i),
            value,
            names::label_value(value),
        ));
    }
    errors
}

/// A typed selector as Kubernetes converts it (`LabelSelectorAsSelector`):
/// the model's selector, or why it does not convert (bad operator, key or values).
pub(crate) fn label_selector(
    selector: &LabelSelector,
) -> Result<selector::LabelSelector, SelectorError> {
    let expressions: Vec<(String, String, Vec<String>)> = items(&selector.match_expressions)
        .iter()
        .map(|e| {
            (
                e.key.clone(),
                e.operator.clone(),
                e.values.clone().unwrap_or_default(),
            )
        })
        .collect();
    let no_labels = BTreeMap::new();
    selector::LabelSelector::from_parts(
        selector.match_labels.as_ref().unwrap_or(&no_labels),
        &expressions,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(value: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn names_follow_the_kind_rule() {
        let rules = MetaRules::namespaced(NameRule::Dns1035);
        let errors = validate_meta(
            &meta(json!({"name": "1web", "namespace": "default"})),
            rules,
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "metadata.name");
        let errors = validate_meta(&meta(json!({"namespace": "default"})), rules);
        assert_eq!(
            errors[0].message(),
            "Required value: name or generateName is required"
        );
        let ok = validate_meta(
            &meta(json!({"name": "web", "generateName": "web-", "namespace": "default"})),
            rules,
        );
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn labels_annotations_owners_finalizers() {
        let errors = validate_meta(
            &meta(json!({
                "name": "web",
                "namespace": "default",
                "labels": {"bad key": "v", "ok": "bad value"},
                "annotations": {"Example.COM/Key": "fine", "a/b/c": "x"},
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": true},
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "", "controller": true}
                ],
                "finalizers": ["example.com/x", "custom"]
            })),
            MetaRules::namespaced(NameRule::Subdomain),
        );
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.labels",
                "metadata.labels",
                "metadata.annotations",
                "metadata.ownerReferences.uid",
                "metadata.ownerReferences",
                "metadata.finalizers[1]",
            ]
        );
        assert!(errors[4].detail.contains("ReplicaSet/a and ReplicaSet/b"));
    }

    #[test]
    fn annotations_are_capped_at_256_kib() {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let errors = validate_annotations(
            Some(&BTreeMap::from([("k".to_string(), big)])),
            "metadata.annotations",
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].message(),
            "Too long: must have at most 262144 bytes"
        );
    }

    #[test]
    fn selector_requirements() {
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchExpressions": [
                {"key": "a", "operator": "In"},
                {"key": "b", "operator": "Exists", "values": ["x"]},
                {"key": "c", "operator": "Like", "values": ["x"]}
            ]
        }))
        .unwrap();
        let errors = validate_label_selector(Some(&selector), "spec.selector");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "spec.selector.matchExpressions[0].values",
                "spec.selector.matchExpressions[1].values",
                "spec.selector.matchExpressions[2].operator",
            ]
        );
        assert!(label_selector(&selector).is_err());
    }

    #[test]
    fn selectors_match_like_kubernetes() {
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]
        }))
        .unwrap();
        assert!(label_selector(&selector).unwrap().matches(&labels));
        let everything = LabelSelector::default();
        assert!(label_selector(&everything).unwrap().is_everything());
    }

    #[test]
    fn updates_keep_identity_fields() {
        let old = meta(json!({"name": "a", "uid": "u1", "resourceVersion": "5", "generation": 3}));
        let new = meta(json!({"name": "a", "uid": "u2", "generation": 2}));
        let errors = validate_meta_update(&new, &old);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.resourceVersion",
                "metadata.generation",
                "metadata.uid"
            ]
        );
        assert_eq!(
            errors[2].message(),
            "Invalid value: \"u2\": field is immutable"
        );
    }
}

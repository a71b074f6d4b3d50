//! Validation of objects as Kubernetes validates them: the same rules, field
//! paths and messages (`pkg/apis/*/validation`), so kubectl and kube-rs users
//! see the 422 causes a real API server would send.
//!
//! Objects arrive as JSON that already decoded into their k8s-openapi type,
//! with the server's metadata (name, namespace, uid...) and defaults applied.
//! Each kind deserializes into its typed struct and runs the checks of its
//! group's module; the result is the list of causes for [`crate::status::ApiError::invalid`].

mod apps;
mod config;
mod container;
mod core_misc;
mod endpoints;
mod meta;
mod net;
mod networking;
mod pod;
mod quantity;
mod repr;
mod scheduling;
mod service;

pub(crate) use meta::label_selector;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::resources::Resource;
use crate::status::{FieldError, FieldErrorKind};

/// Problems with a new object of kind `res`.
pub fn validate_create(res: &Resource, obj: &Value) -> Vec<FieldError> {
    let errors = match (res.group, res.kind) {
        ("", "Namespace") => typed(obj, core_misc::namespace_create),
        ("", "Node") => typed(obj, core_misc::node_create),
        ("", "Pod") => typed(obj, pod::pod_create),
        ("", "Service") => typed(obj, service::service_create),
        ("", "Endpoints") => typed(obj, endpoints::endpoints_create),
        ("", "Secret") => typed(obj, config::secret_create),
        ("", "ConfigMap") => typed(obj, config::config_map_create),
        ("", "ServiceAccount") => typed(obj, config::service_account_create),
        ("", "Event") => typed(obj, core_misc::event_create),
        ("discovery.k8s.io", "EndpointSlice") => typed(obj, endpoints::endpoint_slice_create),
        ("networking.k8s.io", "NetworkPolicy") => typed(obj, networking::network_policy_create),
        ("networking.k8s.io", "Ingress") => typed(obj, networking::ingress_create),
        ("networking.k8s.io", "IngressClass") => typed(obj, networking::ingress_class_create),
        ("apps", "Deployment") => apps::create::<Deployment>(obj),
        ("apps", "ReplicaSet") => apps::create::<ReplicaSet>(obj),
        ("apps", "StatefulSet") => apps::create::<StatefulSet>(obj),
        ("apps", "DaemonSet") => apps::create::<DaemonSet>(obj),
        ("coordination.k8s.io", "Lease") => typed(obj, core_misc::lease_create),
        _ => vec![unknown_kind(res)],
    };
    dedup(errors)
}

/// Problems with replacing `old` by `new` (both of kind `res`).
///
/// As Kubernetes, the caller has already carried over what updates never
/// change (uid, creationTimestamp, generation, and resourceVersion for
/// unconditional updates) and normalized allocated fields.
pub fn validate_update(res: &Resource, new: &Value, old: &Value) -> Vec<FieldError> {
    let errors = match (res.group, res.kind) {
        ("", "Namespace") => typed2(new, old, core_misc::namespace_update),
        ("", "Node") => typed2(new, old, core_misc::node_update),
        ("", "Pod") => typed2(new, old, pod::pod_update),
        ("", "Service") => typed2(new, old, service::service_update),
        ("", "Endpoints") => typed2(new, old, endpoints::endpoints_update),
        ("", "Secret") => typed2(new, old, config::secret_update),
        ("", "ConfigMap") => typed2(new, old, config::config_map_update),
        ("", "ServiceAccount") => typed2(new, old, config::service_account_update),
        ("", "Event") => typed2(new, old, core_misc::event_update),
        ("discovery.k8s.io", "EndpointSlice") => typed2(new, old, endpoints::endpoint_slice_update),
        ("networking.k8s.io", "NetworkPolicy") => {
            typed2(new, old, networking::network_policy_update)
        }
        ("networking.k8s.io", "Ingress") => typed2(new, old, networking::ingress_update),
        ("networking.k8s.io", "IngressClass") => typed2(new, old, networking::ingress_class_update),
        ("apps", "Deployment") => apps::update::<Deployment>(new, old),
        ("apps", "ReplicaSet") => apps::update::<ReplicaSet>(new, old),
        ("apps", "StatefulSet") => apps::update::<StatefulSet>(new, old),
        ("apps", "DaemonSet") => apps::update::<DaemonSet>(new, old),
        ("coordination.k8s.io", "Lease") => typed2(new, old, core_misc::lease_update),
        _ => vec![unknown_kind(res)],
    };
    dedup(errors)
}

fn unknown_kind(res: &Resource) -> FieldError {
    FieldError::new(
        FieldErrorKind::Invalid,
        "kind",
        Some(format!("{:?}", res.kind)),
        format!("no validation is defined for {}", res.api_version()),
    )
}

fn decode<T: DeserializeOwned>(obj: &Value) -> Result<T, FieldError> {
    T::deserialize(obj).map_err(|err| {
        FieldError::new(
            FieldErrorKind::Invalid,
            "",
            None,
            format!("object does not decode: {err}"),
        )
    })
}

fn typed<T: DeserializeOwned>(obj: &Value, check: fn(&T) -> Vec<FieldError>) -> Vec<FieldError> {
    match decode(obj) {
        Ok(object) => check(&object),
        Err(err) => vec![err],
    }
}

fn typed2<T: DeserializeOwned>(
    new: &Value,
    old: &Value,
    check: fn(&T, &T) -> Vec<FieldError>,
) -> Vec<FieldError> {
    match (decode(new), decode(old)) {
        (Ok(new), Ok(old)) => check(&new, &old),
        (Err(err), _) | (_, Err(err)) => vec![err],
    }
}

/// Kubernetes runs overlapping checks (generic and per-kind metadata rules)
/// and drops repeated messages; the list keeps the first of each.
fn dedup(errors: Vec<FieldError>) -> Vec<FieldError> {
    let mut unique: Vec<FieldError> = Vec::with_capacity(errors.len());
    for error in errors {
        if !unique.contains(&error) {
            unique.push(error);
        }
    }
    unique
}

// Field paths, printed as Kubernetes' field.Path does.

pub(crate) fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

pub(crate) fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

// Error constructors for the shapes Kubernetes uses most.

/// One Invalid per problem, the value a quoted string.
pub(crate) fn invalid_problems(path: &str, value: &str, problems: Vec<String>) -> Vec<FieldError> {
    problems
        .into_iter()
        .map(|problem| FieldError::invalid_str(path, value, problem))
        .collect()
}

pub(crate) fn dns_label(path: &str, value: &str) -> Vec<FieldError> {
    invalid_problems(path, value, podnet_model::names::dns1123_label(value))
}

pub(crate) fn dns_subdomain(path: &str, value: &str) -> Vec<FieldError> {
    invalid_problems(path, value, podnet_model::names::dns1123_subdomain(value))
}

pub(crate) fn qualified_name(path: &str, value: &str) -> Vec<FieldError> {
    invalid_problems(path, value, podnet_model::names::qualified_name(value))
}

pub(crate) fn nonnegative(path: &str, value: i64) -> Vec<FieldError> {
    if value < 0 {
        vec![FieldError::invalid(
            path,
            value,
            "must be greater than or equal to 0",
        )]
    } else {
        Vec::new()
    }
}

pub(crate) fn port_number(path: &str, value: i64) -> Vec<FieldError> {
    podnet_model::names::port_number(value)
        .into_iter()
        .map(|problem| FieldError::invalid(path, value, problem))
        .collect()
}

pub(crate) fn immutable<T: PartialEq>(
    path: &str,
    new: &T,
    old: &T,
    shown: impl FnOnce(&T) -> String,
) -> Vec<FieldError> {
    if new == old {
        Vec::new()
    } else {
        vec![FieldError::new(
            FieldErrorKind::Invalid,
            path,
            Some(shown(new)),
            "field is immutable",
        )]
    }
}

pub(crate) fn too_long(path: &str, max_bytes: usize) -> FieldError {
    FieldError::new(
        FieldErrorKind::TooLong,
        path,
        None,
        format!("must have at most {max_bytes} bytes"),
    )
}

pub(crate) fn too_many(path: &str, actual: usize, max: usize) -> FieldError {
    FieldError::new(
        FieldErrorKind::TooMany,
        path,
        Some(actual.to_string()),
        format!("must have at most {max} items"),
    )
}

pub(crate) fn not_found(path: &str, value: &str) -> FieldError {
    FieldError::new(
        FieldErrorKind::NotFound,
        path,
        Some(format!("{value:?}")),
        "",
    )
}

/// A JSON form for semantic comparison as Kubernetes does it: missing, null,
/// empty lists and empty objects are all the same.
pub(crate) fn normalized(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalized(v)))
                .filter(|(_, v)| !is_empty_value(v))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.into_iter().map(normalized).collect()),
        other => other,
    }
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(list) => list.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Whether two typed values are equal the way Kubernetes compares them.
pub(crate) fn semantically_equal<T: serde::Serialize>(a: &T, b: &T) -> bool {
    match (serde_json::to_value(a), serde_json::to_value(b)) {
        (Ok(a), Ok(b)) => normalized(a) == normalized(b),
        _ => false,
    }
}

/// `Option<String>` fields that Kubernetes holds as plain strings ("" = unset).
pub(crate) fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}

/// `Option<Vec<T>>` fields that Kubernetes holds as plain slices.
pub(crate) fn items<T>(value: &Option<Vec<T>>) -> &[T] {
    value.as_deref().unwrap_or(&[])
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// The fields of `errors`, in order.
    pub fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    pub fn create(kind: &str, group: &str, obj: Value) -> Vec<FieldError> {
        let res = crate::resources::find_kind(group, kind).expect("served kind");
        validate_create(res, &obj)
    }

    pub fn update(kind: &str, group: &str, new: Value, old: Value) -> Vec<FieldError> {
        let res = crate::resources::find_kind(group, kind).expect("served kind");
        validate_update(res, &new, &old)
    }

    /// Panics with every message when `errors` is not empty.
    pub fn assert_valid(errors: &[FieldError]) {
        let messages: Vec<String> = errors.iter().map(FieldError::full_message).collect();
        assert!(errors.is_empty(), "unexpected errors: {messages:#?}");
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn undecodable_objects_yield_an_error_not_a_panic() {
        let errors = create(
            "Pod",
            "",
            json!({"metadata": {"name": "p"}, "spec": {"containers": "nope"}}),
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].detail.starts_with("object does not decode"));
    }

    #[test]
    fn every_served_kind_has_validation() {
        for res in crate::resources::RESOURCES {
            let errors = validate_create(res, &json!({}));
            assert!(
                !errors.iter().any(|e| e.field == "kind"),
                "{} has no validation",
                res.kind
            );
        }
    }

    #[test]
    fn repeated_errors_are_reported_once() {
        let error = FieldError::required("spec", "");
        assert_eq!(dedup(vec![error.clone(), error.clone()]), vec![error]);
    }
}

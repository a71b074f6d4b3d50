//! Field selectors per resource: the fields each kind can be selected on, the
//! string Kubernetes compares for each, and the 400 for any other field.

use podnet_model::selector::FieldSelector;
use serde_json::Value;

use crate::resources::Resource;
use crate::status::ApiError;

/// What every kind without its own list accepts (Kubernetes' default field
/// label conversion accepts both, even for cluster-scoped kinds).
const OBJECT_META: &[&str] = &["metadata.name", "metadata.namespace"];

const POD: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

const NODE: &[&str] = &["metadata.name", "spec.unschedulable"];

const NAMESPACE: &[&str] = &["metadata.name", "status.phase"];

const EVENT: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

const SECRET: &[&str] = &["metadata.name", "metadata.namespace", "type"];

const SERVICE: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.clusterIP",
    "spec.type",
];

/// The field old clients send for a pod's node; Kubernetes reads it as spec.nodeName.
const POD_LEGACY_HOST: &str = "spec.host";

/// The kinds Kubernetes gives their own field list (and its own error
/// wording); every other kind gets the default list.
fn own_fields(res: &Resource) -> Option<&'static [&'static str]> {
    match (res.group, res.kind) {
        ("", "Pod") => Some(POD),
        ("", "Node") => Some(NODE),
        ("", "Namespace") => Some(NAMESPACE),
        ("", "Event") => Some(EVENT),
        ("", "Secret") => Some(SECRET),
        ("", "Service") => Some(SERVICE),
        _ => None,
    }
}

/// The fields a field selector on this resource may name.
pub fn supported_fields(res: &Resource) -> &'static [&'static str] {
    own_fields(res).unwrap_or(OBJECT_META)
}

fn is_pod(res: &Resource) -> bool {
    res.group.is_empty() && res.kind == "Pod"
}

fn text(obj: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(obj, |v, key| v.get(key))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn flag(obj: &Value, path: &[&str]) -> String {
    let set = path
        .iter()
        .try_fold(obj, |v, key| v.get(key))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    set.to_string()
}

/// The pod IP Kubernetes selects on: `status.podIP`, or the first of
/// `status.podIPs` when only the list is set.
fn pod_ip(obj: &Value) -> Option<String> {
    text(obj, &["status", "podIP"])
        .filter(|ip| !ip.is_empty())
        .or_else(|| {
            obj.get("status")?
                .get("podIPs")?
                .get(0)
                .and_then(|first| text(first, &["ip"]))
        })
}

/// The value of `field` in `obj` as Kubernetes compares it (booleans as
/// `true`/`false`); None for a field the object does not set or the
/// resource does not support, which a selector compares as "".
pub fn field_value(res: &Resource, obj: &Value, field: &str) -> Option<String> {
    match field {
        "metadata.name" => return text(obj, &["metadata", "name"]),
        "metadata.namespace" => return text(obj, &["metadata", "namespace"]),
        _ => {}
    }
    match (res.group, res.kind, field) {
        ("", "Pod", "spec.nodeName" | POD_LEGACY_HOST) => text(obj, &["spec", "nodeName"]),
        ("", "Pod", "spec.restartPolicy") => text(obj, &["spec", "restartPolicy"]),
        ("", "Pod", "spec.schedulerName") => text(obj, &["spec", "schedulerName"]),
        ("", "Pod", "spec.serviceAccountName") => text(obj, &["spec", "serviceAccountName"]),
        ("", "Pod", "spec.hostNetwork") => Some(flag(obj, &["spec", "hostNetwork"])),
        ("", "Pod", "status.phase") => text(obj, &["status", "phase"]),
        ("", "Pod", "status.podIP") => pod_ip(obj),
        ("", "Pod", "status.nominatedNodeName") => text(obj, &["status", "nominatedNodeName"]),
        ("", "Node", "spec.unschedulable") => Some(flag(obj, &["spec", "unschedulable"])),
        ("", "Namespace", "status.phase") => text(obj, &["status", "phase"]),
        ("", "Secret", "type") => text(obj, &["type"]),
        ("", "Service", "spec.clusterIP") => text(obj, &["spec", "clusterIP"]),
        ("", "Service", "spec.type") => text(obj, &["spec", "type"]),
        ("", "Event", _) => event_field(obj, field),
        _ => None,
    }
}

fn event_field(obj: &Value, field: &str) -> Option<String> {
    if let Some(reference_field) = field.strip_prefix("involvedObject.") {
        return match reference_field {
            "kind" | "namespace" | "name" | "uid" | "apiVersion" | "resourceVersion"
            | "fieldPath" => text(obj, &["involvedObject", reference_field]),
            _ => None,
        };
    }
    match field {
        "reason" => text(obj, &["reason"]),
        "type" => text(obj, &["type"]),
        "reportingComponent" => text(obj, &["reportingComponent"]),
        // Events recorded through the events.k8s.io API carry only the
        // reporting controller, which Kubernetes then treats as the source.
        "source" => text(obj, &["source", "component"])
            .filter(|component| !component.is_empty())
            .or_else(|| text(obj, &["reportingComponent"])),
        _ => None,
    }
}

/// Rejects a selector naming a field the resource cannot be selected on,
/// with Kubernetes' 400 and message (the first such field, in selector order).
pub fn check_selector(res: &Resource, sel: &FieldSelector) -> Result<(), ApiError> {
    for requirement in sel.requirements() {
        let field = requirement.field.as_str();
        if supported_fields(res).contains(&field) || (is_pod(res) && field == POD_LEGACY_HOST) {
            continue;
        }
        let message = if own_fields(res).is_some() {
            format!("field label not supported: {field}")
        } else {
            format!(
                "{field:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
            )
        };
        return Err(ApiError::bad_request(message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use k8s_openapi::api::core::v1::{
        Event, EventSource, Node, NodeSpec, ObjectReference, Pod, PodIP, PodSpec, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn res(group: &str, plural: &str) -> &'static Resource {
        find(group, "v1", plural).unwrap()
    }

    fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: namespace.map(Into::into),
            ..Default::default()
        }
    }

    fn pod() -> Value {
        serde_json::to_value(Pod {
            metadata: meta("web-1", Some("default")),
            spec: Some(PodSpec {
                node_name: Some("node-a".into()),
                restart_policy: Some("Always".into()),
                scheduler_name: Some("default-scheduler".into()),
                service_account_name: Some("default".into()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ips: Some(vec![PodIP {
                    ip: "10.244.1.7".into(),
                }]),
                ..Default::default()
            }),
        })
        .unwrap()
    }

    #[test]
    fn pod_fields_have_kubernetes_values() {
        let pods = res("", "pods");
        let obj = pod();
        let value = |f: &str| field_value(pods, &obj, f);
        assert_eq!(value("metadata.name").as_deref(), Some("web-1"));
        assert_eq!(value("metadata.namespace").as_deref(), Some("default"));
        assert_eq!(value("spec.nodeName").as_deref(), Some("node-a"));
        assert_eq!(value("spec.host").as_deref(), Some("node-a"));
        assert_eq!(value("spec.restartPolicy").as_deref(), Some("Always"));
        assert_eq!(
            value("spec.schedulerName").as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(value("spec.serviceAccountName").as_deref(), Some("default"));
        assert_eq!(value("spec.hostNetwork").as_deref(), Some("false"));
        assert_eq!(value("status.phase").as_deref(), Some("Running"));
        assert_eq!(value("status.podIP").as_deref(), Some("10.244.1.7"));
        assert_eq!(value("status.nominatedNodeName"), None);
        for field in supported_fields(pods) {
            if *field != "status.nominatedNodeName" {
                assert!(value(field).is_some(), "{field}");
            }
        }

        let sel = FieldSelector::parse("spec.nodeName=node-a,status.phase!=Failed").unwrap();
        check_selector(pods, &sel).unwrap();
        assert!(sel.matches(|f| field_value(pods, &obj, f)));
        let sel = FieldSelector::parse("status.nominatedNodeName=").unwrap();
        assert!(sel.matches(|f| field_value(pods, &obj, f)));
        let sel = FieldSelector::parse("spec.hostNetwork=true").unwrap();
        assert!(!sel.matches(|f| field_value(pods, &obj, f)));
    }

    #[test]
    fn pod_ip_prefers_the_singular_field() {
        let pods = res("", "pods");
        let mut obj = pod();
        obj["status"]["podIP"] = "10.244.9.9".into();
        assert_eq!(
            field_value(pods, &obj, "status.podIP").as_deref(),
            Some("10.244.9.9")
        );
        obj["spec"]["hostNetwork"] = true.into();
        assert_eq!(
            field_value(pods, &obj, "spec.hostNetwork").as_deref(),
            Some("true")
        );
    }

    #[test]
    fn node_and_event_fields() {
        let nodes = res("", "nodes");
        let node = serde_json::to_value(Node {
            metadata: meta("node-a", None),
            spec: Some(NodeSpec {
                unschedulable: Some(true),
                ..Default::default()
            }),
            status: None,
        })
        .unwrap();
        assert_eq!(
            field_value(nodes, &node, "spec.unschedulable").as_deref(),
            Some("true")
        );
        assert_eq!(
            supported_fields(nodes),
            ["metadata.name", "spec.unschedulable"]
        );

        let events = res("", "events");
        let event = serde_json::to_value(Event {
            metadata: meta("web-1.17a", Some("default")),
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                name: Some("web-1".into()),
                namespace: Some("default".into()),
                uid: Some("u-1".into()),
                ..Default::default()
            },
            reason: Some("Scheduled".into()),
            type_: Some("Normal".into()),
            reporting_component: Some("default-scheduler".into()),
            source: Some(EventSource {
                component: None,
                host: None,
            }),
            ..Default::default()
        })
        .unwrap();
        let value = |f: &str| field_value(events, &event, f);
        assert_eq!(value("involvedObject.kind").as_deref(), Some("Pod"));
        assert_eq!(value("involvedObject.uid").as_deref(), Some("u-1"));
        assert_eq!(value("reason").as_deref(), Some("Scheduled"));
        assert_eq!(value("type").as_deref(), Some("Normal"));
        assert_eq!(value("source").as_deref(), Some("default-scheduler"));
        assert_eq!(
            value("reportingComponent").as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(value("involvedObject.fieldPath"), None);
    }

    #[test]
    fn unknown_fields_are_rejected_in_kubernetes_words() {
        let sel = FieldSelector::parse("spec.foo=x").unwrap();
        let err = check_selector(res("", "pods"), &sel).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(err.reason, "BadRequest");
        assert_eq!(err.message, "field label not supported: spec.foo");

        let err = check_selector(res("apps", "deployments"), &sel).unwrap_err();
        assert_eq!(
            err.message,
            "\"spec.foo\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );

        // Nodes are cluster-scoped and list only their name.
        let by_namespace = FieldSelector::parse("metadata.namespace=default").unwrap();
        let err = check_selector(res("", "nodes"), &by_namespace).unwrap_err();
        assert_eq!(err.message, "field label not supported: metadata.namespace");
        check_selector(res("", "configmaps"), &by_namespace).unwrap();

        let legacy = FieldSelector::parse("spec.host=node-a").unwrap();
        check_selector(res("", "pods"), &legacy).unwrap();
        assert!(check_selector(res("", "services"), &legacy).is_err());
    }

    #[test]
    fn every_resource_supports_its_name() {
        for r in crate::resources::RESOURCES {
            let fields = supported_fields(r);
            assert!(fields.contains(&"metadata.name"), "{}", r.plural);
            if r.namespaced {
                assert!(fields.contains(&"metadata.namespace"), "{}", r.plural);
            }
        }
        assert_eq!(
            supported_fields(res("", "services")),
            [
                "metadata.name",
                "metadata.namespace",
                "spec.clusterIP",
                "spec.type"
            ]
        );
        assert_eq!(
            supported_fields(res("", "secrets")),
            ["metadata.name", "metadata.namespace", "type"]
        );
        assert_eq!(
            supported_fields(res("", "namespaces")),
            ["metadata.name", "status.phase"]
        );
    }
}

//! The typed check every incoming object passes: decode into the kind's
//! k8s-openapi type and encode back. What comes out is the object in its
//! canonical JSON form; fields the kind's schema does not declare are
//! reported, so that `fieldValidation=Strict` can refuse them as Kubernetes does.

use k8s_openapi::api::{apps, coordination, core, discovery, networking};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::resources::Resource;
use crate::status::ApiError;

/// The canonical form of an object and the unknown fields dropped on the way.
#[derive(Debug)]
pub struct Normalized {
    pub object: Value,
    /// Paths as Kubernetes reports them (`spec.foo`, `spec.containers[0].bogus`).
    pub unknown_fields: Vec<String>,
}

fn roundtrip<T: DeserializeOwned + Serialize>(
    res: &Resource,
    input: &Value,
) -> Result<Value, ApiError> {
    let typed: T = serde_path_to_error::deserialize(input).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let at = if path.is_empty() || path == "." {
            String::new()
        } else {
            format!(" (at {path})")
        };
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {inner}{at}",
            kind = res.kind,
            version = res.version
        ))
    })?;
    serde_json::to_value(typed)
        .map_err(|e| ApiError::internal(format!("encoding {}: {e}", res.kind)))
}

/// Decodes `input` as `res`'s kind and encodes it back.
pub fn normalize(res: &Resource, input: &Value) -> Result<Normalized, ApiError> {
    if !input.is_object() {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: the body is not a JSON object",
            res.kind, res.version, res.kind
        )));
    }
    let object = match (res.group, res.kind) {
        ("", "Namespace") => roundtrip::<core::v1::Namespace>(res, input)?,
        ("", "Node") => roundtrip::<core::v1::Node>(res, input)?,
        ("", "Pod") => roundtrip::<core::v1::Pod>(res, input)?,
        ("", "Service") => roundtrip::<core::v1::Service>(res, input)?,
        ("", "Endpoints") => roundtrip::<core::v1::Endpoints>(res, input)?,
        ("", "Secret") => roundtrip::<core::v1::Secret>(res, input)?,
        ("", "ConfigMap") => roundtrip::<core::v1::ConfigMap>(res, input)?,
        ("", "ServiceAccount") => roundtrip::<core::v1::ServiceAccount>(res, input)?,
        ("", "Event") => roundtrip::<core::v1::Event>(res, input)?,
        ("discovery.k8s.io", "EndpointSlice") => {
            roundtrip::<discovery::v1::EndpointSlice>(res, input)?
        }
        ("networking.k8s.io", "NetworkPolicy") => {
            roundtrip::<networking::v1::NetworkPolicy>(res, input)?
        }
        ("networking.k8s.io", "Ingress") => roundtrip::<networking::v1::Ingress>(res, input)?,
        ("networking.k8s.io", "IngressClass") => {
            roundtrip::<networking::v1::IngressClass>(res, input)?
        }
        ("apps", "Deployment") => roundtrip::<apps::v1::Deployment>(res, input)?,
        ("apps", "ReplicaSet") => roundtrip::<apps::v1::ReplicaSet>(res, input)?,
        ("apps", "StatefulSet") => roundtrip::<apps::v1::StatefulSet>(res, input)?,
        ("apps", "DaemonSet") => roundtrip::<apps::v1::DaemonSet>(res, input)?,
        ("coordination.k8s.io", "Lease") => roundtrip::<coordination::v1::Lease>(res, input)?,
        (group, kind) => {
            return Err(ApiError::internal(format!(
                "no type for kind {kind} in group {group:?}"
            )))
        }
    };
    let unknown_fields = crate::schema::unknown_fields(&res.definition_name(), input);
    Ok(Normalized {
        object,
        unknown_fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find;
    use serde_json::json;

    #[test]
    fn known_objects_pass_unchanged() {
        let pods = find("", "v1", "pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]}]}});
        let n = normalize(pods, &pod).unwrap();
        assert!(n.unknown_fields.is_empty(), "{:?}", n.unknown_fields);
        assert_eq!(
            n.object["spec"]["containers"][0]["ports"][0]["containerPort"],
            80
        );
    }

    #[test]
    fn unknown_fields_are_reported_with_paths() {
        let pods = find("", "v1", "pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "bogus": 1,
            "spec": {"containers": [{"name": "c", "image": "busybox", "imagePullPolice": "Always"}]}});
        let n = normalize(pods, &pod).unwrap();
        assert_eq!(
            n.unknown_fields,
            vec!["bogus", "spec.containers[0].imagePullPolice"]
        );
        assert!(n.object.get("bogus").is_none());
    }

    #[test]
    fn wrong_types_are_bad_requests_naming_the_field() {
        let services = find("", "v1", "services").unwrap();
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"ports": [{"port": "eighty"}]}});
        let err = normalize(services, &svc).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(
            err.message.contains("spec.ports[0].port"),
            "{}",
            err.message
        );
        assert!(err
            .message
            .starts_with("Service in version \"v1\" cannot be handled as a Service"));
    }
}

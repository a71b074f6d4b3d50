use serde_json::{json, Value};

use super::*;
use crate::resources::find_kind;

fn pods() -> &'static Resource {
    find_kind("", "Pod").unwrap()
}

fn deployments() -> &'static Resource {
    find_kind("apps", "Deployment").unwrap()
}

fn services() -> &'static Resource {
    find_kind("", "Service").unwrap()
}

fn strategic(res: &Resource, original: &Value, patch: Value) -> Result<Value, PatchError> {
    apply_patch(
        res,
        original,
        PatchType::StrategicMerge,
        patch.to_string().as_bytes(),
    )
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["name"].as_str().unwrap())
        .collect()
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "app:1",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                },
                {"name": "sidecar", "image": "proxy:1"},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    })
}

#[test]
fn content_types_name_patch_types() {
    assert_eq!(
        PatchType::from_content_type("application/strategic-merge-patch+json; charset=utf-8"),
        Some(PatchType::StrategicMerge)
    );
    assert_eq!(
        PatchType::from_content_type("application/json-patch+json"),
        Some(PatchType::Json)
    );
    assert_eq!(
        PatchType::from_content_type("application/merge-patch+json"),
        Some(PatchType::Merge)
    );
    assert_eq!(
        PatchType::from_content_type("application/apply-patch+yaml"),
        Some(PatchType::Apply)
    );
    assert_eq!(PatchType::from_content_type("application/json"), None);
    assert_eq!(
        PatchType::Apply.content_type(),
        "application/apply-patch+yaml"
    );
}

#[test]
fn containers_merge_by_name() {
    let patched = strategic(
        pods(),
        &pod(),
        json!({"spec": {"containers": [
            {"name": "sidecar", "image": "proxy:2"},
            {"name": "debug", "image": "busybox"},
        ]}}),
    )
    .unwrap();
    let containers = &patched["spec"]["containers"];
    assert_eq!(names(containers), ["app", "sidecar", "debug"]);
    assert_eq!(containers[1]["image"], "proxy:2");
    // The untouched container keeps all its fields.
    assert_eq!(containers[0]["env"][1]["value"], "2");
    assert_eq!(patched["metadata"]["labels"]["tier"], "front");
}

#[test]
fn env_merges_by_name_and_null_removes_fields() {
    let patched = strategic(
        pods(),
        &pod(),
        json!({
            "metadata": {"labels": {"tier": null}},
            "spec": {"containers": [{"name": "app", "env": [
                {"name": "B", "value": "20"},
                {"name": "C", "value": "3"},
            ]}]},
        }),
    )
    .unwrap();
    let env = &patched["spec"]["containers"][0]["env"];
    assert_eq!(names(env), ["A", "B", "C"]);
    assert_eq!(env[1]["value"], "20");
    assert_eq!(patched["metadata"]["labels"], json!({"app": "web"}));
}

#[test]
fn service_ports_merge_by_port() {
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
            ],
        },
    });
    let patched = strategic(
        services(),
        &service,
        json!({"spec": {"ports": [{"port": 443, "targetPort": "tls"}, {"port": 9090, "name": "metrics"}]}}),
    )
    .unwrap();
    let ports = patched["spec"]["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 3);
    assert_eq!(ports[0]["targetPort"], 8080);
    assert_eq!(ports[1]["targetPort"], "tls");
    assert_eq!(ports[1]["name"], "https");
    assert_eq!(ports[2]["port"], 9090);
    // The selector is a plain map: merged, not replaced.
    let patched = strategic(
        services(),
        &service,
        json!({"spec": {"selector": {"tier": "front"}}}),
    )
    .unwrap();
    assert_eq!(
        patched["spec"]["selector"],
        json!({"app": "web", "tier": "front"})
    );
}

#[test]
fn patch_delete_removes_list_items_and_maps() {
    let patched = strategic(
        pods(),
        &pod(),
        json!({"spec": {"containers": [
            {"name": "sidecar", "$patch": "delete"},
            {"name": "app", "env": [{"name": "A", "$patch": "delete"}]},
        ]}}),
    )
    .unwrap();
    assert_eq!(names(&patched["spec"]["containers"]), ["app"]);
    assert_eq!(names(&patched["spec"]["containers"][0]["env"]), ["B"]);

    let patched = strategic(
        pods(),
        &pod(),
        json!({"metadata": {"labels": {"$patch": "delete"}}}),
    )
    .unwrap();
    assert_eq!(patched["metadata"]["labels"], json!({}));
}

#[test]
fn patch_replace_replaces_lists_and_maps() {
    let patched = strategic(
        pods(),
        &pod(),
        json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}),
    )
    .unwrap();
    assert_eq!(
        patched["spec"]["containers"],
        json!([{"name": "only", "image": "x"}])
    );
    let patched = strategic(
        pods(),
        &pod(),
        json!({"metadata": {"labels": {"$patch": "replace", "new": "1"}}}),
    )
    .unwrap();
    assert_eq!(patched["metadata"]["labels"], json!({"new": "1"}));
}

#[test]
fn retain_keys_clears_fields_the_patch_does_not_keep() {
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
    });
    let patched = strategic(
        deployments(),
        &deployment,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    )
    .unwrap();
    assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));

    // Volumes retain keys per item: switching a volume's source drops the old one.
    let patched = strategic(
        pods(),
        &pod(),
        json!({"spec": {"volumes": [
            {"name": "data", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/srv"}},
        ]}}),
    )
    .unwrap();
    assert_eq!(
        patched["spec"]["volumes"],
        json!([{"name": "data", "hostPath": {"path": "/srv"}}])
    );

    let error = strategic(
        deployments(),
        &deployment,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
    )
    .unwrap_err();
    assert!(
        matches!(error, PatchError::InvalidDirective { ref path, .. } if path == "spec.strategy"),
        "{error}"
    );
    assert_eq!(error.status_code(), 400);
}

#[test]
fn primitive_lists_with_merge_strategy_merge_as_sets() {
    let object = json!({"metadata": {"name": "web", "finalizers": ["a", "b"]}});
    let patched = strategic(
        pods(),
        &object,
        json!({"metadata": {"finalizers": ["c", "a"]}}),
    )
    .unwrap();
    assert_eq!(patched["metadata"]["finalizers"], json!(["c", "a", "b"]));
    let patched = strategic(
        pods(),
        &object,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
    )
    .unwrap();
    assert_eq!(patched["metadata"]["finalizers"], json!(["b"]));
    // Lists without the merge strategy are replaced.
    let patched = strategic(
        pods(),
        &pod(),
        json!({"spec": {"containers": [{"name": "app", "command": ["run"]}]}}),
    )
    .unwrap();
    let patched = strategic(
        pods(),
        &patched,
        json!({"spec": {"containers": [{"name": "app", "command": ["serve", "--fast"]}]}}),
    )
    .unwrap();
    assert_eq!(
        patched["spec"]["containers"][0]["command"],
        json!(["serve", "--fast"])
    );
}

#[test]
fn items_without_their_merge_key_are_rejected() {
    let error = strategic(
        pods(),
        &pod(),
        json!({"spec": {"containers": [{"image": "x"}]}}),
    )
    .unwrap_err();
    assert!(
        matches!(error, PatchError::CannotMerge { ref path, ref detail } if path == "spec.containers" && detail.contains("merge key: name")),
        "{error}"
    );
    assert_eq!(error.status_code(), 422);
    let error = strategic(pods(), &pod(), json!({"spec": {"$patch": "explode"}})).unwrap_err();
    assert!(
        matches!(error, PatchError::InvalidDirective { .. }),
        "{error}"
    );
    let error = apply_patch(pods(), &pod(), PatchType::StrategicMerge, b"[1]").unwrap_err();
    assert!(matches!(error, PatchError::InvalidBody { .. }), "{error}");
}

/// What `kubectl apply` sends for a changed Deployment: the new
/// last-applied annotation, `$setElementOrder` lists, deletions of what the
/// configuration dropped, and the changed fields.
#[test]
fn kubectl_apply_patch_updates_a_deployment() {
    let last_applied = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"annotations": {}, "name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}], "image": "nginx:1.25", "name": "nginx", "ports": [{"containerPort": 80}]},
                {"image": "busybox", "name": "side"},
            ]}}},
    });
    let live = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "default", "resourceVersion": "7", "generation": 1,
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied.to_string()},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "nginx", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                        {"name": "injected", "image": "mesh:1"},
                        {"name": "side", "image": "busybox", "imagePullPolicy": "Always"},
                    ],
                    "restartPolicy": "Always",
                },
            },
        },
        "status": {"replicas": 2},
    });
    let new_last_applied = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"annotations\":{},\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"env\":[{\"name\":\"A\",\"value\":\"1\"}],\"image\":\"nginx:1.26\",\"name\":\"nginx\",\"ports\":[{\"containerPort\":80}]}]}}}}\n";
    let patch = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": new_last_applied}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [
                {
                    "$setElementOrder/env": [{"name": "A"}],
                    "env": [{"$patch": "delete", "name": "B"}],
                    "image": "nginx:1.26",
                    "name": "nginx",
                },
                {"$patch": "delete", "name": "side"},
            ],
        }}},
    });
    let patched = strategic(deployments(), &live, patch).unwrap();
    let containers = &patched["spec"]["template"]["spec"]["containers"];
    // The container another actor injected stays; the dropped one goes.
    assert_eq!(names(containers), ["nginx", "injected"]);
    assert_eq!(containers[0]["image"], "nginx:1.26");
    assert_eq!(containers[0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(names(&containers[0]["env"]), ["A"]);
    assert_eq!(containers[0]["ports"][0]["protocol"], "TCP");
    assert_eq!(
        patched["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        new_last_applied
    );
    assert_eq!(
        patched["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
        "25%"
    );
    assert_eq!(patched["status"], live["status"]);
    // No directive leaks into the stored object.
    assert!(!patched.to_string().contains('$'), "{patched}");
}

#[test]
fn set_element_order_reorders_merged_lists() {
    let patched = strategic(
        pods(),
        &pod(),
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "new"}, {"name": "app"}],
            "containers": [{"name": "new", "image": "n"}],
        }}),
    )
    .unwrap();
    assert_eq!(
        names(&patched["spec"]["containers"]),
        ["sidecar", "new", "app"]
    );
    let error = strategic(
        pods(),
        &pod(),
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "new"}],
            "containers": [{"name": "new", "image": "n"}, {"name": "app", "image": "a"}],
        }}),
    )
    .unwrap_err();
    assert!(
        matches!(error, PatchError::InvalidDirective { .. }),
        "{error}"
    );
}

#[test]
fn merge_patch_replaces_lists_and_null_removes() {
    let patched = apply_patch(
        pods(),
        &pod(),
        PatchType::Merge,
        br#"{"metadata": {"labels": {"tier": null, "new": "1"}}, "spec": {"volumes": null, "containers": [{"name": "only", "image": "x"}]}}"#,
    )
    .unwrap();
    assert_eq!(
        patched["metadata"]["labels"],
        json!({"app": "web", "new": "1"})
    );
    assert!(patched["spec"].get("volumes").is_none());
    assert_eq!(
        patched["spec"]["containers"],
        json!([{"name": "only", "image": "x"}])
    );
    let error = apply_patch(pods(), &pod(), PatchType::Merge, b"{not json").unwrap_err();
    assert_eq!(error.status_code(), 400);
    let error = apply_patch(pods(), &pod(), PatchType::Merge, b"[]").unwrap_err();
    assert_eq!(error, PatchError::NotAnObject);
}

#[test]
fn json_patch_applies_operations_and_fails_whole_on_a_failed_test() {
    let patched = apply_patch(
        pods(),
        &pod(),
        PatchType::Json,
        br#"[
            {"op": "test", "path": "/spec/containers/0/image", "value": "app:1"},
            {"op": "replace", "path": "/spec/containers/0/image", "value": "app:2"},
            {"op": "add", "path": "/metadata/labels/new", "value": "1"},
            {"op": "remove", "path": "/metadata/labels/tier"},
            {"op": "add", "path": "/spec/containers/-", "value": {"name": "c", "image": "c"}},
            {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/labels/copy"},
            {"op": "move", "from": "/metadata/labels/copy", "path": "/metadata/labels/moved"}
        ]"#,
    )
    .unwrap();
    assert_eq!(patched["spec"]["containers"][0]["image"], "app:2");
    assert_eq!(
        names(&patched["spec"]["containers"]),
        ["app", "sidecar", "c"]
    );
    assert_eq!(
        patched["metadata"]["labels"],
        json!({"app": "web", "new": "1", "moved": "web"})
    );

    let error = apply_patch(
        pods(),
        &pod(),
        PatchType::Json,
        br#"[{"op": "replace", "path": "/metadata/labels/app", "value": "x"},
             {"op": "test", "path": "/spec/containers/0/image", "value": "wrong"}]"#,
    )
    .unwrap_err();
    assert!(matches!(error, PatchError::JsonPatchFailed(_)), "{error}");
    assert!(
        error.to_string().contains("/spec/containers/0/image"),
        "{error}"
    );
    assert_eq!(error.status_code(), 422);
    let status = error.to_api_error(pods(), "web").status();
    assert_eq!(status["code"], 422);
    assert_eq!(status["reason"], "Invalid");

    let error = apply_patch(pods(), &pod(), PatchType::Json, br#"{"op": "add"}"#).unwrap_err();
    assert!(matches!(error, PatchError::InvalidBody { .. }), "{error}");
    assert_eq!(
        error.to_api_error(pods(), "web").status()["reason"],
        "BadRequest"
    );
}

fn managed<'a>(object: &'a Value, manager: &str) -> &'a Value {
    object["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["manager"] == manager)
        .unwrap_or_else(|| panic!("no entry for {manager} in {object}"))
}

fn applied_deployment(replicas: u32, image: &str) -> Value {
    parse_apply_body(
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels:
    app: web
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: {image}
        ports:
        - containerPort: 80
"
        )
        .as_bytes(),
    )
    .unwrap()
}

#[test]
fn server_side_apply_creates_with_managed_fields() {
    let applied = applied_deployment(2, "nginx:1.25");
    let created = server_side_apply(deployments(), None, &applied, "kubectl", false).unwrap();
    assert_eq!(created["metadata"]["name"], "web");
    assert_eq!(created["spec"]["replicas"], 2);
    let entry = managed(&created, "kubectl");
    assert_eq!(entry["operation"], "Apply");
    assert_eq!(entry["apiVersion"], "apps/v1");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert!(entry["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        entry["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {},
                            "f:containerPort": {},
                        }},
                    }}},
                },
            },
        })
    );
}

#[test]
fn server_side_apply_updates_removes_and_detects_conflicts() {
    let created = server_side_apply(
        deployments(),
        None,
        &applied_deployment(2, "nginx:1.25"),
        "kubectl",
        false,
    )
    .unwrap();
    // Something else set a field the configuration does not mention.
    let mut live = created.clone();
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");

    // Updating: the new image lands, server-set fields stay.
    let mut config = applied_deployment(2, "nginx:1.26");
    let updated = server_side_apply(deployments(), Some(&live), &config, "kubectl", false).unwrap();
    let container = &updated["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.26");
    assert_eq!(container["imagePullPolicy"], "Always");
    assert_eq!(
        updated["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Dropping a field from the configuration removes it from the object.
    config["metadata"].as_object_mut().unwrap().remove("labels");
    let updated =
        server_side_apply(deployments(), Some(&updated), &config, "kubectl", false).unwrap();
    assert!(updated["metadata"].get("labels").is_none(), "{updated}");
    assert!(managed(&updated, "kubectl")["fieldsV1"]["f:metadata"].is_null());

    // Another manager changing replicas conflicts with kubectl's ownership...
    let scaler = parse_apply_body(
        br#"{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}}"#,
    )
    .unwrap();
    let error =
        server_side_apply(deployments(), Some(&updated), &scaler, "scaler", false).unwrap_err();
    assert_eq!(error.status_code(), 409);
    assert_eq!(
        error.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas"
    );
    let status = error.to_api_error(deployments(), "web").status();
    assert_eq!(status["reason"], "Conflict");
    assert_eq!(status["details"]["causes"][0]["field"], ".spec.replicas");

    // ...applying the same value shares it...
    let mut same = scaler.clone();
    same["spec"]["replicas"] = json!(2);
    let shared = server_side_apply(deployments(), Some(&updated), &same, "scaler", false).unwrap();
    assert_eq!(
        managed(&shared, "scaler")["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert_eq!(
        managed(&shared, "kubectl")["fieldsV1"]["f:spec"]["f:replicas"],
        json!({})
    );

    // ...and force takes it over.
    let forced = server_side_apply(deployments(), Some(&updated), &scaler, "scaler", true).unwrap();
    assert_eq!(forced["spec"]["replicas"], 5);
    assert!(managed(&forced, "kubectl")["fieldsV1"]["f:spec"]
        .get("f:replicas")
        .is_none());

    // A field another manager shares survives when kubectl stops applying it.
    let mut without_replicas = config.clone();
    without_replicas["spec"]
        .as_object_mut()
        .unwrap()
        .remove("replicas");
    let kept = server_side_apply(
        deployments(),
        Some(&shared),
        &without_replicas,
        "kubectl",
        false,
    )
    .unwrap();
    assert_eq!(kept["spec"]["replicas"], 2);
    let dropped = server_side_apply(
        deployments(),
        Some(&updated),
        &without_replicas,
        "kubectl",
        false,
    )
    .unwrap();
    assert!(dropped["spec"].get("replicas").is_none());
}

#[test]
fn server_side_apply_checks_its_input() {
    let applied = applied_deployment(1, "x");
    assert_eq!(
        server_side_apply(deployments(), None, &applied, "", false).unwrap_err(),
        PatchError::MissingFieldManager
    );
    let error = server_side_apply(pods(), None, &applied, "kubectl", false).unwrap_err();
    assert!(matches!(error, PatchError::InvalidApply(_)), "{error}");
    let no_kind = json!({"apiVersion": "apps/v1", "metadata": {"name": "web"}});
    let error = server_side_apply(deployments(), None, &no_kind, "kubectl", false).unwrap_err();
    assert_eq!(error.status_code(), 400);
    let keyless = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"image": "x"}]}});
    let error = server_side_apply(pods(), None, &keyless, "kubectl", false).unwrap_err();
    assert!(
        error.to_string().contains("omits key field \"name\""),
        "{error}"
    );
    assert!(parse_apply_body(b"- a\n- b\n").is_err());
    let error = apply_patch(pods(), &pod(), PatchType::Apply, b"{}").unwrap_err();
    assert!(matches!(error, PatchError::InvalidApply(_)));
}

#[test]
fn server_side_apply_ignores_status_of_resources_with_a_status_subresource() {
    let mut applied = applied_deployment(1, "x");
    applied["status"] = json!({"replicas": 9});
    let created = server_side_apply(deployments(), None, &applied, "kubectl", false).unwrap();
    assert!(created.get("status").is_none());
    assert!(managed(&created, "kubectl")["fieldsV1"]
        .get("f:status")
        .is_none());
}

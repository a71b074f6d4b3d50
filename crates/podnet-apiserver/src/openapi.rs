//! The OpenAPI documents the server publishes: Swagger 2.0 at `/openapi/v2`
//! and OpenAPI 3.0, one document per group version, under `/openapi/v3`.
//!
//! kubectl reads the v3 documents: it sends `fieldValidation=Strict` only
//! when the PATCH operation of the kind (found by its
//! `x-kubernetes-group-version-kind`) lists a `fieldValidation` parameter,
//! `kubectl apply` computes strategic merge patches from the schemas' patch
//! metadata when the PATCH operation accepts
//! `application/strategic-merge-patch+json`, and `kubectl explain` finds the
//! kind through an operation's group-version-kind and then walks
//! `components.schemas`. The documents are built once and cached, with their
//! JSON text and, for v3, the hash the index advertises.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};

use crate::resources::{self, Resource, GROUP_VERSIONS};
use crate::schema::{self, REF_PREFIX};

/// `info.version` of the documents: the Kubernetes API level the server speaks.
const API_VERSION: &str = "v1.33.0";
const V3_REF_PREFIX: &str = "#/components/schemas/";

/// The media types a PATCH accepts, in the order Kubernetes lists them.
pub const PATCH_CONTENT_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// The Swagger 2.0 document of every served path and definition.
pub fn v2() -> Value {
    v2_cached().0.clone()
}

/// [`v2`] serialized as JSON.
pub fn v2_json() -> &'static str {
    &v2_cached().1
}

/// The v3 index: one entry per served group version, each pointing at its
/// document with the document's hash.
pub fn v3_index() -> Value {
    let paths: Map<String, Value> = v3_cached()
        .iter()
        .map(|doc| {
            (
                doc.path.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{}?hash={}", doc.path, doc.hash)}),
            )
        })
        .collect();
    json!({ "paths": paths })
}

/// The OpenAPI 3.0 document of one group version: `api/v1` or
/// `apis/<group>/<version>`.
pub fn v3(group_version_path: &str) -> Option<Value> {
    v3_document(group_version_path).map(|doc| doc.document.clone())
}

/// [`v3`] serialized as JSON.
pub fn v3_json(group_version_path: &str) -> Option<&'static str> {
    v3_document(group_version_path).map(|doc| doc.json.as_str())
}

/// The hash the index advertises for a v3 document (upper-case hex SHA-512
/// of its JSON text), for ETag and cache headers.
pub fn v3_hash(group_version_path: &str) -> Option<&'static str> {
    v3_document(group_version_path).map(|doc| doc.hash.as_str())
}

struct V3Document {
    path: String,
    document: Value,
    json: String,
    hash: String,
}

fn v2_cached() -> &'static (Value, String) {
    static V2: OnceLock<(Value, String)> = OnceLock::new();
    V2.get_or_init(|| {
        let document = build_v2();
        let json = document.to_string();
        (document, json)
    })
}

fn v3_cached() -> &'static [V3Document] {
    static V3: OnceLock<Vec<V3Document>> = OnceLock::new();
    V3.get_or_init(|| {
        GROUP_VERSIONS
            .iter()
            .map(|(group, version)| {
                let document = build_v3(group, version);
                let json = document.to_string();
                let hash = hex_upper(&Sha512::digest(json.as_bytes()));
                V3Document {
                    path: group_version_path(group, version),
                    document,
                    json,
                    hash,
                }
            })
            .collect()
    })
}

fn v3_document(path: &str) -> Option<&'static V3Document> {
    v3_cached().iter().find(|doc| doc.path == path)
}

/// `api/v1` for the core group, `apis/<group>/<version>` otherwise.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn build_v2() -> Value {
    let mut paths = Map::new();
    for (group, version) in GROUP_VERSIONS {
        for res in resources::of_group_version(group, version) {
            add_resource_paths(&mut paths, res, Spec::V2);
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": API_VERSION},
        "paths": paths,
        "definitions": schema::definitions(),
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "type": "apiKey",
                "name": "authorization",
                "in": "header",
            }
        },
        "security": [{"BearerToken": []}],
    })
}

fn build_v3(group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for res in resources::of_group_version(group, version) {
        add_resource_paths(&mut paths, res, Spec::V3);
    }
    let paths = Value::Object(paths);

    // The document carries the definitions its paths reach, and what those reach.
    let defs = schema::definitions();
    let mut pending = Vec::new();
    collect_refs(&paths, V3_REF_PREFIX, &mut pending);
    let mut schemas = Map::new();
    while let Some(name) = pending.pop() {
        if schemas.contains_key(&name) {
            continue;
        }
        let Some(definition) = defs.get(&name) else {
            continue;
        };
        schema::references(definition, &mut pending);
        schemas.insert(name.clone(), to_v3_schema(&name, definition));
    }
    schemas.sort_keys();

    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": API_VERSION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "description": "Bearer Token authentication",
                    "type": "apiKey",
                    "name": "authorization",
                    "in": "header",
                }
            },
        },
        "security": [{"BearerToken": []}],
    })
}

fn collect_refs(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                if key == "$ref" {
                    if let Some(name) = value.as_str().and_then(|r| r.strip_prefix(prefix)) {
                        out.push(name.to_string());
                    }
                } else {
                    collect_refs(value, prefix, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, prefix, out)),
        _ => {}
    }
}

/// A definition in OpenAPI 3.0 form: references point into
/// `components.schemas`, and a reference with sibling keys is wrapped in
/// `allOf` (3.0 ignores siblings of `$ref`).
fn to_v3_schema(name: &str, definition: &Value) -> Value {
    let description = definition.get("description").cloned();
    let mut converted = match name {
        schema::INT_OR_STRING => json!({
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        }),
        schema::QUANTITY => json!({"oneOf": [{"type": "string"}, {"type": "number"}]}),
        _ => return convert_refs(definition),
    };
    if let Some(description) = description {
        converted["description"] = description;
    }
    converted
}

fn convert_refs(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            if let Some(target) = object
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
            {
                let reference = json!({"$ref": format!("{V3_REF_PREFIX}{target}")});
                if object.len() == 1 {
                    return reference;
                }
                let mut wrapped = Map::new();
                wrapped.insert("allOf".into(), json!([reference]));
                for (key, value) in object {
                    if key != "$ref" {
                        wrapped.insert(key.clone(), convert_refs(value));
                    }
                }
                return Value::Object(wrapped);
            }
            Value::Object(
                object
                    .iter()
                    .map(|(key, value)| (key.clone(), convert_refs(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(convert_refs).collect()),
        other => other.clone(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    V2,
    V3,
}

impl Spec {
    fn reference(self, definition: &str) -> Value {
        match self {
            Spec::V2 => json!({"$ref": format!("{REF_PREFIX}{definition}")}),
            Spec::V3 => json!({"$ref": format!("{V3_REF_PREFIX}{definition}")}),
        }
    }
}

/// A query or path parameter.
#[derive(Clone, Copy)]
struct Param {
    name: &'static str,
    location: &'static str,
    kind: &'static str,
    description: &'static str,
}

impl Param {
    fn render(self, spec: Spec) -> Value {
        let mut param = json!({
            "name": self.name,
            "in": self.location,
            "description": self.description,
        });
        if self.location == "path" {
            param["required"] = Value::Bool(true);
        }
        match spec {
            Spec::V2 => {
                param["type"] = self.kind.into();
                param["uniqueItems"] = Value::Bool(true);
            }
            Spec::V3 => {
                param["schema"] = json!({"type": self.kind, "uniqueItems": true});
            }
        }
        param
    }
}

const fn query(name: &'static str, kind: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: "query",
        kind,
        description,
    }
}

const NAME: Param = Param {
    name: "name",
    location: "path",
    kind: "string",
    description: "name of the object",
};
const NAMESPACE: Param = Param {
    name: "namespace",
    location: "path",
    kind: "string",
    description: "namespace of the object",
};
const PRETTY: Param = query("pretty", "string", "If 'true', the output is indented.");
const DRY_RUN: Param = query(
    "dryRun",
    "string",
    "When present, the request is processed but not persisted. The only valid value is All.",
);
const FIELD_MANAGER: Param = query(
    "fieldManager",
    "string",
    "Name of the actor making the change, recorded in managedFields. Required for apply requests (application/apply-patch+yaml); at most 128 printable characters.",
);
const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    "string",
    "How the server treats unknown or duplicate fields in the request body: Ignore drops them, Warn drops them with a warning header per field, Strict rejects the request.",
);
const FORCE: Param = query(
    "force",
    "boolean",
    "Apply requests only: take ownership of fields other managers own instead of failing with a conflict.",
);
const GRACE_PERIOD_SECONDS: Param = query(
    "gracePeriodSeconds",
    "integer",
    "Seconds before the object is deleted; zero deletes immediately.",
);
const ORPHAN_DEPENDENTS: Param = query(
    "orphanDependents",
    "boolean",
    "Deprecated, use propagationPolicy: whether dependents are orphaned.",
);
const PROPAGATION_POLICY: Param = query(
    "propagationPolicy",
    "string",
    "How dependents are garbage collected: Orphan, Background or Foreground.",
);
const LIST_PARAMS: &[Param] = &[
    query(
        "allowWatchBookmarks",
        "boolean",
        "Watch only: the server may send BOOKMARK events carrying the latest resourceVersion.",
    ),
    query(
        "continue",
        "string",
        "Token from a previous paged list to fetch the next page.",
    ),
    query(
        "fieldSelector",
        "string",
        "Restricts the result to objects whose fields match. Defaults to everything.",
    ),
    query(
        "labelSelector",
        "string",
        "Restricts the result to objects whose labels match. Defaults to everything.",
    ),
    query(
        "limit",
        "integer",
        "Largest number of objects to return; the list metadata carries a continue token when more remain.",
    ),
    query(
        "resourceVersion",
        "string",
        "The resource version the result must be served at or after, per resourceVersionMatch.",
    ),
    query(
        "resourceVersionMatch",
        "string",
        "How resourceVersion applies to a list: Exact or NotOlderThan.",
    ),
    query(
        "sendInitialEvents",
        "boolean",
        "Watch only: start the watch with synthetic ADDED events for the current objects.",
    ),
    query(
        "timeoutSeconds",
        "integer",
        "Ends the list or watch call after this many seconds.",
    ),
    query(
        "watch",
        "boolean",
        "Stream add, update and delete notifications instead of returning a list.",
    ),
];

/// Names the group and version take in operation ids (`CoreV1`, `AppsV1`,
/// `NetworkingV1`) and tags (`core_v1`).
fn operation_group(res: &Resource) -> (String, String) {
    let group = if res.group.is_empty() {
        "core"
    } else {
        res.group.split('.').next().unwrap_or(res.group)
    };
    let camel = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default()
    };
    (
        format!("{}{}", camel(group), camel(res.version)),
        format!("{group}_{}", res.version),
    )
}

struct Operation<'a> {
    verb: &'static str,
    action: &'static str,
    id: String,
    description: String,
    params: Vec<Param>,
    body: Option<Body>,
    responses: &'a [(&'static str, &'static str)],
    response: String,
    streaming: bool,
    gvk: Value,
}

enum Body {
    Object(String),
    Patch,
}

fn render_operation(op: Operation<'_>, spec: Spec, tag: &str) -> Value {
    let mut params: Vec<Value> = op.params.iter().map(|p| p.render(spec)).collect();
    let mut produces = vec!["application/json", "application/yaml"];
    if op.streaming {
        produces.push("application/json;stream=watch");
    }
    let mut rendered = json!({
        "description": op.description,
        "operationId": op.id,
        "tags": [tag],
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": op.gvk,
    });
    let mut responses = Map::new();
    for (code, description) in op.responses {
        let response = match spec {
            Spec::V2 => json!({"description": description, "schema": spec.reference(&op.response)}),
            Spec::V3 => {
                let content: Map<String, Value> = produces
                    .iter()
                    .map(|media| {
                        (
                            media.to_string(),
                            json!({"schema": spec.reference(&op.response)}),
                        )
                    })
                    .collect();
                json!({"description": description, "content": content})
            }
        };
        responses.insert(code.to_string(), response);
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    rendered["responses"] = Value::Object(responses);

    let consumes: Vec<&str> = match &op.body {
        Some(Body::Patch) => PATCH_CONTENT_TYPES.to_vec(),
        _ => vec!["*/*"],
    };
    match spec {
        Spec::V2 => {
            if let Some(body) = &op.body {
                let definition = match body {
                    Body::Object(definition) => definition.as_str(),
                    Body::Patch => schema::PATCH,
                };
                params.insert(
                    0,
                    json!({
                        "name": "body",
                        "in": "body",
                        "required": !matches!(op.verb, "delete"),
                        "schema": spec.reference(definition),
                    }),
                );
            }
            rendered["consumes"] = json!(consumes);
            rendered["produces"] = json!(produces);
            rendered["schemes"] = json!(["https"]);
        }
        Spec::V3 => {
            if let Some(body) = &op.body {
                let definition = match body {
                    Body::Object(definition) => definition.as_str(),
                    Body::Patch => schema::PATCH,
                };
                let content: Map<String, Value> = consumes
                    .iter()
                    .map(|media| {
                        (
                            media.to_string(),
                            json!({"schema": spec.reference(definition)}),
                        )
                    })
                    .collect();
                let mut request = json!({ "content": content });
                if op.verb != "delete" {
                    request["required"] = Value::Bool(true);
                }
                rendered["requestBody"] = request;
            }
        }
    }
    if !params.is_empty() {
        rendered["parameters"] = Value::Array(params);
    }
    rendered
}

fn path_item(
    paths: &mut Map<String, Value>,
    path: String,
    path_params: &[Param],
    operations: Vec<Operation<'_>>,
    spec: Spec,
    tag: &str,
) {
    let mut item = Map::new();
    for op in operations {
        let verb = op.verb;
        item.insert(verb.to_string(), render_operation(op, spec, tag));
    }
    item.insert(
        "parameters".into(),
        Value::Array(path_params.iter().map(|p| p.render(spec)).collect()),
    );
    paths.insert(path, Value::Object(item));
}

const OK: &[(&str, &str)] = &[("200", "OK")];
const OK_CREATED: &[(&str, &str)] = &[("200", "OK"), ("201", "Created")];
const OK_CREATED_ACCEPTED: &[(&str, &str)] =
    &[("200", "OK"), ("201", "Created"), ("202", "Accepted")];
const OK_ACCEPTED: &[(&str, &str)] = &[("200", "OK"), ("202", "Accepted")];

fn add_resource_paths(paths: &mut Map<String, Value>, res: &Resource, spec: Spec) {
    let (id_group, tag) = operation_group(res);
    let prefix = format!("/{}", group_version_path(res.group, res.version));
    let kind = res.kind;
    let definition = res.definition_name();
    let list_definition = schema::list_definition_name(res);
    let gvk = json!({"group": res.group, "kind": kind, "version": res.version});
    let scope = if res.namespaced { "Namespaced" } else { "" };
    let (collection, watch_collection) = if res.namespaced {
        (
            format!("{prefix}/namespaces/{{namespace}}/{}", res.plural),
            format!("{prefix}/watch/namespaces/{{namespace}}/{}", res.plural),
        )
    } else {
        (
            format!("{prefix}/{}", res.plural),
            format!("{prefix}/watch/{}", res.plural),
        )
    };
    let collection_params: Vec<Param> = if res.namespaced {
        vec![NAMESPACE, PRETTY]
    } else {
        vec![PRETTY]
    };
    let item_params: Vec<Param> = if res.namespaced {
        vec![NAME, NAMESPACE, PRETTY]
    } else {
        vec![NAME, PRETTY]
    };
    let write_params = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
    let patch_params = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];
    let delete_params = vec![
        DRY_RUN,
        GRACE_PERIOD_SECONDS,
        ORPHAN_DEPENDENTS,
        PROPAGATION_POLICY,
    ];
    let op = |verb: &'static str,
              action: &'static str,
              id: String,
              description: String,
              params: Vec<Param>,
              body: Option<Body>,
              responses: &'static [(&'static str, &'static str)],
              response: &str| Operation {
        verb,
        action,
        id,
        description,
        params,
        body,
        responses,
        response: response.to_string(),
        streaming: action == "list" || action.starts_with("watch"),
        gvk: gvk.clone(),
    };

    let mut deletecollection_params = delete_params.clone();
    deletecollection_params.extend(
        LIST_PARAMS
            .iter()
            .filter(|p| !matches!(p.name, "watch" | "allowWatchBookmarks")),
    );
    path_item(
        paths,
        collection.clone(),
        &collection_params,
        vec![
            op(
                "get",
                "list",
                format!("list{id_group}{scope}{kind}"),
                format!("list or watch objects of kind {kind}"),
                LIST_PARAMS.to_vec(),
                None,
                OK,
                &list_definition,
            ),
            op(
                "post",
                "post",
                format!("create{id_group}{scope}{kind}"),
                format!("create a {kind}"),
                write_params.clone(),
                Some(Body::Object(definition.clone())),
                OK_CREATED_ACCEPTED,
                &definition,
            ),
            op(
                "delete",
                "deletecollection",
                format!("delete{id_group}Collection{scope}{kind}"),
                format!("delete a collection of {kind}"),
                deletecollection_params,
                Some(Body::Object(schema::DELETE_OPTIONS.to_string())),
                OK,
                schema::STATUS,
            ),
        ],
        spec,
        &tag,
    );

    let item = format!("{collection}/{{name}}");
    path_item(
        paths,
        item.clone(),
        &item_params,
        vec![
            op(
                "get",
                "get",
                format!("read{id_group}{scope}{kind}"),
                format!("read the specified {kind}"),
                Vec::new(),
                None,
                OK,
                &definition,
            ),
            op(
                "put",
                "put",
                format!("replace{id_group}{scope}{kind}"),
                format!("replace the specified {kind}"),
                write_params.clone(),
                Some(Body::Object(definition.clone())),
                OK_CREATED,
                &definition,
            ),
            op(
                "patch",
                "patch",
                format!("patch{id_group}{scope}{kind}"),
                format!("partially update the specified {kind}"),
                patch_params.clone(),
                Some(Body::Patch),
                OK_CREATED,
                &definition,
            ),
            op(
                "delete",
                "delete",
                format!("delete{id_group}{scope}{kind}"),
                format!("delete a {kind}"),
                delete_params,
                Some(Body::Object(schema::DELETE_OPTIONS.to_string())),
                OK_ACCEPTED,
                schema::STATUS,
            ),
        ],
        spec,
        &tag,
    );

    for (subresource, suffix, sub_definition, sub_gvk) in [
        (res.status, "Status", definition.clone(), gvk.clone()),
        (
            res.scale,
            "Scale",
            schema::SCALE.to_string(),
            json!({"group": "autoscaling", "kind": "Scale", "version": "v1"}),
        ),
    ] {
        if !subresource {
            continue;
        }
        let lower = suffix.to_lowercase();
        let mut operations = vec![
            op(
                "get",
                "get",
                format!("read{id_group}{scope}{kind}{suffix}"),
                format!("read {lower} of the specified {kind}"),
                Vec::new(),
                None,
                OK,
                &sub_definition,
            ),
            op(
                "put",
                "put",
                format!("replace{id_group}{scope}{kind}{suffix}"),
                format!("replace {lower} of the specified {kind}"),
                write_params.clone(),
                Some(Body::Object(sub_definition.clone())),
                OK_CREATED,
                &sub_definition,
            ),
            op(
                "patch",
                "patch",
                format!("patch{id_group}{scope}{kind}{suffix}"),
                format!("partially update {lower} of the specified {kind}"),
                patch_params.clone(),
                Some(Body::Patch),
                OK_CREATED,
                &sub_definition,
            ),
        ];
        for operation in &mut operations {
            operation.gvk = sub_gvk.clone();
        }
        path_item(
            paths,
            format!("{item}/{lower}"),
            &item_params,
            operations,
            spec,
            &tag,
        );
    }

    let mut watch_params = LIST_PARAMS.to_vec();
    watch_params.extend(collection_params.iter().copied());
    path_item(
        paths,
        watch_collection.clone(),
        &watch_params,
        vec![op(
            "get",
            "watchlist",
            format!("watch{id_group}{scope}{kind}List"),
            format!("watch changes to a list of {kind}; use the watch parameter of list instead"),
            Vec::new(),
            None,
            OK,
            schema::WATCH_EVENT,
        )],
        spec,
        &tag,
    );
    let mut watch_item_params = LIST_PARAMS.to_vec();
    watch_item_params.extend(item_params.iter().copied());
    path_item(
        paths,
        format!("{watch_collection}/{{name}}"),
        &watch_item_params,
        vec![op(
            "get",
            "watch",
            format!("watch{id_group}{scope}{kind}"),
            format!(
                "watch changes to an object of kind {kind}; use the watch parameter of list with a field selector instead"
            ),
            Vec::new(),
            None,
            OK,
            schema::WATCH_EVENT,
        )],
        spec,
        &tag,
    );

    if res.namespaced {
        let mut all_params = LIST_PARAMS.to_vec();
        all_params.push(PRETTY);
        path_item(
            paths,
            format!("{prefix}/{}", res.plural),
            &all_params,
            vec![op(
                "get",
                "list",
                format!("list{id_group}{kind}ForAllNamespaces"),
                format!("list or watch objects of kind {kind} in all namespaces"),
                Vec::new(),
                None,
                OK,
                &list_definition,
            )],
            spec,
            &tag,
        );
        path_item(
            paths,
            format!("{prefix}/watch/{}", res.plural),
            &all_params,
            vec![op(
                "get",
                "watchlist",
                format!("watch{id_group}{kind}ListForAllNamespaces"),
                format!("watch changes to a list of {kind} in all namespaces; use the watch parameter of list instead"),
                Vec::new(),
                None,
                OK,
                schema::WATCH_EVENT,
            )],
            spec,
            &tag,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::RESOURCES;

    fn resolve_all(document: &Value, prefix: &str, names: &Map<String, Value>) {
        let mut refs = Vec::new();
        collect_refs(document, prefix, &mut refs);
        assert!(!refs.is_empty());
        for name in refs {
            assert!(names.contains_key(&name), "unresolved reference {name}");
        }
        let text = document.to_string();
        for raw in text.split("\"$ref\":\"").skip(1) {
            assert!(raw.starts_with(prefix), "foreign reference {raw:.60}");
        }
    }

    #[test]
    fn v2_is_swagger_with_every_reference_resolvable() {
        let doc: Value = serde_json::from_str(v2_json()).unwrap();
        assert_eq!(doc["swagger"], "2.0");
        resolve_all(&doc, REF_PREFIX, doc["definitions"].as_object().unwrap());
        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert_eq!(patch["operationId"], "patchCoreV1NamespacedPod");
        assert_eq!(
            patch["consumes"],
            json!(PATCH_CONTENT_TYPES),
            "kubectl reads the patch types a kind accepts from consumes"
        );
    }

    #[test]
    fn every_v3_document_is_valid_json_with_every_reference_resolvable() {
        for (group, version) in GROUP_VERSIONS {
            let path = group_version_path(group, version);
            let doc: Value = serde_json::from_str(v3_json(&path).unwrap()).unwrap();
            assert_eq!(doc["openapi"], "3.0.0");
            let schemas = doc["components"]["schemas"].as_object().unwrap();
            resolve_all(&doc, V3_REF_PREFIX, schemas);
            for (name, schema) in schemas {
                // OpenAPI 3.0 ignores siblings of $ref: they must be in allOf form.
                assert_no_ref_siblings(name, schema);
            }
        }
    }

    fn assert_no_ref_siblings(name: &str, value: &Value) {
        match value {
            Value::Object(object) => {
                if object.contains_key("$ref") {
                    assert_eq!(object.len(), 1, "{name}: $ref with siblings {value}");
                }
                object
                    .values()
                    .for_each(|v| assert_no_ref_siblings(name, v));
            }
            Value::Array(items) => items.iter().for_each(|v| assert_no_ref_siblings(name, v)),
            _ => {}
        }
    }

    #[test]
    fn index_points_at_each_document_with_its_hash() {
        let index = v3_index();
        let entry = &index["paths"]["apis/apps/v1"]["serverRelativeURL"];
        let hash = v3_hash("apis/apps/v1").unwrap();
        assert_eq!(hash.len(), 128);
        assert_eq!(*entry, format!("/openapi/v3/apis/apps/v1?hash={hash}"));
        assert!(index["paths"]["api/v1"].is_object());
        assert!(v3("apis/batch/v1").is_none());
    }

    /// What kubectl's query parameter verifier checks before it sends
    /// `fieldValidation=Strict`: a PATCH operation carrying the kind's GVK
    /// lists the parameter; and what `kubectl apply` checks before it uses
    /// the schemas' patch metadata.
    #[test]
    fn every_kind_supports_field_validation_and_strategic_merge() {
        for res in RESOURCES {
            let doc = v3(&group_version_path(res.group, res.version)).unwrap();
            let gvk = json!({"group": res.group, "kind": res.kind, "version": res.version});
            let patch = doc["paths"]
                .as_object()
                .unwrap()
                .values()
                .filter_map(|item| item.get("patch"))
                .find(|op| op["x-kubernetes-group-version-kind"] == gvk)
                .unwrap_or_else(|| panic!("no PATCH operation for {}", res.kind));
            let params: Vec<&str> = patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert!(params.contains(&"fieldValidation"), "{}", res.kind);
            assert!(
                patch["requestBody"]["content"]["application/strategic-merge-patch+json"]
                    .is_object()
            );
            let kind_schema = doc["components"]["schemas"]
                .as_object()
                .unwrap()
                .values()
                .find(|s| {
                    s["x-kubernetes-group-version-kind"]
                        .as_array()
                        .is_some_and(|gvks| gvks.contains(&gvk))
                });
            assert!(kind_schema.is_some(), "no schema for {}", res.kind);
        }
    }

    #[test]
    fn v3_schemas_keep_patch_metadata_and_wrap_described_refs() {
        let doc = v3("api/v1").unwrap();
        let schemas = &doc["components"]["schemas"];
        let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(
            containers["items"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.Container"
        );
        let spec = &schemas["io.k8s.api.core.v1.Pod"]["properties"]["spec"];
        assert_eq!(
            spec["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodSpec"
        );
        assert!(spec["description"].is_string());
        assert_eq!(schemas[schema::INT_OR_STRING]["format"], "int-or-string");
        let apps = v3("apis/apps/v1").unwrap();
        assert!(
            apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
                ["x-kubernetes-group-version-kind"]["kind"]
                == "Scale"
        );
        assert!(apps["components"]["schemas"][schema::SCALE].is_object());
        assert!(apps["components"]["schemas"]["io.k8s.api.core.v1.Pod"].is_null());
    }

    #[test]
    fn cluster_scoped_paths_have_no_namespace() {
        let doc = v3("api/v1").unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(
            paths["/api/v1/nodes/{name}"]["get"]["operationId"],
            "readCoreV1Node"
        );
        assert!(paths.contains_key("/api/v1/namespaces/{name}/status"));
        assert!(paths.contains_key("/api/v1/pods"));
        assert!(!paths.contains_key("/api/v1/namespaces/{namespace}/nodes"));
        let list = &paths["/api/v1/namespaces/{namespace}/services"]["get"];
        assert_eq!(list["x-kubernetes-action"], "list");
        assert_eq!(list["operationId"], "listCoreV1NamespacedService");
    }
}

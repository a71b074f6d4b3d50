//! The JSON schemas of every served kind and of everything they reference,
//! named as Kubernetes names its OpenAPI definitions
//! (`io.k8s.api.core.v1.Pod`), with the vendor extensions clients read:
//! `x-kubernetes-group-version-kind` on kinds, and the strategic merge and
//! server-side apply metadata (`x-kubernetes-patch-merge-key`,
//! `x-kubernetes-patch-strategy`, `x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`) on fields.
//!
//! The schema bodies come from k8s-openapi's `schemars` implementations; the
//! extensions k8s-openapi does not carry are written in from the table below,
//! which follows the `patchStrategy`/`patchMergeKey` struct tags and the
//! `+listType`/`+listMapKey`/`+structType` markers of Kubernetes' types.
//!
//! Definitions are stored in OpenAPI v2 form: references are
//! `#/definitions/<name>` and may carry sibling keys (`description`).

use std::sync::OnceLock;

use k8s_openapi::api::{
    apps::v1 as apps, autoscaling::v1 as autoscaling, coordination::v1 as coordination,
    core::v1 as core, discovery::v1 as discovery, networking::v1 as networking,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::{generate::SchemaSettings, JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::resources::{Resource, GROUP_VERSIONS, RESOURCES};

/// How references between definitions are spelled in [`definitions`].
pub const REF_PREFIX: &str = "#/definitions/";

/// Definitions the API paths use besides the served kinds and their lists.
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
pub const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

/// Every definition, keyed by its Kubernetes name. Built once.
pub fn definitions() -> &'static Map<String, Value> {
    static DEFINITIONS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFINITIONS.get_or_init(build_definitions)
}

/// The definition name of a resource's list kind (`io.k8s.api.core.v1.PodList`).
pub fn list_definition_name(res: &Resource) -> String {
    format!("{}List", res.definition_name())
}

/// The definition a `$ref` points at, if it points into the definitions.
pub fn ref_target(reference: &str) -> Option<&str> {
    reference.strip_prefix(REF_PREFIX)
}

/// What a field holds, as far as merging is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldShape {
    /// A string, number, boolean, or a value merged as a whole
    /// (IntOrString, Quantity, Time, RawExtension).
    Scalar,
    /// An object with named fields.
    Object,
    /// An array.
    List,
    /// An object with arbitrary keys (`labels`, `data`).
    Map,
}

/// The `x-kubernetes-list-type` of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole.
    Atomic,
    /// Scalars, each owned and merged by value.
    Set,
    /// Objects keyed by `x-kubernetes-list-map-keys`.
    Map,
}

/// The `x-kubernetes-patch-strategy` of a field (comma-separated in the document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PatchStrategy {
    pub merge: bool,
    pub retain_keys: bool,
    pub replace: bool,
}

impl PatchStrategy {
    fn parse(text: &str) -> PatchStrategy {
        let mut strategy = PatchStrategy::default();
        for part in text.split(',') {
            match part.trim() {
                "merge" => strategy.merge = true,
                "retainKeys" => strategy.retain_keys = true,
                "replace" => strategy.replace = true,
                _ => {}
            }
        }
        strategy
    }
}

/// One field of one definition, as the patcher needs to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSchema {
    pub shape: FieldShape,
    /// The named definition of the value (objects), of each item (lists) or
    /// of each value (maps); None for inline scalar types.
    pub definition: Option<&'static str>,
    /// Whether the items (lists) or values (maps) are objects with fields.
    pub items_are_objects: bool,
    pub strategy: PatchStrategy,
    pub merge_key: Option<&'static str>,
    pub list_type: Option<ListType>,
    pub list_map_keys: Vec<&'static str>,
    /// The value's definition is merged as a whole (`x-kubernetes-map-type: atomic`).
    pub atomic: bool,
}

/// The schema of `field` in `definition`, or None when the definition has no such field.
pub fn field_schema(definition: &str, field: &str) -> Option<FieldSchema> {
    let defs = definitions();
    let property = defs.get(definition)?.get("properties")?.get(field)?;
    Some(describe(defs, property))
}

/// Whether a definition is merged as a whole by server-side apply.
pub fn is_atomic(definition: &str) -> bool {
    definitions()
        .get(definition)
        .and_then(|d| d.get("x-kubernetes-map-type"))
        .and_then(Value::as_str)
        == Some("atomic")
}

fn describe(defs: &'static Map<String, Value>, property: &'static Value) -> FieldSchema {
    let strategy = property
        .get("x-kubernetes-patch-strategy")
        .and_then(Value::as_str)
        .map(PatchStrategy::parse)
        .unwrap_or_default();
    let merge_key = property
        .get("x-kubernetes-patch-merge-key")
        .and_then(Value::as_str);
    let list_type = match property
        .get("x-kubernetes-list-type")
        .and_then(Value::as_str)
    {
        Some("atomic") => Some(ListType::Atomic),
        Some("set") => Some(ListType::Set),
        Some("map") => Some(ListType::Map),
        _ => None,
    };
    let list_map_keys = property
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();

    let (shape, definition, items_are_objects) = if let Some(items) = property.get("items") {
        let (item_shape, item_definition) = value_shape(defs, items);
        (
            FieldShape::List,
            item_definition,
            item_shape == FieldShape::Object,
        )
    } else {
        match value_shape(defs, property) {
            (FieldShape::Map, _) => {
                let values = property.get("additionalProperties");
                let (value_shape, value_definition) = values
                    .filter(|v| v.is_object())
                    .map(|v| value_shape(defs, v))
                    .unwrap_or((FieldShape::Scalar, None));
                (
                    FieldShape::Map,
                    value_definition,
                    value_shape == FieldShape::Object,
                )
            }
            (shape, definition) => (shape, definition, false),
        }
    };
    let atomic = definition.is_some_and(|d| {
        defs.get(d)
            .and_then(|s| s.get("x-kubernetes-map-type"))
            .and_then(Value::as_str)
            == Some("atomic")
    });
    FieldSchema {
        shape,
        definition,
        items_are_objects,
        strategy,
        merge_key,
        list_type,
        list_map_keys,
        atomic,
    }
}

/// The shape of a schema, following one `$ref`, and the definition it names.
fn value_shape(
    defs: &'static Map<String, Value>,
    schema: &'static Value,
) -> (FieldShape, Option<&'static str>) {
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(ref_target)
    {
        let Some((key, target)) = defs.get_key_value(name) else {
            return (FieldShape::Scalar, None);
        };
        return (inline_shape(target), Some(key.as_str()));
    }
    (inline_shape(schema), None)
}

fn inline_shape(schema: &Value) -> FieldShape {
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => FieldShape::List,
        Some("object") if schema.get("properties").is_some() => FieldShape::Object,
        Some("object")
            if schema
                .get("additionalProperties")
                .is_some_and(Value::is_object) =>
        {
            FieldShape::Map
        }
        _ => FieldShape::Scalar,
    }
}

/// Strategic merge and apply metadata of one list or struct field.
struct FieldMeta {
    definition: &'static str,
    field: &'static str,
    strategy: Option<&'static str>,
    merge_key: Option<&'static str>,
    list_type: Option<&'static str>,
    list_map_keys: &'static [&'static str],
}

const fn keyed(
    definition: &'static str,
    field: &'static str,
    strategy: &'static str,
    merge_key: &'static str,
    list_map_keys: &'static [&'static str],
) -> FieldMeta {
    FieldMeta {
        definition,
        field,
        strategy: Some(strategy),
        merge_key: Some(merge_key),
        list_type: Some("map"),
        list_map_keys,
    }
}

const fn atomic_list(definition: &'static str, field: &'static str) -> FieldMeta {
    FieldMeta {
        definition,
        field,
        strategy: None,
        merge_key: None,
        list_type: Some("atomic"),
        list_map_keys: &[],
    }
}

const fn conditions(definition: &'static str) -> FieldMeta {
    keyed(definition, "conditions", "merge", "type", &["type"])
}

/// The served kinds' list and struct fields whose merge differs from the
/// default (lists replaced as a whole, objects merged field by field).
static FIELD_META: &[FieldMeta] = &[
    // ObjectMeta
    FieldMeta {
        definition: OBJECT_META,
        field: "finalizers",
        strategy: Some("merge"),
        merge_key: None,
        list_type: Some("set"),
        list_map_keys: &[],
    },
    keyed(OBJECT_META, "ownerReferences", "merge", "uid", &["uid"]),
    atomic_list(OBJECT_META, "managedFields"),
    // Pods
    keyed(
        "io.k8s.api.core.v1.PodSpec",
        "volumes",
        "merge,retainKeys",
        "name",
        &["name"],
    ),
    keyed(
        "io.k8s.api.core.v1.PodSpec",
        "initContainers",
        "merge",
        "name",
        &["name"],
    ),
    keyed(
        "io.k8s.api.core.v1.PodSpec",
        "containers",
        "merge",
        "name",
        &["name"],
    ),
    keyed(
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        "merge",
        "name",
        &["name"],
    ),
    keyed(
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        "merge",
        "name",
        &["name"],
    ),
    keyed(
        "io.k8s.api.core.v1.PodSpec",
        "hostAliases",
        "merge",
        "ip",
        &["ip"],
    ),
    keyed(
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        "merge",
        "topologyKey",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    keyed(
        "io.k8s.api.core.v1.PodSpec",
        "schedulingGates",
        "merge",
        "name",
        &["name"],
    ),
    keyed(
        "io.k8s.api.core.v1.PodSpec",
        "resourceClaims",
        "merge,retainKeys",
        "name",
        &["name"],
    ),
    atomic_list("io.k8s.api.core.v1.PodSpec", "tolerations"),
    atomic_list("io.k8s.api.core.v1.PodSpec", "readinessGates"),
    keyed(
        "io.k8s.api.core.v1.Container",
        "ports",
        "merge",
        "containerPort",
        &["containerPort", "protocol"],
    ),
    keyed(
        "io.k8s.api.core.v1.Container",
        "env",
        "merge",
        "name",
        &["name"],
    ),
    keyed(
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        "merge",
        "mountPath",
        &["mountPath"],
    ),
    keyed(
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        "merge",
        "devicePath",
        &["devicePath"],
    ),
    atomic_list("io.k8s.api.core.v1.Container", "command"),
    atomic_list("io.k8s.api.core.v1.Container", "args"),
    atomic_list("io.k8s.api.core.v1.Container", "envFrom"),
    keyed(
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        "merge",
        "containerPort",
        &["containerPort", "protocol"],
    ),
    keyed(
        "io.k8s.api.core.v1.EphemeralContainer",
        "env",
        "merge",
        "name",
        &["name"],
    ),
    keyed(
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeMounts",
        "merge",
        "mountPath",
        &["mountPath"],
    ),
    keyed(
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeDevices",
        "merge",
        "devicePath",
        &["devicePath"],
    ),
    conditions("io.k8s.api.core.v1.PodStatus"),
    keyed(
        "io.k8s.api.core.v1.PodStatus",
        "podIPs",
        "merge",
        "ip",
        &["ip"],
    ),
    FieldMeta {
        definition: "io.k8s.api.core.v1.PodStatus",
        field: "hostIPs",
        strategy: Some("merge"),
        merge_key: Some("ip"),
        list_type: Some("atomic"),
        list_map_keys: &[],
    },
    keyed(
        "io.k8s.api.core.v1.PodStatus",
        "resourceClaimStatuses",
        "merge,retainKeys",
        "name",
        &["name"],
    ),
    atomic_list("io.k8s.api.core.v1.PodStatus", "containerStatuses"),
    atomic_list("io.k8s.api.core.v1.PodStatus", "initContainerStatuses"),
    atomic_list("io.k8s.api.core.v1.PodStatus", "ephemeralContainerStatuses"),
    keyed(
        "io.k8s.api.core.v1.ContainerStatus",
        "volumeMounts",
        "merge",
        "mountPath",
        &["mountPath"],
    ),
    keyed(
        "io.k8s.api.core.v1.ContainerStatus",
        "allocatedResourcesStatus",
        "merge",
        "name",
        &["name"],
    ),
    // Services
    keyed(
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        "merge",
        "port",
        &["port", "protocol"],
    ),
    atomic_list("io.k8s.api.core.v1.ServiceSpec", "clusterIPs"),
    atomic_list("io.k8s.api.core.v1.ServiceSpec", "externalIPs"),
    atomic_list("io.k8s.api.core.v1.ServiceSpec", "ipFamilies"),
    atomic_list("io.k8s.api.core.v1.ServiceSpec", "loadBalancerSourceRanges"),
    conditions("io.k8s.api.core.v1.ServiceStatus"),
    // Nodes
    FieldMeta {
        definition: "io.k8s.api.core.v1.NodeSpec",
        field: "podCIDRs",
        strategy: Some("merge"),
        merge_key: None,
        list_type: Some("set"),
        list_map_keys: &[],
    },
    atomic_list("io.k8s.api.core.v1.NodeSpec", "taints"),
    conditions("io.k8s.api.core.v1.NodeStatus"),
    // Addresses are merged by type, but a dual-stack node has two of one
    // type, so apply treats the list as a whole.
    FieldMeta {
        definition: "io.k8s.api.core.v1.NodeStatus",
        field: "addresses",
        strategy: Some("merge"),
        merge_key: Some("type"),
        list_type: Some("atomic"),
        list_map_keys: &[],
    },
    // Namespaces, service accounts, claims
    conditions("io.k8s.api.core.v1.NamespaceStatus"),
    keyed(
        "io.k8s.api.core.v1.ServiceAccount",
        "secrets",
        "merge",
        "name",
        &["name"],
    ),
    atomic_list("io.k8s.api.core.v1.ServiceAccount", "imagePullSecrets"),
    conditions("io.k8s.api.core.v1.PersistentVolumeClaimStatus"),
    // Workloads
    FieldMeta {
        definition: "io.k8s.api.apps.v1.DeploymentSpec",
        field: "strategy",
        strategy: Some("retainKeys"),
        merge_key: None,
        list_type: None,
        list_map_keys: &[],
    },
    conditions("io.k8s.api.apps.v1.DeploymentStatus"),
    conditions("io.k8s.api.apps.v1.ReplicaSetStatus"),
    conditions("io.k8s.api.apps.v1.StatefulSetStatus"),
    conditions("io.k8s.api.apps.v1.DaemonSetStatus"),
    atomic_list("io.k8s.api.apps.v1.StatefulSetSpec", "volumeClaimTemplates"),
    // Endpoints
    atomic_list("io.k8s.api.core.v1.Endpoints", "subsets"),
    atomic_list("io.k8s.api.discovery.v1.EndpointSlice", "endpoints"),
    atomic_list("io.k8s.api.discovery.v1.EndpointSlice", "ports"),
    // Selectors
    atomic_list(
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
        "matchExpressions",
    ),
];

/// Structs merged as a whole by server-side apply (`+structType=atomic`).
static ATOMIC_DEFINITIONS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ResourceFieldSelector",
];

fn build_definitions() -> Map<String, Value> {
    let settings = SchemaSettings::draft07().with(|s| {
        s.definitions_path = "/definitions".into();
        s.meta_schema = None;
        // The documents are OpenAPI, not JSON Schema drafts: keep the schemas as
        // k8s-openapi writes them and adjust them below.
        s.transforms.clear();
    });
    let mut generator = settings.into_generator();
    for res in RESOURCES {
        add_kind(&mut generator, res);
    }
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::DeleteOptions>();
    generator.subschema_for::<meta::WatchEvent<core::Pod>>();
    generator.subschema_for::<meta::Patch>();
    generator.subschema_for::<meta::ListMeta>();
    generator.subschema_for::<autoscaling::Scale>();
    let mut defs = generator.take_definitions(false);

    // Scalars whose Kubernetes form differs from k8s-openapi's.
    replace_scalar(
        &mut defs,
        INT_OR_STRING,
        json!({"type": "string", "format": "int-or-string"}),
    );
    replace_scalar(&mut defs, QUANTITY, json!({"type": "string"}));

    for res in RESOURCES {
        let kind = res.definition_name();
        set_gvk(&mut defs, &kind, &[(res.group, res.version, res.kind)]);
        let list = list_definition_name(res);
        defs.insert(list.clone(), list_schema(res));
        set_gvk(
            &mut defs,
            &list,
            &[(res.group, res.version, &res.list_kind())],
        );
    }
    set_gvk(&mut defs, SCALE, &[("autoscaling", "v1", "Scale")]);
    set_gvk(&mut defs, STATUS, &[("", "v1", "Status")]);
    for shared in [DELETE_OPTIONS, WATCH_EVENT] {
        let kind = shared.rsplit('.').next().unwrap_or(shared);
        let gvks: Vec<(&str, &str, &str)> = GROUP_VERSIONS
            .iter()
            .map(|(group, version)| (*group, *version, kind))
            .collect();
        set_gvk(&mut defs, shared, &gvks);
    }

    for meta in FIELD_META {
        let Some(property) = defs
            .get_mut(meta.definition)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(meta.field))
            .and_then(Value::as_object_mut)
        else {
            // The tests check that every row names a real list field.
            continue;
        };
        if let Some(strategy) = meta.strategy {
            property.insert("x-kubernetes-patch-strategy".into(), strategy.into());
        }
        if let Some(key) = meta.merge_key {
            property.insert("x-kubernetes-patch-merge-key".into(), key.into());
        }
        if let Some(list_type) = meta.list_type {
            property.insert("x-kubernetes-list-type".into(), list_type.into());
        }
        if !meta.list_map_keys.is_empty() {
            property.insert(
                "x-kubernetes-list-map-keys".into(),
                meta.list_map_keys.iter().map(|k| Value::from(*k)).collect(),
            );
        }
    }
    for name in ATOMIC_DEFINITIONS {
        if let Some(schema) = defs.get_mut(*name).and_then(Value::as_object_mut) {
            schema.insert("x-kubernetes-map-type".into(), "atomic".into());
        }
    }
    defs.sort_keys();
    defs
}

fn add_kind(generator: &mut SchemaGenerator, res: &Resource) {
    fn add<T: JsonSchema>(generator: &mut SchemaGenerator) {
        generator.subschema_for::<T>();
    }
    match (res.group, res.kind) {
        ("", "Namespace") => add::<core::Namespace>(generator),
        ("", "Node") => add::<core::Node>(generator),
        ("", "Pod") => add::<core::Pod>(generator),
        ("", "Service") => add::<core::Service>(generator),
        ("", "Endpoints") => add::<core::Endpoints>(generator),
        ("", "Secret") => add::<core::Secret>(generator),
        ("", "ConfigMap") => add::<core::ConfigMap>(generator),
        ("", "ServiceAccount") => add::<core::ServiceAccount>(generator),
        ("", "Event") => add::<core::Event>(generator),
        ("discovery.k8s.io", "EndpointSlice") => add::<discovery::EndpointSlice>(generator),
        ("networking.k8s.io", "NetworkPolicy") => add::<networking::NetworkPolicy>(generator),
        ("networking.k8s.io", "Ingress") => add::<networking::Ingress>(generator),
        ("networking.k8s.io", "IngressClass") => add::<networking::IngressClass>(generator),
        ("apps", "Deployment") => add::<apps::Deployment>(generator),
        ("apps", "ReplicaSet") => add::<apps::ReplicaSet>(generator),
        ("apps", "StatefulSet") => add::<apps::StatefulSet>(generator),
        ("apps", "DaemonSet") => add::<apps::DaemonSet>(generator),
        ("coordination.k8s.io", "Lease") => add::<coordination::Lease>(generator),
        (group, kind) => {
            panic!("served kind {kind} of group {group:?} has no schema: add its k8s-openapi type")
        }
    }
}

fn replace_scalar(defs: &mut Map<String, Value>, name: &str, mut schema: Value) {
    let description = defs.get(name).and_then(|d| d.get("description")).cloned();
    if let (Some(description), Some(object)) = (description, schema.as_object_mut()) {
        object.insert("description".into(), description);
    }
    defs.insert(name.to_string(), schema);
}

fn set_gvk(defs: &mut Map<String, Value>, name: &str, gvks: &[(&str, &str, &str)]) {
    let list: Vec<Value> = gvks
        .iter()
        .map(|(group, version, kind)| json!({"group": group, "kind": kind, "version": version}))
        .collect();
    if let Some(schema) = defs.get_mut(name).and_then(Value::as_object_mut) {
        schema.insert("x-kubernetes-group-version-kind".into(), Value::Array(list));
    }
}

fn list_schema(res: &Resource) -> Value {
    json!({
        "description": format!("{} is a list of {} objects.", res.list_kind(), res.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {
                "description": "The versioned schema of this representation of an object.",
                "type": "string",
            },
            "items": {
                "description": format!("The {} objects.", res.kind),
                "type": "array",
                "items": {"$ref": format!("{REF_PREFIX}{}", res.definition_name())},
            },
            "kind": {
                "description": "The REST resource this object represents.",
                "type": "string",
            },
            "metadata": {
                "$ref": format!("{REF_PREFIX}{LIST_META}"),
                "description": "Standard list metadata.",
            },
        },
    })
}

/// The fields of `value` its definition does not declare, as Kubernetes'
/// strict decoding names them (`spec.template.spec.containers[0].imagePolicy`):
/// what `fieldValidation=Strict` rejects and `Warn` warns about. Values
/// of opaque types (RawExtension, FieldsV1) are not looked into.
pub fn unknown_fields(definition: &str, value: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    if let Some((name, _)) = definitions().get_key_value(definition) {
        walk_unknown(name, value, "", &mut unknown);
    }
    unknown
}

fn walk_unknown(definition: &str, value: &Value, path: &str, unknown: &mut Vec<String>) {
    let Value::Object(object) = value else {
        return;
    };
    let defs = definitions();
    let Some(properties) = defs
        .get(definition)
        .and_then(|d| d.get("properties"))
        .and_then(Value::as_object)
    else {
        return;
    };
    // Paths are only built for unknown fields and for nested objects: most
    // fields of an object are known scalars.
    let join = |field: &str| {
        if path.is_empty() {
            field.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    for (field, field_value) in object {
        let Some(property) = properties.get(field) else {
            unknown.push(join(field));
            continue;
        };
        if !(field_value.is_object() || field_value.is_array()) {
            continue;
        }
        let meta = describe(defs, property);
        let Some(child) = meta.definition else {
            continue;
        };
        let field_path = join(field);
        match (meta.shape, field_value) {
            (FieldShape::Object, _) => walk_unknown(child, field_value, &field_path, unknown),
            (FieldShape::List, Value::Array(items)) if meta.items_are_objects => {
                for (index, item) in items.iter().enumerate() {
                    walk_unknown(child, item, &format!("{field_path}[{index}]"), unknown);
                }
            }
            (FieldShape::Map, Value::Object(values)) if meta.items_are_objects => {
                for (key, item) in values {
                    walk_unknown(child, item, &format!("{field_path}[{key}]"), unknown);
                }
            }
            _ => {}
        }
    }
}

/// Every definition name `schema` references, directly or nested.
pub fn references(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(object) => {
            for (key, value) in object {
                if key == "$ref" {
                    if let Some(name) = value.as_str().and_then(ref_target) {
                        out.push(name.to_string());
                    }
                } else {
                    references(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_kind_and_list_is_defined_with_its_gvk() {
        let defs = definitions();
        for res in RESOURCES {
            let kind = &defs[&res.definition_name()];
            assert_eq!(
                kind["x-kubernetes-group-version-kind"],
                json!([{"group": res.group, "kind": res.kind, "version": res.version}]),
                "{}",
                res.kind
            );
            assert!(kind["properties"]["metadata"].is_object(), "{}", res.kind);
            let list = &defs[&list_definition_name(res)];
            assert_eq!(
                list["x-kubernetes-group-version-kind"][0]["kind"],
                res.list_kind()
            );
        }
        assert!(defs.contains_key(OBJECT_META));
        assert!(defs.contains_key("io.k8s.api.core.v1.Container"));
        assert!(defs.contains_key(SCALE));
    }

    #[test]
    fn every_reference_resolves() {
        let defs = definitions();
        for (name, schema) in defs {
            let mut refs = Vec::new();
            references(schema, &mut refs);
            for target in refs {
                assert!(
                    defs.contains_key(&target),
                    "{name} references missing {target}"
                );
            }
        }
    }

    #[test]
    fn the_metadata_table_names_real_fields() {
        let defs = definitions();
        for meta in FIELD_META {
            // Every listed type is reachable from a served kind.
            let property = &defs[meta.definition]["properties"][meta.field];
            assert!(
                property.is_object(),
                "{}.{} is not a field",
                meta.definition,
                meta.field
            );
            if meta.merge_key.is_some() || meta.list_type.is_some() {
                assert_eq!(
                    property["type"], "array",
                    "{}.{} is not a list",
                    meta.definition, meta.field
                );
            }
        }
        for name in ATOMIC_DEFINITIONS {
            assert!(defs.contains_key(*name), "{name}");
        }
    }

    #[test]
    fn containers_merge_by_name_and_ports_by_container_port() {
        let containers = field_schema("io.k8s.api.core.v1.PodSpec", "containers").unwrap();
        assert_eq!(containers.shape, FieldShape::List);
        assert_eq!(containers.definition, Some("io.k8s.api.core.v1.Container"));
        assert!(containers.items_are_objects);
        assert!(containers.strategy.merge);
        assert_eq!(containers.merge_key, Some("name"));
        assert_eq!(containers.list_type, Some(ListType::Map));

        let ports = field_schema("io.k8s.api.core.v1.Container", "ports").unwrap();
        assert_eq!(ports.merge_key, Some("containerPort"));
        assert_eq!(ports.list_map_keys, vec!["containerPort", "protocol"]);

        let volumes = field_schema("io.k8s.api.core.v1.PodSpec", "volumes").unwrap();
        assert!(volumes.strategy.merge && volumes.strategy.retain_keys);

        let finalizers = field_schema(OBJECT_META, "finalizers").unwrap();
        assert_eq!(finalizers.shape, FieldShape::List);
        assert!(!finalizers.items_are_objects);
        assert!(finalizers.strategy.merge);
        assert_eq!(finalizers.list_type, Some(ListType::Set));

        let tolerations = field_schema("io.k8s.api.core.v1.PodSpec", "tolerations").unwrap();
        assert!(!tolerations.strategy.merge);
        assert_eq!(tolerations.list_type, Some(ListType::Atomic));
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "labels": {"anything": "goes"}, "colour": "red"},
            "spec": {
                "containers": [
                    {"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPorts": 1}]},
                    {"name": "b", "imagePolicy": "Always"},
                ],
                "nodeSelector": {"disk": "ssd"},
            },
            "status": {"phase": "Running"},
        });
        assert_eq!(
            unknown_fields("io.k8s.api.core.v1.Pod", &pod),
            [
                "metadata.colour",
                "spec.containers[0].ports[0].hostPorts",
                "spec.containers[1].imagePolicy",
            ]
        );
        let deployment = json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}});
        assert!(unknown_fields("io.k8s.api.apps.v1.Deployment", &deployment).is_empty());
    }

    #[test]
    fn objects_maps_and_scalars_are_told_apart() {
        let spec = field_schema("io.k8s.api.apps.v1.Deployment", "spec").unwrap();
        assert_eq!(spec.shape, FieldShape::Object);
        assert_eq!(spec.definition, Some("io.k8s.api.apps.v1.DeploymentSpec"));

        let labels = field_schema(OBJECT_META, "labels").unwrap();
        assert_eq!(labels.shape, FieldShape::Map);
        assert!(!labels.items_are_objects);

        let limits = field_schema("io.k8s.api.core.v1.ResourceRequirements", "limits").unwrap();
        assert_eq!(limits.shape, FieldShape::Map);
        assert_eq!(limits.definition, Some(QUANTITY));

        let target = field_schema("io.k8s.api.core.v1.ServicePort", "targetPort").unwrap();
        assert_eq!(target.shape, FieldShape::Scalar);
        assert_eq!(target.definition, Some(INT_OR_STRING));

        let strategy = field_schema("io.k8s.api.apps.v1.DeploymentSpec", "strategy").unwrap();
        assert!(strategy.strategy.retain_keys);

        let selector = field_schema("io.k8s.api.apps.v1.DeploymentSpec", "selector").unwrap();
        assert!(selector.atomic);

        assert!(field_schema("io.k8s.api.core.v1.PodSpec", "nonsense").is_none());
    }
}

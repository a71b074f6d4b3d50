//! Server-side printing: `meta.k8s.io/v1` Tables, the form `kubectl get`
//! asks for. Every served kind has the columns, cell strings and wide
//! columns of Kubernetes' own printers, so kubectl output reads the same as
//! against a real API server. Like Kubernetes, the server always produces
//! the wide columns (priority 1); kubectl shows them only for `-o wide`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetStatus, Deployment, DeploymentSpec, DeploymentStatus,
    ReplicaSet, ReplicaSetSpec, ReplicaSetStatus, StatefulSet,
};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerStatus, Endpoints, Event, Namespace, Node, NodeStatus,
    NodeSystemInfo, ObjectReference, Pod, PodSpec, PodStatus, Secret, Service, ServiceAccount,
    ServiceSpec,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass, NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector as TypedLabelSelector, ObjectMeta, Time,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::resources::Resource;
use crate::status::ApiError;
use crate::validation::label_selector;

/// What each row carries besides its cells (the `includeObject` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object: `"object": null`.
    None,
    /// The object's metadata as a `PartialObjectMetadata` (Kubernetes' default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Reads the `includeObject` query parameter; absent or empty is Metadata.
    pub fn from_query(value: Option<&str>) -> Result<Self, ApiError> {
        match value.unwrap_or("") {
            "" | "Metadata" => Ok(IncludeObject::Metadata),
            "None" => Ok(IncludeObject::None),
            "Object" => Ok(IncludeObject::Object),
            other => Err(ApiError::bad_request(format!(
                "Unable to convert to Table as requested: includeObject: Invalid value: {other:?}: must be 'Metadata', 'Object', 'None', or empty"
            ))),
        }
    }
}

/// The Table of `items` (objects of `res` in their JSON form), ages counted
/// up to `now`. `metadata` is left empty for the caller to fill
/// (resourceVersion, continue). Fails only if an item does not decode as its
/// kind.
pub fn to_table(
    res: &Resource,
    items: &[Value],
    include: IncludeObject,
    now: Timestamp,
) -> Result<Value, ApiError> {
    let printer = Printer::of(res);
    let columns: Vec<Value> = printer.columns().iter().map(Column::to_json).collect();
    let mut rows = Vec::with_capacity(items.len());
    for item in items {
        let row = printer.row(res, item, now)?;
        let mut row_json = json!({
            "cells": row.cells,
            "object": included_object(item, include),
        });
        if let Some(conditions) = row.conditions {
            row_json["conditions"] = conditions;
        }
        rows.push(row_json);
    }
    Ok(json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": columns,
        "rows": rows,
    }))
}

fn included_object(item: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => item.clone(),
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": item.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    }
}

/// One column definition of a Table.
struct Column {
    name: &'static str,
    type_: &'static str,
    format: &'static str,
    description: String,
    priority: i32,
}

impl Column {
    fn new(name: &'static str, type_: &'static str, description: impl Into<String>) -> Self {
        Column {
            name,
            type_,
            format: "",
            description: description.into(),
            priority: 0,
        }
    }

    fn string(name: &'static str, description: impl Into<String>) -> Self {
        Self::new(name, "string", description)
    }

    fn integer(name: &'static str, description: impl Into<String>) -> Self {
        Self::new(name, "integer", description)
    }

    /// The Name column every printer starts with.
    fn name() -> Self {
        let mut column = Self::string("Name", doc::<ObjectMeta>("name"));
        column.format = "name";
        column
    }

    fn age() -> Self {
        Self::string("Age", doc::<ObjectMeta>("creationTimestamp"))
    }

    /// Shown only with `-o wide`.
    fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The API documentation of one property of a Kubernetes type, which is
/// what Kubernetes uses as the description of the column showing it.
fn doc<T: schemars::JsonSchema>(property: &str) -> String {
    let schema = schemars::schema_for!(T);
    schema
        .get("properties")
        .and_then(|properties| properties.get(property))
        .and_then(|p| p.get("description"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{} documents no property {property}", T::schema_name()))
}

const CONTAINERS_DOC: &str = "Names of each container in the template.";
const IMAGES_DOC: &str = "Images referenced by each container in the template.";

/// One row of a Table before it gets its object.
struct Row {
    cells: Vec<Value>,
    conditions: Option<Value>,
}

impl Row {
    fn new(cells: Vec<Value>) -> Self {
        Row {
            cells,
            conditions: None,
        }
    }
}

/// The printer of each kind; kinds without one get Kubernetes' default
/// table (name and creation time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printer {
    Pod,
    Service,
    Endpoints,
    Node,
    Namespace,
    Secret,
    ConfigMap,
    ServiceAccount,
    Event,
    EndpointSlice,
    NetworkPolicy,
    Ingress,
    IngressClass,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Lease,
    Default,
}

const PRINTERS: usize = Printer::Default as usize + 1;

impl Printer {
    fn of(res: &Resource) -> Self {
        match (res.group, res.kind) {
            ("", "Pod") => Printer::Pod,
            ("", "Service") => Printer::Service,
            ("", "Endpoints") => Printer::Endpoints,
            ("", "Node") => Printer::Node,
            ("", "Namespace") => Printer::Namespace,
            ("", "Secret") => Printer::Secret,
            ("", "ConfigMap") => Printer::ConfigMap,
            ("", "ServiceAccount") => Printer::ServiceAccount,
            ("", "Event") => Printer::Event,
            ("discovery.k8s.io", "EndpointSlice") => Printer::EndpointSlice,
            ("networking.k8s.io", "NetworkPolicy") => Printer::NetworkPolicy,
            ("networking.k8s.io", "Ingress") => Printer::Ingress,
            ("networking.k8s.io", "IngressClass") => Printer::IngressClass,
            ("apps", "Deployment") => Printer::Deployment,
            ("apps", "ReplicaSet") => Printer::ReplicaSet,
            ("apps", "StatefulSet") => Printer::StatefulSet,
            ("apps", "DaemonSet") => Printer::DaemonSet,
            ("coordination.k8s.io", "Lease") => Printer::Lease,
            _ => Printer::Default,
        }
    }

    /// The column definitions, built once per kind (the descriptions come
    /// from the API schema).
    fn columns(self) -> &'static [Column] {
        static COLUMNS: [OnceLock<Vec<Column>>; PRINTERS] = [const { OnceLock::new() }; PRINTERS];
        COLUMNS[self as usize].get_or_init(|| self.build_columns())
    }

    fn build_columns(self) -> Vec<Column> {
        match self {
            Printer::Pod => vec![
                Column::name(),
                Column::string("Ready", "The aggregate readiness state of this pod for accepting traffic."),
                Column::string("Status", "The aggregate status of the containers in this pod."),
                Column::string("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                Column::age(),
                Column::string("IP", doc::<PodStatus>("podIP")).wide(),
                Column::string("Node", doc::<PodSpec>("nodeName")).wide(),
                Column::string("Nominated Node", doc::<PodStatus>("nominatedNodeName")).wide(),
                Column::string("Readiness Gates", doc::<PodSpec>("readinessGates")).wide(),
            ],
            Printer::Service => vec![
                Column::name(),
                Column::string("Type", doc::<ServiceSpec>("type")),
                Column::string("Cluster-IP", doc::<ServiceSpec>("clusterIP")),
                Column::string("External-IP", doc::<ServiceSpec>("externalIPs")),
                Column::string("Port(s)", doc::<ServiceSpec>("ports")),
                Column::age(),
                Column::string("Selector", doc::<ServiceSpec>("selector")).wide(),
            ],
            Printer::Endpoints => vec![
                Column::name(),
                Column::string("Endpoints", doc::<Endpoints>("subsets")),
                Column::age(),
            ],
            Printer::Node => vec![
                Column::name(),
                Column::string("Status", "The status of the node"),
                Column::string("Roles", "The roles of the node"),
                Column::age(),
                Column::string("Version", doc::<NodeSystemInfo>("kubeletVersion")),
                Column::string("Internal-IP", doc::<NodeStatus>("addresses")).wide(),
                Column::string("External-IP", doc::<NodeStatus>("addresses")).wide(),
                Column::string("OS-Image", doc::<NodeSystemInfo>("osImage")).wide(),
                Column::string("Kernel-Version", doc::<NodeSystemInfo>("kernelVersion")).wide(),
                Column::string("Container-Runtime", doc::<NodeSystemInfo>("containerRuntimeVersion")).wide(),
            ],
            Printer::Namespace => vec![
                Column::name(),
                Column::string("Status", "The status of the namespace"),
                Column::age(),
            ],
            Printer::Secret => vec![
                Column::name(),
                Column::string("Type", doc::<Secret>("type")),
                Column::string("Data", doc::<Secret>("data")),
                Column::age(),
            ],
            Printer::ConfigMap => vec![
                Column::name(),
                Column::string("Data", doc::<ConfigMap>("data")),
                Column::age(),
            ],
            Printer::ServiceAccount => vec![Column::name(), Column::age()],
            Printer::Event => {
                let mut name = Column::name();
                name.priority = 1;
                vec![
                    Column::string("Last Seen", doc::<Event>("lastTimestamp")),
                    Column::string("Type", doc::<Event>("type")),
                    Column::string("Reason", doc::<Event>("reason")),
                    Column::string("Object", doc::<Event>("involvedObject")),
                    Column::string("Subobject", doc::<ObjectReference>("fieldPath")).wide(),
                    Column::string("Source", doc::<Event>("source")).wide(),
                    Column::string("Message", doc::<Event>("message")),
                    Column::string("First Seen", doc::<Event>("firstTimestamp")).wide(),
                    Column::string("Count", doc::<Event>("count")).wide(),
                    name,
                ]
            }
            Printer::EndpointSlice => vec![
                Column::name(),
                Column::string("AddressType", doc::<EndpointSlice>("addressType")),
                Column::string("Ports", doc::<EndpointSlice>("ports")),
                Column::string("Endpoints", doc::<EndpointSlice>("endpoints")),
                Column::age(),
            ],
            Printer::NetworkPolicy => vec![
                Column::name(),
                Column::string("Pod-Selector", doc::<NetworkPolicySpec>("podSelector")),
                Column::age(),
            ],
            Printer::Ingress => vec![
                Column::name(),
                Column::string("Class", "The name of the IngressClass resource that should be used for additional configuration"),
                Column::string("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
                Column::string("Address", "Address is a list containing ingress points for the load-balancer"),
                Column::string("Ports", "Ports of TLS configurations that open"),
                Column::age(),
            ],
            Printer::IngressClass => vec![
                Column::name(),
                Column::string("Controller", "Controller that is responsible for handling this class"),
                Column::string("Parameters", "A reference to a resource with additional parameters"),
                Column::age(),
            ],
            Printer::Deployment => vec![
                Column::name(),
                Column::string("Ready", "Number of the pod with ready state"),
                Column::string("Up-to-date", doc::<DeploymentStatus>("updatedReplicas")),
                Column::string("Available", doc::<DeploymentStatus>("availableReplicas")),
                Column::age(),
                Column::string("Containers", CONTAINERS_DOC).wide(),
                Column::string("Images", IMAGES_DOC).wide(),
                Column::string("Selector", doc::<DeploymentSpec>("selector")).wide(),
            ],
            Printer::ReplicaSet => vec![
                Column::name(),
                Column::integer("Desired", doc::<ReplicaSetSpec>("replicas")),
                Column::integer("Current", doc::<ReplicaSetStatus>("replicas")),
                Column::integer("Ready", doc::<ReplicaSetStatus>("readyReplicas")),
                Column::age(),
                Column::string("Containers", CONTAINERS_DOC).wide(),
                Column::string("Images", IMAGES_DOC).wide(),
                Column::string("Selector", doc::<ReplicaSetSpec>("selector")).wide(),
            ],
            Printer::StatefulSet => vec![
                Column::name(),
                Column::string("Ready", "Number of the pod with ready state"),
                Column::age(),
                Column::string("Containers", CONTAINERS_DOC).wide(),
                Column::string("Images", IMAGES_DOC).wide(),
            ],
            Printer::DaemonSet => vec![
                Column::name(),
                Column::integer("Desired", doc::<DaemonSetStatus>("desiredNumberScheduled")),
                Column::integer("Current", doc::<DaemonSetStatus>("currentNumberScheduled")),
                Column::integer("Ready", doc::<DaemonSetStatus>("numberReady")),
                Column::integer("Up-to-date", doc::<DaemonSetStatus>("updatedNumberScheduled")),
                Column::integer("Available", doc::<DaemonSetStatus>("numberAvailable")),
                Column::string("Node Selector", doc::<PodSpec>("nodeSelector")),
                Column::age(),
                Column::string("Containers", CONTAINERS_DOC).wide(),
                Column::string("Images", IMAGES_DOC).wide(),
                Column::string("Selector", doc::<DaemonSetSpec>("selector")).wide(),
            ],
            Printer::Lease => vec![
                Column::name(),
                Column::string("Holder", doc::<LeaseSpec>("holderIdentity")),
                Column::age(),
            ],
            Printer::Default => vec![
                Column::name(),
                Column::new("Created At", "date", doc::<ObjectMeta>("creationTimestamp")),
            ],
        }
    }

    fn row(self, res: &Resource, item: &Value, now: Timestamp) -> Result<Row, ApiError> {
        Ok(match self {
            Printer::Pod => pod_row(&decode(res, item)?, now),
            Printer::Service => service_row(&decode(res, item)?, now),
            Printer::Endpoints => endpoints_row(&decode(res, item)?, now),
            Printer::Node => node_row(&decode(res, item)?, now),
            Printer::Namespace => namespace_row(&decode(res, item)?, now),
            Printer::Secret => secret_row(&decode(res, item)?, now),
            Printer::ConfigMap => config_map_row(&decode(res, item)?, now),
            Printer::ServiceAccount => {
                let account: ServiceAccount = decode(res, item)?;
                Row::new(vec![
                    name_cell(&account.metadata),
                    age_cell(&account.metadata, now),
                ])
            }
            Printer::Event => event_row(&decode(res, item)?, now),
            Printer::EndpointSlice => endpoint_slice_row(&decode(res, item)?, now),
            Printer::NetworkPolicy => network_policy_row(&decode(res, item)?, now),
            Printer::Ingress => ingress_row(&decode(res, item)?, now),
            Printer::IngressClass => ingress_class_row(&decode(res, item)?, now),
            Printer::Deployment => deployment_row(&decode(res, item)?, now),
            Printer::ReplicaSet => replica_set_row(&decode(res, item)?, now),
            Printer::StatefulSet => stateful_set_row(&decode(res, item)?, now),
            Printer::DaemonSet => daemon_set_row(&decode(res, item)?, now),
            Printer::Lease => lease_row(&decode(res, item)?, now),
            Printer::Default => default_row(&decode_metadata(res, item)?),
        })
    }
}

fn object_name(item: &Value) -> &str {
    item.get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn decode<T: DeserializeOwned>(res: &Resource, item: &Value) -> Result<T, ApiError> {
    T::deserialize(item).map_err(|e| {
        ApiError::internal(format!(
            "cannot print {} {:?}: it does not decode as {}: {e}",
            res.plural,
            object_name(item),
            res.kind
        ))
    })
}

fn decode_metadata(res: &Resource, item: &Value) -> Result<ObjectMeta, ApiError> {
    let metadata = item.get("metadata").cloned().unwrap_or_else(|| json!({}));
    decode(res, &metadata)
}

fn name_cell(meta: &ObjectMeta) -> Value {
    meta.name.clone().unwrap_or_default().into()
}

fn age_cell(meta: &ObjectMeta, now: Timestamp) -> Value {
    since(meta.creation_timestamp.as_ref().map(|t| t.0), now).into()
}

/// Kubernetes' default row: name and creation time in RFC 3339.
fn default_row(meta: &ObjectMeta) -> Row {
    let created = meta.creation_timestamp.as_ref().map_or_else(
        || "0001-01-01T00:00:00Z".to_string(),
        |t| t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    Row::new(vec![name_cell(meta), created.into()])
}

/// Kubernetes' HumanDuration: about two significant figures ("45s",
/// "3m2s", "15m", "5h3m", "20h", "2d3h", "40d", "3y4d"); slightly negative
/// durations (clock skew) read "0s".
pub fn human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return match days % 365 {
            0 => format!("{years}y"),
            dy => format!("{years}y{dy}d"),
        };
    }
    format!("{years}y")
}

/// The age of a timestamp; an unset one is "<unknown>".
fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        Some(t) => human_duration(now.duration_since(t)),
        None => "<unknown>".to_string(),
    }
}

fn or_none(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "<none>".to_string(),
    }
}

/// `k=v,...` sorted by key, or "<none>".
fn format_labels(labels: Option<&BTreeMap<String, String>>) -> String {
    let joined = labels
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    if joined.is_empty() {
        "<none>".to_string()
    } else {
        joined
    }
}

/// A typed selector as most printers show it: "<none>" when it selects
/// everything (or is unset), "<error>" when it is invalid.
fn format_label_selector(selector: Option<&TypedLabelSelector>) -> String {
    let Some(selector) = selector else {
        return "<none>".to_string();
    };
    match label_selector(selector) {
        Ok(s) if s.is_everything() => "<none>".to_string(),
        Ok(s) => s.to_string(),
        Err(_) => "<error>".to_string(),
    }
}

/// Container names and images, each comma-joined.
fn container_cells(containers: &[Container]) -> (Value, Value) {
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    let images: Vec<&str> = containers
        .iter()
        .map(|c| c.image.as_deref().unwrap_or(""))
        .collect();
    (names.join(",").into(), images.join(",").into())
}

/// Keeps the later of two restart times.
fn keep_latest(latest: &mut Option<Timestamp>, candidate: Option<Timestamp>) {
    match (*latest, candidate) {
        (Some(l), Some(c)) if l >= c => {}
        (_, Some(c)) => *latest = Some(c),
        (_, None) => {}
    }
}

fn last_termination(status: &ContainerStatus) -> Option<Timestamp> {
    status
        .last_state
        .as_ref()?
        .terminated
        .as_ref()?
        .finished_at
        .as_ref()
        .map(|t| t.0)
}

fn non_empty(s: Option<&String>) -> Option<&str> {
    s.map(String::as_str).filter(|s| !s.is_empty())
}

/// The pod IP Kubernetes shows: `status.podIP`, else the first of `status.podIPs`.
fn pod_ip(status: Option<&PodStatus>) -> Option<&str> {
    let status = status?;
    non_empty(status.pod_ip.as_ref()).or_else(|| {
        status
            .pod_ips
            .as_ref()?
            .first()
            .map(|ip| ip.ip.as_str())
            .filter(|ip| !ip.is_empty())
    })
}

fn pod_row(pod: &Pod, now: Timestamp) -> Row {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let containers = spec.map_or(&[][..], |s| s.containers.as_slice());
    let init_containers = spec
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[]);
    let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or(&[]);
    let init_statuses = status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or(&[]);
    let statuses = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("");
    let status_reason = status.and_then(|s| non_empty(s.reason.as_ref()));

    let mut reason = status_reason.unwrap_or(phase).to_string();
    if conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".to_string();
    }
    let condition_true = |type_: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == type_)
            .is_some_and(|c| c.status == "True")
    };
    let row_conditions = match phase {
        "Succeeded" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]),
        ),
        "Failed" => Some(
            json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]),
        ),
        _ => None,
    };

    // Sidecars (restartable init containers) count as containers of the pod.
    let is_sidecar = |name: &str| {
        init_containers
            .iter()
            .find(|c| c.name == name)
            .is_some_and(|c| c.restart_policy.as_deref() == Some("Always"))
    };
    let total = containers.len()
        + init_containers
            .iter()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"))
            .count();
    let mut ready = 0;
    let mut restarts: i64 = 0;
    let mut sidecar_restarts: i64 = 0;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;

    // The first init container still in the way decides the status.
    let mut initializing = false;
    for (i, init) in init_statuses.iter().enumerate() {
        restarts += i64::from(init.restart_count);
        keep_latest(&mut last_restart, last_termination(init));
        let sidecar = is_sidecar(&init.name);
        if sidecar {
            sidecar_restarts += i64::from(init.restart_count);
            keep_latest(&mut last_sidecar_restart, last_termination(init));
        }
        let state = init.state.as_ref();
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let waiting_reason = state
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| non_empty(w.reason.as_ref()));
        if terminated.is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if sidecar && init.started == Some(true) {
            if init.ready {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            match (non_empty(t.reason.as_ref()), t.signal.unwrap_or(0)) {
                (Some(r), _) => format!("Init:{r}"),
                (None, 0) => format!("Init:ExitCode:{}", t.exit_code),
                (None, signal) => format!("Init:Signal:{signal}"),
            }
        } else if let Some(w) = waiting_reason.filter(|w| *w != "PodInitializing") {
            format!("Init:{w}")
        } else {
            format!("Init:{i}/{}", init_containers.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true("Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        let mut error_reason: Option<String> = None;
        for container in statuses.iter().rev() {
            restarts += i64::from(container.restart_count);
            keep_latest(&mut last_restart, last_termination(container));
            let state = container.state.as_ref();
            let waiting_reason = state
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| non_empty(w.reason.as_ref()));
            if let Some(w) = waiting_reason {
                reason = w.to_string();
            } else if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
                reason = match (non_empty(t.reason.as_ref()), t.signal.unwrap_or(0)) {
                    (Some(r), _) => r.to_string(),
                    (None, 0) => format!("ExitCode:{}", t.exit_code),
                    (None, signal) => format!("Signal:{signal}"),
                };
                if t.exit_code != 0 {
                    error_reason = Some(reason.clone());
                }
            } else if container.ready && state.is_some_and(|s| s.running.is_some()) {
                has_running = true;
                ready += 1;
            }
        }
        // A pod with a completed container but others still running is not Completed.
        if reason == "Completed" {
            if has_running && condition_true("Ready") {
                reason = "Running".to_string();
            } else if let Some(e) = error_reason {
                reason = e;
            } else if has_running {
                reason = "NotReady".to_string();
            }
        }
    }

    if pod.metadata.deletion_timestamp.is_some() {
        if status_reason == Some("NodeLost") {
            reason = "Unknown".to_string();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_string();
        }
    }

    let restarts_cell = match last_restart {
        Some(at) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(at), now)),
        _ => restarts.to_string(),
    };

    let readiness_gates = spec
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or(&[]);
    let gates_cell = if readiness_gates.is_empty() {
        "<none>".to_string()
    } else {
        let passing = readiness_gates
            .iter()
            .filter(|gate| condition_true(&gate.condition_type))
            .count();
        format!("{passing}/{}", readiness_gates.len())
    };

    Row {
        cells: vec![
            name_cell(&pod.metadata),
            format!("{ready}/{total}").into(),
            reason.into(),
            restarts_cell.into(),
            age_cell(&pod.metadata, now),
            or_none(pod_ip(status)).into(),
            or_none(spec.and_then(|s| s.node_name.as_deref())).into(),
            or_none(status.and_then(|s| s.nominated_node_name.as_deref())).into(),
            gates_cell.into(),
        ],
        conditions: row_conditions,
    }
}

/// Load balancer ingress points as Kubernetes lists them: IPs, else
/// hostnames, sorted and deduplicated. The server prints the wide form, so
/// nothing is clipped.
fn ingress_points<'a>(
    points: impl Iterator<Item = (Option<&'a String>, Option<&'a String>)>,
) -> String {
    let set: BTreeSet<&str> = points
        .filter_map(|(ip, hostname)| non_empty(ip).or_else(|| non_empty(hostname)))
        .collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

fn service_external_ip(svc: &Service) -> String {
    let spec = svc.spec.as_ref();
    let external_ips = spec.and_then(|s| s.external_ips.as_deref()).unwrap_or(&[]);
    match spec.and_then(|s| s.type_.as_deref()).unwrap_or("") {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let points = svc
                .status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_deref())
                .unwrap_or(&[])
                .iter()
                .map(|i| (i.ip.as_ref(), i.hostname.as_ref()));
            let lb = ingress_points(points);
            if !external_ips.is_empty() {
                let mut all: Vec<&str> = if lb.is_empty() {
                    Vec::new()
                } else {
                    lb.split(',').collect()
                };
                all.extend(external_ips.iter().map(String::as_str));
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => spec
            .and_then(|s| s.external_name.clone())
            .unwrap_or_default(),
        _ => "<unknown>".to_string(),
    }
}

fn service_row(svc: &Service, now: Timestamp) -> Row {
    let spec = svc.spec.as_ref();
    let cluster_ip = spec.and_then(|s| {
        s.cluster_ips
            .as_ref()
            .and_then(|ips| ips.first())
            .or(s.cluster_ip.as_ref())
    });
    let ports = spec
        .and_then(|s| s.ports.as_deref())
        .unwrap_or(&[])
        .iter()
        .map(|p| {
            let protocol = p.protocol.as_deref().unwrap_or("");
            match p.node_port.unwrap_or(0) {
                node_port if node_port > 0 => format!("{}:{node_port}/{protocol}", p.port),
                _ => format!("{}/{protocol}", p.port),
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    Row::new(vec![
        name_cell(&svc.metadata),
        spec.and_then(|s| s.type_.clone())
            .unwrap_or_default()
            .into(),
        or_none(non_empty(cluster_ip)).into(),
        service_external_ip(svc).into(),
        or_none(Some(&ports)).into(),
        age_cell(&svc.metadata, now),
        format_labels(spec.and_then(|s| s.selector.as_ref())).into(),
    ])
}

fn join_host_port(host: &str, port: i32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// At most three entries, then "+ N more...".
fn capped_list(entries: impl Iterator<Item = String>) -> String {
    const MAX: usize = 3;
    let mut list = Vec::with_capacity(MAX);
    let mut count = 0;
    for entry in entries {
        if list.len() < MAX {
            list.push(entry);
        }
        count += 1;
    }
    let joined = list.join(",");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

fn endpoints_row(endpoints: &Endpoints, now: Timestamp) -> Row {
    let subsets = endpoints.subsets.as_deref().unwrap_or(&[]);
    let cell = if subsets.is_empty() {
        "<none>".to_string()
    } else {
        capped_list(subsets.iter().flat_map(|subset| {
            let addresses = subset.addresses.as_deref().unwrap_or(&[]);
            let ports = subset.ports.as_deref().unwrap_or(&[]);
            // Headless services may have addresses without ports.
            let port_numbers: Vec<Option<i32>> = if ports.is_empty() {
                vec![None]
            } else {
                ports.iter().map(|p| Some(p.port)).collect()
            };
            port_numbers.into_iter().flat_map(move |port| {
                addresses.iter().map(move |address| match port {
                    Some(port) => join_host_port(&address.ip, port),
                    None => address.ip.clone(),
                })
            })
        }))
    };
    Row::new(vec![
        name_cell(&endpoints.metadata),
        cell.into(),
        age_cell(&endpoints.metadata, now),
    ])
}

/// [`capped_list`], or "<unset>" when there are no entries.
fn capped_or_unset(entries: impl Iterator<Item = String>) -> String {
    let joined = capped_list(entries);
    if joined.is_empty() {
        "<unset>".to_string()
    } else {
        joined
    }
}

fn endpoint_slice_row(slice: &EndpointSlice, now: Timestamp) -> Row {
    let ports =
        capped_or_unset(
            slice
                .ports
                .iter()
                .flatten()
                .map(|p| match (p.port, p.name.as_deref()) {
                    (Some(port), _) => port.to_string(),
                    (None, Some(name)) => name.to_string(),
                    (None, None) => "*".to_string(),
                }),
        );
    let endpoints = capped_or_unset(
        slice
            .endpoints
            .iter()
            .flat_map(|e| e.addresses.iter().cloned()),
    );
    Row::new(vec![
        name_cell(&slice.metadata),
        slice.address_type.clone().into(),
        ports.into(),
        endpoints.into(),
        age_cell(&slice.metadata, now),
    ])
}

/// Node roles from `node-role.kubernetes.io/<role>` labels and the
/// `kubernetes.io/role` label, sorted.
fn node_roles(node: &Node) -> String {
    let mut roles = BTreeSet::new();
    for (key, value) in node.metadata.labels.iter().flatten() {
        if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if key == "kubernetes.io/role" && !value.is_empty() {
            roles.insert(value.clone());
        }
    }
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

fn node_row(node: &Node, now: Timestamp) -> Row {
    let status = node.status.as_ref();
    let conditions = status.and_then(|s| s.conditions.as_deref()).unwrap_or(&[]);
    // With repeated conditions the last one counts.
    let mut states = match conditions.iter().rev().find(|c| c.type_ == "Ready") {
        Some(c) if c.status == "True" => vec!["Ready"],
        Some(_) => vec!["NotReady"],
        None => vec!["Unknown"],
    };
    if node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
    {
        states.push("SchedulingDisabled");
    }
    let addresses = status.and_then(|s| s.addresses.as_deref()).unwrap_or(&[]);
    let address = |type_: &str| {
        addresses
            .iter()
            .find(|a| a.type_ == type_)
            .map_or_else(|| "<none>".to_string(), |a| a.address.clone())
    };
    let info = status.and_then(|s| s.node_info.as_ref());
    let unknown_if_empty = |value: Option<&String>| {
        non_empty(value).map_or_else(|| "<unknown>".to_string(), str::to_string)
    };
    Row::new(vec![
        name_cell(&node.metadata),
        states.join(",").into(),
        node_roles(node).into(),
        age_cell(&node.metadata, now),
        info.map(|i| i.kubelet_version.clone())
            .unwrap_or_default()
            .into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        unknown_if_empty(info.map(|i| &i.os_image)).into(),
        unknown_if_empty(info.map(|i| &i.kernel_version)).into(),
        unknown_if_empty(info.map(|i| &i.container_runtime_version)).into(),
    ])
}

fn namespace_row(namespace: &Namespace, now: Timestamp) -> Row {
    let phase = namespace
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    Row::new(vec![
        name_cell(&namespace.metadata),
        phase.into(),
        age_cell(&namespace.metadata, now),
    ])
}

fn secret_row(secret: &Secret, now: Timestamp) -> Row {
    // Kubernetes folds stringData into data before printing.
    let keys: BTreeSet<&String> = secret
        .data
        .iter()
        .flat_map(BTreeMap::keys)
        .chain(secret.string_data.iter().flat_map(BTreeMap::keys))
        .collect();
    Row::new(vec![
        name_cell(&secret.metadata),
        secret.type_.clone().unwrap_or_default().into(),
        keys.len().into(),
        age_cell(&secret.metadata, now),
    ])
}

fn config_map_row(config_map: &ConfigMap, now: Timestamp) -> Row {
    let entries = config_map.data.as_ref().map_or(0, BTreeMap::len)
        + config_map.binary_data.as_ref().map_or(0, BTreeMap::len);
    Row::new(vec![
        name_cell(&config_map.metadata),
        entries.into(),
        age_cell(&config_map.metadata, now),
    ])
}

fn event_source(event: &Event) -> String {
    let source = event.source.as_ref();
    let component = non_empty(source.and_then(|s| s.component.as_ref()))
        .or_else(|| non_empty(event.reporting_component.as_ref()))
        .unwrap_or("");
    match non_empty(source.and_then(|s| s.host.as_ref()))
        .or_else(|| non_empty(event.reporting_instance.as_ref()))
    {
        Some(instance) => format!("{component}, {instance}"),
        None => component.to_string(),
    }
}

fn event_row(event: &Event, now: Timestamp) -> Row {
    let first_seen = match &event.first_timestamp {
        Some(Time(t)) => since(Some(*t), now),
        None => since(event.event_time.as_ref().map(|t| t.0), now),
    };
    let mut last_seen = match &event.last_timestamp {
        Some(Time(t)) => since(Some(*t), now),
        None => first_seen.clone(),
    };
    let mut count = i64::from(event.count.unwrap_or(0));
    if let Some(series) = &event.series {
        last_seen = since(series.last_observed_time.as_ref().map(|t| t.0), now);
        count = i64::from(series.count.unwrap_or(0));
    } else if count == 0 {
        // Events created through the events.k8s.io API carry no count.
        count = 1;
    }
    let involved = &event.involved_object;
    let kind = involved.kind.as_deref().unwrap_or("").to_lowercase();
    let target = match non_empty(involved.name.as_ref()) {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    Row::new(vec![
        last_seen.into(),
        event.type_.clone().unwrap_or_default().into(),
        event.reason.clone().unwrap_or_default().into(),
        target.into(),
        involved.field_path.clone().unwrap_or_default().into(),
        event_source(event).into(),
        event.message.as_deref().unwrap_or("").trim().into(),
        first_seen.into(),
        count.into(),
        name_cell(&event.metadata),
    ])
}

fn network_policy_row(policy: &NetworkPolicy, now: Timestamp) -> Row {
    // An unset pod selector is the empty one: every pod.
    let everything = TypedLabelSelector::default();
    let selector = policy
        .spec
        .as_ref()
        .and_then(|s| s.pod_selector.as_ref())
        .unwrap_or(&everything);
    Row::new(vec![
        name_cell(&policy.metadata),
        format_label_selector(Some(selector)).into(),
        age_cell(&policy.metadata, now),
    ])
}

fn ingress_row(ingress: &Ingress, now: Timestamp) -> Row {
    const MAX: usize = 3;
    let spec = ingress.spec.as_ref();
    let rules = spec.and_then(|s| s.rules.as_deref()).unwrap_or(&[]);
    let mut hosts: Vec<String> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
        }
        if let Some(host) = non_empty(rule.host.as_ref()).filter(|_| !more) {
            hosts.push(host.to_string());
        }
    }
    let hosts = if hosts.is_empty() {
        "*".to_string()
    } else if more {
        format!("{} + {} more...", hosts.join(","), rules.len() - MAX)
    } else {
        hosts.join(",")
    };
    let points = ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_deref())
        .unwrap_or(&[])
        .iter()
        .map(|i| (i.ip.as_ref(), i.hostname.as_ref()));
    let ports = if spec
        .and_then(|s| s.tls.as_ref())
        .is_some_and(|t| !t.is_empty())
    {
        "80, 443"
    } else {
        "80"
    };
    Row::new(vec![
        name_cell(&ingress.metadata),
        or_none(spec.and_then(|s| s.ingress_class_name.as_deref())).into(),
        hosts.into(),
        ingress_points(points).into(),
        ports.into(),
        age_cell(&ingress.metadata, now),
    ])
}

fn ingress_class_row(class: &IngressClass, now: Timestamp) -> Row {
    let spec = class.spec.as_ref();
    let parameters = match spec.and_then(|s| s.parameters.as_ref()) {
        Some(p) => match &p.api_group {
            Some(group) => format!("{}.{group}/{}", p.kind, p.name),
            None => format!("{}/{}", p.kind, p.name),
        },
        None => "<none>".to_string(),
    };
    Row::new(vec![
        name_cell(&class.metadata),
        spec.and_then(|s| s.controller.clone())
            .unwrap_or_default()
            .into(),
        parameters.into(),
        age_cell(&class.metadata, now),
    ])
}

fn deployment_row(deployment: &Deployment, now: Timestamp) -> Row {
    let spec = deployment.spec.as_ref();
    let status = deployment.status.as_ref();
    let desired = spec.and_then(|s| s.replicas).unwrap_or(0);
    let ready = status.and_then(|s| s.ready_replicas).unwrap_or(0);
    let updated = status.and_then(|s| s.updated_replicas).unwrap_or(0);
    let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
    let (names, images) =
        container_cells(spec.map_or(&[][..], |s| pod_containers(s.template.spec.as_ref())));
    // Deployments print their selector bare: empty when it selects everything.
    let selector = match spec.map(|s| label_selector(&s.selector)) {
        Some(Ok(selector)) => selector.to_string(),
        Some(Err(_)) => "<invalid>".to_string(),
        None => String::new(),
    };
    Row::new(vec![
        name_cell(&deployment.metadata),
        format!("{ready}/{desired}").into(),
        i64::from(updated).into(),
        i64::from(available).into(),
        age_cell(&deployment.metadata, now),
        names,
        images,
        selector.into(),
    ])
}

fn pod_containers(spec: Option<&PodSpec>) -> &[Container] {
    spec.map_or(&[][..], |s| s.containers.as_slice())
}

fn replica_set_row(rs: &ReplicaSet, now: Timestamp) -> Row {
    let spec = rs.spec.as_ref();
    let status = rs.status.as_ref();
    let template = spec.and_then(|s| s.template.as_ref());
    let (names, images) = container_cells(pod_containers(template.and_then(|t| t.spec.as_ref())));
    Row::new(vec![
        name_cell(&rs.metadata),
        i64::from(spec.and_then(|s| s.replicas).unwrap_or(0)).into(),
        i64::from(status.map_or(0, |s| s.replicas)).into(),
        i64::from(status.and_then(|s| s.ready_replicas).unwrap_or(0)).into(),
        age_cell(&rs.metadata, now),
        names,
        images,
        format_label_selector(spec.map(|s| &s.selector)).into(),
    ])
}

fn stateful_set_row(sts: &StatefulSet, now: Timestamp) -> Row {
    let spec = sts.spec.as_ref();
    let desired = spec.and_then(|s| s.replicas).unwrap_or(0);
    let ready = sts
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    let (names, images) =
        container_cells(spec.map_or(&[][..], |s| pod_containers(s.template.spec.as_ref())));
    Row::new(vec![
        name_cell(&sts.metadata),
        format!("{ready}/{desired}").into(),
        age_cell(&sts.metadata, now),
        names,
        images,
    ])
}

fn daemon_set_row(ds: &DaemonSet, now: Timestamp) -> Row {
    let spec = ds.spec.as_ref();
    let status = ds.status.as_ref();
    let number = |f: fn(&DaemonSetStatus) -> i32| Value::from(i64::from(status.map_or(0, f)));
    let pod_spec = spec.and_then(|s| s.template.spec.as_ref());
    let (names, images) = container_cells(pod_containers(pod_spec));
    Row::new(vec![
        name_cell(&ds.metadata),
        number(|s| s.desired_number_scheduled),
        number(|s| s.current_number_scheduled),
        number(|s| s.number_ready),
        number(|s| s.updated_number_scheduled.unwrap_or(0)),
        number(|s| s.number_available.unwrap_or(0)),
        format_labels(pod_spec.and_then(|s| s.node_selector.as_ref())).into(),
        age_cell(&ds.metadata, now),
        names,
        images,
        format_label_selector(spec.map(|s| &s.selector)).into(),
    ])
}

fn lease_row(lease: &Lease, now: Timestamp) -> Row {
    let holder = lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .unwrap_or_default();
    Row::new(vec![
        name_cell(&lease.metadata),
        holder.into(),
        age_cell(&lease.metadata, now),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{find, RESOURCES};
    use k8s_openapi::api::apps::v1::DeploymentStatus;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
        EndpointAddress, EndpointPort, EndpointSubset, LoadBalancerIngress, LoadBalancerStatus,
        NodeAddress, NodeCondition, NodeSpec, PodCondition, PodIP, PodReadinessGate,
        PodTemplateSpec, ServicePort, ServiceStatus,
    };
    use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort as SlicePort};
    use k8s_openapi::api::networking::v1::{
        IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressRule, IngressSpec,
        IngressStatus, IngressTLS,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, MicroTime};

    const NOW: &str = "2025-06-01T12:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    fn ago(seconds: i64) -> Time {
        Time(now() - SignedDuration::from_secs(seconds))
    }

    fn meta(name: &str, age_seconds: i64) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            creation_timestamp: Some(ago(age_seconds)),
            uid: Some(format!("uid-{name}")),
            resource_version: Some("42".into()),
            ..Default::default()
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn resource(group: &str, plural: &str) -> &'static Resource {
        find(group, "v1", plural).unwrap()
    }

    fn table_of(group: &str, plural: &str, items: &[Value]) -> Value {
        to_table(resource(group, plural), items, IncludeObject::None, now()).unwrap()
    }

    fn cells<T: serde::Serialize>(group: &str, plural: &str, obj: &T) -> Value {
        let table = table_of(group, plural, &[serde_json::to_value(obj).unwrap()]);
        table["rows"][0]["cells"].clone()
    }

    fn column_names(group: &str, plural: &str) -> Vec<(String, i64)> {
        table_of(group, plural, &[])["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["priority"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    fn container(name: &str, image: &str) -> Container {
        Container {
            name: name.into(),
            image: Some(image.into()),
            ..Default::default()
        }
    }

    fn running(name: &str, ready: bool, restarts: i32) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            image: "nginx:1.27".into(),
            image_id: String::new(),
            ready,
            restart_count: restarts,
            started: Some(true),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(ago(600)),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn waiting(name: &str, reason: &str) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.into()),
                    message: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn terminated(name: &str, exit_code: i32, reason: Option<&str>) -> ContainerStatus {
        ContainerStatus {
            name: name.into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code,
                    reason: reason.map(Into::into),
                    finished_at: Some(ago(60)),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn condition(type_: &str, status: &str) -> PodCondition {
        PodCondition {
            type_: type_.into(),
            status: status.into(),
            ..Default::default()
        }
    }

    fn pod(name: &str, phase: &str) -> Pod {
        Pod {
            metadata: meta(name, 300),
            spec: Some(PodSpec {
                containers: vec![container("web", "nginx:1.27")],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
        }
    }

    fn scheduled(mut p: Pod) -> Pod {
        p.spec.as_mut().unwrap().node_name = Some("node-a".into());
        let status = p.status.as_mut().unwrap();
        status.pod_ip = Some("10.244.1.7".into());
        status.pod_ips = Some(vec![PodIP {
            ip: "10.244.1.7".into(),
        }]);
        p
    }

    fn with_statuses(mut p: Pod, statuses: Vec<ContainerStatus>) -> Pod {
        p.status.as_mut().unwrap().container_statuses = Some(statuses);
        p
    }

    fn pod_cells(p: &Pod) -> Value {
        cells("", "pods", p)
    }

    #[test]
    fn ages_read_like_kubectl() {
        let cases = [
            (-3, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (182, "3m2s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (4 * 3600 + 20 * 60, "4h20m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (2 * 86400 + 3 * 3600, "2d3h"),
            (3 * 86400, "3d"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (3 * 365 * 86400 + 4 * 86400, "3y4d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (seconds, want) in cases {
            assert_eq!(
                human_duration(SignedDuration::from_secs(seconds)),
                want,
                "{seconds}s"
            );
        }
        assert_eq!(human_duration(SignedDuration::from_millis(-1500)), "0s");
    }

    #[test]
    fn pod_columns_match_kubectl_wide() {
        assert_eq!(
            column_names("", "pods"),
            [
                ("Name", 0),
                ("Ready", 0),
                ("Status", 0),
                ("Restarts", 0),
                ("Age", 0),
                ("IP", 1),
                ("Node", 1),
                ("Nominated Node", 1),
                ("Readiness Gates", 1),
            ]
            .map(|(n, p)| (n.to_string(), p))
        );
        let table = table_of("", "pods", &[]);
        let name = &table["columnDefinitions"][0];
        assert_eq!(name["type"], "string");
        assert_eq!(name["format"], "name");
        assert!(name["description"]
            .as_str()
            .unwrap()
            .starts_with("Name must be unique within a namespace."));
        assert_eq!(table["columnDefinitions"][3]["type"], "string");
        assert_eq!(table["kind"], "Table");
        assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(table["rows"], json!([]));
    }

    #[test]
    fn running_pod() {
        let p = with_statuses(
            scheduled(pod("web-1", "Running")),
            vec![running("web", true, 0)],
        );
        assert_eq!(
            pod_cells(&p),
            json!([
                "web-1",
                "1/1",
                "Running",
                "0",
                "5m",
                "10.244.1.7",
                "node-a",
                "<none>",
                "<none>"
            ])
        );
    }

    #[test]
    fn pending_pods() {
        let unscheduled = pod("web-2", "Pending");
        assert_eq!(
            pod_cells(&unscheduled),
            json!(["web-2", "0/1", "Pending", "0", "5m", "<none>", "<none>", "<none>", "<none>"])
        );
        let creating = with_statuses(
            scheduled(pod("web-3", "Pending")),
            vec![waiting("web", "ContainerCreating")],
        );
        assert_eq!(pod_cells(&creating)[2], "ContainerCreating");
        let mut gated = pod("web-4", "Pending");
        gated.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
            reason: Some("SchedulingGated".into()),
            ..condition("PodScheduled", "False")
        }]);
        assert_eq!(pod_cells(&gated)[2], "SchedulingGated");
    }

    #[test]
    fn terminating_pods() {
        let mut p = with_statuses(
            scheduled(pod("web-1", "Running")),
            vec![running("web", true, 0)],
        );
        p.metadata.deletion_timestamp = Some(ago(-30));
        assert_eq!(pod_cells(&p)[2], "Terminating");
        p.status.as_mut().unwrap().reason = Some("NodeLost".into());
        assert_eq!(pod_cells(&p)[2], "Unknown");
        // A finished pod being deleted keeps its final status.
        let mut done = with_statuses(
            pod("job-1", "Succeeded"),
            vec![terminated("web", 0, Some("Completed"))],
        );
        done.metadata.deletion_timestamp = Some(ago(-30));
        assert_eq!(pod_cells(&done)[2], "Completed");
    }

    #[test]
    fn crash_looping_pod() {
        let mut status = waiting("web", "CrashLoopBackOff");
        status.restart_count = 4;
        status.last_state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 1,
                reason: Some("Error".into()),
                finished_at: Some(ago(30)),
                ..Default::default()
            }),
            ..Default::default()
        });
        let p = with_statuses(scheduled(pod("web-1", "Running")), vec![status]);
        let c = pod_cells(&p);
        assert_eq!(c[1], "0/1");
        assert_eq!(c[2], "CrashLoopBackOff");
        assert_eq!(c[3], "4 (30s ago)");
    }

    #[test]
    fn initializing_pods() {
        let base = || {
            let mut p = scheduled(pod("web-1", "Pending"));
            p.spec.as_mut().unwrap().init_containers = Some(vec![
                container("migrate", "tool"),
                container("warm", "tool"),
            ]);
            p.status.as_mut().unwrap().container_statuses =
                Some(vec![waiting("web", "PodInitializing")]);
            p
        };
        let with_init = |statuses: Vec<ContainerStatus>| {
            let mut p = base();
            p.status.as_mut().unwrap().init_container_statuses = Some(statuses);
            pod_cells(&p)[2].clone()
        };
        assert_eq!(
            with_init(vec![
                terminated("migrate", 0, Some("Completed")),
                running("warm", false, 0)
            ]),
            "Init:1/2"
        );
        assert_eq!(
            with_init(vec![
                waiting("migrate", "PodInitializing"),
                waiting("warm", "PodInitializing")
            ]),
            "Init:0/2"
        );
        assert_eq!(
            with_init(vec![
                waiting("migrate", "ImagePullBackOff"),
                waiting("warm", "PodInitializing")
            ]),
            "Init:ImagePullBackOff"
        );
        assert_eq!(
            with_init(vec![
                terminated("migrate", 1, Some("Error")),
                waiting("warm", "PodInitializing")
            ]),
            "Init:Error"
        );
        assert_eq!(
            with_init(vec![
                terminated("migrate", 2, None),
                waiting("warm", "PodInitializing")
            ]),
            "Init:ExitCode:2"
        );
    }

    #[test]
    fn sidecars_count_as_containers() {
        let mut p = scheduled(pod("web-1", "Running"));
        p.spec.as_mut().unwrap().init_containers = Some(vec![Container {
            restart_policy: Some("Always".into()),
            ..container("proxy", "envoy")
        }]);
        let status = p.status.as_mut().unwrap();
        status.init_container_statuses = Some(vec![running("proxy", true, 1)]);
        status.container_statuses = Some(vec![running("web", true, 0)]);
        status.conditions = Some(vec![
            condition("Initialized", "True"),
            condition("Ready", "True"),
        ]);
        let c = pod_cells(&p);
        assert_eq!(c[1], "2/2");
        assert_eq!(c[2], "Running");
        assert_eq!(c[3], "1");
    }

    #[test]
    fn completed_pods_and_partial_completion() {
        let done = with_statuses(
            pod("job-1", "Succeeded"),
            vec![terminated("web", 0, Some("Completed"))],
        );
        let table = table_of("", "pods", &[serde_json::to_value(&done).unwrap()]);
        assert_eq!(table["rows"][0]["cells"][2], "Completed");
        assert_eq!(table["rows"][0]["conditions"][0]["type"], "Completed");
        assert_eq!(table["rows"][0]["conditions"][0]["reason"], "Succeeded");

        let mut two = with_statuses(
            scheduled(pod("web-1", "Running")),
            vec![
                running("web", true, 0),
                terminated("init-once", 0, Some("Completed")),
            ],
        );
        two.spec
            .as_mut()
            .unwrap()
            .containers
            .push(container("init-once", "tool"));
        two.status.as_mut().unwrap().conditions = Some(vec![condition("Ready", "True")]);
        assert_eq!(pod_cells(&two)[2], "Running");
        two.status.as_mut().unwrap().conditions = Some(vec![condition("Ready", "False")]);
        assert_eq!(pod_cells(&two)[2], "NotReady");

        let failed = with_statuses(pod("job-2", "Failed"), vec![terminated("web", 137, None)]);
        assert_eq!(pod_cells(&failed)[2], "ExitCode:137");
    }

    #[test]
    fn readiness_gates() {
        let mut p = with_statuses(
            scheduled(pod("web-1", "Running")),
            vec![running("web", true, 0)],
        );
        p.spec.as_mut().unwrap().readiness_gates = Some(vec![
            PodReadinessGate {
                condition_type: "example.com/lb".into(),
            },
            PodReadinessGate {
                condition_type: "example.com/dns".into(),
            },
        ]);
        p.status.as_mut().unwrap().conditions = Some(vec![condition("example.com/lb", "True")]);
        assert_eq!(pod_cells(&p)[8], "1/2");
    }

    fn service(name: &str, type_: &str) -> Service {
        Service {
            metadata: meta(name, 2 * 86400 + 3 * 3600),
            spec: Some(ServiceSpec {
                type_: Some(type_.into()),
                cluster_ip: Some("10.96.0.10".into()),
                cluster_ips: Some(vec!["10.96.0.10".into()]),
                selector: Some(labels(&[("app", "web"), ("tier", "front")])),
                ports: Some(vec![
                    ServicePort {
                        port: 80,
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    },
                    ServicePort {
                        port: 443,
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn service_cells(s: &Service) -> Value {
        cells("", "services", s)
    }

    #[test]
    fn service_columns() {
        assert_eq!(
            column_names("", "services"),
            [
                ("Name", 0),
                ("Type", 0),
                ("Cluster-IP", 0),
                ("External-IP", 0),
                ("Port(s)", 0),
                ("Age", 0),
                ("Selector", 1),
            ]
            .map(|(n, p)| (n.to_string(), p))
        );
    }

    #[test]
    fn cluster_ip_and_node_port_services() {
        assert_eq!(
            service_cells(&service("web", "ClusterIP")),
            json!([
                "web",
                "ClusterIP",
                "10.96.0.10",
                "<none>",
                "80/TCP,443/TCP",
                "2d3h",
                "app=web,tier=front"
            ])
        );
        let mut node_port = service("web", "NodePort");
        node_port.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].node_port = Some(30080);
        node_port.spec.as_mut().unwrap().external_ips = Some(vec!["198.51.100.4".into()]);
        let c = service_cells(&node_port);
        assert_eq!(c[3], "198.51.100.4");
        assert_eq!(c[4], "80:30080/TCP,443/TCP");
    }

    #[test]
    fn load_balancer_services() {
        let pending = service("lb", "LoadBalancer");
        assert_eq!(service_cells(&pending)[3], "<pending>");

        let mut ready = service("lb", "LoadBalancer");
        ready.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus {
                ingress: Some(vec![
                    LoadBalancerIngress {
                        hostname: Some("lb.example.com".into()),
                        ..Default::default()
                    },
                    LoadBalancerIngress {
                        ip: Some("203.0.113.5".into()),
                        ..Default::default()
                    },
                ]),
            }),
            conditions: None,
        });
        assert_eq!(service_cells(&ready)[3], "203.0.113.5,lb.example.com");
        ready.spec.as_mut().unwrap().external_ips = Some(vec!["198.51.100.4".into()]);
        assert_eq!(
            service_cells(&ready)[3],
            "203.0.113.5,lb.example.com,198.51.100.4"
        );
    }

    #[test]
    fn external_name_and_headless_services() {
        let external = Service {
            metadata: meta("db", 60),
            spec: Some(ServiceSpec {
                type_: Some("ExternalName".into()),
                external_name: Some("db.example.com".into()),
                ..Default::default()
            }),
            status: None,
        };
        assert_eq!(
            service_cells(&external),
            json!([
                "db",
                "ExternalName",
                "<none>",
                "db.example.com",
                "<none>",
                "60s",
                "<none>"
            ])
        );
        let mut headless = service("web-headless", "ClusterIP");
        let spec = headless.spec.as_mut().unwrap();
        spec.cluster_ip = Some("None".into());
        spec.cluster_ips = Some(vec!["None".into()]);
        assert_eq!(service_cells(&headless)[2], "None");
    }

    fn deployment() -> Deployment {
        Deployment {
            metadata: meta("web", 3600),
            spec: Some(DeploymentSpec {
                replicas: Some(3),
                selector: TypedLabelSelector {
                    match_labels: Some(labels(&[("app", "web")])),
                    match_expressions: None,
                },
                template: PodTemplateSpec {
                    metadata: None,
                    spec: Some(PodSpec {
                        containers: vec![
                            container("web", "nginx:1.27"),
                            container("log", "fluent-bit:3"),
                        ],
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: Some(DeploymentStatus {
                replicas: Some(3),
                ready_replicas: Some(2),
                updated_replicas: Some(3),
                available_replicas: Some(2),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn deployments() {
        assert_eq!(
            column_names("apps", "deployments"),
            [
                ("Name", 0),
                ("Ready", 0),
                ("Up-to-date", 0),
                ("Available", 0),
                ("Age", 0),
                ("Containers", 1),
                ("Images", 1),
                ("Selector", 1),
            ]
            .map(|(n, p)| (n.to_string(), p))
        );
        assert_eq!(
            cells("apps", "deployments", &deployment()),
            json!([
                "web",
                "2/3",
                3,
                2,
                "60m",
                "web,log",
                "nginx:1.27,fluent-bit:3",
                "app=web"
            ])
        );
        let mut fresh = deployment();
        fresh.status = None;
        fresh.spec.as_mut().unwrap().selector.match_expressions =
            Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["front".into(), "edge".into()]),
            }]);
        let c = cells("apps", "deployments", &fresh);
        assert_eq!(c[1], "0/3");
        assert_eq!(c[2], 0);
        assert_eq!(c[7], "app=web,tier in (edge,front)");
        fresh.spec.as_mut().unwrap().selector.match_expressions =
            Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Near".into(),
                values: None,
            }]);
        assert_eq!(cells("apps", "deployments", &fresh)[7], "<invalid>");
    }

    #[test]
    fn replica_sets_daemon_sets_and_stateful_sets() {
        let d = deployment();
        let rs = ReplicaSet {
            metadata: meta("web-7d4b9c", 120),
            spec: Some(ReplicaSetSpec {
                replicas: Some(3),
                selector: d.spec.as_ref().unwrap().selector.clone(),
                template: Some(d.spec.as_ref().unwrap().template.clone()),
                ..Default::default()
            }),
            status: Some(ReplicaSetStatus {
                replicas: 3,
                ready_replicas: Some(1),
                ..Default::default()
            }),
        };
        assert_eq!(
            cells("apps", "replicasets", &rs),
            json!([
                "web-7d4b9c",
                3,
                3,
                1,
                "2m",
                "web,log",
                "nginx:1.27,fluent-bit:3",
                "app=web"
            ])
        );
        let mut template = d.spec.as_ref().unwrap().template.clone();
        template.spec.as_mut().unwrap().node_selector =
            Some(labels(&[("kubernetes.io/os", "linux")]));
        let ds = DaemonSet {
            metadata: meta("agent", 86400),
            spec: Some(DaemonSetSpec {
                selector: TypedLabelSelector::default(),
                template: template.clone(),
                ..Default::default()
            }),
            status: Some(DaemonSetStatus {
                desired_number_scheduled: 3,
                current_number_scheduled: 3,
                number_ready: 2,
                updated_number_scheduled: Some(3),
                number_available: Some(2),
                ..Default::default()
            }),
        };
        assert_eq!(
            cells("apps", "daemonsets", &ds),
            json!([
                "agent",
                3,
                3,
                2,
                3,
                2,
                "kubernetes.io/os=linux",
                "24h",
                "web,log",
                "nginx:1.27,fluent-bit:3",
                "<none>"
            ])
        );
        let sts = StatefulSet {
            metadata: meta("db", 30),
            spec: Some(k8s_openapi::api::apps::v1::StatefulSetSpec {
                replicas: Some(2),
                selector: TypedLabelSelector::default(),
                template,
                ..Default::default()
            }),
            status: None,
        };
        assert_eq!(
            cells("apps", "statefulsets", &sts),
            json!(["db", "0/2", "30s", "web,log", "nginx:1.27,fluent-bit:3"])
        );
    }

    #[test]
    fn nodes() {
        let node = Node {
            metadata: ObjectMeta {
                labels: Some(labels(&[
                    ("node-role.kubernetes.io/control-plane", ""),
                    ("kubernetes.io/role", "edge"),
                    ("kubernetes.io/hostname", "node-a"),
                ])),
                ..meta("node-a", 10 * 86400)
            },
            spec: Some(NodeSpec {
                unschedulable: Some(true),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..Default::default()
                }]),
                addresses: Some(vec![
                    NodeAddress {
                        type_: "Hostname".into(),
                        address: "node-a".into(),
                    },
                    NodeAddress {
                        type_: "InternalIP".into(),
                        address: "192.168.1.10".into(),
                    },
                ]),
                node_info: Some(NodeSystemInfo {
                    kubelet_version: "v1.33.1".into(),
                    os_image: "Debian GNU/Linux 12 (bookworm)".into(),
                    kernel_version: "6.1.0-28-amd64".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        };
        assert_eq!(
            cells("", "nodes", &node),
            json!([
                "node-a",
                "Ready,SchedulingDisabled",
                "control-plane,edge",
                "10d",
                "v1.33.1",
                "192.168.1.10",
                "<none>",
                "Debian GNU/Linux 12 (bookworm)",
                "6.1.0-28-amd64",
                "<unknown>"
            ])
        );
        let bare = Node {
            metadata: meta("node-b", 5),
            spec: None,
            status: None,
        };
        let c = cells("", "nodes", &bare);
        assert_eq!(c[1], "Unknown");
        assert_eq!(c[2], "<none>");
    }

    #[test]
    fn events() {
        assert_eq!(
            column_names("", "events"),
            [
                ("Last Seen", 0),
                ("Type", 0),
                ("Reason", 0),
                ("Object", 0),
                ("Subobject", 1),
                ("Source", 1),
                ("Message", 0),
                ("First Seen", 1),
                ("Count", 1),
                ("Name", 1),
            ]
            .map(|(n, p)| (n.to_string(), p))
        );
        let event = Event {
            metadata: meta("web-1.17a2b", 90),
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                name: Some("web-1".into()),
                field_path: Some("spec.containers{web}".into()),
                ..Default::default()
            },
            reason: Some("Pulled".into()),
            message: Some("Successfully pulled image \"nginx:1.27\"\n".into()),
            type_: Some("Normal".into()),
            first_timestamp: Some(ago(90)),
            last_timestamp: Some(ago(20)),
            count: Some(3),
            source: Some(k8s_openapi::api::core::v1::EventSource {
                component: Some("kubelet".into()),
                host: Some("node-a".into()),
            }),
            ..Default::default()
        };
        assert_eq!(
            cells("", "events", &event),
            json!([
                "20s",
                "Normal",
                "Pulled",
                "pod/web-1",
                "spec.containers{web}",
                "kubelet, node-a",
                "Successfully pulled image \"nginx:1.27\"",
                "90s",
                3,
                "web-1.17a2b"
            ])
        );
        // An events.k8s.io event: only eventTime and the reporting controller.
        let modern = Event {
            metadata: meta("web.1", 10),
            involved_object: ObjectReference {
                kind: Some("Deployment".into()),
                ..Default::default()
            },
            event_time: Some(MicroTime(now() - SignedDuration::from_secs(10))),
            reporting_component: Some("deployment-controller".into()),
            ..Default::default()
        };
        let c = cells("", "events", &modern);
        assert_eq!(c[0], "10s");
        assert_eq!(c[3], "deployment");
        assert_eq!(c[5], "deployment-controller");
        assert_eq!(c[7], "10s");
        assert_eq!(c[8], 1);
    }

    #[test]
    fn endpoints_and_slices() {
        let address = |ip: &str| EndpointAddress {
            ip: ip.into(),
            ..Default::default()
        };
        let endpoints = Endpoints {
            metadata: meta("web", 60),
            subsets: Some(vec![EndpointSubset {
                addresses: Some(vec![
                    address("10.244.1.7"),
                    address("10.244.2.8"),
                    address("fd00::9"),
                ]),
                ports: Some(vec![
                    EndpointPort {
                        port: 8080,
                        ..Default::default()
                    },
                    EndpointPort {
                        port: 9090,
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }]),
        };
        assert_eq!(
            cells("", "endpoints", &endpoints)[1],
            "10.244.1.7:8080,10.244.2.8:8080,[fd00::9]:8080 + 3 more..."
        );
        let empty = Endpoints {
            metadata: meta("none", 60),
            subsets: None,
        };
        assert_eq!(cells("", "endpoints", &empty)[1], "<none>");

        let slice = EndpointSlice {
            metadata: meta("web-abc12", 60),
            address_type: "IPv4".into(),
            endpoints: vec![Endpoint {
                addresses: vec!["10.244.1.7".into(), "10.244.2.8".into()],
                ..Default::default()
            }],
            ports: Some(vec![SlicePort {
                port: Some(8080),
                name: Some("http".into()),
                ..Default::default()
            }]),
        };
        assert_eq!(
            cells("discovery.k8s.io", "endpointslices", &slice),
            json!(["web-abc12", "IPv4", "8080", "10.244.1.7,10.244.2.8", "60s"])
        );
        let bare = EndpointSlice {
            metadata: meta("bare", 60),
            address_type: "IPv4".into(),
            endpoints: vec![],
            ports: None,
        };
        let c = cells("discovery.k8s.io", "endpointslices", &bare);
        assert_eq!(
            (c[2].clone(), c[3].clone()),
            (json!("<unset>"), json!("<unset>"))
        );
    }

    #[test]
    fn config_maps_secrets_accounts_namespaces_leases() {
        let cm = ConfigMap {
            metadata: meta("settings", 60),
            data: Some(labels(&[("a", "1"), ("b", "2")])),
            ..Default::default()
        };
        assert_eq!(cells("", "configmaps", &cm), json!(["settings", 2, "60s"]));
        let secret = Secret {
            metadata: meta("token", 60),
            type_: Some("Opaque".into()),
            data: Some(BTreeMap::from([(
                "password".to_string(),
                k8s_openapi::ByteString(b"hunter2".to_vec()),
            )])),
            string_data: Some(labels(&[("user", "admin")])),
            ..Default::default()
        };
        assert_eq!(
            cells("", "secrets", &secret),
            json!(["token", "Opaque", 2, "60s"])
        );
        let account = ServiceAccount {
            metadata: meta("default", 60),
            ..Default::default()
        };
        assert_eq!(
            cells("", "serviceaccounts", &account),
            json!(["default", "60s"])
        );
        let namespace = Namespace {
            metadata: meta("kube-system", 60),
            spec: None,
            status: Some(k8s_openapi::api::core::v1::NamespaceStatus {
                phase: Some("Terminating".into()),
                conditions: None,
            }),
        };
        assert_eq!(cells("", "namespaces", &namespace)[1], "Terminating");
        let lease = Lease {
            metadata: meta("node-a", 60),
            spec: Some(LeaseSpec {
                holder_identity: Some("node-a".into()),
                ..Default::default()
            }),
        };
        assert_eq!(
            cells("coordination.k8s.io", "leases", &lease),
            json!(["node-a", "node-a", "60s"])
        );
    }

    #[test]
    fn networking_kinds() {
        let policy = NetworkPolicy {
            metadata: meta("deny-all", 60),
            spec: Some(NetworkPolicySpec::default()),
        };
        assert_eq!(
            cells("networking.k8s.io", "networkpolicies", &policy)[1],
            "<none>"
        );
        let selective = NetworkPolicy {
            metadata: meta("web", 60),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(TypedLabelSelector {
                    match_labels: Some(labels(&[("app", "web")])),
                    match_expressions: None,
                }),
                ..Default::default()
            }),
        };
        assert_eq!(
            cells("networking.k8s.io", "networkpolicies", &selective)[1],
            "app=web"
        );

        let rule = |host: &str| IngressRule {
            host: Some(host.into()),
            http: None,
        };
        let ingress = Ingress {
            metadata: meta("web", 60),
            spec: Some(IngressSpec {
                ingress_class_name: Some("nginx".into()),
                rules: Some(vec![
                    rule("a.example.com"),
                    rule("b.example.com"),
                    rule("c.example.com"),
                    rule("d.example.com"),
                ]),
                tls: Some(vec![IngressTLS::default()]),
                ..Default::default()
            }),
            status: Some(IngressStatus {
                load_balancer: Some(IngressLoadBalancerStatus {
                    ingress: Some(vec![IngressLoadBalancerIngress {
                        ip: Some("203.0.113.9".into()),
                        ..Default::default()
                    }]),
                }),
            }),
        };
        assert_eq!(
            cells("networking.k8s.io", "ingresses", &ingress),
            json!([
                "web",
                "nginx",
                "a.example.com,b.example.com,c.example.com + 1 more...",
                "203.0.113.9",
                "80, 443",
                "60s"
            ])
        );
        let bare = Ingress {
            metadata: meta("bare", 60),
            spec: Some(IngressSpec::default()),
            status: None,
        };
        assert_eq!(
            cells("networking.k8s.io", "ingresses", &bare),
            json!(["bare", "<none>", "*", "", "80", "60s"])
        );
        let class = IngressClass {
            metadata: meta("nginx", 60),
            spec: Some(k8s_openapi::api::networking::v1::IngressClassSpec {
                controller: Some("k8s.io/ingress-nginx".into()),
                parameters: Some(
                    k8s_openapi::api::networking::v1::IngressClassParametersReference {
                        api_group: Some("k8s.example.com".into()),
                        kind: "IngressParameters".into(),
                        name: "external-lb".into(),
                        ..Default::default()
                    },
                ),
            }),
        };
        assert_eq!(
            cells("networking.k8s.io", "ingressclasses", &class),
            json!([
                "nginx",
                "k8s.io/ingress-nginx",
                "IngressParameters.k8s.example.com/external-lb",
                "60s"
            ])
        );
    }

    #[test]
    fn every_served_kind_has_a_documented_printer() {
        for r in RESOURCES {
            assert_ne!(
                Printer::of(r),
                Printer::Default,
                "{} has no printer",
                r.plural
            );
            let columns = Printer::of(r).columns();
            assert!(!columns.is_empty());
            for column in columns {
                assert!(
                    !column.description.is_empty(),
                    "{} {}",
                    r.plural,
                    column.name
                );
                assert!(
                    matches!(column.type_, "string" | "integer"),
                    "{}",
                    column.name
                );
            }
            // An empty list is a valid table.
            let table = to_table(r, &[], IncludeObject::Metadata, now()).unwrap();
            assert_eq!(table["rows"], json!([]));
        }
    }

    #[test]
    fn row_objects_follow_include_object() {
        let p = serde_json::to_value(scheduled(pod("web-1", "Running"))).unwrap();
        let pods = resource("", "pods");
        let metadata_only = to_table(
            pods,
            std::slice::from_ref(&p),
            IncludeObject::Metadata,
            now(),
        )
        .unwrap();
        let object = &metadata_only["rows"][0]["object"];
        assert_eq!(object["kind"], "PartialObjectMetadata");
        assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(object["metadata"], p["metadata"]);
        assert!(object.get("spec").is_none());

        let whole = to_table(pods, std::slice::from_ref(&p), IncludeObject::Object, now()).unwrap();
        assert_eq!(whole["rows"][0]["object"], p);
        let none = to_table(pods, &[p], IncludeObject::None, now()).unwrap();
        assert_eq!(none["rows"][0]["object"], Value::Null);
    }

    #[test]
    fn include_object_parameter() {
        assert_eq!(
            IncludeObject::from_query(None).unwrap(),
            IncludeObject::Metadata
        );
        assert_eq!(
            IncludeObject::from_query(Some("")).unwrap(),
            IncludeObject::Metadata
        );
        assert_eq!(
            IncludeObject::from_query(Some("None")).unwrap(),
            IncludeObject::None
        );
        assert_eq!(
            IncludeObject::from_query(Some("Object")).unwrap(),
            IncludeObject::Object
        );
        let err = IncludeObject::from_query(Some("all")).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "Unable to convert to Table as requested: includeObject: Invalid value: \"all\": must be 'Metadata', 'Object', 'None', or empty"
        );
    }

    #[test]
    fn undecodable_objects_are_errors() {
        let broken = json!({"metadata": {"name": "web-1"}, "spec": {"containers": "nope"}});
        let err =
            to_table(resource("", "pods"), &[broken], IncludeObject::None, now()).unwrap_err();
        assert_eq!(err.code, 500);
        assert!(
            err.message.starts_with("cannot print pods \"web-1\""),
            "{}",
            err.message
        );
    }
}

//! Defaulting as Kubernetes does it when it decodes a request
//! (`pkg/apis/*/v1/defaults.go`), plus the few request normalizations its
//! REST layer performs before validation (Secret stringData, Service
//! clusterIPs and IP families).
//!
//! Defaults are applied to the JSON form directly so that everything the
//! client sent, known to k8s-openapi or not, is kept as it was: only absent
//! (or, for plain strings and numbers, empty/zero) fields are filled in.

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::resources::Resource;

const DEFAULT_TERMINATION_GRACE_SECONDS: i64 = 30;
const DEFAULT_SCHEDULER: &str = "default-scheduler";
const TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";
/// 0644: the mode of files projected from Secrets, ConfigMaps and the downward API.
const DEFAULT_FILE_MODE: i64 = 0o644;
/// One hour, the lifetime of projected service account tokens.
const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;
/// Three hours, ClientIP session affinity's default stickiness.
const DEFAULT_CLIENT_IP_TIMEOUT_SECONDS: i64 = 10800;
/// The family single-stack clusters hand out Service IPs from.
const PRIMARY_IP_FAMILY: &str = "IPv4";
/// Seconds pods stay bound to a node that became not-ready or unreachable.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Fills in the defaults of an object of kind `res`, as Kubernetes does before
/// validating a create or update.
pub fn apply_defaults(res: &Resource, obj: &mut Value) {
    match (res.group, res.kind) {
        ("", "Pod") => pod(obj),
        ("", "Service") => service(obj),
        ("", "Secret") => secret(obj),
        ("", "Namespace") => namespace(obj),
        ("", "Node") => node(obj),
        ("", "Endpoints") => endpoints(obj),
        ("discovery.k8s.io", "EndpointSlice") => endpoint_slice(obj),
        ("networking.k8s.io", "NetworkPolicy") => network_policy(obj),
        ("networking.k8s.io", "IngressClass") => ingress_class(obj),
        ("apps", "Deployment") => deployment(obj),
        ("apps", "ReplicaSet") => replica_set(obj),
        ("apps", "StatefulSet") => stateful_set(obj),
        ("apps", "DaemonSet") => daemon_set(obj),
        // These kinds have no defaults in Kubernetes (Ingress pathType
        // included: it is required, never defaulted).
        ("", "ConfigMap")
        | ("", "ServiceAccount")
        | ("", "Event")
        | ("networking.k8s.io", "Ingress")
        | ("coordination.k8s.io", "Lease") => {}
        // Kinds this server does not serve have nothing to default.
        _ => {}
    }
}

/// What Kubernetes' default admission chain adds to a new Pod: priority 0
/// with the PreemptLowerPriority policy when no priority class is named, and
/// five-minute tolerations of not-ready and unreachable nodes. Call on create
/// only (admission does not run these on update).
pub fn apply_pod_admission_defaults(pod: &mut Value) {
    let Some(spec) = object_at(pod, "spec") else {
        return;
    };
    if text(spec, "priorityClassName").is_empty() {
        default_absent(spec, "priority", json!(0));
        default_absent(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    }
    for taint in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = spec
            .get("tolerations")
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|t| tolerates_no_execute(t, taint)));
        if let Some(list) = array_at(spec, "tolerations").filter(|_| !tolerated) {
            list.push(json!({
                "key": taint,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
}

/// Whether a toleration covers the NoExecute taint `key` (the admission
/// plugin leaves pods alone that already tolerate it in any way).
fn tolerates_no_execute(toleration: &Value, key: &str) -> bool {
    let key_matches = match toleration.get("key").and_then(Value::as_str) {
        None | Some("") => toleration.get("operator").and_then(Value::as_str) == Some("Exists"),
        Some(k) => k == key,
    };
    let effect = toleration
        .get("effect")
        .and_then(Value::as_str)
        .unwrap_or("");
    key_matches && (effect.is_empty() || effect == "NoExecute")
}

/// What Kubernetes' Service REST layer does to an update before validating
/// it: carry over allocated values the client left out, keep `clusterIPs` in
/// step with `clusterIP`, and drop fields the new type no longer uses (when
/// the client did not change them). Call after [`apply_defaults`].
pub fn prepare_service_update(new: &mut Value, old: &Value) {
    let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);
    let Some(spec) = object_at(new, "spec") else {
        return;
    };
    patch_allocated_values(spec, &old_spec);
    normalize_cluster_ips(spec, &old_spec);
    drop_type_dependent_fields(spec, &old_spec);
}

// JSON helpers: fields are "unset" when absent or null, and for plain
// strings and numbers also when empty or zero (Kubernetes' zero values).

fn object_at<'a>(parent: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    child_object(parent.as_object_mut()?, key)
}

/// The object at `key`, created when absent or null.
fn child_object<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let slot = map.entry(key).or_insert_with(|| json!({}));
    if slot.is_null() {
        *slot = json!({});
    }
    slot.as_object_mut()
}

fn existing_object<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    map.get_mut(key).and_then(Value::as_object_mut)
}

fn existing_array<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Vec<Value>> {
    map.get_mut(key).and_then(Value::as_array_mut)
}

/// The array at `key`, created (or replacing a non-array) when needed.
fn array_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Vec<Value>> {
    if !map.get(key).is_some_and(Value::is_array) {
        map.insert(key.to_string(), json!([]));
    }
    map.get_mut(key).and_then(Value::as_array_mut)
}

fn is_unset(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(_) => false,
    }
}

/// Defaults a plain string or number field ("" and 0 count as unset).
fn default_zero(map: &mut Map<String, Value>, key: &str, value: Value) {
    if is_unset(map.get(key)) {
        map.insert(key.to_string(), value);
    }
}

/// Defaults a pointer field (only absence counts as unset).
fn default_absent(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_string(), value);
    }
}

/// Whether `value` is a list with at least one item.
fn has_items(value: Option<&Value>) -> bool {
    value
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty())
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or("")
}

fn each_object(list: Option<&mut Vec<Value>>, mut f: impl FnMut(&mut Map<String, Value>)) {
    for item in list.into_iter().flatten() {
        if let Some(map) = item.as_object_mut() {
            f(map);
        }
    }
}

// Pods and pod templates.

fn pod(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else {
        return;
    };
    pod_spec(spec);
    for list in ["containers", "initContainers"] {
        each_object(existing_array(spec, list), requests_from_limits);
    }
    default_absent(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for list in ["containers", "initContainers"] {
            each_object(existing_array(spec, list), |c| {
                each_object(existing_array(c, "ports"), |p| {
                    if let Some(port) = p.get("containerPort").cloned() {
                        default_zero(p, "hostPort", port);
                    }
                });
            });
        }
    }
}

/// Pods (not templates) request what they limit unless told otherwise.
fn requests_from_limits(container: &mut Map<String, Value>) {
    let Some(resources) = existing_object(container, "resources") else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    let Some(requests) = child_object(resources, "requests") else {
        return;
    };
    for (name, quantity) in limits {
        requests.entry(name).or_insert(quantity);
    }
}

fn pod_template(template: &mut Map<String, Value>) {
    if let Some(spec) = child_object(template, "spec") {
        pod_spec(spec);
    }
}

fn pod_spec(spec: &mut Map<String, Value>) {
    default_zero(spec, "dnsPolicy", json!("ClusterFirst"));
    default_zero(spec, "restartPolicy", json!("Always"));
    default_absent(spec, "securityContext", json!({}));
    default_absent(
        spec,
        "terminationGracePeriodSeconds",
        json!(DEFAULT_TERMINATION_GRACE_SECONDS),
    );
    default_zero(spec, "schedulerName", json!(DEFAULT_SCHEDULER));
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        each_object(existing_array(spec, list), container);
    }
    each_object(existing_array(spec, "volumes"), volume);
}

fn container(c: &mut Map<String, Value>) {
    let policy = pull_policy_for(text(c, "image"));
    default_zero(c, "imagePullPolicy", json!(policy));
    default_zero(c, "terminationMessagePath", json!(TERMINATION_MESSAGE_PATH));
    default_zero(c, "terminationMessagePolicy", json!("File"));
    each_object(existing_array(c, "ports"), |p| {
        default_zero(p, "protocol", json!("TCP"));
    });
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = existing_object(c, probe) {
            default_zero(p, "timeoutSeconds", json!(1));
            default_zero(p, "periodSeconds", json!(10));
            default_zero(p, "successThreshold", json!(1));
            default_zero(p, "failureThreshold", json!(3));
            http_get(p);
        }
    }
    if let Some(lifecycle) = existing_object(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = existing_object(lifecycle, hook) {
                http_get(h);
            }
        }
    }
    each_object(existing_array(c, "env"), |env| {
        let field_ref =
            existing_object(env, "valueFrom").and_then(|v| existing_object(v, "fieldRef"));
        if let Some(field_ref) = field_ref {
            default_zero(field_ref, "apiVersion", json!("v1"));
        }
    });
}

fn http_get(handler: &mut Map<String, Value>) {
    if let Some(http) = existing_object(handler, "httpGet") {
        default_zero(http, "path", json!("/"));
        default_zero(http, "scheme", json!("HTTP"));
    }
}

/// Always for `:latest` or untagged images, IfNotPresent otherwise (and for
/// names that do not parse as image references).
fn pull_policy_for(image: &str) -> &'static str {
    match image_tag(image) {
        Some(tag) if tag == "latest" => "Always",
        _ => "IfNotPresent",
    }
}

/// The tag an image reference resolves to: its own, "latest" when it has
/// neither tag nor digest, `None` when it has only a digest or does not parse.
fn image_tag(image: &str) -> Option<String> {
    if image.is_empty() || image.chars().any(char::is_whitespace) {
        return None;
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let (repo_last, tag) = match last.split_once(':') {
        Some((repo, tag)) => (repo, Some(tag)),
        None => (last, None),
    };
    let repo_path = &name[..name.len() - last.len()];
    // Repository path components are lower case; the registry host may not be.
    let path_components = repo_path
        .split('/')
        .skip(1)
        .chain(std::iter::once(repo_last));
    let well_formed = !repo_last.is_empty()
        && path_components
            .filter(|c| !c.is_empty())
            .all(|c| !c.chars().any(|ch| ch.is_ascii_uppercase()));
    if !well_formed || tag.is_some_and(str::is_empty) {
        return None;
    }
    match (tag, digest) {
        (Some(tag), _) => Some(tag.to_string()),
        (None, Some(_)) => None,
        (None, None) => Some("latest".to_string()),
    }
}

fn volume(v: &mut Map<String, Value>) {
    let has_source = v.iter().any(|(k, val)| k != "name" && !val.is_null());
    if !has_source {
        v.insert("emptyDir".to_string(), json!({}));
        return;
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = existing_object(v, source) {
            default_absent(s, "defaultMode", json!(DEFAULT_FILE_MODE));
        }
    }
    if let Some(host_path) = existing_object(v, "hostPath") {
        default_absent(host_path, "type", json!(""));
    }
    if let Some(downward) = existing_object(v, "downwardAPI") {
        downward_items(downward);
    }
    if let Some(projected) = existing_object(v, "projected") {
        each_object(existing_array(projected, "sources"), |source| {
            if let Some(token) = existing_object(source, "serviceAccountToken") {
                default_absent(
                    token,
                    "expirationSeconds",
                    json!(DEFAULT_TOKEN_EXPIRATION_SECONDS),
                );
            }
            if let Some(downward) = existing_object(source, "downwardAPI") {
                downward_items(downward);
            }
        });
    }
    let claim_spec = existing_object(v, "ephemeral")
        .and_then(|e| existing_object(e, "volumeClaimTemplate"))
        .and_then(|t| existing_object(t, "spec"));
    if let Some(spec) = claim_spec {
        default_absent(spec, "volumeMode", json!("Filesystem"));
    }
}

fn downward_items(source: &mut Map<String, Value>) {
    each_object(existing_array(source, "items"), |item| {
        if let Some(field_ref) = existing_object(item, "fieldRef") {
            default_zero(field_ref, "apiVersion", json!("v1"));
        }
    });
}

// Services.

fn service(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else {
        return;
    };
    default_zero(spec, "sessionAffinity", json!("None"));
    match text(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".to_string(),
                    json!({"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT_SECONDS}}),
                );
            }
        }
        _ => {}
    }
    default_zero(spec, "type", json!("ClusterIP"));
    each_object(existing_array(spec, "ports"), |p| {
        default_zero(p, "protocol", json!("TCP"));
        if is_unset(p.get("targetPort")) {
            if let Some(port) = p.get("port").cloned() {
                p.insert("targetPort".to_string(), port);
            }
        }
    });
    let kind = text(spec, "type").to_string();
    let has_external_ips = has_items(spec.get("externalIPs"));
    let externally_accessible = matches!(kind.as_str(), "NodePort" | "LoadBalancer")
        || (kind == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_zero(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        default_absent(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if kind == "LoadBalancer" {
        default_absent(spec, "allocateLoadBalancerNodePorts", json!(true));
        load_balancer_ip_mode(obj);
    }
    if let Some(spec) = object_at(obj, "spec") {
        cluster_ips_from_cluster_ip(spec);
        ip_families(spec);
    }
}

/// Load balancer ingress IPs default to VIP mode.
fn load_balancer_ip_mode(obj: &mut Value) {
    let ingress = obj
        .pointer_mut("/status/loadBalancer/ingress")
        .and_then(Value::as_array_mut);
    each_object(ingress, |ing| {
        if !text(ing, "ip").is_empty() {
            default_absent(ing, "ipMode", json!("VIP"));
        }
    });
}

/// Old clients set only `clusterIP`; Kubernetes mirrors it into `clusterIPs`.
fn cluster_ips_from_cluster_ip(spec: &mut Map<String, Value>) {
    let cluster_ip = text(spec, "clusterIP").to_string();
    let ips_empty = !has_items(spec.get("clusterIPs"));
    if !cluster_ip.is_empty() && ips_empty {
        spec.insert("clusterIPs".to_string(), json!([cluster_ip]));
    }
}

fn family_of(ip: &str) -> &'static str {
    if ip.contains(':') {
        "IPv6"
    } else {
        "IPv4"
    }
}

fn other_family(family: &str) -> &'static str {
    if family == "IPv4" {
        "IPv6"
    } else {
        "IPv4"
    }
}

/// ipFamilyPolicy and ipFamilies as Kubernetes initializes them on a
/// single-stack cluster: SingleStack on the primary family, except headless
/// services without selector, which cover both families.
fn ip_families(spec: &mut Map<String, Value>) {
    if text(spec, "type") == "ExternalName" {
        return;
    }
    let headless_selectorless = text(spec, "clusterIP") == "None"
        && spec
            .get("selector")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty);
    let policy = if headless_selectorless {
        "RequireDualStack"
    } else {
        "SingleStack"
    };
    default_absent(spec, "ipFamilyPolicy", json!(policy));
    let ips: Vec<String> = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let Some(families) = array_at(spec, "ipFamilies") else {
        return;
    };
    for (i, ip) in ips.iter().enumerate() {
        if ip == "None" {
            break;
        }
        if i >= families.len() {
            families.push(json!(family_of(ip)));
        }
    }
    if families.is_empty() {
        families.push(json!(PRIMARY_IP_FAMILY));
    }
    let explicit_single = spec.get("ipFamilyPolicy").and_then(Value::as_str) == Some("SingleStack");
    let Some(families) = spec.get_mut("ipFamilies").and_then(Value::as_array_mut) else {
        return;
    };
    if headless_selectorless && families.len() < 2 && !explicit_single {
        let first = families
            .first()
            .and_then(Value::as_str)
            .unwrap_or(PRIMARY_IP_FAMILY);
        let second = other_family(first);
        families.push(json!(second));
    }
}

fn service_type(spec: &Value) -> &str {
    spec.get("type").and_then(Value::as_str).unwrap_or("")
}

fn needs_cluster_ip(spec: &Value) -> bool {
    service_type(spec) != "ExternalName"
}

fn needs_node_ports(spec: &Value) -> bool {
    matches!(service_type(spec), "NodePort" | "LoadBalancer")
}

fn needs_health_check_port(spec: &Value) -> bool {
    service_type(spec) == "LoadBalancer"
        && spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local")
}

fn node_ports(spec: &Value) -> Vec<Value> {
    spec.get("ports")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .map(|p| p.get("nodePort").cloned().unwrap_or(Value::Null))
                .collect()
        })
        .unwrap_or_default()
}

/// Clients that replace a Service without its allocated fields keep them.
fn patch_allocated_values(spec: &mut Map<String, Value>, old: &Value) {
    let new_view = Value::Object(spec.clone());
    if needs_cluster_ip(old) && needs_cluster_ip(&new_view) {
        if is_unset(spec.get("clusterIP")) {
            if let Some(ip) = old.get("clusterIP") {
                spec.insert("clusterIP".to_string(), ip.clone());
            }
        }
        if !has_items(spec.get("clusterIPs")) && has_items(old.get("clusterIPs")) {
            spec.insert("clusterIPs".to_string(), old["clusterIPs"].clone());
        }
    }
    if needs_node_ports(old) && needs_node_ports(&new_view) {
        // Ports the client kept are taken; only free old ones are carried over,
        // matched by port name.
        let numbers = |spec: &Value| -> Vec<i64> {
            node_ports(spec)
                .iter()
                .filter_map(Value::as_i64)
                .filter(|p| *p != 0)
                .collect()
        };
        let new_numbers = numbers(&new_view);
        let used: Vec<i64> = numbers(old)
            .into_iter()
            .filter(|p| new_numbers.contains(p))
            .collect();
        let old_ports = old
            .get("ports")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        each_object(existing_array(spec, "ports"), |port| {
            if !is_unset(port.get("nodePort")) {
                return;
            }
            let name = port.get("name").and_then(Value::as_str).unwrap_or("");
            let previous = old_ports
                .iter()
                .find(|op| op.get("name").and_then(Value::as_str).unwrap_or("") == name)
                .and_then(|op| op.get("nodePort"))
                .and_then(Value::as_i64)
                .filter(|p| *p != 0 && !used.contains(p));
            if let Some(previous) = previous {
                port.insert("nodePort".to_string(), json!(previous));
            }
        });
    }
    if needs_health_check_port(old)
        && needs_health_check_port(&new_view)
        && is_unset(spec.get("healthCheckNodePort"))
    {
        if let Some(port) = old.get("healthCheckNodePort") {
            spec.insert("healthCheckNodePort".to_string(), port.clone());
        }
    }
}

fn same(spec: &Map<String, Value>, old: &Value, key: &str) -> bool {
    let normalize = |v: Option<&Value>| match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Array(l)) if l.is_empty() => Value::Null,
        Some(Value::String(s)) if s.is_empty() => Value::Null,
        Some(v) => v.clone(),
    };
    normalize(spec.get(key)) == normalize(old.get(key))
}

/// Old clients that drop `clusterIPs` or change only `clusterIP`.
fn normalize_cluster_ips(spec: &mut Map<String, Value>, old: &Value) {
    let old_has_ips = has_items(old.get("clusterIPs"));
    let new_ips_empty = !has_items(spec.get("clusterIPs"));
    if old_has_ips && new_ips_empty && same(spec, old, "clusterIP") {
        if let Some(ips) = old.get("clusterIPs") {
            spec.insert("clusterIPs".to_string(), ips.clone());
        }
    }
    if same(spec, old, "clusterIP") {
        return;
    }
    let old_ip = old.get("clusterIP").and_then(Value::as_str).unwrap_or("");
    let new_ip = text(spec, "clusterIP").to_string();
    let same_ips = same(spec, old, "clusterIPs");
    if !old_ip.is_empty() && new_ip.is_empty() && same_ips {
        spec.remove("clusterIPs");
    }
    if !new_ip.is_empty() && same_ips {
        spec.insert("clusterIPs".to_string(), json!([new_ip]));
    }
}

/// A type change drops what only the old type used, unless the client changed it.
fn drop_type_dependent_fields(spec: &mut Map<String, Value>, old: &Value) {
    let new_view = Value::Object(spec.clone());
    if needs_cluster_ip(old) && !needs_cluster_ip(&new_view) {
        if same(spec, old, "clusterIPs") {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
        for key in ["ipFamilies", "ipFamilyPolicy"] {
            if same(spec, old, key) {
                spec.remove(key);
            }
        }
    }
    if needs_node_ports(old)
        && !needs_node_ports(&new_view)
        && node_ports(old) == node_ports(&new_view)
    {
        each_object(existing_array(spec, "ports"), |p| {
            p.remove("nodePort");
        });
    }
    if needs_health_check_port(old)
        && !needs_health_check_port(&new_view)
        && same(spec, old, "healthCheckNodePort")
    {
        spec.remove("healthCheckNodePort");
    }
    let was_lb = service_type(old) == "LoadBalancer";
    let is_lb = service_type(&new_view) == "LoadBalancer";
    if was_lb && !is_lb {
        for key in ["allocateLoadBalancerNodePorts", "loadBalancerClass"] {
            if spec.get(key).is_some() && same(spec, old, key) {
                spec.remove(key);
            }
        }
    }
    let accessible = |s: &Value| {
        needs_node_ports(s) || (service_type(s) == "ClusterIP" && has_items(s.get("externalIPs")))
    };
    if accessible(old) && !accessible(&new_view) && same(spec, old, "externalTrafficPolicy") {
        spec.remove("externalTrafficPolicy");
    }
}

// Other core kinds.

/// Secrets store bytes: `stringData` is merged into `data` and dropped, as
/// Kubernetes' conversion does.
fn secret(obj: &mut Value) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    default_zero(map, "type", json!("Opaque"));
    let Some(Value::Object(strings)) = map.remove("stringData") else {
        return;
    };
    if strings.is_empty() {
        return;
    }
    let Some(data) = child_object(map, "data") else {
        return;
    };
    for (key, value) in strings {
        if let Some(s) = value.as_str() {
            let encoded = base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
            data.insert(key, json!(encoded));
        }
    }
}

/// Namespaces carry their own name as a label.
fn namespace(obj: &mut Value) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        return;
    }
    if let Some(labels) = object_at(obj, "metadata").and_then(|m| child_object(m, "labels")) {
        labels.insert("kubernetes.io/metadata.name".to_string(), json!(name));
    }
}

/// A node reporting capacity but no allocatable can allocate all of it.
fn node(obj: &mut Value) {
    let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(capacity) = status.get("capacity").filter(|c| c.is_object()).cloned() {
        default_absent(status, "allocatable", capacity);
    }
}

fn endpoints(obj: &mut Value) {
    let subsets = obj.get_mut("subsets").and_then(Value::as_array_mut);
    each_object(subsets, |subset| {
        each_object(existing_array(subset, "ports"), |p| {
            default_zero(p, "protocol", json!("TCP"));
        });
    });
}

fn endpoint_slice(obj: &mut Value) {
    let ports = obj.get_mut("ports").and_then(Value::as_array_mut);
    each_object(ports, |p| {
        default_absent(p, "name", json!(""));
        default_absent(p, "protocol", json!("TCP"));
    });
}

// networking.k8s.io.

fn network_policy(obj: &mut Value) {
    let Some(spec) = object_at(obj, "spec") else {
        return;
    };
    for rules in ["ingress", "egress"] {
        each_object(existing_array(spec, rules), |rule| {
            each_object(existing_array(rule, "ports"), |p| {
                default_absent(p, "protocol", json!("TCP"));
            });
        });
    }
    let no_types = !has_items(spec.get("policyTypes"));
    if no_types {
        let has_egress = has_items(spec.get("egress"));
        let types = if has_egress {
            json!(["Ingress", "Egress"])
        } else {
            json!(["Ingress"])
        };
        spec.insert("policyTypes".to_string(), types);
    }
}

fn ingress_class(obj: &mut Value) {
    let parameters = obj
        .pointer_mut("/spec/parameters")
        .and_then(Value::as_object_mut);
    if let Some(parameters) = parameters {
        default_absent(parameters, "scope", json!("Cluster"));
    }
}

// apps/v1.

fn workload_spec(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let spec = object_at(obj, "spec")?;
    if let Some(template) = child_object(spec, "template") {
        pod_template(template);
    }
    Some(spec)
}

fn deployment(obj: &mut Value) {
    let Some(spec) = workload_spec(obj) else {
        return;
    };
    default_absent(spec, "replicas", json!(1));
    if let Some(strategy) = child_object(spec, "strategy") {
        default_zero(strategy, "type", json!("RollingUpdate"));
        if text(strategy, "type") == "RollingUpdate" {
            if let Some(rolling) = child_object(strategy, "rollingUpdate") {
                default_absent(rolling, "maxUnavailable", json!("25%"));
                default_absent(rolling, "maxSurge", json!("25%"));
            }
        }
    }
    default_absent(spec, "revisionHistoryLimit", json!(10));
    default_absent(spec, "progressDeadlineSeconds", json!(600));
}

fn replica_set(obj: &mut Value) {
    if let Some(spec) = workload_spec(obj) {
        default_absent(spec, "replicas", json!(1));
    }
}

fn stateful_set(obj: &mut Value) {
    let Some(spec) = workload_spec(obj) else {
        return;
    };
    default_zero(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = child_object(spec, "updateStrategy") {
        if is_unset(strategy.get("type")) {
            strategy.insert("type".to_string(), json!("RollingUpdate"));
            default_absent(strategy, "rollingUpdate", json!({}));
        }
        if text(strategy, "type") == "RollingUpdate" {
            if let Some(rolling) = existing_object(strategy, "rollingUpdate") {
                default_absent(rolling, "partition", json!(0));
            }
        }
    }
    if let Some(policy) = child_object(spec, "persistentVolumeClaimRetentionPolicy") {
        default_zero(policy, "whenDeleted", json!("Retain"));
        default_zero(policy, "whenScaled", json!("Retain"));
    }
    default_absent(spec, "replicas", json!(1));
    default_absent(spec, "revisionHistoryLimit", json!(10));
    each_object(existing_array(spec, "volumeClaimTemplates"), |claim| {
        if let Some(claim_spec) = existing_object(claim, "spec") {
            default_absent(claim_spec, "volumeMode", json!("Filesystem"));
        }
        if let Some(status) = child_object(claim, "status") {
            default_zero(status, "phase", json!("Pending"));
        }
    });
}

fn daemon_set(obj: &mut Value) {
    let Some(spec) = workload_spec(obj) else {
        return;
    };
    if let Some(strategy) = child_object(spec, "updateStrategy") {
        default_zero(strategy, "type", json!("RollingUpdate"));
        if text(strategy, "type") == "RollingUpdate" {
            if let Some(rolling) = child_object(strategy, "rollingUpdate") {
                default_absent(rolling, "maxUnavailable", json!(1));
                default_absent(rolling, "maxSurge", json!(0));
            }
        }
    }
    default_absent(spec, "revisionHistoryLimit", json!(10));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::find_kind;

    fn defaulted(kind: &str, group: &str, mut obj: Value) -> Value {
        apply_defaults(find_kind(group, kind).expect("served kind"), &mut obj);
        obj
    }

    #[test]
    fn pods_get_kubernetes_defaults() {
        let pod = defaulted(
            "Pod",
            "",
            json!({
                "metadata": {"name": "web"},
                "spec": {
                    "containers": [{
                        "name": "web", "image": "nginx",
                        "ports": [{"containerPort": 80}],
                        "livenessProbe": {"httpGet": {"port": 80}},
                        "resources": {"limits": {"cpu": "1"}},
                        "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
                    }],
                    "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}}]
                }
            }),
        );
        let spec = &pod["spec"];
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], true);
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                   "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["resources"]["requests"], json!({"cpu": "1"}));
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(
            spec["volumes"][0],
            json!({"name": "scratch", "emptyDir": {}})
        );
        assert_eq!(spec["volumes"][1]["configMap"]["defaultMode"], 420);
    }

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(pull_policy_for("nginx"), "Always");
        assert_eq!(pull_policy_for("nginx:latest"), "Always");
        assert_eq!(pull_policy_for("nginx:1.27"), "IfNotPresent");
        assert_eq!(pull_policy_for("registry:5000/team/app"), "Always");
        assert_eq!(pull_policy_for("registry:5000/team/app:v2"), "IfNotPresent");
        assert_eq!(pull_policy_for("nginx@sha256:abc"), "IfNotPresent");
        assert_eq!(pull_policy_for("Nginx"), "IfNotPresent");
        assert_eq!(pull_policy_for(""), "IfNotPresent");
    }

    #[test]
    fn host_network_pods_expose_container_ports() {
        let pod = defaulted(
            "Pod",
            "",
            json!({"spec": {"hostNetwork": true, "containers": [{"name": "a", "image": "x:1", "ports": [{"containerPort": 9100}]}]}}),
        );
        assert_eq!(pod["spec"]["containers"][0]["ports"][0]["hostPort"], 9100);
    }

    #[test]
    fn templates_do_not_get_pod_only_defaults() {
        let d = defaulted(
            "Deployment",
            "apps",
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x:1"}]}}}}),
        );
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        let template = &spec["template"]["spec"];
        assert_eq!(template["dnsPolicy"], "ClusterFirst");
        assert!(template.get("enableServiceLinks").is_none());
        assert_eq!(template["containers"][0]["imagePullPolicy"], "IfNotPresent");
    }

    #[test]
    fn recreate_deployments_get_no_rolling_update() {
        let d = defaulted(
            "Deployment",
            "apps",
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        );
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn other_workloads() {
        let rs = defaulted("ReplicaSet", "apps", json!({"spec": {}}));
        assert_eq!(rs["spec"]["replicas"], 1);
        let sts = defaulted(
            "StatefulSet",
            "apps",
            json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}}),
        );
        let spec = &sts["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(
            spec["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        assert_eq!(
            spec["volumeClaimTemplates"][0]["status"]["phase"],
            "Pending"
        );
        let ds = defaulted("DaemonSet", "apps", json!({"spec": {}}));
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    }

    #[test]
    fn cluster_ip_services() {
        let svc = defaulted(
            "Service",
            "",
            json!({"spec": {"selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}}),
        );
        let spec = &svc["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(
            spec["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(spec["ports"][1]["targetPort"], "https");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert!(spec.get("externalTrafficPolicy").is_none());
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    }

    #[test]
    fn load_balancers_affinity_and_headless() {
        let lb = defaulted(
            "Service",
            "",
            json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]},
                   "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}),
        );
        assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
        assert_eq!(
            lb["spec"]["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
        assert_eq!(lb["status"]["loadBalancer"]["ingress"][0]["ipMode"], "VIP");
        let headless = defaulted("Service", "", json!({"spec": {"clusterIP": "None"}}));
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
        assert_eq!(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");
        assert_eq!(headless["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
        let external = defaulted(
            "Service",
            "",
            json!({"spec": {"type": "ExternalName", "externalName": "example.com"}}),
        );
        assert!(external["spec"].get("ipFamilies").is_none());
        assert!(external["spec"].get("internalTrafficPolicy").is_none());
    }

    #[test]
    fn service_updates_keep_allocations() {
        let old = json!({"spec": {
            "type": "NodePort", "clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"],
            "ports": [{"name": "http", "port": 80, "nodePort": 30080}],
            "externalTrafficPolicy": "Cluster"
        }});
        let mut replaced =
            json!({"spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80}]}});
        apply_defaults(find_kind("", "Service").unwrap(), &mut replaced);
        prepare_service_update(&mut replaced, &old);
        assert_eq!(replaced["spec"]["clusterIP"], "10.96.0.5");
        assert_eq!(replaced["spec"]["clusterIPs"], json!(["10.96.0.5"]));
        assert_eq!(replaced["spec"]["ports"][0]["nodePort"], 30080);

        let mut to_cluster_ip = old.clone();
        to_cluster_ip["spec"]["type"] = json!("ClusterIP");
        prepare_service_update(&mut to_cluster_ip, &old);
        assert!(to_cluster_ip["spec"]["ports"][0].get("nodePort").is_none());
        assert!(to_cluster_ip["spec"].get("externalTrafficPolicy").is_none());

        let mut to_external = old.clone();
        to_external["spec"]["type"] = json!("ExternalName");
        to_external["spec"]["externalName"] = json!("example.com");
        prepare_service_update(&mut to_external, &old);
        assert!(to_external["spec"].get("clusterIP").is_none());
        assert!(to_external["spec"].get("clusterIPs").is_none());
    }

    #[test]
    fn secrets_namespaces_nodes_endpoints() {
        let secret = defaulted(
            "Secret",
            "",
            json!({"stringData": {"password": "hunter2"}, "data": {"user": "YWRtaW4="}}),
        );
        assert_eq!(secret["type"], "Opaque");
        assert_eq!(
            secret["data"],
            json!({"user": "YWRtaW4=", "password": "aHVudGVyMg=="})
        );
        assert!(secret.get("stringData").is_none());

        let ns = defaulted("Namespace", "", json!({"metadata": {"name": "team-a"}}));
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "team-a"
        );

        let node = defaulted("Node", "", json!({"status": {"capacity": {"cpu": "4"}}}));
        assert_eq!(node["status"]["allocatable"], json!({"cpu": "4"}));

        let ep = defaulted(
            "Endpoints",
            "",
            json!({"subsets": [{"ports": [{"port": 80}]}]}),
        );
        assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");

        let slice = defaulted(
            "EndpointSlice",
            "discovery.k8s.io",
            json!({"ports": [{"port": 80}]}),
        );
        assert_eq!(
            slice["ports"][0],
            json!({"port": 80, "name": "", "protocol": "TCP"})
        );
    }

    #[test]
    fn networking_defaults() {
        let np = defaulted(
            "NetworkPolicy",
            "networking.k8s.io",
            json!({"spec": {"egress": [{"ports": [{"port": 53}]}]}}),
        );
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
        let ingress_only = defaulted("NetworkPolicy", "networking.k8s.io", json!({"spec": {}}));
        assert_eq!(ingress_only["spec"]["policyTypes"], json!(["Ingress"]));

        let ing = defaulted(
            "Ingress",
            "networking.k8s.io",
            json!({"spec": {"rules": [{"http": {"paths": [{"path": "/"}]}}]}}),
        );
        assert!(ing["spec"]["rules"][0]["http"]["paths"][0]
            .get("pathType")
            .is_none());

        let class = defaulted(
            "IngressClass",
            "networking.k8s.io",
            json!({"spec": {"controller": "example.com/x", "parameters": {"kind": "K", "name": "n"}}}),
        );
        assert_eq!(class["spec"]["parameters"]["scope"], "Cluster");
    }

    #[test]
    fn kinds_without_defaults_are_left_alone() {
        let cases = [
            (
                "ConfigMap",
                "",
                json!({"metadata": {"name": "c"}, "data": {"a": "b"}}),
            ),
            ("ServiceAccount", "", json!({"metadata": {"name": "sa"}})),
            (
                "Event",
                "",
                json!({"metadata": {"name": "e"}, "reason": "Started"}),
            ),
            (
                "Lease",
                "coordination.k8s.io",
                json!({"metadata": {"name": "l"}, "spec": {}}),
            ),
        ];
        for (kind, group, obj) in cases {
            assert_eq!(defaulted(kind, group, obj.clone()), obj, "{kind}");
        }
    }

    #[test]
    fn admission_defaults_for_new_pods() {
        let mut pod = json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}]}});
        apply_pod_admission_defaults(&mut pod);
        assert_eq!(pod["spec"]["priority"], 0);
        assert_eq!(pod["spec"]["preemptionPolicy"], "PreemptLowerPriority");
        let tolerations = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(tolerations.len(), 2);
        assert_eq!(tolerations[1]["key"], "node.kubernetes.io/not-ready");
        assert_eq!(tolerations[1]["tolerationSeconds"], 300);
    }

    #[test]
    fn defaulted_objects_validate() {
        let cases = [
            (
                "Pod",
                "",
                json!({"metadata": {"name": "p", "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}],
                         "readinessProbe": {"tcpSocket": {"port": 80}}}]}}),
            ),
            (
                "Service",
                "",
                json!({"metadata": {"name": "s", "namespace": "default"},
                "spec": {"type": "NodePort", "selector": {"app": "a"}, "ports": [{"port": 80}]}}),
            ),
            (
                "Service",
                "",
                json!({"metadata": {"name": "h", "namespace": "default"},
                "spec": {"clusterIP": "None"}}),
            ),
            (
                "Deployment",
                "apps",
                json!({"metadata": {"name": "d", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "a"}},
                         "template": {"metadata": {"labels": {"app": "a"}},
                                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
            ),
            (
                "StatefulSet",
                "apps",
                json!({"metadata": {"name": "s", "namespace": "default"},
                "spec": {"serviceName": "s", "selector": {"matchLabels": {"app": "a"}},
                         "template": {"metadata": {"labels": {"app": "a"}},
                                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
            ),
            (
                "DaemonSet",
                "apps",
                json!({"metadata": {"name": "d", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "a"}},
                         "template": {"metadata": {"labels": {"app": "a"}},
                                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}),
            ),
            (
                "NetworkPolicy",
                "networking.k8s.io",
                json!({"metadata": {"name": "n", "namespace": "default"},
                "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}}),
            ),
            (
                "Secret",
                "",
                json!({"metadata": {"name": "s", "namespace": "default"}, "stringData": {"a": "b"}}),
            ),
        ];
        for (kind, group, obj) in cases {
            let res = find_kind(group, kind).unwrap();
            let obj = defaulted(kind, group, obj);
            let errors = crate::validation::validate_create(res, &obj);
            let messages: Vec<String> = errors.iter().map(|e| e.full_message()).collect();
            assert!(errors.is_empty(), "{kind}: {messages:#?}");
        }
    }
}

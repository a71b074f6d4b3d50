//! Containers of a pod spec: names, images, ports, environment, volume
//! mounts, probes, lifecycle hooks, resources and security context.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, EnvVar, EnvVarSource, HTTPGetAction, Lifecycle,
    LifecycleHandler, Probe, ResourceRequirements, SeccompProfile, SecurityContext, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podnet_model::names;

use super::{
    child, index, invalid_problems, items, key, nonnegative, not_found, port_number, quantity,
    repr, text,
};
use crate::status::{FieldError, FieldErrorKind};

pub(crate) const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const MAX_ID: i64 = 0xffff_ffff;

/// Env fieldRef paths a container may read.
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Field paths the downward API converts at all (a superset of the above).
const DOWNWARD_API_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
    "spec.host",
];

const RESOURCE_FIELD_PATHS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// What container checks need to know about the rest of the pod spec.
pub(crate) struct PodContext<'a> {
    /// Names of the pod's volumes that passed their own checks.
    pub volumes: BTreeSet<&'a str>,
    pub grace_period: Option<i64>,
    /// False when the pod runs in its own user namespace.
    pub host_users: bool,
}

/// Checks shared by regular and init containers.
pub(crate) fn container_common(c: &Container, ctx: &PodContext, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name_path = child(path, "name");
    if c.name.is_empty() {
        errors.push(FieldError::required(name_path, ""));
    } else {
        errors.extend(super::dns_label(&name_path, &c.name));
    }
    if text(&c.image).is_empty() {
        errors.push(FieldError::required(child(path, "image"), ""));
    }
    match text(&c.termination_message_policy) {
        "File" | "FallbackToLogsOnError" => {}
        "" => errors.push(FieldError::required(
            child(path, "terminationMessagePolicy"),
            "",
        )),
        other => errors.push(FieldError::not_supported(
            child(path, "terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errors.extend(container_ports(items(&c.ports), &child(path, "ports")));
    errors.extend(env(items(&c.env), &child(path, "env")));
    errors.extend(env_from(items(&c.env_from), &child(path, "envFrom")));
    let privileged = c
        .security_context
        .as_ref()
        .is_some_and(|sc| sc.privileged == Some(true));
    errors.extend(volume_mounts(
        items(&c.volume_mounts),
        ctx,
        privileged,
        &child(path, "volumeMounts"),
    ));
    errors.extend(pull_policy(
        text(&c.image_pull_policy),
        &child(path, "imagePullPolicy"),
    ));
    if let Some(resources) = &c.resources {
        errors.extend(resource_requirements(resources, &child(path, "resources")));
    }
    if let Some(sc) = &c.security_context {
        errors.extend(security_context(
            sc,
            ctx.host_users,
            &child(path, "securityContext"),
        ));
    }
    errors
}

/// Lifecycle hooks and probes, allowed on regular and restartable init containers.
pub(crate) fn hooks_and_probes(c: &Container, ctx: &PodContext, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(lifecycle) = &c.lifecycle {
        errors.extend(lifecycle_hooks(lifecycle, ctx, &child(path, "lifecycle")));
    }
    if let Some(probe) = &c.liveness_probe {
        errors.extend(probe_must_succeed_once(
            probe,
            ctx,
            &child(path, "livenessProbe"),
        ));
    }
    if let Some(probe) = &c.readiness_probe {
        let probe_path = child(path, "readinessProbe");
        errors.extend(validate_probe(probe, ctx, &probe_path));
        if let Some(grace) = probe.termination_grace_period_seconds {
            errors.push(FieldError::invalid(
                child(&probe_path, "terminationGracePeriodSeconds"),
                grace,
                "must not be set for readinessProbes",
            ));
        }
    }
    if let Some(probe) = &c.startup_probe {
        errors.extend(probe_must_succeed_once(
            probe,
            ctx,
            &child(path, "startupProbe"),
        ));
    }
    errors
}

fn probe_must_succeed_once(probe: &Probe, ctx: &PodContext, path: &str) -> Vec<FieldError> {
    let mut errors = validate_probe(probe, ctx, path);
    let success = probe.success_threshold.unwrap_or(0);
    if success != 1 {
        errors.push(FieldError::invalid(
            child(path, "successThreshold"),
            success,
            "must be 1",
        ));
    }
    errors
}

fn validate_probe(probe: &Probe, ctx: &PodContext, path: &str) -> Vec<FieldError> {
    let handlers = Handlers {
        exec: probe.exec.as_ref().map(|e| items(&e.command).is_empty()),
        http_get: probe.http_get.as_ref(),
        tcp_socket: probe.tcp_socket.as_ref().map(|t| &t.port),
        grpc: probe.grpc.as_ref().map(|g| g.port),
        sleep: None,
    };
    let mut errors = handlers.validate(ctx, path);
    for (field, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        errors.extend(nonnegative(
            &child(path, field),
            i64::from(value.unwrap_or(0)),
        ));
    }
    if let Some(grace) = probe.termination_grace_period_seconds {
        if grace <= 0 {
            errors.push(FieldError::invalid(
                child(path, "terminationGracePeriodSeconds"),
                grace,
                "must be greater than 0",
            ));
        }
    }
    errors
}

fn lifecycle_hooks(lifecycle: &Lifecycle, ctx: &PodContext, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let hook = |handler: &LifecycleHandler, hook_path: &str| {
        Handlers {
            exec: handler.exec.as_ref().map(|e| items(&e.command).is_empty()),
            http_get: handler.http_get.as_ref(),
            tcp_socket: handler.tcp_socket.as_ref().map(|t| &t.port),
            grpc: None,
            sleep: handler.sleep.as_ref().map(|s| s.seconds),
        }
        .validate(ctx, hook_path)
    };
    if let Some(handler) = &lifecycle.post_start {
        errors.extend(hook(handler, &child(path, "postStart")));
    }
    if let Some(handler) = &lifecycle.pre_stop {
        errors.extend(hook(handler, &child(path, "preStop")));
    }
    errors
}

/// The handler kinds of a probe or hook, of which exactly one must be set.
struct Handlers<'a> {
    /// `Some(true)` when exec is set without a command.
    exec: Option<bool>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_socket: Option<&'a IntOrString>,
    grpc: Option<i32>,
    sleep: Option<i64>,
}

impl Handlers<'_> {
    fn validate(&self, ctx: &PodContext, path: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut count = 0;
        let mut one = |name: &str, errors: &mut Vec<FieldError>| -> bool {
            count += 1;
            if count > 1 {
                errors.push(FieldError::forbidden(
                    child(path, name),
                    "may not specify more than 1 handler type",
                ));
                false
            } else {
                true
            }
        };
        if let Some(missing_command) = self.exec {
            if one("exec", &mut errors) && missing_command {
                errors.push(FieldError::required(
                    child(&child(path, "exec"), "command"),
                    "",
                ));
            }
        }
        if let Some(http) = self.http_get {
            if one("httpGet", &mut errors) {
                errors.extend(http_get(http, &child(path, "httpGet")));
            }
        }
        if let Some(port) = self.tcp_socket {
            if one("tcpSocket", &mut errors) {
                errors.extend(port_num_or_name(
                    port,
                    &child(&child(path, "tcpSocket"), "port"),
                ));
            }
        }
        if let Some(port) = self.grpc {
            if one("grpc", &mut errors) {
                errors.extend(port_number(
                    &child(&child(path, "grpc"), "port"),
                    i64::from(port),
                ));
            }
        }
        if let Some(seconds) = self.sleep {
            if one("sleep", &mut errors) {
                if let Some(grace) = ctx.grace_period {
                    if seconds < 0 || seconds > grace {
                        errors.push(FieldError::invalid(
                            child(path, "sleep"),
                            seconds,
                            format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})"),
                        ));
                    }
                }
            }
        }
        if count == 0 {
            errors.push(FieldError::required(path, "must specify a handler type"));
        }
        errors
    }
}

fn http_get(http: &HTTPGetAction, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if text(&http.path).is_empty() {
        errors.push(FieldError::required(child(path, "path"), ""));
    }
    errors.extend(port_num_or_name(&http.port, &child(path, "port")));
    let scheme = text(&http.scheme);
    if !matches!(scheme, "HTTP" | "HTTPS") {
        errors.push(FieldError::not_supported(
            child(path, "scheme"),
            scheme,
            &["HTTP", "HTTPS"],
        ));
    }
    for header in items(&http.http_headers) {
        errors.extend(invalid_problems(
            &child(path, "httpHeaders"),
            &header.name,
            names::http_header_name(&header.name),
        ));
    }
    errors
}

/// A port given as number (1-65535) or IANA name.
pub(crate) fn port_num_or_name(port: &IntOrString, path: &str) -> Vec<FieldError> {
    match port {
        IntOrString::Int(n) => port_number(path, i64::from(*n)),
        IntOrString::String(name) => invalid_problems(path, name, names::port_name(name)),
    }
}

fn container_ports(ports: &[ContainerPort], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let port_path = index(path, i);
        let name = text(&port.name);
        if !name.is_empty() {
            let problems = names::port_name(name);
            if !problems.is_empty() {
                errors.extend(invalid_problems(&child(&port_path, "name"), name, problems));
            } else if !seen.insert(name) {
                errors.push(FieldError::duplicate(
                    child(&port_path, "name"),
                    repr::quoted(name),
                ));
            }
        }
        if port.container_port == 0 {
            errors.push(FieldError::required(child(&port_path, "containerPort"), ""));
        } else {
            errors.extend(port_number(
                &child(&port_path, "containerPort"),
                i64::from(port.container_port),
            ));
        }
        let host_port = port.host_port.unwrap_or(0);
        if host_port != 0 {
            errors.extend(port_number(
                &child(&port_path, "hostPort"),
                i64::from(host_port),
            ));
        }
        errors.extend(protocol(
            text(&port.protocol),
            &child(&port_path, "protocol"),
        ));
    }
    errors
}

pub(crate) fn protocol(value: &str, path: &str) -> Vec<FieldError> {
    if value.is_empty() {
        vec![FieldError::required(path, "")]
    } else if !PROTOCOLS.contains(&value) {
        vec![FieldError::not_supported(path, value, PROTOCOLS)]
    } else {
        Vec::new()
    }
}

/// Host ports must not collide within one set of containers running together.
pub(crate) fn host_port_conflicts(
    containers: &[&Container],
    indexes: &[usize],
    path: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (c, &ci) in containers.iter().zip(indexes) {
        for (pi, port) in items(&c.ports).iter().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let id = format!(
                "{}/{}/{}",
                text(&port.protocol),
                text(&port.host_ip),
                host_port
            );
            if !seen.insert(id.clone()) {
                let port_path = index(&child(&index(path, ci), "ports"), pi);
                errors.push(FieldError::duplicate(
                    child(&port_path, "hostPort"),
                    repr::quoted(&id),
                ));
            }
        }
    }
    errors
}

fn env(vars: &[EnvVar], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, var) in vars.iter().enumerate() {
        let var_path = index(path, i);
        if var.name.is_empty() {
            errors.push(FieldError::required(child(&var_path, "name"), ""));
        } else {
            errors.extend(invalid_problems(
                &child(&var_path, "name"),
                &var.name,
                names::relaxed_env_var_name(&var.name),
            ));
        }
        if let Some(source) = &var.value_from {
            errors.extend(env_source(
                source,
                !text(&var.value).is_empty(),
                &child(&var_path, "valueFrom"),
            ));
        }
    }
    errors
}

fn env_source(source: &EnvVarSource, has_value: bool, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut count = 0;
    if let Some(field_ref) = &source.field_ref {
        count += 1;
        errors.extend(object_field_selector(
            text(&field_ref.api_version),
            &field_ref.field_path,
            &child(path, "fieldRef"),
        ));
    }
    if let Some(resource_ref) = &source.resource_field_ref {
        count += 1;
        let resource_path = child(path, "resourceFieldRef");
        let resource = resource_ref.resource.as_str();
        if resource.is_empty() {
            errors.push(FieldError::required(child(&resource_path, "resource"), ""));
        } else if !RESOURCE_FIELD_PATHS.contains(&resource)
            && !resource.starts_with("requests.hugepages-")
            && !resource.starts_with("limits.hugepages-")
        {
            errors.push(FieldError::not_supported(
                child(&resource_path, "resource"),
                resource,
                RESOURCE_FIELD_PATHS,
            ));
        }
    }
    if let Some(selector) = &source.config_map_key_ref {
        count += 1;
        errors.extend(key_selector(
            &selector.name,
            &selector.key,
            &child(path, "configMapKeyRef"),
        ));
    }
    if let Some(selector) = &source.secret_key_ref {
        count += 1;
        errors.extend(key_selector(
            &selector.name,
            &selector.key,
            &child(path, "secretKeyRef"),
        ));
    }
    if count == 0 {
        errors.push(FieldError::invalid_str(
            path,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ));
    } else if has_value {
        errors.push(FieldError::invalid_str(
            path,
            "",
            "may not be specified when `value` is not empty",
        ));
    } else if count > 1 {
        errors.push(FieldError::invalid_str(
            path,
            "",
            "may not have more than one field specified at a time",
        ));
    }
    errors
}

/// `metadata.labels['app']`-style paths: (path, subscript).
fn split_subscript(field_path: &str) -> Option<(&str, &str)> {
    let open = field_path.find('[')?;
    let inner = field_path[open + 1..].strip_suffix(']')?;
    let subscript = inner
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))?;
    Some((&field_path[..open], subscript))
}

fn object_field_selector(api_version: &str, field_path: &str, path: &str) -> Vec<FieldError> {
    if api_version.is_empty() {
        return vec![FieldError::required(child(path, "apiVersion"), "")];
    }
    if field_path.is_empty() {
        return vec![FieldError::required(child(path, "fieldPath"), "")];
    }
    let conversion_error = if api_version != "v1" {
        Some(format!("unsupported pod version: {api_version}"))
    } else if let Some((base, _)) = split_subscript(field_path) {
        (!matches!(base, "metadata.annotations" | "metadata.labels"))
            .then(|| format!("field label does not support subscript: {field_path}"))
    } else {
        (!DOWNWARD_API_PATHS.contains(&field_path))
            .then(|| format!("field label not supported: {field_path}"))
    };
    if let Some(err) = conversion_error {
        return vec![FieldError::invalid_str(
            child(path, "fieldPath"),
            field_path,
            format!("error converting fieldPath: {err}"),
        )];
    }
    if let Some((base, subscript)) = split_subscript(field_path) {
        let subscript = if base == "metadata.annotations" {
            subscript.to_lowercase()
        } else {
            subscript.to_string()
        };
        return super::qualified_name(path, &subscript);
    }
    let internal = if field_path == "spec.host" {
        "spec.nodeName"
    } else {
        field_path
    };
    if ENV_FIELD_PATHS.contains(&internal) {
        Vec::new()
    } else {
        let mut supported = ENV_FIELD_PATHS.to_vec();
        supported.sort_unstable();
        vec![FieldError::not_supported(
            child(path, "fieldPath"),
            internal,
            &supported,
        )]
    }
}

fn key_selector(name: &str, key: &str, path: &str) -> Vec<FieldError> {
    let mut errors = invalid_problems(&child(path, "name"), name, names::dns1123_subdomain(name));
    if key.is_empty() {
        errors.push(FieldError::required(child(path, "key"), ""));
    } else {
        errors.extend(invalid_problems(
            &child(path, "key"),
            key,
            names::config_map_key(key),
        ));
    }
    errors
}

fn env_from(sources: &[EnvFromSource], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let source_path = index(path, i);
        let prefix = text(&source.prefix);
        if !prefix.is_empty() {
            errors.extend(invalid_problems(
                &child(&source_path, "prefix"),
                prefix,
                names::relaxed_env_var_name(prefix),
            ));
        }
        let refs = [
            (
                "configMapRef",
                source.config_map_ref.as_ref().map(|r| r.name.as_str()),
            ),
            (
                "secretRef",
                source.secret_ref.as_ref().map(|r| r.name.as_str()),
            ),
        ];
        let mut count = 0;
        for (field, name) in refs {
            let Some(name) = name else { continue };
            count += 1;
            let name_path = child(&child(&source_path, field), "name");
            if name.is_empty() {
                errors.push(FieldError::required(name_path, ""));
            } else {
                errors.extend(invalid_problems(
                    &name_path,
                    name,
                    name_prefix_problems(name),
                ));
            }
        }
        if count == 0 {
            errors.push(FieldError::invalid_str(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errors.push(FieldError::invalid_str(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errors
}

/// Env sources check referenced names as generateName prefixes, so a trailing
/// dash passes.
fn name_prefix_problems(name: &str) -> Vec<String> {
    match name.strip_suffix('-') {
        Some(rest) => names::dns1123_subdomain(&format!("{rest}a")),
        None => names::dns1123_subdomain(name),
    }
}

fn volume_mounts(
    mounts: &[VolumeMount],
    ctx: &PodContext,
    privileged: bool,
    path: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut mount_points = BTreeSet::new();
    for (i, mount) in mounts.iter().enumerate() {
        let mount_path = index(path, i);
        if mount.name.is_empty() {
            errors.push(FieldError::required(child(&mount_path, "name"), ""));
        }
        if !ctx.volumes.contains(mount.name.as_str()) {
            errors.push(not_found(&child(&mount_path, "name"), &mount.name));
        }
        if mount.mount_path.is_empty() {
            errors.push(FieldError::required(child(&mount_path, "mountPath"), ""));
        }
        if !mount_points.insert(mount.mount_path.as_str()) {
            errors.push(FieldError::invalid_str(
                child(&mount_path, "mountPath"),
                &mount.mount_path,
                "must be unique",
            ));
        }
        // Kubernetes reports sub-path problems on the list, not the entry.
        let sub_path = text(&mount.sub_path);
        if !sub_path.is_empty() {
            errors.extend(local_descending_path(sub_path, &child(path, "subPath")));
        }
        let sub_path_expr = text(&mount.sub_path_expr);
        if !sub_path_expr.is_empty() {
            if !sub_path.is_empty() {
                errors.push(FieldError::invalid_str(
                    child(&mount_path, "subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errors.extend(local_descending_path(
                sub_path_expr,
                &child(path, "subPathExpr"),
            ));
        }
        if let Some(propagation) = mount.mount_propagation.as_deref() {
            const MODES: &[&str] = &["Bidirectional", "HostToContainer", "None"];
            if !MODES.contains(&propagation) {
                errors.push(FieldError::not_supported(
                    child(path, "mountPropagation"),
                    propagation,
                    MODES,
                ));
            }
            if propagation == "Bidirectional" && !privileged {
                errors.push(FieldError::forbidden(
                    child(path, "mountPropagation"),
                    "Bidirectional mount propagation is available only to privileged containers",
                ));
            }
        }
    }
    errors
}

/// A relative path that stays below its base directory.
pub(crate) fn local_descending_path(target: &str, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if target.starts_with('/') {
        errors.push(FieldError::invalid_str(
            path,
            target,
            "must be a relative path",
        ));
    }
    errors.extend(no_backsteps(target, path));
    errors
}

pub(crate) fn no_backsteps(target: &str, path: &str) -> Vec<FieldError> {
    if target.split('/').any(|part| part == "..") {
        vec![FieldError::invalid_str(
            path,
            target,
            "must not contain '..'",
        )]
    } else {
        Vec::new()
    }
}

/// Paths of projected files: relative, no `..` element, no leading `..`.
pub(crate) fn local_non_reserved_path(target: &str, path: &str) -> Vec<FieldError> {
    let mut errors = local_descending_path(target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        errors.push(FieldError::invalid_str(
            path,
            target,
            "must not start with '..'",
        ));
    }
    errors
}

pub(crate) fn file_mode(mode: Option<i32>, path: &str) -> Vec<FieldError> {
    match mode {
        Some(mode) if !(0..=0o777).contains(&mode) => {
            vec![FieldError::invalid(path, mode, FILE_MODE_MSG)]
        }
        _ => Vec::new(),
    }
}

fn pull_policy(policy: &str, path: &str) -> Vec<FieldError> {
    match policy {
        "Always" | "IfNotPresent" | "Never" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["Always", "IfNotPresent", "Never"],
        )],
    }
}

/// Resource names native to Kubernetes (unprefixed or under kubernetes.io/).
fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Unprefixed names Kubernetes knows at all (requests/limits/quota names).
fn is_standard_resource(name: &str) -> bool {
    const STANDARD: &[&str] = &[
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "quota",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "persistentvolumeclaims",
        "configmaps",
        "services.nodeports",
        "services.loadbalancers",
        "storage",
        "requests.storage",
    ];
    STANDARD.contains(&name) || is_hugepages(name) || name.starts_with("requests.hugepages-")
}

fn container_resource_name(name: &str, path: &str) -> Vec<FieldError> {
    let problems = names::qualified_name(name);
    if !problems.is_empty() {
        return invalid_problems(path, name, problems);
    }
    let mut errors = Vec::new();
    if !name.contains('/') {
        if !is_standard_resource(name) {
            errors.push(FieldError::invalid_str(
                path,
                name,
                "must be a standard resource type or fully qualified",
            ));
        }
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage") && !is_hugepages(name) {
            errors.push(FieldError::invalid_str(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    }
    errors
}

fn resource_requirements(resources: &ResourceRequirements, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let limits_path = child(path, "limits");
    let requests_path = child(path, "requests");
    let limits = resources.limits.as_ref();
    for (name, q) in limits.into_iter().flatten() {
        let entry = key(&limits_path, name);
        errors.extend(container_resource_name(name, &entry));
        errors.extend(nonnegative_quantity(&q.0, &entry));
    }
    for (name, q) in resources.requests.iter().flatten() {
        let entry = key(&requests_path, name);
        errors.extend(container_resource_name(name, &entry));
        errors.extend(nonnegative_quantity(&q.0, &entry));
        let overcommit = is_native_resource(name) && !is_hugepages(name);
        match limits.and_then(|l| l.get(name)) {
            Some(limit) => {
                let (Some(request_value), Some(limit_value)) =
                    (quantity::value(&q.0), quantity::value(&limit.0))
                else {
                    continue;
                };
                if !overcommit && request_value != limit_value {
                    errors.push(FieldError::invalid_str(
                        &requests_path,
                        &q.0,
                        format!("must be equal to {name} limit of {}", limit.0),
                    ));
                } else if request_value > limit_value {
                    errors.push(FieldError::invalid_str(
                        &requests_path,
                        &q.0,
                        format!("must be less than or equal to {name} limit of {}", limit.0),
                    ));
                }
            }
            None if !overcommit => errors.push(FieldError::required(
                &limits_path,
                "Limit must be set for non overcommitable resources",
            )),
            None => {}
        }
    }
    errors
}

fn nonnegative_quantity(q: &str, path: &str) -> Vec<FieldError> {
    match quantity::value(q) {
        Some(v) if v < 0.0 => vec![FieldError::invalid_str(
            path,
            q,
            "must be greater than or equal to 0",
        )],
        _ => Vec::new(),
    }
}

/// User and group ids: unsigned 32-bit.
pub(crate) fn id_range(value: i64, path: &str) -> Vec<FieldError> {
    if (0..=MAX_ID).contains(&value) {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            path,
            value,
            format!("must be between 0 and {MAX_ID}, inclusive"),
        )]
    }
}

fn security_context(sc: &SecurityContext, host_users: bool, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(uid) = sc.run_as_user {
        errors.extend(id_range(uid, &child(path, "runAsUser")));
    }
    if let Some(gid) = sc.run_as_group {
        errors.extend(id_range(gid, &child(path, "runAsGroup")));
    }
    if let Some(proc_mount) = sc.proc_mount.as_deref() {
        if !matches!(proc_mount, "Default" | "Unmasked") {
            errors.push(FieldError::not_supported(
                child(path, "procMount"),
                proc_mount,
                &["Default", "Unmasked"],
            ));
        } else if host_users && proc_mount == "Unmasked" {
            errors.push(FieldError::invalid_str(
                child(path, "procMount"),
                proc_mount,
                "`hostUsers` must be false to use `Unmasked`",
            ));
        }
    }
    errors.extend(seccomp_profile(
        sc.seccomp_profile.as_ref(),
        &child(path, "seccompProfile"),
    ));
    if sc.allow_privilege_escalation == Some(false) {
        if sc.privileged == Some(true) {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                path,
                Some("core.SecurityContext{...}".to_string()),
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            ));
        }
        let adds_sys_admin = sc
            .capabilities
            .as_ref()
            .is_some_and(|caps| items(&caps.add).iter().any(|c| c == "CAP_SYS_ADMIN"));
        if adds_sys_admin {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                path,
                Some("core.SecurityContext{...}".to_string()),
                "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
            ));
        }
    }
    errors
}

pub(crate) fn seccomp_profile(profile: Option<&SeccompProfile>, path: &str) -> Vec<FieldError> {
    let Some(profile) = profile else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    let type_path = child(path, "type");
    match profile.type_.as_str() {
        "Localhost" | "RuntimeDefault" | "Unconfined" => {}
        "" => errors.push(FieldError::required(
            type_path,
            "type is required when seccompProfile is set",
        )),
        other => errors.push(FieldError::not_supported(
            type_path,
            other,
            &["Localhost", "RuntimeDefault", "Unconfined"],
        )),
    }
    let localhost_path = child(path, "localhostProfile");
    match (profile.type_.as_str(), profile.localhost_profile.as_deref()) {
        ("Localhost", None) => errors.push(FieldError::required(
            localhost_path,
            "must be set when seccomp type is Localhost",
        )),
        ("Localhost", Some(file)) => errors.extend(local_descending_path(file, &localhost_path)),
        (_, Some(file)) => errors.push(FieldError::invalid_str(
            localhost_path,
            file,
            "can only be set when seccomp type is Localhost",
        )),
        (_, None) => {}
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> PodContext<'static> {
        PodContext {
            volumes: BTreeSet::from(["data"]),
            grace_period: Some(30),
            host_users: true,
        }
    }

    fn container(value: serde_json::Value) -> Container {
        serde_json::from_value(value).unwrap()
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_defaulted_container_passes() {
        let c = container(json!({
            "name": "web", "image": "nginx", "imagePullPolicy": "Always",
            "terminationMessagePolicy": "File",
            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
            "env": [{"name": "A", "value": "1"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "1"}}
        }));
        let errors = container_common(&c, &ctx(), "spec.containers[0]");
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn typical_container_mistakes() {
        let c = container(json!({
            "name": "Web", "imagePullPolicy": "Sometimes",
            "terminationMessagePolicy": "File",
            "ports": [{"containerPort": 70000, "protocol": "UDPX"}],
            "env": [{"name": "A=B"}],
            "volumeMounts": [{"name": "missing", "mountPath": "/x"}],
            "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}
        }));
        let errors = container_common(&c, &ctx(), "spec.containers[0]");
        assert_eq!(
            fields(&errors),
            vec![
                "spec.containers[0].name",
                "spec.containers[0].image",
                "spec.containers[0].ports[0].containerPort",
                "spec.containers[0].ports[0].protocol",
                "spec.containers[0].env[0].name",
                "spec.containers[0].volumeMounts[0].name",
                "spec.containers[0].imagePullPolicy",
                "spec.containers[0].resources.requests",
            ]
        );
        assert_eq!(
            errors[2].full_message(),
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(errors[5].message(), "Not found: \"missing\"");
        assert_eq!(
            errors[7].message(),
            "Invalid value: \"2\": must be less than or equal to cpu limit of 1"
        );
    }

    #[test]
    fn probes_need_exactly_one_handler_and_sane_numbers() {
        let c = container(json!({
            "name": "web",
            "livenessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80},
                              "successThreshold": 2, "periodSeconds": -1},
            "readinessProbe": {"periodSeconds": 10},
            "startupProbe": {"httpGet": {"path": "/", "port": "http", "scheme": "HTTP"}, "successThreshold": 1}
        }));
        let errors = hooks_and_probes(&c, &ctx(), "spec.containers[0]");
        assert_eq!(
            fields(&errors),
            vec![
                "spec.containers[0].livenessProbe.tcpSocket",
                "spec.containers[0].livenessProbe.periodSeconds",
                "spec.containers[0].livenessProbe.successThreshold",
                "spec.containers[0].readinessProbe",
            ]
        );
        assert_eq!(errors[2].message(), "Invalid value: 2: must be 1");
        assert_eq!(
            errors[3].message(),
            "Required value: must specify a handler type"
        );
    }

    #[test]
    fn env_sources() {
        let c = container(json!({
            "name": "web", "image": "x", "imagePullPolicy": "Always", "terminationMessagePolicy": "File",
            "env": [
                {"name": "A", "valueFrom": {}},
                {"name": "B", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}}},
                {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "a/b"}}}
            ],
            "envFrom": [{"configMapRef": {"name": "cm"}, "secretRef": {"name": "s"}}]
        }));
        let errors = container_common(&c, &ctx(), "spec.containers[0]");
        assert_eq!(
            fields(&errors),
            vec![
                "spec.containers[0].env[0].valueFrom",
                "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath",
                "spec.containers[0].env[2].valueFrom.configMapKeyRef.key",
                "spec.containers[0].envFrom",
            ]
        );
    }
}

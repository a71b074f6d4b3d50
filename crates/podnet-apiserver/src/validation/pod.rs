//! Pods, pod specs and pod templates (`ValidatePodCreate`, `ValidatePodSpec`,
//! `ValidatePodTemplateSpec`, `ValidatePodUpdate`).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    Container, Pod, PodSecurityContext, PodSpec, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::container::{
    container_common, file_mode, hooks_and_probes, host_port_conflicts, id_range,
    local_non_reserved_path, no_backsteps, seccomp_profile, PodContext,
};
use super::meta::{
    validate_annotations, validate_labels, validate_meta, validate_meta_update_with, MetaRules,
    NameRule,
};
use super::{child, index, items, scheduling, text};
use crate::status::FieldError;

const POD_META: MetaRules = MetaRules::namespaced(NameRule::Subdomain);

/// Fields a running pod's spec may change, as Kubernetes lists them.
const UPDATABLE_POD_FIELDS: &[&str] = &[
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
];

/// Volume sources in the order Kubernetes checks them, with the field name
/// its "more than 1 volume type" error uses (two differ from the JSON name).
const VOLUME_SOURCES: &[(&str, &str)] = &[
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
];

const HOST_PATH_TYPES: &[&str] = &[
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
];

pub(crate) fn pod_create(pod: &Pod) -> Vec<FieldError> {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut errors = pod_metadata_and_spec(&pod.metadata, &spec);
    if !items(&spec.ephemeral_containers).is_empty() {
        errors.push(FieldError::forbidden(
            "spec.ephemeralContainers",
            "cannot be set on create",
        ));
    }
    if !text(&spec.node_name).is_empty() && !items(&spec.scheduling_gates).is_empty() {
        errors.push(FieldError::forbidden(
            "spec.nodeName",
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errors
}

fn pod_metadata_and_spec(meta: &ObjectMeta, spec: &PodSpec) -> Vec<FieldError> {
    let mut errors = validate_meta(meta, POD_META);
    errors.extend(pod_only_checks(spec));
    errors
}

/// Pod spec checks plus those Kubernetes applies to pods but not templates.
fn pod_only_checks(spec: &PodSpec) -> Vec<FieldError> {
    let mut errors = validate_pod_spec(spec, "spec", true);
    if text(&spec.service_account_name).is_empty() {
        for (vi, volume) in items(&spec.volumes).iter().enumerate() {
            let Some(projected) = &volume.projected else {
                continue;
            };
            for (si, source) in items(&projected.sources).iter().enumerate() {
                if source.service_account_token.is_some() {
                    errors.push(FieldError::forbidden(
                        format!("spec.volumes[{vi}].projected.sources[{si}].serviceAccountToken"),
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    for (field, list) in [
        ("containers", &spec.containers[..]),
        ("initContainers", items(&spec.init_containers)),
    ] {
        for (i, c) in list.iter().enumerate() {
            let image = text(&c.image);
            if image.len() != image.trim().len() {
                errors.push(FieldError::invalid_str(
                    format!("spec.{field}[{i}].image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    errors
}

pub(crate) fn pod_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let new_spec = new.spec.clone().unwrap_or_default();
    let old_spec = old.spec.clone().unwrap_or_default();
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, POD_META);
    errors.extend(pod_only_checks(&new_spec));
    for (field, new_list, old_list) in [
        (
            "containers",
            &new_spec.containers[..],
            &old_spec.containers[..],
        ),
        (
            "initContainers",
            items(&new_spec.init_containers),
            items(&old_spec.init_containers),
        ),
    ] {
        let path = format!("spec.{field}");
        if new_list.len() != old_list.len() {
            errors.push(FieldError::forbidden(
                path,
                "pod updates may not add or remove containers",
            ));
            return errors;
        }
        for (i, c) in new_list.iter().enumerate() {
            if text(&c.image).is_empty() {
                errors.push(FieldError::required(format!("{path}[{i}].image"), ""));
            }
        }
    }
    if let Some(deadline) = new_spec.active_deadline_seconds {
        let path = "spec.activeDeadlineSeconds";
        if !(0..=i64::from(i32::MAX)).contains(&deadline) {
            errors.push(FieldError::invalid(
                path,
                deadline,
                format!("must be between 0 and {}, inclusive", i32::MAX),
            ));
            return errors;
        }
        if old_spec
            .active_deadline_seconds
            .is_some_and(|old| old < deadline)
        {
            errors.push(FieldError::invalid(
                path,
                deadline,
                "must be less than or equal to previous value",
            ));
            return errors;
        }
    } else if old_spec.active_deadline_seconds.is_some() {
        errors.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            "null",
            "must not update from a positive integer to nil value",
        ));
    }
    errors.extend(only_added_tolerations(&new_spec, &old_spec));
    errors.extend(only_removed_scheduling_gates(&new_spec, &old_spec));
    errors.extend(immutable_pod_spec(&new_spec, &old_spec));
    errors
}

fn only_added_tolerations(new: &PodSpec, old: &PodSpec) -> Vec<FieldError> {
    let path = "spec.tolerations";
    for old_toleration in items(&old.tolerations) {
        let kept = items(&new.tolerations).iter().any(|t| {
            let mut candidate = old_toleration.clone();
            candidate.toleration_seconds = t.toleration_seconds;
            &candidate == t
        });
        if !kept {
            return vec![FieldError::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    scheduling::tolerations(items(&new.tolerations), path)
}

fn only_removed_scheduling_gates(new: &PodSpec, old: &PodSpec) -> Vec<FieldError> {
    let old_names: BTreeSet<&str> = items(&old.scheduling_gates)
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    items(&new.scheduling_gates)
        .iter()
        .enumerate()
        .filter(|(_, g)| !old_names.contains(g.name.as_str()))
        .map(|(i, g)| {
            FieldError::forbidden(
                format!("spec.schedulingGates[{i}].name"),
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    g.name
                ),
            )
        })
        .collect()
}

/// Everything but the updatable fields must stay as it was.
fn immutable_pod_spec(new: &PodSpec, old: &PodSpec) -> Vec<FieldError> {
    let (Ok(mut munged), Ok(old_json)) = (serde_json::to_value(new), serde_json::to_value(old))
    else {
        return vec![FieldError::forbidden("spec", "pod spec does not encode")];
    };
    for field in ["containers", "initContainers"] {
        if let Some(list) = munged.get_mut(field).and_then(Value::as_array_mut) {
            for (i, c) in list.iter_mut().enumerate() {
                match old_json[field][i].get("image") {
                    Some(image) => c["image"] = image.clone(),
                    None => {
                        if let Some(obj) = c.as_object_mut() {
                            obj.remove("image");
                        }
                    }
                }
            }
        }
    }
    for field in ["activeDeadlineSeconds", "schedulingGates", "tolerations"] {
        copy_field(&mut munged, &old_json, field);
    }
    let old_grace = old.termination_grace_period_seconds;
    if old_grace.is_some_and(|g| g < 0) && new.termination_grace_period_seconds == Some(1) {
        copy_field(&mut munged, &old_json, "terminationGracePeriodSeconds");
    }
    let (munged, old_json) = (super::normalized(munged), super::normalized(old_json));
    if munged == old_json {
        return Vec::new();
    }
    let mut diff = Vec::new();
    json_diff(&old_json, &munged, "spec", &mut diff);
    vec![FieldError::forbidden(
        "spec",
        format!(
            "pod updates may not change fields other than {}\n{}",
            UPDATABLE_POD_FIELDS.join(","),
            diff.join("\n")
        ),
    )]
}

fn copy_field(target: &mut Value, source: &Value, field: &str) {
    let Some(target) = target.as_object_mut() else {
        return;
    };
    match source.get(field) {
        Some(v) => {
            target.insert(field.to_string(), v.clone());
        }
        None => {
            target.remove(field);
        }
    }
}

/// Changed leaves as `-path: old` / `+path: new` lines.
fn json_diff(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let (x, y) = (
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                );
                json_diff(x, y, &child(path, k), out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                json_diff(x, y, &index(path, i), out);
            }
        }
        (x, y) if x != y => {
            out.push(format!("- {path}: {x}"));
            out.push(format!("+ {path}: {y}"));
        }
        _ => {}
    }
}

/// A pod template inside a workload: labels, annotations and the pod spec.
pub(crate) fn validate_pod_template(template: &PodTemplateSpec, path: &str) -> Vec<FieldError> {
    let meta = template.metadata.clone().unwrap_or_default();
    let spec = template.spec.clone().unwrap_or_default();
    let mut errors = validate_labels(meta.labels.as_ref(), &child(path, "labels"));
    errors.extend(validate_annotations(
        meta.annotations.as_ref(),
        &child(path, "annotations"),
    ));
    let spec_path = child(path, "spec");
    errors.extend(validate_pod_spec(&spec, &spec_path, false));
    if !items(&spec.ephemeral_containers).is_empty() {
        errors.push(FieldError::forbidden(
            child(&spec_path, "ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errors
}

/// A pod spec; `is_pod` when it is a Pod's own (host ports must be explicit then).
pub(crate) fn validate_pod_spec(spec: &PodSpec, path: &str, is_pod: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if spec.termination_grace_period_seconds.is_none() {
        errors.push(FieldError::required(
            child(path, "terminationGracePeriodSeconds"),
            "",
        ));
    }
    let (volume_names, volume_errors) = volumes(items(&spec.volumes), &child(path, "volumes"));
    errors.extend(volume_errors);
    let ctx = PodContext {
        volumes: volume_names,
        grace_period: spec.termination_grace_period_seconds,
        host_users: spec.host_users != Some(false),
    };
    errors.extend(containers(
        &spec.containers,
        &ctx,
        &child(path, "containers"),
    ));
    errors.extend(init_containers(spec, &ctx, &child(path, "initContainers")));
    errors.extend(host_network_ports(spec, path, is_pod));
    errors.extend(policies_and_scheduling(spec, path));
    errors.extend(named_references(spec, path));
    errors.extend(deadline_and_host_names(spec, path));
    errors.extend(scheduling::tolerations(
        items(&spec.tolerations),
        &child(path, "tolerations"),
    ));
    errors.extend(scheduling::host_aliases(
        items(&spec.host_aliases),
        &child(path, "hostAliases"),
    ));
    errors.extend(later_fields(spec, path));
    errors
}

/// restartPolicy through topologySpreadConstraints, in Kubernetes' order.
fn policies_and_scheduling(spec: &PodSpec, path: &str) -> Vec<FieldError> {
    let mut errors = restart_policy(text(&spec.restart_policy), &child(path, "restartPolicy"));
    errors.extend(dns_policy(
        text(&spec.dns_policy),
        &child(path, "dnsPolicy"),
    ));
    errors.extend(validate_labels(
        spec.node_selector.as_ref(),
        &child(path, "nodeSelector"),
    ));
    if let Some(sc) = &spec.security_context {
        errors.extend(pod_security_context(
            sc,
            spec,
            &child(path, "securityContext"),
        ));
    }
    if let Some(affinity) = &spec.affinity {
        errors.extend(scheduling::affinity(affinity, &child(path, "affinity")));
    }
    errors.extend(scheduling::dns_config(
        spec.dns_config.as_ref(),
        text(&spec.dns_policy),
        &child(path, "dnsConfig"),
    ));
    let gates_path = child(path, "readinessGates");
    for (i, gate) in items(&spec.readiness_gates).iter().enumerate() {
        errors.extend(super::qualified_name(
            &child(&index(&gates_path, i), "conditionType"),
            &gate.condition_type,
        ));
    }
    let gate_names: Vec<String> = items(&spec.scheduling_gates)
        .iter()
        .map(|g| g.name.clone())
        .collect();
    errors.extend(scheduling::scheduling_gates(
        &gate_names,
        &child(path, "schedulingGates"),
    ));
    errors.extend(scheduling::topology_spread(
        items(&spec.topology_spread_constraints),
        &child(path, "topologySpreadConstraints"),
    ));
    errors
}

fn deadline_and_host_names(spec: &PodSpec, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(deadline) = spec.active_deadline_seconds {
        if !(1..=i64::from(i32::MAX)).contains(&deadline) {
            errors.push(FieldError::invalid(
                child(path, "activeDeadlineSeconds"),
                deadline,
                format!("must be between 1 and {}, inclusive", i32::MAX),
            ));
        }
    }
    for (field, value) in [
        ("hostname", text(&spec.hostname)),
        ("subdomain", text(&spec.subdomain)),
    ] {
        if !value.is_empty() {
            errors.extend(super::dns_label(&child(path, field), value));
        }
    }
    errors
}

/// serviceAccountName and nodeName name other objects.
fn named_references(spec: &PodSpec, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (field, value) in [
        ("serviceAccountName", text(&spec.service_account_name)),
        ("nodeName", text(&spec.node_name)),
    ] {
        if !value.is_empty() {
            errors.extend(super::dns_subdomain(&child(path, field), value));
        }
    }
    errors
}

/// priorityClassName, runtimeClassName, preemptionPolicy and os.
fn later_fields(spec: &PodSpec, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let priority_class = text(&spec.priority_class_name);
    if !priority_class.is_empty() {
        errors.extend(super::dns_subdomain(
            &child(path, "priorityClassName"),
            priority_class,
        ));
    }
    if let Some(runtime_class) = &spec.runtime_class_name {
        errors.extend(super::dns_subdomain(
            &child(path, "runtimeClassName"),
            runtime_class,
        ));
    }
    if let Some(policy) = spec.preemption_policy.as_deref() {
        let policy_path = child(path, "preemptionPolicy");
        match policy {
            "PreemptLowerPriority" | "Never" => {}
            "" => errors.push(FieldError::required(policy_path, "")),
            other => errors.push(FieldError::not_supported(
                policy_path,
                other,
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    if let Some(os) = &spec.os {
        let os_path = child(path, "os");
        if os.name.is_empty() {
            errors.push(FieldError::required(
                child(&os_path, "name"),
                "cannot be empty",
            ));
        } else if !matches!(os.name.as_str(), "linux" | "windows") {
            errors.push(FieldError::not_supported(
                os_path,
                &os.name,
                &["linux", "windows"],
            ));
        }
    }
    errors
}

fn containers(list: &[Container], ctx: &PodContext, path: &str) -> Vec<FieldError> {
    if list.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, c) in list.iter().enumerate() {
        let c_path = index(path, i);
        errors.extend(container_common(c, ctx, &c_path));
        if !seen.insert(c.name.as_str()) {
            errors.push(FieldError::duplicate(
                child(&c_path, "name"),
                format!("{:?}", c.name),
            ));
        }
        errors.extend(hooks_and_probes(c, ctx, &c_path));
        if c.restart_policy.is_some() {
            errors.push(FieldError::forbidden(
                child(&c_path, "restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    let all: Vec<&Container> = list.iter().collect();
    let indexes: Vec<usize> = (0..list.len()).collect();
    errors.extend(host_port_conflicts(&all, &indexes, path));
    errors
}

fn init_containers(spec: &PodSpec, ctx: &PodContext, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut names: BTreeSet<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in items(&spec.init_containers).iter().enumerate() {
        let c_path = index(path, i);
        errors.extend(container_common(c, ctx, &c_path));
        let restartable = match c.restart_policy.as_deref() {
            None => false,
            Some("Always") => true,
            Some(other) => {
                errors.push(FieldError::not_supported(
                    child(&c_path, "restartPolicy"),
                    other,
                    &["Always"],
                ));
                false
            }
        };
        if names.contains(c.name.as_str()) {
            errors.push(FieldError::duplicate(
                child(&c_path, "name"),
                format!("{:?}", c.name),
            ));
        } else if !c.name.is_empty() {
            names.insert(c.name.as_str());
        }
        // Init containers run one at a time, so only their own ports can clash.
        errors.extend(host_port_conflicts(&[c], &[i], path));
        if restartable {
            errors.extend(hooks_and_probes(c, ctx, &c_path));
        } else {
            let set = [
                ("lifecycle", c.lifecycle.is_some()),
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ];
            for (field, _) in set.iter().filter(|(_, present)| *present) {
                errors.push(FieldError::forbidden(
                    child(&c_path, field),
                    "may not be set for init containers without restartPolicy=Always",
                ));
            }
        }
    }
    errors
}

/// With host networking, host ports are the container ports (a template may
/// leave them 0: the pod created from it gets them defaulted).
fn host_network_ports(spec: &PodSpec, path: &str, is_pod: bool) -> Vec<FieldError> {
    if spec.host_network != Some(true) {
        return Vec::new();
    }
    let mut errors = Vec::new();
    let containers_path = child(path, "containers");
    for (i, c) in spec.containers.iter().enumerate() {
        for (j, port) in items(&c.ports).iter().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if (is_pod || host_port != 0) && host_port != port.container_port {
                errors.push(FieldError::invalid(
                    format!("{containers_path}[{i}].ports[{j}].hostPort"),
                    host_port,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
    errors
}

fn restart_policy(policy: &str, path: &str) -> Vec<FieldError> {
    match policy {
        "Always" | "OnFailure" | "Never" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["Always", "OnFailure", "Never"],
        )],
    }
}

fn dns_policy(policy: &str, path: &str) -> Vec<FieldError> {
    match policy {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        )],
    }
}

fn pod_security_context(sc: &PodSecurityContext, spec: &PodSpec, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(gid) = sc.fs_group {
        errors.extend(id_range(gid, &child(path, "fsGroup")));
    }
    if let Some(uid) = sc.run_as_user {
        errors.extend(id_range(uid, &child(path, "runAsUser")));
    }
    if let Some(gid) = sc.run_as_group {
        errors.extend(id_range(gid, &child(path, "runAsGroup")));
    }
    let groups_path = child(path, "supplementalGroups");
    for (i, gid) in items(&sc.supplemental_groups).iter().enumerate() {
        errors.extend(id_range(*gid, &index(&groups_path, i)));
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errors.push(FieldError::invalid(
            child(path, "shareProcessNamespace"),
            true,
            "ShareProcessNamespace and HostPID cannot both be enabled",
        ));
    }
    if let Some(policy) = sc.fs_group_change_policy.as_deref() {
        if !matches!(policy, "Always" | "OnRootMismatch") {
            errors.push(FieldError::not_supported(
                child(path, "fsGroupChangePolicy"),
                policy,
                &["Always", "OnRootMismatch"],
            ));
        }
    }
    errors.extend(seccomp_profile(
        sc.seccomp_profile.as_ref(),
        &child(path, "seccompProfile"),
    ));
    errors
}

/// Volume names and sources; returns the names later mounts may refer to.
fn volumes<'a>(list: &'a [Volume], path: &str) -> (BTreeSet<&'a str>, Vec<FieldError>) {
    let mut names = BTreeSet::new();
    let mut errors = Vec::new();
    for (i, volume) in list.iter().enumerate() {
        let v_path = index(path, i);
        let mut own = volume_source(volume, &v_path);
        let name_path = child(&v_path, "name");
        if volume.name.is_empty() {
            own.push(FieldError::required(&name_path, ""));
        } else {
            own.extend(super::dns_label(&name_path, &volume.name));
        }
        if names.contains(volume.name.as_str()) {
            own.push(FieldError::duplicate(
                &name_path,
                format!("{:?}", volume.name),
            ));
        }
        if own.is_empty() {
            names.insert(volume.name.as_str());
        } else {
            errors.extend(own);
        }
    }
    (names, errors)
}

/// Exactly one source; the common sources' required fields.
fn volume_source(volume: &Volume, path: &str) -> Vec<FieldError> {
    let json = serde_json::to_value(volume).unwrap_or(Value::Null);
    let mut errors = Vec::new();
    let mut count = 0;
    for (source, forbidden_name) in VOLUME_SOURCES {
        if json.get(source).is_none_or(Value::is_null) {
            continue;
        }
        count += 1;
        if count > 1 {
            errors.push(FieldError::forbidden(
                child(path, forbidden_name),
                "may not specify more than 1 volume type",
            ));
        } else {
            errors.extend(source_fields(volume, source, path));
        }
    }
    if count == 0 {
        errors.push(FieldError::required(path, "must specify a volume type"));
    }
    errors
}

fn source_fields(volume: &Volume, source: &str, path: &str) -> Vec<FieldError> {
    let source_path = child(path, source);
    match source {
        "hostPath" => volume
            .host_path
            .as_ref()
            .map(|h| host_path_source(h, &source_path)),
        "secret" => volume.secret.as_ref().map(|secret| {
            let mut errors = Vec::new();
            if text(&secret.secret_name).is_empty() {
                errors.push(FieldError::required(child(&source_path, "secretName"), ""));
            }
            errors.extend(projected_files(
                secret.default_mode,
                items(&secret.items),
                &source_path,
            ));
            errors
        }),
        "configMap" => volume.config_map.as_ref().map(|config_map| {
            let mut errors = Vec::new();
            if config_map.name.is_empty() {
                errors.push(FieldError::required(child(&source_path, "name"), ""));
            }
            errors.extend(projected_files(
                config_map.default_mode,
                items(&config_map.items),
                &source_path,
            ));
            errors
        }),
        "persistentVolumeClaim" => volume
            .persistent_volume_claim
            .as_ref()
            .filter(|c| c.claim_name.is_empty())
            .map(|_| vec![FieldError::required(child(&source_path, "claimName"), "")]),
        "nfs" => volume.nfs.as_ref().map(|nfs| nfs_source(nfs, &source_path)),
        _ => None,
    }
    .unwrap_or_default()
}

fn host_path_source(
    host_path: &k8s_openapi::api::core::v1::HostPathVolumeSource,
    path: &str,
) -> Vec<FieldError> {
    if host_path.path.is_empty() {
        return vec![FieldError::required(child(path, "path"), "")];
    }
    let mut errors = no_backsteps(&host_path.path, &child(path, "path"));
    let kind = text(&host_path.type_);
    if !HOST_PATH_TYPES.contains(&kind) {
        errors.push(FieldError::not_supported(
            child(path, "type"),
            kind,
            HOST_PATH_TYPES,
        ));
    }
    errors
}

fn nfs_source(nfs: &k8s_openapi::api::core::v1::NFSVolumeSource, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if nfs.server.is_empty() {
        errors.push(FieldError::required(child(path, "server"), ""));
    }
    if nfs.path.is_empty() {
        errors.push(FieldError::required(child(path, "path"), ""));
    }
    if !nfs.path.starts_with('/') {
        errors.push(FieldError::invalid_str(
            child(path, "path"),
            &nfs.path,
            "must be an absolute path",
        ));
    }
    errors
}

/// Secret and ConfigMap volumes: file modes and item paths.
fn projected_files(
    default_mode: Option<i32>,
    list: &[k8s_openapi::api::core::v1::KeyToPath],
    path: &str,
) -> Vec<FieldError> {
    let mut errors = file_mode(default_mode, &child(path, "defaultMode"));
    errors.extend(key_to_paths(list, &child(path, "items")));
    errors
}

fn key_to_paths(list: &[k8s_openapi::api::core::v1::KeyToPath], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let item_path = index(path, i);
        if item.key.is_empty() {
            errors.push(FieldError::required(child(&item_path, "key"), ""));
        }
        if item.path.is_empty() {
            errors.push(FieldError::required(child(&item_path, "path"), ""));
        }
        errors.extend(local_non_reserved_path(
            &item.path,
            &child(&item_path, "path"),
        ));
        errors.extend(file_mode(item.mode, &child(&item_path, "mode")));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    /// A pod as it looks after defaulting.
    fn pod() -> serde_json::Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
            "spec": {
                "containers": [{
                    "name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}]
                }],
                "volumes": [{"name": "data", "emptyDir": {}}],
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler",
                "securityContext": {}, "enableServiceLinks": true
            }
        })
    }

    #[test]
    fn a_defaulted_pod_is_valid() {
        assert_valid(&create("Pod", "", pod()));
    }

    #[test]
    fn pods_need_containers() {
        let mut p = pod();
        p["spec"]["containers"] = json!([]);
        p["spec"]["restartPolicy"] = json!("Sometimes");
        let errors = create("Pod", "", p);
        assert_eq!(
            fields(&errors),
            vec!["spec.containers", "spec.restartPolicy"]
        );
        assert_eq!(
            errors[1].message(),
            "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        );
    }

    #[test]
    fn duplicate_names_across_init_and_regular_containers() {
        let mut p = pod();
        let c = p["spec"]["containers"][0].clone();
        p["spec"]["initContainers"] = json!([c.clone()]);
        p["spec"]["containers"] = json!([c.clone(), c]);
        p["spec"]["containers"][1]["ports"] = json!([]);
        p["spec"]["initContainers"][0]["ports"] = json!([]);
        let errors = create("Pod", "", p);
        assert_eq!(
            fields(&errors),
            vec!["spec.containers[1].name", "spec.initContainers[0].name"]
        );
        assert_eq!(errors[0].message(), "Duplicate value: \"web\"");
    }

    #[test]
    fn volumes_hostnames_and_grace() {
        let mut p = pod();
        p["spec"]["volumes"] = json!([
            {"name": "data", "emptyDir": {}, "hostPath": {"path": "/x"}},
            {"name": "Cache"},
            {"name": "cfg", "configMap": {"name": "c", "items": [{"key": "a", "path": "../x"}]}}
        ]);
        p["spec"]["hostname"] = json!("my.host");
        p["spec"]["terminationGracePeriodSeconds"] = serde_json::Value::Null;
        let errors = create("Pod", "", p);
        assert_eq!(
            fields(&errors),
            vec![
                "spec.terminationGracePeriodSeconds",
                "spec.volumes[0].hostPath",
                "spec.volumes[1]",
                "spec.volumes[1].name",
                "spec.volumes[2].configMap.items[0].path",
                "spec.containers[0].volumeMounts[0].name",
                "spec.hostname",
            ]
        );
        assert_eq!(
            errors[6].message(),
            "Invalid value: \"my.host\": must not contain dots"
        );
    }

    #[test]
    fn host_ports_must_not_collide() {
        let mut p = pod();
        p["spec"]["containers"][0]["ports"] = json!([
            {"containerPort": 80, "hostPort": 8080, "protocol": "TCP"},
            {"containerPort": 81, "hostPort": 8080, "protocol": "TCP"}
        ]);
        let errors = create("Pod", "", p);
        assert_eq!(
            fields(&errors),
            vec!["spec.containers[0].ports[1].hostPort"]
        );
        assert_eq!(errors[0].message(), "Duplicate value: \"TCP//8080\"");
    }

    #[test]
    fn updates_may_change_images_only() {
        let old = pod();
        let mut image_change = pod();
        image_change["spec"]["containers"][0]["image"] = json!("nginx:1.28");
        assert_valid(&update("Pod", "", image_change, old.clone()));

        let mut port_change = pod();
        port_change["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(8080);
        let errors = update("Pod", "", port_change, old.clone());
        assert_eq!(fields(&errors), vec!["spec"]);
        assert!(errors[0].detail.starts_with(
            "pod updates may not change fields other than `spec.containers[*].image`"
        ));
        assert!(errors[0]
            .detail
            .contains("+ spec.containers[0].ports[0].containerPort: 8080"));

        let mut tolerated = pod();
        tolerated["spec"]["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
        assert_valid(&update("Pod", "", tolerated.clone(), old.clone()));
        let errors = update("Pod", "", old, tolerated);
        assert_eq!(fields(&errors), vec!["spec.tolerations"]);
    }

    #[test]
    fn empty_and_missing_fields_compare_equal() {
        let old = pod();
        let mut new = pod();
        new["spec"]["containers"][0]["resources"] = json!({});
        new["spec"]["containers"][0]["env"] = json!([]);
        assert_valid(&update("Pod", "", new, old));
    }

    #[test]
    fn adding_containers_is_forbidden() {
        let old = pod();
        let mut new = pod();
        let c = new["spec"]["containers"][0].clone();
        new["spec"]["containers"] = json!([c.clone(), c]);
        new["spec"]["containers"][1]["name"] = json!("sidecar");
        new["spec"]["containers"][1]["ports"] = json!([]);
        let errors = update("Pod", "", new, old);
        assert_eq!(
            errors[0].message(),
            "Forbidden: pod updates may not add or remove containers"
        );
    }
}

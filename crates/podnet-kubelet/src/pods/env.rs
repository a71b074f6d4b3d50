//! A container's environment, command and arguments as Kubernetes resolves
//! them: `env` values in order, `valueFrom.fieldRef` from the pod, and
//! `$(VAR)` references expanded against the variables defined before.

use std::collections::HashMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Container, Pod};

/// Why a container's configuration cannot be turned into a process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerConfigError {
    /// Images are not pulled, so there is no image ENTRYPOINT to fall back on.
    #[error("container {container:?} has no command: podnet runs programs of the host and has no image ENTRYPOINT to fall back on; set `command`")]
    NoCommand { container: String },
    #[error("env {variable:?} of container {container:?}: fieldRef {field_path:?} is not supported in environment variables")]
    UnsupportedFieldPath {
        container: String,
        variable: String,
        field_path: String,
    },
    #[error("env {variable:?} of container {container:?}: {source_kind} is not supported by podnet (no ConfigMaps, Secrets or resource limits are read by the node)")]
    UnsupportedSource {
        container: String,
        variable: String,
        source_kind: &'static str,
    },
    #[error("container {container:?}: envFrom is not supported by podnet (ConfigMaps and Secrets are not read by the node)")]
    EnvFrom { container: String },
}

/// What `fieldRef`s may read besides the pod object itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodAddresses {
    pub pod_ips: Vec<IpAddr>,
    pub host_ips: Vec<IpAddr>,
}

/// Expands `$(NAME)` in `input` with `lookup`, as Kubernetes does: `$$` is a
/// literal `$`, an unknown or unterminated reference stays as written, and a
/// `$` not followed by `(` or `$` is kept.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if after.is_empty() {
            out.push('$');
            rest = after;
            break;
        }
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(reference) = after.strip_prefix('(') {
            match reference.find(')') {
                Some(end) => {
                    let name = &reference[..end];
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &reference[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = reference;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The environment of `container` in `pod`, in declaration order (a name
/// declared twice keeps its first position and its last value).
pub fn container_env(
    pod: &Pod,
    container: &Container,
    addresses: &PodAddresses,
) -> Result<Vec<(String, String)>, ContainerConfigError> {
    if container.env_from.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err(ContainerConfigError::EnvFrom {
            container: container.name.clone(),
        });
    }
    let mut order: Vec<String> = Vec::new();
    let mut values: HashMap<String, String> = HashMap::new();
    for var in container.env.iter().flatten() {
        let value = match &var.value_from {
            None => {
                let raw = var.value.clone().unwrap_or_default();
                expand(&raw, |name| values.get(name).cloned())
            }
            Some(source) => {
                let unsupported = |source_kind| ContainerConfigError::UnsupportedSource {
                    container: container.name.clone(),
                    variable: var.name.clone(),
                    source_kind,
                };
                if let Some(field) = &source.field_ref {
                    field_value(pod, &field.field_path, addresses).ok_or_else(|| {
                        ContainerConfigError::UnsupportedFieldPath {
                            container: container.name.clone(),
                            variable: var.name.clone(),
                            field_path: field.field_path.clone(),
                        }
                    })?
                } else if source.config_map_key_ref.is_some() {
                    return Err(unsupported("configMapKeyRef"));
                } else if source.secret_key_ref.is_some() {
                    return Err(unsupported("secretKeyRef"));
                } else if source.resource_field_ref.is_some() {
                    return Err(unsupported("resourceFieldRef"));
                } else {
                    return Err(unsupported("an empty valueFrom"));
                }
            }
        };
        if !values.contains_key(&var.name) {
            order.push(var.name.clone());
        }
        values.insert(var.name.clone(), value);
    }
    Ok(order
        .into_iter()
        .map(|name| {
            let value = values.remove(&name).unwrap_or_default();
            (name, value)
        })
        .collect())
}

/// The program and arguments of `container`: command then args, each with
/// `$(VAR)` expanded against `env`.
pub fn container_command(
    container: &Container,
    env: &[(String, String)],
) -> Result<Vec<String>, ContainerConfigError> {
    let command = container.command.clone().unwrap_or_default();
    if command.is_empty() {
        return Err(ContainerConfigError::NoCommand {
            container: container.name.clone(),
        });
    }
    let lookup = |name: &str| {
        env.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    Ok(command
        .iter()
        .chain(container.args.iter().flatten())
        .map(|word| expand(word, lookup))
        .collect())
}

/// The downward API value of `path` for an environment variable.
fn field_value(pod: &Pod, path: &str, addresses: &PodAddresses) -> Option<String> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let join = |ips: &[IpAddr]| {
        ips.iter()
            .map(|ip| ip.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let first = |ips: &[IpAddr]| ips.first().map(|ip| ip.to_string()).unwrap_or_default();
    if let Some(key) = subscript(path, "metadata.labels") {
        return Some(
            meta.labels
                .as_ref()
                .and_then(|l| l.get(key).cloned())
                .unwrap_or_default(),
        );
    }
    if let Some(key) = subscript(path, "metadata.annotations") {
        return Some(
            meta.annotations
                .as_ref()
                .and_then(|a| a.get(key).cloned())
                .unwrap_or_default(),
        );
    }
    Some(match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" => first(&addresses.pod_ips),
        "status.podIPs" => join(&addresses.pod_ips),
        "status.hostIP" => first(&addresses.host_ips),
        "status.hostIPs" => join(&addresses.host_ips),
        _ => return None,
    })
}

/// `key` of `prefix['key']`.
fn subscript<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)?
        .strip_prefix("['")?
        .strip_suffix("']")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn references_expand_and_unknown_ones_stay() {
        assert_eq!(expand("x-$(A)-y", lookup), "x-alpha-y");
        assert_eq!(expand("$(A)$(A)", lookup), "alphaalpha");
        assert_eq!(expand("$(B)", lookup), "$(B)");
        assert_eq!(expand("[$(EMPTY)]", lookup), "[]");
    }

    #[test]
    fn dollar_escapes_and_partial_references_are_kept_as_kubernetes_does() {
        assert_eq!(expand("$$(A)", lookup), "$(A)");
        assert_eq!(expand("$$$(A)", lookup), "$alpha");
        assert_eq!(expand("cost $5", lookup), "cost $5");
        assert_eq!(expand("end$", lookup), "end$");
        assert_eq!(expand("$(A", lookup), "$(A");
        assert_eq!(expand("é$(A)ü", lookup), "éalphaü");
    }

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1",
                         "labels": {"app": "web"}, "annotations": {"team": "a"}},
            "spec": {"nodeName": "node-1", "serviceAccountName": "default",
                     "containers": [{"name": "app"}]},
        }))
        .expect("pod")
    }

    fn container(value: serde_json::Value) -> Container {
        serde_json::from_value(value).expect("container")
    }

    #[test]
    fn env_reads_the_pod_and_earlier_variables() {
        let c = container(json!({"name": "app", "env": [
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['team']"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
            {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
            {"name": "ADDR", "value": "$(POD).$(NS):$(LATER)"},
            {"name": "LATER", "value": "x"},
        ]}));
        let addresses = PodAddresses {
            pod_ips: vec!["10.244.1.5".parse().unwrap(), "fd00::5".parse().unwrap()],
            host_ips: vec!["172.30.0.11".parse().unwrap()],
        };
        let env = container_env(&pod(), &c, &addresses).expect("env");
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("POD"), Some("web-0"));
        assert_eq!(get("NS"), Some("shop"));
        assert_eq!(get("UID"), Some("u-1"));
        assert_eq!(get("APP"), Some("web"));
        assert_eq!(get("TEAM"), Some("a"));
        assert_eq!(get("NODE"), Some("node-1"));
        assert_eq!(get("SA"), Some("default"));
        assert_eq!(get("IP"), Some("10.244.1.5"));
        assert_eq!(get("IPS"), Some("10.244.1.5,fd00::5"));
        assert_eq!(get("HOST"), Some("172.30.0.11"));
        // Only variables defined before are expanded.
        assert_eq!(get("ADDR"), Some("web-0.shop:$(LATER)"));
        assert_eq!(env[0].0, "POD");
    }

    #[test]
    fn a_repeated_name_keeps_its_place_and_takes_the_last_value() {
        let c = container(json!({"name": "app", "env": [
            {"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "A", "value": "$(A)3"},
        ]}));
        let env = container_env(&pod(), &c, &PodAddresses::default()).expect("env");
        assert_eq!(
            env,
            vec![("A".into(), "13".into()), ("B".into(), "2".into())]
        );
    }

    #[test]
    fn unsupported_sources_are_errors_naming_the_variable() {
        let c = container(json!({"name": "app", "env": [
            {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ]}));
        let error = container_env(&pod(), &c, &PodAddresses::default()).unwrap_err();
        assert!(error.to_string().contains("\"PASS\""), "{error}");
        assert!(error.to_string().contains("secretKeyRef"), "{error}");
        let c = container(json!({"name": "app", "env": [
            {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "metadata.generation"}}},
        ]}));
        assert!(matches!(
            container_env(&pod(), &c, &PodAddresses::default()),
            Err(ContainerConfigError::UnsupportedFieldPath { .. })
        ));
    }

    #[test]
    fn command_and_args_expand_with_the_environment() {
        let c = container(json!({"name": "app", "command": ["podnet", "workload"],
            "args": ["netexec", "--http-port=$(PORT)", "$$(PORT)", "$(NOPE)"]}));
        let env = vec![("PORT".to_string(), "8080".to_string())];
        assert_eq!(
            container_command(&c, &env).expect("command"),
            vec![
                "podnet",
                "workload",
                "netexec",
                "--http-port=8080",
                "$(PORT)",
                "$(NOPE)"
            ]
        );
    }

    #[test]
    fn a_container_without_command_is_an_error_that_says_why() {
        let c = container(json!({"name": "app", "args": ["--port", "80"]}));
        let error = container_command(&c, &[]).unwrap_err();
        assert_eq!(
            error,
            ContainerConfigError::NoCommand {
                container: "app".into()
            }
        );
        assert!(error.to_string().contains("ENTRYPOINT"));
    }
}

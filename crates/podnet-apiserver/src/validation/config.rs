//! Secrets, ConfigMaps and ServiceAccounts.

use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use podnet_model::names;

use super::meta::{validate_meta, validate_meta_update_with, MetaRules, NameRule};
use super::{immutable, invalid_problems, key, repr, text, too_long};
use crate::status::{FieldError, FieldErrorKind};

const META: MetaRules = MetaRules::namespaced(NameRule::Subdomain);
/// Secrets and ConfigMaps hold at most 1 MiB of data.
const MAX_DATA_SIZE: usize = 1024 * 1024;

pub(crate) fn secret_create(secret: &Secret) -> Vec<FieldError> {
    let mut errors = validate_meta(&secret.metadata, META);
    let mut total = 0;
    for (k, v) in secret.data.iter().flatten() {
        errors.extend(invalid_problems(
            &key("data", k),
            k,
            names::config_map_key(k),
        ));
        total += v.0.len();
    }
    if total > MAX_DATA_SIZE {
        errors.push(too_long("data", MAX_DATA_SIZE));
    }
    errors.extend(secret_type_rules(secret));
    errors
}

/// The keys each well-known secret type must carry.
fn secret_type_rules(secret: &Secret) -> Vec<FieldError> {
    let has = |k: &str| secret.data.as_ref().is_some_and(|d| d.contains_key(k));
    let value = |k: &str| secret.data.as_ref().and_then(|d| d.get(k)).map(|b| &b.0);
    let required = |k: &str| FieldError::required(key("data", k), "");
    let json_key = |k: &str| -> Vec<FieldError> {
        match value(k) {
            None => vec![required(k)],
            Some(bytes) => {
                match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes) {
                    Ok(_) => Vec::new(),
                    Err(err) => vec![FieldError::invalid_str(
                        key("data", k),
                        "<secret contents redacted>",
                        err.to_string(),
                    )],
                }
            }
        }
    };
    match text(&secret.type_) {
        "kubernetes.io/service-account-token" => {
            let name = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .map_or("", String::as_str);
            if name.is_empty() {
                vec![FieldError::required(
                    key("metadata.annotations", "kubernetes.io/service-account.name"),
                    "",
                )]
            } else {
                Vec::new()
            }
        }
        "kubernetes.io/dockercfg" => json_key(".dockercfg"),
        "kubernetes.io/dockerconfigjson" => json_key(".dockerconfigjson"),
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            vec![required("username"), required("password")]
        }
        "kubernetes.io/ssh-auth" if value("ssh-privatekey").is_none_or(Vec::is_empty) => {
            vec![required("ssh-privatekey")]
        }
        "kubernetes.io/tls" => ["tls.crt", "tls.key"]
            .into_iter()
            .filter(|k| !has(k))
            .map(required)
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn secret_update(new: &Secret, old: &Secret) -> Vec<FieldError> {
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, META);
    errors.extend(immutable(
        "type",
        &text(&new.type_),
        &text(&old.type_),
        |t| repr::quoted(t),
    ));
    if old.immutable == Some(true) {
        if new.immutable != Some(true) {
            errors.push(immutable_when_set("immutable"));
        }
        if new.data != old.data {
            errors.push(immutable_when_set("data"));
        }
    }
    errors.extend(secret_create(new));
    errors
}

fn immutable_when_set(path: &str) -> FieldError {
    FieldError::forbidden(path, "field is immutable when `immutable` is set")
}

pub(crate) fn config_map_create(cm: &ConfigMap) -> Vec<FieldError> {
    let mut errors = validate_meta(&cm.metadata, META);
    let mut total = 0;
    for (k, v) in cm.data.iter().flatten() {
        let path = key("data", k);
        errors.extend(invalid_problems(&path, k, names::config_map_key(k)));
        if cm.binary_data.as_ref().is_some_and(|b| b.contains_key(k)) {
            errors.push(FieldError::new(
                FieldErrorKind::Invalid,
                &path,
                Some(repr::quoted(k)),
                "duplicate of key present in binaryData",
            ));
        }
        total += v.len();
    }
    for (k, v) in cm.binary_data.iter().flatten() {
        errors.extend(invalid_problems(
            &key("binaryData", k),
            k,
            names::config_map_key(k),
        ));
        total += v.0.len();
    }
    if total > MAX_DATA_SIZE {
        // Kubernetes reports the size of the whole object, with an empty path.
        errors.push(too_long("", MAX_DATA_SIZE));
    }
    errors
}

pub(crate) fn config_map_update(new: &ConfigMap, old: &ConfigMap) -> Vec<FieldError> {
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, META);
    if old.immutable == Some(true) {
        if new.immutable != Some(true) {
            errors.push(immutable_when_set("immutable"));
        }
        if new.data != old.data {
            errors.push(immutable_when_set("data"));
        }
        if new.binary_data != old.binary_data {
            errors.push(immutable_when_set("binaryData"));
        }
    }
    errors.extend(config_map_create(new));
    errors
}

pub(crate) fn service_account_create(sa: &ServiceAccount) -> Vec<FieldError> {
    validate_meta(&sa.metadata, META)
}

pub(crate) fn service_account_update(
    new: &ServiceAccount,
    old: &ServiceAccount,
) -> Vec<FieldError> {
    let mut errors = validate_meta_update_with(&new.metadata, &old.metadata, META);
    errors.extend(service_account_create(new));
    errors
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    #[test]
    fn config_map_keys_and_size() {
        let cm = json!({
            "metadata": {"name": "cfg", "namespace": "default"},
            "data": {"app.properties": "a=1", "KEY_1": "x"},
            "binaryData": {"logo.png": "iVBORw=="}
        });
        assert_valid(&create("ConfigMap", "", cm.clone()));
        let mut bad = cm;
        bad["data"] = json!({"a/b": "x", "logo.png": "y", "big": "x".repeat(1024 * 1024)});
        let errors = create("ConfigMap", "", bad);
        assert_eq!(fields(&errors), vec!["data[a/b]", "data[logo.png]", ""]);
        assert_eq!(
            errors[2].message(),
            "Too long: must have at most 1048576 bytes"
        );
    }

    #[test]
    fn secret_types() {
        let tls = json!({
            "metadata": {"name": "cert", "namespace": "default"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "Y2VydA=="}
        });
        let errors = create("Secret", "", tls);
        assert_eq!(fields(&errors), vec!["data[tls.key]"]);
        let opaque = json!({
            "metadata": {"name": "s", "namespace": "default"},
            "type": "Opaque",
            "data": {".hidden": "eA==", "..bad": "eA=="}
        });
        let errors = create("Secret", "", opaque);
        assert_eq!(fields(&errors), vec!["data[..bad]"]);
        assert_eq!(
            errors[0].message(),
            "Invalid value: \"..bad\": must not start with '..'"
        );
        let docker = json!({
            "metadata": {"name": "pull", "namespace": "default"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": "bm90IGpzb24="}
        });
        assert_eq!(
            fields(&create("Secret", "", docker)),
            vec!["data[.dockerconfigjson]"]
        );
    }

    #[test]
    fn immutable_secrets_keep_their_data() {
        let old = json!({
            "metadata": {"name": "s", "namespace": "default", "resourceVersion": "1"},
            "type": "Opaque", "immutable": true, "data": {"a": "eA=="}
        });
        let mut new = old.clone();
        new["data"]["a"] = json!("eQ==");
        new["type"] = json!("kubernetes.io/basic-auth");
        let errors = update("Secret", "", new, old);
        assert_eq!(
            fields(&errors),
            vec!["type", "data", "data[username]", "data[password]"]
        );
    }

    #[test]
    fn immutable_config_maps_keep_their_data() {
        let old = json!({
            "metadata": {"name": "c", "namespace": "default", "resourceVersion": "1"},
            "immutable": true, "data": {"a": "1"}
        });
        let mut new = old.clone();
        new["data"]["a"] = json!("2");
        new["immutable"] = json!(false);
        let errors = update("ConfigMap", "", new, old);
        assert_eq!(fields(&errors), vec!["immutable", "data"]);
        assert_eq!(
            errors[0].message(),
            "Forbidden: field is immutable when `immutable` is set"
        );
    }

    #[test]
    fn service_accounts() {
        let sa = json!({"metadata": {"name": "builder", "namespace": "ci"}});
        assert_valid(&create("ServiceAccount", "", sa));
        let bad = json!({"metadata": {"name": "Builder", "namespace": "ci"}});
        assert_eq!(
            fields(&create("ServiceAccount", "", bad)),
            vec!["metadata.name"]
        );
    }
}

//! apps/v1 workloads: Deployments, ReplicaSets, StatefulSets, DaemonSets.
//!
//! The typed specs hold `selector` as a plain struct, so whether the client
//! sent one at all is read from the JSON: Kubernetes treats a missing
//! selector (required, selects nothing) unlike an empty one.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetUpdateStrategy, Deployment, DeploymentStrategy, ReplicaSet, StatefulSet,
    StatefulSetSpec,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::Metadata;
use podnet_model::{names, selector};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::meta::{
    label_selector, validate_annotations, validate_label_selector, validate_labels, validate_meta,
    validate_meta_update_with, MetaRules, NameRule,
};
use super::pod::validate_pod_template;
use super::{child, decode, items, nonnegative, repr, text};
use crate::status::{FieldError, FieldErrorKind};

const SUBDOMAIN_META: MetaRules = MetaRules::namespaced(NameRule::Subdomain);
const STATEFUL_SET_META: MetaRules = MetaRules::namespaced(NameRule::Label);
const STATEFUL_SET_MUTABLE: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

/// A decoded workload and whether its JSON carried `spec.selector`.
pub(super) struct Workload<T> {
    object: T,
    has_selector: bool,
}

fn load<T: DeserializeOwned>(obj: &Value) -> Result<Workload<T>, FieldError> {
    let has_selector = obj.pointer("/spec/selector").is_some_and(|s| !s.is_null());
    decode(obj).map(|object| Workload {
        object,
        has_selector,
    })
}

/// What the create and update checks shared by the apps/v1 kinds read of each.
pub(super) trait AppsKind: DeserializeOwned + Metadata<Ty = ObjectMeta> {
    const META: MetaRules;

    /// The spec's checks, run on create and on update; `selector` is
    /// [`Workload::selector`].
    fn spec_errors(&self, selector: Option<&LabelSelector>) -> Vec<FieldError>;

    /// `spec.selector` as decoded, before asking whether the JSON carried it.
    fn decoded_selector(&self) -> Option<&LabelSelector>;

    /// What an update may not change in the spec: by default the selector.
    fn spec_update_errors(new: &Workload<Self>, old: &Workload<Self>) -> Vec<FieldError> {
        selector_immutable(new.selector(), old.selector())
    }
}

impl<T: AppsKind> Workload<T> {
    /// The selector as Kubernetes holds it: absent or the given struct.
    fn selector(&self) -> Option<&LabelSelector> {
        self.object.decoded_selector().filter(|_| self.has_selector)
    }
}

/// Problems with a new apps/v1 object of kind `T`.
pub(super) fn create<T: AppsKind>(obj: &Value) -> Vec<FieldError> {
    match load::<T>(obj) {
        Ok(w) => {
            let mut errors = validate_meta(w.object.metadata(), T::META);
            errors.extend(w.object.spec_errors(w.selector()));
            errors
        }
        Err(err) => vec![err],
    }
}

/// Problems with replacing `old` by `new`, apps/v1 objects of kind `T`.
pub(super) fn update<T: AppsKind>(new: &Value, old: &Value) -> Vec<FieldError> {
    match (load::<T>(new), load::<T>(old)) {
        (Ok(new), Ok(old)) => {
            let mut errors =
                validate_meta_update_with(new.object.metadata(), old.object.metadata(), T::META);
            errors.extend(new.object.spec_errors(new.selector()));
            errors.extend(T::spec_update_errors(&new, &old));
            errors
        }
        (Err(err), _) | (_, Err(err)) => vec![err],
    }
}

impl AppsKind for Deployment {
    const META: MetaRules = SUBDOMAIN_META;

    fn spec_errors(&self, selector: Option<&LabelSelector>) -> Vec<FieldError> {
        deployment_spec(self, selector)
    }

    fn decoded_selector(&self) -> Option<&LabelSelector> {
        self.spec.as_ref().map(|s| &s.selector)
    }
}

impl AppsKind for ReplicaSet {
    const META: MetaRules = SUBDOMAIN_META;

    fn spec_errors(&self, selector: Option<&LabelSelector>) -> Vec<FieldError> {
        replica_set_spec(self, selector)
    }

    fn decoded_selector(&self) -> Option<&LabelSelector> {
        self.spec.as_ref().map(|s| &s.selector)
    }
}

impl AppsKind for DaemonSet {
    const META: MetaRules = SUBDOMAIN_META;

    fn spec_errors(&self, selector: Option<&LabelSelector>) -> Vec<FieldError> {
        daemon_set_spec(self, selector)
    }

    fn decoded_selector(&self) -> Option<&LabelSelector> {
        self.spec.as_ref().map(|s| &s.selector)
    }
}

impl AppsKind for StatefulSet {
    const META: MetaRules = STATEFUL_SET_META;

    fn spec_errors(&self, selector: Option<&LabelSelector>) -> Vec<FieldError> {
        stateful_set_spec(&self.spec.clone().unwrap_or_default(), selector)
    }

    fn decoded_selector(&self) -> Option<&LabelSelector> {
        self.spec.as_ref().map(|s| &s.selector)
    }

    /// Only the fields named in the message may change; the selector is
    /// covered by that rule.
    fn spec_update_errors(new: &Workload<Self>, old: &Workload<Self>) -> Vec<FieldError> {
        let old_spec = old.object.spec.clone().unwrap_or_default();
        let mut kept = new.object.spec.clone().unwrap_or_default();
        kept.replicas = old_spec.replicas;
        kept.template = old_spec.template.clone();
        kept.update_strategy = old_spec.update_strategy.clone();
        kept.min_ready_seconds = old_spec.min_ready_seconds;
        kept.ordinals = old_spec.ordinals.clone();
        kept.persistent_volume_claim_retention_policy =
            old_spec.persistent_volume_claim_retention_policy.clone();
        if super::semantically_equal(&kept, &old_spec) {
            Vec::new()
        } else {
            vec![FieldError::forbidden("spec", STATEFUL_SET_MUTABLE)]
        }
    }
}

fn selector_immutable(new: Option<&LabelSelector>, old: Option<&LabelSelector>) -> Vec<FieldError> {
    if super::semantically_equal(&new, &old) {
        Vec::new()
    } else {
        vec![FieldError::new(
            FieldErrorKind::Invalid,
            "spec.selector",
            Some(repr::optional_label_selector(new)),
            "field is immutable",
        )]
    }
}

/// Required, well-formed and not empty; `kind` names the workload in the message.
fn required_selector(sel: Option<&LabelSelector>, kind: &str) -> Vec<FieldError> {
    let Some(s) = sel else {
        return vec![FieldError::required("spec.selector", "")];
    };
    let mut errors = validate_label_selector(Some(s), "spec.selector");
    errors.extend(empty_selector(s, kind));
    errors
}

fn empty_selector(selector: &LabelSelector, kind: &str) -> Option<FieldError> {
    let empty = selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && items(&selector.match_expressions).is_empty();
    empty.then(|| {
        FieldError::new(
            FieldErrorKind::Invalid,
            "spec.selector",
            Some(repr::label_selector(selector)),
            format!("empty selector is invalid for {kind}"),
        )
    })
}

fn selector_mismatch(template: &PodTemplateSpec) -> FieldError {
    FieldError::new(
        FieldErrorKind::Invalid,
        "spec.template.metadata.labels",
        Some(repr::string_map(template_labels(template))),
        "`selector` does not match template `labels`",
    )
}

fn template_labels(template: &PodTemplateSpec) -> Option<&BTreeMap<String, String>> {
    template.metadata.as_ref().and_then(|m| m.labels.as_ref())
}

/// Whether a converted selector picks the template's pods; a missing one
/// selects nothing.
fn selects_template(
    selector: Option<&selector::LabelSelector>,
    template: &PodTemplateSpec,
) -> bool {
    let no_labels = BTreeMap::new();
    let labels = template_labels(template).unwrap_or(&no_labels);
    selector.is_some_and(|s| s.matches(labels))
}

/// Pods of controllers restart forever and have no deadline.
fn controller_pod_rules(template: &PodTemplateSpec, kind: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let spec = template.spec.as_ref();
    let restart = spec.map_or("", |s| text(&s.restart_policy));
    if restart != "Always" {
        errors.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            restart,
            &["Always"],
        ));
    }
    if spec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errors.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
    errors
}

/// The selector/template pair of Deployments and ReplicaSets.
fn replica_template(sel: Option<&LabelSelector>, template: &PodTemplateSpec) -> Vec<FieldError> {
    let Ok(converted) = sel.map(label_selector).transpose() else {
        return vec![FieldError::new(
            FieldErrorKind::Invalid,
            "spec.selector",
            Some(repr::optional_label_selector(sel)),
            "invalid label selector",
        )];
    };
    let mut errors = Vec::new();
    if !selects_template(converted.as_ref(), template) {
        errors.push(selector_mismatch(template));
    }
    errors.extend(validate_pod_template(template, "spec.template"));
    // Deployments share the ReplicaSet rule and its wording.
    errors.extend(controller_pod_rules(template, "ReplicaSet"));
    errors
}

fn optional_nonnegative(path: &str, value: Option<i32>) -> Vec<FieldError> {
    value.map_or_else(Vec::new, |v| nonnegative(path, i64::from(v)))
}

fn deployment_spec(d: &Deployment, sel: Option<&LabelSelector>) -> Vec<FieldError> {
    let spec = d.spec.clone().unwrap_or_default();
    let mut errors = nonnegative("spec.replicas", i64::from(spec.replicas.unwrap_or(0)));
    errors.extend(required_selector(sel, "deployment"));
    errors.extend(replica_template(sel, &spec.template));
    errors.extend(deployment_strategy(&spec.strategy.unwrap_or_default()));
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    errors.extend(nonnegative("spec.minReadySeconds", i64::from(min_ready)));
    errors.extend(optional_nonnegative(
        "spec.revisionHistoryLimit",
        spec.revision_history_limit,
    ));
    if let Some(deadline) = spec.progress_deadline_seconds {
        errors.extend(nonnegative(
            "spec.progressDeadlineSeconds",
            i64::from(deadline),
        ));
        if deadline <= min_ready {
            errors.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errors
}

fn deployment_strategy(strategy: &DeploymentStrategy) -> Vec<FieldError> {
    let path = "spec.strategy";
    match text(&strategy.type_) {
        "Recreate" if strategy.rolling_update.is_some() => vec![FieldError::forbidden(
            child(path, "rollingUpdate"),
            "may not be specified when strategy `type` is 'Recreate'",
        )],
        "Recreate" => Vec::new(),
        "RollingUpdate" => match &strategy.rolling_update {
            None => vec![FieldError::required(
                child(path, "rollingUpdate"),
                "this should be defaulted and never be nil",
            )],
            Some(ru) => {
                let unavailable_path = "spec.strategy.rollingUpdate.maxUnavailable";
                let (unavailable, surge) = (int_or_zero(&ru.max_unavailable), int_or_zero(&ru.max_surge));
                let mut errors = positive_int_or_percent(&unavailable, unavailable_path);
                errors.extend(positive_int_or_percent(
                    &surge,
                    "spec.strategy.rollingUpdate.maxSurge",
                ));
                if int_or_percent_value(&unavailable) == 0 && int_or_percent_value(&surge) == 0 {
                    errors.push(FieldError::invalid(
                        unavailable_path,
                        repr::int_or_string(&unavailable),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errors.extend(not_more_than_100_percent(&unavailable, unavailable_path));
                errors
            }
        },
        other => vec![FieldError::new(
            FieldErrorKind::NotSupported,
            path,
            Some(format!(
                "apps.DeploymentStrategy{{Type:{other:?}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}"
            )),
            "supported values: \"Recreate\", \"RollingUpdate\"",
        )],
    }
}

fn int_or_zero(value: &Option<IntOrString>) -> IntOrString {
    value.clone().unwrap_or(IntOrString::Int(0))
}

fn positive_int_or_percent(value: &IntOrString, path: &str) -> Vec<FieldError> {
    match value {
        IntOrString::String(s) => names::percent(s)
            .into_iter()
            .map(|problem| FieldError::invalid(path, s, problem))
            .collect(),
        IntOrString::Int(i) => nonnegative(path, i64::from(*i)),
    }
}

/// A percentage's number, an int's value; strings that are neither count as 0.
fn int_or_percent_value(value: &IntOrString) -> i64 {
    match value {
        IntOrString::Int(i) => i64::from(*i),
        IntOrString::String(s) => s.strip_suffix('%').unwrap_or(s).parse().unwrap_or(0),
    }
}

fn not_more_than_100_percent(value: &IntOrString, path: &str) -> Vec<FieldError> {
    match value {
        IntOrString::String(s)
            if names::percent(s).is_empty() && int_or_percent_value(value) > 100 =>
        {
            vec![FieldError::invalid(
                path,
                s,
                "must not be greater than 100%",
            )]
        }
        _ => Vec::new(),
    }
}

fn replica_set_spec(rs: &ReplicaSet, sel: Option<&LabelSelector>) -> Vec<FieldError> {
    let spec = rs.spec.clone().unwrap_or_default();
    let mut errors = nonnegative("spec.replicas", i64::from(spec.replicas.unwrap_or(0)));
    errors.extend(nonnegative(
        "spec.minReadySeconds",
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
    ));
    // Kubernetes reuses the Deployment wording for ReplicaSets.
    errors.extend(required_selector(sel, "deployment"));
    errors.extend(replica_template(sel, &spec.template.unwrap_or_default()));
    errors
}

fn stateful_set_spec(spec: &StatefulSetSpec, sel: Option<&LabelSelector>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let service_name = text(&spec.service_name);
    if !service_name.is_empty() {
        errors.extend(super::dns_label("spec.serviceName", service_name));
    }
    match text(&spec.pod_management_policy) {
        "" => errors.push(FieldError::required("spec.podManagementPolicy", "")),
        "OrderedReady" | "Parallel" => {}
        other => errors.push(FieldError::invalid_str(
            "spec.podManagementPolicy",
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    errors.extend(stateful_set_strategy(spec));
    if let Some(policy) = &spec.persistent_volume_claim_retention_policy {
        let path = "spec.persistentVolumeClaimRetentionPolicy";
        for (field, value) in [
            ("whenDeleted", &policy.when_deleted),
            ("whenScaled", &policy.when_scaled),
        ] {
            let value = text(value);
            if !matches!(value, "Retain" | "Delete") {
                errors.push(FieldError::not_supported(
                    child(path, field),
                    value,
                    &["Retain", "Delete"],
                ));
            }
        }
    }
    errors.extend(nonnegative(
        "spec.replicas",
        i64::from(spec.replicas.unwrap_or(0)),
    ));
    errors.extend(nonnegative(
        "spec.minReadySeconds",
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
    ));
    if let Some(ordinals) = &spec.ordinals {
        errors.extend(nonnegative(
            "spec.ordinals.start",
            i64::from(ordinals.start.unwrap_or(0)),
        ));
    }
    errors.extend(required_selector(sel, "statefulset"));
    match sel.map(label_selector).transpose() {
        Err(_) => errors.push(FieldError::new(
            FieldErrorKind::Invalid,
            "spec.selector",
            Some(repr::optional_label_selector(sel)),
            "",
        )),
        Ok(converted) => {
            let template = &spec.template;
            if !selects_template(converted.as_ref(), template) {
                errors.push(selector_mismatch(template));
            }
            // Kubernetes checks only a StatefulSet template's metadata here.
            let meta = template.metadata.clone().unwrap_or_default();
            errors.extend(validate_labels(
                meta.labels.as_ref(),
                "spec.template.labels",
            ));
            errors.extend(validate_annotations(
                meta.annotations.as_ref(),
                "spec.template.annotations",
            ));
        }
    }
    errors.extend(controller_pod_rules(&spec.template, "StatefulSet"));
    errors
}

fn stateful_set_strategy(spec: &StatefulSetSpec) -> Vec<FieldError> {
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let path = "spec.updateStrategy";
    match text(&strategy.type_) {
        "" => vec![FieldError::required(path, "")],
        "OnDelete" if strategy.rolling_update.is_some() => vec![FieldError::new(
            FieldErrorKind::Invalid,
            child(path, "rollingUpdate"),
            Some("apps.RollingUpdateStatefulSetStrategy{...}".to_string()),
            "only allowed for updateStrategy 'RollingUpdate'",
        )],
        "OnDelete" => Vec::new(),
        "RollingUpdate" => strategy
            .rolling_update
            .map(|ru| {
                nonnegative(
                    "spec.updateStrategy.rollingUpdate.partition",
                    i64::from(ru.partition.unwrap_or(0)),
                )
            })
            .unwrap_or_default(),
        other => vec![FieldError::new(
            FieldErrorKind::Invalid,
            path,
            Some(format!(
                "apps.StatefulSetUpdateStrategy{{Type:{other:?}, RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}}"
            )),
            "must be 'RollingUpdate' or 'OnDelete'",
        )],
    }
}

fn daemon_set_spec(ds: &DaemonSet, sel: Option<&LabelSelector>) -> Vec<FieldError> {
    let spec = ds.spec.clone().unwrap_or_default();
    let mut errors = validate_label_selector(sel, "spec.selector");
    if let Ok(converted) = sel.map(label_selector).transpose() {
        if !selects_template(converted.as_ref(), &spec.template) {
            errors.push(selector_mismatch(&spec.template));
        }
    }
    // Unlike the other kinds, a DaemonSet's selector is checked only when present.
    errors.extend(sel.and_then(|s| empty_selector(s, "daemonset")));
    errors.extend(validate_pod_template(&spec.template, "spec.template"));
    errors.extend(controller_pod_rules(&spec.template, "DaemonSet"));
    errors.extend(nonnegative(
        "spec.minReadySeconds",
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
    ));
    errors.extend(daemon_set_strategy(
        &spec.update_strategy.unwrap_or_default(),
    ));
    errors.extend(optional_nonnegative(
        "spec.revisionHistoryLimit",
        spec.revision_history_limit,
    ));
    errors
}

fn daemon_set_strategy(strategy: &DaemonSetUpdateStrategy) -> Vec<FieldError> {
    let path = "spec.updateStrategy";
    match text(&strategy.type_) {
        "OnDelete" => Vec::new(),
        "RollingUpdate" => {
            let Some(ru) = &strategy.rolling_update else {
                return vec![FieldError::required(child(path, "rollingUpdate"), "")];
            };
            let unavailable_path = "spec.updateStrategy.rollingUpdate.maxUnavailable";
            let surge_path = "spec.updateStrategy.rollingUpdate.maxSurge";
            let (unavailable, surge) = (int_or_zero(&ru.max_unavailable), int_or_zero(&ru.max_surge));
            let mut errors = positive_int_or_percent(&unavailable, unavailable_path);
            errors.extend(positive_int_or_percent(&surge, surge_path));
            errors.extend(not_more_than_100_percent(&unavailable, unavailable_path));
            errors.extend(not_more_than_100_percent(&surge, surge_path));
            let has_unavailable = int_or_percent_value(&unavailable) != 0;
            let has_surge = int_or_percent_value(&surge) != 0;
            if has_unavailable && has_surge {
                errors.push(FieldError::invalid(
                    surge_path,
                    repr::int_or_string(&surge),
                    "may not be set when maxUnavailable is non-zero",
                ));
            } else if !has_unavailable && !has_surge {
                errors.push(FieldError::required(
                    unavailable_path,
                    "cannot be 0 when maxSurge is 0",
                ));
            }
            errors
        }
        other => vec![FieldError::new(
            FieldErrorKind::NotSupported,
            path,
            Some(format!(
                "apps.DaemonSetUpdateStrategy{{Type:{other:?}, RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}}"
            )),
            "supported values: \"RollingUpdate\", \"OnDelete\"",
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    const APPS: &str = "apps";

    fn template() -> serde_json::Value {
        json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{"name": "web", "image": "nginx", "imagePullPolicy": "Always",
                                "terminationMessagePath": "/dev/termination-log",
                                "terminationMessagePolicy": "File"}],
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler",
                "securityContext": {}
            }
        })
    }

    fn deployment() -> serde_json::Value {
        json!({
            "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
            "spec": {
                "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": template()
            }
        })
    }

    #[test]
    fn a_defaulted_deployment_is_valid() {
        assert_valid(&create("Deployment", APPS, deployment()));
    }

    #[test]
    fn selector_and_template_must_agree() {
        let mut d = deployment();
        d["spec"]["selector"] = json!({"matchLabels": {"app": "api"}});
        d["spec"]["replicas"] = json!(-1);
        d["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        d["spec"]["template"]["spec"]["containers"][0]["name"] = json!("Web");
        let errors = create("Deployment", APPS, d);
        assert_eq!(
            fields(&errors),
            vec![
                "spec.replicas",
                "spec.template.metadata.labels",
                "spec.template.spec.containers[0].name",
                "spec.template.spec.restartPolicy",
            ]
        );
        assert_eq!(
            errors[1].message(),
            "Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
        );
    }

    #[test]
    fn missing_and_empty_selectors() {
        let mut d = deployment();
        d["spec"].as_object_mut().unwrap().remove("selector");
        let errors = create("Deployment", APPS, d);
        assert_eq!(
            fields(&errors),
            vec!["spec.selector", "spec.template.metadata.labels"]
        );
        let mut d = deployment();
        d["spec"]["selector"] = json!({});
        let errors = create("Deployment", APPS, d);
        assert_eq!(fields(&errors), vec!["spec.selector"]);
        assert!(errors[0]
            .detail
            .ends_with("empty selector is invalid for deployment"));
    }

    #[test]
    fn strategies() {
        let mut d = deployment();
        d["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": 0, "maxUnavailable": "0%"});
        let errors = create("Deployment", APPS, d.clone());
        assert_eq!(errors[0].full_message(),
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0%: may not be 0 when `maxSurge` is 0");
        d["spec"]["strategy"]["rollingUpdate"] = json!({"maxSurge": "x", "maxUnavailable": "150%"});
        let errors = create("Deployment", APPS, d);
        assert_eq!(
            fields(&errors),
            vec![
                "spec.strategy.rollingUpdate.maxSurge",
                "spec.strategy.rollingUpdate.maxUnavailable",
            ]
        );
    }

    #[test]
    fn selectors_are_immutable() {
        let old = deployment();
        let mut new = deployment();
        new["spec"]["selector"] = json!({"matchLabels": {"app": "web", "tier": "x"}});
        new["spec"]["template"]["metadata"]["labels"]["tier"] = json!("x");
        let errors = update("Deployment", APPS, new, old);
        assert_eq!(fields(&errors), vec!["spec.selector"]);
        assert_eq!(
            errors[0].message(),
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"tier\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        );
    }

    #[test]
    fn replica_sets() {
        let mut rs = deployment();
        rs["spec"].as_object_mut().unwrap().remove("strategy");
        assert_valid(&create("ReplicaSet", APPS, rs.clone()));
        rs["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(10);
        let errors = create("ReplicaSet", APPS, rs);
        assert_eq!(
            fields(&errors),
            vec!["spec.template.spec.activeDeadlineSeconds"]
        );
    }

    fn stateful_set() -> serde_json::Value {
        json!({
            "metadata": {"name": "db", "namespace": "default", "resourceVersion": "1"},
            "spec": {
                "replicas": 1, "serviceName": "db", "podManagementPolicy": "OrderedReady",
                "revisionHistoryLimit": 10,
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
                "selector": {"matchLabels": {"app": "web"}},
                "template": template()
            }
        })
    }

    #[test]
    fn stateful_sets() {
        assert_valid(&create("StatefulSet", APPS, stateful_set()));
        let mut bad = stateful_set();
        bad["metadata"]["name"] = json!("db.v1");
        bad["spec"]["podManagementPolicy"] = json!("Whenever");
        bad["spec"]["updateStrategy"] = json!({"type": "Sometimes"});
        let errors = create("StatefulSet", APPS, bad);
        assert_eq!(
            fields(&errors),
            vec![
                "metadata.name",
                "spec.podManagementPolicy",
                "spec.updateStrategy"
            ]
        );
        let old = stateful_set();
        let mut new = stateful_set();
        new["spec"]["replicas"] = json!(3);
        assert_valid(&update("StatefulSet", APPS, new.clone(), old.clone()));
        new["spec"]["serviceName"] = json!("other");
        let errors = update("StatefulSet", APPS, new, old);
        assert_eq!(fields(&errors), vec!["spec"]);
        assert!(errors[0]
            .detail
            .starts_with("updates to statefulset spec for fields other than 'replicas'"));
    }

    #[test]
    fn daemon_sets() {
        let mut ds = deployment();
        ds["spec"].as_object_mut().unwrap().remove("strategy");
        ds["spec"].as_object_mut().unwrap().remove("replicas");
        ds["spec"]
            .as_object_mut()
            .unwrap()
            .remove("progressDeadlineSeconds");
        ds["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}});
        assert_valid(&create("DaemonSet", APPS, ds.clone()));
        ds["spec"]["updateStrategy"]["rollingUpdate"] = json!({"maxUnavailable": 1, "maxSurge": 1});
        let errors = create("DaemonSet", APPS, ds);
        assert_eq!(
            fields(&errors),
            vec!["spec.updateStrategy.rollingUpdate.maxSurge"]
        );
    }
}

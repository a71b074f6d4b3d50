//! Controller references between workloads and what they own: making them,
//! and deciding whether an object is ours, ours to adopt or ours to let go
//! (Kubernetes' ControllerRefManager rules).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::Resource;
use podnet_model::selector;
use serde_json::{json, Value};

use crate::error::PlanError;

/// "Deployment default/web": how messages name an object.
pub fn describe<K: Resource<DynamicType = ()>>(object: &K) -> String {
    let meta = object.meta();
    format!(
        "{} {}/{}",
        K::kind(&()),
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or("")
    )
}

/// The object's name; every stored object has one.
pub fn name_of<K: Resource<DynamicType = ()>>(object: &K) -> Result<&str, PlanError> {
    object
        .meta()
        .name
        .as_deref()
        .ok_or_else(|| PlanError::MissingField {
            object: describe(object),
            field: "metadata.name",
        })
}

/// The reference that makes `owner` the controller of an object: the
/// garbage collector deletes the object with its owner, and a foreground
/// deletion of the owner waits for it (blockOwnerDeletion).
pub fn controller_ref<K: Resource<DynamicType = ()>>(
    owner: &K,
) -> Result<OwnerReference, PlanError> {
    let meta = owner.meta();
    let missing = |field| PlanError::MissingField {
        object: describe(owner),
        field,
    };
    Ok(OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: meta.name.clone().ok_or_else(|| missing("metadata.name"))?,
        uid: meta.uid.clone().ok_or_else(|| missing("metadata.uid"))?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// The owner reference marked as controller, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// True when `meta` is controlled by the object with uid `owner_uid`.
pub fn is_controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == owner_uid)
}

/// What an owner does with one candidate object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Controlled by the owner and matching: it counts.
    Owned,
    /// An orphan that matches: the owner becomes its controller, then it counts.
    Adopt,
    /// Controlled by the owner but no longer matching: the owner lets it go.
    Release,
    /// Someone else's, or not a match: left alone.
    Ignore,
}

/// Kubernetes' claim rules. An owner being deleted keeps what it has but
/// neither adopts nor releases; objects being deleted are never adopted.
pub fn claim(owner: &ObjectMeta, child: &ObjectMeta, matches: bool) -> Claim {
    let owner_deleting = owner.deletion_timestamp.is_some();
    match controller_of(child) {
        Some(reference) if Some(&reference.uid) != owner.uid.as_ref() => Claim::Ignore,
        Some(_) if matches => Claim::Owned,
        Some(_) if owner_deleting => Claim::Ignore,
        Some(_) => Claim::Release,
        None if owner_deleting || !matches || child.deletion_timestamp.is_some() => Claim::Ignore,
        None if child.namespace != owner.namespace => Claim::Ignore,
        None => Claim::Adopt,
    }
}

/// A change to one owned object, as a JSON merge patch that carries the
/// object's resourceVersion, so it fails with a conflict when the object
/// changed since the plan read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildPatch {
    pub name: String,
    pub patch: Value,
}

fn owner_patch(child: &ObjectMeta, references: Vec<OwnerReference>) -> ChildPatch {
    ChildPatch {
        name: child.name.clone().unwrap_or_default(),
        patch: json!({
            "metadata": {
                "resourceVersion": child.resource_version,
                "ownerReferences": references,
            }
        }),
    }
}

/// The patch that adds `controller` to an orphan's owner references.
pub fn adoption(child: &ObjectMeta, controller: &OwnerReference) -> ChildPatch {
    let mut references = child.owner_references.clone().unwrap_or_default();
    references.push(controller.clone());
    owner_patch(child, references)
}

/// The patch that removes the owner with `owner_uid` from an object's owner references.
pub fn release(child: &ObjectMeta, owner_uid: &str) -> ChildPatch {
    let references = child
        .owner_references
        .iter()
        .flatten()
        .filter(|r| r.uid != owner_uid)
        .cloned()
        .collect();
    owner_patch(child, references)
}

/// The typed form of a workload's `spec.selector`.
pub fn selector_of<K: Resource<DynamicType = ()>>(
    object: &K,
    selector: &LabelSelector,
) -> Result<selector::LabelSelector, PlanError> {
    let expressions: Vec<(String, String, Vec<String>)> = selector
        .match_expressions
        .iter()
        .flatten()
        .map(|e| {
            (
                e.key.clone(),
                e.operator.clone(),
                e.values.clone().unwrap_or_default(),
            )
        })
        .collect();
    selector::LabelSelector::from_parts(
        &selector.match_labels.clone().unwrap_or_default(),
        &expressions,
    )
    .map_err(|source| PlanError::InvalidSelector {
        object: describe(object),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, Time};
    use k8s_openapi::jiff::Timestamp;

    fn meta(name: &str, uid: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(uid.into()),
            resource_version: Some("7".into()),
            ..Default::default()
        }
    }

    fn replica_set() -> ReplicaSet {
        ReplicaSet {
            metadata: meta("web-abc", "rs-uid"),
            ..Default::default()
        }
    }

    fn controlled(mut child: ObjectMeta, uid: &str) -> ObjectMeta {
        child.owner_references = Some(vec![OwnerReference {
            uid: uid.into(),
            controller: Some(true),
            ..Default::default()
        }]);
        child
    }

    #[test]
    fn controller_refs_block_owner_deletion() {
        let reference = controller_ref(&replica_set()).unwrap();
        assert_eq!(reference.api_version, "apps/v1");
        assert_eq!(reference.kind, "ReplicaSet");
        assert_eq!(reference.name, "web-abc");
        assert_eq!(reference.uid, "rs-uid");
        assert_eq!(reference.controller, Some(true));
        assert_eq!(reference.block_owner_deletion, Some(true));
        assert!(controller_ref(&ReplicaSet::default()).is_err());
    }

    #[test]
    fn claims_follow_kubernetes_rules() {
        let owner = meta("rs", "rs-uid");
        let mine = controlled(meta("p", "p"), "rs-uid");
        let theirs = controlled(meta("p", "p"), "other");
        let orphan = meta("p", "p");
        assert_eq!(claim(&owner, &mine, true), Claim::Owned);
        assert_eq!(claim(&owner, &mine, false), Claim::Release);
        assert_eq!(claim(&owner, &theirs, true), Claim::Ignore);
        assert_eq!(claim(&owner, &orphan, true), Claim::Adopt);
        assert_eq!(claim(&owner, &orphan, false), Claim::Ignore);

        let mut deleting_owner = owner.clone();
        deleting_owner.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert_eq!(claim(&deleting_owner, &mine, true), Claim::Owned);
        assert_eq!(claim(&deleting_owner, &mine, false), Claim::Ignore);
        assert_eq!(claim(&deleting_owner, &orphan, true), Claim::Ignore);

        let mut deleting_orphan = orphan.clone();
        deleting_orphan.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert_eq!(claim(&owner, &deleting_orphan, true), Claim::Ignore);
        let mut elsewhere = orphan;
        elsewhere.namespace = Some("other".into());
        assert_eq!(claim(&owner, &elsewhere, true), Claim::Ignore);
    }

    #[test]
    fn adoption_and_release_patches_carry_the_resource_version() {
        let reference = controller_ref(&replica_set()).unwrap();
        let mut orphan = meta("p", "p");
        orphan.owner_references = Some(vec![OwnerReference {
            uid: "unrelated".into(),
            ..Default::default()
        }]);
        let adopt = adoption(&orphan, &reference);
        assert_eq!(adopt.name, "p");
        assert_eq!(adopt.patch["metadata"]["resourceVersion"], "7");
        let references = adopt.patch["metadata"]["ownerReferences"]
            .as_array()
            .unwrap();
        assert_eq!(references.len(), 2);
        assert_eq!(references[1]["uid"], "rs-uid");
        assert_eq!(references[1]["controller"], true);

        let mine = controlled(meta("p", "p"), "rs-uid");
        let released = release(&mine, "rs-uid");
        assert_eq!(released.patch["metadata"]["ownerReferences"], json!([]));
        assert_eq!(released.patch["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn selectors_convert_labels_and_expressions() {
        let rs = replica_set();
        let typed = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["a".into(), "b".into()]),
            }]),
        };
        let selector = selector_of(&rs, &typed).unwrap();
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(selector.matches(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("tier", "c")])));
        assert!(!selector.matches(&labels(&[("tier", "a")])));
        let bad = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Near".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert!(matches!(
            selector_of(&rs, &bad),
            Err(PlanError::InvalidSelector { .. })
        ));
    }
}

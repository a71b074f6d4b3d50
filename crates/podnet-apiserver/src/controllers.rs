//! What the server does by itself after a write: garbage collection of
//! owned objects (background, foreground, orphan), namespace termination,
//! removal of pods whose grace period ran out on a node that is gone, the
//! `default` ServiceAccount of new namespaces, and compaction of history.
//!
//! It follows every change of the store through one watch and keeps an
//! index of uids and owner references, so a deletion finds its dependents
//! without scanning.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use podnet_store::Event;
use serde_json::{json, Value};

use crate::filter::Filter;
use crate::object;
use crate::registry::{DeleteOptions, ListOptions, Part, Registry, WriteOptions};
use crate::resources::{self, Resource, RESOURCES};
use crate::status::ApiError;

/// How often pending work (terminating namespaces, expired pods) is looked at again.
const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// Settings of the controllers.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// History older than one interval is compacted each interval.
    pub compaction_interval: Duration,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            compaction_interval: Duration::from_secs(300),
        }
    }
}

/// The part of a stored object the controllers read: its metadata. Every
/// write in the cluster passes through here, so only this part is decoded
/// (the rest of the object is skipped, not built).
#[derive(Debug, Default, serde::Deserialize)]
struct Head {
    #[serde(default)]
    metadata: HeadMeta,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct HeadMeta {
    name: String,
    namespace: Option<String>,
    uid: String,
    deletion_timestamp: Option<String>,
    finalizers: Vec<String>,
    owner_references: Vec<OwnerReference>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OwnerReference {
    api_version: String,
    kind: String,
    uid: String,
}

impl Head {
    fn parse(bytes: &[u8]) -> Option<Head> {
        serde_json::from_slice(bytes).ok()
    }
}

/// One object as the index knows it.
#[derive(Debug, Clone)]
struct Entry {
    res: &'static Resource,
    namespace: Option<String>,
    name: String,
    owners: Vec<String>,
    /// Every owner is of a kind this server serves, so an owner missing
    /// from the index is really gone (not merely unknown here).
    owners_served: bool,
}

#[derive(Default)]
struct Index {
    by_uid: HashMap<String, Entry>,
    uid_of_key: HashMap<String, String>,
    dependents: HashMap<String, HashSet<String>>,
    /// Objects marked for deletion that wait for the server (finalizers it owns).
    pending: HashSet<String>,
    /// Pods with a deletion timestamp: uid -> deadline.
    terminating_pods: HashMap<String, jiff::Timestamp>,
    terminating_namespaces: HashSet<String>,
    /// Objects per namespace (keys), for namespace termination.
    in_namespace: HashMap<String, HashSet<String>>,
}

fn resource_of_key(key: &str) -> Option<&'static Resource> {
    let rest = key.strip_prefix("/registry/")?;
    let mut parts = rest.splitn(3, '/');
    let group = parts.next()?;
    let plural = parts.next()?;
    let group = if group == "core" { "" } else { group };
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.plural == plural)
}

impl Index {
    fn put(&mut self, key: &str, head: &Head) {
        let Some(res) = resource_of_key(key) else {
            return;
        };
        let meta = &head.metadata;
        let uid = meta.uid.clone();
        if uid.is_empty() {
            return;
        }
        self.remove(key);
        let owners: Vec<String> = meta
            .owner_references
            .iter()
            .map(|r| r.uid.clone())
            .collect();
        for owner in &owners {
            self.dependents
                .entry(owner.clone())
                .or_default()
                .insert(uid.clone());
        }
        let namespace = meta.namespace.clone().filter(|ns| !ns.is_empty());
        if let Some(ns) = &namespace {
            self.in_namespace
                .entry(ns.clone())
                .or_default()
                .insert(key.to_string());
        }
        if let Some(deletion) = &meta.deletion_timestamp {
            if meta
                .finalizers
                .iter()
                .any(|f| f == "foregroundDeletion" || f == "orphan")
            {
                self.pending.insert(uid.clone());
            }
            if res.group.is_empty() && res.kind == "Pod" {
                if let Some(deadline) = object::parse_time(deletion) {
                    self.terminating_pods.insert(uid.clone(), deadline);
                }
            }
            if res.group.is_empty() && res.kind == "Namespace" {
                self.terminating_namespaces.insert(meta.name.clone());
            }
        }
        self.uid_of_key.insert(key.to_string(), uid.clone());
        self.by_uid.insert(
            uid,
            Entry {
                res,
                namespace,
                name: meta.name.clone(),
                owners,
                owners_served: owners_are_served(meta),
            },
        );
    }

    /// Forgets the object at `key`; returns its uid and entry.
    fn remove(&mut self, key: &str) -> Option<(String, Entry)> {
        let uid = self.uid_of_key.remove(key)?;
        let entry = self.by_uid.remove(&uid)?;
        for owner in &entry.owners {
            if let Some(set) = self.dependents.get_mut(owner) {
                set.remove(&uid);
                if set.is_empty() {
                    self.dependents.remove(owner);
                }
            }
        }
        if let Some(ns) = &entry.namespace {
            if let Some(set) = self.in_namespace.get_mut(ns) {
                set.remove(key);
                if set.is_empty() {
                    self.in_namespace.remove(ns);
                }
            }
        }
        self.pending.remove(&uid);
        self.terminating_pods.remove(&uid);
        if entry.res.group.is_empty() && entry.res.kind == "Namespace" {
            self.terminating_namespaces.remove(&entry.name);
        }
        Some((uid, entry))
    }

    /// Dependents of `uid` none of whose owners exist any more.
    fn orphans_of(&self, uid: &str) -> Vec<Entry> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| self.by_uid.get(d))
            .filter(|e| e.owners_served && e.owners.iter().all(|o| !self.by_uid.contains_key(o)))
            .cloned()
            .collect()
    }

    /// The object with `uid` when it has owners and none of them exists.
    fn dangling(&self, uid: &str) -> Option<Entry> {
        let entry = self.by_uid.get(uid)?;
        let gone = entry.owners_served
            && !entry.owners.is_empty()
            && entry.owners.iter().all(|o| !self.by_uid.contains_key(o));
        gone.then(|| entry.clone())
    }

    fn dependents_of(&self, uid: &str) -> Vec<Entry> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|d| self.by_uid.get(d))
            .cloned()
            .collect()
    }
}

/// Runs the controllers until the process ends.
pub async fn run(registry: Arc<Registry>, config: ControllerConfig) {
    tokio::spawn(compaction(registry.clone(), config.compaction_interval));
    loop {
        if let Err(e) = follow(&registry).await {
            tracing::warn!("controllers: {e}; starting over");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Lists everything, then follows the store's changes.
async fn follow(registry: &Arc<Registry>) -> Result<(), ApiError> {
    let mut index = Index::default();
    let revision = registry.current_revision().await?;
    // Every list at the one revision the watch resumes from: listed at
    // different moments, an owner created in between could be missing from
    // its list while its dependent is in a later one, and look dangling.
    let at_revision = ListOptions {
        resource_version: Some(revision.to_string()),
        resource_version_match: Some("Exact".to_string()),
        ..ListOptions::default()
    };
    for res in RESOURCES {
        let page = registry.list_raw(res, None, &at_revision).await?;
        for head in page.items.iter().filter_map(|bytes| Head::parse(bytes)) {
            let meta = &head.metadata;
            index.put(&res.key(meta.namespace.as_deref(), &meta.name), &head);
        }
    }
    // Work left from before a restart: dangling dependents and pending deletions.
    let owners_gone: Vec<Entry> = index
        .by_uid
        .values()
        .filter(|e| {
            e.owners_served
                && !e.owners.is_empty()
                && e.owners.iter().all(|o| !index.by_uid.contains_key(o))
        })
        .cloned()
        .collect();
    for entry in owners_gone {
        delete_quietly(registry, &entry).await;
    }
    let namespaces: Vec<String> = index
        .by_uid
        .values()
        .filter(|e| e.res.group.is_empty() && e.res.kind == "Namespace")
        .map(|e| e.name.clone())
        .collect();
    for ns in namespaces {
        ensure_default_service_account(registry, &index, &ns).await;
    }
    let mut events = registry
        .store()
        .watch("/registry/", revision)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { return Err(ApiError::internal("the store ended the watch")) };
                handle_event(registry, &mut index, event).await;
            }
            _ = recheck.tick() => {
                recheck_pending(registry, &index).await;
            }
        }
    }
}

async fn handle_event(registry: &Arc<Registry>, index: &mut Index, event: Event) {
    match event {
        Event::Put { kv, prev } => {
            let Some(head) = Head::parse(&kv.value) else {
                return;
            };
            let is_new = prev.is_none();
            index.put(&kv.key, &head);
            let Some(res) = resource_of_key(&kv.key) else {
                return;
            };
            let meta = &head.metadata;
            // A dependent written after its owners were deleted (a
            // controller racing the deletion) has no owner deletion left to
            // collect it. Owners of kinds not served here cannot be checked.
            if meta.deletion_timestamp.is_none() {
                if let Some(entry) = index.dangling(&meta.uid) {
                    delete_quietly(registry, &entry).await;
                    return;
                }
            }
            if is_new && res.group.is_empty() && res.kind == "Namespace" {
                ensure_default_service_account(registry, index, &meta.name).await;
            }
            if meta.deletion_timestamp.is_some() {
                progress_deletion(registry, index, &meta.uid).await;
            }
        }
        Event::Delete { key, .. } => {
            let Some((uid, entry)) = index.remove(&key) else {
                return;
            };
            for orphan in index.orphans_of(&uid) {
                delete_quietly(registry, &orphan).await;
            }
            // An owner waiting in the foreground for this dependent may now go.
            let waiting: Vec<String> = entry
                .owners
                .iter()
                .filter(|o| index.pending.contains(*o))
                .cloned()
                .collect();
            for owner in waiting {
                progress_deletion(registry, index, &owner).await;
            }
            if let Some(ns) = &entry.namespace {
                if index.terminating_namespaces.contains(ns) && !index.in_namespace.contains_key(ns)
                {
                    finish_namespace(registry, ns).await;
                }
            }
        }
    }
}

/// True when every owner reference names a kind this server serves, so
/// an owner missing from the index is really gone.
fn owners_are_served(meta: &HeadMeta) -> bool {
    meta.owner_references.iter().all(|reference| {
        let api_version = reference.api_version.as_str();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        RESOURCES
            .iter()
            .any(|r| r.group == group && r.version == version && r.kind == reference.kind)
    })
}

/// Moves the deletion of the object with `uid` forward: foreground
/// (dependents first), orphan (dependents released), namespace (content first).
async fn progress_deletion(registry: &Arc<Registry>, index: &Index, uid: &str) {
    let Some(entry) = index.by_uid.get(uid).cloned() else {
        return;
    };
    if entry.res.group.is_empty() && entry.res.kind == "Namespace" {
        terminate_namespace(registry, index, &entry.name).await;
        return;
    }
    let Ok(obj) = registry
        .get(entry.res, entry.namespace.as_deref(), &entry.name)
        .await
    else {
        return;
    };
    let finalizers = object::finalizers(&obj);
    if finalizers.iter().any(|f| f == "orphan") {
        for dependent in index.dependents_of(uid) {
            release_owner(registry, &dependent, uid).await;
        }
        remove_finalizer(registry, &entry, "orphan").await;
    } else if finalizers.iter().any(|f| f == "foregroundDeletion") {
        let dependents = index.dependents_of(uid);
        if dependents.is_empty() {
            remove_finalizer(registry, &entry, "foregroundDeletion").await;
        } else {
            for dependent in dependents {
                let options = DeleteOptions {
                    propagation: Some("Foreground".into()),
                    ..Default::default()
                };
                let _ = registry
                    .delete(
                        dependent.res,
                        dependent.namespace.as_deref(),
                        &dependent.name,
                        &options,
                    )
                    .await;
            }
        }
    }
}

async fn remove_finalizer(registry: &Arc<Registry>, entry: &Entry, finalizer: &str) {
    if let Err(e) = patch_merge_finalizers(registry, entry, finalizer).await {
        tracing::debug!("removing finalizer {finalizer} of {}: {e}", entry.name);
    }
}

async fn patch_merge_finalizers(
    registry: &Arc<Registry>,
    entry: &Entry,
    finalizer: &str,
) -> Result<(), ApiError> {
    let current = registry
        .get(entry.res, entry.namespace.as_deref(), &entry.name)
        .await?;
    let remaining: Vec<String> = object::finalizers(&current)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    let body = json!({"metadata": {"finalizers": remaining}});
    let bytes = serde_json::to_vec(&body).expect("JSON encodes");
    registry
        .patch(
            entry.res,
            entry.namespace.as_deref(),
            &entry.name,
            crate::patch::PatchType::Merge,
            &bytes,
            Part::Main,
            &WriteOptions::default(),
        )
        .await?;
    Ok(())
}

/// Removes the owner reference to `owner_uid` from a dependent.
async fn release_owner(registry: &Arc<Registry>, dependent: &Entry, owner_uid: &str) {
    let Ok(current) = registry
        .get(
            dependent.res,
            dependent.namespace.as_deref(),
            &dependent.name,
        )
        .await
    else {
        return;
    };
    let refs: Vec<Value> = current["metadata"]["ownerReferences"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| r["uid"].as_str() != Some(owner_uid))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let body = json!({"metadata": {"ownerReferences": if refs.is_empty() { Value::Null } else { json!(refs) }}});
    let bytes = serde_json::to_vec(&body).expect("JSON encodes");
    if let Err(e) = registry
        .patch(
            dependent.res,
            dependent.namespace.as_deref(),
            &dependent.name,
            crate::patch::PatchType::Merge,
            &bytes,
            Part::Main,
            &WriteOptions::default(),
        )
        .await
    {
        tracing::debug!("orphaning {}: {e}", dependent.name);
    }
}

async fn delete_quietly(registry: &Arc<Registry>, entry: &Entry) {
    let options = DeleteOptions {
        propagation: Some("Background".into()),
        ..Default::default()
    };
    match registry
        .delete(entry.res, entry.namespace.as_deref(), &entry.name, &options)
        .await
    {
        Ok(_) => {}
        Err(e) if e.code == 404 => {}
        Err(e) => tracing::warn!(
            "garbage collection of {} {}: {e}",
            entry.res.plural,
            entry.name
        ),
    }
}

/// Deletes everything in a terminating namespace; the namespace goes when it is empty.
async fn terminate_namespace(registry: &Arc<Registry>, index: &Index, namespace: &str) {
    if !index.in_namespace.contains_key(namespace) {
        finish_namespace(registry, namespace).await;
        return;
    }
    for res in RESOURCES.iter().filter(|r| r.namespaced) {
        let options = DeleteOptions::default();
        if let Err(e) = registry
            .delete_collection(res, Some(namespace), &Filter::everything(res), &options)
            .await
        {
            tracing::warn!("emptying namespace {namespace} of {}: {e}", res.plural);
        }
    }
}

/// Drops the namespace's own finalizer, which deletes it.
async fn finish_namespace(registry: &Arc<Registry>, namespace: &str) {
    let namespaces = resources::find("", "v1", "namespaces").expect("namespaces are served");
    let Ok(mut current) = registry.get(namespaces, None, namespace).await else {
        return;
    };
    if object::deletion_timestamp(&current).is_none() {
        return;
    }
    current["spec"]["finalizers"] = json!([]);
    let key = namespaces.key(None, namespace);
    let expected: i64 = object::resource_version(&current)
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0);
    let result = if object::finalizers(&current).is_empty() {
        registry
            .store()
            .delete(&key, Some(expected))
            .await
            .map(|_| ())
    } else {
        registry
            .store()
            .update(&key, object::encode(&current), Some(expected))
            .await
            .map(|_| ())
    };
    if let Err(e) = result {
        tracing::debug!("finishing namespace {namespace}: {e}");
    }
}

/// Periodic: terminating namespaces that are empty, pods whose grace period
/// ran out while their node is gone or not ready.
async fn recheck_pending(registry: &Arc<Registry>, index: &Index) {
    for ns in index.terminating_namespaces.clone() {
        terminate_namespace(registry, index, &ns).await;
    }
    let now = jiff::Timestamp::now();
    let expired: Vec<Entry> = index
        .terminating_pods
        .iter()
        .filter(|(_, deadline)| **deadline <= now)
        .filter_map(|(uid, _)| index.by_uid.get(uid).cloned())
        .collect();
    for pod in expired {
        let Ok(obj) = registry
            .get(pod.res, pod.namespace.as_deref(), &pod.name)
            .await
        else {
            continue;
        };
        let node = obj["spec"]["nodeName"].as_str().unwrap_or("").to_string();
        if node_is_gone(registry, &node).await {
            let options = DeleteOptions {
                grace_period_seconds: Some(0),
                ..Default::default()
            };
            if let Err(e) = registry
                .delete(pod.res, pod.namespace.as_deref(), &pod.name, &options)
                .await
            {
                tracing::debug!("removing pod {} of gone node {node}: {e}", pod.name);
            }
        }
    }
}

/// A node that does not exist or is not Ready cannot confirm a pod's end.
async fn node_is_gone(registry: &Arc<Registry>, node: &str) -> bool {
    let nodes = resources::find("", "v1", "nodes").expect("nodes are served");
    match registry.get(nodes, None, node).await {
        Ok(obj) => !obj["status"]["conditions"].as_array().is_some_and(|conds| {
            conds
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        }),
        Err(_) => true,
    }
}

async fn ensure_default_service_account(registry: &Arc<Registry>, index: &Index, namespace: &str) {
    let sa = resources::find("", "v1", "serviceaccounts").expect("serviceaccounts are served");
    let key = sa.key(Some(namespace), "default");
    if index.uid_of_key.contains_key(&key) || index.terminating_namespaces.contains(namespace) {
        return;
    }
    let body = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace}});
    match registry
        .create(sa, Some(namespace), &body, &WriteOptions::default())
        .await
    {
        Ok(_) => {}
        Err(e) if e.code == 409 || e.code == 403 || e.code == 404 => {}
        Err(e) => tracing::warn!("default service account of {namespace}: {e}"),
    }
}

/// Compacts history older than one interval, every interval.
async fn compaction(registry: Arc<Registry>, interval: Duration) {
    let mut previous: Option<i64> = None;
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Ok(current) = registry.current_revision().await else {
            continue;
        };
        if let Some(target) = previous {
            let compacted = registry.store().compacted_revision().await.unwrap_or(0);
            if target > compacted {
                match registry.store().compact(target).await {
                    Ok(()) => tracing::debug!("compacted history up to revision {target}"),
                    Err(e) => tracing::warn!("compaction to {target}: {e}"),
                }
            }
        }
        previous = Some(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(value: Value) -> Head {
        serde_json::from_value(value).expect("object metadata")
    }

    fn obj(uid: &str, name: &str, owners: &[&str]) -> Head {
        let refs: Vec<Value> = owners
            .iter()
            .map(|o| json!({"uid": o, "kind": "ReplicaSet", "name": "rs", "apiVersion": "apps/v1"}))
            .collect();
        head(
            json!({"metadata": {"uid": uid, "name": name, "namespace": "default", "ownerReferences": refs}}),
        )
    }

    #[test]
    fn orphans_are_dependents_without_any_living_owner() {
        let mut index = Index::default();
        index.put(
            "/registry/apps/replicasets/default/rs",
            &obj("rs1", "rs", &[]),
        );
        index.put("/registry/core/pods/default/a", &obj("p1", "a", &["rs1"]));
        index.put(
            "/registry/core/pods/default/b",
            &obj("p2", "b", &["rs1", "other"]),
        );
        index.put(
            "/registry/apps/replicasets/default/other",
            &obj("other", "other", &[]),
        );
        let (uid, _) = index
            .remove("/registry/apps/replicasets/default/rs")
            .unwrap();
        let orphans: Vec<String> = index.orphans_of(&uid).into_iter().map(|e| e.name).collect();
        assert_eq!(orphans, vec!["a"]);
        assert_eq!(index.in_namespace["default"].len(), 3);
    }

    #[test]
    fn dependents_whose_owners_never_existed_here_are_dangling() {
        let mut index = Index::default();
        index.put(
            "/registry/apps/replicasets/default/rs",
            &obj("rs1", "rs", &[]),
        );
        index.put("/registry/core/pods/default/a", &obj("p1", "a", &["rs1"]));
        index.put("/registry/core/pods/default/b", &obj("p2", "b", &["gone"]));
        index.put(
            "/registry/core/pods/default/c",
            &obj("p3", "c", &["gone", "rs1"]),
        );
        assert!(index.dangling("p1").is_none());
        assert_eq!(index.dangling("p2").map(|e| e.name), Some("b".to_string()));
        assert!(index.dangling("p3").is_none());
        assert!(index.dangling("rs1").is_none(), "no owners at all");
    }

    #[test]
    fn owners_of_unserved_kinds_are_not_judged() {
        assert!(owners_are_served(&obj("p1", "a", &["rs1"]).metadata));
        let job_owned = head(
            json!({"metadata": {"uid": "p9", "name": "j-1", "ownerReferences": [
                {"uid": "j", "kind": "Job", "name": "j", "apiVersion": "batch/v1"}
            ]}}),
        );
        assert!(!owners_are_served(&job_owned.metadata));
        // Neither dangling nor an orphan when the unserved owner is not indexed.
        let mut index = Index::default();
        index.put("/registry/core/pods/default/j", &job_owned);
        let uid = job_owned.metadata.uid.clone();
        assert!(index.dangling(&uid).is_none());
        assert!(index.orphans_of("j").is_empty());
        let node_owned = head(json!({"metadata": {"ownerReferences": [
            {"uid": "n", "kind": "Node", "name": "n", "apiVersion": "v1"}
        ]}}));
        assert!(owners_are_served(&node_owned.metadata));
    }

    #[test]
    fn keys_map_back_to_resources() {
        assert_eq!(
            resource_of_key("/registry/core/pods/default/a")
                .unwrap()
                .kind,
            "Pod"
        );
        assert_eq!(
            resource_of_key("/registry/apps/deployments/x/y")
                .unwrap()
                .kind,
            "Deployment"
        );
        assert_eq!(
            resource_of_key("/registry/core/namespaces/default")
                .unwrap()
                .kind,
            "Namespace"
        );
        assert!(resource_of_key("/other").is_none());
    }
}

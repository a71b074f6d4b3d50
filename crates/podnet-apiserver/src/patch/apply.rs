//! Server-side apply: merges an applied configuration into the live object
//! and records which fields each manager owns in `metadata.managedFields`.
//!
//! Implemented: the set of fields the configuration specifies becomes the
//! manager's `Apply` entry (lists keyed by `x-kubernetes-list-map-keys`,
//! sets by value, everything else whole); fields the manager applied before
//! and no longer applies are removed unless another manager owns them; a
//! change to a field another manager owns is a conflict unless `force`,
//! which moves the field to the applier. Fields are compared by value, so
//! two managers applying the same value share the field.

use serde_json::{Map, Value};

use super::fieldset::{canonical_key, FieldPath, FieldSet, PathElement};
use super::{child, root_node, Child, FieldConflict, Node, PatchError};
use crate::resources::Resource;
use crate::schema::ListType;

/// Metadata the server sets; apply neither merges nor tracks it.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "managedFields",
];

/// Key fields that Kubernetes' schema defaults, so an item may leave them out.
const KEY_DEFAULTS: &[(&str, &str)] = &[("protocol", "TCP")];

/// Applies `applied` (the parsed body of an `application/apply-patch+yaml`
/// request) as `field_manager`: creates the object from it when `existing`
/// is None, else merges it into `existing`. Returns the object to store,
/// with its `managedFields` updated; defaulting and validation are the
/// caller's.
pub fn server_side_apply(
    res: &Resource,
    existing: Option<&Value>,
    applied: &Value,
    field_manager: &str,
    force: bool,
) -> Result<Value, PatchError> {
    if field_manager.is_empty() {
        return Err(PatchError::MissingFieldManager);
    }
    let Value::Object(applied_object) = applied else {
        return Err(PatchError::InvalidApply(
            "the applied configuration must be an object".into(),
        ));
    };
    check_type(res, applied_object)?;
    let managed = managed_view(res, applied_object);
    let root = root_node(res);
    let mut applied_set = FieldSet::default();
    collect_object(&managed, root, false, &mut Vec::new(), &mut applied_set)?;
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let api_version = res.api_version();

    let Some(live) = existing else {
        let mut object = managed;
        object.insert("apiVersion".into(), api_version.clone().into());
        object.insert("kind".into(), res.kind.into());
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(metadata) = metadata else {
            return Err(PatchError::InvalidApply(
                "metadata must be an object".into(),
            ));
        };
        if let Some(Value::Object(applied_metadata)) = applied_object.get("metadata") {
            for field in ["name", "namespace"] {
                if let Some(value) = applied_metadata.get(field) {
                    metadata.insert(field.into(), value.clone());
                }
            }
        }
        let entries = if applied_set.is_empty() {
            Vec::new()
        } else {
            vec![apply_entry(field_manager, &api_version, &now, &applied_set)]
        };
        metadata.insert("managedFields".into(), Value::Array(entries));
        return Ok(Value::Object(object));
    };

    let Value::Object(live_object) = live else {
        return Err(PatchError::NotAnObject);
    };
    let mut entries = managed_entries(live_object)?;
    let mine = entries.iter().position(|e| {
        e.manager == field_manager && e.operation == "Apply" && e.subresource.is_empty()
    });
    let previous = mine.map(|i| entries[i].set.clone()).unwrap_or_default();

    let mut merged = live.clone();
    merge_object(&mut merged, &managed, root, false)?;

    // A field changes when the applier's value differs from the live one;
    // for a node with fields below it, when it appears or disappears.
    let changed: Vec<FieldPath> = applied_set
        .members()
        .into_iter()
        .filter(|path| {
            let has_children = applied_set
                .node(&path.0)
                .is_some_and(|node| !node.children.is_empty());
            let before = get_path(live, &path.0);
            let after = get_path(&merged, &path.0);
            if has_children {
                before.is_some() != after.is_some()
            } else {
                before != after
            }
        })
        .collect();
    let mut conflicts = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if Some(index) == mine {
            continue;
        }
        for path in &changed {
            if entry.set.contains(&path.0) {
                conflicts.push(FieldConflict {
                    manager: entry.manager.clone(),
                    api_version: entry.api_version.clone(),
                    field: path.to_string(),
                });
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            return Err(PatchError::Conflict(conflicts));
        }
        for (index, entry) in entries.iter_mut().enumerate() {
            if Some(index) != mine {
                for path in &changed {
                    entry.set.remove(&path.0);
                }
            }
        }
    }

    // Fields this manager applied before and no longer applies go, unless
    // someone else owns them (or something below them).
    let others: Vec<&FieldSet> = entries
        .iter()
        .enumerate()
        .filter(|(index, _)| Some(*index) != mine)
        .map(|(_, entry)| &entry.set)
        .collect();
    for path in previous.members() {
        if applied_set.covers(&path.0) || others.iter().any(|set| set.covers(&path.0)) {
            continue;
        }
        remove_path(&mut merged, &path.0);
        // A map or struct emptied by the removal goes too, unless someone owns it.
        let mut parent = path.0.clone();
        while parent.len() > 1 {
            parent.pop();
            let owned =
                applied_set.contains(&parent) || others.iter().any(|set| set.contains(&parent));
            let emptied = matches!(parent.last(), Some(PathElement::Field(_)))
                && get_path(&merged, &parent)
                    .is_some_and(|v| v.as_object().is_some_and(Map::is_empty));
            if owned || !emptied {
                break;
            }
            remove_path(&mut merged, &parent);
        }
    }

    let mut fields = Vec::with_capacity(entries.len() + 1);
    let mut wrote_mine = false;
    for (index, mut entry) in entries.into_iter().enumerate() {
        if Some(index) == mine {
            wrote_mine = true;
            if !applied_set.is_empty() {
                fields.push(apply_entry(field_manager, &api_version, &now, &applied_set));
            }
            continue;
        }
        entry.set.prune();
        if entry.set.is_empty() {
            continue;
        }
        entry
            .raw
            .insert("fieldsV1".into(), entry.set.to_fields_v1());
        fields.push(Value::Object(entry.raw));
    }
    if !wrote_mine && !applied_set.is_empty() {
        fields.push(apply_entry(field_manager, &api_version, &now, &applied_set));
    }
    let Some(Value::Object(metadata)) = merged.get_mut("metadata") else {
        return Err(PatchError::InvalidApply(
            "the live object has no metadata".into(),
        ));
    };
    metadata.insert("managedFields".into(), Value::Array(fields));
    Ok(merged)
}

fn check_type(res: &Resource, applied: &Map<String, Value>) -> Result<(), PatchError> {
    let api_version = applied.get("apiVersion").and_then(Value::as_str);
    let kind = applied.get("kind").and_then(Value::as_str);
    match (api_version, kind) {
        (None, _) => Err(PatchError::InvalidApply(
            "Object 'apiVersion' is missing".into(),
        )),
        (_, None) => Err(PatchError::InvalidApply("Object 'Kind' is missing".into())),
        (Some(api_version), Some(kind)) if api_version != res.api_version() || kind != res.kind => {
            Err(PatchError::InvalidApply(format!(
                "{api_version}, Kind={kind} cannot be applied to {} of {}",
                res.plural,
                res.api_version()
            )))
        }
        _ => Ok(()),
    }
}

/// The part of the applied configuration apply merges and tracks: no type
/// fields, no server-set metadata, and no status where status is written
/// through its own subresource.
fn managed_view(res: &Resource, applied: &Map<String, Value>) -> Map<String, Value> {
    let mut view = applied.clone();
    view.remove("apiVersion");
    view.remove("kind");
    if res.status {
        view.remove("status");
    }
    if let Some(Value::Object(metadata)) = view.get_mut("metadata") {
        for field in SERVER_METADATA {
            metadata.remove(*field);
        }
        if metadata.is_empty() {
            view.remove("metadata");
        }
    }
    view
}

struct ManagedEntry {
    manager: String,
    operation: String,
    subresource: String,
    api_version: String,
    set: FieldSet,
    /// The entry as stored, so unknown keys survive.
    raw: Map<String, Value>,
}

fn managed_entries(live: &Map<String, Value>) -> Result<Vec<ManagedEntry>, PatchError> {
    let Some(entries) = live
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(Value::as_array)
    else {
        return Ok(Vec::new());
    };
    entries
        .iter()
        .map(|entry| {
            let Value::Object(raw) = entry else {
                return Err(PatchError::CannotMerge {
                    path: "metadata.managedFields".into(),
                    detail: format!("entry is not an object: {entry}"),
                });
            };
            let text = |key: &str| {
                raw.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let set = match raw.get("fieldsV1") {
                Some(fields) => {
                    FieldSet::from_fields_v1(fields).map_err(|detail| PatchError::CannotMerge {
                        path: "metadata.managedFields".into(),
                        detail,
                    })?
                }
                None => FieldSet::default(),
            };
            Ok(ManagedEntry {
                manager: text("manager"),
                operation: text("operation"),
                subresource: text("subresource"),
                api_version: text("apiVersion"),
                set,
                raw: raw.clone(),
            })
        })
        .collect()
}

fn apply_entry(manager: &str, api_version: &str, time: &str, set: &FieldSet) -> Value {
    serde_json::json!({
        "apiVersion": api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": set.to_fields_v1(),
        "manager": manager,
        "operation": "Apply",
        "time": time,
    })
}

enum ListKind {
    Keyed(Vec<&'static str>),
    Set,
    Atomic,
}

fn list_kind(child: &Child) -> ListKind {
    let Some(meta) = &child.meta else {
        return ListKind::Atomic;
    };
    match meta.list_type {
        Some(ListType::Map) if !meta.list_map_keys.is_empty() => {
            ListKind::Keyed(meta.list_map_keys.clone())
        }
        Some(ListType::Set) => ListKind::Set,
        Some(ListType::Atomic) => ListKind::Atomic,
        Some(ListType::Map) | None => match (meta.strategy.merge, meta.merge_key) {
            (true, Some(key)) => ListKind::Keyed(vec![key]),
            (true, None) => ListKind::Set,
            (false, _) => ListKind::Atomic,
        },
    }
}

fn key_default(field: &str) -> Option<Value> {
    KEY_DEFAULTS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, value)| Value::from(*value))
}

/// The `k:` element of a keyed list item.
fn item_key(item: &Value, keys: &[&str], path: &[PathElement]) -> Result<String, PatchError> {
    let Value::Object(object) = item else {
        return Err(PatchError::InvalidApply(format!(
            "{}: a keyed list holds objects, not {item}",
            FieldPath(path.to_vec())
        )));
    };
    let mut key = Map::new();
    for field in keys {
        let value = object
            .get(*field)
            .cloned()
            .or_else(|| key_default(field))
            .ok_or_else(|| {
                PatchError::InvalidApply(format!(
                    "{}: associative list with keys has an element that omits key field {field:?} (and doesn't have default value)",
                    FieldPath(path.to_vec())
                ))
            })?;
        key.insert((*field).to_string(), value);
    }
    Ok(canonical_key(&key))
}

fn key_matches(item: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(field, wanted)| match item.get(field) {
        Some(value) => value == wanted,
        None => key_default(field).as_ref() == Some(wanted),
    })
}

fn collect_object(
    object: &Map<String, Value>,
    node: Node,
    atomic: bool,
    prefix: &mut Vec<PathElement>,
    set: &mut FieldSet,
) -> Result<(), PatchError> {
    if atomic || object.is_empty() {
        set.insert(prefix);
        return Ok(());
    }
    for (field, value) in object {
        let child = child(node, field);
        prefix.push(PathElement::Field(field.clone()));
        collect_field(value, &child, prefix, set)?;
        prefix.pop();
    }
    Ok(())
}

fn collect_field(
    value: &Value,
    child: &Child,
    prefix: &mut Vec<PathElement>,
    set: &mut FieldSet,
) -> Result<(), PatchError> {
    match value {
        Value::Object(object) => collect_object(object, child.node, child.atomic(), prefix, set),
        Value::Array(items) if !items.is_empty() => match list_kind(child) {
            ListKind::Keyed(keys) => {
                for item in items {
                    let key = item_key(item, &keys, prefix)?;
                    prefix.push(PathElement::Key(key));
                    set.insert(prefix);
                    if let Value::Object(object) = item {
                        collect_object(object, child.node, false, prefix, set)?;
                    }
                    prefix.pop();
                }
                Ok(())
            }
            ListKind::Set => {
                for item in items {
                    if item.is_object() || item.is_array() {
                        return Err(PatchError::InvalidApply(format!(
                            "{}: a set holds scalars, not {item}",
                            FieldPath(prefix.clone())
                        )));
                    }
                    prefix.push(PathElement::Value(item.to_string()));
                    set.insert(prefix);
                    prefix.pop();
                }
                Ok(())
            }
            ListKind::Atomic => {
                set.insert(prefix);
                Ok(())
            }
        },
        _ => {
            set.insert(prefix);
            Ok(())
        }
    }
}

/// Merges the applied configuration into the live object.
fn merge_object(
    live: &mut Value,
    applied: &Map<String, Value>,
    node: Node,
    atomic: bool,
) -> Result<(), PatchError> {
    let Value::Object(live_object) = live else {
        *live = Value::Object(applied.clone());
        return Ok(());
    };
    if atomic {
        *live_object = applied.clone();
        return Ok(());
    }
    for (field, value) in applied {
        if value.is_null() {
            live_object.remove(field);
            continue;
        }
        let child = child(node, field);
        match live_object.get_mut(field) {
            Some(current) => merge_field(current, value, &child)?,
            None => {
                live_object.insert(field.clone(), value.clone());
            }
        }
    }
    Ok(())
}

fn merge_field(live: &mut Value, applied: &Value, child: &Child) -> Result<(), PatchError> {
    match (live, applied) {
        (live @ Value::Object(_), Value::Object(applied)) => {
            merge_object(live, applied, child.node, child.atomic())
        }
        (Value::Array(current), Value::Array(items)) => match list_kind(child) {
            ListKind::Keyed(keys) => {
                for item in items {
                    let Value::Object(item_object) = item else {
                        return Err(PatchError::InvalidApply(format!(
                            "a keyed list holds objects, not {item}"
                        )));
                    };
                    let key: Map<String, Value> =
                        serde_json::from_str(&item_key(item, &keys, &[])?)
                            .map_err(|e| PatchError::InvalidApply(e.to_string()))?;
                    match current
                        .iter_mut()
                        .find(|existing| key_matches(existing, &key))
                    {
                        Some(existing) => merge_object(existing, item_object, child.node, false)?,
                        None => current.push(item.clone()),
                    }
                }
                Ok(())
            }
            ListKind::Set => {
                for item in items {
                    if !current.contains(item) {
                        current.push(item.clone());
                    }
                }
                Ok(())
            }
            ListKind::Atomic => {
                *current = items.clone();
                Ok(())
            }
        },
        (live, applied) => {
            *live = applied.clone();
            Ok(())
        }
    }
}

fn get_path<'a>(mut value: &'a Value, path: &[PathElement]) -> Option<&'a Value> {
    for element in path {
        value = match element {
            PathElement::Field(name) => value.as_object()?.get(name)?,
            PathElement::Key(key) => {
                let key: Map<String, Value> = serde_json::from_str(key).ok()?;
                value
                    .as_array()?
                    .iter()
                    .find(|item| key_matches(item, &key))?
            }
            PathElement::Value(wanted) => {
                let wanted: Value = serde_json::from_str(wanted).ok()?;
                value.as_array()?.iter().find(|item| **item == wanted)?
            }
            PathElement::Index(index) => value.as_array()?.get(*index)?,
        };
    }
    Some(value)
}

fn get_path_mut<'a>(mut value: &'a mut Value, path: &[PathElement]) -> Option<&'a mut Value> {
    for element in path {
        value = match element {
            PathElement::Field(name) => value.as_object_mut()?.get_mut(name)?,
            PathElement::Key(key) => {
                let key: Map<String, Value> = serde_json::from_str(key).ok()?;
                value
                    .as_array_mut()?
                    .iter_mut()
                    .find(|item| key_matches(item, &key))?
            }
            PathElement::Value(wanted) => {
                let wanted: Value = serde_json::from_str(wanted).ok()?;
                value
                    .as_array_mut()?
                    .iter_mut()
                    .find(|item| **item == wanted)?
            }
            PathElement::Index(index) => value.as_array_mut()?.get_mut(*index)?,
        };
    }
    Some(value)
}

fn remove_path(value: &mut Value, path: &[PathElement]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let Some(parent) = get_path_mut(value, parents) else {
        return;
    };
    match last {
        PathElement::Field(name) => {
            if let Some(object) = parent.as_object_mut() {
                object.remove(name);
            }
        }
        PathElement::Key(key) => {
            let Ok(key) = serde_json::from_str::<Map<String, Value>>(key) else {
                return;
            };
            if let Some(items) = parent.as_array_mut() {
                if let Some(index) = items.iter().position(|item| key_matches(item, &key)) {
                    items.remove(index);
                }
            }
        }
        PathElement::Value(wanted) => {
            let Ok(wanted) = serde_json::from_str::<Value>(wanted) else {
                return;
            };
            if let Some(items) = parent.as_array_mut() {
                items.retain(|item| *item != wanted);
            }
        }
        PathElement::Index(index) => {
            if let Some(items) = parent.as_array_mut() {
                if *index < items.len() {
                    items.remove(*index);
                }
            }
        }
    }
}

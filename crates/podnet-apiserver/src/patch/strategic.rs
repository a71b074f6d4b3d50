//! Strategic merge patch, as Kubernetes applies it: maps merge recursively
//! and `null` deletes; lists with the `merge` strategy merge by their merge
//! key (objects) or as sets (scalars), other lists are replaced; and the
//! directives `$patch` (replace, delete, merge), `$retainKeys`,
//! `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`.
//!
//! Merged lists keep a stable order: items named in the patch (or in its
//! `$setElementOrder` list) in the patch's order, items only on the server in
//! the server's order, interleaved where the server order relates them.

use serde_json::{Map, Value};

use super::{child, join, Child, Node, PatchError};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

fn invalid(path: &str, detail: impl Into<String>) -> PatchError {
    PatchError::InvalidDirective {
        path: display_path(path),
        detail: detail.into(),
    }
}

fn cannot_merge(path: &str, detail: impl Into<String>) -> PatchError {
    PatchError::CannotMerge {
        path: display_path(path),
        detail: detail.into(),
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "the object".to_string()
    } else {
        path.to_string()
    }
}

/// Merges `patch` into `original`, an object at `node` of the schema.
pub(crate) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    node: Node,
    path: &str,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        return match directive.as_str() {
            // The patch's content is the whole new value, still cleaned of
            // nulls and directives.
            Some("replace") => merge_map(Map::new(), patch, node, path),
            Some("delete") => Ok(Map::new()),
            Some("merge") => merge_map(original, patch, node, path),
            _ => Err(invalid(
                path,
                format!("unknown {DIRECTIVE} directive {directive} in a map"),
            )),
        };
    }
    retain_keys(&mut original, &mut patch, path)?;
    set_element_orders(&mut original, &mut patch, node, path)?;

    for (key, patch_value) in patch {
        let (field, delete_list) = match key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            Some(field) => (field.to_string(), true),
            None => (key, false),
        };
        let field_path = join(path, &field);
        if field.is_empty() || field.starts_with('$') {
            return Err(invalid(&field_path, "unknown directive"));
        }
        if patch_value.is_null() {
            original.remove(&field);
            continue;
        }
        let child = child(node, &field);
        let Some(current) = original.remove(&field) else {
            if !delete_list {
                original.insert(field, fresh(patch_value, &child, &field_path)?);
            }
            continue;
        };
        let merged = if delete_list {
            let (Value::Array(current), Value::Array(to_delete)) = (&current, &patch_value) else {
                return Err(invalid(
                    &field_path,
                    format!("{DELETE_FROM_PRIMITIVE_LIST}{field} must be a list and name a list"),
                ));
            };
            if !child.merges_list() {
                return Err(invalid(
                    &field_path,
                    format!("{DELETE_FROM_PRIMITIVE_LIST}{field} applies only to lists merged by strategic merge"),
                ));
            }
            Value::Array(delete_from_list(current, to_delete, &field_path)?)
        } else {
            match (current, patch_value) {
                (Value::Object(current), Value::Object(patch_object)) => {
                    if child.meta.as_ref().is_some_and(|m| m.strategy.replace) {
                        fresh(Value::Object(patch_object), &child, &field_path)?
                    } else {
                        Value::Object(merge_map(current, patch_object, child.node, &field_path)?)
                    }
                }
                (Value::Array(current), Value::Array(patch_list)) if child.merges_list() => {
                    Value::Array(merge_list(
                        current,
                        patch_list,
                        child.merge_key(),
                        child.node,
                        &field_path,
                    )?)
                }
                (_, patch_value) => fresh(patch_value, &child, &field_path)?,
            }
        };
        original.insert(field, merged);
    }
    Ok(original)
}

/// A value taken from the patch where the original has none: cleaned of
/// nulls and directives as if merged into an empty value.
fn fresh(value: Value, child: &Child, path: &str) -> Result<Value, PatchError> {
    Ok(match value {
        Value::Object(object) => Value::Object(merge_map(Map::new(), object, child.node, path)?),
        Value::Array(items) if child.merges_list() => Value::Array(merge_list(
            Vec::new(),
            items,
            child.merge_key(),
            child.node,
            path,
        )?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(object) => {
                        merge_map(Map::new(), object, child.node, path).map(Value::Object)
                    }
                    other => Ok(other),
                })
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Items {
    Objects,
    Scalars,
}

fn item_kind(lists: &[&[Value]], path: &str) -> Result<Option<Items>, PatchError> {
    let mut kind = None;
    for item in lists.iter().flat_map(|list| list.iter()) {
        let this = match item {
            Value::Array(_) => return Err(cannot_merge(path, "lists of lists are not supported")),
            Value::Object(_) => Items::Objects,
            _ => Items::Scalars,
        };
        if kind.is_some_and(|k| k != this) {
            return Err(cannot_merge(path, "the list mixes objects and scalars"));
        }
        kind = Some(this);
    }
    Ok(kind)
}

/// Merges a list whose strategy is `merge`.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: Option<&str>,
    item_node: Node,
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    let Some(kind) = item_kind(&[&original, &patch], path)? else {
        return Ok(original);
    };
    match kind {
        Items::Scalars => {
            let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
            for value in original.iter().chain(&patch) {
                if !merged.contains(value) {
                    merged.push(value.clone());
                }
            }
            let (in_patch, server_only) = partition(merged, &patch, None, path)?;
            normalize_order(in_patch, server_only, &patch, &original, None, path)
        }
        Items::Objects => {
            let key = merge_key.ok_or_else(|| {
                cannot_merge(
                    path,
                    "the list has no merge key, so its items cannot be merged",
                )
            })?;
            let (original, patch) = apply_item_directives(original, patch, key, path)?;
            let mut merged = original.clone();
            for item in &patch {
                let Value::Object(item_map) = item else {
                    return Err(cannot_merge(path, "the list mixes objects and scalars"));
                };
                let value = item_map
                    .get(key)
                    .ok_or_else(|| missing_key(item, key, path))?;
                let item_path = format!("{path}[{key}={value}]");
                match position_by_key(&merged, key, value) {
                    Some(index) => {
                        let Value::Object(current) = merged[index].take() else {
                            return Err(cannot_merge(path, "the list mixes objects and scalars"));
                        };
                        merged[index] = Value::Object(merge_map(
                            current,
                            item_map.clone(),
                            item_node,
                            &item_path,
                        )?);
                    }
                    None => merged.push(Value::Object(merge_map(
                        Map::new(),
                        item_map.clone(),
                        item_node,
                        &item_path,
                    )?)),
                }
            }
            let (in_patch, server_only) = partition(merged, &patch, Some(key), path)?;
            normalize_order(in_patch, server_only, &patch, &original, Some(key), path)
        }
    }
}

fn missing_key(item: &Value, key: &str, path: &str) -> PatchError {
    cannot_merge(
        path,
        format!("map: {item} does not contain declared merge key: {key}"),
    )
}

/// Applies `$patch: delete` and `$patch: replace` items; returns the
/// original left after deletions and the patch items left to merge.
fn apply_item_directives(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
    path: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let value = item.get(key).ok_or_else(|| missing_key(&item, key, path))?;
                original.retain(|existing| existing.get(key) != Some(value));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(invalid(
                    path,
                    "merging lists cannot yet be specified in the patch",
                ))
            }
            _ => {
                return Err(invalid(
                    path,
                    format!("unknown {DIRECTIVE} directive {directive} in a list item"),
                ))
            }
        }
    }
    if replace {
        // The list becomes the patch's items, merged into nothing.
        return Ok((Vec::new(), plain));
    }
    Ok((original, plain))
}

fn delete_from_list(
    current: &[Value],
    to_delete: &[Value],
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    if to_delete.iter().any(|v| v.is_object() || v.is_array()) {
        return Err(invalid(
            path,
            format!("{DELETE_FROM_PRIMITIVE_LIST} lists scalars only"),
        ));
    }
    Ok(current
        .iter()
        .filter(|v| !to_delete.contains(v))
        .cloned()
        .collect())
}

/// Drops the original's keys that the patch's `$retainKeys` does not list.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    path: &str,
) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(invalid(
            path,
            format!("{RETAIN_KEYS} must be a list of field names"),
        ));
    };
    let retained: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
    if retained.len() != retain.len() {
        return Err(invalid(
            path,
            format!("{RETAIN_KEYS} must be a list of field names"),
        ));
    }
    for (key, value) in patch.iter() {
        if value.is_null()
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !retained.contains(&key.as_str()) {
            return Err(invalid(
                path,
                format!("patch content doesn't match {RETAIN_KEYS} list: {key} is not retained"),
            ));
        }
    }
    original.retain(|key, _| retained.contains(&key.as_str()));
    Ok(())
}

/// Merges every list that has a `$setElementOrder/<field>` directive and
/// orders it by that list; the merged lists leave the patch.
fn set_element_orders(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    node: Node,
    path: &str,
) -> Result<(), PatchError> {
    let directives: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive in directives {
        let field = directive[SET_ELEMENT_ORDER.len()..].to_string();
        let field_path = join(path, &field);
        let Some(Value::Array(order)) = patch.remove(&directive) else {
            return Err(invalid(&field_path, format!("{directive} must be a list")));
        };
        if field.is_empty() {
            return Err(invalid(path, format!("{directive} names no field")));
        }
        let child = child(node, &field);
        let key = child.merge_key();
        let original_list = match original.get(&field) {
            Some(Value::Array(list)) => Some(list.clone()),
            Some(_) => return Err(cannot_merge(&field_path, "the field is not a list")),
            None => None,
        };
        let patch_list = match patch.remove(&field) {
            Some(Value::Array(list)) => Some(list),
            Some(_) => {
                return Err(invalid(
                    &field_path,
                    format!("{directive} orders a field whose patch value is not a list"),
                ))
            }
            None => None,
        };
        if let Some(patch_list) = &patch_list {
            check_order(patch_list, &order, key, &field_path)?;
        }
        let merged = match (&original_list, patch_list) {
            (Some(current), None) => current.clone(),
            (None, Some(patch_list)) => {
                as_list(fresh(Value::Array(patch_list), &child, &field_path)?)
            }
            (Some(current), Some(patch_list)) if child.merges_list() => {
                merge_list(current.clone(), patch_list, key, child.node, &field_path)?
            }
            (Some(_), Some(patch_list)) => {
                as_list(fresh(Value::Array(patch_list), &child, &field_path)?)
            }
            (None, None) => continue,
        };
        let (in_order, server_only) = partition(merged, &order, key, &field_path)?;
        let server_order = original_list.unwrap_or_default();
        let ordered = normalize_order(
            in_order,
            server_only,
            &order,
            &server_order,
            key,
            &field_path,
        )?;
        original.insert(field, Value::Array(ordered));
    }
    Ok(())
}

fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => vec![other],
    }
}

/// The patch's items (other than deletions) must appear in the
/// `$setElementOrder` list, in the same relative order.
fn check_order(
    patch: &[Value],
    order: &[Value],
    key: Option<&str>,
    path: &str,
) -> Result<(), PatchError> {
    let items: Vec<&Value> = patch
        .iter()
        .filter(|item| item.get(DIRECTIVE).is_none())
        .collect();
    let mut at = 0;
    for wanted in order {
        let Some(item) = items.get(at) else {
            break;
        };
        let same = match key {
            Some(key) => {
                let item_key = item.get(key).ok_or_else(|| missing_key(item, key, path))?;
                let wanted_key = wanted
                    .get(key)
                    .ok_or_else(|| missing_key(wanted, key, path))?;
                item_key == wanted_key
            }
            None => *item == wanted,
        };
        if same {
            at += 1;
        }
    }
    if at < items.len() {
        return Err(invalid(
            path,
            format!("the order of the patch list doesn't match the {SET_ELEMENT_ORDER} list"),
        ));
    }
    Ok(())
}

fn position_by_key(list: &[Value], key: &str, value: &Value) -> Option<usize> {
    list.iter().position(|item| item.get(key) == Some(value))
}

/// Where `item` sits in `list`: by merge key for objects, by value otherwise.
fn index_in(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    match key {
        Some(key) => {
            let value = item.get(key)?;
            position_by_key(list, key, value)
        }
        None => list.iter().position(|v| v == item),
    }
}

/// Splits `merged` into the items `by` names and the others.
fn partition(
    merged: Vec<Value>,
    by: &[Value],
    key: Option<&str>,
    path: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut named = Vec::new();
    let mut others = Vec::new();
    for item in merged {
        if let Some(key) = key {
            if item.get(key).is_none() {
                return Err(missing_key(&item, key, path));
            }
        }
        if index_in(by, &item, key).is_some() {
            named.push(item);
        } else {
            others.push(item);
        }
    }
    Ok((named, others))
}

/// Orders the patch's items by the patch order and the server-only items by
/// the server order, then interleaves them: a server-only item goes before a
/// patch item only where the server order puts it before.
fn normalize_order(
    in_patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    let in_patch = sort_by(in_patch, patch_order, key, path)?;
    let server_only = sort_by(server_only, server_order, key, path)?;
    let mut merged = Vec::with_capacity(in_patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = in_patch.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => {
                let server_first = match (
                    index_in(server_order, l, key),
                    index_in(server_order, r, key),
                ) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                };
                let next = if server_first {
                    left.next()
                } else {
                    right.next()
                };
                merged.extend(next);
            }
            (Some(_), None) => merged.extend(left.next()),
            (None, Some(_)) => merged.extend(right.next()),
            (None, None) => break,
        }
    }
    Ok(merged)
}

fn sort_by(
    mut items: Vec<Value>,
    order: &[Value],
    key: Option<&str>,
    path: &str,
) -> Result<Vec<Value>, PatchError> {
    if let Some(key) = key {
        for item in items.iter().chain(order) {
            if item.get(key).is_none() {
                return Err(missing_key(item, key, path));
            }
        }
    }
    items.sort_by_key(|item| index_in(order, item, key).unwrap_or(usize::MAX));
    Ok(items)
}

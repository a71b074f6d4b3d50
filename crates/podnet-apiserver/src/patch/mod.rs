//! PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386),
//! Kubernetes' strategic merge patch, and server-side apply.
//!
//! Strategic merge and apply follow the field metadata of [`crate::schema`]:
//! lists with a merge key are merged item by item, lists of scalars with the
//! merge strategy are merged as sets, every other list is replaced.

mod apply;
mod fieldset;
mod strategic;

use serde_json::{json, Value};

use crate::resources::Resource;
use crate::schema::{self, FieldSchema, FieldShape};
use crate::status::ApiError;

pub use apply::server_side_apply;
pub use fieldset::{FieldPath, FieldSet, PathElement};

/// The four PATCH content types Kubernetes accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`: a list of RFC 6902 operations.
    Json,
    /// `application/merge-patch+json`: RFC 7386, lists replaced, nulls delete.
    Merge,
    /// `application/strategic-merge-patch+json`: merge keys and directives.
    StrategicMerge,
    /// `application/apply-patch+yaml`: server-side apply (YAML or JSON body).
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header (parameters are ignored).
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }
}

/// One field server-side apply would take from another manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    pub manager: String,
    /// The API version the other manager applied or updated with.
    pub api_version: String,
    /// The field as Kubernetes prints it: `.spec.replicas`,
    /// `.spec.template.spec.containers[name="web"].image`.
    pub field: String,
}

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The body is not a document of the patch type.
    #[error("invalid {patch_type} body: {detail}")]
    InvalidBody {
        patch_type: &'static str,
        detail: String,
    },
    /// A strategic merge directive is malformed (`$patch`, `$retainKeys`,
    /// `$setElementOrder/...`, `$deleteFromPrimitiveList/...`).
    #[error("invalid strategic merge patch at {path}: {detail}")]
    InvalidDirective { path: String, detail: String },
    /// The patch is well formed but does not fit the object: an item without
    /// its merge key, a list of lists, a field that is not a list.
    #[error("cannot merge {path}: {detail}")]
    CannotMerge { path: String, detail: String },
    /// A JSON patch operation failed (including a failed `test`).
    #[error("{0}")]
    JsonPatchFailed(String),
    /// The patch turned the object into something that is not an object.
    #[error("the patched object is not a JSON object")]
    NotAnObject,
    /// Apply requests must name their field manager.
    #[error("fieldManager is required for apply requests")]
    MissingFieldManager,
    /// The applied configuration cannot be applied to this resource.
    #[error("invalid applied configuration: {0}")]
    InvalidApply(String),
    /// Server-side apply would change fields other managers own.
    #[error("{}", conflict_message(.0))]
    Conflict(Vec<FieldConflict>),
}

impl PatchError {
    /// The HTTP status Kubernetes answers with: 400 for malformed bodies, 409
    /// for apply conflicts, 422 for patches that do not fit the object.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::InvalidBody { .. }
            | PatchError::InvalidDirective { .. }
            | PatchError::MissingFieldManager
            | PatchError::InvalidApply(_) => 400,
            PatchError::Conflict(_) => 409,
            PatchError::CannotMerge { .. }
            | PatchError::JsonPatchFailed(_)
            | PatchError::NotAnObject => 422,
        }
    }

    /// The error as the Status the server sends; `name` is the patched object's name.
    pub fn to_api_error(&self, res: &Resource, name: &str) -> ApiError {
        match self {
            PatchError::Conflict(conflicts) => {
                let mut error = ApiError::new(409, "Conflict", self.to_string());
                let causes: Vec<Value> = conflicts
                    .iter()
                    .map(|c| {
                        json!({
                            "reason": "FieldManagerConflict",
                            "message": format!("conflict with {:?} using {}", c.manager, c.api_version),
                            "field": c.field,
                        })
                    })
                    .collect();
                error.details = Some(json!({
                    "name": name,
                    "group": res.group,
                    "kind": res.plural,
                    "causes": causes,
                }));
                error
            }
            // A patch that does not fit the object is a 422 that names no
            // field: with empty details kubectl prints "The request is
            // invalid: <message>".
            PatchError::CannotMerge { .. }
            | PatchError::JsonPatchFailed(_)
            | PatchError::NotAnObject => {
                let mut error = ApiError::new(422, "Invalid", self.to_string());
                error.details = Some(json!({}));
                error
            }
            _ => ApiError::bad_request(self.to_string()),
        }
    }
}

fn conflict_message(conflicts: &[FieldConflict]) -> String {
    let count = conflicts.len();
    let plural = if count == 1 { "" } else { "s" };
    let mut message = format!("Apply failed with {count} conflict{plural}:");
    let mut remaining = conflicts;
    while let Some(first) = remaining.first() {
        let same: Vec<&FieldConflict> = remaining
            .iter()
            .take_while(|c| c.manager == first.manager && c.api_version == first.api_version)
            .collect();
        if same.len() == 1 {
            message.push_str(&format!(
                " conflict with {:?} using {}: {}",
                first.manager, first.api_version, first.field
            ));
        } else {
            message.push_str(&format!(
                " conflicts with {:?} using {}:",
                first.manager, first.api_version
            ));
            for conflict in &same {
                message.push_str(&format!("\n- {}", conflict.field));
            }
        }
        remaining = &remaining[same.len()..];
    }
    message
}

/// Applies a JSON, merge or strategic merge patch to `original`; apply
/// requests go through [`server_side_apply`], which needs the field manager.
pub fn apply_patch(
    res: &Resource,
    original: &Value,
    patch_type: PatchType,
    body: &[u8],
) -> Result<Value, PatchError> {
    let patched = match patch_type {
        PatchType::Json => {
            let operations: json_patch::Patch =
                serde_json::from_slice(body).map_err(|e| PatchError::InvalidBody {
                    patch_type: "JSON patch",
                    detail: e.to_string(),
                })?;
            let mut document = original.clone();
            json_patch::patch(&mut document, &operations)
                .map_err(|e| PatchError::JsonPatchFailed(e.to_string()))?;
            document
        }
        PatchType::Merge => {
            let patch: Value =
                serde_json::from_slice(body).map_err(|e| PatchError::InvalidBody {
                    patch_type: "merge patch",
                    detail: e.to_string(),
                })?;
            let mut document = original.clone();
            json_patch::merge(&mut document, &patch);
            document
        }
        PatchType::StrategicMerge => {
            let patch: Value =
                serde_json::from_slice(body).map_err(|e| PatchError::InvalidBody {
                    patch_type: "strategic merge patch",
                    detail: e.to_string(),
                })?;
            let Value::Object(patch) = patch else {
                return Err(PatchError::InvalidBody {
                    patch_type: "strategic merge patch",
                    detail: "the patch must be a JSON object".into(),
                });
            };
            let Value::Object(original) = original.clone() else {
                return Err(PatchError::NotAnObject);
            };
            Value::Object(strategic::merge_map(original, patch, root_node(res), "")?)
        }
        PatchType::Apply => {
            return Err(PatchError::InvalidApply(
                "apply patches are applied by server-side apply with a field manager".into(),
            ))
        }
    };
    if !patched.is_object() {
        return Err(PatchError::NotAnObject);
    }
    Ok(patched)
}

/// Parses an `application/apply-patch+yaml` body: YAML, or JSON (which YAML reads too).
pub fn parse_apply_body(body: &[u8]) -> Result<Value, PatchError> {
    let value: Value = serde_yaml::from_slice(body).map_err(|e| PatchError::InvalidBody {
        patch_type: "apply patch",
        detail: e.to_string(),
    })?;
    if !value.is_object() {
        return Err(PatchError::InvalidBody {
            patch_type: "apply patch",
            detail: "the applied configuration must be an object".into(),
        });
    }
    Ok(value)
}

/// Where a value sits in the schema while a patch walks the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    /// An object of a named definition.
    Struct(&'static str),
    /// A map whose values are objects of this definition, or scalars (None).
    MapOf(Option<&'static str>),
    /// Nothing known: merged without metadata.
    Opaque,
}

/// A field's metadata and the node of its value (of its items, for lists).
pub(crate) struct Child {
    pub node: Node,
    pub meta: Option<FieldSchema>,
}

impl Child {
    pub fn merges_list(&self) -> bool {
        self.meta.as_ref().is_some_and(|m| m.strategy.merge)
    }

    pub fn merge_key(&self) -> Option<&'static str> {
        self.meta.as_ref().and_then(|m| m.merge_key)
    }

    pub fn atomic(&self) -> bool {
        self.meta.as_ref().is_some_and(|m| m.atomic)
    }
}

pub(crate) fn root_node(res: &Resource) -> Node {
    schema::definitions()
        .get_key_value(&res.definition_name())
        .map_or(Node::Opaque, |(name, _)| Node::Struct(name.as_str()))
}

pub(crate) fn child(node: Node, key: &str) -> Child {
    match node {
        Node::Struct(definition) => match schema::field_schema(definition, key) {
            Some(meta) => Child {
                node: value_node(&meta),
                meta: Some(meta),
            },
            None => Child {
                node: Node::Opaque,
                meta: None,
            },
        },
        Node::MapOf(Some(definition)) => Child {
            node: Node::Struct(definition),
            meta: None,
        },
        Node::MapOf(None) | Node::Opaque => Child {
            node: Node::Opaque,
            meta: None,
        },
    }
}

fn value_node(meta: &FieldSchema) -> Node {
    match meta.shape {
        FieldShape::Object => meta.definition.map_or(Node::Opaque, Node::Struct),
        FieldShape::Map => Node::MapOf(meta.definition.filter(|_| meta.items_are_objects)),
        FieldShape::List if meta.items_are_objects => {
            meta.definition.map_or(Node::Opaque, Node::Struct)
        }
        FieldShape::List | FieldShape::Scalar => Node::Opaque,
    }
}

/// `parent.field`, as error messages name fields.
pub(crate) fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_string()
    } else {
        format!("{parent}.{field}")
    }
}

#[cfg(test)]
mod tests;

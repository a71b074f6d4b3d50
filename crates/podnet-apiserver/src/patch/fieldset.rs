//! Sets of field paths, and their `FieldsV1` encoding in `managedFields`:
//! an object per path element, keyed `f:<field>`, `k:<key object>` (an item
//! of a keyed list), `v:<value>` (an item of a set) or `i:<index>`, where
//! `{}` marks a leaf and `".": {}` marks a node that is itself a member and
//! has members below it.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of an object or a key of a map.
    Field(String),
    /// An item of a keyed list, by its key fields: canonical JSON of an
    /// object whose keys are sorted (`{"containerPort":80,"protocol":"TCP"}`).
    Key(String),
    /// An item of a set, by its value as JSON.
    Value(String),
    /// An item of a list by position.
    Index(usize),
}

/// A path from the object's root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FieldPath(pub Vec<PathElement>);

impl fmt::Display for FieldPath {
    /// As Kubernetes prints paths in conflicts:
    /// `.spec.template.spec.containers[name="web"].image`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.0 {
            match element {
                PathElement::Field(name) => write!(f, ".{name}")?,
                PathElement::Key(key) => {
                    let fields: Vec<String> = match serde_json::from_str::<Map<String, Value>>(key)
                    {
                        Ok(object) => object.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                        Err(_) => vec![key.clone()],
                    };
                    write!(f, "[{}]", fields.join(","))?
                }
                PathElement::Value(value) => write!(f, "[={value}]")?,
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A set of field paths, as a tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSet {
    /// The path leading here is itself in the set.
    pub member: bool,
    pub children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// The node at `path`, created on the way.
    pub fn node_mut(&mut self, path: &[PathElement]) -> &mut FieldSet {
        let mut node = self;
        for element in path {
            node = node.children.entry(element.clone()).or_default();
        }
        node
    }

    pub fn node(&self, path: &[PathElement]) -> Option<&FieldSet> {
        let mut node = self;
        for element in path {
            node = node.children.get(element)?;
        }
        Some(node)
    }

    pub fn insert(&mut self, path: &[PathElement]) {
        self.node_mut(path).member = true;
    }

    pub fn contains(&self, path: &[PathElement]) -> bool {
        self.node(path).is_some_and(|n| n.member)
    }

    /// Whether `path` or anything below it is in the set.
    pub fn covers(&self, path: &[PathElement]) -> bool {
        self.node(path).is_some_and(|n| !n.is_empty())
    }

    pub fn remove(&mut self, path: &[PathElement]) {
        let Some((last, parents)) = path.split_last() else {
            self.member = false;
            return;
        };
        let mut node = self;
        for element in parents {
            match node.children.get_mut(element) {
                Some(next) => node = next,
                None => return,
            }
        }
        if let Some(target) = node.children.get_mut(last) {
            target.member = false;
        }
    }

    /// Every member path, parents before their children.
    pub fn members(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect(&mut prefix, &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<FieldPath>) {
        if self.member {
            out.push(FieldPath(prefix.clone()));
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// Drops nodes that hold no member.
    pub fn prune(&mut self) {
        self.children.retain(|_, child| {
            child.prune();
            !child.is_empty()
        });
    }

    /// The `fieldsV1` encoding.
    pub fn to_fields_v1(&self) -> Value {
        let mut object = Map::new();
        if self.member && !self.children.is_empty() {
            object.insert(".".into(), Value::Object(Map::new()));
        }
        for (element, child) in &self.children {
            if child.is_empty() {
                continue;
            }
            let key = match element {
                PathElement::Field(name) => format!("f:{name}"),
                PathElement::Key(key) => format!("k:{key}"),
                PathElement::Value(value) => format!("v:{value}"),
                PathElement::Index(index) => format!("i:{index}"),
            };
            object.insert(key, child.to_fields_v1());
        }
        Value::Object(object)
    }

    /// Reads a `fieldsV1` value.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let Value::Object(object) = value else {
            return Err(format!("fieldsV1 node is not an object: {value}"));
        };
        let mut set = FieldSet::default();
        if object.is_empty() {
            set.member = true;
        }
        for (key, child) in object {
            if key == "." {
                set.member = true;
                continue;
            }
            let element = if let Some(name) = key.strip_prefix("f:") {
                PathElement::Field(name.to_string())
            } else if let Some(item) = key.strip_prefix("k:") {
                let parsed: Map<String, Value> = serde_json::from_str(item)
                    .map_err(|e| format!("bad key {item} in fieldsV1: {e}"))?;
                PathElement::Key(canonical_key(&parsed))
            } else if let Some(item) = key.strip_prefix("v:") {
                let parsed: Value = serde_json::from_str(item)
                    .map_err(|e| format!("bad value {item} in fieldsV1: {e}"))?;
                PathElement::Value(parsed.to_string())
            } else if let Some(index) = key.strip_prefix("i:") {
                PathElement::Index(
                    index
                        .parse()
                        .map_err(|e| format!("bad index {index} in fieldsV1: {e}"))?,
                )
            } else {
                return Err(format!("unknown fieldsV1 key {key}"));
            };
            set.children
                .insert(element, FieldSet::from_fields_v1(child)?);
        }
        Ok(set)
    }
}

/// JSON of an object with its keys sorted, as `k:` path elements spell it.
pub fn canonical_key(fields: &Map<String, Value>) -> String {
    let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let inner: Vec<String> = entries
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::String((*k).clone())))
        .collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trips() {
        let encoded = json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}
                }}},
            },
            "f:metadata2": {"f:finalizers": {"v:\"a\"": {}}},
        });
        let set = FieldSet::from_fields_v1(&encoded).unwrap();
        assert_eq!(set.to_fields_v1(), encoded);
        let image = FieldPath(vec![
            PathElement::Field("spec".into()),
            PathElement::Field("template".into()),
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
            PathElement::Key("{\"name\":\"web\"}".into()),
            PathElement::Field("image".into()),
        ]);
        assert!(set.contains(&image.0));
        assert_eq!(
            image.to_string(),
            ".spec.template.spec.containers[name=\"web\"].image"
        );
        assert_eq!(set.members().len(), 6);
    }

    #[test]
    fn keys_are_canonical() {
        let key = json!({"protocol": "TCP", "containerPort": 80});
        assert_eq!(
            canonical_key(key.as_object().unwrap()),
            "{\"containerPort\":80,\"protocol\":\"TCP\"}"
        );
    }
}

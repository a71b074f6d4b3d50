//! Reading and writing the metadata of objects held as JSON, and their
//! stored form: the object without `metadata.resourceVersion`, which is the
//! store revision of the value and is put back on every read.

use std::collections::BTreeMap;

use podnet_store::KeyValue;
use serde_json::{json, Map, Value};

use crate::status::ApiError;

/// `metadata` of an object, created when missing.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or("")
}

pub fn namespace(obj: &Value) -> Option<&str> {
    meta_str(obj, "namespace").filter(|ns| !ns.is_empty())
}

pub fn uid(obj: &Value) -> &str {
    meta_str(obj, "uid").unwrap_or("")
}

pub fn resource_version(obj: &Value) -> Option<&str> {
    meta_str(obj, "resourceVersion").filter(|rv| !rv.is_empty())
}

pub fn labels(obj: &Value) -> BTreeMap<String, String> {
    string_map(obj.get("metadata").and_then(|m| m.get("labels")))
}

pub fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn set_finalizers(obj: &mut Value, finalizers: &[String]) {
    let meta = meta_mut(obj);
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), json!(finalizers));
    }
}

pub fn deletion_timestamp(obj: &Value) -> Option<&str> {
    meta_str(obj, "deletionTimestamp")
}

/// Now, as Kubernetes writes timestamps (RFC 3339, whole seconds, UTC).
pub fn now_rfc3339() -> String {
    format_time(jiff::Timestamp::now())
}

pub fn format_time(t: jiff::Timestamp) -> String {
    let secs = t.as_second();
    jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| t.to_string())
}

pub fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    s.parse().ok()
}

/// The bytes stored for an object: without its resourceVersion.
pub fn encode(obj: &Value) -> Vec<u8> {
    let mut stored = obj.clone();
    meta_mut(&mut stored).remove("resourceVersion");
    serde_json::to_vec(&stored).expect("a JSON value always encodes")
}

/// The object stored in `kv`, with resourceVersion = the value's revision.
pub fn decode(kv: &KeyValue) -> Result<Value, ApiError> {
    decode_at(&kv.value, kv.mod_revision, &kv.key)
}

pub fn decode_at(bytes: &[u8], revision: i64, key: &str) -> Result<Value, ApiError> {
    let mut obj: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::internal(format!("stored object {key} does not decode: {e}")))?;
    meta_mut(&mut obj).insert("resourceVersion".into(), json!(revision.to_string()));
    Ok(obj)
}

/// The stored bytes of an object with `metadata.resourceVersion` written in,
/// without parsing the object: lists and watches that select everything send
/// stored objects as they are. None when the bytes are not a JSON object
/// with a `metadata` object at the top (then the caller decodes).
pub fn with_resource_version(stored: &[u8], revision: i64) -> Option<Vec<u8>> {
    let open = top_level_metadata_start(stored)?;
    let rv = format!("\"resourceVersion\":\"{revision}\"");
    let empty = stored.get(open + 1).copied() == Some(b'}');
    let mut out = Vec::with_capacity(stored.len() + rv.len() + 1);
    out.extend_from_slice(&stored[..=open]);
    out.extend_from_slice(rv.as_bytes());
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(&stored[open + 1..]);
    Some(out)
}

/// The index of the `{` that opens the top-level `metadata` value, found by
/// walking the top level of the object and skipping strings and nested values.
fn top_level_metadata_start(json: &[u8]) -> Option<usize> {
    let mut i = skip_ws(json, 0);
    if json.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = skip_ws(json, i);
        if json.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(json, i)?;
        let key = &json[i + 1..key_end - 1];
        i = skip_ws(json, key_end);
        if json.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(json, i + 1);
        if key == b"metadata" {
            return (json.get(i) == Some(&b'{')).then_some(i);
        }
        i = skip_value(json, i)?;
        i = skip_ws(json, i);
        match json.get(i) {
            Some(b',') => i += 1,
            _ => return None,
        }
    }
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while json.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// `i` at an opening quote; returns the index after the closing quote.
fn skip_string(json: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match json.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Returns the index after the value starting at `i`.
fn skip_value(json: &[u8], mut i: usize) -> Option<usize> {
    match json.get(i)? {
        b'"' => skip_string(json, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match json.get(i)? {
                    b'"' => {
                        i = skip_string(json, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            while json
                .get(i)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']'))
            {
                i += 1;
            }
            Some(i)
        }
    }
}

/// The parts of an object a spec change is measured on: all but metadata and status.
pub fn spec_part(obj: &Value) -> Map<String, Value> {
    obj.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_drops_and_restores_the_resource_version() {
        let obj = json!({"metadata": {"name": "a", "resourceVersion": "7"}, "spec": {}});
        let bytes = encode(&obj);
        assert!(!String::from_utf8_lossy(&bytes).contains("resourceVersion"));
        let back = decode_at(&bytes, 9, "/k").unwrap();
        assert_eq!(resource_version(&back), Some("9"));
    }

    #[test]
    fn resource_versions_are_spliced_into_stored_bytes() {
        let obj = json!({"apiVersion": "v1", "data": {"k": "\"metadata\":{"}, "kind": "ConfigMap",
            "metadata": {"name": "a"}, "spec": {"template": {"metadata": {}}}});
        let spliced = with_resource_version(&encode(&obj), 12).unwrap();
        let back: Value = serde_json::from_slice(&spliced).unwrap();
        assert_eq!(resource_version(&back), Some("12"));
        assert_eq!(back["data"], obj["data"]);
        assert!(back["spec"]["template"]["metadata"]
            .get("resourceVersion")
            .is_none());
        let empty = with_resource_version(br#"{"kind":"X","metadata":{}}"#, 3).unwrap();
        assert_eq!(empty, br#"{"kind":"X","metadata":{"resourceVersion":"3"}}"#);
        assert!(with_resource_version(b"[1,2]", 1).is_none());
        assert!(with_resource_version(br#"{"kind":"X"}"#, 1).is_none());
        let nested = with_resource_version(br#"{"a":[{"b":"}]"}],"metadata":{"x":1}}"#, 5).unwrap();
        assert_eq!(
            nested,
            br#"{"a":[{"b":"}]"}],"metadata":{"resourceVersion":"5","x":1}}"#
        );
    }

    #[test]
    fn times_are_whole_seconds_utc() {
        let t: jiff::Timestamp = "2026-11-21T10:11:12.5Z".parse().unwrap();
        assert_eq!(format_time(t), "2026-11-21T10:11:12Z");
    }
}

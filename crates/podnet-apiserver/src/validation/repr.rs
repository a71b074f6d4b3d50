//! Offending values rendered as Kubernetes prints them in causes: strings
//! quoted, composite values in Go's `%#v` form (`map[string]string{"app":"web"}`),
//! which is what users grep for in real error messages.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub(crate) fn quoted(value: &str) -> String {
    format!("{value:?}")
}

/// `map[string]string{"a":"b"}`; a missing map is Go's nil map.
pub(crate) fn string_map(map: Option<&BTreeMap<String, String>>) -> String {
    match map {
        None => "map[string]string(nil)".to_string(),
        Some(map) => {
            let entries: Vec<String> = map.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

/// `[]string{"a", "b"}`; a missing list is Go's nil slice.
pub(crate) fn string_list(list: Option<&[String]>) -> String {
    typed_string_list("string", list)
}

/// A list of a named string type: `[]core.IPFamily{"IPv4"}`.
pub(crate) fn typed_string_list(type_name: &str, list: Option<&[String]>) -> String {
    match list {
        None => format!("[]{type_name}(nil)"),
        Some(list) => {
            let entries: Vec<String> = list.iter().map(|v| format!("{v:?}")).collect();
            format!("[]{type_name}{{{}}}", entries.join(", "))
        }
    }
}

/// IntOrString prints through its String method: digits or the raw string.
pub(crate) fn int_or_string(value: &IntOrString) -> String {
    match value {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// A label selector as Go's `%#v` shows it in immutability errors.
pub(crate) fn label_selector(selector: &LabelSelector) -> String {
    let expressions = match selector.match_expressions.as_deref() {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let entries: Vec<String> = list.iter().map(requirement).collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", entries.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        string_map(selector.match_labels.as_ref()),
        expressions
    )
}

fn requirement(req: &LabelSelectorRequirement) -> String {
    format!(
        "v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:{}}}",
        req.key,
        req.operator,
        string_list(req.values.as_deref())
    )
}

/// A pointer-to-selector that may be nil.
pub(crate) fn optional_label_selector(selector: Option<&LabelSelector>) -> String {
    selector.map_or_else(|| "null".to_string(), label_selector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_forms() {
        let map = BTreeMap::from([
            ("tier".to_string(), "web".to_string()),
            ("app".to_string(), "x".to_string()),
        ]);
        assert_eq!(
            string_map(Some(&map)),
            r#"map[string]string{"app":"x", "tier":"web"}"#
        );
        let selector = LabelSelector {
            match_labels: Some(map),
            match_expressions: None,
        };
        assert_eq!(
            label_selector(&selector),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"app":"x", "tier":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
        assert_eq!(string_list(Some(&["a".to_string()])), r#"[]string{"a"}"#);
        assert_eq!(int_or_string(&IntOrString::String("25%".into())), "25%");
    }
}

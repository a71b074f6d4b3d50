use serde_json::{json, Value};
use std::sync::OnceLock;
pub fn v2() -> &'static Value { static V: OnceLock<Value> = OnceLock::new(); V.get_or_init(|| json!({})) }
pub fn v3_index() -> &'static Value { static V: OnceLock<Value> = OnceLock::new(); V.get_or_init(|| json!({"paths":{}})) }
pub fn v3(_p: &str) -> Option<&'static Value> { None }

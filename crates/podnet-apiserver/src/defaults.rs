use serde_json::Value;
use crate::resources::Resource;
pub fn apply_defaults(_res: &Resource, _obj: &mut Value) {}

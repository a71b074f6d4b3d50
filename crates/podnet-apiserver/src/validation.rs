use serde_json::Value;
use crate::{resources::Resource, status::FieldError};
pub fn validate_create(_res: &Resource, _obj: &Value) -> Vec<FieldError> { Vec::new() }
pub fn validate_update(_res: &Resource, _new: &Value, _old: &Value) -> Vec<FieldError> { Vec::new() }

use serde_json::Value;
use crate::resources::Resource;
#[derive(Debug, Clone, Copy, PartialEq, Eq)] pub enum PatchType { Json, Merge, StrategicMerge, Apply }
impl PatchType { pub fn from_content_type(ct: &str) -> Option<PatchType> { match ct { "application/json-patch+json" => Some(PatchType::Json), "application/merge-patch+json" => Some(PatchType::Merge), "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge), "application/apply-patch+yaml" => Some(PatchType::Apply), _ => None } } }
#[derive(Debug, thiserror::Error)] #[error("{0}")] pub struct PatchError(String);
pub fn apply_patch(_res: &Resource, original: &Value, pt: PatchType, body: &[u8]) -> Result<Value, PatchError> {
  let p: Value = serde_json::from_slice(body).map_err(|e| PatchError(e.to_string()))?;
  let mut doc = original.clone();
  match pt { PatchType::Json => { let p: json_patch::Patch = serde_json::from_value(p).map_err(|e| PatchError(e.to_string()))?; json_patch::patch(&mut doc, &p).map_err(|e| PatchError(e.to_string()))?; } _ => json_patch::merge(&mut doc, &p) }
  Ok(doc) }
pub fn server_side_apply(_res: &Resource, existing: Option<&Value>, applied: &Value, _m: &str, _f: bool) -> Result<Value, PatchError> { let mut d = existing.cloned().unwrap_or(Value::Null); json_patch::merge(&mut d, applied); Ok(d) }

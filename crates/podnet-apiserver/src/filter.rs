//! Which objects a list or watch returns: label and field selectors.

use podnet_model::selector::{FieldSelector, LabelSelector};
use serde_json::Value;

use crate::resources::Resource;
use crate::status::ApiError;
use crate::{fields, object};

/// The selectors of one list or watch request.
#[derive(Debug, Clone)]
pub struct Filter {
    pub res: &'static Resource,
    pub labels: Option<LabelSelector>,
    pub fields: Option<FieldSelector>,
}

impl Filter {
    pub fn everything(res: &'static Resource) -> Filter {
        Filter {
            res,
            labels: None,
            fields: None,
        }
    }

    /// From the `labelSelector` and `fieldSelector` query parameters.
    pub fn parse(
        res: &'static Resource,
        labels: Option<&str>,
        field_selector: Option<&str>,
    ) -> Result<Filter, ApiError> {
        let labels = match labels.filter(|s| !s.trim().is_empty()) {
            Some(s) => {
                Some(LabelSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            None => None,
        };
        let field_sel = match field_selector.filter(|s| !s.trim().is_empty()) {
            Some(s) => {
                let sel =
                    FieldSelector::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))?;
                fields::check_selector(res, &sel)?;
                Some(sel)
            }
            None => None,
        };
        Ok(Filter {
            res,
            labels,
            fields: field_sel,
        })
    }

    /// The single name a field selector pins, if it does (`metadata.name=x`).
    pub fn pinned_name(&self) -> Option<String> {
        let sel = self.fields.as_ref()?;
        sel.requires_exact_match("metadata.name")
            .map(str::to_string)
    }

    pub fn matches(&self, obj: &Value) -> bool {
        if let Some(labels) = &self.labels {
            if !labels.matches(&object::labels(obj)) {
                return false;
            }
        }
        if let Some(sel) = &self.fields {
            let res = self.res;
            if !sel.matches(|field| fields::field_value(res, obj, field)) {
                return false;
            }
        }
        true
    }

    pub fn is_everything(&self) -> bool {
        self.labels
            .as_ref()
            .is_none_or(LabelSelector::is_everything)
            && self.fields.is_none()
    }
}

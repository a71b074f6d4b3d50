//! Errors as Kubernetes `Status` objects: every error body the server sends.

use serde_json::{json, Value};

/// Why one field of an object is invalid: one `causes[]` entry of a 422.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path as Kubernetes prints it: `spec.ports[0].port`,
    /// `metadata.labels[app]`.
    pub field: String,
    pub kind: FieldErrorKind,
    /// The detail after the kind's prefix, e.g. `must be between 1 and 65535, inclusive`.
    pub detail: String,
    /// The offending value rendered as Kubernetes does (`70000`, `"UDPX"`); None for Required.
    pub value: Option<String>,
}

/// The kinds of field errors Kubernetes reports (`field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    Required,
    Invalid,
    /// A reference to something that does not exist (a volume mount naming no volume).
    NotFound,
    Duplicate,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
}

impl FieldErrorKind {
    /// The `reason` of a Status cause.
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotFound => "FieldValueNotFound",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid => "Invalid value",
            FieldErrorKind::NotFound => "Not found",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
        }
    }
}

impl FieldError {
    pub fn new(
        kind: FieldErrorKind,
        field: impl Into<String>,
        value: Option<String>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            kind,
            detail: detail.into(),
            value,
        }
    }

    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Required, field, None, detail)
    }

    pub fn invalid(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(
            FieldErrorKind::Invalid,
            field,
            Some(value.to_string()),
            detail,
        )
    }

    /// `value` is quoted as Kubernetes quotes strings.
    pub fn invalid_str(field: impl Into<String>, value: &str, detail: impl Into<String>) -> Self {
        Self::new(
            FieldErrorKind::Invalid,
            field,
            Some(format!("{value:?}")),
            detail,
        )
    }

    pub fn duplicate(field: impl Into<String>, value: impl std::fmt::Display) -> Self {
        Self::new(
            FieldErrorKind::Duplicate,
            field,
            Some(value.to_string()),
            "",
        )
    }

    /// `supported` are listed in the message as Kubernetes does.
    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let list = supported
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        Self::new(
            FieldErrorKind::NotSupported,
            field,
            Some(format!("{value:?}")),
            format!("supported values: {list}"),
        )
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Forbidden, field, None, detail)
    }

    /// The cause message without the field: `Invalid value: 70000: must be ...`.
    pub fn message(&self) -> String {
        let mut message = self.kind.prefix().to_string();
        if let Some(value) = &self.value {
            message.push_str(": ");
            message.push_str(value);
        }
        if !self.detail.is_empty() {
            message.push_str(": ");
            message.push_str(&self.detail);
        }
        message
    }

    /// `field: message`, as in a Status message.
    pub fn full_message(&self) -> String {
        format!("{}: {}", self.field, self.message())
    }
}

/// An API error: HTTP code, Status reason, message and details.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn not_found_path() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    /// `pods "web" not found`, with details naming the object.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        let what = qualified(group, plural);
        let mut e = Self::new(404, "NotFound", format!("{what} {name:?} not found"));
        e.details = Some(json!({"name": name, "group": group, "kind": plural}));
        e
    }

    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        let what = qualified(group, plural);
        let mut e = Self::new(
            409,
            "AlreadyExists",
            format!("{what} {name:?} already exists"),
        );
        e.details = Some(json!({"name": name, "group": group, "kind": plural}));
        e
    }

    pub fn conflict(group: &str, plural: &str, name: &str, why: &str) -> Self {
        let what = qualified(group, plural);
        let mut e = Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {what} {name:?}: {why}"),
        );
        e.details = Some(json!({"name": name, "group": group, "kind": plural}));
        e
    }

    /// 422 with one cause per field error; `kind` is the object's kind (`Service`).
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified_kind = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let list = errors
            .iter()
            .map(FieldError::full_message)
            .collect::<Vec<_>>();
        let joined = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.kind.reason(), "message": e.message(), "field": e.field}))
            .collect();
        let mut err = Self::new(
            422,
            "Invalid",
            format!("{qualified_kind} {name:?} is invalid: {joined}"),
        );
        err.details = Some(json!({"name": name, "group": group, "kind": kind, "causes": causes}));
        err
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf; got {content_type:?}"))
    }

    pub fn too_large() -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            "the request body is too large",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(504, "Timeout", message)
    }

    /// The `Status` object for this error.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_status_names_each_field() {
        let errors = vec![
            FieldError::invalid(
                "spec.ports[0].port",
                70000,
                "must be between 1 and 65535, inclusive",
            ),
            FieldError::not_supported("spec.ports[0].protocol", "UDPX", &["SCTP", "TCP", "UDP"]),
        ];
        let status = ApiError::invalid("", "Service", "web", &errors).status();
        assert_eq!(status["code"], 422);
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(
            status["details"]["causes"][0]["field"],
            "spec.ports[0].port"
        );
        assert_eq!(
            status["details"]["causes"][1]["reason"],
            "FieldValueNotSupported"
        );
        let message = status["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "Service \"web\" is invalid: [spec.ports[0].port: Invalid value: 70000: must be"
            ),
            "{message}"
        );
        assert!(
            message.contains(
                "Unsupported value: \"UDPX\": supported values: \"SCTP\", \"TCP\", \"UDP\""
            ),
            "{message}"
        );
    }

    #[test]
    fn not_found_is_qualified_by_group() {
        let status = ApiError::not_found("apps", "deployments", "web").status();
        assert_eq!(status["message"], "deployments.apps \"web\" not found");
        assert_eq!(status["code"], 404);
    }
}

//! Reading request bodies in Kubernetes' protobuf encoding
//! (`application/vnd.kubernetes.protobuf`).
//!
//! client-go's typed clients, and so kubectl's generators (`kubectl create
//! deployment|namespace|configmap|secret|service|serviceaccount|ingress`),
//! send objects this way. The server keeps objects in their JSON form, so a
//! body is turned into exactly the JSON the same object would have been sent
//! as. Answers stay JSON, which every client accepts.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` message whose
//! `typeMeta` names the kind and whose `raw` holds the object's own message.
//! The object is decoded field by field from the generated table of the field
//! numbers of every message the served kinds reach.

mod decoder;
mod table;

use serde_json::Value;

/// The media type of Kubernetes' protobuf encoding.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Whether a `Content-Type` header value names the protobuf encoding
/// (parameters such as `; charset=...` are ignored).
pub fn is_protobuf(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(CONTENT_TYPE))
}

/// Turns a Kubernetes protobuf body into the object's Kubernetes JSON form,
/// with `apiVersion` and `kind` taken from the envelope.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    decoder::decode_envelope(body)
}

/// Whether bodies of this kind can be decoded.
pub fn supports(api_version: &str, kind: &str) -> bool {
    message_for(api_version, kind).is_some()
}

/// The message of a top-level kind. DeleteOptions is registered in every
/// group version, so clients label it with whichever they are talking to.
pub fn message_for(api_version: &str, kind: &str) -> Option<&'static Message> {
    table::ROOTS
        .iter()
        .find(|(v, k, _)| *k == kind && (*v == api_version || *k == "DeleteOptions"))
        .map(|(_, _, message)| *message)
}

/// Why a protobuf body could not be read. Offsets count bytes from the start
/// of the body, magic included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    #[error("body does not start with the Kubernetes protobuf magic bytes \"k8s\\0\"")]
    BadMagic,
    #[error("truncated varint at offset {offset}")]
    TruncatedVarint { offset: usize },
    #[error("varint longer than 10 bytes at offset {offset}")]
    VarintTooLong { offset: usize },
    #[error("truncated value at offset {offset}: {needed} bytes needed, {available} left")]
    Truncated {
        offset: usize,
        needed: u64,
        available: usize,
    },
    #[error("invalid field number {number} at offset {offset}")]
    InvalidFieldNumber { number: u64, offset: usize },
    #[error("unsupported wire type {wire_type} at offset {offset}")]
    UnsupportedWireType { wire_type: u8, offset: usize },
    #[error("{message}.{field} at offset {offset} has wire type {found}, expected {expected}")]
    WrongWireType {
        message: &'static str,
        field: &'static str,
        offset: usize,
        found: u8,
        expected: u8,
    },
    #[error("{message}.{field} at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        message: &'static str,
        field: &'static str,
        offset: usize,
    },
    #[error("{message}.{field} at offset {offset} is not a finite number")]
    NonFiniteNumber {
        message: &'static str,
        field: &'static str,
        offset: usize,
    },
    #[error("{message}.{field} at offset {offset} is a time outside years 1 to 9999")]
    TimeOutOfRange {
        message: &'static str,
        field: &'static str,
        offset: usize,
    },
    #[error("{message}.{field} at offset {offset} holds invalid JSON: {detail}")]
    InvalidEmbeddedJson {
        message: &'static str,
        field: &'static str,
        offset: usize,
        detail: String,
    },
    #[error("the envelope's typeMeta names no {0}")]
    MissingTypeMeta(&'static str),
    #[error("the envelope holds no object")]
    MissingObject,
    #[error("unsupported content encoding {0:?} in the envelope")]
    UnsupportedEncoding(String),
    #[error("unsupported content type {0:?} in the envelope")]
    UnsupportedContentType(String),
    #[error("unknown kind {kind} in {api_version}")]
    UnknownKind { api_version: String, kind: String },
}

/// One protobuf message: the fields Kubernetes gives it, by field number.
#[derive(Debug)]
pub struct Message {
    /// The type's name as OpenAPI definitions spell it
    /// (`io.k8s.api.core.v1.PodSpec`).
    pub name: &'static str,
    pub fields: &'static [Field],
}

impl Message {
    pub fn field(&self, number: u32) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.number == number)
    }
}

/// One field of a [`Message`].
#[derive(Debug)]
pub struct Field {
    pub number: u32,
    /// The field's JSON name (Kubernetes' proto names equal them).
    pub json: &'static str,
    pub ty: FieldType,
    pub label: Label,
}

impl Field {
    /// A singular field whose zero value is left out of the JSON, as Go's
    /// `omitempty` does for the non-pointer fields protobuf always writes.
    pub const fn opt(number: u32, json: &'static str, ty: FieldType) -> Field {
        Field {
            number,
            json,
            ty,
            label: Label::Optional,
        }
    }

    /// A singular field whose zero value is kept: a Go pointer (set on
    /// purpose when present) or a field without `omitempty`.
    pub const fn keep(number: u32, json: &'static str, ty: FieldType) -> Field {
        Field {
            number,
            json,
            ty,
            label: Label::KeepZero,
        }
    }

    /// A list.
    pub const fn rep(number: u32, json: &'static str, ty: FieldType) -> Field {
        Field {
            number,
            json,
            ty,
            label: Label::Repeated,
        }
    }

    /// An embedded Go struct (`json:",inline"`): its fields are the
    /// parent's in JSON.
    pub const fn inline(number: u32, json: &'static str, message: &'static Message) -> Field {
        Field {
            number,
            json,
            ty: FieldType::Inline(message),
            label: Label::Optional,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Optional,
    KeepZero,
    Repeated,
}

/// What a field holds on the wire and how it reads as JSON.
#[derive(Debug)]
pub enum FieldType {
    String,
    Bool,
    Int32,
    Int64,
    Double,
    /// Raw bytes: a base64 string in JSON.
    Bytes,
    Message(&'static Message),
    Inline(&'static Message),
    /// `map<string, V>`: repeated entries with the key in field 1 and the
    /// value in field 2.
    Map(&'static FieldType),
    /// meta/v1 Time: RFC 3339 in whole seconds.
    Time,
    /// meta/v1 MicroTime: RFC 3339 with six fraction digits.
    MicroTime,
    /// meta/v1 Duration: a Go duration string (`1m30s`).
    Duration,
    /// util/intstr IntOrString: a number or a string.
    IntOrString,
    /// api/resource Quantity: its string.
    Quantity,
    /// runtime RawExtension and meta/v1 FieldsV1: embedded JSON.
    RawJson,
}

#[cfg(test)]
mod tests;

//! The protobuf wire format, read into JSON values by the message table.

use base64::Engine;
use serde_json::{Map, Number, Value};

use super::{message_for, Field, FieldType, Label, Message, ProtobufError, MAGIC};

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LENGTH_DELIMITED: u8 = 2;
const FIXED32: u8 = 5;

/// Seconds of Go's zero time (0001-01-01T00:00:00Z) since the Unix epoch:
/// what Kubernetes writes for an unset Time.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

type Result<T> = std::result::Result<T, ProtobufError>;

/// A cursor over one message's bytes that knows where they sit in the body.
#[derive(Clone, Copy)]
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset of `bytes[0]` in the whole body.
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], base: usize) -> Self {
        Reader {
            bytes,
            pos: 0,
            base,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn varint(&mut self) -> Result<u64> {
        let start = self.offset();
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return Err(ProtobufError::TruncatedVarint { offset: start });
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtobufError::VarintTooLong { offset: start })
    }

    fn take(&mut self, len: u64) -> Result<Reader<'a>> {
        let offset = self.offset();
        let available = self.bytes.len() - self.pos;
        let n = usize::try_from(len)
            .ok()
            .filter(|&n| n <= available)
            .ok_or(ProtobufError::Truncated {
                offset,
                needed: len,
                available,
            })?;
        let inner = Reader::new(&self.bytes[self.pos..self.pos + n], offset);
        self.pos += n;
        Ok(inner)
    }

    fn length_delimited(&mut self) -> Result<Reader<'a>> {
        let len = self.varint()?;
        self.take(len)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let inner = self.take(N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(inner.bytes);
        Ok(out)
    }

    /// The next field's number and wire type.
    fn key(&mut self) -> Result<(u32, u8)> {
        let offset = self.offset();
        let key = self.varint()?;
        let wire_type = (key & 7) as u8;
        // Protobuf field numbers run from 1 to 2^29 - 1.
        match u32::try_from(key >> 3) {
            Ok(number @ 1..=0x1fff_ffff) => Ok((number, wire_type)),
            _ => Err(ProtobufError::InvalidFieldNumber {
                number: key >> 3,
                offset,
            }),
        }
    }

    /// Steps over a value of a field the table does not know.
    fn skip(&mut self, wire_type: u8, offset: usize) -> Result<()> {
        match wire_type {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LENGTH_DELIMITED => self.length_delimited().map(drop),
            FIXED32 => self.take(4).map(drop),
            _ => Err(ProtobufError::UnsupportedWireType { wire_type, offset }),
        }
    }
}

/// Reads `k8s\0` + `runtime.Unknown` and decodes the object it carries.
pub(super) fn decode_envelope(body: &[u8]) -> Result<Value> {
    let rest = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtobufError::BadMagic)?;
    let mut r = Reader::new(rest, MAGIC.len());
    let (mut api_version, mut kind) = (String::new(), String::new());
    let mut raw = None;
    let (mut encoding, mut content_type) = (String::new(), String::new());
    while !r.at_end() {
        let offset = r.offset();
        let (number, wire_type) = r.key()?;
        let Some(field) = UNKNOWN.field(number) else {
            r.skip(wire_type, offset)?;
            continue;
        };
        expect_wire(&UNKNOWN, field, wire_type, LENGTH_DELIMITED, offset)?;
        let value = r.length_delimited()?;
        match number {
            1 => read_type_meta(value, &mut api_version, &mut kind)?,
            2 => raw = Some(value),
            3 => encoding = utf8(&UNKNOWN, field, value)?.to_owned(),
            _ => content_type = utf8(&UNKNOWN, field, value)?.to_owned(),
        }
    }
    if api_version.is_empty() {
        return Err(ProtobufError::MissingTypeMeta("apiVersion"));
    }
    if kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta("kind"));
    }
    if !encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEncoding(encoding));
    }
    if !(content_type.is_empty() || super::is_protobuf(&content_type)) {
        return Err(ProtobufError::UnsupportedContentType(content_type));
    }
    let message = message_for(&api_version, &kind).ok_or_else(|| ProtobufError::UnknownKind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let raw = raw.ok_or(ProtobufError::MissingObject)?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(api_version));
    object.insert("kind".into(), Value::String(kind));
    decode_message(message, raw, &mut object)?;
    Ok(Value::Object(object))
}

fn read_type_meta(mut r: Reader<'_>, api_version: &mut String, kind: &mut String) -> Result<()> {
    while !r.at_end() {
        let offset = r.offset();
        let (number, wire_type) = r.key()?;
        let (Some(field), Some(target)) = (
            TYPE_META.field(number),
            match number {
                1 => Some(&mut *api_version),
                2 => Some(&mut *kind),
                _ => None,
            },
        ) else {
            r.skip(wire_type, offset)?;
            continue;
        };
        expect_wire(&TYPE_META, field, wire_type, LENGTH_DELIMITED, offset)?;
        let text = r.length_delimited()?;
        *target = utf8(&TYPE_META, field, text)?.to_owned();
    }
    Ok(())
}

/// The envelope's own messages, described like the table's so errors name them.
static UNKNOWN: Message = Message {
    name: "io.k8s.apimachinery.pkg.runtime.Unknown",
    fields: &[
        Field::opt(1, "typeMeta", FieldType::Message(&TYPE_META)),
        Field::opt(2, "raw", FieldType::Bytes),
        Field::opt(3, "contentEncoding", FieldType::String),
        Field::opt(4, "contentType", FieldType::String),
    ],
};
static TYPE_META: Message = Message {
    name: "io.k8s.apimachinery.pkg.runtime.TypeMeta",
    fields: &[
        Field::opt(1, "apiVersion", FieldType::String),
        Field::opt(2, "kind", FieldType::String),
    ],
};

/// Decodes one message's fields into `out` (which may already hold fields:
/// protobuf merges a repeated occurrence of a message into the first).
fn decode_message(
    message: &'static Message,
    mut r: Reader<'_>,
    out: &mut Map<String, Value>,
) -> Result<()> {
    while !r.at_end() {
        let offset = r.offset();
        let (number, wire_type) = r.key()?;
        match message.field(number) {
            Some(field) => decode_field(message, field, wire_type, offset, &mut r, out)?,
            None => r.skip(wire_type, offset)?,
        }
    }
    Ok(())
}

fn decode_field(
    message: &'static Message,
    field: &'static Field,
    wire_type: u8,
    offset: usize,
    r: &mut Reader<'_>,
    out: &mut Map<String, Value>,
) -> Result<()> {
    match &field.ty {
        FieldType::Inline(inner) => {
            expect_wire(message, field, wire_type, LENGTH_DELIMITED, offset)?;
            let bytes = r.length_delimited()?;
            decode_message(inner, bytes, out)
        }
        FieldType::Map(value_type) => {
            expect_wire(message, field, wire_type, LENGTH_DELIMITED, offset)?;
            let entry = r.length_delimited()?;
            let (key, value) = map_entry(message, field, value_type, entry)?;
            object_slot(out, field.json).insert(key, value);
            Ok(())
        }
        FieldType::Message(inner) if field.label != Label::Repeated => {
            expect_wire(message, field, wire_type, LENGTH_DELIMITED, offset)?;
            let bytes = r.length_delimited()?;
            decode_message(inner, bytes, object_slot(out, field.json))
        }
        _ if field.label == Label::Repeated => {
            let mut values = Vec::new();
            if wire_type == LENGTH_DELIMITED && packable(&field.ty) {
                // Numbers may come packed: one length-delimited run of values.
                let mut run = r.length_delimited()?;
                while !run.at_end() {
                    let offset = run.offset();
                    values.push(scalar(
                        message,
                        field,
                        &field.ty,
                        wire_type_of(&field.ty),
                        offset,
                        &mut run,
                    )?);
                }
            } else if let Some(value) = value(message, field, wire_type, offset, r)? {
                values.push(value);
            }
            let slot = out
                .entry(field.json)
                .or_insert_with(|| Value::Array(Vec::new()));
            match slot {
                Value::Array(list) => list.extend(values),
                // An embedded struct's field of the same name came first; the
                // later field wins, as it would in Go's JSON.
                other => *other = Value::Array(values),
            }
            Ok(())
        }
        _ => {
            let value = value(message, field, wire_type, offset, r)?;
            match value {
                Some(v) if field.label == Label::KeepZero || !is_zero(&v) => {
                    out.insert(field.json.to_owned(), v);
                }
                // Protobuf keeps the last occurrence; a later zero or unset
                // time undoes an earlier value.
                _ => {
                    out.remove(field.json);
                }
            }
            Ok(())
        }
    }
}

/// The object under `name`, made one if the name held something else
/// (later fields win, as in Go's JSON).
fn object_slot<'m>(out: &'m mut Map<String, Value>, name: &str) -> &'m mut Map<String, Value> {
    let slot = out.entry(name).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .expect("the slot was made an object above")
}

/// Whether Go's `omitempty` leaves this value out.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn packable(ty: &FieldType) -> bool {
    matches!(
        ty,
        FieldType::Bool | FieldType::Int32 | FieldType::Int64 | FieldType::Double
    )
}

fn wire_type_of(ty: &FieldType) -> u8 {
    match ty {
        FieldType::Bool | FieldType::Int32 | FieldType::Int64 => VARINT,
        FieldType::Double => FIXED64,
        _ => LENGTH_DELIMITED,
    }
}

/// One value of `field`; `None` for a time that is unset (and so absent in JSON).
fn value(
    message: &'static Message,
    field: &'static Field,
    wire_type: u8,
    offset: usize,
    r: &mut Reader<'_>,
) -> Result<Option<Value>> {
    match &field.ty {
        FieldType::Message(inner) => {
            expect_wire(message, field, wire_type, LENGTH_DELIMITED, offset)?;
            let bytes = r.length_delimited()?;
            let mut map = Map::new();
            decode_message(inner, bytes, &mut map)?;
            Ok(Some(Value::Object(map)))
        }
        FieldType::Time
        | FieldType::MicroTime
        | FieldType::Duration
        | FieldType::IntOrString
        | FieldType::Quantity
        | FieldType::RawJson => {
            expect_wire(message, field, wire_type, LENGTH_DELIMITED, offset)?;
            let bytes = r.length_delimited()?;
            special(message, field, &field.ty, bytes)
        }
        ty => scalar(message, field, ty, wire_type, offset, r).map(Some),
    }
}

fn scalar(
    message: &'static Message,
    field: &'static Field,
    ty: &FieldType,
    wire_type: u8,
    offset: usize,
    r: &mut Reader<'_>,
) -> Result<Value> {
    expect_wire(message, field, wire_type, wire_type_of(ty), offset)?;
    Ok(match ty {
        FieldType::Bool => Value::Bool(r.varint()? != 0),
        // Negative int32s travel sign-extended to 64 bits.
        FieldType::Int32 => Value::from(r.varint()? as i64 as i32),
        FieldType::Int64 => Value::from(r.varint()? as i64),
        FieldType::Double => {
            let v = f64::from_le_bytes(r.fixed::<8>()?);
            Value::Number(Number::from_f64(v).ok_or(ProtobufError::NonFiniteNumber {
                message: message.name,
                field: field.json,
                offset,
            })?)
        }
        FieldType::String => {
            let bytes = r.length_delimited()?;
            Value::String(utf8(message, field, bytes)?.to_owned())
        }
        FieldType::Bytes => {
            let bytes = r.length_delimited()?;
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes.bytes))
        }
        other => unreachable!("{other:?} is not a scalar"),
    })
}

/// A map entry: key in field 1, value in field 2, either may be absent.
fn map_entry(
    message: &'static Message,
    field: &'static Field,
    value_type: &'static FieldType,
    mut entry: Reader<'_>,
) -> Result<(String, Value)> {
    let mut key = String::new();
    let mut value = None;
    while !entry.at_end() {
        let offset = entry.offset();
        let (number, wire_type) = entry.key()?;
        match number {
            1 => {
                expect_wire(message, field, wire_type, LENGTH_DELIMITED, offset)?;
                let bytes = entry.length_delimited()?;
                key = utf8(message, field, bytes)?.to_owned();
            }
            2 => {
                value = match value_type {
                    FieldType::Message(inner) => {
                        expect_wire(message, field, wire_type, LENGTH_DELIMITED, offset)?;
                        let bytes = entry.length_delimited()?;
                        let mut map = Map::new();
                        decode_message(inner, bytes, &mut map)?;
                        Some(Value::Object(map))
                    }
                    FieldType::Quantity
                    | FieldType::IntOrString
                    | FieldType::Time
                    | FieldType::MicroTime
                    | FieldType::Duration
                    | FieldType::RawJson => {
                        expect_wire(message, field, wire_type, LENGTH_DELIMITED, offset)?;
                        let bytes = entry.length_delimited()?;
                        special(message, field, value_type, bytes)?
                    }
                    ty => Some(scalar(message, field, ty, wire_type, offset, &mut entry)?),
                };
            }
            _ => entry.skip(wire_type, offset)?,
        }
    }
    // An absent value is the type's zero value, which a map keeps.
    let value = match value {
        Some(v) => v,
        None => zero_value(message, field, value_type, entry.offset())?,
    };
    Ok((key, value))
}

fn zero_value(
    message: &'static Message,
    field: &'static Field,
    ty: &'static FieldType,
    offset: usize,
) -> Result<Value> {
    Ok(match ty {
        FieldType::String | FieldType::Bytes => Value::String(String::new()),
        FieldType::Bool => Value::Bool(false),
        FieldType::Int32 | FieldType::Int64 => Value::from(0),
        FieldType::Double => Value::from(0.0),
        FieldType::Message(_) | FieldType::Inline(_) | FieldType::Map(_) => {
            Value::Object(Map::new())
        }
        special_type => {
            let none = Reader::new(&[], offset);
            special(message, field, special_type, none)?.unwrap_or(Value::Null)
        }
    })
}

/// The messages Kubernetes gives a JSON form of their own.
fn special(
    message: &'static Message,
    field: &'static Field,
    ty: &FieldType,
    mut r: Reader<'_>,
) -> Result<Option<Value>> {
    let start = r.offset();
    let mut ints = [0i64; 2];
    let mut text: Option<Reader<'_>> = None;
    while !r.at_end() {
        let offset = r.offset();
        let (number, wire_type) = r.key()?;
        match (ty, number) {
            // Time/MicroTime: 1 seconds, 2 nanos. Duration: 1 nanoseconds.
            // IntOrString: 1 type, 2 intVal.
            (FieldType::Time | FieldType::MicroTime | FieldType::IntOrString, 1 | 2)
            | (FieldType::Duration, 1) => {
                expect_wire(message, field, wire_type, VARINT, offset)?;
                ints[number as usize - 1] = r.varint()? as i64;
            }
            // IntOrString: 3 strVal. Quantity: 1 string. RawExtension/FieldsV1: 1 raw.
            (FieldType::IntOrString, 3) | (FieldType::Quantity | FieldType::RawJson, 1) => {
                expect_wire(message, field, wire_type, LENGTH_DELIMITED, offset)?;
                text = Some(r.length_delimited()?);
            }
            _ => r.skip(wire_type, offset)?,
        }
    }
    Ok(match ty {
        FieldType::Time | FieldType::MicroTime => {
            let (seconds, nanos) = (ints[0], ints[1] as i32);
            if nanos == 0 && (seconds == 0 || seconds == GO_ZERO_TIME_SECONDS) {
                return Ok(None);
            }
            let micro = matches!(ty, FieldType::MicroTime);
            let formatted =
                format_time(seconds, nanos, micro).ok_or(ProtobufError::TimeOutOfRange {
                    message: message.name,
                    field: field.json,
                    offset: start,
                })?;
            Some(Value::String(formatted))
        }
        FieldType::Duration => Some(Value::String(go_duration(ints[0]))),
        FieldType::IntOrString => Some(if ints[0] == 1 {
            let s = match text {
                Some(bytes) => utf8(message, field, bytes)?.to_owned(),
                None => String::new(),
            };
            Value::String(s)
        } else {
            Value::from(ints[1] as i32)
        }),
        FieldType::Quantity => Some(Value::String(match text {
            Some(bytes) => utf8(message, field, bytes)?.to_owned(),
            // An empty Quantity is zero, which Kubernetes writes as "0".
            None => "0".to_owned(),
        })),
        FieldType::RawJson => {
            Some(match text {
                Some(bytes) if !bytes.bytes.is_empty() => serde_json::from_slice(bytes.bytes)
                    .map_err(|e| ProtobufError::InvalidEmbeddedJson {
                        message: message.name,
                        field: field.json,
                        offset: bytes.offset(),
                        detail: e.to_string(),
                    })?,
                _ => Value::Null,
            })
        }
        other => unreachable!("{other:?} has no JSON form of its own"),
    })
}

/// RFC 3339 in UTC, as Go writes meta/v1 Time (whole seconds) and MicroTime
/// (six fraction digits); `None` outside the years jiff can represent.
fn format_time(seconds: i64, nanos: i32, micro: bool) -> Option<String> {
    let t = jiff::Timestamp::new(seconds, nanos).ok()?;
    let whole = jiff::Timestamp::from_second(t.as_second()).ok()?;
    let base = whole.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if micro {
        Some(format!("{base}.{:06}Z", t.subsec_nanosecond() / 1000))
    } else {
        Some(format!("{base}Z"))
    }
}

/// A duration as Go's `time.Duration.String` writes it: `1h2m3.5s`,
/// `1.5ms`, `0s`.
pub(super) fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if n < 1_000_000_000 {
        let (unit, scale) = match n {
            0..1_000 => ("ns", 1),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{sign}{}{unit}", decimal(n, scale));
    }
    let hours = n / 3_600_000_000_000;
    let minutes = n / 60_000_000_000 % 60;
    let seconds = decimal(n % 60_000_000_000, 1_000_000_000);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{seconds}s")
    } else {
        format!("{sign}{seconds}s")
    }
}

/// `value / scale` with the fraction's trailing zeros dropped.
fn decimal(value: u64, scale: u64) -> String {
    let whole = value / scale;
    let fraction = value % scale;
    if fraction == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

fn utf8<'a>(message: &'static Message, field: &'static Field, r: Reader<'a>) -> Result<&'a str> {
    std::str::from_utf8(r.bytes).map_err(|_| ProtobufError::InvalidUtf8 {
        message: message.name,
        field: field.json,
        offset: r.base,
    })
}

fn expect_wire(
    message: &'static Message,
    field: &'static Field,
    found: u8,
    expected: u8,
    offset: usize,
) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(ProtobufError::WrongWireType {
            message: message.name,
            field: field.json,
            offset,
            found,
            expected,
        })
    }
}

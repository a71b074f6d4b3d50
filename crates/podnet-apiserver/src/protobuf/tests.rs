use serde_json::{json, Value};

use super::decoder::go_duration;
use super::{decode, is_protobuf, message_for, supports, FieldType, Label, Message, ProtobufError};
use crate::resources::RESOURCES;

/// A tiny protobuf writer: just enough to build request bodies by hand.
#[derive(Default, Clone)]
struct Pb(Vec<u8>);

impl Pb {
    fn new() -> Self {
        Pb::default()
    }

    fn raw_varint(mut self, mut v: u64) -> Self {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
        self
    }

    fn key(self, field: u32, wire_type: u8) -> Self {
        self.raw_varint(u64::from(field) << 3 | u64::from(wire_type))
    }

    fn varint(self, field: u32, v: i64) -> Self {
        self.key(field, 0).raw_varint(v as u64)
    }

    fn bytes(self, field: u32, data: &[u8]) -> Self {
        let mut out = self.key(field, 2).raw_varint(data.len() as u64);
        out.0.extend_from_slice(data);
        out
    }

    fn fixed64(self, field: u32, v: u64) -> Self {
        let mut out = self.key(field, 1);
        out.0.extend_from_slice(&v.to_le_bytes());
        out
    }

    fn fixed32(self, field: u32, v: u32) -> Self {
        let mut out = self.key(field, 5);
        out.0.extend_from_slice(&v.to_le_bytes());
        out
    }

    fn string(self, field: u32, s: &str) -> Self {
        self.bytes(field, s.as_bytes())
    }

    fn message(self, field: u32, m: Pb) -> Self {
        self.bytes(field, &m.0)
    }

    /// One `map<string, string>` entry.
    fn entry(self, field: u32, key: &str, value: &str) -> Self {
        self.message(field, Pb::new().string(1, key).string(2, value))
    }

    /// One `map<string, bytes>` entry.
    fn bytes_entry(self, field: u32, key: &str, value: &[u8]) -> Self {
        self.message(field, Pb::new().string(1, key).bytes(2, value))
    }
}

/// `k8s\0` + runtime.Unknown{typeMeta, raw}.
fn envelope(api_version: &str, kind: &str, object: Pb) -> Vec<u8> {
    let unknown = Pb::new()
        .message(1, Pb::new().string(1, api_version).string(2, kind))
        .message(2, object)
        .string(3, "")
        .string(4, "");
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.0);
    body
}

/// ObjectMeta the way Go writes it: every non-pointer field present.
fn object_meta(name: &str, namespace: &str) -> Pb {
    Pb::new()
        .string(1, name)
        .string(2, "")
        .string(3, namespace)
        .string(4, "")
        .string(5, "")
        .string(6, "")
        .varint(7, 0)
        .message(8, Pb::new())
}

/// IntOrString: type 0 carries intVal, type 1 strVal.
fn int_or_string_int(v: i64) -> Pb {
    Pb::new().varint(1, 0).varint(2, v).string(3, "")
}

fn int_or_string_str(s: &str) -> Pb {
    Pb::new().varint(1, 1).varint(2, 0).string(3, s)
}

#[test]
fn config_map_with_data_and_binary_data() {
    let cm = Pb::new()
        .message(1, object_meta("settings", "default"))
        .entry(2, "greeting", "hello")
        .entry(2, "blank", "")
        .bytes_entry(3, "blob", &[0, 1, 2, 0xff]);
    let got = decode(&envelope("v1", "ConfigMap", cm)).unwrap();
    assert_eq!(
        got,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "default"},
            "data": {"greeting": "hello", "blank": ""},
            "binaryData": {"blob": "AAEC/w=="},
        })
    );
}

#[test]
fn deployment_with_ports_env_and_rolling_update() {
    let container = Pb::new()
        .string(1, "web")
        .string(2, "nginx:1.27")
        .string(5, "")
        .message(
            6,
            Pb::new()
                .string(1, "http")
                .varint(2, 0)
                .varint(3, 8080)
                .string(4, "TCP")
                .string(5, ""),
        )
        .message(7, Pb::new().string(1, "MODE").string(2, "production"))
        .message(7, Pb::new().string(1, "EMPTY").string(2, ""))
        .message(8, Pb::new())
        .string(13, "")
        .string(14, "IfNotPresent")
        .varint(16, 0)
        .varint(17, 0)
        .varint(18, 0);
    let pod_spec = Pb::new()
        .message(2, container)
        .string(3, "Always")
        .varint(11, 0);
    let template = Pb::new()
        .message(1, object_meta("", "").entry(11, "app", "web"))
        .message(2, pod_spec);
    let strategy = Pb::new().string(1, "RollingUpdate").message(
        2,
        Pb::new()
            .message(1, int_or_string_int(1))
            .message(2, int_or_string_str("25%")),
    );
    let spec = Pb::new()
        .varint(1, 3)
        .message(2, Pb::new().entry(1, "app", "web"))
        .message(3, template)
        .message(4, strategy)
        .varint(5, 0)
        .varint(7, 0);
    let status = Pb::new().varint(1, 0).varint(2, 0).varint(3, 0);
    let deployment = Pb::new()
        .message(1, object_meta("web", "default").entry(11, "app", "web"))
        .message(2, spec)
        .message(3, status);
    let got = decode(&envelope("apps/v1", "Deployment", deployment)).unwrap();
    assert_eq!(
        got,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{
                            "name": "web",
                            "image": "nginx:1.27",
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "env": [{"name": "MODE", "value": "production"}, {"name": "EMPTY"}],
                            "resources": {},
                            "imagePullPolicy": "IfNotPresent",
                        }],
                        "restartPolicy": "Always",
                    },
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"},
                },
            },
            "status": {},
        })
    );
}

#[test]
fn zero_replicas_is_kept_because_replicas_is_a_pointer() {
    let deployment = Pb::new().message(2, Pb::new().varint(1, 0).varint(5, 0));
    let got = decode(&envelope("apps/v1", "Deployment", deployment)).unwrap();
    assert_eq!(got["spec"], json!({"replicas": 0}));
}

#[test]
fn service_ports_with_numeric_and_named_target_ports() {
    let port = |name: &str, number: i64, target: Pb| {
        Pb::new()
            .string(1, name)
            .string(2, "TCP")
            .varint(3, number)
            .message(4, target)
            .varint(5, 0)
    };
    let spec = Pb::new()
        .message(1, port("http", 80, int_or_string_int(8080)))
        .message(1, port("https", 443, int_or_string_str("https")))
        .entry(2, "app", "web")
        .string(3, "")
        .string(4, "ClusterIP")
        .string(7, "")
        .varint(12, 0)
        .varint(13, 0);
    let service = Pb::new()
        .message(1, object_meta("web", "default"))
        .message(2, spec)
        .message(3, Pb::new().message(1, Pb::new()));
    let got = decode(&envelope("v1", "Service", service)).unwrap();
    assert_eq!(
        got,
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https"},
                ],
                "selector": {"app": "web"},
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        })
    );
}

#[test]
fn secret_data_is_base64_and_string_data_stays_text() {
    let secret = Pb::new()
        .message(1, object_meta("creds", "default"))
        .bytes_entry(2, "password", b"s3cr3t")
        .string(3, "Opaque")
        .entry(4, "user", "admin")
        .varint(5, 1);
    let got = decode(&envelope("v1", "Secret", secret)).unwrap();
    assert_eq!(
        got,
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "default"},
            "data": {"password": "czNjcjN0"},
            "stringData": {"user": "admin"},
            "type": "Opaque",
            "immutable": true,
        })
    );
}

#[test]
fn namespace_with_empty_spec_and_status() {
    let ns = Pb::new()
        .message(1, object_meta("team-a", "").entry(12, "owner", "ops"))
        .message(2, Pb::new())
        .message(3, Pb::new().string(1, ""));
    let got = decode(&envelope("v1", "Namespace", ns)).unwrap();
    assert_eq!(
        got,
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "team-a", "annotations": {"owner": "ops"}},
            "spec": {},
            "status": {},
        })
    );
}

#[test]
fn delete_options_keep_a_zero_grace_period() {
    let options = Pb::new()
        .varint(1, 0)
        .message(
            2,
            Pb::new()
                .string(1, "6b3f9a1e-0000-4000-8000-000000000001")
                .string(2, "42"),
        )
        .string(4, "Foreground")
        .string(5, "All");
    for api_version in ["meta.k8s.io/v1", "v1", "apps/v1"] {
        let got = decode(&envelope(api_version, "DeleteOptions", options.clone())).unwrap();
        assert_eq!(
            got,
            json!({
                "apiVersion": api_version,
                "kind": "DeleteOptions",
                "gracePeriodSeconds": 0,
                "preconditions": {
                    "uid": "6b3f9a1e-0000-4000-8000-000000000001",
                    "resourceVersion": "42",
                },
                "propagationPolicy": "Foreground",
                "dryRun": ["All"],
            })
        );
    }
}

#[test]
fn scale_and_binding() {
    let scale = Pb::new()
        .message(1, object_meta("web", "default"))
        .message(2, Pb::new().varint(1, 5))
        .message(3, Pb::new().varint(1, 0).string(2, "app=web"));
    let got = decode(&envelope("autoscaling/v1", "Scale", scale)).unwrap();
    assert_eq!(got["spec"], json!({"replicas": 5}));
    assert_eq!(got["status"], json!({"replicas": 0, "selector": "app=web"}));

    let binding = Pb::new()
        .message(1, object_meta("pod-1", "default"))
        .message(2, Pb::new().string(1, "Node").string(3, "node-a"));
    let got = decode(&envelope("v1", "Binding", binding)).unwrap();
    assert_eq!(got["target"], json!({"kind": "Node", "name": "node-a"}));
}

#[test]
fn times_durations_and_quantities_take_their_json_forms() {
    // 2026-01-02T03:04:05Z
    let t = 1_767_323_045;
    let meta =
        object_meta("web", "default").message(9, Pb::new().varint(1, t).varint(2, 500_000_000));
    let lease = Pb::new().message(1, meta).message(
        2,
        Pb::new()
            .string(1, "node-a")
            .varint(2, 40)
            .message(3, Pb::new().varint(1, t).varint(2, 123_456_789))
            .message(4, Pb::new().varint(1, -62_135_596_800)),
    );
    let got = decode(&envelope("coordination.k8s.io/v1", "Lease", lease)).unwrap();
    assert_eq!(got["metadata"]["deletionTimestamp"], "2026-01-02T03:04:05Z");
    assert_eq!(got["spec"]["acquireTime"], "2026-01-02T03:04:05.123456Z");
    assert!(
        got["spec"].get("renewTime").is_none(),
        "Go's zero time is unset: {got}"
    );
    assert!(got["metadata"].get("creationTimestamp").is_none());

    let resources = Pb::new()
        .message(
            1,
            Pb::new()
                .string(1, "cpu")
                .message(2, Pb::new().string(1, "500m")),
        )
        .message(2, Pb::new().string(1, "memory").message(2, Pb::new()));
    let container = Pb::new().string(1, "c").message(8, resources);
    let pod = Pb::new().message(2, Pb::new().message(2, container));
    let got = decode(&envelope("v1", "Pod", pod)).unwrap();
    assert_eq!(
        got["spec"]["containers"][0]["resources"],
        json!({"limits": {"cpu": "500m"}, "requests": {"memory": "0"}})
    );

    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(90_000_000_000), "1m30s");
    assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    assert_eq!(go_duration(1_500_000_000), "1.5s");
    assert_eq!(go_duration(2_500_000), "2.5ms");
    assert_eq!(go_duration(1_000), "1µs");
    assert_eq!(go_duration(7), "7ns");
    assert_eq!(go_duration(-61_000_000_000), "-1m1s");
}

#[test]
fn managed_fields_carry_their_json() {
    let entry = Pb::new()
        .string(1, "kubectl")
        .string(2, "Apply")
        .string(3, "v1")
        .string(6, "FieldsV1")
        .message(7, Pb::new().bytes(1, br#"{"f:data":{".":{}}}"#));
    let cm = Pb::new().message(1, object_meta("c", "default").message(17, entry));
    let got = decode(&envelope("v1", "ConfigMap", cm)).unwrap();
    assert_eq!(
        got["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}}},
        }])
    );
}

#[test]
fn embedded_structs_are_inlined_and_unknown_fields_skipped() {
    let env = Pb::new().string(1, "TOKEN").message(
        3,
        Pb::new().message(
            4,
            Pb::new()
                .message(1, Pb::new().string(1, "creds"))
                .string(2, "token"),
        ),
    );
    let volume = Pb::new()
        .string(1, "data")
        .message(2, Pb::new().message(2, Pb::new().string(1, "Memory")));
    let probe = Pb::new()
        .message(
            1,
            Pb::new().message(3, Pb::new().message(1, int_or_string_int(80))),
        )
        .varint(3, 2);
    let container = Pb::new()
        .string(1, "c")
        .message(7, env)
        .message(10, probe)
        // Fields this server does not know, one of each wire type.
        .varint(900, 7)
        .fixed64(901, 0x0102_0304_0506_0708)
        .bytes(902, b"future")
        .fixed32(903, 0x0102_0304);
    let pod = Pb::new().message(2, Pb::new().message(1, volume).message(2, container));
    let got = decode(&envelope("v1", "Pod", pod)).unwrap();
    assert_eq!(
        got["spec"]["volumes"],
        json!([{"name": "data", "emptyDir": {"medium": "Memory"}}])
    );
    assert_eq!(
        got["spec"]["containers"][0],
        json!({
            "name": "c",
            "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}],
            "livenessProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 2},
        })
    );
}

#[test]
fn packed_numbers_and_negative_ints() {
    let user = Pb::new().varint(1, 1000).varint(2, -1).bytes(3, &[5, 6]);
    let status = Pb::new().message(
        8,
        Pb::new()
            .string(1, "c")
            .message(13, Pb::new().message(1, user)),
    );
    let pod = Pb::new().message(3, status);
    let got = decode(&envelope("v1", "Pod", pod)).unwrap();
    assert_eq!(
        got["status"]["containerStatuses"][0]["user"]["linux"],
        json!({"uid": 1000, "gid": -1, "supplementalGroups": [5, 6]})
    );
}

/// Bodies kubectl v1.32 sent for `kubectl create ...`, against the JSON
/// `--dry-run=client -o json` prints for the same command. kubectl writes
/// unset timestamps as null where the decoder leaves them out.
#[test]
fn bodies_kubectl_sends_decode_to_the_json_it_would_send() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "deployment",
            include_bytes!("testdata/kubectl-create-deployment.pb"),
            include_str!("testdata/kubectl-create-deployment.json"),
        ),
        (
            "namespace",
            include_bytes!("testdata/kubectl-create-namespace.pb"),
            include_str!("testdata/kubectl-create-namespace.json"),
        ),
        (
            "configmap",
            include_bytes!("testdata/kubectl-create-configmap.pb"),
            include_str!("testdata/kubectl-create-configmap.json"),
        ),
        (
            "secret",
            include_bytes!("testdata/kubectl-create-secret.pb"),
            include_str!("testdata/kubectl-create-secret.json"),
        ),
        (
            "service",
            include_bytes!("testdata/kubectl-create-service.pb"),
            include_str!("testdata/kubectl-create-service.json"),
        ),
        (
            "serviceaccount",
            include_bytes!("testdata/kubectl-create-serviceaccount.pb"),
            include_str!("testdata/kubectl-create-serviceaccount.json"),
        ),
        (
            "ingress",
            include_bytes!("testdata/kubectl-create-ingress.pb"),
            include_str!("testdata/kubectl-create-ingress.json"),
        ),
    ];
    for (name, body, json_text) in cases {
        let mut expected: Value = serde_json::from_str(json_text).unwrap();
        drop_null_timestamps(&mut expected);
        let got = decode(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, expected, "{name}");
    }
}

fn drop_null_timestamps(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, v| !(k == "creationTimestamp" && v.is_null()));
            map.values_mut().for_each(drop_null_timestamps);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null_timestamps),
        _ => {}
    }
}

#[test]
fn errors_name_what_failed() {
    assert_eq!(decode(b"{\"kind\":\"Pod\"}"), Err(ProtobufError::BadMagic));

    let mut truncated = b"k8s\0".to_vec();
    truncated.extend([0x0a, 0x80]);
    assert_eq!(
        decode(&truncated),
        Err(ProtobufError::TruncatedVarint { offset: 5 })
    );

    let mut short = b"k8s\0".to_vec();
    short.extend([0x12, 0x05, 0x01]);
    assert_eq!(
        decode(&short),
        Err(ProtobufError::Truncated {
            offset: 6,
            needed: 5,
            available: 1
        })
    );

    let unknown = envelope("example.com/v1", "Widget", Pb::new());
    let err = decode(&unknown).unwrap_err();
    assert_eq!(
        err,
        ProtobufError::UnknownKind {
            api_version: "example.com/v1".into(),
            kind: "Widget".into()
        }
    );
    assert_eq!(err.to_string(), "unknown kind Widget in example.com/v1");

    let wrong = envelope("v1", "ConfigMap", Pb::new().varint(1, 3));
    assert!(matches!(
        decode(&wrong),
        Err(ProtobufError::WrongWireType {
            message: "io.k8s.api.core.v1.ConfigMap",
            field: "metadata",
            found: 0,
            expected: 2,
            ..
        })
    ));

    let bad_text = envelope(
        "v1",
        "ConfigMap",
        Pb::new().message(1, Pb::new().bytes(1, &[0xff, 0xfe])),
    );
    assert!(matches!(
        decode(&bad_text),
        Err(ProtobufError::InvalidUtf8 {
            message: "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            field: "name",
            ..
        })
    ));

    // Field 5 of runtime.Unknown as a (long-retired) group.
    let mut group = b"k8s\0".to_vec();
    group.push(0x2b);
    assert_eq!(
        decode(&group),
        Err(ProtobufError::UnsupportedWireType {
            wire_type: 3,
            offset: 4
        })
    );

    let mut gzipped = b"k8s\0".to_vec();
    gzipped.extend(
        Pb::new()
            .message(1, Pb::new().string(1, "v1").string(2, "Pod"))
            .message(2, Pb::new())
            .string(3, "gzip")
            .0,
    );
    assert_eq!(
        decode(&gzipped),
        Err(ProtobufError::UnsupportedEncoding("gzip".into()))
    );

    let mut huge_field = b"k8s\0".to_vec();
    huge_field.extend(Pb::new().raw_varint(1 << 40).0);
    assert_eq!(
        decode(&huge_field),
        Err(ProtobufError::InvalidFieldNumber {
            number: 1 << 37,
            offset: 4
        })
    );

    let mut no_kind = b"k8s\0".to_vec();
    no_kind.extend(Pb::new().message(1, Pb::new().string(1, "v1")).0);
    assert_eq!(
        decode(&no_kind),
        Err(ProtobufError::MissingTypeMeta("kind"))
    );
}

#[test]
fn content_types() {
    assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
    assert!(is_protobuf(
        "application/vnd.kubernetes.protobuf; charset=utf-8"
    ));
    assert!(!is_protobuf("application/json"));
    assert!(!is_protobuf("application/vnd.kubernetes.protobuf+json"));
}

#[test]
fn every_served_kind_has_a_message() {
    for res in RESOURCES {
        assert!(
            supports(&res.api_version(), res.kind),
            "{} {}",
            res.api_version(),
            res.kind
        );
        let message = message_for(&res.api_version(), res.kind).unwrap();
        assert_eq!(message.name, res.definition_name());
    }
    assert!(!supports("apps/v1", "Pod"));
}

#[test]
fn the_table_is_well_formed() {
    let mut seen = Vec::new();
    let roots = RESOURCES
        .iter()
        .map(|res| message_for(&res.api_version(), res.kind).unwrap())
        .chain(
            [
                ("meta.k8s.io/v1", "DeleteOptions"),
                ("autoscaling/v1", "Scale"),
                ("v1", "Binding"),
            ]
            .map(|(v, k)| message_for(v, k).unwrap()),
        );
    for root in roots {
        check(root, &mut seen, &mut Vec::new());
    }
    assert!(seen.len() > 200, "{} messages", seen.len());

    // No message reaches itself, so a body's nesting is bounded by the table's.
    fn check(
        message: &'static Message,
        seen: &mut Vec<&'static str>,
        path: &mut Vec<&'static str>,
    ) {
        assert!(
            !path.contains(&message.name),
            "cycle: {path:?} -> {}",
            message.name
        );
        if seen.contains(&message.name) {
            return;
        }
        seen.push(message.name);
        path.push(message.name);
        for (i, f) in message.fields.iter().enumerate() {
            let dup = message.fields[i + 1..]
                .iter()
                .find(|g| g.number == f.number || g.json == f.json);
            assert!(
                dup.is_none(),
                "{}: {} clashes with {:?}",
                message.name,
                f.json,
                dup
            );
            if f.label == Label::KeepZero {
                assert!(
                    matches!(f.ty, FieldType::Bool | FieldType::Int32 | FieldType::Int64),
                    "{}.{}",
                    message.name,
                    f.json
                );
            }
            match &f.ty {
                FieldType::Message(m) | FieldType::Inline(m) => check(m, seen, path),
                FieldType::Map(value) => assert!(
                    matches!(
                        value,
                        FieldType::String | FieldType::Bytes | FieldType::Quantity
                    ),
                    "{}.{}",
                    message.name,
                    f.json
                ),
                _ => {}
            }
        }
        path.pop();
    }
}

//! Field numbers of Kubernetes' protobuf encoding for the kinds podnet serves,
//! plus meta.k8s.io/v1 DeleteOptions, autoscaling/v1 Scale and core/v1 Binding.
//!
//! Generated from the published `generated.proto` definitions of Kubernetes'
//! API packages (k8s.io/api and k8s.io/apimachinery), keeping the fields of
//! the 1.33 OpenAPI schema under their JSON names. Do not edit by hand.

use super::{Field as F, FieldType as T, Message};

/// The message of each top-level kind, by `apiVersion` and `kind`.
pub(super) static ROOTS: &[(&str, &str, &Message)] = &[
    ("v1", "Namespace", &CORE_V1_NAMESPACE),
    ("v1", "Node", &CORE_V1_NODE),
    ("v1", "Pod", &CORE_V1_POD),
    ("v1", "Service", &CORE_V1_SERVICE),
    ("v1", "Endpoints", &CORE_V1_ENDPOINTS),
    ("v1", "Secret", &CORE_V1_SECRET),
    ("v1", "ConfigMap", &CORE_V1_CONFIG_MAP),
    ("v1", "ServiceAccount", &CORE_V1_SERVICE_ACCOUNT),
    ("v1", "Event", &CORE_V1_EVENT),
    ("v1", "Binding", &CORE_V1_BINDING),
    (
        "discovery.k8s.io/v1",
        "EndpointSlice",
        &DISCOVERY_V1_ENDPOINT_SLICE,
    ),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        &NETWORKING_V1_NETWORK_POLICY,
    ),
    ("networking.k8s.io/v1", "Ingress", &NETWORKING_V1_INGRESS),
    (
        "networking.k8s.io/v1",
        "IngressClass",
        &NETWORKING_V1_INGRESS_CLASS,
    ),
    ("apps/v1", "Deployment", &APPS_V1_DEPLOYMENT),
    ("apps/v1", "ReplicaSet", &APPS_V1_REPLICA_SET),
    ("apps/v1", "StatefulSet", &APPS_V1_STATEFUL_SET),
    ("apps/v1", "DaemonSet", &APPS_V1_DAEMON_SET),
    ("coordination.k8s.io/v1", "Lease", &COORDINATION_V1_LEASE),
    ("autoscaling/v1", "Scale", &AUTOSCALING_V1_SCALE),
    ("meta.k8s.io/v1", "DeleteOptions", &META_V1_DELETE_OPTIONS),
];

static APPS_V1_DAEMON_SET: Message = Message {
    name: "io.k8s.api.apps.v1.DaemonSet",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&APPS_V1_DAEMON_SET_SPEC)),
        F::opt(3, "status", T::Message(&APPS_V1_DAEMON_SET_STATUS)),
    ],
};

static APPS_V1_DAEMON_SET_CONDITION: Message = Message {
    name: "io.k8s.api.apps.v1.DaemonSetCondition",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "status", T::String),
        F::opt(3, "lastTransitionTime", T::Time),
        F::opt(4, "reason", T::String),
        F::opt(5, "message", T::String),
    ],
};

static APPS_V1_DAEMON_SET_SPEC: Message = Message {
    name: "io.k8s.api.apps.v1.DaemonSetSpec",
    fields: &[
        F::opt(1, "selector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::opt(2, "template", T::Message(&CORE_V1_POD_TEMPLATE_SPEC)),
        F::opt(
            3,
            "updateStrategy",
            T::Message(&APPS_V1_DAEMON_SET_UPDATE_STRATEGY),
        ),
        F::opt(4, "minReadySeconds", T::Int32),
        F::keep(6, "revisionHistoryLimit", T::Int32),
    ],
};

static APPS_V1_DAEMON_SET_STATUS: Message = Message {
    name: "io.k8s.api.apps.v1.DaemonSetStatus",
    fields: &[
        F::keep(1, "currentNumberScheduled", T::Int32),
        F::keep(2, "numberMisscheduled", T::Int32),
        F::keep(3, "desiredNumberScheduled", T::Int32),
        F::keep(4, "numberReady", T::Int32),
        F::opt(5, "observedGeneration", T::Int64),
        F::opt(6, "updatedNumberScheduled", T::Int32),
        F::opt(7, "numberAvailable", T::Int32),
        F::opt(8, "numberUnavailable", T::Int32),
        F::keep(9, "collisionCount", T::Int32),
        F::rep(10, "conditions", T::Message(&APPS_V1_DAEMON_SET_CONDITION)),
    ],
};

static APPS_V1_DAEMON_SET_UPDATE_STRATEGY: Message = Message {
    name: "io.k8s.api.apps.v1.DaemonSetUpdateStrategy",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(
            2,
            "rollingUpdate",
            T::Message(&APPS_V1_ROLLING_UPDATE_DAEMON_SET),
        ),
    ],
};

static APPS_V1_DEPLOYMENT: Message = Message {
    name: "io.k8s.api.apps.v1.Deployment",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&APPS_V1_DEPLOYMENT_SPEC)),
        F::opt(3, "status", T::Message(&APPS_V1_DEPLOYMENT_STATUS)),
    ],
};

static APPS_V1_DEPLOYMENT_CONDITION: Message = Message {
    name: "io.k8s.api.apps.v1.DeploymentCondition",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "status", T::String),
        F::opt(4, "reason", T::String),
        F::opt(5, "message", T::String),
        F::opt(6, "lastUpdateTime", T::Time),
        F::opt(7, "lastTransitionTime", T::Time),
    ],
};

static APPS_V1_DEPLOYMENT_SPEC: Message = Message {
    name: "io.k8s.api.apps.v1.DeploymentSpec",
    fields: &[
        F::keep(1, "replicas", T::Int32),
        F::opt(2, "selector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::opt(3, "template", T::Message(&CORE_V1_POD_TEMPLATE_SPEC)),
        F::opt(4, "strategy", T::Message(&APPS_V1_DEPLOYMENT_STRATEGY)),
        F::opt(5, "minReadySeconds", T::Int32),
        F::keep(6, "revisionHistoryLimit", T::Int32),
        F::opt(7, "paused", T::Bool),
        F::keep(9, "progressDeadlineSeconds", T::Int32),
    ],
};

static APPS_V1_DEPLOYMENT_STATUS: Message = Message {
    name: "io.k8s.api.apps.v1.DeploymentStatus",
    fields: &[
        F::opt(1, "observedGeneration", T::Int64),
        F::opt(2, "replicas", T::Int32),
        F::opt(3, "updatedReplicas", T::Int32),
        F::opt(4, "availableReplicas", T::Int32),
        F::opt(5, "unavailableReplicas", T::Int32),
        F::rep(6, "conditions", T::Message(&APPS_V1_DEPLOYMENT_CONDITION)),
        F::opt(7, "readyReplicas", T::Int32),
        F::keep(8, "collisionCount", T::Int32),
        F::keep(9, "terminatingReplicas", T::Int32),
    ],
};

static APPS_V1_DEPLOYMENT_STRATEGY: Message = Message {
    name: "io.k8s.api.apps.v1.DeploymentStrategy",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(
            2,
            "rollingUpdate",
            T::Message(&APPS_V1_ROLLING_UPDATE_DEPLOYMENT),
        ),
    ],
};

static APPS_V1_REPLICA_SET: Message = Message {
    name: "io.k8s.api.apps.v1.ReplicaSet",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&APPS_V1_REPLICA_SET_SPEC)),
        F::opt(3, "status", T::Message(&APPS_V1_REPLICA_SET_STATUS)),
    ],
};

static APPS_V1_REPLICA_SET_CONDITION: Message = Message {
    name: "io.k8s.api.apps.v1.ReplicaSetCondition",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "status", T::String),
        F::opt(3, "lastTransitionTime", T::Time),
        F::opt(4, "reason", T::String),
        F::opt(5, "message", T::String),
    ],
};

static APPS_V1_REPLICA_SET_SPEC: Message = Message {
    name: "io.k8s.api.apps.v1.ReplicaSetSpec",
    fields: &[
        F::keep(1, "replicas", T::Int32),
        F::opt(2, "selector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::opt(3, "template", T::Message(&CORE_V1_POD_TEMPLATE_SPEC)),
        F::opt(4, "minReadySeconds", T::Int32),
    ],
};

static APPS_V1_REPLICA_SET_STATUS: Message = Message {
    name: "io.k8s.api.apps.v1.ReplicaSetStatus",
    fields: &[
        F::keep(1, "replicas", T::Int32),
        F::opt(2, "fullyLabeledReplicas", T::Int32),
        F::opt(3, "observedGeneration", T::Int64),
        F::opt(4, "readyReplicas", T::Int32),
        F::opt(5, "availableReplicas", T::Int32),
        F::rep(6, "conditions", T::Message(&APPS_V1_REPLICA_SET_CONDITION)),
        F::keep(7, "terminatingReplicas", T::Int32),
    ],
};

static APPS_V1_ROLLING_UPDATE_DAEMON_SET: Message = Message {
    name: "io.k8s.api.apps.v1.RollingUpdateDaemonSet",
    fields: &[
        F::opt(1, "maxUnavailable", T::IntOrString),
        F::opt(2, "maxSurge", T::IntOrString),
    ],
};

static APPS_V1_ROLLING_UPDATE_DEPLOYMENT: Message = Message {
    name: "io.k8s.api.apps.v1.RollingUpdateDeployment",
    fields: &[
        F::opt(1, "maxUnavailable", T::IntOrString),
        F::opt(2, "maxSurge", T::IntOrString),
    ],
};

static APPS_V1_ROLLING_UPDATE_STATEFUL_SET_STRATEGY: Message = Message {
    name: "io.k8s.api.apps.v1.RollingUpdateStatefulSetStrategy",
    fields: &[
        F::keep(1, "partition", T::Int32),
        F::opt(2, "maxUnavailable", T::IntOrString),
    ],
};

static APPS_V1_STATEFUL_SET: Message = Message {
    name: "io.k8s.api.apps.v1.StatefulSet",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&APPS_V1_STATEFUL_SET_SPEC)),
        F::opt(3, "status", T::Message(&APPS_V1_STATEFUL_SET_STATUS)),
    ],
};

static APPS_V1_STATEFUL_SET_CONDITION: Message = Message {
    name: "io.k8s.api.apps.v1.StatefulSetCondition",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "status", T::String),
        F::opt(3, "lastTransitionTime", T::Time),
        F::opt(4, "reason", T::String),
        F::opt(5, "message", T::String),
    ],
};

static APPS_V1_STATEFUL_SET_ORDINALS: Message = Message {
    name: "io.k8s.api.apps.v1.StatefulSetOrdinals",
    fields: &[F::keep(1, "start", T::Int32)],
};

static APPS_V1_STATEFUL_SET_PERSISTENT_VOLUME_CLAIM_RETENTION_POLICY: Message = Message {
    name: "io.k8s.api.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy",
    fields: &[
        F::opt(1, "whenDeleted", T::String),
        F::opt(2, "whenScaled", T::String),
    ],
};

static APPS_V1_STATEFUL_SET_SPEC: Message = Message {
    name: "io.k8s.api.apps.v1.StatefulSetSpec",
    fields: &[
        F::keep(1, "replicas", T::Int32),
        F::opt(2, "selector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::opt(3, "template", T::Message(&CORE_V1_POD_TEMPLATE_SPEC)),
        F::rep(
            4,
            "volumeClaimTemplates",
            T::Message(&CORE_V1_PERSISTENT_VOLUME_CLAIM),
        ),
        F::opt(5, "serviceName", T::String),
        F::opt(6, "podManagementPolicy", T::String),
        F::opt(
            7,
            "updateStrategy",
            T::Message(&APPS_V1_STATEFUL_SET_UPDATE_STRATEGY),
        ),
        F::keep(8, "revisionHistoryLimit", T::Int32),
        F::opt(9, "minReadySeconds", T::Int32),
        F::opt(
            10,
            "persistentVolumeClaimRetentionPolicy",
            T::Message(&APPS_V1_STATEFUL_SET_PERSISTENT_VOLUME_CLAIM_RETENTION_POLICY),
        ),
        F::opt(11, "ordinals", T::Message(&APPS_V1_STATEFUL_SET_ORDINALS)),
    ],
};

static APPS_V1_STATEFUL_SET_STATUS: Message = Message {
    name: "io.k8s.api.apps.v1.StatefulSetStatus",
    fields: &[
        F::opt(1, "observedGeneration", T::Int64),
        F::keep(2, "replicas", T::Int32),
        F::opt(3, "readyReplicas", T::Int32),
        F::opt(4, "currentReplicas", T::Int32),
        F::opt(5, "updatedReplicas", T::Int32),
        F::opt(6, "currentRevision", T::String),
        F::opt(7, "updateRevision", T::String),
        F::keep(9, "collisionCount", T::Int32),
        F::rep(
            10,
            "conditions",
            T::Message(&APPS_V1_STATEFUL_SET_CONDITION),
        ),
        F::keep(11, "availableReplicas", T::Int32),
    ],
};

static APPS_V1_STATEFUL_SET_UPDATE_STRATEGY: Message = Message {
    name: "io.k8s.api.apps.v1.StatefulSetUpdateStrategy",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(
            2,
            "rollingUpdate",
            T::Message(&APPS_V1_ROLLING_UPDATE_STATEFUL_SET_STRATEGY),
        ),
    ],
};

static AUTOSCALING_V1_SCALE: Message = Message {
    name: "io.k8s.api.autoscaling.v1.Scale",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&AUTOSCALING_V1_SCALE_SPEC)),
        F::opt(3, "status", T::Message(&AUTOSCALING_V1_SCALE_STATUS)),
    ],
};

static AUTOSCALING_V1_SCALE_SPEC: Message = Message {
    name: "io.k8s.api.autoscaling.v1.ScaleSpec",
    fields: &[F::opt(1, "replicas", T::Int32)],
};

static AUTOSCALING_V1_SCALE_STATUS: Message = Message {
    name: "io.k8s.api.autoscaling.v1.ScaleStatus",
    fields: &[
        F::keep(1, "replicas", T::Int32),
        F::opt(2, "selector", T::String),
    ],
};

static COORDINATION_V1_LEASE: Message = Message {
    name: "io.k8s.api.coordination.v1.Lease",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&COORDINATION_V1_LEASE_SPEC)),
    ],
};

static COORDINATION_V1_LEASE_SPEC: Message = Message {
    name: "io.k8s.api.coordination.v1.LeaseSpec",
    fields: &[
        F::opt(1, "holderIdentity", T::String),
        F::keep(2, "leaseDurationSeconds", T::Int32),
        F::opt(3, "acquireTime", T::MicroTime),
        F::opt(4, "renewTime", T::MicroTime),
        F::keep(5, "leaseTransitions", T::Int32),
        F::opt(6, "strategy", T::String),
        F::opt(7, "preferredHolder", T::String),
    ],
};

static CORE_V1_AFFINITY: Message = Message {
    name: "io.k8s.api.core.v1.Affinity",
    fields: &[
        F::opt(1, "nodeAffinity", T::Message(&CORE_V1_NODE_AFFINITY)),
        F::opt(2, "podAffinity", T::Message(&CORE_V1_POD_AFFINITY)),
        F::opt(3, "podAntiAffinity", T::Message(&CORE_V1_POD_ANTI_AFFINITY)),
    ],
};

static CORE_V1_APP_ARMOR_PROFILE: Message = Message {
    name: "io.k8s.api.core.v1.AppArmorProfile",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "localhostProfile", T::String),
    ],
};

static CORE_V1_ATTACHED_VOLUME: Message = Message {
    name: "io.k8s.api.core.v1.AttachedVolume",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "devicePath", T::String),
    ],
};

static CORE_V1_AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.AWSElasticBlockStoreVolumeSource",
    fields: &[
        F::opt(1, "volumeID", T::String),
        F::opt(2, "fsType", T::String),
        F::opt(3, "partition", T::Int32),
        F::opt(4, "readOnly", T::Bool),
    ],
};

static CORE_V1_AZURE_DISK_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.AzureDiskVolumeSource",
    fields: &[
        F::opt(1, "diskName", T::String),
        F::opt(2, "diskURI", T::String),
        F::opt(3, "cachingMode", T::String),
        F::opt(4, "fsType", T::String),
        F::keep(5, "readOnly", T::Bool),
        F::opt(6, "kind", T::String),
    ],
};

static CORE_V1_AZURE_FILE_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.AzureFileVolumeSource",
    fields: &[
        F::opt(1, "secretName", T::String),
        F::opt(2, "shareName", T::String),
        F::opt(3, "readOnly", T::Bool),
    ],
};

static CORE_V1_BINDING: Message = Message {
    name: "io.k8s.api.core.v1.Binding",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "target", T::Message(&CORE_V1_OBJECT_REFERENCE)),
    ],
};

static CORE_V1_CAPABILITIES: Message = Message {
    name: "io.k8s.api.core.v1.Capabilities",
    fields: &[F::rep(1, "add", T::String), F::rep(2, "drop", T::String)],
};

static CORE_V1_CEPH_FS_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.CephFSVolumeSource",
    fields: &[
        F::rep(1, "monitors", T::String),
        F::opt(2, "path", T::String),
        F::opt(3, "user", T::String),
        F::opt(4, "secretFile", T::String),
        F::opt(5, "secretRef", T::Message(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        F::opt(6, "readOnly", T::Bool),
    ],
};

static CORE_V1_CINDER_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.CinderVolumeSource",
    fields: &[
        F::opt(1, "volumeID", T::String),
        F::opt(2, "fsType", T::String),
        F::opt(3, "readOnly", T::Bool),
        F::opt(4, "secretRef", T::Message(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
    ],
};

static CORE_V1_CLIENT_IP_CONFIG: Message = Message {
    name: "io.k8s.api.core.v1.ClientIPConfig",
    fields: &[F::keep(1, "timeoutSeconds", T::Int32)],
};

static CORE_V1_CLUSTER_TRUST_BUNDLE_PROJECTION: Message = Message {
    name: "io.k8s.api.core.v1.ClusterTrustBundleProjection",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "signerName", T::String),
        F::opt(3, "labelSelector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::opt(4, "path", T::String),
        F::keep(5, "optional", T::Bool),
    ],
};

static CORE_V1_CONFIG_MAP: Message = Message {
    name: "io.k8s.api.core.v1.ConfigMap",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "data", T::Map(&T::String)),
        F::opt(3, "binaryData", T::Map(&T::Bytes)),
        F::keep(4, "immutable", T::Bool),
    ],
};

static CORE_V1_CONFIG_MAP_ENV_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.ConfigMapEnvSource",
    fields: &[
        F::inline(1, "localObjectReference", &CORE_V1_LOCAL_OBJECT_REFERENCE),
        F::keep(2, "optional", T::Bool),
    ],
};

static CORE_V1_CONFIG_MAP_KEY_SELECTOR: Message = Message {
    name: "io.k8s.api.core.v1.ConfigMapKeySelector",
    fields: &[
        F::inline(1, "localObjectReference", &CORE_V1_LOCAL_OBJECT_REFERENCE),
        F::opt(2, "key", T::String),
        F::keep(3, "optional", T::Bool),
    ],
};

static CORE_V1_CONFIG_MAP_NODE_CONFIG_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.ConfigMapNodeConfigSource",
    fields: &[
        F::opt(1, "namespace", T::String),
        F::opt(2, "name", T::String),
        F::opt(3, "uid", T::String),
        F::opt(4, "resourceVersion", T::String),
        F::opt(5, "kubeletConfigKey", T::String),
    ],
};

static CORE_V1_CONFIG_MAP_PROJECTION: Message = Message {
    name: "io.k8s.api.core.v1.ConfigMapProjection",
    fields: &[
        F::inline(1, "localObjectReference", &CORE_V1_LOCAL_OBJECT_REFERENCE),
        F::rep(2, "items", T::Message(&CORE_V1_KEY_TO_PATH)),
        F::keep(4, "optional", T::Bool),
    ],
};

static CORE_V1_CONFIG_MAP_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.ConfigMapVolumeSource",
    fields: &[
        F::inline(1, "localObjectReference", &CORE_V1_LOCAL_OBJECT_REFERENCE),
        F::rep(2, "items", T::Message(&CORE_V1_KEY_TO_PATH)),
        F::keep(3, "defaultMode", T::Int32),
        F::keep(4, "optional", T::Bool),
    ],
};

static CORE_V1_CONTAINER: Message = Message {
    name: "io.k8s.api.core.v1.Container",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "image", T::String),
        F::rep(3, "command", T::String),
        F::rep(4, "args", T::String),
        F::opt(5, "workingDir", T::String),
        F::rep(6, "ports", T::Message(&CORE_V1_CONTAINER_PORT)),
        F::rep(7, "env", T::Message(&CORE_V1_ENV_VAR)),
        F::opt(8, "resources", T::Message(&CORE_V1_RESOURCE_REQUIREMENTS)),
        F::rep(9, "volumeMounts", T::Message(&CORE_V1_VOLUME_MOUNT)),
        F::opt(10, "livenessProbe", T::Message(&CORE_V1_PROBE)),
        F::opt(11, "readinessProbe", T::Message(&CORE_V1_PROBE)),
        F::opt(12, "lifecycle", T::Message(&CORE_V1_LIFECYCLE)),
        F::opt(13, "terminationMessagePath", T::String),
        F::opt(14, "imagePullPolicy", T::String),
        F::opt(15, "securityContext", T::Message(&CORE_V1_SECURITY_CONTEXT)),
        F::opt(16, "stdin", T::Bool),
        F::opt(17, "stdinOnce", T::Bool),
        F::opt(18, "tty", T::Bool),
        F::rep(19, "envFrom", T::Message(&CORE_V1_ENV_FROM_SOURCE)),
        F::opt(20, "terminationMessagePolicy", T::String),
        F::rep(21, "volumeDevices", T::Message(&CORE_V1_VOLUME_DEVICE)),
        F::opt(22, "startupProbe", T::Message(&CORE_V1_PROBE)),
        F::rep(
            23,
            "resizePolicy",
            T::Message(&CORE_V1_CONTAINER_RESIZE_POLICY),
        ),
        F::opt(24, "restartPolicy", T::String),
    ],
};

static CORE_V1_CONTAINER_IMAGE: Message = Message {
    name: "io.k8s.api.core.v1.ContainerImage",
    fields: &[
        F::rep(1, "names", T::String),
        F::opt(2, "sizeBytes", T::Int64),
    ],
};

static CORE_V1_CONTAINER_PORT: Message = Message {
    name: "io.k8s.api.core.v1.ContainerPort",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "hostPort", T::Int32),
        F::keep(3, "containerPort", T::Int32),
        F::opt(4, "protocol", T::String),
        F::opt(5, "hostIP", T::String),
    ],
};

static CORE_V1_CONTAINER_RESIZE_POLICY: Message = Message {
    name: "io.k8s.api.core.v1.ContainerResizePolicy",
    fields: &[
        F::opt(1, "resourceName", T::String),
        F::opt(2, "restartPolicy", T::String),
    ],
};

static CORE_V1_CONTAINER_STATE: Message = Message {
    name: "io.k8s.api.core.v1.ContainerState",
    fields: &[
        F::opt(1, "waiting", T::Message(&CORE_V1_CONTAINER_STATE_WAITING)),
        F::opt(2, "running", T::Message(&CORE_V1_CONTAINER_STATE_RUNNING)),
        F::opt(
            3,
            "terminated",
            T::Message(&CORE_V1_CONTAINER_STATE_TERMINATED),
        ),
    ],
};

static CORE_V1_CONTAINER_STATE_RUNNING: Message = Message {
    name: "io.k8s.api.core.v1.ContainerStateRunning",
    fields: &[F::opt(1, "startedAt", T::Time)],
};

static CORE_V1_CONTAINER_STATE_TERMINATED: Message = Message {
    name: "io.k8s.api.core.v1.ContainerStateTerminated",
    fields: &[
        F::keep(1, "exitCode", T::Int32),
        F::opt(2, "signal", T::Int32),
        F::opt(3, "reason", T::String),
        F::opt(4, "message", T::String),
        F::opt(5, "startedAt", T::Time),
        F::opt(6, "finishedAt", T::Time),
        F::opt(7, "containerID", T::String),
    ],
};

static CORE_V1_CONTAINER_STATE_WAITING: Message = Message {
    name: "io.k8s.api.core.v1.ContainerStateWaiting",
    fields: &[
        F::opt(1, "reason", T::String),
        F::opt(2, "message", T::String),
    ],
};

static CORE_V1_CONTAINER_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.ContainerStatus",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "state", T::Message(&CORE_V1_CONTAINER_STATE)),
        F::opt(3, "lastState", T::Message(&CORE_V1_CONTAINER_STATE)),
        F::keep(4, "ready", T::Bool),
        F::keep(5, "restartCount", T::Int32),
        F::opt(6, "image", T::String),
        F::opt(7, "imageID", T::String),
        F::opt(8, "containerID", T::String),
        F::keep(9, "started", T::Bool),
        F::opt(10, "allocatedResources", T::Map(&T::Quantity)),
        F::opt(11, "resources", T::Message(&CORE_V1_RESOURCE_REQUIREMENTS)),
        F::rep(12, "volumeMounts", T::Message(&CORE_V1_VOLUME_MOUNT_STATUS)),
        F::opt(13, "user", T::Message(&CORE_V1_CONTAINER_USER)),
        F::rep(
            14,
            "allocatedResourcesStatus",
            T::Message(&CORE_V1_RESOURCE_STATUS),
        ),
        F::opt(15, "stopSignal", T::String),
    ],
};

static CORE_V1_CONTAINER_USER: Message = Message {
    name: "io.k8s.api.core.v1.ContainerUser",
    fields: &[F::opt(
        1,
        "linux",
        T::Message(&CORE_V1_LINUX_CONTAINER_USER),
    )],
};

static CORE_V1_CSI_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.CSIVolumeSource",
    fields: &[
        F::opt(1, "driver", T::String),
        F::keep(2, "readOnly", T::Bool),
        F::opt(3, "fsType", T::String),
        F::opt(4, "volumeAttributes", T::Map(&T::String)),
        F::opt(
            5,
            "nodePublishSecretRef",
            T::Message(&CORE_V1_LOCAL_OBJECT_REFERENCE),
        ),
    ],
};

static CORE_V1_DAEMON_ENDPOINT: Message = Message {
    name: "io.k8s.api.core.v1.DaemonEndpoint",
    fields: &[F::keep(1, "Port", T::Int32)],
};

static CORE_V1_DOWNWARD_API_PROJECTION: Message = Message {
    name: "io.k8s.api.core.v1.DownwardAPIProjection",
    fields: &[F::rep(
        1,
        "items",
        T::Message(&CORE_V1_DOWNWARD_API_VOLUME_FILE),
    )],
};

static CORE_V1_DOWNWARD_API_VOLUME_FILE: Message = Message {
    name: "io.k8s.api.core.v1.DownwardAPIVolumeFile",
    fields: &[
        F::opt(1, "path", T::String),
        F::opt(2, "fieldRef", T::Message(&CORE_V1_OBJECT_FIELD_SELECTOR)),
        F::opt(
            3,
            "resourceFieldRef",
            T::Message(&CORE_V1_RESOURCE_FIELD_SELECTOR),
        ),
        F::keep(4, "mode", T::Int32),
    ],
};

static CORE_V1_DOWNWARD_API_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.DownwardAPIVolumeSource",
    fields: &[
        F::rep(1, "items", T::Message(&CORE_V1_DOWNWARD_API_VOLUME_FILE)),
        F::keep(2, "defaultMode", T::Int32),
    ],
};

static CORE_V1_EMPTY_DIR_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.EmptyDirVolumeSource",
    fields: &[
        F::opt(1, "medium", T::String),
        F::opt(2, "sizeLimit", T::Quantity),
    ],
};

static CORE_V1_ENDPOINTS: Message = Message {
    name: "io.k8s.api.core.v1.Endpoints",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::rep(2, "subsets", T::Message(&CORE_V1_ENDPOINT_SUBSET)),
    ],
};

static CORE_V1_ENDPOINT_ADDRESS: Message = Message {
    name: "io.k8s.api.core.v1.EndpointAddress",
    fields: &[
        F::opt(1, "ip", T::String),
        F::opt(2, "targetRef", T::Message(&CORE_V1_OBJECT_REFERENCE)),
        F::opt(3, "hostname", T::String),
        F::opt(4, "nodeName", T::String),
    ],
};

static CORE_V1_ENDPOINT_PORT: Message = Message {
    name: "io.k8s.api.core.v1.EndpointPort",
    fields: &[
        F::opt(1, "name", T::String),
        F::keep(2, "port", T::Int32),
        F::opt(3, "protocol", T::String),
        F::opt(4, "appProtocol", T::String),
    ],
};

static CORE_V1_ENDPOINT_SUBSET: Message = Message {
    name: "io.k8s.api.core.v1.EndpointSubset",
    fields: &[
        F::rep(1, "addresses", T::Message(&CORE_V1_ENDPOINT_ADDRESS)),
        F::rep(
            2,
            "notReadyAddresses",
            T::Message(&CORE_V1_ENDPOINT_ADDRESS),
        ),
        F::rep(3, "ports", T::Message(&CORE_V1_ENDPOINT_PORT)),
    ],
};

static CORE_V1_ENV_FROM_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.EnvFromSource",
    fields: &[
        F::opt(1, "prefix", T::String),
        F::opt(
            2,
            "configMapRef",
            T::Message(&CORE_V1_CONFIG_MAP_ENV_SOURCE),
        ),
        F::opt(3, "secretRef", T::Message(&CORE_V1_SECRET_ENV_SOURCE)),
    ],
};

static CORE_V1_ENV_VAR: Message = Message {
    name: "io.k8s.api.core.v1.EnvVar",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "value", T::String),
        F::opt(3, "valueFrom", T::Message(&CORE_V1_ENV_VAR_SOURCE)),
    ],
};

static CORE_V1_ENV_VAR_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.EnvVarSource",
    fields: &[
        F::opt(1, "fieldRef", T::Message(&CORE_V1_OBJECT_FIELD_SELECTOR)),
        F::opt(
            2,
            "resourceFieldRef",
            T::Message(&CORE_V1_RESOURCE_FIELD_SELECTOR),
        ),
        F::opt(
            3,
            "configMapKeyRef",
            T::Message(&CORE_V1_CONFIG_MAP_KEY_SELECTOR),
        ),
        F::opt(4, "secretKeyRef", T::Message(&CORE_V1_SECRET_KEY_SELECTOR)),
    ],
};

static CORE_V1_EPHEMERAL_CONTAINER: Message = Message {
    name: "io.k8s.api.core.v1.EphemeralContainer",
    fields: &[
        F::inline(
            1,
            "ephemeralContainerCommon",
            &CORE_V1_EPHEMERAL_CONTAINER_COMMON,
        ),
        F::opt(2, "targetContainerName", T::String),
    ],
};

static CORE_V1_EPHEMERAL_CONTAINER_COMMON: Message = Message {
    name: "io.k8s.api.core.v1.EphemeralContainerCommon",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "image", T::String),
        F::rep(3, "command", T::String),
        F::rep(4, "args", T::String),
        F::opt(5, "workingDir", T::String),
        F::rep(6, "ports", T::Message(&CORE_V1_CONTAINER_PORT)),
        F::rep(7, "env", T::Message(&CORE_V1_ENV_VAR)),
        F::opt(8, "resources", T::Message(&CORE_V1_RESOURCE_REQUIREMENTS)),
        F::rep(9, "volumeMounts", T::Message(&CORE_V1_VOLUME_MOUNT)),
        F::opt(10, "livenessProbe", T::Message(&CORE_V1_PROBE)),
        F::opt(11, "readinessProbe", T::Message(&CORE_V1_PROBE)),
        F::opt(12, "lifecycle", T::Message(&CORE_V1_LIFECYCLE)),
        F::opt(13, "terminationMessagePath", T::String),
        F::opt(14, "imagePullPolicy", T::String),
        F::opt(15, "securityContext", T::Message(&CORE_V1_SECURITY_CONTEXT)),
        F::opt(16, "stdin", T::Bool),
        F::opt(17, "stdinOnce", T::Bool),
        F::opt(18, "tty", T::Bool),
        F::rep(19, "envFrom", T::Message(&CORE_V1_ENV_FROM_SOURCE)),
        F::opt(20, "terminationMessagePolicy", T::String),
        F::rep(21, "volumeDevices", T::Message(&CORE_V1_VOLUME_DEVICE)),
        F::opt(22, "startupProbe", T::Message(&CORE_V1_PROBE)),
        F::rep(
            23,
            "resizePolicy",
            T::Message(&CORE_V1_CONTAINER_RESIZE_POLICY),
        ),
        F::opt(24, "restartPolicy", T::String),
    ],
};

static CORE_V1_EPHEMERAL_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.EphemeralVolumeSource",
    fields: &[F::opt(
        1,
        "volumeClaimTemplate",
        T::Message(&CORE_V1_PERSISTENT_VOLUME_CLAIM_TEMPLATE),
    )],
};

static CORE_V1_EVENT: Message = Message {
    name: "io.k8s.api.core.v1.Event",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "involvedObject", T::Message(&CORE_V1_OBJECT_REFERENCE)),
        F::opt(3, "reason", T::String),
        F::opt(4, "message", T::String),
        F::opt(5, "source", T::Message(&CORE_V1_EVENT_SOURCE)),
        F::opt(6, "firstTimestamp", T::Time),
        F::opt(7, "lastTimestamp", T::Time),
        F::opt(8, "count", T::Int32),
        F::opt(9, "type", T::String),
        F::opt(10, "eventTime", T::MicroTime),
        F::opt(11, "series", T::Message(&CORE_V1_EVENT_SERIES)),
        F::opt(12, "action", T::String),
        F::opt(13, "related", T::Message(&CORE_V1_OBJECT_REFERENCE)),
        F::opt(14, "reportingComponent", T::String),
        F::opt(15, "reportingInstance", T::String),
    ],
};

static CORE_V1_EVENT_SERIES: Message = Message {
    name: "io.k8s.api.core.v1.EventSeries",
    fields: &[
        F::opt(1, "count", T::Int32),
        F::opt(2, "lastObservedTime", T::MicroTime),
    ],
};

static CORE_V1_EVENT_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.EventSource",
    fields: &[
        F::opt(1, "component", T::String),
        F::opt(2, "host", T::String),
    ],
};

static CORE_V1_EXEC_ACTION: Message = Message {
    name: "io.k8s.api.core.v1.ExecAction",
    fields: &[F::rep(1, "command", T::String)],
};

static CORE_V1_FC_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.FCVolumeSource",
    fields: &[
        F::rep(1, "targetWWNs", T::String),
        F::keep(2, "lun", T::Int32),
        F::opt(3, "fsType", T::String),
        F::opt(4, "readOnly", T::Bool),
        F::rep(5, "wwids", T::String),
    ],
};

static CORE_V1_FLEX_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.FlexVolumeSource",
    fields: &[
        F::opt(1, "driver", T::String),
        F::opt(2, "fsType", T::String),
        F::opt(3, "secretRef", T::Message(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        F::opt(4, "readOnly", T::Bool),
        F::opt(5, "options", T::Map(&T::String)),
    ],
};

static CORE_V1_FLOCKER_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.FlockerVolumeSource",
    fields: &[
        F::opt(1, "datasetName", T::String),
        F::opt(2, "datasetUUID", T::String),
    ],
};

static CORE_V1_GCE_PERSISTENT_DISK_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.GCEPersistentDiskVolumeSource",
    fields: &[
        F::opt(1, "pdName", T::String),
        F::opt(2, "fsType", T::String),
        F::opt(3, "partition", T::Int32),
        F::opt(4, "readOnly", T::Bool),
    ],
};

static CORE_V1_GIT_REPO_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.GitRepoVolumeSource",
    fields: &[
        F::opt(1, "repository", T::String),
        F::opt(2, "revision", T::String),
        F::opt(3, "directory", T::String),
    ],
};

static CORE_V1_GLUSTERFS_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.GlusterfsVolumeSource",
    fields: &[
        F::opt(1, "endpoints", T::String),
        F::opt(2, "path", T::String),
        F::opt(3, "readOnly", T::Bool),
    ],
};

static CORE_V1_GRPC_ACTION: Message = Message {
    name: "io.k8s.api.core.v1.GRPCAction",
    fields: &[
        F::keep(1, "port", T::Int32),
        F::opt(2, "service", T::String),
    ],
};

static CORE_V1_HOST_ALIAS: Message = Message {
    name: "io.k8s.api.core.v1.HostAlias",
    fields: &[
        F::opt(1, "ip", T::String),
        F::rep(2, "hostnames", T::String),
    ],
};

static CORE_V1_HOST_IP: Message = Message {
    name: "io.k8s.api.core.v1.HostIP",
    fields: &[F::opt(1, "ip", T::String)],
};

static CORE_V1_HOST_PATH_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.HostPathVolumeSource",
    fields: &[F::opt(1, "path", T::String), F::opt(2, "type", T::String)],
};

static CORE_V1_HTTP_GET_ACTION: Message = Message {
    name: "io.k8s.api.core.v1.HTTPGetAction",
    fields: &[
        F::opt(1, "path", T::String),
        F::opt(2, "port", T::IntOrString),
        F::opt(3, "host", T::String),
        F::opt(4, "scheme", T::String),
        F::rep(5, "httpHeaders", T::Message(&CORE_V1_HTTP_HEADER)),
    ],
};

static CORE_V1_HTTP_HEADER: Message = Message {
    name: "io.k8s.api.core.v1.HTTPHeader",
    fields: &[F::opt(1, "name", T::String), F::opt(2, "value", T::String)],
};

static CORE_V1_IMAGE_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.ImageVolumeSource",
    fields: &[
        F::opt(1, "reference", T::String),
        F::opt(2, "pullPolicy", T::String),
    ],
};

static CORE_V1_ISCSI_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.ISCSIVolumeSource",
    fields: &[
        F::opt(1, "targetPortal", T::String),
        F::opt(2, "iqn", T::String),
        F::keep(3, "lun", T::Int32),
        F::opt(4, "iscsiInterface", T::String),
        F::opt(5, "fsType", T::String),
        F::opt(6, "readOnly", T::Bool),
        F::rep(7, "portals", T::String),
        F::opt(8, "chapAuthDiscovery", T::Bool),
        F::opt(10, "secretRef", T::Message(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        F::opt(11, "chapAuthSession", T::Bool),
        F::opt(12, "initiatorName", T::String),
    ],
};

static CORE_V1_KEY_TO_PATH: Message = Message {
    name: "io.k8s.api.core.v1.KeyToPath",
    fields: &[
        F::opt(1, "key", T::String),
        F::opt(2, "path", T::String),
        F::keep(3, "mode", T::Int32),
    ],
};

static CORE_V1_LIFECYCLE: Message = Message {
    name: "io.k8s.api.core.v1.Lifecycle",
    fields: &[
        F::opt(1, "postStart", T::Message(&CORE_V1_LIFECYCLE_HANDLER)),
        F::opt(2, "preStop", T::Message(&CORE_V1_LIFECYCLE_HANDLER)),
        F::opt(3, "stopSignal", T::String),
    ],
};

static CORE_V1_LIFECYCLE_HANDLER: Message = Message {
    name: "io.k8s.api.core.v1.LifecycleHandler",
    fields: &[
        F::opt(1, "exec", T::Message(&CORE_V1_EXEC_ACTION)),
        F::opt(2, "httpGet", T::Message(&CORE_V1_HTTP_GET_ACTION)),
        F::opt(3, "tcpSocket", T::Message(&CORE_V1_TCP_SOCKET_ACTION)),
        F::opt(4, "sleep", T::Message(&CORE_V1_SLEEP_ACTION)),
    ],
};

static CORE_V1_LINUX_CONTAINER_USER: Message = Message {
    name: "io.k8s.api.core.v1.LinuxContainerUser",
    fields: &[
        F::keep(1, "uid", T::Int64),
        F::keep(2, "gid", T::Int64),
        F::rep(3, "supplementalGroups", T::Int64),
    ],
};

static CORE_V1_LOAD_BALANCER_INGRESS: Message = Message {
    name: "io.k8s.api.core.v1.LoadBalancerIngress",
    fields: &[
        F::opt(1, "ip", T::String),
        F::opt(2, "hostname", T::String),
        F::opt(3, "ipMode", T::String),
        F::rep(4, "ports", T::Message(&CORE_V1_PORT_STATUS)),
    ],
};

static CORE_V1_LOAD_BALANCER_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.LoadBalancerStatus",
    fields: &[F::rep(
        1,
        "ingress",
        T::Message(&CORE_V1_LOAD_BALANCER_INGRESS),
    )],
};

static CORE_V1_LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "io.k8s.api.core.v1.LocalObjectReference",
    fields: &[F::opt(1, "name", T::String)],
};

static CORE_V1_MODIFY_VOLUME_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.ModifyVolumeStatus",
    fields: &[
        F::opt(1, "targetVolumeAttributesClassName", T::String),
        F::opt(2, "status", T::String),
    ],
};

static CORE_V1_NAMESPACE: Message = Message {
    name: "io.k8s.api.core.v1.Namespace",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&CORE_V1_NAMESPACE_SPEC)),
        F::opt(3, "status", T::Message(&CORE_V1_NAMESPACE_STATUS)),
    ],
};

static CORE_V1_NAMESPACE_CONDITION: Message = Message {
    name: "io.k8s.api.core.v1.NamespaceCondition",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "status", T::String),
        F::opt(4, "lastTransitionTime", T::Time),
        F::opt(5, "reason", T::String),
        F::opt(6, "message", T::String),
    ],
};

static CORE_V1_NAMESPACE_SPEC: Message = Message {
    name: "io.k8s.api.core.v1.NamespaceSpec",
    fields: &[F::rep(1, "finalizers", T::String)],
};

static CORE_V1_NAMESPACE_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.NamespaceStatus",
    fields: &[
        F::opt(1, "phase", T::String),
        F::rep(2, "conditions", T::Message(&CORE_V1_NAMESPACE_CONDITION)),
    ],
};

static CORE_V1_NFS_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.NFSVolumeSource",
    fields: &[
        F::opt(1, "server", T::String),
        F::opt(2, "path", T::String),
        F::opt(3, "readOnly", T::Bool),
    ],
};

static CORE_V1_NODE: Message = Message {
    name: "io.k8s.api.core.v1.Node",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&CORE_V1_NODE_SPEC)),
        F::opt(3, "status", T::Message(&CORE_V1_NODE_STATUS)),
    ],
};

static CORE_V1_NODE_ADDRESS: Message = Message {
    name: "io.k8s.api.core.v1.NodeAddress",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "address", T::String),
    ],
};

static CORE_V1_NODE_AFFINITY: Message = Message {
    name: "io.k8s.api.core.v1.NodeAffinity",
    fields: &[
        F::opt(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            T::Message(&CORE_V1_NODE_SELECTOR),
        ),
        F::rep(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            T::Message(&CORE_V1_PREFERRED_SCHEDULING_TERM),
        ),
    ],
};

static CORE_V1_NODE_CONDITION: Message = Message {
    name: "io.k8s.api.core.v1.NodeCondition",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "status", T::String),
        F::opt(3, "lastHeartbeatTime", T::Time),
        F::opt(4, "lastTransitionTime", T::Time),
        F::opt(5, "reason", T::String),
        F::opt(6, "message", T::String),
    ],
};

static CORE_V1_NODE_CONFIG_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.NodeConfigSource",
    fields: &[F::opt(
        2,
        "configMap",
        T::Message(&CORE_V1_CONFIG_MAP_NODE_CONFIG_SOURCE),
    )],
};

static CORE_V1_NODE_CONFIG_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.NodeConfigStatus",
    fields: &[
        F::opt(1, "assigned", T::Message(&CORE_V1_NODE_CONFIG_SOURCE)),
        F::opt(2, "active", T::Message(&CORE_V1_NODE_CONFIG_SOURCE)),
        F::opt(3, "lastKnownGood", T::Message(&CORE_V1_NODE_CONFIG_SOURCE)),
        F::opt(4, "error", T::String),
    ],
};

static CORE_V1_NODE_DAEMON_ENDPOINTS: Message = Message {
    name: "io.k8s.api.core.v1.NodeDaemonEndpoints",
    fields: &[F::opt(
        1,
        "kubeletEndpoint",
        T::Message(&CORE_V1_DAEMON_ENDPOINT),
    )],
};

static CORE_V1_NODE_FEATURES: Message = Message {
    name: "io.k8s.api.core.v1.NodeFeatures",
    fields: &[F::keep(1, "supplementalGroupsPolicy", T::Bool)],
};

static CORE_V1_NODE_RUNTIME_HANDLER: Message = Message {
    name: "io.k8s.api.core.v1.NodeRuntimeHandler",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(
            2,
            "features",
            T::Message(&CORE_V1_NODE_RUNTIME_HANDLER_FEATURES),
        ),
    ],
};

static CORE_V1_NODE_RUNTIME_HANDLER_FEATURES: Message = Message {
    name: "io.k8s.api.core.v1.NodeRuntimeHandlerFeatures",
    fields: &[
        F::keep(1, "recursiveReadOnlyMounts", T::Bool),
        F::keep(2, "userNamespaces", T::Bool),
    ],
};

static CORE_V1_NODE_SELECTOR: Message = Message {
    name: "io.k8s.api.core.v1.NodeSelector",
    fields: &[F::rep(
        1,
        "nodeSelectorTerms",
        T::Message(&CORE_V1_NODE_SELECTOR_TERM),
    )],
};

static CORE_V1_NODE_SELECTOR_REQUIREMENT: Message = Message {
    name: "io.k8s.api.core.v1.NodeSelectorRequirement",
    fields: &[
        F::opt(1, "key", T::String),
        F::opt(2, "operator", T::String),
        F::rep(3, "values", T::String),
    ],
};

static CORE_V1_NODE_SELECTOR_TERM: Message = Message {
    name: "io.k8s.api.core.v1.NodeSelectorTerm",
    fields: &[
        F::rep(
            1,
            "matchExpressions",
            T::Message(&CORE_V1_NODE_SELECTOR_REQUIREMENT),
        ),
        F::rep(
            2,
            "matchFields",
            T::Message(&CORE_V1_NODE_SELECTOR_REQUIREMENT),
        ),
    ],
};

static CORE_V1_NODE_SPEC: Message = Message {
    name: "io.k8s.api.core.v1.NodeSpec",
    fields: &[
        F::opt(1, "podCIDR", T::String),
        F::opt(2, "externalID", T::String),
        F::opt(3, "providerID", T::String),
        F::opt(4, "unschedulable", T::Bool),
        F::rep(5, "taints", T::Message(&CORE_V1_TAINT)),
        F::opt(6, "configSource", T::Message(&CORE_V1_NODE_CONFIG_SOURCE)),
        F::rep(7, "podCIDRs", T::String),
    ],
};

static CORE_V1_NODE_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.NodeStatus",
    fields: &[
        F::opt(1, "capacity", T::Map(&T::Quantity)),
        F::opt(2, "allocatable", T::Map(&T::Quantity)),
        F::opt(3, "phase", T::String),
        F::rep(4, "conditions", T::Message(&CORE_V1_NODE_CONDITION)),
        F::rep(5, "addresses", T::Message(&CORE_V1_NODE_ADDRESS)),
        F::opt(
            6,
            "daemonEndpoints",
            T::Message(&CORE_V1_NODE_DAEMON_ENDPOINTS),
        ),
        F::opt(7, "nodeInfo", T::Message(&CORE_V1_NODE_SYSTEM_INFO)),
        F::rep(8, "images", T::Message(&CORE_V1_CONTAINER_IMAGE)),
        F::rep(9, "volumesInUse", T::String),
        F::rep(10, "volumesAttached", T::Message(&CORE_V1_ATTACHED_VOLUME)),
        F::opt(11, "config", T::Message(&CORE_V1_NODE_CONFIG_STATUS)),
        F::rep(
            12,
            "runtimeHandlers",
            T::Message(&CORE_V1_NODE_RUNTIME_HANDLER),
        ),
        F::opt(13, "features", T::Message(&CORE_V1_NODE_FEATURES)),
    ],
};

static CORE_V1_NODE_SWAP_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.NodeSwapStatus",
    fields: &[F::keep(1, "capacity", T::Int64)],
};

static CORE_V1_NODE_SYSTEM_INFO: Message = Message {
    name: "io.k8s.api.core.v1.NodeSystemInfo",
    fields: &[
        F::opt(1, "machineID", T::String),
        F::opt(2, "systemUUID", T::String),
        F::opt(3, "bootID", T::String),
        F::opt(4, "kernelVersion", T::String),
        F::opt(5, "osImage", T::String),
        F::opt(6, "containerRuntimeVersion", T::String),
        F::opt(7, "kubeletVersion", T::String),
        F::opt(8, "kubeProxyVersion", T::String),
        F::opt(9, "operatingSystem", T::String),
        F::opt(10, "architecture", T::String),
        F::opt(11, "swap", T::Message(&CORE_V1_NODE_SWAP_STATUS)),
    ],
};

static CORE_V1_OBJECT_FIELD_SELECTOR: Message = Message {
    name: "io.k8s.api.core.v1.ObjectFieldSelector",
    fields: &[
        F::opt(1, "apiVersion", T::String),
        F::opt(2, "fieldPath", T::String),
    ],
};

static CORE_V1_OBJECT_REFERENCE: Message = Message {
    name: "io.k8s.api.core.v1.ObjectReference",
    fields: &[
        F::opt(1, "kind", T::String),
        F::opt(2, "namespace", T::String),
        F::opt(3, "name", T::String),
        F::opt(4, "uid", T::String),
        F::opt(5, "apiVersion", T::String),
        F::opt(6, "resourceVersion", T::String),
        F::opt(7, "fieldPath", T::String),
    ],
};

static CORE_V1_PERSISTENT_VOLUME_CLAIM: Message = Message {
    name: "io.k8s.api.core.v1.PersistentVolumeClaim",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&CORE_V1_PERSISTENT_VOLUME_CLAIM_SPEC)),
        F::opt(
            3,
            "status",
            T::Message(&CORE_V1_PERSISTENT_VOLUME_CLAIM_STATUS),
        ),
    ],
};

static CORE_V1_PERSISTENT_VOLUME_CLAIM_CONDITION: Message = Message {
    name: "io.k8s.api.core.v1.PersistentVolumeClaimCondition",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "status", T::String),
        F::opt(3, "lastProbeTime", T::Time),
        F::opt(4, "lastTransitionTime", T::Time),
        F::opt(5, "reason", T::String),
        F::opt(6, "message", T::String),
    ],
};

static CORE_V1_PERSISTENT_VOLUME_CLAIM_SPEC: Message = Message {
    name: "io.k8s.api.core.v1.PersistentVolumeClaimSpec",
    fields: &[
        F::rep(1, "accessModes", T::String),
        F::opt(
            2,
            "resources",
            T::Message(&CORE_V1_VOLUME_RESOURCE_REQUIREMENTS),
        ),
        F::opt(3, "volumeName", T::String),
        F::opt(4, "selector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::opt(5, "storageClassName", T::String),
        F::opt(6, "volumeMode", T::String),
        F::opt(
            7,
            "dataSource",
            T::Message(&CORE_V1_TYPED_LOCAL_OBJECT_REFERENCE),
        ),
        F::opt(
            8,
            "dataSourceRef",
            T::Message(&CORE_V1_TYPED_OBJECT_REFERENCE),
        ),
        F::opt(9, "volumeAttributesClassName", T::String),
    ],
};

static CORE_V1_PERSISTENT_VOLUME_CLAIM_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
    fields: &[
        F::opt(1, "phase", T::String),
        F::rep(2, "accessModes", T::String),
        F::opt(3, "capacity", T::Map(&T::Quantity)),
        F::rep(
            4,
            "conditions",
            T::Message(&CORE_V1_PERSISTENT_VOLUME_CLAIM_CONDITION),
        ),
        F::opt(5, "allocatedResources", T::Map(&T::Quantity)),
        F::opt(7, "allocatedResourceStatuses", T::Map(&T::String)),
        F::opt(8, "currentVolumeAttributesClassName", T::String),
        F::opt(
            9,
            "modifyVolumeStatus",
            T::Message(&CORE_V1_MODIFY_VOLUME_STATUS),
        ),
    ],
};

static CORE_V1_PERSISTENT_VOLUME_CLAIM_TEMPLATE: Message = Message {
    name: "io.k8s.api.core.v1.PersistentVolumeClaimTemplate",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&CORE_V1_PERSISTENT_VOLUME_CLAIM_SPEC)),
    ],
};

static CORE_V1_PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.PersistentVolumeClaimVolumeSource",
    fields: &[
        F::opt(1, "claimName", T::String),
        F::opt(2, "readOnly", T::Bool),
    ],
};

static CORE_V1_PHOTON_PERSISTENT_DISK_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.PhotonPersistentDiskVolumeSource",
    fields: &[F::opt(1, "pdID", T::String), F::opt(2, "fsType", T::String)],
};

static CORE_V1_POD: Message = Message {
    name: "io.k8s.api.core.v1.Pod",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&CORE_V1_POD_SPEC)),
        F::opt(3, "status", T::Message(&CORE_V1_POD_STATUS)),
    ],
};

static CORE_V1_POD_AFFINITY: Message = Message {
    name: "io.k8s.api.core.v1.PodAffinity",
    fields: &[
        F::rep(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            T::Message(&CORE_V1_POD_AFFINITY_TERM),
        ),
        F::rep(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            T::Message(&CORE_V1_WEIGHTED_POD_AFFINITY_TERM),
        ),
    ],
};

static CORE_V1_POD_AFFINITY_TERM: Message = Message {
    name: "io.k8s.api.core.v1.PodAffinityTerm",
    fields: &[
        F::opt(1, "labelSelector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::rep(2, "namespaces", T::String),
        F::opt(3, "topologyKey", T::String),
        F::opt(4, "namespaceSelector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::rep(5, "matchLabelKeys", T::String),
        F::rep(6, "mismatchLabelKeys", T::String),
    ],
};

static CORE_V1_POD_ANTI_AFFINITY: Message = Message {
    name: "io.k8s.api.core.v1.PodAntiAffinity",
    fields: &[
        F::rep(
            1,
            "requiredDuringSchedulingIgnoredDuringExecution",
            T::Message(&CORE_V1_POD_AFFINITY_TERM),
        ),
        F::rep(
            2,
            "preferredDuringSchedulingIgnoredDuringExecution",
            T::Message(&CORE_V1_WEIGHTED_POD_AFFINITY_TERM),
        ),
    ],
};

static CORE_V1_POD_CONDITION: Message = Message {
    name: "io.k8s.api.core.v1.PodCondition",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "status", T::String),
        F::opt(3, "lastProbeTime", T::Time),
        F::opt(4, "lastTransitionTime", T::Time),
        F::opt(5, "reason", T::String),
        F::opt(6, "message", T::String),
        F::opt(7, "observedGeneration", T::Int64),
    ],
};

static CORE_V1_POD_DNS_CONFIG: Message = Message {
    name: "io.k8s.api.core.v1.PodDNSConfig",
    fields: &[
        F::rep(1, "nameservers", T::String),
        F::rep(2, "searches", T::String),
        F::rep(3, "options", T::Message(&CORE_V1_POD_DNS_CONFIG_OPTION)),
    ],
};

static CORE_V1_POD_DNS_CONFIG_OPTION: Message = Message {
    name: "io.k8s.api.core.v1.PodDNSConfigOption",
    fields: &[F::opt(1, "name", T::String), F::opt(2, "value", T::String)],
};

static CORE_V1_POD_IP: Message = Message {
    name: "io.k8s.api.core.v1.PodIP",
    fields: &[F::opt(1, "ip", T::String)],
};

static CORE_V1_POD_OS: Message = Message {
    name: "io.k8s.api.core.v1.PodOS",
    fields: &[F::opt(1, "name", T::String)],
};

static CORE_V1_POD_READINESS_GATE: Message = Message {
    name: "io.k8s.api.core.v1.PodReadinessGate",
    fields: &[F::opt(1, "conditionType", T::String)],
};

static CORE_V1_POD_RESOURCE_CLAIM: Message = Message {
    name: "io.k8s.api.core.v1.PodResourceClaim",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(3, "resourceClaimName", T::String),
        F::opt(4, "resourceClaimTemplateName", T::String),
    ],
};

static CORE_V1_POD_RESOURCE_CLAIM_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.PodResourceClaimStatus",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "resourceClaimName", T::String),
    ],
};

static CORE_V1_POD_SCHEDULING_GATE: Message = Message {
    name: "io.k8s.api.core.v1.PodSchedulingGate",
    fields: &[F::opt(1, "name", T::String)],
};

static CORE_V1_POD_SECURITY_CONTEXT: Message = Message {
    name: "io.k8s.api.core.v1.PodSecurityContext",
    fields: &[
        F::opt(1, "seLinuxOptions", T::Message(&CORE_V1_SE_LINUX_OPTIONS)),
        F::keep(2, "runAsUser", T::Int64),
        F::keep(3, "runAsNonRoot", T::Bool),
        F::rep(4, "supplementalGroups", T::Int64),
        F::keep(5, "fsGroup", T::Int64),
        F::keep(6, "runAsGroup", T::Int64),
        F::rep(7, "sysctls", T::Message(&CORE_V1_SYSCTL)),
        F::opt(
            8,
            "windowsOptions",
            T::Message(&CORE_V1_WINDOWS_SECURITY_CONTEXT_OPTIONS),
        ),
        F::opt(9, "fsGroupChangePolicy", T::String),
        F::opt(10, "seccompProfile", T::Message(&CORE_V1_SECCOMP_PROFILE)),
        F::opt(
            11,
            "appArmorProfile",
            T::Message(&CORE_V1_APP_ARMOR_PROFILE),
        ),
        F::opt(12, "supplementalGroupsPolicy", T::String),
        F::opt(13, "seLinuxChangePolicy", T::String),
    ],
};

static CORE_V1_POD_SPEC: Message = Message {
    name: "io.k8s.api.core.v1.PodSpec",
    fields: &[
        F::rep(1, "volumes", T::Message(&CORE_V1_VOLUME)),
        F::rep(2, "containers", T::Message(&CORE_V1_CONTAINER)),
        F::opt(3, "restartPolicy", T::String),
        F::keep(4, "terminationGracePeriodSeconds", T::Int64),
        F::keep(5, "activeDeadlineSeconds", T::Int64),
        F::opt(6, "dnsPolicy", T::String),
        F::opt(7, "nodeSelector", T::Map(&T::String)),
        F::opt(8, "serviceAccountName", T::String),
        F::opt(9, "serviceAccount", T::String),
        F::opt(10, "nodeName", T::String),
        F::opt(11, "hostNetwork", T::Bool),
        F::opt(12, "hostPID", T::Bool),
        F::opt(13, "hostIPC", T::Bool),
        F::opt(
            14,
            "securityContext",
            T::Message(&CORE_V1_POD_SECURITY_CONTEXT),
        ),
        F::rep(
            15,
            "imagePullSecrets",
            T::Message(&CORE_V1_LOCAL_OBJECT_REFERENCE),
        ),
        F::opt(16, "hostname", T::String),
        F::opt(17, "subdomain", T::String),
        F::opt(18, "affinity", T::Message(&CORE_V1_AFFINITY)),
        F::opt(19, "schedulerName", T::String),
        F::rep(20, "initContainers", T::Message(&CORE_V1_CONTAINER)),
        F::keep(21, "automountServiceAccountToken", T::Bool),
        F::rep(22, "tolerations", T::Message(&CORE_V1_TOLERATION)),
        F::rep(23, "hostAliases", T::Message(&CORE_V1_HOST_ALIAS)),
        F::opt(24, "priorityClassName", T::String),
        F::keep(25, "priority", T::Int32),
        F::opt(26, "dnsConfig", T::Message(&CORE_V1_POD_DNS_CONFIG)),
        F::keep(27, "shareProcessNamespace", T::Bool),
        F::rep(
            28,
            "readinessGates",
            T::Message(&CORE_V1_POD_READINESS_GATE),
        ),
        F::opt(29, "runtimeClassName", T::String),
        F::keep(30, "enableServiceLinks", T::Bool),
        F::opt(31, "preemptionPolicy", T::String),
        F::opt(32, "overhead", T::Map(&T::Quantity)),
        F::rep(
            33,
            "topologySpreadConstraints",
            T::Message(&CORE_V1_TOPOLOGY_SPREAD_CONSTRAINT),
        ),
        F::rep(
            34,
            "ephemeralContainers",
            T::Message(&CORE_V1_EPHEMERAL_CONTAINER),
        ),
        F::keep(35, "setHostnameAsFQDN", T::Bool),
        F::opt(36, "os", T::Message(&CORE_V1_POD_OS)),
        F::keep(37, "hostUsers", T::Bool),
        F::rep(
            38,
            "schedulingGates",
            T::Message(&CORE_V1_POD_SCHEDULING_GATE),
        ),
        F::rep(
            39,
            "resourceClaims",
            T::Message(&CORE_V1_POD_RESOURCE_CLAIM),
        ),
        F::opt(40, "resources", T::Message(&CORE_V1_RESOURCE_REQUIREMENTS)),
    ],
};

static CORE_V1_POD_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.PodStatus",
    fields: &[
        F::opt(1, "phase", T::String),
        F::rep(2, "conditions", T::Message(&CORE_V1_POD_CONDITION)),
        F::opt(3, "message", T::String),
        F::opt(4, "reason", T::String),
        F::opt(5, "hostIP", T::String),
        F::opt(6, "podIP", T::String),
        F::opt(7, "startTime", T::Time),
        F::rep(
            8,
            "containerStatuses",
            T::Message(&CORE_V1_CONTAINER_STATUS),
        ),
        F::opt(9, "qosClass", T::String),
        F::rep(
            10,
            "initContainerStatuses",
            T::Message(&CORE_V1_CONTAINER_STATUS),
        ),
        F::opt(11, "nominatedNodeName", T::String),
        F::rep(12, "podIPs", T::Message(&CORE_V1_POD_IP)),
        F::rep(
            13,
            "ephemeralContainerStatuses",
            T::Message(&CORE_V1_CONTAINER_STATUS),
        ),
        F::opt(14, "resize", T::String),
        F::rep(
            15,
            "resourceClaimStatuses",
            T::Message(&CORE_V1_POD_RESOURCE_CLAIM_STATUS),
        ),
        F::rep(16, "hostIPs", T::Message(&CORE_V1_HOST_IP)),
        F::opt(17, "observedGeneration", T::Int64),
    ],
};

static CORE_V1_POD_TEMPLATE_SPEC: Message = Message {
    name: "io.k8s.api.core.v1.PodTemplateSpec",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&CORE_V1_POD_SPEC)),
    ],
};

static CORE_V1_PORTWORX_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.PortworxVolumeSource",
    fields: &[
        F::opt(1, "volumeID", T::String),
        F::opt(2, "fsType", T::String),
        F::opt(3, "readOnly", T::Bool),
    ],
};

static CORE_V1_PORT_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.PortStatus",
    fields: &[
        F::keep(1, "port", T::Int32),
        F::opt(2, "protocol", T::String),
        F::opt(3, "error", T::String),
    ],
};

static CORE_V1_PREFERRED_SCHEDULING_TERM: Message = Message {
    name: "io.k8s.api.core.v1.PreferredSchedulingTerm",
    fields: &[
        F::keep(1, "weight", T::Int32),
        F::opt(2, "preference", T::Message(&CORE_V1_NODE_SELECTOR_TERM)),
    ],
};

static CORE_V1_PROBE: Message = Message {
    name: "io.k8s.api.core.v1.Probe",
    fields: &[
        F::inline(1, "handler", &CORE_V1_PROBE_HANDLER),
        F::opt(2, "initialDelaySeconds", T::Int32),
        F::opt(3, "timeoutSeconds", T::Int32),
        F::opt(4, "periodSeconds", T::Int32),
        F::opt(5, "successThreshold", T::Int32),
        F::opt(6, "failureThreshold", T::Int32),
        F::keep(7, "terminationGracePeriodSeconds", T::Int64),
    ],
};

static CORE_V1_PROBE_HANDLER: Message = Message {
    name: "io.k8s.api.core.v1.ProbeHandler",
    fields: &[
        F::opt(1, "exec", T::Message(&CORE_V1_EXEC_ACTION)),
        F::opt(2, "httpGet", T::Message(&CORE_V1_HTTP_GET_ACTION)),
        F::opt(3, "tcpSocket", T::Message(&CORE_V1_TCP_SOCKET_ACTION)),
        F::opt(4, "grpc", T::Message(&CORE_V1_GRPC_ACTION)),
    ],
};

static CORE_V1_PROJECTED_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.ProjectedVolumeSource",
    fields: &[
        F::rep(1, "sources", T::Message(&CORE_V1_VOLUME_PROJECTION)),
        F::keep(2, "defaultMode", T::Int32),
    ],
};

static CORE_V1_QUOBYTE_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.QuobyteVolumeSource",
    fields: &[
        F::opt(1, "registry", T::String),
        F::opt(2, "volume", T::String),
        F::opt(3, "readOnly", T::Bool),
        F::opt(4, "user", T::String),
        F::opt(5, "group", T::String),
        F::opt(6, "tenant", T::String),
    ],
};

static CORE_V1_RBD_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.RBDVolumeSource",
    fields: &[
        F::rep(1, "monitors", T::String),
        F::opt(2, "image", T::String),
        F::opt(3, "fsType", T::String),
        F::opt(4, "pool", T::String),
        F::opt(5, "user", T::String),
        F::opt(6, "keyring", T::String),
        F::opt(7, "secretRef", T::Message(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        F::opt(8, "readOnly", T::Bool),
    ],
};

static CORE_V1_RESOURCE_CLAIM: Message = Message {
    name: "io.k8s.api.core.v1.ResourceClaim",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "request", T::String),
    ],
};

static CORE_V1_RESOURCE_FIELD_SELECTOR: Message = Message {
    name: "io.k8s.api.core.v1.ResourceFieldSelector",
    fields: &[
        F::opt(1, "containerName", T::String),
        F::opt(2, "resource", T::String),
        F::opt(3, "divisor", T::Quantity),
    ],
};

static CORE_V1_RESOURCE_HEALTH: Message = Message {
    name: "io.k8s.api.core.v1.ResourceHealth",
    fields: &[
        F::opt(1, "resourceID", T::String),
        F::opt(2, "health", T::String),
    ],
};

static CORE_V1_RESOURCE_REQUIREMENTS: Message = Message {
    name: "io.k8s.api.core.v1.ResourceRequirements",
    fields: &[
        F::opt(1, "limits", T::Map(&T::Quantity)),
        F::opt(2, "requests", T::Map(&T::Quantity)),
        F::rep(3, "claims", T::Message(&CORE_V1_RESOURCE_CLAIM)),
    ],
};

static CORE_V1_RESOURCE_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.ResourceStatus",
    fields: &[
        F::opt(1, "name", T::String),
        F::rep(2, "resources", T::Message(&CORE_V1_RESOURCE_HEALTH)),
    ],
};

static CORE_V1_SCALE_IO_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.ScaleIOVolumeSource",
    fields: &[
        F::opt(1, "gateway", T::String),
        F::opt(2, "system", T::String),
        F::opt(3, "secretRef", T::Message(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
        F::opt(4, "sslEnabled", T::Bool),
        F::opt(5, "protectionDomain", T::String),
        F::opt(6, "storagePool", T::String),
        F::opt(7, "storageMode", T::String),
        F::opt(8, "volumeName", T::String),
        F::opt(9, "fsType", T::String),
        F::opt(10, "readOnly", T::Bool),
    ],
};

static CORE_V1_SECCOMP_PROFILE: Message = Message {
    name: "io.k8s.api.core.v1.SeccompProfile",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "localhostProfile", T::String),
    ],
};

static CORE_V1_SECRET: Message = Message {
    name: "io.k8s.api.core.v1.Secret",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "data", T::Map(&T::Bytes)),
        F::opt(3, "type", T::String),
        F::opt(4, "stringData", T::Map(&T::String)),
        F::keep(5, "immutable", T::Bool),
    ],
};

static CORE_V1_SECRET_ENV_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.SecretEnvSource",
    fields: &[
        F::inline(1, "localObjectReference", &CORE_V1_LOCAL_OBJECT_REFERENCE),
        F::keep(2, "optional", T::Bool),
    ],
};

static CORE_V1_SECRET_KEY_SELECTOR: Message = Message {
    name: "io.k8s.api.core.v1.SecretKeySelector",
    fields: &[
        F::inline(1, "localObjectReference", &CORE_V1_LOCAL_OBJECT_REFERENCE),
        F::opt(2, "key", T::String),
        F::keep(3, "optional", T::Bool),
    ],
};

static CORE_V1_SECRET_PROJECTION: Message = Message {
    name: "io.k8s.api.core.v1.SecretProjection",
    fields: &[
        F::inline(1, "localObjectReference", &CORE_V1_LOCAL_OBJECT_REFERENCE),
        F::rep(2, "items", T::Message(&CORE_V1_KEY_TO_PATH)),
        F::keep(4, "optional", T::Bool),
    ],
};

static CORE_V1_SECRET_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.SecretVolumeSource",
    fields: &[
        F::opt(1, "secretName", T::String),
        F::rep(2, "items", T::Message(&CORE_V1_KEY_TO_PATH)),
        F::keep(3, "defaultMode", T::Int32),
        F::keep(4, "optional", T::Bool),
    ],
};

static CORE_V1_SECURITY_CONTEXT: Message = Message {
    name: "io.k8s.api.core.v1.SecurityContext",
    fields: &[
        F::opt(1, "capabilities", T::Message(&CORE_V1_CAPABILITIES)),
        F::keep(2, "privileged", T::Bool),
        F::opt(3, "seLinuxOptions", T::Message(&CORE_V1_SE_LINUX_OPTIONS)),
        F::keep(4, "runAsUser", T::Int64),
        F::keep(5, "runAsNonRoot", T::Bool),
        F::keep(6, "readOnlyRootFilesystem", T::Bool),
        F::keep(7, "allowPrivilegeEscalation", T::Bool),
        F::keep(8, "runAsGroup", T::Int64),
        F::opt(9, "procMount", T::String),
        F::opt(
            10,
            "windowsOptions",
            T::Message(&CORE_V1_WINDOWS_SECURITY_CONTEXT_OPTIONS),
        ),
        F::opt(11, "seccompProfile", T::Message(&CORE_V1_SECCOMP_PROFILE)),
        F::opt(
            12,
            "appArmorProfile",
            T::Message(&CORE_V1_APP_ARMOR_PROFILE),
        ),
    ],
};

static CORE_V1_SERVICE: Message = Message {
    name: "io.k8s.api.core.v1.Service",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&CORE_V1_SERVICE_SPEC)),
        F::opt(3, "status", T::Message(&CORE_V1_SERVICE_STATUS)),
    ],
};

static CORE_V1_SERVICE_ACCOUNT: Message = Message {
    name: "io.k8s.api.core.v1.ServiceAccount",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::rep(2, "secrets", T::Message(&CORE_V1_OBJECT_REFERENCE)),
        F::rep(
            3,
            "imagePullSecrets",
            T::Message(&CORE_V1_LOCAL_OBJECT_REFERENCE),
        ),
        F::keep(4, "automountServiceAccountToken", T::Bool),
    ],
};

static CORE_V1_SERVICE_ACCOUNT_TOKEN_PROJECTION: Message = Message {
    name: "io.k8s.api.core.v1.ServiceAccountTokenProjection",
    fields: &[
        F::opt(1, "audience", T::String),
        F::keep(2, "expirationSeconds", T::Int64),
        F::opt(3, "path", T::String),
    ],
};

static CORE_V1_SERVICE_PORT: Message = Message {
    name: "io.k8s.api.core.v1.ServicePort",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "protocol", T::String),
        F::keep(3, "port", T::Int32),
        F::opt(4, "targetPort", T::IntOrString),
        F::opt(5, "nodePort", T::Int32),
        F::opt(6, "appProtocol", T::String),
    ],
};

static CORE_V1_SERVICE_SPEC: Message = Message {
    name: "io.k8s.api.core.v1.ServiceSpec",
    fields: &[
        F::rep(1, "ports", T::Message(&CORE_V1_SERVICE_PORT)),
        F::opt(2, "selector", T::Map(&T::String)),
        F::opt(3, "clusterIP", T::String),
        F::opt(4, "type", T::String),
        F::rep(5, "externalIPs", T::String),
        F::opt(7, "sessionAffinity", T::String),
        F::opt(8, "loadBalancerIP", T::String),
        F::rep(9, "loadBalancerSourceRanges", T::String),
        F::opt(10, "externalName", T::String),
        F::opt(11, "externalTrafficPolicy", T::String),
        F::opt(12, "healthCheckNodePort", T::Int32),
        F::opt(13, "publishNotReadyAddresses", T::Bool),
        F::opt(
            14,
            "sessionAffinityConfig",
            T::Message(&CORE_V1_SESSION_AFFINITY_CONFIG),
        ),
        F::opt(17, "ipFamilyPolicy", T::String),
        F::rep(18, "clusterIPs", T::String),
        F::rep(19, "ipFamilies", T::String),
        F::keep(20, "allocateLoadBalancerNodePorts", T::Bool),
        F::opt(21, "loadBalancerClass", T::String),
        F::opt(22, "internalTrafficPolicy", T::String),
        F::opt(23, "trafficDistribution", T::String),
    ],
};

static CORE_V1_SERVICE_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.ServiceStatus",
    fields: &[
        F::opt(1, "loadBalancer", T::Message(&CORE_V1_LOAD_BALANCER_STATUS)),
        F::rep(2, "conditions", T::Message(&META_V1_CONDITION)),
    ],
};

static CORE_V1_SESSION_AFFINITY_CONFIG: Message = Message {
    name: "io.k8s.api.core.v1.SessionAffinityConfig",
    fields: &[F::opt(1, "clientIP", T::Message(&CORE_V1_CLIENT_IP_CONFIG))],
};

static CORE_V1_SE_LINUX_OPTIONS: Message = Message {
    name: "io.k8s.api.core.v1.SELinuxOptions",
    fields: &[
        F::opt(1, "user", T::String),
        F::opt(2, "role", T::String),
        F::opt(3, "type", T::String),
        F::opt(4, "level", T::String),
    ],
};

static CORE_V1_SLEEP_ACTION: Message = Message {
    name: "io.k8s.api.core.v1.SleepAction",
    fields: &[F::keep(1, "seconds", T::Int64)],
};

static CORE_V1_STORAGE_OS_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.StorageOSVolumeSource",
    fields: &[
        F::opt(1, "volumeName", T::String),
        F::opt(2, "volumeNamespace", T::String),
        F::opt(3, "fsType", T::String),
        F::opt(4, "readOnly", T::Bool),
        F::opt(5, "secretRef", T::Message(&CORE_V1_LOCAL_OBJECT_REFERENCE)),
    ],
};

static CORE_V1_SYSCTL: Message = Message {
    name: "io.k8s.api.core.v1.Sysctl",
    fields: &[F::opt(1, "name", T::String), F::opt(2, "value", T::String)],
};

static CORE_V1_TAINT: Message = Message {
    name: "io.k8s.api.core.v1.Taint",
    fields: &[
        F::opt(1, "key", T::String),
        F::opt(2, "value", T::String),
        F::opt(3, "effect", T::String),
        F::opt(4, "timeAdded", T::Time),
    ],
};

static CORE_V1_TCP_SOCKET_ACTION: Message = Message {
    name: "io.k8s.api.core.v1.TCPSocketAction",
    fields: &[
        F::opt(1, "port", T::IntOrString),
        F::opt(2, "host", T::String),
    ],
};

static CORE_V1_TOLERATION: Message = Message {
    name: "io.k8s.api.core.v1.Toleration",
    fields: &[
        F::opt(1, "key", T::String),
        F::opt(2, "operator", T::String),
        F::opt(3, "value", T::String),
        F::opt(4, "effect", T::String),
        F::keep(5, "tolerationSeconds", T::Int64),
    ],
};

static CORE_V1_TOPOLOGY_SPREAD_CONSTRAINT: Message = Message {
    name: "io.k8s.api.core.v1.TopologySpreadConstraint",
    fields: &[
        F::keep(1, "maxSkew", T::Int32),
        F::opt(2, "topologyKey", T::String),
        F::opt(3, "whenUnsatisfiable", T::String),
        F::opt(4, "labelSelector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::keep(5, "minDomains", T::Int32),
        F::opt(6, "nodeAffinityPolicy", T::String),
        F::opt(7, "nodeTaintsPolicy", T::String),
        F::rep(8, "matchLabelKeys", T::String),
    ],
};

static CORE_V1_TYPED_LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "io.k8s.api.core.v1.TypedLocalObjectReference",
    fields: &[
        F::opt(1, "apiGroup", T::String),
        F::opt(2, "kind", T::String),
        F::opt(3, "name", T::String),
    ],
};

static CORE_V1_TYPED_OBJECT_REFERENCE: Message = Message {
    name: "io.k8s.api.core.v1.TypedObjectReference",
    fields: &[
        F::opt(1, "apiGroup", T::String),
        F::opt(2, "kind", T::String),
        F::opt(3, "name", T::String),
        F::opt(4, "namespace", T::String),
    ],
};

static CORE_V1_VOLUME: Message = Message {
    name: "io.k8s.api.core.v1.Volume",
    fields: &[
        F::opt(1, "name", T::String),
        F::inline(2, "volumeSource", &CORE_V1_VOLUME_SOURCE),
    ],
};

static CORE_V1_VOLUME_DEVICE: Message = Message {
    name: "io.k8s.api.core.v1.VolumeDevice",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "devicePath", T::String),
    ],
};

static CORE_V1_VOLUME_MOUNT: Message = Message {
    name: "io.k8s.api.core.v1.VolumeMount",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "readOnly", T::Bool),
        F::opt(3, "mountPath", T::String),
        F::opt(4, "subPath", T::String),
        F::opt(5, "mountPropagation", T::String),
        F::opt(6, "subPathExpr", T::String),
        F::opt(7, "recursiveReadOnly", T::String),
    ],
};

static CORE_V1_VOLUME_MOUNT_STATUS: Message = Message {
    name: "io.k8s.api.core.v1.VolumeMountStatus",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "mountPath", T::String),
        F::opt(3, "readOnly", T::Bool),
        F::opt(4, "recursiveReadOnly", T::String),
    ],
};

static CORE_V1_VOLUME_PROJECTION: Message = Message {
    name: "io.k8s.api.core.v1.VolumeProjection",
    fields: &[
        F::opt(1, "secret", T::Message(&CORE_V1_SECRET_PROJECTION)),
        F::opt(
            2,
            "downwardAPI",
            T::Message(&CORE_V1_DOWNWARD_API_PROJECTION),
        ),
        F::opt(3, "configMap", T::Message(&CORE_V1_CONFIG_MAP_PROJECTION)),
        F::opt(
            4,
            "serviceAccountToken",
            T::Message(&CORE_V1_SERVICE_ACCOUNT_TOKEN_PROJECTION),
        ),
        F::opt(
            5,
            "clusterTrustBundle",
            T::Message(&CORE_V1_CLUSTER_TRUST_BUNDLE_PROJECTION),
        ),
    ],
};

static CORE_V1_VOLUME_RESOURCE_REQUIREMENTS: Message = Message {
    name: "io.k8s.api.core.v1.VolumeResourceRequirements",
    fields: &[
        F::opt(1, "limits", T::Map(&T::Quantity)),
        F::opt(2, "requests", T::Map(&T::Quantity)),
    ],
};

static CORE_V1_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.VolumeSource",
    fields: &[
        F::opt(1, "hostPath", T::Message(&CORE_V1_HOST_PATH_VOLUME_SOURCE)),
        F::opt(2, "emptyDir", T::Message(&CORE_V1_EMPTY_DIR_VOLUME_SOURCE)),
        F::opt(
            3,
            "gcePersistentDisk",
            T::Message(&CORE_V1_GCE_PERSISTENT_DISK_VOLUME_SOURCE),
        ),
        F::opt(
            4,
            "awsElasticBlockStore",
            T::Message(&CORE_V1_AWS_ELASTIC_BLOCK_STORE_VOLUME_SOURCE),
        ),
        F::opt(5, "gitRepo", T::Message(&CORE_V1_GIT_REPO_VOLUME_SOURCE)),
        F::opt(6, "secret", T::Message(&CORE_V1_SECRET_VOLUME_SOURCE)),
        F::opt(7, "nfs", T::Message(&CORE_V1_NFS_VOLUME_SOURCE)),
        F::opt(8, "iscsi", T::Message(&CORE_V1_ISCSI_VOLUME_SOURCE)),
        F::opt(9, "glusterfs", T::Message(&CORE_V1_GLUSTERFS_VOLUME_SOURCE)),
        F::opt(
            10,
            "persistentVolumeClaim",
            T::Message(&CORE_V1_PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE),
        ),
        F::opt(11, "rbd", T::Message(&CORE_V1_RBD_VOLUME_SOURCE)),
        F::opt(12, "flexVolume", T::Message(&CORE_V1_FLEX_VOLUME_SOURCE)),
        F::opt(13, "cinder", T::Message(&CORE_V1_CINDER_VOLUME_SOURCE)),
        F::opt(14, "cephfs", T::Message(&CORE_V1_CEPH_FS_VOLUME_SOURCE)),
        F::opt(15, "flocker", T::Message(&CORE_V1_FLOCKER_VOLUME_SOURCE)),
        F::opt(
            16,
            "downwardAPI",
            T::Message(&CORE_V1_DOWNWARD_API_VOLUME_SOURCE),
        ),
        F::opt(17, "fc", T::Message(&CORE_V1_FC_VOLUME_SOURCE)),
        F::opt(
            18,
            "azureFile",
            T::Message(&CORE_V1_AZURE_FILE_VOLUME_SOURCE),
        ),
        F::opt(
            19,
            "configMap",
            T::Message(&CORE_V1_CONFIG_MAP_VOLUME_SOURCE),
        ),
        F::opt(
            20,
            "vsphereVolume",
            T::Message(&CORE_V1_VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE),
        ),
        F::opt(21, "quobyte", T::Message(&CORE_V1_QUOBYTE_VOLUME_SOURCE)),
        F::opt(
            22,
            "azureDisk",
            T::Message(&CORE_V1_AZURE_DISK_VOLUME_SOURCE),
        ),
        F::opt(
            23,
            "photonPersistentDisk",
            T::Message(&CORE_V1_PHOTON_PERSISTENT_DISK_VOLUME_SOURCE),
        ),
        F::opt(
            24,
            "portworxVolume",
            T::Message(&CORE_V1_PORTWORX_VOLUME_SOURCE),
        ),
        F::opt(25, "scaleIO", T::Message(&CORE_V1_SCALE_IO_VOLUME_SOURCE)),
        F::opt(
            26,
            "projected",
            T::Message(&CORE_V1_PROJECTED_VOLUME_SOURCE),
        ),
        F::opt(
            27,
            "storageos",
            T::Message(&CORE_V1_STORAGE_OS_VOLUME_SOURCE),
        ),
        F::opt(28, "csi", T::Message(&CORE_V1_CSI_VOLUME_SOURCE)),
        F::opt(
            29,
            "ephemeral",
            T::Message(&CORE_V1_EPHEMERAL_VOLUME_SOURCE),
        ),
        F::opt(30, "image", T::Message(&CORE_V1_IMAGE_VOLUME_SOURCE)),
    ],
};

static CORE_V1_VSPHERE_VIRTUAL_DISK_VOLUME_SOURCE: Message = Message {
    name: "io.k8s.api.core.v1.VsphereVirtualDiskVolumeSource",
    fields: &[
        F::opt(1, "volumePath", T::String),
        F::opt(2, "fsType", T::String),
        F::opt(3, "storagePolicyName", T::String),
        F::opt(4, "storagePolicyID", T::String),
    ],
};

static CORE_V1_WEIGHTED_POD_AFFINITY_TERM: Message = Message {
    name: "io.k8s.api.core.v1.WeightedPodAffinityTerm",
    fields: &[
        F::keep(1, "weight", T::Int32),
        F::opt(2, "podAffinityTerm", T::Message(&CORE_V1_POD_AFFINITY_TERM)),
    ],
};

static CORE_V1_WINDOWS_SECURITY_CONTEXT_OPTIONS: Message = Message {
    name: "io.k8s.api.core.v1.WindowsSecurityContextOptions",
    fields: &[
        F::opt(1, "gmsaCredentialSpecName", T::String),
        F::opt(2, "gmsaCredentialSpec", T::String),
        F::opt(3, "runAsUserName", T::String),
        F::keep(4, "hostProcess", T::Bool),
    ],
};

static DISCOVERY_V1_ENDPOINT: Message = Message {
    name: "io.k8s.api.discovery.v1.Endpoint",
    fields: &[
        F::rep(1, "addresses", T::String),
        F::opt(
            2,
            "conditions",
            T::Message(&DISCOVERY_V1_ENDPOINT_CONDITIONS),
        ),
        F::opt(3, "hostname", T::String),
        F::opt(4, "targetRef", T::Message(&CORE_V1_OBJECT_REFERENCE)),
        F::opt(5, "deprecatedTopology", T::Map(&T::String)),
        F::opt(6, "nodeName", T::String),
        F::opt(7, "zone", T::String),
        F::opt(8, "hints", T::Message(&DISCOVERY_V1_ENDPOINT_HINTS)),
    ],
};

static DISCOVERY_V1_ENDPOINT_CONDITIONS: Message = Message {
    name: "io.k8s.api.discovery.v1.EndpointConditions",
    fields: &[
        F::keep(1, "ready", T::Bool),
        F::keep(2, "serving", T::Bool),
        F::keep(3, "terminating", T::Bool),
    ],
};

static DISCOVERY_V1_ENDPOINT_HINTS: Message = Message {
    name: "io.k8s.api.discovery.v1.EndpointHints",
    fields: &[
        F::rep(1, "forZones", T::Message(&DISCOVERY_V1_FOR_ZONE)),
        F::rep(2, "forNodes", T::Message(&DISCOVERY_V1_FOR_NODE)),
    ],
};

static DISCOVERY_V1_ENDPOINT_PORT: Message = Message {
    name: "io.k8s.api.discovery.v1.EndpointPort",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "protocol", T::String),
        F::keep(3, "port", T::Int32),
        F::opt(4, "appProtocol", T::String),
    ],
};

static DISCOVERY_V1_ENDPOINT_SLICE: Message = Message {
    name: "io.k8s.api.discovery.v1.EndpointSlice",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::rep(2, "endpoints", T::Message(&DISCOVERY_V1_ENDPOINT)),
        F::rep(3, "ports", T::Message(&DISCOVERY_V1_ENDPOINT_PORT)),
        F::opt(4, "addressType", T::String),
    ],
};

static DISCOVERY_V1_FOR_NODE: Message = Message {
    name: "io.k8s.api.discovery.v1.ForNode",
    fields: &[F::opt(1, "name", T::String)],
};

static DISCOVERY_V1_FOR_ZONE: Message = Message {
    name: "io.k8s.api.discovery.v1.ForZone",
    fields: &[F::opt(1, "name", T::String)],
};

static META_V1_CONDITION: Message = Message {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.Condition",
    fields: &[
        F::opt(1, "type", T::String),
        F::opt(2, "status", T::String),
        F::opt(3, "observedGeneration", T::Int64),
        F::opt(4, "lastTransitionTime", T::Time),
        F::opt(5, "reason", T::String),
        F::opt(6, "message", T::String),
    ],
};

static META_V1_DELETE_OPTIONS: Message = Message {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    fields: &[
        F::keep(1, "gracePeriodSeconds", T::Int64),
        F::opt(2, "preconditions", T::Message(&META_V1_PRECONDITIONS)),
        F::keep(3, "orphanDependents", T::Bool),
        F::opt(4, "propagationPolicy", T::String),
        F::rep(5, "dryRun", T::String),
        F::keep(
            6,
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            T::Bool,
        ),
    ],
};

static META_V1_LABEL_SELECTOR: Message = Message {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    fields: &[
        F::opt(1, "matchLabels", T::Map(&T::String)),
        F::rep(
            2,
            "matchExpressions",
            T::Message(&META_V1_LABEL_SELECTOR_REQUIREMENT),
        ),
    ],
};

static META_V1_LABEL_SELECTOR_REQUIREMENT: Message = Message {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement",
    fields: &[
        F::opt(1, "key", T::String),
        F::opt(2, "operator", T::String),
        F::rep(3, "values", T::String),
    ],
};

static META_V1_MANAGED_FIELDS_ENTRY: Message = Message {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry",
    fields: &[
        F::opt(1, "manager", T::String),
        F::opt(2, "operation", T::String),
        F::opt(3, "apiVersion", T::String),
        F::opt(4, "time", T::Time),
        F::opt(6, "fieldsType", T::String),
        F::opt(7, "fieldsV1", T::RawJson),
        F::opt(8, "subresource", T::String),
    ],
};

static META_V1_OBJECT_META: Message = Message {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "generateName", T::String),
        F::opt(3, "namespace", T::String),
        F::opt(4, "selfLink", T::String),
        F::opt(5, "uid", T::String),
        F::opt(6, "resourceVersion", T::String),
        F::opt(7, "generation", T::Int64),
        F::opt(8, "creationTimestamp", T::Time),
        F::opt(9, "deletionTimestamp", T::Time),
        F::keep(10, "deletionGracePeriodSeconds", T::Int64),
        F::opt(11, "labels", T::Map(&T::String)),
        F::opt(12, "annotations", T::Map(&T::String)),
        F::rep(13, "ownerReferences", T::Message(&META_V1_OWNER_REFERENCE)),
        F::rep(14, "finalizers", T::String),
        F::rep(
            17,
            "managedFields",
            T::Message(&META_V1_MANAGED_FIELDS_ENTRY),
        ),
    ],
};

static META_V1_OWNER_REFERENCE: Message = Message {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
    fields: &[
        F::opt(1, "kind", T::String),
        F::opt(3, "name", T::String),
        F::opt(4, "uid", T::String),
        F::opt(5, "apiVersion", T::String),
        F::keep(6, "controller", T::Bool),
        F::keep(7, "blockOwnerDeletion", T::Bool),
    ],
};

static META_V1_PRECONDITIONS: Message = Message {
    name: "io.k8s.apimachinery.pkg.apis.meta.v1.Preconditions",
    fields: &[
        F::opt(1, "uid", T::String),
        F::opt(2, "resourceVersion", T::String),
    ],
};

static NETWORKING_V1_HTTP_INGRESS_PATH: Message = Message {
    name: "io.k8s.api.networking.v1.HTTPIngressPath",
    fields: &[
        F::opt(1, "path", T::String),
        F::opt(2, "backend", T::Message(&NETWORKING_V1_INGRESS_BACKEND)),
        F::opt(3, "pathType", T::String),
    ],
};

static NETWORKING_V1_HTTP_INGRESS_RULE_VALUE: Message = Message {
    name: "io.k8s.api.networking.v1.HTTPIngressRuleValue",
    fields: &[F::rep(
        1,
        "paths",
        T::Message(&NETWORKING_V1_HTTP_INGRESS_PATH),
    )],
};

static NETWORKING_V1_INGRESS: Message = Message {
    name: "io.k8s.api.networking.v1.Ingress",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&NETWORKING_V1_INGRESS_SPEC)),
        F::opt(3, "status", T::Message(&NETWORKING_V1_INGRESS_STATUS)),
    ],
};

static NETWORKING_V1_INGRESS_BACKEND: Message = Message {
    name: "io.k8s.api.networking.v1.IngressBackend",
    fields: &[
        F::opt(
            3,
            "resource",
            T::Message(&CORE_V1_TYPED_LOCAL_OBJECT_REFERENCE),
        ),
        F::opt(
            4,
            "service",
            T::Message(&NETWORKING_V1_INGRESS_SERVICE_BACKEND),
        ),
    ],
};

static NETWORKING_V1_INGRESS_CLASS: Message = Message {
    name: "io.k8s.api.networking.v1.IngressClass",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&NETWORKING_V1_INGRESS_CLASS_SPEC)),
    ],
};

static NETWORKING_V1_INGRESS_CLASS_PARAMETERS_REFERENCE: Message = Message {
    name: "io.k8s.api.networking.v1.IngressClassParametersReference",
    fields: &[
        F::opt(1, "apiGroup", T::String),
        F::opt(2, "kind", T::String),
        F::opt(3, "name", T::String),
        F::opt(4, "scope", T::String),
        F::opt(5, "namespace", T::String),
    ],
};

static NETWORKING_V1_INGRESS_CLASS_SPEC: Message = Message {
    name: "io.k8s.api.networking.v1.IngressClassSpec",
    fields: &[
        F::opt(1, "controller", T::String),
        F::opt(
            2,
            "parameters",
            T::Message(&NETWORKING_V1_INGRESS_CLASS_PARAMETERS_REFERENCE),
        ),
    ],
};

static NETWORKING_V1_INGRESS_LOAD_BALANCER_INGRESS: Message = Message {
    name: "io.k8s.api.networking.v1.IngressLoadBalancerIngress",
    fields: &[
        F::opt(1, "ip", T::String),
        F::opt(2, "hostname", T::String),
        F::rep(4, "ports", T::Message(&NETWORKING_V1_INGRESS_PORT_STATUS)),
    ],
};

static NETWORKING_V1_INGRESS_LOAD_BALANCER_STATUS: Message = Message {
    name: "io.k8s.api.networking.v1.IngressLoadBalancerStatus",
    fields: &[F::rep(
        1,
        "ingress",
        T::Message(&NETWORKING_V1_INGRESS_LOAD_BALANCER_INGRESS),
    )],
};

static NETWORKING_V1_INGRESS_PORT_STATUS: Message = Message {
    name: "io.k8s.api.networking.v1.IngressPortStatus",
    fields: &[
        F::keep(1, "port", T::Int32),
        F::opt(2, "protocol", T::String),
        F::opt(3, "error", T::String),
    ],
};

static NETWORKING_V1_INGRESS_RULE: Message = Message {
    name: "io.k8s.api.networking.v1.IngressRule",
    fields: &[
        F::opt(1, "host", T::String),
        F::inline(2, "ingressRuleValue", &NETWORKING_V1_INGRESS_RULE_VALUE),
    ],
};

static NETWORKING_V1_INGRESS_RULE_VALUE: Message = Message {
    name: "io.k8s.api.networking.v1.IngressRuleValue",
    fields: &[F::opt(
        1,
        "http",
        T::Message(&NETWORKING_V1_HTTP_INGRESS_RULE_VALUE),
    )],
};

static NETWORKING_V1_INGRESS_SERVICE_BACKEND: Message = Message {
    name: "io.k8s.api.networking.v1.IngressServiceBackend",
    fields: &[
        F::opt(1, "name", T::String),
        F::opt(2, "port", T::Message(&NETWORKING_V1_SERVICE_BACKEND_PORT)),
    ],
};

static NETWORKING_V1_INGRESS_SPEC: Message = Message {
    name: "io.k8s.api.networking.v1.IngressSpec",
    fields: &[
        F::opt(
            1,
            "defaultBackend",
            T::Message(&NETWORKING_V1_INGRESS_BACKEND),
        ),
        F::rep(2, "tls", T::Message(&NETWORKING_V1_INGRESS_TLS)),
        F::rep(3, "rules", T::Message(&NETWORKING_V1_INGRESS_RULE)),
        F::opt(4, "ingressClassName", T::String),
    ],
};

static NETWORKING_V1_INGRESS_STATUS: Message = Message {
    name: "io.k8s.api.networking.v1.IngressStatus",
    fields: &[F::opt(
        1,
        "loadBalancer",
        T::Message(&NETWORKING_V1_INGRESS_LOAD_BALANCER_STATUS),
    )],
};

static NETWORKING_V1_INGRESS_TLS: Message = Message {
    name: "io.k8s.api.networking.v1.IngressTLS",
    fields: &[
        F::rep(1, "hosts", T::String),
        F::opt(2, "secretName", T::String),
    ],
};

static NETWORKING_V1_IP_BLOCK: Message = Message {
    name: "io.k8s.api.networking.v1.IPBlock",
    fields: &[F::opt(1, "cidr", T::String), F::rep(2, "except", T::String)],
};

static NETWORKING_V1_NETWORK_POLICY: Message = Message {
    name: "io.k8s.api.networking.v1.NetworkPolicy",
    fields: &[
        F::opt(1, "metadata", T::Message(&META_V1_OBJECT_META)),
        F::opt(2, "spec", T::Message(&NETWORKING_V1_NETWORK_POLICY_SPEC)),
    ],
};

static NETWORKING_V1_NETWORK_POLICY_EGRESS_RULE: Message = Message {
    name: "io.k8s.api.networking.v1.NetworkPolicyEgressRule",
    fields: &[
        F::rep(1, "ports", T::Message(&NETWORKING_V1_NETWORK_POLICY_PORT)),
        F::rep(2, "to", T::Message(&NETWORKING_V1_NETWORK_POLICY_PEER)),
    ],
};

static NETWORKING_V1_NETWORK_POLICY_INGRESS_RULE: Message = Message {
    name: "io.k8s.api.networking.v1.NetworkPolicyIngressRule",
    fields: &[
        F::rep(1, "ports", T::Message(&NETWORKING_V1_NETWORK_POLICY_PORT)),
        F::rep(2, "from", T::Message(&NETWORKING_V1_NETWORK_POLICY_PEER)),
    ],
};

static NETWORKING_V1_NETWORK_POLICY_PEER: Message = Message {
    name: "io.k8s.api.networking.v1.NetworkPolicyPeer",
    fields: &[
        F::opt(1, "podSelector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::opt(2, "namespaceSelector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::opt(3, "ipBlock", T::Message(&NETWORKING_V1_IP_BLOCK)),
    ],
};

static NETWORKING_V1_NETWORK_POLICY_PORT: Message = Message {
    name: "io.k8s.api.networking.v1.NetworkPolicyPort",
    fields: &[
        F::opt(1, "protocol", T::String),
        F::opt(2, "port", T::IntOrString),
        F::keep(3, "endPort", T::Int32),
    ],
};

static NETWORKING_V1_NETWORK_POLICY_SPEC: Message = Message {
    name: "io.k8s.api.networking.v1.NetworkPolicySpec",
    fields: &[
        F::opt(1, "podSelector", T::Message(&META_V1_LABEL_SELECTOR)),
        F::rep(
            2,
            "ingress",
            T::Message(&NETWORKING_V1_NETWORK_POLICY_INGRESS_RULE),
        ),
        F::rep(
            3,
            "egress",
            T::Message(&NETWORKING_V1_NETWORK_POLICY_EGRESS_RULE),
        ),
        F::rep(4, "policyTypes", T::String),
    ],
};

static NETWORKING_V1_SERVICE_BACKEND_PORT: Message = Message {
    name: "io.k8s.api.networking.v1.ServiceBackendPort",
    fields: &[F::opt(1, "name", T::String), F::opt(2, "number", T::Int32)],
};

//! The objects the benchmark writes: namespaces and realistic pods.

use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

/// Pods are spread round-robin over this many namespaces.
pub const NAMESPACES: usize = 4;
/// The annotation a watch-phase write sets to its sequence number, so a
/// watcher can tell which write an event comes from.
pub const WRITE_ANNOTATION: &str = "apiserver-bench.podnet.dev/write";

pub fn namespace_name(index: usize) -> String {
    format!("apiserver-bench-{index}")
}

pub fn namespace_of(pod_index: usize) -> String {
    namespace_name(pod_index % NAMESPACES)
}

pub fn pod_name(pod_index: usize) -> String {
    format!("web-{pod_index:05}")
}

/// A pod like one of a Deployment's (its labels, one container with ports,
/// env, resources, probes and a config volume), about 1.5 KB of JSON before the server adds
/// its defaults. It has no owner reference: the server's garbage collector
/// would delete pods whose owner does not exist.
pub fn pod(pod_index: usize) -> Pod {
    let manifest = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(pod_index),
            "namespace": namespace_of(pod_index),
            "labels": {
                "app.kubernetes.io/name": "web",
                "app.kubernetes.io/component": "frontend",
                "app.kubernetes.io/version": "1.4.2",
                "pod-template-hash": "7d9c8b6f5d",
            },
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": "9090",
            },
        },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "registry.example.com/shop/web:1.4.2",
                "args": ["--config=/etc/web/config.yaml", "--log-level=info"],
                "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                ],
                "env": [
                    {"name": "LOG_FORMAT", "value": "json"},
                    {"name": "CACHE_SIZE_MB", "value": "256"},
                    {"name": "UPSTREAM_URL", "value": "http://catalog.shop.svc.cluster.local:8080"},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                ],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "256Mi"},
                },
                "readinessProbe": {
                    "httpGet": {"path": "/healthz/ready", "port": "http"},
                    "initialDelaySeconds": 5,
                    "periodSeconds": 10,
                },
                "livenessProbe": {
                    "httpGet": {"path": "/healthz/live", "port": "http"},
                    "initialDelaySeconds": 15,
                    "periodSeconds": 20,
                    "failureThreshold": 3,
                },
                "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": true}],
                "imagePullPolicy": "IfNotPresent",
            }],
            "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "serviceAccountName": "default",
        },
    });
    serde_json::from_value(manifest).expect("the pod manifest matches the Pod type")
}

/// Length of `pod` as kube-rs sends it.
pub fn sent_size(pod: &Pod) -> usize {
    serde_json::to_vec(pod).expect("a Pod serializes").len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_is_about_one_and_a_half_kilobytes_as_sent() {
        let size = sent_size(&pod(12345));
        assert!((1200..=1800).contains(&size), "{size} bytes");
    }

    #[test]
    fn pods_are_spread_round_robin_over_the_namespaces_with_unique_names() {
        let placed: Vec<(String, String)> =
            (0..8).map(|i| (namespace_of(i), pod_name(i))).collect();
        assert_eq!(placed[0].0, "apiserver-bench-0");
        assert_eq!(placed[5].0, "apiserver-bench-1");
        let pod = pod(5);
        assert_eq!(pod.metadata.namespace.as_deref(), Some("apiserver-bench-1"));
        assert_eq!(pod.metadata.name.as_deref(), Some("web-00005"));
    }
}

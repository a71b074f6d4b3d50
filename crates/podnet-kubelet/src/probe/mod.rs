//! Startup, liveness and readiness probes as Kubernetes defines them.
//!
//! [`ProbeSpec`] is a container's probe with Kubernetes' defaults applied
//! and its port resolved; [`ProbeTracker`] is the pure state machine that
//! decides when a probe runs and what its published result is (tested with
//! made-up instants); [`run`] performs one probe: `httpGet` and `tcpSocket`
//! from the agent's network namespace (the node's, from which pod IPs are
//! reachable), `exec` inside the pod through the runtime.

mod http;
mod run;
mod state;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub use run::{run, ProbeTarget};
pub use state::{ProbeResult, ProbeTracker};

/// The three kinds of probes, named as Kubernetes' events name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }

    /// What the kubelet says when this probe makes it restart a container.
    pub fn lowercase(self) -> &'static str {
        match self {
            ProbeKind::Startup => "startup",
            ProbeKind::Liveness => "liveness",
            ProbeKind::Readiness => "readiness",
        }
    }
}

/// What a probe does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAction {
    HttpGet {
        /// The host to connect to; the pod IP when unset.
        host: Option<String>,
        port: u16,
        path: String,
        headers: Vec<(String, String)>,
    },
    TcpSocket {
        host: Option<String>,
        port: u16,
    },
    Exec {
        command: Vec<String>,
    },
}

/// A probe with Kubernetes' defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    pub action: ProbeAction,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
    /// The probe's own terminationGracePeriodSeconds, used when it kills.
    pub termination_grace: Option<Duration>,
}

/// What one probe run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    Success,
    /// Counted as a success, with something to tell (a redirect not followed).
    Warning(String),
    Failure(String),
}

impl ProbeOutcome {
    pub fn is_success(&self) -> bool {
        !matches!(self, ProbeOutcome::Failure(_))
    }
}

/// Why a probe cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeConfigError {
    #[error("{kind} probe of container {container:?}: gRPC probes are not supported by podnet")]
    Grpc {
        kind: &'static str,
        container: String,
    },
    #[error("{kind} probe of container {container:?}: HTTPS probes are not supported by podnet")]
    Https {
        kind: &'static str,
        container: String,
    },
    #[error(
        "{kind} probe of container {container:?}: no handler (exec, httpGet or tcpSocket) given"
    )]
    NoHandler {
        kind: &'static str,
        container: String,
    },
    #[error("{kind} probe of container {container:?}: port {port:?} is neither a number nor the name of a container port")]
    Port {
        kind: &'static str,
        container: String,
        port: String,
    },
}

/// The container's probe of `kind`, if it has one.
pub fn probe_of(container: &Container, kind: ProbeKind) -> Option<&Probe> {
    match kind {
        ProbeKind::Startup => container.startup_probe.as_ref(),
        ProbeKind::Liveness => container.liveness_probe.as_ref(),
        ProbeKind::Readiness => container.readiness_probe.as_ref(),
    }
}

fn seconds(value: Option<i32>, default: u64) -> Duration {
    Duration::from_secs(value.map(|v| v.max(0) as u64).unwrap_or(default))
}

fn count(value: Option<i32>, default: u32) -> u32 {
    value.map(|v| v.max(1) as u32).unwrap_or(default)
}

/// `probe` of `container` with Kubernetes' defaults: no initial delay, every
/// 10 s, 1 s timeout, 1 success, 3 failures.
pub fn probe_spec(
    probe: &Probe,
    container: &Container,
    kind: ProbeKind,
) -> Result<ProbeSpec, ProbeConfigError> {
    let name = container.name.clone();
    let kind_name = kind.as_str();
    let action = if let Some(exec) = &probe.exec {
        ProbeAction::Exec {
            command: exec.command.clone().unwrap_or_default(),
        }
    } else if let Some(get) = &probe.http_get {
        if get
            .scheme
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("HTTPS"))
        {
            return Err(ProbeConfigError::Https {
                kind: kind_name,
                container: name,
            });
        }
        let path = get.path.clone().unwrap_or_default();
        ProbeAction::HttpGet {
            host: get.host.clone().filter(|h| !h.is_empty()),
            port: resolve_port(&get.port, container, kind_name)?,
            path: if path.starts_with('/') {
                path
            } else {
                format!("/{path}")
            },
            headers: get
                .http_headers
                .iter()
                .flatten()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        }
    } else if let Some(tcp) = &probe.tcp_socket {
        ProbeAction::TcpSocket {
            host: tcp.host.clone().filter(|h| !h.is_empty()),
            port: resolve_port(&tcp.port, container, kind_name)?,
        }
    } else if probe.grpc.is_some() {
        return Err(ProbeConfigError::Grpc {
            kind: kind_name,
            container: name,
        });
    } else {
        return Err(ProbeConfigError::NoHandler {
            kind: kind_name,
            container: name,
        });
    };
    Ok(ProbeSpec {
        action,
        initial_delay: seconds(probe.initial_delay_seconds, 0),
        period: seconds(probe.period_seconds, 10).max(Duration::from_secs(1)),
        timeout: seconds(probe.timeout_seconds, 1).max(Duration::from_secs(1)),
        success_threshold: count(probe.success_threshold, 1),
        failure_threshold: count(probe.failure_threshold, 3),
        termination_grace: probe
            .termination_grace_period_seconds
            .map(|s| Duration::from_secs(s.max(0) as u64)),
    })
}

/// A probe's port: a number, the name of one of the container's ports, or a number written as a string.
fn resolve_port(
    port: &IntOrString,
    container: &Container,
    kind: &'static str,
) -> Result<u16, ProbeConfigError> {
    let invalid = |text: String| ProbeConfigError::Port {
        kind,
        container: container.name.clone(),
        port: text,
    };
    match port {
        IntOrString::Int(n) => u16::try_from(*n)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| invalid(n.to_string())),
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .or_else(|| name.parse::<u16>().ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| invalid(name.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(probe: serde_json::Value) -> Container {
        serde_json::from_value(json!({"name": "app",
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": probe}))
        .expect("container")
    }

    fn spec_of(probe: serde_json::Value) -> Result<ProbeSpec, ProbeConfigError> {
        let c = container(probe);
        let probe = c.readiness_probe.clone().expect("probe");
        probe_spec(&probe, &c, ProbeKind::Readiness)
    }

    #[test]
    fn defaults_are_kubernetes_defaults() {
        let spec = spec_of(json!({"tcpSocket": {"port": 80}})).unwrap();
        assert_eq!(spec.initial_delay, Duration::ZERO);
        assert_eq!(spec.period, Duration::from_secs(10));
        assert_eq!(spec.timeout, Duration::from_secs(1));
        assert_eq!(spec.success_threshold, 1);
        assert_eq!(spec.failure_threshold, 3);
        assert_eq!(
            spec.action,
            ProbeAction::TcpSocket {
                host: None,
                port: 80
            }
        );
    }

    #[test]
    fn named_ports_resolve_through_the_containers_ports() {
        let spec = spec_of(json!({"httpGet": {"port": "http", "path": "healthz",
            "httpHeaders": [{"name": "X-A", "value": "1"}]}, "periodSeconds": 2}))
        .unwrap();
        assert_eq!(
            spec.action,
            ProbeAction::HttpGet {
                host: None,
                port: 8080,
                path: "/healthz".into(),
                headers: vec![("X-A".into(), "1".into())],
            }
        );
        assert_eq!(spec.period, Duration::from_secs(2));
        assert!(matches!(
            spec_of(json!({"tcpSocket": {"port": "metrics"}})),
            Err(ProbeConfigError::Port { .. })
        ));
        assert!(spec_of(json!({"tcpSocket": {"port": "9090"}})).is_ok());
    }

    #[test]
    fn grpc_and_https_are_refused_by_name() {
        let error = spec_of(json!({"grpc": {"port": 9000}})).unwrap_err();
        assert!(error.to_string().contains("gRPC"), "{error}");
        let error = spec_of(json!({"httpGet": {"port": 443, "scheme": "HTTPS"}})).unwrap_err();
        assert!(error.to_string().contains("HTTPS"), "{error}");
    }
}

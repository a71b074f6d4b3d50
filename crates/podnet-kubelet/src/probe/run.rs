//! One run of a probe.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpStream;

use super::http::{self, HttpTarget};
use super::{ProbeAction, ProbeOutcome, ProbeSpec};
use crate::pods::runtime::PodRuntime;

/// Exec output beyond this is cut from probe messages, as Kubernetes does.
const MAX_EXEC_OUTPUT: usize = 10 * 1024;

/// The pod a probe runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    pub uid: String,
    /// The container the probe belongs to: exec probes run with its environment.
    pub container: String,
    pub pod_ip: Option<IpAddr>,
}

/// Runs `spec` once against `target`, within the probe's timeout.
pub async fn run<R: PodRuntime>(
    spec: &ProbeSpec,
    target: &ProbeTarget,
    runtime: &Arc<R>,
) -> ProbeOutcome {
    let host_of = |host: &Option<String>| -> Option<String> {
        host.clone()
            .or_else(|| target.pod_ip.map(|ip| ip.to_string()))
    };
    match &spec.action {
        ProbeAction::HttpGet {
            host,
            port,
            path,
            headers,
        } => {
            let Some(host) = host_of(host) else {
                return ProbeOutcome::Failure("the pod has no IP address yet".into());
            };
            let target = HttpTarget {
                host,
                port: *port,
                path: path.clone(),
            };
            let url = format!("http://{}:{}{}", target.host, target.port, target.path);
            match tokio::time::timeout(spec.timeout, http::get(target, headers)).await {
                Ok(outcome) => outcome,
                Err(_) => ProbeOutcome::Failure(format!(
                    "Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                )),
            }
        }
        ProbeAction::TcpSocket { host, port } => {
            let Some(host) = host_of(host) else {
                return ProbeOutcome::Failure("the pod has no IP address yet".into());
            };
            let address = match host.parse::<IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, *port).to_string(),
                Err(_) => format!("{host}:{port}"),
            };
            match tokio::time::timeout(spec.timeout, TcpStream::connect(address.as_str())).await {
                Ok(Ok(_)) => ProbeOutcome::Success,
                Ok(Err(error)) => ProbeOutcome::Failure(format!("dial tcp {address}: {error}")),
                Err(_) => ProbeOutcome::Failure(format!("dial tcp {address}: i/o timeout")),
            }
        }
        ProbeAction::Exec { command } => {
            let runtime = Arc::clone(runtime);
            let uid = target.uid.clone();
            let container = target.container.clone();
            let argv = command.clone();
            let timeout = spec.timeout;
            let result =
                tokio::task::spawn_blocking(move || runtime.exec(&uid, &container, &argv, timeout))
                    .await;
            match result {
                Ok(Ok(output)) if output.timed_out => {
                    ProbeOutcome::Failure(format!("command {:?} timed out", command.join(" ")))
                }
                Ok(Ok(output)) => {
                    let mut text = output.stdout;
                    text.extend_from_slice(&output.stderr);
                    text.truncate(MAX_EXEC_OUTPUT);
                    let text = String::from_utf8_lossy(&text).to_string();
                    if output.exit_code == Some(0) {
                        ProbeOutcome::Success
                    } else {
                        ProbeOutcome::Failure(text)
                    }
                }
                Ok(Err(error)) => ProbeOutcome::Failure(format!("probe errored: {error}")),
                Err(join) => ProbeOutcome::Failure(format!("probe errored: {join}")),
            }
        }
    }
}

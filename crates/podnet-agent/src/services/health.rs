//! HTTP the proxy answers: the health check node ports of
//! externalTrafficPolicy Local services (what a load balancer probes to find
//! the nodes with endpoints), and the proxy's own `/healthz` and `/metrics`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::metrics::ProxyMetrics;
use super::ProxyStatus;
use crate::error::AgentError;

/// The answer of a health check node port: 200 with the node-local
/// endpoint count when there are any, 503 otherwise, in the body kube-proxy
/// writes.
pub fn health_check_response(
    namespace: &str,
    name: &str,
    local_endpoints: usize,
) -> (StatusCode, serde_json::Value) {
    let status = if local_endpoints > 0 {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "service": {"namespace": namespace, "name": name},
        "localEndpoints": local_endpoints,
        "serviceProxyHealthy": true,
    });
    (status, body)
}

/// Whether the proxy is healthy at `now`: it has applied rules, and no
/// change has waited longer than `grace` for them.
pub fn proxy_healthy(status: &ProxyStatus, now: SystemTime, grace: Duration) -> bool {
    let waited_too_long = status
        .pending_since
        .and_then(|since| now.duration_since(since).ok())
        .is_some_and(|waited| waited > grace);
    status.last_sync.is_some() && !waited_too_long
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A spawned task that ends when its handle is dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps one listener per health check node port the proxy's program has,
/// on every address of the node. Returns only on a failure to serve.
pub async fn serve_health_checks(
    mut status: watch::Receiver<ProxyStatus>,
) -> Result<(), AgentError> {
    // Aborted when dropped: the listeners end with this future.
    let mut listeners: BTreeMap<u16, AbortOnDrop> = BTreeMap::new();
    loop {
        let wanted: Vec<u16> = status
            .borrow_and_update()
            .health_checks
            .keys()
            .copied()
            .collect();
        listeners.retain(|port, task| wanted.contains(port) && !task.0.is_finished());
        for port in wanted {
            if listeners.contains_key(&port) {
                continue;
            }
            let address = SocketAddr::from(([0, 0, 0, 0], port));
            match tokio::net::TcpListener::bind(address).await {
                Ok(listener) => {
                    let app = Router::new()
                        .fallback(
                            move |State(status): State<watch::Receiver<ProxyStatus>>| async move {
                                let current = status.borrow().health_checks.get(&port).cloned();
                                match current {
                                    Some(check) => {
                                        let (code, body) = health_check_response(
                                            &check.namespace,
                                            &check.name,
                                            check.local_endpoints,
                                        );
                                        json_response(code, body)
                                    }
                                    None => StatusCode::NOT_FOUND.into_response(),
                                }
                            },
                        )
                        .with_state(status.clone());
                    listeners.insert(
                        port,
                        AbortOnDrop(tokio::spawn(async move {
                            if let Err(error) = axum::serve(listener, app).await {
                                tracing::warn!(port, %error, "health check server stopped");
                            }
                        })),
                    );
                }
                // Another process holding the port must not stop the proxy;
                // the next change tries again.
                Err(error) => {
                    tracing::warn!(port, %error, "cannot serve a health check node port")
                }
            }
        }
        if status.changed().await.is_err() {
            return Ok(());
        }
    }
}

#[derive(Clone)]
struct ProxyEndpoints {
    status: watch::Receiver<ProxyStatus>,
    metrics: Arc<ProxyMetrics>,
    grace: Duration,
}

async fn healthz(State(state): State<ProxyEndpoints>) -> Response {
    let now = SystemTime::now();
    let status = state.status.borrow().clone();
    let healthy = proxy_healthy(&status, now, state.grace);
    let stamp = |time: SystemTime| {
        Timestamp::try_from(time)
            .map(|t| t.to_string())
            .unwrap_or_default()
    };
    let body = json!({
        "lastUpdated": status.last_sync.map(stamp).unwrap_or_default(),
        "currentTime": stamp(now),
        "nodeEligible": true,
    });
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(code, body)
}

async fn metrics(State(state): State<ProxyEndpoints>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Serves `/healthz` (and `/livez`) on `healthz_address` and `/metrics` on
/// `metrics_address`; one listener when both are the same address.
pub async fn serve_healthz(
    healthz_address: Option<SocketAddr>,
    metrics_address: Option<SocketAddr>,
    status: watch::Receiver<ProxyStatus>,
    proxy_metrics: Arc<ProxyMetrics>,
    full_sync_every: Duration,
) -> Result<(), AgentError> {
    let state = ProxyEndpoints {
        status,
        metrics: proxy_metrics,
        // kube-proxy's healthz grace: twice the sync period.
        grace: full_sync_every * 2,
    };
    let health_routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz));
    let metric_routes = Router::new().route("/metrics", get(metrics));
    let mut servers: Vec<(SocketAddr, Router)> = Vec::new();
    match (healthz_address, metrics_address) {
        (Some(h), Some(m)) if h == m => {
            servers.push((h, health_routes.merge(metric_routes).with_state(state)))
        }
        (h, m) => {
            if let Some(h) = h {
                servers.push((h, health_routes.with_state(state.clone())));
            }
            if let Some(m) = m {
                servers.push((m, metric_routes.with_state(state)));
            }
        }
    }
    if servers.is_empty() {
        std::future::pending::<()>().await;
    }
    let mut tasks = Vec::new();
    for (address, app) in servers {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(AgentError::io(format!("listen on {address}")))?;
        tasks.push(async move {
            axum::serve(listener, app)
                .await
                .map_err(AgentError::io(format!("serve on {address}")))
        });
    }
    let (result, _, _) = futures_util::future::select_all(tasks.into_iter().map(Box::pin)).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_checks_answer_the_local_endpoint_count_or_503() {
        let (code, body) = health_check_response("default", "web", 2);
        assert_eq!(code, StatusCode::OK);
        assert_eq!(body["localEndpoints"], 2);
        assert_eq!(body["service"]["namespace"], "default");
        assert_eq!(body["service"]["name"], "web");
        let (code, body) = health_check_response("default", "web", 0);
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["localEndpoints"], 0);
    }

    #[test]
    fn healthy_once_synced_and_while_no_change_waits_too_long() {
        let now = SystemTime::now();
        let grace = Duration::from_secs(120);
        let mut status = ProxyStatus::default();
        assert!(!proxy_healthy(&status, now, grace), "never synced");
        status.last_sync = Some(now - Duration::from_secs(600));
        assert!(
            proxy_healthy(&status, now, grace),
            "old rules, nothing pending"
        );
        status.pending_since = Some(now - Duration::from_secs(5));
        assert!(proxy_healthy(&status, now, grace));
        status.pending_since = Some(now - Duration::from_secs(121));
        assert!(
            !proxy_healthy(&status, now, grace),
            "a change waits too long"
        );
    }
}

//! Creating the pods: the create rate with one client and with many.

use std::ops::Range;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::error::BenchError;
use crate::pods;
use crate::stats::{self, Summary};

/// A timed batch of operations spread over some clients.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    pub clients: usize,
    pub operations: usize,
    pub elapsed: Duration,
    /// Latency of single operations.
    pub latency: Summary,
}

impl Phase {
    pub fn rate(&self) -> Option<f64> {
        stats::rate(self.operations, self.elapsed)
    }
}

pub async fn create_namespaces(client: &kube::Client) -> Result<(), BenchError> {
    let api: Api<Namespace> = Api::all(client.clone());
    for index in 0..pods::NAMESPACES {
        let name = pods::namespace_name(index);
        let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))
            .map_err(|source| BenchError::Json {
                context: "building a Namespace".into(),
                source,
            })?;
        api.create(&PostParams::default(), &namespace)
            .await
            .map_err(BenchError::kube(format!("creating namespace {name}")))?;
    }
    Ok(())
}

/// Creates the pods numbered `indices`; client `c` of `n` creates every n-th
/// pod starting at `indices.start + c`, one request after another, and all
/// clients run at once. The phase lasts from the first request to the last
/// response.
pub async fn create_pods(
    clients: &[kube::Client],
    indices: Range<usize>,
) -> Result<Phase, BenchError> {
    if clients.is_empty() || indices.is_empty() {
        return Err(BenchError::unexpected(
            "creating pods",
            "no clients or no pods",
        ));
    }
    let step = clients.len();
    let started = Instant::now();
    // A JoinSet aborts the other clients when one fails.
    let mut tasks = tokio::task::JoinSet::new();
    for (offset, client) in clients.iter().enumerate() {
        let client = client.clone();
        let mine: Vec<usize> = indices.clone().skip(offset).step_by(step).collect();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(mine.len());
            for index in mine {
                let pod = pods::pod(index);
                let api: Api<Pod> = Api::namespaced(client.clone(), &pods::namespace_of(index));
                let sent = Instant::now();
                api.create(&PostParams::default(), &pod)
                    .await
                    .map_err(BenchError::kube(format!(
                        "creating pod {}/{}",
                        pods::namespace_of(index),
                        pods::pod_name(index)
                    )))?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, BenchError>(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(indices.len());
    while let Some(joined) = tasks.join_next().await {
        latencies.extend(joined??);
    }
    let elapsed = started.elapsed();
    let latency = stats::summarize(&latencies)
        .ok_or_else(|| BenchError::unexpected("creating pods", "no pod was created"))?;
    Ok(Phase {
        clients: clients.len(),
        operations: latencies.len(),
        elapsed,
        latency,
    })
}

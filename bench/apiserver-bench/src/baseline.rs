//! The baseline: how fast the etcd under the server takes plain puts of
//! pod-sized values, with no API server in between.

use std::time::Instant;

use etcd_client::{Client, KvClient};
use tokio::task::JoinSet;

use crate::creates::Phase;
use crate::error::BenchError;
use crate::pods;
use crate::stats;

/// Puts go under this prefix, apart from the server's keys; their keys are
/// about as long as the server's pod keys.
const RAW_PREFIX: &str = "/apiserver-raw";

#[derive(Debug, Clone, Copy)]
pub struct Baseline {
    pub value_bytes: usize,
    /// One client, one put after another.
    pub sequential: Phase,
    /// Each client with a connection of its own.
    pub concurrent: Phase,
    /// The same number of concurrent putters sharing one connection, as the
    /// server's etcd store does.
    pub shared_connection: Phase,
}

/// The value etcd holds for pod `index`, as the server stored it.
pub async fn stored_pod(
    endpoint: &str,
    server_prefix: &str,
    index: usize,
) -> Result<Vec<u8>, BenchError> {
    let key = format!(
        "{server_prefix}/registry/core/pods/{}/{}",
        pods::namespace_of(index),
        pods::pod_name(index)
    );
    let mut client = connect(endpoint).await?;
    let response = client
        .get(key.as_str(), None)
        .await
        .map_err(BenchError::etcd(format!("reading {key} from etcd")))?;
    let kv = response.kvs().first().ok_or_else(|| {
        BenchError::unexpected(
            format!("reading {key} from etcd"),
            "no such key: the server's key layout changed",
        )
    })?;
    Ok(kv.value().to_vec())
}

pub async fn measure(
    endpoint: &str,
    value: Vec<u8>,
    sequential: usize,
    concurrent: usize,
    clients: usize,
) -> Result<Baseline, BenchError> {
    let single = vec![connect(endpoint).await?.kv_client()];
    let sequential_phase = put_all(&single, "sequential", 0..sequential, &value).await?;
    let mut own = Vec::with_capacity(clients);
    for _ in 0..clients {
        own.push(connect(endpoint).await?.kv_client());
    }
    let concurrent_phase = put_all(
        &own,
        "concurrent",
        sequential..sequential + concurrent,
        &value,
    )
    .await?;
    let shared_client = connect(endpoint).await?.kv_client();
    let shared = vec![shared_client; clients];
    let shared_phase = put_all(
        &shared,
        "shared",
        sequential..sequential + concurrent,
        &value,
    )
    .await?;
    Ok(Baseline {
        value_bytes: value.len(),
        sequential: sequential_phase,
        concurrent: concurrent_phase,
        shared_connection: shared_phase,
    })
}

async fn connect(endpoint: &str) -> Result<Client, BenchError> {
    Client::connect([endpoint], None)
        .await
        .map_err(BenchError::etcd(format!(
            "connecting to etcd at {endpoint}"
        )))
}

/// Putter `c` of `n` puts every n-th key; all putters run at once.
async fn put_all(
    putters: &[KvClient],
    phase: &str,
    indices: std::ops::Range<usize>,
    value: &[u8],
) -> Result<Phase, BenchError> {
    let step = putters.len();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for (offset, putter) in putters.iter().enumerate() {
        let mut putter = putter.clone();
        let mine: Vec<usize> = indices.clone().skip(offset).step_by(step).collect();
        let value = value.to_vec();
        let phase = phase.to_string();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(mine.len());
            for index in mine {
                let key = format!(
                    "{RAW_PREFIX}/{phase}/{}/{}",
                    pods::namespace_of(index),
                    pods::pod_name(index)
                );
                let sent = Instant::now();
                putter
                    .put(key.as_str(), value.clone(), None)
                    .await
                    .map_err(BenchError::etcd(format!("putting {key}")))?;
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
    Ok(Phase {
        clients: putters.len(),
        operations: latencies.len(),
        elapsed,
        latency: stats::summarize(&latencies)
            .ok_or_else(|| BenchError::unexpected("putting to etcd", "no put was made"))?,
    })
}

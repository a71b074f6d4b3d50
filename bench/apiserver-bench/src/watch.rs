//! Watch delivery: many watchers on all pods, a steady stream of pod
//! updates, and the time from each update's request to each watcher's event.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use serde_json::json;
use tokio::sync::watch as signal;
use tokio::task::JoinSet;

use crate::error::BenchError;
use crate::pods;
use crate::stats::{self, Summary};

/// Server-side timeout of each watch request, well beyond the phase.
const WATCH_TIMEOUT_SECONDS: u32 = 290;
/// Pause between opening the watches and the first write, so that the
/// server has every watch registered with the store.
const SETTLE: Duration = Duration::from_secs(1);
/// How long after the last write's response events may still arrive.
const DELIVERY_PATIENCE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(5);

#[derive(Debug, Clone)]
pub struct WatchSettings {
    pub watchers: usize,
    pub writes: usize,
    pub interval: Duration,
    /// Pods exist with the indices `0..pods`; writes go to them in turn.
    pub pods: usize,
}

#[derive(Debug, Clone)]
pub struct WatchFigures {
    pub watchers: usize,
    pub writes: usize,
    pub interval: Duration,
    /// One sample per (write, watcher) pair delivered.
    pub latency: Option<Summary>,
    pub deliveries: usize,
    pub expected: usize,
    /// Events of the same write delivered again to the same watcher.
    pub duplicates: usize,
    /// Watch streams that ended or failed before the phase was over.
    pub broken_streams: Vec<String>,
    /// The updates' own request latency.
    pub write_latency: Summary,
}

struct WatcherOutcome {
    /// (write number, when the event was received)
    received: Vec<(usize, Instant)>,
    duplicates: usize,
    broken: Option<String>,
}

pub async fn measure(
    clients: &[kube::Client],
    writer: &kube::Client,
    settings: &WatchSettings,
) -> Result<WatchFigures, BenchError> {
    if clients.len() != settings.watchers {
        return Err(BenchError::unexpected(
            "starting the watches",
            "one client per watcher is needed",
        ));
    }
    let all: Api<Pod> = Api::all(writer.clone());
    let current = all
        .list(&ListParams::default().limit(1))
        .await
        .map_err(BenchError::kube("reading the current resourceVersion"))?;
    let from = current.metadata.resource_version.ok_or_else(|| {
        BenchError::unexpected(
            "reading the current resourceVersion",
            "the list has no resourceVersion",
        )
    })?;

    let params = WatchParams::default().timeout(WATCH_TIMEOUT_SECONDS);
    let opening = clients.iter().map(|client| {
        let api: Api<Pod> = Api::all(client.clone());
        let params = params.clone();
        let from = from.clone();
        async move { api.watch(&params, &from).await.map(|stream| stream.boxed()) }
    });
    let streams = futures_util::future::try_join_all(opening)
        .await
        .map_err(BenchError::kube("opening a watch on pods"))?;

    let delivered = Arc::new(AtomicUsize::new(0));
    let (stop_sender, stop) = signal::channel(false);
    let mut watchers = JoinSet::new();
    for (number, mut stream) in streams.into_iter().enumerate() {
        let delivered = Arc::clone(&delivered);
        let mut stop = stop.clone();
        let writes = settings.writes;
        watchers.spawn(async move {
            let mut outcome = WatcherOutcome {
                received: Vec::with_capacity(writes),
                duplicates: 0,
                broken: None,
            };
            let mut seen = HashSet::with_capacity(writes);
            loop {
                let event = tokio::select! {
                    event = stream.try_next() => event,
                    _ = stop.changed() => break,
                };
                let pod = match event {
                    Ok(Some(WatchEvent::Modified(pod))) => pod,
                    Ok(Some(WatchEvent::Bookmark(_))) => continue,
                    Ok(Some(WatchEvent::Error(status))) => {
                        outcome.broken =
                            Some(format!("watcher {number}: ERROR event: {}", status.message));
                        break;
                    }
                    Ok(Some(other)) => {
                        outcome.broken =
                            Some(format!("watcher {number}: unexpected event {other:?}"));
                        break;
                    }
                    Ok(None) => {
                        outcome.broken = Some(format!("watcher {number}: the stream ended"));
                        break;
                    }
                    Err(error) => {
                        outcome.broken = Some(format!("watcher {number}: {error}"));
                        break;
                    }
                };
                let at = Instant::now();
                let Some(write) = write_number(&pod) else {
                    continue;
                };
                if seen.insert(write) {
                    outcome.received.push((write, at));
                    delivered.fetch_add(1, Ordering::Relaxed);
                } else {
                    outcome.duplicates += 1;
                }
            }
            outcome
        });
    }
    tokio::time::sleep(SETTLE).await;

    let sent: Arc<Vec<OnceLock<Instant>>> =
        Arc::new((0..settings.writes).map(|_| OnceLock::new()).collect());
    let write_latency = write_steadily(writer, settings, &sent).await?;
    let expected = settings.watchers * settings.writes;
    let patience_ends = Instant::now() + DELIVERY_PATIENCE;
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < patience_ends {
        tokio::time::sleep(POLL).await;
    }
    // Nobody may be listening any more; the send's result does not matter.
    let _ = stop_sender.send(true);

    let mut latencies = Vec::with_capacity(expected);
    let mut duplicates = 0;
    let mut broken_streams = Vec::new();
    while let Some(joined) = watchers.join_next().await {
        let outcome = joined?;
        duplicates += outcome.duplicates;
        broken_streams.extend(outcome.broken);
        for (write, at) in outcome.received {
            let sent_at = sent.get(write).and_then(OnceLock::get).ok_or_else(|| {
                BenchError::unexpected(
                    "timing watch events",
                    format!("an event carries write number {write}, which was never sent"),
                )
            })?;
            latencies.push(at.saturating_duration_since(*sent_at));
        }
    }
    Ok(WatchFigures {
        watchers: settings.watchers,
        writes: settings.writes,
        interval: settings.interval,
        deliveries: latencies.len(),
        latency: stats::summarize(&latencies),
        expected,
        duplicates,
        broken_streams,
        write_latency,
    })
}

/// Sends write `k` at `k * interval` from the start, each in its own task so
/// that a slow response does not hold back the next write, and returns once
/// every write has its response.
async fn write_steadily(
    writer: &kube::Client,
    settings: &WatchSettings,
    sent: &Arc<Vec<OnceLock<Instant>>>,
) -> Result<Summary, BenchError> {
    let mut ticks = tokio::time::interval(settings.interval);
    let mut writes = JoinSet::new();
    for write in 0..settings.writes {
        ticks.tick().await;
        let index = write % settings.pods;
        let api: Api<Pod> = Api::namespaced(writer.clone(), &pods::namespace_of(index));
        let sent = Arc::clone(sent);
        writes.spawn(async move {
            let patch = Patch::Merge(
                json!({"metadata": {"annotations": {pods::WRITE_ANNOTATION: write.to_string()}}}),
            );
            let name = pods::pod_name(index);
            let started = Instant::now();
            // Set once: each write number is used by exactly one task.
            let _ = sent[write].set(started);
            api.patch(&name, &PatchParams::default(), &patch)
                .await
                .map_err(BenchError::kube(format!(
                    "updating pod {}/{name}",
                    pods::namespace_of(index)
                )))?;
            Ok::<_, BenchError>(started.elapsed())
        });
    }
    let mut latencies = Vec::with_capacity(settings.writes);
    while let Some(joined) = writes.join_next().await {
        latencies.push(joined??);
    }
    stats::summarize(&latencies)
        .ok_or_else(|| BenchError::unexpected("updating pods", "no update was sent"))
}

fn write_number(pod: &Pod) -> Option<usize> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(pods::WRITE_ANNOTATION)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_number_comes_from_the_annotation_and_only_from_it() {
        let mut pod = pods::pod(3);
        assert_eq!(write_number(&pod), None);
        pod.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(pods::WRITE_ANNOTATION.into(), "17".into());
        assert_eq!(write_number(&pod), Some(17));
    }
}

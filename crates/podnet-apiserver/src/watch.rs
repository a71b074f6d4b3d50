//! Watches: the store's change stream of one prefix, turned into
//! Kubernetes watch events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) for
//! the objects a filter selects, from a resourceVersion or from a synthetic
//! list of what exists.

use std::sync::Arc;
use std::time::Duration;

use podnet_store::{Event, StoreError};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::filter::Filter;
use crate::object;
use crate::registry::{ListOptions, Registry};
use crate::resources::Resource;
use crate::status::ApiError;

/// One event of a watch stream.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    Added(Value),
    Modified(Value),
    Deleted(Value),
    /// An ADDED, MODIFIED or DELETED event of a watch that selects
    /// everything, with the object as stored bytes (resourceVersion written in).
    Raw {
        type_name: &'static str,
        object: Vec<u8>,
    },
    /// The stream has delivered everything up to this revision.
    Bookmark {
        revision: i64,
        initial_events_end: bool,
    },
    Error(ApiError),
}

impl WatchEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Raw { type_name, .. } => type_name,
            WatchEvent::Bookmark { .. } => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        }
    }

    /// The object of an event as a value (Raw events are parsed).
    pub fn object(&self) -> Option<Value> {
        match self {
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
                Some(o.clone())
            }
            WatchEvent::Raw { object, .. } => serde_json::from_slice(object).ok(),
            _ => None,
        }
    }

    /// The `{"type", "object"}` line for this event, newline-terminated.
    pub fn to_line(&self, res: &Resource) -> Vec<u8> {
        let mut line = match self {
            WatchEvent::Raw { type_name, object } => {
                let mut line = Vec::with_capacity(object.len() + 32);
                line.extend_from_slice(b"{\"type\":\"");
                line.extend_from_slice(type_name.as_bytes());
                line.extend_from_slice(b"\",\"object\":");
                line.extend_from_slice(object);
                line.push(b'}');
                line
            }
            other => serde_json::to_vec(&other.to_json(res)).expect("JSON encodes"),
        };
        line.push(b'\n');
        line
    }

    /// The `{"type", "object"}` value for this event.
    pub fn to_json(&self, res: &Resource) -> Value {
        let object = match self {
            WatchEvent::Raw { object, .. } => serde_json::from_slice(object).unwrap_or(Value::Null),
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => o.clone(),
            WatchEvent::Bookmark {
                revision,
                initial_events_end,
            } => {
                let mut meta = json!({"resourceVersion": revision.to_string()});
                if *initial_events_end {
                    meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
                }
                json!({"kind": res.kind, "apiVersion": res.api_version(), "metadata": meta})
            }
            WatchEvent::Error(e) => e.status(),
        };
        json!({"type": self.type_name(), "object": object})
    }
}

/// What a watch request asked for.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub res: &'static Resource,
    pub namespace: Option<String>,
    pub filter: Filter,
    /// None or "0": start with the existing objects as ADDED events.
    pub resource_version: Option<String>,
    pub send_initial_events: bool,
    pub bookmarks: bool,
    pub timeout: Duration,
}

/// How often an idle watch with bookmarks tells the client how far it is.
const BOOKMARK_EVERY: Duration = Duration::from_secs(10);
/// Events buffered per watcher before the producer waits for the client.
const WATCH_BUFFER: usize = 256;

/// Starts a watch; the receiver ends when the timeout passes, the client
/// goes, or after an ERROR event.
pub async fn start(
    registry: Arc<Registry>,
    request: WatchRequest,
) -> Result<mpsc::Receiver<WatchEvent>, ApiError> {
    let start_rv = match request.resource_version.as_deref() {
        None | Some("") | Some("0") => None,
        Some(rv) => Some(
            rv.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?,
        ),
    };
    let (tx, rx) = mpsc::channel(WATCH_BUFFER);
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + request.timeout;
        let _ = tokio::time::timeout_at(deadline, run(registry, request, start_rv, tx)).await;
    });
    Ok(rx)
}

async fn run(
    registry: Arc<Registry>,
    request: WatchRequest,
    start_rv: Option<i64>,
    tx: mpsc::Sender<WatchEvent>,
) {
    let prefix = Registry::prefix(request.res, request.namespace.as_deref());
    let mut revision = match start_rv {
        Some(rv) if !request.send_initial_events => rv,
        _ => {
            // Synthetic ADDED events for what exists now, then changes after it.
            let page = registry
                .list(
                    request.res,
                    request.namespace.as_deref(),
                    &request.filter,
                    &ListOptions::default(),
                )
                .await;
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    let _ = tx.send(WatchEvent::Error(e)).await;
                    return;
                }
            };
            for obj in page.items {
                if tx.send(WatchEvent::Added(obj)).await.is_err() {
                    return;
                }
            }
            if request.send_initial_events && request.bookmarks {
                let end = WatchEvent::Bookmark {
                    revision: page.revision,
                    initial_events_end: true,
                };
                if tx.send(end).await.is_err() {
                    return;
                }
            }
            page.revision
        }
    };
    let pinned = request.filter.pinned_name();
    loop {
        let mut events = match registry.store().watch(&prefix, revision).await {
            Ok(events) => events,
            Err(StoreError::Compacted {
                requested,
                compacted,
            }) => {
                let e = ApiError::gone(format!(
                    "too old resource version: {requested} ({compacted})"
                ));
                let _ = tx.send(WatchEvent::Error(e)).await;
                return;
            }
            Err(e) => {
                let _ = tx
                    .send(WatchEvent::Error(ApiError::internal(e.to_string())))
                    .await;
                return;
            }
        };
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
        let mut last_bookmark = revision;
        loop {
            tokio::select! {
                event = events.recv() => {
                    let Some(event) = event else { break };
                    revision = event.revision();
                    if let Some(name) = &pinned {
                        if event.key().rsplit('/').next() != Some(name.as_str()) {
                            continue;
                        }
                    }
                    // A prefix of one namespace also matches longer names of
                    // others ("/ns/a" vs "/ns/ab/..." cannot happen: the
                    // namespace prefix ends in '/'), so only decode errors remain.
                    match translate(&request.filter, event) {
                        Ok(Some(out)) => {
                            if tx.send(out).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let _ = tx.send(WatchEvent::Error(e)).await;
                            return;
                        }
                    }
                }
                _ = ticker.tick() => {
                    if request.bookmarks && revision != last_bookmark {
                        last_bookmark = revision;
                        if tx.send(WatchEvent::Bookmark { revision, initial_events_end: false }).await.is_err() {
                            return;
                        }
                    }
                }
                _ = tx.closed() => return,
            }
        }
        // The store ended the stream (a slow watcher or a backend reconnect):
        // everything up to `revision` was delivered, so go on from there.
    }
}

/// The watch event a store event becomes for this filter, with the
/// transitions Kubernetes makes when an object enters or leaves a selector.
fn translate(filter: &Filter, event: Event) -> Result<Option<WatchEvent>, ApiError> {
    if filter.is_everything() {
        // Nothing to select: send the stored bytes; only the revision goes in.
        let (type_name, bytes, revision) = match &event {
            Event::Put { kv, prev: None } => ("ADDED", &kv.value, kv.mod_revision),
            Event::Put { kv, prev: Some(_) } => ("MODIFIED", &kv.value, kv.mod_revision),
            Event::Delete { revision, prev, .. } => ("DELETED", &prev.value, *revision),
        };
        if let Some(object) = object::with_resource_version(bytes, revision) {
            return Ok(Some(WatchEvent::Raw { type_name, object }));
        }
    }
    match event {
        Event::Put { kv, prev } => {
            let obj = object::decode(&kv)?;
            let now_matches = filter.matches(&obj);
            let before = match &prev {
                Some(p) => Some(object::decode_at(&p.value, p.mod_revision, &p.key)?),
                None => None,
            };
            let matched_before = before.as_ref().is_some_and(|b| filter.matches(b));
            Ok(match (matched_before, now_matches) {
                (false, true) => Some(WatchEvent::Added(obj)),
                (true, true) => Some(WatchEvent::Modified(obj)),
                (true, false) => Some(WatchEvent::Deleted(obj)),
                (false, false) => None,
            })
        }
        Event::Delete {
            key,
            revision,
            prev,
        } => {
            let obj = object::decode_at(&prev.value, revision, &key)?;
            Ok(filter.matches(&obj).then_some(WatchEvent::Deleted(obj)))
        }
    }
}

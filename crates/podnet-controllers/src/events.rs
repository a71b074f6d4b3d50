//! Events (core/v1) about the objects the controllers act on, as
//! `kubectl describe` shows them.
//!
//! Writing an event never holds up a controller: events go through a
//! channel to one task that writes them. A repeat of the same event about
//! the same object (same type, reason and message) raises the `count` of the
//! event already written instead of adding another, as Kubernetes' recorder
//! does. Events are best effort in Kubernetes too: a failed write is logged.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc;

use crate::error::is_not_found;

/// Events about cluster-scoped objects (Nodes) live in this namespace.
const CLUSTER_SCOPED_EVENT_NAMESPACE: &str = "default";

/// How many distinct events the recorder remembers for counting repeats.
const REMEMBERED_EVENTS: usize = 4096;

/// Kubernetes' two event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// One event to write.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub involved: ObjectReference,
    pub event_type: EventType,
    pub reason: String,
    pub message: String,
}

/// Who writes the events: `source.component` and, for node components,
/// `source.host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSourceId {
    pub component: String,
    pub host: Option<String>,
}

impl EventSourceId {
    pub fn component(component: &str) -> EventSourceId {
        EventSourceId {
            component: component.to_string(),
            host: None,
        }
    }
}

/// Hands events to the writing task; cheap to clone.
#[derive(Clone)]
pub struct EventRecorder {
    sender: mpsc::UnboundedSender<EventRecord>,
}

impl EventRecorder {
    /// Starts the task that writes events as `component` (the `source` and
    /// `reportingComponent` of every event). The task ends when the last
    /// recorder is dropped.
    pub fn start(client: Client, component: &str) -> EventRecorder {
        EventRecorder::start_as(client, EventSourceId::component(component))
    }

    /// Like [`EventRecorder::start`], for a component that runs on a node (the
    /// kubelet): its events name the host as their source and reporting instance.
    pub fn start_as(client: Client, source: EventSourceId) -> EventRecorder {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_events(client, source, receiver));
        EventRecorder { sender }
    }

    /// Queues an event about `involved`.
    pub fn record(
        &self,
        involved: ObjectReference,
        event_type: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        let record = EventRecord {
            involved,
            event_type,
            reason: reason.to_string(),
            message: message.into(),
        };
        if self.sender.send(record).is_err() {
            tracing::warn!(
                reason,
                "the event writer has stopped; an event about an object was not written"
            );
        }
    }
}

/// A reference to `obj` for an event's `involvedObject`.
pub fn object_reference<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        namespace: obj.namespace(),
        name: Some(obj.name_any()),
        uid: obj.uid(),
        resource_version: obj.resource_version(),
        field_path: None,
    }
}

/// The namespace an event about `involved` is written to.
pub fn event_namespace(involved: &ObjectReference) -> String {
    involved
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| CLUSTER_SCOPED_EVENT_NAMESPACE.to_string())
}

/// The Event object for `record`, first seen at `now`. Its name is the
/// involved object's name and the time in hexadecimal nanoseconds, as
/// Kubernetes names events.
pub fn new_event(record: &EventRecord, source: &EventSourceId, now: Timestamp) -> Event {
    let involved_name = record.involved.name.clone().unwrap_or_default();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{involved_name}.{:x}", now.as_nanosecond())),
            namespace: Some(event_namespace(&record.involved)),
            ..ObjectMeta::default()
        },
        involved_object: record.involved.clone(),
        reason: Some(record.reason.clone()),
        message: Some(record.message.clone()),
        type_: Some(record.event_type.as_str().to_string()),
        source: Some(EventSource {
            component: Some(source.component.clone()),
            host: source.host.clone(),
        }),
        reporting_component: Some(source.component.clone()),
        reporting_instance: source.host.clone(),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Event::default()
    }
}

/// What makes two events repeats of each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RepeatKey {
    involved_uid: String,
    involved_name: String,
    /// The part of the object (a container) the event is about.
    field_path: Option<String>,
    event_type: EventType,
    reason: String,
    message: String,
}

impl RepeatKey {
    fn of(record: &EventRecord) -> RepeatKey {
        RepeatKey {
            involved_uid: record.involved.uid.clone().unwrap_or_default(),
            involved_name: record.involved.name.clone().unwrap_or_default(),
            field_path: record.involved.field_path.clone(),
            event_type: record.event_type,
            reason: record.reason.clone(),
            message: record.message.clone(),
        }
    }
}

/// An event already written: where it is and how often it happened.
struct Written {
    namespace: String,
    name: String,
    count: i32,
}

async fn write_events(
    client: Client,
    source: EventSourceId,
    mut receiver: mpsc::UnboundedReceiver<EventRecord>,
) {
    let mut written: HashMap<RepeatKey, Written> = HashMap::new();
    while let Some(record) = receiver.recv().await {
        let key = RepeatKey::of(&record);
        let now = Timestamp::now();
        if let Some(previous) = written.get_mut(&key) {
            let api: Api<Event> = Api::namespaced(client.clone(), &previous.namespace);
            let count = previous.count + 1;
            let patch = json!({"count": count, "lastTimestamp": Time(now)});
            match api
                .patch(
                    &previous.name,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => {
                    previous.count = count;
                    continue;
                }
                // Expired or deleted: write it anew below.
                Err(error) if is_not_found(&error) => {
                    written.remove(&key);
                }
                Err(error) => {
                    tracing::warn!(%error, reason = %record.reason, "could not count a repeated event");
                    continue;
                }
            }
        }
        let event = new_event(&record, &source, now);
        let namespace = event_namespace(&record.involved);
        let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
        match api.create(&PostParams::default(), &event).await {
            Ok(created) => {
                if written.len() >= REMEMBERED_EVENTS {
                    written.clear();
                }
                written.insert(
                    key,
                    Written {
                        namespace,
                        name: created.name_any(),
                        count: 1,
                    },
                );
            }
            Err(error) => {
                tracing::warn!(%error, reason = %record.reason, message = %record.message, "could not write an event");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Node, Pod};

    fn record_about(involved: ObjectReference) -> EventRecord {
        EventRecord {
            involved,
            event_type: EventType::Warning,
            reason: "FailedScheduling".into(),
            message: "0/1 nodes are available: 1 node(s) were unschedulable.".into(),
        }
    }

    #[test]
    fn an_event_about_a_pod_lives_in_the_pods_namespace_and_is_named_after_it() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web-1".into());
        pod.metadata.namespace = Some("shop".into());
        pod.metadata.uid = Some("u1".into());
        let involved = object_reference(&pod);
        assert_eq!(involved.kind.as_deref(), Some("Pod"));
        assert_eq!(involved.api_version.as_deref(), Some("v1"));
        let now = Timestamp::from_second(1_700_000_000).expect("timestamp");
        let event = new_event(
            &record_about(involved),
            &EventSourceId::component("default-scheduler"),
            now,
        );
        assert_eq!(event.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(
            event.metadata.name.as_deref(),
            Some(format!("web-1.{:x}", now.as_nanosecond()).as_str())
        );
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        assert_eq!(event.count, Some(1));
        assert_eq!(
            event.source.and_then(|s| s.component).as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(event.involved_object.uid.as_deref(), Some("u1"));
    }

    #[test]
    fn an_event_about_a_node_lives_in_the_default_namespace() {
        let mut node = Node::default();
        node.metadata.name = Some("node-1".into());
        let involved = object_reference(&node);
        assert_eq!(involved.namespace, None);
        assert_eq!(event_namespace(&involved), "default");
    }
}

//! core/v1 Events about pods and their containers, written as the kubelet
//! writes them: source `kubelet` on this node, a container named by the
//! involved object's fieldPath (`spec.containers{app}`), repeats counted on
//! the event already written. Best effort: a failed write is logged, and
//! writing never holds up a pod worker.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc;

const COMPONENT: &str = "kubelet";
/// How many distinct events are remembered for counting repeats.
const REMEMBERED_EVENTS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct EventRecord {
    involved: ObjectReference,
    event_type: EventType,
    reason: String,
    message: String,
}

/// Hands events to the writing task; cheap to clone.
#[derive(Clone)]
pub struct PodEvents {
    sender: mpsc::UnboundedSender<EventRecord>,
}

/// Which container of a pod an event is about.
#[derive(Debug, Clone, Copy)]
pub enum ContainerRef<'a> {
    Init(&'a str),
    App(&'a str),
}

impl PodEvents {
    /// Starts the task that writes the events of the kubelet of `node`; it
    /// ends when the last sender is dropped.
    pub fn start(client: Client, node: &str) -> PodEvents {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_events(client, node.to_string(), receiver));
        PodEvents { sender }
    }

    /// An event about `pod`, or about one of its containers.
    pub fn record(
        &self,
        pod: &Pod,
        container: Option<ContainerRef<'_>>,
        event_type: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        let field_path = container.map(|c| match c {
            ContainerRef::Init(name) => format!("spec.initContainers{{{name}}}"),
            ContainerRef::App(name) => format!("spec.containers{{{name}}}"),
        });
        let involved = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            resource_version: pod.resource_version(),
            field_path,
        };
        let record = EventRecord {
            involved,
            event_type,
            reason: reason.to_string(),
            message: message.into(),
        };
        if self.sender.send(record).is_err() {
            tracing::warn!(
                reason,
                "the event writer has stopped; an event about a pod was not written"
            );
        }
    }
}

fn new_event(record: &EventRecord, node: &str, now: Timestamp) -> Event {
    let name = record.involved.name.clone().unwrap_or_default();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: record.involved.namespace.clone(),
            ..ObjectMeta::default()
        },
        involved_object: record.involved.clone(),
        reason: Some(record.reason.clone()),
        message: Some(record.message.clone()),
        type_: Some(record.event_type.as_str().to_string()),
        source: Some(EventSource {
            component: Some(COMPONENT.to_string()),
            host: Some(node.to_string()),
        }),
        reporting_component: Some(COMPONENT.to_string()),
        reporting_instance: Some(node.to_string()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: None::<MicroTime>,
        count: Some(1),
        ..Event::default()
    }
}

type RepeatKey = (String, Option<String>, EventType, String, String);

struct Written {
    namespace: String,
    name: String,
    count: i32,
}

async fn write_events(
    client: Client,
    node: String,
    mut receiver: mpsc::UnboundedReceiver<EventRecord>,
) {
    let mut written: HashMap<RepeatKey, Written> = HashMap::new();
    while let Some(record) = receiver.recv().await {
        let key: RepeatKey = (
            record.involved.uid.clone().unwrap_or_default(),
            record.involved.field_path.clone(),
            record.event_type,
            record.reason.clone(),
            record.message.clone(),
        );
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
                Err(kube::Error::Api(status)) if status.is_not_found() => {
                    written.remove(&key);
                }
                Err(error) => {
                    tracing::warn!(%error, reason = %record.reason, "could not count a repeated event");
                    continue;
                }
            }
        }
        let event = new_event(&record, &node, now);
        let namespace = event
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
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

    #[test]
    fn kubelet_events_name_their_node_and_container() {
        let involved = ObjectReference {
            kind: Some("Pod".into()),
            name: Some("web".into()),
            namespace: Some("shop".into()),
            field_path: Some("spec.containers{app}".into()),
            ..ObjectReference::default()
        };
        let record = EventRecord {
            involved,
            event_type: EventType::Warning,
            reason: "Unhealthy".into(),
            message: "Liveness probe failed: boom".into(),
        };
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let event = new_event(&record, "node-1", now);
        let source = event.source.clone().unwrap();
        assert_eq!(source.component.as_deref(), Some("kubelet"));
        assert_eq!(source.host.as_deref(), Some("node-1"));
        assert_eq!(event.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        assert_eq!(
            event.involved_object.field_path.as_deref(),
            Some("spec.containers{app}")
        );
    }
}

//! core/v1 Events about pods and their containers, written as the kubelet
//! writes them: source `kubelet` on this node, a container named by the
//! involved object's fieldPath (`spec.containers{app}`). The writing, the
//! counting of repeats and the best-effort handling are the cluster's one
//! event recorder (`podnet_controllers::events`).

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::Client;
use podnet_controllers::events::{EventRecorder, EventSourceId};

pub use podnet_controllers::events::EventType;

const COMPONENT: &str = "kubelet";

/// Hands events to the writing task; cheap to clone.
#[derive(Clone)]
pub struct PodEvents {
    recorder: EventRecorder,
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
        PodEvents {
            recorder: EventRecorder::start_as(client, kubelet_source(node)),
        }
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
        self.recorder
            .record(involved(pod, container), event_type, reason, message);
    }
}

fn kubelet_source(node: &str) -> EventSourceId {
    EventSourceId {
        component: COMPONENT.to_string(),
        host: Some(node.to_string()),
    }
}

/// The pod, with the container as fieldPath when the event is about one.
fn involved(pod: &Pod, container: Option<ContainerRef<'_>>) -> ObjectReference {
    let mut reference = podnet_controllers::events::object_reference(pod);
    reference.field_path = container.map(|c| match c {
        ContainerRef::Init(name) => format!("spec.initContainers{{{name}}}"),
        ContainerRef::App(name) => format!("spec.containers{{{name}}}"),
    });
    reference
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use podnet_controllers::events::{new_event, EventRecord};

    #[test]
    fn kubelet_events_name_their_node_and_container() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": "u1"}
        }))
        .unwrap();
        let record = EventRecord {
            involved: involved(&pod, Some(ContainerRef::App("app"))),
            event_type: EventType::Warning,
            reason: "Unhealthy".into(),
            message: "Liveness probe failed: boom".into(),
        };
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let event = new_event(&record, &kubelet_source("node-1"), now);
        let source = event.source.clone().unwrap();
        assert_eq!(source.component.as_deref(), Some("kubelet"));
        assert_eq!(source.host.as_deref(), Some("node-1"));
        assert_eq!(event.reporting_instance.as_deref(), Some("node-1"));
        assert_eq!(event.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        assert_eq!(event.involved_object.kind.as_deref(), Some("Pod"));
        assert_eq!(
            event.involved_object.field_path.as_deref(),
            Some("spec.containers{app}")
        );
        let init = involved(&pod, Some(ContainerRef::Init("setup")));
        assert_eq!(
            init.field_path.as_deref(),
            Some("spec.initContainers{setup}")
        );
    }
}

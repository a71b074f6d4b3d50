//! The EndpointSlice controller: for every Service with a selector, the
//! `discovery.k8s.io/v1` EndpointSlices of the pods it selects (see
//! [`desired`] and [`slices`]), and the legacy Endpoints object beside them
//! (see [`endpoints`]). Services without a selector are left alone: their
//! slices and Endpoints are written by users.
//!
//! Watches of Services, Pods, Nodes, this controller's slices and Endpoints
//! feed local caches; a change queues the Services it concerns (a pod's
//! Services before and after the change), and kube-runtime's applier
//! reconciles each queued Service, one reconcile per Service at a time.
//! Slices are owned by their Service, so the garbage collector removes them
//! with it; the Endpoints object is deleted here when its Service goes.

pub mod desired;
pub mod endpoints;
pub mod slices;
pub mod tracker;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ContainerPort, Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::controller::{self, applier, Action};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio::sync::{mpsc, Notify};

use crate::error::{is_conflict, is_not_found, ControllerError};
use crate::events::{object_reference, EventRecorder, EventType};
use crate::watch;
use tracker::SliceTracker;

pub use desired::{CONTROLLER_NAME, LABEL_MANAGED_BY, LABEL_SERVICE_NAME};
pub use slices::{plan_slices, SlicePlan, DEFAULT_MAX_ENDPOINTS_PER_SLICE};

/// The component name on this controller's events, as in Kubernetes.
pub const EVENT_COMPONENT: &str = "endpoint-slice-controller";
/// The component name on events about legacy Endpoints, Kubernetes' Endpoints controller's.
pub const ENDPOINTS_EVENT_COMPONENT: &str = "endpoint-controller";

/// A reconcile that found its cache behind its own writes is tried again after this long.
const STALE_RETRY_AFTER: Duration = Duration::from_millis(50);
/// A failed reconcile is tried again after this long.
const ERROR_RETRY_AFTER: Duration = Duration::from_secs(1);
/// A Service with pods on unknown nodes is looked at again after this long.
const MISSING_NODE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Settings of the EndpointSlice controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSliceConfig {
    pub max_endpoints_per_slice: usize,
    /// Services reconciled at the same time at most.
    pub workers: u16,
    /// Also write the legacy Endpoints object of each Service.
    pub legacy_endpoints: bool,
}

impl Default for EndpointSliceConfig {
    fn default() -> Self {
        EndpointSliceConfig {
            max_endpoints_per_slice: DEFAULT_MAX_ENDPOINTS_PER_SLICE,
            workers: 5,
            legacy_endpoints: true,
        }
    }
}

/// What about a pod matters to endpoints; other changes (container
/// statuses, annotations) queue nothing.
#[derive(Debug, PartialEq)]
struct EndpointView {
    labels: BTreeMap<String, String>,
    ips: Vec<std::net::IpAddr>,
    ready: bool,
    terminating: bool,
    phase: Option<String>,
    node: Option<String>,
    hostname: Option<String>,
    subdomain: Option<String>,
    ports: Vec<ContainerPort>,
}

fn endpoint_view(pod: &Pod) -> EndpointView {
    let spec = pod.spec.as_ref();
    EndpointView {
        labels: pod.labels().clone(),
        ips: desired::pod_ips(pod),
        ready: desired::is_pod_ready(pod),
        terminating: pod.metadata.deletion_timestamp.is_some(),
        phase: pod.status.as_ref().and_then(|s| s.phase.clone()),
        node: spec.and_then(|s| s.node_name.clone()),
        hostname: spec.and_then(|s| s.hostname.clone()),
        subdomain: spec.and_then(|s| s.subdomain.clone()),
        ports: spec
            .into_iter()
            .flat_map(|s| {
                s.containers
                    .iter()
                    .chain(s.init_containers.iter().flatten())
            })
            .flat_map(|c| c.ports.iter().flatten().cloned())
            .collect(),
    }
}

struct Context {
    client: Client,
    config: EndpointSliceConfig,
    services: Store<Service>,
    pods: Store<Pod>,
    nodes: Store<Node>,
    slices: Store<EndpointSlice>,
    endpoints: Store<Endpoints>,
    tracker: Mutex<SliceTracker>,
    recorder: EventRecorder,
    endpoints_recorder: EventRecorder,
}

impl Context {
    async fn caches_ready(&self) -> Result<(), ControllerError> {
        let waits = [
            (self.pods.wait_until_ready().await, "pods"),
            (self.nodes.wait_until_ready().await, "nodes"),
            (self.slices.wait_until_ready().await, "endpointslices"),
        ];
        for (ready, resource) in waits {
            ready.map_err(|_| ControllerError::WatchEnded { resource })?;
        }
        if self.config.legacy_endpoints {
            self.endpoints
                .wait_until_ready()
                .await
                .map_err(|_| ControllerError::WatchEnded {
                    resource: "endpoints",
                })?;
        }
        Ok(())
    }

    fn tracker(&self) -> std::sync::MutexGuard<'_, SliceTracker> {
        self.tracker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The Services selecting `pod`.
    fn services_of(&self, pod: &Pod) -> Vec<ObjectRef<Service>> {
        self.services
            .state()
            .iter()
            .filter(|s| desired::selects(s, pod))
            .map(|s| ObjectRef::from_obj(s.as_ref()))
            .collect()
    }

    async fn write_slices(
        &self,
        service: &Service,
        key: &str,
        plan: SlicePlan,
    ) -> Result<(), ControllerError> {
        let namespace = service.namespace().unwrap_or_default();
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), &namespace);
        for slice in &plan.create {
            let created =
                api.create(&PostParams::default(), slice)
                    .await
                    .map_err(ControllerError::api(format!(
                        "creating an EndpointSlice for Service {key}"
                    )))?;
            self.tracker().written(key, &created);
        }
        for slice in &plan.update {
            let name = slice.name_any();
            let updated = api
                .replace(&name, &PostParams::default(), slice)
                .await
                .map_err(|source| {
                    if is_conflict(&source) {
                        ControllerError::StaleCache(format!(
                            "updating EndpointSlice {name} of Service {key}"
                        ))
                    } else {
                        ControllerError::Api {
                            context: format!("updating EndpointSlice {name} of Service {key}"),
                            source,
                        }
                    }
                })?;
            self.tracker().written(key, &updated);
        }
        for slice in &plan.delete {
            let name = slice.name_any();
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => self.tracker().deleted(key, slice),
                Err(error) if is_not_found(&error) => {}
                Err(source) => {
                    return Err(ControllerError::Api {
                        context: format!("deleting EndpointSlice {name} of Service {key}"),
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    async fn write_endpoints(
        &self,
        service: &Service,
        key: &str,
        pods: &[&Pod],
    ) -> Result<(), ControllerError> {
        let namespace = service.namespace().unwrap_or_default();
        let name = service.name_any();
        let current = self
            .endpoints
            .get(&ObjectRef::new(&name).within(&namespace));
        let Some(wanted) =
            endpoints::desired_endpoints_object(service, pods.iter().copied(), current.as_deref())
        else {
            return Ok(());
        };
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), &namespace);
        let creating = current.is_none();
        let written = if creating {
            api.create(&PostParams::default(), &wanted).await
        } else {
            api.replace(&name, &PostParams::default(), &wanted).await
        };
        match written {
            Ok(_) => Ok(()),
            // The cache has not seen the last write (or someone else's) yet.
            Err(error) if is_conflict(&error) => Err(ControllerError::StaleCache(format!(
                "Endpoints of Service {key}"
            ))),
            Err(source) => {
                let (reason, message) = if creating {
                    (
                        "FailedToCreateEndpoint",
                        format!("Failed to create endpoint for service {key}: {source}"),
                    )
                } else {
                    (
                        "FailedToUpdateEndpoint",
                        format!("Failed to update endpoint {key}: {source}"),
                    )
                };
                self.endpoints_recorder.record(
                    object_reference(&wanted),
                    EventType::Warning,
                    reason,
                    message,
                );
                Err(ControllerError::Api {
                    context: format!("writing the Endpoints of Service {key}"),
                    source,
                })
            }
        }
    }

    /// Deletes the Endpoints of a Service that is gone.
    async fn service_gone(&self, namespace: &str, name: &str) {
        if !self.config.legacy_endpoints {
            return;
        }
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), namespace);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {
                tracing::debug!(%namespace, %name, "deleted the Endpoints of a deleted Service")
            }
            Err(error) if is_not_found(&error) => {}
            Err(error) => {
                tracing::warn!(%namespace, %name, %error, "could not delete the Endpoints of a deleted Service");
            }
        }
    }
}

async fn reconcile(service: Arc<Service>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    ctx.caches_ready().await?;
    if !desired::is_managed(&service) {
        return Ok(Action::await_change());
    }
    let namespace = service.namespace().unwrap_or_default();
    let name = service.name_any();
    let key = format!("{namespace}/{name}");
    let pods = ctx.pods.state_filter(|p| desired::selects(&service, p));
    let pods: Vec<&Pod> = pods.iter().map(Arc::as_ref).collect();
    let existing = ctx.slices.state_filter(|s| {
        s.namespace().as_deref() == Some(namespace.as_str())
            && s.labels().get(LABEL_SERVICE_NAME) == Some(&name)
    });
    let existing: Vec<&EndpointSlice> = existing.iter().map(Arc::as_ref).collect();
    if ctx.tracker().is_stale(&key, &existing) {
        return Err(ControllerError::StaleCache(format!(
            "EndpointSlices of Service {key}"
        )));
    }
    let node_of = |node: &str| {
        ctx.nodes
            .get(&ObjectRef::new(node))
            .map(|n| Node::clone(&n))
    };
    let plan = plan_slices(
        &service,
        &pods,
        node_of,
        &existing,
        ctx.config.max_endpoints_per_slice,
    );
    let missing_nodes = plan.missing_nodes.clone();
    if !plan.is_empty() {
        tracing::debug!(service = %key, create = plan.create.len(), update = plan.update.len(), delete = plan.delete.len(), "writing EndpointSlices");
    }
    if let Err(error) = ctx.write_slices(&service, &key, plan).await {
        if !matches!(error, ControllerError::StaleCache(_)) {
            ctx.recorder.record(
                object_reference(service.as_ref()),
                EventType::Warning,
                "FailedToUpdateEndpointSlices",
                format!("Error updating Endpoint Slices for Service {key}: {error}"),
            );
        }
        return Err(error);
    }
    if ctx.config.legacy_endpoints {
        ctx.write_endpoints(&service, &key, &pods).await?;
    }
    if !missing_nodes.is_empty() {
        tracing::info!(service = %key, pods = ?missing_nodes, "pods on unknown nodes left out of the Service's endpoints");
        return Ok(Action::requeue(MISSING_NODE_RETRY_AFTER));
    }
    Ok(Action::await_change())
}

fn error_policy(service: Arc<Service>, error: &ControllerError, _ctx: Arc<Context>) -> Action {
    let key = format!(
        "{}/{}",
        service.namespace().unwrap_or_default(),
        service.name_any()
    );
    match error {
        ControllerError::StaleCache(_) => {
            tracing::debug!(service = %key, %error, "retrying");
            Action::requeue(STALE_RETRY_AFTER)
        }
        _ => {
            tracing::warn!(service = %key, %error, "EndpointSlice reconcile failed; retrying");
            Action::requeue(ERROR_RETRY_AFTER)
        }
    }
}

type Queue = mpsc::UnboundedSender<ObjectRef<Service>>;

fn enqueue(queue: &Queue, services: impl IntoIterator<Item = ObjectRef<Service>>) {
    for service in services {
        // The receiver lives as long as the applier, which outlives the watches.
        let _ = queue.send(service);
    }
}

fn enqueue_all(queue: &Queue, services: &Store<Service>) {
    enqueue(
        queue,
        services
            .state()
            .iter()
            .map(|s| ObjectRef::from_obj(s.as_ref())),
    );
}

async fn watch_services(
    ctx: Arc<Context>,
    mut writer: reflector::store::Writer<Service>,
    queue: Queue,
) -> ControllerError {
    let mut events = watch::events(
        Api::<Service>::all(ctx.client.clone()),
        watcher::Config::default(),
        "services",
    );
    while let Some(event) = events.next().await {
        writer.apply_watcher_event(&event);
        match &event {
            watcher::Event::Apply(service) | watcher::Event::InitApply(service) => {
                enqueue(&queue, [ObjectRef::from_obj(service)]);
            }
            watcher::Event::Delete(service) => {
                ctx.service_gone(
                    &service.namespace().unwrap_or_default(),
                    &service.name_any(),
                )
                .await;
            }
            watcher::Event::Init | watcher::Event::InitDone => {}
        }
    }
    ControllerError::WatchEnded {
        resource: "services",
    }
}

async fn watch_pods(
    ctx: Arc<Context>,
    mut writer: reflector::store::Writer<Pod>,
    queue: Queue,
) -> ControllerError {
    let mut events = watch::events(
        Api::<Pod>::all(ctx.client.clone()),
        watcher::Config::default(),
        "pods",
    );
    while let Some(event) = events.next().await {
        let before = match &event {
            watcher::Event::Apply(pod) => ctx.pods.get(&ObjectRef::from_obj(pod)),
            _ => None,
        };
        writer.apply_watcher_event(&event);
        match &event {
            watcher::Event::Apply(pod) => {
                let changed = before
                    .as_deref()
                    .is_none_or(|old| endpoint_view(old) != endpoint_view(pod));
                if changed {
                    let mut services = ctx.services_of(pod);
                    if let Some(old) = before.as_deref() {
                        services.extend(ctx.services_of(old));
                    }
                    enqueue(&queue, services);
                }
            }
            watcher::Event::Delete(pod) => enqueue(&queue, ctx.services_of(pod)),
            // After a (re)list, pods may have gone unseen: look at every Service.
            watcher::Event::InitDone => enqueue_all(&queue, &ctx.services),
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
    }
    ControllerError::WatchEnded { resource: "pods" }
}

fn service_of_slice(slice: &EndpointSlice) -> Option<ObjectRef<Service>> {
    let service = slice.labels().get(LABEL_SERVICE_NAME)?;
    Some(ObjectRef::new(service).within(&slice.namespace()?))
}

async fn watch_slices(
    ctx: Arc<Context>,
    mut writer: reflector::store::Writer<EndpointSlice>,
    queue: Queue,
) -> ControllerError {
    let managed =
        watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={CONTROLLER_NAME}"));
    let mut events = watch::events(
        Api::<EndpointSlice>::all(ctx.client.clone()),
        managed,
        "endpointslices",
    );
    while let Some(event) = events.next().await {
        writer.apply_watcher_event(&event);
        match &event {
            watcher::Event::Apply(slice) => {
                // Our own writes coming back need no reconcile; others' changes do.
                if !ctx.tracker().observe_applied(slice) {
                    enqueue(&queue, service_of_slice(slice));
                }
            }
            watcher::Event::Delete(slice) => {
                if !ctx.tracker().observe_deleted(slice) {
                    enqueue(&queue, service_of_slice(slice));
                }
            }
            watcher::Event::InitDone => {
                ctx.tracker().reset();
                enqueue_all(&queue, &ctx.services);
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
    }
    ControllerError::WatchEnded {
        resource: "endpointslices",
    }
}

async fn watch_endpoints(
    ctx: Arc<Context>,
    mut writer: reflector::store::Writer<Endpoints>,
    queue: Queue,
) -> ControllerError {
    let mut events = watch::events(
        Api::<Endpoints>::all(ctx.client.clone()),
        watcher::Config::default(),
        "endpoints",
    );
    let mut leftovers_checked = false;
    while let Some(event) = events.next().await {
        writer.apply_watcher_event(&event);
        match &event {
            // Someone deleted a Service's Endpoints: write them again.
            watcher::Event::Delete(endpoints) => {
                let service = ObjectRef::<Service>::new(&endpoints.name_any())
                    .within(&endpoints.namespace().unwrap_or_default());
                if ctx.services.get(&service).is_some() {
                    enqueue(&queue, [service]);
                }
            }
            watcher::Event::InitDone if !leftovers_checked => {
                leftovers_checked = true;
                remove_leftover_endpoints(&ctx).await;
            }
            _ => {}
        }
    }
    ControllerError::WatchEnded {
        resource: "endpoints",
    }
}

/// Endpoints whose Service went while no controller watched: Kubernetes'
/// Endpoints controller removes them when it starts, and so does this one,
/// but only those marked as written by an Endpoints controller, never a
/// user's.
async fn remove_leftover_endpoints(ctx: &Context) {
    if ctx.services.wait_until_ready().await.is_err() {
        return;
    }
    let leftovers = ctx.endpoints.state_filter(|ep| {
        let service =
            ObjectRef::<Service>::new(&ep.name_any()).within(&ep.namespace().unwrap_or_default());
        endpoints::is_managed_endpoints(ep) && ctx.services.get(&service).is_none()
    });
    for ep in leftovers {
        let namespace = ep.namespace().unwrap_or_default();
        tracing::info!(%namespace, name = %ep.name_any(), "deleting Endpoints whose Service is gone");
        ctx.service_gone(&namespace, &ep.name_any()).await;
    }
}

/// Runs the EndpointSlice controller until a watch fails for good.
pub async fn run(client: Client, config: EndpointSliceConfig) -> Result<(), ControllerError> {
    if config.max_endpoints_per_slice == 0 || config.max_endpoints_per_slice > 1000 {
        return Err(ControllerError::Config(format!(
            "max endpoints per slice must be between 1 and 1000, not {}",
            config.max_endpoints_per_slice
        )));
    }
    let (services, service_writer) = reflector::store::<Service>();
    let (pods, pod_writer) = reflector::store::<Pod>();
    let (nodes, node_writer) = reflector::store::<Node>();
    let (slices, slice_writer) = reflector::store::<EndpointSlice>();
    let (endpoints, endpoints_writer) = reflector::store::<Endpoints>();
    let legacy_endpoints = config.legacy_endpoints;
    let workers = config.workers;
    let ctx = Arc::new(Context {
        recorder: EventRecorder::start(client.clone(), EVENT_COMPONENT),
        endpoints_recorder: EventRecorder::start(client.clone(), ENDPOINTS_EVENT_COMPONENT),
        client: client.clone(),
        config,
        services: services.clone(),
        pods,
        nodes,
        slices,
        endpoints,
        tracker: Mutex::new(SliceTracker::default()),
    });
    let (queue, requests) = mpsc::unbounded_channel::<ObjectRef<Service>>();
    let requests = futures_util::stream::unfold(requests, |mut requests| async move {
        requests
            .recv()
            .await
            .map(|request| (Ok::<_, Infallible>(request), requests))
    });
    let reconciles = applier(
        |service, ctx| Box::pin(reconcile(service, ctx)),
        error_policy,
        Arc::clone(&ctx),
        services,
        requests,
        controller::Config::default().concurrency(workers),
    )
    .for_each(|result| async move {
        match result {
            Ok(_) | Err(controller::Error::ReconcilerFailed(..)) => {}
            Err(controller::Error::ObjectNotFound(object)) => {
                tracing::debug!(%object, "a queued Service is gone");
            }
            Err(error) => tracing::warn!(%error, "EndpointSlice controller"),
        }
    });
    let legacy = async {
        if legacy_endpoints {
            watch_endpoints(Arc::clone(&ctx), endpoints_writer, queue.clone()).await
        } else {
            std::future::pending().await
        }
    };
    tokio::select! {
        () = reconciles => Err(ControllerError::WatchEnded { resource: "services" }),
        error = watch_services(Arc::clone(&ctx), service_writer, queue.clone()) => Err(error),
        error = watch_pods(Arc::clone(&ctx), pod_writer, queue.clone()) => Err(error),
        error = watch_slices(Arc::clone(&ctx), slice_writer, queue.clone()) => Err(error),
        error = watch::reflect(Api::all(client), watcher::Config::default(), node_writer, Arc::new(Notify::new()), "nodes") => Err(error),
        error = legacy => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::desired::tests::pod;
    use super::*;

    #[test]
    fn status_chatter_does_not_change_the_endpoint_view() {
        let before = pod("a", &[("app", "web")], "10.244.0.5", true);
        let mut chatter = before.clone();
        chatter.metadata.annotations = Some([("x".to_string(), "y".to_string())].into());
        chatter.status.as_mut().expect("status").start_time =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::now(),
            ));
        assert_eq!(endpoint_view(&before), endpoint_view(&chatter));
        let unready = pod("a", &[("app", "web")], "10.244.0.5", false);
        assert_ne!(endpoint_view(&before), endpoint_view(&unready));
        let relabelled = pod("a", &[("app", "db")], "10.244.0.5", true);
        assert_ne!(endpoint_view(&before), endpoint_view(&relabelled));
    }

    #[test]
    fn a_slice_points_back_at_its_service() {
        let mut slice = EndpointSlice::default();
        slice.metadata.namespace = Some("shop".into());
        slice.metadata.labels = Some([(LABEL_SERVICE_NAME.to_string(), "web".to_string())].into());
        assert_eq!(
            service_of_slice(&slice),
            Some(ObjectRef::new("web").within("shop"))
        );
    }
}

//! LoadBalancer IPAM: every Service of type LoadBalancer whose
//! `spec.loadBalancerClass` is unset or [`LOAD_BALANCER_CLASS`] gets one IPv4
//! address from the configured pools in `status.loadBalancer.ingress`
//! (`ipMode: VIP`). Services of other classes are never touched.
//!
//! `spec.loadBalancerIP` is honoured when the address is in a pool and free;
//! when two Services ask for the same one, the older Service (then the
//! lower namespace/name) gets it. The assignments live in the Services'
//! statuses only: after a (re)list the books are rebuilt from them before
//! anything is handed out, so a restarted controller keeps every address.
//! A Service that gets no address (exhausted pools, a refused request) has
//! an `AllocationFailed` warning event and waits; it is tried again whenever
//! an address is released. A Service that stops being ours (type or class
//! changed) loses this controller's ingress entries, and a deleted one
//! frees its address.

mod allocator;
mod decide;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use ipnet::IpNet;
use k8s_openapi::api::core::v1::{LoadBalancerIngress, Service};
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Api, Client};

pub use allocator::{AllocationError, LoadBalancerAllocator, PoolError, ServiceKey};
pub use decide::{
    decide, ingress, ingress_patch, is_ours, precedence, rebuild, requested_ip, service_key,
    vip_ingress, Outcome, IP_MODE_VIP, LOAD_BALANCER_CLASS,
};

use crate::error::{is_conflict, is_not_found, ControllerError};
use crate::events::{object_reference, EventRecorder, EventType};
use crate::watch;

/// The component name on this controller's events.
pub const EVENT_COMPONENT: &str = "podnet-load-balancer-ipam";
/// Reason of the event when a Service gets its address.
pub const REASON_ALLOCATED: &str = "IPAllocated";
/// Reason of the warning when a Service gets no address.
pub const REASON_ALLOCATION_FAILED: &str = "AllocationFailed";

/// How often Services whose status could not be written are tried again.
const RETRY_EVERY: Duration = Duration::from_secs(2);

/// Settings of LoadBalancer IPAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancerConfig {
    /// IPv4 pools the addresses come from, handed out in this order.
    pub pools: Vec<IpNet>,
}

/// Runs LoadBalancer IPAM until the watch of Services ends.
pub async fn run(client: Client, config: LoadBalancerConfig) -> Result<(), ControllerError> {
    let books = LoadBalancerAllocator::new(&config.pools)
        .map_err(|e| ControllerError::Config(e.to_string()))?;
    let mut controller = LoadBalancerIpam {
        client: client.clone(),
        recorder: EventRecorder::start(client.clone(), EVENT_COMPONENT),
        pools: config.pools,
        books,
        waiting: BTreeMap::new(),
    };
    let mut services = watch::events(
        Api::<Service>::all(client),
        watcher::Config::default(),
        "services",
    );
    let mut listed: Vec<Service> = Vec::new();
    let mut retry = tokio::time::interval(RETRY_EVERY);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = services.next() => match event {
                None => return Err(ControllerError::WatchEnded { resource: "services" }),
                Some(watcher::Event::Init) => listed.clear(),
                Some(watcher::Event::InitApply(service)) => listed.push(service),
                Some(watcher::Event::InitDone) => {
                    let mut listed = std::mem::take(&mut listed);
                    controller.rebuild(&listed)?;
                    listed.sort_by(precedence);
                    for service in listed {
                        controller.sync(service).await;
                    }
                }
                Some(watcher::Event::Apply(service)) => controller.sync(service).await,
                Some(watcher::Event::Delete(service)) => controller.forget(&service).await,
            },
            _ = retry.tick() => controller.retry_waiting().await,
        }
    }
}

/// Why a Service is waiting, and whether that has been reported already.
struct Waiting {
    service: Service,
    /// The failure last reported by event; the same failure is not reported
    /// again on every retry.
    reported: Option<String>,
}

struct LoadBalancerIpam {
    client: Client,
    recorder: EventRecorder,
    pools: Vec<IpNet>,
    books: LoadBalancerAllocator,
    /// Services without their address yet (no address, or the write failed).
    waiting: BTreeMap<ServiceKey, Waiting>,
}

impl LoadBalancerIpam {
    fn rebuild(&mut self, services: &[Service]) -> Result<(), ControllerError> {
        let mut books = LoadBalancerAllocator::new(&self.pools)
            .map_err(|e| ControllerError::Config(e.to_string()))?;
        for problem in rebuild(&mut books, services) {
            tracing::warn!(%problem, "load-balancer IPAM: an address shown by two services goes to the older one");
        }
        self.books = books;
        let keys: Vec<ServiceKey> = services.iter().map(service_key).collect();
        self.waiting.retain(|key, _| keys.contains(key));
        tracing::info!(
            services = services.len(),
            free = self.books.free(),
            "load-balancer IPAM: addresses rebuilt from the services"
        );
        Ok(())
    }

    async fn sync(&mut self, service: Service) {
        let key = service_key(&service);
        let outcome = decide(&mut self.books, &service);
        match outcome {
            Outcome::Nothing => {
                self.waiting.remove(&key);
            }
            Outcome::Write { ip } => {
                let written = self.write_ingress(&service, &[vip_ingress(ip)]).await;
                if written {
                    tracing::info!(service = %key, %ip, "load-balancer IPAM: assigned an address");
                    self.recorder.record(
                        object_reference(&service),
                        EventType::Normal,
                        REASON_ALLOCATED,
                        format!("Assigned IP [\"{ip}\"]"),
                    );
                }
            }
            Outcome::Clear { keep } => {
                if self.write_ingress(&service, &keep).await {
                    tracing::info!(service = %key, "load-balancer IPAM: removed this controller's address from a service that is no longer ours");
                    self.retry_waiting().await;
                }
            }
            Outcome::Failed { error, clear } => {
                let message = format!("Failed to allocate IP for \"{key}\": {error}");
                let reported = self.waiting.get(&key).and_then(|w| w.reported.as_deref())
                    == Some(message.as_str());
                if !reported {
                    tracing::warn!(service = %key, %error, "load-balancer IPAM: the service waits for an address");
                    self.recorder.record(
                        object_reference(&service),
                        EventType::Warning,
                        REASON_ALLOCATION_FAILED,
                        message.clone(),
                    );
                }
                if clear {
                    self.write_ingress(&service, &[]).await;
                }
                // A write failure above already queued a retry; this keeps
                // the failure as reported either way.
                self.waiting.insert(
                    key,
                    Waiting {
                        service,
                        reported: Some(message),
                    },
                );
            }
        }
    }

    /// Writes `ingress` to the Service's status; `true` when written. A
    /// failure queues the Service for a retry, except when the Service
    /// changed or went meanwhile (its watch event decides again).
    async fn write_ingress(&mut self, service: &Service, ingress: &[LoadBalancerIngress]) -> bool {
        let key = service_key(service);
        let patch = ingress_patch(service.metadata.resource_version.as_deref(), ingress);
        let api: Api<Service> = Api::namespaced(self.client.clone(), &key.namespace);
        match api
            .patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                self.waiting.remove(&key);
                true
            }
            Err(error) if is_conflict(&error) || is_not_found(&error) => {
                tracing::debug!(service = %key, %error, "load-balancer IPAM: the service changed under the patch");
                self.waiting.remove(&key);
                false
            }
            Err(error) => {
                let error = ControllerError::api(format!(
                    "writing the load-balancer status of {key}"
                ))(error);
                tracing::warn!(%error, "load-balancer IPAM: will retry");
                let reported = self.waiting.remove(&key).and_then(|w| w.reported);
                self.waiting.insert(
                    key,
                    Waiting {
                        service: service.clone(),
                        reported,
                    },
                );
                false
            }
        }
    }

    async fn forget(&mut self, service: &Service) {
        let key = service_key(service);
        self.waiting.remove(&key);
        if let Some(ip) = self.books.release(&key) {
            tracing::info!(service = %key, %ip, "load-balancer IPAM: released the address of a deleted service");
            self.retry_waiting().await;
        }
    }

    /// Decides again about every waiting Service, older ones first.
    async fn retry_waiting(&mut self) {
        let mut waiting: Vec<Service> = self.waiting.values().map(|w| w.service.clone()).collect();
        waiting.sort_by(precedence);
        for service in waiting {
            Box::pin(self.sync(service)).await;
        }
    }
}

//! The proxy engine: one thread that owns the proxy table. It takes the
//! watched changes in order, lets them pile up while a sync runs, and then
//! applies them all in one transaction.

use std::collections::BTreeSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use podnet_nft::NftCli;
use podnet_proxy::{Frontend, ProxyConfig, ServiceProxy, UdpTarget};
use tokio::sync::watch;

use super::metrics::ProxyMetrics;
use super::ProxyStatus;
use crate::error::AgentError;

/// The first retry after a failed sync, doubled up to [`RETRY_CEILING`].
const FIRST_RETRY: Duration = Duration::from_millis(200);
const RETRY_CEILING: Duration = Duration::from_secs(10);

/// What the watches tell the engine.
#[derive(Debug)]
pub enum Change {
    Service(Service),
    ServiceGone(Service),
    /// Every Service, after a (re)list.
    Services(Vec<Service>),
    Slice(EndpointSlice),
    SliceGone(EndpointSlice),
    /// Every EndpointSlice, after a (re)list.
    Slices(Vec<EndpointSlice>),
    Stop,
}

/// Starts the engine thread; changes go in through the returned sender.
pub fn start(
    config: ProxyConfig,
    full_sync_every: Duration,
    status: watch::Sender<ProxyStatus>,
    metrics: Arc<ProxyMetrics>,
) -> Result<(Sender<Change>, JoinHandle<()>), AgentError> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let mut proxy = ServiceProxy::new(config, NftCli::new());
    // The engine thread, nft and the element batches all act on the
    // agent's own namespace, so element-only changes may skip nft.
    proxy.set_netlink_elements(true);
    let engine = Engine {
        proxy,
        services_listed: false,
        slices_listed: false,
        dirty: false,
        full_sync_every,
        next_full_sync: Instant::now() + full_sync_every,
        retry_at: None,
        retry_delay: FIRST_RETRY,
        status,
        metrics,
    };
    let handle = std::thread::Builder::new()
        .name("service-proxy".into())
        .spawn(move || engine.run(receiver))
        .map_err(AgentError::io("start the service proxy thread"))?;
    Ok((sender, handle))
}

struct Engine {
    proxy: ServiceProxy<NftCli>,
    /// No rules are written before both kinds were listed once: a restarted
    /// proxy must not replace a working table with a partial one.
    services_listed: bool,
    slices_listed: bool,
    /// Changes not applied yet.
    dirty: bool,
    full_sync_every: Duration,
    next_full_sync: Instant,
    retry_at: Option<Instant>,
    retry_delay: Duration,
    status: watch::Sender<ProxyStatus>,
    metrics: Arc<ProxyMetrics>,
}

impl Engine {
    fn run(mut self, changes: Receiver<Change>) {
        loop {
            let wake_at = match self.retry_at {
                Some(retry) => retry.min(self.next_full_sync),
                None => self.next_full_sync,
            };
            let wait = wake_at.saturating_duration_since(Instant::now());
            match changes.recv_timeout(wait) {
                Ok(change) => {
                    if !self.take(change) {
                        return;
                    }
                    // Whatever else is queued joins the same transaction.
                    while let Ok(change) = changes.try_recv() {
                        if !self.take(change) {
                            return;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    if now >= self.next_full_sync {
                        self.next_full_sync = now + self.full_sync_every;
                        self.proxy.refresh_on_next_sync();
                        self.dirty = true;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let waiting = self.retry_at.is_some_and(|at| Instant::now() < at);
            if self.dirty && self.services_listed && self.slices_listed && !waiting {
                self.sync();
            }
        }
    }

    /// Records one change; false on Stop.
    fn take(&mut self, change: Change) -> bool {
        let state = self.proxy.state_mut();
        match change {
            Change::Stop => return false,
            Change::Service(service) => state.apply_service(service),
            Change::ServiceGone(service) => state.delete_service(
                &service.namespace().unwrap_or_default(),
                &service.name_any(),
            ),
            Change::Services(all) => {
                state.replace_services(all);
                self.services_listed = true;
            }
            Change::Slice(slice) => state.apply_slice(slice),
            Change::SliceGone(slice) => {
                state.delete_slice(&slice.namespace().unwrap_or_default(), &slice.name_any())
            }
            Change::Slices(all) => {
                state.replace_slices(all);
                self.slices_listed = true;
            }
        }
        if !self.dirty {
            self.dirty = true;
            self.status.send_modify(|status| {
                status.pending_since.get_or_insert_with(SystemTime::now);
            });
        }
        true
    }

    fn sync(&mut self) {
        match self.proxy.sync() {
            Ok(report) => {
                self.dirty = false;
                self.retry_at = None;
                self.retry_delay = FIRST_RETRY;
                let program = self.proxy.program();
                self.metrics.synced(&report, &program.stats);
                tracing::debug!(
                    duration = ?report.duration,
                    full = report.full,
                    commands = report.commands,
                    "service rules applied"
                );
                let health_checks = Arc::new(program.health_checks.clone());
                let load_balancers = Arc::new(program.load_balancers.clone());
                let endpoint_nodes = Arc::new(
                    program
                        .load_balancers
                        .iter()
                        .filter(|lb| lb.local_only)
                        .map(|lb| {
                            let nodes = ready_endpoint_nodes(
                                &self
                                    .proxy
                                    .state()
                                    .slices_of_service(&lb.namespace, &lb.name),
                            );
                            ((lb.namespace.clone(), lb.name.clone()), nodes)
                        })
                        .collect(),
                );
                self.status.send_modify(|status| {
                    status.endpoint_nodes = endpoint_nodes;
                    status.last_sync = Some(SystemTime::now());
                    status.pending_since = None;
                    status.last_error = None;
                    status.health_checks = health_checks;
                    status.load_balancers = load_balancers;
                });
                forget_udp_flows(&report.stale_udp);
            }
            Err(error) => {
                self.metrics.failed();
                tracing::warn!(%error, retry_in = ?self.retry_delay, "service rules not applied");
                self.retry_at = Some(Instant::now() + self.retry_delay);
                self.retry_delay = (self.retry_delay * 2).min(RETRY_CEILING);
                let message = error.to_string();
                self.status
                    .send_modify(|status| status.last_error = Some(message));
            }
        }
    }
}

/// The nodes hosting ready endpoints in `slices`: the candidates to announce
/// an externalTrafficPolicy Local Service's LoadBalancer address.
fn ready_endpoint_nodes(slices: &[&EndpointSlice]) -> BTreeSet<String> {
    slices
        .iter()
        .flat_map(|slice| &slice.endpoints)
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
        .filter_map(|e| e.node_name.clone())
        .collect()
}

/// Deletes the conntrack entries of UDP flows whose endpoint went: UDP has
/// no end of connection, so without this a client keeps sending to the
/// gone endpoint for as long as it keeps sending.
fn forget_udp_flows(stale: &[UdpTarget]) {
    for target in stale {
        let deleted = match target.frontend {
            Frontend::Ip(ip, port) => {
                podnet_netlink::conntrack::delete_udp_flows(ip, Some(port), target.endpoint)
            }
            Frontend::NodePort(port) => {
                podnet_netlink::conntrack::delete_udp_flows_to_port(port, target.endpoint)
            }
        };
        match deleted {
            Ok(0) => {}
            Ok(count) => {
                tracing::debug!(?target, count, "stale UDP conntrack entries deleted")
            }
            Err(error) => {
                tracing::warn!(?target, %error, "could not delete stale UDP conntrack entries")
            }
        }
    }
}

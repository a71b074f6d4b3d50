//! podnet's side: `ServiceProxy<NftCli>` fed the same objects, run on threads inside
//! the namespace whose kernel it programs (nft starts in its caller's namespace).

use crate::control::{changed_service, changed_slice, ControlTimes, CLUSTER_CIDR};
use crate::error::BenchError;
use crate::netns::{self, NamedNetns};
use crate::objects::{self, PROXY_NODE};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use podnet_nft::NftCli;
use podnet_proxy::{ProxyConfig, ServiceProxy, SyncReport};
use std::time::{Duration, Instant};

pub type Proxy = ServiceProxy<NftCli>;

pub fn new_proxy() -> Result<Proxy, BenchError> {
    let cidr = CLUSTER_CIDR
        .parse()
        .map_err(|e| BenchError::InvalidOption {
            option: "cluster-cidr",
            reason: format!("{CLUSTER_CIDR}: {e}"),
        })?;
    let mut proxy = ServiceProxy::new(ProxyConfig::new(PROXY_NODE, vec![cidr]), NftCli::new());
    // nft and the element batches both work on the namespace of the proxy's thread.
    proxy.set_netlink_elements(true);
    Ok(proxy)
}

fn proxy_error(netns: &str, step: &str, e: impl std::fmt::Display) -> BenchError {
    BenchError::Proxy {
        namespace: netns.to_string(),
        step: step.to_string(),
        detail: e.to_string(),
    }
}

/// Hands the objects to the proxy and syncs, timing both together.
pub fn load_and_sync(
    proxy: &mut Proxy,
    netns: &str,
    step: &str,
    objects: Vec<(Service, EndpointSlice)>,
) -> Result<(Duration, SyncReport), BenchError> {
    let start = Instant::now();
    let state = proxy.state_mut();
    for (service, slice) in objects {
        state.apply_service(service);
        state.apply_slice(slice);
    }
    let report = proxy.sync().map_err(|e| proxy_error(netns, step, e))?;
    Ok((start.elapsed(), report))
}

/// Makes `objects` the proxy's whole state (Services and slices not among them go)
/// and syncs the table to it in one full replace.
pub fn replace_all(
    proxy: &mut Proxy,
    netns: &str,
    step: &str,
    objects: Vec<(Service, EndpointSlice)>,
) -> Result<SyncReport, BenchError> {
    let (services, slices): (Vec<Service>, Vec<EndpointSlice>) = objects.into_iter().unzip();
    let state = proxy.state_mut();
    state.replace_services(services);
    state.replace_slices(slices);
    // Thousands of Services at once are loaded as after a restart: one element batch
    // of that size does not fit in a netlink message.
    proxy.force_full_sync();
    proxy.sync().map_err(|e| proxy_error(netns, step, e))
}

/// Runs `f` with the proxy on a thread inside `netns`.
pub fn with_proxy_in<T: Send>(
    netns: &NamedNetns,
    proxy: &mut Proxy,
    f: impl FnOnce(&mut Proxy) -> Result<T, BenchError> + Send,
) -> Result<T, BenchError> {
    netns::run_in(netns, "podnet proxy", || f(proxy))?
}

/// Deletes the proxy's table from `netns`.
pub fn remove(netns: &NamedNetns, proxy: &mut Proxy) -> Result<(), BenchError> {
    let name = netns.name().to_string();
    with_proxy_in(netns, proxy, |proxy| {
        proxy
            .remove()
            .map_err(|e| proxy_error(&name, "removing the table", e))
    })
}

/// podnet in `netns`: a full sync of `services` Services, then `changes` Services
/// added one by one, then `changes` single-endpoint changes, each followed by a sync.
pub fn control_plane(
    netns: &NamedNetns,
    services: usize,
    changes: usize,
) -> Result<ControlTimes, BenchError> {
    let cluster = objects::cluster(services, None);
    let name = netns.name().to_string();
    let mut proxy = new_proxy()?;
    with_proxy_in(netns, &mut proxy, move |proxy| {
        let (full, report) = load_and_sync(proxy, &name, "full sync", cluster)?;
        if !report.full {
            return Err(proxy_error(
                &name,
                "full sync",
                "the first sync was not a full one",
            ));
        }
        let stats = &proxy.program().stats;
        let full_detail = format!(
            "{} nft commands; {} chains, {} map/set elements",
            report.commands, stats.chains, stats.elements
        );

        let mut adds = Vec::with_capacity(changes);
        for add in 0..changes {
            crate::signals::check()?;
            let index = services + add;
            let objects = vec![(
                objects::service(index),
                objects::slice(index, &objects::generated_endpoints(index)),
            )];
            let (took, _) = load_and_sync(proxy, &name, "adding a service", objects)?;
            adds.push(took);
        }

        let mut endpoint_changes = Vec::with_capacity(changes);
        for change in 0..changes {
            crate::signals::check()?;
            let index = changed_service(change, changes, services, services / 2);
            let slice = changed_slice(index, change);
            let start = Instant::now();
            proxy.state_mut().apply_slice(slice);
            proxy
                .sync()
                .map_err(|e| proxy_error(&name, "changing an endpoint", e))?;
            endpoint_changes.push(start.elapsed());
        }
        Ok(ControlTimes {
            full,
            adds,
            changes: endpoint_changes,
            full_detail,
        })
    })
}

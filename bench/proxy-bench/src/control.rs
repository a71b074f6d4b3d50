//! Control-plane measurements: from the Service and EndpointSlice objects to rules in
//! a fresh namespace's kernel, first all at once, then one change at a time.

use crate::error::BenchError;
use crate::iptables::{self, KubeProxyRules};
use crate::netns::{self, NamedNetns};
use crate::objects::{self, ENDPOINTS_PER_SLICE};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The cluster CIDR both proxies are told (traffic from outside it is masqueraded).
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";

/// Timings of one proxy's control plane.
pub struct ControlTimes {
    pub full: Duration,
    pub adds: Vec<Duration>,
    pub changes: Vec<Duration>,
    /// What the full sync put into the kernel, in the proxy's own terms.
    pub full_detail: String,
}

/// Which service gets its endpoint changed in change number `change` of `changes`:
/// spread over the services so that no one stays hot in a cache, and never `keep`
/// (the data plane's probe).
pub fn changed_service(change: usize, changes: usize, services: usize, keep: usize) -> usize {
    let index =
        (change * services / changes.max(1) + services / (2 * changes.max(1))) % services.max(1);
    if index == keep {
        (index + 1) % services.max(1)
    } else {
        index
    }
}

/// The slice of service `index` after change `change`: one endpoint moved to a fresh
/// address, the others as generated.
pub fn changed_slice(index: usize, change: usize) -> EndpointSlice {
    let mut addresses = objects::generated_endpoints(index);
    addresses[change % ENDPOINTS_PER_SLICE] = objects::replacement_ip(change);
    objects::slice(index, &addresses)
}

/// The baseline in `netns`: a full restore of the `cluster` objects, then `changes`
/// Services added one by one, then `changes` single-endpoint changes of Services other
/// than `keep`.
pub fn iptables_baseline(
    netns: &NamedNetns,
    restore_binary: &str,
    cluster: Vec<(Service, EndpointSlice)>,
    changes: usize,
    keep: usize,
) -> Result<ControlTimes, BenchError> {
    let services = cluster.len();
    netns::run_in(netns, "iptables control plane", move || {
        let start = Instant::now();
        let service_refs: Vec<&Service> = cluster.iter().map(|(s, _)| s).collect();
        let slice_refs: Vec<&EndpointSlice> = cluster.iter().map(|(_, s)| s).collect();
        let mut rules = KubeProxyRules::new(&service_refs, &slice_refs, CLUSTER_CIDR);
        let input = rules.render_full();
        iptables::restore(restore_binary, &input)?;
        let full = start.elapsed();
        let full_detail = format!(
            "{} lines of iptables-restore input, {:.1} MB",
            input.lines().count(),
            input.len() as f64 / 1e6
        );
        drop(input);

        let mut adds = Vec::with_capacity(changes);
        for add in 0..changes {
            crate::signals::check()?;
            let index = services + add;
            let slice = objects::slice(index, &objects::generated_endpoints(index));
            adds.push(partial_sync(&mut rules, restore_binary, index, &slice)?);
        }

        let mut endpoint_changes = Vec::with_capacity(changes);
        for change in 0..changes {
            crate::signals::check()?;
            let index = changed_service(change, changes, services, keep);
            let slice = changed_slice(index, change);
            endpoint_changes.push(partial_sync(&mut rules, restore_binary, index, &slice)?);
        }
        Ok(ControlTimes {
            full,
            adds,
            changes: endpoint_changes,
            full_detail,
        })
    })?
}

/// One Service (with its slice) changed as kube-proxy's partial sync writes it: the
/// rules updated and restored; the time from the objects to the restored rules.
fn partial_sync(
    rules: &mut KubeProxyRules,
    restore_binary: &str,
    index: usize,
    slice: &EndpointSlice,
) -> Result<Duration, BenchError> {
    let service = objects::service(index);
    let start = Instant::now();
    let changed = rules.apply(&service, &[slice]);
    iptables::restore(
        restore_binary,
        &rules.render_partial(&BTreeSet::from([changed])),
    )?;
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_spread_over_distinct_services() {
        let picked: BTreeSet<usize> = (0..20)
            .map(|c| changed_service(c, 20, 10_000, 5_000))
            .collect();
        assert_eq!(picked.len(), 20);
        assert!(picked.iter().all(|i| *i < 10_000));
        assert_eq!(changed_service(0, 20, 10_000, 5_000), 250);
        assert_eq!(changed_service(0, 20, 10_000, 250), 251);
    }

    #[test]
    fn a_changed_slice_moves_exactly_one_endpoint() {
        let before = objects::slice(7, &objects::generated_endpoints(7));
        let after = changed_slice(7, 3);
        let moved = before
            .endpoints
            .iter()
            .zip(&after.endpoints)
            .filter(|(a, b)| a.addresses != b.addresses)
            .count();
        assert_eq!(moved, 1);
        assert_eq!(after.endpoints[3].addresses, ["10.245.0.4"]);
    }
}

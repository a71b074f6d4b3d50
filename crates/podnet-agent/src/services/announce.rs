//! LoadBalancer addresses on the node network: each address is announced by
//! one healthy node, which holds it as a local address on its underlay
//! interface (so the kernel answers ARP for it) and sends gratuitous ARP when
//! it takes it over. Every agent computes the same choice from the Nodes it
//! watches (rendezvous hashing over the eligible nodes), so when a node goes,
//! only its addresses move, to the next node in each address's order.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use ipnet::{IpNet, Ipv4Net};
use k8s_openapi::api::core::v1::Node;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use podnet_netlink::Handle;
use tokio::sync::watch;

use super::{ProxyStatus, ServiceProxyConfig};
use crate::config::ROUTE_PROTOCOL;
use crate::error::AgentError;
use podnet_controllers::load_balancer::LOAD_BALANCER_CLASS;

/// The IFA_PROTO tag of the addresses the announcer adds, so that it finds
/// its own among the interface's others after a restart.
pub const ADDRESS_PROTOCOL: u8 = ROUTE_PROTOCOL;
/// Nodes with this label never announce (Kubernetes' well-known label).
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";
/// Even without a change the addresses are checked this often.
const REPAIR_EVERY: Duration = Duration::from_secs(30);

/// The node that announces `ip` among `candidates`: the highest
/// hash of address and node name.
pub fn announcer<'a>(
    ip: Ipv4Addr,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates.into_iter().max_by_key(|node| {
        let score = podnet_model::hash::short_hash(&format!("{ip}/{node}"), 16);
        (score, *node)
    })
}

/// The LoadBalancer addresses `node` should hold: those of podnet's class
/// (or of none) it is the announcer of among the `ready` nodes; for
/// externalTrafficPolicy Local services only nodes with ready endpoints of
/// the service are candidates.
pub fn addresses_of(
    node: &str,
    load_balancers: &[podnet_proxy::LoadBalancerIp],
    ready: &BTreeSet<String>,
    endpoint_nodes: &BTreeMap<(String, String), BTreeSet<String>>,
) -> BTreeSet<Ipv4Addr> {
    let none = BTreeSet::new();
    load_balancers
        .iter()
        .filter(|lb| {
            lb.class
                .as_deref()
                .is_none_or(|class| class == LOAD_BALANCER_CLASS)
        })
        .filter(|lb| {
            let candidates = ready.iter().map(String::as_str).filter(|candidate| {
                !lb.local_only
                    || endpoint_nodes
                        .get(&(lb.namespace.clone(), lb.name.clone()))
                        .unwrap_or(&none)
                        .contains(*candidate)
            });
            announcer(lb.ip, candidates) == Some(node)
        })
        .map(|lb| lb.ip)
        .collect()
}

/// Whether a node may announce: Ready, not being deleted, not excluded.
pub fn eligible(node: &Node) -> bool {
    let ready = node
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        });
    ready
        && node.metadata.deletion_timestamp.is_none()
        && !node.labels().contains_key(EXCLUDE_LABEL)
}

/// Keeps this node's LoadBalancer addresses as the Nodes and the proxy's
/// program call for, until the watch ends.
pub async fn run(
    client: Client,
    config: ServiceProxyConfig,
    mut status: watch::Receiver<ProxyStatus>,
    holder: Arc<AddressHolder>,
) -> Result<(), AgentError> {
    if !config.announce_load_balancers {
        std::future::pending::<()>().await;
    }
    let mut nodes = podnet_controllers::watch::events(
        Api::<Node>::all(client),
        watcher::Config::default(),
        "nodes",
    );
    let mut ready: BTreeSet<String> = BTreeSet::new();
    let mut listing: Option<BTreeSet<String>> = None;
    let mut listed = false;
    let mut held: Option<BTreeSet<Ipv4Addr>> = None;
    let mut repair = tokio::time::interval(REPAIR_EVERY);
    loop {
        let mut force = false;
        tokio::select! {
            event = nodes.next() => {
                let Some(event) = event else { return Err(AgentError::WatchEnded("nodes")) };
                match event {
                    watcher::Event::Init => listing = Some(BTreeSet::new()),
                    watcher::Event::InitApply(node) => {
                        if eligible(&node) {
                            listing.get_or_insert_with(BTreeSet::new).insert(node.name_any());
                        }
                    }
                    watcher::Event::InitDone => {
                        ready = listing.take().unwrap_or_default();
                        listed = true;
                    }
                    watcher::Event::Apply(node) => {
                        if eligible(&node) {
                            ready.insert(node.name_any());
                        } else {
                            ready.remove(&node.name_any());
                        }
                    }
                    watcher::Event::Delete(node) => {
                        ready.remove(&node.name_any());
                    }
                }
            }
            changed = status.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            _ = repair.tick() => force = true,
        }
        if !listed {
            continue;
        }
        let current = status.borrow().clone();
        // Before this node's rules are in place it announces nothing: the
        // address would draw traffic it cannot serve yet.
        let wanted = if current.last_sync.is_some() {
            addresses_of(
                &config.node_name,
                &current.load_balancers,
                &ready,
                &current.endpoint_nodes,
            )
        } else {
            BTreeSet::new()
        };
        if !force && held.as_ref() == Some(&wanted) {
            continue;
        }
        let applied = {
            let (holder, wanted) = (Arc::clone(&holder), wanted.clone());
            tokio::task::spawn_blocking(move || holder.hold(&wanted))
                .await
                .map_err(|error| AgentError::Task {
                    context: "apply LoadBalancer addresses".into(),
                    message: error.to_string(),
                })?
        };
        match applied {
            Ok(()) => held = Some(wanted),
            Err(error) => {
                tracing::warn!(%error, "LoadBalancer addresses not in place");
                held = None;
            }
        }
    }
}

/// The node's LoadBalancer addresses on one interface. Once withdrawn it
/// holds nothing more: an apply still running when the agent stops cannot
/// add an address after the withdrawal.
#[derive(Debug)]
pub struct AddressHolder {
    interface: String,
    withdrawn: Mutex<bool>,
}

impl AddressHolder {
    pub fn new(interface: impl Into<String>) -> AddressHolder {
        AddressHolder {
            interface: interface.into(),
            withdrawn: Mutex::new(false),
        }
    }

    /// Makes the held addresses `wanted` (nothing after [`Self::withdraw`]).
    pub fn hold(&self, wanted: &BTreeSet<Ipv4Addr>) -> Result<(), AgentError> {
        let withdrawn = self.withdrawn.lock().unwrap_or_else(|e| e.into_inner());
        if *withdrawn {
            return Ok(());
        }
        hold_addresses(&self.interface, wanted)
    }

    /// Removes every held address, for good.
    pub fn withdraw(&self) -> Result<(), AgentError> {
        let mut withdrawn = self.withdrawn.lock().unwrap_or_else(|e| e.into_inner());
        *withdrawn = true;
        hold_addresses(&self.interface, &BTreeSet::new())
    }
}

/// Makes the announcer's addresses on `interface` exactly `wanted`: adds
/// the missing ones (with gratuitous ARP, so neighbours move the address to
/// this node at once) and removes the others it added before.
fn hold_addresses(interface: &str, wanted: &BTreeSet<Ipv4Addr>) -> Result<(), AgentError> {
    let context = |what: &str| format!("{what} LoadBalancer addresses on {interface}");
    let mut handle = Handle::new().map_err(AgentError::netlink(context("open netlink for")))?;
    let link = handle
        .link_by_name(interface)
        .map_err(AgentError::netlink(context("find the link for")))?
        .ok_or_else(|| AgentError::Config(format!("no interface {interface} to announce on")))?;
    let held: BTreeSet<Ipv4Addr> = handle
        .tagged_addresses(link.index, ADDRESS_PROTOCOL)
        .map_err(AgentError::netlink(context("list")))?
        .into_iter()
        .filter_map(|address| match address.net {
            IpNet::V4(net) => Some(net.addr()),
            IpNet::V6(_) => None,
        })
        .collect();
    let mut failures = Vec::new();
    for ip in held.difference(wanted) {
        let net = IpNet::V4(Ipv4Net::from(*ip));
        match handle.del_address(link.index, net) {
            Ok(()) | Err(podnet_netlink::Error::NotFound { .. }) => {
                tracing::info!(%ip, "LoadBalancer address withdrawn")
            }
            Err(error) => failures.push(format!("withdraw {ip}: {error}")),
        }
    }
    for ip in wanted.difference(&held) {
        let net = IpNet::V4(Ipv4Net::from(*ip));
        let added = match handle.add_tagged_address(link.index, net, ADDRESS_PROTOCOL) {
            Ok(()) => true,
            // Somebody else's address: announce it, never take it away.
            Err(error) if error.is_exists() => false,
            Err(error) => {
                failures.push(format!("hold {ip}: {error}"));
                continue;
            }
        };
        // Before 6.3 the kernel drops the tag: an address added here could
        // never be found again to withdraw it, so it is not kept.
        let tagged = handle
            .tagged_addresses(link.index, ADDRESS_PROTOCOL)
            .map_err(AgentError::netlink(context("list")))?;
        if added && !tagged.iter().any(|address| address.net == net) {
            let _ = handle.del_address(link.index, net);
            failures.push(format!(
                "hold {ip}: the kernel does not keep address protocol tags (IFA_PROTO, Linux 6.3 or later)"
            ));
            continue;
        }
        match podnet_netlink::arp::announce(interface, *ip) {
            Ok(()) => tracing::info!(%ip, "LoadBalancer address announced"),
            Err(error) => failures.push(format!("announce {ip}: {error}")),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(AgentError::Objects(failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(ip: [u8; 4], name: &str, local_only: bool) -> podnet_proxy::LoadBalancerIp {
        podnet_proxy::LoadBalancerIp {
            ip: Ipv4Addr::from(ip),
            namespace: "default".into(),
            name: name.into(),
            local_only,
            local_endpoints: 0,
            class: None,
        }
    }

    fn nodes(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn every_address_has_exactly_one_announcer_and_only_its_addresses_move() {
        let lbs: Vec<_> = (64..96)
            .map(|last| lb([172, 30, 0, last], "s", false))
            .collect();
        let all = nodes(&["n1", "n2", "n3"]);
        let none = BTreeMap::new();
        let per_node: Vec<BTreeSet<Ipv4Addr>> = ["n1", "n2", "n3"]
            .iter()
            .map(|n| addresses_of(n, &lbs, &all, &none))
            .collect();
        let total: usize = per_node.iter().map(BTreeSet::len).sum();
        assert_eq!(total, lbs.len(), "each address announced once");
        assert!(
            per_node.iter().all(|set| !set.is_empty()),
            "spread: {per_node:?}"
        );
        // n2 goes: n1 and n3 keep what they had and share n2's.
        let without = nodes(&["n1", "n3"]);
        let n1 = addresses_of("n1", &lbs, &without, &none);
        let n3 = addresses_of("n3", &lbs, &without, &none);
        assert!(n1.is_superset(&per_node[0]) && n3.is_superset(&per_node[2]));
        assert_eq!(n1.len() + n3.len(), lbs.len());
    }

    #[test]
    fn addresses_of_another_class_are_left_to_that_class() {
        let mut other = lb([172, 30, 0, 71], "other", false);
        other.class = Some("example.com/metal".into());
        let mut ours = lb([172, 30, 0, 72], "ours", false);
        ours.class = Some(LOAD_BALANCER_CLASS.into());
        let all = nodes(&["n1", "n2", "n3"]);
        let held: BTreeSet<Ipv4Addr> = ["n1", "n2", "n3"]
            .iter()
            .flat_map(|n| addresses_of(n, &[other.clone(), ours.clone()], &all, &BTreeMap::new()))
            .collect();
        assert_eq!(held, BTreeSet::from([ours.ip]));
    }

    #[test]
    fn local_policy_addresses_go_only_to_nodes_with_endpoints() {
        let lbs = vec![lb([172, 30, 0, 70], "local", true)];
        let all = nodes(&["n1", "n2", "n3"]);
        let mut endpoints = BTreeMap::new();
        endpoints.insert(("default".to_string(), "local".to_string()), nodes(&["n3"]));
        assert!(addresses_of("n1", &lbs, &all, &endpoints).is_empty());
        assert!(addresses_of("n2", &lbs, &all, &endpoints).is_empty());
        assert_eq!(addresses_of("n3", &lbs, &all, &endpoints).len(), 1);
        // No node with endpoints: nobody draws traffic that would be dropped.
        assert!(["n1", "n2", "n3"]
            .iter()
            .all(|n| addresses_of(n, &lbs, &all, &BTreeMap::new()).is_empty()));
    }

    #[test]
    fn only_ready_and_not_excluded_nodes_are_eligible() {
        let node = |ready: &str, excluded: bool| {
            let mut value = serde_json::json!({
                "metadata": {"name": "n1", "labels": {}},
                "status": {"conditions": [{"type": "Ready", "status": ready}]}
            });
            if excluded {
                value["metadata"]["labels"][EXCLUDE_LABEL] = "".into();
            }
            serde_json::from_value::<Node>(value).unwrap()
        };
        assert!(eligible(&node("True", false)));
        assert!(!eligible(&node("False", false)));
        assert!(!eligible(&node("Unknown", false)));
        assert!(!eligible(&node("True", true)));
    }
}

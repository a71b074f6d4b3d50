//! The legacy Endpoints object of a Service, as Kubernetes' Endpoints
//! controller writes it: one address per pod in the Service's primary
//! family, ready or not ready, grouped into subsets of pods that offer the
//! same ports, at most 1000 addresses.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use super::desired::{
    find_port, has_cluster_ip, is_pod_ready, pod_ips, selects, should_be_endpoint,
    should_set_hostname, LABEL_HEADLESS,
};

/// Most addresses an Endpoints object holds; beyond, it is truncated and annotated.
pub const MAX_ENDPOINTS_ADDRESSES: usize = 1000;
/// Annotation on a truncated Endpoints object.
pub const ANNOTATION_OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Label marking the Endpoints objects a controller (not a user) manages.
pub const LABEL_ENDPOINTS_MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
/// The Endpoints controller's value of [`LABEL_ENDPOINTS_MANAGED_BY`].
pub const ENDPOINTS_CONTROLLER_NAME: &str = "endpoint-controller";

fn publish_not_ready(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// The family of a Service's Endpoints: its first IP family; without one,
/// that of its cluster IP; headless without one, that of each pod's IP.
fn primary_family_is_v6(service: &Service, pod: &Pod) -> bool {
    let spec = service.spec.as_ref();
    if let Some(first) = spec
        .and_then(|s| s.ip_families.as_ref())
        .and_then(|f| f.first())
    {
        return first == "IPv6";
    }
    if has_cluster_ip(service) {
        let ip = spec.and_then(|s| s.cluster_ip.as_deref()).unwrap_or("");
        return matches!(ip.parse::<IpAddr>(), Ok(IpAddr::V6(_)));
    }
    matches!(pod_ips(pod).first(), Some(IpAddr::V6(_)))
}

fn pod_address(service: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let v6 = primary_family_is_v6(service, pod);
    let ip = pod_ips(pod).into_iter().find(|ip| ip.is_ipv6() == v6)?;
    let spec = pod.spec.as_ref();
    Some(EndpointAddress {
        ip: ip.to_string(),
        hostname: should_set_hostname(pod, service)
            .then(|| spec.and_then(|s| s.hostname.clone()))
            .flatten(),
        node_name: spec
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            ..ObjectReference::default()
        }),
    })
}

type PortId = Option<(String, i32, String, String)>;
/// An address by IP and pod uid, and whether it is ready.
type AddressId = (String, String);
type Readiness = (EndpointAddress, bool);
/// Addresses that offer the same ports, with those ports.
type Offering = (Vec<Readiness>, Vec<EndpointPort>);

fn port_id(port: Option<&EndpointPort>) -> PortId {
    port.map(|p| {
        (
            p.name.clone().unwrap_or_default(),
            p.port,
            p.protocol.clone().unwrap_or_default(),
            p.app_protocol.clone().unwrap_or_default(),
        )
    })
}

fn address_id(address: &EndpointAddress) -> AddressId {
    let uid = address
        .target_ref
        .as_ref()
        .and_then(|t| t.uid.clone())
        .unwrap_or_default();
    (address.ip.clone(), uid)
}

/// Kubernetes' repacking: the subsets that hold exactly the addresses
/// offering each port set, in a canonical order (addresses by IP, ports by
/// name), so equal contents compare equal.
pub fn repack(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    // Per port: every address offering it, and whether it is ready there.
    let mut by_port: BTreeMap<PortId, BTreeMap<AddressId, Readiness>> = BTreeMap::new();
    let mut ports: BTreeMap<PortId, Option<EndpointPort>> = BTreeMap::new();
    for subset in subsets {
        let subset_ports: Vec<Option<&EndpointPort>> = match subset.ports.as_deref() {
            Some(list) if !list.is_empty() => list.iter().map(Some).collect(),
            _ => vec![None],
        };
        for port in subset_ports {
            let id = port_id(port);
            ports.insert(id.clone(), port.cloned());
            let addresses = by_port.entry(id).or_default();
            for (list, ready) in [
                (&subset.addresses, true),
                (&subset.not_ready_addresses, false),
            ] {
                for address in list.iter().flatten() {
                    addresses.insert(address_id(address), (address.clone(), ready));
                }
            }
        }
    }
    // Ports offered by the same addresses (with the same readiness) share a subset.
    let mut grouped: BTreeMap<Vec<(String, String, bool)>, Offering> = BTreeMap::new();
    for (id, addresses) in by_port {
        let key: Vec<(String, String, bool)> = addresses
            .iter()
            .map(|((ip, uid), (_, ready))| (ip.clone(), uid.clone(), *ready))
            .collect();
        let entry = grouped
            .entry(key)
            .or_insert_with(|| (addresses.into_values().collect(), Vec::new()));
        if let Some(Some(port)) = ports.remove(&id) {
            entry.1.push(port);
        }
    }
    grouped
        .into_values()
        .map(|(addresses, ports)| {
            let (ready, not_ready): (Vec<_>, Vec<_>) =
                addresses.into_iter().partition(|(_, ready)| *ready);
            let strip = |list: Vec<Readiness>| {
                let list: Vec<EndpointAddress> = list.into_iter().map(|(a, _)| a).collect();
                (!list.is_empty()).then_some(list)
            };
            EndpointSubset {
                addresses: strip(ready),
                not_ready_addresses: strip(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

/// The subsets of `service`'s Endpoints from its pods.
pub fn desired_subsets<'a>(
    service: &Service,
    pods: impl IntoIterator<Item = &'a Pod>,
) -> Vec<EndpointSubset> {
    let tolerate_unready = publish_not_ready(service);
    let spec = service.spec.as_ref();
    let service_ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or(&[]);
    let mut subsets = Vec::new();
    for pod in pods {
        if !selects(service, pod) || !should_be_endpoint(pod, tolerate_unready) {
            continue;
        }
        let Some(address) = pod_address(service, pod) else {
            continue;
        };
        let ready = tolerate_unready || is_pod_ready(pod);
        let subset = |ports: Option<Vec<EndpointPort>>| EndpointSubset {
            addresses: ready.then(|| vec![address.clone()]),
            not_ready_addresses: (!ready).then(|| vec![address.clone()]),
            ports,
        };
        if service_ports.is_empty() {
            // Only a headless Service may have no ports.
            if !has_cluster_ip(service) {
                subsets.push(subset(None));
            }
            continue;
        }
        for service_port in service_ports {
            let Some(port) = find_port(pod, service_port) else {
                continue;
            };
            subsets.push(subset(Some(vec![EndpointPort {
                name: service_port.name.clone(),
                port,
                protocol: Some(
                    service_port
                        .protocol
                        .clone()
                        .unwrap_or_else(|| "TCP".into()),
                ),
                app_protocol: service_port.app_protocol.clone(),
            }])));
        }
    }
    repack(&subsets)
}

fn address_count(subsets: &[EndpointSubset]) -> (usize, usize) {
    subsets.iter().fold((0, 0), |(ready, not_ready), s| {
        (
            ready + s.addresses.as_ref().map_or(0, Vec::len),
            not_ready + s.not_ready_addresses.as_ref().map_or(0, Vec::len),
        )
    })
}

/// Cuts subsets down to [`MAX_ENDPOINTS_ADDRESSES`] as Kubernetes does:
/// ready addresses first, each subset keeping its share. True when cut.
pub fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let (ready, not_ready) = address_count(subsets);
    if ready + not_ready <= MAX_ENDPOINTS_ADDRESSES {
        return false;
    }
    let cut_ready = ready > MAX_ENDPOINTS_ADDRESSES;
    let (room, total) = if cut_ready {
        (MAX_ENDPOINTS_ADDRESSES, ready)
    } else {
        (MAX_ENDPOINTS_ADDRESSES - ready, not_ready)
    };
    let mut left = room;
    for subset in subsets.iter_mut() {
        let list = if cut_ready {
            &mut subset.addresses
        } else {
            &mut subset.not_ready_addresses
        };
        let have = list.as_ref().map_or(0, Vec::len);
        let share = (have * room).div_ceil(total).min(left);
        if let Some(list) = list.as_mut() {
            list.truncate(share);
        }
        left -= list.as_ref().map_or(0, Vec::len);
        if cut_ready {
            subset.not_ready_addresses = None;
        }
    }
    true
}

/// The labels of a Service's Endpoints: the Service's, the headless mark,
/// and the managing controller (as Kubernetes marks them since 1.33).
pub fn endpoints_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = service.labels().clone();
    if has_cluster_ip(service) {
        labels.remove(LABEL_HEADLESS);
    } else {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    labels.insert(
        LABEL_ENDPOINTS_MANAGED_BY.into(),
        ENDPOINTS_CONTROLLER_NAME.into(),
    );
    labels
}

/// Whether this controller (or Kubernetes' Endpoints controller) wrote `endpoints`.
pub fn is_managed_endpoints(endpoints: &Endpoints) -> bool {
    endpoints
        .labels()
        .get(LABEL_ENDPOINTS_MANAGED_BY)
        .map(String::as_str)
        == Some(ENDPOINTS_CONTROLLER_NAME)
}

/// The Endpoints object to write for `service`, or `None` when `current`
/// already says it. An update keeps `current`'s name, version and other
/// annotations.
pub fn desired_endpoints_object<'a>(
    service: &Service,
    pods: impl IntoIterator<Item = &'a Pod>,
    current: Option<&Endpoints>,
) -> Option<Endpoints> {
    let mut subsets = desired_subsets(service, pods);
    let truncated = truncate(&mut subsets);
    let labels = endpoints_labels(service);
    if let Some(current) = current {
        let current_subsets = repack(current.subsets.as_deref().unwrap_or(&[]));
        let annotated = current.annotations().contains_key(ANNOTATION_OVER_CAPACITY);
        if current_subsets == subsets && *current.labels() == labels && annotated == truncated {
            return None;
        }
    }
    let mut metadata = match current {
        Some(current) => current.metadata.clone(),
        None => ObjectMeta {
            name: Some(service.name_any()),
            namespace: service.namespace(),
            ..ObjectMeta::default()
        },
    };
    metadata.labels = Some(labels);
    let mut annotations = metadata.annotations.take().unwrap_or_default();
    if truncated {
        annotations.insert(ANNOTATION_OVER_CAPACITY.into(), "truncated".into());
    } else {
        annotations.remove(ANNOTATION_OVER_CAPACITY);
    }
    metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    Some(Endpoints {
        metadata,
        subsets: (!subsets.is_empty()).then_some(subsets),
    })
}

#[cfg(test)]
mod tests {
    use super::super::desired::tests::{pod, port, service};
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<String> {
        list.iter().flatten().map(|a| a.ip.clone()).collect()
    }

    #[test]
    fn ready_and_unready_pods_share_a_subset_per_port_set() {
        let svc = service(
            "web",
            &[("app", "web")],
            vec![port("http", 80, IntOrString::String("http".into()))],
        );
        let pods = [
            pod("a", &[("app", "web")], "10.244.0.6", true),
            pod("b", &[("app", "web")], "10.244.0.5", false),
            pod("c", &[("app", "web")], "10.244.0.4", true),
        ];
        let subsets = desired_subsets(&svc, &pods);
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), vec!["10.244.0.4", "10.244.0.6"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), vec!["10.244.0.5"]);
        let ports = subsets[0].ports.as_ref().expect("ports");
        assert_eq!(
            (ports[0].name.as_deref(), ports[0].port),
            (Some("http"), 8080)
        );
        assert_eq!(
            subsets[0].addresses.as_ref().expect("ready")[0]
                .node_name
                .as_deref(),
            Some("node-1")
        );
    }

    #[test]
    fn pods_offering_different_ports_get_different_subsets() {
        let svc = service(
            "web",
            &[("app", "web")],
            vec![
                port("http", 80, IntOrString::String("http".into())),
                port("plain", 81, IntOrString::Int(9000)),
            ],
        );
        let named = pod("a", &[("app", "web")], "10.244.0.5", true);
        let mut unnamed = pod("b", &[("app", "web")], "10.244.0.6", true);
        unnamed.spec.as_mut().expect("spec").containers[0].ports = None;
        let subsets = desired_subsets(&svc, &[named, unnamed]);
        let mut shapes: Vec<(Vec<String>, Vec<i32>)> = subsets
            .iter()
            .map(|s| {
                let ports = s.ports.iter().flatten().map(|p| p.port).collect();
                (ips(&s.addresses), ports)
            })
            .collect();
        shapes.sort();
        // Port 9000 is offered by both pods, the named http port only by the first.
        assert_eq!(
            shapes,
            vec![
                (vec!["10.244.0.5".to_string()], vec![8080]),
                (
                    vec!["10.244.0.5".to_string(), "10.244.0.6".to_string()],
                    vec![9000]
                ),
            ]
        );
    }

    #[test]
    fn terminating_pods_are_left_out_unless_not_ready_addresses_are_published() {
        let mut svc = service(
            "web",
            &[("app", "web")],
            vec![port("p", 80, IntOrString::Int(80))],
        );
        let mut leaving = pod("a", &[("app", "web")], "10.244.0.5", true);
        leaving.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        let unready = pod("b", &[("app", "web")], "10.244.0.6", false);
        let pods = [leaving, unready];
        let subsets = desired_subsets(&svc, &pods);
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), Vec::<String>::new());
        assert_eq!(ips(&subsets[0].not_ready_addresses), vec!["10.244.0.6"]);
        svc.spec.as_mut().expect("spec").publish_not_ready_addresses = Some(true);
        let subsets = desired_subsets(&svc, &pods);
        assert_eq!(ips(&subsets[0].addresses), vec!["10.244.0.5", "10.244.0.6"]);
    }

    #[test]
    fn a_headless_service_without_ports_lists_addresses_only() {
        let mut svc = service("db", &[("app", "db")], vec![]);
        svc.spec.as_mut().expect("spec").cluster_ip = Some("None".into());
        let mut p = pod("db-0", &[("app", "db")], "10.244.0.5", true);
        p.spec.as_mut().expect("spec").hostname = Some("db-0".into());
        p.spec.as_mut().expect("spec").subdomain = Some("db".into());
        let subsets = desired_subsets(&svc, &[p.clone()]);
        assert_eq!(subsets.len(), 1);
        assert_eq!(subsets[0].ports, None);
        assert_eq!(
            subsets[0].addresses.as_ref().expect("ready")[0]
                .hostname
                .as_deref(),
            Some("db-0")
        );
        let object = desired_endpoints_object(&svc, &[p], None).expect("new");
        assert_eq!(object.labels()[LABEL_HEADLESS], "");
        assert!(is_managed_endpoints(&object));
        // Without ports and with a cluster IP there is nothing to list.
        let plain = service("db", &[("app", "db")], vec![]);
        assert!(
            desired_subsets(&plain, &[pod("x", &[("app", "db")], "10.244.0.9", true)]).is_empty()
        );
    }

    #[test]
    fn an_unchanged_endpoints_object_is_not_rewritten() {
        let svc = service(
            "web",
            &[("app", "web")],
            vec![port("p", 80, IntOrString::Int(80))],
        );
        let pods = [pod("a", &[("app", "web")], "10.244.0.5", true)];
        let mut written = desired_endpoints_object(&svc, &pods, None).expect("new");
        assert_eq!(written.metadata.name.as_deref(), Some("web"));
        written.metadata.resource_version = Some("9".into());
        assert_eq!(desired_endpoints_object(&svc, &pods, Some(&written)), None);
        let changed = desired_endpoints_object(&svc, &[], Some(&written)).expect("changed");
        assert_eq!(changed.metadata.resource_version.as_deref(), Some("9"));
        assert_eq!(changed.subsets, None);
    }

    #[test]
    fn more_than_a_thousand_addresses_are_truncated_and_annotated() {
        let svc = service(
            "web",
            &[("app", "web")],
            vec![port("p", 80, IntOrString::Int(80))],
        );
        let pods: Vec<Pod> = (0..1100)
            .map(|i| {
                pod(
                    &format!("p{i}"),
                    &[("app", "web")],
                    &format!("10.244.{}.{}", i / 250, i % 250 + 1),
                    i % 2 == 0,
                )
            })
            .collect();
        let object = desired_endpoints_object(&svc, &pods, None).expect("new");
        let (ready, not_ready) = address_count(object.subsets.as_deref().unwrap_or(&[]));
        assert_eq!((ready, not_ready), (550, 450));
        assert_eq!(object.annotations()[ANNOTATION_OVER_CAPACITY], "truncated");
    }

    #[test]
    fn repacking_is_canonical() {
        let address = |ip: &str| EndpointAddress {
            ip: ip.into(),
            ..EndpointAddress::default()
        };
        let port = |n: i32| EndpointPort {
            name: Some(format!("p{n}")),
            port: n,
            ..EndpointPort::default()
        };
        let scattered = [
            EndpointSubset {
                addresses: Some(vec![address("10.0.0.2")]),
                ports: Some(vec![port(1)]),
                ..EndpointSubset::default()
            },
            EndpointSubset {
                addresses: Some(vec![address("10.0.0.1")]),
                ports: Some(vec![port(1), port(2)]),
                ..EndpointSubset::default()
            },
            EndpointSubset {
                addresses: Some(vec![address("10.0.0.2")]),
                ports: Some(vec![port(2)]),
                ..EndpointSubset::default()
            },
        ];
        let packed = repack(&scattered);
        assert_eq!(packed.len(), 1);
        assert_eq!(ips(&packed[0].addresses), vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!(packed[0].ports.as_ref().map(Vec::len), Some(2));
        assert_eq!(repack(&packed), packed);
    }
}

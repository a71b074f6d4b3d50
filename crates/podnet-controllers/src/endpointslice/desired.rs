//! What a Service's endpoints are, pod by pod, as Kubernetes' EndpointSlice
//! controller computes them: which pods count, their addresses per family,
//! the conditions, hostname, node, zone and target reference, and the ports
//! with named target ports resolved per pod.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

/// Label naming the Service a slice belongs to.
pub const LABEL_SERVICE_NAME: &str = podnet_model::labels::SERVICE_NAME;
/// Label naming the controller that manages a slice.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`LABEL_MANAGED_BY`].
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Label on the slices and Endpoints of a Service without a cluster IP.
pub const LABEL_HEADLESS: &str = podnet_model::labels::HEADLESS;
/// Node label holding the node's zone.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";

/// The address families of slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressType {
    IPv4,
    IPv6,
}

impl AddressType {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressType::IPv4 => "IPv4",
            AddressType::IPv6 => "IPv6",
        }
    }

    pub fn parse(s: &str) -> Option<AddressType> {
        match s {
            "IPv4" => Some(AddressType::IPv4),
            "IPv6" => Some(AddressType::IPv6),
            _ => None,
        }
    }

    fn holds(self, ip: &IpAddr) -> bool {
        matches!(
            (self, ip),
            (AddressType::IPv4, IpAddr::V4(_)) | (AddressType::IPv6, IpAddr::V6(_))
        )
    }
}

/// The Service's selector, when it has one that selects anything. An empty
/// selector does not survive a round trip through the API (Kubernetes drops
/// empty maps), so it counts as none.
pub fn selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service
        .spec
        .as_ref()?
        .selector
        .as_ref()
        .filter(|s| !s.is_empty())
}

/// Whether the controllers manage endpoints for this Service at all: it has
/// a selector and is not an ExternalName Service.
pub fn is_managed(service: &Service) -> bool {
    let external_name = service
        .spec
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .is_some_and(|t| t == "ExternalName");
    !external_name && selector(service).is_some()
}

/// Whether the pod carries every label of the Service's selector.
pub fn selects(service: &Service, pod: &Pod) -> bool {
    if pod.namespace() != service.namespace() {
        return false;
    }
    let Some(selector) = selector(service) else {
        return false;
    };
    let labels = pod.labels();
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether the Service has a cluster IP (is not headless).
pub fn has_cluster_ip(service: &Service) -> bool {
    let ip = service
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .unwrap_or("");
    !ip.is_empty() && ip != "None"
}

fn publish_not_ready(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// The address types of a Service's slices: its IP families; without any,
/// the family of its cluster IP; headless without families, both.
pub fn address_types(service: &Service) -> Vec<AddressType> {
    let spec = service.spec.as_ref();
    let mut types: Vec<AddressType> = spec
        .and_then(|s| s.ip_families.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|family| match family.as_str() {
            "IPv4" => Some(AddressType::IPv4),
            "IPv6" => Some(AddressType::IPv6),
            _ => None,
        })
        .collect();
    types.sort();
    types.dedup();
    if !types.is_empty() {
        return types;
    }
    if has_cluster_ip(service) {
        let ip = spec.and_then(|s| s.cluster_ip.as_deref()).unwrap_or("");
        return match ip.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => vec![AddressType::IPv6],
            _ => vec![AddressType::IPv4],
        };
    }
    vec![AddressType::IPv4, AddressType::IPv6]
}

/// Kubernetes' readiness of a pod: its Ready condition is True.
pub fn is_pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// The pod's IPs: `status.podIPs`, or `status.podIP` from writers that set only that.
pub fn pod_ips(pod: &Pod) -> Vec<IpAddr> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let listed: Vec<IpAddr> = status
        .pod_ips
        .iter()
        .flatten()
        .filter_map(|p| p.ip.parse().ok())
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    status
        .pod_ip
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .into_iter()
        .collect()
}

/// Kubernetes' rule for which pods are endpoints: not ended, with an IP, and
/// not terminating unless terminating pods are wanted.
pub fn should_be_endpoint(pod: &Pod, include_terminating: bool) -> bool {
    !is_terminal(pod)
        && !pod_ips(pod).is_empty()
        && (include_terminating || pod.metadata.deletion_timestamp.is_none())
}

/// Whether an endpoint of this pod carries the pod's hostname: the pod names
/// the Service as its subdomain.
pub fn should_set_hostname(pod: &Pod, service: &Service) -> bool {
    let spec = pod.spec.as_ref();
    let hostname = spec.and_then(|s| s.hostname.as_deref()).unwrap_or("");
    let subdomain = spec.and_then(|s| s.subdomain.as_deref()).unwrap_or("");
    !hostname.is_empty()
        && subdomain == service.name_any()
        && pod.namespace() == service.namespace()
}

/// The pod port a Service port sends to: a number as it is; a name looked up
/// among the pod's container ports (and sidecars') of the same protocol.
pub fn find_port(pod: &Pod, service_port: &ServicePort) -> Option<i32> {
    let protocol = service_port.protocol.as_deref().unwrap_or("TCP");
    match service_port.target_port.as_ref() {
        None => Some(service_port.port),
        Some(IntOrString::Int(port)) => Some(*port),
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// The slice ports for one pod: every Service port whose target the pod
/// has. A headless Service without ports has none.
pub fn endpoint_ports(service: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or(&[]);
    ports
        .iter()
        .filter_map(|sp| {
            let port = find_port(pod, sp)?;
            Some(EndpointPort {
                name: Some(sp.name.clone().unwrap_or_default()),
                port: Some(port),
                protocol: Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

/// A set of ports in a canonical order: slices are grouped by it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortKey(Vec<(String, i32, String, String)>);

impl PortKey {
    pub fn of(ports: &[EndpointPort]) -> PortKey {
        let mut key: Vec<(String, i32, String, String)> = ports
            .iter()
            .map(|p| {
                (
                    p.name.clone().unwrap_or_default(),
                    p.port.unwrap_or(0),
                    p.protocol.clone().unwrap_or_default(),
                    p.app_protocol.clone().unwrap_or_default(),
                )
            })
            .collect();
        key.sort();
        PortKey(key)
    }
}

/// What identifies an endpoint across updates: its addresses, hostname and
/// the pod it stands for. Everything else about it may change in place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointKey {
    addresses: Vec<String>,
    hostname: String,
    namespace: String,
    name: String,
}

impl EndpointKey {
    pub fn of(endpoint: &Endpoint) -> EndpointKey {
        let mut addresses = endpoint.addresses.clone();
        addresses.sort();
        let target = endpoint.target_ref.as_ref();
        EndpointKey {
            addresses,
            hostname: endpoint.hostname.clone().unwrap_or_default(),
            namespace: target.and_then(|t| t.namespace.clone()).unwrap_or_default(),
            name: target.and_then(|t| t.name.clone()).unwrap_or_default(),
        }
    }
}

/// The endpoint of `pod` in a slice of `address_type`; its addresses are
/// empty when the pod has no IP of that family.
pub fn pod_endpoint(
    pod: &Pod,
    node: Option<&Node>,
    service: &Service,
    address_type: AddressType,
) -> Endpoint {
    let serving = is_pod_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    // Kubernetes never reports a terminating pod as ready, unless not-ready
    // addresses are published on purpose.
    let ready = publish_not_ready(service) || (serving && !terminating);
    let node_name = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty());
    let zone = node
        .and_then(|n| n.labels().get(LABEL_ZONE).cloned())
        .filter(|z| !z.is_empty());
    let hostname = should_set_hostname(pod, service)
        .then(|| pod.spec.as_ref().and_then(|s| s.hostname.clone()))
        .flatten();
    Endpoint {
        addresses: pod_ips(pod)
            .iter()
            .filter(|ip| address_type.holds(ip))
            .map(IpAddr::to_string)
            .collect(),
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname,
        node_name,
        zone,
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            ..ObjectReference::default()
        }),
        deprecated_topology: None,
        hints: None,
    }
}

/// The endpoints that share one set of ports.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PortGroup {
    pub ports: Vec<EndpointPort>,
    pub endpoints: BTreeMap<EndpointKey, Endpoint>,
}

/// A Service's wanted endpoints of one address type, grouped by port set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    pub groups: BTreeMap<PortKey, PortGroup>,
    /// Pods left out because their node is unknown (retried later).
    pub missing_nodes: Vec<String>,
}

/// The endpoints `service` wants in slices of `address_type`. `node_of`
/// finds a node by name. Pods on a node that does not exist are left out,
/// unless the Service publishes not-ready addresses, as in Kubernetes.
pub fn desired_endpoints<'a>(
    service: &Service,
    pods: impl IntoIterator<Item = &'a Pod>,
    node_of: impl Fn(&str) -> Option<Node>,
    address_type: AddressType,
) -> Desired {
    let mut desired = Desired::default();
    for pod in pods {
        if !selects(service, pod) || !should_be_endpoint(pod, true) {
            continue;
        }
        let node_name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let node = node_of(&node_name);
        if node.is_none() && !publish_not_ready(service) {
            desired.missing_nodes.push(format!(
                "{}/{} (node {node_name:?})",
                pod.namespace().unwrap_or_default(),
                pod.name_any()
            ));
            continue;
        }
        let endpoint = pod_endpoint(pod, node.as_ref(), service, address_type);
        if endpoint.addresses.is_empty() {
            continue;
        }
        let ports = endpoint_ports(service, pod);
        let group = desired
            .groups
            .entry(PortKey::of(&ports))
            .or_insert_with(|| PortGroup {
                ports,
                endpoints: BTreeMap::new(),
            });
        group.endpoints.insert(EndpointKey::of(&endpoint), endpoint);
    }
    desired
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, PodCondition, PodIP, PodSpec, PodStatus, ServiceSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    pub fn service(name: &str, selector: &[(&str, &str)], ports: Vec<ServicePort>) -> Service {
        let mut svc = Service::default();
        svc.metadata.name = Some(name.into());
        svc.metadata.namespace = Some("default".into());
        svc.metadata.uid = Some(format!("uid-{name}"));
        svc.spec = Some(ServiceSpec {
            selector: Some(
                selector
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ports: Some(ports),
            cluster_ip: Some("10.96.0.20".into()),
            ip_families: Some(vec!["IPv4".into()]),
            ..ServiceSpec::default()
        });
        svc
    }

    pub fn port(name: &str, port: i32, target: IntOrString) -> ServicePort {
        ServicePort {
            name: Some(name.into()),
            port,
            target_port: Some(target),
            protocol: Some("TCP".into()),
            ..ServicePort::default()
        }
    }

    pub fn pod(name: &str, labels: &[(&str, &str)], ip: &str, ready: bool) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.name = Some(name.into());
        pod.metadata.namespace = Some("default".into());
        pod.metadata.uid = Some(format!("uid-{name}"));
        pod.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        pod.spec = Some(PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "app".into(),
                ports: Some(vec![ContainerPort {
                    name: Some("http".into()),
                    container_port: 8080,
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                }]),
                ..Container::default()
            }],
            ..PodSpec::default()
        });
        pod.status = Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: (!ip.is_empty()).then(|| ip.to_string()),
            pod_ips: (!ip.is_empty()).then(|| {
                ip.split(',')
                    .map(|ip| PodIP { ip: ip.to_string() })
                    .collect()
            }),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..PodCondition::default()
            }]),
            ..PodStatus::default()
        });
        pod
    }

    pub fn node_named(name: &str) -> Option<Node> {
        let mut node = Node::default();
        node.metadata.name = Some(name.to_string());
        Some(node)
    }

    fn conditions(e: &Endpoint) -> (bool, bool, bool) {
        let c = e.conditions.as_ref().expect("conditions");
        (
            c.ready.expect("ready"),
            c.serving.expect("serving"),
            c.terminating.expect("terminating"),
        )
    }

    fn terminating(mut pod: Pod) -> Pod {
        pod.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        pod
    }

    #[test]
    fn conditions_follow_readiness_and_termination() {
        let svc = service("web", &[("app", "web")], vec![]);
        let ready = pod("a", &[("app", "web")], "10.244.0.5", true);
        let unready = pod("b", &[("app", "web")], "10.244.0.6", false);
        let leaving = terminating(pod("c", &[("app", "web")], "10.244.0.7", true));
        let leaving_unready = terminating(pod("d", &[("app", "web")], "10.244.0.8", false));
        let at = |p: &Pod| conditions(&pod_endpoint(p, None, &svc, AddressType::IPv4));
        assert_eq!(at(&ready), (true, true, false));
        assert_eq!(at(&unready), (false, false, false));
        assert_eq!(at(&leaving), (false, true, true));
        assert_eq!(at(&leaving_unready), (false, false, true));
        let mut publish = svc.clone();
        publish
            .spec
            .as_mut()
            .expect("spec")
            .publish_not_ready_addresses = Some(true);
        let at = |p: &Pod| conditions(&pod_endpoint(p, None, &publish, AddressType::IPv4));
        assert_eq!(at(&unready), (true, false, false));
        assert_eq!(at(&leaving_unready), (true, false, true));
    }

    #[test]
    fn an_endpoint_names_its_pod_node_and_zone() {
        let svc = service("web", &[("app", "web")], vec![]);
        let p = pod("a", &[("app", "web")], "10.244.0.5", true);
        let mut node = node_named("node-1").expect("node");
        node.metadata.labels = Some([(LABEL_ZONE.to_string(), "z1".to_string())].into());
        let e = pod_endpoint(&p, Some(&node), &svc, AddressType::IPv4);
        assert_eq!(e.addresses, vec!["10.244.0.5"]);
        assert_eq!(e.node_name.as_deref(), Some("node-1"));
        assert_eq!(e.zone.as_deref(), Some("z1"));
        let target = e.target_ref.expect("target");
        assert_eq!(target.kind.as_deref(), Some("Pod"));
        assert_eq!(target.name.as_deref(), Some("a"));
        assert_eq!(target.uid.as_deref(), Some("uid-a"));
        assert_eq!(e.hostname, None);
        let no_zone = pod_endpoint(&p, node_named("node-1").as_ref(), &svc, AddressType::IPv4);
        assert_eq!(no_zone.zone, None);
    }

    #[test]
    fn the_hostname_is_set_for_pods_whose_subdomain_is_the_service() {
        let svc = service("db", &[("app", "db")], vec![]);
        let mut p = pod("db-0", &[("app", "db")], "10.244.0.5", true);
        p.spec.as_mut().expect("spec").hostname = Some("db-0".into());
        assert_eq!(
            pod_endpoint(&p, None, &svc, AddressType::IPv4).hostname,
            None
        );
        p.spec.as_mut().expect("spec").subdomain = Some("db".into());
        assert_eq!(
            pod_endpoint(&p, None, &svc, AddressType::IPv4)
                .hostname
                .as_deref(),
            Some("db-0")
        );
    }

    #[test]
    fn addresses_are_split_by_family() {
        let svc = service("web", &[("app", "web")], vec![]);
        let p = pod("a", &[("app", "web")], "10.244.0.5,fd00::5", true);
        assert_eq!(
            pod_endpoint(&p, None, &svc, AddressType::IPv4).addresses,
            vec!["10.244.0.5"]
        );
        assert_eq!(
            pod_endpoint(&p, None, &svc, AddressType::IPv6).addresses,
            vec!["fd00::5"]
        );
    }

    #[test]
    fn address_types_come_from_families_then_cluster_ip() {
        let mut svc = service("web", &[("app", "web")], vec![]);
        assert_eq!(address_types(&svc), vec![AddressType::IPv4]);
        let spec = svc.spec.as_mut().expect("spec");
        spec.ip_families = Some(vec!["IPv6".into(), "IPv4".into()]);
        assert_eq!(
            address_types(&svc),
            vec![AddressType::IPv4, AddressType::IPv6]
        );
        let spec = svc.spec.as_mut().expect("spec");
        spec.ip_families = None;
        spec.cluster_ip = Some("fd00:96::1".into());
        assert_eq!(address_types(&svc), vec![AddressType::IPv6]);
        svc.spec.as_mut().expect("spec").cluster_ip = Some("None".into());
        assert_eq!(
            address_types(&svc),
            vec![AddressType::IPv4, AddressType::IPv6]
        );
    }

    #[test]
    fn named_target_ports_resolve_per_pod_and_missing_names_drop_the_port() {
        let svc = service(
            "web",
            &[("app", "web")],
            vec![
                port("http", 80, IntOrString::String("http".into())),
                port("metrics", 9090, IntOrString::Int(9100)),
                port("admin", 81, IntOrString::String("admin".into())),
            ],
        );
        let p = pod("a", &[("app", "web")], "10.244.0.5", true);
        let ports = endpoint_ports(&svc, &p);
        let summary: Vec<(String, i32)> = ports
            .iter()
            .map(|p| (p.name.clone().unwrap_or_default(), p.port.unwrap_or(0)))
            .collect();
        assert_eq!(
            summary,
            vec![("http".to_string(), 8080), ("metrics".to_string(), 9100)]
        );
        // The name must match with the protocol too.
        let mut udp = port("http", 80, IntOrString::String("http".into()));
        udp.protocol = Some("UDP".into());
        assert_eq!(find_port(&p, &udp), None);
    }

    #[test]
    fn a_named_port_of_a_sidecar_counts_but_not_of_a_plain_init_container() {
        let mut p = pod("a", &[("app", "web")], "10.244.0.5", true);
        let spec = p.spec.as_mut().expect("spec");
        spec.containers[0].ports = None;
        let init = Container {
            name: "init".into(),
            ports: Some(vec![ContainerPort {
                name: Some("proxy".into()),
                container_port: 15001,
                ..ContainerPort::default()
            }]),
            ..Container::default()
        };
        spec.init_containers = Some(vec![init.clone()]);
        let target = port("proxy", 80, IntOrString::String("proxy".into()));
        assert_eq!(find_port(&p, &target), None);
        let mut sidecar = init;
        sidecar.restart_policy = Some("Always".into());
        p.spec.as_mut().expect("spec").init_containers = Some(vec![sidecar]);
        assert_eq!(find_port(&p, &target), Some(15001));
    }

    #[test]
    fn endpoints_are_grouped_by_their_resolved_ports() {
        let svc = service(
            "web",
            &[("app", "web")],
            vec![port("http", 80, IntOrString::String("http".into()))],
        );
        let with_port = pod("a", &[("app", "web")], "10.244.0.5", true);
        let mut without_port = pod("b", &[("app", "web")], "10.244.0.6", true);
        without_port.spec.as_mut().expect("spec").containers[0].ports = None;
        let pods = [with_port, without_port];
        let desired = desired_endpoints(&svc, &pods, node_named, AddressType::IPv4);
        assert_eq!(desired.groups.len(), 2);
        let sizes: Vec<(usize, usize)> = desired
            .groups
            .values()
            .map(|g| (g.ports.len(), g.endpoints.len()))
            .collect();
        assert!(
            sizes.contains(&(1, 1)) && sizes.contains(&(0, 1)),
            "{sizes:?}"
        );
    }

    #[test]
    fn only_selected_live_pods_with_an_ip_on_a_known_node_count() {
        let svc = service("web", &[("app", "web")], vec![]);
        let mut ended = pod("ended", &[("app", "web")], "10.244.0.9", false);
        ended.status.as_mut().expect("status").phase = Some("Failed".into());
        let mut elsewhere = pod("elsewhere", &[("app", "web")], "10.244.0.8", true);
        elsewhere.metadata.namespace = Some("other".into());
        let mut lost = pod("lost", &[("app", "web")], "10.244.0.7", true);
        lost.spec.as_mut().expect("spec").node_name = Some("gone".into());
        let pods = [
            pod("ok", &[("app", "web"), ("tier", "x")], "10.244.0.5", true),
            pod("other-app", &[("app", "db")], "10.244.0.6", true),
            pod("no-ip", &[("app", "web")], "", true),
            ended,
            elsewhere,
            lost,
            terminating(pod("leaving", &[("app", "web")], "10.244.0.4", true)),
        ];
        let known = |name: &str| (name == "node-1").then(|| node_named(name)).flatten();
        let desired = desired_endpoints(&svc, &pods, known, AddressType::IPv4);
        let names: Vec<String> = desired
            .groups
            .values()
            .flat_map(|g| g.endpoints.values())
            .filter_map(|e| e.target_ref.as_ref().and_then(|t| t.name.clone()))
            .collect();
        assert_eq!(names, vec!["leaving", "ok"]);
        assert_eq!(desired.missing_nodes.len(), 1);
    }

    #[test]
    fn services_without_selector_or_of_external_name_are_not_managed() {
        let mut svc = service("web", &[("app", "web")], vec![]);
        assert!(is_managed(&svc));
        svc.spec.as_mut().expect("spec").type_ = Some("ExternalName".into());
        assert!(!is_managed(&svc));
        let mut bare = service("bare", &[], vec![]);
        assert!(!is_managed(&bare));
        bare.spec.as_mut().expect("spec").selector = None;
        assert!(!is_managed(&bare));
    }

    #[test]
    fn port_keys_ignore_order() {
        let a = EndpointPort {
            name: Some("a".into()),
            port: Some(1),
            protocol: Some("TCP".into()),
            app_protocol: None,
        };
        let b = EndpointPort {
            name: Some("b".into()),
            port: Some(2),
            ..a.clone()
        };
        assert_eq!(
            PortKey::of(&[a.clone(), b.clone()]),
            PortKey::of(&[b.clone(), a.clone()])
        );
        assert_ne!(PortKey::of(&[a]), PortKey::of(&[b]));
    }
}

//! The Kubernetes objects both proxies are fed: ClusterIP Services with one
//! EndpointSlice each, as the API server and the EndpointSlice controller write them.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub const NAMESPACE: &str = "bench";
/// The nodes endpoints are spread over; the first is the one the proxy runs on.
pub const NODES: [&str; 3] = ["node-a", "node-b", "node-c"];
pub const PROXY_NODE: &str = NODES[0];
pub const SERVICE_PORT: u16 = 80;
pub const TARGET_PORT: u16 = 8080;
pub const PORT_NAME: &str = "http";
pub const ENDPOINTS_PER_SLICE: usize = 10;
/// The largest service index the address plan has room for (cluster IPs in 10.96.0.0/16).
pub const MAX_SERVICES: usize = 60_000;

const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
const MANAGED_BY_CONTROLLER: &str = "endpointslice-controller.k8s.io";

/// Generated endpoint addresses cycle through this many addresses of 10.244.0.0/16
/// (a multiple of ENDPOINTS_PER_SLICE, so one slice never wraps).
const ENDPOINT_ADDRESS_CYCLE: u32 = 65_000;

pub fn service_name(index: usize) -> String {
    format!("svc-{index:05}")
}

pub fn slice_name(index: usize) -> String {
    format!("{}-ep", service_name(index))
}

/// 10.96.0.100 + index.
pub fn cluster_ip(index: usize) -> Ipv4Addr {
    let base = u32::from(Ipv4Addr::new(10, 96, 0, 100));
    Ipv4Addr::from(base + index as u32)
}

/// The generated address of endpoint `endpoint` of service `index`, in 10.244.0.0/16.
pub fn endpoint_ip(index: usize, endpoint: usize) -> Ipv4Addr {
    let base = u32::from(Ipv4Addr::new(10, 244, 0, 2));
    let offset = (index * ENDPOINTS_PER_SLICE + endpoint) as u32 % ENDPOINT_ADDRESS_CYCLE;
    Ipv4Addr::from(base + offset)
}

/// An address no generated endpoint has (10.245.0.0/16), for endpoint changes.
pub fn replacement_ip(change: usize) -> Ipv4Addr {
    let base = u32::from(Ipv4Addr::new(10, 245, 0, 1));
    Ipv4Addr::from(base + change as u32)
}

pub fn service(index: usize) -> Service {
    let ip = cluster_ip(index).to_string();
    Service {
        metadata: ObjectMeta {
            name: Some(service_name(index)),
            namespace: Some(NAMESPACE.to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_string()),
            cluster_ip: Some(ip.clone()),
            cluster_ips: Some(vec![ip]),
            ip_families: Some(vec!["IPv4".to_string()]),
            ip_family_policy: Some("SingleStack".to_string()),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.to_string()),
                port: i32::from(SERVICE_PORT),
                protocol: Some("TCP".to_string()),
                target_port: Some(IntOrString::Int(i32::from(TARGET_PORT))),
                ..ServicePort::default()
            }]),
            selector: Some(BTreeMap::from([("app".to_string(), service_name(index))])),
            session_affinity: Some("None".to_string()),
            internal_traffic_policy: Some("Cluster".to_string()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The slice of service `index` with the given ready endpoints; endpoint i is on
/// node i mod 3.
pub fn slice(index: usize, addresses: &[Ipv4Addr]) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            name: Some(slice_name(index)),
            namespace: Some(NAMESPACE.to_string()),
            labels: Some(BTreeMap::from([
                (SERVICE_NAME_LABEL.to_string(), service_name(index)),
                (
                    MANAGED_BY_LABEL.to_string(),
                    MANAGED_BY_CONTROLLER.to_string(),
                ),
            ])),
            ..ObjectMeta::default()
        },
        address_type: "IPv4".to_string(),
        endpoints: addresses
            .iter()
            .enumerate()
            .map(|(i, ip)| Endpoint {
                addresses: vec![ip.to_string()],
                conditions: Some(EndpointConditions {
                    ready: Some(true),
                    serving: Some(true),
                    terminating: Some(false),
                }),
                node_name: Some(NODES[i % NODES.len()].to_string()),
                ..Endpoint::default()
            })
            .collect(),
        ports: Some(vec![EndpointPort {
            name: Some(PORT_NAME.to_string()),
            port: Some(i32::from(TARGET_PORT)),
            protocol: Some("TCP".to_string()),
            app_protocol: None,
        }]),
    }
}

pub fn generated_endpoints(index: usize) -> Vec<Ipv4Addr> {
    (0..ENDPOINTS_PER_SLICE)
        .map(|endpoint| endpoint_ip(index, endpoint))
        .collect()
}

/// Services `0..count` with their slices. Service `probe`, if given, gets the
/// `probe_endpoints` instead of generated ones (the data plane's server).
pub fn cluster(count: usize, probe: Option<(usize, &[Ipv4Addr])>) -> Vec<(Service, EndpointSlice)> {
    (0..count)
        .map(|index| {
            let addresses = match probe {
                Some((probe_index, probe_endpoints)) if probe_index == index => {
                    probe_endpoints.to_vec()
                }
                _ => generated_endpoints(index),
            };
            (service(index), slice(index, &addresses))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_stay_in_their_ranges_and_differ_within_a_slice() {
        assert_eq!(cluster_ip(0), Ipv4Addr::new(10, 96, 0, 100));
        assert_eq!(cluster_ip(MAX_SERVICES), Ipv4Addr::new(10, 96, 234, 196));
        for index in [0, 6_499, 6_500, 9_999, MAX_SERVICES] {
            let endpoints = generated_endpoints(index);
            let mut distinct = endpoints.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), ENDPOINTS_PER_SLICE, "service {index}");
            for ip in endpoints {
                assert_eq!(ip.octets()[..2], [10, 244], "service {index}: {ip}");
            }
        }
        assert_eq!(replacement_ip(0), Ipv4Addr::new(10, 245, 0, 1));
    }

    #[test]
    fn a_slice_belongs_to_its_service_and_spreads_over_the_nodes() {
        let generated = cluster(3, Some((1, &[Ipv4Addr::new(10, 244, 200, 10)])));
        let (service, slice) = &generated[1];
        let name = service.metadata.name.as_deref();
        assert_eq!(name, Some("svc-00001"));
        let labels = slice.metadata.labels.as_ref().expect("labels");
        assert_eq!(labels.get(SERVICE_NAME_LABEL).map(String::as_str), name);
        assert_eq!(slice.endpoints.len(), 1);
        assert_eq!(slice.endpoints[0].addresses, ["10.244.200.10"]);

        let (_, slice) = &generated[2];
        let nodes: Vec<_> = slice
            .endpoints
            .iter()
            .map(|e| e.node_name.as_deref().expect("node"))
            .collect();
        assert_eq!(&nodes[..4], ["node-a", "node-b", "node-c", "node-a"]);
    }
}

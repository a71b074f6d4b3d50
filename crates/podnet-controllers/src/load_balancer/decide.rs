//! What the LoadBalancer IPAM controller does about one Service: pure
//! functions of the Service and the books, tested without a server.

use std::cmp::Ordering;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{LoadBalancerIngress, Service};
use kube::ResourceExt;
use serde_json::{json, Value};

use super::allocator::{AllocationError, LoadBalancerAllocator, ServiceKey};

/// `spec.loadBalancerClass` of the Services this controller serves; Services
/// without a class are served too.
pub const LOAD_BALANCER_CLASS: &str = "podnet.io/load-balancer";

/// The `ipMode` written on every ingress entry: traffic to the address is
/// delivered to nodes with the address itself as destination, and the
/// service proxy answers it there.
pub const IP_MODE_VIP: &str = "VIP";

/// What to do about one Service.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing to write: not ours, or its status already shows its address.
    Nothing,
    /// Write `ip` as the Service's only ingress.
    Write { ip: Ipv4Addr },
    /// Remove this controller's addresses from the status, keeping the
    /// entries of others.
    Clear { keep: Vec<LoadBalancerIngress> },
    /// No address for the Service; its status is emptied when `clear`.
    Failed { error: AllocationError, clear: bool },
}

pub fn service_key(service: &Service) -> ServiceKey {
    ServiceKey::new(
        &service.namespace().unwrap_or_default(),
        &service.name_any(),
    )
}

fn is_load_balancer(service: &Service) -> bool {
    service.spec.as_ref().and_then(|spec| spec.type_.as_deref()) == Some("LoadBalancer")
}

/// Whether the Service is a LoadBalancer of this controller's class.
pub fn is_ours(service: &Service) -> bool {
    let class = service
        .spec
        .as_ref()
        .and_then(|spec| spec.load_balancer_class.as_deref());
    is_load_balancer(service) && class.is_none_or(|class| class == LOAD_BALANCER_CLASS)
}

/// `status.loadBalancer.ingress` as written.
pub fn ingress(service: &Service) -> Vec<LoadBalancerIngress> {
    service
        .status
        .as_ref()
        .and_then(|status| status.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.clone())
        .unwrap_or_default()
}

/// The IPv4 addresses of the status.
fn ingress_ips(service: &Service) -> Vec<Ipv4Addr> {
    ingress(service)
        .iter()
        .filter_map(|entry| entry.ip.as_deref()?.parse().ok())
        .collect()
}

/// `spec.loadBalancerIP`, when set.
pub fn requested_ip(service: &Service) -> Option<&str> {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.load_balancer_ip.as_deref())
        .filter(|ip| !ip.is_empty())
}

/// Older Services first, then by namespace and name: who wins when two ask
/// for the same address.
pub fn precedence(a: &Service, b: &Service) -> Ordering {
    let created = |s: &Service| s.metadata.creation_timestamp.as_ref().map(|t| t.0);
    created(a)
        .cmp(&created(b))
        .then_with(|| service_key(a).cmp(&service_key(b)))
}

/// Rebuilds the books from the Services' statuses, as a restarted
/// controller must before it hands anything out: each of our Services keeps
/// the pool address its status shows, older Services first should two show
/// the same one. A status address that differs from `spec.loadBalancerIP`
/// is not kept; the Service's sync decides about it.
pub fn rebuild(books: &mut LoadBalancerAllocator, services: &[Service]) -> Vec<AllocationError> {
    let mut ours: Vec<&Service> = services
        .iter()
        .filter(|s| is_ours(s) && s.metadata.deletion_timestamp.is_none())
        .collect();
    ours.sort_by(|a, b| precedence(a, b));
    let mut problems = Vec::new();
    for service in ours {
        let key = service_key(service);
        let requested = requested_ip(service).and_then(|ip| ip.parse::<Ipv4Addr>().ok());
        let shown = ingress_ips(service)
            .into_iter()
            .find(|ip| books.is_assignable(*ip) && requested.is_none_or(|r| r == *ip));
        if let Some(ip) = shown {
            if let Err(problem) = books.assign(&key, ip) {
                problems.push(problem);
            }
        }
    }
    problems
}

/// Decides about one Service, updating the books.
pub fn decide(books: &mut LoadBalancerAllocator, service: &Service) -> Outcome {
    let key = service_key(service);
    let shown = ingress(service);
    if service.metadata.deletion_timestamp.is_some() {
        books.release(&key);
        return Outcome::Nothing;
    }
    if !is_ours(service) {
        let held = books.release(&key);
        // A LoadBalancer of another class keeps whatever its own controller
        // wrote; only an address this controller held is taken back. Any
        // other type has no business with pool addresses at all.
        let ours = |ip: Ipv4Addr| {
            if is_load_balancer(service) {
                held == Some(ip)
            } else {
                books.is_assignable(ip)
            }
        };
        let keep: Vec<LoadBalancerIngress> = shown
            .iter()
            .filter(|entry| {
                !entry
                    .ip
                    .as_deref()
                    .and_then(|ip| ip.parse().ok())
                    .is_some_and(ours)
            })
            .cloned()
            .collect();
        return if keep.len() == shown.len() {
            Outcome::Nothing
        } else {
            Outcome::Clear { keep }
        };
    }

    let wanted = match requested_ip(service) {
        Some(text) => match text.parse::<Ipv4Addr>() {
            Ok(ip) => books.assign(&key, ip).map(|()| ip),
            Err(_) => Err(AllocationError::NotIpv4 {
                requested: text.to_string(),
            }),
        },
        None => match books.ip_of(&key) {
            Some(ip) => Ok(ip),
            None => {
                // A status address nobody else holds is kept: the Service
                // was served before this controller's books knew it.
                let adoptable = ingress_ips(service)
                    .into_iter()
                    .find(|ip| books.is_assignable(*ip) && books.owner_of(*ip).is_none());
                match adoptable {
                    Some(ip) => books.assign(&key, ip).map(|()| ip),
                    None => books.allocate(&key),
                }
            }
        },
    };
    match wanted {
        Ok(ip) => {
            let shows_exactly = shown.len() == 1
                && shown[0].ip.as_deref() == Some(ip.to_string().as_str())
                && shown[0]
                    .ip_mode
                    .as_deref()
                    .is_none_or(|mode| mode == IP_MODE_VIP)
                && shown[0].hostname.is_none();
            if shows_exactly {
                Outcome::Nothing
            } else {
                Outcome::Write { ip }
            }
        }
        Err(error) => {
            books.release(&key);
            Outcome::Failed {
                error,
                clear: !shown.is_empty(),
            }
        }
    }
}

/// The status merge patch that makes `ingress` the Service's ingress list,
/// applied only onto the version decided on.
pub fn ingress_patch(resource_version: Option<&str>, ingress: &[LoadBalancerIngress]) -> Value {
    let list = if ingress.is_empty() {
        Value::Null
    } else {
        serde_json::to_value(ingress).expect("ingress entries serialize")
    };
    let mut patch = json!({"status": {"loadBalancer": {"ingress": list}}});
    if let Some(rv) = resource_version {
        patch["metadata"] = json!({"resourceVersion": rv});
    }
    patch
}

/// The ingress entry of an address of ours.
pub fn vip_ingress(ip: Ipv4Addr) -> LoadBalancerIngress {
    LoadBalancerIngress {
        ip: Some(ip.to_string()),
        ip_mode: Some(IP_MODE_VIP.to_string()),
        ..LoadBalancerIngress::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipnet::IpNet;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn books() -> LoadBalancerAllocator {
        let pools: Vec<IpNet> = vec!["172.30.0.64/29".parse().unwrap()];
        LoadBalancerAllocator::new(&pools).unwrap()
    }

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    fn service(name: &str, spec: Value, ingress: &[&str]) -> Service {
        let ingress: Vec<Value> = ingress
            .iter()
            .map(|ip| json!({"ip": ip, "ipMode": "VIP"}))
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "resourceVersion": "5"},
            "spec": spec,
            "status": {"loadBalancer": {"ingress": ingress}},
        }))
        .unwrap()
    }

    fn lb(name: &str) -> Service {
        service(name, json!({"type": "LoadBalancer"}), &[])
    }

    fn created(mut service: Service, second: i64) -> Service {
        service.metadata.creation_timestamp = Some(Time(
            Timestamp::from_second(1_700_000_000 + second).unwrap(),
        ));
        service
    }

    #[test]
    fn a_new_load_balancer_gets_the_first_free_address() {
        let mut books = books();
        assert_eq!(
            decide(&mut books, &lb("web")),
            Outcome::Write {
                ip: ip("172.30.0.65")
            }
        );
        assert_eq!(
            books.ip_of(&ServiceKey::new("default", "web")),
            Some(ip("172.30.0.65"))
        );
    }

    #[test]
    fn a_service_whose_status_shows_its_address_needs_nothing() {
        let mut books = books();
        let web = service("web", json!({"type": "LoadBalancer"}), &["172.30.0.65"]);
        assert_eq!(decide(&mut books, &web), Outcome::Nothing);
        assert_eq!(decide(&mut books, &web), Outcome::Nothing);
    }

    #[test]
    fn other_types_and_classes_are_left_alone() {
        let mut books = books();
        let cluster_ip = service("a", json!({"type": "ClusterIP"}), &[]);
        let other = service(
            "b",
            json!({"type": "LoadBalancer", "loadBalancerClass": "example.com/other"}),
            &["172.30.0.66"],
        );
        assert_eq!(decide(&mut books, &cluster_ip), Outcome::Nothing);
        assert_eq!(decide(&mut books, &other), Outcome::Nothing);
        assert_eq!(books.free(), 6);
        let ours = service(
            "c",
            json!({"type": "LoadBalancer", "loadBalancerClass": LOAD_BALANCER_CLASS}),
            &[],
        );
        assert!(matches!(decide(&mut books, &ours), Outcome::Write { .. }));
    }

    #[test]
    fn the_requested_address_is_honoured_or_refused_naming_the_field() {
        let mut books = books();
        let wants = |name: &str, ip: &str| {
            service(
                name,
                json!({"type": "LoadBalancer", "loadBalancerIP": ip}),
                &[],
            )
        };
        assert_eq!(
            decide(&mut books, &wants("a", "172.30.0.68")),
            Outcome::Write {
                ip: ip("172.30.0.68")
            }
        );
        match decide(&mut books, &wants("b", "172.30.0.68")) {
            Outcome::Failed { error, clear } => {
                assert!(!clear);
                assert_eq!(
                    error.to_string(),
                    "spec.loadBalancerIP 172.30.0.68 is already assigned to service default/a"
                );
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        match decide(&mut books, &wants("c", "192.0.2.1")) {
            Outcome::Failed { error, .. } => {
                assert!(error
                    .to_string()
                    .starts_with("spec.loadBalancerIP 192.0.2.1"))
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert!(matches!(
            decide(&mut books, &wants("d", "not-an-ip")),
            Outcome::Failed {
                error: AllocationError::NotIpv4 { .. },
                ..
            }
        ));
        assert_eq!(books.ip_of(&ServiceKey::new("default", "b")), None);
    }

    #[test]
    fn a_refused_request_empties_a_status_that_showed_an_address() {
        let mut books = books();
        let moved = service(
            "a",
            json!({"type": "LoadBalancer", "loadBalancerIP": "10.9.9.9"}),
            &["172.30.0.65"],
        );
        assert!(matches!(
            decide(&mut books, &moved),
            Outcome::Failed { clear: true, .. }
        ));
    }

    #[test]
    fn exhaustion_fails_until_an_address_is_released() {
        let mut books = books();
        for i in 0..6 {
            assert!(matches!(
                decide(&mut books, &lb(&format!("s{i}"))),
                Outcome::Write { .. }
            ));
        }
        assert!(matches!(
            decide(&mut books, &lb("late")),
            Outcome::Failed {
                error: AllocationError::Exhausted { .. },
                clear: false
            }
        ));
        let mut gone = lb("s2");
        gone.metadata.deletion_timestamp = Some(Time(Timestamp::now()));
        assert_eq!(decide(&mut books, &gone), Outcome::Nothing);
        assert_eq!(
            decide(&mut books, &lb("late")),
            Outcome::Write {
                ip: ip("172.30.0.67")
            }
        );
    }

    #[test]
    fn a_type_change_clears_the_address_and_frees_it() {
        let mut books = books();
        let web = service("web", json!({"type": "LoadBalancer"}), &["172.30.0.65"]);
        assert_eq!(decide(&mut books, &web), Outcome::Nothing);
        let now_cluster_ip = service("web", json!({"type": "ClusterIP"}), &["172.30.0.65"]);
        assert_eq!(
            decide(&mut books, &now_cluster_ip),
            Outcome::Clear { keep: vec![] }
        );
        assert_eq!(books.free(), 6);
    }

    #[test]
    fn a_class_change_takes_back_only_this_controllers_address() {
        let mut books = books();
        let web = service("web", json!({"type": "LoadBalancer"}), &["172.30.0.65"]);
        decide(&mut books, &web);
        let other = service(
            "web",
            json!({"type": "LoadBalancer", "loadBalancerClass": "example.com/other"}),
            &["172.30.0.65", "198.51.100.7"],
        );
        assert_eq!(
            decide(&mut books, &other),
            Outcome::Clear {
                keep: vec![LoadBalancerIngress {
                    ip: Some("198.51.100.7".into()),
                    ip_mode: Some("VIP".into()),
                    ..LoadBalancerIngress::default()
                }]
            }
        );
        // Once taken back, another class's entries are never touched again.
        let after = service(
            "web",
            json!({"type": "LoadBalancer", "loadBalancerClass": "example.com/other"}),
            &["198.51.100.7"],
        );
        assert_eq!(decide(&mut books, &after), Outcome::Nothing);
    }

    #[test]
    fn rebuilt_books_keep_status_addresses_older_services_first() {
        let mut books = books();
        let services = vec![
            created(
                service("young", json!({"type": "LoadBalancer"}), &["172.30.0.66"]),
                20,
            ),
            created(
                service("old", json!({"type": "LoadBalancer"}), &["172.30.0.66"]),
                10,
            ),
            created(
                service("kept", json!({"type": "LoadBalancer"}), &["172.30.0.65"]),
                30,
            ),
            created(
                service(
                    "other",
                    json!({"type": "LoadBalancer", "loadBalancerClass": "example.com/x"}),
                    &["172.30.0.67"],
                ),
                0,
            ),
        ];
        let problems = rebuild(&mut books, &services);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            books.owner_of(ip("172.30.0.66")),
            Some(&ServiceKey::new("default", "old"))
        );
        assert_eq!(
            books.owner_of(ip("172.30.0.65")),
            Some(&ServiceKey::new("default", "kept"))
        );
        assert_eq!(books.owner_of(ip("172.30.0.67")), None);
        // The loser gets a fresh address on its sync.
        assert_eq!(
            decide(&mut books, &services[0]),
            Outcome::Write {
                ip: ip("172.30.0.67")
            }
        );
    }

    #[test]
    fn precedence_is_creation_time_then_name() {
        let a = created(lb("b"), 1);
        let b = created(lb("a"), 2);
        let c = created(lb("c"), 2);
        assert_eq!(precedence(&a, &b), Ordering::Less);
        assert_eq!(precedence(&b, &c), Ordering::Less);
    }

    #[test]
    fn the_patch_writes_a_vip_entry_or_removes_the_list() {
        assert_eq!(
            ingress_patch(Some("9"), &[vip_ingress(ip("172.30.0.65"))]),
            json!({
                "metadata": {"resourceVersion": "9"},
                "status": {"loadBalancer": {"ingress": [{"ip": "172.30.0.65", "ipMode": "VIP"}]}}
            })
        );
        assert_eq!(
            ingress_patch(None, &[]),
            json!({"status": {"loadBalancer": {"ingress": null}}})
        );
    }
}

//! ClusterIPs from the service CIDR and NodePorts from the node port range.
//!
//! The allocations live in memory and are rebuilt from the stored Services
//! at start (repair), so the store stays the one truth: an address is taken
//! exactly when a stored Service holds it. One API server owns allocation.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::ops::RangeInclusive;

use ipnet::IpNet;
use podnet_model::alloc::{AllocError, BitmapAllocator, CidrAllocator};
use serde_json::{json, Value};

use crate::status::FieldError;

/// What one Service holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub ips: BTreeSet<IpAddr>,
    pub ports: BTreeSet<u16>,
}

impl Claims {
    /// The addresses and ports a stored Service holds.
    pub fn of(svc: &Value) -> Claims {
        let mut claims = Claims::default();
        let spec = &svc["spec"];
        if let Some(ips) = spec["clusterIPs"].as_array() {
            claims.ips.extend(
                ips.iter()
                    .filter_map(|ip| ip.as_str()?.parse::<IpAddr>().ok()),
            );
        }
        if let Some(ip) = spec["clusterIP"]
            .as_str()
            .and_then(|ip| ip.parse::<IpAddr>().ok())
        {
            claims.ips.insert(ip);
        }
        if let Some(ports) = spec["ports"].as_array() {
            claims
                .ports
                .extend(ports.iter().filter_map(|p| port(&p["nodePort"])));
        }
        if let Some(hc) = port(&spec["healthCheckNodePort"]) {
            claims.ports.insert(hc);
        }
        claims
    }

    fn minus(&self, other: &Claims) -> Claims {
        Claims {
            ips: self.ips.difference(&other.ips).copied().collect(),
            ports: self.ports.difference(&other.ports).copied().collect(),
        }
    }
}

fn port(v: &Value) -> Option<u16> {
    v.as_u64()
        .filter(|p| *p > 0)
        .and_then(|p| u16::try_from(p).ok())
}

/// What one write of a Service changed in the allocations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Newly taken: given back if the write fails.
    pub taken: Claims,
    /// Held by the old object and no longer: given back once the write is committed.
    pub released: Claims,
}

pub struct ServiceAllocator {
    cluster_ips: CidrAllocator,
    node_ports: BitmapAllocator,
    port_range: RangeInclusive<u16>,
}

impl ServiceAllocator {
    pub fn new(service_cidr: IpNet, port_range: RangeInclusive<u16>) -> Result<Self, AllocError> {
        let size = u64::from(*port_range.end() - *port_range.start()) + 1;
        Ok(ServiceAllocator {
            cluster_ips: CidrAllocator::new(service_cidr, &[])?,
            node_ports: BitmapAllocator::new(size),
            port_range,
        })
    }

    pub fn service_cidr(&self) -> IpNet {
        self.cluster_ips.net()
    }

    /// Marks what the stored Services hold as taken. Returns the Services
    /// whose claims collide with an earlier one or fall outside the ranges.
    pub fn repair<'a>(&mut self, services: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
        let mut problems = Vec::new();
        for svc in services {
            let claims = Claims::of(svc);
            for ip in &claims.ips {
                if let Err(e) = self.cluster_ips.allocate(*ip) {
                    problems.push(format!("{}: {e}", crate::object::name(svc)));
                }
            }
            for p in &claims.ports {
                if !self.take_port(*p) {
                    problems.push(format!(
                        "{}: node port {p} is taken or outside the range",
                        crate::object::name(svc)
                    ));
                }
            }
        }
        problems
    }

    fn take_port(&mut self, port: u16) -> bool {
        self.port_range.contains(&port)
            && self
                .node_ports
                .allocate(u64::from(port - *self.port_range.start()))
    }

    fn release_port(&mut self, port: u16) {
        if self.port_range.contains(&port) {
            self.node_ports
                .release(u64::from(port - *self.port_range.start()));
        }
    }

    fn next_port(&mut self) -> Option<u16> {
        let index = self.node_ports.allocate_next()?;
        Some(*self.port_range.start() + u16::try_from(index).ok()?)
    }

    /// Fills in the ClusterIP and NodePorts `svc` needs and takes them. An
    /// update carries the values of `old` it keeps already (the defaulting
    /// step `prepare_service_update` copies them over); they stay taken. On
    /// any error nothing new stays taken.
    pub fn allocate(
        &mut self,
        svc: &mut Value,
        old: Option<&Value>,
    ) -> Result<Allocation, Vec<FieldError>> {
        let old_claims = old.map(Claims::of).unwrap_or_default();
        let mut taken = Claims::default();
        let result = self.fill(svc, &old_claims, &mut taken);
        if let Err(errors) = result {
            self.release(&taken);
            return Err(errors);
        }
        let released = old_claims.minus(&Claims::of(svc));
        Ok(Allocation { taken, released })
    }

    fn fill(
        &mut self,
        svc: &mut Value,
        old: &Claims,
        taken: &mut Claims,
    ) -> Result<(), Vec<FieldError>> {
        let kind = svc["spec"]["type"]
            .as_str()
            .unwrap_or("ClusterIP")
            .to_string();
        let mut errors = Vec::new();
        if kind != "ExternalName" {
            self.fill_cluster_ip(svc, old, taken, &mut errors);
        }
        let wants_node_ports = kind == "NodePort"
            || (kind == "LoadBalancer"
                && svc["spec"]["allocateLoadBalancerNodePorts"].as_bool() != Some(false));
        if wants_node_ports {
            self.fill_node_ports(svc, old, taken, &mut errors);
        } else if kind != "LoadBalancer" {
            if let Some(ports) = svc["spec"]["ports"].as_array_mut() {
                for p in ports {
                    if let Some(m) = p.as_object_mut() {
                        m.remove("nodePort");
                    }
                }
            }
        }
        let local = svc["spec"]["externalTrafficPolicy"].as_str() == Some("Local");
        if kind == "LoadBalancer" && local {
            match port(&svc["spec"]["healthCheckNodePort"]) {
                Some(p) => {
                    if !old.ports.contains(&p) {
                        self.claim_port(p, "spec.healthCheckNodePort", taken, &mut errors);
                    }
                }
                None => match self.next_port() {
                    Some(p) => {
                        taken.ports.insert(p);
                        svc["spec"]["healthCheckNodePort"] = json!(p);
                    }
                    None => errors.push(FieldError::invalid(
                        "spec.healthCheckNodePort",
                        0,
                        "range is full",
                    )),
                },
            }
        } else if let Some(spec) = svc["spec"].as_object_mut() {
            spec.remove("healthCheckNodePort");
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn fill_cluster_ip(
        &mut self,
        svc: &mut Value,
        old: &Claims,
        taken: &mut Claims,
        errors: &mut Vec<FieldError>,
    ) {
        let requested = svc["spec"]["clusterIP"]
            .as_str()
            .or_else(|| svc["spec"]["clusterIPs"][0].as_str())
            .unwrap_or("")
            .to_string();
        if requested == "None" {
            svc["spec"]["clusterIP"] = json!("None");
            svc["spec"]["clusterIPs"] = json!(["None"]);
            return;
        }
        if let Some(families) = svc["spec"]["ipFamilies"].as_array() {
            let ours = if self.service_cidr().addr().is_ipv4() {
                "IPv4"
            } else {
                "IPv6"
            };
            for (i, family) in families.iter().enumerate() {
                if family.as_str() != Some(ours) {
                    errors.push(FieldError::invalid(
                        format!("spec.ipFamilies[{i}]"),
                        family,
                        "not configured on this cluster",
                    ));
                }
            }
            if !errors.is_empty() {
                return;
            }
        }
        let ip = if requested.is_empty() {
            match self.cluster_ips.allocate_next() {
                Some(ip) => {
                    taken.ips.insert(ip);
                    ip
                }
                None => {
                    errors.push(FieldError::invalid_str(
                        "spec.clusterIPs",
                        "",
                        format!(
                            "failed to allocate a serviceIP: range is full ({})",
                            self.service_cidr()
                        ),
                    ));
                    return;
                }
            }
        } else {
            let Ok(ip) = requested.parse::<IpAddr>() else {
                errors.push(FieldError::invalid_str(
                    "spec.clusterIPs[0]",
                    &requested,
                    "must be empty, 'None', or a valid IP address",
                ));
                return;
            };
            if !old.ips.contains(&ip) {
                match self.cluster_ips.allocate(ip) {
                    Ok(()) => {
                        taken.ips.insert(ip);
                    }
                    Err(AllocError::Taken { .. }) => errors.push(FieldError::invalid_str(
                        "spec.clusterIPs[0]",
                        &requested,
                        "provided IP is already allocated",
                    )),
                    Err(_) => errors.push(FieldError::invalid_str(
                        "spec.clusterIPs[0]",
                        &requested,
                        format!(
                            "failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. The range of valid IPs is {}",
                            self.service_cidr()
                        ),
                    )),
                }
            }
            ip
        };
        svc["spec"]["clusterIP"] = json!(ip.to_string());
        svc["spec"]["clusterIPs"] = json!([ip.to_string()]);
    }

    fn fill_node_ports(
        &mut self,
        svc: &mut Value,
        old: &Claims,
        taken: &mut Claims,
        errors: &mut Vec<FieldError>,
    ) {
        let Some(ports) = svc["spec"]["ports"].as_array_mut() else {
            return;
        };
        // One service may use the same node port for TCP and UDP of one port number.
        let mut in_this_service = BTreeSet::new();
        for (i, p) in ports.iter_mut().enumerate() {
            match port(&p["nodePort"]) {
                Some(n) => {
                    if old.ports.contains(&n) || in_this_service.contains(&n) {
                        in_this_service.insert(n);
                        continue;
                    }
                    let field = format!("spec.ports[{i}].nodePort");
                    if self.claim_port(n, &field, taken, errors) {
                        in_this_service.insert(n);
                    }
                }
                None => match self.next_port() {
                    Some(n) => {
                        taken.ports.insert(n);
                        in_this_service.insert(n);
                        p["nodePort"] = json!(n);
                    }
                    None => errors.push(FieldError::invalid(
                        format!("spec.ports[{i}].nodePort"),
                        0,
                        "failed to allocate a nodePort: range is full",
                    )),
                },
            }
        }
    }

    fn claim_port(
        &mut self,
        p: u16,
        field: &str,
        taken: &mut Claims,
        errors: &mut Vec<FieldError>,
    ) -> bool {
        if !self.port_range.contains(&p) {
            errors.push(FieldError::invalid(
                field,
                p,
                format!(
                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                    self.port_range.start(),
                    self.port_range.end()
                ),
            ));
            return false;
        }
        if !self.take_port(p) {
            errors.push(FieldError::invalid(
                field,
                p,
                "provided port is already allocated",
            ));
            return false;
        }
        taken.ports.insert(p);
        true
    }

    pub fn release(&mut self, claims: &Claims) {
        for ip in &claims.ips {
            self.cluster_ips.release(*ip);
        }
        for p in &claims.ports {
            self.release_port(*p);
        }
    }

    pub fn is_ip_allocated(&self, ip: IpAddr) -> bool {
        self.cluster_ips.is_allocated(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocator() -> ServiceAllocator {
        ServiceAllocator::new("10.96.0.0/16".parse().unwrap(), 30000..=32767).unwrap()
    }

    fn svc(kind: &str, cluster_ip: &str) -> Value {
        json!({"metadata": {"name": "s"}, "spec": {"type": kind, "clusterIP": cluster_ip,
            "ports": [{"port": 80, "protocol": "TCP"}]}})
    }

    #[test]
    fn allocates_and_honours_requested_ips() {
        let mut a = allocator();
        let mut s = svc("ClusterIP", "");
        a.allocate(&mut s, None).unwrap();
        let ip: IpAddr = s["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
        assert!(a.is_ip_allocated(ip));
        assert_eq!(s["spec"]["clusterIPs"][0], s["spec"]["clusterIP"]);
        let mut r = svc("ClusterIP", "10.96.0.10");
        a.allocate(&mut r, None).unwrap();
        assert_eq!(r["spec"]["clusterIP"], "10.96.0.10");
        let mut again = svc("ClusterIP", "10.96.0.10");
        let errors = a.allocate(&mut again, None).unwrap_err();
        assert_eq!(errors[0].field, "spec.clusterIPs[0]");
        assert!(errors[0].detail.contains("already allocated"));
        let mut outside = svc("ClusterIP", "192.168.0.1");
        let errors = a.allocate(&mut outside, None).unwrap_err();
        assert!(
            errors[0].detail.contains("not in the valid range"),
            "{:?}",
            errors
        );
    }

    #[test]
    fn node_ports_and_rollback() {
        let mut a = allocator();
        let mut s = svc("NodePort", "");
        a.allocate(&mut s, None).unwrap();
        let np = s["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
        assert!((30000..=32767).contains(&np));
        // A second service asking for the same port fails and keeps nothing.
        let mut t = svc("NodePort", "");
        t["spec"]["ports"][0]["nodePort"] = json!(np);
        let errors = a.allocate(&mut t, None).unwrap_err();
        assert_eq!(errors[0].field, "spec.ports[0].nodePort");
        let ips_before = a.cluster_ips.used();
        assert_eq!(ips_before, 1, "the failed service's cluster IP went back");
        let mut low = svc("NodePort", "");
        low["spec"]["ports"][0]["nodePort"] = json!(80);
        assert!(a.allocate(&mut low, None).unwrap_err()[0]
            .detail
            .contains("30000-32767"));
    }

    #[test]
    fn updates_keep_allocations_and_release_what_goes() {
        let mut a = allocator();
        let mut s = svc("NodePort", "");
        a.allocate(&mut s, None).unwrap();
        let mut changed = svc("ClusterIP", "");
        crate::defaults::prepare_service_update(&mut changed, &s);
        let released = a.allocate(&mut changed, Some(&s)).unwrap().released;
        assert_eq!(changed["spec"]["clusterIP"], s["spec"]["clusterIP"]);
        assert!(changed["spec"]["ports"][0].get("nodePort").is_none());
        assert_eq!(released.ports.len(), 1);
        assert!(released.ips.is_empty());
        a.release(&released);
        assert_eq!(a.node_ports.used(), 0);
    }

    #[test]
    fn local_load_balancers_get_a_health_check_port_and_headless_nothing() {
        let mut a = allocator();
        let mut lb = svc("LoadBalancer", "");
        lb["spec"]["externalTrafficPolicy"] = json!("Local");
        a.allocate(&mut lb, None).unwrap();
        assert!(lb["spec"]["healthCheckNodePort"].as_u64().is_some());
        let mut headless = svc("ClusterIP", "None");
        a.allocate(&mut headless, None).unwrap();
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
        let mut a2 = allocator();
        let problems = a2.repair([&lb, &headless]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(a2.node_ports.used(), 2);
    }
}

//! The baseline: Services rendered in the rule shape kube-proxy's iptables mode writes
//! (pkg/proxy/iptables), and applied the way it applies them, with `iptables-restore
//! --noflush --counters`.
//!
//! Only what ClusterIP Services with ready endpoints need is rendered: the top-level
//! chains of the nat and filter tables, one KUBE-SERVICES rule per service port, a
//! KUBE-SVC chain choosing an endpoint with `statistic` probabilities, and one KUBE-SEP
//! chain per endpoint. Like kube-proxy, a partial sync rewrites every top-level chain
//! (KUBE-SERVICES with a rule per service included) and only the SVC and SEP chains of
//! the services that changed; SEP chains an endpoint change leaves behind stay until
//! kube-proxy's periodic cleanup, which is not part of a change.

use crate::error::BenchError;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};

const MASQUERADE_MARK: &str = "0x4000";
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Above this many endpoints kube-proxy drops the per-endpoint comments
/// (largeClusterEndpointsThreshold) to keep the restore input smaller.
const LARGE_CLUSTER_ENDPOINTS: usize = 1000;

/// One service port as kube-proxy's iptables mode sees it.
#[derive(Debug, Clone, PartialEq)]
struct ServicePortRules {
    /// `namespace/name:port-name`, kube-proxy's ServicePortName string.
    name: String,
    cluster_ip: String,
    port: i32,
    protocol: String,
    svc_chain: String,
    /// `ip:port` and the KUBE-SEP chain of each ready endpoint.
    endpoints: Vec<(String, String)>,
}

/// The iptables-mode view of all Services, in the order their KUBE-SERVICES rules are
/// written (kube-proxy iterates a map; here the order is the objects' order).
pub struct KubeProxyRules {
    cluster_cidr: String,
    /// Keyed by `namespace/name`; several ports of one Service stay together.
    order: Vec<String>,
    services: BTreeMap<String, Vec<ServicePortRules>>,
}

/// kube-proxy's chain-name hash: base32 of sha256, first 16 characters.
fn hash16(input: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(input.as_bytes());
    let mut out = String::with_capacity(16);
    let mut buffer: u64 = 0;
    let mut bits = 0;
    for byte in digest.iter() {
        buffer = (buffer << 8) | u64::from(*byte);
        bits += 8;
        while bits >= 5 && out.len() < 16 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        if out.len() == 16 {
            break;
        }
    }
    out
}

fn svc_chain(port_name: &str, protocol: &str) -> String {
    format!("KUBE-SVC-{}", hash16(&format!("{port_name}{protocol}")))
}

fn sep_chain(port_name: &str, protocol: &str, endpoint: &str) -> String {
    format!(
        "KUBE-SEP-{}",
        hash16(&format!("{port_name}{protocol}{endpoint}"))
    )
}

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// The service ports of one Service with the ready endpoints of its slices.
fn service_ports(service: &Service, slices: &[&EndpointSlice]) -> Vec<ServicePortRules> {
    let namespace = service.metadata.namespace.as_deref().unwrap_or("default");
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let Some(spec) = &service.spec else {
        return Vec::new();
    };
    let Some(cluster_ip) = spec.cluster_ip.as_deref().filter(|ip| *ip != "None") else {
        return Vec::new();
    };
    let mut rules = Vec::new();
    for port in spec.ports.iter().flatten() {
        let protocol = port.protocol.as_deref().unwrap_or("TCP").to_lowercase();
        let port_name = match port.name.as_deref() {
            Some(port_name) if !port_name.is_empty() => {
                format!("{}:{port_name}", key(namespace, name))
            }
            _ => key(namespace, name),
        };
        let mut endpoints = Vec::new();
        for slice in slices {
            let target = slice.ports.iter().flatten().find(|p| {
                p.name.as_deref().unwrap_or_default() == port.name.as_deref().unwrap_or_default()
            });
            let Some(target_port) = target.and_then(|p| p.port) else {
                continue;
            };
            for endpoint in &slice.endpoints {
                let ready = endpoint
                    .conditions
                    .as_ref()
                    .and_then(|c| c.ready)
                    .unwrap_or(true);
                if let (true, Some(ip)) = (ready, endpoint.addresses.first()) {
                    let endpoint = format!("{ip}:{target_port}");
                    let chain = sep_chain(&port_name, &protocol, &endpoint);
                    endpoints.push((endpoint, chain));
                }
            }
        }
        rules.push(ServicePortRules {
            svc_chain: svc_chain(&port_name, &protocol),
            name: port_name,
            cluster_ip: cluster_ip.to_string(),
            port: port.port,
            protocol,
            endpoints,
        });
    }
    rules
}

fn slices_by_service(slices: &[&EndpointSlice]) -> BTreeMap<String, Vec<usize>> {
    let mut by_service: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, slice) in slices.iter().enumerate() {
        let namespace = slice.metadata.namespace.as_deref().unwrap_or("default");
        let service = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(SERVICE_NAME_LABEL));
        if let Some(service) = service {
            by_service
                .entry(key(namespace, service))
                .or_default()
                .push(i);
        }
    }
    by_service
}

impl KubeProxyRules {
    /// Builds the view of `services` and `slices`. Traffic from outside `cluster_cidr`
    /// to a cluster IP is masqueraded (kube-proxy's --cluster-cidr local detector).
    pub fn new(services: &[&Service], slices: &[&EndpointSlice], cluster_cidr: &str) -> Self {
        let by_service = slices_by_service(slices);
        let mut rules = KubeProxyRules {
            cluster_cidr: cluster_cidr.to_string(),
            order: Vec::new(),
            services: BTreeMap::new(),
        };
        for service in services {
            let service_key = key(
                service.metadata.namespace.as_deref().unwrap_or("default"),
                service.metadata.name.as_deref().unwrap_or_default(),
            );
            let own: Vec<&EndpointSlice> = by_service
                .get(&service_key)
                .into_iter()
                .flatten()
                .map(|i| slices[*i])
                .collect();
            rules.insert(service_key, service_ports(service, &own));
        }
        rules
    }

    fn insert(&mut self, service_key: String, ports: Vec<ServicePortRules>) {
        if self.services.insert(service_key.clone(), ports).is_none() {
            self.order.push(service_key);
        }
    }

    /// Adds or replaces one Service with its slices (a new Service goes last in
    /// KUBE-SERVICES); returns its key for [`KubeProxyRules::render_partial`].
    pub fn apply(&mut self, service: &Service, slices: &[&EndpointSlice]) -> String {
        let service_key = key(
            service.metadata.namespace.as_deref().unwrap_or("default"),
            service.metadata.name.as_deref().unwrap_or_default(),
        );
        self.insert(service_key.clone(), service_ports(service, slices));
        service_key
    }

    pub fn endpoint_count(&self) -> usize {
        self.services
            .values()
            .flatten()
            .map(|port| port.endpoints.len())
            .sum()
    }

    /// The first sync: every chain, plus the jumps from the built-in chains, which
    /// kube-proxy ensures with single iptables calls before its first restore.
    pub fn render_full(&self) -> String {
        self.render(None)
    }

    /// A partial sync after the Services `changed` (keys from `apply`) changed.
    pub fn render_partial(&self, changed: &BTreeSet<String>) -> String {
        self.render(Some(changed))
    }

    fn render(&self, changed: Option<&BTreeSet<String>>) -> String {
        let full = changed.is_none();
        let large = self.endpoint_count() > LARGE_CLUSTER_ENDPOINTS;
        let mut filter_chains = String::new();
        let mut filter_rules = String::new();
        let mut nat_chains = String::new();
        let mut nat_rules = String::new();
        let mark = format!("{MASQUERADE_MARK}/{MASQUERADE_MARK}");

        for chain in [
            "KUBE-SERVICES",
            "KUBE-EXTERNAL-SERVICES",
            "KUBE-FORWARD",
            "KUBE-NODEPORTS",
            "KUBE-PROXY-FIREWALL",
        ] {
            let _ = writeln!(filter_chains, ":{chain} - [0:0]");
        }
        for chain in [
            "KUBE-SERVICES",
            "KUBE-NODEPORTS",
            "KUBE-POSTROUTING",
            "KUBE-MARK-MASQ",
        ] {
            let _ = writeln!(nat_chains, ":{chain} - [0:0]");
        }
        if full {
            for (chain, target, comment) in [
                (
                    "INPUT",
                    "KUBE-PROXY-FIREWALL",
                    "kubernetes load balancer firewall",
                ),
                (
                    "INPUT",
                    "KUBE-NODEPORTS",
                    "kubernetes health check service ports",
                ),
                (
                    "INPUT",
                    "KUBE-EXTERNAL-SERVICES",
                    "kubernetes externally-visible service portals",
                ),
                (
                    "FORWARD",
                    "KUBE-PROXY-FIREWALL",
                    "kubernetes load balancer firewall",
                ),
                ("FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules"),
                ("FORWARD", "KUBE-SERVICES", "kubernetes service portals"),
                (
                    "FORWARD",
                    "KUBE-EXTERNAL-SERVICES",
                    "kubernetes externally-visible service portals",
                ),
                (
                    "OUTPUT",
                    "KUBE-PROXY-FIREWALL",
                    "kubernetes load balancer firewall",
                ),
                ("OUTPUT", "KUBE-SERVICES", "kubernetes service portals"),
            ] {
                let ctstate = if target == "KUBE-FORWARD" || target == "KUBE-NODEPORTS" {
                    ""
                } else {
                    "-m conntrack --ctstate NEW "
                };
                let _ = writeln!(
                    filter_rules,
                    "-I {chain} 1 {ctstate}-m comment --comment \"{comment}\" -j {target}"
                );
            }
            for (chain, target, comment) in [
                ("PREROUTING", "KUBE-SERVICES", "kubernetes service portals"),
                ("OUTPUT", "KUBE-SERVICES", "kubernetes service portals"),
                (
                    "POSTROUTING",
                    "KUBE-POSTROUTING",
                    "kubernetes postrouting rules",
                ),
            ] {
                let _ = writeln!(
                    nat_rules,
                    "-I {chain} 1 -m comment --comment \"{comment}\" -j {target}"
                );
            }
        }

        let _ = writeln!(
            nat_rules,
            "-A KUBE-POSTROUTING -m mark ! --mark {mark} -j RETURN"
        );
        let _ = writeln!(
            nat_rules,
            "-A KUBE-POSTROUTING -j MARK --xor-mark {MASQUERADE_MARK}"
        );
        let _ = writeln!(
            nat_rules,
            "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"
        );
        let _ = writeln!(
            nat_rules,
            "-A KUBE-MARK-MASQ -j MARK --or-mark {MASQUERADE_MARK}"
        );

        for service_key in &self.order {
            let rewrite = changed.is_none_or(|changed| changed.contains(service_key));
            for port in self.services.get(service_key).into_iter().flatten() {
                if port.endpoints.is_empty() {
                    let _ = writeln!(
                        filter_rules,
                        "-A KUBE-SERVICES -m comment --comment \"{} has no endpoints\" -m {p} -p {p} -d {} --dport {} -j REJECT",
                        port.name,
                        port.cluster_ip,
                        port.port,
                        p = port.protocol
                    );
                    continue;
                }
                let capture = format!(
                    "-m comment --comment \"{} cluster IP\" -m {p} -p {p} -d {} --dport {}",
                    port.name,
                    port.cluster_ip,
                    port.port,
                    p = port.protocol
                );
                let _ = writeln!(
                    nat_rules,
                    "-A KUBE-SERVICES {capture} -j {}",
                    port.svc_chain
                );
                if rewrite {
                    self.write_service_chains(
                        port,
                        &capture,
                        large,
                        &mut nat_chains,
                        &mut nat_rules,
                    );
                }
            }
        }

        let _ = writeln!(
            nat_rules,
            "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
        );
        let _ = writeln!(
            filter_rules,
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"
        );
        let _ = writeln!(
            filter_rules,
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark {mark} -j ACCEPT"
        );
        let _ = writeln!(
            filter_rules,
            "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
        );

        let mut out = String::with_capacity(nat_rules.len() + nat_chains.len() + 4096);
        out.push_str("*filter\n");
        out.push_str(&filter_chains);
        out.push_str(&filter_rules);
        out.push_str("COMMIT\n*nat\n");
        out.push_str(&nat_chains);
        out.push_str(&nat_rules);
        out.push_str("COMMIT\n");
        out
    }

    fn write_service_chains(
        &self,
        port: &ServicePortRules,
        capture: &str,
        large: bool,
        chains: &mut String,
        rules: &mut String,
    ) {
        let _ = writeln!(chains, ":{} - [0:0]", port.svc_chain);
        let _ = writeln!(
            rules,
            "-A {} {capture} ! -s {} -j KUBE-MARK-MASQ",
            port.svc_chain, self.cluster_cidr
        );
        let count = port.endpoints.len();
        for (i, (endpoint, sep)) in port.endpoints.iter().enumerate() {
            let mut line = format!("-A {}", port.svc_chain);
            if !large {
                let _ = write!(
                    line,
                    " -m comment --comment \"{} -> {endpoint}\"",
                    port.name
                );
            }
            if i + 1 < count {
                let _ = write!(
                    line,
                    " -m statistic --mode random --probability {:.10}",
                    1.0 / (count - i) as f64
                );
            }
            let _ = writeln!(rules, "{line} -j {sep}");
        }
        for (endpoint, sep) in &port.endpoints {
            let _ = writeln!(chains, ":{sep} - [0:0]");
            let comment = if large {
                String::new()
            } else {
                format!(" -m comment --comment {}", port.name)
            };
            let ip = endpoint
                .rsplit_once(':')
                .map_or(endpoint.as_str(), |(ip, _)| ip);
            let _ = writeln!(rules, "-A {sep}{comment} -s {ip} -j KUBE-MARK-MASQ");
            let _ = writeln!(
                rules,
                "-A {sep}{comment} -m {p} -p {p} -j DNAT --to-destination {endpoint}",
                p = port.protocol
            );
        }
    }
}

/// Applies `input` as kube-proxy does: `iptables-restore --noflush --counters` (or the
/// given backend's restore binary), in the network namespace of the calling thread.
pub fn restore(binary: &str, input: &str) -> Result<(), BenchError> {
    let failed = |detail: String| BenchError::Command {
        command: format!("{binary} --noflush --counters"),
        detail,
    };
    let mut child = Command::new(binary)
        .args(["--noflush", "--counters"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| failed("no stdin pipe".into()))?;
    // iptables-restore reads all of its input before it reports anything, so writing
    // first and reading stderr after cannot deadlock.
    let written = stdin.write_all(input.as_bytes());
    drop(stdin);
    let output = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    written.map_err(|e| failed(format!("writing its input: {e}")))
}

/// `PROGRAM --version`, e.g. `iptables v1.8.9 (nf_tables)`.
pub fn version(program: &str) -> Result<String, BenchError> {
    let failed = |detail: String| BenchError::Command {
        command: format!("{program} --version"),
        detail,
    };
    let output = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects;

    fn rules(count: usize) -> KubeProxyRules {
        let cluster = objects::cluster(count, None);
        let services: Vec<&Service> = cluster.iter().map(|(s, _)| s).collect();
        let slices: Vec<&EndpointSlice> = cluster.iter().map(|(_, s)| s).collect();
        KubeProxyRules::new(&services, &slices, "10.244.0.0/16")
    }

    #[test]
    fn chain_names_hash_like_kube_proxy() {
        // kube-proxy's own expectation for ns1/svc1:p80 over tcp (proxier_test.go).
        assert_eq!(
            svc_chain("ns1/svc1:p80", "tcp"),
            "KUBE-SVC-XPGD46QRK7WJZT7O"
        );
        assert_eq!(
            sep_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80"),
            "KUBE-SEP-SXIVWICOYRO3J4NJ"
        );
    }

    #[test]
    fn one_service_renders_the_kube_proxy_shape() {
        let text = rules(1).render_full();
        let svc = svc_chain("bench/svc-00000:http", "tcp");
        assert!(text.contains(&format!(
            "-A KUBE-SERVICES -m comment --comment \"bench/svc-00000:http cluster IP\" -m tcp -p tcp -d 10.96.0.100 --dport 80 -j {svc}\n"
        )));
        assert!(text.contains(&format!(
            "-A {svc} -m comment --comment \"bench/svc-00000:http cluster IP\" -m tcp -p tcp -d 10.96.0.100 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ\n"
        )));
        let first_sep = sep_chain("bench/svc-00000:http", "tcp", "10.244.0.2:8080");
        assert!(text.contains(&format!(
            "-A {svc} -m comment --comment \"bench/svc-00000:http -> 10.244.0.2:8080\" -m statistic --mode random --probability 0.1000000000 -j {first_sep}\n"
        )));
        assert!(text.contains(&format!(
            "-A {first_sep} -m comment --comment bench/svc-00000:http -s 10.244.0.2 -j KUBE-MARK-MASQ\n"
        )));
        assert!(text.contains(&format!(
            "-A {first_sep} -m comment --comment bench/svc-00000:http -m tcp -p tcp -j DNAT --to-destination 10.244.0.2:8080\n"
        )));
        // The last endpoint is taken unconditionally.
        let last_sep = sep_chain("bench/svc-00000:http", "tcp", "10.244.0.11:8080");
        assert!(text.contains(&format!(
            "-A {svc} -m comment --comment \"bench/svc-00000:http -> 10.244.0.11:8080\" -j {last_sep}\n"
        )));
        assert!(text.contains("-I PREROUTING 1 -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"));
        assert!(text.ends_with("KUBE-NODEPORTS\nCOMMIT\n"));
    }

    #[test]
    fn large_clusters_drop_endpoint_comments() {
        let text = rules(101).render_full();
        let svc = svc_chain("bench/svc-00000:http", "tcp");
        let first_sep = sep_chain("bench/svc-00000:http", "tcp", "10.244.0.2:8080");
        assert!(text.contains(&format!(
            "-A {svc} -m statistic --mode random --probability 0.1000000000 -j {first_sep}\n"
        )));
        assert!(text.contains(&format!("-A {first_sep} -s 10.244.0.2 -j KUBE-MARK-MASQ\n")));
    }

    #[test]
    fn a_partial_sync_rewrites_kube_services_and_only_the_changed_chains() {
        let mut rules = rules(3);
        let changed_key = rules.apply(
            &objects::service(1),
            &[&objects::slice(1, &[objects::replacement_ip(0)])],
        );
        let text = rules.render_partial(&BTreeSet::from([changed_key]));
        // Every service keeps its KUBE-SERVICES rule.
        assert_eq!(text.matches("-A KUBE-SERVICES -m comment").count(), 4);
        // Only service 1's chains are declared (and so flushed) and refilled.
        assert!(!text.contains(&format!(
            ":{} - [0:0]",
            svc_chain("bench/svc-00000:http", "tcp")
        )));
        assert!(text.contains(&format!(
            ":{} - [0:0]",
            svc_chain("bench/svc-00001:http", "tcp")
        )));
        assert_eq!(text.matches(":KUBE-SEP-").count(), 1);
        assert!(text.contains("--to-destination 10.245.0.1:8080"));
        assert!(!text.contains("-I PREROUTING"));
    }
}

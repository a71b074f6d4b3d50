//! A pod's name resolution as the kubelet sets it up: resolv.conf per
//! dnsPolicy and dnsConfig, hostname and FQDN, hostAliases and hostPorts,
//! gathered in the [`SandboxSpec`] handed to the runtime.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Pod;

use super::runtime::{PortMapping, SandboxSpec};

/// Kubernetes' limits on what a pod's resolv.conf may hold.
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCH_PATHS: usize = 32;
const MAX_SEARCH_CHARS: usize = 2048;
/// Linux limits a hostname to 64 characters; Kubernetes cuts pod hostnames at 63.
const MAX_HOSTNAME: usize = 63;

/// The cluster's DNS settings the kubelet was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDns {
    pub servers: Vec<IpAddr>,
    pub domain: String,
}

/// The parts of a resolv.conf Kubernetes works with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<String>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

/// Why a pod's sandbox cannot be described.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxConfigError {
    #[error("hostAliases: {ip:?} is not an IP address")]
    HostAliasIp { ip: String },
    #[error("container {container:?}: hostPort {port} is out of range")]
    HostPort { container: String, port: i32 },
    #[error("container {container:?}: hostIP {ip:?} is not an IP address")]
    HostIp { container: String, ip: String },
    #[error("hostname {hostname:?} is too long (must be less than or equal to 64 characters) for setHostnameAsFQDN")]
    FqdnTooLong { hostname: String },
    #[error("unknown dnsPolicy {0:?}")]
    DnsPolicy(String),
}

impl ResolvConf {
    /// Reads a resolv.conf as Kubernetes does: every nameserver line, the
    /// last search line (without trailing dots and lone "."), every option.
    pub fn parse(text: &str) -> ResolvConf {
        let mut conf = ResolvConf::default();
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.split_first() {
                Some((&"nameserver", [server, ..])) => conf.nameservers.push(server.to_string()),
                Some((&"search", domains)) => {
                    conf.searches = domains
                        .iter()
                        .filter(|d| **d != ".")
                        .map(|d| d.trim_end_matches('.').to_string())
                        .collect();
                }
                Some((&"options", options)) => {
                    conf.options = merge_options(
                        &conf.options,
                        &options.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
                    );
                }
                _ => {}
            }
        }
        conf
    }

    /// The file: search, nameserver and options lines, in that order.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if !self.searches.is_empty() {
            text.push_str(&format!("search {}\n", self.searches.join(" ")));
        }
        for server in &self.nameservers {
            text.push_str(&format!("nameserver {server}\n"));
        }
        if !self.options.is_empty() {
            text.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        text
    }
}

/// The pod's resolv.conf: its dnsPolicy applied to the cluster's and the
/// node's settings, then its dnsConfig merged in, within Kubernetes' limits.
pub fn pod_resolv_conf(
    pod: &Pod,
    cluster: &ClusterDns,
    node: &ResolvConf,
) -> Result<ResolvConf, SandboxConfigError> {
    let spec = pod.spec.clone().unwrap_or_default();
    let host_network = spec.host_network.unwrap_or(false);
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let use_cluster = match policy {
        "ClusterFirstWithHostNet" => true,
        // A host-network pod with ClusterFirst resolves as its node does.
        "ClusterFirst" => !host_network,
        "Default" | "None" => false,
        other => return Err(SandboxConfigError::DnsPolicy(other.to_string())),
    };
    let mut conf = if policy == "None" {
        ResolvConf::default()
    } else if use_cluster && !cluster.servers.is_empty() {
        let mut searches = Vec::new();
        if !cluster.domain.is_empty() {
            searches.push(format!("{namespace}.svc.{}", cluster.domain));
            searches.push(format!("svc.{}", cluster.domain));
            searches.push(cluster.domain.clone());
        }
        searches.extend(node.searches.iter().cloned());
        ResolvConf {
            nameservers: cluster.servers.iter().map(|ip| ip.to_string()).collect(),
            searches: without_duplicates(searches),
            options: vec!["ndots:5".to_string()],
        }
    } else {
        node.clone()
    };
    if let Some(dns) = &spec.dns_config {
        conf.nameservers
            .extend(dns.nameservers.iter().flatten().cloned());
        conf.nameservers = without_duplicates(std::mem::take(&mut conf.nameservers));
        conf.searches.extend(dns.searches.iter().flatten().cloned());
        conf.searches = without_duplicates(std::mem::take(&mut conf.searches));
        let pod_options: Vec<String> = dns
            .options
            .iter()
            .flatten()
            .filter_map(|o| {
                let name = o.name.as_deref()?;
                Some(match &o.value {
                    Some(value) => format!("{name}:{value}"),
                    None => name.to_string(),
                })
            })
            .collect();
        conf.options = merge_options(&conf.options, &pod_options);
    }
    conf.nameservers.truncate(MAX_NAMESERVERS);
    conf.searches = fit_searches(conf.searches);
    Ok(conf)
}

/// Options by name: a later one replaces an earlier one of the same name.
fn merge_options(existing: &[String], added: &[String]) -> Vec<String> {
    let name = |o: &str| o.split(':').next().unwrap_or("").to_string();
    let mut merged: Vec<String> = existing.to_vec();
    for option in added {
        match merged.iter_mut().find(|o| name(o) == name(option)) {
            Some(slot) => *slot = option.clone(),
            None => merged.push(option.clone()),
        }
    }
    merged
}

fn without_duplicates(items: Vec<String>) -> Vec<String> {
    let mut seen = Vec::with_capacity(items.len());
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// At most 32 search domains of at most 2048 characters together.
fn fit_searches(mut searches: Vec<String>) -> Vec<String> {
    searches.truncate(MAX_SEARCH_PATHS);
    while !searches.is_empty() && searches.join(" ").len() > MAX_SEARCH_CHARS {
        searches.pop();
    }
    searches
}

/// The pod's hostname and, with a subdomain, its FQDN.
pub fn hostname_and_fqdn(pod: &Pod, cluster_domain: &str) -> (String, Option<String>) {
    let spec = pod.spec.clone().unwrap_or_default();
    let raw = spec
        .hostname
        .filter(|h| !h.is_empty())
        .or_else(|| pod.metadata.name.clone())
        .unwrap_or_default();
    let hostname = if raw.len() > MAX_HOSTNAME {
        raw[..MAX_HOSTNAME].trim_end_matches(['-', '.']).to_string()
    } else {
        raw
    };
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let fqdn = spec
        .subdomain
        .filter(|s| !s.is_empty())
        .map(|subdomain| format!("{hostname}.{subdomain}.{namespace}.svc.{cluster_domain}"));
    (hostname, fqdn)
}

/// Everything the runtime needs to build `pod`'s sandbox.
pub fn sandbox_spec(
    pod: &Pod,
    cluster: &ClusterDns,
    node: &ResolvConf,
) -> Result<SandboxSpec, SandboxConfigError> {
    let spec = pod.spec.clone().unwrap_or_default();
    let host_network = spec.host_network.unwrap_or(false);
    let (mut hostname, fqdn) = hostname_and_fqdn(pod, &cluster.domain);
    if spec.set_hostname_as_fqdn == Some(true) {
        if let Some(fqdn) = &fqdn {
            if fqdn.len() > 64 {
                return Err(SandboxConfigError::FqdnTooLong {
                    hostname: fqdn.clone(),
                });
            }
            hostname = fqdn.clone();
        }
    }
    let mut extra_hosts = Vec::new();
    for alias in spec.host_aliases.iter().flatten() {
        let ip: IpAddr = alias
            .ip
            .parse()
            .map_err(|_| SandboxConfigError::HostAliasIp {
                ip: alias.ip.clone(),
            })?;
        extra_hosts.push((ip, alias.hostnames.clone().unwrap_or_default()));
    }
    let mut port_mappings = Vec::new();
    if !host_network {
        for container in &spec.containers {
            for port in container.ports.iter().flatten() {
                let Some(host_port) = port.host_port.filter(|p| *p != 0) else {
                    continue;
                };
                let out_of_range = || SandboxConfigError::HostPort {
                    container: container.name.clone(),
                    port: host_port,
                };
                let host_ip = match port.host_ip.as_deref().filter(|ip| !ip.is_empty()) {
                    Some(ip) => ip
                        .parse::<std::net::IpAddr>()
                        .map_err(|_| SandboxConfigError::HostIp {
                            container: container.name.clone(),
                            ip: ip.to_string(),
                        })?
                        .to_string(),
                    None => String::new(),
                };
                port_mappings.push(PortMapping {
                    host_port: u16::try_from(host_port).map_err(|_| out_of_range())?,
                    container_port: u16::try_from(port.container_port)
                        .map_err(|_| out_of_range())?,
                    protocol: port
                        .protocol
                        .as_deref()
                        .unwrap_or("TCP")
                        .to_ascii_lowercase(),
                    host_ip,
                });
            }
        }
    }
    Ok(SandboxSpec {
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        domain: fqdn
            .as_deref()
            .and_then(|f| f.strip_prefix(&format!("{hostname}.")))
            .map(str::to_string),
        hostname,
        host_network,
        resolv_conf: pod_resolv_conf(pod, cluster, node)?.render(),
        extra_hosts,
        port_mappings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn pod(spec: Value) -> Pod {
        let mut spec = spec;
        spec["containers"] = json!([{"name": "app"}]);
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "shop", "uid": "u1"},
            "spec": spec,
        }))
        .expect("pod")
    }

    fn cluster() -> ClusterDns {
        ClusterDns {
            servers: vec!["10.96.0.10".parse().unwrap()],
            domain: "cluster.local".into(),
        }
    }

    fn node() -> ResolvConf {
        ResolvConf::parse(
            "# generated\nnameserver 192.168.1.1\nnameserver 192.168.1.2\nsearch old.example\nsearch lan. example.com .\noptions edns0 ndots:2\n",
        )
    }

    #[test]
    fn the_node_file_is_read_as_kubernetes_reads_it() {
        let node = node();
        assert_eq!(node.nameservers, vec!["192.168.1.1", "192.168.1.2"]);
        assert_eq!(node.searches, vec!["lan", "example.com"]);
        assert_eq!(node.options, vec!["edns0", "ndots:2"]);
    }

    #[test]
    fn cluster_first_uses_cluster_dns_with_namespace_searches_then_the_nodes() {
        let conf = pod_resolv_conf(&pod(json!({})), &cluster(), &node()).unwrap();
        assert_eq!(
            conf.render(),
            "search shop.svc.cluster.local svc.cluster.local cluster.local lan example.com\n\
             nameserver 10.96.0.10\n\
             options ndots:5\n"
        );
    }

    #[test]
    fn host_network_pods_with_cluster_first_resolve_as_the_node() {
        let conf =
            pod_resolv_conf(&pod(json!({"hostNetwork": true})), &cluster(), &node()).unwrap();
        assert_eq!(conf, node());
        let conf = pod_resolv_conf(
            &pod(json!({"hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"})),
            &cluster(),
            &node(),
        )
        .unwrap();
        assert_eq!(conf.nameservers, vec!["10.96.0.10"]);
    }

    #[test]
    fn default_policy_copies_the_node_and_none_only_takes_dns_config() {
        let conf =
            pod_resolv_conf(&pod(json!({"dnsPolicy": "Default"})), &cluster(), &node()).unwrap();
        assert_eq!(conf, node());
        let conf = pod_resolv_conf(
            &pod(json!({"dnsPolicy": "None", "dnsConfig": {
                "nameservers": ["1.1.1.1"], "searches": ["a.example"],
                "options": [{"name": "ndots", "value": "1"}, {"name": "rotate"}]}})),
            &cluster(),
            &node(),
        )
        .unwrap();
        assert_eq!(
            conf.render(),
            "search a.example\nnameserver 1.1.1.1\noptions ndots:1 rotate\n"
        );
    }

    #[test]
    fn dns_config_merges_into_the_policys_result() {
        let conf = pod_resolv_conf(
            &pod(json!({"dnsConfig": {
                "nameservers": ["10.96.0.10", "8.8.8.8", "9.9.9.9", "1.1.1.1"],
                "searches": ["svc.cluster.local", "extra.example"],
                "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}})),
            &cluster(),
            &node(),
        )
        .unwrap();
        // Duplicates dropped, three nameservers at most.
        assert_eq!(conf.nameservers, vec!["10.96.0.10", "8.8.8.8", "9.9.9.9"]);
        assert_eq!(
            conf.searches,
            vec![
                "shop.svc.cluster.local",
                "svc.cluster.local",
                "cluster.local",
                "lan",
                "example.com",
                "extra.example"
            ]
        );
        assert_eq!(conf.options, vec!["ndots:2", "edns0"]);
    }

    #[test]
    fn hostname_subdomain_and_aliases_make_the_sandbox() {
        let p = pod(json!({
            "hostname": "db-0", "subdomain": "db",
            "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}],
            "containers": [],
        }));
        let mut p = p;
        p.spec.as_mut().unwrap().containers = serde_json::from_value(json!([{"name": "app",
            "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "UDP", "hostIP": "127.0.0.1"},
                      {"containerPort": 81}]}]))
        .unwrap();
        let spec = sandbox_spec(&p, &cluster(), &node()).unwrap();
        assert_eq!(spec.hostname, "db-0");
        assert_eq!(spec.domain.as_deref(), Some("db.shop.svc.cluster.local"));
        assert_eq!(
            spec.extra_hosts,
            vec![(
                "10.1.2.3".parse().unwrap(),
                vec!["foo.local".to_string(), "bar.local".to_string()]
            )]
        );
        assert_eq!(
            spec.port_mappings,
            vec![PortMapping {
                host_port: 8080,
                container_port: 80,
                protocol: "udp".into(),
                host_ip: "127.0.0.1".into(),
            }]
        );
    }

    #[test]
    fn long_pod_names_are_cut_to_a_valid_hostname() {
        let mut p = pod(json!({}));
        p.metadata.name = Some(format!("{}-{}", "a".repeat(62), "b".repeat(10)));
        let (hostname, fqdn) = hostname_and_fqdn(&p, "cluster.local");
        assert_eq!(hostname, "a".repeat(62));
        assert_eq!(fqdn, None);
    }

    #[test]
    fn set_hostname_as_fqdn_uses_the_fqdn_as_hostname() {
        let p = pod(json!({"hostname": "h", "subdomain": "s", "setHostnameAsFQDN": true}));
        let spec = sandbox_spec(&p, &cluster(), &node()).unwrap();
        assert_eq!(spec.hostname, "h.s.shop.svc.cluster.local");
    }
}

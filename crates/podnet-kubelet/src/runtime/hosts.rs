//! The pod's /etc/hosts, in the kubelet's format.

use std::fmt::Write;
use std::net::IpAddr;

/// The kubelet-managed hosts file of a pod with its own network: localhost and
/// IPv6 boilerplate, one line per pod IP (`<ip>\t<hostname>.<domain>\t<hostname>`
/// when the pod has a subdomain, else `<ip>\t<hostname>`), then hostAliases.
pub fn managed_hosts(
    ips: &[IpAddr],
    hostname: &str,
    domain: Option<&str>,
    aliases: &[(IpAddr, Vec<String>)],
) -> String {
    let mut out = String::from(
        "# Kubernetes-managed hosts file.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\n\
         fe00::1\tip6-allnodes\n\
         fe00::2\tip6-allrouters\n",
    );
    for ip in ips {
        match domain.filter(|d| !d.is_empty()) {
            Some(domain) => {
                let _ = writeln!(out, "{ip}\t{hostname}.{domain}\t{hostname}");
            }
            None => {
                let _ = writeln!(out, "{ip}\t{hostname}");
            }
        }
    }
    out.push_str(&alias_section(aliases));
    out
}

/// A hostNetwork pod sees the node's own hosts file, plus its hostAliases.
pub fn host_network_hosts(node_hosts: &str, aliases: &[(IpAddr, Vec<String>)]) -> String {
    let mut out = String::from("# Kubernetes-managed hosts file (host network).\n");
    out.push_str(node_hosts);
    out.push_str(&alias_section(aliases));
    out
}

fn alias_section(aliases: &[(IpAddr, Vec<String>)]) -> String {
    if aliases.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n# Entries added by HostAliases.\n");
    for (ip, names) in aliases {
        let _ = writeln!(out, "{ip}\t{}", names.join("\t"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOILERPLATE: &str = "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n";

    #[test]
    fn plain_pod() {
        let hosts = managed_hosts(&["10.200.0.4".parse().unwrap()], "nginx", None, &[]);
        assert_eq!(hosts, format!("{BOILERPLATE}10.200.0.4\tnginx\n"));
    }

    #[test]
    fn pod_with_subdomain_dual_stack_and_aliases() {
        let hosts = managed_hosts(
            &["10.244.1.7".parse().unwrap(), "fd00::7".parse().unwrap()],
            "web-0",
            Some("web.default.svc.cluster.local"),
            &[
                (
                    "127.0.0.1".parse().unwrap(),
                    vec!["foo.local".into(), "bar.local".into()],
                ),
                ("10.1.2.3".parse().unwrap(), vec!["foo.remote".into()]),
            ],
        );
        assert_eq!(
            hosts,
            format!(
                "{BOILERPLATE}10.244.1.7\tweb-0.web.default.svc.cluster.local\tweb-0\n\
                 fd00::7\tweb-0.web.default.svc.cluster.local\tweb-0\n\
                 \n# Entries added by HostAliases.\n\
                 127.0.0.1\tfoo.local\tbar.local\n\
                 10.1.2.3\tfoo.remote\n"
            )
        );
    }

    #[test]
    fn host_network_pod_copies_the_node_file() {
        let hosts = host_network_hosts(
            "127.0.0.1 localhost\n",
            &[("10.0.0.1".parse().unwrap(), vec!["a".into()])],
        );
        assert_eq!(
            hosts,
            "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n\n# Entries added by HostAliases.\n10.0.0.1\ta\n"
        );
    }
}

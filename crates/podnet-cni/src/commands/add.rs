//! ADD: record intent, allocate addresses, wire bridge and veth, configure the pod,
//! program masquerade and hostPorts; any failure undoes everything through the same
//! teardown DEL uses.

use super::del::teardown;
use crate::apply;
use crate::config::NetConf;
use crate::env::CniEnv;
use crate::error::{CniError, Code, Result};
use crate::firewall;
use crate::ipam;
use crate::link::{self, BridgeSpec, PodLinkSpec};
use crate::result::{CniResult, Interface, IpConfig, RouteEntry};
use crate::state::{Attachment, StateDir};
use ipnet::IpNet;
use podnet_netlink::{format_mac, Handle, NetNs};
use serde_json::Value;

pub fn run(env: &CniEnv, conf: &NetConf) -> Result<Value> {
    let netns_path = env
        .netns
        .as_ref()
        .expect("ADD requires CNI_NETNS (checked in env)");
    let pod_ns = NetNs::open(netns_path)
        .map_err(|e| CniError::env(format!("CNI_NETNS: {}: {e}", netns_path.display())))?;
    let state = StateDir::new(&conf.state_dir);
    let mut record = Attachment {
        container_id: env.container_id.clone(),
        ifname: env.ifname.clone(),
        network: conf.name.clone(),
        host_veth: link::host_veth_name(&env.container_id, &env.ifname),
        ips: Vec::new(),
        port_mappings: conf.port_mappings.clone(),
        ip_masq: conf.ip_masq,
        masq_exempt: Vec::new(),
    };
    if !record.port_mappings.is_empty() {
        let others = state.list_all()?;
        if let Some((owner, port)) = firewall::port_conflicts(&record, &others) {
            return Err(CniError::config(format!(
                "runtimeConfig.portMappings: hostPort {port} is already mapped to container {} ({})",
                owner.container_id, owner.network
            )));
        }
    }
    // The record exists before the first effect: a DEL or GC after a crash finds it.
    state.save(&record)?;
    match attach(env, conf, &state, &pod_ns, &mut record) {
        Ok(result) => Ok(result.to_value(conf.version)),
        Err(e) => {
            if let Err(undo) = teardown(env, conf, &state, Some(&record)) {
                return Err(CniError::new(
                    e.code,
                    format!("{}; rolling back also failed: {}", e.msg, undo.msg),
                ));
            }
            Err(e)
        }
    }
}

fn attach(
    env: &CniEnv,
    conf: &NetConf,
    state: &StateDir,
    pod_ns: &NetNs,
    record: &mut Attachment,
) -> Result<CniResult> {
    let ipam_result = ipam::add(conf, env)?;
    if ipam_result.ips.is_empty() {
        return Err(CniError::new(Code::Kernel, "ipam returned no address"));
    }
    record.ips = ipam_result.ips.iter().map(|ip| ip.address).collect();
    record.masq_exempt = conf.masquerade_exempt(&record.ips);
    state.save(record)?;

    let has_v4 = record.ips.iter().any(|n| n.addr().is_ipv4());
    let has_v6 = record.ips.iter().any(|n| n.addr().is_ipv6());

    let mut host = Handle::new()?;
    let mut pod = Handle::in_netns(pod_ns)?;
    let bridge = link::ensure_bridge(
        &mut host,
        &BridgeSpec {
            name: &conf.bridge,
            mtu: conf.mtu,
            promisc: conf.promisc_mode,
        },
    )?;

    // Each address's gateway: the IPAM one, else the subnet's first host when we are it.
    let ips: Vec<IpConfig> = ipam_result
        .ips
        .iter()
        .map(|ip| IpConfig {
            address: ip.address,
            gateway: if conf.is_gateway {
                link::gateway_for(&ip.address, ip.gateway)
            } else {
                ip.gateway
            },
            interface: Some(2),
        })
        .collect();
    if conf.is_gateway {
        let gateways: Vec<IpNet> = ips
            .iter()
            .filter_map(|ip| {
                ip.gateway
                    .and_then(|gw| IpNet::new(gw, ip.address.prefix_len()).ok())
            })
            .collect();
        link::ensure_gateway_addresses(&mut host, &bridge, &gateways, conf.force_address)?;
    }
    if has_v4 {
        link::ensure_sysctl("net/ipv4/ip_forward", "1")?;
        if !conf.port_mappings.is_empty() {
            // hostPorts reached on 127.0.0.1 are routed to the bridge after DNAT.
            link::ensure_sysctl(
                &format!("net/ipv4/conf/{}/route_localnet", conf.bridge),
                "1",
            )?;
        }
    }
    if has_v6 {
        link::ensure_sysctl("net/ipv6/conf/all/forwarding", "1")?;
    }

    let mac = conf
        .requested_mac
        .unwrap_or_else(|| link::stable_mac(&format!("{}/{}", env.container_id, env.ifname)));
    let host_link = link::create_veth(
        &mut host,
        &mut pod,
        pod_ns,
        &bridge,
        &PodLinkSpec {
            host_name: &record.host_veth,
            ifname: &env.ifname,
            mtu: conf.mtu,
            mac,
            hairpin: conf.hairpin_mode,
        },
    )?;

    let routes = pod_routes(conf, &ips, &ipam_result.routes);
    let addresses: Vec<IpNet> = ips.iter().map(|ip| ip.address).collect();
    let pod_link = link::configure_pod(&mut pod, pod_ns, &env.ifname, &addresses, &routes)?;

    if firewall::needs_table(record) {
        apply::add(state, record)?;
    }

    let mut dns = ipam_result.dns.clone();
    if dns.is_empty() {
        dns = conf.dns.clone();
    }
    let result = CniResult {
        interfaces: vec![
            Interface {
                name: bridge.name.clone(),
                mac: bridge.mac.map(|m| format_mac(&m)).unwrap_or_default(),
                mtu: None,
                sandbox: String::new(),
            },
            Interface {
                name: host_link.name.clone(),
                mac: host_link.mac.map(|m| format_mac(&m)).unwrap_or_default(),
                mtu: None,
                sandbox: String::new(),
            },
            Interface {
                name: env.ifname.clone(),
                mac: format_mac(&mac),
                mtu: Some(pod_link.mtu),
                sandbox: env
                    .netns
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            },
        ],
        ips,
        routes,
        dns,
    };
    Ok(result)
}

/// Routes inside the pod: IPAM's (a route without a gateway goes via the address's
/// gateway of that family), plus a default route per family for isDefaultGateway.
fn pod_routes(conf: &NetConf, ips: &[IpConfig], ipam_routes: &[RouteEntry]) -> Vec<RouteEntry> {
    let gateway_of = |v4: bool| {
        ips.iter()
            .find(|ip| ip.address.addr().is_ipv4() == v4)
            .and_then(|ip| ip.gateway)
    };
    let mut routes: Vec<RouteEntry> = ipam_routes
        .iter()
        .map(|r| RouteEntry {
            gw: r.gw.or_else(|| gateway_of(r.dst.addr().is_ipv4())),
            ..r.clone()
        })
        .collect();
    if conf.is_default_gateway {
        for v4 in [true, false] {
            let Some(gw) = gateway_of(v4) else { continue };
            let dst: IpNet = if v4 {
                "0.0.0.0/0".parse().expect("literal")
            } else {
                "::/0".parse().expect("literal")
            };
            if !routes.iter().any(|r| r.dst == dst) {
                routes.push(RouteEntry {
                    dst,
                    gw: Some(gw),
                    ..Default::default()
                });
            }
        }
    }
    routes
}

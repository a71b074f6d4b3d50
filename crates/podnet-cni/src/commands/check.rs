//! CHECK: the attachment still matches prevResult: the pod interface with its MAC,
//! addresses and routes; the host veth on the bridge; the addresses still held.

use crate::config::NetConf;
use crate::env::CniEnv;
use crate::error::{CniError, Code, Result};
use crate::link;
use crate::result::CniResult;
use podnet_netlink::{format_mac, Family, Handle, NetNs};

fn failed(msg: impl Into<String>) -> CniError {
    CniError::new(Code::CheckFailed, msg)
}

pub fn run(env: &CniEnv, conf: &NetConf) -> Result<()> {
    let prev = conf
        .prev_result
        .as_ref()
        .ok_or_else(|| CniError::config("prevResult: required for CHECK"))?;
    let prev = CniResult::from_value(prev, "prevResult")?;
    let (pod_index, pod_iface) = prev
        .interfaces
        .iter()
        .enumerate()
        .find(|(_, i)| i.name == env.ifname && !i.sandbox.is_empty())
        .ok_or_else(|| {
            failed(format!(
                "prevResult.interfaces: no sandbox interface named {}",
                env.ifname
            ))
        })?;

    let netns_path = env
        .netns
        .as_ref()
        .expect("CHECK requires CNI_NETNS (checked in env)");
    let pod_ns = NetNs::open(netns_path)
        .map_err(|e| CniError::env(format!("CNI_NETNS: {}: {e}", netns_path.display())))?;
    let mut pod = Handle::in_netns(&pod_ns)?;
    let link = pod
        .link_by_name(&env.ifname)?
        .ok_or_else(|| failed(format!("interface {} is missing from the pod", env.ifname)))?;
    if !pod_iface.mac.is_empty() {
        let have = link.mac.map(|m| format_mac(&m)).unwrap_or_default();
        if !have.eq_ignore_ascii_case(&pod_iface.mac) {
            return Err(failed(format!(
                "interface {} has MAC {have}, prevResult says {}",
                env.ifname, pod_iface.mac
            )));
        }
    }
    let addrs = pod.addresses(Some(link.index), None)?;
    for ip in prev
        .ips
        .iter()
        .filter(|ip| ip.interface.is_none() || ip.interface == Some(pod_index))
    {
        if !addrs.iter().any(|a| a.net == ip.address) {
            return Err(failed(format!(
                "address {} is missing from {}",
                ip.address, env.ifname
            )));
        }
    }
    let mut routes = pod.routes(Family::V4, None)?;
    routes.extend(pod.routes(Family::V6, None)?);
    for r in &prev.routes {
        let present = routes.iter().any(|have| {
            let dst_matches = match have.dst {
                Some(d) => d == r.dst,
                None => r.dst.prefix_len() == 0,
            };
            dst_matches && (r.gw.is_none() || have.gateway == r.gw)
        });
        if !present {
            return Err(failed(format!(
                "route to {} via {:?} is missing",
                r.dst, r.gw
            )));
        }
    }

    let mut host = Handle::new()?;
    let bridge = host
        .link_by_name(&conf.bridge)?
        .ok_or_else(|| failed(format!("bridge {} is missing", conf.bridge)))?;
    let veth_name = link::host_veth_name(&env.container_id, &env.ifname);
    let veth = host
        .link_by_name(&veth_name)?
        .ok_or_else(|| failed(format!("host veth {veth_name} is missing")))?;
    if veth.master != Some(bridge.index) {
        return Err(failed(format!(
            "host veth {veth_name} is not attached to bridge {}",
            conf.bridge
        )));
    }

    let addresses: Vec<_> = prev.ips.iter().map(|ip| ip.address.addr()).collect();
    crate::ipam::check(conf, env, &addresses)
}

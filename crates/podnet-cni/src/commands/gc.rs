//! GC: everything of this network whose attachment is not in
//! `cni.dev/valid-attachments` goes: records, veths, firewall elements, addresses.
//! The firewall table is then rebuilt from the remaining records, repairing drift.

use super::del::remove_kernel_state;
use crate::apply;
use crate::config::NetConf;
use crate::env::CniEnv;
use crate::error::{CniError, Result};
use crate::ipam;
use crate::link;
use crate::state::StateDir;
use podnet_netlink::Handle;
use std::collections::HashSet;

pub fn run(env: &CniEnv, conf: &NetConf) -> Result<()> {
    let state = StateDir::new(&conf.state_dir);
    let valid: HashSet<(&str, &str)> = conf
        .valid_attachments
        .iter()
        .map(|(c, i)| (c.as_str(), i.as_str()))
        .collect();
    let mut errors: Vec<CniError> = Vec::new();

    for r in state.list(&conf.name)? {
        if valid.contains(&(r.container_id.as_str(), r.ifname.as_str())) {
            continue;
        }
        match remove_kernel_state(&state, &r.container_id, &r.ifname, Some(&r)) {
            Ok(()) => state.remove(&conf.name, &r.container_id, &r.ifname)?,
            Err(e) => errors.push(e),
        }
    }

    // Host veths on our bridge that no valid attachment owns (e.g. an ADD killed
    // before it wrote anything else).
    // Veths of other networks' attachments stay even if they share the bridge.
    let mut keep: HashSet<String> = conf
        .valid_attachments
        .iter()
        .map(|(c, i)| link::host_veth_name(c, i))
        .collect();
    keep.extend(
        state
            .list_all()?
            .into_iter()
            .filter(|r| r.network != conf.name)
            .map(|r| r.host_veth),
    );
    let mut host = Handle::new()?;
    if let Some(bridge) = host.link_by_name(&conf.bridge)? {
        for l in host.links()? {
            if l.master == Some(bridge.index)
                && l.kind.as_deref() == Some("veth")
                && l.name.starts_with("pn")
                && !keep.contains(&l.name)
            {
                if let Err(e) = host.delete_link(l.index) {
                    if !e.is_not_found() {
                        errors.push(CniError::kernel(
                            format!("deleting stale veth {}", l.name),
                            e,
                        ));
                    }
                }
            }
        }
    }

    if let Err(e) = ipam::gc(conf, env) {
        errors.push(e);
    }
    if let Err(e) = apply::rebuild(&state, &state.list_all()?) {
        errors.push(e);
    }
    CniError::combine(errors)
}

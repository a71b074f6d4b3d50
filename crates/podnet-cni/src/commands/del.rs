//! DEL: remove the veth, firewall elements, addresses and the record. Idempotent: a
//! second DEL, a missing netns or an unknown container all succeed.

use crate::apply;
use crate::config::NetConf;
use crate::env::CniEnv;
use crate::error::{CniError, Result};
use crate::firewall;
use crate::ipam;
use crate::link;
use crate::state::{Attachment, StateDir};
use podnet_netlink::Handle;

pub fn run(env: &CniEnv, conf: &NetConf) -> Result<()> {
    let state = StateDir::new(&conf.state_dir);
    let record = state.load(&conf.name, &env.container_id, &env.ifname)?;
    teardown(env, conf, &state, record.as_ref())
}

/// Undoes an attachment, continuing past failures and reporting them all at the end.
pub fn teardown(
    env: &CniEnv,
    conf: &NetConf,
    state: &StateDir,
    record: Option<&Attachment>,
) -> Result<()> {
    let mut errors: Vec<CniError> = Vec::new();
    if let Err(e) = remove_kernel_state(state, &env.container_id, &env.ifname, record) {
        errors.push(e);
    }
    if let Err(e) = ipam::del(conf, env) {
        errors.push(e);
    }
    CniError::combine(errors)?;
    // Only forget the record once everything it describes is gone.
    state.remove(&conf.name, &env.container_id, &env.ifname)
}

/// The veth (its pod end goes with it) and the firewall elements of one attachment.
pub fn remove_kernel_state(
    state: &StateDir,
    container_id: &str,
    ifname: &str,
    record: Option<&Attachment>,
) -> Result<()> {
    let mut errors = Vec::new();
    let veth = record
        .map(|r| r.host_veth.clone())
        .unwrap_or_else(|| link::host_veth_name(container_id, ifname));
    match Handle::new().and_then(|mut h| h.delete_link_by_name(&veth)) {
        Ok(_) => {}
        Err(e) => errors.push(CniError::kernel(format!("deleting veth {veth}"), e)),
    }
    if let Some(r) = record.filter(|r| firewall::needs_table(r)) {
        if let Err(e) = apply::remove(state, r) {
            errors.push(e);
        }
    }
    CniError::combine(errors)
}

//! STATUS: succeed only when an ADD could: the bridge exists or can be made, the
//! address pool has room, and nftables is there when the config needs it.

use crate::config::NetConf;
use crate::env::CniEnv;
use crate::error::{CniError, Code, Result};
use crate::ipam;
use podnet_netlink::Handle;

pub fn run(env: &CniEnv, conf: &NetConf) -> Result<()> {
    let mut host = Handle::new()
        .map_err(|e| CniError::new(Code::NotAvailable, format!("netlink is not usable: {e}")))?;
    if let Some(l) = host.link_by_name(&conf.bridge)? {
        if l.kind.as_deref() != Some("bridge") {
            return Err(CniError::new(
                Code::NotAvailable,
                format!("bridge: {} exists and is not a bridge", conf.bridge),
            ));
        }
    }
    ipam::status(conf, env).map_err(|e| {
        if e.code == Code::NotAvailable {
            e
        } else {
            CniError::new(Code::NotAvailable, e.msg)
        }
    })?;
    let needs_nft = conf.ip_masq
        || conf
            .raw
            .get("capabilities")
            .and_then(|c| c.get("portMappings"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
    if needs_nft && !on_path("nft") {
        return Err(CniError::new(
            Code::NotAvailable,
            "nft is not on PATH; ipMasq and portMappings need it",
        ));
    }
    Ok(())
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

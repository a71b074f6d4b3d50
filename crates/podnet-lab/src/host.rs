//! Access to the namespace that plays the host, and to the named namespaces.

use std::fs;
use std::io;
use std::path::Path;

use podnet_netlink::{Handle, NetNs, NETNS_RUN_DIR};
use podnet_nft::{Backend, NftCli};

use crate::error::{Context, Error, Result};
use crate::firewall;
use crate::plan::LabScope;

/// A netlink handle bound to the host namespace, and the means to run nft there.
pub(crate) struct Host {
    /// `None`: the calling thread's namespace, where nft runs as it is.
    netns: Option<NetNs>,
    pub(crate) handle: Handle,
    table: String,
}

impl Host {
    pub(crate) fn open(scope: &LabScope) -> Result<Host> {
        let netns = match &scope.host_netns {
            None => None,
            Some(name) => {
                let path = Path::new(NETNS_RUN_DIR).join(name);
                Some(NetNs::open(&path).context(|| format!("open the host namespace {name}"))?)
            }
        };
        let handle = match &netns {
            None => Handle::new(),
            Some(ns) => Handle::in_netns(ns),
        }
        .context(|| "open a netlink socket in the host namespace".to_string())?;
        Ok(Host {
            netns,
            handle,
            table: scope.table(),
        })
    }

    /// Runs nft in the host namespace. A process inherits the network namespace of
    /// the thread that starts it, so inside a named host namespace nft is started from
    /// a thread that entered it; the caller's threads never move.
    fn nft<T: Send>(
        &self,
        what: &str,
        run: impl FnOnce(&mut NftCli) -> std::result::Result<T, podnet_nft::Error> + Send,
    ) -> Result<T> {
        let context = || format!("{what} table {} {}", firewall::FAMILY, self.table);
        let mut cli = NftCli::new();
        match &self.netns {
            None => run(&mut cli).context(context),
            Some(ns) => ns
                .run(move || run(&mut cli))
                .context(|| format!("enter the host namespace to {what} the nftables table"))?
                .context(context),
        }
    }

    pub(crate) fn apply_table(&self, script: &str) -> Result<()> {
        self.nft("apply", |cli| cli.apply(script))
    }

    /// The table as nft lists it, with counters.
    pub(crate) fn list_table(&self) -> Result<Option<String>> {
        let table = self.table.clone();
        self.nft("list", move |cli| cli.list_table(firewall::FAMILY, &table))
    }
}

/// Names of the entries under `/run/netns`; none when the directory does not exist.
pub(crate) fn named_netns() -> Result<Vec<String>> {
    let entries = match fs::read_dir(NETNS_RUN_DIR) {
        Ok(entries) => entries,
        Err(source) if source.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::State {
                context: "list named network namespaces in".into(),
                path: NETNS_RUN_DIR.into(),
                source,
            })
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::State {
            context: "list named network namespaces in".into(),
            path: NETNS_RUN_DIR.into(),
            source,
        })?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

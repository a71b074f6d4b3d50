//! `podnet`: the command users run. Today it inspects what the CNI plugin keeps on
//! disk; `up`, `apiserver` and `agent` join it as they land (see docs/).

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "podnet",
    version,
    about = "The Kubernetes network model on the Linux kernel"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print the version of podnet and the CNI versions its plugin speaks.
    Version,
    /// Address allocations of a podnet-ipam (or host-local) network.
    Ipam {
        #[command(subcommand)]
        command: IpamCmd,
    },
}

#[derive(Subcommand)]
enum IpamCmd {
    /// List allocated addresses: IP, container id, interface.
    List {
        /// The network name (the `name` of the CNI config).
        network: String,
        /// The IPAM dataDir.
        #[arg(long, default_value = "/var/lib/cni/networks")]
        data_dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Version => {
            println!("podnet {}", env!("CARGO_PKG_VERSION"));
            println!("CNI versions: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
        }
        Cmd::Ipam {
            command:
                IpamCmd::List {
                    network,
                    data_dir,
                    json,
                },
        } => {
            let store = podnet_ipam::Store::open(&data_dir, &network)
                .with_context(|| format!("opening {}/{network}", data_dir.display()))?;
            let locked = store.lock().context("locking the allocation store")?;
            let mut rows = locked.allocations().context("reading allocations")?;
            rows.sort();
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(ip, id, ifname)| {
                        serde_json::json!({"ip": ip.to_string(), "containerID": id, "ifname": ifname})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{:<40} {:<15} CONTAINER", "IP", "IFNAME");
                for (ip, id, ifname) in rows {
                    println!("{:<40} {:<15} {id}", ip.to_string(), ifname);
                }
            }
        }
    }
    Ok(())
}

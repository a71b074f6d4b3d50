//! `podnet`: the command users run: the Kubernetes API server, token issuing,
//! and inspection of what the CNI plugin keeps on disk; `up` and `agent` join
//! it as they land (see docs/).

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

mod agent;
mod cluster;
mod controlplane;
mod demo;
mod pods;
mod workload;

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
    /// Serve the Kubernetes API (HTTPS) on an embedded store or on etcd.
    Apiserver(ApiserverArgs),
    /// Small servers and probes for pods (what Kubernetes' network tests run).
    Workload {
        #[command(subcommand)]
        command: workload::WorkloadCmd,
    },
    /// The API server and the cluster controllers (node IPAM, scheduler,
    /// EndpointSlices, workloads) in one process.
    Controlplane(controlplane::ControlplaneArgs),
    /// One node's agent: registers the Node, routes pod traffic between nodes,
    /// and runs the node's pods (the kubelet part).
    Agent(agent::AgentArgs),
    /// Run a command inside a pod's namespaces (network, mount, UTS).
    Exec(pods::ExecArgs),
    /// Print a container's log.
    Logs(pods::LogsArgs),
    /// Build a multi-node cluster on this host and wait until every node is Ready.
    Up(cluster::UpArgs),
    /// Remove everything `podnet up` made.
    Down,
    /// Show the lab, the cluster's processes and its nodes.
    Status,
    /// Bearer tokens for the API server (e.g. for node agents).
    Token {
        #[command(subcommand)]
        command: TokenCmd,
    },
    /// The node runtime's helper processes (sandbox namespace holder, container shim).
    #[command(name = "kubelet-internal", hide = true)]
    KubeletInternal {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StoreKind {
    /// SQLite in DATA_DIR/store.db.
    Embedded,
    /// etcd v3 at --etcd-endpoints.
    Etcd,
}

#[derive(clap::Args)]
pub(crate) struct ApiserverArgs {
    /// Where certificates, tokens, the kubeconfig and the embedded store live.
    #[arg(long)]
    data_dir: PathBuf,
    /// Address and port to serve HTTPS on.
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// The address clients and pods reach the server at (default: the listen address).
    #[arg(long)]
    advertise_address: Option<IpAddr>,
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
    /// etcd client URLs, comma-separated (with --store etcd).
    #[arg(long, value_delimiter = ',')]
    etcd_endpoints: Vec<String>,
    /// Key prefix of podnet's objects in etcd.
    #[arg(long, default_value = "/podnet")]
    etcd_prefix: String,
    /// ClusterIPs come from this CIDR; its first address is the `kubernetes` Service.
    #[arg(long, default_value = "10.96.0.0/16")]
    service_cidr: ipnet::IpNet,
    /// NodePorts come from this range.
    #[arg(long, default_value = "30000-32767")]
    node_port_range: String,
    /// History older than this is compacted (seconds).
    #[arg(long, default_value_t = 300)]
    compaction_interval: u64,
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Issue a token for USER and print it.
    Create {
        /// The user name the token authenticates as (e.g. system:node:node-1).
        user: String,
        /// The API server's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Groups of the user, comma-separated.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// Also write a kubeconfig for the token here.
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
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

fn parse_port_range(range: &str) -> Result<std::ops::RangeInclusive<u16>> {
    let (low, high) = range
        .split_once('-')
        .with_context(|| format!("--node-port-range {range:?}: expected LOW-HIGH"))?;
    let low: u16 = low
        .trim()
        .parse()
        .with_context(|| format!("--node-port-range {range:?}: bad low port"))?;
    let high: u16 = high
        .trim()
        .parse()
        .with_context(|| format!("--node-port-range {range:?}: bad high port"))?;
    anyhow::ensure!(
        low > 0 && low <= high,
        "--node-port-range {range:?}: need 0 < LOW <= HIGH"
    );
    Ok(low..=high)
}

/// Logs to stderr at the level RUST_LOG says (info by default).
pub(crate) fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// The server configuration the command line asks for.
pub(crate) fn server_config(
    args: &ApiserverArgs,
) -> Result<podnet_apiserver::server::ServerConfig> {
    let mut config = podnet_apiserver::server::ServerConfig::new(&args.data_dir);
    config.listen = args.listen;
    config.advertise_address = args.advertise_address;
    config.service_cidr = args.service_cidr;
    config.node_ports = parse_port_range(&args.node_port_range)?;
    config.compaction_interval = Duration::from_secs(args.compaction_interval.max(1));
    config.store = match args.store {
        StoreKind::Embedded => podnet_apiserver::server::StoreChoice::Embedded,
        StoreKind::Etcd => {
            anyhow::ensure!(
                !args.etcd_endpoints.is_empty(),
                "--store etcd needs --etcd-endpoints"
            );
            podnet_apiserver::server::StoreChoice::Etcd {
                endpoints: args.etcd_endpoints.clone(),
                prefix: args.etcd_prefix.clone(),
            }
        }
    };
    Ok(config)
}

/// A kube-rs client from a kubeconfig file.
pub(crate) async fn kube_client(kubeconfig: &std::path::Path) -> Result<kube::Client> {
    let file = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config =
        kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
            .await
            .with_context(|| format!("using {}", kubeconfig.display()))?;
    kube::Client::try_from(config).context("making an API client")
}

fn apiserver(args: ApiserverArgs) -> Result<()> {
    init_tracing();
    let config = server_config(&args)?;
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async move {
        let server = podnet_apiserver::server::start(config).await?;
        eprintln!(
            "podnet apiserver: serving on https://{}; kubeconfig: {}",
            server.address,
            server.kubeconfig.display()
        );
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result?,
            _ = terminate.recv() => {}
        }
        server.stop().await
    })
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Apiserver(args) => apiserver(args)?,
        Cmd::Controlplane(args) => controlplane::run(args)?,
        Cmd::Agent(args) => agent::run(args)?,
        Cmd::Exec(args) => pods::exec(args)?,
        Cmd::Logs(args) => pods::logs(args)?,
        Cmd::Up(args) => cluster::up(args)?,
        Cmd::Down => cluster::down()?,
        Cmd::Status => cluster::status()?,
        Cmd::KubeletInternal { args } => {
            std::process::exit(podnet_kubelet::runtime::helper_main(&args))
        }
        Cmd::Workload { command } => std::process::exit(workload::run(command)?),
        Cmd::Token {
            command:
                TokenCmd::Create {
                    user,
                    data_dir,
                    groups,
                    kubeconfig,
                },
        } => {
            let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
            let token = podnet_apiserver::server::issue_token(
                &data_dir,
                &user,
                &groups,
                kubeconfig.as_deref(),
            )?;
            println!("{token}");
        }
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

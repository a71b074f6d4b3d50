//! `podnet agent`: one node's agent. The node part (registration, Lease,
//! CNI config, routes, masquerade; crate podnet-agent), the service proxy
//! (crate podnet-agent's services over podnet-proxy) and the kubelet part
//! (pods as processes in their own namespaces; crate podnet-kubelet) run side
//! by side on one API client, in the network namespace the agent runs in.

use anyhow::{Context, Result};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

use crate::cluster::{CniChoice, OnOff, Routing};

#[derive(clap::Args)]
pub struct AgentArgs {
    /// The Node's name.
    #[arg(long)]
    pub node_name: String,
    /// The node's address on the underlay (its InternalIP).
    #[arg(long)]
    pub node_ip: Ipv4Addr,
    /// How to reach the API server.
    #[arg(long)]
    pub kubeconfig: PathBuf,
    #[arg(long, value_enum, default_value = "host-gw")]
    pub routing: Routing,
    #[arg(long, value_enum, default_value = "on")]
    pub masquerade: OnOff,
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: ipnet::Ipv4Net,
    #[arg(long, default_value = "10.96.0.0/16")]
    pub service_cidr: ipnet::Ipv4Net,
    /// The CNI plugins the node's config names.
    #[arg(long, value_enum, default_value = "podnet")]
    pub cni: CniChoice,
    /// The node's state: CNI config and state, kubelet records, logs
    /// (default /var/lib/podnet/nodes/NODE).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// The node's runtime records (default /run/podnet/nodes/NODE).
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// The interface the node reaches its peers through.
    #[arg(long, default_value = "eth0")]
    pub underlay_interface: String,
    /// The cluster DNS server pods with dnsPolicy ClusterFirst use.
    #[arg(long, default_value = "10.96.0.10")]
    pub cluster_dns: IpAddr,
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Run the service proxy (the node's `inet podnet-proxy` table).
    #[arg(long, value_enum, default_value = "on")]
    pub proxy: OnOff,
    /// Serve only Services whose `service.kubernetes.io/service-proxy-name`
    /// label has this value (default: only Services without the label).
    #[arg(long)]
    pub proxy_name: Option<String>,
    /// Take part in announcing LoadBalancer addresses on the underlay.
    #[arg(long, value_enum, default_value = "on")]
    pub announce_load_balancers: OnOff,
    /// The service proxy's /healthz; "off" to not serve it.
    #[arg(long, default_value = "0.0.0.0:10256")]
    pub healthz_bind_address: BindAddress,
    /// The service proxy's /metrics; "off" to not serve it.
    #[arg(long, default_value = "0.0.0.0:10249")]
    pub metrics_bind_address: BindAddress,
}

/// A listen address, or "off".
#[derive(Debug, Clone, Copy)]
pub struct BindAddress(pub Option<std::net::SocketAddr>);

impl std::str::FromStr for BindAddress {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "off" {
            return Ok(BindAddress(None));
        }
        text.parse()
            .map(|address| BindAddress(Some(address)))
            .map_err(|_| format!("{text:?} is neither ADDRESS:PORT nor off"))
    }
}

pub fn run(args: AgentArgs) -> Result<()> {
    crate::init_tracing();
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/var/lib/podnet/nodes").join(&args.node_name));
    let run_dir = args
        .run_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/run/podnet/nodes").join(&args.node_name));
    let executable = std::env::current_exe().context("finding the podnet executable")?;

    let mut node = podnet_agent::NodeAgentConfig::new(&args.node_name, args.node_ip);
    node.underlay_interface = args.underlay_interface.clone();
    node.routing = match args.routing {
        Routing::HostGw => podnet_agent::Routing::HostGw,
        Routing::Vxlan => podnet_agent::Routing::Vxlan,
    };
    node.masquerade = args.masquerade == OnOff::On;
    node.cluster_cidr = args.cluster_cidr;
    node.service_cidr = args.service_cidr;
    node.state_root = state_dir.clone();
    node.cni_plugins = match args.cni {
        CniChoice::Podnet => podnet_agent::CniPlugins::Podnet,
        CniChoice::Reference => podnet_agent::CniPlugins::Reference,
    };
    node.validate()
        .map_err(|reason| anyhow::anyhow!("agent configuration: {reason}"))?;

    let mut runtime_config =
        podnet_kubelet::runtime::RuntimeConfig::for_node(&args.node_name, executable);
    runtime_config.state_dir = state_dir.join("kubelet");
    runtime_config.cni_conflist = node.conflist_path();
    runtime_config.path_dir = run_dir.join("bin");
    runtime_config.run_dir = run_dir;
    let pod_runtime = Arc::new(
        podnet_kubelet::runtime::Runtime::new(runtime_config)
            .context("setting up the node's container runtime")?,
    );

    let proxy = (args.proxy == OnOff::On).then(|| {
        let mut proxy =
            podnet_agent::services::ServiceProxyConfig::new(&args.node_name, args.node_ip);
        proxy.cluster_cidrs = vec![args.cluster_cidr];
        proxy.proxy_name = args.proxy_name.clone();
        proxy.underlay_interface = args.underlay_interface.clone();
        proxy.announce_load_balancers = args.announce_load_balancers == OnOff::On;
        proxy.healthz_address = args.healthz_bind_address.0;
        proxy.metrics_address = args.metrics_bind_address.0;
        proxy
    });

    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async move {
        let client = crate::kube_client(&args.kubeconfig).await?;
        // The kubelet part waits for the node's CNI config, as a kubelet waits
        // for NetworkReady.
        let (node_agent, cni_ready) =
            podnet_agent::NodeAgent::new(node).context("setting up the node agent")?;
        let mut kubelet = podnet_kubelet::pods::KubeletConfig::new(
            &args.node_name,
            vec![IpAddr::V4(args.node_ip)],
            cni_ready,
        );
        kubelet.cluster_dns = vec![args.cluster_dns];
        kubelet.cluster_domain = args.cluster_domain.clone();

        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let node_part = node_agent.run(client.clone(), stopped(stop_rx.clone()));
        let proxy_part = {
            let client = client.clone();
            let stop = stopped(stop_rx.clone());
            async move {
                match proxy {
                    Some(proxy) => podnet_agent::services::run(client, proxy, stop).await,
                    None => {
                        stop.await;
                        Ok(())
                    }
                }
            }
        };
        let kubelet_part =
            podnet_kubelet::pods::run(client, pod_runtime, kubelet, stopped(stop_rx));
        tokio::pin!(node_part, kubelet_part, proxy_part);
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        // On a signal both parts stop: pods keep running (a restarted agent
        // adopts them) and the node says NotReady.
        let outcome: Result<()> = tokio::select! {
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = terminate.recv() => Ok(()),
            result = &mut node_part => Err(match result {
                Ok(()) => anyhow::anyhow!("the node part stopped"),
                Err(e) => anyhow::Error::from(e).context("the node part failed"),
            }),
            result = &mut kubelet_part => Err(match result {
                Ok(()) => anyhow::anyhow!("the kubelet part stopped"),
                Err(e) => anyhow::Error::from(e).context("the kubelet part failed"),
            }),
            result = &mut proxy_part => Err(match result {
                Ok(()) => anyhow::anyhow!("the service proxy stopped"),
                Err(e) => anyhow::Error::from(e).context("the service proxy failed"),
            }),
        };
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            let (node, kubelet, proxy) = tokio::join!(node_part, kubelet_part, proxy_part);
            if let Err(e) = node {
                tracing::warn!("node part: {e}");
            }
            if let Err(e) = proxy {
                tracing::warn!("service proxy: {e}");
            }
            if let Err(e) = kubelet {
                tracing::warn!("kubelet part: {e}");
            }
        })
        .await;
        outcome
    })
}

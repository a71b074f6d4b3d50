//! `podnet controlplane`: the API server and the cluster controllers in one
//! process. The controllers reach the server only through the Kubernetes API
//! (a kube-rs client over HTTPS), as they would from another machine.

use anyhow::{Context, Result};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use podnet_controllers::endpointslice::EndpointSliceConfig;
use podnet_controllers::load_balancer::LoadBalancerConfig;
use podnet_controllers::node_ipam::NodeIpamConfig;
use podnet_controllers::scheduler::SchedulerConfig;

#[derive(clap::Args)]
pub struct ControlplaneArgs {
    #[command(flatten)]
    pub apiserver: crate::ApiserverArgs,
    /// Pod addresses come from this CIDR; each node gets a slice of it.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: ipnet::IpNet,
    /// Prefix length of each node's podCIDR (IPv4).
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask: u8,
    /// IPv4 pool for the addresses of LoadBalancer Services (repeatable); without
    /// one, LoadBalancer Services get no address.
    #[arg(long = "load-balancer-pool", value_name = "CIDR")]
    pub load_balancer_pools: Vec<ipnet::IpNet>,
}

/// A controller's future, boxed so that they can all be awaited together.
type Task = Pin<Box<dyn Future<Output = (&'static str, Result<()>)> + Send>>;

pub fn run(args: ControlplaneArgs) -> Result<()> {
    crate::init_tracing();
    let config = crate::server_config(&args.apiserver)?;
    // Refused pools stop the command before anything starts, not the running
    // control plane when the controller first reads them.
    podnet_controllers::load_balancer::LoadBalancerAllocator::new(&args.load_balancer_pools)
        .context("--load-balancer-pool")?;
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async move {
        let server = podnet_apiserver::server::start(config).await?;
        eprintln!(
            "podnet controlplane: serving on https://{}; kubeconfig: {}",
            server.address,
            server.kubeconfig.display()
        );
        let client = crate::kube_client(&server.kubeconfig).await?;
        let ipam = NodeIpamConfig {
            cluster_cidrs: vec![args.cluster_cidr],
            node_mask_ipv4: args.node_cidr_mask,
            service_cidrs: vec![args.apiserver.service_cidr],
            ..NodeIpamConfig::default()
        };
        let mut tasks: Vec<Task> = vec![
            named("node IPAM", {
                let client = client.clone();
                async move { Ok(podnet_controllers::node_ipam::run(client, ipam).await?) }
            }),
            named("scheduler", {
                let client = client.clone();
                async move {
                    Ok(
                        podnet_controllers::scheduler::run(client, SchedulerConfig::default())
                            .await?,
                    )
                }
            }),
            named("EndpointSlice controller", {
                let client = client.clone();
                async move {
                    Ok(podnet_controllers::endpointslice::run(
                        client,
                        EndpointSliceConfig::default(),
                    )
                    .await?)
                }
            }),
            named("node lifecycle controller", {
                let client = client.clone();
                async move {
                    Ok(podnet_controllers::node_lifecycle::run(
                        client,
                        podnet_controllers::node_lifecycle::NodeLifecycleConfig::default(),
                    )
                    .await?)
                }
            }),
            named("workload controllers", {
                let client = client.clone();
                async move {
                    podnet_workloads::run(client).await;
                    Ok(())
                }
            }),
        ];
        if !args.load_balancer_pools.is_empty() {
            let config = LoadBalancerConfig {
                pools: args.load_balancer_pools.clone(),
            };
            tasks.push(named("LoadBalancer IPAM", {
                let client = client.clone();
                async move { Ok(podnet_controllers::load_balancer::run(client, config).await?) }
            }));
        }
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let controllers = futures_util::future::select_all(tasks);
        let outcome = tokio::select! {
            result = tokio::signal::ctrl_c() => result.map_err(anyhow::Error::from),
            _ = terminate.recv() => Ok(()),
            ((name, result), _, _) = controllers => {
                Err(match result {
                    Ok(()) => anyhow::anyhow!("the {name} stopped"),
                    Err(e) => e.context(format!("the {name} failed")),
                })
            }
        };
        let stopped = tokio::time::timeout(Duration::from_secs(10), server.stop()).await;
        outcome?;
        stopped.context("the API server did not stop within 10 s")?
    })
}

fn named<F>(name: &'static str, future: F) -> Task
where
    F: Future<Output = Result<()>> + Send + 'static,
{
    Box::pin(async move { (name, future.await) })
}

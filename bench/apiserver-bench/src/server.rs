//! A podnet API server in this process, on a runtime of its own, and kube-rs
//! clients for it made from the kubeconfig it writes.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use podnet_apiserver::server::{self, RunningServer, ServerConfig, StoreChoice};
use tokio::runtime::Handle;

use crate::error::BenchError;

/// How long a stopping server may take to finish the requests in flight.
const STOP_PATIENCE: Duration = Duration::from_secs(10);

/// The server's tasks run on `runtime`, apart from the clients' runtime, as
/// they would in a process of their own: both compete only for the cores.
pub struct BenchServer {
    running: RunningServer,
    runtime: Handle,
    pub client_config: kube::Config,
}

impl BenchServer {
    pub async fn start(
        runtime: Handle,
        data_dir: &Path,
        store: StoreChoice,
    ) -> Result<BenchServer, BenchError> {
        let mut config = ServerConfig::new(data_dir);
        config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        config.store = store;
        let running = runtime
            .spawn(server::start(config))
            .await?
            .map_err(|source| BenchError::Server {
                context: "starting the podnet API server".into(),
                source,
            })?;
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&running.kubeconfig).map_err(|source| {
                BenchError::Kubeconfig {
                    context: format!("reading {}", running.kubeconfig.display()),
                    source,
                }
            })?;
        let client_config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .map_err(|source| BenchError::Kubeconfig {
            context: "making a client configuration from the server's kubeconfig".into(),
            source,
        })?;
        Ok(BenchServer {
            running,
            runtime,
            client_config,
        })
    }

    /// A client with a connection pool of its own, like a separate program.
    pub fn client(&self) -> Result<kube::Client, BenchError> {
        kube::Client::try_from(self.client_config.clone())
            .map_err(BenchError::kube("making a kube-rs client"))
    }

    pub fn clients(&self, count: usize) -> Result<Vec<kube::Client>, BenchError> {
        (0..count).map(|_| self.client()).collect()
    }

    /// Stops the server. End watches first: an open one holds the stop for
    /// the server's whole shutdown grace period.
    pub async fn stop(self) -> Result<(), BenchError> {
        let stopping = self.runtime.spawn(self.running.stop());
        match tokio::time::timeout(STOP_PATIENCE, stopping).await {
            Ok(joined) => joined?.map_err(|source| BenchError::Server {
                context: "stopping the podnet API server".into(),
                source,
            }),
            Err(_) => Err(BenchError::unexpected(
                "stopping the podnet API server",
                format!("requests still in flight after {STOP_PATIENCE:?}"),
            )),
        }
    }
}

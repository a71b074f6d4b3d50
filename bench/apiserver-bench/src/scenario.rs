//! One store's run: server up, creates, lists, watches, server down, and on
//! etcd the baseline of plain puts.

use std::path::Path;
use std::time::Duration;

use podnet_apiserver::server::StoreChoice;
use tokio::runtime::Handle;

use crate::error::BenchError;
use crate::report::{StoreFigures, StoreKind};
use crate::server::BenchServer;
use crate::watch::WatchSettings;
use crate::{baseline, creates, lists, watch};

/// The server's key prefix in etcd (podnet's default).
const SERVER_PREFIX: &str = "/podnet";

#[derive(Debug, Clone)]
pub struct Settings {
    pub pods: usize,
    /// Pods created by one client before the concurrent clients start.
    pub sequential: usize,
    pub clients: usize,
    pub watchers: usize,
    pub writes: usize,
    pub write_interval: Duration,
    pub list_repeats: usize,
}

pub fn progress(store: StoreKind, what: &str) {
    eprintln!("apiserver-bench: {}: {what}", store.label());
}

/// Runs every measurement against a fresh server on `store` (with etcd at
/// `etcd_endpoint`), its tasks on `server_runtime`.
pub async fn run(
    server_runtime: Handle,
    data_dir: &Path,
    store: StoreKind,
    etcd_endpoint: Option<String>,
    settings: &Settings,
) -> Result<StoreFigures, BenchError> {
    let choice = match (store, &etcd_endpoint) {
        (StoreKind::Embedded, None) => StoreChoice::Embedded,
        (StoreKind::Etcd, Some(endpoint)) => StoreChoice::Etcd {
            endpoints: vec![endpoint.clone()],
            prefix: SERVER_PREFIX.to_string(),
        },
        _ => {
            return Err(BenchError::unexpected(
                "choosing the store",
                "an etcd endpoint is given exactly for the etcd store",
            ))
        }
    };
    progress(store, "starting the server");
    let server = BenchServer::start(server_runtime, data_dir, choice).await?;
    let admin = server.client()?;
    creates::create_namespaces(&admin).await?;

    progress(
        store,
        &format!("creating {} pods with 1 client", settings.sequential),
    );
    let sequential =
        creates::create_pods(std::slice::from_ref(&admin), 0..settings.sequential).await?;
    progress(
        store,
        &format!(
            "creating {} pods with {} clients",
            settings.pods - settings.sequential,
            settings.clients
        ),
    );
    let concurrent = creates::create_pods(
        &server.clients(settings.clients)?,
        settings.sequential..settings.pods,
    )
    .await?;
    // Read before the watch phase updates the pod.
    let stored_pod = match &etcd_endpoint {
        Some(endpoint) => Some(baseline::stored_pod(endpoint, SERVER_PREFIX, 0).await?),
        None => None,
    };

    progress(
        store,
        &format!("listing all {} pods, whole and in pages", settings.pods),
    );
    let lists = lists::measure(&admin, settings.pods, settings.list_repeats).await?;

    progress(
        store,
        &format!(
            "{} watchers, {} updates every {:?}",
            settings.watchers, settings.writes, settings.write_interval
        ),
    );
    let watch_settings = WatchSettings {
        watchers: settings.watchers,
        writes: settings.writes,
        interval: settings.write_interval,
        pods: settings.pods,
    };
    let watch =
        watch::measure(&server.clients(settings.watchers)?, &admin, &watch_settings).await?;
    drop(admin);
    progress(store, "stopping the server");
    server.stop().await?;

    let baseline = match (&etcd_endpoint, &stored_pod) {
        (Some(endpoint), Some(value)) => {
            progress(store, "plain etcd puts (baseline)");
            Some(
                baseline::measure(
                    endpoint,
                    value.clone(),
                    settings.sequential,
                    settings.pods - settings.sequential,
                    settings.clients,
                )
                .await?,
            )
        }
        _ => None,
    };
    Ok(StoreFigures {
        store,
        sequential,
        concurrent,
        lists,
        watch,
        stored_pod_bytes: stored_pod.as_ref().map(Vec::len),
        baseline,
    })
}

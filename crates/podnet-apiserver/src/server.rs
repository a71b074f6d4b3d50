//! Putting the server together: store, registry, bootstrap objects,
//! controllers, certificates, tokens, and the HTTPS listener.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use podnet_store::{EtcdStore, SqliteStore, Store};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::controllers::{self, ControllerConfig};
use crate::http::{self, AppState};
use crate::registry::{Registry, RegistryConfig, WriteOptions};
use crate::resources;
use crate::{auth, listener, object, pki};

/// Where objects are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// SQLite in DATA_DIR/store.db.
    Embedded,
    /// etcd v3 at these endpoints, keys under `prefix`.
    Etcd {
        endpoints: Vec<String>,
        prefix: String,
    },
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// The address other machines and pods reach the server at; defaults to
    /// the listen address, or 127.0.0.1 when listening on all addresses.
    pub advertise_address: Option<IpAddr>,
    pub store: StoreChoice,
    pub service_cidr: ipnet::IpNet,
    pub node_ports: std::ops::RangeInclusive<u16>,
    pub compaction_interval: Duration,
}

impl ServerConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> ServerConfig {
        let registry = RegistryConfig::default();
        ServerConfig {
            data_dir: data_dir.into(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 6443)),
            advertise_address: None,
            store: StoreChoice::Embedded,
            service_cidr: registry.service_cidr,
            node_ports: registry.node_ports,
            compaction_interval: ControllerConfig::default().compaction_interval,
        }
    }

    fn advertise(&self, bound: SocketAddr) -> IpAddr {
        self.advertise_address.unwrap_or_else(|| {
            if bound.ip().is_unspecified() {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                bound.ip()
            }
        })
    }

    /// The first address of the service CIDR: the `kubernetes` Service.
    pub fn kubernetes_service_ip(&self) -> IpAddr {
        podnet_model::cidr::first_host(&self.service_cidr)
    }
}

/// A running server.
pub struct RunningServer {
    pub address: SocketAddr,
    pub kubeconfig: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.context("server task")??;
        Ok(())
    }

    /// Waits until the server ends (it ends on its own only on failure).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        (&mut self.task).await.context("server task")??;
        Ok(())
    }
}

async fn open_store(config: &ServerConfig) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &config.store {
        StoreChoice::Embedded => {
            let path = config.data_dir.join("store.db");
            Arc::new(
                SqliteStore::open(&path)
                    .await
                    .with_context(|| format!("opening {}", path.display()))?,
            )
        }
        StoreChoice::Etcd { endpoints, prefix } => Arc::new(
            EtcdStore::connect(endpoints, prefix)
                .await
                .with_context(|| format!("connecting to etcd at {}", endpoints.join(",")))?,
        ),
    })
}

/// Starts the server: binds, bootstraps, and serves until stopped.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let store = open_store(&config).await?;
    let registry = Arc::new(
        Registry::new(
            store,
            RegistryConfig {
                service_cidr: config.service_cidr,
                node_ports: config.node_ports.clone(),
            },
        )
        .await?,
    );
    let tcp = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let bound = tcp.local_addr()?;
    let advertise = config.advertise(bound);
    let sans = pki::default_sans(&[bound.ip(), advertise], config.kubernetes_service_ip());
    let pki = pki::ensure_pki(&config.data_dir, &sans).context("certificates")?;
    let host = match advertise {
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    let server_url = format!("https://{host}:{}", bound.port());
    auth::ensure_admin(&config.data_dir, &server_url, &pki.ca_pem).context("admin credentials")?;
    let tokens = Arc::new(auth::Tokens::load(&config.data_dir).context("tokens")?);
    bootstrap(&registry, &config, advertise, bound.port()).await?;
    tokio::spawn(controllers::run(
        registry.clone(),
        ControllerConfig {
            compaction_interval: config.compaction_interval,
        },
    ));
    let state = Arc::new(AppState {
        registry,
        server_address: format!("{host}:{}", bound.port()),
    });
    let app = http::router(state).layer(listener::require_auth(tokens));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(listener::serve_https(
        tcp,
        pki.server_config,
        app,
        async move {
            let _ = rx.await;
        },
    ));
    tracing::info!("serving the Kubernetes API at {server_url}");
    Ok(RunningServer {
        address: bound,
        kubeconfig: config.data_dir.join("kubeconfig"),
        shutdown: Some(tx),
        task,
    })
}

/// The objects every cluster starts with: the four namespaces and the
/// `kubernetes` Service with the server itself as its endpoint.
async fn bootstrap(
    registry: &Arc<Registry>,
    config: &ServerConfig,
    advertise: IpAddr,
    port: u16,
) -> anyhow::Result<()> {
    let namespaces = resources::find("", "v1", "namespaces").expect("served");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        ensure(registry, namespaces, None, ns, body).await?;
    }
    let services = resources::find("", "v1", "services").expect("served");
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": config.kubernetes_service_ip().to_string(),
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
                 "sessionAffinity": "None"},
    });
    ensure(registry, services, Some("default"), "kubernetes", service).await?;
    let endpoints = resources::find("", "v1", "endpoints").expect("served");
    let ep = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": advertise.to_string()}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    });
    reconcile(
        registry,
        endpoints,
        Some("default"),
        "kubernetes",
        ep,
        &["subsets"],
    )
    .await?;
    let slices = resources::find("discovery.k8s.io", "v1", "endpointslices").expect("served");
    let family = if advertise.is_ipv4() { "IPv4" } else { "IPv6" };
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": family,
        "endpoints": [{"addresses": [advertise.to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    });
    reconcile(
        registry,
        slices,
        Some("default"),
        "kubernetes",
        slice,
        &["endpoints", "ports", "addressType"],
    )
    .await?;
    Ok(())
}

/// Creates the object unless it exists.
async fn ensure(
    registry: &Arc<Registry>,
    res: &'static resources::Resource,
    ns: Option<&str>,
    name: &str,
    body: Value,
) -> anyhow::Result<()> {
    reconcile(registry, res, ns, name, body, &[]).await
}

/// Creates the object, or rewrites `fields` when they differ (the advertised address moved).
async fn reconcile(
    registry: &Arc<Registry>,
    res: &'static resources::Resource,
    ns: Option<&str>,
    name: &str,
    body: Value,
    fields: &[&str],
) -> anyhow::Result<()> {
    match registry.get(res, ns, name).await {
        Ok(current) => {
            if fields.iter().all(|f| current[*f] == body[*f]) {
                return Ok(());
            }
            let mut updated = current.clone();
            for f in fields {
                updated[*f] = body[*f].clone();
            }
            object::meta_mut(&mut updated).remove("resourceVersion");
            registry
                .update(
                    res,
                    ns,
                    name,
                    &updated,
                    crate::registry::Part::Main,
                    &WriteOptions::internal(),
                )
                .await
                .map_err(|e| anyhow::anyhow!("updating {} {name}: {e}", res.plural))?;
            Ok(())
        }
        Err(e) if e.code == 404 => match registry
            .create(res, ns, &body, &WriteOptions::internal())
            .await
        {
            Ok(_) => Ok(()),
            // Another writer created it in between: it exists, as wanted.
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => Err(anyhow::anyhow!("creating {} {name}: {e}", res.plural)),
        },
        Err(e) => Err(anyhow::anyhow!("reading {} {name}: {e}", res.plural)),
    }
}

/// Issues a token for `user` in the server's data directory and, if asked,
/// writes a kubeconfig for it next to the admin one's server and CA.
pub fn issue_token(
    data_dir: &Path,
    user: &str,
    groups: &[&str],
    kubeconfig: Option<&Path>,
) -> anyhow::Result<String> {
    let token = auth::issue_token(data_dir, user, groups).context("issuing the token")?;
    if let Some(path) = kubeconfig {
        let admin = std::fs::read_to_string(data_dir.join("kubeconfig")).with_context(|| {
            format!(
                "reading {} (start the server once first)",
                data_dir.join("kubeconfig").display()
            )
        })?;
        let admin: serde_yaml::Value =
            serde_yaml::from_str(&admin).context("parsing the admin kubeconfig")?;
        let cluster = &admin["clusters"][0]["cluster"];
        let server = cluster["server"]
            .as_str()
            .context("admin kubeconfig has no server")?;
        let ca_pem = std::fs::read_to_string(data_dir.join("pki").join("ca.crt"))
            .context("reading the CA")?;
        auth::write_kubeconfig(path, server, &ca_pem, user, &token, "podnet")
            .context("writing the kubeconfig")?;
    }
    Ok(token)
}

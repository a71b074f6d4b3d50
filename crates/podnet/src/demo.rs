//! `podnet up --demo`: applies examples/ and shows the network model at work:
//! where each pod runs with which address, and what address each server saw
//! for each client (its own: no NAT between pods or from nodes to pods).

use anyhow::{bail, Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::{Discovery, Scope};
use podnet_netlink::NetNs;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The manifests of examples/, applied in this order.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "netexec.yaml",
        include_str!("../../../examples/netexec.yaml"),
    ),
    (
        "statefulset.yaml",
        include_str!("../../../examples/statefulset.yaml"),
    ),
    (
        "localhost-pod.yaml",
        include_str!("../../../examples/localhost-pod.yaml"),
    ),
];
/// The labels of the examples' pods.
const APPS: &[&str] = &["netexec", "web", "localhost-pair"];
const FIELD_MANAGER: &str = "podnet-demo";
const READY_PATIENCE: Duration = Duration::from_secs(120);

pub async fn run(client: &kube::Client) -> Result<()> {
    println!("==> demo: applying examples/");
    apply_all(client, EXAMPLES).await?;
    let pods = wait_ready(client).await?;

    println!();
    println!("{:<28} {:<16} {:<14} HOSTNAME", "POD", "NODE", "IP");
    for pod in &pods {
        println!(
            "{:<28} {:<16} {:<14} {}",
            pod.name, pod.node, pod.ip, pod.hostname
        );
    }

    let servers: Vec<&DemoPod> = pods.iter().filter(|p| p.app == "netexec").collect();
    let mut clients: Vec<Client> = servers
        .iter()
        .map(|p| Client {
            label: format!("{} ({})", p.name, p.ip),
            netns: std::path::Path::new("/run/netns")
                .join(podnet_kubelet::runtime::pod_netns_name(&p.uid)),
            own: vec![p.ip],
        })
        .collect();
    if let Some(first) = servers.first() {
        let node = &first.node;
        clients.push(Client {
            label: format!("node {node}"),
            netns: format!("/run/netns/{node}").into(),
            own: Vec::new(),
        });
    }
    println!();
    println!("What each netexec server saw as the client's address (GET /clientip):");
    print!("{:<40}", "client \\ server");
    for s in &servers {
        print!(" {:<14}", s.ip);
    }
    println!();
    let mut nat_seen = false;
    for c in &clients {
        print!("{:<40}", c.label);
        for s in &servers {
            let target = SocketAddr::new(s.ip, 8080);
            let seen = clientip_from(&c.netns, target)
                .map(|s| address_part(&s))
                .unwrap_or_else(|e| format!("error: {e:#}"));
            let nat = !c.own.is_empty() && !c.own.iter().any(|ip| ip.to_string() == seen);
            nat_seen |= nat;
            print!(" {:<14}", seen);
        }
        println!();
    }
    if nat_seen {
        println!("!! a server saw another address than the client pod's own: NAT on the way");
    } else {
        println!("every server saw each client pod's own IP: pod to pod without NAT");
    }

    if let Some(pair) = pods.iter().find(|p| p.app == "localhost-pair") {
        let config =
            podnet_kubelet::runtime::RuntimeConfig::for_node(&pair.node, Default::default());
        let log = podnet_kubelet::runtime::records::Layout {
            state_dir: config.state_dir,
            run_dir: config.run_dir,
        }
        .log_file(&pair.uid, "client");
        let line = std::fs::read_to_string(&log)
            .ok()
            .and_then(|t| {
                t.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| format!("(no output yet in {})", log.display()));
        println!();
        println!("localhost-pair: two containers, one network namespace: {line}");
    }
    println!();
    println!("try: kubectl get pods -o wide; podnet exec {} -- ip addr; podnet logs localhost-pair -c client",
        servers.first().map(|p| p.name.as_str()).unwrap_or("POD"));
    Ok(())
}

struct Client {
    label: String,
    netns: std::path::PathBuf,
    own: Vec<IpAddr>,
}

/// Server-side applies every object of the manifests (multi-document YAML).
pub async fn apply_all(client: &kube::Client, manifests: &[(&str, &str)]) -> Result<()> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .context("discovering the API")?;
    for (file, text) in manifests {
        for document in serde_yaml::Deserializer::from_str(text) {
            let value = serde_yaml::Value::deserialize(document)
                .with_context(|| format!("{file}: not YAML"))?;
            if value.is_null() {
                continue;
            }
            let object: DynamicObject =
                serde_yaml::from_value(value).with_context(|| format!("{file}: not an object"))?;
            let types = object
                .types
                .clone()
                .with_context(|| format!("{file}: apiVersion and kind are required"))?;
            let gvk = kube::core::GroupVersionKind::try_from(&types)
                .with_context(|| format!("{file}: apiVersion {}", types.api_version))?;
            let (resource, capabilities) = discovery
                .resolve_gvk(&gvk)
                .with_context(|| format!("{file}: the server does not serve {}", types.kind))?;
            let name = object
                .metadata
                .name
                .clone()
                .with_context(|| format!("{file}: metadata.name is required"))?;
            let api: Api<DynamicObject> = match capabilities.scope {
                Scope::Namespaced => Api::namespaced_with(
                    client.clone(),
                    object.metadata.namespace.as_deref().unwrap_or("default"),
                    &resource,
                ),
                Scope::Cluster => Api::all_with(client.clone(), &resource),
            };
            api.patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&object),
            )
            .await
            .with_context(|| format!("{file}: applying {} {name}", types.kind))?;
            println!("    {}/{name} applied", types.kind.to_lowercase());
        }
    }
    Ok(())
}

use serde::Deserialize;

struct DemoPod {
    name: String,
    uid: String,
    app: String,
    node: String,
    ip: IpAddr,
    hostname: String,
}

async fn wait_ready(client: &kube::Client) -> Result<Vec<DemoPod>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let selector = format!("app in ({})", APPS.join(","));
    let deadline = Instant::now() + READY_PATIENCE;
    let mut last = String::new();
    loop {
        let list = api
            .list(&ListParams::default().labels(&selector))
            .await
            .context("listing the demo's pods")?;
        let ready: Vec<&Pod> = list.items.iter().filter(|p| is_ready(p)).collect();
        let expected = 3 + 2 + 1;
        let progress = format!("    pods Ready: {}/{expected}", ready.len());
        if progress != last {
            println!("{progress}");
            last = progress;
        }
        if ready.len() >= expected
            && list
                .items
                .iter()
                .all(|p| p.metadata.deletion_timestamp.is_none())
        {
            let mut pods: Vec<DemoPod> = ready.iter().filter_map(|p| demo_pod(p)).collect();
            pods.sort_by(|a, b| {
                (a.app.as_str(), a.name.as_str()).cmp(&(b.app.as_str(), b.name.as_str()))
            });
            return Ok(pods);
        }
        if Instant::now() > deadline {
            bail!(
                "the demo's pods were not Ready within {} s; see `kubectl get pods -o wide` and `kubectl describe pod`",
                READY_PATIENCE.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn demo_pod(pod: &Pod) -> Option<DemoPod> {
    let spec = pod.spec.as_ref()?;
    Some(DemoPod {
        name: pod.metadata.name.clone()?,
        uid: pod.metadata.uid.clone()?,
        app: pod.metadata.labels.as_ref()?.get("app")?.clone(),
        node: spec.node_name.clone()?,
        ip: pod.status.as_ref()?.pod_ip.as_ref()?.parse().ok()?,
        hostname: match (&spec.hostname, &spec.subdomain) {
            (Some(h), Some(s)) => format!("{h}.{s}"),
            (Some(h), None) => h.clone(),
            _ => pod.metadata.name.clone()?,
        },
    })
}

/// GET /clientip of a netexec server, from inside a network namespace.
fn clientip_from(netns: &std::path::Path, target: SocketAddr) -> Result<String> {
    let ns = NetNs::open(netns).with_context(|| format!("opening {}", netns.display()))?;
    ns.run(move || http_get(target, "/clientip"))?
}

fn http_get(target: SocketAddr, path: &str) -> Result<String> {
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(2))
        .with_context(|| format!("connecting to {target}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {target}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .with_context(|| format!("{target}: not an HTTP response"))?;
    let status = head.split(' ').nth(1);
    if !head.starts_with("HTTP/1.") || status != Some("200") {
        bail!("{target}{path}: {}", head.lines().next().unwrap_or(""));
    }
    Ok(body.trim().to_string())
}

/// netexec answers /clientip with the peer's `address:port`; the address is what counts.
fn address_part(seen: &str) -> String {
    seen.parse::<SocketAddr>()
        .map(|s| s.ip().to_string())
        .unwrap_or_else(|_| seen.to_string())
}

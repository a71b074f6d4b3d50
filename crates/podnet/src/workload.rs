//! `podnet workload ...`: the small servers and probes Kubernetes' own
//! network tests run in pods (serve-hostname, netexec, connect, DNS lookups),
//! so manifests can use them with `command: ["podnet", "workload", ...]`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::extract::{ConnectInfo, Query};
use axum::routing::get;
use axum::Router;
use clap::Subcommand;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};

#[derive(Subcommand)]
pub enum WorkloadCmd {
    /// Answer every request with this pod's name (the hostname): HTTP by default.
    ServeHostname {
        /// Write the name on each TCP connection and close it.
        #[arg(long, conflicts_with = "udp")]
        tcp: bool,
        /// Answer each UDP datagram with the name.
        #[arg(long)]
        udp: bool,
        #[arg(long, default_value_t = 9376)]
        port: u16,
    },
    /// HTTP /hostname, /clientip, /echo?msg=, /healthz (and UDP hostname / echo / clientip).
    Netexec {
        #[arg(long, default_value_t = 8080)]
        http_port: u16,
        #[arg(long)]
        udp_port: Option<u16>,
    },
    /// Exit 0 when HOST:PORT answers (TCP connect; UDP: a reply to a datagram).
    Connect {
        target: String,
        #[arg(long, default_value = "tcp")]
        protocol: String,
        /// How long to wait, e.g. 1s or 500ms.
        #[arg(long, default_value = "1s")]
        timeout: String,
    },
    /// Resolve NAME with the system resolver and print its addresses.
    DnsLookup { name: String },
}

/// Runs a workload command; returns the process exit code.
pub fn run(cmd: WorkloadCmd) -> Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        match cmd {
            WorkloadCmd::ServeHostname { tcp, udp, port } => serve_hostname(tcp, udp, port).await,
            WorkloadCmd::Netexec {
                http_port,
                udp_port,
            } => netexec(http_port, udp_port).await,
            WorkloadCmd::Connect {
                target,
                protocol,
                timeout,
            } => connect(&target, &protocol, parse_duration(&timeout)?).await,
            WorkloadCmd::DnsLookup { name } => dns_lookup(&name),
        }
    })
}

/// `1s`, `500ms`, `2m`: the Go duration forms manifests use.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|i| text.split_at(i))
        .unwrap_or((text, "s"));
    let value: f64 = number
        .parse()
        .with_context(|| format!("duration {text:?}: no number"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => bail!("duration {text:?}: unknown unit {other:?} (ms, s, m, h)"),
    };
    Ok(Duration::from_secs_f64(seconds))
}

fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// Listens on every address, IPv6 and IPv4 when the kernel allows both.
fn any_address(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)
}

async fn bind_tcp(port: u16) -> Result<TcpListener> {
    match TcpListener::bind(any_address(port)).await {
        Ok(l) => Ok(l),
        Err(_) => TcpListener::bind(("0.0.0.0", port))
            .await
            .with_context(|| format!("listening on TCP port {port}")),
    }
}

async fn bind_udp(port: u16) -> Result<UdpSocket> {
    match UdpSocket::bind(any_address(port)).await {
        Ok(s) => Ok(s),
        Err(_) => UdpSocket::bind(("0.0.0.0", port))
            .await
            .with_context(|| format!("listening on UDP port {port}")),
    }
}

/// The client address as the server saw it, IPv4-mapped addresses unwrapped.
fn client_ip(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

async fn serve_hostname(tcp: bool, udp: bool, port: u16) -> Result<i32> {
    let name = hostname();
    if udp {
        let socket = bind_udp(port).await?;
        let mut buf = [0u8; 2048];
        loop {
            let (_, from) = socket.recv_from(&mut buf).await?;
            socket.send_to(name.as_bytes(), from).await?;
        }
    }
    let listener = bind_tcp(port).await?;
    if tcp {
        loop {
            let (mut stream, _) = listener.accept().await?;
            let name = name.clone();
            tokio::spawn(async move {
                let _ = stream.write_all(name.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    }
    let app = Router::new().fallback(move || {
        let name = name.clone();
        async move { name }
    });
    axum::serve(listener, app).await?;
    Ok(0)
}

async fn netexec(http_port: u16, udp_port: Option<u16>) -> Result<i32> {
    if let Some(port) = udp_port {
        let socket = bind_udp(port).await?;
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let request = String::from_utf8_lossy(&buf[..n]).trim().to_string();
                let reply = udp_reply(&request, from);
                let _ = socket.send_to(reply.as_bytes(), from).await;
            }
        });
    }
    let app =
        Router::new()
            .route("/hostname", get(|| async { hostname() }))
            .route(
                "/clientip",
                get(|ConnectInfo(from): ConnectInfo<SocketAddr>| async move {
                    client_ip(from).to_string()
                }),
            )
            .route(
                "/echo",
                get(
                    |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                        q.get("msg").cloned().unwrap_or_default()
                    },
                ),
            )
            .route("/healthz", get(|| async { "ok" }))
            .route("/", get(|| async { jiff::Timestamp::now().to_string() }));
    let listener = bind_tcp(http_port).await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(0)
}

/// netexec's UDP protocol: `hostname`, `echo <text>`, `clientip`.
fn udp_reply(request: &str, from: SocketAddr) -> String {
    match request.split_once(' ') {
        Some(("echo", text)) => text.to_string(),
        _ if request == "hostname" => hostname(),
        _ if request == "clientip" => client_ip(from).to_string(),
        _ => format!("unknown request {request:?}: hostname, echo <text>, clientip"),
    }
}

async fn connect(target: &str, protocol: &str, timeout: Duration) -> Result<i32> {
    let addr = target
        .to_socket_addrs()
        .with_context(|| format!("resolving {target}"))?
        .next()
        .with_context(|| format!("{target} has no address"))?;
    let attempt = async {
        match protocol {
            "tcp" => TcpStream::connect(addr)
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from),
            "udp" => {
                let local: SocketAddr = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                }
                .parse()
                .expect("literal address");
                let socket = UdpSocket::bind(local).await?;
                socket.connect(addr).await?;
                socket.send(b"hostname").await?;
                let mut buf = [0u8; 2048];
                socket.recv(&mut buf).await?;
                Ok(())
            }
            other => bail!("--protocol {other:?}: tcp or udp"),
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => Ok(0),
        Ok(Err(e)) => {
            eprintln!("connect {target} ({protocol}): {e:#}");
            Ok(1)
        }
        Err(_) => {
            eprintln!("connect {target} ({protocol}): timed out after {timeout:?}");
            Ok(1)
        }
    }
}

fn dns_lookup(name: &str) -> Result<i32> {
    match (name, 0).to_socket_addrs() {
        Ok(addrs) => {
            let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
            ips.sort();
            ips.dedup();
            for ip in &ips {
                println!("{ip}");
            }
            Ok(if ips.is_empty() { 1 } else { 0 })
        }
        Err(e) => {
            eprintln!("lookup {name}: {e}");
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_go_form() {
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn udp_protocol() {
        let from: SocketAddr = "[::ffff:10.244.1.5]:4000".parse().unwrap();
        assert_eq!(udp_reply("echo hi there", from), "hi there");
        assert_eq!(udp_reply("clientip", from), "10.244.1.5:4000");
        assert_eq!(udp_reply("hostname", from), hostname());
        assert!(udp_reply("what", from).contains("unknown request"));
    }
}

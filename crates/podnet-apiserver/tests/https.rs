//! The HTTPS listener, PKI, tokens and kubeconfig together, driven by real
//! clients: curl over HTTP/1.1 and HTTP/2, and kubectl.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::stream::{self, StreamExt};
use podnet_apiserver::auth::{self, Tokens, User};
use podnet_apiserver::listener::{require_auth, serve_https, serve_https_with_grace};
use podnet_apiserver::pki;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Server {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    admin_token: String,
    /// How many requests reached the /slow and /watch handlers.
    handled: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(grace: Option<Duration>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let pki = pki::ensure_pki(
            dir.path(),
            &pki::default_sans(&[addr.ip()], "10.96.0.1".parse().unwrap()),
        )
        .unwrap();
        let admin_token =
            auth::ensure_admin(dir.path(), &format!("https://{addr}"), &pki.ca_pem).unwrap();
        let tokens = Arc::new(Tokens::load(dir.path()).unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let handled = Arc::new(AtomicUsize::new(0));
        let app = app(tokens, Arc::clone(&handled));
        let task = match grace {
            None => tokio::spawn(serve_https(listener, pki.server_config, app, shutdown)),
            Some(grace) => tokio::spawn(serve_https_with_grace(
                listener,
                pki.server_config,
                app,
                shutdown,
                grace,
            )),
        };
        Server {
            dir,
            addr,
            admin_token,
            handled,
            stop: Some(stop),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("pki/ca.crt")
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Waits until `count` requests reached the /slow and /watch handlers.
    async fn wait_handled(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.handled.load(Ordering::SeqCst) < count {
            assert!(Instant::now() < deadline, "requests did not arrive");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

fn app(tokens: Arc<Tokens>, handled: Arc<AtomicUsize>) -> Router {
    let slow_handled = Arc::clone(&handled);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/whoami",
            get(|Extension(user): Extension<User>| async move {
                format!("{} {}", user.name, user.groups.join(","))
            }),
        )
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        )
        .route(
            "/watch",
            get(|| async move {
                handled.fetch_add(1, Ordering::SeqCst);
                watch()
            }),
        )
        .route(
            "/slow",
            get(|| async move {
                slow_handled.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(700)).await;
                "done"
            }),
        )
        .layer(require_auth(tokens))
}

/// A watch-like response: one event right away, then nothing until the client leaves.
fn watch() -> Body {
    let first = stream::once(async {
        Ok::<_, Infallible>(Bytes::from_static(
            b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\"}}\n",
        ))
    });
    Body::from_stream(first.chain(stream::pending()))
}

#[derive(Debug)]
struct Reply {
    /// curl's exit code.
    exit: i32,
    status: u16,
    http_version: String,
    body: String,
}

#[derive(Clone, Copy, Debug)]
enum Protocol {
    Http1,
    Http2,
}

impl Protocol {
    fn flag(self) -> &'static str {
        match self {
            Protocol::Http1 => "--http1.1",
            Protocol::Http2 => "--http2",
        }
    }

    fn version(self) -> &'static str {
        match self {
            Protocol::Http1 => "1.1",
            Protocol::Http2 => "2",
        }
    }
}

const BOTH: [Protocol; 2] = [Protocol::Http1, Protocol::Http2];

async fn curl(ca: &Path, protocol: Protocol, url: String, extra: &[&str]) -> Reply {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "-N", "--cacert"])
        .arg(ca)
        .arg(protocol.flag())
        .args(["-w", "\n%{http_code} %{http_version}"])
        .args(extra)
        .arg(url);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let (body, trailer) = stdout.rsplit_once('\n').unwrap();
    let (status, http_version) = trailer.split_once(' ').unwrap();
    Reply {
        exit: output.status.code().unwrap(),
        status: status.parse().unwrap(),
        http_version: http_version.to_string(),
        body: body.to_string(),
    }
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}")
}

fn assert_unauthorized(reply: &Reply) {
    assert_eq!(reply.status, 401, "{reply:?}");
    let status: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        status,
        serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_over_http1_and_http2() {
    let server = Server::start(None).await;
    let ca = server.ca();
    let admin = bearer(&server.admin_token);

    for protocol in BOTH {
        let reply = curl(&ca, protocol, server.url("/healthz"), &[]).await;
        assert_eq!(
            (reply.exit, reply.status, reply.body.as_str()),
            (0, 200, "ok"),
            "{protocol:?}: {reply:?}"
        );
        assert_eq!(reply.http_version, protocol.version());

        let reply = curl(&ca, protocol, server.url("/whoami"), &["-H", &admin]).await;
        assert_eq!(reply.status, 200, "{protocol:?}: {reply:?}");
        assert_eq!(reply.body, "admin system:masters,system:authenticated");
        assert_eq!(reply.http_version, protocol.version());

        let reply = curl(&ca, protocol, server.url("/peer"), &["-H", &admin]).await;
        assert_eq!(reply.body, "127.0.0.1", "{protocol:?}: {reply:?}");

        let reply = curl(&ca, protocol, server.url("/whoami"), &[]).await;
        assert_unauthorized(&reply);
        let reply = curl(&ca, protocol, server.url("/nowhere"), &[]).await;
        assert_unauthorized(&reply);
        // A wrong token is refused even where anonymous requests are allowed.
        let reply = curl(
            &ca,
            protocol,
            server.url("/healthz"),
            &["-H", &bearer("wrong")],
        )
        .await;
        assert_unauthorized(&reply);
    }

    // A node agent's token issued while the server runs works at once.
    let node_token =
        auth::issue_token(server.dir.path(), "system:node:n1", &["system:nodes"]).unwrap();
    for protocol in BOTH {
        let reply = curl(
            &ca,
            protocol,
            server.url("/whoami"),
            &["-H", &bearer(&node_token)],
        )
        .await;
        assert_eq!(
            reply.body, "system:node:n1 system:nodes,system:authenticated",
            "{protocol:?}: {reply:?}"
        );
    }

    // The certificate names the server by the kubernetes Service's DNS names too.
    let port = server.addr.port().to_string();
    for name in ["localhost", "kubernetes.default.svc.cluster.local"] {
        let resolve = format!("{name}:{port}:127.0.0.1");
        let reply = curl(
            &ca,
            Protocol::Http2,
            format!("https://{name}:{port}/healthz"),
            &["--resolve", &resolve],
        )
        .await;
        assert_eq!(
            (reply.exit, reply.body.as_str()),
            (0, "ok"),
            "{name}: {reply:?}"
        );
    }

    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lived_streams_flow_on_both_protocols() {
    let server = Server::start(None).await;
    let admin = bearer(&server.admin_token);
    for protocol in BOTH {
        let started = Instant::now();
        let reply = curl(
            &server.ca(),
            protocol,
            server.url("/watch"),
            &["-H", &admin, "--max-time", "1"],
        )
        .await;
        // curl gives up (exit 28) on a response that never ends, after
        // having received the first event.
        assert_eq!(reply.exit, 28, "{protocol:?}: {reply:?}");
        assert_eq!(reply.status, 200, "{protocol:?}: {reply:?}");
        assert_eq!(
            reply.body, "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\"}}\n",
            "{protocol:?}"
        );
        assert!(started.elapsed() >= Duration::from_secs(1));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handshakes_do_not_stop_the_server() {
    let server = Server::start(None).await;
    // Plain HTTP, and a TLS client that does not trust the CA.
    let plain = tokio::task::spawn_blocking({
        let url = format!("http://{}/healthz", server.addr);
        move || {
            Command::new("curl")
                .args(["-sS", "--max-time", "5", &url])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(!plain.status.success());
    let untrusted = tokio::task::spawn_blocking({
        let url = server.url("/healthz");
        move || {
            Command::new("curl")
                .args(["-sS", "--max-time", "5", &url])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(!untrusted.status.success());

    let reply = curl(&server.ca(), Protocol::Http2, server.url("/healthz"), &[]).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "ok"),
        "{reply:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_streams_after_the_grace_period() {
    let server = Server::start(Some(Duration::from_millis(300))).await;
    let ca = server.ca();
    let url = server.url("/watch");
    let admin = bearer(&server.admin_token);
    let watcher = tokio::spawn(async move {
        curl(
            &ca,
            Protocol::Http1,
            url,
            &["-H", &admin, "--max-time", "20"],
        )
        .await
    });
    server.wait_handled(1).await;

    let addr = server.addr;
    let started = Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let reply = watcher.await.unwrap();
    assert_ne!(
        reply.exit, 28,
        "the server, not curl's timeout, ended the watch: {reply:?}"
    );
    assert!(reply.body.starts_with("{\"type\":\"ADDED\""), "{reply:?}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_requests_in_flight_finish() {
    let server = Server::start(None).await;
    let mut requests = Vec::new();
    for protocol in BOTH {
        let ca = server.ca();
        let url = server.url("/slow");
        let admin = bearer(&server.admin_token);
        requests.push(tokio::spawn(async move {
            curl(&ca, protocol, url, &["-H", &admin]).await
        }));
    }
    server.wait_handled(2).await;
    let started = Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    for request in requests {
        let reply = request.await.unwrap();
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "done"),
            "{reply:?}"
        );
    }
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_uses_the_written_kubeconfig() {
    if Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_err()
    {
        eprintln!("kubectl is not on PATH; skipping");
        return;
    }
    let server = Server::start(None).await;
    let kubeconfig = server.kubeconfig();

    let output = tokio::task::spawn_blocking({
        let kubeconfig = kubeconfig.clone();
        move || kubectl(&kubeconfig, &["get", "--raw", "/whoami"])
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "admin system:masters,system:authenticated"
    );

    let server_by_name = format!("https://localhost:{}", server.addr.port());
    let output = tokio::task::spawn_blocking({
        let kubeconfig = kubeconfig.clone();
        move || {
            kubectl(
                &kubeconfig,
                &["--server", &server_by_name, "get", "--raw", "/healthz"],
            )
        }
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok");

    let output = tokio::task::spawn_blocking({
        let kubeconfig = kubeconfig.clone();
        move || {
            kubectl(
                &kubeconfig,
                &["--token", "wrong", "get", "--raw", "/whoami"],
            )
        }
    })
    .await
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Unauthorized"), "{stderr}");

    server.stop().await;
}

//! The HTTPS listener and the authentication layer in front of the API.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use futures_util::future::{self, Either, Ready};
use http::{header, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::{Layer, Service, ServiceExt};

use crate::auth::{bearer_token, Tokens, User};
use crate::status::ApiError;

/// How long in-flight requests may run on after shutdown was asked for.
/// Watches never end by themselves, so this bounds every shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// A client that has not completed the TLS handshake by then is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after an accept error that is not about one connection (such as
/// running out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` over TLS on `listener` until `shutdown` resolves, then stops
/// accepting and gives open requests [`SHUTDOWN_GRACE`] to finish.
/// HTTP/1.1 and HTTP/2 (negotiated by ALPN) are served on every connection,
/// each in its own task; handlers can read the peer address with
/// `ConnectInfo<SocketAddr>`. Failed accepts and handshakes are logged and
/// the loop goes on, so this returns Ok once shut down.
pub async fn serve_https(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_https_with_grace(listener, tls, app, shutdown, SHUTDOWN_GRACE).await
}

/// [`serve_https`] with the time open requests get after shutdown.
pub async fn serve_https_with_grace(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let (stop_sender, stop) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(finished) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = finished {
                    if e.is_panic() {
                        tracing::error!(error = %e, "a connection task panicked");
                    }
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(serve_connection(
                        tcp,
                        peer,
                        acceptor.clone(),
                        Arc::clone(&builder),
                        app.clone(),
                        stop.clone(),
                    ));
                }
                Err(e) if is_connection_error(&e) => {
                    tracing::debug!(error = %e, "accepting a connection failed");
                }
                Err(e) => {
                    tracing::error!(error = %e, "accepting connections failed; retrying");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                }
            },
        }
    }

    drop(listener);
    stop_sender.send_replace(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            connections = connections.len(),
            "closing connections still busy after the shutdown grace period"
        );
        connections.shutdown().await;
    }
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "cannot disable Nagle's algorithm");
    }
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    let stream = tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        () = stopping(&mut stop) => return,
    };

    let service = app.map_request(move |request: Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    });
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopping(&mut stop) => {
            // Finishes the requests in flight; HTTP/2 clients get a GOAWAY.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Resolves once the server shuts down (or is gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    // The guard wait_for returns must not live across an await: it is not Send.
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// Paths anyone may GET without a token: Kubernetes grants them to
/// unauthenticated users through the `system:public-info-viewer` role.
pub const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version", "/version/"];

/// Authenticates every request by bearer token (see [`Tokens`]). A request
/// with a valid token gets its [`User`] in its extensions; one without a token
/// for a [`PUBLIC_PATHS`] GET gets [`User::anonymous`]; every other request,
/// including one with an unknown token, is answered 401 with a `Status`.
pub fn require_auth(tokens: Arc<Tokens>) -> RequireAuthLayer {
    RequireAuthLayer { tokens }
}

#[derive(Clone)]
pub struct RequireAuthLayer {
    tokens: Arc<Tokens>,
}

impl<S> Layer<S> for RequireAuthLayer {
    type Service = RequireAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireAuth {
            inner,
            tokens: Arc::clone(&self.tokens),
        }
    }
}

#[derive(Clone)]
pub struct RequireAuth<S> {
    inner: S,
    tokens: Arc<Tokens>,
}

impl<S> Service<Request<Body>> for RequireAuth<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response<Body>, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        match authenticate_request(&self.tokens, &request) {
            Some(user) => {
                request.extensions_mut().insert(user);
                Either::Right(self.inner.call(request))
            }
            None => Either::Left(future::ready(Ok(unauthorized()))),
        }
    }
}

fn authenticate_request<B>(tokens: &Tokens, request: &Request<B>) -> Option<User> {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if authorization.and_then(bearer_token).is_some() {
        // Whoever presents a token must present a valid one, public path or not.
        return tokens.authenticate(authorization);
    }
    let public = matches!(*request.method(), Method::GET | Method::HEAD)
        && PUBLIC_PATHS.contains(&request.uri().path());
    public.then(User::anonymous)
}

fn unauthorized() -> Response<Body> {
    let status = ApiError::unauthorized().status();
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(status.to_string()))
        .expect("a static status, header and body form a valid response")
}

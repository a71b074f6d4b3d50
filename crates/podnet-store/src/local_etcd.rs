//! A throwaway single-member etcd on loopback, for tests and benchmarks.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::error::StoreError;

/// How long etcd may take to elect itself and answer; it takes about half
/// a second on an idle machine.
const STARTUP_PATIENCE: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// Free ports are picked by binding port 0 and closing the socket, so
/// another process may take one before etcd binds it; then etcd is started
/// again on other ports.
const PORT_ATTEMPTS: usize = 3;
const LOG_FILE: &str = "etcd.log";

/// An `etcd` process of its own: one member listening on `127.0.0.1` on
/// free ports, with its data in a fresh temporary directory.
///
/// [`LocalEtcd::start`] returns once etcd answers its health check (it has
/// elected itself leader). Dropping the value kills the process and removes
/// the directory, also when a test panics while holding it. A process
/// killed outright (SIGKILL) leaves its etcd running.
///
/// ```no_run
/// # async fn example() -> Result<(), podnet_store::StoreError> {
/// use podnet_store::{EtcdStore, LocalEtcd, Store};
///
/// let etcd = tokio::task::spawn_blocking(LocalEtcd::start).await.expect("not cancelled")?;
/// let store = EtcdStore::connect(&[etcd.endpoint()], "/podnet").await?;
/// store.create("/registry/namespaces/default", b"{}".to_vec()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LocalEtcd {
    child: Child,
    client_port: u16,
    dir: TempDir,
}

enum Attempt {
    Started(LocalEtcd),
    PortTaken(StoreError),
}

impl LocalEtcd {
    /// Starts the `etcd` found on `PATH` (Debian: package `etcd-server`).
    /// Blocks until etcd answers, about half a second; from async code,
    /// call it through `spawn_blocking`.
    pub fn start() -> Result<LocalEtcd, StoreError> {
        Self::start_binary(Path::new("etcd"))
    }

    /// Like [`LocalEtcd::start`] with the etcd executable at `binary`.
    pub fn start_binary(binary: &Path) -> Result<LocalEtcd, StoreError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Self::try_start(binary)? {
                Attempt::Started(etcd) => return Ok(etcd),
                Attempt::PortTaken(error) if attempts >= PORT_ATTEMPTS => return Err(error),
                Attempt::PortTaken(_) => continue,
            }
        }
    }

    /// The client URL, `http://127.0.0.1:PORT`, for [`EtcdStore::connect`](crate::EtcdStore::connect).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// The temporary directory with etcd's data (`data/`) and its log (`etcd.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn try_start(binary: &Path) -> Result<Attempt, StoreError> {
        let context = format!("starting {}", binary.display());
        let io_error = |error: std::io::Error| StoreError::backend(context.as_str(), error);
        let dir = tempfile::Builder::new()
            .prefix("podnet-etcd-")
            .tempdir()
            .map_err(io_error)?;
        let (client_port, peer_port) = free_port_pair().map_err(io_error)?;
        let log = File::create(dir.path().join(LOG_FILE)).map_err(io_error)?;
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let child = Command::new(binary)
            .arg("--name=local")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=local={peer_url}"))
            .arg("--initial-cluster-state=new")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_error)?)
            .stderr(log)
            .spawn()
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::NotFound => StoreError::backend(
                    context.as_str(),
                    "no such executable: install etcd (Debian package etcd-server) or put it on PATH",
                ),
                _ => io_error(error),
            })?;
        // From here on, Drop kills the process and removes the directory.
        let etcd = LocalEtcd {
            child,
            client_port,
            dir,
        };
        etcd.wait_until_healthy(&context)
    }

    fn wait_until_healthy(mut self, context: &str) -> Result<Attempt, StoreError> {
        let deadline = Instant::now() + STARTUP_PATIENCE;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    let log = self.log_tail();
                    let error = StoreError::backend(
                        context,
                        format!(
                            "etcd exited with {status} before it answered; its log ends:\n{log}"
                        ),
                    );
                    if log.contains("address already in use") {
                        return Ok(Attempt::PortTaken(error));
                    }
                    return Err(error);
                }
                Ok(None) => {}
                Err(error) => return Err(StoreError::backend(context, error)),
            }
            if self.is_healthy() {
                return Ok(Attempt::Started(self));
            }
            if Instant::now() >= deadline {
                return Err(StoreError::backend(
                    context,
                    format!(
                        "etcd did not answer within {STARTUP_PATIENCE:?}; its log ends:\n{}",
                        self.log_tail()
                    ),
                ));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// etcd's `/health` answers `"health":"true"` once the member has a
    /// leader; before that the port may not even be open.
    fn is_healthy(&self) -> bool {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.client_port));
        let Ok(mut connection) = TcpStream::connect_timeout(&address, HEALTH_TIMEOUT) else {
            return false;
        };
        let request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        let mut response = String::new();
        connection.set_read_timeout(Some(HEALTH_TIMEOUT)).is_ok()
            && connection.write_all(request.as_bytes()).is_ok()
            && connection.read_to_string(&mut response).is_ok()
            && response.contains("\"health\":\"true\"")
    }

    fn log_tail(&self) -> String {
        const TAIL_LINES: usize = 20;
        match std::fs::read_to_string(self.dir.path().join(LOG_FILE)) {
            Ok(log) => {
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
            }
            Err(error) => format!("(the log cannot be read: {error})"),
        }
    }
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        // Either call fails only if the process is already gone and reaped,
        // which is the state wanted here.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two distinct free loopback ports (both sockets are open at once, so the
/// kernel cannot hand out the same port twice).
fn free_port_pair() -> std::io::Result<(u16, u16)> {
    let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let second = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok((first.local_addr()?.port(), second.local_addr()?.port()))
}

//! The data-plane harness: a client pod, a node holding the service rules and a server
//! pod, each a network namespace, joined by veth pairs with routes (no bridge). The
//! server answers on every one of its addresses; the client opens connections to a
//! cluster IP or straight to a pod IP, so both paths cross the node's forwarding, its
//! conntrack and its NAT hooks alike.

use crate::error::BenchError;
use crate::netns::{self, run_ip, NamedNetns};
use crate::objects::TARGET_PORT;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 244, 100, 2);
const CLIENT_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 244, 100, 1);
const SERVER_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 244, 200, 1);
/// The server pod's addresses: the probe service's endpoints.
pub fn server_ips() -> Vec<Ipv4Addr> {
    (10..20)
        .map(|host| Ipv4Addr::new(10, 244, 200, host))
        .collect()
}

/// The first byte of a connection says what the server does with it.
const ECHO: u8 = b'e';
const SINK: u8 = b's';
const QUIT: u8 = b'q';
/// Server threads sharing the listener.
const SERVER_WORKERS: usize = 2;
const IO_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_CHUNK: usize = 1 << 20;

/// A server thread: entering the namespace can fail, and so can serving.
type ServerWorker = JoinHandle<Result<Result<(), BenchError>, BenchError>>;

pub struct Topology {
    /// Stopped in `drop`, before the namespaces go.
    server: Option<Vec<ServerWorker>>,
    client: NamedNetns,
    node: NamedNetns,
    server_ns: NamedNetns,
}

impl Topology {
    /// Creates the three namespaces, wires them and starts the server.
    pub fn create(prefix: &str) -> Result<Topology, BenchError> {
        let client = NamedNetns::create(format!("{prefix}-client"))?;
        let node = NamedNetns::create(format!("{prefix}-node"))?;
        let server_ns = NamedNetns::create(format!("{prefix}-server"))?;
        let mut topology = Topology {
            server: None,
            client,
            node,
            server_ns,
        };
        topology.wire()?;
        topology.server = Some(topology.start_server()?);
        Ok(topology)
    }

    pub fn node(&self) -> &NamedNetns {
        &self.node
    }

    fn wire(&self) -> Result<(), BenchError> {
        let node = self.node.name();
        for (link, pod, gateway, addresses) in [
            ("vclient", &self.client, CLIENT_GATEWAY, vec![CLIENT_IP]),
            ("vserver", &self.server_ns, SERVER_GATEWAY, server_ips()),
        ] {
            let pod_name = pod.name();
            run_ip(&[
                "-n", node, "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns",
                pod_name,
            ])?;
            run_ip(&[
                "-n",
                node,
                "addr",
                "add",
                &format!("{gateway}/24"),
                "dev",
                link,
            ])?;
            run_ip(&["-n", node, "link", "set", link, "up"])?;
            for address in addresses {
                run_ip(&[
                    "-n",
                    pod_name,
                    "addr",
                    "add",
                    &format!("{address}/24"),
                    "dev",
                    "eth0",
                ])?;
            }
            run_ip(&["-n", pod_name, "link", "set", "eth0", "up"])?;
            run_ip(&[
                "-n",
                pod_name,
                "route",
                "add",
                "default",
                "via",
                &gateway.to_string(),
            ])?;
        }
        self.node.sysctl("net.ipv4.ip_forward", "1")
    }

    fn start_server(&self) -> Result<Vec<ServerWorker>, BenchError> {
        let listener = netns::run_in(&self.server_ns, "server bind", || {
            TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, TARGET_PORT))
        })?
        .map_err(|source| BenchError::Traffic {
            what: format!("binding the server to port {TARGET_PORT}"),
            source,
        })?;
        let mut workers = Vec::new();
        for _ in 0..SERVER_WORKERS {
            let listener = listener.try_clone().map_err(|source| BenchError::Traffic {
                what: "sharing the server socket".into(),
                source,
            })?;
            workers.push(netns::spawn_in(&self.server_ns, move || serve(listener))?);
        }
        Ok(workers)
    }

    fn stop_server(&mut self) -> Result<(), BenchError> {
        let Some(workers) = self.server.take() else {
            return Ok(());
        };
        let target = SocketAddrV4::new(server_ips()[0], TARGET_PORT);
        // One QUIT per worker: each stops after the connection it accepts.
        netns::run_in(
            &self.server_ns,
            "server stop",
            || -> Result<(), BenchError> {
                for _ in 0..workers.len() {
                    let mut stream = connect(target)?;
                    stream
                        .write_all(&[QUIT])
                        .map_err(|source| BenchError::Traffic {
                            what: format!("stopping the server at {target}"),
                            source,
                        })?;
                }
                Ok(())
            },
        )??;
        for worker in workers {
            worker.join().map_err(|_| BenchError::ThreadPanicked {
                what: "server".into(),
            })???;
        }
        Ok(())
    }

    /// `warmup + count` sequential new connections to `target` from the client:
    /// connect, send one byte, read the echo, close. Returns the counted durations.
    pub fn connection_latency(
        &self,
        target: SocketAddrV4,
        warmup: usize,
        count: usize,
    ) -> Result<Vec<Duration>, BenchError> {
        netns::run_in(&self.client, "client", || {
            let mut samples = Vec::with_capacity(count);
            for round in 0..warmup + count {
                if round % 500 == 0 {
                    crate::signals::check()?;
                }
                let start = Instant::now();
                let mut stream = connect(target)?;
                let traffic = |source| BenchError::Traffic {
                    what: format!("echo over {target}"),
                    source,
                };
                stream.write_all(&[ECHO]).map_err(traffic)?;
                let mut reply = [0u8; 1];
                stream.read_exact(&mut reply).map_err(traffic)?;
                drop(stream);
                let elapsed = start.elapsed();
                if reply[0] != ECHO {
                    return Err(BenchError::BadReply {
                        what: format!("echo over {target}"),
                        expected: ECHO,
                        got: reply[0],
                    });
                }
                if round >= warmup {
                    samples.push(elapsed);
                }
            }
            Ok(samples)
        })?
    }

    /// One TCP stream to `target` for `duration` in large writes; returns bytes the
    /// server counted and the time until it confirmed them.
    pub fn stream(
        &self,
        target: SocketAddrV4,
        duration: Duration,
    ) -> Result<(u64, Duration), BenchError> {
        netns::run_in(&self.client, "client", || {
            let traffic = |source| BenchError::Traffic {
                what: format!("stream to {target}"),
                source,
            };
            let chunk = vec![0x5au8; WRITE_CHUNK];
            let start = Instant::now();
            let mut stream = connect(target)?;
            stream.write_all(&[SINK]).map_err(traffic)?;
            while start.elapsed() < duration {
                stream.write_all(&chunk).map_err(traffic)?;
            }
            stream.shutdown(Shutdown::Write).map_err(traffic)?;
            let mut count = [0u8; 8];
            stream.read_exact(&mut count).map_err(traffic)?;
            Ok((u64::from_be_bytes(count), start.elapsed()))
        })?
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if let Err(e) = self.stop_server() {
            eprintln!("cleanup: stopping the server: {e}");
        }
    }
}

fn connect(target: SocketAddrV4) -> Result<TcpStream, BenchError> {
    let traffic = |source| BenchError::Traffic {
        what: format!("connecting to {target}"),
        source,
    };
    let stream =
        TcpStream::connect_timeout(&SocketAddr::V4(target), IO_TIMEOUT).map_err(traffic)?;
    stream.set_nodelay(true).map_err(traffic)?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(traffic)?;
    stream
        .set_write_timeout(Some(IO_TIMEOUT))
        .map_err(traffic)?;
    Ok(stream)
}

/// Accepts and answers connections one at a time until told to quit. Connections are
/// answered on the accepting thread: a thread per connection would add its start-up
/// to every latency sample.
fn serve(listener: TcpListener) -> Result<(), BenchError> {
    let mut buffer = vec![0u8; WRITE_CHUNK];
    loop {
        let (mut stream, peer) = listener.accept().map_err(|source| BenchError::Traffic {
            what: "server accept".into(),
            source,
        })?;
        let traffic = |source| BenchError::Traffic {
            what: format!("server connection from {peer}"),
            source,
        };
        stream.set_nodelay(true).map_err(traffic)?;
        stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(traffic)?;
        let mut command = [0u8; 1];
        stream.read_exact(&mut command).map_err(traffic)?;
        match command[0] {
            ECHO => {
                stream.write_all(&command).map_err(traffic)?;
                // The client closes first, so its side holds the TIME_WAIT.
                while stream.read(&mut buffer).map_err(traffic)? > 0 {}
            }
            SINK => {
                let mut received: u64 = 0;
                loop {
                    let n = stream.read(&mut buffer).map_err(traffic)?;
                    if n == 0 {
                        break;
                    }
                    received += n as u64;
                }
                stream.write_all(&received.to_be_bytes()).map_err(traffic)?;
            }
            QUIT => return Ok(()),
            other => {
                return Err(BenchError::BadReply {
                    what: format!("command from {peer}"),
                    expected: ECHO,
                    got: other,
                })
            }
        }
    }
}

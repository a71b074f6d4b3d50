//! `podnet workload`: the servers and probes pods run, on loopback.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn podnet(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_podnet"));
    cmd.arg("workload").args(args);
    cmd
}

fn start(args: &[&str], port: u16) -> Running {
    let child = Running(podnet(args).spawn().expect("start podnet workload"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "podnet workload {args:?} does not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

fn hostname() -> String {
    String::from_utf8(Command::new("hostname").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn netexec_answers_http_and_udp() {
    let (http, udp) = (free_port(), free_port());
    let _server = start(
        &[
            "netexec",
            "--http-port",
            &http.to_string(),
            "--udp-port",
            &udp.to_string(),
        ],
        http,
    );
    assert_eq!(http_get(http, "/hostname"), hostname());
    assert_eq!(http_get(http, "/echo?msg=hello%20pods"), "hello pods");
    assert_eq!(http_get(http, "/healthz"), "ok");
    let client = http_get(http, "/clientip");
    assert!(client.starts_with("127.0.0.1:"), "{client}");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    socket
        .send_to(b"echo over udp", ("127.0.0.1", udp))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"over udp");
    socket.send_to(b"clientip", ("127.0.0.1", udp)).unwrap();
    let n = socket.recv(&mut buf).unwrap();
    let seen = String::from_utf8_lossy(&buf[..n]).to_string();
    assert_eq!(seen, socket.local_addr().unwrap().to_string());
    // connect: exit 0 when it answers, 1 when nothing listens.
    let ok = podnet(&[
        "connect",
        &format!("127.0.0.1:{http}"),
        "--protocol",
        "tcp",
        "--timeout",
        "1s",
    ])
    .status()
    .unwrap();
    assert!(ok.success());
    let ok = podnet(&[
        "connect",
        &format!("127.0.0.1:{udp}"),
        "--protocol",
        "udp",
        "--timeout",
        "1s",
    ])
    .status()
    .unwrap();
    assert!(ok.success());
    let refused = podnet(&[
        "connect",
        &format!("127.0.0.1:{}", free_port()),
        "--protocol",
        "tcp",
        "--timeout",
        "1s",
    ])
    .status()
    .unwrap();
    assert_eq!(refused.code(), Some(1));
}

#[test]
fn serve_hostname_over_tcp_and_http() {
    let port = free_port();
    let _tcp = start(
        &["serve-hostname", "--tcp", "--port", &port.to_string()],
        port,
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut name = String::new();
    stream.read_to_string(&mut name).unwrap();
    assert_eq!(name, hostname());
    let http = free_port();
    let _http = start(&["serve-hostname", "--port", &http.to_string()], http);
    assert_eq!(http_get(http, "/"), hostname());
}

#[test]
fn dns_lookup_prints_addresses() {
    let out = podnet(&["dns-lookup", "localhost"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l == "127.0.0.1" || l == "::1"),
        "{text}"
    );
    let out = podnet(&["dns-lookup", "no-such-name.invalid"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

//! The HTTP GET of an httpGet probe: HTTP/1.1 over a plain TCP connection,
//! as the kubelet's prober sends it (`User-Agent: kube-probe/<version>`,
//! `Accept: */*`), success for status 200-399, redirects followed on the
//! same host (at most 10), a redirect to another host not followed and
//! reported as a warning.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ProbeOutcome;

/// The Kubernetes version whose prober this one behaves as.
const USER_AGENT: &str = "kube-probe/1.33";
const MAX_REDIRECTS: usize = 10;
/// How much of a response the prober reads (headers and the body it reports).
const MAX_RESPONSE: usize = 10 * 1024;
const MAX_HEADERS: usize = 16 * 1024;

/// One HTTP request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl HttpTarget {
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn url(&self) -> String {
        format!("http://{}{}", self.authority(), self.path)
    }
}

struct Response {
    status: u16,
    location: Option<String>,
    body: String,
}

/// GETs `target`; the caller bounds the whole exchange with the probe's timeout.
pub async fn get(target: HttpTarget, headers: &[(String, String)]) -> ProbeOutcome {
    let mut target = target;
    for _ in 0..=MAX_REDIRECTS {
        let response = match exchange(&target, headers).await {
            Ok(response) => response,
            Err(error) => return ProbeOutcome::Failure(format!("Get {:?}: {error}", target.url())),
        };
        if (300..400).contains(&response.status) {
            if let Some(location) = &response.location {
                match redirect_target(&target, location) {
                    Redirect::SameHost(next) => {
                        target = next;
                        continue;
                    }
                    Redirect::OtherHost => {
                        return ProbeOutcome::Warning(format!(
                            "Probe terminated redirects, Response body: {}",
                            response.body
                        ))
                    }
                    Redirect::Unsupported(reason) => {
                        return ProbeOutcome::Failure(format!(
                            "Get {:?}: redirect to {location:?}: {reason}",
                            target.url()
                        ))
                    }
                }
            }
        }
        return if (200..400).contains(&response.status) {
            ProbeOutcome::Success
        } else {
            ProbeOutcome::Failure(format!(
                "HTTP probe failed with statuscode: {}",
                response.status
            ))
        };
    }
    ProbeOutcome::Failure(format!(
        "Get {:?}: stopped after {MAX_REDIRECTS} redirects",
        target.url()
    ))
}

enum Redirect {
    SameHost(HttpTarget),
    OtherHost,
    Unsupported(&'static str),
}

/// Where a Location header leads, relative to the request that got it.
fn redirect_target(from: &HttpTarget, location: &str) -> Redirect {
    if location.starts_with('/') {
        return Redirect::SameHost(HttpTarget {
            path: location.to_string(),
            ..from.clone()
        });
    }
    let Some(rest) = location.strip_prefix("http://") else {
        if location.starts_with("https://") {
            return Redirect::Unsupported("HTTPS is not supported by podnet's prober");
        }
        // A relative path: resolved against the directory of the current one.
        let dir = from.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        return Redirect::SameHost(HttpTarget {
            path: format!("{dir}/{location}"),
            ..from.clone()
        });
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let (host, port) = split_authority(authority);
    if host != from.host {
        return Redirect::OtherHost;
    }
    Redirect::SameHost(HttpTarget {
        host: host.to_string(),
        port: port.unwrap_or(80),
        path: path.to_string(),
    })
}

fn split_authority(authority: &str) -> (&str, Option<u16>) {
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']').unwrap_or((v6, ""));
        return (host, rest.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().ok()),
        None => (authority, None),
    }
}

async fn exchange(target: &HttpTarget, headers: &[(String, String)]) -> std::io::Result<Response> {
    let address: SocketAddr = match target.host.parse() {
        Ok(ip) => SocketAddr::new(ip, target.port),
        Err(_) => tokio::net::lookup_host((target.host.as_str(), target.port))
            .await?
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"))?,
    };
    let mut stream = TcpStream::connect(address).await?;
    let mut request = format!("GET {} HTTP/1.1\r\n", target.path);
    let host_header = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.clone())
        .unwrap_or_else(|| target.authority());
    request.push_str(&format!("Host: {host_header}\r\n"));
    let has = |wanted: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(wanted));
    if !has("user-agent") {
        request.push_str(&format!("User-Agent: {USER_AGENT}\r\n"));
    }
    if !has("accept") {
        request.push_str("Accept: */*\r\n");
    }
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("host") {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;

    let mut buffer = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(at) = find(&buffer, b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > MAX_HEADERS {
            return Err(invalid("response headers too long"));
        }
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(invalid("connection closed before the response headers"));
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/") {
        return Err(invalid("malformed HTTP response"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("malformed HTTP status line"))?;
    let mut location = None;
    let mut content_length: Option<usize> = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("location") {
                location = Some(value.to_string());
            } else if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().ok();
            }
        }
    }
    let mut body = buffer[head_end + 4..].to_vec();
    let wanted = content_length.unwrap_or(MAX_RESPONSE).min(MAX_RESPONSE);
    while body.len() < wanted {
        let mut chunk = [0u8; 2048];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(MAX_RESPONSE);
    Ok(Response {
        status,
        location,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Serves one canned response per connection, in order, and returns the requests it saw.
    async fn serve(responses: Vec<String>) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for response in responses {
                let (mut stream, _) = listener.accept().await.expect("accept");
                let mut buffer = Vec::new();
                while find(&buffer, b"\r\n\r\n").is_none() {
                    let mut chunk = [0u8; 1024];
                    let n = stream.read(&mut chunk).await.expect("read");
                    buffer.extend_from_slice(&chunk[..n]);
                }
                seen.push(String::from_utf8_lossy(&buffer).to_string());
                stream.write_all(response.as_bytes()).await.expect("write");
            }
            seen
        });
        (port, task)
    }

    fn target(port: u16, path: &str) -> HttpTarget {
        HttpTarget {
            host: "127.0.0.1".into(),
            port,
            path: path.into(),
        }
    }

    #[tokio::test]
    async fn a_2xx_is_success_and_the_request_looks_like_kubernetes_prober() {
        let (port, server) =
            serve(vec!["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".into()]).await;
        let outcome = get(
            target(port, "/healthz"),
            &[("X-Probe".into(), "yes".into())],
        )
        .await;
        assert_eq!(outcome, ProbeOutcome::Success);
        let requests = server.await.expect("server");
        let request = &requests[0];
        assert!(
            request.starts_with("GET /healthz HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains(&format!("Host: 127.0.0.1:{port}\r\n")));
        assert!(request.contains("User-Agent: kube-probe/1.33\r\n"));
        assert!(request.contains("Accept: */*\r\n"));
        assert!(request.contains("X-Probe: yes\r\n"));
    }

    #[tokio::test]
    async fn a_5xx_fails_with_the_status_code() {
        let (port, _server) = serve(vec![
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".into(),
        ])
        .await;
        assert_eq!(
            get(target(port, "/"), &[]).await,
            ProbeOutcome::Failure("HTTP probe failed with statuscode: 503".into())
        );
    }

    #[tokio::test]
    async fn same_host_redirects_are_followed_and_other_hosts_are_a_warning() {
        let (port, server) = serve(vec![
            "HTTP/1.1 302 Found\r\nLocation: /ready\r\nContent-Length: 0\r\n\r\n".into(),
            "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n".into(),
        ])
        .await;
        assert_eq!(
            get(target(port, "/"), &[]).await,
            ProbeOutcome::Failure("HTTP probe failed with statuscode: 500".into())
        );
        let requests = server.await.expect("server");
        assert!(requests[1].starts_with("GET /ready HTTP/1.1"));

        let (port, _server) = serve(vec![
            "HTTP/1.1 301 Moved\r\nLocation: http://example.com/\r\nContent-Length: 4\r\n\r\nmove"
                .into(),
        ])
        .await;
        assert_eq!(
            get(target(port, "/"), &[]).await,
            ProbeOutcome::Warning("Probe terminated redirects, Response body: move".into())
        );
    }

    #[tokio::test]
    async fn a_refused_connection_fails_naming_the_url() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        match get(target(port, "/x"), &[]).await {
            ProbeOutcome::Failure(message) => {
                assert!(
                    message.starts_with(&format!("Get \"http://127.0.0.1:{port}/x\": ")),
                    "{message}"
                )
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}

//! up-bench: `podnet up` with 3 nodes, then from `kubectl apply` of a
//! 100-replica netexec Deployment to every pod Ready and listed as a ready
//! endpoint in the Service's EndpointSlices. Per pod, the kubelet's sandbox
//! (namespaces) + CNI ADD time from its sandbox records. The same run repeats
//! with the reference `bridge` + `host-local` plugins configured in place of
//! podnet-cni, and prints the ratios.

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "up-bench",
    about = "Pods Ready on a podnet up cluster: podnet-cni against the reference plugins"
)]
struct Args {
    /// The podnet binary (podnet-cni must sit next to it).
    #[arg(long, default_value = "target/release/podnet")]
    podnet: PathBuf,
    #[arg(long, default_value_t = 100)]
    replicas: usize,
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// How long to wait for all pods before giving up.
    #[arg(long, default_value_t = 180)]
    patience: u64,
}

const KUBECONFIG: &str = "/var/lib/podnet/kubeconfig";

struct Figures {
    label: &'static str,
    total: Duration,
    all_ready: Duration,
    sandbox_p50: Duration,
    network_p50: Duration,
    setup_p50: Duration,
    setup_p90: Duration,
    samples: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("up-bench builds a cluster of namespaces: run it as root");
    }
    let podnet = args.podnet.canonicalize().with_context(|| {
        format!(
            "--podnet {}: build it with `cargo build --release`",
            args.podnet.display()
        )
    })?;
    let cni = podnet.with_file_name("podnet-cni");
    if !cni.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release`",
            cni.display()
        );
    }
    println!(
        "up-bench: {} nodes, a {}-replica netexec Deployment with a readiness probe (periodSeconds 1), host-gw",
        args.nodes, args.replicas
    );
    let mut results = Vec::new();
    for (label, choice) in [
        ("podnet-cni", "podnet"),
        ("reference bridge+host-local", "reference"),
    ] {
        results.push(measure(&args, &podnet, label, choice)?);
    }
    println!();
    println!(
        "{:<28} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "plugins", "total", "all Ready", "ns p50", "CNI p50", "ns+CNI p50", "ns+CNI p90"
    );
    for r in &results {
        println!(
            "{:<28} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12}   ({} pods)",
            r.label,
            ms(r.total),
            ms(r.all_ready),
            ms(r.sandbox_p50),
            ms(r.network_p50),
            ms(r.setup_p50),
            ms(r.setup_p90),
            r.samples
        );
    }
    let (ours, reference) = (&results[0], &results[1]);
    println!();
    println!(
        "ratio podnet-cni / reference: total {:.2}, sandbox+CNI p50 {:.2}",
        ours.total.as_secs_f64() / reference.total.as_secs_f64(),
        ours.setup_p50.as_secs_f64() / reference.setup_p50.as_secs_f64()
    );
    println!(
        "goals: {} pods Ready in under 10 s on 3 nodes: {} ({}); sandbox+CNI p50 under 20 ms: {} ({})",
        args.replicas,
        ms(ours.total),
        if ours.total < Duration::from_secs(10) { "met" } else { "NOT met" },
        ms(ours.setup_p50),
        if ours.setup_p50 < Duration::from_millis(20) { "met" } else { "NOT met" },
    );
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn podnet_cmd(podnet: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new(podnet)
        .args(args)
        .env("KUBECONFIG", KUBECONFIG)
        .output()
        .with_context(|| format!("running podnet {args:?}"))?;
    if !output.status.success() {
        bail!(
            "podnet {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).to_string())
}

fn kubectl(args: &[&str], stdin: Option<&str>) -> Result<String> {
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", KUBECONFIG)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running kubectl")?;
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .context("kubectl's stdin")?
            .write_all(text.as_bytes())?;
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).to_string())
}

fn manifest(replicas: usize) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: bench}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: bench}}}}
  template:
    metadata: {{labels: {{app: bench}}}}
    spec:
      containers:
        - name: netexec
          image: podnet/workload
          command: ["podnet", "workload", "netexec", "--http-port", "8080"]
          ports: [{{name: http, containerPort: 8080}}]
          readinessProbe: {{httpGet: {{path: /healthz, port: http}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: bench}}
spec:
  selector: {{app: bench}}
  ports: [{{port: 80, targetPort: http}}]
"#
    )
}

fn measure(args: &Args, podnet: &Path, label: &'static str, choice: &str) -> Result<Figures> {
    println!("--- {label}");
    podnet_cmd(podnet, &["down"])?;
    let nodes = args.nodes.to_string();
    podnet_cmd(podnet, &["up", "--nodes", &nodes, "--cni", choice])?;
    let outcome = run_once(args, label);
    podnet_cmd(podnet, &["down"])?;
    outcome
}

fn run_once(args: &Args, label: &'static str) -> Result<Figures> {
    let start = Instant::now();
    kubectl(&["apply", "-f", "-"], Some(&manifest(args.replicas)))?;
    let deadline = start + Duration::from_secs(args.patience);
    let mut all_ready = None;
    let total = loop {
        let pods: Value = serde_json::from_str(&kubectl(
            &["get", "pods", "-l", "app=bench", "-o", "json"],
            None,
        )?)?;
        let ready = pods["items"]
            .as_array()
            .map(|items| items.iter().filter(|p| is_ready(p)).count())
            .unwrap_or(0);
        if ready >= args.replicas && all_ready.is_none() {
            all_ready = Some(start.elapsed());
        }
        if all_ready.is_some() {
            let slices: Value = serde_json::from_str(&kubectl(
                &[
                    "get",
                    "endpointslices",
                    "-l",
                    "kubernetes.io/service-name=bench",
                    "-o",
                    "json",
                ],
                None,
            )?)?;
            let endpoints = slices["items"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
                        .filter(|e| e["conditions"]["ready"] == true)
                        .count()
                })
                .unwrap_or(0);
            if endpoints >= args.replicas {
                break start.elapsed();
            }
        }
        if Instant::now() > deadline {
            bail!(
                "{label}: {ready}/{} pods Ready after {} s",
                args.replicas,
                args.patience
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut sandbox = Vec::new();
    let mut network = Vec::new();
    let mut setup = Vec::new();
    for node in 1..=args.nodes {
        let dir = PathBuf::from(format!("/var/lib/podnet/nodes/podnet-node-{node}/kubelet"));
        for record in podnet_kubelet::runtime::sandbox_timings(&dir)
            .with_context(|| format!("reading the sandbox records in {}", dir.display()))?
        {
            sandbox.push(record.namespaces);
            network.push(record.network);
            setup.push(record.namespaces + record.network);
        }
    }
    if setup.is_empty() {
        bail!("{label}: no sandbox records found");
    }
    let figures = Figures {
        label,
        total,
        all_ready: all_ready.unwrap_or(total),
        sandbox_p50: percentile(&mut sandbox, 50),
        network_p50: percentile(&mut network, 50),
        setup_p50: percentile(&mut setup, 50),
        setup_p90: percentile(&mut setup, 90),
        samples: setup.len(),
    };
    println!(
        "    {} pods Ready after {}, all in EndpointSlices after {}; sandbox+CNI p50 {}",
        args.replicas,
        ms(figures.all_ready),
        ms(figures.total),
        ms(figures.setup_p50)
    );
    Ok(figures)
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// Nearest-rank percentile.
fn percentile(values: &mut [Duration], p: usize) -> Duration {
    values.sort();
    let rank = (p * values.len()).div_ceil(100).max(1);
    values[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut v: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(percentile(&mut v, 50), Duration::from_millis(5));
        assert_eq!(percentile(&mut v, 90), Duration::from_millis(9));
        let mut one = vec![Duration::from_millis(7)];
        assert_eq!(percentile(&mut one, 50), Duration::from_millis(7));
    }
}

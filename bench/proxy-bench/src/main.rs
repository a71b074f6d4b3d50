//! proxy-bench: podnet's nftables service proxy against kube-proxy's iptables-mode rule
//! shape, control plane (sync times) and data plane (new-connection latency and
//! throughput through a cluster IP), all inside throwaway network namespaces.

mod control;
mod dataplane;
mod error;
mod iptables;
mod netns;
mod objects;
mod podnet;
mod report;
mod signals;
mod stats;

use clap::Parser;
use dataplane::Topology;
use error::BenchError;
use netns::NamedNetns;
use objects::{ENDPOINTS_PER_SLICE, SERVICE_PORT, TARGET_PORT};
use report::{ControlRow, LatencyRow, Report, Throughput, ThroughputRow};
use std::net::SocketAddrV4;
use std::process::ExitCode;
use std::time::Duration;

/// Services present for the "few services" new-connection figure.
const SMALL_SERVICES: usize = 10;
/// Connections before each counted run: ARP, route and socket caches warm up.
const WARMUP_CONNECTIONS: usize = 200;
/// Pause after loading rules before traffic is measured: the kernel frees a replaced
/// ruleset after the commit, and that work would land in the first samples.
const SETTLE: Duration = Duration::from_secs(2);

#[derive(Parser)]
#[command(
    name = "proxy-bench",
    about = "Compare podnet's nftables service proxy with kube-proxy's iptables-mode rule shape"
)]
struct Args {
    /// ClusterIP Services, each with one EndpointSlice of 10 ready endpoints.
    #[arg(long, default_value_t = 10_000)]
    services: usize,
    /// Single changes (service adds, then endpoint changes) timed after the full sync.
    #[arg(long, default_value_t = 20)]
    changes: usize,
    /// Counted sequential new connections per data-plane row.
    #[arg(long, default_value_t = 3000)]
    connections: usize,
    /// Seconds of streaming per path and proxy, spread over --stream-rounds rounds.
    #[arg(long, default_value_t = 10.0)]
    stream_seconds: f64,
    /// Rounds of one direct and one cluster-IP stream each (order alternating); the
    /// throughput ratio reported is the median of the rounds' ratios. Many short rounds:
    /// one 0.1 s leg on a shared 2-CPU machine varies by a third either way, so the
    /// figure needs many of them.
    #[arg(long, default_value_t = 100)]
    stream_rounds: usize,
    /// The iptables backend the baseline is restored with. nf_tables (iptables-nft)
    /// takes many minutes for a full restore at 10,000 Services x 10 endpoints.
    #[arg(long, value_enum, default_value_t = Backend::Legacy)]
    iptables_backend: Backend,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Backend {
    Legacy,
    Nft,
}

impl Backend {
    /// The restore binary and the matching iptables binary.
    fn binaries(self) -> (&'static str, &'static str) {
        match self {
            Backend::Legacy => ("iptables-legacy-restore", "iptables-legacy"),
            Backend::Nft => ("iptables-nft-restore", "iptables-nft"),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("proxy-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn validate(args: &Args) -> Result<(), BenchError> {
    let invalid = |option, reason: &str| {
        Err(BenchError::InvalidOption {
            option,
            reason: reason.to_string(),
        })
    };
    if args.services <= SMALL_SERVICES || args.services + args.changes > objects::MAX_SERVICES {
        return invalid(
            "services",
            &format!(
                "must be above {SMALL_SERVICES} and, with --changes, at most {}",
                objects::MAX_SERVICES
            ),
        );
    }
    if args.changes == 0 {
        return invalid("changes", "must be at least 1");
    }
    if args.connections < 2 || args.connections % 2 != 0 {
        return invalid(
            "connections",
            "must be even and at least 2 (podnet's rows are measured in two halves)",
        );
    }
    if !(args.stream_seconds > 0.0 && args.stream_seconds <= 60.0) {
        return invalid("stream-seconds", "must be above 0 and at most 60");
    }
    if args.stream_rounds == 0 || args.stream_seconds / (args.stream_rounds as f64) < 0.05 {
        return invalid(
            "stream-rounds",
            "must be at least 1, with at least 0.05 s of streaming per path and round",
        );
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(BenchError::NotRoot);
    }
    Ok(())
}

fn summary(samples: &[Duration], what: &str) -> Result<stats::Summary, BenchError> {
    stats::summarize(samples).ok_or_else(|| BenchError::NoSamples {
        what: what.to_string(),
    })
}

fn control_row(times: control::ControlTimes, who: &str) -> Result<ControlRow, BenchError> {
    Ok(ControlRow {
        full: times.full,
        adds: summary(&times.adds, &format!("{who} service adds"))?,
        changes: summary(&times.changes, &format!("{who} endpoint changes"))?,
        detail: times.full_detail,
    })
}

/// Bytes the server confirmed and the time they took.
type Streamed = (u64, Duration);

/// Streams to `direct` and to `cluster` in `rounds` rounds of `seconds / rounds` each,
/// the order alternating between rounds, so that drift in the machine's state weighs on
/// both paths alike. Each round gives one ratio: a scheduling hiccup spoils one round,
/// not the figure.
fn stream_rounds(
    topology: &Topology,
    direct: SocketAddrV4,
    cluster: SocketAddrV4,
    seconds: f64,
    rounds: usize,
) -> Result<StreamRounds, BenchError> {
    let leg = Duration::from_secs_f64(seconds / rounds as f64);
    let mut run = StreamRounds::default();
    for round in 0..rounds {
        signals::check()?;
        let order = if round % 2 == 0 {
            [(false, direct), (true, cluster)]
        } else {
            [(true, cluster), (false, direct)]
        };
        let mut rates = [0.0f64; 2];
        for (through_cluster, target) in order {
            let (bytes, elapsed) = topology.stream(target, leg)?;
            let total = if through_cluster {
                &mut run.cluster
            } else {
                &mut run.direct
            };
            total.0 += bytes;
            total.1 += elapsed;
            rates[usize::from(through_cluster)] = bytes as f64 / elapsed.as_secs_f64();
        }
        if let Some(ratio) = stats::ratio(rates[1], rates[0]) {
            run.ratios.push(ratio);
        }
    }
    Ok(run)
}

#[derive(Default)]
struct StreamRounds {
    direct: Streamed,
    cluster: Streamed,
    /// Cluster-IP rate over direct rate, one per round.
    ratios: Vec<f64>,
}

impl StreamRounds {
    fn row(&self, label: &str) -> ThroughputRow {
        ThroughputRow {
            label: label.to_string(),
            cluster: Throughput::new(self.cluster),
            direct: Throughput::new(self.direct),
            ratios: stats::spread(&self.ratios),
        }
    }
}

/// Runs every measurement and returns the report. Every namespace is gone when this
/// returns, whether it succeeded or not: each lives in a guard declared here or below
/// (and a panic removes them from the panic hook).
fn run(args: &Args) -> Result<String, BenchError> {
    validate(args)?;
    signals::install();
    netns::delete_on_panic();
    let prefix = format!("ppb-{}", std::process::id());
    let (restore_binary, iptables_binary) = args.iptables_backend.binaries();
    let nft_version = iptables::version("nft")?;
    let default_iptables = iptables::version("iptables")?;
    let baseline_iptables = iptables::version(iptables_binary)?;

    eprintln!(
        "proxy-bench: control plane, podnet, {} services",
        args.services
    );
    let podnet_control = {
        let netns = NamedNetns::create(format!("{prefix}-cp-podnet"))?;
        podnet::control_plane(&netns, args.services, args.changes)?
    };
    signals::check()?;

    eprintln!("proxy-bench: data plane");
    let topology = Topology::create(&prefix)?;
    let node = topology.node();
    let server_ips = dataplane::server_ips();
    let direct = SocketAddrV4::new(server_ips[0], TARGET_PORT);
    let small_probe = SMALL_SERVICES / 2;
    let large_probe = args.services / 2;
    let small_target = SocketAddrV4::new(objects::cluster_ip(small_probe), SERVICE_PORT);
    let large_target = SocketAddrV4::new(objects::cluster_ip(large_probe), SERVICE_PORT);

    // Many, few, few, many: the machine's drift over the run (conntrack filling
    // with TIME_WAIT entries, other load) weighs on both alike, and the table holds
    // the many Services again for the throughput legs.
    let mut proxy = podnet::new_proxy()?;
    let mut podnet_small = Vec::new();
    let mut podnet_large = Vec::new();
    let phases = [true, false, false, true];
    for (phase, many) in phases.into_iter().enumerate() {
        let (count, probe, target, samples) = if many {
            (args.services, large_probe, large_target, &mut podnet_large)
        } else {
            (SMALL_SERVICES, small_probe, small_target, &mut podnet_small)
        };
        let objects = objects::cluster(count, Some((probe, &server_ips)));
        podnet::with_proxy_in(node, &mut proxy, |proxy| {
            podnet::replace_all(proxy, node.name(), "data plane", objects)
        })?;
        std::thread::sleep(SETTLE);
        eprintln!(
            "proxy-bench: new connections, podnet, {count} services ({} of {})",
            phase + 1,
            phases.len()
        );
        let share = args.connections / 2;
        samples.extend(topology.connection_latency(target, WARMUP_CONNECTIONS, share)?);
    }
    eprintln!("proxy-bench: throughput, podnet");
    let podnet_streams = stream_rounds(
        &topology,
        direct,
        large_target,
        args.stream_seconds,
        args.stream_rounds,
    )?;
    podnet::remove(node, &mut proxy)?;

    // The node namespace holds no rules now: the baseline's control plane runs there,
    // so that its one full restore also serves its data plane.
    eprintln!(
        "proxy-bench: control plane, iptables baseline ({restore_binary}), {} services",
        args.services
    );
    let large = objects::cluster(args.services, Some((large_probe, &server_ips)));
    let baseline_control =
        control::iptables_baseline(node, restore_binary, large, args.changes, large_probe)?;
    std::thread::sleep(SETTLE);
    eprintln!(
        "proxy-bench: new connections, iptables baseline, {} services",
        args.services
    );
    let baseline_large =
        topology.connection_latency(large_target, WARMUP_CONNECTIONS, args.connections)?;
    eprintln!("proxy-bench: throughput, iptables baseline");
    let baseline_streams = stream_rounds(
        &topology,
        direct,
        large_target,
        args.stream_seconds,
        args.stream_rounds,
    )?;
    drop(topology);

    Ok(report::render(&Report {
        services: args.services,
        endpoints_per_service: ENDPOINTS_PER_SLICE,
        nft_version,
        default_iptables,
        baseline_iptables,
        restore_binary: restore_binary.to_string(),
        podnet: control_row(podnet_control, "podnet")?,
        baseline: control_row(baseline_control, "iptables")?,
        connections: args.connections,
        warmup: WARMUP_CONNECTIONS,
        latency: [
            LatencyRow {
                label: format!("podnet, {SMALL_SERVICES} services"),
                summary: summary(&podnet_small, "podnet, few services")?,
            },
            LatencyRow {
                label: format!("podnet, {} services", args.services),
                summary: summary(&podnet_large, "podnet, many services")?,
            },
            LatencyRow {
                label: format!("iptables, {} services", args.services),
                summary: summary(&baseline_large, "iptables, many services")?,
            },
        ],
        probe_position: large_probe,
        rounds: args.stream_rounds,
        throughput: [
            podnet_streams.row("cluster IP, podnet"),
            baseline_streams.row("cluster IP, iptables baseline"),
        ],
    }))
}

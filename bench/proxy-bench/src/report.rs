//! The printed result: control-plane and data-plane tables, the ratios and the goals
//! they are held to.

use crate::stats::{ratio, Spread, Summary};
use std::fmt::Write;
use std::time::Duration;

/// A full sync must not take longer than this.
pub const FULL_SYNC_GOAL: Duration = Duration::from_secs(2);
/// Nor a sync of one change.
pub const CHANGE_GOAL: Duration = Duration::from_millis(20);
/// New-connection p50 with many services over that with few must not exceed this.
pub const SCALING_GOAL: f64 = 1.1;
/// Throughput through the cluster IP over that straight to the pod must reach this.
pub const THROUGHPUT_GOAL: f64 = 0.95;

pub struct ControlRow {
    pub full: Duration,
    pub adds: Summary,
    pub changes: Summary,
    pub detail: String,
}

pub struct LatencyRow {
    pub label: String,
    pub summary: Summary,
}

/// Bytes a server confirmed and the time they took.
pub struct Throughput {
    pub bytes: u64,
    pub elapsed: Duration,
}

/// One proxy's streams: through its cluster IP and, in the same rounds, straight to
/// the pod.
pub struct ThroughputRow {
    pub label: String,
    pub cluster: Throughput,
    pub direct: Throughput,
    /// Per-round ratios of cluster-IP rate over direct rate; `None` without rounds.
    pub ratios: Option<Spread>,
}

impl Throughput {
    pub fn new((bytes, elapsed): (u64, Duration)) -> Throughput {
        Throughput { bytes, elapsed }
    }

    pub fn gbit_per_s(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.bytes as f64 * 8.0 / seconds / 1e9
        } else {
            0.0
        }
    }
}

pub struct Report {
    pub services: usize,
    pub endpoints_per_service: usize,
    pub nft_version: String,
    /// `iptables --version`: the machine's default backend.
    pub default_iptables: String,
    /// `--version` of the backend the baseline used.
    pub baseline_iptables: String,
    pub restore_binary: String,
    pub podnet: ControlRow,
    pub baseline: ControlRow,
    pub connections: usize,
    pub warmup: usize,
    /// podnet with few services, podnet with many, the baseline with many.
    pub latency: [LatencyRow; 3],
    pub probe_position: usize,
    /// Streaming rounds per proxy.
    pub rounds: usize,
    /// podnet's, then the baseline's.
    pub throughput: [ThroughputRow; 2],
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1} us", d.as_secs_f64() * 1e6)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

fn ratio_text(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"))
}

fn time_ratio(a: Duration, b: Duration) -> String {
    ratio_text(ratio(a.as_secs_f64(), b.as_secs_f64()))
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "proxy-bench: podnet's service proxy against kube-proxy's iptables-mode rule shape"
    );
    let _ = writeln!(
        w,
        "  podnet:   podnet-proxy ServiceProxy<NftCli> with netlink element batches, table inet podnet-proxy ({})",
        r.nft_version
    );
    let _ = writeln!(
        w,
        "  baseline: the kube-proxy iptables-mode rule shape applied with iptables-restore: {} --noflush --counters ({})",
        r.restore_binary, r.baseline_iptables
    );
    let _ = writeln!(
        w,
        "  this machine's `iptables --version`: {}",
        r.default_iptables
    );
    let _ = writeln!(
        w,
        "  {} ClusterIP Services (TCP 80 -> 8080), each one EndpointSlice of {} ready endpoints on 3 nodes",
        r.services, r.endpoints_per_service
    );
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "Control plane: from the objects to rules in a fresh namespace's kernel"
    );
    let _ = writeln!(
        w,
        "{:<34} {:>11} {:>11} {:>15}   goal (podnet)",
        "", "podnet", "iptables", "podnet/iptables"
    );
    let (p, b) = (&r.podnet, &r.baseline);
    let rows = [
        (
            format!("full sync, {} services", r.services),
            p.full,
            b.full,
            FULL_SYNC_GOAL,
        ),
        (
            format!("add one service, median of {}", p.adds.count),
            p.adds.p50,
            b.adds.p50,
            CHANGE_GOAL,
        ),
        (
            "add one service, max".to_string(),
            p.adds.max,
            b.adds.max,
            CHANGE_GOAL,
        ),
        (
            format!("change one endpoint, median of {}", p.changes.count),
            p.changes.p50,
            b.changes.p50,
            CHANGE_GOAL,
        ),
        (
            "change one endpoint, max".to_string(),
            p.changes.max,
            b.changes.max,
            CHANGE_GOAL,
        ),
    ];
    for (label, podnet, baseline, goal) in rows {
        let _ = writeln!(
            w,
            "{:<34} {:>11} {:>11} {:>15}   <= {:?} {}",
            label,
            ms(podnet),
            ms(baseline),
            time_ratio(podnet, baseline),
            goal,
            verdict(podnet <= goal)
        );
    }
    let _ = writeln!(w, "  podnet full sync: {}", p.detail);
    let _ = writeln!(w, "  iptables full sync: {}", b.detail);
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "Data plane: new connections to the cluster IP from a client pod through the node to a server pod"
    );
    let _ = writeln!(
        w,
        "  {} sequential connect + 1-byte request + reply + close per row, after {} warm-up ones;",
        r.connections, r.warmup
    );
    let _ = writeln!(
        w,
        "  podnet's rows in two halves each, tables loaded in the order many, few, few, many;"
    );
    let _ = writeln!(
        w,
        "  the probed service is number {} of {} in KUBE-SERVICES for the baseline",
        r.probe_position + 1,
        r.services
    );
    let _ = writeln!(w, "{:<28} {:>10} {:>10} {:>10}", "", "p50", "p99", "mean");
    for row in &r.latency {
        let _ = writeln!(
            w,
            "{:<28} {:>10} {:>10} {:>10}",
            row.label,
            us(row.summary.p50),
            us(row.summary.p99),
            us(row.summary.mean)
        );
    }
    let [small, large, baseline] = &r.latency;
    let scaling = ratio(
        large.summary.p50.as_secs_f64(),
        small.summary.p50.as_secs_f64(),
    );
    let _ = writeln!(
        w,
        "{} / {}: p50 {}, mean {}   goal p50 <= {SCALING_GOAL}   {}",
        large.label,
        small.label,
        ratio_text(scaling),
        time_ratio(large.summary.mean, small.summary.mean),
        scaling.map_or("n/a", |v| verdict(v <= SCALING_GOAL)),
    );
    let _ = writeln!(
        w,
        "{} / {}: p50 {}, mean {}",
        large.label,
        baseline.label,
        time_ratio(large.summary.p50, baseline.summary.p50),
        time_ratio(large.summary.mean, baseline.summary.mean),
    );
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "Throughput: one TCP stream in 1 MiB writes per leg; {} rounds of one leg direct to the pod IP and one through the cluster IP, order alternating",
        r.rounds
    );
    let _ = writeln!(
        w,
        "{:<32} {:>13} {:>13}   ratio: median of rounds [95% CI], of totals",
        "", "cluster IP", "direct"
    );
    for (index, row) in r.throughput.iter().enumerate() {
        let median = row.ratios.map(|s| s.median);
        let goal = if index == 0 {
            format!(
                "   goal >= {THROUGHPUT_GOAL} (median)   {}",
                median.map_or("n/a", |v| verdict(v >= THROUGHPUT_GOAL))
            )
        } else {
            String::new()
        };
        let spread = row.ratios.map_or("n/a".to_string(), |s| {
            format!(
                "{} [{}-{}]",
                ratio_text(Some(s.median)),
                ratio_text(Some(s.low)),
                ratio_text(Some(s.high))
            )
        });
        let _ = writeln!(
            w,
            "{:<32} {:>6.2} Gbit/s {:>6.2} Gbit/s   {}, {}{}",
            row.label,
            row.cluster.gbit_per_s(),
            row.direct.gbit_per_s(),
            spread,
            ratio_text(ratio(row.cluster.gbit_per_s(), row.direct.gbit_per_s())),
            goal
        );
    }
    out
}

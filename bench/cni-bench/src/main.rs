//! cni-bench: ADD/DEL latency of podnet-cni against the reference bridge + host-local
//! plugins, run inside a throwaway node network namespace.

mod config;
mod error;
mod netns;
mod plugin;
mod pods;
mod report;
mod scenario;
mod signals;
mod stats;

use clap::Parser;
use error::BenchError;
use netns::NamedNetns;
use report::{CycleRow, LevelRow, Report};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Warm-up cycles per plugin before counting: first runs pay for page cache and the
/// creation of the bridge and firewall tables.
const WARMUP_CYCLES: usize = 5;
/// ADD+DEL cycles measured at each level of attached pods.
const LEVEL_CYCLES: usize = 30;
/// Pause after attaching pods before a level is measured (see `attached_scaling`).
const SETTLE: std::time::Duration = std::time::Duration::from_secs(8);

#[derive(Parser)]
#[command(
    name = "cni-bench",
    about = "Compare podnet-cni's ADD/DEL latency with the reference bridge + host-local plugins"
)]
struct Args {
    /// Counted ADD+DEL cycles per plugin.
    #[arg(long, default_value_t = 200)]
    cycles: usize,
    /// The podnet-cni binary to measure.
    #[arg(long = "podnet-cni", default_value = "target/release/podnet-cni")]
    podnet_cni: PathBuf,
    /// Directory of the reference plugins (bridge, host-local).
    #[arg(long = "reference-dir", default_value = "/usr/lib/cni")]
    reference_dir: PathBuf,
    /// Pods attached for the "many pods" level of the scaling measurement.
    #[arg(long, default_value_t = 250)]
    attached: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cni-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn require_file(what: &str, path: &Path) -> Result<PathBuf, BenchError> {
    let missing = || BenchError::MissingBinary {
        what: what.to_string(),
        path: path.to_path_buf(),
    };
    if !path.is_file() {
        return Err(missing());
    }
    path.canonicalize().map_err(|_| missing())
}

fn validate(args: &Args) -> Result<(PathBuf, PathBuf), BenchError> {
    if args.cycles == 0 {
        return Err(BenchError::InvalidOption {
            option: "cycles",
            reason: "must be at least 1".into(),
        });
    }
    if args.attached < 2 {
        return Err(BenchError::InvalidOption {
            option: "attached",
            reason: "must be at least 2 (it is compared with 1 attached pod)".into(),
        });
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(BenchError::NotRoot);
    }
    let podnet = require_file("podnet-cni", &args.podnet_cni)?;
    require_file(
        "reference host-local",
        &args.reference_dir.join("host-local"),
    )?;
    require_file("reference bridge", &args.reference_dir.join("bridge"))?;
    let reference_dir =
        args.reference_dir
            .canonicalize()
            .map_err(|_| BenchError::MissingBinary {
                what: "reference plugin directory".into(),
                path: args.reference_dir.clone(),
            })?;
    Ok((podnet, reference_dir))
}

/// Runs both measurements and returns the report. Every namespace, attachment and
/// data dir is gone when this returns, whether it succeeded or not: each lives in a
/// guard declared here or below.
fn run(args: &Args) -> Result<String, BenchError> {
    let (podnet_binary, reference_dir) = validate(args)?;
    signals::install();

    let data_dir = tempfile::Builder::new()
        .prefix(&format!("pcb-{}-", std::process::id()))
        .tempdir()
        .map_err(BenchError::TempDir)?;
    let node = NamedNetns::create(format!("pcb-{}-node", std::process::id()))?;
    netns::run_ip(&["-n", node.name(), "link", "set", "lo", "up"])?;
    // From here on every process this thread spawns starts in the node namespace.
    let _inside_node = netns::enter(&node)?;
    // Written after entering: /proc/sys/net belongs to the opening thread's namespace.
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(|source| {
        BenchError::Forwarding {
            namespace: node.name().to_string(),
            source,
        }
    })?;

    let plugins = config::plugins(&podnet_binary, &reference_dir, data_dir.path());
    eprintln!(
        "cni-bench: {} + {WARMUP_CYCLES} warm-up ADD+DEL cycles per plugin, alternating",
        args.cycles
    );
    let cycle_samples = scenario::alternating_cycles(&plugins, WARMUP_CYCLES, args.cycles)?;

    let levels = [1, args.attached];
    let mut level_rows = Vec::new();
    for plugin in &plugins {
        eprintln!(
            "cni-bench: {}: ADD latency with 1 and {} pods attached",
            plugin.label, args.attached
        );
        for level in scenario::attached_scaling(plugin, &levels, LEVEL_CYCLES, SETTLE)? {
            level_rows.push(LevelRow {
                label: plugin.label.clone(),
                attached: level.attached,
                add: summary(&level.samples.add, &plugin.label, "ADD")?,
                del: summary(&level.samples.del, &plugin.label, "DEL")?,
            });
        }
    }

    let mut cycle_rows = Vec::new();
    for (plugin, samples) in plugins.iter().zip(&cycle_samples) {
        cycle_rows.push(CycleRow {
            label: plugin.label.clone(),
            add: summary(&samples.add, &plugin.label, "ADD")?,
            del: summary(&samples.del, &plugin.label, "DEL")?,
        });
    }
    Ok(report::render(&Report {
        podnet_binary: podnet_binary.display().to_string(),
        reference_dir: reference_dir.display().to_string(),
        reference_description: config::REFERENCE_DESCRIPTION.to_string(),
        warmup: WARMUP_CYCLES,
        cycles: args.cycles,
        level_cycles: LEVEL_CYCLES,
        cycle_rows,
        level_rows,
    }))
}

fn summary(
    samples: &[std::time::Duration],
    plugin: &str,
    op: &str,
) -> Result<stats::Summary, BenchError> {
    stats::summarize(samples).ok_or_else(|| BenchError::NoSamples {
        what: format!("{plugin} {op}"),
    })
}

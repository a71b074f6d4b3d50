//! apiserver-bench: create, list and watch figures of podnet's API server on
//! the embedded store and on etcd, measured with kube-rs clients over HTTPS,
//! next to the raw put rate of the same etcd.

mod baseline;
mod creates;
mod error;
mod lists;
mod pods;
mod report;
mod scenario;
mod server;
mod signals;
mod stats;
mod watch;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use podnet_store::LocalEtcd;

use error::BenchError;
use report::{Machine, Report, Setup, StoreFigures, StoreKind};
use scenario::Settings;
use signals::Interrupt;

/// Concurrent clients of the second create phase (and of the baseline).
const CONCURRENT_CLIENTS: usize = 16;
/// Lists of all pods timed per way of listing.
const LIST_REPEATS: usize = 5;
/// How long the server's runtime may take to end its tasks.
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StoreArg {
    Embedded,
    Etcd,
    Both,
}

impl StoreArg {
    fn kinds(self) -> Vec<StoreKind> {
        match self {
            StoreArg::Embedded => vec![StoreKind::Embedded],
            StoreArg::Etcd => vec![StoreKind::Etcd],
            StoreArg::Both => vec![StoreKind::Embedded, StoreKind::Etcd],
        }
    }
}

#[derive(Parser)]
#[command(
    name = "apiserver-bench",
    about = "Create, list and watch figures of podnet's API server with kube-rs clients, on the embedded store and on etcd"
)]
struct Args {
    /// Pods created (and then listed).
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Of those, how many one client creates before the concurrent clients start.
    #[arg(long, default_value_t = 1_000)]
    sequential: usize,
    /// Concurrent watches on all pods.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Pod updates the watchers must see.
    #[arg(long, default_value_t = 200)]
    writes: usize,
    /// Milliseconds between two updates.
    #[arg(long = "write-interval-ms", default_value_t = 10)]
    write_interval_ms: u64,
    /// The store(s) to run the server on; etcd is a throwaway `etcd` from PATH.
    #[arg(long, value_enum, default_value = "both")]
    store: StoreArg,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("apiserver-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn settings(args: &Args) -> Result<Settings, BenchError> {
    let invalid = |option, reason: &str| BenchError::InvalidOption {
        option,
        reason: reason.to_string(),
    };
    if args.sequential == 0 {
        return Err(invalid("sequential", "must be at least 1"));
    }
    if args.pods <= args.sequential {
        return Err(invalid(
            "pods",
            "must be more than --sequential, which the single client creates",
        ));
    }
    if args.watchers == 0 {
        return Err(invalid("watchers", "must be at least 1"));
    }
    if args.writes == 0 {
        return Err(invalid("writes", "must be at least 1"));
    }
    if args.write_interval_ms == 0 {
        return Err(invalid("write-interval-ms", "must be at least 1"));
    }
    Ok(Settings {
        pods: args.pods,
        sequential: args.sequential,
        clients: CONCURRENT_CLIENTS,
        watchers: args.watchers,
        writes: args.writes,
        write_interval: Duration::from_millis(args.write_interval_ms),
        list_repeats: LIST_REPEATS,
    })
}

fn run(args: &Args) -> Result<String, BenchError> {
    let settings = settings(args)?;
    let clients_runtime = runtime("bench-client")?;
    let interrupt = Interrupt::install(&clients_runtime)?;
    let load_at_start = load_average();
    let mut stores = Vec::new();
    for store in args.store.kinds() {
        interrupt.check()?;
        stores.push(run_store(&clients_runtime, &interrupt, store, &settings)?);
    }
    Ok(report::render(&Report {
        machine: Machine {
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            cpu: cpu_model(),
            load_at_start,
            load_at_end: load_average(),
        },
        setup: Setup {
            pods: settings.pods,
            sequential: settings.sequential,
            clients: settings.clients,
            namespaces: pods::NAMESPACES,
            pod_sent_bytes: pods::sent_size(&pods::pod(0)),
            list_repeats: settings.list_repeats,
        },
        stores,
    }))
}

/// One store from start to cleanup. The server runs on a runtime made for
/// it and shut down after it, so no task of one store's server outlives it;
/// etcd is stopped and the data dir removed after that, also when the run
/// failed or was interrupted.
fn run_store(
    clients_runtime: &tokio::runtime::Runtime,
    interrupt: &Interrupt,
    store: StoreKind,
    settings: &Settings,
) -> Result<StoreFigures, BenchError> {
    let data_dir = tempfile::Builder::new()
        .prefix("apiserver-bench-")
        .tempdir()
        .map_err(BenchError::io("creating the server's data directory"))?;
    let etcd = match store {
        StoreKind::Embedded => None,
        StoreKind::Etcd => {
            scenario::progress(store, "starting etcd");
            Some(LocalEtcd::start().map_err(BenchError::LocalEtcd)?)
        }
    };
    interrupt.check()?;
    let server_runtime = runtime("podnet-apiserver")?;
    let figures = clients_runtime.block_on(interrupt.guard(scenario::run(
        server_runtime.handle().clone(),
        data_dir.path(),
        store,
        etcd.as_ref().map(LocalEtcd::endpoint),
        settings,
    )));
    server_runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    drop(etcd);
    let removed = data_dir.close();
    let figures = figures?;
    removed.map_err(BenchError::io("removing the server's data directory"))?;
    Ok(figures)
}

fn runtime(name: &str) -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(name)
        .build()
        .map_err(BenchError::io(format!("starting the {name} runtime")))
}

fn cpu_model() -> String {
    match std::fs::read_to_string("/proc/cpuinfo") {
        Ok(info) => info
            .lines()
            .find_map(|line| {
                line.strip_prefix("model name")
                    .and_then(|rest| rest.split_once(':'))
                    .map(|(_, model)| model.trim().to_string())
            })
            .unwrap_or_else(|| "model not in /proc/cpuinfo".to_string()),
        Err(error) => format!("/proc/cpuinfo unreadable: {error}"),
    }
}

/// The 1, 5 and 15 minute load averages: the machine may be shared.
fn load_average() -> String {
    match std::fs::read_to_string("/proc/loadavg") {
        Ok(text) => text
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        Err(error) => format!("(/proc/loadavg unreadable: {error})"),
    }
}

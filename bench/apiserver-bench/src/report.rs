//! The printed result: one column per store, the goals next to the
//! figures, and the raw etcd baseline.

use std::fmt::Write;
use std::time::Duration;

use crate::baseline::Baseline;
use crate::creates::Phase;
use crate::lists::{ListFigures, PAGE_SIZE};
use crate::stats::Summary;
use crate::watch::WatchFigures;

/// Creates per second the embedded store must reach with the concurrent clients.
pub const EMBEDDED_CREATE_GOAL: f64 = 3000.0;
/// Watch delivery p99 (the goal is stated for 100 watchers).
pub const WATCH_P99_GOAL: Duration = Duration::from_millis(20);
/// Median of a list of all pods in one request (the goal is stated for 10,000 pods).
pub const LIST_GOAL: Duration = Duration::from_millis(150);

const LABEL_WIDTH: usize = 44;
const COLUMN_WIDTH: usize = 19;
/// How many broken watch streams are named; the rest are counted.
const BROKEN_SHOWN: usize = 5;

pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub load_at_start: String,
    pub load_at_end: String,
}

pub struct Setup {
    pub pods: usize,
    pub sequential: usize,
    pub clients: usize,
    pub namespaces: usize,
    pub pod_sent_bytes: usize,
    pub list_repeats: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    Etcd,
}

impl StoreKind {
    pub fn label(self) -> &'static str {
        match self {
            StoreKind::Embedded => "embedded",
            StoreKind::Etcd => "etcd",
        }
    }
}

pub struct StoreFigures {
    pub store: StoreKind,
    pub sequential: Phase,
    pub concurrent: Phase,
    pub lists: ListFigures,
    pub watch: WatchFigures,
    /// The length of a pod's value in etcd (etcd only).
    pub stored_pod_bytes: Option<usize>,
    /// Plain puts on the same etcd (etcd only).
    pub baseline: Option<Baseline>,
}

pub struct Report {
    pub machine: Machine,
    pub setup: Setup,
    pub stores: Vec<StoreFigures>,
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}

/// A goal's bound: whole milliseconds.
fn bound(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

fn pair(summary: &Summary) -> String {
    format!(
        "{:.2} / {:.2} ms",
        summary.p50.as_secs_f64() * 1e3,
        summary.p99.as_secs_f64() * 1e3
    )
}

fn per_second(phase: &Phase) -> String {
    phase
        .rate()
        .map_or_else(|| "n/a".to_string(), |rate| format!("{rate:.0}/s"))
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

fn row(out: &mut String, label: &str, cells: &[String], goal: &str) {
    let _ = write!(out, "{label:<LABEL_WIDTH$}");
    for cell in cells {
        let _ = write!(out, " {cell:>COLUMN_WIDTH$}");
    }
    if goal.is_empty() {
        let _ = writeln!(out);
    } else {
        let _ = writeln!(out, "   {goal}");
    }
}

fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> String {
    match (numerator, denominator) {
        (Some(n), Some(d)) if d > 0.0 => format!("{:.2}", n / d),
        _ => "n/a".to_string(),
    }
}

fn watch_met(watch: &WatchFigures) -> bool {
    watch.deliveries == watch.expected
        && watch
            .latency
            .is_some_and(|latency| latency.p99 <= WATCH_P99_GOAL)
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    let setup = &report.setup;
    let machine = &report.machine;
    let _ = writeln!(w, "apiserver-bench: podnet's API server in this process (a runtime of its own), kube-rs clients over HTTPS");
    let _ = writeln!(
        w,
        "machine: {} cores ({}); load average {} at start, {} at end",
        machine.cores, machine.cpu, machine.load_at_start, machine.load_at_end
    );
    let stored = report
        .stores
        .iter()
        .find_map(|store| store.stored_pod_bytes)
        .map_or_else(String::new, |bytes| {
            format!(", {bytes} B as stored in etcd")
        });
    let _ = writeln!(
        w,
        "pods: {} spread round-robin over {} namespaces; {} B of JSON each as sent{stored}",
        setup.pods, setup.namespaces, setup.pod_sent_bytes
    );
    let concurrent = setup.pods - setup.sequential;
    let _ = writeln!(
        w,
        "creates: the first {} by 1 client one after another, the other {concurrent} by {} clients at once (each its own connections)",
        setup.sequential, setup.clients
    );
    let _ = writeln!(w);

    let labels: Vec<String> = report
        .stores
        .iter()
        .map(|store| store.store.label().to_string())
        .collect();
    row(w, "", &labels, "goal");
    let cells =
        |f: &dyn Fn(&StoreFigures) -> String| report.stores.iter().map(f).collect::<Vec<_>>();
    let has_embedded = report
        .stores
        .iter()
        .any(|store| store.store == StoreKind::Embedded);
    let create_goal = if has_embedded {
        format!("embedded >= {EMBEDDED_CREATE_GOAL:.0}/s")
    } else {
        String::new()
    };
    row(
        w,
        "creates/s, 1 client",
        &cells(&|s| per_second(&s.sequential)),
        "",
    );
    row(
        w,
        "  create latency p50 / p99",
        &cells(&|s| pair(&s.sequential.latency)),
        "",
    );
    row(
        w,
        &format!("creates/s, {} clients", setup.clients),
        &cells(&|s| per_second(&s.concurrent)),
        &create_goal,
    );
    row(
        w,
        "  create latency p50 / p99",
        &cells(&|s| pair(&s.concurrent.latency)),
        "",
    );
    let list_label = format!(
        "list all pods, one request, decoded by kube-rs: median of {}",
        setup.list_repeats
    );
    row(w, &list_label, &cells(&|s| ms(s.lists.whole.p50)), "");
    row(w, "  max", &cells(&|s| ms(s.lists.whole.max)), "");
    row(
        w,
        "  response headers (server's work): median",
        &cells(&|s| ms(s.lists.first_byte.p50)),
        "",
    );
    row(
        w,
        "  whole body received, not decoded: median",
        &cells(&|s| ms(s.lists.raw.p50)),
        &format!("<= {}", bound(LIST_GOAL)),
    );
    row(
        w,
        "  response size",
        &cells(&|s| format!("{:.1} MB", s.lists.raw_bytes as f64 / 1e6)),
        "",
    );
    let pages = report.stores.first().map_or(0, |store| store.lists.pages);
    row(
        w,
        &format!("paged list, limit={PAGE_SIZE} ({pages} pages): median"),
        &cells(&|s| ms(s.lists.paged.p50)),
        "",
    );
    row(w, "  max", &cells(&|s| ms(s.lists.paged.max)), "");
    let latency = |s: &StoreFigures, pick: fn(&Summary) -> Duration| {
        s.watch
            .latency
            .map_or_else(|| "n/a".to_string(), |l| ms(pick(&l)))
    };
    let watch = report.stores.first().map(|store| &store.watch);
    let watch_label = watch.map_or_else(String::new, |watch| {
        format!(
            " ({} watchers, {} writes every {})",
            watch.watchers,
            watch.writes,
            ms(watch.interval)
        )
    });
    row(w, &format!("watch delivery{watch_label}"), &[], "");
    row(w, "  p50", &cells(&|s| latency(s, |l| l.p50)), "");
    row(
        w,
        "  p99",
        &cells(&|s| latency(s, |l| l.p99)),
        &format!("<= {}", bound(WATCH_P99_GOAL)),
    );
    row(w, "  max", &cells(&|s| latency(s, |l| l.max)), "");
    row(
        w,
        "  deliveries",
        &cells(&|s| format!("{}/{}", s.watch.deliveries, s.watch.expected)),
        "all",
    );
    row(
        w,
        "  update request latency p50 / p99",
        &cells(&|s| pair(&s.watch.write_latency)),
        "",
    );
    for store in &report.stores {
        let watch = &store.watch;
        if watch.deliveries != watch.expected {
            let _ = writeln!(
                w,
                "{}: NOT every event was delivered: {} of {} (watchers x writes)",
                store.store.label(),
                watch.deliveries,
                watch.expected
            );
        }
        if watch.duplicates > 0 {
            let _ = writeln!(
                w,
                "{}: {} events were delivered twice to the same watcher",
                store.store.label(),
                watch.duplicates
            );
        }
        for broken in watch.broken_streams.iter().take(BROKEN_SHOWN) {
            let _ = writeln!(w, "{}: {broken}", store.store.label());
        }
        if watch.broken_streams.len() > BROKEN_SHOWN {
            let _ = writeln!(
                w,
                "{}: {} more watch streams broke",
                store.store.label(),
                watch.broken_streams.len() - BROKEN_SHOWN
            );
        }
    }
    let _ = writeln!(w);

    let _ = writeln!(w, "goals");
    if let Some(embedded) = report
        .stores
        .iter()
        .find(|store| store.store == StoreKind::Embedded)
    {
        let rate = embedded.concurrent.rate();
        let _ = writeln!(
            w,
            "  embedded creates/s with {} clients >= {EMBEDDED_CREATE_GOAL:.0}: {}   {}",
            setup.clients,
            per_second(&embedded.concurrent),
            verdict(rate.is_some_and(|rate| rate >= EMBEDDED_CREATE_GOAL))
        );
    }
    let judged = |f: &dyn Fn(&StoreFigures) -> String| {
        report.stores.iter().map(f).collect::<Vec<_>>().join("; ")
    };
    // The goal is judged on the list as the server delivers it (the whole
    // body received); decoding 10k typed pods is the client's own cost.
    let _ = writeln!(
        w,
        "  list of all {} pods in one request (median, whole body received) <= {}: {}",
        setup.pods,
        bound(LIST_GOAL),
        judged(&|s| format!(
            "{} {}   {}",
            s.store.label(),
            ms(s.lists.raw.p50),
            verdict(s.lists.raw.p50 <= LIST_GOAL)
        ))
    );
    let _ = writeln!(
        w,
        "    with kube-rs decoding every pod as well (client cost included): {}",
        judged(&|s| format!("{} {}", s.store.label(), ms(s.lists.whole.p50)))
    );
    if let Some(watch) = watch {
        let _ = writeln!(
            w,
            "  watch delivery p99 at {} watchers <= {}, all delivered: {}",
            watch.watchers,
            bound(WATCH_P99_GOAL),
            judged(&|s| format!(
                "{} {}   {}",
                s.store.label(),
                latency(s, |l| l.p99),
                verdict(watch_met(&s.watch))
            ))
        );
    }

    if let Some((store, baseline)) = report
        .stores
        .iter()
        .find_map(|store| store.baseline.as_ref().map(|baseline| (store, baseline)))
    {
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "baseline: plain puts of {} B values (one stored pod) on the same etcd, etcd-client, no API server",
            baseline.value_bytes
        );
        row(w, "", &["puts/s".to_string(), "p50 / p99".to_string()], "");
        for (label, phase) in [
            (
                format!(
                    "1 client, one after another ({})",
                    baseline.sequential.operations
                ),
                &baseline.sequential,
            ),
            (
                format!(
                    "{} clients, a connection each ({})",
                    baseline.concurrent.clients, baseline.concurrent.operations
                ),
                &baseline.concurrent,
            ),
            (
                format!(
                    "{} on one shared connection ({})",
                    baseline.shared_connection.clients, baseline.shared_connection.operations
                ),
                &baseline.shared_connection,
            ),
        ] {
            row(
                w,
                &format!("  {label}"),
                &[per_second(phase), pair(&phase.latency)],
                "",
            );
        }
        let _ = writeln!(
            w,
            "podnet creates/s over raw etcd puts/s (same number of clients, a connection each)"
        );
        row(
            w,
            "",
            &["1 client".to_string(), format!("{} clients", setup.clients)],
            "",
        );
        let mut ordered: Vec<&StoreFigures> = vec![store];
        ordered.extend(
            report
                .stores
                .iter()
                .filter(|other| other.store != store.store),
        );
        for figures in ordered {
            row(
                w,
                &format!("  {} store", figures.store.label()),
                &[
                    ratio(figures.sequential.rate(), baseline.sequential.rate()),
                    ratio(figures.concurrent.rate(), baseline.concurrent.rate()),
                ],
                "",
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(p50_ms: u64, p99_ms: u64, max_ms: u64) -> Summary {
        Summary {
            count: 100,
            p50: Duration::from_millis(p50_ms),
            p99: Duration::from_millis(p99_ms),
            max: Duration::from_millis(max_ms),
        }
    }

    fn phase(clients: usize, operations: usize, seconds: u64) -> Phase {
        Phase {
            clients,
            operations,
            elapsed: Duration::from_secs(seconds),
            latency: summary(1, 3, 5),
        }
    }

    fn store(
        kind: StoreKind,
        concurrent_seconds: u64,
        watch_p99_ms: u64,
        deliveries: usize,
    ) -> StoreFigures {
        StoreFigures {
            store: kind,
            sequential: phase(1, 1000, 1),
            concurrent: phase(16, 9000, concurrent_seconds),
            lists: ListFigures {
                whole: summary(120, 140, 140),
                first_byte: summary(40, 50, 50),
                raw: summary(60, 70, 70),
                raw_bytes: 25_000_000,
                paged: summary(200, 220, 220),
                pages: 20,
            },
            watch: WatchFigures {
                watchers: 100,
                writes: 200,
                interval: Duration::from_millis(10),
                latency: Some(summary(2, watch_p99_ms, watch_p99_ms + 5)),
                deliveries,
                expected: 20000,
                duplicates: 0,
                broken_streams: Vec::new(),
                write_latency: summary(2, 4, 6),
            },
            stored_pod_bytes: (kind == StoreKind::Etcd).then_some(2500),
            baseline: (kind == StoreKind::Etcd).then_some(Baseline {
                value_bytes: 2500,
                sequential: phase(1, 1000, 1),
                concurrent: phase(16, 9000, 1),
                shared_connection: phase(16, 9000, 2),
            }),
        }
    }

    fn report(stores: Vec<StoreFigures>) -> String {
        render(&Report {
            machine: Machine {
                cores: 2,
                cpu: "Example CPU".into(),
                load_at_start: "0.50".into(),
                load_at_end: "1.50".into(),
            },
            setup: Setup {
                pods: 10000,
                sequential: 1000,
                clients: 16,
                namespaces: 4,
                pod_sent_bytes: 1500,
                list_repeats: 5,
            },
            stores,
        })
    }

    #[test]
    fn goals_are_judged_per_store() {
        // embedded: 9000 creates in 2 s = 4500/s; etcd: 9000 in 9 s = 1000/s.
        let text = report(vec![
            store(StoreKind::Embedded, 2, 10, 20000),
            store(StoreKind::Etcd, 9, 30, 20000),
        ]);
        assert!(
            text.contains("embedded creates/s with 16 clients >= 3000: 4500/s   met"),
            "{text}"
        );
        assert!(
            text.contains("embedded 10.00 ms   met; etcd 30.00 ms   NOT met"),
            "{text}"
        );
        assert!(
            text.contains("received) <= 150 ms: embedded 60.00 ms   met; etcd 60.00 ms   met"),
            "{text}"
        );
        assert!(
            text.contains("client cost included): embedded 120.00 ms; etcd 120.00 ms"),
            "{text}"
        );
        assert!(text.contains("machine: 2 cores (Example CPU)"), "{text}");
    }

    #[test]
    fn missing_deliveries_fail_the_watch_goal_and_are_named() {
        let text = report(vec![store(StoreKind::Embedded, 2, 10, 19990)]);
        assert!(
            text.contains("embedded: NOT every event was delivered: 19990 of 20000"),
            "{text}"
        );
        assert!(text.contains("embedded 10.00 ms   NOT met"), "{text}");
    }

    #[test]
    fn creates_are_given_as_ratios_of_the_raw_etcd_put_rate() {
        // raw: 1000/s with 1 client, 9000/s with 16; etcd store: 1000/s and 1000/s.
        let text = report(vec![
            store(StoreKind::Embedded, 2, 10, 20000),
            store(StoreKind::Etcd, 9, 30, 20000),
        ]);
        assert!(text.contains("plain puts of 2500 B values"), "{text}");
        let etcd_row = text
            .lines()
            .find(|line| line.starts_with("  etcd store"))
            .expect("etcd ratio row");
        assert!(
            etcd_row.contains("1.00") && etcd_row.contains("0.11"),
            "{etcd_row}"
        );
        let embedded_row = text
            .lines()
            .find(|line| line.starts_with("  embedded store"))
            .expect("embedded ratio row");
        assert!(embedded_row.contains("0.50"), "{embedded_row}");
    }

    #[test]
    fn without_etcd_there_is_no_baseline_section() {
        let text = report(vec![store(StoreKind::Embedded, 2, 10, 20000)]);
        assert!(!text.contains("baseline"), "{text}");
        assert!(text.contains("creates/s, 16 clients"), "{text}");
    }
}

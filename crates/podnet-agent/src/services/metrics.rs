//! The service proxy's Prometheus metrics.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use podnet_proxy::{ProgramStats, SyncReport};

/// The proxy's metrics and the registry that renders them.
pub struct ProxyMetrics {
    registry: Registry,
    sync_duration: Histogram,
    full_sync_duration: Histogram,
    syncs: Counter,
    sync_errors: Counter,
    last_sync_commands: Gauge,
    services: Gauge,
    service_ports: Gauge,
    endpoints: Gauge,
    chains: Gauge,
    elements: Gauge,
}

impl std::fmt::Debug for ProxyMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyMetrics").finish_non_exhaustive()
    }
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        ProxyMetrics::new()
    }
}

impl ProxyMetrics {
    pub fn new() -> ProxyMetrics {
        // 0.5 ms to about 16 s: single changes land in the first buckets,
        // full syncs of large clusters in the last.
        let buckets = || exponential_buckets(0.0005, 2.0, 16);
        let mut metrics = ProxyMetrics {
            registry: Registry::with_prefix("podnet_proxy"),
            sync_duration: Histogram::new(buckets()),
            full_sync_duration: Histogram::new(buckets()),
            syncs: Counter::default(),
            sync_errors: Counter::default(),
            last_sync_commands: Gauge::default(),
            services: Gauge::default(),
            service_ports: Gauge::default(),
            endpoints: Gauge::default(),
            chains: Gauge::default(),
            elements: Gauge::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            "sync_duration_seconds",
            "Time from the start of a sync to its transaction applied",
            metrics.sync_duration.clone(),
        );
        registry.register(
            "full_sync_duration_seconds",
            "Time of syncs that replaced the whole table",
            metrics.full_sync_duration.clone(),
        );
        registry.register("syncs", "Syncs applied", metrics.syncs.clone());
        registry.register(
            "sync_errors",
            "Syncs that failed and were retried",
            metrics.sync_errors.clone(),
        );
        for (name, help, gauge) in [
            (
                "last_sync_commands",
                "nft commands in the last applied transaction",
                &metrics.last_sync_commands,
            ),
            ("services", "Services proxied", &metrics.services),
            (
                "service_ports",
                "Service ports proxied",
                &metrics.service_ports,
            ),
            ("endpoints", "Endpoints in the rules", &metrics.endpoints),
            ("rule_chains", "Chains in the proxy table", &metrics.chains),
            (
                "rule_elements",
                "Set and map elements in the proxy table",
                &metrics.elements,
            ),
        ] {
            registry.register(name, help, gauge.clone());
        }
        metrics
    }

    pub fn synced(&self, report: &SyncReport, stats: &ProgramStats) {
        let seconds = report.duration.as_secs_f64();
        self.sync_duration.observe(seconds);
        if report.full {
            self.full_sync_duration.observe(seconds);
        }
        self.syncs.inc();
        self.last_sync_commands.set(gauge(report.commands));
        self.services.set(gauge(stats.services));
        self.service_ports.set(gauge(stats.service_ports));
        self.endpoints.set(gauge(stats.endpoints));
        self.chains.set(gauge(stats.chains));
        self.elements.set(gauge(stats.elements));
    }

    pub fn failed(&self) {
        self.sync_errors.inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

fn gauge(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_sync_shows_in_the_exposition() {
        let metrics = ProxyMetrics::new();
        let report = SyncReport {
            duration: Duration::from_millis(3),
            full: true,
            commands: 7,
            stale_udp: Vec::new(),
        };
        let stats = ProgramStats {
            services: 2,
            service_ports: 3,
            endpoints: 5,
            chains: 11,
            elements: 13,
            skipped_ipv6: 0,
        };
        metrics.synced(&report, &stats);
        metrics.failed();
        let text = metrics.render();
        assert!(text.contains("podnet_proxy_syncs_total 1"), "{text}");
        assert!(text.contains("podnet_proxy_sync_errors_total 1"), "{text}");
        assert!(text.contains("podnet_proxy_services 2"), "{text}");
        assert!(text.contains("podnet_proxy_rule_chains 11"), "{text}");
        assert!(
            text.contains("podnet_proxy_full_sync_duration_seconds_count 1"),
            "{text}"
        );
    }
}

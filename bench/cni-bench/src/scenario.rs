//! The two measurements: alternating ADD+DEL cycles of both plugins, and ADD latency
//! as the number of pods already attached grows.

use crate::error::BenchError;
use crate::plugin::Plugin;
use crate::pods::Pods;
use std::time::Duration;

/// Latencies of one plugin's counted cycles.
#[derive(Default)]
pub struct Samples {
    pub add: Vec<Duration>,
    pub del: Vec<Duration>,
}

/// `warmup + cycles` ADD+DEL cycles of every plugin in turn (first, second, first,
/// second, ...), so that drift in the machine's state affects both alike. The warm-up
/// cycles are not counted.
pub fn alternating_cycles(
    plugins: &[Plugin],
    warmup: usize,
    cycles: usize,
) -> Result<Vec<Samples>, BenchError> {
    let mut pods: Vec<Pods> = plugins.iter().map(Pods::new).collect();
    let mut samples: Vec<Samples> = plugins.iter().map(|_| Samples::default()).collect();
    for round in 0..warmup + cycles {
        for (plugin_pods, plugin_samples) in pods.iter_mut().zip(samples.iter_mut()) {
            let times = plugin_pods.cycle()?;
            if round >= warmup {
                plugin_samples.add.push(times.add);
                plugin_samples.del.push(times.del);
            }
        }
        let counted = (round + 1).saturating_sub(warmup);
        if counted > 0 && (counted % 50 == 0 || counted == cycles) {
            eprintln!("  {counted}/{cycles} cycles");
        }
    }
    Ok(samples)
}

/// Latencies at one level of already attached pods.
pub struct Level {
    pub attached: usize,
    pub samples: Samples,
}

/// For each level (ascending), attaches pods until that many are attached, lets the
/// node settle for `settle`, then measures `cycles` ADD+DEL cycles of one further pod.
/// Every pod is DELeted at the end.
///
/// The settle time matters: pods that were just attached send their IPv6 duplicate
/// address detection, MLD and router solicitations over the bridge for a few seconds,
/// and at hundreds of pods that flood would be measured instead of the plugin. Both
/// plugins and every level get the same pause, so the levels compare steady states.
pub fn attached_scaling(
    plugin: &Plugin,
    levels: &[usize],
    cycles: usize,
    settle: std::time::Duration,
) -> Result<Vec<Level>, BenchError> {
    let mut pods = Pods::new(plugin);
    let mut measured = Vec::with_capacity(levels.len());
    for &level in levels {
        while pods.attached_count() < level {
            pods.attach()?;
        }
        std::thread::sleep(settle);
        let mut samples = Samples::default();
        for _ in 0..cycles {
            let times = pods.cycle()?;
            samples.add.push(times.add);
            samples.del.push(times.del);
        }
        eprintln!("  {}: {} attached measured", plugin.label, level);
        measured.push(Level {
            attached: level,
            samples,
        });
    }
    pods.detach_all()?;
    Ok(measured)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netns::{self, NamedNetns};
    use serde_json::json;
    use std::io::Write;
    use std::path::Path;

    const REFERENCE_DIR: &str = "/usr/lib/cni";

    fn skip(reason: &str) {
        // Around the harness's capture, so that a skip shows in a normal run.
        let _ = writeln!(std::io::stderr(), "scenario test skipped: {reason}");
    }

    /// Two reference bridge networks: the measurement loops do not care which plugin
    /// they time, and the reference is always installed where this test runs.
    fn reference_pair(data_dir: &Path) -> Vec<Plugin> {
        (0..2)
            .map(|i| Plugin {
                label: format!("t-{i}"),
                binary: Path::new(REFERENCE_DIR).join("bridge"),
                config: json!({
                    "cniVersion": "1.0.0",
                    "name": format!("pcb-test-{i}"),
                    "type": "bridge",
                    "bridge": format!("pcb-t{i}"),
                    "isGateway": true,
                    "ipMasq": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{ "subnet": format!("10.79.{i}.0/24") }]],
                        "dataDir": data_dir.join(format!("t{i}")).display().to_string(),
                    },
                }),
                cni_path: REFERENCE_DIR.to_string(),
            })
            .collect()
    }

    fn pod_namespaces_left() -> Vec<String> {
        let prefix = format!("pcb-{}-t-", std::process::id());
        std::fs::read_dir("/run/netns")
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok())
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .filter(|name| name.starts_with(&prefix))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// host-local keeps one file per allocated address, named by the address.
    fn allocations_left(data_dir: &Path) -> Vec<String> {
        let mut left = Vec::new();
        let mut pending = vec![data_dir.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir)
                .expect("reading the data dir")
                .flatten()
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_dir() {
                    pending.push(entry.path());
                } else if name.parse::<std::net::IpAddr>().is_ok() {
                    left.push(name);
                }
            }
        }
        left
    }

    #[test]
    fn cycles_count_only_after_warmup_and_every_pod_namespace_is_removed() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return skip("needs root");
        }
        if !Path::new(REFERENCE_DIR).join("bridge").is_file() {
            return skip("reference plugins not installed (containernetworking-plugins)");
        }
        let data_dir = tempfile::tempdir().expect("data dir");
        let node = NamedNetns::create(format!("pcb-{}-tnode", std::process::id()))
            .expect("node namespace");
        netns::run_ip(&["-n", node.name(), "link", "set", "lo", "up"]).expect("lo up");
        let inside = netns::enter(&node).expect("entering the node");
        let plugins = reference_pair(data_dir.path());

        let samples = alternating_cycles(&plugins, 1, 2).expect("cycles");
        assert_eq!(samples.len(), 2);
        for plugin_samples in &samples {
            assert_eq!(plugin_samples.add.len(), 2);
            assert_eq!(plugin_samples.del.len(), 2);
            assert!(plugin_samples.add.iter().all(|d| !d.is_zero()));
        }

        let levels =
            attached_scaling(&plugins[0], &[1, 3], 2, std::time::Duration::ZERO).expect("scaling");
        let attached: Vec<usize> = levels.iter().map(|level| level.attached).collect();
        assert_eq!(attached, [1, 3]);
        assert!(levels.iter().all(|level| level.samples.add.len() == 2));

        drop(inside);
        assert_eq!(pod_namespaces_left(), Vec::<String>::new());
        assert_eq!(allocations_left(data_dir.path()), Vec::<String>::new());
    }
}

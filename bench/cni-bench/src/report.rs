//! The printed result: latency tables, the ratios and the goals they are held to.

use crate::stats::{ratio, Summary};
use std::fmt::Write;
use std::time::Duration;

/// podnet's ADD median over the reference's must not exceed this.
pub const SPEED_GOAL: f64 = 0.33;
/// podnet's ADD median with many pods attached over that with one must not exceed this.
pub const SCALING_GOAL: f64 = 1.2;

/// Latencies of one plugin in the alternating cycles.
pub struct CycleRow {
    pub label: String,
    pub add: Summary,
    pub del: Summary,
}

/// Latencies of one plugin at one level of attached pods.
pub struct LevelRow {
    pub label: String,
    pub attached: usize,
    pub add: Summary,
    pub del: Summary,
}

pub struct Report {
    pub podnet_binary: String,
    pub reference_dir: String,
    pub reference_description: String,
    pub warmup: usize,
    pub cycles: usize,
    pub level_cycles: usize,
    /// The plugin under test first, then the reference.
    pub cycle_rows: Vec<CycleRow>,
    /// Per plugin, levels ascending.
    pub level_rows: Vec<LevelRow>,
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn verdict(value: f64, goal: f64) -> &'static str {
    if value <= goal {
        "met"
    } else {
        "NOT met"
    }
}

fn ratio_text(value: Option<f64>) -> String {
    value.map_or_else(
        || "n/a (zero denominator)".to_string(),
        |v| format!("{v:.2}"),
    )
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "cni-bench: podnet-cni against the reference CNI plugins");
    let _ = writeln!(w, "  podnet:    podnet-cni ({})", report.podnet_binary);
    let _ = writeln!(
        w,
        "  reference: {} ({})",
        report.reference_description, report.reference_dir
    );
    let _ = writeln!(
        w,
        "  both: cniVersion 1.0.0, isGateway, ipMasq; each plugin process timed from spawn to exit"
    );
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "ADD+DEL cycles, alternating between the plugins: {} counted per plugin after {} warm-up cycles",
        report.cycles, report.warmup
    );
    let _ = writeln!(
        w,
        "{:<12} {:<4} {:>11} {:>11}",
        "plugin", "op", "median", "p90"
    );
    for row in &report.cycle_rows {
        for (op, summary) in [("ADD", &row.add), ("DEL", &row.del)] {
            let _ = writeln!(
                w,
                "{:<12} {:<4} {:>11} {:>11}",
                row.label,
                op,
                ms(summary.median),
                ms(summary.p90)
            );
        }
    }
    if let [podnet, reference, ..] = report.cycle_rows.as_slice() {
        let speed = ratio(podnet.add.median, reference.add.median);
        let _ = writeln!(
            w,
            "ADD median {} / {} = {}   goal <= {SPEED_GOAL}   {}",
            podnet.label,
            reference.label,
            ratio_text(speed),
            speed.map_or("n/a", |v| verdict(v, SPEED_GOAL)),
        );
    }
    let _ = writeln!(w);

    let _ = writeln!(
        w,
        "By pods already attached: {} ADD+DEL cycles of one more pod per level,",
        report.level_cycles
    );
    let _ = writeln!(
        w,
        "measured after the node settles (same pause for both plugins and every level)"
    );
    let _ = writeln!(
        w,
        "{:<12} {:>8} {:>11} {:>11} {:>11} {:>11}",
        "plugin", "attached", "ADD median", "ADD p90", "DEL median", "DEL p90"
    );
    for row in &report.level_rows {
        let _ = writeln!(
            w,
            "{:<12} {:>8} {:>11} {:>11} {:>11} {:>11}",
            row.label,
            row.attached,
            ms(row.add.median),
            ms(row.add.p90),
            ms(row.del.median),
            ms(row.del.p90)
        );
    }
    let first_label = report.cycle_rows.first().map(|row| row.label.as_str());
    let mut labels: Vec<&str> = Vec::new();
    for row in &report.level_rows {
        if !labels.contains(&row.label.as_str()) {
            labels.push(&row.label);
        }
    }
    for label in labels {
        let rows: Vec<&LevelRow> = report
            .level_rows
            .iter()
            .filter(|row| row.label == label)
            .collect();
        let (Some(fewest), Some(most)) = (rows.first(), rows.last()) else {
            continue;
        };
        if fewest.attached == most.attached {
            continue;
        }
        let scaling = ratio(most.add.median, fewest.add.median);
        let judged = if Some(label) == first_label {
            format!(
                "goal <= {SCALING_GOAL}   {}",
                scaling.map_or("n/a", |v| verdict(v, SCALING_GOAL))
            )
        } else {
            "(baseline, no goal)".to_string()
        };
        let _ = writeln!(
            w,
            "ADD median {} attached / {} attached: {:<10} = {}   {judged}",
            most.attached,
            fewest.attached,
            label,
            ratio_text(scaling),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(median_ms: u64, p90_ms: u64) -> Summary {
        Summary {
            count: 10,
            median: Duration::from_millis(median_ms),
            p90: Duration::from_millis(p90_ms),
        }
    }

    fn sample_report(podnet_add_at_250: u64) -> Report {
        let level = |label: &str, attached, add| LevelRow {
            label: label.to_string(),
            attached,
            add: summary(add, add + 1),
            del: summary(2, 3),
        };
        Report {
            podnet_binary: "podnet-cni".into(),
            reference_dir: "/usr/lib/cni".into(),
            reference_description: "containernetworking-plugins bridge + host-local, ipMasq on"
                .into(),
            warmup: 5,
            cycles: 200,
            level_cycles: 30,
            cycle_rows: vec![
                CycleRow {
                    label: "podnet-cni".into(),
                    add: summary(3, 4),
                    del: summary(2, 3),
                },
                CycleRow {
                    label: "reference".into(),
                    add: summary(30, 40),
                    del: summary(20, 25),
                },
            ],
            level_rows: vec![
                level("podnet-cni", 1, 10),
                level("podnet-cni", 250, podnet_add_at_250),
                level("reference", 1, 30),
                level("reference", 250, 60),
            ],
        }
    }

    #[test]
    fn the_report_names_the_baseline_and_states_both_goals() {
        let text = render(&sample_report(11));
        assert!(text.contains("containernetworking-plugins bridge + host-local, ipMasq on"));
        assert!(text.contains("ADD median podnet-cni / reference = 0.10   goal <= 0.33   met"));
        assert!(
            text.contains("podnet-cni = 1.10   goal <= 1.2   met"),
            "{text}"
        );
        assert!(
            text.contains("reference  = 2.00   (baseline, no goal)"),
            "{text}"
        );
    }

    #[test]
    fn a_missed_goal_says_so() {
        let text = render(&sample_report(20));
        assert!(
            text.contains("podnet-cni = 2.00   goal <= 1.2   NOT met"),
            "{text}"
        );
    }

    #[test]
    fn every_plugin_and_operation_has_a_row_with_median_and_p90() {
        let text = render(&sample_report(11));
        assert!(
            text.contains("podnet-cni   ADD      3.00 ms     4.00 ms"),
            "{text}"
        );
        assert!(
            text.contains("reference    DEL     20.00 ms    25.00 ms"),
            "{text}"
        );
        assert!(
            text.contains("reference         250    60.00 ms    61.00 ms"),
            "{text}"
        );
    }
}

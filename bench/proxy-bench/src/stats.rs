//! Summaries of latency samples.

use std::time::Duration;

/// Percentiles and mean of a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub mean: Duration,
    pub max: Duration,
}

/// Nearest-rank percentile of sorted samples (the smallest sample at or above `pct`
/// percent of them).
fn nearest_rank(sorted: &[Duration], pct: usize) -> Duration {
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// `None` for no samples.
pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let total: Duration = sorted.iter().sum();
    Some(Summary {
        count: sorted.len(),
        p50: nearest_rank(&sorted, 50),
        p99: nearest_rank(&sorted, 99),
        mean: total / sorted.len() as u32,
        max: sorted[sorted.len() - 1],
    })
}

/// `numerator / denominator`; `None` when the denominator is zero.
pub fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_micros(*v)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank_whatever_the_order() {
        let samples: Vec<u64> = (1..=100).rev().collect();
        let summary = summarize(&us(&samples)).expect("samples");
        assert_eq!(summary.p50, Duration::from_micros(50));
        assert_eq!(summary.p99, Duration::from_micros(99));
        assert_eq!(summary.max, Duration::from_micros(100));
        assert_eq!(summary.mean, Duration::from_nanos(50_500));
        assert_eq!(summary.count, 100);
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let summary = summarize(&us(&[7])).expect("samples");
        assert_eq!(
            (summary.p50, summary.p99),
            (Duration::from_micros(7), Duration::from_micros(7))
        );
    }

    #[test]
    fn no_samples_give_no_summary_and_zero_gives_no_ratio() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(1.0, 4.0), Some(0.25));
    }
}

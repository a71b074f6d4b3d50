//! Latency summaries and rates.

use std::time::Duration;

/// Nearest-rank percentiles of a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// `None` for no samples. Percentile p is the smallest sample at or above p% of
/// them (nearest rank), so the p50 of 5 samples is the third smallest.
pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let rank = |percent: usize| (n * percent).div_ceil(100).max(1) - 1;
    Some(Summary {
        count: n,
        p50: sorted[rank(50)],
        p99: sorted[rank(99)],
        max: sorted[n - 1],
    })
}

/// Operations per second; `None` when no time passed.
pub fn rate(operations: usize, elapsed: Duration) -> Option<f64> {
    let seconds = elapsed.as_secs_f64();
    (seconds > 0.0).then(|| operations as f64 / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn the_median_of_five_is_the_third_smallest_whatever_the_order() {
        let summary = summarize(&ms([50, 10, 40, 20, 30])).expect("samples");
        assert_eq!(summary.p50, Duration::from_millis(30));
        assert_eq!(summary.max, Duration::from_millis(50));
        assert_eq!(summary.count, 5);
    }

    #[test]
    fn p99_is_the_nearest_rank_sample() {
        let summary = summarize(&ms(1..=1000)).expect("samples");
        assert_eq!(summary.p50, Duration::from_millis(500));
        assert_eq!(summary.p99, Duration::from_millis(990));
        assert_eq!(summary.max, Duration::from_millis(1000));
        let single = summarize(&ms([7])).expect("samples");
        assert_eq!(
            (single.p50, single.p99, single.max),
            (
                Duration::from_millis(7),
                Duration::from_millis(7),
                Duration::from_millis(7)
            )
        );
    }

    #[test]
    fn no_samples_give_no_summary() {
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn rate_refuses_zero_time() {
        assert_eq!(rate(10, Duration::ZERO), None);
        let r = rate(3000, Duration::from_millis(1500)).expect("rate");
        assert!((r - 2000.0).abs() < 1e-9);
    }
}

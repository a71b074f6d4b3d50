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

/// Median of a set of ratios with a distribution-free 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub count: usize,
    pub median: f64,
    /// The interval's ends: order statistics around the median (binomial, normal
    /// approximation); the whole range for a handful of values.
    pub low: f64,
    pub high: f64,
}

/// `None` for no values. An even count's median is the mean of the middle two.
pub fn spread(values: &[f64]) -> Option<Spread> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let n = sorted.len();
    let middle = n / 2;
    let median = if n % 2 == 0 {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    } else {
        sorted[middle]
    };
    // Ranks k and n-1-k (0-based) bound the median with about 95% confidence when
    // k = floor((n - 1.96 sqrt n) / 2).
    let k = ((n as f64 - 1.96 * (n as f64).sqrt()) / 2.0)
        .floor()
        .max(0.0) as usize;
    Some(Spread {
        count: n,
        median,
        low: sorted[k],
        high: sorted[n - 1 - k],
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
    fn spread_takes_the_middle_whatever_the_order() {
        let odd = spread(&[1.2, 0.8, 1.0]).expect("values");
        assert_eq!((odd.median, odd.low, odd.high), (1.0, 0.8, 1.2));
        let even = spread(&[1.0, 0.5, 2.0, 1.5]).expect("values");
        assert_eq!((even.median, even.low, even.high), (1.25, 0.5, 2.0));
        assert_eq!(spread(&[]), None);
    }

    #[test]
    fn the_interval_narrows_to_order_statistics_around_the_median() {
        // 100 values 0.01..=1.00: k = floor((100 - 19.6) / 2) = 40.
        let values: Vec<f64> = (1..=100).rev().map(|v| f64::from(v) / 100.0).collect();
        let s = spread(&values).expect("values");
        assert_eq!(s.count, 100);
        assert!((s.median - 0.505).abs() < 1e-9);
        assert!((s.low - 0.41).abs() < 1e-9 && (s.high - 0.60).abs() < 1e-9);
    }

    #[test]
    fn no_samples_give_no_summary_and_zero_gives_no_ratio() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(1.0, 4.0), Some(0.25));
    }
}

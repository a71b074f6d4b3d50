//! Latency summaries.

use std::time::Duration;

/// Median and 90th percentile of a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub median: Duration,
    pub p90: Duration,
}

/// `None` for no samples. The median of an even count is the mean of the middle two;
/// p90 is the nearest-rank percentile (the smallest sample at or above 90% of them).
pub fn summarize(samples: &[Duration]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    };
    let rank = (n * 9).div_ceil(10);
    Some(Summary {
        count: n,
        median,
        p90: sorted[rank - 1],
    })
}

/// `numerator / denominator` of two medians; `None` when the denominator is zero.
pub fn ratio(numerator: Duration, denominator: Duration) -> Option<f64> {
    let denominator = denominator.as_secs_f64();
    (denominator > 0.0).then(|| numerator.as_secs_f64() / denominator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn median_of_an_odd_count_is_the_middle_sample_whatever_the_order() {
        let summary = summarize(&ms(&[9, 1, 5])).expect("samples");
        assert_eq!(summary.median, Duration::from_millis(5));
        assert_eq!(summary.count, 3);
    }

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let summary = summarize(&ms(&[1, 2, 4, 100])).expect("samples");
        assert_eq!(summary.median, Duration::from_millis(3));
    }

    #[test]
    fn p90_is_the_nearest_rank_sample() {
        let samples = ms(&(1..=10).collect::<Vec<_>>());
        assert_eq!(
            summarize(&samples).expect("samples").p90,
            Duration::from_millis(9)
        );
        let samples = ms(&(1..=200).collect::<Vec<_>>());
        assert_eq!(
            summarize(&samples).expect("samples").p90,
            Duration::from_millis(180)
        );
        assert_eq!(
            summarize(&ms(&[7])).expect("samples").p90,
            Duration::from_millis(7)
        );
    }

    #[test]
    fn no_samples_give_no_summary() {
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn ratio_refuses_a_zero_denominator() {
        assert_eq!(ratio(Duration::from_millis(1), Duration::ZERO), None);
        let r = ratio(Duration::from_millis(1), Duration::from_millis(4)).expect("ratio");
        assert!((r - 0.25).abs() < 1e-12);
    }
}

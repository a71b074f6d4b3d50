//! Resource quantities (`500m`, `1Gi`, `1e3`) reduced to a number, enough to
//! compare requests with limits and spot negative values.

/// The value of a Kubernetes quantity, or `None` when it does not parse
/// (decoding already rejected those, so callers skip such values).
pub(crate) fn value(quantity: &str) -> Option<f64> {
    let s = quantity.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    if number.is_empty() || number == "+" || number == "-" {
        return None;
    }
    let number: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => {
            let digits = exponent
                .strip_prefix('e')
                .or_else(|| exponent.strip_prefix('E'))?;
            let power: i32 = digits.parse().ok()?;
            10f64.powi(power)
        }
    };
    Some(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        assert_eq!(value("500m"), Some(0.5));
        assert_eq!(value("2Gi"), Some(2.0 * 1024f64.powi(3)));
        assert_eq!(value("1e3"), Some(1000.0));
        assert_eq!(value("-1"), Some(-1.0));
        assert_eq!(value("1.5k"), Some(1500.0));
        assert_eq!(value("abc"), None);
        assert_eq!(value("1Xi"), None);
    }
}

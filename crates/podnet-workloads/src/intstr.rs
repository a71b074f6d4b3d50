//! `IntOrString` values such as maxSurge and maxUnavailable: an absolute
//! number or a percentage of a total.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::error::PlanError;

/// The absolute value of `value` against `total`: an integer as it is, a
/// percentage of `total` rounded up or down. Kubernetes rounds maxSurge up
/// and maxUnavailable down, so 25% of 3 replicas is a surge of 1 and no
/// unavailable pod.
pub fn scaled_value(
    field: &'static str,
    value: &IntOrString,
    total: i32,
    round_up: bool,
) -> Result<i32, PlanError> {
    let text = match value {
        IntOrString::Int(n) => return Ok(*n),
        IntOrString::String(text) => text,
    };
    let invalid = || PlanError::InvalidIntOrPercent {
        field,
        value: text.clone(),
    };
    let percent: i64 = text
        .strip_suffix('%')
        .ok_or_else(invalid)?
        .parse()
        .map_err(|_| invalid())?;
    let product = percent * i64::from(total);
    let scaled = if round_up {
        product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0)
    } else {
        product.div_euclid(100)
    };
    i32::try_from(scaled).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent(s: &str) -> IntOrString {
        IntOrString::String(s.to_string())
    }

    #[test]
    fn integers_are_taken_as_they_are() {
        assert_eq!(
            scaled_value("f", &IntOrString::Int(3), 10, true).unwrap(),
            3
        );
        assert_eq!(
            scaled_value("f", &IntOrString::Int(0), 10, false).unwrap(),
            0
        );
    }

    #[test]
    fn percentages_round_up_or_down() {
        assert_eq!(scaled_value("f", &percent("25%"), 3, true).unwrap(), 1);
        assert_eq!(scaled_value("f", &percent("25%"), 3, false).unwrap(), 0);
        assert_eq!(scaled_value("f", &percent("25%"), 4, true).unwrap(), 1);
        assert_eq!(scaled_value("f", &percent("25%"), 4, false).unwrap(), 1);
        assert_eq!(scaled_value("f", &percent("30%"), 10, true).unwrap(), 3);
        assert_eq!(scaled_value("f", &percent("35%"), 10, true).unwrap(), 4);
        assert_eq!(scaled_value("f", &percent("35%"), 10, false).unwrap(), 3);
        assert_eq!(scaled_value("f", &percent("100%"), 7, false).unwrap(), 7);
        assert_eq!(scaled_value("f", &percent("0%"), 7, true).unwrap(), 0);
        assert_eq!(scaled_value("f", &percent("50%"), 0, true).unwrap(), 0);
    }

    #[test]
    fn strings_that_are_not_percentages_are_errors() {
        for bad in ["25", "abc%", "%", ""] {
            let error = scaled_value(
                "spec.strategy.rollingUpdate.maxSurge",
                &percent(bad),
                4,
                true,
            )
            .unwrap_err();
            assert!(error.to_string().contains("maxSurge"), "{bad}: {error}");
        }
    }
}

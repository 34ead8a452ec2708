//! Interval estimates and percentiles.

/// Two-sided 95 % normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// Wilson score interval for `k` successes in `n` trials, 95 %.
/// Unlike the normal approximation it stays inside [0, 1] and is sensible
/// for 0 of n (its upper bound is then about 3.8/n for large n).
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    // At 0 or n successes the bound is exactly 0 or 1; compute it so rather
    // than leave rounding noise.
    let lo = if k == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let hi = if p == 1.0 {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (lo, hi)
}

/// Two-sided 97.5 % quantile of Student's t with `df` degrees of freedom.
pub fn t975(df: u64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[(df - 1) as usize],
        // Beyond 30, t approaches the normal; this expansion is within 0.001.
        _ => Z95 + (Z95.powi(3) + Z95) / (4.0 * df as f64),
    }
}

/// Mean and its 95 % Student-t interval.
pub fn mean_ci(values: &[f64]) -> (f64, f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, f64::NAN, f64::NAN);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = t975((n - 1) as u64) * (var / n as f64).sqrt();
    (mean, mean - half, mean + half)
}

/// The `p`-quantile (0..=1) of sorted values, linear interpolation between
/// order statistics (R's type 7, numpy's default).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from R: `prop.test(k, n, correct = FALSE)$conf.int`.
    #[test]
    fn wilson_matches_reference() {
        let (lo, hi) = wilson(20, 100);
        assert!(
            (lo - 0.1333).abs() < 1e-4 && (hi - 0.2888).abs() < 1e-4,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 200);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.01884).abs() < 1e-4, "{hi}");
    }

    #[test]
    fn mean_interval_and_quantiles() {
        let (m, lo, hi) = mean_ci(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        // s = 1.5811, se = 0.7071, t(4) = 2.776: half-width 1.963.
        assert_eq!(m, 3.0);
        assert!((hi - m - 1.963).abs() < 1e-3 && (m - lo - 1.963).abs() < 1e-3);
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert!((quantile(&v, 0.95) - 3.85).abs() < 1e-12);
    }
}

//! The statistics of the sequential decision: one-sided confidence bounds
//! for a rate (Wilson) and for a percentile (order statistics), and the
//! spending of the error rate over repeated looks.
//!
//! A candidate is judged after each batch of seeds (a *look*). Judging the
//! same candidate many times at a fixed level would let chance pass it
//! sooner or later, so look `j` (1-based) is judged at the one-sided level
//! `alpha / (j (j + 1))`. These levels sum to `alpha` over any number of
//! looks, so by the union bound the chance that a candidate whose true
//! value breaks the limit is ever passed is at most `alpha`, and so is the
//! chance that a candidate meeting it is ever failed.

/// The one-sided error level of look `look` (1-based) when the whole
/// sequence may err with probability `alpha`.
pub fn look_level(alpha: f64, look: u32) -> f64 {
    let j = f64::from(look.max(1));
    alpha / (j * (j + 1.0))
}

/// `z` with `P(Z > z) = alpha` for a standard normal `Z` (`0 < alpha < 1`).
///
/// Acklam's rational approximation of the normal quantile (relative error
/// below 1.2e-9), which is far below what the decision needs.
pub fn z_upper(alpha: f64) -> f64 {
    -normal_quantile(alpha)
}

fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const LOW: f64 = 0.024_25;
    if p < LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

/// The Wilson score bounds `(low, high)` for `k` events in `n` runs, each
/// a one-sided bound at the level whose normal quantile is `z`.
pub fn wilson_bounds(k: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let nf = n as f64;
    let p = k as f64 / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denom;
    let lo = if k == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let hi = if k == n {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (lo, hi)
}

/// `P(Bin(n, p) <= i)` for every `i` in `0..=n`.
fn binomial_cdf(n: usize, p: f64) -> Vec<f64> {
    if p <= 0.0 {
        return vec![1.0; n + 1];
    }
    if p >= 1.0 {
        let mut c = vec![0.0; n + 1];
        c[n] = 1.0;
        return c;
    }
    // Log-probabilities by the ratio of successive terms, then normalised,
    // so that nothing underflows for thousands of runs.
    let ratio = (p / (1.0 - p)).ln();
    let mut log_pmf = Vec::with_capacity(n + 1);
    let mut l = n as f64 * (1.0 - p).ln();
    for i in 0..=n {
        log_pmf.push(l);
        l += ((n - i) as f64 / (i + 1) as f64).ln() + ratio;
    }
    let max = log_pmf.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = log_pmf.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc.min(1.0)
        })
        .collect()
}

/// Distribution-free one-sided bounds on the `p`-quantile of a
/// distribution from `n` sorted samples, each holding with probability at
/// least `1 - alpha` whatever the distribution (ties and infinite values
/// included).
///
/// The upper bound is the order statistic `X(k)` with the smallest `k` such
/// that `P(Bin(n, p) <= k - 1) >= 1 - alpha`: the true quantile exceeds it
/// only if at least `k` samples fall below the quantile, which happens with
/// probability at most `alpha`. The lower bound is `X(k)` with the largest
/// `k` such that `P(Bin(n, p) <= k - 1) <= alpha`. Either is `None` when
/// `n` samples are too few to bound at that level.
pub fn quantile_bounds(sorted: &[f64], p: f64, alpha: f64) -> (Option<f64>, Option<f64>) {
    let n = sorted.len();
    if n == 0 {
        return (None, None);
    }
    let cdf = binomial_cdf(n, p);
    // cdf[k - 1] = P(Bin <= k - 1) for k in 1..=n.
    let upper = (1..=n).find(|&k| cdf[k - 1] >= 1.0 - alpha);
    let lower = (1..=n).rev().find(|&k| cdf[k - 1] <= alpha);
    (lower.map(|k| sorted[k - 1]), upper.map(|k| sorted[k - 1]))
}

/// The nearest-rank `p`-quantile of sorted samples (`X(ceil(n p))`), which
/// unlike interpolation is defined when some samples are infinite.
pub fn nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let k = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[k - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_match_tables() {
        assert!((z_upper(0.025) - 1.959_964).abs() < 1e-6);
        assert!((z_upper(0.05) - 1.644_854).abs() < 1e-6);
        assert!((z_upper(0.001) - 3.090_232).abs() < 1e-6);
        assert!((z_upper(0.975) + 1.959_964).abs() < 1e-6);
    }

    #[test]
    fn levels_sum_to_alpha() {
        let total: f64 = (1..10_000).map(|j| look_level(0.05, j)).sum();
        assert!(total < 0.05 && total > 0.0499, "{total}");
        // The first look is judged at 2.5 % one-sided: the usual 95 % Wilson.
        assert_eq!(look_level(0.05, 1), 0.025);
    }

    #[test]
    fn wilson_agrees_with_the_summary_interval() {
        let z = z_upper(0.025);
        let (lo, hi) = wilson_bounds(20, 100, z);
        let (elo, ehi) = crate::metrics::stats::wilson(20, 100);
        assert!((lo - elo).abs() < 1e-6 && (hi - ehi).abs() < 1e-6);
        // 0 of n: the upper bound is z^2 / (n + z^2).
        let (lo, hi) = wilson_bounds(0, 1000, 3.0);
        assert_eq!(lo, 0.0);
        assert!((hi - 9.0 / 1009.0).abs() < 1e-12);
    }

    #[test]
    fn order_statistic_bounds_by_hand() {
        // n = 10, median. P(Bin(10, .5) <= 7) = 0.9453, <= 8 = 0.9893:
        // at alpha 0.05 the upper bound is X(9) (cdf[8] >= .95). P(Bin <= 1)
        // = 0.0107 and <= 2 = 0.0547: the lower bound is X(2).
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let (lo, hi) = quantile_bounds(&v, 0.5, 0.05);
        assert_eq!(lo, Some(2.0));
        assert_eq!(hi, Some(9.0));
        // The 95th percentile from 20 samples: P(Bin(20, .95) <= 19) =
        // 1 - .95^20 = 0.6415 < .95, so there is no upper bound.
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(quantile_bounds(&v, 0.95, 0.05).1, None);
        // With 59 samples, 1 - .95^59 = 0.9515: the maximum bounds p95.
        let v: Vec<f64> = (1..=59).map(f64::from).collect();
        assert_eq!(quantile_bounds(&v, 0.95, 0.05).1, Some(59.0));
        assert_eq!(nearest_rank(&v, 0.95), Some(57.0));
    }
}

//! Random delays (launch, boot, pod start, a Job's work) and how they are
//! drawn.

use rand::Rng;

use crate::engine::Millis;

/// z-score of the 95th percentile of the standard normal distribution.
const Z95: f64 = 1.644_853_626_951_472_2;

/// A distribution of delays, drawn in whole milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Delay {
    /// Always the same.
    Fixed(Millis),
    /// Uniform between two bounds, inclusive.
    Uniform {
        /// Lower bound.
        min: Millis,
        /// Upper bound.
        max: Millis,
    },
    /// Exponential with this mean.
    Exponential {
        /// Mean.
        mean: Millis,
    },
    /// Log-normal, given by its median and 95th percentile, the two figures
    /// people usually know about launch times.
    LogNormal {
        /// Median.
        median: Millis,
        /// 95th percentile (must be at least the median).
        p95: Millis,
    },
    /// One of a list of observed samples, each equally likely (e.g. launch
    /// times measured in a real account). Never empty once validated.
    Empirical(Vec<Millis>),
}

impl Delay {
    /// Draws one delay.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> Millis {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Empirical(ref samples) => {
                if samples.is_empty() {
                    return Millis::ZERO;
                }
                samples[rng.random_range(0..samples.len())]
            }
            Delay::Uniform { min, max } => Millis(rng.random_range(min.0..=max.0)),
            Delay::Exponential { mean } => {
                // Inverse CDF; 1 - u is in (0, 1], so the log is finite.
                let u: f64 = rng.random();
                Millis((-(1.0 - u).ln() * mean.0 as f64).round() as u64)
            }
            Delay::LogNormal { median, p95 } => {
                let mu = (median.0.max(1) as f64).ln();
                let sigma = ((p95.0.max(1) as f64).ln() - mu).max(0.0) / Z95;
                let z = standard_normal(rng);
                Millis((mu + sigma * z).exp().round() as u64)
            }
        }
    }

    /// A short description for reports, e.g. `exponential(mean 10m)`.
    pub fn describe(&self) -> String {
        use super::format_duration as d;
        match self {
            Delay::Fixed(v) => d(*v),
            Delay::Uniform { min, max } => format!("uniform({}..{})", d(*min), d(*max)),
            Delay::Exponential { mean } => format!("exponential(mean {})", d(*mean)),
            Delay::LogNormal { median, p95 } => {
                format!("lognormal(median {}, p95 {})", d(*median), d(*p95))
            }
            Delay::Empirical(s) => format!("empirical({} samples)", s.len()),
        }
    }

    /// The mean of the distribution, for reports and validation.
    pub fn mean(&self) -> f64 {
        match *self {
            Delay::Fixed(d) => d.0 as f64,
            Delay::Empirical(ref samples) => {
                samples.iter().map(|d| d.0 as f64).sum::<f64>() / samples.len().max(1) as f64
            }
            Delay::Uniform { min, max } => (min.0 + max.0) as f64 / 2.0,
            Delay::Exponential { mean } => mean.0 as f64,
            Delay::LogNormal { median, p95 } => {
                let mu = (median.0.max(1) as f64).ln();
                let sigma = ((p95.0.max(1) as f64).ln() - mu).max(0.0) / Z95;
                (mu + sigma * sigma / 2.0).exp()
            }
        }
    }
}

/// Box-Muller; one normal per call keeps the stream position simple.
fn standard_normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RngStreams, Stream};

    fn draws(d: &Delay, n: usize) -> Vec<u64> {
        let mut rng = RngStreams::new(3).stream(Stream::LaunchDelays);
        let mut v: Vec<u64> = (0..n).map(|_| d.sample(&mut rng).0).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn lognormal_hits_its_median_and_p95() {
        let d = Delay::LogNormal {
            median: Millis(60_000),
            p95: Millis(120_000),
        };
        let v = draws(&d, 20_000);
        let median = v[10_000] as f64;
        let p95 = v[19_000] as f64;
        assert!((median / 60_000.0 - 1.0).abs() < 0.03, "median {median}");
        assert!((p95 / 120_000.0 - 1.0).abs() < 0.04, "p95 {p95}");
    }

    #[test]
    fn uniform_stays_in_bounds_and_exponential_has_its_mean() {
        let u = draws(
            &Delay::Uniform {
                min: Millis(30_000),
                max: Millis(90_000),
            },
            5_000,
        );
        assert!(u[0] >= 30_000 && u[4_999] <= 90_000);
        let e = draws(
            &Delay::Exponential {
                mean: Millis(10_000),
            },
            40_000,
        );
        let mean = e.iter().sum::<u64>() as f64 / e.len() as f64;
        // Standard error is 10 000 / sqrt(40 000) = 50 ms; allow 4 of them.
        assert!((mean - 10_000.0).abs() < 200.0, "mean {mean}");
    }

    #[test]
    fn empirical_draws_only_its_samples_each_about_equally() {
        let d = Delay::Empirical(vec![Millis(10), Millis(20), Millis(30)]);
        let v = draws(&d, 3_000);
        for s in [10, 20, 30] {
            let n = v.iter().filter(|&&x| x == s).count();
            // Binomial(3000, 1/3): mean 1000, sd 26; allow 5 sd.
            assert!((870..=1130).contains(&n), "{s}: {n}");
        }
        assert_eq!(v.len(), 3_000);
        assert!((d.mean() - 20.0).abs() < 1e-9);
    }
}

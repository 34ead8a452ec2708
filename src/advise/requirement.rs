//! Requirements (`deadlock_rate<=0.01`, `system_recovery_p95<=300s`): the
//! metrics a requirement may name, parsing, and judging a candidate's runs
//! against one at a given error level.

use crate::engine::Millis;
use crate::quantity::{format_duration, parse_duration};
use crate::scenario::overrides::nearest;

use super::AdviseError;
use super::bounds::{nearest_rank, quantile_bounds, wilson_bounds, z_upper};

/// What the advisor keeps of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunFacts {
    /// The run finished (a run that panicked counts against every
    /// requirement).
    pub ok: bool,
    /// It deadlocked.
    pub deadlocked: bool,
    /// From the fault until every system service was back, if ever.
    pub system_recovery: Option<Millis>,
    /// Time with a system service down after the fault.
    pub system_unavailable: Millis,
    /// Dollars billed, in micro-dollars (so that equal bills compare
    /// equal, whatever the order of a sum).
    pub cost_micro_usd: i64,
}

/// A metric a requirement can bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// The fraction of runs that deadlock (failed runs included).
    DeadlockRate,
    /// A percentile (0-100 exclusive) of the time to system recovery; a run
    /// that never recovers counts as infinitely long.
    RecoveryPercentile(f64),
    /// A percentile of the time with a system service down.
    UnavailablePercentile(f64),
}

/// The metric names `--require` knows, as shown in errors.
pub const METRICS: [&str; 3] = [
    "deadlock_rate",
    "system_recovery_pNN",
    "system_unavailable_pNN",
];

impl Metric {
    fn parse(name: &str) -> Option<Metric> {
        if name == "deadlock_rate" {
            return Some(Metric::DeadlockRate);
        }
        let pct = |rest: &str| -> Option<f64> {
            let v: f64 = rest.parse().ok()?;
            (v > 0.0 && v < 100.0 && rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
                .then_some(v)
        };
        if let Some(rest) = name.strip_prefix("system_recovery_p") {
            return pct(rest).map(Metric::RecoveryPercentile);
        }
        if let Some(rest) = name.strip_prefix("system_unavailable_p") {
            return pct(rest).map(Metric::UnavailablePercentile);
        }
        None
    }

    /// The metric's name as written in requirements and CSV columns.
    pub fn name(&self) -> String {
        match self {
            Metric::DeadlockRate => "deadlock_rate".into(),
            Metric::RecoveryPercentile(p) => format!("system_recovery_p{p}"),
            Metric::UnavailablePercentile(p) => format!("system_unavailable_p{p}"),
        }
    }

    /// Whether the metric is a time (reported in seconds).
    pub fn is_duration(&self) -> bool {
        !matches!(self, Metric::DeadlockRate)
    }
}

/// `metric <= limit`. Limits are rates (0..1, or a percentage) or seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// What is bounded.
    pub metric: Metric,
    /// The largest acceptable value (a rate, or seconds).
    pub limit: f64,
    /// As the user wrote it.
    pub text: String,
}

impl Requirement {
    /// Parses `METRIC<=LIMIT`.
    pub fn parse(arg: &str) -> Result<Requirement, AdviseError> {
        let bad = |message: String| AdviseError::BadRequirement {
            arg: arg.to_string(),
            message,
        };
        let Some((name, limit)) = arg.split_once("<=") else {
            return Err(bad(
                "expected METRIC<=LIMIT (e.g. deadlock_rate<=0.01 or system_recovery_p95<=300s); requirements are upper limits".into(),
            ));
        };
        let name = name.trim();
        let limit = limit.trim();
        let metric = Metric::parse(name).ok_or_else(|| {
            let near = nearest(
                name,
                [
                    "deadlock_rate",
                    "system_recovery_p95",
                    "system_unavailable_p95",
                ],
            );
            bad(format!(
                "unknown metric `{name}` (known: {}, with NN a percentile such as 95; nearest: {})",
                METRICS.join(", "),
                near.join(", ")
            ))
        })?;
        let limit = if metric.is_duration() {
            parse_duration(limit)
                .map_err(|m| bad(format!("the limit of {name}: {m}")))?
                .as_secs_f64()
        } else {
            let (number, scale) = match limit.strip_suffix('%') {
                Some(n) => (n.trim(), 0.01),
                None => (limit, 1.0),
            };
            let v: f64 = number.parse().map_err(|_| {
                bad(format!(
                    "the limit `{limit}` of {name} is not a number (e.g. 0.01 or 1%)"
                ))
            })?;
            let v = v * scale;
            if !(0.0..1.0).contains(&v) {
                return Err(bad(format!(
                    "the limit of {name} must be a rate in [0, 1) (e.g. 0.01 or 1%), not `{limit}`"
                )));
            }
            v
        };
        Ok(Requirement {
            metric,
            limit,
            text: arg.to_string(),
        })
    }

    /// The limit as written back: a rate or a duration.
    pub fn limit_text(&self) -> String {
        if self.metric.is_duration() {
            format_duration(Millis((self.limit * 1000.0).round() as u64))
        } else {
            format!("{}", self.limit)
        }
    }
}

/// A requirement judged on some runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// The point estimate (rate, or nearest-rank percentile in seconds;
    /// infinite when that many runs never recovered).
    pub estimate: f64,
    /// Lower bound at the level judged, if the runs allow one.
    pub low: Option<f64>,
    /// Upper bound at the level judged, if the runs allow one.
    pub high: Option<f64>,
    /// Met for sure (at that level): the upper bound is within the limit.
    pub pass: bool,
    /// Broken for sure: the lower bound is above the limit.
    pub fail: bool,
}

fn seconds(m: Millis) -> f64 {
    m.as_secs_f64()
}

/// Judges `req` on `runs` with one-sided error level `alpha` on each side.
pub fn judge(req: &Requirement, runs: &[RunFacts], alpha: f64) -> Judgement {
    let n = runs.len() as u64;
    match req.metric {
        Metric::DeadlockRate => {
            let k = runs.iter().filter(|r| !r.ok || r.deadlocked).count() as u64;
            let (lo, hi) = wilson_bounds(k, n, z_upper(alpha));
            Judgement {
                estimate: if n == 0 {
                    f64::NAN
                } else {
                    k as f64 / n as f64
                },
                low: Some(lo),
                high: Some(hi),
                pass: n > 0 && hi <= req.limit,
                fail: n > 0 && lo > req.limit,
            }
        }
        Metric::RecoveryPercentile(p) | Metric::UnavailablePercentile(p) => {
            let mut v: Vec<f64> = runs
                .iter()
                .map(|r| match (r.ok, req.metric) {
                    (false, _) => f64::INFINITY,
                    (true, Metric::RecoveryPercentile(_)) => {
                        r.system_recovery.map_or(f64::INFINITY, seconds)
                    }
                    _ => seconds(r.system_unavailable),
                })
                .collect();
            v.sort_by(f64::total_cmp);
            let (lo, hi) = quantile_bounds(&v, p / 100.0, alpha);
            Judgement {
                estimate: nearest_rank(&v, p / 100.0).unwrap_or(f64::NAN),
                low: lo,
                high: hi,
                pass: hi.is_some_and(|h| h <= req.limit),
                fail: lo.is_some_and(|l| l > req.limit),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates_percentages_and_durations() {
        let r = Requirement::parse("deadlock_rate<=0.01").unwrap();
        assert_eq!(r.metric, Metric::DeadlockRate);
        assert_eq!(r.limit, 0.01);
        assert_eq!(
            Requirement::parse("deadlock_rate <= 1%").unwrap().limit,
            0.01
        );
        let r = Requirement::parse("system_recovery_p95<=5m").unwrap();
        assert_eq!(r.metric, Metric::RecoveryPercentile(95.0));
        assert_eq!(r.limit, 300.0);
        assert_eq!(r.limit_text(), "5m");
        for bad in [
            "deadlock_rate",
            "deadlock_rate>=0.01",
            "deadlok_rate<=0.01",
            "deadlock_rate<=two",
            "deadlock_rate<=1.5",
            "system_recovery_p95<=300",
            "system_recovery_p100<=300s",
        ] {
            assert!(Requirement::parse(bad).is_err(), "{bad}");
        }
        let e = Requirement::parse("deadlok_rate<=0.01")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown metric `deadlok_rate`"), "{e}");
        assert!(e.contains("nearest: deadlock_rate"), "{e}");
    }

    fn run(deadlocked: bool, recovery_s: Option<u64>) -> RunFacts {
        RunFacts {
            ok: true,
            deadlocked,
            system_recovery: recovery_s.map(Millis::from_secs),
            system_unavailable: Millis::ZERO,
            cost_micro_usd: 0,
        }
    }

    #[test]
    fn judges_by_the_bounds() {
        let rate = Requirement::parse("deadlock_rate<=0.1").unwrap();
        // 10 of 10 deadlocked: Wilson lower at 2.5 % is 10 / 13.84 = 0.72.
        let all: Vec<RunFacts> = (0..10).map(|_| run(true, None)).collect();
        let j = judge(&rate, &all, 0.025);
        assert!(j.fail && !j.pass);
        // 0 of 10: upper 3.84 / 13.84 = 0.28, open.
        let none: Vec<RunFacts> = (0..10).map(|_| run(false, Some(60))).collect();
        let j = judge(&rate, &none, 0.025);
        assert!(!j.fail && !j.pass);
        // 0 of 40: upper 3.84 / 43.84 = 0.088: pass.
        let none: Vec<RunFacts> = (0..40).map(|_| run(false, Some(60))).collect();
        assert!(judge(&rate, &none, 0.025).pass);
        // p95 of recovery from 59 runs of 60 s: the maximum bounds it.
        let rec = Requirement::parse("system_recovery_p95<=90s").unwrap();
        let runs: Vec<RunFacts> = (0..59).map(|_| run(false, Some(60))).collect();
        assert!(judge(&rec, &runs, 0.05).pass);
        // One run that never recovered is the maximum: no longer bounded.
        let mut runs = runs;
        runs[3] = run(true, None);
        let j = judge(&rec, &runs, 0.05);
        assert!(!j.pass && !j.fail);
        assert_eq!(j.estimate, 60.0);
    }
}

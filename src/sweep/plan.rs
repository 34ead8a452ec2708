//! The plan of a sweep: grid points x seeds x policies, numbered in output
//! order, and the slice of it a shard runs.
//!
//! Run `i` is grid point `i / (seeds x policies)`, then seed, then policy:
//! the rows of one seed (common random numbers) sit together, and each grid
//! point's rows are contiguous. A run's number alone says what it is, so the
//! plan holds no per-run state and a shard is a contiguous range of numbers.

use std::ops::Range;

use crate::engine::Millis;
use crate::scenario::Scenario;

use super::grid::Grid;
use super::{SweepError, SweepOptions};

/// One planned run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunKey {
    /// Grid point.
    pub point: usize,
    /// Index into the scenario's policies.
    pub policy: usize,
    /// Seed.
    pub seed: u64,
}

/// Everything a sweep will run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The grid.
    pub grid: Grid,
    /// The validated scenario of each grid point.
    pub scenarios: Vec<Scenario>,
    /// Policies run, as indexes into each scenario's policies.
    pub policies: Vec<usize>,
    /// The baseline policy of paired differences, by name.
    pub baseline: String,
    /// First seed.
    pub first_seed: u64,
    /// Seeds per grid point and policy.
    pub seeds: u64,
    /// Time-series sampling step, if asked for.
    pub timeseries: Option<Millis>,
}

impl Plan {
    /// Plans a sweep of `base` as `opts` asks.
    pub fn new(base: &Scenario, opts: &SweepOptions) -> Result<Plan, SweepError> {
        let policies = select_policies(base, &opts.policies)?;
        let seeds = opts.seeds.unwrap_or(base.seeds);
        if seeds == 0 {
            return Err(SweepError::BadOption("--seeds must be at least 1".into()));
        }
        let baseline = match &opts.baseline {
            Some(b) => {
                let i = select_policies(base, std::slice::from_ref(b))?[0];
                if !policies.contains(&i) {
                    return Err(SweepError::BadOption(format!(
                        "--baseline `{b}` is not among the policies run"
                    )));
                }
                b.clone()
            }
            None => base.policies[policies[0]].name.clone(),
        };
        if opts.timeseries == Some(Millis::ZERO) {
            return Err(SweepError::BadOption(
                "--timeseries must be longer than 0s".into(),
            ));
        }
        let file_axes = match &base.file.sweep {
            Some(t) => super::grid::axes_from_table(t)?,
            None => Vec::new(),
        };
        let cli_axes = opts
            .set
            .iter()
            .map(|s| super::grid::parse_set(s))
            .collect::<Result<Vec<_>, _>>()?;
        let grid = Grid {
            axes: super::grid::combine(file_axes, cli_axes),
        };
        let scenarios = grid.scenarios(base)?;
        Ok(Plan {
            grid,
            scenarios,
            policies,
            baseline,
            first_seed: base.first_seed,
            seeds: u64::from(seeds),
            timeseries: opts.timeseries,
        })
    }

    /// Number of runs.
    pub fn len(&self) -> usize {
        self.grid.points() * self.seeds as usize * self.policies.len()
    }

    /// Whether there is nothing to run (never, for a valid plan).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What run `i` is.
    pub fn run(&self, i: usize) -> RunKey {
        let per_point = self.seeds as usize * self.policies.len();
        let rem = i % per_point;
        RunKey {
            point: i / per_point,
            seed: self.first_seed + (rem / self.policies.len()) as u64,
            policy: self.policies[rem % self.policies.len()],
        }
    }

    /// Names of the policies run, in order.
    pub fn policy_names(&self) -> Vec<String> {
        self.policies
            .iter()
            .map(|&p| self.scenarios[0].policies[p].name.clone())
            .collect()
    }

    /// The distinct pool names over the policies run, in order of first
    /// appearance: the time-series columns.
    pub fn pool_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for &p in &self.policies {
            for pool in &self.scenarios[0].policies[p].pools {
                if !names.contains(&pool.name) {
                    names.push(pool.name.clone());
                }
            }
        }
        names
    }
}

fn select_policies(scenario: &Scenario, names: &[String]) -> Result<Vec<usize>, SweepError> {
    if names.is_empty() {
        return Ok((0..scenario.policies.len()).collect());
    }
    names
        .iter()
        .map(|n| {
            scenario
                .policies
                .iter()
                .position(|p| &p.name == n)
                .ok_or_else(|| SweepError::UnknownPolicy {
                    name: n.clone(),
                    known: scenario.policy_names(),
                })
        })
        .collect()
}

/// One of `count` deterministic slices of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Parses `I/N`, or `auto/N` which takes `I` from `JOB_COMPLETION_INDEX`
    /// (a Kubernetes Indexed Job) or else `SLURM_ARRAY_TASK_ID` (a Slurm
    /// array, counted from `SLURM_ARRAY_TASK_MIN` when set). `env` looks a
    /// variable up (the process environment, or a map in tests).
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, SweepError> {
        let bad = |m: &str| SweepError::BadOption(format!("--shard `{text}`: {m}"));
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| bad("expected I/N (e.g. 0/8) or auto/N"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| bad("N must be a positive integer"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        let index: u32 = if i.trim() == "auto" {
            let from_env = |var: &str| -> Result<Option<u32>, SweepError> {
                match env(var) {
                    None => Ok(None),
                    Some(v) => v.trim().parse().map(Some).map_err(|_| {
                        SweepError::BadOption(format!("{var}=`{v}` is not an integer"))
                    }),
                }
            };
            match from_env("JOB_COMPLETION_INDEX")? {
                Some(i) => i,
                None => match from_env("SLURM_ARRAY_TASK_ID")? {
                    Some(i) => i.saturating_sub(from_env("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0)),
                    None => {
                        return Err(bad(
                            "auto needs JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID in the environment",
                        ));
                    }
                },
            }
        } else {
            i.trim()
                .parse()
                .map_err(|_| bad("I must be a non-negative integer or `auto`"))?
        };
        if index >= count {
            return Err(bad(&format!(
                "index {index} is not below the count {count}"
            )));
        }
        Ok(Shard { index, count })
    }

    /// The runs of this shard among `total`: a contiguous range, so that
    /// merging shards in index order restores plan order.
    pub fn range(&self, total: usize) -> Range<usize> {
        let at = |k: u32| (total as u128 * u128::from(k) / u128::from(self.count)) as usize;
        at(self.index)..at(self.index + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_plan_once() {
        for total in [0, 1, 7, 100] {
            let mut next = 0;
            for index in 0..3 {
                let r = Shard { index, count: 3 }.range(total);
                assert_eq!(r.start, next);
                next = r.end;
            }
            assert_eq!(next, total);
        }
    }

    #[test]
    fn shard_index_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let s = Shard::parse("auto/4", env(&[("JOB_COMPLETION_INDEX", "2")])).unwrap();
        assert_eq!(s, Shard { index: 2, count: 4 });
        let s = Shard::parse(
            "auto/4",
            env(&[("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_MIN", "1")]),
        )
        .unwrap();
        assert_eq!(s.index, 3);
        assert!(Shard::parse("auto/4", env(&[])).is_err());
        assert!(Shard::parse("4/4", env(&[])).is_err());
        assert_eq!(Shard::parse("1/3", env(&[])).unwrap().index, 1);
    }
}

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
use crate::scenario::overrides::OverrideError;

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

/// The most runs (grid points x seeds x policies) one sweep may plan: the
/// summary keeps a few numbers per run in memory.
pub const MAX_RUNS: u64 = 10_000_000;

/// The most grid points one sweep may plan: each is validated before the
/// first run starts.
pub const MAX_POINTS: u64 = 100_000;

/// Everything a sweep will run. Grid points are not held: the scenario of a
/// point is built again from the base document when a run needs it
/// ([`Plan::scenario`]), so the plan's memory does not grow with the grid.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The grid.
    pub grid: Grid,
    /// The scenario as given (grid point 0 when nothing is swept).
    pub base: Scenario,
    /// The base as a TOML document with defaults filled in and no
    /// `[sweep]`, that grid values are set on (`None` with no grid).
    document: Option<toml::Table>,
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
    /// Events each run may handle (`--max-events-per-run`).
    pub max_events: u64,
}

impl Plan {
    /// Plans a sweep of `base` as `opts` asks, validating every grid
    /// point's scenario (one at a time; none is kept).
    pub fn new(base: &Scenario, opts: &SweepOptions) -> Result<Plan, SweepError> {
        let policies = select_policies(base, &opts.policies)?;
        let seeds = seed_count(base, opts)?;
        let baseline = baseline(base, opts, &policies)?;
        if opts.timeseries == Some(Millis::ZERO) {
            return Err(SweepError::BadOption(
                "--timeseries must be longer than 0s".into(),
            ));
        }
        let max_events = opts
            .max_events_per_run
            .unwrap_or(crate::engine::RunLimits::DEFAULT_MAX_EVENTS);
        if max_events == 0 {
            return Err(SweepError::BadOption(
                "--max-events-per-run must be at least 1".into(),
            ));
        }
        let grid = grid(base, opts)?;
        check_size(&grid, seeds, policies.len() as u64)?;
        let document = if grid.axes.is_empty() {
            None
        } else {
            let mut doc = super::grid::base_document(base)?;
            doc.remove("sweep");
            Some(doc)
        };
        let plan = Plan {
            grid,
            base: base.clone(),
            document,
            policies,
            baseline,
            first_seed: base.first_seed,
            seeds,
            timeseries: opts.timeseries,
            max_events,
        };
        plan.check_points()?;
        Ok(plan)
    }

    /// Validates every grid point's scenario, one at a time: each must
    /// keep the names of the policies run (rows name them).
    fn check_points(&self) -> Result<(), SweepError> {
        let base = &self.base;
        for point in 0..self.grid.points() {
            let s = self.scenario(point).map_err(|e| at_sweep_key(base, e))?;
            // A swept value may not rename a policy run: rows name them.
            for &p in &self.policies {
                if s.policies.get(p).map(|x| &x.name) != Some(&base.policies[p].name) {
                    return Err(SweepError::BadOption(format!(
                        "grid point {point} renames or removes policy `{}`; policies cannot be swept",
                        base.policies[p].name
                    )));
                }
            }
        }
        Ok(())
    }

    /// The validated scenario of grid point `point`: the base with the
    /// point's values set, validated like a file.
    pub fn scenario(&self, point: usize) -> Result<std::borrow::Cow<'_, Scenario>, SweepError> {
        match &self.document {
            None => Ok(std::borrow::Cow::Borrowed(&self.base)),
            Some(doc) => self
                .grid
                .scenario(doc, &self.base, point)
                .map(std::borrow::Cow::Owned),
        }
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

    /// The name of policy `policy` (an index into the scenario's
    /// policies): the same at every grid point.
    pub fn policy_name(&self, policy: usize) -> &str {
        &self.base.policies[policy].name
    }

    /// Names of the policies run, in order.
    pub fn policy_names(&self) -> Vec<String> {
        self.policies
            .iter()
            .map(|&p| self.base.policies[p].name.clone())
            .collect()
    }

    /// The distinct pool names over the policies run, in order of first
    /// appearance: the time-series columns.
    pub fn pool_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for &p in &self.policies {
            for pool in &self.base.policies[p].pools {
                if !names.contains(&pool.name) {
                    names.push(pool.name.clone());
                }
            }
        }
        names
    }
}

/// An error about a `[sweep]` entry, naming the file and the entry's line:
/// a malformed entry, or a key of the file's `[sweep]` that names nothing
/// in the scenario format (a typo). Other errors pass through.
pub(super) fn at_sweep_line(base: &Scenario, e: SweepError) -> SweepError {
    let line_of = |key: &str| {
        base.sweep_lines
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, l)| *l)
    };
    match e {
        SweepError::BadSet { arg, message } => {
            let Some(key) = arg.strip_prefix("[sweep] ") else {
                return SweepError::BadSet { arg, message };
            };
            let line = line_of(key).map(|l| format!(":{l}")).unwrap_or_default();
            SweepError::BadSet {
                arg: format!("{}{line}: sweep.{key}", base.source),
                message,
            }
        }
        SweepError::Override(o) => {
            let (OverrideError::UnknownKey { key, .. } | OverrideError::NotATable { key, .. }) = &o;
            match line_of(key) {
                Some(line) => SweepError::BadSet {
                    arg: format!("{}:{line}: sweep.{key}", base.source),
                    message: o.to_string(),
                },
                None => SweepError::Override(o),
            }
        }
        other => other,
    }
}

/// An error about a key the file's `[sweep]` names (a key that does not
/// exist, or goes through a value), naming the file and the entry's line.
/// Keys from `--set` have no line and stay as they are.
fn at_sweep_key(base: &Scenario, e: SweepError) -> SweepError {
    use crate::scenario::overrides::OverrideError;
    let key = match &e {
        SweepError::Override(OverrideError::UnknownKey { key, .. })
        | SweepError::Override(OverrideError::NotATable { key, .. }) => key.clone(),
        _ => return e,
    };
    match base.sweep_lines.iter().find(|(k, _)| *k == key) {
        Some((_, line)) => SweepError::BadSet {
            arg: format!("{}:{line}: sweep.{key}", base.source),
            message: e.to_string(),
        },
        None => e,
    }
}

/// The seeds per policy and grid point (`--seeds`, else the scenario's):
/// at least one, and the last no larger than the largest seed.
fn seed_count(base: &Scenario, opts: &SweepOptions) -> Result<u64, SweepError> {
    let seeds = opts.seeds.unwrap_or(base.seeds);
    if seeds == 0 {
        return Err(SweepError::BadOption("--seeds must be at least 1".into()));
    }
    if base.first_seed.checked_add(u64::from(seeds) - 1).is_none() {
        return Err(SweepError::BadOption(format!(
            "first_seed {} with {seeds} seeds goes past the largest seed {}",
            base.first_seed,
            u64::MAX
        )));
    }
    Ok(u64::from(seeds))
}

/// The baseline policy of the paired differences: `--baseline`, which
/// must be among the `policies` run, else the first of them.
fn baseline(
    base: &Scenario,
    opts: &SweepOptions,
    policies: &[usize],
) -> Result<String, SweepError> {
    match &opts.baseline {
        Some(b) => {
            let i = select_policies(base, std::slice::from_ref(b))?[0];
            if !policies.contains(&i) {
                return Err(SweepError::BadOption(format!(
                    "--baseline `{b}` is not among the policies run"
                )));
            }
            Ok(b.clone())
        }
        None => Ok(base.policies[policies[0]].name.clone()),
    }
}

/// The grid: the file's `[sweep]` axes combined with `--set`'s.
fn grid(base: &Scenario, opts: &SweepOptions) -> Result<Grid, SweepError> {
    let file_axes = match &base.file.sweep {
        Some(t) => super::grid::axes_from_table(t).map_err(|e| at_sweep_line(base, e))?,
        None => Vec::new(),
    };
    let cli_axes = opts
        .set
        .iter()
        .map(|s| super::grid::parse_set(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Grid {
        axes: super::grid::combine(file_axes, cli_axes),
    })
}

/// Refuses a grid larger than [`MAX_POINTS`] points or [`MAX_RUNS`] runs,
/// before anything is validated or run.
fn check_size(grid: &Grid, seeds: u64, policies: u64) -> Result<(), SweepError> {
    let mut points: u64 = 1;
    for a in &grid.axes {
        points = points.saturating_mul(a.values.len() as u64);
    }
    let runs = points.saturating_mul(seeds).saturating_mul(policies);
    let sizes: Vec<String> = grid
        .axes
        .iter()
        .map(|a| format!("{} ({})", a.key, a.values.len()))
        .collect();
    let what = || {
        format!(
            "{} grid points{} x {seeds} seeds x {policies} policies",
            if points == u64::MAX {
                "more than 18446744073709551615".to_string()
            } else {
                points.to_string()
            },
            if sizes.is_empty() {
                String::new()
            } else {
                format!(" ({})", sizes.join(" x "))
            }
        )
    };
    if points > MAX_POINTS {
        return Err(SweepError::BadOption(format!(
            "the grid is too large: {}; at most {MAX_POINTS} grid points (split the sweep into several)",
            what()
        )));
    }
    if runs > MAX_RUNS {
        return Err(SweepError::BadOption(format!(
            "the sweep is too large: {} = {runs} runs; at most {MAX_RUNS} (use fewer seeds or values, or split the sweep)",
            what()
        )));
    }
    Ok(())
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

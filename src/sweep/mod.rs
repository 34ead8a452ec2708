//! Many runs: the plan (policies x seeds), parallel execution with rayon,
//! and the CSV files, written atomically and identical for any thread count.

mod output;

pub use output::{write_atomically, write_csv};

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use rayon::prelude::*;

use crate::metrics::{RunRow, SummaryRow, summarise};
use crate::scenario::Scenario;
use crate::sim::run_one;

/// What the user asked of a sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// Seeds per policy (default: the scenario's).
    pub seeds: Option<u32>,
    /// Policies to run, by name (default: all).
    pub policies: Vec<String>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// Output directory (default `results/<scenario>/`).
    pub out: Option<PathBuf>,
}

/// A problem running a sweep.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// `--policy` named a policy the scenario does not have.
    #[error("unknown policy `{name}` (policies: {known})")]
    UnknownPolicy {
        /// What was asked.
        name: String,
        /// What exists.
        known: String,
    },
    /// An option is out of range.
    #[error("{0}")]
    BadOption(String),
    /// Writing results failed.
    #[error("{path}: {source}")]
    Write {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// One planned run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunKey {
    /// Index into the scenario's policies.
    pub policy: usize,
    /// Seed.
    pub seed: u64,
}

/// The runs of a sweep in output order: seed-major, then policy in file
/// order, so the rows of one seed (common random numbers) sit together.
pub fn plan(scenario: &Scenario, opts: &SweepOptions) -> Result<Vec<RunKey>, SweepError> {
    let policies = select_policies(scenario, &opts.policies)?;
    let seeds = opts.seeds.unwrap_or(scenario.seeds);
    if seeds == 0 {
        return Err(SweepError::BadOption("--seeds must be at least 1".into()));
    }
    let first = scenario.first_seed;
    Ok((first..first + u64::from(seeds))
        .flat_map(|seed| policies.iter().map(move |&policy| RunKey { policy, seed }))
        .collect())
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
                    known: scenario
                        .policies
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}

/// Runs every planned run, in parallel, and returns rows in plan order. A
/// run that panics becomes a `failed` row; the others go on.
pub fn execute(
    scenario: &Scenario,
    runs: &[RunKey],
    threads: Option<usize>,
) -> Result<Vec<RunRow>, SweepError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| SweepError::BadOption(format!("cannot start threads: {e}")))?;
    Ok(pool.install(|| {
        runs.par_iter()
            .map(|k| {
                catch_unwind(AssertUnwindSafe(|| run_one(scenario, k.policy, k.seed)))
                    .unwrap_or_else(|panic| {
                        let msg = panic
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "run panicked".into());
                        RunRow::failed(&scenario.policies[k.policy].name, k.seed, msg)
                    })
            })
            .collect()
    }))
}

/// Summaries per policy, in the order policies appear in `rows`.
pub fn summaries(rows: &[RunRow]) -> Vec<SummaryRow> {
    let mut order: Vec<&str> = Vec::new();
    for r in rows {
        if !order.contains(&r.policy.as_str()) {
            order.push(&r.policy);
        }
    }
    order
        .iter()
        .map(|p| {
            let group: Vec<&RunRow> = rows.iter().filter(|r| r.policy == *p).collect();
            summarise(p, &group)
        })
        .collect()
}

/// The result of a sweep.
#[derive(Debug, Clone)]
pub struct SweepOutput {
    /// Where the files went.
    pub dir: PathBuf,
    /// One row per run.
    pub rows: Vec<RunRow>,
    /// One row per policy.
    pub summary: Vec<SummaryRow>,
}

/// Plans, runs and writes a sweep: `runs.csv`, `summary.csv` and
/// `scenario.toml` (the scenario as run) in the output directory.
pub fn run_sweep(scenario: &Scenario, opts: &SweepOptions) -> Result<SweepOutput, SweepError> {
    let runs = plan(scenario, opts)?;
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&scenario.name));
    let rows = execute(scenario, &runs, opts.threads)?;
    let summary = summaries(&rows);
    output::write_results(&dir, scenario, &rows, &summary)?;
    Ok(SweepOutput { dir, rows, summary })
}

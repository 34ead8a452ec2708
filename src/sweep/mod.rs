//! Many runs: the plan (grid points x seeds x policies), parallel execution
//! with rayon, streaming of rows to disk in plan order, resume, shards and
//! merge, and the summary computed from the rows as written.
//!
//! Output bytes depend only on the plan: not on `--threads`, not on whether
//! the sweep was interrupted and resumed, not on how it was sharded.

mod execute;
pub mod grid;
mod merge;
mod output;
pub mod plan;
mod point;
mod progress;
mod summarise;

use std::path::{Path, PathBuf};

pub use execute::{TEST_PANIC_SEED, TEST_SLOW_MS};
pub use merge::merge;
pub use output::{META_FILE, Meta, write_atomically, write_csv};
pub use plan::{MAX_POINTS, MAX_RUNS, Plan, RunKey, Shard};
pub use point::{GridPoint, check_results_hold, grid_point};
pub(crate) use progress::Progress;
pub use progress::{ProgressMode, install_interrupt_handler, stop_requested};
pub use summarise::summarise_file;

use crate::engine::Millis;
use crate::metrics::{RunRow, SummaryRow};
use crate::scenario::overrides::OverrideError;
use crate::scenario::{Scenario, ScenarioError};

use output::{PartialFiles, fingerprint, write_error};

/// The resolved scenario written next to the results.
pub const RESOLVED_FILE: &str = "scenario.resolved.toml";

/// What the user asked of a sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// Seeds per grid point and policy (default: the scenario's).
    pub seeds: Option<u32>,
    /// Policies to run, by name (default: all).
    pub policies: Vec<String>,
    /// `KEY=V1,V2,...` grid axes, added to the scenario's `[sweep]`.
    pub set: Vec<String>,
    /// Policy the others are compared with (default: the first run).
    pub baseline: Option<String>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// Output directory (default `results/<scenario>/`).
    pub out: Option<PathBuf>,
    /// The slice of the plan to run (default: all of it).
    pub shard: Option<Shard>,
    /// Reuse the finished rows of an interrupted sweep in `out`.
    pub resume: bool,
    /// Sample a time series with this step.
    pub timeseries: Option<Millis>,
    /// Progress on stderr.
    pub progress: ProgressMode,
    /// Events each run may handle before it ends as a failed row (default
    /// [`crate::engine::RunLimits::DEFAULT_MAX_EVENTS`]).
    pub max_events_per_run: Option<u64>,
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
    /// A `--set` argument or `[sweep]` entry is malformed.
    #[error("{arg}: {message}")]
    BadSet {
        /// The argument.
        arg: String,
        /// What is wrong.
        message: String,
    },
    /// A swept key does not exist.
    #[error("{0}")]
    Override(OverrideError),
    /// A grid point's scenario is invalid.
    #[error("{0}")]
    Scenario(ScenarioError),
    /// `--resume` found results of another plan.
    #[error(
        "{dir}: holds results of a different sweep (plan {found}, this one is {expected}); use another --out, or run without --resume to start over"
    )]
    OtherPlan {
        /// Directory.
        dir: String,
        /// Its plan.
        found: String,
        /// This plan.
        expected: String,
    },
    /// Shards cannot be merged.
    #[error("merge: {0}")]
    Merge(String),
    /// A results file cannot be read back.
    #[error("{path}: {message}")]
    Corrupt {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Ctrl-C stopped the sweep; the finished runs are saved.
    #[error(
        "interrupted: {done} of {total} runs saved in {dir}/runs.csv.partial; run again with --resume to finish"
    )]
    Interrupted {
        /// Runs saved.
        done: usize,
        /// Runs in this shard.
        total: usize,
        /// Directory.
        dir: String,
    },
    /// Writing results failed.
    #[error("{path}: {source}")]
    Write {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// The result of a sweep.
#[derive(Debug, Clone)]
pub struct SweepOutput {
    /// Where the files went.
    pub dir: PathBuf,
    /// Runs in this shard.
    pub runs: usize,
    /// Of which reused from an interrupted attempt.
    pub resumed: usize,
    /// One row per grid point and policy.
    pub summary: Vec<SummaryRow>,
}

/// One CSV record as a line.
pub(crate) fn csv_line<S: AsRef<[u8]>>(fields: &[S]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

/// The columns of `runs.csv`: policy, seed, the swept values, the rest.
pub fn runs_header(plan: &Plan) -> Vec<String> {
    let mut h: Vec<String> = RunRow::HEADER.iter().map(|s| s.to_string()).collect();
    let tail = h.split_off(2);
    h.extend(plan.grid.keys());
    h.extend(tail);
    h
}

/// The columns of `timeseries.csv`.
pub fn series_header(plan: &Plan) -> Vec<String> {
    let mut h = vec!["policy".to_string(), "seed".to_string()];
    h.extend(plan.grid.keys());
    h.push("t_s".into());
    h.push("ready_nodes".into());
    h.extend(plan.pool_names().iter().map(|p| format!("ready_nodes.{p}")));
    h.extend(["pending_system", "pending_user", "stalled"].map(String::from));
    h
}

/// The scenario that reproduces this sweep: the file with every default
/// filled in, the grid in its `[sweep]` table, the seeds and the policies
/// run.
pub fn resolved_scenario(base: &Scenario, plan: &Plan) -> Result<String, SweepError> {
    // Set on the file struct, not the document, so keys keep the format's
    // order whatever the input's order was.
    let mut file = crate::scenario::resolved_file(base);
    file.sweep = (!plan.grid.axes.is_empty()).then(|| {
        plan.grid
            .axes
            .iter()
            .map(|a| (a.key.clone(), toml::Value::Array(a.values.clone())))
            .collect()
    });
    file.seeds = u32::try_from(plan.seeds).ok();
    file.first_seed = Some(plan.first_seed);
    let names = plan.policy_names();
    file.policies.retain(|p| names.contains(p.name.get_ref()));
    let body = toml::to_string(&file).map_err(|e| SweepError::BadOption(e.to_string()))?;
    Ok(format!(
        "# Resolved by poolsim {}: `poolsim run` on this file reproduces runs.csv and summary.csv.\n{body}",
        env!("CARGO_PKG_VERSION")
    ))
}

fn write_summary(dir: &Path, summary: &[SummaryRow]) -> Result<(), SweepError> {
    let header = summary.first().map(|s| s.header()).unwrap_or_default();
    let bytes = write_csv(&header, summary.iter().map(|s| s.record()));
    write_atomically(&dir.join("summary.csv"), &bytes)
}

/// Plans, runs and writes a sweep (or its shard) in the output directory:
/// `runs.csv`, `summary.csv`, `timeseries.csv` when asked, the resolved
/// scenario and `sweep.toml`.
pub fn run_sweep(base: &Scenario, opts: &SweepOptions) -> Result<SweepOutput, SweepError> {
    let plan = Plan::new(base, opts)?;
    let shard = opts.shard.unwrap_or_default();
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&base.name));
    let range = shard.range(plan.len());
    let resolved = resolved_scenario(base, &plan)?;
    let runs_header = csv_line(&runs_header(&plan));
    let series_header = plan.timeseries.map(|_| csv_line(&series_header(&plan)));
    let step = plan.timeseries.map_or(0, |t| t.0).to_string();
    // The budget decides which runs fail, so it is part of the plan.
    let budget = plan.max_events.to_string();
    let meta = Meta {
        poolsim_version: env!("CARGO_PKG_VERSION").to_string(),
        plan: fingerprint(&[
            env!("CARGO_PKG_VERSION").as_bytes(),
            resolved.as_bytes(),
            &runs_header,
            plan.baseline.as_bytes(),
            step.as_bytes(),
            budget.as_bytes(),
        ]),
        runs: plan.len() as u64,
        shard: shard.index,
        shards: shard.count,
        baseline: plan.baseline.clone(),
        timeseries: plan.timeseries.is_some(),
    };
    std::fs::create_dir_all(&dir).map_err(write_error(&dir))?;
    if opts.resume
        && let Ok(found) = Meta::read(&dir)
        && found != meta
    {
        return Err(SweepError::OtherPlan {
            dir: dir.display().to_string(),
            found: format!("{} shard {}/{}", found.plan, found.shard, found.shards),
            expected: format!("{} shard {}/{}", meta.plan, meta.shard, meta.shards),
        });
    }
    write_atomically(&dir.join(META_FILE), meta.render().as_bytes())?;
    let (mut files, resumed) = PartialFiles::open(
        &dir,
        &plan,
        range.start,
        &runs_header,
        series_header.as_deref(),
        opts.resume,
    )?;
    install_interrupt_handler();
    let mut progress = progress::Progress::new(opts.progress, range.len() as u64, resumed as u64);
    let ran = execute::execute(&plan, range.start + resumed..range.end, opts.threads, |r| {
        files.write(r)?;
        progress.tick();
        Ok(())
    });
    progress.finish();
    files.flush()?;
    let written = ran?;
    if written < range.end {
        return Err(SweepError::Interrupted {
            done: written - range.start,
            total: range.len(),
            dir: dir.display().to_string(),
        });
    }
    files.finish()?;
    write_atomically(&dir.join(RESOLVED_FILE), resolved.as_bytes())?;
    let summary = summarise_file(&dir.join("runs.csv"), &plan.baseline)?;
    write_summary(&dir, &summary)?;
    Ok(SweepOutput {
        dir,
        runs: range.len(),
        resumed,
        summary,
    })
}

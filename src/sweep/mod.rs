//! Many runs: the plan (grid points x seeds x policies), parallel execution
//! with rayon, streaming of rows to disk in plan order, resume, shards and
//! merge, and the summary computed from the rows as written.
//!
//! Output bytes depend only on the plan: not on `--threads`, not on whether
//! the sweep was interrupted and resumed, not on how it was sharded.

mod check;
mod execute;
pub mod grid;
mod lock;
mod merge;
mod output;
mod partial;
pub mod plan;
mod point;
mod progress;
mod resume;
mod summarise;

use std::path::{Path, PathBuf};

pub use execute::{TEST_PANIC_SEED, TEST_SLOW_MS, TEST_SLOW_SEED};
pub use lock::LOCK_FILE;
pub use merge::merge;
pub use output::{META_FILE, Meta, write_atomically, write_csv};
pub use plan::{MAX_POINTS, MAX_RUNS, Plan, RunKey, Shard};
pub use point::{GridPoint, check_results_hold, grid_point};
pub(crate) use progress::Progress;
pub use progress::{
    ProgressMode, ignore_file_size_signal, install_interrupt_handler, stop_requested,
};
pub use resume::result_files;
pub use summarise::summarise_file;

use crate::engine::Millis;
use crate::metrics::{RunRow, SummaryRow};
use crate::scenario::overrides::OverrideError;
use crate::scenario::{Scenario, ScenarioError};

use check::check_runs_file;
use lock::DirLock;
use output::write_error;
use partial::{Layout, PartialFiles, RUNS_PARTIAL};
use resume::Start;

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
    /// `--resume` found results it cannot tell are this sweep's.
    #[error(
        "{dir}: cannot resume: {reason}; use another --out, or run without --resume to start over"
    )]
    NotResumable {
        /// Directory.
        dir: String,
        /// Why.
        reason: String,
    },
    /// Another process holds the directory's lock.
    #[error("{dir}: in use by {holder}; wait until it ends, or use another --out")]
    Locked {
        /// Directory.
        dir: String,
        /// Who holds it (process id and command line).
        holder: String,
    },
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
    /// What `--resume` found and did not reuse, and why.
    pub notes: Vec<String>,
    /// The result files in `dir` (see [`result_files`]): each written by
    /// this sweep, but `runs.csv` (and `timeseries.csv`) of a sweep that
    /// `--resume` found finished, which it checked instead.
    pub files: Vec<PathBuf>,
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
    h.extend(["pending_system", "pending_user", "stalled", "unready"].map(String::from));
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

/// Writes the resolved scenario and the summary of the complete rows in
/// `dir/rows`: everything but the renames that end a sweep.
fn finish(
    dir: &Path,
    plan: &Plan,
    resolved: &str,
    rows: &str,
) -> Result<Vec<SummaryRow>, SweepError> {
    write_atomically(&dir.join(RESOLVED_FILE), resolved.as_bytes())?;
    let summary = summarise_file(&dir.join(rows), &plan.baseline)?;
    write_summary(dir, &summary)?;
    Ok(summary)
}

/// A directory finished earlier (perhaps all but its summary): checks the
/// rows of `runs.csv` and summarises them again rather than run anything.
/// The inner `Err` says why the rows cannot be used.
fn refinish(
    dir: &Path,
    plan: &Plan,
    resolved: &str,
    range: std::ops::Range<usize>,
) -> Result<Result<Vec<SummaryRow>, String>, SweepError> {
    if let Err(e) = check_runs_file(plan, range, &dir.join("runs.csv")) {
        return Ok(Err(format!("{e}; every run is run again")));
    }
    let summary = finish(dir, plan, resolved, "runs.csv")?;
    resume::clear_partials(dir)?;
    Ok(Ok(summary))
}

/// Plans, runs and writes a sweep (or its shard) in the output directory:
/// `runs.csv`, `summary.csv`, `timeseries.csv` when asked, the resolved
/// scenario and `sweep.toml`. The directory is locked for the duration
/// (see [`LOCK_FILE`]).
pub fn run_sweep(base: &Scenario, opts: &SweepOptions) -> Result<SweepOutput, SweepError> {
    let plan = Plan::new(base, opts)?;
    let shard = opts.shard.unwrap_or_default();
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&base.name));
    let range = shard.range(plan.len());
    let resolved = resolved_scenario(base, &plan)?;
    let meta = Meta::for_plan(&plan, &resolved, shard);
    std::fs::create_dir_all(&dir).map_err(write_error(&dir))?;
    let _lock = DirLock::acquire(&dir)?;
    let start = if opts.resume {
        resume::inspect(&dir, &meta)?
    } else {
        Start::Afresh
    };
    let mut notes = Vec::new();
    if start == Start::Finished {
        match refinish(&dir, &plan, &resolved, range.clone())? {
            Ok(summary) => {
                return Ok(SweepOutput {
                    files: result_files(&dir),
                    dir,
                    runs: range.len(),
                    resumed: range.len(),
                    summary,
                    notes,
                });
            }
            Err(note) => notes.push(note),
        }
    }
    if start == Start::Partial {
        resume::remove_finished(&dir)?;
    } else {
        resume::clear(&dir)?;
    }
    write_atomically(&dir.join(META_FILE), meta.render().as_bytes())?;
    let runs_header = csv_line(&runs_header(&plan));
    let series_header = plan.timeseries.map(|_| csv_line(&series_header(&plan)));
    let layout = Layout {
        plan: &plan,
        plan_id: &meta.plan,
        range: range.clone(),
        runs_header: &runs_header,
        series_header: series_header.as_deref(),
    };
    let (mut files, reused) = PartialFiles::open(&dir, &layout, start == Start::Partial)?;
    notes.extend(reused.note);
    let resumed = reused.runs;
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
    files.close()?;
    let summary = finish(&dir, &plan, &resolved, RUNS_PARTIAL)?;
    partial::promote(&dir, plan.timeseries.is_some())?;
    Ok(SweepOutput {
        files: result_files(&dir),
        dir,
        runs: range.len(),
        resumed,
        summary,
        notes,
    })
}

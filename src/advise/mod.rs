//! `poolsim advise`: the cheapest design of a scenario that meets
//! requirements such as `deadlock_rate<=0.01`, with confidence.
//!
//! The search space (`space`) is a list of candidates, each a policy with
//! some values changed and validated like a file. The search (`search`)
//! gives candidates seeds in doubling batches, all on the same seeds
//! (common random numbers), judges each requirement after each batch with
//! one-sided bounds (`bounds`: Wilson for rates, order statistics for
//! percentiles) at levels that spend the error rate over the looks, and
//! prunes by the assumed monotonicity of pool sizes, which it then tests
//! on the runs made. `exec` makes the runs in parallel and keeps them in
//! `advise-runs.csv` (so `--resume` reuses them), and `output` writes the
//! table, `advise.csv`, the figure and the recommended scenario.
//!
//! Above `sweep` in the layering: it reuses the sweep's axis syntax and
//! grid validation, its progress display and its Ctrl-C flag.

mod bounds;
mod exec;
mod output;
pub mod requirement;
pub mod search;
pub mod space;

use std::path::PathBuf;

pub use bounds::{look_level, quantile_bounds, wilson_bounds, z_upper};
pub use output::{ADVISE_CSV, ADVISE_SVG, RECOMMENDED_FILE, pareto_front, summary, table};
pub use requirement::{Metric, Requirement, RunFacts};
pub use search::{Outcome, Rules, Status, search};
pub use space::{Candidate, PoolSpace, SpaceOptions};

use crate::scenario::Scenario;
use crate::sweep::{ProgressMode, SweepError, install_interrupt_handler};

/// A problem giving advice.
#[derive(Debug, thiserror::Error)]
pub enum AdviseError {
    /// A `--require` is malformed or names an unknown metric.
    #[error("--require `{arg}`: {message}")]
    BadRequirement {
        /// The argument.
        arg: String,
        /// What is wrong.
        message: String,
    },
    /// `--policy` named a policy the scenario does not have.
    #[error("unknown policy `{name}` (policies: {known})")]
    UnknownPolicy {
        /// What was asked.
        name: String,
        /// What exists.
        known: String,
    },
    /// The search space has no candidate, or too many.
    #[error("empty search space: {0}")]
    EmptySpace(String),
    /// An option is out of range.
    #[error("{0}")]
    BadOption(String),
    /// A `--search` axis is malformed, names an unknown key, or makes an
    /// invalid scenario; or writing a file failed.
    #[error("{0}")]
    Sweep(SweepError),
    /// `--resume` found the runs of another scenario or space.
    #[error(
        "{dir}: holds the runs of another scenario or search space; use another --out, or run without --resume to start over"
    )]
    OtherPlan {
        /// Directory.
        dir: String,
    },
    /// A runs file cannot be read back.
    #[error("{path}: {message}")]
    Corrupt {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Writing failed.
    #[error("{path}: {source}")]
    Write {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Ctrl-C stopped the search; the runs made are saved.
    #[error(
        "interrupted: the runs made are saved in {dir}/advise-runs.csv; run again with --resume to continue"
    )]
    Interrupted {
        /// Directory.
        dir: String,
    },
}

impl AdviseError {
    /// Whether the error is the user's input (exit 2) rather than a failure
    /// while running.
    pub fn is_bad_input(&self) -> bool {
        match self {
            AdviseError::BadRequirement { .. }
            | AdviseError::UnknownPolicy { .. }
            | AdviseError::EmptySpace(_)
            | AdviseError::BadOption(_)
            | AdviseError::OtherPlan { .. } => true,
            AdviseError::Sweep(e) => !matches!(
                e,
                SweepError::Write { .. }
                    | SweepError::Corrupt { .. }
                    | SweepError::Interrupted { .. }
            ),
            AdviseError::Corrupt { .. }
            | AdviseError::Write { .. }
            | AdviseError::Interrupted { .. } => false,
        }
    }
}

/// What the user asked of the advisor.
#[derive(Debug, Clone)]
pub struct AdviseOptions {
    /// `METRIC<=LIMIT`, at least one.
    pub requirements: Vec<String>,
    /// The search space.
    pub space: SpaceOptions,
    /// Confidence of each verdict (default 0.95).
    pub confidence: f64,
    /// Runs in all (default 20,000).
    pub budget_runs: usize,
    /// Seeds after which a candidate is left undecided (default 4,096).
    pub max_seeds: usize,
    /// Prune by the monotonicity of pool sizes (default on).
    pub prune: bool,
    /// Worker threads (default: all cores). The answer does not depend on it.
    pub threads: Option<usize>,
    /// Output directory (default `results/<scenario>-advise/`).
    pub out: Option<PathBuf>,
    /// Reuse the runs in the output directory.
    pub resume: bool,
    /// Progress on stderr.
    pub progress: ProgressMode,
}

impl Default for AdviseOptions {
    fn default() -> Self {
        let rules = Rules::default();
        AdviseOptions {
            requirements: vec!["deadlock_rate<=0.01".into()],
            space: SpaceOptions::default(),
            confidence: 1.0 - rules.alpha,
            budget_runs: rules.budget,
            max_seeds: rules.max_seeds,
            prune: true,
            threads: None,
            out: None,
            resume: false,
            progress: ProgressMode::Auto,
        }
    }
}

/// The advice.
#[derive(Debug)]
pub struct Advice {
    /// The candidates, in the order of the space.
    pub candidates: Vec<Candidate>,
    /// The requirements.
    pub requirements: Vec<Requirement>,
    /// The search's verdicts and runs.
    pub outcome: Outcome,
    /// The candidates on the Pareto front of cost, deadlock rate and
    /// recovery.
    pub front: Vec<usize>,
    /// The first seed; candidates ran `first_seed ..`.
    pub first_seed: u64,
    /// Confidence of the verdicts and of the intervals shown.
    pub confidence: f64,
    /// Runs reused from the runs file.
    pub reused: usize,
    /// Where the files went.
    pub dir: PathBuf,
    /// The recommended scenario's file, if a candidate passed.
    pub recommended_file: Option<PathBuf>,
}

/// The parsed `--require`s, once the options are known to be in range.
fn checked_requirements(opts: &AdviseOptions) -> Result<Vec<Requirement>, AdviseError> {
    if opts.requirements.is_empty() {
        return Err(AdviseError::BadOption(
            "at least one --require is needed (e.g. --require 'deadlock_rate<=0.01')".into(),
        ));
    }
    let requirements: Vec<Requirement> = opts
        .requirements
        .iter()
        .map(|r| Requirement::parse(r))
        .collect::<Result<_, _>>()?;
    if !(opts.confidence > 0.5 && opts.confidence < 1.0) {
        return Err(AdviseError::BadOption(format!(
            "--confidence {} must lie in (0.5, 1), e.g. 0.95",
            opts.confidence
        )));
    }
    if opts.budget_runs == 0 || opts.max_seeds < 2 {
        return Err(AdviseError::BadOption(
            "--budget-runs must be at least 1 and --max-seeds at least 2".into(),
        ));
    }
    Ok(requirements)
}

/// The fingerprint of the scenario (defaults resolved) and the space,
/// which `--resume` requires of `advise-plan.txt`.
fn plan_fingerprint(base: &Scenario, candidates: &[Candidate]) -> Result<String, AdviseError> {
    let resolved = toml::to_string(&crate::scenario::resolved_file(base))
        .map_err(|e| AdviseError::BadOption(e.to_string()))?;
    let labels: Vec<String> = candidates.iter().map(Candidate::label).collect();
    Ok(exec::fingerprint(&[
        env!("CARGO_PKG_VERSION").as_bytes(),
        resolved.as_bytes(),
        labels.join("\n").as_bytes(),
    ]))
}

/// Searches the space of `base` for the cheapest candidate meeting the
/// requirements, and writes `advise.csv`, `advise.svg`, `advise-runs.csv`
/// and, if a candidate passes, the recommended scenario.
pub fn advise(base: &Scenario, opts: &AdviseOptions) -> Result<Advice, AdviseError> {
    let requirements = checked_requirements(opts)?;
    let candidates = space::candidates(base, &opts.space)?;
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("{}-advise", base.name)));
    let plan = plan_fingerprint(base, &candidates)?;
    install_interrupt_handler();
    let mut runner = exec::Runner::open(
        &candidates,
        base.first_seed,
        &dir,
        &plan,
        opts.resume,
        opts.threads,
        opts.progress,
    )?;
    let rules = Rules {
        alpha: 1.0 - opts.confidence,
        first_batch: Rules::default().first_batch.min(opts.max_seeds),
        max_seeds: opts.max_seeds,
        budget: opts.budget_runs,
        prune: opts.prune,
    };
    let quiet = opts.progress == ProgressMode::Quiet;
    let outcome = search(
        candidates.len(),
        |b, c| candidates[b].precedes(&candidates[c]),
        &requirements,
        &rules,
        |jobs| runner.run(jobs),
        |r| {
            if !quiet {
                eprintln!("{}", output::round_line(r, &candidates));
            }
        },
    )?;
    let reused = runner.reused;
    runner.finish()?;
    let front = pareto_front(&outcome);
    let mut advice = Advice {
        candidates,
        requirements,
        outcome,
        front,
        first_seed: base.first_seed,
        confidence: opts.confidence,
        reused,
        dir,
        recommended_file: None,
    };
    output::write_all(&mut advice)?;
    Ok(advice)
}

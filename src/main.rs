//! The `poolsim` command line: parses arguments and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use std::io::Write;

use poolsim::quantity::parse_duration;
use poolsim::sweep::{Plan, ProgressMode, Shard, merge};
use poolsim::{Scenario, ScenarioError, SweepError, SweepOptions, advise, report, run_sweep};

/// Discrete-event simulator of Kubernetes clusters on EC2 Auto Scaling Groups.
#[derive(Parser)]
#[command(name = "poolsim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Let a scenario's Job `trace` paths leave the scenario's directory
    /// (refused by default).
    #[arg(long, global = true)]
    allow_paths_outside: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run every policy of a scenario over many seeds (and a parameter
    /// grid) and write CSV results.
    Run {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Seeds per grid point and policy (default: the scenario's `seeds`).
        #[arg(long)]
        seeds: Option<u32>,
        /// Sweep a scenario value: KEY=V1,V2,... with KEY a dotted path
        /// (e.g. workloads.worker.replicas=100..400:100). Repeatable.
        #[arg(long = "set", value_name = "KEY=V1,V2,...")]
        set: Vec<String>,
        /// Output directory (default: results/<scenario name>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: all cores). Output does not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Run only this policy (repeatable).
        #[arg(long = "policy")]
        policies: Vec<String>,
        /// Policy the others are compared with in summary.csv (default: the
        /// first one run).
        #[arg(long)]
        baseline: Option<String>,
        /// Run one slice of the runs: I/N, or auto/N to take I from
        /// JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// Reuse the finished runs of an interrupted sweep in the output
        /// directory and run only the rest.
        #[arg(long)]
        resume: bool,
        /// Also write timeseries.csv, sampled at this interval (e.g. 10s).
        #[arg(long, value_name = "DURATION")]
        timeseries: Option<String>,
        /// No progress on stderr.
        #[arg(long, short)]
        quiet: bool,
        /// Events one run may handle; a run that needs more ends as a
        /// `failed` row saying so (default 50000000).
        #[arg(long, value_name = "N")]
        max_events_per_run: Option<u64>,
    },
    /// Join the result directories of the shards of one sweep.
    Merge {
        /// Shard result directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a scenario file and print what it would run.
    Validate {
        /// Scenario file (TOML).
        scenario: PathBuf,
    },
    /// Run one policy with one seed and print its event log, then explain
    /// what holds the cluster if it is stuck.
    Trace {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// The policy to run.
        #[arg(long)]
        policy: String,
        /// The seed (as in runs.csv).
        #[arg(long)]
        seed: u64,
        /// Set a scenario value, as `run --set` does: KEY=VALUE, or
        /// KEY=V1,V2,... with --point choosing among the grid's points.
        /// Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// The grid point to run when the scenario's [sweep] and --set make
        /// several (0-based, in runs.csv order).
        #[arg(long, value_name = "I")]
        point: Option<usize>,
        /// A results directory: refuse a policy, seed or grid point its
        /// runs.csv does not hold.
        #[arg(long, value_name = "DIR")]
        results: Option<PathBuf>,
        /// Only lines about these objects: pods, nodes, instances,
        /// services, faults, cluster (comma-separated).
        #[arg(long, value_delimiter = ',', value_name = "KINDS")]
        only: Vec<report::ObjectKind>,
        /// Only lines at or after this time (e.g. 29m).
        #[arg(long, value_name = "DURATION")]
        from: Option<String>,
        /// Only lines at or before this time (e.g. 45m).
        #[arg(long, value_name = "DURATION")]
        to: Option<String>,
        /// text (aligned columns) or jsonl (one JSON object per line).
        #[arg(long, default_value = "text")]
        format: report::TraceFormat,
    },
    /// Find the cheapest design that meets requirements with confidence:
    /// pool sizes (or --search values) per policy, sequential seeds.
    Advise {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// What to minimise among the designs that meet the requirements.
        #[arg(long, default_value = "cost")]
        objective: Objective,
        /// A requirement METRIC<=LIMIT: deadlock_rate<=0.01,
        /// system_recovery_p95<=300s, system_unavailable_p99<=10m. Repeatable.
        #[arg(long = "require", value_name = "METRIC<=LIMIT", required = true)]
        require: Vec<String>,
        /// Search a scenario value instead of the default pool sizes:
        /// KEY=V1,V2,... or KEY=FROM..TO[:STEP], as --set. Repeatable.
        #[arg(long = "search", value_name = "KEY=RANGE")]
        search: Vec<String>,
        /// Default space: split each policy's total over its pools
        /// (fixed-total) or vary each pool from 1 to that total (free).
        #[arg(long, default_value = "fixed-total")]
        pools: PoolsArg,
        /// Only this policy (repeatable).
        #[arg(long = "policy")]
        policies: Vec<String>,
        /// Runs in all, at most.
        #[arg(long, default_value_t = 20_000)]
        budget_runs: usize,
        /// Seeds after which a candidate is left undecided.
        #[arg(long, default_value_t = 4096)]
        max_seeds: usize,
        /// Confidence of each verdict.
        #[arg(long, default_value_t = 0.95)]
        confidence: f64,
        /// Do not prune by the monotonicity of pool sizes.
        #[arg(long)]
        no_prune: bool,
        /// Output directory (default: results/<scenario name>-advise/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: all cores). The answer does not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Reuse the runs already in the output directory.
        #[arg(long)]
        resume: bool,
        /// No progress on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write DIR/report.html: one self-contained page with the scenario,
    /// the summary, the figures, the stall causes and one run explained.
    Report {
        /// Results directory (with runs.csv and summary.csv).
        dir: PathBuf,
        /// Policy of the run explained (default: the worst run).
        #[arg(long)]
        policy: Option<String>,
        /// Seed of the run explained.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Draw SVG figures from the CSV files in a results directory.
    Plot {
        /// Results directory (with runs.csv and summary.csv).
        dir: PathBuf,
        /// Policy of the run drawn over time (default: the first deadlocked run).
        #[arg(long)]
        policy: Option<String>,
        /// Seed of the run drawn over time.
        #[arg(long)]
        seed: Option<u64>,
    },
}

/// What `advise` minimises.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Objective {
    /// Mean dollars per run.
    Cost,
}

/// How `advise` varies pool sizes by default.
#[derive(Clone, Copy, clap::ValueEnum)]
enum PoolsArg {
    /// Every split of each policy's total over its pools.
    FixedTotal,
    /// Every pool from 1 to the policy's total, independently.
    Free,
}

/// Exit codes: 0 success, 1 failure while running, 2 bad input.
enum Failure {
    BadInput(String),
    Runtime(String),
    /// The output was closed early; nothing to report.
    Quiet,
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Self {
        match e {
            ScenarioError::Read { .. } => Failure::BadInput(e.to_string()),
            ScenarioError::Invalid { .. } => Failure::BadInput(e.to_string()),
        }
    }
}

impl From<SweepError> for Failure {
    fn from(e: SweepError) -> Self {
        match e {
            SweepError::UnknownPolicy { .. }
            | SweepError::BadOption(_)
            | SweepError::BadSet { .. }
            | SweepError::Override(_)
            | SweepError::Scenario(_)
            | SweepError::OtherPlan { .. }
            | SweepError::NotResumable { .. }
            | SweepError::Merge(_) => Failure::BadInput(e.to_string()),
            SweepError::Corrupt { .. }
            | SweepError::Locked { .. }
            | SweepError::Interrupted { .. }
            | SweepError::Write { .. } => Failure::Runtime(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    poolsim::sweep::ignore_file_size_signal();
    let cli = Cli::parse();
    // A full or closed stderr cannot be reported anywhere: the exit code
    // still says what happened.
    let say = |msg: &str| {
        let _ = writeln!(std::io::stderr(), "error: {}", escape_lines(msg));
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(msg)) => {
            say(&msg);
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            say(&msg);
            ExitCode::from(1)
        }
        Err(Failure::Quiet) => ExitCode::SUCCESS,
    }
}

/// Writes to stdout. A reader that closed the pipe early (`| head`) made
/// its choice: nothing more is printed, and that is no failure. Any other
/// write error (a full disk) is one.
fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Failure::Quiet,
            _ => Failure::Runtime(format!("writing to stdout: {e}")),
        })
}

/// A message with every non-printable character but line breaks escaped,
/// whatever it quotes.
fn escape_lines(msg: &str) -> String {
    msg.split('\n')
        .map(|l| poolsim::input::escape(l).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn run(cli: Cli) -> Result<(), Failure> {
    let outside = cli.allow_paths_outside;
    match cli.command {
        Command::Run {
            scenario,
            seeds,
            set,
            out,
            threads,
            policies,
            baseline,
            shard,
            resume,
            timeseries,
            quiet,
            max_events_per_run,
        } => {
            let scenario = Scenario::load_with(&scenario, outside)?;
            let shard = shard
                .map(|s| Shard::parse(&s, |var| std::env::var(var).ok()))
                .transpose()?;
            let timeseries = timeseries
                .map(|t| {
                    parse_duration(&t)
                        .map_err(|m| Failure::BadInput(format!("--timeseries `{t}`: {m}")))
                })
                .transpose()?;
            let opts = SweepOptions {
                seeds,
                policies,
                set,
                baseline,
                threads,
                out,
                shard,
                resume,
                timeseries,
                progress: if quiet {
                    ProgressMode::Quiet
                } else {
                    ProgressMode::Auto
                },
                max_events_per_run,
            };
            let output = run_sweep(&scenario, &opts)?;
            for note in &output.notes {
                let _ = writeln!(std::io::stderr(), "poolsim: resume: {}", escape_lines(note));
            }
            if output.resumed > 0 {
                print(&format!(
                    "resumed {} of {} runs from an interrupted sweep\n",
                    output.resumed, output.runs
                ))?;
            }
            print(&escape_lines(&report::summary_table(&output.summary)))?;
            print(&escape_lines(&format!(
                "wrote {}/runs.csv, summary.csv\n",
                output.dir.display()
            )))
        }
        Command::Advise {
            scenario,
            objective: Objective::Cost,
            require,
            search,
            pools,
            policies,
            budget_runs,
            max_seeds,
            confidence,
            no_prune,
            out,
            threads,
            resume,
            quiet,
        } => {
            let scenario = Scenario::load(&scenario)?;
            let opts = advise::AdviseOptions {
                requirements: require,
                space: advise::SpaceOptions {
                    pools: match pools {
                        PoolsArg::FixedTotal => advise::PoolSpace::FixedTotal,
                        PoolsArg::Free => advise::PoolSpace::Free,
                    },
                    search,
                    policies,
                },
                confidence,
                budget_runs,
                max_seeds,
                prune: !no_prune,
                threads,
                out,
                resume,
                progress: if quiet {
                    ProgressMode::Quiet
                } else {
                    ProgressMode::Auto
                },
            };
            let advice = advise::advise(&scenario, &opts).map_err(|e| {
                if e.is_bad_input() {
                    Failure::BadInput(e.to_string())
                } else {
                    Failure::Runtime(e.to_string())
                }
            })?;
            print!("{}", advise::summary(&advice));
            if advice.outcome.recommended.is_none() {
                return Err(Failure::Runtime(
                    "no candidate met every requirement with the confidence asked".into(),
                ));
            }
            Ok(())
        }
        Command::Trace {
            scenario,
            policy,
            seed,
            set,
            point,
            results,
            only,
            from,
            to,
            format,
        } => {
            let base = Scenario::load_with(&scenario, outside)?;
            let at = poolsim::sweep::grid_point(&base, &set, point)?;
            if let Some(dir) = &results {
                poolsim::sweep::check_results_hold(dir, &at, &policy, seed)?;
            }
            let scenario = at.scenario;
            let time = |flag: &str, v: Option<String>| {
                v.map(|t| {
                    parse_duration(&t).map_err(|m| Failure::BadInput(format!("{flag} `{t}`: {m}")))
                })
                .transpose()
            };
            let opts = report::TraceOptions {
                only,
                from: time("--from", from)?,
                to: time("--to", to)?,
                format,
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            report::trace(&scenario, &policy, seed, &opts, &mut out).map_err(|e| match e {
                report::TraceError::UnknownPolicy { .. }
                | report::TraceError::EmptyWindow { .. } => Failure::BadInput(e.to_string()),
                // A closed pipe (`| head`) is the reader's choice, not a failure.
                report::TraceError::Write(ref io)
                    if io.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    Failure::Quiet
                }
                report::TraceError::Write(_) => Failure::Runtime(e.to_string()),
            })?;
            out.flush().or_else(|e| match e.kind() {
                std::io::ErrorKind::BrokenPipe => Ok(()),
                _ => Err(Failure::Runtime(format!("writing the trace: {e}"))),
            })
        }
        Command::Plot { dir, policy, seed } => {
            let choice = report::RunChoice {
                policy,
                seed,
                ..Default::default()
            };
            let written = report::plot_dir_with(&dir, &choice).map_err(|e| match e {
                report::PlotError::Read { .. } | report::PlotError::Empty { .. } => {
                    Failure::BadInput(e.to_string())
                }
                report::PlotError::Write { .. } => Failure::Runtime(e.to_string()),
            })?;
            for path in written {
                print(&format!("wrote {}\n", path.display()))?;
            }
            Ok(())
        }
        Command::Report { dir, policy, seed } => {
            let choice = report::RunChoice {
                policy,
                seed,
                ..Default::default()
            };
            let path = report::write_report(&dir, &choice).map_err(|e| match e {
                report::ReportError::Plot(report::PlotError::Write { .. })
                | report::ReportError::Write { .. } => Failure::Runtime(e.to_string()),
                report::ReportError::Plot(_) | report::ReportError::NoSuchRun { .. } => {
                    Failure::BadInput(e.to_string())
                }
            })?;
            println!("wrote {}", path.display());
            Ok(())
        }
        Command::Merge { dirs, out } => {
            let summary = merge(&dirs, &out)?;
            print(&escape_lines(&report::summary_table(&summary)))?;
            print(&escape_lines(&format!(
                "wrote {}/runs.csv, summary.csv\n",
                out.display()
            )))
        }
        Command::Validate { scenario } => {
            let scenario = Scenario::load_with(&scenario, outside)?;
            // Expanding the plan validates every grid point of `[sweep]`.
            let plan = Plan::new(&scenario, &SweepOptions::default())?;
            print(&escape_lines(&report::describe(&scenario)))?;
            print(&escape_lines(&report::describe_grid(&plan)))
        }
    }
}

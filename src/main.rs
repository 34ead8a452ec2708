//! The `poolsim` command line: parses arguments and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use std::io::Write;

use poolsim::quantity::parse_duration;
use poolsim::sweep::{Plan, ProgressMode, Shard, merge};
use poolsim::{Scenario, ScenarioError, SweepError, SweepOptions, report, run_sweep};

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
            | SweepError::Merge(_) => Failure::BadInput(e.to_string()),
            SweepError::Corrupt { .. }
            | SweepError::Interrupted { .. }
            | SweepError::Write { .. } => Failure::Runtime(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(msg)) => {
            eprintln!("error: {}", escape_lines(&msg));
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("error: {}", escape_lines(&msg));
            ExitCode::from(1)
        }
        Err(Failure::Quiet) => ExitCode::SUCCESS,
    }
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
            if output.resumed > 0 {
                println!(
                    "resumed {} of {} runs from an interrupted sweep",
                    output.resumed, output.runs
                );
            }
            print!("{}", escape_lines(&report::summary_table(&output.summary)));
            println!("wrote {}/runs.csv, summary.csv", output.dir.display());
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
                println!("wrote {}", path.display());
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
            print!("{}", escape_lines(&report::summary_table(&summary)));
            println!("wrote {}/runs.csv, summary.csv", out.display());
            Ok(())
        }
        Command::Validate { scenario } => {
            let scenario = Scenario::load_with(&scenario, outside)?;
            // Expanding the plan validates every grid point of `[sweep]`.
            let plan = Plan::new(&scenario, &SweepOptions::default())?;
            print!("{}", escape_lines(&report::describe(&scenario)));
            print!("{}", escape_lines(&report::describe_grid(&plan)));
            Ok(())
        }
    }
}

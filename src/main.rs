//! The `poolsim` command line: parses arguments and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use poolsim::{Scenario, ScenarioError, SweepError, SweepOptions, report, run_sweep};

/// Discrete-event simulator of Kubernetes clusters on EC2 Auto Scaling Groups.
#[derive(Parser)]
#[command(name = "poolsim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every policy of a scenario over many seeds and write CSV results.
    Run {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Seeds per policy (default: the scenario's `seeds`).
        #[arg(long)]
        seeds: Option<u32>,
        /// Output directory (default: results/<scenario name>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: all cores). Output does not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Run only this policy (repeatable).
        #[arg(long = "policy")]
        policies: Vec<String>,
    },
    /// Check a scenario file and print what it would run.
    Validate {
        /// Scenario file (TOML).
        scenario: PathBuf,
    },
    /// Draw SVG figures from the CSV files in a results directory.
    Plot {
        /// Results directory (with runs.csv and summary.csv).
        dir: PathBuf,
    },
}

/// Exit codes: 0 success, 1 failure while running, 2 bad input.
enum Failure {
    BadInput(String),
    Runtime(String),
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
            SweepError::UnknownPolicy { .. } | SweepError::BadOption(_) => {
                Failure::BadInput(e.to_string())
            }
            SweepError::Write { .. } => Failure::Runtime(e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run {
            scenario,
            seeds,
            out,
            threads,
            policies,
        } => {
            let scenario = Scenario::load(&scenario)?;
            let opts = SweepOptions {
                seeds,
                policies,
                threads,
                out,
            };
            let output = run_sweep(&scenario, &opts)?;
            print!("{}", report::summary_table(&output.summary));
            println!("wrote {}/runs.csv, summary.csv", output.dir.display());
            Ok(())
        }
        Command::Plot { dir } => {
            let written = report::plot_dir(&dir).map_err(|e| match e {
                report::PlotError::Read { .. } => Failure::BadInput(e.to_string()),
                report::PlotError::Write { .. } => Failure::Runtime(e.to_string()),
            })?;
            for path in written {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Validate { scenario } => {
            let scenario = Scenario::load(&scenario)?;
            print!("{}", report::describe(&scenario));
            Ok(())
        }
    }
}

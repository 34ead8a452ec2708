//! The `poolsim` command line: parses arguments (with the grammar of
//! `cli.rs`) and calls the library.

mod cli;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, Objective, PoolsArg};

use poolsim::quantity::parse_duration;
use poolsim::sweep::{Plan, ProgressMode, Shard, merge};
use poolsim::{Scenario, ScenarioError, SweepError, SweepOptions, advise, report, run_sweep};

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

/// One line `wrote PATH` per file written.
fn print_written(paths: &[PathBuf]) -> Result<(), Failure> {
    let lines: String = paths
        .iter()
        .map(|p| format!("wrote {}\n", p.display()))
        .collect();
    print(&escape_lines(&lines))
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
        Command::Run(args) => sweep(args, outside),
        Command::Advise(args) => advise_cmd(args),
        Command::Trace(args) => trace(args, outside),
        Command::Plot(args) => plot(args),
        Command::Report(args) => report_cmd(args),
        Command::Merge(args) => merge_cmd(args),
        Command::Validate(args) => validate(args, outside),
        Command::Import(args) => import_cmd(args),
    }
}

/// `poolsim run`: the sweep, its summary table and the files written.
fn sweep(args: cli::RunArgs, outside: bool) -> Result<(), Failure> {
    let cli::RunArgs {
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
    } = args;
    let scenario = Scenario::load_with(&scenario, outside)?;
    let shard = shard
        .map(|s| Shard::parse(&s, |var| std::env::var(var).ok()))
        .transpose()?;
    let timeseries = timeseries
        .map(|t| {
            parse_duration(&t).map_err(|m| Failure::BadInput(format!("--timeseries `{t}`: {m}")))
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
    print_written(&output.files)
}

/// `poolsim advise`: the search, its report, exit 1 if nothing passed.
fn advise_cmd(args: cli::AdviseArgs) -> Result<(), Failure> {
    let cli::AdviseArgs {
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
    } = args;
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

/// `poolsim trace`: one run's event log and explanation on stdout.
fn trace(args: cli::TraceArgs, outside: bool) -> Result<(), Failure> {
    let cli::TraceArgs {
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
    } = args;
    let base = Scenario::load_with(&scenario, outside)?;
    let at = poolsim::sweep::grid_point(&base, &set, point)?;
    if let Some(dir) = &results {
        poolsim::sweep::check_results_hold(dir, &at, &policy, seed)?;
    }
    let scenario = at.scenario;
    let time = |flag: &str, v: Option<String>| {
        v.map(|t| parse_duration(&t).map_err(|m| Failure::BadInput(format!("{flag} `{t}`: {m}"))))
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
        report::TraceError::UnknownPolicy { .. } | report::TraceError::EmptyWindow { .. } => {
            Failure::BadInput(e.to_string())
        }
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        report::TraceError::Write(ref io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
            Failure::Quiet
        }
        report::TraceError::Write(_) => Failure::Runtime(e.to_string()),
    })?;
    out.flush().or_else(|e| match e.kind() {
        std::io::ErrorKind::BrokenPipe => Ok(()),
        _ => Err(Failure::Runtime(format!("writing the trace: {e}"))),
    })
}

/// `poolsim plot`: the figures of a results directory.
fn plot(args: cli::PlotArgs) -> Result<(), Failure> {
    let cli::PlotArgs { dir, policy, seed } = args;
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
    print_written(&written)
}

/// `poolsim report`: `report.html` of a results directory.
fn report_cmd(args: cli::ReportArgs) -> Result<(), Failure> {
    let cli::ReportArgs { dir, policy, seed } = args;
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
    print_written(&[path])
}

/// `poolsim merge`: the shards joined, their summary table and the files written.
fn merge_cmd(args: cli::MergeArgs) -> Result<(), Failure> {
    let cli::MergeArgs { dirs, out } = args;
    let summary = merge(&dirs, &out)?;
    print(&escape_lines(&report::summary_table(&summary)))?;
    print_written(&poolsim::sweep::result_files(&out))
}

/// `poolsim validate`: what a scenario would run.
fn validate(args: cli::ValidateArgs, outside: bool) -> Result<(), Failure> {
    let cli::ValidateArgs { scenario } = args;
    let scenario = Scenario::load_with(&scenario, outside)?;
    // Expanding the plan validates every grid point of `[sweep]`.
    let plan = Plan::new(&scenario, &SweepOptions::default())?;
    print(&escape_lines(&report::describe(&scenario)))?;
    print(&escape_lines(&report::describe_grid(&plan)))
}

/// `poolsim import`: the report, then the scenario written (nothing on
/// error).
fn import_cmd(args: cli::ImportArgs) -> Result<(), Failure> {
    use poolsim::import::{ClassRule, ImportError, ImportOptions, import, write_scenario};
    let mut labels = Vec::new();
    for l in &args.system_label {
        let Some((k, v)) = l.split_once('=') else {
            return Err(Failure::BadInput(format!(
                "--system-label `{l}`: expected KEY=VALUE"
            )));
        };
        labels.push((k.to_string(), v.to_string()));
    }
    let name = match args.name {
        Some(n) => n,
        None => args
            .output
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "imported".into()),
    };
    let opts = ImportOptions {
        inputs: args.inputs,
        asgs: args.asg,
        nodegroups: args.nodegroup,
        needs: args.needs,
        class_rule: ClassRule {
            namespaces: args
                .system_namespaces
                .unwrap_or_else(|| vec!["kube-system".to_string()]),
            labels,
        },
        strict: args.strict,
        name,
    };
    let to_failure = |e: ImportError| match e {
        ImportError::Write { .. } | ImportError::Internal(_) => Failure::Runtime(e.to_string()),
        _ => Failure::BadInput(e.to_string()),
    };
    let imported = import(&opts).map_err(to_failure)?;
    let mut report = String::new();
    if imported.notes.is_empty() {
        report.push_str("nothing skipped or approximated\n");
    } else {
        report.push_str("skipped or approximated:\n");
        for line in imported.notes.lines() {
            report.push_str(&format!("  {line}\n"));
        }
    }
    print(&escape_lines(&report))?;
    write_scenario(&args.output, &imported).map_err(to_failure)?;
    print_written(&[args.output])
}

//! The command line's grammar: the subcommands, their options and help
//! (with examples and the README sections that document them). `main.rs`
//! parses with it and calls the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use poolsim::report;

/// Discrete-event simulator of Kubernetes clusters on EC2 Auto Scaling Groups.
#[derive(Parser)]
#[command(name = "poolsim", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Let a scenario's Job `trace` paths leave the scenario's directory
    /// (refused by default).
    #[arg(long, global = true)]
    pub allow_paths_outside: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run every policy of a scenario over many seeds (and a parameter
    /// grid) and write CSV results.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Join the result directories of the shards of one sweep.
    #[command(after_help = MERGE_HELP)]
    Merge(MergeArgs),
    /// Check a scenario file and print what it would run.
    #[command(after_help = VALIDATE_HELP)]
    Validate(ValidateArgs),
    /// Run one policy with one seed and print its event log, then explain
    /// what holds the cluster if it is stuck.
    #[command(after_help = TRACE_HELP)]
    Trace(TraceArgs),
    /// Find the cheapest design that meets requirements with confidence:
    /// pool sizes (or --search values) per policy, sequential seeds.
    #[command(after_help = ADVISE_HELP)]
    Advise(AdviseArgs),
    /// Write DIR/report.html: one self-contained page with the scenario,
    /// the summary, the figures, the stall causes and one run explained.
    #[command(after_help = REPORT_HELP)]
    Report(ReportArgs),
    /// Draw SVG figures from the CSV files in a results directory.
    #[command(after_help = PLOT_HELP)]
    Plot(PlotArgs),
    /// Write a scenario from your cluster: kubectl JSON, YAML manifests,
    /// AWS ASG and node group JSON, Karpenter NodePools (offline).
    #[command(after_help = IMPORT_HELP)]
    Import(ImportArgs),
}

// The options of `poolsim import`.
#[derive(Args)]
pub struct ImportArgs {
    /// kubectl JSON (`kubectl get ... -A -o json`), YAML manifests, or
    /// directories of them (read in name order).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The scenario to write.
    #[arg(short = 'o', long = "output", value_name = "SCENARIO.toml")]
    pub output: PathBuf,
    /// `aws autoscaling describe-auto-scaling-groups` JSON. Repeatable.
    #[arg(long = "asg", value_name = "FILE")]
    pub asg: Vec<PathBuf>,
    /// `aws eks describe-nodegroup` JSON. Repeatable.
    #[arg(long = "nodegroup", value_name = "FILE")]
    pub nodegroup: Vec<PathBuf>,
    /// Service dependencies the API cannot show: a TOML file of lines
    /// `WORKLOAD = ["SERVICE", ...]` by imported names.
    #[arg(long, value_name = "FILE")]
    pub needs: Option<PathBuf>,
    /// Namespaces whose workloads are class system (default kube-system).
    #[arg(long, value_name = "NS,NS", value_delimiter = ',')]
    pub system_namespaces: Option<Vec<String>>,
    /// A pod label that makes a workload class system. Repeatable.
    #[arg(long = "system-label", value_name = "KEY=VALUE")]
    pub system_label: Vec<String>,
    /// Refuse to write anything if a field or object would be skipped or
    /// approximated.
    #[arg(long)]
    pub strict: bool,
    /// The scenario's name (default: the output file's stem).
    #[arg(long)]
    pub name: Option<String>,
}

// The options of `poolsim run`.
#[derive(Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Seeds per grid point and policy (default: the scenario's `seeds`).
    #[arg(long)]
    pub seeds: Option<u32>,
    /// Sweep a scenario value: KEY=V1,V2,... with KEY a dotted path
    /// (e.g. workloads.worker.replicas=100..400:100). Repeatable.
    #[arg(long = "set", value_name = "KEY=V1,V2,...")]
    pub set: Vec<String>,
    /// Output directory (default: results/<scenario name>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores). Output does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only this policy (repeatable).
    #[arg(long = "policy")]
    pub policies: Vec<String>,
    /// Policy the others are compared with in summary.csv (default: the
    /// first one run).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Run one slice of the runs: I/N, or auto/N to take I from
    /// JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Reuse the finished runs of an interrupted sweep in the output
    /// directory and run only the rest.
    #[arg(long)]
    pub resume: bool,
    /// Also write timeseries.csv, sampled at this interval (e.g. 10s).
    #[arg(long, value_name = "DURATION")]
    pub timeseries: Option<String>,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Events one run may handle; a run that needs more ends as a
    /// `failed` row saying so (default 50000000).
    #[arg(long, value_name = "N")]
    pub max_events_per_run: Option<u64>,
}

// The options of `poolsim merge`.
#[derive(Args)]
pub struct MergeArgs {
    /// Shard result directories.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

// The options of `poolsim validate`.
#[derive(Args)]
pub struct ValidateArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
}

// The options of `poolsim trace`.
#[derive(Args)]
pub struct TraceArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// The policy to run.
    #[arg(long)]
    pub policy: String,
    /// The seed (as in runs.csv).
    #[arg(long)]
    pub seed: u64,
    /// Set a scenario value, as `run --set` does: KEY=VALUE, or
    /// KEY=V1,V2,... with --point choosing among the grid's points.
    /// Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The grid point to run when the scenario's [sweep] and --set make
    /// several (0-based, in runs.csv order).
    #[arg(long, value_name = "I")]
    pub point: Option<usize>,
    /// A results directory: refuse a policy, seed or grid point its
    /// runs.csv does not hold.
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// Only lines about these objects: pods, nodes, instances,
    /// services, faults, cluster (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    pub only: Vec<report::ObjectKind>,
    /// Only lines at or after this time (e.g. 29m).
    #[arg(long, value_name = "DURATION")]
    pub from: Option<String>,
    /// Only lines at or before this time (e.g. 45m).
    #[arg(long, value_name = "DURATION")]
    pub to: Option<String>,
    /// text (aligned columns) or jsonl (one JSON object per line).
    #[arg(long, default_value = "text")]
    pub format: report::TraceFormat,
}

// The options of `poolsim advise`.
#[derive(Args)]
pub struct AdviseArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// What to minimise among the designs that meet the requirements.
    #[arg(long, default_value = "cost")]
    pub objective: Objective,
    /// A requirement METRIC<=LIMIT: deadlock_rate<=0.01,
    /// system_recovery_p95<=300s, system_unavailable_p99<=10m. Repeatable.
    #[arg(long = "require", value_name = "METRIC<=LIMIT", required = true)]
    pub require: Vec<String>,
    /// Search a scenario value instead of the default pool sizes:
    /// KEY=V1,V2,... or KEY=FROM..TO[:STEP], as --set. Repeatable.
    #[arg(long = "search", value_name = "KEY=RANGE")]
    pub search: Vec<String>,
    /// Default space: split each policy's total over its pools
    /// (fixed-total) or vary each pool from 1 to that total (free).
    #[arg(long, default_value = "fixed-total")]
    pub pools: PoolsArg,
    /// Only this policy (repeatable).
    #[arg(long = "policy")]
    pub policies: Vec<String>,
    /// Runs in all, at most.
    #[arg(long, default_value_t = 20_000)]
    pub budget_runs: usize,
    /// Seeds after which a candidate is left undecided.
    #[arg(long, default_value_t = 4096)]
    pub max_seeds: usize,
    /// Confidence of each verdict.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Do not prune by the monotonicity of pool sizes.
    #[arg(long)]
    pub no_prune: bool,
    /// Output directory (default: results/<scenario name>-advise/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores). The answer does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Reuse the runs already in the output directory.
    #[arg(long)]
    pub resume: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

// The options of `poolsim report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Results directory (with runs.csv and summary.csv).
    pub dir: PathBuf,
    /// Policy of the run explained (default: the worst run).
    #[arg(long)]
    pub policy: Option<String>,
    /// Seed of the run explained.
    #[arg(long)]
    pub seed: Option<u64>,
}

// The options of `poolsim plot`.
#[derive(Args)]
pub struct PlotArgs {
    /// Results directory (with runs.csv and summary.csv).
    pub dir: PathBuf,
    /// Policy of the run drawn over time (default: the first deadlocked run).
    #[arg(long)]
    pub policy: Option<String>,
    /// Seed of the run drawn over time.
    #[arg(long)]
    pub seed: Option<u64>,
}

// Each subcommand's `--help` ends with examples and the README sections
// that document it (a test below parses every example and finds every
// section).

const RUN_HELP: &str = "\
Examples:
  poolsim run scenarios/seed-deadlock.toml
  poolsim run scenarios/seed-deadlock.toml --seeds 1000 --set workloads.worker.replicas=100..400:100 --out /tmp/backlog
  poolsim run scenarios/seed-deadlock.toml --seeds 20 --timeseries 10s --out /tmp/story

Prints the summary table, then `wrote PATH` for every file written.
See README.md: \"Commands\", \"Sweeps\", \"Output columns\".";

const MERGE_HELP: &str = "\
Examples:
  poolsim run scenarios/seed-deadlock.toml --shard 0/2 --out /tmp/shard-0
  poolsim run scenarios/seed-deadlock.toml --shard 1/2 --out /tmp/shard-1
  poolsim merge /tmp/shard-0 /tmp/shard-1 --out /tmp/merged

See README.md: \"Beyond one machine\", \"Resume, merge and the directory lock\".";

const IMPORT_HELP: &str = "\
Examples:
  poolsim import tests/fixtures/eks/cluster.json --asg tests/fixtures/eks/asgs.json -o cluster.toml
  poolsim import cluster.json --asg asgs.json --nodegroup ng-system.json --nodegroup ng-apps.json karpenter/ -o cluster.toml
  poolsim import manifests/ --system-namespaces kube-system,kyverno,cert-manager -o apps.toml --strict

See README.md: \"Your own cluster\".";

const VALIDATE_HELP: &str = "\
Example:
  poolsim validate scenarios/seed-deadlock.toml

See README.md: \"Scenario files\", \"Sweeps\".";

const TRACE_HELP: &str = "\
Examples:
  poolsim trace scenarios/seed-deadlock.toml --policy single-pool --seed 9
  poolsim trace scenarios/seed-deadlock.toml --policy single-pool --seed 9 --only faults,services --from 29m --to 45m
  poolsim trace scenarios/seed-deadlock.toml --policy single-pool --seed 7 --set workloads.worker.replicas=250 --results results/seed-deadlock-backlog

See README.md: \"Commands\" (trace).";

const ADVISE_HELP: &str = "\
Examples:
  poolsim advise scenarios/seed-deadlock.toml --require 'deadlock_rate<=0.01'
  poolsim advise scenarios/autoscaler.toml --require 'deadlock_rate<=0.01' --require 'system_recovery_p95<=300s' --policy split-pool

See README.md: \"What should I run?\", \"Commands\" (advise), \"Output files\".";

const REPORT_HELP: &str = "\
Examples:
  poolsim report results/seed-deadlock
  poolsim report results/seed-deadlock --policy single-pool --seed 9

See README.md: \"Commands\" (report).";

const PLOT_HELP: &str = "\
Examples:
  poolsim plot results/seed-deadlock
  poolsim plot results/seed-deadlock-timeline --policy single-pool --seed 3

The run drawn over time needs timeseries.csv (`poolsim run --timeseries 10s`).
See README.md: \"Commands\" (plot).";

/// What `advise` minimises.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Objective {
    /// Mean dollars per run.
    Cost,
}

/// How `advise` varies pool sizes by default.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PoolsArg {
    /// Every split of each policy's total over its pools.
    FixedTotal,
    /// Every pool from 1 to the policy's total, independently.
    Free,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::{CommandFactory, Parser};
    use std::path::Path;

    /// The words of an example line, as a shell splits them (single quotes
    /// only: the examples need no more).
    fn words(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut word = String::new();
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '\'' => quoted = !quoted,
                c if c.is_whitespace() && !quoted => {
                    if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            }
        }
        assert!(!quoted, "unbalanced quote in `{line}`");
        out.extend((!word.is_empty()).then_some(word));
        out
    }

    /// Every subcommand's help has examples that parse, name shipped files
    /// that exist, and points to README sections that exist.
    #[test]
    fn every_subcommand_help_has_examples_that_parse_and_readme_sections() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
        let headings: Vec<&str> = readme
            .lines()
            .filter_map(|l| l.strip_prefix("## ").or_else(|| l.strip_prefix("### ")))
            .collect();
        let cli = Cli::command();
        let mut checked = 0;
        for sub in cli.get_subcommands() {
            let name = sub.get_name();
            let help = sub
                .get_after_help()
                .unwrap_or_else(|| panic!("`poolsim {name} --help` has no examples"))
                .to_string();
            let examples: Vec<&str> = help
                .lines()
                .filter_map(|l| l.strip_prefix("  "))
                .filter(|l| l.starts_with("poolsim "))
                .collect();
            assert!(!examples.is_empty(), "{name}: no example in\n{help}");
            assert!(
                examples.iter().any(|e| words(e)[1] == name),
                "{name}: no example of `poolsim {name}`"
            );
            for example in examples {
                let args = words(example);
                if let Err(e) = Cli::try_parse_from(&args) {
                    panic!("{name}: `{example}` does not parse: {e}");
                }
                for w in &args {
                    if w.starts_with("scenarios/") || w.starts_with("results/") {
                        assert!(root.join(w).exists(), "{name}: `{example}`: no {w}");
                    }
                }
            }
            let see = help
                .lines()
                .find_map(|l| l.strip_prefix("See README.md: "))
                .unwrap_or_else(|| panic!("{name}: no `See README.md:` line"));
            let sections: Vec<&str> = see.split('"').skip(1).step_by(2).collect();
            assert!(!sections.is_empty(), "{name}: no section named in `{see}`");
            for section in sections {
                assert!(
                    headings.iter().any(|h| h.trim_matches('`') == section),
                    "{name}: README.md has no section \"{section}\""
                );
            }
            checked += 1;
        }
        assert_eq!(checked, 8, "every subcommand checked");
    }
}

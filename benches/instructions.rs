//! Instruction counts under callgrind, which do not swing with the
//! neighbours of a shared machine the way wall-clock figures do: the event
//! queue in the hold model, one scheduling decision (walking the nodes,
//! or answered by the feasible-node index), one run of the seed scenario
//! and one of the backlog scenario.
//!
//! Each benchmark runs twice in a child process under
//! `valgrind --tool=callgrind`: once doing only its setup (`base`), once
//! doing the setup and the measured work (`full`). Both are deterministic,
//! so the difference of the two totals is the work's instruction count,
//! exactly, with no symbol matching and no client requests. Needs
//! `valgrind` on the `PATH`. `cargo bench --bench instructions [NAME...]`
//! runs the benchmarks whose names contain one of the NAMEs (all without).

use std::hint::black_box;
use std::path::Path;
use std::process::{Command, ExitCode};

use poolsim::engine::{EventQueue, Millis};
use poolsim::kube::WorkloadId;
use poolsim::{Scenario, run_one};

mod support;

/// Hold steps measured.
const STEPS: usize = 100_000;

/// The benchmarks, by name.
const BENCHES: [&str; 10] = [
    "hold-10k-pending",
    "hold-100k-pending",
    "decision-500-nodes-adaptive",
    "decision-500-nodes-all-scored",
    "decision-2000-nodes-adaptive-index",
    "decision-2000-nodes-adaptive-walk",
    "run-seed-deadlock-single-pool-seed-1",
    "run-backlog-churn-single-pool-seed-1",
    "run-seed-deadlock-single-pool-seed-1-no-memo",
    "run-backlog-churn-single-pool-seed-1-no-memo",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, name, mode] = args.as_slice()
        && flag == "--child"
    {
        child(name, mode == "full");
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("instructions: cannot find this benchmark's executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    for name in BENCHES {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let counts = (
            instructions(&exe, name, "base"),
            instructions(&exe, name, "full"),
        );
        match counts {
            (Ok(base), Ok(full)) => println!(
                "{name:<40} {:>15} instructions",
                group_thousands(full.saturating_sub(base))
            ),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("instructions: {name}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// Total instructions (callgrind's `Ir`) of one child process.
fn instructions(exe: &Path, name: &str, mode: &str) -> Result<u64, String> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args(["--child", name, mode])
        .output()
        .map_err(|e| format!("cannot run valgrind (is it installed?): {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("valgrind failed ({}):\n{stderr}", out.status));
    }
    // Callgrind ends with "==PID== Collected : N".
    stderr
        .lines()
        .find_map(|l| {
            l.split_once("Collected :")
                .map(|(_, n)| n.trim().to_string())
        })
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no \"Collected :\" total in valgrind's output:\n{stderr}"))
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One benchmark in this process: its setup, and its work when `full`.
fn child(name: &str, full: bool) {
    match name {
        "hold-10k-pending" => hold(10_000, full),
        "hold-100k-pending" => hold(100_000, full),
        "decision-500-nodes-adaptive" => decision(0, full),
        "decision-500-nodes-all-scored" => decision(100, full),
        "decision-2000-nodes-adaptive-index" => decision_2000(0, full),
        "decision-2000-nodes-adaptive-walk" => decision_2000(usize::MAX, full),
        "run-seed-deadlock-single-pool-seed-1" => one_run("seed-deadlock.toml", true, full),
        "run-backlog-churn-single-pool-seed-1" => one_run("backlog-churn.toml", true, full),
        "run-seed-deadlock-single-pool-seed-1-no-memo" => {
            one_run("seed-deadlock.toml", false, full)
        }
        "run-backlog-churn-single-pool-seed-1-no-memo" => {
            one_run("backlog-churn.toml", false, full)
        }
        _ => panic!("unknown benchmark {name}"),
    }
}

/// `STEPS` hold steps on a queue of `n` pending events.
fn hold(n: usize, full: bool) {
    let inc = support::increments(n);
    let mask = inc.len() - 1;
    let mut q = EventQueue::with_capacity(n + 1);
    for i in 0..n {
        q.push(Millis(inc[i & mask]), i as u32);
    }
    if full {
        for k in 1..=STEPS {
            let (t, e) = q.pop().expect("never empty");
            q.push(Millis(t.0 + inc[k & mask]), black_box(e));
        }
    }
    black_box(q);
}

/// One decision for a new pod on the 500-node steady-state cluster.
fn decision(percentage: u32, full: bool) {
    let mut world = support::cluster(500, percentage);
    if full {
        black_box(world.cluster.decide(black_box(WorkloadId(1))));
    }
    black_box(world);
}

/// One decision for a new pod on a 2,000-node steady-state cluster, the
/// scheduler's feasible-node index used from `index_from` eligible nodes
/// (0: always, `usize::MAX`: never, so the nodes are walked). One decision
/// in the setup builds the index (and the walk's remembered scores), so
/// the measured one is the steady state of a run.
fn decision_2000(index_from: usize, full: bool) {
    let mut world = support::cluster_with(2000, 0, |s| {
        s.kube.scheduler.fit_index_min_nodes = index_from;
    });
    black_box(world.cluster.decide(WorkloadId(1)));
    if full {
        black_box(world.cluster.decide(black_box(WorkloadId(1))));
    }
    black_box(world);
}

/// One run of a shipped scenario, first policy, seed 1, with or without
/// the scheduler's verdict memo (the same history either way).
fn one_run(file: &str, memo: bool, full: bool) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let mut s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    s.kube.scheduler.verdict_memo = memo;
    if full {
        black_box(run_one(&s, 0, 1));
    }
    black_box(s);
}

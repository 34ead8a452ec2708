//! The long fuzz of issue 13: mutated scenario files go through `load`
//! (from a file, as the command line reads them) and the plan, and every
//! accepted mutant is also RUN, each policy with a small event budget.
//! Nothing may panic, hang or take unbounded memory; a rejection must name
//! the file and a key.
//!
//! It runs for a time budget, not a case count: `POOLSIM_FUZZ_SECONDS`
//! (default 60, what `.ci/run` gives it). An hour, logged:
//!
//!     POOLSIM_FUZZ_SECONDS=3600 POOLSIM_FUZZ_LOG=/tmp/fuzz.log \
//!       nice cargo test --release -- --ignored --test-threads 1 fuzz_scenarios_for_a_while
//!
//! Cases are numbered; case `n` is a ChaCha stream seeded with
//! `POOLSIM_FUZZ_FIRST + n` (so a logged case can be replayed with
//! `POOLSIM_FUZZ_FIRST=<case> POOLSIM_FUZZ_SECONDS=1`). A case that takes
//! longer than `POOLSIM_FUZZ_HANG_SECONDS` (default 120) is a hang: its
//! file is kept and the process aborts.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use poolsim::engine::RunLimits;
use poolsim::sim::run_limited;
use poolsim::sweep::{Plan, SweepOptions};
use poolsim::{Scenario, ScenarioError};

use crate::parser_fuzz::{Mutation, TOKENS, apply};
use crate::support::shipped;

/// The files mutated: every shipped scenario small enough to run often.
const SEEDS: &[&str] = &[
    "seed-deadlock.toml",
    "seed-headroom.toml",
    "seed-webhook.toml",
    "seed-alternatives.toml",
    "autoscaler.toml",
    "zone-outage.toml",
    "spot-interruptions.toml",
    "mmc-queue.toml",
];

/// Events each accepted mutant may handle per policy.
const EVENT_BUDGET: u64 = 20_000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's peak resident memory, in kB (Linux; 0 elsewhere).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A number below `n` (the slight modulo bias does not matter here).
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// One random mutation.
fn mutation(rng: &mut ChaCha8Rng) -> Mutation {
    let i = rng.next_u64() as usize;
    match below(rng, 6) {
        0 => Mutation::DeleteLine(i),
        1 => Mutation::DuplicateLine(i),
        2 => Mutation::ReplaceValue(i, below(rng, TOKENS.len())),
        3 => Mutation::DeleteByte(i),
        4 => Mutation::InsertByte(i, rng.next_u64() as u8),
        _ => Mutation::Truncate(i),
    }
}

/// Tallies of a fuzzing session.
#[derive(Debug, Default)]
struct Tally {
    cases: u64,
    /// Accepted by `load` and the plan: exit 0 of `validate`.
    accepted: u64,
    /// Refused with a clear error: exit 2.
    refused: u64,
    /// Refusals that give no line.
    refused_without_line: u64,
    /// Policies run from accepted mutants.
    runs: u64,
    /// Of which stopped by a limit (a `failed` row).
    runs_stopped: u64,
    panics: u64,
    unclear: u64,
    /// The first few distinct keys refused without a line, with a message.
    without_line: Vec<String>,
    slowest_case_ms: u128,
}

impl Tally {
    fn line(&self, elapsed: Duration) -> String {
        format!(
            "elapsed_s={} cases={} accepted(exit0)={} refused(exit2)={} refused_without_line={} runs={} runs_stopped_by_limit={} panics(exit101)={} unclear_errors={} slowest_case_ms={} peak_rss_kb={}",
            elapsed.as_secs(),
            self.cases,
            self.accepted,
            self.refused,
            self.refused_without_line,
            self.runs,
            self.runs_stopped,
            self.panics,
            self.unclear,
            self.slowest_case_ms,
            peak_rss_kb()
        )
    }
}

/// Case `n`: mutate, write, load, plan, and run each policy of what is
/// accepted. Returns an error text for a finding.
fn case(n: u64, seeds: &[String], dir: &std::path::Path, tally: &mut Tally) -> Result<(), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(n);
    let which = below(&mut rng, seeds.len());
    let mut text = seeds[which].clone();
    for _ in 0..1 + below(&mut rng, 5) {
        text = apply(&text, &mutation(&mut rng));
    }
    let file = dir.join("mutant.toml");
    std::fs::write(&file, &text).map_err(|e| e.to_string())?;
    let Some(scenario) = load(n, &file, tally)? else {
        return Ok(());
    };
    if !plan(n, &scenario, &file, tally)? {
        return Ok(());
    }
    run_policies(n, &scenario, tally)
}

/// Loads the mutant: the scenario, `None` for a clear refusal (tallied,
/// with a refusal without a line noted), or an error text for a panic or
/// an unclear error.
fn load(n: u64, file: &std::path::Path, tally: &mut Tally) -> Result<Option<Scenario>, String> {
    match catch_unwind(|| Scenario::load(file)) {
        Err(_) => {
            tally.panics += 1;
            Err(format!("case {n}: load panicked"))
        }
        Ok(Err(ScenarioError::Invalid {
            file: f,
            line,
            key,
            message,
        })) => {
            tally.refused += 1;
            if line.is_none() {
                tally.refused_without_line += 1;
                let seen = tally.without_line.iter().any(|k| k.starts_with(&key));
                if !seen && tally.without_line.len() < 30 {
                    tally.without_line.push(format!("{key}: {message}"));
                }
            }
            if f != file.display().to_string() || key.is_empty() || message.is_empty() {
                tally.unclear += 1;
                return Err(format!("case {n}: unclear error: {key}: {message}"));
            }
            Ok(None)
        }
        Ok(Err(e)) => {
            tally.unclear += 1;
            Err(format!("case {n}: unexpected error kind: {e}"))
        }
        Ok(Ok(s)) => Ok(Some(s)),
    }
}

/// Plans the accepted mutant's sweep: whether it was accepted (a refusal
/// is tallied, one without the file and line noted), or an error text for
/// a panic.
fn plan(
    n: u64,
    scenario: &Scenario,
    file: &std::path::Path,
    tally: &mut Tally,
) -> Result<bool, String> {
    let opts = SweepOptions {
        seeds: Some(1),
        ..SweepOptions::default()
    };
    match catch_unwind(AssertUnwindSafe(|| Plan::new(scenario, &opts))) {
        Err(_) => {
            tally.panics += 1;
            Err(format!("case {n}: plan panicked"))
        }
        Ok(Err(e)) => {
            tally.refused += 1;
            // Grid errors name the file and line in their text.
            let text = e.to_string();
            if !text.contains(&format!("{}:", file.display())) {
                tally.refused_without_line += 1;
                if tally.without_line.len() < 30 {
                    tally.without_line.push(format!("(plan) {text}"));
                }
            }
            Ok(false)
        }
        Ok(Ok(_)) => {
            tally.accepted += 1;
            Ok(true)
        }
    }
}

/// Runs each policy of the accepted mutant within the event budget; an
/// error text for a panic.
fn run_policies(n: u64, scenario: &Scenario, tally: &mut Tally) -> Result<(), String> {
    let limits = RunLimits {
        max_events: EVENT_BUDGET,
        ..RunLimits::default()
    };
    for p in 0..scenario.policies.len() {
        let run = catch_unwind(AssertUnwindSafe(|| {
            run_limited(scenario, p, scenario.first_seed, None, &limits)
        }));
        tally.runs += 1;
        match run {
            Err(_) => {
                tally.panics += 1;
                return Err(format!("case {n}: policy {p} panicked when run"));
            }
            Ok(Err(_)) => tally.runs_stopped += 1,
            Ok(Ok(_)) => {}
        }
    }
    Ok(())
}

/// The long fuzz (ignored by default; `.ci/run` gives it a minute).
#[test]
#[ignore = "long-running fuzz: run with --ignored and POOLSIM_FUZZ_SECONDS"]
fn fuzz_scenarios_for_a_while() {
    let budget = Duration::from_secs(env_u64("POOLSIM_FUZZ_SECONDS", 60));
    let hang = env_u64("POOLSIM_FUZZ_HANG_SECONDS", 120);
    let first = env_u64("POOLSIM_FUZZ_FIRST", 0);
    let mut log: Box<dyn Write> = match std::env::var("POOLSIM_FUZZ_LOG") {
        Ok(path) => Box::new(std::fs::File::create(path).expect("fuzz log")),
        Err(_) => Box::new(std::io::sink()),
    };
    let seeds: Vec<String> = SEEDS
        .iter()
        .map(|f| std::fs::read_to_string(shipped(f)).expect("shipped scenario"))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    // A watchdog: a case running longer than `hang` seconds is a hang.
    static CASE: AtomicU64 = AtomicU64::new(u64::MAX);
    static STARTED_MS: AtomicU64 = AtomicU64::new(0);
    let origin = Instant::now();
    let kept = dir.path().join("mutant.toml");
    let watched = kept.clone();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let now = origin.elapsed().as_millis() as u64;
            let c = CASE.load(Ordering::SeqCst);
            if c != u64::MAX && now.saturating_sub(STARTED_MS.load(Ordering::SeqCst)) > hang * 1000
            {
                let keep = std::env::temp_dir().join(format!("poolsim-fuzz-hang-{c}.toml"));
                let _ = std::fs::copy(&watched, &keep);
                eprintln!(
                    "HANG: case {c} ran over {hang} s; its file is {}",
                    keep.display()
                );
                std::process::abort();
            }
        }
    });
    let mut tally = Tally::default();
    let mut findings = Vec::new();
    let mut last_line = Instant::now();
    let mut n = first;
    while origin.elapsed() < budget {
        STARTED_MS.store(origin.elapsed().as_millis() as u64, Ordering::SeqCst);
        CASE.store(n, Ordering::SeqCst);
        let start = Instant::now();
        tally.cases += 1;
        if let Err(f) = case(n, &seeds, dir.path(), &mut tally) {
            let keep = std::env::temp_dir().join(format!("poolsim-fuzz-finding-{n}.toml"));
            let _ = std::fs::copy(&kept, &keep);
            let _ = writeln!(log, "FINDING {f} (file {})", keep.display());
            findings.push(f);
        }
        tally.slowest_case_ms = tally.slowest_case_ms.max(start.elapsed().as_millis());
        if last_line.elapsed() > Duration::from_secs(60) {
            let _ = writeln!(log, "{}", tally.line(origin.elapsed()));
            let _ = log.flush();
            last_line = Instant::now();
        }
        n += 1;
    }
    CASE.store(u64::MAX, Ordering::SeqCst);
    let summary = tally.line(origin.elapsed());
    for k in &tally.without_line {
        let _ = writeln!(log, "WITHOUT LINE {k}");
    }
    let _ = writeln!(log, "DONE first_case={first} hangs=0 {summary}");
    let _ = log.flush();
    eprintln!("fuzz: {summary}");
    assert!(findings.is_empty(), "{findings:#?}");
    assert!(tally.cases > 0);
}

//! The sequential search: which candidates get more seeds, when a
//! candidate is decided, and what is pruned.
//!
//! Every candidate runs the same seeds, `first_seed`, `first_seed + 1`,
//! ..., in batches that double (8, 8, 16, 32, ... by default: after a
//! batch a candidate has run twice as many seeds as before it), so any two
//! candidates share a prefix of seeds (common random numbers) and are
//! compared by paired differences over it. After each batch (a *look*) a
//! candidate's requirements are judged at the level of that look
//! ([`super::bounds::look_level`]): it passes when every requirement's
//! upper bound is within its limit, fails when one lower bound is above
//! it, and otherwise stays open for another batch, up to `max_seeds`.
//!
//! Seeds go only where a decision can change the answer. An open candidate
//! waits (gets no seeds this round) while
//! - a candidate that precedes it (fewer nodes in monotone pool sizes,
//!   `Candidate::precedes`) is still open: if that one passes, this one is
//!   dominated; or
//! - an open candidate ranked before it by cost is, by the paired
//!   difference of their costs, no more expensive: if that one passes,
//!   this one cannot be the cheapest.
//!
//! When a candidate passes, the candidates it precedes are pruned as
//! dominated, and open candidates no cheaper than the cheapest passing one
//! stop. When one fails, the candidates that precede it fail with it. The
//! first open candidate by cost never waits, so the search always moves.
//! Everything is decided in a fixed order from the runs alone, so the
//! outcome does not depend on threads.

use crate::metrics::stats::mean_ci;

use super::AdviseError;
use super::bounds::look_level;
use super::requirement::{Judgement, Requirement, RunFacts, judge};

/// How the search spends runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// Chance of passing a candidate that breaks a requirement (and of
    /// failing one that meets it): `1 - confidence`.
    pub alpha: f64,
    /// Seeds of a candidate's first batch.
    pub first_batch: usize,
    /// Seeds after which an open candidate is left undecided.
    pub max_seeds: usize,
    /// Runs in all.
    pub budget: usize,
    /// Prune by the monotonicity of pool sizes.
    pub prune: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            alpha: 0.05,
            first_batch: 8,
            max_seeds: 4096,
            budget: 20_000,
            prune: true,
        }
    }
}

/// Where a candidate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not decided yet.
    Open,
    /// Meets every requirement at the confidence asked.
    Pass,
    /// Breaks a requirement at the confidence asked.
    Fail,
    /// Has fewer nodes than the candidate given, which fails.
    FailImplied(usize),
    /// Has more nodes than the candidate given, which passes.
    Dominated(usize),
    /// Costs no less than the candidate given, which passes.
    NotCheaper(usize),
    /// Still open when its seeds or the budget ran out.
    Undecided,
}

impl Status {
    /// A short word for tables and CSV.
    pub fn verdict(&self) -> String {
        match self {
            Status::Open | Status::Undecided => "undecided".into(),
            Status::Pass => "pass".into(),
            Status::Fail => "fail".into(),
            Status::FailImplied(i) => format!("fail (fewer nodes than #{i})"),
            Status::Dominated(i) => format!("pruned (more nodes than #{i}, which passes)"),
            Status::NotCheaper(i) => format!("stopped (costs no less than #{i})"),
        }
    }
}

/// One candidate's runs and standing.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Its runs, seed `first_seed + i` at position `i`.
    pub runs: Vec<RunFacts>,
    /// Looks taken.
    pub looks: u32,
    /// Where it stands.
    pub status: Status,
    /// Each requirement at the last look.
    pub judgements: Vec<Judgement>,
}

/// What the search found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Per candidate.
    pub evaluations: Vec<Evaluation>,
    /// Runs made.
    pub runs: usize,
    /// Rounds of batches.
    pub rounds: usize,
    /// The cheapest passing candidate (ties to the lower number).
    pub recommended: Option<usize>,
    /// Pairs of candidates whose runs contradict an assumed monotonicity.
    pub violations: Vec<String>,
}

/// A snapshot after each round, for progress.
#[derive(Debug, Clone)]
pub struct RoundReport {
    /// Round number (1-based).
    pub round: usize,
    /// Candidates still open.
    pub open: usize,
    /// Candidates decided or pruned.
    pub decided: usize,
    /// Runs so far.
    pub runs: usize,
    /// The cheapest passing candidate so far and its mean cost in dollars.
    pub best: Option<(usize, f64)>,
}

/// Mean cost in micro-dollars (infinite without runs).
pub fn mean_cost(runs: &[RunFacts]) -> f64 {
    if runs.is_empty() {
        return f64::INFINITY;
    }
    runs.iter().map(|r| r.cost_micro_usd as f64).sum::<f64>() / runs.len() as f64
}

/// Mean and 95 % Student-t interval of `get(a) - get(b)` over the seeds
/// both ran.
pub fn paired(a: &[RunFacts], b: &[RunFacts], get: fn(&RunFacts) -> f64) -> (f64, f64, f64) {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| get(x) - get(y)).collect();
    mean_ci(&d)
}

/// A run's cost in micro-dollars.
pub fn cost_of(r: &RunFacts) -> f64 {
    r.cost_micro_usd as f64
}

/// 1 for a deadlocked or failed run.
pub fn deadlock_of(r: &RunFacts) -> f64 {
    if r.deadlocked || !r.ok { 1.0 } else { 0.0 }
}

/// `a` costs no less than `b`: the paired difference is significantly
/// positive, or exactly zero on every shared seed.
fn no_cheaper(a: &[RunFacts], b: &[RunFacts]) -> bool {
    let (_, lo, _) = paired(a, b, cost_of);
    lo >= 0.0
}

/// Runs the search over `count` candidates, where `precedes(b, c)` says
/// that candidate `b` has no more nodes than `c` in monotone pool sizes
/// (and is otherwise equal). `run` makes runs: `(candidate, seed offset)`
/// to facts, in the order asked.
pub fn search(
    count: usize,
    precedes: impl Fn(usize, usize) -> bool,
    requirements: &[Requirement],
    rules: &Rules,
    mut run: impl FnMut(&[(usize, usize)]) -> Result<Vec<RunFacts>, AdviseError>,
    mut on_round: impl FnMut(&RoundReport),
) -> Result<Outcome, AdviseError> {
    let mut ev: Vec<Evaluation> = (0..count)
        .map(|_| Evaluation {
            runs: Vec::new(),
            looks: 0,
            status: Status::Open,
            judgements: Vec::new(),
        })
        .collect();
    let prec = |b: usize, c: usize| rules.prune && b != c && precedes(b, c);
    let mut spent = 0;
    let mut rounds = 0;
    loop {
        let active = choose_active(&ev, &prec);
        let jobs = plan_jobs(&ev, &active, rules, spent);
        if jobs.is_empty() {
            break;
        }
        rounds += 1;
        let facts = run(&jobs)?;
        spent += jobs.len();
        for (&(c, _), f) in jobs.iter().zip(facts) {
            ev[c].runs.push(f);
        }
        let mut judged: Vec<usize> = jobs.iter().map(|&(c, _)| c).collect();
        judged.dedup();
        for &c in &judged {
            judge_look(&mut ev[c], requirements, rules);
        }
        for &c in &judged {
            propagate(&mut ev, c, &prec);
        }
        let best = cheapest_pass(&ev);
        if let Some(b) = best {
            retire_dearer(&mut ev, b);
        }
        on_round(&RoundReport {
            round: rounds,
            open: ev.iter().filter(|e| e.status == Status::Open).count(),
            decided: ev.iter().filter(|e| e.status != Status::Open).count(),
            runs: spent,
            best: best.map(|b| (b, mean_cost(&ev[b].runs) / 1e6)),
        });
    }
    for e in &mut ev {
        if e.status == Status::Open {
            e.status = Status::Undecided;
        }
    }
    let recommended = cheapest_pass(&ev);
    let violations = check_monotonicity(&ev, &precedes);
    Ok(Outcome {
        evaluations: ev,
        runs: spent,
        rounds,
        recommended,
        violations,
    })
}

/// The open candidates that get seeds this round, by number: those not
/// waiting behind an open candidate with fewer nodes nor behind an open
/// candidate ranked before them by cost and no dearer. The first open
/// candidate by cost never waits.
fn choose_active(ev: &[Evaluation], prec: &impl Fn(usize, usize) -> bool) -> Vec<usize> {
    let open: Vec<usize> = (0..ev.len())
        .filter(|&c| ev[c].status == Status::Open)
        .collect();
    let mut ranked = open.clone();
    ranked.sort_by(|&a, &b| {
        mean_cost(&ev[a].runs)
            .total_cmp(&mean_cost(&ev[b].runs))
            .then(a.cmp(&b))
    });
    let mut active: Vec<usize> = ranked
        .iter()
        .enumerate()
        .filter(|&(pos, &c)| {
            let after_open_predecessor = open.iter().any(|&b| prec(b, c));
            let behind_no_dearer = ranked[..pos].iter().any(|&b| {
                !ev[b].runs.is_empty()
                    && !ev[c].runs.is_empty()
                    && no_cheaper(&ev[c].runs, &ev[b].runs)
            });
            !after_open_predecessor && !behind_no_dearer
        })
        .map(|(_, &c)| c)
        .collect();
    if active.is_empty()
        && let Some(&first) = ranked.first()
    {
        active.push(first);
    }
    active.sort_unstable();
    active
}

/// The next batch of each active candidate (as many seeds as it has run,
/// `first_batch` at first), within `max_seeds` and the budget, candidates
/// in number order.
fn plan_jobs(
    ev: &[Evaluation],
    active: &[usize],
    rules: &Rules,
    spent: usize,
) -> Vec<(usize, usize)> {
    let mut jobs: Vec<(usize, usize)> = Vec::new();
    for &c in active {
        let have = ev[c].runs.len();
        let want = if have == 0 { rules.first_batch } else { have };
        let want = want
            .min(rules.max_seeds.saturating_sub(have))
            .min(rules.budget.saturating_sub(spent + jobs.len()));
        jobs.extend((have..have + want).map(|s| (c, s)));
    }
    jobs
}

/// One more look at a candidate: every requirement judged at the look's
/// level; any failure fails it, all passes pass it, and an open candidate
/// out of seeds is undecided.
fn judge_look(e: &mut Evaluation, requirements: &[Requirement], rules: &Rules) {
    e.looks += 1;
    let level = look_level(rules.alpha, e.looks);
    e.judgements = requirements
        .iter()
        .map(|r| judge(r, &e.runs, level))
        .collect();
    if e.judgements.iter().any(|j| j.fail) {
        e.status = Status::Fail;
    } else if e.judgements.iter().all(|j| j.pass) {
        e.status = Status::Pass;
    } else if e.runs.len() >= rules.max_seeds {
        e.status = Status::Undecided;
    }
}

/// A pass prunes the open candidates with more nodes; a failure fails the
/// open candidates with fewer.
fn propagate(ev: &mut [Evaluation], c: usize, prec: &impl Fn(usize, usize) -> bool) {
    let status = ev[c].status;
    for (d, e) in ev.iter_mut().enumerate() {
        if e.status != Status::Open {
            continue;
        }
        match status {
            Status::Pass if prec(c, d) => e.status = Status::Dominated(c),
            Status::Fail if prec(d, c) => e.status = Status::FailImplied(c),
            _ => {}
        }
    }
}

/// Stops the open candidates ranked after the cheapest pass `b` that are,
/// by the paired difference of their costs, no cheaper than it.
fn retire_dearer(ev: &mut [Evaluation], b: usize) {
    let cost_b = mean_cost(&ev[b].runs);
    let best_runs = ev[b].runs.clone();
    for (c, e) in ev.iter_mut().enumerate() {
        let after = (mean_cost(&e.runs), c) > (cost_b, b);
        if e.status == Status::Open
            && !e.runs.is_empty()
            && after
            && no_cheaper(&e.runs, &best_runs)
        {
            e.status = Status::NotCheaper(b);
        }
    }
}

/// The passing candidate with the lowest mean cost, ties to the lower
/// number.
fn cheapest_pass(ev: &[Evaluation]) -> Option<usize> {
    (0..ev.len())
        .filter(|&c| ev[c].status == Status::Pass)
        .min_by(|&a, &b| {
            mean_cost(&ev[a].runs)
                .total_cmp(&mean_cost(&ev[b].runs))
                .then(a.cmp(&b))
        })
}

/// Tests the assumed monotonicity on the runs made: for every pair where
/// `b` precedes `c` (fewer nodes) and both ran at least two shared seeds,
/// `c` must not deadlock significantly more often nor cost significantly
/// less, by the paired differences over the shared seeds.
pub fn check_monotonicity(
    ev: &[Evaluation],
    precedes: impl Fn(usize, usize) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let ran: Vec<usize> = (0..ev.len()).filter(|&c| ev[c].runs.len() >= 2).collect();
    for &b in &ran {
        for &c in &ran {
            if b == c || !precedes(b, c) {
                continue;
            }
            let (d, lo, _) = paired(&ev[c].runs, &ev[b].runs, deadlock_of);
            if lo > 0.0 {
                out.push(format!(
                    "#{c} has more nodes than #{b} but deadlocks more often (paired difference {d:+.3}, 95% interval lower bound {lo:+.3})"
                ));
            }
            let (d, _, hi) = paired(&ev[c].runs, &ev[b].runs, cost_of);
            if hi < 0.0 {
                out.push(format!(
                    "#{c} has more nodes than #{b} but costs less (paired difference {:+.4} USD)",
                    d / 1e6
                ));
            }
        }
    }
    out
}

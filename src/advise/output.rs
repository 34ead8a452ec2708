//! What the advisor writes: the console table, `advise.csv`, the figure
//! (`advise.svg`: cost against deadlock rate with intervals, the Pareto
//! front highlighted) and the recommended scenario as a runnable file.
//!
//! Intervals shown are plain two-sided ones at the confidence asked
//! (Wilson for the deadlock rate, order statistics for percentiles); the
//! verdicts come from the sequential rule, whose levels are stricter.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::report::svg::{Chart, Series, Style};
use crate::scenario::overrides::display;
use crate::sweep::{write_atomically, write_csv};

use super::bounds::{nearest_rank, quantile_bounds, wilson_bounds, z_upper};
use super::requirement::Metric;
use super::search::{Outcome, RoundReport, cost_of, deadlock_of, mean_cost, paired};
use super::{Advice, AdviseError, Candidate};

/// The per-candidate CSV.
pub const ADVISE_CSV: &str = "advise.csv";
/// The figure.
pub const ADVISE_SVG: &str = "advise.svg";
/// The recommended scenario.
pub const RECOMMENDED_FILE: &str = "recommended.toml";
/// Seeds the recommended scenario runs, all beyond those the advisor used.
pub const RECHECK_SEEDS: u32 = 1000;

/// The progress line after a round.
pub fn round_line(r: &RoundReport, candidates: &[Candidate]) -> String {
    let best = r.best.map_or("none yet".to_string(), |(b, cost)| {
        format!("#{b} {} (${cost:.2})", candidates[b].label())
    });
    format!(
        "poolsim advise: round {}: {} open, {} decided, {} runs; cheapest passing: {best}",
        r.round, r.open, r.decided, r.runs
    )
}

/// A candidate's figures for display.
struct Figures {
    runs: usize,
    deadlocks: usize,
    rate: (f64, f64, f64),
    recovery_p95: (Option<f64>, Option<f64>, Option<f64>),
    cost: (f64, f64, f64),
    cost_diff: Option<(f64, f64, f64)>,
}

fn figures(o: &Outcome, c: usize, alpha: f64) -> Figures {
    let runs = &o.evaluations[c].runs;
    let n = runs.len();
    let deadlocks = runs.iter().filter(|r| deadlock_of(r) > 0.0).count();
    let (lo, hi) = wilson_bounds(deadlocks as u64, n as u64, z_upper(alpha / 2.0));
    let rate = if n == 0 {
        (f64::NAN, f64::NAN, f64::NAN)
    } else {
        (deadlocks as f64 / n as f64, lo, hi)
    };
    let mut rec: Vec<f64> = runs
        .iter()
        .map(|r| match (r.ok, r.system_recovery) {
            (true, Some(m)) => m.as_secs_f64(),
            _ => f64::INFINITY,
        })
        .collect();
    rec.sort_by(f64::total_cmp);
    let (rlo, rhi) = quantile_bounds(&rec, 0.95, alpha / 2.0);
    let costs: Vec<f64> = runs.iter().map(|r| cost_of(r) / 1e6).collect();
    let (_, cost_lo, cost_hi) = crate::metrics::stats::mean_ci(&costs);
    // The mean from whole micro-dollars, so that equal bills give equal
    // means whatever the number of runs.
    let cost = (mean_cost(runs) / 1e6, cost_lo, cost_hi);
    let cost_diff = o.recommended.map(|b| {
        let (m, l, h) = paired(runs, &o.evaluations[b].runs, cost_of);
        (m / 1e6, l / 1e6, h / 1e6)
    });
    Figures {
        runs: n,
        deadlocks,
        rate,
        recovery_p95: (nearest_rank(&rec, 0.95), rlo, rhi),
        cost,
        cost_diff: cost_diff.filter(|_| n > 0),
    }
}

/// The candidates on the Pareto front of (mean cost, deadlock rate, p95
/// of recovery): those with runs that no other candidate with runs
/// matches or beats on all three and beats on one.
pub fn pareto_front(o: &Outcome) -> Vec<usize> {
    let point = |c: usize| -> [f64; 3] {
        let runs = &o.evaluations[c].runs;
        let rate = runs.iter().map(deadlock_of).sum::<f64>() / runs.len() as f64;
        let mut rec: Vec<f64> = runs
            .iter()
            .map(|r| {
                r.system_recovery
                    .filter(|_| r.ok)
                    .map_or(f64::INFINITY, |m| m.as_secs_f64())
            })
            .collect();
        rec.sort_by(f64::total_cmp);
        [
            mean_cost(runs),
            rate,
            nearest_rank(&rec, 0.95).unwrap_or(f64::INFINITY),
        ]
    };
    let ran: Vec<usize> = (0..o.evaluations.len())
        .filter(|&c| !o.evaluations[c].runs.is_empty())
        .collect();
    let points: Vec<[f64; 3]> = ran.iter().map(|&c| point(c)).collect();
    ran.iter()
        .enumerate()
        .filter(|&(i, _)| {
            !points.iter().any(|q| {
                let p = &points[i];
                q.iter().zip(p).all(|(a, b)| a <= b) && q.iter().zip(p).any(|(a, b)| a < b)
            })
        })
        .map(|(_, &c)| c)
        .collect()
}

fn opt(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.1}"),
        Some(_) => "never".into(),
        None => "-".into(),
    }
}

/// The console table: every candidate, its runs, rates with intervals,
/// cost, paired cost difference to the recommendation, verdict.
pub fn table(a: &Advice) -> String {
    let alpha = 1.0 - a.confidence;
    let pct = a.confidence * 100.0;
    let mut s = String::new();
    let width = a
        .candidates
        .iter()
        .map(|c| c.label().len())
        .max()
        .unwrap_or(9)
        .max(9);
    let _ = writeln!(
        s,
        "{:>4}  {:<width$}  {:>5}  {:>22}  {:>24}  {:>8}  {:>26}  verdict",
        "#",
        "candidate",
        "runs",
        format!("deadlock ({pct:.0}% int.)"),
        "recovery p95 s (int.)",
        "cost $",
        "cost vs recommended $",
    );
    for c in &a.candidates {
        let f = figures(&a.outcome, c.index, alpha);
        let ev = &a.outcome.evaluations[c.index];
        let rate = if f.runs == 0 {
            "-".to_string()
        } else {
            format!("{:.3} [{:.3}, {:.3}]", f.rate.0, f.rate.1, f.rate.2)
        };
        let rec = if f.runs == 0 {
            "-".to_string()
        } else {
            format!(
                "{} [{}, {}]",
                opt(f.recovery_p95.0),
                opt(f.recovery_p95.1),
                opt(f.recovery_p95.2)
            )
        };
        let cost = if f.runs == 0 {
            "-".to_string()
        } else {
            format!("{:.2}", f.cost.0)
        };
        let diff = match f.cost_diff {
            Some((m, l, h)) if l.is_finite() => format!("{m:+.3} [{l:+.3}, {h:+.3}]"),
            Some((m, _, _)) if m.is_finite() => format!("{m:+.3}"),
            _ => "-".into(),
        };
        let mut verdict = ev.status.verdict();
        if a.front.contains(&c.index) {
            verdict.push_str(", front");
        }
        if a.outcome.recommended == Some(c.index) {
            verdict.push_str(", RECOMMENDED");
        }
        let _ = writeln!(
            s,
            "{:>4}  {:<width$}  {:>5}  {:>22}  {:>24}  {:>8}  {:>26}  {verdict}",
            c.index,
            c.label(),
            f.runs,
            rate,
            rec,
            cost,
            diff
        );
    }
    s
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.6}")
    } else {
        String::new()
    }
}

fn csv_rows(a: &Advice) -> (Vec<String>, Vec<Vec<String>>) {
    let alpha = 1.0 - a.confidence;
    let keys: BTreeSet<String> = a
        .candidates
        .iter()
        .flat_map(|c| c.settings.iter().map(|s| s.key.clone()))
        .collect();
    let percentiles: Vec<Metric> = a
        .requirements
        .iter()
        .map(|r| r.metric)
        .filter(|m| m.is_duration())
        .collect();
    let header = csv_header(&keys, &percentiles);
    let rows = a
        .candidates
        .iter()
        .map(|c| csv_row(a, c, &keys, &percentiles, alpha))
        .collect();
    (header, rows)
}

/// The columns of `advise.csv`: the candidate, its changed keys, its
/// figures (with each percentile requirement's), its verdict.
fn csv_header(keys: &BTreeSet<String>, percentiles: &[Metric]) -> Vec<String> {
    let mut header = vec!["candidate".to_string(), "policy".to_string()];
    header.extend(keys.iter().cloned());
    for h in [
        "runs",
        "deadlocks",
        "deadlock_rate",
        "deadlock_rate_lo",
        "deadlock_rate_hi",
        "system_recovery_p95_s",
        "system_recovery_p95_lo",
        "system_recovery_p95_hi",
    ] {
        header.push(h.into());
    }
    for m in percentiles {
        for suffix in ["_s", "_lo", "_hi"] {
            header.push(format!("{}{suffix}", m.name()));
        }
    }
    for h in [
        "cost_usd_mean",
        "cost_usd_lo",
        "cost_usd_hi",
        "cost_diff_usd",
        "cost_diff_lo",
        "cost_diff_hi",
        "verdict",
        "pareto",
        "recommended",
    ] {
        header.push(h.into());
    }
    header
}

/// One candidate's row of `advise.csv`, in [`csv_header`] order.
fn csv_row(
    a: &Advice,
    c: &Candidate,
    keys: &BTreeSet<String>,
    percentiles: &[Metric],
    alpha: f64,
) -> Vec<String> {
    let f = figures(&a.outcome, c.index, alpha);
    let runs = &a.outcome.evaluations[c.index].runs;
    let mut r = vec![c.index.to_string(), c.policy_name.clone()];
    for k in keys {
        r.push(
            c.settings
                .iter()
                .find(|s| &s.key == k)
                .map_or(String::new(), |s| display(&s.value)),
        );
    }
    r.push(f.runs.to_string());
    r.push(f.deadlocks.to_string());
    r.extend([f.rate.0, f.rate.1, f.rate.2].map(num));
    let (e, l, h) = f.recovery_p95;
    r.extend([e, l, h].map(|v| v.map_or(String::new(), num)));
    for m in percentiles {
        let j = super::requirement::judge(
            &super::Requirement {
                metric: *m,
                limit: 0.0,
                text: String::new(),
            },
            runs,
            alpha / 2.0,
        );
        r.push(num(j.estimate));
        r.push(j.low.map_or(String::new(), num));
        r.push(j.high.map_or(String::new(), num));
    }
    r.extend([f.cost.0, f.cost.1, f.cost.2].map(num));
    let (m, l, h) = f.cost_diff.unwrap_or((f64::NAN, f64::NAN, f64::NAN));
    r.extend([m, l, h].map(num));
    r.push(a.outcome.evaluations[c.index].status.verdict());
    r.push(a.front.contains(&c.index).to_string());
    r.push((a.outcome.recommended == Some(c.index)).to_string());
    r
}

/// Cost against deadlock rate, each candidate with runs a point with its
/// interval; the Pareto front and the recommendation drawn apart, and the
/// deadlock-rate limit as a dashed line.
pub fn chart(a: &Advice, scenario: &str) -> Chart {
    let alpha = 1.0 - a.confidence;
    let mut chart = Chart {
        title: format!("{scenario}: cost versus deadlock rate of each candidate"),
        x_label: "mean cost per run (USD)".into(),
        y_label: format!(
            "deadlock rate ({:.0}% Wilson interval)",
            a.confidence * 100.0
        ),
        ..Chart::default()
    };
    let mut others = Series::new("candidates", Style::Points, 5);
    let mut front = Series::new("Pareto front", Style::Points, 1);
    let mut rec = Series::new("recommended", Style::Points, 2);
    let mut xs = Vec::new();
    for c in &a.candidates {
        let f = figures(&a.outcome, c.index, alpha);
        if f.runs == 0 {
            continue;
        }
        let (x, y) = (f.cost.0, f.rate.0);
        xs.push(x);
        let target = if a.outcome.recommended == Some(c.index) {
            &mut rec
        } else if a.front.contains(&c.index) {
            &mut front
        } else {
            &mut others
        };
        target.points.push((x, y));
        target.error_bars.push((x, f.rate.1, f.rate.2));
    }
    chart.series.extend([others, front, rec]);
    if let Some(r) = a
        .requirements
        .iter()
        .find(|r| r.metric == Metric::DeadlockRate)
    {
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() {
            let mut limit = Series::new(format!("limit {}", r.limit), Style::Line, 6);
            limit.dashed = true;
            limit.points = vec![(lo, r.limit), (hi, r.limit)];
            chart.series.push(limit);
        }
    }
    chart.y_range = Some((0.0, 1.0));
    chart
}

/// The recommended candidate as a scenario file: its policy alone, its
/// settings applied, every default resolved, and `RECHECK_SEEDS` seeds
/// starting beyond every seed the advisor ran, so that `poolsim run` on it
/// checks the recommendation on fresh seeds.
fn recommended_text(a: &Advice, c: &Candidate) -> Result<String, AdviseError> {
    let mut file = crate::scenario::resolved_file(&c.scenario);
    file.name = format!("{}-recommended", file.name);
    file.sweep = None;
    file.policies.retain(|p| p.name.get_ref() == &c.policy_name);
    let used = a
        .outcome
        .evaluations
        .iter()
        .map(|e| e.runs.len() as u64)
        .max()
        .unwrap_or(0);
    file.seeds = Some(RECHECK_SEEDS);
    file.first_seed = Some(a.first_seed + used);
    let body = toml::to_string(&file).map_err(|e| AdviseError::BadOption(e.to_string()))?;
    let reqs: Vec<&str> = a.requirements.iter().map(|r| r.text.as_str()).collect();
    Ok(format!(
        "# Recommended by `poolsim advise` {}: candidate #{} ({}), the cheapest that met {} at {:.0}% confidence.\n\
         # Its seeds start after the last one the advisor used: `poolsim run` on this file checks it on {} fresh seeds.\n{body}",
        env!("CARGO_PKG_VERSION"),
        c.index,
        c.label(),
        reqs.join(" and "),
        a.confidence * 100.0,
        RECHECK_SEEDS
    ))
}

/// Writes `advise.csv`, `advise.svg` and, if a candidate passed,
/// `recommended.toml`.
pub(super) fn write_all(a: &mut Advice) -> Result<(), AdviseError> {
    let (header, rows) = csv_rows(a);
    write_atomically(
        &a.dir.join(ADVISE_CSV),
        &write_csv(&header, rows.into_iter()),
    )
    .map_err(AdviseError::Sweep)?;
    let name = a
        .candidates
        .first()
        .map(|c| c.scenario.name.clone())
        .unwrap_or_default();
    let mut panel = chart(a, &name);
    // The figure carries the title; the panel keeps only its axes.
    let title = std::mem::take(&mut panel.title);
    let figure = crate::report::figure::Figure::single(title, panel);
    write_atomically(&a.dir.join(ADVISE_SVG), figure.render().as_bytes())
        .map_err(AdviseError::Sweep)?;
    let path = a.dir.join(RECOMMENDED_FILE);
    match a.outcome.recommended {
        Some(r) => {
            let text = recommended_text(a, &a.candidates[r])?;
            write_atomically(&path, text.as_bytes()).map_err(AdviseError::Sweep)?;
            a.recommended_file = Some(path);
        }
        None => {
            // A recommendation of an earlier advice must not outlive it.
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(())
}

/// Nodes a candidate starts with: the sum of its pools' desired sizes.
pub fn nodes(c: &Candidate) -> u32 {
    c.scenario.policies[c.policy]
        .pools
        .iter()
        .map(|p| p.desired)
        .sum()
}

/// The whole report: the table, the Pareto front, the recommendation and
/// how it compares (paired, on shared seeds) with the other policies'
/// candidates of the same number of nodes, any contradicted monotonicity,
/// and the files written.
pub fn summary(a: &Advice) -> String {
    let mut s = table(a);
    let o = &a.outcome;
    let _ = writeln!(
        s,
        "\n{} candidates, {} runs in {} rounds ({} reused from {}).",
        a.candidates.len(),
        o.runs,
        o.rounds,
        a.reused,
        super::exec::RUNS_FILE
    );
    let front: Vec<String> = a
        .front
        .iter()
        .map(|&c| format!("#{c} {}", a.candidates[c].label()))
        .collect();
    let _ = writeln!(
        s,
        "Pareto front (mean cost, deadlock rate, recovery p95): {}",
        if front.is_empty() {
            "none".to_string()
        } else {
            front.join("; ")
        }
    );
    recommendation(a, &mut s);
    for v in &o.violations {
        let _ = writeln!(
            s,
            "warning: monotonicity contradicted: {v}; pruning may have been wrong, run again with --no-prune"
        );
    }
    let written = [
        ADVISE_CSV,
        ADVISE_SVG,
        super::exec::RUNS_FILE,
        super::exec::PLAN_FILE,
    ]
    .map(|f| a.dir.join(f));
    for path in written.iter().chain(&a.recommended_file) {
        let _ = writeln!(s, "wrote {}", path.display());
    }
    s
}

/// The recommendation and its paired comparison with the other policies'
/// candidates of the same number of nodes, or why there is none.
fn recommendation(a: &Advice, s: &mut String) {
    let o = &a.outcome;
    let alpha = 1.0 - a.confidence;
    let reqs: Vec<&str> = a.requirements.iter().map(|r| r.text.as_str()).collect();
    let Some(r) = o.recommended else {
        let undecided = o
            .evaluations
            .iter()
            .filter(|e| e.status == super::Status::Undecided)
            .count();
        let _ = writeln!(
            s,
            "No candidate met {} at {:.0}% confidence ({undecided} undecided: raise --budget-runs or --max-seeds, or widen the space).",
            reqs.join(" and "),
            a.confidence * 100.0
        );
        return;
    };
    let c = &a.candidates[r];
    let f = figures(o, r, alpha);
    let _ = writeln!(
        s,
        "Recommended: #{r} {} ({} nodes): deadlock rate {:.4} [{:.4}, {:.4}] over {} runs, recovery p95 {} s, ${:.2} per run; meets {} at {:.0}% confidence.",
        c.label(),
        nodes(c),
        f.rate.0,
        f.rate.1,
        f.rate.2,
        f.runs,
        opt(f.recovery_p95.0),
        f.cost.0,
        reqs.join(" and "),
        a.confidence * 100.0
    );
    for other in &a.candidates {
        if other.policy == c.policy
            || nodes(other) != nodes(c)
            || o.evaluations[other.index].runs.is_empty()
        {
            continue;
        }
        let (ra, rb) = (&o.evaluations[other.index].runs, &o.evaluations[r].runs);
        let shared = ra.len().min(rb.len());
        let (dc, dcl, dch) = paired(rb, ra, cost_of);
        let (dd, ddl, ddh) = paired(rb, ra, deadlock_of);
        let _ = writeln!(
            s,
            "  against #{} {} (same {} nodes, {} shared seeds): cost {:+.3} [{:+.3}, {:+.3}] $ per run, deadlock rate {:+.3} [{:+.3}, {:+.3}] (paired differences, recommended minus it; verdict of #{}: {})",
            other.index,
            other.label(),
            nodes(c),
            shared,
            dc / 1e6,
            dcl / 1e6,
            dch / 1e6,
            dd,
            ddl,
            ddh,
            other.index,
            o.evaluations[other.index].status.verdict()
        );
    }
}

//! Validation against queueing theory: `scenarios/mmc-queue.toml` is an
//! M/M/c queue (Poisson Job arrivals, exponential work, c = 4 nodes with
//! room for one pod each). Its mean wait must match Erlang C within the 95 %
//! interval over seeds, and Little's law must hold on every sample path.

use rayon::prelude::*;

use poolsim::Scenario;
use poolsim::engine::Millis;
use poolsim::metrics::stats::mean_ci;
use poolsim::sim::World;

use crate::support::shipped;

const SERVERS: u32 = 4;
/// Mean service time: one hour.
const MEAN_SERVICE_H: f64 = 1.0;
/// Waits are measured for pods created after this warm-up, so the empty
/// start does not bias the mean down (the relaxation time at load 0.95 is a
/// few hundred hours).
const WARM_UP_H: u64 = 1_000;
const HORIZON_H: u64 = 6_000;
const SEEDS: u64 = 40;

/// Erlang C mean wait in queue, in hours, for `c` servers at load `rho`.
fn erlang_c_wait(c: u32, rho: f64) -> f64 {
    let a = rho * f64::from(c);
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..c {
        term *= a / f64::from(k);
        sum += term;
    }
    let last = term * a / f64::from(c) / (1.0 - rho);
    let p_wait = last / (sum + last);
    p_wait * MEAN_SERVICE_H / (f64::from(c) * (1.0 - rho))
}

/// One run: (mean wait in hours of pods created after the warm-up, Little's
/// law residual over the whole run).
fn run(s: &Scenario, seed: u64) -> (f64, f64) {
    let (mut world, mut sim) = World::new(s, 0, seed);
    sim.run_until(&mut world, s.horizon);
    let horizon = s.horizon;
    let warm = Millis::from_secs(WARM_UP_H * 3600);
    let pods = world.cluster.pods();
    let mut waits = Vec::new();
    let mut total_wait_ms = 0u128;
    for p in pods {
        // A pod still waiting at the horizon has waited until the horizon.
        let start = p.started_at.unwrap_or(horizon).min(horizon);
        let wait = start.saturating_sub(p.created_at);
        total_wait_ms += u128::from(wait.0);
        if p.created_at >= warm && p.started_at.is_some() {
            waits.push(wait.as_secs_f64() / 3600.0);
        }
    }
    // Little's law, L = lambda W, holds exactly on a sample path: the time
    // integral of the number waiting equals the sum of the waits.
    let outcome = world.recorder.clone().finish(horizon, s.detection_window);
    let integral_ms = outcome.pending_pod_s * 1000.0;
    let little = (integral_ms - total_wait_ms as f64).abs() / integral_ms.max(1.0);
    (waits.iter().sum::<f64>() / waits.len() as f64, little)
}

fn check_load(rho: f64) {
    let base = std::fs::read_to_string(shipped("mmc-queue.toml")).expect("scenario");
    let rate = rho * f64::from(SERVERS) / MEAN_SERVICE_H;
    let text = base
        .replace("rate_per_hour = 3.2", &format!("rate_per_hour = {rate}"))
        .replace(
            "horizon = \"2000h\"",
            &format!("horizon = \"{HORIZON_H}h\""),
        );
    let s = Scenario::parse(&text, "mmc-queue.toml").unwrap_or_else(|e| panic!("{e}"));
    let results: Vec<(f64, f64)> = (1..=SEEDS)
        .into_par_iter()
        .map(|seed| run(&s, seed))
        .collect();
    for (seed, (_, little)) in results.iter().enumerate() {
        assert!(
            *little < 1e-9,
            "load {rho}, seed {}: Little's law off by {little}",
            seed + 1
        );
    }
    let waits: Vec<f64> = results.iter().map(|r| r.0).collect();
    let (mean, lo, hi) = mean_ci(&waits);
    let theory = erlang_c_wait(SERVERS, rho);
    eprintln!("load {rho}: Erlang C {theory:.4} h, simulated {mean:.4} [{lo:.4}, {hi:.4}]");
    assert!(
        lo <= theory && theory <= hi,
        "load {rho}: Erlang C wait {theory:.4} h outside the simulated 95% interval {mean:.4} [{lo:.4}, {hi:.4}]"
    );
}

/// Erlang C by hand for c = 4, load 0.8 (a = 3.2): sum_{k<4} a^k/k! =
/// 14.781, a^4/4!/(1 - 0.8) = 21.845, so P(wait) = 0.5964 and
/// Wq = 0.5964 / (4 x 0.2) = 0.7455 h.
#[test]
fn erlang_c_formula() {
    assert!((erlang_c_wait(4, 0.8) - 0.7455).abs() < 1e-3);
}

#[test]
fn mmc_wait_matches_erlang_c_at_load_0_5() {
    check_load(0.5);
}

#[test]
fn mmc_wait_matches_erlang_c_at_load_0_8() {
    check_load(0.8);
}

#[test]
fn mmc_wait_matches_erlang_c_at_load_0_95() {
    check_load(0.95);
}

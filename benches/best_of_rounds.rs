//! The figures of `queue.rs` and `scheduler.rs` as the fastest of several
//! rounds: the hold model with poolsim's queue and `radix-heap` (the
//! fastest floor) in alternating rounds, and one scheduling decision on the
//! clusters of `scheduler.rs`.
//!
//! Why besides criterion: the development machine is a shared VM whose
//! speed changes by up to 2x over tens of seconds. Criterion reports a mean
//! over a few seconds, which lands in whichever phase it happens to meet,
//! and it measures one queue after the other, so its ratio between two
//! queues can be off by that much. The fastest round is the least
//! disturbed, and alternating rounds see the same machine. Run with
//! `cargo bench --bench best_of_rounds`.

use std::cmp::Reverse;
use std::hint::black_box;
use std::time::Instant;

use poolsim::engine::{EventQueue, Millis};
use poolsim::kube::WorkloadId;
use poolsim::sim::World;
use radix_heap::RadixHeapMap;

mod support;
use support::{cluster, cluster_topology, increments};

const STEPS: u64 = 100_000;
const ROUNDS: usize = 15;

/// Seconds taken by `f`.
fn timed(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then there is nothing to measure.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    hold();
    decision();
}

/// One scheduling decision for a "medium" pod, fastest of 40 rounds of 500.
fn decision() {
    println!();
    println!("one scheduling decision, fastest of 40 rounds of 500");
    println!("nodes    scored      time       decisions/s");
    for nodes in [500u32, 5000] {
        for (label, percentage) in [("adaptive", 0u32), ("all", 100)] {
            let best = fastest_decision(&mut cluster(nodes, percentage), WorkloadId(1));
            println!(
                "{nodes:>5}    {label:<8}  {:>6.2} us   {:>9.0}",
                best * 1e6,
                1.0 / best
            );
        }
    }
    // A pod with a DoNotSchedule zone spread and a required hostname
    // anti-affinity (workload 3), adaptive percentage.
    let best = fastest_decision(&mut cluster_topology(5000), WorkloadId(3));
    println!(
        " 5000    spread    {:>6.2} us   {:>9.0}   (zone spread + hostname anti-affinity)",
        best * 1e6,
        1.0 / best
    );
}

/// Seconds per decision for a pod of `w`, fastest of 40 rounds of 500.
fn fastest_decision(world: &mut World, w: WorkloadId) -> f64 {
    (0..40)
        .map(|_| {
            timed(|| {
                for _ in 0..500 {
                    black_box(world.cluster.decide(w));
                }
            }) / 500.0
        })
        .fold(f64::MAX, f64::min)
}

/// The hold model, poolsim's queue and `radix-heap` in alternating rounds.
fn hold() {
    println!("hold model, fastest of {ROUNDS} alternating rounds of {STEPS} steps");
    println!("pending    poolsim M/s   radix-heap M/s   poolsim / radix-heap time");
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let inc = increments(n);
        let mask = inc.len() - 1;
        let mut ours = EventQueue::with_capacity(n + 1);
        let mut floor = RadixHeapMap::new();
        for (i, &d) in inc.iter().cycle().take(n).enumerate() {
            ours.push(Millis(d), i as u32);
            floor.push(Reverse(d), i as u32);
        }
        let (mut k_ours, mut k_floor) = (0usize, 0usize);
        let (mut best_ours, mut best_floor) = (f64::MAX, f64::MAX);
        for _ in 0..ROUNDS {
            best_ours = best_ours.min(timed(|| {
                for _ in 0..STEPS {
                    let (t, e) = ours.pop().expect("never empty");
                    k_ours += 1;
                    ours.push(Millis(t.0 + inc[k_ours & mask]), black_box(e));
                }
            }));
            best_floor = best_floor.min(timed(|| {
                for _ in 0..STEPS {
                    let (Reverse(t), e) = floor.pop().expect("never empty");
                    k_floor += 1;
                    floor.push(Reverse(t + inc[k_floor & mask]), black_box(e));
                }
            }));
        }
        let rate = |s: f64| STEPS as f64 / s / 1e6;
        println!(
            "{n:>9}    {:>11.1}   {:>14.1}   {:>6.2}x",
            rate(best_ours),
            rate(best_floor),
            best_ours / best_floor
        );
    }
}

//! What several benchmarks build alike: the scheduling benchmark's cluster
//! and the hold model's pre-drawn increments.

// Each benchmark uses only part of this module.
#![allow(dead_code)]

use poolsim::Scenario;
use poolsim::engine::{Millis, RngStreams, Stream};
use poolsim::sim::World;
use rand::Rng;

/// A cluster of `nodes` m5.2xlarge nodes with 30 pods per node of three
/// sizes, run for 20 minutes so every pod is placed.
pub fn cluster(nodes: u32, percentage: u32) -> World {
    cluster_with(nodes, percentage, |_| {})
}

/// [`cluster`], with `adjust` applied to the scenario before the run (a
/// switch that changes no history, such as the feasible-node index).
pub fn cluster_with(nodes: u32, percentage: u32, adjust: impl FnOnce(&mut Scenario)) -> World {
    build(nodes, percentage, "", adjust)
}

/// [`cluster`] plus a fourth workload, `spread`, of one pod per two nodes
/// with a DoNotSchedule zone spread (maxSkew 1) and a required hostname
/// anti-affinity to itself: the decision issue 15 asks about.
pub fn cluster_topology(nodes: u32) -> World {
    let extra = format!(
        r#"
[[workloads]]
name = "spread"
class = "user"
replicas = {}
cpu = "100m"
memory = "128Mi"
topology_spread = [{{ max_skew = 1, topology_key = "zone" }}]
pod_anti_affinity = {{ required = [{{ workloads = ["spread"], topology_key = "hostname" }}] }}
"#,
        nodes / 2
    );
    build(nodes, 0, &extra, |_| {})
}

fn build(nodes: u32, percentage: u32, extra: &str, adjust: impl FnOnce(&mut Scenario)) -> World {
    let pods = nodes * 10;
    let text = format!(
        r#"
name = "decision"
horizon = "20m"
[instances]
launch_delay = {{ dist = "fixed", value = "30s" }}
boot_delay = {{ dist = "fixed", value = "60s" }}
[kubernetes]
pod_create_interval = "1ms"
pod_create_burst = 1000000
scheduler.decision_time = "1ms"
scheduler.percentage_of_nodes_to_score = {percentage}
[[workloads]]
name = "small"
class = "user"
replicas = {pods}
cpu = "100m"
memory = "128Mi"
[[workloads]]
name = "medium"
class = "user"
replicas = {pods}
cpu = "250m"
memory = "512Mi"
[[workloads]]
name = "large"
class = "user"
replicas = {pods}
cpu = "400m"
memory = "1Gi"
{extra}
[[policies]]
name = "one-pool"
pools = [{{ name = "all", instance_type = "m5.2xlarge", desired = {nodes} }}]
"#
    );
    let mut s = Scenario::parse(&text, "decision.toml").unwrap_or_else(|e| panic!("{e}"));
    adjust(&mut s);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_mins(20));
    assert_eq!(world.cluster.status().pending_user, 0, "every pod placed");
    world
}

/// Pre-drawn increments (exponential-ish, mean ~ N ms) so the RNG is not
/// what we measure.
pub fn increments(n: usize) -> Vec<u64> {
    let mut rng = RngStreams::new(1).stream(Stream::Faults);
    (0..65_536)
        .map(|_| {
            let u: f64 = rng.random();
            (-(1.0 - u).ln() * n as f64) as u64 + 1
        })
        .collect()
}

use poolsim::engine::Millis;
use poolsim::kube::{NodeCondition, PodState};
use poolsim::sim::World;

use crate::support::scenario;

/// Two m5.large nodes (allocatable 1930m: 2000m less 60m + 10m reserved),
/// one DNS pod and two app pods that need it; fixed delays everywhere.
const TWO_NODES: &str = r#"
name = "hand-checked"
horizon = "20m"
[instances]
launch_delay = { dist = "fixed", value = "30s" }
boot_delay = { dist = "fixed", value = "60s" }
replacement_delay = "10s"
[kubernetes]
node_monitor_grace_period = "40s"
# Hand-computed with the Lease renewed at the instant the machine stops.
node_lease_renew_interval = "0s"
pod_startup = { dist = "fixed", value = "5s" }
controller_delay = "1s"
pod_create_interval = "20ms"
scheduler.decision_time = "5ms"
[[workloads]]
name = "dns"
class = "system"
replicas = 1
min_available = 1
cpu = "500m"
memory = "512Mi"
[[workloads]]
name = "app"
class = "user"
replicas = 2
cpu = "1"
memory = "1Gi"
needs = ["dns"]
[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.large", desired = 2 }]
[[faults]]
kind = "terminate_all"
at = "10m"
"#;

#[test]
fn initial_placement_spreads_by_least_allocated() {
    let s = scenario(TWO_NODES);
    for seed in 1..=10 {
        let (mut world, mut sim) = World::new(&s, 0, seed);
        sim.run_until(&mut world, Millis::from_secs(60));
        let pods = world.cluster.pods();
        let node_of = |i: usize| match pods[i].state() {
            PodState::Running(n) => n,
            other => panic!("pod {i} is {other:?}"),
        };
        // Pods are created dns, app-0, app-1 and tried 5 ms apart. DNS goes to
        // either empty node (a tie). app-0 then prefers the empty node
        // (LeastAllocated 48 vs 35 on cpu); app-1 the one with only DNS
        // (1000m + 500m requested there versus 1000m + 1000m).
        assert_ne!(node_of(1), node_of(0), "seed {seed}");
        assert_eq!(node_of(2), node_of(0), "seed {seed}");
        assert_eq!(world.cluster.status().system_services_down, 0);
        // Every pod started 5 s after its binding at 0, 5 and 10 ms.
        assert_eq!(world.recorder.gauges().progressing_user, 2);
    }
}

#[test]
fn replacement_timeline_after_terminate_all() {
    let s = scenario(TWO_NODES);
    let (mut world, mut sim) = World::new(&s, 0, 7);
    sim.run_until(&mut world, s.horizon);
    let nodes = world.cluster.nodes();
    assert_eq!(nodes.len(), 4);
    // Old nodes: heartbeat lost at 600 s, when the instances begin shutting
    // down; the node monitor runs every 5 s and marks them NotReady once
    // 40 s have passed (640 s); the instances are `terminated` after 60 s of
    // `shutting-down` (660 s) and the cloud node lifecycle controller
    // deletes the Nodes at that pass.
    for old in &nodes[..2] {
        assert_eq!(old.condition, NodeCondition::Deleted);
        assert_eq!(old.not_ready_since, Some(Millis::from_secs(640)));
        assert_eq!(old.deleted_at, Some(Millis::from_secs(660)));
    }
    // New nodes: the ASG notices 10 s after the termination (610 s), the
    // launch takes 30 s and the boot 60 s: Ready at 700 s.
    for new in &nodes[2..] {
        assert_eq!(new.joined_at, Millis::from_secs(700));
        assert_eq!(new.condition, NodeCondition::Ready);
    }
    // PodGC runs every 20 s and waits 40 s after the Node's deletion (660 s):
    // 660 and 680 are too early, 700 deletes. The controllers recreate the
    // three pods 1 s later, all at once (within the API client's burst of
    // 30), and each is bound at once and runs 5 s later.
    let replacements: Vec<_> = world.cluster.pods()[3..].to_vec();
    assert_eq!(replacements.len(), 3);
    let mut created: Vec<u64> = replacements.iter().map(|p| p.created_at.0).collect();
    created.sort_unstable();
    assert_eq!(created, vec![701_000, 701_000, 701_000]);
    let dns = replacements
        .iter()
        .find(|p| p.workload.index() == 0)
        .expect("dns recreated");
    let row = poolsim::run_one(&s, 0, 7);
    // Recovery: DNS running minus the fault at 600 s. The three pods share a
    // creation time, so they are bound one scheduling cycle (5 ms) apart in
    // activeQ order (insertion, i.e. the seeded shuffle) and run 5 s later.
    let started = dns.started_at.expect("dns running").0;
    assert!([706_000, 706_005, 706_010].contains(&started));
    let expected = Millis(started) - Millis::from_secs(600);
    assert_eq!(row.outcome.system_recovery, Some(expected));
    assert!(!row.outcome.deadlocked);
    assert_eq!(row.instances_launched, 2);
    // Billing: 2 x 600 s before the fault plus 2 x (1200 - 610) s after it:
    // 2380 s = 0.661 h, at $0.096 per hour.
    assert!((row.instance_hours - 2380.0 / 3600.0).abs() < 1e-9);
    assert!((row.cost_usd - 2380.0 / 3600.0 * 0.096).abs() < 1e-9);
}

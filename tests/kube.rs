//! Kubernetes fidelity with hand-computed expectations: scores, queue order
//! and backoff, preemption victims, the node search, taints.

use poolsim::engine::Millis;
use poolsim::kube::scheduler::{
    SchedulerConfig, SchedulingQueue, balanced_allocation, least_allocated, most_allocated,
};
use poolsim::kube::{PodState, QueueSlot, WorkloadId};
use poolsim::quantity::{Bytes, MilliCpu, Resources};
use poolsim::sim::World;

use crate::support::{policy, scenario};

fn r(mcpu: u64, mib: u64) -> Resources {
    Resources::new(MilliCpu(mcpu), Bytes(mib * Bytes::MI))
}

/// An m5.large as EKS sees it: 2000m less 60m + 10m reserved = 1930m; an
/// incoming pod of 500m / 1024Mi scored on two nodes.
#[test]
fn node_scores_are_kubernetes_integers() {
    let alloc = r(1930, 7000);
    // Node A already holds 1000m / 1024Mi; with the pod: 1500m, 2048Mi.
    let a = r(1500, 2048);
    // Node B holds 200m / 4096Mi; with the pod: 700m, 5120Mi.
    let b = r(700, 5120);
    // LeastAllocated A: cpu (1930-1500)*100/1930 = 43000/1930 = 22;
    // memory (7000-2048)*100/7000 = 495200/7000 = 70; (22+70)/2 = 46.
    assert_eq!(least_allocated(alloc, a), 46);
    // B: cpu 123000/1930 = 63; memory 188000/7000 = 26; (63+26)/2 = 44.
    assert_eq!(least_allocated(alloc, b), 44);
    // MostAllocated A: cpu 150000/1930 = 77; memory 204800/7000 = 29;
    // (77+29)/2 = 53. B: 70000/1930 = 36; 512000/7000 = 73; 109/2 = 54.
    assert_eq!(most_allocated(alloc, a), 53);
    assert_eq!(most_allocated(alloc, b), 54);
    // BalancedAllocation A: f_cpu = 1500/1930 = 0.7772, f_mem = 2048/7000 =
    // 0.2926; std = 0.4846/2 = 0.2423; (1 - 0.2423)*100 = 75.77 -> 75.
    // B: 0.3627 vs 0.7314; std 0.1844; 81.56 -> 81.
    assert_eq!(balanced_allocation(alloc, a), 75);
    assert_eq!(balanced_allocation(alloc, b), 81);
}

/// Backoff is `min(1 s * 2^(attempts-1), 10 s)` after the queue timestamp:
/// 1, 2, 4, 8, then 10 s (capped).
#[test]
fn backoff_doubles_to_ten_seconds() {
    let s = scenario(PREEMPT);
    let (world, _) = World::new(&s, 0, 1);
    let mut pod = world.cluster.pods()[0].clone();
    pod.queue_ts = Millis::from_secs(100);
    let cfg = SchedulerConfig::default();
    let expiry: Vec<u64> = (1..=6)
        .map(|a| {
            pod.attempts = a;
            SchedulingQueue::backoff_expiry(&pod, &cfg).0
        })
        .collect();
    assert_eq!(
        expiry,
        [101_000, 102_000, 104_000, 108_000, 110_000, 110_000]
    );
}

/// One m5.large (1930m). Pods: big 1000m, small-0/1 300m each (priority
/// 0), mid 300m (priority 1000), 1900m in all; then a log agent DaemonSet
/// (500m, system-node-critical) is created 10 s after the node joined.
pub(crate) const PREEMPT: &str = r#"
name = "preempt"
horizon = "5m"
[kubernetes]
pod_startup = { dist = "fixed", value = "5s" }
controller_delay = "10s"
scheduler.decision_time = "5ms"
[[priority_classes]]
name = "user-high"
value = 1000
[[workloads]]
name = "big"
class = "user"
replicas = 1
cpu = "1"
memory = "256Mi"
[[workloads]]
name = "small"
class = "user"
replicas = 2
cpu = "300m"
memory = "256Mi"
[[workloads]]
name = "mid"
class = "user"
replicas = 1
cpu = "300m"
memory = "256Mi"
priority_class = "user-high"
[[workloads]]
name = "agent"
class = "system"
kind = "daemonset"
cpu = "500m"
memory = "256Mi"
priority_class = "system-node-critical"
[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.large", desired = 1 }]
"#;

#[test]
fn queue_order_and_preemption_victims() {
    let s = scenario(PREEMPT);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(9));
    let pods = world.cluster.pods();
    // Pods 0..4 are big, small-0, small-1, mid, all created at 0 with the
    // same queue timestamp. activeQ pops by priority, then timestamp, then
    // insertion: mid (1000) first at 0 ms, then big, small-0, small-1 at 5,
    // 10 and 15 ms; each starts 5 s after binding.
    let started = |i: usize| pods[i].started_at.expect("started").0;
    assert_eq!(
        [started(3), started(0), started(1), started(2)],
        [5_000, 5_005, 5_010, 5_015]
    );
    sim.run_until(&mut world, Millis::from_secs(12));
    // At 10 s the agent (pod 4) fits nowhere: 1930 - 1900 = 30m free.
    // SelectVictimsOnNode removes all four lower-priority pods (1930m free),
    // then reprieves from the most important: mid (priority 1000): 300 +
    // 500 = 800 <= 1930, kept; big (oldest start of priority 0): 800 + 1000
    // = 1800, kept; small-0: 2100 > 1930, victim; small-1 likewise. Victims:
    // the two small pods (not big alone, which would also have made room).
    let pods = world.cluster.pods();
    assert_eq!(pods[4].workload, WorkloadId(3));
    assert!(matches!(pods[1].state(), PodState::Terminating(_)));
    assert!(matches!(pods[2].state(), PodState::Terminating(_)));
    assert!(matches!(pods[0].state(), PodState::Running(_)));
    assert!(matches!(pods[3].state(), PodState::Running(_)));
    assert_eq!(pods[4].nominated, pods[0].state().node());
    assert_eq!(world.cluster.status().preemptions, 2);
    // The victims hold their room for the 30 s grace period: gone at 40 s;
    // that deletion requeues the agent (backoff 1 s from 10 s has expired),
    // bound at 40 s and running at 45 s. The replacements of the small pods
    // (created at 20 s) stay Pending: 1930 - 1300 - 500 = 130m.
    sim.run_until(&mut world, Millis::from_secs(60));
    let pods = world.cluster.pods();
    assert_eq!(pods[4].started_at, Some(Millis::from_secs(45)));
    assert_eq!(pods[1].state(), PodState::Deleted);
    for p in &pods[5..] {
        assert_eq!(p.created_at, Millis::from_secs(20));
        assert_eq!(p.state(), PodState::Pending);
        assert_ne!(p.queue, QueueSlot::None);
    }
    let row = poolsim::run_one(&s, 0, 1);
    assert_eq!(row.preemptions, 2);
}

/// A pod that fits nowhere and sees no cluster event waits in
/// unschedulablePods until the leftover flush (every 30 s, for pods
/// waiting at least 5 min).
#[test]
fn leftover_flush_after_five_minutes() {
    let text = PREEMPT
        .replace("horizon = \"5m\"", "horizon = \"15m\"")
        .replace("priority_class = \"system-node-critical\"\n", "");
    // The agent now has priority 0 and cannot preempt: it fails at 10 s
    // (attempt 1, queue timestamp 10 s). Flushes at 30, 60, ..., 300 s find
    // it waiting less than 5 min; 330 s moves it (backoff expired), it fails
    // again (attempt 2, timestamp 330 s); 630 s moves it again.
    let s = scenario(&text);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(329));
    assert_eq!(world.cluster.pods()[4].attempts, 1);
    assert_eq!(world.cluster.pods()[4].queue_ts, Millis::from_secs(10));
    sim.run_until(&mut world, Millis::from_secs(331));
    assert_eq!(world.cluster.pods()[4].attempts, 2);
    assert_eq!(world.cluster.pods()[4].queue_ts, Millis::from_secs(330));
    sim.run_until(&mut world, Millis::from_secs(700));
    assert_eq!(world.cluster.pods()[4].attempts, 3);
    assert_eq!(world.cluster.pods()[4].queue_ts, Millis::from_secs(630));
    assert_eq!(world.cluster.status().preemptions, 0);
}

/// Taints keep user pods off the tainted system pool; a nodeSelector on
/// system pods alone does not.
const TAINTS: &str = r#"
name = "taints"
horizon = "5m"
[[workloads]]
name = "dns"
class = "system"
replicas = 1
cpu = "100m"
memory = "128Mi"
[[workloads]]
name = "app"
class = "user"
replicas = 6
cpu = "500m"
memory = "256Mi"
[[policies]]
name = "taints"
pools = [
  { name = "system", instance_type = "m5.large", desired = 1, labels = { role = "system" }, taints = [{ key = "role", value = "system", effect = "NoSchedule" }] },
  { name = "user", instance_type = "m5.large", desired = 2, labels = { role = "user" } },
]
placement.system.node_selector = { role = "system" }
placement.system.tolerations = [{ key = "role", value = "system", effect = "NoSchedule" }]
[[policies]]
name = "system-selector-only"
pools = [
  { name = "system", instance_type = "m5.large", desired = 1, labels = { role = "system" } },
  { name = "user", instance_type = "m5.large", desired = 2, labels = { role = "user" } },
]
placement.system.node_selector = { role = "system" }
"#;

#[test]
fn taints_keep_user_pods_off_system_nodes() {
    let s = scenario(TAINTS);
    for (name, user_on_system) in [("taints", false), ("system-selector-only", true)] {
        let (mut world, mut sim) = World::new(&s, policy(&s, name), 1);
        sim.run_until(&mut world, Millis::from_secs(60));
        let c = &world.cluster;
        let on_system = c
            .pods()
            .iter()
            .filter(|p| p.workload == WorkloadId(1))
            .filter_map(|p| p.state().node())
            .any(|n| c.nodes()[n.index()].spec.pool.0 == 0);
        // LeastAllocated spreads 6 app pods over 3 nodes when it may.
        assert_eq!(on_system, user_on_system, "{name}");
    }
}

/// The shipped alternatives scenario writes one summary row per policy; on a
/// few seeds the remedies that separate the classes never deadlock, and a
/// selector on the system side only does.
#[test]
fn seed_alternatives_writes_one_row_per_policy() {
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("o");
    let file = crate::support::shipped("seed-alternatives.toml");
    let o = crate::support::poolsim(&[
        "run",
        file.to_str().unwrap(),
        "--seeds",
        "8",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let rows: Vec<Vec<&str>> = summary
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 11);
    let header: Vec<&str> = summary.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "deadlock_rate").unwrap();
    let rate = |p: &str| -> f64 {
        let row = rows.iter().find(|r| r[0] == p).expect("policy row");
        row[col].parse().unwrap()
    };
    for p in [
        "split-pool",
        "priority-preemption",
        "taints",
        "split-taints",
    ] {
        assert_eq!(rate(p), 0.0, "{p}");
    }
    assert!(rate("system-selector-only") > 0.5);
    let runs = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    assert!(runs.lines().next().unwrap().contains(",preemptions,"));
}

/// The preemption of `queue_order_and_preemption_victims` with a
/// PodDisruptionBudget `min_available = 2` on the two small pods: both
/// Running, so no disruption is allowed and each would violate it. They are
/// tried first for reprieve: small-0 back (300 + 500 = 800 <= 1930),
/// small-1 back (1100); then mid back (1400); big back would need 2400:
/// victim. One victim, big, and no budget broken.
#[test]
fn preemption_respects_a_pdb_where_it_can() {
    let text = PREEMPT.replace(
        "name = \"small\"\nclass = \"user\"\nreplicas = 2\n",
        "name = \"small\"\nclass = \"user\"\nreplicas = 2\npdb = { min_available = 2 }\n",
    );
    let s = scenario(&text);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(12));
    let pods = world.cluster.pods();
    assert!(
        matches!(pods[0].state(), PodState::Terminating(_)),
        "{:?}",
        pods[0].state()
    );
    for (i, p) in pods.iter().enumerate().take(4).skip(1) {
        assert!(matches!(p.state(), PodState::Running(_)), "pod {i}");
    }
    assert_eq!(world.cluster.status().preemptions, 1);
}

/// 300 empty nodes: kube-scheduler looks for max(100, 300 * (50 - 300/125)
/// / 100) = max(100, 144) = 144 feasible nodes from a start index that
/// advances by the nodes it examined: pod 0 sees nodes 0-143, pod 1 nodes
/// 144-287, pod 2 nodes 288-299 then 0-131 (and every window is all ties).
#[test]
fn percentage_of_nodes_to_score_rotates_the_search() {
    assert_eq!(
        poolsim::kube::scheduler::num_feasible_nodes_to_find(300, 0),
        144
    );
    let s = scenario(
        r#"
name = "wide"
horizon = "1m"
[[workloads]]
name = "app"
class = "user"
replicas = 3
cpu = "100m"
memory = "128Mi"
[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.large", desired = 300 }]
"#,
    );
    for seed in 1..=5 {
        let (mut world, mut sim) = World::new(&s, 0, seed);
        sim.run_until(&mut world, Millis::from_secs(1));
        let node = |i: usize| world.cluster.pods()[i].state().node().expect("bound").0;
        assert!(node(0) < 144, "seed {seed}");
        assert!((144..288).contains(&node(1)), "seed {seed}");
        assert!(node(2) >= 288 || node(2) < 132, "seed {seed}");
    }
}

/// selectHost picks uniformly among the nodes with the highest score, and
/// only among them. 12 empty m5.large nodes, 4 of them holding one pod of
/// another workload: the 8 empty ones tie at the top. Over 8,000 decisions
/// (without binding) each empty node is picked 1,000 times on average; a
/// chi-square statistic over the 8 counts (7 degrees of freedom) above
/// 24.3 would happen with probability 0.001 if the choice were uniform.
#[test]
fn ties_are_broken_uniformly_among_the_maxima() {
    let s = scenario(
        r#"
name = "ties"
horizon = "1m"
[[workloads]]
name = "filler"
class = "user"
replicas = 4
cpu = "1"
memory = "1Gi"
[[workloads]]
name = "app"
class = "user"
replicas = 0
cpu = "100m"
memory = "128Mi"
[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.large", desired = 12 }]
"#,
    );
    let (mut world, mut sim) = World::new(&s, 0, 7);
    sim.run_until(&mut world, Millis::from_secs(1));
    let c = &world.cluster;
    let busy: Vec<bool> = c.nodes().iter().map(|n| !n.pods.is_empty()).collect();
    assert_eq!(
        busy.iter().filter(|&&b| b).count(),
        4,
        "one filler per node"
    );
    let mut counts = vec![0u32; c.nodes().len()];
    for _ in 0..8000 {
        let n = world.cluster.decide(WorkloadId(1)).expect("feasible");
        counts[n.index()] += 1;
    }
    let empty: Vec<u32> = (0..counts.len())
        .filter(|&i| !busy[i])
        .map(|i| counts[i])
        .collect();
    assert_eq!(
        empty.iter().sum::<u32>(),
        8000,
        "only empty nodes: {counts:?}"
    );
    let chi2: f64 = empty
        .iter()
        .map(|&o| (f64::from(o) - 1000.0).powi(2) / 1000.0)
        .sum();
    assert!(chi2 < 24.3, "chi-square {chi2:.1} over {empty:?}");
}

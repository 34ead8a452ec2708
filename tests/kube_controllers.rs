//! Kubernetes controllers with hand-computed expectations: DaemonSets and
//! node readiness, the node lifecycle controller's evictions, webhooks,
//! Jobs, drains, and the books balanced under every policy.

use poolsim::engine::Millis;
use poolsim::kube::{NodeCondition, PodState, WorkloadId};
use poolsim::sim::World;

use crate::kube::PREEMPT;
use crate::support::scenario;

/// A CNI DaemonSet gates its node's readiness; a log agent without a
/// priority class loses the race for the room to user pods.
const CNI: &str = r#"
name = "cni"
horizon = "5m"
[kubernetes]
node_monitor_grace_period = "40s"
# Hand-computed with the Lease renewed at the instant the machine stops.
node_lease_renew_interval = "0s"
pod_startup = { dist = "fixed", value = "5s" }
controller_delay = "1s"
[[workloads]]
name = "aws-node"
class = "system"
kind = "daemonset"
network_plugin = true
cpu = "100m"
memory = "128Mi"
[[workloads]]
name = "log-agent"
class = "system"
kind = "daemonset"
cpu = "200m"
memory = "128Mi"
[[workloads]]
name = "app"
class = "user"
replicas = 4
cpu = "450m"
memory = "256Mi"
[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.large", desired = 1 }]
"#;

#[test]
fn network_plugin_gates_readiness_and_log_agent_loses_race() {
    let s = scenario(CNI);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(5));
    // The node joined at 0 NotReady (not-ready:NoSchedule): the app pods
    // (created at 0) cannot use it; aws-node tolerates every taint, is
    // created at 1 s, bound and running at 6 s.
    assert_eq!(world.cluster.nodes()[0].condition, NodeCondition::NotReady);
    assert_eq!(world.cluster.status().ready_nodes, 0);
    sim.run_until(&mut world, Millis::from_secs(60));
    let c = &world.cluster;
    assert_eq!(c.nodes()[0].condition, NodeCondition::Ready);
    // Ready at 6 s, the Node update requeues the app pods (backoff expired)
    // and they take 4 x 450m = 1800m of 1930m - 100m; the log agent,
    // created at 7 s (it waited for Ready), finds 30m and stays Pending.
    let agent = c
        .pods()
        .iter()
        .find(|p| p.workload == WorkloadId(1))
        .expect("log agent created");
    assert_eq!(agent.created_at, Millis::from_secs(7));
    assert_eq!(agent.state(), PodState::Pending);
    let apps = c
        .pods()
        .iter()
        .filter(|p| p.workload == WorkloadId(2) && matches!(p.state(), PodState::Running(_)))
        .count();
    assert_eq!(apps, 4);
    let agent = agent.id;
    // The machine vanishes at 60 s: NotReady at 100 s, Node deleted at
    // 105 s, and with it the DaemonSet deletes the agent's unbound pod.
    sim.with_context(|ctx| world.cluster.instance_gone(ctx, poolsim::kube::NodeId(0)));
    sim.run_until(&mut world, Millis::from_secs(104));
    assert_eq!(
        world.cluster.pods()[agent.index()].state(),
        PodState::Pending
    );
    sim.run_until(&mut world, Millis::from_secs(105));
    assert_eq!(
        world.cluster.pods()[agent.index()].state(),
        PodState::Deleted
    );
    assert_eq!(world.cluster.status().pending_system, 0);
}

/// Three m5.large nodes, one per zone, six app pods spread two per node.
const ZONES: &str = r#"
name = "zones"
horizon = "2h"
[kubernetes]
node_monitor_grace_period = "40s"
# Hand-computed with the Lease renewed at the instant the machine stops.
node_lease_renew_interval = "0s"
pod_startup = { dist = "fixed", value = "5s" }
controller_delay = "1s"
terminated_instance_visible_for = "1h"
[[workloads]]
name = "app"
class = "user"
replicas = 6
cpu = "500m"
memory = "256Mi"
[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.large", desired = 3 }]
"#;

/// One node's machine vanishes at 100 s while the terminated instance stays
/// visible (so the Node is not deleted). The node monitor (every 5 s) finds
/// 40 s without heartbeat at 140 s: Ready=Unknown, `unreachable`. Its zone
/// is fully disrupted but the other two are not, so the zone's tainter
/// (0.1 nodes/s, first token free) adds `unreachable:NoExecute` at 140 s;
/// the pods' default 300 s toleration runs out at 440 s and their
/// replacements are created 1 s later.
#[test]
fn eviction_after_default_toleration() {
    let s = scenario(ZONES);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(100));
    let node = world.cluster.pods()[0].state().node().expect("bound");
    sim.with_context(|ctx| world.cluster.instance_unreachable(ctx, node));
    sim.run_until(&mut world, Millis::from_secs(439));
    let n = &world.cluster.nodes()[node.index()];
    assert_eq!(n.not_ready_since, Some(Millis::from_secs(140)));
    assert_eq!(n.no_execute_since, Some(Millis::from_secs(140)));
    assert_eq!(world.cluster.status().evictions, 0);
    sim.run_until(&mut world, Millis::from_secs(500));
    assert_eq!(world.cluster.status().evictions, 2);
    let replacements: Vec<u64> = world.cluster.pods()[6..]
        .iter()
        .map(|p| p.created_at.0)
        .collect();
    assert_eq!(replacements, [441_000, 441_000]);
}

/// Every machine vanishes: every zone is fully disrupted, so the controller
/// evicts nothing. The Nodes go only when the terminated instances stop
/// being visible, 1 h after the loss (3700 s); PodGC deletes their pods at
/// the first 20 s tick 40 s later (3740 s) and the Deployment recreates
/// them at 3741 s.
#[test]
fn evictions_halt_when_every_zone_is_disrupted() {
    let s = scenario(ZONES);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(100));
    sim.with_context(|ctx| {
        for i in 0..3 {
            world.cluster.instance_gone(ctx, poolsim::kube::NodeId(i));
        }
    });
    sim.run_until(&mut world, Millis::from_secs(3800));
    let c = &world.cluster;
    assert_eq!(c.status().evictions, 0);
    for n in &c.nodes()[..3] {
        assert_eq!(n.no_execute_since, None);
        assert_eq!(n.deleted_at, Some(Millis::from_secs(3700)));
    }
    let created: Vec<u64> = c.pods()[6..].iter().map(|p| p.created_at.0).collect();
    assert_eq!(created.len(), 6);
    assert!(created.iter().all(|&t| (3_741_000..3_742_000).contains(&t)));
}

/// A policy webhook (`failurePolicy: Fail`) gates the app's pods.
const WEBHOOK: &str = r#"
name = "webhook"
horizon = "30m"
[instances]
launch_delay = { dist = "fixed", value = "30s" }
boot_delay = { dist = "fixed", value = "60s" }
replacement_delay = "10s"
[kubernetes]
pod_startup = { dist = "fixed", value = "5s" }
[[workloads]]
name = "gatekeeper"
class = "system"
replicas = 1
min_available = 1
cpu = "200m"
memory = "256Mi"
webhook = { failure_policy = "Fail", workloads = ["app"] }
[[workloads]]
name = "app"
class = "user"
replicas = 3
cpu = "200m"
memory = "256Mi"
[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.large", desired = 2 }]
[[faults]]
kind = "terminate_all"
at = "10m"
"#;

/// After the mass replacement PodGC deletes everything at 700 s and the
/// ReplicaSet controller's informer adds both keys at 701 s; two workers
/// sync them at once. The webhook's pod is created at 701 s (a token of the
/// burst) and runs from 706 s. The app's first create call (701 s) is
/// rejected: failure 1, re-add due at +5 ms. Its key was added twice more
/// during that sync (three pods gone), so `Done` queues it again and it
/// fails at once: failure 2, whose +10 ms re-add is dropped for the sooner
/// one already waiting (client-go's delaying queue). From then on each
/// failure k schedules the next sync 5 ms * 2^(k-1) later: 701.005 (3),
/// 701.025 (4), 701.065 (5), 701.145 (6), 701.305 (7), 701.625 (8),
/// 702.265 (9), 703.545 (10), and the sync at 706.105 succeeds: the three
/// app pods are created then (slow-start batches 1 and 2, tokens to spare).
#[test]
fn webhook_blocks_creation_until_its_service_runs() {
    let s = scenario(WEBHOOK);
    for seed in 1..=5 {
        let (mut world, mut sim) = World::new(&s, 0, seed);
        sim.run_until(&mut world, Millis::from_secs(800));
        let c = &world.cluster;
        let new: Vec<_> = c.pods()[4..].to_vec();
        let gk = new
            .iter()
            .find(|p| p.workload == WorkloadId(0))
            .expect("gk");
        assert_eq!(gk.created_at.0, 701_000, "seed {seed}");
        assert_eq!(gk.started_at.map(|t| t.0), Some(706_000), "seed {seed}");
        let apps: Vec<u64> = new
            .iter()
            .filter(|p| p.workload == WorkloadId(1))
            .map(|p| p.created_at.0)
            .collect();
        assert_eq!(apps, [706_105; 3], "seed {seed}");
        assert_eq!(c.status().webhook_rejections, 10, "seed {seed}");
    }
}

/// First Job: pods 1-2 are bound at 0 and 5 ms (one scheduling cycle
/// each), run from 5 s and 5.005 s and finish at 65 s and 65.005 s; each
/// finish creates the next pod, which runs from 70 s / 70.005 s and
/// finishes at 130 s / 130.005 s: the Job completes at 130.005 s. The
/// second Job (arrives at 100 s) likewise completes at 230.005 s.
#[test]
fn job_completions_and_parallelism() {
    let s = scenario(crate::support::JOBS);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis(130_004));
    assert_eq!(world.cluster.status().jobs_completed, 0);
    sim.run_until(&mut world, Millis(130_005));
    assert_eq!(world.cluster.status().jobs_completed, 1);
    sim.run_until(&mut world, Millis(230_004));
    assert_eq!(world.cluster.status().jobs_completed, 1);
    sim.run_until(&mut world, Millis(230_005));
    assert_eq!(world.cluster.status().jobs_completed, 2);
    let pods = world.cluster.pods();
    assert_eq!(pods.len(), 8);
    assert!(pods.iter().all(|p| p.state() == PodState::Succeeded));
    let created: Vec<u64> = pods.iter().map(|p| p.created_at.0 / 1000).collect();
    assert_eq!(created, [0, 0, 65, 65, 100, 100, 165, 165]);
}

/// A trace CSV of arrival times, relative to the scenario file.
#[test]
fn job_arrivals_from_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("arrivals.csv"), "time_s\n0\n30.5\n250\n").unwrap();
    let text = crate::support::JOBS.replace(
        "arrivals = { at = [\"0s\", \"100s\"] }",
        "arrivals = { trace = \"arrivals.csv\" }",
    );
    let file = dir.path().join("jobs.toml");
    std::fs::write(&file, text).unwrap();
    let s = poolsim::Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let row = poolsim::run_one(&s, 0, 1);
    assert!(row.events > 0);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, s.horizon);
    assert_eq!(world.cluster.status().jobs_completed, 3);
    let firsts: Vec<u64> = world
        .cluster
        .pods()
        .iter()
        .map(|p| p.created_at.0)
        .filter(|t| [0, 30_500, 250_000].contains(t))
        .collect();
    assert_eq!(firsts.len(), 6);
    // A bad line names the trace file and its line.
    std::fs::write(dir.path().join("arrivals.csv"), "0\nsoon\n").unwrap();
    let e = poolsim::Scenario::load(&file).unwrap_err().to_string();
    assert!(e.contains("arrivals.csv:2"), "{e}");
}

/// Draining a node respects a PodDisruptionBudget: four app pods, two per
/// node, `min_available = 3`, so one disruption is allowed at a time.
#[test]
fn drain_waits_for_the_pdb() {
    let s = scenario(
        r#"
name = "drain"
horizon = "5m"
[kubernetes]
pod_startup = { dist = "fixed", value = "5s" }
controller_delay = "1s"
[[workloads]]
name = "app"
class = "user"
replicas = 4
cpu = "500m"
memory = "256Mi"
pdb = { min_available = 3 }
[[policies]]
name = "single-pool"
pools = [{ name = "all", instance_type = "m5.xlarge", desired = 2 }]
"#,
    );
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(60));
    let node = world.cluster.pods()[0].state().node().expect("bound");
    // At 60 s: 4 Running, 1 disruption allowed: the first pod on the node is
    // evicted, the second refused. Its replacement is created at 61 s on the
    // other node (this one is cordoned) and runs at 66 s. The retry at 65 s
    // is refused again (3 Running); the one at 70 s succeeds.
    sim.with_context(|ctx| world.cluster.drain(ctx, node));
    assert_eq!(world.cluster.status().drain_evictions, 1);
    sim.run_until(&mut world, Millis(69_999));
    assert_eq!(world.cluster.status().drain_evictions, 1);
    sim.run_until(&mut world, Millis::from_secs(70));
    assert_eq!(world.cluster.status().drain_evictions, 2);
    sim.run_until(&mut world, Millis::from_secs(120));
    let c = &world.cluster;
    let running_elsewhere = c
        .pods()
        .iter()
        .filter(|p| matches!(p.state(), PodState::Running(n) if n != node))
        .count();
    assert_eq!(running_elsewhere, 4);
}

/// A Job pod's work advances only while its needed service is up: the
/// database's machine vanishes at 30 s, 25 s into the pod's 60 s of work,
/// and the pod (still holding its room) never finishes.
#[test]
fn job_work_stops_while_a_needed_service_is_down() {
    let s = scenario(
        r#"
name = "stall"
horizon = "10m"
[kubernetes]
pod_startup = { dist = "fixed", value = "5s" }
[[workloads]]
name = "db"
class = "system"
replicas = 1
min_available = 1
cpu = "500m"
memory = "256Mi"
node_selector = { role = "db" }
[[workloads]]
name = "batch"
class = "user"
kind = "job"
work = { dist = "fixed", value = "60s" }
needs = ["db"]
cpu = "500m"
memory = "256Mi"
node_selector = { role = "work" }
[[policies]]
name = "split"
pools = [
  { name = "db", instance_type = "m5.large", desired = 1, labels = { role = "db" } },
  { name = "work", instance_type = "m5.large", desired = 1, labels = { role = "work" } },
]
"#,
    );
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(30));
    let db_node = world.cluster.pods()[0].state().node().expect("db bound");
    sim.with_context(|ctx| world.cluster.instance_unreachable(ctx, db_node));
    sim.run_until(&mut world, Millis::from_secs(600));
    let c = &world.cluster;
    assert_eq!(c.status().jobs_completed, 0);
    assert!(matches!(c.pods()[1].state(), PodState::Running(_)));
    assert_eq!(c.status().stalled, 1);
}

/// Checks the cluster's books: every node's requested resources are the sum
/// of its bound pods' requests and within its allocatable; bound pods are
/// listed on their node and no other pod is; each workload's Running and
/// Pending counters match its pods.
fn check_books(world: &World, label: &str) {
    use poolsim::quantity::Resources;
    let c = &world.cluster;
    let mut listed = vec![false; c.pods().len()];
    for n in c.nodes() {
        let mut sum = Resources::default();
        for &p in &n.pods {
            assert_eq!(c.pods()[p.index()].state().node(), Some(n.id), "{label}");
            assert!(!listed[p.index()], "{label}: pod on two nodes");
            listed[p.index()] = true;
            sum += c.pods()[p.index()].requests;
        }
        assert_eq!(sum, n.requested, "{label}: node {:?}", n.id);
        assert!(
            n.requested.fits_in(&n.spec.allocatable),
            "{label}: over-committed"
        );
        assert!(n.pods.len() as u32 <= n.spec.max_pods, "{label}");
    }
    assert_eq!(c.snapshot_mismatch(), None, "{label}: scheduler snapshot");
    assert_eq!(
        c.topology_mismatch(),
        None,
        "{label}: spread and affinity counts"
    );
    for (i, p) in c.pods().iter().enumerate() {
        assert_eq!(
            p.state().node().is_some(),
            listed[i],
            "{label}: pod {i} {:?}",
            p.state()
        );
    }
    for (w, wl) in c.workloads().iter().enumerate() {
        let of = |f: fn(&PodState) -> bool| {
            c.pods()
                .iter()
                .filter(|p| p.workload.index() == w && f(&p.state()))
                .count() as u32
        };
        assert_eq!(
            wl.running,
            of(|s| matches!(s, PodState::Running(_))),
            "{label}"
        );
        assert_eq!(
            wl.pending,
            of(|s| matches!(s, PodState::Pending | PodState::Starting(_))),
            "{label}: {}",
            wl.spec.name
        );
    }
}

#[test]
fn books_balance_under_every_policy() {
    let file = crate::support::shipped("seed-alternatives.toml");
    let s = poolsim::Scenario::load(&file).unwrap();
    for p in 0..s.policies.len() {
        for seed in 1..=3 {
            let (mut world, mut sim) = World::new(&s, p, seed);
            for t in [20u64, 31, 33, 40, 120] {
                sim.run_until(&mut world, Millis::from_mins(t));
                check_books(
                    &world,
                    &format!("{} seed {seed} t {t}m", s.policies[p].name),
                );
            }
        }
    }
    for text in [crate::support::JOBS, WEBHOOK, PREEMPT, CNI, ZONES] {
        let s = scenario(text);
        let (mut world, mut sim) = World::new(&s, 0, 1);
        for t in [10u64, 60, 300, 700] {
            sim.run_until(&mut world, Millis::from_secs(t));
            check_books(&world, &format!("{} at {t}s", s.name));
        }
    }
}

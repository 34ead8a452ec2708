//! The cluster autoscaler with fixed delays and hand-worked expectations:
//! scale-up size and group under each expander, backoff of a group whose
//! launches fail and the fallback to another, scale-down after exactly the
//! unneeded time, and none when a pod cannot move.

use poolsim::engine::{Millis, Model, Simulation};
use poolsim::sim::{Event, World};

use crate::support::scenario;

/// Three empty groups and twelve pending pods of 1 cpu / 1Gi; nothing is
/// reserved, so allocatable is the type's size.
///
/// - `a` (2 cpu / 2Gi, max 4): 2 pods per node, so 4 nodes hold 8 pods;
///   least-waste = (8000-8000)/8000 + (8Gi-8Gi)/8Gi = 0.
/// - `b` (8 cpu / 6Gi, max 3): 6 pods per node (memory), so 2 nodes hold
///   all 12; waste = (16000-12000)/16000 + 0 = 0.25.
/// - `c` (4 cpu / 32Gi, max 2, priority 10): 4 pods per node, so 2 nodes
///   hold 8; waste = 0 + (64-8)/64 = 0.875.
///
/// least-waste picks `a` (+4), most-pods `b` (+2), priority `c` (+2).
fn three_groups(expander: &str) -> String {
    format!(
        r#"
name = "expanders"
horizon = "1m"
zones = ["z1"]
[instances]
launch_delay = {{ dist = "fixed", value = "30s" }}
boot_delay = {{ dist = "fixed", value = "30s" }}
reserved_cpu = "0"
reserved_memory = "0"
[[instance_types]]
name = "a-type"
cpu = "2"
memory = "2Gi"
max_pods = 20
price_per_hour = 0.1
[[instance_types]]
name = "b-type"
cpu = "8"
memory = "6Gi"
max_pods = 20
price_per_hour = 0.3
[[instance_types]]
name = "c-type"
cpu = "4"
memory = "32Gi"
max_pods = 20
price_per_hour = 0.3
[[workloads]]
name = "burst"
class = "user"
replicas = 12
cpu = "1"
memory = "1Gi"
[[policies]]
name = "p"
pools = [
  {{ name = "a", instance_type = "a-type", desired = 0, min = 0, max = 4 }},
  {{ name = "b", instance_type = "b-type", desired = 0, min = 0, max = 3 }},
  {{ name = "c", instance_type = "c-type", desired = 0, min = 0, max = 2 }},
]
[policies.autoscaler]
expander = "{expander}"
priorities = {{ c = 10, a = 1 }}
"#
    )
}

/// The desired sizes right after the scan at `t`.
fn desired_at(text: &str, seed: u64, t: Millis) -> (Vec<u32>, World) {
    let s = scenario(text);
    let (mut world, mut sim): (World, Simulation<Event>) = World::new(&s, 0, seed);
    sim.run_until(&mut world, t);
    let d = world.cloud.asgs().iter().map(|g| g.desired()).collect();
    (d, world)
}

/// The first scan (10 s) sees the twelve unschedulable pods and grows one
/// group by the bin-packed size the expander's choice needs.
#[test]
fn each_expander_picks_its_group_and_size() {
    let t = Millis::from_secs(10);
    assert_eq!(desired_at(&three_groups("least-waste"), 1, t).0, [4, 0, 0]);
    assert_eq!(desired_at(&three_groups("most-pods"), 1, t).0, [0, 2, 0]);
    assert_eq!(desired_at(&three_groups("priority"), 1, t).0, [0, 0, 2]);
    // Before the first scan nothing has changed.
    let before = Millis::from_secs(10) - Millis(1);
    assert_eq!(
        desired_at(&three_groups("priority"), 1, before).0,
        [0, 0, 0]
    );
}

/// `random` draws uniformly among the three options: over 30 seeds every
/// group is chosen at least once (a miss has probability 3·(2/3)^30 ≈ 1.5e-5),
/// always with the size the bin packing gives it, and one seed always
/// chooses the same group.
#[test]
fn random_expander_picks_every_group_with_its_size() {
    let t = Millis::from_secs(10);
    let mut seen = [false; 3];
    for seed in 1..=30 {
        let (d, _) = desired_at(&three_groups("random"), seed, t);
        let i = d.iter().position(|&n| n > 0).expect("one group grew");
        assert_eq!(d[i], [4, 2, 2][i], "seed {seed}: {d:?}");
        assert_eq!(d.iter().filter(|&&n| n > 0).count(), 1);
        seen[i] = true;
        assert_eq!(desired_at(&three_groups("random"), seed, t).0, d);
    }
    assert_eq!(seen, [true; 3]);
}

/// After the scale-up the pods fit the upcoming nodes, so later scans add
/// nothing; at 70 s (10 s + 30 s launch + 30 s boot) the four `a` nodes
/// have joined and the remaining four pods go to one more group.
#[test]
fn upcoming_nodes_are_not_requested_twice() {
    let (d, world) = desired_at(&three_groups("least-waste"), 1, Millis::from_secs(50));
    // 10 s: a += 4 (8 pods). 20 s: a is at its max; the 4 other pods fit
    // nothing upcoming, so least-waste among b (1 node, 4 pods: waste
    // 0.5 + 0.333) and c (1 node, 4 pods: 0 + 0.875) picks b, +1.
    assert_eq!(d, [4, 1, 0]);
    let ca = world.autoscaler.as_ref().expect("autoscaler on");
    assert_eq!(ca.scale_ups, 2);
}

/// Group `a` (priority 10) cannot launch at all (insufficient capacity in
/// its only zone for the whole run); `b` can.
const FAILING: &str = r#"
name = "backoff"
horizon = "1h"
zones = ["z1"]
[instances]
launch_delay = { dist = "fixed", value = "30s" }
boot_delay = { dist = "fixed", value = "30s" }
reserved_cpu = "0"
reserved_memory = "0"
insufficient_capacity = [{ zone = "z1", instance_type = "a-type", from = "0s", until = "2h" }]
[[instance_types]]
name = "a-type"
cpu = "2"
memory = "4Gi"
max_pods = 20
price_per_hour = 0.1
[[instance_types]]
name = "b-type"
cpu = "2"
memory = "4Gi"
max_pods = 20
price_per_hour = 0.2
[[workloads]]
name = "burst"
class = "user"
replicas = 4
cpu = "1"
memory = "1Gi"
[[policies]]
name = "p"
pools = [
  { name = "a", instance_type = "a-type", desired = 0, min = 0, max = 5 },
  { name = "b", instance_type = "b-type", desired = 0, min = 0, max = 5 },
]
[policies.autoscaler]
expander = "priority"
priorities = { a = 10, b = 1 }
"#;

/// 10 s: priority picks `a`, 4 pods at 2 per node: desired 2. The ASG's
/// launch fails at once (a `Failed` activity). 20 s: the scan sees it,
/// backs `a` off for 5 min, returns its target to the 0 instances that
/// exist, and scales `b` by 2 instead. `b`'s nodes are up at 80 s (20 s +
/// 30 s + 30 s). With no node registered until then, every attempt was
/// rejected by no plugin (`ErrNoNodesAvailable`), so the pods wait out
/// their backoff (10 s at most) in the error backoffQ rather than for the
/// Node/Add: all run by 80 + 10 + 5 s of start-up.
#[test]
fn failed_group_backs_off_and_another_is_tried() {
    let (d, _) = desired_at(FAILING, 1, Millis::from_secs(10));
    assert_eq!(d, [2, 0]);
    let (d, world) = desired_at(FAILING, 1, Millis::from_secs(20));
    assert_eq!(d, [0, 2]);
    let ca = world.autoscaler.as_ref().unwrap();
    let a = poolsim::kube::PoolId(0);
    assert!(ca.backed_off(a, Millis::from_secs(20)));
    // Backed off for exactly 5 min from the failure at 20 s.
    assert!(ca.backed_off(a, Millis::from_secs(20 + 300) - Millis(1)));
    assert!(!ca.backed_off(a, Millis::from_secs(20 + 300)));
    let (_, world) = desired_at(FAILING, 1, Millis::from_secs(95));
    assert_eq!(world.cluster.status().pending_user, 0);
}

/// Nodes that take 20 min to boot: the scale-up has not produced them by
/// the 15 min max node provision time, so the group is backed off then.
#[test]
fn slow_nodes_back_the_group_off_after_max_provision_time() {
    let text = FAILING
        .replace(
            "insufficient_capacity = [{ zone = \"z1\", instance_type = \"a-type\", from = \"0s\", until = \"2h\" }]",
            "",
        )
        .replace(
            "{ name = \"a\", instance_type = \"a-type\", desired = 0, min = 0, max = 5 }",
            "{ name = \"a\", instance_type = \"a-type\", desired = 0, min = 0, max = 5, boot_delay = { dist = \"fixed\", value = \"20m\" } }",
        );
    // 10 s: a -> 2. Its instances exist but have no nodes; at 10 s + 15 min
    // the request has failed: a is backed off, its two unregistered
    // instances are terminated (target 0), and b grows by 2 for the pods.
    let deadline = Millis::from_secs(10) + Millis::from_mins(15);
    let (d, world) = desired_at(&text, 1, deadline - Millis(1));
    assert_eq!(d, [2, 0]);
    assert!(
        !world
            .autoscaler
            .as_ref()
            .unwrap()
            .backed_off(poolsim::kube::PoolId(0), deadline)
    );
    let (d, world) = desired_at(&text, 1, deadline);
    assert_eq!(d, [0, 2]);
    assert_eq!(world.cloud.asgs()[0].live(), 0);
    assert!(
        world
            .autoscaler
            .as_ref()
            .unwrap()
            .backed_off(poolsim::kube::PoolId(0), deadline)
    );
}

/// Two 2-cpu / 4Gi nodes at start (min 1, max 3), with `workloads`
/// appended and `max_pods` pod slots per node.
fn two_nodes(workloads: &str, max_pods: &str) -> String {
    format!(
        r#"
name = "scale-down"
horizon = "30m"
zones = ["z1"]
[instances]
launch_delay = {{ dist = "fixed", value = "30s" }}
boot_delay = {{ dist = "fixed", value = "30s" }}
reserved_cpu = "0"
reserved_memory = "0"
[kubernetes]
pod_startup = {{ dist = "fixed", value = "5s" }}
[[instance_types]]
name = "small"
cpu = "2"
memory = "4Gi"
max_pods = {max_pods}
price_per_hour = 0.1
{workloads}
[[policies]]
name = "p"
pools = [{{ name = "w", instance_type = "small", desired = 2, min = 1, max = 3 }}]
[policies.autoscaler]
"#
    )
}

/// One user pod of 500m on two nodes: utilization 0.25 and 0. The empty
/// node is unneeded from the first scan (10 s); the delays after add,
/// delete and failure (10, 0, 3 min) count from the autoscaler's start
/// and are over by 10 min; so it goes at the first scan strictly after
/// 10 s + 10 min = 610 s (cluster-autoscaler keeps a node whose
/// `unneededSince + unneededTime` is not before now): the 620 s scan, and
/// only it: the group may lose one node (desired 2, min 1).
#[test]
fn unneeded_node_goes_after_exactly_the_unneeded_time() {
    let text = two_nodes(
        r#"
[[workloads]]
name = "app"
class = "user"
replicas = 1
cpu = "500m"
memory = "512Mi"
"#,
        "20",
    );
    let at = Millis::from_secs(620);
    let (d, world) = desired_at(&text, 1, at - Millis(1));
    assert_eq!(d, [2]);
    assert_eq!(world.autoscaler.as_ref().unwrap().scale_downs, 0);
    let (d, world) = desired_at(&text, 1, at);
    assert_eq!(d, [1]);
    assert_eq!(world.autoscaler.as_ref().unwrap().scale_downs, 1);
    // The empty node went: its instance is terminated and the pod still
    // runs on the other.
    let live: Vec<_> = world.cloud.live_instances();
    assert_eq!(live.len(), 1);
    assert_eq!(world.cluster.status().pending_user, 0);
    // And nothing more by the end: the group is at its minimum.
    let (d, world) = desired_at(&text, 1, Millis::from_mins(30));
    assert_eq!(d, [1]);
    assert_eq!(world.autoscaler.as_ref().unwrap().scale_downs, 1);
}

/// No scale-down when a pod cannot move: (1) a kube-system pod without a
/// PodDisruptionBudget on each node (`skip-nodes-with-system-pods`); (2)
/// one user pod per node where a node takes one pod only (max pods 1), so
/// neither fits on the other.
#[test]
fn no_scale_down_when_a_pod_cannot_move() {
    let system = two_nodes(
        r#"
[[workloads]]
name = "dns"
class = "system"
replicas = 2
cpu = "200m"
memory = "256Mi"
"#,
        "20",
    );
    let user = two_nodes(
        r#"
[[workloads]]
name = "app"
class = "user"
replicas = 2
cpu = "200m"
memory = "256Mi"
"#,
        "1",
    );
    for text in [&system, &user] {
        let (d, world) = desired_at(text, 1, Millis::from_mins(30));
        // Spread by LeastAllocated: one pod per node.
        assert_eq!(d, [2]);
        assert_eq!(world.autoscaler.as_ref().unwrap().scale_downs, 0);
    }
    // With a budget that allows one disruption, the system pod may move:
    // one node goes at 610 s.
    let pdb = system.replace(
        "memory = \"256Mi\"\n",
        "memory = \"256Mi\"\npdb = { max_unavailable = 1 }\n",
    );
    let (d, world) = desired_at(&pdb, 1, Millis::from_mins(30));
    assert_eq!(d, [1]);
    assert_eq!(world.autoscaler.as_ref().unwrap().scale_downs, 1);
}

/// The scale-up burst and the total-node limit cap the bin packing:
/// with `max_nodes_per_scale_up = 3`, `a` can take 3 nodes (6 pods, waste
/// 0) and still wins least-waste, +3; with `max_nodes_total = 2`, every
/// group is capped at 2 nodes (a: 4 pods, waste 0), so a +2.
#[test]
fn burst_and_total_limits_cap_the_scale_up() {
    let t = Millis::from_secs(10);
    let burst = three_groups("least-waste").replace(
        "expander = \"least-waste\"",
        "expander = \"least-waste\"\nmax_nodes_per_scale_up = 3",
    );
    assert_eq!(desired_at(&burst, 1, t).0, [3, 0, 0]);
    let total = three_groups("least-waste").replace(
        "expander = \"least-waste\"",
        "expander = \"least-waste\"\nmax_nodes_total = 2",
    );
    assert_eq!(desired_at(&total, 1, t).0, [2, 0, 0]);
    // At 20 s the total (2) is reached: nothing more, whatever is pending.
    assert_eq!(desired_at(&total, 1, Millis::from_secs(60)).0, [2, 0, 0]);
}

/// Expendable pods (priority below -10) never trigger a scale-up.
#[test]
fn expendable_pods_do_not_scale_up() {
    let text = three_groups("least-waste").replace(
        "[[workloads]]\nname = \"burst\"",
        "[[priority_classes]]\nname = \"expendable\"\nvalue = -11\n[[workloads]]\nname = \"burst\"\npriority_class = \"expendable\"",
    );
    assert_eq!(desired_at(&text, 1, Millis::from_secs(60)).0, [0, 0, 0]);
}

/// The shipped scenario: at its base point (single pool max 40) the
/// autoscaler sees the backlog at its first scan and grows the pool from
/// 20 to 40 in one scale-up; the backlog keeps every node busy, so nothing
/// is scaled down. Without an autoscaler a policy reports zeros.
#[test]
fn shipped_scenario_scales_the_single_pool_to_its_max() {
    let s = poolsim::Scenario::load(&crate::support::shipped("autoscaler.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let row = poolsim::run_one(&s, crate::support::policy(&s, "single-pool"), 1);
    assert_eq!((row.scale_ups, row.scale_downs, row.max_nodes), (1, 0, 40));
    let plain = scenario(&three_groups("random").replace(
        "[policies.autoscaler]\nexpander = \"random\"\npriorities = { c = 10, a = 1 }\n",
        "",
    ));
    let row = poolsim::run_one(&plain, 0, 1);
    assert_eq!((row.scale_ups, row.scale_downs, row.max_nodes), (0, 0, 0));
}

/// Four nodes (joined at 0) lose their instances at 16 min 1 s; with the
/// cloud node lifecycle controller keeping terminated instances' Nodes for
/// 10 min they stay registered, and turn NotReady at the 1005 s pass (the
/// Lease taken as renewed at 961 s, seen at the 965 s pass, 40 s grace).
/// Older than `max_node_startup_time` (15 min), they are Unready; the
/// ASG's four replacements join at 1031 s (10 s replacement delay + 30 s
/// launch + 30 s boot). 4 Unready nodes exceed max(3, 45 % of 4 or of 8 =
/// 1.8 or 3.6): every scan from 1010 s to 20 min halts, 20 of them. With
/// `ok_total_unready_count = 4`, 4 > 4 is false: none. The same loss at
/// 1 s halts nothing: nodes that are not Ready and joined less than 15 min
/// ago are NotStarted, not Unready (`clusterstate.go`).
#[test]
fn too_many_unready_nodes_halt_the_autoscaler() {
    let text = |ok: u32, at: &str| {
        two_nodes(
            "[[workloads]]\nname = \"app\"\nclass = \"user\"\nreplicas = 1\ncpu = \"100m\"\nmemory = \"64Mi\"\n",
            "20",
        )
        .replace("desired = 2, min = 1, max = 3", "desired = 4, min = 4, max = 8")
            .replace(
                "[kubernetes]\n",
                "[kubernetes]\nterminated_instance_visible_for = \"10m\"\nnode_monitor_grace_period = \"40s\"\nnode_lease_renew_interval = \"0s\"\n",
            )
            .replace(
                "[policies.autoscaler]\n",
                &format!(
                    "[policies.autoscaler]\nok_total_unready_count = {ok}\n[[faults]]\nkind = \"terminate_all\"\nat = \"{at}\"\n"
                ),
            )
    };
    let halted = |ok, at, until| {
        let (_, world) = desired_at(&text(ok, at).replace("30m", "1h"), 1, until);
        world.autoscaler.as_ref().unwrap().halted_scans
    };
    assert_eq!(halted(3, "961s", Millis::from_secs(1004)), 0);
    // Scans at 1010 s, 1020 s, ... 1200 s: 20 of them, all halted.
    assert_eq!(halted(3, "961s", Millis::from_mins(20)), 20);
    assert_eq!(halted(4, "961s", Millis::from_mins(20)), 0);
    assert_eq!(halted(3, "1s", Millis::from_mins(5)), 0);
}

/// Two nodes join at 0 NotReady: a network-plugin DaemonSet (100m) must run
/// on each first, and pods take 60 s to start. Six app pods of 900m wait.
/// At the first scan (10 s) the nodes are registered but NotStarted (not
/// Ready, joined less than 15 min ago): the autoscaler counts them as
/// upcoming template nodes (2000m less the DaemonSet's 100m: two app pods
/// each), so four pods will fit there, and it adds one node for the other
/// two: desired 2 -> 3. Counting them as neither existing room (the
/// `not-ready` taint) nor upcoming, it would add three (desired 5).
#[test]
fn registered_not_ready_nodes_are_upcoming_capacity() {
    let text = two_nodes(
        r#"
[[workloads]]
name = "cni"
class = "system"
kind = "daemonset"
network_plugin = true
cpu = "100m"
memory = "64Mi"
[[workloads]]
name = "app"
class = "user"
replicas = 6
cpu = "900m"
memory = "512Mi"
"#,
        "20",
    )
    .replace("value = \"5s\"", "value = \"60s\"")
    .replace("min = 1, max = 3", "min = 1, max = 6");
    let (d, world) = desired_at(&text, 1, Millis::from_secs(10));
    let n = &world.cluster.nodes()[0];
    assert!(!n.is_ready() && n.is_registered());
    assert_eq!(d, [3]);
    assert_eq!(world.autoscaler.as_ref().unwrap().scale_ups, 1);
}

/// An empty node (joined at 0) whose instance fails its status checks at
/// 60 s (found unhealthy only after an hour) is NotReady from the 100 s
/// pass. Until 15 min after joining it is NotStarted: not a scale-down
/// candidate. From the 900 s scan it is Unready and unneeded; an unready
/// node goes after `scale_down_unready_time` (20 min): at the first scan
/// strictly after 900 s + 20 min = 2100 s, the 2110 s one,
/// though a Ready unneeded node here waits 30 min
/// (`scale_down_unneeded_time`).
#[test]
fn unready_node_goes_after_the_unready_time() {
    let text = two_nodes(
        "[[workloads]]\nname = \"app\"\nclass = \"user\"\nreplicas = 1\ncpu = \"500m\"\nmemory = \"512Mi\"\n",
        "20",
    )
    .replace("horizon = \"30m\"", "horizon = \"1h\"")
    .replace("[instances]\n", "[instances]\nimpaired_detection = \"1h\"\n")
    .replace(
        "[kubernetes]\n",
        "[kubernetes]\nnode_monitor_grace_period = \"40s\"\nnode_lease_renew_interval = \"0s\"\n",
    )
    .replace(
        "[policies.autoscaler]\n",
        "[policies.autoscaler]\nscale_down_unneeded_time = \"30m\"\n",
    );
    let s = scenario(&text);
    let (mut world, mut sim): (World, Simulation<Event>) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_secs(60));
    let empty = world
        .cluster
        .nodes()
        .iter()
        .find(|n| n.pods.is_empty())
        .expect("an empty node")
        .id;
    let id =
        poolsim::cloud::InstanceId(world.cluster.nodes()[empty.index()].spec.provider_id as u32);
    sim.with_context(|ctx| world.handle(ctx, Event::Cloud(poolsim::cloud::CloudEvent::Impair(id))));
    sim.run_until(&mut world, Millis::from_secs(2109));
    assert_eq!(
        world.cluster.nodes()[empty.index()].not_ready_since,
        Some(Millis::from_secs(100))
    );
    assert_eq!(world.cloud.asgs()[0].desired(), 2);
    assert_eq!(world.autoscaler.as_ref().unwrap().scale_downs, 0);
    sim.run_until(&mut world, Millis::from_secs(2110));
    assert_eq!(world.cloud.asgs()[0].desired(), 1);
    assert_eq!(world.autoscaler.as_ref().unwrap().scale_downs, 1);
}

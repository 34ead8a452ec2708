//! A machine's end as Kubernetes sees it, with exact times: an impaired
//! instance keeps its Node (Unknown, tainted, pods evicted after their
//! toleration) until its health-check replacement has shut it down; a
//! terminated instance is `shutting-down` before it is `terminated`, and the
//! cloud node lifecycle controller deletes the Node only then.

use poolsim::cloud::{CloudEvent, InstanceId, InstanceState};
use poolsim::engine::{Millis, Model};
use poolsim::kube::{NodeCondition, PodState};
use poolsim::sim::{Event, World};

use crate::support::scenario;

/// Three m5.large nodes, one per zone, six app pods spread two per node;
/// impaired instances are found unhealthy after 10 min, terminated ones
/// shut down in 90 s. The Lease is taken as renewed at the instant a
/// machine stops (`node_lease_renew_interval = "0s"`), so the grace period
/// runs from the first pass at or after it; `lease_phase_moves_unknown`
/// checks the renewal cycle.
const THREE_ZONES: &str = r#"
name = "lifecycle"
horizon = "2h"
[instances]
impaired_detection = "10m"
shutting_down = "90s"
[kubernetes]
node_monitor_grace_period = "40s"
node_lease_renew_interval = "0s"
pod_startup = { dist = "fixed", value = "5s" }
controller_delay = "1s"
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

fn secs(s: u64) -> Millis {
    Millis::from_secs(s)
}

/// The instance behind the node that runs pod 0, and that node.
fn first_pods_machine(world: &World) -> (InstanceId, poolsim::kube::NodeId) {
    let node = world.cluster.pods()[0].state().node().expect("bound");
    let id = InstanceId(world.cluster.nodes()[node.index()].spec.provider_id as u32);
    (id, node)
}

/// An instance fails its status checks at 100 s. Its node stops
/// heartbeating: at the 140 s monitor pass (40 s grace) Ready turns Unknown
/// and the zone's tainter adds `unreachable:NoExecute` (first token free).
/// The two pods' 300 s toleration runs out at 440 s: they are evicted and
/// replaced at 441 s. The instance still exists, so the Node stays. The
/// ASG's health check finds it unhealthy at 100 s + 10 min = 700 s (past
/// the 300 s grace period since it went InService at 0 s) and terminates
/// it: `shutting-down` until 790 s, then `terminated`; the cloud node
/// lifecycle controller deletes the Node at the 790 s pass and PodGC
/// deletes the evicted pods at its first 20 s tick 40 s later, 840 s.
#[test]
fn impaired_instance_keeps_its_node_until_it_is_gone() {
    let s = scenario(THREE_ZONES);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, secs(100));
    let (id, node) = first_pods_machine(&world);
    let evicted: Vec<_> = world.cluster.nodes()[node.index()].pods.clone();
    assert_eq!(evicted.len(), 2);
    sim.with_context(|ctx| world.handle(ctx, Event::Cloud(CloudEvent::Impair(id))));
    sim.run_until(&mut world, secs(439));
    let n = &world.cluster.nodes()[node.index()];
    assert_eq!(n.heartbeat_lost_at, Some(secs(100)));
    assert_eq!(n.not_ready_since, Some(secs(140)));
    assert_eq!(n.no_execute_since, Some(secs(140)));
    assert_eq!(n.condition, NodeCondition::NotReady);
    assert_eq!(world.cluster.status().evictions, 0);
    sim.run_until(&mut world, secs(441));
    assert_eq!(world.cluster.status().evictions, 2);
    for p in &evicted {
        assert_eq!(
            world.cluster.pods()[p.index()].state(),
            PodState::Terminating(node)
        );
    }
    let replacements: Vec<u64> = world.cluster.pods()[6..]
        .iter()
        .map(|p| p.created_at.0)
        .collect();
    assert_eq!(replacements, [441_000, 441_000]);
    sim.run_until(&mut world, secs(699));
    assert_eq!(world.cloud.instance(id).state, InstanceState::Running);
    assert_eq!(world.cluster.nodes()[node.index()].deleted_at, None);
    sim.run_until(&mut world, secs(700));
    let inst = world.cloud.instance(id);
    assert_eq!(inst.state, InstanceState::ShuttingDown);
    assert_eq!(inst.terminated_at, Some(secs(700)));
    sim.run_until(&mut world, secs(789));
    assert!(world.cluster.nodes()[node.index()].is_registered());
    sim.run_until(&mut world, secs(790));
    assert_eq!(world.cloud.instance(id).state, InstanceState::Terminated);
    assert_eq!(world.cloud.instance(id).gone_at, Some(secs(790)));
    assert_eq!(
        world.cluster.nodes()[node.index()].deleted_at,
        Some(secs(790))
    );
    sim.run_until(&mut world, secs(839));
    assert_eq!(world.cluster.nodes()[node.index()].pods.len(), 2);
    sim.run_until(&mut world, secs(840));
    assert!(world.cluster.nodes()[node.index()].pods.is_empty());
    for p in &evicted {
        assert_eq!(world.cluster.pods()[p.index()].state(), PodState::Deleted);
    }
}

/// An instance is terminated at 100 s: it is `shutting-down` (not billed,
/// not counted by its group, which launches a replacement 10 s later) but
/// still exists.
/// Its node turns Unknown at the 140 s pass and is not deleted at once, as
/// it was when termination was instantaneous: it goes at the 190 s pass,
/// when the instance is `terminated`. PodGC deletes its pods at its first
/// tick 40 s later (240 s).
#[test]
fn node_deleted_only_after_shutting_down() {
    let s = scenario(THREE_ZONES);
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, secs(100));
    let (id, node) = first_pods_machine(&world);
    sim.with_context(|ctx| world.handle(ctx, Event::Cloud(CloudEvent::Terminate(id))));
    sim.run_until(&mut world, secs(145));
    let inst = world.cloud.instance(id);
    assert_eq!(inst.state, InstanceState::ShuttingDown);
    assert!(!inst.is_live());
    assert_eq!(world.cloud.asgs()[0].live(), 3, "replacement launched");
    let n = &world.cluster.nodes()[node.index()];
    assert_eq!(n.not_ready_since, Some(secs(140)));
    assert!(n.is_registered());
    sim.run_until(&mut world, secs(189));
    assert!(world.cluster.nodes()[node.index()].is_registered());
    sim.run_until(&mut world, secs(190));
    assert_eq!(world.cloud.instance(id).gone_at, Some(secs(190)));
    assert_eq!(
        world.cluster.nodes()[node.index()].deleted_at,
        Some(secs(190))
    );
    sim.run_until(&mut world, secs(239));
    assert_eq!(world.cluster.nodes()[node.index()].pods.len(), 2);
    sim.run_until(&mut world, secs(240));
    assert!(world.cluster.nodes()[node.index()].pods.is_empty());
}

/// The grace period runs from the node lifecycle controller's first pass
/// (every 5 s) that saw the kubelet's last Lease renewal, and the kubelet
/// renews every 10 s (the default). A machine impaired at 100 s last
/// renewed in (90 s, 100 s]: renewed in (90 s, 95 s], the 95 s pass saw it
/// and the node is Unknown at 95 + 40 = 135 s; renewed in (95 s, 100 s],
/// the 100 s pass saw it: Unknown at 140 s. Both happen across seeds (each
/// half of the cycle is equally likely). With `node_lease_renew_interval =
/// "0s"` (renewed at the instant the machine stopped) every seed gives
/// 140 s.
#[test]
fn lease_phase_moves_unknown() {
    let with_cycle = scenario(&THREE_ZONES.replace("node_lease_renew_interval = \"0s\"\n", ""));
    let without = scenario(THREE_ZONES);
    let (mut early, mut late) = (0, 0);
    for seed in 1..=40 {
        let mut unknown_at = Vec::new();
        for s in [&with_cycle, &without] {
            let (mut world, mut sim) = World::new(s, 0, seed);
            sim.run_until(&mut world, secs(100));
            let (id, node) = first_pods_machine(&world);
            sim.with_context(|ctx| world.handle(ctx, Event::Cloud(CloudEvent::Impair(id))));
            sim.run_until(&mut world, secs(150));
            let n = &world.cluster.nodes()[node.index()];
            assert_eq!(n.heartbeat_lost_at, Some(secs(100)));
            let renewed = n.lease_renewed_at.expect("lost");
            assert!(renewed > secs(90) && renewed <= secs(100), "{renewed}");
            let expected = if renewed <= secs(95) { 135 } else { 140 };
            if s.kube.node_lease_renew_interval == Millis::ZERO {
                assert_eq!(renewed, secs(100));
            }
            assert_eq!(n.not_ready_since, Some(secs(expected)), "seed {seed}");
            unknown_at.push(expected);
        }
        assert_eq!(unknown_at[1], 140);
        if unknown_at[0] == 135 {
            early += 1;
        } else {
            late += 1;
        }
    }
    assert!(early > 0 && late > 0, "{early} early, {late} late");
}

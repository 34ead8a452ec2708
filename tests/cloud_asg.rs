//! Auto Scaling Group features, one small deterministic scenario each
//! (the fixed delays and the ASG of six of `cloud.rs`): Spot interruptions
//! and capacity rebalancing, drains on notice, instance refresh, scale-in
//! protection, warm pools and the termination policy.

use poolsim::cloud::Instance;
use poolsim::engine::Millis;
use poolsim::kube::PodState;
use poolsim::sim::World;

use crate::cloud::{live_instances, live_per_zone, ready_nodes, replacements, run, secs, six};
use crate::support::scenario;

#[test]
fn spot_interruption_with_and_without_capacity_rebalancing() {
    let fault = "[[faults]]\nkind = \"spot_interruption\"\ncount = 2\nat = \"10m\"";
    // Without: terminated when the 2-minute notice runs out (720 s),
    // replaced 10 s later, Ready at 730 + 90 = 820 s.
    let w = run(&six(", capacity = \"spot\"", "", fault), secs(1200));
    let new = replacements(&w);
    assert_eq!(new.len(), 2);
    assert!(new.iter().all(|i| i.launched_at == secs(730) && i.spot));
    assert!(
        w.cluster.nodes()[6..]
            .iter()
            .all(|n| n.joined_at == secs(820))
    );
    // With Capacity Rebalancing the replacements launch on the notice and
    // are Ready (690 s) before the old instances go (720 s).
    let w = run(
        &six(
            ", capacity = \"spot\", capacity_rebalance = true",
            "",
            fault,
        ),
        secs(1200),
    );
    let new = replacements(&w);
    assert_eq!(new.len(), 2);
    assert!(new.iter().all(|i| i.launched_at == secs(600)));
    assert!(
        w.cluster.nodes()[6..]
            .iter()
            .all(|n| n.joined_at == secs(690))
    );
    let gone: Vec<Millis> = w
        .cloud
        .instances()
        .iter()
        .filter_map(|i| i.terminated_at)
        .collect();
    assert_eq!(gone, vec![secs(720), secs(720)]);
}

#[test]
fn drain_on_notice_moves_pods_before_the_instance_dies() {
    // Every node is interrupted (count = 6). With drain, the two DNS pods
    // are evicted at 600 s and recreated 1 s later (each node's drain is
    // its own handler action, so both at 601 s), then bound when the
    // Capacity Rebalancing replacements are Ready at 690 s: before the old
    // instances die at 720 s. Without drain they would be lost at 720 s and
    // recreated only after NotReady (40 s), deletion and PodGC.
    let fault = "[[faults]]\nkind = \"spot_interruption\"\ncount = 6\nat = \"10m\"\ndrain = true";
    let w = run(
        &six(
            ", capacity = \"spot\", capacity_rebalance = true",
            "",
            fault,
        ),
        secs(1200),
    );
    let recreated: Vec<Millis> = w.cluster.pods()[2..].iter().map(|p| p.created_at).collect();
    assert_eq!(recreated.len(), 2);
    assert_eq!(recreated, vec![Millis(601_000); 2]);
    for p in &w.cluster.pods()[2..] {
        match p.state() {
            PodState::Running(n) => assert_eq!(w.cluster.nodes()[n.index()].joined_at, secs(690)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(w.cluster.status().system_services_down, 0);
}

#[test]
fn instance_refresh_replaces_in_batches_keeping_min_healthy() {
    // min healthy 50 % of 6 = 3: batches of three. The first at 600 s
    // (launched at once, Ready at 690 s), then after a 60 s warmup the
    // second at 750 s (Ready at 840 s).
    let w = run(
        &six(
            "",
            "",
            "[[faults]]\nkind = \"instance_refresh\"\nat = \"10m\"\nmin_healthy_percentage = 50\nwarmup = \"60s\"",
        ),
        secs(1200),
    );
    let mut joined: Vec<Millis> = w.cluster.nodes()[6..].iter().map(|n| n.joined_at).collect();
    joined.sort_unstable();
    assert_eq!(
        joined,
        vec![secs(690); 3]
            .into_iter()
            .chain(vec![secs(840); 3])
            .collect::<Vec<_>>()
    );
    let live: Vec<&Instance> = w.cloud.instances().iter().filter(|i| i.is_live()).collect();
    assert_eq!(live.len(), 6);
    assert!(live.iter().all(|i| i.generation == 1));
    assert_eq!(live_per_zone(&w), vec![2, 2, 2]);
}

#[test]
fn instance_refresh_at_100_percent_goes_one_at_a_time() {
    // One at a time, each 90 s to Ready plus a 0 s warmup: the sixth
    // replacement is Ready at 600 + 6 x 90 = 1140 s.
    let w = run(
        &six(
            "",
            "",
            "[[faults]]\nkind = \"instance_refresh\"\nat = \"10m\"\nmin_healthy_percentage = 100\nwarmup = \"0s\"",
        ),
        secs(1200),
    );
    let joined: Vec<Millis> = w.cluster.nodes()[6..].iter().map(|n| n.joined_at).collect();
    assert_eq!(
        joined,
        (1..=6).map(|k| secs(600 + 90 * k)).collect::<Vec<_>>()
    );
}

#[test]
fn scale_in_protection_shields_from_refresh() {
    let w = run(
        &six(
            ", protect_from_scale_in = true",
            "",
            "[[faults]]\nkind = \"instance_refresh\"\nat = \"10m\"",
        ),
        secs(1200),
    );
    assert_eq!(w.cloud.instances_launched(), 0);
    // Protection does not stop other faults.
    let w = run(
        &six(
            ", protect_from_scale_in = true",
            "",
            "[[faults]]\nkind = \"terminate_all\"\nat = \"10m\"",
        ),
        secs(1200),
    );
    assert_eq!(w.cloud.instances_launched(), 6);
}

#[test]
fn warm_pool_serves_replacements_first_and_refills() {
    // max 8 - desired 6 = two warm instances, stopped, ready at the start.
    // Two instances die at 600 s; at 610 s the group takes both warm ones
    // (Ready 20 s later, at 630 s, instead of 700 s) and launches two more
    // to refill the pool (running at 640 s, initialized at 700 s, then
    // stopped).
    let pool =
        ", az_rebalance = false, warm_pool = { delay = { dist = \"fixed\", value = \"20s\" } }";
    let text = six(
        pool,
        "",
        "[[faults]]\nkind = \"terminate_fraction\"\ncount = 2\nat = \"10m\"",
    );
    let w = run(&text, secs(1200));
    let joined: Vec<Millis> = w.cluster.nodes()[6..].iter().map(|n| n.joined_at).collect();
    assert_eq!(joined, vec![secs(630), secs(630)]);
    assert_eq!(w.cloud.instances_launched(), 2);
    let warm: Vec<&Instance> = w
        .cloud
        .instances()
        .iter()
        .filter(|i| i.warm.is_some())
        .collect();
    assert_eq!(warm.len(), 2);
    assert!(warm.iter().all(|i| i.launched_at == secs(610)));
    // Billing to 1200 s: four survivors 4 x 1200 s, two victims 2 x 600 s;
    // the first warm pair stopped until 610 s, so 2 x 590 s; the refills
    // run 610..700 s and are then stopped, 2 x 90 s. 7360 s in all.
    let s = scenario(&text.replace("horizon = \"40m\"", "horizon = \"20m\""));
    let row = poolsim::run_one(&s, 0, 1);
    assert!(
        (row.instance_hours - 7360.0 / 3600.0).abs() < 1e-9,
        "{}",
        row.instance_hours
    );
}

#[test]
fn interrupted_instances_still_die_in_a_zone_outage() {
    // Every Spot instance is interrupted at 600 s and, with Capacity
    // Rebalancing, already replaced; 1a fails at 650 s, before the notice
    // runs out (720 s): the two interrupted instances there die at 650 s.
    let faults = "[[faults]]\nkind = \"spot_interruption\"\nat = \"10m\"\n\
                  [[faults]]\nkind = \"zone_outage\"\nzone = \"us-east-1a\"\nat = \"650s\"\nduration = \"1m\"";
    let w = run(
        &six(
            ", capacity = \"spot\", capacity_rebalance = true",
            "",
            faults,
        ),
        secs(1200),
    );
    let originals = &w.cloud.instances()[..6];
    for i in originals {
        let expected = if i.zone == 0 { secs(650) } else { secs(720) };
        assert_eq!(
            i.terminated_at,
            Some(expected),
            "{:?} in zone {}",
            i.id,
            i.zone
        );
    }
}

#[test]
fn scale_in_uses_the_termination_policy_and_respects_protection() {
    let s = scenario(&six(", min = 2", "", ""));
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, secs(100));
    // 6 -> 3: the zone with the most instances first, so one from each
    // zone, at once, and nothing replaced.
    let d = sim.with_context(|ctx| world.set_desired(ctx, 0, 3));
    assert_eq!(d, 3);
    sim.run_until(&mut world, secs(200));
    assert_eq!(live_per_zone(&world), vec![1, 1, 1]);
    assert_eq!(world.cloud.instances_launched(), 0);
    // Below min is clamped to min.
    let d = sim.with_context(|ctx| world.set_desired(ctx, 0, 0));
    assert_eq!(d, 2);
    sim.run_until(&mut world, secs(300));
    assert_eq!(live_instances(&world), 2);
    // Scale out past max is clamped to max (8): six launches.
    let d = sim.with_context(|ctx| world.set_desired(ctx, 0, 20));
    assert_eq!(d, 8);
    sim.run_until(&mut world, secs(400));
    assert_eq!(live_instances(&world), 8);
    assert_eq!(world.cloud.instances_launched(), 6);
    assert_eq!(ready_nodes(&world), 8);

    // With protection nothing terminates.
    let s = scenario(&six(", protect_from_scale_in = true, min = 1", "", ""));
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, secs(100));
    // The initial fleet is protected too: the group's setting applies to
    // every instance it launched.
    sim.with_context(|ctx| world.set_desired(ctx, 0, 2));
    sim.run_until(&mut world, secs(200));
    assert_eq!(live_instances(&world), 6);
    assert_eq!(world.cloud.asgs()[0].desired(), 2);
}

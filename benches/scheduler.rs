//! One scheduling decision (filters, scores, tie-break) on clusters of 500
//! and 5,000 nodes in steady state, with the default adaptive
//! `percentageOfNodesToScore` and with every node scored. The cost per pod
//! should grow clearly less than linearly with the node count.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poolsim::Scenario;
use poolsim::engine::Millis;
use poolsim::kube::WorkloadId;
use poolsim::sim::World;

/// A cluster of `nodes` m5.2xlarge nodes with 30 pods per node of three
/// sizes, run for 20 minutes so every pod is placed.
fn cluster(nodes: u32, percentage: u32) -> World {
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
[[policies]]
name = "one-pool"
pools = [{{ name = "all", instance_type = "m5.2xlarge", desired = {nodes} }}]
"#
    );
    let s = Scenario::parse(&text, "decision.toml").unwrap_or_else(|e| panic!("{e}"));
    let (mut world, mut sim) = World::new(&s, 0, 1);
    sim.run_until(&mut world, Millis::from_mins(20));
    assert_eq!(world.cluster.status().pending_user, 0, "every pod placed");
    world
}

fn decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("scheduling-decision");
    group.throughput(Throughput::Elements(1));
    for nodes in [500u32, 5000] {
        for (label, pct) in [("adaptive", 0u32), ("all-nodes", 100)] {
            let mut world = cluster(nodes, pct);
            group.bench_with_input(BenchmarkId::new(label, nodes), &nodes, |b, _| {
                b.iter(|| black_box(world.cluster.decide(WorkloadId(1))))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);

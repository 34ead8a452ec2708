//! One scheduling decision (filters, scores, tie-break) on clusters of 500
//! and 5,000 nodes in steady state, with the default adaptive
//! `percentageOfNodesToScore` and with every node scored. The cost per pod
//! should grow clearly less than linearly with the node count.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poolsim::kube::WorkloadId;

mod support;
use support::cluster;

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

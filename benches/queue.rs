//! The event queue alone, in the classic hold model: the queue holds N
//! pending events; each step pops the earliest and pushes one at a random
//! later time. Events per second at N = 10^3 .. 10^6, beside the same loop
//! on `std::collections::BinaryHeap`, a 4-ary heap (`dary_heap`) and a radix
//! heap (`radix-heap`) as floors. The floors keep no insertion sequence, so
//! they do not break ties deterministically; poolsim's queue does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dary_heap::QuaternaryHeap;
use poolsim::engine::{EventQueue, Millis};
use radix_heap::RadixHeapMap;

mod support;
use support::increments;

/// Hold steps timed per iteration.
const STEPS: u64 = 100_000;

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("hold");
    group.throughput(Throughput::Elements(STEPS));
    group.sample_size(20);
    for &n in &[1_000usize, 10_000, 100_000, 1_000_000] {
        let inc = increments(n);
        let mask = inc.len() - 1;

        group.bench_with_input(BenchmarkId::new("poolsim", n), &n, |b, &n| {
            let mut q = EventQueue::with_capacity(n + 1);
            for i in 0..n {
                q.push(Millis(inc[i & mask]), i as u32);
            }
            let mut k = 0;
            b.iter(|| {
                for _ in 0..STEPS {
                    let (t, e) = q.pop().expect("never empty");
                    k += 1;
                    q.push(Millis(t.0 + inc[k & mask]), black_box(e));
                }
            });
        });

        group.bench_with_input(BenchmarkId::new("std-binary-heap", n), &n, |b, &n| {
            let mut q = BinaryHeap::with_capacity(n + 1);
            for i in 0..n {
                q.push(Reverse((inc[i & mask], i as u32)));
            }
            let mut k = 0;
            b.iter(|| {
                for _ in 0..STEPS {
                    let Reverse((t, e)) = q.pop().expect("never empty");
                    k += 1;
                    q.push(Reverse((t + inc[k & mask], black_box(e))));
                }
            });
        });

        group.bench_with_input(BenchmarkId::new("dary-4-heap", n), &n, |b, &n| {
            let mut q = QuaternaryHeap::with_capacity(n + 1);
            for i in 0..n {
                q.push(Reverse((inc[i & mask], i as u32)));
            }
            let mut k = 0;
            b.iter(|| {
                for _ in 0..STEPS {
                    let Reverse((t, e)) = q.pop().expect("never empty");
                    k += 1;
                    q.push(Reverse((t + inc[k & mask], black_box(e))));
                }
            });
        });

        group.bench_with_input(BenchmarkId::new("radix-heap", n), &n, |b, &n| {
            let mut q = RadixHeapMap::new();
            for i in 0..n {
                q.push(Reverse(inc[i & mask]), i as u32);
            }
            let mut k = 0;
            b.iter(|| {
                for _ in 0..STEPS {
                    let (Reverse(t), e) = q.pop().expect("never empty");
                    k += 1;
                    q.push(Reverse(t + inc[k & mask]), black_box(e));
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, hold);
criterion_main!(benches);

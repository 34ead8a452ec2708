//! Whole runs: one run of each shipped scenario (events per second), and a
//! 1,000-seed sweep of the seed scenario over both policies on 1 and 2
//! threads.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poolsim::{Scenario, run_one, sweep};

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn one_run(c: &mut Criterion) {
    let mut group = c.benchmark_group("one-run");
    group.sample_size(20);
    for file in ["seed-deadlock.toml", "seed-headroom.toml"] {
        let s = load(file);
        for (p, policy) in s.policies.iter().enumerate() {
            // Events of seed 1 under this policy, for an events/s figure.
            let events = run_one(&s, p, 1).events;
            group.throughput(Throughput::Elements(events));
            group.bench_with_input(
                BenchmarkId::new(file.trim_end_matches(".toml"), &policy.name),
                &p,
                |b, &p| b.iter(|| black_box(run_one(&s, p, 1))),
            );
        }
    }
    group.finish();
}

fn sweep_1000(c: &mut Criterion) {
    let s = load("seed-deadlock.toml");
    let tmp = std::env::temp_dir().join(format!("poolsim-bench-{}", std::process::id()));
    let mut group = c.benchmark_group("sweep-1000-seeds");
    group.sample_size(10);
    // 1000 seeds x 2 policies.
    group.throughput(Throughput::Elements(2000));
    for threads in [1usize, 2] {
        group.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, &t| {
            b.iter(|| {
                let opts = sweep::SweepOptions {
                    seeds: Some(1000),
                    threads: Some(t),
                    out: Some(tmp.join(format!("t{t}"))),
                    progress: sweep::ProgressMode::Quiet,
                    ..Default::default()
                };
                black_box(sweep::run_sweep(&s, &opts).expect("sweep"))
            })
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&tmp);
}

criterion_group!(benches, one_run, sweep_1000);
criterion_main!(benches);

use poolsim::engine::Millis;
use poolsim::run_one;
use poolsim::sim::World;

use crate::support::{policy, poolsim, shipped};

#[test]
fn same_seed_same_row() {
    let s = poolsim::Scenario::load(&shipped("seed-deadlock.toml")).unwrap();
    for seed in [1, 2, 99] {
        for p in 0..s.policies.len() {
            assert_eq!(run_one(&s, p, seed), run_one(&s, p, seed));
        }
    }
}

#[test]
fn different_seeds_differ() {
    let s = poolsim::Scenario::load(&shipped("seed-deadlock.toml")).unwrap();
    let a = run_one(&s, 0, 1);
    let b = run_one(&s, 0, 2);
    assert_ne!(a.events, b.events);
}

/// Common random numbers: both policies of a seed see the same replacement
/// times, because the k-th launch draws the k-th launch delay of the seed's
/// stream whatever pool it is for.
#[test]
fn policies_share_launch_timing() {
    let s = poolsim::Scenario::load(&shipped("seed-deadlock.toml")).unwrap();
    for seed in [3, 4] {
        let ready_times = |name: &str| {
            let (mut w, mut sim) = World::new(&s, policy(&s, name), seed);
            sim.run_until(&mut w, s.horizon);
            let mut t: Vec<Millis> = w
                .cluster
                .nodes()
                .iter()
                .filter(|n| n.joined_at > Millis::ZERO)
                .map(|n| n.joined_at)
                .collect();
            t.sort_unstable();
            t
        };
        let single = ready_times("single-pool");
        assert_eq!(single.len(), 20);
        assert_eq!(single, ready_times("split-pool"));
    }
}

#[test]
fn output_bytes_do_not_depend_on_threads_or_repeats() {
    let tmp = tempfile::tempdir().unwrap();
    let file = shipped("seed-deadlock.toml");
    let run = |name: &str, threads: Option<&str>| {
        let dir = tmp.path().join(name);
        let mut args = vec!["run", file.to_str().unwrap(), "--seeds", "30"];
        let dir_s = dir.to_str().unwrap().to_string();
        args.extend(["--out", &dir_s]);
        if let Some(t) = threads {
            args.extend(["--threads", t]);
        }
        let o = poolsim(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (
            std::fs::read(dir.join("runs.csv")).unwrap(),
            std::fs::read(dir.join("summary.csv")).unwrap(),
        )
    };
    let one = run("t1", Some("1"));
    let default = run("default", None);
    let two = run("t2", Some("2"));
    let again = run("again", Some("2"));
    assert_eq!(one, default);
    assert_eq!(one, two);
    assert_eq!(two, again);
}

//! The scheduler's "fits no node" memo (`select::select_node`) changes no
//! history: every shipped scenario, every policy, a few seeds each, gives
//! identical rows with the memo and without it. A scenario added to
//! `scenarios/` is covered without editing this test. Futile attempts
//! made in place (`Cluster::futile_next`) need the memo, so the runs
//! without it also check that those change no row.

use std::path::PathBuf;

use poolsim::Scenario;

/// Seeds per policy: enough to cross faults, backlogs and preemptions in
/// every shipped scenario while keeping the test short; the large cluster
/// gets one.
fn seeds(name: &str) -> u64 {
    if name.starts_with("large-cluster") {
        1
    } else {
        4
    }
}

#[test]
fn the_memo_changes_no_row_of_any_shipped_scenario() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "shipped scenarios: {files:?}");
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let with = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            with.kube.scheduler.verdict_memo,
            "the memo is on by default"
        );
        let mut without = with.clone();
        without.kube.scheduler.verdict_memo = false;
        for policy in 0..with.policies.len() {
            for seed in with.first_seed..with.first_seed + seeds(name) {
                let a = poolsim::run_one(&with, policy, seed);
                let b = poolsim::run_one(&without, policy, seed);
                assert_eq!(a, b, "{name}: policy {policy}, seed {seed}");
            }
        }
    }
}

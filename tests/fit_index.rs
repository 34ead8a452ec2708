//! The scheduler's feasible-node index (`scheduler/fit_index.rs`) changes
//! no history: every shipped scenario, every policy, a few seeds each,
//! gives identical traces (every binding to the same node at the same
//! instant) with every decision answered from the index and with every
//! decision walking the nodes; the large cluster, whose trace has millions
//! of lines, identical rows. A scenario added to `scenarios/` is covered
//! without editing this test.

use std::path::PathBuf;

use poolsim::Scenario;
use poolsim::sim::run_traced;

/// Seeds per policy (as in `verdict_memo.rs`): the large cluster gets one.
fn seeds(name: &str) -> u64 {
    if name.starts_with("large-cluster") {
        1
    } else {
        4
    }
}

#[test]
fn the_index_changes_no_row_of_any_shipped_scenario() {
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
        let loaded = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let mut always = loaded.clone();
        always.kube.scheduler.fit_index_min_nodes = 0;
        let mut never = loaded;
        never.kube.scheduler.fit_index_min_nodes = usize::MAX;
        for policy in 0..always.policies.len() {
            for seed in always.first_seed..always.first_seed + seeds(name) {
                if name.starts_with("large-cluster") {
                    let a = poolsim::run_one(&always, policy, seed);
                    let b = poolsim::run_one(&never, policy, seed);
                    assert_eq!(a, b, "{name}: policy {policy}, seed {seed}");
                    continue;
                }
                let a = run_traced(&always, policy, seed);
                let b = run_traced(&never, policy, seed);
                assert_eq!(a.row, b.row, "{name}: policy {policy}, seed {seed}");
                assert!(
                    a.entries == b.entries,
                    "{name}: policy {policy}, seed {seed}: traces differ"
                );
            }
        }
    }
}
